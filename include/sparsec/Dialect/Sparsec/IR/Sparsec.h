//===- Sparsec.h - sparsec dialect, attributes and ops ----------*- C++ -*-===//
#ifndef SPARSEC_DIALECT_SPARSEC_IR_SPARSEC_H
#define SPARSEC_DIALECT_SPARSEC_IR_SPARSEC_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "sparsec/Dialect/Sparsec/IR/SparsecDialect.h.inc"
#include "sparsec/Dialect/Sparsec/IR/SparsecEnums.h.inc"
#include "sparsec/Dialect/Sparsec/IR/SparsecAttrInterfaces.h.inc"

#define GET_ATTRDEF_CLASSES
#include "sparsec/Dialect/Sparsec/IR/SparsecAttrs.h.inc"

#define GET_OP_CLASSES
#include "sparsec/Dialect/Sparsec/IR/SparsecOps.h.inc"

namespace sparsec {

/// Maps element (r, k) of a weight's GEMM view to its linear index in the
/// weight tensor's row-major storage. `shape` is the weight tensor's shape:
/// [R, K] for linear, [C_out, C_in/g, kh, kw] for conv2d.
int64_t gemmToStorageIndex(llvm::ArrayRef<int64_t> shape, KOrder korder,
                           int64_t r, int64_t k);

} // namespace sparsec

#endif // SPARSEC_DIALECT_SPARSEC_IR_SPARSEC_H
