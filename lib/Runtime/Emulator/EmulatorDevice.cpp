//===- EmulatorDevice.cpp - the CPU PTX emulator as a Device --------------===//
//
// Lets everything above the Device interface (artifacts, the C API, the CLI)
// run and be tested on machines without a GPU, on the very PTX we ship.
// Launches run synchronously; streams are accepted and ignored.
//
//===----------------------------------------------------------------------===//
#include "sparsec/Runtime/Device.h"

#include <cstdlib>
#include <mutex>

namespace sparsec::rt {
namespace {

class EmulatorModule : public KernelModule {
public:
  explicit EmulatorModule(std::unique_ptr<ptx::Module> parsed)
      : module(parsed.release()) {}
  std::unique_ptr<ptx::Module, ptx::ModuleDeleter> module;
};

class EmulatorDevice : public Device {
public:
  const char *kind() const override { return "emulator"; }
  std::string description() const override { return "PTX emulator (CPU)"; }
  int multiprocessorCount() const override { return 16; }

  std::string supportsArch(const std::string &arch) const override {
    if (arch == "sm_80" || arch == "sm_90a")
      return "";
    return "unknown architecture '" + arch + "'";
  }

  // ptx::Memory is not thread-safe; one lock serialises callers.
  std::string allocate(uint64_t bytes, uint64_t &address) override {
    std::lock_guard<std::mutex> lock(mutex);
    address = memory.allocate(bytes);
    return address ? ""
                   : "emulator: cannot allocate " + std::to_string(bytes) +
                         " bytes";
  }

  void free(uint64_t address) override {
    std::lock_guard<std::mutex> lock(mutex);
    memory.free(address);
  }

  std::string copyToDevice(uint64_t dst, const void *src,
                           uint64_t bytes) override {
    std::lock_guard<std::mutex> lock(mutex);
    return memory.write(dst, src, bytes);
  }

  std::string copyToHost(void *dst, uint64_t src, uint64_t bytes) override {
    std::lock_guard<std::mutex> lock(mutex);
    return memory.read(src, dst, bytes);
  }

  std::string loadModule(const std::string &ptxText,
                         std::unique_ptr<KernelModule> &out) override {
    std::string error;
    std::unique_ptr<ptx::Module> parsed = ptx::parseModule(ptxText, error);
    if (!parsed)
      return "PTX rejected by the emulator: " + error;
    out = std::make_unique<EmulatorModule>(std::move(parsed));
    return "";
  }

  std::string launch(const KernelModule &kernelModule, const std::string &entry,
                     Dim3 grid, Dim3 block, uint32_t dynamicSharedBytes,
                     const std::vector<ParamValue> &params,
                     uint64_t /*stream*/) override {
    // Modules only ever come from this class's loadModule.
    const auto &module = static_cast<const EmulatorModule &>(kernelModule);
    std::lock_guard<std::mutex> lock(mutex);
    return ptx::launch(*module.module, entry, grid, block, dynamicSharedBytes,
                       params, memory, nullptr, ctaOrderSeed());
  }

  std::string synchronize() override { return ""; }

  std::string time(const std::function<std::string()> &, uint64_t,
                   float &) override {
    return "timing needs a CUDA device (the emulator's time says nothing "
           "about a GPU)";
  }

private:
  /// SPARSEC_EMULATOR_CTA_ORDER=N (N > 0) runs each grid's CTAs in the
  /// order drawn from seed N (ptx::launch), for tests of order independence.
  static uint64_t ctaOrderSeed() {
    const char *env = std::getenv("SPARSEC_EMULATOR_CTA_ORDER");
    return env ? std::strtoull(env, nullptr, 10) : 0;
  }

  ptx::Memory memory;
  std::mutex mutex;
};

} // namespace

std::unique_ptr<Device> createEmulatorDevice() {
  return std::make_unique<EmulatorDevice>();
}

} // namespace sparsec::rt
