//===- Report.h - per-layer model report (--emit=report) --------*- C++ -*-===//
#ifndef SPARSEC_COMPILER_REPORT_H
#define SPARSEC_COMPILER_REPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace sparsec {
/// Writes one row per weight-carrying layer (GEMM view, parameters,
/// encoding, measured density, MACs) and totals; JSON when `json`.
void writeModelReport(mlir::ModuleOp module, bool json, llvm::raw_ostream &os);
} // namespace sparsec

#endif
