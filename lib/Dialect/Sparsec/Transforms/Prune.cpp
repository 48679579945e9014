//===- Prune.cpp - N:M and HiNM pruning of constant layer weights ---------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h"
#include "PrunePermutation.h"
#include "sparsec/Sparsity/Packing.h"
#include "sparsec/Sparsity/Permutation.h"
#include "sparsec/Sparsity/Selection.h"
#include "sparsec/Support/Npy.h"
#include "sparsec/Support/Safetensors.h"

#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Threading.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"

#include <numeric>

namespace sparsec {
#define GEN_PASS_DEF_SPARSECPRUNE
#include "sparsec/Dialect/Sparsec/Transforms/Passes.h.inc"
} // namespace sparsec

using namespace mlir;
using namespace sparsec;

namespace {

/// The pruning settings of one layer (command line, then config overrides).
struct LayerSettings {
  std::string pattern;
  int64_t n, m, v;
  double vectorSparsity, sparsity;
  bool skip = false;
};

/// One layer's work: inputs gathered serially, results computed in parallel.
struct LayerJob {
  Operation *op;
  std::string name, weightName;
  LayerSettings settings;
  int64_t rows = 0, cols = 0;
  KOrder korder = KOrder::hwc;
  // GEMM view of the weight: borrowed from the constant when its storage is
  // already in GEMM order, else a reordered copy.
  ArrayRef<float> weight;
  std::vector<float> weightCopy, saliency;
  // Results.
  std::string error;
  Selection selection;
  int64_t nnzVec = 0;
  MetaWordLayout layout = MetaWordLayout::Meta32;
  std::vector<float> masked; // GEMM view
  NMPacked nm;
  HiNMPacked hinm;
  double keptSaliency = 0, totalSaliency = 0;
  double keptSaliencyUnpermuted = -1; // with permutation on: plain selection
};

/// The layer's ONNX node name, else "#<index of the layer>".
std::string layerName(Operation *op, size_t index) {
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    return name.getName().str();
  return "#" + std::to_string(index);
}

/// Rounds to the packing value type so that unpacking is exact.
float roundToValueType(float v, StringRef valueType) {
  if (valueType == "f32")
    return v;
  APFloat f(v);
  bool lost;
  f.convert(valueType == "f16" ? APFloat::IEEEhalf() : APFloat::BFloat(),
            APFloat::rmNearestTiesToEven, &lost);
  f.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &lost);
  return f.convertToFloat();
}

template <typename T>
ElementsAttr makeResource(MLIRContext *ctx, ArrayRef<int64_t> shape,
                          Type elementType, StringRef name,
                          std::vector<T> data) {
  auto type = RankedTensorType::get(shape, elementType);
  // Small arrays stay readable in the printed IR; large ones become blobs
  // that MLIR owns without a copy.
  if (data.size() * sizeof(T) <= 256) {
    ArrayRef<char> raw(reinterpret_cast<const char *>(data.data()),
                       data.size() * sizeof(T));
    if (elementType.isInteger(8) || elementType.isInteger(1)) {
      SmallVector<APInt> ints;
      for (T x : data)
        ints.push_back(APInt(elementType.getIntOrFloatBitWidth(), uint64_t(x)));
      return DenseElementsAttr::get(type, ints);
    }
    return DenseElementsAttr::getFromRawBuffer(type, raw);
  }
  auto owned = std::make_shared<std::vector<T>>(std::move(data));
  ArrayRef<char> bytes(reinterpret_cast<const char *>(owned->data()),
                       owned->size() * sizeof(T));
  AsmResourceBlob blob(
      bytes, alignof(T),
      [owned](void *, size_t, size_t) mutable { owned.reset(); },
      /*dataIsMutable=*/false);
  return DenseResourceElementsAttr::get(type, name, std::move(blob));
}

/// Packed values as raw bits of the value type.
ElementsAttr makeValues(MLIRContext *ctx, ArrayRef<int64_t> shape,
                        StringRef valueType, StringRef name,
                        const std::vector<float> &values) {
  Builder b(ctx);
  if (valueType == "f32")
    return makeResource(ctx, shape, b.getF32Type(), name, values);
  std::vector<uint16_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    APFloat f(values[i]);
    bool lost;
    f.convert(valueType == "f16" ? APFloat::IEEEhalf() : APFloat::BFloat(),
              APFloat::rmNearestTiesToEven, &lost);
    bits[i] = uint16_t(f.bitcastToAPInt().getZExtValue());
  }
  return makeResource(ctx, shape,
                      valueType == "f16" ? Type(b.getF16Type())
                                         : Type(b.getBF16Type()),
                      name, std::move(bits));
}

struct SaliencySource {
  std::string path;
  bool isSafetensors = false;
  std::map<std::string, SafetensorsEntry> tensors;

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
    std::string error = readNpy(npyPath, array);
    if (!error.empty())
      return "scores for '" + weightName + "': " + error;
    if (array.dtype != "<f4")
      return "scores in '" + npyPath + "' must be float32, got " + array.dtype;
    shape = array.shape;
    values.resize(array.numElements());
    std::memcpy(values.data(), array.data.data(), values.size() * 4);
    return "";
  }
};

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

struct SparsecPrunePass : sparsec::impl::SparsecPruneBase<SparsecPrunePass> {
  using Base::Base;

  LogicalResult validateGlobal(ModuleOp module) {
    auto fail = [&](const Twine &msg) {
      return module.emitError("sparsec-prune: ") << msg;
    };
    if (pattern != "nm" && pattern != "hinm")
      return fail("unknown pattern '" + pattern + "' (expected nm or hinm)");
    if (valueType != "f32" && valueType != "f16" && valueType != "bf16")
      return fail("unknown value-type '" + valueType +
                  "' (expected f32, f16 or bf16)");
    if (korder != "hwc" && korder != "chw")
      return fail("unknown korder '" + korder + "' (expected hwc or chw)");
    if (metaLayout != "meta32" && metaLayout != "meta16" && metaLayout != "auto")
      return fail("unknown meta-layout '" + metaLayout +
                  "' (expected meta32, meta16 or auto)");
    if (minParams < 0)
      return fail("min-params must not be negative");
    if (permute != "none" && permute != "gyro" && permute != "asp" &&
        permute != "swap")
      return fail("unknown permute '" + permute +
                  "' (expected none, gyro, asp or swap)");
    if (permute == "gyro" && pattern != "hinm")
      return fail("permute=gyro needs pattern=hinm");
    if ((permute == "asp" || permute == "swap") && pattern != "nm")
      return fail("permute=" + permute + " needs pattern=nm");
    if (permuteWindow != 2 && permuteWindow != 3)
      return fail("permute-window must be 2 or 3");
    if (permuteTries < 1 || permuteColumnTries < 1 || permuteEscapes < 0 ||
        permuteBudget < 0)
      return fail("permute-tries must be positive, permute-escapes and "
                  "permute-budget non-negative");
    if (failed(parseSchedule()))
      return fail("permute-schedule must be a comma-separated list of "
                  "positive integers, got '" + permuteSchedule + "'");
    for (auto [optName, regex] :
         {std::pair<StringRef, StringRef>{"include", include},
          {"exclude", exclude}}) {
      std::string error;
      if (!regex.empty() && !llvm::Regex(regex).isValid(error))
        return fail(Twine(optName) + " is not a valid regex: " + error);
    }
    return success();
  }

  std::vector<int64_t> schedule;
  LogicalResult parseSchedule() {
    schedule.clear();
    SmallVector<StringRef> parts;
    StringRef(permuteSchedule).split(parts, ',', -1, false);
    for (StringRef part : parts) {
      int64_t e;
      if (part.trim().getAsInteger(10, e) || e < 1)
        return failure();
      schedule.push_back(e);
    }
    return success(!schedule.empty());
  }

  /// Plain-selection kept saliency of every job, then the channel
  /// permutations (searched on all cores, applied to the graph and to the
  /// jobs' GEMM views).
  LogicalResult runPermutation(ModuleOp module, std::vector<LayerJob> &jobs) {
    parallelForEach(&getContext(), jobs, [&](LayerJob &job) {
      const LayerSettings &s = job.settings;
      Selection plain =
          s.pattern == "nm"
              ? selectNM(job.saliency.data(), job.rows, job.cols, {s.n, s.m})
              : selectHiNM(job.saliency.data(), job.rows, job.cols,
                           {s.v, job.nnzVec, s.n, s.m});
      double kept = 0;
      for (size_t i = 0; i < plain.mask.size(); ++i)
        kept += plain.mask[i] ? job.saliency[i] : 0.0;
      job.keptSaliencyUnpermuted = kept;
    });
    std::vector<PermutableLayer> layers;
    for (LayerJob &job : jobs) {
      if (job.weightCopy.empty())
        job.weightCopy.assign(job.weight.begin(), job.weight.end());
      const LayerSettings &s = job.settings;
      layers.push_back({job.op, job.name, s.pattern, job.rows, job.cols, s.n,
                        s.m, s.v, job.nnzVec, job.korder == KOrder::chw,
                        &job.weightCopy, &job.saliency});
    }
    PermutationOptions options;
    options.method = permute;
    options.seed = uint64_t(seed);
    options.tries = permuteTries;
    options.window = permuteWindow;
    options.escapes = permuteEscapes;
    options.schedule = schedule;
    options.budgetSeconds = permuteBudget;
    options.explicitPermutes = explicitPermutes;
    options.progress = progress;
    LogicalResult result = permuteChannels(module, layers, options);
    for (LayerJob &job : jobs)
      job.weight = job.weightCopy;
    return result;
  }

  /// Checks one layer's settings; returns the reason they are invalid.
  std::string validateSettings(const LayerSettings &s) {
    std::string nm = validateNM({s.n, s.m});
    if (!nm.empty())
      return nm;
    if (s.pattern != "nm" && s.pattern != "hinm")
      return "unknown pattern '" + s.pattern + "'";
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
    } else if (s.sparsity != -1 || s.vectorSparsity != -1) {
      if (s.sparsity != -1 &&
          std::abs(s.sparsity - (1.0 - double(s.n) / s.m)) > 1e-9)
        return "N:M " + std::to_string(s.n) + ":" + std::to_string(s.m) +
               " has sparsity " + std::to_string(1.0 - double(s.n) / s.m) +
               ", not " + std::to_string(s.sparsity);
    }
    return "";
  }

  double effectiveVectorSparsity(const LayerSettings &s) {
    if (s.sparsity != -1)
      return 1.0 - (1.0 - s.sparsity) * double(s.m) / double(s.n);
    return s.vectorSparsity != -1 ? s.vectorSparsity : 0.5;
  }

  /// HiNM selection with gyro stage B: the vector level, then each tile's
  /// column grouping searched on its compacted saliency (folded into L_t).
  Selection selectWithColumnGrouping(const LayerJob &job) {
    const LayerSettings &s = job.settings;
    HiNMConfig config{s.v, job.nnzVec, s.n, s.m};
    std::vector<std::vector<int64_t>> tiles =
        selectHiNMVectors(job.saliency.data(), job.rows, job.cols, config);
    // Start each tile's search from the grouping of the original channel
    // order, so a permutation folded in from upstream never starts worse
    // than plain pruning.
    auto colPerm = job.op->getAttrOfType<DenseI64ArrayAttr>("sparsec.col_perm");
    auto originalColumn = [&](int64_t k) -> int64_t {
      if (!colPerm)
        return k;
      int64_t channels = int64_t(colPerm.size());
      if (job.korder == KOrder::chw) {
        int64_t spatial = job.cols / channels;
        return colPerm[k / spatial] * spatial + k % spatial;
      }
      return (k / channels) * channels + colPerm[k % channels];
    };
    // Tiles are independent: each has its own random sub-stream, so they run
    // in parallel and the result does not depend on scheduling.
    std::vector<int64_t> tileIds(tiles.size());
    std::iota(tileIds.begin(), tileIds.end(), 0);
    parallelForEach(&getContext(), tileIds, [&](int64_t t) {
      std::vector<int64_t> &columns = tiles[t];
      llvm::sort(columns, [&](int64_t a, int64_t b) {
        return originalColumn(a) < originalColumn(b);
      });
      std::vector<float> tile(s.v * job.nnzVec, 0.0f);
      for (int64_t i = 0; i < s.v; ++i) {
        int64_t r = t * s.v + i;
        if (r >= job.rows)
          break;
        for (int64_t j = 0; j < job.nnzVec; ++j)
          tile[i * job.nnzVec + j] = job.saliency[r * job.cols + columns[j]];
      }
      Rng rng = Rng::forLayer(uint64_t(seed),
                              job.name + "/columns/" + std::to_string(t));
      GyroStageBOptions stageB;
      stageB.maxTrials = permuteColumnTries;
      GyroStageBResult grouping =
          gyroStageB(tile.data(), s.v, job.nnzVec, s.n, s.m, rng, stageB);
      std::vector<int64_t> grouped;
      for (int64_t j : grouping.order)
        grouped.push_back(columns[j]);
      columns = std::move(grouped);
    });
    return selectHiNMWithColumns(job.saliency.data(), job.rows, job.cols,
                                 config, {}, std::move(tiles));
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    if (failed(validateGlobal(module)))
      return signalPassFailure();

    // Per-layer config rules.
    std::vector<std::pair<std::string, llvm::json::Object>> rules;
    if (!config.empty()) {
      auto buffer = llvm::MemoryBuffer::getFile(config);
      if (!buffer) {
        module.emitError("sparsec-prune: cannot read config '") << config << "'";
        return signalPassFailure();
      }
      llvm::Expected<llvm::json::Value> json =
          llvm::json::parse((*buffer)->getBuffer());
      if (!json) {
        module.emitError("sparsec-prune: config '")
            << config << "' is not valid JSON: " << llvm::toString(json.takeError());
        return signalPassFailure();
      }
      const llvm::json::Object *root = json->getAsObject();
      const llvm::json::Array *layers = root ? root->getArray("layers") : nullptr;
      if (!layers) {
        module.emitError("sparsec-prune: config '")
            << config << "' needs a top-level \"layers\" array";
        return signalPassFailure();
      }
      for (const llvm::json::Value &rule : *layers) {
        const llvm::json::Object *obj = rule.getAsObject();
        std::optional<StringRef> match = obj ? obj->getString("match") : std::nullopt;
        std::string error;
        if (!match || !llvm::Regex(*match).isValid(error)) {
          module.emitError("sparsec-prune: config rule needs a valid \"match\" regex ")
              << error;
          return signalPassFailure();
        }
        rules.emplace_back(match->str(), *obj);
      }
    }

    SaliencySource scores;
    if (!saliency.empty()) {
      scores.path = saliency;
      if (llvm::sys::fs::is_directory(saliency)) {
      } else if (llvm::sys::fs::exists(saliency) &&
                 StringRef(saliency).ends_with(".safetensors")) {
        scores.isSafetensors = true;
        std::string error = readSafetensors(saliency, scores.tensors);
        if (!error.empty()) {
          module.emitError("sparsec-prune: ") << error;
          return signalPassFailure();
        }
      } else {
        module.emitError("sparsec-prune: saliency '")
            << saliency
            << "' is neither a directory of .npy files nor a .safetensors file";
        return signalPassFailure();
      }
    }

    SmallVector<Operation *> layers;
    module.walk([&](Operation *op) {
      if (isa<LinearOp, Conv2DOp>(op))
        layers.push_back(op);
    });

    llvm::Regex includeRe(include), excludeRe(exclude);
    std::vector<LayerJob> jobs;
    bool failedAny = false;
    for (auto [index, op] : llvm::enumerate(layers)) {
      LayerJob job;
      job.op = op;
      job.name = layerName(op, index);
      if (auto w = op->getAttrOfType<StringAttr>("sparsec.weight_name"))
        job.weightName = w.str();
      auto matches = [&](llvm::Regex &re) {
        return re.match(job.name) || (!job.weightName.empty() && re.match(job.weightName));
      };
      LayerSettings s{pattern, n, m, v, vectorSparsity, sparsity};
      bool skip = (skipFirst && index == 0) ||
                  (skipLast && index + 1 == layers.size()) ||
                  (!include.empty() && !matches(includeRe)) ||
                  (!exclude.empty() && matches(excludeRe));
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
        if (auto x = obj.getBoolean("skip"))
          skip = *x;
        else
          skip = false;
        break;
      }
      if (skip) {
        ++numSkipped;
        continue;
      }
      std::string invalid = validateSettings(s);
      if (!invalid.empty()) {
        op->emitError("sparsec-prune: layer '") << job.name << "': " << invalid;
        failedAny = true;
        continue;
      }
      job.settings = s;

      Value weight = isa<LinearOp>(op) ? cast<LinearOp>(op).getWeight()
                                       : cast<Conv2DOp>(op).getWeight();
      std::optional<WeightData> data = WeightData::getFromValue(weight);
      if (!data) {
        op->emitWarning("sparsec-prune: layer '")
            << job.name << "' has no constant weight; left dense";
        ++numSkipped;
        continue;
      }
      auto wType = cast<RankedTensorType>(weight.getType());
      ArrayRef<int64_t> wShape = wType.getShape();
      if (auto linear = dyn_cast<LinearOp>(op)) {
        job.rows = linear.getNumRows();
        job.cols = linear.getReductionSize();
      } else {
        auto conv = cast<Conv2DOp>(op);
        job.rows = conv.getNumRows();
        job.cols = conv.getReductionSize();
        job.korder = korder == "chw" ? KOrder::chw : KOrder::hwc;
      }
      if (job.rows * job.cols < minParams) {
        ++numSkipped;
        continue;
      }
      if (s.pattern == "hinm" && !pad && job.rows % s.v != 0) {
        op->emitError("sparsec-prune: layer '")
            << job.name << "' has " << job.rows
            << " output rows, not a multiple of V = " << s.v
            << " (pad=false)";
        failedAny = true;
        continue;
      }
      // GEMM views of the weight and the saliency.
      ArrayRef<float> values = data->values();
      // Linear weights and chw convolutions are stored in GEMM order.
      bool gemmOrder = wShape.size() == 2 || job.korder == KOrder::chw;
      if (gemmOrder && data->isBorrowed()) {
        job.weight = values;
      } else {
        job.weightCopy.resize(job.rows * job.cols);
        for (int64_t r = 0; r < job.rows; ++r)
          for (int64_t k = 0; k < job.cols; ++k)
            job.weightCopy[r * job.cols + k] =
                values[gemmToStorageIndex(wShape, job.korder, r, k)];
        job.weight = job.weightCopy;
      }
      job.saliency.resize(job.weight.size());
      if (saliency.empty()) {
        for (size_t i = 0; i < job.weight.size(); ++i)
          job.saliency[i] = std::abs(job.weight[i]);
      } else {
        if (job.weightName.empty()) {
          op->emitError("sparsec-prune: layer '")
              << job.name << "' has no initializer name to look up scores";
          failedAny = true;
          continue;
        }
        std::vector<int64_t> scoreShape;
        std::vector<float> raw;
        std::string error = scores.load(job.weightName, scoreShape, raw);
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
          error = "scores for '" + job.weightName + "' have shape " +
                  shapeString(scoreShape) + ", the weight has shape " +
                  shapeString(expected);
        if (error.empty())
          for (float x : raw)
            if (!(x >= 0) || std::isinf(x)) {
              error = "scores for '" + job.weightName +
                      "' must be finite and non-negative";
              break;
            }
        if (!error.empty()) {
          op->emitError("sparsec-prune: layer '") << job.name << "': " << error;
          failedAny = true;
          continue;
        }
        for (int64_t r = 0; r < job.rows; ++r)
          for (int64_t k = 0; k < job.cols; ++k)
            job.saliency[r * job.cols + k] =
                transposed ? raw[k * job.rows + r]
                           : raw[gemmToStorageIndex(wShape, job.korder, r, k)];
      }
      if (s.pattern == "hinm") {
        job.nnzVec = hinmKeptVectors(job.cols, effectiveVectorSparsity(s), s.m);
        std::string error = validateHiNM({s.v, job.nnzVec, s.n, s.m}, job.cols);
        if (error.empty() && metaLayout == "meta32" && s.v % 32 != 0)
          error = "META32 metadata needs V to be a multiple of 32 (use "
                  "meta-layout=meta16)";
        job.layout = metaLayout == "meta16" ||
                             (metaLayout == "auto" && s.v % 32 != 0)
                         ? MetaWordLayout::Meta16
                         : MetaWordLayout::Meta32;
        if (!error.empty()) {
          op->emitError("sparsec-prune: layer '") << job.name << "': " << error;
          failedAny = true;
          continue;
        }
      }
      jobs.push_back(std::move(job));
    }
    if (failedAny)
      return signalPassFailure();

    if (permute != "none" && failed(runPermutation(module, jobs)))
      return signalPassFailure();

    // Selection and packing: pure computation, in parallel.
    std::string vt = valueType;
    bool stageB = permute == "gyro";
    parallelForEach(ctx, jobs, [&](LayerJob &job) {
      const LayerSettings &s = job.settings;
      if (s.pattern == "nm")
        job.selection = selectNM(job.saliency.data(), job.rows, job.cols,
                                 {s.n, s.m});
      else if (!stageB)
        job.selection = selectHiNM(job.saliency.data(), job.rows, job.cols,
                                   {s.v, job.nnzVec, s.n, s.m});
      else
        job.selection = selectWithColumnGrouping(job);
      job.masked.assign(job.weight.size(), 0.0f);
      for (size_t i = 0; i < job.weight.size(); ++i) {
        job.totalSaliency += job.saliency[i];
        if (job.selection.mask[i]) {
          job.masked[i] = roundToValueType(job.weight[i], vt);
          job.keptSaliency += job.saliency[i];
        }
      }
      const uint8_t *mask = job.selection.mask.data();
      job.error = s.pattern == "nm"
                      ? packNM(job.masked.data(), mask, job.rows, job.cols,
                               s.n, s.m, job.nm)
                      : packHiNM(job.masked.data(), mask, job.rows, job.cols,
                                 s.v, s.n, s.m, job.selection.tiles, job.layout,
                                 job.hinm);
    });

    Builder b(ctx);
    for (LayerJob &job : jobs) {
      Operation *op = job.op;
      if (!job.error.empty()) {
        op->emitError("sparsec-prune: layer '") << job.name << "': " << job.error;
        return signalPassFailure();
      }
      const LayerSettings &s = job.settings;
      Value weight = op->getOperand(1);
      auto wType = cast<RankedTensorType>(weight.getType());
      ArrayRef<int64_t> wShape = wType.getShape();
      std::string base = job.weightName.empty() ? job.name : job.weightName;

      // The masked weight, back in storage order.
      std::vector<float> storage;
      std::vector<uint8_t> storageMask;
      if (wShape.size() == 2 || job.korder == KOrder::chw) {
        storage = std::move(job.masked);
        if (keepMask)
          storageMask = std::move(job.selection.mask);
      } else {
        storage.resize(job.masked.size());
        storageMask.resize(job.masked.size());
        for (int64_t r = 0; r < job.rows; ++r)
          for (int64_t k = 0; k < job.cols; ++k) {
            int64_t idx = gemmToStorageIndex(wShape, job.korder, r, k);
            storage[idx] = job.masked[r * job.cols + k];
            storageMask[idx] = job.selection.mask[r * job.cols + k];
          }
      }
      OpBuilder builder(op);
      auto cst = arith::ConstantOp::create(
          builder, weight.getLoc(),
          cast<TypedAttr>(makeResource(ctx, wShape, b.getF32Type(),
                                       base + ".pruned", std::move(storage))));
      op->setOperand(1, cst);
      // Drop the dense weight: it would stay in the IR and, as a blob, in
      // memory.
      if (auto old = weight.getDefiningOp<arith::ConstantOp>())
        if (old->use_empty()) {
          auto resource = dyn_cast<DenseResourceElementsAttr>(old.getValue());
          old->erase();
          if (resource && resource.getRawHandle().getResource())
            resource.getRawHandle().getResource()->setBlob(AsmResourceBlob());
        }
      if (keepMask)
        op->setAttr("sparsec.mask",
                    makeResource(ctx, wShape, b.getI8Type(), base + ".mask",
                                 std::move(storageMask)));

      Attribute encoding;
      PackedWeightAttr packed;
      Type posType = b.getIntegerType(8, /*isSigned=*/false);
      auto metaType = b.getIntegerType(32, false);
      auto mlirLayout =
          job.layout == MetaWordLayout::Meta16 ? sparsec::MetaLayout::meta16
                                       : sparsec::MetaLayout::meta32;
      if (s.pattern == "nm") {
        encoding = NMEncodingAttr::get(ctx, s.n, s.m, job.korder);
        SmallVector<int64_t> slots = {job.rows, job.nm.groups * s.n};
        ElementsAttr meta;
        if (!job.nm.meta.empty())
          meta = makeResource(ctx, {int64_t(job.nm.meta.size())}, metaType,
                              base + ".meta", std::move(job.nm.meta));
        packed = PackedWeightAttr::get(
            ctx, makeValues(ctx, slots, vt, base + ".values", job.nm.values),
            makeResource(ctx, slots, posType, base + ".pos",
                         std::move(job.nm.pos)),
            nullptr, meta, sparsec::MetaLayout::meta32);
      } else {
        encoding = HiNMEncodingAttr::get(ctx, s.v, job.nnzVec, s.n, s.m,
                                         job.korder);
        HiNMPacked &h = job.hinm;
        SmallVector<int64_t> slots = {h.tiles * s.v, h.keptWidth * s.n / s.m};
        bool wide = job.cols > 65536;
        ElementsAttr colIdx;
        if (wide) {
          colIdx = makeResource(ctx, {h.tiles, h.keptWidth},
                                b.getIntegerType(32, false), base + ".col_idx",
                                std::move(h.colIdx));
        } else {
          std::vector<uint16_t> narrow(h.colIdx.begin(), h.colIdx.end());
          colIdx = makeResource(ctx, {h.tiles, h.keptWidth},
                                b.getIntegerType(16, false), base + ".col_idx",
                                std::move(narrow));
        }
        ElementsAttr meta;
        if (!h.meta.empty())
          meta = makeResource(ctx, {int64_t(h.meta.size())}, metaType,
                              base + ".meta", std::move(h.meta));
        packed = PackedWeightAttr::get(
            ctx, makeValues(ctx, slots, vt, base + ".values", h.values),
            makeResource(ctx, slots, posType, base + ".pos", std::move(h.pos)),
            colIdx, meta, mlirLayout);
      }
      op->setAttr("weight_encoding", encoding);
      op->setAttr("packed_weight", packed);
      op->setAttr("sparsec.prune_stats",
                  b.getDictionaryAttr(
                      {b.getNamedAttr("kept_saliency",
                                      b.getF64FloatAttr(job.keptSaliency)),
                       b.getNamedAttr("total_saliency",
                                      b.getF64FloatAttr(job.totalSaliency)),
                       b.getNamedAttr("value_type", b.getStringAttr(vt)),
                       b.getNamedAttr("kept_saliency_unpermuted",
                                      b.getF64FloatAttr(
                                          job.keptSaliencyUnpermuted >= 0
                                              ? job.keptSaliencyUnpermuted
                                              : job.keptSaliency))}));
      // The pass manager's verifier checks the new encoding on the new weight.
      ++numPruned;
    }
    // Weights replaced by permutation are dead now.
    SmallVector<Operation *> dead;
    module.walk([&](arith::ConstantOp cst) {
      if (cst->use_empty())
        dead.push_back(cst);
    });
    for (Operation *op : dead)
      op->erase();
  }
};

} // namespace
