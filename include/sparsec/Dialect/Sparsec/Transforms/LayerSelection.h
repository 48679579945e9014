//===- LayerSelection.h - which layers a compression pass takes -*- C++ -*-===//
//
// The layer-selection and saliency utility shared by sparsec-prune-nm,
// sparsec-prune-hinm and sparsec-permute-channels: per-layer settings (pass
// options, then the first matching rule of the JSON config), the include /
// exclude / skip rules, the weight's GEMM view and its saliency (|w| or user
// scores, following any channel permutation an earlier pass recorded).
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_DIALECT_SPARSEC_TRANSFORMS_LAYERSELECTION_H
#define SPARSEC_DIALECT_SPARSEC_TRANSFORMS_LAYERSELECTION_H

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Sparsity/Packing.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <memory>
#include <string>
#include <vector>

namespace sparsec {

/// Σx² per input feature of a layer over its calibration inputs (f64, the
/// weight's storage order without the output axis, one row per convolution
/// group): what --saliency=wanda scores with.
inline constexpr const char kInputSquareNormsAttr[] = "sparsec.input_sq_norms";
/// Set on a layer whose weight SparseGPT has pruned and updated: a
/// dictionary with its reconstruction error and, for HiNM, the kept columns
/// of each tile (`columns`, tiles x nnzVec) that sparsec-prune-hinm keeps.
inline constexpr const char kSparseGPTAttr[] = "sparsec.sparsegpt";

/// Whether `saliency` names a method that needs calibration statistics.
bool isCalibratedSaliency(llvm::StringRef saliency);

struct SelectedLayer;
/// Fills `layer.saliency` (sized) with Wanda scores |w| · sqrt(Σx²) from
/// the layer's kInputSquareNormsAttr, following recorded channel
/// permutations; "" or the error.
std::string computeWandaSaliency(SelectedLayer &layer);

/// The pruning pattern of one layer.
struct PruneSettings {
  std::string pattern; // nm or hinm
  int64_t n = 2, m = 4, v = 64;
  double vectorSparsity = -1, sparsity = -1; // HiNM; -1 = not given
};

/// Options every layer-selecting pass declares (Passes.td:
/// SparsecLayerSelectionOptions).
struct LayerSelectionOptions {
  PruneSettings defaults;
  std::string include, exclude, config, saliency, korder = "hwc",
                                                  metaLayout = "auto";
  bool skipFirst = false, skipLast = false, pad = true;
  int64_t minParams = 0;
};

/// The shared options of the pass this is used in (its generated base keeps
/// the options protected, so a function template cannot read them).
#define SPARSEC_LAYER_SELECTION_OPTIONS()                                      \
  ::sparsec::LayerSelectionOptions {                                           \
    /*defaults=*/{}, include, exclude, config, saliency, korder,               \
        /*metaLayout=*/"auto", skipFirst, skipLast, pad, minParams             \
  }

/// One chosen layer: settings, GEMM view (R x K) of its weight and saliency.
struct SelectedLayer {
  mlir::Operation *op = nullptr;
  std::string name, weightName;
  PruneSettings settings;
  int64_t rows = 0, cols = 0;
  KOrder korder = KOrder::hwc;
  int64_t nnzVec = 0;                             // HiNM kept vectors
  MetaWordLayout layout = MetaWordLayout::Meta32; // HiNM 2:4 metadata
  /// Borrowed from the constant when its storage is in GEMM order, else
  /// `weightCopy`.
  llvm::ArrayRef<float> weight;
  std::vector<float> weightCopy, saliency;

  /// Makes `weight` point at an owned copy (before permuting it in place).
  std::vector<float> &ownWeight();
  /// The name the layer's arrays are given: its initializer, else the layer.
  std::string baseName() const {
    return weightName.empty() ? name : weightName;
  }
};

/// Picks every layer whose pattern (the config rule's, else `defaults`')
/// `wants`, that no rule or option skips and that is not compressed yet;
/// checks its settings and reads its GEMM view and saliency. Errors name
/// the pass and the layer; `numSkipped` counts layers left alone.
/// With `loadData` false the GEMM views and saliencies are left empty:
/// read them layer by layer with a LayerDataReader (a large model then never
/// holds every layer's copies at once).
mlir::LogicalResult
selectLayers(mlir::ModuleOp module, const LayerSelectionOptions &options,
             llvm::StringRef passName,
             llvm::function_ref<bool(llvm::StringRef pattern)> wants,
             std::vector<SelectedLayer> &layers, uint64_t &numSkipped,
             bool loadData = true);

/// Reads a selected layer's GEMM view of its weight and its saliency (|w|,
/// Wanda or user scores, following recorded channel permutations).
class LayerDataReader {
public:
  explicit LayerDataReader(const LayerSelectionOptions &options);
  ~LayerDataReader();
  /// Opens the user scores, if any: "" or the error.
  std::string open();
  /// Fills `layer.weight` and, with `withSaliency`, `layer.saliency`: "" or
  /// the error, naming the layer.
  std::string read(SelectedLayer &layer, bool withSaliency = true);
  /// Frees what read() filled.
  static void release(SelectedLayer &layer);

private:
  struct Scores;
  const LayerSelectionOptions &options;
  std::unique_ptr<Scores> scores;
  bool userScores;
};

/// HiNM vector sparsity of `settings` (from sparsity, vector-sparsity or the
/// 0.5 default).
double effectiveVectorSparsity(const PruneSettings &settings);

/// Replaces the layer's weight operand with a constant holding `gemm` (its
/// R x K GEMM view) in storage order, named `<base><suffix>`, and frees the
/// old constant when nothing else uses it (and its blob with it, unless
/// `freeOldBlob` is false: a cloned module shares its blobs).
void replaceLayerWeight(SelectedLayer &layer, std::vector<float> gemm,
                        llvm::StringRef suffix, bool freeOldBlob = true);

/// Erases the module's unused arith.constant ops (weights replaced by
/// permutation or pruning).
void eraseDeadConstants(mlir::ModuleOp module);

} // namespace sparsec

#endif
