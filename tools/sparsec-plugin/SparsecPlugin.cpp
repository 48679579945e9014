//===- SparsecPlugin.cpp - dialect and pass plugin for mlir-opt -----------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"
#include "sparsec/Compiler/Compiler.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Tools/Plugins/DialectPlugin.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include "llvm/Config/llvm-config.h"

using namespace mlir;

extern "C" LLVM_ATTRIBUTE_WEAK DialectPluginLibraryInfo
mlirGetDialectPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "Sparsec", LLVM_VERSION_STRING,
          [](DialectRegistry *registry) {
            registry->insert<sparsec::SparsecDialect>();
          }};
}

extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "SparsecPasses", LLVM_VERSION_STRING, []() {
            sparsec::registerSparsecPasses();
            sparsec::registerSparsecPipelines();
          }};
}
