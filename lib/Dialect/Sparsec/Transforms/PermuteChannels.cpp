//===- PermuteChannels.cpp - channel permutation before pruning -----------===//
#include "ChannelPermutation.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"
#include "sparsec/Dialect/Sparsec/Transforms/LayerSelection.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"
#include "sparsec/Sparsity/Selection.h"

#include "mlir/IR/Threading.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECPERMUTECHANNELS
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h.inc"
} // namespace sparsec

using namespace mlir;
using namespace sparsec;

namespace {

/// The saliency plain (unpermuted) selection keeps.
double plainKeptSaliency(const SelectedLayer &layer) {
  const PruneSettings &s = layer.settings;
  Selection plain =
      s.pattern == "nm"
          ? selectNM(layer.saliency.data(), layer.rows, layer.cols, {s.n, s.m})
          : selectHiNM(layer.saliency.data(), layer.rows, layer.cols,
                       {s.v, layer.nnzVec, s.n, s.m});
  double kept = 0;
  for (size_t i = 0; i < plain.mask.size(); ++i)
    kept += plain.mask[i] ? layer.saliency[i] : 0.0;
  return kept;
}

/// Whether the layer's stored weight differs from its GEMM view `gemm`.
bool storedWeightDiffers(const SelectedLayer &layer, ArrayRef<float> gemm) {
  Value weight = layer.op->getOperand(1);
  std::optional<WeightData> data = WeightData::getFromValue(weight);
  if (!data)
    return true;
  ArrayRef<int64_t> shape = cast<RankedTensorType>(weight.getType()).getShape();
  for (int64_t r = 0; r < layer.rows; ++r)
    for (int64_t k = 0; k < layer.cols; ++k)
      if (data->values()[gemmToStorageIndex(shape, layer.korder, r, k)] !=
          gemm[r * layer.cols + k])
        return true;
  return false;
}

struct SparsecPermuteChannelsPass
    : sparsec::impl::SparsecPermuteChannelsBase<SparsecPermuteChannelsPass> {
  using Base::Base;

  std::vector<int64_t> parsedSchedule;

  std::string validateOptions() {
    if (pattern != "nm" && pattern != "hinm")
      return "unknown pattern '" + pattern + "' (expected nm or hinm)";
    if (method != "gyro" && method != "asp" && method != "swap")
      return "unknown method '" + method + "' (expected gyro, asp or swap)";
    if (method == "gyro" && pattern != "hinm")
      return "method=gyro needs pattern=hinm";
    if (method != "gyro" && pattern != "nm")
      return "method=" + method + " needs pattern=nm";
    if (window != 2 && window != 3)
      return "window must be 2 or 3";
    if (tries < 1 || escapes < 0 || !(budget >= 0))
      return "tries must be positive, escapes and budget non-negative";
    parsedSchedule.clear();
    SmallVector<StringRef> parts;
    StringRef(schedule).split(parts, ',', -1, false);
    for (StringRef part : parts) {
      int64_t e;
      if (part.trim().getAsInteger(10, e) || e < 1)
        parsedSchedule.clear();
      else
        parsedSchedule.push_back(e);
      if (parsedSchedule.empty())
        break;
    }
    if (parsedSchedule.empty())
      return "schedule must be a comma-separated list of positive integers, "
             "got '" +
             schedule + "'";
    return "";
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](Operation *at, const Twine &msg) {
      at->emitError("sparsec-permute-channels: ") << msg;
      signalPassFailure();
    };
    if (std::string error = validateOptions(); !error.empty())
      return fail(module, error);
    // Permuting a compressed neighbour would scramble its packed storage.
    WalkResult compressed = module.walk([&](Operation *op) {
      if (isa<LinearOp, Conv2DOp>(op) && op->hasAttr("packed_weight"))
        return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (compressed.wasInterrupted())
      return fail(module, "the module has packed (pruned) layers; permute "
                          "channels before pruning");

    LayerSelectionOptions options = SPARSEC_LAYER_SELECTION_OPTIONS();
    options.defaults = {pattern, n, m, v, vectorSparsity, sparsity};
    std::vector<SelectedLayer> layers;
    uint64_t skipped = 0;
    if (failed(selectLayers(
            module, options, "sparsec-permute-channels",
            [](StringRef) { return true; }, layers, skipped)))
      return signalPassFailure();

    std::vector<double> unpermuted(layers.size());
    parallelFor(&getContext(), 0, layers.size(), [&](size_t i) {
      unpermuted[i] = plainKeptSaliency(layers[i]);
    });
    std::vector<PermutableLayer> permutable;
    for (SelectedLayer &l : layers) {
      const PruneSettings &s = l.settings;
      permutable.push_back({l.op, l.name, s.pattern, l.rows, l.cols, s.n, s.m,
                            s.v, l.nnzVec, l.korder == KOrder::chw,
                            &l.ownWeight(), &l.saliency});
    }
    PermutationOptions search;
    search.method = method;
    search.seed = uint64_t(seed);
    search.tries = tries;
    search.window = window;
    search.escapes = escapes;
    search.schedule = parsedSchedule;
    search.budgetSeconds = budget;
    search.explicitPermutes = explicitPermutes;
    search.progress = progress;
    if (failed(permuteChannels(module, permutable, search)))
      return signalPassFailure();

    // The search permuted the in-memory views; where no class rewrite did
    // the same to the stored weight (a permuted input), store the view.
    Builder b(&getContext());
    for (auto [layer, kept] : llvm::zip(layers, unpermuted)) {
      layer.op->setAttr("sparsec.kept_saliency_unpermuted",
                        b.getF64FloatAttr(kept));
      if (storedWeightDiffers(layer, layer.weightCopy))
        replaceLayerWeight(layer, layer.weightCopy, ".permuted");
      ++numPermuted;
    }
    eraseDeadConstants(module);
  }
};

} // namespace
