//===- Packing.cpp - packed N:M and HiNM storage --------------------------===//
#include "sparsec/Sparsity/Packing.h"

#include <algorithm>

namespace sparsec {
namespace {

int64_t roundUp(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

/// Chooses the N slots of one group of width `width` (<= m): the kept
/// entries, then fillers at the smallest unused positions, sorted.
bool groupSlots(const float *w, const uint8_t *mask, int64_t width, int64_t n,
                int64_t m, std::vector<uint8_t> &slots) {
  slots.clear();
  for (int64_t j = 0; j < width; ++j)
    if (mask ? mask[j] != 0 : w[j] != 0.0f)
      slots.push_back(j);
  if (int64_t(slots.size()) > n)
    return false;
  for (int64_t j = 0; j < m && int64_t(slots.size()) < n; ++j)
    if (std::find(slots.begin(), slots.end(), j) == slots.end())
      slots.push_back(j);
  std::sort(slots.begin(), slots.end());
  return true;
}

/// E(g, p) of formats.md §2.1 for the 16-row half starting at `row0` and the
/// 8-group k-block starting at `group0`.
uint32_t metaWord(const std::vector<uint8_t> &codes, int64_t groups,
                  int64_t row0, int64_t group0, int64_t g, int64_t p) {
  uint32_t word = 0;
  for (int64_t c = 0; c < 4; ++c) {
    int64_t group = group0 + 4 * p + c;
    word |= uint32_t(codes[(row0 + g) * groups + group]) << (4 * c);
    word |= uint32_t(codes[(row0 + g + 8) * groups + group]) << (16 + 4 * c);
  }
  return word;
}

} // namespace

std::vector<uint32_t> buildMetaWords(const std::vector<uint8_t> &codes,
                                     int64_t rows, int64_t groups,
                                     MetaWordLayout layout) {
  std::vector<uint32_t> words;
  int64_t blockRows = layout == MetaWordLayout::Meta32 ? 32 : 16;
  for (int64_t kb = 0; kb < groups / 8; ++kb)
    for (int64_t rb = 0; rb < rows / blockRows; ++rb) {
      int64_t row0 = rb * blockRows, group0 = kb * 8;
      if (layout == MetaWordLayout::Meta16) {
        for (int64_t g = 0; g < 8; ++g)
          for (int64_t p = 0; p < 2; ++p)
            words.push_back(metaWord(codes, groups, row0, group0, g, p));
      } else {
        for (int64_t g = 0; g < 8; ++g)
          for (int64_t t = 0; t < 4; ++t)
            words.push_back(
                t < 2 ? metaWord(codes, groups, row0, group0, g, t)
                      : metaWord(codes, groups, row0 + 16, group0, g, t - 2));
      }
    }
  return words;
}

std::string packNM(const float *w, const uint8_t *mask, int64_t rows,
                   int64_t cols, int64_t n, int64_t m, NMPacked &out) {
  out = NMPacked();
  out.rows = rows;
  out.cols = cols;
  out.n = n;
  out.m = m;
  out.groups = (cols + m - 1) / m;
  int64_t slotsPerRow = out.groups * n;
  out.values.assign(rows * slotsPerRow, 0.0f);
  out.pos.assign(rows * slotsPerRow, 0);
  std::vector<uint8_t> slots;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t q = 0; q < out.groups; ++q) {
      int64_t start = q * m, width = std::min(m, cols - start);
      const float *wg = w + r * cols + start;
      if (!groupSlots(wg, mask ? mask + r * cols + start : nullptr, width, n, m,
                      slots))
        return "row " + std::to_string(r) + ", group " + std::to_string(q) +
               " keeps more than " + std::to_string(n) + " of " +
               std::to_string(m) + " values";
      for (int64_t s = 0; s < n; ++s) {
        int64_t idx = r * slotsPerRow + q * n + s;
        out.pos[idx] = slots[s];
        // Filler slots hold 0 even where the dense weight is not masked.
        bool kept =
            slots[s] < width && (mask ? mask[r * cols + start + slots[s]] != 0
                                      : wg[slots[s]] != 0.0f);
        out.values[idx] = kept ? wg[slots[s]] : 0.0f;
      }
    }
  if (n == 2 && m == 4)
    out.meta = nmMetaWords(out);
  return "";
}

std::vector<uint32_t> nmMetaWords(const NMPacked &p) {
  int64_t rows32 = roundUp(p.rows, 32), groups8 = roundUp(p.groups, 8);
  // Padding rows and groups hold the code of positions {0, 1}.
  std::vector<uint8_t> codes(rows32 * groups8, nmCode24(0, 1));
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t q = 0; q < p.groups; ++q) {
      int64_t idx = (r * p.groups + q) * 2;
      codes[r * groups8 + q] = nmCode24(p.pos[idx], p.pos[idx + 1]);
    }
  // Each 32-row block is its own row tile: [row-block][k-block][word], so a
  // CTA streams its block's metadata contiguously along K.
  std::vector<uint32_t> meta;
  for (int64_t rb = 0; rb < rows32 / 32; ++rb) {
    std::vector<uint8_t> block(codes.begin() + rb * 32 * groups8,
                               codes.begin() + (rb + 1) * 32 * groups8);
    std::vector<uint32_t> words =
        buildMetaWords(block, 32, groups8, MetaWordLayout::Meta32);
    meta.insert(meta.end(), words.begin(), words.end());
  }
  return meta;
}

std::vector<float> unpackNM(const NMPacked &p) {
  std::vector<float> dense(p.rows * p.cols, 0.0f);
  int64_t slotsPerRow = p.groups * p.n;
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t q = 0; q < p.groups; ++q)
      for (int64_t s = 0; s < p.n; ++s) {
        int64_t idx = r * slotsPerRow + q * p.n + s;
        int64_t col = q * p.m + p.pos[idx];
        if (col < p.cols)
          dense[r * p.cols + col] = p.values[idx];
      }
  return dense;
}

std::string packHiNM(const float *w, const uint8_t *mask, int64_t rows,
                     int64_t cols, int64_t v, int64_t n, int64_t m,
                     const std::vector<std::vector<int64_t>> &tileColumns,
                     MetaWordLayout layout, HiNMPacked &out) {
  out = HiNMPacked();
  out.rows = rows;
  out.cols = cols;
  out.v = v;
  out.n = n;
  out.m = m;
  out.layout = layout;
  out.tiles = (rows + v - 1) / v;
  if (int64_t(tileColumns.size()) != out.tiles)
    return "expected one column list per tile";
  out.nnzVec = tileColumns.empty() ? 0 : tileColumns[0].size();
  out.keptWidth = roundUp(out.nnzVec, 32);
  if (layout == MetaWordLayout::Meta32 && v % 32 != 0)
    return "META32 metadata needs V to be a multiple of 32 (use META16)";
  int64_t groups = out.keptWidth / m, slotsPerRow = groups * n;
  int64_t paddedRows = out.tiles * v;
  out.values.assign(paddedRows * slotsPerRow, 0.0f);
  out.pos.assign(paddedRows * slotsPerRow, 0);
  out.colIdx.assign(out.tiles * out.keptWidth, 0);
  std::vector<float> wc(m);
  std::vector<uint8_t> mc(m), slots;
  for (int64_t t = 0; t < out.tiles; ++t) {
    const std::vector<int64_t> &cols_t = tileColumns[t];
    if (int64_t(cols_t.size()) != out.nnzVec)
      return "tile " + std::to_string(t) + " keeps " +
             std::to_string(cols_t.size()) + " columns, expected " +
             std::to_string(out.nnzVec);
    for (int64_t j = 0; j < out.keptWidth; ++j)
      out.colIdx[t * out.keptWidth + j] =
          uint32_t(cols_t[std::min(j, out.nnzVec - 1)]);
    for (int64_t i = 0; i < v; ++i) {
      int64_t r = t * v + i;
      if (r >= rows)
        break; // padding rows: zeros and code 0x4
      for (int64_t q = 0; q < out.nnzVec / m; ++q) {
        for (int64_t j = 0; j < m; ++j) {
          int64_t col = cols_t[q * m + j];
          wc[j] = w[r * cols + col];
          mc[j] = mask ? mask[r * cols + col] : uint8_t(wc[j] != 0.0f);
        }
        if (!groupSlots(wc.data(), mc.data(), m, n, m, slots))
          return "row " + std::to_string(r) + ", compacted group " +
                 std::to_string(q) + " keeps more than " + std::to_string(n) +
                 " of " + std::to_string(m) + " values";
        for (int64_t s = 0; s < n; ++s) {
          int64_t idx = r * slotsPerRow + q * n + s;
          out.pos[idx] = slots[s];
          out.values[idx] = mc[slots[s]] ? wc[slots[s]] : 0.0f;
        }
      }
      // Filler columns: zeros at the smallest positions.
      for (int64_t q = out.nnzVec / m; q < groups; ++q)
        for (int64_t s = 0; s < n; ++s)
          out.pos[r * slotsPerRow + q * n + s] = s;
    }
    for (int64_t r = std::min(rows, (t + 1) * v); r < (t + 1) * v; ++r)
      for (int64_t q = 0; q < groups; ++q)
        for (int64_t s = 0; s < n; ++s)
          out.pos[r * slotsPerRow + q * n + s] = s;
  }
  if (n == 2 && m == 4)
    out.meta = hinmMetaWords(out);
  return "";
}

std::vector<uint32_t> hinmMetaWords(const HiNMPacked &p) {
  int64_t groups = p.keptWidth / 4;
  std::vector<uint32_t> meta;
  std::vector<uint8_t> codes(p.v * groups);
  for (int64_t t = 0; t < p.tiles; ++t) {
    for (int64_t i = 0; i < p.v; ++i)
      for (int64_t q = 0; q < groups; ++q) {
        int64_t idx = ((t * p.v + i) * groups + q) * 2;
        codes[i * groups + q] = nmCode24(p.pos[idx], p.pos[idx + 1]);
      }
    std::vector<uint32_t> words = buildMetaWords(codes, p.v, groups, p.layout);
    meta.insert(meta.end(), words.begin(), words.end());
  }
  return meta;
}

std::vector<float> unpackHiNM(const HiNMPacked &p) {
  std::vector<float> dense(p.rows * p.cols, 0.0f);
  int64_t groups = p.keptWidth / p.m, slotsPerRow = groups * p.n;
  for (int64_t r = 0; r < p.rows; ++r) {
    int64_t t = r / p.v;
    for (int64_t q = 0; q < groups; ++q)
      for (int64_t s = 0; s < p.n; ++s) {
        int64_t idx = r * slotsPerRow + q * p.n + s;
        int64_t j = q * p.m + p.pos[idx];
        // Filler columns repeat a real column with value 0: skip them.
        if (j >= p.nnzVec)
          continue;
        dense[r * p.cols + p.colIdx[t * p.keptWidth + j]] = p.values[idx];
      }
  }
  return dense;
}

} // namespace sparsec
