//===- InitAll.cpp - register every sparsec dialect and pass --------------===//
#include "sparsec/InitAll.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"
#include "sparsec/Import/ONNXImporter.h"
#include "sparsec/Compiler/Compiler.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

namespace sparsec {

void registerAllSparsecDialects(DialectRegistry &registry) {
  registry.insert<SparsecDialect>();
  registerImporterDialects(registry);
  registerAllDialects(registry);
  registerAllExtensions(registry);
}

void registerAllSparsecPasses() {
  registerSparsecPasses();
  registerSparsecPipelines();
}

} // namespace sparsec
