//===- Artifact.h - sparsec CUDA artifacts on disk --------------*- C++ -*-===//
//
// An artifact is a directory holding manifest.json, one PTX module per sparse
// layer and the packed weights as .npy files. loadArtifact reads and checks
// all of it up front, so that a bad artifact fails at load time with a
// message naming the manifest, the step and the field, never mid-run.
//
// Tensors are [tokens, channels] fp32 between steps; model inputs and outputs
// may be N-D, their leading dimensions being the tokens.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_RUNTIME_ARTIFACT_H
#define SPARSEC_RUNTIME_ARTIFACT_H

#include "sparsec/KernelGen/KernelGen.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sparsec::rt {

struct TensorSpec {
  std::string name;
  /// Outputs: the tensor they return ("tensor" in the manifest, defaulting
  /// to `name`). Inputs: always `name`.
  std::string tensor;
  std::vector<int64_t> shape; // fp32; the last dimension is the channels
};

enum class StepOp { SparseLinear, DenseLinear, Relu, Gelu, Add };
const char *stepOpName(StepOp op);

struct Step {
  StepOp op = StepOp::Relu;
  std::string name; // optional in the manifest; "" if absent
  std::vector<std::string> inputs;
  std::string output;
  int64_t rows = 0, cols = 0; // linear layers: W is rows x cols

  // sparse_linear: the kernel, its launch facts and its packed weights.
  std::string ptxFile, ptx, entry;
  bool hinm = false;
  cuda::ValueType valueType = cuda::ValueType::F16;
  cuda::Activation activation = cuda::Activation::None;
  int64_t v = 0, keptWidth = 0, rowsPadded = 0;
  int64_t tileM = 0, tileN = 0, threads = 0, sharedBytes = 0;
  bool dynamicShared = false;
  // Optional decode-size variant `<entry>_small` for T <= smallMaxTokens.
  int64_t smallMaxTokens = 0, smallTileM = 0, smallTileN = 0;
  int64_t smallThreads = 0, smallSharedBytes = 0;
  std::vector<uint16_t> values; // rowsPadded x keptWidth/2
  std::vector<uint32_t> meta;   // kernel layout
  std::vector<uint32_t> colIdx; // HiNM: rowsPadded/v x keptWidth

  // dense_linear
  std::vector<float> weight; // rows x cols

  std::vector<float> bias; // rows, or empty
};

struct Artifact {
  std::string directory;
  std::string arch;
  std::vector<TensorSpec> inputs, outputs;
  std::vector<Step> steps;
};

/// Reads `directory`/manifest.json and every file it names. Returns "" or an
/// error such as "<dir>/manifest.json: step 0 ('fc1'): 'rows': expected a
/// positive integer".
std::string loadArtifact(const std::string &directory, Artifact &out);

} // namespace sparsec::rt

#endif
