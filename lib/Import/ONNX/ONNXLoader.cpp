//===- ONNXLoader.cpp - parse and validate ONNX models (built with EH) ----===//
#include "sparsec/Import/ONNXLoader.h"

#include "onnx/checker.h"
#include "onnx/defs/schema.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace sparsec {

static std::string dirName(const std::string &path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash + 1);
}

std::string resolveExternalDataPath(const std::string &modelDir,
                                    const std::string &location,
                                    std::string &resolved) {
  if (location.empty())
    return "external data has an empty location";
  if (location[0] == '/')
    return "external data location '" + location +
           "' is an absolute path; it must be relative to the model's folder";
  std::stringstream parts(location);
  for (std::string part; std::getline(parts, part, '/');)
    if (part == "..")
      return "external data location '" + location +
             "' escapes the model's folder ('..' is not allowed)";
  char dirReal[PATH_MAX], fileReal[PATH_MAX];
  if (!realpath(modelDir.c_str(), dirReal))
    return "cannot resolve the model's folder '" + modelDir + "'";
  std::string candidate = std::string(dirReal) + "/" + location;
  if (!realpath(candidate.c_str(), fileReal))
    return "external data file '" + location + "' does not exist next to the model";
  std::string dirPrefix = std::string(dirReal) + "/";
  if (std::string(fileReal).rfind(dirPrefix, 0) != 0)
    return "external data location '" + location +
           "' resolves outside the model's folder (through a link)";
  struct stat st;
  if (stat(fileReal, &st) != 0 || !S_ISREG(st.st_mode))
    return "external data location '" + location + "' is not a regular file";
  resolved = fileReal;
  return "";
}

static std::string checkExternalData(const onnx::TensorProto &tensor,
                                     const std::string &modelDir) {
  if (tensor.data_location() != onnx::TensorProto::EXTERNAL)
    return "";
  std::string location;
  long long offset = 0, length = -1;
  for (const auto &entry : tensor.external_data()) {
    try {
      if (entry.key() == "location")
        location = entry.value();
      else if (entry.key() == "offset")
        offset = std::stoll(entry.value());
      else if (entry.key() == "length")
        length = std::stoll(entry.value());
    } catch (...) {
      return "tensor '" + tensor.name() + "': external data field '" +
             entry.key() + "' is not a number";
    }
  }
  std::string resolved;
  std::string error = resolveExternalDataPath(modelDir, location, resolved);
  if (!error.empty())
    return "tensor '" + tensor.name() + "': " + error;
  struct stat st;
  stat(resolved.c_str(), &st);
  if (offset < 0 || (length >= 0 && offset + length > st.st_size) ||
      offset > st.st_size)
    return "tensor '" + tensor.name() + "': external data range [" +
           std::to_string(offset) + ", +" + std::to_string(length) +
           ") lies outside '" + location + "' (" + std::to_string(st.st_size) +
           " bytes)";
  return "";
}

/// Every node input must be produced exactly once; reports cycles with the
/// nodes involved.
static std::string checkGraphStructure(const onnx::GraphProto &graph) {
  std::map<std::string, int> producer;
  std::set<std::string> available;
  for (const auto &init : graph.initializer())
    available.insert(init.name());
  for (const auto &input : graph.input())
    available.insert(input.name());
  for (int i = 0; i < graph.node_size(); ++i)
    for (const auto &out : graph.node(i).output()) {
      if (out.empty())
        continue;
      if (available.count(out) || !producer.emplace(out, i).second)
        return "tensor '" + out + "' is produced more than once (node '" +
               graph.node(i).name() + "')";
    }
  auto nodeLabel = [&](int i) {
    const auto &n = graph.node(i);
    return "'" + (n.name().empty() ? "#" + std::to_string(i) : n.name()) +
           "' (" + n.op_type() + ")";
  };
  // Kahn's algorithm over node dependencies.
  std::vector<int> pending(graph.node_size(), 0);
  std::vector<std::vector<int>> users(graph.node_size());
  for (int i = 0; i < graph.node_size(); ++i) {
    for (const auto &in : graph.node(i).input()) {
      if (in.empty() || available.count(in))
        continue;
      auto it = producer.find(in);
      if (it == producer.end())
        return "input '" + in + "' of node " + nodeLabel(i) +
               " is not a graph input, an initializer or the output of any "
               "node (missing initializer?)";
      ++pending[i];
      users[it->second].push_back(i);
    }
  }
  std::vector<int> ready;
  for (int i = 0; i < graph.node_size(); ++i)
    if (pending[i] == 0)
      ready.push_back(i);
  int visited = 0;
  while (!ready.empty()) {
    int n = ready.back();
    ready.pop_back();
    ++visited;
    for (int u : users[n])
      if (--pending[u] == 0)
        ready.push_back(u);
  }
  if (visited != graph.node_size()) {
    std::string members;
    int listed = 0;
    for (int i = 0; i < graph.node_size() && listed < 4; ++i)
      if (pending[i] > 0) {
        members += (listed++ ? ", " : "") + nodeLabel(i);
      }
    return "the graph has a cycle; nodes on or after it: " + members;
  }
  return "";
}

std::string loadONNXModel(const std::string &path, onnx::ModelProto &model,
                          const ONNXLoadOptions &options) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return "cannot open '" + path + "'";
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return "'" + path + "' is not a regular file";
  }
  if (st.st_size == 0) {
    close(fd);
    return "'" + path + "' is empty, not an ONNX model";
  }
  bool parsed;
  {
    // Stream from the file so that the raw bytes and the parsed message are
    // never both in memory.
    google::protobuf::io::FileInputStream raw(fd);
    google::protobuf::io::CodedInputStream coded(&raw);
    coded.SetTotalBytesLimit(INT_MAX);
    parsed = model.ParseFromCodedStream(&coded) &&
             coded.ConsumedEntireMessage();
  }
  close(fd);
  if (!parsed)
    return "'" + path +
           "' is not a valid ONNX protobuf (truncated or corrupt file)";
  if (!model.has_graph())
    return "'" + path + "' has no graph";

  int64_t opset = -1;
  for (const auto &imp : model.opset_import())
    if (imp.domain().empty() || imp.domain() == "ai.onnx")
      opset = imp.version();
  if (opset < 0)
    return "model has no opset import for the default ONNX domain";
  if (opset < kMinOpset || opset > kMaxOpset)
    return "model uses ONNX opset " + std::to_string(opset) +
           "; sparsec supports opsets " + std::to_string(kMinOpset) + "-" +
           std::to_string(kMaxOpset) + " (13-17 fully)";

  std::string modelDir = dirName(path);
  const onnx::GraphProto &graph = model.graph();
  for (const auto &init : graph.initializer()) {
    std::string error = checkExternalData(init, modelDir);
    if (!error.empty())
      return error;
  }
  for (const auto &node : graph.node())
    for (const auto &attr : node.attribute())
      if (attr.has_t()) {
        std::string error = checkExternalData(attr.t(), modelDir);
        if (!error.empty())
          return "node '" + node.name() + "': " + error;
      }
  std::string error = checkGraphStructure(graph);
  if (!error.empty())
    return error;

  // The Debian checker knows IR versions up to its own; newer IR versions
  // only add types and features sparsec does not accept anyway.
  int64_t irVersion = model.ir_version();
  // The checker resolves external-data paths against the working directory:
  // run it from the model's folder (locations were validated above).
  int cwd = open(".", O_RDONLY | O_DIRECTORY);
  struct CwdRestore {
    int fd;
    ~CwdRestore() {
      if (fd >= 0) {
        if (fchdir(fd) != 0) {
        }
        close(fd);
      }
    }
  } restore{cwd};
  try {
    if (options.runChecker) {
      if (irVersion > onnx::IR_VERSION)
        model.set_ir_version(onnx::IR_VERSION);
      if (chdir(modelDir.c_str()) != 0)
        return "cannot enter the model's folder '" + modelDir + "'";
      onnx::checker::check_model(model);
      if (cwd >= 0 && fchdir(cwd) != 0)
        return "cannot return to the working directory";
    }
    if (options.runShapeInference) {
      onnx::ShapeInferenceOptions siOptions(/*check_type=*/true,
                                            /*strict_mode=*/1,
                                            /*data_prop=*/true);
      onnx::shape_inference::InferShapes(
          model, onnx::OpSchemaRegistry::Instance(), siOptions);
    }
  } catch (const std::exception &e) {
    model.set_ir_version(irVersion);
    std::string what = e.what();
    while (!what.empty() && (what.back() == '\n' || what.back() == ' '))
      what.pop_back();
    return "ONNX validation failed: " + what;
  }
  model.set_ir_version(irVersion);
  return "";
}

} // namespace sparsec
