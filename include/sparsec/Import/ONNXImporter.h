//===- ONNXImporter.h - ONNX to sparsec/MLIR importer -----------*- C++ -*-===//
#ifndef SPARSEC_IMPORT_ONNXIMPORTER_H
#define SPARSEC_IMPORT_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace sparsec {

/// The sizes a graph input's dimension may take: [min, max]. A static
/// dimension has min == max; any other stays dynamic (`?`) through import
/// and compilation, and the bounds are checked when the model runs.
struct DimRange {
  int64_t min = 1;
  int64_t max = 1;
  bool isStatic() const { return min == max; }
  bool operator==(const DimRange &o) const {
    return min == o.min && max == o.max;
  }
};

/// The argument attribute of `main` that holds a dynamic input's bounds:
/// [min0, max0, min1, max1, ...] over all its dimensions.
constexpr llvm::StringLiteral kDimBoundsAttr = "sparsec.dim_bounds";

/// The argument attribute of `main` that numbers a dynamic input's dims:
/// one id per dim, -1 when static; dims with the same id (the model names
/// them alike) must have the same size.
constexpr llvm::StringLiteral kDimSymbolsAttr = "sparsec.dim_symbols";

/// The attribute of `main` that says how its dynamic output dims follow
/// from the inputs': per output, per dim, [size] when static, else
/// [coeff, input0, dim0, input1, dim1, ...]: coeff times the product of
/// those input dims.
constexpr llvm::StringLiteral kOutputDimsAttr = "sparsec.output_dims";

/// The largest size an unbounded dynamic dimension (`?`) may take.
constexpr int64_t kUnboundedDim = int64_t(1) << 40;

struct ONNXImportOptions {
  /// Run the ONNX checker and strict shape inference before importing.
  bool validate = true;
  /// Overrides for graph input shapes (for inputs with symbolic dims, or to
  /// make a dimension dynamic).
  llvm::StringMap<llvm::SmallVector<DimRange>> inputShapes;
  /// Initializers with at least this many bytes become dense_resource blobs
  /// that borrow the model's memory instead of copying it.
  int64_t resourceThresholdBytes = 1024;
};

/// Imports the ONNX model at `path` into a module holding `func.func @main`.
/// Weight-carrying layers become sparsec ops; everything else becomes
/// upstream linalg/tensor/arith/math. Errors are emitted as diagnostics on
/// `context` (with the node name and op type as location) and yield null.
mlir::OwningOpRef<mlir::ModuleOp>
importONNXFile(mlir::MLIRContext &context, llvm::StringRef path,
               const ONNXImportOptions &options = {});

/// Registers the dialects the importer produces.
void registerImporterDialects(mlir::DialectRegistry &registry);

/// The default-domain ONNX op types the importer imports, sorted.
std::vector<std::string> importedONNXOpTypes();

/// The newest definition of `opType` (the opset it appeared in) that the
/// importer's lowering was checked against; 17 unless a later one was. A
/// model whose opset selects a newer definition is refused at that node.
int64_t newestImportedDefinition(llvm::StringRef opType);

} // namespace sparsec

#endif
