//===- PruneNM.cpp - N:M pruning of constant layer weights ----------------===//
#include "PruneLayer.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"

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
    uint64_t pruned = 0, skipped = 0;
    LogicalResult result = pruneLayers(
        module, options, "sparsec-prune-nm", "nm", valueType, keepMask, pack,
        [](const SelectedLayer &l) {
          return selectNM(l.saliency.data(), l.rows, l.cols,
                          {l.settings.n, l.settings.m});
        },
        [&](const SelectedLayer &l) {
          return PruneEncoding{NMEncodingAttr::get(&getContext(), l.settings.n,
                                                   l.settings.m, l.korder),
                               MetaLayout::meta32};
        },
        pruned, skipped);
    numPruned += pruned;
    numSkipped += skipped;
    if (failed(result))
      signalPassFailure();
  }
};

} // namespace
