//===- CpuArtifact.h - run sparsec CPU artifacts (host, neon) ---*- C++ -*-===//
#ifndef SPARSEC_TOOLS_SPARSEC_RUN_CPUARTIFACT_H
#define SPARSEC_TOOLS_SPARSEC_RUN_CPUARTIFACT_H

#include <string>
#include <vector>

namespace sparsec::run {

struct CpuRunOptions {
  std::string artifact;
  std::vector<std::string> inputs;
  /// "" writes no outputs (timing runs).
  std::string outputDir;
  /// Timed calls after one untimed warm-up call; 0 times nothing.
  int repeat = 0;
  /// Caps the OpenMP threads (omp_set_num_threads); 0 leaves libomp's
  /// choice (OMP_NUM_THREADS, else one per core).
  int threads = 0;
  /// Keeps freed memory in the process between calls (glibc's mmap and trim
  /// thresholds raised), as a serving process would; false measures glibc's
  /// defaults, under which each call page-faults its large buffers again.
  bool retainMemory = true;
};

/// Whether `dir/manifest.json` says "sparsec-cpu-artifact".
bool isCpuArtifact(const std::string &dir);

/// Loads the artifact's model.so and calls it on `options.inputs` (fp32
/// .npy in manifest order; with --repeat and no inputs, a fixed
/// pseudo-random fill), writing OUTDIR/output_<i>.npy; with `repeat`, prints
/// the median and spread of the call's time. Returns the exit status and
/// prints its own errors.
int runCpuArtifact(const CpuRunOptions &options);

/// Prints the artifact's inputs and outputs.
int listCpuArtifact(const std::string &dir);

} // namespace sparsec::run

#endif
