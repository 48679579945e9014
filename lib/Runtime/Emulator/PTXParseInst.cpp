//===- PTXParseInst.cpp - instruction-family handlers ---------------------===//
//
// One handler per family of opcodes (keyed by the opcode's first word in
// Parser::handlers()): it checks the modifiers and operands and fills in an
// Inst. Supporting another opcode means a handler (or a branch of one), a row
// in the table and its execution in PTXExec*.cpp.
//
//===----------------------------------------------------------------------===//
#include "PTXParser.h"

#include <cctype>

namespace sparsec::ptx::detail {

const std::unordered_map<std::string, Handler> &Parser::handlers() {
  static const std::unordered_map<std::string, Handler> table = {
      {"add", &Parser::hArith},         {"sub", &Parser::hArith},
      {"mul", &Parser::hArith},         {"mad", &Parser::hArith},
      {"fma", &Parser::hArith},         {"div", &Parser::hArith},
      {"rem", &Parser::hArith},         {"min", &Parser::hArith},
      {"max", &Parser::hArith},         {"neg", &Parser::hArith},
      {"abs", &Parser::hArith},         {"shl", &Parser::hArith},
      {"shr", &Parser::hArith},         {"and", &Parser::hArith},
      {"or", &Parser::hArith},          {"xor", &Parser::hArith},
      {"not", &Parser::hArith},         {"rcp", &Parser::hArith},
      {"sqrt", &Parser::hArith},        {"rsqrt", &Parser::hArith},
      {"ex2", &Parser::hArith},         {"lg2", &Parser::hArith},
      {"tanh", &Parser::hArith},        {"sin", &Parser::hArith},
      {"cos", &Parser::hArith},         {"setp", &Parser::hSetp},
      {"selp", &Parser::hSelp},         {"mov", &Parser::hMov},
      {"cvta", &Parser::hCvta},         {"cvt", &Parser::hCvt},
      {"ld", &Parser::hLdSt},           {"st", &Parser::hLdSt},
      {"atom", &Parser::hAtom},         {"cp", &Parser::hCp},
      {"bar", &Parser::hBar},           {"barrier", &Parser::hBar},
      {"fence", &Parser::hFence},       {"membar", &Parser::hFence},
      {"bra", &Parser::hBra},           {"ret", &Parser::hExit},
      {"exit", &Parser::hExit},         {"shfl", &Parser::hShfl},
      {"ldmatrix", &Parser::hLdmatrix}, {"mma", &Parser::hMma},
      {"wgmma", &Parser::hWgmma},       {"mbarrier", &Parser::hMbarrier},
  };
  return table;
}

//===----------------------------------------------------------------------===//
// Instruction families
//===----------------------------------------------------------------------===//

static bool isRounding(const std::string &s, Rounding &r) {
  static const std::pair<const char *, Rounding> table[] = {
      {"rn", RndRN},   {"rz", RndRZ},   {"rm", RndRM},   {"rp", RndRP},
      {"rni", RndRNI}, {"rzi", RndRZI}, {"rmi", RndRMI}, {"rpi", RndRPI}};
  for (const auto &e : table)
    if (s == e.first) {
      r = e.second;
      return true;
    }
  return false;
}

bool Parser::hArith(Inst &I, const std::vector<std::string> &parts,
                    std::vector<POperand> &ops) {
  const std::string &base = parts[0];
  Ty ty = Ty::None;
  Rounding rnd = RndNone;
  enum { MNone, MLo, MHi, MWide } mm = MNone;
  bool approx = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string &p = parts[i];
    Ty t;
    Rounding r;
    if (parseTy(p, t)) {
      if (ty != Ty::None)
        return badModifier(p);
      ty = t;
    } else if (isRounding(p, r) && r <= RndRP) {
      rnd = r;
    } else if (p == "ftz") {
      I.flags |= FlagFtz;
    } else if (p == "sat") {
      I.flags |= FlagSat;
    } else if (p == "lo" || p == "hi" || p == "wide") {
      mm = p == "lo" ? MLo : p == "hi" ? MHi : MWide;
    } else if (p == "approx" || p == "full") {
      approx = true;
    } else {
      return badModifier(p);
    }
  }
  if (ty == Ty::None)
    return fail(line, "missing type in '" + opcode + "'");
  bool isF = ty == Ty::F32, isI = tyIsInt(ty);
  auto bad = [&]() {
    return fail(line, "unsupported instruction '" + opcode + "' (type ." +
                          tyName(ty) + ")");
  };
  if (!isF && !isI && ty != Ty::Pred)
    return bad();
  if (ty == Ty::Pred && base != "and" && base != "or" && base != "xor" &&
      base != "not")
    return bad();
  size_t nsrc = 2;
  Ty srcTy = ty;
  Ty shiftTy = Ty::None; // second source type when it differs
  if (base == "add" || base == "sub") {
    I.op = isF ? (base == "add" ? Op::FAdd : Op::FSub)
               : (base == "add" ? Op::Add : Op::Sub);
    if (isI && (I.flags & FlagSat) && ty != Ty::S32)
      return bad();
  } else if (base == "mul" || base == "mad") {
    nsrc = base == "mad" ? 3 : 2;
    if (isF) {
      if (mm != MNone)
        return badModifier(mm == MLo ? "lo" : mm == MHi ? "hi" : "wide");
      I.op = base == "mad" ? Op::Fma : Op::FMul;
    } else {
      if (mm == MNone)
        return fail(line, "'" + opcode + "' needs .lo, .hi or .wide");
      if (mm == MWide && tyBits(ty) > 32)
        return bad();
      if (base == "mul")
        I.op = mm == MLo ? Op::MulLo : mm == MHi ? Op::MulHi : Op::MulWide;
      else
        I.op = mm == MLo ? Op::MadLo : mm == MHi ? Op::MadHi : Op::MadWide;
    }
  } else if (base == "fma") {
    if (!isF)
      return bad();
    if (rnd == RndNone)
      return fail(line, "'" + opcode + "' needs a rounding modifier");
    I.op = Op::Fma;
    nsrc = 3;
  } else if (base == "div") {
    I.op = isF ? Op::FDiv : Op::Div;
  } else if (base == "rem") {
    if (!isI)
      return bad();
    I.op = Op::Rem;
  } else if (base == "min" || base == "max") {
    I.op = isF ? (base == "min" ? Op::FMin : Op::FMax)
               : (base == "min" ? Op::Min : Op::Max);
  } else if (base == "neg" || base == "abs") {
    if (isI && !tyIsSigned(ty))
      return bad();
    I.op = isF ? (base == "neg" ? Op::FNeg : Op::FAbs)
               : (base == "neg" ? Op::Neg : Op::Abs);
    nsrc = 1;
  } else if (base == "shl" || base == "shr") {
    if (!isI || tyBits(ty) < 16)
      return bad();
    I.op = base == "shl" ? Op::Shl : Op::Shr;
    shiftTy = Ty::U32;
  } else if (base == "and" || base == "or" || base == "xor" || base == "not") {
    if (isF || (isI && (tyIsSigned(ty) || tyBits(ty) < 16)))
      return bad();
    I.op = base == "and"   ? Op::And
           : base == "or"  ? Op::Or
           : base == "xor" ? Op::Xor
                           : Op::Not;
    nsrc = base == "not" ? 1 : 2;
  } else {
    // rcp sqrt rsqrt ex2 lg2 tanh sin cos: f32 only.
    if (!isF)
      return bad();
    static const std::pair<const char *, Op> un[] = {
        {"rcp", Op::Rcp}, {"sqrt", Op::Sqrt}, {"rsqrt", Op::Rsqrt},
        {"ex2", Op::Ex2}, {"lg2", Op::Lg2},   {"tanh", Op::Tanh},
        {"sin", Op::Sin}, {"cos", Op::Cos}};
    for (const auto &e : un)
      if (base == e.first)
        I.op = e.second;
    nsrc = 1;
    if (!approx && rnd == RndNone)
      return fail(line, "'" + opcode + "' needs .approx or a rounding mode");
    if (rnd != RndNone && rnd != RndRN)
      return fail(line, "unsupported instruction '" + opcode +
                            "' (only .rn rounding is supported here)");
    if (rnd == RndRN && I.op != Op::Rcp && I.op != Op::Sqrt)
      return badModifier("rn");
  }
  if (isF) {
    if (rnd != RndNone && rnd != RndRN && I.op != Op::FAdd &&
        I.op != Op::FSub && I.op != Op::FMul && I.op != Op::Fma)
      return fail(line, "unsupported instruction '" + opcode +
                            "' (directed rounding)");
    if (I.op == Op::FDiv && !approx && rnd == RndNone)
      return fail(line, "'" + opcode + "' needs .approx, .full or .rn");
  } else if (rnd != RndNone || (I.flags & FlagFtz) ||
             ((I.flags & FlagSat) && !(I.op == Op::Add || I.op == Op::Sub))) {
    return fail(line, "unsupported instruction '" + opcode +
                          "' (float modifier on an integer type)");
  }
  if (!isF && approx)
    return badModifier("approx");
  I.type = ty;
  I.mod = rnd;
  if (!arity(ops, nsrc + 1) || !dst(ops[0], I.ops[0]))
    return false;
  for (size_t i = 1; i <= nsrc; ++i)
    if (!src(ops[i], (i == 2 && shiftTy != Ty::None) ? shiftTy : srcTy,
             I.ops[i]))
      return false;
  I.nops = static_cast<uint8_t>(nsrc + 1);
  return true;
}

bool Parser::hSetp(Inst &I, const std::vector<std::string> &parts,
                   std::vector<POperand> &ops) {
  static const std::pair<const char *, Cmp> cmps[] = {
      {"eq", CmpEq},   {"ne", CmpNe},   {"lt", CmpLt},   {"le", CmpLe},
      {"gt", CmpGt},   {"ge", CmpGe},   {"lo", CmpLt},   {"ls", CmpLe},
      {"hi", CmpGt},   {"hs", CmpGe},   {"equ", CmpEqu}, {"neu", CmpNeu},
      {"ltu", CmpLtu}, {"leu", CmpLeu}, {"gtu", CmpGtu}, {"geu", CmpGeu},
      {"num", CmpNum}, {"nan", CmpNan}};
  bool haveCmp = false;
  I.op = Op::Setp;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string &p = parts[i];
    Ty t;
    bool found = false;
    for (const auto &c : cmps)
      if (!haveCmp && p == c.first) {
        I.mod = c.second;
        haveCmp = found = true;
      }
    if (found)
      continue;
    if (parseTy(p, t) && I.type == Ty::None)
      I.type = t;
    else if (p == "and" || p == "or" || p == "xor")
      I.aux[0] = p == "and" ? BoolAnd : p == "or" ? BoolOr : BoolXor;
    else if (p == "ftz")
      I.flags |= FlagFtz;
    else
      return badModifier(p);
  }
  if (!haveCmp || I.type == Ty::None)
    return fail(line, "malformed '" + opcode + "'");
  if (!tyIsInt(I.type) && I.type != Ty::F32)
    return fail(line, "unsupported instruction '" + opcode + "' (type ." +
                          tyName(I.type) + ")");
  if (tyIsInt(I.type) && I.mod > CmpGe)
    return fail(line, "unordered comparison on an integer type");
  bool combine = I.aux[0] != BoolNone;
  if (!arity(ops, combine ? 4 : 3) || !dst(ops[0], I.ops[0]) ||
      !src(ops[1], I.type, I.ops[1]) || !src(ops[2], I.type, I.ops[2]))
    return false;
  if (K->regBits[I.ops[0].reg] != 1 && I.ops[0].reg != RegSink)
    return fail(line, "setp destination must be a predicate");
  if (combine) {
    POperand c = ops[3];
    I.aux[1] = c.negated;
    c.negated = false;
    if (!src(c, Ty::Pred, I.ops[3]))
      return false;
  }
  I.nops = combine ? 4 : 3;
  return true;
}

bool Parser::hSelp(Inst &I, const std::vector<std::string> &parts,
                   std::vector<POperand> &ops) {
  if (parts.size() != 2 || !parseTy(parts[1], I.type) ||
      !(tyIsInt(I.type) || I.type == Ty::F32) || tyBits(I.type) < 16)
    return fail(line, "unsupported instruction '" + opcode + "'");
  I.op = Op::Selp;
  I.nops = 4;
  return arity(ops, 4) && dst(ops[0], I.ops[0]) &&
         src(ops[1], I.type, I.ops[1]) && src(ops[2], I.type, I.ops[2]) &&
         src(ops[3], Ty::Pred, I.ops[3]);
}

bool Parser::hMov(Inst &I, const std::vector<std::string> &parts,
                  std::vector<POperand> &ops) {
  if (parts.size() != 2 || !parseTy(parts[1], I.type) || I.type == Ty::F64)
    return fail(line, "unsupported instruction '" + opcode + "'");
  if (!arity(ops, 2))
    return false;
  unsigned bits = tyBits(I.type);
  I.nops = 2;
  if (ops[0].kind == POperand::Vec || ops[1].kind == POperand::Vec) {
    bool unpack = ops[0].kind == POperand::Vec;
    const POperand &v = unpack ? ops[0] : ops[1];
    size_t count = v.elems.size();
    if ((count != 2 && count != 4) || bits < 32 || bits / count < 8)
      return fail(line,
                  "unsupported instruction '" + opcode + "' (vector form)");
    I.op = unpack ? Op::MovUnpack : Op::MovPack;
    I.aux[0] = static_cast<int64_t>(bits / count); // element bits
    Ty elemTy = bits / count == 8    ? Ty::B8
                : bits / count == 16 ? Ty::B16
                                     : Ty::B32;
    if (unpack)
      return vecOp(ops[0], elemTy, true, I.ops[0]) &&
             src(ops[1], I.type, I.ops[1]);
    return dst(ops[0], I.ops[0]) && vecOp(ops[1], elemTy, false, I.ops[1]);
  }
  I.op = Op::Mov;
  return dst(ops[0], I.ops[0]) && src(ops[1], I.type, I.ops[1]);
}

bool Parser::hCvta(Inst &I, const std::vector<std::string> &parts,
                   std::vector<POperand> &ops) {
  // cvta[.to].{global,shared}.{u32,u64}: global addresses are generic
  // addresses and shared accesses only use .shared forms, so the conversion
  // is the identity.
  size_t i = 1;
  if (i < parts.size() && parts[i] == "to")
    ++i;
  if (i + 2 != parts.size() ||
      (parts[i] != "global" && parts[i] != "shared" &&
       parts[i] != "shared::cta") ||
      (parts[i + 1] != "u64" && parts[i + 1] != "u32"))
    return fail(line, "unsupported instruction '" + opcode + "'");
  parseTy(parts[i + 1], I.type);
  I.op = Op::Mov;
  I.nops = 2;
  return arity(ops, 2) && dst(ops[0], I.ops[0]) &&
         src(ops[1], I.type, I.ops[1]);
}

bool Parser::hCvt(Inst &I, const std::vector<std::string> &parts,
                  std::vector<POperand> &ops) {
  std::vector<Ty> tys;
  Rounding rnd = RndNone;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string &p = parts[i];
    Ty t;
    Rounding r;
    if (parseTy(p, t))
      tys.push_back(t);
    else if (isRounding(p, r))
      rnd = r;
    else if (p == "ftz")
      I.flags |= FlagFtz;
    else if (p == "sat")
      I.flags |= FlagSat;
    else if (p == "relu")
      I.flags |= FlagRelu;
    else
      return badModifier(p);
  }
  if (tys.size() != 2)
    return fail(line, "malformed '" + opcode + "'");
  I.type = tys[0];
  I.type2 = tys[1];
  I.mod = rnd;
  Ty d = I.type, s = I.type2;
  auto bad = [&](const char *why) {
    return fail(line, "unsupported instruction '" + opcode + "' (" + why + ")");
  };
  bool intRnd = rnd >= RndRNI, fltRnd = rnd >= RndRN && rnd <= RndRP;
  if ((I.flags & FlagRelu) && !(s == Ty::F32 && d != Ty::F32 && tyIsFloat(d)) &&
      d != Ty::F16x2 && d != Ty::BF16x2)
    return bad(".relu only applies to conversions to f16/bf16");
  if (d == Ty::F16x2 || d == Ty::BF16x2) {
    if (s != Ty::F32 || (rnd != RndRN && rnd != RndRZ))
      return bad("packed conversions need .rn or .rz from f32");
    I.op = Op::CvtPack;
    I.nops = 3;
    return arity(ops, 3) && dst(ops[0], I.ops[0]) &&
           src(ops[1], Ty::F32, I.ops[1]) && src(ops[2], Ty::F32, I.ops[2]);
  }
  I.op = Op::Cvt;
  I.nops = 2;
  if (tyIsInt(d) && tyIsInt(s)) {
    if (rnd != RndNone)
      return bad("rounding on an integer conversion");
  } else if (tyIsInt(d) && s == Ty::F32) {
    if (!intRnd)
      return bad("float to integer needs .rni/.rzi/.rmi/.rpi");
  } else if (d == Ty::F32 && tyIsInt(s)) {
    if (rnd != RndRN)
      return bad("integer to f32 supports .rn only");
  } else if (d == Ty::F32 && s == Ty::F32) {
    if (fltRnd)
      return bad("f32 to f32 takes an integer rounding or none");
  } else if ((d == Ty::F16 || d == Ty::BF16) && s == Ty::F32) {
    if (rnd != RndRN && rnd != RndRZ)
      return bad("f32 to f16/bf16 needs .rn or .rz");
  } else if (d == Ty::F32 && (s == Ty::F16 || s == Ty::BF16)) {
    if (rnd != RndNone)
      return bad("f16/bf16 to f32 is exact");
  } else {
    return bad("type pair");
  }
  if ((I.flags & FlagSat) && !(tyIsInt(d) || d == Ty::F32))
    return bad(".sat");
  return arity(ops, 2) && dst(ops[0], I.ops[0]) &&
         src(ops[1], s == Ty::F16 || s == Ty::BF16 ? Ty::B16 : s, I.ops[1]);
}

bool Parser::hLdSt(Inst &I, const std::vector<std::string> &parts,
                   std::vector<POperand> &ops) {
  bool isLd = parts[0] == "ld";
  I.space = Space::Generic;
  I.type = Ty::None;
  bool haveSpace = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string &p = parts[i];
    Ty t;
    if (p == "global" || p == "shared" || p == "shared::cta" || p == "param") {
      if (haveSpace)
        return badModifier(p);
      haveSpace = true;
      I.space = p == "global"  ? Space::Global
                : p == "param" ? Space::Param
                               : Space::Shared;
    } else if (p == "v2" || p == "v4") {
      I.vec = p == "v2" ? 2 : 4;
    } else if (parseTy(p, t)) {
      if (I.type != Ty::None)
        return badModifier(p);
      I.type = t;
    } else if (p == "nc" || p == "ca" || p == "cg" || p == "cs" || p == "lu" ||
               p == "cv" || p == "wb" || p == "wt" || p == "weak" ||
               p == "volatile" ||
               ((p.rfind("L1::", 0) == 0 || p.rfind("L2::", 0) == 0) &&
                p != "L2::cache_hint")) {
      if (p == "nc" && (!isLd || I.space != Space::Global))
        return badModifier(p);
    } else {
      return badModifier(p);
    }
  }
  if (I.type == Ty::None || I.type == Ty::Pred || I.type == Ty::F64)
    return fail(line, "unsupported instruction '" + opcode + "' (type)");
  if (I.space == Space::Param && (!isLd || I.vec != 1))
    return fail(line, "unsupported instruction '" + opcode + "'");
  if (!arity(ops, 2))
    return false;
  int addrIdx = isLd ? 1 : 0, valIdx = isLd ? 0 : 1;
  I.op = I.space == Space::Param ? Op::LdParam : isLd ? Op::Ld : Op::St;
  I.nops = 2;
  if (!addrOp(ops[addrIdx], I.space, I.ops[addrIdx], addrIdx))
    return false;
  if (I.space == Space::Param) {
    const Operand &a = I.ops[1];
    if (ops[1].name.empty() || a.offset < 0 ||
        a.offset + tyBits(I.type) / 8 > K->paramBytes)
      return fail(line, "ld.param outside the parameters");
  }
  Ty valTy = I.type;
  bool ok = I.vec > 1 ? vecOp(ops[valIdx], valTy, isLd, I.ops[valIdx], I.vec)
            : isLd    ? dst(ops[0], I.ops[0])
                      : src(ops[1], valTy, I.ops[1]);
  if (!ok)
    return false;
  if (isLd) {
    // Sign-extension width for ld.s8/.s16 comes from the destination.
    int32_t r = I.vec > 1 ? K->regLists[I.ops[0].first] : I.ops[0].reg;
    I.aux[0] = K->regBits[r] ? K->regBits[r] : 64;
  }
  return true;
}

bool Parser::hCp(Inst &I, const std::vector<std::string> &parts,
                 std::vector<POperand> &ops) {
  if (parts.size() < 2 || parts[1] != "async")
    return fail(line, "unsupported instruction '" + opcode + "'");
  if (parts.size() == 3 && parts[2] == "commit_group") {
    I.op = Op::CpAsyncCommit;
    return arity(ops, 0);
  }
  if (parts.size() == 3 && parts[2] == "wait_all") {
    I.op = Op::CpAsyncWaitAll;
    return arity(ops, 0);
  }
  if (parts.size() == 3 && parts[2] == "wait_group") {
    I.op = Op::CpAsyncWait;
    if (!arity(ops, 1) || !immOnly(ops[0], I.aux[0]))
      return false;
    if (I.aux[0] < 0)
      return fail(line, "negative wait_group count");
    return true;
  }
  if (parts.size() >= 3 && parts[2] == "bulk") {
    // cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes
    //   [dst], [src], size, [mbar]   (1-D, global -> this CTA's shared)
    if (parts.size() != 6 ||
        (parts[3] != "shared::cluster" && parts[3] != "shared::cta") ||
        parts[4] != "global" || parts[5] != "mbarrier::complete_tx::bytes")
      return fail(line, "unsupported instruction '" + opcode +
                            "' (the emulator runs cp.async.bulk.shared::"
                            "cluster.global.mbarrier::complete_tx::bytes)");
    I.op = Op::CpAsyncBulk;
    I.nops = 4;
    return arity(ops, 4) && addrOp(ops[0], Space::Shared, I.ops[0], 0) &&
           addrOp(ops[1], Space::Global, I.ops[1], 1) &&
           src(ops[2], Ty::U32, I.ops[2]) &&
           addrOp(ops[3], Space::Shared, I.ops[3], 3);
  }
  if (parts.size() < 5 || (parts[2] != "ca" && parts[2] != "cg") ||
      (parts[3] != "shared" && parts[3] != "shared::cta") ||
      parts[4] != "global")
    return fail(line, "unsupported instruction '" + opcode + "'");
  for (size_t i = 5; i < parts.size(); ++i)
    if (parts[i] != "L2::64B" && parts[i] != "L2::128B" &&
        parts[i] != "L2::256B")
      return badModifier(parts[i]);
  I.op = Op::CpAsync;
  I.nops = 3;
  if (!arity(ops, 3, 4) || !addrOp(ops[0], Space::Shared, I.ops[0], 0) ||
      !addrOp(ops[1], Space::Global, I.ops[1], 1) || !immOnly(ops[2], I.aux[0]))
    return false;
  if (I.aux[0] != 4 && I.aux[0] != 8 && I.aux[0] != 16)
    return fail(line, "cp.async size must be 4, 8 or 16");
  if (parts[2] == "cg" && I.aux[0] != 16)
    return fail(line, "cp.async.cg size must be 16");
  POperand full;
  full.kind = POperand::Int;
  full.ival = I.aux[0];
  return src(ops.size() == 4 ? ops[3] : full, Ty::U32, I.ops[2]);
}

// mbarrier.init / arrive[.expect_tx] / try_wait.parity / test_wait.parity,
// .shared::cta (or .shared) .b64, optionally .release/.acquire .cta.
bool Parser::hAtom(Inst &I, const std::vector<std::string> &parts,
                   std::vector<POperand> &ops) {
  // atom{.sem}{.scope}.global.{add|inc}.u32 d, [a], b: what the split-K
  // tile counters use. Every access is ordered in the emulator, so the
  // memory-order qualifiers only need to be valid.
  bool global = false, haveOp = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string &p = parts[i];
    if (p == "global") {
      global = true;
    } else if ((p == "add" || p == "inc") && !haveOp) {
      haveOp = true;
      I.mod = p == "add" ? AtomAdd : AtomInc;
    } else if (p == "u32") {
      I.type = Ty::U32;
    } else if (p != "relaxed" && p != "acquire" && p != "release" &&
               p != "acq_rel" && p != "gpu" && p != "cta" && p != "sys") {
      return badModifier(p);
    }
  }
  if (!global || !haveOp || I.type != Ty::U32)
    return fail(line, "unsupported instruction '" + opcode +
                          "' (the emulator runs atom.global.add|inc.u32)");
  I.op = Op::Atom;
  I.space = Space::Global;
  I.nops = 3;
  return arity(ops, 3) && dst(ops[0], I.ops[0]) &&
         addrOp(ops[1], Space::Global, I.ops[1], 1) &&
         src(ops[2], Ty::U32, I.ops[2]);
}

bool Parser::hMbarrier(Inst &I, const std::vector<std::string> &parts,
                       std::vector<POperand> &ops) {
  if (parts.size() < 2)
    return fail(line, "unsupported instruction '" + opcode + "'");
  const std::string &what = parts[1];
  bool expectTx = false, parity = false, shared = false, b64 = false;
  for (size_t i = 2; i < parts.size(); ++i) {
    const std::string &p = parts[i];
    if (p == "expect_tx" && what == "arrive")
      expectTx = true;
    else if (p == "parity" && (what == "try_wait" || what == "test_wait"))
      parity = true;
    else if (p == "shared::cta" || p == "shared")
      shared = true;
    else if (p == "b64")
      b64 = true;
    else if (p != "release" && p != "acquire" && p != "cta")
      return badModifier(p);
  }
  if (!shared || !b64)
    return fail(line, "'" + opcode +
                          "': the emulator runs .shared::cta.b64 "
                          "mbarriers");
  if (what == "init") {
    I.op = Op::MbarInit;
    I.nops = 2;
    return arity(ops, 2) && addrOp(ops[0], Space::Shared, I.ops[0], 0) &&
           src(ops[1], Ty::U32, I.ops[1]);
  }
  if (what == "arrive") {
    I.op = Op::MbarArrive;
    I.aux[0] = expectTx;
    I.nops = expectTx ? 3 : 2;
    if (!arity(ops, I.nops) || !dst(ops[0], I.ops[0]) ||
        !addrOp(ops[1], Space::Shared, I.ops[1], 1))
      return false;
    return !expectTx || src(ops[2], Ty::U32, I.ops[2]);
  }
  if ((what == "try_wait" || what == "test_wait") && parity) {
    I.op = Op::MbarTryWait;
    I.nops = 3;
    if (!arity(ops, 3) || !dst(ops[0], I.ops[0]) ||
        !addrOp(ops[1], Space::Shared, I.ops[1], 1) ||
        !src(ops[2], Ty::U32, I.ops[2]))
      return false;
    if (K->regBits[I.ops[0].reg] != 1)
      return fail(line, "'" + opcode + "' writes a predicate");
    return true;
  }
  return fail(line, "unsupported instruction '" + opcode +
                        "' (the emulator runs mbarrier.init, arrive"
                        "[.expect_tx] and try_wait/test_wait.parity)");
}

bool Parser::hBar(Inst &I, const std::vector<std::string> &parts,
                  std::vector<POperand> &ops) {
  // bar.sync / bar.cta.sync / barrier.sync[.aligned] / barrier.cta.sync...
  bool sync = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i] == "sync")
      sync = true;
    else if (parts[i] != "cta" && parts[i] != "aligned")
      return fail(line, "unsupported instruction '" + opcode + "'");
  }
  if (!sync)
    return fail(line, "unsupported instruction '" + opcode + "'");
  I.op = Op::Bar;
  if (!arity(ops, 1, 2))
    return false;
  Operand tmp;
  for (size_t i = 0; i < ops.size(); ++i)
    if (!src(ops[i], Ty::U32, tmp))
      return false;
  return true;
}

bool Parser::hFence(Inst &I, const std::vector<std::string> &,
                    std::vector<POperand> &ops) {
  I.op = Op::Nop; // lockstep execution orders every memory access
  return arity(ops, 0);
}

bool Parser::hBra(Inst &I, const std::vector<std::string> &parts,
                  std::vector<POperand> &ops) {
  if (parts.size() > 2 || (parts.size() == 2 && parts[1] != "uni"))
    return fail(line, "unsupported instruction '" + opcode + "'");
  if (!arity(ops, 1))
    return false;
  if (ops[0].kind != POperand::Name)
    return fail(line, "bra expects a label");
  I.op = Op::Bra;
  I.nops = 1;
  I.ops[0].kind = Operand::Label;
  labelFixups.push_back({K->insts.size(), 0, ops[0].name, line});
  return true;
}

bool Parser::hExit(Inst &I, const std::vector<std::string> &parts,
                   std::vector<POperand> &ops) {
  if (parts.size() > 2 || (parts.size() == 2 && parts[1] != "uni"))
    return fail(line, "unsupported instruction '" + opcode + "'");
  I.op = Op::Exit;
  return arity(ops, 0);
}

bool Parser::hShfl(Inst &I, const std::vector<std::string> &parts,
                   std::vector<POperand> &ops) {
  if (parts.size() != 4 || parts[1] != "sync" || parts[3] != "b32")
    return fail(line, "unsupported instruction '" + opcode + "'");
  static const std::pair<const char *, ShflMode> modes[] = {
      {"idx", ShflIdx}, {"up", ShflUp}, {"down", ShflDown}, {"bfly", ShflBfly}};
  bool found = false;
  for (const auto &m : modes)
    if (parts[2] == m.first) {
      I.mod = m.second;
      found = true;
    }
  if (!found)
    return badModifier(parts[2]);
  I.op = Op::Shfl;
  I.type = Ty::B32;
  I.nops = 5;
  K->usesWarpOps = true;
  return arity(ops, 5) && dst(ops[0], I.ops[0]) &&
         src(ops[1], Ty::B32, I.ops[1]) && src(ops[2], Ty::B32, I.ops[2]) &&
         src(ops[3], Ty::B32, I.ops[3]) && src(ops[4], Ty::B32, I.ops[4]);
}

bool Parser::hLdmatrix(Inst &I, const std::vector<std::string> &parts,
                       std::vector<POperand> &ops) {
  bool sync = false, aligned = false, shape = false, space = false, b16 = false;
  I.vec = 0;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string &p = parts[i];
    if (p == "sync")
      sync = true;
    else if (p == "aligned")
      aligned = true;
    else if (p == "m8n8")
      shape = true;
    else if (p == "x1" || p == "x2" || p == "x4")
      I.vec = static_cast<uint8_t>(p[1] - '0');
    else if (p == "trans")
      I.flags |= FlagTrans;
    else if (p == "shared" || p == "shared::cta")
      space = true;
    else if (p == "b16")
      b16 = true;
    else
      return badModifier(p);
  }
  if (!sync || !aligned || !shape || !b16 || !I.vec)
    return fail(line, "unsupported instruction '" + opcode + "'");
  if (!space)
    return fail(line, "unsupported instruction '" + opcode +
                          "' (only the .shared state space is supported)");
  I.op = Op::Ldmatrix;
  I.space = Space::Shared;
  I.nops = 2;
  K->usesWarpOps = true;
  return arity(ops, 2) && vecOp(ops[0], Ty::B32, true, I.ops[0], I.vec) &&
         addrOp(ops[1], Space::Shared, I.ops[1], 1);
}

bool Parser::hMma(Inst &I, const std::vector<std::string> &parts,
                  std::vector<POperand> &ops) {
  // mma.sp[::ordered_metadata].sync.aligned.m16n8k32.row.col.f32.T.T.f32
  if (parts.size() != 11 ||
      (parts[1] != "sp" && parts[1] != "sp::ordered_metadata") ||
      parts[2] != "sync" || parts[3] != "aligned" || parts[4] != "m16n8k32" ||
      parts[5] != "row" || parts[6] != "col" || parts[7] != "f32" ||
      parts[10] != "f32" || parts[8] != parts[9] ||
      (parts[8] != "f16" && parts[8] != "bf16"))
    return fail(line, "unsupported instruction '" + opcode + "'");
  if (parts[1] != "sp")
    I.flags |= FlagOrdered;
  parseTy(parts[8], I.type2);
  I.type = Ty::F32;
  I.op = Op::MmaSp;
  I.nops = 5;
  K->usesWarpOps = true;
  if (!arity(ops, 6) || !vecOp(ops[0], Ty::F32, true, I.ops[0], 4) ||
      !vecOp(ops[1], Ty::B32, false, I.ops[1], 4) ||
      !vecOp(ops[2], Ty::B32, false, I.ops[2], 4) ||
      !vecOp(ops[3], Ty::F32, false, I.ops[3], 4) ||
      !src(ops[4], Ty::B32, I.ops[4]) || !immOnly(ops[5], I.aux[0]))
    return false;
  if (I.aux[0] != 0 && I.aux[0] != 1)
    return fail(line, "mma.sp sparsity selector must be 0 or 1, got " +
                          std::to_string(I.aux[0]));
  return true;
}

bool Parser::hWgmma(Inst &I, const std::vector<std::string> &parts,
                    std::vector<POperand> &ops) {
  auto tail = [&](size_t from) {
    return parts.size() == from + 2 && parts[from] == "sync" &&
           parts[from + 1] == "aligned";
  };
  if (parts.size() >= 2 && parts[1] == "fence" && tail(2)) {
    I.op = Op::WgmmaFence;
    K->usesWarpgroupOps = true;
    return arity(ops, 0);
  }
  if (parts.size() >= 2 && parts[1] == "commit_group" && tail(2)) {
    I.op = Op::WgmmaCommit;
    K->usesWarpgroupOps = true;
    return arity(ops, 0);
  }
  if (parts.size() >= 2 && parts[1] == "wait_group" && tail(2)) {
    I.op = Op::WgmmaWait;
    K->usesWarpgroupOps = true;
    return arity(ops, 1) && immOnly(ops[0], I.aux[0]);
  }
  // wgmma.mma_async.sp.sync.aligned.m64nNk32.f32.T.T
  if (parts.size() != 9 || parts[1] != "mma_async" || parts[2] != "sp" ||
      parts[3] != "sync" || parts[4] != "aligned" || parts[6] != "f32" ||
      parts[7] != parts[8] || (parts[7] != "f16" && parts[7] != "bf16"))
    return fail(line, "unsupported instruction '" + opcode + "'");
  const std::string &shape = parts[5];
  int nDim = 0;
  if (shape.size() < 8 || shape.compare(0, 4, "m64n") != 0 ||
      shape.compare(shape.size() - 3, 3, "k32") != 0)
    return fail(line, "unsupported instruction '" + opcode + "' (shape)");
  for (size_t i = 4; i + 3 < shape.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(shape[i])))
      return fail(line, "unsupported instruction '" + opcode + "' (shape)");
    nDim = nDim * 10 + (shape[i] - '0');
    if (nDim > 256)
      break;
  }
  if (nDim < 8 || nDim > 256 || nDim % 8)
    return fail(line, "unsupported instruction '" + opcode + "' (shape)");
  parseTy(parts[7], I.type2);
  I.type = Ty::F32;
  I.op = Op::WgmmaSp;
  I.vec = static_cast<uint8_t>(nDim / 8);
  I.nops = 5;
  K->usesWarpgroupOps = true;
  // A in registers: d, {a}, b-desc, meta, sel, scale-d, scale-a, scale-b,
  // trans-b. A from shared memory: d, a-desc, b-desc, meta, sel, scale-d,
  // scale-a, scale-b, trans-a, trans-b.
  bool aDesc = !ops.empty() && ops.size() > 1 && ops[1].kind != POperand::Vec;
  if (!arity(ops, aDesc ? 10 : 9))
    return false;
  if (aDesc) {
    I.flags |= FlagADesc;
    int64_t transA = 0;
    if (!src(ops[1], Ty::B64, I.ops[1]) || !immOnly(ops[8], transA))
      return false;
    if (transA != 0)
      return fail(line, "wgmma imm-trans-a must be 0 (only K-major A in "
                        "shared memory is supported)");
  }
  if (!vecOp(ops[0], Ty::F32, true, I.ops[0], nDim / 2) ||
      (!aDesc && !vecOp(ops[1], Ty::B32, false, I.ops[1], 4)) ||
      !src(ops[2], Ty::B64, I.ops[2]) || !src(ops[3], Ty::B32, I.ops[3]) ||
      !immOnly(ops[4], I.aux[0]) || !predOrImm(ops[5], I.ops[4]) ||
      !immOnly(ops[6], I.aux[1]) || !immOnly(ops[7], I.aux[2]) ||
      !immOnly(ops[aDesc ? 9 : 8], I.aux[3]))
    return false;
  if (I.aux[0] != 0 && I.aux[0] != 1)
    return fail(line, "wgmma sparsity selector must be 0 or 1, got " +
                          std::to_string(I.aux[0]));
  if ((I.aux[1] != 1 && I.aux[1] != -1) || (I.aux[2] != 1 && I.aux[2] != -1))
    return fail(line, "wgmma imm-scale-a/b must be 1 or -1");
  if (I.aux[3] != 0 && I.aux[3] != 1)
    return fail(line, "wgmma imm-trans-b must be 0 or 1");
  return true;
}

} // namespace sparsec::ptx::detail
