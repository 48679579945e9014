//===- VectorizeElementwise.cpp - elementwise linalg ops as vector loops --===//
//
// The linalg ops the kernels do not take become loops, and LLVM was left to
// vectorise them. It often did not: a 56-float innermost loop is fully
// unrolled before the loop vectoriser runs, and the SLP vectoriser cannot
// prove that the buffers do not alias, so ResNet-50's residual Add + ReLU and
// its padding copies ran one float at a time. This pass writes the vector
// loops itself (see Passes.td for which ops it takes).
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

namespace sparsec {
#define GEN_PASS_DEF_SPARSECCPUVECTORIZEELEMENTWISE
#include "sparsec/Target/Host/Passes.h.inc"
} // namespace sparsec

using namespace mlir;
using sparsec::isVectorizablePayloadOp;
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

/// The accesses of `op`'s inputs then outputs, if this pass can vectorise
/// it.
std::optional<SmallVector<Access>> analyse(linalg::LinalgOp op) {
  unsigned loops = op.getNumLoops();
  if (!op.hasPureBufferSemantics() || loops == 0 ||
      op.getNumParallelLoops() != loops || op->getNumResults() != 0)
    return std::nullopt;
  for (int64_t size : op.getStaticLoopRanges())
    if (ShapedType::isDynamic(size))
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
  // Outputs are written, never read.
  unsigned inputs = op.getNumDpsInputs();
  for (BlockArgument arg : body->getArguments().drop_front(inputs))
    if (!arg.use_empty())
      return std::nullopt;

  SmallVector<Access> accesses;
  for (OpOperand &operand : op->getOpOperands()) {
    Value value = operand.get();
    AffineMap map = op.getMatchingIndexingMap(&operand);
    bool isOutput = op.isDpsInit(&operand);
    auto type = dyn_cast<MemRefType>(value.getType());
    if (!type) {
      if (isOutput || !isLaneType(value.getType()))
        return std::nullopt;
      accesses.push_back({Access::Scalar, value, map});
      continue;
    }
    if (!isLaneType(type.getElementType()))
      return std::nullopt;
    if (map.isIdentity() && hasUnitInnerStride(type)) {
      accesses.push_back({Access::Lanes, value, map});
    } else if (!isOutput && map.isProjectedPermutation() &&
               !map.isFunctionOfDim(loops - 1)) {
      accesses.push_back({Access::Broadcast, value, map});
    } else {
      return std::nullopt;
    }
  }
  return accesses;
}

class ElementwiseVectorizer {
public:
  ElementwiseVectorizer(linalg::LinalgOp op, SmallVector<Access> accesses,
                        int64_t vectorWidth, int64_t chunkVectors)
      : op(op), accesses(std::move(accesses)), vw(vectorWidth),
        chunkVectors(chunkVectors), b(op), loc(op.getLoc()) {}

  void run() {
    SmallVector<int64_t> sizes = op.getStaticLoopRanges();
    if (flattenable()) {
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

  /// Every buffer read or written in lanes is contiguous, and none is read
  /// per row: the op is one long row.
  bool flattenable() {
    if (op.getNumLoops() == 1)
      return true;
    return llvm::all_of(accesses, [](const Access &access) {
      if (access.kind == Access::Scalar)
        return true;
      auto type = cast<MemRefType>(access.value.getType());
      if (access.kind == Access::Broadcast)
        return type.getRank() == 0;
      return memref::isStaticShapeAndContiguousRowMajor(type);
    });
  }

  void flatten(Access &access) {
    if (access.kind != Access::Lanes)
      return;
    auto type = cast<MemRefType>(access.value.getType());
    if (type.getRank() == 1)
      return;
    ReassociationIndices all;
    for (int64_t d = 0; d < type.getRank(); ++d)
      all.push_back(d);
    access.value = memref::CollapseShapeOp::create(b, loc, access.value, {all});
  }

  /// The op over one row of `total` elements: parallel chunks of
  /// chunkVectors vectors, the vectors left over, then the masked tail.
  void emitFlat(int64_t total) {
    int64_t vectors = total / vw;
    int64_t chunks = vectors / chunkVectors;
    if (chunks > 0) {
      scf::ParallelOp::create(
          b, loc, ValueRange{index(0)}, ValueRange{index(chunks)},
          ValueRange{index(1)}, [&](OpBuilder &pb, Location, ValueRange ivs) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(pb.getInsertionBlock(), pb.getInsertionPoint());
            Value first =
                arith::MulIOp::create(b, loc, ivs[0], index(chunkVectors * vw));
            forVectors(0, chunkVectors, [&](Value offset) {
              emitVector({arith::AddIOp::create(b, loc, first, offset)},
                         nullptr);
            });
          });
    }
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
    SmallVector<Value> lower, upper, steps;
    for (int64_t size : sizes.drop_back()) {
      lower.push_back(index(0));
      upper.push_back(index(size));
      steps.push_back(index(1));
    }
    scf::ParallelOp::create(b, loc, lower, upper, steps,
                            [&](OpBuilder &pb, Location, ValueRange ivs) {
                              OpBuilder::InsertionGuard guard(b);
                              b.setInsertionPoint(pb.getInsertionBlock(),
                                                  pb.getInsertionPoint());
                              emitRow(ivs);
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

  /// The op at the vector of iterations starting at `ivs` (the innermost
  /// one advancing along the lanes), the lanes `mask` selects if non-null.
  void emitVector(ValueRange ivs, Value mask) {
    Block &body = *op.getBlock();
    IRMapping map;
    unsigned inputs = op.getNumDpsInputs();
    SmallVector<Access> outputs;
    for (auto [i, access] : llvm::enumerate(accesses)) {
      if (i >= inputs) {
        outputs.push_back(access);
        continue;
      }
      Type elementType = getElementTypeOrSelf(access.value.getType());
      auto vectorType = VectorType::get({vw}, elementType);
      Value lanes;
      switch (access.kind) {
      case Access::Scalar:
        lanes = vector::BroadcastOp::create(b, loc, vectorType, access.value);
        break;
      case Access::Broadcast: {
        SmallVector<Value> indices;
        for (AffineExpr expr : access.map.getResults())
          indices.push_back(ivs[cast<AffineDimExpr>(expr).getPosition()]);
        Value element = memref::LoadOp::create(b, loc, access.value, indices);
        lanes = vector::BroadcastOp::create(b, loc, vectorType, element);
        break;
      }
      case Access::Lanes:
        if (mask) {
          Value zero = arith::ConstantOp::create(b, loc, vectorType,
                                                 b.getZeroAttr(vectorType));
          lanes = vector::MaskedLoadOp::create(b, loc, vectorType, access.value,
                                               ivs, mask, zero);
        } else {
          lanes = vector::LoadOp::create(b, loc, vectorType, access.value, ivs);
        }
        break;
      }
      map.map(body.getArgument(i), lanes);
    }
    SmallVector<Value> results = vectorizeBody(b, loc, body, map, {vw});
    for (auto [access, result] : llvm::zip_equal(outputs, results)) {
      if (mask)
        vector::MaskedStoreOp::create(b, loc, access.value, ivs, mask, result);
      else
        vector::StoreOp::create(b, loc, result, access.value, ivs);
    }
  }

  linalg::LinalgOp op;
  SmallVector<Access> accesses;
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
    SmallVector<std::pair<linalg::LinalgOp, SmallVector<Access>>> work;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (std::optional<SmallVector<Access>> accesses = analyse(op))
        work.emplace_back(op, std::move(*accesses));
    });
    for (auto &[op, accesses] : work)
      ElementwiseVectorizer(op, std::move(accesses), vectorWidth, chunkVectors)
          .run();
  }
};

} // namespace
