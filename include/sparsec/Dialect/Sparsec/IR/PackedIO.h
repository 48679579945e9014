//===- PackedIO.h - read and write packed layer weights ---------*- C++ -*-===//
#ifndef SPARSEC_DIALECT_SPARSEC_IR_PACKEDIO_H
#define SPARSEC_DIALECT_SPARSEC_IR_PACKEDIO_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

#include <optional>
#include <string>
#include <vector>

namespace sparsec {

/// The raw storage bytes of a dense or dense_resource attribute: borrowed,
/// or expanded when the attribute is a splat.
class RawBytes {
public:
  static std::optional<RawBytes> get(mlir::ElementsAttr attr);
  llvm::ArrayRef<char> view() const {
    return owned.empty() ? borrowed : llvm::ArrayRef<char>(owned);
  }

private:
  llvm::ArrayRef<char> borrowed;
  std::vector<char> owned;
};

/// The values of a u16/u32 index array (`col_idx`), or nullopt when the
/// attribute is absent or unreadable.
std::optional<std::vector<uint32_t>> readIndexArray(mlir::ElementsAttr attr);

/// A constant array named `name`: a dense attribute when it is small, else a
/// dense_resource blob that owns `data` without a copy.
mlir::ElementsAttr makeArrayAttr(mlir::MLIRContext *ctx,
                                 llvm::ArrayRef<int64_t> shape,
                                 mlir::Type elementType, llvm::StringRef name,
                                 std::vector<float> data);
mlir::ElementsAttr makeArrayAttr(mlir::MLIRContext *ctx,
                                 llvm::ArrayRef<int64_t> shape,
                                 mlir::Type elementType, llvm::StringRef name,
                                 std::vector<uint8_t> data);

/// `value` rounded to a packing value type (f32, f16, bf16) and back, so
/// that packing it is exact.
float roundToValueType(float value, llvm::StringRef valueType);

/// Unpacks a layer's `packed_weight` into the dense GEMM view (R x K).
/// Returns an error message, or "" with `dense` filled.
std::string unpackLayerWeight(mlir::Operation *layer,
                              std::vector<float> &dense);

/// Writes every packed layer as `<dir>/manifest.json` plus .npy arrays.
std::string writePackedWeights(mlir::ModuleOp module, llvm::StringRef dir);

} // namespace sparsec

#endif
