//===- EncodingStorage.h - types of the encoding interface -----*- C++ -*-===//
//
// Plain structs that the methods of SparsityEncodingAttrInterface take and
// return: what a packer needs, and what a weight costs in memory.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_DIALECT_SPARSEC_IR_ENCODINGSTORAGE_H
#define SPARSEC_DIALECT_SPARSEC_IR_ENCODINGSTORAGE_H

#include "mlir/IR/Attributes.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/JSON.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sparsec {

enum class MetaLayout : uint32_t;

/// A masked GEMM view to pack (`SparsityEncodingAttrInterface::pack`).
struct PackRequest {
  int64_t rows = 0, cols = 0;
  /// Row-major R x K values, already zero outside `mask` and rounded to
  /// `valueType`.
  llvm::ArrayRef<float> values;
  /// Row-major R x K kept entries.
  llvm::ArrayRef<uint8_t> mask;
  /// HiNM: each row tile's kept columns in group order (the lists L_t).
  llvm::ArrayRef<std::vector<int64_t>> tileColumns;
  /// f32, f16 or bf16.
  llvm::StringRef valueType = "f32";
  /// HiNM: layout of the 2:4 metadata words.
  MetaLayout metaLayout{};
  /// Prefix of the packed arrays' resource names ("<name>.values", ...).
  std::string name;
};

/// Structurally kept weights and packed bytes of one weight.
struct WeightFootprint {
  int64_t kept = 0;
  double valueBytes = 0, metaBytes = 0, indexBytes = 0;

  double totalBytes() const { return valueBytes + metaBytes + indexBytes; }
  WeightFootprint &operator+=(const WeightFootprint &other) {
    kept += other.kept;
    valueBytes += other.valueBytes;
    metaBytes += other.metaBytes;
    indexBytes += other.indexBytes;
    return *this;
  }
};

} // namespace sparsec

#endif
