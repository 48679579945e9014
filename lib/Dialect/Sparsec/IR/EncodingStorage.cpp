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

/// Checks one packed array's shape and element type; "" or the error.
std::string checkArray(ElementsAttr attr, StringRef what,
                       ArrayRef<int64_t> shape, bool isFloat,
                       ArrayRef<unsigned> widths) {
  if (!attr)
    return std::string("packed ") + what.str() + " is missing";
  auto type = cast<ShapedType>(attr.getType());
  Type elt = type.getElementType();
  bool typeOk =
      isFloat ? (elt.isF32() || elt.isF16() || elt.isBF16())
              : elt.isInteger() &&
                    llvm::is_contained(widths, elt.getIntOrFloatBitWidth());
  auto shapeText = [](ArrayRef<int64_t> dims) {
    std::string text;
    for (int64_t d : dims)
      text += (text.empty() ? "" : "x") + std::to_string(d);
    return text;
  };
  if (type.getShape() != shape || !typeOk)
    return "packed " + what.str() + " must be " + shapeText(shape) +
           (isFloat ? " f32/f16/bf16" : " unsigned integers") + ", got " +
           shapeText(type.getShape());
  return "";
}

/// Positions must lie in [0, M). Unreadable data (a blob not loaded yet, or
/// elided) is left to unpack, which needs it.
std::string checkPositions(ElementsAttr attr, int64_t m) {
  std::optional<RawBytes> raw = RawBytes::get(attr);
  if (!raw)
    return "";
  for (char c : raw->view())
    if (uint8_t(c) >= m)
      return "packed positions hold " + std::to_string(uint8_t(c)) +
             ", outside [0, " + std::to_string(m) + ")";
  return "";
}

/// Stored 2:4 metadata must be the words the positions give.
std::string checkMeta(ElementsAttr meta, ArrayRef<uint32_t> expected) {
  if (!meta)
    return "";
  std::optional<std::vector<uint32_t>> words = readIndexArray(meta);
  if (!words || words->size() != expected.size())
    return "packed 2:4 metadata has " +
           std::to_string(words ? words->size() : 0) + " words, expected " +
           std::to_string(expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    if ((*words)[i] != expected[i])
      return "packed 2:4 metadata word " + std::to_string(i) +
             " does not match the positions";
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

std::string DenseEncodingAttr::verifyPacked(Attribute, int64_t, int64_t) const {
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

std::string NMEncodingAttr::verifyPacked(Attribute attr, int64_t rows,
                                         int64_t cols) const {
  auto p = dyn_cast_or_null<PackedWeightAttr>(attr);
  if (!p)
    return "expected a #sparsec.packed attribute";
  int64_t m = getM(), groups = (cols + m - 1) / m;
  SmallVector<int64_t> slots = {rows, groups * int64_t(getN())};
  if (std::string e = checkArray(p.getValues(), "values", slots, true, {});
      !e.empty())
    return e;
  if (std::string e =
          checkArray(p.getPositions(), "positions", slots, false, {8});
      !e.empty())
    return e;
  if (p.getColIdx())
    return "packed N:M weight has a col_idx array";
  if (p.getMeta() && (getN() != 2 || m != 4))
    return "packed " + getLabel() + " weight has 2:4 metadata";
  if (p.getMeta()) {
    int64_t words = (rows + 31) / 32 * 32 * ((groups + 7) / 8 * 8) / 8;
    if (std::string e = checkArray(p.getMeta(), "meta", {words}, false, {32});
        !e.empty())
      return e;
  }
  return checkPositions(p.getPositions(), m);
}

std::string NMEncodingAttr::unpack(Attribute attr, int64_t rows, int64_t cols,
                                   std::vector<float> &dense) const {
  if (std::string error = verifyPacked(attr, rows, cols); !error.empty())
    return error;
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
  if (p.getMeta())
    if (std::string error = checkMeta(p.getMeta(), nmMetaWords(packed));
        !error.empty())
      return error;
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

std::string HiNMEncodingAttr::verifyPacked(Attribute attr, int64_t rows,
                                           int64_t cols) const {
  auto p = dyn_cast_or_null<PackedWeightAttr>(attr);
  if (!p)
    return "expected a #sparsec.packed attribute";
  int64_t v = getV(), n = getN(), m = getM();
  int64_t tiles = (rows + v - 1) / v, keptWidth = (getKept() + 31) / 32 * 32;
  SmallVector<int64_t> slots = {tiles * v, keptWidth * n / m};
  if (std::string e = checkArray(p.getValues(), "values", slots, true, {});
      !e.empty())
    return e;
  if (std::string e =
          checkArray(p.getPositions(), "positions", slots, false, {8});
      !e.empty())
    return e;
  if (std::string e = checkArray(p.getColIdx(), "col_idx", {tiles, keptWidth},
                                 false, {16, 32});
      !e.empty())
    return e;
  if (p.getMeta() && (n != 2 || m != 4))
    return "packed " + getLabel() + " weight has 2:4 metadata";
  if (p.getMeta()) {
    if (p.getMetaLayout() == MetaLayout::meta32 && v % 32 != 0)
      return "META32 metadata needs V to be a multiple of 32";
    int64_t words = tiles * v * (keptWidth / 4) / 8;
    if (std::string e = checkArray(p.getMeta(), "meta", {words}, false, {32});
        !e.empty())
      return e;
  }
  std::optional<std::vector<uint32_t>> colIdx = readIndexArray(p.getColIdx());
  for (uint32_t c : colIdx.value_or(std::vector<uint32_t>()))
    if (c >= uint32_t(cols))
      return "packed HiNM col_idx holds column " + std::to_string(c) +
             ", outside K = " + std::to_string(cols);
  return checkPositions(p.getPositions(), m);
}

std::string HiNMEncodingAttr::unpack(Attribute attr, int64_t rows, int64_t cols,
                                     std::vector<float> &dense) const {
  if (std::string error = verifyPacked(attr, rows, cols); !error.empty())
    return error;
  PackedWeightAttr p;
  HiNMPacked packed;
  if (std::string error =
          readValuesAndPositions(attr, p, packed.values, packed.pos);
      !error.empty())
    return error;
  packed.rows = rows;
  packed.cols = cols;
  packed.v = getV();
  packed.nnzVec = getKept();
  packed.n = getN();
  packed.m = getM();
  packed.tiles = (rows + packed.v - 1) / packed.v;
  packed.keptWidth = (packed.nnzVec + 31) / 32 * 32;
  packed.layout = p.getMetaLayout() == MetaLayout::meta16
                      ? MetaWordLayout::Meta16
                      : MetaWordLayout::Meta32;
  std::optional<std::vector<uint32_t>> colIdx = readIndexArray(p.getColIdx());
  if (!colIdx)
    return "packed HiNM col_idx is not readable";
  packed.colIdx = std::move(*colIdx);
  if (p.getMeta())
    if (std::string error = checkMeta(p.getMeta(), hinmMetaWords(packed));
        !error.empty())
      return error;
  dense = unpackHiNM(packed);
  return "";
}

} // namespace sparsec
