//===- ConstantFolding.cpp - evaluate shape subgraphs at import time ------===//
//
// PyTorch exports compute reshape targets with Shape -> Gather -> Unsqueeze ->
// Concat chains. With static shapes these are compile-time constants; we
// evaluate them here so that Reshape sees a constant shape.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include <cmath>

using namespace mlir;

namespace sparsec::onnx_import {
namespace {

constexpr int64_t kMaxFoldElements = 1 << 20;

int64_t product(ArrayRef<int64_t> s) {
  int64_t n = 1;
  for (int64_t d : s)
    n *= d;
  return n;
}

/// Row-major strides of `shape`.
SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> st(shape.size(), 1);
  for (int64_t i = int64_t(shape.size()) - 2; i >= 0; --i)
    st[i] = st[i + 1] * shape[i + 1];
  return st;
}

/// Numpy-broadcast n-ary evaluation.
std::optional<HostTensor> broadcastEval(
    ArrayRef<const HostTensor *> ins, int32_t outType,
    const std::function<double(ArrayRef<double>)> &fn) {
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
  HostTensor out;
  out.dtype = outType;
  out.shape = shape;
  if (out.numElements() > kMaxFoldElements)
    return std::nullopt;
  out.allocate();
  SmallVector<int64_t> outStrides = stridesOf(shape);
  SmallVector<double> args(ins.size());
  for (int64_t idx = 0; idx < out.numElements(); ++idx) {
    for (size_t k = 0; k < ins.size(); ++k) {
      const HostTensor *t = ins[k];
      SmallVector<int64_t> st = stridesOf(t->shape);
      int64_t off = 0;
      for (size_t i = 0; i < t->shape.size(); ++i) {
        size_t od = rank - t->shape.size() + i;
        int64_t coord = (idx / outStrides[od]) % shape[od];
        off += (t->shape[i] == 1 ? 0 : coord) * st[i];
      }
      args[k] = t->at(off);
    }
    out.set(idx, fn(args));
  }
  return out;
}

int64_t normAxis(int64_t a, int64_t rank) { return a < 0 ? a + rank : a; }

} // namespace

LogicalResult tryFoldNode(Importer &im, bool &folded) {
  const onnx::NodeProto &n = im.node();
  StringRef op = n.op_type();
  folded = false;

  if (op == "Constant") {
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
    im.setConstOutput(0, std::move(t));
    folded = true;
    return success();
  }

  if (op == "Shape" || op == "Size") {
    std::optional<SmallVector<int64_t>> shape = im.inputShape(0);
    if (!shape)
      return success();
    HostTensor t;
    if (op == "Size") {
      t.ints = {product(*shape)};
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
    im.setConstOutput(0, std::move(t));
    folded = true;
    return success();
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

  auto setResult = [&](std::optional<HostTensor> r) {
    if (r) {
      im.setConstOutput(0, std::move(*r));
      folded = true;
    }
    return success();
  };

  bool isFloat = x.isFloat();
  static const llvm::StringMap<std::function<double(double, double, bool)>>
      binary = {
          {"Add", [](double a, double b, bool) { return a + b; }},
          {"Sub", [](double a, double b, bool) { return a - b; }},
          {"Mul", [](double a, double b, bool) { return a * b; }},
          {"Div",
           [](double a, double b, bool f) {
             return f ? a / b : (b == 0 ? 0.0 : std::trunc(a / b));
           }},
          {"Max", [](double a, double b, bool) { return std::max(a, b); }},
          {"Min", [](double a, double b, bool) { return std::min(a, b); }},
      };
  auto bin = binary.find(op);
  if (bin != binary.end() && ins.size() == 2 && ins[1] &&
      ins[1]->dtype == x.dtype && (isFloat || x.numElements() <= 4096)) {
    // Integer shape arithmetic is exact; float constants follow ONNX float
    // math only in float32, so fold them only when tiny.
    if (isFloat && x.numElements() > 64)
      return success();
    auto fn = bin->second;
    return setResult(broadcastEval(
        {ins[0], ins[1]}, x.dtype,
        [&](ArrayRef<double> a) { return fn(a[0], a[1], isFloat); }));
  }
  if (op == "Equal" && ins.size() == 2 && ins[1])
    return setResult(broadcastEval({ins[0], ins[1]}, onnx::TensorProto::BOOL,
                                   [](ArrayRef<double> a) {
                                     return double(a[0] == a[1]);
                                   }));
  if (op == "Where" && ins.size() == 3 && ins[1] && ins[2])
    return setResult(broadcastEval(
        {ins[0], ins[1], ins[2]}, ins[1]->dtype,
        [](ArrayRef<double> a) { return a[0] != 0 ? a[1] : a[2]; }));
  if (op == "Neg" && !isFloat)
    return setResult(broadcastEval({ins[0]}, x.dtype,
                                   [](ArrayRef<double> a) { return -a[0]; }));
  if (op == "Identity") {
    HostTensor t = x;
    return setResult(std::move(t));
  }
  if (op == "Cast") {
    int32_t to = im.attrInt("to", onnx::TensorProto::FLOAT);
    if (to != onnx::TensorProto::INT64 && to != onnx::TensorProto::INT32 &&
        to != onnx::TensorProto::FLOAT && to != onnx::TensorProto::BOOL &&
        to != onnx::TensorProto::DOUBLE)
      return success();
    if (HostTensor::isFloatType(to) && !isFloat && x.numElements() > 4096)
      return success();
    return setResult(broadcastEval({ins[0]}, to, [to](ArrayRef<double> a) {
      if (to == onnx::TensorProto::BOOL)
        return double(a[0] != 0);
      if (to == onnx::TensorProto::FLOAT)
        return double(float(a[0]));
      if (!HostTensor::isFloatType(to))
        return std::trunc(a[0]);
      return a[0];
    }));
  }
  if (isFloat && x.numElements() > 4096)
    return success(); // leave large float data to the IR path

  if (op == "Unsqueeze" || op == "Squeeze") {
    SmallVector<int64_t> axes;
    if (im.opset() < 13) {
      if (auto a = im.attrInts("axes"))
        axes = *a;
    } else if (ins.size() > 1 && ins[1]) {
      for (int64_t k = 0; k < ins[1]->numElements(); ++k)
        axes.push_back(ins[1]->intAt(k));
    }
    HostTensor t = x;
    if (op == "Unsqueeze") {
      int64_t outRank = x.shape.size() + axes.size();
      SmallVector<bool> isNew(outRank, false);
      for (int64_t a : axes) {
        a = normAxis(a, outRank);
        if (a < 0 || a >= outRank)
          return success();
        isNew[a] = true;
      }
      t.shape.clear();
      size_t next = 0;
      for (int64_t i = 0; i < outRank; ++i)
        t.shape.push_back(isNew[i] ? 1 : x.shape[next++]);
    } else {
      SmallVector<bool> drop(x.shape.size(), axes.empty());
      for (int64_t a : axes) {
        a = normAxis(a, x.shape.size());
        if (a < 0 || a >= int64_t(x.shape.size()))
          return success();
        drop[a] = true;
      }
      t.shape.clear();
      for (size_t i = 0; i < x.shape.size(); ++i)
        if (!(drop[i] && x.shape[i] == 1))
          t.shape.push_back(x.shape[i]);
    }
    return setResult(std::move(t));
  }
  if (op == "Reshape" && ins.size() > 1 && ins[1]) {
    SmallVector<int64_t> shape;
    int64_t known = 1, infer = -1;
    for (int64_t k = 0; k < ins[1]->numElements(); ++k) {
      int64_t d = ins[1]->intAt(k);
      if (d == 0 && !im.attrInt("allowzero", 0))
        d = k < int64_t(x.shape.size()) ? x.shape[k] : 0;
      if (d == -1)
        infer = k;
      else
        known *= d;
      shape.push_back(d);
    }
    if (infer >= 0 && known > 0)
      shape[infer] = x.numElements() / known;
    if (product(shape) != x.numElements())
      return success(); // the IR path reports the error
    HostTensor t = x;
    t.shape = shape;
    return setResult(std::move(t));
  }
  if (op == "Concat") {
    if (x.shape.size() != 1)
      return success();
    HostTensor t;
    t.dtype = x.dtype;
    for (auto *in : ins) {
      if (!in || in->dtype != x.dtype || in->shape.size() != 1)
        return success();
      for (int64_t k = 0; k < in->numElements(); ++k)
        in->isFloat() ? t.floats.push_back(in->floats[k])
                      : t.ints.push_back(in->ints[k]);
    }
    t.shape = {int64_t(t.isFloat() ? t.floats.size() : t.ints.size())};
    return setResult(std::move(t));
  }
  if (op == "Gather" && ins.size() > 1 && ins[1]) {
    const HostTensor &idx = *ins[1];
    int64_t rank = x.shape.size();
    int64_t axis = normAxis(im.attrInt("axis", 0), rank);
    if (axis < 0 || axis >= rank)
      return success();
    SmallVector<int64_t> outShape(x.shape.begin(), x.shape.begin() + axis);
    llvm::append_range(outShape, idx.shape);
    outShape.append(x.shape.begin() + axis + 1, x.shape.end());
    int64_t outer = product(ArrayRef<int64_t>(x.shape).take_front(axis));
    int64_t inner = product(ArrayRef<int64_t>(x.shape).drop_front(axis + 1));
    int64_t dim = x.shape[axis];
    HostTensor t;
    t.dtype = x.dtype;
    t.shape = outShape;
    t.allocate();
    int64_t o = 0;
    for (int64_t a = 0; a < outer; ++a)
      for (int64_t k = 0; k < idx.numElements(); ++k) {
        int64_t i = idx.intAt(k);
        if (i < 0)
          i += dim;
        if (i < 0 || i >= dim)
          return success(); // the IR path reports it
        for (int64_t c = 0; c < inner; ++c)
          t.set(o++, x.at((a * dim + i) * inner + c));
      }
    return setResult(std::move(t));
  }
  if (op == "Slice" && im.opset() >= 10 && x.shape.size() == 1 && ins.size() >= 3 &&
      ins[1] && ins[2]) {
    int64_t dim = x.shape[0];
    int64_t step = ins.size() > 4 && ins[4] ? ins[4]->intAt(0) : 1;
    if (ins.size() > 3 && ins[3] && normAxis(ins[3]->intAt(0), 1) != 0)
      return success();
    if (step == 0 || ins[1]->numElements() != 1)
      return success();
    int64_t s = ins[1]->intAt(0), e = ins[2]->intAt(0);
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
        x.isFloat() ? t.floats.push_back(x.floats[i]) : t.ints.push_back(x.ints[i]);
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      for (int64_t i = s; i > e; i += step)
        x.isFloat() ? t.floats.push_back(x.floats[i]) : t.ints.push_back(x.ints[i]);
    }
    t.shape = {int64_t(t.isFloat() ? t.floats.size() : t.ints.size())};
    if (t.shape[0] == 0)
      return success();
    return setResult(std::move(t));
  }
  if (op == "ConstantOfShape") {
    HostTensor t;
    t.dtype = onnx::TensorProto::FLOAT;
    double value = 0;
    if (im.attr("value")) {
      FailureOr<HostTensor> v = im.attrTensor("value");
      if (failed(v) || v->numElements() != 1)
        return failure();
      t.dtype = v->dtype;
      value = v->at(0);
    }
    for (int64_t k = 0; k < x.numElements(); ++k)
      t.shape.push_back(x.intAt(k));
    if (llvm::any_of(t.shape, [](int64_t d) { return d <= 0; }))
      return im.error("ConstantOfShape needs positive dimensions");
    if (t.numElements() > kMaxFoldElements)
      return im.error("ConstantOfShape output is too large to fold");
    t.allocate();
    for (int64_t k = 0; k < t.numElements(); ++k)
      t.set(k, value);
    return setResult(std::move(t));
  }
  if (op == "Range" && ins.size() == 3 && ins[1] && ins[2]) {
    double start = x.at(0), limit = ins[1]->at(0), delta = ins[2]->at(0);
    if (delta == 0)
      return im.error("Range delta must not be 0");
    int64_t count =
        std::max<int64_t>(int64_t(std::ceil((limit - start) / delta)), 0);
    if (count == 0 || count > kMaxFoldElements)
      return im.error("Range yields " + Twine(count) + " elements");
    HostTensor t;
    t.dtype = x.dtype;
    t.shape = {count};
    t.allocate();
    for (int64_t k = 0; k < count; ++k)
      t.set(k, start + k * delta);
    return setResult(std::move(t));
  }
  return success();
}

} // namespace sparsec::onnx_import
