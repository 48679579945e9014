//===- Importer.cpp - ONNX importer core ----------------------------------===//
#include "Importer.h"

#include "sparsec/Dialect/Sparsec/IR/Sparsec.h"
#include "sparsec/Import/ONNXLoader.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/Endian.h"

#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace mlir;

namespace sparsec::onnx_import {

//===----------------------------------------------------------------------===//
// HostTensor / TensorBytes
//===----------------------------------------------------------------------===//

bool HostTensor::isFloatType(int32_t dtype) {
  return dtype == onnx::TensorProto::FLOAT ||
         dtype == onnx::TensorProto::DOUBLE ||
         dtype == onnx::TensorProto::FLOAT16 ||
         dtype == onnx::TensorProto::BFLOAT16;
}

int64_t HostTensor::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

void HostTensor::allocate() {
  if (isFloat())
    floats.assign(numElements(), 0.0);
  else
    ints.assign(numElements(), 0);
}

void HostTensor::set(int64_t i, double v) {
  if (isFloat())
    floats[i] = v;
  else
    ints[i] = int64_t(v);
}

TensorBytes::~TensorBytes() {
  if (mapBase)
    munmap(mapBase, mapLength);
}

//===----------------------------------------------------------------------===//
// Importer
//===----------------------------------------------------------------------===//

static int64_t elementByteSize(int32_t dtype) {
  switch (dtype) {
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::INT32:
    return 4;
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::INT64:
    return 8;
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
  case onnx::TensorProto::INT16:
    return 2;
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::BOOL:
    return 1;
  default:
    return 0;
  }
}

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
                              : "";
  emitError(curLoc) << label << message;
  return failure();
}

bool Importer::hasInput(unsigned i) const {
  return int(i) < curNode->input_size() && !curNode->input(i).empty();
}

bool Importer::isInitializer(unsigned i) const {
  return hasInput(i) && initializers.count(curNode->input(i));
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

int64_t Importer::attrInt(StringRef name, int64_t def) const {
  const onnx::AttributeProto *a = attr(name);
  return a ? a->i() : def;
}

float Importer::attrFloat(StringRef name, float def) const {
  const onnx::AttributeProto *a = attr(name);
  return a ? a->f() : def;
}

std::string Importer::attrString(StringRef name, StringRef def) const {
  const onnx::AttributeProto *a = attr(name);
  return a ? a->s() : def.str();
}

std::optional<SmallVector<int64_t>> Importer::attrInts(StringRef name) const {
  const onnx::AttributeProto *a = attr(name);
  if (!a)
    return std::nullopt;
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

FailureOr<HostTensor> Importer::attrTensor(StringRef name) {
  const onnx::AttributeProto *a = attr(name);
  if (!a || !a->has_t()) {
    (void)error("missing tensor attribute '" + name + "'");
    return failure();
  }
  return initializerAsHost(a->t());
}

FailureOr<int64_t> Importer::normalizeAxis(int64_t axis, int64_t rank) {
  int64_t normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= std::max<int64_t>(rank, 1)) {
    (void)error("axis " + Twine(axis) + " is out of range for rank " + Twine(rank));
    return failure();
  }
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
    (void)error("unsupported tensor element type " +
          onnx::TensorProto::DataType_Name(
              static_cast<onnx::TensorProto::DataType>(t)));
    return failure();
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

FailureOr<std::shared_ptr<TensorBytes>>
Importer::initializerBytes(const onnx::TensorProto &t) {
  auto cached = bytesCache.find(t.name());
  if (!t.name().empty() && cached != bytesCache.end())
    return cached->second;
  int64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) {
      (void)error("tensor '" + t.name() + "' has a negative dimension " + Twine(d));
      return failure();
    }
    if (d != 0 && count > (int64_t(1) << 46) / d) {
      (void)error("tensor '" + t.name() + "' has more than 2^46 elements");
      return failure();
    }
    count *= d;
  }
  int64_t eltSize = elementByteSize(t.data_type());
  if (eltSize == 0) {
    (void)error("tensor '" + t.name() + "' has unsupported element type " +
          onnx::TensorProto::DataType_Name(
              static_cast<onnx::TensorProto::DataType>(t.data_type())));
    return failure();
  }
  size_t expected = size_t(count) * eltSize;
  auto result = std::make_shared<TensorBytes>();
  auto &proto = const_cast<onnx::TensorProto &>(t);

  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location, resolved;
    int64_t offset = 0, length = -1;
    for (const auto &entry : t.external_data()) {
      if (entry.key() == "location")
        location = entry.value();
      else if (entry.key() == "offset")
        offset = std::strtoll(entry.value().c_str(), nullptr, 10);
      else if (entry.key() == "length")
        length = std::strtoll(entry.value().c_str(), nullptr, 10);
    }
    std::string err = resolveExternalDataPath(modelDir, location, resolved);
    if (!err.empty()) {
      (void)error("tensor '" + t.name() + "': " + err);
      return failure();
    }
    if (length >= 0 && size_t(length) != expected) {
      (void)error("tensor '" + t.name() + "': external data length " + Twine(length) +
            " does not match its shape (" + Twine(expected) + " bytes)");
      return failure();
    }
    int fd = open(resolved.c_str(), O_RDONLY);
    off_t fileSize = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (fd < 0 || offset < 0 || offset + int64_t(expected) > fileSize) {
      if (fd >= 0)
        close(fd);
      (void)error("tensor '" + t.name() + "': external data file '" + location +
            "' is too short for the tensor's shape");
      return failure();
    }
    if (expected == 0) {
      close(fd);
      return result;
    }
    long page = sysconf(_SC_PAGESIZE);
    int64_t alignedOffset = offset / page * page;
    size_t mapLength = expected + (offset - alignedOffset);
    void *base =
        mmap(nullptr, mapLength, PROT_READ, MAP_PRIVATE, fd, alignedOffset);
    close(fd);
    if (base == MAP_FAILED) {
      (void)error("tensor '" + t.name() + "': cannot map external data '" +
            location + "'");
      return failure();
    }
    result->mapBase = base;
    result->mapLength = mapLength;
    const char *data = static_cast<const char *>(base) + (offset - alignedOffset);
    if (reinterpret_cast<uintptr_t>(data) % eltSize != 0) {
      result->owned.assign(data, expected);
      result->bytes = ArrayRef<char>(result->owned.data(), expected);
      munmap(base, mapLength);
      result->mapBase = nullptr;
    } else {
      result->bytes = ArrayRef<char>(data, expected);
    }
  } else if (t.has_raw_data()) {
    if (t.raw_data().size() != expected) {
      (void)error("tensor '" + t.name() + "' has " + Twine(t.raw_data().size()) +
            " bytes of raw data, but its shape needs " + Twine(expected));
      return failure();
    }
    // Steal the proto's buffer: no copy of the weights.
    result->owned.swap(*proto.mutable_raw_data());
    result->bytes = ArrayRef<char>(result->owned.data(), expected);
  } else {
    result->owned.resize(expected);
    char *out = result->owned.data();
    auto mismatch = [&](int64_t got) {
      (void)error("tensor '" + t.name() + "' has " + Twine(got) +
            " values, but its shape needs " + Twine(count));
      return failure();
    };
    switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (t.float_data_size() != count)
        return mismatch(t.float_data_size());
      std::memcpy(out, t.float_data().data(), expected);
      proto.clear_float_data();
      break;
    case onnx::TensorProto::DOUBLE:
      if (t.double_data_size() != count)
        return mismatch(t.double_data_size());
      std::memcpy(out, t.double_data().data(), expected);
      break;
    case onnx::TensorProto::INT64:
      if (t.int64_data_size() != count)
        return mismatch(t.int64_data_size());
      std::memcpy(out, t.int64_data().data(), expected);
      break;
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL:
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
      if (t.int32_data_size() != count)
        return mismatch(t.int32_data_size());
      for (int64_t i = 0; i < count; ++i) {
        int32_t v = t.int32_data(i);
        std::memcpy(out + i * eltSize, &v, eltSize);
      }
      break;
    default:
      (void)error("tensor '" + t.name() + "' stores data in an unsupported field");
      return failure();
    }
    result->bytes = ArrayRef<char>(result->owned.data(), expected);
  }
  if (!t.name().empty())
    bytesCache[t.name()] = result;
  return result;
}

LogicalResult Importer::validateInitializer(const onnx::TensorProto &t) {
  int64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0)
      return error("initializer '" + t.name() + "' has a negative dimension " +
                   Twine(d));
    if (d != 0 && count > (int64_t(1) << 46) / d)
      return error("initializer '" + t.name() +
                   "' has more than 2^46 elements (dimension overflow)");
    count *= d;
  }
  int64_t eltSize = elementByteSize(t.data_type());
  if (eltSize == 0 || t.data_location() == onnx::TensorProto::EXTERNAL)
    return success(); // checked when the tensor is used / loaded
  if (t.has_raw_data() && int64_t(t.raw_data().size()) != count * eltSize)
    return error("initializer '" + t.name() + "' has " +
                 Twine(t.raw_data().size()) +
                 " bytes of raw data, but its shape needs " +
                 Twine(count * eltSize));
  return success();
}

FailureOr<HostTensor> Importer::initializerAsHost(const onnx::TensorProto &t) {
  FailureOr<std::shared_ptr<TensorBytes>> bytes = initializerBytes(t);
  if (failed(bytes))
    return failure();
  HostTensor h;
  h.dtype = t.data_type();
  h.shape.assign(t.dims().begin(), t.dims().end());
  h.allocate();
  const char *p = (*bytes)->bytes.data();
  int64_t n = h.numElements();
  for (int64_t i = 0; i < n; ++i) {
    switch (h.dtype) {
    case onnx::TensorProto::FLOAT: {
      float v;
      std::memcpy(&v, p + 4 * i, 4);
      h.floats[i] = v;
      break;
    }
    case onnx::TensorProto::DOUBLE: {
      double v;
      std::memcpy(&v, p + 8 * i, 8);
      h.floats[i] = v;
      break;
    }
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16: {
      uint16_t bits;
      std::memcpy(&bits, p + 2 * i, 2);
      APFloat f(h.dtype == onnx::TensorProto::FLOAT16 ? APFloat::IEEEhalf()
                                                      : APFloat::BFloat(),
                APInt(16, bits));
      h.floats[i] = f.convertToFloat();
      break;
    }
    case onnx::TensorProto::INT64: {
      int64_t v;
      std::memcpy(&v, p + 8 * i, 8);
      h.ints[i] = v;
      break;
    }
    case onnx::TensorProto::INT32: {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      h.ints[i] = v;
      break;
    }
    case onnx::TensorProto::INT16: {
      int16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      h.ints[i] = v;
      break;
    }
    case onnx::TensorProto::INT8:
      h.ints[i] = int8_t(p[i]);
      break;
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL:
      h.ints[i] = uint8_t(p[i]);
      break;
    default:
      (void)error("unsupported constant element type");
      return failure();
    }
  }
  return h;
}

Value Importer::scalarConstant(Type elt, double value) {
  TypedAttr attr;
  if (isa<FloatType>(elt))
    attr = b.getFloatAttr(elt, value);
  else
    attr = b.getIntegerAttr(elt, int64_t(value));
  return arith::ConstantOp::create(b, curLoc, attr);
}

Value Importer::materialize(const HostTensor &t) {
  Type elt = *elementType(t.dtype);
  auto type = RankedTensorType::get(t.shape, elt);
  DenseElementsAttr attr;
  bool splat = t.numElements() > 1;
  for (int64_t i = 1; splat && i < t.numElements(); ++i)
    splat = t.isFloat() ? t.floats[i] == t.floats[0] : t.ints[i] == t.ints[0];
  if (splat) {
    HostTensor one = t;
    one.shape.clear();
    one.floats.resize(t.isFloat() ? 1 : 0);
    one.ints.resize(t.isFloat() ? 0 : 1);
    auto scalar = cast<arith::ConstantOp>(materialize(one).getDefiningOp());
    auto attr = DenseElementsAttr::get(
        type, cast<DenseElementsAttr>(scalar.getValue()).getSplatValue<Attribute>());
    scalar.erase();
    return arith::ConstantOp::create(b, curLoc, attr);
  }
  if (auto ft = dyn_cast<FloatType>(elt)) {
    SmallVector<APFloat> vals;
    vals.reserve(t.floats.size());
    for (double v : t.floats) {
      APFloat f(v);
      bool lost;
      f.convert(ft.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
      vals.push_back(f);
    }
    attr = DenseElementsAttr::get(type, vals);
  } else {
    unsigned width = elt.getIntOrFloatBitWidth();
    SmallVector<APInt> vals;
    vals.reserve(t.ints.size());
    for (int64_t v : t.ints)
      vals.push_back(APInt(width, uint64_t(v), /*isSigned=*/width > 1));
    attr = DenseElementsAttr::get(type, vals);
  }
  return arith::ConstantOp::create(b, curLoc, attr);
}

FailureOr<Value> Importer::materializeInitializer(const onnx::TensorProto &t,
                                                  bool transpose) {
  auto &cache = transpose ? materializedT : materialized;
  if (Value v = cache.lookup(t.name()))
    return v;
  FailureOr<Type> elt = elementType(t.data_type());
  if (failed(elt))
    return failure();
  SmallVector<int64_t> shape(t.dims().begin(), t.dims().end());
  if (transpose && shape.size() != 2) {
    (void)error("expected a rank-2 weight '" + t.name() + "'");
    return failure();
  }
  FailureOr<std::shared_ptr<TensorBytes>> bytes = initializerBytes(t);
  if (failed(bytes))
    return failure();
  std::shared_ptr<TensorBytes> data = *bytes;
  int64_t eltSize = elementByteSize(t.data_type());
  if (transpose) {
    // [K, R] -> [R, K] into a fresh buffer.
    int64_t rows = shape[0], cols = shape[1];
    auto transposed = std::make_shared<TensorBytes>();
    transposed->owned.resize(data->bytes.size());
    const char *src = data->bytes.data();
    char *dst = transposed->owned.data();
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        std::memcpy(dst + (j * rows + i) * eltSize,
                    src + (i * cols + j) * eltSize, eltSize);
    transposed->bytes =
        ArrayRef<char>(transposed->owned.data(), transposed->owned.size());
    data = transposed;
    std::swap(shape[0], shape[1]);
  }
  auto type = RankedTensorType::get(shape, *elt);
  Attribute value;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(b.getInsertionBlock());
  if (elt->isF32() &&
      int64_t(data->bytes.size()) >= options.resourceThresholdBytes) {
    // The blob keeps `data` alive; MLIR owns it from here on.
    ArrayRef<char> raw = data->bytes;
    AsmResourceBlob blob(
        raw, alignof(float),
        [keep = data](void *, size_t, size_t) mutable { keep.reset(); },
        /*dataIsMutable=*/false);
    value = DenseResourceElementsAttr::get(
        type, transpose ? t.name() + ".T" : t.name(), std::move(blob));
  } else if (elt->isInteger(1)) {
    SmallVector<bool> bits;
    for (char c : data->bytes)
      bits.push_back(c != 0);
    value = DenseElementsAttr::get(type, bits);
  } else {
    bool splat = false;
    if (!DenseElementsAttr::isValidRawBuffer(type, data->bytes, splat)) {
      (void)error("initializer '" + t.name() + "' has malformed data");
      return failure();
    }
    value = DenseElementsAttr::getFromRawBuffer(type, data->bytes);
  }
  Value v = arith::ConstantOp::create(b, curLoc, cast<TypedAttr>(value));
  cache[t.name()] = v;
  return v;
}

Value Importer::input(unsigned i) {
  if (!hasInput(i))
    return nullptr;
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
    values[name] = v;
    return v;
  }
  (void)error("input '" + name + "' is not defined");
  return nullptr;
}

Value Importer::weightInput(unsigned i, bool transposeWeight) {
  const onnx::TensorProto *t = initializers.lookup(curNode->input(i));
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
    int64_t count = 1;
    for (int64_t d : t->dims())
      count *= d;
    if (count > (1 << 16))
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

void Importer::setConstOutput(unsigned i, HostTensor t) {
  if (int(i) >= curNode->output_size() || curNode->output(i).empty())
    return;
  constants[curNode->output(i)] = std::move(t);
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
    shape.assign(override->second.begin(), override->second.end());
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
        (void)error("graph input '" + info.name() + "' has a symbolic dimension '" +
              dim.dim_param() + "' at axis " + Twine(i) +
              "; sparsec compiles static shapes: give one with --input-shape=" +
              info.name() + ":d0xd1x...");
        return failure();
      }
      shape.push_back(dim.dim_value());
    }
  }
  int64_t elements = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] > 0 && elements > (int64_t(1) << 40) / shape[i]) {
      (void)error("graph input '" + info.name() + "' has more than 2^40 elements");
      return failure();
    }
    elements *= std::max<int64_t>(shape[i], 1);
  }
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] <= 0) {
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
    if (shape.dim(i).has_dim_value() &&
        shape.dim(i).dim_value() != ranked.getDimSize(i))
      return error("internal shape mismatch for '" + name +
                   "': ONNX infers dimension " +
                   Twine(shape.dim(i).dim_value()) + " at axis " + Twine(i) +
                   ", sparsec computed " + Twine(ranked.getDimSize(i)));
  return success();
}

static const LoweringTable &getLoweringTable() {
  static LoweringTable table = [] {
    LoweringTable t;
    registerElementwiseLowerings(t);
    registerTensorLowerings(t);
    registerNNLowerings(t);
    return t;
  }();
  return table;
}

LogicalResult Importer::importNode(const onnx::NodeProto &n, int index) {
  curNode = &n;
  curLabel = n.name().empty() ? "#" + std::to_string(index) : n.name();
  curLoc = NameLoc::get(b.getStringAttr(curLabel),
                        FileLineColLoc::get(b.getStringAttr(path), 0, 0));
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    return error("operator from domain '" + n.domain() + "' is not supported");
  bool folded = false;
  if (failed(tryFoldNode(*this, folded)))
    return failure();
  if (!folded) {
    const LoweringTable &table = getLoweringTable();
    auto it = table.find(n.op_type());
    if (it == table.end())
      return error("unsupported operator " + n.op_type());
    if (failed(it->second(*this)))
      return failure();
  }
  for (int i = 0; i < n.output_size(); ++i) {
    const std::string &out = n.output(i);
    if (out.empty())
      continue;
    if (!values.count(out) && !constants.count(out)) {
      if (useCount.lookup(out) > 0)
        return error("output " + Twine(i) + " ('" + out +
                     "') is used but not supported by sparsec");
      continue;
    }
    if (Value v = values.lookup(out))
      if (failed(checkInferredShape(out, v.getType())))
        return failure();
  }
  return success();
}

OwningOpRef<ModuleOp> Importer::run() {
  const onnx::GraphProto &graph = model.graph();
  Location fileLoc = FileLineColLoc::get(b.getStringAttr(path), 0, 0);
  curLoc = fileLoc;
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  module->getOperation()->setAttr("sparsec.source", b.getStringAttr(path));
  module->getOperation()->setAttr("sparsec.opset",
                                  b.getI64IntegerAttr(opsetVersion));

  for (const auto &init : graph.initializer()) {
    initializers[init.name()] = &init;
    if (failed(validateInitializer(init)))
      return nullptr;
  }
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
  for (const auto &out : graph.output())
    if (!out.type().has_tensor_type()) {
      emitError(fileLoc) << "graph output '" << out.name()
                         << "' is not a tensor";
      return nullptr;
    }

  b.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(b, fileLoc, "main",
                                   b.getFunctionType(argTypes, {}));
  Block *entry = func.addEntryBlock();
  for (auto [arg, info] : llvm::zip(entry->getArguments(), args))
    values[info->name()] = arg;
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
    if (!v) {
      if (const onnx::TensorProto *t = initializers.lookup(out.name())) {
        FailureOr<Value> m = materializeInitializer(*t, false);
        if (failed(m))
          return nullptr;
        v = *m;
      } else if (constants.count(out.name())) {
        v = materialize(constants[out.name()]);
      } else {
        emitError(fileLoc) << "graph output '" << out.name()
                           << "' is not produced by any node";
        return nullptr;
      }
    }
    results.push_back(v);
    outputNames.push_back(b.getStringAttr(out.name()));
  }
  func::ReturnOp::create(b, fileLoc, results);
  func.setFunctionType(b.getFunctionType(argTypes, ValueRange(results).getTypes()));
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
  std::string error = loadONNXModel(path.str(), *model, loadOptions);
  if (!error.empty()) {
    emitError(FileLineColLoc::get(&context, path, 0, 0)) << error;
    return nullptr;
  }
  onnx_import::Importer importer(context, *model, path.str(), options);
  return importer.run();
}

} // namespace sparsec
