//===- sparsec-opt.cpp - mlir-opt with every sparsec dialect and pass -----===//
#include "sparsec/InitAll.h"

#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  sparsec::registerAllSparsecPasses();
  mlir::DialectRegistry registry;
  sparsec::registerAllSparsecDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "sparsec optimizer driver\n", registry));
}
