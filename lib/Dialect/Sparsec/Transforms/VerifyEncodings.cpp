//===- VerifyEncodings.cpp - check and report weight encodings ------------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

namespace sparsec {
#define GEN_PASS_DEF_SPARSECVERIFYENCODINGS
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h.inc"
} // namespace sparsec

using namespace mlir;
using namespace sparsec;

namespace {

struct SparsecVerifyEncodingsPass
    : sparsec::impl::SparsecVerifyEncodingsBase<SparsecVerifyEncodingsPass> {
  using Base::Base;

  template <typename LayerOp> void check(LayerOp op, bool &failed) {
    SparsityEncodingAttrInterface enc = op.getWeightEncodingAttr();
    if (!enc && requireEncoding) {
      op.emitError("layer has no weight_encoding (require-encoding is set)");
      failed = true;
    }
    if (!report)
      return;
    double density = -1;
    if (std::optional<WeightData> data =
            WeightData::getFromValue(op.getWeight())) {
      ArrayRef<float> v = data->values();
      density = v.empty() ? 0.0
                          : double(llvm::count_if(
                                v, [](float x) { return x != 0.0f; })) /
                                double(v.size());
    }
    std::string encText = "none";
    if (enc) {
      llvm::raw_string_ostream os(encText);
      encText.clear();
      enc.print(os);
    }
    llvm::errs() << "sparsec: " << op->getName() << " at " << op.getLoc()
                 << ": gemm " << op.getNumRows() << "x"
                 << op.getReductionSize() << ", encoding " << encText
                 << ", density ";
    if (density < 0)
      llvm::errs() << "unknown\n";
    else
      llvm::errs() << llvm::format("%.4f", density) << "\n";
  }

  void runOnOperation() override {
    bool failed = false;
    getOperation().walk([&](Operation *op) {
      if (auto linear = dyn_cast<LinearOp>(op))
        check(linear, failed);
      else if (auto conv = dyn_cast<Conv2DOp>(op))
        check(conv, failed);
    });
    if (failed)
      signalPassFailure();
  }
};

} // namespace
