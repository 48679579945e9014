//===- Npy.cpp - minimal .npy reader/writer -------------------------------===//
#include "sparsec/Support/Npy.h"

#include <cstring>
#include <fstream>
#include <sstream>

namespace sparsec {

int64_t NpyArray::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t NpyArray::elementSize(const std::string &dtype) {
  static const std::pair<const char *, int64_t> known[] = {
      {"<f4", 4}, {"<f8", 8}, {"<f2", 2}, {"<i8", 8}, {"<i4", 4},
      {"<i2", 2}, {"|i1", 1}, {"|u1", 1}, {"|b1", 1}, {"<u2", 2},
      {"<u4", 4}, {"<u8", 8}};
  for (auto &[name, size] : known)
    if (dtype == name)
      return size;
  return 0;
}

/// Value of `key` in the header dict, e.g. 'descr': '<f4'.
static std::string headerField(const std::string &header,
                               const std::string &key) {
  size_t pos = header.find("'" + key + "'");
  if (pos == std::string::npos)
    return "";
  pos = header.find(':', pos);
  if (pos == std::string::npos)
    return "";
  ++pos;
  while (pos < header.size() && header[pos] == ' ')
    ++pos;
  if (pos >= header.size())
    return "";
  if (header[pos] == '\'') {
    size_t end = header.find('\'', pos + 1);
    return end == std::string::npos ? "" : header.substr(pos + 1, end - pos - 1);
  }
  if (header[pos] == '(') {
    size_t end = header.find(')', pos);
    return end == std::string::npos ? "" : header.substr(pos, end - pos + 1);
  }
  size_t end = header.find_first_of(",}", pos);
  return header.substr(pos, end - pos);
}

std::string readNpy(const std::string &path, NpyArray &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "cannot open '" + path + "'";
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return "'" + path + "' is not a .npy file";
  uint32_t headerLen = 0;
  if (magic[6] == 1) {
    unsigned char len[2];
    in.read(reinterpret_cast<char *>(len), 2);
    headerLen = len[0] | (len[1] << 8);
  } else {
    unsigned char len[4];
    in.read(reinterpret_cast<char *>(len), 4);
    headerLen = len[0] | (len[1] << 8) | (len[2] << 16) | (uint32_t(len[3]) << 24);
  }
  if (!in || headerLen > (1u << 20))
    return "'" + path + "' has a corrupt .npy header";
  std::string header(headerLen, '\0');
  if (!in.read(header.data(), headerLen))
    return "'" + path + "' has a truncated .npy header";
  out.dtype = headerField(header, "descr");
  if (out.dtype == "<b1" || out.dtype == "|b1" || out.dtype == "?")
    out.dtype = "|b1";
  if (NpyArray::elementSize(out.dtype) == 0)
    return "'" + path + "' has unsupported dtype '" + out.dtype + "'";
  if (headerField(header, "fortran_order").find("True") != std::string::npos)
    return "'" + path + "' is in Fortran order; save it C-contiguous";
  std::string shape = headerField(header, "shape");
  if (shape.empty() || shape.front() != '(')
    return "'" + path + "' has no shape in its header";
  out.shape.clear();
  std::stringstream dims(shape.substr(1, shape.size() - 2));
  for (std::string dim; std::getline(dims, dim, ',');) {
    size_t first = dim.find_first_not_of(' ');
    if (first == std::string::npos)
      continue;
    char *end = nullptr;
    long long v = std::strtoll(dim.c_str() + first, &end, 10);
    if (end == dim.c_str() + first || v < 0)
      return "'" + path + "' has a malformed shape " + shape;
    out.shape.push_back(v);
  }
  size_t bytes = size_t(out.numElements()) * NpyArray::elementSize(out.dtype);
  out.data.resize(bytes);
  if (bytes && !in.read(out.data.data(), bytes))
    return "'" + path + "' is truncated: expected " + std::to_string(bytes) +
           " data bytes";
  return "";
}

std::string writeNpy(const std::string &path, const NpyArray &array) {
  std::string shape = "(";
  for (size_t i = 0; i < array.shape.size(); ++i)
    shape += std::to_string(array.shape[i]) + ",";
  if (array.shape.size() > 1)
    shape.pop_back();
  shape += ")";
  std::string header = "{'descr': '" + array.dtype +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  if (!out)
    return "cannot write '" + path + "'";
  out.write("\x93NUMPY\x01\x00", 8);
  uint16_t len = header.size();
  char lenBytes[2] = {char(len & 0xff), char(len >> 8)};
  out.write(lenBytes, 2);
  out.write(header.data(), header.size());
  out.write(array.data.data(), array.data.size());
  return out ? "" : "failed writing '" + path + "'";
}

} // namespace sparsec
