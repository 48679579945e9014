//===- DynamicExpandShapes.cpp - dynamic expand_shape as reinterpret_cast -===//
#include "sparsec/Target/Host/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCPUDYNAMICEXPANDSHAPES
#include "sparsec/Target/Host/Passes.h.inc"
} // namespace sparsec

using namespace mlir;

namespace {

/// Whether a group of `expand` splits into more than one dynamic size (what
/// expand-strided-metadata cannot lower).
bool splitsIntoDynamicSizes(memref::ExpandShapeOp expand) {
  MemRefType result = expand.getResultType();
  for (const ReassociationIndices &group : expand.getReassociationIndices())
    if (llvm::count_if(group,
                       [&](int64_t d) { return result.isDynamicDim(d); }) > 1)
      return true;
  return false;
}

struct SparsecCpuDynamicExpandShapesPass
    : sparsec::impl::SparsecCpuDynamicExpandShapesBase<
          SparsecCpuDynamicExpandShapesPass> {
  void runOnOperation() override {
    SmallVector<memref::ExpandShapeOp> expands;
    getOperation().walk([&](memref::ExpandShapeOp expand) {
      if (expand.getSrcType().getLayout().isIdentity() &&
          expand.getResultType().getLayout().isIdentity() &&
          splitsIntoDynamicSizes(expand))
        expands.push_back(expand);
    });
    for (memref::ExpandShapeOp expand : expands) {
      OpBuilder b(expand);
      Location loc = expand.getLoc();
      SmallVector<OpFoldResult> sizes = expand.getMixedOutputShape();
      // Row-major strides of the output sizes.
      SmallVector<OpFoldResult> strides(sizes.size(), b.getIndexAttr(1));
      for (int64_t d = int64_t(sizes.size()) - 2; d >= 0; --d) {
        std::optional<int64_t> next = getConstantIntValue(strides[d + 1]),
                               size = getConstantIntValue(sizes[d + 1]);
        if (next && size) {
          strides[d] = b.getIndexAttr(*next * *size);
          continue;
        }
        Value lhs = getValueOrCreateConstantIndexOp(b, loc, strides[d + 1]);
        Value rhs = getValueOrCreateConstantIndexOp(b, loc, sizes[d + 1]);
        strides[d] = arith::MulIOp::create(b, loc, lhs, rhs).getResult();
      }
      auto cast = memref::ReinterpretCastOp::create(
          b, loc, expand.getResultType(), expand.getSrc(), b.getIndexAttr(0),
          sizes, strides);
      expand.replaceAllUsesWith(cast.getResult());
      expand.erase();
    }
  }
};

} // namespace
