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
std::string readSafetensors(const std::string &path,
                            std::map<std::string, SafetensorsEntry> &out);

} // namespace sparsec

#endif
