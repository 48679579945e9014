//===- NpyTest.cpp - .npy reader/writer -----------------------------------===//
#include "sparsec/Support/Npy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>

using namespace sparsec;

namespace {

std::string tempPath(const char *name) {
  return std::string(testing::TempDir()) + "/" + name;
}

TEST(Npy, RoundTripKeepsDtypeShapeAndBytes) {
  NpyArray a;
  a.dtype = "<f4";
  a.shape = {2, 3, 5};
  a.data.resize(30 * 4);
  for (size_t i = 0; i < a.data.size(); ++i)
    a.data[i] = char(i * 7);
  std::string path = tempPath("roundtrip.npy");
  ASSERT_EQ(writeNpy(path, a), "");
  NpyArray b;
  ASSERT_EQ(readNpy(path, b), "");
  EXPECT_EQ(b.dtype, "<f4");
  EXPECT_EQ(b.shape, (std::vector<int64_t>{2, 3, 5}));
  EXPECT_EQ(b.data, a.data);
}

TEST(Npy, ScalarAndOneDimensionalShapes) {
  for (std::vector<int64_t> shape : {std::vector<int64_t>{}, {7}}) {
    NpyArray a;
    a.dtype = "<i8";
    a.shape = shape;
    a.data.assign(a.numElements() * 8, 1);
    std::string path = tempPath("shape.npy");
    ASSERT_EQ(writeNpy(path, a), "");
    NpyArray b;
    ASSERT_EQ(readNpy(path, b), "");
    EXPECT_EQ(b.shape, shape);
    EXPECT_EQ(b.data.size(), a.data.size());
  }
}

TEST(Npy, HeaderIsPaddedTo64Bytes) {
  NpyArray a;
  a.dtype = "|b1";
  a.shape = {3};
  a.data = {1, 0, 1};
  std::string path = tempPath("aligned.npy");
  ASSERT_EQ(writeNpy(path, a), "");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  EXPECT_EQ((int64_t(in.tellg()) - 3) % 64, 0);
}

TEST(Npy, RejectsGarbageTruncationAndFortranOrder) {
  std::string path = tempPath("bad.npy");
  {
    std::ofstream out(path, std::ios::binary);
    out << "definitely not numpy";
  }
  NpyArray a;
  EXPECT_NE(readNpy(path, a).find("is not a .npy file"), std::string::npos);

  NpyArray good;
  good.dtype = "<f8";
  good.shape = {4};
  good.data.assign(32, 0);
  ASSERT_EQ(writeNpy(path, good), "");
  // Cut the data short.
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes.substr(0, bytes.size() - 5);
  }
  EXPECT_NE(readNpy(path, a).find("truncated"), std::string::npos);

  std::string fortran = bytes;
  size_t pos = fortran.find("False");
  fortran.replace(pos, 5, "True ");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << fortran;
  }
  EXPECT_NE(readNpy(path, a).find("Fortran order"), std::string::npos);
}

/// A version 1.0 .npy image with `header` (padded) and `dataBytes` zeros.
std::string npyImage(const std::string &header, size_t dataBytes) {
  std::string h = header;
  h.append((64 - (10 + h.size() + 1) % 64) % 64, ' ');
  h.push_back('\n');
  std::string bytes = "\x93NUMPY\x01";
  bytes.push_back('\0');
  bytes.push_back(char(h.size() & 0xff));
  bytes.push_back(char(h.size() >> 8));
  return bytes + h + std::string(dataBytes, '\0');
}

std::string writeFile(const char *name, const std::string &bytes) {
  std::string path = tempPath(name);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

// Issue 13, item 5: a 128-byte file declaring 10^12 elements was allocated
// ("LLVM ERROR: out of memory") before its size was checked.
TEST(Npy, SizesAreCheckedAgainstTheFileBeforeAllocating) {
  std::string image = npyImage("{'descr': '<f4', 'fortran_order': False, "
                               "'shape': (1000000, 1000000), }",
                               0);
  image.resize(128, '\0');
  std::string path = writeFile("huge.npy", image);
  NpyArray a;
  std::string err = readNpy(path, a);
  EXPECT_NE(err.find("'" + path + "' is truncated"), std::string::npos) << err;
  EXPECT_NE(err.find("needs 4000000000000 data bytes"), std::string::npos)
      << err;
  EXPECT_TRUE(a.data.empty());
}

// The product 2^32 * 2^32 * 16 wrapped to 0: an empty array was returned.
TEST(Npy, ShapeProductsThatOverflowAreErrors) {
  std::string path = writeFile(
      "overflow.npy", npyImage("{'descr': '|u1', 'fortran_order': False, "
                               "'shape': (4294967296, 4294967296, 16), }",
                               16));
  NpyArray a;
  std::string err = readNpy(path, a);
  EXPECT_NE(err.find("needs more than 2^63 data bytes"), std::string::npos)
      << err;
  EXPECT_EQ(NpyArray::checkedNumElements({4294967296, 4294967296, 16}), -1);
  EXPECT_EQ(NpyArray::checkedNumElements({3, -1}), -1);
  EXPECT_EQ(NpyArray::checkedNumElements({0, INT64_MAX, 2}), 0);
  EXPECT_EQ(NpyArray::checkedNumElements({}), 1);
}

TEST(Npy, HeaderLengthBeyondTheFileIsAnError) {
  std::string image = npyImage("{'descr': '<f4', 'fortran_order': False, "
                               "'shape': (2,), }",
                               8);
  image[8] = '\xff';
  image[9] = '\xff'; // 65535 header bytes in a ~100-byte file
  std::string path = writeFile("longheader.npy", image);
  NpyArray a;
  EXPECT_NE(readNpy(path, a).find("truncated .npy header"), std::string::npos);
  image[6] = 9;
  path = writeFile("version9.npy", image);
  EXPECT_NE(readNpy(path, a).find("unsupported .npy format version 9"),
            std::string::npos);
}

TEST(Npy, MalformedShapesAreErrors) {
  for (const char *shape : {"(3,,4)", "(,)", "(3 4)", "(3x)", "(-1,)",
                            "(99999999999999999999,)", "(3,4,,)"}) {
    std::string path = writeFile(
        "shape.npy",
        npyImage(std::string("{'descr': '|u1', 'fortran_order': False, "
                             "'shape': ") +
                     shape + ", }",
                 64));
    NpyArray a;
    EXPECT_NE(readNpy(path, a).find("malformed shape"), std::string::npos)
        << shape;
  }
  for (auto [shape, dims] :
       {std::pair<const char *, std::vector<int64_t>>{"()", {}},
        {"(4,)", {4}},
        {"( 2 , 3 )", {2, 3}},
        {"(2L, 3L)", {2, 3}}}) {
    std::string image = npyImage(
        std::string("{'descr': '|u1', 'fortran_order': False, 'shape': ") +
            shape + ", }",
        6);
    NpyArray a;
    EXPECT_EQ(parseNpy(image.data(), image.size(), "mem", a), "") << shape;
    EXPECT_EQ(a.shape, dims) << shape;
  }
}

} // namespace
