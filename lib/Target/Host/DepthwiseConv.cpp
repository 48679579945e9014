//===- DepthwiseConv.cpp - depthwise convolutions in one pass -------------===//
//
// One thread computes one (image, output channel) plane, row by row, with
// vectors of output pixels along x. Per output vector and tap, one vector of
// input pixels is read where it lies (two and an even-lane shuffle for a
// horizontal stride of 2) and multiplied by the tap's weight, broadcast once
// per plane. Padding is never materialised; it is known at compile time:
//   - rows: a row whose taps all fall inside the input runs in one loop; the
//     few others (the top and bottom borders) are emitted one by one with
//     only their valid tap rows;
//   - columns: a chunk of vectors whose reads all lie inside the row runs
//     unmasked (in a loop when there are several); the border chunks read
//     with masks (zeros past the row's end) and lane shifts (zeros before
//     its start).
//
//===----------------------------------------------------------------------===//
#include "DepthwiseConv.h"
#include "PackedGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <limits>

using namespace mlir;

namespace sparsec {
namespace {

/// One spatial dimension: tap t of output position o reads input position
/// o * stride + t * dilation - pad.
struct Axis {
  int64_t in, out, taps, stride, dilation, pad;
  int64_t offset(int64_t tap) const { return tap * dilation - pad; }
  bool inside(int64_t o, int64_t tap) const {
    int64_t at = o * stride + offset(tap);
    return at >= 0 && at < in;
  }
};

class DepthwiseBuilder {
public:
  DepthwiseBuilder(OpBuilder &b, Location loc, Axis rows, Axis cols,
                   int64_t multiplier, int64_t vectorWidth,
                   int64_t chunkVectors, const VectorEpilogue &epilogue)
      : b(b), loc(loc), rows(rows), cols(cols), multiplier(multiplier),
        vw(vectorWidth), nv(chunkVectors),
        vecType(VectorType::get({vw}, b.getF32Type())), epilogue(epilogue) {}

  void build(int64_t batch, int64_t channels, Value input, Value weights,
             Value bias, Value output) {
    this->input = input;
    this->output = output;
    kernel::parallelKernelLoop(
        b, loc, {0, 0}, {batch, channels}, [&](ValueRange ivs) {
          image = ivs[0];
          channel = ivs[1];
          inChannel =
              multiplier == 1
                  ? channel
                  : arith::DivUIOp::create(b, loc, channel, index(multiplier))
                        .getResult();
          zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
          zeroVector = arith::ConstantOp::create(
              b, loc, DenseElementsAttr::get(vecType, 0.0f));
          int64_t taps = rows.taps * cols.taps;
          Value base = arith::MulIOp::create(b, loc, channel, index(taps));
          tapWeights.clear();
          for (int64_t t = 0; t < taps; ++t)
            tapWeights.push_back(vector::BroadcastOp::create(
                b, loc, vecType,
                memref::LoadOp::create(b, loc, weights,
                                       ValueRange{arith::AddIOp::create(
                                           b, loc, base, index(t))})));
          biasVector = vector::BroadcastOp::create(
              b, loc, vecType,
              memref::LoadOp::create(b, loc, bias, ValueRange{channel}));
          emitRows();
        });
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// The tap rows of output row `y` that read inside the input.
  SmallVector<int64_t> tapRowsOf(int64_t y) const {
    SmallVector<int64_t> taps;
    for (int64_t i = 0; i < rows.taps; ++i)
      if (rows.inside(y, i))
        taps.push_back(i);
    return taps;
  }

  void emitRows() {
    // The interior rows [first, last): every tap row inside the input.
    int64_t first = 0, last = rows.out;
    while (first < rows.out && int64_t(tapRowsOf(first).size()) != rows.taps)
      ++first;
    while (last > first && int64_t(tapRowsOf(last - 1).size()) != rows.taps)
      --last;
    for (int64_t y = 0; y < first; ++y)
      emitRow(index(y), tapRowsOf(y));
    if (first < last) {
      SmallVector<int64_t> all;
      for (int64_t i = 0; i < rows.taps; ++i)
        all.push_back(i);
      kernel::forLoop(b, loc, index(first), index(last), 1,
                      [&](Value y) { emitRow(y, all); });
    }
    for (int64_t y = std::max(first, last); y < rows.out; ++y)
      emitRow(index(y), tapRowsOf(y));
  }

  /// Input columns a vector of outputs starting at x0 reads for one tap:
  /// [start, start + span).
  int64_t span() const { return cols.stride * vw; }
  /// Whether every vector of chunk `c` is whole and reads inside the row.
  bool plainChunk(int64_t c) const {
    int64_t vectors = llvm::divideCeil(cols.out, vw);
    for (int64_t v = c * nv; v < std::min((c + 1) * nv, vectors); ++v) {
      int64_t x0 = v * vw;
      if (x0 + vw > cols.out)
        return false;
      for (int64_t j = 0; j < cols.taps; ++j) {
        int64_t start = x0 * cols.stride + cols.offset(j);
        if (start < 0 || start + span() > cols.in)
          return false;
      }
    }
    return true;
  }

  void emitRow(Value y, ArrayRef<int64_t> tapRows) {
    SmallVector<Value> inRows;
    for (int64_t i : tapRows) {
      Value at = arith::MulIOp::create(b, loc, y, index(rows.stride));
      inRows.push_back(
          arith::AddIOp::create(b, loc, at, index(rows.offset(i))));
    }
    int64_t vectors = llvm::divideCeil(cols.out, vw);
    int64_t chunks = llvm::divideCeil(vectors, nv);
    for (int64_t c = 0; c < chunks;) {
      int64_t end = c;
      while (end < chunks && plainChunk(end))
        ++end;
      if (end - c >= 2) {
        // A run of plain chunks: one loop with the chunk's first pixel
        // computed at run time.
        kernel::forLoop(b, loc, index(c), index(end), 1, [&](Value chunk) {
          Value x0 = arith::MulIOp::create(b, loc, chunk, index(nv * vw));
          emitChunk(y, tapRows, inRows, x0, std::nullopt, nv);
        });
        c = end;
        continue;
      }
      int64_t count = std::min(nv, vectors - c * nv);
      emitChunk(y, tapRows, inRows, index(c * nv * vw), c * nv * vw, count);
      ++c;
    }
  }

  /// `count` output vectors of row `y` starting at pixel `x0` (known at
  /// compile time for border chunks, which may need masks and shifts).
  void emitChunk(Value y, ArrayRef<int64_t> tapRows, ArrayRef<Value> inRows,
                 Value x0, std::optional<int64_t> staticX0, int64_t count) {
    SmallVector<Value> acc(count, biasVector), xs;
    for (int64_t v = 0; v < count; ++v)
      xs.push_back(
          v == 0
              ? x0
              : arith::AddIOp::create(b, loc, x0, index(v * vw)).getResult());
    for (auto [i, inRow] : llvm::zip_equal(tapRows, inRows))
      for (int64_t j = 0; j < cols.taps; ++j) {
        Value w = tapWeights[i * cols.taps + j];
        for (int64_t v = 0; v < count; ++v) {
          Value x = staticX0
                        ? readBorder(inRow, (*staticX0 + v * vw) * cols.stride +
                                                cols.offset(j))
                        : readInside(inRow, xs[v], cols.offset(j));
          acc[v] = vector::FMAOp::create(b, loc, w, x, acc[v]);
        }
      }
    for (int64_t v = 0; v < count; ++v) {
      Value mask;
      if (staticX0 && *staticX0 + (v + 1) * vw > cols.out)
        mask = kernel::tailMask(b, loc, cols.out, xs[v], vw);
      kernel::store(b, loc, acc[v], output,
                    ValueRange{image, channel, y, xs[v]}, mask, epilogue);
    }
  }

  Value read(Value row, Value column, bool inBounds) {
    return vector::TransferReadOp::create(
        b, loc, vecType, input, ValueRange{image, inChannel, row, column}, zero,
        ArrayRef<bool>{inBounds});
  }

  /// Lanes 0, 2, 4, ... of the 2 x vw pixels in `low` and `high`, with
  /// lanes whose source index in `sources` is negative set to zero.
  Value evenLanes(Value low, Value high, ArrayRef<int64_t> sources) {
    SmallVector<int64_t> mask;
    SmallVector<bool> keep;
    for (int64_t s : sources) {
      mask.push_back(std::max<int64_t>(s, 0));
      keep.push_back(s >= 0);
    }
    Value picked = vector::ShuffleOp::create(b, loc, low, high, mask);
    if (llvm::all_of(keep, [](bool k) { return k; }))
      return picked;
    Value keepMask = arith::ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(VectorType::get({vw}, b.getI1Type()), keep));
    return arith::SelectOp::create(b, loc, keepMask, picked, zeroVector);
  }

  /// The tap's input pixels for an interior vector: x0 * stride + offset
  /// is inside the row, and so is the whole span.
  Value readInside(Value row, Value x0, int64_t offset) {
    Value start = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, x0, index(cols.stride)),
        index(offset));
    if (cols.stride == 1)
      return read(row, start, /*inBounds=*/true);
    Value low = read(row, start, true);
    Value high =
        read(row, arith::AddIOp::create(b, loc, start, index(vw)), true);
    SmallVector<int64_t> sources;
    for (int64_t l = 0; l < vw; ++l)
      sources.push_back(2 * l);
    return evenLanes(low, high, sources);
  }

  /// The tap's input pixels [start, start + span) (every stride-th) at a
  /// border: reads past the row's end are masked to zero, pixels before
  /// its start are shifted in as zeros.
  Value readBorder(Value row, int64_t start) {
    int64_t from = std::max<int64_t>(start, 0);
    if (cols.stride == 1) {
      Value x = read(row, index(from), from + vw <= cols.in);
      if (start >= 0)
        return x;
      SmallVector<int64_t> mask;
      for (int64_t l = 0; l < vw; ++l)
        mask.push_back(start + l < 0 ? 0 : vw + start + l);
      return vector::ShuffleOp::create(b, loc, zeroVector, x, mask);
    }
    Value low = read(row, index(from), from + vw <= cols.in);
    Value high = read(row, index(from + vw), from + 2 * vw <= cols.in);
    SmallVector<int64_t> sources;
    for (int64_t l = 0; l < vw; ++l)
      sources.push_back(start + 2 * l - from);
    return evenLanes(low, high, sources);
  }

  OpBuilder &b;
  Location loc;
  Axis rows, cols;
  int64_t multiplier, vw, nv;
  VectorType vecType;
  VectorEpilogue epilogue;
  Value input, output, image, channel, inChannel, zero, zeroVector, biasVector;
  SmallVector<Value> tapWeights;
};

/// Output vectors per chunk: enough independent FMA chains, with the
/// broadcast tap weights (9 for 3x3) and the chunk's accumulators and reads
/// inside AVX2's 16 registers or the 32 of AVX-512 and NEON.
int64_t chunkVectors(int64_t vectorWidth) { return vectorWidth == 8 ? 2 : 4; }

} // namespace

bool isDirectDepthwise(Conv2DOp op) {
  RankedTensorType inType = op.getInput().getType();
  RankedTensorType wType = op.getWeight().getType();
  RankedTensorType outType = op.getResult().getType();
  if (!inType.hasStaticShape() || !outType.hasStaticShape() ||
      !wType.hasStaticShape() || !inType.getElementType().isF32())
    return false;
  int64_t channels = inType.getDimSize(1);
  if (op.getGroups() < 2 || int64_t(op.getGroups()) != channels ||
      wType.getDimSize(1) != 1 || outType.getDimSize(1) % channels != 0)
    return false;
  ArrayRef<int64_t> strides = op.getStrides();
  // Row strides are scalar index arithmetic; a column stride is a shuffle.
  return strides.size() == 2 && strides[0] >= 1 &&
         (strides[1] == 1 || strides[1] == 2) &&
         inType.getNumElements() < std::numeric_limits<int32_t>::max() &&
         outType.getNumElements() < std::numeric_limits<int32_t>::max();
}

Value emitDepthwiseConv(OpBuilder &b, Location loc, ModuleOp module,
                        Conv2DOp op, ArrayRef<float> weights,
                        ArrayRef<float> bias, int64_t vectorWidth,
                        StringRef symbolPrefix,
                        const VectorEpilogue &epilogue) {
  RankedTensorType inType = op.getInput().getType();
  RankedTensorType wType = op.getWeight().getType();
  RankedTensorType outType = op.getResult().getType();
  ArrayRef<int64_t> pads = op.getPads(), strides = op.getStrides(),
                    dilations = op.getDilations();
  int64_t batch = outType.getDimSize(0), channels = outType.getDimSize(1);
  Axis rows{inType.getDimSize(2), outType.getDimSize(2), wType.getDimSize(2),
            strides[0],           dilations[0],          pads[0]};
  Axis cols{inType.getDimSize(3), outType.getDimSize(3), wType.getDimSize(3),
            strides[1],           dilations[1],          pads[1]};
  int64_t chunk = chunkVectors(vectorWidth);
  auto output = memref::AllocOp::create(
      b, loc, MemRefType::get(outType.getShape(), b.getF32Type()),
      b.getI64IntegerAttr(64));
  output->setAttr(
      "sparsec.cpu.kernel",
      b.getDictionaryAttr({
          b.getNamedAttr("kind", b.getStringAttr("conv_depthwise")),
          b.getNamedAttr("vector_width", b.getI64IntegerAttr(vectorWidth)),
          b.getNamedAttr("tile_pixel_vectors", b.getI64IntegerAttr(chunk)),
          b.getNamedAttr("multiplier",
                         b.getI64IntegerAttr(channels / inType.getDimSize(1))),
      }));
  std::string prefix = symbolPrefix.str();
  std::vector<float> paddedBias(bias.begin(), bias.end());
  paddedBias.resize(channels, 0.0f);
  Value weightGlobal =
      createFloatGlobal(b, loc, module, prefix + "_w",
                        std::vector<float>(weights.begin(), weights.end()));
  Value biasGlobal =
      createFloatGlobal(b, loc, module, prefix + "_b", paddedBias);
  DepthwiseBuilder(b, loc, rows, cols, channels / inType.getDimSize(1),
                   vectorWidth, chunk, epilogue)
      .build(batch, channels, op.getInput(), weightGlobal, biasGlobal, output);
  return bufferization::ToTensorOp::create(b, loc, outType, output,
                                           /*restrict=*/true,
                                           /*writable=*/true);
}

} // namespace sparsec
