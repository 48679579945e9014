//===- InitAll.h - register every sparsec dialect and pass ------*- C++ -*-===//
#ifndef SPARSEC_INITALL_H
#define SPARSEC_INITALL_H

#include "mlir/IR/DialectRegistry.h"

namespace sparsec {

/// The sparsec dialect plus the upstream dialects and interfaces its
/// pipelines produce.
void registerAllSparsecDialects(mlir::DialectRegistry &registry);
/// Every sparsec pass and pipeline (`sparsec-compress`, `sparsec-compile`,
/// `sparsec-<target>-pipeline`).
void registerAllSparsecPasses();

} // namespace sparsec

#endif
