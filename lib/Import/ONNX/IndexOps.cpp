//===- IndexOps.cpp - ops that compute with element positions -------------===//
//
// Trilu (the causal masks torch exports), GatherElements, ArgMax/ArgMin
// (greedy decoding) and CumSum (position ids from an attention mask): each
// one linalg.generic whose body reads linalg.index.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

using namespace mlir;

namespace sparsec::onnx_import {

namespace {

/// The integer scalar of constant input `i`, or `def` when absent.
FailureOr<int64_t> constantScalar(Importer &im, unsigned i, int64_t def,
                                  StringRef what) {
  if (!im.hasInput(i))
    return def;
  const HostTensor *t = im.constInput(i);
  if (!t)
    return im.error(what + Twine(" must be a compile-time constant"));
  if (t->numElements() != 1 || t->isFloat())
    return im.error(what + Twine(" must be one integer"));
  return t->intAt(0);
}

Value indexAt(OpBuilder &b, Location l, int64_t dim) {
  return linalg::IndexOp::create(b, l, dim);
}

/// A runtime index into an axis of `size`: negative wraps once, then clamps
/// so that no value can read outside the buffer.
Value wrapAndClamp(OpBuilder &b, Location l, Value index, int64_t size) {
  Value idx = arith::IndexCastOp::create(b, l, b.getIndexType(), index);
  Value zero = arith::ConstantIndexOp::create(b, l, 0);
  Value neg = arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, idx, zero);
  Value wrapped = arith::AddIOp::create(
      b, l, idx, arith::ConstantIndexOp::create(b, l, size));
  idx = arith::SelectOp::create(b, l, neg, wrapped, idx);
  idx = arith::MaxSIOp::create(b, l, idx, zero);
  return arith::MinSIOp::create(b, l, idx,
                                arith::ConstantIndexOp::create(b, l, size - 1));
}

LogicalResult lowerTrilu(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  RankedTensorType t = Importer::typeOf(x);
  if (t.getRank() < 2)
    return im.error("Trilu needs a rank of at least 2");
  FailureOr<int64_t> k = constantScalar(im, 1, 0, "the diagonal offset k");
  if (failed(k))
    return failure();
  bool upper = im.attrInt("upper", 1) != 0;
  int64_t rank = t.getRank();
  Type elt = t.getElementType();
  OpBuilder &b = im.builder();
  SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  int64_t offset = *k;
  Value result =
      linalg::GenericOp::create(
          b, im.loc(), t, ValueRange{x},
          ValueRange{im.emptyTensor(t.getShape(), elt)}, maps, iters,
          [&](OpBuilder &nb, Location l, ValueRange a) {
            // Kept: j - i >= k (upper) or j - i <= k (lower).
            Value i = indexAt(nb, l, rank - 2), j = indexAt(nb, l, rank - 1);
            Value diff = arith::SubIOp::create(nb, l, j, i);
            Value kv = arith::ConstantIndexOp::create(nb, l, offset);
            Value keep = arith::CmpIOp::create(
                nb, l,
                upper ? arith::CmpIPredicate::sge : arith::CmpIPredicate::sle,
                diff, kv);
            Value zero =
                isa<FloatType>(elt)
                    ? arith::ConstantOp::create(nb, l, nb.getFloatAttr(elt, 0))
                          .getResult()
                    : arith::ConstantOp::create(nb, l,
                                                nb.getIntegerAttr(elt, 0))
                          .getResult();
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::SelectOp::create(nb, l, keep, a[0], zero)});
          })
          .getResult(0);
  im.setOutput(0, result);
  return success();
}

LogicalResult lowerGatherElements(Importer &im) {
  Value data = im.input(0), indices = im.input(1);
  if (!data || !indices)
    return failure();
  RankedTensorType dt = Importer::typeOf(data), it = Importer::typeOf(indices);
  if (dt.getRank() != it.getRank())
    return im.error("data and indices differ in rank");
  if (!isa<IntegerType>(it.getElementType()))
    return im.error("GatherElements indices must be integers");
  FailureOr<int64_t> axis =
      im.normalizeAxis(im.attrInt("axis", 0), dt.getRank());
  if (failed(axis))
    return failure();
  int64_t rank = dt.getRank(), dim = dt.getDimSize(*axis);
  for (int64_t d = 0; d < rank; ++d)
    if (d != *axis && it.getDimSize(d) > dt.getDimSize(d))
      return im.error("indices dimension " + Twine(d) + " exceeds data's");
  if (const HostTensor *idx = im.constInput(1))
    for (int64_t k = 0; k < idx->numElements(); ++k)
      if (idx->intAt(k) < -dim || idx->intAt(k) >= dim)
        return im.error("index " + Twine(idx->intAt(k)) +
                        " is out of range for axis size " + Twine(dim));
  OpBuilder &b = im.builder();
  SmallVector<AffineMap> maps(2, b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  int64_t axisV = *axis;
  auto resultType = RankedTensorType::get(it.getShape(), dt.getElementType());
  Value result =
      linalg::GenericOp::create(
          b, im.loc(), resultType, ValueRange{indices},
          ValueRange{im.emptyTensor(it.getShape(), dt.getElementType())}, maps,
          iters,
          [&](OpBuilder &nb, Location l, ValueRange a) {
            SmallVector<Value> coords;
            for (int64_t d = 0; d < rank; ++d)
              coords.push_back(d == axisV ? wrapAndClamp(nb, l, a[0], dim)
                                          : indexAt(nb, l, d));
            linalg::YieldOp::create(
                nb, l,
                ValueRange{tensor::ExtractOp::create(nb, l, data, coords)});
          })
          .getResult(0);
  im.setOutput(0, result);
  return success();
}

/// ArgMax / ArgMin: a reduction carrying the best value and its index.
LogicalResult lowerArgExtreme(Importer &im, bool isMax) {
  Value x = im.input(0);
  if (!x)
    return failure();
  RankedTensorType t = Importer::typeOf(x);
  FailureOr<int64_t> axis =
      im.normalizeAxis(im.attrInt("axis", 0), t.getRank());
  if (failed(axis))
    return failure();
  bool keepdims = im.attrInt("keepdims", 1) != 0;
  bool last = im.attrInt("select_last_index", 0) != 0;
  Type elt = t.getElementType();
  bool isFloat = isa<FloatType>(elt);
  if (!isFloat && elt.getIntOrFloatBitWidth() == 1)
    return im.error("ArgMax/ArgMin on booleans is not supported");
  int64_t rank = t.getRank();
  OpBuilder &b = im.builder();
  SmallVector<int64_t> outShape;
  SmallVector<AffineExpr> outExprs;
  SmallVector<utils::IteratorType> iters;
  for (int64_t d = 0; d < rank; ++d) {
    if (d == *axis) {
      iters.push_back(utils::IteratorType::reduction);
      continue;
    }
    outShape.push_back(t.getDimSize(d));
    outExprs.push_back(b.getAffineDimExpr(d));
    iters.push_back(utils::IteratorType::parallel);
  }
  double worst = isMax ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
  Value bestInit;
  if (isFloat) {
    bestInit = im.fill(outShape, elt, worst);
  } else {
    unsigned width = elt.getIntOrFloatBitWidth();
    APInt bound = isMax ? APInt::getSignedMinValue(width)
                        : APInt::getSignedMaxValue(width);
    Value scalar =
        arith::ConstantOp::create(b, im.loc(), b.getIntegerAttr(elt, bound));
    bestInit = linalg::FillOp::create(b, im.loc(), scalar,
                                      im.emptyTensor(outShape, elt))
                   .getResult(0);
  }
  Type i64 = b.getI64Type();
  // Index -1 until something is taken: the first element always is.
  Value indexInit = im.fill(outShape, i64, -1);
  AffineMap outMap = AffineMap::get(rank, 0, outExprs, im.ctx());
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank), outMap,
                                 outMap};
  int64_t axisV = *axis;
  auto generic = linalg::GenericOp::create(
      b, im.loc(), TypeRange{bestInit.getType(), indexInit.getType()},
      ValueRange{x}, ValueRange{bestInit, indexInit}, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange a) {
        Value v = a[0], best = a[1], bestIndex = a[2];
        Value better;
        if (isFloat)
          better =
              arith::CmpFOp::create(nb, l,
                                    isMax ? (last ? arith::CmpFPredicate::OGE
                                                  : arith::CmpFPredicate::OGT)
                                          : (last ? arith::CmpFPredicate::OLE
                                                  : arith::CmpFPredicate::OLT),
                                    v, best);
        else
          better =
              arith::CmpIOp::create(nb, l,
                                    isMax ? (last ? arith::CmpIPredicate::sge
                                                  : arith::CmpIPredicate::sgt)
                                          : (last ? arith::CmpIPredicate::sle
                                                  : arith::CmpIPredicate::slt),
                                    v, best);
        Value none = arith::CmpIOp::create(
            nb, l, arith::CmpIPredicate::slt, bestIndex,
            arith::ConstantOp::create(nb, l, nb.getI64IntegerAttr(0)));
        Value take = arith::OrIOp::create(nb, l, better, none);
        Value position = arith::IndexCastOp::create(nb, l, nb.getI64Type(),
                                                    indexAt(nb, l, axisV));
        linalg::YieldOp::create(
            nb, l,
            ValueRange{
                arith::SelectOp::create(nb, l, take, v, best),
                arith::SelectOp::create(nb, l, take, position, bestIndex)});
      });
  Value result = generic.getResult(1);
  if (keepdims) {
    SmallVector<int64_t> kept(t.getShape());
    kept[*axis] = 1;
    result = im.reshape(result, kept);
  }
  im.setOutput(0, result);
  return success();
}

/// CumSum as a reduction over a second copy of the axis: out[i] = Σ x[j]
/// over j <= i (j < i exclusive; j >= i or j > i reversed).
LogicalResult lowerCumSum(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  RankedTensorType t = Importer::typeOf(x);
  FailureOr<int64_t> axisValue = constantScalar(im, 1, 0, "the CumSum axis");
  if (failed(axisValue))
    return failure();
  FailureOr<int64_t> axis = im.normalizeAxis(*axisValue, t.getRank());
  if (failed(axis))
    return failure();
  bool exclusive = im.attrInt("exclusive", 0) != 0;
  bool reverse = im.attrInt("reverse", 0) != 0;
  Type elt = t.getElementType();
  if (!isa<FloatType>(elt) && elt.getIntOrFloatBitWidth() == 1)
    return im.error("CumSum on booleans is not supported");
  int64_t rank = t.getRank();
  OpBuilder &b = im.builder();
  // Loop dims: the output's, then j (the summed position) last.
  SmallVector<AffineExpr> inExprs, outExprs;
  for (int64_t d = 0; d < rank; ++d) {
    outExprs.push_back(b.getAffineDimExpr(d));
    inExprs.push_back(b.getAffineDimExpr(d == *axis ? rank : d));
  }
  SmallVector<AffineMap> maps = {
      AffineMap::get(rank + 1, 0, inExprs, im.ctx()),
      AffineMap::get(rank + 1, 0, outExprs, im.ctx())};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  iters.push_back(utils::IteratorType::reduction);
  int64_t axisV = *axis;
  Value result =
      linalg::GenericOp::create(
          b, im.loc(), t, ValueRange{x},
          ValueRange{im.fill(t.getShape(), elt, 0)}, maps, iters,
          [&](OpBuilder &nb, Location l, ValueRange a) {
            Value i = indexAt(nb, l, axisV), j = indexAt(nb, l, rank);
            arith::CmpIPredicate predicate =
                reverse ? (exclusive ? arith::CmpIPredicate::sgt
                                     : arith::CmpIPredicate::sge)
                        : (exclusive ? arith::CmpIPredicate::slt
                                     : arith::CmpIPredicate::sle);
            Value counted = arith::CmpIOp::create(nb, l, predicate, j, i);
            Value sum =
                isa<FloatType>(elt)
                    ? arith::AddFOp::create(nb, l, a[1], a[0]).getResult()
                    : arith::AddIOp::create(nb, l, a[1], a[0]).getResult();
            linalg::YieldOp::create(
                nb, l,
                ValueRange{arith::SelectOp::create(nb, l, counted, sum, a[1])});
          })
          .getResult(0);
  im.setOutput(0, result);
  return success();
}

} // namespace

void registerIndexLowerings(LoweringTable &t) {
  t["Trilu"] = {lowerTrilu, 1, 2};
  t["GatherElements"] = {lowerGatherElements, 2, 2};
  t["ArgMax"] = {[](Importer &im) { return lowerArgExtreme(im, true); }, 1, 1};
  t["ArgMin"] = {[](Importer &im) { return lowerArgExtreme(im, false); }, 1, 1};
  t["CumSum"] = {lowerCumSum, 2, 2};
}

} // namespace sparsec::onnx_import
