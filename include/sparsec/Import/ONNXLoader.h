//===- ONNXLoader.h - parse and validate ONNX models ------------*- C++ -*-===//
//
// The only part of sparsec built with C++ exceptions: protobuf parsing, the
// ONNX checker and ONNX shape inference throw. Everything is caught here and
// turned into an error string.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_IMPORT_ONNXLOADER_H
#define SPARSEC_IMPORT_ONNXLOADER_H

#include <cstdint>
#include <string>

namespace onnx {
class ModelProto;
} // namespace onnx

namespace sparsec {

/// Lowest and highest default-domain opset the importer accepts.
constexpr int64_t kMinOpset = 7;
constexpr int64_t kMaxOpset = 17;

struct ONNXLoadOptions {
  /// Run the ONNX checker.
  bool runChecker = true;
  /// Run strict ONNX shape inference (fills value_info).
  bool runShapeInference = true;
};

/// Parses `path` into `model`, then validates external-data references (they
/// must stay inside the model's folder), the graph structure (no cycles, every
/// input defined), the opset range, the ONNX checker and strict shape
/// inference. Returns an empty string on success, else the error message.
std::string loadONNXModel(const std::string &path, onnx::ModelProto &model,
                          const ONNXLoadOptions &options = {});

/// Resolves an external-data `location` relative to `modelDir`; returns an
/// error message if it is absolute, escapes the folder or does not exist.
std::string resolveExternalDataPath(const std::string &modelDir,
                                    const std::string &location,
                                    std::string &resolved);

} // namespace sparsec

#endif
