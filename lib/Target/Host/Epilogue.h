//===- Epilogue.h - elementwise ops fused into a kernel's stores --*- C++
//-*-===//
//
// A layer whose output feeds only an elementwise function of it (ReLU, Clip,
// LeakyReLU, ..., imported as linalg.generic) gets that function applied to
// its accumulators just before the kernel stores them: one pass over the
// output instead of two. The whole chain or graph of such generics is
// taken (GELU reads its input twice), and a residual add with it.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_TARGET_HOST_EPILOGUE_H
#define SPARSEC_LIB_TARGET_HOST_EPILOGUE_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"

#include <functional>

namespace sparsec {

/// Where a kernel stores a vector: the output buffer's indices of its first
/// lane, the dimension its lanes run along (consecutive indices), and the
/// mask of the lanes it stores (null: all).
struct EpilogueSite {
  mlir::ValueRange at;
  unsigned laneDim;
  mlir::Value mask = {};
};

/// What a kernel applies to a vector of results before storing it at
/// `site`.
using VectorEpilogue = std::function<mlir::Value(
    mlir::OpBuilder &, mlir::Location, mlir::Value, const EpilogueSite &)>;

/// Whether `op` can be cloned lane by lane onto vectors: an arith or math
/// elementwise op with no regions.
bool isVectorizablePayloadOp(mlir::Operation &op);

/// A constant vector of `shape` with `scalar` in every lane.
mlir::Value splatVector(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::TypedAttr scalar, llvm::ArrayRef<int64_t> shape);

/// Clones the ops of `body` but its terminator as ops on vectors of
/// `shape`, each block argument taking the vector `map` gives it; constant
/// ops, and splat constants or scalars from outside the body, become
/// splat vectors. Returns the vectors the terminator yields.
llvm::SmallVector<mlir::Value>
vectorizeBody(mlir::OpBuilder &b, mlir::Location loc, mlir::Block &body,
              mlir::IRMapping &map, llvm::ArrayRef<int64_t> shape);

class Epilogue {
public:
  /// The generics that compute an elementwise function of `value`: each
  /// all-parallel with identity maps, reading `value`, the others' results
  /// and otherwise only splat constants, with a body of arith/math
  /// elementwise ops on f32 (and i1 for compares); `value` read by them
  /// only, and one of them (the sink) read outside the set. A chain (ReLU,
  /// then Clip) or a graph (GELU reads its input twice). Given the `layer`
  /// that computes `value`, one of them may also read one other tensor of
  /// the same shape (a residual connection's add), when it is defined
  /// before `layer` in its block. Empty when no such set exists.
  static Epilogue collect(mlir::Value value, mlir::Operation *layer = nullptr);

  bool empty() const { return ops.empty(); }
  size_t size() const { return ops.size(); }
  /// The other tensor the set reads (null: none).
  mlir::Value residual() const { return residualTensor; }
  /// The set, as vector code on `vector`'s lanes. With a residual,
  /// `residualView` is it reshaped to the kernel's output buffer (the
  /// same element at the same indices, where the buffer's are in it):
  /// the lanes of each site are read from it, reads past its end as 0.
  VectorEpilogue function(mlir::Value residualView = {}) const;
  /// Replaces the sink's result with `result` (the kernel's output, which
  /// already went through the set) and erases the set.
  void replaceAndErase(mlir::Value result);
  llvm::ArrayRef<mlir::linalg::GenericOp> operations() const { return ops; }

private:
  llvm::SmallVector<mlir::linalg::GenericOp> ops;
  /// The layer's output, the member whose result leaves the set, and the
  /// residual.
  mlir::Value source, sink, residualTensor;
};

} // namespace sparsec

#endif
