//===- Passes.h - sparsec passes --------------------------------*- C++ -*-===//
#ifndef SPARSEC_DIALECT_SPARSEC_TRANSFORMS_PASSES_H
#define SPARSEC_DIALECT_SPARSEC_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace sparsec {

#define GEN_PASS_DECL
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h.inc"

} // namespace sparsec

#endif
