//===- SparsecOps.cpp - sparsec operation verifiers -----------------------===//
#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Dialect/Sparsec/IR/WeightData.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace sparsec;

/// Checks the weight encoding of a weight-carrying op on its GEMM view, and on
/// the weight's values when it is a constant.
static LogicalResult verifyWeightEncoding(Operation *op, Value weight,
                                          SparsityEncodingAttrInterface enc,
                                          int64_t rows, int64_t cols) {
  auto emitError = [&]() { return op->emitOpError(); };
  Attribute packed = op->getAttr("packed_weight");
  auto parts = op->getAttrOfType<ArrayAttr>("weight_parts");
  if (!enc) {
    if (packed || parts)
      return emitError() << "has "
                         << (packed ? "packed_weight" : "weight_parts")
                         << " but no weight_encoding";
    return success();
  }
  if (failed(enc.verifyGemmShape(rows, cols, emitError)) ||
      failed(verifyWeightPartsShape(enc, packed, parts, rows, cols, emitError)))
    return failure();
  // Sizes and index ranges only; sparsec-verify-encodings compares values.
  if (packed && !parts)
    if (std::string error = enc.verifyPacked(packed, rows, cols);
        !error.empty())
      return emitError() << "packed_weight: " << error;
  std::optional<WeightData> data = WeightData::getFromValue(weight);
  if (!data)
    return success();
  ArrayRef<int64_t> shape = cast<RankedTensorType>(weight.getType()).getShape();
  ArrayRef<float> values = data->values();
  KOrder korder = enc.getKOrder();
  std::vector<uint8_t> nonZero(rows * cols);
  if (shape.size() == 2 || korder == KOrder::chw) {
    for (int64_t i = 0, e = rows * cols; i < e; ++i)
      nonZero[i] = values[i] != 0.0f;
  } else {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < cols; ++k)
        nonZero[r * cols + k] =
            values[gemmToStorageIndex(shape, korder, r, k)] != 0.0f;
  }
  return enc.verifyGemmValues(rows, cols, nonZero, emitError);
}

static LogicalResult verifyElementTypes(Operation *op) {
  Type elementType = getElementTypeOrSelf(op->getResult(0).getType());
  for (Value operand : op->getOperands())
    if (getElementTypeOrSelf(operand.getType()) != elementType)
      return op->emitOpError("requires all operands and the result to have "
                             "the same element type");
  return success();
}

static LogicalResult verifyBias(Operation *op, Value bias, int64_t rows) {
  if (!bias)
    return success();
  auto type = cast<RankedTensorType>(bias.getType());
  if (type.getRank() != 1 || type.getDimSize(0) != rows)
    return op->emitOpError("expects bias of shape [")
           << rows << "], got " << type;
  return success();
}

LogicalResult LinearOp::verify() {
  RankedTensorType in = getInput().getType(), w = getWeight().getType(),
                   out = getResult().getType();
  if (w.getRank() != 2)
    return emitOpError("expects a rank-2 weight [R, K], got ") << w;
  if (in.getRank() < 1)
    return emitOpError("expects an input of rank >= 1");
  if (!w.hasStaticShape())
    return emitOpError("expects a statically shaped weight");
  int64_t rows = w.getDimSize(0), cols = w.getDimSize(1);
  if (!ShapedType::isDynamic(in.getShape().back()) &&
      in.getShape().back() != cols)
    return emitOpError("input feature size ")
           << in.getShape().back() << " does not match weight K = " << cols;
  SmallVector<int64_t> expected(in.getShape().drop_back());
  expected.push_back(rows);
  if (out.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("result shape does not match input batch dims + [R = ")
           << rows << "]";
  if (failed(verifyElementTypes(*this)) ||
      failed(verifyBias(*this, getBias(), rows)))
    return failure();
  return verifyWeightEncoding(*this, getWeight(), getWeightEncodingAttr(), rows,
                              cols);
}

LogicalResult Conv2DOp::verify() {
  RankedTensorType in = getInput().getType(), w = getWeight().getType(),
                   out = getResult().getType();
  if (in.getRank() != 4 || w.getRank() != 4 || out.getRank() != 4)
    return emitOpError("expects rank-4 input (NCHW), weight (OIHW) and result");
  if (!w.hasStaticShape() || !in.hasStaticShape())
    return emitOpError("expects static input and weight shapes");
  if (getStrides().size() != 2 || getDilations().size() != 2 ||
      getPads().size() != 4)
    return emitOpError("expects 2 strides, 2 dilations and 4 pads");
  if (llvm::any_of(getStrides(), [](int64_t s) { return s <= 0; }) ||
      llvm::any_of(getDilations(), [](int64_t d) { return d <= 0; }))
    return emitOpError("expects positive strides and dilations");
  if (llvm::any_of(getPads(), [](int64_t p) { return p < 0; }))
    return emitOpError("expects non-negative pads");
  int64_t groups = getGroups();
  int64_t cin = in.getDimSize(1), cout = w.getDimSize(0);
  if (groups <= 0 || cin % groups != 0 || cout % groups != 0)
    return emitOpError("groups = ") << groups << " must divide C_in = " << cin
                                    << " and C_out = " << cout;
  if (w.getDimSize(1) * groups != cin)
    return emitOpError("weight has ")
           << w.getDimSize(1) << " input channels per group, expected "
           << cin / groups;
  SmallVector<int64_t> expected = {in.getDimSize(0), cout};
  for (int i = 0; i < 2; ++i) {
    int64_t padded = in.getDimSize(2 + i) + getPads()[i] + getPads()[i + 2];
    int64_t window = getDilations()[i] * (w.getDimSize(2 + i) - 1) + 1;
    if (padded < window)
      return emitOpError("kernel window ")
             << window << " exceeds padded input size " << padded;
    expected.push_back((padded - window) / getStrides()[i] + 1);
  }
  if (out.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("result shape does not match the convolution geometry");
  if (failed(verifyElementTypes(*this)) ||
      failed(verifyBias(*this, getBias(), cout)))
    return failure();
  return verifyWeightEncoding(*this, getWeight(), getWeightEncodingAttr(),
                              getNumRows(), getReductionSize());
}

LogicalResult PermuteOp::verify() {
  auto type = cast<RankedTensorType>(getInput().getType());
  int64_t axis = getAxis();
  if (axis < 0 || axis >= type.getRank())
    return emitOpError("axis ")
           << axis << " is out of range for rank " << type.getRank();
  ArrayRef<int64_t> perm = getPermutation();
  if (int64_t(perm.size()) != type.getDimSize(axis))
    return emitOpError("permutation has ")
           << perm.size() << " entries for a dimension of size "
           << type.getDimSize(axis);
  std::vector<bool> seen(perm.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= int64_t(perm.size()) || seen[p])
      return emitOpError("permutation is not a permutation of 0..")
             << perm.size() - 1;
    seen[p] = true;
  }
  return success();
}

LogicalResult PermuteLanesOp::verify() {
  auto source = cast<VectorType>(getSource().getType());
  auto indices = cast<VectorType>(getIndices().getType());
  if (source.isScalable() || !llvm::isPowerOf2_64(source.getNumElements()))
    return emitOpError("source must have a fixed power-of-two number of "
                       "lanes, not ")
           << source;
  if (indices.isScalable() ||
      indices.getNumElements() != source.getNumElements())
    return emitOpError("indices must have as many lanes as the source (")
           << source.getNumElements() << "), not " << indices;
  return success();
}

#define GET_OP_CLASSES
#include "sparsec/Dialect/Sparsec/IR/SparsecOps.cpp.inc"
