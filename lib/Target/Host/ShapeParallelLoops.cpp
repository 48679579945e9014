//===- ShapeParallelLoops.cpp - linalg's loops shaped for OpenMP ----------===//
#include "sparsec/Target/Host/Passes.h"

#include "PackedGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCPUSHAPEPARALLELLOOPS
#include "sparsec/Target/Host/Passes.h.inc"
} // namespace sparsec

using namespace mlir;

namespace {

/// Static trip count of one loop dimension, if known.
std::optional<int64_t> tripCount(Value lower, Value upper, Value step) {
  std::optional<int64_t> lo = getConstantIntValue(lower),
                         hi = getConstantIntValue(upper),
                         st = getConstantIntValue(step);
  if (!lo || !hi || !st || *st <= 0)
    return std::nullopt;
  return std::max<int64_t>(0, (*hi - *lo + *st - 1) / *st);
}

/// Iterations of `op`'s nest: its dimensions times every loop inside it
/// (an unknown trip count counts as large).
int64_t nestIterations(scf::ParallelOp op) {
  constexpr int64_t unknown = int64_t(1) << 40;
  int64_t total = 1;
  // Saturating at `unknown`: two dynamic dims (--input-shape=x:?x?) would
  // otherwise overflow.
  auto times = [&](std::optional<int64_t> n) {
    int64_t factor = n ? std::clamp<int64_t>(*n, 1, unknown) : unknown;
    total = total >= unknown / factor ? unknown : total * factor;
  };
  for (auto [lo, hi, st] :
       llvm::zip(op.getLowerBound(), op.getUpperBound(), op.getStep()))
    times(tripCount(lo, hi, st));
  // The deepest chain of inner loops bounds the work per iteration well
  // enough; sum over siblings is not needed for a yes/no decision.
  int64_t inner = 1;
  op.getBody()->walk([&](Operation *nested) {
    if (auto loop = dyn_cast<scf::ForOp>(nested)) {
      std::optional<int64_t> n =
          tripCount(loop.getLowerBound(), loop.getUpperBound(), loop.getStep());
      inner = std::max(inner, n ? *n : unknown);
    } else if (auto par = dyn_cast<scf::ParallelOp>(nested)) {
      inner = std::max(inner, nestIterations(par));
    }
  });
  times(inner);
  return total;
}

/// Keeps dimensions [0, keep) of `op` parallel (none: no scf.parallel) and
/// runs the others as nested scf.for loops inside, in order.
void sequentialize(scf::ParallelOp op, unsigned keep) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  unsigned dims = op.getNumLoops();
  Block *innermost = nullptr;
  SmallVector<Value> ivs(dims);
  auto buildFors = [&](OpBuilder &fb, ValueRange outer) {
    for (unsigned d = 0; d < keep; ++d)
      ivs[d] = outer[d];
    OpBuilder inner = fb;
    for (unsigned d = keep; d < dims; ++d) {
      auto loop = scf::ForOp::create(inner, loc, op.getLowerBound()[d],
                                     op.getUpperBound()[d], op.getStep()[d]);
      ivs[d] = loop.getInductionVar();
      inner.setInsertionPointToStart(loop.getBody());
    }
    innermost = inner.getInsertionBlock();
  };
  if (keep > 0) {
    auto outer = scf::ParallelOp::create(
        b, loc, op.getLowerBound().take_front(keep),
        op.getUpperBound().take_front(keep), op.getStep().take_front(keep),
        [&](OpBuilder &pb, Location, ValueRange outerIvs) {
          buildFors(pb, outerIvs);
        });
    (void)outer;
  } else {
    buildFors(b, {});
  }
  Block *body = op.getBody();
  for (unsigned d = 0; d < dims; ++d)
    op.getInductionVars()[d].replaceAllUsesWith(ivs[d]);
  // Move everything but the scf.reduce terminator in front of the
  // innermost block's terminator (scf.yield or scf.reduce).
  innermost->getOperations().splice(innermost->getTerminator()->getIterator(),
                                    body->getOperations(), body->begin(),
                                    std::prev(body->end()));
  op.erase();
}

struct SparsecCpuShapeParallelLoopsPass
    : sparsec::impl::SparsecCpuShapeParallelLoopsBase<
          SparsecCpuShapeParallelLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    // Outermost first: a nest's inner parallel loops are decided after it.
    SmallVector<scf::ParallelOp> loops;
    getOperation().walk<WalkOrder::PreOrder>(
        [&](scf::ParallelOp op) { loops.push_back(op); });
    for (scf::ParallelOp op : loops) {
      if (op.getNumResults() != 0 ||
          op->hasAttr(sparsec::kernel::kKernelLoopTag))
        continue; // a reduction, or a kernel's loop: left as they are
      bool nested = op->getParentOfType<scf::ParallelOp>() ||
                    op->getParentOfType<scf::ForOp>();
      bool hasInnerLoop = false;
      op.getBody()->walk([&](Operation *inner) {
        if (isa<scf::ForOp, scf::ParallelOp>(inner))
          hasInnerLoop = true;
      });
      if (nested || nestIterations(op) < minIterations)
        sequentialize(op, 0);
      else if (!hasInnerLoop && op.getNumLoops() > 1)
        sequentialize(op, op.getNumLoops() - 1);
    }
  }
};

} // namespace
