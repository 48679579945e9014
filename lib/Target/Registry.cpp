//===- Registry.cpp - the targets linked into this program ----------------===//
#include "sparsec/Support/Npy.h"
#include "sparsec/Target/Target.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

#include <algorithm>

using namespace mlir;

namespace sparsec {

namespace {
struct RequireStaticShapesPass
    : mlir::PassWrapper<RequireStaticShapesPass,
                        mlir::OperationPass<mlir::ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(RequireStaticShapesPass)
  explicit RequireStaticShapesPass(llvm::StringRef target) : target(target) {}
  llvm::StringRef getArgument() const override {
    return "sparsec-require-static-shapes";
  }
  void runOnOperation() override {
    auto main = getOperation().lookupSymbol<mlir::func::FuncOp>("main");
    if (!main)
      return;
    auto isDynamic = [](mlir::Type t) {
      auto shaped = llvm::dyn_cast<mlir::ShapedType>(t);
      return shaped && shaped.hasRank() && !shaped.hasStaticShape();
    };
    mlir::FunctionType type = main.getFunctionType();
    for (auto [i, t] : llvm::enumerate(type.getInputs()))
      if (isDynamic(t)) {
        main.emitError("the ")
            << target << " target compiles static shapes only: input " << i
            << " is " << t
            << "; give its sizes with --input-shape (dynamic dimensions run "
               "on the host target)";
        return signalPassFailure();
      }
    for (auto [i, t] : llvm::enumerate(type.getResults()))
      if (isDynamic(t)) {
        main.emitError("the ")
            << target << " target compiles static shapes only: output " << i
            << " is " << t;
        return signalPassFailure();
      }
  }
  std::string target;
};
} // namespace

std::unique_ptr<mlir::Pass>
createRequireStaticShapesPass(llvm::StringRef targetName) {
  return std::make_unique<RequireStaticShapesPass>(targetName);
}

namespace {
/// Options of a target that declares none.
struct EmptyTargetOptions : TargetOptions {};
} // namespace

InputView InputView::of(const NpyArray &array) {
  return {array.dtype, array.shape, array.data.data()};
}

std::vector<InputView> InputView::of(const std::vector<NpyArray> &arrays) {
  std::vector<InputView> views;
  for (const NpyArray &array : arrays)
    views.push_back(of(array));
  return views;
}

LogicalResult PreparedModel::run(const std::vector<NpyArray> &inputs,
                                 std::vector<NpyArray> &outputs) {
  return run(InputView::of(inputs), outputs);
}

std::unique_ptr<TargetOptions> Target::createOptions() const {
  return std::make_unique<EmptyTargetOptions>();
}

std::unique_ptr<PreparedModel> Target::prepare(ModuleOp lowered, FunctionType,
                                               const TargetOptions &) const {
  lowered.emitError() << "target '" << getName()
                      << "' cannot run models in this process";
  return nullptr;
}

LogicalResult Target::emitArtifact(ModuleOp module, llvm::StringRef,
                                   const TargetOptions &) const {
  return module.emitError()
         << "target '" << getName() << "' does not write artifact directories";
}

void TargetRegistry::add(std::unique_ptr<Target> target) {
  targets.push_back(std::move(target));
}

const Target *TargetRegistry::lookup(llvm::StringRef name) const {
  for (const auto &t : targets)
    if (t->getName() == name)
      return t.get();
  return nullptr;
}

std::vector<const Target *> TargetRegistry::getTargets() const {
  std::vector<const Target *> result;
  for (const auto &t : targets)
    result.push_back(t.get());
  return result;
}

std::string TargetRegistry::getNames() const {
  std::string names;
  for (const auto &t : targets)
    names += (names.empty() ? "" : ", ") + t->getName().str();
  return names;
}

std::string describeNpyType(const std::string &dtype,
                            llvm::ArrayRef<int64_t> shape) {
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

std::string getNpyDescr(Type t) {
  if (t.isF32())
    return "<f4";
  if (t.isF64())
    return "<f8";
  if (t.isF16())
    return "<f2";
  if (t.isInteger(64))
    return "<i8";
  if (t.isInteger(32))
    return "<i4";
  if (t.isInteger(16))
    return "<i2";
  if (t.isInteger(8))
    return "|i1";
  if (t.isInteger(1))
    return "|b1";
  return "";
}

void registerTargetPipelines() {
  for (const Target *target : TargetRegistry::get().getTargets()) {
    std::string arg = ("sparsec-" + target->getName() + "-pipeline").str();
    std::string description =
        ("Lower a sparsec module for the " + target->getName() +
         " target: " + target->getDescription())
            .str();
    registerPassPipeline(
        arg, description,
        [target](
            OpPassManager &pm, llvm::StringRef text,
            llvm::function_ref<LogicalResult(const llvm::Twine &)> errorHandler)
            -> LogicalResult {
          std::unique_ptr<TargetOptions> options = target->createOptions();
          if (std::string error = options->parse(text, target->getName());
              !error.empty())
            return errorHandler(error);
          if (std::string error = options->validate(); !error.empty())
            return errorHandler(error);
          target->buildPipeline(pm, *options);
          return success();
        },
        [target](llvm::function_ref<void(const detail::PassOptions &)> fn) {
          fn(*target->createOptions());
        });
  }
}

} // namespace sparsec
