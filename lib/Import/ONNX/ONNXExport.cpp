//===- ONNXExport.cpp - write pruned weights back to ONNX -----------------===//
#include "sparsec/Import/ONNXExport.h"
#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"
#include "sparsec/Import/ONNXLoader.h"
#include "llvm/ADT/APFloat.h"

#include "onnx/onnx_pb.h"

#include <cstring>
#include <fstream>
#include <map>

using namespace mlir;

namespace sparsec {
namespace {

struct PrunedWeight {
  std::vector<float> values; // in the initializer's layout
  std::vector<float> mask;   // empty unless recorded
};

/// Converts an R x K GEMM-ordered buffer back to the initializer's [K, R].
template <typename T>
std::vector<T> transposeBack(ArrayRef<T> data, int64_t rows, int64_t cols) {
  std::vector<T> out(data.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k)
      out[k * rows + r] = data[r * cols + k];
  return out;
}

std::string inlineExternalData(onnx::TensorProto &t, const std::string &dir) {
  // The loader checked the range; it is read again here from the file as it
  // is now, with every size checked before use.
  ExternalDataRef ref;
  std::string error = getExternalData(t, dir, ref);
  if (!error.empty())
    return error;
  // Exactly the bytes the dims need (the loader checked that the file holds
  // them), not the rest of the file when no length is given.
  int64_t count = onnxElementCount(t, error);
  int64_t length = count * onnxElementByteSize(t.data_type());
  if (count < 0 || (length == 0 && count != 0) ||
      length > ref.fileSize - ref.offset)
    return "tensor '" + t.name() + "': " +
           (count < 0 ? error : "external data does not match its dims");
  std::ifstream in(ref.path, std::ios::binary);
  std::string bytes(size_t(length), '\0');
  if (!in.seekg(ref.offset) || !in.read(bytes.data(), length))
    return "tensor '" + t.name() + "': cannot read " + std::to_string(length) +
           " bytes at offset " + std::to_string(ref.offset) + " of '" +
           ref.location + "'";
  t.clear_external_data();
  t.set_data_location(onnx::TensorProto::DEFAULT);
  t.set_raw_data(std::move(bytes));
  return "";
}

/// `values` as raw data of ONNX type `type` (float, float16, bfloat16 or
/// float64; round to nearest even); anything else is written as float.
std::string encodeAs(int32_t &type, const std::vector<float> &values) {
  std::string raw;
  if (type == onnx::TensorProto::FLOAT16 ||
      type == onnx::TensorProto::BFLOAT16) {
    const llvm::fltSemantics &sem = type == onnx::TensorProto::FLOAT16
                                        ? llvm::APFloat::IEEEhalf()
                                        : llvm::APFloat::BFloat();
    for (float v : values) {
      llvm::APFloat f(v);
      bool lost;
      f.convert(sem, llvm::APFloat::rmNearestTiesToEven, &lost);
      uint16_t bits = uint16_t(f.bitcastToAPInt().getZExtValue());
      raw.append(reinterpret_cast<const char *>(&bits), 2);
    }
    return raw;
  }
  if (type == onnx::TensorProto::DOUBLE) {
    for (float v : values) {
      double d = v;
      raw.append(reinterpret_cast<const char *>(&d), 8);
    }
    return raw;
  }
  type = onnx::TensorProto::FLOAT;
  return std::string(reinterpret_cast<const char *>(values.data()),
                     values.size() * sizeof(float));
}

} // namespace

std::string exportPrunedONNX(ModuleOp module, StringRef inputPath,
                             StringRef outputPath, bool withMasks) {
  std::map<std::string, PrunedWeight> pruned;
  std::string error;
  module.walk([&](Operation *op) {
    if (!isa<LinearOp, Conv2DOp>(op) || !error.empty())
      return;
    auto name = op->getAttrOfType<StringAttr>("sparsec.weight_name");
    if (!name || !op->hasAttr("weight_encoding"))
      return;
    Value weight = op->getOperand(1);
    std::optional<WeightData> data = WeightData::getFromValue(weight);
    if (!data) {
      error = "pruned weight '" + name.str() + "' is not a constant";
      return;
    }
    auto shape = cast<RankedTensorType>(weight.getType()).getShape();
    PrunedWeight w;
    ArrayRef<float> values = data->values();
    std::vector<float> permutedStorage;
    std::vector<float> mask;
    if (auto maskAttr = op->getAttrOfType<ElementsAttr>("sparsec.mask")) {
      if (std::optional<RawBytes> bytes = RawBytes::get(maskAttr))
        for (char c : bytes->view())
          mask.push_back(c ? 1.0f : 0.0f);
    }
    // Undo channel permutations: export in the model's own coordinates.
    auto rowPerm = op->getAttrOfType<DenseI64ArrayAttr>("sparsec.row_perm");
    auto colPerm = op->getAttrOfType<DenseI64ArrayAttr>("sparsec.col_perm");
    if (rowPerm || colPerm) {
      std::vector<float> v(values.begin(), values.end()), mk = mask;
      std::vector<float> ov(v.size()), om(mk.size());
      int64_t rows = shape[0], channels = shape[1];
      int64_t inner = 1;
      for (size_t d = 2; d < shape.size(); ++d)
        inner *= shape[d];
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t i = 0; i < inner; ++i) {
            int64_t from = (r * channels + c) * inner + i;
            int64_t origRow = rowPerm ? rowPerm[r] : r;
            int64_t origCol = colPerm ? colPerm[c] : c;
            int64_t to = (origRow * channels + origCol) * inner + i;
            ov[to] = v[from];
            if (!mk.empty())
              om[to] = mk[from];
          }
      permutedStorage = std::move(ov);
      values = permutedStorage;
      if (!mask.empty())
        mask = std::move(om);
    }
    if (op->hasAttr("sparsec.weight_transposed")) {
      w.values = transposeBack(values, shape[0], shape[1]);
      if (!mask.empty())
        w.mask = transposeBack(ArrayRef<float>(mask), shape[0], shape[1]);
    } else {
      w.values.assign(values.begin(), values.end());
      w.mask = std::move(mask);
    }
    pruned[name.str()] = std::move(w);
  });
  if (!error.empty())
    return error;
  if (withMasks)
    for (auto &[name, w] : pruned)
      if (w.mask.empty())
        return "no mask recorded for '" + name + "'";

  onnx::ModelProto model;
  ONNXLoadOptions options;
  options.runChecker = false;
  options.runShapeInference = false;
  error = loadONNXModel(inputPath.str(), model, options);
  if (!error.empty())
    return error;
  std::string dir = inputPath.str();
  size_t slash = dir.find_last_of('/');
  dir = slash == std::string::npos ? "." : dir.substr(0, slash);

  onnx::GraphProto *graph = model.mutable_graph();
  size_t totalBytes = 0;
  std::vector<onnx::TensorProto> masks;
  for (onnx::TensorProto &t : *graph->mutable_initializer()) {
    auto it = pruned.find(t.name());
    if (it == pruned.end()) {
      if (t.data_location() == onnx::TensorProto::EXTERNAL) {
        error = inlineExternalData(t, dir);
        if (!error.empty())
          return error;
      }
      totalBytes += t.ByteSizeLong();
      continue;
    }
    const PrunedWeight &w = it->second;
    int64_t count = 1;
    for (int64_t d : t.dims())
      count *= d;
    if (count != int64_t(w.values.size()))
      return "initializer '" + t.name() + "' does not match its pruned weight";
    t.clear_float_data();
    t.clear_int32_data();
    t.clear_double_data();
    t.clear_external_data();
    t.set_data_location(onnx::TensorProto::DEFAULT);
    // The pruned values in the initializer's own type: a float16, bfloat16
    // or float64 checkpoint stays one (its Cast to f32 is still there).
    int32_t type = t.data_type();
    t.set_raw_data(encodeAs(type, w.values));
    t.set_data_type(type);
    totalBytes += t.raw_data().size();
    if (withMasks) {
      onnx::TensorProto mask;
      mask.set_name(t.name() + ".mask");
      mask.set_data_type(onnx::TensorProto::FLOAT);
      *mask.mutable_dims() = t.dims();
      mask.set_raw_data(
          std::string(reinterpret_cast<const char *>(w.mask.data()),
                      w.mask.size() * sizeof(float)));
      totalBytes += mask.raw_data().size();
      masks.push_back(std::move(mask));
    }
    pruned.erase(it);
  }
  if (!pruned.empty())
    return "pruned weight '" + pruned.begin()->first +
           "' is not an initializer of '" + inputPath.str() + "'";
  if (totalBytes > (size_t(1) << 31) - (size_t(64) << 20))
    return "the exported model would exceed protobuf's 2 GB limit";
  for (onnx::TensorProto &mask : masks)
    *graph->add_initializer() = std::move(mask);
  std::ofstream out(outputPath.str(), std::ios::binary | std::ios::trunc);
  if (!out || !model.SerializeToOstream(&out))
    return "cannot write '" + outputPath.str() + "'";
  return "";
}

} // namespace sparsec
