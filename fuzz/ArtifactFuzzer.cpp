//===- ArtifactFuzzer.cpp - fuzz the runtime's artifact reader ------------===//
//
// An input is an artifact directory in one file: manifest.json, then any
// number of files, each after a line "--- file: <name>":
//
//   {"format": "sparsec-cuda-artifact", ...}
//   --- file: fc1.values.npy
//   <bytes>
//
// The directory is rebuilt for each input and handed to loadArtifact; when
// it loads, everything the kernels trust without a check must hold.
//
//===----------------------------------------------------------------------===//
#include "FuzzSupport.h"

#include "sparsec/Runtime/Artifact.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <string_view>

using namespace sparsec;

namespace {

bool isSafeName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..")
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' &&
        c != '-')
      return false;
  return true;
}

void check(bool condition) {
  if (!condition)
    std::abort();
}

void checkLoaded(const rt::Artifact &art) {
  for (const rt::Step &step : art.steps) {
    if (step.op == rt::StepOp::DenseLinear) {
      check(step.weight.size() == uint64_t(step.rows * step.cols));
    } else if (step.op == rt::StepOp::SparseLinear) {
      check(step.values.size() ==
            uint64_t(step.rowsPadded * (step.keptWidth / 2)));
      check(step.meta.size() ==
            uint64_t(step.rowsPadded / 64 * (step.keptWidth / 32) * 64));
      for (uint32_t c : step.colIdx)
        check(c < uint64_t(step.cols));
    }
    check(step.bias.empty() || step.bias.size() == uint64_t(step.rows));
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  namespace fs = std::filesystem;
  std::string dir = fuzz::scratchDir() + "/artifact";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);

  std::string_view input(reinterpret_cast<const char *>(data), size);
  const std::string_view marker = "\n--- file: ";
  size_t end = input.find(marker);
  std::string_view manifest = input.substr(0, end);
  fuzz::writeScratchFile("artifact/manifest.json",
                         reinterpret_cast<const uint8_t *>(manifest.data()),
                         manifest.size());
  while (end != std::string_view::npos) {
    size_t nameBegin = end + marker.size();
    size_t nameEnd = input.find('\n', nameBegin);
    if (nameEnd == std::string_view::npos)
      break;
    std::string_view name = input.substr(nameBegin, nameEnd - nameBegin);
    end = input.find(marker, nameEnd);
    std::string_view body = input.substr(
        nameEnd + 1, end == std::string_view::npos ? std::string_view::npos
                                                   : end - nameEnd - 1);
    if (isSafeName(name) && name != "manifest.json")
      fuzz::writeScratchFile("artifact/" + std::string(name),
                             reinterpret_cast<const uint8_t *>(body.data()),
                             body.size());
  }

  rt::Artifact art;
  std::string error = rt::loadArtifact(dir, art);
  fuzz::note(error);
  if (error.empty())
    checkLoaded(art);
  return 0;
}
