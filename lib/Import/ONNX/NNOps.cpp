//===- NNOps.cpp - ONNX layers: matmul, conv, norms, pooling, softmax -----===//
#include "Importer.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"

using namespace mlir;

namespace sparsec::onnx_import {
namespace {

Value fconst(OpBuilder &b, Location loc, Type t, double v) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(t, v));
}

/// Records which initializer a layer's weight came from, and whether the
/// GEMM view is its transpose, so that pruning can read user scores and
/// write the pruned weight back to ONNX.
void recordWeightOrigin(Importer &im, Operation *layer, unsigned input,
                        bool transposed) {
  if (!im.isInitializer(input))
    return;
  OpBuilder &b = im.builder();
  layer->setAttr("sparsec.weight_name", b.getStringAttr(im.node().input(input)));
  if (transposed)
    layer->setAttr("sparsec.weight_transposed", b.getUnitAttr());
}

LogicalResult requireFloat(Importer &im, Value v) {
  if (!isa<FloatType>(Importer::typeOf(v).getElementType()))
    return im.error("expects floating-point tensors");
  return success();
}

/// numpy.matmul of two activations as one linalg.generic with broadcast
/// batch dimensions.
FailureOr<Value> batchMatmul(Importer &im, Value a, Value b2) {
  RankedTensorType at = Importer::typeOf(a), bt = Importer::typeOf(b2);
  bool aVec = at.getRank() == 1, bVec = bt.getRank() == 1;
  if (aVec)
    a = im.reshape(a, {1, at.getDimSize(0)});
  if (bVec)
    b2 = im.reshape(b2, {bt.getDimSize(0), 1});
  at = Importer::typeOf(a);
  bt = Importer::typeOf(b2);
  int64_t m = at.getDimSize(at.getRank() - 2), k = at.getShape().back();
  int64_t k2 = bt.getDimSize(bt.getRank() - 2), n = bt.getShape().back();
  if (k != k2) {
    (void)im.error("MatMul reduction sizes differ (" + Twine(k) + " vs " + Twine(k2) +
             ")");
    return failure();
  }
  ArrayRef<int64_t> aBatch = at.getShape().drop_back(2),
                    bBatch = bt.getShape().drop_back(2);
  int64_t batchRank = std::max(aBatch.size(), bBatch.size());
  SmallVector<int64_t> batch(batchRank, 1);
  for (int side = 0; side < 2; ++side) {
    ArrayRef<int64_t> s = side ? bBatch : aBatch;
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t &o = batch[batchRank - s.size() + i];
      if (s[i] != 1 && o != 1 && s[i] != o) {
        (void)im.error("MatMul batch dimensions are not broadcast-compatible");
        return failure();
      }
      if (s[i] != 1)
        o = s[i];
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
  AffineExpr dm = b.getAffineDimExpr(batchRank), dn = b.getAffineDimExpr(batchRank + 1),
             dk = b.getAffineDimExpr(batchRank + 2);
  SmallVector<AffineExpr> outExprs;
  for (int64_t i = 0; i < batchRank; ++i)
    outExprs.push_back(b.getAffineDimExpr(i));
  outExprs.push_back(dm);
  outExprs.push_back(dn);
  SmallVector<AffineMap> maps = {operandMap(aBatch, dm, dk),
                                 operandMap(bBatch, dk, dn),
                                 AffineMap::get(loops, 0, outExprs, im.ctx())};
  SmallVector<utils::IteratorType> iters(loops - 1, utils::IteratorType::parallel);
  iters.push_back(utils::IteratorType::reduction);
  SmallVector<int64_t> outShape(batch);
  outShape.push_back(m);
  outShape.push_back(n);
  Type elt = at.getElementType();
  Value init = im.fill(outShape, elt, 0.0);
  Value r = linalg::GenericOp::create(
                b, im.loc(), init.getType(), ValueRange{a, b2}, ValueRange{init},
                maps, iters,
                [](OpBuilder &nb, Location l, ValueRange x) {
                  Value mul = arith::MulFOp::create(nb, l, x[0], x[1]);
                  Value sum = arith::AddFOp::create(nb, l, x[2], mul);
                  linalg::YieldOp::create(nb, l, sum);
                })
                .getResult(0);
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
  // A constant 2-D right operand is a weight: sparsec.linear with W = Bᵀ.
  if (im.initializerRank(1) == 2) {
    Value w = im.weightInput(1, /*transpose=*/true);
    if (!w)
      return failure();
    RankedTensorType at = Importer::typeOf(a), wt = Importer::typeOf(w);
    if (wt.getRank() == 2) {
      if (at.getShape().back() != wt.getDimSize(1))
        return im.error("MatMul reduction sizes differ (" +
                        Twine(at.getShape().back()) + " vs " +
                        Twine(wt.getDimSize(1)) + ")");
      SmallVector<int64_t> outShape(at.getShape().drop_back());
      outShape.push_back(wt.getDimSize(0));
      auto outType = RankedTensorType::get(outShape, at.getElementType());
      auto linear = LinearOp::create(im.builder(), im.loc(), outType, a, w,
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
  Value c = im.hasInput(2) ? im.input(2) : Value();
  bool biasFused = false;
  if (im.initializerRank(1) == 2) {
    // W must be [R, K]: B is [K, R] unless transB.
    Value w = im.weightInput(1, /*transpose=*/!transB);
    if (!w)
      return failure();
    RankedTensorType wt = Importer::typeOf(w);
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
    auto outType = RankedTensorType::get(
        {Importer::typeOf(a).getDimSize(0), rows}, elt);
    auto linear = LinearOp::create(b, im.loc(), outType, a, w, bias, nullptr,
                                   nullptr, nullptr);
    recordWeightOrigin(im, linear, 1, /*transposed=*/!transB);
    y = linear.getResult();
  } else {
    Value bm = im.input(1);
    if (!bm)
      return failure();
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

/// Explicit [begin..., end...] pads for the spatial dims of a conv/pool,
/// resolving auto_pad.
FailureOr<SmallVector<int64_t>> spatialPads(Importer &im, ArrayRef<int64_t> in,
                                            ArrayRef<int64_t> kernel,
                                            ArrayRef<int64_t> strides,
                                            ArrayRef<int64_t> dilations) {
  size_t n = in.size();
  std::string autoPad = im.attrString("auto_pad", "NOTSET");
  SmallVector<int64_t> pads(2 * n, 0);
  if (autoPad == "NOTSET") {
    if (auto p = im.attrInts("pads")) {
      if (p->size() != 2 * n) {
        (void)im.error("pads has " + Twine(p->size()) + " entries, expected " +
                 Twine(2 * n));
        return failure();
      }
      pads = *p;
    }
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    for (size_t i = 0; i < n; ++i) {
      int64_t out = (in[i] + strides[i] - 1) / strides[i];
      int64_t window = (kernel[i] - 1) * dilations[i] + 1;
      int64_t total =
          std::max<int64_t>((out - 1) * strides[i] + window - in[i], 0);
      int64_t small = total / 2, large = total - small;
      pads[i] = autoPad == "SAME_UPPER" ? small : large;
      pads[i + n] = autoPad == "SAME_UPPER" ? large : small;
    }
  } else if (autoPad != "VALID") {
    (void)im.error("unsupported auto_pad '" + autoPad + "'");
    return failure();
  }
  for (int64_t p : pads)
    if (p < 0) {
      (void)im.error("negative pads are not supported");
      return failure();
    }
  return pads;
}

LogicalResult lowerConv(Importer &im) {
  Value x = im.input(0);
  if (!x || failed(requireFloat(im, x)))
    return failure();
  Value w = im.weightInput(1, false);
  if (!w)
    return failure();
  RankedTensorType xt = Importer::typeOf(x), wt = Importer::typeOf(w);
  int64_t spatial = xt.getRank() - 2;
  if (spatial != 1 && spatial != 2)
    return im.error("Conv with " + Twine(spatial) +
                    " spatial dimensions is not supported (1-D and 2-D are)");
  if (wt.getRank() != xt.getRank())
    return im.error("Conv weight rank differs from input rank");
  SmallVector<int64_t> kernel(wt.getShape().drop_front(2));
  SmallVector<int64_t> strides =
      im.attrInts("strides").value_or(SmallVector<int64_t>(spatial, 1));
  SmallVector<int64_t> dilations =
      im.attrInts("dilations").value_or(SmallVector<int64_t>(spatial, 1));
  if (int64_t(strides.size()) != spatial || int64_t(dilations.size()) != spatial)
    return im.error("strides/dilations do not match the spatial rank");
  if (auto ks = im.attrInts("kernel_shape"))
    if (ArrayRef<int64_t>(*ks) != ArrayRef<int64_t>(kernel))
      return im.error("kernel_shape does not match the weight");
  FailureOr<SmallVector<int64_t>> pads =
      spatialPads(im, xt.getShape().drop_front(2), kernel, strides, dilations);
  if (failed(pads))
    return failure();
  int64_t groups = im.attrInt("group", 1);
  Value bias = im.hasInput(2) ? im.input(2) : Value();
  // 1-D convolutions run as 2-D with a unit height.
  SmallVector<int64_t> pads2d;
  if (spatial == 1) {
    x = im.reshape(x, {xt.getDimSize(0), xt.getDimSize(1), 1, xt.getDimSize(2)});
    w = im.reshape(w, {wt.getDimSize(0), wt.getDimSize(1), 1, wt.getDimSize(2)});
    strides.insert(strides.begin(), 1);
    dilations.insert(dilations.begin(), 1);
    kernel.insert(kernel.begin(), 1);
    pads2d = {0, (*pads)[0], 0, (*pads)[1]};
  } else {
    pads2d = *pads;
  }
  RankedTensorType x2 = Importer::typeOf(x), w2 = Importer::typeOf(w);
  if (groups <= 0 || x2.getDimSize(1) % groups || w2.getDimSize(0) % groups ||
      w2.getDimSize(1) * groups != x2.getDimSize(1))
    return im.error("group = " + Twine(groups) +
                    " does not fit input channels " + Twine(x2.getDimSize(1)) +
                    " and weight " + Twine(w2.getDimSize(0)) + "x" +
                    Twine(w2.getDimSize(1)));
  SmallVector<int64_t> outShape = {x2.getDimSize(0), w2.getDimSize(0)};
  for (int i = 0; i < 2; ++i) {
    int64_t padded = x2.getDimSize(2 + i) + pads2d[i] + pads2d[i + 2];
    int64_t window = dilations[i] * (kernel[i] - 1) + 1;
    if (padded < window)
      return im.error("the kernel window is larger than the padded input");
    outShape.push_back((padded - window) / strides[i] + 1);
  }
  auto outType = RankedTensorType::get(outShape, x2.getElementType());
  OpBuilder &b = im.builder();
  auto conv = Conv2DOp::create(b, im.loc(), outType, x, w, bias,
                               b.getDenseI64ArrayAttr(strides),
                               b.getDenseI64ArrayAttr(pads2d),
                               b.getDenseI64ArrayAttr(dilations),
                               b.getI64IntegerAttr(groups), nullptr, nullptr,
                               nullptr);
  // 1-D weights were reshaped; pruning still reads them in GEMM view.
  recordWeightOrigin(im, conv, 1, /*transposed=*/false);
  Value y = conv.getResult();
  if (spatial == 1)
    y = im.reshape(y, {outShape[0], outShape[1], outShape[3]});
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
    return im.error("training-mode BatchNormalization outputs are not supported");
  int64_t rank = Importer::typeOf(x).getRank();
  if (rank < 2)
    return im.error("BatchNormalization expects rank >= 2");
  SmallVector<Value> params;
  for (unsigned i = 1; i <= 4; ++i) {
    Value p = im.input(i);
    if (!p)
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
        Value norm =
            arith::DivFOp::create(b, l, centered, math::SqrtOp::create(b, l, var));
        return arith::AddFOp::create(b, l,
                                     arith::MulFOp::create(b, l, norm, a[1]),
                                     a[2]);
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
  FailureOr<int64_t> axis = im.normalizeAxis(im.attrInt("axis", defaultAxis), rank);
  if (failed(axis))
    return failure();
  FailureOr<Value> r;
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

LogicalResult lowerLayerNorm(Importer &im) {
  Value x = im.input(0), scale = im.input(1);
  if (!x || !scale || failed(requireFloat(im, x)))
    return failure();
  RankedTensorType t = Importer::typeOf(x);
  FailureOr<int64_t> axis = im.normalizeAxis(im.attrInt("axis", -1), t.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> axes;
  for (int64_t i = *axis; i < t.getRank(); ++i)
    axes.push_back(i);
  Type elt = t.getElementType();
  double eps = im.attrFloat("epsilon", 1e-5f);
  Value mean = im.reduce(x, axes, true, ReduceKind::Mean);
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
  Value var = im.reduce(*sq, axes, true, ReduceKind::Mean);
  SmallVector<Value> ins = {*centered, var, scale};
  Value bias = im.hasInput(2) ? im.input(2) : Value();
  if (bias)
    ins.push_back(bias);
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

LogicalResult lowerReduce(Importer &im, ReduceKind kind, int64_t axesInputSince) {
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
  im.setOutput(0, im.reduce(x, normalized, im.attrInt("keepdims", 1) != 0, kind));
  return success();
}

/// MaxPool / AveragePool over the two trailing dims of an NCHW tensor.
LogicalResult lowerPool(Importer &im, bool isMax) {
  Value x = im.input(0);
  if (!x || failed(requireFloat(im, x)))
    return failure();
  if (isMax && im.outputUsed(1))
    return im.error("the MaxPool Indices output is not supported");
  RankedTensorType t = Importer::typeOf(x);
  int64_t spatial = t.getRank() - 2;
  if (spatial != 2 && spatial != 1)
    return im.error("only 1-D and 2-D pooling is supported");
  auto kernelAttr = im.attrInts("kernel_shape");
  if (!kernelAttr || int64_t(kernelAttr->size()) != spatial)
    return im.error("kernel_shape is required and must match the spatial rank");
  SmallVector<int64_t> kernel = *kernelAttr;
  SmallVector<int64_t> strides =
      im.attrInts("strides").value_or(SmallVector<int64_t>(spatial, 1));
  SmallVector<int64_t> dilations =
      im.attrInts("dilations").value_or(SmallVector<int64_t>(spatial, 1));
  if (!isMax && llvm::any_of(dilations, [](int64_t d) { return d != 1; }))
    return im.error("AveragePool with dilations is not supported");
  FailureOr<SmallVector<int64_t>> padsOr =
      spatialPads(im, t.getShape().drop_front(2), kernel, strides, dilations);
  if (failed(padsOr))
    return failure();
  SmallVector<int64_t> pads = *padsOr;
  bool ceilMode = im.attrInt("ceil_mode", 0) != 0;
  bool countIncludePad = im.attrInt("count_include_pad", 0) != 0;
  if (spatial == 1) {
    x = im.reshape(x, {t.getDimSize(0), t.getDimSize(1), 1, t.getDimSize(2)});
    kernel.insert(kernel.begin(), 1);
    strides.insert(strides.begin(), 1);
    dilations.insert(dilations.begin(), 1);
    pads = {0, pads[0], 0, pads[1]};
  }
  RankedTensorType xt = Importer::typeOf(x);
  Type elt = xt.getElementType();
  SmallVector<int64_t> inHW = {xt.getDimSize(2), xt.getDimSize(3)}, outHW(2),
                       extra(2, 0);
  for (int i = 0; i < 2; ++i) {
    int64_t window = (kernel[i] - 1) * dilations[i] + 1;
    int64_t span = inHW[i] + pads[i] + pads[i + 2] - window;
    if (span < 0)
      return im.error("the pooling window is larger than the padded input");
    int64_t out = ceilMode ? (span + strides[i] - 1) / strides[i] + 1
                           : span / strides[i] + 1;
    // The last window must start inside the input or the begin padding.
    if (ceilMode && (out - 1) * strides[i] >= inHW[i] + pads[i])
      --out;
    outHW[i] = out;
    extra[i] = std::max<int64_t>(
        0, (out - 1) * strides[i] + window - (inHW[i] + pads[i] + pads[i + 2]));
  }
  OpBuilder &b = im.builder();
  double padValue = isMax ? -std::numeric_limits<double>::infinity() : 0.0;
  Value padded = x;
  if (llvm::any_of(pads, [](int64_t p) { return p; }) || extra[0] || extra[1]) {
    SmallVector<OpFoldResult> low = {b.getIndexAttr(0), b.getIndexAttr(0),
                                     b.getIndexAttr(pads[0]),
                                     b.getIndexAttr(pads[1])};
    SmallVector<OpFoldResult> high = {b.getIndexAttr(0), b.getIndexAttr(0),
                                      b.getIndexAttr(pads[2] + extra[0]),
                                      b.getIndexAttr(pads[3] + extra[1])};
    SmallVector<int64_t> shape(xt.getShape());
    shape[2] += pads[0] + pads[2] + extra[0];
    shape[3] += pads[1] + pads[3] + extra[1];
    padded = tensor::PadOp::create(b, im.loc(), RankedTensorType::get(shape, elt),
                                   x, low, high,
                                   im.scalarConstant(elt, padValue));
  }
  SmallVector<int64_t> outShape = {xt.getDimSize(0), xt.getDimSize(1), outHW[0],
                                   outHW[1]};
  Value init = im.fill(outShape, elt, padValue);
  Value window = im.emptyTensor({kernel[0], kernel[1]}, elt);
  auto i64x2 = RankedTensorType::get({2}, b.getI64Type());
  auto stridesAttr = DenseIntElementsAttr::get(i64x2, strides);
  auto dilationsAttr = DenseIntElementsAttr::get(i64x2, dilations);
  Value y;
  if (isMax)
    y = linalg::PoolingNchwMaxOp::create(b, im.loc(), TypeRange{init.getType()},
                                         ValueRange{padded, window},
                                         ValueRange{init}, stridesAttr,
                                         dilationsAttr)
            .getResult(0);
  else
    y = linalg::PoolingNchwSumOp::create(b, im.loc(), TypeRange{init.getType()},
                                         ValueRange{padded, window},
                                         ValueRange{init}, stridesAttr,
                                         dilationsAttr)
            .getResult(0);
  if (!isMax) {
    // Divisor per output position: window elements inside the input (or the
    // explicit padding with count_include_pad), never the ceil-mode overhang.
    HostTensor divisor;
    divisor.dtype = onnx::TensorProto::FLOAT;
    divisor.shape = {outHW[0], outHW[1]};
    divisor.allocate();
    for (int64_t oh = 0; oh < outHW[0]; ++oh)
      for (int64_t ow = 0; ow < outHW[1]; ++ow) {
        int64_t counts[2];
        int64_t pos[2] = {oh, ow};
        for (int i = 0; i < 2; ++i) {
          int64_t start = pos[i] * strides[i] - pads[i];
          int64_t end = start + kernel[i];
          int64_t lo = countIncludePad ? -pads[i] : 0;
          int64_t hi = countIncludePad ? inHW[i] + pads[i + 2] : inHW[i];
          counts[i] = std::min(end, hi) - std::max(start, lo);
        }
        divisor.set(oh * outHW[1] + ow, double(counts[0] * counts[1]));
      }
    Value div = im.materialize(divisor);
    if (!elt.isF32()) {
      FailureOr<Value> cast = im.elementwise(
          {div}, elt, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
            return elt.getIntOrFloatBitWidth() > 32
                       ? arith::ExtFOp::create(nb, l, elt, a[0]).getResult()
                       : arith::TruncFOp::create(nb, l, elt, a[0]).getResult();
          });
      div = *cast;
    }
    FailureOr<Value> r = im.elementwise(
        {y, div}, elt, [](OpBuilder &nb, Location l, ValueRange a) -> Value {
          return arith::DivFOp::create(nb, l, a[0], a[1]);
        });
    if (failed(r))
      return failure();
    y = *r;
  }
  if (spatial == 1)
    y = im.reshape(y, {outShape[0], outShape[1], outShape[3]});
  im.setOutput(0, y);
  return success();
}

LogicalResult lowerGlobalPool(Importer &im, ReduceKind kind) {
  Value x = im.input(0);
  if (!x || failed(requireFloat(im, x)))
    return failure();
  int64_t rank = Importer::typeOf(x).getRank();
  SmallVector<int64_t> axes;
  for (int64_t i = 2; i < rank; ++i)
    axes.push_back(i);
  im.setOutput(0, im.reduce(x, axes, true, kind));
  return success();
}

} // namespace

void registerNNLowerings(LoweringTable &t) {
  t["MatMul"] = lowerMatMul;
  t["Gemm"] = lowerGemm;
  t["Conv"] = lowerConv;
  t["BatchNormalization"] = lowerBatchNorm;
  t["Softmax"] = [](Importer &im) { return lowerSoftmaxLike(im, false); };
  t["LogSoftmax"] = [](Importer &im) { return lowerSoftmaxLike(im, true); };
  t["LayerNormalization"] = lowerLayerNorm;
  t["ReduceMean"] = [](Importer &im) {
    return lowerReduce(im, ReduceKind::Mean, 18);
  };
  t["ReduceSum"] = [](Importer &im) {
    return lowerReduce(im, ReduceKind::Sum, 13);
  };
  t["ReduceMax"] = [](Importer &im) {
    return lowerReduce(im, ReduceKind::Max, 18);
  };
  t["ReduceMin"] = [](Importer &im) {
    return lowerReduce(im, ReduceKind::Min, 18);
  };
  t["ReduceProd"] = [](Importer &im) {
    return lowerReduce(im, ReduceKind::Prod, 18);
  };
  t["MaxPool"] = [](Importer &im) { return lowerPool(im, true); };
  t["AveragePool"] = [](Importer &im) { return lowerPool(im, false); };
  t["GlobalAveragePool"] = [](Importer &im) {
    return lowerGlobalPool(im, ReduceKind::Mean);
  };
  t["GlobalMaxPool"] = [](Importer &im) {
    return lowerGlobalPool(im, ReduceKind::Max);
  };
}

} // namespace sparsec::onnx_import
