//===- LinearAssignment.h - exact dense linear assignment -------*- C++ -*-===//
//
// LAP(C) of algorithms.md §0: the minimum-cost perfect matching of a square
// cost matrix, solved exactly by shortest augmenting paths with potentials
// (Jonker–Volgenant / Hungarian family, O(n^3)). MLIR-free.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_SPARSITY_LINEARASSIGNMENT_H
#define SPARSEC_SPARSITY_LINEARASSIGNMENT_H

#include <cstdint>
#include <vector>

namespace sparsec {

/// Reusable solver: keeps its work arrays between calls so that searches that
/// solve thousands of LAPs do not allocate in their inner loop.
class LAPSolver {
public:
  /// Solves the n x n problem `cost` (row-major, finite). Writes
  /// assignment[row] = column and returns the optimal total, summed in row
  /// order. Every choice (column reduction, Dijkstra steps) breaks ties by a
  /// fixed index order, so equal inputs give equal assignments.
  double solve(const double *cost, int64_t n, int64_t *assignment);

private:
  std::vector<double> u, v, dist;
  std::vector<int64_t> rowOfCol, colOfRow, path, remaining;
  std::vector<uint8_t> rowSeen, colSeen;
};

/// Convenience wrapper: cost is n x n row-major; assignment is resized to n.
double solveLAP(const std::vector<double> &cost, int64_t n,
                std::vector<int64_t> &assignment);

} // namespace sparsec

#endif
