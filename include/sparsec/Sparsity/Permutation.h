//===- Permutation.h - gyro (HiNM) and ASP (N:M) permutation search -*- C++ -*-===//
//
// Compile-time permutation searches of algorithms.md §2 (gyro-permutation for
// HiNM: output rows, then per-tile input-column grouping) and §4 (apex ASP
// input-channel permutation for plain N:M). MLIR-free; all randomness comes
// from the caller's Rng, so the same seed gives identical results.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_SPARSITY_PERMUTATION_H
#define SPARSEC_SPARSITY_PERMUTATION_H

#include "sparsec/Sparsity/Clustering.h"
#include "sparsec/Sparsity/Random.h"
#include "sparsec/Sparsity/Selection.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sparsec {

/// Progress report: fraction in [0, 1] and a short description. Meant for a
/// terminal; searches never depend on it.
using ProgressFn =
    std::function<void(double fraction, const std::string &what)>;

//===----------------------------------------------------------------------===//
// Gyro-permutation (HiNM), algorithms.md §2
//===----------------------------------------------------------------------===//

/// One layer taking part in stage A. Co-parent layers that share one output
/// row order (§3) each bring their own K and nnz_vec.
struct GyroLayerView {
  const float *saliency = nullptr; // R x cols, row-major, >= 0
  int64_t cols = 0;
  int64_t nnzVec = 0;
};

struct GyroStageAOptions {
  /// Rows moved per block in each phase; empty means V/2, V/4, ..., 1.
  /// Entries are clamped to [1, V].
  std::vector<int64_t> schedule = {8, 1, 4, 1, 2, 1, 1};
  /// A phase stops once its total failure count reaches the limit
  /// (`fails < limit` continues): failMulti for e > 1, failUni for e == 1.
  int64_t failMulti = 1, failUni = 1;
  /// Safety cap on trials per phase (ours, §2.2).
  int64_t maxTrialsPerE = 100;
  BalancedKMeansOptions kmeans;
  /// Wall-clock budget for the whole stage, checked between trials; 0 = none.
  double timeBudgetSeconds = 0;
  ProgressFn progress;
};

struct GyroTraceEntry {
  int64_t e = 0;     // rows moved per block in this phase
  int64_t trial = 0; // 1-based trial number inside the phase
  double cost = 0;   // cost after the accepted trial
};

struct GyroStageAResult {
  /// σ_O: R_p = roundup(R, V) entries, block after block, rows of a block in
  /// ascending id. Ids >= R are padding rows (zero saliency); they may land in
  /// any block, and the deployment row they occupy is stored as zeros.
  std::vector<int64_t> rowOrder;
  double cost = 0;         // Σ_blocks blockcost, summed over the layers
  double identityCost = 0; // the same for rowOrder = identity
  int64_t trials = 0, accepted = 0;
  std::vector<GyroTraceEntry> trace; // one entry per accepted trial
  bool timedOut = false;
};

/// Stage A (§2.2) on one layer or several layers sharing their rows (summed
/// costs, same sampling; k-means features are the rows of all layers
/// concatenated). All layers have `rows` rows; V is the tile height.
GyroStageAResult gyroStageA(const std::vector<GyroLayerView> &layers,
                            int64_t rows, int64_t v, Rng &rng,
                            const GyroStageAOptions &options = {});

struct GyroStageBOptions {
  /// Stop when the failure count exceeds this (F_in = 2: at the 3rd failure).
  int64_t failLimit = 2;
  /// Safety cap on trials per tile (ours).
  int64_t maxTrials = 100;
};

struct GyroStageBResult {
  /// The nnz_vec compacted positions in grouped order: group 0, group 1, ...;
  /// ascending inside a group.
  std::vector<int64_t> order;
  double cost = 0;         // Σ rows of the (M-N) smallest per group
  double identityCost = 0; // the same for the ascending grouping
  int64_t trials = 0, accepted = 0;
  std::vector<double> trace; // cost after each accepted trial
};

/// Stage B (§2.3) on the compacted saliency of one tile: `tile` is v x nnzVec,
/// row-major; groups of m, n kept per row and group.
GyroStageBResult gyroStageB(const float *tile, int64_t v, int64_t nnzVec,
                            int64_t n, int64_t m, Rng &rng,
                            const GyroStageBOptions &options = {});

struct GyroOptions {
  GyroStageAOptions stageA;
  GyroStageBOptions stageB;
  bool runStageB = true;
  /// Budget for stage A plus stage B of the call, checked between trials; the
  /// stage-A budget, if set, also applies. Tiles not reached keep ascending
  /// order. 0 = none.
  double timeBudgetSeconds = 0;
  ProgressFn progress;
};

struct GyroHiNMResult {
  std::vector<int64_t> rowOrder;                 // ρ = σ_O (R_p entries)
  std::vector<std::vector<int64_t>> tileColumns; // L_t, grouped order
  std::vector<uint8_t> mask;                     // R x K, original coordinates
  double totalSaliency = 0;
  double prunedSaliency = 0;         // Σ S ⊙ (1 - mask)
  double prunedSaliencyIdentity = 0; // the same for selectHiNM (no permutation)
  GyroStageAResult stageA;
  int64_t stageBTrials = 0, stageBAccepted = 0;
  bool timedOut = false;
};

/// Stage A, vector selection with ρ = σ_O, stage B per tile, final N:M
/// selection (§2.4). With ρ = identity and no stage B the mask equals
/// selectHiNM's. `config` must be valid (validateHiNM).
GyroHiNMResult gyroPermuteHiNM(const float *saliency, int64_t rows,
                               int64_t cols, const HiNMConfig &config,
                               Rng &rng, const GyroOptions &options = {});

/// A co-parent layer for gyroPermuteHiNMShared.
struct GyroHiNMLayer {
  const float *saliency = nullptr; // R x cols
  int64_t cols = 0;
  HiNMConfig config; // all layers use the same V
};

/// Co-parents sharing one σ_O (§3): joint stage A, then per layer vector
/// selection, stage B and N:M selection. Results are in layer order.
std::vector<GyroHiNMResult>
gyroPermuteHiNMShared(const std::vector<GyroHiNMLayer> &layers, int64_t rows,
                      Rng &rng, const GyroOptions &options = {});

//===----------------------------------------------------------------------===//
// ASP N:M input-channel permutation, algorithms.md §4
//===----------------------------------------------------------------------===//

enum class ChannelPermStrategy {
  Auto,         // StripeGroups when C <= progressiveColumns, else Progressive
  StripeGroups, // exhaustive stripe-group search (apex default)
  ChannelSwap,  // greedy channel swap (the baseline)
  Progressive,  // random pair swaps with a fixed iteration budget
};

struct ChannelPermOptions {
  int64_t n = 2, m = 4;
  ChannelPermStrategy strategy = ChannelPermStrategy::Auto;
  int64_t stripeGroupSize = 2; // g: 2 (8 columns) or 3 (12 columns)
  int64_t escapeAttempts = 100;
  /// g = 3 on more columns than this: solve halves, then refine with g = 2
  /// and 10 * max(escapeAttempts, 100) escapes (apex).
  int64_t halvingColumns = 512;
  int64_t progressiveColumns = 2048;
  /// Iteration budget replacing apex's 120 s limit (ours, for determinism).
  int64_t progressiveIterations = 100000;
  double progressiveThreshold = 1e-9; // minimum gain of a kept swap
  /// Skip when (Σ|W| - kept)/Σ|W| < skipThreshold (§4.1).
  double skipThreshold = 1e-3;
  double timeBudgetSeconds = 0; // 0 = none; checked between rounds
  ProgressFn progress;
};

struct ChannelPermResult {
  std::vector<int64_t> perm; // new[j] = old[perm[j]], C entries
  double total = 0;          // Σ |w|
  double keptBefore = 0;     // N:M-kept magnitude, identity
  double keptAfter = 0;      // N:M-kept magnitude, with perm
  double keptOptimal = 0;    // per-row unstructured top C·N/M
  double efficacy = 0;       // (after - before) / (optimal - before)
  bool skipped = false;
  std::string skipReason;
  bool timedOut = false;
  int64_t rounds = 0;  // convergence rounds (or progressive iterations)
  int64_t escapes = 0; // escapes run
  std::string strategy; // what ran: "stripe-groups", "channel-swap", ...
};

/// Searches a column permutation of `magnitude` (rows x cols, row-major |w|;
/// for conv rows = C_out·kh·kw and cols = C_in) maximising the N:M-kept
/// magnitude. cols must be a multiple of m (else skipped, identity).
ChannelPermResult searchChannelPermutation(const float *magnitude,
                                           int64_t rows, int64_t cols,
                                           Rng &rng,
                                           const ChannelPermOptions &options = {});

/// The greedy channel-swap baseline (strategy ChannelSwap).
ChannelPermResult channelSwapSearch(const float *magnitude, int64_t rows,
                                    int64_t cols, Rng &rng,
                                    const ChannelPermOptions &options = {});

/// Σ_rows Σ_groups top-n |w| over groups of m consecutive columns of the
/// permuted matrix (perm empty = identity).
double nmKeptMagnitude(const float *magnitude, int64_t rows, int64_t cols,
                       const std::vector<int64_t> &perm, int64_t n, int64_t m);

/// Σ_rows of the top floor(cols·n/m) entries of each row.
double unstructuredKeptMagnitude(const float *magnitude, int64_t rows,
                                 int64_t cols, int64_t n, int64_t m);

/// (after - before) / (optimal - before); 0 when there is no gap.
double channelPermEfficacy(double keptBefore, double keptAfter,
                           double keptOptimal);

/// All partitions of g·m local columns into g unordered groups of m in
/// canonical order (the smallest remaining column opens the next group); each
/// partition lists its groups in order, columns ascending inside a group.
std::vector<std::vector<int64_t>> enumerateStripePartitions(int64_t g,
                                                            int64_t m);

/// True iff p holds each of 0 .. n-1 exactly once.
bool isPermutation(const std::vector<int64_t> &p, int64_t n);

} // namespace sparsec

#endif
