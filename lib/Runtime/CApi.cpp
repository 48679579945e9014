//===- CApi.cpp - C API of the sparsec CUDA runtime -----------------------===//
//
// A thin layer over Device/GeneratedLayer/Model: argument checks, the options
// string, error codes and the per-thread message. No C++ exception may cross
// into C (Python's ctypes would abort), so every entry point catches.
//
//===----------------------------------------------------------------------===//
#include "sparsec-c/Runtime.h"

#include "sparsec/Runtime/Executor.h"

#include <exception>
#include <new>
#include <set>

using namespace sparsec;
using namespace sparsec::rt;

struct sparsec_rt_device_s {
  std::shared_ptr<Device> device;
};
struct sparsec_rt_layer_s {
  std::unique_ptr<GeneratedLayer> layer;
};
struct sparsec_rt_model_s {
  std::unique_ptr<Model> model;
};

namespace {

thread_local std::string lastError;

enum Code { kOk = 0, kError = 1, kBadArgument = 2 };

int fail(const std::string &message, int code = kError) {
  lastError = message;
  return code;
}

int result(const std::string &error) {
  if (error.empty()) {
    lastError.clear();
    return kOk;
  }
  return fail(error);
}

/// Runs `body`, turning escaping exceptions into error codes.
template <typename Fn> int guarded(Fn &&body) {
  try {
    return body();
  } catch (const std::bad_alloc &) {
    return fail("out of host memory");
  } catch (const std::exception &e) {
    return fail(std::string("internal error: ") + e.what());
  } catch (...) {
    return fail("internal error");
  }
}

bool parseCount(const std::string &text, int64_t &out) {
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = std::stoll(text);
  return true;
}

/// "format=hinm,arch=sm_80,..." into `config` (defaults for absent keys).
std::string parseOptions(const char *options,
                         cuda::LinearKernelConfig &config) {
  config = cuda::LinearKernelConfig();
  config.hinm = true;
  config.v = 64;
  std::string text = options ? options : "";
  std::set<std::string> seen;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos)
      end = text.size();
    std::string item = text.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty())
      continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos)
      return "option '" + item + "' is not key=value";
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (!seen.insert(key).second)
      return "option '" + key + "' given twice";
    bool ok = true;
    if (key == "format") {
      ok = value == "hinm" || value == "nm24";
      config.hinm = value == "hinm";
    } else if (key == "arch") {
      ok = cuda::parseArch(value, config.arch);
    } else if (key == "dtype") {
      ok = cuda::parseValueType(value, config.valueType);
    } else if (key == "act") {
      ok = cuda::parseActivation(value, config.activation);
    } else if (key == "v") {
      ok = parseCount(value, config.v);
    } else if (key == "tile_n") {
      ok = parseCount(value, config.tileN);
    } else if (key == "tile_m") {
      ok = parseCount(value, config.tileM);
    } else if (key == "stages") {
      ok = parseCount(value, config.stages);
    } else if (key == "wgmma") {
      ok = cuda::parseWgmmaMode(value, config.wgmma);
    } else if (key == "name") {
      ok = !value.empty();
      config.name = value;
    } else {
      return "unknown option '" + key +
             "' (expected format, arch, dtype, act, v, tile_n, tile_m, "
             "stages, wgmma, name)";
    }
    if (!ok)
      return "option " + key + ": invalid value '" + value + "'";
  }
  return "";
}

} // namespace

extern "C" {

const char *sparsec_rt_last_error(void) { return lastError.c_str(); }

int sparsec_rt_device_create(const char *kind, sparsec_rt_device *out) {
  return guarded([&] {
    if (!kind || !out)
      return fail("null argument", kBadArgument);
    *out = nullptr;
    std::unique_ptr<Device> device;
    if (std::string err = createDevice(kind, device); !err.empty())
      return fail(err);
    *out = new sparsec_rt_device_s{std::shared_ptr<Device>(std::move(device))};
    return result("");
  });
}

void sparsec_rt_device_destroy(sparsec_rt_device device) { delete device; }

int sparsec_rt_device_alloc(sparsec_rt_device device, uint64_t bytes,
                            uint64_t *address) {
  return guarded([&] {
    if (!device || !address)
      return fail("null argument", kBadArgument);
    return result(device->device->allocate(bytes, *address));
  });
}

int sparsec_rt_device_free(sparsec_rt_device device, uint64_t address) {
  return guarded([&] {
    if (!device)
      return fail("null argument", kBadArgument);
    device->device->free(address);
    return result("");
  });
}

int sparsec_rt_device_copy_to_device(sparsec_rt_device device, uint64_t dst,
                                     const void *src, uint64_t bytes) {
  return guarded([&] {
    if (!device || (!src && bytes))
      return fail("null argument", kBadArgument);
    return result(device->device->copyToDevice(dst, src, bytes));
  });
}

int sparsec_rt_device_copy_to_host(sparsec_rt_device device, void *dst,
                                   uint64_t src, uint64_t bytes) {
  return guarded([&] {
    if (!device || (!dst && bytes))
      return fail("null argument", kBadArgument);
    return result(device->device->copyToHost(dst, src, bytes));
  });
}

int sparsec_rt_device_synchronize(sparsec_rt_device device) {
  return guarded([&] {
    if (!device)
      return fail("null argument", kBadArgument);
    return result(device->device->synchronize());
  });
}

int sparsec_rt_layer_create(sparsec_rt_device device, const char *options,
                            const float *weight, const uint8_t *mask,
                            int64_t rows, int64_t cols, const float *bias,
                            const int64_t *tile_columns, int64_t nnz_vec,
                            sparsec_rt_layer *out) {
  return guarded([&] {
    if (!device || !weight || !out)
      return fail("null argument", kBadArgument);
    *out = nullptr;
    if (rows <= 0 || cols <= 0)
      return fail("rows and cols must be positive", kBadArgument);
    cuda::LinearKernelConfig config;
    if (std::string err = parseOptions(options, config); !err.empty())
      return fail(err, kBadArgument);
    if (!config.hinm && tile_columns)
      return fail("tile_columns are for format=hinm only", kBadArgument);
    config.rows = rows;
    config.cols = cols;
    std::unique_ptr<GeneratedLayer> layer;
    if (std::string err = createLayer(device->device, config, weight, mask,
                                      bias, tile_columns, nnz_vec, layer);
        !err.empty())
      return fail(err);
    *out = new sparsec_rt_layer_s{std::move(layer)};
    return result("");
  });
}

void sparsec_rt_layer_destroy(sparsec_rt_layer layer) { delete layer; }

const char *sparsec_rt_layer_ptx(sparsec_rt_layer layer) {
  return layer ? layer->layer->ptx.c_str() : "";
}

int sparsec_rt_layer_info(sparsec_rt_layer layer, int64_t out[6]) {
  if (!layer || !out)
    return fail("null argument", kBadArgument);
  const cuda::KernelLaunchInfo &info = layer->layer->info;
  int64_t values[6] = {info.tileM,       info.tileN,      info.threads,
                       info.sharedBytes, info.rowsPadded, info.keptWidth};
  for (int i = 0; i < 6; ++i)
    out[i] = values[i];
  return result("");
}

int64_t sparsec_rt_layer_weight_bytes(sparsec_rt_layer layer) {
  return layer ? int64_t(layer->layer->kernel.weightBytes()) : 0;
}

int sparsec_rt_layer_run_device(sparsec_rt_layer layer, uint64_t x_dev,
                                uint64_t y_dev, int64_t tokens, int64_t ldx,
                                int64_t ldy, uint64_t stream) {
  return guarded([&] {
    if (!layer)
      return fail("null argument", kBadArgument);
    return result(
        layer->layer->kernel.launch(x_dev, y_dev, tokens, ldx, ldy, stream));
  });
}

int sparsec_rt_layer_run_host(sparsec_rt_layer layer, const uint16_t *x,
                              uint16_t *y, int64_t tokens, int64_t ldx,
                              int64_t ldy) {
  return guarded([&] {
    if (!layer || !x || !y)
      return fail("null argument", kBadArgument);
    return result(layer->layer->kernel.runHost(x, y, tokens, ldx, ldy));
  });
}

int sparsec_rt_model_load(sparsec_rt_device device, const char *artifact_dir,
                          sparsec_rt_model *out) {
  return guarded([&] {
    if (!device || !artifact_dir || !out)
      return fail("null argument", kBadArgument);
    *out = nullptr;
    std::unique_ptr<Model> model;
    if (std::string err = Model::load(device->device, artifact_dir, model);
        !err.empty())
      return fail(err);
    *out = new sparsec_rt_model_s{std::move(model)};
    return result("");
  });
}

void sparsec_rt_model_destroy(sparsec_rt_model model) { delete model; }

int sparsec_rt_model_run_npy(sparsec_rt_model model,
                             const char *const *input_paths, int n_inputs,
                             const char *output_dir) {
  return guarded([&] {
    if (!model || !output_dir || n_inputs < 0 || (n_inputs && !input_paths))
      return fail("null argument", kBadArgument);
    std::vector<std::string> paths;
    for (int i = 0; i < n_inputs; ++i) {
      if (!input_paths[i])
        return fail("null input path", kBadArgument);
      paths.push_back(input_paths[i]);
    }
    return result(runModelOnNpy(*model->model, paths, output_dir));
  });
}

} // extern "C"
