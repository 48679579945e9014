//===- PackedGemm.cpp - packed, register-tiled GEMM kernels ---------------===//
//
// y[t, r] = sum_k x[t, k] * W[r, k] + b[r] with W a constant: the output
// features are cut into panels of NR = tile-vectors * vector-width, each
// panel's weights are packed at compile time as [kept column][NR], and a
// register tile of MR tokens x NR features accumulates, per kept column,
// NR/VW weight vectors times MR broadcast activations. A panel lists only
// the columns where one of its rows is nonzero, so structured sparsity that
// zeroes whole columns of a panel (HiNM's vector level) removes their work
// with no gather (docs/CPUBackend.md).
//
//===----------------------------------------------------------------------===//
#include "PackedGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"

using namespace mlir;

namespace sparsec {

PackedWeight packWeight(ArrayRef<float> weight, ArrayRef<float> bias,
                        int64_t rows, int64_t cols, int64_t panelWidth) {
  PackedWeight p;
  p.rows = rows;
  p.cols = cols;
  p.panelWidth = panelWidth;
  p.panels = (rows + panelWidth - 1) / panelWidth;
  auto columnKept = [&](int64_t panel, int64_t k) {
    int64_t first = panel * panelWidth,
            last = std::min(rows, first + panelWidth);
    for (int64_t r = first; r < last; ++r)
      if (weight[r * cols + k] != 0.0f)
        return true;
    return false;
  };
  int64_t keptColumns = 0;
  for (int64_t panel = 0; panel < p.panels; ++panel)
    for (int64_t k = 0; k < cols; ++k)
      keptColumns += columnKept(panel, k);
  // Dropping a few columns does not pay for the kept-column list's index
  // loads (a plain 2:4 weight in narrow panels loses a column here and
  // there): below this share of dropped columns the panels stay dense.
  constexpr double minDroppedShare = 0.08;
  bool keepAll = double(p.panels * cols - keptColumns) <
                 minDroppedShare * double(p.panels * cols);
  p.offsets.push_back(0);
  for (int64_t panel = 0; panel < p.panels; ++panel) {
    int64_t first = panel * panelWidth,
            last = std::min(rows, first + panelWidth);
    for (int64_t k = 0; k < cols; ++k) {
      if (!keepAll && !columnKept(panel, k))
        continue;
      p.columns.push_back(int32_t(k));
      for (int64_t r = first; r < first + panelWidth; ++r)
        p.values.push_back(r < last ? weight[r * cols + k] : 0.0f);
    }
    p.offsets.push_back(int32_t(p.columns.size()));
  }
  p.bias.assign(p.panels * panelWidth, 0.0f);
  for (size_t r = 0; r < bias.size(); ++r)
    p.bias[r] = bias[r];
  return p;
}

namespace {

/// A private constant global of `module` holding `init`, and its get_global
/// at `b`'s insertion point.
Value createGlobal(OpBuilder &b, Location loc, ModuleOp module,
                   const std::string &name, ArrayRef<int64_t> shape,
                   Type element, Attribute init) {
  auto type = MemRefType::get(shape, element);
  OpBuilder mb(module.getBodyRegion());
  auto op = memref::GlobalOp::create(mb, loc, name, mb.getStringAttr("private"),
                                     type, init, /*constant=*/true,
                                     mb.getI64IntegerAttr(64));
  SymbolTable(module).insert(op); // renames on a clash
  return memref::GetGlobalOp::create(b, loc, type, op.getSymName());
}

template <typename T>
Value createArrayGlobal(OpBuilder &b, Location loc, ModuleOp module,
                        const std::string &name, ArrayRef<int64_t> shape,
                        Type element, const std::vector<T> &data) {
  return createGlobal(
      b, loc, module, name, shape, element,
      DenseElementsAttr::get(RankedTensorType::get(shape, element),
                             ArrayRef<T>(data)));
}

} // namespace

Value createInt32Global(OpBuilder &b, Location loc, ModuleOp module,
                        const std::string &name,
                        const std::vector<int32_t> &data) {
  return createArrayGlobal(b, loc, module, name, {int64_t(data.size())},
                           b.getI32Type(), data);
}

Value createInt8Global(OpBuilder &b, Location loc, ModuleOp module,
                       const std::string &name,
                       const std::vector<int8_t> &data) {
  return createArrayGlobal(b, loc, module, name, {int64_t(data.size())},
                           b.getI8Type(), data);
}

Value createFloatGlobal(OpBuilder &b, Location loc, ModuleOp module,
                        const std::string &name,
                        const std::vector<float> &data) {
  return createArrayGlobal(b, loc, module, name, {int64_t(data.size())},
                           b.getF32Type(), data);
}

RowSparseWeight sparseRowsOf(const PackedWeight &weight) {
  RowSparseWeight rows;
  rows.starts.push_back(0);
  for (int64_t r = 0; r < weight.rows; ++r) {
    int64_t panel = r / weight.panelWidth, lane = r % weight.panelWidth;
    for (int32_t i = weight.offsets[panel]; i < weight.offsets[panel + 1];
         ++i) {
      float value = weight.values[int64_t(i) * weight.panelWidth + lane];
      if (value == 0.0f)
        continue;
      rows.columns.push_back(weight.columns[i]);
      rows.values.push_back(value);
    }
    rows.starts.push_back(int32_t(rows.columns.size()));
  }
  return rows;
}

bool preferSparseRows(const PackedWeight &weight) {
  // One MAC of the row-sparse form costs about this many of the channel
  // tiles' (it reloads the activations for every channel and is bound by
  // loads from L2): 2.3-2.6 on ResNet-50 and VGG shapes at 2:4 and HiNM 75 %
  // (bench/results/cpu_conv_sparse_rows.md against cpu_conv.md). So the N:M
  // zeros inside kept columns are filled back unless a weight is much
  // sparser than that. With a short reduction (MobileNetV2's 1x1, K = 24)
  // the two forms were within this machine's run-to-run noise (+-20 %).
  constexpr double sparseRowMacCost = 2.5;
  int64_t nonzeros =
      llvm::count_if(weight.values, [](float v) { return v != 0.0f; });
  int64_t tileMacs = int64_t(weight.columns.size()) * weight.panelWidth;
  return double(nonzeros) * sparseRowMacCost < double(tileMacs);
}

namespace kernel {

Value loadIndex(OpBuilder &b, Location loc, Value table, Value at) {
  return arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      memref::LoadOp::create(b, loc, table, ValueRange{at}));
}

void forLoop(OpBuilder &b, Location loc, Value lower, Value upper, int64_t step,
             function_ref<void(Value iv)> body) {
  scf::ForOp::create(
      b, loc, lower, upper, arith::ConstantIndexOp::create(b, loc, step),
      ValueRange{}, [&](OpBuilder &nb, Location, Value iv, ValueRange) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        body(iv);
        scf::YieldOp::create(b, loc);
      });
}

std::pair<Value, Value> panelRows(OpBuilder &b, Location loc, Value panel,
                                  bool dense, int64_t cols, Value offsets) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  if (dense) {
    Value first = arith::MulIOp::create(b, loc, panel, index(cols));
    return {first, arith::AddIOp::create(b, loc, first, index(cols))};
  }
  return {loadIndex(b, loc, offsets, panel),
          loadIndex(b, loc, offsets,
                    arith::AddIOp::create(b, loc, panel, index(1)))};
}

Value keptColumn(OpBuilder &b, Location loc, Value row, Value first, bool dense,
                 Value columns) {
  if (dense)
    return arith::SubIOp::create(b, loc, row, first);
  return loadIndex(b, loc, columns, row);
}

Value tailMask(OpBuilder &b, Location loc, int64_t bound, Value start,
               int64_t lanes) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value left = arith::SubIOp::create(b, loc, index(bound), start);
  left = arith::MaxSIOp::create(b, loc, left, index(0));
  left = arith::MinSIOp::create(b, loc, left, index(lanes));
  return vector::CreateMaskOp::create(
      b, loc, VectorType::get({lanes}, b.getI1Type()), ValueRange{left});
}

void parallelKernelLoop(OpBuilder &b, Location loc, ArrayRef<int64_t> lower,
                        ArrayRef<int64_t> upper,
                        function_ref<void(ValueRange ivs)> body) {
  // Single-iteration dimensions (one image) are constants, not loop
  // dimensions: the canonicalizer would drop them by rebuilding the loop
  // without its tag, and the untagged loop could then be run serially.
  SmallVector<Value> ivs, lowerValues, upperValues, steps;
  SmallVector<unsigned> loopDims;
  for (auto [d, bounds] : llvm::enumerate(llvm::zip_equal(lower, upper))) {
    auto [l, u] = bounds;
    ivs.push_back(arith::ConstantIndexOp::create(b, loc, l));
    if (u - l == 1)
      continue;
    loopDims.push_back(d);
    lowerValues.push_back(ivs.back());
    upperValues.push_back(arith::ConstantIndexOp::create(b, loc, u));
    steps.push_back(arith::ConstantIndexOp::create(b, loc, 1));
  }
  if (loopDims.empty()) {
    body(ivs);
    return;
  }
  auto loop = scf::ParallelOp::create(
      b, NameLoc::get(b.getStringAttr(kKernelLoopTag), loc), lowerValues,
      upperValues, steps, [&](OpBuilder &nb, Location, ValueRange loopIvs) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
        for (auto [d, iv] : llvm::zip_equal(loopDims, loopIvs))
          ivs[d] = iv;
        body(ivs);
      });
  loop->setAttr(kKernelLoopTag, UnitAttr::get(loop.getContext()));
}

void fullTileLoop(OpBuilder &b, Location loc, int64_t count, int64_t tile,
                  function_ref<void(Value first)> body) {
  if (count < tile)
    return;
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  forLoop(b, loc, index(0), index(count / tile * tile), tile, body);
}

void store(OpBuilder &b, Location loc, Value value, Value memref, ValueRange at,
           Value mask, const VectorEpilogue &epilogue) {
  if (epilogue)
    value = epilogue(
        b, loc, value,
        {at, unsigned(cast<MemRefType>(memref.getType()).getRank() - 1), mask});
  if (mask)
    vector::MaskedStoreOp::create(b, loc, memref, at, mask, value);
  else
    vector::StoreOp::create(b, loc, value, memref, at);
}

scf::ForOp columnLoops(OpBuilder &b, Location loc, Value first, Value last,
                       int64_t unroll, ValueRange init, ColumnStep column) {
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  auto loop = [&](Value lower, Value upper, int64_t step, ValueRange start) {
    return scf::ForOp::create(
        b, loc, lower, upper, index(step), start,
        [&](OpBuilder &nb, Location, Value packedRow, ValueRange acc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> next(acc.begin(), acc.end());
          for (int64_t u = 0; u < step; ++u)
            next = column(u ? arith::AddIOp::create(b, loc, packedRow, index(u))
                            : packedRow,
                          next);
          scf::YieldOp::create(b, loc, next);
        });
  };
  if (unroll <= 1)
    return loop(first, last, 1, init);
  Value count = arith::SubIOp::create(b, loc, last, first);
  Value unrolledEnd = arith::AddIOp::create(
      b, loc, first, arith::AndIOp::create(b, loc, count, index(-unroll)));
  scf::ForOp unrolled = loop(first, unrolledEnd, unroll, init);
  return loop(unrolledEnd, last, 1, unrolled.getResults());
}

} // namespace kernel

PackedGlobals createPackedGlobals(OpBuilder &b, Location loc, ModuleOp module,
                                  const PackedWeight &weight,
                                  StringRef symbolPrefix) {
  PackedGlobals globals;
  std::string prefix = symbolPrefix.str();
  int64_t kept = weight.columns.size();
  globals.values = createArrayGlobal(b, loc, module, prefix + "_w",
                                     {kept, weight.panelWidth}, b.getF32Type(),
                                     weight.values);
  globals.bias = createArrayGlobal(b, loc, module, prefix + "_b",
                                   {int64_t(weight.bias.size())},
                                   b.getF32Type(), weight.bias);
  if (!weight.everyPanelDense()) {
    globals.columns = createArrayGlobal(b, loc, module, prefix + "_k", {kept},
                                        b.getI32Type(), weight.columns);
    globals.offsets = createArrayGlobal(b, loc, module, prefix + "_o",
                                        {int64_t(weight.offsets.size())},
                                        b.getI32Type(), weight.offsets);
  }
  return globals;
}

namespace {

class KernelBuilder {
public:
  KernelBuilder(OpBuilder &b, Location loc, const GemmTiling &tiling,
                const VectorEpilogue &epilogue)
      : b(b), loc(loc), vw(tiling.vectorWidth), mr(tiling.tileTokens),
        nv(tiling.tileVectors), tokenVectors(tiling.tokenVectors),
        vecType(VectorType::get({vw}, b.getF32Type())), epilogue(epilogue) {}

  /// Emits the kernel for `layer` reading `input` (T x K, row-contiguous)
  /// into `output` (T x R).
  void build(const PackedWeight &layer, StringRef symbolPrefix, ModuleOp module,
             Value input, Value output) {
    PackedGlobals globals =
        createPackedGlobals(b, loc, module, layer, symbolPrefix);
    Value values = globals.values, bias = globals.bias,
          columns = globals.columns, offsets = globals.offsets;
    dense = layer.everyPanelDense();
    this->input = input;
    this->output = output;
    this->values = values;
    this->bias = bias;
    this->columns = columns;
    this->cols = layer.cols;
    this->rows = layer.rows;
    tokens = cast<RankedTensorType>(input.getType()).getDimSize(0);
    // A dynamic token count (--input-shape=x:?x...) runs token tiles
    // without the transposed input (emitPackedGemm turns tokenVectors off).
    if (ShapedType::isDynamic(tokens))
      tokenCount = tensor::DimOp::create(b, loc, input, 0);
    if (tokenVectors) {
      // K x T, once per layer (T x K copies against T x K x R MACs).
      auto type = RankedTensorType::get({cols, tokens}, b.getF32Type());
      Value empty = tensor::EmptyOp::create(b, loc, type.getShape(),
                                            type.getElementType());
      this->input = linalg::TransposeOp::create(b, loc, input, empty,
                                                ArrayRef<int64_t>{1, 0})
                        ->getResult(0);
    }

    // Full panels, then the last one with masked stores if R % NR != 0.
    int64_t fullPanels = layer.rows / layer.panelWidth;
    // Panels are independent (each writes its own output columns with the
    // same arithmetic whichever thread runs it): an scf.parallel, which the
    // host pipeline hands to OpenMP, gives the same bits at any thread count.
    if (fullPanels > 0) {
      kernel::parallelKernelLoop(b, loc, {0}, {fullPanels},
                                 [&](ValueRange panel) {
                                   emitPanel(panel[0], offsets,
                                             /*partial=*/false);
                                 });
    }
    if (fullPanels < layer.panels)
      emitPanel(index(fullPanels), offsets, /*partial=*/true);
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// The loops over the token tiles of one panel.
  void emitPanel(Value panel, Value offsets, bool partial) {
    Value first, last;
    std::tie(first, last) =
        kernel::panelRows(b, loc, panel, dense, cols, offsets);
    Value firstRow = arith::MulIOp::create(b, loc, panel, index(nv * vw));
    if (tokenCount) {
      // Whole tiles, then the remaining tokens one at a time (their number
      // is known only at run time).
      Value full = arith::MulIOp::create(
          b, loc, arith::DivUIOp::create(b, loc, tokenCount, index(mr)),
          index(mr));
      kernel::forLoop(b, loc, index(0), full, mr, [&](Value token) {
        emitTile(token, mr, firstRow, first, last, partial);
      });
      kernel::forLoop(b, loc, full, tokenCount, 1, [&](Value token) {
        emitTile(token, 1, firstRow, first, last, partial);
      });
      return;
    }
    kernel::fullTileLoop(b, loc, tokens, mr, [&](Value token) {
      emitTile(token, mr, firstRow, first, last, partial);
    });
    // The last tokens % MR tokens as one narrower tile, not one tile per
    // token: each tile streams the panel's packed weights once (ViT's 197
    // tokens at MR = 8: 29 weight streams instead of 25).
    if (tokens % mr)
      emitTile(index(tokens / mr * mr), tokens % mr, firstRow, first, last,
               partial);
  }

  /// `tileTokens` tokens from `token` x the panel's NR features.
  void emitTile(Value token, int64_t tileTokens, Value firstRow, Value first,
                Value last, bool partial) {
    SmallVector<Value> tokenIndex;
    for (int64_t i = 0; i < tileTokens; ++i)
      tokenIndex.push_back(
          i == 0 ? token : arith::AddIOp::create(b, loc, token, index(i)));
    SmallVector<Value> featureIndex, init;
    for (int64_t j = 0; j < nv; ++j) {
      featureIndex.push_back(
          j == 0 ? firstRow
                 : arith::AddIOp::create(b, loc, firstRow, index(j * vw)));
      init.push_back(
          vector::LoadOp::create(b, loc, vecType, bias, featureIndex[j]));
    }
    SmallVector<Value> accumulators;
    for (int64_t i = 0; i < tileTokens; ++i)
      accumulators.append(init.begin(), init.end());

    if (tokenVectors) {
      // The tile's tokens of every column, sliced out of the loop: its reads
      // are then the column's offset plus constants.
      SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), token},
                                sizes = {b.getIndexAttr(cols),
                                         b.getIndexAttr(tileTokens)},
                                strides = {b.getIndexAttr(1),
                                           b.getIndexAttr(1)};
      tileInput = tensor::ExtractSliceOp::create(b, loc, input, offsets, sizes,
                                                 strides);
    }
    // With lane FMAs, four columns per iteration: the loop's own
    // instructions (counter, compare, branch) would otherwise cost NEON's
    // three-wide dispatch about a cycle per 16 FMAs
    // (bench/results/neon_mca.md).
    scf::ForOp loop = kernel::columnLoops(
        b, loc, first, last, tokenVectors ? 4 : 1, accumulators,
        [&](Value packedRow, ValueRange acc) {
          return emitColumn(packedRow, first, tileTokens, tokenIndex, acc);
        });

    for (int64_t i = 0; i < tileTokens; ++i)
      for (int64_t j = 0; j < nv; ++j) {
        Value result = loop.getResult(i * nv + j);
        SmallVector<Value, 2> at = {tokenIndex[i], featureIndex[j]};
        // Lanes past R are not stored.
        Value mask = partial
                         ? kernel::tailMask(b, loc, rows, featureIndex[j], vw)
                         : Value();
        kernel::store(b, loc, result, output, at, mask, epilogue);
      }
  }

  /// One packed column's FMAs into the tile's accumulators `acc`.
  SmallVector<Value> emitColumn(Value packedRow, Value first,
                                int64_t tileTokens, ArrayRef<Value> tokenIndex,
                                ValueRange acc) {
    Value column = kernel::keptColumn(b, loc, packedRow, first, dense, columns);
    SmallVector<Value> weights;
    for (int64_t j = 0; j < nv; ++j)
      weights.push_back(vector::LoadOp::create(
          b, loc, vecType, values, ValueRange{packedRow, index(j * vw)}));
    SmallVector<Value> next;
    Value tokenVector;
    for (int64_t i = 0; i < tileTokens; ++i) {
      Value splat;
      if (tokenVectors && tileTokens - i + i % vw >= vw) {
        // A whole vector of tokens, one lane per token (`fmla` by element
        // on NEON).
        if (i % vw == 0)
          tokenVector = readTokens(column, index(i));
        splat = vector::BroadcastOp::create(
            b, loc, vecType,
            vector::ExtractOp::create(b, loc, tokenVector,
                                      ArrayRef<int64_t>{i % vw}));
      } else {
        // A tensor read, not a memref load: one-shot bufferization must see
        // where the input is read (an early to_buffer could be CSE'd or
        // hoisted past a later in-place write of its buffer).
        Value x = tokenVectors
                      ? tensor::ExtractOp::create(b, loc, tileInput,
                                                  ValueRange{column, index(i)})
                      : tensor::ExtractOp::create(
                            b, loc, input, ValueRange{tokenIndex[i], column});
        splat = vector::BroadcastOp::create(b, loc, vecType, x);
      }
      for (int64_t j = 0; j < nv; ++j)
        next.push_back(
            vector::FMAOp::create(b, loc, splat, weights[j], acc[i * nv + j]));
    }
    return next;
  }

  /// vw tokens from `token` of the tile's transposed input, row `column`.
  Value readTokens(Value column, Value token) {
    Value padding = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    return vector::TransferReadOp::create(b, loc, vecType, tileInput,
                                          ValueRange{column, token}, padding,
                                          ArrayRef<bool>{true});
  }

  OpBuilder &b;
  Location loc;
  int64_t vw, mr, nv;
  bool tokenVectors;
  VectorType vecType;
  bool dense = true;
  int64_t cols = 0, rows = 0, tokens = 0;
  Value input, output, values, bias, columns;
  /// The token count when it is dynamic (else null).
  Value tokenCount;
  /// With tokenVectors: the current tile's K x MR slice of the input.
  Value tileInput;
  VectorEpilogue epilogue;
};

} // namespace

Value emitPackedGemm(OpBuilder &b, Location loc, ModuleOp module, Value input,
                     const PackedWeight &weight, const GemmTiling &tiling,
                     StringRef symbolPrefix, const VectorEpilogue &epilogue) {
  auto inType = cast<RankedTensorType>(input.getType());
  int64_t tokens = inType.getDimSize(0);
  Type f32 = b.getF32Type();
  SmallVector<Value> dynamicTokens;
  GemmTiling kernelTiling = tiling;
  if (ShapedType::isDynamic(tokens)) {
    dynamicTokens.push_back(tensor::DimOp::create(b, loc, input, 0));
    kernelTiling.tokenVectors = false;
  }
  auto output = memref::AllocOp::create(
      b, loc, MemRefType::get({tokens, weight.rows}, f32), dynamicTokens,
      b.getI64IntegerAttr(64));
  KernelBuilder(b, loc, kernelTiling, epilogue)
      .build(weight, symbolPrefix, module, input, output);
  // What was decided, on the buffer the kernel writes (for tests and
  // readers of the IR).
  output->setAttr(
      "sparsec.cpu.kernel",
      b.getDictionaryAttr({
          b.getNamedAttr("kind", b.getStringAttr(weight.everyPanelDense()
                                                     ? "dense"
                                                     : "kept_columns")),
          b.getNamedAttr("panels", b.getI64IntegerAttr(weight.panels)),
          b.getNamedAttr("kept_columns",
                         b.getI64IntegerAttr(weight.columns.size())),
          b.getNamedAttr("vector_width",
                         b.getI64IntegerAttr(tiling.vectorWidth)),
          b.getNamedAttr("tile_tokens", b.getI64IntegerAttr(tiling.tileTokens)),
          b.getNamedAttr("tile_vectors",
                         b.getI64IntegerAttr(tiling.tileVectors)),
          b.getNamedAttr("token_vectors",
                         b.getBoolAttr(kernelTiling.tokenVectors)),
      }));
  return bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get({tokens, weight.rows}, f32), output,
      /*restrict=*/true, /*writable=*/true);
}

} // namespace sparsec
