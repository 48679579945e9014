//===- PlanKernels.cpp - sparsec-cuda-plan-kernels ------------------------===//
//
// Decides how the cuda target runs each op of func @main, at sparsec-dialect
// level (docs/CUDABackend.md): packed 2:4 / HiNM linear layers become
// per-layer PTX kernels with the bias Add and ReLU/GELU after them fused into
// their epilogue; dense linear layers, ReLU and Add run on the host in the
// runtime. Anything else is refused with the op's location. The decisions
// are attached as attributes (CUDAPlan.h) that the artifact writer reads.
//
//===----------------------------------------------------------------------===//
#include "CUDAPlan.h"

#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Runtime/ArtifactFormat.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <cmath>
#include <cstring>

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCUDAPLANKERNELS
#include "sparsec/Target/CUDA/Passes.h.inc"
} // namespace sparsec

using namespace mlir;

namespace sparsec::cudaplan {

std::string layerName(Operation *op) {
  if (auto loc = dyn_cast<NameLoc>(op->getLoc()))
    return loc.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(op->getLoc()))
    for (Location inner : fused.getLocations())
      if (auto loc = dyn_cast<NameLoc>(inner))
        return loc.getName().str();
  return "";
}

InFlightDiagnostic opError(Operation *op) {
  InFlightDiagnostic diag = emitError(op->getLoc());
  std::string name = layerName(op);
  if (!name.empty())
    diag << "layer '" << name << "' ";
  diag << "(" << op->getName() << "): ";
  return diag;
}

/// The constant f32 elements behind `value`, or null.
static ElementsAttr f32Constant(Value value) {
  auto cst = value.getDefiningOp<arith::ConstantOp>();
  auto attr = cst ? dyn_cast<ElementsAttr>(cst.getValue()) : ElementsAttr();
  return attr && attr.getElementType().isF32() ? attr : ElementsAttr();
}

FailureOr<std::vector<float>> constantF32(Operation *user, Value value,
                                          StringRef what) {
  ElementsAttr attr = f32Constant(value);
  if (!attr)
    return opError(user) << "the cuda target needs the " << what
                         << " to be an f32 constant";
  std::optional<RawBytes> raw = RawBytes::get(attr);
  if (!raw)
    return opError(user) << "cannot read the " << what;
  std::vector<float> out(raw->view().size() / 4);
  std::memcpy(out.data(), raw->view().data(), out.size() * 4);
  return out;
}

std::string validatePlanOptions(const SparsecCudaPlanKernelsOptions &options,
                                StringRef prefix) {
  std::string p = prefix.str();
  const std::string &arch = options.arch, &dtype = options.dtype;
  const std::string &wgmma = options.wgmma;
  if (arch != "sm_80" && arch != "sm_90a")
    return p + "arch must be sm_80 or sm_90a, not '" + arch + "'";
  if (!dtype.empty() && dtype != "f16" && dtype != "bf16")
    return p + "dtype must be f16 or bf16, not '" + dtype + "'";
  if (wgmma != "auto" && wgmma != "async" && wgmma != "sync" && wgmma != "off")
    return p + "wgmma must be auto, async, sync or off, not '" + wgmma + "'";
  // The generator names the legal tiles per instruction; this only keeps
  // absurd values out of its arithmetic.
  if (options.tileN < 0 || options.tileN > 4096)
    return p + "tile-n must be 0 (default) or a tile size, not " +
           std::to_string(options.tileN);
  if (options.tileM < 0 || options.tileM > 4096)
    return p + "tile-m must be 0 (auto) or a tile size, not " +
           std::to_string(options.tileM);
  return "";
}

namespace {

/// Elementwise linalg.generic kinds the runtime knows.
enum class Elementwise { Relu, Add, Unknown };

Elementwise classify(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1 ||
      !llvm::all_of(op.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }) ||
      op.getNumParallelLoops() != op.getNumLoops())
    return Elementwise::Unknown;
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Operation *def = yield.getOperand(0).getDefiningOp();
  if (!def)
    return Elementwise::Unknown;
  auto isArg = [&](Value v, unsigned i) { return v == body.getArgument(i); };
  auto isZero = [](Value v) {
    auto cst = v.getDefiningOp<arith::ConstantOp>();
    auto f = cst ? dyn_cast<FloatAttr>(cst.getValue()) : FloatAttr();
    return f && f.getValue().isZero();
  };
  if (op.getNumDpsInputs() == 1 &&
      isa<arith::MaximumFOp, arith::MaxNumFOp>(def))
    if ((isArg(def->getOperand(0), 0) && isZero(def->getOperand(1))) ||
        (isArg(def->getOperand(1), 0) && isZero(def->getOperand(0))))
      return Elementwise::Relu;
  if (op.getNumDpsInputs() == 2 && isa<arith::AddFOp>(def) &&
      ((isArg(def->getOperand(0), 0) && isArg(def->getOperand(1), 1)) ||
       (isArg(def->getOperand(0), 1) && isArg(def->getOperand(1), 0))) &&
      op.getDpsInputs()[0].getType() == op.getDpsInputs()[1].getType())
    return Elementwise::Add;
  return Elementwise::Unknown;
}

/// The single op of an elementwise generic's body (before its yield), or
/// null when the generic is not a one-op elementwise map.
Operation *bodyOp(linalg::GenericOp op) {
  if (op.getNumDpsInits() != 1 || op.getNumParallelLoops() != op.getNumLoops())
    return nullptr;
  auto yield = cast<linalg::YieldOp>(op.getRegion().front().getTerminator());
  return yield.getOperand(0).getDefiningOp();
}

/// The generic that is `v`'s only user, or null.
linalg::GenericOp soleGenericUser(Value v) {
  if (!v.hasOneUse())
    return {};
  return dyn_cast<linalg::GenericOp>(*v.user_begin());
}

/// Whether `op` computes `kind`(v, c) (either order for commutative kinds)
/// elementwise, with c a scalar f32 constant close to `constant`.
template <typename BinaryOp>
bool isScalarOp(linalg::GenericOp op, Value v, double constant) {
  Operation *def = op ? bodyOp(op) : nullptr;
  if (!def || !isa<BinaryOp>(def) || op.getNumDpsInputs() != 2)
    return false;
  Block &body = op.getRegion().front();
  unsigned vIndex = op.getDpsInputs()[0] == v ? 0 : 1;
  if (op.getDpsInputs()[vIndex] != v)
    return false;
  Value other = op.getDpsInputs()[1 - vIndex];
  auto cst = other.getDefiningOp<arith::ConstantOp>();
  auto dense =
      cst ? dyn_cast<DenseElementsAttr>(cst.getValue()) : DenseElementsAttr();
  if (!dense || !dense.isSplat() || !dense.getElementType().isF32())
    return false;
  double value = dense.getSplatValue<APFloat>().convertToDouble();
  bool operandsOk = (def->getOperand(0) == body.getArgument(vIndex) &&
                     def->getOperand(1) == body.getArgument(1 - vIndex)) ||
                    (isa<arith::AddFOp, arith::MulFOp>(def) &&
                     def->getOperand(1) == body.getArgument(vIndex) &&
                     def->getOperand(0) == body.getArgument(1 - vIndex));
  return operandsOk && std::abs(value - constant) <= 1e-5 * std::abs(constant);
}

/// GELU exactly as torch exports it: x * (erf(x / sqrt 2) + 1) * 0.5.
/// Returns the generic producing the GELU of `x`, or null.
linalg::GenericOp matchGelu(Value x) {
  linalg::GenericOp div, mul;
  for (Operation *user : x.getUsers()) {
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic)
      return {};
    if (isScalarOp<arith::DivFOp>(generic, x, std::sqrt(2.0)))
      div = generic;
    else
      mul = generic;
  }
  if (!div || !mul ||
      std::distance(x.getUsers().begin(), x.getUsers().end()) != 2)
    return {};
  linalg::GenericOp erf = soleGenericUser(div.getResult(0));
  if (!erf || erf.getNumDpsInputs() != 1 || !bodyOp(erf) ||
      !isa<math::ErfOp>(bodyOp(erf)))
    return {};
  linalg::GenericOp plusOne = soleGenericUser(erf.getResult(0));
  if (!isScalarOp<arith::AddFOp>(plusOne, erf.getResult(0), 1.0) ||
      soleGenericUser(plusOne.getResult(0)) != mul)
    return {};
  Operation *product = bodyOp(mul);
  if (!product || !isa<arith::MulFOp>(product) || mul.getNumDpsInputs() != 2 ||
      !llvm::is_contained(mul.getDpsInputs(), plusOne.getResult(0)) ||
      !llvm::all_of(mul.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return {};
  linalg::GenericOp half = soleGenericUser(mul.getResult(0));
  if (!isScalarOp<arith::MulFOp>(half, mul.getResult(0), 0.5))
    return {};
  return half;
}

} // namespace

std::optional<std::vector<float>> matchBiasAdd(linalg::GenericOp op, Value v,
                                               int64_t rows) {
  Operation *def = op ? bodyOp(op) : nullptr;
  if (!def || !isa<arith::AddFOp>(def) || op.getNumDpsInputs() != 2)
    return std::nullopt;
  unsigned vIndex = op.getDpsInputs()[0] == v ? 0 : 1;
  Value other = op.getDpsInputs()[1 - vIndex];
  auto cst = other.getDefiningOp<arith::ConstantOp>();
  auto type = dyn_cast<RankedTensorType>(other.getType());
  if (op.getDpsInputs()[vIndex] != v || !cst || !type || type.getRank() != 1 ||
      type.getDimSize(0) != rows || !type.getElementType().isF32())
    return std::nullopt;
  AffineMap map = op.getIndexingMapsArray()[1 - vIndex];
  if (map.getNumResults() != 1 ||
      map.getResult(0) !=
          getAffineDimExpr(map.getNumDims() - 1, op.getContext()) ||
      !op.getIndexingMapsArray()[vIndex].isIdentity())
    return std::nullopt;
  auto attr = dyn_cast<ElementsAttr>(cst.getValue());
  std::optional<RawBytes> raw = attr ? RawBytes::get(attr) : std::nullopt;
  if (!raw)
    return std::nullopt;
  std::vector<float> values(rows);
  std::memcpy(values.data(), raw->view().data(), rows * 4);
  return values;
}

namespace {

/// What follows a layer and runs in its epilogue: a bias add, then ReLU or
/// GELU, each the only user of the value before it.
struct Epilogue {
  bool biasAdd = false;
  std::string activation = "none"; // none | relu | gelu
  Value result;                    // the value the chain produces
  /// The generics it replaces, with their role.
  SmallVector<std::pair<Operation *, StringRef>> fused;
};

Epilogue matchEpilogue(Value v, int64_t rows) {
  Epilogue epilogue;
  epilogue.result = v;
  if (linalg::GenericOp add = soleGenericUser(v))
    if (matchBiasAdd(add, v, rows)) {
      epilogue.biasAdd = true;
      epilogue.result = add.getResult(0);
      epilogue.fused.push_back({add, role::kBiasAdd});
    }
  Value cur = epilogue.result;
  if (linalg::GenericOp relu = soleGenericUser(cur);
      relu && classify(relu) == Elementwise::Relu) {
    epilogue.activation = "relu";
    epilogue.result = relu.getResult(0);
    epilogue.fused.push_back({relu, role::kRelu});
  } else if (linalg::GenericOp gelu = matchGelu(cur)) {
    epilogue.activation = "gelu";
    epilogue.result = gelu.getResult(0);
    // The chain: every generic between `cur` and the GELU's result.
    auto contains = [&](Operation *op) {
      return llvm::any_of(epilogue.fused,
                          [&](const auto &f) { return f.first == op; });
    };
    SmallVector<Operation *> work(cur.getUsers().begin(), cur.getUsers().end());
    while (!work.empty()) {
      Operation *op = work.pop_back_val();
      if (contains(op))
        continue;
      epilogue.fused.push_back({op, role::kGelu});
      if (op != gelu.getOperation())
        for (Operation *user : op->getResult(0).getUsers())
          work.push_back(user);
    }
  }
  return epilogue;
}

class Planner {
public:
  Planner(func::FuncOp main, const SparsecCudaPlanKernelsOptions &options)
      : main(main), options(options), b(main.getContext()) {}
  LogicalResult run();

private:
  LogicalResult planSparse(LinearOp op, const Epilogue &epilogue, int layer,
                           NamedAttrList &step);
  LogicalResult planDense(LinearOp op, const Epilogue &epilogue, int layer,
                          NamedAttrList &step);
  void set(Operation *op, NamedAttrList &step) {
    op->setAttr(kStepAttr, step.getDictionary(op->getContext()));
  }

  func::FuncOp main;
  const SparsecCudaPlanKernelsOptions &options;
  Builder b;
  /// Values the runtime holds a tensor for.
  llvm::DenseSet<Value> runtime;
  llvm::SmallPtrSet<Operation *, 16> fusedOps;
};

LogicalResult Planner::planSparse(LinearOp op, const Epilogue &epilogue,
                                  int layer, NamedAttrList &step) {
  PackedWeightAttr packed = op.getPackedWeightAttr();
  auto weightType = cast<ShapedType>(op.getWeight().getType());
  cuda::LinearKernelConfig config;
  config.rows = weightType.getDimSize(0);
  config.cols = weightType.getDimSize(1);
  config.name = "sparsec_linear_" + std::to_string(layer);
  if (!cuda::parseArch(options.arch, config.arch))
    return opError(op) << "unknown CUDA arch '" << options.arch
                       << "' (sm_80 or sm_90a)";
  Type valueElt =
      cast<ShapedType>(packed.getValues().getType()).getElementType();
  std::string valueType = options.dtype;
  if (valueType.empty())
    valueType = valueElt.isBF16() ? "bf16" : "f16";
  if (!cuda::parseValueType(valueType, config.valueType))
    return opError(op) << "unknown CUDA value type '" << valueType
                       << "' (f16 or bf16)";
  config.tileN = options.tileN;
  if (!cuda::parseWgmmaMode(options.wgmma, config.wgmma))
    return opError(op) << "unknown wgmma mode '" << options.wgmma
                       << "' (auto, async, sync or off)";
  config.tileM = options.tileM;
  if (op.getBias() && failed(constantF32(op, op.getBias(), "bias")))
    return failure();
  config.hasBias = epilogue.biasAdd || op.getBias();
  if (!cuda::parseActivation(epilogue.activation, config.activation))
    return opError(op) << "unknown activation " << epilogue.activation;
  std::vector<std::vector<int64_t>> tileColumns;
  if (failed(describeSparseWeight(op, config, tileColumns)))
    return failure();
  if (std::string error = cuda::verifyConfig(config); !error.empty())
    return opError(op) << "cannot generate a CUDA kernel: " << error;
  cuda::KernelLaunchInfo info = cuda::launchInfo(config);

  step.set(key::kKind, b.getStringAttr(kind::kSparseKernel));
  step.set(key::kLayer, b.getI64IntegerAttr(layer));
  step.set(key::kKernel, b.getStringAttr(config.name));
  step.set(key::kFormat, b.getStringAttr(config.hinm ? artifact::kFormatHinm
                                                     : artifact::kFormatNm24));
  step.set(key::kInstruction, b.getStringAttr(info.mma));
  step.set(key::kTileM, b.getI64IntegerAttr(info.tileM));
  step.set(key::kTileN, b.getI64IntegerAttr(info.tileN));
  step.set(key::kDtype, b.getStringAttr(cuda::valueTypeName(config.valueType)));
  step.set(key::kBias, b.getBoolAttr(config.hasBias));
  step.set(key::kEpilogue, b.getStringAttr(epilogue.activation));
  return success();
}

LogicalResult Planner::planDense(LinearOp op, const Epilogue &epilogue,
                                 int layer, NamedAttrList &step) {
  // The weight's and bias's values are read by the writer; the plan only
  // checks that they are constants the runtime can be given.
  if (!f32Constant(op.getWeight()))
    return opError(op) << "the cuda target needs the weight to be an f32 "
                          "constant";
  if (op.getBias() && failed(constantF32(op, op.getBias(), "bias")))
    return failure();
  step.set(key::kKind, b.getStringAttr(kind::kHostDenseLinear));
  step.set(key::kLayer, b.getI64IntegerAttr(layer));
  step.set(key::kBias, b.getBoolAttr(epilogue.biasAdd || op.getBias()));
  step.set(key::kEpilogue, b.getStringAttr(epilogue.activation));
  return success();
}

LogicalResult Planner::run() {
  main->removeAttr(kPlanAttr);
  for (Operation &op : main.getBody().front())
    op.removeAttr(kStepAttr);

  for (BlockArgument arg : main.getArguments())
    runtime.insert(arg);
  int nextLayer = 0;
  for (Operation &op : main.getBody().front()) {
    if (isa<arith::ConstantOp, tensor::EmptyOp>(op))
      continue;
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        if (!runtime.contains(v))
          return opError(ret) << "the cuda target cannot return a constant";
      continue;
    }
    for (Value operand : op.getOperands())
      if (!fusedOps.contains(&op) && isa<RankedTensorType>(operand.getType()) &&
          !runtime.contains(operand) &&
          !operand.getDefiningOp<arith::ConstantOp>() &&
          !operand.getDefiningOp<tensor::EmptyOp>())
        return opError(&op) << "operand has no runtime tensor";
    if (auto linear = dyn_cast<LinearOp>(op)) {
      // Bias add and ReLU/GELU after the layer run in its epilogue (sparse
      // layers) or right after it on the host (dense layers).
      int64_t rows =
          cast<ShapedType>(linear.getWeight().getType()).getDimSize(0);
      Epilogue epilogue = matchEpilogue(linear.getResult(), rows);
      int layer = nextLayer++;
      NamedAttrList step;
      if (failed(linear.getPackedWeightAttr()
                     ? planSparse(linear, epilogue, layer, step)
                     : planDense(linear, epilogue, layer, step)))
        return failure();
      set(linear, step);
      for (auto [fused, role] : epilogue.fused) {
        fusedOps.insert(fused);
        NamedAttrList into;
        into.set(key::kKind, b.getStringAttr(kind::kFused));
        into.set(key::kLayer, b.getI64IntegerAttr(layer));
        into.set(key::kRole, b.getStringAttr(role));
        set(fused, into);
      }
      runtime.insert(linear.getResult());
      runtime.insert(epilogue.result);
      continue;
    }
    if (fusedOps.contains(&op))
      continue; // runs in the epilogue of the layer before it
    if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
      Elementwise kind = classify(generic);
      if (kind == Elementwise::Unknown)
        return opError(&op)
               << "the cuda target cannot run this linalg.generic yet "
                  "(supported between layers: ReLU, GELU and Add)";
      NamedAttrList step;
      step.set(key::kKind,
               b.getStringAttr(kind == Elementwise::Relu ? kind::kHostRelu
                                                         : kind::kHostAdd));
      set(generic, step);
      runtime.insert(generic.getResult(0));
      continue;
    }
    return opError(&op) << "the cuda target cannot run this op yet "
                           "(supported: sparsec.linear, bias Add, ReLU, "
                           "GELU, Add)";
  }
  // Last, so that only a complete plan marks @main as planned.
  NamedAttrList plan;
  plan.set(key::kArch, b.getStringAttr(options.arch));
  plan.set(key::kWgmma, b.getStringAttr(options.wgmma));
  main->setAttr(kPlanAttr, plan.getDictionary(main.getContext()));
  return success();
}

} // namespace

LogicalResult planKernels(ModuleOp module,
                          const SparsecCudaPlanKernelsOptions &options) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  if (!main)
    return emitError(module.getLoc()) << "the module has no func.func @main";
  if (std::string error = validatePlanOptions(options, ""); !error.empty())
    return emitError(module.getLoc()) << "sparsec-cuda-plan-kernels: " << error;
  return Planner(main, options).run();
}

namespace {
struct PlanKernelsPass
    : public impl::SparsecCudaPlanKernelsBase<PlanKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    SparsecCudaPlanKernelsOptions options;
    options.arch = arch;
    options.dtype = dtype;
    options.tileN = tileN;
    options.tileM = tileM;
    options.wgmma = wgmma;
    if (failed(planKernels(getOperation(), options)))
      signalPassFailure();
  }
};
} // namespace

} // namespace sparsec::cudaplan
