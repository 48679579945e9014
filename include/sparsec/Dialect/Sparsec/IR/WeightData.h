//===- WeightData.h - read constant weight values ---------------*- C++ -*-===//
#ifndef SPARSEC_DIALECT_SPARSEC_IR_WEIGHTDATA_H
#define SPARSEC_DIALECT_SPARSEC_IR_WEIGHTDATA_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Value.h"
#include <optional>
#include <vector>

namespace sparsec {

/// Float values of a constant weight, borrowed where the attribute stores
/// f32 contiguously (dense or dense_resource), copied otherwise.
class WeightData {
public:
  /// Returns std::nullopt when `attr` holds no readable float data (for
  /// example a dense_resource whose blob was elided).
  static std::optional<WeightData> get(mlir::ElementsAttr attr);
  /// Same for the value defining `v` if it is an arith.constant.
  static std::optional<WeightData> getFromValue(mlir::Value v);

  /// True when values() points into the attribute's own storage.
  bool isBorrowed() const { return storage.empty(); }
  llvm::ArrayRef<float> values() const {
    return storage.empty() ? borrowed : llvm::ArrayRef<float>(storage);
  }

private:
  llvm::ArrayRef<float> borrowed;
  std::vector<float> storage;
};

} // namespace sparsec

#endif
