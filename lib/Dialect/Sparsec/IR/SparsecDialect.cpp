//===- SparsecDialect.cpp - sparsec dialect registration ------------------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"

#include "mlir/Bytecode/BytecodeImplementation.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace sparsec;

#include "sparsec/Dialect/Sparsec/IR/SparsecDialect.cpp.inc"
#include "sparsec/Dialect/Sparsec/IR/SparsecEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "sparsec/Dialect/Sparsec/IR/SparsecAttrs.cpp.inc"

namespace {

/// Bytecode for #sparsec.packed. Its arrays are usually dense_resource blobs;
/// written as text (the fallback for attributes without bytecode), their
/// blobs were not recorded in the file's resource section, so a .mlirbc
/// could not be read back. Written as attributes, the writer tracks them.
struct SparsecBytecodeInterface : public BytecodeDialectInterface {
  explicit SparsecBytecodeInterface(Dialect *dialect)
      : BytecodeDialectInterface(dialect) {}

  enum Kind : uint64_t { kPackedWeight = 0 };

  LogicalResult writeAttribute(Attribute attr,
                               DialectBytecodeWriter &writer) const override {
    auto packed = dyn_cast<PackedWeightAttr>(attr);
    if (!packed)
      return failure(); // the encodings hold no resources: text is fine
    writer.writeVarInt(kPackedWeight);
    writer.writeAttribute(packed.getValues());
    writer.writeAttribute(packed.getPositions());
    writer.writeOptionalAttribute(packed.getColIdx());
    writer.writeOptionalAttribute(packed.getMeta());
    writer.writeVarInt(uint64_t(packed.getMetaLayout()));
    return success();
  }

  Attribute readAttribute(DialectBytecodeReader &reader) const override {
    uint64_t kind, layout;
    ElementsAttr values, positions, colIdx, meta;
    if (failed(reader.readVarInt(kind)))
      return {};
    if (kind != kPackedWeight) {
      reader.emitError() << "unknown sparsec attribute kind " << kind;
      return {};
    }
    if (failed(reader.readAttribute(values)) ||
        failed(reader.readAttribute(positions)) ||
        failed(reader.readOptionalAttribute(colIdx)) ||
        failed(reader.readOptionalAttribute(meta)) ||
        failed(reader.readVarInt(layout)))
      return {};
    std::optional<MetaLayout> metaLayout = symbolizeMetaLayout(layout);
    if (!metaLayout) {
      reader.emitError() << "unknown sparsec meta layout " << layout;
      return {};
    }
    return PackedWeightAttr::get(getContext(), values, positions, colIdx, meta,
                                 *metaLayout);
  }
};

} // namespace

void SparsecDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "sparsec/Dialect/Sparsec/IR/SparsecAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "sparsec/Dialect/Sparsec/IR/SparsecOps.cpp.inc"
      >();
  addInterfaces<SparsecBytecodeInterface>();
}
