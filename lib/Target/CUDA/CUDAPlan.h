//===- CUDAPlan.h - the cuda target's kernel plan ---------------*- C++ -*-===//
//
// The plan that sparsec-cuda-plan-kernels (PlanKernels.cpp) attaches to
// func @main and that the artifact writer (CUDATarget.cpp) reads: attribute
// names and values, the planner's entry point, and the helpers both sides
// share. docs/CUDABackend.md, "The kernel plan", describes the schema.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_TARGET_CUDA_CUDAPLAN_H
#define SPARSEC_LIB_TARGET_CUDA_CUDAPLAN_H

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/KernelGen/KernelGen.h"
#include "sparsec/Target/CUDA/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"

#include <optional>
#include <string>
#include <vector>

namespace sparsec::cudaplan {

/// On func @main: {arch, wgmma}, the settings every kernel is generated with.
inline constexpr const char *kPlanAttr = "sparsec.cuda.plan";
/// On every op of @main that the target maps (all but constants,
/// tensor.empty and the return): how it runs.
inline constexpr const char *kStepAttr = "sparsec.cuda.step";

/// Keys of the two dictionaries.
namespace key {
inline constexpr const char *kArch = "arch";
inline constexpr const char *kWgmma = "wgmma";
inline constexpr const char *kKind = "kind";
inline constexpr const char *kLayer = "layer";
inline constexpr const char *kKernel = "kernel";
inline constexpr const char *kFormat = "format";
inline constexpr const char *kInstruction = "instruction";
inline constexpr const char *kTileM = "tile_m";
inline constexpr const char *kTileN = "tile_n";
inline constexpr const char *kDtype = "dtype";
inline constexpr const char *kBias = "bias";
inline constexpr const char *kEpilogue = "epilogue";
inline constexpr const char *kRole = "role";
} // namespace key

/// Values of `kind`.
namespace kind {
inline constexpr const char *kSparseKernel = "sparse_kernel";
inline constexpr const char *kHostDenseLinear = "host_dense_linear";
inline constexpr const char *kHostRelu = "host_relu";
inline constexpr const char *kHostAdd = "host_add";
inline constexpr const char *kFused = "fused";
} // namespace kind

/// Values of `role` (kind = "fused").
namespace role {
inline constexpr const char *kBiasAdd = "bias_add";
inline constexpr const char *kRelu = "relu";
inline constexpr const char *kGelu = "gelu";
} // namespace role

/// Checks the plan options; "" or the error, naming each option as
/// `<prefix><key>` (the driver passes "--cuda-").
std::string validatePlanOptions(const SparsecCudaPlanKernelsOptions &options,
                                llvm::StringRef prefix);

/// Plans func @main of `module` (replacing an earlier plan). Fails with a
/// diagnostic at the first op the target cannot run.
mlir::LogicalResult planKernels(mlir::ModuleOp module,
                                const SparsecCudaPlanKernelsOptions &options);

/// The op's layer (ONNX node) name from its location, or "".
std::string layerName(mlir::Operation *op);

/// An error naming the op (and its layer name, when it has one); unlike
/// op->emitError it does not dump the op, which can be megabytes of weights.
mlir::InFlightDiagnostic opError(mlir::Operation *op);

/// Reads an f32 constant operand (weight or bias) of `user`.
mlir::FailureOr<std::vector<float>>
constantF32(mlir::Operation *user, mlir::Value value, llvm::StringRef what);

/// A bias add after a layer: addf(v, b) with b an f32 constant of `rows`
/// values broadcast along the last dimension. Returns its values.
std::optional<std::vector<float>> matchBiasAdd(mlir::linalg::GenericOp op,
                                               mlir::Value v, int64_t rows);

/// Sets `config`'s format fields (hinm, v, keptWidth) from the packed
/// layer's encoding and reads the HiNM column lists into `tileColumns`;
/// fails, naming the layer, on an encoding without a sparse tensor-core
/// instruction. Defined in CUDATarget.cpp.
mlir::LogicalResult
describeSparseWeight(LinearOp op, cuda::LinearKernelConfig &config,
                     std::vector<std::vector<int64_t>> &tileColumns);

} // namespace sparsec::cudaplan

#endif
