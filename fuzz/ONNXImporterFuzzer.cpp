//===- ONNXImporterFuzzer.cpp - fuzz the ONNX importer --------------------===//
//
// The input is a model file. Inputs of even size are imported as the CLI
// does by default (ONNX checker and shape inference first), inputs of odd
// size as with --no-onnx-checker, so both paths are fuzzed and a crash
// reproduces from its file alone.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "sparsec/Import/ONNXImporter.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

using namespace mlir;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static DialectRegistry *registry = [] {
    auto *r = new DialectRegistry;
    sparsec::registerImporterDialects(*r);
    return r;
  }();
  std::string path = sparsec::fuzz::writeScratchFile("model.onnx", data, size);
  MLIRContext context(*registry, MLIRContext::Threading::DISABLED);
  std::string firstError;
  ScopedDiagnosticHandler quiet(&context, [&](Diagnostic &diag) {
    if (firstError.empty() && diag.getSeverity() == DiagnosticSeverity::Error)
      firstError = diag.str();
    return success();
  });
  sparsec::ONNXImportOptions options;
  options.validate = size % 2 == 0;
  OwningOpRef<ModuleOp> module =
      sparsec::importONNXFile(context, path, options);
  sparsec::fuzz::note(module ? "" : "import failed: " + firstError);
  return 0;
}
