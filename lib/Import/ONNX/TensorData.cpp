//===- TensorData.cpp - initializer bytes, host tensors, constants --------===//
//
// Everything that reads tensor data out of the model. The loader
// (ONNXLoader.cpp) has already checked every tensor's data size against its
// dims; the checks here repeat what memory safety depends on, so that this
// file stays safe on its own.
//
//===----------------------------------------------------------------------===//
#include "Importer.h"
#include "sparsec/Support/Transpose.h"

#include "sparsec/Import/ONNXLoader.h"

#include "mlir/IR/DialectResourceBlobManager.h"

#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace mlir;

namespace sparsec::onnx_import {

//===----------------------------------------------------------------------===//
// HostTensor / TensorBytes
//===----------------------------------------------------------------------===//

std::optional<int64_t> checkedProduct(ArrayRef<int64_t> shape, int64_t limit) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return std::nullopt;
    if (d != 0 && n > limit / d)
      return std::nullopt;
    n *= d;
  }
  return n;
}

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

bool HostTensor::isConsistent() const {
  std::optional<int64_t> n =
      checkedProduct(shape, std::numeric_limits<int64_t>::max());
  if (!n)
    return false;
  return isFloat() ? int64_t(floats.size()) == *n && ints.empty()
                   : int64_t(ints.size()) == *n && floats.empty();
}

void HostTensor::allocate() {
  if (isFloat())
    floats.assign(numElements(), 0.0);
  else
    ints.assign(numElements(), 0);
}

int64_t HostTensor::saturatingToInt64(double v) {
  if (std::isnan(v))
    return 0;
  // 2^63 is exact in double; every double below it converts exactly.
  if (v >= 9223372036854775808.0)
    return std::numeric_limits<int64_t>::max();
  if (v < -9223372036854775808.0)
    return std::numeric_limits<int64_t>::min();
  return int64_t(v);
}

void HostTensor::set(int64_t i, double v) {
  if (isFloat())
    floats[i] = v;
  else
    ints[i] = saturatingToInt64(v);
}

void TensorBytes::releasePages() {
  if (mapBase)
    madvise(mapBase, mapLength, MADV_DONTNEED);
}

TensorBytes::~TensorBytes() {
  if (mapBase)
    munmap(mapBase, mapLength);
}

int64_t elementByteSize(int32_t dtype) {
  switch (dtype) {
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::BOOL:
    return onnxElementByteSize(dtype);
  default:
    return 0;
  }
}

//===----------------------------------------------------------------------===//
// Reading tensor data
//===----------------------------------------------------------------------===//

/// Maps (or, when misaligned, copies) `expected` bytes at `ref.offset` of the
/// external-data file into `result`.
static std::string mapExternalData(const ExternalDataRef &ref, int64_t expected,
                                   int64_t eltSize, TensorBytes &result) {
  int fd = open(ref.path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    if (fd >= 0)
      close(fd);
    return "cannot open external data file '" + ref.location + "'";
  }
  // The file may have changed since the loader checked the range.
  if (expected > st.st_size || ref.offset > st.st_size - expected) {
    close(fd);
    return "external data file '" + ref.location +
           "' is too short for the tensor's shape (" +
           std::to_string(expected) + " bytes at offset " +
           std::to_string(ref.offset) + ", file has " +
           std::to_string(st.st_size) + ")";
  }
  if (expected == 0) {
    close(fd);
    return "";
  }
  long page = sysconf(_SC_PAGESIZE);
  int64_t alignedOffset = ref.offset / page * page;
  size_t mapLength = size_t(expected) + size_t(ref.offset - alignedOffset);
  void *base =
      mmap(nullptr, mapLength, PROT_READ, MAP_PRIVATE, fd, alignedOffset);
  close(fd);
  if (base == MAP_FAILED)
    return "cannot map external data '" + ref.location + "'";
  result.mapBase = base;
  result.mapLength = mapLength;
  const char *data =
      static_cast<const char *>(base) + (ref.offset - alignedOffset);
  if (reinterpret_cast<uintptr_t>(data) % eltSize != 0) {
    result.owned.assign(data, expected);
    result.bytes = ArrayRef<char>(result.owned.data(), expected);
    munmap(base, mapLength);
    result.mapBase = nullptr;
  } else {
    result.bytes = ArrayRef<char>(data, expected);
  }
  return "";
}

FailureOr<std::shared_ptr<TensorBytes>>
Importer::initializerBytes(const onnx::TensorProto &t) {
  auto cached = bytesCache.find(&t);
  if (cached != bytesCache.end())
    return cached->second;
  std::string label = "tensor '" + t.name() + "'";
  std::string err;
  int64_t count = onnxElementCount(t, err);
  if (count < 0)
    return error(label + ": " + err);
  int64_t eltSize = elementByteSize(t.data_type());
  if (eltSize == 0)
    return error(label + " has unsupported element type " +
                 onnx::TensorProto::DataType_Name(
                     static_cast<onnx::TensorProto::DataType>(t.data_type())));
  int64_t expected = count * eltSize; // below 2^62 (onnxElementCount)
  auto result = std::make_shared<TensorBytes>();
  auto &proto = const_cast<onnx::TensorProto &>(t);

  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    ExternalDataRef ref;
    err = getExternalData(t, modelDir, ref);
    if (err.empty() && ref.length >= 0 && ref.length != expected)
      err = label + ": external data length " + std::to_string(ref.length) +
            " does not match its shape (" + std::to_string(expected) +
            " bytes)";
    if (err.empty())
      if (std::string e = mapExternalData(ref, expected, eltSize, *result);
          !e.empty())
        err = label + ": " + e;
    if (!err.empty())
      return error(err);
  } else if (t.has_raw_data()) {
    if (int64_t(t.raw_data().size()) != expected)
      return error(label + " has " + Twine(t.raw_data().size()) +
                   " bytes of raw data, but its shape needs " +
                   Twine(expected));
    // Steal the proto's buffer: no copy of the weights. The cache keyed by
    // the proto hands the bytes to any later reader.
    result->owned.swap(*proto.mutable_raw_data());
    result->bytes = ArrayRef<char>(result->owned.data(), expected);
  } else {
    auto mismatch = [&](int64_t got) {
      return error(label + " has " + Twine(got) +
                   " values, but its shape needs " + Twine(count));
    };
    auto copyInts = [&](const auto &field) -> LogicalResult {
      if (field.size() != count)
        return mismatch(field.size());
      result->owned.resize(expected);
      char *out = result->owned.data();
      for (int64_t i = 0; i < count; ++i) {
        auto v = field.Get(i);
        std::memcpy(out + i * eltSize, &v, eltSize); // little-endian hosts
      }
      return success();
    };
    LogicalResult copied = failure();
    switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      copied = copyInts(t.float_data());
      proto.clear_float_data();
      break;
    case onnx::TensorProto::DOUBLE:
      copied = copyInts(t.double_data());
      break;
    case onnx::TensorProto::INT64:
      copied = copyInts(t.int64_data());
      break;
    default: // INT32, INT16, INT8, UINT8, BOOL, FLOAT16, BFLOAT16
      copied = copyInts(t.int32_data());
      break;
    }
    if (failed(copied))
      return failure();
    result->bytes = ArrayRef<char>(result->owned.data(), expected);
  }
  bytesCache[&t] = result;
  return result;
}

FailureOr<HostTensor> Importer::initializerAsHost(const onnx::TensorProto &t) {
  FailureOr<std::shared_ptr<TensorBytes>> bytes = initializerBytes(t);
  if (failed(bytes))
    return failure();
  HostTensor h;
  h.dtype = t.data_type();
  h.shape.assign(t.dims().begin(), t.dims().end());
  int64_t n = int64_t((*bytes)->bytes.size()) / elementByteSize(h.dtype);
  if (!checkedProduct(h.shape, std::numeric_limits<int64_t>::max()) ||
      h.numElements() != n)
    return error("tensor '" + t.name() + "' has data for " + Twine(n) +
                 " elements, which does not match its shape");
  h.allocate();
  const char *p = (*bytes)->bytes.data();
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
    default: // UINT8, BOOL
      h.ints[i] = uint8_t(p[i]);
      break;
    }
  }
  return h;
}

//===----------------------------------------------------------------------===//
// Constants in the IR
//===----------------------------------------------------------------------===//

LogicalResult Importer::checkShape(ArrayRef<int64_t> shape, const Twine &what) {
  std::string dims = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    dims += (i ? ", " : "") + std::to_string(shape[i]);
  dims += "]";
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] <= 0)
      return error(what + " has shape " + dims + ": " +
                   (shape[i] == 0 ? "zero-sized tensors are not supported"
                                  : "negative dimension"));
  if (!checkedProduct(shape))
    return error(what + " has shape " + dims +
                 ": more than 2^40 elements are not supported");
  return success();
}

Value Importer::scalarConstant(Type elt, double value) {
  TypedAttr attr;
  if (isa<FloatType>(elt))
    attr = b.getFloatAttr(elt, value);
  else
    attr = b.getIntegerAttr(elt, HostTensor::saturatingToInt64(value));
  return arith::ConstantOp::create(b, curLoc, attr);
}

Value Importer::materialize(const HostTensor &t) {
  FailureOr<Type> eltOr = elementType(t.dtype);
  if (failed(eltOr) || failed(checkShape(t.shape, "constant")))
    return nullptr;
  if (!t.isConsistent()) {
    (void)error("internal error: inconsistent constant");
    return nullptr;
  }
  Type elt = *eltOr;
  auto type = RankedTensorType::get(t.shape, elt);
  int64_t n = t.numElements();
  auto ft = dyn_cast<FloatType>(elt);
  unsigned width = elt.getIntOrFloatBitWidth();
  auto floatAt = [&](int64_t i) {
    APFloat f(t.floats[i]);
    bool lost;
    f.convert(ft.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
    return f;
  };
  // Integer values wrap to the element width, as ONNX integer math does.
  auto intAt = [&](int64_t i) {
    return width == 1 ? APInt(1, t.ints[i] != 0)
                      : APInt(width, uint64_t(t.ints[i]), /*isSigned=*/true,
                              /*implicitTrunc=*/true);
  };
  bool splat = n > 1;
  for (int64_t i = 1; splat && i < n; ++i)
    splat = t.isFloat() ? t.floats[i] == t.floats[0] : t.ints[i] == t.ints[0];
  DenseElementsAttr attr;
  if (splat) {
    attr = ft ? DenseElementsAttr::get(type, floatAt(0))
              : DenseElementsAttr::get(type, intAt(0));
  } else if (width == 1) {
    SmallVector<bool> bits;
    bits.reserve(n);
    for (int64_t i = 0; i < n; ++i)
      bits.push_back(t.ints[i] != 0);
    attr = DenseElementsAttr::get(type, bits);
  } else {
    // Element by element into a raw buffer: no APFloat/APInt per element
    // (tens of bytes each) for large constants.
    size_t bytes = width / 8;
    std::vector<char> raw(size_t(n) * bytes);
    for (int64_t i = 0; i < n; ++i) {
      uint64_t bits = ft ? floatAt(i).bitcastToAPInt().getZExtValue()
                         : intAt(i).getZExtValue();
      std::memcpy(raw.data() + i * bytes, &bits, bytes); // little-endian host
    }
    attr = DenseElementsAttr::getFromRawBuffer(type, raw);
  }
  return arith::ConstantOp::create(b, curLoc, attr);
}

FailureOr<Value> Importer::materializeInitializer(const onnx::TensorProto &t,
                                                  bool transpose) {
  auto &cache = transpose ? materializedT : materialized;
  if (Value v = cache.lookup(&t))
    return v;
  FailureOr<Type> elt = elementType(t.data_type());
  if (failed(elt))
    return failure();
  SmallVector<int64_t> shape(t.dims().begin(), t.dims().end());
  if (failed(checkShape(shape, "initializer '" + t.name() + "'")))
    return failure();
  if (transpose && shape.size() != 2)
    return error("expected a rank-2 weight '" + t.name() + "'");
  FailureOr<std::shared_ptr<TensorBytes>> bytes = initializerBytes(t);
  if (failed(bytes))
    return failure();
  std::shared_ptr<TensorBytes> data = *bytes;
  int64_t eltSize = elementByteSize(t.data_type());
  if (int64_t(data->bytes.size()) != *checkedProduct(shape) * eltSize)
    return error("initializer '" + t.name() + "' has malformed data");
  if (transpose) {
    // [K, R] -> [R, K] into a fresh buffer.
    int64_t rows = shape[0], cols = shape[1];
    auto transposed = std::make_shared<TensorBytes>();
    transposed->owned.resize(data->bytes.size());
    transposeMatrix(data->bytes.data(), transposed->owned.data(), rows, cols,
                    eltSize);
    data->releasePages();
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
    if (!DenseElementsAttr::isValidRawBuffer(type, data->bytes, splat))
      return error("initializer '" + t.name() + "' has malformed data");
    value = DenseElementsAttr::getFromRawBuffer(type, data->bytes);
  }
  Value v = arith::ConstantOp::create(b, curLoc, cast<TypedAttr>(value));
  cache[&t] = v;
  return v;
}

} // namespace sparsec::onnx_import
