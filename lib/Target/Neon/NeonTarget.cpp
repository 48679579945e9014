//===- NeonTarget.cpp - AArch64 with NEON: cross-compiled artifacts -------===//
//
// `--target=neon`: the CPU code generator (sparsec/Target/Host/CpuTarget.h)
// for aarch64-linux-gnu with 128-bit NEON vectors. Objects and artifacts
// are cross-compiled here; `--run` executes the artifact with an AArch64
// build of sparsec-run, natively on an AArch64 host and under qemu-aarch64
// elsewhere (docs/CPUBackend.md).
//
//===----------------------------------------------------------------------===//
#include "sparsec/Support/Npy.h"
#include "sparsec/Target/Host/CpuTarget.h"

#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace mlir;

// Configured by CMake: the AArch64 sparsec-run, the sysroot qemu loads its
// libraries from, and an AArch64 libomp to link against (may be empty).
#ifndef SPARSEC_AARCH64_RUNNER
#define SPARSEC_AARCH64_RUNNER ""
#endif
#ifndef SPARSEC_AARCH64_SYSROOT
#define SPARSEC_AARCH64_SYSROOT "/usr/aarch64-linux-gnu"
#endif
#ifndef SPARSEC_AARCH64_OPENMP_LIB
#define SPARSEC_AARCH64_OPENMP_LIB ""
#endif

namespace sparsec {
namespace {

constexpr const char *kTriple = "aarch64-unknown-linux-gnu";
/// CPUs whose LLVM scheduling models the kernels were checked with; any
/// other name LLVM's AArch64 back end knows is accepted too.
constexpr const char *kCpus[] = {"neoverse-n1", "neoverse-n2", "neoverse-v1",
                                 "cortex-a76",  "cortex-a72",  "cortex-a55",
                                 "apple-m1",    "generic"};

/// `--neon-<key>` on the command line.
struct NeonTargetOptions : CpuTargetOptions {
  Option<std::string> cpu{
      *this, "cpu",
      llvm::cl::desc("neon target: the AArch64 CPU to tune for, e.g. "
                     "neoverse-n1 (default), cortex-a76, cortex-a55, "
                     "generic"),
      llvm::cl::init("neoverse-n1")};

  std::string validate() const override {
    if (std::string error = validateCommon("--neon-"); !error.empty())
      return error;
    for (const char *known : kCpus)
      if (cpu == known)
        return "";
    std::string list;
    for (const char *known : kCpus)
      list += (list.empty() ? "" : ", ") + std::string(known);
    return "--neon-cpu must be one of " + list + ", not '" + cpu.getValue() +
           "'";
  }
};

/// `SPARSEC_<name>` from the environment, else `fallback`.
std::string fromEnvironment(const char *name, const char *fallback) {
  if (std::optional<std::string> value = llvm::sys::Process::GetEnv(name))
    return *value;
  return fallback;
}

class NeonTarget : public CpuTarget {
public:
  StringRef getName() const override { return "neon"; }
  StringRef getDescription() const override {
    return "AArch64 Linux with NEON (cross-compiled; --run uses qemu-aarch64 "
           "on other hosts)";
  }
  std::unique_ptr<TargetOptions> createOptions() const override {
    return std::make_unique<NeonTargetOptions>();
  }
  SparsecCpuLowerLayersOptions
  getKernelOptions(const TargetOptions &options) const override {
    const CpuTargetOptions &cpu = cpuOptions(options);
    SparsecCpuLowerLayersOptions kernels;
    // 128-bit vectors and 32 of them: an 8-token x 2-vector tile keeps 16
    // accumulators, 2 weight vectors and the token broadcasts in registers.
    kernels.vectorWidth = 4;
    // No broadcast-from-memory FMA operand: tokens load as vectors and
    // multiply by lane.
    kernels.tokenVectors = true;
    kernels.tileTokens = cpu.tileTokens ? cpu.tileTokens : 8;
    kernels.tileVectors = cpu.tileVectors ? cpu.tileVectors : 2;
    kernels.sparseRows = cpu.sparseRows;
    return kernels;
  }
  CpuMachine getMachine(const TargetOptions &options) const override {
    const auto &neon = static_cast<const NeonTargetOptions &>(options);
    return {kTriple, neon.cpu.getValue(), "+neon"};
  }
  std::string findLinker() const override {
    if (llvm::Triple(llvm::sys::getProcessTriple()).isAArch64())
      for (const char *name : {"cc", "gcc", "clang"})
        if (auto path = llvm::sys::findProgramByName(name))
          return *path;
    if (auto path = llvm::sys::findProgramByName("aarch64-linux-gnu-gcc"))
      return *path;
    return "";
  }
  std::vector<std::string> getRuntimeLibraries() const override {
    std::string omp = fromEnvironment("SPARSEC_AARCH64_OPENMP_LIB",
                                      SPARSEC_AARCH64_OPENMP_LIB);
    // Without one here, model.so names it and the loader on the device
    // finds it (Debian: libomp5).
    return {omp.empty() ? "libomp.so.5" : omp};
  }

  LogicalResult emitArtifact(ModuleOp lowered, StringRef dir,
                             const TargetOptions &options) const override {
    if (findLinker().empty())
      return emitError(lowered.getLoc())
             << "--target=neon needs an AArch64 linker: install "
                "gcc-aarch64-linux-gnu (scripts/setup.sh does)";
    return CpuTarget::emitArtifact(lowered, dir, options);
  }

  LogicalResult run(ModuleOp lowered, FunctionType signature,
                    const std::vector<NpyArray> &inputs,
                    std::vector<NpyArray> &outputs,
                    const TargetOptions &options) const override;
};

LogicalResult NeonTarget::run(ModuleOp lowered, FunctionType signature,
                              const std::vector<NpyArray> &inputs,
                              std::vector<NpyArray> &outputs,
                              const TargetOptions &options) const {
  Location loc = lowered.getLoc();
  auto [recordedInputs, recordedOutputs] = getRecordedSignature(lowered);
  if (failed(prepareRun(loc, signature, InputView::of(inputs), outputs,
                        recordedInputs, recordedOutputs)))
    return failure();
  std::string runner =
      fromEnvironment("SPARSEC_AARCH64_RUNNER", SPARSEC_AARCH64_RUNNER);
  if (runner.empty() || !llvm::sys::fs::can_execute(runner))
    return emitError(loc) << "--target=neon --run needs an AArch64 build of "
                             "sparsec-run ('"
                          << runner
                          << "' is not there): install g++-aarch64-linux-gnu "
                             "and rebuild (scripts/setup.sh does)";
  std::vector<std::string> command;
  // Without LD_PRELOAD (getToolEnvironment); under qemu also one thread.
  std::vector<std::string> environment = getToolEnvironment();
  if (!llvm::Triple(llvm::sys::getProcessTriple()).isAArch64()) {
    auto qemu = llvm::sys::findProgramByName("qemu-aarch64");
    if (!qemu)
      qemu = llvm::sys::findProgramByName("qemu-aarch64-static");
    if (!qemu)
      return emitError(loc)
             << "--target=neon --run on a " << llvm::sys::getProcessTriple()
             << " host needs qemu-aarch64: install qemu-user "
                "(scripts/setup.sh does)";
    command = {
        *qemu, "-L",
        fromEnvironment("SPARSEC_AARCH64_SYSROOT", SPARSEC_AARCH64_SYSROOT)};
    // Debian 12's qemu-user (7.2) hangs in the guest's pthread_create on
    // this project's machines (any program, libgomp's or libomp's): one
    // OpenMP thread, which starts none.
    if (cpuOptions(options).threads > 1)
      return emitError(loc) << "--neon-threads=" << cpuOptions(options).threads
                            << ": under qemu-aarch64 the generated code runs "
                               "on one thread (qemu-user hangs starting "
                               "threads here); leave --neon-threads at 0 or 1";
    llvm::erase_if(environment, [](const std::string &entry) {
      return StringRef(entry).starts_with("OMP_NUM_THREADS=");
    });
    environment.push_back("OMP_NUM_THREADS=1");
  }

  SmallString<128> dir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("sparsec-neon", dir))
    return emitError(loc) << "cannot create a temporary directory: "
                          << ec.message();
  auto cleanup =
      llvm::scope_exit([&] { llvm::sys::fs::remove_directories(dir); });
  if (failed(emitArtifact(lowered, dir, options)))
    return failure();
  command.push_back(runner);
  command.push_back(dir.str().str());
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string path = (dir + "/input_" + Twine(i) + ".npy").str();
    if (std::string error = writeNpy(path, inputs[i]); !error.empty())
      return emitError(loc) << error;
    command.push_back("--input=" + path);
  }
  std::string outDir = (dir + "/outputs").str();
  command.push_back("-o");
  command.push_back(outDir);

  std::string logPath = (dir + "/run.log").str();
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  std::vector<StringRef> args(command.begin(), command.end());
  std::vector<StringRef> env(environment.begin(), environment.end());
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(args[0], args, env, redirects,
                                     /*SecondsToWait=*/0, 0, &error);
  if (rc != 0) {
    std::string log;
    if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
      log = (*buffer)->getBuffer().trim().str();
    std::string text;
    for (const std::string &a : command)
      text += (text.empty() ? "" : " ") + a;
    return emitError(loc) << "running the AArch64 artifact failed (" << text
                          << ", exit " << rc << ")"
                          << (error.empty() ? "" : ": " + error)
                          << (log.empty() ? "" : ":\n" + log);
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    std::string path = outDir + "/output_" + std::to_string(i) + ".npy";
    NpyArray array;
    if (std::string readError = readNpy(path, array); !readError.empty())
      return emitError(loc) << readError;
    if (array.dtype != outputs[i].dtype || array.shape != outputs[i].shape)
      return emitError(loc)
             << path << " does not match output " << i << " of the signature";
    outputs[i] = std::move(array);
  }
  return success();
}

} // namespace

void registerNeonTarget(TargetRegistry &registry) {
  registry.add(std::make_unique<NeonTarget>());
}

} // namespace sparsec
