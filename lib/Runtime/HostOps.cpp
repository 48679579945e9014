//===- HostOps.cpp - fp32 host steps and activation layout ----------------===//
//
// The steps an artifact runs outside the generated kernels. They are small
// (classifier heads, activations, residual adds), so plain loops suffice.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Runtime/Executor.h"

#include <cmath>

namespace sparsec::rt::host {

void denseLinear(const float *x, int64_t tokens, int64_t cols,
                 const float *weight, int64_t rows, const float *bias,
                 float *y) {
  for (int64_t t = 0; t < tokens; ++t) {
    const float *xt = x + t * cols;
    for (int64_t r = 0; r < rows; ++r) {
      const float *wr = weight + r * cols;
      float sum = 0;
      for (int64_t k = 0; k < cols; ++k)
        sum += xt[k] * wr[k];
      y[t * rows + r] = sum + (bias ? bias[r] : 0.0f);
    }
  }
}

void relu(const float *x, int64_t n, float *y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = x[i] > 0 ? x[i] : 0.0f;
}

void gelu(const float *x, int64_t n, float *y) {
  const float invSqrt2 = 0.70710678118654752f;
  for (int64_t i = 0; i < n; ++i)
    y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * invSqrt2));
}

void add(const float *a, const float *b, int64_t n, float *y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] + b[i];
}

void toFeatureMajor(const float *x, int64_t tokens, int64_t channels,
                    int64_t ld, cuda::ValueType type, uint16_t *out) {
  auto convert = type == cuda::ValueType::F16 ? cuda::floatToHalfBits
                                              : cuda::floatToBF16Bits;
  for (int64_t c = 0; c < channels; ++c) {
    uint16_t *row = out + c * ld;
    for (int64_t t = 0; t < tokens; ++t)
      row[t] = convert(x[t * channels + c]);
    for (int64_t t = tokens; t < ld; ++t)
      row[t] = 0;
  }
}

void fromFeatureMajor(const uint16_t *y, int64_t channels, int64_t ld,
                      int64_t tokens, cuda::ValueType type, float *out) {
  auto convert = type == cuda::ValueType::F16 ? cuda::halfBitsToFloat
                                              : cuda::bf16BitsToFloat;
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t t = 0; t < tokens; ++t)
      out[t * channels + c] = convert(y[c * ld + t]);
}

} // namespace sparsec::rt::host
