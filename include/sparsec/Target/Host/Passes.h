//===- Passes.h - host target passes ----------------------------*- C++ -*-===//
#ifndef SPARSEC_TARGET_HOST_PASSES_H
#define SPARSEC_TARGET_HOST_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace sparsec {

#define GEN_PASS_DECL
#include "sparsec/Target/Host/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sparsec/Target/Host/Passes.h.inc"

} // namespace sparsec

#endif
