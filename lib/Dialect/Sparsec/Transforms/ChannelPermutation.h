//===- ChannelPermutation.h - search of sparsec-permute-channels -*- C++
//-*-===//
#ifndef SPARSEC_LIB_TRANSFORMS_CHANNELPERMUTATION_H
#define SPARSEC_LIB_TRANSFORMS_CHANNELPERMUTATION_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"

#include <functional>
#include <string>
#include <vector>

namespace sparsec {

/// What the permutation phase needs to know of one selected layer, and the
/// in-memory GEMM views it permutes along with the graph.
struct PermutableLayer {
  mlir::Operation *op;
  std::string name, pattern;
  int64_t rows, cols, n, m, v, nnzVec;
  bool chw; // conv weight flattened c-major
  std::vector<float> *weight, *saliency;
};

struct PermutationOptions {
  std::string method; // gyro, asp, swap
  uint64_t seed = 0;
  int64_t tries = 100, window = 2, escapes = 100;
  std::vector<int64_t> schedule;
  double budgetSeconds = 0;
  bool explicitPermutes = true, progress = false;
};

/// Reorders an R x K GEMM view: row j becomes old row perm[j].
void permuteRows(std::vector<float> &m, int64_t rows, int64_t cols,
                 llvm::ArrayRef<int64_t> perm);
/// Input channel j becomes old channel perm[j] in a GEMM view whose K axis
/// holds `channels` channels (hwc: channel fastest; chw: channel slowest).
void permuteInputs(std::vector<float> &m, int64_t rows, int64_t cols,
                   int64_t channels, bool chw, llvm::ArrayRef<int64_t> perm);

/// Searches and applies channel permutations (algorithms.md §2–§4) to the
/// layers' classes: weights, biases and per-channel constants are rewritten,
/// `sparsec.permute` ops are inserted only where no neighbour can absorb a
/// permutation. Layer attributes `sparsec.row_perm` / `sparsec.col_perm`
/// record the cumulative permutations (new[j] = old[perm[j]]).
mlir::LogicalResult permuteChannels(mlir::ModuleOp module,
                                    std::vector<PermutableLayer> &layers,
                                    const PermutationOptions &options);

} // namespace sparsec

#endif
