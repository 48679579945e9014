//===- Artifact.cpp - read and check a sparsec CUDA artifact --------------===//
//
// Everything a kernel will trust is checked here: array shapes against the
// launch facts (a wrong size would be an out-of-bounds access on the GPU),
// column indices against K, tensor names and channel counts along the steps,
// and file names (they must stay inside the artifact directory). Unknown keys
// are rejected so that a typo never silently changes what runs.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Runtime/Artifact.h"

#include "sparsec/Runtime/Json.h"
#include "sparsec/Support/Npy.h"

#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>

namespace sparsec::rt {

const char *stepOpName(StepOp op) {
  switch (op) {
  case StepOp::SparseLinear:
    return "sparse_linear";
  case StepOp::DenseLinear:
    return "dense_linear";
  case StepOp::Relu:
    return "relu";
  case StepOp::Gelu:
    return "gelu";
  case StepOp::Add:
    return "add";
  }
  return "?";
}

namespace {

using json::Value;

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t product(const std::vector<int64_t> &dims, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i)
    n *= dims[i];
  return n;
}

// A file name the manifest may use: no directories, so nothing outside the
// artifact can be read.
bool isPlainFileName(const std::string &name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string("/\\\0", 3)) == std::string::npos;
}

/// What every tensor looks like while walking the steps.
struct TensorFacts {
  int64_t tokens = 0, channels = 0;
};

class ManifestReader {
public:
  ManifestReader(const std::string &directory, Artifact &out)
      : directory(directory), path(directory + "/manifest.json"), out(out) {}

  std::string run() {
    Value root;
    if (std::string err = json::parseFile(path, root); !err.empty())
      return err;
    if (!readRoot(root))
      return error;
    return "";
  }

private:
  std::string directory, path;
  Artifact &out;
  std::string where; // the step being read, for messages
  std::string error;
  std::map<std::string, TensorFacts> tensors;

  bool fail(const Value *at, const std::string &cause) {
    if (!error.empty())
      return false;
    error = path;
    if (at && at->line)
      error +=
          ":" + std::to_string(at->line) + ":" + std::to_string(at->column);
    error += ": " + (where.empty() ? "" : where + ": ") + cause;
    return false;
  }

  bool checkKeys(const Value &object,
                 std::initializer_list<const char *> keys) {
    for (const auto &member : object.members) {
      bool known = false;
      for (const char *key : keys)
        known |= member.first == key;
      if (known)
        continue;
      std::string list;
      for (const char *key : keys)
        list += std::string(list.empty() ? "" : ", ") + key;
      return fail(&member.second,
                  "unknown key '" + member.first + "' (expected " + list + ")");
    }
    return true;
  }

  const Value *member(const Value &object, const char *key, bool required) {
    const Value *v = object.find(key);
    if (!v && required)
      fail(&object, std::string("missing key '") + key + "'");
    return v;
  }

  bool wrongType(const Value &v, const char *key, const char *expected) {
    return fail(&v, std::string("'") + key + "': expected " + expected +
                        ", got " + Value::kindName(v.kind));
  }

  bool readString(const Value &object, const char *key, std::string &s,
                  bool required = true) {
    const Value *v = member(object, key, required);
    if (!v)
      return !required;
    if (!v->isString())
      return wrongType(*v, key, "a string");
    s = v->string;
    return true;
  }

  bool readInt(const Value &object, const char *key, int64_t &n, int64_t min,
               bool required = true) {
    const Value *v = member(object, key, required);
    if (!v)
      return !required;
    if (!v->isNumber() || !v->isInteger)
      return wrongType(*v, key, "an integer");
    if (v->integer < min)
      return fail(v, std::string("'") + key +
                         "': expected an integer >= " + std::to_string(min) +
                         ", got " + std::to_string(v->integer));
    n = v->integer;
    return true;
  }

  bool readBool(const Value &object, const char *key, bool &b) {
    const Value *v = member(object, key, false);
    if (!v)
      return true;
    if (!v->isBool())
      return wrongType(*v, key, "a boolean");
    b = v->boolean;
    return true;
  }

  bool readFileName(const Value &files, const char *key, std::string &name,
                    bool required) {
    if (!readString(files, key, name, required))
      return false;
    if (name.empty() && !required)
      return true;
    if (!isPlainFileName(name))
      return fail(files.find(key),
                  std::string("'") + key + "': '" + name +
                      "' must be a plain file name inside the artifact "
                      "directory");
    return true;
  }

  bool readRoot(const Value &root) {
    if (!root.isObject())
      return fail(&root, "expected a JSON object at the top level");
    if (!checkKeys(root, {"format", "format_version", "arch", "inputs",
                          "outputs", "steps"}))
      return false;
    std::string format;
    int64_t version = 0;
    if (!readString(root, "format", format))
      return false;
    if (format != "sparsec-cuda-artifact")
      return fail(root.find("format"), "'format': expected "
                                       "'sparsec-cuda-artifact', got '" +
                                           format + "'");
    if (!readInt(root, "format_version", version, 0))
      return false;
    if (version != 1)
      return fail(root.find("format_version"),
                  "'format_version': this runtime reads version 1, got " +
                      std::to_string(version));
    if (!readString(root, "arch", out.arch))
      return false;
    cuda::Arch arch;
    if (!cuda::parseArch(out.arch, arch))
      return fail(root.find("arch"), "'arch': expected 'sm_80' or 'sm_90a', "
                                     "got '" +
                                         out.arch + "'");
    if (!readTensors(root, "inputs", out.inputs))
      return false;
    for (const TensorSpec &spec : out.inputs) {
      if (tensors.count(spec.name))
        return fail(root.find("inputs"),
                    "'inputs': duplicate name '" + spec.name + "'");
      tensors[spec.name] = {product(spec.shape, 0, spec.shape.size() - 1),
                            spec.shape.back()};
    }
    if (!readTensors(root, "outputs", out.outputs))
      return false;
    const Value *steps = member(root, "steps", true);
    if (!steps)
      return false;
    if (!steps->isArray())
      return wrongType(*steps, "steps", "an array");
    if (steps->elements.empty())
      return fail(steps, "'steps': expected at least one step");
    for (size_t i = 0; i < steps->elements.size(); ++i) {
      out.steps.emplace_back();
      if (!readStep(steps->elements[i], i, out.steps.back()))
        return false;
    }
    where.clear();
    return checkOutputs(root);
  }

  bool readTensors(const Value &root, const char *key,
                   std::vector<TensorSpec> &specs) {
    const Value *list = member(root, key, true);
    if (!list)
      return false;
    if (!list->isArray())
      return wrongType(*list, key, "an array");
    if (list->elements.empty())
      return fail(list, std::string("'") + key + "': expected at least one");
    for (size_t i = 0; i < list->elements.size(); ++i) {
      const Value &t = list->elements[i];
      where = std::string(key) + "[" + std::to_string(i) + "]";
      if (!t.isObject())
        return fail(&t, "expected an object {name, shape, dtype}");
      bool isOutput = std::strcmp(key, "outputs") == 0;
      if (isOutput ? !checkKeys(t, {"name", "tensor", "shape", "dtype"})
                   : !checkKeys(t, {"name", "shape", "dtype"}))
        return false;
      TensorSpec spec;
      std::string dtype;
      if (!readString(t, "name", spec.name) || !readString(t, "dtype", dtype))
        return false;
      if (spec.name.empty())
        return fail(t.find("name"), "'name': must not be empty");
      spec.tensor = spec.name;
      if (isOutput && !readString(t, "tensor", spec.tensor, false))
        return false;
      if (dtype != "f32")
        return fail(t.find("dtype"),
                    "'dtype': only 'f32' is supported, got '" + dtype + "'");
      const Value *shape = member(t, "shape", true);
      if (!shape)
        return false;
      if (!shape->isArray() || shape->elements.empty())
        return fail(shape, "'shape': expected a non-empty array of positive "
                           "integers");
      for (const Value &dim : shape->elements) {
        if (!dim.isNumber() || !dim.isInteger || dim.integer <= 0)
          return fail(&dim, "'shape': expected positive integers");
        spec.shape.push_back(dim.integer);
      }
      specs.push_back(std::move(spec));
    }
    where.clear();
    return true;
  }

  bool checkOutputs(const Value &root) {
    for (const TensorSpec &spec : out.outputs) {
      auto it = tensors.find(spec.tensor);
      if (it == tensors.end())
        return fail(root.find("outputs"),
                    "'outputs': no step produces '" + spec.tensor + "'");
      int64_t tokens = product(spec.shape, 0, spec.shape.size() - 1);
      if (spec.shape.back() != it->second.channels ||
          tokens != it->second.tokens)
        return fail(root.find("outputs"),
                    "'outputs': '" + spec.name + "' has shape " +
                        shapeString(spec.shape) + " but the steps produce " +
                        std::to_string(it->second.tokens) + " tokens x " +
                        std::to_string(it->second.channels) + " channels");
    }
    return true;
  }

  bool readOperand(const Value &step, const char *key, std::string &name,
                   TensorFacts &facts) {
    if (!readString(step, key, name))
      return false;
    auto it = tensors.find(name);
    if (it == tensors.end())
      return fail(step.find(key), std::string("'") + key + "': '" + name +
                                      "' is neither a model input nor the "
                                      "output of an earlier step");
    facts = it->second;
    return true;
  }

  bool readStep(const Value &v, size_t index, Step &step) {
    where = "step " + std::to_string(index);
    if (!v.isObject())
      return fail(&v, "expected an object");
    std::string op;
    if (!readString(v, "op", op) || !readString(v, "name", step.name, false))
      return false;
    if (!step.name.empty())
      where += " ('" + step.name + "')";
    TensorFacts in;
    if (op == "sparse_linear" || op == "dense_linear") {
      step.op =
          op == "sparse_linear" ? StepOp::SparseLinear : StepOp::DenseLinear;
      step.inputs.emplace_back();
      if (!readOperand(v, "input", step.inputs[0], in) ||
          !readInt(v, "rows", step.rows, 1) ||
          !readInt(v, "cols", step.cols, 1))
        return false;
      if (in.channels != step.cols)
        return fail(v.find("cols"), "'cols' is " + std::to_string(step.cols) +
                                        " but input '" + step.inputs[0] +
                                        "' has " + std::to_string(in.channels) +
                                        " channels");
      bool ok = step.op == StepOp::SparseLinear ? readSparse(v, step)
                                                : readDense(v, step);
      if (!ok)
        return false;
      return define(v, step, {in.tokens, step.rows});
    }
    if (op == "relu" || op == "gelu") {
      step.op = op == "relu" ? StepOp::Relu : StepOp::Gelu;
      if (!checkKeys(v, {"op", "name", "input", "output"}))
        return false;
      step.inputs.emplace_back();
      if (!readOperand(v, "input", step.inputs[0], in))
        return false;
      return define(v, step, in);
    }
    if (op == "add") {
      step.op = StepOp::Add;
      if (!checkKeys(v, {"op", "name", "inputs", "output"}))
        return false;
      return readAdd(v, step);
    }
    return fail(v.find("op"), "'op': unknown op '" + op +
                                  "' (expected sparse_linear, dense_linear, "
                                  "relu, gelu or add)");
  }

  bool readAdd(const Value &v, Step &step) {
    const Value *list = member(v, "inputs", true);
    if (!list)
      return false;
    if (!list->isArray() || list->elements.size() != 2)
      return fail(list, "'inputs': expected an array of two tensor names");
    TensorFacts facts[2];
    for (int i = 0; i < 2; ++i) {
      const Value &name = list->elements[i];
      if (!name.isString())
        return fail(&name, "'inputs': expected tensor names");
      auto it = tensors.find(name.string);
      if (it == tensors.end())
        return fail(&name, "'inputs': '" + name.string +
                               "' is neither a model input nor the output "
                               "of an earlier step");
      facts[i] = it->second;
      step.inputs.push_back(name.string);
    }
    if (facts[0].tokens != facts[1].tokens ||
        facts[0].channels != facts[1].channels)
      return fail(list, "'inputs': '" + step.inputs[0] + "' is " +
                            std::to_string(facts[0].tokens) + "x" +
                            std::to_string(facts[0].channels) + " but '" +
                            step.inputs[1] + "' is " +
                            std::to_string(facts[1].tokens) + "x" +
                            std::to_string(facts[1].channels));
    return define(v, step, facts[0]);
  }

  /// Names the step's output; names are defined once (SSA).
  bool define(const Value &v, Step &step, TensorFacts facts) {
    if (!readString(v, "output", step.output))
      return false;
    if (step.output.empty())
      return fail(v.find("output"), "'output': must not be empty");
    if (tensors.count(step.output))
      return fail(v.find("output"),
                  "'output': '" + step.output + "' is already defined");
    tensors[step.output] = facts;
    return true;
  }

  bool readDense(const Value &v, Step &step) {
    if (!checkKeys(v,
                   {"op", "name", "input", "output", "rows", "cols", "files"}))
      return false;
    const Value *files = member(v, "files", true);
    if (!files)
      return false;
    if (!files->isObject())
      return wrongType(*files, "files", "an object");
    if (!checkKeys(*files, {"weight", "bias"}))
      return false;
    std::string weightFile, biasFile;
    if (!readFileName(*files, "weight", weightFile, true) ||
        !readFileName(*files, "bias", biasFile, false))
      return false;
    NpyArray weight;
    if (!loadArray(files->find("weight"), "weight", weightFile, "<f4",
                   {step.rows, step.cols}, weight))
      return false;
    copyData(weight, step.weight);
    return readBias(*files, biasFile, step);
  }

  bool readBias(const Value &files, const std::string &biasFile, Step &step) {
    if (biasFile.empty())
      return true;
    NpyArray bias;
    if (!loadArray(files.find("bias"), "bias", biasFile, "<f4", {step.rows},
                   bias))
      return false;
    copyData(bias, step.bias);
    return true;
  }

  bool readSparse(const Value &v, Step &step) {
    if (!checkKeys(v, {"op",
                       "name",
                       "input",
                       "output",
                       "ptx",
                       "entry",
                       "format",
                       "rows",
                       "cols",
                       "value_type",
                       "activation",
                       "v",
                       "kept_width",
                       "rows_padded",
                       "tile_m",
                       "tile_n",
                       "threads",
                       "shared_bytes",
                       "dynamic_shared",
                       "files",
                       "small_max_tokens",
                       "small_tile_m",
                       "small_tile_n",
                       "small_threads",
                       "small_shared_bytes",
                       "mma",
                       "small_mma"}))
      return false;
    std::string format, valueType, activation;
    // Informational (which instruction each entry uses); checked when given.
    for (const char *key : {"mma", "small_mma"}) {
      std::string mma;
      if (!readString(v, key, mma, false))
        return false;
      if (!mma.empty() && mma != "mma.sp" && mma != "wgmma")
        return fail(v.find(key), std::string("'") + key +
                                     "': expected 'mma.sp' or 'wgmma', got '" +
                                     mma + "'");
    }
    if (!readFileName(v, "ptx", step.ptxFile, true) ||
        !readString(v, "entry", step.entry) ||
        !readString(v, "format", format) ||
        !readString(v, "value_type", valueType) ||
        !readString(v, "activation", activation))
      return false;
    if (step.entry.empty())
      return fail(v.find("entry"), "'entry': must not be empty");
    if (format != "hinm" && format != "nm24")
      return fail(v.find("format"),
                  "'format': expected 'hinm' or 'nm24', got '" + format + "'");
    step.hinm = format == "hinm";
    if (!cuda::parseValueType(valueType, step.valueType))
      return fail(v.find("value_type"), "'value_type': expected 'f16' or "
                                        "'bf16', got '" +
                                            valueType + "'");
    if (!cuda::parseActivation(activation, step.activation))
      return fail(v.find("activation"), "'activation': expected 'none', "
                                        "'relu' or 'gelu', got '" +
                                            activation + "'");
    if (!readInt(v, "v", step.v, 0, step.hinm) ||
        !readInt(v, "kept_width", step.keptWidth, 32) ||
        !readInt(v, "rows_padded", step.rowsPadded, 64) ||
        !readInt(v, "tile_m", step.tileM, 1) ||
        !readInt(v, "tile_n", step.tileN, 1) ||
        !readInt(v, "threads", step.threads, 1) ||
        !readInt(v, "shared_bytes", step.sharedBytes, 0) ||
        !readBool(v, "dynamic_shared", step.dynamicShared) ||
        !readInt(v, "small_max_tokens", step.smallMaxTokens, 0, false) ||
        !readInt(v, "small_tile_m", step.smallTileM, 0,
                 step.smallMaxTokens > 0) ||
        !readInt(v, "small_tile_n", step.smallTileN, 0,
                 step.smallMaxTokens > 0) ||
        !readInt(v, "small_threads", step.smallThreads, 0,
                 step.smallMaxTokens > 0) ||
        !readInt(v, "small_shared_bytes", step.smallSharedBytes, 0, false))
      return false;
    if (step.smallMaxTokens > 0 &&
        (step.smallTileM <= 0 || step.rowsPadded % step.smallTileM ||
         step.smallTileN <= 0 || step.smallThreads <= 0 ||
         step.smallThreads > 1024 || step.smallThreads % 32))
      return fail(v.find("small_max_tokens"),
                  "'small_*': the small-T variant needs tile_m dividing "
                  "rows_padded, tile_n > 0 and threads a multiple of 32");
    if (!checkSparseShape(v, step))
      return false;
    return readSparseFiles(v, step);
  }

  bool checkSparseShape(const Value &v, const Step &step) {
    auto bad = [&](const char *key, const std::string &cause) {
      return fail(v.find(key), std::string("'") + key + "': " + cause);
    };
    int64_t kRounded = (step.cols + 31) / 32 * 32;
    if (step.keptWidth % 32)
      return bad("kept_width", "must be a multiple of 32");
    if (!step.hinm && step.keptWidth != kRounded)
      return bad("kept_width", "a 2:4 layer keeps roundup(cols, 32) = " +
                                   std::to_string(kRounded) + " columns");
    if (step.keptWidth > kRounded)
      return bad("kept_width",
                 "exceeds roundup(cols, 32) = " + std::to_string(kRounded));
    if (step.rowsPadded < step.rows || step.rowsPadded % 64)
      return bad("rows_padded", "must be a multiple of 64 and >= rows");
    if (step.rowsPadded % step.tileM)
      return bad("rows_padded", "must be a multiple of tile_m");
    if (step.hinm && (step.v <= 0 || step.v % 64 || step.rowsPadded % step.v))
      return bad("v", "must be a positive multiple of 64 dividing rows_padded");
    if (step.rowsPadded / step.tileM > 65535)
      return bad("tile_m", "the grid would have more than 65535 rows of CTAs");
    if (step.threads > 1024 || step.threads % 32)
      return bad("threads", "must be a multiple of 32, at most 1024");
    if (step.sharedBytes > (1 << 30))
      return bad("shared_bytes", "is implausibly large");
    return true;
  }

  bool readSparseFiles(const Value &v, Step &step) {
    const Value *files = member(v, "files", true);
    if (!files)
      return false;
    if (!files->isObject())
      return wrongType(*files, "files", "an object");
    if (!checkKeys(*files, {"values", "meta", "col_idx", "bias"}))
      return false;
    std::string valuesFile, metaFile, colIdxFile, biasFile;
    if (!readFileName(*files, "values", valuesFile, true) ||
        !readFileName(*files, "meta", metaFile, true) ||
        !readFileName(*files, "col_idx", colIdxFile, step.hinm) ||
        !readFileName(*files, "bias", biasFile, false))
      return false;
    if (!step.hinm && !colIdxFile.empty())
      return fail(files->find("col_idx"),
                  "'col_idx': a 2:4 layer has no column indices");
    if (!readText(v.find("ptx"), step.ptxFile, step.ptx))
      return false;

    NpyArray values, meta;
    int64_t metaWords = step.rowsPadded / 64 * (step.keptWidth / 32) * 64;
    if (!loadArray(files->find("values"), "values", valuesFile, "<u2",
                   {step.rowsPadded, step.keptWidth / 2}, values) ||
        !loadArray(files->find("meta"), "meta", metaFile, "<u4", {metaWords},
                   meta))
      return false;
    copyData(values, step.values);
    copyData(meta, step.meta);
    if (step.hinm) {
      NpyArray colIdx;
      if (!loadArray(files->find("col_idx"), "col_idx", colIdxFile, "<u4",
                     {step.rowsPadded / step.v, step.keptWidth}, colIdx))
        return false;
      copyData(colIdx, step.colIdx);
      // The kernel gathers X rows by these indices without a bounds check.
      for (uint32_t c : step.colIdx)
        if (c >= uint64_t(step.cols))
          return fail(files->find("col_idx"),
                      "'col_idx': '" + colIdxFile + "' holds column " +
                          std::to_string(c) +
                          ", beyond cols = " + std::to_string(step.cols));
    }
    return readBias(*files, biasFile, step);
  }

  bool readText(const Value *at, const std::string &name, std::string &text) {
    std::ifstream in(directory + "/" + name, std::ios::binary);
    if (!in)
      return fail(at, "cannot open '" + directory + "/" + name + "'");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    return true;
  }

  bool loadArray(const Value *at, const char *field, const std::string &name,
                 const char *dtype, const std::vector<int64_t> &shape,
                 NpyArray &array) {
    std::string file = directory + "/" + name;
    if (std::string err = readNpy(file, array); !err.empty())
      return fail(at, std::string("'") + field + "': " + err);
    if (array.dtype != dtype || array.shape != shape)
      return fail(at, std::string("'") + field + "': '" + name +
                          "' must be dtype '" + dtype + "' shape " +
                          shapeString(shape) + ", got '" + array.dtype + "' " +
                          shapeString(array.shape));
    return true;
  }

  template <typename T>
  static void copyData(const NpyArray &array, std::vector<T> &out) {
    out.resize(array.data.size() / sizeof(T));
    if (!out.empty())
      std::memcpy(out.data(), array.data.data(), out.size() * sizeof(T));
  }
};

} // namespace

std::string loadArtifact(const std::string &directory, Artifact &out) {
  out = Artifact();
  out.directory = directory;
  return ManifestReader(directory, out).run();
}

} // namespace sparsec::rt
