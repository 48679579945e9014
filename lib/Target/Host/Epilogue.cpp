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

/// Whether `op` applies an elementwise function, element for element, of
/// tensors of `type` that `isMember` accepts (at least one), splat
/// constants, and of nothing else; or also of one other tensor, which it
/// then sets `residual` to, when `residual` is null and `layer` is given
/// and defined after that tensor.
bool isFusable(linalg::GenericOp op, Type type,
               function_ref<bool(Value)> isMember, Operation *layer,
               Value &residual) {
  if (op.getNumDpsInits() != 1 || op->getNumResults() != 1 ||
      op.getNumParallelLoops() != op.getNumLoops() ||
      op->getResult(0).getType() != type)
    return false;
  OpOperand *init = op.getDpsInitOperand(0);
  if (!op.getMatchingIndexingMap(init).isIdentity() ||
      op.payloadUsesValueFromOperand(init))
    return false;
  bool readsMember = false;
  Value other;
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (isMember(input->get())) {
      if (!op.getMatchingIndexingMap(input).isIdentity())
        return false;
      readsMember = true;
    } else if (!splatConstant(input->get())) {
      if (other || !isAvailableBefore(input->get(), layer) ||
          input->get().getType() != type ||
          !op.getMatchingIndexingMap(input).isIdentity())
        return false;
      other = input->get();
    }
  }
  if (!readsMember || (other && residual))
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
  if (other && llvm::count(op.getDpsInputs(), other) > 1)
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
  Operation *def = value.getDefiningOp();
  if (!def)
    return epilogue;
  // Grow the set of generics whose tensors are all the layer's output,
  // members' results, splat constants (and one residual), until none
  // joins: a chain (ReLU, Clip) or a graph like GELU's, x * 0.5 * (1 +
  // erf(x / sqrt 2)), which reads x twice.
  llvm::SmallSetVector<Operation *, 8> members;
  auto isMember = [&](Value v) {
    return v == value || members.contains(v.getDefiningOp());
  };
  Value residual;
  for (bool grew = true; grew;) {
    grew = false;
    SmallVector<Value> tensors = {value};
    for (Operation *op : members)
      tensors.push_back(op->getResult(0));
    for (Value tensor : tensors)
      for (Operation *user : tensor.getUsers()) {
        auto op = dyn_cast<linalg::GenericOp>(user);
        if (!op || members.contains(op) || op->getBlock() != def->getBlock() ||
            !isFusable(op, value.getType(), isMember, layer, residual))
          continue;
        members.insert(op);
        grew = true;
      }
  }
  // Exactly one member's result may be read outside the set (the one the
  // kernel's output replaces); the layer's output only inside.
  Operation *sink = nullptr;
  auto readOutside = [&](Value v) {
    return llvm::any_of(
        v.getUsers(), [&](Operation *user) { return !members.contains(user); });
  };
  if (members.empty() || readOutside(value))
    return epilogue;
  for (Operation *op : members) {
    if (!readOutside(op->getResult(0)))
      continue;
    if (sink)
      return epilogue;
    sink = op;
  }
  if (!sink)
    return epilogue;
  for (Operation *op : members)
    epilogue.ops.push_back(cast<linalg::GenericOp>(op));
  llvm::sort(epilogue.ops, [](linalg::GenericOp a, linalg::GenericOp b) {
    return a->isBeforeInBlock(b);
  });
  epilogue.sink = sink->getResult(0);
  epilogue.residualTensor = residual;
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
  SmallVector<linalg::GenericOp> members = ops;
  Value first = source, last = sink, residual = residualTensor;
  return [members, first, last, residual,
          residualView](OpBuilder &b, Location loc, Value vector,
                        const EpilogueSite &site) -> Value {
    auto vectorType = cast<VectorType>(vector.getType());
    auto shape = vectorType.getShape();
    // Each tensor of the set as the vector of the lanes being stored.
    IRMapping lanesOf;
    lanesOf.map(first, vector);
    for (linalg::GenericOp op : members) {
      Block &body = op.getRegion().front();
      IRMapping map;
      // Members' tensors are vectors so far; the residual is read at the
      // store's lanes; the others are splat constants (isFusable).
      for (OpOperand *input : op.getDpsInputOperands()) {
        Value lanes = lanesOf.lookupOrNull(input->get());
        if (!lanes && residual && input->get() == residual)
          lanes = readLanes(b, loc, residualView, vectorType, site);
        else if (!lanes)
          lanes = splatVector(b, loc, *splatConstant(input->get()), shape);
        map.map(body.getArgument(input->getOperandNumber()), lanes);
      }
      lanesOf.map(op->getResult(0),
                  vectorizeBody(b, loc, body, map, shape).front());
    }
    return lanesOf.lookup(last);
  };
}

void Epilogue::replaceAndErase(Value result) {
  sink.replaceAllUsesWith(result);
  for (linalg::GenericOp op : llvm::reverse(ops))
    op->erase();
  ops.clear();
}

} // namespace sparsec
