//===- PackedIO.cpp - read and write packed layer weights -----------------===//
#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Sparsity/Packing.h"
#include "sparsec/Support/Npy.h"

#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;

namespace sparsec {

std::optional<RawBytes> RawBytes::get(ElementsAttr attr) {
  RawBytes result;
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = resource.getRawHandle().getBlob();
    if (!blob)
      return std::nullopt;
    result.borrowed = blob->getData();
    return result;
  }
  auto dense = dyn_cast<DenseElementsAttr>(attr);
  if (!dense)
    return std::nullopt;
  ArrayRef<char> raw = dense.getRawData();
  if (!dense.isSplat()) {
    result.borrowed = raw;
    return result;
  }
  Type elt = dense.getElementType();
  if (elt.isInteger(1))
    return std::nullopt;
  size_t width = elt.getIntOrFloatBitWidth() / 8;
  for (int64_t i = 0, e = dense.getNumElements(); i < e; ++i)
    result.owned.insert(result.owned.end(), raw.begin(), raw.begin() + width);
  return result;
}

namespace {

template <typename T> std::vector<T> decodeInts(ArrayRef<char> bytes) {
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

std::vector<uint32_t> decodeIndices(ElementsAttr attr, ArrayRef<char> bytes) {
  if (cast<ShapedType>(attr.getType())
          .getElementType()
          .getIntOrFloatBitWidth() == 16) {
    std::vector<uint16_t> narrow = decodeInts<uint16_t>(bytes);
    return std::vector<uint32_t>(narrow.begin(), narrow.end());
  }
  return decodeInts<uint32_t>(bytes);
}

struct LayerInfo {
  int64_t rows, cols;
  SparsityEncodingAttrInterface encoding;
  PackedWeightAttr packed;
};

std::optional<LayerInfo> layerInfo(Operation *op) {
  if (auto linear = dyn_cast<LinearOp>(op))
    return LayerInfo{linear.getNumRows(), linear.getReductionSize(),
                     linear.getWeightEncodingAttr(),
                     linear.getPackedWeightAttr()};
  if (auto conv = dyn_cast<Conv2DOp>(op))
    return LayerInfo{conv.getNumRows(), conv.getReductionSize(),
                     conv.getWeightEncodingAttr(), conv.getPackedWeightAttr()};
  return std::nullopt;
}

} // namespace

std::optional<std::vector<uint32_t>> readIndexArray(ElementsAttr attr) {
  std::optional<RawBytes> raw = attr ? RawBytes::get(attr) : std::nullopt;
  if (!raw)
    return std::nullopt;
  return decodeIndices(attr, raw->view());
}

std::string unpackLayerWeight(Operation *layer, std::vector<float> &dense) {
  std::optional<LayerInfo> info = layerInfo(layer);
  if (!info || !info->packed)
    return "layer has no packed weight";
  if (!info->encoding)
    return "packed weight without a weight_encoding";
  return info->encoding.unpack(info->packed, info->rows, info->cols, dense);
}

namespace {

std::string layerLocName(Operation *op) {
  if (auto loc = dyn_cast<NameLoc>(op->getLoc()))
    return loc.getName().str();
  return "";
}

/// Checks every layer before anything is written, so that a bad layer
/// leaves no partial directory behind.
std::string checkPackedLayers(ModuleOp module) {
  std::string error;
  module.walk([&](Operation *op) {
    std::optional<LayerInfo> info = layerInfo(op);
    if (!info || !error.empty())
      return;
    std::string name = layerLocName(op);
    if (op->hasAttr("weight_parts")) {
      error = "layer '" + name + "': its " +
              info->encoding.getPatternName().str() +
              " weight has no single packed form; packed export supports N:M "
              "and HiNM weights";
      return;
    }
    if (!info->packed)
      return;
    // Never write arrays a consumer would misread: the encoding checks
    // sizes, index ranges and the 2:4 metadata against the positions.
    std::vector<float> dense;
    if (std::string invalid =
            info->encoding.unpack(info->packed, info->rows, info->cols, dense);
        !invalid.empty())
      error = "layer '" + name + "': invalid packed weight: " + invalid;
  });
  return error;
}

} // namespace

std::string writePackedWeights(ModuleOp module, StringRef dir) {
  if (std::string error = checkPackedLayers(module); !error.empty())
    return error;
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return "cannot create '" + dir.str() + "': " + ec.message();
  llvm::json::Array layers;
  std::string error;
  int index = 0;
  module.walk([&](Operation *op) {
    std::optional<LayerInfo> info = layerInfo(op);
    if (!info || !info->packed || !error.empty())
      return;
    std::string name = layerLocName(op);
    std::string stem = std::to_string(index++) + "_";
    for (char c : name)
      stem.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    llvm::json::Object files;
    auto writeArray = [&](StringRef key, ElementsAttr attr) {
      if (!attr || !error.empty())
        return;
      auto raw = RawBytes::get(attr);
      if (!raw) {
        error =
            "layer '" + name + "': packed " + key.str() + " is not readable";
        return;
      }
      auto type = cast<ShapedType>(attr.getType());
      Type elt = type.getElementType();
      NpyArray array;
      array.shape.assign(type.getShape().begin(), type.getShape().end());
      unsigned width = elt.getIntOrFloatBitWidth();
      array.dtype = elt.isF32()   ? "<f4"
                    : elt.isF16() ? "<f2"
                    : width == 8  ? "|u1"
                    : width == 16 ? "<u2"
                                  : "<u4";
      ArrayRef<char> bytes = raw->view();
      array.data.assign(bytes.begin(), bytes.end());
      std::string file = stem + "." + key.str() + ".npy";
      std::string err = writeNpy((dir + "/" + file).str(), array);
      if (!err.empty())
        error = err;
      files[key] = file;
    };
    PackedWeightAttr p = info->packed;
    writeArray("values", p.getValues());
    writeArray("pos", p.getPositions());
    writeArray("col_idx", p.getColIdx());
    writeArray("meta", p.getMeta());
    Type valueType = cast<ShapedType>(p.getValues().getType()).getElementType();
    llvm::json::Object layer{
        {"name", name},
        {"kind", op->getName().stripDialect().str()},
        {"rows", info->rows},
        {"cols", info->cols},
        {"value_type", valueType.isF32()   ? "f32"
                       : valueType.isF16() ? "f16"
                                           : "bf16"},
        {"meta_layout", stringifyMetaLayout(p.getMetaLayout()).str()},
        {"transposed", op->hasAttr("sparsec.weight_transposed")},
        {"files", std::move(files)}};
    if (auto w = op->getAttrOfType<StringAttr>("sparsec.weight_name"))
      layer["weight"] = w.str();
    if (info->encoding) {
      layer["format"] = info->encoding.getPatternName().str();
      info->encoding.describe(layer);
    }
    layers.push_back(std::move(layer));
  });
  if (!error.empty())
    return error;
  std::error_code ec;
  llvm::raw_fd_ostream os((dir + "/manifest.json").str(), ec);
  if (ec)
    return "cannot write manifest: " + ec.message();
  os << llvm::formatv(
            "{0:2}", llvm::json::Value(llvm::json::Object{
                         {"format_version", 1}, {"layers", std::move(layers)}}))
     << "\n";
  return "";
}

} // namespace sparsec
