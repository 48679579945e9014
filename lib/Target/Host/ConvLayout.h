//===- ConvLayout.h - a convolution's activations as its kernel reads them ===//
//
// The convolution kernels read, per image, one flat row of floats in which
// GEMM column (c, i, j) of output pixel q is at offset[(c, i, j)] + q. For
// strides of 1 the row is the padded input itself (a direct convolution); for
// a stride s it is the padded input split into s x s phase planes
// (space-to-depth), which makes every tap a contiguous read again; only a
// stride combined with a dilation takes the im2col matrix. The computed
// pixel space is [OH][row width] with the row width of the plane: its last
// columns are garbage and are sliced off when the output returns to NCHW.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_TARGET_HOST_CONVLAYOUT_H
#define SPARSEC_LIB_TARGET_HOST_CONVLAYOUT_H

#include "PackedGemm.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"

#include <optional>

namespace sparsec {

struct ConvLayout {
  ConvActivations activations;
  int64_t rowWidth = 0; ///< pixels per computed output row
};

/// Whether buildConvLayout copies `op`'s input into its im2col matrix (a
/// stride with a dilation on the same axis; a small image whose padded rows
/// would be a fifth garbage or more), as long as its offsets fit 32 bits.
bool prefersIm2col(Conv2DOp op);

/// Emits, at `b`'s insertion point, the copies (padding, phase planes or
/// im2col) that give `op`'s input the layout above, for a kernel that
/// computes pixels in blocks of `block`. Empty when an offset would not fit
/// in 32 bits.
std::optional<ConvLayout> buildConvLayout(mlir::OpBuilder &b,
                                          mlir::Location loc, Conv2DOp op,
                                          int64_t block);

/// The kernel's [N, O, computed pixels] result as `op`'s NCHW output: drops
/// the rounding and the garbage columns.
mlir::Value restoreConvOutput(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value result, Conv2DOp op,
                              int64_t rowWidth);

} // namespace sparsec

#endif
