//===- Clustering.h - balanced k-means with exact cluster sizes -*- C++ -*-===//
//
// balanced_kmeans of algorithms.md §2.2.1: k-means whose assignment step is an
// exact LAP, so every cluster holds exactly `size` points. MLIR-free.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_SPARSITY_CLUSTERING_H
#define SPARSEC_SPARSITY_CLUSTERING_H

#include "sparsec/Sparsity/Random.h"

#include <cstdint>
#include <vector>

namespace sparsec {

struct BalancedKMeansOptions {
  int64_t maxIter = 20;
  double tol = 1e-4; // stop when no centroid moves by tol or more (L2)
};

struct BalancedKMeansResult {
  std::vector<int64_t> cluster; // cluster id of each point, in [0, clusters)
  int64_t iterations = 0;       // assignment steps run
};

/// Clusters the n = clusters * size points x (n x dim, row-major) into
/// `clusters` groups of exactly `size` points. Initial centroids are
/// `clusters` distinct points drawn uniformly with `rng`.
BalancedKMeansResult balancedKMeans(const float *x, int64_t n, int64_t dim,
                                    int64_t clusters, int64_t size, Rng &rng,
                                    const BalancedKMeansOptions &options = {});

} // namespace sparsec

#endif
