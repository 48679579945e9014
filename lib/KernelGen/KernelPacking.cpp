//===- KernelPacking.cpp - weights in the layout the kernels read ---------===//
//
// MLIR-free: the runtime's C API packs with it on the GPU machine.
//
//===----------------------------------------------------------------------===//
#include "sparsec/KernelGen/KernelGen.h"
#include "sparsec/Sparsity/Packing.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sparsec::cuda {
namespace {

int64_t roundUp(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

/// 2:4 codes (p0 | p1 << 2) of a packed slot-position array.
std::vector<uint8_t> codesFromPositions(const std::vector<uint8_t> &pos) {
  std::vector<uint8_t> codes(pos.size() / 2);
  for (size_t q = 0; q < codes.size(); ++q)
    codes[q] = uint8_t(nmCode24(pos[2 * q], pos[2 * q + 1]));
  return codes;
}

void convertValues(const std::vector<float> &values, ValueType type,
                   std::vector<uint16_t> &out) {
  out.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    out[i] = type == ValueType::F16 ? floatToHalfBits(values[i])
                                    : floatToBF16Bits(values[i]);
}

} // namespace

uint16_t floatToHalfBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t absBits = bits & 0x7fffffffu;
  if (absBits > 0x7f800000u) // NaN: keep it quiet
    return uint16_t(sign | 0x7e00u);
  if (absBits >= 0x477ff000u) // rounds to >= 65520: infinity
    return uint16_t(sign | 0x7c00u);
  if (absBits < 0x38800000u) { // half subnormal or zero
    // Scale so that the half subnormal unit (2^-24) becomes 1.0 and let the
    // float adder round to nearest even.
    float scaled = std::fabs(value) * 16777216.0f; // 2^24
    float rounded = std::nearbyint(scaled);
    return uint16_t(sign | uint32_t(rounded));
  }
  uint32_t mantissa = absBits & 0x7fffffu;
  int32_t exponent = int32_t(absBits >> 23) - 127 + 15;
  uint32_t half = (uint32_t(exponent) << 10) | (mantissa >> 13);
  uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u)))
    ++half; // may carry into the exponent, which is still correct
  return uint16_t(sign | half);
}

uint16_t floatToBF16Bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((bits >> 16) | 0x40u);
  uint32_t lsb = (bits >> 16) & 1u;
  bits += 0x7fffu + lsb;
  return uint16_t(bits >> 16);
}

float halfBitsToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  float magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(float(mantissa), -24);
  else if (exponent == 31)
    magnitude = mantissa ? NAN : INFINITY;
  else
    magnitude = std::ldexp(float(mantissa | 0x400u), int(exponent) - 25);
  uint32_t bits;
  std::memcpy(&bits, &magnitude, 4);
  bits |= sign;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

float bf16BitsToFloat(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

std::vector<uint32_t> kernelMetaWords(const std::vector<uint8_t> &codes,
                                      int64_t rowsPadded, int64_t keptWidth) {
  int64_t groups = keptWidth / 4, kSteps = keptWidth / 32;
  std::vector<uint32_t> words;
  words.reserve(rowsPadded / 32 * kSteps * 32);
  std::vector<uint8_t> block(32 * 8);
  for (int64_t rb = 0; rb < rowsPadded / 64; ++rb)
    for (int64_t ks = 0; ks < kSteps; ++ks)
      for (int64_t half = 0; half < 2; ++half) {
        int64_t row0 = rb * 64 + half * 32;
        for (int64_t r = 0; r < 32; ++r)
          for (int64_t q = 0; q < 8; ++q)
            block[r * 8 + q] = codes[(row0 + r) * groups + ks * 8 + q];
        std::vector<uint32_t> record =
            buildMetaWords(block, 32, 8, MetaWordLayout::Meta32);
        words.insert(words.end(), record.begin(), record.end());
      }
  return words;
}

std::string packForKernel(const LinearKernelConfig &config, const float *weight,
                          const uint8_t *mask,
                          const std::vector<std::vector<int64_t>> *tileColumns,
                          const float *bias, KernelWeights &out) {
  out = KernelWeights();
  if (std::string error = verifyConfig(config); !error.empty())
    return error;
  KernelLaunchInfo info = launchInfo(config);
  int64_t rows = config.rows, cols = config.cols;
  if (config.hasBias != (bias != nullptr))
    return config.hasBias ? "the kernel expects a bias but none was given"
                          : "a bias was given but the kernel has none";
  if (bias)
    out.bias.assign(bias, bias + rows);

  if (!config.hinm) {
    // Zero-pad to the kernel's tile grid so that no load needs a bound.
    int64_t paddedRows = info.rowsPadded, paddedCols = info.keptWidth;
    std::vector<float> padded(paddedRows * paddedCols, 0.0f);
    std::vector<uint8_t> paddedMask(paddedRows * paddedCols, 0);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float w = weight[r * cols + c];
        bool kept = mask ? mask[r * cols + c] != 0 : w != 0.0f;
        padded[r * paddedCols + c] = kept ? w : 0.0f;
        paddedMask[r * paddedCols + c] = kept;
      }
    NMPacked packed;
    if (std::string error = packNM(padded.data(), paddedMask.data(), paddedRows,
                                   paddedCols, 2, 4, packed);
        !error.empty())
      return "weight is not 2:4 sparse: " + error;
    convertValues(packed.values, config.valueType, out.values);
    out.meta =
        kernelMetaWords(codesFromPositions(packed.pos), paddedRows, paddedCols);
    return "";
  }

  int64_t tiles = info.rowsPadded / config.v;
  std::vector<std::vector<int64_t>> derived;
  if (!tileColumns) {
    // Each tile's kept column vectors, ascending.
    for (int64_t t = 0; t < tiles; ++t) {
      std::vector<int64_t> columns;
      for (int64_t c = 0; c < cols; ++c) {
        bool any = false;
        for (int64_t r = t * config.v; r < std::min(rows, (t + 1) * config.v);
             ++r)
          any |= mask ? mask[r * cols + c] != 0 : weight[r * cols + c] != 0.0f;
        if (any)
          columns.push_back(c);
      }
      derived.push_back(std::move(columns));
    }
    size_t width = 0;
    for (auto &columns : derived)
      width = std::max(width, columns.size());
    width = (width + 3) / 4 * 4;
    // Tiles with fewer kept vectors get the lowest unused columns: zero
    // vectors, so the product is unchanged.
    for (auto &columns : derived) {
      for (int64_t c = 0; int64_t(columns.size()) < int64_t(width) && c < cols;
           ++c)
        if (!std::binary_search(columns.begin(), columns.end(), c)) {
          columns.insert(std::lower_bound(columns.begin(), columns.end(), c),
                         c);
        }
      if (columns.size() != width)
        return "cannot derive HiNM column lists: K is too small";
    }
    tileColumns = &derived;
  }
  if (int64_t(tileColumns->size()) != tiles)
    return "expected " + std::to_string(tiles) + " tile column lists, got " +
           std::to_string(tileColumns->size());
  int64_t nnzVec = tileColumns->empty() ? 0 : (*tileColumns)[0].size();
  if (roundUp(nnzVec, 32) != config.keptWidth)
    return "kept width " + std::to_string(config.keptWidth) +
           " does not match " + std::to_string(nnzVec) +
           " kept vectors per tile (expected " +
           std::to_string(roundUp(nnzVec, 32)) + ")";
  for (const auto &columns : *tileColumns)
    for (int64_t c : columns)
      if (c < 0 || c >= cols)
        return "tile column " + std::to_string(c) + " is outside [0, " +
               std::to_string(cols) + ")";
  HiNMPacked packed;
  if (std::string error =
          packHiNM(weight, mask, rows, cols, config.v, 2, 4, *tileColumns,
                   MetaWordLayout::Meta32, packed);
      !error.empty())
    return "weight is not HiNM sparse: " + error;
  convertValues(packed.values, config.valueType, out.values);
  out.meta = kernelMetaWords(codesFromPositions(packed.pos), info.rowsPadded,
                             info.keptWidth);
  out.colIdx = packed.colIdx;
  return "";
}

} // namespace sparsec::cuda
