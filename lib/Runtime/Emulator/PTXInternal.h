//===- PTXInternal.h - the PTX emulator's private declarations --*- C++ -*-===//
//
// Shared by the parser (PTXParser.cpp, PTXParseInst.cpp: text -> Kernel) and
// the executor (PTXEmulator.cpp: memory, launch, CTAs, memory instructions;
// PTXExecScalar.cpp: per-thread instructions; PTXExecCollective.cpp: shfl,
// ldmatrix, mma.sp, wgmma).
//
// A parsed kernel is a flat list of Inst. Every value operand is a register
// row: immediates, shared-symbol addresses and special registers (%tid.x...)
// become registers that are filled in before the CTA starts, so the hot loop
// never looks at operand kinds. Registers are stored per CTA as
// R[row * threads + thread], 64 bits each (narrower values zero-extended,
// predicates 0 or 1).
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_RUNTIME_PTXINTERNAL_H
#define SPARSEC_LIB_RUNTIME_PTXINTERNAL_H

#include "sparsec/Runtime/PTXEmulator.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sparsec::ptx::detail {

// clang-format off
enum class Ty : uint8_t {
  None, B8, U8, S8, B16, U16, S16, F16, BF16, F16x2, BF16x2,
  B32, U32, S32, F32, B64, U64, S64, F64, Pred,
};
// clang-format on

unsigned tyBits(Ty ty); // Pred: 1
bool tyIsSigned(Ty ty); // S8..S64
bool tyIsFloat(Ty ty);  // F16, BF16, F32, F64 (not the x2 packs)
bool tyIsInt(Ty ty);    // B/U/S 8..64
const char *tyName(Ty ty);
bool parseTy(const std::string &s, Ty &out);

enum class Space : uint8_t { Generic, Global, Shared, Param };

// clang-format off
enum class Op : uint8_t {
  Nop, Mov, MovPack, MovUnpack,
  Add, Sub, MulLo, MulHi, MulWide, MadLo, MadHi, MadWide, Div, Rem, Min, Max,
  Neg, Abs, Shl, Shr, And, Or, Xor, Not,
  FAdd, FSub, FMul, Fma, FDiv, FMin, FMax, FNeg, FAbs,
  Rcp, Sqrt, Rsqrt, Ex2, Lg2, Tanh, Sin, Cos,
  Setp, Selp, Cvt, CvtPack,
  LdParam, Ld, St, Atom,
  CpAsync, CpAsyncCommit, CpAsyncWait, CpAsyncWaitAll, CpAsyncBulk,
  MbarInit, MbarArrive, MbarTryWait,
  Bar, Bra, Exit,
  Shfl, Ldmatrix, MmaSp, WgmmaFence, WgmmaCommit, WgmmaWait, WgmmaSp,
};
// clang-format on

// Inst::flags
enum : uint8_t {
  FlagFtz = 1,
  FlagSat = 2,
  FlagRelu = 4,
  FlagTrans = 8,    // ldmatrix .trans
  FlagOrdered = 16, // mma.sp::ordered_metadata
  FlagADesc = 32    // wgmma: A from a shared-memory descriptor
};

// Inst::mod for float arithmetic and cvt: rounding.
enum Rounding : uint8_t {
  RndNone,
  RndRN,
  RndRZ,
  RndRM,
  RndRP,
  RndRNI,
  RndRZI,
  RndRMI,
  RndRPI
};
// Inst::mod for setp: comparison.
enum Cmp : uint8_t {
  CmpEq,
  CmpNe,
  CmpLt,
  CmpLe,
  CmpGt,
  CmpGe,
  CmpEqu,
  CmpNeu,
  CmpLtu,
  CmpLeu,
  CmpGtu,
  CmpGeu,
  CmpNum,
  CmpNan
};
// Inst::aux[0] for setp: combining boolean op with a fourth predicate.
enum BoolOp : uint8_t { BoolNone, BoolAnd, BoolOr, BoolXor };
// Inst::mod for atom.
enum AtomOp : uint8_t { AtomAdd, AtomInc };
// Inst::mod for shfl.
enum ShflMode : uint8_t { ShflIdx, ShflUp, ShflDown, ShflBfly };

struct Operand {
  enum Kind : uint8_t { None, Reg, Vec, Addr, Label };
  Kind kind = None;
  int32_t reg = -1;   // Reg: row; Addr: base row (-1: none)
  int32_t first = 0;  // Vec: index into Kernel::regLists
  int32_t count = 0;  // Vec: number of registers
  int64_t offset = 0; // Addr: byte offset; Label: target instruction index
};

struct Inst {
  Op op = Op::Nop;
  Ty type = Ty::None;  // main / destination type
  Ty type2 = Ty::None; // cvt source type; mma input type
  Space space = Space::Generic;
  uint8_t mod = 0;
  uint8_t flags = 0;
  uint8_t vec = 1; // ld/st vector width; ldmatrix matrix count
  uint8_t nops = 0;
  bool guardNeg = false;
  int32_t guard = -1; // predicate row or -1
  int32_t line = 0;
  int64_t aux[4] = {0, 0, 0, 0}; // op-specific immediates
  Operand ops[10];
};

// Reserved register rows, filled per thread / per CTA before execution.
enum SpecialReg : int32_t {
  RegTidX,
  RegTidY,
  RegTidZ,
  RegNtidX,
  RegNtidY,
  RegNtidZ,
  RegCtaidX,
  RegCtaidY,
  RegCtaidZ,
  RegNctaidX,
  RegNctaidY,
  RegNctaidZ,
  RegLaneid,
  RegWarpid,
  RegNwarpid,
  RegDynSmem,
  RegSink, // "_" destinations
  NumSpecialRegs
};

struct Param {
  std::string name;
  uint32_t size = 0, offset = 0;
};

struct Kernel {
  std::string name;
  std::vector<Param> params;
  uint32_t paramBytes = 0;
  std::vector<Inst> insts;
  std::vector<int32_t> regLists; // registers of Vec operands
  int32_t numRegs = NumSpecialRegs;
  // Registers holding constants (immediates, shared-symbol addresses).
  std::vector<std::pair<int32_t, uint64_t>> constants;
  std::vector<uint8_t> regBits; // declared width of each row (0: special)
  uint32_t staticShared = 0;    // bytes of static .shared arrays
  uint32_t dynamicOffset = 0;   // where .extern .shared arrays start
  bool hasDynamicShared = false;
  uint32_t reqntid[3] = {0, 0, 0}; // 0: not given
  uint32_t maxntid[3] = {0, 0, 0};
  bool usesWarpOps = false;      // shfl, ldmatrix, mma.sp
  bool usesWarpgroupOps = false; // wgmma
};

// f16 / bf16 conversions (bit-exact; NaN -> canonical 0x7fff).
uint16_t floatToHalf(float f, Rounding rnd);
uint16_t floatToBf16(float f, Rounding rnd);
float halfToFloatSlow(uint16_t h); // any input

/// wgmma B operand element address, as measured on an H200
/// (PTXExecCollective.cpp).
uint64_t wgmmaBElementAddress(uint64_t start, uint64_t lbo, uint64_t sbo,
                              bool transB, unsigned k, unsigned n);

inline float bitsToFloat(uint64_t v) {
  uint32_t u = static_cast<uint32_t>(v);
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint64_t floatToBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float halfToFloat(uint16_t h) {
  uint32_t magnitude = h & 0x7fffu;
  if (magnitude >= 0x0400 && magnitude < 0x7c00) // normal: rebias
    return bitsToFloat((uint32_t(h & 0x8000u) << 16) |
                       ((magnitude << 13) + (112u << 23)));
  return halfToFloatSlow(h);
}
inline float bf16ToFloat(uint16_t h) { return bitsToFloat(uint32_t(h) << 16); }

} // namespace sparsec::ptx::detail

namespace sparsec::ptx {

class Module {
public:
  std::vector<detail::Kernel> kernels;
};

struct Memory::Impl {
  static constexpr uint64_t kBase = 0x10000000000ull;
  static constexpr unsigned kShift = 36; // allocations are 2^36 apart
  struct Allocation {
    std::unique_ptr<uint8_t[]> data;
    uint64_t size = 0;
    bool live = false;
  };
  std::vector<Allocation> allocations;

  /// Host pointer for [address, address + bytes) or null with `why` set.
  uint8_t *find(uint64_t address, uint64_t bytes, std::string &why);
};

} // namespace sparsec::ptx

namespace sparsec::ptx::detail {

/// Runs the CTAs of one launch, one after the other; a CTA's threads run in
/// lockstep. Defined in PTXEmulator.cpp, PTXExecScalar.cpp (step) and
/// PTXExecCollective.cpp.
class Exec {
public:
  Exec(const Kernel &kernel, Memory::Impl &memory, Dim3 grid, Dim3 block,
       uint32_t sharedBytes, uint32_t dynamicSharedBytes,
       std::vector<uint8_t> params, LaunchStats &stats);
  /// False with `error` set on failure.
  bool runCta(uint32_t x, uint32_t y, uint32_t z);

  std::string error;

  // --- used by the instruction implementations ---
  uint64_t *row(int32_t r) { return &regs[static_cast<size_t>(r) * n]; }
  /// Thread t's address of an [address] operand (base register + offset).
  uint64_t address(const Operand &a, uint32_t t) {
    return (a.reg >= 0 ? row(a.reg)[t] : 0) + static_cast<uint64_t>(a.offset);
  }
  const int32_t *regList(const Operand &o) const {
    return &kernel.regLists[o.first];
  }
  bool active(const Inst &I, uint32_t t) {
    return I.guard < 0 || (row(I.guard)[t] != 0) != I.guardNeg;
  }
  std::string threadName(uint32_t t) const;
  /// Sets `error` ("kernel K, cta (..), thread (..), line N: cause").
  bool fail(uint32_t t, const Inst &I, const std::string &cause);
  /// How a shared access takes part in race tracking. Reads are recorded so
  /// that a later write by another thread in the same epoch is reported;
  /// ReadUnrecorded (wgmma's B operand, whose reads end at wgmma.wait_group)
  /// only checks that no other thread wrote the bytes in this epoch.
  enum Access { Read, Write, ReadUnrecorded };
  /// Shared-memory access by thread t of `bytes` at `addr`: bounds, alignment
  /// (`align`), race tracking. Returns the host pointer or null (error set).
  uint8_t *sharedAccess(uint32_t t, const Inst &I, uint64_t addr,
                        uint32_t bytes, uint32_t align, Access access);
  uint8_t *globalAccess(uint32_t t, const Inst &I, uint64_t addr,
                        uint32_t bytes, bool write);
  /// Collective guard: for warps (`width` 32) or warpgroups (128), 1 when the
  /// guard holds for all threads of the group, 0 for none, -1 (error) mixed.
  int groupGuard(const Inst &I, uint32_t first, uint32_t width);

  bool execShfl(const Inst &I);
  bool execLdmatrix(const Inst &I);
  bool execMmaSp(const Inst &I);
  bool execWgmmaSp(const Inst &I);

  const Kernel &kernel;
  Memory::Impl &memory;
  Dim3 grid, block, cta;
  uint32_t n;      // threads per CTA
  uint32_t nwarps; // ceil(n / 32)
  std::vector<uint64_t> regs;
  std::vector<uint8_t> shared;
  uint32_t dynamicSharedBytes;
  std::vector<uint8_t> params;
  LaunchStats &stats;

  // Race tracking, per shared byte. An epoch is the time between barriers.
  struct ByteState {
    uint32_t writeEpoch = 0, writer = 0;
    uint32_t readEpoch = 0, reader = 0; // reader | kManyReaders
  };
  static constexpr uint32_t kManyReaders = 0x80000000u;
  std::vector<ByteState> byteState;
  uint32_t epoch = 0;

  // cp.async: per thread, copies in issue order with their group number.
  struct PendingCopy {
    uint64_t src;
    uint32_t dst;
    uint32_t group;
    uint8_t size, srcSize;
    int32_t line;
  };
  struct AsyncQueue {
    std::vector<PendingCopy> copies;
    size_t head = 0;
    uint32_t openGroup = 0; // copies issued now join this group
  };
  std::vector<AsyncQueue> async;
  bool completeCopies(uint32_t t, const Inst &I, uint32_t beforeGroup);

  // mbarrier objects, by shared address (per CTA: execution is lockstep).
  // A phase completes when its arrivals are all in and its transaction
  // bytes (expect_tx minus delivered) are zero.
  struct Mbarrier {
    uint32_t expected = 0, pending = 0; // arrivals per phase / still due
    int64_t txPending = 0;
    uint32_t phase = 0; // phases completed
  };
  std::vector<std::pair<uint32_t, Mbarrier>> mbarriers;
  Mbarrier *findMbarrier(uint32_t t, const Inst &I, uint64_t addr);
  // cp.async.bulk copies in flight. They land when a thread waits on their
  // mbarrier; touching their destination before that is an error.
  struct BulkCopy {
    uint64_t src;
    uint32_t dst, bytes, mbar;
    int32_t line;
  };
  std::vector<BulkCopy> bulkCopies;
  bool deliverBulk(uint32_t t, const Inst &I, uint32_t mbar);
  const BulkCopy *pendingBulk(uint64_t addr, uint32_t bytes) const;

  // wgmma.mma_async register hazards (tracked per CTA: execution is
  // lockstep). Until a wgmma.wait_group retires its group, an instruction
  // may neither touch the accumulators nor overwrite the A or metadata
  // registers of a wgmma, which the device reads asynchronously.
  struct WgmmaUse {
    int64_t group = -1; // -1: not in use
    bool accumulator = false;
  };
  std::vector<WgmmaUse> wgmmaUse; // per register row
  int64_t wgmmaOpenGroup = 0;
  std::vector<int64_t> wgmmaCommitted; // oldest first
  bool checkWgmmaHazards(const Inst &I);

private:
  bool step(const Inst &I, size_t &pc, bool &done);
  bool execLd(const Inst &I);
  bool execSt(const Inst &I);
  bool execAtom(const Inst &I);
  bool execCpAsync(const Inst &I);
  bool execCpAsyncBulk(const Inst &I);
  bool execMbarrier(const Inst &I);
  bool execCvt(const Inst &I);
  bool execSetp(const Inst &I);
};

// Runs f(t) for every thread t whose guard predicate holds.
template <class F> inline void forActive(Exec &E, const Inst &I, F f) {
  uint32_t n = E.n;
  if (I.guard < 0) {
    for (uint32_t t = 0; t < n; ++t)
      f(t);
    return;
  }
  const uint64_t *g = E.row(I.guard);
  uint64_t want = I.guardNeg ? 0 : 1;
  for (uint32_t t = 0; t < n; ++t)
    if (g[t] == want)
      f(t);
}

template <class F> inline void map1(Exec &E, const Inst &I, F f) {
  uint64_t *d = E.row(I.ops[0].reg);
  const uint64_t *a = E.row(I.ops[1].reg);
  forActive(E, I, [&](uint32_t t) { d[t] = f(a[t]); });
}
template <class F> inline void map2(Exec &E, const Inst &I, F f) {
  uint64_t *d = E.row(I.ops[0].reg);
  const uint64_t *a = E.row(I.ops[1].reg), *b = E.row(I.ops[2].reg);
  forActive(E, I, [&](uint32_t t) { d[t] = f(a[t], b[t]); });
}
template <class F> inline void map3(Exec &E, const Inst &I, F f) {
  uint64_t *d = E.row(I.ops[0].reg);
  const uint64_t *a = E.row(I.ops[1].reg), *b = E.row(I.ops[2].reg),
                 *c = E.row(I.ops[3].reg);
  forActive(E, I, [&](uint32_t t) { d[t] = f(a[t], b[t], c[t]); });
}

inline std::string hexString(uint64_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[v & 15]);
    v >>= 4;
  } while (v);
  return "0x" + s;
}

} // namespace sparsec::ptx::detail

#endif
