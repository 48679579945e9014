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
#include <limits>
#include <map>
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

/// A dimension size as the importer knows it: `coeff` times the product of
/// the dynamic input dimensions `factors` (ids of Importer's symbols, sorted;
/// repeated for powers). Static sizes have no factors. Enough for what
/// reshapes do to dynamic sizes (multiply, divide exactly); a size that
/// needs a sum is not representable and is refused.
struct SymDim {
  /// The coefficient of a product that overflowed.
  static constexpr int64_t kOverflow = std::numeric_limits<int64_t>::min();
  int64_t coeff = 1;
  llvm::SmallVector<unsigned, 2> factors;

  static SymDim constant(int64_t size) { return {size, {}}; }
  bool isStatic() const { return factors.empty(); }
  SymDim operator*(const SymDim &other) const;
  /// This / `divisor` when it divides exactly, else nullopt.
  std::optional<SymDim> divideBy(const SymDim &divisor) const;
  bool operator==(const SymDim &other) const {
    return coeff == other.coeff && factors == other.factors;
  }
  bool operator!=(const SymDim &other) const { return !(*this == other); }
};

/// A small integer tensor (rank 0 or 1) of sizes known symbolically: the
/// shape arithmetic on dynamic dims that exporters write (Shape, Gather,
/// Unsqueeze, Concat into Reshape). Folded like the constants; an op that
/// does not fold it gets it as a tensor computed at run time.
struct SymTensor {
  int32_t dtype = onnx::TensorProto::INT64;
  llvm::SmallVector<int64_t, 1> shape;
  llvm::SmallVector<SymDim> elems;
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
  /// The lowering handles inputs with dynamic dimensions; nodes of other op
  /// types that get one are refused with an error before lowering.
  bool dynamic = false;
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
  /// Input `i` when it is a symbolic size tensor (SymTensor).
  const SymTensor *symbolicInput(unsigned i) const;
  void setSymbolicOutput(unsigned i, SymTensor t);
  /// The elements of input `i` as sizes, from a constant or a symbolic
  /// integer tensor; nullopt when it is neither.
  std::optional<llvm::SmallVector<SymDim>> sizesInput(unsigned i);
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
  /// The same with dynamic sizes (tensor.dim values or index arithmetic).
  mlir::Value emptyTensor(llvm::ArrayRef<mlir::OpFoldResult> sizes,
                          mlir::Type elt);
  mlir::Value fill(llvm::ArrayRef<mlir::OpFoldResult> sizes, mlir::Type elt,
                   double v);

  //===--- Dynamic dimensions (DynamicDims.cpp) -------------------------===//
  /// Dim `d` of `v`: its static size or a tensor.dim.
  mlir::OpFoldResult dimSize(mlir::Value v, int64_t d);
  llvm::SmallVector<mlir::OpFoldResult> dimSizes(mlir::Value v);
  /// Dim `d` of `v` in terms of the dynamic input dimensions; failure (no
  /// error emitted) when the importer cannot tell.
  mlir::FailureOr<SymDim> symbolicDim(mlir::Value v, int64_t d);
  /// `size` as an index value at the insertion point.
  mlir::OpFoldResult materialize(const SymDim &size);
  /// The (input, dim) pair a symbol stands for.
  std::pair<unsigned, int64_t> symbolOrigin(unsigned symbol) const {
    return symbols[symbol];
  }
  /// `v` reshaped to `shape` (row-major, the same element count), through
  /// collapse and expand of groups whose sizes agree; fails with an error
  /// when the sizes cannot be matched.
  mlir::FailureOr<mlir::Value> reshape(mlir::Value v,
                                       llvm::ArrayRef<SymDim> shape);
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

  mlir::FailureOr<SymDim> symbolicIndex(mlir::Value index);
  /// Gives each dynamic dim of `main`'s arguments its symbol.
  void assignSymbols(llvm::ArrayRef<const onnx::ValueInfoProto *> args,
                     llvm::ArrayRef<mlir::Type> argTypes);
  /// Records on `func` the dynamic inputs' bounds and symbols, and how its
  /// dynamic output dims follow from them (ONNXImporter.h's attributes);
  /// failure, with an error, for an output dim that is no such product.
  void recordInputDims(mlir::func::FuncOp func,
                       llvm::ArrayRef<const onnx::ValueInfoProto *> args,
                       llvm::ArrayRef<mlir::Type> argTypes);
  mlir::LogicalResult recordOutputDims(mlir::func::FuncOp func,
                                       llvm::ArrayRef<mlir::Value> results,
                                       llvm::ArrayRef<mlir::Attribute> names);
  /// The symbol of each dim of argument `arg` (-1 for static dims).
  llvm::SmallVector<int64_t> argSymbols(unsigned arg, int64_t rank) const;
  /// The dynamic dims of `main`'s arguments: the first (argument, dim) of
  /// each symbol, and every such pair's symbol.
  llvm::SmallVector<std::pair<unsigned, int64_t>> symbols;
  std::map<std::pair<unsigned, int64_t>, unsigned> argDimSymbols;
  mlir::Block *entryBlock = nullptr;

  llvm::StringMap<mlir::Value> values;
  llvm::StringMap<HostTensor> constants;
  llvm::StringMap<SymTensor> symbolicValues;
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
/// The same for shape arithmetic on dynamic dims (ShapeArithmetic.cpp).
mlir::LogicalResult tryFoldSymbolic(Importer &im, bool &folded);

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
// Reshapes of tensors with dynamic dims (DynamicDims.cpp).
/// The sizes of `x`'s dims in terms of the dynamic input dims (error
/// emitted when one cannot be told).
mlir::FailureOr<llvm::SmallVector<SymDim>> symbolicShape(Importer &im,
                                                         mlir::Value x);
/// Output 0 = `x` reshaped to `shape`.
mlir::LogicalResult setReshaped(Importer &im, mlir::Value x,
                                llvm::ArrayRef<SymDim> shape);
/// ONNX Reshape of `x` to `target` (0 copies the input's dim unless
/// `allowZero`, -1 is what is left of the element count).
mlir::LogicalResult lowerDynamicReshape(Importer &im, mlir::Value x,
                                        llvm::ArrayRef<SymDim> target,
                                        bool allowZero);
/// `x` broadcast to `shape` (Expand with sizes from dynamic dims).
mlir::FailureOr<mlir::Value> expandDynamic(Importer &im, mlir::Value x,
                                           llvm::ArrayRef<SymDim> shape);
/// ConstantOfShape's element type and value (float 0 by default).
mlir::FailureOr<std::pair<int32_t, double>> constantOfShapeValue(Importer &im);
/// Range and ConstantOfShape of sizes from dynamic dims (DynamicOps.cpp).
void registerDynamicLowerings(LoweringTable &table);
/// Ops handled only by tryFoldNode (Constant, Shape, Size, ...).
void registerFoldedOps(LoweringTable &table);

/// Bytes of one element of an ONNX data type the importer reads; 0 if none.
int64_t elementByteSize(int32_t dtype);

} // namespace sparsec::onnx_import

#endif
