//===- PTXEmulator.h - run sparsec's PTX kernels on the CPU -----*- C++ -*-===//
//
// An interpreter for the subset of PTX that sparsec's kernel generator emits
// (docs/CUDABackend.md, "PTX subset"). It exists so that CI, which has no GPU,
// runs the very PTX text we ship: addresses, cp.async staging, ldmatrix,
// mma.sp / wgmma.mma_async.sp fragment and metadata semantics, epilogues.
//
// Execution model: a CTA's threads run in lockstep, one instruction at a time
// for all threads; branches must be uniform across the CTA (a divergent branch
// is reported as an error). Warp-collective instructions (ldmatrix, mma.sp,
// shfl) act on each warp, warpgroup instructions on each group of 4 warps.
// Every global/shared access is bounds-checked; cp.async copies complete only
// at the matching cp.async.wait_group, so a kernel that reads its staging
// buffer too early reads stale data, as it could on the device. Shared-memory
// accesses are also checked for races: a thread reading or writing bytes that
// another thread wrote since the last bar.sync is an error.
//
// MLIR- and LLVM-free: the runtime links it (scripts/build-runtime.sh).
//
//===----------------------------------------------------------------------===//
#ifndef SPARSEC_RUNTIME_PTXEMULATOR_H
#define SPARSEC_RUNTIME_PTXEMULATOR_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sparsec::ptx {
class Module; // parsed PTX (opaque)
void destroyModule(Module *module);
} // namespace sparsec::ptx

// Module is opaque, so std::unique_ptr<Module> (parseModule's result) deletes
// through destroyModule rather than needing the complete type.
namespace std {
template <> struct default_delete<sparsec::ptx::Module> {
  void operator()(sparsec::ptx::Module *m) const {
    sparsec::ptx::destroyModule(m);
  }
};
} // namespace std

namespace sparsec::ptx {

/// Parses PTX text. Returns null and sets `error` ("line N: ...") on failure,
/// including instructions outside the supported subset.
std::unique_ptr<Module> parseModule(const std::string &text,
                                    std::string &error);
void destroyModule(Module *module);
struct ModuleDeleter {
  void operator()(Module *m) const { destroyModule(m); }
};

/// Names of the `.entry` kernels in `module`.
std::vector<std::string> kernelNames(const Module &module);

struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
};

/// Emulated device memory: a 64-bit address space of separate allocations.
/// Addresses are never 0 and allocations never touch, so an out-of-range
/// access is always detected.
class Memory {
public:
  Memory();
  ~Memory();
  uint64_t allocate(uint64_t bytes); // zero-filled
  void free(uint64_t address);
  /// Copies; return "" or an error (unknown address, out of range).
  std::string write(uint64_t address, const void *src, uint64_t bytes);
  std::string read(uint64_t address, void *dst, uint64_t bytes) const;

  struct Impl;
  Impl *impl() const { return state.get(); }

private:
  std::unique_ptr<Impl> state;
};

/// One kernel parameter: its raw little-endian bytes (u32/u64 values,
/// device addresses).
struct ParamValue {
  std::vector<uint8_t> bytes;
  static ParamValue u32(uint32_t v);
  static ParamValue u64(uint64_t v);
};

struct LaunchStats {
  uint64_t instructions = 0;    // warp-instructions executed
  uint64_t mmaInstructions = 0; // mma.sp per warp, wgmma per warpgroup
};

/// Runs kernel `name` over the grid. Returns "" on success, otherwise an error
/// naming the kernel, CTA, thread, PTX line and cause (out-of-bounds access,
/// divergent branch, invalid sparsity metadata, race, unsupported
/// instruction...). `dynamicSharedBytes` sizes `.extern .shared` arrays.
/// CTAs run one after another: x fastest, then y, then z, or with a non-zero
/// `ctaOrderSeed` in a permutation drawn from it, since a device promises no
/// order and kernels whose CTAs coordinate (split-K tile counters) must not
/// depend on one.
std::string launch(const Module &module, const std::string &name, Dim3 grid,
                   Dim3 block, uint32_t dynamicSharedBytes,
                   const std::vector<ParamValue> &params, Memory &memory,
                   LaunchStats *stats = nullptr, uint64_t ctaOrderSeed = 0);

} // namespace sparsec::ptx

#endif
