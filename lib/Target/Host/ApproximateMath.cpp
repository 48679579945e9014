//===- ApproximateMath.cpp - vectorisable erf, exp and tanh ---------------===//
#include "sparsec/Target/Host/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCPUAPPROXIMATEMATH
#include "sparsec/Target/Host/Passes.h.inc"
} // namespace sparsec

using namespace mlir;

namespace {

struct SparsecCpuApproximateMathPass
    : sparsec::impl::SparsecCpuApproximateMathBase<
          SparsecCpuApproximateMathPass> {
  using Base::Base;

  void runOnOperation() override {
    llvm::SmallVector<std::string> names(ops.begin(), ops.end());
    if (names.empty())
      names = {"erf", "exp", "tanh"};
    for (const std::string &name : names)
      if (name != "erf" && name != "exp" && name != "tanh") {
        getOperation().emitError("sparsec-cpu-approximate-math: ops must be "
                                 "erf, exp or tanh, not '")
            << name << "'";
        return signalPassFailure();
      }
    RewritePatternSet patterns(&getContext());
    // The predicate sees full op names ("math.erf").
    populateMathPolynomialApproximationPatterns(patterns, [&](StringRef op) {
      return op.consume_front("math.") && llvm::is_contained(names, op);
    });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // The approximations multiply-add with math.fma, which
    // convert-math-to-libm would turn into scalar fmaf calls (no loop
    // vectorises over a call): LLVM's fma intrinsic instead.
    SmallVector<math::FmaOp> fmas;
    getOperation().walk([&](math::FmaOp op) { fmas.push_back(op); });
    for (math::FmaOp op : fmas) {
      OpBuilder b(op);
      op.replaceAllUsesWith(
          LLVM::FMAOp::create(b, op.getLoc(), op.getA(), op.getB(), op.getC())
              .getResult());
      op.erase();
    }
  }
};

} // namespace
