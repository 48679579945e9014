//===- EncodingStorage.cpp - pack, unpack and size N:M and HiNM weights ---===//
//
// The storage half of SparsityEncodingAttrInterface for the dense, N:M and
// HiNM encodings: packers, the report's footprint and describe rows, and the
// unpackers that sparsec-verify-encodings and the targets use.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Sparsity/Packing.h"

#include "mlir/IR/DialectResourceBlobManager.h"

#include <cmath>
#include <cstring>
#include <memory>

using namespace mlir;

namespace sparsec {
namespace {

template <typename T>
ElementsAttr makeResource(MLIRContext *ctx, ArrayRef<int64_t> shape,
                          Type elementType, StringRef name,
                          std::vector<T> data) {
  auto type = RankedTensorType::get(shape, elementType);
  // Small arrays stay readable in the printed IR; large ones become blobs
  // that MLIR owns without a copy.
  if (data.size() * sizeof(T) <= 256) {
    if (elementType.isInteger(8) || elementType.isInteger(1)) {
      SmallVector<APInt> ints;
      for (T x : data)
        ints.push_back(APInt(elementType.getIntOrFloatBitWidth(), uint64_t(x)));
      return DenseElementsAttr::get(type, ints);
    }
    ArrayRef<char> raw(reinterpret_cast<const char *>(data.data()),
                       data.size() * sizeof(T));
    return DenseElementsAttr::getFromRawBuffer(type, raw);
  }
  auto owned = std::make_shared<std::vector<T>>(std::move(data));
  ArrayRef<char> bytes(reinterpret_cast<const char *>(owned->data()),
                       owned->size() * sizeof(T));
  AsmResourceBlob blob(
      bytes, alignof(T),
      [owned](void *, size_t, size_t) mutable { owned.reset(); },
      /*dataIsMutable=*/false);
  return DenseResourceElementsAttr::get(type, name, std::move(blob));
}

const llvm::fltSemantics &semanticsOf(StringRef valueType) {
  return valueType == "f16" ? APFloat::IEEEhalf() : APFloat::BFloat();
}

/// Packed values as raw bits of the value type.
ElementsAttr makeValues(MLIRContext *ctx, ArrayRef<int64_t> shape,
                        StringRef valueType, StringRef name,
                        const std::vector<float> &values) {
  Builder b(ctx);
  if (valueType == "f32")
    return makeResource(ctx, shape, b.getF32Type(), name, values);
  std::vector<uint16_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    APFloat f(values[i]);
    bool lost;
    f.convert(semanticsOf(valueType), APFloat::rmNearestTiesToEven, &lost);
    bits[i] = uint16_t(f.bitcastToAPInt().getZExtValue());
  }
  Type elementType =
      valueType == "f16" ? Type(b.getF16Type()) : Type(b.getBF16Type());
  return makeResource(ctx, shape, elementType, name, std::move(bits));
}

std::vector<float> decodeValues(ElementsAttr attr, ArrayRef<char> bytes) {
  Type elt = cast<ShapedType>(attr.getType()).getElementType();
  std::vector<float> out;
  if (elt.isF32()) {
    out.resize(bytes.size() / 4);
    std::memcpy(out.data(), bytes.data(), out.size() * 4);
    return out;
  }
  const llvm::fltSemantics &sem =
      elt.isF16() ? APFloat::IEEEhalf() : APFloat::BFloat();
  out.resize(bytes.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, bytes.data() + 2 * i, 2);
    out[i] = APFloat(sem, APInt(16, bits)).convertToFloat();
  }
  return out;
}

/// The packed attribute's values and positions, decoded.
std::string readValuesAndPositions(Attribute attr, PackedWeightAttr &packed,
                                   std::vector<float> &values,
                                   std::vector<uint8_t> &positions) {
  packed = dyn_cast_or_null<PackedWeightAttr>(attr);
  if (!packed)
    return "expected a #sparsec.packed attribute";
  auto valuesRaw = RawBytes::get(packed.getValues());
  auto positionsRaw = RawBytes::get(packed.getPositions());
  if (!valuesRaw || !positionsRaw)
    return "packed arrays are not readable";
  values = decodeValues(packed.getValues(), valuesRaw->view());
  ArrayRef<char> pos = positionsRaw->view();
  positions.assign(pos.begin(), pos.end());
  return "";
}

/// Bytes of the per-value position codes (formats.md §1.3).
double positionBytes(double slots, int64_t m) {
  return slots * std::ceil(std::log2(double(m))) / 8.0;
}

} // namespace

ElementsAttr makeArrayAttr(MLIRContext *ctx, ArrayRef<int64_t> shape,
                           Type elementType, StringRef name,
                           std::vector<float> data) {
  return makeResource(ctx, shape, elementType, name, std::move(data));
}

ElementsAttr makeArrayAttr(MLIRContext *ctx, ArrayRef<int64_t> shape,
                           Type elementType, StringRef name,
                           std::vector<uint8_t> data) {
  return makeResource(ctx, shape, elementType, name, std::move(data));
}

float roundToValueType(float value, StringRef valueType) {
  if (valueType == "f32")
    return value;
  APFloat f(value);
  bool lost;
  f.convert(semanticsOf(valueType), APFloat::rmNearestTiesToEven, &lost);
  f.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
  return f.convertToFloat();
}

int64_t bytesPerValue(StringRef valueType) {
  return valueType == "f32" ? 4 : 2;
}

//===----------------------------------------------------------------------===//
// DenseEncodingAttr
//===----------------------------------------------------------------------===//

StringRef DenseEncodingAttr::getPatternName() const { return "dense"; }
std::string DenseEncodingAttr::getLabel() const { return "dense"; }
void DenseEncodingAttr::describe(llvm::json::Object &) const {}

WeightFootprint DenseEncodingAttr::getFootprint(int64_t rows, int64_t cols,
                                                int64_t valueBytes) const {
  WeightFootprint f;
  f.kept = rows * cols;
  f.valueBytes = double(rows * cols) * valueBytes;
  return f;
}

int64_t DenseEncodingAttr::getMaxNonZerosPerRow(int64_t cols) const {
  return cols;
}

std::string DenseEncodingAttr::pack(const PackRequest &, Attribute &) const {
  return "a dense weight has no packed form";
}

std::string DenseEncodingAttr::unpack(Attribute, int64_t, int64_t,
                                      std::vector<float> &) const {
  return "a dense weight has no packed form";
}

//===----------------------------------------------------------------------===//
// NMEncodingAttr
//===----------------------------------------------------------------------===//

StringRef NMEncodingAttr::getPatternName() const { return "nm"; }

std::string NMEncodingAttr::getLabel() const {
  return std::to_string(getN()) + ":" + std::to_string(getM());
}

void NMEncodingAttr::describe(llvm::json::Object &row) const {
  row["n"] = int64_t(getN());
  row["m"] = int64_t(getM());
  row["korder"] = stringifyKOrder(getKorder()).str();
}

WeightFootprint NMEncodingAttr::getFootprint(int64_t rows, int64_t cols,
                                             int64_t valueBytes) const {
  int64_t n = getN(), m = getM(), groups = (cols + m - 1) / m;
  WeightFootprint f;
  for (int64_t q = 0; q < groups; ++q)
    f.kept += std::min<int64_t>(n, cols - q * m) * rows;
  double slots = double(rows) * groups * n;
  f.valueBytes = slots * valueBytes;
  f.metaBytes = positionBytes(slots, m);
  return f;
}

int64_t NMEncodingAttr::getMaxNonZerosPerRow(int64_t cols) const {
  int64_t m = getM();
  return (cols + m - 1) / m * getN();
}

std::string NMEncodingAttr::pack(const PackRequest &request,
                                 Attribute &result) const {
  NMPacked nm;
  if (std::string error =
          packNM(request.values.data(), request.mask.data(), request.rows,
                 request.cols, getN(), getM(), nm);
      !error.empty())
    return error;
  MLIRContext *ctx = getContext();
  Builder b(ctx);
  SmallVector<int64_t> slots = {request.rows, nm.groups * int64_t(getN())};
  ElementsAttr meta;
  if (!nm.meta.empty())
    meta = makeResource(ctx, {int64_t(nm.meta.size())},
                        b.getIntegerType(32, /*isSigned=*/false),
                        request.name + ".meta", std::move(nm.meta));
  result = PackedWeightAttr::get(
      ctx,
      makeValues(ctx, slots, request.valueType, request.name + ".values",
                 nm.values),
      makeResource(ctx, slots, b.getIntegerType(8, /*isSigned=*/false),
                   request.name + ".pos", std::move(nm.pos)),
      nullptr, meta, MetaLayout::meta32);
  return "";
}

std::string NMEncodingAttr::unpack(Attribute attr, int64_t rows, int64_t cols,
                                   std::vector<float> &dense) const {
  PackedWeightAttr p;
  NMPacked packed;
  if (std::string error =
          readValuesAndPositions(attr, p, packed.values, packed.pos);
      !error.empty())
    return error;
  packed.rows = rows;
  packed.cols = cols;
  packed.n = getN();
  packed.m = getM();
  packed.groups = (cols + packed.m - 1) / packed.m;
  if (int64_t(packed.values.size()) != rows * packed.groups * packed.n ||
      packed.pos.size() != packed.values.size())
    return "packed N:M arrays have the wrong size";
  for (uint8_t position : packed.pos)
    if (position >= packed.m)
      return "packed N:M positions hold a value outside [0, M)";
  dense = unpackNM(packed);
  return "";
}

//===----------------------------------------------------------------------===//
// HiNMEncodingAttr
//===----------------------------------------------------------------------===//

StringRef HiNMEncodingAttr::getPatternName() const { return "hinm"; }

std::string HiNMEncodingAttr::getLabel() const {
  return "hinm" + std::to_string(getV());
}

void HiNMEncodingAttr::describe(llvm::json::Object &row) const {
  row["n"] = int64_t(getN());
  row["m"] = int64_t(getM());
  row["v"] = int64_t(getV());
  row["nnz_vec"] = int64_t(getKept());
  row["korder"] = stringifyKOrder(getKorder()).str();
}

WeightFootprint HiNMEncodingAttr::getFootprint(int64_t rows, int64_t cols,
                                               int64_t valueBytes) const {
  int64_t v = getV(), n = getN(), m = getM(), kept = getKept();
  int64_t tiles = (rows + v - 1) / v, keptWidth = (kept + 31) / 32 * 32;
  double slots = double(tiles * v) * keptWidth * n / m;
  WeightFootprint f;
  f.kept = rows * kept * n / m;
  f.valueBytes = slots * valueBytes;
  f.metaBytes = positionBytes(slots, m);
  f.indexBytes = double(tiles) * keptWidth * (cols <= 65536 ? 2 : 4);
  return f;
}

int64_t HiNMEncodingAttr::getMaxNonZerosPerRow(int64_t) const {
  return int64_t(getKept()) * getN() / getM();
}

std::string HiNMEncodingAttr::pack(const PackRequest &request,
                                   Attribute &result) const {
  HiNMPacked h;
  MetaWordLayout layout = request.metaLayout == MetaLayout::meta16
                              ? MetaWordLayout::Meta16
                              : MetaWordLayout::Meta32;
  std::vector<std::vector<int64_t>> tiles(request.tileColumns.begin(),
                                          request.tileColumns.end());
  if (std::string error =
          packHiNM(request.values.data(), request.mask.data(), request.rows,
                   request.cols, getV(), getN(), getM(), tiles, layout, h);
      !error.empty())
    return error;
  MLIRContext *ctx = getContext();
  Builder b(ctx);
  SmallVector<int64_t> slots = {h.tiles * int64_t(getV()),
                                h.keptWidth * int64_t(getN()) / getM()};
  ElementsAttr colIdx;
  if (request.cols > 65536) {
    colIdx = makeResource(ctx, {h.tiles, h.keptWidth},
                          b.getIntegerType(32, /*isSigned=*/false),
                          request.name + ".col_idx", std::move(h.colIdx));
  } else {
    std::vector<uint16_t> narrow(h.colIdx.begin(), h.colIdx.end());
    colIdx = makeResource(ctx, {h.tiles, h.keptWidth},
                          b.getIntegerType(16, /*isSigned=*/false),
                          request.name + ".col_idx", std::move(narrow));
  }
  ElementsAttr meta;
  if (!h.meta.empty())
    meta = makeResource(ctx, {int64_t(h.meta.size())},
                        b.getIntegerType(32, /*isSigned=*/false),
                        request.name + ".meta", std::move(h.meta));
  result = PackedWeightAttr::get(
      ctx,
      makeValues(ctx, slots, request.valueType, request.name + ".values",
                 h.values),
      makeResource(ctx, slots, b.getIntegerType(8, /*isSigned=*/false),
                   request.name + ".pos", std::move(h.pos)),
      colIdx, meta, request.metaLayout);
  return "";
}

std::string HiNMEncodingAttr::unpack(Attribute attr, int64_t rows, int64_t cols,
                                     std::vector<float> &dense) const {
  PackedWeightAttr p;
  HiNMPacked packed;
  if (std::string error =
          readValuesAndPositions(attr, p, packed.values, packed.pos);
      !error.empty())
    return error;
  std::optional<std::vector<uint32_t>> colIdx = readIndexArray(p.getColIdx());
  if (!colIdx)
    return "packed HiNM weight has no readable col_idx";
  packed.rows = rows;
  packed.cols = cols;
  packed.v = getV();
  packed.nnzVec = getKept();
  packed.n = getN();
  packed.m = getM();
  packed.tiles = (rows + packed.v - 1) / packed.v;
  packed.keptWidth = (packed.nnzVec + 31) / 32 * 32;
  packed.colIdx = std::move(*colIdx);
  int64_t slots =
      packed.tiles * packed.v * packed.keptWidth * packed.n / packed.m;
  if (int64_t(packed.values.size()) != slots ||
      packed.pos.size() != packed.values.size() ||
      int64_t(packed.colIdx.size()) != packed.tiles * packed.keptWidth)
    return "packed HiNM arrays have the wrong size";
  for (uint32_t c : packed.colIdx)
    if (c >= uint32_t(cols))
      return "packed HiNM col_idx holds a column outside K";
  for (uint8_t position : packed.pos)
    if (position >= packed.m)
      return "packed HiNM positions hold a value outside [0, M)";
  dense = unpackHiNM(packed);
  return "";
}

} // namespace sparsec
