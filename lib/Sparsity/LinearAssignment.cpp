//===- LinearAssignment.cpp - exact dense linear assignment ---------------===//
//
// Column reduction and augmenting row reduction (Jonker–Volgenant) give
// feasible duals and a partial matching; every remaining free row is then matched by one shortest augmenting path
// (Dijkstra on reduced costs, lazy potential updates as in Crouse 2016 /
// scipy's linear_sum_assignment). Exact for finite costs.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Sparsity/LinearAssignment.h"

#include <limits>

namespace sparsec {

double LAPSolver::solve(const double *a, int64_t n, int64_t *assignment) {
  if (n <= 0)
    return 0.0;
  if (n == 1) {
    assignment[0] = 0;
    return a[0];
  }
  const double inf = std::numeric_limits<double>::infinity();
  u.assign(n, 0.0);
  v.assign(n, 0.0);
  rowOfCol.assign(n, -1);
  colOfRow.assign(n, -1);
  path.assign(n, -1);
  dist.resize(n);
  remaining.resize(n);
  rowSeen.resize(n);
  colSeen.resize(n);

  // Column reduction: v[j] = min_i a[i][j] keeps every reduced cost >= 0;
  // a column's argmin row takes it if still free (a tight matched edge).
  for (int64_t j = 0; j < n; ++j) {
    double best = a[j];
    int64_t arg = 0;
    for (int64_t i = 1; i < n; ++i)
      if (a[i * n + j] < best) {
        best = a[i * n + j];
        arg = i;
      }
    v[j] = best;
    if (colOfRow[arg] < 0) {
      colOfRow[arg] = j;
      rowOfCol[j] = arg;
    }
  }

  // Augmenting row reduction (Jonker–Volgenant), two passes: a free row takes
  // its cheapest column c - v, lowering v there by the gap to its second
  // cheapest, and evicts the previous owner. v only decreases, so every
  // c - v stays >= 0 and each owner keeps a cheapest column.
  std::vector<int64_t> &freeRows = path; // reused: path is rebuilt below
  int64_t freeCount = 0;
  for (int64_t i = 0; i < n; ++i)
    if (colOfRow[i] < 0)
      freeRows[freeCount++] = i;
  for (int pass = 0; pass < 2 && freeCount > 0; ++pass) {
    int64_t current = 0, newFree = 0, steps = 0;
    while (current < freeCount) {
      ++steps;
      int64_t i = freeRows[current++];
      const double *row = a + i * n;
      int64_t j1 = 0, j2 = -1;
      double v1 = row[0] - v[0], v2 = inf;
      for (int64_t j = 1; j < n; ++j) {
        double c = row[j] - v[j];
        if (c < v2) {
          if (c >= v1) {
            v2 = c;
            j2 = j;
          } else {
            v2 = v1;
            v1 = c;
            j2 = j1;
            j1 = j;
          }
        }
      }
      int64_t owner = rowOfCol[j1];
      double lowered = v[j1] - (v2 - v1);
      bool lowers = lowered < v[j1];
      if (steps < current * n) {
        if (lowers)
          v[j1] = lowered;
        else if (owner >= 0 && j2 >= 0) {
          j1 = j2;
          owner = rowOfCol[j2];
        }
        if (owner >= 0) {
          if (lowers)
            freeRows[--current] = owner;
          else
            freeRows[newFree++] = owner;
        }
      } else if (owner >= 0) {
        freeRows[newFree++] = owner;
      }
      if (owner >= 0)
        colOfRow[owner] = -1;
      colOfRow[i] = j1;
      rowOfCol[j1] = i;
    }
    freeCount = newFree;
  }
  // Row potentials: u = min_j (c - v) = the reduced cost of the own column.
  for (int64_t i = 0; i < n; ++i)
    if (colOfRow[i] >= 0)
      u[i] = a[i * n + colOfRow[i]] - v[colOfRow[i]];

  for (int64_t cur = 0; cur < n; ++cur) {
    if (colOfRow[cur] >= 0)
      continue;
    // Dijkstra from the free row `cur` to the nearest free column.
    std::fill(dist.begin(), dist.end(), inf);
    std::fill(rowSeen.begin(), rowSeen.end(), 0);
    std::fill(colSeen.begin(), colSeen.end(), 0);
    int64_t left = n;
    for (int64_t k = 0; k < n; ++k)
      remaining[k] = n - 1 - k;
    double minVal = 0.0;
    int64_t i = cur, sink = -1;
    while (sink < 0) {
      rowSeen[i] = 1;
      const double *row = a + i * n;
      double ui = u[i], lowest = inf;
      int64_t index = -1;
      for (int64_t k = 0; k < left; ++k) {
        int64_t j = remaining[k];
        double r = minVal + row[j] - ui - v[j];
        if (r < dist[j]) {
          path[j] = i;
          dist[j] = r;
        }
        // Ties prefer a free column: the path ends sooner.
        if (dist[j] < lowest || (dist[j] == lowest && rowOfCol[j] < 0)) {
          lowest = dist[j];
          index = k;
        }
      }
      minVal = lowest;
      int64_t j = remaining[index];
      if (rowOfCol[j] < 0)
        sink = j;
      else
        i = rowOfCol[j];
      colSeen[j] = 1;
      remaining[index] = remaining[--left];
    }
    // Potentials of the scanned rows and columns.
    u[cur] += minVal;
    for (int64_t r = 0; r < n; ++r)
      if (rowSeen[r] && r != cur)
        u[r] += minVal - dist[colOfRow[r]];
    for (int64_t j = 0; j < n; ++j)
      if (colSeen[j])
        v[j] -= minVal - dist[j];
    // Flip the alternating path.
    for (int64_t j = sink;;) {
      int64_t r = path[j];
      rowOfCol[j] = r;
      int64_t previous = colOfRow[r];
      colOfRow[r] = j;
      j = previous;
      if (r == cur)
        break;
    }
  }
  double total = 0.0;
  for (int64_t r = 0; r < n; ++r) {
    assignment[r] = colOfRow[r];
    total += a[r * n + colOfRow[r]];
  }
  return total;
}

double solveLAP(const std::vector<double> &cost, int64_t n,
                std::vector<int64_t> &assignment) {
  assignment.assign(n, 0);
  LAPSolver solver;
  return solver.solve(cost.data(), n, assignment.data());
}

} // namespace sparsec
