//===- Transpose.h - cache-blocked matrix transpose -------------*- C++ -*-===//
//
// Import turns every [K, N] MatMul weight into its [N, K] GEMM view and export
// turns it back. Element by element, one side of the copy strides through
// memory a row at a time; in square blocks both sides stay in cache (a 1.1 B
// parameter model transposes 4.4 GB).
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_SUPPORT_TRANSPOSE_H
#define SPARSEC_SUPPORT_TRANSPOSE_H

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace sparsec {

/// dst[j][i] = src[i][j] for a row-major `rows` x `cols` matrix of
/// `eltSize`-byte elements; `dst` is `cols` x `rows`.
inline void transposeMatrix(const char *src, char *dst, int64_t rows,
                            int64_t cols, int64_t eltSize) {
  constexpr int64_t kBlock = 32;
  for (int64_t i0 = 0; i0 < rows; i0 += kBlock)
    for (int64_t j0 = 0; j0 < cols; j0 += kBlock) {
      int64_t iEnd = std::min(rows, i0 + kBlock);
      int64_t jEnd = std::min(cols, j0 + kBlock);
      for (int64_t i = i0; i < iEnd; ++i)
        for (int64_t j = j0; j < jEnd; ++j)
          std::memcpy(dst + (j * rows + i) * eltSize,
                      src + (i * cols + j) * eltSize, eltSize);
    }
}

} // namespace sparsec

#endif
