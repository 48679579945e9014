//===- Epilogue.h - elementwise ops fused into a kernel's stores --*- C++
//-*-===//
//
// A layer whose output feeds only an elementwise function of it (ReLU, Clip,
// LeakyReLU, ..., imported as linalg.generic) gets that function applied to
// its accumulators just before the kernel stores them: one pass over the
// output instead of two. The chain of such generics is taken whole.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_LIB_TARGET_HOST_EPILOGUE_H
#define SPARSEC_LIB_TARGET_HOST_EPILOGUE_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"

#include <functional>

namespace sparsec {

/// What a kernel applies to a vector of results before storing it.
using VectorEpilogue =
    std::function<mlir::Value(mlir::OpBuilder &, mlir::Location, mlir::Value)>;

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
  /// The longest chain of fusable generics starting at `value`: each the
  /// only user of the previous value, all loops parallel with identity
  /// maps, reading that value and otherwise only splat constants, with a
  /// body of arith/math elementwise ops on f32 (and i1 for compares).
  static Epilogue collect(mlir::Value value);

  bool empty() const { return ops.empty(); }
  size_t size() const { return ops.size(); }
  /// The chain, as vector code on `vector`'s lanes.
  VectorEpilogue function() const;
  /// Replaces the chain's final result with `result` (the kernel's output,
  /// which already went through the chain) and erases the chain.
  void replaceAndErase(mlir::Value result);
  llvm::ArrayRef<mlir::linalg::GenericOp> operations() const { return ops; }

private:
  llvm::SmallVector<mlir::linalg::GenericOp> ops;
};

} // namespace sparsec

#endif
