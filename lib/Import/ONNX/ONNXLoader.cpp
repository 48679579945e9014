//===- ONNXLoader.cpp - parse and validate ONNX models (built with EH) ----===//
#include "sparsec/Import/ONNXLoader.h"

#include "onnx/checker.h"
#include "onnx/defs/schema.h"
#include "onnx/inliner/inliner.h"
#include "onnx/onnx_pb.h"
#include "onnx/shape_inference/implementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
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
    return "external data file '" + location +
           "' does not exist next to the model";
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

/// A non-negative decimal without sign, spaces or suffix, that fits int64.
static bool parseDecimal(const std::string &text, int64_t &value) {
  if (text.empty())
    return false;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return false;
    int digit = c - '0';
    if (v > (INT64_MAX - digit) / 10)
      return false;
    v = v * 10 + digit;
  }
  value = v;
  return true;
}

std::string getExternalData(const onnx::TensorProto &tensor,
                            const std::string &modelDir, ExternalDataRef &ref) {
  std::string label = "tensor '" + tensor.name() + "': ";
  ref = ExternalDataRef();
  for (const auto &entry : tensor.external_data()) {
    if (entry.key() == "location") {
      ref.location = entry.value();
    } else if (entry.key() == "offset" || entry.key() == "length") {
      int64_t &field = entry.key() == "offset" ? ref.offset : ref.length;
      if (!parseDecimal(entry.value(), field))
        return label + "external data field '" + entry.key() + "' ('" +
               entry.value() + "') is not a non-negative 64-bit integer";
    }
  }
  std::string error = resolveExternalDataPath(modelDir, ref.location, ref.path);
  if (!error.empty())
    return label + error;
  struct stat st;
  if (stat(ref.path.c_str(), &st) != 0)
    return label + "cannot read external data file '" + ref.location + "'";
  ref.fileSize = st.st_size;
  // Both are non-negative: compare against what is left after the offset
  // instead of adding them.
  if (ref.offset > ref.fileSize ||
      (ref.length >= 0 && ref.length > ref.fileSize - ref.offset))
    return label + "external data range [offset " + std::to_string(ref.offset) +
           (ref.length >= 0 ? ", length " + std::to_string(ref.length) : "") +
           "] lies outside '" + ref.location + "' (" +
           std::to_string(ref.fileSize) + " bytes)";
  return "";
}

int64_t onnxElementByteSize(int32_t dataType) {
  switch (dataType) {
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::BOOL:
    return 1;
  case onnx::TensorProto::UINT16:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
    return 2;
  case onnx::TensorProto::FLOAT:
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::UINT32:
    return 4;
  case onnx::TensorProto::DOUBLE:
  case onnx::TensorProto::INT64:
  case onnx::TensorProto::UINT64:
  case onnx::TensorProto::COMPLEX64:
    return 8;
  case onnx::TensorProto::COMPLEX128:
    return 16;
  default:
    return 0;
  }
}

static std::string dimsString(const onnx::TensorProto &tensor) {
  std::string out = "[";
  for (int i = 0; i < tensor.dims_size(); ++i)
    out += (i ? ", " : "") + std::to_string(tensor.dims(i));
  return out + "]";
}

static std::string typeName(int32_t dataType) {
  if (!onnx::TensorProto::DataType_IsValid(dataType))
    return "data type " + std::to_string(dataType);
  return onnx::TensorProto::DataType_Name(
      static_cast<onnx::TensorProto::DataType>(dataType));
}

int64_t onnxElementCount(const onnx::TensorProto &tensor, std::string &error) {
  // 2^58 elements of at most 16 bytes keep every byte count below 2^62.
  constexpr int64_t kMaxElements = int64_t(1) << 58;
  int64_t count = 1;
  for (int64_t d : tensor.dims()) {
    if (d < 0) {
      error = "negative dimension in dims " + dimsString(tensor);
      return -1;
    }
    if (d != 0 && count > kMaxElements / d) {
      error = "dims " + dimsString(tensor) + " have more than 2^58 elements";
      return -1;
    }
    count *= d;
  }
  return count;
}

/// Checks that the data of `tensor` is exactly what its dims and type need,
/// before the ONNX checker or shape inference (which trust it) read it.
static std::string checkTensorData(const onnx::TensorProto &tensor,
                                   const std::string &modelDir) {
  std::string label = "tensor '" + tensor.name() + "': ";
  std::string error;
  int64_t count = onnxElementCount(tensor, error);
  if (count < 0)
    return label + error;
  int32_t type = tensor.data_type();
  if (type == onnx::TensorProto::UNDEFINED ||
      !onnx::TensorProto::DataType_IsValid(type))
    return label + "unknown " + typeName(type);
  int64_t eltSize = onnxElementByteSize(type);
  bool hasTyped = tensor.float_data_size() || tensor.int32_data_size() ||
                  tensor.string_data_size() || tensor.int64_data_size() ||
                  tensor.double_data_size() || tensor.uint64_data_size();
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    if (hasTyped || tensor.has_raw_data())
      return label + "has both external and inline data";
    if (eltSize == 0)
      return label + "external data of type " + typeName(type) +
             " is not supported";
    ExternalDataRef ref;
    error = getExternalData(tensor, modelDir, ref);
    if (!error.empty())
      return error;
    int64_t needed = count * eltSize;
    if (ref.length >= 0 && ref.length != needed)
      return label + "external data length " + std::to_string(ref.length) +
             " does not match dims " + dimsString(tensor) + " of " +
             typeName(type) + " (" + std::to_string(needed) + " bytes)";
    if (needed > ref.fileSize - ref.offset)
      return label + "dims " + dimsString(tensor) + " of " + typeName(type) +
             " need " + std::to_string(needed) + " bytes, but '" +
             ref.location + "' holds " +
             std::to_string(ref.fileSize - ref.offset) + " after offset " +
             std::to_string(ref.offset);
    return "";
  }
  if (tensor.has_raw_data()) {
    if (hasTyped)
      return label + "holds data both in raw_data and in a typed field";
    if (eltSize == 0)
      return label + "raw_data of type " + typeName(type) + " is not supported";
    if (int64_t(tensor.raw_data().size()) != count * eltSize)
      return label + "raw_data holds " +
             std::to_string(tensor.raw_data().size()) + " bytes, but dims " +
             dimsString(tensor) + " of " + typeName(type) + " need " +
             std::to_string(count * eltSize);
    return "";
  }
  // The typed field each data type uses, and values per element.
  int expectedField = 0, perElement = 1;
  switch (type) {
  case onnx::TensorProto::COMPLEX64:
    perElement = 2;
    [[fallthrough]];
  case onnx::TensorProto::FLOAT:
    expectedField = 1;
    break;
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::INT16:
  case onnx::TensorProto::INT8:
  case onnx::TensorProto::UINT16:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::BOOL:
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
    expectedField = 2;
    break;
  case onnx::TensorProto::STRING:
    expectedField = 3;
    break;
  case onnx::TensorProto::INT64:
    expectedField = 4;
    break;
  case onnx::TensorProto::COMPLEX128:
    perElement = 2;
    [[fallthrough]];
  case onnx::TensorProto::DOUBLE:
    expectedField = 5;
    break;
  default: // UINT32, UINT64
    expectedField = 6;
    break;
  }
  const int64_t sizes[] = {0,
                           tensor.float_data_size(),
                           tensor.int32_data_size(),
                           tensor.string_data_size(),
                           tensor.int64_data_size(),
                           tensor.double_data_size(),
                           tensor.uint64_data_size()};
  const char *names[] = {
      "",           "float_data",  "int32_data", "string_data",
      "int64_data", "double_data", "uint64_data"};
  for (int f = 1; f <= 6; ++f)
    if (f != expectedField && sizes[f] != 0)
      return label + std::string(names[f]) + " does not hold " +
             typeName(type) + " data (expected " + names[expectedField] +
             " or raw_data)";
  int64_t expected = count * perElement;
  if (sizes[expectedField] == 0 && expected != 0)
    return label + "has no data for dims " + dimsString(tensor) + " of " +
           typeName(type);
  if (sizes[expectedField] != expected)
    return label + std::string(names[expectedField]) + " holds " +
           std::to_string(sizes[expectedField]) + " values, but dims " +
           dimsString(tensor) + " of " + typeName(type) + " need " +
           std::to_string(expected);
  return "";
}

static std::string checkSparseTensor(const onnx::SparseTensorProto &sparse,
                                     const std::string &modelDir) {
  std::string error = checkTensorData(sparse.values(), modelDir);
  if (error.empty())
    error = checkTensorData(sparse.indices(), modelDir);
  return error;
}

/// checkTensorData for every tensor a graph holds: initializers, sparse
/// initializers and node attributes, in subgraphs too (protobuf's recursion
/// limit bounds the nesting).
static std::string checkGraphTensors(const onnx::GraphProto &graph,
                                     const std::string &modelDir,
                                     int64_t opset) {
  for (const auto &init : graph.initializer())
    if (std::string error = checkTensorData(init, modelDir); !error.empty())
      return "initializer " + error.substr(std::string("tensor ").size());
  for (const auto &sparse : graph.sparse_initializer())
    if (std::string error = checkSparseTensor(sparse, modelDir); !error.empty())
      return "sparse initializer: " + error;
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto &node = graph.node(i);
    for (const auto &attr : node.attribute()) {
      std::string error;
      if (attr.has_t())
        error = checkTensorData(attr.t(), modelDir);
      for (int k = 0; error.empty() && k < attr.tensors_size(); ++k)
        error = checkTensorData(attr.tensors(k), modelDir);
      if (error.empty() && attr.has_sparse_tensor())
        error = checkSparseTensor(attr.sparse_tensor(), modelDir);
      for (int k = 0; error.empty() && k < attr.sparse_tensors_size(); ++k)
        error = checkSparseTensor(attr.sparse_tensors(k), modelDir);
      if (error.empty() && attr.has_g())
        error = checkGraphTensors(attr.g(), modelDir, opset);
      for (int k = 0; error.empty() && k < attr.graphs_size(); ++k)
        error = checkGraphTensors(attr.graphs(k), modelDir, opset);
      if (!error.empty())
        return "node '" +
               (node.name().empty() ? "#" + std::to_string(i) : node.name()) +
               "' (" + node.op_type() + ", opset " + std::to_string(opset) +
               "): attribute '" + attr.name() + "': " + error;
    }
  }
  return "";
}

/// ONNX 1.12's convolution and pooling shape inference divides by strides
/// and multiplies dilations unchecked (a stride of 0 is a SIGFPE): these
/// attributes must be positive before it runs, whatever the op.
static std::string checkWindowAttributes(const onnx::NodeProto &node) {
  if (!node.domain().empty() && node.domain() != "ai.onnx")
    return "";
  for (const auto &attr : node.attribute()) {
    if (attr.name() != "strides" && attr.name() != "dilations" &&
        attr.name() != "kernel_shape")
      continue;
    for (int64_t v : attr.ints())
      if (v < 1 || v > (int64_t(1) << 31))
        return "attribute '" + attr.name() + "' value " + std::to_string(v) +
               " is out of range [1, 2^31]";
  }
  return "";
}

/// Every node input must be produced exactly once; reports cycles with the
/// nodes involved.
static std::string checkGraphStructure(const onnx::GraphProto &graph) {
  std::map<std::string, int> producer;
  std::set<std::string> available, inputs;
  for (const auto &init : graph.initializer())
    if (!available.insert(init.name()).second)
      return "initializer '" + init.name() + "' is defined more than once";
  for (const auto &input : graph.input())
    if (!inputs.insert(input.name()).second)
      return "graph input '" + input.name() + "' is listed more than once";
  available.insert(inputs.begin(), inputs.end());
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

/// Whether a Slice node of `graph` takes its `steps` from an initializer
/// holding a step beyond +-2^30. ONNX 1.23's Slice data propagation adds
/// the step to an `int` index, which wraps and then indexes out of bounds
/// (a crash); such steps select one element, which the importer handles.
static bool hasHugeSliceStep(const onnx::GraphProto &graph) {
  constexpr int64_t bound = int64_t(1) << 30;
  std::set<std::string> stepNames;
  for (const onnx::NodeProto &node : graph.node())
    if (node.op_type() == "Slice" && node.input_size() >= 5)
      stepNames.insert(node.input(4));
  for (const onnx::TensorProto &init : graph.initializer()) {
    if (!stepNames.count(init.name()))
      continue;
    auto huge = [&](int64_t v) { return v > bound || v < -bound; };
    for (int64_t v : init.int64_data())
      if (huge(v))
        return true;
    for (int32_t v : init.int32_data())
      if (huge(v))
        return true;
    if (init.has_raw_data()) {
      // Sizes were checked against the dims and type before (step 3).
      const std::string &raw = init.raw_data();
      if (init.data_type() == onnx::TensorProto::INT64) {
        for (size_t i = 0; i + 8 <= raw.size(); i += 8) {
          int64_t v;
          memcpy(&v, raw.data() + i, 8);
          if (huge(v))
            return true;
        }
      } else if (init.data_type() == onnx::TensorProto::INT32) {
        for (size_t i = 0; i + 4 <= raw.size(); i += 4) {
          int32_t v;
          memcpy(&v, raw.data() + i, 4);
          if (huge(v))
            return true;
        }
      }
    }
  }
  return false;
}

/// The default-domain ops of the main graph that the importer does not take
/// and ONNX defines as a function at `opset` (a fixed body or one built from
/// the node's context).
static std::set<std::string>
functionOpsToExpand(const onnx::GraphProto &graph, int64_t opset,
                    const std::function<bool(const std::string &)> &importsOp) {
  std::set<std::string> ops;
  for (const onnx::NodeProto &node : graph.node()) {
    const std::string &domain = node.domain();
    if ((!domain.empty() && domain != "ai.onnx") || ops.count(node.op_type()) ||
        importsOp(node.op_type()))
      continue;
    const onnx::OpSchema *schema = onnx::OpSchemaRegistry::Schema(
        node.op_type(), int(opset), onnx::ONNX_DOMAIN);
    if (schema && (schema->GetFunction(int(opset)) ||
                   schema->HasContextDependentFunction()))
      ops.insert(node.op_type());
  }
  return ops;
}

/// Inlines the nodes of `ops` with ONNX's inliner.
static std::string expandFunctionOps(onnx::ModelProto &model, int64_t opset,
                                     const std::set<std::string> &ops) {
  onnx::inliner::FunctionIdVector expand;
  for (onnx::NodeProto &node : *model.mutable_graph()->mutable_node()) {
    const std::string &domain = node.domain();
    if ((!domain.empty() && domain != "ai.onnx") || !ops.count(node.op_type()))
      continue;
    const onnx::OpSchema *schema = onnx::OpSchemaRegistry::Schema(
        node.op_type(), int(opset), onnx::ONNX_DOMAIN);
    // The inliner drops a reference to an attribute the node leaves out
    // instead of taking the schema's default (MeanVarianceNormalization's
    // axes, the window ops' output_datatype): spell the defaults out.
    for (const auto &entry : schema->attributes()) {
      const std::string &name = entry.first;
      const onnx::OpSchema::Attribute &attribute = entry.second;
      bool present = llvm::any_of(
          node.attribute(), [&](const auto &a) { return a.name() == name; });
      if (!present &&
          attribute.default_value.type() != onnx::AttributeProto::UNDEFINED) {
        onnx::AttributeProto *added = node.add_attribute();
        *added = attribute.default_value;
        added->set_name(name);
      }
    }
    // Trailing omitted optional inputs: the inliner cannot type "".
    while (node.input_size() > 0 && node.input(node.input_size() - 1).empty())
      node.mutable_input()->RemoveLast();
  }
  for (const std::string &op : ops)
    expand.emplace_back("", op);
  // The inliner types a context-dependent function's inputs from graph
  // inputs and value_info only: give the initializers theirs.
  onnx::GraphProto &graph = *model.mutable_graph();
  std::set<std::string> typed;
  for (const auto &list : {graph.input(), graph.value_info()})
    for (const onnx::ValueInfoProto &info : list)
      typed.insert(info.name());
  for (const onnx::TensorProto &init : graph.initializer()) {
    if (typed.count(init.name()))
      continue;
    onnx::ValueInfoProto *info = graph.add_value_info();
    info->set_name(init.name());
    auto *tensor = info->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(init.data_type());
    auto *shape = tensor->mutable_shape();
    for (int64_t d : init.dims())
      shape->add_dim()->set_dim_value(d);
  }
  try {
    auto ids = onnx::inliner::FunctionIdSet::Create(std::move(expand));
    onnx::inliner::InlineSelectedFunctions(model, *ids, nullptr);
  } catch (const std::exception &e) {
    std::string what = e.what();
    while (!what.empty() && (what.back() == '\n' || what.back() == ' '))
      what.pop_back();
    // ONNX_ASSERT prefixes the source position of its build: drop it.
    if (size_t at = what.find(".cc:"); at != std::string::npos)
      if (size_t colon = what.find(": ", at); colon != std::string::npos)
        what = what.substr(colon + 2);
    return "expanding the ONNX function ops (" + llvm::join(ops, ", ") +
           ") failed: " + what;
  }
  return "";
}

int64_t newestONNXOpset() {
  static const int64_t newest = [] {
    const auto &ranges =
        onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
    auto it = ranges.find(onnx::ONNX_DOMAIN);
    return it == ranges.end() ? int64_t(kMinOpset) : int64_t(it->second.second);
  }();
  return newest;
}

int64_t onnxDefinitionSince(const std::string &opType, int64_t opset) {
  if (opset < 1 || opset > newestONNXOpset())
    return -1;
  const onnx::OpSchema *schema =
      onnx::OpSchemaRegistry::Schema(opType, int(opset), onnx::ONNX_DOMAIN);
  return schema ? int64_t(schema->SinceVersion()) : -1;
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
    parsed =
        model.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
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
  if (opset < kMinOpset || opset > newestONNXOpset())
    return "model uses ONNX opset " + std::to_string(opset) +
           "; sparsec supports opsets " + std::to_string(kMinOpset) + "-" +
           std::to_string(newestONNXOpset());

  std::string modelDir = dirName(path);
  const onnx::GraphProto &graph = model.graph();
  // Before the checker and shape inference: ONNX 1.12's ParseData trusts a
  // tensor's data size (a raw_data shorter than its dims overflows the heap).
  std::string error = checkGraphTensors(graph, modelDir, opset);
  if (!error.empty())
    return error;
  error = checkGraphStructure(graph);
  if (!error.empty())
    return error;
  std::set<std::string> expand;
  if (options.importsOp)
    expand = functionOpsToExpand(graph, opset, options.importsOp);
  // Every node is checked before any ONNX code (the inliner runs shape
  // inference) sees it; the ops to expand are checked as their bodies.
  auto checkNodes = [&]() -> std::string {
    for (int i = 0; i < graph.node_size(); ++i) {
      const onnx::NodeProto &node = graph.node(i);
      std::string error = checkWindowAttributes(node);
      if (error.empty() && options.checkNode && !expand.count(node.op_type()))
        error = options.checkNode(node, opset);
      if (!error.empty())
        return "node '" +
               (node.name().empty() ? "#" + std::to_string(i) : node.name()) +
               "' (" + node.op_type() + ", opset " + std::to_string(opset) +
               "): " + error;
    }
    return "";
  };
  if (error = checkNodes(); !error.empty())
    return error;
  // A body may use further function ops (SwiGLU's Swish): expand again
  // until none is left, at most a few levels deep.
  for (int depth = 0; !expand.empty(); ++depth) {
    if (depth == 8)
      return "the ONNX function ops (" + llvm::join(expand, ", ") +
             ") nest more than 8 levels deep";
    if (error = expandFunctionOps(model, opset, expand); !error.empty())
      return error;
    expand = functionOpsToExpand(graph, opset, options.importsOp);
    if (error = checkGraphStructure(graph); !error.empty())
      return error;
    if (error = checkNodes(); !error.empty())
      return error;
  }

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
      onnx::ShapeInferenceOptions siOptions(
          /*check_type=*/true,
          /*strict_mode=*/1,
          /*data_prop=*/!hasHugeSliceStep(model.graph()));
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
