//===- Selection.cpp - N:M and HiNM mask selection ------------------------===//
#include "sparsec/Sparsity/Selection.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sparsec {

template <typename T>
std::vector<int64_t> stableTopK(const T *v, int64_t n, int64_t k) {
  k = std::min(k, n);
  std::vector<int64_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  // Larger value first; among equal values the smaller index first.
  auto better = [v](int64_t a, int64_t b) {
    return v[a] > v[b] || (v[a] == v[b] && a < b);
  };
  if (k < n)
    std::nth_element(idx.begin(), idx.begin() + k, idx.end(), better);
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}
template std::vector<int64_t> stableTopK(const float *, int64_t, int64_t);
template std::vector<int64_t> stableTopK(const double *, int64_t, int64_t);

int64_t hinmKeptVectors(int64_t k, double vectorSparsity, int64_t m) {
  return m * int64_t(std::floor(double(k) * (1.0 - vectorSparsity) / double(m)));
}

std::string validateNM(const NMConfig &c) {
  if (c.m != 4 && c.m != 8 && c.m != 16 && c.m != 32)
    return "M must be one of 4, 8, 16, 32 (got " + std::to_string(c.m) + ")";
  if (c.n < 1 || c.n >= c.m)
    return "N:M needs 1 <= N < M (got " + std::to_string(c.n) + ":" +
           std::to_string(c.m) + ")";
  return "";
}

std::string validateHiNM(const HiNMConfig &c, int64_t cols) {
  std::string nm = validateNM({c.n, c.m});
  if (!nm.empty())
    return nm;
  if (c.v <= 0 || c.v % 16 != 0)
    return "V must be a positive multiple of 16 (got " + std::to_string(c.v) +
           ")";
  // Rows pad to a multiple of V: an absurd V multiplies every layer's
  // storage (V = 10^6 made a 25 KB model 2 GB).
  if (c.v > kMaxHiNMTileRows)
    return "V = " + std::to_string(c.v) + " exceeds " +
           std::to_string(kMaxHiNMTileRows) +
           " rows per tile; rows are padded to a multiple of V";
  if (c.nnzVec < c.m || c.nnzVec % c.m != 0)
    return "HiNM keeps " + std::to_string(c.nnzVec) +
           " column vectors per tile; it must be a positive multiple of M = " +
           std::to_string(c.m) + " (vector sparsity too high for K = " +
           std::to_string(cols) + ")";
  if (c.nnzVec > cols)
    return "HiNM keeps " + std::to_string(c.nnzVec) +
           " column vectors but K is only " + std::to_string(cols);
  return "";
}

namespace {
/// stable_topk for one small group without allocating: writes the positions
/// (ascending) of the n largest of v[0..width) into `out`; returns how many.
int64_t groupTopN(const float *v, int64_t width, int64_t n, int64_t *out) {
  n = std::min(n, width);
  // `best` holds candidate positions ordered best first: larger value, then
  // smaller index. Positions arrive in increasing order, so an equal value
  // never displaces an earlier one.
  int64_t best[32];
  int64_t count = 0;
  for (int64_t j = 0; j < width; ++j) {
    if (count == n && !(v[j] > v[best[n - 1]]))
      continue;
    int64_t at = count < n ? count++ : n - 1;
    while (at > 0 && v[j] > v[best[at - 1]]) {
      best[at] = best[at - 1];
      --at;
    }
    best[at] = j;
  }
  std::copy(best, best + n, out);
  std::sort(out, out + n);
  return n;
}
} // namespace

Selection selectNM(const float *s, int64_t rows, int64_t cols,
                   const NMConfig &c) {
  Selection sel;
  sel.mask.assign(rows * cols, 0);
  int64_t kept[32];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t start = 0; start < cols; start += c.m) {
      int64_t width = std::min(c.m, cols - start);
      int64_t count = groupTopN(s + r * cols + start, width, c.n, kept);
      for (int64_t j = 0; j < count; ++j)
        sel.mask[r * cols + start + kept[j]] = 1;
    }
  return sel;
}

std::vector<std::vector<int64_t>>
selectHiNMVectors(const float *s, int64_t rows, int64_t cols,
                  const HiNMConfig &c, const std::vector<int64_t> &rowOrder) {
  int64_t tiles = (rows + c.v - 1) / c.v;
  std::vector<std::vector<int64_t>> lists;
  lists.reserve(tiles);
  std::vector<double> colscore(cols);
  for (int64_t t = 0; t < tiles; ++t) {
    // Padding rows have zero saliency and add nothing.
    std::fill(colscore.begin(), colscore.end(), 0.0);
    for (int64_t i = t * c.v; i < (t + 1) * c.v; ++i) {
      int64_t r = rowOrder.empty() ? i : rowOrder[i];
      if (r >= rows)
        continue;
      for (int64_t k = 0; k < cols; ++k)
        colscore[k] += double(s[r * cols + k]);
    }
    lists.push_back(stableTopK(colscore.data(), cols, c.nnzVec));
  }
  return lists;
}

Selection selectHiNMWithColumns(const float *s, int64_t rows, int64_t cols,
                                const HiNMConfig &c,
                                const std::vector<int64_t> &rowOrder,
                                std::vector<std::vector<int64_t>> tileColumns) {
  Selection sel;
  sel.mask.assign(rows * cols, 0);
  std::vector<float> group(c.m);
  int64_t keptInGroup[32];
  for (int64_t t = 0; t < int64_t(tileColumns.size()); ++t) {
    const std::vector<int64_t> &kept = tileColumns[t];
    for (int64_t i = t * c.v; i < (t + 1) * c.v; ++i) {
      int64_t r = rowOrder.empty() ? i : rowOrder[i];
      if (r >= rows)
        continue;
      for (int64_t q = 0; q < int64_t(kept.size()) / c.m; ++q) {
        for (int64_t j = 0; j < c.m; ++j)
          group[j] = s[r * cols + kept[q * c.m + j]];
        int64_t count = groupTopN(group.data(), c.m, c.n, keptInGroup);
        for (int64_t j = 0; j < count; ++j)
          sel.mask[r * cols + kept[q * c.m + keptInGroup[j]]] = 1;
      }
    }
  }
  sel.tiles = std::move(tileColumns);
  return sel;
}

Selection selectHiNM(const float *s, int64_t rows, int64_t cols,
                     const HiNMConfig &c) {
  return selectHiNMWithColumns(s, rows, cols, c, {},
                               selectHiNMVectors(s, rows, cols, c));
}

} // namespace sparsec
