//===- CpuTarget.cpp - LLVM code, objects and artifacts for CPU targets ---===//
#include "sparsec/Target/Host/CpuTarget.h"
#include "HostPipeline.h"
#include "PackedGemm.h"
#include "sparsec/Support/DynamicShapes.h"
#include "sparsec/Support/Npy.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"

#include <unistd.h>

using namespace mlir;

namespace sparsec {

std::string CpuTargetOptions::validateCommon(StringRef prefix) const {
  std::string p = prefix.str();
  if (sparseRows != "auto" && sparseRows != "always" && sparseRows != "never")
    return p + "sparse-rows must be auto, always or never, not '" +
           sparseRows.getValue() + "'";
  if (optLevel > 3)
    return p + "opt-level must be 0, 1, 2 or 3, not " +
           std::to_string(optLevel);
  if (tileTokens > 16)
    return p + "tile-tokens must be 0 to 16, not " + std::to_string(tileTokens);
  if (threads > 1024)
    return p + "threads must be 0 to 1024, not " + std::to_string(threads);
  if (tileVectors > 8)
    return p + "tile-vectors must be 0 to 8, not " +
           std::to_string(tileVectors);
  if (kernelSchedule != "guided" && kernelSchedule != "dynamic" &&
      kernelSchedule != "static")
    return p + "kernel-schedule must be guided, dynamic or static, not '" +
           kernelSchedule.getValue() + "'";
  return "";
}

void registerCpuTranslations(ModuleOp lowered) {
  MLIRContext &context = *lowered.getContext();
  registerBuiltinDialectTranslation(context);
  registerLLVMDialectTranslation(context);
  registerOpenMPDialectTranslation(context);
}

namespace {

std::unique_ptr<llvm::TargetMachine>
createTargetMachine(const CpuMachine &machine, std::string &error) {
  static bool initialized = [] {
    // Every back end libLLVM has: the host's and AArch64 among them.
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
    return true;
  }();
  (void)initialized;
  llvm::Triple triple(machine.triple);
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return nullptr;
  llvm::TargetOptions options;
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      triple, machine.cpu, machine.features, options, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::Aggressive));
}

/// One `{name, dtype, shape}` per tensor of the recorded signature; a
/// dynamic dim is -1 in the shape, with the input's "bounds" and "symbols"
/// and the output's "dims" (DynamicShapes.h).
FailureOr<llvm::json::Array> describeTensors(ModuleOp lowered,
                                             StringRef attrName) {
  auto tensors = lowered->getAttrOfType<ArrayAttr>(attrName);
  if (!tensors)
    return lowered.emitError("the module has no '")
           << attrName << "' (it was not lowered by a CPU target's pipeline)";
  auto ints = [](ArrayRef<int64_t> values) {
    llvm::json::Array array;
    for (int64_t v : values)
      array.push_back(v);
    return array;
  };
  llvm::json::Array out;
  for (Attribute attr : tensors) {
    auto entry = cast<DictionaryAttr>(attr);
    auto type =
        cast<RankedTensorType>(cast<TypeAttr>(entry.get("type")).getValue());
    llvm::json::Array shape;
    for (int64_t d : type.getShape())
      shape.push_back(ShapedType::isDynamic(d) ? kRuntimeDim : d);
    llvm::json::Object tensor{
        {"name", cast<StringAttr>(entry.get("name")).getValue()},
        {"dtype", getNpyDescr(type.getElementType())},
        {"shape", std::move(shape)}};
    for (StringRef key : {"bounds", "symbols"})
      if (auto values = entry.getAs<DenseI64ArrayAttr>(key))
        tensor[key] = ints(values.asArrayRef());
    if (auto dims = entry.getAs<ArrayAttr>("dims")) {
      llvm::json::Array rules;
      for (Attribute rule : dims)
        rules.push_back(ints(cast<DenseI64ArrayAttr>(rule).asArrayRef()));
      tensor["dims"] = std::move(rules);
    }
    out.push_back(std::move(tensor));
  }
  return out;
}

/// Links `object` into the shared object `library` with `linker`, against
/// the runtime libraries that exist here; "" or the error.
std::string linkSharedObject(const std::string &linker,
                             const std::string &object,
                             const std::string &library,
                             const std::vector<std::string> &runtimeLibraries,
                             const std::string &logPath) {
  std::vector<std::string> args = {linker, "-shared", "-o", library, object};
  bool allFound = true;
  for (const std::string &lib : runtimeLibraries) {
    if (!llvm::sys::path::is_absolute(lib) || !llvm::sys::fs::exists(lib)) {
      allFound = false;
      continue;
    }
    args.push_back(lib);
    args.push_back(("-Wl,-rpath," + llvm::sys::path::parent_path(lib)).str());
  }
  // With every library at hand, a symbol nothing defines (a runtime helper
  // this target does not ship) is an error now rather than at load time.
  if (allFound)
    args.push_back("-Wl,--no-undefined");
  args.push_back("-lm");
  std::vector<StringRef> argRefs(args.begin(), args.end());
  std::vector<std::string> environment = getToolEnvironment();
  std::vector<StringRef> envRefs(environment.begin(), environment.end());
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(logPath),
                                          StringRef(logPath)};
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(linker, argRefs, envRefs, redirects,
                                     /*SecondsToWait=*/120, 0, &error);
  std::string log;
  if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
    log = (*buffer)->getBuffer().trim().str();
  llvm::sys::fs::remove(logPath);
  if (rc == 0)
    return "";
  std::string command;
  for (const std::string &a : args)
    command += (command.empty() ? "" : " ") + a;
  return "linking model.so failed (" + command + ")" +
         (error.empty() ? "" : ": " + error) + (log.empty() ? "" : ":\n" + log);
}

} // namespace

std::vector<std::string> getToolEnvironment() {
  std::vector<std::string> environment;
  for (char **entry = environ; *entry; ++entry)
    if (!StringRef(*entry).starts_with("LD_PRELOAD="))
      environment.push_back(*entry);
  return environment;
}

LogicalResult prepareRun(Location loc, FunctionType signature,
                         const std::vector<NpyArray> &inputs,
                         std::vector<NpyArray> &outputs) {
  return prepareRun(loc, signature, InputView::of(inputs), outputs);
}

std::pair<ArrayAttr, ArrayAttr> getRecordedSignature(ModuleOp lowered) {
  return {lowered->getAttrOfType<ArrayAttr>(kCpuInputsAttr),
          lowered->getAttrOfType<ArrayAttr>(kCpuOutputsAttr)};
}

namespace {
/// Entry `key` of the recorded entry `i` (null when there is none).
template <typename AttrT>
AttrT recordedEntry(ArrayAttr recorded, size_t i, StringRef key) {
  if (!recorded || i >= recorded.size())
    return nullptr;
  auto entry = dyn_cast<DictionaryAttr>(recorded[i]);
  return entry ? entry.getAs<AttrT>(key) : nullptr;
}

std::vector<int64_t> runtimeShape(RankedTensorType type) {
  std::vector<int64_t> shape;
  for (int64_t d : type.getShape())
    shape.push_back(ShapedType::isDynamic(d) ? kRuntimeDim : d);
  return shape;
}
} // namespace

std::vector<DynamicInput> getDynamicInputs(FunctionType signature,
                                           ArrayAttr recordedInputs) {
  std::vector<DynamicInput> inputs;
  for (auto [i, type] : llvm::enumerate(signature.getInputs())) {
    DynamicInput in;
    in.shape = runtimeShape(cast<RankedTensorType>(type));
    if (auto b = recordedEntry<DenseI64ArrayAttr>(recordedInputs, i, "bounds"))
      in.bounds.assign(b.asArrayRef().begin(), b.asArrayRef().end());
    if (auto s = recordedEntry<DenseI64ArrayAttr>(recordedInputs, i, "symbols"))
      in.symbols.assign(s.asArrayRef().begin(), s.asArrayRef().end());
    inputs.push_back(std::move(in));
  }
  return inputs;
}

std::vector<DynamicOutput> getDynamicOutputs(FunctionType signature,
                                             ArrayAttr recordedOutputs) {
  std::vector<DynamicOutput> outputs;
  for (auto [o, type] : llvm::enumerate(signature.getResults())) {
    DynamicOutput out;
    out.shape = runtimeShape(cast<RankedTensorType>(type));
    if (auto dims = recordedEntry<ArrayAttr>(recordedOutputs, o, "dims"))
      for (Attribute rule : dims) {
        auto ints = dyn_cast<DenseI64ArrayAttr>(rule);
        out.rules.emplace_back();
        if (ints)
          out.rules.back().assign(ints.asArrayRef().begin(),
                                  ints.asArrayRef().end());
      }
    outputs.push_back(std::move(out));
  }
  return outputs;
}

LogicalResult prepareRun(Location loc, FunctionType signature,
                         ArrayRef<InputView> inputs,
                         std::vector<NpyArray> &outputs,
                         ArrayAttr recordedInputs, ArrayAttr recordedOutputs) {
  if (inputs.size() != signature.getNumInputs())
    return emitError(loc) << "the model takes " << signature.getNumInputs()
                          << " input(s), " << inputs.size() << " given";
  // Check every input against the signature before running anything: a
  // dynamic dim takes any size within its --input-shape bounds.
  bool dynamic = false;
  std::vector<std::vector<int64_t>> shapes;
  for (auto [i, type] : llvm::enumerate(signature.getInputs())) {
    auto tensor = cast<RankedTensorType>(type);
    std::string expected = getNpyDescr(tensor.getElementType());
    std::vector<int64_t> shape = runtimeShape(tensor);
    dynamic |= !tensor.hasStaticShape();
    if (inputs[i].dtype != expected ||
        (tensor.hasStaticShape() && inputs[i].shape != shape))
      return emitError(loc)
             << "input " << i << ": expected "
             << describeNpyType(expected, shape) << ", got "
             << describeNpyType(inputs[i].dtype, inputs[i].shape);
    shapes.push_back(inputs[i].shape);
  }
  if (dynamic)
    if (std::string error = checkInputShapes(
            getDynamicInputs(signature, recordedInputs), shapes);
        !error.empty())
      return emitError(loc) << error;
  outputs.clear();
  std::vector<DynamicOutput> dynamicOutputs =
      getDynamicOutputs(signature, recordedOutputs);
  for (auto [o, type] : llvm::enumerate(signature.getResults())) {
    auto tensor = cast<RankedTensorType>(type);
    NpyArray out;
    out.dtype = getNpyDescr(tensor.getElementType());
    if (out.dtype.empty())
      return emitError(loc)
             << "unsupported output element type " << tensor.getElementType();
    if (std::string error = outputShape(dynamicOutputs[o], shapes, out.shape);
        !error.empty())
      return emitError(loc) << "output " << o << ": " << error;
    out.data.assign(out.numElements() * NpyArray::elementSize(out.dtype), 0);
    outputs.push_back(std::move(out));
  }
  return success();
}

std::string CpuTarget::describeLayerKernel(Operation *layer,
                                           const TargetOptions &options) const {
  SparsecCpuLowerLayersOptions kernels = getKernelOptions(options);
  return sparsec::describeLayerKernel(
      layer, {kernels.vectorWidth, kernels.tileTokens, kernels.tileVectors},
      kernels.sparseRows,
      {kernels.nmGroups, kernels.rowPatterns, kernels.nmGroupSlotCost,
       kernels.rowPatternMacCost});
}

void CpuTarget::buildPipeline(OpPassManager &pm,
                              const TargetOptions &options) const {
  buildHostPipeline(pm, getKernelOptions(options), cpuOptions(options).threads,
                    cpuOptions(options).approximateMath, getPermuteIsa(),
                    cpuOptions(options).kernelSchedule);
}

LogicalResult CpuTarget::emit(ModuleOp lowered, ArtifactKind kind,
                              raw_ostream &os,
                              const TargetOptions &options) const {
  if (kind == ArtifactKind::LoweredMLIR) {
    lowered.print(os);
    return success();
  }
  registerCpuTranslations(lowered);
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> module =
      translateModuleToLLVMIR(lowered, llvmContext, "sparsec");
  if (!module)
    return lowered.emitError("failed to translate to LLVM IR");
  std::string error;
  CpuMachine machine = getMachine(options);
  std::unique_ptr<llvm::TargetMachine> tm = createTargetMachine(machine, error);
  if (!tm)
    return lowered.emitError("no LLVM target for '")
           << machine.triple << "': " << error;
  module->setDataLayout(tm->createDataLayout());
  module->setTargetTriple(tm->getTargetTriple());
  auto optimize =
      makeOptimizingTransformer(cpuOptions(options).optLevel, 0, tm.get());
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
                              kind == ArtifactKind::Assembly
                                  ? llvm::CodeGenFileType::AssemblyFile
                                  : llvm::CodeGenFileType::ObjectFile))
    return lowered.emitError("the ")
           << getName() << " target cannot emit this kind of file";
  pm.run(*module);
  os.write(buffer.data(), buffer.size());
  return success();
}

LogicalResult CpuTarget::emitArtifact(ModuleOp lowered, StringRef dir,
                                      const TargetOptions &options) const {
  FailureOr<llvm::json::Array> inputs =
      describeTensors(lowered, kCpuInputsAttr);
  FailureOr<llvm::json::Array> outputs =
      describeTensors(lowered, kCpuOutputsAttr);
  if (failed(inputs) || failed(outputs))
    return failure();
  if (std::error_code ec = llvm::sys::fs::create_directories(dir))
    return emitError(lowered.getLoc())
           << "cannot create '" << dir << "': " << ec.message();
  std::string objectPath = (dir + "/model.o").str();
  {
    std::error_code ec;
    llvm::raw_fd_ostream object(objectPath, ec);
    if (ec)
      return emitError(lowered.getLoc())
             << "cannot write '" << objectPath << "': " << ec.message();
    if (failed(emit(lowered, ArtifactKind::Object, object, options)))
      return failure();
  }
  std::vector<std::string> runtimeLibraries = getRuntimeLibraries();
  std::string linker = findLinker();
  std::string libraryPath = (dir + "/model.so").str();
  llvm::sys::fs::remove(libraryPath);
  if (!linker.empty()) {
    std::string error =
        linkSharedObject(linker, objectPath, libraryPath, runtimeLibraries,
                         (dir + "/link.log").str());
    if (!error.empty())
      return emitError(lowered.getLoc()) << error;
  }

  CpuMachine machine = getMachine(options);
  llvm::json::Array libraries;
  for (const std::string &lib : runtimeLibraries)
    libraries.push_back(lib);
  llvm::json::Object root{
      {"format", "sparsec-cpu-artifact"},
      {"format_version", 2},
      {"target", getName()},
      {"triple", machine.triple},
      {"cpu", machine.cpu},
      {"object", "model.o"},
      {"entry", "_mlir_ciface_main"},
      {"abi", "strided memref descriptors: inputs, then caller-allocated "
              "outputs"},
      {"inputs", std::move(*inputs)},
      {"outputs", std::move(*outputs)},
      // What model.o calls besides libc and libm: the OpenMP runtime of the
      // parallel loops.
      {"runtime_libraries", std::move(libraries)},
      {"threads", int64_t(cpuOptions(options).threads)},
      {"opt_level", int64_t(cpuOptions(options).optLevel)}};
  if (!linker.empty())
    root["library"] = "model.so";
  // The one allocation of intermediates per call (sparsec-cpu-plan-memory),
  // what the same buffers took separately, and the entry that takes that
  // arena from the caller.
  if (Operation *body = SymbolTable::lookupSymbolIn(lowered, "main_workspace"))
    if (auto arena =
            body->getAttrOfType<IntegerAttr>("sparsec.cpu.arena_bytes")) {
      auto separate =
          body->getAttrOfType<IntegerAttr>("sparsec.cpu.unplanned_bytes");
      root["intermediate_bytes"] = llvm::json::Object{
          {"arena", arena.getInt()}, {"without_plan", separate.getInt()}};
      root["workspace"] =
          llvm::json::Object{{"entry", "_mlir_ciface_main_workspace"},
                             {"bytes", arena.getInt()},
                             {"alignment", kCpuArenaAlignment}};
    }
  std::error_code ec;
  llvm::raw_fd_ostream manifest((dir + "/manifest.json").str(), ec);
  if (ec)
    return emitError(lowered.getLoc())
           << "cannot write the manifest: " << ec.message();
  manifest << llvm::formatv("{0:2}", llvm::json::Value(std::move(root)))
           << "\n";
  return success();
}

} // namespace sparsec
