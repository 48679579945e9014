//===- ArtifactFormat.h - the CUDA artifact manifest schema -----*- C++ -*-===//
//
// The names shared by the writer (lib/Target/CUDA/CUDATarget.cpp) and the
// reader (lib/Runtime/Artifact.cpp) of <artifact>/manifest.json, so that the
// two cannot drift apart. MLIR-free. The manifest is one JSON object:
//
//   format          kFormatName
//   format_version  kCurrentVersion; bump it with any change a reader of the
//                   previous version would misread or reject
//   arch            "sm_80" | "sm_90a"
//   inputs          [{name, shape, dtype}], model inputs in call order
//   outputs         [{name, tensor, shape, dtype}], tensor: the step output
//                   returned (defaults to name)
//   steps           [{op, name?, ...}], run in order; every step reads named
//                   tensors (input, or inputs for add) and defines output
//     sparse_linear  rows, cols, ptx, entry, format (hinm | nm24),
//                    value_type, activation, v (HiNM), kept_width,
//                    rows_padded, tile_m, tile_n, threads, shared_bytes,
//                    dynamic_shared, mma?, small_* (decode-size variant),
//                    files {values, meta, col_idx (HiNM), bias?}
//     dense_linear   rows, cols, files {weight, bias?}
//     relu, gelu     input, output
//     add            inputs [a, b], output
//
// dtype is always f32; file names are plain names inside the artifact
// directory. docs/CUDABackend.md describes the arrays and the kernel ABI.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_RUNTIME_ARTIFACTFORMAT_H
#define SPARSEC_RUNTIME_ARTIFACTFORMAT_H

namespace sparsec::artifact {

inline constexpr const char *kFormatName = "sparsec-cuda-artifact";
inline constexpr int kCurrentVersion = 1;
inline constexpr const char *kManifestFile = "manifest.json";

/// Keys of the manifest, its tensors and its steps.
namespace key {
// Top level.
inline constexpr const char *kFormat = "format";
inline constexpr const char *kFormatVersion = "format_version";
inline constexpr const char *kArch = "arch";
inline constexpr const char *kInputs = "inputs"; // also add's operands
inline constexpr const char *kOutputs = "outputs";
inline constexpr const char *kSteps = "steps";
// Tensors (inputs, outputs).
inline constexpr const char *kName = "name"; // also a step's name
inline constexpr const char *kTensor = "tensor";
inline constexpr const char *kShape = "shape";
inline constexpr const char *kDtype = "dtype";
// Steps.
inline constexpr const char *kOp = "op";
inline constexpr const char *kInput = "input";
inline constexpr const char *kOutput = "output";
inline constexpr const char *kRows = "rows";
inline constexpr const char *kCols = "cols";
inline constexpr const char *kFiles = "files";
// sparse_linear only ("format" is kFormat, here hinm or nm24).
inline constexpr const char *kPtx = "ptx";
inline constexpr const char *kEntry = "entry";
inline constexpr const char *kValueType = "value_type";
inline constexpr const char *kActivation = "activation";
inline constexpr const char *kV = "v";
inline constexpr const char *kKeptWidth = "kept_width";
inline constexpr const char *kRowsPadded = "rows_padded";
inline constexpr const char *kTileM = "tile_m";
inline constexpr const char *kTileN = "tile_n";
inline constexpr const char *kMma = "mma";
inline constexpr const char *kThreads = "threads";
inline constexpr const char *kSharedBytes = "shared_bytes";
inline constexpr const char *kDynamicShared = "dynamic_shared";
inline constexpr const char *kSmallMaxTokens = "small_max_tokens";
inline constexpr const char *kSmallTileM = "small_tile_m";
inline constexpr const char *kSmallTileN = "small_tile_n";
inline constexpr const char *kSmallMma = "small_mma";
inline constexpr const char *kSmallThreads = "small_threads";
inline constexpr const char *kSmallSharedBytes = "small_shared_bytes";
} // namespace key

/// Keys of a step's "files" object.
namespace file {
inline constexpr const char *kValues = "values";
inline constexpr const char *kMeta = "meta";
inline constexpr const char *kColIdx = "col_idx";
inline constexpr const char *kBias = "bias";
inline constexpr const char *kWeight = "weight";
} // namespace file

/// Step ops.
namespace op {
inline constexpr const char *kSparseLinear = "sparse_linear";
inline constexpr const char *kDenseLinear = "dense_linear";
inline constexpr const char *kRelu = "relu";
inline constexpr const char *kGelu = "gelu";
inline constexpr const char *kAdd = "add";
} // namespace op

/// Values of a few keys.
inline constexpr const char *kDtypeF32 = "f32";
inline constexpr const char *kFormatHinm = "hinm";
inline constexpr const char *kFormatNm24 = "nm24";
inline constexpr const char *kMmaSp = "mma.sp"; // KernelLaunchInfo::mma
inline constexpr const char *kMmaWgmma = "wgmma";

} // namespace sparsec::artifact

#endif
