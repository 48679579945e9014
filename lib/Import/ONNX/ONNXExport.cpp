//===- ONNXExport.cpp - write pruned weights back to ONNX -----------------===//
#include "sparsec/Import/ONNXExport.h"
#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"
#include "sparsec/Import/ONNXLoader.h"
#include "sparsec/Support/Transpose.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"

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
  transposeMatrix(reinterpret_cast<const char *>(data.data()),
                  reinterpret_cast<char *>(out.data()), rows, cols, sizeof(T));
  return out;
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
/// The pruned values of layer `op` (and its mask, if recorded) in the
/// initializer's own layout and coordinates.
std::string prunedWeight(Operation *op, const std::string &name,
                         PrunedWeight &w) {
  Value weight = op->getOperand(1);
  std::optional<WeightData> data = WeightData::getFromValue(weight);
  if (!data)
    return "pruned weight '" + name + "' is not a constant";
  auto shape = cast<RankedTensorType>(weight.getType()).getShape();
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
    std::vector<float> ov(values.size()), om(mask.size());
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
          ov[to] = values[from];
          if (!mask.empty())
            om[to] = mask[from];
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
  return "";
}

/// Appends tensors' bytes to `<output>.data` and points them there, one tensor
/// at a time, so that exporting a model never holds more than one of its
/// weights beyond what the module already holds.
class ExternalDataWriter {
public:
  ExternalDataWriter(const std::string &outputPath)
      : path(outputPath + ".data") {
    size_t slash = path.find_last_of('/');
    location = slash == std::string::npos ? path : path.substr(slash + 1);
  }
  /// A data file that was opened but not kept (an export that failed
  /// half-way) is removed: no stale weights next to a model never written.
  ~ExternalDataWriter() {
    if (opened && !kept) {
      out.close();
      llvm::sys::fs::remove(path);
    }
  }
  const std::string &getPath() const { return path; }

  std::string open() {
    out.open(path, std::ios::binary | std::ios::trunc);
    opened = true;
    return out ? "" : "cannot write '" + path + "'";
  }
  void keep() { kept = true; }

  /// Writes `bytes` (64-byte aligned, as onnx's own writer does for mmap)
  /// and makes `t` refer to them.
  std::string write(onnx::TensorProto &t, llvm::StringRef bytes) {
    if (std::string e = pad(); !e.empty())
      return e;
    int64_t offset = size;
    if (!out.write(bytes.data(), bytes.size()))
      return "cannot write '" + path + "'";
    size += bytes.size();
    refer(t, offset, bytes.size());
    return "";
  }

  /// Copies `length` bytes at `offset` of file `from` in chunks.
  std::string copy(onnx::TensorProto &t, const std::string &from,
                   int64_t offset, int64_t length) {
    if (std::string e = pad(); !e.empty())
      return e;
    std::ifstream in(from, std::ios::binary);
    if (!in || !in.seekg(offset))
      return "cannot read '" + from + "'";
    int64_t start = size;
    std::vector<char> chunk(std::min<int64_t>(length, int64_t(8) << 20));
    for (int64_t left = length; left > 0;) {
      int64_t n = std::min<int64_t>(left, chunk.size());
      if (!in.read(chunk.data(), n))
        return "cannot read " + std::to_string(length) + " bytes at offset " +
               std::to_string(offset) + " of '" + from + "'";
      if (!out.write(chunk.data(), n))
        return "cannot write '" + path + "'";
      left -= n;
    }
    size += length;
    refer(t, start, length);
    return "";
  }

  std::string close() {
    out.close();
    return out ? "" : "cannot write '" + path + "'";
  }

private:
  std::string pad() {
    static const char zeros[64] = {};
    int64_t padding = (64 - size % 64) % 64;
    if (!out.write(zeros, padding))
      return "cannot write '" + path + "'";
    size += padding;
    return "";
  }
  void refer(onnx::TensorProto &t, int64_t offset, int64_t length) {
    t.clear_raw_data();
    t.clear_float_data();
    t.clear_int32_data();
    t.clear_int64_data();
    t.clear_double_data();
    t.clear_external_data();
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char *key, const std::string &value) {
      onnx::StringStringEntryProto *entry = t.add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    };
    add("location", location);
    add("offset", std::to_string(offset));
    add("length", std::to_string(length));
  }

  std::string path, location;
  std::ofstream out;
  int64_t size = 0;
  bool opened = false, kept = false;
};

} // namespace

std::string exportPrunedONNX(ModuleOp module, StringRef inputPath,
                             StringRef outputPath, bool withMasks) {
  // Pruned layers by initializer name; their values are produced one at a
  // time while writing.
  std::map<std::string, Operation *> pruned;
  std::string error;
  module.walk([&](Operation *op) {
    if (!isa<LinearOp, Conv2DOp>(op))
      return;
    auto name = op->getAttrOfType<StringAttr>("sparsec.weight_name");
    if (name && op->hasAttr("weight_encoding"))
      pruned[name.str()] = op;
  });
  if (withMasks)
    for (auto &[name, op] : pruned)
      if (!op->hasAttr("sparsec.mask"))
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
  // A model whose weights live in external data is written the same way: its
  // weights to <output>.data, whatever their size (protobuf stops at 2 GB).
  bool external = llvm::any_of(graph->initializer(), [](const auto &t) {
    return t.data_location() == onnx::TensorProto::EXTERNAL;
  });
  ExternalDataWriter writer(outputPath.str());
  if (external) {
    for (const onnx::TensorProto &t : graph->initializer()) {
      ExternalDataRef ref;
      if (t.data_location() == onnx::TensorProto::EXTERNAL &&
          getExternalData(t, dir, ref).empty() &&
          llvm::sys::fs::equivalent(ref.path, writer.getPath()))
        return "--export-onnx: '" + writer.getPath() +
               "' would overwrite the external data of '" + inputPath.str() +
               "' while it is read; choose another output name";
    }
    if (std::string e = writer.open(); !e.empty())
      return e;
  }
  size_t totalBytes = 0;
  std::vector<onnx::TensorProto> masks;
  for (onnx::TensorProto &t : *graph->mutable_initializer()) {
    auto it = pruned.find(t.name());
    if (it == pruned.end()) {
      if (t.data_location() == onnx::TensorProto::EXTERNAL) {
        // The loader checked the range; it is checked again here against
        // the file as it is now.
        ExternalDataRef ref;
        error = getExternalData(t, dir, ref);
        if (!error.empty())
          return error;
        int64_t count = onnxElementCount(t, error);
        int64_t length = count * onnxElementByteSize(t.data_type());
        if (count < 0 || (length == 0 && count != 0) ||
            length > ref.fileSize - ref.offset)
          return "tensor '" + t.name() + "': " +
                 (count < 0 ? error : "external data does not match its dims");
        error = writer.copy(t, ref.path, ref.offset, length);
        if (!error.empty())
          return "tensor '" + t.name() + "': " + error;
      }
      totalBytes += t.ByteSizeLong();
      continue;
    }
    PrunedWeight w;
    error = prunedWeight(it->second, it->first, w);
    if (!error.empty())
      return error;
    int64_t count = 1;
    for (int64_t d : t.dims())
      count *= d;
    if (count != int64_t(w.values.size()))
      return "initializer '" + t.name() + "' does not match its pruned weight";
    // The pruned values in the initializer's own type: a float16, bfloat16
    // or float64 checkpoint stays one (its Cast to f32 is still there).
    int32_t type = t.data_type();
    std::string raw = encodeAs(type, w.values);
    w.values = {};
    t.set_data_type(type);
    onnx::TensorProto mask;
    llvm::StringRef maskBytes(reinterpret_cast<const char *>(w.mask.data()),
                              w.mask.size() * sizeof(float));
    if (withMasks) {
      mask.set_name(t.name() + ".mask");
      mask.set_data_type(onnx::TensorProto::FLOAT);
      *mask.mutable_dims() = t.dims();
    }
    if (external) {
      error = writer.write(t, raw);
      if (error.empty() && withMasks)
        error = writer.write(mask, maskBytes);
      if (!error.empty())
        return error;
    } else {
      t.clear_float_data();
      t.clear_int32_data();
      t.clear_double_data();
      t.set_raw_data(std::move(raw));
      if (withMasks)
        mask.set_raw_data(maskBytes.str());
    }
    totalBytes += t.ByteSizeLong();
    if (withMasks) {
      totalBytes += mask.ByteSizeLong();
      masks.push_back(std::move(mask));
    }
    pruned.erase(it);
  }
  if (!pruned.empty())
    return "pruned weight '" + pruned.begin()->first +
           "' is not an initializer of '" + inputPath.str() + "'";
  if (external)
    if (std::string e = writer.close(); !e.empty())
      return e;
  if (totalBytes > (size_t(1) << 31) - (size_t(64) << 20))
    return "the exported model would exceed protobuf's 2 GB limit (store the "
           "input's weights as external data to export them that way)";
  for (onnx::TensorProto &mask : masks)
    *graph->add_initializer() = std::move(mask);
  std::ofstream out(outputPath.str(), std::ios::binary | std::ios::trunc);
  if (!out || !model.SerializeToOstream(&out)) {
    out.close();
    llvm::sys::fs::remove(outputPath);
    return "cannot write '" + outputPath.str() + "'";
  }
  writer.keep();
  return "";
}

} // namespace sparsec
