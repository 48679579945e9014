//===- Importer.h - ONNX importer internals ---------------------*- C++ -*-===//
#ifndef SPARSEC_LIB_IMPORT_ONNX_IMPORTER_H
#define SPARSEC_LIB_IMPORT_ONNX_IMPORTER_H

#include "sparsec/Import/ONNXImporter.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include "onnx/onnx_pb.h"

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace sparsec::onnx_import {

/// A compile-time-known tensor (shape arithmetic, small constants).
struct HostTensor {
  int32_t dtype = onnx::TensorProto::INT64;
  llvm::SmallVector<int64_t> shape;
  std::vector<int64_t> ints;  // integer and bool types
  std::vector<double> floats; // floating-point types

  static bool isFloatType(int32_t dtype);
  bool isFloat() const { return isFloatType(dtype); }
  /// Product of `shape`; callers keep shapes valid (see isConsistent).
  int64_t numElements() const;
  /// Dims non-negative, their product fits, and storage holds exactly that
  /// many values of the right kind.
  bool isConsistent() const;
  double at(int64_t i) const { return isFloat() ? floats[i] : double(ints[i]); }
  /// Integer value of element `i`; float values saturate to int64 (NaN: 0).
  int64_t intAt(int64_t i) const {
    return isFloat() ? saturatingToInt64(floats[i]) : ints[i];
  }
  /// Resizes storage for numElements() values of the current dtype.
  void allocate();
  /// Stores `v`; into an integer dtype it saturates (NaN: 0).
  void set(int64_t i, double v);

  static int64_t saturatingToInt64(double v);
};

/// Every SSA value the importer creates has positive dims and at most this
/// many elements, so that shape arithmetic on them cannot overflow.
constexpr int64_t kMaxTensorElements = int64_t(1) << 40;

/// Product of `shape`, or nullopt if a dim is negative or the product
/// exceeds `limit`.
std::optional<int64_t> checkedProduct(llvm::ArrayRef<int64_t> shape,
                                      int64_t limit = kMaxTensorElements);

/// Bytes of an initializer: stolen from the proto, mapped from an external
/// file, or decoded from typed fields. Freed when its last user goes.
struct TensorBytes {
  llvm::ArrayRef<char> bytes;
  std::string owned;
  void *mapBase = nullptr;
  size_t mapLength = 0;
  /// Drops the mapped pages from memory (they are read again from the file if
  /// touched): a transposed copy replaces them, and a large model must not
  /// hold both.
  void releasePages();
  ~TensorBytes();
};

class Importer;
using Lowering = std::function<mlir::LogicalResult(Importer &)>;

/// How an op type is imported: its lowering (null for ops that are only ever
/// folded) and the inputs it takes (by default exactly one). Inputs below
/// `minInputs` must be present (a non-empty name); the importer checks this
/// before folding or lowering, so lowerings may rely on it. Optional inputs are
/// tested with hasInput().
struct OpSpec {
  Lowering lower;
  unsigned minInputs = 1;
  unsigned maxInputs = 1;
};
constexpr unsigned kVariadic = ~0u;
using LoweringTable = llvm::StringMap<OpSpec>;
using BodyBuilder = std::function<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                              mlir::ValueRange)>;

enum class ReduceKind { Sum, Mean, Max, Min, Prod };

class Importer {
public:
  Importer(mlir::MLIRContext &ctx, onnx::ModelProto &model, std::string path,
           const ONNXImportOptions &options);
  mlir::OwningOpRef<mlir::ModuleOp> run();

  //===--- The current node ---------------------------------------------===//
  const onnx::NodeProto &node() const { return *curNode; }
  int64_t opset() const { return opsetVersion; }
  mlir::Location loc() const { return curLoc; }
  mlir::OpBuilder &builder() { return b; }
  mlir::MLIRContext *ctx() { return b.getContext(); }

  /// Emits an error naming the node, op type and opset; returns failure.
  mlir::LogicalResult error(const llvm::Twine &message);

  unsigned numInputs() const { return curNode->input_size(); }
  bool hasInput(unsigned i) const;
  /// SSA value of input `i` (constants are materialized); null, with an
  /// error emitted, if it is absent or cannot be materialized.
  mlir::Value input(unsigned i);
  /// Host value of input `i` when known at compile time.
  const HostTensor *constInput(unsigned i);
  /// Name of input `i` if it is an initializer (else empty).
  bool isInitializer(unsigned i) const;
  /// Rank of input `i` if it is an initializer, else -1.
  int64_t initializerRank(unsigned i) const;
  /// Static shape of input `i`, whatever defines it.
  std::optional<llvm::SmallVector<int64_t>> inputShape(unsigned i) const;
  /// The name of the initializer input `i` is (for a float initializer cast
  /// to f32, the original initializer's); empty when it is none.
  std::string initializerName(unsigned i) const;
  /// When input `i` is a float16, bfloat16 or float64 initializer, makes
  /// output 0 an f32 copy of it that layers take as a constant weight (so
  /// that fp16/bf16 checkpoints prune); false otherwise.
  bool castInitializerToFloat(unsigned i);
  /// The weight as stored ([R, K] view) or transposed (for MatMul's B).
  mlir::Value weightInput(unsigned i, bool transpose);
  bool outputUsed(unsigned i) const;
  void setOutput(unsigned i, mlir::Value v);
  /// Records a folded output; fails (error emitted) if `t` is inconsistent.
  mlir::LogicalResult setConstOutput(unsigned i, HostTensor t);

  //===--- Attributes ---------------------------------------------------===//
  // Types are checked before the node is lowered (checkAttributes): the
  // typed getters return `def` for an attribute of another type.
  const onnx::AttributeProto *attr(llvm::StringRef name) const;
  int64_t attrInt(llvm::StringRef name, int64_t def) const;
  float attrFloat(llvm::StringRef name, float def) const;
  std::string attrString(llvm::StringRef name, llvm::StringRef def) const;
  std::optional<llvm::SmallVector<int64_t>>
  attrInts(llvm::StringRef name) const;
  mlir::FailureOr<HostTensor> attrTensor(llvm::StringRef name);

  //===--- IR helpers ---------------------------------------------------===//
  static mlir::RankedTensorType typeOf(mlir::Value v) {
    return llvm::cast<mlir::RankedTensorType>(v.getType());
  }
  mlir::FailureOr<mlir::Type> elementType(int32_t onnxType);
  mlir::FailureOr<int32_t> onnxType(mlir::Type elt);
  /// An arith.constant holding `t`; null (error emitted) for element types
  /// sparsec does not compile or zero-sized tensors.
  mlir::Value materialize(const HostTensor &t);
  /// Fails with an error unless every dim is positive and the element count
  /// is at most kMaxTensorElements. `what` names the tensor.
  mlir::LogicalResult checkShape(llvm::ArrayRef<int64_t> shape,
                                 const llvm::Twine &what);
  mlir::Value scalarConstant(mlir::Type elt, double value);
  /// Broadcasting elementwise op (numpy rules).
  mlir::FailureOr<mlir::Value> elementwise(llvm::ArrayRef<mlir::Value> inputs,
                                           mlir::Type resultElt,
                                           const BodyBuilder &body);
  mlir::Value reshape(mlir::Value v, llvm::ArrayRef<int64_t> shape);
  mlir::Value transpose(mlir::Value v, llvm::ArrayRef<int64_t> perm);
  mlir::Value reduce(mlir::Value v, llvm::ArrayRef<int64_t> axes, bool keepdims,
                     ReduceKind kind);
  mlir::Value emptyTensor(llvm::ArrayRef<int64_t> shape, mlir::Type elt);
  mlir::Value fill(llvm::ArrayRef<int64_t> shape, mlir::Type elt, double v);
  /// Normalizes a possibly negative axis; fails with an error if out of range.
  mlir::FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank);

  /// Host data of initializer `name` as a HostTensor (small tensors).
  mlir::FailureOr<HostTensor> initializerAsHost(const onnx::TensorProto &t);

private:
  mlir::FailureOr<std::shared_ptr<TensorBytes>>
  initializerBytes(const onnx::TensorProto &t);
  mlir::FailureOr<mlir::Value>
  materializeInitializer(const onnx::TensorProto &t, bool transpose);
  mlir::LogicalResult importNode(const onnx::NodeProto &n, int index);
  mlir::LogicalResult importNodeImpl(const onnx::NodeProto &n);
  mlir::LogicalResult checkInputs(const onnx::NodeProto &n, const OpSpec &spec);
  mlir::LogicalResult checkAttributes(const onnx::NodeProto &n);
  mlir::LogicalResult checkOutputs(const onnx::NodeProto &n);
  mlir::FailureOr<mlir::RankedTensorType>
  graphInputType(const onnx::ValueInfoProto &info);
  mlir::LogicalResult checkInferredShape(llvm::StringRef name, mlir::Type type);

  mlir::OpBuilder b;
  onnx::ModelProto &model;
  std::string path, modelDir;
  const ONNXImportOptions &options;
  int64_t opsetVersion = 0;
  mlir::Location curLoc;
  const onnx::NodeProto *curNode = nullptr;
  /// The node's name, or "#<index>" for unnamed nodes.
  std::string curLabel;
  /// Set by error(): a failure without it gets a generic message.
  bool errorEmitted = false;
  /// Prefix of errors outside any node (e.g. "graph output 'y': ").
  std::string context;

  llvm::StringMap<mlir::Value> values;
  llvm::StringMap<HostTensor> constants;
  llvm::StringMap<const onnx::TensorProto *> initializers;
  /// Keyed by the proto: a cast copy shares its original's name.
  llvm::DenseMap<const onnx::TensorProto *, mlir::Value> materialized,
      materializedT;
  /// f32 copies of float16/bfloat16/float64 initializers (stable addresses).
  std::deque<onnx::TensorProto> castInitializers;
  /// Keyed by the proto itself, not its name: names of Constant values need
  /// not be unique, and the raw bytes are moved out of the proto.
  llvm::DenseMap<const onnx::TensorProto *, std::shared_ptr<TensorBytes>>
      bytesCache;
  llvm::StringMap<const onnx::TypeProto *> inferredTypes;
  llvm::StringMap<int> useCount;
};

/// Every op type's lowering (built once).
const LoweringTable &getLoweringTable();

/// "" if sparsec imports nodes of `n`'s domain and op type, in the
/// definition of that op type at `opset`, else why not
/// (ONNXLoadOptions::checkNode: before ONNX's checker and shape inference).
std::string checkNodeIsSupported(const onnx::NodeProto &n, int64_t opset);

/// Tries to evaluate the current node on the host; sets `folded` on success.
mlir::LogicalResult tryFoldNode(Importer &im, bool &folded);

void registerElementwiseLowerings(LoweringTable &table);
void registerTensorLowerings(LoweringTable &table);
void registerNNLowerings(LoweringTable &table);
void registerConvPoolLowerings(LoweringTable &table);
void registerIndexLowerings(LoweringTable &table);
void registerResizeLowering(LoweringTable &table);

// Shared by the layer lowerings (NNOps.cpp, ConvPoolOps.cpp).
/// Records which initializer a layer's weight came from (see NNOps.cpp).
void recordWeightOrigin(Importer &im, mlir::Operation *layer, unsigned input,
                        bool transposed);
/// Fails with an error unless `v` holds floating-point elements.
mlir::LogicalResult requireFloat(Importer &im, mlir::Value v);
/// Fails unless `v` has the element type of `like`; `what` names `v`.
mlir::LogicalResult requireSameElementType(Importer &im, mlir::Value v,
                                           mlir::Value like,
                                           llvm::StringRef what);
/// Ops handled only by tryFoldNode (Constant, Shape, Size, ...).
void registerFoldedOps(LoweringTable &table);

/// Bytes of one element of an ONNX data type the importer reads; 0 if none.
int64_t elementByteSize(int32_t dtype);

} // namespace sparsec::onnx_import

#endif
