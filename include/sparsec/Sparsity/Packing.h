//===- Packing.h - packed N:M and HiNM storage ------------------*- C++ -*-===//
//
// Packers and unpackers for the storage formats of docs/Pruning.md
// (formats.md §1–§3). MLIR-free so that runtimes can link it.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_SPARSITY_PACKING_H
#define SPARSEC_SPARSITY_PACKING_H

#include <cstdint>
#include <string>
#include <vector>

namespace sparsec {

/// 2:4 hardware code of a group whose kept positions are p0 < p1.
inline uint32_t nmCode24(unsigned p0, unsigned p1) { return p0 | (p1 << 2); }

struct NMPacked {
  int64_t rows = 0, cols = 0, n = 0, m = 0;
  int64_t groups = 0;            // ceil(cols / m)
  std::vector<float> values;     // rows x groups*n
  std::vector<uint8_t> pos;      // rows x groups*n
  std::vector<uint32_t> meta;    // 2:4 only: META32 words
};

enum class MetaWordLayout { Meta32, Meta16 };

struct HiNMPacked {
  int64_t rows = 0, cols = 0, v = 0, nnzVec = 0, n = 0, m = 0;
  int64_t tiles = 0;              // ceil(rows / v)
  int64_t keptWidth = 0;          // K_c = roundup(nnzVec, 32)
  MetaWordLayout layout = MetaWordLayout::Meta32;
  std::vector<float> values;      // tiles*v x keptWidth*n/m
  std::vector<uint8_t> pos;       // tiles*v x keptWidth*n/m
  std::vector<uint32_t> colIdx;   // tiles x keptWidth
  std::vector<uint32_t> meta;     // 2:4 only
};

/// Packs a dense R x K weight whose kept entries are `mask` (or, when `mask`
/// is null, its non-zeros). Returns an error message when a group holds more
/// than N kept entries.
std::string packNM(const float *weight, const uint8_t *mask, int64_t rows,
                   int64_t cols, int64_t n, int64_t m, NMPacked &out);
std::vector<float> unpackNM(const NMPacked &packed);

/// `tileColumns` are the per-tile column lists L_t in group order (each of
/// length nnzVec).
std::string packHiNM(const float *weight, const uint8_t *mask, int64_t rows,
                     int64_t cols, int64_t v, int64_t n, int64_t m,
                     const std::vector<std::vector<int64_t>> &tileColumns,
                     MetaWordLayout layout, HiNMPacked &out);
std::vector<float> unpackHiNM(const HiNMPacked &packed);

/// The 2:4 metadata words of a packed weight, rebuilt from its positions
/// (what packNM / packHiNM store in `meta`; N:M must be 2:4, HiNM `pos` and
/// `layout` set).
std::vector<uint32_t> nmMetaWords(const NMPacked &packed);
std::vector<uint32_t> hinmMetaWords(const HiNMPacked &packed);

/// Metadata words (META32 or META16, formats.md §2.2) for a code matrix of
/// `rows` x `groups` 2:4 codes, `rows` a multiple of 32 (16 for META16) and
/// `groups` a multiple of 8. Block order [k-block][row-block][word] within
/// the matrix.
std::vector<uint32_t> buildMetaWords(const std::vector<uint8_t> &codes,
                                     int64_t rows, int64_t groups,
                                     MetaWordLayout layout);

} // namespace sparsec

#endif
