//===- MLIRFuzzer.cpp - fuzz .mlir input with the sparsec dialect ---------===//
//
// Parses the input as sparsec's driver and C API load a .mlir or .mlirbc
// file (parseMLIRBuffer: MLIR's parser, which verifies every op and with it
// every sparsec encoding, plus sparsec's guards around it), with the dialects
// the importer produces. A module that parses is printed and must parse
// again.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "sparsec/Import/MLIRInput.h"
#include "sparsec/Import/ONNXImporter.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace mlir;

static OwningOpRef<ModuleOp> parse(MLIRContext &context, llvm::StringRef text) {
  return sparsec::parseMLIRBuffer(
      context, llvm::MemoryBuffer::getMemBufferCopy(text, "input.mlir"));
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sparsec::fuzz::dumpInput(data, size);
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
