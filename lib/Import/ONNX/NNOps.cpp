//===- NNOps.cpp - ONNX layers: matmul, gemm, norms, softmax, reductions --===//
#include "Importer.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"

using namespace mlir;

namespace sparsec::onnx_import {

/// Records which initializer a layer's weight came from, and whether the
/// GEMM view is its transpose, so that pruning can read user scores and
/// write the pruned weight back to ONNX.
void recordWeightOrigin(Importer &im, Operation *layer, unsigned input,
                        bool transposed) {
  if (!im.isInitializer(input))
    return;
  OpBuilder &b = im.builder();
  layer->setAttr("sparsec.weight_name",
                 b.getStringAttr(im.initializerName(input)));
  if (transposed)
    layer->setAttr("sparsec.weight_transposed", b.getUnitAttr());
}

LogicalResult requireFloat(Importer &im, Value v) {
  if (!isa<FloatType>(Importer::typeOf(v).getElementType()))
    return im.error("expects floating-point tensors");
  return success();
}

/// Fails unless `v` has the element type of `like`; `what` names `v`.
LogicalResult requireSameElementType(Importer &im, Value v, Value like,
                                     StringRef what) {
  if (Importer::typeOf(v).getElementType() !=
      Importer::typeOf(like).getElementType())
    return im.error(what + " has a different element type than input 0");
  return success();
}

namespace {

Value fconst(OpBuilder &b, Location loc, Type t, double v) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(t, v));
}

/// numpy.matmul of two activations as one linalg.generic with broadcast
/// batch dimensions.
FailureOr<Value> batchMatmul(Importer &im, Value a, Value b2) {
  RankedTensorType at = Importer::typeOf(a), bt = Importer::typeOf(b2);
  if (at.getRank() < 1 || bt.getRank() < 1)
    return im.error("MatMul operands must have rank 1 or more");
  if (at.getElementType() != bt.getElementType())
    return im.error("MatMul operands have different element types");
  bool aVec = at.getRank() == 1, bVec = bt.getRank() == 1;
  bool dynamic = !at.hasStaticShape() || !bt.hasStaticShape();
  if (dynamic && (aVec || bVec))
    return im.error("MatMul of a vector and a tensor with dynamic dimensions "
                    "is not supported yet");
  if (aVec)
    a = im.reshape(a, {1, at.getDimSize(0)});
  if (bVec)
    b2 = im.reshape(b2, {bt.getDimSize(0), 1});
  at = Importer::typeOf(a);
  bt = Importer::typeOf(b2);
  int64_t m = at.getDimSize(at.getRank() - 2), k = at.getShape().back();
  int64_t k2 = bt.getDimSize(bt.getRank() - 2), n = bt.getShape().back();
  if (ShapedType::isDynamic(k) || ShapedType::isDynamic(k2)) {
    FailureOr<SymDim> ka = im.symbolicDim(a, at.getRank() - 1),
                      kb = im.symbolicDim(b2, bt.getRank() - 2);
    if (failed(ka) || failed(kb) || *ka != *kb)
      return im.error("cannot tell that the MatMul reduction sizes (dynamic) "
                      "are equal");
  } else if (k != k2) {
    (void)im.error("MatMul reduction sizes differ (" + Twine(k) + " vs " +
                   Twine(k2) + ")");
    return failure();
  }
  ArrayRef<int64_t> aBatch = at.getShape().drop_back(2),
                    bBatch = bt.getShape().drop_back(2);
  int64_t batchRank = std::max(aBatch.size(), bBatch.size());
  SmallVector<int64_t> batch(batchRank, 1);
  // Batch dims that broadcast (size 1 on one side only); a dynamic dim
  // broadcasts like a size other than 1 and must match the other side.
  SmallVector<OpFoldResult> batchSizes(batchRank, im.builder().getIndexAttr(1));
  for (int side = 0; side < 2; ++side) {
    ArrayRef<int64_t> s = side ? bBatch : aBatch;
    Value operand = side ? b2 : a;
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t pos = batchRank - s.size() + i;
      int64_t &o = batch[pos];
      if (s[i] == 1)
        continue;
      if (ShapedType::isDynamic(s[i]) || ShapedType::isDynamic(o)) {
        if (o != 1) {
          Value other = side ? a : b2;
          int64_t otherDim =
              pos - (batchRank - (side ? aBatch : bBatch).size());
          FailureOr<SymDim> mine = im.symbolicDim(operand, i),
                            theirs = im.symbolicDim(other, otherDim);
          if (failed(mine) || failed(theirs) || *mine != *theirs)
            return im.error("cannot tell that the MatMul batch dimensions "
                            "(dynamic) are equal");
          continue;
        }
      } else if (o != 1 && s[i] != o) {
        (void)im.error("MatMul batch dimensions are not broadcast-compatible");
        return failure();
      }
      o = s[i];
      batchSizes[pos] = im.dimSize(operand, i);
    }
  }
  OpBuilder &b = im.builder();
  // Loop dims: batch..., m, n, k.
  int64_t loops = batchRank + 3;
  auto operandMap = [&](ArrayRef<int64_t> s, AffineExpr r, AffineExpr c) {
    SmallVector<AffineExpr> e;
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t outDim = batchRank - s.size() + i;
      e.push_back(s[i] == 1 && batch[outDim] != 1 ? b.getAffineConstantExpr(0)
                                                  : b.getAffineDimExpr(outDim));
    }
    e.push_back(r);
    e.push_back(c);
    return AffineMap::get(loops, 0, e, im.ctx());
  };
  AffineExpr dm = b.getAffineDimExpr(batchRank),
             dn = b.getAffineDimExpr(batchRank + 1),
             dk = b.getAffineDimExpr(batchRank + 2);
  SmallVector<AffineExpr> outExprs;
  for (int64_t i = 0; i < batchRank; ++i)
    outExprs.push_back(b.getAffineDimExpr(i));
  outExprs.push_back(dm);
  outExprs.push_back(dn);
  SmallVector<AffineMap> maps = {operandMap(aBatch, dm, dk),
                                 operandMap(bBatch, dk, dn),
                                 AffineMap::get(loops, 0, outExprs, im.ctx())};
  SmallVector<utils::IteratorType> iters(loops - 1,
                                         utils::IteratorType::parallel);
  iters.push_back(utils::IteratorType::reduction);
  SmallVector<OpFoldResult> outShape(batchSizes);
  outShape.push_back(im.dimSize(a, at.getRank() - 2));
  outShape.push_back(im.dimSize(b2, bt.getRank() - 1));
  Type elt = at.getElementType();
  Value init = im.fill(outShape, elt, 0.0);
  Value r = linalg::GenericOp::create(
                b, im.loc(), init.getType(), ValueRange{a, b2},
                ValueRange{init}, maps, iters,
                [](OpBuilder &nb, Location l, ValueRange x) {
                  Value mul = arith::MulFOp::create(nb, l, x[0], x[1]);
                  Value sum = arith::AddFOp::create(nb, l, x[2], mul);
                  linalg::YieldOp::create(nb, l, sum);
                })
                .getResult(0);
  if (dynamic)
    return r;
  SmallVector<int64_t> finalShape(batch);
  if (!aVec)
    finalShape.push_back(m);
  if (!bVec)
    finalShape.push_back(n);
  return im.reshape(r, finalShape);
}

LogicalResult lowerMatMul(Importer &im) {
  Value a = im.input(0);
  if (!a || failed(requireFloat(im, a)))
    return failure();
  if (Importer::typeOf(a).getRank() < 1)
    return im.error("MatMul operands must have rank 1 or more");
  // A constant 2-D right operand is a weight: sparsec.linear with W = Bᵀ.
  if (im.initializerRank(1) == 2) {
    Value w = im.weightInput(1, /*transpose=*/true);
    if (!w)
      return failure();
    RankedTensorType at = Importer::typeOf(a), wt = Importer::typeOf(w);
    if (failed(requireSameElementType(im, w, a, "the MatMul weight")))
      return failure();
    if (wt.getRank() == 2) {
      if (at.getShape().back() != wt.getDimSize(1))
        return im.error("MatMul reduction sizes differ (" +
                        Twine(at.getShape().back()) + " vs " +
                        Twine(wt.getDimSize(1)) + ")");
      SmallVector<int64_t> outShape(at.getShape().drop_back());
      outShape.push_back(wt.getDimSize(0));
      auto outType = RankedTensorType::get(outShape, at.getElementType());
      auto linear =
          LinearOp::create(im.builder(), im.loc(), outType, a, w,
                           /*bias=*/Value(), /*weight_encoding=*/nullptr,
                           /*packed_weight=*/nullptr,
                           /*weight_parts=*/nullptr);
      recordWeightOrigin(im, linear, 1, /*transposed=*/true);
      im.setOutput(0, linear.getResult());
      return success();
    }
  }
  Value b = im.input(1);
  if (!b)
    return failure();
  FailureOr<Value> r = batchMatmul(im, a, b);
  if (failed(r))
    return failure();
  im.setOutput(0, *r);
  return success();
}

LogicalResult lowerGemm(Importer &im) {
  Value a = im.input(0);
  if (!a || failed(requireFloat(im, a)))
    return failure();
  float alpha = im.attrFloat("alpha", 1.0f), beta = im.attrFloat("beta", 1.0f);
  bool transA = im.attrInt("transA", 0), transB = im.attrInt("transB", 0);
  if (Importer::typeOf(a).getRank() != 2)
    return im.error("Gemm expects a rank-2 A");
  if (transA)
    a = im.transpose(a, {1, 0});
  OpBuilder &b = im.builder();
  Type elt = Importer::typeOf(a).getElementType();
  Value y;
  Value c;
  if (im.hasInput(2)) {
    c = im.input(2);
    if (!c || failed(requireSameElementType(im, c, a, "Gemm's C")))
      return failure();
  }
  bool biasFused = false;
  if (im.initializerRank(1) == 2) {
    // W must be [R, K]: B is [K, R] unless transB.
    Value w = im.weightInput(1, /*transpose=*/!transB);
    if (!w)
      return failure();
    RankedTensorType wt = Importer::typeOf(w);
    if (failed(requireSameElementType(im, w, a, "Gemm's B")))
      return failure();
    if (wt.getRank() != 2 ||
        wt.getDimSize(1) != Importer::typeOf(a).getDimSize(1))
      return im.error("Gemm operand shapes do not agree");
    int64_t rows = wt.getDimSize(0);
    Value bias;
    if (c && beta == 1.0f && alpha == 1.0f) {
      RankedTensorType ct = Importer::typeOf(c);
      if (ct.getRank() == 1 && ct.getDimSize(0) == rows) {
        bias = c;
        biasFused = true;
      }
    }
    auto outType =
        RankedTensorType::get({Importer::typeOf(a).getDimSize(0), rows}, elt);
    auto linear = LinearOp::create(b, im.loc(), outType, a, w, bias, nullptr,
                                   nullptr, nullptr);
    recordWeightOrigin(im, linear, 1, /*transposed=*/!transB);
    y = linear.getResult();
  } else {
    Value bm = im.input(1);
    if (!bm)
      return failure();
    if (Importer::typeOf(bm).getRank() != 2)
      return im.error("Gemm expects a rank-2 B");
    if (transB)
      bm = im.transpose(bm, {1, 0});
    FailureOr<Value> r = batchMatmul(im, a, bm);
    if (failed(r))
      return failure();
    y = *r;
  }
  if (alpha != 1.0f) {
    FailureOr<Value> r = im.elementwise(
        {y}, elt, [&](OpBuilder &nb, Location l, ValueRange x) -> Value {
          return arith::MulFOp::create(nb, l, x[0], fconst(nb, l, elt, alpha));
        });
    if (failed(r))
      return failure();
    y = *r;
  }
  if (c && !biasFused && beta != 0.0f) {
    FailureOr<Value> r = im.elementwise(
        {y, c}, elt, [&](OpBuilder &nb, Location l, ValueRange x) -> Value {
          Value cv = x[1];
          if (beta != 1.0f)
            cv = arith::MulFOp::create(nb, l, cv, fconst(nb, l, elt, beta));
          return arith::AddFOp::create(nb, l, x[0], cv);
        });
    if (failed(r))
      return failure();
    y = *r;
  }
  im.setOutput(0, y);
  return success();
}

/// [C] -> [C, 1, ..., 1] so that it broadcasts against an N x C x ... input.
Value channelVector(Importer &im, Value v, int64_t rank) {
  SmallVector<int64_t> shape = {Importer::typeOf(v).getDimSize(0)};
  shape.append(rank - 2, 1);
  return im.reshape(v, shape);
}

LogicalResult lowerBatchNorm(Importer &im) {
  Value x = im.input(0);
  if (!x || failed(requireFloat(im, x)))
    return failure();
  if (im.outputUsed(1) || im.outputUsed(2))
    return im.error(
        "training-mode BatchNormalization outputs are not supported");
  int64_t rank = Importer::typeOf(x).getRank();
  if (rank < 2)
    return im.error("BatchNormalization expects rank >= 2");
  SmallVector<Value> params;
  for (unsigned i = 1; i <= 4; ++i) {
    Value p = im.input(i);
    if (!p || failed(requireSameElementType(
                  im, p, x, "BatchNormalization input " + std::to_string(i))))
      return failure();
    if (Importer::typeOf(p).getRank() != 1 ||
        Importer::typeOf(p).getDimSize(0) != Importer::typeOf(x).getDimSize(1))
      return im.error("BatchNormalization parameters must have shape [C]");
    params.push_back(channelVector(im, p, rank));
  }
  Type elt = Importer::typeOf(x).getElementType();
  double eps = im.attrFloat("epsilon", 1e-5f);
  FailureOr<Value> r = im.elementwise(
      {x, params[0], params[1], params[2], params[3]}, elt,
      [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        Value centered = arith::SubFOp::create(b, l, a[0], a[3]);
        Value var = arith::AddFOp::create(b, l, a[4], fconst(b, l, elt, eps));
        Value norm = arith::DivFOp::create(b, l, centered,
                                           math::SqrtOp::create(b, l, var));
        return arith::AddFOp::create(
            b, l, arith::MulFOp::create(b, l, norm, a[1]), a[2]);
      });
  if (failed(r))
    return failure();
  im.setOutput(0, *r);
  return success();
}

/// Softmax (or LogSoftmax) over `axes` (the trailing dims from `axis`).
FailureOr<Value> softmax(Importer &im, Value x, ArrayRef<int64_t> axes,
                         bool logSoftmax) {
  Type elt = Importer::typeOf(x).getElementType();
  Value max = im.reduce(x, axes, true, ReduceKind::Max);
  FailureOr<Value> shifted = im.elementwise(
      {x, max}, elt, [](OpBuilder &b, Location l, ValueRange a) -> Value {
        return arith::SubFOp::create(b, l, a[0], a[1]);
      });
  if (failed(shifted))
    return failure();
  FailureOr<Value> e = im.elementwise(
      {*shifted}, elt, [](OpBuilder &b, Location l, ValueRange a) -> Value {
        return math::ExpOp::create(b, l, a[0]);
      });
  if (failed(e))
    return failure();
  Value sum = im.reduce(*e, axes, true, ReduceKind::Sum);
  if (logSoftmax)
    return im.elementwise({*shifted, sum}, elt,
                          [](OpBuilder &b, Location l, ValueRange a) -> Value {
                            return arith::SubFOp::create(
                                b, l, a[0], math::LogOp::create(b, l, a[1]));
                          });
  return im.elementwise({*e, sum}, elt,
                        [](OpBuilder &b, Location l, ValueRange a) -> Value {
                          return arith::DivFOp::create(b, l, a[0], a[1]);
                        });
}

LogicalResult lowerSoftmaxLike(Importer &im, bool logSoftmax) {
  Value x = im.input(0);
  if (!x || failed(requireFloat(im, x)))
    return failure();
  RankedTensorType t = Importer::typeOf(x);
  int64_t rank = t.getRank();
  int64_t defaultAxis = im.opset() < 13 ? 1 : -1;
  FailureOr<int64_t> axis =
      im.normalizeAxis(im.attrInt("axis", defaultAxis), rank);
  if (failed(axis))
    return failure();
  FailureOr<Value> r;
  if (im.opset() < 13 && !t.hasStaticShape())
    return im.error("Softmax before opset 13 (2-D coercion) does not take "
                    "dynamic dimensions yet");
  if (im.opset() < 13) {
    // Old semantics: coerce to 2-D at `axis` and normalize each row.
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < rank; ++i)
      (i < *axis ? outer : inner) *= t.getDimSize(i);
    Value flat = im.reshape(x, {outer, inner});
    r = softmax(im, flat, {1}, logSoftmax);
    if (succeeded(r))
      r = im.reshape(*r, t.getShape());
  } else {
    r = softmax(im, x, {*axis}, logSoftmax);
  }
  if (failed(r))
    return failure();
  im.setOutput(0, *r);
  return success();
}

/// The axes from the `axis` attribute (default -1) to the last: what
/// LayerNormalization and RMSNormalization normalise over.
FailureOr<SmallVector<int64_t>> normalizedAxesFrom(Importer &im, int64_t rank) {
  FailureOr<int64_t> axis = im.normalizeAxis(im.attrInt("axis", -1), rank);
  if (failed(axis))
    return failure();
  SmallVector<int64_t> axes;
  for (int64_t i = *axis; i < rank; ++i)
    axes.push_back(i);
  return axes;
}

LogicalResult lowerLayerNorm(Importer &im) {
  Value x = im.input(0), scale = im.input(1);
  if (!x || !scale || failed(requireFloat(im, x)) ||
      failed(requireSameElementType(im, scale, x, "the LayerNorm scale")))
    return failure();
  RankedTensorType t = Importer::typeOf(x);
  FailureOr<SmallVector<int64_t>> axes = normalizedAxesFrom(im, t.getRank());
  if (failed(axes))
    return failure();
  Type elt = t.getElementType();
  double eps = im.attrFloat("epsilon", 1e-5f);
  Value mean = im.reduce(x, *axes, true, ReduceKind::Mean);
  FailureOr<Value> centered = im.elementwise(
      {x, mean}, elt, [](OpBuilder &b, Location l, ValueRange a) -> Value {
        return arith::SubFOp::create(b, l, a[0], a[1]);
      });
  if (failed(centered))
    return failure();
  FailureOr<Value> sq = im.elementwise(
      {*centered}, elt, [](OpBuilder &b, Location l, ValueRange a) -> Value {
        return arith::MulFOp::create(b, l, a[0], a[0]);
      });
  if (failed(sq))
    return failure();
  Value var = im.reduce(*sq, *axes, true, ReduceKind::Mean);
  SmallVector<Value> ins = {*centered, var, scale};
  Value bias;
  if (im.hasInput(2)) {
    bias = im.input(2);
    if (!bias ||
        failed(requireSameElementType(im, bias, x, "the LayerNorm bias")))
      return failure();
    ins.push_back(bias);
  }
  FailureOr<Value> r = im.elementwise(
      ins, elt, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        Value denom = math::SqrtOp::create(
            b, l, arith::AddFOp::create(b, l, a[1], fconst(b, l, elt, eps)));
        Value y = arith::MulFOp::create(
            b, l, arith::DivFOp::create(b, l, a[0], denom), a[2]);
        return bias ? arith::AddFOp::create(b, l, y, a[3]).getResult() : y;
      });
  if (failed(r))
    return failure();
  im.setOutput(0, *r);
  // Optional outputs: the mean and 1/sqrt(var + eps), both with reduced axes
  // kept as size 1.
  im.setOutput(1, mean);
  if (im.outputUsed(2)) {
    FailureOr<Value> inv = im.elementwise(
        {var}, elt, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value s = math::SqrtOp::create(
              b, l, arith::AddFOp::create(b, l, a[0], fconst(b, l, elt, eps)));
          return arith::DivFOp::create(b, l, fconst(b, l, elt, 1.0), s);
        });
    if (failed(inv))
      return failure();
    im.setOutput(2, *inv);
  }
  return success();
}

/// RMSNormalization (opset 23): Y = X / sqrt(mean(X^2) + epsilon) * scale,
/// the mean over the axes from `axis` on.
LogicalResult lowerRMSNorm(Importer &im) {
  Value x = im.input(0), scale = im.input(1);
  if (!x || !scale || failed(requireFloat(im, x)) ||
      failed(requireSameElementType(im, scale, x, "the RMSNorm scale")))
    return failure();
  // stash_type 1 (float, the default) is the computation in float; sparsec
  // computes in the input's type (float or double), so only 1 is accepted.
  if (im.attrInt("stash_type", 1) != 1)
    return im.error("RMSNormalization stash_type " +
                    Twine(im.attrInt("stash_type", 1)) +
                    " is not supported (only 1, float)");
  RankedTensorType t = Importer::typeOf(x);
  FailureOr<SmallVector<int64_t>> axes = normalizedAxesFrom(im, t.getRank());
  if (failed(axes))
    return failure();
  Type elt = t.getElementType();
  double eps = im.attrFloat("epsilon", 1e-5f);
  FailureOr<Value> sq = im.elementwise(
      {x}, elt, [](OpBuilder &b, Location l, ValueRange a) -> Value {
        return arith::MulFOp::create(b, l, a[0], a[0]);
      });
  if (failed(sq))
    return failure();
  Value meanSquare = im.reduce(*sq, *axes, true, ReduceKind::Mean);
  FailureOr<Value> r = im.elementwise(
      {x, meanSquare, scale}, elt,
      [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        Value rms = math::SqrtOp::create(
            b, l, arith::AddFOp::create(b, l, a[1], fconst(b, l, elt, eps)));
        return arith::MulFOp::create(
            b, l, arith::DivFOp::create(b, l, a[0], rms), a[2]);
      });
  if (failed(r))
    return failure();
  im.setOutput(0, *r);
  return success();
}

LogicalResult lowerReduce(Importer &im, ReduceKind kind,
                          int64_t axesInputSince) {
  Value x = im.input(0);
  if (!x)
    return failure();
  int64_t rank = Importer::typeOf(x).getRank();
  std::optional<SmallVector<int64_t>> axes;
  if (im.opset() >= axesInputSince) {
    if (im.hasInput(1)) {
      const HostTensor *t = im.constInput(1);
      if (!t)
        return im.error("axes must be a compile-time constant");
      if (t->isFloat())
        return im.error("axes must be an integer tensor");
      axes.emplace();
      for (int64_t k = 0; k < t->numElements(); ++k)
        axes->push_back(t->intAt(k));
    }
  } else {
    axes = im.attrInts("axes");
  }
  SmallVector<int64_t> normalized;
  if (!axes || axes->empty()) {
    if (axes && im.attrInt("noop_with_empty_axes", 0)) {
      im.setOutput(0, x);
      return success();
    }
    for (int64_t i = 0; i < rank; ++i)
      normalized.push_back(i);
  } else {
    for (int64_t a : *axes) {
      FailureOr<int64_t> n = im.normalizeAxis(a, rank);
      if (failed(n))
        return failure();
      normalized.push_back(*n);
    }
  }
  im.setOutput(0,
               im.reduce(x, normalized, im.attrInt("keepdims", 1) != 0, kind));
  return success();
}

} // namespace

void registerNNLowerings(LoweringTable &t) {
  // Each takes dynamic dims (the MatMul/Gemm weight's must be static).
  t["MatMul"] = {lowerMatMul, 2, 2, /*dynamic=*/true};
  t["Gemm"] = {lowerGemm, 2, 3, /*dynamic=*/true};
  t["BatchNormalization"] = {lowerBatchNorm, 5, 5};
  t["Softmax"] = {[](Importer &im) { return lowerSoftmaxLike(im, false); }, 1,
                  1, /*dynamic=*/true};
  t["LogSoftmax"] = {[](Importer &im) { return lowerSoftmaxLike(im, true); }, 1,
                     1, /*dynamic=*/true};
  t["LayerNormalization"] = {lowerLayerNorm, 2, 3, /*dynamic=*/true};
  t["RMSNormalization"] = {lowerRMSNorm, 2, 2, /*dynamic=*/true};
  auto reduce = [&](StringRef name, ReduceKind kind, int64_t axesInputSince) {
    t[name] = {
        [=](Importer &im) { return lowerReduce(im, kind, axesInputSince); }, 1,
        2, /*dynamic=*/true};
  };
  reduce("ReduceMean", ReduceKind::Mean, 18);
  reduce("ReduceSum", ReduceKind::Sum, 13);
  reduce("ReduceMax", ReduceKind::Max, 18);
  reduce("ReduceMin", ReduceKind::Min, 18);
  reduce("ReduceProd", ReduceKind::Prod, 18);
}

} // namespace sparsec::onnx_import
