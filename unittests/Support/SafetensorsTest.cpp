//===- SafetensorsTest.cpp - safetensors reader ---------------------------===//
#include "sparsec/Support/Safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

using namespace sparsec;

namespace {

/// A safetensors image: `header` (JSON) followed by `data`.
std::string image(const std::string &header, const std::string &data) {
  std::string bytes(8, '\0');
  uint64_t len = header.size();
  for (int i = 0; i < 8; ++i)
    bytes[i] = char((len >> (8 * i)) & 0xff);
  return bytes + header + data;
}

std::string writeFile(const char *name, const std::string &bytes) {
  std::string path = std::string(testing::TempDir()) + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Safetensors, ReadsTensors) {
  float w[6] = {1, 2, 3, 4, 5, 6};
  std::string data(reinterpret_cast<const char *>(w), sizeof(w));
  data += std::string("\x01\x02", 2);
  std::string path =
      writeFile("ok.safetensors", image(R"({"__metadata__": {"k": "v"},
               "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
               "b": {"dtype": "U8", "shape": [2], "data_offsets": [24, 26]},
               "e": {"dtype": "F16", "shape": [0, 4], "data_offsets": [26, 26]}})",
                                        data));
  std::map<std::string, SafetensorsEntry> out;
  ASSERT_EQ(readSafetensors(path, out), "");
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out["w"].dtype, "F32");
  EXPECT_EQ(out["w"].shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(out["w"].data.size(), 24u);
  EXPECT_EQ(std::memcmp(out["w"].data.data(), w, 24), 0);
  EXPECT_EQ(out["b"].data, (std::vector<char>{1, 2}));
  EXPECT_TRUE(out["e"].data.empty());
}

// Issue 13, item 5: a data range shorter than the shape was accepted, and
// the saliency scores were read past its end.
TEST(Safetensors, DataRangeMustHoldTheShape) {
  std::string path =
      writeFile("short.safetensors",
                image(R"({"fc.weight": {"dtype": "F32", "shape": [4, 8],
                              "data_offsets": [0, 16]}})",
                      std::string(16, '\0')));
  std::map<std::string, SafetensorsEntry> out;
  std::string err = readSafetensors(path, out);
  EXPECT_TRUE(contains(err, "'" + path +
                                "': tensor 'fc.weight' has shape "
                                "[4, 8] of F32 but its data range "
                                "[0, 16) holds 16 bytes"))
      << err;
  EXPECT_TRUE(out.empty());
}

TEST(Safetensors, OverflowingShapesAndOffsetsAreErrors) {
  std::map<std::string, SafetensorsEntry> out;
  // 2^32 * 2^32 wraps to 0 elements, matching an empty range.
  std::string header = R"({"t": {"dtype": "U8", "shape": [4294967296,
      4294967296], "data_offsets": [0, 0]}})";
  std::string bytes = image(header, "");
  EXPECT_TRUE(contains(parseSafetensors(bytes.data(), bytes.size(), "m", out),
                       "tensor 't' has shape [4294967296, 4294967296]"));
  header = R"({"t": {"dtype": "U8", "shape": [1],
      "data_offsets": [9223372036854775807, 9223372036854775807]}})";
  bytes = image(header, "x");
  EXPECT_TRUE(contains(parseSafetensors(bytes.data(), bytes.size(), "m", out),
                       "tensor 't' has data offsets outside the file"));
  // 2^63 as a double: llvm::json's getAsInteger() converted it to int64_t
  // (undefined behaviour; found by the safetensors fuzz target).
  for (const char *big : {"9223372036854775807.0", "9.3e18", "-9.3e18"}) {
    header = std::string(R"({"t": {"dtype": "U8", "shape": [)") + big +
             R"(], "data_offsets": [0, 1]}})";
    bytes = image(header, "x");
    EXPECT_TRUE(contains(parseSafetensors(bytes.data(), bytes.size(), "m", out),
                         "tensor 't' has a bad shape"))
        << big;
  }
  // A header length past the end of the file.
  bytes = image("{}", "");
  bytes[7] = '\x7f';
  EXPECT_TRUE(contains(parseSafetensors(bytes.data(), bytes.size(), "m", out),
                       "'m' has a corrupt safetensors header"));
  EXPECT_TRUE(out.empty());
}

// Many tensors naming the same bytes would copy the file many times over.
TEST(Safetensors, OverlappingRangesAndUnknownDtypesAreErrors) {
  std::map<std::string, SafetensorsEntry> out;
  std::string bytes =
      image(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
            std::string(8, '\0'));
  EXPECT_TRUE(contains(parseSafetensors(bytes.data(), bytes.size(), "m", out),
                       "'m': tensors 'a' and 'b' have overlapping data "
                       "ranges"));
  bytes =
      image(R"({"q": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 1]}})",
            std::string(1, '\0'));
  EXPECT_TRUE(contains(parseSafetensors(bytes.data(), bytes.size(), "m", out),
                       "'m': tensor 'q' has unsupported dtype 'Q4'"));
  std::string missing = std::string(testing::TempDir()) + "/none.safetensors";
  EXPECT_TRUE(
      contains(readSafetensors(missing, out), "cannot open '" + missing + "'"));
  EXPECT_TRUE(out.empty());
}

} // namespace
