//===- InitAll.cpp - register every sparsec dialect and pass --------------===//
#include "sparsec/InitAll.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"
#include "sparsec/Import/ONNXImporter.h"
#include "sparsec/Target/Target.h"

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
  PassPipelineRegistration<>(
      "sparsec-host-pipeline",
      "Lower a sparsec module to the LLVM dialect for the host CPU",
      [](OpPassManager &pm) { buildHostPipeline(pm); });
}

} // namespace sparsec
