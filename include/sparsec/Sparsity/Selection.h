//===- Selection.h - N:M and HiNM mask selection ----------------*- C++ -*-===//
//
// The exact selection rules of docs/Pruning.md (algorithms.md §1), on a GEMM
// view S (R x K, row-major saliency). No MLIR dependency: the GPU runtime and
// tools may link this.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_SPARSITY_SELECTION_H
#define SPARSEC_SPARSITY_SELECTION_H

#include <cstdint>
#include <string>
#include <vector>

namespace sparsec {

/// Indices of the k largest entries of v[0..n), ties to the smaller index,
/// returned in ascending index order.
template <typename T>
std::vector<int64_t> stableTopK(const T *v, int64_t n, int64_t k);

struct NMConfig {
  int64_t n = 2, m = 4;
};

struct HiNMConfig {
  int64_t v = 64;    // rows per tile
  int64_t nnzVec = 0; // kept column vectors per tile (multiple of m)
  int64_t n = 2, m = 4;
};

/// nnz_vec = M * floor(K * (1 - vs) / M), computed in IEEE double.
int64_t hinmKeptVectors(int64_t k, double vectorSparsity, int64_t m);

/// A 0/1 mask (R x K) and, for HiNM, the per-tile column lists.
struct Selection {
  std::vector<uint8_t> mask;                // R x K
  std::vector<std::vector<int64_t>> tiles;  // HiNM: L_t per tile (ascending)
};

Selection selectNM(const float *saliency, int64_t rows, int64_t cols,
                   const NMConfig &config);
Selection selectHiNM(const float *saliency, int64_t rows, int64_t cols,
                     const HiNMConfig &config);

/// The two halves of selectHiNM for a deployment row order (gyro, §2.4).
/// `rowOrder` is empty (identity) or has R_p = roundup(rows, V) entries: tile
/// t holds original rows rowOrder[tV .. tV+V-1]; ids >= rows are padding rows
/// (zero saliency, keep nothing).
///
/// Vector level: L_t = stable_topk(colscore, nnzVec) per tile, ascending.
std::vector<std::vector<int64_t>>
selectHiNMVectors(const float *saliency, int64_t rows, int64_t cols,
                  const HiNMConfig &config,
                  const std::vector<int64_t> &rowOrder = {});
/// N:M level on given per-tile column lists: group q is positions
/// qM .. qM+M-1 of L_t in the order given (ties to the lower position).
/// `Selection::tiles` returns the lists as given.
Selection selectHiNMWithColumns(const float *saliency, int64_t rows,
                                int64_t cols, const HiNMConfig &config,
                                const std::vector<int64_t> &rowOrder,
                                std::vector<std::vector<int64_t>> tileColumns);

/// Checks parameters; returns an empty string or the reason they are invalid.
std::string validateNM(const NMConfig &config);
/// Largest HiNM tile height accepted (every layer pads its rows to V).
constexpr int64_t kMaxHiNMTileRows = 4096;
std::string validateHiNM(const HiNMConfig &config, int64_t cols);

} // namespace sparsec

#endif
