//===- sparsec-run.cpp - run a sparsec artifact (CUDA, host, neon) --------===//
//
//   sparsec-run ARTIFACT_DIR --input x.npy [--input ...] -o OUTDIR
//               [--device=auto|cuda|emulator] [--repeat N] [--threads T]
//   sparsec-run ARTIFACT_DIR --list
//
// MLIR- and LLVM-free (it runs on GPU machines without them), hence the
// hand-written argument parsing.
//
//===----------------------------------------------------------------------===//
#include "CpuArtifact.h"
#include "sparsec/Runtime/Executor.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace sparsec;
using namespace sparsec::rt;

namespace {

const char *kUsage =
    "usage: sparsec-run ARTIFACT_DIR --input X.npy [--input ...] -o OUTDIR\n"
    "                   [--device=auto|cuda|emulator]\n"
    "                   [--repeat N] [--threads T] [--no-retain-memory]\n"
    "       sparsec-run ARTIFACT_DIR --list\n"
    "\n"
    "Runs a sparsec artifact (sparsec --emit=artifact) on .npy inputs, in\n"
    "manifest order, and writes OUTDIR/output_<i>.npy.\n"
    "CUDA artifacts: --device=auto (the default) uses the GPU when a CUDA\n"
    "driver is present and the CPU PTX emulator otherwise.\n"
    "CPU artifacts (--target=host, --target=neon): --repeat N times N calls\n"
    "after one warm-up call and prints their median and spread (no compile\n"
    "or I/O inside; without --input, fixed pseudo-random inputs, and -o is\n"
    "optional); --threads T caps the OpenMP threads. Freed memory stays in\n"
    "the process between calls (glibc thresholds raised), as in a server;\n"
    "--no-retain-memory keeps glibc's defaults.\n";

int error(const std::string &message) {
  std::fprintf(stderr, "sparsec-run: error: %s\n", message.c_str());
  return 1;
}

int usageError(const std::string &message) {
  std::fprintf(stderr, "sparsec-run: error: %s\n%s", message.c_str(), kUsage);
  return 2;
}

struct Options {
  std::string artifact, outputDir, device = "auto";
  std::vector<std::string> inputs;
  bool list = false, retainMemory = true;
  int repeat = 0, threads = 0;
};

/// A whole number in [low, high], or -1.
int parseCount(const std::string &text, int low, int high) {
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  int value = std::stoi(text);
  return value < low || value > high ? -1 : value;
}

/// Accepts "--flag=value" and "--flag value". Returns false on a missing
/// value.
bool takeValue(int argc, char **argv, int &i, const char *flag,
               std::string &value, bool &matched) {
  std::string arg = argv[i];
  std::string prefix = std::string(flag) + "=";
  matched = false;
  if (arg.compare(0, prefix.size(), prefix) == 0) {
    matched = true;
    value = arg.substr(prefix.size());
    return !value.empty();
  }
  if (arg != flag)
    return true;
  matched = true;
  if (i + 1 >= argc)
    return false;
  value = argv[++i];
  return true;
}

/// Returns "" or a usage error.
std::string parseArgs(int argc, char **argv, Options &options) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    bool matched = false;
    if (arg == "--list") {
      options.list = true;
      continue;
    }
    if (arg == "--no-retain-memory") {
      options.retainMemory = false;
      continue;
    }
    for (const char *flag : {"--input", "-i"}) {
      if (!takeValue(argc, argv, i, flag, value, matched))
        return std::string(flag) + " needs a file";
      if (matched)
        break;
    }
    if (matched) {
      options.inputs.push_back(value);
      continue;
    }
    for (const char *flag : {"-o", "--output"}) {
      if (!takeValue(argc, argv, i, flag, value, matched))
        return std::string(flag) + " needs a directory";
      if (matched)
        break;
    }
    if (matched) {
      options.outputDir = value;
      continue;
    }
    if (!takeValue(argc, argv, i, "--device", value, matched))
      return "--device needs a value";
    if (matched) {
      if (value != "auto" && value != "cuda" && value != "emulator")
        return "unknown device '" + value + "' (auto, cuda or emulator)";
      options.device = value;
      continue;
    }
    // The counts: --repeat and --threads.
    struct Count {
      const char *flag;
      int low, high;
      int &value;
    };
    for (Count count : {Count{"--repeat", 1, 1000000, options.repeat},
                        Count{"--threads", 1, 1024, options.threads}}) {
      if (!takeValue(argc, argv, i, count.flag, value, matched))
        return std::string(count.flag) + " needs a count";
      if (!matched)
        continue;
      count.value = parseCount(value, count.low, count.high);
      if (count.value < 0)
        return std::string(count.flag) + " must be a whole number from " +
               std::to_string(count.low) + " to " + std::to_string(count.high) +
               ", not '" + value + "'";
      break;
    }
    if (matched)
      continue;
    if (!arg.empty() && arg[0] == '-')
      return "unknown option '" + arg + "'";
    if (!options.artifact.empty())
      return "more than one artifact directory ('" + options.artifact + "', '" +
             arg + "')";
    options.artifact = arg;
  }
  if (options.artifact.empty())
    return "no artifact directory";
  if (!options.list && options.outputDir.empty() && options.repeat == 0)
    return "no output directory (-o OUTDIR)";
  return "";
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s;
  for (int64_t d : shape)
    s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

int list(const std::string &directory) {
  Artifact art;
  if (std::string err = loadArtifact(directory, art); !err.empty())
    return error(err);
  std::printf("artifact %s (%s)\n", directory.c_str(), art.arch.c_str());
  for (const TensorSpec &t : art.inputs)
    std::printf("  input  %s: f32 %s\n", t.name.c_str(),
                shapeString(t.shape).c_str());
  for (const TensorSpec &t : art.outputs)
    std::printf("  output %s: f32 %s\n", t.name.c_str(),
                shapeString(t.shape).c_str());
  for (size_t i = 0; i < art.steps.size(); ++i) {
    const Step &s = art.steps[i];
    std::string operands;
    for (const std::string &in : s.inputs)
      operands += (operands.empty() ? "" : ", ") + in;
    std::printf("  %zu: %s = %s(%s)", i, s.output.c_str(), stepOpName(s.op),
                operands.c_str());
    if (!s.name.empty())
      std::printf("  '%s'", s.name.c_str());
    if (s.op == StepOp::SparseLinear) {
      std::string format =
          s.hinm ? "hinm v=" + std::to_string(s.v) : std::string("2:4");
      std::printf("  %s %s %lldx%lld kept %lld, act %s, kernel %s in %s",
                  format.c_str(), cuda::valueTypeName(s.valueType),
                  (long long)s.rows, (long long)s.cols, (long long)s.keptWidth,
                  cuda::activationName(s.activation), s.entry.c_str(),
                  s.ptxFile.c_str());
    } else if (s.op == StepOp::DenseLinear) {
      std::printf("  %lldx%lld on the host", (long long)s.rows,
                  (long long)s.cols);
    }
    std::printf("\n");
  }
  return 0;
}

std::string openDevice(const std::string &kind, std::unique_ptr<Device> &out) {
  if (kind != "auto")
    return createDevice(kind, out);
  std::string err = createCudaDevice(0, out);
  if (err.empty())
    return "";
  std::fprintf(stderr, "sparsec-run: %s; using the PTX emulator\n",
               err.c_str());
  out = createEmulatorDevice();
  return "";
}

} // namespace

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i)
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("%s", kUsage);
      return 0;
    }
  Options options;
  if (std::string err = parseArgs(argc, argv, options); !err.empty())
    return usageError(err);
  if (run::isCpuArtifact(options.artifact)) {
    if (options.list)
      return run::listCpuArtifact(options.artifact);
    return run::runCpuArtifact({options.artifact, options.inputs,
                                options.outputDir, options.repeat,
                                options.threads, options.retainMemory});
  }
  if (options.repeat || options.threads)
    return usageError("--repeat and --threads are for CPU artifacts");
  if (options.outputDir.empty() && !options.list)
    return usageError("no output directory (-o OUTDIR)");
  if (options.list)
    return list(options.artifact);

  std::unique_ptr<Device> device;
  if (std::string err = openDevice(options.device, device); !err.empty())
    return error(err);
  std::unique_ptr<Model> model;
  if (std::string err = Model::load(std::shared_ptr<Device>(std::move(device)),
                                    options.artifact, model);
      !err.empty())
    return error(err);
  std::error_code ec;
  std::filesystem::create_directories(options.outputDir, ec);
  if (ec)
    return error("cannot create '" + options.outputDir + "': " + ec.message());
  if (std::string err =
          runModelOnNpy(*model, options.inputs, options.outputDir);
      !err.empty())
    return error(err);
  return 0;
}
