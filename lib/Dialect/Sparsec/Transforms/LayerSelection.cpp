//===- LayerSelection.cpp - which layers a compression pass takes ---------===//
#include "sparsec/Dialect/Sparsec/Transforms/LayerSelection.h"
#include "ChannelPermutation.h"
#include "sparsec/Dialect/Sparsec/IR/PackedIO.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"
#include "sparsec/Sparsity/Selection.h"
#include "sparsec/Support/Npy.h"
#include "sparsec/Support/Safetensors.h"

#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Regex.h"

#include <cstring>
#include <map>

using namespace mlir;

namespace sparsec {
namespace {

/// The layer's ONNX node name, else "#<index of the layer>".
std::string layerName(Operation *op, size_t index) {
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    return name.getName().str();
  return "#" + std::to_string(index);
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// User scores: a directory of <initializer>.npy files or a .safetensors
/// file.
struct SaliencySource {
  std::string path;
  bool isSafetensors = false;
  std::map<std::string, SafetensorsEntry> tensors;

  std::string open(const std::string &scores) {
    path = scores;
    if (llvm::sys::fs::is_directory(scores))
      return "";
    if (llvm::sys::fs::exists(scores) &&
        StringRef(scores).ends_with(".safetensors")) {
      isSafetensors = true;
      return readSafetensors(scores, tensors);
    }
    return "saliency '" + scores +
           "' is neither a directory of .npy files nor a .safetensors file";
  }

  /// Scores for `weightName` (float32, row-major in the initializer's shape).
  std::string load(const std::string &weightName, std::vector<int64_t> &shape,
                   std::vector<float> &values) {
    if (isSafetensors) {
      auto it = tensors.find(weightName);
      if (it == tensors.end())
        return "no scores for '" + weightName + "' in '" + path + "'";
      if (it->second.dtype != "F32")
        return "scores for '" + weightName + "' have dtype " +
               it->second.dtype + "; F32 is required";
      shape = it->second.shape;
      values.resize(it->second.data.size() / 4);
      std::memcpy(values.data(), it->second.data.data(), values.size() * 4);
      return "";
    }
    std::string file = weightName;
    for (char &c : file)
      if (c == '/' || c == ':')
        c = '_';
    std::string npyPath = path + "/" + file + ".npy";
    NpyArray array;
    if (std::string error = readNpy(npyPath, array); !error.empty())
      return "scores for '" + weightName + "': " + error;
    if (array.dtype != "<f4")
      return "scores in '" + npyPath + "' must be float32, got " + array.dtype;
    shape = array.shape;
    values.resize(array.numElements());
    std::memcpy(values.data(), array.data.data(), values.size() * 4);
    return "";
  }
};

/// Per-layer config rules: (match regex, overrides).
using ConfigRules = std::vector<std::pair<std::string, llvm::json::Object>>;

std::string readConfig(const std::string &path, ConfigRules &rules) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return "cannot read config '" + path + "'";
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse((*buffer)->getBuffer());
  if (!json)
    return "config '" + path +
           "' is not valid JSON: " + llvm::toString(json.takeError());
  const llvm::json::Object *root = json->getAsObject();
  const llvm::json::Array *layers = root ? root->getArray("layers") : nullptr;
  if (!layers)
    return "config '" + path + "' needs a top-level \"layers\" array";
  for (const llvm::json::Value &rule : *layers) {
    const llvm::json::Object *obj = rule.getAsObject();
    std::optional<StringRef> match =
        obj ? obj->getString("match") : std::nullopt;
    std::string error;
    if (!match || !llvm::Regex(*match).isValid(error))
      return "config rule needs a valid \"match\" regex " + error;
    rules.emplace_back(match->str(), *obj);
  }
  return "";
}

/// Applies the first rule matching the layer; returns whether it says skip.
bool applyRules(const ConfigRules &rules,
                llvm::function_ref<bool(llvm::Regex &)> matches,
                PruneSettings &s, bool skip) {
  for (auto &[regex, obj] : rules) {
    llvm::Regex re(regex);
    if (!matches(re))
      continue;
    if (auto p = obj.getString("pattern"))
      s.pattern = p->str();
    if (auto x = obj.getInteger("n"))
      s.n = *x;
    if (auto x = obj.getInteger("m"))
      s.m = *x;
    if (auto x = obj.getInteger("v"))
      s.v = *x;
    if (auto x = obj.getNumber("vs"))
      s.vectorSparsity = *x, s.sparsity = -1;
    if (auto x = obj.getNumber("vector-sparsity"))
      s.vectorSparsity = *x, s.sparsity = -1;
    if (auto x = obj.getNumber("sparsity"))
      s.sparsity = *x, s.vectorSparsity = -1;
    std::optional<bool> ruleSkip = obj.getBoolean("skip");
    return ruleSkip.value_or(false);
  }
  return skip;
}

/// Checks one layer's settings; returns the reason they are invalid.
std::string validateSettings(const PruneSettings &s) {
  if (s.pattern != "nm" && s.pattern != "hinm")
    return "unknown pattern '" + s.pattern + "' (expected nm or hinm)";
  if (std::string nm = validateNM({s.n, s.m}); !nm.empty())
    return nm;
  if (s.pattern == "hinm") {
    if (s.sparsity != -1 && (s.sparsity <= 0 || s.sparsity >= 1))
      return "sparsity must lie in (0, 1), got " + std::to_string(s.sparsity);
    if (s.vectorSparsity != -1 &&
        (s.vectorSparsity < 0 || s.vectorSparsity >= 1))
      return "vector-sparsity must lie in [0, 1), got " +
             std::to_string(s.vectorSparsity);
    if (s.sparsity != -1 && s.vectorSparsity != -1)
      return "give either sparsity or vector-sparsity, not both";
    double minimum = 1.0 - double(s.n) / double(s.m);
    if (s.sparsity != -1 && s.sparsity < minimum)
      return "HiNM with " + std::to_string(s.n) + ":" + std::to_string(s.m) +
             " cannot reach sparsity " + std::to_string(s.sparsity) +
             " (at least " + std::to_string(minimum) + ")";
  } else if (s.sparsity != -1 &&
             std::abs(s.sparsity - (1.0 - double(s.n) / s.m)) > 1e-9) {
    return "N:M " + std::to_string(s.n) + ":" + std::to_string(s.m) +
           " has sparsity " + std::to_string(1.0 - double(s.n) / s.m) +
           ", not " + std::to_string(s.sparsity);
  }
  return "";
}

/// Reads the layer's user scores into its GEMM view, in the channel order an
/// earlier sparsec-permute-channels left (sparsec.row_perm / col_perm).
std::string loadScores(SaliencySource &scores, SelectedLayer &layer,
                       ArrayRef<int64_t> wShape) {
  std::vector<int64_t> scoreShape;
  std::vector<float> raw;
  std::string error = scores.load(layer.weightName, scoreShape, raw);
  Operation *op = layer.op;
  bool transposed = op->hasAttr("sparsec.weight_transposed");
  SmallVector<int64_t> expected =
      transposed ? SmallVector<int64_t>{wShape[1], wShape[0]}
                 : SmallVector<int64_t>(wShape);
  auto squeeze = [](ArrayRef<int64_t> s) {
    SmallVector<int64_t> out;
    for (int64_t d : s)
      if (d != 1)
        out.push_back(d);
    return out;
  };
  if (error.empty() && squeeze(scoreShape) != squeeze(expected))
    error = "scores for '" + layer.weightName + "' have shape " +
            shapeString(scoreShape) + ", the weight has shape " +
            shapeString(expected);
  if (error.empty())
    for (float x : raw)
      if (!(x >= 0) || std::isinf(x))
        return "scores for '" + layer.weightName +
               "' must be finite and non-negative";
  if (!error.empty())
    return error;
  int64_t rows = layer.rows, cols = layer.cols;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k)
      layer.saliency[r * cols + k] =
          transposed ? raw[k * rows + r]
                     : raw[gemmToStorageIndex(wShape, layer.korder, r, k)];
  if (auto rowPerm = op->getAttrOfType<DenseI64ArrayAttr>("sparsec.row_perm"))
    permuteRows(layer.saliency, rows, cols, rowPerm.asArrayRef());
  if (auto colPerm = op->getAttrOfType<DenseI64ArrayAttr>("sparsec.col_perm"))
    permuteInputs(layer.saliency, rows, cols, int64_t(colPerm.size()),
                  layer.korder == KOrder::chw, colPerm.asArrayRef());
  return "";
}

} // namespace

/// Wanda (algorithms.md §10.2): |w| · ‖X_j‖₂ from the statistics the
/// calibration run attached (`sparsec.input_sq_norms`: Σx² per input feature
/// in storage order, one row per convolution group), following recorded
/// channel permutations as user scores do.
std::string computeWandaSaliency(SelectedLayer &layer) {
  ArrayRef<int64_t> wShape =
      cast<RankedTensorType>(layer.op->getOperand(1).getType()).getShape();
  Operation *op = layer.op;
  auto attr = op->getAttrOfType<DenseElementsAttr>(kInputSquareNormsAttr);
  if (!attr)
    return "has no calibration statistics (" +
           std::string(kInputSquareNormsAttr) +
           "): --saliency=wanda needs --calibration";
  int64_t rows = layer.rows, cols = layer.cols;
  int64_t groups = 1;
  if (auto conv = dyn_cast<Conv2DOp>(op))
    groups = conv.getGroups();
  int64_t perRow =
      wShape.size() == 4 ? wShape[1] * wShape[2] * wShape[3] : wShape[1];
  if (!attr.getElementType().isF64() ||
      attr.getNumElements() != groups * perRow)
    return std::string(kInputSquareNormsAttr) + " does not match the weight";
  std::vector<double> squares(attr.getValues<double>().begin(),
                              attr.getValues<double>().end());
  auto rowPerm = op->getAttrOfType<DenseI64ArrayAttr>("sparsec.row_perm");
  auto colPerm = op->getAttrOfType<DenseI64ArrayAttr>("sparsec.col_perm");
  int64_t rowsPerGroup = rows / groups;
  auto featureOf = [&](int64_t r, int64_t k) {
    int64_t storage = gemmToStorageIndex(wShape, layer.korder, r, k);
    return (r / rowsPerGroup) * perRow + storage % perRow;
  };
  if (!rowPerm && !colPerm) {
    // Exactly |w| · sqrt(Σx²) rounded once, as the reference computes it.
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < cols; ++k)
        layer.saliency[r * cols + k] =
            float(std::abs(double(layer.weight[r * cols + k])) *
                  std::sqrt(squares[featureOf(r, k)]));
    return "";
  }
  // The norms in the original GEMM order, moved with the weight.
  std::vector<float> norms(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k)
      norms[r * cols + k] = float(std::sqrt(squares[featureOf(r, k)]));
  if (rowPerm)
    permuteRows(norms, rows, cols, rowPerm.asArrayRef());
  if (colPerm)
    permuteInputs(norms, rows, cols, int64_t(colPerm.size()),
                  layer.korder == KOrder::chw, colPerm.asArrayRef());
  for (size_t i = 0; i < norms.size(); ++i)
    layer.saliency[i] = std::abs(layer.weight[i]) * norms[i];
  return "";
}

bool isCalibratedSaliency(llvm::StringRef saliency) {
  return saliency == "wanda" || saliency == "sparsegpt";
}

std::vector<float> &SelectedLayer::ownWeight() {
  if (weightCopy.empty())
    weightCopy.assign(weight.begin(), weight.end());
  weight = weightCopy;
  return weightCopy;
}

double effectiveVectorSparsity(const PruneSettings &s) {
  if (s.sparsity != -1)
    return 1.0 - (1.0 - s.sparsity) * double(s.m) / double(s.n);
  return s.vectorSparsity != -1 ? s.vectorSparsity : 0.5;
}

struct LayerDataReader::Scores : SaliencySource {};

LayerDataReader::LayerDataReader(const LayerSelectionOptions &options)
    : options(options), scores(std::make_unique<Scores>()),
      userScores(!options.saliency.empty() && options.saliency != "magnitude" &&
                 !isCalibratedSaliency(options.saliency)) {}

LayerDataReader::~LayerDataReader() = default;

std::string LayerDataReader::open() {
  return userScores ? scores->open(options.saliency) : "";
}

std::string LayerDataReader::read(SelectedLayer &layer, bool withSaliency) {
  const LayerSelectionOptions &o = options;
  Operation *op = layer.op;
  Value weight = op->getOperand(1);
  std::optional<WeightData> data = WeightData::getFromValue(weight);
  if (!data)
    return "layer '" + layer.name + "' has no constant weight";
  ArrayRef<int64_t> wShape =
      cast<RankedTensorType>(weight.getType()).getShape();
  // GEMM view of the weight: linear weights and chw convolutions are
  // stored in GEMM order.
  ArrayRef<float> values = data->values();
  bool gemmOrder = wShape.size() == 2 || layer.korder == KOrder::chw;
  if (gemmOrder && data->isBorrowed()) {
    layer.weight = values;
  } else {
    layer.weightCopy.resize(layer.rows * layer.cols);
    for (int64_t r = 0; r < layer.rows; ++r)
      for (int64_t k = 0; k < layer.cols; ++k)
        layer.weightCopy[r * layer.cols + k] =
            values[gemmToStorageIndex(wShape, layer.korder, r, k)];
    layer.weight = layer.weightCopy;
  }
  if (!withSaliency)
    return "";
  layer.saliency.resize(layer.weight.size());
  if (o.saliency == "wanda") {
    if (std::string error = computeWandaSaliency(layer); !error.empty())
      return "layer '" + layer.name + "' " + error;
  } else if (!userScores) {
    // SparseGPT already zeroed what it prunes and updated the rest: the
    // magnitudes of its weights select exactly its mask.
    if (o.saliency == "sparsegpt" && !op->hasAttr(kSparseGPTAttr))
      return "layer '" + layer.name +
             "' was not calibrated: --saliency=sparsegpt needs --calibration";
    for (size_t i = 0; i < layer.weight.size(); ++i)
      layer.saliency[i] = std::abs(layer.weight[i]);
  } else if (layer.weightName.empty()) {
    return "layer '" + layer.name +
           "' has no initializer name to look up scores";
  } else if (std::string error = loadScores(*scores, layer, wShape);
             !error.empty()) {
    return "layer '" + layer.name + "': " + error;
  }
  return "";
}

void LayerDataReader::release(SelectedLayer &layer) {
  layer.weight = {};
  layer.weightCopy = std::vector<float>();
  layer.saliency = std::vector<float>();
}

LogicalResult selectLayers(ModuleOp module, const LayerSelectionOptions &o,
                           StringRef passName,
                           function_ref<bool(StringRef)> wants,
                           std::vector<SelectedLayer> &selected,
                           uint64_t &numSkipped, bool loadData) {
  auto fail = [&](Operation *at, const Twine &msg) {
    at->emitError() << passName << ": " << msg;
    return failure();
  };
  if (o.korder != "hwc" && o.korder != "chw")
    return fail(module,
                "unknown korder '" + o.korder + "' (expected hwc or chw)");
  if (o.minParams < 0)
    return fail(module, "min-params must not be negative");
  for (auto [optName, regex] :
       {std::pair<StringRef, StringRef>{"include", o.include},
        {"exclude", o.exclude}}) {
    std::string error;
    if (!regex.empty() && !llvm::Regex(regex).isValid(error))
      return fail(module, Twine(optName) + " is not a valid regex: " + error);
  }
  ConfigRules rules;
  if (!o.config.empty())
    if (std::string error = readConfig(o.config, rules); !error.empty())
      return fail(module, error);
  LayerDataReader reader(o);
  if (std::string error = reader.open(); !error.empty())
    return fail(module, error);

  SmallVector<Operation *> layers;
  module.walk([&](Operation *op) {
    if (isa<LinearOp, Conv2DOp>(op))
      layers.push_back(op);
  });
  llvm::Regex includeRe(o.include), excludeRe(o.exclude);
  bool failedAny = false;
  auto layerError = [&](Operation *at, const Twine &msg) {
    at->emitError() << passName << ": " << msg;
    failedAny = true;
  };
  for (auto [index, op] : llvm::enumerate(layers)) {
    SelectedLayer layer;
    layer.op = op;
    layer.name = layerName(op, index);
    if (auto w = op->getAttrOfType<StringAttr>("sparsec.weight_name"))
      layer.weightName = w.str();
    auto matches = [&](llvm::Regex &re) {
      return re.match(layer.name) ||
             (!layer.weightName.empty() && re.match(layer.weightName));
    };
    PruneSettings s = o.defaults;
    bool skip = (o.skipFirst && index == 0) ||
                (o.skipLast && index + 1 == layers.size()) ||
                (!o.include.empty() && !matches(includeRe)) ||
                (!o.exclude.empty() && matches(excludeRe));
    skip = applyRules(rules, matches, s, skip);
    if (skip || op->hasAttr("weight_encoding")) {
      ++numSkipped;
      continue;
    }
    if (std::string invalid = validateSettings(s); !invalid.empty()) {
      layerError(op, "layer '" + layer.name + "': " + invalid);
      continue;
    }
    if (!wants(s.pattern))
      continue;
    layer.settings = s;
    Value weight = op->getOperand(1);
    if (!WeightData::getFromValue(weight)) {
      op->emitWarning() << passName << ": layer '" << layer.name
                        << "' has no constant weight; left dense";
      ++numSkipped;
      continue;
    }
    ArrayRef<int64_t> wShape =
        cast<RankedTensorType>(weight.getType()).getShape();
    if (auto linear = dyn_cast<LinearOp>(op)) {
      layer.rows = linear.getNumRows();
      layer.cols = linear.getReductionSize();
    } else {
      auto conv = cast<Conv2DOp>(op);
      layer.rows = conv.getNumRows();
      layer.cols = conv.getReductionSize();
      layer.korder = o.korder == "chw" ? KOrder::chw : KOrder::hwc;
    }
    if (layer.rows * layer.cols < o.minParams) {
      ++numSkipped;
      continue;
    }
    if (s.pattern == "hinm" && !o.pad && layer.rows % s.v != 0) {
      layerError(
          op, "layer '" + layer.name + "' has " + std::to_string(layer.rows) +
                  " output rows, not a multiple of V = " + std::to_string(s.v) +
                  " (pad=false)");
      continue;
    }
    if (s.pattern == "hinm") {
      layer.nnzVec =
          hinmKeptVectors(layer.cols, effectiveVectorSparsity(s), s.m);
      std::string error =
          validateHiNM({s.v, layer.nnzVec, s.n, s.m}, layer.cols);
      if (error.empty() && o.metaLayout == "meta32" && s.v % 32 != 0)
        error = "META32 metadata needs V to be a multiple of 32 (use "
                "meta-layout=meta16)";
      layer.layout =
          o.metaLayout == "meta16" || (o.metaLayout == "auto" && s.v % 32 != 0)
              ? MetaWordLayout::Meta16
              : MetaWordLayout::Meta32;
      if (!error.empty()) {
        layerError(op, "layer '" + layer.name + "': " + error);
        continue;
      }
    }
    if (loadData)
      if (std::string error = reader.read(layer); !error.empty()) {
        layerError(op, error);
        continue;
      }
    selected.push_back(std::move(layer));
  }
  return failure(failedAny);
}

void replaceLayerWeight(SelectedLayer &layer, std::vector<float> gemm,
                        StringRef suffix, bool freeOldBlob) {
  Operation *op = layer.op;
  Value weight = op->getOperand(1);
  auto wType = cast<RankedTensorType>(weight.getType());
  ArrayRef<int64_t> wShape = wType.getShape();
  std::vector<float> storage;
  if (wShape.size() == 2 || layer.korder == KOrder::chw) {
    storage = std::move(gemm);
  } else {
    storage.resize(gemm.size());
    for (int64_t r = 0; r < layer.rows; ++r)
      for (int64_t k = 0; k < layer.cols; ++k)
        storage[gemmToStorageIndex(wShape, layer.korder, r, k)] =
            gemm[r * layer.cols + k];
  }
  MLIRContext *ctx = op->getContext();
  OpBuilder builder(op);
  auto cst = arith::ConstantOp::create(
      builder, weight.getLoc(),
      cast<TypedAttr>(makeArrayAttr(ctx, wShape, Float32Type::get(ctx),
                                    layer.baseName() + suffix.str(),
                                    std::move(storage))));
  op->setOperand(1, cst);
  // Drop the old weight: it would stay in the IR and, as a blob, in memory.
  if (auto old = weight.getDefiningOp<arith::ConstantOp>())
    if (old->use_empty()) {
      auto resource = dyn_cast<DenseResourceElementsAttr>(old.getValue());
      old->erase();
      if (freeOldBlob && resource && resource.getRawHandle().getResource())
        resource.getRawHandle().getResource()->setBlob(AsmResourceBlob());
    }
}

void eraseDeadConstants(ModuleOp module) {
  SmallVector<Operation *> dead;
  module.walk([&](arith::ConstantOp cst) {
    if (cst->use_empty())
      dead.push_back(cst);
  });
  for (Operation *op : dead)
    op->erase();
}

} // namespace sparsec
