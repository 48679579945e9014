//===- HostTarget.cpp - the host CPU: this machine's features, JIT runs ---===//
#include "HostPipeline.h"
#include "sparsec/Support/MemRefDescriptor.h"
#include "sparsec/Support/Npy.h"
#include "sparsec/Target/Host/CpuTarget.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"

#include <cstring>
#include <mutex>

using namespace mlir;

#ifndef SPARSEC_MLIR_RUNTIME_LIB
#define SPARSEC_MLIR_RUNTIME_LIB ""
#endif
#ifndef SPARSEC_OPENMP_RUNTIME_LIB
#define SPARSEC_OPENMP_RUNTIME_LIB ""
#endif

namespace sparsec {
namespace {

void initializeNativeTarget() {
  static bool done = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)done;
}

/// Whether this CPU is an Intel core with AVX-512: two full-width FMA pipes
/// (Zen 4 splits 512-bit FMAs over its 256-bit ones). Asked once: the host
/// does not change, and every compilation's kernel options ask twice.
bool isIntelAvx512Host() {
  static const bool intelAvx512 = [] {
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    return features.lookup("avx512f") &&
           !llvm::sys::getHostCPUName().starts_with("znver");
  }();
  return intelAvx512;
}

/// What a MAC of the row-pattern kernel costs on this CPU, in dense MACs.
/// On Intel cores with AVX-512 (two 512-bit FMA pipes, the transposes'
/// shuffles on one of them) it measured about 2.6 on an Emerald Rapids Xeon:
/// HiNM 75 % BERT layers ran 1.06x (128 tokens) to 1.32x (1024 tokens)
/// faster on the channel tiles than on the row patterns that 1.6 chose.
/// Zen 4, where 1.6 was measured, and CPUs not measured keep 1.6.
double hostRowPatternMacCost() {
  return isIntelAvx512Host() ? 2.6 : kDefaultRowPatternMacCost;
}

/// The linear-layer register tile (tokens, vectors) for `vectorWidth`.
/// Intel's two 512-bit FMA pipes need more accumulators than Zen 4's one:
/// 6 x 4 (24, and NR = 64 rows, one HiNM V = 64 block per panel) ran a Xeon
/// (Emerald Rapids) ViT block 1.12x and its HiNM 75 % form 1.09x faster than
/// 8 x 2, BERT's layer alike (bench/ab.py, 6 rounds); Zen 4 reached 99 % of
/// its peak with 8 x 2 (bench/results/cpu_linear.md).
std::pair<unsigned, unsigned> hostGemmTile(int64_t vectorWidth) {
  if (vectorWidth != 16)
    return {6, 2};
  return isIntelAvx512Host() ? std::make_pair(6u, 4u) : std::make_pair(8u, 2u);
}

/// `--host-<key>` on the command line.
struct HostTargetOptions : CpuTargetOptions {
  Option<unsigned> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("host target: f32 lanes per vector in the kernels: 4, "
                     "8, 16, or 0 for the widest this CPU has"),
      llvm::cl::init(0)};
  Option<std::string> nmGroups{
      *this, "nm-groups",
      llvm::cl::desc("when a linear layer with at most two nonzeros per row "
                     "in every aligned group of four columns (2:4, 1:4) runs "
                     "the N:M group kernel (AVX2's vpermps): auto, always, "
                     "never"),
      llvm::cl::init("auto")};
  Option<std::string> rowPatterns{
      *this, "row-patterns",
      llvm::cl::desc("when a sparse linear layer runs the row-pattern kernel "
                     "(tokens along the lanes, code specialised to which of "
                     "four rows each column feeds): auto, always, never"),
      llvm::cl::init("auto")};
  Option<double> nmGroupSlotCost{
      *this, "nm-group-slot-cost",
      llvm::cl::desc("what one slot of the N:M group kernel (a lane permute "
                     "and an FMA) costs in dense MACs when --host-nm-groups="
                     "auto weighs it (1.5: measured on a Zen 4)"),
      llvm::cl::init(kDefaultNMGroupSlotCost)};
  Option<double> rowPatternMacCost{
      *this, "row-pattern-mac-cost",
      llvm::cl::desc("what one MAC of the row-pattern kernel costs in dense "
                     "MACs when --host-row-patterns=auto weighs a linear "
                     "layer (0: this CPU's measured figure, 2.6 on Intel "
                     "cores with AVX-512, 1.6 otherwise)"),
      llvm::cl::init(0.0)};

  std::string validate() const override {
    if (std::string error = validateCommon("--host-"); !error.empty())
      return error;
    if (nmGroups != "auto" && nmGroups != "always" && nmGroups != "never")
      return "--host-nm-groups must be auto, always or never, not '" +
             nmGroups.getValue() + "'";
    if (rowPatterns != "auto" && rowPatterns != "always" &&
        rowPatterns != "never")
      return "--host-row-patterns must be auto, always or never, not '" +
             rowPatterns.getValue() + "'";
    if (!isValidDenseMacCost(nmGroupSlotCost))
      return "--host-nm-group-slot-cost must be a number of dense MACs above "
             "0 and below 100, not " +
             std::to_string(nmGroupSlotCost.getValue());
    if (rowPatternMacCost != 0.0 && !isValidDenseMacCost(rowPatternMacCost))
      return "--host-row-pattern-mac-cost must be 0 (this CPU's figure) or "
             "a number of dense MACs above 0 and below 100, not " +
             std::to_string(rowPatternMacCost.getValue());
    if (nmGroups == "always" && getHostPermuteIsa() == "none")
      return "--host-nm-groups=always needs AVX2, which this CPU lacks";
    if (vectorWidth != 0 && vectorWidth != 4 && vectorWidth != 8 &&
        vectorWidth != 16)
      return "--host-vector-width must be 0, 4, 8 or 16, not " +
             std::to_string(vectorWidth);
    return "";
  }
};

/// Host runs in flight in this process (see HostTarget::run).
std::mutex runsMutex;
int activeRuns = 0;

class HostTarget : public CpuTarget {
public:
  StringRef getName() const override { return "host"; }
  StringRef getDescription() const override {
    return "this machine's CPU through the packed kernels, OpenMP and LLVM "
           "(JIT, object or artifact)";
  }
  std::unique_ptr<TargetOptions> createOptions() const override {
    return std::make_unique<HostTargetOptions>();
  }
  SparsecCpuLowerLayersOptions
  getKernelOptions(const TargetOptions &options) const override {
    const auto &host = static_cast<const HostTargetOptions &>(options);
    SparsecCpuLowerLayersOptions kernels;
    kernels.vectorWidth =
        host.vectorWidth ? host.vectorWidth : getHostVectorWidth();
    auto [tileTokens, tileVectors] = hostGemmTile(kernels.vectorWidth);
    kernels.tileTokens = host.tileTokens ? host.tileTokens : tileTokens;
    kernels.tileVectors = host.tileVectors ? host.tileVectors : tileVectors;
    kernels.sparseRows = host.sparseRows;
    // The group kernel's permute is an AVX2 instruction.
    kernels.nmGroups =
        getPermuteIsa() != "none" ? host.nmGroups.getValue() : "never";
    kernels.rowPatterns = host.rowPatterns;
    kernels.nmGroupSlotCost = host.nmGroupSlotCost;
    kernels.rowPatternMacCost = host.rowPatternMacCost != 0.0
                                    ? host.rowPatternMacCost.getValue()
                                    : hostRowPatternMacCost();
    return kernels;
  }
  std::string getPermuteIsa() const override { return getHostPermuteIsa(); }
  CpuMachine getMachine(const TargetOptions &) const override {
    return {llvm::sys::getDefaultTargetTriple(),
            llvm::sys::getHostCPUName().str(), ""};
  }
  std::string findLinker() const override {
    for (const char *name : {"cc", "clang", "gcc"})
      if (auto path = llvm::sys::findProgramByName(name))
        return *path;
    return "";
  }
  std::vector<std::string> getRuntimeLibraries() const override {
    std::vector<std::string> libs;
    for (const char *lib :
         {SPARSEC_MLIR_RUNTIME_LIB, SPARSEC_OPENMP_RUNTIME_LIB})
      if (*lib)
        libs.push_back(lib);
    return libs;
  }

  std::unique_ptr<PreparedModel>
  prepare(ModuleOp lowered, FunctionType signature,
          const TargetOptions &targetOptions) const override;

  LogicalResult run(ModuleOp lowered, FunctionType signature,
                    const std::vector<NpyArray> &inputs,
                    std::vector<NpyArray> &outputs,
                    const TargetOptions &targetOptions) const override {
    std::unique_ptr<PreparedModel> prepared =
        prepare(lowered, signature, targetOptions);
    return prepared ? prepared->run(inputs, outputs) : failure();
  }
};

/// The JIT-compiled `main` of a lowered module.
class JitModel : public PreparedModel {
public:
  JitModel(Location loc, FunctionType signature,
           std::unique_ptr<ExecutionEngine> engine,
           std::pair<ArrayAttr, ArrayAttr> recorded)
      : loc(loc), signature(signature), engine(std::move(engine)),
        recorded(recorded) {}

  LogicalResult run(const std::vector<NpyArray> &inputs,
                    std::vector<NpyArray> &outputs) override {
    // One-shot bufferization may update an argument's buffer in place.
    std::vector<NpyArray> copies = inputs;
    return run(InputView::of(copies), outputs);
  }

  LogicalResult run(ArrayRef<InputView> inputs,
                    std::vector<NpyArray> &outputs) override {
    if (failed(prepareRun(loc, signature, inputs, outputs, recorded.first,
                          recorded.second)))
      return failure();
    std::vector<std::vector<int64_t>> descriptors;
    for (const InputView &in : inputs)
      descriptors.push_back(
          makeMemRefDescriptor(const_cast<char *>(in.data), in.shape));
    for (NpyArray &out : outputs)
      descriptors.push_back(makeMemRefDescriptor(out.data.data(), out.shape));
    std::vector<void *> descriptorPtrs;
    for (auto &d : descriptors)
      descriptorPtrs.push_back(d.data());
    std::vector<void *> args;
    for (void *&p : descriptorPtrs)
      args.push_back(&p);
    {
      std::lock_guard<std::mutex> lock(runsMutex);
      ++activeRuns;
    }
    llvm::Error err = engine->invokePacked("_mlir_ciface_main", args);
    // The generated code's OpenMP threads go to sleep here rather than
    // spin on in a host process (Python, the C API's user). A soft pause,
    // and only by the last run in flight, under the lock a new run takes
    // first: a hard pause shuts libomp down, and its re-initialisation
    // raced with other threads' runs (libomp asserted or crashed when two
    // Python threads ran models; test/e2e/concurrent_runs.py).
    {
      std::lock_guard<std::mutex> lock(runsMutex);
      if (--activeRuns == 0)
        if (auto pause = reinterpret_cast<int (*)(int)>(
                llvm::sys::DynamicLibrary::SearchForAddressOfSymbol(
                    "omp_pause_resource_all")))
          pause(/*omp_pause_soft=*/1);
    }
    if (err) {
      std::string message = llvm::toString(std::move(err));
      return emitError(loc) << "running main failed: " << message;
    }
    return success();
  }

private:
  Location loc;
  FunctionType signature;
  std::unique_ptr<ExecutionEngine> engine;
  /// Bounds of dynamic input dims, sizes of dynamic output dims.
  std::pair<ArrayAttr, ArrayAttr> recorded;
};

std::unique_ptr<PreparedModel>
HostTarget::prepare(ModuleOp lowered, FunctionType signature,
                    const TargetOptions &targetOptions) const {
  Location loc = lowered.getLoc();
  registerCpuTranslations(lowered);
  initializeNativeTarget();
  ExecutionEngineOptions options;
  // ExecutionEngineOptions::transformer is a function_ref: the callable it
  // refers to must outlive create().
  std::function<llvm::Error(llvm::Module *)> transformer =
      makeOptimizingTransformer(cpuOptions(targetOptions).optLevel, 0, nullptr);
  options.transformer = transformer;
  // No perf/gdb JIT listeners: they would litter /tmp/.debug/jit.
  options.enableGDBNotificationListener = false;
  options.enablePerfNotificationListener = false;
  std::vector<std::string> runtimeLibraries = getRuntimeLibraries();
  SmallVector<StringRef> libs(runtimeLibraries.begin(), runtimeLibraries.end());
  options.sharedLibPaths = libs;
  auto engine = ExecutionEngine::create(lowered, options);
  if (!engine) {
    std::string message = llvm::toString(engine.takeError());
    emitError(loc) << "JIT compilation failed: " << message;
    return nullptr;
  }
  return std::make_unique<JitModel>(loc, signature, std::move(*engine),
                                    getRecordedSignature(lowered));
}

} // namespace

void registerHostTarget(TargetRegistry &registry) {
  registry.add(std::make_unique<HostTarget>());
  // Like the cuda target's: sparsec-opt and the plugin get the passes with
  // the target.
  registerSparsecHostPasses();
}

} // namespace sparsec
