//===- ConvKernel.cpp - convolutions with pixels along the vectors --------===//
//
// Y[n, o, q] = b[o] + sum_k W[o, k] * X[n, offset[k] + q]: the convolution's
// GEMM with the output pixels q contiguous, as in NCHW. X is one flat row of
// floats per image and column k of the GEMM view starts at offset[k]: for a
// stride-1 convolution X is the padded input itself and offset[(c, i, j)] =
// c*H*W + i*dh*W + j*dw (a direct convolution: no im2col copy); for a strided
// one it is the im2col matrix. The register tile is MR output channels x NV
// vectors of pixels; per kept column, one offset load, NV activation-vector
// loads and MR weight broadcasts (the weights packed at compile time,
// [kept column][MR], as for linear layers). Pixel blocks are the outer loop
// and channel panels the inner one, so a block's activations stay in cache
// while every panel reads them. When a block's activations for every column
// would not fit in L1 (a 1x1 convolution with 512 channels reads 96 KB per
// block of 48 pixels), dense layers split their columns into chunks that do:
// each chunk runs over a group of panels before the next starts, and the
// accumulators pass through the output buffer between chunks.
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

/// The pixel blocks of `block` pixels covering `activations.pixels`, and how
/// many of them come first whose reads stay inside a row of `length` floats
/// for every column (a block reads [offset + start, offset + start + block));
/// the others take masked reads.
std::pair<int64_t, int64_t> pixelBlocks(const ConvActivations &activations,
                                        int64_t length, int64_t block) {
  int64_t blocks = llvm::divideCeil(activations.pixels, block);
  int64_t maxOffset = *llvm::max_element(activations.columnOffsets);
  return {std::clamp<int64_t>((length - maxOffset) / block, 0, blocks), blocks};
}

class ConvKernelBuilder {
public:
  ConvKernelBuilder(OpBuilder &b, Location loc, const ConvTiling &tiling,
                    const VectorEpilogue &epilogue)
      : b(b), loc(loc), vw(tiling.vectorWidth), mr(tiling.channelsPerTile),
        nv(tiling.pixelVectors), weightVectors(tiling.weightVectors),
        vecType(VectorType::get({vw}, b.getF32Type())), epilogue(epilogue) {}

  /// Emits the loops over (image, pixel block, panel) writing `output`
  /// ([N, O, blocks * block]).
  void build(const PackedWeight &weight, const ConvActivations &activations,
             const PixelTiles &tiles, int64_t chunkColumns, Value values,
             Value columnOffsets, Value panelOffsets, Value bias,
             Value output) {
    this->input = activations.flat;
    this->values = values;
    this->columnOffsets = columnOffsets;
    this->bias = bias;
    this->output = output;
    auto inType = cast<RankedTensorType>(input.getType());
    int64_t batch = inType.getDimSize(0);
    dense = weight.everyPanelDense();
    cols = weight.cols;
    int64_t fullPanels = weight.rows / mr;
    // Every (image, block, panel) tile is computed by one thread with the
    // same instructions whichever thread runs it: the same bits at any
    // thread count.
    // Full panels of MR channels, then the partial one.
    auto panelRanges = [&](auto emit) {
      if (fullPanels > 0)
        emit(0, fullPanels, mr);
      if (fullPanels < weight.panels)
        emit(fullPanels, weight.panels, weight.rows - fullPanels * mr);
    };
    auto blockLoops = [&](int64_t firstBlock, int64_t lastBlock, bool masked) {
      if (firstBlock >= lastBlock)
        return;
      panelRanges([&](int64_t firstPanel, int64_t lastPanel, int64_t rows) {
        if (chunkColumns > 0 && chunkColumns < cols && rows == mr) {
          emitChunkedBlocks(batch, firstBlock, lastBlock, firstPanel, lastPanel,
                            chunkColumns, masked, tiles.block);
          return;
        }
        kernel::parallelKernelLoop(
            b, loc, {0, firstBlock, firstPanel}, {batch, lastBlock, lastPanel},
            [&](ValueRange ivs) {
              Value pixel =
                  arith::MulIOp::create(b, loc, ivs[1], index(tiles.block));
              emitTile(ivs[0], ivs[2], pixel, panelOffsets, rows, nv, masked);
            });
      });
    };
    if (panelOuter(tiles)) {
      emitPanelOuter(batch, tiles, panelRanges, panelOffsets);
      return;
    }
    blockLoops(0, tiles.safeBlocks, false);
    blockLoops(tiles.safeBlocks, tiles.fullBlocks, true);
    // The tail tile and the lane pixels of a panel: one parallel loop.
    if (tiles.tailVectors || tiles.remainder)
      panelRanges([&](int64_t firstPanel, int64_t lastPanel, int64_t rows) {
        kernel::parallelKernelLoop(
            b, loc, {0, firstPanel}, {batch, lastPanel}, [&](ValueRange ivs) {
              if (tiles.tailVectors)
                emitTile(ivs[0], ivs[1], index(tiles.tailStart), panelOffsets,
                         rows, tiles.tailVectors, tiles.tailMasked);
              if (tiles.remainder)
                emitRemainder(ivs[0], ivs[1], panelOffsets, tiles, rows);
            });
      });
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// Whether an image is so small (a few pixel blocks) that each panel
  /// should run all of its pixels at once. Block by block, every block and
  /// then the tail and the lane pixels streamed all the panels' weights
  /// again: on 7 x 7 images the lane pixels' pass alone, 2 % of the FMAs,
  /// took 17 % of the layer's time, reading the weights from memory.
  static bool panelOuter(const PixelTiles &tiles) {
    constexpr int64_t kMaxPanelOuterBlocks = 4;
    return tiles.fullBlocks <= kMaxPanelOuterBlocks &&
           (tiles.tailVectors || tiles.remainder);
  }

  /// Per (image, panel), one parallel loop: the full blocks, the tail and
  /// the lane pixels, while the panel's weights are in cache.
  template <typename PanelRanges>
  void emitPanelOuter(int64_t batch, const PixelTiles &tiles,
                      PanelRanges panelRanges, Value panelOffsets) {
    panelRanges([&](int64_t firstPanel, int64_t lastPanel, int64_t rows) {
      kernel::parallelKernelLoop(
          b, loc, {0, firstPanel}, {batch, lastPanel}, [&](ValueRange ivs) {
            auto blocks = [&](int64_t firstBlock, int64_t lastBlock,
                              bool masked) {
              for (int64_t block = firstBlock; block < lastBlock; ++block)
                emitTile(ivs[0], ivs[1], index(block * tiles.block),
                         panelOffsets, rows, nv, masked);
            };
            blocks(0, tiles.safeBlocks, false);
            blocks(tiles.safeBlocks, tiles.fullBlocks, true);
            if (tiles.tailVectors)
              emitTile(ivs[0], ivs[1], index(tiles.tailStart), panelOffsets,
                       rows, tiles.tailVectors, tiles.tailMasked);
            if (tiles.remainder)
              emitRemainder(ivs[0], ivs[1], panelOffsets, tiles, rows);
          });
    });
  }

  /// Columns [first, last) of a dense panel's column loop: the tile starts
  /// from the partial sums in the output (`resume`) rather than the bias,
  /// and `finish` applies the epilogue when it stores.
  struct ColumnChunk {
    Value first, last;
    bool resume = false, finish = true;
  };

  /// Runs the full panels [firstPanel, lastPanel) over blocks [firstBlock,
  /// lastBlock) in chunks of `chunkColumns` dense columns: per (image,
  /// block, group of panels), every panel of the group does one chunk
  /// before any does the next, so the chunk's activations stay in L1.
  void emitChunkedBlocks(int64_t batch, int64_t firstBlock, int64_t lastBlock,
                         int64_t firstPanel, int64_t lastPanel,
                         int64_t chunkColumns, bool masked, int64_t block) {
    // Enough groups for the threads to share (kMinParallelTiles tiles), each
    // as many panels as that leaves: a chunk is read once per group.
    constexpr int64_t kMinParallelTiles = 16;
    int64_t panels = lastPanel - firstPanel;
    int64_t tiles = batch * (lastBlock - firstBlock);
    int64_t groupSize = llvm::divideCeil(
        panels,
        std::min<int64_t>(panels, llvm::divideCeil(kMinParallelTiles, tiles)));
    int64_t groups = llvm::divideCeil(panels, groupSize);
    int64_t chunks = llvm::divideCeil(cols, chunkColumns);
    kernel::parallelKernelLoop(
        b, loc, {0, firstBlock, 0}, {batch, lastBlock, groups},
        [&](ValueRange ivs) {
          Value pixel = arith::MulIOp::create(b, loc, ivs[1], index(block));
          Value groupFirst = arith::AddIOp::create(
              b, loc, index(firstPanel),
              arith::MulIOp::create(b, loc, ivs[2], index(groupSize)));
          Value groupLast = arith::MinSIOp::create(
              b, loc, index(lastPanel),
              arith::AddIOp::create(b, loc, groupFirst, index(groupSize)));
          auto chunkOverGroup = [&](ColumnChunk chunk) {
            kernel::forLoop(b, loc, groupFirst, groupLast, 1, [&](Value panel) {
              emitTile(ivs[0], panel, pixel, Value(), mr, nv, masked, chunk);
            });
          };
          chunkOverGroup({index(0), index(chunkColumns), false, false});
          if (chunks > 2)
            kernel::forLoop(
                b, loc, index(1), index(chunks - 1), 1, [&](Value c) {
                  Value first =
                      arith::MulIOp::create(b, loc, c, index(chunkColumns));
                  chunkOverGroup({first,
                                  arith::AddIOp::create(b, loc, first,
                                                        index(chunkColumns)),
                                  true, false});
                });
          chunkOverGroup(
              {index((chunks - 1) * chunkColumns), index(cols), true, true});
        });
  }

  /// The tile of `rows` channels of `panel` x `vectors` vectors of pixels
  /// from `pixel`: all of the panel's columns, or `chunk`'s.
  void emitTile(Value image, Value panel, Value pixel, Value panelOffsets,
                int64_t rows, int64_t vectors, bool masked,
                std::optional<ColumnChunk> chunk = std::nullopt) {
    Value first, last;
    std::tie(first, last) =
        kernel::panelRows(b, loc, panel, dense, cols, panelOffsets);
    Value firstChannel = arith::MulIOp::create(b, loc, panel, index(mr));
    SmallVector<Value> pixelIndex, channelIndex;
    for (int64_t j = 0; j < vectors; ++j)
      pixelIndex.push_back(
          j == 0 ? pixel
                 : arith::AddIOp::create(b, loc, pixel, index(j * vw))
                       .getResult());
    for (int64_t i = 0; i < rows; ++i)
      channelIndex.push_back(
          i == 0 ? firstChannel
                 : arith::AddIOp::create(b, loc, firstChannel, index(i))
                       .getResult());
    SmallVector<Value> accumulators;
    for (int64_t i = 0; i < rows; ++i) {
      Value biasSplat;
      if (!chunk || !chunk->resume)
        biasSplat = vector::BroadcastOp::create(
            b, loc, vecType,
            memref::LoadOp::create(b, loc, bias, ValueRange{channelIndex[i]}));
      for (int64_t j = 0; j < vectors; ++j)
        accumulators.push_back(
            biasSplat ? biasSplat
                      : vector::LoadOp::create(
                            b, loc, vecType, output,
                            ValueRange{image, channelIndex[i], pixelIndex[j]})
                            .getResult());
    }
    // The packed rows of the chunk's columns (dense panels only).
    Value columnsFirst = first;
    if (chunk) {
      columnsFirst = arith::AddIOp::create(b, loc, first, chunk->first);
      last = arith::AddIOp::create(b, loc, first, chunk->last);
    }

    // With lane FMAs (NEON), four columns per iteration.
    scf::ForOp loop =
        kernel::columnLoops(b, loc, columnsFirst, last, weightVectors ? 4 : 1,
                            accumulators, [&](Value packedRow, ValueRange acc) {
                              return emitColumn(packedRow, first, image,
                                                pixelIndex, rows, masked, acc);
                            });
    bool finish = !chunk || chunk->finish;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < vectors; ++j)
        kernel::store(b, loc, loop.getResult(i * vectors + j), output,
                      ValueRange{image, channelIndex[i], pixelIndex[j]},
                      Value(), finish ? epilogue : VectorEpilogue());
  }

  /// One kept column's FMAs into the tile's accumulators `acc`.
  SmallVector<Value> emitColumn(Value packedRow, Value first, Value image,
                                ArrayRef<Value> pixelIndex, int64_t rows,
                                bool masked, ValueRange acc) {
    int64_t vectors = pixelIndex.size();
    Value offset = columnOffset(packedRow, first);
    // Read as a tensor so that one-shot bufferization sees the read.
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    SmallVector<Value> x;
    for (int64_t j = 0; j < vectors; ++j) {
      Value at = arith::AddIOp::create(b, loc, offset, pixelIndex[j]);
      x.push_back(vector::TransferReadOp::create(b, loc, vecType, input,
                                                 ValueRange{image, at}, zero,
                                                 ArrayRef<bool>{!masked}));
    }
    SmallVector<Value> next;
    Value weightVector;
    for (int64_t i = 0; i < rows; ++i) {
      Value w;
      if (weightVectors) {
        // The packed row holds MR weights (zero past a partial panel's
        // rows): whole vectors, one lane per channel.
        if (i % vw == 0)
          weightVector = vector::LoadOp::create(
              b, loc, vecType, values, ValueRange{packedRow, index(i)});
        w = vector::ExtractOp::create(b, loc, weightVector,
                                      ArrayRef<int64_t>{i % vw});
      } else {
        w = memref::LoadOp::create(b, loc, values,
                                   ValueRange{packedRow, index(i)});
      }
      Value splat = vector::BroadcastOp::create(b, loc, vecType, w);
      for (int64_t j = 0; j < vectors; ++j)
        next.push_back(
            vector::FMAOp::create(b, loc, splat, x[j], acc[i * vectors + j]));
    }
    return next;
  }

  /// The activation offset of packed row `packedRow`: dense panels index
  /// the table by column, sparse ones by packed row (their table lists the
  /// kept columns' offsets).
  Value columnOffset(Value packedRow, Value first) {
    Value entry =
        dense ? arith::SubIOp::create(b, loc, packedRow, first).getResult()
              : packedRow;
    return kernel::loadIndex(b, loc, columnOffsets, entry);
  }

  /// The last pixels, fewer than the tile's channels, with the channels
  /// along the lanes: per column, the packed row's MR weights are one
  /// vector and each pixel's activation one broadcast; each result lane is
  /// stored on its own. With fewer than four pixels, their columns rotate
  /// over `splits` sets of accumulators (summed in a fixed order at the
  /// end): one pixel's single chain of dependent FMAs had cost the
  /// unrolled column loop an FMA latency per column.
  void emitRemainder(Value image, Value panel, Value panelOffsets,
                     const PixelTiles &tiles, int64_t rows) {
    auto laneType = VectorType::get({mr}, b.getF32Type());
    Value first, last;
    std::tie(first, last) =
        kernel::panelRows(b, loc, panel, dense, cols, panelOffsets);
    Value firstChannel = arith::MulIOp::create(b, loc, panel, index(mr));
    Value init = vector::LoadOp::create(b, loc, laneType, bias,
                                        ValueRange{firstChannel});
    int64_t pixels = tiles.remainder;
    int64_t splits = llvm::divideCeil(4, pixels);
    SmallVector<Value> accumulators(pixels, init);
    if (splits > 1)
      accumulators.append((splits - 1) * pixels,
                          arith::ConstantOp::create(
                              b, loc, DenseElementsAttr::get(laneType, 0.0f)));
    int64_t nextSplit = 0; // the set the next emitted column adds into
    scf::ForOp loop = kernel::columnLoops(
        b, loc, first, last, splits, accumulators,
        [&](Value packedRow, ValueRange acc) {
          Value offset = columnOffset(packedRow, first);
          Value w = vector::LoadOp::create(b, loc, laneType, values,
                                           ValueRange{packedRow, index(0)});
          SmallVector<Value> next(acc.begin(), acc.end());
          int64_t set = nextSplit++ % splits;
          for (int64_t p = 0; p < pixels; ++p) {
            Value at = arith::AddIOp::create(b, loc, offset,
                                             index(tiles.remainderStart + p));
            Value x =
                tensor::ExtractOp::create(b, loc, input, ValueRange{image, at});
            Value splat = vector::BroadcastOp::create(b, loc, laneType, x);
            Value &sum = next[set * pixels + p];
            sum = vector::FMAOp::create(b, loc, splat, w, sum);
          }
          return next;
        });
    for (int64_t p = 0; p < pixels; ++p) {
      Value result = loop.getResult(p);
      for (int64_t set = 1; set < splits; ++set)
        result = arith::AddFOp::create(b, loc, result,
                                       loop.getResult(set * pixels + p));
      Value pixel = index(tiles.remainderStart + p);
      if (epilogue)
        result = epilogue(b, loc, result,
                          {ValueRange{image, firstChannel, pixel}, 1});
      for (int64_t i = 0; i < rows; ++i)
        memref::StoreOp::create(
            b, loc,
            vector::ExtractOp::create(b, loc, result, ArrayRef<int64_t>{i}),
            output,
            ValueRange{image,
                       arith::AddIOp::create(b, loc, firstChannel, index(i)),
                       pixel});
    }
  }

  OpBuilder &b;
  Location loc;
  int64_t vw, mr, nv;
  bool weightVectors;
  VectorType vecType;
  bool dense = true;
  int64_t cols = 0;
  Value input, values, columnOffsets, bias, output;
  VectorEpilogue epilogue;
};

/// The row-sparse form: each output channel walks its own nonzero weights
/// (XNNPACK-style outer products). A tile is one channel x NV vectors of
/// pixels; per nonzero, one offset and one weight load, NV activation-vector
/// loads and NV FMAs. It does only the nonzero MACs, so the N:M zeros that
/// the channel-tile form must multiply (they differ from row to row) cost
/// nothing, at the price of no activation reuse across channels in
/// registers (the loads hit L1: a block's channels run back to back).
class SparseRowsConvBuilder {
public:
  SparseRowsConvBuilder(OpBuilder &b, Location loc, const ConvTiling &tiling,
                        const VectorEpilogue &epilogue)
      : b(b), loc(loc), vw(tiling.vectorWidth), group(tiling.channelsPerTile),
        nv(tiling.sparseRowVectors),
        vecType(VectorType::get({vw}, b.getF32Type())), epilogue(epilogue) {}

  void build(int64_t channels, const ConvActivations &activations, Value starts,
             Value offsets, Value values, Value bias, Value output) {
    auto inType = cast<RankedTensorType>(activations.flat.getType());
    int64_t batch = inType.getDimSize(0), length = inType.getDimSize(1);
    int64_t block = nv * vw;
    auto [safeBlocks, blocks] = pixelBlocks(activations, length, block);
    int64_t groups = llvm::divideCeil(channels, group);
    for (bool masked : {false, true}) {
      int64_t first = masked ? safeBlocks : 0,
              last = masked ? blocks : safeBlocks;
      if (first >= last)
        continue;
      kernel::parallelKernelLoop(
          b, loc, {0, first, 0}, {batch, last, groups}, [&](ValueRange ivs) {
            Value pixel = arith::MulIOp::create(b, loc, ivs[1], index(block));
            Value firstRow =
                arith::MulIOp::create(b, loc, ivs[2], index(group));
            Value lastRow = arith::MinSIOp::create(
                b, loc, arith::AddIOp::create(b, loc, firstRow, index(group)),
                index(channels));
            scf::ForOp::create(
                b, loc, firstRow, lastRow, index(1), ValueRange{},
                [&](OpBuilder &rb, Location, Value row, ValueRange) {
                  OpBuilder::InsertionGuard guard(b);
                  b.setInsertionPoint(rb.getInsertionBlock(),
                                      rb.getInsertionPoint());
                  emitRow(activations.flat, ivs[0], row, pixel, starts, offsets,
                          values, bias, output, masked);
                  scf::YieldOp::create(b, loc);
                });
          });
    }
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  Value loadIndex(Value table, Value at) {
    return kernel::loadIndex(b, loc, table, at);
  }

  void emitRow(Value input, Value image, Value row, Value pixel, Value starts,
               Value offsets, Value values, Value bias, Value output,
               bool masked) {
    SmallVector<Value> pixelIndex;
    for (int64_t j = 0; j < nv; ++j)
      pixelIndex.push_back(
          j == 0 ? pixel
                 : arith::AddIOp::create(b, loc, pixel, index(j * vw))
                       .getResult());
    Value init = vector::BroadcastOp::create(
        b, loc, vecType, memref::LoadOp::create(b, loc, bias, ValueRange{row}));
    SmallVector<Value> accumulators(nv, init);
    Value first = loadIndex(starts, row);
    Value last =
        loadIndex(starts, arith::AddIOp::create(b, loc, row, index(1)));
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    auto loop = scf::ForOp::create(
        b, loc, first, last, index(1), accumulators,
        [&](OpBuilder &nb, Location, Value entry, ValueRange acc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          Value offset = loadIndex(offsets, entry);
          Value w = vector::BroadcastOp::create(
              b, loc, vecType,
              memref::LoadOp::create(b, loc, values, ValueRange{entry}));
          SmallVector<Value> next;
          for (int64_t j = 0; j < nv; ++j) {
            Value at = arith::AddIOp::create(b, loc, offset, pixelIndex[j]);
            Value x = vector::TransferReadOp::create(
                b, loc, vecType, input, ValueRange{image, at}, zero,
                ArrayRef<bool>{!masked});
            next.push_back(vector::FMAOp::create(b, loc, w, x, acc[j]));
          }
          scf::YieldOp::create(b, loc, next);
        });
    for (int64_t j = 0; j < nv; ++j)
      kernel::store(b, loc, loop.getResult(j), output,
                    ValueRange{image, row, pixelIndex[j]}, Value(), epilogue);
  }

  OpBuilder &b;
  Location loc;
  int64_t vw, group, nv;
  VectorType vecType;
  VectorEpilogue epilogue;
};

} // namespace

PixelTiles::PixelTiles(const ConvActivations &activations, int64_t length,
                       int64_t vw, int64_t nv, int64_t channelsPerTile) {
  int64_t pixels = activations.pixels;
  int64_t maxOffset = *llvm::max_element(activations.columnOffsets);
  // A vector read of [offset + start, offset + start + vw) is unmasked
  // when it ends inside the row for every column.
  auto inside = [&](int64_t end) { return maxOffset + end <= length; };
  block = nv * vw;
  fullBlocks = pixels / block;
  safeBlocks = std::clamp<int64_t>((length - maxOffset) / block, 0, fullBlocks);
  tailStart = fullBlocks * block;
  tailVectors = (pixels - tailStart) / vw;
  remainderStart = tailStart + tailVectors * vw;
  remainder = pixels - remainderStart;
  if (remainder > 0 && (remainder >= channelsPerTile || !inside(pixels))) {
    ++tailVectors;
    remainder = 0;
  }
  tailMasked = !inside(tailStart + tailVectors * vw);
  computed = remainder ? pixels : tailStart + tailVectors * vw;
}

ConvTiling ConvTiling::forGemmTiling(const GemmTiling &tiling) {
  int64_t vectorWidth = tiling.vectorWidth;
  // Accumulators + activation vectors + one broadcast within the register
  // file: 24 + 3 + 1 of AVX-512's 32 (8 x 2 made the loads, not the FMAs,
  // the bound on a Xeon: ResNet-50 ran 10 % slower), 12 + 3 + 1 of AVX2's
  // 16; with lane FMAs (NEON, 32 registers) 24 + 3 + 2 weight vectors.
  // The row-sparse form keeps NV accumulators, NV activation vectors and
  // one broadcast: 4 vectors keep four FMA chains in flight.
  if (tiling.tokenVectors && vectorWidth == 4)
    return {vectorWidth, 8, 3, 4, /*weightVectors=*/true};
  if (vectorWidth >= 16)
    return {vectorWidth, 8, 3, 4};
  if (vectorWidth == 8)
    return {vectorWidth, 4, 3, 4};
  return {vectorWidth, 4, 2, 4};
}

namespace {

/// Columns per chunk of a dense convolution's column loop such that one
/// pixel block's activations for a chunk, and one panel's weights for it,
/// take at most kChunkBytes (half of a 48 KB L1; three quarters of a 32 KB
/// one); 0 when every column fits. Consecutive columns of a direct
/// convolution overlap (the taps of a channel are shifts of one row), so
/// each adds only the floats it does not share with the one before.
int64_t denseColumnChunk(const ConvActivations &activations, int64_t block,
                         int64_t channelsPerTile) {
  constexpr double kChunkBytes = 24 * 1024;
  const std::vector<int32_t> &offsets = activations.columnOffsets;
  double bytes = 0;
  for (size_t k = 0; k < offsets.size(); ++k) {
    int64_t fresh = k == 0
                        ? block
                        : std::min<int64_t>(std::abs(int64_t(offsets[k]) -
                                                     int64_t(offsets[k - 1])),
                                            block);
    bytes += 4.0 * double(fresh + channelsPerTile);
  }
  int64_t chunks = int64_t(std::ceil(bytes / kChunkBytes));
  if (chunks <= 1)
    return 0;
  return llvm::divideCeil(int64_t(offsets.size()), chunks);
}

/// The kernel's [N, rows, pixels] output buffer.
memref::AllocOp allocOutput(OpBuilder &b, Location loc,
                            const ConvActivations &activations, int64_t rows,
                            int64_t pixels) {
  auto inType = cast<RankedTensorType>(activations.flat.getType());
  return memref::AllocOp::create(
      b, loc,
      MemRefType::get({inType.getDimSize(0), rows, pixels}, b.getF32Type()),
      b.getI64IntegerAttr(64));
}

Value asTensor(OpBuilder &b, Location loc, memref::AllocOp output) {
  return bufferization::ToTensorOp::create(
      b, loc,
      RankedTensorType::get(output.getType().getShape(), b.getF32Type()),
      output, /*restrict=*/true, /*writable=*/true);
}

} // namespace

Value emitChannelMajorConv(OpBuilder &b, Location loc, ModuleOp module,
                           const ConvActivations &activations,
                           const PackedWeight &weight, const ConvTiling &tiling,
                           StringRef symbolPrefix,
                           const VectorEpilogue &epilogue) {
  auto inType = cast<RankedTensorType>(activations.flat.getType());
  PixelTiles tiles(activations, inType.getDimSize(1), tiling.vectorWidth,
                   tiling.pixelVectors, tiling.channelsPerTile);
  memref::AllocOp output =
      allocOutput(b, loc, activations, weight.rows, tiles.computed);
  int64_t chunkColumns =
      weight.everyPanelDense()
          ? denseColumnChunk(activations, tiles.block, tiling.channelsPerTile)
          : 0;
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
          b.getNamedAttr("tail_vectors",
                         b.getI64IntegerAttr(tiles.tailVectors)),
          b.getNamedAttr("lane_pixels", b.getI64IntegerAttr(tiles.remainder)),
          b.getNamedAttr("column_chunk", b.getI64IntegerAttr(chunkColumns)),
          b.getNamedAttr("im2col", b.getBoolAttr(activations.im2col)),
      }));
  std::string prefix = symbolPrefix.str();
  PackedGlobals globals = createPackedGlobals(b, loc, module, weight, prefix);
  // The activation offset of each dense column, or of each kept column.
  std::vector<int32_t> table;
  if (weight.everyPanelDense())
    table = activations.columnOffsets;
  else
    for (int32_t column : weight.columns)
      table.push_back(activations.columnOffsets[column]);
  Value columnOffsets = createInt32Global(b, loc, module, prefix + "_x", table);
  ConvKernelBuilder(b, loc, tiling, epilogue)
      .build(weight, activations, tiles, chunkColumns, globals.values,
             columnOffsets, globals.offsets, globals.bias, output);
  return asTensor(b, loc, output);
}

Value emitSparseRowsConv(OpBuilder &b, Location loc, ModuleOp module,
                         const ConvActivations &activations,
                         const RowSparseWeight &weight,
                         const std::vector<float> &bias, int64_t groups,
                         const ConvTiling &tiling, StringRef symbolPrefix,
                         const VectorEpilogue &epilogue) {
  int64_t rows = int64_t(weight.starts.size()) - 1;
  int64_t block = tiling.pixelBlock(/*sparseRows=*/true);
  memref::AllocOp output =
      allocOutput(b, loc, activations, rows,
                  llvm::divideCeil(activations.pixels, block) * block);
  output->setAttr(
      "sparsec.cpu.kernel",
      b.getDictionaryAttr({
          b.getNamedAttr("kind", b.getStringAttr("conv_sparse_rows")),
          b.getNamedAttr("groups", b.getI64IntegerAttr(groups)),
          b.getNamedAttr("nonzeros",
                         b.getI64IntegerAttr(weight.columns.size())),
          b.getNamedAttr("vector_width",
                         b.getI64IntegerAttr(tiling.vectorWidth)),
          b.getNamedAttr("tile_pixel_vectors",
                         b.getI64IntegerAttr(tiling.sparseRowVectors)),
          b.getNamedAttr("im2col", b.getBoolAttr(activations.im2col)),
      }));
  std::string prefix = symbolPrefix.str();
  std::vector<int32_t> offsets;
  for (int32_t column : weight.columns)
    offsets.push_back(activations.columnOffsets[column]);
  std::vector<float> paddedBias = bias;
  paddedBias.resize(rows, 0.0f);
  SparseRowsConvBuilder(b, loc, tiling, epilogue)
      .build(rows, activations,
             createInt32Global(b, loc, module, prefix + "_s", weight.starts),
             createInt32Global(b, loc, module, prefix + "_x", offsets),
             createFloatGlobal(b, loc, module, prefix + "_w", weight.values),
             createFloatGlobal(b, loc, module, prefix + "_b", paddedBias),
             output);
  return asTensor(b, loc, output);
}

} // namespace sparsec
