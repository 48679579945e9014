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

  /// Product of `shape`; for arrays readNpy returned or whose shape was
  /// checked with checkedNumElements.
  int64_t numElements() const;
  /// Bytes per element of `dtype` (0 if unknown).
  static int64_t elementSize(const std::string &dtype);
  /// Product of `dims`, or -1 if a dimension is negative or the product
  /// does not fit in int64_t.
  static int64_t checkedNumElements(const std::vector<int64_t> &dims);
};

/// Reads `path`; returns an empty string or an error message naming `path`.
/// Nothing in the file is trusted: the header and the data must fit in the
/// file before anything is allocated, so `data` holds exactly
/// numElements() * elementSize(dtype) bytes.
std::string readNpy(const std::string &path, NpyArray &out);
/// The same for a .npy image in memory; `name` stands for the file in
/// messages.
std::string parseNpy(const char *data, size_t size, const std::string &name,
                     NpyArray &out);
/// One array of a .npz archive: its key (the member name without ".npy").
struct NpzMember {
  std::string key;
  NpyArray array;
};
/// Reads every array of an uncompressed .npz (np.savez; zip64 included).
/// Compressed members (np.savez_compressed) are refused by name; errors
/// name `path` and the member.
std::string readNpz(const std::string &path, std::vector<NpzMember> &out);
/// Writes `array` to `path` (version 1.0 format).
std::string writeNpy(const std::string &path, const NpyArray &array);

} // namespace sparsec

#endif
