//===- BatchedMatmul.cpp - activation x activation matmuls as kernels -----===//
//
// C[b, m, n] = Init[b, m, n] + sum_k A[b, m, k] * B[b, k, n] where both
// operands are computed at run time (attention's Q·Kᵀ and P·V): the same
// register tile as the packed GEMM, reading B's rows in place (each k is one
// contiguous row of n) instead of packed panels. Operands are read as tensors
// (tensor.extract, vector.transfer_read) so that one-shot bufferization knows
// where each read happens.
//
//===----------------------------------------------------------------------===//
#include "PackedGemm.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace sparsec {
namespace {

class BatchedMatmulBuilder {
public:
  BatchedMatmulBuilder(OpBuilder &b, Location loc, const GemmTiling &tiling,
                       Value a, Value bMatrix, Value init, Value out,
                       ArrayRef<int64_t> shape)
      : b(b), loc(loc), vw(tiling.vectorWidth), mr(tiling.tileTokens),
        nv(tiling.tileVectors), a(a), bMatrix(bMatrix), init(init), out(out),
        m(shape[1]), n(shape[2]), k(shape[3]),
        vecType(VectorType::get({vw}, b.getF32Type())) {}

  void build(int64_t batch) {
    int64_t nr = nv * vw, fullPanels = n / nr;
    // (batch, panel) pairs are independent: one parallel loop over both.
    if (fullPanels > 0)
      kernel::parallelKernelLoop(b, loc, {0, 0}, {batch, fullPanels},
                                 [&](ValueRange ivs) {
                                   emitPanel(ivs[0], ivs[1], /*partial=*/false);
                                 });
    if (fullPanels * nr < n)
      kernel::parallelKernelLoop(b, loc, {0}, {batch}, [&](ValueRange ivs) {
        emitPanel(ivs[0], index(fullPanels), /*partial=*/true);
      });
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  void emitPanel(Value batchIndex, Value panel, bool partial) {
    Value firstColumn = arith::MulIOp::create(b, loc, panel, index(nv * vw));
    SmallVector<Value> columns, masks;
    for (int64_t j = 0; j < nv; ++j) {
      columns.push_back(
          j == 0 ? firstColumn
                 : arith::AddIOp::create(b, loc, firstColumn, index(j * vw))
                       .getResult());
      // Lanes past N are neither loaded nor stored.
      if (partial)
        masks.push_back(kernel::tailMask(b, loc, n, columns[j], vw));
    }
    kernel::fullTileLoop(b, loc, m, mr, [&](Value row) {
      emitTile(batchIndex, row, mr, columns, masks);
    });
    // The last m % MR rows as one narrower tile (one pass over B's panel).
    if (m % mr)
      emitTile(batchIndex, index(m / mr * mr), m % mr, columns, masks);
  }

  /// One vector of row `at` of a tensor operand, read as a tensor (so that
  /// one-shot bufferization sees the read where it happens); lanes past N
  /// read zeros in a partial panel.
  Value read(Value tensor, ValueRange at, bool partial) {
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
    return vector::TransferReadOp::create(b, loc, vecType, tensor, at, zero,
                                          ArrayRef<bool>{!partial});
  }

  void emitTile(Value batchIndex, Value row, int64_t rows,
                ArrayRef<Value> columns, ArrayRef<Value> masks) {
    SmallVector<Value> rowIndex;
    for (int64_t i = 0; i < rows; ++i)
      rowIndex.push_back(i == 0 ? row
                                : arith::AddIOp::create(b, loc, row, index(i)));
    SmallVector<Value> accumulators;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < nv; ++j) {
        SmallVector<Value, 3> at = {batchIndex, rowIndex[i], columns[j]};
        accumulators.push_back(read(init, at, !masks.empty()));
      }
    auto loop = scf::ForOp::create(
        b, loc, index(0), index(k), index(1), accumulators,
        [&](OpBuilder &nb, Location, Value kk, ValueRange acc) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nb.getInsertionBlock(), nb.getInsertionPoint());
          SmallVector<Value> bRow;
          for (int64_t j = 0; j < nv; ++j) {
            SmallVector<Value, 3> at = {batchIndex, kk, columns[j]};
            bRow.push_back(read(bMatrix, at, !masks.empty()));
          }
          SmallVector<Value> next;
          for (int64_t i = 0; i < rows; ++i) {
            Value x = tensor::ExtractOp::create(
                b, loc, a, ValueRange{batchIndex, rowIndex[i], kk});
            Value splat = vector::BroadcastOp::create(b, loc, vecType, x);
            for (int64_t j = 0; j < nv; ++j)
              next.push_back(vector::FMAOp::create(b, loc, splat, bRow[j],
                                                   acc[i * nv + j]));
          }
          scf::YieldOp::create(b, loc, next);
        });
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < nv; ++j) {
        SmallVector<Value, 3> at = {batchIndex, rowIndex[i], columns[j]};
        kernel::store(b, loc, loop.getResult(i * nv + j), out, at,
                      masks.empty() ? Value() : masks[j]);
      }
  }

  OpBuilder &b;
  Location loc;
  int64_t vw, mr, nv;
  Value a, bMatrix, init, out;
  int64_t m, n, k;
  VectorType vecType;
};

} // namespace

Value emitBatchedMatmul(OpBuilder &b, Location loc, Value lhs, Value rhs,
                        Value init, const GemmTiling &tiling) {
  auto lhsType = cast<RankedTensorType>(lhs.getType());
  auto initType = cast<RankedTensorType>(init.getType());
  int64_t batch = lhsType.getDimSize(0), m = lhsType.getDimSize(1),
          k = lhsType.getDimSize(2), n = initType.getDimSize(2);
  Type f32 = b.getF32Type();
  auto out = memref::AllocOp::create(
      b, loc, MemRefType::get({batch, m, n}, f32), b.getI64IntegerAttr(64));
  out->setAttr("sparsec.cpu.kernel",
               b.getDictionaryAttr(
                   {b.getNamedAttr("kind", b.getStringAttr("batched_matmul")),
                    b.getNamedAttr("vector_width",
                                   b.getI64IntegerAttr(tiling.vectorWidth)),
                    b.getNamedAttr("tile_tokens",
                                   b.getI64IntegerAttr(tiling.tileTokens)),
                    b.getNamedAttr("tile_vectors",
                                   b.getI64IntegerAttr(tiling.tileVectors))}));
  BatchedMatmulBuilder(b, loc, tiling, lhs, rhs, init, out, {batch, m, n, k})
      .build(batch);
  return bufferization::ToTensorOp::create(
      b, loc, RankedTensorType::get({batch, m, n}, f32), out,
      /*restrict=*/true, /*writable=*/true);
}

} // namespace sparsec
