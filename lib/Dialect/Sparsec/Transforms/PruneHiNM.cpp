//===- PruneHiNM.cpp - hierarchical N:M pruning of layer weights ----------===//
#include "PruneLayer.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"
#include "sparsec/Sparsity/Permutation.h"

#include "mlir/IR/Threading.h"

#include <numeric>

namespace sparsec {
#define GEN_PASS_DEF_SPARSECPRUNEHINM
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h.inc"
} // namespace sparsec

using namespace mlir;
using namespace sparsec;

namespace {

struct SparsecPruneHiNMPass
    : sparsec::impl::SparsecPruneHiNMBase<SparsecPruneHiNMPass> {
  using Base::Base;

  std::string validateOptions() {
    if (std::string error = validatePackOptions(valueType); !error.empty())
      return error;
    if (metaLayout != "meta32" && metaLayout != "meta16" &&
        metaLayout != "auto")
      return "unknown meta-layout '" + metaLayout +
             "' (expected meta32, meta16 or auto)";
    if (columnGrouping != "none" && columnGrouping != "gyro")
      return "unknown column-grouping '" + columnGrouping +
             "' (expected none or gyro)";
    if (columnTries < 1)
      return "column-tries must be positive";
    return "";
  }

  /// HiNM selection with gyro stage B: the vector level, then each tile's
  /// column grouping searched on its compacted saliency (folded into L_t).
  Selection selectWithColumnGrouping(const SelectedLayer &layer) {
    const PruneSettings &s = layer.settings;
    HiNMConfig config{s.v, layer.nnzVec, s.n, s.m};
    std::vector<std::vector<int64_t>> tiles = selectHiNMVectors(
        layer.saliency.data(), layer.rows, layer.cols, config);
    // Start each tile's search from the grouping of the original channel
    // order, so a permutation folded in from upstream never starts worse
    // than plain pruning.
    auto colPerm =
        layer.op->getAttrOfType<DenseI64ArrayAttr>("sparsec.col_perm");
    auto originalColumn = [&](int64_t k) -> int64_t {
      if (!colPerm)
        return k;
      int64_t channels = int64_t(colPerm.size());
      if (layer.korder == KOrder::chw) {
        int64_t spatial = layer.cols / channels;
        return colPerm[k / spatial] * spatial + k % spatial;
      }
      return (k / channels) * channels + colPerm[k % channels];
    };
    // Tiles are independent: each has its own random sub-stream, so they run
    // in parallel and the result does not depend on scheduling.
    std::vector<int64_t> tileIds(tiles.size());
    std::iota(tileIds.begin(), tileIds.end(), 0);
    parallelForEach(&getContext(), tileIds, [&](int64_t t) {
      std::vector<int64_t> &columns = tiles[t];
      llvm::sort(columns, [&](int64_t a, int64_t b) {
        return originalColumn(a) < originalColumn(b);
      });
      std::vector<float> tile(s.v * layer.nnzVec, 0.0f);
      for (int64_t i = 0; i < s.v; ++i) {
        int64_t r = t * s.v + i;
        if (r >= layer.rows)
          break;
        for (int64_t j = 0; j < layer.nnzVec; ++j)
          tile[i * layer.nnzVec + j] =
              layer.saliency[r * layer.cols + columns[j]];
      }
      Rng rng = Rng::forLayer(uint64_t(seed),
                              layer.name + "/columns/" + std::to_string(t));
      GyroStageBOptions stageB;
      stageB.maxTrials = columnTries;
      GyroStageBResult grouping =
          gyroStageB(tile.data(), s.v, layer.nnzVec, s.n, s.m, rng, stageB);
      std::vector<int64_t> grouped;
      for (int64_t j : grouping.order)
        grouped.push_back(columns[j]);
      columns = std::move(grouped);
    });
    return selectHiNMWithColumns(layer.saliency.data(), layer.rows, layer.cols,
                                 config, {}, std::move(tiles));
  }

  /// The kept columns SparseGPT chose for each tile (its vector level and its
  /// N:M groups follow them), when it pruned this layer with these settings.
  std::optional<std::vector<std::vector<int64_t>>>
  sparseGPTColumns(const SelectedLayer &layer) {
    auto info = layer.op->getAttrOfType<DictionaryAttr>(kSparseGPTAttr);
    auto columns =
        info ? info.getAs<DenseI64ArrayAttr>("columns") : DenseI64ArrayAttr();
    int64_t tiles = (layer.rows + layer.settings.v - 1) / layer.settings.v;
    if (saliency != "sparsegpt" || !columns ||
        int64_t(columns.size()) != tiles * layer.nnzVec)
      return std::nullopt;
    std::vector<std::vector<int64_t>> lists(tiles);
    for (int64_t t = 0; t < tiles; ++t)
      lists[t].assign(columns.asArrayRef().begin() + t * layer.nnzVec,
                      columns.asArrayRef().begin() + (t + 1) * layer.nnzVec);
    return lists;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (std::string error = validateOptions(); !error.empty()) {
      module.emitError("sparsec-prune-hinm: ") << error;
      return signalPassFailure();
    }
    LayerSelectionOptions options = SPARSEC_LAYER_SELECTION_OPTIONS();
    options.metaLayout = metaLayout;
    options.defaults = {"hinm", n, m, v, vectorSparsity, sparsity};
    bool stageB = columnGrouping == "gyro";
    uint64_t pruned = 0, skipped = 0;
    LogicalResult result = pruneLayers(
        module, options, "sparsec-prune-hinm", "hinm", valueType, keepMask,
        pack,
        [&](const SelectedLayer &l) {
          const PruneSettings &s = l.settings;
          if (std::optional<std::vector<std::vector<int64_t>>> columns =
                  sparseGPTColumns(l))
            return selectHiNMWithColumns(l.saliency.data(), l.rows, l.cols,
                                         {s.v, l.nnzVec, s.n, s.m}, {},
                                         std::move(*columns));
          return stageB ? selectWithColumnGrouping(l)
                        : selectHiNM(l.saliency.data(), l.rows, l.cols,
                                     {s.v, l.nnzVec, s.n, s.m});
        },
        [&](const SelectedLayer &l) {
          const PruneSettings &s = l.settings;
          return PruneEncoding{
              HiNMEncodingAttr::get(&getContext(), s.v, l.nnzVec, s.n, s.m,
                                    l.korder),
              l.layout == MetaWordLayout::Meta16 ? MetaLayout::meta16
                                                 : MetaLayout::meta32};
        },
        pruned, skipped);
    numPruned += pruned;
    numSkipped += skipped;
    if (failed(result))
      signalPassFailure();
  }
};

} // namespace
