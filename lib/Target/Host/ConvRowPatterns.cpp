//===- ConvRowPatterns.cpp - convolutions as row patterns -----------------===//
//
// The row-pattern kernel (RowPatternGemm.h) on a convolution's GEMM view:
// the output pixels already run along the vectors, so no transpose is
// needed. Output channels go in panels of four; per panel, each kept
// column (c, kh, kw) feeds a pattern of those channels, and the code of
// each pattern loops over its columns: per column one offset load, NV
// activation vectors read once and multiplied by the broadcast weights of
// exactly the pattern's channels. Only the nonzero MACs are done, with the
// activations reused across the panel's channels (where the row-sparse
// form reloads them for every channel).
//
//===----------------------------------------------------------------------===//
#include "PackedGemm.h"
#include "RowPatternGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace sparsec {
namespace {

class ConvRowPatternBuilder {
public:
  ConvRowPatternBuilder(OpBuilder &b, Location loc, int64_t vectorWidth,
                        int64_t vectors, const VectorEpilogue &epilogue)
      : b(b), loc(loc), vw(vectorWidth), nv(vectors),
        vecType(VectorType::get({vw}, b.getF32Type())), epilogue(epilogue) {}

  void build(const RowPatternWeight &weight, const ConvActivations &activations,
             const PixelTiles &tiles, const PatternTables &tables,
             Value offsets, Value output) {
    this->tables = tables;
    this->offsets = offsets;
    this->output = output;
    input = activations.flat;
    int64_t batch = cast<RankedTensorType>(input.getType()).getDimSize(0);
    // One (image, pixel block, panel) tile per iteration, the same
    // instructions whatever thread runs it.
    auto blockLoop = [&](int64_t first, int64_t last, bool masked) {
      if (first >= last)
        return;
      kernel::parallelKernelLoop(
          b, loc, {0, first, 0}, {batch, last, weight.panels},
          [&](ValueRange ivs) {
            Value pixel =
                arith::MulIOp::create(b, loc, ivs[1], index(tiles.block));
            emitTile(ivs[0], ivs[2], pixel, nv, masked);
          });
    };
    blockLoop(0, tiles.safeBlocks, false);
    blockLoop(tiles.safeBlocks, tiles.fullBlocks, true);
    if (tiles.tailVectors)
      kernel::parallelKernelLoop(
          b, loc, {0, 0}, {batch, weight.panels}, [&](ValueRange ivs) {
            emitTile(ivs[0], ivs[1], index(tiles.tailStart), tiles.tailVectors,
                     tiles.tailMasked);
          });
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  void emitTile(Value image, Value panel, Value pixel, int64_t vectors,
                bool masked) {
    constexpr int64_t mr = RowPatternWeight::kPanelRows;
    SmallVector<Value> pixelIndex, rows, acc;
    for (int64_t v = 0; v < vectors; ++v)
      pixelIndex.push_back(arith::AddIOp::create(b, loc, pixel, index(v * vw)));
    Value firstRow = arith::MulIOp::create(b, loc, panel, index(mr));
    for (int64_t i = 0; i < mr; ++i) {
      rows.push_back(arith::AddIOp::create(b, loc, firstRow, index(i)));
      Value init = vector::BroadcastOp::create(
          b, loc, vecType,
          memref::LoadOp::create(b, loc, tables.bias, ValueRange{rows[i]}));
      acc.append(vectors, init);
    }
    // One chunk of columns: the panel's runs start at panel * 17.
    emitPatternRuns(b, loc, tables, panel, acc, [&](Value entry) {
      Value offset = kernel::loadIndex(b, loc, offsets, entry);
      Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
      SmallVector<Value> x;
      for (int64_t v = 0; v < vectors; ++v)
        x.push_back(vector::TransferReadOp::create(
            b, loc, vecType, input,
            ValueRange{image,
                       arith::AddIOp::create(b, loc, offset, pixelIndex[v])},
            zero, ArrayRef<bool>{!masked}));
      return x;
    });
    for (int64_t i = 0; i < mr; ++i)
      for (int64_t v = 0; v < vectors; ++v)
        kernel::store(b, loc, acc[i * vectors + v], output,
                      ValueRange{image, rows[i], pixelIndex[v]}, Value(),
                      epilogue);
  }

  OpBuilder &b;
  Location loc;
  int64_t vw, nv;
  VectorType vecType;
  VectorEpilogue epilogue;
  PatternTables tables;
  Value input, offsets, output;
};

} // namespace

bool preferRowPatternConv(const RowPatternWeight &weight, double keptWork,
                          int64_t pixels, int64_t vectorWidth) {
  // Per pixel, in channel-tile MACs: a pattern MAC costs about 1.5 (the
  // broadcast of each weight), on the pixels rounded up to whole vectors
  // (the channel tiles compute exactly the pixels), and each of a panel's
  // 15 pattern loops about 2.5 more (10 cycles of a 64-pixel tile, one
  // 16-lane FMA a cycle). Fitted to bench/results/cpu_conv.md: 2:4 and
  // HiNM pay on 3x3 layers and on ResNet's stem (147 columns: 1.6x over the
  // channel tiles at HiNM 75 %), and break even on 1x1 layers on 7x7
  // images.
  constexpr double patternMacCost = 1.5, loopCost = 15 * 2.5;
  int64_t computed = (pixels + vectorWidth - 1) / vectorWidth * vectorWidth;
  double cost = double(weight.nonzeros()) * patternMacCost * double(computed) /
                    double(pixels) +
                double(weight.panels) * loopCost;
  return cost < keptWork;
}

Value emitRowPatternConv(OpBuilder &b, Location loc, ModuleOp module,
                         const ConvActivations &activations,
                         const RowPatternWeight &weight,
                         const ConvTiling &tiling, StringRef symbolPrefix,
                         const VectorEpilogue &epilogue) {
  int64_t vw = tiling.vectorWidth;
  // 4 channels x NV vectors of accumulators: 16 of AVX-512's and NEON's 32
  // registers, 8 of AVX2's 16.
  int64_t vectors = rowPatternConvVectors(vw);
  auto inType = cast<RankedTensorType>(activations.flat.getType());
  int64_t batch = inType.getDimSize(0);
  PixelTiles tiles(activations, inType.getDimSize(1), vw, vectors,
                   /*channelsPerTile=*/0);
  int64_t paddedRows = weight.panels * RowPatternWeight::kPanelRows;
  Type f32 = b.getF32Type();
  auto output = memref::AllocOp::create(
      b, loc, MemRefType::get({batch, paddedRows, tiles.computed}, f32),
      b.getI64IntegerAttr(64));
  output->setAttr(
      "sparsec.cpu.kernel",
      b.getDictionaryAttr({
          b.getNamedAttr("kind", b.getStringAttr("conv_row_patterns")),
          b.getNamedAttr("panels", b.getI64IntegerAttr(weight.panels)),
          b.getNamedAttr("nonzeros", b.getI64IntegerAttr(weight.nonzeros())),
          b.getNamedAttr("vector_width", b.getI64IntegerAttr(vw)),
          b.getNamedAttr("tile_pixel_vectors", b.getI64IntegerAttr(vectors)),
          b.getNamedAttr("im2col", b.getBoolAttr(activations.im2col)),
      }));
  std::string prefix = symbolPrefix.str();
  PatternTables tables = createPatternTables(b, loc, module, weight, prefix);
  // The activation offset of each entry's column.
  std::vector<int32_t> entryOffsets;
  for (int32_t column : weight.columns)
    entryOffsets.push_back(activations.columnOffsets[column]);
  Value offsets =
      createInt32Global(b, loc, module, prefix + "_x", entryOffsets);
  ConvRowPatternBuilder(b, loc, vw, vectors, epilogue)
      .build(weight, activations, tiles, tables, offsets, output);
  Value result = bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get({batch, paddedRows, tiles.computed}, f32),
      output,
      /*restrict=*/true, /*writable=*/true);
  if (paddedRows != weight.rows)
    result = tensor::ExtractSliceOp::create(
        b, loc,
        RankedTensorType::get({batch, weight.rows, tiles.computed}, f32),
        result, ValueRange{}, ValueRange{}, ValueRange{},
        b.getDenseI64ArrayAttr({0, 0, 0}),
        b.getDenseI64ArrayAttr({batch, weight.rows, tiles.computed}),
        b.getDenseI64ArrayAttr({1, 1, 1}));
  return result;
}

} // namespace sparsec
