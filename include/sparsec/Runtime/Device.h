//===- Device.h - where sparsec's PTX kernels run ---------------*- C++ -*-===//
//
// One interface over a real GPU (CUDA driver API, loaded with dlopen so that
// building needs no CUDA toolkit) and the CPU PTX emulator (CI has no GPU).
// Buffers are plain 64-bit device addresses, so pointers owned by someone
// else (a PyTorch tensor's data_ptr()) can be passed to a launch as they are.
// Every call returns "" or an error message; nothing throws.
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_RUNTIME_DEVICE_H
#define SPARSEC_RUNTIME_DEVICE_H

#include "sparsec/Runtime/PTXEmulator.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sparsec::rt {

using ptx::Dim3;
using ptx::ParamValue;

/// A PTX module loaded on a device. Unloaded when destroyed; the device must
/// outlive it.
class KernelModule {
public:
  virtual ~KernelModule() = default;
};

class Device {
public:
  virtual ~Device() = default;

  /// "cuda" or "emulator".
  virtual const char *kind() const = 0;
  /// Human-readable description (GPU name and compute capability).
  virtual std::string description() const = 0;
  /// "" when PTX for `arch` ("sm_80", "sm_90a") can run here, else why not.
  virtual std::string supportsArch(const std::string &arch) const = 0;
  /// Streaming multiprocessors, for the split-K heuristic. The emulator
  /// reports 16 so that small CI layers exercise split-K launches.
  virtual int multiprocessorCount() const = 0;

  virtual std::string allocate(uint64_t bytes, uint64_t &address) = 0;
  virtual void free(uint64_t address) = 0;
  virtual std::string copyToDevice(uint64_t dst, const void *src,
                                   uint64_t bytes) = 0;
  virtual std::string copyToHost(void *dst, uint64_t src, uint64_t bytes) = 0;

  /// Loads (JIT-compiles on CUDA) a PTX module; the error carries the JIT log.
  virtual std::string loadModule(const std::string &ptx,
                                 std::unique_ptr<KernelModule> &out) = 0;
  /// Enqueues kernel `entry` on `stream` (a CUstream; 0 = default stream).
  /// The emulator runs it to completion before returning.
  virtual std::string launch(const KernelModule &module,
                             const std::string &entry, Dim3 grid, Dim3 block,
                             uint32_t dynamicSharedBytes,
                             const std::vector<ParamValue> &params,
                             uint64_t stream = 0) = 0;
  virtual std::string synchronize() = 0;

  /// Times `work` (which enqueues on `stream`) with device events and waits
  /// for it. CUDA only: the emulator's time means nothing for a GPU.
  virtual std::string time(const std::function<std::string()> &work,
                           uint64_t stream, float &milliseconds) = 0;
};

/// Creates device `ordinal` through libcuda.so.1. Fails with "no CUDA driver:
/// ..." when the driver is missing or has no usable GPU. In
/// SparsecRuntimeCUDA (lib/Runtime/CUDA).
std::string createCudaDevice(int ordinal, std::unique_ptr<Device> &out);
/// In SparsecPTXEmulator (lib/Runtime/Emulator).
std::unique_ptr<Device> createEmulatorDevice();
/// `kind` is "cuda" or "emulator". In the runtime core, which links both.
std::string createDevice(const std::string &kind, std::unique_ptr<Device> &out);

/// A device allocation freed on destruction.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  DeviceBuffer(DeviceBuffer &&other) noexcept { *this = std::move(other); }
  DeviceBuffer &operator=(DeviceBuffer &&other) noexcept {
    if (this != &other) {
      reset();
      std::swap(device, other.device);
      std::swap(addr, other.addr);
      std::swap(bytes, other.bytes);
    }
    return *this;
  }
  ~DeviceBuffer() { reset(); }

  std::string allocate(Device &dev, uint64_t size) {
    reset();
    // Never a zero-byte allocation: the kernels take 0 to mean "absent".
    std::string err = dev.allocate(size ? size : 1, addr);
    if (err.empty()) {
      device = &dev;
      bytes = size;
    }
    return err;
  }
  /// Allocates and uploads `size` bytes from `src`.
  std::string upload(Device &dev, const void *src, uint64_t size) {
    std::string err = allocate(dev, size);
    if (err.empty() && size)
      err = dev.copyToDevice(addr, src, size);
    return err;
  }
  void reset() {
    if (device && addr)
      device->free(addr);
    device = nullptr;
    addr = bytes = 0;
  }
  uint64_t address() const { return addr; }
  uint64_t size() const { return bytes; }

private:
  Device *device = nullptr;
  uint64_t addr = 0;
  uint64_t bytes = 0;
};

} // namespace sparsec::rt

#endif
