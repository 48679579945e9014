//===- MLIRFuzzer.cpp - fuzz .mlir input with the sparsec dialect ---------===//
//
// Parses the input as sparsec's driver does for a .mlir or .mlirbc file
// (the parser verifies every op, and with it every sparsec encoding), with
// the dialects the importer produces. A module that parses is printed and
// must parse again.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "sparsec/Import/ONNXImporter.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace mlir;

static OwningOpRef<ModuleOp> parse(MLIRContext &context, llvm::StringRef text) {
  // A copy: the lexer needs the terminating NUL a file buffer has.
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, "input.mlir"), llvm::SMLoc());
  return parseSourceFile<ModuleOp>(sourceMgr, ParserConfig(&context));
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static DialectRegistry *registry = [] {
    auto *r = new DialectRegistry;
    sparsec::registerImporterDialects(*r);
    return r;
  }();
  MLIRContext context(*registry, MLIRContext::Threading::DISABLED);
  std::string firstError;
  ScopedDiagnosticHandler quiet(&context, [&](Diagnostic &diag) {
    if (firstError.empty() && diag.getSeverity() == DiagnosticSeverity::Error)
      firstError = diag.str();
    return success();
  });
  OwningOpRef<ModuleOp> module = parse(
      context, llvm::StringRef(reinterpret_cast<const char *>(data), size));
  sparsec::fuzz::note(module ? "" : "parse failed: " + firstError);
  if (!module)
    return 0;
  std::string printed;
  llvm::raw_string_ostream os(printed);
  module->print(os);
  os.flush();
  if (!parse(context, printed)) {
    llvm::errs() << "the printed module does not parse again:\n" << printed;
    std::abort();
  }
  return 0;
}
