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
#include <functional>
#include <string>

namespace onnx {
class ModelProto;
class NodeProto;
class TensorProto;
} // namespace onnx

namespace sparsec {

/// Lowest default-domain opset the importer accepts.
constexpr int64_t kMinOpset = 7;
/// Highest: the newest default-domain opset the linked ONNX library defines
/// (28 with ONNX 1.23). Each node is checked against the definitions the
/// importer knows as well (checkNode).
int64_t newestONNXOpset();
/// The opset in which the definition of default-domain `opType` that holds
/// at `opset` appeared (its since_version), or -1 if none holds there.
int64_t onnxDefinitionSince(const std::string &opType, int64_t opset);

struct ONNXLoadOptions {
  /// Run the ONNX checker.
  bool runChecker = true;
  /// Run strict ONNX shape inference (fills value_info).
  bool runShapeInference = true;
  /// Called for every node of the main graph, with the model's
  /// default-domain opset, before the checker and shape inference see it
  /// (ONNX's inference functions trust attributes and data they should
  /// not): a non-empty result is the error. The importer refuses ops it
  /// does not support here, and definitions of them newer than it knows,
  /// so that only their inference functions ever run.
  std::function<std::string(const onnx::NodeProto &, int64_t opset)> checkNode;
  /// Whether the caller imports this default-domain op itself. Every other
  /// op of the main graph that ONNX defines as a function at the model's
  /// opset (Attention, Celu, ReduceL2, ...) is replaced by that function's
  /// body, by ONNX's own inliner, before checkNode runs. Null: no expansion.
  std::function<bool(const std::string &opType)> importsOp;
};

/// Parses `path` into `model`, then validates, before anything else reads
/// them, the data of every tensor (initializers and attribute tensors, in
/// subgraphs too: sizes against dims, overflow-safe) and every external-data
/// reference (it must stay inside the model's folder and its range inside the
/// file), the graph structure (unique names, no cycles, every input defined),
/// the opset range, then runs the ONNX checker and strict shape inference.
/// Returns an empty string on success, else the error message.
std::string loadONNXModel(const std::string &path, onnx::ModelProto &model,
                          const ONNXLoadOptions &options = {});

/// Resolves an external-data `location` relative to `modelDir`; returns an
/// error message if it is absolute, escapes the folder or does not exist.
std::string resolveExternalDataPath(const std::string &modelDir,
                                    const std::string &location,
                                    std::string &resolved);

/// An external-data reference, checked against the file it names.
struct ExternalDataRef {
  std::string location; ///< as written in the model
  std::string path;     ///< resolved, inside the model's folder
  int64_t offset = 0;
  int64_t length = -1; ///< -1: not given (up to the end of the file)
  int64_t fileSize = 0;
};

/// Parses the external-data fields of `tensor` (decimal `offset` and
/// `length`, nothing else accepted), resolves `location` relative to
/// `modelDir` and checks that [offset, offset + length) lies inside the file
/// without overflowing. Returns an error message naming the tensor, or "".
std::string getExternalData(const onnx::TensorProto &tensor,
                            const std::string &modelDir, ExternalDataRef &ref);

/// Bytes of one element of ONNX data type `dataType`; 0 for STRING,
/// UNDEFINED and unknown types.
int64_t onnxElementByteSize(int32_t dataType);

/// The element count of `tensor` from its dims: -1 (and `error` set) if a
/// dim is negative or the count or its byte size exceeds 2^62.
int64_t onnxElementCount(const onnx::TensorProto &tensor, std::string &error);

} // namespace sparsec

#endif
