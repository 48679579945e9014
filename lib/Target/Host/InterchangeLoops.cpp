//===- InterchangeLoops.cpp - innermost loops LLVM can vectorise ----------===//
#include "sparsec/Target/Host/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCPUINTERCHANGELOOPS
#include "sparsec/Target/Host/Passes.h.inc"
} // namespace sparsec

using namespace mlir;

namespace {

/// The loop order with the reduction loops moved outside the loop of the
/// output's contiguous (last) dimension, or empty when that would not help:
/// the innermost loop is already parallel, the output's last dimension is
/// not a plain parallel loop, or an input reads along that loop anywhere but
/// in its own last dimension (a row reduction would turn into strided
/// loads).
SmallVector<unsigned> reductionsOutward(linalg::LinalgOp op) {
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  if (iterators.empty() || iterators.back() != utils::IteratorType::reduction ||
      op.getNumDpsInits() != 1)
    return {};
  AffineMap outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (outMap.getNumResults() == 0)
    return {};
  auto lastDim = dyn_cast<AffineDimExpr>(outMap.getResults().back());
  if (!lastDim ||
      iterators[lastDim.getPosition()] != utils::IteratorType::parallel)
    return {};
  unsigned inner = lastDim.getPosition();
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    for (unsigned i = 0; i + 1 < map.getNumResults(); ++i)
      if (map.getResult(i).isFunctionOfDim(inner))
        return {};
  }
  SmallVector<unsigned> order, reduction;
  for (auto [i, type] : llvm::enumerate(iterators)) {
    if (i == inner)
      continue;
    (type == utils::IteratorType::parallel ? order : reduction).push_back(i);
  }
  order.append(reduction);
  order.push_back(inner);
  return order;
}

struct SparsecCpuInterchangeLoopsPass
    : sparsec::impl::SparsecCpuInterchangeLoopsBase<
          SparsecCpuInterchangeLoopsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> ops;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (!reductionsOutward(op).empty())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : ops) {
      rewriter.setInsertionPoint(op);
      auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
      if (!generic) {
        FailureOr<linalg::GenericOp> general =
            linalg::generalizeNamedOp(rewriter, op);
        if (failed(general))
          continue;
        generic = *general;
      }
      (void)linalg::interchangeGenericOp(rewriter, generic,
                                         reductionsOutward(generic));
    }
  }
};

} // namespace
