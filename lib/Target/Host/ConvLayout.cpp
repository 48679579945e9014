//===- ConvLayout.cpp - a convolution's activations as its kernel reads them =//
#include "ConvLayout.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

using namespace mlir;

namespace sparsec {
namespace {

/// One spatial dimension of the layout: a tap t of the kernel reads phase
/// plane `phase(t)` at `shift(t)` rows (or columns) past the output's.
struct Axis {
  int64_t stride, dilation;
  int64_t phase(int64_t tap) const { return stride > 1 ? tap % stride : 0; }
  int64_t shift(int64_t tap) const {
    return stride > 1 ? tap / stride : tap * dilation;
  }
};

Value padInput(OpBuilder &b, Location loc, Value input, int64_t top,
               int64_t left, int64_t bottom, int64_t right) {
  auto type = cast<RankedTensorType>(input.getType());
  SmallVector<int64_t> padded(type.getShape());
  padded[2] += top + bottom;
  padded[3] += left + right;
  auto index = [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); };
  Type f32 = type.getElementType();
  Value zero = arith::ConstantOp::create(b, loc, b.getZeroAttr(f32));
  return tensor::PadOp::create(
      b, loc, RankedTensorType::get(padded, f32), input,
      {index(0), index(0), index(top), index(left)},
      {index(0), index(0), index(bottom), index(right)}, zero);
}

/// A copy of `input` into a new tensor of `type`: element `i` of the result
/// is input[inMap(i)].
Value gatherCopy(OpBuilder &b, Location loc, Value input, RankedTensorType type,
                 AffineMap inMap) {
  int64_t rank = type.getRank();
  Value empty =
      tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType());
  return linalg::GenericOp::create(
             b, loc, type, ValueRange{input}, ValueRange{empty},
             {inMap, b.getMultiDimIdentityMap(rank)},
             SmallVector<utils::IteratorType>(rank,
                                              utils::IteratorType::parallel),
             [](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl, args[0]);
             })
      .getResult(0);
}

/// The im2col matrix [N, C, KH, KW, OH, OW] of the padded input, flat per
/// image: column k starts at k * OH * OW.
std::optional<ConvLayout> im2colLayout(OpBuilder &b, Location loc,
                                       Conv2DOp op) {
  RankedTensorType outType = op.getResult().getType();
  RankedTensorType wType = op.getWeight().getType();
  int64_t n = outType.getDimSize(0), oh = outType.getDimSize(2),
          ow = outType.getDimSize(3);
  int64_t c = op.getInput().getType().getDimSize(1), kh = wType.getDimSize(2),
          kw = wType.getDimSize(3);
  int64_t cols = c * kh * kw;
  if (cols * oh * ow >= std::numeric_limits<int32_t>::max())
    return std::nullopt;
  ArrayRef<int64_t> pads = op.getPads(), strides = op.getStrides(),
                    dilations = op.getDilations();
  Value input = op.getInput();
  if (llvm::any_of(pads, [](int64_t p) { return p != 0; }))
    input = padInput(b, loc, input, pads[0], pads[1], pads[2], pads[3]);
  MLIRContext *ctx = b.getContext();
  AffineExpr dn, dc, di, dj, dy, dx;
  bindDims(ctx, dn, dc, di, dj, dy, dx);
  AffineMap inMap = AffineMap::get(6, 0,
                                   {dn, dc, dy * strides[0] + di * dilations[0],
                                    dx * strides[1] + dj * dilations[1]},
                                   ctx);
  Type f32 = b.getF32Type();
  Value im2col = gatherCopy(
      b, loc, input, RankedTensorType::get({n, c, kh, kw, oh, ow}, f32), inMap);
  ConvLayout layout;
  layout.activations.flat = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({n, cols * oh * ow}, f32), im2col,
      ArrayRef<ReassociationIndices>{{0}, {1, 2, 3, 4, 5}});
  for (int64_t k = 0; k < cols; ++k)
    layout.activations.columnOffsets.push_back(int32_t(k * oh * ow));
  layout.activations.pixels = oh * ow;
  layout.activations.im2col = true;
  layout.rowWidth = ow;
  return layout;
}

} // namespace

bool prefersIm2col(Conv2DOp op) {
  ArrayRef<int64_t> pads = op.getPads(), strides = op.getStrides(),
                    dilations = op.getDilations();
  // A stride with a dilation: taps of one phase are not contiguous.
  if ((strides[0] > 1 && dilations[0] > 1) ||
      (strides[1] > 1 && dilations[1] > 1))
    return true;
  // Small images waste a large share of each row on garbage columns (a
  // 3x3 kernel on 7x7 pixels computes 9 per 7): there the im2col copy
  // costs less than the FMAs it saves (measured 11 % faster on ResNet's
  // 7x7 layers, neutral at 14x14: bench/results/cpu_conv.md).
  int64_t paddedWidth =
      op.getInput().getType().getDimSize(3) + pads[1] + pads[3];
  int64_t ow = op.getResult().getType().getDimSize(3);
  return strides[0] == 1 && strides[1] == 1 &&
         5 * (paddedWidth - ow) >= paddedWidth;
}

std::optional<ConvLayout> buildConvLayout(OpBuilder &b, Location loc,
                                          Conv2DOp op, int64_t block) {
  ArrayRef<int64_t> pads = op.getPads(), strides = op.getStrides(),
                    dilations = op.getDilations();
  Axis rowsAxis{strides[0], dilations[0]}, colsAxis{strides[1], dilations[1]};
  // A stride with a dilation has no other layout.
  if ((rowsAxis.stride > 1 && rowsAxis.dilation > 1) ||
      (colsAxis.stride > 1 && colsAxis.dilation > 1))
    return im2colLayout(b, loc, op);
  if (prefersIm2col(op))
    if (std::optional<ConvLayout> layout = im2colLayout(b, loc, op))
      return layout;

  RankedTensorType inType = op.getInput().getType();
  RankedTensorType outType = op.getResult().getType();
  RankedTensorType wType = op.getWeight().getType();
  int64_t n = inType.getDimSize(0), c = inType.getDimSize(1),
          h = inType.getDimSize(2), w = inType.getDimSize(3);
  int64_t oh = outType.getDimSize(2);
  int64_t kh = wType.getDimSize(2), kw = wType.getDimSize(3);
  int64_t sh = rowsAxis.stride, sw = colsAxis.stride;
  // Output pixel (y, x), tap (ci, i, j) reads padded[ci, y*sh + i*dh,
  // x*sw + j*dw] = plane (ci, phase(i), phase(j)) at row y + shift(i),
  // column x + shift(j).
  int64_t planeRows = llvm::divideCeil(h + pads[0] + pads[2], sh);
  int64_t planeCols = llvm::divideCeil(w + pads[1] + pads[3], sw);
  int64_t computed = int64_t(llvm::divideCeil(oh * planeCols, block)) * block;
  int64_t maxShift =
      rowsAxis.shift(kh - 1) * planeCols + colsAxis.shift(kw - 1);
  bool copies =
      sh > 1 || sw > 1 || llvm::any_of(pads, [](int64_t p) { return p != 0; });
  // When the input is copied anyway, zero rows at the bottom of each plane
  // keep the last block's reads inside it; in place, they are masked.
  if (copies)
    planeRows = std::max<int64_t>(
        planeRows, llvm::divideCeil(maxShift + computed, planeCols));
  int64_t planeSize = planeRows * planeCols;
  // Taps 0..k-1 read phases 0..min(k, s)-1: a 1x1 strided convolution
  // only the first plane, which is all that is copied.
  int64_t rowPhases = std::min(kh, sh), colPhases = std::min(kw, sw);
  if (c * rowPhases * colPhases * planeSize >=
      std::numeric_limits<int32_t>::max())
    return std::nullopt;

  Type f32 = b.getF32Type();
  Value input = op.getInput();
  if (copies)
    input =
        padInput(b, loc, input, pads[0], pads[1], sh * planeRows - h - pads[0],
                 sw * planeCols - w - pads[1]);
  if (sh > 1 || sw > 1) {
    // planes[n, c, a, b, u, v] = padded[n, c, u*sh + a, v*sw + b], for the
    // phases a < rowPhases, b < colPhases that some tap reads
    MLIRContext *ctx = b.getContext();
    AffineExpr dn, dc, da, db, du, dv;
    bindDims(ctx, dn, dc, da, db, du, dv);
    AffineMap inMap =
        AffineMap::get(6, 0, {dn, dc, du * sh + da, dv * sw + db}, ctx);
    Value planes =
        gatherCopy(b, loc, input,
                   RankedTensorType::get(
                       {n, c, rowPhases, colPhases, planeRows, planeCols}, f32),
                   inMap);
    input = tensor::CollapseShapeOp::create(
        b, loc,
        RankedTensorType::get(
            {n, c, rowPhases * colPhases * planeRows, planeCols}, f32),
        planes, ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3, 4}, {5}});
  }
  ConvLayout layout;
  layout.activations.flat = tensor::CollapseShapeOp::create(
      b, loc,
      RankedTensorType::get({n, c * rowPhases * colPhases * planeSize}, f32),
      input, ArrayRef<ReassociationIndices>{{0}, {1, 2, 3}});
  for (int64_t ci = 0; ci < c; ++ci)
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) {
        int64_t plane = (ci * rowPhases + rowsAxis.phase(i)) * colPhases +
                        colsAxis.phase(j);
        layout.activations.columnOffsets.push_back(
            int32_t(plane * planeSize + rowsAxis.shift(i) * planeCols +
                    colsAxis.shift(j)));
      }
  layout.activations.pixels = oh * planeCols;
  layout.rowWidth = planeCols;
  return layout;
}

Value restoreConvOutput(OpBuilder &b, Location loc, Value result, Conv2DOp op,
                        int64_t rowWidth) {
  RankedTensorType outType = op.getResult().getType();
  int64_t n = outType.getDimSize(0), rows = outType.getDimSize(1),
          oh = outType.getDimSize(2), ow = outType.getDimSize(3);
  Type f32 = b.getF32Type();
  auto index = [&](int64_t v) -> OpFoldResult { return b.getIndexAttr(v); };
  int64_t computed = cast<RankedTensorType>(result.getType()).getDimSize(2);
  if (computed != oh * rowWidth)
    result = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({n, rows, oh * rowWidth}, f32), result,
        ArrayRef<OpFoldResult>{index(0), index(0), index(0)},
        ArrayRef<OpFoldResult>{index(n), index(rows), index(oh * rowWidth)},
        ArrayRef<OpFoldResult>{index(1), index(1), index(1)});
  result = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({n, rows, oh, rowWidth}, f32), result,
      ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
  if (rowWidth != ow)
    result = tensor::ExtractSliceOp::create(
        b, loc, outType, result,
        ArrayRef<OpFoldResult>{index(0), index(0), index(0), index(0)},
        ArrayRef<OpFoldResult>{index(n), index(rows), index(oh), index(ow)},
        ArrayRef<OpFoldResult>{index(1), index(1), index(1), index(1)});
  return result;
}

} // namespace sparsec
