//===- PruneLayer.cpp - commit a selected mask to a layer -----------------===//
#include "PruneLayer.h"
#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Threading.h"

using namespace mlir;

namespace sparsec {

std::string validatePackOptions(StringRef valueType) {
  if (valueType != "f32" && valueType != "f16" && valueType != "bf16")
    return "unknown value-type '" + valueType.str() +
           "' (expected f32, f16 or bf16)";
  return "";
}

void maskLayer(PrunedLayer &p, StringRef valueType) {
  const SelectedLayer &layer = p.layer;
  p.masked.assign(layer.weight.size(), 0.0f);
  for (size_t i = 0; i < layer.weight.size(); ++i) {
    p.totalSaliency += layer.saliency[i];
    if (p.selection.mask[i]) {
      p.masked[i] = roundToValueType(layer.weight[i], valueType);
      p.keptSaliency += layer.saliency[i];
    }
  }
}

LogicalResult commitPrunedLayer(PrunedLayer &p,
                                SparsityEncodingAttrInterface encoding,
                                StringRef valueType, MetaLayout metaLayout,
                                bool keepMask, bool pack, StringRef passName) {
  SelectedLayer &layer = p.layer;
  Operation *op = layer.op;
  MLIRContext *ctx = op->getContext();
  Attribute packed;
  if (pack) {
    PackRequest request;
    request.rows = layer.rows;
    request.cols = layer.cols;
    request.values = p.masked;
    request.mask = p.selection.mask;
    request.tileColumns = p.selection.tiles;
    request.valueType = valueType;
    request.metaLayout = metaLayout;
    request.name = layer.baseName();
    if (std::string error = encoding.pack(request, packed); !error.empty())
      return op->emitError()
             << passName << ": layer '" << layer.name << "': " << error;
  }

  if (keepMask) {
    // The mask in the weight's storage order, for export.
    ArrayRef<int64_t> shape =
        cast<RankedTensorType>(op->getOperand(1).getType()).getShape();
    std::vector<uint8_t> storageMask(p.selection.mask.size());
    for (int64_t r = 0; r < layer.rows; ++r)
      for (int64_t k = 0; k < layer.cols; ++k)
        storageMask[gemmToStorageIndex(shape, layer.korder, r, k)] =
            p.selection.mask[r * layer.cols + k];
    op->setAttr("sparsec.mask",
                makeArrayAttr(ctx, shape, IntegerType::get(ctx, 8),
                              layer.baseName() + ".mask",
                              std::move(storageMask)));
  }
  replaceLayerWeight(layer, std::move(p.masked), ".pruned");
  op->setAttr("weight_encoding", encoding);
  if (packed)
    op->setAttr("packed_weight", packed);
  // Set by sparsec-permute-channels: what plain selection would have kept.
  double unpermuted = p.keptSaliency;
  if (auto attr =
          op->getAttrOfType<FloatAttr>("sparsec.kept_saliency_unpermuted")) {
    unpermuted = attr.getValueAsDouble();
    op->removeAttr("sparsec.kept_saliency_unpermuted");
  }
  Builder b(ctx);
  op->setAttr(
      "sparsec.prune_stats",
      b.getDictionaryAttr(
          {b.getNamedAttr("kept_saliency", b.getF64FloatAttr(p.keptSaliency)),
           b.getNamedAttr("total_saliency", b.getF64FloatAttr(p.totalSaliency)),
           b.getNamedAttr("value_type", b.getStringAttr(valueType)),
           b.getNamedAttr("kept_saliency_unpermuted",
                          b.getF64FloatAttr(unpermuted))}));
  return success();
}

LogicalResult
pruneLayers(ModuleOp module, const LayerSelectionOptions &options,
            StringRef passName, StringRef pattern, StringRef valueType,
            bool keepMask, bool pack,
            function_ref<Selection(const SelectedLayer &)> select,
            function_ref<PruneEncoding(const SelectedLayer &)> encodingFor,
            uint64_t &numPruned, uint64_t &numSkipped) {
  std::vector<SelectedLayer> layers;
  if (failed(selectLayers(
          module, options, passName,
          [&](StringRef layerPattern) { return layerPattern == pattern; },
          layers, numSkipped, /*loadData=*/false)))
    return failure();
  LayerDataReader reader(options);
  if (std::string error = reader.open(); !error.empty())
    return module.emitError() << passName << ": " << error;
  // A few layers per thread at a time: selection is pure computation and
  // runs in parallel, and a large model never holds more than one batch of
  // saliencies and masked copies besides its weights.
  size_t batch =
      std::max<size_t>(1, 2 * size_t(module.getContext()->getNumThreads()));
  bool failedAny = false;
  for (size_t begin = 0; begin < layers.size(); begin += batch) {
    std::vector<PrunedLayer> pruned(std::min(batch, layers.size() - begin));
    for (auto [i, p] : llvm::enumerate(pruned)) {
      p.layer = std::move(layers[begin + i]);
      // Every layer's error is reported, but nothing is committed after one.
      if (std::string error = reader.read(p.layer); !error.empty()) {
        p.layer.op->emitError() << passName << ": " << error;
        failedAny = true;
      }
    }
    if (failedAny)
      continue;
    parallelForEach(module.getContext(), pruned, [&](PrunedLayer &p) {
      p.selection = select(p.layer);
      maskLayer(p, valueType);
    });
    for (PrunedLayer &p : pruned) {
      PruneEncoding target = encodingFor(p.layer);
      if (failed(commitPrunedLayer(p, target.encoding, valueType,
                                   target.metaLayout, keepMask, pack,
                                   passName)))
        return failure();
      ++numPruned;
    }
  }
  if (failedAny)
    return failure();
  eraseDeadConstants(module);
  return success();
}

} // namespace sparsec
