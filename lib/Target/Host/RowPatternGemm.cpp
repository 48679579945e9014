//===- RowPatternGemm.cpp - sparse rows grouped by their pattern ----------===//
#include "RowPatternGemm.h"
#include "PackedGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/bit.h"

using namespace mlir;

namespace sparsec {

RowPatternWeight packRowPatterns(ArrayRef<float> weight, ArrayRef<float> bias,
                                 int64_t rows, int64_t cols,
                                 int64_t chunkCols) {
  constexpr int64_t mr = RowPatternWeight::kPanelRows,
                    patterns = RowPatternWeight::kPatterns;
  RowPatternWeight p;
  p.rows = rows;
  p.cols = cols;
  p.panels = (rows + mr - 1) / mr;
  p.chunks = (cols + chunkCols - 1) / chunkCols;
  for (int64_t panel = 0; panel < p.panels; ++panel)
    for (int64_t chunk = 0; chunk < p.chunks; ++chunk) {
      // Each column's pattern, then the columns of each pattern in column
      // order: a fixed summation order, whatever runs it.
      std::vector<std::vector<int32_t>> runs(patterns);
      for (int64_t k = chunk * chunkCols;
           k < std::min(cols, (chunk + 1) * chunkCols); ++k) {
        unsigned mask = 0;
        for (int64_t i = 0; i < mr; ++i) {
          int64_t r = panel * mr + i;
          if (r < rows && weight[r * cols + k] != 0.0f)
            mask |= 1u << i;
        }
        if (mask)
          runs[mask].push_back(int32_t(k));
      }
      for (int64_t m = 0; m < patterns; ++m) {
        p.runStarts.push_back(int32_t(p.columns.size()));
        p.valueStarts.push_back(int32_t(p.values.size()));
        for (int32_t k : runs[m]) {
          p.columns.push_back(k);
          for (int64_t i = 0; i < mr; ++i)
            if (m & (int64_t(1) << i))
              p.values.push_back(weight[(panel * mr + i) * cols + k]);
        }
      }
      p.runStarts.push_back(int32_t(p.columns.size()));
    }
  p.bias.assign(p.panels * mr, 0.0f);
  for (size_t r = 0; r < bias.size(); ++r)
    p.bias[r] = bias[r];
  return p;
}

bool preferRowPatterns(const RowPatternWeight &weight, double cost,
                       int64_t tokens, int64_t vectorWidth,
                       double patternMacCost) {
  // The token vectors of a tile must be mostly full: four of them.
  if (tokens < 4 * vectorWidth)
    return false;
  // A pattern MAC pays for the broadcast of its weight, its share of the
  // loop per pattern and of the two transposes: about 1.6 dense MACs on a
  // Zen 4 (BERT shapes: HiNM 75 % 1.3-1.4x faster than on the channel
  // tiles, 2:4 5-10 % slower than the N:M group kernel), over 2.6 on an
  // Emerald Rapids Xeon (HiNM 75 % BERT at 1024 tokens 1.32x slower than
  // on the channel tiles).
  return double(weight.nonzeros()) * patternMacCost < cost;
}

PatternTables createPatternTables(OpBuilder &b, Location loc, ModuleOp module,
                                  const RowPatternWeight &weight,
                                  const std::string &prefix) {
  PatternTables tables;
  tables.runStarts =
      createInt32Global(b, loc, module, prefix + "_r", weight.runStarts);
  tables.valueStarts =
      createInt32Global(b, loc, module, prefix + "_v", weight.valueStarts);
  tables.values =
      createFloatGlobal(b, loc, module, prefix + "_w", weight.values);
  tables.bias = createFloatGlobal(b, loc, module, prefix + "_b", weight.bias);
  return tables;
}

void emitPatternRuns(OpBuilder &b, Location loc, const PatternTables &tables,
                     Value panelChunk, SmallVector<Value> &acc,
                     function_ref<SmallVector<Value>(Value entry)> loadColumn) {
  constexpr int64_t mr = RowPatternWeight::kPanelRows,
                    patterns = RowPatternWeight::kPatterns;
  int64_t nv = acc.size() / mr;
  auto index = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto add = [&](Value l, Value r) -> Value {
    return arith::AddIOp::create(b, loc, l, r);
  };
  auto mul = [&](Value l, int64_t r) -> Value {
    return arith::MulIOp::create(b, loc, l, index(r));
  };
  auto loadIndex = [&](Value table, Value at) {
    return kernel::loadIndex(b, loc, table, at);
  };
  Type vecType = acc.front().getType();
  Value runBase = mul(panelChunk, patterns + 1);
  Value valueBase = mul(panelChunk, patterns);
  for (int64_t m = 1; m < patterns; ++m) {
    SmallVector<int64_t> patternRows;
    for (int64_t i = 0; i < mr; ++i)
      if (m & (int64_t(1) << i))
        patternRows.push_back(i);
    int64_t count = patternRows.size();
    Value first = loadIndex(tables.runStarts, add(runBase, index(m)));
    Value last = loadIndex(tables.runStarts, add(runBase, index(m + 1)));
    Value valueStart = loadIndex(tables.valueStarts, add(valueBase, index(m)));
    // Only the pattern's rows' accumulators are carried by its loop.
    SmallVector<Value> carried;
    for (int64_t i : patternRows)
      for (int64_t v = 0; v < nv; ++v)
        carried.push_back(acc[i * nv + v]);
    auto loop = scf::ForOp::create(
        b, loc, first, last, index(1), carried,
        [&](OpBuilder &nb, Location, Value entry, ValueRange inAcc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> x = loadColumn(entry);
          Value valueAt =
              add(valueStart,
                  mul(arith::SubIOp::create(b, loc, entry, first), count));
          SmallVector<Value> next;
          for (int64_t q = 0; q < count; ++q) {
            Value weightValue = memref::LoadOp::create(
                b, loc, tables.values, ValueRange{add(valueAt, index(q))});
            Value splat =
                vector::BroadcastOp::create(b, loc, vecType, weightValue);
            for (int64_t v = 0; v < nv; ++v)
              next.push_back(vector::FMAOp::create(b, loc, splat, x[v],
                                                   inAcc[q * nv + v]));
          }
          scf::YieldOp::create(b, loc, next);
        });
    for (auto [q, i] : llvm::enumerate(patternRows))
      for (int64_t v = 0; v < nv; ++v)
        acc[i * nv + v] = loop.getResult(q * nv + v);
  }
}

namespace {

class RowPatternKernel {
public:
  RowPatternKernel(OpBuilder &b, Location loc, const RowPatternWeight &weight,
                   int64_t vectorWidth, const VectorEpilogue &epilogue)
      : b(b), loc(loc), w(weight), vw(vectorWidth), nv(kTileVectors),
        vecType(VectorType::get({vw}, b.getF32Type())), epilogue(epilogue) {}

  /// Fills `outputT` ([panels * 4][tokens rounded up to vw]) from `inputT`
  /// ([K][the same tokens]): tiles of four token vectors, then one tile of
  /// the vectors left.
  void build(ModuleOp module, StringRef prefix, Value inputT, Value outputT,
             int64_t tokenVectors) {
    this->inputT = inputT;
    this->outputT = outputT;
    std::string p = prefix.str();
    tables = createPatternTables(b, loc, module, w, p);
    columns = createInt32Global(b, loc, module, p + "_c", w.columns);
    // One (token tile, block of panels) per iteration, the same
    // instructions whatever thread runs it: the same bits at any thread
    // count.
    int64_t blocks = (w.panels + kBlockPanels - 1) / kBlockPanels;
    int64_t tiles = tokenVectors / kTileVectors;
    nv = kTileVectors;
    if (tiles > 0)
      kernel::parallelKernelLoop(
          b, loc, {0, 0}, {tiles, blocks},
          [&](ValueRange ivs) { emitBlock(mul(ivs[0], nv * vw), ivs[1]); });
    nv = tokenVectors % kTileVectors;
    if (nv > 0)
      kernel::parallelKernelLoop(b, loc, {0}, {blocks}, [&](ValueRange ivs) {
        emitBlock(index(tiles * kTileVectors * vw), ivs[0]);
      });
  }

  /// Token vectors per tile: with 4 rows, 16 accumulators.
  static constexpr int64_t kTileVectors = 4;

private:
  /// Panels per block: 16 x 4 rows x 64 tokens of partial sums (16 KiB)
  /// stay in L1 between chunks.
  static constexpr int64_t kBlockPanels = 16;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
  Value mul(Value a, int64_t c) {
    return arith::MulIOp::create(b, loc, a, index(c));
  }
  Value loadIndex(Value table, Value at) {
    return kernel::loadIndex(b, loc, table, at);
  }
  void forLoop(Value lower, Value upper, function_ref<void(Value)> body) {
    kernel::forLoop(b, loc, lower, upper, 1, body);
  }

  /// The partial sums of `panel` for the tile: kPanelRows x NV vectors.
  SmallVector<Value> panelRows(Value panel) {
    SmallVector<Value> rows;
    for (int64_t i = 0; i < RowPatternWeight::kPanelRows; ++i)
      rows.push_back(add(mul(panel, RowPatternWeight::kPanelRows), index(i)));
    return rows;
  }

  void emitBlock(Value firstToken, Value block) {
    constexpr int64_t mr = RowPatternWeight::kPanelRows;
    SmallVector<Value> tokenIndex;
    for (int64_t v = 0; v < nv; ++v)
      tokenIndex.push_back(add(firstToken, index(v * vw)));
    Value firstPanel = mul(block, kBlockPanels);
    Value lastPanel = arith::MinSIOp::create(
        b, loc, add(firstPanel, index(kBlockPanels)), index(w.panels));
    // The bias, then the chunks' sums, then the epilogue, in place.
    forLoop(firstPanel, lastPanel, [&](Value panel) {
      for (Value row : panelRows(panel)) {
        Value init = vector::BroadcastOp::create(
            b, loc, vecType,
            memref::LoadOp::create(b, loc, tables.bias, ValueRange{row}));
        for (int64_t v = 0; v < nv; ++v)
          vector::StoreOp::create(b, loc, init, outputT,
                                  ValueRange{row, tokenIndex[v]});
      }
    });
    forLoop(index(0), index(w.chunks), [&](Value chunk) {
      forLoop(firstPanel, lastPanel, [&](Value panel) {
        SmallVector<Value> rows = panelRows(panel), acc;
        for (int64_t i = 0; i < mr; ++i)
          for (int64_t v = 0; v < nv; ++v)
            acc.push_back(vector::LoadOp::create(
                b, loc, vecType, outputT, ValueRange{rows[i], tokenIndex[v]}));
        emitPatternRuns(
            b, loc, tables, add(mul(panel, w.chunks), chunk), acc,
            [&](Value entry) {
              Value column = loadIndex(columns, entry);
              Value zero =
                  arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
              SmallVector<Value> x;
              for (int64_t v = 0; v < nv; ++v)
                x.push_back(vector::TransferReadOp::create(
                    b, loc, vecType, inputT, ValueRange{column, tokenIndex[v]},
                    zero, ArrayRef<bool>{true}));
              return x;
            });
        for (int64_t i = 0; i < mr; ++i)
          for (int64_t v = 0; v < nv; ++v)
            vector::StoreOp::create(b, loc, acc[i * nv + v], outputT,
                                    ValueRange{rows[i], tokenIndex[v]});
      });
    });
    if (!epilogue)
      return;
    forLoop(firstPanel, lastPanel, [&](Value panel) {
      for (Value row : panelRows(panel))
        for (int64_t v = 0; v < nv; ++v)
          kernel::store(b, loc,
                        vector::LoadOp::create(b, loc, vecType, outputT,
                                               ValueRange{row, tokenIndex[v]}),
                        outputT, ValueRange{row, tokenIndex[v]}, Value(),
                        epilogue);
    });
  }

  OpBuilder &b;
  Location loc;
  const RowPatternWeight &w;
  int64_t vw, nv;
  VectorType vecType;
  VectorEpilogue epilogue;
  PatternTables tables;
  Value inputT, outputT, columns;
};

} // namespace

namespace {

/// The columns of the 4 x 4 block whose rows are `rows` (four vector<4>).
SmallVector<Value> transpose4x4(OpBuilder &b, Location loc,
                                ArrayRef<Value> rows) {
  auto shuffle = [&](Value l, Value r, ArrayRef<int64_t> mask) -> Value {
    return vector::ShuffleOp::create(b, loc, l, r, mask);
  };
  Value t0 = shuffle(rows[0], rows[1], {0, 4, 1, 5});
  Value t1 = shuffle(rows[0], rows[1], {2, 6, 3, 7});
  Value t2 = shuffle(rows[2], rows[3], {0, 4, 1, 5});
  Value t3 = shuffle(rows[2], rows[3], {2, 6, 3, 7});
  return {shuffle(t0, t2, {0, 1, 4, 5}), shuffle(t0, t2, {2, 3, 6, 7}),
          shuffle(t1, t3, {0, 1, 4, 5}), shuffle(t1, t3, {2, 3, 6, 7})};
}

/// The same with constant bounds; nothing when the range is empty.
void forEach(OpBuilder &b, Location loc, int64_t lower, int64_t upper,
             function_ref<void(Value)> body) {
  if (lower < upper)
    kernel::forLoop(b, loc, arith::ConstantIndexOp::create(b, loc, lower),
                    arith::ConstantIndexOp::create(b, loc, upper), 1, body);
}

/// xT[k][t] = x[t][k] into a new [K rounded up to 4][`padded`] buffer,
/// zero for t >= T, in 4 x 4 blocks of shuffles (a plain loop nest becomes
/// gathers, which cost a third of a K = 3072 layer).
Value transposeInput(OpBuilder &b, Location loc, Value x, int64_t padded) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t tokens = type.getDimSize(0), cols = type.getDimSize(1);
  int64_t colBlocks = (cols + 3) / 4;
  auto vec4 = VectorType::get({4}, b.getF32Type());
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto xT = memref::AllocOp::create(
      b, loc, MemRefType::get({4 * colBlocks, padded}, b.getF32Type()),
      b.getI64IntegerAttr(64));
  kernel::parallelKernelLoop(b, loc, {0}, {colBlocks}, [&](ValueRange ivs) {
    Value col = arith::MulIOp::create(b, loc, ivs[0], index(4));
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    Value zeros =
        arith::ConstantOp::create(b, loc, DenseElementsAttr::get(vec4, 0.0f));
    // Rows t0 .. t0 + 3 of x (`valid` of them real, the rest zeros).
    auto block = [&](Value t0, int64_t valid) {
      SmallVector<Value> rows;
      for (int64_t i = 0; i < 4; ++i)
        rows.push_back(
            i < valid
                ? vector::TransferReadOp::create(
                      b, loc, vec4, x,
                      ValueRange{arith::AddIOp::create(b, loc, t0, index(i)),
                                 col},
                      zero, ArrayRef<bool>{cols % 4 == 0})
                      .getResult()
                : zeros);
      SmallVector<Value> columns = transpose4x4(b, loc, rows);
      for (int64_t j = 0; j < 4; ++j)
        vector::StoreOp::create(
            b, loc, columns[j], xT,
            ValueRange{arith::AddIOp::create(b, loc, col, index(j)), t0});
    };
    forEach(b, loc, 0, tokens / 4, [&](Value tb) {
      block(arith::MulIOp::create(b, loc, tb, index(4)), 4);
    });
    if (tokens % 4)
      block(index(tokens / 4 * 4), tokens % 4);
    forEach(b, loc, (tokens + 3) / 4, padded / 4, [&](Value tb) {
      Value t0 = arith::MulIOp::create(b, loc, tb, index(4));
      for (int64_t j = 0; j < 4; ++j)
        vector::StoreOp::create(
            b, loc, zeros, xT,
            ValueRange{arith::AddIOp::create(b, loc, col, index(j)), t0});
    });
  });
  return bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get(xT.getType().getShape(), b.getF32Type()),
      xT,
      /*restrict=*/true, /*writable=*/true);
}

/// y[t][r] = yT[r][t] for t < `tokens`, r < `rows` into a new buffer, in
/// 4 x 4 blocks (yT is padded to whole blocks both ways).
Value transposeOutput(OpBuilder &b, Location loc, Value yT, int64_t tokens,
                      int64_t rows) {
  auto type = cast<MemRefType>(yT.getType());
  int64_t rowBlocks = type.getDimSize(0) / 4;
  auto vec4 = VectorType::get({4}, b.getF32Type());
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto y = memref::AllocOp::create(
      b, loc, MemRefType::get({tokens, rows}, b.getF32Type()),
      b.getI64IntegerAttr(64));
  // Tokens t0 .. t0 + valid - 1, every row block.
  auto tokenBlock = [&](Value t0, int64_t valid) {
    forEach(b, loc, 0, rowBlocks, [&](Value rb) {
      Value r0 = arith::MulIOp::create(b, loc, rb, index(4));
      SmallVector<Value> lines;
      for (int64_t i = 0; i < 4; ++i)
        lines.push_back(vector::LoadOp::create(
            b, loc, vec4, yT,
            ValueRange{arith::AddIOp::create(b, loc, r0, index(i)), t0}));
      SmallVector<Value> columns = transpose4x4(b, loc, lines);
      for (int64_t j = 0; j < valid; ++j)
        vector::TransferWriteOp::create(
            b, loc, columns[j], y,
            ValueRange{arith::AddIOp::create(b, loc, t0, index(j)), r0},
            ArrayRef<bool>{rows % 4 == 0});
    });
  };
  if (tokens >= 4)
    kernel::parallelKernelLoop(b, loc, {0}, {tokens / 4}, [&](ValueRange ivs) {
      tokenBlock(arith::MulIOp::create(b, loc, ivs[0], index(4)), 4);
    });
  if (tokens % 4)
    tokenBlock(index(tokens / 4 * 4), tokens % 4);
  return bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get({tokens, rows}, b.getF32Type()), y,
      /*restrict=*/true, /*writable=*/true);
}

} // namespace

Value emitRowPatternGemm(OpBuilder &b, Location loc, ModuleOp module,
                         Value input, const RowPatternWeight &weight,
                         int64_t vectorWidth, StringRef prefix,
                         const VectorEpilogue &epilogue) {
  auto inType = cast<RankedTensorType>(input.getType());
  int64_t tokens = inType.getDimSize(0);
  int64_t tokenVectors = (tokens + vectorWidth - 1) / vectorWidth;
  int64_t padded = tokenVectors * vectorWidth;
  int64_t paddedRows = weight.panels * RowPatternWeight::kPanelRows;
  Type f32 = b.getF32Type();
  // x^T with the tokens padded to whole tiles (zeros).
  Value xT = transposeInput(b, loc, input, padded);
  auto outputT = memref::AllocOp::create(
      b, loc, MemRefType::get({paddedRows, padded}, f32),
      b.getI64IntegerAttr(64));
  outputT->setAttr(
      "sparsec.cpu.kernel",
      b.getDictionaryAttr({
          b.getNamedAttr("kind", b.getStringAttr("row_patterns")),
          b.getNamedAttr("panels", b.getI64IntegerAttr(weight.panels)),
          b.getNamedAttr("nonzeros", b.getI64IntegerAttr(weight.nonzeros())),
          b.getNamedAttr("vector_width", b.getI64IntegerAttr(vectorWidth)),
          b.getNamedAttr("tile_token_vectors",
                         b.getI64IntegerAttr(RowPatternKernel::kTileVectors)),
      }));
  RowPatternKernel(b, loc, weight, vectorWidth, epilogue)
      .build(module, prefix, xT, outputT, tokenVectors);
  return transposeOutput(b, loc, outputT, tokens, weight.rows);
}

} // namespace sparsec
