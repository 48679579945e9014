//===- Compiler.h - import -> compress -> target as a library ---*- C++ -*-===//
//
// The steps every front end (the sparsec driver, the C API, Python and the
// sparsec-opt pipelines) runs, built from one SparsecCompileOptions. Errors
// are MLIR diagnostics on the module's context; messages that concern the
// options rather than the IR come back as strings worded with the
// command-line flag names.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_COMPILER_COMPILER_H
#define SPARSEC_COMPILER_COMPILER_H

#include "sparsec/Compiler/CompileOptions.h"
#include "sparsec/Target/Target.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/PassManager.h"

#include <memory>
#include <string>

namespace sparsec {

/// Prints `diag` and its notes as the driver does:
/// "<file>[:line:col]: error: <message>" ("sparsec" when it has no file).
void printDiagnostic(mlir::Diagnostic &diag, llvm::raw_ostream &os);

/// Whether `path` names MLIR text or bytecode (else it is read as ONNX).
bool isMLIRInput(llvm::StringRef path);

/// Loads an ONNX model or an MLIR file; null after emitting an error.
mlir::OwningOpRef<mlir::ModuleOp>
loadModule(mlir::MLIRContext &context, llvm::StringRef path,
           const SparsecCompileOptions &options);

/// Appends the compression passes the options ask for (none without
/// --sparsity); "" or the error.
std::string buildCompressPipeline(mlir::OpPassManager &pm,
                                  const SparsecCompileOptions &options);

/// The target a compilation uses, with its options.
struct TargetSelection {
  const Target *target = nullptr;
  std::unique_ptr<TargetOptions> options;
};
/// Looks up options.target and parses options.targetOptions; "" or the
/// error.
std::string selectTarget(const SparsecCompileOptions &options,
                         TargetSelection &selection);

/// Compression, then the target's lowering; "" or the error.
std::string buildCompilePipeline(mlir::OpPassManager &pm,
                                 const SparsecCompileOptions &options,
                                 const TargetSelection &selection);

/// Lowers sparsec layers to linalg on tensors: the target-independent
/// reference form of any model (--emit=linalg).
void buildLinalgPipeline(mlir::OpPassManager &pm);

/// Registers `sparsec-compress`, `sparsec-compile` (both taking
/// SparsecCompileOptions) and `sparsec-<target>-pipeline` for every target.
void registerSparsecPipelines();

} // namespace sparsec

#endif
