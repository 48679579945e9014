//===- Clustering.cpp - balanced k-means with exact cluster sizes ---------===//
#include "sparsec/Sparsity/Clustering.h"
#include "sparsec/Sparsity/LinearAssignment.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace sparsec {

BalancedKMeansResult balancedKMeans(const float *x, int64_t n, int64_t dim,
                                    int64_t clusters, int64_t size, Rng &rng,
                                    const BalancedKMeansOptions &options) {
  assert(n == clusters * size && "balanced k-means needs n = clusters * size");
  BalancedKMeansResult result;
  result.cluster.assign(n, 0);
  if (n == 0 || clusters <= 1)
    return result;

  std::vector<double> mu(clusters * dim), next(clusters * dim),
      muT(dim * clusters);
  std::vector<int64_t> init = rng.sampleWithoutReplacement(n, clusters);
  for (int64_t c = 0; c < clusters; ++c)
    for (int64_t d = 0; d < dim; ++d)
      mu[c * dim + d] = x[init[c] * dim + d];

  std::vector<double> dist(clusters), cost(n * n);
  std::vector<int64_t> slot(n), count(clusters);
  LAPSolver lap;
  for (int64_t iter = 0; iter < options.maxIter; ++iter) {
    // D is the Euclidean distance, not its square: the spec leaves this open
    // [unverified] and the reference's scipy cdist default is Euclidean.
    // Centroids are transposed (dim x clusters) so the inner loop runs over
    // independent clusters and vectorises without reassociating sums.
    for (int64_t c = 0; c < clusters; ++c)
      for (int64_t d = 0; d < dim; ++d)
        muT[d * clusters + c] = mu[c * dim + d];
    for (int64_t i = 0; i < n; ++i) {
      const float *xi = x + i * dim;
      std::fill(dist.begin(), dist.end(), 0.0);
      for (int64_t d = 0; d < dim; ++d) {
        double xd = xi[d];
        const double *m = muT.data() + d * clusters;
        for (int64_t c = 0; c < clusters; ++c) {
          double diff = xd - m[c];
          dist[c] += diff * diff;
        }
      }
      // Column c is repeated `size` times: slots c*size .. c*size+size-1.
      double *row = cost.data() + i * n;
      for (int64_t c = 0; c < clusters; ++c)
        std::fill(row + c * size, row + (c + 1) * size, std::sqrt(dist[c]));
    }
    lap.solve(cost.data(), n, slot.data());
    for (int64_t i = 0; i < n; ++i)
      result.cluster[i] = slot[i] / size;
    ++result.iterations;

    std::fill(next.begin(), next.end(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      double *nc = next.data() + result.cluster[i] * dim;
      const float *xi = x + i * dim;
      for (int64_t d = 0; d < dim; ++d)
        nc[d] += xi[d];
    }
    double shift = 0.0;
    for (int64_t c = 0; c < clusters; ++c) {
      double acc = 0.0;
      for (int64_t d = 0; d < dim; ++d) {
        double &m = next[c * dim + d];
        m /= double(size);
        double diff = m - mu[c * dim + d];
        acc += diff * diff;
      }
      shift = std::max(shift, std::sqrt(acc));
    }
    mu.swap(next);
    if (shift < options.tol)
      break;
  }
  return result;
}

} // namespace sparsec
