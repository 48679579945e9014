//===- CUDATarget.cpp - artifact directories for NVIDIA sparse tensor cores
//===//
//
// The cuda target: its options, its pipeline (sparsec-cuda-plan-kernels,
// PlanKernels.cpp, which decides how each op of func @main runs) and the
// artifact writer, which writes what the plan says (docs/CUDABackend.md):
// one PTX module and the packed arrays per sparse layer, the host steps'
// arrays and the manifest.
//
//===----------------------------------------------------------------------===//
#include "CUDAPlan.h"

#include "sparsec-c/Runtime.h"
#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/KernelGen/KernelGen.h"
#include "sparsec/Runtime/ArtifactFormat.h"
#include "sparsec/Support/Npy.h"
#include "sparsec/Target/CUDA/Passes.h"
#include "sparsec/Target/Target.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/ScopeExit.h"
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

  /// The options sparsec-cuda-plan-kernels takes (all but `device`).
  SparsecCudaPlanKernelsOptions getPlanOptions() const {
    SparsecCudaPlanKernelsOptions plan;
    plan.arch = arch;
    plan.dtype = valueType;
    plan.tileN = tileN;
    plan.tileM = tileM;
    plan.wgmma = wgmma;
    return plan;
  }

  std::string validate() const override {
    if (std::string error =
            cudaplan::validatePlanOptions(getPlanOptions(), "--cuda-");
        !error.empty())
      return error;
    if (device != "auto" && device != "cuda" && device != "emulator")
      return "--cuda-device must be cuda, emulator or auto, not '" + device +
             "'";
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

llvm::json::Array shapeJson(Type type) {
  llvm::json::Array shape;
  for (int64_t d : cast<ShapedType>(type).getShape())
    shape.push_back(d);
  return shape;
}

} // namespace

LogicalResult
cudaplan::describeSparseWeight(LinearOp op, cuda::LinearKernelConfig &config,
                               std::vector<std::vector<int64_t>> &tileColumns) {
  PackedWeightAttr packed = op.getPackedWeightAttr();
  Attribute encoding = op.getWeightEncodingAttr();
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
    auto named = dyn_cast_or_null<SparsityEncodingAttrInterface>(encoding);
    return opError(op) << "the cuda target runs 2:4 and HiNM layers, not "
                       << (named ? named.getLabel() : "unencoded")
                       << " packed weights";
  }
  return success();
}

namespace {

using cudaplan::constantF32;
using cudaplan::layerName;
using cudaplan::opError;

/// Writes the artifact of a planned func @main: it takes no decision of its
/// own, every one comes from the plan attributes (CUDAPlan.h).
class ArtifactWriter {
public:
  ArtifactWriter(func::FuncOp main, StringRef dir) : main(main), dir(dir) {}
  LogicalResult write();

private:
  std::string nameOf(Value v) {
    auto it = names.find(v);
    return it == names.end() ? "" : it->second;
  }
  std::string freshName() { return "t" + std::to_string(nextTensor++); }
  LogicalResult writeArray(Operation *op, const std::string &file,
                           NpyArray array);
  LogicalResult sparseLinear(LinearOp op, DictionaryAttr plan, int64_t layer,
                             llvm::json::Object &step);
  LogicalResult denseLinear(LinearOp op, DictionaryAttr plan, int64_t layer,
                            llvm::json::Object &step);
  FailureOr<std::vector<float>> layerBias(LinearOp op, DictionaryAttr plan,
                                          int64_t layer);
  /// The plan's string / integer `key`, or an error naming the op.
  FailureOr<std::string> planString(Operation *op, DictionaryAttr plan,
                                    StringRef key);
  FailureOr<int64_t> planInt(Operation *op, DictionaryAttr plan, StringRef key);

  func::FuncOp main;
  std::string dir;
  std::string arch, wgmma; // the plan of @main
  llvm::DenseMap<Value, std::string> names;
  /// Each layer's output tensor: also the name of the values its fused
  /// epilogue ops produce.
  llvm::DenseMap<int64_t, std::string> layerOutputs;
  llvm::json::Array steps;
  int nextTensor = 0;
};

FailureOr<std::string>
ArtifactWriter::planString(Operation *op, DictionaryAttr plan, StringRef key) {
  if (auto value = plan ? plan.getAs<StringAttr>(key) : StringAttr())
    return value.str();
  return opError(op) << "the plan ("
                     << (op == main ? cudaplan::kPlanAttr : cudaplan::kStepAttr)
                     << ") has no " << key;
}

FailureOr<int64_t> ArtifactWriter::planInt(Operation *op, DictionaryAttr plan,
                                           StringRef key) {
  if (auto value = plan ? plan.getAs<IntegerAttr>(key) : IntegerAttr())
    return value.getInt();
  return opError(op) << "the plan (" << cudaplan::kStepAttr << ") has no "
                     << key;
}

/// The layer's own bias plus the bias add fused into it (empty when neither
/// exists), as the plan's `bias` says.
FailureOr<std::vector<float>>
ArtifactWriter::layerBias(LinearOp op, DictionaryAttr plan, int64_t layer) {
  auto planned = plan.getAs<BoolAttr>(cudaplan::key::kBias);
  if (!planned)
    return opError(op) << "the plan (" << cudaplan::kStepAttr << ") has no "
                       << cudaplan::key::kBias;
  std::vector<float> bias;
  Value result = op.getResult();
  if (result.hasOneUse()) {
    Operation *user = *result.user_begin();
    auto fused = user->getAttrOfType<DictionaryAttr>(cudaplan::kStepAttr);
    auto role =
        fused ? fused.getAs<StringAttr>(cudaplan::key::kRole) : StringAttr();
    auto of =
        fused ? fused.getAs<IntegerAttr>(cudaplan::key::kLayer) : IntegerAttr();
    if (role && role.getValue() == cudaplan::role::kBiasAdd && of &&
        of.getInt() == layer) {
      int64_t rows = cast<ShapedType>(op.getWeight().getType()).getDimSize(0);
      auto generic = dyn_cast<linalg::GenericOp>(user);
      std::optional<std::vector<float>> add =
          generic ? cudaplan::matchBiasAdd(generic, result, rows)
                  : std::nullopt;
      if (!add)
        return opError(user) << "the plan fuses this op into layer " << layer
                             << " as its bias add, which it is not";
      bias = std::move(*add);
    }
  }
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
  if (planned.getValue() == bias.empty())
    return opError(op) << "the plan says the layer has "
                       << (planned.getValue() ? "a" : "no")
                       << " bias, but it has "
                       << (bias.empty() ? "none" : "one");
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

LogicalResult ArtifactWriter::sparseLinear(LinearOp op, DictionaryAttr plan,
                                           int64_t layer,
                                           llvm::json::Object &step) {
  FailureOr<std::string> kernel = planString(op, plan, cudaplan::key::kKernel);
  FailureOr<std::string> valueType =
      planString(op, plan, cudaplan::key::kDtype);
  FailureOr<std::string> activation =
      planString(op, plan, cudaplan::key::kEpilogue);
  FailureOr<std::string> instruction =
      planString(op, plan, cudaplan::key::kInstruction);
  FailureOr<int64_t> tileM = planInt(op, plan, cudaplan::key::kTileM);
  FailureOr<int64_t> tileN = planInt(op, plan, cudaplan::key::kTileN);
  if (failed(kernel) || failed(valueType) || failed(activation) ||
      failed(instruction) || failed(tileM) || failed(tileN))
    return failure();
  auto weightType = cast<ShapedType>(op.getWeight().getType());
  cuda::LinearKernelConfig config;
  config.rows = weightType.getDimSize(0);
  config.cols = weightType.getDimSize(1);
  config.name = *kernel;
  if (!cuda::parseArch(arch, config.arch))
    return opError(op) << "unknown CUDA arch '" << arch
                       << "' (sm_80 or sm_90a)";
  if (!cuda::parseValueType(*valueType, config.valueType))
    return opError(op) << "unknown CUDA value type '" << *valueType
                       << "' (f16 or bf16)";
  if (!cuda::parseWgmmaMode(wgmma, config.wgmma))
    return opError(op) << "unknown wgmma mode '" << wgmma
                       << "' (auto, async, sync or off)";
  // The planned tiles are resolved ones (never 0): given as explicit tiles
  // they make the generator choose what it chose when planning (checked
  // below), so the kernel is the planned one.
  config.tileM = *tileM;
  config.tileN = *tileN;
  FailureOr<std::vector<float>> biasValues = layerBias(op, plan, layer);
  if (failed(biasValues))
    return failure();
  std::vector<float> bias = std::move(*biasValues);
  config.hasBias = !bias.empty();
  if (!cuda::parseActivation(*activation, config.activation))
    return opError(op) << "unknown activation " << *activation;

  std::vector<std::vector<int64_t>> tileColumns;
  if (failed(cudaplan::describeSparseWeight(op, config, tileColumns)))
    return failure();
  if (std::string error = cuda::verifyConfig(config); !error.empty())
    return opError(op) << "cannot generate a CUDA kernel: " << error;
  cuda::KernelLaunchInfo info = cuda::launchInfo(config);
  if (info.mma != *instruction || info.tileM != *tileM || info.tileN != *tileN)
    return opError(op) << "the plan's " << *instruction << " " << *tileM << "x"
                       << *tileN << " kernel is generated as " << info.mma
                       << " " << info.tileM << "x" << info.tileN
                       << " with wgmma=" << wgmma;

  std::vector<float> dense;
  if (std::string error = unpackLayerWeight(op, dense); !error.empty())
    return opError(op) << error;
  cuda::KernelWeights weights;
  if (std::string error = cuda::packForKernel(
          config, dense.data(), nullptr, config.hinm ? &tileColumns : nullptr,
          bias.empty() ? nullptr : bias.data(), weights);
      !error.empty())
    return opError(op) << error;

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

LogicalResult ArtifactWriter::denseLinear(LinearOp op, DictionaryAttr plan,
                                          int64_t layer,
                                          llvm::json::Object &step) {
  auto weightType = cast<ShapedType>(op.getWeight().getType());
  int64_t rows = weightType.getDimSize(0), cols = weightType.getDimSize(1);
  FailureOr<std::vector<float>> weight =
      constantF32(op, op.getWeight(), "weight");
  if (failed(weight))
    return failure();
  std::string stem = std::to_string(layer) + "_" + sanitize(layerName(op));
  llvm::json::Object files;
  files[artifact::file::kWeight] = stem + ".weight.npy";
  if (failed(writeArray(op, stem + ".weight.npy",
                        makeArray("<f4", {rows, cols}, *weight))))
    return failure();
  FailureOr<std::vector<float>> bias = layerBias(op, plan, layer);
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
  auto plan = main->getAttrOfType<DictionaryAttr>(cudaplan::kPlanAttr);
  FailureOr<std::string> planArch =
      planString(main, plan, cudaplan::key::kArch);
  FailureOr<std::string> planWgmma =
      planString(main, plan, cudaplan::key::kWgmma);
  if (failed(planArch) || failed(planWgmma))
    return failure();
  arch = *planArch;
  wgmma = *planWgmma;

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
    auto stepPlan = op.getAttrOfType<DictionaryAttr>(cudaplan::kStepAttr);
    FailureOr<std::string> kind =
        planString(&op, stepPlan, cudaplan::key::kKind);
    if (failed(kind))
      return failure();
    if (*kind == cudaplan::kind::kFused) {
      // Runs in the epilogue of its layer, which came before it: what it
      // produces is that layer's output.
      FailureOr<int64_t> layer = planInt(&op, stepPlan, cudaplan::key::kLayer);
      if (failed(layer))
        return failure();
      auto it = layerOutputs.find(*layer);
      if (it == layerOutputs.end() || op.getNumResults() != 1)
        return opError(&op) << "the plan fuses this op into layer " << *layer
                            << ", which does not come before it";
      names[op.getResult(0)] = it->second;
      continue;
    }
    for (Value operand : op.getOperands())
      if (isa<RankedTensorType>(operand.getType()) && nameOf(operand).empty() &&
          !operand.getDefiningOp<arith::ConstantOp>() &&
          !operand.getDefiningOp<tensor::EmptyOp>())
        return opError(&op) << "operand has no runtime tensor";
    auto linear = dyn_cast<LinearOp>(op);
    bool sparse = *kind == cudaplan::kind::kSparseKernel;
    if (linear && (sparse || *kind == cudaplan::kind::kHostDenseLinear)) {
      FailureOr<int64_t> layer = planInt(&op, stepPlan, cudaplan::key::kLayer);
      FailureOr<std::string> activation =
          planString(&op, stepPlan, cudaplan::key::kEpilogue);
      if (failed(layer) || failed(activation))
        return failure();
      llvm::json::Object step;
      step[artifact::key::kInput] = nameOf(linear.getInput());
      if (failed(sparse ? sparseLinear(linear, stepPlan, *layer, step)
                        : denseLinear(linear, stepPlan, *layer, step)))
        return failure();
      std::string out = freshName();
      step[artifact::key::kOutput] = out;
      steps.push_back(std::move(step));
      // A dense layer's ReLU/GELU is a host step right after it.
      if (!sparse && *activation != "none") {
        std::string activated = freshName();
        steps.push_back(
            llvm::json::Object{{artifact::key::kOp, *activation},
                               {artifact::key::kInput, out},
                               {artifact::key::kOutput, activated}});
        out = activated;
      }
      names[linear.getResult()] = out;
      layerOutputs[*layer] = out;
      continue;
    }
    auto generic = dyn_cast<linalg::GenericOp>(op);
    if (generic && (*kind == cudaplan::kind::kHostRelu ||
                    *kind == cudaplan::kind::kHostAdd)) {
      llvm::json::Object step;
      std::string out = freshName();
      if (*kind == cudaplan::kind::kHostRelu) {
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
    return opError(&op) << "the plan's kind '" << *kind
                        << "' does not apply to this op";
  }

  llvm::json::Object manifest{
      {artifact::key::kFormat, artifact::kFormatName},
      {artifact::key::kFormatVersion, artifact::kCurrentVersion},
      {artifact::key::kArch, arch},
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
  void buildPipeline(OpPassManager &pm,
                     const TargetOptions &options) const override {
    pm.addPass(createRequireStaticShapesPass(getName()));
    pm.addPass(
        createSparsecCudaPlanKernels(cudaOptions(options).getPlanOptions()));
  }
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
    // A module that has not been through buildPipeline is planned here, on
    // a copy, so that the caller's module stays as it was.
    OwningOpRef<ModuleOp> planned;
    if (!main->hasAttr(cudaplan::kPlanAttr)) {
      planned = module.clone();
      if (failed(cudaplan::planKernels(*planned,
                                       cudaOptions(options).getPlanOptions())))
        return failure();
      main = planned->lookupSymbol<func::FuncOp>("main");
    }
    if (std::error_code ec = llvm::sys::fs::create_directories(dir))
      return emitError(module.getLoc())
             << "cannot create '" << dir << "': " << ec.message();
    return ArtifactWriter(main, dir).write();
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
  // The target's own passes join the pass registry with it: sparsec-opt and
  // the mlir-opt plugin build the target registry (registerTargetPipelines)
  // before they parse their command line, so they get
  // --sparsec-cuda-plan-kernels without a shared list naming it.
  registerSparsecCUDAPasses();
}

} // namespace sparsec
