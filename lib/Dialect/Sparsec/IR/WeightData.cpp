//===- WeightData.cpp - read constant weight values -----------------------===//
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;

namespace sparsec {

std::optional<WeightData> WeightData::get(ElementsAttr attr) {
  WeightData result;
  auto type = cast<ShapedType>(attr.getType());
  if (!type.getElementType().isF32() && !isa<FloatType>(type.getElementType()))
    return std::nullopt;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    ArrayRef<char> bytes = blob->getData();
    if (!type.getElementType().isF32() ||
        bytes.size() != size_t(type.getNumElements()) * sizeof(float))
      return std::nullopt;
    result.borrowed = ArrayRef<float>(reinterpret_cast<const float *>(bytes.data()),
                                  type.getNumElements());
    return result;
  }
  auto dense = dyn_cast<DenseElementsAttr>(attr);
  if (!dense)
    return std::nullopt;
  if (type.getElementType().isF32() && !dense.isSplat()) {
    ArrayRef<char> raw = dense.getRawData();
    result.borrowed = ArrayRef<float>(reinterpret_cast<const float *>(raw.data()),
                                  type.getNumElements());
    return result;
  }
  result.storage.reserve(type.getNumElements());
  for (APFloat v : dense.getValues<APFloat>())
    result.storage.push_back(v.convertToFloat());
  return result;
}

std::optional<WeightData> WeightData::getFromValue(Value v) {
  auto cst = v.getDefiningOp<arith::ConstantOp>();
  if (!cst)
    return std::nullopt;
  auto attr = dyn_cast<ElementsAttr>(cst.getValue());
  if (!attr)
    return std::nullopt;
  return get(attr);
}

} // namespace sparsec
