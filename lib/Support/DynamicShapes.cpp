//===- DynamicShapes.cpp - a model's dynamic dims at run time -------------===//
#include "sparsec/Support/DynamicShapes.h"

#include <map>

namespace sparsec {

namespace {
std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s;
  for (int64_t d : shape)
    s += (s.empty() ? "" : "x") + (d == kRuntimeDim ? "?" : std::to_string(d));
  return s.empty() ? "a scalar" : s;
}
} // namespace

std::string checkInputShapes(const std::vector<DynamicInput> &inputs,
                             const std::vector<std::vector<int64_t>> &shapes,
                             const std::vector<std::string> &names) {
  auto label = [&](size_t i) {
    return "input " + std::to_string(i) +
           (i < names.size() ? " ('" + names[i] + "')" : std::string());
  };
  if (shapes.size() != inputs.size())
    return "the model takes " + std::to_string(inputs.size()) + " input(s), " +
           std::to_string(shapes.size()) + " given";
  std::map<int64_t, std::pair<size_t, size_t>> firstOfSymbol;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const DynamicInput &in = inputs[i];
    const std::vector<int64_t> &shape = shapes[i];
    bool sameRank = shape.size() == in.shape.size();
    for (size_t d = 0; sameRank && d < shape.size(); ++d)
      if (in.shape[d] != kRuntimeDim && in.shape[d] != shape[d])
        sameRank = false;
    if (!sameRank)
      return label(i) + ": expected shape " + shapeText(in.shape) + ", got " +
             shapeText(shape);
    for (size_t d = 0; d < shape.size(); ++d) {
      if (in.shape[d] != kRuntimeDim)
        continue;
      int64_t lo = 1, hi = INT64_MAX;
      if (in.bounds.size() == 2 * shape.size()) {
        lo = in.bounds[2 * d];
        hi = in.bounds[2 * d + 1];
      }
      if (shape[d] < lo || shape[d] > hi)
        return label(i) + ": dimension " + std::to_string(d) + " is " +
               std::to_string(shape[d]) + ", outside its bounds " +
               std::to_string(lo) + ".." + std::to_string(hi) +
               " (--input-shape)";
      if (in.symbols.size() != shape.size() || in.symbols[d] < 0)
        continue;
      auto [it, inserted] = firstOfSymbol.try_emplace(in.symbols[d], i, d);
      auto [j, e] = it->second;
      if (!inserted && shapes[j][e] != shape[d])
        return label(i) + ": dimension " + std::to_string(d) + " is " +
               std::to_string(shape[d]) + " but " + label(j) + "'s dimension " +
               std::to_string(e) + " is " + std::to_string(shapes[j][e]) +
               "; the model names them alike, so they must be equal";
    }
  }
  return "";
}

std::string outputShape(const DynamicOutput &output,
                        const std::vector<std::vector<int64_t>> &shapes,
                        std::vector<int64_t> &shape) {
  shape = output.shape;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] != kRuntimeDim)
      continue;
    const std::vector<int64_t> *rule =
        d < output.rules.size() ? &output.rules[d] : nullptr;
    if (!rule || rule->empty() || rule->size() % 2 != 1)
      return "the size of dynamic dimension " + std::to_string(d) +
             " is not recorded";
    int64_t size = (*rule)[0];
    for (size_t k = 1; k + 1 < rule->size(); k += 2) {
      int64_t input = (*rule)[k], dim = (*rule)[k + 1];
      if (input < 0 || size_t(input) >= shapes.size() || dim < 0 ||
          size_t(dim) >= shapes[input].size())
        return "the recorded size of dynamic dimension " + std::to_string(d) +
               " names no input dimension";
      if (shapes[input][dim] != 0 &&
          size > (int64_t(1) << 40) / shapes[input][dim])
        return "dynamic dimension " + std::to_string(d) + " is too large";
      size *= shapes[input][dim];
    }
    shape[d] = size;
  }
  return "";
}

} // namespace sparsec
