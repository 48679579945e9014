//===- Calibration.cpp - input statistics, Wanda, SparseGPT ---------------===//
#include "sparsec/Sparsity/Calibration.h"
#include "sparsec/Sparsity/Selection.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>

namespace sparsec {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;

InputStatistics::InputStatistics(int64_t features, bool withGram)
    : features(features), squares(features, 0.0) {
  if (withGram)
    gram.assign(features * features, 0.0);
}

void InputStatistics::add(const float *rows, int64_t count) {
  if (count <= 0)
    return;
  tokens += count;
  for (int64_t t = 0; t < count; ++t)
    for (int64_t j = 0; j < features; ++j) {
      double x = rows[t * features + j];
      squares[j] += x * x;
    }
  if (gram.empty())
    return;
  // G += Xᵀ X for this chunk, in float64 (algorithms.md §10.3 numerics).
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic,
                                 Eigen::RowMajor>>
      x(rows, count, features);
  Matrix xd = x.cast<double>();
  Eigen::Map<Matrix> g(gram.data(), features, features);
  g.selfadjointView<Eigen::Lower>().rankUpdate(xd.transpose());
  // rankUpdate fills the lower triangle only: mirror it.
  g.triangularView<Eigen::StrictlyUpper>() = g.transpose();
}

void wandaScores(const float *weight, int64_t rows, int64_t cols,
                 const double *squares, float *scores) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k)
      scores[r * cols + k] =
          float(std::abs(double(weight[r * cols + k])) * std::sqrt(squares[k]));
}

namespace {

/// The upper Cholesky factor U of H⁻¹ (UᵀU = H⁻¹) after the dead-input and
/// dampening steps of §10.3; zeroes the dead inputs' weights.
std::string prepareInverse(const std::vector<double> &gram, int64_t cols,
                           double dampening, Matrix &weight, Matrix &upper,
                           int64_t &deadInputs) {
  Matrix h = Eigen::Map<const Matrix>(gram.data(), cols, cols);
  deadInputs = 0;
  for (int64_t j = 0; j < cols; ++j)
    if (h(j, j) == 0.0) {
      h(j, j) = 1.0;
      weight.col(j).setZero();
      ++deadInputs;
    }
  double damp = dampening * h.diagonal().mean();
  h.diagonal().array() += damp;
  Eigen::LLT<Matrix> factor(h);
  if (factor.info() != Eigen::Success)
    return "the dampened input Gram matrix is not positive definite";
  Matrix inverse = factor.solve(Matrix::Identity(cols, cols));
  Eigen::LLT<Matrix> inverseFactor(inverse);
  if (inverseFactor.info() != Eigen::Success)
    return "the inverse of the input Gram matrix is not positive definite";
  upper = inverseFactor.matrixU();
  return "";
}

/// Positions (ascending) of the n largest of v[0..width): larger first,
/// ties to the lower position.
void keepLargest(const double *v, int64_t width, int64_t n,
                 std::vector<int64_t> &kept) {
  kept.resize(width);
  for (int64_t j = 0; j < width; ++j)
    kept[j] = j;
  std::stable_sort(kept.begin(), kept.end(),
                   [&](int64_t a, int64_t b) { return v[a] > v[b]; });
  kept.resize(std::min(n, width));
  std::sort(kept.begin(), kept.end());
}

} // namespace

std::string sparseGPT(const float *weightData, int64_t rows, int64_t cols,
                      const std::vector<double> &gram,
                      const SparseGPTConfig &config, SparseGPTResult &result) {
  if (int64_t(gram.size()) != cols * cols)
    return "the Gram matrix is not K x K";
  Matrix w =
      Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic,
                                     Eigen::RowMajor>>(weightData, rows, cols)
          .cast<double>();
  Matrix u;
  if (std::string error =
          prepareInverse(gram, cols, config.dampening, w, u, result.deadInputs);
      !error.empty())
    return error;
  const int64_t m = config.m, n = config.n;
  const bool hinm = config.tileRows > 0;
  const int64_t tiles =
      hinm ? (rows + config.tileRows - 1) / config.tileRows : 0;

  // HiNM vector level on the original weights: Σ_tile w² / Hinv_jj².
  result.tileColumns.clear();
  // position[t][c]: c's position among tile t's kept columns, else -1.
  std::vector<std::vector<int64_t>> position;
  for (int64_t t = 0; t < tiles; ++t) {
    std::vector<double> score(cols, 0.0);
    for (int64_t r = t * config.tileRows;
         r < std::min(rows, (t + 1) * config.tileRows); ++r)
      for (int64_t c = 0; c < cols; ++c)
        score[c] += w(r, c) * w(r, c) / (u(c, c) * u(c, c));
    result.tileColumns.push_back(
        stableTopK(score.data(), cols, config.keptVectors));
    position.emplace_back(cols, -1);
    const std::vector<int64_t> &columns = result.tileColumns.back();
    for (int64_t p = 0; p < int64_t(columns.size()); ++p)
      position.back()[columns[p]] = p;
  }

  // keep(r, c) is decided when the sweep reaches the group's first column.
  std::vector<uint8_t> keep(rows * cols, 0);
  std::vector<double> groupScore;
  std::vector<int64_t> kept;
  auto decideGroup = [&](int64_t r, const int64_t *columns, int64_t width) {
    groupScore.resize(width);
    for (int64_t j = 0; j < width; ++j) {
      int64_t c = columns[j];
      groupScore[j] = w(r, c) * w(r, c) / (u(c, c) * u(c, c));
    }
    keepLargest(groupScore.data(), width, n, kept);
    for (int64_t j : kept)
      keep[r * cols + columns[j]] = 1;
  };
  std::vector<int64_t> plainGroup(m);

  const int64_t block = std::max<int64_t>(1, config.blockSize);
  for (int64_t i1 = 0; i1 < cols; i1 += block) {
    int64_t i2 = std::min(cols, i1 + block);
    Matrix err = Matrix::Zero(rows, i2 - i1);
    for (int64_t c = i1; c < i2; ++c) {
      if (!hinm && c % m == 0) {
        int64_t width = std::min(m, cols - c);
        for (int64_t j = 0; j < width; ++j)
          plainGroup[j] = c + j;
        for (int64_t r = 0; r < rows; ++r)
          decideGroup(r, plainGroup.data(), width);
      }
      for (int64_t t = 0; t < tiles; ++t) {
        int64_t p = position[t][c];
        const std::vector<int64_t> &columns = result.tileColumns[t];
        // Trailing kept columns short of a whole group keep nothing.
        if (p < 0 || p % m != 0 || p + m > int64_t(columns.size()))
          continue;
        for (int64_t r = t * config.tileRows;
             r < std::min(rows, (t + 1) * config.tileRows); ++r)
          decideGroup(r, columns.data() + p, m);
      }
      double d = u(c, c);
      for (int64_t r = 0; r < rows; ++r) {
        double value = w(r, c);
        double q = keep[r * cols + c] ? value : 0.0;
        err(r, c - i1) = (value - q) / d;
      }
      // W[:, c:i2] -= err ⊗ U[c, c:i2]; column c becomes q exactly.
      w.middleCols(c, i2 - c).noalias() -=
          err.col(c - i1) * u.row(c).segment(c, i2 - c);
      for (int64_t r = 0; r < rows; ++r)
        if (!keep[r * cols + c])
          w(r, c) = 0.0;
    }
    if (i2 < cols)
      w.rightCols(cols - i2).noalias() -=
          err * u.block(i1, i2, i2 - i1, cols - i2);
  }

  result.weight.resize(rows * cols);
  result.mask = std::move(keep);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      result.weight[r * cols + c] =
          result.mask[r * cols + c] ? float(w(r, c)) : 0.0f;
  return "";
}

double reconstructionError(const float *original, const float *pruned,
                           int64_t rows, int64_t cols,
                           const std::vector<double> &gram) {
  Matrix e(rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      e(r, c) = double(original[r * cols + c]) - double(pruned[r * cols + c]);
  Eigen::Map<const Matrix> g(gram.data(), cols, cols);
  return (e * g).cwiseProduct(e).sum();
}

} // namespace sparsec
