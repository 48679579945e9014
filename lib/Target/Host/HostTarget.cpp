//===- HostTarget.cpp - host CPU target: LLVM IR, objects, JIT runs -------===//
#include "HostPipeline.h"
#include "PackedGemm.h"
#include "sparsec/Support/Npy.h"
#include "sparsec/Target/Target.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/DynamicLibrary.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

#include <cstring>

using namespace mlir;

#ifndef SPARSEC_MLIR_RUNTIME_LIB
#define SPARSEC_MLIR_RUNTIME_LIB ""
#endif
#ifndef SPARSEC_OPENMP_RUNTIME_LIB
#define SPARSEC_OPENMP_RUNTIME_LIB ""
#endif

namespace sparsec {
namespace {

void registerTranslations(MLIRContext &context) {
  registerBuiltinDialectTranslation(context);
  registerLLVMDialectTranslation(context);
  registerOpenMPDialectTranslation(context);
}

void initializeNativeTarget() {
  static bool done = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)done;
}

std::unique_ptr<llvm::TargetMachine>
createHostTargetMachine(std::string &error) {
  initializeNativeTarget();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  llvm::TargetOptions options;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, llvm::sys::getHostCPUName(), "", options, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
}

std::string describe(const std::string &dtype, ArrayRef<int64_t> shape) {
  static const std::pair<const char *, const char *> names[] = {
      {"<f4", "float32"}, {"<f8", "float64"}, {"<f2", "float16"},
      {"<i8", "int64"},   {"<i4", "int32"},   {"<i2", "int16"},
      {"|i1", "int8"},    {"|u1", "uint8"},   {"|b1", "bool"}};
  std::string name = dtype;
  for (auto &[descr, pretty] : names)
    if (dtype == descr)
      name = pretty;
  std::string s = name + "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

/// A strided memref descriptor {allocated, aligned, offset, sizes, strides}
/// laid out as the LLVM lowering expects.
std::vector<int64_t> makeDescriptor(void *data, ArrayRef<int64_t> shape) {
  std::vector<int64_t> d;
  d.push_back(reinterpret_cast<int64_t>(data));
  d.push_back(reinterpret_cast<int64_t>(data));
  d.push_back(0);
  for (int64_t s : shape)
    d.push_back(s);
  int64_t stride = 1;
  std::vector<int64_t> strides(shape.size());
  for (int64_t i = int64_t(shape.size()) - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= shape[i];
  }
  d.insert(d.end(), strides.begin(), strides.end());
  return d;
}

/// `--host-<key>` on the command line.
struct HostTargetOptions : TargetOptions {
  Option<unsigned> optLevel{
      *this, "opt-level",
      llvm::cl::desc("host target: LLVM optimization level, 0 to 3"),
      llvm::cl::init(3)};

  Option<unsigned> vectorWidth{
      *this, "vector-width",
      llvm::cl::desc("host target: f32 lanes per vector in the kernels: 4, "
                     "8, 16, or 0 for the widest this CPU has"),
      llvm::cl::init(0)};
  Option<unsigned> tileTokens{
      *this, "tile-tokens",
      llvm::cl::desc("host target: tokens per register tile of the "
                     "linear-layer kernels, 1 to 16 (0: 8 with 16 lanes, "
                     "else 6)"),
      llvm::cl::init(0)};
  Option<unsigned> threads{
      *this, "threads",
      llvm::cl::desc("host target: threads of the generated code (OpenMP); "
                     "0: one per core, capped by OMP_NUM_THREADS at run "
                     "time"),
      llvm::cl::init(0)};
  Option<unsigned> tileVectors{
      *this, "tile-vectors",
      llvm::cl::desc("host target: vectors of output features per register "
                     "tile of the linear-layer kernels, 1 to 8"),
      llvm::cl::init(2)};

  Option<std::string> sparseRows{
      *this, "sparse-rows",
      llvm::cl::desc("host target: when a convolution runs the row-sparse "
                     "kernel (each channel walks its own nonzeros): auto, "
                     "always, never"),
      llvm::cl::init("auto")};

  std::string validate() const override {
    if (sparseRows != "auto" && sparseRows != "always" && sparseRows != "never")
      return "--host-sparse-rows must be auto, always or never, not '" +
             sparseRows.getValue() + "'";
    if (optLevel > 3)
      return "--host-opt-level must be 0, 1, 2 or 3, not " +
             std::to_string(optLevel);
    if (vectorWidth != 0 && vectorWidth != 4 && vectorWidth != 8 &&
        vectorWidth != 16)
      return "--host-vector-width must be 0, 4, 8 or 16, not " +
             std::to_string(vectorWidth);
    if (tileTokens > 16)
      return "--host-tile-tokens must be 0 to 16, not " +
             std::to_string(tileTokens);
    if (threads > 1024)
      return "--host-threads must be 0 to 1024, not " + std::to_string(threads);
    if (tileVectors < 1 || tileVectors > 8)
      return "--host-tile-vectors must be 1 to 8, not " +
             std::to_string(tileVectors);
    return "";
  }

  /// The kernel options these flags resolve to on this machine.
  SparsecCpuLowerLayersOptions kernelOptions() const {
    SparsecCpuLowerLayersOptions kernels;
    kernels.vectorWidth = vectorWidth ? vectorWidth : getHostVectorWidth();
    kernels.tileTokens =
        tileTokens ? tileTokens : (kernels.vectorWidth == 16 ? 8 : 6);
    kernels.tileVectors = tileVectors;
    kernels.sparseRows = sparseRows;
    return kernels;
  }
};

const HostTargetOptions &hostOptions(const TargetOptions &options) {
  return static_cast<const HostTargetOptions &>(options);
}

class HostTarget : public Target {
public:
  StringRef getName() const override { return "host"; }
  StringRef getDescription() const override {
    return "host CPU through linalg, bufferization and LLVM (JIT or object)";
  }
  std::unique_ptr<TargetOptions> createOptions() const override {
    return std::make_unique<HostTargetOptions>();
  }
  std::string describeLayerKernel(Operation *layer,
                                  const TargetOptions &options) const override {
    SparsecCpuLowerLayersOptions kernels = hostOptions(options).kernelOptions();
    return sparsec::describeLayerKernel(
        layer, {kernels.vectorWidth, kernels.tileTokens, kernels.tileVectors},
        kernels.sparseRows);
  }
  void buildPipeline(OpPassManager &pm,
                     const TargetOptions &options) const override {
    buildHostPipeline(pm, hostOptions(options).kernelOptions(),
                      hostOptions(options).threads);
  }

  LogicalResult emit(ModuleOp lowered, ArtifactKind kind, raw_ostream &os,
                     const TargetOptions &options) const override {
    if (kind == ArtifactKind::LoweredMLIR) {
      lowered.print(os);
      return success();
    }
    registerTranslations(*lowered.getContext());
    llvm::LLVMContext llvmContext;
    std::unique_ptr<llvm::Module> module =
        translateModuleToLLVMIR(lowered, llvmContext, "sparsec");
    if (!module)
      return lowered.emitError("failed to translate to LLVM IR");
    std::string error;
    std::unique_ptr<llvm::TargetMachine> tm = createHostTargetMachine(error);
    if (!tm)
      return lowered.emitError("no host target machine: ") << error;
    module->setDataLayout(tm->createDataLayout());
    module->setTargetTriple(tm->getTargetTriple());
    auto optimize =
        makeOptimizingTransformer(hostOptions(options).optLevel, 0, tm.get());
    if (llvm::Error err = optimize(module.get())) {
      llvm::consumeError(std::move(err));
      return lowered.emitError("LLVM optimization failed");
    }
    if (kind == ArtifactKind::LLVMIR) {
      module->print(os, nullptr);
      return success();
    }
    llvm::SmallVector<char, 0> buffer;
    llvm::raw_svector_ostream bufferStream(buffer);
    llvm::legacy::PassManager pm;
    if (tm->addPassesToEmitFile(pm, bufferStream, nullptr,
                                llvm::CodeGenFileType::ObjectFile))
      return lowered.emitError("the host target cannot emit objects");
    pm.run(*module);
    os.write(buffer.data(), buffer.size());
    return success();
  }

  /// <dir>/model.o (C ABI `_mlir_ciface_main`, link with
  /// libmlir_c_runner_utils) and <dir>/manifest.json describing it.
  LogicalResult emitArtifact(ModuleOp lowered, StringRef dir,
                             const TargetOptions &options) const override {
    if (std::error_code ec = llvm::sys::fs::create_directories(dir))
      return emitError(lowered.getLoc())
             << "cannot create '" << dir << "': " << ec.message();
    std::string objectPath = (dir + "/model.o").str();
    std::error_code ec;
    llvm::raw_fd_ostream object(objectPath, ec);
    if (ec)
      return emitError(lowered.getLoc())
             << "cannot write '" << objectPath << "': " << ec.message();
    if (failed(emit(lowered, ArtifactKind::Object, object, options)))
      return failure();
    llvm::raw_fd_ostream manifest((dir + "/manifest.json").str(), ec);
    if (ec)
      return emitError(lowered.getLoc())
             << "cannot write the manifest: " << ec.message();
    llvm::json::Object root{
        {"format", "sparsec-host-artifact"},
        {"format_version", 1},
        {"object", "model.o"},
        {"entry", "_mlir_ciface_main"},
        {"abi", "strided memref descriptors: inputs, then caller-allocated "
                "outputs"},
        // What model.o calls: MLIR's C runner utils and the OpenMP runtime
        // of the parallel kernels.
        {"link_libraries", llvm::json::Array{SPARSEC_MLIR_RUNTIME_LIB,
                                             SPARSEC_OPENMP_RUNTIME_LIB}},
        {"opt_level", int64_t(hostOptions(options).optLevel)}};
    manifest << llvm::formatv("{0:2}", llvm::json::Value(std::move(root)))
             << "\n";
    return success();
  }

  LogicalResult run(ModuleOp lowered, FunctionType signature,
                    const std::vector<NpyArray> &inputs,
                    std::vector<NpyArray> &outputs,
                    const TargetOptions &targetOptions) const override {
    Location loc = lowered.getLoc();
    if (inputs.size() != signature.getNumInputs())
      return emitError(loc) << "the model takes " << signature.getNumInputs()
                            << " input(s), " << inputs.size() << " given";
    // Check every input against the signature before running anything.
    for (auto [i, type] : llvm::enumerate(signature.getInputs())) {
      auto tensor = cast<RankedTensorType>(type);
      std::string expected = getNpyDescr(tensor.getElementType());
      std::vector<int64_t> shape(tensor.getShape().begin(),
                                 tensor.getShape().end());
      if (inputs[i].dtype != expected || inputs[i].shape != shape)
        return emitError(loc)
               << "input " << i << ": expected " << describe(expected, shape)
               << ", got " << describe(inputs[i].dtype, inputs[i].shape);
    }
    outputs.clear();
    for (Type type : signature.getResults()) {
      auto tensor = cast<RankedTensorType>(type);
      NpyArray out;
      out.dtype = getNpyDescr(tensor.getElementType());
      if (out.dtype.empty())
        return emitError(loc)
               << "unsupported output element type " << tensor.getElementType();
      out.shape.assign(tensor.getShape().begin(), tensor.getShape().end());
      out.data.assign(out.numElements() * NpyArray::elementSize(out.dtype), 0);
      outputs.push_back(std::move(out));
    }

    registerTranslations(*lowered.getContext());
    initializeNativeTarget();
    ExecutionEngineOptions options;
    // ExecutionEngineOptions::transformer is a function_ref: the callable it
    // refers to must outlive create().
    std::function<llvm::Error(llvm::Module *)> transformer =
        makeOptimizingTransformer(hostOptions(targetOptions).optLevel, 0,
                                  nullptr);
    options.transformer = transformer;
    // No perf/gdb JIT listeners: they would litter /tmp/.debug/jit.
    options.enableGDBNotificationListener = false;
    options.enablePerfNotificationListener = false;
    SmallVector<StringRef> libs;
    for (StringRef lib : {StringRef(SPARSEC_MLIR_RUNTIME_LIB),
                          StringRef(SPARSEC_OPENMP_RUNTIME_LIB)})
      if (!lib.empty())
        libs.push_back(lib);
    options.sharedLibPaths = libs;
    auto engine = ExecutionEngine::create(lowered, options);
    if (!engine) {
      std::string message = llvm::toString(engine.takeError());
      return emitError(loc) << "JIT compilation failed: " << message;
    }

    // Inputs are read-only for the callee, but the descriptor wants void*.
    std::vector<std::vector<int64_t>> descriptors;
    std::vector<NpyArray> inputCopies = inputs;
    for (NpyArray &in : inputCopies)
      descriptors.push_back(makeDescriptor(in.data.data(), in.shape));
    for (NpyArray &out : outputs)
      descriptors.push_back(makeDescriptor(out.data.data(), out.shape));
    std::vector<void *> descriptorPtrs;
    for (auto &d : descriptors)
      descriptorPtrs.push_back(d.data());
    std::vector<void *> args;
    for (void *&p : descriptorPtrs)
      args.push_back(&p);
    llvm::Error err = (*engine)->invokePacked("_mlir_ciface_main", args);
    // The generated code's OpenMP threads end here rather than at exit:
    // a host process (Python, the C API's user) keeps no idle worker
    // threads, and LeakSanitizer's exit check (which stops every thread)
    // does not meet them.
    if (auto pause = reinterpret_cast<int (*)(int)>(
            llvm::sys::DynamicLibrary::SearchForAddressOfSymbol(
                "omp_pause_resource_all")))
      pause(/*omp_pause_hard=*/2);
    if (err) {
      std::string message = llvm::toString(std::move(err));
      return emitError(loc) << "running main failed: " << message;
    }
    return success();
  }
};

} // namespace

void registerHostTarget(TargetRegistry &registry) {
  registry.add(std::make_unique<HostTarget>());
  // Like the cuda target's: sparsec-opt and the plugin get the passes with
  // the target.
  registerSparsecHostPasses();
}

} // namespace sparsec
