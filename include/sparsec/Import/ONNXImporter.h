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

struct ONNXImportOptions {
  /// Run the ONNX checker and strict shape inference before importing.
  bool validate = true;
  /// Overrides for graph input shapes (for inputs with symbolic dims).
  llvm::StringMap<llvm::SmallVector<int64_t>> inputShapes;
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
