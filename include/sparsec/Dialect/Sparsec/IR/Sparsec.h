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

// Order matters: the interface uses the enums and EncodingStorage's types.
// clang-format off
#include "sparsec/Dialect/Sparsec/IR/SparsecDialect.h.inc"
#include "sparsec/Dialect/Sparsec/IR/SparsecEnums.h.inc"
#include "sparsec/Dialect/Sparsec/IR/EncodingStorage.h"
#include "sparsec/Dialect/Sparsec/IR/SparsecAttrInterfaces.h.inc"
// clang-format on

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

/// Checks a layer's `weight_parts` against its encoding without reading
/// values: present only for #sparsec.sum / #sparsec.product, one part per
/// term or factor, dense parts of the right shape, and no `packed_weight`.
mlir::LogicalResult verifyWeightPartsShape(
    SparsityEncodingAttrInterface encoding, mlir::Attribute packedWeight,
    mlir::ArrayAttr parts, int64_t rows, int64_t cols,
    llvm::function_ref<mlir::InFlightDiagnostic()> emitError);

/// The dense row-major `rows` x `cols` view of one entry of `weight_parts`:
/// a #sparsec.packed attribute unpacked by `encoding`, or a dense tensor.
std::string unpackWeightPart(SparsityEncodingAttrInterface encoding,
                             mlir::Attribute part, int64_t rows, int64_t cols,
                             std::vector<float> &dense);

/// Bytes of one value of a packing value type (f32: 4, f16 and bf16: 2).
int64_t bytesPerValue(llvm::StringRef valueType);

} // namespace sparsec

#endif // SPARSEC_DIALECT_SPARSEC_IR_SPARSEC_H
