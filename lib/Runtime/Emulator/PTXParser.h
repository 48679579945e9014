//===- PTXParser.h - the PTX emulator's parser (private) --------*- C++ -*-===//
//
// Shared by PTXParser.cpp (lexer, module structure, operand resolution) and
// PTXParseInst.cpp (the instruction-family handlers and their table).
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_RUNTIME_PTXPARSER_H
#define SPARSEC_LIB_RUNTIME_PTXPARSER_H

#include "PTXInternal.h"

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace sparsec::ptx::detail {

struct Token {
  enum Kind { Ident, Number, String, Punct, End };
  Kind kind = End;
  std::string text;
  int line = 0;
};

/// An operand as written, before resolution against the kernel's registers,
/// symbols and parameters.
struct POperand {
  enum Kind { Name, Int, Float, Vec, Addr, Sink };
  Kind kind = Name;
  std::string name;     // Name; Addr base ("" for an absolute address)
  bool negated = false; // !%p
  int64_t ival = 0;     // Int; Addr offset
  double fval = 0;      // Float (decimal or 0d)
  bool hasBits32 = false;
  uint32_t bits32 = 0; // Float written 0fXXXXXXXX
  std::vector<POperand> elems;
  int line = 0;
};

/// Parses a numeric literal into an Int or Float operand; `neg` applies a
/// leading '-'. False if malformed.
bool parseNumber(const std::string &text, bool neg, POperand &out);

struct SharedSym {
  std::string name;
  uint32_t align = 1, bytes = 0;
  bool dynamic = false;
  uint32_t address = 0;
};

class Parser;
using Handler = bool (Parser::*)(Inst &, const std::vector<std::string> &,
                                 std::vector<POperand> &);

class Parser {
public:
  Parser(std::vector<Token> toks, Module &m) : toks(std::move(toks)), M(m) {}
  bool parseModule();
  std::string error;

private:
  // --- token helpers ---
  const Token &peek(size_t k = 0) const {
    return toks[std::min(pos + k, toks.size() - 1)];
  }
  const Token &next() {
    const Token &t = peek();
    if (pos < toks.size() - 1)
      ++pos;
    return t;
  }
  bool isPunct(const char *p, size_t k = 0) const {
    return peek(k).kind == Token::Punct && peek(k).text == p;
  }
  bool accept(const char *p) {
    if (!isPunct(p))
      return false;
    next();
    return true;
  }
  bool fail(int line, const std::string &msg) {
    if (error.empty())
      error = "line " + std::to_string(line) + ": " + msg;
    return false;
  }
  bool expect(const char *p) {
    if (accept(p))
      return true;
    return fail(peek().line, std::string("expected '") + p + "', found '" +
                                 peek().text + "'");
  }
  bool expectNumber(int64_t &v) {
    POperand o;
    bool neg = accept("-");
    if (peek().kind != Token::Number || !parseNumber(peek().text, neg, o) ||
        o.kind != POperand::Int)
      return fail(peek().line,
                  "expected an integer, found '" + peek().text + "'");
    next();
    v = o.ival;
    return true;
  }

  // --- module level ---
  bool parseEntry();
  bool parseSharedDecl(bool isExtern, std::vector<SharedSym> &into);
  bool parseRegDecl();
  bool parseStatement();
  bool parseInstruction();
  bool parseOperand(POperand &o);
  bool finishKernel();

  // --- operand resolution ---
  int32_t lookupReg(const std::string &name) const;
  int symbolIndex(const std::string &name) const;
  int32_t newReg(unsigned bits) {
    K->regBits.push_back(static_cast<uint8_t>(bits));
    return K->numRegs++;
  }
  int32_t constRow(uint64_t v);
  bool immBits(const POperand &p, Ty ty, uint64_t &out);
  bool src(const POperand &p, Ty ty, Operand &out);
  bool dst(const POperand &p, Operand &out);
  bool vecOp(const POperand &p, Ty ty, bool isDst, Operand &out,
             int count = -1);
  bool addrOp(const POperand &p, Space space, Operand &out, int opIndex);
  bool immOnly(const POperand &p, int64_t &v);
  bool predOrImm(const POperand &p, Operand &out);
  bool arity(const std::vector<POperand> &ops, size_t n, size_t n2 = 0);
  bool badModifier(const std::string &m) {
    return fail(line, "unsupported instruction '" + opcode + "' (modifier ." +
                          m + ")");
  }

  // --- instruction families ---
  bool hArith(Inst &, const std::vector<std::string> &,
              std::vector<POperand> &);
  bool hSetp(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hSelp(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hMov(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hCvta(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hCvt(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hLdSt(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hAtom(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hCp(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hBar(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hMbarrier(Inst &, const std::vector<std::string> &,
                 std::vector<POperand> &);
  bool hFence(Inst &, const std::vector<std::string> &,
              std::vector<POperand> &);
  bool hBra(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hExit(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hShfl(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hLdmatrix(Inst &, const std::vector<std::string> &,
                 std::vector<POperand> &);
  bool hMma(Inst &, const std::vector<std::string> &, std::vector<POperand> &);
  bool hWgmma(Inst &, const std::vector<std::string> &,
              std::vector<POperand> &);
  static const std::unordered_map<std::string, Handler> &handlers();

  std::vector<Token> toks;
  size_t pos = 0;
  Module &M;
  std::vector<SharedSym> moduleShared;

  // Current kernel.
  Kernel *K = nullptr;
  std::vector<SharedSym> shared;
  std::vector<std::unordered_map<std::string, int32_t>> scopes;
  std::unordered_map<uint64_t, int32_t> constRows;
  struct SymConst {
    int32_t row;
    int sym;
    int64_t offset;
  };
  std::vector<SymConst> symConsts;
  struct SymFixup {
    size_t inst;
    int op;
    int sym;
  };
  std::vector<SymFixup> symFixups;
  std::map<std::string, size_t> labels;
  struct LabelFixup {
    size_t inst;
    int op;
    std::string name;
    int line;
  };
  std::vector<LabelFixup> labelFixups;
  // Current instruction.
  int line = 0;
  std::string opcode;
};

} // namespace sparsec::ptx::detail

#endif
