//===- DynamicOps.cpp - ops whose sizes come from dynamic dims ------------===//
//
// Range, ConstantOfShape and Expand fold when their inputs are constants
// (ConstantFolding.cpp, TensorOps.cpp). A decoder exported with a dynamic
// sequence gives them sizes computed from it (positions = arange(seq), the
// causal mask = full((seq, seq)), repeat_kv's expand): then they become ops
// on tensors of that size.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

using namespace mlir;

namespace sparsec::onnx_import {

namespace {

/// Range(start, limit, delta) with a symbolic limit: start 0 and delta 1
/// (arange(n)), the one form whose size is the limit.
LogicalResult lowerSymbolicRange(Importer &im) {
  const SymTensor *limit = im.symbolicInput(1);
  const HostTensor *start = im.constInput(0), *delta = im.constInput(2);
  if (!limit)
    return im.error("needs compile-time constant inputs, or a limit computed "
                    "from the inputs' dimensions");
  if (!start || !delta || start->numElements() != 1 ||
      delta->numElements() != 1 || start->at(0) != 0 || delta->at(0) != 1 ||
      limit->elems.size() != 1 || limit->elems[0].coeff <= 0)
    return im.error("Range with a dynamic limit needs start 0 and delta 1 "
                    "(arange(n))");
  FailureOr<Type> elt = im.elementType(limit->dtype);
  if (failed(elt))
    return failure();
  OpBuilder &b = im.builder();
  Value init = im.emptyTensor({im.materialize(limit->elems[0])}, *elt);
  Value result =
      linalg::GenericOp::create(
          b, im.loc(), init.getType(), ValueRange{}, ValueRange{init},
          ArrayRef<AffineMap>{b.getMultiDimIdentityMap(1)},
          ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
          [&](OpBuilder &nb, Location l, ValueRange) {
            Value i = linalg::IndexOp::create(nb, l, 0);
            linalg::YieldOp::create(
                nb, l, arith::IndexCastOp::create(nb, l, *elt, i).getResult());
          })
          .getResult(0);
  im.setOutput(0, result);
  return success();
}

/// ConstantOfShape with a shape computed from dynamic dims.
LogicalResult lowerSymbolicConstantOfShape(Importer &im) {
  const SymTensor *shape = im.symbolicInput(0);
  if (!shape)
    return im.error("needs a compile-time constant shape, or one computed "
                    "from the inputs' dimensions");
  FailureOr<std::pair<int32_t, double>> value = constantOfShapeValue(im);
  if (failed(value))
    return failure();
  FailureOr<Type> elt = im.elementType(value->first);
  if (failed(elt))
    return failure();
  SmallVector<OpFoldResult> sizes;
  for (const SymDim &d : shape->elems) {
    if (d.coeff <= 0)
      return im.error("ConstantOfShape sizes must be positive");
    sizes.push_back(im.materialize(d));
  }
  im.setOutput(0, im.fill(sizes, *elt, value->second));
  return success();
}

} // namespace

FailureOr<Value> expandDynamic(Importer &im, Value x, ArrayRef<SymDim> shape) {
  // Broadcast against a dummy of the requested sizes (an entry of 1 keeps
  // the input's dim, as numpy broadcasting does).
  SmallVector<OpFoldResult> sizes;
  for (const SymDim &d : shape) {
    if (d.coeff <= 0)
      return im.error("Expand shape entries must be positive");
    sizes.push_back(im.materialize(d));
  }
  Type elt = Importer::typeOf(x).getElementType();
  Value shaped = im.emptyTensor(sizes, elt);
  return im.elementwise(
      {x, shaped}, elt,
      [](OpBuilder &, Location, ValueRange a) -> Value { return a[0]; });
}

void registerDynamicLowerings(LoweringTable &t) {
  t["Range"] = {lowerSymbolicRange, 3, 3};
  t["ConstantOfShape"] = {lowerSymbolicConstantOfShape, 1, 1};
}

} // namespace sparsec::onnx_import
