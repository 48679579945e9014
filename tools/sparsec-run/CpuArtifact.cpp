//===- CpuArtifact.cpp - run sparsec CPU artifacts (host, neon) -----------===//
//
// A CPU artifact is model.so, exporting `_mlir_ciface_main(desc *...)` (one
// strided memref descriptor per input, then one per caller-allocated
// output) and, when the manifest names a workspace, an entry that takes one
// more descriptor (the arena of intermediates, i8, 64-byte aligned), and
// manifest.json naming its tensors and the runtime libraries (libomp) it
// needs (docs/CPUBackend.md).
//
//===----------------------------------------------------------------------===//
#include "CpuArtifact.h"

#include "sparsec/Runtime/Json.h"
#include "sparsec/Support/DynamicShapes.h"
#include "sparsec/Support/MemRefDescriptor.h"
#include "sparsec/Support/Npy.h"

#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <tuple>
#include <utility>

namespace sparsec::run {
namespace {

constexpr const char *kFormatName = "sparsec-cpu-artifact";
constexpr int64_t kFormatVersion = 2;
/// The most tensors `_mlir_ciface_main` may take (see callEntry).
constexpr size_t kMaxArguments = 64;

int error(const std::string &message) {
  std::fprintf(stderr, "sparsec-run: error: %s\n", message.c_str());
  return 1;
}

struct TensorInfo {
  std::string name, dtype;
  /// -1 (kRuntimeDim) for a dynamic dim: then `dynamic` holds its bounds and
  /// symbols (inputs) or how its size follows from the inputs' (outputs).
  std::vector<int64_t> shape;
  DynamicInput dynamicInput;
  DynamicOutput dynamicOutput;
};

struct CpuManifest {
  std::string target, triple, library, entry;
  /// The entry that takes the intermediates' arena from the caller, and
  /// the arena's size; empty and 0 for artifacts without one.
  std::string workspaceEntry;
  int64_t workspaceBytes = 0;
  std::vector<std::string> runtimeLibraries;
  std::vector<TensorInfo> inputs, outputs;
};

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s;
  for (int64_t d : shape)
    s += (s.empty() ? "" : "x") + (d == kRuntimeDim ? "?" : std::to_string(d));
  return s.empty() ? "scalar" : s;
}

std::string readString(const json::Value &root, const char *key,
                       std::string &out, bool required = true) {
  const json::Value *v = root.find(key);
  if (!v)
    return required ? std::string("missing '") + key + "'" : "";
  if (!v->isString())
    return std::string("'") + key + "' must be a string";
  out = v->string;
  return "";
}

std::string readTensors(const json::Value &root, const char *key,
                        std::vector<TensorInfo> &out) {
  const json::Value *list = root.find(key);
  if (!list || !list->isArray())
    return std::string("'") + key + "' must be an array";
  for (const json::Value &t : list->elements) {
    TensorInfo info;
    const json::Value *shape = t.find("shape");
    if (!t.isObject() || !readString(t, "name", info.name).empty() ||
        !readString(t, "dtype", info.dtype).empty() || !shape ||
        !shape->isArray())
      return std::string("each of '") + key +
             "' needs a name, a dtype and a shape";
    std::vector<int64_t> staticPart;
    for (const json::Value &d : shape->elements) {
      if (!d.isInteger || d.integer < kRuntimeDim)
        return std::string("'") + key + "': '" + info.name +
               "' has a dimension that is not a non-negative integer or -1";
      info.shape.push_back(d.integer);
      staticPart.push_back(d.integer == kRuntimeDim ? 1 : d.integer);
    }
    if (NpyArray::checkedNumElements(staticPart) < 0 ||
        NpyArray::elementSize(info.dtype) == 0)
      return std::string("'") + key + "': '" + info.name +
             "' has an unsupported dtype or too many elements";
    // Dynamic dims: integer arrays (checked again when the model runs).
    auto readInts = [&](const json::Value &v, std::vector<int64_t> &values) {
      if (!v.isArray())
        return false;
      for (const json::Value &e : v.elements) {
        if (!e.isInteger)
          return false;
        values.push_back(e.integer);
      }
      return true;
    };
    info.dynamicInput.shape = info.dynamicOutput.shape = info.shape;
    for (auto [field, values] :
         {std::pair{"bounds", &info.dynamicInput.bounds},
          std::pair{"symbols", &info.dynamicInput.symbols}})
      if (const json::Value *v = t.find(field); v && !readInts(*v, *values))
        return std::string("'") + key + "': '" + info.name + "': '" + field +
               "' must be an array of integers";
    if (const json::Value *dims = t.find("dims")) {
      if (!dims->isArray())
        return std::string("'") + key + "': '" + info.name +
               "': 'dims' must be an array of integer arrays";
      for (const json::Value &rule : dims->elements) {
        info.dynamicOutput.rules.emplace_back();
        if (!readInts(rule, info.dynamicOutput.rules.back()))
          return std::string("'") + key + "': '" + info.name +
                 "': 'dims' must be an array of integer arrays";
      }
    }
    out.push_back(std::move(info));
  }
  return "";
}

std::string loadManifest(const std::string &dir, CpuManifest &m) {
  json::Value root;
  std::string path = dir + "/manifest.json";
  if (std::string err = json::parseFile(path, root); !err.empty())
    return err;
  auto fail = [&](const std::string &why) { return path + ": " + why; };
  std::string format;
  if (std::string err = readString(root, "format", format); !err.empty())
    return fail(err);
  if (format != kFormatName)
    return fail("'format' is '" + format + "', not '" + kFormatName + "'");
  const json::Value *version = root.find("format_version");
  if (!version || !version->isInteger || version->integer != kFormatVersion)
    return fail("this sparsec-run reads format_version " +
                std::to_string(kFormatVersion));
  for (auto [key, out, required] : {std::tuple{"target", &m.target, true},
                                    std::tuple{"triple", &m.triple, true},
                                    std::tuple{"entry", &m.entry, true},
                                    std::tuple{"library", &m.library, false}})
    if (std::string err = readString(root, key, *out, required); !err.empty())
      return fail(err);
  if (m.library.empty())
    return fail("the artifact has no 'library' (no C compiler was found to "
                "link model.o when it was written): link model.o into "
                "model.so yourself, or write it again where one is installed");
  if (m.library.find('/') != std::string::npos)
    return fail("'library' must be a file name in the artifact directory");
  if (const json::Value *libs = root.find("runtime_libraries")) {
    if (!libs->isArray())
      return fail("'runtime_libraries' must be an array of strings");
    for (const json::Value &lib : libs->elements) {
      if (!lib.isString())
        return fail("'runtime_libraries' must be an array of strings");
      m.runtimeLibraries.push_back(lib.string);
    }
  }
  if (std::string err = readTensors(root, "inputs", m.inputs); !err.empty())
    return fail(err);
  if (std::string err = readTensors(root, "outputs", m.outputs); !err.empty())
    return fail(err);
  if (const json::Value *workspace = root.find("workspace")) {
    const json::Value *bytes =
        workspace->isObject() ? workspace->find("bytes") : nullptr;
    if (!bytes || !bytes->isInteger || bytes->integer < 1 ||
        bytes->integer > (int64_t(1) << 40))
      return fail("'workspace' must be an object with 'bytes' a whole number "
                  "from 1 to 2^40 and an 'entry'");
    if (std::string err = readString(*workspace, "entry", m.workspaceEntry);
        !err.empty())
      return fail("'workspace': " + err);
    m.workspaceBytes = bytes->integer;
  }
  if (m.inputs.size() + m.outputs.size() + (m.workspaceBytes > 0) >
      kMaxArguments)
    return fail("more than " + std::to_string(kMaxArguments) +
                " inputs and outputs");
  return "";
}

using EntryTable = std::array<void (*)(void *, void **), kMaxArguments + 1>;

/// Calls `fn` with `args[0..N)` as N pointer arguments.
template <size_t... I>
void callWith(void *fn, void **args, std::index_sequence<I...>) {
  using Fn = void (*)(decltype((void)I, static_cast<void *>(nullptr))...);
  reinterpret_cast<Fn>(fn)(args[I]...);
}

template <size_t... N>
constexpr EntryTable makeEntryTable(std::index_sequence<N...>) {
  return {{[](void *fn, void **args) {
    callWith(fn, args, std::make_index_sequence<N>());
  }...}};
}

void callEntry(void *fn, std::vector<void *> &args) {
  static constexpr EntryTable table =
      makeEntryTable(std::make_index_sequence<kMaxArguments + 1>());
  table[args.size()](fn, args.data());
}

/// A fixed pseudo-random fill in [-1, 1) (timing runs without inputs).
void fillPseudoRandom(NpyArray &array) {
  uint32_t state = 12345;
  auto *values = reinterpret_cast<float *>(array.data.data());
  for (int64_t i = 0, e = array.numElements(); i < e; ++i) {
    state = state * 1664525u + 1013904223u;
    values[i] = float(state >> 8) / float(1u << 23) - 1.0f;
  }
}

std::string loadLibraries(const std::string &dir, const CpuManifest &m,
                          void *&library) {
  for (const std::string &lib : m.runtimeLibraries) {
    // An absolute path from the compiling machine may not exist here: then
    // the library's own name, through the loader's search path.
    std::string name = lib;
    if (lib.front() == '/' && !std::filesystem::exists(lib))
      name = std::filesystem::path(lib).filename().string();
    if (!dlopen(name.c_str(), RTLD_NOW | RTLD_GLOBAL))
      return "cannot load the runtime library '" + name + "': " + dlerror();
  }
  std::string path = std::filesystem::absolute(dir + "/" + m.library).string();
  library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library)
    return std::string("cannot load the model: ") + dlerror();
  return "";
}

void printTiming(std::vector<double> ms, int threads) {
  std::sort(ms.begin(), ms.end());
  size_t n = ms.size();
  double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  auto quantile = [&](double q) { return ms[size_t(q * double(n - 1))]; };
  std::string threadText =
      threads ? std::to_string(threads) : std::string("default");
  std::printf("runs %zu, threads %s: median %.4f ms, min %.4f, p10 %.4f, "
              "p90 %.4f, max %.4f, spread (p90-p10)/median %.1f %%\n",
              n, threadText.c_str(), median, ms.front(), quantile(0.1),
              quantile(0.9), ms.back(),
              median > 0 ? 100 * (quantile(0.9) - quantile(0.1)) / median : 0);
}

} // namespace

bool isCpuArtifact(const std::string &dir) {
  json::Value root;
  if (!json::parseFile(dir + "/manifest.json", root).empty())
    return false;
  const json::Value *format = root.find("format");
  return format && format->isString() && format->string == kFormatName;
}

int listCpuArtifact(const std::string &dir) {
  CpuManifest m;
  if (std::string err = loadManifest(dir, m); !err.empty())
    return error(err);
  std::printf("artifact %s (%s, %s)\n", dir.c_str(), m.target.c_str(),
              m.triple.c_str());
  for (const TensorInfo &t : m.inputs)
    std::printf("  input  %s: %s %s\n", t.name.c_str(), t.dtype.c_str(),
                shapeString(t.shape).c_str());
  for (const TensorInfo &t : m.outputs)
    std::printf("  output %s: %s %s\n", t.name.c_str(), t.dtype.c_str(),
                shapeString(t.shape).c_str());
  if (m.workspaceBytes > 0)
    std::printf("  workspace %lld bytes (the intermediates' arena, allocated "
                "once by sparsec-run; entry %s)\n",
                (long long)m.workspaceBytes, m.workspaceEntry.c_str());
  return 0;
}

int runCpuArtifact(const CpuRunOptions &options) {
  CpuManifest m;
  if (std::string err = loadManifest(options.artifact, m); !err.empty())
    return error(err);
  std::vector<NpyArray> inputs(m.inputs.size());
  std::vector<DynamicInput> dynamicInputs;
  std::vector<std::string> names;
  for (const TensorInfo &t : m.inputs) {
    dynamicInputs.push_back(t.dynamicInput);
    names.push_back(t.name);
  }
  if (options.inputs.empty() && options.repeat > 0) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      inputs[i].dtype = m.inputs[i].dtype;
      inputs[i].shape = m.inputs[i].shape;
      // A timing run without inputs: dynamic dims at their upper bound.
      for (size_t d = 0; d < inputs[i].shape.size(); ++d) {
        if (inputs[i].shape[d] != kRuntimeDim)
          continue;
        const std::vector<int64_t> &bounds = m.inputs[i].dynamicInput.bounds;
        if (bounds.size() != 2 * inputs[i].shape.size() ||
            bounds[2 * d + 1] > (int64_t(1) << 20))
          return error("input '" + m.inputs[i].name +
                       "' has an unbounded dynamic dimension: give the "
                       "inputs to time (--input)");
        inputs[i].shape[d] = bounds[2 * d + 1];
      }
      inputs[i].data.assign(
          inputs[i].numElements() * NpyArray::elementSize(inputs[i].dtype), 0);
      if (inputs[i].dtype == "<f4")
        fillPseudoRandom(inputs[i]);
    }
  } else {
    if (options.inputs.size() != m.inputs.size())
      return error("the model takes " + std::to_string(m.inputs.size()) +
                   " input(s), " + std::to_string(options.inputs.size()) +
                   " given");
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (std::string err = readNpy(options.inputs[i], inputs[i]); !err.empty())
        return error(err);
      // The static dims here; bounds and symbols below, over all inputs.
      DynamicInput staticDims{m.inputs[i].shape, {}, {}};
      if (inputs[i].dtype != m.inputs[i].dtype ||
          !checkInputShapes({staticDims}, {inputs[i].shape}).empty())
        return error(options.inputs[i] + ": input '" + m.inputs[i].name +
                     "' must be " + m.inputs[i].dtype + " " +
                     shapeString(m.inputs[i].shape) + ", got " +
                     inputs[i].dtype + " " + shapeString(inputs[i].shape));
    }
  }
  // Bounds of dynamic dims, and dims the model names alike.
  std::vector<std::vector<int64_t>> inputShapes;
  for (const NpyArray &in : inputs)
    inputShapes.push_back(in.shape);
  if (std::string err = checkInputShapes(dynamicInputs, inputShapes, names);
      !err.empty())
    return error(err);
  std::vector<NpyArray> outputs(m.outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    outputs[i].dtype = m.outputs[i].dtype;
    if (std::string err = outputShape(m.outputs[i].dynamicOutput, inputShapes,
                                      outputs[i].shape);
        !err.empty())
      return error("output '" + m.outputs[i].name + "': " + err);
    outputs[i].data.assign(
        outputs[i].numElements() * NpyArray::elementSize(outputs[i].dtype), 0);
  }

  if (options.retainMemory) {
    // What the generated code still mallocs on every call (the buffers the
    // memory plan leaves out; the whole arena for an artifact without a
    // workspace entry): served from the heap (mmap's largest default
    // threshold) and not trimmed back, it stays mapped for the next call.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  }
  void *library = nullptr;
  if (std::string err = loadLibraries(options.artifact, m, library);
      !err.empty())
    return error(err);
  // With a workspace entry the arena of intermediates is allocated once,
  // here, not on every call.
  const std::string &entryName =
      m.workspaceEntry.empty() ? m.entry : m.workspaceEntry;
  void *entry = dlsym(library, entryName.c_str());
  if (!entry)
    return error("the model has no '" + entryName + "'");
  if (options.threads > 0) {
    auto setThreads = reinterpret_cast<void (*)(int)>(
        dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    if (!setThreads)
      return error("--threads: no OpenMP runtime is loaded");
    setThreads(options.threads);
  }

  // The callee may not write its inputs, but descriptors hold void*.
  std::vector<std::vector<int64_t>> descriptors;
  for (NpyArray &in : inputs)
    descriptors.push_back(makeMemRefDescriptor(in.data.data(), in.shape));
  for (NpyArray &out : outputs)
    descriptors.push_back(makeMemRefDescriptor(out.data.data(), out.shape));
  std::vector<char> arena;
  if (m.workspaceBytes > 0) {
    // 64 bytes of slack give the arena its 64-byte alignment.
    arena.assign(size_t(m.workspaceBytes) + 64, 0);
    auto address = reinterpret_cast<uintptr_t>(arena.data());
    auto *aligned = reinterpret_cast<void *>((address + 63) & ~uintptr_t(63));
    descriptors.push_back(
        makeMemRefDescriptor(aligned, std::vector<int64_t>{m.workspaceBytes}));
  }
  std::vector<void *> args;
  for (std::vector<int64_t> &d : descriptors)
    args.push_back(d.data());

  callEntry(entry, args);
  if (options.repeat > 0) {
    std::vector<double> ms;
    for (int r = 0; r < options.repeat; ++r) {
      auto start = std::chrono::steady_clock::now();
      callEntry(entry, args);
      std::chrono::duration<double, std::milli> elapsed =
          std::chrono::steady_clock::now() - start;
      ms.push_back(elapsed.count());
    }
    printTiming(ms, options.threads);
  }
  if (!options.outputDir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options.outputDir, ec);
    if (ec)
      return error("cannot create '" + options.outputDir +
                   "': " + ec.message());
    for (size_t i = 0; i < outputs.size(); ++i) {
      std::string path =
          options.outputDir + "/output_" + std::to_string(i) + ".npy";
      if (std::string err = writeNpy(path, outputs[i]); !err.empty())
        return error(err);
    }
  }
  return 0;
}

} // namespace sparsec::run
