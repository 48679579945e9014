//===- Epilogue.cpp - elementwise ops fused into a kernel's stores --------===//
#include "Epilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;

namespace sparsec {
namespace {

/// The splat value of a constant tensor or scalar, if `value` is one.
std::optional<TypedAttr> splatConstant(Value value) {
  Attribute attr;
  if (!matchPattern(value, m_Constant(&attr)))
    return std::nullopt;
  if (auto dense = dyn_cast<SplatElementsAttr>(attr))
    return dense.getSplatValue<TypedAttr>();
  if (auto typed = dyn_cast<TypedAttr>(attr);
      typed && typed.getType().isIntOrFloat())
    return typed;
  return std::nullopt;
}

/// Whether `value` can be read where `layer` is: a value of its block
/// defined before it (or an argument of that block).
bool isAvailableBefore(Value value, Operation *layer) {
  if (!layer || value.getParentBlock() != layer->getBlock())
    return false;
  Operation *def = value.getDefiningOp();
  return !def || def->isBeforeInBlock(layer);
}

/// Whether `op` applies an elementwise function of `value` and splat
/// constants, and of nothing else, element for element; or also of one
/// other tensor, which it then sets `residual` to, when `residual` is
/// null and `layer` is given and defined after that tensor.
bool isFusable(linalg::GenericOp op, Value value, Operation *layer,
               Value &residual) {
  if (op.getNumDpsInits() != 1 || op->getNumResults() != 1 ||
      op.getNumParallelLoops() != op.getNumLoops() ||
      op->getResult(0).getType() != value.getType())
    return false;
  OpOperand *init = op.getDpsInitOperand(0);
  if (!op.getMatchingIndexingMap(init).isIdentity() ||
      op.payloadUsesValueFromOperand(init))
    return false;
  bool readsValue = false;
  Value other;
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (input->get() == value) {
      if (!op.getMatchingIndexingMap(input).isIdentity())
        return false;
      readsValue = true;
    } else if (!splatConstant(input->get())) {
      if (other || !isAvailableBefore(input->get(), layer) ||
          input->get().getType() != value.getType() ||
          !op.getMatchingIndexingMap(input).isIdentity())
        return false;
      other = input->get();
    }
  }
  if (!readsValue || (other && residual))
    return false;
  for (Operation &inner : op.getRegion().front().without_terminator()) {
    if (inner.hasTrait<OpTrait::ConstantLike>())
      continue;
    if (!isVectorizablePayloadOp(inner))
      return false;
    for (Type t : inner.getResultTypes())
      if (!t.isF32() && !t.isInteger(1))
        return false;
    for (Value operand : inner.getOperands())
      if (operand.getParentBlock() != &op.getRegion().front() &&
          !splatConstant(operand))
        return false; // a value from outside that is not a constant
  }
  if (other && op.getNumDpsInputs() > 2)
    return false; // read the other tensor once, through one block argument
  // The result is computed by the body (not a constant it defines).
  Value yielded = op.getRegion().front().getTerminator()->getOperand(0);
  if (Operation *def = yielded.getDefiningOp();
      def && def->hasTrait<OpTrait::ConstantLike>())
    return false;
  if (auto arg = dyn_cast<BlockArgument>(yielded);
      arg && arg.getArgNumber() >= op.getNumDpsInputs())
    return false;
  if (other)
    residual = other;
  return true;
}

} // namespace

bool isVectorizablePayloadOp(Operation &op) {
  return isa<arith::ArithDialect, math::MathDialect>(op.getDialect()) &&
         op.hasTrait<OpTrait::Elementwise>() &&
         op.hasTrait<OpTrait::Vectorizable>() && op.getNumRegions() == 0;
}

Value splatVector(OpBuilder &b, Location loc, TypedAttr scalar,
                  ArrayRef<int64_t> shape) {
  return arith::ConstantOp::create(
      b, loc,
      SplatElementsAttr::get(VectorType::get(shape, scalar.getType()), scalar));
}

SmallVector<Value> vectorizeBody(OpBuilder &b, Location loc, Block &body,
                                 IRMapping &map, ArrayRef<int64_t> shape) {
  auto vectorOf = [&](Value scalar) -> Value {
    if (map.contains(scalar))
      return map.lookup(scalar);
    if (std::optional<TypedAttr> splat = splatConstant(scalar))
      return splatVector(b, loc, *splat, shape);
    return vector::BroadcastOp::create(
        b, loc, VectorType::get(shape, scalar.getType()), scalar);
  };
  for (Operation &inner : body.without_terminator()) {
    if (inner.hasTrait<OpTrait::ConstantLike>())
      continue; // splat where it is used
    SmallVector<Value> operands;
    for (Value operand : inner.getOperands())
      operands.push_back(vectorOf(operand));
    SmallVector<Type> types;
    for (Type t : inner.getResultTypes())
      types.push_back(VectorType::get(shape, t));
    OperationState state(loc, inner.getName(), operands, types,
                         inner.getAttrs());
    map.map(inner.getResults(), b.create(state)->getResults());
  }
  SmallVector<Value> yielded;
  for (Value value : body.getTerminator()->getOperands())
    yielded.push_back(vectorOf(value));
  return yielded;
}

Epilogue Epilogue::collect(Value value, Operation *layer) {
  Epilogue epilogue;
  epilogue.source = value;
  while (value.hasOneUse()) {
    auto op = dyn_cast<linalg::GenericOp>(*value.getUsers().begin());
    if (!op || !isFusable(op, value, layer, epilogue.residualTensor))
      break;
    epilogue.ops.push_back(op);
    value = op->getResult(0);
  }
  return epilogue;
}

namespace {

/// The lanes of `view` that a kernel's store at `site` writes, as a vector
/// like `vector` (reads past the view's end are 0).
Value readLanes(OpBuilder &b, Location loc, Value view, VectorType vectorType,
                const EpilogueSite &site) {
  auto viewType = cast<RankedTensorType>(view.getType());
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
  if (site.laneDim + 1 == unsigned(viewType.getRank())) {
    return vector::TransferReadOp::create(b, loc, vectorType, view, site.at,
                                          zero, ArrayRef<bool>{false});
  }
  // Lanes across an outer dimension (a tile's channels): one read each,
  // the lanes past the dimension's end (a partial tile, not stored) reading
  // its last element.
  int64_t last = viewType.getDimSize(site.laneDim) - 1;
  SmallVector<Value> elements;
  for (int64_t lane = 0; lane < vectorType.getNumElements(); ++lane) {
    SmallVector<Value> at(site.at.begin(), site.at.end());
    at[site.laneDim] = arith::MinSIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, at[site.laneDim],
                              arith::ConstantIndexOp::create(b, loc, lane)),
        arith::ConstantIndexOp::create(b, loc, last));
    elements.push_back(tensor::ExtractOp::create(b, loc, view, at));
  }
  return vector::FromElementsOp::create(b, loc, vectorType, elements);
}

} // namespace

VectorEpilogue Epilogue::function(Value residualView) const {
  if (ops.empty())
    return nullptr;
  assert(!residualTensor == !residualView && "a residual needs its view");
  SmallVector<linalg::GenericOp> chain = ops;
  Value first = source, residual = residualTensor;
  return [chain, first, residual,
          residualView](OpBuilder &b, Location loc, Value vector,
                        const EpilogueSite &site) -> Value {
    auto vectorType = cast<VectorType>(vector.getType());
    auto shape = vectorType.getShape();
    Value current = vector;
    Value previousResult = first; // the tensor the next generic reads
    for (linalg::GenericOp op : chain) {
      Block &body = op.getRegion().front();
      IRMapping map;
      // The chained input is the vector so far; the residual is read at
      // the store's lanes; the others are splat constants (isFusable).
      for (OpOperand *input : op.getDpsInputOperands()) {
        Value lanes;
        if (input->get() == previousResult)
          lanes = current;
        else if (residual && input->get() == residual)
          lanes = readLanes(b, loc, residualView, vectorType, site);
        else
          lanes = splatVector(b, loc, *splatConstant(input->get()), shape);
        map.map(body.getArgument(input->getOperandNumber()), lanes);
      }
      current = vectorizeBody(b, loc, body, map, shape).front();
      previousResult = op->getResult(0);
    }
    return current;
  };
}

void Epilogue::replaceAndErase(Value result) {
  ops.back()->getResult(0).replaceAllUsesWith(result);
  for (linalg::GenericOp op : llvm::reverse(ops))
    op->erase();
  ops.clear();
}

} // namespace sparsec
