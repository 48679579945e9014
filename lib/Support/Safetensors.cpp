//===- Safetensors.cpp - minimal safetensors reader -----------------------===//
//
// Format: 8-byte little-endian header length, a JSON header mapping names to
// {dtype, shape, data_offsets}, then the raw bytes. Nothing in the file is
// trusted: every tensor's byte range must lie in the file, hold exactly its
// shape's bytes and overlap no other, so the copies made add up to at most
// the file's size.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Support/Safetensors.h"

#include "sparsec/Support/Npy.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cstring>

namespace sparsec {

int64_t safetensorsElementSize(const std::string &dtype) {
  static const std::pair<const char *, int64_t> known[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1},
      {"U16", 2},  {"I16", 2}, {"F16", 2}, {"BF16", 2},    {"U32", 4},
      {"I32", 4},  {"F32", 4}, {"U64", 8}, {"I64", 8},     {"F64", 8}};
  for (auto &[name, size] : known)
    if (dtype == name)
      return size;
  return 0;
}

namespace {

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// `v` as an int64_t, if it is an integer in range. llvm::json's
/// getAsInteger() converts the double 2^63 (written 9223372036854775807.0 or
/// 9.3e18) to int64_t, which is undefined behaviour (LLVM 22); such values
/// are out of range here.
std::optional<int64_t> asInteger(const llvm::json::Value &v) {
  std::optional<double> d = v.getAsNumber();
  if (!d || !(*d >= -0x1p63 && *d < 0x1p63))
    return std::nullopt;
  return v.getAsInteger();
}

struct Range {
  uint64_t begin, end;
  std::string name;
};

} // namespace

std::string parseSafetensors(const char *data, size_t size,
                             const std::string &path,
                             std::map<std::string, SafetensorsEntry> &out) {
  std::string file = "'" + path + "'";
  if (size < 8)
    return file + " is not a safetensors file";
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | static_cast<unsigned char>(data[i]);
  if (headerLen > size - 8)
    return file + " has a corrupt safetensors header: it declares " +
           std::to_string(headerLen) + " header bytes, the file holds " +
           std::to_string(size - 8);
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse(llvm::StringRef(data + 8, headerLen));
  if (!json) {
    llvm::consumeError(json.takeError());
    return file + " has a malformed safetensors JSON header";
  }
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return file + ": the safetensors header is not an object";
  uint64_t dataStart = 8 + headerLen, dataSize = size - dataStart;
  std::map<std::string, SafetensorsEntry> entries;
  std::vector<Range> ranges;
  for (const auto &[key, value] : *root) {
    if (key == "__metadata__")
      continue;
    std::string tensor = file + ": tensor '" + key.str() + "'";
    const llvm::json::Object *entry = value.getAsObject();
    const llvm::json::Array *shape = entry ? entry->getArray("shape") : nullptr;
    const llvm::json::Array *offsets =
        entry ? entry->getArray("data_offsets") : nullptr;
    std::optional<llvm::StringRef> dtype =
        entry ? entry->getString("dtype") : std::nullopt;
    if (!shape || !offsets || offsets->size() != 2 || !dtype)
      return tensor + " has a malformed entry";
    SafetensorsEntry t;
    t.dtype = dtype->str();
    int64_t elementSize = safetensorsElementSize(t.dtype);
    if (elementSize == 0)
      return tensor + " has unsupported dtype '" + t.dtype + "'";
    for (const llvm::json::Value &d : *shape) {
      std::optional<int64_t> v = asInteger(d);
      if (!v || *v < 0)
        return tensor + " has a bad shape";
      t.shape.push_back(*v);
    }
    std::optional<int64_t> begin = asInteger((*offsets)[0]),
                           end = asInteger((*offsets)[1]);
    if (!begin || !end || *begin < 0 || *end < *begin ||
        uint64_t(*end) > dataSize)
      return tensor + " has data offsets outside the file";
    uint64_t bytes = uint64_t(*end - *begin);
    int64_t elements = NpyArray::checkedNumElements(t.shape);
    if (elements < 0 || uint64_t(elements) > dataSize / elementSize ||
        uint64_t(elements) * elementSize != bytes)
      return tensor + " has shape " + shapeString(t.shape) + " of " + t.dtype +
             " but its data range [" + std::to_string(*begin) + ", " +
             std::to_string(*end) + ") holds " + std::to_string(bytes) +
             " bytes";
    ranges.push_back({uint64_t(*begin), uint64_t(*end), key.str()});
    entries[key.str()] = std::move(t);
  }
  // Overlapping ranges would let a small file ask for many copies of itself.
  std::sort(ranges.begin(), ranges.end(), [](const Range &a, const Range &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].begin < ranges[i - 1].end)
      return file + ": tensors '" + ranges[i - 1].name + "' and '" +
             ranges[i].name + "' have overlapping data ranges";
  for (const Range &r : ranges) {
    SafetensorsEntry &t = entries[r.name];
    t.data.assign(data + dataStart + r.begin, data + dataStart + r.end);
  }
  for (auto &[name, t] : entries)
    out[name] = std::move(t);
  return "";
}

std::string readSafetensors(const std::string &path,
                            std::map<std::string, SafetensorsEntry> &out) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!buffer)
    return "cannot open '" + path + "': " + buffer.getError().message();
  return parseSafetensors((*buffer)->getBufferStart(),
                          (*buffer)->getBufferSize(), path, out);
}

} // namespace sparsec
