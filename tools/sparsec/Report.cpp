//===- Report.cpp - model summary report ----------------------------------===//
#include "Report.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"

using namespace mlir;

namespace sparsec {
namespace {

struct LayerRow {
  std::string name, kind, encoding;
  int64_t rows = 0, cols = 0, params = 0, nonZeros = -1, macs = 0;
};

std::string locationName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location l : fused.getLocations())
      if (auto name = dyn_cast<NameLoc>(l))
        return name.getName().str();
  return "?";
}

template <typename LayerOp> LayerRow describe(LayerOp op, int64_t outputsPerRow) {
  LayerRow row;
  row.name = locationName(op.getLoc());
  row.kind = op->getName().stripDialect().str();
  row.rows = op.getNumRows();
  row.cols = op.getReductionSize();
  row.params = row.rows * row.cols;
  if (auto enc = op.getWeightEncodingAttr()) {
    llvm::raw_string_ostream os(row.encoding);
    enc.print(os);
  } else {
    row.encoding = "none";
  }
  if (std::optional<WeightData> data = WeightData::getFromValue(op.getWeight()))
    row.nonZeros = llvm::count_if(data->values(), [](float v) { return v != 0; });
  int64_t kept = row.nonZeros >= 0 ? row.nonZeros : row.params;
  row.macs = kept * outputsPerRow;
  return row;
}

} // namespace

void writeModelReport(ModuleOp module, bool json, raw_ostream &os) {
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
    }
  });
  int64_t params = 0, nonZeros = 0, macs = 0;
  for (const LayerRow &r : rows) {
    params += r.params;
    nonZeros += r.nonZeros >= 0 ? r.nonZeros : r.params;
    macs += r.macs;
  }
  if (json) {
    llvm::json::Array layers;
    for (const LayerRow &r : rows)
      layers.push_back(llvm::json::Object{{"name", r.name},
                                          {"kind", r.kind},
                                          {"rows", r.rows},
                                          {"cols", r.cols},
                                          {"params", r.params},
                                          {"nonzeros", r.nonZeros},
                                          {"encoding", r.encoding},
                                          {"macs", r.macs}});
    llvm::json::Object root{{"layers", std::move(layers)},
                            {"total_params", params},
                            {"total_nonzeros", nonZeros},
                            {"total_macs", macs}};
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
    return;
  }
  os << llvm::format("%-32s %-7s %13s %11s %9s %14s  %s\n", "layer", "kind",
                     "gemm (RxK)", "params", "density", "MACs", "encoding");
  for (const LayerRow &r : rows) {
    std::string gemm = std::to_string(r.rows) + "x" + std::to_string(r.cols);
    double density = r.nonZeros >= 0 ? double(r.nonZeros) / r.params : 1.0;
    os << llvm::format("%-32s %-7s %13s %11lld %9.4f %14lld  %s\n",
                       r.name.c_str(), r.kind.c_str(), gemm.c_str(),
                       (long long)r.params, density, (long long)r.macs,
                       r.encoding.c_str());
  }
  os << llvm::format("%-32s %-7s %13s %11lld %9.4f %14lld\n", "total", "", "",
                     (long long)params,
                     params ? double(nonZeros) / params : 1.0, (long long)macs);
}

} // namespace sparsec
