//===- RowPatternGemm.h - sparse rows grouped by their pattern --*- C++ -*-===//
//
// y[t, r] = sum_k x[t, k] * W[r, k] + b[r] with the tokens along the vector
// lanes: x is transposed once to [K][T], so column k of the weight reads one
// contiguous row of activations. Rows go in panels of four; per panel, every
// column in which one of the four rows is nonzero has a pattern (which of
// the four it feeds, 1 to 15), and the columns are grouped by pattern. The
// code of each pattern is emitted once and loops over its columns: per
// column, NV activation vectors are loaded once and multiplied by the
// broadcast weights of exactly the rows of the pattern. Only nonzero MACs
// are done, and every activation load feeds all the panel's rows that need
// it: at 2:4 inside HiNM's kept vectors a column feeds two of four rows on
// average (Sparse Register Tiling, PLDI 2023, in its simplest form;
// ../shared/spec/cpu.md §3 (c)).
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_TARGET_HOST_ROWPATTERNGEMM_H
#define SPARSEC_LIB_TARGET_HOST_ROWPATTERNGEMM_H

#include "Epilogue.h"
#include "PackedGemm.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sparsec {

/// W's nonzeros per panel of `kPanelRows` rows and chunk of `kChunkCols`
/// columns, grouped by pattern. A tile of tokens runs a block of panels
/// chunk by chunk, so that the chunk's activations (512 columns x 64
/// tokens, 128 KiB) stay in L2 while every panel of the block reads them.
struct RowPatternWeight {
  static constexpr int64_t kPanelRows = 4;
  static constexpr int64_t kPatterns = int64_t(1) << kPanelRows;
  static constexpr int64_t kChunkCols = 512;
  int64_t rows = 0, cols = 0, panels = 0, chunks = 0;
  /// [panels][chunks][kPatterns + 1]: the columns of pattern m of a panel's
  /// chunk are the entries from its run start m up to start m + 1.
  std::vector<int32_t> runStarts;
  /// Per entry, its column.
  std::vector<int32_t> columns;
  /// [panels][chunks][kPatterns]: where the values of a run start; an entry
  /// of pattern m holds popcount(m) values, its rows' in order.
  std::vector<int32_t> valueStarts;
  std::vector<float> values;
  std::vector<float> bias; ///< padded to panels * kPanelRows
  int64_t nonzeros() const { return values.size(); }
};

/// Packs `weight` ([rows][cols], row-major) in chunks of `chunkCols`
/// columns.
RowPatternWeight
packRowPatterns(llvm::ArrayRef<float> weight, llvm::ArrayRef<float> bias,
                int64_t rows, int64_t cols,
                int64_t chunkCols = RowPatternWeight::kChunkCols);

/// Whether auto mode runs `weight` (with `tokens` tokens and vectors of
/// `vectorWidth` lanes) as row patterns: enough tokens to fill the lanes,
/// and its nonzeros, at `patternMacCost` dense MACs each, cheaper than
/// `cost` (the best other kernel's, in dense MACs per token).
bool preferRowPatterns(const RowPatternWeight &weight, double cost,
                       int64_t tokens, int64_t vectorWidth,
                       double patternMacCost);

/// The compile-time tables of a RowPatternWeight as private globals (run
/// starts `_r`, value starts `_v`, values `_w`, bias `_b`).
struct PatternTables {
  mlir::Value runStarts, valueStarts, values, bias;
};
PatternTables createPatternTables(mlir::OpBuilder &b, mlir::Location loc,
                                  mlir::ModuleOp module,
                                  const RowPatternWeight &weight,
                                  const std::string &prefix);

/// Every pattern's run of `panelChunk` (a panel's chunk: the index of its
/// runs in the tables) into `acc` (4 rows x NV vectors): per pattern a loop
/// over its entries; `loadColumn(entry)` emits the NV activation vectors of
/// the entry's column, which multiply the broadcast weights of the
/// pattern's rows.
void emitPatternRuns(
    mlir::OpBuilder &b, mlir::Location loc, const PatternTables &tables,
    mlir::Value panelChunk, llvm::SmallVector<mlir::Value> &acc,
    llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value entry)>
        loadColumn);

/// Whether auto mode runs a convolution's `weight` (packed in one chunk,
/// `pixels` output pixels per image, vectors of `vectorWidth` lanes) as row
/// patterns: its nonzeros and pattern loops, at their measured costs,
/// cheaper than the channel tiles' `keptWork` MACs per pixel.
bool preferRowPatternConv(const RowPatternWeight &weight, double keptWork,
                          int64_t pixels, int64_t vectorWidth);

/// Emits a convolution's GEMM on `activations` (ConvLayout.h) with `weight`
/// packed in one chunk: Y as [N, O, Q] like emitChannelMajorConv, Q the
/// pixels covered by tiles of 4 (2 with 8 lanes) vectors. Kind
/// conv_row_patterns.
mlir::Value emitRowPatternConv(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::ModuleOp module,
                               const ConvActivations &activations,
                               const RowPatternWeight &weight,
                               const ConvTiling &tiling,
                               llvm::StringRef symbolPrefix,
                               const VectorEpilogue &epilogue = nullptr);

/// Pixel vectors per tile of emitRowPatternConv for `vectorWidth` lanes.
inline int64_t rowPatternConvVectors(int64_t vectorWidth) {
  return vectorWidth == 8 ? 2 : 4;
}

/// Emits the layer for `input` ([T, K] f32 tensor); returns y as [T, R].
/// The yT buffer's memref.alloc carries `sparsec.cpu.kernel` (kind
/// row_patterns).
mlir::Value emitRowPatternGemm(mlir::OpBuilder &b, mlir::Location loc,
                               mlir::ModuleOp module, mlir::Value input,
                               const RowPatternWeight &weight,
                               int64_t vectorWidth, llvm::StringRef prefix,
                               const VectorEpilogue &epilogue = nullptr);

} // namespace sparsec

#endif
