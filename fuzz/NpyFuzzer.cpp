//===- NpyFuzzer.cpp - fuzz the .npy reader -------------------------------===//
#include "FuzzSupport.h"

#include "sparsec/Support/Npy.h"

#include <cstdlib>

using namespace sparsec;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  NpyArray array;
  std::string error =
      parseNpy(reinterpret_cast<const char *>(data), size, "input", array);
  fuzz::note(error);
  if (!error.empty())
    return 0;
  // What readNpy promises: the data holds exactly the shape's bytes.
  int64_t elements = NpyArray::checkedNumElements(array.shape);
  int64_t elementSize = NpyArray::elementSize(array.dtype);
  if (elements < 0 || elementSize == 0 ||
      array.data.size() != uint64_t(elements) * uint64_t(elementSize))
    std::abort();
  // The file reader agrees with the memory reader.
  NpyArray fromFile;
  if (!readNpy(fuzz::writeScratchFile("input.npy", data, size), fromFile)
           .empty() ||
      fromFile.shape != array.shape || fromFile.data != array.data)
    std::abort();
  return 0;
}
