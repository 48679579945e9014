//===- Compiler.cpp - import -> compress -> target as a library -----------===//
#include "sparsec/Compiler/Compiler.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"
#include "sparsec/Import/MLIRInput.h"
#include "sparsec/Import/ONNXImporter.h"

#include "mlir/IR/Location.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

using namespace mlir;

namespace sparsec {

namespace {
void printLocation(Location loc, raw_ostream &os) {
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

void printOne(Diagnostic &diag, raw_ostream &os) {
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
} // namespace

void printDiagnostic(Diagnostic &diag, raw_ostream &os) {
  printOne(diag, os);
  for (Diagnostic &note : diag.getNotes())
    printOne(note, os);
}

bool isMLIRInput(llvm::StringRef path) {
  llvm::StringRef ext = llvm::sys::path::extension(path);
  return ext == ".mlir" || ext == ".mlirbc";
}

OwningOpRef<ModuleOp> loadModule(MLIRContext &context, llvm::StringRef path,
                                 const SparsecCompileOptions &options) {
  if (isMLIRInput(path))
    return parseMLIRFile(context, path);
  ONNXImportOptions import;
  import.validate = !options.noOnnxChecker;
  if (std::string error = options.getInputShapes(import.inputShapes);
      !error.empty()) {
    emitError(UnknownLoc::get(&context)) << error;
    return nullptr;
  }
  return importONNXFile(context, path, import);
}

std::string buildCompressPipeline(OpPassManager &pm,
                                  const SparsecCompileOptions &options) {
  if (std::string error = options.validate(); !error.empty())
    return error;
  return options.addCompressionPasses(pm);
}

std::string selectTarget(const SparsecCompileOptions &options,
                         TargetSelection &selection) {
  const TargetRegistry &registry = TargetRegistry::get();
  selection.target = registry.lookup(options.target);
  if (!selection.target)
    return "unknown target '" + options.target +
           "' (known: " + registry.getNames() + ")";
  selection.options = selection.target->createOptions();
  if (std::string error = selection.options->parse(options.targetOptions,
                                                   selection.target->getName());
      !error.empty())
    return "target '" + options.target + "': " + error;
  return selection.options->validate();
}

std::string buildCompilePipeline(OpPassManager &pm,
                                 const SparsecCompileOptions &options,
                                 const TargetSelection &selection) {
  if (std::string error = buildCompressPipeline(pm, options); !error.empty())
    return error;
  selection.target->buildPipeline(pm, *selection.options);
  return "";
}

void buildLinalgPipeline(OpPassManager &pm) {
  pm.addPass(createSparsecLowerToLinalg());
}

namespace {
/// Registers a pipeline taking SparsecCompileOptions, built by `build`.
void registerCompilePipeline(
    llvm::StringRef arg, llvm::StringRef description,
    std::function<std::string(OpPassManager &, const SparsecCompileOptions &)>
        build) {
  registerPassPipeline(
      arg, description,
      [build](
          OpPassManager &pm, llvm::StringRef text,
          llvm::function_ref<LogicalResult(const llvm::Twine &)> errorHandler)
          -> LogicalResult {
        SparsecCompileOptions options;
        std::string error = options.parse(text);
        if (error.empty())
          error = build(pm, options);
        return error.empty() ? success() : errorHandler(error);
      },
      [](llvm::function_ref<void(const mlir::detail::PassOptions &)> fn) {
        SparsecCompileOptions options;
        fn(options);
      });
}
} // namespace

void registerSparsecPipelines() {
  registerCompilePipeline(
      "sparsec-compress",
      "Compress a sparsec module as the sparsec driver does (--sparsity, "
      "--permute, ...: SparsecCompileOptions)",
      buildCompressPipeline);
  registerCompilePipeline(
      "sparsec-compile",
      "Compress, then lower for a target (target=host|cuda|..., "
      "target-options={...}): the sparsec driver's pipeline",
      [](OpPassManager &pm, const SparsecCompileOptions &options) {
        TargetSelection selection;
        std::string error = selectTarget(options, selection);
        return error.empty() ? buildCompilePipeline(pm, options, selection)
                             : error;
      });
  registerTargetPipelines();
}

} // namespace sparsec
