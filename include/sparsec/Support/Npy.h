//===- Npy.h - minimal .npy reader/writer -----------------------*- C++ -*-===//
#ifndef SPARSEC_SUPPORT_NPY_H
#define SPARSEC_SUPPORT_NPY_H

#include <cstdint>
#include <string>
#include <vector>

namespace sparsec {

/// A C-order numpy array. `dtype` is a numpy descr such as "<f4", "<i8",
/// "|b1".
struct NpyArray {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<char> data;

  int64_t numElements() const;
  /// Bytes per element of `dtype` (0 if unknown).
  static int64_t elementSize(const std::string &dtype);
};

/// Reads `path`; returns an empty string or an error message.
std::string readNpy(const std::string &path, NpyArray &out);
/// Writes `array` to `path` (version 1.0 format).
std::string writeNpy(const std::string &path, const NpyArray &array);

} // namespace sparsec

#endif
