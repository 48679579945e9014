//===- PruneLayer.h - commit a selected mask to a layer ---------*- C++ -*-===//
//
// The steps sparsec-prune-nm and sparsec-prune-hinm share once a mask is
// selected: mask the weight, pack it through the encoding interface, and
// rewrite the layer.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_TRANSFORMS_PRUNELAYER_H
#define SPARSEC_LIB_TRANSFORMS_PRUNELAYER_H

#include "sparsec/Dialect/Sparsec/Transforms/LayerSelection.h"
#include "sparsec/Sparsity/Selection.h"

namespace sparsec {

struct PrunedLayer {
  SelectedLayer layer;
  Selection selection;
  std::vector<float> masked; // GEMM view, rounded to the value type
  double keptSaliency = 0, totalSaliency = 0;
};

/// Zeroes the weight outside the selection and rounds the kept values to
/// `valueType`; sums the kept and total saliency. Pure: safe in parallel.
void maskLayer(PrunedLayer &pruned, llvm::StringRef valueType);

/// Packs the masked weight with `encoding` and rewrites the layer: masked
/// dense weight, `weight_encoding`, `packed_weight` (with `pack`),
/// `sparsec.mask` (with `keepMask`) and `sparsec.prune_stats`. Serial
/// (creates attributes).
mlir::LogicalResult commitPrunedLayer(PrunedLayer &pruned,
                                      SparsityEncodingAttrInterface encoding,
                                      llvm::StringRef valueType,
                                      MetaLayout metaLayout, bool keepMask,
                                      bool pack, llvm::StringRef passName);

/// The encoding a pruned layer gets, and the 2:4 metadata layout to pack.
struct PruneEncoding {
  SparsityEncodingAttrInterface encoding;
  MetaLayout metaLayout;
};

/// The body of a pruning pass: selects the layers of `pattern`, then, a
/// batch of layers at a time, reads their weights and saliencies, runs
/// `select` on them in parallel, and packs and commits each with the
/// encoding `encodingFor` gives; erases the replaced weights.
mlir::LogicalResult pruneLayers(
    mlir::ModuleOp module, const LayerSelectionOptions &options,
    llvm::StringRef passName, llvm::StringRef pattern,
    llvm::StringRef valueType, bool keepMask, bool pack,
    llvm::function_ref<Selection(const SelectedLayer &)> select,
    llvm::function_ref<PruneEncoding(const SelectedLayer &)> encodingFor,
    uint64_t &numPruned, uint64_t &numSkipped);

/// Checks the packing options shared by the pruning passes.
std::string validatePackOptions(llvm::StringRef valueType);

} // namespace sparsec

#endif
