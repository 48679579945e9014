//===- Target.h - compilation targets as plug-ins ---------------*- C++ -*-===//
//
// Every back end implements Target in its own folder, lib/Target/<Name>/, and
// registers itself through its CMake file (sparsec_add_target): adding a
// target touches no shared header, no registry list and no driver line
// (docs/Architecture.md, "Adding a target").
//
// A target's options are an object the target creates, not global state: the
// same Target serves any number of compilations with different options, in
// one process and at the same time.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_TARGET_TARGET_H
#define SPARSEC_TARGET_TARGET_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "sparsec/Target/OptionSet.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
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
  /// Target assembly text (targets that go through LLVM).
  Assembly,
};

/// The options of one target. Targets subclass it and declare their options
/// as `Option<T> name{*this, "key", llvm::cl::desc(...)}`; they parse from
/// "key=value ..." strings (the C API, Python and `sparsec-opt` pipelines)
/// and appear on the sparsec command line as `--<target>-<key>`.
class TargetOptions : public OptionSet {
public:
  virtual ~TargetOptions() = default;
  /// Checks values and combinations: "" when valid, else the error. It
  /// names the command-line flag (`--cuda-arch must be ...`) so that every
  /// front end reports the same text.
  virtual std::string validate() const { return ""; }
};

/// An input the caller owns and keeps alive while a prepared model runs:
/// calibration hands a probe the model's weights this way, without a copy.
struct InputView {
  std::string dtype; ///< numpy descr, as NpyArray::dtype
  std::vector<int64_t> shape;
  const char *data = nullptr;

  static InputView of(const NpyArray &array);
  static std::vector<InputView> of(const std::vector<NpyArray> &arrays);
};

/// A lowered module compiled once for repeated runs in this process
/// (calibration runs the model once per sample).
class PreparedModel {
public:
  virtual ~PreparedModel() = default;
  /// Runs `main` on `inputs` (checked against the signature); `outputs`
  /// come back in the signature's order and shapes. The buffers are handed
  /// over as they are: `main` must not write to its arguments (compile it
  /// with `bufferization.writable = false` on them, as calibration probes
  /// are).
  virtual mlir::LogicalResult run(llvm::ArrayRef<InputView> inputs,
                                  std::vector<NpyArray> &outputs) = 0;
  /// The same on copies of `inputs`, for a `main` that may write to them.
  virtual mlir::LogicalResult run(const std::vector<NpyArray> &inputs,
                                  std::vector<NpyArray> &outputs);
};

class Target {
public:
  virtual ~Target() = default;
  virtual llvm::StringRef getName() const = 0;
  virtual llvm::StringRef getDescription() const = 0;

  /// A fresh options object holding this target's defaults.
  virtual std::unique_ptr<TargetOptions> createOptions() const;

  /// Appends the passes that lower a sparsec-level module for this target.
  virtual void buildPipeline(mlir::OpPassManager &pm,
                             const TargetOptions &options) const = 0;
  /// Writes `kind` for a module already lowered by buildPipeline.
  virtual mlir::LogicalResult emit(mlir::ModuleOp lowered, ArtifactKind kind,
                                   llvm::raw_ostream &os,
                                   const TargetOptions &options) const = 0;
  /// Runs a lowered module's `main` on `inputs`; targets that cannot execute
  /// here return failure with a diagnostic.
  virtual mlir::LogicalResult run(mlir::ModuleOp lowered,
                                  mlir::FunctionType signature,
                                  const std::vector<NpyArray> &inputs,
                                  std::vector<NpyArray> &outputs,
                                  const TargetOptions &options) const = 0;
  /// Compiles a lowered module's `main` once for many runs here; null after a
  /// diagnostic for targets that cannot execute in this process.
  virtual std::unique_ptr<PreparedModel>
  prepare(mlir::ModuleOp lowered, mlir::FunctionType signature,
          const TargetOptions &options) const;
  /// Writes a self-contained artifact directory (targets whose output is
  /// more than one file); the default reports that there is none.
  virtual mlir::LogicalResult emitArtifact(mlir::ModuleOp lowered,
                                           llvm::StringRef dir,
                                           const TargetOptions &options) const;
  /// Whether --emit=artifact is this target's natural output.
  virtual bool prefersArtifact() const { return false; }
  /// How this target would run `layer` (a sparsec.linear or sparsec.conv2d
  /// of a module not yet lowered), as a short phrase for --emit=report, e.g.
  /// which kernel and how much of the dense work it does; empty when the
  /// target has nothing to say.
  virtual std::string describeLayerKernel(mlir::Operation *layer,
                                          const TargetOptions &options) const {
    return "";
  }
};

/// A pass that fails, naming `targetName`, when `main` has an input or
/// output with dynamic dimensions: for targets that compile static shapes
/// only (the first pass of their pipeline).
std::unique_ptr<mlir::Pass>
createRequireStaticShapesPass(llvm::StringRef targetName);

/// The targets linked into this program. Filled once, on first use, by the
/// registration functions that lib/Target's CMake generates from every
/// target folder; read-only afterwards, so it is safe to share.
class TargetRegistry {
public:
  static const TargetRegistry &get();

  /// Null if no target has this name.
  const Target *lookup(llvm::StringRef name) const;
  /// In registration order.
  std::vector<const Target *> getTargets() const;
  /// "host, cuda, ..." for messages.
  std::string getNames() const;

  /// Called by a target's registration function only.
  void add(std::unique_ptr<Target> target);

private:
  TargetRegistry() = default;
  std::vector<std::unique_ptr<Target>> targets;
};

/// The numpy descr ("<f4", "|b1", ...) of a tensor element type; "" when
/// numpy has none. Targets and the C API describe arrays with it.
std::string getNpyDescr(mlir::Type elementType);
/// "float32[1,3]" for messages.
std::string describeNpyType(const std::string &dtype,
                            llvm::ArrayRef<int64_t> shape);

/// Registers `sparsec-<name>-pipeline` for every target, taking the target's
/// options (`sparsec-opt --pass-pipeline='builtin.module(
/// sparsec-cuda-pipeline{arch=sm_90a})'`).
void registerTargetPipelines();

} // namespace sparsec

#endif
