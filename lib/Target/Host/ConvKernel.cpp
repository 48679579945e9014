//===- ConvKernel.cpp - convolutions with pixels along the vectors --------===//
//
// Y[n, o, p] = b[o] + sum_k W[o, k] * X[n, k, p]: the convolution's GEMM with
// the output pixels p contiguous, as in NCHW. X is the im2col matrix in
// [column][pixel] order, or the input itself for a 1x1 convolution with
// stride 1 and no padding, and Y is the NCHW output: no transposes. The
// register tile is MR output channels x NV vectors of pixels; per kept
// column, NV activation-vector loads and MR weight broadcasts (the weights
// packed at compile time, [kept column][MR], as for linear layers).
//
//===----------------------------------------------------------------------===//
#include "PackedGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace sparsec {
namespace {

class ConvKernelBuilder {
public:
  ConvKernelBuilder(OpBuilder &b, Location loc, int64_t vectorWidth,
                    int64_t channelsPerTile, int64_t pixelVectors)
      : b(b), loc(loc), vw(vectorWidth), mr(channelsPerTile), nv(pixelVectors),
        vecType(VectorType::get({vw}, b.getF32Type())) {}

  void build(const PackedWeight &weight, Value input, Value values,
             Value columns, Value offsets, Value bias, Value output) {
    this->input = input;
    this->values = values;
    this->columns = columns;
    this->bias = bias;
    this->output = output;
    auto inType = cast<RankedTensorType>(input.getType());
    batch = inType.getDimSize(0);
    cols = inType.getDimSize(1);
    pixels = inType.getDimSize(2);
    dense = weight.everyPanelDense();
    int64_t fullPanels = weight.rows / mr;
    auto panelLoop = [&](int64_t first, int64_t count, int64_t rows) {
      scf::ParallelOp::create(b, loc, ValueRange{index(0), index(first)},
                              ValueRange{index(batch), index(first + count)},
                              ValueRange{index(1), index(1)},
                              [&](OpBuilder &nb, Location, ValueRange ivs) {
                                OpBuilder::InsertionGuard guard(b);
                                b.setInsertionPoint(nb.getInsertionBlock(),
                                                    nb.getInsertionPoint());
                                emitPanel(ivs[0], ivs[1], offsets, rows);
                              });
    };
    if (fullPanels > 0)
      panelLoop(0, fullPanels, mr);
    if (fullPanels < weight.panels)
      panelLoop(fullPanels, 1, weight.rows - fullPanels * mr);
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  void emitPanel(Value image, Value panel, Value offsets, int64_t rows) {
    Value first, last;
    std::tie(first, last) =
        kernel::panelRows(b, loc, panel, dense, cols, offsets);
    Value firstChannel = arith::MulIOp::create(b, loc, panel, index(mr));
    int64_t block = nv * vw, fullBlocks = pixels / block;
    if (fullBlocks > 0)
      scf::ForOp::create(
          b, loc, index(0), index(fullBlocks * block), index(block),
          ValueRange{}, [&](OpBuilder &nb, Location, Value pixel, ValueRange) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
            emitTile(image, firstChannel, rows, pixel, first, last,
                     /*partial=*/false);
            scf::YieldOp::create(b, loc);
          });
    if (fullBlocks * block < pixels)
      emitTile(image, firstChannel, rows, index(fullBlocks * block), first,
               last, /*partial=*/true);
  }

  void emitTile(Value image, Value firstChannel, int64_t rows, Value pixel,
                Value first, Value last, bool partial) {
    SmallVector<Value> pixelIndex, masks, channelIndex, init;
    for (int64_t j = 0; j < nv; ++j) {
      pixelIndex.push_back(
          j == 0 ? pixel
                 : arith::AddIOp::create(b, loc, pixel, index(j * vw))
                       .getResult());
      if (partial)
        masks.push_back(kernel::tailMask(b, loc, pixels, pixelIndex[j], vw));
    }
    for (int64_t i = 0; i < rows; ++i) {
      channelIndex.push_back(
          i == 0 ? firstChannel
                 : arith::AddIOp::create(b, loc, firstChannel, index(i))
                       .getResult());
      Value biasValue =
          memref::LoadOp::create(b, loc, bias, ValueRange{channelIndex[i]});
      init.push_back(vector::BroadcastOp::create(b, loc, vecType, biasValue));
    }
    SmallVector<Value> accumulators;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < nv; ++j)
        accumulators.push_back(init[i]);

    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    auto loop = scf::ForOp::create(
        b, loc, first, last, index(1), accumulators,
        [&](OpBuilder &nb, Location, Value packedRow, ValueRange acc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value column =
              kernel::keptColumn(b, loc, packedRow, first, dense, columns);
          // Read as a tensor so that one-shot bufferization sees the read.
          SmallVector<Value> x;
          for (int64_t j = 0; j < nv; ++j)
            x.push_back(vector::TransferReadOp::create(
                b, loc, vecType, input,
                ValueRange{image, column, pixelIndex[j]}, zero,
                ArrayRef<bool>{!partial}));
          SmallVector<Value> next;
          for (int64_t i = 0; i < rows; ++i) {
            Value w = memref::LoadOp::create(b, loc, values,
                                             ValueRange{packedRow, index(i)});
            Value splat = vector::BroadcastOp::create(b, loc, vecType, w);
            for (int64_t j = 0; j < nv; ++j)
              next.push_back(
                  vector::FMAOp::create(b, loc, splat, x[j], acc[i * nv + j]));
          }
          scf::YieldOp::create(b, loc, next);
        });
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < nv; ++j) {
        SmallVector<Value, 3> at = {image, channelIndex[i], pixelIndex[j]};
        kernel::store(b, loc, loop.getResult(i * nv + j), output, at,
                      partial ? masks[j] : Value());
      }
  }

  OpBuilder &b;
  Location loc;
  int64_t vw, mr, nv;
  VectorType vecType;
  bool dense = true;
  int64_t batch = 0, cols = 0, pixels = 0;
  Value input, values, columns, bias, output;
};

} // namespace

ConvTiling ConvTiling::forVectorWidth(int64_t vectorWidth) {
  // Accumulators + activation vectors + one broadcast within the register
  // file: 16 + 2 + 1 of AVX-512's 32, 12 + 3 + 1 of AVX2's 16.
  if (vectorWidth >= 16)
    return {vectorWidth, 8, 2};
  if (vectorWidth == 8)
    return {vectorWidth, 4, 3};
  return {vectorWidth, 4, 2};
}

Value emitChannelMajorConv(OpBuilder &b, Location loc, ModuleOp module,
                           Value input, const PackedWeight &weight,
                           const ConvTiling &tiling, StringRef symbolPrefix) {
  auto inType = cast<RankedTensorType>(input.getType());
  int64_t batch = inType.getDimSize(0), pixels = inType.getDimSize(2);
  Type f32 = b.getF32Type();
  auto output = memref::AllocOp::create(
      b, loc, MemRefType::get({batch, weight.rows, pixels}, f32),
      b.getI64IntegerAttr(64));
  output->setAttr(
      "sparsec.cpu.kernel",
      b.getDictionaryAttr({
          b.getNamedAttr("kind", b.getStringAttr(weight.everyPanelDense()
                                                     ? "conv_dense"
                                                     : "conv_kept_columns")),
          b.getNamedAttr("panels", b.getI64IntegerAttr(weight.panels)),
          b.getNamedAttr("kept_columns",
                         b.getI64IntegerAttr(weight.columns.size())),
          b.getNamedAttr("vector_width",
                         b.getI64IntegerAttr(tiling.vectorWidth)),
          b.getNamedAttr("tile_channels",
                         b.getI64IntegerAttr(tiling.channelsPerTile)),
          b.getNamedAttr("tile_pixel_vectors",
                         b.getI64IntegerAttr(tiling.pixelVectors)),
      }));
  PackedGlobals globals =
      createPackedGlobals(b, loc, module, weight, symbolPrefix);
  ConvKernelBuilder(b, loc, tiling.vectorWidth, tiling.channelsPerTile,
                    tiling.pixelVectors)
      .build(weight, input, globals.values, globals.columns, globals.offsets,
             globals.bias, output);
  return bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get({batch, weight.rows, pixels}, f32), output,
      /*restrict=*/true, /*writable=*/true);
}

} // namespace sparsec
