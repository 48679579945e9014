//===- MemRefDescriptor.h - memref descriptors for calls ------*- C++ -*-===//
//
// How MLIR's LLVM lowering passes a ranked memref through a C interface
// (`_mlir_ciface_*`): {allocated, aligned, offset, sizes..., strides...}.
// Header-only and MLIR-free: the JIT (lib/Target/Host) and sparsec-run's
// dlopen path (tools/sparsec-run) both build them.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_SUPPORT_MEMREFDESCRIPTOR_H
#define SPARSEC_SUPPORT_MEMREFDESCRIPTOR_H

#include <cstdint>
#include <vector>

namespace sparsec {

/// The descriptor of a contiguous row-major buffer of `shape` at `data`.
inline std::vector<int64_t>
makeMemRefDescriptor(void *data, const std::vector<int64_t> &shape) {
  std::vector<int64_t> d = {reinterpret_cast<int64_t>(data),
                            reinterpret_cast<int64_t>(data), 0};
  d.insert(d.end(), shape.begin(), shape.end());
  std::vector<int64_t> strides(shape.size());
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= shape[i];
  }
  d.insert(d.end(), strides.begin(), strides.end());
  return d;
}

} // namespace sparsec

#endif
