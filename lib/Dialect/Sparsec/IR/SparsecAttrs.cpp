//===- SparsecAttrs.cpp - sparsity encoding attributes --------------------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"

using namespace mlir;

namespace sparsec {

#include "sparsec/Dialect/Sparsec/IR/SparsecAttrInterfaces.cpp.inc"

int64_t gemmToStorageIndex(ArrayRef<int64_t> shape, KOrder korder, int64_t r,
                           int64_t k) {
  if (shape.size() != 4 || korder == KOrder::chw) {
    int64_t cols = 1;
    for (int64_t d : shape.drop_front())
      cols *= d;
    return r * cols + k;
  }
  // hwc: k = (y * kw + x) * C + c, storage is [r][c][y][x].
  int64_t c = shape[1], kh = shape[2], kw = shape[3];
  int64_t channel = k % c, spatial = k / c;
  int64_t y = spatial / kw, x = spatial % kw;
  return ((r * c + channel) * kh + y) * kw + x;
}

//===----------------------------------------------------------------------===//
// DenseEncodingAttr
//===----------------------------------------------------------------------===//

KOrder DenseEncodingAttr::getKOrder() const { return KOrder::hwc; }

LogicalResult DenseEncodingAttr::verifyGemmShape(
    int64_t, int64_t, function_ref<InFlightDiagnostic()>) const {
  return success();
}

LogicalResult DenseEncodingAttr::verifyGemmValues(
    int64_t, int64_t, ArrayRef<uint8_t>,
    function_ref<InFlightDiagnostic()>) const {
  return success();
}

double DenseEncodingAttr::getDensity() const { return 1.0; }

//===----------------------------------------------------------------------===//
// NMEncodingAttr
//===----------------------------------------------------------------------===//

LogicalResult NMEncodingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                     unsigned n, unsigned m, KOrder) {
  if (m != 4 && m != 8 && m != 16 && m != 32)
    return emitError() << "N:M encoding requires M in {4, 8, 16, 32}, got M = "
                       << m;
  if (n < 1 || n >= m)
    return emitError() << "N:M encoding requires 1 <= N < M, got " << n << ":"
                       << m;
  return success();
}

LogicalResult NMEncodingAttr::verifyGemmShape(
    int64_t rows, int64_t cols,
    function_ref<InFlightDiagnostic()> emitError) const {
  if (rows <= 0 || cols <= 0)
    return emitError() << "N:M encoding needs a non-empty weight, got GEMM view "
                       << rows << "x" << cols;
  return success();
}

LogicalResult NMEncodingAttr::verifyGemmValues(
    int64_t rows, int64_t cols, ArrayRef<uint8_t> nonZero,
    function_ref<InFlightDiagnostic()> emitError) const {
  int64_t m = getM(), n = getN();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t start = 0; start < cols; start += m) {
      int64_t end = std::min(cols, start + m), count = 0;
      for (int64_t k = start; k < end; ++k)
        count += nonZero[r * cols + k];
      if (count > n)
        return emitError() << "weight violates " << n << ":" << m
                           << " sparsity: row " << r << ", group " << start / m
                           << " (columns " << start << ".." << end - 1
                           << ") has " << count << " non-zeros";
    }
  }
  return success();
}

KOrder NMEncodingAttr::getKOrder() const { return getKorder(); }

double NMEncodingAttr::getDensity() const {
  return double(getN()) / double(getM());
}

//===----------------------------------------------------------------------===//
// HiNMEncodingAttr
//===----------------------------------------------------------------------===//

LogicalResult HiNMEncodingAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, unsigned v, unsigned kept,
    unsigned n, unsigned m, KOrder korder) {
  if (failed(NMEncodingAttr::verify(emitError, n, m, korder)))
    return failure();
  if (v == 0 || v % 16 != 0)
    return emitError() << "HiNM encoding requires V to be a positive multiple "
                          "of 16, got V = "
                       << v;
  if (kept == 0 || kept % m != 0)
    return emitError() << "HiNM encoding requires kept (column vectors per "
                          "tile) to be a positive multiple of M = "
                       << m << ", got " << kept;
  return success();
}

KOrder HiNMEncodingAttr::getKOrder() const { return getKorder(); }

LogicalResult HiNMEncodingAttr::verifyGemmShape(
    int64_t rows, int64_t cols,
    function_ref<InFlightDiagnostic()> emitError) const {
  if (rows <= 0 || int64_t(getKept()) > cols)
    return emitError() << "HiNM encoding keeps " << getKept()
                       << " column vectors per tile but the GEMM view is "
                       << rows << "x" << cols;
  return success();
}

LogicalResult HiNMEncodingAttr::verifyGemmValues(
    int64_t rows, int64_t cols, ArrayRef<uint8_t> nonZero,
    function_ref<InFlightDiagnostic()> emitError) const {
  int64_t v = getV(), kept = getKept();
  int64_t perRow = kept * getN() / getM();
  std::vector<char> used(cols);
  for (int64_t t = 0; t * v < rows; ++t) {
    std::fill(used.begin(), used.end(), 0);
    int64_t columns = 0;
    for (int64_t r = t * v; r < std::min(rows, (t + 1) * v); ++r) {
      int64_t count = 0;
      for (int64_t k = 0; k < cols; ++k) {
        if (!nonZero[r * cols + k])
          continue;
        ++count;
        if (!used[k]) {
          used[k] = 1;
          ++columns;
        }
      }
      if (count > perRow)
        return emitError() << "weight violates HiNM: row " << r << " has "
                           << count << " non-zeros, at most " << perRow;
    }
    if (columns > kept)
      return emitError() << "weight violates HiNM: tile " << t << " (rows "
                         << t * v << "..) uses " << columns
                         << " columns, at most " << kept;
  }
  return success();
}

double HiNMEncodingAttr::getDensity() const {
  // Depends on K; the ratio of kept values per kept column.
  return double(getN()) / double(getM());
}

} // namespace sparsec
