//===- CPULowerLayers.cpp - layers with constant weights as packed GEMMs --===//
//
// sparsec.linear runs the packed GEMM kernel on its T x K view; sparsec.conv2d
// (groups = 1) on its im2col matrix: rows are output pixels, columns the
// weight's GEMM view order (c, kh, kw), so a HiNM or N:M weight of a
// convolution prunes the same columns it does for a linear layer.
//
//===----------------------------------------------------------------------===//
#include "ConvLayout.h"
#include "DepthwiseConv.h"
#include "Epilogue.h"
#include "NMGroupGemm.h"
#include "PackedGemm.h"
#include "RowPatternGemm.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"
#include "sparsec/Target/Host/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/Support/FormatVariadic.h"

#include <limits>

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCPULOWERLAYERS
#include "sparsec/Target/Host/Passes.h.inc"
} // namespace sparsec

using namespace mlir;
using namespace sparsec;

namespace {

SmallVector<ReassociationIndices> leadingDims(int64_t rank) {
  ReassociationIndices lead;
  for (int64_t i = 0; i + 1 < rank; ++i)
    lead.push_back(i);
  return {lead, {rank - 1}};
}

/// `value`, a tensor of a linear layer's output shape, as the [tokens,
/// rows] matrix its kernel computes.
Value as2d(OpBuilder &b, Location loc, Value value, int64_t tokens,
           int64_t rows) {
  // (tokens may be dynamic: then the rank is above 1.)
  auto type = cast<RankedTensorType>(value.getType());
  auto matrix = RankedTensorType::get({tokens, rows}, type.getElementType());
  if (type.getRank() == 1)
    return tensor::ExpandShapeOp::create(
        b, loc, matrix, value, ArrayRef<ReassociationIndices>{{0, 1}});
  if (type.getRank() > 2)
    return tensor::CollapseShapeOp::create(b, loc, matrix, value,
                                           leadingDims(type.getRank()));
  return value;
}

/// The weight (and bias) of a layer as floats, if both are readable
/// constants.
struct LayerData {
  std::optional<WeightData> weight, bias;
};
std::optional<LayerData> readLayer(Value weight, Value bias) {
  LayerData data;
  data.weight = WeightData::getFromValue(weight);
  if (!data.weight)
    return std::nullopt;
  if (bias) {
    data.bias = WeightData::getFromValue(bias);
    if (!data.bias)
      return std::nullopt;
  }
  return data;
}

/// The weights of a linear layer the packed GEMM can run: f32, static
/// shapes, readable constant weight and bias, no empty dimension.
std::optional<LayerData> kernelInputs(LinearOp op) {
  RankedTensorType inType = op.getInput().getType();
  // Leading (token) dims may be dynamic; the features may not.
  if (!inType.getElementType().isF32() || inType.getRank() < 1 ||
      inType.isDynamicDim(inType.getRank() - 1) || op.getNumRows() == 0 ||
      op.getReductionSize() == 0 || llvm::is_contained(inType.getShape(), 0))
    return std::nullopt;
  return readLayer(op.getWeight(), op.getBias());
}

/// The same for a convolution (any groups the verifier accepts).
std::optional<LayerData> kernelInputs(Conv2DOp op) {
  RankedTensorType inType = op.getInput().getType();
  RankedTensorType outType = op.getResult().getType();
  if (op.getGroups() < 1 || !inType.getElementType().isF32() ||
      !inType.hasStaticShape() || !outType.hasStaticShape() ||
      op.getNumRows() == 0 || op.getReductionSize() == 0 ||
      outType.getNumElements() == 0)
    return std::nullopt;
  return readLayer(op.getWeight(), op.getBias());
}

PackedWeight packLayer(const LayerData &data, int64_t rows, int64_t cols,
                       int64_t panelWidth) {
  return packWeight(data.weight->values(),
                    data.bias ? data.bias->values() : ArrayRef<float>(), rows,
                    cols, panelWidth);
}

/// The kernel a linear layer runs: the channel tiles over `packed`, the
/// row patterns when `patterns` is set, or the N:M group kernel with
/// `groupTiling` when `groups` is set.
struct LinearKernel {
  PackedWeight packed;
  std::optional<RowPatternWeight> patterns;
  std::optional<NMGroupWeight> groups;
  NMGroupTiling groupTiling;
};
LinearKernel chooseLinearKernel(const LayerData &data, int64_t rows,
                                int64_t cols, int64_t tokens,
                                const GemmTiling &tiling,
                                const LinearKernelModes &modes) {
  LinearKernel kernel;
  ArrayRef<float> bias = data.bias ? data.bias->values() : ArrayRef<float>();
  kernel.packed = packLayer(data, rows, cols, tiling.panelWidth());
  // Each kernel's cost per token in dense-MAC units: the channel tiles do
  // every kept column of every panel.
  double denseWork =
      double(kernel.packed.panels) * double(tiling.panelWidth()) * double(cols);
  double cost =
      double(kernel.packed.columns.size()) * double(tiling.panelWidth());
  kernel.groupTiling = NMGroupTiling::forVectorWidth(tiling.vectorWidth);
  if (modes.nmGroups != "never") {
    std::optional<NMGroupWeight> groups =
        packNMGroups(data.weight->values(), bias, rows, cols,
                     kernel.groupTiling.panelWidth(), /*maxSlots=*/2);
    if (groups && (modes.nmGroups == "always" ||
                   preferNMGroups(*groups, cost / denseWork, tokens,
                                  kernel.groupTiling, modes.nmGroupSlotCost))) {
      cost = std::min(cost,
                      groups->workShare() * modes.nmGroupSlotCost * denseWork);
      // Bytes for the lane indices only where the weights' bytes bound the
      // layer: widening them costs a µop on the permute pipes, which bound
      // it otherwise (BERT shapes at 2:4: 1.40x of dense with i32 lanes,
      // 1.14-1.22x with bytes).
      groups->byteLanes = tokens < 2 * kernel.groupTiling.tileTokens;
      kernel.groups = std::move(groups);
    }
  }
  if (modes.rowPatterns != "never" && modes.nmGroups != "always") {
    RowPatternWeight patterns =
        packRowPatterns(data.weight->values(), bias, rows, cols);
    if (modes.rowPatterns == "always" ||
        preferRowPatterns(patterns, cost, tokens, tiling.vectorWidth,
                          modes.rowPatternMacCost)) {
      kernel.patterns = std::move(patterns);
      kernel.groups.reset();
    }
  }
  return kernel;
}

/// Whether a convolution with groups = 1 runs the row-sparse form under
/// the pass's sparse-rows option.
bool chooseSparseRows(const PackedWeight &packed, StringRef mode) {
  return mode == "always" || (mode == "auto" && preferSparseRows(packed));
}

/// The row patterns a convolution with groups = 1 runs under the pass's
/// row-patterns option, if any.
std::optional<RowPatternWeight>
chooseConvRowPatterns(Conv2DOp op, const LayerData &data,
                      const PackedWeight &packed, int64_t panelWidth,
                      int64_t vectorWidth, StringRef mode) {
  if (mode == "never")
    return std::nullopt;
  int64_t rows = op.getNumRows(), cols = op.getReductionSize();
  RowPatternWeight patterns = packRowPatterns(
      data.weight->values(),
      data.bias ? data.bias->values() : ArrayRef<float>(), rows, cols, cols);
  RankedTensorType outType = op.getResult().getType();
  double keptWork = double(packed.columns.size()) * double(panelWidth);
  // Each panel streams its columns' activations; an im2col matrix that
  // does not fit L2 (1 MiB per core here) is then read from L3 for every
  // four channels (ResNet's 3x3 layers on 7x7 images, 4608 x 49 floats:
  // 0.91x of dense at 2:4, where the channel tiles read it per eight).
  constexpr int64_t l2Floats = (int64_t(1) << 20) / 4;
  int64_t pixels = outType.getDimSize(2) * outType.getDimSize(3);
  if (mode == "auto" && prefersIm2col(op) && cols * pixels > l2Floats / 2)
    return std::nullopt;
  if (mode == "always" ||
      preferRowPatternConv(patterns, keptWork,
                           outType.getDimSize(2) * outType.getDimSize(3),
                           vectorWidth))
    return patterns;
  return std::nullopt;
}

/// The rows of a grouped convolution's block-diagonal GEMM view: output
/// channel o of group g keeps its nonzero W[o, cl, i, j] at column
/// ((g * C/G + cl) * KH + i) * KW + j of the full C x KH x KW view.
RowSparseWeight groupedRows(Conv2DOp op, const LayerData &data) {
  RankedTensorType wType = op.getWeight().getType();
  int64_t rows = wType.getDimSize(0), channelsPerGroup = wType.getDimSize(1),
          kh = wType.getDimSize(2), kw = wType.getDimSize(3);
  int64_t rowsPerGroup = rows / op.getGroups();
  ArrayRef<float> values = data.weight->values();
  RowSparseWeight weight;
  weight.starts.push_back(0);
  for (int64_t o = 0; o < rows; ++o) {
    int64_t firstChannel = (o / rowsPerGroup) * channelsPerGroup;
    for (int64_t cl = 0; cl < channelsPerGroup; ++cl)
      for (int64_t i = 0; i < kh; ++i)
        for (int64_t j = 0; j < kw; ++j) {
          float v = values[((o * channelsPerGroup + cl) * kh + i) * kw + j];
          if (v == 0.0f)
            continue;
          weight.columns.push_back(
              int32_t(((firstChannel + cl) * kh + i) * kw + j));
          weight.values.push_back(v);
        }
    weight.starts.push_back(int32_t(weight.columns.size()));
  }
  return weight;
}

struct SparsecCpuLowerLayersPass
    : sparsec::impl::SparsecCpuLowerLayersBase<SparsecCpuLowerLayersPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (vectorWidth != 4 && vectorWidth != 8 && vectorWidth != 16) {
      module.emitError("sparsec-cpu-lower-layers: vector-width must be 4, 8 "
                       "or 16, not ")
          << vectorWidth.getValue();
      return signalPassFailure();
    }
    if (tileTokens < 1 || tileTokens > 16 || tileVectors < 1 ||
        tileVectors > 8) {
      module.emitError("sparsec-cpu-lower-layers: tile-tokens must be 1 to "
                       "16 and tile-vectors 1 to 8, not ")
          << tileTokens.getValue() << " and " << tileVectors.getValue();
      return signalPassFailure();
    }
    if (sparseRows != "auto" && sparseRows != "always" &&
        sparseRows != "never") {
      module.emitError("sparsec-cpu-lower-layers: sparse-rows must be auto, "
                       "always or never, not '")
          << sparseRows.getValue() << "'";
      return signalPassFailure();
    }
    if (nmGroups != "auto" && nmGroups != "always" && nmGroups != "never") {
      module.emitError("sparsec-cpu-lower-layers: nm-groups must be auto, "
                       "always or never, not '")
          << nmGroups.getValue() << "'";
      return signalPassFailure();
    }
    if (rowPatterns != "auto" && rowPatterns != "always" &&
        rowPatterns != "never") {
      module.emitError("sparsec-cpu-lower-layers: row-patterns must be auto, "
                       "always or never, not '")
          << rowPatterns.getValue() << "'";
      return signalPassFailure();
    }
    if (!isValidDenseMacCost(nmGroupSlotCost)) {
      module.emitError("sparsec-cpu-lower-layers: nm-group-slot-cost must be "
                       "a number of dense MACs above 0 and below 100, not ")
          << nmGroupSlotCost.getValue();
      return signalPassFailure();
    }
    if (!isValidDenseMacCost(rowPatternMacCost)) {
      module.emitError("sparsec-cpu-lower-layers: row-pattern-mac-cost must "
                       "be a number of dense MACs above 0 and below 100, not ")
          << rowPatternMacCost.getValue();
      return signalPassFailure();
    }
    tiling = {vectorWidth, tileTokens, tileVectors, tokenVectors};
    SmallVector<Operation *> layers;
    module.walk([&](Operation *op) {
      if (isa<LinearOp, Conv2DOp, linalg::GenericOp>(op))
        layers.push_back(op);
    });
    for (Operation *op : layers) {
      if (fused.contains(op))
        continue; // erased into a layer's epilogue
      std::string prefix = "__sparsec_cpu_layer" + std::to_string(counter);
      if (auto linear = dyn_cast<LinearOp>(op)) {
        rewriteLinear(linear, module, prefix);
        ++counter;
      } else if (auto conv = dyn_cast<Conv2DOp>(op)) {
        rewriteConv(conv, module, prefix);
        ++counter;
      } else {
        rewriteMatmul(cast<linalg::GenericOp>(op));
      }
    }
  }

  /// A linalg.generic computing C[b.., m, n] += A[b.., m, k] * B[b.., k, n]
  /// (the importer's MatMul of two computed values) runs the batched kernel.
  void rewriteMatmul(linalg::GenericOp op) {
    if (!linalg::isaContractionOpInterface(op) || op.getNumDpsInputs() != 2 ||
        op.getNumDpsInits() != 1 || op->getNumResults() != 1)
      return;
    FailureOr<linalg::ContractionDimensions> dims =
        linalg::inferContractionDims(op);
    if (failed(dims) || dims->m.size() != 1 || dims->n.size() != 1 ||
        dims->k.size() != 1)
      return;
    SmallVector<unsigned> batch(dims->batch.begin(), dims->batch.end());
    auto expect = [&](AffineMap map, unsigned second, unsigned last) {
      SmallVector<unsigned> want = batch;
      want.push_back(second);
      want.push_back(last);
      if (map.getNumResults() != want.size())
        return false;
      for (auto [expr, dim] : llvm::zip(map.getResults(), want)) {
        auto d = dyn_cast<AffineDimExpr>(expr);
        if (!d || d.getPosition() != dim)
          return false;
      }
      return true;
    };
    SmallVector<AffineMap> maps = op.getIndexingMapsArray();
    unsigned m = dims->m[0], n = dims->n[0], k = dims->k[0];
    if (!expect(maps[0], m, k) || !expect(maps[1], k, n) ||
        !expect(maps[2], m, n))
      return;
    auto outType = cast<RankedTensorType>(op->getResult(0).getType());
    for (Value v : op->getOperands()) {
      auto t = dyn_cast<RankedTensorType>(v.getType());
      if (!t || !t.hasStaticShape() || !t.getElementType().isF32() ||
          t.getNumElements() == 0)
        return;
    }

    // Every operand as [batch, rows, cols].
    OpBuilder b(op);
    Location loc = op.getLoc();
    auto to3d = [&](Value v) -> Value {
      auto t = cast<RankedTensorType>(v.getType());
      int64_t rank = t.getRank();
      int64_t leading = 1;
      for (int64_t i = 0; i + 2 < rank; ++i)
        leading *= t.getDimSize(i);
      auto type = RankedTensorType::get(
          {leading, t.getDimSize(rank - 2), t.getDimSize(rank - 1)},
          t.getElementType());
      if (rank == 3)
        return v;
      if (rank == 2)
        return tensor::ExpandShapeOp::create(
            b, loc, type, v, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
      ReassociationIndices lead;
      for (int64_t i = 0; i + 2 < rank; ++i)
        lead.push_back(i);
      return tensor::CollapseShapeOp::create(
          b, loc, type, v,
          ArrayRef<ReassociationIndices>{lead, {rank - 2}, {rank - 1}});
    };
    Value result = emitBatchedMatmul(b, loc, to3d(op.getDpsInputs()[0]),
                                     to3d(op.getDpsInputs()[1]),
                                     to3d(op.getDpsInits()[0]), tiling);
    int64_t rank = outType.getRank();
    if (rank == 2) {
      result = tensor::CollapseShapeOp::create(
          b, loc, outType, result, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    } else if (rank > 3) {
      ReassociationIndices lead;
      for (int64_t i = 0; i + 2 < rank; ++i)
        lead.push_back(i);
      result = tensor::ExpandShapeOp::create(
          b, loc, outType, result,
          ArrayRef<ReassociationIndices>{lead, {rank - 2}, {rank - 1}});
    }
    op->getResult(0).replaceAllUsesWith(result);
    op.erase();
  }

  void rewriteLinear(LinearOp op, ModuleOp module, StringRef prefix) {
    RankedTensorType inType = op.getInput().getType();
    RankedTensorType outType = op.getResult().getType();
    std::optional<LayerData> data = kernelInputs(op);
    if (!data)
      return;
    int64_t rows = op.getNumRows(), cols = op.getReductionSize();
    // A dynamic token count runs the channel tiles (the other kernels'
    // choice and code depend on it).
    bool dynamicTokens = !inType.hasStaticShape();
    int64_t tokens =
        dynamicTokens ? ShapedType::kDynamic : inType.getNumElements() / cols;

    OpBuilder b(op);
    Location loc = op.getLoc();
    Value in2d = op.getInput();
    auto in2dType = RankedTensorType::get({tokens, cols}, b.getF32Type());
    if (inType.getRank() == 1)
      in2d = tensor::ExpandShapeOp::create(
          b, loc, in2dType, in2d, ArrayRef<ReassociationIndices>{{0, 1}});
    else if (inType.getRank() > 2)
      in2d = tensor::CollapseShapeOp::create(b, loc, in2dType, in2d,
                                             leadingDims(inType.getRank()));
    LinearKernel kernel =
        dynamicTokens
            ? chooseLinearKernel(
                  *data, rows, cols, /*tokens=*/0, tiling,
                  {"never", "never", nmGroupSlotCost, rowPatternMacCost})
            : chooseLinearKernel(
                  *data, rows, cols, tokens, tiling,
                  {nmGroups, rowPatterns, nmGroupSlotCost, rowPatternMacCost});
    // The channel-tile kernel stores [tokens, rows] as the output is laid
    // out: it can read a residual's lanes where it stores them.
    bool packed = !kernel.patterns && !kernel.groups;
    Epilogue epilogue =
        Epilogue::collect(op.getResult(), packed ? op.getOperation() : nullptr);
    Value result;
    if (kernel.patterns)
      result =
          emitRowPatternGemm(b, loc, module, in2d, *kernel.patterns,
                             tiling.vectorWidth, prefix, epilogue.function());
    else if (kernel.groups)
      result = emitNMGroupGemm(b, loc, module, in2d, *kernel.groups,
                               kernel.groupTiling, prefix, epilogue.function());
    else
      result = emitPackedGemm(
          b, loc, module, in2d, kernel.packed, tiling, prefix,
          epilogue.function(
              epilogue.residual()
                  ? as2d(b, loc, epilogue.residual(), tokens, rows)
                  : Value()));
    recordEpilogue(result, epilogue);
    if (outType.getRank() == 1)
      result = tensor::CollapseShapeOp::create(
          b, loc, outType, result, ArrayRef<ReassociationIndices>{{0, 1}});
    else if (outType.getRank() > 2 && dynamicTokens) {
      // The leading sizes are the input's.
      SmallVector<OpFoldResult> sizes =
          tensor::getMixedSizes(b, loc, op.getInput());
      sizes.back() = b.getIndexAttr(rows);
      result = tensor::ExpandShapeOp::create(
          b, loc, outType, result, leadingDims(outType.getRank()), sizes);
    } else if (outType.getRank() > 2)
      result = tensor::ExpandShapeOp::create(b, loc, outType, result,
                                             leadingDims(outType.getRank()));
    finish(op, result, epilogue);
  }

  /// Notes the number of fused ops on the kernel's decision attribute.
  void recordEpilogue(Value kernelResult, const Epilogue &epilogue) {
    auto toTensor = kernelResult.getDefiningOp<bufferization::ToTensorOp>();
    Operation *alloc =
        toTensor ? toTensor.getBuffer().getDefiningOp() : nullptr;
    if (epilogue.empty() || !alloc)
      return;
    NamedAttrList entries(
        alloc->getAttrOfType<DictionaryAttr>("sparsec.cpu.kernel"));
    entries.set("fused_elementwise",
                IntegerAttr::get(IntegerType::get(alloc->getContext(), 64),
                                 epilogue.size()));
    alloc->setAttr("sparsec.cpu.kernel",
                   entries.getDictionary(alloc->getContext()));
  }

  /// Replaces `layer`, and the epilogue's ops, whose effect `result`
  /// includes.
  void finish(Operation *layer, Value result, Epilogue &epilogue) {
    if (epilogue.empty()) {
      layer->getResult(0).replaceAllUsesWith(result);
    } else {
      for (linalg::GenericOp op : epilogue.operations())
        fused.insert(op);
      epilogue.replaceAndErase(result);
    }
    layer->erase();
  }

  /// out[n, o, y, x] = b[o] + sum_{c,i,j} W[o, c, i, j] *
  ///   in[n, c, y*sh + i*dh - pad_top, x*sw + j*dw - pad_left]:
  /// per image, W's GEMM view times the activations laid out by
  /// buildConvLayout (pixels contiguous), which leaves the result in NCHW
  /// order. Grouped convolutions are block-diagonal GEMMs: each channel
  /// walks its own group's nonzeros (the row-sparse form).
  void rewriteConv(Conv2DOp op, ModuleOp module, StringRef prefix) {
    std::optional<LayerData> data = kernelInputs(op);
    if (!data)
      return;
    int64_t rows = op.getNumRows(), cols = op.getReductionSize();
    int64_t groups = op.getGroups();
    if (isDirectDepthwise(op)) {
      OpBuilder b(op);
      Epilogue epilogue = Epilogue::collect(op.getResult());
      Value result = emitDepthwiseConv(
          b, op.getLoc(), module, op, data->weight->values(),
          data->bias ? data->bias->values() : ArrayRef<float>(),
          tiling.vectorWidth, prefix, epilogue.function());
      recordEpilogue(result, epilogue);
      finish(op, result, epilogue);
      return;
    }
    ConvTiling convTiling = ConvTiling::forGemmTiling(tiling);
    PackedWeight packed;
    std::optional<RowPatternWeight> patterns;
    bool sparse = true;
    if (groups == 1) {
      packed = packLayer(*data, rows, cols, convTiling.channelsPerTile);
      patterns =
          chooseConvRowPatterns(op, *data, packed, convTiling.channelsPerTile,
                                convTiling.vectorWidth, rowPatterns);
      sparse = chooseSparseRows(packed, sparseRows);
    }
    OpBuilder b(op);
    Location loc = op.getLoc();
    int64_t block = patterns ? rowPatternConvVectors(convTiling.vectorWidth) *
                                   convTiling.vectorWidth
                             : convTiling.pixelBlock(sparse);
    std::optional<ConvLayout> layout = buildConvLayout(b, loc, op, block);
    if (!layout)
      return;
    // The channel-tile kernel stores [N, O, pixels]: as the output is
    // laid out when its rows have no padding columns, so it can read a
    // residual's lanes where it stores them.
    RankedTensorType outType = op.getResult().getType();
    bool residualFits = !patterns && groups == 1 && !sparse &&
                        layout->rowWidth == outType.getDimSize(3);
    Epilogue epilogue = Epilogue::collect(
        op.getResult(), residualFits ? op.getOperation() : nullptr);
    Value residualView;
    if (epilogue.residual())
      residualView = tensor::CollapseShapeOp::create(
          b, loc,
          RankedTensorType::get({outType.getDimSize(0), outType.getDimSize(1),
                                 outType.getDimSize(2) * outType.getDimSize(3)},
                                b.getF32Type()),
          epilogue.residual(),
          ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
    Value result;
    if (patterns) {
      result =
          emitRowPatternConv(b, loc, module, layout->activations, *patterns,
                             convTiling, prefix, epilogue.function());
    } else if (groups == 1 && !sparse) {
      result = emitChannelMajorConv(b, loc, module, layout->activations, packed,
                                    convTiling, prefix,
                                    epilogue.function(residualView));
    } else {
      RowSparseWeight weight =
          groups == 1 ? sparseRowsOf(packed) : groupedRows(op, *data);
      std::vector<float> bias;
      if (data->bias)
        bias.assign(data->bias->values().begin(), data->bias->values().end());
      result =
          emitSparseRowsConv(b, loc, module, layout->activations, weight, bias,
                             groups, convTiling, prefix, epilogue.function());
    }
    recordEpilogue(result, epilogue);
    finish(op, restoreConvOutput(b, loc, result, op, layout->rowWidth),
           epilogue);
  }

  GemmTiling tiling;
  int64_t counter = 0;
  /// Generics fused into a layer's epilogue (erased; skipped by the walk).
  llvm::SmallPtrSet<Operation *, 16> fused;
};

} // namespace

std::string sparsec::describeLayerKernel(Operation *layer,
                                         const GemmTiling &tiling,
                                         StringRef sparseRows,
                                         const LinearKernelModes &modes) {
  std::optional<LayerData> data;
  PackedWeight packed;
  std::string kind;
  if (auto linear = dyn_cast<LinearOp>(layer)) {
    kind = "gemm";
    if ((data = kernelInputs(linear))) {
      int64_t cols = linear.getReductionSize();
      // As rewriteLinear decides: channel tiles for a dynamic token count.
      RankedTensorType inType = linear.getInput().getType();
      LinearKernel kernel =
          inType.hasStaticShape()
              ? chooseLinearKernel(*data, linear.getNumRows(), cols,
                                   inType.getNumElements() / cols, tiling,
                                   modes)
              : chooseLinearKernel(*data, linear.getNumRows(), cols, 0, tiling,
                                   {"never", "never", modes.nmGroupSlotCost,
                                    modes.rowPatternMacCost});
      if (kernel.patterns)
        return llvm::formatv("gemm row patterns, {0:P0} of dense work",
                             double(kernel.patterns->nonzeros()) /
                                 double(linear.getNumRows() * cols))
            .str();
      if (kernel.groups)
        return llvm::formatv("gemm N:M groups ({0} of 4 columns per row), "
                             "{1:P0} of dense work",
                             kernel.groups->slots, kernel.groups->workShare())
            .str();
      packed = std::move(kernel.packed);
    }
  } else if (auto conv = dyn_cast<Conv2DOp>(layer)) {
    kind = "conv";
    if (!(data = kernelInputs(conv)))
      return "linalg loops";
    int64_t rows = conv.getNumRows(), cols = conv.getReductionSize();
    if (isDirectDepthwise(conv))
      return "depthwise conv direct";
    if (conv.getGroups() > 1) {
      int64_t nonzeros = groupedRows(conv, *data).columns.size();
      std::string text =
          int64_t(conv.getGroups()) == conv.getInput().getType().getDimSize(1)
              ? "depthwise conv sparse rows"
              : "grouped conv sparse rows";
      if (nonzeros < rows * cols)
        text += llvm::formatv(", {0:P0} of dense work",
                              double(nonzeros) / double(rows * cols));
      return text;
    }
    int64_t panelWidth = ConvTiling::forGemmTiling(tiling).channelsPerTile;
    packed = packLayer(*data, rows, cols, panelWidth);
    if (std::optional<RowPatternWeight> patterns =
            chooseConvRowPatterns(conv, *data, packed, panelWidth,
                                  tiling.vectorWidth, modes.rowPatterns))
      return llvm::formatv("conv row patterns, {0:P0} of dense work",
                           double(patterns->nonzeros()) / double(rows * cols))
          .str();
    if (chooseSparseRows(packed, sparseRows)) {
      int64_t nonzeros = sparseRowsOf(packed).columns.size();
      return llvm::formatv("conv sparse rows, {0:P0} of dense work",
                           double(nonzeros) / double(rows * cols))
          .str();
    }
  }
  if (kind.empty())
    return "";
  if (!data)
    return "linalg loops";
  if (packed.everyPanelDense())
    return kind + " dense";
  // The share of the dense work left: kept columns over all panels' columns.
  double work =
      double(packed.columns.size()) / double(packed.panels * packed.cols);
  return llvm::formatv("{0} kept columns, {1:P0} of dense work", kind, work)
      .str();
}
