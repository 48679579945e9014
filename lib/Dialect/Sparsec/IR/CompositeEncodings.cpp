//===- CompositeEncodings.cpp - sums of terms and products of factors -----===//
//
// #sparsec.sum (TASD-style series of structured terms with disjoint
// supports, formats.md §4) and #sparsec.product (a chain of factors). Their
// parts live in the layer's `weight_parts`: a #sparsec.packed attribute that
// the part's encoding unpacks, or a dense f32 tensor of the part's shape.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"

#include <cmath>

using namespace mlir;

namespace sparsec {
namespace {

bool isComposite(Attribute encoding) {
  return isa<SumEncodingAttr, ProductEncodingAttr>(encoding);
}

} // namespace

std::string unpackWeightPart(SparsityEncodingAttrInterface encoding,
                             Attribute part, int64_t rows, int64_t cols,
                             std::vector<float> &dense) {
  if (isa<PackedWeightAttr>(part))
    return encoding.unpack(part, rows, cols, dense);
  auto elements = dyn_cast<ElementsAttr>(part);
  if (!elements)
    return "a part must be #sparsec.packed or a dense tensor";
  auto type = cast<ShapedType>(elements.getType());
  if (type.getShape() != ArrayRef<int64_t>{rows, cols})
    return "a dense part must have shape " + std::to_string(rows) + "x" +
           std::to_string(cols);
  std::optional<WeightData> data = WeightData::get(elements);
  if (!data)
    return "a dense part's values are not readable";
  dense.assign(data->values().begin(), data->values().end());
  return "";
}

namespace {

template <typename Range> std::string joinLabels(Range encodings, char sep) {
  std::string label;
  for (SparsityEncodingAttrInterface e : encodings)
    label += (label.empty() ? "" : std::string(1, sep)) + e.getLabel();
  return label;
}

llvm::json::Array describeParts(ArrayRef<SparsityEncodingAttrInterface> parts) {
  llvm::json::Array out;
  for (SparsityEncodingAttrInterface e : parts) {
    llvm::json::Object part{{"pattern", e.getPatternName().str()}};
    e.describe(part);
    out.push_back(std::move(part));
  }
  return out;
}

LogicalResult verifyParts(function_ref<InFlightDiagnostic()> emitError,
                          StringRef what,
                          ArrayRef<SparsityEncodingAttrInterface> parts) {
  if (parts.empty())
    return emitError() << "a " << what << " encoding needs at least one part";
  for (SparsityEncodingAttrInterface part : parts)
    if (!part || isComposite(part))
      return emitError() << "the parts of a " << what
                         << " encoding must be plain encodings, not sums or "
                            "products";
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// SumEncodingAttr
//===----------------------------------------------------------------------===//

LogicalResult
SumEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                        ArrayRef<SparsityEncodingAttrInterface> terms) {
  if (failed(verifyParts(emitError, "sum", terms)))
    return failure();
  for (SparsityEncodingAttrInterface term : terms)
    if (term.getKOrder() != terms.front().getKOrder())
      return emitError() << "the terms of a sum must share one korder";
  return success();
}

KOrder SumEncodingAttr::getKOrder() const {
  return getTerms().front().getKOrder();
}

LogicalResult SumEncodingAttr::verifyGemmShape(
    int64_t rows, int64_t cols,
    function_ref<InFlightDiagnostic()> emitError) const {
  for (SparsityEncodingAttrInterface term : getTerms())
    if (failed(term.verifyGemmShape(rows, cols, emitError)))
      return failure();
  return success();
}

LogicalResult SumEncodingAttr::verifyGemmValues(
    int64_t rows, int64_t cols, ArrayRef<uint8_t> nonZero,
    function_ref<InFlightDiagnostic()> emitError) const {
  // Without the parts only the row bound is checkable; the parts are checked
  // by sparsec-verify-encodings.
  int64_t bound = getMaxNonZerosPerRow(cols);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t count = 0;
    for (int64_t k = 0; k < cols; ++k)
      count += nonZero[r * cols + k];
    if (count > bound)
      return emitError() << "weight violates " << getLabel() << ": row " << r
                         << " has " << count
                         << " non-zeros, the terms hold at most " << bound;
  }
  return success();
}

double SumEncodingAttr::getDensity() const {
  double density = 0;
  for (SparsityEncodingAttrInterface term : getTerms())
    density += term.getDensity();
  return std::min(1.0, density);
}

StringRef SumEncodingAttr::getPatternName() const { return "sum"; }

std::string SumEncodingAttr::getLabel() const {
  return joinLabels(getTerms(), '+');
}

void SumEncodingAttr::describe(llvm::json::Object &row) const {
  row["terms"] = describeParts(getTerms());
  row["korder"] = stringifyKOrder(getKOrder()).str();
}

WeightFootprint SumEncodingAttr::getFootprint(int64_t rows, int64_t cols,
                                              int64_t valueBytes) const {
  WeightFootprint total;
  for (SparsityEncodingAttrInterface term : getTerms())
    total += term.getFootprint(rows, cols, valueBytes);
  total.kept = std::min(total.kept, rows * cols);
  return total;
}

int64_t SumEncodingAttr::getMaxNonZerosPerRow(int64_t cols) const {
  int64_t bound = 0;
  for (SparsityEncodingAttrInterface term : getTerms())
    bound += term.getMaxNonZerosPerRow(cols);
  return std::min(bound, cols);
}

std::string SumEncodingAttr::pack(const PackRequest &, Attribute &) const {
  return "a sum is packed term by term: pack each term with its own "
         "encoding into weight_parts";
}

std::string SumEncodingAttr::verifyPacked(Attribute, int64_t, int64_t) const {
  return "a sum keeps its terms in weight_parts, not in packed_weight";
}

std::string SumEncodingAttr::unpack(Attribute packed, int64_t rows,
                                    int64_t cols,
                                    std::vector<float> &dense) const {
  auto parts = dyn_cast_or_null<ArrayAttr>(packed);
  ArrayRef<SparsityEncodingAttrInterface> terms = getTerms();
  if (!parts || parts.size() != terms.size())
    return "a sum of " + std::to_string(terms.size()) +
           " terms needs as many weight_parts";
  dense.assign(rows * cols, 0.0f);
  std::vector<int32_t> owner(rows * cols, -1);
  for (auto [index, term, part] : llvm::enumerate(terms, parts)) {
    std::vector<float> values;
    if (std::string error = unpackWeightPart(term, part, rows, cols, values);
        !error.empty())
      return "term " + std::to_string(index) + ": " + error;
    for (int64_t i = 0; i < rows * cols; ++i) {
      if (values[i] == 0.0f)
        continue;
      if (owner[i] >= 0)
        return "terms " + std::to_string(owner[i]) + " and " +
               std::to_string(index) + " overlap at (" +
               std::to_string(i / cols) + ", " + std::to_string(i % cols) +
               "); the supports of a sum's terms must be disjoint";
      owner[i] = int32_t(index);
      dense[i] = values[i];
    }
  }
  return "";
}

//===----------------------------------------------------------------------===//
// ProductEncodingAttr
//===----------------------------------------------------------------------===//

LogicalResult
ProductEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                            ArrayRef<SparsityEncodingAttrInterface> factors,
                            ArrayRef<int64_t> inner, KOrder) {
  if (failed(verifyParts(emitError, "product", factors)))
    return failure();
  if (inner.size() + 1 != factors.size())
    return emitError() << "a product of " << factors.size() << " factors needs "
                       << factors.size() - 1 << " inner dimensions, got "
                       << inner.size();
  for (int64_t d : inner)
    if (d <= 0)
      return emitError() << "inner dimensions of a product must be positive, "
                            "got "
                         << d;
  return success();
}

KOrder ProductEncodingAttr::getKOrder() const { return getKorder(); }

std::pair<int64_t, int64_t>
ProductEncodingAttr::getFactorShape(unsigned i, int64_t rows,
                                    int64_t cols) const {
  ArrayRef<int64_t> inner = getInner();
  return {i == 0 ? rows : inner[i - 1], i == inner.size() ? cols : inner[i]};
}

LogicalResult ProductEncodingAttr::verifyGemmShape(
    int64_t rows, int64_t cols,
    function_ref<InFlightDiagnostic()> emitError) const {
  for (auto [i, factor] : llvm::enumerate(getFactors())) {
    auto [r, c] = getFactorShape(i, rows, cols);
    if (failed(factor.verifyGemmShape(r, c, emitError)))
      return failure();
  }
  return success();
}

LogicalResult ProductEncodingAttr::verifyGemmValues(
    int64_t, int64_t, ArrayRef<uint8_t>,
    function_ref<InFlightDiagnostic()>) const {
  // A product of structured factors is in general dense.
  return success();
}

double ProductEncodingAttr::getDensity() const { return 1.0; }

StringRef ProductEncodingAttr::getPatternName() const { return "product"; }

std::string ProductEncodingAttr::getLabel() const {
  return joinLabels(getFactors(), '*');
}

void ProductEncodingAttr::describe(llvm::json::Object &row) const {
  row["factors"] = describeParts(getFactors());
  row["inner"] = llvm::json::Array(getInner());
  row["korder"] = stringifyKOrder(getKorder()).str();
}

WeightFootprint ProductEncodingAttr::getFootprint(int64_t rows, int64_t cols,
                                                  int64_t valueBytes) const {
  WeightFootprint total;
  for (auto [i, factor] : llvm::enumerate(getFactors())) {
    auto [r, c] = getFactorShape(i, rows, cols);
    total += factor.getFootprint(r, c, valueBytes);
  }
  return total;
}

int64_t ProductEncodingAttr::getMaxNonZerosPerRow(int64_t cols) const {
  return cols;
}

std::string ProductEncodingAttr::pack(const PackRequest &, Attribute &) const {
  return "a product is stored factor by factor in weight_parts";
}

std::string ProductEncodingAttr::verifyPacked(Attribute, int64_t,
                                              int64_t) const {
  return "a product keeps its factors in weight_parts, not in packed_weight";
}

std::string ProductEncodingAttr::unpack(Attribute packed, int64_t rows,
                                        int64_t cols,
                                        std::vector<float> &dense) const {
  std::vector<double> product, bound;
  if (std::string error = multiply(packed, rows, cols, product, bound);
      !error.empty())
    return error;
  dense.assign(product.begin(), product.end());
  return "";
}

std::string ProductEncodingAttr::multiply(Attribute packed, int64_t rows,
                                          int64_t cols,
                                          std::vector<double> &product,
                                          std::vector<double> &bound) const {
  auto parts = dyn_cast_or_null<ArrayAttr>(packed);
  ArrayRef<SparsityEncodingAttrInterface> factors = getFactors();
  if (!parts || parts.size() != factors.size())
    return "a product of " + std::to_string(factors.size()) +
           " factors needs as many weight_parts";
  int64_t productCols = 0;
  for (auto [i, factor, part] : llvm::enumerate(factors, parts)) {
    auto [r, c] = getFactorShape(i, rows, cols);
    std::vector<float> values;
    if (std::string error = unpackWeightPart(factor, part, r, c, values);
        !error.empty())
      return "factor " + std::to_string(i) + ": " + error;
    if (i == 0) {
      product.assign(values.begin(), values.end());
      bound.resize(values.size());
      for (size_t j = 0; j < values.size(); ++j)
        bound[j] = std::abs(double(values[j]));
      productCols = c;
      continue;
    }
    std::vector<double> next(rows * c, 0.0), nextBound(rows * c, 0.0);
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t k = 0; k < r; ++k) {
        double a = product[row * productCols + k];
        double absA = bound[row * productCols + k];
        if (absA == 0)
          continue;
        for (int64_t col = 0; col < c; ++col) {
          double b = values[k * c + col];
          next[row * c + col] += a * b;
          nextBound[row * c + col] += absA * std::abs(b);
        }
      }
    product = std::move(next);
    bound = std::move(nextBound);
    productCols = c;
  }
  return "";
}

//===----------------------------------------------------------------------===//
// weight_parts on a layer
//===----------------------------------------------------------------------===//

LogicalResult
verifyWeightPartsShape(SparsityEncodingAttrInterface encoding,
                       Attribute packedWeight, ArrayAttr parts, int64_t rows,
                       int64_t cols,
                       function_ref<InFlightDiagnostic()> emitError) {
  if (!isComposite(encoding)) {
    if (parts)
      return emitError() << "weight_parts needs a #sparsec.sum or "
                            "#sparsec.product weight_encoding";
    return success();
  }
  if (packedWeight)
    return emitError() << "a " << encoding.getPatternName()
                       << " weight keeps its parts in weight_parts, not in "
                          "packed_weight";
  if (!parts)
    return success();
  SmallVector<SparsityEncodingAttrInterface> partEncodings;
  auto sum = dyn_cast<SumEncodingAttr>(encoding);
  auto product = dyn_cast<ProductEncodingAttr>(encoding);
  if (sum)
    partEncodings.append(sum.getTerms().begin(), sum.getTerms().end());
  else
    partEncodings.append(product.getFactors().begin(),
                         product.getFactors().end());
  if (parts.size() != partEncodings.size())
    return emitError() << "weight_parts has " << parts.size()
                       << " entries for a " << encoding.getPatternName()
                       << " of " << partEncodings.size();
  for (auto [i, part] : llvm::enumerate(parts)) {
    auto elements = dyn_cast<ElementsAttr>(part);
    if (!elements)
      continue;
    auto [r, c] = product ? product.getFactorShape(i, rows, cols)
                          : std::pair<int64_t, int64_t>{rows, cols};
    auto type = cast<ShapedType>(elements.getType());
    if (type.getShape() != ArrayRef<int64_t>{r, c} ||
        !type.getElementType().isF32())
      return emitError() << "weight_parts[" << i << "] must be a " << r << "x"
                         << c << " f32 tensor, got " << type;
  }
  return success();
}

} // namespace sparsec
