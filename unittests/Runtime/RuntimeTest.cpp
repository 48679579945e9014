//===- RuntimeTest.cpp - JSON, artifacts, host ops, layers, C API ---------===//
#include "sparsec-c/Runtime.h"
#include "sparsec/KernelGen/KernelGen.h"
#include "sparsec/Runtime/Artifact.h"
#include "sparsec/Runtime/Executor.h"
#include "sparsec/Runtime/Json.h"
#include "sparsec/Support/Npy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

using namespace sparsec;
using namespace sparsec::rt;
namespace fs = std::filesystem;

namespace {

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// A fresh empty directory under the test temp dir.
std::string freshDir(const std::string &name) {
  fs::path dir = fs::path(testing::TempDir()) / ("sparsec_rt_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

void writeText(const std::string &path, const std::string &text) {
  std::ofstream(path, std::ios::binary) << text;
}

template <typename T>
void writeArray(const std::string &path, const char *dtype,
                std::vector<int64_t> shape, const std::vector<T> &data) {
  NpyArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  a.data.resize(data.size() * sizeof(T));
  std::memcpy(a.data.data(), data.data(), a.data.size());
  ASSERT_EQ(writeNpy(path, a), "");
}

std::vector<float> randomFloats(size_t n, std::mt19937 &rng, float scale = 1) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

TEST(Json, ParsesAllValueKinds) {
  std::string text = R"({
  "s": "a\"b\\c\/\n\u00e9\ud83d\ude00",
  "i": -42, "big": 123456789012345678901234, "d": 2.5e-1, "z": 0,
  "t": true, "f": false, "n": null,
  "a": [1, [], {}], "o": {"k": "v"}
})";
  json::Value v;
  ASSERT_EQ(json::parse(text, "doc.json", v), "");
  ASSERT_TRUE(v.isObject());
  EXPECT_EQ(v.members.size(), 10u);
  EXPECT_EQ(v.find("s")->string, "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_TRUE(v.find("i")->isInteger);
  EXPECT_EQ(v.find("i")->integer, -42);
  EXPECT_FALSE(v.find("big")->isInteger);
  EXPECT_DOUBLE_EQ(v.find("big")->number, 123456789012345678901234.0);
  EXPECT_FALSE(v.find("d")->isInteger);
  EXPECT_DOUBLE_EQ(v.find("d")->number, 0.25);
  EXPECT_TRUE(v.find("z")->isInteger);
  EXPECT_TRUE(v.find("t")->boolean);
  EXPECT_TRUE(v.find("f")->isBool() && !v.find("f")->boolean);
  EXPECT_TRUE(v.find("n")->isNull());
  const json::Value *a = v.find("a");
  ASSERT_TRUE(a->isArray());
  EXPECT_EQ(a->elements.size(), 3u);
  EXPECT_TRUE(a->elements[1].isArray() && a->elements[2].isObject());
  EXPECT_EQ(v.find("o")->find("k")->string, "v");
  EXPECT_EQ(v.find("missing"), nullptr);
  // Positions are 1-based line:column of the value's first character.
  EXPECT_EQ(v.find("i")->line, 3);
  EXPECT_EQ(v.find("i")->column, 8);
}

TEST(Json, ReportsFileLineColumnAndCause) {
  json::Value v;
  EXPECT_EQ(json::parse("{\n  \"a\": 1,\n}", "m.json", v),
            "m.json:3:1: expected a string key in object");
  struct Case {
    const char *text, *cause;
  } cases[] = {
      {"", "unexpected end of input"},
      {"[1, 2", "expected ',' or ']'"},
      {"[1 2]", "expected ',' or ']'"},
      {"{\"a\" 1}", "expected ':'"},
      {"\"abc", "unterminated string"},
      {"\"a\\x\"", "invalid escape"},
      {"\"\\u12g4\"", "4 hex digits"},
      {"\"\\ud800\"", "unpaired high surrogate"},
      {"\"a\tb\"", "control character"},
      {"01", "leading zeros"},
      {"1.", "digit after '.'"},
      {"1e", "exponent"},
      {"-", "expected a digit"},
      {"tru", "expected 'true'"},
      {"nul", "expected 'null'"},
      {"{\"a\": 1, \"a\": 2}", "duplicate key \"a\""},
      {"[1] x", "trailing characters"},
      {"'a'", "unexpected character"},
  };
  for (const Case &c : cases) {
    std::string err = json::parse(c.text, "x.json", v);
    EXPECT_TRUE(contains(err, c.cause)) << c.text << " -> " << err;
    EXPECT_EQ(err.rfind("x.json:", 0), 0u) << err;
  }
  EXPECT_TRUE(contains(json::parse(std::string(500, '['), "deep.json", v),
                       "nesting deeper"));
  EXPECT_TRUE(contains(json::parseFile("/nonexistent/m.json", v),
                       "cannot open '/nonexistent/m.json'"));
}

//===----------------------------------------------------------------------===//
// Host ops
//===----------------------------------------------------------------------===//

TEST(SplitK, GivesEveryMultiprocessorTwoCTAsWithinLimits) {
  unsetenv("SPARSEC_CUDA_SPLIT_K");
  // 64 CTAs on 132 SMs (4096 rows, T = 16): ceil(264 / 64) = 5 splits.
  EXPECT_EQ(rt::chooseSplitK(132, 64, 64), 5u);
  EXPECT_EQ(rt::chooseSplitK(132, 132, 64), 1u); // enough CTAs already
  EXPECT_EQ(rt::chooseSplitK(132, 1, 64), 16u);  // at most 16 splits
  EXPECT_EQ(rt::chooseSplitK(132, 1, 6), 3u);    // >= 2 k-steps per split
  EXPECT_EQ(rt::chooseSplitK(0, 1, 64), 1u);     // unknown device
  setenv("SPARSEC_CUDA_SPLIT_K", "7", 1);
  EXPECT_EQ(rt::chooseSplitK(132, 1000, 64), 7u);
  EXPECT_EQ(rt::chooseSplitK(132, 1000, 3), 3u); // never more than k-steps
  setenv("SPARSEC_CUDA_SPLIT_K", "junk", 1);
  EXPECT_EQ(rt::chooseSplitK(132, 1000, 64), 1u);
  unsetenv("SPARSEC_CUDA_SPLIT_K");
}

TEST(HostOps, DenseLinearMatchesHandComputedValues) {
  // x: 2 tokens x 3 channels; W: 2 x 3.
  std::vector<float> x = {1, 2, 3, -1, 0, 4};
  std::vector<float> w = {1, 0, -1, 0.5f, 0.5f, 0.5f};
  std::vector<float> b = {10, -10};
  std::vector<float> y(4);
  host::denseLinear(x.data(), 2, 3, w.data(), 2, b.data(), y.data());
  EXPECT_EQ(y,
            (std::vector<float>{1 - 3 + 10, 3 - 10, -1 - 4 + 10, 1.5f - 10}));
  host::denseLinear(x.data(), 2, 3, w.data(), 2, nullptr, y.data());
  EXPECT_EQ(y, (std::vector<float>{-2, 3, -5, 1.5f}));
}

TEST(HostOps, Elementwise) {
  std::vector<float> x = {-2, -1, 0, 1, 3};
  std::vector<float> y(5);
  host::relu(x.data(), 5, y.data());
  EXPECT_EQ(y, (std::vector<float>{0, 0, 0, 1, 3}));
  host::gelu(x.data(), 5, y.data());
  // 0.5 x (1 + erf(x / sqrt 2)), from the normal CDF.
  const float expected[] = {-0.0455003f, -0.1586553f, 0.0f, 0.8413447f,
                            2.9959502f};
  for (int i = 0; i < 5; ++i)
    EXPECT_NEAR(y[i], expected[i], 1e-6) << i;
  std::vector<float> b = {1, 1, 1, 1, 1};
  host::add(x.data(), b.data(), 5, y.data());
  EXPECT_EQ(y, (std::vector<float>{-1, 0, 1, 2, 4}));
}

TEST(HostOps, FeatureMajorLayoutRoundTrips) {
  // 3 tokens x 2 channels -> [2, 8] bits with zero padding.
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  for (cuda::ValueType type : {cuda::ValueType::F16, cuda::ValueType::BF16}) {
    std::vector<uint16_t> bits(16, 0xffff);
    host::toFeatureMajor(x.data(), 3, 2, 8, type, bits.data());
    auto toBits = type == cuda::ValueType::F16 ? cuda::floatToHalfBits
                                               : cuda::floatToBF16Bits;
    EXPECT_EQ(bits[0], toBits(1));
    EXPECT_EQ(bits[1], toBits(3));
    EXPECT_EQ(bits[2], toBits(5));
    EXPECT_EQ(bits[8], toBits(2));
    EXPECT_EQ(bits[10], toBits(6));
    for (int t = 3; t < 8; ++t)
      EXPECT_EQ(bits[t] | bits[8 + t], 0) << t;
    std::vector<float> back(6);
    host::fromFeatureMajor(bits.data(), 2, 8, 3, type, back.data());
    EXPECT_EQ(back, x);
  }
}

//===----------------------------------------------------------------------===//
// Devices
//===----------------------------------------------------------------------===//

TEST(Device, CudaCreationFailsCleanlyWithoutAGpu) {
  std::unique_ptr<Device> device;
  std::string err = createCudaDevice(0, device);
  if (err.empty()) {
    // A GPU machine: the device must describe itself.
    ASSERT_NE(device, nullptr);
    EXPECT_FALSE(device->description().empty());
    return;
  }
  EXPECT_EQ(device, nullptr);
  EXPECT_TRUE(err.rfind("no CUDA driver: ", 0) == 0 ||
              err.rfind("no CUDA device", 0) == 0)
      << err;

  sparsec_rt_device handle = nullptr;
  EXPECT_NE(sparsec_rt_device_create("cuda", &handle), 0);
  EXPECT_EQ(handle, nullptr);
  EXPECT_EQ(std::string(sparsec_rt_last_error()), err);
}

TEST(Device, UnknownKindIsRejected) {
  sparsec_rt_device handle = nullptr;
  EXPECT_NE(sparsec_rt_device_create("tpu", &handle), 0);
  EXPECT_TRUE(contains(sparsec_rt_last_error(), "unknown device 'tpu'"));
  EXPECT_NE(sparsec_rt_device_create(nullptr, &handle), 0);
}

TEST(Device, EmulatorMemoryThroughTheCApi) {
  sparsec_rt_device device = nullptr;
  ASSERT_EQ(sparsec_rt_device_create("emulator", &device), 0)
      << sparsec_rt_last_error();
  uint64_t address = 0;
  ASSERT_EQ(sparsec_rt_device_alloc(device, 64, &address), 0);
  EXPECT_NE(address, 0u);
  std::vector<uint8_t> in(64), out(64);
  for (int i = 0; i < 64; ++i)
    in[i] = uint8_t(i * 3);
  ASSERT_EQ(sparsec_rt_device_copy_to_device(device, address, in.data(), 64),
            0);
  ASSERT_EQ(sparsec_rt_device_copy_to_host(device, out.data(), address, 64), 0);
  EXPECT_EQ(in, out);
  // Out of range: an error, not a crash.
  EXPECT_NE(sparsec_rt_device_copy_to_host(device, out.data(), address, 65), 0);
  EXPECT_STRNE(sparsec_rt_last_error(), "");
  EXPECT_EQ(sparsec_rt_device_free(device, address), 0);
  sparsec_rt_device_destroy(device);
}

//===----------------------------------------------------------------------===//
// Artifact validation
//===----------------------------------------------------------------------===//

/// A valid host-only artifact: head (dense 3x4) -> relu -> gelu -> add.
struct HostArtifact {
  std::string dir;
  std::vector<float> weight = {1, 0, -1, 2, 0.5f, 0.5f, 0, -1, 0, 1, 1, 1};
  std::vector<float> bias = {0.25f, -0.5f, 1};

  explicit HostArtifact(const std::string &name) : dir(freshDir(name)) {
    writeArray(dir + "/head.weight.npy", "<f4", {3, 4}, weight);
    writeArray(dir + "/head.bias.npy", "<f4", {3}, bias);
    writeManifest(manifest());
  }

  static std::string manifest() {
    return R"({
  "format": "sparsec-cuda-artifact", "format_version": 1, "arch": "sm_80",
  "inputs": [{"name": "input", "shape": [2, 1, 4], "dtype": "f32"}],
  "outputs": [{"name": "out", "shape": [2, 3], "dtype": "f32"}],
  "steps": [
    {"op": "dense_linear", "name": "head", "input": "input", "output": "t0",
     "rows": 3, "cols": 4,
     "files": {"weight": "head.weight.npy", "bias": "head.bias.npy"}},
    {"op": "relu", "input": "t0", "output": "t1"},
    {"op": "gelu", "input": "t1", "output": "t2"},
    {"op": "add", "inputs": ["t2", "t0"], "output": "out"}
  ]
})";
  }

  void writeManifest(const std::string &text) const {
    writeText(dir + "/manifest.json", text);
  }

  /// loadArtifact's error after replacing `from` by `to` in the manifest.
  std::string errorWith(const std::string &from, const std::string &to) const {
    std::string text = manifest();
    size_t pos = text.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    if (pos != std::string::npos)
      text.replace(pos, from.size(), to);
    writeManifest(text);
    Artifact art;
    return loadArtifact(dir, art);
  }
};

TEST(Artifact, LoadsAValidHostArtifact) {
  HostArtifact a("valid");
  Artifact art;
  ASSERT_EQ(loadArtifact(a.dir, art), "");
  EXPECT_EQ(art.arch, "sm_80");
  ASSERT_EQ(art.steps.size(), 4u);
  EXPECT_EQ(art.steps[0].op, StepOp::DenseLinear);
  EXPECT_EQ(art.steps[0].weight, a.weight);
  EXPECT_EQ(art.steps[0].bias, a.bias);
  EXPECT_EQ(art.steps[3].op, StepOp::Add);
  EXPECT_EQ(art.steps[3].inputs, (std::vector<std::string>{"t2", "t0"}));
  EXPECT_EQ(art.inputs[0].shape, (std::vector<int64_t>{2, 1, 4}));
}

TEST(Artifact, RejectsBadManifests) {
  HostArtifact a("bad");
  std::string manifest = a.dir + "/manifest.json";
  struct Case {
    const char *from, *to, *message;
  } cases[] = {
      {"\"format_version\": 1", "\"format_version\": 2",
       "this runtime reads version 1, got 2"},
      // A newer version's new keys: the version is what to report.
      {"\"format_version\": 1", "\"format_version\": 2, \"extra\": 0",
       "'format_version': this runtime reads version 1, got 2"},
      {"sparsec-cuda-artifact", "onnx", "'format': expected"},
      {"\"sm_80\"", "\"sm_70\"", "'arch': expected 'sm_80' or 'sm_90a'"},
      {"\"rows\": 3,", "", "step 0 ('head'): missing key 'rows'"},
      {"\"rows\": 3", "\"rows\": \"3\"",
       "step 0 ('head'): 'rows': expected an integer, got string"},
      {"\"rows\": 3", "\"rows\": 0", "expected an integer >= 1, got 0"},
      {"\"cols\": 4", "\"cols\": 5",
       "'cols' is 5 but input 'input' has 4 channels"},
      {"head.weight.npy", "../head.weight.npy",
       "'weight': '../head.weight.npy' must be a plain file name"},
      {"head.weight.npy", "/etc/passwd", "must be a plain file name"},
      {"head.bias.npy", "..", "must be a plain file name"},
      {"head.weight.npy", "missing.npy", "cannot open"},
      {"head.weight.npy", "head.bias.npy",
       "'weight': 'head.bias.npy' must be dtype '<f4' shape [3, 4], got "
       "'<f4' [3]"},
      {"\"op\": \"relu\"", "\"op\": \"softmax\"",
       "step 1: 'op': unknown op 'softmax'"},
      {"\"input\": \"t0\", \"output\": \"t1\"",
       "\"input\": \"t9\", \"output\": \"t1\"",
       "step 1: 'input': 't9' is neither a model input"},
      {"\"output\": \"t2\"", "\"output\": \"t0\"",
       "step 2: 'output': 't0' is already defined"},
      {"\"op\": \"gelu\",", "\"op\": \"gelu\", \"alpha\": 1,",
       "unknown key 'alpha'"},
      {"[\"t2\", \"t0\"]", "[\"t2\"]", "expected an array of two"},
      {"[\"t2\", \"t0\"]", "[\"t2\", \"input\"]",
       "'t2' is 2x3 but 'input' is 2x4"},
      {"\"shape\": [2, 3]", "\"shape\": [3, 3]",
       "'out' has shape [3, 3] but the steps produce 2 tokens x 3 channels"},
      {"\"name\": \"out\"", "\"name\": \"nope\"", "no step produces 'nope'"},
      {"\"name\": \"out\"", "\"name\": \"y\", \"tensor\": \"t9\"",
       "no step produces 't9'"},
      {"\"name\": \"input\",", "\"name\": \"input\", \"tensor\": \"x\",",
       "inputs[0]: unknown key 'tensor'"},
      {"\"dtype\": \"f32\"", "\"dtype\": \"f16\"", "only 'f32' is supported"},
      {"\"steps\": [", "\"steps\": 7, \"x\": [", "unknown key 'x'"},
  };
  for (const Case &c : cases) {
    std::string err = a.errorWith(c.from, c.to);
    EXPECT_TRUE(contains(err, c.message)) << c.from << " -> " << err;
    EXPECT_EQ(err.rfind(manifest, 0), 0u) << err;
  }
  // Positions point at the offending value.
  EXPECT_TRUE(contains(a.errorWith("\"rows\": 3", "\"rows\": -3"),
                       "manifest.json:7:14: step 0 ('head')"));
  a.writeManifest("{\"format\": ");
  Artifact art;
  EXPECT_TRUE(contains(loadArtifact(a.dir, art), "manifest.json:1:12:"));
  EXPECT_TRUE(contains(loadArtifact(a.dir + "/nothing", art), "cannot open"));
}

TEST(Artifact, HostStepsRunThroughModelAndNpy) {
  HostArtifact a("run");
  sparsec_rt_device device = nullptr;
  ASSERT_EQ(sparsec_rt_device_create("emulator", &device), 0);
  sparsec_rt_model model = nullptr;
  ASSERT_EQ(sparsec_rt_model_load(device, a.dir.c_str(), &model), 0)
      << sparsec_rt_last_error();
  std::vector<float> x = {1, 2, 3, 4, -1, 0.5f, 2, -3};
  std::string in = a.dir + "/x.npy", outDir = freshDir("run_out");
  writeArray(in, "<f4", {2, 1, 4}, x);
  const char *inputs[] = {in.c_str()};
  ASSERT_EQ(sparsec_rt_model_run_npy(model, inputs, 1, outDir.c_str()), 0)
      << sparsec_rt_last_error();

  NpyArray out;
  ASSERT_EQ(readNpy(outDir + "/output_0.npy", out), "");
  EXPECT_EQ(out.dtype, "<f4");
  ASSERT_EQ(out.shape, (std::vector<int64_t>{2, 3}));
  const float *y = reinterpret_cast<const float *>(out.data.data());
  for (int t = 0; t < 2; ++t)
    for (int r = 0; r < 3; ++r) {
      float h = a.bias[r];
      for (int k = 0; k < 4; ++k)
        h += x[t * 4 + k] * a.weight[r * 4 + k];
      float relu = std::max(h, 0.0f);
      float expected = 0.5f * relu * (1 + std::erf(relu / std::sqrt(2.0f))) + h;
      EXPECT_NEAR(y[t * 3 + r], expected, 1e-5) << t << "," << r;
    }

  // Wrong shape, wrong count, wrong dtype: clear errors.
  writeArray(in, "<f4", {2, 4}, x);
  EXPECT_NE(sparsec_rt_model_run_npy(model, inputs, 1, outDir.c_str()), 0);
  EXPECT_TRUE(contains(sparsec_rt_last_error(),
                       "input 0 ('input'): expected shape 2x1x4, got 2x4"));
  EXPECT_NE(sparsec_rt_model_run_npy(model, inputs, 0, outDir.c_str()), 0);
  EXPECT_TRUE(contains(sparsec_rt_last_error(), "takes 1 input(s), got 0"));
  writeArray(in, "<f8", {2, 1, 4}, std::vector<double>(8, 1.0));
  EXPECT_NE(sparsec_rt_model_run_npy(model, inputs, 1, outDir.c_str()), 0);
  EXPECT_TRUE(contains(sparsec_rt_last_error(), "must be float32"));
  sparsec_rt_model_destroy(model);
  sparsec_rt_device_destroy(device);
}

//===----------------------------------------------------------------------===//
// Generated layers on the emulator
//===----------------------------------------------------------------------===//

struct LayerCase {
  const char *label; // test name suffix
  const char *options;
  bool hinm;
  cuda::ValueType type;
  cuda::Activation act;
};

/// A random R x K weight and mask in the case's format; HiNM tiles keep
/// `nnzVec` column vectors each (returned in `tileColumns`).
void makeSparseWeight(const LayerCase &c, int64_t rows, int64_t cols, int64_t v,
                      int64_t nnzVec, std::mt19937 &rng,
                      std::vector<float> &weight, std::vector<uint8_t> &mask,
                      std::vector<int64_t> &tileColumns) {
  weight = randomFloats(rows * cols, rng);
  mask.assign(rows * cols, 0);
  tileColumns.clear();
  auto keepTwoOfFour = [&](int64_t r, const int64_t *groupCols) {
    int64_t order[4] = {0, 1, 2, 3};
    std::shuffle(order, order + 4, rng);
    mask[r * cols + groupCols[order[0]]] = 1;
    mask[r * cols + groupCols[order[1]]] = 1;
  };
  if (!c.hinm) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < cols; g += 4) {
        int64_t group[4] = {g, g + 1, g + 2, g + 3};
        keepTwoOfFour(r, group);
      }
    return;
  }
  int64_t tiles = (rows + v - 1) / v;
  for (int64_t t = 0; t < tiles; ++t) {
    std::vector<int64_t> all(cols);
    for (int64_t k = 0; k < cols; ++k)
      all[k] = k;
    std::shuffle(all.begin(), all.end(), rng);
    std::vector<int64_t> kept(all.begin(), all.begin() + nnzVec);
    std::sort(kept.begin(), kept.end());
    tileColumns.insert(tileColumns.end(), kept.begin(), kept.end());
    for (int64_t r = t * v; r < std::min(rows, (t + 1) * v); ++r)
      for (int64_t g = 0; g < nnzVec; g += 4)
        keepTwoOfFour(r, &kept[g]);
  }
}

float roundTo(cuda::ValueType type, float x) {
  return type == cuda::ValueType::F16
             ? cuda::halfBitsToFloat(cuda::floatToHalfBits(x))
             : cuda::bf16BitsToFloat(cuda::floatToBF16Bits(x));
}

float activate(cuda::Activation act, float x) {
  if (act == cuda::Activation::Relu)
    return std::max(x, 0.0f);
  if (act == cuda::Activation::Gelu)
    return 0.5f * x * (1 + std::erf(x / std::sqrt(2.0f)));
  return x;
}

class EmulatedLayer : public testing::TestWithParam<LayerCase> {};

TEST_P(EmulatedLayer, MatchesDenseReference) {
  const LayerCase &c = GetParam();
  const int64_t R = 96, K = 80, T = 13, v = 64, nnzVec = 40;
  const int64_t ldx = 16, ldy = 24;
  std::mt19937 rng(c.hinm * 7 + int(c.type) * 3 + int(c.act) + 1);
  std::vector<float> weight, bias = randomFloats(R, rng);
  std::vector<uint8_t> mask;
  std::vector<int64_t> tileColumns;
  makeSparseWeight(c, R, K, v, nnzVec, rng, weight, mask, tileColumns);

  sparsec_rt_device device = nullptr;
  ASSERT_EQ(sparsec_rt_device_create("emulator", &device), 0);
  sparsec_rt_layer layer = nullptr;
  ASSERT_EQ(sparsec_rt_layer_create(device, c.options, weight.data(),
                                    mask.data(), R, K, bias.data(),
                                    c.hinm ? tileColumns.data() : nullptr,
                                    c.hinm ? nnzVec : 0, &layer),
            0)
      << sparsec_rt_last_error();
  EXPECT_TRUE(contains(sparsec_rt_layer_ptx(layer), ".entry"));
  int64_t info[6];
  ASSERT_EQ(sparsec_rt_layer_info(layer, info), 0);
  EXPECT_EQ(info[4], 128);              // rows_padded
  EXPECT_EQ(info[5], c.hinm ? 64 : 96); // kept_width
  EXPECT_GT(sparsec_rt_layer_weight_bytes(layer), 0);

  // X [K, ldx] with garbage in the padding, which the kernel must ignore.
  std::vector<float> xf = randomFloats(K * ldx, rng, 2);
  std::vector<uint16_t> x(K * ldx), y(R * ldy, 0);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = c.type == cuda::ValueType::F16 ? cuda::floatToHalfBits(xf[i])
                                          : cuda::floatToBF16Bits(xf[i]);
  ASSERT_EQ(sparsec_rt_layer_run_host(layer, x.data(), y.data(), T, ldx, ldy),
            0)
      << sparsec_rt_last_error();

  for (int64_t r = 0; r < R; ++r)
    for (int64_t t = 0; t < T; ++t) {
      float acc = 0;
      for (int64_t k = 0; k < K; ++k)
        if (mask[r * K + k])
          acc += roundTo(c.type, weight[r * K + k]) *
                 roundTo(c.type, xf[k * ldx + t]);
      float expected = activate(c.act, acc + bias[r]);
      float got = c.type == cuda::ValueType::F16
                      ? cuda::halfBitsToFloat(y[r * ldy + t])
                      : cuda::bf16BitsToFloat(y[r * ldy + t]);
      ASSERT_NEAR(got, expected, 1e-2 * std::max(1.0f, std::fabs(expected)))
          << "row " << r << " token " << t;
    }

  // run_device with emulator addresses gives the same bits.
  uint64_t xd = 0, yd = 0;
  ASSERT_EQ(sparsec_rt_device_alloc(device, x.size() * 2, &xd), 0);
  ASSERT_EQ(sparsec_rt_device_alloc(device, y.size() * 2, &yd), 0);
  ASSERT_EQ(
      sparsec_rt_device_copy_to_device(device, xd, x.data(), x.size() * 2), 0);
  ASSERT_EQ(sparsec_rt_layer_run_device(layer, xd, yd, T, ldx, ldy, 0), 0)
      << sparsec_rt_last_error();
  ASSERT_EQ(sparsec_rt_device_synchronize(device), 0);
  std::vector<uint16_t> y2(y.size());
  ASSERT_EQ(
      sparsec_rt_device_copy_to_host(device, y2.data(), yd, y2.size() * 2), 0);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t t = 0; t < T; ++t)
      ASSERT_EQ(y2[r * ldy + t], y[r * ldy + t]);
  // Bad leading dimensions are refused before launching.
  EXPECT_NE(sparsec_rt_layer_run_device(layer, xd, yd, T, 12, ldy, 0), 0);
  EXPECT_TRUE(contains(sparsec_rt_last_error(), "multiples of 8"));

  sparsec_rt_device_free(device, xd);
  sparsec_rt_device_free(device, yd);
  // The layer keeps the device alive.
  sparsec_rt_device_destroy(device);
  sparsec_rt_layer_destroy(layer);
}

INSTANTIATE_TEST_SUITE_P(
    Runtime, EmulatedLayer,
    testing::Values(
        LayerCase{"HiNM_F16_Relu_SM80", "format=hinm,v=64,act=relu", true,
                  cuda::ValueType::F16, cuda::Activation::Relu},
        LayerCase{"NM24_F16_SM80", "format=nm24", false, cuda::ValueType::F16,
                  cuda::Activation::None},
        LayerCase{"HiNM_BF16_Gelu_SM80", "format=hinm,dtype=bf16,act=gelu",
                  true, cuda::ValueType::BF16, cuda::Activation::Gelu},
        LayerCase{"HiNM_F16_SM90a", "format=hinm,arch=sm_90a", true,
                  cuda::ValueType::F16, cuda::Activation::None},
        LayerCase{"NM24_F16_Relu_SM90a", "format=nm24,arch=sm_90a,act=relu",
                  false, cuda::ValueType::F16, cuda::Activation::Relu}),
    [](const testing::TestParamInfo<LayerCase> &info) {
      return std::string(info.param.label);
    });

TEST(LayerOptions, AreCheckedBeforeGenerating) {
  sparsec_rt_device device = nullptr;
  ASSERT_EQ(sparsec_rt_device_create("emulator", &device), 0);
  std::vector<float> weight(64 * 64, 0.0f);
  struct Case {
    const char *options, *message;
  } cases[] = {
      {"format=csr", "option format: invalid value 'csr'"},
      {"arch=sm_75", "option arch: invalid value 'sm_75'"},
      {"dtype=f32", "option dtype: invalid value 'f32'"},
      {"act=tanh", "option act: invalid value 'tanh'"},
      {"v=-64", "option v: invalid value '-64'"},
      {"tile_n=abc", "option tile_n: invalid value 'abc'"},
      {"colour=red", "unknown option 'colour'"},
      {"format", "'format' is not key=value"},
      {"v=64,v=128", "option 'v' given twice"},
  };
  for (const Case &c : cases) {
    sparsec_rt_layer layer = nullptr;
    EXPECT_NE(sparsec_rt_layer_create(device, c.options, weight.data(), nullptr,
                                      64, 64, nullptr, nullptr, 0, &layer),
              0);
    EXPECT_EQ(layer, nullptr);
    EXPECT_TRUE(contains(sparsec_rt_last_error(), c.message))
        << c.options << " -> " << sparsec_rt_last_error();
  }
  sparsec_rt_layer layer = nullptr;
  EXPECT_NE(sparsec_rt_layer_create(device, "", weight.data(), nullptr, 0, 64,
                                    nullptr, nullptr, 0, &layer),
            0);
  EXPECT_TRUE(contains(sparsec_rt_last_error(), "must be positive"));
  sparsec_rt_device_destroy(device);
}

//===----------------------------------------------------------------------===//
// A sparse artifact end to end on the emulator
//===----------------------------------------------------------------------===//

/// Writes one HiNM sparse_linear step's files; returns its manifest entry.
std::string writeSparseStep(const std::string &dir, const std::string &name,
                            const std::string &input, const std::string &output,
                            int64_t rows, int64_t cols, cuda::Activation act,
                            std::mt19937 &rng, std::vector<float> &weight,
                            std::vector<uint8_t> &mask,
                            std::vector<float> &bias) {
  LayerCase c{"", "", true, cuda::ValueType::F16, act};
  std::vector<int64_t> flatColumns;
  makeSparseWeight(c, rows, cols, 64, 32, rng, weight, mask, flatColumns);
  bias = randomFloats(rows, rng);
  cuda::LinearKernelConfig config;
  config.name = "sparsec_" + name;
  config.activation = act;
  config.hasBias = true;
  config.hinm = true;
  config.rows = rows;
  config.cols = cols;
  config.v = 64;
  config.keptWidth = 32;
  EXPECT_EQ(cuda::verifyConfig(config), "");
  cuda::KernelLaunchInfo info = cuda::launchInfo(config);
  std::vector<std::vector<int64_t>> columns;
  for (size_t t = 0; t < flatColumns.size() / 32; ++t)
    columns.emplace_back(flatColumns.begin() + t * 32,
                         flatColumns.begin() + (t + 1) * 32);
  cuda::KernelWeights packed;
  EXPECT_EQ(cuda::packForKernel(config, weight.data(), mask.data(), &columns,
                                bias.data(), packed),
            "");
  writeText(dir + "/" + name + ".ptx", cuda::generateLinearKernel(config));
  writeArray(dir + "/" + name + ".values.npy", "<u2",
             {info.rowsPadded, info.keptWidth / 2}, packed.values);
  writeArray(dir + "/" + name + ".meta.npy", "<u4",
             {int64_t(packed.meta.size())}, packed.meta);
  writeArray(dir + "/" + name + ".col_idx.npy", "<u4",
             {info.rowsPadded / 64, info.keptWidth}, packed.colIdx);
  writeArray(dir + "/" + name + ".bias.npy", "<f4", {rows}, bias);
  auto n = [](int64_t x) { return std::to_string(x); };
  return "{\"op\": \"sparse_linear\", \"name\": \"" + name +
         "\", \"input\": \"" + input + "\", \"output\": \"" + output +
         "\", \"ptx\": \"" + name + ".ptx\", \"entry\": \"" + config.name +
         "\", \"format\": \"hinm\", \"rows\": " + n(rows) +
         ", \"cols\": " + n(cols) +
         ", \"value_type\": \"f16\", \"activation\": \"" +
         cuda::activationName(act) +
         "\", \"v\": 64, \"kept_width\": " + n(info.keptWidth) +
         ", \"rows_padded\": " + n(info.rowsPadded) +
         ", \"tile_m\": " + n(info.tileM) + ", \"tile_n\": " + n(info.tileN) +
         ", \"threads\": " + n(info.threads) +
         ", \"shared_bytes\": " + n(info.sharedBytes) +
         ", \"dynamic_shared\": " +
         std::string(info.dynamicShared ? "true" : "false") +
         ", \"files\": {\"values\": \"" + name + ".values.npy\", \"meta\": \"" +
         name + ".meta.npy\", \"col_idx\": \"" + name +
         ".col_idx.npy\", \"bias\": \"" + name + ".bias.npy\"}}";
}

/// Y = act(masked W x + b) per token, with f16-rounded operands and output.
std::vector<float> referenceLayer(const std::vector<float> &x, int64_t tokens,
                                  int64_t cols, const std::vector<float> &w,
                                  const std::vector<uint8_t> &mask,
                                  const std::vector<float> &bias, int64_t rows,
                                  cuda::Activation act) {
  std::vector<float> y(tokens * rows);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      float acc = 0;
      for (int64_t k = 0; k < cols; ++k)
        if (mask[r * cols + k])
          acc += roundTo(cuda::ValueType::F16, w[r * cols + k]) *
                 roundTo(cuda::ValueType::F16, x[t * cols + k]);
      y[t * rows + r] =
          roundTo(cuda::ValueType::F16, activate(act, acc + bias[r]));
    }
  return y;
}

TEST(Artifact, SparseStepsRunOnTheEmulator) {
  // fc1 (HiNM, relu) -> fc2 (HiNM; fc1's output stays on the device) ->
  // add with fc2's output read twice -> dense head on the host.
  std::string dir = freshDir("sparse");
  std::mt19937 rng(5);
  const int64_t T = 13, K = 64, H = 96, O = 64;
  std::vector<float> w1, b1, w2, b2;
  std::vector<uint8_t> m1, m2;
  std::string s1 = writeSparseStep(dir, "fc1", "x", "h1", H, K,
                                   cuda::Activation::Relu, rng, w1, m1, b1);
  std::string s2 = writeSparseStep(dir, "fc2", "h1", "h2", O, H,
                                   cuda::Activation::None, rng, w2, m2, b2);
  std::vector<float> head = randomFloats(3 * O, rng);
  writeArray(dir + "/head.npy", "<f4", {3, O}, head);
  writeText(
      dir + "/manifest.json",
      "{\"format\": \"sparsec-cuda-artifact\", \"format_version\": 1, "
      "\"arch\": \"sm_80\", \"inputs\": [{\"name\": \"x\", \"shape\": "
      "[13, 64], \"dtype\": \"f32\"}], \"outputs\": [{\"name\": \"logits\", "
      "\"tensor\": \"y\", \"shape\": [13, 3], \"dtype\": \"f32\"}, {\"name\": "
      "\"s\", "
      "\"shape\": [13, 64], \"dtype\": \"f32\"}], \"steps\": [" +
          s1 + ", " + s2 +
          ", {\"op\": \"add\", \"inputs\": [\"h2\", \"h2\"], "
          "\"output\": \"s\"}, {\"op\": \"dense_linear\", \"input\": "
          "\"s\", \"output\": \"y\", \"rows\": 3, \"cols\": 64, "
          "\"files\": {\"weight\": \"head.npy\"}}]}");

  std::shared_ptr<Device> device = createEmulatorDevice();
  std::unique_ptr<Model> model;
  ASSERT_EQ(Model::load(device, dir, model), "");
  HostTensor x;
  x.shape = {T, K};
  x.data = randomFloats(T * K, rng);
  std::vector<HostTensor> outputs;
  ASSERT_EQ(model->run({x}, outputs), "");
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].shape, (std::vector<int64_t>{T, 3}));

  std::vector<float> h1 =
      referenceLayer(x.data, T, K, w1, m1, b1, H, cuda::Activation::Relu);
  std::vector<float> h2 =
      referenceLayer(h1, T, H, w2, m2, b2, O, cuda::Activation::None);
  for (int64_t i = 0; i < T * O; ++i)
    ASSERT_NEAR(outputs[1].data[i], 2 * h2[i],
                2e-2 * std::max(1.0f, std::fabs(2 * h2[i])))
        << i;
  std::vector<float> y(T * 3);
  host::denseLinear(outputs[1].data.data(), T, O, head.data(), 3, nullptr,
                    y.data());
  for (int64_t i = 0; i < T * 3; ++i)
    EXPECT_FLOAT_EQ(outputs[0].data[i], y[i]);

  // A column index beyond K is caught at load time.
  NpyArray colIdx;
  ASSERT_EQ(readNpy(dir + "/fc2.col_idx.npy", colIdx), "");
  uint32_t beyond = uint32_t(H);
  std::memcpy(colIdx.data.data(), &beyond, 4);
  ASSERT_EQ(writeNpy(dir + "/fc2.col_idx.npy", colIdx), "");
  Artifact art;
  EXPECT_TRUE(contains(loadArtifact(dir, art),
                       "step 1 ('fc2'): 'col_idx': 'fc2.col_idx.npy' holds "
                       "column 96, beyond cols = 96"));
  // So is a metadata array of the wrong length.
  NpyArray meta;
  ASSERT_EQ(readNpy(dir + "/fc1.meta.npy", meta), "");
  meta.shape[0] -= 1;
  meta.data.resize(meta.data.size() - 4);
  ASSERT_EQ(writeNpy(dir + "/fc1.meta.npy", meta), "");
  EXPECT_TRUE(contains(loadArtifact(dir, art),
                       "step 0 ('fc1'): 'meta': 'fc1.meta.npy' must be dtype "
                       "'<u4' shape [128]"));
}

} // namespace
