//===- MLIRInput.h - load .mlir / .mlirbc input safely ----------*- C++ -*-===//
#ifndef SPARSEC_IMPORT_MLIRINPUT_H
#define SPARSEC_IMPORT_MLIRINPUT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>

namespace sparsec {

/// Parses `path` (textual .mlir or bytecode .mlirbc) into a module, as the
/// driver and the C API load MLIR input. Around MLIR's parser it
///  - ends a textual buffer with a newline, so that a string literal left
///    open at the end of the file (a truncated `dense_resource` hex blob, for
///    one) stops at that newline: MLIR 22's lexer otherwise steps past the
///    buffer's terminating NUL and reads beyond it (docs/ONNXImport.md);
///  - checks every `dense_resource` attribute after parsing: its blob must
///    exist and hold exactly the bytes its tensor type needs.
/// Errors are emitted on `context` with the file's name; returns null then.
mlir::OwningOpRef<mlir::ModuleOp> parseMLIRFile(mlir::MLIRContext &context,
                                                llvm::StringRef path);

/// The same for an input already in memory (fuzzers, tests).
mlir::OwningOpRef<mlir::ModuleOp>
parseMLIRBuffer(mlir::MLIRContext &context,
                std::unique_ptr<llvm::MemoryBuffer> buffer);

} // namespace sparsec

#endif
