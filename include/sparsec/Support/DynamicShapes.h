//===- DynamicShapes.h - a model's dynamic dims at run time -----*- C++ -*-===//
//
// A model compiled with dynamic dims (--input-shape=x:?x... or MIN..MAX)
// takes inputs of any size within the bounds, and sizes its outputs from the
// inputs' dims. The runners (the JIT, sparsec-run) check and size with this;
// it needs neither MLIR nor LLVM.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_SUPPORT_DYNAMICSHAPES_H
#define SPARSEC_SUPPORT_DYNAMICSHAPES_H

#include <cstdint>
#include <string>
#include <vector>

namespace sparsec {

/// A dim's size that the runtime knows only when the model runs.
constexpr int64_t kRuntimeDim = -1;

struct DynamicInput {
  /// kRuntimeDim for a dynamic dim.
  std::vector<int64_t> shape;
  /// [min, max] per dim (empty: any positive size for dynamic dims).
  std::vector<int64_t> bounds;
  /// One id per dim, -1 when static; dims with the same id must agree.
  std::vector<int64_t> symbols;
};

struct DynamicOutput {
  /// kRuntimeDim for a dynamic dim.
  std::vector<int64_t> shape;
  /// Per dim: [size], or [coeff, input0, dim0, input1, dim1, ...] for coeff
  /// times the product of those input dims.
  std::vector<std::vector<int64_t>> rules;
};

/// "" when `inputShapes` fit `inputs`, else why not, naming the input by
/// its index and `names` (when given).
std::string
checkInputShapes(const std::vector<DynamicInput> &inputs,
                 const std::vector<std::vector<int64_t>> &inputShapes,
                 const std::vector<std::string> &names = {});

/// The shape of `output` for inputs of `inputShapes` (already checked); ""
/// or the error.
std::string outputShape(const DynamicOutput &output,
                        const std::vector<std::vector<int64_t>> &inputShapes,
                        std::vector<int64_t> &shape);

} // namespace sparsec

#endif
