//===- KernelGen.cpp - PTX for sparse linear layers -----------------------===//
//
// One CTA computes a 64-row x tileN-token block of Y = W X. Its K loop walks
// the compacted width 32 logical columns at a time through a `stages`-deep
// cp.async ring in shared memory:
//   A  64 x 16 packed values per step (row pitch padded to 48 B: ldmatrix
//      reads 8 rows without bank conflicts);
//   B  32 activation rows x tileN tokens, gathered through col_idx for HiNM.
//   META  the step's META32 records (256 B per 64 rows), read back into
//         registers after the stage's barrier;
//   IDX   HiNM: the 32 gather indices of the step `distance` ahead, which
//         the fill issued while this stage is consumed needs.
// So every global read of the K loop is as far ahead as the ring is deep.
//   sm_80:  4 warps as 2 (rows) x 2 (tokens); per step each warp issues
//           2 x tileN/16 mma.sp m16n8k32 with A and B from ldmatrix.
//   sm_90a: one warpgroup; each warp owns 16 rows; one wgmma.mma_async.sp
//           m64n{tileN}k32 per step, A from registers, B from shared memory
//           through a descriptor (MN-major, no swizzle).
// Epilogue: + bias, activation, rounding to f16/bf16, bounds-checked stores.
//
//===----------------------------------------------------------------------===//
#include "sparsec/KernelGen/KernelGen.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <sstream>

namespace sparsec::cuda {

const char *archName(Arch arch) {
  return arch == Arch::SM80 ? "sm_80" : "sm_90a";
}
const char *valueTypeName(ValueType type) {
  return type == ValueType::F16 ? "f16" : "bf16";
}
const char *activationName(Activation act) {
  switch (act) {
  case Activation::None:
    return "none";
  case Activation::Relu:
    return "relu";
  case Activation::Gelu:
    return "gelu";
  }
  return "none";
}
bool parseArch(const std::string &s, Arch &out) {
  if (s == "sm_80")
    out = Arch::SM80;
  else if (s == "sm_90a")
    out = Arch::SM90a;
  else
    return false;
  return true;
}
bool parseValueType(const std::string &s, ValueType &out) {
  if (s == "f16")
    out = ValueType::F16;
  else if (s == "bf16")
    out = ValueType::BF16;
  else
    return false;
  return true;
}
const char *wgmmaModeName(WgmmaMode mode) {
  switch (mode) {
  case WgmmaMode::Auto:
    return "auto";
  case WgmmaMode::Async:
    return "async";
  case WgmmaMode::Sync:
    return "sync";
  case WgmmaMode::Off:
    return "off";
  }
  return "auto";
}
bool parseWgmmaMode(const std::string &s, WgmmaMode &out) {
  for (WgmmaMode mode :
       {WgmmaMode::Auto, WgmmaMode::Async, WgmmaMode::Sync, WgmmaMode::Off})
    if (s == wgmmaModeName(mode)) {
      out = mode;
      return true;
    }
  return false;
}

// Auto's rule, from the H200 runs (bench/results/cuda_bench.md, same data,
// same GPU): the mma.sp kernel with 64x128 tiles beat every wgmma kernel on
// all HiNM layers (1.2-2x), and on 2:4 layers below 2048 rows and at T <=
// 256; wgmma's 256-row tiles won on 2:4 layers of >= 2048 rows at large T
// (1.1-1.3x). The small-T entry covers the rest.
bool usesWgmma(const LinearKernelConfig &c) {
  if (c.arch != Arch::SM90a)
    return false;
  switch (c.wgmma) {
  case WgmmaMode::Off:
    return false;
  case WgmmaMode::Async:
  case WgmmaMode::Sync:
    return true;
  case WgmmaMode::Auto:
    // Tiles only wgmma has select it.
    if (c.tileM > 128 || c.tileN == 256)
      return true;
    return !c.hinm && c.rows >= 2048;
  }
  return false;
}

bool parseActivation(const std::string &s, Activation &out) {
  if (s == "none")
    out = Activation::None;
  else if (s == "relu")
    out = Activation::Relu;
  else if (s == "gelu")
    out = Activation::Gelu;
  else
    return false;
  return true;
}

namespace {

constexpr int64_t kTileM = 64, kStepK = 32; // kTileM: rows per warpgroup
constexpr int64_t kAPitch = 48;             // bytes per A row in smem

// Asynchronous sm_90a variant: A in the K-major canonical layout (core
// matrix 8 rows x 16 B; the two 8-value k halves LBO apart, 8-row groups SBO
// apart), read by wgmma through a descriptor.
constexpr int64_t kACanonLBO = 128, kACanonSBO = 256;
constexpr int64_t kACanonBytesPer64 = kTileM * 32; // per warpgroup
// B in the MN-major canonical layout: a core matrix is 8 tokens x 8 k (128 B);
// k-blocks are 128 B apart and token blocks 512 B apart. Without swizzling the
// descriptor's LBO is the k-direction stride and SBO the token-direction one
// (both for K-major and MN-major: verified on an H200 by test/gpu/mma_oracle).
constexpr int64_t kBKBlockStride = 128, kBTokenBlockStride = 512;
// Kernels declare their ring as dynamic shared memory, so they may use up to
// the sm_80/sm_90 opt-in limit per block (the runtime opts in above 48 KiB).
constexpr int64_t kMaxShared = 227 * 1024;
// The synchronous paths take a third stage within this budget (deeper rings
// did not help on the H200: bench/results/cuda_sweep.md).
constexpr int64_t kDefaultSharedBudget = 48 * 1024;
// The small-T entries' ring: up to 6 stages within 64 KiB.
constexpr int64_t kSmallStages = 6, kSmallSharedBudget = 64 * 1024;

int64_t roundUp(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// Default tiles, from the H200 runs (bench/results/cuda_sweep.md and
// cuda_bench.md): the kernels are bound by L2 tag lookups, so larger CTA
// tiles win while the grid still fills the 132 SMs. Compressed A costs 32 B
// per row and k-step, B 64 B per token, so rows are the cheaper dimension to
// grow; 128 x 256 tiles left too few CTAs on the mid-size shapes.

/// Rows per CTA (see LinearKernelConfig::tileM).
int64_t tileMFor(const LinearKernelConfig &c) {
  if (c.tileM)
    return c.tileM;
  if (!usesWgmma(c))
    return kTileM;
  if (!c.hinm && c.rows >= 2048 && c.tileN <= 128)
    return 256;
  if ((!c.hinm || c.v % 128 == 0) && c.rows >= 128)
    return 128;
  return kTileM;
}

int64_t defaultTileN(const LinearKernelConfig &c) {
  if (c.tileN)
    return c.tileN;
  return 128;
}

int64_t bPitch(const LinearKernelConfig &c) { return defaultTileN(c) * 2 + 16; }

/// 128 threads per 64 rows: 4 warps (sm_80: 2 x 2 over rows and tokens)
/// or one warpgroup.
int64_t threadsFor(const LinearKernelConfig &c) { return 2 * tileMFor(c); }

/// Bytes of a stage's B tile (activation rows).
int64_t bStageBytes(const LinearKernelConfig &c) {
  return usesWgmma(c) ? defaultTileN(c) / 8 * kBTokenBlockStride
                      : kStepK * bPitch(c);
}

/// The metadata and gather indices ride the ring with A and B, so their
/// latency is hidden as deep as the data's: per stage the two META32 records
/// of each 64-row block (256 B), and for HiNM the 32 col_idx entries of the
/// step `prefetchDistance` ahead, which the thread filling that step needs.
constexpr int64_t kMetaBytesPer64 = 256, kIdxStageBytes = kStepK * 4;
int64_t metaStageBytes(const LinearKernelConfig &c) {
  return tileMFor(c) / kTileM * kMetaBytesPer64;
}
int64_t idxStageBytes(const LinearKernelConfig &c) {
  return c.hinm ? kIdxStageBytes : 0;
}

/// A's bytes per stage: packed in the K-major canonical layout (32 B per
/// row) for the asynchronous variant, else with the ldmatrix row pitch.
int64_t aStageBytesIf(const LinearKernelConfig &c, bool async) {
  return tileMFor(c) * (async ? kACanonBytesPer64 / kTileM : kAPitch);
}

/// A stage: [A | B | META32 records | HiNM gather indices], 128-aligned.
int64_t stageBytesIf(const LinearKernelConfig &c, bool async) {
  return roundUp(aStageBytesIf(c, async) + bStageBytes(c) + metaStageBytes(c) +
                     idxStageBytes(c),
                 128);
}

/// The asynchronous variant needs at least 3 stages.
bool asyncWgmma(const LinearKernelConfig &c) {
  if (!usesWgmma(c) || c.wgmma == WgmmaMode::Sync || (c.stages && c.stages < 3))
    return false;
  return (c.stages ? c.stages : 3) * stageBytesIf(c, true) <= kMaxShared;
}

int64_t aStageBytes(const LinearKernelConfig &c) {
  return aStageBytesIf(c, asyncWgmma(c));
}
int64_t metaStageOffset(const LinearKernelConfig &c) {
  return aStageBytes(c) + bStageBytes(c);
}
int64_t idxStageOffset(const LinearKernelConfig &c) {
  return metaStageOffset(c) + metaStageBytes(c);
}
int64_t stageBytes(const LinearKernelConfig &c) {
  return stageBytesIf(c, asyncWgmma(c));
}

int64_t stagesFor(const LinearKernelConfig &c) {
  if (c.stages)
    return c.stages;
  // The asynchronous variant keeps one wgmma in flight, so it prefetches
  // stages - 2 steps ahead: 4 stages where they fit.
  if (asyncWgmma(c))
    return 4 * stageBytes(c) <= kMaxShared ? 4 : 3;
  // 4 stages cost nothing at large T on the H200 (cuda_sweep.md run 1) and
  // hide one more step of memory latency where few CTAs run per SM.
  for (int64_t stages : {4, 3})
    if (stages * stageBytes(c) <= kDefaultSharedBudget)
      return stages;
  return 2;
}

/// How many steps ahead the cp.async ring is filled.
int64_t prefetchDistance(const LinearKernelConfig &c) {
  return stagesFor(c) - (asyncWgmma(c) ? 2 : 1);
}

int64_t keptWidthFor(const LinearKernelConfig &c) {
  return c.hinm ? c.keptWidth : roundUp(c.cols, kStepK);
}

std::string floatImm(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "0f%08X", bits);
  return buffer;
}

/// A small PTX text builder: typed virtual registers and instruction lines.
class Builder {
public:
  std::string r() { return "%r" + std::to_string(numB32++); }
  std::string rd() { return "%rd" + std::to_string(numB64++); }
  std::string p() { return "%p" + std::to_string(numPred++); }
  std::string f() { return "%f" + std::to_string(numF32++); }
  std::string h() { return "%h" + std::to_string(numB16++); }

  template <typename... Args> void ins(Args &&...parts) {
    body << "\t";
    (body << ... << parts);
    body << ";\n";
  }
  void label(const std::string &name) { body << name << ":\n"; }
  void comment(const std::string &text) { body << "\t// " << text << "\n"; }

  std::string declarations() const {
    std::ostringstream os;
    auto decl = [&](const char *type, const char *prefix, int count) {
      if (count)
        os << "\t.reg ." << type << " %" << prefix << "<" << count << ">;\n";
    };
    decl("b32", "r", numB32);
    decl("b64", "rd", numB64);
    decl("pred", "p", numPred);
    decl("f32", "f", numF32);
    decl("b16", "h", numB16);
    return os.str();
  }
  std::string text() const { return body.str(); }

private:
  std::ostringstream body;
  int numB32 = 0, numB64 = 0, numPred = 0, numF32 = 0, numB16 = 0;
};

std::string emitGelu(Builder &b, const std::string &x) {
  // 0.5 x (1 + erf(x / sqrt 2)); erf by Abramowitz-Stegun 7.1.26
  // (|error| < 1.5e-7), which is far below f16/bf16 output rounding.
  std::string z = b.f(), az = b.f(), t = b.f(), poly = b.f(), ex = b.f();
  b.ins("mul.f32 ", z, ", ", x, ", ", floatImm(0.70710678f));
  b.ins("abs.f32 ", az, ", ", z);
  b.ins("fma.rn.f32 ", t, ", ", az, ", ", floatImm(0.3275911f), ", ",
        floatImm(1.0f));
  b.ins("rcp.rn.f32 ", t, ", ", t);
  b.ins("fma.rn.f32 ", poly, ", ", t, ", ", floatImm(1.061405429f), ", ",
        floatImm(-1.453152027f));
  b.ins("fma.rn.f32 ", poly, ", ", poly, ", ", t, ", ", floatImm(1.421413741f));
  b.ins("fma.rn.f32 ", poly, ", ", poly, ", ", t, ", ",
        floatImm(-0.284496736f));
  b.ins("fma.rn.f32 ", poly, ", ", poly, ", ", t, ", ", floatImm(0.254829592f));
  b.ins("mul.f32 ", poly, ", ", poly, ", ", t);
  // exp(-z^2) = 2^(-z^2 log2 e)
  b.ins("mul.f32 ", ex, ", ", az, ", ", az);
  b.ins("mul.f32 ", ex, ", ", ex, ", ", floatImm(-1.4426950409f));
  b.ins("ex2.approx.f32 ", ex, ", ", ex);
  std::string erfAbs = b.f(), erfNeg = b.f(), erf = b.f(), negative = b.p();
  b.ins("neg.f32 ", poly, ", ", poly);
  b.ins("fma.rn.f32 ", erfAbs, ", ", poly, ", ", ex, ", ", floatImm(1.0f));
  b.ins("neg.f32 ", erfNeg, ", ", erfAbs);
  b.ins("setp.lt.f32 ", negative, ", ", z, ", ", floatImm(0.0f));
  b.ins("selp.f32 ", erf, ", ", erfNeg, ", ", erfAbs, ", ", negative);
  std::string out = b.f(), half = b.f();
  b.ins("add.f32 ", erf, ", ", erf, ", ", floatImm(1.0f));
  b.ins("mul.f32 ", half, ", ", x, ", ", floatImm(0.5f));
  b.ins("mul.f32 ", out, ", ", half, ", ", erf);
  return out;
}

std::string emitActivation(Builder &b, Activation act,
                           const std::string &value) {
  switch (act) {
  case Activation::None:
    return value;
  case Activation::Relu: {
    std::string out = b.f();
    b.ins("max.f32 ", out, ", ", value, ", ", floatImm(0.0f));
    return out;
  }
  case Activation::Gelu:
    return emitGelu(b, value);
  }
  return value;
}

/// Emits the kernel body for `c`.
class KernelEmitter {
public:
  explicit KernelEmitter(const LinearKernelConfig &c)
      : c(c), sm80(!usesWgmma(c)), tileN(defaultTileN(c)), tileM(tileMFor(c)),
        threads(threadsFor(c)), aBytes(aStageBytes(c)), stages(stagesFor(c)),
        distance(prefetchDistance(c)), keptWidth(keptWidthFor(c)),
        kSteps(keptWidth / kStepK), stage(stageBytes(c)),
        mmaType(c.valueType == ValueType::F16 ? "f16" : "bf16") {}

  std::string emit();

private:
  void loadParams();
  void setupProducer();
  std::vector<std::string> loadGatherRows(const std::string &kStep);
  void issueStageLoad(const std::string &kStep, const std::string &slot,
                      const std::vector<std::string> &gatherRows);
  void computeStep(const std::string &slotBase, const std::string &e);
  void epilogue(bool partial);
  void splitKFixup(const std::string &splits);
  std::string loadBias(const std::string &row, const std::string &inRange);

  const LinearKernelConfig &c;
  bool sm80; // the mma.sp path (sm_80 and later), else wgmma
  int64_t tileN, tileM, threads, aBytes, stages, distance, keptWidth, kSteps,
      stage;
  std::string mmaType;
  Builder b;

  // Parameters and thread coordinates.
  std::string values, meta, colIdx, bias, x, y, tokens, ldx, ldy;
  // Split-K: f32 workspace, per-tile arrival counters and %ctaid.z.
  std::string partialSums, tileCounters, splitIndex;
  std::string tid, lane, warp, rowBase, tokenBase, ctaX, blockRow, smem;
  // Producer state.
  std::string aSrc, aDst;
  struct BChunk {
    std::string kRow, validBytes, tokenOffset, dst;
  };
  std::vector<BChunk> bChunks;
  std::string tileColBase; // HiNM: &colIdx[tile * keptWidth] (bytes)
  // Staged metadata / gather indices: this thread's 16-byte chunk (source
  // at step 0, stage offset), copied when its predicate is set.
  std::string metaSrc, metaDst, metaLoader, idxSrc, idxDst, idxLoader;
  // Consumer state.
  std::string aFragOffset, bFragOffset, metaLane, metaHalf;
  std::string metaRead;     // stage offset of this lane's META32 word
  std::string aGroupOffset; // async sm_90a: this warpgroup's A sub-tile
  std::vector<std::string> acc;
};

void KernelEmitter::loadParams() {
  auto param64 = [&](const char *name) {
    std::string raw = b.rd(), global = b.rd();
    b.ins("ld.param.u64 ", raw, ", [", name, "]");
    b.ins("cvta.to.global.u64 ", global, ", ", raw);
    return global;
  };
  values = param64("p_values");
  meta = param64("p_meta");
  colIdx = param64("p_col_idx");
  bias = param64("p_bias");
  x = param64("p_x");
  y = param64("p_y");
  partialSums = param64("p_partial");
  tileCounters = param64("p_tile_counters");
  auto param32 = [&](const char *name) {
    std::string reg = b.r();
    b.ins("ld.param.u32 ", reg, ", [", name, "]");
    return reg;
  };
  tokens = param32("p_tokens");
  ldx = param32("p_ldx");
  ldy = param32("p_ldy");
  splitIndex = b.r();
  b.ins("mov.u32 ", splitIndex, ", %ctaid.z");

  tid = b.r();
  lane = b.r();
  warp = b.r();
  b.ins("mov.u32 ", tid, ", %tid.x");
  b.ins("and.b32 ", lane, ", ", tid, ", 31");
  b.ins("shr.u32 ", warp, ", ", tid, ", 5");
  ctaX = b.r();
  blockRow = b.r();
  b.ins("mov.u32 ", ctaX, ", %ctaid.x");
  b.ins("mov.u32 ", blockRow, ", %ctaid.y");
  tokenBase = b.r();
  rowBase = b.r();
  b.ins("mul.lo.u32 ", tokenBase, ", ", ctaX, ", ", tileN);
  b.ins("mul.lo.u32 ", rowBase, ", ", blockRow, ", ", tileM);
  smem = b.r();
  b.ins("mov.u32 ", smem, ", smem");
}

void KernelEmitter::setupProducer() {
  b.comment("producer: A chunk (row tid/2, half tid%2) and B chunks");
  std::string rowA = b.r(), chunkA = b.r();
  b.ins("shr.u32 ", rowA, ", ", tid, ", 1");
  b.ins("and.b32 ", chunkA, ", ", tid, ", 1");
  // aSrc = values + ((rowBase + rowA) * keptWidth/2 + chunkA * 8) * 2
  std::string row = b.r(), elem = b.r();
  b.ins("add.u32 ", row, ", ", rowBase, ", ", rowA);
  b.ins("mul.lo.u32 ", elem, ", ", chunkA, ", 8");
  std::string wide = b.rd();
  b.ins("mul.wide.u32 ", wide, ", ", row, ", ", keptWidth / 2);
  std::string elem64 = b.rd();
  b.ins("cvt.u64.u32 ", elem64, ", ", elem);
  b.ins("add.u64 ", wide, ", ", wide, ", ", elem64);
  b.ins("shl.b64 ", wide, ", ", wide, ", 1");
  aSrc = b.rd();
  b.ins("add.u64 ", aSrc, ", ", values, ", ", wide);
  aDst = b.r();
  if (asyncWgmma(c)) {
    // Canonical K-major: (row / 8) * SBO + half * LBO + (row % 8) * 16.
    std::string group = b.r(), inGroup = b.r();
    b.ins("shr.u32 ", group, ", ", rowA, ", 3");
    b.ins("and.b32 ", inGroup, ", ", rowA, ", 7");
    b.ins("mul.lo.u32 ", aDst, ", ", group, ", ", kACanonSBO);
    b.ins("mad.lo.u32 ", aDst, ", ", chunkA, ", ", kACanonLBO, ", ", aDst);
    b.ins("mad.lo.u32 ", aDst, ", ", inGroup, ", 16, ", aDst);
  } else {
    b.ins("mul.lo.u32 ", aDst, ", ", rowA, ", ", kAPitch);
    b.ins("mad.lo.u32 ", aDst, ", ", chunkA, ", 16, ", aDst);
  }

  int64_t chunksPerRow = tileN / 8;
  int shift = 0;
  while ((int64_t(1) << shift) < chunksPerRow)
    ++shift;
  for (int64_t i = 0; i < kStepK * chunksPerRow / threads; ++i) {
    BChunk chunk;
    std::string id = b.r(), nChunk = b.r();
    b.ins("add.u32 ", id, ", ", tid, ", ", i * threads);
    chunk.kRow = b.r();
    b.ins("shr.u32 ", chunk.kRow, ", ", id, ", ", shift);
    b.ins("and.b32 ", nChunk, ", ", id, ", ", chunksPerRow - 1);
    // Token n = tokenBase + 8 * nChunk; valid bytes = clamp(2 (T - n), 0, 16).
    chunk.tokenOffset = b.r();
    b.ins("mad.lo.u32 ", chunk.tokenOffset, ", ", nChunk, ", 8, ", tokenBase);
    chunk.validBytes = b.r();
    b.ins("sub.s32 ", chunk.validBytes, ", ", tokens, ", ", chunk.tokenOffset);
    b.ins("shl.b32 ", chunk.validBytes, ", ", chunk.validBytes, ", 1");
    b.ins("min.s32 ", chunk.validBytes, ", ", chunk.validBytes, ", 16");
    b.ins("max.s32 ", chunk.validBytes, ", ", chunk.validBytes, ", 0");
    chunk.dst = b.r();
    if (sm80) {
      b.ins("mul.lo.u32 ", chunk.dst, ", ", chunk.kRow, ", ", bPitch(c));
      b.ins("mad.lo.u32 ", chunk.dst, ", ", nChunk, ", 16, ", chunk.dst);
    } else {
      // MN-major canonical layout: core matrix (8 tokens x 8 k) = 128 B,
      // k-blocks 128 B apart, token blocks 512 B apart.
      b.ins("mul.lo.u32 ", chunk.dst, ", ", nChunk, ", ", kBTokenBlockStride);
      b.ins("mad.lo.u32 ", chunk.dst, ", ", chunk.kRow, ", 16, ", chunk.dst);
    }
    b.ins("add.u32 ", chunk.dst, ", ", chunk.dst, ", ", aBytes);
    bChunks.push_back(chunk);
  }
  if (c.hinm) {
    std::string tile = b.r();
    b.ins("mul.lo.u32 ", tile, ", ", rowBase, ", 1");
    b.ins("div.u32 ", tile, ", ", tile, ", ", c.v);
    std::string offset = b.rd();
    b.ins("mul.wide.u32 ", offset, ", ", tile, ", ", keptWidth * 4);
    tileColBase = b.rd();
    b.ins("add.u64 ", tileColBase, ", ", colIdx, ", ", offset);
  }

  // Metadata: threads 0 .. 16 (tileM / 64) - 1 copy one 16-byte piece each
  // of the CTA's META32 records, which are contiguous per 64-row block and
  // step: record block b = blockRow * tileM/64 + tid/16 starts at
  // meta + b * kSteps * 256.
  b.comment("producer: staged META32 records and gather indices");
  metaLoader = b.p();
  b.ins("setp.lt.u32 ", metaLoader, ", ", tid, ", ", 16 * (tileM / kTileM));
  std::string block = b.r(), piece = b.r(), blockOffset = b.rd();
  b.ins("shr.u32 ", block, ", ", tid, ", 4");
  b.ins("and.b32 ", piece, ", ", tid, ", 15");
  b.ins("mad.lo.u32 ", block, ", ", blockRow, ", ", tileM / kTileM, ", ",
        block);
  b.ins("mul.wide.u32 ", blockOffset, ", ", block, ", ",
        kSteps * kMetaBytesPer64);
  metaSrc = b.rd();
  b.ins("add.u64 ", metaSrc, ", ", meta, ", ", blockOffset);
  std::string pieceOffset = b.rd();
  b.ins("mul.wide.u32 ", pieceOffset, ", ", piece, ", 16");
  b.ins("add.u64 ", metaSrc, ", ", metaSrc, ", ", pieceOffset);
  metaDst = b.r();
  b.ins("mad.lo.u32 ", metaDst, ", ", tid, ", 16, ", metaStageOffset(c));
  if (c.hinm) {
    // The last 8 threads copy a step's 32 gather indices (128 B).
    std::string first = b.r();
    idxLoader = b.p();
    b.ins("sub.u32 ", first, ", ", tid, ", ", threads - 8);
    b.ins("setp.lt.u32 ", idxLoader, ", ", first, ", 8");
    std::string firstOffset = b.rd();
    b.ins("mul.wide.u32 ", firstOffset, ", ", first, ", 16");
    idxSrc = b.rd();
    b.ins("add.u64 ", idxSrc, ", ", tileColBase, ", ", firstOffset);
    idxDst = b.r();
    b.ins("mad.lo.u32 ", idxDst, ", ", first, ", 16, ", idxStageOffset(c));
  }
}

/// HiNM: the activation row each B chunk gathers at step min(kStep,
/// kSteps - 1) (clamped so that prefetching past the end stays in bounds).
std::vector<std::string>
KernelEmitter::loadGatherRows(const std::string &kStep) {
  std::vector<std::string> rows;
  if (!c.hinm)
    return rows;
  std::string step = b.r();
  b.ins("min.u32 ", step, ", ", kStep, ", ", kSteps - 1);
  for (const BChunk &chunk : bChunks) {
    std::string k = b.r(), idxAddr = b.rd(), idxOffset = b.rd();
    b.ins("mad.lo.u32 ", k, ", ", step, ", ", kStepK, ", ", chunk.kRow);
    b.ins("mul.wide.u32 ", idxOffset, ", ", k, ", 4");
    b.ins("add.u64 ", idxAddr, ", ", tileColBase, ", ", idxOffset);
    b.ins("ld.global.nc.u32 ", k, ", [", idxAddr, "]");
    rows.push_back(k);
  }
  return rows;
}

void KernelEmitter::issueStageLoad(const std::string &kStep,
                                   const std::string &slot,
                                   const std::vector<std::string> &gatherRows) {
  std::string slotBase = b.r();
  b.ins("mad.lo.u32 ", slotBase, ", ", slot, ", ", stage, ", ", smem);
  // A: 16 bytes of packed values per thread.
  std::string aOffset = b.rd(), src = b.rd(), dst = b.r();
  b.ins("mul.wide.u32 ", aOffset, ", ", kStep, ", ", kStepK);
  b.ins("add.u64 ", src, ", ", aSrc, ", ", aOffset);
  b.ins("add.u32 ", dst, ", ", slotBase, ", ", aDst);
  b.ins("cp.async.cg.shared.global [", dst, "], [", src, "], 16");
  // The step's META32 records.
  std::string metaOffset = b.rd(), metaAddr = b.rd(), metaSlot = b.r();
  b.ins("mul.wide.u32 ", metaOffset, ", ", kStep, ", ", kMetaBytesPer64);
  b.ins("add.u64 ", metaAddr, ", ", metaSrc, ", ", metaOffset);
  b.ins("add.u32 ", metaSlot, ", ", slotBase, ", ", metaDst);
  b.ins("@", metaLoader, " cp.async.cg.shared.global [", metaSlot, "], [",
        metaAddr, "], 16");
  if (c.hinm) {
    // The gather indices of step min(kStep + distance, kSteps - 1): the
    // fill issued when this stage is consumed needs them.
    std::string ahead = b.r(), idxOffset = b.rd(), idxAddr = b.rd(),
                idxSlot = b.r();
    b.ins("add.u32 ", ahead, ", ", kStep, ", ", distance);
    b.ins("min.u32 ", ahead, ", ", ahead, ", ", kSteps - 1);
    b.ins("mul.wide.u32 ", idxOffset, ", ", ahead, ", ", kIdxStageBytes);
    b.ins("add.u64 ", idxAddr, ", ", idxSrc, ", ", idxOffset);
    b.ins("add.u32 ", idxSlot, ", ", slotBase, ", ", idxDst);
    b.ins("@", idxLoader, " cp.async.cg.shared.global [", idxSlot, "], [",
          idxAddr, "], 16");
  }
  // B: activation rows, gathered for HiNM.
  for (size_t i = 0; i < bChunks.size(); ++i) {
    const BChunk &chunk = bChunks[i];
    std::string k = b.r(), valid = b.r();
    if (c.hinm) {
      b.ins("mov.u32 ", k, ", ", gatherRows[i]);
      b.ins("mov.u32 ", valid, ", ", chunk.validBytes);
    } else {
      b.ins("mad.lo.u32 ", k, ", ", kStep, ", ", kStepK, ", ", chunk.kRow);
      // Rows past K are zero-filled (their packed values are zero too).
      std::string inRange = b.p();
      b.ins("setp.lt.u32 ", inRange, ", ", k, ", ", c.cols);
      b.ins("selp.b32 ", valid, ", ", chunk.validBytes, ", 0, ", inRange);
    }
    // src = x + (k * ldx + n) * 2, or x itself when nothing is read.
    std::string offset = b.rd(), n64 = b.rd(), addr = b.rd(), any = b.p();
    b.ins("mul.wide.u32 ", offset, ", ", k, ", ", ldx);
    b.ins("cvt.u64.u32 ", n64, ", ", chunk.tokenOffset);
    b.ins("add.u64 ", offset, ", ", offset, ", ", n64);
    b.ins("shl.b64 ", offset, ", ", offset, ", 1");
    b.ins("add.u64 ", addr, ", ", x, ", ", offset);
    b.ins("setp.ne.s32 ", any, ", ", valid, ", 0");
    b.ins("selp.b64 ", addr, ", ", addr, ", ", x, ", ", any);
    std::string bDst = b.r();
    b.ins("add.u32 ", bDst, ", ", slotBase, ", ", chunk.dst);
    b.ins("cp.async.cg.shared.global [", bDst, "], [", addr, "], 16, ", valid);
  }
}

/// A shared-memory matrix descriptor: start >> 4 | LBO >> 4 << 16 |
/// SBO >> 4 << 32, no swizzle.
static std::string descriptor(Builder &b, const std::string &start, int64_t lbo,
                              int64_t sbo) {
  std::string shifted = b.r(), desc = b.rd();
  b.ins("shr.u32 ", shifted, ", ", start, ", 4");
  b.ins("cvt.u64.u32 ", desc, ", ", shifted);
  uint64_t fields = (uint64_t(lbo >> 4) << 16) | (uint64_t(sbo >> 4) << 32);
  b.ins("or.b64 ", desc, ", ", desc, ", ", fields);
  return desc;
}

void KernelEmitter::computeStep(const std::string &slotBase,
                                const std::string &e) {
  auto join = [](const std::vector<std::string> &regs, size_t from,
                 size_t count) {
    std::string out = "{";
    for (size_t i = 0; i < count; ++i)
      out += (i ? ", " : "") + regs[from + i];
    return out + "}";
  };
  if (asyncWgmma(c)) {
    // A and B both from shared memory; the group stays in flight while the
    // next step is staged (wait_group 1 retires the previous step's).
    std::string bStart = b.r(), aStart = b.r();
    b.ins("add.u32 ", bStart, ", ", slotBase, ", ", aBytes);
    b.ins("add.u32 ", aStart, ", ", slotBase, ", ", aGroupOffset);
    std::string aDesc = descriptor(b, aStart, kACanonLBO, kACanonSBO);
    std::string bDesc =
        descriptor(b, bStart, kBKBlockStride, kBTokenBlockStride);
    b.ins("wgmma.fence.sync.aligned");
    b.ins("wgmma.mma_async.sp.sync.aligned.m64n", tileN, "k32.f32.", mmaType,
          ".", mmaType, " ", join(acc, 0, acc.size()), ", ", aDesc, ", ", bDesc,
          ", ", e, ", 0, 1, 1, 1, 0, 1");
    b.ins("wgmma.commit_group.sync.aligned");
    b.ins("wgmma.wait_group.sync.aligned 1");
    return;
  }

  int64_t mTiles = sm80 ? 2 : 1;
  std::vector<std::vector<std::string>> aFrag(mTiles);
  for (int64_t i = 0; i < mTiles; ++i) {
    std::string aAddr = b.r();
    b.ins("add.u32 ", aAddr, ", ", slotBase, ", ", aFragOffset);
    if (i)
      b.ins("add.u32 ", aAddr, ", ", aAddr, ", ", i * 16 * kAPitch);
    for (int q = 0; q < 4; ++q)
      aFrag[i].push_back(b.r());
    b.ins("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {", aFrag[i][0], ", ",
          aFrag[i][1], ", ", aFrag[i][2], ", ", aFrag[i][3], "}, [", aAddr,
          "]");
  }
  if (sm80) {
    int64_t nTiles = tileN / 16; // per warp: tileN/2 tokens
    for (int64_t j = 0; j < nTiles; ++j) {
      std::string bAddr = b.r();
      std::vector<std::string> bFrag;
      for (int q = 0; q < 4; ++q)
        bFrag.push_back(b.r());
      b.ins("add.u32 ", bAddr, ", ", slotBase, ", ", bFragOffset);
      if (j)
        b.ins("add.u32 ", bAddr, ", ", bAddr, ", ", j * 16);
      b.ins("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 ",
            join(bFrag, 0, 4), ", [", bAddr, "]");
      for (int64_t i = 0; i < 2; ++i) {
        std::string d = join(acc, (i * nTiles + j) * 4, 4);
        b.ins("mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.",
              mmaType, ".", mmaType, ".f32 ", d, ", ", join(aFrag[i], 0, 4),
              ", ", join(bFrag, 0, 4), ", ", d, ", ", e, ", ", i);
      }
    }
    return;
  }
  std::string bStart = b.r();
  b.ins("add.u32 ", bStart, ", ", slotBase, ", ", aBytes);
  std::string desc = descriptor(b, bStart, kBKBlockStride, kBTokenBlockStride);
  b.ins("wgmma.fence.sync.aligned");
  b.ins("wgmma.mma_async.sp.sync.aligned.m64n", tileN, "k32.f32.", mmaType, ".",
        mmaType, " ", join(acc, 0, acc.size()), ", ", join(aFrag[0], 0, 4),
        ", ", desc, ", ", e, ", 0, 1, 1, 1, 1");
  b.ins("wgmma.commit_group.sync.aligned");
  b.ins("wgmma.wait_group.sync.aligned 0");
}

/// The final epilogue (bias, activation, rounding to the value type), or
/// with `partial` the split-K one: raw f32 sums into partial[z][row][col].
void KernelEmitter::epilogue(bool partial) {
  b.comment(partial ? "split-K epilogue: f32 partial sums"
                    : "epilogue: bias, activation, rounding, bounds-checked "
                      "stores");
  std::string g = b.r(), t2 = b.r();
  b.ins("shr.u32 ", g, ", ", lane, ", 2");
  b.ins("and.b32 ", t2, ", ", lane, ", 3");
  b.ins("shl.b32 ", t2, ", ", t2, ", 1");
  // Rows: sm_80 warp (wm, wn) owns rows 32 wm + 16 i + {g, g+8};
  // sm_90a warp w owns rows 16 w + {g, g+8}.
  std::string warpRow = b.r(), warpToken = b.r();
  if (sm80) {
    std::string wm = b.r(), wn = b.r();
    b.ins("shr.u32 ", wm, ", ", warp, ", 1");
    b.ins("and.b32 ", wn, ", ", warp, ", 1");
    b.ins("mad.lo.u32 ", warpRow, ", ", wm, ", 32, ", rowBase);
    b.ins("mad.lo.u32 ", warpToken, ", ", wn, ", ", tileN / 2, ", ", tokenBase);
  } else {
    b.ins("mad.lo.u32 ", warpRow, ", ", warp, ", 16, ", rowBase);
    b.ins("mov.u32 ", warpToken, ", ", tokenBase);
  }
  b.ins("add.u32 ", warpRow, ", ", warpRow, ", ", g);
  b.ins("add.u32 ", warpToken, ", ", warpToken, ", ", t2);

  int64_t mTiles = sm80 ? 2 : 1;
  int64_t nTiles = sm80 ? tileN / 16 : tileN / 8;
  // Per row: in-range predicate, output row address and bias.
  struct RowInfo {
    std::string inRange, address, bias;
  };
  std::vector<RowInfo> rowInfo;
  for (int64_t i = 0; i < mTiles; ++i)
    for (int64_t half = 0; half < 2; ++half) {
      RowInfo info;
      std::string row = b.r();
      b.ins("add.u32 ", row, ", ", warpRow, ", ", i * 16 + half * 8);
      info.inRange = b.p();
      b.ins("setp.lt.u32 ", info.inRange, ", ", row, ", ", c.rows);
      info.address = b.rd();
      if (partial) {
        // partial + ((z * R + row) * ldy) * 4
        std::string zRow = b.r();
        b.ins("mad.lo.u32 ", zRow, ", ", splitIndex, ", ", c.rows, ", ", row);
        b.ins("mul.wide.u32 ", info.address, ", ", zRow, ", ", ldy);
        b.ins("shl.b64 ", info.address, ", ", info.address, ", 2");
        b.ins("add.u64 ", info.address, ", ", partialSums, ", ", info.address);
        rowInfo.push_back(info);
        continue;
      }
      b.ins("mul.wide.u32 ", info.address, ", ", row, ", ", ldy);
      b.ins("shl.b64 ", info.address, ", ", info.address, ", 1");
      b.ins("add.u64 ", info.address, ", ", y, ", ", info.address);
      if (c.hasBias)
        info.bias = loadBias(row, info.inRange);
      rowInfo.push_back(info);
    }
  const char *pack = c.valueType == ValueType::F16 ? "cvt.rn.f16x2.f32 "
                                                   : "cvt.rn.bf16x2.f32 ";
  const char *single =
      c.valueType == ValueType::F16 ? "cvt.rn.f16.f32 " : "cvt.rn.bf16.f32 ";
  for (int64_t j = 0; j < nTiles; ++j) {
    std::string col = b.r(), colNext = b.r(), both = b.p(), first = b.p();
    b.ins("add.u32 ", col, ", ", warpToken, ", ", j * 8);
    b.ins("add.u32 ", colNext, ", ", col, ", 1");
    b.ins("setp.lt.u32 ", both, ", ", colNext, ", ", tokens);
    b.ins("setp.eq.u32 ", first, ", ", colNext, ", ", tokens);
    std::string colBytes = b.rd();
    b.ins("mul.wide.u32 ", colBytes, ", ", col, partial ? ", 4" : ", 2");
    for (int64_t i = 0; i < mTiles; ++i)
      for (int64_t half = 0; half < 2; ++half) {
        const RowInfo &info = rowInfo[i * 2 + half];
        int64_t base = sm80 ? (i * nTiles + j) * 4 : j * 4;
        std::string v0 = acc[base + half * 2], v1 = acc[base + half * 2 + 1];
        if (partial) {
          std::string addr = b.rd(), storeBoth = b.p(), storeFirst = b.p();
          b.ins("add.u64 ", addr, ", ", info.address, ", ", colBytes);
          b.ins("and.pred ", storeBoth, ", ", both, ", ", info.inRange);
          b.ins("and.pred ", storeFirst, ", ", first, ", ", info.inRange);
          b.ins("@", storeBoth, " st.global.v2.f32 [", addr, "], {", v0, ", ",
                v1, "}");
          b.ins("@", storeFirst, " st.global.f32 [", addr, "], ", v0);
          continue;
        }
        if (c.hasBias) {
          std::string s0 = b.f(), s1 = b.f();
          b.ins("add.f32 ", s0, ", ", v0, ", ", info.bias);
          b.ins("add.f32 ", s1, ", ", v1, ", ", info.bias);
          v0 = s0;
          v1 = s1;
        }
        v0 = emitActivation(b, c.activation, v0);
        v1 = emitActivation(b, c.activation, v1);
        std::string packed = b.r(), low = b.h(), addr = b.rd();
        b.ins(pack, packed, ", ", v1, ", ", v0);
        b.ins(single, low, ", ", v0);
        b.ins("add.u64 ", addr, ", ", info.address, ", ", colBytes);
        std::string storeBoth = b.p(), storeFirst = b.p();
        b.ins("and.pred ", storeBoth, ", ", both, ", ", info.inRange);
        b.ins("and.pred ", storeFirst, ", ", first, ", ", info.inRange);
        b.ins("@", storeBoth, " st.global.b32 [", addr, "], ", packed);
        b.ins("@", storeFirst, " st.global.b16 [", addr, "], ", low);
      }
  }
}

/// bias[row] as f32 (0 where `inRange` is false).
std::string KernelEmitter::loadBias(const std::string &row,
                                    const std::string &inRange) {
  std::string value = b.f(), addr = b.rd();
  b.ins("mov.f32 ", value, ", ", floatImm(0.0f));
  b.ins("mul.wide.u32 ", addr, ", ", row, ", 4");
  b.ins("add.u64 ", addr, ", ", bias, ", ", addr);
  b.ins("@", inRange, " ld.global.nc.f32 ", value, ", [", addr, "]");
  return value;
}

/// Split-K without a second launch: each split has stored its partial sums;
/// the last of a tile's splits to arrive (a per-tile counter that wraps back
/// to 0, ready for the next launch) adds them up in split order, so the
/// result does not depend on which split that is, then applies bias,
/// activation and rounding. The fences and the L2-only loads make the other
/// splits' partials visible (the CUDA guide's threadfence-reduction pattern).
void KernelEmitter::splitKFixup(const std::string &splits) {
  b.comment("split-K: the last split of this tile to arrive sums them all");
  b.ins("membar.gl");
  b.ins("bar.sync 0");
  std::string lead = b.p(), tileIndex = b.r(), gridX = b.r(), counter = b.rd(),
              last = b.r(), ticket = b.r(), notLast = b.p();
  b.ins("setp.eq.u32 ", lead, ", ", tid, ", 0");
  b.ins("mov.u32 ", gridX, ", %nctaid.x");
  b.ins("mad.lo.u32 ", tileIndex, ", ", blockRow, ", ", gridX, ", ", ctaX);
  b.ins("mul.wide.u32 ", counter, ", ", tileIndex, ", 4");
  b.ins("add.u64 ", counter, ", ", tileCounters, ", ", counter);
  b.ins("sub.u32 ", last, ", ", splits, ", 1");
  b.ins("mov.u32 ", ticket, ", 0");
  b.ins("@", lead, " atom.acq_rel.gpu.global.inc.u32 ", ticket, ", [", counter,
        "], ", last);
  b.ins("@", lead, " st.shared.u32 [", smem, "], ", ticket);
  b.ins("bar.sync 0");
  b.ins("ld.shared.u32 ", ticket, ", [", smem, "]");
  b.ins("setp.ne.u32 ", notLast, ", ", ticket, ", ", last);
  b.ins("@", notLast, " bra.uni $L_fixup_done");
  b.ins("membar.gl");

  // The tile's valid outputs as groups of 4 tokens: row r, group g covers
  // tokens tokenBase + 4g .. +3 (16-byte loads; ldy is a multiple of 8).
  std::string width = b.r(), groups = b.r(), total = b.r(), zStride = b.rd();
  b.ins("sub.u32 ", width, ", ", tokens, ", ", tokenBase);
  b.ins("min.u32 ", width, ", ", width, ", ", tileN);
  b.ins("add.u32 ", groups, ", ", width, ", 3");
  b.ins("shr.u32 ", groups, ", ", groups, ", 2");
  b.ins("mul.lo.u32 ", total, ", ", groups, ", ", tileM);
  b.ins("mul.wide.u32 ", zStride, ", ", ldy, ", ", c.rows * 4);
  // Each pass takes kUnroll groups per thread and 4 splits at a time, so
  // 8 loads are in flight instead of one dependent load per split.
  constexpr int kUnroll = 2, kSplitsAtOnce = 4;
  std::string passBase = b.r();
  b.ins("mov.u32 ", passBase, ", 0");
  b.label("$L_fixup");
  struct Group {
    std::string valid, row, token, address, bias;
    std::vector<std::string> sums;
  };
  std::vector<Group> group(kUnroll);
  for (int u = 0; u < kUnroll; ++u) {
    Group &g = group[u];
    std::string index = b.r(), rowInTile = b.r(), rowOk = b.p();
    b.ins("add.u32 ", index, ", ", passBase, ", ", tid);
    b.ins("add.u32 ", index, ", ", index, ", ", u * threads);
    g.valid = b.p();
    b.ins("setp.lt.u32 ", g.valid, ", ", index, ", ", total);
    b.ins("div.u32 ", rowInTile, ", ", index, ", ", groups);
    g.token = b.r();
    b.ins("mul.lo.u32 ", g.token, ", ", rowInTile, ", ", groups);
    b.ins("sub.u32 ", g.token, ", ", index, ", ", g.token);
    b.ins("mad.lo.u32 ", g.token, ", ", g.token, ", 4, ", tokenBase);
    g.row = b.r();
    b.ins("add.u32 ", g.row, ", ", rowBase, ", ", rowInTile);
    b.ins("setp.lt.u32 ", rowOk, ", ", g.row, ", ", c.rows);
    b.ins("and.pred ", g.valid, ", ", g.valid, ", ", rowOk);
    // partial + (row * ldy + token) * 4, split 0
    std::string token64 = b.rd();
    g.address = b.rd();
    b.ins("mul.wide.u32 ", g.address, ", ", g.row, ", ", ldy);
    b.ins("cvt.u64.u32 ", token64, ", ", g.token);
    b.ins("add.u64 ", g.address, ", ", g.address, ", ", token64);
    b.ins("shl.b64 ", g.address, ", ", g.address, ", 2");
    b.ins("add.u64 ", g.address, ", ", partialSums, ", ", g.address);
    for (int j = 0; j < 4; ++j) {
      g.sums.push_back(b.f());
      b.ins("mov.f32 ", g.sums.back(), ", ", floatImm(0.0f));
    }
  }
  std::string z = b.r();
  b.ins("mov.u32 ", z, ", 0");
  b.label("$L_fixup_splits");
  // Splits past the last read as +0, which leaves every sum unchanged (a sum
  // that starts at +0 is never -0).
  std::vector<std::vector<std::vector<std::string>>> loaded(kUnroll);
  for (int i = 0; i < kSplitsAtOnce; ++i) {
    std::string zi = b.r(), inSplits = b.p();
    b.ins("add.u32 ", zi, ", ", z, ", ", i);
    b.ins("setp.lt.u32 ", inSplits, ", ", zi, ", ", splits);
    for (int u = 0; u < kUnroll; ++u) {
      std::string load = b.p(), address = b.rd(), offset = b.rd();
      b.ins("and.pred ", load, ", ", inSplits, ", ", group[u].valid);
      b.ins("cvt.u64.u32 ", offset, ", ", zi);
      b.ins("mul.lo.u64 ", offset, ", ", offset, ", ", zStride);
      b.ins("add.u64 ", address, ", ", group[u].address, ", ", offset);
      std::vector<std::string> v;
      for (int j = 0; j < 4; ++j) {
        v.push_back(b.f());
        b.ins("mov.f32 ", v.back(), ", ", floatImm(0.0f));
      }
      b.ins("@", load, " ld.global.cg.v4.f32 {", v[0], ", ", v[1], ", ", v[2],
            ", ", v[3], "}, [", address, "]");
      loaded[u].push_back(v);
    }
  }
  for (int u = 0; u < kUnroll; ++u)
    for (int i = 0; i < kSplitsAtOnce; ++i)
      for (int j = 0; j < 4; ++j)
        b.ins("add.f32 ", group[u].sums[j], ", ", group[u].sums[j], ", ",
              loaded[u][i][j]);
  {
    std::string more = b.p();
    b.ins("add.u32 ", z, ", ", z, ", ", kSplitsAtOnce);
    b.ins("setp.lt.u32 ", more, ", ", z, ", ", splits);
    b.ins("@", more, " bra.uni $L_fixup_splits");
  }
  const char *round =
      c.valueType == ValueType::F16 ? "cvt.rn.f16.f32 " : "cvt.rn.bf16.f32 ";
  for (int u = 0; u < kUnroll; ++u) {
    Group &g = group[u];
    std::string rowAddress = b.rd();
    b.ins("mul.wide.u32 ", rowAddress, ", ", g.row, ", ", ldy);
    std::string biasValue = c.hasBias ? loadBias(g.row, g.valid) : "";
    for (int j = 0; j < 4; ++j) {
      std::string value = g.sums[j];
      if (c.hasBias) {
        std::string biased = b.f();
        b.ins("add.f32 ", biased, ", ", value, ", ", biasValue);
        value = biased;
      }
      value = emitActivation(b, c.activation, value);
      std::string token = b.r(), store = b.p(), half = b.h(), addr = b.rd(),
                  token64 = b.rd();
      b.ins("add.u32 ", token, ", ", g.token, ", ", j);
      b.ins("setp.lt.u32 ", store, ", ", token, ", ", tokens);
      b.ins("and.pred ", store, ", ", store, ", ", g.valid);
      b.ins(round, half, ", ", value);
      b.ins("cvt.u64.u32 ", token64, ", ", token);
      b.ins("add.u64 ", addr, ", ", rowAddress, ", ", token64);
      b.ins("shl.b64 ", addr, ", ", addr, ", 1");
      b.ins("add.u64 ", addr, ", ", y, ", ", addr);
      b.ins("@", store, " st.global.b16 [", addr, "], ", half);
    }
  }
  {
    std::string more = b.p();
    b.ins("add.u32 ", passBase, ", ", passBase, ", ", kUnroll * threads);
    b.ins("setp.lt.u32 ", more, ", ", passBase, ", ", total);
    b.ins("@", more, " bra.uni $L_fixup");
  }
  b.label("$L_fixup_done");
}

std::string KernelEmitter::emit() {
  loadParams();
  setupProducer();

  // Consumer constants.
  metaRead = b.r();
  aGroupOffset = b.r();
  aFragOffset = b.r();
  bFragOffset = b.r();
  metaLane = b.r();
  metaHalf = b.r();
  std::string rowInTile = b.r(), colBlock = b.r();
  // ldmatrix row address of lane l: row (l & 15), column block (l >> 4).
  b.ins("and.b32 ", rowInTile, ", ", lane, ", 15");
  b.ins("shr.u32 ", colBlock, ", ", lane, ", 4");
  if (sm80) {
    std::string wm = b.r(), wn = b.r();
    b.ins("shr.u32 ", wm, ", ", warp, ", 1");
    b.ins("and.b32 ", wn, ", ", warp, ", 1");
    b.ins("mad.lo.u32 ", rowInTile, ", ", wm, ", 32, ", rowInTile);
    // B: lane l addresses k row l; the warp's tokens start at wn * tileN/2.
    b.ins("mul.lo.u32 ", bFragOffset, ", ", lane, ", ", bPitch(c));
    std::string tokenBytes = b.r();
    b.ins("mul.lo.u32 ", tokenBytes, ", ", wn, ", ", tileN);
    b.ins("add.u32 ", bFragOffset, ", ", bFragOffset, ", ", tokenBytes);
    b.ins("add.u32 ", bFragOffset, ", ", bFragOffset, ", ", aBytes);
    // Warp wm reads the META32 record of its 32 rows, word = lane.
    b.ins("mov.u32 ", metaHalf, ", ", wm);
    b.ins("mov.u32 ", metaLane, ", ", lane);
    b.ins("mov.u32 ", metaRead, ", ", metaStageOffset(c));
  } else {
    // Warp w = 4 wg + wq covers rows 64 wg + 16 wq .. +15 with selector 0:
    // warpgroup wg reads the META32 records of the CTA's 64-row block wg,
    // and odd wq are the bottom half of a record, whose words sit at
    // lane ^ 2.
    b.ins("mad.lo.u32 ", rowInTile, ", ", warp, ", 16, ", rowInTile);
    std::string wq = b.r(), odd = b.r(), wg = b.r();
    b.ins("and.b32 ", wq, ", ", warp, ", 3");
    b.ins("shr.u32 ", wg, ", ", warp, ", 2");
    b.ins("shr.u32 ", metaHalf, ", ", wq, ", 1");
    b.ins("and.b32 ", odd, ", ", wq, ", 1");
    b.ins("shl.b32 ", odd, ", ", odd, ", 1");
    b.ins("xor.b32 ", metaLane, ", ", lane, ", ", odd);
    b.ins("mad.lo.u32 ", metaRead, ", ", wg, ", ", kMetaBytesPer64, ", ",
          metaStageOffset(c));
    b.ins("mul.lo.u32 ", aGroupOffset, ", ", wg, ", ", kACanonBytesPer64);
  }
  // Word metaLane of record half metaHalf of the staged 64-row block.
  b.ins("mad.lo.u32 ", metaRead, ", ", metaHalf, ", 128, ", metaRead);
  b.ins("mad.lo.u32 ", metaRead, ", ", metaLane, ", 4, ", metaRead);
  b.ins("mul.lo.u32 ", aFragOffset, ", ", rowInTile, ", ", kAPitch);
  b.ins("mad.lo.u32 ", aFragOffset, ", ", colBlock, ", 16, ", aFragOffset);

  int64_t accCount = sm80 ? 2 * (tileN / 16) * 4 : tileN / 2;
  for (int64_t i = 0; i < accCount; ++i) {
    acc.push_back(b.f());
    b.ins("mov.f32 ", acc.back(), ", ", floatImm(0.0f));
  }

  // Split-K: CTA z of %nctaid.z covers the k-steps [kBegin, kBegin + n);
  // the runtime picks %nctaid.z per launch (1 = no split).
  std::string splits = b.r(), perSplit = b.r(), kBegin = b.r(), nSteps = b.r();
  b.ins("mov.u32 ", splits, ", %nctaid.z");
  b.ins("add.u32 ", perSplit, ", ", splits, ", ", kSteps - 1);
  b.ins("div.u32 ", perSplit, ", ", perSplit, ", ", splits);
  b.ins("mul.lo.u32 ", kBegin, ", ", splitIndex, ", ", perSplit);
  b.ins("min.u32 ", kBegin, ", ", kBegin, ", ", kSteps);
  b.ins("sub.u32 ", nSteps, ", ", kSteps, ", ", kBegin);
  b.ins("min.u32 ", nSteps, ", ", nSteps, ", ", perSplit);

  // The ring is filled `distance` steps ahead: stages - 1, or stages - 2
  // when a wgmma group stays in flight and still reads the stage before.
  int64_t distance = prefetchDistance(c);
  bool async = asyncWgmma(c);
  b.comment("prologue: fill the first " + std::to_string(distance) + " stages");
  for (int64_t s = 0; s < distance; ++s) {
    std::string skip = "$L_prologue_" + std::to_string(s), none = b.p();
    b.ins("setp.le.u32 ", none, ", ", nSteps, ", ", s);
    b.ins("@", none, " bra.uni ", skip);
    std::string k = b.r(), slotIndex = b.r();
    b.ins("add.u32 ", k, ", ", kBegin, ", ", s);
    b.ins("mov.u32 ", slotIndex, ", ", s);
    issueStageLoad(k, slotIndex, loadGatherRows(k));
    b.label(skip);
    b.ins("cp.async.commit_group");
  }

  std::string local = b.r(), kStep = b.r(), slot = b.r(), fillSlot = b.r();
  b.ins("mov.u32 ", local, ", 0");
  b.ins("mov.u32 ", kStep, ", ", kBegin);
  b.ins("mov.u32 ", slot, ", 0");
  b.ins("mov.u32 ", fillSlot, ", ", distance);
  // HiNM: where each B chunk's gather index sits in a stage.
  std::vector<std::string> gatherRows, idxRead;
  if (c.hinm)
    for (const BChunk &chunk : bChunks) {
      gatherRows.push_back(b.r());
      idxRead.push_back(b.r());
      b.ins("mad.lo.u32 ", idxRead.back(), ", ", chunk.kRow, ", 4, ",
            idxStageOffset(c));
    }
  // The asynchronous variant alternates two metadata registers: a pending
  // wgmma still reads its own until wait_group retires it.
  std::string metaWord = b.r(), metaOther = b.r();
  {
    std::string empty = b.p();
    b.ins("setp.eq.u32 ", empty, ", ", nSteps, ", 0");
    b.ins("@", empty, " bra.uni $L_kdone");
  }

  auto advance = [&](const std::string &reg) {
    std::string wrap = b.p();
    b.ins("add.u32 ", reg, ", ", reg, ", 1");
    b.ins("setp.eq.u32 ", wrap, ", ", reg, ", ", stages);
    b.ins("selp.b32 ", reg, ", 0, ", reg, ", ", wrap);
  };
  auto iteration = [&](const std::string &suffix, const std::string &metaCur) {
    b.ins("cp.async.wait_group ", distance - 1);
    if (!sm80)
      b.ins("fence.proxy.async.shared::cta");
    b.ins("bar.sync 0");
    // The stage holds this step's metadata and, for HiNM, the gather
    // indices of the step filled below.
    std::string slotBase = b.r(), metaAddr = b.r();
    b.ins("mad.lo.u32 ", slotBase, ", ", slot, ", ", stage, ", ", smem);
    b.ins("add.u32 ", metaAddr, ", ", slotBase, ", ", metaRead);
    b.ins("ld.shared.u32 ", metaCur, ", [", metaAddr, "]");
    for (size_t i = 0; i < gatherRows.size(); ++i) {
      std::string addr = b.r();
      b.ins("add.u32 ", addr, ", ", slotBase, ", ", idxRead[i]);
      b.ins("ld.shared.u32 ", gatherRows[i], ", [", addr, "]");
    }
    std::string nextLocal = b.r(), next = b.r(), more = b.p();
    b.ins("add.u32 ", nextLocal, ", ", local, ", ", distance);
    b.ins("add.u32 ", next, ", ", kStep, ", ", distance);
    b.ins("setp.ge.u32 ", more, ", ", nextLocal, ", ", nSteps);
    b.ins("@", more, " bra.uni $L_skip_fill", suffix);
    issueStageLoad(next, fillSlot, gatherRows);
    b.label("$L_skip_fill" + suffix);
    b.ins("cp.async.commit_group");
    // Async: wait_group 1 in the previous step retired the wgmma that last
    // read metaCur.
    computeStep(slotBase, metaCur);
    advance(slot);
    advance(fillSlot);
    b.ins("add.u32 ", kStep, ", ", kStep, ", 1");
    b.ins("add.u32 ", local, ", ", local, ", 1");
  };
  b.label("$L_kloop");
  if (!async) {
    iteration("", metaWord);
    std::string again = b.p();
    b.ins("setp.lt.u32 ", again, ", ", local, ", ", nSteps);
    b.ins("@", again, " bra.uni $L_kloop");
  } else {
    // Unrolled twice so that the two metadata registers alternate.
    iteration("_even", metaWord);
    std::string finished = b.p(), again = b.p();
    b.ins("setp.ge.u32 ", finished, ", ", local, ", ", nSteps);
    b.ins("@", finished, " bra.uni $L_kend");
    iteration("_odd", metaOther);
    b.ins("setp.lt.u32 ", again, ", ", local, ", ", nSteps);
    b.ins("@", again, " bra.uni $L_kloop");
    b.label("$L_kend");
    b.ins("wgmma.wait_group.sync.aligned 0");
  }
  b.label("$L_kdone");
  b.ins("cp.async.wait_all");
  {
    std::string split = b.p();
    b.ins("setp.ne.u32 ", split, ", ", splits, ", 1");
    b.ins("@", split, " bra.uni $L_partial");
  }
  epilogue(false);
  b.ins("ret");
  b.label("$L_partial");
  epilogue(true);
  splitKFixup(splits);
  b.ins("ret");

  std::ostringstream os;
  os << "// " << c.name << ": " << (c.hinm ? "HiNM" : "2:4")
     << " sparse linear, R=" << c.rows << " K=" << c.cols;
  if (c.hinm)
    os << " V=" << c.v << " K_c=" << keptWidth;
  os << ", " << valueTypeName(c.valueType)
     << ", act=" << activationName(c.activation) << (c.hasBias ? ", bias" : "")
     << ", tile " << tileM << "x" << tileN << ", " << stages << " stages"
     << (asyncWgmma(c)  ? ", async wgmma"
         : usesWgmma(c) ? ", wgmma"
                        : ", mma.sp")
     << "\n";
  os << ".visible .entry " << c.name << "(\n"
     << "\t.param .u64 p_values,\n\t.param .u64 p_meta,\n"
     << "\t.param .u64 p_col_idx,\n\t.param .u64 p_bias,\n"
     << "\t.param .u64 p_x,\n\t.param .u64 p_y,\n"
     << "\t.param .u32 p_tokens,\n\t.param .u32 p_ldx,\n\t.param .u32 p_ldy,\n"
     << "\t.param .u64 p_partial,\n\t.param .u64 p_tile_counters)\n"
     << "\t.reqntid " << threads << ", 1, 1\n{\n";
  os << b.declarations();
  os << "\n";
  os << b.text() << "}\n\n";
  return os.str();
}

} // namespace

static std::optional<LinearKernelConfig>
smallVariant(const LinearKernelConfig &c);

std::string verifyConfig(const LinearKernelConfig &c) {
  if (c.rows <= 0 || c.cols <= 0)
    return "rows and cols must be positive";
  if (c.name.empty() ||
      c.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                               "QRSTUVWXYZ0123456789_") != std::string::npos)
    return "kernel name '" + c.name + "' is not a PTX identifier";
  if (c.hinm) {
    if (c.v <= 0 || c.v % kTileM)
      return "HiNM kernels need V to be a multiple of 64 (got " +
             std::to_string(c.v) + ")";
    if (c.keptWidth <= 0 || c.keptWidth % kStepK)
      return "HiNM kept width must be a positive multiple of 32 (got " +
             std::to_string(c.keptWidth) + ")";
    if (c.keptWidth > roundUp(c.cols, kStepK))
      return "HiNM kept width " + std::to_string(c.keptWidth) +
             " exceeds the input width " + std::to_string(c.cols);
  }
  int64_t tileN = defaultTileN(c);
  bool wgmma = usesWgmma(c);
  bool tileOk = wgmma ? (tileN == 64 || tileN == 128 || tileN == 256)
                      : (tileN == 32 || tileN == 64 || tileN == 128);
  if (!tileOk)
    return std::string("tile_n ") + std::to_string(tileN) +
           " is not supported by " + (wgmma ? "wgmma" : "mma.sp") + " on " +
           archName(c.arch) +
           (wgmma ? " (64, 128 or 256)" : " (32, 64 or 128)");
  int64_t stages = stagesFor(c);
  if (stages < 2 || stages > 8)
    return "stages must be between 2 and 8 (got " + std::to_string(stages) +
           ")";
  if (stages * stageBytes(c) > kMaxShared)
    return "tile_n " + std::to_string(tileN) + " with " +
           std::to_string(stages) + " stages needs " +
           std::to_string(stages * stageBytes(c)) +
           " bytes of shared memory (limit " + std::to_string(kMaxShared) +
           "): use fewer stages";
  int64_t tileM = tileMFor(c);
  if (tileM != 64 && tileM != 128 && tileM != 256)
    return "tile_m must be 64, 128 or 256 (got " + std::to_string(tileM) + ")";
  // mma.sp: 8 warps of 32 x tile_n/2 for 128 rows; 256 rows would need 512
  // threads holding 64 accumulators each, more than ptxas gives them.
  if (tileM > 128 && !wgmma)
    return "tile_m " + std::to_string(tileM) +
           (c.arch == Arch::SM90a
                ? " needs wgmma (one warpgroup per 64 rows), not "
                  "--cuda-wgmma=off"
                : " needs sm_90a (one warpgroup per 64 rows)");
  // f32 accumulators: tileN / 2 registers per thread, 2 tileM threads; 512
  // threads may hold at most 128 registers each.
  if (tileM * defaultTileN(c) > 256 * 128)
    return "tile " + std::to_string(tileM) + "x" +
           std::to_string(defaultTileN(c)) +
           " needs more accumulator registers than a CTA has (at most 256x128 "
           "or 128x256)";
  if (c.hinm && c.v % tileM)
    return "tile_m " + std::to_string(tileM) +
           " needs V to be a multiple of it (V = " + std::to_string(c.v) + ")";
  if (kStepK * defaultTileN(c) / 8 < threadsFor(c))
    return "tile_n " + std::to_string(defaultTileN(c)) +
           " is too small for tile_m " + std::to_string(tileM);
  int64_t rowsPadded = roundUp(c.rows, c.hinm ? c.v : tileM);
  if (rowsPadded * keptWidthFor(c) >= (int64_t(1) << 31))
    return "layer too large for 32-bit kernel indexing";
  if (std::optional<LinearKernelConfig> small = smallVariant(c))
    if (std::string error = verifyConfig(*small); !error.empty())
      return "small-T variant: " + error;
  return "";
}

/// Whether Auto chose wgmma for `c`'s main entry; its small-T entry then
/// takes mma.sp, which was faster up to T = 256 on the H200.
static bool autoChoseWgmma(const LinearKernelConfig &c) {
  return c.wgmma == WgmmaMode::Auto && usesWgmma(c);
}

/// The small-T variant of `c` (`<name>_small`, 64-row tiles), or nullopt
/// when the layer has none: 64 tokens wide for T <= 64 (less tensor-core
/// work spent on padding and more CTAs than the main tile), or, under a
/// wgmma main entry chosen by Auto, the mma.sp kernel with 128-token tiles
/// for T <= 256.
std::optional<LinearKernelConfig> smallVariant(const LinearKernelConfig &c) {
  if (c.smallTileN < 0 || defaultTileN(c) <= 64)
    return std::nullopt;
  LinearKernelConfig small = c;
  small.name = c.name + "_small";
  bool mmaSp = autoChoseWgmma(c);
  if (mmaSp)
    small.wgmma = WgmmaMode::Off;
  small.tileN = c.smallTileN ? c.smallTileN : mmaSp ? 128 : 64;
  small.tileM = 64;
  small.smallTileN = -1;
  // Small-T launches run few CTAs per SM, each streaming its weights step
  // by step: a deeper ring keeps more of that latency in flight.
  for (int64_t stages = kSmallStages; stages > 3; --stages) {
    small.stages = stages;
    if (stages * stageBytes(small) <= kSmallSharedBudget)
      return small;
  }
  small.stages = 0;
  return small;
}

/// The largest T the small-T variant of `c` runs.
static int64_t smallMaxTokens(const LinearKernelConfig &c,
                              const LinearKernelConfig &small) {
  return autoChoseWgmma(c) ? std::max<int64_t>(256, defaultTileN(small))
                           : defaultTileN(small);
}

KernelLaunchInfo launchInfo(const LinearKernelConfig &c) {
  KernelLaunchInfo info;
  if (std::optional<LinearKernelConfig> small = smallVariant(c)) {
    KernelLaunchInfo s = launchInfo(*small);
    info.smallMaxTokens = smallMaxTokens(c, *small);
    info.smallMma = s.mma;
    info.smallTileM = s.tileM;
    info.smallTileN = s.tileN;
    info.smallThreads = s.threads;
    info.smallSharedBytes = s.sharedBytes;
  }
  info.tileM = tileMFor(c);
  info.tileN = defaultTileN(c);
  info.mma = usesWgmma(c) ? "wgmma" : "mma.sp";
  info.threads = threadsFor(c);
  info.sharedBytes = stagesFor(c) * stageBytes(c);
  info.rowsPadded = roundUp(c.rows, c.hinm ? c.v : tileMFor(c));
  info.keptWidth = keptWidthFor(c);
  return info;
}

std::string generateLinearKernel(const LinearKernelConfig &config) {
  std::ostringstream os;
  os << "// Generated by sparsec\n.version 8.5\n.target "
     << archName(config.arch) << "\n.address_size 64\n\n";
  // The stage ring of every entry: dynamic shared memory, sized at launch.
  os << ".extern .shared .align 128 .b8 smem[];\n\n";
  os << KernelEmitter(config).emit();
  if (std::optional<LinearKernelConfig> small = smallVariant(config))
    os << KernelEmitter(*small).emit();
  return os.str();
}

} // namespace sparsec::cuda
