//===- Epilogue.cpp - elementwise ops fused into a kernel's stores --------===//
#include "Epilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
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

/// Whether `op` applies an elementwise function of `value` and splat
/// constants, and of nothing else, element for element.
bool isFusable(linalg::GenericOp op, Value value) {
  if (op.getNumDpsInits() != 1 || op->getNumResults() != 1 ||
      op.getNumParallelLoops() != op.getNumLoops() ||
      op->getResult(0).getType() != value.getType())
    return false;
  OpOperand *init = op.getDpsInitOperand(0);
  if (!op.getMatchingIndexingMap(init).isIdentity() ||
      op.payloadUsesValueFromOperand(init))
    return false;
  bool readsValue = false;
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (input->get() == value) {
      if (!op.getMatchingIndexingMap(input).isIdentity())
        return false;
      readsValue = true;
    } else if (!splatConstant(input->get())) {
      return false;
    }
  }
  if (!readsValue)
    return false;
  for (Operation &inner : op.getRegion().front().without_terminator()) {
    if (inner.hasTrait<OpTrait::ConstantLike>())
      continue;
    if (!isa<arith::ArithDialect, math::MathDialect>(inner.getDialect()) ||
        !inner.hasTrait<OpTrait::Elementwise>() ||
        !inner.hasTrait<OpTrait::Vectorizable>() || inner.getNumRegions())
      return false;
    for (Type t : inner.getResultTypes())
      if (!t.isF32() && !t.isInteger(1))
        return false;
    for (Value operand : inner.getOperands())
      if (operand.getParentBlock() != &op.getRegion().front() &&
          !splatConstant(operand))
        return false; // a value from outside that is not a constant
  }
  // The result is computed by the body (not a constant it defines).
  Value yielded = op.getRegion().front().getTerminator()->getOperand(0);
  if (Operation *def = yielded.getDefiningOp();
      def && def->hasTrait<OpTrait::ConstantLike>())
    return false;
  if (auto arg = dyn_cast<BlockArgument>(yielded);
      arg && arg.getArgNumber() >= op.getNumDpsInputs())
    return false;
  return true;
}

} // namespace

Epilogue Epilogue::collect(Value value) {
  Epilogue epilogue;
  while (value.hasOneUse()) {
    auto op = dyn_cast<linalg::GenericOp>(*value.getUsers().begin());
    if (!op || !isFusable(op, value))
      break;
    epilogue.ops.push_back(op);
    value = op->getResult(0);
  }
  return epilogue;
}

VectorEpilogue Epilogue::function() const {
  if (ops.empty())
    return nullptr;
  SmallVector<linalg::GenericOp> chain = ops;
  return [chain](OpBuilder &b, Location loc, Value vector) -> Value {
    auto vectorType = cast<VectorType>(vector.getType());
    auto splat = [&](TypedAttr scalar) -> Value {
      auto type = VectorType::get(vectorType.getShape(), scalar.getType());
      return arith::ConstantOp::create(b, loc,
                                       SplatElementsAttr::get(type, scalar));
    };
    Value current = vector;
    Value previousResult; // the tensor the next generic reads
    for (linalg::GenericOp op : chain) {
      Block &body = op.getRegion().front();
      IRMapping map;
      for (OpOperand *input : op.getDpsInputOperands()) {
        BlockArgument arg = body.getArgument(input->getOperandNumber());
        bool isChained = previousResult ? input->get() == previousResult
                                        : !splatConstant(input->get());
        map.map(arg, isChained ? current : splat(*splatConstant(input->get())));
      }
      for (Operation &inner : body.without_terminator()) {
        if (inner.hasTrait<OpTrait::ConstantLike>())
          continue;
        SmallVector<Value> operands;
        for (Value operand : inner.getOperands())
          operands.push_back(map.contains(operand)
                                 ? map.lookup(operand)
                                 : splat(*splatConstant(operand)));
        SmallVector<Type> types;
        for (Type t : inner.getResultTypes())
          types.push_back(VectorType::get(vectorType.getShape(), t));
        OperationState state(loc, inner.getName(), operands, types,
                             inner.getAttrs());
        map.map(inner.getResults(), b.create(state)->getResults());
      }
      current = map.lookup(body.getTerminator()->getOperand(0));
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
