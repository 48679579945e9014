//===- ResizeOp.cpp - ONNX Resize (opsets 11-19) --------------------------===//
//
// Shapes are static and scales/sizes constant, so every output position's
// source taps and weights along an axis are known at import time. Resize
// is separable: each resized axis becomes one linalg.generic that reads
// its taps' indices and weights from constant tables. The tables follow
// the ONNX reference (onnx/reference/ops/op_resize.py): the coordinate
// transformation, the ratio (1 at an exact integer, preferring the left
// pixel), the nearest/linear/cubic coefficients (antialiased ones when
// downsampling with antialias=1), the n nearest indices in edge-padded
// coordinates, exclude_outside renormalisation, and tf_crop_and_resize's
// extrapolation.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include <cmath>

using namespace mlir;

namespace sparsec::onnx_import {

namespace {

struct ResizeAttrs {
  std::string mode, coordinates, nearest;
  double cubicA = -0.75, extrapolation = 0;
  bool excludeOutside = false, antialias = false;
};

/// The coefficients of one output position with fractional part `ratio`.
std::vector<double> coefficients(const ResizeAttrs &a, double ratio,
                                 double scale) {
  if (a.mode == "nearest") {
    if (ratio == 1.0 || ratio == 0.0)
      return {0, 1};
    if (a.nearest == "round_prefer_floor")
      return {double(ratio <= 0.5), double(ratio > 0.5)};
    if (a.nearest == "round_prefer_ceil")
      return {double(ratio < 0.5), double(ratio >= 0.5)};
    if (a.nearest == "floor")
      return {1, 0};
    return {0, 1}; // ceil
  }
  if (a.mode == "linear") {
    if (!a.antialias)
      return {1 - ratio, ratio};
    double s = std::min(scale, 1.0);
    int64_t start = int64_t(std::floor(-1 / s) + 1);
    int64_t footprint = 2 - 2 * start;
    std::vector<double> c;
    double sum = 0;
    for (int64_t i = start; i < start + footprint; ++i) {
      double v = std::clamp(1 - std::abs((double(i) - ratio) * s), 0.0, 1.0);
      c.push_back(v);
      sum += v;
    }
    for (double &v : c)
      v /= sum;
    return c;
  }
  double A = a.cubicA;
  if (!a.antialias) {
    double r1 = ratio + 1, q = 1 - ratio, q1 = q + 1;
    return {((A * r1 - 5 * A) * r1 + 8 * A) * r1 - 4 * A,
            ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1,
            ((A + 2) * q - (A + 3)) * q * q + 1,
            ((A * q1 - 5 * A) * q1 + 8 * A) * q1 - 4 * A};
  }
  double s = std::min(scale, 1.0);
  auto coeff = [&](double x) {
    x = std::abs(x);
    double x2 = x * x, x3 = x2 * x;
    if (x <= 1)
      return (A + 2) * x3 - (A + 3) * x2 + 1;
    if (x < 2)
      return A * x3 - 5 * A * x2 + 8 * A * x - 4 * A;
    return 0.0;
  };
  int64_t start = int64_t(std::floor(-2 / s) + 1), end = 2 - start;
  std::vector<double> c;
  double sum = 0;
  for (int64_t i = start; i < end; ++i) {
    c.push_back(coeff(s * (double(i) - ratio)));
    sum += c.back();
  }
  for (double &v : c)
    v /= sum;
  return c;
}

/// Taps of one axis: per output position, `taps` (index, weight) pairs, or
/// extrapolated.
struct AxisTable {
  int64_t taps = 0;
  std::vector<int64_t> index;
  std::vector<float> weight;
  std::vector<bool> extrapolated;
};

AxisTable axisTable(const ResizeAttrs &a, int64_t in, int64_t out, double scale,
                    double roiStart, double roiEnd) {
  AxisTable t;
  double outWidth = scale * double(in);
  for (int64_t y = 0; y < out; ++y) {
    double x = 0;
    bool outside = false;
    const std::string &m = a.coordinates;
    if (m == "align_corners") {
      x = outWidth == 1 ? 0.0 : double(y) * (in - 1) / (outWidth - 1);
    } else if (m == "asymmetric") {
      x = double(y) / scale;
    } else if (m == "tf_crop_and_resize") {
      x = outWidth == 1
              ? (roiEnd - roiStart) * (in - 1) / 2
              : double(y) * (roiEnd - roiStart) * (in - 1) / (outWidth - 1);
      x += roiStart * (in - 1);
      outside = x < 0 || x > double(in - 1);
    } else if (m == "pytorch_half_pixel") {
      x = outWidth == 1 ? -0.5 : (double(y) + 0.5) / scale - 0.5;
    } else if (m == "half_pixel") {
      x = (double(y) + 0.5) / scale - 0.5;
    } else if (m == "tf_half_pixel_for_nn") { // opsets 11-12
      x = (double(y) + 0.5) / scale;
    } else { // half_pixel_symmetric
      double adjustment = double(out) / outWidth;
      double offset = double(in) / 2 * (1 - adjustment);
      x = offset + (double(y) + 0.5) / scale - 0.5;
    }
    double floorX = std::floor(x);
    double ratio = x == floorX ? 1.0 : x - floorX;
    std::vector<double> c = coefficients(a, ratio, scale);
    int64_t n = int64_t(c.size());
    t.taps = n;
    // The n nearest indices in edge-padded coordinates, ties to the left.
    int64_t pad = (n + 1) / 2;
    double xp = x + pad;
    int64_t p = int64_t(std::floor(xp));
    double frac = xp - double(p);
    int64_t offset = n % 2 == 0
                         ? (frac == 0 ? -(n / 2) : -(n / 2) + 1)
                         : (frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1);
    int64_t start = p + offset - pad;
    if (a.excludeOutside) {
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) {
        if (start + k < 0 || start + k >= in)
          c[k] = 0;
        sum += c[k];
      }
      if (sum != 0)
        for (double &v : c)
          v /= sum;
    }
    for (int64_t k = 0; k < n; ++k) {
      t.index.push_back(std::clamp<int64_t>(start + k, 0, in - 1));
      t.weight.push_back(float(c[k]));
    }
    t.extrapolated.push_back(outside);
  }
  // Nearest: the one tap of weight 1, copied exactly (no 0 * inf).
  if (a.mode == "nearest") {
    AxisTable one;
    one.taps = 1;
    one.extrapolated = t.extrapolated;
    for (int64_t y = 0; y < out; ++y) {
      int64_t pick = 0;
      for (int64_t k = 0; k < t.taps; ++k)
        if (t.weight[y * t.taps + k] == 1.0f)
          pick = k;
      one.index.push_back(t.index[y * t.taps + pick]);
      one.weight.push_back(1.0f);
    }
    return one;
  }
  return t;
}

/// Resamples `x` along `axis` to `out` positions with `table`.
Value resampleAxis(Importer &im, Value x, int64_t axis, int64_t out,
                   const AxisTable &table, const ResizeAttrs &a) {
  OpBuilder &b = im.builder();
  Location loc = im.loc();
  RankedTensorType t = Importer::typeOf(x);
  Type elt = t.getElementType();
  SmallVector<int64_t> shape(t.getShape());
  shape[axis] = out;
  int64_t rank = t.getRank(), taps = table.taps;
  auto indexType = RankedTensorType::get({out, taps}, b.getI64Type());
  Value indices = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(indexType, ArrayRef<int64_t>(table.index)));
  auto weightType = RankedTensorType::get({out, taps}, b.getF32Type());
  Value weights = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(weightType, ArrayRef<float>(table.weight)));
  bool anyOutside = llvm::is_contained(table.extrapolated, true);
  SmallVector<int8_t> outsideFlags(table.extrapolated.begin(),
                                   table.extrapolated.end());
  Value outside = anyOutside
                      ? arith::ConstantOp::create(
                            b, loc,
                            DenseElementsAttr::get(
                                RankedTensorType::get({out}, b.getI8Type()),
                                ArrayRef<int8_t>(outsideFlags)))
                            .getResult()
                      : Value();
  bool isFloat = isa<FloatType>(elt);
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  double extrapolation = a.extrapolation;
  Value result =
      linalg::GenericOp::create(
          b, loc, RankedTensorType::get(shape, elt), ValueRange{},
          ValueRange{im.emptyTensor(shape, elt)}, maps, iters,
          [&](OpBuilder &nb, Location l, ValueRange) {
            SmallVector<Value> coords;
            for (int64_t d = 0; d < rank; ++d)
              coords.push_back(linalg::IndexOp::create(nb, l, d));
            Value position = coords[axis];
            Value acc;
            for (int64_t k = 0; k < taps; ++k) {
              Value tap = arith::ConstantIndexOp::create(nb, l, k);
              Value source = arith::IndexCastOp::create(
                  nb, l, nb.getIndexType(),
                  tensor::ExtractOp::create(nb, l, indices,
                                            ValueRange{position, tap}));
              SmallVector<Value> at(coords);
              at[axis] = source;
              Value v = tensor::ExtractOp::create(nb, l, x, at);
              if (taps == 1) {
                acc = v;
                break;
              }
              Value w = tensor::ExtractOp::create(nb, l, weights,
                                                  ValueRange{position, tap});
              if (!elt.isF32())
                w = arith::TruncFOp::create(nb, l, elt, w);
              Value term = arith::MulFOp::create(nb, l, w, v);
              acc = acc ? arith::AddFOp::create(nb, l, acc, term).getResult()
                        : term;
            }
            if (outside && isFloat) {
              Value flag = tensor::ExtractOp::create(nb, l, outside,
                                                     ValueRange{position});
              Value isOut = arith::CmpIOp::create(
                  nb, l, arith::CmpIPredicate::ne, flag,
                  arith::ConstantOp::create(nb, l, nb.getI8IntegerAttr(0)));
              Value e = arith::ConstantOp::create(
                  nb, l, nb.getFloatAttr(elt, extrapolation));
              acc = arith::SelectOp::create(nb, l, isOut, e, acc);
            }
            linalg::YieldOp::create(nb, l, ValueRange{acc});
          })
          .getResult(0);
  return result;
}

/// Constant float input `i` as doubles (empty when absent or empty).
FailureOr<std::vector<double>> constantFloats(Importer &im, unsigned i,
                                              StringRef what) {
  std::vector<double> values;
  if (!im.hasInput(i))
    return values;
  const HostTensor *t = im.constInput(i);
  if (!t)
    return im.error(what + Twine(" must be a compile-time constant"));
  for (int64_t k = 0; k < t->numElements(); ++k)
    values.push_back(t->at(k));
  return values;
}

LogicalResult lowerResize(Importer &im) {
  if (im.opset() < 11)
    return im.error("Resize before opset 11 is not supported");
  Value x = im.input(0);
  if (!x)
    return failure();
  RankedTensorType t = Importer::typeOf(x);
  int64_t rank = t.getRank();
  ResizeAttrs a;
  a.mode = im.attrString("mode", "nearest");
  a.coordinates = im.attrString("coordinate_transformation_mode", "half_pixel");
  a.nearest = im.attrString("nearest_mode", "round_prefer_floor");
  a.cubicA = im.attrFloat("cubic_coeff_a", -0.75f);
  a.excludeOutside = im.attrInt("exclude_outside", 0) != 0;
  a.extrapolation = im.attrFloat("extrapolation_value", 0.0f);
  a.antialias = im.attrInt("antialias", 0) != 0;
  std::string policy = im.attrString("keep_aspect_ratio_policy", "stretch");
  if (a.mode != "nearest" && a.mode != "linear" && a.mode != "cubic")
    return im.error("Resize mode '" + a.mode + "' is not supported");
  if (!llvm::is_contained({"half_pixel", "half_pixel_symmetric",
                           "pytorch_half_pixel", "align_corners", "asymmetric",
                           "tf_crop_and_resize", "tf_half_pixel_for_nn"},
                          a.coordinates) ||
      (a.coordinates == "tf_half_pixel_for_nn" && im.opset() >= 13))
    return im.error("unknown coordinate_transformation_mode '" + a.coordinates +
                    "'");
  if (!llvm::is_contained(
          {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"},
          a.nearest))
    return im.error("unknown nearest_mode '" + a.nearest + "'");
  if (!llvm::is_contained({"stretch", "not_larger", "not_smaller"}, policy))
    return im.error("unknown keep_aspect_ratio_policy '" + policy + "'");
  if (a.mode == "nearest" && a.antialias)
    return im.error("antialias does not apply to nearest mode");
  if (a.mode != "nearest" && !isa<FloatType>(t.getElementType()))
    return im.error("Resize " + a.mode +
                    " on integer tensors is not supported");

  SmallVector<int64_t> axes;
  if (auto given = im.attrInts("axes")) {
    for (int64_t axis : *given) {
      FailureOr<int64_t> n = im.normalizeAxis(axis, rank);
      if (failed(n))
        return failure();
      if (llvm::is_contained(axes, *n))
        return im.error("axes repeats axis " + Twine(*n));
      axes.push_back(*n);
    }
  } else {
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back(d);
  }
  auto roi = constantFloats(im, 1, "roi");
  auto scales = constantFloats(im, 2, "scales");
  auto sizes = constantFloats(im, 3, "sizes");
  if (failed(roi) || failed(scales) || failed(sizes))
    return failure();
  int64_t n = int64_t(axes.size());
  if (scales->empty() == sizes->empty())
    return im.error("exactly one of scales and sizes must be given");
  if (!scales->empty() && int64_t(scales->size()) != n)
    return im.error("scales has " + Twine(scales->size()) + " values for " +
                    Twine(n) + " axes");
  if (!sizes->empty() && int64_t(sizes->size()) != n)
    return im.error("sizes has " + Twine(sizes->size()) + " values for " +
                    Twine(n) + " axes");
  bool crop = a.coordinates == "tf_crop_and_resize";
  if (crop && int64_t(roi->size()) != 2 * n)
    return im.error("tf_crop_and_resize needs a roi of " + Twine(2 * n) +
                    " values");

  std::vector<double> scale(n);
  std::vector<int64_t> outSize(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t in = t.getDimSize(axes[i]);
    if (!scales->empty()) {
      scale[i] = (*scales)[i];
      if (!(scale[i] > 0) || !std::isfinite(scale[i]))
        return im.error("scales must be positive and finite");
      outSize[i] = int64_t(std::floor(double(in) * scale[i]));
    } else {
      outSize[i] = int64_t((*sizes)[i]);
      scale[i] = double(outSize[i]) / double(in);
    }
  }
  if (!sizes->empty() && policy != "stretch") {
    double s = policy == "not_larger"
                   ? *std::min_element(scale.begin(), scale.end())
                   : *std::max_element(scale.begin(), scale.end());
    for (int64_t i = 0; i < n; ++i) {
      scale[i] = s;
      outSize[i] = int64_t(s * double(t.getDimSize(axes[i])) + 0.5);
    }
  }
  SmallVector<int64_t> outShape(t.getShape());
  for (int64_t i = 0; i < n; ++i) {
    if (outSize[i] <= 0)
      return im.error("the output of axis " + Twine(axes[i]) +
                      " would be empty; zero-sized tensors are not supported");
    outShape[axes[i]] = outSize[i];
  }
  if (failed(im.checkShape(outShape, "the Resize output")))
    return failure();

  // Axes in increasing order, as the reference applies them.
  Value result = x;
  for (int64_t i = 0; i < n; ++i) {
    int64_t in = t.getDimSize(axes[i]);
    double roiStart = crop ? (*roi)[i] : 0.0,
           roiEnd = crop ? (*roi)[n + i] : 1.0;
    if (std::abs(scale[i] - 1.0) <= 1e-9 && outSize[i] == in &&
        std::abs(roiStart) <= 1e-9 && std::abs(roiEnd - 1.0) <= 1e-9)
      continue;
    AxisTable table = axisTable(a, in, outSize[i], scale[i], roiStart, roiEnd);
    result = resampleAxis(im, result, axes[i], outSize[i], table, a);
  }
  im.setOutput(0, result);
  return success();
}

} // namespace

void registerResizeLowering(LoweringTable &t) {
  t["Resize"] = {lowerResize, 1, 4};
}

} // namespace sparsec::onnx_import
