//===- NpyTest.cpp - .npy reader/writer -----------------------------------===//
#include "sparsec/Support/Npy.h"

#include <gtest/gtest.h>

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

} // namespace
