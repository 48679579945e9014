//===- ConstantFolding.cpp - evaluate shape subgraphs at import time ------===//
//
// PyTorch exports compute reshape targets with Shape -> Gather -> Unsqueeze ->
// Concat chains. With static shapes these are compile-time constants; we
// evaluate them here so that Reshape sees a constant shape.
//
// Integer data is folded in int64 with two's-complement wrap-around to the
// element width (as ONNX runtimes compute it), never through double. A fold
// that does not apply (inputs of unexpected types or shapes) leaves the node
// to its lowering, which reports the error.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include "llvm/ADT/APFloat.h"

#include <cmath>

using namespace mlir;

namespace sparsec::onnx_import {

FailureOr<std::pair<int32_t, double>> constantOfShapeValue(Importer &im) {
  if (!im.attr("value"))
    return std::pair<int32_t, double>{onnx::TensorProto::FLOAT, 0.0};
  FailureOr<HostTensor> v = im.attrTensor("value");
  if (failed(v))
    return failure();
  if (v->numElements() != 1)
    return im.error("the ConstantOfShape value must hold one element, not " +
                    Twine(v->numElements()));
  return std::pair<int32_t, double>{v->dtype, v->at(0)};
}

namespace {

constexpr int64_t kMaxFoldElements = 1 << 20;

/// Row-major strides of `shape`.
SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> st(shape.size(), 1);
  for (int64_t i = int64_t(shape.size()) - 2; i >= 0; --i)
    st[i] = st[i + 1] * shape[i + 1];
  return st;
}

/// Wraps `v` to the range of integer dtype `dtype` (two's complement).
int64_t wrapTo(int32_t dtype, int64_t v) {
  switch (dtype) {
  case onnx::TensorProto::INT32:
    return int32_t(uint32_t(uint64_t(v)));
  case onnx::TensorProto::INT16:
    return int16_t(uint16_t(uint64_t(v)));
  case onnx::TensorProto::INT8:
    return int8_t(uint8_t(uint64_t(v)));
  case onnx::TensorProto::UINT8:
    return uint8_t(uint64_t(v));
  case onnx::TensorProto::BOOL:
    return v != 0;
  default:
    return v;
  }
}

/// Numpy-broadcast n-ary evaluation: `fn(out, index, offsets)` computes
/// output element `index` from the inputs' elements at `offsets`.
using ElementFn =
    llvm::function_ref<void(HostTensor &, int64_t, ArrayRef<int64_t>)>;
std::optional<HostTensor> broadcastEval(ArrayRef<const HostTensor *> ins,
                                        int32_t outType, ElementFn fn) {
  size_t rank = 0;
  for (auto *t : ins)
    rank = std::max(rank, t->shape.size());
  SmallVector<int64_t> shape(rank, 1);
  for (auto *t : ins)
    for (size_t i = 0; i < t->shape.size(); ++i) {
      int64_t &o = shape[rank - t->shape.size() + i];
      int64_t d = t->shape[i];
      if (d != 1 && o != 1 && d != o)
        return std::nullopt;
      if (d != 1)
        o = d;
    }
  if (!checkedProduct(shape, kMaxFoldElements))
    return std::nullopt;
  HostTensor out;
  out.dtype = outType;
  out.shape = shape;
  out.allocate();
  SmallVector<int64_t> outStrides = stridesOf(shape);
  SmallVector<SmallVector<int64_t>> inStrides;
  for (auto *t : ins)
    inStrides.push_back(stridesOf(t->shape));
  SmallVector<int64_t> offsets(ins.size());
  for (int64_t idx = 0, e = out.numElements(); idx < e; ++idx) {
    for (size_t k = 0; k < ins.size(); ++k) {
      const HostTensor *t = ins[k];
      int64_t off = 0;
      for (size_t i = 0; i < t->shape.size(); ++i) {
        size_t od = rank - t->shape.size() + i;
        int64_t coord = (idx / outStrides[od]) % shape[od];
        off += (t->shape[i] == 1 ? 0 : coord) * inStrides[k][i];
      }
      offsets[k] = off;
    }
    fn(out, idx, offsets);
  }
  return out;
}

int64_t normAxis(int64_t a, int64_t rank) { return a < 0 ? a + rank : a; }

std::string formatDouble(double v) {
  std::string out;
  llvm::raw_string_ostream os(out);
  os << v;
  return out;
}

/// Integer binary ops in int64 with wrap-around; division truncates toward
/// zero (0 for a zero divisor, which ONNX leaves undefined).
std::optional<int64_t> intBinary(StringRef op, int64_t a, int64_t b) {
  uint64_t ua = a, ub = b;
  if (op == "Add")
    return int64_t(ua + ub);
  if (op == "Sub")
    return int64_t(ua - ub);
  if (op == "Mul")
    return int64_t(ua * ub);
  if (op == "Div") {
    if (b == 0)
      return 0;
    if (a == std::numeric_limits<int64_t>::min() && b == -1)
      return a;
    return a / b;
  }
  if (op == "Max")
    return std::max(a, b);
  if (op == "Min")
    return std::min(a, b);
  return std::nullopt;
}

std::optional<double> floatBinary(StringRef op, double a, double b) {
  if (op == "Add")
    return a + b;
  if (op == "Sub")
    return a - b;
  if (op == "Mul")
    return a * b;
  if (op == "Div")
    return a / b;
  if (op == "Max")
    return std::max(a, b);
  if (op == "Min")
    return std::min(a, b);
  return std::nullopt;
}

/// float(v) with IEEE rounding: out-of-range values become +-inf (a plain
/// C++ conversion is undefined for them).
double roundToFloat(double v) {
  llvm::APFloat f(v);
  bool lost;
  f.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven,
            &lost);
  return f.convertToFloat();
}

/// Folds Cast. Float -> integer casts of NaN or of values outside the
/// target's range are an error: ONNX leaves them undefined, and folding them
/// silently would bake an arbitrary value into the model.
LogicalResult foldCast(Importer &im, const HostTensor &x, int32_t to,
                       bool &folded) {
  if (to != onnx::TensorProto::INT64 && to != onnx::TensorProto::INT32 &&
      to != onnx::TensorProto::FLOAT && to != onnx::TensorProto::BOOL &&
      to != onnx::TensorProto::DOUBLE)
    return success();
  if (HostTensor::isFloatType(to) && !x.isFloat() && x.numElements() > 4096)
    return success();
  HostTensor t;
  t.dtype = to;
  t.shape = x.shape;
  t.allocate();
  for (int64_t i = 0, e = x.numElements(); i < e; ++i) {
    if (to == onnx::TensorProto::BOOL) {
      t.ints[i] = x.isFloat() ? x.floats[i] != 0 : x.ints[i] != 0;
    } else if (to == onnx::TensorProto::FLOAT) {
      t.floats[i] = roundToFloat(x.at(i));
    } else if (to == onnx::TensorProto::DOUBLE) {
      t.floats[i] = x.at(i);
    } else if (!x.isFloat()) {
      t.ints[i] = wrapTo(to, x.ints[i]);
    } else {
      double v = std::trunc(x.floats[i]);
      bool is64 = to == onnx::TensorProto::INT64;
      double lo = is64 ? -9223372036854775808.0 : -2147483648.0;
      double hi = is64 ? 9223372036854775808.0 : 2147483648.0;
      if (!(v >= lo && v < hi))
        return im.error("cannot fold Cast of " + formatDouble(x.floats[i]) +
                        " to " + (is64 ? "INT64" : "INT32") +
                        ": the value is NaN or out of range (undefined in "
                        "ONNX)");
      t.ints[i] = int64_t(v);
    }
  }
  if (failed(im.setConstOutput(0, std::move(t))))
    return failure();
  folded = true;
  return success();
}

LogicalResult foldConstant(Importer &im, bool &folded) {
  HostTensor t;
  if (const onnx::AttributeProto *a = im.attr("value")) {
    FailureOr<HostTensor> h = im.initializerAsHost(a->t());
    if (failed(h))
      return failure();
    t = std::move(*h);
  } else if (const onnx::AttributeProto *a = im.attr("value_float")) {
    t.dtype = onnx::TensorProto::FLOAT;
    t.floats = {a->f()};
  } else if (const onnx::AttributeProto *a = im.attr("value_floats")) {
    t.dtype = onnx::TensorProto::FLOAT;
    t.shape = {a->floats_size()};
    t.floats.assign(a->floats().begin(), a->floats().end());
  } else if (const onnx::AttributeProto *a = im.attr("value_int")) {
    t.ints = {a->i()};
  } else if (const onnx::AttributeProto *a = im.attr("value_ints")) {
    t.shape = {a->ints_size()};
    t.ints.assign(a->ints().begin(), a->ints().end());
  } else {
    return im.error("Constant without a supported value attribute");
  }
  if (failed(im.setConstOutput(0, std::move(t))))
    return failure();
  folded = true;
  return success();
}

LogicalResult foldRange(Importer &im, ArrayRef<const HostTensor *> ins,
                        bool &folded) {
  const HostTensor &x = *ins[0];
  for (const HostTensor *in : ins)
    if (in->numElements() != 1 || in->dtype != x.dtype)
      return im.error("Range expects three scalars of one type");
  HostTensor t;
  t.dtype = x.dtype;
  int64_t count;
  if (x.isFloat()) {
    double start = x.floats[0], limit = ins[1]->floats[0],
           delta = ins[2]->floats[0];
    double n = std::ceil((limit - start) / delta);
    if (delta == 0 || !(n >= 1 && n <= kMaxFoldElements))
      return im.error("Range from " + formatDouble(start) + " to " +
                      formatDouble(limit) + " by " + formatDouble(delta) +
                      " does not yield 1 to " + Twine(kMaxFoldElements) +
                      " elements");
    count = int64_t(n);
    t.shape = {count};
    t.allocate();
    for (int64_t k = 0; k < count; ++k)
      t.floats[k] = start + k * delta;
  } else {
    __int128 start = x.ints[0], limit = ins[1]->ints[0],
             delta = ins[2]->ints[0];
    if (delta == 0)
      return im.error("Range delta must not be 0");
    __int128 span = limit - start;
    // ceil(span / delta) for either sign.
    __int128 n = span / delta +
                 ((span % delta != 0 && (span > 0) == (delta > 0)) ? 1 : 0);
    if (n < 1 || n > kMaxFoldElements)
      return im.error("Range from " + Twine(x.ints[0]) + " to " +
                      Twine(ins[1]->ints[0]) + " by " + Twine(ins[2]->ints[0]) +
                      " does not yield 1 to " + Twine(kMaxFoldElements) +
                      " elements");
    count = int64_t(n);
    t.shape = {count};
    t.allocate();
    for (int64_t k = 0; k < count; ++k)
      t.ints[k] = wrapTo(t.dtype, int64_t(uint64_t(start + k * delta)));
  }
  if (failed(im.setConstOutput(0, std::move(t))))
    return failure();
  folded = true;
  return success();
}

LogicalResult foldConstantOfShape(Importer &im, const HostTensor &x,
                                  bool &folded) {
  if (x.isFloat())
    return im.error("the ConstantOfShape shape must be an integer tensor");
  HostTensor t;
  FailureOr<std::pair<int32_t, double>> value = constantOfShapeValue(im);
  if (failed(value))
    return failure();
  t.dtype = value->first;
  t.shape.assign(x.ints.begin(), x.ints.end());
  if (llvm::any_of(t.shape, [](int64_t d) { return d <= 0; }))
    return im.error("ConstantOfShape needs positive dimensions");
  if (!checkedProduct(t.shape, kMaxFoldElements))
    return im.error("ConstantOfShape output is too large to fold (more than " +
                    Twine(kMaxFoldElements) + " elements)");
  t.allocate();
  for (int64_t k = 0, e = t.numElements(); k < e; ++k)
    t.set(k, value->second);
  if (failed(im.setConstOutput(0, std::move(t))))
    return failure();
  folded = true;
  return success();
}

/// The folds of shape-manipulating ops; `result` stays empty if the fold
/// does not apply.
void foldShapeOp(Importer &im, StringRef op, ArrayRef<const HostTensor *> ins,
                 std::optional<HostTensor> &result) {
  const HostTensor &x = *ins[0];
  auto intInput = [&](size_t i) -> const HostTensor * {
    return ins.size() > i && ins[i] && !ins[i]->isFloat() ? ins[i] : nullptr;
  };
  if (op == "Unsqueeze" || op == "Squeeze") {
    SmallVector<int64_t> axes;
    if (im.opset() < 13) {
      if (auto a = im.attrInts("axes"))
        axes = *a;
    } else if (const HostTensor *a = intInput(1)) {
      axes.assign(a->ints.begin(), a->ints.end());
    } else if (ins.size() > 1 && ins[1]) {
      return; // float axes: the lowering reports it
    }
    HostTensor t = x;
    t.shape.clear();
    if (op == "Unsqueeze") {
      int64_t outRank = x.shape.size() + axes.size();
      SmallVector<bool> isNew(outRank, false);
      for (int64_t a : axes) {
        a = normAxis(a, outRank);
        if (a < 0 || a >= outRank || isNew[a])
          return;
        isNew[a] = true;
      }
      size_t next = 0;
      for (int64_t i = 0; i < outRank; ++i)
        t.shape.push_back(isNew[i] ? 1 : x.shape[next++]);
    } else {
      SmallVector<bool> drop(x.shape.size(), axes.empty());
      for (int64_t a : axes) {
        a = normAxis(a, x.shape.size());
        if (a < 0 || a >= int64_t(x.shape.size()) || x.shape[a] != 1)
          return;
        drop[a] = true;
      }
      for (size_t i = 0; i < x.shape.size(); ++i)
        if (!(drop[i] && x.shape[i] == 1))
          t.shape.push_back(x.shape[i]);
    }
    result = std::move(t);
    return;
  }
  if (op == "Reshape") {
    const HostTensor *target = intInput(1);
    if (!target)
      return;
    SmallVector<int64_t> shape;
    int64_t infer = -1;
    for (int64_t k = 0; k < target->numElements(); ++k) {
      int64_t d = target->ints[k];
      if (d == 0 && !im.attrInt("allowzero", 0)) {
        if (k >= int64_t(x.shape.size()))
          return;
        d = x.shape[k];
      }
      if (d == -1) {
        if (infer >= 0)
          return;
        infer = k;
      } else if (d < 0) {
        return;
      }
      shape.push_back(d);
    }
    int64_t total = x.numElements();
    if (infer >= 0) {
      shape[infer] = 1;
      std::optional<int64_t> known =
          checkedProduct(shape, std::numeric_limits<int64_t>::max());
      if (!known || *known == 0 || total % *known != 0)
        return;
      shape[infer] = total / *known;
    }
    std::optional<int64_t> n =
        checkedProduct(shape, std::numeric_limits<int64_t>::max());
    if (!n || *n != total)
      return; // the lowering reports the error
    HostTensor t = x;
    t.shape = shape;
    result = std::move(t);
    return;
  }
  if (op == "Concat") {
    if (x.shape.size() != 1 || normAxis(im.attrInt("axis", 0), 1) != 0)
      return;
    HostTensor t;
    t.dtype = x.dtype;
    for (auto *in : ins) {
      if (!in || in->dtype != x.dtype || in->shape.size() != 1)
        return;
      t.floats.insert(t.floats.end(), in->floats.begin(), in->floats.end());
      t.ints.insert(t.ints.end(), in->ints.begin(), in->ints.end());
    }
    t.shape = {int64_t(t.isFloat() ? t.floats.size() : t.ints.size())};
    result = std::move(t);
    return;
  }
  if (op == "Gather") {
    const HostTensor *idx = intInput(1);
    int64_t rank = x.shape.size();
    int64_t axis = normAxis(im.attrInt("axis", 0), rank);
    if (!idx || axis < 0 || axis >= rank)
      return;
    SmallVector<int64_t> outShape(x.shape.begin(), x.shape.begin() + axis);
    llvm::append_range(outShape, idx->shape);
    outShape.append(x.shape.begin() + axis + 1, x.shape.end());
    if (!checkedProduct(outShape, kMaxFoldElements))
      return;
    int64_t outer = *checkedProduct(ArrayRef<int64_t>(x.shape).take_front(axis),
                                    std::numeric_limits<int64_t>::max());
    int64_t inner =
        *checkedProduct(ArrayRef<int64_t>(x.shape).drop_front(axis + 1),
                        std::numeric_limits<int64_t>::max());
    int64_t dim = x.shape[axis];
    HostTensor t;
    t.dtype = x.dtype;
    t.shape = outShape;
    t.allocate();
    int64_t o = 0;
    for (int64_t a = 0; a < outer; ++a)
      for (int64_t k = 0; k < idx->numElements(); ++k) {
        int64_t i = idx->ints[k];
        if (i < 0)
          i += dim;
        if (i < 0 || i >= dim)
          return; // the lowering reports it
        for (int64_t c = 0; c < inner; ++c, ++o) {
          int64_t from = (a * dim + i) * inner + c;
          if (t.isFloat())
            t.floats[o] = x.floats[from];
          else
            t.ints[o] = x.ints[from];
        }
      }
    result = std::move(t);
    return;
  }
  if (op == "Slice" && im.opset() >= 10 && x.shape.size() == 1) {
    // Scalar integer starts/ends (and axes/steps when given).
    for (size_t i = 1; i < ins.size() && i <= 4; ++i)
      if (ins[i] && (!intInput(i) || ins[i]->numElements() != 1))
        return;
    if (!intInput(1) || !intInput(2))
      return;
    int64_t dim = x.shape[0];
    int64_t step = intInput(4) ? ins[4]->ints[0] : 1;
    if (intInput(3) && normAxis(ins[3]->ints[0], 1) != 0)
      return;
    if (step == 0 || dim == 0)
      return;
    step = std::clamp<int64_t>(step, -dim, dim); // same elements, no overflow
    int64_t s = ins[1]->ints[0], e = ins[2]->ints[0];
    if (s < 0)
      s += dim;
    if (e < 0)
      e += dim;
    HostTensor t;
    t.dtype = x.dtype;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      for (int64_t i = s; i < e; i += step)
        x.isFloat() ? t.floats.push_back(x.floats[i])
                    : t.ints.push_back(x.ints[i]);
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      for (int64_t i = s; i > e; i += step)
        x.isFloat() ? t.floats.push_back(x.floats[i])
                    : t.ints.push_back(x.ints[i]);
    }
    t.shape = {int64_t(t.isFloat() ? t.floats.size() : t.ints.size())};
    if (t.shape[0] != 0)
      result = std::move(t);
  }
}

} // namespace

LogicalResult tryFoldNode(Importer &im, bool &folded) {
  const onnx::NodeProto &n = im.node();
  StringRef op = n.op_type();
  folded = false;

  if (op == "Constant")
    return foldConstant(im, folded);

  if (op == "Shape" || op == "Size") {
    std::optional<SmallVector<int64_t>> shape = im.inputShape(0);
    if (!shape)
      return success();
    HostTensor t;
    if (op == "Size") {
      std::optional<int64_t> n =
          checkedProduct(*shape, std::numeric_limits<int64_t>::max());
      if (!n)
        return success();
      t.ints = {*n};
    } else {
      int64_t rank = shape->size();
      int64_t start = normAxis(im.attrInt("start", 0), rank);
      int64_t end = normAxis(im.attrInt("end", rank), rank);
      start = std::clamp<int64_t>(start, 0, rank);
      end = std::clamp<int64_t>(end, 0, rank);
      for (int64_t i = start; i < end; ++i)
        t.ints.push_back((*shape)[i]);
      t.shape = {int64_t(t.ints.size())};
    }
    if (failed(im.setConstOutput(0, std::move(t))))
      return failure();
    folded = true;
    return success();
  }

  // CastLike of a constant reads only its second input's type.
  if (op == "CastLike" && im.numInputs() == 2) {
    const HostTensor *x = im.constInput(0);
    if (!x)
      return success();
    int32_t to;
    if (const HostTensor *likeConst = im.constInput(1)) {
      to = likeConst->dtype;
    } else {
      Value like = im.input(1);
      if (!like)
        return failure();
      FailureOr<int32_t> type =
          im.onnxType(Importer::typeOf(like).getElementType());
      if (failed(type))
        return failure();
      to = *type;
    }
    return foldCast(im, *x, to, folded);
  }

  // Everything else folds only when every input is known.
  SmallVector<const HostTensor *> ins;
  for (unsigned i = 0; i < im.numInputs(); ++i) {
    if (!im.hasInput(i)) {
      ins.push_back(nullptr);
      continue;
    }
    const HostTensor *t = im.constInput(i);
    if (!t)
      return success();
    ins.push_back(t);
  }
  if (ins.empty() || !ins[0])
    return success();
  const HostTensor &x = *ins[0];

  auto setResult = [&](std::optional<HostTensor> r) -> LogicalResult {
    if (!r)
      return success();
    if (failed(im.setConstOutput(0, std::move(*r))))
      return failure();
    folded = true;
    return success();
  };

  bool isFloat = x.isFloat();
  if (op == "Mod" && ins.size() == 2 && ins[1] && ins[1]->dtype == x.dtype &&
      !isFloat && x.numElements() <= 4096) {
    bool fmod = im.attrInt("fmod", 0) != 0;
    const HostTensor &y = *ins[1];
    return setResult(
        broadcastEval({&x, &y}, x.dtype,
                      [&](HostTensor &out, int64_t i, ArrayRef<int64_t> o) {
                        int64_t a = x.ints[o[0]], d = y.ints[o[1]];
                        int64_t r = (d == 0 || d == -1) ? 0 : a % d;
                        if (!fmod && r != 0 && ((r < 0) != (d < 0)))
                          r += d;
                        out.ints[i] = r;
                      }));
  }
  if (ins.size() == 2 && ins[1] && ins[1]->dtype == x.dtype &&
      floatBinary(op, 0, 1) && (isFloat || x.numElements() <= 4096)) {
    // Integer shape arithmetic is exact; float constants follow ONNX float
    // math only in float32, so fold them only when tiny.
    if (isFloat && x.numElements() > 64)
      return success();
    const HostTensor &y = *ins[1];
    return setResult(broadcastEval(
        {&x, &y}, x.dtype,
        [&](HostTensor &out, int64_t i, ArrayRef<int64_t> o) {
          if (isFloat)
            out.floats[i] = *floatBinary(op, x.floats[o[0]], y.floats[o[1]]);
          else
            out.ints[i] =
                wrapTo(x.dtype, *intBinary(op, x.ints[o[0]], y.ints[o[1]]));
        }));
  }
  if (op == "Equal" && ins.size() == 2 && ins[1] && ins[1]->dtype == x.dtype) {
    const HostTensor &y = *ins[1];
    return setResult(
        broadcastEval({&x, &y}, onnx::TensorProto::BOOL,
                      [&](HostTensor &out, int64_t i, ArrayRef<int64_t> o) {
                        out.ints[i] = isFloat ? x.floats[o[0]] == y.floats[o[1]]
                                              : x.ints[o[0]] == y.ints[o[1]];
                      }));
  }
  if (op == "Where" && ins.size() == 3 && ins[1] && ins[2] &&
      ins[1]->dtype == ins[2]->dtype && !isFloat) {
    const HostTensor &a = *ins[1], &b = *ins[2];
    return setResult(
        broadcastEval({&x, &a, &b}, a.dtype,
                      [&](HostTensor &out, int64_t i, ArrayRef<int64_t> o) {
                        bool c = x.ints[o[0]] != 0;
                        if (a.isFloat())
                          out.floats[i] = c ? a.floats[o[1]] : b.floats[o[2]];
                        else
                          out.ints[i] = c ? a.ints[o[1]] : b.ints[o[2]];
                      }));
  }
  // Boolean logic on shape conditions (the Attention function's GQA test).
  if ((op == "And" || op == "Or" || op == "Xor") && ins.size() == 2 && ins[1] &&
      x.dtype == onnx::TensorProto::BOOL &&
      ins[1]->dtype == onnx::TensorProto::BOOL) {
    const HostTensor &y = *ins[1];
    return setResult(broadcastEval(
        {&x, &y}, onnx::TensorProto::BOOL,
        [&](HostTensor &out, int64_t i, ArrayRef<int64_t> o) {
          bool a = x.ints[o[0]] != 0, b = y.ints[o[1]] != 0;
          out.ints[i] = op == "And" ? a && b : op == "Or" ? a || b : a != b;
        }));
  }
  if (op == "Not" && x.dtype == onnx::TensorProto::BOOL)
    return setResult(broadcastEval(
        {&x}, x.dtype, [&](HostTensor &out, int64_t i, ArrayRef<int64_t> o) {
          out.ints[i] = x.ints[o[0]] == 0;
        }));
  if (op == "Neg" && !isFloat)
    return setResult(broadcastEval(
        {&x}, x.dtype, [&](HostTensor &out, int64_t i, ArrayRef<int64_t> o) {
          out.ints[i] = wrapTo(x.dtype, int64_t(0 - uint64_t(x.ints[o[0]])));
        }));
  if (op == "Identity") {
    HostTensor t = x;
    return setResult(std::move(t));
  }
  if (op == "Cast") {
    // A float initializer cast to f32 stays a weight (lowerCast).
    if ((x.dtype == onnx::TensorProto::FLOAT16 ||
         x.dtype == onnx::TensorProto::BFLOAT16 ||
         x.dtype == onnx::TensorProto::DOUBLE) &&
        im.isInitializer(0) &&
        im.attrInt("to", onnx::TensorProto::FLOAT) == onnx::TensorProto::FLOAT)
      return success();
    return foldCast(im, x, im.attrInt("to", onnx::TensorProto::FLOAT), folded);
  }
  if (op == "ConstantOfShape")
    return foldConstantOfShape(im, x, folded);
  if (op == "Range" && ins.size() == 3 && ins[1] && ins[2])
    return foldRange(im, ins, folded);
  if (isFloat && x.numElements() > 4096)
    return success(); // leave large float data to the IR path

  std::optional<HostTensor> result;
  foldShapeOp(im, op, ins, result);
  return setResult(std::move(result));
}

void registerFoldedOps(LoweringTable &t) {
  // No lowering: these must fold (their inputs must be compile-time
  // constants, or for Shape and Size have static shapes).
  t["Constant"] = {nullptr, 0, 0};
  t["Shape"] = {nullptr, 1, 1};
  t["Size"] = {nullptr, 1, 1};
  t["ConstantOfShape"] = {nullptr, 1, 1};
  t["Range"] = {nullptr, 3, 3};
}

} // namespace sparsec::onnx_import
