//===- HostPipeline.h - the host target's lowering --------------*- C++ -*-===//
#ifndef SPARSEC_LIB_TARGET_HOST_HOSTPIPELINE_H
#define SPARSEC_LIB_TARGET_HOST_HOSTPIPELINE_H

#include "mlir/Pass/PassManager.h"

namespace sparsec {
/// linalg -> one-shot bufferization -> loops -> LLVM dialect, with a C
/// interface on `main` (docs/Architecture.md, "Targets").
void buildHostPipeline(mlir::OpPassManager &pm);
} // namespace sparsec

#endif
