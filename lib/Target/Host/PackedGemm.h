//===- PackedGemm.h - packed, register-tiled GEMM kernels -------*- C++ -*-===//
//
// y[t, r] = sum_k x[t, k] * W[r, k] + b[r] with W known at compile time, as
// vector code specialised to W's shape and zeros (docs/CPUBackend.md). Linear
// layers use it directly, convolutions through their GEMM view.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_TARGET_HOST_PACKEDGEMM_H
#define SPARSEC_LIB_TARGET_HOST_PACKEDGEMM_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <vector>

namespace sparsec {

/// The register tile and vector width of the generated kernels.
struct GemmTiling {
  int64_t vectorWidth = 8; ///< f32 lanes per vector
  int64_t tileTokens = 6;  ///< tokens (rows of x) per register tile
  int64_t tileVectors = 2; ///< vectors of output features per register tile
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

/// Emits, at `b`'s insertion point, the kernel computing `input` (a T x K
/// f32 tensor) times the packed weight: a T x R tensor. The packed arrays
/// become private memref.globals of `module` named `<symbolPrefix>_*`. The
/// output buffer's memref.alloc carries `sparsec.cpu.kernel`, the decision
/// (kind dense or kept_columns, panels, kept columns, tiling).
mlir::Value emitPackedGemm(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::ModuleOp module, mlir::Value input,
                           const PackedWeight &weight, const GemmTiling &tiling,
                           llvm::StringRef symbolPrefix);

/// Emits C = init + A·B for run-time operands: `lhs` [batch, M, K], `rhs`
/// [batch, K, N] and `init` [batch, M, N] f32 tensors; returns C. The output
/// buffer's memref.alloc carries `sparsec.cpu.kernel` (kind batched_matmul).
mlir::Value emitBatchedMatmul(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value lhs, mlir::Value rhs,
                              mlir::Value init, const GemmTiling &tiling);

} // namespace sparsec

#endif
