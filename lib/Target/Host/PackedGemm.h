//===- PackedGemm.h - packed, register-tiled GEMM kernels -------*- C++ -*-===//
//
// y[t, r] = sum_k x[t, k] * W[r, k] + b[r] with W known at compile time, as
// vector code specialised to W's shape and zeros (docs/CPUBackend.md). Linear
// layers use it directly, convolutions through their GEMM view.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_TARGET_HOST_PACKEDGEMM_H
#define SPARSEC_LIB_TARGET_HOST_PACKEDGEMM_H

#include "Epilogue.h"
#include "sparsec/Target/Host/Passes.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sparsec {

/// The register tile and vector width of the generated kernels.
struct GemmTiling {
  int64_t vectorWidth = 8; ///< f32 lanes per vector
  int64_t tileTokens = 6;  ///< tokens (rows of x) per register tile
  int64_t tileVectors = 2; ///< vectors of output features per register tile
  /// Reads the activations transposed (K x T, tokens contiguous), loading a
  /// register tile's tokens as whole vectors and multiplying by lane: ISAs
  /// without a broadcast-from-memory FMA operand (NEON) save a load per
  /// token (docs/CPUBackend.md).
  bool tokenVectors = false;
  int64_t panelWidth() const { return vectorWidth * tileVectors; }
};

/// W cut into panels of NR = panelWidth() output features. Each panel lists
/// the input columns where one of its rows is nonzero and stores its weights
/// as [kept column][NR] rows.
struct PackedWeight {
  int64_t rows = 0, cols = 0, panelWidth = 0, panels = 0;
  /// Panel p's kept columns are columns[offsets[p] .. offsets[p + 1]).
  std::vector<int32_t> offsets, columns;
  /// [offsets.back()][panelWidth]: row i is W[p*NR .. p*NR+NR, columns[i]],
  /// zeros past `rows`.
  std::vector<float> values;
  /// [panels * panelWidth], zeros past `rows` (all zeros without a bias).
  std::vector<float> bias;

  bool everyPanelDense() const {
    return int64_t(columns.size()) == panels * cols;
  }
};

/// Packs the row-major rows x cols `weight` (and `bias`, empty or `rows`).
PackedWeight packWeight(llvm::ArrayRef<float> weight,
                        llvm::ArrayRef<float> bias, int64_t rows, int64_t cols,
                        int64_t panelWidth);

/// The packed arrays of a weight as private memref.globals of `module`
/// (`<symbolPrefix>_w`, `_b`, and `_k`, `_o` unless every panel is dense),
/// with their get_global at `b`'s insertion point.
struct PackedGlobals {
  mlir::Value values, bias, columns, offsets;
};
PackedGlobals createPackedGlobals(mlir::OpBuilder &b, mlir::Location loc,
                                  mlir::ModuleOp module,
                                  const PackedWeight &weight,
                                  llvm::StringRef symbolPrefix);

/// Each row's nonzeros, in column order: row r's are entries
/// [starts[r], starts[r + 1]) of columns and values.
struct RowSparseWeight {
  std::vector<int32_t> starts, columns;
  std::vector<float> values;
};
/// The rows of a packed weight (padding rows past `rows` excluded).
RowSparseWeight sparseRowsOf(const PackedWeight &weight);

/// Whether the row-sparse form does sufficiently fewer MACs than the
/// channel tiles (which multiply every zero inside a kept column) to be
/// faster.
bool preferSparseRows(const PackedWeight &weight);

/// A private constant memref.global<N x f32> of `module` holding `data`.
mlir::Value createFloatGlobal(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::ModuleOp module, const std::string &name,
                              const std::vector<float> &data);

/// A private constant memref.global<N x i32> of `module` holding `data`
/// (renamed on a clash), and its get_global at `b`'s insertion point.
mlir::Value createInt32Global(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::ModuleOp module, const std::string &name,
                              const std::vector<int32_t> &data);
/// The same for bytes.
mlir::Value createInt8Global(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::ModuleOp module, const std::string &name,
                             const std::vector<int8_t> &data);

/// Pieces the kernels share, emitted at `b`'s insertion point.
namespace kernel {
/// The range [first, last) of packed rows of `panel`: panel * cols and
/// (panel + 1) * cols when every panel is dense, else offsets[panel] and
/// offsets[panel + 1].
std::pair<mlir::Value, mlir::Value>
panelRows(mlir::OpBuilder &b, mlir::Location loc, mlir::Value panel, bool dense,
          int64_t cols, mlir::Value offsets);
/// The input column of packed row `row`: row - first when dense, else
/// columns[row].
mlir::Value keptColumn(mlir::OpBuilder &b, mlir::Location loc, mlir::Value row,
                       mlir::Value first, bool dense, mlir::Value columns);
/// The lanes of a vector of `lanes` starting at `start` that lie below
/// `bound`: min(max(bound - start, 0), lanes) leading ones.
mlir::Value tailMask(mlir::OpBuilder &b, mlir::Location loc, int64_t bound,
                     mlir::Value start, int64_t lanes);
/// Element `at` of an int32 table, as an index.
mlir::Value loadIndex(mlir::OpBuilder &b, mlir::Location loc, mlir::Value table,
                      mlir::Value at);
/// An scf.for [lower, upper) with step `step` and no results; `body` emits
/// one iteration at `b`'s insertion point (inside the loop while it runs).
void forLoop(mlir::OpBuilder &b, mlir::Location loc, mlir::Value lower,
             mlir::Value upper, int64_t step,
             llvm::function_ref<void(mlir::Value iv)> body);
/// The tag of a kernel's tile loop: its attribute (which
/// sparsec-cpu-shape-parallel-loops reads) and its location's name (which
/// survives convert-scf-to-openmp; sparsec-cpu-schedule-kernel-loops reads
/// it).
inline constexpr llvm::StringLiteral kKernelLoopTag = "sparsec.cpu.kernel_loop";
/// A kernel's scf.parallel over [lower, upper) with unit steps, tagged
/// (kKernelLoopTag) so that sparsec-cpu-shape-parallel-loops leaves it as
/// the kernel built it and its OpenMP loop gets the kernels' schedule;
/// `body` emits one iteration at `b`'s insertion point, which is inside the
/// loop while it runs.
void parallelKernelLoop(mlir::OpBuilder &b, mlir::Location loc,
                        llvm::ArrayRef<int64_t> lower,
                        llvm::ArrayRef<int64_t> upper,
                        llvm::function_ref<void(mlir::ValueRange ivs)> body);
/// An scf.for over the full tiles of `tile` rows in [0, count): `body`
/// emits one tile starting at row `first`, at `b`'s insertion point (inside
/// the loop while it runs). Emits nothing when count < tile.
void fullTileLoop(mlir::OpBuilder &b, mlir::Location loc, int64_t count,
                  int64_t tile,
                  llvm::function_ref<void(mlir::Value first)> body);
/// vector.store, or vector.maskedstore when `mask` is set, of `value`
/// after `epilogue` (if any).
void store(mlir::OpBuilder &b, mlir::Location loc, mlir::Value value,
           mlir::Value memref, mlir::ValueRange at, mlir::Value mask,
           const VectorEpilogue &epilogue = nullptr);
/// A tile's loop over packed rows [first, last), carrying its accumulators
/// `init`; `column` emits one packed row's FMAs at the builder's insertion
/// point and returns the new accumulators. With `unroll` > 1 the rows go
/// `unroll` per iteration, then one by one: the returned loop is the last.
using ColumnStep = llvm::function_ref<llvm::SmallVector<mlir::Value>(
    mlir::Value packedRow, mlir::ValueRange acc)>;
mlir::scf::ForOp columnLoops(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::Value first, mlir::Value last,
                             int64_t unroll, mlir::ValueRange init,
                             ColumnStep column);
} // namespace kernel

/// Emits, at `b`'s insertion point, the kernel computing `input` (a T x K
/// f32 tensor) times the packed weight: a T x R tensor. The packed arrays
/// become private memref.globals of `module` named `<symbolPrefix>_*`. The
/// output buffer's memref.alloc carries `sparsec.cpu.kernel`, the decision
/// (kind dense or kept_columns, panels, kept columns, tiling).
mlir::Value emitPackedGemm(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::ModuleOp module, mlir::Value input,
                           const PackedWeight &weight, const GemmTiling &tiling,
                           llvm::StringRef symbolPrefix,
                           const VectorEpilogue &epilogue = nullptr);

/// Emits C = init + A·B for run-time operands: `lhs` [batch, M, K], `rhs`
/// [batch, K, N] and `init` [batch, M, N] f32 tensors; returns C. The output
/// buffer's memref.alloc carries `sparsec.cpu.kernel` (kind batched_matmul).
mlir::Value emitBatchedMatmul(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value lhs, mlir::Value rhs,
                              mlir::Value init, const GemmTiling &tiling);

/// The register tile of the convolution kernel: `channelsPerTile` output
/// channels x `pixelVectors` vectors of output pixels.
struct ConvTiling {
  int64_t vectorWidth = 8, channelsPerTile = 4, pixelVectors = 3;
  /// Vectors of pixels per tile of the row-sparse form (one channel).
  int64_t sparseRowVectors = 4;
  /// Loads a tile's channel weights as whole vectors and multiplies by lane
  /// (NEON's `fmla` by element), with four kept columns per loop iteration.
  bool weightVectors = false;
  int64_t pixelBlock(bool sparseRows = false) const {
    return vectorWidth * (sparseRows ? sparseRowVectors : pixelVectors);
  }
  /// The tile for the linear layers' `tiling` (its vector width, and lane
  /// FMAs when it reads tokens as vectors).
  static ConvTiling forGemmTiling(const GemmTiling &tiling);
};

/// The activations of a convolution as its kernel reads them: `flat`, an
/// [N, L] f32 tensor, one row per image; output pixel q of GEMM column k
/// reads flat[n, columnOffsets[k] + q], for q in [0, pixels).
struct ConvActivations {
  mlir::Value flat;
  std::vector<int32_t> columnOffsets;
  int64_t pixels = 0;
  bool im2col = false; ///< recorded in the decision attribute
};

/// How a convolution kernel covers the computed pixels [0, P) of an image
/// whose flat row has `length` floats: full blocks of NV vectors, then one
/// tile of the vectors left, then fewer pixels than a vector. Those last
/// pixels run as their own tile with the channels along the vector lanes
/// (one broadcast activation per pixel and column) when they are fewer than
/// `channelsPerTile` and their reads stay inside the row; otherwise as a
/// last, masked vector of the tail tile. No pixel is computed twice, so a
/// 1x1 convolution's 7x7 or 14x14 image (49 = 32 + 16 + 1, 196 = 6 x 32 +
/// 4) wastes no lanes on pixels past its end.
struct PixelTiles {
  int64_t block = 0, fullBlocks = 0, safeBlocks = 0;
  int64_t tailStart = 0, tailVectors = 0;
  bool tailMasked = false;
  int64_t remainderStart = 0, remainder = 0; ///< the channel-lane tile
  int64_t computed = 0; ///< pixels per image in the output buffer
  PixelTiles(const ConvActivations &activations, int64_t length, int64_t vw,
             int64_t nv, int64_t channelsPerTile);
};

/// Emits Y[n, o, q] = b[o] + sum_k W[o, k] * flat[n, columnOffsets[k] + q]
/// for `weight` packed with panelWidth == tiling.channelsPerTile (channel
/// tiles walking their kept columns); returns Y as an [N, O, Q] tensor with
/// Q = `activations.pixels` rounded up to tiling.pixelBlock(false) (the
/// pixels past it are garbage). Reads past a row's end are masked. The
/// output buffer's memref.alloc carries `sparsec.cpu.kernel` (kind
/// conv_dense or conv_kept_columns).
mlir::Value emitChannelMajorConv(mlir::OpBuilder &b, mlir::Location loc,
                                 mlir::ModuleOp module,
                                 const ConvActivations &activations,
                                 const PackedWeight &weight,
                                 const ConvTiling &tiling,
                                 llvm::StringRef symbolPrefix,
                                 const VectorEpilogue &epilogue = nullptr);

/// The same with each output channel walking its own nonzeros (the
/// row-sparse form; `weight`'s columns index `activations.columnOffsets`),
/// Q rounded up to tiling.pixelBlock(true). Grouped and depthwise
/// convolutions run this form (`groups` is recorded). Kind conv_sparse_rows.
mlir::Value emitSparseRowsConv(
    mlir::OpBuilder &b, mlir::Location loc, mlir::ModuleOp module,
    const ConvActivations &activations, const RowSparseWeight &weight,
    const std::vector<float> &bias, int64_t groups, const ConvTiling &tiling,
    llvm::StringRef symbolPrefix, const VectorEpilogue &epilogue = nullptr);

/// How sparsec-cpu-lower-layers with `tiling` (and its sparse-rows,
/// nm-groups and row-patterns options) runs `layer` (a sparsec.linear or
/// sparsec.conv2d), for
/// --emit=report: "gemm dense", "conv kept columns, 50% of dense work",
/// "gemm N:M groups (2 of 4 columns per row), 50% of dense work", "linalg
/// loops", ...; empty for other ops.
/// When linear layers run the N:M group kernel and the row patterns (the
/// pass's nm-groups and row-patterns options: auto, always, never).
struct LinearKernelModes {
  llvm::StringRef nmGroups = "never", rowPatterns = "never";
  /// What a slot of the N:M group kernel costs in dense MACs (the pass's
  /// nm-group-slot-cost).
  double nmGroupSlotCost = kDefaultNMGroupSlotCost;
  /// What a MAC of the row-pattern kernel costs in dense MACs (the pass's
  /// row-pattern-mac-cost).
  double rowPatternMacCost = kDefaultRowPatternMacCost;
};
std::string describeLayerKernel(mlir::Operation *layer,
                                const GemmTiling &tiling,
                                llvm::StringRef sparseRows,
                                const LinearKernelModes &modes);

} // namespace sparsec

#endif
