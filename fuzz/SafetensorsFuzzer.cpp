//===- SafetensorsFuzzer.cpp - fuzz the safetensors reader ----------------===//
#include "FuzzSupport.h"

#include "sparsec/Support/Npy.h"
#include "sparsec/Support/Safetensors.h"

#include <cstdlib>

using namespace sparsec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::map<std::string, SafetensorsEntry> tensors;
  std::string error = parseSafetensors(reinterpret_cast<const char *>(data),
                                       size, "input", tensors);
  fuzz::note(error);
  if (!error.empty()) {
    if (!tensors.empty())
      std::abort(); // nothing is added on failure
    return 0;
  }
  // What readSafetensors promises: each tensor holds exactly its shape's
  // bytes, and all of them fit in the file.
  uint64_t total = 0;
  for (const auto &[name, t] : tensors) {
    int64_t elements = NpyArray::checkedNumElements(t.shape);
    int64_t elementSize = safetensorsElementSize(t.dtype);
    if (elements < 0 || elementSize == 0 ||
        t.data.size() != uint64_t(elements) * uint64_t(elementSize))
      std::abort();
    total += t.data.size();
  }
  if (total > size)
    std::abort();
  return 0;
}
