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

#include "sparsec/Runtime/ArtifactFormat.h"
#include "sparsec/Runtime/Json.h"
#include "sparsec/Support/Npy.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>

namespace sparsec::rt {

using namespace artifact;

const char *stepOpName(StepOp kind) {
  switch (kind) {
  case StepOp::SparseLinear:
    return op::kSparseLinear;
  case StepOp::DenseLinear:
    return op::kDenseLinear;
  case StepOp::Relu:
    return op::kRelu;
  case StepOp::Gelu:
    return op::kGelu;
  case StepOp::Add:
    return op::kAdd;
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

/// Every size in a manifest is at most this (the kernels index with 32-bit
/// integers), so that no product of a few of them overflows int64_t.
constexpr int64_t kMaxSize = INT32_MAX;
/// Elements of any tensor; keeps byte counts far from overflowing.
constexpr int64_t kMaxElements = int64_t(1) << 48;

/// Product of dims[begin, end); the dimensions are checked by readTensors.
int64_t product(const std::vector<int64_t> &dims, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end; ++i)
    n *= dims[i];
  return n;
}

/// Whether `path` names a regular file (after symbolic links): a FIFO or a
/// device in an artifact would hang or never end a read.
bool isRegularFile(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
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
    if (!isRegularFile(path))
      return "cannot open '" + path + "': not a regular file";
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
      for (const char *field : keys)
        known |= member.first == field;
      if (known)
        continue;
      std::string list;
      for (const char *field : keys)
        list += std::string(list.empty() ? "" : ", ") + field;
      return fail(&member.second,
                  "unknown key '" + member.first + "' (expected " + list + ")");
    }
    return true;
  }

  const Value *member(const Value &object, const char *field, bool required) {
    const Value *v = object.find(field);
    if (!v && required)
      fail(&object, std::string("missing key '") + field + "'");
    return v;
  }

  bool wrongType(const Value &v, const char *field, const char *expected) {
    return fail(&v, std::string("'") + field + "': expected " + expected +
                        ", got " + Value::kindName(v.kind));
  }

  bool readString(const Value &object, const char *field, std::string &s,
                  bool required = true) {
    const Value *v = member(object, field, required);
    if (!v)
      return !required;
    if (!v->isString())
      return wrongType(*v, field, "a string");
    s = v->string;
    return true;
  }

  bool readInt(const Value &object, const char *field, int64_t &n, int64_t min,
               bool required = true) {
    const Value *v = member(object, field, required);
    if (!v)
      return !required;
    if (!v->isNumber() || !v->isInteger)
      return wrongType(*v, field, "an integer");
    if (v->integer < min || v->integer > kMaxSize)
      return fail(v, std::string("'") + field + "': expected an integer " +
                         (v->integer < min ? ">= " + std::to_string(min)
                                           : "<= " + std::to_string(kMaxSize)) +
                         ", got " + std::to_string(v->integer));
    n = v->integer;
    return true;
  }

  bool readBool(const Value &object, const char *field, bool &b) {
    const Value *v = member(object, field, false);
    if (!v)
      return true;
    if (!v->isBool())
      return wrongType(*v, field, "a boolean");
    b = v->boolean;
    return true;
  }

  bool readFileName(const Value &files, const char *field, std::string &name,
                    bool required) {
    if (!readString(files, field, name, required))
      return false;
    if (name.empty() && !required)
      return true;
    if (!isPlainFileName(name))
      return fail(files.find(field),
                  std::string("'") + field + "': '" + name +
                      "' must be a plain file name inside the artifact "
                      "directory");
    return true;
  }

  bool readRoot(const Value &root) {
    if (!root.isObject())
      return fail(&root, "expected a JSON object at the top level");
    // Format and version first: a newer artifact may have keys this runtime
    // does not know, and the version says so more clearly.
    std::string format;
    int64_t version = 0;
    if (!readString(root, key::kFormat, format))
      return false;
    if (format != kFormatName)
      return fail(root.find(key::kFormat),
                  std::string("'format': expected '") + kFormatName +
                      "', got '" + format + "'; not a sparsec CUDA artifact");
    if (!readInt(root, key::kFormatVersion, version, 0))
      return false;
    if (version != kCurrentVersion)
      return fail(root.find(key::kFormatVersion),
                  "'format_version': this runtime reads version " +
                      std::to_string(kCurrentVersion) + ", got " +
                      std::to_string(version) +
                      "; recompile the model with a matching sparsec or use "
                      "a matching runtime");
    if (!checkKeys(root, {key::kFormat, key::kFormatVersion, key::kArch,
                          key::kInputs, key::kOutputs, key::kSteps}))
      return false;
    if (!readString(root, key::kArch, out.arch))
      return false;
    cuda::Arch arch;
    if (!cuda::parseArch(out.arch, arch))
      return fail(root.find(key::kArch),
                  "'arch': expected 'sm_80' or 'sm_90a', "
                  "got '" +
                      out.arch + "'");
    if (!readTensors(root, key::kInputs, out.inputs))
      return false;
    for (const TensorSpec &spec : out.inputs) {
      if (tensors.count(spec.name))
        return fail(root.find(key::kInputs),
                    "'inputs': duplicate name '" + spec.name + "'");
      tensors[spec.name] = {product(spec.shape, 0, spec.shape.size() - 1),
                            spec.shape.back()};
    }
    if (!readTensors(root, key::kOutputs, out.outputs))
      return false;
    const Value *steps = member(root, key::kSteps, true);
    if (!steps)
      return false;
    if (!steps->isArray())
      return wrongType(*steps, key::kSteps, "an array");
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

  bool readTensors(const Value &root, const char *field,
                   std::vector<TensorSpec> &specs) {
    const Value *list = member(root, field, true);
    if (!list)
      return false;
    if (!list->isArray())
      return wrongType(*list, field, "an array");
    if (list->elements.empty())
      return fail(list, std::string("'") + field + "': expected at least one");
    for (size_t i = 0; i < list->elements.size(); ++i) {
      const Value &t = list->elements[i];
      where = std::string(field) + "[" + std::to_string(i) + "]";
      if (!t.isObject())
        return fail(&t, "expected an object {name, shape, dtype}");
      bool isOutput = std::strcmp(field, key::kOutputs) == 0;
      if (isOutput ? !checkKeys(t, {key::kName, key::kTensor, key::kShape,
                                    key::kDtype})
                   : !checkKeys(t, {key::kName, key::kShape, key::kDtype}))
        return false;
      TensorSpec spec;
      std::string dtype;
      if (!readString(t, key::kName, spec.name) ||
          !readString(t, key::kDtype, dtype))
        return false;
      if (spec.name.empty())
        return fail(t.find(key::kName), "'name': must not be empty");
      spec.tensor = spec.name;
      if (isOutput && !readString(t, key::kTensor, spec.tensor, false))
        return false;
      if (dtype != kDtypeF32)
        return fail(t.find(key::kDtype),
                    "'dtype': only 'f32' is supported, got '" + dtype + "'");
      const Value *shape = member(t, key::kShape, true);
      if (!shape)
        return false;
      if (!shape->isArray() || shape->elements.empty())
        return fail(shape, "'shape': expected a non-empty array of positive "
                           "integers");
      for (const Value &dim : shape->elements) {
        if (!dim.isNumber() || !dim.isInteger || dim.integer <= 0 ||
            dim.integer > kMaxSize)
          return fail(&dim, "'shape': expected positive integers at most " +
                                std::to_string(kMaxSize));
        spec.shape.push_back(dim.integer);
      }
      int64_t elements = NpyArray::checkedNumElements(spec.shape);
      if (elements < 0 || elements > kMaxElements)
        return fail(shape, "'shape': " + shapeString(spec.shape) +
                               " has more than 2^48 elements");
      specs.push_back(std::move(spec));
    }
    where.clear();
    return true;
  }

  bool checkOutputs(const Value &root) {
    for (const TensorSpec &spec : out.outputs) {
      auto it = tensors.find(spec.tensor);
      if (it == tensors.end())
        return fail(root.find(key::kOutputs),
                    "'outputs': no step produces '" + spec.tensor + "'");
      int64_t tokens = product(spec.shape, 0, spec.shape.size() - 1);
      if (spec.shape.back() != it->second.channels ||
          tokens != it->second.tokens)
        return fail(root.find(key::kOutputs),
                    "'outputs': '" + spec.name + "' has shape " +
                        shapeString(spec.shape) + " but the steps produce " +
                        std::to_string(it->second.tokens) + " tokens x " +
                        std::to_string(it->second.channels) + " channels");
    }
    return true;
  }

  bool readOperand(const Value &step, const char *field, std::string &name,
                   TensorFacts &facts) {
    if (!readString(step, field, name))
      return false;
    auto it = tensors.find(name);
    if (it == tensors.end())
      return fail(step.find(field), std::string("'") + field + "': '" + name +
                                        "' is neither a model input nor the "
                                        "output of an earlier step");
    facts = it->second;
    return true;
  }

  bool readStep(const Value &v, size_t index, Step &step) {
    where = "step " + std::to_string(index);
    if (!v.isObject())
      return fail(&v, "expected an object");
    std::string opName;
    if (!readString(v, key::kOp, opName) ||
        !readString(v, key::kName, step.name, false))
      return false;
    if (!step.name.empty())
      where += " ('" + step.name + "')";
    TensorFacts in;
    if (opName == op::kSparseLinear || opName == op::kDenseLinear) {
      step.op = opName == op::kSparseLinear ? StepOp::SparseLinear
                                            : StepOp::DenseLinear;
      step.inputs.emplace_back();
      if (!readOperand(v, key::kInput, step.inputs[0], in) ||
          !readInt(v, key::kRows, step.rows, 1) ||
          !readInt(v, key::kCols, step.cols, 1))
        return false;
      if (in.channels != step.cols)
        return fail(v.find(key::kCols),
                    "'cols' is " + std::to_string(step.cols) + " but input '" +
                        step.inputs[0] + "' has " +
                        std::to_string(in.channels) + " channels");
      bool ok = step.op == StepOp::SparseLinear ? readSparse(v, step)
                                                : readDense(v, step);
      if (!ok)
        return false;
      return define(v, step, {in.tokens, step.rows});
    }
    if (opName == op::kRelu || opName == op::kGelu) {
      step.op = opName == op::kRelu ? StepOp::Relu : StepOp::Gelu;
      if (!checkKeys(v, {key::kOp, key::kName, key::kInput, key::kOutput}))
        return false;
      step.inputs.emplace_back();
      if (!readOperand(v, key::kInput, step.inputs[0], in))
        return false;
      return define(v, step, in);
    }
    if (opName == op::kAdd) {
      step.op = StepOp::Add;
      if (!checkKeys(v, {key::kOp, key::kName, key::kInputs, key::kOutput}))
        return false;
      return readAdd(v, step);
    }
    return fail(v.find(key::kOp),
                "'op': unknown op '" + opName +
                    "' (expected sparse_linear, dense_linear, "
                    "relu, gelu or add)");
  }

  bool readAdd(const Value &v, Step &step) {
    const Value *list = member(v, key::kInputs, true);
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
    if (!readString(v, key::kOutput, step.output))
      return false;
    if (step.output.empty())
      return fail(v.find(key::kOutput), "'output': must not be empty");
    if (tensors.count(step.output))
      return fail(v.find(key::kOutput),
                  "'output': '" + step.output + "' is already defined");
    tensors[step.output] = facts;
    return true;
  }

  bool readDense(const Value &v, Step &step) {
    if (!checkKeys(v, {key::kOp, key::kName, key::kInput, key::kOutput,
                       key::kRows, key::kCols, key::kFiles}))
      return false;
    const Value *files = member(v, key::kFiles, true);
    if (!files)
      return false;
    if (!files->isObject())
      return wrongType(*files, key::kFiles, "an object");
    if (!checkKeys(*files, {file::kWeight, file::kBias}))
      return false;
    std::string weightFile, biasFile;
    if (!readFileName(*files, file::kWeight, weightFile, true) ||
        !readFileName(*files, file::kBias, biasFile, false))
      return false;
    NpyArray weight;
    if (!loadArray(files->find(file::kWeight), file::kWeight, weightFile, "<f4",
                   {step.rows, step.cols}, weight))
      return false;
    copyData(weight, step.weight);
    return readBias(*files, biasFile, step);
  }

  bool readBias(const Value &files, const std::string &biasFile, Step &step) {
    if (biasFile.empty())
      return true;
    NpyArray bias;
    if (!loadArray(files.find(file::kBias), file::kBias, biasFile, "<f4",
                   {step.rows}, bias))
      return false;
    copyData(bias, step.bias);
    return true;
  }

  bool readSparse(const Value &v, Step &step) {
    if (!checkKeys(v, {key::kOp,
                       key::kName,
                       key::kInput,
                       key::kOutput,
                       key::kPtx,
                       key::kEntry,
                       key::kFormat,
                       key::kRows,
                       key::kCols,
                       key::kValueType,
                       key::kActivation,
                       key::kV,
                       key::kKeptWidth,
                       key::kRowsPadded,
                       key::kTileM,
                       key::kTileN,
                       key::kThreads,
                       key::kSharedBytes,
                       key::kDynamicShared,
                       key::kFiles,
                       key::kSmallMaxTokens,
                       key::kSmallTileM,
                       key::kSmallTileN,
                       key::kSmallThreads,
                       key::kSmallSharedBytes,
                       key::kMma,
                       key::kSmallMma}))
      return false;
    std::string format, valueType, activation;
    // Informational (which instruction each entry uses); checked when given.
    for (const char *field : {key::kMma, key::kSmallMma}) {
      std::string mma;
      if (!readString(v, field, mma, false))
        return false;
      if (!mma.empty() && mma != kMmaSp && mma != kMmaWgmma)
        return fail(v.find(field),
                    std::string("'") + field +
                        "': expected 'mma.sp' or 'wgmma', got '" + mma + "'");
    }
    if (!readFileName(v, key::kPtx, step.ptxFile, true) ||
        !readString(v, key::kEntry, step.entry) ||
        !readString(v, key::kFormat, format) ||
        !readString(v, key::kValueType, valueType) ||
        !readString(v, key::kActivation, activation))
      return false;
    if (step.entry.empty())
      return fail(v.find(key::kEntry), "'entry': must not be empty");
    if (format != kFormatHinm && format != kFormatNm24)
      return fail(v.find(key::kFormat),
                  "'format': expected 'hinm' or 'nm24', got '" + format + "'");
    step.hinm = format == kFormatHinm;
    if (!cuda::parseValueType(valueType, step.valueType))
      return fail(v.find(key::kValueType), "'value_type': expected 'f16' or "
                                           "'bf16', got '" +
                                               valueType + "'");
    if (!cuda::parseActivation(activation, step.activation))
      return fail(v.find(key::kActivation), "'activation': expected 'none', "
                                            "'relu' or 'gelu', got '" +
                                                activation + "'");
    if (!readInt(v, key::kV, step.v, 0, step.hinm) ||
        !readInt(v, key::kKeptWidth, step.keptWidth, 32) ||
        !readInt(v, key::kRowsPadded, step.rowsPadded, 64) ||
        !readInt(v, key::kTileM, step.tileM, 1) ||
        !readInt(v, key::kTileN, step.tileN, 1) ||
        !readInt(v, key::kThreads, step.threads, 1) ||
        !readInt(v, key::kSharedBytes, step.sharedBytes, 0) ||
        !readBool(v, key::kDynamicShared, step.dynamicShared) ||
        !readInt(v, key::kSmallMaxTokens, step.smallMaxTokens, 0, false) ||
        !readInt(v, key::kSmallTileM, step.smallTileM, 0,
                 step.smallMaxTokens > 0) ||
        !readInt(v, key::kSmallTileN, step.smallTileN, 0,
                 step.smallMaxTokens > 0) ||
        !readInt(v, key::kSmallThreads, step.smallThreads, 0,
                 step.smallMaxTokens > 0) ||
        !readInt(v, key::kSmallSharedBytes, step.smallSharedBytes, 0, false))
      return false;
    if (step.smallMaxTokens > 0 &&
        (step.smallTileM <= 0 || step.rowsPadded % step.smallTileM ||
         step.smallTileN <= 0 || step.smallThreads <= 0 ||
         step.smallThreads > 1024 || step.smallThreads % 32))
      return fail(v.find(key::kSmallMaxTokens),
                  "'small_*': the small-T variant needs tile_m dividing "
                  "rows_padded, tile_n > 0 and threads a multiple of 32");
    if (!checkSparseShape(v, step))
      return false;
    return readSparseFiles(v, step);
  }

  bool checkSparseShape(const Value &v, const Step &step) {
    auto bad = [&](const char *field, const std::string &cause) {
      return fail(v.find(field), std::string("'") + field + "': " + cause);
    };
    int64_t kRounded = (step.cols + 31) / 32 * 32;
    if (step.keptWidth % 32)
      return bad(key::kKeptWidth, "must be a multiple of 32");
    if (!step.hinm && step.keptWidth != kRounded)
      return bad(key::kKeptWidth, "a 2:4 layer keeps roundup(cols, 32) = " +
                                      std::to_string(kRounded) + " columns");
    if (step.keptWidth > kRounded)
      return bad(key::kKeptWidth,
                 "exceeds roundup(cols, 32) = " + std::to_string(kRounded));
    if (step.rowsPadded < step.rows || step.rowsPadded % 64)
      return bad(key::kRowsPadded, "must be a multiple of 64 and >= rows");
    if (step.rowsPadded % step.tileM)
      return bad(key::kRowsPadded, "must be a multiple of tile_m");
    if (step.hinm && (step.v <= 0 || step.v % 64 || step.rowsPadded % step.v))
      return bad(key::kV,
                 "must be a positive multiple of 64 dividing rows_padded");
    if (step.rowsPadded / step.tileM > 65535)
      return bad(key::kTileM,
                 "the grid would have more than 65535 rows of CTAs");
    if (step.threads > 1024 || step.threads % 32)
      return bad(key::kThreads, "must be a multiple of 32, at most 1024");
    if (step.sharedBytes > (1 << 30))
      return bad(key::kSharedBytes, "is implausibly large");
    return true;
  }

  bool readSparseFiles(const Value &v, Step &step) {
    const Value *files = member(v, key::kFiles, true);
    if (!files)
      return false;
    if (!files->isObject())
      return wrongType(*files, key::kFiles, "an object");
    if (!checkKeys(*files,
                   {file::kValues, file::kMeta, file::kColIdx, file::kBias}))
      return false;
    std::string valuesFile, metaFile, colIdxFile, biasFile;
    if (!readFileName(*files, file::kValues, valuesFile, true) ||
        !readFileName(*files, file::kMeta, metaFile, true) ||
        !readFileName(*files, file::kColIdx, colIdxFile, step.hinm) ||
        !readFileName(*files, file::kBias, biasFile, false))
      return false;
    if (!step.hinm && !colIdxFile.empty())
      return fail(files->find(file::kColIdx),
                  "'col_idx': a 2:4 layer has no column indices");
    if (!readText(v.find(key::kPtx), step.ptxFile, step.ptx))
      return false;

    NpyArray values, meta;
    int64_t metaWords = step.rowsPadded / 64 * (step.keptWidth / 32) * 64;
    if (!loadArray(files->find(file::kValues), file::kValues, valuesFile, "<u2",
                   {step.rowsPadded, step.keptWidth / 2}, values) ||
        !loadArray(files->find(file::kMeta), file::kMeta, metaFile, "<u4",
                   {metaWords}, meta))
      return false;
    copyData(values, step.values);
    copyData(meta, step.meta);
    if (step.hinm) {
      NpyArray colIdx;
      if (!loadArray(files->find(file::kColIdx), file::kColIdx, colIdxFile,
                     "<u4", {step.rowsPadded / step.v, step.keptWidth}, colIdx))
        return false;
      copyData(colIdx, step.colIdx);
      // The kernel gathers X rows by these indices without a bounds check.
      for (uint32_t c : step.colIdx)
        if (c >= uint64_t(step.cols))
          return fail(files->find(file::kColIdx),
                      "'col_idx': '" + colIdxFile + "' holds column " +
                          std::to_string(c) +
                          ", beyond cols = " + std::to_string(step.cols));
    }
    return readBias(*files, biasFile, step);
  }

  bool readText(const Value *at, const std::string &name, std::string &text) {
    std::string file = directory + "/" + name;
    if (!isRegularFile(file))
      return fail(at, "cannot open '" + file + "': not a regular file");
    std::ifstream in(file, std::ios::binary);
    if (!in)
      return fail(at, "cannot open '" + file + "'");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
    return true;
  }

  bool loadArray(const Value *at, const char *field, const std::string &name,
                 const char *dtype, const std::vector<int64_t> &shape,
                 NpyArray &array) {
    std::string file = directory + "/" + name;
    if (!isRegularFile(file))
      return fail(at, std::string("'") + field + "': cannot open '" + file +
                          "': not a regular file");
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
