//===- Target.h - compilation targets behind one interface ------*- C++ -*-===//
//
// Every back end (host CPU now; CUDA, NEON and PIM later) implements Target.
// The driver only talks to this interface.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_TARGET_TARGET_H
#define SPARSEC_TARGET_TARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace sparsec {

struct NpyArray;

/// What the driver writes after compiling for a target.
enum class ArtifactKind {
  /// The target-level MLIR after the target's lowering pipeline.
  LoweredMLIR,
  /// LLVM IR text (targets that go through LLVM).
  LLVMIR,
  /// A relocatable object file.
  Object,
};

class Target {
public:
  virtual ~Target() = default;
  virtual llvm::StringRef getName() const = 0;
  virtual llvm::StringRef getDescription() const = 0;
  /// Appends the passes that lower a sparsec-level module for this target.
  virtual void buildPipeline(mlir::OpPassManager &pm) const = 0;
  /// Writes `kind` for a module already lowered by buildPipeline.
  virtual mlir::LogicalResult emit(mlir::ModuleOp lowered, ArtifactKind kind,
                                   llvm::raw_ostream &os) const = 0;
  /// Runs a lowered module's `main` on `inputs`; targets that cannot execute
  /// here return failure with a diagnostic.
  virtual mlir::LogicalResult run(mlir::ModuleOp lowered,
                                  mlir::FunctionType signature,
                                  const std::vector<NpyArray> &inputs,
                                  std::vector<NpyArray> &outputs) const = 0;
  /// Writes a self-contained artifact directory (targets whose output is
  /// more than one file); the default reports that there is none.
  virtual mlir::LogicalResult emitArtifact(mlir::ModuleOp lowered,
                                           llvm::StringRef dir) const;
  /// Whether --emit=artifact is this target's natural output.
  virtual bool prefersArtifact() const { return false; }
};

/// The registered targets, and lookup by name (null if unknown).
const std::vector<const Target *> &getTargets();
const Target *lookupTarget(llvm::StringRef name);

/// The host CPU target (linalg -> bufferization -> LLVM, JIT execution).
const Target &getHostTarget();
/// Adds the host lowering passes (also registered as
/// `sparsec-host-pipeline`).
void buildHostPipeline(mlir::OpPassManager &pm);

/// The CUDA target: per-layer PTX for sparse tensor cores plus packed
/// weights in an artifact directory run by the MLIR-free runtime
/// (docs/CUDABackend.md).
struct CudaTargetOptions {
  std::string arch = "sm_80";  // sm_80 (mma.sp) or sm_90a (wgmma.mma_async.sp)
  std::string valueType = "";  // f16 | bf16 ("": from the packed weights)
  int64_t tileN = 0;           // tokens per CTA (0: the generator's choice)
  std::string device = "auto"; // --run: cuda | emulator | auto
  std::string wgmma = "auto";  // sm_90a: auto | async | sync | off
                               // (cuda::WgmmaMode in KernelGen.h)
  int64_t tileM = 0;           // rows per CTA: 64 or 128 (0: auto)
};
const Target &getCudaTarget();
void setCudaTargetOptions(const CudaTargetOptions &options);

} // namespace sparsec

#endif
