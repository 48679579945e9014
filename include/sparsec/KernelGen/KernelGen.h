//===- KernelGen.h - PTX for sparse linear layers ---------------*- C++ -*-===//
//
// Generates one PTX module per sparse linear layer, specialised on its shape,
// format (2:4 or HiNM), value type, epilogue and target architecture:
//   mma.sp::ordered_metadata m16n8k32 (sm_80/86/89 and later)
//   wgmma.mma_async.sp m64nNk32 (sm_90a only)
// An sm_90a module picks the instruction per layer (WgmmaMode).
// MLIR-free, so the runtime and the GPU benchmark can generate kernels too.
//
// Kernel ABI (docs/CUDABackend.md): Y[R, T] = act(W[R, K] X[K, T] + bias)
// with activations feature-major (T contiguous, row pitch ld in elements):
//   .param .u64 values   packed values, rowsPadded x keptWidth/2, f16|bf16
//   .param .u64 meta     META32 words (kernel layout, see below)
//   .param .u64 colIdx   HiNM: u32 tiles x keptWidth (0 for 2:4)
//   .param .u64 bias     f32 [R] (0 when the layer has none)
//   .param .u64 x        K x ldx activations, f16|bf16
//   .param .u64 y        R x ldy outputs, f16|bf16
//   .param .u32 tokens   T
//   .param .u32 ldx      >= T, multiple of 8
//   .param .u32 ldy      >= T, multiple of 8
//   .param .u64 partial  split-K workspace, f32 [splits][R][ldy] (0 if none)
//   .param .u64 tile_counters  split-K: u32 per output tile (ctaid.y *
//                        nctaid.x + ctaid.x), zero before the launch and
//                        left zero after it (0 if none)
// grid = (ceil(T / tileN), rowsPadded / tileM, splits), block = (threads):
// 128 threads per 64 rows.
// With splits > 1 each z-slice covers a contiguous range of k-steps and
// writes raw partial sums; the last slice of a tile to arrive (by its
// counter) adds them in split order and applies bias, activation and
// rounding, in the same launch.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_KERNELGEN_KERNELGEN_H
#define SPARSEC_KERNELGEN_KERNELGEN_H

#include <cstdint>
#include <string>
#include <vector>

namespace sparsec::cuda {

enum class Arch { SM80, SM90a };
enum class ValueType { F16, BF16 };
enum class Activation { None, Relu, Gelu };
/// How an sm_90a kernel multiplies (ignored on sm_80, which has mma.sp only).
///   Auto:  per layer, the faster path measured on the H200
///          (bench/results/cuda_bench.md): wgmma for 2:4 layers with at least
///          2048 rows (256-row tiles), mma.sp otherwise; explicit tile_m 256
///          or tile_n 256 need wgmma and select it.
///   Async: wgmma, A from shared memory, one wgmma group kept in flight.
///   Sync:  wgmma, A from registers, each wgmma waited for (the fallback).
///   Off:   mma.sp, as on sm_80.
enum class WgmmaMode { Auto, Async, Sync, Off };

const char *archName(Arch arch);            // "sm_80" / "sm_90a"
const char *valueTypeName(ValueType type);  // "f16" / "bf16"
const char *activationName(Activation act); // "none" / "relu" / "gelu"
bool parseArch(const std::string &s, Arch &out);
bool parseValueType(const std::string &s, ValueType &out);
bool parseActivation(const std::string &s, Activation &out);
const char *wgmmaModeName(WgmmaMode mode); // "auto" / "async" / "sync" / "off"
bool parseWgmmaMode(const std::string &s, WgmmaMode &out);

struct LinearKernelConfig {
  std::string name = "sparsec_linear";
  Arch arch = Arch::SM80;
  ValueType valueType = ValueType::F16; // weights, activations and outputs
  Activation activation = Activation::None;
  bool hasBias = false;
  bool hinm = false;     // false: plain 2:4 over K
  int64_t rows = 0;      // R (output channels)
  int64_t cols = 0;      // K (input channels)
  int64_t v = 0;         // HiNM tile rows (multiple of 64)
  int64_t keptWidth = 0; // HiNM K_c; 2:4: roundup(K, 32)
  int64_t tileN = 0;     // tokens per CTA (0: generator's choice)
  /// Rows per CTA, sharing the B tile: 64 or 128 (mma.sp: 4 or 8 warps of
  /// 32 rows x tileN/2 tokens; wgmma: one warpgroup per 64 rows), or 256
  /// with wgmma. HiNM needs V % tileM == 0. 0: the measured defaults
  /// (docs/CUDABackend.md).
  int64_t tileM = 0;
  int64_t stages = 0; // cp.async pipeline depth (0: default)
  WgmmaMode wgmma = WgmmaMode::Auto;
  /// tile_n > 64: tokens per CTA of the small-T variant `<name>_small`
  /// (64 rows), which the runtime launches for T <= smallMaxTokens
  /// (KernelLaunchInfo). 0: the default (64; 128 with mma.sp under a
  /// wgmma main entry chosen by Auto); -1: none.
  int64_t smallTileN = 0;
};

/// Whether `config`'s main entry uses wgmma.mma_async.sp (else mma.sp).
bool usesWgmma(const LinearKernelConfig &config);

/// Launch facts the runtime needs; all derived from the config.
struct KernelLaunchInfo {
  int64_t tileM = 0, tileN = 0, threads = 0, sharedBytes = 0;
  /// The kernels declare their shared memory `.extern`: sharedBytes (and
  /// smallSharedBytes) are passed as dynamic shared memory at launch.
  bool dynamicShared = true;
  int64_t rowsPadded = 0; // multiple of tileM (and of V for HiNM)
  int64_t keptWidth = 0;  // multiple of 32
  // The `<name>_small` entry, used when T <= smallMaxTokens (0: none).
  int64_t smallMaxTokens = 0, smallTileM = 0, smallTileN = 0;
  int64_t smallThreads = 0, smallSharedBytes = 0;
  // The instruction of each entry: "mma.sp" or "wgmma" (the manifest's
  // `mma` and `small_mma`, for reports; the runtime does not need them).
  std::string mma, smallMma;
};

/// Checks the config; returns "" or the reason it cannot be generated.
std::string verifyConfig(const LinearKernelConfig &config);
KernelLaunchInfo launchInfo(const LinearKernelConfig &config);
/// The PTX module text (one .entry named config.name). Deterministic.
std::string generateLinearKernel(const LinearKernelConfig &config);

/// Kernel-side metadata layout: META32 records ordered
/// [64-row block][k-block of 32][32-row half][32 words]. For HiNM this is the
/// packer's [tile][k-block][row-block][word] order regrouped by 64 rows; for
/// 2:4 it regroups the packer's [32-row block][k-block][word].
/// `codes` is rowsPadded x (keptWidth/4) 2:4 codes (row-major).
std::vector<uint32_t> kernelMetaWords(const std::vector<uint8_t> &codes,
                                      int64_t rowsPadded, int64_t keptWidth);

/// The arrays a kernel reads, in kernel layout.
struct KernelWeights {
  std::vector<uint16_t> values; // rowsPadded x keptWidth/2 (f16/bf16 bits)
  std::vector<uint32_t> meta;   // kernelMetaWords layout
  std::vector<uint32_t> colIdx; // HiNM: tiles x keptWidth (else empty)
  std::vector<float> bias;      // R (empty without bias)
};

/// Packs a dense R x K weight whose kept entries are `mask` (null: its
/// non-zeros) for `config`. HiNM needs the per-tile column lists L_t in group
/// order (`tileColumns`, each of the same length nnz_vec, a multiple of 4);
/// pass null to take each tile's non-empty columns in ascending order.
/// Values are rounded to the config's value type. Returns "" or an error.
std::string packForKernel(const LinearKernelConfig &config, const float *weight,
                          const uint8_t *mask,
                          const std::vector<std::vector<int64_t>> *tileColumns,
                          const float *bias, KernelWeights &out);

/// IEEE round-to-nearest-even conversions used for packing and references.
uint16_t floatToHalfBits(float value);
uint16_t floatToBF16Bits(float value);
float halfBitsToFloat(uint16_t bits);
float bf16BitsToFloat(uint16_t bits);

} // namespace sparsec::cuda

#endif
