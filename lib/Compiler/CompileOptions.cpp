//===- CompileOptions.cpp - validation of a compilation's options ---------===//
#include "sparsec/Compiler/CompileOptions.h"

#include <cmath>

namespace sparsec {

std::string parseSparsitySpec(llvm::StringRef spec,
                              SparsecPruneOptions &prune) {
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
  return "";
}

std::string SparsecCompileOptions::getPruneOptions(SparsecPruneOptions &o,
                                                   bool &enabled) const {
  enabled = !sparsity.empty();
  if (!enabled)
    return "";
  if (std::string error = parseSparsitySpec(sparsity, o); !error.empty())
    return error;
  o.saliency = saliency;
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
  o.permute = permute;
  o.seed = permuteSeed;
  o.permuteTries = permuteTries;
  o.permuteSchedule = permuteSchedule;
  o.permuteColumnTries = permuteColumnTries;
  o.permuteBudget = permuteBudget;
  o.permuteWindow = permuteWindow;
  o.permuteEscapes = permuteEscapes;
  o.explicitPermutes = permuteExplicit;
  o.progress = progress;
  return "";
}

std::string SparsecCompileOptions::getInputShapes(
    llvm::StringMap<llvm::SmallVector<int64_t>> &shapes) const {
  for (const std::string &spec : inputShape) {
    size_t colon = spec.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return "--input-shape expects name:d0xd1x..., got '" + spec + "'";
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(spec).drop_front(colon + 1).split(parts, 'x');
    llvm::SmallVector<int64_t> dims;
    for (llvm::StringRef p : parts) {
      int64_t d;
      if (p.getAsInteger(10, d) || d <= 0)
        return "--input-shape: '" + p.str() +
               "' is not a positive dimension in '" + spec + "'";
      dims.push_back(d);
    }
    shapes[spec.substr(0, colon)] = dims;
  }
  return "";
}

std::string SparsecCompileOptions::validate() const {
  if (sparsity.hasValue() && sparsity.empty())
    return "--sparsity needs a pattern, e.g. nm:n=2,m=4 or hinm:v=64,vs=0.5";
  llvm::StringMap<llvm::SmallVector<int64_t>> shapes;
  if (std::string error = getInputShapes(shapes); !error.empty())
    return error;
  if (!std::isfinite(permuteBudget) || permuteBudget < 0)
    return "--permute-budget must be a non-negative number of seconds, got " +
           std::to_string(permuteBudget.getValue());
  SparsecPruneOptions prune;
  bool enabled = false;
  if (std::string error = getPruneOptions(prune, enabled); !error.empty())
    return error;
  // Options that would silently do nothing without pruning.
  if (!enabled) {
    if (permute != "none")
      return "--permute needs --sparsity";
    if (!saliency.empty())
      return "--saliency needs --sparsity";
    if (exportMasks)
      return "--export-onnx/--export-masks need --sparsity";
  }
  return "";
}

} // namespace sparsec
