//===- FlattenConstants.cpp - large constants as 1-D data + reshape -------===//
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECFLATTENCONSTANTS
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h.inc"
} // namespace sparsec

using namespace mlir;

namespace {

/// The same data as a rank-1 attribute, or null if it cannot be re-typed
/// without copying.
Attribute flatten(Attribute value, RankedTensorType flatType) {
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value))
    return DenseResourceElementsAttr::get(flatType, resource.getRawHandle());
  if (auto dense = dyn_cast<DenseElementsAttr>(value))
    return dense.reshape(flatType);
  return nullptr;
}

struct SparsecFlattenConstantsPass
    : sparsec::impl::SparsecFlattenConstantsBase<SparsecFlattenConstantsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<arith::ConstantOp> constants;
    getOperation().walk([&](arith::ConstantOp op) {
      auto type = dyn_cast<RankedTensorType>(op.getType());
      if (type && type.getRank() > 1 && type.hasStaticShape() &&
          type.getNumElements() >= minElements)
        constants.push_back(op);
    });
    for (arith::ConstantOp op : constants) {
      auto type = cast<RankedTensorType>(op.getType());
      auto flatType =
          RankedTensorType::get({type.getNumElements()}, type.getElementType());
      Attribute flat = flatten(op.getValue(), flatType);
      if (!flat)
        continue;
      OpBuilder b(op);
      Value flatValue =
          arith::ConstantOp::create(b, op.getLoc(), cast<TypedAttr>(flat));
      ReassociationIndices all;
      for (int64_t i = 0; i < type.getRank(); ++i)
        all.push_back(i);
      Value shaped = tensor::ExpandShapeOp::create(
          b, op.getLoc(), type, flatValue, ArrayRef<ReassociationIndices>{all});
      op.replaceAllUsesWith(shaped);
      op.erase();
    }
  }
};

} // namespace
