//===- ChannelClasses.h - which tensors share a channel order ---*- C++ -*-===//
//
// algorithms.md §4.3: union-find over (value, axis) pairs. Two pairs are in
// one class when permuting the channels of one forces the same permutation on
// the other (elementwise ops, residual joins, pooling, pads, transposes,
// reshapes that keep the axis). A class can absorb a permutation when nothing
// in it is a blocker (graph inputs and outputs, head splits, concat, gathers,
// ops without a rule): layer weights, biases and per-channel constants are
// then rewritten and no runtime op is needed.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_DIALECT_SPARSEC_TRANSFORMS_CHANNELCLASSES_H
#define SPARSEC_DIALECT_SPARSEC_TRANSFORMS_CHANNELCLASSES_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

#include <string>
#include <vector>

namespace sparsec {

struct ChannelClass {
  int64_t size = 0;             // number of channels
  bool blocked = false;
  std::string blockReason;
  /// Layers whose output channels (weight rows) are in the class.
  std::vector<mlir::Operation *> producers;
  /// Layers whose input channels (weight columns) are in the class.
  std::vector<mlir::Operation *> consumers;
  /// Depthwise convolutions whose channels (weight rows) are in the class.
  std::vector<mlir::Operation *> depthwise;
  /// Constant operands to permute along an axis.
  std::vector<std::pair<mlir::OpOperand *, int64_t>> params;
};

class ChannelClasses {
public:
  explicit ChannelClasses(mlir::func::FuncOp func);

  /// The class of a layer's output channels / input channels (-1 if none).
  int classOfOutput(mlir::Operation *layer) const;
  int classOfInput(mlir::Operation *layer) const;
  const ChannelClass &get(int id) const { return classes[id]; }
  int size() const { return classes.size(); }

  /// Rewrites every weight, bias and parameter of class `id` so that its
  /// channels run in the order `perm` (new[j] = old[perm[j]]). The class must
  /// not be blocked.
  mlir::LogicalResult apply(int id, llvm::ArrayRef<int64_t> perm);

private:
  int node(mlir::Value v, int64_t axis);
  int find(int x);
  void unite(int a, int b);
  void block(mlir::Value v, int64_t axis, const std::string &reason);
  void blockAll(mlir::Value v, const std::string &reason);
  void visit(mlir::Operation *op);

  llvm::DenseMap<std::pair<mlir::Value, int64_t>, int> ids;
  std::vector<int> parent;
  std::vector<std::pair<mlir::Value, int64_t>> nodes;
  std::vector<std::string> nodeBlock;
  std::vector<std::pair<mlir::OpOperand *, std::pair<int, int64_t>>> pendingParams;
  std::vector<std::pair<mlir::Operation *, int>> outputs, inputs, depthwiseNodes;
  std::vector<ChannelClass> classes;
  llvm::DenseMap<int, int> classOfRoot;
};

} // namespace sparsec

#endif
