//===- ConvPoolOps.cpp - ONNX Conv and pooling ----------------------------===//
//
// Window attributes (strides, dilations, pads, kernel sizes) come from the
// model: each is range-checked before use, and window extents are compared
// by division, so that no arithmetic on them overflows.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"

using namespace mlir;

namespace sparsec::onnx_import {
namespace {

/// Checks that every entry of an integer-list attribute lies in [lo, hi].
LogicalResult checkRange(Importer &im, ArrayRef<int64_t> values, int64_t lo,
                         int64_t hi, StringRef what) {
  for (int64_t v : values)
    if (v < lo || v > hi)
      return im.error(what + " value " + Twine(v) + " is out of range [" +
                      Twine(lo) + ", " + Twine(hi) + "]");
  return success();
}

/// Bounds on strides, dilations and pads: far beyond any real model, small
/// enough that the window arithmetic on them cannot overflow.
constexpr int64_t kMaxWindowAttr = int64_t(1) << 31;

/// The extent of a window of `kernel` taps `dilation` apart, if it fits in
/// `available` elements; nullopt otherwise (no overflow either way).
std::optional<int64_t> windowExtent(int64_t kernel, int64_t dilation,
                                    int64_t available) {
  if (kernel < 1 || available < 1 || kernel - 1 > (available - 1) / dilation)
    return std::nullopt;
  return (kernel - 1) * dilation + 1;
}

/// Explicit [begin..., end...] pads for the spatial dims of a conv/pool,
/// resolving auto_pad.
FailureOr<SmallVector<int64_t>> spatialPads(Importer &im, ArrayRef<int64_t> in,
                                            ArrayRef<int64_t> kernel,
                                            ArrayRef<int64_t> strides,
                                            ArrayRef<int64_t> dilations) {
  size_t n = in.size();
  std::string autoPad = im.attrString("auto_pad", "NOTSET");
  SmallVector<int64_t> pads(2 * n, 0);
  if (autoPad == "NOTSET") {
    if (auto p = im.attrInts("pads")) {
      if (p->size() != 2 * n) {
        (void)im.error("pads has " + Twine(p->size()) + " entries, expected " +
                       Twine(2 * n));
        return failure();
      }
      pads = *p;
    }
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    // Callers checked strides and dilations (1..2^31) and that each window
    // fits in 2^40 + 2^32 elements: nothing below overflows.
    for (size_t i = 0; i < n; ++i) {
      int64_t out = (in[i] + strides[i] - 1) / strides[i];
      std::optional<int64_t> extent =
          windowExtent(kernel[i], dilations[i], in[i] + kMaxWindowAttr);
      if (!extent) {
        (void)im.error("the kernel window is larger than the input");
        return failure();
      }
      int64_t window = *extent;
      int64_t total =
          std::max<int64_t>((out - 1) * strides[i] + window - in[i], 0);
      int64_t small = total / 2, large = total - small;
      pads[i] = autoPad == "SAME_UPPER" ? small : large;
      pads[i + n] = autoPad == "SAME_UPPER" ? large : small;
    }
  } else if (autoPad != "VALID") {
    (void)im.error("unsupported auto_pad '" + autoPad + "'");
    return failure();
  }
  for (int64_t p : pads)
    if (p < 0) {
      (void)im.error("negative pads are not supported");
      return failure();
    }
  if (failed(checkRange(im, pads, 0, kMaxWindowAttr, "pads")))
    return failure();
  return pads;
}

LogicalResult lowerConv(Importer &im) {
  Value x = im.input(0);
  if (!x || failed(requireFloat(im, x)))
    return failure();
  Value w = im.weightInput(1, false);
  if (!w)
    return failure();
  RankedTensorType xt = Importer::typeOf(x), wt = Importer::typeOf(w);
  if (failed(requireSameElementType(im, w, x, "the Conv weight")))
    return failure();
  int64_t spatial = xt.getRank() - 2;
  if (spatial != 1 && spatial != 2)
    return im.error("Conv with " + Twine(spatial) +
                    " spatial dimensions is not supported (1-D and 2-D are)");
  if (wt.getRank() != xt.getRank())
    return im.error("Conv weight rank differs from input rank");
  SmallVector<int64_t> kernel(wt.getShape().drop_front(2));
  SmallVector<int64_t> strides =
      im.attrInts("strides").value_or(SmallVector<int64_t>(spatial, 1));
  SmallVector<int64_t> dilations =
      im.attrInts("dilations").value_or(SmallVector<int64_t>(spatial, 1));
  if (int64_t(strides.size()) != spatial ||
      int64_t(dilations.size()) != spatial)
    return im.error("strides/dilations do not match the spatial rank");
  if (failed(checkRange(im, strides, 1, kMaxWindowAttr, "strides")) ||
      failed(checkRange(im, dilations, 1, kMaxWindowAttr, "dilations")))
    return failure();
  if (auto ks = im.attrInts("kernel_shape"))
    if (ArrayRef<int64_t>(*ks) != ArrayRef<int64_t>(kernel))
      return im.error("kernel_shape does not match the weight");
  FailureOr<SmallVector<int64_t>> pads =
      spatialPads(im, xt.getShape().drop_front(2), kernel, strides, dilations);
  if (failed(pads))
    return failure();
  int64_t groups = im.attrInt("group", 1);
  Value bias;
  if (im.hasInput(2)) {
    bias = im.input(2);
    if (!bias || failed(requireSameElementType(im, bias, x, "the Conv bias")))
      return failure();
    if (Importer::typeOf(bias).getRank() != 1 ||
        Importer::typeOf(bias).getDimSize(0) != wt.getDimSize(0))
      return im.error("the Conv bias must have shape [" +
                      Twine(wt.getDimSize(0)) + "]");
  }
  // 1-D convolutions run as 2-D with a unit height.
  SmallVector<int64_t> pads2d;
  if (spatial == 1) {
    x = im.reshape(x,
                   {xt.getDimSize(0), xt.getDimSize(1), 1, xt.getDimSize(2)});
    w = im.reshape(w,
                   {wt.getDimSize(0), wt.getDimSize(1), 1, wt.getDimSize(2)});
    strides.insert(strides.begin(), 1);
    dilations.insert(dilations.begin(), 1);
    kernel.insert(kernel.begin(), 1);
    pads2d = {0, (*pads)[0], 0, (*pads)[1]};
  } else {
    pads2d = *pads;
  }
  RankedTensorType x2 = Importer::typeOf(x), w2 = Importer::typeOf(w);
  if (groups <= 0 || x2.getDimSize(1) % groups || w2.getDimSize(0) % groups ||
      w2.getDimSize(1) != x2.getDimSize(1) / groups)
    return im.error("group = " + Twine(groups) +
                    " does not fit input channels " + Twine(x2.getDimSize(1)) +
                    " and weight " + Twine(w2.getDimSize(0)) + "x" +
                    Twine(w2.getDimSize(1)));
  SmallVector<int64_t> outShape = {x2.getDimSize(0), w2.getDimSize(0)};
  for (int i = 0; i < 2; ++i) {
    int64_t padded = x2.getDimSize(2 + i) + pads2d[i] + pads2d[i + 2];
    std::optional<int64_t> window =
        windowExtent(kernel[i], dilations[i], padded);
    if (!window)
      return im.error("the kernel window is larger than the padded input");
    outShape.push_back((padded - *window) / strides[i] + 1);
  }
  auto outType = RankedTensorType::get(outShape, x2.getElementType());
  OpBuilder &b = im.builder();
  auto conv = Conv2DOp::create(
      b, im.loc(), outType, x, w, bias, b.getDenseI64ArrayAttr(strides),
      b.getDenseI64ArrayAttr(pads2d), b.getDenseI64ArrayAttr(dilations),
      b.getI64IntegerAttr(groups), nullptr, nullptr, nullptr);
  // 1-D weights were reshaped; pruning still reads them in GEMM view.
  recordWeightOrigin(im, conv, 1, /*transposed=*/false);
  Value y = conv.getResult();
  if (spatial == 1)
    y = im.reshape(y, {outShape[0], outShape[1], outShape[3]});
  im.setOutput(0, y);
  return success();
}

/// MaxPool / AveragePool over the two trailing dims of an NCHW tensor.
LogicalResult lowerPool(Importer &im, bool isMax) {
  Value x = im.input(0);
  if (!x || failed(requireFloat(im, x)))
    return failure();
  if (isMax && im.outputUsed(1))
    return im.error("the MaxPool Indices output is not supported");
  RankedTensorType t = Importer::typeOf(x);
  int64_t spatial = t.getRank() - 2;
  if (spatial != 2 && spatial != 1)
    return im.error("only 1-D and 2-D pooling is supported");
  auto kernelAttr = im.attrInts("kernel_shape");
  if (!kernelAttr || int64_t(kernelAttr->size()) != spatial)
    return im.error("kernel_shape is required and must match the spatial rank");
  SmallVector<int64_t> kernel = *kernelAttr;
  SmallVector<int64_t> strides =
      im.attrInts("strides").value_or(SmallVector<int64_t>(spatial, 1));
  SmallVector<int64_t> dilations =
      im.attrInts("dilations").value_or(SmallVector<int64_t>(spatial, 1));
  if (int64_t(strides.size()) != spatial ||
      int64_t(dilations.size()) != spatial)
    return im.error("strides/dilations do not match the spatial rank");
  if (failed(checkRange(im, kernel, 1, kMaxTensorElements, "kernel_shape")) ||
      failed(checkRange(im, strides, 1, kMaxWindowAttr, "strides")) ||
      failed(checkRange(im, dilations, 1, kMaxWindowAttr, "dilations")))
    return failure();
  if (!isMax && llvm::any_of(dilations, [](int64_t d) { return d != 1; }))
    return im.error("AveragePool with dilations is not supported");
  FailureOr<SmallVector<int64_t>> padsOr =
      spatialPads(im, t.getShape().drop_front(2), kernel, strides, dilations);
  if (failed(padsOr))
    return failure();
  SmallVector<int64_t> pads = *padsOr;
  bool ceilMode = im.attrInt("ceil_mode", 0) != 0;
  bool countIncludePad = im.attrInt("count_include_pad", 0) != 0;
  if (spatial == 1) {
    x = im.reshape(x, {t.getDimSize(0), t.getDimSize(1), 1, t.getDimSize(2)});
    kernel.insert(kernel.begin(), 1);
    strides.insert(strides.begin(), 1);
    dilations.insert(dilations.begin(), 1);
    pads = {0, pads[0], 0, pads[1]};
  }
  RankedTensorType xt = Importer::typeOf(x);
  Type elt = xt.getElementType();
  SmallVector<int64_t> inHW = {xt.getDimSize(2), xt.getDimSize(3)}, outHW(2),
                       extra(2, 0);
  for (int i = 0; i < 2; ++i) {
    std::optional<int64_t> extent =
        windowExtent(kernel[i], dilations[i], inHW[i] + pads[i] + pads[i + 2]);
    if (!extent)
      return im.error("the pooling window is larger than the padded input");
    int64_t window = *extent;
    int64_t span = inHW[i] + pads[i] + pads[i + 2] - window;
    int64_t out = ceilMode ? (span + strides[i] - 1) / strides[i] + 1
                           : span / strides[i] + 1;
    // The last window must start inside the input or the begin padding.
    if (ceilMode && (out - 1) * strides[i] >= inHW[i] + pads[i])
      --out;
    outHW[i] = out;
    extra[i] = std::max<int64_t>(0, (out - 1) * strides[i] + window -
                                        (inHW[i] + pads[i] + pads[i + 2]));
  }
  OpBuilder &b = im.builder();
  double padValue = isMax ? -std::numeric_limits<double>::infinity() : 0.0;
  Value padded = x;
  if (llvm::any_of(pads, [](int64_t p) { return p; }) || extra[0] || extra[1]) {
    SmallVector<OpFoldResult> low = {b.getIndexAttr(0), b.getIndexAttr(0),
                                     b.getIndexAttr(pads[0]),
                                     b.getIndexAttr(pads[1])};
    SmallVector<OpFoldResult> high = {b.getIndexAttr(0), b.getIndexAttr(0),
                                      b.getIndexAttr(pads[2] + extra[0]),
                                      b.getIndexAttr(pads[3] + extra[1])};
    SmallVector<int64_t> shape(xt.getShape());
    shape[2] += pads[0] + pads[2] + extra[0];
    shape[3] += pads[1] + pads[3] + extra[1];
    padded =
        tensor::PadOp::create(b, im.loc(), RankedTensorType::get(shape, elt), x,
                              low, high, im.scalarConstant(elt, padValue));
  }
  SmallVector<int64_t> outShape = {xt.getDimSize(0), xt.getDimSize(1), outHW[0],
                                   outHW[1]};
  // Before the host-side divisor below is allocated.
  if (failed(im.checkShape(outShape, "the pooling result")))
    return failure();
  Value init = im.fill(outShape, elt, padValue);
  Value window = im.emptyTensor({kernel[0], kernel[1]}, elt);
  auto i64x2 = RankedTensorType::get({2}, b.getI64Type());
  auto stridesAttr = DenseIntElementsAttr::get(i64x2, strides);
  auto dilationsAttr = DenseIntElementsAttr::get(i64x2, dilations);
  Value y;
  if (isMax)
    y = linalg::PoolingNchwMaxOp::create(
            b, im.loc(), TypeRange{init.getType()}, ValueRange{padded, window},
            ValueRange{init}, stridesAttr, dilationsAttr)
            .getResult(0);
  else
    y = linalg::PoolingNchwSumOp::create(
            b, im.loc(), TypeRange{init.getType()}, ValueRange{padded, window},
            ValueRange{init}, stridesAttr, dilationsAttr)
            .getResult(0);
  if (!isMax) {
    // Divisor per output position: window elements inside the input (or the
    // explicit padding with count_include_pad), never the ceil-mode overhang.
    // It is separable, rows[oh] * cols[ow]: host memory stays O(outH + outW).
    Value factors[2];
    for (int i = 0; i < 2; ++i) {
      HostTensor counts;
      counts.dtype = onnx::TensorProto::FLOAT;
      counts.shape = {outHW[i]};
      if (i == 0)
        counts.shape.push_back(1);
      counts.allocate();
      for (int64_t p = 0; p < outHW[i]; ++p) {
        int64_t start = p * strides[i] - pads[i];
        int64_t end = start + kernel[i];
        int64_t lo = countIncludePad ? -pads[i] : 0;
        int64_t hi = countIncludePad ? inHW[i] + pads[i + 2] : inHW[i];
        int64_t count = std::min(end, hi) - std::max(start, lo);
        if (count <= 0)
          return im.error("an AveragePool window lies entirely in the padding "
                          "(pads must be smaller than kernel_shape)");
        counts.floats[p] = double(count);
      }
      Value v = im.materialize(counts);
      if (!v)
        return failure();
      if (!elt.isF32()) {
        FailureOr<Value> cast = im.elementwise(
            {v}, elt, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
              return elt.getIntOrFloatBitWidth() > 32
                         ? arith::ExtFOp::create(nb, l, elt, a[0]).getResult()
                         : arith::TruncFOp::create(nb, l, elt, a[0])
                               .getResult();
            });
        if (failed(cast))
          return failure();
        v = *cast;
      }
      factors[i] = v;
    }
    FailureOr<Value> r =
        im.elementwise({y, factors[0], factors[1]}, elt,
                       [](OpBuilder &nb, Location l, ValueRange a) -> Value {
                         Value divisor =
                             arith::MulFOp::create(nb, l, a[1], a[2]);
                         return arith::DivFOp::create(nb, l, a[0], divisor);
                       });
    if (failed(r))
      return failure();
    y = *r;
  }
  if (spatial == 1)
    y = im.reshape(y, {outShape[0], outShape[1], outShape[3]});
  im.setOutput(0, y);
  return success();
}

LogicalResult lowerGlobalPool(Importer &im, ReduceKind kind) {
  Value x = im.input(0);
  if (!x || failed(requireFloat(im, x)))
    return failure();
  int64_t rank = Importer::typeOf(x).getRank();
  SmallVector<int64_t> axes;
  for (int64_t i = 2; i < rank; ++i)
    axes.push_back(i);
  im.setOutput(0, im.reduce(x, axes, true, kind));
  return success();
}

/// Col2Im (opset 18): the sum of overlapping sliding blocks back into an
/// image, the inverse layout of im2col. Per block position, one strided
/// window of the padded image takes that position's columns (an add into an
/// extract_slice / insert_slice pair); the pads are cropped at the end.
LogicalResult lowerCol2Im(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  RankedTensorType t = Importer::typeOf(x);
  if (t.getRank() != 3)
    return im.error("Col2Im input must have rank 3 [N, C * prod(block_shape), "
                    "L], not rank " +
                    Twine(t.getRank()));
  const HostTensor *image = im.constInput(1), *block = im.constInput(2);
  if (!image || !block)
    return im.error("Col2Im needs image_shape and block_shape known at "
                    "compile time (initializers or constants)");
  int64_t dims = image->numElements();
  if (dims < 1 || block->numElements() != dims)
    return im.error("Col2Im image_shape and block_shape must have the same, "
                    "non-zero length");
  auto ints = [&](StringRef name, int64_t size,
                  int64_t def) -> FailureOr<SmallVector<int64_t>> {
    std::optional<SmallVector<int64_t>> v = im.attrInts(name);
    if (!v)
      return SmallVector<int64_t>(size, def);
    if (int64_t(v->size()) != size)
      return im.error("Col2Im " + name + " must have " + Twine(size) +
                      " values, not " + Twine(v->size()));
    return *v;
  };
  FailureOr<SmallVector<int64_t>> dilations = ints("dilations", dims, 1);
  FailureOr<SmallVector<int64_t>> strides = ints("strides", dims, 1);
  FailureOr<SmallVector<int64_t>> pads = ints("pads", 2 * dims, 0);
  if (failed(dilations) || failed(strides) || failed(pads))
    return failure();
  int64_t positions = 1, columns = 1;
  SmallVector<int64_t> blocks, counts, paddedSizes;
  for (int64_t d = 0; d < dims; ++d) {
    int64_t size = image->intAt(d), kernel = block->intAt(d);
    int64_t dilation = (*dilations)[d], stride = (*strides)[d];
    int64_t begin = (*pads)[d], end = (*pads)[d + dims];
    if (size < 1 || kernel < 1 || dilation < 1 || stride < 1 || begin < 0 ||
        end < 0 || size > (int64_t(1) << 24) || kernel > (int64_t(1) << 24) ||
        dilation > (int64_t(1) << 24) || begin > (int64_t(1) << 24) ||
        end > (int64_t(1) << 24))
      return im.error("Col2Im spatial axis " + Twine(d) +
                      ": image size, block size, dilation and stride must be "
                      "positive and pads non-negative (at most 2^24)");
    int64_t extent = dilation * (kernel - 1) + 1;
    int64_t total = size + begin + end;
    if (total < extent)
      return im.error("Col2Im spatial axis " + Twine(d) + ": the block spans " +
                      Twine(extent) + ", more than the padded image (" +
                      Twine(total) + ")");
    blocks.push_back(kernel);
    counts.push_back((total - extent) / stride + 1);
    paddedSizes.push_back(total);
    positions *= kernel;
    columns *= counts.back();
    if (positions > 4096)
      return im.error("Col2Im block_shape has more than 4096 positions");
  }
  int64_t n = t.getDimSize(0), channels = t.getDimSize(1);
  if (channels % positions != 0)
    return im.error(
        "Col2Im input has " + Twine(channels) +
        " channels, not a multiple of prod(block_shape) = " + Twine(positions));
  if (t.getDimSize(2) != columns)
    return im.error("Col2Im input has " + Twine(t.getDimSize(2)) +
                    " blocks, but the image, pads, dilations and strides "
                    "give " +
                    Twine(columns));
  int64_t c = channels / positions;
  Type elt = t.getElementType();
  if (!isa<FloatType>(elt) && elt.getIntOrFloatBitWidth() == 1)
    return im.error("Col2Im on booleans is not supported");
  SmallVector<int64_t> expanded = {n, c};
  expanded.append(blocks.begin(), blocks.end());
  expanded.append(counts.begin(), counts.end());
  Value columnsByBlock = im.reshape(x, expanded);
  SmallVector<int64_t> paddedShape = {n, c}, partShape = {n, c};
  paddedShape.append(paddedSizes.begin(), paddedSizes.end());
  partShape.append(counts.begin(), counts.end());
  if (failed(im.checkShape(paddedShape, "the padded Col2Im image")))
    return failure();
  auto partType = RankedTensorType::get(partShape, elt);
  OpBuilder &b = im.builder();
  Value padded = im.fill(paddedShape, elt, 0); // the image with its pads
  auto add = [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
    if (isa<FloatType>(elt))
      return arith::AddFOp::create(nb, l, a[0], a[1]);
    return arith::AddIOp::create(nb, l, a[0], a[1]);
  };
  SmallVector<int64_t> position(dims, 0);
  for (int64_t p = 0; p < positions; ++p) {
    // This block position's columns, [N, C, counts...].
    SmallVector<OpFoldResult> offsets(2, b.getIndexAttr(0)),
        sizes = {b.getIndexAttr(n), b.getIndexAttr(c)};
    for (int64_t d = 0; d < dims; ++d) {
      offsets.push_back(b.getIndexAttr(position[d]));
      sizes.push_back(b.getIndexAttr(1));
    }
    for (int64_t d = 0; d < dims; ++d) {
      offsets.push_back(b.getIndexAttr(0));
      sizes.push_back(b.getIndexAttr(counts[d]));
    }
    SmallVector<OpFoldResult> ones(2 * dims + 2, b.getIndexAttr(1));
    Value part = tensor::ExtractSliceOp::create(
        b, im.loc(), partType, columnsByBlock, offsets, sizes, ones);
    // The image window they add to: every stride-th pixel from the block
    // position's (dilated) offset.
    SmallVector<OpFoldResult> windowOffsets(2, b.getIndexAttr(0)),
        windowSizes = {b.getIndexAttr(n), b.getIndexAttr(c)},
        windowStrides(2, b.getIndexAttr(1));
    for (int64_t d = 0; d < dims; ++d) {
      windowOffsets.push_back(b.getIndexAttr(position[d] * (*dilations)[d]));
      windowSizes.push_back(b.getIndexAttr(counts[d]));
      windowStrides.push_back(b.getIndexAttr((*strides)[d]));
    }
    Value window = tensor::ExtractSliceOp::create(b, im.loc(), partType, padded,
                                                  windowOffsets, windowSizes,
                                                  windowStrides);
    FailureOr<Value> sum = im.elementwise({window, part}, elt, add);
    if (failed(sum))
      return failure();
    padded = tensor::InsertSliceOp::create(
        b, im.loc(), *sum, padded, windowOffsets, windowSizes, windowStrides);
    for (int64_t d = dims - 1; d >= 0 && ++position[d] == blocks[d]; --d)
      position[d] = 0;
  }
  SmallVector<OpFoldResult> cropOffsets(2, b.getIndexAttr(0)),
      cropSizes = {b.getIndexAttr(n), b.getIndexAttr(c)};
  SmallVector<int64_t> outShape = {n, c};
  for (int64_t d = 0; d < dims; ++d) {
    cropOffsets.push_back(b.getIndexAttr((*pads)[d]));
    cropSizes.push_back(b.getIndexAttr(image->intAt(d)));
    outShape.push_back(image->intAt(d));
  }
  SmallVector<OpFoldResult> ones(dims + 2, b.getIndexAttr(1));
  im.setOutput(0, tensor::ExtractSliceOp::create(
                      b, im.loc(), RankedTensorType::get(outShape, elt), padded,
                      cropOffsets, cropSizes, ones));
  return success();
}

} // namespace

void registerConvPoolLowerings(LoweringTable &t) {
  t["Col2Im"] = {lowerCol2Im, 3, 3};
  t["Conv"] = {lowerConv, 2, 3};
  t["MaxPool"] = {[](Importer &im) { return lowerPool(im, true); }};
  t["AveragePool"] = {[](Importer &im) { return lowerPool(im, false); }};
  t["GlobalAveragePool"] = {
      [](Importer &im) { return lowerGlobalPool(im, ReduceKind::Mean); }};
  t["GlobalMaxPool"] = {
      [](Importer &im) { return lowerGlobalPool(im, ReduceKind::Max); }};
}

} // namespace sparsec::onnx_import
