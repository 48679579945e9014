//===- NMGroupGemm.cpp - N:M linear layers with lane permutes -------------===//
//
// The channel-tile kernel (PackedGemm.cpp) broadcasts one activation per
// column to a vector of output features, so it must multiply every column a
// panel keeps: the N:M zeros inside it included. Here the columns go four at
// a time. A token's x[t, 4g .. 4g+3] is loaded once (128 bits); for each of
// the group's `slots` nonzeros per row, one lane permute
// (`sparsec.permute_lanes`, x86 `vpermps`, indices packed at compile time)
// gives every output lane the activation of its own row's column, and one
// FMA multiplies it by the slot's weights. At 2:4 a group costs two
// permutes and two FMAs instead of four FMAs; permutes and FMAs issue on
// partly different execution ports, which is where the time goes.
//
//===----------------------------------------------------------------------===//
#include "NMGroupGemm.h"
#include "PackedGemm.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <numeric>

using namespace mlir;

namespace sparsec {

NMGroupTiling NMGroupTiling::forVectorWidth(int64_t vectorWidth) {
  // AVX-512: 8 tokens x 2 vectors of 16 features (16 accumulators, 4 weight
  // and 4 index vectors, the activations and the permuted ones). Measured
  // on Zen 4 at 2:4 (BERT shapes, best of three runs): 1.36x of dense, where
  // 6 x 2 gave 1.29-1.37x, 10 x 2 spilled, and 256-bit vectors (10 x 2)
  // 1.20-1.25x. AVX2's 16 registers: 4 tokens x 1 vector of 8.
  if (vectorWidth >= 16)
    return {16, 8, 2};
  return {8, 4, 1};
}

std::optional<NMGroupWeight> packNMGroups(ArrayRef<float> weight,
                                          ArrayRef<float> bias, int64_t rows,
                                          int64_t cols, int64_t panelWidth,
                                          int64_t maxSlots) {
  if (cols < 4)
    return std::nullopt;
  NMGroupWeight p;
  p.rows = rows;
  p.cols = cols;
  p.panelWidth = panelWidth;
  p.panels = (rows + panelWidth - 1) / panelWidth;
  p.groups = cols / 4;
  p.tailColumns = cols % 4;
  p.slots = 1;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < p.groups; ++g) {
      int64_t nonzeros = 0;
      for (int64_t j = 0; j < 4; ++j)
        nonzeros += weight[r * cols + 4 * g + j] != 0.0f;
      if (nonzeros > maxSlots)
        return std::nullopt;
      p.slots = std::max(p.slots, nonzeros);
    }
  int64_t nr = panelWidth, slots = p.slots;
  p.values.assign(p.panels * p.groups * slots * nr, 0.0f);
  p.lanes.assign(p.values.size(), 0);
  p.tail.assign(p.panels * p.tailColumns * nr, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t panel = r / nr, lane = r % nr;
    for (int64_t g = 0; g < p.groups; ++g) {
      int64_t slot = 0;
      for (int64_t j = 0; j < 4; ++j) {
        float v = weight[r * cols + 4 * g + j];
        if (v == 0.0f)
          continue;
        int64_t at = ((panel * p.groups + g) * slots + slot++) * nr + lane;
        p.values[at] = v;
        p.lanes[at] = int8_t(j);
      }
    }
    for (int64_t c = 0; c < p.tailColumns; ++c)
      p.tail[(panel * p.tailColumns + c) * nr + lane] =
          weight[r * cols + 4 * p.groups + c];
  }
  p.bias.assign(p.panels * nr, 0.0f);
  for (size_t r = 0; r < bias.size(); ++r)
    p.bias[r] = bias[r];
  return p;
}

bool preferNMGroups(const NMGroupWeight &weight, double keptShare,
                    int64_t tokens, const NMGroupTiling &tiling,
                    double slotCost) {
  // With few tokens the layer is bound by the weights' bytes: per group of
  // four columns a row moves 4 + 1 bytes per slot (value and lane byte,
  // NMGroupWeight::byteLanes) against 16 of its kept dense columns, so 2:4
  // moves 0.625x of the dense bytes (a 1024-4096-4096-1000 MLP at batch 1:
  // 3.7 -> 2.0 ms, 1.8x).
  constexpr double slotBytes = 5.0, denseGroupBytes = 16.0;
  if (tokens < 2 * tiling.tileTokens)
    return double(weight.slots) * slotBytes < denseGroupBytes * keptShare;
  // At 2:4 on the BERT shapes (128 tokens) the group kernel takes 0.73-0.78
  // of the dense kernel's time on a Zen 4: a slot costs about 1.5 dense
  // MACs. On Intel cores with 512-bit vectors the permute runs on port 5,
  // one of the two FMA pipes, so a slot should cost more there; the Xeon a
  // session measured was too noisy to fit it (docs/CPUBackend.md). It loses
  // to the channel tiles when those already skip as much (HiNM's kept
  // vectors).
  return weight.workShare() * slotCost < keptShare;
}

namespace {

class NMGroupKernel {
public:
  NMGroupKernel(OpBuilder &b, Location loc, const NMGroupWeight &weight,
                const NMGroupTiling &tiling, const VectorEpilogue &epilogue)
      : b(b), loc(loc), w(weight), mr(tiling.tileTokens),
        nv(tiling.tileVectors), vw(tiling.vectorWidth),
        vecType(VectorType::get({vw}, b.getF32Type())),
        laneType(VectorType::get({vw}, b.getI32Type())),
        byteType(VectorType::get({vw}, b.getI8Type())), epilogue(epilogue) {}

  void build(ModuleOp module, StringRef prefix, Value input, Value output) {
    this->input = input;
    this->output = output;
    tokens = cast<RankedTensorType>(input.getType()).getDimSize(0);
    packActivations();
    std::string p = prefix.str();
    values = createFloatGlobal(b, loc, module, p + "_w", w.values);
    lanes = w.byteLanes
                ? createInt8Global(b, loc, module, p + "_l", w.lanes)
                : createInt32Global(
                      b, loc, module, p + "_l",
                      std::vector<int32_t>(w.lanes.begin(), w.lanes.end()));
    bias = createFloatGlobal(b, loc, module, p + "_b", w.bias);
    if (w.tailColumns > 0)
      tail = createFloatGlobal(b, loc, module, p + "_t", w.tail);

    // Panels write disjoint output columns with the same instruction
    // sequence whichever thread runs them: the same bits at any thread
    // count.
    int64_t fullPanels = w.rows / w.panelWidth;
    if (fullPanels > 0)
      kernel::parallelKernelLoop(
          b, loc, {0}, {fullPanels},
          [&](ValueRange ivs) { emitPanel(ivs[0], /*partial=*/false); });
    if (fullPanels < w.panels)
      emitPanel(index(fullPanels), /*partial=*/true);
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value mul(Value a, int64_t c) {
    return arith::MulIOp::create(b, loc, a, index(c));
  }
  Value add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
  Value add(Value a, int64_t c) { return c ? add(a, index(c)) : a; }

  /// `packed` = the grouped columns of x as [token tile][group][mr][4]:
  /// a tile then reads one sequential stream. Reading mr rows of x in
  /// place, rows whose stride is a multiple of 4 KiB (K = 3072) share L1
  /// sets and evict each other (2:4 at K = 3072 went from 1.0x to 1.3x of
  /// dense with this copy, which costs T x K moves).
  void packActivations() {
    int64_t tiles = (tokens + mr - 1) / mr, groupedCols = 4 * w.groups;
    auto f32 = b.getF32Type();
    Value x = input;
    if (w.tailColumns > 0)
      x = tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({tokens, groupedCols}, f32), x,
          ValueRange{}, ValueRange{}, ValueRange{},
          b.getDenseI64ArrayAttr({0, 0}),
          b.getDenseI64ArrayAttr({tokens, groupedCols}),
          b.getDenseI64ArrayAttr({1, 1}));
    if (tiles * mr > tokens) {
      Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
      SmallVector<OpFoldResult> low = {b.getIndexAttr(0), b.getIndexAttr(0)},
                                high = {b.getIndexAttr(tiles * mr - tokens),
                                        b.getIndexAttr(0)};
      x = tensor::PadOp::create(
          b, loc, RankedTensorType::get({tiles * mr, groupedCols}, f32), x, low,
          high, zero);
    }
    x = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({tiles, mr, w.groups, 4}, f32), x,
        ArrayRef<ReassociationIndices>{{0, 1}, {2, 3}});
    Value empty = tensor::EmptyOp::create(
        b, loc, ArrayRef<int64_t>{tiles, w.groups, mr, 4}, f32);
    packed = linalg::TransposeOp::create(b, loc, x, empty,
                                         ArrayRef<int64_t>{0, 2, 1, 3})
                 ->getResult(0);
  }

  /// Full tiles of mr tokens, then one tile of the tokens left.
  void emitPanel(Value panel, bool partial) {
    kernel::fullTileLoop(b, loc, tokens, mr, [&](Value token) {
      emitTile(panel, token, mr, partial);
    });
    if (tokens % mr)
      emitTile(panel, index(tokens / mr * mr), tokens % mr, partial);
  }

  void emitTile(Value panel, Value token, int64_t tileTokens, bool partial) {
    SmallVector<Value> tokenIndex, featureIndex, acc;
    for (int64_t i = 0; i < tileTokens; ++i)
      tokenIndex.push_back(add(token, i));
    Value firstFeature = mul(panel, w.panelWidth);
    for (int64_t j = 0; j < nv; ++j)
      featureIndex.push_back(add(firstFeature, j * vw));
    for (int64_t i = 0; i < tileTokens; ++i)
      for (int64_t j = 0; j < nv; ++j)
        acc.push_back(vector::LoadOp::create(b, loc, vecType, bias,
                                             ValueRange{featureIndex[j]}));

    // The groups: `slots` rows of [NR] values and lane indices each.
    Value firstGroupRow = mul(panel, w.groups * w.slots);
    auto groupLoop = scf::ForOp::create(
        b, loc, index(0), index(w.groups), index(1), acc,
        [&](OpBuilder &nb, Location, Value group, ValueRange carried) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          scf::YieldOp::create(b, loc,
                               emitGroup(firstGroupRow, group, tokenIndex,
                                         SmallVector<Value>(carried)));
        });
    acc.assign(groupLoop.getResults().begin(), groupLoop.getResults().end());
    for (int64_t c = 0; c < w.tailColumns; ++c)
      acc = emitTailColumn(panel, c, tokenIndex, acc);

    for (int64_t i = 0; i < tileTokens; ++i)
      for (int64_t j = 0; j < nv; ++j) {
        Value mask = partial
                         ? kernel::tailMask(b, loc, w.rows, featureIndex[j], vw)
                         : Value();
        kernel::store(b, loc, acc[i * nv + j], output,
                      ValueRange{tokenIndex[i], featureIndex[j]}, mask,
                      epilogue);
      }
  }

  SmallVector<Value> emitGroup(Value firstGroupRow, Value group,
                               ArrayRef<Value> tokenIndex,
                               SmallVector<Value> acc) {
    // Weights and lane indices of the group's slots, loaded once for all
    // the tile's tokens.
    Value firstRow = add(firstGroupRow, mul(group, w.slots));
    SmallVector<Value> weights, indices;
    for (int64_t s = 0; s < w.slots; ++s)
      for (int64_t j = 0; j < nv; ++j) {
        Value at = add(mul(add(firstRow, s), w.panelWidth), j * vw);
        weights.push_back(
            vector::LoadOp::create(b, loc, vecType, values, ValueRange{at}));
        indices.push_back(
            w.byteLanes ? arith::ExtUIOp::create(
                              b, loc, laneType,
                              vector::LoadOp::create(b, loc, byteType, lanes,
                                                     ValueRange{at}))
                              .getResult()
                        : vector::LoadOp::create(b, loc, laneType, lanes,
                                                 ValueRange{at})
                              .getResult());
      }
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    auto quadType = VectorType::get({4}, b.getF32Type());
    Value tile = arith::DivUIOp::create(b, loc, tokenIndex[0], index(mr));
    for (size_t i = 0; i < tokenIndex.size(); ++i) {
      // A tensor read, so that bufferization sees where `packed` is read.
      Value quad = vector::TransferReadOp::create(
          b, loc, quadType, packed,
          ValueRange{tile, group, index(int64_t(i)), index(0)}, zero,
          ArrayRef<bool>{true});
      // Widened with poison lanes: a plain 128-bit load, no broadcast (the
      // EVEX broadcast LLVM picks for registers 16-31 costs a shuffle µop
      // on Zen 4, a quarter more of the permutes' ports).
      SmallVector<int64_t> lanesOfQuad(vw, vector::ShuffleOp::kPoisonIndex);
      std::iota(lanesOfQuad.begin(), lanesOfQuad.begin() + 4, 0);
      Value widened =
          vector::ShuffleOp::create(b, loc, quad, quad, lanesOfQuad);
      for (int64_t s = 0; s < w.slots; ++s)
        for (int64_t j = 0; j < nv; ++j) {
          Value picked = PermuteLanesOp::create(b, loc, vecType, widened,
                                                indices[s * nv + j]);
          Value &a = acc[i * nv + j];
          a = vector::FMAOp::create(b, loc, picked, weights[s * nv + j], a);
        }
    }
    return acc;
  }

  /// Column 4 * groups + c, dense: one broadcast activation per token.
  SmallVector<Value> emitTailColumn(Value panel, int64_t c,
                                    ArrayRef<Value> tokenIndex,
                                    SmallVector<Value> acc) {
    Value row = add(mul(panel, w.tailColumns), c);
    SmallVector<Value> weights;
    for (int64_t j = 0; j < nv; ++j)
      weights.push_back(vector::LoadOp::create(
          b, loc, vecType, tail,
          ValueRange{add(mul(row, w.panelWidth), j * vw)}));
    Value column = index(4 * w.groups + c);
    for (size_t i = 0; i < tokenIndex.size(); ++i) {
      Value x = tensor::ExtractOp::create(b, loc, input,
                                          ValueRange{tokenIndex[i], column});
      Value splat = vector::BroadcastOp::create(b, loc, vecType, x);
      for (int64_t j = 0; j < nv; ++j) {
        Value &a = acc[i * nv + j];
        a = vector::FMAOp::create(b, loc, splat, weights[j], a);
      }
    }
    return acc;
  }

  OpBuilder &b;
  Location loc;
  const NMGroupWeight &w;
  int64_t mr, nv, vw, tokens = 0;
  VectorType vecType, laneType, byteType;
  VectorEpilogue epilogue;
  Value input, packed, output, values, lanes, bias, tail;
};

} // namespace

Value emitNMGroupGemm(OpBuilder &b, Location loc, ModuleOp module, Value input,
                      const NMGroupWeight &weight, const NMGroupTiling &tiling,
                      StringRef symbolPrefix, const VectorEpilogue &epilogue) {
  int64_t tokens = cast<RankedTensorType>(input.getType()).getDimSize(0);
  Type f32 = b.getF32Type();
  auto output = memref::AllocOp::create(
      b, loc, MemRefType::get({tokens, weight.rows}, f32),
      b.getI64IntegerAttr(64));
  NMGroupKernel(b, loc, weight, tiling, epilogue)
      .build(module, symbolPrefix, input, output);
  output->setAttr(
      "sparsec.cpu.kernel",
      b.getDictionaryAttr({
          b.getNamedAttr("kind", b.getStringAttr("nm_groups")),
          b.getNamedAttr("panels", b.getI64IntegerAttr(weight.panels)),
          b.getNamedAttr("groups", b.getI64IntegerAttr(weight.groups)),
          b.getNamedAttr("slots", b.getI64IntegerAttr(weight.slots)),
          b.getNamedAttr("tail_columns",
                         b.getI64IntegerAttr(weight.tailColumns)),
          b.getNamedAttr("lane_bytes",
                         b.getI64IntegerAttr(weight.byteLanes ? 1 : 4)),
          b.getNamedAttr("vector_width",
                         b.getI64IntegerAttr(tiling.vectorWidth)),
          b.getNamedAttr("tile_tokens", b.getI64IntegerAttr(tiling.tileTokens)),
          b.getNamedAttr("tile_vectors",
                         b.getI64IntegerAttr(tiling.tileVectors)),
      }));
  return bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get({tokens, weight.rows}, f32), output,
      /*restrict=*/true, /*writable=*/true);
}

} // namespace sparsec
