//===- sparsec.cpp - the sparsec compiler driver --------------------------===//
//
//   sparsec model.onnx --emit=mlir -o model.mlir
//   sparsec model.onnx --emit=obj --target=host -o model.o
//   sparsec model.onnx --run --input=x.npy -o outdir
//
//===----------------------------------------------------------------------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Compiler/Calibration.h"
#include "sparsec/Compiler/Compiler.h"
#include "sparsec/Compiler/Report.h"
#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"
#include "sparsec/Import/ONNXExport.h"
#include "sparsec/Import/ONNXImporter.h"
#include "sparsec/InitAll.h"
#include "sparsec/Support/Npy.h"
#include "sparsec/Target/Target.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include <chrono>
#include <sys/resource.h>
#include <unistd.h>
#if defined(__GLIBC__) || __has_include(<malloc.h>)
#include <malloc.h>
#endif

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory sparsecCategory("sparsec options");

static cl::opt<std::string> inputFilename(cl::Positional,
                                          cl::desc("<model.onnx | input.mlir>"),
                                          cl::Required,
                                          cl::cat(sparsecCategory));
static cl::opt<std::string>
    outputFilename("o", cl::desc("Output file (a directory with --run)"),
                   cl::value_desc("path"), cl::init("-"),
                   cl::cat(sparsecCategory));

enum class Emit {
  MLIR,
  MLIRBC,
  Linalg,
  Lowered,
  LLVMIR,
  Object,
  Assembly,
  Artifact,
  Report,
  Packed,
  None
};
static cl::opt<Emit> emitKind(
    "emit", cl::desc("What to produce"), cl::init(Emit::MLIR),
    cl::values(
        clEnumValN(Emit::MLIR, "mlir", "sparsec-level MLIR (after import)"),
        clEnumValN(Emit::MLIRBC, "mlirbc", "sparsec-level MLIR bytecode"),
        clEnumValN(Emit::Linalg, "linalg", "linalg-on-tensors MLIR"),
        clEnumValN(Emit::Lowered, "lowered",
                   "target-level MLIR (host: LLVM dialect; cuda: the "
                   "kernel plan)"),
        clEnumValN(Emit::LLVMIR, "llvm", "LLVM IR"),
        clEnumValN(Emit::Object, "obj", "object file"),
        clEnumValN(Emit::Assembly, "asm", "target assembly"),
        clEnumValN(Emit::Artifact, "artifact",
                   "target artifact directory (cuda: manifest, PTX, weights); "
                   "the default for --target=cuda"),
        clEnumValN(Emit::Report, "report", "per-layer summary table"),
        clEnumValN(Emit::Packed, "packed",
                   "packed weights: <dir>/manifest.json + .npy"),
        clEnumValN(Emit::None, "none", "import and verify only")),
    cl::cat(sparsecCategory));
static cl::opt<bool> reportJson("report-json",
                                cl::desc("Write --emit=report as JSON"),
                                cl::cat(sparsecCategory));
static cl::opt<std::string>
    exportOnnx("export-onnx",
               cl::desc("Write the pruned model back to ONNX (masked weights)"),
               cl::value_desc("out.onnx"), cl::cat(sparsecCategory));
static cl::opt<bool>
    runModel("run",
             cl::desc("Compile for the target, run on --input arrays, write "
                      "<outdir>/output_<i>.npy"),
             cl::cat(sparsecCategory));
static cl::opt<std::string> progressMode(
    "progress",
    cl::desc("Print progress to stderr: each phase (import, calibration "
             "steps, compression, export) with the elapsed time and the peak "
             "memory so far, and search progress: auto (when stderr is a "
             "terminal), always or never"),
    cl::value_desc("auto|always|never"), cl::init("auto"),
    cl::cat(sparsecCategory));
static cl::list<std::string>
    inputArrays("input", cl::desc("Input .npy for --run, in graph-input order"),
                cl::value_desc("file.npy"), cl::cat(sparsecCategory));

namespace {

int fail(const Twine &message) {
  llvm::errs() << "sparsec: error: " << message << "\n";
  return 1;
}

/// Phase lines for --progress: what finished, the time since start and the
/// peak resident memory so far (what bench/big_model_bench.py bounds).
class ProgressLog {
public:
  explicit ProgressLog(bool enabled) : enabled(enabled) {}
  void done(const Twine &what) const {
    if (!enabled)
      return;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    llvm::errs() << "sparsec: " << what << " ["
                 << llvm::format("%.1f s, peak %lld MiB", seconds,
                                 (long long)(usage.ru_maxrss / 1024))
                 << "]\n";
  }

private:
  bool enabled;
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
};

/// The command line is SparsecCompileOptions plus each target's options
/// (--<target>-<key>); only output handling lives in the driver.
struct TargetFlags {
  const sparsec::Target *target;
  std::unique_ptr<sparsec::TargetOptions> options;
  std::unique_ptr<sparsec::CommandLineBinding> binding;
};

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
#ifdef M_MMAP_THRESHOLD
  // Weights are freed and replaced one tensor at a time. A fixed threshold
  // keeps every buffer of 1 MiB or more in its own mapping, returned to the
  // system when freed; glibc's default raises it to 32 MiB after the first
  // such free, and freed heap memory of a large model then stays resident.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << "sparsec " << SPARSEC_VERSION << " (LLVM/MLIR " << LLVM_VERSION_STRING
       << ")\n";
  });

  sparsec::SparsecCompileOptions options;
  sparsec::CommandLineBinding compileFlags(options, "", sparsecCategory);
  std::vector<TargetFlags> targetFlags;
  for (const sparsec::Target *t : sparsec::TargetRegistry::get().getTargets()) {
    TargetFlags flags{t, t->createOptions(), nullptr};
    flags.binding = std::make_unique<sparsec::CommandLineBinding>(
        *flags.options, (t->getName() + "-").str(), sparsecCategory);
    targetFlags.push_back(std::move(flags));
  }
  cl::HideUnrelatedOptions(sparsecCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "sparsec: compile ONNX models with structured sparsity\n\n"
      "  sparsec model.onnx --emit=mlir -o model.mlir\n"
      "  sparsec model.onnx --emit=obj -o model.o\n"
      "  sparsec model.onnx --run --input=x.npy -o outdir\n");

  if (std::string error = compileFlags.apply(); !error.empty())
    return fail(error);
  if (progressMode != "auto" && progressMode != "always" &&
      progressMode != "never")
    return fail("--progress must be auto, always or never, not '" +
                progressMode + "'");
  options.progress = progressMode == "always" ||
                     (progressMode == "auto" && isatty(STDERR_FILENO));
  ProgressLog progress(options.progress);
  if (std::string error = options.validate(); !error.empty())
    return fail(error);
  sparsec::TargetSelection selection;
  for (TargetFlags &flags : targetFlags) {
    if (std::string error = flags.binding->apply(); !error.empty())
      return fail(error);
    if (flags.target->getName() == options.target.getValue()) {
      selection.target = flags.target;
      selection.options = std::move(flags.options);
      continue;
    }
    for (const llvm::cl::Option *o : flags.options->getOptions())
      if (flags.binding->occurred(o->ArgStr))
        llvm::errs() << "sparsec: warning: --" << flags.target->getName() << "-"
                     << o->ArgStr << " is ignored: the target is '"
                     << options.target << "'\n";
  }
  if (!selection.target)
    return fail("unknown target '" + options.target +
                "' (known: " + sparsec::TargetRegistry::get().getNames() + ")");
  if (std::string error = selection.options->validate(); !error.empty())
    return fail(error);
  const sparsec::Target *target = selection.target;
  const sparsec::TargetOptions &targetOptions = *selection.options;

  if (target->prefersArtifact() && !emitKind.getNumOccurrences() && !runModel)
    emitKind = Emit::Artifact;
  if (!runModel && !inputArrays.empty())
    return fail("--input is only meaningful with --run");
  if (runModel && outputFilename == "-")
    return fail("--run needs an output directory: -o <dir>");
  if (!exportOnnx.empty() && options.sparsity.empty())
    return fail("--export-onnx/--export-masks need --sparsity");
  if (!exportOnnx.empty() && sparsec::isMLIRInput(inputFilename))
    return fail("--export-onnx needs an ONNX input model");
  if (options.exportMasks && exportOnnx.empty())
    return fail("--export-masks needs --export-onnx");

  DialectRegistry registry;
  sparsec::registerAllSparsecDialects(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  ctx.getDiagEngine().registerHandler([](Diagnostic &diag) {
    sparsec::printDiagnostic(diag, llvm::errs());
    return success();
  });

  OwningOpRef<ModuleOp> module =
      sparsec::loadModule(ctx, inputFilename, options);
  if (!module)
    return 1;
  progress.done("imported " + inputFilename);

  /// Runs `pm` with the command line's pass-manager and timing options.
  auto runPipeline = [&](PassManager &pm) -> LogicalResult {
    if (failed(applyPassManagerCLOptions(pm)))
      return failure();
    DefaultTimingManager timing;
    applyDefaultTimingManagerCLOptions(timing);
    TimingScope timingRoot = timing.getRootScope();
    pm.enableTiming(timingRoot);
    return pm.run(*module);
  };

  if (failed(sparsec::calibrateModule(*module, options)))
    return 1;
  if (!options.calibration.empty())
    progress.done("calibrated");
  // Exporting ONNX is all that follows: no packed copy of every weight.
  options.packWeights = runModel || emitKind != Emit::None;
  {
    PassManager pm(&ctx);
    if (std::string error = sparsec::buildCompressPipeline(pm, options);
        !error.empty())
      return fail(error);
    if (!pm.empty()) {
      if (failed(runPipeline(pm)))
        return 1;
      progress.done("compressed");
    }
  }
  if (!exportOnnx.empty()) {
    std::string error = sparsec::exportPrunedONNX(
        *module, inputFilename, exportOnnx, options.exportMasks);
    if (!error.empty())
      return fail(error);
    progress.done("exported " + exportOnnx);
  }

  // Read the inputs early: a bad array fails before any compile time.
  std::vector<sparsec::NpyArray> inputs;
  for (const std::string &path : inputArrays) {
    sparsec::NpyArray array;
    std::string error = sparsec::readNpy(path, array);
    if (!error.empty())
      return fail(error);
    inputs.push_back(std::move(array));
  }

  auto emitToFile = [&](auto &&writer) -> int {
    std::string error;
    auto out = openOutputFile(outputFilename, &error);
    if (!out)
      return fail(error);
    if (failed(writer(out->os())))
      return 1;
    out->keep();
    return 0;
  };
  auto printModule = [&](raw_ostream &os) {
    module->print(os);
    return success();
  };

  if (!runModel) {
    switch (emitKind) {
    case Emit::None:
      return 0;
    case Emit::MLIR:
      return emitToFile(printModule);
    case Emit::MLIRBC:
      return emitToFile(
          [&](raw_ostream &os) { return writeBytecodeToFile(*module, os); });
    case Emit::Packed: {
      if (outputFilename == "-")
        return fail("--emit=packed needs an output directory: -o <dir>");
      std::string error = sparsec::writePackedWeights(*module, outputFilename);
      if (!error.empty())
        return fail(error);
      return 0;
    }
    case Emit::Report:
      return emitToFile([&](raw_ostream &os) {
        sparsec::writeModelReport(
            *module, reportJson, os, [&](Operation *layer) {
              return target->describeLayerKernel(layer, targetOptions);
            });
        return success();
      });
    case Emit::Linalg: {
      PassManager pm(&ctx);
      sparsec::buildLinalgPipeline(pm);
      if (failed(runPipeline(pm)))
        return 1;
      return emitToFile(printModule);
    }
    default:
      break;
    }
  }

  // Keep the original signature: the runner needs tensor types.
  auto mainFunc = module->lookupSymbol<func::FuncOp>("main");
  if (!mainFunc)
    return fail("the module has no func.func @main");
  FunctionType signature = mainFunc.getFunctionType();

  {
    PassManager pm(&ctx);
    target->buildPipeline(pm, targetOptions);
    if (failed(runPipeline(pm)))
      return 1;
  }

  if (emitKind == Emit::Artifact && !runModel) {
    if (outputFilename == "-")
      return fail("--emit=artifact needs an output directory: -o <dir>");
    return failed(target->emitArtifact(*module, outputFilename, targetOptions))
               ? 1
               : 0;
  }

  if (runModel) {
    std::vector<sparsec::NpyArray> outputs;
    if (failed(target->run(*module, signature, inputs, outputs, targetOptions)))
      return 1;
    if (std::error_code ec = llvm::sys::fs::create_directories(outputFilename))
      return fail("cannot create '" + outputFilename + "': " + ec.message());
    for (size_t i = 0; i < outputs.size(); ++i) {
      std::string path =
          outputFilename + "/output_" + std::to_string(i) + ".npy";
      std::string error = sparsec::writeNpy(path, outputs[i]);
      if (!error.empty())
        return fail(error);
    }
    return 0;
  }

  sparsec::ArtifactKind kind =
      emitKind == Emit::Lowered    ? sparsec::ArtifactKind::LoweredMLIR
      : emitKind == Emit::LLVMIR   ? sparsec::ArtifactKind::LLVMIR
      : emitKind == Emit::Assembly ? sparsec::ArtifactKind::Assembly
                                   : sparsec::ArtifactKind::Object;
  return emitToFile([&](raw_ostream &os) {
    return target->emit(*module, kind, os, targetOptions);
  });
}
