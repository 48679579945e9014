//===- Importer.cpp - ONNX importer core ----------------------------------===//
#include "Importer.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Import/ONNXLoader.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;

namespace sparsec::onnx_import {

//===----------------------------------------------------------------------===//
// Importer
//===----------------------------------------------------------------------===//

Importer::Importer(MLIRContext &ctx, onnx::ModelProto &model, std::string path,
                   const ONNXImportOptions &options)
    : b(&ctx), model(model), path(std::move(path)), options(options),
      curLoc(UnknownLoc::get(&ctx)) {
  size_t slash = this->path.find_last_of('/');
  modelDir = slash == std::string::npos ? "." : this->path.substr(0, slash);
  for (const auto &imp : model.opset_import())
    if (imp.domain().empty() || imp.domain() == "ai.onnx")
      opsetVersion = imp.version();
}

LogicalResult Importer::error(const Twine &message) {
  std::string label = curNode ? "node '" + curLabel + "' (" +
                                    curNode->op_type() + ", opset " +
                                    std::to_string(opsetVersion) + "): "
                              : context;
  emitError(curLoc) << label << message;
  errorEmitted = true;
  return failure();
}

bool Importer::hasInput(unsigned i) const {
  return int(i) < curNode->input_size() && !curNode->input(i).empty();
}

bool Importer::isInitializer(unsigned i) const {
  return hasInput(i) && initializers.count(curNode->input(i));
}

std::string Importer::initializerName(unsigned i) const {
  const onnx::TensorProto *t =
      hasInput(i) ? initializers.lookup(curNode->input(i)) : nullptr;
  return t ? t->name() : "";
}

bool Importer::castInitializerToFloat(unsigned i) {
  const onnx::TensorProto *t =
      hasInput(i) ? initializers.lookup(curNode->input(i)) : nullptr;
  if (!t || curNode->output_size() < 1 || curNode->output(0).empty())
    return false;
  int32_t type = t->data_type();
  if (type != onnx::TensorProto::FLOAT16 &&
      type != onnx::TensorProto::BFLOAT16 && type != onnx::TensorProto::DOUBLE)
    return false;
  FailureOr<std::shared_ptr<TensorBytes>> bytes = initializerBytes(*t);
  if (failed(bytes))
    return false;
  ArrayRef<char> raw = (*bytes)->bytes;
  int64_t width = type == onnx::TensorProto::DOUBLE ? 8 : 2;
  std::string floats(raw.size() / width * sizeof(float), '\0');
  for (size_t k = 0; k < raw.size() / width; ++k) {
    float v;
    if (type == onnx::TensorProto::DOUBLE) {
      double d;
      std::memcpy(&d, raw.data() + k * 8, 8);
      v = float(d);
    } else {
      uint16_t bits;
      std::memcpy(&bits, raw.data() + k * 2, 2);
      const llvm::fltSemantics &sem = type == onnx::TensorProto::FLOAT16
                                          ? llvm::APFloat::IEEEhalf()
                                          : llvm::APFloat::BFloat();
      v = llvm::APFloat(sem, llvm::APInt(16, bits)).convertToFloat();
    }
    std::memcpy(floats.data() + k * sizeof(float), &v, sizeof(float));
  }
  onnx::TensorProto &copy = castInitializers.emplace_back();
  copy.set_name(t->name());
  copy.set_data_type(onnx::TensorProto::FLOAT);
  *copy.mutable_dims() = t->dims();
  copy.set_raw_data(std::move(floats));
  initializers[curNode->output(0)] = &copy;
  return true;
}

int64_t Importer::initializerRank(unsigned i) const {
  if (!hasInput(i))
    return -1;
  const onnx::TensorProto *t = initializers.lookup(curNode->input(i));
  return t ? t->dims_size() : -1;
}

std::optional<SmallVector<int64_t>> Importer::inputShape(unsigned i) const {
  if (!hasInput(i))
    return std::nullopt;
  const std::string &name = curNode->input(i);
  if (Value v = values.lookup(name))
    return SmallVector<int64_t>(typeOf(v).getShape());
  auto c = constants.find(name);
  if (c != constants.end())
    return c->second.shape;
  if (const onnx::TensorProto *t = initializers.lookup(name))
    return SmallVector<int64_t>(t->dims().begin(), t->dims().end());
  return std::nullopt;
}

bool Importer::outputUsed(unsigned i) const {
  if (int(i) >= curNode->output_size() || curNode->output(i).empty())
    return false;
  return useCount.lookup(curNode->output(i)) > 0;
}

const onnx::AttributeProto *Importer::attr(StringRef name) const {
  for (const auto &a : curNode->attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

using AttrType = onnx::AttributeProto::AttributeType;

int64_t Importer::attrInt(StringRef name, int64_t def) const {
  const onnx::AttributeProto *a = attr(name);
  return a && a->type() == onnx::AttributeProto::INT ? a->i() : def;
}

float Importer::attrFloat(StringRef name, float def) const {
  const onnx::AttributeProto *a = attr(name);
  return a && a->type() == onnx::AttributeProto::FLOAT ? a->f() : def;
}

std::string Importer::attrString(StringRef name, StringRef def) const {
  const onnx::AttributeProto *a = attr(name);
  return a && a->type() == onnx::AttributeProto::STRING ? a->s() : def.str();
}

std::optional<SmallVector<int64_t>> Importer::attrInts(StringRef name) const {
  const onnx::AttributeProto *a = attr(name);
  if (!a || a->type() != onnx::AttributeProto::INTS)
    return std::nullopt;
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

FailureOr<HostTensor> Importer::attrTensor(StringRef name) {
  const onnx::AttributeProto *a = attr(name);
  if (!a || a->type() != onnx::AttributeProto::TENSOR || !a->has_t())
    return error("missing tensor attribute '" + name + "'");
  return initializerAsHost(a->t());
}

/// The type of every attribute a lowering or fold reads, by name (the same
/// for every op sparsec imports).
static const llvm::StringMap<AttrType> &knownAttributeTypes() {
  using A = onnx::AttributeProto;
  static const llvm::StringMap<AttrType> types = {
      {"alpha", A::FLOAT},
      {"beta", A::FLOAT},
      {"epsilon", A::FLOAT},
      {"min", A::FLOAT},
      {"max", A::FLOAT},
      {"value_float", A::FLOAT},
      {"axis", A::INT},
      {"transA", A::INT},
      {"transB", A::INT},
      {"group", A::INT},
      {"keepdims", A::INT},
      {"noop_with_empty_axes", A::INT},
      {"ceil_mode", A::INT},
      {"count_include_pad", A::INT},
      {"allowzero", A::INT},
      {"to", A::INT},
      {"start", A::INT},
      {"end", A::INT},
      {"value_int", A::INT},
      {"axes", A::INTS},
      {"perm", A::INTS},
      {"pads", A::INTS},
      {"strides", A::INTS},
      {"dilations", A::INTS},
      {"kernel_shape", A::INTS},
      {"starts", A::INTS},
      {"ends", A::INTS},
      {"value_ints", A::INTS},
      {"value_floats", A::FLOATS},
      {"auto_pad", A::STRING},
      {"value", A::TENSOR},
  };
  return types;
}

static std::string attrTypeName(int type) {
  if (!onnx::AttributeProto::AttributeType_IsValid(type))
    return "type " + std::to_string(type);
  return onnx::AttributeProto::AttributeType_Name(AttrType(type));
}

LogicalResult Importer::checkAttributes(const onnx::NodeProto &n) {
  const llvm::StringMap<AttrType> &known = knownAttributeTypes();
  for (const auto &a : n.attribute()) {
    auto it = known.find(a.name());
    if (it != known.end() && a.type() != it->second)
      return error("attribute '" + a.name() + "' must be " +
                   attrTypeName(it->second) + ", not " +
                   attrTypeName(a.type()));
  }
  return success();
}

FailureOr<int64_t> Importer::normalizeAxis(int64_t axis, int64_t rank) {
  int64_t normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= rank)
    return error("axis " + Twine(axis) + " is out of range for rank " +
                 Twine(rank));
  return normalized;
}

FailureOr<Type> Importer::elementType(int32_t t) {
  switch (t) {
  case onnx::TensorProto::FLOAT:
    return Type(b.getF32Type());
  case onnx::TensorProto::DOUBLE:
    return Type(b.getF64Type());
  case onnx::TensorProto::FLOAT16:
    return Type(b.getF16Type());
  case onnx::TensorProto::BFLOAT16:
    return Type(b.getBF16Type());
  case onnx::TensorProto::INT64:
    return Type(b.getI64Type());
  case onnx::TensorProto::INT32:
    return Type(b.getI32Type());
  case onnx::TensorProto::INT16:
    return Type(b.getI16Type());
  case onnx::TensorProto::INT8:
    return Type(b.getI8Type());
  case onnx::TensorProto::BOOL:
    return Type(b.getI1Type());
  default:
    return error("unsupported tensor element type " +
                 (onnx::TensorProto::DataType_IsValid(t)
                      ? onnx::TensorProto::DataType_Name(
                            static_cast<onnx::TensorProto::DataType>(t))
                      : std::to_string(t)));
  }
}

FailureOr<int32_t> Importer::onnxType(Type elt) {
  if (elt.isF32())
    return int32_t(onnx::TensorProto::FLOAT);
  if (elt.isF64())
    return int32_t(onnx::TensorProto::DOUBLE);
  if (elt.isF16())
    return int32_t(onnx::TensorProto::FLOAT16);
  if (elt.isBF16())
    return int32_t(onnx::TensorProto::BFLOAT16);
  if (elt.isInteger(64))
    return int32_t(onnx::TensorProto::INT64);
  if (elt.isInteger(32))
    return int32_t(onnx::TensorProto::INT32);
  if (elt.isInteger(16))
    return int32_t(onnx::TensorProto::INT16);
  if (elt.isInteger(8))
    return int32_t(onnx::TensorProto::INT8);
  if (elt.isInteger(1))
    return int32_t(onnx::TensorProto::BOOL);
  return failure();
}

Value Importer::input(unsigned i) {
  if (!hasInput(i)) {
    (void)error("input " + Twine(i) + " is missing");
    return nullptr;
  }
  const std::string &name = curNode->input(i);
  if (Value v = values.lookup(name))
    return v;
  if (const onnx::TensorProto *t = initializers.lookup(name)) {
    FailureOr<Value> v = materializeInitializer(*t, false);
    return succeeded(v) ? *v : nullptr;
  }
  auto it = constants.find(name);
  if (it != constants.end()) {
    Value v = materialize(it->second);
    if (v)
      values[name] = v;
    return v;
  }
  // Sizes of dynamic dims that this op does not fold: computed at run time.
  auto sym = symbolicValues.find(name);
  if (sym != symbolicValues.end()) {
    FailureOr<Type> elt = elementType(sym->second.dtype);
    if (failed(elt))
      return nullptr;
    SmallVector<Value> elems;
    for (const SymDim &d : sym->second.elems)
      elems.push_back(arith::IndexCastOp::create(
          b, curLoc, *elt,
          getValueOrCreateConstantIndexOp(b, curLoc, materialize(d))));
    Value v = tensor::FromElementsOp::create(
        b, curLoc, RankedTensorType::get(sym->second.shape, *elt), elems);
    values[name] = v;
    return v;
  }
  (void)error("input '" + name + "' is not defined");
  return nullptr;
}

Value Importer::weightInput(unsigned i, bool transposeWeight) {
  const onnx::TensorProto *t =
      hasInput(i) ? initializers.lookup(curNode->input(i)) : nullptr;
  if (!t) {
    Value v = input(i);
    return v && transposeWeight ? transpose(v, {1, 0}) : v;
  }
  FailureOr<Value> v = materializeInitializer(*t, transposeWeight);
  return succeeded(v) ? *v : nullptr;
}

const HostTensor *Importer::constInput(unsigned i) {
  if (!hasInput(i))
    return nullptr;
  const std::string &name = curNode->input(i);
  auto it = constants.find(name);
  if (it != constants.end())
    return &it->second;
  if (const onnx::TensorProto *t = initializers.lookup(name)) {
    // Only small initializers are mirrored on the host.
    ArrayRef<int64_t> dims(t->dims().data(), t->dims_size());
    if (!checkedProduct(dims, int64_t(1) << 16))
      return nullptr;
    FailureOr<HostTensor> h = initializerAsHost(*t);
    if (failed(h))
      return nullptr;
    return &(constants[name] = std::move(*h));
  }
  return nullptr;
}

void Importer::setOutput(unsigned i, Value v) {
  if (int(i) >= curNode->output_size() || curNode->output(i).empty())
    return;
  values[curNode->output(i)] = v;
}

LogicalResult Importer::setConstOutput(unsigned i, HostTensor t) {
  if (!t.isConsistent())
    return error("internal error: inconsistent folded constant");
  if (int(i) >= curNode->output_size() || curNode->output(i).empty())
    return success();
  constants[curNode->output(i)] = std::move(t);
  return success();
}

FailureOr<RankedTensorType>
Importer::graphInputType(const onnx::ValueInfoProto &info) {
  if (!info.type().has_tensor_type()) {
    (void)error("graph input '" + info.name() + "' is not a tensor");
    return failure();
  }
  const auto &tt = info.type().tensor_type();
  FailureOr<Type> elt = elementType(tt.elem_type());
  if (failed(elt))
    return failure();
  SmallVector<int64_t> shape;
  auto override = options.inputShapes.find(info.name());
  if (override != options.inputShapes.end()) {
    for (const DimRange &range : override->second)
      shape.push_back(range.isStatic() ? range.min : ShapedType::kDynamic);
  } else {
    if (!tt.has_shape()) {
      (void)error("graph input '" + info.name() +
                  "' has no shape; give one with --input-shape=" + info.name() +
                  ":d0xd1x...");
      return failure();
    }
    for (int i = 0; i < tt.shape().dim_size(); ++i) {
      const auto &dim = tt.shape().dim(i);
      if (!dim.has_dim_value()) {
        (void)error(
            "graph input '" + info.name() + "' has a symbolic dimension '" +
            dim.dim_param() + "' at axis " + Twine(i) +
            "; give its size, '?' or a range MIN..MAX with --input-shape=" +
            info.name() + ":d0xd1x...");
        return failure();
      }
      shape.push_back(dim.dim_value());
    }
  }
  // Bounded dynamic dims count at their largest size (unbounded ones are
  // checked when the model runs).
  SmallVector<int64_t> largest(shape);
  if (override != options.inputShapes.end())
    for (auto [size, range] : llvm::zip(largest, override->second))
      size = range.max == kUnboundedDim ? 1 : range.max;
  int64_t elements = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (largest[i] > 0 && elements > (int64_t(1) << 40) / largest[i]) {
      (void)error("graph input '" + info.name() +
                  "' has more than 2^40 elements");
      return failure();
    }
    elements *= std::max<int64_t>(largest[i], 1);
  }
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] <= 0 && !ShapedType::isDynamic(shape[i])) {
      (void)error("graph input '" + info.name() + "' has " +
                  (shape[i] == 0 ? "a zero" : "a negative") + " dimension (" +
                  Twine(shape[i]) + ") at axis " + Twine(i) +
                  "; every dimension must be positive");
      return failure();
    }
  return RankedTensorType::get(shape, *elt);
}

LogicalResult Importer::checkInferredShape(StringRef name, Type type) {
  const onnx::TypeProto *inferred = inferredTypes.lookup(name);
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!inferred || !ranked || !inferred->has_tensor_type() ||
      !inferred->tensor_type().has_shape())
    return success();
  const auto &shape = inferred->tensor_type().shape();
  if (shape.dim_size() != ranked.getRank())
    return success(); // rank differs only for symbolic models; trust ours
  for (int i = 0; i < shape.dim_size(); ++i)
    if (shape.dim(i).has_dim_value() && !ranked.isDynamicDim(i) &&
        shape.dim(i).dim_value() != ranked.getDimSize(i))
      return error("internal shape mismatch for '" + name +
                   "': ONNX infers dimension " +
                   Twine(shape.dim(i).dim_value()) + " at axis " + Twine(i) +
                   ", sparsec computed " + Twine(ranked.getDimSize(i)));
  return success();
}

const LoweringTable &getLoweringTable() {
  static LoweringTable table = [] {
    LoweringTable t;
    registerElementwiseLowerings(t);
    registerTensorLowerings(t);
    registerNNLowerings(t);
    registerConvPoolLowerings(t);
    registerIndexLowerings(t);
    registerResizeLowering(t);
    registerFoldedOps(t);
    registerDynamicLowerings(t);
    return t;
  }();
  return table;
}

std::string checkNodeIsSupported(const onnx::NodeProto &n, int64_t opset) {
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    return "operator from domain '" + n.domain() + "' is not supported";
  if (!getLoweringTable().count(n.op_type()))
    return "unsupported operator " + n.op_type();
  int64_t since = onnxDefinitionSince(n.op_type(), opset);
  if (since < 0)
    return n.op_type() + " is not defined at opset " + std::to_string(opset);
  int64_t newest = sparsec::newestImportedDefinition(n.op_type());
  if (since > newest)
    return n.op_type() + " as defined since opset " + std::to_string(since) +
           " is not supported yet (sparsec imports its definitions up to "
           "opset " +
           std::to_string(newest) + ")";
  return "";
}

LogicalResult Importer::checkInputs(const onnx::NodeProto &n,
                                    const OpSpec &spec) {
  for (unsigned i = 0; i < spec.minInputs && int(i) < n.input_size(); ++i)
    if (n.input(i).empty())
      return error("input " + Twine(i) + " is required but empty");
  // Optional inputs left out at the end may be written as empty names.
  unsigned count = n.input_size();
  while (count > 0 && n.input(count - 1).empty())
    --count;
  if (count >= spec.minInputs && count <= spec.maxInputs)
    return success();
  std::string expected = spec.maxInputs == kVariadic
                             ? "at least " + std::to_string(spec.minInputs)
                         : spec.minInputs == spec.maxInputs
                             ? std::to_string(spec.minInputs)
                             : std::to_string(spec.minInputs) + " to " +
                                   std::to_string(spec.maxInputs);
  return error("expects " + expected + " input" +
               (spec.minInputs == 1 && spec.maxInputs != 2 ? "" : "s") +
               ", got " + Twine(count));
}

LogicalResult Importer::checkOutputs(const onnx::NodeProto &n) {
  for (int i = 0; i < n.output_size(); ++i) {
    const std::string &out = n.output(i);
    if (out.empty())
      continue;
    if (!values.count(out) && !constants.count(out) &&
        !initializers.count(out) && !symbolicValues.count(out)) {
      if (useCount.lookup(out) > 0)
        return error("output " + Twine(i) + " ('" + out +
                     "') is used but not supported by sparsec");
      continue;
    }
    if (Value v = values.lookup(out)) {
      // Dynamic dims are checked against their bounds when the model runs.
      SmallVector<int64_t> staticPart(typeOf(v).getShape());
      for (int64_t &d : staticPart)
        if (ShapedType::isDynamic(d))
          d = 1;
      if (failed(checkShape(staticPart, "output '" + out + "'")) ||
          failed(checkInferredShape(out, v.getType())))
        return failure();
    }
  }
  return success();
}

LogicalResult Importer::importNodeImpl(const onnx::NodeProto &n) {
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    return error("operator from domain '" + n.domain() + "' is not supported");
  const LoweringTable &table = getLoweringTable();
  auto it = table.find(n.op_type());
  if (it == table.end())
    return error("unsupported operator " + n.op_type());
  if (failed(checkInputs(n, it->second)) || failed(checkAttributes(n)))
    return failure();
  bool folded = false;
  if (failed(tryFoldSymbolic(*this, folded)))
    return failure();
  if (folded)
    return checkOutputs(n);
  if (!it->second.dynamic)
    for (int i = 0; i < n.input_size(); ++i)
      if (Value v = values.lookup(n.input(i));
          v && !typeOf(v).hasStaticShape()) {
        std::string type;
        llvm::raw_string_ostream os(type);
        os << v.getType();
        return error(n.op_type() +
                     " does not take dynamic dimensions yet (input '" +
                     n.input(i) + "' is " + type +
                     "); give static sizes with --input-shape");
      }
  if (failed(tryFoldNode(*this, folded)))
    return failure();
  if (!folded) {
    if (!it->second.lower)
      return error("needs compile-time constant inputs (sparsec evaluates " +
                   n.op_type() + " only at import time)");
    if (failed(it->second.lower(*this)))
      return failure();
  }
  return checkOutputs(n);
}

LogicalResult Importer::importNode(const onnx::NodeProto &n, int index) {
  curNode = &n;
  curLabel = n.name().empty() ? "#" + std::to_string(index) : n.name();
  curLoc = NameLoc::get(b.getStringAttr(curLabel),
                        FileLineColLoc::get(b.getStringAttr(path), 0, 0));
  errorEmitted = false;
  if (succeeded(importNodeImpl(n)))
    return success();
  // Every failure must tell the user why.
  if (!errorEmitted)
    return error("cannot be imported (internal error: no diagnostic)");
  return failure();
}

OwningOpRef<ModuleOp> Importer::run() {
  const onnx::GraphProto &graph = model.graph();
  Location fileLoc = FileLineColLoc::get(b.getStringAttr(path), 0, 0);
  curLoc = fileLoc;
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  module->getOperation()->setAttr("sparsec.source", b.getStringAttr(path));
  module->getOperation()->setAttr("sparsec.opset",
                                  b.getI64IntegerAttr(opsetVersion));

  // The loader checked every initializer's data against its dims and that
  // names are unique.
  for (const auto &init : graph.initializer())
    initializers[init.name()] = &init;
  for (const auto &vi : graph.value_info())
    inferredTypes[vi.name()] = &vi.type();
  for (const auto &vi : graph.output())
    inferredTypes[vi.name()] = &vi.type();
  for (const auto &n : graph.node())
    for (const auto &in : n.input())
      ++useCount[in];
  for (const auto &out : graph.output())
    ++useCount[out.name()];

  SmallVector<Type> argTypes;
  SmallVector<Attribute> inputNames;
  SmallVector<const onnx::ValueInfoProto *> args;
  for (const auto &in : graph.input()) {
    if (initializers.count(in.name()))
      continue;
    FailureOr<RankedTensorType> type = graphInputType(in);
    if (failed(type))
      return nullptr;
    argTypes.push_back(*type);
    inputNames.push_back(b.getStringAttr(in.name()));
    args.push_back(&in);
  }
  // An --input-shape for a name that is no graph input (a typo, or an
  // initializer) would otherwise be ignored without a word.
  for (const auto &entry : options.inputShapes)
    if (!llvm::is_contained(inputNames, b.getStringAttr(entry.getKey()))) {
      std::string names;
      for (Attribute name : inputNames)
        names += (names.empty() ? "'" : ", '") +
                 cast<StringAttr>(name).getValue().str() + "'";
      emitError(fileLoc) << "--input-shape names '" << entry.getKey()
                         << "', which is not a graph input (inputs: "
                         << (names.empty() ? "none" : names) << ")";
      return nullptr;
    }
  for (const auto &out : graph.output())
    if (!out.type().has_tensor_type()) {
      emitError(fileLoc) << "graph output '" << out.name()
                         << "' is not a tensor";
      return nullptr;
    }

  b.setInsertionPointToEnd(module->getBody());
  auto func =
      func::FuncOp::create(b, fileLoc, "main", b.getFunctionType(argTypes, {}));
  Block *entry = func.addEntryBlock();
  entryBlock = entry;
  for (auto [arg, info] : llvm::zip(entry->getArguments(), args))
    values[info->name()] = arg;
  assignSymbols(args, argTypes);
  recordInputDims(func, args, argTypes);
  b.setInsertionPointToEnd(entry);

  for (int i = 0; i < graph.node_size(); ++i)
    if (failed(importNode(graph.node(i), i)))
      return nullptr;

  curNode = nullptr;
  curLoc = fileLoc;
  SmallVector<Value> results;
  SmallVector<Attribute> outputNames;
  for (const auto &out : graph.output()) {
    Value v = values.lookup(out.name());
    context = "graph output '" + out.name() + "': ";
    if (!v) {
      if (const onnx::TensorProto *t = initializers.lookup(out.name())) {
        FailureOr<Value> m = materializeInitializer(*t, false);
        if (failed(m))
          return nullptr;
        v = *m;
      } else if (constants.count(out.name())) {
        v = materialize(constants[out.name()]);
        if (!v)
          return nullptr;
      } else {
        emitError(fileLoc) << "graph output '" << out.name()
                           << "' is not produced by any node";
        return nullptr;
      }
    }
    results.push_back(v);
    outputNames.push_back(b.getStringAttr(out.name()));
  }
  context.clear();
  if (failed(recordOutputDims(func, results, outputNames)))
    return nullptr;
  func::ReturnOp::create(b, fileLoc, results);
  func.setFunctionType(
      b.getFunctionType(argTypes, ValueRange(results).getTypes()));
  func->setAttr("sparsec.input_names", b.getArrayAttr(inputNames));
  func->setAttr("sparsec.output_names", b.getArrayAttr(outputNames));

  // Drop the host mirrors and byte cache; MLIR now owns what it references.
  bytesCache.clear();
  constants.clear();
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

} // namespace sparsec::onnx_import

namespace sparsec {

void registerImporterDialects(DialectRegistry &registry) {
  registry.insert<SparsecDialect, arith::ArithDialect, func::FuncDialect,
                  linalg::LinalgDialect, math::MathDialect,
                  tensor::TensorDialect>();
}

OwningOpRef<ModuleOp> importONNXFile(MLIRContext &context, StringRef path,
                                     const ONNXImportOptions &options) {
  DialectRegistry registry;
  registerImporterDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();

  auto model = std::make_unique<onnx::ModelProto>();
  ONNXLoadOptions loadOptions;
  loadOptions.runChecker = options.validate;
  loadOptions.runShapeInference = options.validate;
  loadOptions.checkNode = onnx_import::checkNodeIsSupported;
  loadOptions.importsOp = [](const std::string &opType) {
    return onnx_import::getLoweringTable().count(opType) != 0;
  };
  std::string error = loadONNXModel(path.str(), *model, loadOptions);
  if (!error.empty()) {
    emitError(FileLineColLoc::get(&context, path, 0, 0)) << error;
    return nullptr;
  }
  onnx_import::Importer importer(context, *model, path.str(), options);
  return importer.run();
}

int64_t newestImportedDefinition(StringRef opType) {
  // The lowerings were written against the definitions up to opset 17.
  // Later ones (ONNX's Changelog.md; the schemas' attributes and inputs
  // compared with the previous definition's) that were checked:
  static const llvm::StringMap<int64_t> checked = {
      // Only new element types (bfloat16, float16, float8, int4, ...): the
      // importer refuses element types it does not support wherever they
      // appear.
      {"Conv", 22},
      {"HardSigmoid", 22},
      {"HardSwish", 22},
      {"Sin", 22},
      {"Cos", 22},
      {"Softplus", 22},
      {"Elu", 22},
      {"Dropout", 22},
      {"GlobalAveragePool", 22},
      {"GlobalMaxPool", 22},
      {"MaxPool", 22},
      {"Equal", 19},
      {"Reshape", 25},
      {"Flatten", 25},
      {"Squeeze", 25},
      {"Unsqueeze", 25},
      {"Transpose", 25},
      {"Identity", 25},
      {"Constant", 25},
      {"Shape", 25},
      {"Size", 25},
      {"ConstantOfShape", 25},
      // Axes as an optional second input (18, lowerReduce reads it), and
      // booleans (20).
      {"ReduceMean", 18},
      {"ReduceProd", 18},
      {"ReduceMax", 20},
      {"ReduceMin", 20},
      // `dilations` (19): lowerPool refuses any other than 1.
      {"AveragePool", 22},
      // `saturate` (19) and `round_mode` (24) concern float8 and float4
      // targets only, which the importer refuses.
      {"Cast", 28},
      {"CastLike", 28},
      // Floats with fmod=0 (28): lowerMod takes them from 28 on.
      {"Mod", 28},
      // antialias, axes, keep_aspect_ratio_policy (18) and
      // half_pixel_symmetric (19): lowerResize takes them all.
      {"Resize", 19},
      // `stash_type` (27) concerns float16 and bfloat16 only.
      {"Range", 27},
      // `num_outputs` (18): lowerSplit reads it.
      {"Split", 18},
      // `axes` (18): lowerPad reads it; the `wrap` mode (19): lowerPad
      // takes it; the new types (21-25) are types the importer refuses.
      {"Pad", 25},
      // Ops that appeared after opset 17.
      {"Gelu", 20},
      {"RMSNormalization", 23},
      {"Col2Im", 18},
  };
  auto it = checked.find(opType);
  return it == checked.end() ? 17 : it->second;
}

std::vector<std::string> importedONNXOpTypes() {
  std::vector<std::string> names;
  for (const auto &entry : onnx_import::getLoweringTable())
    names.push_back(entry.getKey().str());
  llvm::sort(names);
  return names;
}

} // namespace sparsec
