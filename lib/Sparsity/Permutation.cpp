//===- Permutation.cpp - gyro (HiNM) and ASP (N:M) permutation search -----===//
#include "sparsec/Sparsity/Permutation.h"
#include "sparsec/Sparsity/LinearAssignment.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cmath>
#include <numeric>

namespace sparsec {

namespace {

using Clock = std::chrono::steady_clock;

/// A wall-clock limit; only consulted between trials, never inside one.
struct Deadline {
  bool enabled = false;
  Clock::time_point at;

  static Deadline after(double seconds) {
    Deadline d;
    if (seconds > 0) {
      d.enabled = true;
      d.at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(seconds));
    }
    return d;
  }
  Deadline earliest(const Deadline &o) const {
    if (!enabled)
      return o;
    if (!o.enabled)
      return *this;
    return at < o.at ? *this : o;
  }
  bool passed() const { return enabled && Clock::now() >= at; }
};

/// An accepted trial must beat the current cost by more than rounding:
/// candidate costs are summed in a different order than the canonical cost,
/// and a rounding-level "gain" (e.g. the identity assignment) is no move.
bool improves(double candidate, double current) {
  return candidate < current - 1e-12 * std::abs(current);
}

/// Sum of the k smallest of v[0..n); scratch holds n values.
double bottomSum(const double *v, int64_t n, int64_t k, double *scratch) {
  if (k <= 0)
    return 0.0;
  if (k < n) {
    std::copy(v, v + n, scratch);
    std::nth_element(scratch, scratch + k, scratch + n);
    v = scratch;
  } else {
    k = n;
  }
  double sum = 0.0;
  for (int64_t i = 0; i < k; ++i)
    sum += v[i];
  return sum;
}

/// bottom_sum(res + unit, k) for a run of units against one resident sum.
/// The k-th smallest moves little from one unit to the next, so a band
/// around the previous one usually holds it: one branch-free pass sums what
/// lies below the band and collects the band, and only the band is
/// partially sorted. A miss falls back to nth_element and widens the band.
struct BandedBottomSum {
  bool haveGuess = false;
  double kth = 0.0, width = 0.0;

  double operator()(const double *res, const double *unit, int64_t n,
                    int64_t k, double *sum, double *scratch) {
    if (k <= 0)
      return 0.0;
    if (k >= n) {
      double all = 0.0;
      for (int64_t i = 0; i < n; ++i)
        all += res[i] + unit[i];
      return all;
    }
    if (haveGuess) {
      double lo = kth - width, hi = kth + width, below = 0.0;
      int64_t countBelow = 0, inBand = 0;
      for (int64_t i = 0; i < n; ++i) {
        double x = res[i] + unit[i];
        bool isBelow = x < lo;
        below += isBelow ? x : 0.0;
        countBelow += isBelow;
        scratch[inBand] = x;
        inBand += !isBelow && x < hi;
      }
      int64_t need = k - countBelow;
      if (need >= 1 && need <= inBand) {
        std::nth_element(scratch, scratch + need - 1, scratch + inBand);
        kth = scratch[need - 1];
        for (int64_t i = 0; i < need; ++i)
          below += scratch[i];
        // Keep the band around 1/16 of the values.
        if (inBand * 8 > n)
          width *= 0.7;
        return below;
      }
    }
    for (int64_t i = 0; i < n; ++i)
      sum[i] = res[i] + unit[i];
    std::copy(sum, sum + n, scratch);
    std::nth_element(scratch, scratch + k - 1, scratch + n);
    double total = 0.0;
    for (int64_t i = 0; i < k; ++i)
      total += scratch[i];
    double previous = kth;
    kth = scratch[k - 1];
    width = haveGuess ? std::max(2.0 * width, std::abs(kth - previous))
                      : 0.02 * std::abs(kth) + 1e-30;
    haveGuess = true;
    return total;
  }
};

/// Sum of the k smallest of a few values (k <= count <= 32), in place.
double smallBottomSum(double *v, int64_t count, int64_t k) {
  std::sort(v, v + count);
  double sum = 0.0;
  for (int64_t i = 0; i < k; ++i)
    sum += v[i];
  return sum;
}

int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

//===----------------------------------------------------------------------===//
// Stage A
//===----------------------------------------------------------------------===//

struct StageALayer {
  const float *s;
  int64_t cols, prune;
  std::vector<double> block, res, unit; // P x cols row sums
};

GyroStageAResult runStageA(const std::vector<GyroLayerView> &views,
                           int64_t rows, int64_t v, Rng &rng,
                           const GyroStageAOptions &o, Deadline deadline,
                           const ProgressFn &progress) {
  GyroStageAResult result;
  int64_t rp = roundUp(rows, v), blocksCount = rp / v;
  std::vector<int64_t> blocks(rp);
  std::iota(blocks.begin(), blocks.end(), 0);

  std::vector<StageALayer> layers;
  int64_t maxCols = 0, featureDim = 0;
  for (const GyroLayerView &view : views) {
    layers.push_back({view.saliency, view.cols, view.cols - view.nnzVec,
                      std::vector<double>(blocksCount * view.cols),
                      std::vector<double>(blocksCount * view.cols),
                      std::vector<double>(blocksCount * view.cols)});
    maxCols = std::max(maxCols, view.cols);
    featureDim += view.cols;
  }
  std::vector<double> sum(maxCols), scratch(maxCols);

  // Adds the saliency rows `ids` (padding ids add nothing) into out[0..cols).
  auto addRows = [&](const StageALayer &l, const int64_t *ids, int64_t count,
                     double *out) {
    std::fill(out, out + l.cols, 0.0);
    for (int64_t i = 0; i < count; ++i) {
      if (ids[i] >= rows)
        continue;
      const float *row = l.s + ids[i] * l.cols;
      for (int64_t k = 0; k < l.cols; ++k)
        out[k] += double(row[k]);
    }
  };
  // The cost of the current blocks, summed in a fixed order (rows ascending)
  // so that equal states have bit-equal costs.
  auto canonicalCost = [&]() {
    double cost = 0.0;
    for (int64_t b = 0; b < blocksCount; ++b) {
      std::sort(blocks.begin() + b * v, blocks.begin() + (b + 1) * v);
      for (StageALayer &l : layers) {
        addRows(l, blocks.data() + b * v, v, sum.data());
        cost += bottomSum(sum.data(), l.cols, l.prune, scratch.data());
      }
    }
    return cost;
  };

  result.identityCost = result.cost = canonicalCost();
  for (StageALayer &l : layers)
    for (int64_t b = 0; b < blocksCount; ++b)
      addRows(l, blocks.data() + b * v, v, l.block.data() + b * l.cols);
  std::vector<int64_t> schedule = o.schedule;
  if (schedule.empty())
    for (int64_t e = v / 2; e >= 1; e /= 2)
      schedule.push_back(e);

  // With one block every row order is the same blocking: nothing to search.
  if (blocksCount > 1) {
    std::vector<double> cost(blocksCount * blocksCount);
    std::vector<int64_t> assign(blocksCount), unitRows, sampled;
    std::vector<float> features;
    LAPSolver lap;
    for (size_t phase = 0; phase < schedule.size(); ++phase) {
      int64_t e = std::clamp<int64_t>(schedule[phase], 1, v);
      int64_t limit = e > 1 ? o.failMulti : o.failUni;
      int64_t fails = 0, trials = 0;
      unitRows.resize(blocksCount * e);
      while (fails < limit && trials < o.maxTrialsPerE) {
        if (deadline.passed()) {
          result.timedOut = true;
          break;
        }
        ++trials;
        ++result.trials;
        // Samp_b = the first e members after a partial shuffle, Res_b the rest.
        for (int64_t b = 0; b < blocksCount; ++b)
          rng.partialShuffle(blocks.data() + b * v, v, e);
        // rowsum(Res_b) = rowsum(block_b) - rowsum(Samp_b): e rows instead
        // of V - e. The block sums are carried across accepted trials.
        for (StageALayer &l : layers)
          for (int64_t b = 0; b < blocksCount; ++b) {
            double *res = l.res.data() + b * l.cols;
            if (e == v) {
              std::fill(res, res + l.cols, 0.0);
              continue;
            }
            addRows(l, blocks.data() + b * v, e, sum.data());
            const double *block = l.block.data() + b * l.cols;
            for (int64_t k = 0; k < l.cols; ++k)
              res[k] = block[k] - sum[k];
          }

        if (e == 1) {
          for (int64_t b = 0; b < blocksCount; ++b)
            unitRows[b] = blocks[b * v];
        } else {
          // Cluster the sampled rows (all layers' saliency concatenated).
          int64_t count = blocksCount * e;
          sampled.resize(count);
          for (int64_t b = 0; b < blocksCount; ++b)
            std::copy(blocks.begin() + b * v, blocks.begin() + b * v + e,
                      sampled.begin() + b * e);
          features.assign(count * featureDim, 0.0f);
          for (int64_t i = 0; i < count; ++i) {
            if (sampled[i] >= rows)
              continue;
            float *f = features.data() + i * featureDim;
            for (const StageALayer &l : layers) {
              std::copy(l.s + sampled[i] * l.cols,
                        l.s + (sampled[i] + 1) * l.cols, f);
              f += l.cols;
            }
          }
          BalancedKMeansResult km =
              balancedKMeans(features.data(), count, featureDim, blocksCount,
                             e, rng, o.kmeans);
          std::vector<int64_t> fill(blocksCount, 0);
          for (int64_t i = 0; i < count; ++i) {
            int64_t c = km.cluster[i];
            unitRows[c * e + fill[c]++] = sampled[i];
          }
        }
        for (StageALayer &l : layers)
          for (int64_t c = 0; c < blocksCount; ++c)
            addRows(l, unitRows.data() + c * e, e, l.unit.data() + c * l.cols);

        // C[b][c] = Σ_layers bottom_sum(rowsum(Res_b) + rowsum(unit_c)).
        std::fill(cost.begin(), cost.end(), 0.0);
        for (StageALayer &l : layers)
          for (int64_t b = 0; b < blocksCount; ++b) {
            BandedBottomSum banded;
            const double *res = l.res.data() + b * l.cols;
            for (int64_t c = 0; c < blocksCount; ++c)
              cost[b * blocksCount + c] +=
                  banded(res, l.unit.data() + c * l.cols, l.cols, l.prune,
                         sum.data(), scratch.data());
          }
        double candidate = lap.solve(cost.data(), blocksCount, assign.data());
        // cost := new, as in the spec: the LAP total is the exact cost of the
        // new blocking (up to summation order, which improves() absorbs).
        if (improves(candidate, result.cost)) {
          for (int64_t b = 0; b < blocksCount; ++b)
            std::copy(unitRows.begin() + assign[b] * e,
                      unitRows.begin() + (assign[b] + 1) * e,
                      blocks.begin() + b * v);
          for (StageALayer &l : layers)
            for (int64_t b = 0; b < blocksCount; ++b) {
              double *block = l.block.data() + b * l.cols;
              const double *res = l.res.data() + b * l.cols;
              const double *unit = l.unit.data() + assign[b] * l.cols;
              for (int64_t k = 0; k < l.cols; ++k)
                block[k] = res[k] + unit[k];
            }
          result.cost = candidate;
          ++result.accepted;
          result.trace.push_back({e, trials, candidate});
        } else {
          ++fails;
        }
        if (progress)
          progress((double(phase) + double(trials) / double(o.maxTrialsPerE)) /
                       double(schedule.size()),
                   "gyro stage A: e=" + std::to_string(e) + " trial " +
                       std::to_string(trials));
      }
      if (result.timedOut)
        break;
    }
  }
  for (int64_t b = 0; b < blocksCount; ++b)
    std::sort(blocks.begin() + b * v, blocks.begin() + (b + 1) * v);
  result.rowOrder = std::move(blocks);
  return result;
}

//===----------------------------------------------------------------------===//
// Stage B
//===----------------------------------------------------------------------===//

GyroStageBResult runStageB(const float *tile, int64_t v, int64_t nnz,
                           int64_t n, int64_t m, Rng &rng,
                           const GyroStageBOptions &o, Deadline deadline,
                           bool &timedOut) {
  GyroStageBResult result;
  int64_t groupsCount = nnz / m, prune = m - n;
  // Column-major copy: one contiguous V-vector per compacted position.
  std::vector<double> col(nnz * v);
  for (int64_t r = 0; r < v; ++r)
    for (int64_t j = 0; j < nnz; ++j)
      col[j * v + r] = tile[r * nnz + j];
  std::vector<int64_t> groups(groupsCount * m);
  std::iota(groups.begin(), groups.end(), 0);

  double small[32];
  auto canonicalCost = [&]() {
    double cost = 0.0;
    for (int64_t q = 0; q < groupsCount; ++q) {
      std::sort(groups.begin() + q * m, groups.begin() + (q + 1) * m);
      for (int64_t r = 0; r < v; ++r) {
        for (int64_t j = 0; j < m; ++j)
          small[j] = col[groups[q * m + j] * v + r];
        cost += smallBottomSum(small, m, prune);
      }
    }
    return cost;
  };
  result.identityCost = result.cost = canonicalCost();

  if (groupsCount > 1) {
    // bottom_k(Res ∪ {x}) = bottom_{k-1}(Res) + min(kth(Res), x): with the
    // residents fixed, each cost entry is a row constant plus a sum of V
    // mins. The matrix is
    // built in float (vectorises over q) and only proposes the assignment;
    // acceptance uses the double canonical cost.
    std::vector<float> kth(groupsCount * v), picked(v * groupsCount),
        acc(groupsCount);
    std::vector<double> cost(groupsCount * groupsCount);
    std::vector<int64_t> pick(groupsCount), assign(groupsCount);
    LAPSolver lap;
    int64_t fails = 0;
    while (fails <= o.failLimit && result.trials < o.maxTrials) {
      if (deadline.passed()) {
        timedOut = true;
        break;
      }
      ++result.trials;
      for (int64_t q = 0; q < groupsCount; ++q) {
        int64_t at = rng.below(m);
        // Move the sample to the group's last slot; residents stay first.
        std::swap(groups[q * m + at], groups[q * m + m - 1]);
        pick[q] = groups[q * m + m - 1];
        // bottom_{k-1}(Res) is constant along row q of C: the LAP ignores it.
        for (int64_t r = 0; r < v; ++r) {
          for (int64_t j = 0; j < m - 1; ++j)
            small[j] = col[groups[q * m + j] * v + r];
          std::nth_element(small, small + prune - 1, small + m - 1);
          kth[q * v + r] = float(small[prune - 1]);
          picked[r * groupsCount + q] = float(col[pick[q] * v + r]);
        }
      }
      for (int64_t p = 0; p < groupsCount; ++p) {
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (int64_t r = 0; r < v; ++r) {
          float k = kth[p * v + r];
          const float *x = picked.data() + r * groupsCount;
          for (int64_t q = 0; q < groupsCount; ++q)
            acc[q] += std::min(k, x[q]);
        }
        // Rows may shift by a constant: relative to keeping its own sample
        // (the identity), most rows' cheapest column is their own, which
        // makes the solver's column reduction assign them at once.
        double own = double(acc[p]);
        for (int64_t q = 0; q < groupsCount; ++q)
          cost[p * groupsCount + q] = double(acc[q]) - own;
      }
      lap.solve(cost.data(), groupsCount, assign.data());
      bool moved = false;
      for (int64_t p = 0; p < groupsCount; ++p)
        moved = moved || assign[p] != p;
      if (moved) {
        for (int64_t p = 0; p < groupsCount; ++p)
          groups[p * m + m - 1] = pick[assign[p]];
        double now = canonicalCost();
        if (improves(now, result.cost)) {
          result.cost = now;
          ++result.accepted;
          result.trace.push_back(now);
          continue;
        }
        // Rounding-level proposal: restore the groups (as sets).
        for (int64_t p = 0; p < groupsCount; ++p) {
          auto first = groups.begin() + p * m;
          auto it = std::find(first, first + m, pick[assign[p]]);
          *it = pick[p];
        }
      }
      ++fails;
    }
  }
  for (int64_t q = 0; q < groupsCount; ++q)
    std::sort(groups.begin() + q * m, groups.begin() + (q + 1) * m);
  result.order = std::move(groups);
  return result;
}

double keptSaliency(const float *s, const std::vector<uint8_t> &mask) {
  double kept = 0.0;
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i])
      kept += double(s[i]);
  return kept;
}

/// Everything after stage A for one layer (§2.4).
void finishLayer(const float *s, int64_t rows, int64_t cols,
                 const HiNMConfig &c, const std::vector<int64_t> &rowOrder,
                 Rng &rng, const GyroOptions &o, const Deadline &deadline,
                 GyroHiNMResult &out) {
  out.totalSaliency = 0.0;
  for (int64_t i = 0; i < rows * cols; ++i)
    out.totalSaliency += double(s[i]);
  out.prunedSaliencyIdentity =
      out.totalSaliency - keptSaliency(s, selectHiNM(s, rows, cols, c).mask);
  std::vector<std::vector<int64_t>> lists =
      selectHiNMVectors(s, rows, cols, c, rowOrder);
  if (o.runStageB) {
    std::vector<float> tile(c.v * c.nnzVec);
    for (size_t t = 0; t < lists.size(); ++t) {
      std::vector<int64_t> &list = lists[t];
      for (int64_t i = 0; i < c.v; ++i) {
        int64_t r = rowOrder[t * c.v + i];
        for (int64_t j = 0; j < c.nnzVec; ++j)
          tile[i * c.nnzVec + j] = r < rows ? s[r * cols + list[j]] : 0.0f;
      }
      bool timedOut = false;
      GyroStageBResult b = runStageB(tile.data(), c.v, c.nnzVec, c.n, c.m, rng,
                                     o.stageB, deadline, timedOut);
      out.stageBTrials += b.trials;
      out.stageBAccepted += b.accepted;
      std::vector<int64_t> grouped(c.nnzVec);
      for (int64_t j = 0; j < c.nnzVec; ++j)
        grouped[j] = list[b.order[j]];
      list = std::move(grouped);
      if (o.progress)
        o.progress(double(t + 1) / double(lists.size()),
                   "gyro stage B: tile " + std::to_string(t + 1) + "/" +
                       std::to_string(lists.size()));
      if (timedOut) {
        out.timedOut = true;
        break; // remaining tiles keep ascending order
      }
    }
  }
  Selection sel =
      selectHiNMWithColumns(s, rows, cols, c, rowOrder, std::move(lists));
  out.prunedSaliency = out.totalSaliency - keptSaliency(s, sel.mask);
  out.mask = std::move(sel.mask);
  out.tileColumns = std::move(sel.tiles);
  out.rowOrder = rowOrder;
}

} // namespace

GyroStageAResult gyroStageA(const std::vector<GyroLayerView> &layers,
                            int64_t rows, int64_t v, Rng &rng,
                            const GyroStageAOptions &options) {
  return runStageA(layers, rows, v, rng, options,
                   Deadline::after(options.timeBudgetSeconds),
                   options.progress);
}

GyroStageBResult gyroStageB(const float *tile, int64_t v, int64_t nnzVec,
                            int64_t n, int64_t m, Rng &rng,
                            const GyroStageBOptions &options) {
  bool timedOut = false;
  return runStageB(tile, v, nnzVec, n, m, rng, options, Deadline(), timedOut);
}

std::vector<GyroHiNMResult>
gyroPermuteHiNMShared(const std::vector<GyroHiNMLayer> &layers, int64_t rows,
                      Rng &rng, const GyroOptions &options) {
  std::vector<GyroHiNMResult> results(layers.size());
  if (layers.empty())
    return results;
  int64_t v = layers.front().config.v;
  Deadline total = Deadline::after(options.timeBudgetSeconds);
  std::vector<GyroLayerView> views;
  for (const GyroHiNMLayer &l : layers) {
    assert(l.config.v == v && "co-parent layers must share V");
    views.push_back({l.saliency, l.cols, l.config.nnzVec});
  }
  ProgressFn stageAProgress = options.stageA.progress
                                  ? options.stageA.progress
                                  : options.progress;
  GyroStageAResult a = runStageA(
      views, rows, v, rng, options.stageA,
      total.earliest(Deadline::after(options.stageA.timeBudgetSeconds)),
      stageAProgress);
  for (size_t i = 0; i < layers.size(); ++i) {
    GyroHiNMResult &out = results[i];
    out.stageA = a;
    out.timedOut = a.timedOut;
    finishLayer(layers[i].saliency, rows, layers[i].cols, layers[i].config,
                a.rowOrder, rng, options, total, out);
  }
  return results;
}

GyroHiNMResult gyroPermuteHiNM(const float *saliency, int64_t rows,
                               int64_t cols, const HiNMConfig &config,
                               Rng &rng, const GyroOptions &options) {
  return std::move(
      gyroPermuteHiNMShared({{saliency, cols, config}}, rows, rng, options)
          .front());
}

//===----------------------------------------------------------------------===//
// ASP N:M channel permutation
//===----------------------------------------------------------------------===//

namespace {

/// Σ_rows top-n of the m columns `c` (column-major data, `rows` long each).
double keptOfColumns(const float *const *c, int64_t rows, int64_t n,
                     int64_t m) {
  double kept = 0.0;
  if (n == 2 && m == 4) {
    // Top 2 of 4 = sum - (smallest + second smallest).
    for (int64_t r = 0; r < rows; ++r) {
      float a = c[0][r], b = c[1][r], x = c[2][r], y = c[3][r];
      float lo1 = std::min(a, b), hi1 = std::max(a, b);
      float lo2 = std::min(x, y), hi2 = std::max(x, y);
      float first = std::min(lo1, lo2);
      float second = std::min(std::max(lo1, lo2), std::min(hi1, hi2));
      kept += double(a) + double(b) + double(x) + double(y) - double(first) -
              double(second);
    }
    return kept;
  }
  float v[32];
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < m; ++j)
      v[j] = c[j][r];
    std::nth_element(v, v + n - 1, v + m, std::greater<float>());
    for (int64_t j = 0; j < n; ++j)
      kept += v[j];
  }
  return kept;
}

/// Canonical partitions as lists of group bitmasks over g·m local columns.
void enumeratePartitionMasks(int64_t g, int64_t m, uint32_t remaining,
                             std::vector<uint32_t> &current,
                             std::vector<std::vector<uint32_t>> &out) {
  if (remaining == 0) {
    out.push_back(current);
    return;
  }
  int64_t first = __builtin_ctz(remaining);
  uint32_t rest = remaining & ~(1u << first);
  // Choose m-1 more columns from `rest`, in lexicographic order.
  std::vector<int64_t> pool;
  for (int64_t i = 0; i < 32; ++i)
    if (rest & (1u << i))
      pool.push_back(i);
  int64_t need = m - 1;
  std::vector<int64_t> idx(need);
  std::iota(idx.begin(), idx.end(), 0);
  while (true) {
    uint32_t mask = 1u << first;
    for (int64_t i : idx)
      mask |= 1u << pool[i];
    current.push_back(mask);
    enumeratePartitionMasks(g, m, remaining & ~mask, current, out);
    current.pop_back();
    // Next combination.
    int64_t i = need - 1;
    while (i >= 0 && idx[i] == int64_t(pool.size()) - need + i)
      --i;
    if (i < 0)
      break;
    ++idx[i];
    for (int64_t j = i + 1; j < need; ++j)
      idx[j] = idx[j - 1] + 1;
  }
}

/// The candidate moves of one window of g stripes: partitions of its g·m
/// local columns, each as g indices into `subsets`. Partition 0 is the
/// current arrangement.
struct MoveTable {
  int64_t g = 0, m = 0;
  std::vector<uint32_t> subsets;  // group bitmasks evaluated per window
  std::vector<int32_t> partition; // partitions x g subset indices
  int64_t partitions() const { return int64_t(partition.size()) / g; }
};

MoveTable buildMoveTable(int64_t g, int64_t m, bool swapsOnly) {
  MoveTable t;
  t.g = g;
  t.m = m;
  std::vector<std::vector<uint32_t>> parts;
  if (!swapsOnly) {
    std::vector<uint32_t> current;
    enumeratePartitionMasks(g, m, (1u << (g * m)) - 1, current, parts);
  } else {
    // Identity, then every exchange of one column of stripe 0 with one of
    // stripe 1 (g = 2).
    uint32_t a = (1u << m) - 1, b = a << m;
    parts.push_back({a, b});
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = m; j < 2 * m; ++j)
        parts.push_back({(a & ~(1u << i)) | (1u << j),
                         (b & ~(1u << j)) | (1u << i)});
  }
  std::vector<int32_t> index(size_t(1) << (g * m), -1);
  for (const std::vector<uint32_t> &p : parts)
    for (uint32_t mask : p) {
      if (index[mask] < 0) {
        index[mask] = int32_t(t.subsets.size());
        t.subsets.push_back(mask);
      }
      t.partition.push_back(index[mask]);
    }
  return t;
}

/// Search state over column-major data: position j of the permuted matrix
/// holds original column perm[j]; stripe s is positions s·m .. s·m+m-1.
class StripeSearch {
public:
  StripeSearch(const float *w, int64_t rows, int64_t cols, int64_t n,
               int64_t m)
      : rows(rows), cols(cols), n(n), m(m), stripes(cols / m),
        data(cols * rows), perm(cols) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        data[c * rows + r] = w[r * cols + c];
    std::iota(perm.begin(), perm.end(), 0);
  }

  const float *column(int64_t original) const {
    return data.data() + original * rows;
  }

  double stripeKept(int64_t s) const {
    const float *c[32];
    for (int64_t j = 0; j < m; ++j)
      c[j] = column(perm[s * m + j]);
    return keptOfColumns(c, rows, n, m);
  }

  double totalKept() const {
    double kept = 0.0;
    for (int64_t s = 0; s < stripes; ++s)
      kept += stripeKept(s);
    return kept;
  }

  /// Best move of the window `ws` (g stripe ids): writes the partition index
  /// and returns its gain over the current arrangement.
  double bestMove(const MoveTable &t, const int64_t *ws, int64_t &best,
                  std::vector<double> &subsetKept) const {
    int64_t local[32];
    for (int64_t i = 0; i < t.g; ++i)
      for (int64_t j = 0; j < m; ++j)
        local[i * m + j] = perm[ws[i] * m + j];
    subsetKept.resize(t.subsets.size());
    const float *c[32];
    for (size_t k = 0; k < t.subsets.size(); ++k) {
      int64_t at = 0;
      for (uint32_t bits = t.subsets[k]; bits; bits &= bits - 1)
        c[at++] = column(local[__builtin_ctz(bits)]);
      subsetKept[k] = keptOfColumns(c, rows, n, m);
    }
    auto value = [&](int64_t p) {
      double v = 0.0;
      for (int64_t i = 0; i < t.g; ++i)
        v += subsetKept[t.partition[p * t.g + i]];
      return v;
    };
    double current = value(0), bestValue = current;
    best = 0;
    for (int64_t p = 1; p < t.partitions(); ++p) {
      double v = value(p);
      if (v > bestValue) {
        bestValue = v;
        best = p;
      }
    }
    // Rounding-level gains are no move (it would cycle).
    double gain = bestValue - current;
    if (gain <= 1e-12 * std::max(1.0, std::abs(current)))
      return 0.0;
    return gain;
  }

  void applyMove(const MoveTable &t, const int64_t *ws, int64_t p) {
    int64_t local[32];
    for (int64_t i = 0; i < t.g; ++i)
      for (int64_t j = 0; j < m; ++j)
        local[i * m + j] = perm[ws[i] * m + j];
    for (int64_t i = 0; i < t.g; ++i) {
      int64_t at = 0;
      for (uint32_t bits = t.subsets[t.partition[p * t.g + i]]; bits;
           bits &= bits - 1)
        perm[ws[i] * m + at++] = local[__builtin_ctz(bits)];
    }
  }

  int64_t rows, cols, n, m, stripes;
  std::vector<float> data;
  std::vector<int64_t> perm;
};

/// Windows of g stripes over a stripe range, with a cache of their best
/// moves, converged greedily (§4.2).
class WindowSearch {
public:
  WindowSearch(StripeSearch &st, const MoveTable &t, int64_t firstStripe,
               int64_t lastStripe)
      : st(st), t(t), first(firstStripe), count(lastStripe - firstStripe) {
    // Enumerate windows (g = 2 or 3) over the range.
    std::vector<int64_t> w(t.g);
    std::iota(w.begin(), w.end(), 0);
    if (count < t.g)
      return;
    while (true) {
      for (int64_t i = 0; i < t.g; ++i)
        windows.push_back(first + w[i]);
      int64_t i = t.g - 1;
      while (i >= 0 && w[i] == count - t.g + i)
        --i;
      if (i < 0)
        break;
      ++w[i];
      for (int64_t j = i + 1; j < t.g; ++j)
        w[j] = w[j - 1] + 1;
    }
    int64_t numWindows = int64_t(windows.size()) / t.g;
    gain.assign(numWindows, 0.0);
    move.assign(numWindows, 0);
    stamp.assign(numWindows, 0);
    byStripe.resize(count);
    for (int64_t k = 0; k < numWindows; ++k)
      for (int64_t i = 0; i < t.g; ++i)
        byStripe[windows[k * t.g + i] - first].push_back(k);
  }

  int64_t numWindows() const { return int64_t(gain.size()); }

  void evaluateAll() {
    for (int64_t k = 0; k < numWindows(); ++k)
      gain[k] = st.bestMove(t, &windows[k * t.g], move[k], scratch);
  }

  /// Re-evaluates the windows touching `changed` stripes.
  void evaluateTouching(const std::vector<int64_t> &changed) {
    ++epoch;
    for (int64_t s : changed)
      for (int64_t k : byStripe[s - first])
        if (stamp[k] != epoch) {
          stamp[k] = epoch;
          gain[k] = st.bestMove(t, &windows[k * t.g], move[k], scratch);
        }
  }

  /// Applies the best non-overlapping windows until none improves. Returns
  /// false if the deadline stopped it.
  bool converge(const Deadline &deadline, int64_t &rounds) {
    std::vector<int64_t> order, changed;
    std::vector<uint8_t> used(count);
    while (true) {
      if (deadline.passed())
        return false;
      order.clear();
      for (int64_t k = 0; k < numWindows(); ++k)
        if (gain[k] > 0.0)
          order.push_back(k);
      if (order.empty())
        return true;
      ++rounds;
      // Decreasing gain; ties to the lower window index.
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return gain[a] > gain[b] || (gain[a] == gain[b] && a < b);
      });
      std::fill(used.begin(), used.end(), 0);
      changed.clear();
      for (int64_t k : order) {
        const int64_t *ws = &windows[k * t.g];
        bool free = true;
        for (int64_t i = 0; i < t.g; ++i)
          free = free && !used[ws[i] - first];
        if (!free)
          continue;
        st.applyMove(t, ws, move[k]);
        for (int64_t i = 0; i < t.g; ++i) {
          used[ws[i] - first] = 1;
          changed.push_back(ws[i]);
        }
      }
      evaluateTouching(changed);
    }
  }

  /// Escape: a random window, one random column swapped between two of its
  /// stripes. Returns the stripes touched.
  std::vector<int64_t> perturb(Rng &rng) {
    int64_t k = rng.below(numWindows());
    const int64_t *ws = &windows[k * t.g];
    int64_t a = rng.below(t.g), b = rng.below(t.g - 1);
    if (b >= a)
      ++b;
    int64_t ca = rng.below(st.m), cb = rng.below(st.m);
    std::swap(st.perm[ws[a] * st.m + ca], st.perm[ws[b] * st.m + cb]);
    // Keep stripes in ascending column order so states compare canonically.
    for (int64_t s : {ws[a], ws[b]})
      std::sort(st.perm.begin() + s * st.m, st.perm.begin() + (s + 1) * st.m);
    return {ws[a], ws[b]};
  }

private:
  StripeSearch &st;
  const MoveTable &t;
  int64_t first, count;
  std::vector<int64_t> windows; // numWindows x g stripe ids
  std::vector<double> gain;
  std::vector<int64_t> move;
  std::vector<uint64_t> stamp;
  uint64_t epoch = 0;
  std::vector<std::vector<int64_t>> byStripe;
  std::vector<double> scratch;
};

/// Converge on stripes [first, last), then run escapes; the best state seen
/// is kept. After an escape the search continues from the new local optimum
/// (no revert: a revert would force re-evaluating every window).
void windowSearch(StripeSearch &st, const MoveTable &t, int64_t first,
                  int64_t last, int64_t escapes, Rng &rng,
                  const Deadline &deadline, ChannelPermResult &r,
                  const ProgressFn &progress, const std::string &what) {
  WindowSearch ws(st, t, first, last);
  if (ws.numWindows() == 0)
    return;
  ws.evaluateAll();
  if (!ws.converge(deadline, r.rounds)) {
    r.timedOut = true;
    return;
  }
  auto rangeKept = [&]() {
    double kept = 0.0;
    for (int64_t s = first; s < last; ++s)
      kept += st.stripeKept(s);
    return kept;
  };
  double bestKept = rangeKept();
  std::vector<int64_t> best(st.perm.begin() + first * st.m,
                            st.perm.begin() + last * st.m);
  for (int64_t e = 0; e < escapes; ++e) {
    if (deadline.passed()) {
      r.timedOut = true;
      break;
    }
    ++r.escapes;
    ws.evaluateTouching(ws.perturb(rng));
    if (!ws.converge(deadline, r.rounds)) {
      r.timedOut = true;
      break;
    }
    double kept = rangeKept();
    if (kept > bestKept) {
      bestKept = kept;
      std::copy(st.perm.begin() + first * st.m, st.perm.begin() + last * st.m,
                best.begin());
    }
    if (progress && (e + 1) % 10 == 0)
      progress(double(e + 1) / double(escapes),
               what + ": escape " + std::to_string(e + 1));
  }
  std::copy(best.begin(), best.end(), st.perm.begin() + first * st.m);
}

/// Stripe-group search over stripes [first, last) with apex's halving for
/// g = 3 on wide ranges.
void stripeGroupSearch(StripeSearch &st, int64_t first, int64_t last,
                       const ChannelPermOptions &o, const MoveTable &t2,
                       const MoveTable &tg, Rng &rng, const Deadline &deadline,
                       ChannelPermResult &r) {
  int64_t g = tg.g;
  if (g == 3 && (last - first) * st.m > o.halvingColumns) {
    int64_t mid = first + (last - first) / 2;
    stripeGroupSearch(st, first, mid, o, t2, tg, rng, deadline, r);
    stripeGroupSearch(st, mid, last, o, t2, tg, rng, deadline, r);
    windowSearch(st, t2, first, last,
                 10 * std::max<int64_t>(o.escapeAttempts, 100), rng, deadline,
                 r, o.progress, "stripe groups (refine)");
    return;
  }
  windowSearch(st, tg, first, last, o.escapeAttempts, rng, deadline, r,
               o.progress, "stripe groups");
}

/// Random column pairs in different stripes, kept when they gain more than
/// the threshold; a fixed iteration budget replaces apex's time limit.
void progressiveSwap(StripeSearch &st, const ChannelPermOptions &o, Rng &rng,
                     const Deadline &deadline, ChannelPermResult &r) {
  std::vector<double> kept(st.stripes);
  for (int64_t s = 0; s < st.stripes; ++s)
    kept[s] = st.stripeKept(s);
  for (int64_t it = 0; it < o.progressiveIterations; ++it) {
    if ((it & 1023) == 0) {
      if (deadline.passed()) {
        r.timedOut = true;
        break;
      }
      if (o.progress && it > 0 && (it & 65535) == 0)
        o.progress(double(it) / double(o.progressiveIterations),
                   "progressive channel swap");
    }
    ++r.rounds;
    int64_t a = rng.below(st.cols), b = rng.below(st.cols - st.m);
    // b ranges over positions outside a's stripe.
    int64_t sa = a / st.m;
    if (b >= sa * st.m)
      b += st.m;
    int64_t sb = b / st.m;
    std::swap(st.perm[a], st.perm[b]);
    double ka = st.stripeKept(sa), kb = st.stripeKept(sb);
    if (ka + kb - kept[sa] - kept[sb] > o.progressiveThreshold) {
      kept[sa] = ka;
      kept[sb] = kb;
    } else {
      std::swap(st.perm[a], st.perm[b]);
    }
  }
}

ChannelPermResult runChannelSearch(const float *w, int64_t rows, int64_t cols,
                                   Rng &rng, const ChannelPermOptions &o,
                                   ChannelPermStrategy strategy) {
  ChannelPermResult r;
  r.perm.resize(cols);
  std::iota(r.perm.begin(), r.perm.end(), 0);
  for (int64_t i = 0; i < rows * cols; ++i)
    r.total += double(w[i]);
  if (o.m < 2 || o.m > 8 || o.n < 1 || o.n >= o.m) {
    r.skipped = true;
    r.skipReason = "unsupported N:M for the permutation search";
    return r;
  }
  if (cols % o.m != 0 || cols < 2 * o.m) {
    r.skipped = true;
    r.skipReason = "C must be a multiple of M with at least two groups";
    r.keptBefore = r.keptAfter = nmKeptMagnitude(w, rows, cols, {}, o.n, o.m);
    return r;
  }
  r.keptBefore = nmKeptMagnitude(w, rows, cols, {}, o.n, o.m);
  r.keptAfter = r.keptBefore;
  r.keptOptimal = unstructuredKeptMagnitude(w, rows, cols, o.n, o.m);
  if (r.total <= 0.0 || (r.total - r.keptBefore) / r.total < o.skipThreshold) {
    r.skipped = true;
    r.skipReason = "N:M already keeps nearly all the magnitude";
    return r;
  }
  if (strategy == ChannelPermStrategy::Auto)
    strategy = cols > o.progressiveColumns ? ChannelPermStrategy::Progressive
                                           : ChannelPermStrategy::StripeGroups;
  Deadline deadline = Deadline::after(o.timeBudgetSeconds);
  StripeSearch st(w, rows, cols, o.n, o.m);
  switch (strategy) {
  case ChannelPermStrategy::StripeGroups: {
    int64_t g = std::clamp<int64_t>(o.stripeGroupSize, 2, 3);
    if (g * o.m > 16) // bitmask tables stay small
      g = 2;
    MoveTable t2 = buildMoveTable(2, o.m, false);
    MoveTable tg = g == 2 ? t2 : buildMoveTable(g, o.m, false);
    r.strategy = "stripe-groups-" + std::to_string(g);
    stripeGroupSearch(st, 0, st.stripes, o, t2, tg, rng, deadline, r);
    break;
  }
  case ChannelPermStrategy::ChannelSwap: {
    MoveTable swaps = buildMoveTable(2, o.m, true);
    r.strategy = "channel-swap";
    windowSearch(st, swaps, 0, st.stripes, o.escapeAttempts, rng, deadline, r,
                 o.progress, "channel swap");
    break;
  }
  default:
    r.strategy = "progressive-channel-swap";
    progressiveSwap(st, o, rng, deadline, r);
    break;
  }
  r.perm = st.perm;
  r.keptAfter = nmKeptMagnitude(w, rows, cols, r.perm, o.n, o.m);
  // Never return something worse than doing nothing.
  if (r.keptAfter < r.keptBefore) {
    std::iota(r.perm.begin(), r.perm.end(), 0);
    r.keptAfter = r.keptBefore;
  }
  r.efficacy = channelPermEfficacy(r.keptBefore, r.keptAfter, r.keptOptimal);
  if (o.progress)
    o.progress(1.0, r.strategy + " done");
  return r;
}

} // namespace

ChannelPermResult searchChannelPermutation(const float *magnitude,
                                           int64_t rows, int64_t cols,
                                           Rng &rng,
                                           const ChannelPermOptions &options) {
  return runChannelSearch(magnitude, rows, cols, rng, options,
                          options.strategy);
}

ChannelPermResult channelSwapSearch(const float *magnitude, int64_t rows,
                                    int64_t cols, Rng &rng,
                                    const ChannelPermOptions &options) {
  return runChannelSearch(magnitude, rows, cols, rng, options,
                          ChannelPermStrategy::ChannelSwap);
}

double nmKeptMagnitude(const float *w, int64_t rows, int64_t cols,
                       const std::vector<int64_t> &perm, int64_t n,
                       int64_t m) {
  double kept = 0.0;
  std::vector<float> v(m);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t start = 0; start < cols; start += m) {
      int64_t width = std::min(m, cols - start);
      for (int64_t j = 0; j < width; ++j)
        v[j] = w[r * cols + (perm.empty() ? start + j : perm[start + j])];
      int64_t keep = std::min(n, width);
      std::nth_element(v.begin(), v.begin() + keep - 1, v.begin() + width,
                       std::greater<float>());
      for (int64_t j = 0; j < keep; ++j)
        kept += v[j];
    }
  return kept;
}

double unstructuredKeptMagnitude(const float *w, int64_t rows, int64_t cols,
                                 int64_t n, int64_t m) {
  int64_t keep = cols * n / m;
  double kept = 0.0;
  std::vector<float> v(cols);
  for (int64_t r = 0; r < rows; ++r) {
    std::copy(w + r * cols, w + (r + 1) * cols, v.begin());
    if (keep <= 0)
      continue;
    std::nth_element(v.begin(), v.begin() + keep - 1, v.end(),
                     std::greater<float>());
    for (int64_t j = 0; j < keep; ++j)
      kept += v[j];
  }
  return kept;
}

double channelPermEfficacy(double keptBefore, double keptAfter,
                           double keptOptimal) {
  double gap = keptOptimal - keptBefore;
  return gap > 0.0 ? (keptAfter - keptBefore) / gap : 0.0;
}

std::vector<std::vector<int64_t>> enumerateStripePartitions(int64_t g,
                                                            int64_t m) {
  std::vector<std::vector<uint32_t>> parts;
  std::vector<uint32_t> current;
  if (g * m <= 0 || g * m > 31)
    return {};
  enumeratePartitionMasks(g, m, (1u << (g * m)) - 1, current, parts);
  std::vector<std::vector<int64_t>> out;
  out.reserve(parts.size());
  for (const std::vector<uint32_t> &p : parts) {
    std::vector<int64_t> cols;
    for (uint32_t mask : p)
      for (uint32_t bits = mask; bits; bits &= bits - 1)
        cols.push_back(__builtin_ctz(bits));
    out.push_back(std::move(cols));
  }
  return out;
}

bool isPermutation(const std::vector<int64_t> &p, int64_t n) {
  if (int64_t(p.size()) != n)
    return false;
  std::vector<uint8_t> seen(n, 0);
  for (int64_t x : p) {
    if (x < 0 || x >= n || seen[x])
      return false;
    seen[x] = 1;
  }
  return true;
}

} // namespace sparsec
