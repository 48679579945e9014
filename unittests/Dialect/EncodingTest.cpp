//===- EncodingTest.cpp - GEMM views and N:M checks -----------------------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <random>

using namespace mlir;
using namespace sparsec;

namespace {

TEST(GemmView, LinearAndChwAreRowMajor) {
  std::vector<int64_t> linear = {3, 5};
  EXPECT_EQ(gemmToStorageIndex(linear, KOrder::hwc, 2, 4), 14);
  std::vector<int64_t> conv = {2, 3, 2, 2}; // K = 12
  EXPECT_EQ(gemmToStorageIndex(conv, KOrder::chw, 1, 7), 19);
}

TEST(GemmView, HwcPutsInputChannelsFastest) {
  // Independent reference: enumerate (c, y, x) in HWC order and compare
  // with the OIHW storage index.
  std::vector<int64_t> shape = {2, 3, 2, 4};
  int64_t c = shape[1], kh = shape[2], kw = shape[3];
  for (int64_t r = 0; r < shape[0]; ++r) {
    int64_t k = 0;
    for (int64_t y = 0; y < kh; ++y)
      for (int64_t x = 0; x < kw; ++x)
        for (int64_t ch = 0; ch < c; ++ch, ++k)
          EXPECT_EQ(gemmToStorageIndex(shape, KOrder::hwc, r, k),
                    ((r * c + ch) * kh + y) * kw + x);
  }
}

class NMEncodingTest : public testing::Test {
protected:
  NMEncodingTest() { ctx.getOrLoadDialect<SparsecDialect>(); }
  MLIRContext ctx;
};

TEST_F(NMEncodingTest, VerifierRejectsBadParameters) {
  ScopedDiagnosticHandler silence(&ctx, [](Diagnostic &) { return success(); });
  auto emit = [&]() { return emitError(UnknownLoc::get(&ctx)); };
  EXPECT_TRUE(succeeded(NMEncodingAttr::verify(emit, 2, 4, KOrder::hwc)));
  EXPECT_TRUE(succeeded(NMEncodingAttr::verify(emit, 31, 32, KOrder::chw)));
  EXPECT_TRUE(failed(NMEncodingAttr::verify(emit, 4, 4, KOrder::hwc)));
  EXPECT_TRUE(failed(NMEncodingAttr::verify(emit, 0, 4, KOrder::hwc)));
  EXPECT_TRUE(failed(NMEncodingAttr::verify(emit, 2, 12, KOrder::hwc)));
  EXPECT_TRUE(failed(NMEncodingAttr::verify(emit, 2, 64, KOrder::hwc)));
}

TEST_F(NMEncodingTest, ValueCheckMatchesBruteForceOnRandomMasks) {
  ScopedDiagnosticHandler silence(&ctx, [](Diagnostic &) { return success(); });
  std::mt19937 rng(7);
  auto emit = [&]() { return emitError(UnknownLoc::get(&ctx)); };
  for (unsigned m : {4u, 8u, 16u}) {
    for (int trial = 0; trial < 50; ++trial) {
      unsigned n = 1 + rng() % (m - 1);
      int64_t rows = 1 + rng() % 5, cols = 1 + rng() % 40;
      std::vector<char> mask(rows * cols);
      for (char &v : mask)
        v = rng() % 3 == 0;
      // Brute force: any window of M aligned columns with more than N ones.
      bool expectedOk = true;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g * int64_t(m) < cols; ++g) {
          int64_t count = 0;
          for (int64_t k = g * m; k < std::min<int64_t>(cols, (g + 1) * m); ++k)
            count += mask[r * cols + k];
          expectedOk &= count <= int64_t(n);
        }
      auto enc = NMEncodingAttr::get(&ctx, n, m, KOrder::hwc);
      std::vector<uint8_t> nonZero(mask.begin(), mask.end());
      bool ok = succeeded(enc.verifyGemmValues(rows, cols, nonZero, emit));
      EXPECT_EQ(ok, expectedOk) << n << ":" << m << " " << rows << "x" << cols;
      EXPECT_DOUBLE_EQ(enc.getDensity(), double(n) / m);
    }
  }
}

} // namespace
