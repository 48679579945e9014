//===- PruneNM.cpp - N:M pruning of constant layer weights ----------------===//
#include "PruneLayer.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"

#include "mlir/IR/Threading.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECPRUNENM
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h.inc"
} // namespace sparsec

using namespace mlir;
using namespace sparsec;

namespace {

struct SparsecPruneNMPass
    : sparsec::impl::SparsecPruneNMBase<SparsecPruneNMPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (std::string error = validatePackOptions(valueType); !error.empty()) {
      module.emitError("sparsec-prune-nm: ") << error;
      return signalPassFailure();
    }
    LayerSelectionOptions options = SPARSEC_LAYER_SELECTION_OPTIONS();
    options.defaults.pattern = "nm";
    options.defaults.n = n;
    options.defaults.m = m;
    std::vector<SelectedLayer> layers;
    uint64_t skipped = 0;
    LogicalResult selected = selectLayers(
        module, options, "sparsec-prune-nm",
        [](StringRef pattern) { return pattern == "nm"; }, layers, skipped);
    numSkipped += skipped;
    if (failed(selected))
      return signalPassFailure();

    std::vector<PrunedLayer> pruned(layers.size());
    for (size_t i = 0; i < layers.size(); ++i)
      pruned[i].layer = std::move(layers[i]);
    // Selection is pure computation: all layers in parallel.
    std::string vt = valueType;
    parallelForEach(&getContext(), pruned, [&](PrunedLayer &p) {
      const SelectedLayer &l = p.layer;
      p.selection = selectNM(l.saliency.data(), l.rows, l.cols,
                             {l.settings.n, l.settings.m});
      maskLayer(p, vt);
    });
    for (PrunedLayer &p : pruned) {
      const SelectedLayer &l = p.layer;
      auto encoding = NMEncodingAttr::get(&getContext(), l.settings.n,
                                          l.settings.m, l.korder);
      if (failed(commitPrunedLayer(p, encoding, vt, MetaLayout::meta32,
                                   keepMask, "sparsec-prune-nm")))
        return signalPassFailure();
      ++numPruned;
    }
    eraseDeadConstants(module);
  }
};

} // namespace
