//===- ShapeArithmetic.cpp - shape ops on dynamic dims folded -------------===//
//
// Exporters write a reshape of a tensor with dynamic dims as arithmetic on
// its shape: x.view(x.size(0), x.size(1), 12, 64) is Shape -> Gather ->
// Unsqueeze -> Concat -> Reshape. These fold to SymTensors (sizes in terms
// of the inputs' dynamic dims), so that the reshape keeps every static size
// static. A result with only static sizes becomes an ordinary constant.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;

namespace sparsec::onnx_import {

const SymTensor *Importer::symbolicInput(unsigned i) const {
  if (!hasInput(i))
    return nullptr;
  auto it = symbolicValues.find(curNode->input(i));
  return it == symbolicValues.end() ? nullptr : &it->second;
}

void Importer::setSymbolicOutput(unsigned i, SymTensor t) {
  if (int(i) >= curNode->output_size() || curNode->output(i).empty())
    return;
  symbolicValues[curNode->output(i)] = std::move(t);
}

std::optional<SmallVector<SymDim>> Importer::sizesInput(unsigned i) {
  if (const SymTensor *t = symbolicInput(i))
    return t->elems;
  const HostTensor *c = constInput(i);
  if (!c || c->isFloat())
    return std::nullopt;
  SmallVector<SymDim> sizes;
  for (int64_t k = 0, e = c->numElements(); k < e; ++k)
    sizes.push_back(SymDim::constant(c->intAt(k)));
  return sizes;
}

namespace {

/// Records `t` as output 0: a constant when every size is static.
LogicalResult setResult(Importer &im, SymTensor t, bool &folded) {
  folded = true;
  if (llvm::all_of(t.elems, [](const SymDim &d) { return d.isStatic(); })) {
    HostTensor c;
    c.dtype = t.dtype;
    c.shape.assign(t.shape.begin(), t.shape.end());
    c.allocate();
    for (auto [k, d] : llvm::enumerate(t.elems))
      c.set(k, double(d.coeff));
    return im.setConstOutput(0, std::move(c));
  }
  im.setSymbolicOutput(0, std::move(t));
  return success();
}

/// Input `i` as a SymTensor (from a symbolic or an integer constant input).
std::optional<SymTensor> symbolicOrConstant(Importer &im, unsigned i) {
  if (const SymTensor *t = im.symbolicInput(i))
    return *t;
  const HostTensor *c = im.constInput(i);
  if (!c || c->isFloat() || c->shape.size() > 1)
    return std::nullopt;
  SymTensor t;
  t.dtype = c->dtype;
  t.shape.assign(c->shape.begin(), c->shape.end());
  for (int64_t k = 0, e = c->numElements(); k < e; ++k)
    t.elems.push_back(SymDim::constant(c->intAt(k)));
  return t;
}

/// Constant integer input `i` (or attribute `attr` before `sinceOpset`).
std::optional<SmallVector<int64_t>>
constInts(Importer &im, unsigned i, StringRef attr, int64_t sinceOpset) {
  if (im.opset() < sinceOpset)
    return im.attrInts(attr);
  const HostTensor *c = im.hasInput(i) ? im.constInput(i) : nullptr;
  if (!c || c->isFloat())
    return std::nullopt;
  SmallVector<int64_t> out;
  for (int64_t k = 0, e = c->numElements(); k < e; ++k)
    out.push_back(c->intAt(k));
  return out;
}

LogicalResult foldShape(Importer &im, Value x, bool &folded) {
  RankedTensorType type = Importer::typeOf(x);
  int64_t rank = type.getRank();
  SmallVector<SymDim> dims;
  for (int64_t d = 0; d < rank; ++d) {
    FailureOr<SymDim> size = im.symbolicDim(x, d);
    if (failed(size))
      return im.error("cannot tell the size of dynamic dimension " + Twine(d) +
                      " of the input in terms of the graph inputs");
    dims.push_back(*size);
  }
  SymTensor t;
  if (im.node().op_type() == "Size") {
    SymDim product;
    for (const SymDim &d : dims)
      product = product * d;
    t.elems = {product};
    return setResult(im, std::move(t), folded);
  }
  auto norm = [&](int64_t a) {
    return std::clamp<int64_t>(a < 0 ? a + rank : a, 0, rank);
  };
  int64_t start = norm(im.attrInt("start", 0)),
          end = norm(im.attrInt("end", rank));
  for (int64_t d = start; d < end; ++d)
    t.elems.push_back(dims[d]);
  t.shape = {int64_t(t.elems.size())};
  return setResult(im, std::move(t), folded);
}

/// Elementwise Mul/Div/Add/Sub of two size tensors (one may be a scalar or
/// have one element); Add and Sub only of static sizes.
std::optional<SymTensor> foldBinary(StringRef op, const SymTensor &a,
                                    const SymTensor &b) {
  size_t n = std::max(a.elems.size(), b.elems.size());
  if ((a.elems.size() != n && a.elems.size() != 1) ||
      (b.elems.size() != n && b.elems.size() != 1))
    return std::nullopt;
  SymTensor r;
  r.dtype = a.dtype;
  r.shape = a.shape.size() >= b.shape.size() ? a.shape : b.shape;
  for (size_t k = 0; k < n; ++k) {
    const SymDim &x = a.elems[a.elems.size() == 1 ? 0 : k];
    const SymDim &y = b.elems[b.elems.size() == 1 ? 0 : k];
    if (op == "Mul") {
      r.elems.push_back(x * y);
    } else if (op == "Div") {
      std::optional<SymDim> q = x.divideBy(y);
      if (!q)
        return std::nullopt;
      r.elems.push_back(*q);
    } else if (x.isStatic() && y.isStatic()) {
      int64_t sum;
      if (op == "Add" ? llvm::AddOverflow(x.coeff, y.coeff, sum)
                      : llvm::SubOverflow(x.coeff, y.coeff, sum))
        return std::nullopt;
      r.elems.push_back(SymDim::constant(sum));
    } else {
      return std::nullopt;
    }
  }
  return r;
}

std::optional<SymTensor> foldSlice(Importer &im, const SymTensor &x) {
  if (x.shape.size() != 1)
    return std::nullopt;
  auto starts = constInts(im, 1, "starts", 10);
  auto ends = constInts(im, 2, "ends", 10);
  if (!starts || !ends || starts->size() != 1 || ends->size() != 1)
    return std::nullopt;
  if (auto axes = constInts(im, 3, "axes", 10);
      axes && !axes->empty() && (*axes)[0] != 0 && (*axes)[0] != -1)
    return std::nullopt;
  int64_t step = 1;
  if (im.opset() >= 10 && im.hasInput(4)) {
    auto steps = constInts(im, 4, "", 10);
    if (!steps || steps->size() != 1 || (*steps)[0] != 1)
      return std::nullopt;
  }
  int64_t dim = x.elems.size();
  auto clampIndex = [&](int64_t v) {
    if (v < 0)
      v += dim;
    return std::clamp<int64_t>(v, 0, dim);
  };
  int64_t s = clampIndex((*starts)[0]), e = clampIndex((*ends)[0]);
  SymTensor r;
  r.dtype = x.dtype;
  for (int64_t k = s; k < e; k += step)
    r.elems.push_back(x.elems[k]);
  r.shape = {int64_t(r.elems.size())};
  return r;
}

} // namespace

LogicalResult tryFoldSymbolic(Importer &im, bool &folded) {
  folded = false;
  StringRef op = im.node().op_type();
  if (op == "Shape" || op == "Size") {
    Value x = im.hasInput(0) && !im.constInput(0) && !im.isInitializer(0)
                  ? im.input(0)
                  : Value();
    if (!x || Importer::typeOf(x).hasStaticShape())
      return success();
    return foldShape(im, x, folded);
  }
  bool anySymbolic = false;
  for (unsigned i = 0; i < im.numInputs(); ++i)
    anySymbolic |= im.symbolicInput(i) != nullptr;
  if (!anySymbolic)
    return success();

  std::optional<SymTensor> x = symbolicOrConstant(im, 0);
  if (!x)
    return success();
  if (op == "Identity")
    return setResult(im, std::move(*x), folded);
  if (op == "Cast" && !HostTensor::isFloatType(im.attrInt("to", 0))) {
    x->dtype = im.attrInt("to", 0);
    return setResult(im, std::move(*x), folded);
  }
  if (op == "Gather" && im.attrInt("axis", 0) == 0 && x->shape.size() == 1) {
    const HostTensor *idx = im.constInput(1);
    if (!idx || idx->isFloat() || idx->shape.size() > 1)
      return success();
    SymTensor r;
    r.dtype = x->dtype;
    r.shape.assign(idx->shape.begin(), idx->shape.end());
    int64_t dim = x->elems.size();
    for (int64_t k = 0, e = idx->numElements(); k < e; ++k) {
      int64_t at = idx->intAt(k) < 0 ? idx->intAt(k) + dim : idx->intAt(k);
      if (at < 0 || at >= dim)
        return im.error("index " + Twine(idx->intAt(k)) +
                        " is out of range for axis size " + Twine(dim));
      r.elems.push_back(x->elems[at]);
    }
    return setResult(im, std::move(r), folded);
  }
  if (op == "Unsqueeze" && x->shape.empty()) {
    auto axes = constInts(im, 1, "axes", 13);
    if (!axes || axes->size() != 1 || ((*axes)[0] != 0 && (*axes)[0] != -1))
      return success();
    x->shape = {1};
    return setResult(im, std::move(*x), folded);
  }
  if (op == "Squeeze" && x->shape.size() == 1 && x->elems.size() == 1) {
    x->shape.clear();
    return setResult(im, std::move(*x), folded);
  }
  if (op == "Concat" &&
      (im.attrInt("axis", 0) == 0 || im.attrInt("axis", 0) == -1)) {
    SymTensor r;
    r.dtype = x->dtype;
    for (unsigned i = 0; i < im.numInputs(); ++i) {
      std::optional<SymTensor> part = symbolicOrConstant(im, i);
      if (!part || part->shape.size() != 1)
        return success();
      r.elems.append(part->elems.begin(), part->elems.end());
    }
    r.shape = {int64_t(r.elems.size())};
    return setResult(im, std::move(r), folded);
  }
  if (op == "Slice") {
    if (std::optional<SymTensor> r = foldSlice(im, *x))
      return setResult(im, std::move(*r), folded);
    return success();
  }
  if (op == "Mul" || op == "Div" || op == "Add" || op == "Sub") {
    std::optional<SymTensor> y = symbolicOrConstant(im, 1);
    if (!y)
      return success();
    if (std::optional<SymTensor> r = foldBinary(op, *x, *y))
      return setResult(im, std::move(*r), folded);
    return success();
  }
  if (op == "Reshape") {
    const HostTensor *shape = im.constInput(1);
    if (!shape || shape->numElements() > 1)
      return success();
    // A one-element size tensor as a scalar or as [1].
    if (x->elems.size() != 1)
      return success();
    x->shape.clear();
    if (shape->numElements() == 1)
      x->shape.push_back(1);
    return setResult(im, std::move(*x), folded);
  }
  return success();
}

} // namespace sparsec::onnx_import
