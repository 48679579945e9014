//===- TensorOps.cpp - ONNX shape/data-movement ops to tensor/linalg ------===//
#include "Importer.h"

using namespace mlir;

namespace sparsec::onnx_import {

/// The values of constant integer input `i`; errors if it is not constant.
static FailureOr<SmallVector<int64_t>> constInts(Importer &im, unsigned i,
                                                 StringRef what) {
  if (!im.hasInput(i))
    return im.error(what + " (input " + Twine(i) + ") is missing");
  const HostTensor *t = im.constInput(i);
  if (!t)
    return im.error(what + " must be a compile-time constant");
  if (t->isFloat())
    return im.error(what + " must be an integer tensor");
  SmallVector<int64_t> out;
  for (int64_t k = 0, e = t->numElements(); k < e; ++k)
    out.push_back(t->intAt(k));
  return out;
}

/// Axes from the attribute (old opsets) or from input `inputIndex`.
static FailureOr<std::optional<SmallVector<int64_t>>>
axesFrom(Importer &im, int64_t attrUntilOpset, unsigned inputIndex) {
  if (im.opset() < attrUntilOpset)
    return im.attrInts("axes");
  if (!im.hasInput(inputIndex))
    return std::optional<SmallVector<int64_t>>();
  FailureOr<SmallVector<int64_t>> v = constInts(im, inputIndex, "axes");
  if (failed(v))
    return failure();
  return std::optional<SmallVector<int64_t>>(*v);
}

static LogicalResult lowerReshape(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  bool allowZero = im.attrInt("allowzero", 0) != 0;
  // A shape computed from dynamic dims (or any shape, for an input with
  // dynamic dims).
  if (im.symbolicInput(1) || !Importer::typeOf(x).hasStaticShape()) {
    std::optional<SmallVector<SymDim>> target = im.sizesInput(1);
    if (!target)
      return im.error("the target shape must be a compile-time constant or "
                      "computed from the input's dimensions");
    return lowerDynamicReshape(im, x, *target, allowZero);
  }
  FailureOr<SmallVector<int64_t>> target = constInts(im, 1, "the target shape");
  if (failed(target))
    return failure();
  ArrayRef<int64_t> in = Importer::typeOf(x).getShape();
  SmallVector<int64_t> shape;
  int64_t known = 1, inferAt = -1;
  for (size_t i = 0; i < target->size(); ++i) {
    int64_t d = (*target)[i];
    if (d == 0 && !allowZero) {
      if (i >= in.size())
        return im.error("shape entry 0 at axis " + Twine(i) +
                        " has no input dimension to copy");
      d = in[i];
    }
    if (d == -1) {
      if (inferAt >= 0)
        return im.error("the target shape has more than one -1");
      inferAt = i;
    } else if (d <= 0) {
      return im.error("invalid target dimension " + Twine(d) + " at axis " +
                      Twine(i));
    } else if (known > kMaxTensorElements / d) {
      return im.error("the target shape has more than 2^40 elements");
    } else {
      known *= d;
    }
    shape.push_back(d);
  }
  int64_t total = Importer::typeOf(x).getNumElements();
  if (inferAt >= 0) {
    if (known == 0 || total % known != 0)
      return im.error("cannot infer the -1 dimension: " + Twine(total) +
                      " elements are not divisible by " + Twine(known));
    shape[inferAt] = total / known;
  } else if (known != total) {
    return im.error("cannot reshape " + Twine(total) + " elements into " +
                    Twine(known));
  }
  im.setOutput(0, im.reshape(x, shape));
  return success();
}

static LogicalResult lowerFlatten(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  ArrayRef<int64_t> in = Importer::typeOf(x).getShape();
  int64_t rank = in.size(), axis = im.attrInt("axis", 1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > rank)
    return im.error("axis is out of range");
  if (!Importer::typeOf(x).hasStaticShape()) {
    FailureOr<SmallVector<SymDim>> dims = symbolicShape(im, x);
    if (failed(dims))
      return failure();
    SymDim outer, inner;
    for (int64_t i = 0; i < rank; ++i)
      (i < axis ? outer : inner) = (i < axis ? outer : inner) * (*dims)[i];
    return setReshaped(im, x, {outer, inner});
  }
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i)
    (i < axis ? outer : inner) *= in[i];
  im.setOutput(0, im.reshape(x, {outer, inner}));
  return success();
}

static LogicalResult lowerTranspose(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  int64_t rank = Importer::typeOf(x).getRank();
  SmallVector<int64_t> perm;
  if (auto p = im.attrInts("perm")) {
    perm = *p;
  } else {
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  }
  SmallVector<bool> seen(rank, false);
  if (int64_t(perm.size()) != rank)
    return im.error("perm has " + Twine(perm.size()) + " entries for rank " +
                    Twine(rank));
  for (int64_t &p : perm) {
    if (p < 0)
      p += rank;
    if (p < 0 || p >= rank || seen[p])
      return im.error("perm is not a permutation");
    seen[p] = true;
  }
  im.setOutput(0, im.transpose(x, perm));
  return success();
}

static LogicalResult lowerConcat(Importer &im) {
  SmallVector<Value> ins;
  for (unsigned i = 0; i < im.numInputs(); ++i) {
    // Empty constants (an empty Split part) add nothing.
    if (const HostTensor *c = im.constInput(i);
        c && c->numElements() == 0 && im.numInputs() > 1)
      continue;
    Value v = im.input(i);
    if (!v)
      return failure();
    ins.push_back(v);
  }
  if (ins.empty())
    return im.error("every input is empty; zero-sized tensors are not "
                    "supported");
  RankedTensorType first = Importer::typeOf(ins[0]);
  FailureOr<int64_t> axis =
      im.normalizeAxis(im.attrInt("axis", 0), first.getRank());
  if (failed(axis))
    return failure();
  SmallVector<int64_t> shape(first.getShape());
  shape[*axis] = 0;
  // Every input has at most kMaxTensorElements elements: the sum of the axis
  // sizes is checked as it grows.
  for (Value v : ins) {
    RankedTensorType t = Importer::typeOf(v);
    if (t.getRank() != first.getRank() ||
        t.getElementType() != first.getElementType())
      return im.error("inputs differ in rank or element type");
    for (int64_t d = 0; d < t.getRank(); ++d) {
      if (d == *axis)
        continue;
      if (t.getDimSize(d) != first.getDimSize(d))
        return im.error("inputs differ in dimension " + Twine(d));
      if (t.isDynamicDim(d)) {
        FailureOr<SymDim> mine = im.symbolicDim(v, d),
                          firsts = im.symbolicDim(ins[0], d);
        if (failed(mine) || failed(firsts) || *mine != *firsts)
          return im.error("cannot tell that the inputs' dynamic dimension " +
                          Twine(d) + " is the same size");
      }
    }
    if (t.isDynamicDim(*axis))
      return im.error("Concat along a dynamic dimension (axis " + Twine(*axis) +
                      ") is not supported yet");
    shape[*axis] += t.getDimSize(*axis);
    if (shape[*axis] > kMaxTensorElements)
      return im.error("the result has more than 2^40 elements");
  }
  OpBuilder &b = im.builder();
  SmallVector<OpFoldResult> resultSizes = im.dimSizes(ins[0]);
  resultSizes[*axis] = b.getIndexAttr(shape[*axis]);
  Value result = im.emptyTensor(resultSizes, first.getElementType());
  int64_t offset = 0;
  for (Value v : ins) {
    RankedTensorType t = Importer::typeOf(v);
    SmallVector<OpFoldResult> offsets(t.getRank(), b.getIndexAttr(0));
    offsets[*axis] = b.getIndexAttr(offset);
    SmallVector<OpFoldResult> sizes = im.dimSizes(v),
                              strides(t.getRank(), b.getIndexAttr(1));
    result = tensor::InsertSliceOp::create(b, im.loc(), v, result, offsets,
                                           sizes, strides);
    offset += t.getDimSize(*axis);
  }
  im.setOutput(0, result);
  return success();
}

/// Reverses `v` along `axis` (for negative Slice steps).
static Value reverseAxis(Importer &im, Value v, int64_t axis) {
  OpBuilder &b = im.builder();
  RankedTensorType t = Importer::typeOf(v);
  int64_t rank = t.getRank();
  SmallVector<AffineExpr> exprs;
  for (int64_t i = 0; i < rank; ++i)
    exprs.push_back(i == axis ? b.getAffineConstantExpr(t.getDimSize(i) - 1) -
                                    b.getAffineDimExpr(i)
                              : b.getAffineDimExpr(i));
  SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, exprs, im.ctx()),
                                 b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value init = im.emptyTensor(t.getShape(), t.getElementType());
  return linalg::GenericOp::create(b, im.loc(), t, ValueRange{v},
                                   ValueRange{init}, maps, iters,
                                   [](OpBuilder &nb, Location l, ValueRange a) {
                                     linalg::YieldOp::create(nb, l, a[0]);
                                   })
      .getResult(0);
}

static LogicalResult lowerSlice(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  RankedTensorType t = Importer::typeOf(x);
  int64_t rank = t.getRank();
  SmallVector<int64_t> starts, ends, axes, steps;
  if (im.opset() < 10) {
    auto s = im.attrInts("starts"), e = im.attrInts("ends");
    if (!s || !e)
      return im.error("Slice needs the 'starts' and 'ends' attributes");
    starts = *s;
    ends = *e;
    if (auto a = im.attrInts("axes"))
      axes = *a;
  } else {
    auto s = constInts(im, 1, "starts"), e = constInts(im, 2, "ends");
    if (failed(s) || failed(e))
      return failure();
    starts = *s;
    ends = *e;
    if (im.hasInput(3)) {
      auto a = constInts(im, 3, "axes");
      if (failed(a))
        return failure();
      axes = *a;
    }
    if (im.hasInput(4)) {
      auto st = constInts(im, 4, "steps");
      if (failed(st))
        return failure();
      steps = *st;
    }
  }
  bool axesGiven = im.opset() < 10 ? bool(im.attrInts("axes")) : im.hasInput(3);
  if (!axesGiven)
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(i);
  if (im.opset() < 10 || !im.hasInput(4))
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size())
    return im.error("starts, ends, axes and steps differ in length");

  OpBuilder &b = im.builder();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)), sizes,
      strides(rank, b.getIndexAttr(1));
  SmallVector<int64_t> outShape(t.getShape());
  SmallVector<int64_t> reversed;
  // Dynamic dims are taken whole.
  sizes = im.dimSizes(x);
  for (size_t i = 0; i < starts.size(); ++i) {
    FailureOr<int64_t> axis = im.normalizeAxis(axes[i], rank);
    if (failed(axis))
      return failure();
    if (t.isDynamicDim(*axis))
      return im.error("Slice along a dynamic dimension (axis " + Twine(*axis) +
                      ") is not supported yet");
    int64_t dim = t.getDimSize(*axis), step = steps[i];
    if (step == 0)
      return im.error("slice step must not be 0");
    // A step beyond the axis size selects one element, as any larger step
    // does: clamping keeps the index arithmetic below from overflowing.
    step = std::clamp<int64_t>(step, -dim, dim);
    auto clampIndex = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0)
        v += dim;
      return std::min(std::max(v, lo), hi);
    };
    int64_t start, end, count;
    if (step > 0) {
      start = clampIndex(starts[i], 0, dim);
      end = clampIndex(ends[i], 0, dim);
      count = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = clampIndex(starts[i], 0, dim - 1);
      end = clampIndex(ends[i], -1, dim - 1);
      if (ends[i] < -dim) // "to the very beginning"
        end = -1;
      count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
    }
    if (count == 0)
      return im.error("slice along axis " + Twine(*axis) +
                      " is empty; zero-sized tensors are not supported");
    int64_t first = step > 0 ? start : start + (count - 1) * step;
    offsets[*axis] = b.getIndexAttr(first);
    sizes[*axis] = b.getIndexAttr(count);
    strides[*axis] = b.getIndexAttr(std::abs(step));
    outShape[*axis] = count;
    if (step < 0)
      reversed.push_back(*axis);
  }
  auto outType = RankedTensorType::get(outShape, t.getElementType());
  Value result = tensor::ExtractSliceOp::create(b, im.loc(), outType, x,
                                                offsets, sizes, strides);
  for (int64_t axis : reversed)
    result = reverseAxis(im, result, axis);
  im.setOutput(0, result);
  return success();
}

/// Split: input 0 into the node's outputs along `axis`, with the sizes of
/// the `split` input (opset 13 on) or attribute (before), else equal parts;
/// from opset 18 `num_outputs` gives their number, parts of ceil(dim / n)
/// with a smaller last one.
static LogicalResult lowerSplit(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  RankedTensorType t = Importer::typeOf(x);
  FailureOr<int64_t> axis =
      im.normalizeAxis(im.attrInt("axis", 0), t.getRank());
  if (failed(axis))
    return failure();
  int64_t dim = t.getDimSize(*axis);
  int64_t outputs = im.node().output_size();
  bool hasNumOutputs = im.opset() >= 18 && im.attr("num_outputs");
  SmallVector<int64_t> sizes;
  if (im.opset() >= 13 && im.hasInput(1)) {
    if (hasNumOutputs)
      return im.error("Split takes the 'split' input or the 'num_outputs' "
                      "attribute, not both");
    FailureOr<SmallVector<int64_t>> given = constInts(im, 1, "split");
    if (failed(given))
      return failure();
    sizes = *given;
  } else if (im.opset() < 13 && im.attrInts("split")) {
    sizes = *im.attrInts("split");
  } else {
    int64_t parts = outputs;
    if (im.opset() >= 18) {
      if (!hasNumOutputs)
        return im.error("Split needs the 'split' input or the 'num_outputs' "
                        "attribute");
      parts = im.attrInt("num_outputs", 0);
      if (parts != outputs)
        return im.error("num_outputs is " + Twine(parts) +
                        " but the node has " + Twine(outputs) + " outputs");
    }
    if (parts < 1)
      return im.error("Split needs at least one output");
    if (im.opset() < 18 && dim % parts != 0)
      return im.error("axis " + Twine(*axis) + " of size " + Twine(dim) +
                      " does not split into " + Twine(parts) + " equal parts");
    int64_t chunk = (dim + parts - 1) / parts;
    for (int64_t i = 0; i < parts; ++i)
      sizes.push_back(std::min(chunk, dim - i * chunk));
  }
  if (int64_t(sizes.size()) != outputs)
    return im.error("Split gives " + Twine(sizes.size()) + " sizes for " +
                    Twine(outputs) + " outputs");
  int64_t total = 0;
  for (int64_t size : sizes) {
    if (size < 0)
      return im.error("a Split part of size " + Twine(size) + " along axis " +
                      Twine(*axis));
    if (size > dim - total)
      return im.error("the Split sizes add up to more than axis " +
                      Twine(*axis) + "'s " + Twine(dim));
    total += size;
  }
  if (total != dim)
    return im.error("the Split sizes add up to " + Twine(total) +
                    ", not axis " + Twine(*axis) + "'s " + Twine(dim));
  OpBuilder &b = im.builder();
  SmallVector<OpFoldResult> offsets(t.getRank(), b.getIndexAttr(0)), extents,
      strides(t.getRank(), b.getIndexAttr(1));
  for (int64_t d : t.getShape())
    extents.push_back(b.getIndexAttr(d));
  SmallVector<int64_t> shape(t.getShape());
  int64_t offset = 0;
  for (auto [i, size] : llvm::enumerate(sizes)) {
    shape[*axis] = size;
    if (size == 0) {
      // An empty part (RotaryEmbedding's pass-through when the whole head
      // rotates) lives on as an empty constant: Concat drops it, anything
      // that would materialize it reports the zero-sized tensor.
      FailureOr<int32_t> dtype = im.onnxType(t.getElementType());
      if (failed(dtype))
        return failure();
      HostTensor empty;
      empty.dtype = *dtype;
      empty.shape.assign(shape.begin(), shape.end());
      empty.allocate();
      if (failed(im.setConstOutput(i, std::move(empty))))
        return failure();
      continue;
    }
    offsets[*axis] = b.getIndexAttr(offset);
    extents[*axis] = b.getIndexAttr(size);
    im.setOutput(i, tensor::ExtractSliceOp::create(
                        b, im.loc(),
                        RankedTensorType::get(shape, t.getElementType()), x,
                        offsets, extents, strides));
    offset += size;
  }
  return success();
}

/// Pad in `edge`, `reflect` or `wrap` mode: each output element reads the
/// input at its index minus the begin pad, mapped into the axis (clamped;
/// reflected about the ends without repeating them, as numpy's reflect;
/// modulo the axis size).
static LogicalResult padByIndex(Importer &im, Value x, ArrayRef<int64_t> begin,
                                ArrayRef<int64_t> end, StringRef mode) {
  RankedTensorType t = Importer::typeOf(x);
  int64_t rank = t.getRank();
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < rank; ++i) {
    if (begin[i] < 0 || end[i] < 0)
      return im.error("negative pads (cropping) are supported in 'constant' "
                      "mode only");
    if (mode == "reflect" && t.getDimSize(i) == 1 && (begin[i] || end[i]))
      return im.error("Pad mode 'reflect' cannot pad axis " + Twine(i) +
                      " of size 1");
    shape.push_back(t.getDimSize(i) + begin[i] + end[i]);
  }
  if (failed(im.checkShape(shape, "the Pad result")))
    return failure();
  OpBuilder &b = im.builder();
  Type elt = t.getElementType();
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value result =
      linalg::GenericOp::create(
          b, im.loc(), RankedTensorType::get(shape, elt), ValueRange{},
          ValueRange{im.emptyTensor(shape, elt)}, maps, iters,
          [&](OpBuilder &nb, Location l, ValueRange) {
            auto index = [&](int64_t v) {
              return arith::ConstantIndexOp::create(nb, l, v).getResult();
            };
            SmallVector<Value> coords;
            for (int64_t d = 0; d < rank; ++d) {
              int64_t dim = t.getDimSize(d);
              Value j = arith::SubIOp::create(
                  nb, l, linalg::IndexOp::create(nb, l, d), index(begin[d]));
              if (!begin[d] && !end[d]) {
                coords.push_back(j);
                continue;
              }
              Value src;
              if (mode == "edge") {
                src = arith::MinSIOp::create(
                    nb, l, arith::MaxSIOp::create(nb, l, j, index(0)),
                    index(dim - 1));
              } else {
                // wrap: j mod dim; reflect: j mod 2(dim - 1), folded back.
                int64_t period = mode == "wrap" ? dim : 2 * (dim - 1);
                Value m = arith::RemSIOp::create(nb, l, j, index(period));
                Value neg = arith::CmpIOp::create(
                    nb, l, arith::CmpIPredicate::slt, m, index(0));
                m = arith::SelectOp::create(
                    nb, l, neg, arith::AddIOp::create(nb, l, m, index(period)),
                    m);
                if (mode == "reflect") {
                  Value past = arith::CmpIOp::create(
                      nb, l, arith::CmpIPredicate::sge, m, index(dim));
                  m = arith::SelectOp::create(
                      nb, l, past,
                      arith::SubIOp::create(nb, l, index(period), m), m);
                }
                src = m;
              }
              coords.push_back(src);
            }
            linalg::YieldOp::create(
                nb, l, tensor::ExtractOp::create(nb, l, x, coords).getResult());
          })
          .getResult(0);
  im.setOutput(0, result);
  return success();
}

/// Pad: the `pads` (attribute before opset 11, input from 11) as begins
/// then ends, for every axis or (opset 18 on) for the `axes` input's. In
/// `constant` mode negative pads crop, and the padding value is the `value`
/// attribute or the `constant_value` input (0 if absent); the other modes
/// go through padByIndex.
static LogicalResult lowerPad(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  std::string mode = im.attrString("mode", "constant");
  if (mode != "constant" && mode != "edge" && mode != "reflect" &&
      !(mode == "wrap" && im.opset() >= 19))
    return im.error("Pad mode '" + mode + "' is not supported");
  RankedTensorType t = Importer::typeOf(x);
  int64_t rank = t.getRank();
  Type elt = t.getElementType();
  SmallVector<int64_t> pads;
  double value = 0;
  if (im.opset() < 11) {
    std::optional<SmallVector<int64_t>> attr = im.attrInts("pads");
    if (!attr)
      return im.error("Pad needs the 'pads' attribute");
    pads = *attr;
    value = im.attrFloat("value", 0.0f);
  } else {
    FailureOr<SmallVector<int64_t>> given = constInts(im, 1, "pads");
    if (failed(given))
      return failure();
    pads = *given;
    if (im.hasInput(2)) {
      const HostTensor *v = im.constInput(2);
      if (!v)
        return im.error("the Pad constant_value must be a compile-time "
                        "constant");
      if (v->numElements() != 1)
        return im.error("the Pad constant_value must hold one value");
      value = v->at(0);
    }
  }
  SmallVector<int64_t> axes;
  if (im.opset() >= 18 && im.hasInput(3)) {
    FailureOr<SmallVector<int64_t>> given = constInts(im, 3, "axes");
    if (failed(given))
      return failure();
    for (int64_t a : *given) {
      FailureOr<int64_t> axis = im.normalizeAxis(a, rank);
      if (failed(axis))
        return failure();
      if (llvm::is_contained(axes, *axis))
        return im.error("Pad axis " + Twine(a) + " is given twice");
      axes.push_back(*axis);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i)
      axes.push_back(i);
  }
  int64_t n = axes.size();
  if (int64_t(pads.size()) != 2 * n)
    return im.error("Pad has " + Twine(pads.size()) + " pads for " + Twine(n) +
                    " axes (needs two per axis)");
  constexpr int64_t bound = int64_t(1) << 31;
  SmallVector<int64_t> begin(rank, 0), end(rank, 0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t p : {pads[i], pads[i + n]})
      if (p > bound || p < -bound)
        return im.error("Pad amount " + Twine(p) +
                        " is out of range [-2^31, "
                        "2^31]");
    begin[axes[i]] = pads[i];
    end[axes[i]] = pads[i + n];
  }
  OpBuilder &b = im.builder();
  if (mode != "constant")
    return padByIndex(im, x, begin, end, mode);
  // Negative pads crop first.
  SmallVector<int64_t> cropped(t.getShape());
  SmallVector<OpFoldResult> offsets, sizes, strides(rank, b.getIndexAttr(1));
  bool crop = false;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t first = std::max<int64_t>(-begin[i], 0);
    cropped[i] -= first + std::max<int64_t>(-end[i], 0);
    if (cropped[i] <= 0)
      return im.error("Pad crops axis " + Twine(i) +
                      " to nothing; zero-sized tensors are not supported");
    crop |= cropped[i] != t.getDimSize(i);
    offsets.push_back(b.getIndexAttr(first));
    sizes.push_back(b.getIndexAttr(cropped[i]));
  }
  if (crop)
    x = tensor::ExtractSliceOp::create(b, im.loc(),
                                       RankedTensorType::get(cropped, elt), x,
                                       offsets, sizes, strides);
  SmallVector<int64_t> shape(cropped);
  SmallVector<OpFoldResult> low, high;
  for (int64_t i = 0; i < rank; ++i) {
    int64_t lo = std::max<int64_t>(begin[i], 0),
            hi = std::max<int64_t>(end[i], 0);
    shape[i] += lo + hi;
    low.push_back(b.getIndexAttr(lo));
    high.push_back(b.getIndexAttr(hi));
  }
  if (failed(im.checkShape(shape, "the Pad result")))
    return failure();
  if (shape != cropped)
    x = tensor::PadOp::create(b, im.loc(), RankedTensorType::get(shape, elt), x,
                              low, high, im.scalarConstant(elt, value));
  im.setOutput(0, x);
  return success();
}

static LogicalResult lowerGather(Importer &im) {
  Value data = im.input(0), indices = im.input(1);
  if (!data || !indices)
    return failure();
  RankedTensorType dt = Importer::typeOf(data), it = Importer::typeOf(indices);
  FailureOr<int64_t> axis =
      im.normalizeAxis(im.attrInt("axis", 0), dt.getRank());
  if (failed(axis))
    return failure();
  if (!isa<IntegerType>(it.getElementType()))
    return im.error("Gather indices must be integers");
  if (!dt.hasStaticShape())
    return im.error("Gather from a tensor with dynamic dimensions is not "
                    "supported yet (only indices may be dynamic)");
  if (const HostTensor *idx = im.constInput(1)) {
    int64_t dim = dt.getDimSize(*axis);
    for (int64_t k = 0; k < idx->numElements(); ++k)
      if (idx->intAt(k) < -dim || idx->intAt(k) >= dim)
        return im.error("index " + Twine(idx->intAt(k)) +
                        " is out of range for axis size " + Twine(dim));
  }
  SmallVector<int64_t> outShape(dt.getShape().take_front(*axis));
  llvm::append_range(outShape, it.getShape());
  llvm::append_range(outShape, dt.getShape().drop_front(*axis + 1));
  int64_t outRank = outShape.size(), idxRank = it.getRank();
  OpBuilder &b = im.builder();
  SmallVector<AffineExpr> idxExprs;
  for (int64_t i = 0; i < idxRank; ++i)
    idxExprs.push_back(b.getAffineDimExpr(*axis + i));
  SmallVector<AffineMap> maps = {AffineMap::get(outRank, 0, idxExprs, im.ctx()),
                                 b.getMultiDimIdentityMap(outRank)};
  SmallVector<utils::IteratorType> iters(outRank,
                                         utils::IteratorType::parallel);
  SmallVector<OpFoldResult> outSizes;
  for (int64_t i = 0; i < outRank; ++i)
    outSizes.push_back(i >= *axis && i < *axis + idxRank
                           ? im.dimSize(indices, i - *axis)
                           : OpFoldResult(b.getIndexAttr(outShape[i])));
  Value init = im.emptyTensor(outSizes, dt.getElementType());
  int64_t axisV = *axis, dim = dt.getDimSize(*axis), dataRank = dt.getRank();
  Value result =
      linalg::GenericOp::create(
          b, im.loc(), init.getType(), ValueRange{indices}, ValueRange{init},
          maps, iters,
          [&](OpBuilder &nb, Location l, ValueRange a) {
            Value idx =
                arith::IndexCastOp::create(nb, l, nb.getIndexType(), a[0]);
            Value size = arith::ConstantIndexOp::create(nb, l, dim);
            Value zero = arith::ConstantIndexOp::create(nb, l, 0);
            Value neg = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt,
                                              idx, zero);
            Value wrapped = arith::AddIOp::create(nb, l, idx, size);
            idx = arith::SelectOp::create(nb, l, neg, wrapped, idx);
            // Clamp so that an out-of-range runtime index cannot read outside
            // the buffer.
            Value maxIdx = arith::ConstantIndexOp::create(nb, l, dim - 1);
            idx = arith::MaxSIOp::create(nb, l, idx, zero);
            idx = arith::MinSIOp::create(nb, l, idx, maxIdx);
            SmallVector<Value> coords;
            for (int64_t d = 0; d < dataRank; ++d) {
              if (d < axisV)
                coords.push_back(linalg::IndexOp::create(nb, l, d));
              else if (d == axisV)
                coords.push_back(idx);
              else
                coords.push_back(
                    linalg::IndexOp::create(nb, l, d - 1 + idxRank));
            }
            Value v = tensor::ExtractOp::create(nb, l, data, coords);
            linalg::YieldOp::create(nb, l, v);
          })
          .getResult(0);
  im.setOutput(0, result);
  return success();
}

static LogicalResult lowerUnsqueeze(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  auto axes = axesFrom(im, 13, 1);
  if (failed(axes))
    return failure();
  if (!*axes)
    return im.error("Unsqueeze needs axes");
  ArrayRef<int64_t> in = Importer::typeOf(x).getShape();
  int64_t outRank = in.size() + (*axes)->size();
  SmallVector<bool> isNew(outRank, false);
  for (int64_t a : **axes) {
    FailureOr<int64_t> n = im.normalizeAxis(a, outRank);
    if (failed(n))
      return failure();
    if (isNew[*n])
      return im.error("repeated axis in Unsqueeze");
    isNew[*n] = true;
  }
  if (!Importer::typeOf(x).hasStaticShape()) {
    FailureOr<SmallVector<SymDim>> dims = symbolicShape(im, x);
    if (failed(dims))
      return failure();
    SmallVector<SymDim> shape;
    size_t next = 0;
    for (int64_t i = 0; i < outRank; ++i)
      shape.push_back(isNew[i] ? SymDim::constant(1) : (*dims)[next++]);
    return setReshaped(im, x, shape);
  }
  SmallVector<int64_t> shape;
  size_t next = 0;
  for (int64_t i = 0; i < outRank; ++i)
    shape.push_back(isNew[i] ? 1 : in[next++]);
  im.setOutput(0, im.reshape(x, shape));
  return success();
}

static LogicalResult lowerSqueeze(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  auto axes = axesFrom(im, 13, 1);
  if (failed(axes))
    return failure();
  ArrayRef<int64_t> in = Importer::typeOf(x).getShape();
  SmallVector<bool> drop(in.size(), false);
  if (*axes) {
    for (int64_t a : **axes) {
      FailureOr<int64_t> n = im.normalizeAxis(a, in.size());
      if (failed(n))
        return failure();
      if (in[*n] != 1)
        return im.error("cannot squeeze axis " + Twine(a) + " of size " +
                        Twine(in[*n]));
      drop[*n] = true;
    }
  } else {
    for (size_t i = 0; i < in.size(); ++i)
      drop[i] = in[i] == 1;
  }
  if (!Importer::typeOf(x).hasStaticShape()) {
    FailureOr<SmallVector<SymDim>> dims = symbolicShape(im, x);
    if (failed(dims))
      return failure();
    SmallVector<SymDim> shape;
    for (size_t i = 0; i < in.size(); ++i)
      if (!drop[i])
        shape.push_back((*dims)[i]);
    return setReshaped(im, x, shape);
  }
  SmallVector<int64_t> shape;
  for (size_t i = 0; i < in.size(); ++i)
    if (!drop[i])
      shape.push_back(in[i]);
  im.setOutput(0, im.reshape(x, shape));
  return success();
}

static LogicalResult lowerExpand(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  if (im.symbolicInput(1) || !Importer::typeOf(x).hasStaticShape()) {
    std::optional<SmallVector<SymDim>> shape = im.sizesInput(1);
    if (!shape)
      return im.error("the Expand shape must be a compile-time constant or "
                      "computed from the inputs' dimensions");
    FailureOr<Value> r = expandDynamic(im, x, *shape);
    if (failed(r))
      return failure();
    im.setOutput(0, *r);
    return success();
  }
  FailureOr<SmallVector<int64_t>> shape = constInts(im, 1, "the Expand shape");
  if (failed(shape))
    return failure();
  for (int64_t d : *shape)
    if (d <= 0)
      return im.error("Expand shape entries must be positive");
  if (failed(im.checkShape(*shape, "the Expand shape")))
    return failure();
  // Broadcast against a dummy of the requested shape.
  Type elt = Importer::typeOf(x).getElementType();
  Value shaped = im.emptyTensor(*shape, elt);
  FailureOr<Value> r = im.elementwise(
      {x, shaped}, elt,
      [](OpBuilder &, Location, ValueRange a) -> Value { return a[0]; });
  if (failed(r))
    return failure();
  im.setOutput(0, *r);
  return success();
}

void registerTensorLowerings(LoweringTable &t) {
  t["Reshape"] = {lowerReshape, 2, 2, /*dynamic=*/true};
  t["Flatten"] = {lowerFlatten, 1, 1, /*dynamic=*/true};
  t["Transpose"] = {lowerTranspose, 1, 1, /*dynamic=*/true};
  t["Concat"] = {lowerConcat, 1, kVariadic, /*dynamic=*/true};
  // Slice-1 takes starts and ends as attributes, Slice-10 as inputs 1 and 2.
  t["Slice"] = {lowerSlice, 1, 5, /*dynamic=*/true};
  t["Split"] = {lowerSplit, 1, 2};
  t["Pad"] = {lowerPad, 1, 4};
  t["Gather"] = {lowerGather, 2, 2, /*dynamic=*/true};
  t["Unsqueeze"] = {lowerUnsqueeze, 1, 2, /*dynamic=*/true};
  t["Squeeze"] = {lowerSqueeze, 1, 2, /*dynamic=*/true};
  t["Expand"] = {lowerExpand, 2, 2, /*dynamic=*/true};
}

} // namespace sparsec::onnx_import
