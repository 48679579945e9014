//===- CompileOptions.h - one option struct for import -> compress -> target //
//
// SparsecCompileOptions drives a whole compilation. The sparsec driver binds
// its fields to flags of the same names (--sparsity, --permute, ...), the C
// API and Python parse them from "key=value" strings, and sparsec-opt takes
// them as the options of the `sparsec-compress` and `sparsec-compile`
// pipelines. Validation lives here, once, for all of them.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_COMPILER_COMPILEOPTIONS_H
#define SPARSEC_COMPILER_COMPILEOPTIONS_H

#include "sparsec/Dialect/Sparsec/Transforms/LayerSelection.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"
#include "sparsec/Import/ONNXImporter.h"
#include "sparsec/Target/OptionSet.h"

#include "mlir/Pass/PassOptions.h"

namespace sparsec {

struct SparsecCompileOptions
    : public mlir::PassPipelineOptions<SparsecCompileOptions>,
      public OptionSet {
  // Import.
  ListOption<std::string> inputShape{
      *this, "input-shape",
      llvm::cl::desc("Shape of a graph input: sizes, '?' for a dynamic "
                     "dimension or MIN..MAX for a bounded one, e.g. "
                     "x:1x3x224x224 or ids:1x1..512"),
      llvm::cl::value_desc("name:d0xd1x...")};
  Option<bool> noOnnxChecker{
      *this, "no-onnx-checker",
      llvm::cl::desc("Skip the ONNX checker and shape inference"),
      llvm::cl::init(false)};

  // Compression (docs/Pruning.md, docs/Permutation.md).
  Option<std::string> sparsity{
      *this, "sparsity",
      llvm::cl::desc("Prune weights: nm:n=2,m=4 | hinm:v=64,vs=0.5[,n=2,m=4] "
                     "| hinm:v=64,sparsity=0.75"),
      llvm::cl::value_desc("spec"), llvm::cl::init("")};
  Option<std::string> saliency{
      *this, "saliency",
      llvm::cl::desc("What pruning keeps: magnitude (|w|, the default), "
                     "wanda or sparsegpt (both need --calibration), or "
                     "user scores: a directory of <initializer>.npy or a "
                     ".safetensors file"),
      llvm::cl::value_desc("method|path"), llvm::cl::init("")};
  // Calibration (docs/Calibration.md).
  Option<std::string> calibration{
      *this, "calibration",
      llvm::cl::desc("Calibration inputs for --saliency=wanda|sparsegpt: a "
                     "directory of samples (.npy, .npz or one folder of "
                     "<input>.npy each) or one .npz of stacked samples"),
      llvm::cl::value_desc("dir|file.npz"), llvm::cl::init("")};
  Option<std::string> calibrationOrder{
      *this, "calibration-order",
      llvm::cl::desc("sequential: each layer's inputs come from the model "
                     "with every layer before it already pruned; one-pass: "
                     "all from the dense model (one compile)"),
      llvm::cl::init("sequential")};
  Option<int64_t> calibrationSamples{
      *this, "calibration-samples",
      llvm::cl::desc("Use the first N calibration samples (0: all)"),
      llvm::cl::init(0)};
  Option<std::string> calibrationStats{
      *this, "calibration-stats",
      llvm::cl::desc("Write each layer's calibration statistics to this "
                     "directory (<layer>.sq_norms.npy; SparseGPT also "
                     "<layer>.error.npy)"),
      llvm::cl::value_desc("dir"), llvm::cl::init("")};
  Option<int64_t> sparsegptBlock{
      *this, "sparsegpt-block",
      llvm::cl::desc("SparseGPT: columns per lazy-update block"),
      llvm::cl::init(128)};
  Option<double> sparsegptDampening{
      *this, "sparsegpt-dampening",
      llvm::cl::desc("SparseGPT: diagonal dampening as a fraction of the "
                     "mean diagonal of XXᵀ"),
      llvm::cl::init(0.01)};
  Option<std::string> pruneInclude{
      *this, "prune-include",
      llvm::cl::desc("Prune only layers matching this regex"),
      llvm::cl::value_desc("regex"), llvm::cl::init("")};
  Option<std::string> pruneExclude{
      *this, "prune-exclude",
      llvm::cl::desc("Never prune layers matching this regex"),
      llvm::cl::value_desc("regex"), llvm::cl::init("")};
  Option<bool> pruneSkipFirst{*this, "prune-skip-first",
                              llvm::cl::desc("Leave the first weight layer "
                                             "dense"),
                              llvm::cl::init(false)};
  Option<bool> pruneSkipLast{
      *this, "prune-skip-last",
      llvm::cl::desc("Leave the last weight layer dense"),
      llvm::cl::init(false)};
  Option<int64_t> pruneMinParams{
      *this, "prune-min-params",
      llvm::cl::desc("Leave layers with fewer weights dense"),
      llvm::cl::init(0)};
  Option<std::string> pruneConfig{
      *this, "prune-config",
      llvm::cl::desc("JSON file of per-layer pruning overrides"),
      llvm::cl::value_desc("file.json"), llvm::cl::init("")};
  Option<bool> prunePad{
      *this, "prune-pad",
      llvm::cl::desc("Pad rows to a multiple of V (else refuse such layers)"),
      llvm::cl::init(true)};
  Option<std::string> pruneValueType{
      *this, "prune-value-type",
      llvm::cl::desc("Packed value type: f32, f16 or bf16"),
      llvm::cl::init("f32")};
  Option<std::string> pruneKOrder{
      *this, "prune-korder", llvm::cl::desc("Convolution K order: hwc or chw"),
      llvm::cl::init("hwc")};
  Option<std::string> pruneMeta{
      *this, "prune-meta",
      llvm::cl::desc("HiNM metadata layout: meta32, meta16 or auto (meta32 "
                     "when V is a multiple of 32)"),
      llvm::cl::init("auto")};
  Option<std::string> permute{
      *this, "permute",
      llvm::cl::desc("Channel permutation before pruning: none, gyro (HiNM), "
                     "asp or swap (N:M)"),
      llvm::cl::init("none")};
  Option<int64_t> permuteSeed{*this, "permute-seed",
                              llvm::cl::desc("Seed of the permutation search"),
                              llvm::cl::init(0)};
  Option<int64_t> permuteTries{
      *this, "permute-tries",
      llvm::cl::desc("Gyro: most trials per schedule phase"),
      llvm::cl::init(100)};
  Option<int64_t> permuteColumnTries{
      *this, "permute-column-tries",
      llvm::cl::desc("Gyro stage B: most trials per tile"), llvm::cl::init(32)};
  Option<std::string> permuteSchedule{
      *this, "permute-schedule",
      llvm::cl::desc("Gyro: rows moved per block in each phase"),
      llvm::cl::init("8,1,4,1,2,1,1")};
  Option<double> permuteBudget{
      *this, "permute-budget",
      llvm::cl::desc("Time budget in seconds for the searches (0 = none)"),
      llvm::cl::init(0)};
  Option<int64_t> permuteWindow{
      *this, "permute-window",
      llvm::cl::desc("ASP: stripes per exhaustive window (2 or 3)"),
      llvm::cl::init(2)};
  Option<int64_t> permuteEscapes{*this, "permute-escapes",
                                 llvm::cl::desc("ASP: escape attempts"),
                                 llvm::cl::init(100)};
  Option<bool> permuteExplicit{
      *this, "permute-explicit",
      llvm::cl::desc("Insert sparsec.permute where no layer can absorb a "
                     "permutation (else leave such layers unpermuted)"),
      llvm::cl::init(true)};
  Option<bool> exportMasks{
      *this, "export-masks",
      llvm::cl::desc("Keep each selected mask (sparsec.mask) so that an ONNX "
                     "export can add it as initializer <name>.mask"),
      llvm::cl::init(false)};
  /// Whether pruned layers get their packed weights (the prune passes'
  /// `pack`). Not an option: the driver turns it off when it only exports
  /// ONNX (--emit=none without --run), where nothing reads them.
  bool packWeights = true;
  Option<bool> progress{*this, "progress",
                        llvm::cl::desc("Print search progress to stderr"),
                        llvm::cl::init(false), llvm::cl::Hidden};

  // Target.
  Option<std::string> target{
      *this, "target", llvm::cl::desc("Compilation target (host, cuda, ...)"),
      llvm::cl::value_desc("name"), llvm::cl::init("host")};
  Option<std::string> targetOptions{
      *this, "target-options",
      llvm::cl::desc("The target's options as key=value pairs, e.g. "
                     "{arch=sm_90a tile-n=64} (the same as --cuda-arch=... "
                     "on the command line)"),
      llvm::cl::init(""), llvm::cl::Hidden};

  /// The --input-shape entries as name -> dims; "" or the error.
  std::string
  getInputShapes(llvm::StringMap<llvm::SmallVector<DimRange>> &shapes) const;
  /// Checks every value and combination: "" when valid, else the error,
  /// worded with the command-line flag names.
  std::string validate() const;
  /// Each value on its own: ranges, enumerations, regexes ("" or the error).
  std::string validateValues() const;
  /// Flags given explicitly that `pattern` ("" without --sparsity) and
  /// --permute never read are refused ("" or the error).
  std::string validateCombinations(llvm::StringRef pattern) const;
  /// Adds the compression passes these options ask for to `pm`
  /// (sparsec-permute-channels, sparsec-prune-hinm, sparsec-prune-nm);
  /// nothing when --sparsity is empty. "" or the error.
  std::string addCompressionPasses(mlir::OpPassManager &pm) const;
};

/// Parses "nm:n=2,m=4" / "hinm:v=64,vs=0.5" into `settings`; "" or the error.
std::string parseSparsitySpec(llvm::StringRef spec, PruneSettings &settings);

} // namespace sparsec

#endif
