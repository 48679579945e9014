//===- ChannelClasses.cpp - which tensors share a channel order -----------===//
#include "sparsec/Dialect/Sparsec/Transforms/ChannelClasses.h"
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;

namespace sparsec {
namespace {

/// The arith.constant a value is (possibly through reshapes), or null.
arith::ConstantOp rootConstant(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    if (auto cst = dyn_cast<arith::ConstantOp>(def))
      return cst;
    if (isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(def)) {
      v = def->getOperand(0);
      continue;
    }
    return nullptr;
  }
  return nullptr;
}

bool isSplatConstant(arith::ConstantOp cst) {
  auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
  return dense && dense.isSplat();
}

/// True for init tensors that carry no data (tensor.empty, fills of them).
bool isDataless(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return false;
  if (isa<tensor::EmptyOp>(def))
    return true;
  if (auto fill = dyn_cast<linalg::FillOp>(def))
    return isDataless(fill.getOutputs()[0]);
  return false;
}

/// `data` (row-major in `shape`) reordered along `axis` by `perm`.
std::vector<float> permuteAlong(ArrayRef<float> data, ArrayRef<int64_t> shape,
                                int64_t axis, ArrayRef<int64_t> perm) {
  int64_t inner = 1, outer = 1, dim = shape[axis];
  for (int64_t i = axis + 1; i < int64_t(shape.size()); ++i)
    inner *= shape[i];
  for (int64_t i = 0; i < axis; ++i)
    outer *= shape[i];
  std::vector<float> out(data.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < dim; ++j)
      std::copy_n(data.begin() + (o * dim + perm[j]) * inner, inner,
                  out.begin() + (o * dim + j) * inner);
  return out;
}

/// A new constant holding `v`'s data permuted along `axis`, or null.
Value permutedConstant(OpBuilder &b, Value v, int64_t axis,
                       ArrayRef<int64_t> perm) {
  arith::ConstantOp root = rootConstant(v);
  auto type = cast<RankedTensorType>(v.getType());
  if (!root || !type.getElementType().isF32())
    return nullptr;
  std::optional<WeightData> data =
      WeightData::get(cast<ElementsAttr>(root.getValue()));
  if (!data)
    return nullptr;
  std::vector<float> values =
      permuteAlong(data->values(), type.getShape(), axis, perm);
  Attribute attr;
  if (values.size() <= 4096) {
    attr = DenseElementsAttr::get(type, ArrayRef<float>(values));
  } else {
    auto owned = std::make_shared<std::vector<float>>(std::move(values));
    AsmResourceBlob blob(
        ArrayRef<char>(reinterpret_cast<const char *>(owned->data()),
                       owned->size() * sizeof(float)),
        alignof(float), [owned](void *, size_t, size_t) mutable { owned.reset(); },
        false);
    attr = DenseResourceElementsAttr::get(type, "permuted", std::move(blob));
  }
  return arith::ConstantOp::create(b, v.getLoc(), cast<TypedAttr>(attr));
}

} // namespace

int ChannelClasses::node(Value v, int64_t axis) {
  auto key = std::make_pair(v, axis);
  auto it = ids.find(key);
  if (it != ids.end())
    return it->second;
  int id = parent.size();
  ids[key] = id;
  parent.push_back(id);
  nodes.push_back(key);
  nodeBlock.emplace_back();
  return id;
}

int ChannelClasses::find(int x) {
  while (parent[x] != x)
    x = parent[x] = parent[parent[x]];
  return x;
}

void ChannelClasses::unite(int a, int b) {
  a = find(a);
  b = find(b);
  if (a != b)
    parent[std::max(a, b)] = std::min(a, b);
}

void ChannelClasses::block(Value v, int64_t axis, const std::string &reason) {
  std::string &slot = nodeBlock[node(v, axis)];
  if (slot.empty())
    slot = reason;
}

void ChannelClasses::blockAll(Value v, const std::string &reason) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type)
    return;
  for (int64_t a = 0; a < type.getRank(); ++a)
    block(v, a, reason);
}

void ChannelClasses::visit(Operation *op) {
  std::string opName = op->getName().getStringRef().str();
  if (isa<arith::ConstantOp, tensor::EmptyOp, linalg::FillOp>(op))
    return;
  if (auto ret = dyn_cast<func::ReturnOp>(op)) {
    for (Value v : ret.getOperands())
      blockAll(v, "graph output");
    return;
  }
  if (auto linear = dyn_cast<LinearOp>(op)) {
    Value x = linear.getInput(), y = linear.getResult();
    int64_t rank = linear.getInput().getType().getRank();
    for (int64_t a = 0; a + 1 < rank; ++a)
      unite(node(x, a), node(y, a));
    inputs.push_back({op, node(x, rank - 1)});
    outputs.push_back({op, node(y, rank - 1)});
    return;
  }
  if (auto conv = dyn_cast<Conv2DOp>(op)) {
    Value x = conv.getInput(), y = conv.getResult();
    int64_t groups = conv.getGroups();
    int64_t cin = conv.getInput().getType().getDimSize(1);
    unite(node(x, 0), node(y, 0));
    if (groups == 1) {
      inputs.push_back({op, node(x, 1)});
      outputs.push_back({op, node(y, 1)});
    } else if (groups == cin && conv.getNumRows() == cin) {
      unite(node(x, 1), node(y, 1));
      depthwiseNodes.push_back({op, node(y, 1)});
    } else {
      block(x, 1, "grouped convolution");
      block(y, 1, "grouped convolution");
    }
    return;
  }
  if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
    // Values read inside the body (gathers) cannot follow a permutation.
    generic.getRegion().walk([&](tensor::ExtractOp extract) {
      if (!generic.getRegion().isAncestor(extract.getTensor().getParentRegion()))
        blockAll(extract.getTensor(), "gathered inside a linalg.generic");
    });
    SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
    unsigned loops = generic.getNumLoops();
    for (unsigned d = 0; d < loops; ++d) {
      int anchor = -1;
      SmallVector<std::pair<OpOperand *, int64_t>> constants;
      for (OpOperand &operand : op->getOpOperands()) {
        AffineMap map = maps[operand.getOperandNumber()];
        for (unsigned pos = 0; pos < map.getNumResults(); ++pos) {
          auto dim = dyn_cast<AffineDimExpr>(map.getResult(pos));
          if (!dim || dim.getPosition() != d)
            continue;
          Value v = operand.get();
          if (arith::ConstantOp cst = rootConstant(v)) {
            if (!isSplatConstant(cst))
              constants.push_back({&operand, pos});
          } else if (!isDataless(v)) {
            int n = node(v, pos);
            anchor = anchor < 0 ? n : (unite(anchor, n), anchor);
          }
        }
        // Non-dim results (constants) on a tied position block that axis.
        for (unsigned pos = 0; pos < map.getNumResults(); ++pos)
          if (!isa<AffineDimExpr>(map.getResult(pos)) &&
              !isa<AffineConstantExpr>(map.getResult(pos)))
            block(operand.get(), pos, "non-trivial indexing map");
      }
      for (OpResult result : op->getResults()) {
        AffineMap map = maps[generic.getNumDpsInputs() + result.getResultNumber()];
        for (unsigned pos = 0; pos < map.getNumResults(); ++pos) {
          auto dim = dyn_cast<AffineDimExpr>(map.getResult(pos));
          if (dim && dim.getPosition() == d) {
            int n = node(result, pos);
            anchor = anchor < 0 ? n : (unite(anchor, n), anchor);
          }
        }
      }
      if (anchor >= 0)
        for (auto &c : constants)
          pendingParams.push_back({c.first, {anchor, c.second}});
    }
    return;
  }
  if (auto transpose = dyn_cast<linalg::TransposeOp>(op)) {
    ArrayRef<int64_t> perm = transpose.getPermutation();
    for (size_t i = 0; i < perm.size(); ++i)
      unite(node(transpose.getInput(), perm[i]), node(transpose.getResult()[0], i));
    return;
  }
  if (isa<linalg::PoolingNchwMaxOp, linalg::PoolingNchwSumOp>(op)) {
    Value x = op->getOperand(0), y = op->getResult(0);
    unite(node(x, 0), node(y, 0));
    unite(node(x, 1), node(y, 1));
    return;
  }
  if (auto pad = dyn_cast<tensor::PadOp>(op)) {
    auto low = pad.getStaticLow(), high = pad.getStaticHigh();
    for (size_t a = 0; a < low.size(); ++a) {
      if (low[a] == 0 && high[a] == 0)
        unite(node(pad.getSource(), a), node(pad.getResult(), a));
      else {
        block(pad.getSource(), a, "padded axis");
        block(pad.getResult(), a, "padded axis");
      }
    }
    return;
  }
  auto reshapeRule = [&](Value collapsed, Value expanded,
                         ArrayRef<ReassociationIndices> groups) {
    auto expandedType = cast<RankedTensorType>(expanded.getType());
    for (size_t g = 0; g < groups.size(); ++g) {
      // The group passes channels only if at most one of its dims is > 1.
      int64_t big = -1, count = 0;
      for (int64_t d : groups[g])
        if (expandedType.getDimSize(d) != 1) {
          big = d;
          ++count;
        }
      if (count == 1)
        unite(node(collapsed, g), node(expanded, big));
      else if (count > 1) {
        block(collapsed, g, "reshape splits or merges the axis");
        for (int64_t d : groups[g])
          block(expanded, d, "reshape splits or merges the axis");
      }
    }
  };
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op)) {
    reshapeRule(collapse.getResult(), collapse.getSrc(),
                collapse.getReassociationIndices());
    return;
  }
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
    reshapeRule(expand.getSrc(), expand.getResult(),
                expand.getReassociationIndices());
    return;
  }
  if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
    auto srcType = slice.getSourceType();
    if (slice.getResultType().getRank() == srcType.getRank()) {
      for (int64_t a = 0; a < srcType.getRank(); ++a) {
        if (slice.getStaticSizes()[a] == srcType.getDimSize(a) &&
            slice.getStaticStrides()[a] == 1)
          unite(node(slice.getSource(), a), node(slice.getResult(), a));
        else {
          block(slice.getSource(), a, "sliced axis");
          block(slice.getResult(), a, "sliced axis");
        }
      }
      return;
    }
  }
  for (Value v : op->getOperands())
    blockAll(v, "used by " + opName);
  for (Value v : op->getResults())
    blockAll(v, "produced by " + opName);
}

ChannelClasses::ChannelClasses(func::FuncOp func) {
  for (BlockArgument arg : func.getArguments())
    blockAll(arg, "graph input");
  func.walk([&](Operation *op) {
    if (op->getParentOp() && isa<linalg::GenericOp>(op->getParentOp()))
      return;
    if (op != func.getOperation() && op->getParentOfType<func::FuncOp>() == func &&
        op->getBlock() == &func.getBody().front())
      visit(op);
  });
  // Gather classes by root.
  auto classFor = [&](int n) -> ChannelClass & {
    int root = find(n);
    auto it = classOfRoot.find(root);
    if (it == classOfRoot.end()) {
      it = classOfRoot.insert({root, int(classes.size())}).first;
      classes.emplace_back();
      auto type = cast<RankedTensorType>(nodes[n].first.getType());
      classes.back().size = type.getDimSize(nodes[n].second);
    }
    return classes[it->second];
  };
  for (auto &[op, n] : outputs)
    classFor(n).producers.push_back(op);
  for (auto &[op, n] : inputs)
    classFor(n).consumers.push_back(op);
  for (auto &[op, n] : depthwiseNodes)
    classFor(n).depthwise.push_back(op);
  for (auto &[operand, where] : pendingParams)
    classFor(where.first).params.push_back({operand, where.second});
  // Blockers and size mismatches of the classes that matter.
  for (size_t n = 0; n < nodes.size(); ++n) {
    auto it = classOfRoot.find(find(n));
    if (it == classOfRoot.end())
      continue;
    ChannelClass &c = classes[it->second];
    auto type = cast<RankedTensorType>(nodes[n].first.getType());
    if (!nodeBlock[n].empty() && !c.blocked) {
      c.blocked = true;
      c.blockReason = nodeBlock[n];
    }
    if (type.getDimSize(nodes[n].second) != c.size && !c.blocked) {
      c.blocked = true;
      c.blockReason = "channel counts differ inside the class";
    }
  }
  // Every layer weight and per-channel parameter must be a constant.
  for (ChannelClass &c : classes) {
    auto needConstant = [&](Operation *layer) {
      if (!c.blocked && !rootConstant(layer->getOperand(1))) {
        c.blocked = true;
        c.blockReason = "a layer weight is not a constant";
      }
    };
    for (Operation *op : c.producers)
      needConstant(op);
    for (Operation *op : c.consumers)
      needConstant(op);
    for (Operation *op : c.depthwise)
      needConstant(op);
    for (auto &[operand, axis] : c.params)
      if (!c.blocked && !cast<RankedTensorType>(operand->get().getType())
                             .getElementType()
                             .isF32()) {
        c.blocked = true;
        c.blockReason = "a per-channel parameter is not f32";
      }
  }
}

int ChannelClasses::classOfOutput(Operation *layer) const {
  for (size_t i = 0; i < classes.size(); ++i)
    for (Operation *op : classes[i].producers)
      if (op == layer)
        return i;
  return -1;
}

int ChannelClasses::classOfInput(Operation *layer) const {
  for (size_t i = 0; i < classes.size(); ++i)
    for (Operation *op : classes[i].consumers)
      if (op == layer)
        return i;
  return -1;
}

LogicalResult ChannelClasses::apply(int id, ArrayRef<int64_t> perm) {
  ChannelClass &c = classes[id];
  if (c.blocked)
    return failure();
  auto replaceOperand = [&](Operation *op, unsigned index, int64_t axis) {
    OpBuilder b(op);
    Value permuted = permutedConstant(b, op->getOperand(index), axis, perm);
    if (!permuted)
      return failure();
    op->setOperand(index, permuted);
    return success();
  };
  auto biasIndex = [](Operation *op) -> std::optional<unsigned> {
    if (auto linear = dyn_cast<LinearOp>(op))
      return linear.getBias() ? std::optional<unsigned>(2) : std::nullopt;
    return cast<Conv2DOp>(op).getBias() ? std::optional<unsigned>(2)
                                        : std::nullopt;
  };
  for (Operation *op : c.producers) {
    if (failed(replaceOperand(op, 1, 0)))
      return failure();
    if (auto bias = biasIndex(op))
      if (failed(replaceOperand(op, *bias, 0)))
        return failure();
  }
  for (Operation *op : c.depthwise) {
    if (failed(replaceOperand(op, 1, 0)))
      return failure();
    if (auto bias = biasIndex(op))
      if (failed(replaceOperand(op, *bias, 0)))
        return failure();
  }
  for (Operation *op : c.consumers) {
    int64_t axis = isa<LinearOp>(op) ? 1 : 1; // W [R, C] or [C_out, C_in, kh, kw]
    if (failed(replaceOperand(op, 1, axis)))
      return failure();
  }
  for (auto &[operand, axis] : c.params) {
    OpBuilder b(operand->getOwner());
    Value permuted = permutedConstant(b, operand->get(), axis, perm);
    if (!permuted)
      return failure();
    operand->set(permuted);
  }
  return success();
}

} // namespace sparsec
