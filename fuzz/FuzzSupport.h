//===- FuzzSupport.h - helpers shared by sparsec's fuzz targets -*- C++ -*-===//
//
// Every target defines LLVMFuzzerTestOneInput. With -DSPARSEC_BUILD_FUZZERS=ON
// it links libFuzzer (-fsanitize=fuzzer); otherwise ReplayMain.cpp replays
// the committed corpus and regression inputs (ctest fuzz-regressions).
//
// Readers that take a path get the input through a file in a private
// temporary directory, removed at exit.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_FUZZ_FUZZSUPPORT_H
#define SPARSEC_FUZZ_FUZZSUPPORT_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace sparsec::fuzz {

/// A directory of this process's own, removed at exit.
inline const std::string &scratchDir() {
  static const std::string dir = [] {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/sparsec-fuzz-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      std::perror("sparsec fuzz: mkdtemp");
      std::abort();
    }
    static std::string removeAtExit;
    removeAtExit = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(removeAtExit, ec);
    });
    return pattern;
  }();
  return dir;
}

/// Writes `size` bytes to `name` in the scratch directory; returns its path.
inline std::string writeScratchFile(const std::string &name,
                                    const uint8_t *data, size_t size) {
  std::string path = scratchDir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char *>(data), std::streamsize(size));
  if (!out) {
    std::fprintf(stderr, "sparsec fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

/// With SPARSEC_FUZZ_VERBOSE set, prints what the reader said about an
/// input ("ok" or its error), to check what seeds reach.
inline void note(const std::string &error) {
  static const bool verbose = std::getenv("SPARSEC_FUZZ_VERBOSE") != nullptr;
  if (verbose)
    std::fprintf(stderr, "reader: %s\n", error.empty() ? "ok" : error.c_str());
}

/// With SPARSEC_FUZZ_DUMP_DIR set, writes every input the target runs to
/// that directory as 00000000, 00000001, ... (replay sorts names, so a
/// replay of the directory runs them in the same order): a finding that
/// depends on earlier inputs can then be replayed whole, e.g. under
/// valgrind with the replay build.
inline void dumpInput(const uint8_t *data, size_t size) {
  static const char *dir = std::getenv("SPARSEC_FUZZ_DUMP_DIR");
  static size_t count = 0;
  if (!dir)
    return;
  char name[32];
  std::snprintf(name, sizeof(name), "/%08zu", count++);
  if (FILE *f = std::fopen((std::string(dir) + name).c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
}

} // namespace sparsec::fuzz

#endif
