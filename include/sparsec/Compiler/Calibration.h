//===- Calibration.h - calibration-driven saliency (Wanda, SparseGPT) -*- C++
//-//
//
// `--calibration` runs the model on the host over a set of input samples and
// streams each selected layer's input statistics (docs/Calibration.md,
// algorithms.md §10): Σx² per input feature for Wanda, XXᵀ for SparseGPT.
// Wanda leaves them on the layer for the pruning passes to score with;
// SparseGPT prunes and updates the layer's weight itself, and the pruning
// passes then pack exactly its mask.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_COMPILER_CALIBRATION_H
#define SPARSEC_COMPILER_CALIBRATION_H

#include "sparsec/Compiler/CompileOptions.h"
#include "sparsec/Support/Npy.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace sparsec {

/// One input of the model's `main`, as a calibration sample must give it.
struct ModelInput {
  std::string name;
  std::string dtype; // numpy descr
  std::vector<int64_t> shape;
};

/// The samples of --calibration, read one at a time.
///  - a directory: its entries in name order, each one sample: a .npy (for a
///    model with one input), a .npz holding every input by name, or a
///    folder holding <input>.npy for every input;
///  - a .npz file: one array per input, keyed by input name (or the single
///    array of a one-input model), either one sample of exactly the input's
///    shape or S samples stacked on a new leading axis.
class CalibrationSet {
public:
  /// Lists the samples (at most `limit` when positive) and checks that every
  /// input is present; "" or the error naming the path.
  std::string open(const std::string &path, std::vector<ModelInput> inputs,
                   int64_t limit);
  int64_t size() const;
  /// Sample `index`'s inputs in `main`'s order; errors name the file, the
  /// input and the expected dtype and shape.
  std::string read(int64_t index, std::vector<NpyArray> &inputs) const;

private:
  std::string readEntry(const std::string &entry,
                        std::vector<NpyArray> &inputs) const;
  std::string check(const std::string &where, const ModelInput &input,
                    const NpyArray &array) const;

  std::string path;
  std::vector<ModelInput> inputs;
  std::vector<std::string> entries; // directory mode
  std::vector<NpyArray> stacked;    // .npz mode, one per input
  std::vector<bool> hasSampleAxis;  // .npz mode
  int64_t stackedSamples = 0;
};

/// Runs the calibration the options ask for (nothing without
/// --calibration) on a sparsec-level module before its compression passes;
/// failure after a diagnostic.
mlir::LogicalResult calibrateModule(mlir::ModuleOp module,
                                    const SparsecCompileOptions &options);

} // namespace sparsec

#endif
