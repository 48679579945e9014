//===- PruneConfigFuzzer.cpp - fuzz the JSON prune-config reader ----------===//
//
// The input is a --prune-config file. It reaches the reader (static
// readConfig in LayerSelection.cpp) through the public selectLayers, on a
// module of two linear layers (16x32 and 16x16), as every pruning pass does.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "sparsec/Dialect/Sparsec/Transforms/LayerSelection.h"
#include "sparsec/Import/ONNXImporter.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <cstdio>
#include <cstdlib>

using namespace mlir;

namespace {

/// dense<[[...]]> of `rows` x `cols` distinct values.
std::string weight(int rows, int cols, int seed) {
  std::string s = "dense<[";
  for (int r = 0; r < rows; ++r) {
    s += r ? ", [" : "[";
    for (int c = 0; c < cols; ++c)
      s += (c ? ", " : "") +
           std::to_string(((r * cols + c) * 37 + seed) % 97 - 48) + ".0";
    s += "]";
  }
  return s + "]>";
}

struct Fixture {
  MLIRContext context{MLIRContext::Threading::DISABLED};
  OwningOpRef<ModuleOp> module;

  Fixture() {
    DialectRegistry registry;
    sparsec::registerImporterDialects(registry);
    context.appendDialectRegistry(registry);
    std::string text =
        "func.func @main(%x: tensor<2x32xf32>) -> tensor<2x16xf32> {\n"
        "  %w1 = arith.constant " +
        weight(16, 32, 1) +
        " : tensor<16x32xf32>\n"
        "  %h = sparsec.linear %x, %w1 {sparsec.weight_name = \"fc1.weight\"}"
        " : (tensor<2x32xf32>, tensor<16x32xf32>) -> tensor<2x16xf32> "
        "loc(\"fc1\")\n"
        "  %w2 = arith.constant " +
        weight(16, 16, 2) +
        " : tensor<16x16xf32>\n"
        "  %y = sparsec.linear %h, %w2 {sparsec.weight_name = \"fc2.weight\"}"
        " : (tensor<2x16xf32>, tensor<16x16xf32>) -> tensor<2x16xf32> "
        "loc(\"fc2\")\n"
        "  return %y : tensor<2x16xf32>\n}\n";
    module = parseSourceString<ModuleOp>(text, ParserConfig(&context));
    if (!module) {
      std::fprintf(stderr, "prune-config fuzzer: the fixture does not parse\n");
      std::abort();
    }
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static Fixture *fixture = new Fixture;
  std::string firstError;
  ScopedDiagnosticHandler quiet(&fixture->context, [&](Diagnostic &diag) {
    if (firstError.empty() && diag.getSeverity() == DiagnosticSeverity::Error)
      firstError = diag.str();
    return success();
  });
  sparsec::LayerSelectionOptions options;
  options.defaults.pattern = "nm";
  options.config = sparsec::fuzz::writeScratchFile("config.json", data, size);
  std::vector<sparsec::SelectedLayer> layers;
  uint64_t skipped = 0;
  LogicalResult selected = sparsec::selectLayers(
      *fixture->module, options, "fuzz", [](llvm::StringRef) { return true; },
      layers, skipped);
  sparsec::fuzz::note(succeeded(selected) ? ""
                                          : "selection failed: " + firstError);
  return 0;
}
