//===- PTXParser.cpp - PTX text to the emulator's instruction list --------===//
//
// Parses the PTX subset described in PTXEmulator.h into detail::Kernel: the
// lexer, module/entry/declaration structure and operand resolution.
// Instructions are parsed by the handlers in PTXParseInst.cpp, found through
// a table keyed by the opcode's first word.
//
//===----------------------------------------------------------------------===//
#include "PTXParser.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <unordered_map>

namespace sparsec::ptx::detail {

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

namespace {
struct TyInfo {
  const char *name;
  Ty ty;
  unsigned bits;
};
const TyInfo kTypes[] = {
    {"b8", Ty::B8, 8},        {"u8", Ty::U8, 8},
    {"s8", Ty::S8, 8},        {"b16", Ty::B16, 16},
    {"u16", Ty::U16, 16},     {"s16", Ty::S16, 16},
    {"f16", Ty::F16, 16},     {"bf16", Ty::BF16, 16},
    {"f16x2", Ty::F16x2, 32}, {"bf16x2", Ty::BF16x2, 32},
    {"b32", Ty::B32, 32},     {"u32", Ty::U32, 32},
    {"s32", Ty::S32, 32},     {"f32", Ty::F32, 32},
    {"b64", Ty::B64, 64},     {"u64", Ty::U64, 64},
    {"s64", Ty::S64, 64},     {"f64", Ty::F64, 64},
    {"pred", Ty::Pred, 1},
};
} // namespace

unsigned tyBits(Ty ty) {
  for (const TyInfo &t : kTypes)
    if (t.ty == ty)
      return t.bits;
  return 0;
}

bool tyIsSigned(Ty ty) {
  return ty == Ty::S8 || ty == Ty::S16 || ty == Ty::S32 || ty == Ty::S64;
}

bool tyIsFloat(Ty ty) {
  return ty == Ty::F16 || ty == Ty::BF16 || ty == Ty::F32 || ty == Ty::F64;
}

bool tyIsInt(Ty ty) {
  switch (ty) {
  case Ty::B8:
  case Ty::U8:
  case Ty::S8:
  case Ty::B16:
  case Ty::U16:
  case Ty::S16:
  case Ty::B32:
  case Ty::U32:
  case Ty::S32:
  case Ty::B64:
  case Ty::U64:
  case Ty::S64:
    return true;
  default:
    return false;
  }
}

const char *tyName(Ty ty) {
  for (const TyInfo &t : kTypes)
    if (t.ty == ty)
      return t.name;
  return "?";
}

bool parseTy(const std::string &s, Ty &out) {
  for (const TyInfo &t : kTypes)
    if (s == t.name) {
      out = t.ty;
      return true;
    }
  return false;
}

namespace {

//===----------------------------------------------------------------------===//
// Lexer
//===----------------------------------------------------------------------===//

bool isIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         c == '%' || c == '.';
}
bool isIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         c == '.';
}

std::string lex(const std::string &src, std::vector<Token> &out) {
  int line = 1;
  size_t i = 0, n = src.size();
  while (i < n) {
    char c = src[i];
    if (c == '\n') {
      ++line;
      ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && src[i + 1] == '/') {
      while (i < n && src[i] != '\n')
        ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && src[i + 1] == '*') {
      int start = line;
      i += 2;
      while (i + 1 < n && !(src[i] == '*' && src[i + 1] == '/')) {
        if (src[i] == '\n')
          ++line;
        ++i;
      }
      if (i + 1 >= n)
        return "line " + std::to_string(start) + ": unterminated comment";
      i += 2;
      continue;
    }
    Token tok;
    tok.line = line;
    size_t start = i;
    if (isIdentStart(c)) {
      tok.kind = Token::Ident;
      ++i;
      while (i < n) {
        if (isIdentChar(src[i])) {
          ++i;
        } else if (src[i] == ':' && i + 1 < n && src[i + 1] == ':') {
          i += 2; // shared::cta, sp::ordered_metadata, L2::128B
        } else {
          break;
        }
      }
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      tok.kind = Token::Number;
      bool prefixed = c == '0' && i + 1 < n &&
                      std::strchr("xXfFdDbB", src[i + 1]) != nullptr;
      ++i;
      while (i < n) {
        char d = src[i];
        if (std::isalnum(static_cast<unsigned char>(d)) || d == '.') {
          ++i;
          if (!prefixed && (d == 'e' || d == 'E') && i < n &&
              (src[i] == '+' || src[i] == '-'))
            ++i;
        } else {
          break;
        }
      }
    } else if (c == '"') {
      tok.kind = Token::String;
      ++i;
      while (i < n && src[i] != '"' && src[i] != '\n')
        ++i;
      if (i >= n || src[i] != '"')
        return "line " + std::to_string(line) + ": unterminated string";
      ++i;
    } else {
      tok.kind = Token::Punct;
      ++i;
    }
    tok.text = src.substr(start, i - start);
    out.push_back(std::move(tok));
  }
  Token end;
  end.kind = Token::End;
  end.line = line;
  out.push_back(end);
  return "";
}

//===----------------------------------------------------------------------===//
// Operands as written
//===----------------------------------------------------------------------===//

std::vector<std::string> splitDots(const std::string &s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == '.') {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return parts;
}

uint64_t maskBits(unsigned bits) {
  return bits >= 64 ? ~0ull : ((1ull << bits) - 1);
}

uint32_t alignUp(uint32_t v, uint32_t a) { return (v + a - 1) / a * a; }

/// The hex digits of `s` from `from` to its end (at least one) as `v`.
bool parseHexDigits(const std::string &s, size_t from, uint64_t &v) {
  if (from >= s.size())
    return false;
  v = 0;
  for (size_t i = from; i < s.size(); ++i) {
    char c = s[i];
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
            : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                        : -1;
    if (d < 0)
      return false;
    v = v * 16 + d;
  }
  return true;
}

} // namespace

bool parseNumber(const std::string &text, bool neg, POperand &out) {
  const char *s = text.c_str();
  size_t len = text.size();
  auto hexDigits = [&](size_t from, uint64_t &v) {
    return parseHexDigits(text, from, v);
  };
  if (len > 2 && s[0] == '0' && (s[1] == 'f' || s[1] == 'F')) {
    uint64_t v;
    if (len != 10 || !hexDigits(2, v))
      return false;
    out.kind = POperand::Float;
    out.hasBits32 = true;
    out.bits32 = static_cast<uint32_t>(v) ^ (neg ? 0x80000000u : 0u);
    out.fval = bitsToFloat(out.bits32);
    return true;
  }
  if (len > 2 && s[0] == '0' && (s[1] == 'd' || s[1] == 'D')) {
    uint64_t v;
    if (len != 18 || !hexDigits(2, v))
      return false;
    double d;
    std::memcpy(&d, &v, 8);
    out.kind = POperand::Float;
    out.fval = neg ? -d : d;
    return true;
  }
  std::string body = text;
  if (!body.empty() && (body.back() == 'U' || body.back() == 'u'))
    body.pop_back();
  bool isFloat = body.find_first_of(".eE") != std::string::npos &&
                 !(body.size() > 1 && (body[1] == 'x' || body[1] == 'X'));
  if (isFloat) {
    char *end = nullptr;
    double d = std::strtod(body.c_str(), &end);
    if (*end)
      return false;
    out.kind = POperand::Float;
    out.fval = neg ? -d : d;
    return true;
  }
  uint64_t v = 0;
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
    if (!parseHexDigits(body, 2, v))
      return false;
  } else if (body.size() > 2 && body[0] == '0' &&
             (body[1] == 'b' || body[1] == 'B')) {
    for (size_t i = 2; i < body.size(); ++i) {
      if (body[i] != '0' && body[i] != '1')
        return false;
      v = v * 2 + (body[i] - '0');
    }
  } else if (body.size() > 1 && body[0] == '0') {
    for (size_t i = 1; i < body.size(); ++i) {
      if (body[i] < '0' || body[i] > '7')
        return false;
      v = v * 8 + (body[i] - '0');
    }
  } else {
    for (char c : body) {
      if (!std::isdigit(static_cast<unsigned char>(c)))
        return false;
      v = v * 10 + (c - '0');
    }
  }
  out.kind = POperand::Int;
  out.ival = static_cast<int64_t>(neg ? 0 - v : v);
  return true;
}

//===----------------------------------------------------------------------===//
// Parser: module structure
//===----------------------------------------------------------------------===//

bool Parser::parseModule() {
  while (peek().kind != Token::End) {
    const Token &t = peek();
    if (t.kind != Token::Ident)
      return fail(t.line, "unexpected '" + t.text + "'");
    if (t.text == ".version" || t.text == ".address_size") {
      next();
      if (peek().kind != Token::Number)
        return fail(t.line, "expected a number after " + t.text);
      if (t.text == ".address_size" && peek().text != "64")
        return fail(t.line, "only .address_size 64 is supported");
      next();
      continue;
    }
    if (t.text == ".target") {
      next();
      do {
        if (peek().kind != Token::Ident)
          return fail(t.line, "expected a target name");
        next();
      } while (accept(","));
      continue;
    }
    if (t.text == ".file") { // debug info: .file N "name" [, ...]
      int l = t.line;
      while (peek().kind != Token::End && peek().line == l)
        next();
      continue;
    }
    bool isExtern = false;
    while (peek().text == ".visible" || peek().text == ".weak" ||
           peek().text == ".extern") {
      isExtern |= peek().text == ".extern";
      next();
    }
    if (peek().text == ".entry") {
      if (!parseEntry())
        return false;
      continue;
    }
    if (peek().text == ".shared") {
      if (!parseSharedDecl(isExtern, moduleShared))
        return false;
      continue;
    }
    return fail(peek().line, "unsupported directive '" + peek().text + "'");
  }
  if (M.kernels.empty())
    return fail(peek().line, "no .entry in module");
  return true;
}

bool Parser::parseSharedDecl(bool isExtern, std::vector<SharedSym> &into) {
  int l = next().line; // .shared
  SharedSym sym;
  if (peek().text == ".align") {
    next();
    int64_t a;
    if (!expectNumber(a))
      return false;
    if (a <= 0 || (a & (a - 1)) || a > 4096)
      return fail(l, "bad alignment " + std::to_string(a));
    sym.align = static_cast<uint32_t>(a);
  }
  Ty ty;
  if (peek().kind != Token::Ident || peek().text[0] != '.' ||
      !parseTy(peek().text.substr(1), ty) || ty == Ty::Pred)
    return fail(l, "expected a type in .shared declaration, found '" +
                       peek().text + "'");
  next();
  uint32_t elem = tyBits(ty) / 8;
  sym.align = std::max(sym.align, elem);
  if (peek().kind != Token::Ident)
    return fail(l, "expected a name in .shared declaration");
  sym.name = next().text;
  uint64_t count = 1;
  while (accept("[")) {
    if (accept("]")) {
      if (!isExtern)
        return fail(l,
                    "unsized .shared array '" + sym.name + "' must be .extern");
      sym.dynamic = true;
      continue;
    }
    int64_t dim;
    if (!expectNumber(dim) || !expect("]"))
      return false;
    if (dim <= 0)
      return fail(l, "bad array size");
    count *= static_cast<uint64_t>(dim);
  }
  if (!expect(";"))
    return false;
  if (isExtern && !sym.dynamic)
    return fail(l, ".extern .shared '" + sym.name + "' must be unsized");
  uint64_t bytes = sym.dynamic ? 0 : count * elem;
  if (bytes > (1u << 20))
    return fail(l, ".shared '" + sym.name + "' is too large");
  sym.bytes = static_cast<uint32_t>(bytes);
  for (const SharedSym &s : into)
    if (s.name == sym.name)
      return fail(l, "duplicate .shared '" + sym.name + "'");
  into.push_back(sym);
  return true;
}

bool Parser::parseEntry() {
  int l = next().line; // .entry
  if (peek().kind != Token::Ident)
    return fail(l, "expected a kernel name");
  M.kernels.emplace_back();
  K = &M.kernels.back();
  K->name = next().text;
  for (const Kernel &k : M.kernels)
    if (&k != K && k.name == K->name)
      return fail(l, "duplicate kernel '" + K->name + "'");
  K->regBits.assign(NumSpecialRegs, 0);
  shared = moduleShared;
  scopes.clear();
  scopes.emplace_back();
  constRows.clear();
  symConsts.clear();
  symFixups.clear();
  labels.clear();
  labelFixups.clear();

  if (accept("(")) {
    if (!isPunct(")")) {
      do {
        int pl = peek().line;
        if (peek().text != ".param")
          return fail(pl, "expected .param, found '" + peek().text + "'");
        next();
        uint32_t align = 0;
        Ty ty = Ty::None;
        while (peek().kind == Token::Ident && peek().text[0] == '.') {
          std::string d = next().text;
          if (d == ".align") {
            int64_t a;
            if (!expectNumber(a))
              return false;
            align = static_cast<uint32_t>(a);
          } else if (d.rfind(".ptr", 0) == 0 || d == ".global" ||
                     d == ".shared") {
            if (d.size() >= 6 && d.compare(d.size() - 6, 6, ".align") == 0) {
              int64_t a;
              if (!expectNumber(a))
                return false;
            }
          } else if (!parseTy(d.substr(1), ty) || ty == Ty::Pred) {
            return fail(pl, "unsupported parameter type '" + d + "'");
          }
        }
        if (ty == Ty::None || peek().kind != Token::Ident)
          return fail(pl, "malformed .param");
        Param p;
        p.name = next().text;
        uint32_t elem = tyBits(ty) / 8;
        uint64_t count = 1;
        if (accept("[")) {
          int64_t dim;
          if (!expectNumber(dim) || !expect("]"))
            return false;
          count = static_cast<uint64_t>(dim);
        }
        p.size = static_cast<uint32_t>(elem * count);
        align = std::max(align, elem);
        p.offset = alignUp(K->paramBytes, align);
        K->paramBytes = p.offset + p.size;
        for (const Param &q : K->params)
          if (q.name == p.name)
            return fail(pl, "duplicate parameter '" + p.name + "'");
        K->params.push_back(p);
      } while (accept(","));
    }
    if (!expect(")"))
      return false;
  }
  // Performance directives.
  while (peek().kind == Token::Ident && peek().text[0] == '.') {
    std::string d = next().text;
    std::vector<int64_t> vals;
    if (peek().kind == Token::Number) {
      do {
        int64_t v;
        if (!expectNumber(v))
          return false;
        vals.push_back(v);
      } while (accept(","));
    }
    if (d == ".reqntid" || d == ".maxntid") {
      uint32_t *dst = d == ".reqntid" ? K->reqntid : K->maxntid;
      if (vals.empty() || vals.size() > 3)
        return fail(l, d + " needs 1 to 3 values");
      for (int i = 0; i < 3; ++i)
        dst[i] = i < static_cast<int>(vals.size())
                     ? static_cast<uint32_t>(vals[i])
                     : 1;
    } else if (d != ".minnctapersm" && d != ".maxnreg" &&
               d != ".maxnctapersm" && d != ".noreturn" &&
               d != ".explicitcluster" && d != ".reqnctapercluster" &&
               d != ".maxclusterrank") {
      return fail(l, "unsupported directive '" + d + "'");
    }
  }
  if (!expect("{"))
    return false;
  int depth = 0;
  for (;;) {
    const Token &t = peek();
    if (t.kind == Token::End)
      return fail(t.line,
                  "unexpected end of input in kernel '" + K->name + "'");
    if (accept("}")) {
      if (depth == 0)
        break;
      --depth;
      scopes.pop_back();
      continue;
    }
    if (accept("{")) {
      ++depth;
      scopes.emplace_back();
      continue;
    }
    if (!parseStatement())
      return false;
  }
  return finishKernel();
}

bool Parser::parseRegDecl() {
  int l = next().line; // .reg
  Ty ty;
  if (peek().kind != Token::Ident || peek().text[0] != '.' ||
      !parseTy(peek().text.substr(1), ty))
    return fail(l, "expected a register type, found '" + peek().text + "'");
  next();
  unsigned bits = tyBits(ty);
  do {
    if (peek().kind != Token::Ident)
      return fail(l, "expected a register name");
    std::string name = next().text;
    auto &scope = scopes.back();
    if (accept("<")) {
      int64_t count;
      if (!expectNumber(count) || !expect(">"))
        return false;
      if (count < 0 || count > 100000)
        return fail(l, "bad register count");
      for (int64_t i = 0; i < count; ++i)
        scope[name + std::to_string(i)] = newReg(bits);
    } else {
      scope[name] = newReg(bits);
    }
  } while (accept(","));
  return expect(";");
}

bool Parser::parseStatement() {
  const Token &t = peek();
  if (t.kind == Token::Ident && t.text[0] == '.') {
    if (t.text == ".reg")
      return parseRegDecl();
    if (t.text == ".shared")
      return parseSharedDecl(false, shared);
    if (t.text == ".pragma") {
      while (peek().kind != Token::End && !isPunct(";"))
        next();
      return expect(";");
    }
    if (t.text == ".loc") { // debug info, no terminator
      int l = t.line;
      while (peek().kind != Token::End && peek().line == l)
        next();
      return true;
    }
    return fail(t.line, "unsupported directive '" + t.text + "'");
  }
  if (t.kind == Token::Ident && isPunct(":", 1)) {
    std::string name = next().text;
    next();
    if (labels.count(name))
      return fail(t.line, "duplicate label '" + name + "'");
    labels[name] = K->insts.size();
    return true;
  }
  return parseInstruction();
}

bool Parser::parseOperand(POperand &o) {
  const Token &t = peek();
  o.line = t.line;
  if (accept("{")) {
    o.kind = POperand::Vec;
    do {
      POperand e;
      if (!parseOperand(e))
        return false;
      if (e.kind == POperand::Vec || e.kind == POperand::Addr)
        return fail(t.line, "nested operand in vector");
      o.elems.push_back(e);
    } while (accept(","));
    return expect("}");
  }
  if (accept("[")) {
    o.kind = POperand::Addr;
    if (peek().kind == Token::Ident) {
      o.name = next().text;
      if (isPunct("+") || isPunct("-")) {
        bool neg = next().text == "-";
        POperand num;
        if (peek().kind != Token::Number ||
            !parseNumber(peek().text, neg, num) || num.kind != POperand::Int)
          return fail(t.line, "bad address offset '" + peek().text + "'");
        next();
        o.ival = num.ival;
      }
    } else {
      POperand num;
      if (peek().kind != Token::Number ||
          !parseNumber(peek().text, false, num) || num.kind != POperand::Int)
        return fail(t.line, "bad address '" + peek().text + "'");
      next();
      o.ival = num.ival;
    }
    return expect("]");
  }
  if (accept("!")) {
    if (peek().kind != Token::Ident)
      return fail(t.line, "expected a predicate after '!'");
    o.kind = POperand::Name;
    o.name = next().text;
    o.negated = true;
    return true;
  }
  bool neg = accept("-");
  if (peek().kind == Token::Number) {
    if (!parseNumber(peek().text, neg, o))
      return fail(t.line, "bad number '" + peek().text + "'");
    next();
    return true;
  }
  if (neg)
    return fail(t.line, "expected a number after '-'");
  if (peek().kind == Token::Ident) {
    o.name = next().text;
    o.kind = o.name == "_" ? POperand::Sink : POperand::Name;
    if (isPunct("|"))
      return fail(t.line, "unsupported instruction '" + opcode +
                              "' (two destinations 'a|b')");
    return true;
  }
  return fail(t.line, "unexpected '" + t.text + "' in operands");
}

bool Parser::parseInstruction() {
  Inst inst;
  line = peek().line;
  inst.line = line;
  if (accept("@")) {
    bool neg = accept("!");
    if (peek().kind != Token::Ident)
      return fail(line, "expected a guard predicate");
    std::string name = next().text;
    int32_t r = lookupReg(name);
    if (r < 0)
      return fail(line, "unknown guard predicate '" + name + "'");
    if (K->regBits[r] != 1)
      return fail(line, "guard '" + name + "' is not a predicate");
    inst.guard = r;
    inst.guardNeg = neg;
  }
  if (peek().kind != Token::Ident)
    return fail(line, "expected an instruction, found '" + peek().text + "'");
  opcode = next().text;
  std::vector<POperand> ops;
  if (!isPunct(";")) {
    do {
      ops.emplace_back();
      if (!parseOperand(ops.back()))
        return false;
    } while (accept(","));
  }
  if (!expect(";"))
    return false;
  std::vector<std::string> parts = splitDots(opcode);
  auto it = handlers().find(parts[0]);
  if (it == handlers().end())
    return fail(line, "unsupported instruction '" + opcode + "'");
  if (!(this->*(it->second))(inst, parts, ops))
    return false;
  K->insts.push_back(inst);
  return true;
}

bool Parser::finishKernel() {
  // Shared layout: static arrays in order (module scope first), then the
  // dynamic (.extern) arrays, all at one address.
  uint32_t off = 0, dynAlign = 16;
  for (SharedSym &s : shared) {
    if (s.dynamic) {
      dynAlign = std::max(dynAlign, s.align);
      continue;
    }
    off = alignUp(off, s.align);
    s.address = off;
    off += s.bytes;
  }
  K->staticShared = off;
  K->dynamicOffset = alignUp(off, dynAlign);
  for (SharedSym &s : shared)
    if (s.dynamic) {
      s.address = K->dynamicOffset;
      K->hasDynamicShared = true;
    }
  for (const SymConst &c : symConsts)
    K->constants.push_back(
        {c.row, static_cast<uint64_t>(shared[c.sym].address + c.offset)});
  for (const SymFixup &f : symFixups)
    K->insts[f.inst].ops[f.op].offset += shared[f.sym].address;
  for (const LabelFixup &f : labelFixups) {
    auto it = labels.find(f.name);
    if (it == labels.end())
      return fail(f.line, "unknown label '" + f.name + "'");
    K->insts[f.inst].ops[f.op].offset = static_cast<int64_t>(it->second);
  }
  K = nullptr;
  return true;
}

//===----------------------------------------------------------------------===//
// Operand resolution
//===----------------------------------------------------------------------===//

int32_t Parser::lookupReg(const std::string &name) const {
  for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
    auto f = it->find(name);
    if (f != it->end())
      return f->second;
  }
  static const std::unordered_map<std::string, int32_t> special = {
      {"%tid.x", RegTidX},       {"%tid.y", RegTidY},
      {"%tid.z", RegTidZ},       {"%ntid.x", RegNtidX},
      {"%ntid.y", RegNtidY},     {"%ntid.z", RegNtidZ},
      {"%ctaid.x", RegCtaidX},   {"%ctaid.y", RegCtaidY},
      {"%ctaid.z", RegCtaidZ},   {"%nctaid.x", RegNctaidX},
      {"%nctaid.y", RegNctaidY}, {"%nctaid.z", RegNctaidZ},
      {"%laneid", RegLaneid},    {"%warpid", RegWarpid},
      {"%nwarpid", RegNwarpid},  {"%dynamic_smem_size", RegDynSmem},
  };
  auto f = special.find(name);
  return f == special.end() ? -1 : f->second;
}

int Parser::symbolIndex(const std::string &name) const {
  for (size_t i = 0; i < shared.size(); ++i)
    if (shared[i].name == name)
      return static_cast<int>(i);
  return -1;
}

int32_t Parser::constRow(uint64_t v) {
  auto it = constRows.find(v);
  if (it != constRows.end())
    return it->second;
  int32_t r = newReg(64);
  constRows[v] = r;
  K->constants.push_back({r, v});
  return r;
}

bool Parser::immBits(const POperand &p, Ty ty, uint64_t &out) {
  unsigned bits = tyBits(ty);
  if (p.kind == POperand::Int) {
    if (ty == Ty::F32)
      out = floatToBits(static_cast<float>(p.ival));
    else if (ty == Ty::Pred)
      out = p.ival != 0;
    else if (ty == Ty::F64 || ty == Ty::F16 || ty == Ty::BF16)
      return fail(line,
                  "unsupported immediate type ." + std::string(tyName(ty)));
    else
      out = static_cast<uint64_t>(p.ival) & maskBits(bits);
    return true;
  }
  if (p.kind == POperand::Float) {
    if (ty != Ty::F32)
      return fail(line, "floating-point immediate for a ." +
                            std::string(tyName(ty)) + " operand");
    out = p.hasBits32 ? p.bits32 : floatToBits(static_cast<float>(p.fval));
    return true;
  }
  return fail(line, "expected an immediate");
}

bool Parser::src(const POperand &p, Ty ty, Operand &out) {
  out = Operand();
  out.kind = Operand::Reg;
  if (p.kind == POperand::Int || p.kind == POperand::Float) {
    uint64_t v = 0;
    if (!immBits(p, ty, v))
      return false;
    out.reg = constRow(v);
    return true;
  }
  if (p.kind != POperand::Name || p.negated)
    return fail(line, "bad source operand for '" + opcode + "'");
  int32_t r = lookupReg(p.name);
  if (r >= 0) {
    if ((ty == Ty::Pred) != (K->regBits[r] == 1) && r >= NumSpecialRegs)
      return fail(line, "register '" + p.name + "' has the wrong kind for ." +
                            std::string(tyName(ty)) + " in '" + opcode + "'");
    out.reg = r;
    return true;
  }
  int sym = symbolIndex(p.name);
  if (sym >= 0) {
    if (tyBits(ty) < 32)
      return fail(line, "shared symbol '" + p.name + "' as a narrow value");
    out.reg = newReg(64);
    symConsts.push_back({out.reg, sym, 0});
    return true;
  }
  return fail(line, "unknown register or symbol '" + p.name + "'");
}

bool Parser::dst(const POperand &p, Operand &out) {
  out = Operand();
  out.kind = Operand::Reg;
  if (p.kind == POperand::Sink) {
    out.reg = RegSink;
    return true;
  }
  if (p.kind != POperand::Name || p.negated)
    return fail(line, "destination of '" + opcode + "' must be a register");
  int32_t r = lookupReg(p.name);
  if (r < 0)
    return fail(line, "unknown register '" + p.name + "'");
  if (r < NumSpecialRegs)
    return fail(line, "cannot write special register '" + p.name + "'");
  out.reg = r;
  return true;
}

bool Parser::vecOp(const POperand &p, Ty ty, bool isDst, Operand &out,
                   int count) {
  if (p.kind != POperand::Vec)
    return fail(line, "'" + opcode + "' expects a {vector} operand");
  if (count >= 0 && static_cast<int>(p.elems.size()) != count)
    return fail(line, "'" + opcode + "' expects " + std::to_string(count) +
                          " registers in braces, got " +
                          std::to_string(p.elems.size()));
  std::vector<int32_t> rows;
  for (const POperand &e : p.elems) {
    Operand r;
    if (!(isDst ? dst(e, r) : src(e, ty, r)))
      return false;
    rows.push_back(r.reg);
  }
  out = Operand();
  out.kind = Operand::Vec;
  out.first = static_cast<int32_t>(K->regLists.size());
  out.count = static_cast<int32_t>(rows.size());
  K->regLists.insert(K->regLists.end(), rows.begin(), rows.end());
  return true;
}

bool Parser::addrOp(const POperand &p, Space space, Operand &out, int opIndex) {
  if (p.kind != POperand::Addr)
    return fail(line, "'" + opcode + "' expects an [address] operand");
  out = Operand();
  out.kind = Operand::Addr;
  out.offset = p.ival;
  if (p.name.empty())
    return true;
  if (space == Space::Param) {
    for (const Param &q : K->params)
      if (q.name == p.name) {
        out.offset += q.offset;
        return true;
      }
    return fail(line, "unknown parameter '" + p.name + "'");
  }
  int32_t r = lookupReg(p.name);
  if (r >= 0) {
    if (K->regBits[r] != 32 && K->regBits[r] != 64)
      return fail(line,
                  "address register '" + p.name + "' must be 32 or 64 bits");
    out.reg = r;
    return true;
  }
  int sym = symbolIndex(p.name);
  if (sym >= 0) {
    if (space != Space::Shared)
      return fail(line, "shared symbol '" + p.name +
                            "' used in a non-.shared access");
    symFixups.push_back({K->insts.size(), opIndex, sym});
    return true;
  }
  return fail(line, "unknown address base '" + p.name + "'");
}

bool Parser::immOnly(const POperand &p, int64_t &v) {
  if (p.kind != POperand::Int)
    return fail(line, "'" + opcode + "' expects an integer immediate");
  v = p.ival;
  return true;
}

bool Parser::predOrImm(const POperand &p, Operand &out) {
  if (p.kind == POperand::Int) {
    if (p.ival != 0 && p.ival != 1)
      return fail(line, "expected 0 or 1");
    return src(p, Ty::Pred, out);
  }
  return src(p, Ty::Pred, out);
}

bool Parser::arity(const std::vector<POperand> &ops, size_t n, size_t n2) {
  if (ops.size() == n || (n2 && ops.size() == n2))
    return true;
  return fail(line, "'" + opcode + "' expects " + std::to_string(n) +
                        (n2 ? " or " + std::to_string(n2) : "") +
                        " operands, got " + std::to_string(ops.size()));
}

} // namespace sparsec::ptx::detail

namespace sparsec::ptx {

std::unique_ptr<Module> parseModule(const std::string &text,
                                    std::string &error) {
  std::vector<detail::Token> toks;
  error = detail::lex(text, toks);
  if (!error.empty())
    return nullptr;
  auto module = std::unique_ptr<Module>(new Module());
  detail::Parser parser(std::move(toks), *module);
  if (!parser.parseModule()) {
    error = parser.error;
    return nullptr;
  }
  error.clear();
  return module;
}

void destroyModule(Module *module) { delete module; }

std::vector<std::string> kernelNames(const Module &module) {
  std::vector<std::string> names;
  for (const detail::Kernel &k : module.kernels)
    names.push_back(k.name);
  return names;
}

} // namespace sparsec::ptx
