//===- DynamicDims.cpp - dynamic dimensions in the importer ---------------===//
//
// A graph input's dimension given as `?` or MIN..MAX (--input-shape) stays
// dynamic. Lowerings read such sizes as tensor.dim values; what a size is in
// terms of the inputs' dynamic dimensions (a SymDim) is found by walking the
// ops that produced it, so that reshapes can match groups of dimensions and
// the runtime can compute each output's shape from the inputs'.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;

namespace sparsec::onnx_import {

SymDim SymDim::operator*(const SymDim &other) const {
  SymDim r;
  // A product beyond any tensor's size (shape arithmetic on a hostile
  // model's constants) is kOverflow, which every use refuses.
  if (coeff == kOverflow || other.coeff == kOverflow ||
      llvm::MulOverflow(coeff, other.coeff, r.coeff) ||
      r.coeff > kMaxTensorElements || r.coeff < -kMaxTensorElements) {
    r.coeff = kOverflow;
    return r;
  }
  r.factors = factors;
  r.factors.append(other.factors.begin(), other.factors.end());
  llvm::sort(r.factors);
  return r;
}

std::optional<SymDim> SymDim::divideBy(const SymDim &divisor) const {
  // Sizes only: both positive.
  if (divisor.coeff <= 0 || coeff <= 0 || coeff % divisor.coeff != 0)
    return std::nullopt;
  SymDim r;
  r.coeff = coeff / divisor.coeff;
  r.factors = factors;
  for (unsigned f : divisor.factors) {
    auto *it = llvm::find(r.factors, f);
    if (it == r.factors.end())
      return std::nullopt;
    r.factors.erase(it);
  }
  return r;
}

OpFoldResult Importer::dimSize(Value v, int64_t d) {
  RankedTensorType type = typeOf(v);
  if (!type.isDynamicDim(d))
    return b.getIndexAttr(type.getDimSize(d));
  return tensor::DimOp::create(b, curLoc, v, d).getResult();
}

SmallVector<OpFoldResult> Importer::dimSizes(Value v) {
  SmallVector<OpFoldResult> sizes;
  for (int64_t d = 0, e = typeOf(v).getRank(); d < e; ++d)
    sizes.push_back(dimSize(v, d));
  return sizes;
}

Value Importer::emptyTensor(ArrayRef<OpFoldResult> sizes, Type elt) {
  return tensor::EmptyOp::create(b, curLoc, sizes, elt);
}

Value Importer::fill(ArrayRef<OpFoldResult> sizes, Type elt, double v) {
  Value scalar = scalarConstant(elt, v);
  return linalg::FillOp::create(b, curLoc, scalar, emptyTensor(sizes, elt))
      .getResult(0);
}

FailureOr<SymDim> Importer::symbolicIndex(Value index) {
  if (std::optional<int64_t> c = getConstantIntValue(index))
    return SymDim::constant(*c);
  Operation *def = index.getDefiningOp();
  if (auto dim = dyn_cast_or_null<tensor::DimOp>(def)) {
    std::optional<int64_t> d = dim.getConstantIndex();
    if (!d)
      return failure();
    return symbolicDim(dim.getSource(), *d);
  }
  if (auto mul = dyn_cast_or_null<arith::MulIOp>(def)) {
    FailureOr<SymDim> l = symbolicIndex(mul.getLhs()),
                      r = symbolicIndex(mul.getRhs());
    if (failed(l) || failed(r))
      return failure();
    return *l * *r;
  }
  if (auto div = dyn_cast_or_null<arith::DivUIOp>(def)) {
    FailureOr<SymDim> l = symbolicIndex(div.getLhs()),
                      r = symbolicIndex(div.getRhs());
    if (failed(l) || failed(r))
      return failure();
    if (std::optional<SymDim> q = l->divideBy(*r))
      return *q;
  }
  return failure();
}

FailureOr<SymDim> Importer::symbolicDim(Value v, int64_t d) {
  RankedTensorType type = typeOf(v);
  if (!type.isDynamicDim(d))
    return SymDim::constant(type.getDimSize(d));
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto it = argDimSymbols.find({arg.getArgNumber(), d});
    if (arg.getOwner() != entryBlock || it == argDimSymbols.end())
      return failure();
    return SymDim{1, {it->second}};
  }
  Operation *def = v.getDefiningOp();
  auto fromSize = [&](OpFoldResult size) -> FailureOr<SymDim> {
    if (std::optional<int64_t> c = getConstantIntValue(size))
      return SymDim::constant(*c);
    return symbolicIndex(cast<Value>(size));
  };
  if (auto empty = dyn_cast<tensor::EmptyOp>(def))
    return fromSize(empty.getMixedSizes()[d]);
  if (auto dps = dyn_cast<DestinationStyleOpInterface>(def))
    return symbolicDim(dps.getDpsInits()[cast<OpResult>(v).getResultNumber()],
                       d);
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(def))
    return fromSize(expand.getMixedOutputShape()[d]);
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(def)) {
    SymDim product;
    // (A local: a range over an element of the temporary would dangle.)
    SmallVector<ReassociationIndices> groups =
        collapse.getReassociationIndices();
    for (int64_t i : groups[d]) {
      FailureOr<SymDim> s = symbolicDim(collapse.getSrc(), i);
      if (failed(s))
        return failure();
      product = product * *s;
    }
    return product;
  }
  if (auto slice = dyn_cast<tensor::ExtractSliceOp>(def)) {
    llvm::SmallBitVector dropped = slice.getDroppedDims();
    int64_t seen = -1;
    for (auto [i, size] : llvm::enumerate(slice.getMixedSizes()))
      if (!dropped[i] && ++seen == d)
        return fromSize(size);
    return failure();
  }
  if (auto cast = dyn_cast<tensor::CastOp>(def))
    return symbolicDim(cast.getSource(), d);
  // sparsec.linear: the leading dims are the input's.
  if (auto linear = dyn_cast<LinearOp>(def); linear && d + 1 < type.getRank())
    return symbolicDim(linear.getInput(), d);
  return failure();
}

void Importer::assignSymbols(ArrayRef<const onnx::ValueInfoProto *> args,
                             ArrayRef<Type> argTypes) {
  // Dims the model names alike (dim_param "batch", "seq") are one symbol:
  // an attention mask's sequence length is the hidden states'.
  llvm::StringMap<unsigned> byName;
  for (auto [i, info] : llvm::enumerate(args)) {
    auto type = cast<RankedTensorType>(argTypes[i]);
    const auto &modelShape = info->type().tensor_type().shape();
    for (int64_t d = 0; d < type.getRank(); ++d) {
      if (!type.isDynamicDim(d))
        continue;
      std::string name;
      if (d < modelShape.dim_size() && modelShape.dim(d).has_dim_param())
        name = modelShape.dim(d).dim_param();
      unsigned id = symbols.size();
      if (!name.empty()) {
        auto [it, inserted] = byName.try_emplace(name, id);
        id = it->second;
        if (inserted)
          symbols.push_back({unsigned(i), d});
      } else {
        symbols.push_back({unsigned(i), d});
      }
      argDimSymbols[{unsigned(i), d}] = id;
    }
  }
}

void Importer::recordInputDims(func::FuncOp func,
                               ArrayRef<const onnx::ValueInfoProto *> args,
                               ArrayRef<Type> argTypes) {
  // The sizes each dynamic input may take: [min0, max0, min1, max1, ...]
  // over all its dims, and which dims are one symbol (must be equal); both
  // checked when the model runs.
  for (auto [i, info] : llvm::enumerate(args)) {
    auto type = cast<RankedTensorType>(argTypes[i]);
    if (type.hasStaticShape())
      continue;
    SmallVector<int64_t> bounds;
    for (const DimRange &range : options.inputShapes.lookup(info->name()))
      bounds.append({range.min, range.max});
    func.setArgAttr(i, kDimBoundsAttr, b.getDenseI64ArrayAttr(bounds));
    func.setArgAttr(i, kDimSymbolsAttr,
                    b.getDenseI64ArrayAttr(argSymbols(i, type.getRank())));
  }
}

LogicalResult Importer::recordOutputDims(func::FuncOp func,
                                         ArrayRef<Value> results,
                                         ArrayRef<Attribute> names) {
  // How each dynamic output dim follows from the inputs' (the runtime sizes
  // the outputs by it).
  if (llvm::all_of(results, [](Value v) { return typeOf(v).hasStaticShape(); }))
    return success();
  SmallVector<Attribute> outputDims;
  for (auto [v, name] : llvm::zip(results, names)) {
    SmallVector<Attribute> dims;
    for (int64_t d = 0, e = typeOf(v).getRank(); d < e; ++d) {
      FailureOr<SymDim> size = symbolicDim(v, d);
      if (failed(size) || size->coeff <= 0)
        return emitError(func.getLoc())
               << "graph output '" << cast<StringAttr>(name).getValue()
               << "': cannot tell the size of its dynamic dimension " << d
               << " from the inputs' dimensions";
      SmallVector<int64_t> rule = {size->coeff};
      for (unsigned f : size->factors)
        rule.append({int64_t(symbols[f].first), symbols[f].second});
      dims.push_back(b.getDenseI64ArrayAttr(rule));
    }
    outputDims.push_back(b.getArrayAttr(dims));
  }
  func->setAttr(kOutputDimsAttr, b.getArrayAttr(outputDims));
  return success();
}

SmallVector<int64_t> Importer::argSymbols(unsigned arg, int64_t rank) const {
  SmallVector<int64_t> ids;
  for (int64_t d = 0; d < rank; ++d) {
    auto it = argDimSymbols.find({arg, d});
    ids.push_back(it == argDimSymbols.end() ? -1 : int64_t(it->second));
  }
  return ids;
}

OpFoldResult Importer::materialize(const SymDim &size) {
  if (size.isStatic())
    return b.getIndexAttr(size.coeff);
  Value product;
  for (unsigned f : size.factors) {
    auto [arg, d] = symbols[f];
    Value dim =
        tensor::DimOp::create(b, curLoc, entryBlock->getArgument(arg), d);
    product = product
                  ? arith::MulIOp::create(b, curLoc, product, dim).getResult()
                  : dim;
  }
  if (size.coeff != 1)
    product = arith::MulIOp::create(
        b, curLoc, product,
        arith::ConstantIndexOp::create(b, curLoc, size.coeff));
  return product;
}

FailureOr<Value> Importer::reshape(Value v, ArrayRef<SymDim> shape) {
  RankedTensorType type = typeOf(v);
  SmallVector<int64_t> staticShape;
  for (const SymDim &d : shape)
    staticShape.push_back(d.isStatic() ? d.coeff : ShapedType::kDynamic);
  if (type.hasStaticShape() &&
      !llvm::is_contained(staticShape, ShapedType::kDynamic))
    return reshape(v, staticShape);
  SmallVector<SymDim> source;
  for (int64_t i = 0; i < type.getRank(); ++i) {
    FailureOr<SymDim> s = symbolicDim(v, i);
    if (failed(s))
      return error("cannot tell the size of dynamic dimension " + Twine(i) +
                   " of the reshaped tensor");
    source.push_back(*s);
  }
  // Groups of source and target dims with equal products: each starts with
  // one dim of each side and grows the side whose product divides the
  // other's. A group left with no dim on one side (trailing unit dims)
  // joins the one before it.
  SmallVector<ReassociationIndices> sourceGroups, targetGroups;
  size_t i = 0, j = 0;
  while (i < source.size() || j < shape.size()) {
    ReassociationIndices sg, tg;
    SymDim sp, tp;
    if (i < source.size()) {
      sp = source[i];
      sg.push_back(i++);
    }
    if (j < shape.size()) {
      tp = shape[j];
      tg.push_back(j++);
    }
    while (sp != tp) {
      if (i < source.size() && tp.divideBy(sp)) {
        sp = sp * source[i];
        sg.push_back(i++);
      } else if (j < shape.size() && sp.divideBy(tp)) {
        tp = tp * shape[j];
        tg.push_back(j++);
      } else {
        return error("cannot reshape a tensor with dynamic dimensions into "
                     "this shape (its dimensions do not group into products "
                     "equal to the target's)");
      }
    }
    if ((sg.empty() || tg.empty()) && !sourceGroups.empty()) {
      sourceGroups.back().append(sg);
      targetGroups.back().append(tg);
      continue;
    }
    if (sg.empty() || tg.empty())
      return error("cannot reshape a tensor with dynamic dimensions into "
                   "this shape");
    sourceGroups.push_back(sg);
    targetGroups.push_back(tg);
  }
  Type elt = type.getElementType();
  Value collapsed = v;
  if (llvm::any_of(sourceGroups, [](auto &g) { return g.size() != 1; })) {
    SmallVector<int64_t> mid;
    for (const ReassociationIndices &g : sourceGroups) {
      int64_t size = 1;
      for (int64_t k : g)
        size = type.isDynamicDim(k) || size == ShapedType::kDynamic
                   ? ShapedType::kDynamic
                   : size * type.getDimSize(k);
      mid.push_back(size);
    }
    collapsed = tensor::CollapseShapeOp::create(
        b, curLoc, RankedTensorType::get(mid, elt), v, sourceGroups);
  }
  if (llvm::all_of(targetGroups, [](auto &g) { return g.size() == 1; }))
    return collapsed;
  SmallVector<OpFoldResult> outputShape;
  for (const SymDim &d : shape)
    outputShape.push_back(materialize(d));
  return tensor::ExpandShapeOp::create(b, curLoc,
                                       RankedTensorType::get(staticShape, elt),
                                       collapsed, targetGroups, outputShape)
      .getResult();
}

/// The sizes of `x`'s dims in terms of the dynamic input dims.
FailureOr<SmallVector<SymDim>> symbolicShape(Importer &im, Value x) {
  SmallVector<SymDim> shape;
  for (int64_t i = 0, e = Importer::typeOf(x).getRank(); i < e; ++i) {
    FailureOr<SymDim> d = im.symbolicDim(x, i);
    if (failed(d))
      return im.error("cannot tell the size of dynamic dimension " + Twine(i) +
                      " of the input");
    shape.push_back(*d);
  }
  return shape;
}

/// Output 0 = `x` reshaped to `shape`, `x` having dynamic dims.
LogicalResult setReshaped(Importer &im, Value x, ArrayRef<SymDim> shape) {
  FailureOr<Value> r = im.reshape(x, shape);
  if (failed(r))
    return failure();
  im.setOutput(0, *r);
  return success();
}

/// Reshape of a tensor with dynamic dims: 0 copies the input's dim, -1 is
/// what is left of the element count.
LogicalResult lowerDynamicReshape(Importer &im, Value x,
                                  ArrayRef<SymDim> target, bool allowZero) {
  FailureOr<SmallVector<SymDim>> in = symbolicShape(im, x);
  if (failed(in))
    return failure();
  SymDim total, known;
  for (const SymDim &d : *in)
    total = total * d;
  SmallVector<SymDim> shape;
  int64_t inferAt = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (!target[i].isStatic()) {
      if (target[i].coeff <= 0)
        return im.error("invalid target dimension at axis " + Twine(i) +
                        " (a non-positive multiple of a dynamic size)");
      shape.push_back(target[i]);
      known = known * shape.back();
      continue;
    }
    int64_t d = target[i].coeff;
    if (d == 0 && !allowZero) {
      if (i >= in->size())
        return im.error("shape entry 0 at axis " + Twine(i) +
                        " has no input dimension to copy");
      shape.push_back((*in)[i]);
    } else if (d == -1) {
      if (inferAt >= 0)
        return im.error("the target shape has more than one -1");
      inferAt = i;
      shape.push_back(SymDim::constant(1));
      continue;
    } else if (d <= 0) {
      return im.error("invalid target dimension " + Twine(d) + " at axis " +
                      Twine(i));
    } else {
      shape.push_back(SymDim::constant(d));
    }
    known = known * shape.back();
  }
  if (inferAt >= 0) {
    std::optional<SymDim> rest = total.divideBy(known);
    if (!rest)
      return im.error("cannot infer the -1 dimension of a reshape of a "
                      "tensor with dynamic dimensions");
    shape[inferAt] = *rest;
  } else if (known != total) {
    return im.error("cannot tell that the target shape has as many elements "
                    "as the input with dynamic dimensions");
  }
  return setReshaped(im, x, shape);
}

} // namespace sparsec::onnx_import
