//===- Executor.h - run sparse layers and artifacts -------------*- C++ -*-===//
//
// SparseKernel: one generated sparse-linear kernel with its packed weights
// resident on a device, launched with the KernelGen.h ABI.
// Model: a loaded artifact; sparse_linear steps run on the device, the few
// other steps (dense_linear, relu, gelu, add) run on the host in fp32.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_RUNTIME_EXECUTOR_H
#define SPARSEC_RUNTIME_EXECUTOR_H

#include "sparsec/KernelGen/KernelGen.h"
#include "sparsec/Runtime/Artifact.h"
#include "sparsec/Runtime/Device.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sparsec::rt {

/// Launch facts of one kernel (a manifest step or a generated layer).
struct SparseKernelShape {
  int64_t rows = 0, cols = 0, rowsPadded = 0, keptWidth = 0;
  int64_t tileM = 0, tileN = 0, threads = 0, sharedBytes = 0;
  bool dynamicShared = false; // pass sharedBytes as dynamic shared memory
  // Decode-size variant `<entry>_small`, launched when T <= smallMaxTokens.
  int64_t smallMaxTokens = 0, smallTileM = 0, smallTileN = 0;
  int64_t smallThreads = 0, smallSharedBytes = 0;
  cuda::ValueType valueType = cuda::ValueType::F16;
};

class SparseKernel {
public:
  /// Uploads the packed arrays (colIdx empty for 2:4, bias may be empty).
  std::string
  init(std::shared_ptr<Device> device, std::shared_ptr<KernelModule> module,
       std::string entry, const SparseKernelShape &shape,
       const std::vector<uint16_t> &values, const std::vector<uint32_t> &meta,
       const std::vector<uint32_t> &colIdx, const std::vector<float> &bias);

  /// Enqueues Y[rows, ldy] = act(W X[cols, ldx] + bias) for `tokens` tokens;
  /// x and y are device addresses in the value type. Does not wait.
  std::string launch(uint64_t x, uint64_t y, int64_t tokens, int64_t ldx,
                     int64_t ldy, uint64_t stream = 0) const;
  /// Copies x (host bits, [cols, ldx]) in, runs, waits, copies y back.
  std::string runHost(const uint16_t *x, uint16_t *y, int64_t tokens,
                      int64_t ldx, int64_t ldy) const;

  const SparseKernelShape &shape() const { return facts; }
  /// Bytes of values + meta + colIdx on the device.
  uint64_t weightBytes() const;
  Device &device() const { return *dev; }

private:
  std::shared_ptr<Device> dev;
  std::shared_ptr<KernelModule> module;
  std::string entry;
  SparseKernelShape facts;
  DeviceBuffer values, meta, colIdx, bias;
  // Split-K partial sums (splits x rows x ldy f32) and one arrival counter
  // per output tile (u32, zero between launches: the kernel's last split
  // resets it), grown on demand; a layer's launches must therefore not
  // overlap on different streams.
  mutable DeviceBuffer partialSums, tileCounters;
  // A failed launch may leave counters mid-count: zero them before the next.
  mutable bool countersDirty = false;
};

/// k-splits for a launch of `ctas` CTAs over `kSteps` 32-wide k-steps:
/// $SPARSEC_CUDA_SPLIT_K when set, else enough to give every multiprocessor
/// two CTAs, keeping at least 2 k-steps per split (at most 16 splits).
uint32_t chooseSplitK(int multiprocessors, uint64_t ctas, int64_t kSteps);

/// A layer generated at run time (the C API's sparsec_rt_layer_create).
struct GeneratedLayer {
  cuda::LinearKernelConfig config;
  cuda::KernelLaunchInfo info;
  std::string ptx;
  SparseKernel kernel;
};

/// Packs `weight` (rows x cols, kept entries `mask` or its non-zeros) for
/// `config`, generates and loads its kernel and uploads the arrays.
/// `tileColumns` (HiNM only, may be null) is tiles x nnzVec column indices.
std::string createLayer(std::shared_ptr<Device> device,
                        const cuda::LinearKernelConfig &config,
                        const float *weight, const uint8_t *mask,
                        const float *bias, const int64_t *tileColumns,
                        int64_t nnzVec, std::unique_ptr<GeneratedLayer> &out);

/// A host tensor: fp32, C order.
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

class Model {
public:
  /// Loads and checks the artifact, loads each PTX module once and uploads
  /// the sparse weights.
  static std::string load(std::shared_ptr<Device> device,
                          const std::string &directory,
                          std::unique_ptr<Model> &out);

  /// Inputs in manifest order with exactly the manifest shapes; outputs come
  /// back in manifest order and shapes.
  std::string run(const std::vector<HostTensor> &inputs,
                  std::vector<HostTensor> &outputs);

  const Artifact &artifact() const { return art; }
  Device &device() const { return *dev; }

private:
  std::shared_ptr<Device> dev;
  Artifact art;                      // packed arrays dropped once uploaded
  std::vector<SparseKernel> kernels; // one per step (unused for host steps)
  std::vector<bool> keepOnDevice;    // step output feeds only the next kernel
};

/// Runs `model` on fp32 .npy files (manifest order) and writes
/// `outputDir`/output_<i>.npy; errors name the offending file.
std::string runModelOnNpy(Model &model,
                          const std::vector<std::string> &inputPaths,
                          const std::string &outputDir);

/// fp32 host implementations of the non-kernel steps; tensors are
/// [tokens, channels] row-major.
namespace host {
/// y[T, R] = x[T, K] W^T + bias (bias may be null).
void denseLinear(const float *x, int64_t tokens, int64_t cols,
                 const float *weight, int64_t rows, const float *bias,
                 float *y);
void relu(const float *x, int64_t n, float *y);
/// The erf form: 0.5 x (1 + erf(x / sqrt 2)).
void gelu(const float *x, int64_t n, float *y);
void add(const float *a, const float *b, int64_t n, float *y);
/// x[T, K] fp32 -> [K, ld] value-type bits, columns T..ld zero.
void toFeatureMajor(const float *x, int64_t tokens, int64_t channels,
                    int64_t ld, cuda::ValueType type, uint16_t *out);
/// y[R, ld] value-type bits -> [T, R] fp32.
void fromFeatureMajor(const uint16_t *y, int64_t channels, int64_t ld,
                      int64_t tokens, cuda::ValueType type, float *out);
} // namespace host

} // namespace sparsec::rt

#endif
