//===- VerifyEncodings.cpp - check and report weight encodings ------------===//
#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>

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
    if (op.getWeightPartsAttr())
      checkParts(op, failed);
    if (!report)
      return;
    double density = -1;
    if (std::optional<WeightData> data =
            WeightData::getFromValue(op.getWeight())) {
      ArrayRef<float> v = data->values();
      density =
          v.empty()
              ? 0.0
              : double(llvm::count_if(v, [](float x) { return x != 0.0f; })) /
                    double(v.size());
    }
    std::string encText = "none";
    if (enc) {
      llvm::raw_string_ostream os(encText);
      encText.clear();
      enc.print(os);
    }
    llvm::errs() << "sparsec: " << op->getName() << " at " << op.getLoc()
                 << ": gemm " << op.getNumRows() << "x" << op.getReductionSize()
                 << ", encoding " << encText << ", density ";
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

  /// The layer's weight as its GEMM view, if it is a readable constant.
  template <typename LayerOp>
  std::optional<std::vector<float>> weightView(LayerOp op) {
    std::optional<WeightData> data = WeightData::getFromValue(op.getWeight());
    if (!data)
      return std::nullopt;
    ArrayRef<int64_t> shape = op.getWeight().getType().getShape();
    KOrder korder = op.getWeightEncodingAttr().getKOrder();
    int64_t rows = op.getNumRows(), cols = op.getReductionSize();
    std::vector<float> view(rows * cols);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < cols; ++k)
        view[r * cols + k] =
            data->values()[gemmToStorageIndex(shape, korder, r, k)];
    return view;
  }

  /// Every term or factor satisfies its encoding; a sum's terms are
  /// disjoint and add up to the weight bit for bit; a product of factors
  /// reproduces it within float32 rounding.
  template <typename LayerOp> void checkParts(LayerOp op, bool &failed) {
    SparsityEncodingAttrInterface enc = op.getWeightEncodingAttr();
    ArrayAttr parts = op.getWeightPartsAttr();
    int64_t rows = op.getNumRows(), cols = op.getReductionSize();
    auto sum = dyn_cast<SumEncodingAttr>(enc);
    auto product = dyn_cast<ProductEncodingAttr>(enc);
    ArrayRef<SparsityEncodingAttrInterface> encodings =
        sum ? sum.getTerms() : product.getFactors();
    for (auto [i, partEncoding, part] : llvm::enumerate(encodings, parts)) {
      auto [r, c] = product ? product.getFactorShape(i, rows, cols)
                            : std::pair<int64_t, int64_t>{rows, cols};
      auto emitPartError = [&, i = i]() {
        return op.emitError("weight_parts[") << i << "]: ";
      };
      std::vector<float> dense;
      if (std::string error = unpackWeightPart(partEncoding, part, r, c, dense);
          !error.empty()) {
        emitPartError() << error;
        failed = true;
        return;
      }
      std::vector<uint8_t> nonZero(dense.size());
      for (size_t j = 0; j < dense.size(); ++j)
        nonZero[j] = dense[j] != 0.0f;
      if (mlir::failed(partEncoding.verifyGemmShape(r, c, emitPartError)) ||
          mlir::failed(
              partEncoding.verifyGemmValues(r, c, nonZero, emitPartError))) {
        failed = true;
        return;
      }
    }
    std::optional<std::vector<float>> weight = weightView(op);
    if (sum) {
      std::vector<float> total;
      if (std::string error = sum.unpack(parts, rows, cols, total);
          !error.empty()) {
        op.emitError("weight_parts: ") << error;
        failed = true;
        return;
      }
      for (size_t i = 0; weight && i < total.size(); ++i)
        if (std::memcmp(&total[i], &(*weight)[i], sizeof(float)) != 0) {
          op.emitError("the terms do not add up to the weight at (")
              << i / cols << ", " << i % cols << "): " << total[i] << " vs "
              << (*weight)[i];
          failed = true;
          return;
        }
      return;
    }
    std::vector<double> exact, bound;
    if (std::string error = product.multiply(parts, rows, cols, exact, bound);
        !error.empty()) {
      op.emitError("weight_parts: ") << error;
      failed = true;
      return;
    }
    // A float32 chain product is within (inner length) ulps of the bound.
    double length = encodings.size();
    for (int64_t d : product.getInner())
      length += double(d);
    const double eps = std::ldexp(1.0, -23);
    for (size_t i = 0; weight && i < exact.size(); ++i)
      if (std::abs(double((*weight)[i]) - exact[i]) >
          length * eps * bound[i] + 1e-30) {
        op.emitError("the product of the factors does not reproduce the "
                     "weight at (")
            << i / cols << ", " << i % cols << "): " << exact[i] << " vs "
            << (*weight)[i];
        failed = true;
        return;
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
