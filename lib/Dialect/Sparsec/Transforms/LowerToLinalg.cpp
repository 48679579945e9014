//===- LowerToLinalg.cpp - sparsec layers to linalg on tensors ------------===//
//
// The host reference path: a weight with any encoding is executed as the
// dense (masked) tensor it holds.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/WalkPatternRewriteDriver.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECLOWERTOLINALG
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h.inc"
} // namespace sparsec

using namespace mlir;
using namespace sparsec;

namespace {

/// An output tensor of `type` holding the bias broadcast along `channelDim`,
/// or zeros when there is no bias.
Value createBiasInit(OpBuilder &b, Location loc, RankedTensorType type,
                     Value bias, unsigned channelDim,
                     ValueRange dynamicSizes = {}) {
  Value empty = tensor::EmptyOp::create(b, loc, type, dynamicSizes);
  if (!bias) {
    Value zero =
        arith::ConstantOp::create(b, loc, b.getZeroAttr(type.getElementType()));
    return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
  }
  unsigned rank = type.getRank();
  AffineMap biasMap = AffineMap::get(rank, 0, b.getAffineDimExpr(channelDim));
  SmallVector<AffineMap> maps = {biasMap, b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, type, ValueRange{bias}, ValueRange{empty}, maps, iters,
             [](OpBuilder &nb, Location nl, ValueRange args) {
               linalg::YieldOp::create(nb, nl, args[0]);
             })
      .getResult(0);
}

struct LowerLinear : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType inType = op.getInput().getType();
    RankedTensorType outType = op.getResult().getType();
    int64_t k = op.getReductionSize(), r = op.getNumRows();
    // A dynamic leading dim (--input-shape) makes the token count dynamic.
    int64_t batch = 1;
    for (int64_t d : inType.getShape().drop_back())
      batch = ShapedType::isDynamic(d) || ShapedType::isDynamic(batch)
                  ? ShapedType::kDynamic
                  : batch * d;
    Type elt = outType.getElementType();

    // View the input as [B, K].
    auto in2dType = RankedTensorType::get({batch, k}, elt);
    Value in2d = op.getInput();
    if (inType.getRank() != 2) {
      SmallVector<ReassociationIndices> reassoc;
      if (inType.getRank() == 1) {
        in2d = tensor::ExpandShapeOp::create(
            rewriter, loc, in2dType, in2d,
            ArrayRef<ReassociationIndices>{{0, 1}});
      } else {
        ReassociationIndices lead;
        for (int64_t i = 0; i + 1 < inType.getRank(); ++i)
          lead.push_back(i);
        reassoc = {lead, {inType.getRank() - 1}};
        in2d = tensor::CollapseShapeOp::create(rewriter, loc, in2dType, in2d,
                                               reassoc);
      }
    }
    auto out2dType = RankedTensorType::get({batch, r}, elt);
    SmallVector<Value> dynamicTokens;
    if (ShapedType::isDynamic(batch))
      dynamicTokens.push_back(tensor::DimOp::create(rewriter, loc, in2d, 0));
    Value init = createBiasInit(rewriter, loc, out2dType, op.getBias(), 1,
                                dynamicTokens);

    // out[b, r] += in[b, k] * w[r, k]
    MLIRContext *ctx = rewriter.getContext();
    AffineExpr db, dr, dk;
    bindDims(ctx, db, dr, dk);
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {db, dk}, ctx),
                                   AffineMap::get(3, 0, {dr, dk}, ctx),
                                   AffineMap::get(3, 0, {db, dr}, ctx)};
    SmallVector<utils::IteratorType> iters = {utils::IteratorType::parallel,
                                              utils::IteratorType::parallel,
                                              utils::IteratorType::reduction};
    Value result =
        linalg::GenericOp::create(
            rewriter, loc, out2dType, ValueRange{in2d, op.getWeight()},
            ValueRange{init}, maps, iters,
            [](OpBuilder &nb, Location nl, ValueRange args) {
              Value mul = arith::MulFOp::create(nb, nl, args[0], args[1]);
              Value add = arith::AddFOp::create(nb, nl, args[2], mul);
              linalg::YieldOp::create(nb, nl, add);
            })
            .getResult(0);

    if (outType.getRank() == 1) {
      result = tensor::CollapseShapeOp::create(
          rewriter, loc, outType, result,
          ArrayRef<ReassociationIndices>{{0, 1}});
    } else if (outType.getRank() != 2) {
      ReassociationIndices lead;
      for (int64_t i = 0; i + 1 < outType.getRank(); ++i)
        lead.push_back(i);
      SmallVector<ReassociationIndices> reassoc = {lead,
                                                   {outType.getRank() - 1}};
      // The leading sizes are the input's (some may be dynamic).
      SmallVector<OpFoldResult> sizes =
          tensor::getMixedSizes(rewriter, loc, op.getInput());
      sizes.back() = rewriter.getIndexAttr(r);
      result = tensor::ExpandShapeOp::create(rewriter, loc, outType, result,
                                             reassoc, sizes);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

struct LowerConv2D : OpRewritePattern<Conv2DOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(Conv2DOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType inType = op.getInput().getType();
    RankedTensorType wType = op.getWeight().getType();
    RankedTensorType outType = op.getResult().getType();
    Type elt = outType.getElementType();
    ArrayRef<int64_t> pads = op.getPads();

    Value input = op.getInput();
    if (llvm::any_of(pads, [](int64_t p) { return p != 0; })) {
      SmallVector<OpFoldResult> low = {
          rewriter.getIndexAttr(0), rewriter.getIndexAttr(0),
          rewriter.getIndexAttr(pads[0]), rewriter.getIndexAttr(pads[1])};
      SmallVector<OpFoldResult> high = {
          rewriter.getIndexAttr(0), rewriter.getIndexAttr(0),
          rewriter.getIndexAttr(pads[2]), rewriter.getIndexAttr(pads[3])};
      SmallVector<int64_t> paddedShape(inType.getShape());
      paddedShape[2] += pads[0] + pads[2];
      paddedShape[3] += pads[1] + pads[3];
      Value zero =
          arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(elt));
      input = tensor::PadOp::create(rewriter, loc,
                                    RankedTensorType::get(paddedShape, elt),
                                    input, low, high, zero);
    }
    auto i64x2 = RankedTensorType::get({2}, rewriter.getI64Type());
    auto strides = DenseIntElementsAttr::get(i64x2, op.getStrides());
    auto dilations = DenseIntElementsAttr::get(i64x2, op.getDilations());

    int64_t groups = op.getGroups();
    if (groups == 1) {
      Value init = createBiasInit(rewriter, loc, outType, op.getBias(), 1);
      Value result =
          linalg::Conv2DNchwFchwOp::create(rewriter, loc, TypeRange{outType},
                                           ValueRange{input, op.getWeight()},
                                           ValueRange{init}, strides, dilations)
              .getResult(0);
      rewriter.replaceOp(op, result);
      return success();
    }

    // Grouped: [N, G, C/G, H, W] x [G, F/G, C/G, kh, kw] -> [N, G, F/G, Ho,
    // Wo].
    auto inShape = cast<RankedTensorType>(input.getType()).getShape();
    int64_t cg = inShape[1] / groups, fg = wType.getDimSize(0) / groups;
    auto gInType = RankedTensorType::get(
        {inShape[0], groups, cg, inShape[2], inShape[3]}, elt);
    Value gIn = tensor::ExpandShapeOp::create(
        rewriter, loc, gInType, input,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    auto gWType = RankedTensorType::get(
        {groups, fg, cg, wType.getDimSize(2), wType.getDimSize(3)}, elt);
    Value gW = tensor::ExpandShapeOp::create(
        rewriter, loc, gWType, op.getWeight(),
        ArrayRef<ReassociationIndices>{{0, 1}, {2}, {3}, {4}});
    ArrayRef<int64_t> outShape = outType.getShape();
    auto gOutType = RankedTensorType::get(
        {outShape[0], groups, fg, outShape[2], outShape[3]}, elt);
    Value init = createBiasInit(rewriter, loc, outType, op.getBias(), 1);
    Value gInit = tensor::ExpandShapeOp::create(
        rewriter, loc, gOutType, init,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    Value gOut = linalg::Conv2DNgchwGfchwOp::create(
                     rewriter, loc, TypeRange{gOutType}, ValueRange{gIn, gW},
                     ValueRange{gInit}, strides, dilations)
                     .getResult(0);
    Value result = tensor::CollapseShapeOp::create(
        rewriter, loc, outType, gOut,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// A permutation becomes a gather along its axis from a constant index table.
struct LowerPermute : OpRewritePattern<PermuteOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PermuteOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    int64_t rank = type.getRank(), axis = op.getAxis();
    ArrayRef<int64_t> perm = op.getPermutation();
    auto tableType =
        RankedTensorType::get({int64_t(perm.size())}, rewriter.getI64Type());
    Value table = arith::ConstantOp::create(
        rewriter, loc, DenseIntElementsAttr::get(tableType, perm));
    Value init = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                         type.getElementType());
    SmallVector<AffineMap> maps = {rewriter.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    Value input = op.getInput();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, ValueRange{}, ValueRange{init}, maps,
        iters, [&](OpBuilder &b, Location l, ValueRange) {
          SmallVector<Value> idx;
          for (int64_t d = 0; d < rank; ++d)
            idx.push_back(linalg::IndexOp::create(b, l, d));
          Value source = tensor::ExtractOp::create(b, l, table, idx[axis]);
          idx[axis] =
              arith::IndexCastOp::create(b, l, b.getIndexType(), source);
          Value v = tensor::ExtractOp::create(b, l, input, idx);
          linalg::YieldOp::create(b, l, v);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

struct SparsecLowerToLinalgPass
    : sparsec::impl::SparsecLowerToLinalgBase<SparsecLowerToLinalgPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LowerLinear, LowerConv2D, LowerPermute>(&getContext());
    // A walk, not the greedy driver: folding reshapes of large weight
    // constants would copy them.
    walkAndApplyPatterns(getOperation(), std::move(patterns));
    bool leftover = false;
    getOperation().walk([&](Operation *op) {
      if (isa<LinearOp, Conv2DOp, PermuteOp>(op)) {
        op->emitError("could not lower sparsec op to linalg");
        leftover = true;
      }
    });
    if (leftover)
      signalPassFailure();
  }
};

} // namespace
