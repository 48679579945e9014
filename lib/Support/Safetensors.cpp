//===- Safetensors.cpp - minimal safetensors reader -----------------------===//
//
// Format: 8-byte little-endian header length, a JSON header mapping names to
// {dtype, shape, data_offsets}, then the raw bytes.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Support/Safetensors.h"

#include "llvm/Support/JSON.h"

#include <fstream>

namespace sparsec {

std::string readSafetensors(const std::string &path,
                            std::map<std::string, SafetensorsEntry> &out) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in)
    return "cannot open '" + path + "'";
  uint64_t fileSize = in.tellg();
  in.seekg(0);
  unsigned char lenBytes[8];
  if (fileSize < 8 || !in.read(reinterpret_cast<char *>(lenBytes), 8))
    return "'" + path + "' is not a safetensors file";
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | lenBytes[i];
  if (headerLen > fileSize - 8 || headerLen > (uint64_t(1) << 28))
    return "'" + path + "' has a corrupt safetensors header";
  std::string header(headerLen, '\0');
  in.read(header.data(), headerLen);
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(header);
  if (!json) {
    llvm::consumeError(json.takeError());
    return "'" + path + "' has a malformed safetensors JSON header";
  }
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return "'" + path + "': the safetensors header is not an object";
  uint64_t dataStart = 8 + headerLen;
  for (const auto &[key, value] : *root) {
    if (key == "__metadata__")
      continue;
    const llvm::json::Object *entry = value.getAsObject();
    const llvm::json::Array *shape = entry ? entry->getArray("shape") : nullptr;
    const llvm::json::Array *offsets =
        entry ? entry->getArray("data_offsets") : nullptr;
    std::optional<llvm::StringRef> dtype =
        entry ? entry->getString("dtype") : std::nullopt;
    if (!shape || !offsets || offsets->size() != 2 || !dtype)
      return "'" + path + "': tensor '" + key.str() + "' has a malformed entry";
    SafetensorsEntry t;
    t.dtype = dtype->str();
    for (const llvm::json::Value &d : *shape) {
      std::optional<int64_t> v = d.getAsInteger();
      if (!v || *v < 0)
        return "'" + path + "': tensor '" + key.str() + "' has a bad shape";
      t.shape.push_back(*v);
    }
    std::optional<int64_t> begin = (*offsets)[0].getAsInteger(),
                           end = (*offsets)[1].getAsInteger();
    if (!begin || !end || *begin < 0 || *end < *begin ||
        dataStart + uint64_t(*end) > fileSize)
      return "'" + path + "': tensor '" + key.str() +
             "' has data offsets outside the file";
    t.data.resize(*end - *begin);
    in.seekg(dataStart + *begin);
    in.read(t.data.data(), t.data.size());
    out[key.str()] = std::move(t);
  }
  return "";
}

} // namespace sparsec
