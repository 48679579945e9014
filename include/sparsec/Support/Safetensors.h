//===- Safetensors.h - minimal safetensors reader ---------------*- C++ -*-===//
#ifndef SPARSEC_SUPPORT_SAFETENSORS_H
#define SPARSEC_SUPPORT_SAFETENSORS_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sparsec {

struct SafetensorsEntry {
  std::string dtype; // e.g. "F32"
  std::vector<int64_t> shape;
  std::vector<char> data;
};

/// Reads every tensor of a .safetensors file; returns an error message or "".
/// Nothing in the file is trusted: each tensor's data range must lie in the
/// file, hold exactly its shape's bytes and overlap no other tensor's, so
/// `data` of each entry holds exactly its shape's bytes. Errors name the file
/// and the tensor. Nothing is added to `out` when reading fails.
std::string readSafetensors(const std::string &path,
                            std::map<std::string, SafetensorsEntry> &out);
/// The same for a safetensors image in memory; `name` stands for the file in
/// messages.
std::string parseSafetensors(const char *data, size_t size,
                             const std::string &name,
                             std::map<std::string, SafetensorsEntry> &out);
/// Bytes per element of a safetensors dtype such as "F32" (0 if unknown).
int64_t safetensorsElementSize(const std::string &dtype);

} // namespace sparsec

#endif
