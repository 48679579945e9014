//===- Report.cpp - per-layer model and pruning report --------------------===//
#include "sparsec/Compiler/Report.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"

#include <cmath>

using namespace mlir;

namespace sparsec {
namespace {

/// One weight-carrying layer; byte counts follow formats.md §1.3 and §3.6.
struct LayerRow {
  std::string name, weight, kind, pattern = "dense", label = "dense",
                                  valueType = "f32", kernel;
  int64_t rows = 0, cols = 0, params = 0, kept = 0, nonZeros = -1;
  int64_t outputsPerRow = 0;
  // The encoding's own parameters (n, m, v, nnz_vec, terms, ...).
  llvm::json::Object encodingFields;
  double keptSaliency = 0, totalSaliency = 0, keptSaliencyUnpermuted = 0;
  double bytesDense = 0, bytesValues = 0, bytesMeta = 0, bytesIndices = 0;

  double bytesPacked() const { return bytesValues + bytesMeta + bytesIndices; }
  double sparsity() const { return params ? 1.0 - double(kept) / params : 0; }
  double retained() const {
    return totalSaliency > 0 ? keptSaliency / totalSaliency : 1.0;
  }
  double retainedUnpermuted() const {
    return totalSaliency > 0 ? keptSaliencyUnpermuted / totalSaliency : 1.0;
  }
  int64_t macsDense() const { return params * outputsPerRow; }
  int64_t macsSparse() const { return kept * outputsPerRow; }
};

std::string locationName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  return "?";
}

template <typename LayerOp>
LayerRow describe(LayerOp op, int64_t outputsPerRow) {
  LayerRow row;
  row.name = locationName(op.getLoc());
  if (auto w = op->template getAttrOfType<StringAttr>("sparsec.weight_name"))
    row.weight = w.str();
  row.kind = op->getName().stripDialect().str();
  row.rows = op.getNumRows();
  row.cols = op.getReductionSize();
  row.params = row.rows * row.cols;
  row.kept = row.params;
  row.outputsPerRow = outputsPerRow;
  if (auto stats =
          op->template getAttrOfType<DictionaryAttr>("sparsec.prune_stats")) {
    row.keptSaliency =
        cast<FloatAttr>(stats.get("kept_saliency")).getValueAsDouble();
    row.totalSaliency =
        cast<FloatAttr>(stats.get("total_saliency")).getValueAsDouble();
    row.valueType = cast<StringAttr>(stats.get("value_type")).str();
    row.keptSaliencyUnpermuted =
        cast<FloatAttr>(stats.get("kept_saliency_unpermuted"))
            .getValueAsDouble();
  }
  if (std::optional<WeightData> data = WeightData::getFromValue(op.getWeight()))
    row.nonZeros =
        llvm::count_if(data->values(), [](float x) { return x != 0; });
  int64_t bv = bytesPerValue(row.valueType);
  row.bytesDense = double(row.params) * bv;
  row.bytesValues = row.bytesDense;
  if (SparsityEncodingAttrInterface enc = op.getWeightEncodingAttr()) {
    row.pattern = enc.getPatternName().str();
    row.label = enc.getLabel();
    enc.describe(row.encodingFields);
    WeightFootprint footprint = enc.getFootprint(row.rows, row.cols, bv);
    row.kept = footprint.kept;
    row.bytesValues = footprint.valueBytes;
    row.bytesMeta = footprint.metaBytes;
    row.bytesIndices = footprint.indexBytes;
  }
  return row;
}

} // namespace

void writeModelReport(ModuleOp module, bool json, raw_ostream &os,
                      llvm::function_ref<std::string(Operation *)> kernelOf) {
  struct ExplicitPermute {
    std::string layer;
    int64_t axis;
    std::string reason;
  };
  std::vector<ExplicitPermute> explicitPermutes;
  module.walk([&](PermuteOp op) {
    std::string layer = "?";
    Value input = op.getInput();
    if (Operation *def = input.getDefiningOp())
      layer = locationName(def->getLoc());
    for (Operation *user : op->getUsers())
      if (isa<LinearOp, Conv2DOp>(user) && layer == "?")
        layer = locationName(user->getLoc());
    std::string reason;
    if (auto r = op->getAttrOfType<StringAttr>("sparsec.reason"))
      reason = r.str();
    explicitPermutes.push_back({layer, int64_t(op.getAxis()), reason});
  });
  std::vector<LayerRow> rows;
  module.walk([&](Operation *op) {
    if (auto linear = dyn_cast<LinearOp>(op)) {
      int64_t tokens = 1;
      for (int64_t d : linear.getInput().getType().getShape().drop_back())
        tokens *= d;
      rows.push_back(describe(linear, tokens));
    } else if (auto conv = dyn_cast<Conv2DOp>(op)) {
      auto out = conv.getResult().getType().getShape();
      rows.push_back(describe(conv, out[0] * out[2] * out[3]));
    } else {
      return;
    }
    if (kernelOf)
      rows.back().kernel = kernelOf(op);
  });
  // The kernel column only when the target said something about a layer.
  bool kernels =
      llvm::any_of(rows, [](const LayerRow &r) { return !r.kernel.empty(); });
  LayerRow total;
  total.name = "total";
  for (const LayerRow &r : rows) {
    total.params += r.params;
    total.kept += r.kept;
    total.keptSaliency += r.totalSaliency > 0 ? r.keptSaliency : 0;
    total.keptSaliencyUnpermuted +=
        r.totalSaliency > 0 ? r.keptSaliencyUnpermuted : 0;
    total.totalSaliency += r.totalSaliency;
    total.bytesDense += r.bytesDense;
    total.bytesValues += r.bytesValues;
    total.bytesMeta += r.bytesMeta;
    total.bytesIndices += r.bytesIndices;
  }
  int64_t macsDense = 0, macsSparse = 0;
  for (const LayerRow &r : rows) {
    macsDense += r.macsDense();
    macsSparse += r.macsSparse();
  }
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 1.0; };

  if (json) {
    auto toJson = [&](const LayerRow &r, int64_t md, int64_t ms) {
      llvm::json::Object o{
          {"name", r.name},
          {"params", r.params},
          {"kept", r.kept},
          {"sparsity", r.sparsity()},
          {"retained_saliency", r.retained()},
          {"retained_saliency_unpermuted", r.retainedUnpermuted()},
          {"bytes_dense", r.bytesDense},
          {"bytes_values", r.bytesValues},
          {"bytes_meta", r.bytesMeta},
          {"bytes_indices", r.bytesIndices},
          {"bytes_packed", r.bytesPacked()},
          {"compression_ratio", ratio(r.bytesDense, r.bytesPacked())},
          {"macs_dense", md},
          {"macs_sparse", ms},
          {"flop_reduction", ratio(double(md), double(ms))}};
      return o;
    };
    llvm::json::Array layers;
    for (const LayerRow &r : rows) {
      llvm::json::Object o = toJson(r, r.macsDense(), r.macsSparse());
      o["weight"] = r.weight;
      o["kind"] = r.kind;
      o["pattern"] = r.pattern;
      o["rows"] = r.rows;
      o["cols"] = r.cols;
      o["nonzeros"] = r.nonZeros;
      o["value_type"] = r.valueType;
      if (kernels)
        o["kernel"] = r.kernel;
      for (const auto &field : r.encodingFields)
        if (field.first != "korder")
          o[field.first] = field.second;
      layers.push_back(std::move(o));
    }
    llvm::json::Array permutes;
    for (auto &p : explicitPermutes)
      permutes.push_back(llvm::json::Object{
          {"layer", p.layer}, {"axis", p.axis}, {"reason", p.reason}});
    llvm::json::Object root{{"layers", std::move(layers)},
                            {"total", toJson(total, macsDense, macsSparse)},
                            {"explicit_permutes", std::move(permutes)}};
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
    return;
  }
  os << llvm::format(
      "%-28s %-6s %-6s %11s %10s %8s %9s %12s %12s %10s %6s %7s %9s", "layer",
      "kind", "format", "gemm (RxK)", "params", "sparsity", "retained",
      "bytes dense", "bytes packed", "meta+idx", "CR", "FLOPs÷", "unpermuted");
  os << (kernels ? "  kernel\n" : "\n");
  auto print = [&](const LayerRow &r, StringRef gemm, StringRef format,
                   int64_t md, int64_t ms) {
    os << llvm::format("%-28s %-6s %-6s %11s %10lld %8.4f %9.4f %12.0f %12.0f "
                       "%10.0f %6.2f %7.2f %9.4f",
                       r.name.c_str(), r.kind.c_str(), format.str().c_str(),
                       gemm.str().c_str(), (long long)r.params, r.sparsity(),
                       r.retained(), r.bytesDense, r.bytesPacked(),
                       r.bytesMeta + r.bytesIndices,
                       ratio(r.bytesDense, r.bytesPacked()),
                       ratio(double(md), double(ms)), r.retainedUnpermuted());
    os << (r.kernel.empty() ? "" : "  " + r.kernel) << "\n";
  };
  for (const LayerRow &r : rows) {
    const std::string &format = r.label;
    print(r, std::to_string(r.rows) + "x" + std::to_string(r.cols), format,
          r.macsDense(), r.macsSparse());
  }
  print(total, "", "", macsDense, macsSparse);
  for (auto &p : explicitPermutes)
    os << "explicit permute after/before layer '" << p.layer << "' (axis "
       << p.axis << "): " << p.reason << "\n";
}

} // namespace sparsec
