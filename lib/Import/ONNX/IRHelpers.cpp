//===- IRHelpers.cpp - linalg/tensor building blocks for the importer -----===//
#include "Importer.h"

using namespace mlir;

namespace sparsec::onnx_import {

Value Importer::emptyTensor(ArrayRef<int64_t> shape, Type elt) {
  return tensor::EmptyOp::create(b, curLoc, shape, elt);
}

Value Importer::fill(ArrayRef<int64_t> shape, Type elt, double v) {
  return fill(getAsIndexOpFoldResult(ctx(), shape), elt, v);
}

FailureOr<Value> Importer::elementwise(ArrayRef<Value> inputs, Type resultElt,
                                       const BodyBuilder &body) {
  // Numpy broadcasting of all input shapes. A dynamic dim broadcasts like a
  // size other than 1 (the bounds of --input-shape say it is not 1, or the
  // model must not rely on it); two dynamic dims must be the same size.
  int64_t rank = 0;
  for (Value v : inputs)
    rank = std::max(rank, typeOf(v).getRank());
  SmallVector<int64_t> shape(rank, 1);
  SmallVector<Value> dynamicFrom(rank);
  SmallVector<int64_t> dynamicDim(rank, 0);
  for (Value v : inputs) {
    ArrayRef<int64_t> s = typeOf(v).getShape();
    for (int64_t i = 0, e = s.size(); i < e; ++i) {
      int64_t at = rank - e + i;
      int64_t &out = shape[at];
      if (ShapedType::isDynamic(s[i])) {
        if (!dynamicFrom[at]) {
          if (out != 1) {
            (void)error("cannot broadcast a dynamic dimension against size " +
                        Twine(out) + " at axis " + Twine(at) +
                        "; give it a static size with --input-shape");
            return failure();
          }
          dynamicFrom[at] = v;
          dynamicDim[at] = i;
          out = ShapedType::kDynamic;
          continue;
        }
        FailureOr<SymDim> mine = symbolicDim(v, i),
                          theirs = symbolicDim(dynamicFrom[at], dynamicDim[at]);
        if (failed(mine) || failed(theirs) || *mine != *theirs) {
          (void)error("cannot tell that the dynamic dimensions of the "
                      "operands at axis " +
                      Twine(at) + " are the same size");
          return failure();
        }
        continue;
      }
      if (s[i] == out || s[i] == 1)
        continue;
      // A dynamic dim against a static size other than 1: it could be 1 at
      // run time (then ONNX broadcasts it) or another size (an error), and
      // the loops would read past it either way.
      if (ShapedType::isDynamic(out)) {
        (void)error("cannot broadcast a dynamic dimension against size " +
                    Twine(s[i]) + " at axis " + Twine(at) +
                    "; give it a static size with --input-shape");
        return failure();
      }
      if (out != 1) {
        (void)error("operand shapes are not broadcast-compatible at axis " +
                    Twine(at) + " (" + Twine(out) + " vs " + Twine(s[i]) + ")");
        return failure();
      }
      out = s[i];
    }
  }
  SmallVector<AffineMap> maps;
  for (Value v : inputs) {
    ArrayRef<int64_t> s = typeOf(v).getShape();
    SmallVector<AffineExpr> exprs;
    for (int64_t i = 0, e = s.size(); i < e; ++i)
      exprs.push_back(s[i] == 1 && shape[rank - e + i] != 1
                          ? b.getAffineConstantExpr(0)
                          : b.getAffineDimExpr(rank - e + i));
    maps.push_back(AffineMap::get(rank, 0, exprs, ctx()));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  SmallVector<OpFoldResult> sizes;
  for (int64_t i = 0; i < rank; ++i)
    sizes.push_back(ShapedType::isDynamic(shape[i])
                        ? dimSize(dynamicFrom[i], dynamicDim[i])
                        : OpFoldResult(b.getIndexAttr(shape[i])));
  Value init = emptyTensor(sizes, resultElt);
  auto op = linalg::GenericOp::create(
      b, curLoc, init.getType(), inputs, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value r = body(nb, nl, args.drop_back());
        linalg::YieldOp::create(nb, nl, r);
      });
  return op.getResult(0);
}

Value Importer::reshape(Value v, ArrayRef<int64_t> shape) {
  RankedTensorType type = typeOf(v);
  if (type.getShape() == shape)
    return v;
  auto target = RankedTensorType::get(shape, type.getElementType());
  // Collapse to 1-D, then expand: always valid for static shapes. Rank-0
  // tensors reshape with an empty reassociation.
  if (type.getRank() == 0)
    return tensor::ExpandShapeOp::create(b, curLoc, target, v,
                                         ArrayRef<ReassociationIndices>{});
  if (shape.empty())
    return tensor::CollapseShapeOp::create(b, curLoc, target, v,
                                           ArrayRef<ReassociationIndices>{});
  Value flat = v;
  int64_t count = type.getNumElements();
  if (type.getRank() != 1) {
    ReassociationIndices all;
    for (int64_t i = 0; i < type.getRank(); ++i)
      all.push_back(i);
    flat = tensor::CollapseShapeOp::create(
        b, curLoc, RankedTensorType::get({count}, type.getElementType()), v,
        ArrayRef<ReassociationIndices>{all});
  }
  if (shape.size() == 1)
    return flat;
  ReassociationIndices all;
  for (size_t i = 0; i < shape.size(); ++i)
    all.push_back(i);
  return tensor::ExpandShapeOp::create(b, curLoc, target, flat,
                                       ArrayRef<ReassociationIndices>{all});
}

Value Importer::transpose(Value v, ArrayRef<int64_t> perm) {
  RankedTensorType type = typeOf(v);
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i)
    identity &= perm[i] == int64_t(i);
  if (identity)
    return v;
  SmallVector<OpFoldResult> sizes;
  for (int64_t p : perm)
    sizes.push_back(dimSize(v, p));
  Value init = emptyTensor(sizes, type.getElementType());
  return linalg::TransposeOp::create(b, curLoc, v, init, perm).getResult()[0];
}

static Value combine(OpBuilder &b, Location loc, ReduceKind kind, Value acc,
                     Value x) {
  bool isFloat = isa<FloatType>(x.getType());
  switch (kind) {
  case ReduceKind::Sum:
  case ReduceKind::Mean:
    return isFloat ? arith::AddFOp::create(b, loc, acc, x).getResult()
                   : arith::AddIOp::create(b, loc, acc, x).getResult();
  case ReduceKind::Prod:
    return isFloat ? arith::MulFOp::create(b, loc, acc, x).getResult()
                   : arith::MulIOp::create(b, loc, acc, x).getResult();
  // Booleans (ReduceMax/Min since opset 20) compare unsigned: as signed
  // i1, true is -1 and would lose to false.
  case ReduceKind::Max:
    if (isFloat)
      return arith::MaximumFOp::create(b, loc, acc, x).getResult();
    if (x.getType().isInteger(1))
      return arith::MaxUIOp::create(b, loc, acc, x).getResult();
    return arith::MaxSIOp::create(b, loc, acc, x).getResult();
  case ReduceKind::Min:
    if (isFloat)
      return arith::MinimumFOp::create(b, loc, acc, x).getResult();
    if (x.getType().isInteger(1))
      return arith::MinUIOp::create(b, loc, acc, x).getResult();
    return arith::MinSIOp::create(b, loc, acc, x).getResult();
  }
  llvm_unreachable("bad reduce kind");
}

Value Importer::reduce(Value v, ArrayRef<int64_t> axes, bool keepdims,
                       ReduceKind kind) {
  RankedTensorType type = typeOf(v);
  Type elt = type.getElementType();
  int64_t rank = type.getRank();
  SmallVector<bool> reduced(rank, false);
  for (int64_t a : axes)
    reduced[a] = true;
  SmallVector<OpFoldResult> outShape;
  SmallVector<int64_t> keptShape;
  SmallVector<AffineExpr> outExprs;
  SmallVector<utils::IteratorType> iters;
  int64_t count = 1;
  SmallVector<int64_t> dynamicReduced;
  for (int64_t i = 0; i < rank; ++i) {
    if (reduced[i]) {
      if (type.isDynamicDim(i))
        dynamicReduced.push_back(i);
      else
        count *= type.getDimSize(i);
      iters.push_back(utils::IteratorType::reduction);
      keptShape.push_back(1);
    } else {
      outShape.push_back(dimSize(v, i));
      keptShape.push_back(type.getDimSize(i));
      outExprs.push_back(b.getAffineDimExpr(i));
      iters.push_back(utils::IteratorType::parallel);
    }
  }
  double identity = 0;
  bool isFloat = isa<FloatType>(elt);
  if (kind == ReduceKind::Prod)
    identity = 1;
  else if (kind == ReduceKind::Max)
    identity = isFloat ? -std::numeric_limits<double>::infinity()
                       : double(std::numeric_limits<int64_t>::min());
  else if (kind == ReduceKind::Min)
    identity = isFloat ? std::numeric_limits<double>::infinity()
                       : double(std::numeric_limits<int64_t>::max());
  Value init;
  if (!isFloat && (kind == ReduceKind::Max || kind == ReduceKind::Min)) {
    unsigned width = elt.getIntOrFloatBitWidth();
    bool isBool = width == 1;
    APInt bound =
        kind == ReduceKind::Max
            ? (isBool ? APInt::getMinValue(1) : APInt::getSignedMinValue(width))
            : (isBool ? APInt::getMaxValue(1)
                      : APInt::getSignedMaxValue(width));
    Value scalar =
        arith::ConstantOp::create(b, curLoc, b.getIntegerAttr(elt, bound));
    init = linalg::FillOp::create(b, curLoc, scalar, emptyTensor(outShape, elt))
               .getResult(0);
  } else {
    init = fill(outShape, elt, identity);
  }
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank),
                                 AffineMap::get(rank, 0, outExprs, ctx())};
  Value result = linalg::GenericOp::create(
                     b, curLoc, init.getType(), ValueRange{v}, ValueRange{init},
                     maps, iters,
                     [&](OpBuilder &nb, Location nl, ValueRange args) {
                       linalg::YieldOp::create(
                           nb, nl, combine(nb, nl, kind, args[1], args[0]));
                     })
                     .getResult(0);
  if (kind == ReduceKind::Mean) {
    Value divisor = scalarConstant(elt, double(count));
    // A dynamic reduced dim divides at run time.
    for (int64_t i : dynamicReduced) {
      Value size = arith::IndexCastOp::create(
          b, curLoc, b.getI64Type(),
          tensor::DimOp::create(b, curLoc, v, i).getResult());
      Value converted = size;
      if (isFloat)
        converted = arith::SIToFPOp::create(b, curLoc, elt, size);
      else if (elt.getIntOrFloatBitWidth() < 64)
        converted = arith::TruncIOp::create(b, curLoc, elt, size);
      divisor =
          isFloat
              ? arith::MulFOp::create(b, curLoc, divisor, converted).getResult()
              : arith::MulIOp::create(b, curLoc, divisor, converted)
                    .getResult();
    }
    result = *elementwise(
        {result}, elt, [&](OpBuilder &nb, Location nl, ValueRange a) {
          return isFloat
                     ? arith::DivFOp::create(nb, nl, a[0], divisor).getResult()
                     : arith::DivSIOp::create(nb, nl, a[0], divisor)
                           .getResult();
        });
  }
  if (keepdims) {
    if (type.hasStaticShape())
      return reshape(result, keptShape);
    // Unit dims inserted next to the kept ones: the sizes are the input's.
    SmallVector<ReassociationIndices> groups;
    SmallVector<OpFoldResult> sizes;
    for (int64_t i = 0; i < rank; ++i) {
      sizes.push_back(reduced[i] ? OpFoldResult(b.getIndexAttr(1))
                                 : dimSize(v, i));
      if (!reduced[i] || groups.empty())
        groups.emplace_back();
      groups.back().push_back(i);
    }
    // Leading reduced dims join the first kept dim's group.
    if (outShape.empty())
      return reshape(result, keptShape);
    if (reduced[0]) {
      ReassociationIndices lead = groups[0];
      groups.erase(groups.begin());
      groups[0].insert(groups[0].begin(), lead.begin(), lead.end());
    }
    result = tensor::ExpandShapeOp::create(
        b, curLoc, RankedTensorType::get(keptShape, elt), result, groups,
        sizes);
  }
  return result;
}

} // namespace sparsec::onnx_import
