//===- NMGroupGemm.h - N:M linear layers with lane permutes ------*- C++
//-*-===//
//
// y[t, r] = sum_k x[t, k] * W[r, k] + b[r] for a W in which every row keeps
// at most `slots` nonzeros in each aligned group of four columns (2:4, 1:4,
// ...): per group, the four activations of a token are loaded once and each
// slot's weight vector multiplies them after a lane permute (x86 `vpermps`)
// that hands every output lane its own row's column. Only the nonzero MACs
// are done (docs/CPUBackend.md).
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_TARGET_HOST_NMGROUPGEMM_H
#define SPARSEC_LIB_TARGET_HOST_NMGROUPGEMM_H

#include "Epilogue.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace sparsec {

/// The register tile: `tileTokens` tokens x `tileVectors` vectors of
/// `vectorWidth` output features.
struct NMGroupTiling {
  int64_t vectorWidth = 8, tileTokens = 10, tileVectors = 2;
  int64_t panelWidth() const { return tileVectors * vectorWidth; }
  /// The tile for a CPU whose widest vectors have `vectorWidth` lanes:
  /// 16 (AVX-512, 32 registers), else 8 lanes (AVX2, 16 registers).
  static NMGroupTiling forVectorWidth(int64_t vectorWidth);
};

/// W cut into panels of NR output features; columns in groups of four, the
/// last K % 4 columns dense.
struct NMGroupWeight {
  int64_t rows = 0, cols = 0, panelWidth = 0, panels = 0;
  int64_t groups = 0, slots = 0, tailColumns = 0;
  /// [panels][groups][slots][NR]: a row's nonzeros of a group in column
  /// order, zeros in unused slots and past `rows`.
  std::vector<float> values;
  /// Same shape: each value's column within its group (0 to 3).
  std::vector<int8_t> lanes;
  /// Whether the kernel reads the lane indices as bytes (a quarter of the
  /// index traffic, for layers bound by the weights' bytes) or as i32 (no
  /// widening µop on the permute pipes, for layers bound by them).
  bool byteLanes = false;
  /// [panels][tailColumns][NR].
  std::vector<float> tail;
  /// [panels * NR], zeros past `rows` (all zeros without a bias).
  std::vector<float> bias;

  /// Dense MACs per nonzero-slot MAC of this form: 4 / slots.
  double workShare() const { return double(slots) / 4.0; }
};

/// Packs the row-major rows x cols `weight` (and `bias`, empty or `rows`)
/// if no row has more than `maxSlots` nonzeros in an aligned group of four
/// columns; std::nullopt otherwise, or when K < 4.
std::optional<NMGroupWeight> packNMGroups(llvm::ArrayRef<float> weight,
                                          llvm::ArrayRef<float> bias,
                                          int64_t rows, int64_t cols,
                                          int64_t panelWidth, int64_t maxSlots);

/// Whether the group kernel (`weight`, `tokens` rows of x, `tiling`) is
/// expected to beat the channel-tile kernel that does `keptShare` of the
/// dense work (its kept columns over all columns, the N:M zeros filled
/// back), when a slot (a permute and an FMA) costs `slotCost` dense MACs
/// (1.5 at 2:4 on BERT shapes, 128 tokens, on a Zen 4:
/// bench/results/cpu_linear.md).
bool preferNMGroups(const NMGroupWeight &weight, double keptShare,
                    int64_t tokens, const NMGroupTiling &tiling,
                    double slotCost);

/// Emits, at `b`'s insertion point, the kernel computing `input` (a T x K
/// f32 tensor) times `weight`: a T x R tensor. The packed arrays become
/// private memref.globals of `module` named `<symbolPrefix>_*`. The output
/// buffer's memref.alloc carries `sparsec.cpu.kernel` (kind nm_groups).
mlir::Value emitNMGroupGemm(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::ModuleOp module, mlir::Value input,
                            const NMGroupWeight &weight,
                            const NMGroupTiling &tiling,
                            llvm::StringRef symbolPrefix,
                            const VectorEpilogue &epilogue = nullptr);

} // namespace sparsec

#endif
