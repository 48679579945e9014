//===- CompileOptions.cpp - validation of a compilation's options ---------===//
#include "sparsec/Compiler/CompileOptions.h"

#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Regex.h"

#include <cmath>

namespace sparsec {

std::string parseSparsitySpec(llvm::StringRef spec, PruneSettings &prune) {
  auto [kind, rest] = spec.split(':');
  if (kind != "nm" && kind != "hinm")
    return "--sparsity: unknown pattern '" + kind.str() + "' in '" +
           spec.str() + "' (expected nm:... or hinm:...)";
  prune.pattern = kind.str();
  llvm::SmallVector<llvm::StringRef> fields;
  if (!rest.empty())
    rest.split(fields, ',');
  for (llvm::StringRef field : fields) {
    auto [key, value] = field.split('=');
    key = key.trim();
    value = value.trim();
    double number;
    bool isInt = key == "n" || key == "m" || key == "v";
    bool known = isInt || key == "vs" || key == "sparsity";
    if (!known || value.empty() || value.getAsDouble(number))
      return "--sparsity: cannot parse '" + field.str() + "' in '" +
             spec.str() + "' (keys: n, m, v, vs, sparsity; numeric values)";
    // NaN passes every range check the pass makes: refuse it here.
    if (!std::isfinite(number))
      return "--sparsity: " + key.str() + " must be a finite number, got '" +
             value.str() + "'";
    if (isInt && (number != std::floor(number) || number < 0 || number > 1e6))
      return "--sparsity: " + key.str() +
             " must be a non-negative integer, got '" + value.str() + "'";
    if (key == "n")
      prune.n = int64_t(number);
    else if (key == "m")
      prune.m = int64_t(number);
    else if (key == "v")
      prune.v = int64_t(number);
    else if (key == "vs")
      prune.vectorSparsity = number;
    else
      prune.sparsity = number;
  }
  // sparsec-prune-nm has no sparsity option: check it here.
  double nmSparsity = 1.0 - double(prune.n) / double(prune.m);
  if (prune.pattern == "nm" && prune.sparsity != -1 && prune.m > 0 &&
      std::abs(prune.sparsity - nmSparsity) > 1e-9)
    return "--sparsity: N:M " + std::to_string(prune.n) + ":" +
           std::to_string(prune.m) + " has sparsity " +
           std::to_string(nmSparsity) + ", not " +
           std::to_string(prune.sparsity);
  if (prune.pattern == "nm" && prune.vectorSparsity != -1)
    return "--sparsity: vs applies to hinm, not nm";
  return "";
}

namespace {

/// Copies the layer-selection options every compression pass declares.
template <typename PassOptionsT>
void setSelection(PassOptionsT &o, const SparsecCompileOptions &c) {
  o.saliency = c.saliency;
  o.include = c.pruneInclude;
  o.exclude = c.pruneExclude;
  o.skipFirst = c.pruneSkipFirst;
  o.skipLast = c.pruneSkipLast;
  o.minParams = c.pruneMinParams;
  o.config = c.pruneConfig;
  o.pad = c.prunePad;
  o.korder = c.pruneKOrder;
}

} // namespace

std::string
SparsecCompileOptions::addCompressionPasses(mlir::OpPassManager &pm) const {
  if (sparsity.empty())
    return "";
  PruneSettings spec;
  if (std::string error = parseSparsitySpec(sparsity, spec); !error.empty())
    return error;
  if (permute != "none") {
    SparsecPermuteChannelsOptions o;
    setSelection(o, *this);
    o.pattern = spec.pattern;
    o.n = spec.n;
    o.m = spec.m;
    o.v = spec.v;
    o.vectorSparsity = spec.vectorSparsity;
    o.sparsity = spec.sparsity;
    o.method = permute;
    o.seed = permuteSeed;
    o.tries = permuteTries;
    o.schedule = permuteSchedule;
    o.budget = permuteBudget;
    o.window = permuteWindow;
    o.escapes = permuteEscapes;
    o.explicitPermutes = permuteExplicit;
    o.progress = progress;
    pm.addPass(createSparsecPermuteChannels(o));
  }
  // The pattern of --sparsity first; with a config, whose rules may give
  // layers the other pattern, the other pass after it.
  auto addHiNM = [&]() {
    SparsecPruneHiNMOptions o;
    setSelection(o, *this);
    o.n = spec.n;
    o.m = spec.m;
    o.v = spec.v;
    o.vectorSparsity = spec.vectorSparsity;
    o.sparsity = spec.sparsity;
    o.valueType = pruneValueType;
    o.keepMask = exportMasks;
    o.pack = packWeights;
    o.metaLayout = pruneMeta;
    o.columnGrouping = permute == "gyro" ? "gyro" : "none";
    o.columnTries = permuteColumnTries;
    o.seed = permuteSeed;
    pm.addPass(createSparsecPruneHiNM(o));
  };
  auto addNM = [&]() {
    SparsecPruneNMOptions o;
    setSelection(o, *this);
    o.n = spec.n;
    o.m = spec.m;
    o.valueType = pruneValueType;
    o.keepMask = exportMasks;
    o.pack = packWeights;
    pm.addPass(createSparsecPruneNM(o));
  };
  bool both = !pruneConfig.empty();
  if (spec.pattern == "hinm") {
    addHiNM();
    if (both)
      addNM();
  } else {
    addNM();
    if (both)
      addHiNM();
  }
  return "";
}

std::string SparsecCompileOptions::getInputShapes(
    llvm::StringMap<llvm::SmallVector<DimRange>> &shapes) const {
  for (const std::string &spec : inputShape) {
    size_t colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return "--input-shape expects name:d0xd1x..., got '" + spec + "'";
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(spec).drop_front(colon + 1).split(parts, 'x');
    llvm::SmallVector<DimRange> dims;
    auto bad = [&](llvm::StringRef p) {
      return "--input-shape: '" + p.str() +
             "' is not a positive dimension, '?' or MIN..MAX in '" + spec + "'";
    };
    for (llvm::StringRef p : parts) {
      DimRange range;
      if (p == "?") {
        range = {1, kUnboundedDim};
      } else if (size_t dots = p.find(".."); dots != llvm::StringRef::npos) {
        llvm::StringRef lo = p.take_front(dots), hi = p.drop_front(dots + 2);
        if (lo.getAsInteger(10, range.min) || hi.getAsInteger(10, range.max) ||
            range.min <= 0 || range.max <= 0)
          return bad(p);
        if (range.min > range.max)
          return "--input-shape: the range '" + p.str() + "' in '" + spec +
                 "' is empty (MIN > MAX)";
        if (range.max > kUnboundedDim)
          return "--input-shape: " + hi.str() + " in '" + spec +
                 "' is above the largest dimension (2^40)";
      } else if (p.getAsInteger(10, range.min) || range.min <= 0) {
        return bad(p);
      } else {
        range.max = range.min;
      }
      dims.push_back(range);
    }
    shapes[spec.substr(0, colon)] = dims;
  }
  return "";
}

std::string SparsecCompileOptions::validate() const {
  if (sparsity.hasValue() && sparsity.empty())
    return "--sparsity needs a pattern, e.g. nm:n=2,m=4 or hinm:v=64,vs=0.5";
  llvm::StringMap<llvm::SmallVector<DimRange>> shapes;
  if (std::string error = getInputShapes(shapes); !error.empty())
    return error;
  if (!std::isfinite(permuteBudget) || permuteBudget < 0)
    return "--permute-budget must be a non-negative number of seconds, got " +
           std::to_string(permuteBudget.getValue());
  bool enabled = !sparsity.empty();
  PruneSettings spec;
  if (enabled)
    if (std::string error = parseSparsitySpec(sparsity, spec); !error.empty())
      return error;
  if (permute != "none" && permute != "gyro" && permute != "asp" &&
      permute != "swap")
    return "--permute must be none, gyro, asp or swap, not '" + permute + "'";
  if (enabled && permute == "gyro" && spec.pattern != "hinm")
    return "--permute=gyro needs --sparsity=hinm:...";
  if (enabled && (permute == "asp" || permute == "swap") &&
      spec.pattern != "nm")
    return "--permute=" + permute + " needs --sparsity=nm:...";
  if (std::string error = validateValues(); !error.empty())
    return error;
  bool calibrated = saliency == "wanda" || saliency == "sparsegpt";
  if (calibrated && calibration.empty())
    return "--saliency=" + saliency +
           " needs --calibration=<dir|file.npz> (inputs to run the model on)";
  if (!calibration.empty() && !calibrated)
    return "--calibration needs --saliency=wanda or --saliency=sparsegpt";
  if (saliency == "sparsegpt" && permute != "none")
    return "--saliency=sparsegpt does not combine with --permute yet: "
           "SparseGPT updates the kept weights, which a later permutation "
           "search would not see; use --saliency=wanda to permute";
  // Options that would silently do nothing without pruning.
  if (!enabled) {
    if (permute != "none")
      return "--permute needs --sparsity";
    if (!saliency.empty())
      return "--saliency needs --sparsity";
    if (exportMasks)
      return "--export-onnx/--export-masks need --sparsity";
  }
  return validateCombinations(enabled ? spec.pattern : "");
}

std::string SparsecCompileOptions::validateValues() const {
  auto oneOf = [](llvm::StringRef flag, llvm::StringRef value,
                  std::initializer_list<llvm::StringRef> allowed) {
    if (llvm::is_contained(allowed, value))
      return std::string();
    std::string list;
    for (llvm::StringRef a : allowed)
      list += (list.empty() ? "" : ", ") + a.str();
    return "--" + flag.str() + " must be one of " + list + ", not '" +
           value.str() + "'";
  };
  if (std::string e =
          oneOf("prune-value-type", pruneValueType, {"f32", "f16", "bf16"});
      !e.empty())
    return e;
  if (std::string e = oneOf("prune-korder", pruneKOrder, {"hwc", "chw"});
      !e.empty())
    return e;
  if (std::string e =
          oneOf("prune-meta", pruneMeta, {"auto", "meta32", "meta16"});
      !e.empty())
    return e;
  if (std::string e = oneOf("calibration-order", calibrationOrder,
                            {"sequential", "one-pass"});
      !e.empty())
    return e;
  if (calibrationSamples < 0)
    return "--calibration-samples must not be negative, got " +
           std::to_string(calibrationSamples);
  if (sparsegptBlock < 1)
    return "--sparsegpt-block must be positive, got " +
           std::to_string(sparsegptBlock);
  if (!std::isfinite(sparsegptDampening) || sparsegptDampening <= 0)
    return "--sparsegpt-dampening must be a positive number, got " +
           std::to_string(sparsegptDampening.getValue());
  if (pruneMinParams < 0)
    return "--prune-min-params must not be negative, got " +
           std::to_string(pruneMinParams);
  for (auto [flag, regex] : {std::pair<llvm::StringRef, llvm::StringRef>{
                                 "prune-include", pruneInclude},
                             {"prune-exclude", pruneExclude}}) {
    std::string error;
    if (!regex.empty() && !llvm::Regex(regex).isValid(error))
      return "--" + flag.str() + " is not a valid regex: " + error;
  }
  if (permuteTries < 1 || permuteColumnTries < 1)
    return "--permute-tries and --permute-column-tries must be positive";
  if (permuteWindow != 2 && permuteWindow != 3)
    return "--permute-window must be 2 or 3, got " +
           std::to_string(permuteWindow);
  if (permuteEscapes < 0)
    return "--permute-escapes must not be negative, got " +
           std::to_string(permuteEscapes);
  llvm::SmallVector<llvm::StringRef> phases;
  llvm::StringRef(permuteSchedule).split(phases, ',');
  for (llvm::StringRef phase : phases) {
    int64_t rows;
    if (phase.trim().getAsInteger(10, rows) || rows < 1)
      return "--permute-schedule must be a comma-separated list of positive "
             "integers, got '" +
             permuteSchedule + "'";
  }
  return "";
}

std::string
SparsecCompileOptions::validateCombinations(llvm::StringRef pattern) const {
  // Flags given explicitly that the chosen pattern and method never read.
  struct Rule {
    bool given;
    const char *flag;
    bool used;
    const char *needs;
  };
  bool gyro = permute == "gyro", asp = permute == "asp",
       swap = permute == "swap";
  Rule rules[] = {
      {pruneInclude.hasValue(), "prune-include", !pattern.empty(),
       "--sparsity"},
      {pruneExclude.hasValue(), "prune-exclude", !pattern.empty(),
       "--sparsity"},
      {pruneSkipFirst.hasValue(), "prune-skip-first", !pattern.empty(),
       "--sparsity"},
      {pruneSkipLast.hasValue(), "prune-skip-last", !pattern.empty(),
       "--sparsity"},
      {pruneMinParams.hasValue(), "prune-min-params", !pattern.empty(),
       "--sparsity"},
      {pruneConfig.hasValue(), "prune-config", !pattern.empty(), "--sparsity"},
      {pruneValueType.hasValue(), "prune-value-type", !pattern.empty(),
       "--sparsity"},
      {pruneKOrder.hasValue(), "prune-korder", !pattern.empty(), "--sparsity"},
      {calibrationOrder.hasValue(), "calibration-order", !calibration.empty(),
       "--calibration"},
      {calibrationSamples.hasValue(), "calibration-samples",
       !calibration.empty(), "--calibration"},
      {calibrationStats.hasValue(), "calibration-stats", !calibration.empty(),
       "--calibration"},
      {sparsegptBlock.hasValue(), "sparsegpt-block", saliency == "sparsegpt",
       "--saliency=sparsegpt"},
      {sparsegptDampening.hasValue(), "sparsegpt-dampening",
       saliency == "sparsegpt", "--saliency=sparsegpt"},
      // With a config, rules may give layers the other pattern.
      {prunePad.hasValue(), "prune-pad",
       pattern == "hinm" || !pruneConfig.empty(), "--sparsity=hinm:..."},
      {pruneMeta.hasValue(), "prune-meta",
       pattern == "hinm" || !pruneConfig.empty(), "--sparsity=hinm:..."},
      {permuteSeed.hasValue(), "permute-seed", gyro || asp || swap,
       "--permute"},
      {permuteBudget.hasValue(), "permute-budget", gyro || asp || swap,
       "--permute"},
      {permuteExplicit.hasValue(), "permute-explicit", gyro || asp || swap,
       "--permute"},
      {permuteTries.hasValue(), "permute-tries", gyro, "--permute=gyro"},
      {permuteColumnTries.hasValue(), "permute-column-tries", gyro,
       "--permute=gyro"},
      {permuteSchedule.hasValue(), "permute-schedule", gyro, "--permute=gyro"},
      {permuteWindow.hasValue(), "permute-window", asp, "--permute=asp"},
      {permuteEscapes.hasValue(), "permute-escapes", asp || swap,
       "--permute=asp or --permute=swap"},
  };
  for (const Rule &rule : rules)
    if (rule.given && !rule.used)
      return "--" + std::string(rule.flag) + " has no effect without " +
             rule.needs;
  return "";
}

} // namespace sparsec
