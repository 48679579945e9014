//===- Random.h - counter-based, sub-streamed PRNG --------------*- C++ -*-===//
//
// One generator per pass invocation, seeded by the pass option `seed`; each
// layer draws from a sub-stream keyed by (seed, layer name) so results do not
// depend on pass order (algorithms.md §0). Counter-based: output i of a stream
// is a pure function of (seed, stream key, i), identical on every platform.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_SPARSITY_RANDOM_H
#define SPARSEC_SPARSITY_RANDOM_H

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace sparsec {

/// The splitmix64 finaliser: a bijective 64-bit mixer.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/// FNV-1a 64 of a layer name: stable across runs, compilers and platforms
/// (std::hash is not).
inline uint64_t streamKey(std::string_view layerName) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : layerName) {
    h ^= uint64_t(uint8_t(c));
    h *= 0x100000001b3ULL;
  }
  return h;
}

class Rng {
public:
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0)
      : key(mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^
                  (stream * 0xd1342543de82ef95ULL + 1))) {}

  /// The sub-stream of one layer.
  static Rng forLayer(uint64_t seed, std::string_view layerName) {
    return Rng(seed, streamKey(layerName));
  }

  /// Output `counter` of this stream: two mixing rounds over (key, counter)
  /// so that neighbouring keys and counters are decorrelated.
  uint64_t next() {
    uint64_t c = counter++;
    return mix64(mix64(key + c * 0x9e3779b97f4a7c15ULL) ^ key);
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }

  /// Uniform in [0, n), n > 0. Rejection keeps it exactly unbiased.
  int64_t below(int64_t n) {
    uint64_t un = uint64_t(n);
    uint64_t threshold = (0 - un) % un; // 2^64 mod n
    for (;;) {
      uint64_t r = next();
      if (r >= threshold)
        return int64_t(r % un);
    }
  }

  /// Partial Fisher–Yates on a[0..n): afterwards a[0..k) is a uniform sample
  /// without replacement (in draw order). In place, no allocation.
  template <typename T> void partialShuffle(T *a, int64_t n, int64_t k) {
    for (int64_t i = 0; i < k && i < n - 1; ++i)
      std::swap(a[i], a[i + below(n - i)]);
  }

  /// k distinct values of [0, n), in draw order.
  std::vector<int64_t> sampleWithoutReplacement(int64_t n, int64_t k) {
    std::vector<int64_t> a(n);
    for (int64_t i = 0; i < n; ++i)
      a[i] = i;
    if (k > n)
      k = n;
    partialShuffle(a.data(), n, k);
    a.resize(k);
    return a;
  }

  /// How many values this stream has produced (for statistics and tests).
  uint64_t position() const { return counter; }

private:
  uint64_t key;
  uint64_t counter = 0;
};

} // namespace sparsec

#endif
