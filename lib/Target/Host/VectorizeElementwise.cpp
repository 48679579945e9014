//===- VectorizeElementwise.cpp - elementwise linalg ops as vector loops --===//
//
// The linalg ops the kernels do not take become loops, and LLVM was left to
// vectorise them. It often did not: a 56-float innermost loop is fully
// unrolled before the loop vectoriser runs, the SLP vectoriser cannot prove
// that the buffers do not alias, and a float sum cannot be vectorised
// without reassociating it. So ResNet-50's residual Add + ReLU and padding
// copies, and BERT's layer-norm and softmax sums, ran one float at a time.
// This pass writes the vector loops itself, for elementwise ops and for
// reductions along the innermost loop (see Passes.td for which ops).
//
//===----------------------------------------------------------------------===//
#include "Epilogue.h"
#include "sparsec/Target/Host/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCPUVECTORIZEELEMENTWISE
#include "sparsec/Target/Host/Passes.h.inc"
} // namespace sparsec

using namespace mlir;
using sparsec::isVectorizablePayloadOp;
using sparsec::splatVector;
using sparsec::vectorizeBody;

namespace {

/// How one operand of the op is read or written at a vector of iterations.
struct Access {
  enum Kind {
    Lanes,     // one element per lane, along the innermost dimension
    Broadcast, // one element for every lane (constant along the innermost)
    Scalar     // a value, not a buffer
  };
  Kind kind;
  Value value;
  AffineMap map;
};

/// The combining op of a body that reduces into its output, `out =
/// combiner(f(inputs), out)`, and the value that leaves a lane unchanged.
struct Reduction {
  Operation *combiner;
  vector::CombiningKind kind;
  TypedAttr neutral;
};

/// What the pass found an op to be.
struct Plan {
  SmallVector<Access> accesses; // inputs, then outputs
  unsigned parallelDims;        // the leading loops; the rest reduce
  std::optional<Reduction> reduction;
};

bool hasUnitInnerStride(MemRefType type) {
  if (type.getRank() == 0)
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  return succeeded(type.getStridesAndOffset(strides, offset)) &&
         strides.back() == 1;
}

bool isLaneType(Type type) {
  return isa<FloatType>(type) ||
         (type.isSignlessInteger() && type.getIntOrFloatBitWidth() >= 8);
}

/// How a buffer read through `map` is read at a vector of iterations of
/// `loops` loops: in lanes when its last index is the innermost loop and no
/// other index involves it, broadcast when none does. Indices must be loops
/// or constants.
std::optional<Access::Kind> classifyRead(AffineMap map, MemRefType type,
                                         unsigned loops) {
  AffineExpr innermost = getAffineDimExpr(loops - 1, map.getContext());
  ArrayRef<AffineExpr> results = map.getResults();
  for (auto [i, expr] : llvm::enumerate(results)) {
    if (!isa<AffineDimExpr, AffineConstantExpr>(expr))
      return std::nullopt;
    if (expr == innermost && i + 1 != results.size())
      return std::nullopt;
  }
  if (results.empty() || results.back() != innermost)
    return Access::Broadcast;
  if (!hasUnitInnerStride(type))
    return std::nullopt;
  return Access::Lanes;
}

/// The reduction `body` performs into its output argument `out`, if it is
/// one the pass vectorises: a float add, multiply, maximum or minimum of
/// `out` and a value computed without it, yielded as it is.
std::optional<Reduction> findReduction(Block &body, BlockArgument out) {
  Operation *yield = body.getTerminator();
  if (yield->getNumOperands() != 1 || !out.hasOneUse())
    return std::nullopt;
  Operation *combiner = yield->getOperand(0).getDefiningOp();
  if (!combiner || *out.getUsers().begin() != combiner ||
      combiner->getNumOperands() != 2 ||
      combiner->getOperand(0) == combiner->getOperand(1))
    return std::nullopt;
  auto type = dyn_cast<FloatType>(out.getType());
  if (!type)
    return std::nullopt;
  auto value = [&](double v) { return FloatAttr::get(type, v); };
  double inf = std::numeric_limits<double>::infinity();
  using Kind = vector::CombiningKind;
  return llvm::TypeSwitch<Operation *, std::optional<Reduction>>(combiner)
      .Case([&](arith::AddFOp) {
        return Reduction{combiner, Kind::ADD, value(-0.0)};
      })
      .Case([&](arith::MulFOp) {
        return Reduction{combiner, Kind::MUL, value(1.0)};
      })
      .Case([&](arith::MaximumFOp) {
        return Reduction{combiner, Kind::MAXIMUMF, value(-inf)};
      })
      .Case([&](arith::MinimumFOp) {
        return Reduction{combiner, Kind::MINIMUMF, value(inf)};
      })
      .Case([&](arith::MaxNumFOp) {
        return Reduction{combiner, Kind::MAXNUMF, value(-inf)};
      })
      .Case([&](arith::MinNumFOp) {
        return Reduction{combiner, Kind::MINNUMF, value(inf)};
      })
      .Default([](Operation *) { return std::nullopt; });
}

/// What the pass makes of `op`, if it can vectorise it.
std::optional<Plan> analyse(linalg::LinalgOp op) {
  unsigned loops = op.getNumLoops();
  if (!op.hasPureBufferSemantics() || loops == 0 || op->getNumResults() != 0)
    return std::nullopt;
  for (int64_t size : op.getStaticLoopRanges())
    if (ShapedType::isDynamic(size))
      return std::nullopt;
  // Parallel loops first, then only reductions.
  Plan plan;
  plan.parallelDims = op.getNumParallelLoops();
  for (auto [d, type] : llvm::enumerate(op.getIteratorTypesArray()))
    if ((d < plan.parallelDims) != (type == utils::IteratorType::parallel))
      return std::nullopt;
  Block *body = op.getBlock();
  if (!body)
    return std::nullopt;
  for (Operation &inner : body->without_terminator()) {
    if (inner.hasTrait<OpTrait::ConstantLike>())
      continue;
    // A masked-off lane holds zero: integer division there would trap.
    if (!isVectorizablePayloadOp(inner) ||
        isa<arith::DivSIOp, arith::DivUIOp, arith::RemSIOp, arith::RemUIOp,
            arith::CeilDivSIOp, arith::CeilDivUIOp, arith::FloorDivSIOp>(inner))
      return std::nullopt;
    for (Type t : inner.getResultTypes())
      if (!isLaneType(t) && !t.isInteger(1))
        return std::nullopt;
    for (Value operand : inner.getOperands())
      if (!isLaneType(operand.getType()) && !operand.getType().isInteger(1))
        return std::nullopt;
  }
  unsigned inputs = op.getNumDpsInputs();
  if (plan.parallelDims < loops) {
    // A reduction into one output indexed by the parallel loops.
    if (op.getNumDpsInits() != 1 || body->getNumArguments() != inputs + 1)
      return std::nullopt;
    SmallVector<AffineExpr> leading;
    for (unsigned d = 0; d < plan.parallelDims; ++d)
      leading.push_back(getAffineDimExpr(d, op.getContext()));
    if (op.getMatchingIndexingMap(op.getDpsInitOperand(0)) !=
        AffineMap::get(loops, 0, leading, op.getContext()))
      return std::nullopt;
    plan.reduction = findReduction(*body, body->getArgument(inputs));
    if (!plan.reduction)
      return std::nullopt;
  } else {
    // Outputs are written, never read.
    for (BlockArgument arg : body->getArguments().drop_front(inputs))
      if (!arg.use_empty())
        return std::nullopt;
  }

  for (OpOperand &operand : op->getOpOperands()) {
    Value value = operand.get();
    AffineMap map = op.getMatchingIndexingMap(&operand);
    bool isOutput = op.isDpsInit(&operand);
    auto type = dyn_cast<MemRefType>(value.getType());
    if (!type) {
      if (isOutput || !isLaneType(value.getType()))
        return std::nullopt;
      plan.accesses.push_back({Access::Scalar, value, map});
      continue;
    }
    if (!isLaneType(type.getElementType()))
      return std::nullopt;
    if (isOutput) {
      // Reductions load and store their output once per row.
      if (plan.reduction)
        plan.accesses.push_back({Access::Broadcast, value, map});
      else if (map.isIdentity() && hasUnitInnerStride(type))
        plan.accesses.push_back({Access::Lanes, value, map});
      else
        return std::nullopt;
      continue;
    }
    std::optional<Access::Kind> kind = classifyRead(map, type, loops);
    if (!kind)
      return std::nullopt;
    plan.accesses.push_back({*kind, value, map});
  }
  return plan;
}

class ElementwiseVectorizer {
public:
  ElementwiseVectorizer(linalg::LinalgOp op, Plan plan, int64_t vectorWidth,
                        int64_t chunkVectors)
      : op(op), accesses(std::move(plan.accesses)),
        parallelDims(plan.parallelDims), reduction(plan.reduction),
        vw(vectorWidth), chunkVectors(chunkVectors), b(op), loc(op.getLoc()) {}

  void run() {
    SmallVector<int64_t> sizes = op.getStaticLoopRanges();
    if (reduction) {
      emitReduction(sizes);
    } else if (flattenable()) {
      int64_t total = 1;
      for (int64_t size : sizes)
        total *= size;
      for (Access &access : accesses)
        flatten(access);
      emitFlat(total);
    } else {
      emitRows(sizes);
    }
    op->erase();
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  /// Every buffer read or written in lanes is contiguous and read in
  /// iteration order, and none is read per row: the op is one long row.
  bool flattenable() {
    return llvm::all_of(accesses, [](const Access &access) {
      if (access.kind == Access::Scalar)
        return true;
      auto type = cast<MemRefType>(access.value.getType());
      if (access.kind == Access::Broadcast)
        return type.getRank() == 0;
      return access.map.isIdentity() &&
             memref::isStaticShapeAndContiguousRowMajor(type);
    });
  }

  void flatten(Access &access) {
    if (access.kind != Access::Lanes)
      return;
    auto type = cast<MemRefType>(access.value.getType());
    access.map = AffineMap::getMultiDimIdentityMap(1, b.getContext());
    if (type.getRank() == 1)
      return;
    ReassociationIndices all;
    for (int64_t d = 0; d < type.getRank(); ++d)
      all.push_back(d);
    access.value = memref::CollapseShapeOp::create(b, loc, access.value, {all});
  }

  /// The buffer indices `access` reads at the iterations `ivs`.
  SmallVector<Value> indices(const Access &access, ValueRange ivs) {
    SmallVector<Value> at;
    for (AffineExpr expr : access.map.getResults()) {
      if (auto dim = dyn_cast<AffineDimExpr>(expr))
        at.push_back(ivs[dim.getPosition()]);
      else
        at.push_back(index(cast<AffineConstantExpr>(expr).getValue()));
    }
    return at;
  }

  /// The op over one row of `total` elements: parallel chunks of
  /// chunkVectors vectors, the vectors left over, then the masked tail.
  void emitFlat(int64_t total) {
    int64_t vectors = total / vw;
    int64_t chunks = vectors / chunkVectors;
    if (chunks > 0)
      parallelOver({chunks}, [&](ValueRange ivs) {
        Value first =
            arith::MulIOp::create(b, loc, ivs[0], index(chunkVectors * vw));
        forVectors(0, chunkVectors, [&](Value offset) {
          emitVector({arith::AddIOp::create(b, loc, first, offset)}, nullptr);
        });
      });
    forVectors(chunks * chunkVectors, vectors,
               [&](Value offset) { emitVector({offset}, nullptr); });
    if (total % vw)
      emitVector({index(vectors * vw)}, mask(total % vw));
  }

  /// The op row by row: parallel over the outer dimensions, vectors along
  /// the innermost one, a masked tail per row.
  void emitRows(ArrayRef<int64_t> sizes) {
    int64_t row = sizes.back();
    auto emitRow = [&](ValueRange outer) {
      forVectors(0, row / vw, [&](Value offset) {
        SmallVector<Value> ivs(outer);
        ivs.push_back(offset);
        emitVector(ivs, nullptr);
      });
      if (row % vw) {
        SmallVector<Value> ivs(outer);
        ivs.push_back(index(row / vw * vw));
        emitVector(ivs, mask(row % vw));
      }
    };
    parallelOver(sizes.drop_back(), emitRow);
  }

  /// Calls `body` inside an scf.parallel over [0, size) for each of
  /// `sizes`, or once outside any loop when there are none.
  void parallelOver(ArrayRef<int64_t> sizes,
                    function_ref<void(ValueRange ivs)> body) {
    if (sizes.empty()) {
      body({});
      return;
    }
    SmallVector<Value> lower, upper, steps;
    for (int64_t size : sizes) {
      lower.push_back(index(0));
      upper.push_back(index(size));
      steps.push_back(index(1));
    }
    scf::ParallelOp::create(b, loc, lower, upper, steps,
                            [&](OpBuilder &pb, Location, ValueRange ivs) {
                              OpBuilder::InsertionGuard guard(b);
                              b.setInsertionPoint(pb.getInsertionBlock(),
                                                  pb.getInsertionPoint());
                              body(ivs);
                            });
  }

  Value mask(int64_t lanes) {
    return vector::CreateMaskOp::create(
        b, loc, VectorType::get({vw}, b.getI1Type()), ValueRange{index(lanes)});
  }

  /// Calls `body` with the element offset of each vector in [first, last).
  void forVectors(int64_t first, int64_t last,
                  llvm::function_ref<void(Value)> body) {
    if (first >= last)
      return;
    auto loop = scf::ForOp::create(b, loc, index(first * vw), index(last * vw),
                                   index(vw));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(loop.getInductionVar());
  }

  /// The body at the vector of iterations starting at `ivs` (the innermost
  /// one advancing along the lanes), the lanes `mask` selects if non-null,
  /// with the output arguments (if the body reads them) taking `outputs`.
  SmallVector<Value> emitBody(ValueRange ivs, Value mask,
                              ValueRange outputs = {}) {
    Block &body = *op.getBlock();
    IRMapping map;
    unsigned inputs = op.getNumDpsInputs();
    for (unsigned i = 0; i < inputs; ++i) {
      const Access &access = accesses[i];
      Type elementType = getElementTypeOrSelf(access.value.getType());
      auto vectorType = VectorType::get({vw}, elementType);
      Value lanes;
      switch (access.kind) {
      case Access::Scalar:
        lanes = vector::BroadcastOp::create(b, loc, vectorType, access.value);
        break;
      case Access::Broadcast: {
        Value element =
            memref::LoadOp::create(b, loc, access.value, indices(access, ivs));
        lanes = vector::BroadcastOp::create(b, loc, vectorType, element);
        break;
      }
      case Access::Lanes:
        if (mask) {
          Value zero = arith::ConstantOp::create(b, loc, vectorType,
                                                 b.getZeroAttr(vectorType));
          lanes =
              vector::MaskedLoadOp::create(b, loc, vectorType, access.value,
                                           indices(access, ivs), mask, zero);
        } else {
          lanes = vector::LoadOp::create(b, loc, vectorType, access.value,
                                         indices(access, ivs));
        }
        break;
      }
      map.map(body.getArgument(i), lanes);
    }
    for (auto [arg, value] :
         llvm::zip(body.getArguments().drop_front(inputs), outputs))
      map.map(arg, value);
    return vectorizeBody(b, loc, body, map, {vw});
  }

  /// A parallel op's vector of iterations at `ivs`, stored.
  void emitVector(ValueRange ivs, Value mask) {
    SmallVector<Value> results = emitBody(ivs, mask);
    ArrayRef<Access> outputs =
        ArrayRef(accesses).drop_front(op.getNumDpsInputs());
    for (auto [access, result] : llvm::zip_equal(outputs, results)) {
      SmallVector<Value> at = indices(access, ivs);
      if (mask)
        vector::MaskedStoreOp::create(b, loc, access.value, at, mask, result);
      else
        vector::StoreOp::create(b, loc, result, access.value, at);
    }
  }

  /// A reduction: per point of the parallel loops (in parallel), a vector
  /// accumulator of lanes starting at the neutral value runs over the
  /// reduction loops, the innermost along the lanes with a masked tail;
  /// then its lanes are combined in order and with the output's value.
  void emitReduction(ArrayRef<int64_t> sizes) {
    const Access &out = accesses.back();
    Type elementType = reduction->neutral.getType();
    auto emitPoint = [&](ValueRange outer) {
      Value start = splatVector(b, loc, reduction->neutral, {vw});
      SmallVector<Value> ivs(outer);
      Value acc = reduceOver(sizes, ivs, start);
      Value lanes = vector::ReductionOp::create(b, loc, reduction->kind, acc);
      Value previous = memref::LoadOp::create(b, loc, out.value, outer);
      OperationState state(loc, reduction->combiner->getName(),
                           ValueRange{lanes, previous}, {elementType},
                           reduction->combiner->getAttrs());
      memref::StoreOp::create(b, loc, b.create(state)->getResult(0), out.value,
                              outer);
    };
    parallelOver(sizes.take_front(parallelDims), emitPoint);
  }

  /// The accumulator after the reduction loops from ivs.size() on, at the
  /// outer iterations `ivs`.
  Value reduceOver(ArrayRef<int64_t> sizes, SmallVector<Value> ivs, Value acc) {
    unsigned dim = ivs.size();
    auto loop = [&](int64_t first, int64_t last, int64_t step,
                    function_ref<Value(Value iv, Value acc)> body) {
      auto forOp = scf::ForOp::create(b, loc, index(first), index(last),
                                      index(step), ValueRange{acc});
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(forOp.getBody());
      scf::YieldOp::create(
          b, loc, body(forOp.getInductionVar(), forOp.getRegionIterArg(0)));
      return forOp.getResult(0);
    };
    if (dim + 1 < sizes.size())
      return loop(0, sizes[dim], 1, [&](Value iv, Value inner) {
        SmallVector<Value> next(ivs);
        next.push_back(iv);
        return reduceOver(sizes, next, inner);
      });
    auto step = [&](Value offset, Value mask, Value current) {
      SmallVector<Value> at(ivs);
      at.push_back(offset);
      Value next = emitBody(at, mask, {current}).front();
      // Masked-off lanes keep their partial result.
      return mask ? arith::SelectOp::create(b, loc, mask, next, current)
                        .getResult()
                  : next;
    };
    int64_t row = sizes.back(), full = row / vw * vw;
    if (full > 0)
      acc = loop(0, full, vw, [&](Value offset, Value current) {
        return step(offset, nullptr, current);
      });
    if (row % vw)
      acc = step(index(full), mask(row % vw), acc);
    return acc;
  }

  linalg::LinalgOp op;
  SmallVector<Access> accesses;
  unsigned parallelDims;
  std::optional<Reduction> reduction;
  int64_t vw, chunkVectors;
  OpBuilder b;
  Location loc;
};

struct SparsecCpuVectorizeElementwisePass
    : sparsec::impl::SparsecCpuVectorizeElementwiseBase<
          SparsecCpuVectorizeElementwisePass> {
  using Base::Base;

  void runOnOperation() override {
    if (vectorWidth < 1 || chunkVectors < 1) {
      getOperation().emitError()
          << "sparsec-cpu-vectorize-elementwise: vector-width and "
             "chunk-vectors must be positive, got "
          << vectorWidth << " and " << chunkVectors;
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::LinalgOp, Plan>> work;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (std::optional<Plan> plan = analyse(op))
        work.emplace_back(op, std::move(*plan));
    });
    for (auto &[op, plan] : work)
      ElementwiseVectorizer(op, std::move(plan), vectorWidth, chunkVectors)
          .run();
  }
};

} // namespace
