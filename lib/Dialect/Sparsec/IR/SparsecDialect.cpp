//===- SparsecDialect.cpp - sparsec dialect registration ------------------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace sparsec;

#include "sparsec/Dialect/Sparsec/IR/SparsecDialect.cpp.inc"
#include "sparsec/Dialect/Sparsec/IR/SparsecEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "sparsec/Dialect/Sparsec/IR/SparsecAttrs.cpp.inc"

void SparsecDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "sparsec/Dialect/Sparsec/IR/SparsecAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "sparsec/Dialect/Sparsec/IR/SparsecOps.cpp.inc"
      >();
}
