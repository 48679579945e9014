//===- KernelPackingTest.cpp - kernel-layout packing of the CUDA target ---===//
//
// Decodes the arrays of packForKernel with an independent reading of
// docs/CUDABackend.md (META32 register image, [64-row block][k-step][half]
// record order) and checks that they reproduce the masked, rounded weight.
//
//===----------------------------------------------------------------------===//
#include "sparsec/KernelGen/KernelGen.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace sparsec::cuda;

namespace {

float roundHalf(float x) { return halfBitsToFloat(floatToHalfBits(x)); }

/// Dense R x K weight reconstructed from the kernel arrays.
std::vector<float> decode(const LinearKernelConfig &c, const KernelWeights &w) {
  KernelLaunchInfo info = launchInfo(c);
  int64_t groups = info.keptWidth / 4, kSteps = info.keptWidth / 32;
  std::vector<float> dense(c.rows * c.cols, 0.0f);
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t q = 0; q < groups; ++q) {
      int64_t record = ((r / 64) * kSteps + q / 8) * 2 + (r % 64) / 32;
      bool top = r % 32 < 16, upper = r % 16 >= 8;
      int64_t g = r % 8, p = (q % 8) / 4, nibble = q % 4;
      uint32_t word = w.meta[record * 32 + 4 * g + (top ? p : 2 + p)];
      uint32_t code = (word >> (4 * nibble + (upper ? 16 : 0))) & 0xF;
      unsigned pos[2] = {code & 3u, code >> 2};
      EXPECT_LT(pos[0], pos[1]) << "unordered code at row " << r;
      for (int s = 0; s < 2; ++s) {
        float value =
            halfBitsToFloat(w.values[r * info.keptWidth / 2 + 2 * q + s]);
        int64_t compacted = 4 * q + pos[s];
        int64_t col = c.hinm ? w.colIdx[(r / c.v) * info.keptWidth + compacted]
                             : compacted;
        if (value != 0.0f) {
          EXPECT_LT(col, c.cols);
          if (col >= c.cols)
            continue;
          dense[r * c.cols + col] += value;
        }
      }
    }
  return dense;
}

TEST(KernelPacking, HalfConversionRoundsToNearestEven) {
  EXPECT_EQ(floatToHalfBits(1.0f), 0x3c00);
  EXPECT_EQ(floatToHalfBits(65504.0f), 0x7bff);
  EXPECT_EQ(floatToHalfBits(65520.0f), 0x7c00); // rounds up to infinity
  EXPECT_EQ(floatToHalfBits(-2.0f), 0xc000);
  EXPECT_EQ(floatToHalfBits(1.0f + std::ldexp(1.0f, -11)), 0x3c00); // tie, even
  EXPECT_EQ(floatToHalfBits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(floatToHalfBits(std::ldexp(1.0f, -24)),
            0x0001); // smallest subnormal
  EXPECT_EQ(floatToHalfBits(std::ldexp(1.0f, -25)), 0x0000); // tie to zero
  EXPECT_EQ(floatToBF16Bits(1.0f), 0x3f80);
  EXPECT_EQ(floatToBF16Bits(1.0f + std::ldexp(1.0f, -8)), 0x3f80); // tie, even
  EXPECT_EQ(floatToBF16Bits(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(halfBitsToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(bf16BitsToFloat(0xc040), -3.0f);
}

struct Case {
  bool hinm;
  int64_t rows, cols, v, nnzVec;
};

class KernelPackingRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(KernelPackingRoundTrip, ArraysReproduceTheMaskedWeight) {
  Case tc = GetParam();
  std::mt19937 rng(42);
  std::normal_distribution<float> normal;
  LinearKernelConfig c;
  c.hinm = tc.hinm;
  c.rows = tc.rows;
  c.cols = tc.cols;
  c.v = tc.v;
  c.keptWidth = tc.hinm ? (tc.nnzVec + 31) / 32 * 32 : 0;
  ASSERT_EQ(verifyConfig(c), "");
  std::vector<float> weight(c.rows * c.cols);
  for (float &x : weight)
    x = normal(rng);
  std::vector<uint8_t> mask(weight.size(), 0);
  std::vector<std::vector<int64_t>> columns;
  if (!tc.hinm) {
    for (int64_t r = 0; r < c.rows; ++r)
      for (int64_t g = 0; g < c.cols; g += 4) {
        int64_t width = std::min<int64_t>(4, c.cols - g);
        int64_t a = rng() % width, b = (a + 1 + rng() % 3) % width;
        mask[r * c.cols + g + a] = mask[r * c.cols + g + b] = 1;
      }
  } else {
    int64_t tiles = (c.rows + c.v - 1) / c.v;
    for (int64_t t = 0; t < tiles; ++t) {
      std::vector<int64_t> all(c.cols);
      for (int64_t i = 0; i < c.cols; ++i)
        all[i] = i;
      std::shuffle(all.begin(), all.end(), rng); // any order: it defines groups
      all.resize(tc.nnzVec);
      for (int64_t r = t * c.v; r < std::min(c.rows, (t + 1) * c.v); ++r)
        for (int64_t q = 0; q < tc.nnzVec; q += 4) {
          int64_t a = rng() % 4, b = (a + 1 + rng() % 3) % 4;
          mask[r * c.cols + all[q + a]] = mask[r * c.cols + all[q + b]] = 1;
        }
      columns.push_back(all);
    }
  }
  KernelWeights packed;
  ASSERT_EQ(packForKernel(c, weight.data(), mask.data(),
                          tc.hinm ? &columns : nullptr, nullptr, packed),
            "");
  KernelLaunchInfo info = launchInfo(c);
  EXPECT_EQ(int64_t(packed.values.size()),
            info.rowsPadded * info.keptWidth / 2);
  EXPECT_EQ(int64_t(packed.meta.size()), info.rowsPadded * info.keptWidth / 32);
  std::vector<float> dense = decode(c, packed);
  for (int64_t i = 0; i < c.rows * c.cols; ++i)
    ASSERT_EQ(dense[i], mask[i] ? roundHalf(weight[i]) : 0.0f)
        << "element " << i;
}

INSTANTIATE_TEST_SUITE_P(Formats, KernelPackingRoundTrip,
                         ::testing::Values(Case{false, 64, 64, 0, 0},
                                           Case{false, 100, 70, 0, 0},
                                           Case{true, 64, 96, 64, 48},
                                           Case{true, 200, 130, 64, 64},
                                           Case{true, 256, 300, 128, 72}));

TEST(KernelPacking, RejectsWhatTheKernelsCannotRun) {
  LinearKernelConfig c;
  c.rows = 64;
  c.cols = 64;
  c.hinm = true;
  c.v = 32;
  c.keptWidth = 32;
  EXPECT_NE(verifyConfig(c).find("multiple of 64"), std::string::npos);
  c.v = 64;
  c.keptWidth = 96;
  EXPECT_NE(verifyConfig(c).find("exceeds the input width"), std::string::npos);
  c.keptWidth = 32;
  c.arch = Arch::SM90a;
  c.tileN = 32;
  EXPECT_EQ(verifyConfig(c), ""); // Auto: HiNM takes mma.sp, which has 32
  c.wgmma = WgmmaMode::Async;
  EXPECT_NE(verifyConfig(c).find("not supported by wgmma on sm_90a"),
            std::string::npos);
  c.tileN = 256;
  c.stages = 3; // 54 KiB: fine as dynamic shared memory
  EXPECT_EQ(verifyConfig(c), "");
  c.stages = 9;
  EXPECT_NE(verifyConfig(c).find("between 2 and 8"), std::string::npos);
  c.stages = 0;
  EXPECT_EQ(verifyConfig(c), "");
  c.tileM = 128; // HiNM rows per CTA must divide V
  EXPECT_NE(verifyConfig(c).find("multiple of it"), std::string::npos);
  c.hinm = false;
  c.rows = 256;
  c.tileM = 256;
  EXPECT_NE(verifyConfig(c).find("accumulator registers"), std::string::npos);
  c.tileN = 128;
  EXPECT_EQ(verifyConfig(c), "");
  c.arch = Arch::SM80;
  c.tileN = 64;
  EXPECT_NE(verifyConfig(c).find("needs sm_90a"), std::string::npos);
  c.tileM = 128; // mma.sp: 8 warps
  EXPECT_EQ(verifyConfig(c), "");
  c.arch = Arch::SM90a;
  c.wgmma = WgmmaMode::Off;
  EXPECT_EQ(verifyConfig(c), "");
  c.tileM = 256;
  EXPECT_NE(verifyConfig(c).find("needs wgmma"), std::string::npos);
  LinearKernelConfig dense;
  dense.rows = 64;
  dense.cols = 8;
  std::vector<float> ones(64 * 8, 1.0f);
  KernelWeights out;
  EXPECT_NE(packForKernel(dense, ones.data(), nullptr, nullptr, nullptr, out)
                .find("not 2:4 sparse"),
            std::string::npos);
}

} // namespace

// --cuda-wgmma=auto: the per-layer instruction rule and the small-T entry
// that goes with it (KernelGen.h, WgmmaMode).
TEST(KernelPacking, AutoPicksTheInstructionPerLayer) {
  LinearKernelConfig c;
  c.arch = Arch::SM90a;
  c.rows = 4096;
  c.cols = 4096;
  EXPECT_TRUE(usesWgmma(c)); // 2:4, >= 2048 rows
  KernelLaunchInfo wide = launchInfo(c);
  EXPECT_EQ(wide.mma, "wgmma");
  EXPECT_EQ(wide.tileM, 256);
  EXPECT_EQ(wide.tileN, 128);
  EXPECT_EQ(wide.smallMma, "mma.sp");
  EXPECT_EQ(wide.smallTileM, 64);
  EXPECT_EQ(wide.smallTileN, 128);
  EXPECT_EQ(wide.smallMaxTokens, 256);
  EXPECT_EQ(wide.smallThreads, 128);

  c.rows = 2047;
  EXPECT_FALSE(usesWgmma(c));
  KernelLaunchInfo narrow = launchInfo(c);
  EXPECT_EQ(narrow.mma, "mma.sp");
  EXPECT_EQ(narrow.tileM, 64);
  EXPECT_EQ(narrow.smallMma, "mma.sp");
  EXPECT_EQ(narrow.smallTileN, 64);
  EXPECT_EQ(narrow.smallMaxTokens, 64);

  c.rows = 4096;
  c.hinm = true;
  c.v = 128;
  c.keptWidth = 1024;
  EXPECT_FALSE(usesWgmma(c)); // HiNM: mma.sp
  c.tileM = 128;              // mma.sp has 128-row tiles too
  EXPECT_FALSE(usesWgmma(c));
  c.tileM = 256; // tiles only wgmma has select it
  EXPECT_TRUE(usesWgmma(c));
  c.tileM = 0;
  c.tileN = 256;
  EXPECT_TRUE(usesWgmma(c));
  c.tileN = 0;
  c.wgmma = WgmmaMode::Sync;
  EXPECT_TRUE(usesWgmma(c));
  KernelLaunchInfo sync = launchInfo(c);
  EXPECT_EQ(sync.smallMma, "wgmma"); // explicit modes keep their path
  EXPECT_EQ(sync.smallMaxTokens, 64);
  c.wgmma = WgmmaMode::Async;
  c.arch = Arch::SM80; // sm_80 has mma.sp only, whatever the mode
  EXPECT_FALSE(usesWgmma(c));

  WgmmaMode mode;
  for (const char *name : {"auto", "async", "sync", "off"}) {
    ASSERT_TRUE(parseWgmmaMode(name, mode));
    EXPECT_STREQ(wgmmaModeName(mode), name);
  }
  EXPECT_FALSE(parseWgmmaMode("on", mode));
}
