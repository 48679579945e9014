//===- PermuteLanes.cpp - sparsec.permute_lanes to x86 or portable code ---===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Target/Host/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCPULOWERPERMUTELANES
#include "sparsec/Target/Host/Passes.h.inc"
} // namespace sparsec

using namespace mlir;
using namespace sparsec;

namespace {

/// The x86 intrinsic that permutes `lanes` f32 lanes by a vector of
/// indices with `isa`'s instructions, or "" for none.
StringRef x86Intrinsic(StringRef isa, int64_t lanes) {
  bool avx2 = isa == "avx2" || isa == "avx512";
  if (lanes == 4 && avx2)
    return "llvm.x86.avx.vpermilvar.ps"; // one quad: in-lane is enough
  if (lanes == 8 && avx2)
    return "llvm.x86.avx2.permps";
  if (lanes == 16 && isa == "avx512")
    return "llvm.x86.avx512.permvar.sf.512";
  return "";
}

/// result[i] = source[indices[i] mod N], one lane at a time.
Value lowerPortably(OpBuilder &b, PermuteLanesOp op) {
  Location loc = op.getLoc();
  auto type = cast<VectorType>(op.getSource().getType());
  int64_t lanes = type.getNumElements();
  Value lowBits = arith::ConstantIntOp::create(b, loc, lanes - 1, 32);
  Value result = arith::ConstantOp::create(b, loc, b.getZeroAttr(type));
  for (int64_t i = 0; i < lanes; ++i) {
    Value index = vector::ExtractOp::create(b, loc, op.getIndices(),
                                            ArrayRef<int64_t>{i});
    Value lane = arith::IndexCastOp::create(
        b, loc, b.getIndexType(),
        arith::AndIOp::create(b, loc, index, lowBits));
    Value value = vector::ExtractOp::create(b, loc, op.getSource(),
                                            ArrayRef<OpFoldResult>{lane});
    result =
        vector::InsertOp::create(b, loc, value, result, ArrayRef<int64_t>{i});
  }
  return result;
}

struct SparsecCpuLowerPermuteLanesPass
    : sparsec::impl::SparsecCpuLowerPermuteLanesBase<
          SparsecCpuLowerPermuteLanesPass> {
  using Base::Base;

  void runOnOperation() override {
    if (isa != "none" && isa != "avx2" && isa != "avx512") {
      getOperation().emitError("sparsec-cpu-lower-permute-lanes: isa must be "
                               "none, avx2 or avx512, not '")
          << isa.getValue() << "'";
      return signalPassFailure();
    }
    SmallVector<PermuteLanesOp> permutes;
    getOperation().walk([&](PermuteLanesOp op) { permutes.push_back(op); });
    for (PermuteLanesOp op : permutes) {
      OpBuilder b(op);
      auto type = cast<VectorType>(op.getSource().getType());
      StringRef intrinsic = x86Intrinsic(isa, type.getNumElements());
      // vpermps takes (table, indices); vpermilps (table, indices) too.
      Value result = intrinsic.empty()
                         ? lowerPortably(b, op)
                         : LLVM::CallIntrinsicOp::create(
                               b, op.getLoc(), type, b.getStringAttr(intrinsic),
                               ValueRange{op.getSource(), op.getIndices()})
                               .getResult(0);
      op.replaceAllUsesWith(result);
      op.erase();
    }
  }
};

} // namespace
