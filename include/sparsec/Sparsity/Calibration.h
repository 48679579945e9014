//===- Calibration.h - input statistics, Wanda, SparseGPT -------*- C++ -*-===//
//
// The numeric half of calibration-driven pruning (algorithms.md §10): the
// per-layer input statistics a calibration run streams into, the Wanda
// score, and the SparseGPT sweep that chooses an N:M or HiNM mask and
// updates the kept weights. No MLIR dependency; the GEMM view is W (R x K),
// row-major, and a layer's inputs are rows of K features.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_SPARSITY_CALIBRATION_H
#define SPARSEC_SPARSITY_CALIBRATION_H

#include <cstdint>
#include <string>
#include <vector>

namespace sparsec {

/// What one calibration run accumulates for one layer (or one group of a
/// grouped convolution): never the activations themselves.
struct InputStatistics {
  int64_t features = 0; // K
  int64_t tokens = 0;   // n, the rows seen
  /// Σ x_j² per feature j, in float64 (Wanda's ‖X_j‖₂²).
  std::vector<double> squares;
  /// X·Xᵀ (K x K, full, float64); empty unless the Gram matrix was asked
  /// for (SparseGPT).
  std::vector<double> gram;

  InputStatistics() = default;
  InputStatistics(int64_t features, bool withGram);
  /// Adds `count` rows of `features` floats each (row stride `features`).
  void add(const float *rows, int64_t count);
};

/// Wanda: S_ij = |W_ij| · sqrt(squares_j), rounded once to float.
void wandaScores(const float *weight, int64_t rows, int64_t cols,
                 const double *squares, float *scores);

struct SparseGPTConfig {
  int64_t n = 2, m = 4;    // keep n of every m
  int64_t blockSize = 128; // B: columns per lazy-update block
  double dampening = 0.01; // λ = dampening · mean(diag H)
  /// HiNM (tileRows > 0): V rows per tile keep `keptVectors` columns each,
  /// chosen first by Σ_tile w² / Hinv_jj² on the original weights (ties to
  /// the lower index); group q of a tile is its kept positions qM .. qM+M-1.
  /// Plain N:M when tileRows is 0.
  int64_t tileRows = 0, keptVectors = 0;
};

/// SparseGPT's result: the updated weight with pruned entries exactly 0.
struct SparseGPTResult {
  std::vector<float> weight; // R x K
  std::vector<uint8_t> mask; // R x K, 1 = kept
  int64_t deadInputs = 0;    // features with diag H = 0 (their W set to 0)
  /// HiNM: the kept columns of each tile, ascending.
  std::vector<std::vector<int64_t>> tileColumns;
};

/// The one-shot sweep of algorithms.md §10.3 on `weight` (R x K) with the
/// Gram matrix `gram` (K x K) of the layer's calibration inputs. Masks are
/// chosen when the sweep reaches the first column of a group, on the current
/// (already updated) values scored w² / Hinv_cc². "" or the error (the
/// dampened matrix is not positive definite).
std::string sparseGPT(const float *weight, int64_t rows, int64_t cols,
                      const std::vector<double> &gram,
                      const SparseGPTConfig &config, SparseGPTResult &result);

/// ‖W X − Ŵ X‖²_F = tr((W − Ŵ) G (W − Ŵ)ᵀ) for the Gram matrix G.
double reconstructionError(const float *original, const float *pruned,
                           int64_t rows, int64_t cols,
                           const std::vector<double> &gram);

} // namespace sparsec

#endif
