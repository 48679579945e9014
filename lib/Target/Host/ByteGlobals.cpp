//===- ByteGlobals.cpp - large constant globals as raw bytes --------------===//
//
// LLVM's AsmPrinter writes a ConstantDataArray of floats element by element
// (an APFloat per element) but an array of i8 as one block of bytes. The
// weights are almost all of a model's object file, so their globals become
// i8 arrays of the same bytes, read through memref.view.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Target/Host/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCPUBYTEGLOBALS
#include "sparsec/Target/Host/Passes.h.inc"
} // namespace sparsec

using namespace mlir;

namespace {

/// The global's data as a rank-1 i8 attribute of `bytes` elements, or null
/// when it has none that can be re-typed (a splat, an unknown attribute).
Attribute asBytes(Attribute value, int64_t bytes, MLIRContext *context) {
  auto byteType = RankedTensorType::get({bytes}, IntegerType::get(context, 8));
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(value)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob || int64_t(blob->getData().size()) != bytes)
      return nullptr;
    return DenseResourceElementsAttr::get(byteType, resource.getRawHandle());
  }
  auto dense = dyn_cast<DenseElementsAttr>(value);
  if (!dense || dense.isSplat() || int64_t(dense.getRawData().size()) != bytes)
    return nullptr;
  return DenseElementsAttr::getFromRawBuffer(byteType, dense.getRawData());
}

struct SparsecCpuByteGlobalsPass
    : sparsec::impl::SparsecCpuByteGlobalsBase<SparsecCpuByteGlobalsPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (minBytes < 1) {
      module.emitError("sparsec-cpu-byte-globals: min-bytes must be at least "
                       "1, not ")
          << int64_t(minBytes);
      return signalPassFailure();
    }
    // The re-typed globals' byte type and their views' type, by name.
    llvm::StringMap<std::pair<MemRefType, MemRefType>> retyped;
    MLIRContext *context = &getContext();
    for (auto global : module.getOps<memref::GlobalOp>()) {
      MemRefType type = global.getType();
      std::optional<Attribute> value;
      if (global.getConstant() && global.getInitialValue())
        value = *global.getInitialValue();
      unsigned elementBits = type.getElementTypeBitWidth();
      if (!value || !type.hasStaticShape() || !type.getLayout().isIdentity() ||
          !type.getElementType().isIntOrFloat() || elementBits % 8 != 0)
        continue;
      int64_t bytes = type.getNumElements() * (elementBits / 8);
      if (bytes < minBytes)
        continue;
      Attribute data = asBytes(*value, bytes, context);
      if (!data)
        continue;
      auto byteType =
          MemRefType::get({bytes}, IntegerType::get(context, 8),
                          MemRefLayoutAttrInterface(), type.getMemorySpace());
      global.setTypeAttr(TypeAttr::get(byteType));
      global.setInitialValueAttr(data);
      uint64_t alignment = global.getAlignment().value_or(0);
      global.setAlignmentAttr(OpBuilder(global).getI64IntegerAttr(
          std::max<uint64_t>(alignment, 64)));
      retyped[global.getSymName()] = {byteType, type};
    }
    if (retyped.empty())
      return;
    module.walk([&](memref::GetGlobalOp get) {
      auto it = retyped.find(get.getName());
      if (it == retyped.end())
        return;
      auto [byteType, viewType] = it->second;
      OpBuilder b(get);
      Location loc = get.getLoc();
      Value bytes =
          memref::GetGlobalOp::create(b, loc, byteType, get.getNameAttr());
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value view =
          memref::ViewOp::create(b, loc, viewType, bytes, zero, ValueRange{});
      get.replaceAllUsesWith(view);
      get.erase();
    });
  }
};

} // namespace
