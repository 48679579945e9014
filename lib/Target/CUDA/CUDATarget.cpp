//===- CUDATarget.cpp - artifact directories for NVIDIA sparse tensor cores
//===//
//
// Maps func @main, at sparsec-dialect level, onto the runtime's step list
// (docs/CUDABackend.md): packed 2:4 / HiNM linear layers become per-layer PTX
// kernels (ReLU directly after a layer is fused into its epilogue); dense
// linear layers, ReLU and Add run on the host in the runtime. Anything else
// is refused with the op's location.
//
//===----------------------------------------------------------------------===//
#include "sparsec-c/Runtime.h"
#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/KernelGen/KernelGen.h"
#include "sparsec/Runtime/ArtifactFormat.h"
#include "sparsec/Support/Npy.h"
#include "sparsec/Target/Target.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace mlir;

namespace sparsec {
namespace {

/// `--cuda-<key>` on the command line.
struct CudaTargetOptions : TargetOptions {
  Option<std::string> arch{
      *this, "arch",
      llvm::cl::desc("cuda target: sm_80 (mma.sp, Ampere and later) or "
                     "sm_90a (Hopper: wgmma.mma_async.sp or mma.sp per "
                     "layer, see --cuda-wgmma)"),
      llvm::cl::init("sm_80")};
  Option<std::string> valueType{
      *this, "dtype",
      llvm::cl::desc("cuda target: f16 or bf16 weights and activations "
                     "(default: the packed value type, f16 unless it is "
                     "bf16)"),
      llvm::cl::init("")};
  Option<int64_t> tileN{
      *this, "tile-n",
      llvm::cl::desc("cuda target: tokens per CTA (sm_80: 32/64/128, "
                     "sm_90a: 64/128/256; 0 = default)"),
      llvm::cl::init(0)};
  Option<int64_t> tileM{
      *this, "tile-m",
      llvm::cl::desc("cuda target: rows per CTA, sharing the activation "
                     "tile: 64, 128, or 256 with wgmma on sm_90a (HiNM needs "
                     "V % tile_m == 0); 0 = auto"),
      llvm::cl::init(0)};
  Option<std::string> wgmma{
      *this, "wgmma",
      llvm::cl::desc(
          "cuda target, sm_90a: auto (per layer, the instruction that "
          "measured faster on the H200: wgmma for 2:4 layers of >= 2048 "
          "rows, mma.sp otherwise), async (wgmma, A and B from shared "
          "memory, one wgmma group in flight), sync (wgmma, A from "
          "registers, each wgmma waited for) or off (mma.sp everywhere)"),
      llvm::cl::init("auto")};
  Option<std::string> device{
      *this, "device",
      llvm::cl::desc("cuda target, --run: cuda, emulator (the CPU PTX "
                     "emulator) or auto (cuda when a driver is present)"),
      llvm::cl::init("auto")};

  std::string validate() const override {
    if (arch != "sm_80" && arch != "sm_90a")
      return "--cuda-arch must be sm_80 or sm_90a, not '" + arch + "'";
    if (!valueType.empty() && valueType != "f16" && valueType != "bf16")
      return "--cuda-dtype must be f16 or bf16, not '" + valueType + "'";
    if (device != "auto" && device != "cuda" && device != "emulator")
      return "--cuda-device must be cuda, emulator or auto, not '" + device +
             "'";
    if (wgmma != "auto" && wgmma != "async" && wgmma != "sync" &&
        wgmma != "off")
      return "--cuda-wgmma must be auto, async, sync or off, not '" + wgmma +
             "'";
    // The generator names the legal tiles per instruction; this only keeps
    // absurd values out of its arithmetic.
    if (tileN < 0 || tileN > 4096)
      return "--cuda-tile-n must be 0 (default) or a tile size, not " +
             std::to_string(tileN);
    if (tileM < 0 || tileM > 4096)
      return "--cuda-tile-m must be 0 (auto) or a tile size, not " +
             std::to_string(tileM);
    return "";
  }
};

const CudaTargetOptions &cudaOptions(const TargetOptions &options) {
  return static_cast<const CudaTargetOptions &>(options);
}

std::string sanitize(StringRef name) {
  std::string out;
  for (char c : name)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

std::string layerName(Operation *op) {
  if (auto loc = dyn_cast<NameLoc>(op->getLoc()))
    return loc.getName().str();
  if (auto fused = dyn_cast<FusedLoc>(op->getLoc()))
    for (Location inner : fused.getLocations())
      if (auto loc = dyn_cast<NameLoc>(inner))
        return loc.getName().str();
  return "";
}

/// An error naming the op (and its layer name, when it has one); unlike
/// op->emitError it does not dump the op, which can be megabytes of weights.
InFlightDiagnostic opError(Operation *op) {
  InFlightDiagnostic diag = emitError(op->getLoc());
  std::string name = layerName(op);
  if (!name.empty())
    diag << "layer '" << name << "' ";
  diag << "(" << op->getName() << "): ";
  return diag;
}

/// Reads an f32 constant operand (weight or bias).
FailureOr<std::vector<float>> constantF32(Operation *user, Value value,
                                          StringRef what) {
  auto cst = value.getDefiningOp<arith::ConstantOp>();
  auto attr = cst ? dyn_cast<ElementsAttr>(cst.getValue()) : ElementsAttr();
  if (!attr || !attr.getElementType().isF32())
    return opError(user) << "the cuda target needs the " << what
                         << " to be an f32 constant";
  std::optional<RawBytes> raw = RawBytes::get(attr);
  if (!raw)
    return opError(user) << "cannot read the " << what;
  std::vector<float> out(raw->view().size() / 4);
  std::memcpy(out.data(), raw->view().data(), out.size() * 4);
  return out;
}

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

/// A bias add after a layer: addf(v, b) with b an f32 constant of `rows`
/// values broadcast along the last dimension. Returns its values.
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

/// What follows a layer and runs in its epilogue: a bias add, then ReLU or
/// GELU, each the only user of the value before it.
struct Epilogue {
  std::vector<float> bias;         // empty: none
  std::string activation = "none"; // none | relu | gelu
  Value result;                    // the value the chain produces
  SmallVector<Operation *> fused;  // the generics it replaces
};

Epilogue matchEpilogue(Value v, int64_t rows) {
  Epilogue epilogue;
  epilogue.result = v;
  if (linalg::GenericOp add = soleGenericUser(v))
    if (auto bias = matchBiasAdd(add, v, rows)) {
      epilogue.bias = std::move(*bias);
      epilogue.result = add.getResult(0);
      epilogue.fused.push_back(add);
    }
  Value cur = epilogue.result;
  if (linalg::GenericOp relu = soleGenericUser(cur);
      relu && classify(relu) == Elementwise::Relu) {
    epilogue.activation = "relu";
    epilogue.result = relu.getResult(0);
    epilogue.fused.push_back(relu);
  } else if (linalg::GenericOp gelu = matchGelu(cur)) {
    epilogue.activation = "gelu";
    epilogue.result = gelu.getResult(0);
    // The chain: every generic between `cur` and the GELU's result.
    SmallVector<Operation *> work(cur.getUsers().begin(), cur.getUsers().end());
    while (!work.empty()) {
      Operation *op = work.pop_back_val();
      if (llvm::is_contained(epilogue.fused, op))
        continue;
      epilogue.fused.push_back(op);
      if (op != gelu.getOperation())
        for (Operation *user : op->getResult(0).getUsers())
          work.push_back(user);
    }
  }
  return epilogue;
}

llvm::json::Array shapeJson(Type type) {
  llvm::json::Array shape;
  for (int64_t d : cast<ShapedType>(type).getShape())
    shape.push_back(d);
  return shape;
}

class ArtifactWriter {
public:
  ArtifactWriter(func::FuncOp main, StringRef dir,
                 const CudaTargetOptions &options)
      : main(main), dir(dir), options(options) {}
  LogicalResult write();

private:
  std::string nameOf(Value v) {
    auto it = names.find(v);
    return it == names.end() ? "" : it->second;
  }
  std::string freshName() { return "t" + std::to_string(nextTensor++); }
  LogicalResult writeArray(Operation *op, const std::string &file,
                           NpyArray array);
  LogicalResult sparseLinear(LinearOp op, const Epilogue &epilogue,
                             llvm::json::Object &step);
  LogicalResult denseLinear(LinearOp op, const Epilogue &epilogue,
                            llvm::json::Object &step);
  FailureOr<std::vector<float>> layerBias(LinearOp op,
                                          const Epilogue &epilogue);

  func::FuncOp main;
  std::string dir;
  const CudaTargetOptions &options;
  llvm::DenseMap<Value, std::string> names;
  llvm::json::Array steps;
  int nextTensor = 0, nextLayer = 0;
  llvm::SmallPtrSet<Operation *, 16> fusedOps;
};

/// The layer's own bias plus a fused bias add (empty when neither exists).
FailureOr<std::vector<float>>
ArtifactWriter::layerBias(LinearOp op, const Epilogue &epilogue) {
  std::vector<float> bias = epilogue.bias;
  if (op.getBias()) {
    FailureOr<std::vector<float>> own = constantF32(op, op.getBias(), "bias");
    if (failed(own))
      return failure();
    if (bias.empty())
      bias = std::move(*own);
    else
      for (size_t i = 0; i < bias.size(); ++i)
        bias[i] += (*own)[i];
  }
  return bias;
}

LogicalResult ArtifactWriter::writeArray(Operation *op, const std::string &file,
                                         NpyArray array) {
  std::string error = writeNpy(dir + "/" + file, array);
  if (!error.empty())
    return opError(op) << error;
  return success();
}

template <typename T>
NpyArray makeArray(const char *dtype, std::vector<int64_t> shape,
                   const std::vector<T> &data) {
  NpyArray array;
  array.dtype = dtype;
  array.shape = std::move(shape);
  array.data.resize(data.size() * sizeof(T));
  std::memcpy(array.data.data(), data.data(), array.data.size());
  return array;
}

LogicalResult ArtifactWriter::sparseLinear(LinearOp op,
                                           const Epilogue &epilogue,
                                           llvm::json::Object &step) {
  PackedWeightAttr packed = op.getPackedWeightAttr();
  Attribute encoding = op.getWeightEncodingAttr();
  auto weightType = cast<ShapedType>(op.getWeight().getType());
  cuda::LinearKernelConfig config;
  config.rows = weightType.getDimSize(0);
  config.cols = weightType.getDimSize(1);
  int layer = nextLayer++;
  config.name = "sparsec_linear_" + std::to_string(layer);
  if (!cuda::parseArch(options.arch, config.arch))
    return opError(op) << "unknown CUDA arch '" << options.arch
                       << "' (sm_80 or sm_90a)";
  Type valueElt =
      cast<ShapedType>(packed.getValues().getType()).getElementType();
  std::string valueType = options.valueType;
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
  FailureOr<std::vector<float>> biasValues = layerBias(op, epilogue);
  if (failed(biasValues))
    return failure();
  std::vector<float> bias = std::move(*biasValues);
  config.hasBias = !bias.empty();
  if (!cuda::parseActivation(epilogue.activation, config.activation))
    return opError(op) << "unknown activation " << epilogue.activation;

  std::vector<std::vector<int64_t>> tileColumns;
  if (auto nm = dyn_cast<NMEncodingAttr>(encoding)) {
    if (nm.getN() != 2 || nm.getM() != 4)
      return opError(op) << "the cuda target runs 2:4 and HiNM layers; "
                         << nm.getN() << ":" << nm.getM()
                         << " has no sparse tensor-core instruction";
  } else if (auto h = dyn_cast<HiNMEncodingAttr>(encoding)) {
    if (h.getN() != 2 || h.getM() != 4)
      return opError(op) << "the cuda target runs HiNM with 2:4 inside, not "
                         << h.getN() << ":" << h.getM();
    config.hinm = true;
    config.v = h.getV();
    config.keptWidth = (int64_t(h.getKept()) + 31) / 32 * 32;
    std::optional<std::vector<uint32_t>> colIdx =
        readIndexArray(packed.getColIdx());
    if (!colIdx)
      return opError(op) << "HiNM layer without readable col_idx";
    // Rows of K_c entries: L_t (`kept` of them), then fillers.
    int64_t width =
        cast<ShapedType>(packed.getColIdx().getType()).getDimSize(1);
    for (size_t t = 0; t * width < colIdx->size(); ++t)
      tileColumns.emplace_back(colIdx->begin() + t * width,
                               colIdx->begin() + t * width + h.getKept());
  } else {
    return opError(op) << "packed weight without an N:M or HiNM encoding";
  }
  if (std::string error = cuda::verifyConfig(config); !error.empty())
    return opError(op) << "cannot generate a CUDA kernel: " << error;

  std::vector<float> dense;
  if (std::string error = unpackLayerWeight(op, dense); !error.empty())
    return opError(op) << error;
  cuda::KernelWeights weights;
  if (std::string error = cuda::packForKernel(
          config, dense.data(), nullptr, config.hinm ? &tileColumns : nullptr,
          bias.empty() ? nullptr : bias.data(), weights);
      !error.empty())
    return opError(op) << error;
  cuda::KernelLaunchInfo info = cuda::launchInfo(config);

  std::string stem = std::to_string(layer) + "_" + sanitize(layerName(op));
  std::string ptxFile = stem + "." + cuda::archName(config.arch) + ".ptx";
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(dir + "/" + ptxFile, ec);
    if (ec)
      return opError(op) << "cannot write " << ptxFile << ": " << ec.message();
    os << cuda::generateLinearKernel(config);
  }
  llvm::json::Object files;
  files[artifact::file::kValues] = stem + ".values.npy";
  files[artifact::file::kMeta] = stem + ".meta.npy";
  if (failed(writeArray(op, stem + ".values.npy",
                        makeArray("<u2", {info.rowsPadded, info.keptWidth / 2},
                                  weights.values))) ||
      failed(writeArray(
          op, stem + ".meta.npy",
          makeArray("<u4", {int64_t(weights.meta.size())}, weights.meta))))
    return failure();
  if (config.hinm) {
    files[artifact::file::kColIdx] = stem + ".col_idx.npy";
    if (failed(writeArray(
            op, stem + ".col_idx.npy",
            makeArray("<u4", {info.rowsPadded / config.v, info.keptWidth},
                      weights.colIdx))))
      return failure();
  }
  if (!bias.empty()) {
    files[artifact::file::kBias] = stem + ".bias.npy";
    if (failed(writeArray(op, stem + ".bias.npy",
                          makeArray("<f4", {config.rows}, bias))))
      return failure();
  }
  step[artifact::key::kOp] = artifact::op::kSparseLinear;
  step[artifact::key::kName] = layerName(op);
  step[artifact::key::kPtx] = ptxFile;
  step[artifact::key::kEntry] = config.name;
  step[artifact::key::kFormat] =
      config.hinm ? artifact::kFormatHinm : artifact::kFormatNm24;
  step[artifact::key::kRows] = config.rows;
  step[artifact::key::kCols] = config.cols;
  step[artifact::key::kValueType] = cuda::valueTypeName(config.valueType);
  step[artifact::key::kActivation] = cuda::activationName(config.activation);
  if (config.hinm)
    step[artifact::key::kV] = config.v;
  step[artifact::key::kKeptWidth] = info.keptWidth;
  step[artifact::key::kRowsPadded] = info.rowsPadded;
  step[artifact::key::kTileM] = info.tileM;
  step[artifact::key::kTileN] = info.tileN;
  step[artifact::key::kMma] = info.mma;
  step[artifact::key::kThreads] = info.threads;
  step[artifact::key::kSharedBytes] = info.sharedBytes;
  step[artifact::key::kDynamicShared] = info.dynamicShared;
  if (info.smallMaxTokens) {
    step[artifact::key::kSmallMaxTokens] = info.smallMaxTokens;
    step[artifact::key::kSmallTileM] = info.smallTileM;
    step[artifact::key::kSmallTileN] = info.smallTileN;
    step[artifact::key::kSmallMma] = info.smallMma;
    step[artifact::key::kSmallThreads] = info.smallThreads;
    step[artifact::key::kSmallSharedBytes] = info.smallSharedBytes;
  }
  step[artifact::key::kFiles] = std::move(files);
  return success();
}

LogicalResult ArtifactWriter::denseLinear(LinearOp op, const Epilogue &epilogue,
                                          llvm::json::Object &step) {
  auto weightType = cast<ShapedType>(op.getWeight().getType());
  int64_t rows = weightType.getDimSize(0), cols = weightType.getDimSize(1);
  FailureOr<std::vector<float>> weight =
      constantF32(op, op.getWeight(), "weight");
  if (failed(weight))
    return failure();
  std::string stem =
      std::to_string(nextLayer++) + "_" + sanitize(layerName(op));
  llvm::json::Object files;
  files[artifact::file::kWeight] = stem + ".weight.npy";
  if (failed(writeArray(op, stem + ".weight.npy",
                        makeArray("<f4", {rows, cols}, *weight))))
    return failure();
  FailureOr<std::vector<float>> bias = layerBias(op, epilogue);
  if (failed(bias))
    return failure();
  if (!bias->empty()) {
    files[artifact::file::kBias] = stem + ".bias.npy";
    if (failed(writeArray(op, stem + ".bias.npy",
                          makeArray("<f4", {rows}, *bias))))
      return failure();
  }
  step[artifact::key::kOp] = artifact::op::kDenseLinear;
  step[artifact::key::kName] = layerName(op);
  step[artifact::key::kRows] = rows;
  step[artifact::key::kCols] = cols;
  step[artifact::key::kFiles] = std::move(files);
  return success();
}

LogicalResult ArtifactWriter::write() {
  llvm::json::Array inputs, outputs;
  auto inputNames = main->getAttrOfType<ArrayAttr>("sparsec.input_names");
  auto outputNames = main->getAttrOfType<ArrayAttr>("sparsec.output_names");
  for (BlockArgument arg : main.getArguments()) {
    std::string name = "input" + std::to_string(arg.getArgNumber());
    if (inputNames && arg.getArgNumber() < inputNames.size())
      if (auto s = dyn_cast<StringAttr>(inputNames[arg.getArgNumber()]))
        name = s.str();
    names[arg] = name;
    inputs.push_back(
        llvm::json::Object{{artifact::key::kName, name},
                           {artifact::key::kShape, shapeJson(arg.getType())},
                           {artifact::key::kDtype, artifact::kDtypeF32}});
  }

  for (Operation &op : main.getBody().front()) {
    if (isa<arith::ConstantOp, tensor::EmptyOp>(op))
      continue;
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        std::string name = nameOf(v);
        if (name.empty())
          return opError(ret) << "the cuda target cannot return a constant";
        std::string outName = name;
        if (outputNames && i < outputNames.size())
          if (auto s = dyn_cast<StringAttr>(outputNames[i]))
            outName = s.str();
        outputs.push_back(
            llvm::json::Object{{artifact::key::kName, outName},
                               {artifact::key::kTensor, name},
                               {artifact::key::kShape, shapeJson(v.getType())},
                               {artifact::key::kDtype, artifact::kDtypeF32}});
      }
      continue;
    }
    for (Value operand : op.getOperands())
      if (!fusedOps.contains(&op) && isa<RankedTensorType>(operand.getType()) &&
          nameOf(operand).empty() &&
          !operand.getDefiningOp<arith::ConstantOp>() &&
          !operand.getDefiningOp<tensor::EmptyOp>())
        return opError(&op) << "operand has no runtime tensor";
    if (auto linear = dyn_cast<LinearOp>(op)) {
      // Bias add and ReLU/GELU after the layer run in its epilogue (sparse
      // layers) or right after it on the host (dense layers).
      int64_t rows =
          cast<ShapedType>(linear.getWeight().getType()).getDimSize(0);
      Epilogue epilogue = matchEpilogue(linear.getResult(), rows);
      fusedOps.insert(epilogue.fused.begin(), epilogue.fused.end());
      llvm::json::Object step;
      step[artifact::key::kInput] = nameOf(linear.getInput());
      bool sparse = static_cast<bool>(linear.getPackedWeightAttr());
      if (failed(sparse ? sparseLinear(linear, epilogue, step)
                        : denseLinear(linear, epilogue, step)))
        return failure();
      std::string out = freshName();
      step[artifact::key::kOutput] = out;
      steps.push_back(std::move(step));
      if (!sparse && epilogue.activation != "none") {
        std::string activated = freshName();
        steps.push_back(
            llvm::json::Object{{artifact::key::kOp, epilogue.activation},
                               {artifact::key::kInput, out},
                               {artifact::key::kOutput, activated}});
        out = activated;
      }
      names[linear.getResult()] = out;
      names[epilogue.result] = out;
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
      llvm::json::Object step;
      std::string out = freshName();
      if (kind == Elementwise::Relu) {
        step[artifact::key::kOp] = artifact::op::kRelu;
        step[artifact::key::kInput] = nameOf(generic.getDpsInputs()[0]);
      } else {
        step[artifact::key::kOp] = artifact::op::kAdd;
        step[artifact::key::kInputs] =
            llvm::json::Array{nameOf(generic.getDpsInputs()[0]),
                              nameOf(generic.getDpsInputs()[1])};
      }
      step[artifact::key::kOutput] = out;
      names[generic.getResult(0)] = out;
      steps.push_back(std::move(step));
      continue;
    }
    return opError(&op) << "the cuda target cannot run this op yet "
                           "(supported: sparsec.linear, bias Add, ReLU, "
                           "GELU, Add)";
  }

  llvm::json::Object manifest{
      {artifact::key::kFormat, artifact::kFormatName},
      {artifact::key::kFormatVersion, artifact::kCurrentVersion},
      {artifact::key::kArch, options.arch.getValue()},
      {artifact::key::kInputs, std::move(inputs)},
      {artifact::key::kOutputs, std::move(outputs)},
      {artifact::key::kSteps, std::move(steps)}};
  std::error_code ec;
  llvm::raw_fd_ostream os(dir + "/" + artifact::kManifestFile, ec);
  if (ec)
    return emitError(main.getLoc())
           << "cannot write manifest: " << ec.message();
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(manifest))) << "\n";
  return success();
}

class CudaTarget : public Target {
public:
  StringRef getName() const override { return "cuda"; }
  StringRef getDescription() const override {
    return "NVIDIA sparse tensor cores: per-layer PTX (mma.sp sm_80, "
           "wgmma.mma_async.sp sm_90a) and packed weights, run by sparsec-run";
  }
  std::unique_ptr<TargetOptions> createOptions() const override {
    return std::make_unique<CudaTargetOptions>();
  }
  void buildPipeline(OpPassManager &, const TargetOptions &) const override {}
  bool prefersArtifact() const override { return true; }
  LogicalResult emit(ModuleOp module, ArtifactKind kind, llvm::raw_ostream &os,
                     const TargetOptions &) const override {
    if (kind == ArtifactKind::LoweredMLIR) {
      module.print(os);
      return success();
    }
    return emitError(module.getLoc())
           << "the cuda target writes an artifact directory: use "
              "--emit=artifact -o <dir>";
  }
  LogicalResult emitArtifact(ModuleOp module, StringRef dir,
                             const TargetOptions &options) const override {
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main)
      return emitError(module.getLoc()) << "the module has no func.func @main";
    if (std::error_code ec = llvm::sys::fs::create_directories(dir))
      return emitError(module.getLoc())
             << "cannot create '" << dir << "': " << ec.message();
    return ArtifactWriter(main, dir, cudaOptions(options)).write();
  }
  LogicalResult run(ModuleOp module, FunctionType,
                    const std::vector<NpyArray> &inputs,
                    std::vector<NpyArray> &outputs,
                    const TargetOptions &options) const override;
};

LogicalResult CudaTarget::run(ModuleOp module, FunctionType,
                              const std::vector<NpyArray> &inputs,
                              std::vector<NpyArray> &outputs,
                              const TargetOptions &options) const {
  SmallString<128> dir;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory("sparsec-cuda", dir))
    return emitError(module.getLoc())
           << "cannot create a temporary directory: " << ec.message();
  auto cleanup =
      llvm::scope_exit([&] { llvm::sys::fs::remove_directories(dir); });
  if (failed(emitArtifact(module, dir, options)))
    return failure();
  std::vector<std::string> inputPaths;
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string path = (dir + "/run_input_" + std::to_string(i) + ".npy").str();
    if (std::string error = writeNpy(path, inputs[i]); !error.empty())
      return emitError(module.getLoc()) << error;
    inputPaths.push_back(path);
  }
  std::string deviceKind = cudaOptions(options).device;
  sparsec_rt_device device = nullptr;
  if (deviceKind == "auto") {
    if (sparsec_rt_device_create("cuda", &device) != 0) {
      llvm::errs() << "sparsec: no usable CUDA device ("
                   << sparsec_rt_last_error()
                   << "); running the PTX on the CPU emulator\n";
      deviceKind = "emulator";
    }
  }
  if (!device && sparsec_rt_device_create(deviceKind.c_str(), &device) != 0)
    return emitError(module.getLoc()) << sparsec_rt_last_error();
  auto destroyDevice =
      llvm::scope_exit([&] { sparsec_rt_device_destroy(device); });
  sparsec_rt_model model = nullptr;
  if (sparsec_rt_model_load(device, dir.c_str(), &model) != 0)
    return emitError(module.getLoc()) << sparsec_rt_last_error();
  auto destroyModel =
      llvm::scope_exit([&] { sparsec_rt_model_destroy(model); });
  std::vector<const char *> paths;
  for (const std::string &p : inputPaths)
    paths.push_back(p.c_str());
  std::string outDir = (dir + "/outputs").str();
  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return emitError(module.getLoc())
           << "cannot create '" << outDir << "': " << ec.message();
  if (sparsec_rt_model_run_npy(model, paths.data(), int(paths.size()),
                               outDir.c_str()) != 0)
    return emitError(module.getLoc()) << sparsec_rt_last_error();
  for (size_t i = 0;; ++i) {
    std::string path = outDir + "/output_" + std::to_string(i) + ".npy";
    if (!llvm::sys::fs::exists(path))
      break;
    NpyArray array;
    if (std::string error = readNpy(path, array); !error.empty())
      return emitError(module.getLoc()) << error;
    outputs.push_back(std::move(array));
  }
  return success();
}

} // namespace

void registerCudaTarget(TargetRegistry &registry) {
  registry.add(std::make_unique<CudaTarget>());
}

} // namespace sparsec
