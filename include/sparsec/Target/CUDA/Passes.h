//===- Passes.h - cuda target passes ----------------------------*- C++ -*-===//
#ifndef SPARSEC_TARGET_CUDA_PASSES_H
#define SPARSEC_TARGET_CUDA_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace sparsec {

#define GEN_PASS_DECL
#include "sparsec/Target/CUDA/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sparsec/Target/CUDA/Passes.h.inc"

} // namespace sparsec

#endif
