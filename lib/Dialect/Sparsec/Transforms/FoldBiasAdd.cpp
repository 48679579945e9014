//===- FoldBiasAdd.cpp - a per-channel constant add into the layer's bias -===//
//
// ONNX's MatMul + Add(bias) imports as a bias-less sparsec.linear and a
// broadcasting linalg.generic; the kernels would run the add as a pass of
// its own over the output, and nothing after it could fuse into their
// stores. Folded into the layer's bias, the add is free.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Matchers.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECFOLDBIASADD
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h.inc"
} // namespace sparsec

using namespace mlir;

namespace {

/// The constant operand of `add` as one value per output channel, if `add`
/// is `layerOutput + constant` (either order) elementwise over layerOutput's
/// shape and the constant's indexing map reads only loop `channelDim`
/// (other indices constant).
std::optional<std::vector<float>>
channelAddend(linalg::GenericOp add, Value layerOutput, unsigned channelDim) {
  auto outType = cast<RankedTensorType>(layerOutput.getType());
  if (add.getNumDpsInputs() != 2 || add.getNumDpsInits() != 1 ||
      add.getNumParallelLoops() != add.getNumLoops() ||
      add->getResult(0).getType() != outType ||
      !add.getMatchingIndexingMap(add.getDpsInitOperand(0)).isIdentity() ||
      add.payloadUsesValueFromOperand(add.getDpsInitOperand(0)))
    return std::nullopt;
  Block &body = add.getRegion().front();
  auto sum = dyn_cast<arith::AddFOp>(body.front());
  if (!sum || body.getOperations().size() != 2 ||
      body.getTerminator()->getOperand(0) != sum.getResult() ||
      !outType.getElementType().isF32())
    return std::nullopt;
  OpOperand *layer = add.getDpsInputOperand(0);
  OpOperand *addend = add.getDpsInputOperand(1);
  if (layer->get() != layerOutput)
    std::swap(layer, addend);
  if (layer->get() != layerOutput || addend->get() == layerOutput ||
      !add.getMatchingIndexingMap(layer).isIdentity())
    return std::nullopt;
  // The block's two arguments, added in either order.
  Value a = body.getArgument(0), b = body.getArgument(1);
  if (!((sum.getLhs() == a && sum.getRhs() == b) ||
        (sum.getLhs() == b && sum.getRhs() == a)))
    return std::nullopt;

  std::optional<sparsec::WeightData> data =
      sparsec::WeightData::getFromValue(addend->get());
  auto addendType = dyn_cast<RankedTensorType>(addend->get().getType());
  if (!data || !addendType || !addendType.hasStaticShape())
    return std::nullopt;
  // Per result of the map: a constant index, or the channel (-1).
  AffineMap map = add.getMatchingIndexingMap(addend);
  SmallVector<int64_t> fixed;
  for (AffineExpr expr : map.getResults()) {
    if (auto constant = dyn_cast<AffineConstantExpr>(expr))
      fixed.push_back(constant.getValue());
    else if (auto dim = dyn_cast<AffineDimExpr>(expr);
             dim && dim.getPosition() == channelDim)
      fixed.push_back(-1);
    else
      return std::nullopt;
  }
  int64_t channels = outType.getDimSize(channelDim);
  std::vector<float> values(channels);
  ArrayRef<int64_t> shape = addendType.getShape();
  for (int64_t c = 0; c < channels; ++c) {
    int64_t flat = 0;
    for (auto [i, index] : llvm::enumerate(fixed)) {
      int64_t at = index < 0 ? c : index;
      if (at >= shape[i])
        return std::nullopt;
      flat = flat * shape[i] + at;
    }
    values[c] = data->values()[flat];
  }
  return values;
}

struct SparsecFoldBiasAddPass
    : sparsec::impl::SparsecFoldBiasAddBase<SparsecFoldBiasAddPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<Operation *> layers;
    getOperation().walk([&](Operation *op) {
      if (isa<sparsec::LinearOp, sparsec::Conv2DOp>(op))
        layers.push_back(op);
    });
    for (Operation *layer : layers) {
      if (auto linear = dyn_cast<sparsec::LinearOp>(layer))
        fold(layer, linear.getBiasMutable(),
             linear.getResult().getType().getRank() - 1);
      else
        fold(layer, cast<sparsec::Conv2DOp>(layer).getBiasMutable(), 1);
    }
  }

  void fold(Operation *layer, MutableOperandRange bias, unsigned channelDim) {
    Value output = layer->getResult(0);
    if (!output.hasOneUse())
      return;
    auto add = dyn_cast<linalg::GenericOp>(*output.getUsers().begin());
    if (!add)
      return;
    std::optional<std::vector<float>> addend =
        channelAddend(add, output, channelDim);
    if (!addend)
      return;
    if (!bias.empty()) {
      std::optional<sparsec::WeightData> old =
          sparsec::WeightData::getFromValue(bias[0].get());
      if (!old || old->values().size() != addend->size())
        return;
      // The layer's own bias first, as the unfolded model adds it.
      for (auto [sum, first] : llvm::zip_equal(*addend, old->values()))
        sum = first + sum;
    }
    OpBuilder b(layer);
    auto type =
        RankedTensorType::get({int64_t(addend->size())}, b.getF32Type());
    Value folded = arith::ConstantOp::create(
        b, add.getLoc(),
        DenseElementsAttr::get(type, ArrayRef<float>(*addend)));
    bias.assign(folded);
    add->getResult(0).replaceAllUsesWith(output);
    add->erase();
    ++numFolded;
  }
};

} // namespace
