//===- Compiler.cpp - the C API of the sparsec compiler -------------------===//
//
// A thin layer over sparsec/Compiler: every entry point catches the
// diagnostics of its context into a string and returns it instead of
// printing, so that callers (the Python package) report what the CLI would.
//
//===----------------------------------------------------------------------===//
#include "sparsec-c/Compiler.h"

#include "sparsec/Compiler/Calibration.h"
#include "sparsec/Compiler/Compiler.h"
#include "sparsec/Compiler/Report.h"
#include "sparsec/Import/ONNXExport.h"
#include "sparsec/InitAll.h"
#include "sparsec/Support/Npy.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Config/llvm-config.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

using namespace mlir;

struct sparsec_context_s {
  /// The user's handle plus one per live module and executable: their IR
  /// lives in `context`, so it must outlast them whatever the order of the
  /// destroy calls.
  std::atomic<int64_t> references{1};
  MLIRContext context;
  /// Diagnostics of the call in progress, formatted as the CLI prints them.
  std::string diagnostics;

  explicit sparsec_context_s(const DialectRegistry &registry)
      : context(registry) {
    context.loadAllAvailableDialects();
    context.getDiagEngine().registerHandler([this](Diagnostic &diag) {
      llvm::raw_string_ostream os(diagnostics);
      sparsec::printDiagnostic(diag, os);
      return success();
    });
  }
};

namespace {

sparsec_context retain(sparsec_context context) {
  context->references.fetch_add(1);
  return context;
}

void release(sparsec_context context) {
  if (context && context->references.fetch_sub(1) == 1)
    delete context;
}

} // namespace

struct sparsec_module_s {
  sparsec_context context;
  OwningOpRef<ModuleOp> module;
  std::string path;

  sparsec_module_s(sparsec_context context, OwningOpRef<ModuleOp> module,
                   std::string path)
      : context(retain(context)), module(std::move(module)),
        path(std::move(path)) {}
  ~sparsec_module_s() {
    module = nullptr; // before the context it lives in
    release(context);
  }
};

namespace {
struct Argument {
  std::string dtype;
  std::vector<int64_t> shape;
};
} // namespace

struct sparsec_executable_s {
  sparsec_context context;
  OwningOpRef<ModuleOp> lowered;
  const sparsec::Target *target = nullptr;
  std::unique_ptr<sparsec::TargetOptions> options;
  FunctionType signature;
  std::vector<Argument> inputs, outputs;
  /// Compiled for this process on the first run (the host's JIT), so that
  /// later runs do not compile again; null for targets that run elsewhere.
  std::once_flag prepareOnce;
  std::unique_ptr<sparsec::PreparedModel> prepared;

  explicit sparsec_executable_s(sparsec_context context)
      : context(retain(context)) {}
  ~sparsec_executable_s() {
    lowered = nullptr; // before the context it lives in
    release(context);
  }
};

namespace {

char *copyString(llvm::StringRef text) {
  char *s = static_cast<char *>(std::malloc(text.size() + 1));
  if (!s)
    return nullptr;
  std::memcpy(s, text.data(), text.size());
  s[text.size()] = '\0';
  return s;
}

sparsec_error makeError(llvm::StringRef message) {
  return copyString(message.empty() ? "unknown error" : message.rtrim());
}

/// The context's diagnostics since `begin`, or `fallback` if there are none.
sparsec_error contextError(sparsec_context context,
                           llvm::StringRef fallback = "") {
  std::string text = context->diagnostics;
  context->diagnostics.clear();
  return makeError(text.empty() ? fallback : llvm::StringRef(text));
}

/// `target` (NULL or "": host) with `targetOptions` looked up, parsed and
/// validated as the driver's --target does; "" or the error.
std::string selectCapiTarget(const char *target, const char *targetOptions,
                             sparsec::TargetSelection &selection) {
  sparsec::SparsecCompileOptions compileOptions;
  compileOptions.target = std::string(target && *target ? target : "host");
  compileOptions.targetOptions =
      std::string(targetOptions ? targetOptions : "");
  return sparsec::selectTarget(compileOptions, selection);
}

Argument describe(Type type) {
  Argument arg;
  if (auto tensor = dyn_cast<RankedTensorType>(type)) {
    arg.dtype = sparsec::getNpyDescr(tensor.getElementType());
    // A dynamic dim (--input-shape=x:?x...) is -1: its size is the run's.
    for (int64_t d : tensor.getShape())
      arg.shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
  }
  return arg;
}

} // namespace

extern "C" {

const char *sparsec_version(void) {
  return SPARSEC_VERSION " (LLVM/MLIR " LLVM_VERSION_STRING ")";
}

void sparsec_string_free(char *string) { std::free(string); }

sparsec_error sparsec_context_create(sparsec_context *out) {
  if (!out)
    return makeError("sparsec_context_create: out is NULL");
  DialectRegistry registry;
  sparsec::registerAllSparsecDialects(registry);
  *out = new sparsec_context_s(registry);
  return nullptr;
}

void sparsec_context_destroy(sparsec_context context) { release(context); }

sparsec_error sparsec_module_load(sparsec_context context, const char *path,
                                  const char *options, sparsec_module *out) {
  if (!context || !path || !out)
    return makeError("sparsec_module_load: context, path and out are needed");
  *out = nullptr;
  context->diagnostics.clear();
  sparsec::SparsecCompileOptions compileOptions;
  if (std::string error = compileOptions.parse(options ? options : "");
      !error.empty())
    return makeError(error);
  if (std::string error = compileOptions.validate(); !error.empty())
    return makeError(error);
  OwningOpRef<ModuleOp> module =
      sparsec::loadModule(context->context, path, compileOptions);
  if (!module)
    return contextError(context, "cannot load '" + std::string(path) + "'");
  *out = new sparsec_module_s(context, std::move(module), path);
  return nullptr;
}

void sparsec_module_destroy(sparsec_module module) { delete module; }

sparsec_error sparsec_module_compress(sparsec_module module,
                                      const char *options) {
  if (!module)
    return makeError("sparsec_module_compress: module is NULL");
  sparsec_context context = module->context;
  context->diagnostics.clear();
  sparsec::SparsecCompileOptions compileOptions;
  if (std::string error = compileOptions.parse(options ? options : "");
      !error.empty())
    return makeError(error);
  if (std::string error = compileOptions.validate(); !error.empty())
    return makeError(error);
  if (failed(sparsec::calibrateModule(*module->module, compileOptions)))
    return contextError(context, "calibration failed");
  PassManager pm(&context->context);
  if (std::string error = sparsec::buildCompressPipeline(pm, compileOptions);
      !error.empty())
    return makeError(error);
  if (failed(pm.run(*module->module)))
    return contextError(context, "compression failed");
  return nullptr;
}

sparsec_error sparsec_module_print(sparsec_module module, char **out) {
  if (!module || !out)
    return makeError("sparsec_module_print: module and out are needed");
  std::string text;
  llvm::raw_string_ostream os(text);
  module->module->print(os);
  *out = copyString(text);
  return nullptr;
}

sparsec_error sparsec_module_report_json(sparsec_module module, char **out) {
  if (!module || !out)
    return makeError("sparsec_module_report_json: module and out are needed");
  std::string text;
  llvm::raw_string_ostream os(text);
  sparsec::writeModelReport(*module->module, /*json=*/true, os);
  *out = copyString(text);
  return nullptr;
}

sparsec_error sparsec_module_report_json_for_target(sparsec_module module,
                                                    const char *target,
                                                    const char *targetOptions,
                                                    char **out) {
  if (!module || !out)
    return makeError("sparsec_module_report_json_for_target: module and out "
                     "are needed");
  *out = nullptr;
  sparsec::TargetSelection selection;
  if (std::string error = selectCapiTarget(target, targetOptions, selection);
      !error.empty())
    return makeError(error);
  std::string text;
  llvm::raw_string_ostream os(text);
  sparsec::writeModelReport(
      *module->module, /*json=*/true, os, [&](Operation *layer) {
        return selection.target->describeLayerKernel(layer, *selection.options);
      });
  *out = copyString(text);
  return nullptr;
}

sparsec_error sparsec_module_export_onnx(sparsec_module module,
                                         const char *path, int masks) {
  if (!module || !path)
    return makeError("sparsec_module_export_onnx: module and path are needed");
  if (sparsec::isMLIRInput(module->path))
    return makeError("--export-onnx needs an ONNX input model");
  std::string error = sparsec::exportPrunedONNX(*module->module, module->path,
                                                path, masks != 0);
  return error.empty() ? nullptr : makeError(error);
}

sparsec_error sparsec_module_compile(sparsec_module module, const char *target,
                                     const char *targetOptions,
                                     sparsec_executable *out) {
  if (!module || !out)
    return makeError("sparsec_module_compile: module and out are needed");
  *out = nullptr;
  sparsec_context context = module->context;
  context->diagnostics.clear();
  auto exe = std::make_unique<sparsec_executable_s>(context);
  sparsec::TargetSelection selection;
  if (std::string error = selectCapiTarget(target, targetOptions, selection);
      !error.empty())
    return makeError(error);
  exe->target = selection.target;
  exe->options = std::move(selection.options);

  exe->lowered = module->module->clone();
  auto main = exe->lowered->lookupSymbol<func::FuncOp>("main");
  if (!main)
    return makeError("the module has no func.func @main");
  exe->signature = main.getFunctionType();
  for (Type t : exe->signature.getInputs())
    exe->inputs.push_back(describe(t));
  for (Type t : exe->signature.getResults())
    exe->outputs.push_back(describe(t));
  PassManager pm(&context->context);
  exe->target->buildPipeline(pm, *exe->options);
  if (failed(pm.run(*exe->lowered)))
    return contextError(context, "compilation failed");
  *out = exe.release();
  return nullptr;
}

void sparsec_executable_destroy(sparsec_executable executable) {
  delete executable;
}

sparsec_error sparsec_executable_print(sparsec_executable executable,
                                       char **out) {
  if (!executable || !out)
    return makeError("sparsec_executable_print: executable and out are "
                     "needed");
  executable->context->diagnostics.clear();
  std::string text;
  llvm::raw_string_ostream os(text);
  if (failed(executable->target->emit(*executable->lowered,
                                      sparsec::ArtifactKind::LoweredMLIR, os,
                                      *executable->options)))
    return contextError(executable->context);
  *out = copyString(text);
  return nullptr;
}

sparsec_error sparsec_executable_save(sparsec_executable executable,
                                      const char *dir) {
  if (!executable || !dir)
    return makeError("sparsec_executable_save: executable and dir are needed");
  executable->context->diagnostics.clear();
  if (failed(executable->target->emitArtifact(*executable->lowered, dir,
                                              *executable->options)))
    return contextError(executable->context);
  return nullptr;
}

size_t sparsec_executable_num_inputs(sparsec_executable executable) {
  return executable ? executable->inputs.size() : 0;
}

size_t sparsec_executable_num_outputs(sparsec_executable executable) {
  return executable ? executable->outputs.size() : 0;
}

void sparsec_executable_signature(sparsec_executable executable, int isOutput,
                                  size_t i, const char **dtype, int64_t *rank,
                                  const int64_t **shape) {
  const std::vector<Argument> *args = !executable ? nullptr
                                      : isOutput  ? &executable->outputs
                                                  : &executable->inputs;
  const Argument *arg = args && i < args->size() ? &(*args)[i] : nullptr;
  if (dtype)
    *dtype = arg ? arg->dtype.c_str() : nullptr;
  if (rank)
    *rank = arg ? int64_t(arg->shape.size()) : 0;
  if (shape)
    *shape = arg ? arg->shape.data() : nullptr;
}

sparsec_error sparsec_executable_run(sparsec_executable executable,
                                     const sparsec_array *inputs,
                                     size_t numInputs, sparsec_array **outputs,
                                     size_t *numOutputs) {
  if (!executable || (!inputs && numInputs) || !outputs || !numOutputs)
    return makeError("sparsec_executable_run: executable, inputs, outputs "
                     "and num_outputs are needed");
  *outputs = nullptr;
  *numOutputs = 0;
  executable->context->diagnostics.clear();
  std::vector<sparsec::NpyArray> in;
  for (size_t i = 0; i < numInputs; ++i) {
    const sparsec_array &a = inputs[i];
    if (!a.dtype || a.rank < 0 || (a.rank && !a.shape))
      return makeError("input " + std::to_string(i) +
                       ": dtype and shape are needed");
    sparsec::NpyArray array;
    array.dtype = a.dtype;
    array.shape.assign(a.shape, a.shape + a.rank);
    int64_t elementSize = sparsec::NpyArray::elementSize(array.dtype);
    if (elementSize == 0)
      return makeError("input " + std::to_string(i) + ": unsupported dtype '" +
                       array.dtype + "'");
    for (int64_t d : array.shape)
      if (d < 0)
        return makeError("input " + std::to_string(i) + ": negative dimension");
    int64_t bytes = array.numElements() * elementSize;
    if (bytes && !a.data)
      return makeError("input " + std::to_string(i) + ": data is NULL");
    array.data.assign(static_cast<const char *>(a.data),
                      static_cast<const char *>(a.data) + bytes);
    in.push_back(std::move(array));
  }
  std::call_once(executable->prepareOnce, [&] {
    executable->prepared = executable->target->prepare(
        *executable->lowered, executable->signature, *executable->options);
    // A target that cannot run here said so; Target::run says what it does
    // instead (or the same error again).
    if (!executable->prepared)
      executable->context->diagnostics.clear();
  });
  std::vector<sparsec::NpyArray> out;
  if (executable->prepared ? failed(executable->prepared->run(in, out))
                           : failed(executable->target->run(
                                 *executable->lowered, executable->signature,
                                 in, out, *executable->options)))
    return contextError(executable->context, "the run failed");
  auto *arrays = static_cast<sparsec_array *>(
      std::calloc(out.size() + 1, sizeof(sparsec_array)));
  for (size_t i = 0; i < out.size(); ++i) {
    arrays[i].dtype = copyString(out[i].dtype);
    arrays[i].rank = int64_t(out[i].shape.size());
    auto *shape = static_cast<int64_t *>(
        std::malloc(sizeof(int64_t) * (out[i].shape.size() + 1)));
    std::copy(out[i].shape.begin(), out[i].shape.end(), shape);
    arrays[i].shape = shape;
    void *data = std::malloc(out[i].data.size() + 1);
    std::memcpy(data, out[i].data.data(), out[i].data.size());
    arrays[i].data = data;
  }
  *outputs = arrays;
  *numOutputs = out.size();
  return nullptr;
}

void sparsec_arrays_free(sparsec_array *arrays, size_t count) {
  if (!arrays)
    return;
  for (size_t i = 0; i < count; ++i) {
    std::free(const_cast<char *>(arrays[i].dtype));
    std::free(const_cast<int64_t *>(arrays[i].shape));
    std::free(arrays[i].data);
  }
  std::free(arrays);
}

} // extern "C"
