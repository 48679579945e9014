//===- CpuTarget.h - the CPU code generator behind host and neon -*- C++
//-*-===//
//
// One code generator for every CPU target: the same passes (the packed
// register-tiled kernels, OpenMP loops, LLVM) parametrised by a target
// triple, a CPU name and the kernels' vector width and tile. `--target=host`
// (lib/Target/Host) and `--target=neon` (lib/Target/Neon) are thin
// subclasses that choose those parameters and how a model runs.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_TARGET_HOST_CPUTARGET_H
#define SPARSEC_TARGET_HOST_CPUTARGET_H

#include "sparsec/Support/DynamicShapes.h"
#include "sparsec/Target/Host/Passes.h"
#include "sparsec/Target/Target.h"

#include <string>
#include <vector>

namespace llvm {
class TargetMachine;
} // namespace llvm

namespace sparsec {

/// What LLVM generates code for.
struct CpuMachine {
  std::string triple;
  std::string cpu;
  std::string features;
};

/// The options every CPU target has, `--<target>-<key>` on the command line.
class CpuTargetOptions : public TargetOptions {
public:
  Option<unsigned> optLevel{*this, "opt-level",
                            llvm::cl::desc("LLVM optimization level, 0 to 3"),
                            llvm::cl::init(3)};
  Option<unsigned> tileTokens{
      *this, "tile-tokens",
      llvm::cl::desc("tokens per register tile of the linear-layer kernels, "
                     "1 to 16 (0: the target's default)"),
      llvm::cl::init(0)};
  Option<unsigned> tileVectors{
      *this, "tile-vectors",
      llvm::cl::desc("vectors of output features per register tile of the "
                     "linear-layer kernels, 1 to 8 (0: the target's default)"),
      llvm::cl::init(0)};
  Option<unsigned> threads{
      *this, "threads",
      llvm::cl::desc("threads of the generated code (OpenMP); 0: one per "
                     "core, capped by OMP_NUM_THREADS at run time"),
      llvm::cl::init(0)};
  Option<bool> approximateMath{
      *this, "approximate-math",
      llvm::cl::desc("f32 erf, exp and tanh as vectorised polynomials "
                     "(relative error <= 3e-7; exp flushes results below "
                     "1.2e-38 to 0) instead of scalar libm calls"),
      llvm::cl::init(true)};
  Option<std::string> sparseRows{
      *this, "sparse-rows",
      llvm::cl::desc("when a convolution runs the row-sparse kernel (each "
                     "channel walks its own nonzeros): auto, always, never"),
      llvm::cl::init("auto")};
  Option<std::string> kernelSchedule{
      *this, "kernel-schedule",
      llvm::cl::desc("how the kernels' OpenMP loops hand out their tiles: "
                     "guided (shrinking chunks on demand), dynamic (one "
                     "tile at a time), static (equal fixed shares)"),
      llvm::cl::init("guided")};

  /// `prefix` is the flags' prefix in messages ("--host-").
  std::string validateCommon(llvm::StringRef prefix) const;
};

/// A CPU target: everything but the machine and the way a model runs.
class CpuTarget : public Target {
public:
  /// The kernels' parameters these options resolve to.
  virtual SparsecCpuLowerLayersOptions
  getKernelOptions(const TargetOptions &options) const = 0;
  /// The machine LLVM compiles for.
  virtual CpuMachine getMachine(const TargetOptions &options) const = 0;
  /// The C compiler that links model.o into model.so ("" when none is
  /// installed: the artifact then has model.o only).
  virtual std::string findLinker() const = 0;
  /// Shared libraries model.so needs at run time (libomp), as paths to
  /// link against when they exist here, and as names or paths that
  /// sparsec-run loads before the model.
  virtual std::vector<std::string> getRuntimeLibraries() const = 0;
  /// The lane permutes the machine has, as sparsec-cpu-lower-permute-lanes
  /// names them: "avx512", "avx2" or "none" (the portable lowering).
  virtual std::string getPermuteIsa() const { return "none"; }

  std::string describeLayerKernel(mlir::Operation *layer,
                                  const TargetOptions &options) const override;
  void buildPipeline(mlir::OpPassManager &pm,
                     const TargetOptions &options) const override;
  mlir::LogicalResult emit(mlir::ModuleOp lowered, ArtifactKind kind,
                           llvm::raw_ostream &os,
                           const TargetOptions &options) const override;
  /// <dir>/model.o, <dir>/model.so (when a linker is found) and
  /// <dir>/manifest.json ("sparsec-cpu-artifact", docs/CPUBackend.md).
  mlir::LogicalResult emitArtifact(mlir::ModuleOp lowered, llvm::StringRef dir,
                                   const TargetOptions &options) const override;

protected:
  static const CpuTargetOptions &cpuOptions(const TargetOptions &options) {
    return static_cast<const CpuTargetOptions &>(options);
  }
};

/// Registers the LLVM IR translations the CPU targets need in `lowered`'s
/// context.
void registerCpuTranslations(mlir::ModuleOp lowered);

/// This process's environment without LD_PRELOAD, for the tools a CPU
/// target starts (the linker, qemu): what is preloaded into sparsec (an
/// ASan build's runtime, a profiler) is not meant for them.
std::vector<std::string> getToolEnvironment();

/// Checks `inputs` against `signature` and makes zeroed outputs of the
/// signature's result types; failure with a diagnostic at `loc`. A model
/// with dynamic dims passes `lowered`'s recorded signature (the inputs'
/// bounds and the outputs' sizes in terms of the inputs').
mlir::LogicalResult prepareRun(mlir::Location loc, mlir::FunctionType signature,
                               llvm::ArrayRef<InputView> inputs,
                               std::vector<NpyArray> &outputs,
                               mlir::ArrayAttr recordedInputs = {},
                               mlir::ArrayAttr recordedOutputs = {});
mlir::LogicalResult prepareRun(mlir::Location loc, mlir::FunctionType signature,
                               const std::vector<NpyArray> &inputs,
                               std::vector<NpyArray> &outputs);
/// The recorded signature of a module lowered for a CPU target: its inputs'
/// and outputs' entries (null when it has none).
std::pair<mlir::ArrayAttr, mlir::ArrayAttr>
getRecordedSignature(mlir::ModuleOp lowered);
/// `signature`'s tensors with the recorded bounds, symbols and output sizes
/// of their dynamic dims.
std::vector<DynamicInput> getDynamicInputs(mlir::FunctionType signature,
                                           mlir::ArrayAttr recordedInputs);
std::vector<DynamicOutput> getDynamicOutputs(mlir::FunctionType signature,
                                             mlir::ArrayAttr recordedOutputs);

} // namespace sparsec

#endif
