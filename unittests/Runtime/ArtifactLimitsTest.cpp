//===- ArtifactLimitsTest.cpp - the artifact reader trusts no size --------===//
//
// Issue 13, item 5: every size in a manifest or a file it names is checked
// before it is multiplied or allocated.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Runtime/Artifact.h"
#include "sparsec/Support/Npy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace sparsec;
using namespace sparsec::rt;
namespace fs = std::filesystem;

namespace {

std::string freshDir(const std::string &name) {
  fs::path dir = fs::path(testing::TempDir()) / ("sparsec_limits_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void writeText(const std::string &path, const std::string &text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

/// An artifact of one relu step on an input of `shape`.
std::string reluArtifact(const std::string &dir, const std::string &shape) {
  writeText(dir + "/manifest.json",
            R"({"format": "sparsec-cuda-artifact", "format_version": 1,
  "arch": "sm_80",
  "inputs": [{"name": "x", "shape": )" +
                shape + R"(, "dtype": "f32"}],
  "outputs": [{"name": "y", "shape": )" +
                shape + R"(, "dtype": "f32"}],
  "steps": [{"op": "relu", "input": "x", "output": "y"}]})");
  Artifact art;
  return loadArtifact(dir, art);
}

/// An artifact of one dense 3x4 layer whose weight file holds `weight`.
std::string denseArtifact(const std::string &dir, const std::string &rows,
                          const std::string &weight) {
  writeText(dir + "/manifest.json",
            R"({"format": "sparsec-cuda-artifact", "format_version": 1,
  "arch": "sm_80",
  "inputs": [{"name": "x", "shape": [2, 4], "dtype": "f32"}],
  "outputs": [{"name": "y", "shape": [2, 3], "dtype": "f32"}],
  "steps": [{"op": "dense_linear", "input": "x", "output": "y",
             "rows": )" +
                rows + R"(, "cols": 4, "files": {"weight": "w.npy"}}]})");
  writeText(dir + "/w.npy", weight);
  Artifact art;
  return loadArtifact(dir, art);
}

std::string npyImage(const std::string &shape, size_t dataBytes) {
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY\x01";
  bytes.push_back('\0');
  bytes.push_back(char(header.size() & 0xff));
  bytes.push_back(char(header.size() >> 8));
  return bytes + header + std::string(dataBytes, '\0');
}

TEST(ArtifactLimits, ShapesWhoseProductOverflowsAreErrors) {
  std::string dir = freshDir("overflow");
  // 2^32 * 2^32 tokens wrapped to 0 and the artifact loaded.
  std::string err = reluArtifact(dir, "[4294967296, 4294967296, 4]");
  EXPECT_TRUE(contains(err, "inputs[0]: 'shape': expected positive integers "
                            "at most 2147483647"))
      << err;
  err = reluArtifact(dir, "[65536, 65536, 65536, 4]");
  EXPECT_TRUE(contains(
      err, "'shape': [65536, 65536, 65536, 4] has more than 2^48 elements"))
      << err;
  EXPECT_EQ(reluArtifact(dir, "[2, 3, 4]"), "");
}

TEST(ArtifactLimits, SizesAreBoundedBeforeArithmetic) {
  std::string dir = freshDir("rows");
  std::string weight = npyImage("(3, 4)", 48);
  EXPECT_EQ(denseArtifact(dir, "3", weight), "");
  std::string err = denseArtifact(dir, "1099511627776", weight);
  EXPECT_TRUE(contains(err, "'rows': expected an integer <= 2147483647, got "
                            "1099511627776"))
      << err;
}

// A 128-byte weight declaring 10^12 elements was allocated before its size
// was checked.
TEST(ArtifactLimits, ArraysAreBoundedByTheirFile) {
  std::string dir = freshDir("huge");
  std::string weight = npyImage("(1000000, 1000000)", 0);
  weight.resize(128, '\0');
  std::string err = denseArtifact(dir, "3", weight);
  EXPECT_TRUE(contains(err, "'weight': '" + dir +
                                "/w.npy' is truncated: shape (1000000, "
                                "1000000) of '<f4' needs 4000000000000 data "
                                "bytes"))
      << err;
}

TEST(ArtifactLimits, NamedFilesMustBeRegularFiles) {
  std::string dir = freshDir("notafile");
  EXPECT_EQ(denseArtifact(dir, "3", npyImage("(3, 4)", 48)), "");
  fs::remove(dir + "/w.npy");
  fs::create_directory(dir + "/w.npy");
  Artifact art;
  std::string err = loadArtifact(dir, art);
  EXPECT_TRUE(contains(err, "'weight': cannot open '" + dir +
                                "/w.npy': not a regular file"))
      << err;
  fs::remove_all(dir + "/manifest.json");
  fs::create_directory(dir + "/manifest.json");
  EXPECT_TRUE(contains(loadArtifact(dir, art), "not a regular file"));
}

} // namespace
