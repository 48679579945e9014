//===- sparsec.cpp - the sparsec compiler driver --------------------------===//
//
//   sparsec model.onnx --emit=mlir -o model.mlir
//   sparsec model.onnx --emit=obj --target=host -o model.o
//   sparsec model.onnx --run --input=x.npy -o outdir
//
//===----------------------------------------------------------------------===//
#include "Report.h"

#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
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
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include <unistd.h>

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
                   "target-level MLIR (LLVM dialect for host)"),
        clEnumValN(Emit::LLVMIR, "llvm", "LLVM IR"),
        clEnumValN(Emit::Object, "obj", "object file"),
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
    targetName("target", cl::desc("Compilation target (host, cuda)"),
               cl::init("host"), cl::cat(sparsecCategory));
static cl::opt<std::string>
    cudaArch("cuda-arch",
             cl::desc("cuda target: sm_80 (mma.sp, Ampere and later) or sm_90a "
                      "(Hopper: wgmma.mma_async.sp or mma.sp per layer, see "
                      "--cuda-wgmma)"),
             cl::init("sm_80"), cl::cat(sparsecCategory));
static cl::opt<std::string> cudaValueType(
    "cuda-dtype",
    cl::desc("cuda target: f16 or bf16 weights and activations (default: the "
             "packed value type, f16 unless it is bf16)"),
    cl::init(""), cl::cat(sparsecCategory));
static cl::opt<int64_t>
    cudaTileN("cuda-tile-n",
              cl::desc("cuda target: tokens per CTA (sm_80: 32/64/128, sm_90a: "
                       "64/128/256; 0 = default)"),
              cl::init(0), cl::cat(sparsecCategory));
static cl::opt<int64_t> cudaTileM(
    "cuda-tile-m",
    cl::desc("cuda target: rows per CTA, sharing the activation tile: 64, "
             "128, or 256 with wgmma on sm_90a (HiNM needs V % tile_m == 0); "
             "0 = auto"),
    cl::init(0), cl::cat(sparsecCategory));
static cl::opt<std::string> cudaWgmma(
    "cuda-wgmma",
    cl::desc("cuda target, sm_90a: auto (per layer, the instruction that "
             "measured faster on the H200: wgmma for 2:4 layers of >= 2048 "
             "rows, mma.sp otherwise), async (wgmma, A and B from shared "
             "memory, one wgmma group in flight), sync (wgmma, A from "
             "registers, each wgmma waited for) or off (mma.sp everywhere)"),
    cl::init("auto"), cl::cat(sparsecCategory));
static cl::opt<std::string> cudaDevice(
    "cuda-device",
    cl::desc("cuda target, --run: cuda, emulator (the CPU PTX emulator) or "
             "auto (cuda when a driver is present)"),
    cl::init("auto"), cl::cat(sparsecCategory));
static cl::opt<bool>
    runModel("run",
             cl::desc("Compile for the target, run on --input arrays, write "
                      "<outdir>/output_<i>.npy"),
             cl::cat(sparsecCategory));
static cl::list<std::string>
    inputArrays("input", cl::desc("Input .npy for --run, in graph-input order"),
                cl::value_desc("file.npy"), cl::cat(sparsecCategory));
static cl::list<std::string> inputShapes(
    "input-shape",
    cl::desc("Static shape for a graph input with symbolic dims, e.g. "
             "x:1x3x224x224"),
    cl::value_desc("name:d0xd1x..."), cl::cat(sparsecCategory));
// Pruning (see docs/Pruning.md).
static cl::opt<std::string> sparsitySpec(
    "sparsity",
    cl::desc("Prune weights: nm:n=2,m=4 | hinm:v=64,vs=0.5[,n=2,m=4] | "
             "hinm:v=64,sparsity=0.75"),
    cl::value_desc("spec"), cl::cat(sparsecCategory));
static cl::opt<std::string> saliencyPath(
    "saliency",
    cl::desc(
        "User scores: a directory of <initializer>.npy or a .safetensors file"),
    cl::value_desc("path"), cl::cat(sparsecCategory));
static cl::opt<std::string>
    pruneInclude("prune-include",
                 cl::desc("Prune only layers matching this regex"),
                 cl::value_desc("regex"), cl::cat(sparsecCategory));
static cl::opt<std::string>
    pruneExclude("prune-exclude",
                 cl::desc("Never prune layers matching this regex"),
                 cl::value_desc("regex"), cl::cat(sparsecCategory));
static cl::opt<bool>
    pruneSkipFirst("prune-skip-first",
                   cl::desc("Leave the first weight layer dense"),
                   cl::cat(sparsecCategory));
static cl::opt<bool>
    pruneSkipLast("prune-skip-last",
                  cl::desc("Leave the last weight layer dense"),
                  cl::cat(sparsecCategory));
static cl::opt<int64_t>
    pruneMinParams("prune-min-params",
                   cl::desc("Leave layers with fewer weights dense"),
                   cl::init(0), cl::cat(sparsecCategory));
static cl::opt<std::string>
    pruneConfig("prune-config",
                cl::desc("JSON file of per-layer pruning overrides"),
                cl::value_desc("file.json"), cl::cat(sparsecCategory));
static cl::opt<bool>
    prunePad("prune-pad",
             cl::desc("Pad rows to a multiple of V (else refuse such layers)"),
             cl::init(true), cl::cat(sparsecCategory));
static cl::opt<std::string>
    pruneValueType("prune-value-type",
                   cl::desc("Packed value type: f32, f16 or bf16"),
                   cl::init("f32"), cl::cat(sparsecCategory));
static cl::opt<std::string>
    pruneKOrder("prune-korder", cl::desc("Convolution K order: hwc or chw"),
                cl::init("hwc"), cl::cat(sparsecCategory));
static cl::opt<std::string> pruneMeta(
    "prune-meta",
    cl::desc("HiNM metadata layout: meta32, meta16 or auto (meta32 when V is "
             "a multiple of 32)"),
    cl::init("auto"), cl::cat(sparsecCategory));
static cl::opt<std::string> permuteMethod(
    "permute",
    cl::desc("Channel permutation before pruning: none, gyro (HiNM), asp or "
             "swap (N:M)"),
    cl::init("none"), cl::cat(sparsecCategory));
static cl::opt<int64_t> permuteSeed("permute-seed",
                                    cl::desc("Seed of the permutation search"),
                                    cl::init(0), cl::cat(sparsecCategory));
static cl::opt<int64_t>
    permuteTries("permute-tries",
                 cl::desc("Gyro: most trials per schedule phase"),
                 cl::init(100), cl::cat(sparsecCategory));
static cl::opt<int64_t>
    permuteColumnTries("permute-column-tries",
                       cl::desc("Gyro stage B: most trials per tile"),
                       cl::init(32), cl::cat(sparsecCategory));
static cl::opt<std::string>
    permuteSchedule("permute-schedule",
                    cl::desc("Gyro: rows moved per block in each phase"),
                    cl::init("8,1,4,1,2,1,1"), cl::cat(sparsecCategory));
static cl::opt<double> permuteBudget(
    "permute-budget",
    cl::desc("Time budget in seconds for the searches (0 = none)"), cl::init(0),
    cl::cat(sparsecCategory));
static cl::opt<int64_t>
    permuteWindow("permute-window",
                  cl::desc("ASP: stripes per exhaustive window (2 or 3)"),
                  cl::init(2), cl::cat(sparsecCategory));
static cl::opt<int64_t> permuteEscapes("permute-escapes",
                                       cl::desc("ASP: escape attempts"),
                                       cl::init(100), cl::cat(sparsecCategory));
static cl::opt<bool> permuteExplicit(
    "permute-explicit",
    cl::desc("Insert sparsec.permute where no layer can absorb a permutation "
             "(else leave such layers unpermuted)"),
    cl::init(true), cl::cat(sparsecCategory));

static cl::opt<std::string>
    exportOnnx("export-onnx",
               cl::desc("Write the pruned model back to ONNX (masked weights)"),
               cl::value_desc("out.onnx"), cl::cat(sparsecCategory));
static cl::opt<bool> exportMasks(
    "export-masks",
    cl::desc("With --export-onnx: add each mask as initializer <name>.mask"),
    cl::cat(sparsecCategory));

static cl::opt<bool>
    noValidate("no-onnx-checker",
               cl::desc("Skip the ONNX checker and shape inference"),
               cl::cat(sparsecCategory));

namespace {

/// Prints "<file>: error: <message>" (with node names) on stderr.
class DriverDiagnostics {
public:
  explicit DriverDiagnostics(MLIRContext &ctx) {
    ctx.getDiagEngine().registerHandler([this](Diagnostic &diag) {
      print(diag);
      for (Diagnostic &note : diag.getNotes())
        print(note);
      if (diag.getSeverity() == DiagnosticSeverity::Error)
        hadError = true;
      return success();
    });
  }
  bool hadError = false;

private:
  static void printLocation(Location loc, raw_ostream &os) {
    if (auto file = dyn_cast<FileLineColLoc>(loc)) {
      os << file.getFilename().getValue();
      if (file.getLine() != 0)
        os << ":" << file.getLine() << ":" << file.getColumn();
      return;
    }
    if (auto name = dyn_cast<NameLoc>(loc))
      return printLocation(name.getChildLoc(), os);
    if (auto fused = dyn_cast<FusedLoc>(loc)) {
      if (!fused.getLocations().empty())
        return printLocation(fused.getLocations().front(), os);
    }
    if (auto callSite = dyn_cast<CallSiteLoc>(loc))
      return printLocation(callSite.getCallee(), os);
    os << "sparsec";
  }
  static void print(Diagnostic &diag) {
    raw_ostream &os = llvm::errs();
    printLocation(diag.getLocation(), os);
    switch (diag.getSeverity()) {
    case DiagnosticSeverity::Error:
      os << ": error: ";
      break;
    case DiagnosticSeverity::Warning:
      os << ": warning: ";
      break;
    case DiagnosticSeverity::Note:
      os << ": note: ";
      break;
    case DiagnosticSeverity::Remark:
      os << ": remark: ";
      break;
    }
    os << diag.str() << "\n";
  }
};

int fail(const Twine &message) {
  llvm::errs() << "sparsec: error: " << message << "\n";
  return 1;
}

LogicalResult parseInputShapes(sparsec::ONNXImportOptions &options) {
  for (const std::string &spec : inputShapes) {
    size_t colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      fail("--input-shape expects name:d0xd1x..., got '" + spec + "'");
      return failure();
    }
    SmallVector<int64_t> dims;
    SmallVector<StringRef> parts;
    StringRef(spec).drop_front(colon + 1).split(parts, 'x');
    for (StringRef p : parts) {
      int64_t d;
      if (p.getAsInteger(10, d) || d <= 0) {
        fail("--input-shape: '" + p + "' is not a positive dimension in '" +
             spec + "'");
        return failure();
      }
      dims.push_back(d);
    }
    options.inputShapes[spec.substr(0, colon)] = dims;
  }
  return success();
}

/// Builds the sparsec-prune options from --sparsity=KIND:k=v,... and the
/// --prune-* flags.
FailureOr<sparsec::SparsecPruneOptions> pruneOptions() {
  sparsec::SparsecPruneOptions o;
  StringRef spec = sparsitySpec;
  auto [kind, rest] = spec.split(':');
  if (kind != "nm" && kind != "hinm") {
    fail("--sparsity: unknown pattern '" + kind + "' in '" + spec +
         "' (expected nm:... or hinm:...)");
    return failure();
  }
  o.pattern = kind.str();
  SmallVector<StringRef> fields;
  if (!rest.empty())
    rest.split(fields, ',');
  for (StringRef field : fields) {
    auto [key, value] = field.split('=');
    key = key.trim();
    value = value.trim();
    double number;
    bool isInt = key == "n" || key == "m" || key == "v";
    bool known = isInt || key == "vs" || key == "sparsity";
    if (!known || value.empty() || value.getAsDouble(number)) {
      fail("--sparsity: cannot parse '" + field + "' in '" + spec +
           "' (keys: n, m, v, vs, sparsity; numeric values)");
      return failure();
    }
    if (isInt && (number != std::floor(number) || number < 0 || number > 1e6)) {
      fail("--sparsity: " + key + " must be a non-negative integer, got '" +
           value + "'");
      return failure();
    }
    if (key == "n")
      o.n = int64_t(number);
    else if (key == "m")
      o.m = int64_t(number);
    else if (key == "v")
      o.v = int64_t(number);
    else if (key == "vs")
      o.vectorSparsity = number;
    else
      o.sparsity = number;
  }
  o.saliency = saliencyPath;
  o.include = pruneInclude;
  o.exclude = pruneExclude;
  o.skipFirst = pruneSkipFirst;
  o.skipLast = pruneSkipLast;
  o.minParams = pruneMinParams;
  o.config = pruneConfig;
  o.pad = prunePad;
  o.valueType = pruneValueType;
  o.korder = pruneKOrder;
  o.metaLayout = pruneMeta;
  o.keepMask = exportMasks;
  o.permute = permuteMethod;
  o.seed = permuteSeed;
  o.permuteTries = permuteTries;
  o.permuteSchedule = permuteSchedule;
  o.permuteColumnTries = permuteColumnTries;
  o.permuteBudget = permuteBudget;
  o.permuteWindow = permuteWindow;
  o.permuteEscapes = permuteEscapes;
  o.explicitPermutes = permuteExplicit;
  // Progress only on a terminal.
  o.progress = isatty(STDERR_FILENO);
  return o;
}

OwningOpRef<ModuleOp> loadInput(MLIRContext &ctx) {
  StringRef ext = llvm::sys::path::extension(inputFilename);
  if (ext == ".mlir" || ext == ".mlirbc") {
    std::string error;
    auto file = openInputFile(inputFilename, &error);
    if (!file) {
      fail(error);
      return nullptr;
    }
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(std::move(file), SMLoc());
    return parseSourceFile<ModuleOp>(sourceMgr, &ctx);
  }
  sparsec::ONNXImportOptions options;
  options.validate = !noValidate;
  if (failed(parseInputShapes(options)))
    return nullptr;
  return sparsec::importONNXFile(ctx, inputFilename, options);
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << "sparsec " << SPARSEC_VERSION << " (LLVM/MLIR " << LLVM_VERSION_STRING
       << ")\n";
  });
  cl::HideUnrelatedOptions(sparsecCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "sparsec: compile ONNX models with structured sparsity\n\n"
      "  sparsec model.onnx --emit=mlir -o model.mlir\n"
      "  sparsec model.onnx --emit=obj -o model.o\n"
      "  sparsec model.onnx --run --input=x.npy -o outdir\n");

  const sparsec::Target *target = sparsec::lookupTarget(targetName);
  if (!target) {
    std::string known;
    for (const sparsec::Target *t : sparsec::getTargets())
      known += (known.empty() ? "" : ", ") + t->getName().str();
    return fail("unknown target '" + targetName + "' (known: " + known + ")");
  }
  if (cudaArch != "sm_80" && cudaArch != "sm_90a")
    return fail("--cuda-arch must be sm_80 or sm_90a, not '" + cudaArch + "'");
  if (!cudaValueType.empty() && cudaValueType != "f16" &&
      cudaValueType != "bf16")
    return fail("--cuda-dtype must be f16 or bf16, not '" + cudaValueType +
                "'");
  if (cudaDevice != "auto" && cudaDevice != "cuda" && cudaDevice != "emulator")
    return fail("--cuda-device must be cuda, emulator or auto, not '" +
                cudaDevice + "'");
  if (cudaWgmma != "auto" && cudaWgmma != "async" && cudaWgmma != "sync" &&
      cudaWgmma != "off")
    return fail("--cuda-wgmma must be auto, async, sync or off, not '" +
                cudaWgmma + "'");
  sparsec::setCudaTargetOptions(
      {cudaArch, cudaValueType, cudaTileN, cudaDevice, cudaWgmma, cudaTileM});
  if (target->prefersArtifact() && !emitKind.getNumOccurrences() && !runModel)
    emitKind = Emit::Artifact;
  if (!runModel && !inputArrays.empty())
    return fail("--input is only meaningful with --run");
  if (runModel && outputFilename == "-")
    return fail("--run needs an output directory: -o <dir>");

  DialectRegistry registry;
  sparsec::registerAllSparsecDialects(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  DriverDiagnostics diagnostics(ctx);

  OwningOpRef<ModuleOp> module = loadInput(ctx);
  if (!module)
    return 1;

  if (sparsitySpec.getNumOccurrences() && sparsitySpec.empty())
    return fail(
        "--sparsity needs a pattern, e.g. nm:n=2,m=4 or hinm:v=64,vs=0.5");
  if (!sparsitySpec.empty()) {
    FailureOr<sparsec::SparsecPruneOptions> options = pruneOptions();
    if (failed(options))
      return 1;
    PassManager pm(&ctx);
    if (failed(applyPassManagerCLOptions(pm)))
      return 1;
    pm.addPass(sparsec::createSparsecPrune(*options));
    DefaultTimingManager timing;
    applyDefaultTimingManagerCLOptions(timing);
    TimingScope timingRoot = timing.getRootScope();
    pm.enableTiming(timingRoot);
    if (failed(pm.run(*module)))
      return 1;
  } else if (!exportOnnx.empty() || exportMasks) {
    return fail("--export-onnx/--export-masks need --sparsity");
  } else if (permuteMethod != "none") {
    return fail("--permute needs --sparsity");
  }
  if (!exportOnnx.empty()) {
    if (StringRef(inputFilename).ends_with(".mlir") ||
        StringRef(inputFilename).ends_with(".mlirbc"))
      return fail("--export-onnx needs an ONNX input model");
    std::string error = sparsec::exportPrunedONNX(*module, inputFilename,
                                                  exportOnnx, exportMasks);
    if (!error.empty())
      return fail(error);
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

  auto emitToFile = [&](auto &&writer, bool binary) -> int {
    std::string error;
    auto out = openOutputFile(outputFilename, &error);
    if (!out)
      return fail(error);
    if (failed(writer(out->os())))
      return 1;
    out->keep();
    (void)binary;
    return 0;
  };

  if (!runModel) {
    switch (emitKind) {
    case Emit::None:
      return 0;
    case Emit::MLIR:
      return emitToFile(
          [&](raw_ostream &os) {
            module->print(os);
            return success();
          },
          false);
    case Emit::MLIRBC:
      return emitToFile(
          [&](raw_ostream &os) { return writeBytecodeToFile(*module, os); },
          true);
    case Emit::Packed: {
      if (outputFilename == "-")
        return fail("--emit=packed needs an output directory: -o <dir>");
      std::string error = sparsec::writePackedWeights(*module, outputFilename);
      if (!error.empty())
        return fail(error);
      return 0;
    }
    case Emit::Report:
      return emitToFile(
          [&](raw_ostream &os) {
            sparsec::writeModelReport(*module, reportJson, os);
            return success();
          },
          false);
    case Emit::Linalg: {
      PassManager pm(&ctx);
      if (failed(applyPassManagerCLOptions(pm)))
        return 1;
      pm.addPass(sparsec::createSparsecLowerToLinalg());
      if (failed(pm.run(*module)))
        return 1;
      return emitToFile(
          [&](raw_ostream &os) {
            module->print(os);
            return success();
          },
          false);
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

  PassManager pm(&ctx);
  if (failed(applyPassManagerCLOptions(pm)))
    return 1;
  target->buildPipeline(pm);
  if (failed(pm.run(*module)))
    return 1;

  if (emitKind == Emit::Artifact && !runModel) {
    if (outputFilename == "-")
      return fail("--emit=artifact needs an output directory: -o <dir>");
    return failed(target->emitArtifact(*module, outputFilename)) ? 1 : 0;
  }

  if (runModel) {
    std::vector<sparsec::NpyArray> outputs;
    if (failed(target->run(*module, signature, inputs, outputs)))
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
      emitKind == Emit::Lowered  ? sparsec::ArtifactKind::LoweredMLIR
      : emitKind == Emit::LLVMIR ? sparsec::ArtifactKind::LLVMIR
                                 : sparsec::ArtifactKind::Object;
  return emitToFile(
      [&](raw_ostream &os) { return target->emit(*module, kind, os); },
      kind == sparsec::ArtifactKind::Object);
}
