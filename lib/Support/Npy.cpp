//===- Npy.cpp - minimal .npy reader/writer -------------------------------===//
#include "sparsec/Support/Npy.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace sparsec {

int64_t NpyArray::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t NpyArray::checkedNumElements(const std::vector<int64_t> &dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || (d != 0 && n > INT64_MAX / d))
      return -1;
    n *= d;
  }
  return n;
}

int64_t NpyArray::elementSize(const std::string &dtype) {
  static const std::pair<const char *, int64_t> known[] = {
      {"<f4", 4}, {"<f8", 8}, {"<f2", 2}, {"<i8", 8}, {"<i4", 4}, {"<i2", 2},
      {"|i1", 1}, {"|u1", 1}, {"|b1", 1}, {"<u2", 2}, {"<u4", 4}, {"<u8", 8}};
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
    return end == std::string::npos ? ""
                                    : header.substr(pos + 1, end - pos - 1);
  }
  if (header[pos] == '(') {
    size_t end = header.find(')', pos);
    return end == std::string::npos ? "" : header.substr(pos, end - pos + 1);
  }
  size_t end = header.find_first_of(",}", pos);
  return header.substr(pos, end - pos);
}

/// Parses a shape such as "(3, 4)", "(7,)" or "()".
static bool parseShape(const std::string &text, std::vector<int64_t> &shape) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')')
    return false;
  shape.clear();
  std::string inner = text.substr(1, text.size() - 2);
  if (inner.find_first_not_of(' ') == std::string::npos)
    return true; // a scalar
  size_t begin = 0;
  while (true) {
    size_t comma = inner.find(',', begin);
    std::string dim = inner.substr(begin, comma - begin);
    size_t first = dim.find_first_not_of(' ');
    if (first == std::string::npos) {
      // Only "(n,)" ends in an empty dimension.
      return comma == std::string::npos && !shape.empty();
    }
    const char *digits = dim.c_str() + first;
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(digits, &end, 10);
    if (end == digits || errno == ERANGE || v < 0)
      return false;
    if (*end == 'L') // Python 2 wrote longs as "3L"
      ++end;
    while (*end == ' ')
      ++end;
    if (*end)
      return false;
    shape.push_back(v);
    if (comma == std::string::npos)
      return true;
    begin = comma + 1;
  }
}

/// Reads a .npy image of `size` bytes from `in`.
static std::string readNpyFrom(std::istream &in, uint64_t size,
                               const std::string &path, NpyArray &out) {
  std::string file = "'" + path + "'";
  char magic[8];
  if (size < 10 || !in.read(magic, 8) ||
      std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return file + " is not a .npy file";
  unsigned version = static_cast<unsigned char>(magic[6]);
  if (version < 1 || version > 3)
    return file + " has unsupported .npy format version " +
           std::to_string(version);
  uint64_t prefix = version == 1 ? 10 : 12;
  unsigned char len[4] = {0, 0, 0, 0};
  if (size < prefix || !in.read(reinterpret_cast<char *>(len), prefix - 8))
    return file + " has a truncated .npy header";
  uint64_t headerLen =
      len[0] | (len[1] << 8) | (len[2] << 16) | (uint64_t(len[3]) << 24);
  if (headerLen > size - prefix)
    return file + " has a truncated .npy header: it declares " +
           std::to_string(headerLen) + " header bytes, the file holds " +
           std::to_string(size - prefix);
  std::string header(headerLen, '\0');
  if (!in.read(header.data(), headerLen))
    return file + " has a truncated .npy header";
  out.dtype = headerField(header, "descr");
  if (out.dtype == "<b1" || out.dtype == "|b1" || out.dtype == "?")
    out.dtype = "|b1";
  int64_t elementSize = NpyArray::elementSize(out.dtype);
  if (elementSize == 0)
    return file + " has unsupported dtype '" + out.dtype + "'";
  if (headerField(header, "fortran_order").find("True") != std::string::npos)
    return file + " is in Fortran order; save it C-contiguous";
  std::string shape = headerField(header, "shape");
  if (shape.empty() || shape.front() != '(')
    return file + " has no shape in its header";
  if (!parseShape(shape, out.shape))
    return file + " has a malformed shape " + shape;
  // Nothing is allocated before the file is known to hold it.
  int64_t elements = NpyArray::checkedNumElements(out.shape);
  uint64_t available = size - prefix - headerLen;
  if (elements < 0 || uint64_t(elements) > available / elementSize)
    return file + " is truncated: shape " + shape + " of '" + out.dtype +
           "' needs " +
           (elements < 0 ? std::string("more than 2^63")
                         : std::to_string(uint64_t(elements) * elementSize)) +
           " data bytes, the file holds " + std::to_string(available);
  size_t bytes = size_t(elements) * elementSize;
  out.data.resize(bytes);
  if (bytes && !in.read(out.data.data(), bytes))
    return file + " is truncated: expected " + std::to_string(bytes) +
           " data bytes";
  return "";
}

std::string readNpy(const std::string &path, NpyArray &out) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in)
    return "cannot open '" + path + "'";
  std::streamoff size = in.tellg();
  if (size >= 0 && in.seekg(0))
    return readNpyFrom(in, uint64_t(size), path, out);
  // A pipe: its size is what it holds.
  std::ifstream pipe(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(pipe)), {});
  return parseNpy(bytes.data(), bytes.size(), path, out);
}

std::string parseNpy(const char *data, size_t size, const std::string &name,
                     NpyArray &out) {
  std::istringstream in(std::string(data, size));
  return readNpyFrom(in, size, name, out);
}

namespace {
uint64_t littleEndian(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}
} // namespace

std::string readNpz(const std::string &path, std::vector<NpzMember> &out) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in)
    return "cannot open '" + path + "'";
  std::string file = "'" + path + "'";
  std::streamoff end = in.tellg();
  if (end < 22)
    return file + " is not a .npz file (too short for a zip archive)";
  uint64_t size = uint64_t(end);
  auto readAt = [&](uint64_t offset, uint64_t bytes,
                    std::vector<unsigned char> &buffer) {
    buffer.resize(bytes);
    if (offset > size || bytes > size - offset)
      return false;
    in.clear();
    in.seekg(std::streamoff(offset));
    return bool(in.read(reinterpret_cast<char *>(buffer.data()), bytes));
  };
  // The end-of-central-directory record: within the last 64 KiB + 22 bytes.
  std::vector<unsigned char> tail;
  uint64_t tailSize = std::min<uint64_t>(size, 65557);
  if (!readAt(size - tailSize, tailSize, tail))
    return file + ": cannot read the zip directory";
  int64_t eocd = -1;
  for (int64_t i = int64_t(tailSize) - 22; i >= 0; --i)
    if (littleEndian(&tail[i], 4) == 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0)
    return file + " is not a .npz file (no zip directory)";
  uint64_t entries = littleEndian(&tail[eocd + 10], 2);
  uint64_t dirSize = littleEndian(&tail[eocd + 12], 4);
  uint64_t dirOffset = littleEndian(&tail[eocd + 16], 4);
  if (entries == 0xFFFF || dirSize == 0xFFFFFFFF || dirOffset == 0xFFFFFFFF) {
    // zip64: the locator sits just before the record.
    std::vector<unsigned char> record;
    uint64_t locator = size - tailSize + uint64_t(eocd);
    if (locator < 20 || !readAt(locator - 20, 20, record) ||
        littleEndian(record.data(), 4) != 0x07064b50)
      return file + ": malformed zip64 directory";
    uint64_t at = littleEndian(&record[8], 8);
    if (!readAt(at, 56, record) || littleEndian(record.data(), 4) != 0x06064b50)
      return file + ": malformed zip64 directory";
    entries = littleEndian(&record[32], 8);
    dirSize = littleEndian(&record[40], 8);
    dirOffset = littleEndian(&record[48], 8);
  }
  std::vector<unsigned char> dir;
  if (!readAt(dirOffset, dirSize, dir))
    return file + ": the zip directory lies outside the file";
  out.clear();
  uint64_t at = 0;
  for (uint64_t e = 0; e < entries; ++e) {
    if (at + 46 > dir.size() || littleEndian(&dir[at], 4) != 0x02014b50)
      return file + ": malformed zip directory entry " + std::to_string(e);
    uint64_t method = littleEndian(&dir[at + 10], 2);
    uint64_t compressed = littleEndian(&dir[at + 20], 4);
    uint64_t uncompressed = littleEndian(&dir[at + 24], 4);
    uint64_t nameLen = littleEndian(&dir[at + 28], 2);
    uint64_t extraLen = littleEndian(&dir[at + 30], 2);
    uint64_t commentLen = littleEndian(&dir[at + 32], 2);
    uint64_t local = littleEndian(&dir[at + 42], 4);
    if (at + 46 + nameLen + extraLen > dir.size())
      return file + ": malformed zip directory entry " + std::to_string(e);
    std::string name(reinterpret_cast<const char *>(&dir[at + 46]), nameLen);
    // zip64 sizes and offset, in this order, for the fields that overflow.
    for (uint64_t x = at + 46 + nameLen;
         x + 4 <= at + 46 + nameLen + extraLen;) {
      uint64_t id = littleEndian(&dir[x], 2),
               len = littleEndian(&dir[x + 2], 2);
      if (id == 1) {
        uint64_t field = x + 4;
        for (uint64_t *value : {&uncompressed, &compressed, &local})
          if (*value == 0xFFFFFFFF && field + 8 <= x + 4 + len) {
            *value = littleEndian(&dir[field], 8);
            field += 8;
          }
      }
      x += 4 + len;
    }
    at += 46 + nameLen + extraLen + commentLen;
    std::string member = file + " member '" + name + "'";
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".npy") != 0)
      return member + " is not a .npy array";
    if (method != 0)
      return member + " is compressed (np.savez_compressed); write the "
                      "archive with np.savez";
    std::vector<unsigned char> header;
    if (!readAt(local, 30, header) ||
        littleEndian(header.data(), 4) != 0x04034b50)
      return member + ": malformed zip local header";
    uint64_t data = local + 30 + littleEndian(&header[26], 2) +
                    littleEndian(&header[28], 2);
    if (data > size || compressed > size - data)
      return member + " lies outside the file";
    in.clear();
    in.seekg(std::streamoff(data));
    NpzMember array;
    array.key = name.substr(0, name.size() - 4);
    if (std::string error =
            readNpyFrom(in, compressed, path + ":" + name, array.array);
        !error.empty())
      return error;
    out.push_back(std::move(array));
  }
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
