//===- DepthwiseConv.h - depthwise convolutions in one pass -----*- C++ -*-===//
//
// A depthwise convolution (groups = input channels) does 9 MACs per output
// for a 3x3 kernel: it is bound by memory, not by FMAs, so what counts is how
// often its input and output are touched. The direct kernel reads the NCHW
// input where it lies and writes the NCHW output once: no padded copy, no
// phase planes, no computed garbage columns to slice off.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_TARGET_HOST_DEPTHWISECONV_H
#define SPARSEC_LIB_TARGET_HOST_DEPTHWISECONV_H

#include "Epilogue.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"

namespace sparsec {

/// Whether the direct kernel runs `op`: groups equal to the input channels
/// (any channel multiplier), static f32 shapes, a horizontal stride of 1 or
/// 2 (any vertical stride, any dilation).
bool isDirectDepthwise(Conv2DOp op);

/// Emits `op`'s output, out[n, o, y, x] = bias[o] + sum_{i,j} W[o, 0, i, j] *
/// in[n, o / m, y*sh + i*dh - top, x*sw + j*dw - left] (m = O / C, taps
/// outside the input read zero), as an [N, O, OH, OW] tensor computed with
/// vectors of `vectorWidth` output pixels along x. `weights` is W in OIHW
/// order, `bias` has O values or none. The output buffer's memref.alloc
/// carries `sparsec.cpu.kernel` (kind conv_depthwise).
mlir::Value emitDepthwiseConv(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::ModuleOp module, Conv2DOp op,
                              llvm::ArrayRef<float> weights,
                              llvm::ArrayRef<float> bias, int64_t vectorWidth,
                              llvm::StringRef symbolPrefix,
                              const VectorEpilogue &epilogue = nullptr);

} // namespace sparsec

#endif
