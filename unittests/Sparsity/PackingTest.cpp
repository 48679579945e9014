//===- PackingTest.cpp - pack/unpack round trips and exact counts ---------===//
#include "sparsec/Sparsity/Packing.h"
#include "sparsec/Sparsity/Selection.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace sparsec;

namespace {

std::vector<float> randomMatrix(std::mt19937 &rng, int64_t rows, int64_t cols,
                                bool integers) {
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> small(-3, 3);
  std::vector<float> w(rows * cols);
  for (float &x : w)
    x = integers ? float(small(rng)) : normal(rng);
  return w;
}

std::vector<float> applyMask(const std::vector<float> &w,
                             const std::vector<uint8_t> &mask) {
  std::vector<float> out(w.size());
  for (size_t i = 0; i < w.size(); ++i)
    out[i] = mask[i] ? w[i] : 0.0f;
  return out;
}

bool bitEqual(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(Packing, NMRoundTripOnRandomShapes) {
  std::mt19937 rng(11);
  for (auto [n, m] :
       {std::pair<int64_t, int64_t>{2, 4}, {1, 4}, {2, 8}, {3, 16}, {5, 32}}) {
    for (int trial = 0; trial < 20; ++trial) {
      int64_t rows = 1 + rng() % 70, cols = 1 + rng() % 90;
      std::vector<float> w = randomMatrix(rng, rows, cols, trial % 2);
      std::vector<float> s(w.size());
      for (size_t i = 0; i < w.size(); ++i)
        s[i] = std::abs(w[i]);
      Selection sel = selectNM(s.data(), rows, cols, {n, m});
      std::vector<float> masked = applyMask(w, sel.mask);
      NMPacked packed;
      ASSERT_EQ(
          packNM(masked.data(), sel.mask.data(), rows, cols, n, m, packed), "");
      EXPECT_TRUE(bitEqual(unpackNM(packed), masked)) << rows << "x" << cols;
      // Exact-N storage: every group stores N slots.
      EXPECT_EQ(int64_t(packed.values.size()), rows * ((cols + m - 1) / m) * n);
      if (n == 2 && m == 4)
        EXPECT_EQ(int64_t(packed.meta.size()),
                  (rows + 31) / 32 * ((cols + 31) / 32) * 32);
    }
  }
}

TEST(Packing, HiNMRoundTripAndExactCounts) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 40; ++trial) {
    int64_t v = (trial % 2 ? 32 : 16) * (1 + trial % 3);
    int64_t rows = 1 + rng() % 150, cols = 8 + rng() % 120;
    double vs = (trial % 4) * 0.25;
    int64_t nnzVec = hinmKeptVectors(cols, vs, 4);
    if (nnzVec < 4)
      continue;
    std::vector<float> w = randomMatrix(rng, rows, cols, trial % 3 == 0);
    std::vector<float> s(w.size());
    for (size_t i = 0; i < w.size(); ++i)
      s[i] = std::abs(w[i]);
    Selection sel = selectHiNM(s.data(), rows, cols, {v, nnzVec, 2, 4});
    // Every real row keeps exactly nnz_vec / 2; every tile uses nnz_vec
    // columns.
    for (int64_t r = 0; r < rows; ++r) {
      int64_t kept = 0;
      for (int64_t k = 0; k < cols; ++k)
        kept += sel.mask[r * cols + k];
      ASSERT_EQ(kept, nnzVec / 2);
    }
    for (const auto &tile : sel.tiles)
      ASSERT_EQ(int64_t(tile.size()), nnzVec);
    std::vector<float> masked = applyMask(w, sel.mask);
    MetaWordLayout layout =
        v % 32 == 0 ? MetaWordLayout::Meta32 : MetaWordLayout::Meta16;
    HiNMPacked packed;
    ASSERT_EQ(packHiNM(masked.data(), sel.mask.data(), rows, cols, v, 2, 4,
                       sel.tiles, layout, packed),
              "");
    EXPECT_TRUE(bitEqual(unpackHiNM(packed), masked));
    int64_t keptWidth = (nnzVec + 31) / 32 * 32, tiles = (rows + v - 1) / v;
    // formats.md §3.6: values R_p·K_c/2, meta R_p·K_c/8 bytes, idx T·K_c.
    EXPECT_EQ(int64_t(packed.values.size()), tiles * v * keptWidth / 2);
    EXPECT_EQ(int64_t(packed.meta.size()) * 4, tiles * v * keptWidth / 8);
    EXPECT_EQ(int64_t(packed.colIdx.size()), tiles * keptWidth);
  }
}

// The mask decides what is kept: a group keeping fewer than N entries gets
// zero fillers even where the dense weight (not pre-masked) is non-zero.
TEST(Packing, FillersAreZeroWhereTheMaskDropsNonZeros) {
  std::vector<float> w = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<uint8_t> mask = {0, 0, 1, 0, 0, 0, 0, 0};
  std::vector<float> expected = {0, 0, 3, 0, 0, 0, 0, 0};
  NMPacked nm;
  ASSERT_EQ(packNM(w.data(), mask.data(), 1, 8, 2, 4, nm), "");
  EXPECT_EQ(unpackNM(nm), expected);
  EXPECT_EQ(nm.values, (std::vector<float>{0, 3, 0, 0}));
  HiNMPacked hinm;
  std::vector<std::vector<int64_t>> columns = {{0, 1, 2, 3, 4, 5, 6, 7}};
  ASSERT_EQ(packHiNM(w.data(), mask.data(), 1, 8, 32, 2, 4, columns,
                     MetaWordLayout::Meta32, hinm),
            "");
  EXPECT_EQ(unpackHiNM(hinm), expected);
  EXPECT_EQ(hinm.values[0], 0.0f);
  EXPECT_EQ(hinm.values[1], 3.0f);
  EXPECT_EQ(hinm.values[2], 0.0f);
}

TEST(Packing, RejectsOverfullGroups) {
  std::vector<float> w = {1, 2, 3, 0};
  NMPacked packed;
  EXPECT_NE(packNM(w.data(), nullptr, 1, 4, 2, 4, packed), "");
}

TEST(Selection, TiesGoToTheLowerIndex) {
  std::vector<float> v = {1, 3, 3, 1, 3};
  EXPECT_EQ(stableTopK(v.data(), 5, 2), (std::vector<int64_t>{1, 2}));
  std::vector<float> s = {2, 2, 2, 2};
  Selection sel = selectNM(s.data(), 1, 4, {2, 4});
  EXPECT_EQ(sel.mask, (std::vector<uint8_t>{1, 1, 0, 0}));
}

} // namespace
