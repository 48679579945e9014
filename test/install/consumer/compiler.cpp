// Links sparsec::compiler (the C++ libraries and MLIR): registers sparsec's
// dialects in an MLIRContext and checks that the sparsec dialect loads.
#include "sparsec/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <cstdio>

int main() {
  mlir::DialectRegistry registry;
  sparsec::registerAllSparsecDialects(registry);
  mlir::MLIRContext context(registry);
  if (!context.getOrLoadDialect("sparsec")) {
    std::fprintf(stderr, "compiler_consumer: the sparsec dialect is not "
                         "registered\n");
    return 1;
  }
  std::printf("compiler ok: %zu dialects loaded\n",
              context.getLoadedDialects().size());
  return 0;
}
