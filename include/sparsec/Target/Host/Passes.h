//===- Passes.h - host target passes ----------------------------*- C++ -*-===//
#ifndef SPARSEC_TARGET_HOST_PASSES_H
#define SPARSEC_TARGET_HOST_PASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace sparsec {

/// What one slot of the N:M group kernel costs in dense MACs when
/// nm-groups=auto weighs it: 1.5 as measured on a Zen 4. The default of the
/// pass option, of the host target's --host-nm-group-slot-cost and of
/// LinearKernelModes.
inline constexpr double kDefaultNMGroupSlotCost = 1.5;
/// What one MAC of the row-pattern kernel costs in dense MACs when a linear
/// layer's row-patterns=auto weighs it: 1.6 as measured on a Zen 4 (the
/// pass option's default; the host target picks its CPU's figure).
inline constexpr double kDefaultRowPatternMacCost = 1.6;
/// Whether `cost` is a usable cost in dense MACs (the slot and pattern MAC
/// options check it).
inline bool isValidDenseMacCost(double cost) {
  return cost > 0.0 && cost < 100.0;
}

/// The alignment of sparsec-cpu-plan-memory's arena and of the offsets in
/// it; the manifest's `workspace.alignment`.
inline constexpr int64_t kCpuArenaAlignment = 64;

#define GEN_PASS_DECL
#include "sparsec/Target/Host/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "sparsec/Target/Host/Passes.h.inc"

} // namespace sparsec

#endif
