//===- Executor.cpp - run sparse layers and artifacts ---------------------===//
#include "sparsec/Runtime/Executor.h"

#include "sparsec/Support/Npy.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>

namespace sparsec::rt {
namespace {

int64_t roundUp(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// The launch facts of a generated layer (cuda::KernelLaunchInfo) or of a
/// manifest step (ArtifactStep): both name them alike.
template <class Facts>
SparseKernelShape kernelShape(const Facts &facts, int64_t rows, int64_t cols,
                              cuda::ValueType valueType) {
  SparseKernelShape shape;
  shape.rows = rows;
  shape.cols = cols;
  shape.rowsPadded = facts.rowsPadded;
  shape.keptWidth = facts.keptWidth;
  shape.tileM = facts.tileM;
  shape.tileN = facts.tileN;
  shape.threads = facts.threads;
  shape.sharedBytes = facts.sharedBytes;
  shape.dynamicShared = facts.dynamicShared;
  shape.smallMaxTokens = facts.smallMaxTokens;
  shape.smallTileM = facts.smallTileM;
  shape.smallTileN = facts.smallTileN;
  shape.smallThreads = facts.smallThreads;
  shape.smallSharedBytes = facts.smallSharedBytes;
  shape.valueType = valueType;
  return shape;
}

} // namespace

//===----------------------------------------------------------------------===//
// SparseKernel
//===----------------------------------------------------------------------===//

std::string SparseKernel::init(std::shared_ptr<Device> device,
                               std::shared_ptr<KernelModule> kernelModule,
                               std::string entryName,
                               const SparseKernelShape &shape,
                               const std::vector<uint16_t> &valueBits,
                               const std::vector<uint32_t> &metaWords,
                               const std::vector<uint32_t> &columns,
                               const std::vector<float> &biasValues) {
  dev = std::move(device);
  module = std::move(kernelModule);
  entry = std::move(entryName);
  facts = shape;
  if (std::string err = values.upload(*dev, valueBits.data(),
                                      valueBits.size() * sizeof(uint16_t));
      !err.empty())
    return err;
  if (std::string err =
          meta.upload(*dev, metaWords.data(), metaWords.size() * 4);
      !err.empty())
    return err;
  if (!columns.empty())
    if (std::string err =
            colIdx.upload(*dev, columns.data(), columns.size() * 4);
        !err.empty())
      return err;
  if (!biasValues.empty())
    if (std::string err =
            bias.upload(*dev, biasValues.data(), biasValues.size() * 4);
        !err.empty())
      return err;
  return "";
}

uint64_t SparseKernel::weightBytes() const {
  return values.size() + meta.size() + colIdx.size();
}

uint32_t chooseSplitK(int multiprocessors, uint64_t ctas, int64_t kSteps) {
  int64_t most = std::max<int64_t>(1, std::min<int64_t>(16, kSteps / 2));
  if (const char *env = std::getenv("SPARSEC_CUDA_SPLIT_K")) {
    char *end = nullptr;
    long forced = std::strtol(env, &end, 10);
    if (end != env && *end == 0 && forced >= 1)
      return uint32_t(std::min<int64_t>(forced, std::max<int64_t>(kSteps, 1)));
  }
  if (multiprocessors <= 0 || ctas == 0 || ctas >= uint64_t(multiprocessors))
    return 1;
  int64_t want = ceilDiv(2 * int64_t(multiprocessors), int64_t(ctas));
  return uint32_t(std::clamp<int64_t>(want, 1, most));
}

std::string SparseKernel::launch(uint64_t x, uint64_t y, int64_t tokens,
                                 int64_t ldx, int64_t ldy,
                                 uint64_t stream) const {
  if (!dev)
    return "kernel not initialised";
  if (tokens <= 0)
    return tokens == 0 ? "" : "tokens must not be negative";
  for (int64_t ld : {ldx, ldy})
    if (ld < tokens || ld % 8 || ld > UINT32_MAX)
      return "leading dimensions must be multiples of 8 and >= tokens (" +
             std::to_string(tokens) + "), got ldx " + std::to_string(ldx) +
             ", ldy " + std::to_string(ldy);
  if (!x || !y)
    return "null activation pointer";
  // Decode-size T: the module's `_small` entry, whose narrower token tile
  // wastes less tensor-core work on padding.
  bool small = facts.smallMaxTokens > 0 && tokens <= facts.smallMaxTokens;
  int64_t tileM = small ? facts.smallTileM : facts.tileM;
  int64_t tileN = small ? facts.smallTileN : facts.tileN;
  std::string kernelEntry = small ? entry + "_small" : entry;
  Dim3 grid, block;
  grid.x = uint32_t(ceilDiv(tokens, tileN));
  grid.y = uint32_t(facts.rowsPadded / tileM);
  block.x = uint32_t(small ? facts.smallThreads : facts.threads);
  uint32_t dynamicShared =
      facts.dynamicShared
          ? uint32_t(small ? facts.smallSharedBytes : facts.sharedBytes)
          : 0;
  grid.z = chooseSplitK(dev->multiprocessorCount(), uint64_t(grid.x) * grid.y,
                        facts.keptWidth / 32);
  if (grid.z > 1) {
    uint64_t bytes = uint64_t(grid.z) * facts.rows * ldy * 4;
    if (partialSums.size() < bytes)
      if (std::string err = partialSums.allocate(*dev, bytes); !err.empty())
        return "split-K workspace: " + err;
    uint64_t tiles = uint64_t(grid.x) * grid.y;
    if (tileCounters.size() < tiles * 4 || countersDirty) {
      std::vector<uint32_t> zeros(
          std::max<uint64_t>(tiles, tileCounters.size() / 4));
      if (std::string err =
              tileCounters.upload(*dev, zeros.data(), zeros.size() * 4);
          !err.empty())
        return "split-K tile counters: " + err;
      countersDirty = false;
    }
  }
  std::vector<ParamValue> params = {
      ParamValue::u64(values.address()),
      ParamValue::u64(meta.address()),
      ParamValue::u64(colIdx.address()),
      ParamValue::u64(bias.address()),
      ParamValue::u64(x),
      ParamValue::u64(y),
      ParamValue::u32(uint32_t(tokens)),
      ParamValue::u32(uint32_t(ldx)),
      ParamValue::u32(uint32_t(ldy)),
      ParamValue::u64(grid.z > 1 ? partialSums.address() : 0),
      ParamValue::u64(grid.z > 1 ? tileCounters.address() : 0)};
  // One launch: with splits, the last split of each tile sums the partials.
  std::string err = dev->launch(*module, kernelEntry, grid, block,
                                dynamicShared, params, stream);
  if (!err.empty() && grid.z > 1)
    countersDirty = true;
  return err;
}

std::string SparseKernel::runHost(const uint16_t *x, uint16_t *y,
                                  int64_t tokens, int64_t ldx,
                                  int64_t ldy) const {
  if (!dev)
    return "kernel not initialised";
  if (tokens <= 0 || ldx < tokens || ldy < tokens)
    return "need tokens > 0 and leading dimensions >= tokens";
  DeviceBuffer xBuf, yBuf;
  uint64_t xBytes = uint64_t(facts.cols) * ldx * 2;
  uint64_t yBytes = uint64_t(facts.rows) * ldy * 2;
  if (std::string err = xBuf.upload(*dev, x, xBytes); !err.empty())
    return err;
  if (std::string err = yBuf.allocate(*dev, yBytes); !err.empty())
    return err;
  if (std::string err =
          launch(xBuf.address(), yBuf.address(), tokens, ldx, ldy, 0);
      !err.empty())
    return err;
  if (std::string err = dev->synchronize(); !err.empty())
    return err;
  return dev->copyToHost(y, yBuf.address(), yBytes);
}

//===----------------------------------------------------------------------===//
// Generated layers
//===----------------------------------------------------------------------===//

/// HiNM width when the caller gives neither column lists nor nnz_vec: the
/// most kept column vectors of any tile, as the packer derives them.
static int64_t derivedNnzVec(const cuda::LinearKernelConfig &config,
                             const float *weight, const uint8_t *mask) {
  int64_t widest = 0;
  for (int64_t r0 = 0; r0 < config.rows; r0 += config.v) {
    int64_t count = 0;
    for (int64_t c = 0; c < config.cols; ++c) {
      bool any = false;
      for (int64_t r = r0; r < std::min(config.rows, r0 + config.v) && !any;
           ++r)
        any = mask ? mask[r * config.cols + c] != 0
                   : weight[r * config.cols + c] != 0.0f;
      count += any;
    }
    widest = std::max(widest, count);
  }
  return std::max<int64_t>(roundUp(widest, 4), 4);
}

std::string createLayer(std::shared_ptr<Device> device,
                        const cuda::LinearKernelConfig &base,
                        const float *weight, const uint8_t *mask,
                        const float *bias, const int64_t *tileColumns,
                        int64_t nnzVec, std::unique_ptr<GeneratedLayer> &out) {
  if (!device)
    return "no device";
  if (!weight)
    return "no weight";
  auto layer = std::make_unique<GeneratedLayer>();
  cuda::LinearKernelConfig &config = layer->config;
  config = base;
  config.hasBias = bias != nullptr;
  if (config.rows <= 0 || config.cols <= 0)
    return "rows and cols must be positive";
  if (config.hinm) {
    if (config.v <= 0)
      return "HiNM needs v > 0";
    if (nnzVec <= 0 && tileColumns)
      return "tile_columns given without nnz_vec";
    if (nnzVec <= 0)
      nnzVec = derivedNnzVec(config, weight, mask);
    if (nnzVec > config.cols)
      return "nnz_vec " + std::to_string(nnzVec) + " exceeds cols " +
             std::to_string(config.cols);
    config.keptWidth = roundUp(nnzVec, 32);
  } else {
    config.keptWidth = roundUp(config.cols, 32);
  }
  if (std::string err = cuda::verifyConfig(config); !err.empty())
    return "invalid kernel configuration: " + err;
  if (std::string err = device->supportsArch(cuda::archName(config.arch));
      !err.empty())
    return err;
  layer->info = cuda::launchInfo(config);

  std::vector<std::vector<int64_t>> columns;
  if (config.hinm && tileColumns) {
    int64_t tiles = layer->info.rowsPadded / config.v;
    for (int64_t t = 0; t < tiles; ++t)
      columns.emplace_back(tileColumns + t * nnzVec,
                           tileColumns + (t + 1) * nnzVec);
  }
  cuda::KernelWeights packed;
  if (std::string err = cuda::packForKernel(
          config, weight, mask, config.hinm && tileColumns ? &columns : nullptr,
          bias, packed);
      !err.empty())
    return "cannot pack the weight: " + err;

  layer->ptx = cuda::generateLinearKernel(config);
  std::unique_ptr<KernelModule> module;
  if (std::string err = device->loadModule(layer->ptx, module); !err.empty())
    return "cannot load the generated kernel: " + err;

  const cuda::KernelLaunchInfo &info = layer->info;
  SparseKernelShape shape =
      kernelShape(info, config.rows, config.cols, config.valueType);
  if (std::string err = layer->kernel.init(
          std::move(device), std::move(module), config.name, shape,
          packed.values, packed.meta, packed.colIdx, packed.bias);
      !err.empty())
    return err;
  out = std::move(layer);
  return "";
}

//===----------------------------------------------------------------------===//
// Model
//===----------------------------------------------------------------------===//

std::string Model::load(std::shared_ptr<Device> device,
                        const std::string &directory,
                        std::unique_ptr<Model> &out) {
  auto model = std::unique_ptr<Model>(new Model());
  model->dev = device;
  Artifact &art = model->art;
  if (std::string err = loadArtifact(directory, art); !err.empty())
    return err;
  if (std::string err = device->supportsArch(art.arch); !err.empty())
    return directory + ": " + err;

  // Steps sharing a PTX file share its module.
  std::map<std::string, std::shared_ptr<KernelModule>> modules;
  model->kernels.resize(art.steps.size());
  for (size_t i = 0; i < art.steps.size(); ++i) {
    Step &step = art.steps[i];
    if (step.op != StepOp::SparseLinear)
      continue;
    std::string where = directory + ": step " + std::to_string(i) +
                        (step.name.empty() ? "" : " ('" + step.name + "')");
    std::shared_ptr<KernelModule> &module = modules[step.ptxFile];
    if (!module) {
      std::unique_ptr<KernelModule> loaded;
      if (std::string err = device->loadModule(step.ptx, loaded); !err.empty())
        return where + ": '" + step.ptxFile + "': " + err;
      module = std::move(loaded);
    }
    SparseKernelShape shape =
        kernelShape(step, step.rows, step.cols, step.valueType);
    if (std::string err = model->kernels[i].init(device, module, step.entry,
                                                 shape, step.values, step.meta,
                                                 step.colIdx, step.bias);
        !err.empty())
      return where + ": " + err;
    // The device holds them now.
    step.ptx.clear();
    step.values = {};
    step.meta = {};
    step.colIdx = {};
  }

  // A kernel output stays on the device when its only reader is the next
  // step, itself a kernel of the same value type.
  std::map<std::string, int> readers;
  for (const Step &step : art.steps)
    for (const std::string &name : step.inputs)
      ++readers[name];
  for (const TensorSpec &spec : art.outputs)
    ++readers[spec.tensor];
  model->keepOnDevice.assign(art.steps.size(), false);
  for (size_t i = 0; i + 1 < art.steps.size(); ++i) {
    const Step &step = art.steps[i], &next = art.steps[i + 1];
    model->keepOnDevice[i] =
        step.op == StepOp::SparseLinear && next.op == StepOp::SparseLinear &&
        next.inputs[0] == step.output && readers[step.output] == 1 &&
        next.valueType == step.valueType;
  }
  out = std::move(model);
  return "";
}

namespace {

/// A tensor between steps: fp32 on the host, or feature-major value-type
/// bits on the device (only between two kernels).
struct Tensor {
  int64_t tokens = 0, channels = 0;
  std::vector<float> host;
  DeviceBuffer device; // pitch roundUp(tokens, 8)
};

} // namespace

std::string Model::run(const std::vector<HostTensor> &inputs,
                       std::vector<HostTensor> &outputs) {
  outputs.clear();
  if (inputs.size() != art.inputs.size())
    return "the model takes " + std::to_string(art.inputs.size()) +
           " input(s), got " + std::to_string(inputs.size());
  std::map<std::string, Tensor> env;
  // Buffers a launched kernel may still read; freed after the final wait.
  std::vector<DeviceBuffer> inFlight;
  // Declared last so that it runs first: never free memory under a running
  // kernel, whichever way this function returns.
  struct WaitOnExit {
    Device &device;
    ~WaitOnExit() { device.synchronize(); }
  } waitOnExit{*dev};
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSpec &spec = art.inputs[i];
    if (inputs[i].shape != spec.shape) {
      std::string want, got;
      for (int64_t d : spec.shape)
        want += (want.empty() ? "" : "x") + std::to_string(d);
      for (int64_t d : inputs[i].shape)
        got += (got.empty() ? "" : "x") + std::to_string(d);
      return "input " + std::to_string(i) + " ('" + spec.name +
             "'): expected shape " + want + ", got " +
             (got.empty() ? "a scalar" : got);
    }
    int64_t elements = 1;
    for (int64_t d : spec.shape)
      elements *= d;
    if (int64_t(inputs[i].data.size()) != elements)
      return "input " + std::to_string(i) + " ('" + spec.name + "') holds " +
             std::to_string(inputs[i].data.size()) + " values, expected " +
             std::to_string(elements);
    Tensor &t = env[spec.name];
    t.channels = spec.shape.back();
    t.tokens = elements / t.channels;
    t.host = inputs[i].data;
  }

  for (size_t i = 0; i < art.steps.size(); ++i) {
    const Step &step = art.steps[i];
    std::string where = "step " + std::to_string(i) +
                        (step.name.empty() ? "" : " ('" + step.name + "')") +
                        ": ";
    Tensor &in = env.at(step.inputs[0]); // std::map: stays valid below
    Tensor result;
    result.tokens = in.tokens;
    switch (step.op) {
    case StepOp::SparseLinear: {
      const SparseKernel &kernel = kernels[i];
      int64_t ld = roundUp(in.tokens, 8);
      DeviceBuffer x;
      uint64_t xAddress = in.device.address();
      if (!xAddress) {
        std::vector<uint16_t> bits(step.cols * ld);
        host::toFeatureMajor(in.host.data(), in.tokens, step.cols, ld,
                             step.valueType, bits.data());
        if (std::string err = x.upload(*dev, bits.data(), bits.size() * 2);
            !err.empty())
          return where + err;
        xAddress = x.address();
      }
      result.channels = step.rows;
      if (std::string err =
              result.device.allocate(*dev, uint64_t(step.rows) * ld * 2);
          !err.empty())
        return where + err;
      if (std::string err = kernel.launch(xAddress, result.device.address(),
                                          in.tokens, ld, ld);
          !err.empty())
        return where + err;
      inFlight.push_back(std::move(x));
      if (in.device.address())
        inFlight.push_back(std::move(in.device));
      if (keepOnDevice[i])
        break;
      // Later steps read it on the host.
      if (std::string err = dev->synchronize(); !err.empty())
        return where + err;
      std::vector<uint16_t> bits(step.rows * ld);
      if (std::string err = dev->copyToHost(
              bits.data(), result.device.address(), bits.size() * 2);
          !err.empty())
        return where + err;
      result.host.resize(step.rows * in.tokens);
      host::fromFeatureMajor(bits.data(), step.rows, ld, in.tokens,
                             step.valueType, result.host.data());
      result.device.reset();
      inFlight.clear();
      break;
    }
    case StepOp::DenseLinear:
      result.channels = step.rows;
      result.host.resize(step.rows * in.tokens);
      host::denseLinear(
          in.host.data(), in.tokens, step.cols, step.weight.data(), step.rows,
          step.bias.empty() ? nullptr : step.bias.data(), result.host.data());
      break;
    case StepOp::Relu:
    case StepOp::Gelu:
      result.channels = in.channels;
      result.host.resize(in.host.size());
      (step.op == StepOp::Relu ? host::relu : host::gelu)(
          in.host.data(), int64_t(in.host.size()), result.host.data());
      break;
    case StepOp::Add: {
      const Tensor &other = env.at(step.inputs[1]);
      result.channels = in.channels;
      result.host.resize(in.host.size());
      host::add(in.host.data(), other.host.data(), int64_t(in.host.size()),
                result.host.data());
      break;
    }
    }
    env[step.output] = std::move(result);
  }

  for (const TensorSpec &spec : art.outputs) {
    HostTensor out;
    out.shape = spec.shape;
    out.data = env.at(spec.tensor).host;
    outputs.push_back(std::move(out));
  }
  return "";
}

std::string runModelOnNpy(Model &model,
                          const std::vector<std::string> &inputPaths,
                          const std::string &outputDir) {
  std::vector<HostTensor> inputs;
  for (const std::string &path : inputPaths) {
    NpyArray array;
    if (std::string err = readNpy(path, array); !err.empty())
      return err;
    if (array.dtype != "<f4")
      return "'" + path + "' has dtype '" + array.dtype +
             "'; inputs must be float32 ('<f4')";
    HostTensor t;
    t.shape = array.shape;
    t.data.resize(array.numElements());
    std::memcpy(t.data.data(), array.data.data(), array.data.size());
    inputs.push_back(std::move(t));
  }
  std::vector<HostTensor> outputs;
  if (std::string err = model.run(inputs, outputs); !err.empty())
    return err;
  for (size_t i = 0; i < outputs.size(); ++i) {
    NpyArray array;
    array.dtype = "<f4";
    array.shape = outputs[i].shape;
    array.data.resize(outputs[i].data.size() * sizeof(float));
    std::memcpy(array.data.data(), outputs[i].data.data(), array.data.size());
    std::string path = outputDir + "/output_" + std::to_string(i) + ".npy";
    if (std::string err = writeNpy(path, array); !err.empty())
      return err;
  }
  return "";
}

} // namespace sparsec::rt
