//===- VerifyEncodings.cpp - check and report weight encodings ------------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"

#include "llvm/Support/Format.h"
#include <cstring>
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
    if (op.getPackedWeightAttr())
      checkPacked(op, failed);
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

  /// The packed arrays must reproduce the dense weight bit for bit.
  template <typename LayerOp> void checkPacked(LayerOp op, bool &failed) {
    std::vector<float> dense;
    std::string error = unpackLayerWeight(op, dense);
    if (!error.empty()) {
      op.emitError("packed weight: ") << error;
      failed = true;
      return;
    }
    std::optional<WeightData> data = WeightData::getFromValue(op.getWeight());
    if (!data)
      return;
    ArrayRef<int64_t> shape = op.getWeight().getType().getShape();
    KOrder korder = op.getWeightEncodingAttr().getKOrder();
    int64_t rows = op.getNumRows(), cols = op.getReductionSize();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < cols; ++k) {
        float want = data->values()[gemmToStorageIndex(shape, korder, r, k)];
        float got = dense[r * cols + k];
        if (std::memcmp(&want, &got, sizeof(float)) != 0) {
          op.emitError("packed weight does not reproduce the dense weight at (")
              << r << ", " << k << "): " << got << " vs " << want;
          failed = true;
          return;
        }
      }
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
