//===- HostPipeline.h - the host target's lowering --------------*- C++ -*-===//
#ifndef SPARSEC_LIB_TARGET_HOST_HOSTPIPELINE_H
#define SPARSEC_LIB_TARGET_HOST_HOSTPIPELINE_H

#include "sparsec/Target/Host/Passes.h"

#include "mlir/Pass/PassManager.h"

#include <string>

namespace sparsec {
/// Linear layers as packed vector kernels (sparsec-cpu-lower-layers), the
/// rest through linalg -> one-shot bufferization -> loops -> LLVM dialect,
/// with a C interface on `main` (docs/CPUBackend.md). Parallel loops run on
/// `numThreads` OpenMP threads (0: as many as libomp chooses). With
/// `approximateMath`, f32 erf, exp and tanh become vectorisable polynomials
/// (sparsec-cpu-approximate-math) instead of libm calls. `permuteIsa` is
/// the machine's lane permutes (sparsec-cpu-lower-permute-lanes' `isa`);
/// `kernelSchedule` the OpenMP schedule of the kernels' tile loops
/// (sparsec-cpu-schedule-kernel-loops' `schedule`).
void buildHostPipeline(mlir::OpPassManager &pm,
                       const SparsecCpuLowerLayersOptions &kernels,
                       unsigned numThreads, bool approximateMath,
                       llvm::StringRef permuteIsa,
                       llvm::StringRef kernelSchedule);

/// Module attributes the pipeline's first pass records: `main`'s inputs and
/// results as arrays of {name, type} dictionaries (the lowered module has
/// only memref descriptors left; artifacts' manifests need the tensors).
inline constexpr llvm::StringLiteral kCpuInputsAttr = "sparsec.cpu.inputs";
inline constexpr llvm::StringLiteral kCpuOutputsAttr = "sparsec.cpu.outputs";

/// The widest f32 vector this machine's CPU has: 16 (AVX-512), 8 (AVX),
/// else 4.
int64_t getHostVectorWidth();
/// The x86 lane permutes this machine's CPU has, as
/// sparsec-cpu-lower-permute-lanes names them: avx512, avx2 (the N:M group
/// kernel's vpermps) or none.
std::string getHostPermuteIsa();
} // namespace sparsec

#endif
