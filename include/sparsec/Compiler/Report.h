//===- Report.h - per-layer model report (--emit=report) --------*- C++ -*-===//
#ifndef SPARSEC_COMPILER_REPORT_H
#define SPARSEC_COMPILER_REPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <string>

namespace sparsec {
/// Writes one row per weight-carrying layer (GEMM view, parameters,
/// encoding, measured density, MACs) and totals; JSON when `json`. With
/// `kernelOf`, each row also says how the target runs the layer (column
/// `kernel`, JSON key "kernel"; Target::describeLayerKernel).
void writeModelReport(
    mlir::ModuleOp module, bool json, llvm::raw_ostream &os,
    llvm::function_ref<std::string(mlir::Operation *)> kernelOf = nullptr);
} // namespace sparsec

#endif
