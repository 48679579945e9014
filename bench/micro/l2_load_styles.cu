// L2 -> shared memory throughput of three ways to stage a tile, for the
// sparse kernels' producer design (bench/results/cuda_sweep.md: the kernels
// are bound by L2 tag lookups under per-thread 16-byte cp.async).
//
//   nvcc -O3 -arch=sm_90a -o l2_load_styles bench/micro/l2_load_styles.cu
//   ./l2_load_styles            (prints a markdown table)
//
// Every CTA copies 16 KiB tiles from an L2-resident buffer into a 4-slot
// shared-memory ring, in three access patterns shaped like the kernels'
// tiles, with three load styles:
//   cp.async   16 B per thread (LDGSTS, .cg), as the kernels do today
//   ldg+sts    ld.global.v4 into registers, then st.shared.v4
//   bulk       cp.async.bulk (one request per contiguous run) + mbarrier
// Patterns: "contiguous" (one 16 KiB run), "B rows" (32 runs of 512 B at a
// 16 KiB pitch: an activation tile), "A rows" (512 runs of 32 B at a 4 KiB
// pitch: row-major packed weights).
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define CK(x)                                                                  \
  do {                                                                         \
    cudaError_t e = (x);                                                       \
    if (e != cudaSuccess) {                                                    \
      std::printf("CUDA error %s at line %d\n", cudaGetErrorString(e),         \
                  __LINE__);                                                   \
      std::exit(2);                                                            \
    }                                                                          \
  } while (0)

constexpr int kThreads = 256, kTileBytes = 16384, kSlots = 4;
constexpr size_t kBufferBytes = size_t(48) << 20; // fits the 60 MiB L2

struct Pattern {
  const char *name;
  int runBytes;   // contiguous bytes per run
  int pitchBytes; // distance between runs
};
__constant__ Pattern gPattern;

// Byte offset of run r of tile t (tiles tile the buffer without overlap
// within a pass; the modulo keeps every access in the buffer).
__device__ __forceinline__ size_t runOffset(uint64_t tile, int run) {
  size_t runs = kTileBytes / gPattern.runBytes;
  size_t base = tile * runs * size_t(gPattern.pitchBytes) / 8;
  return (base + size_t(run) * gPattern.pitchBytes) %
         (kBufferBytes - kTileBytes) / 16 * 16;
}

__global__ void copyCpAsync(const uint8_t *src, int iters, uint32_t *sink) {
  extern __shared__ __align__(128) uint8_t smem[];
  int chunksPerRun = gPattern.runBytes / 16;
  for (int it = 0; it < iters; ++it) {
    uint64_t tile = uint64_t(blockIdx.x) * iters + it;
    uint32_t slot = __cvta_generic_to_shared(smem + (it % kSlots) * kTileBytes);
    for (int c = threadIdx.x; c < kTileBytes / 16; c += kThreads) {
      const uint8_t *g =
          src + runOffset(tile, c / chunksPerRun) + (c % chunksPerRun) * 16;
      asm volatile(
          "cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(slot + c * 16),
          "l"(g));
    }
    asm volatile("cp.async.commit_group;");
    asm volatile("cp.async.wait_group 2;");
    __syncthreads();
  }
  asm volatile("cp.async.wait_all;");
  __syncthreads();
  if (threadIdx.x == 0)
    sink[blockIdx.x] = smem[(iters - 1) % kSlots * kTileBytes];
}

__global__ void copyLdgSts(const uint8_t *src, int iters, uint32_t *sink) {
  extern __shared__ __align__(128) uint8_t smem[];
  int chunksPerRun = gPattern.runBytes / 16;
  for (int it = 0; it < iters; ++it) {
    uint64_t tile = uint64_t(blockIdx.x) * iters + it;
    uint4 *slot = reinterpret_cast<uint4 *>(smem + (it % kSlots) * kTileBytes);
    uint4 v[kTileBytes / 16 / kThreads];
#pragma unroll
    for (int i = 0; i < kTileBytes / 16 / kThreads; ++i) {
      int c = threadIdx.x + i * kThreads;
      v[i] = __ldcg(reinterpret_cast<const uint4 *>(
          src + runOffset(tile, c / chunksPerRun) + (c % chunksPerRun) * 16));
    }
#pragma unroll
    for (int i = 0; i < kTileBytes / 16 / kThreads; ++i)
      slot[threadIdx.x + i * kThreads] = v[i];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    sink[blockIdx.x] = smem[(iters - 1) % kSlots * kTileBytes];
}

// Waits for tile `it` of the bulk ring (its barrier's phase it / kSlots).
__device__ void waitTile(uint64_t *barriers, int it) {
  uint32_t bar = __cvta_generic_to_shared(&barriers[it % kSlots]);
  uint32_t parity = (it / kSlots) & 1, done = 0;
  while (!done)
    asm volatile("{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 "
                 "p, [%1], %2; selp.u32 %0, 1, 0, p; }"
                 : "=r"(done)
                 : "r"(bar), "r"(parity)
                 : "memory");
}

__global__ void copyBulk(const uint8_t *src, int iters, uint32_t *sink) {
  extern __shared__ __align__(128) uint8_t smem[];
  __shared__ __align__(8) uint64_t barriers[kSlots];
  int runs = kTileBytes / gPattern.runBytes;
  if (threadIdx.x < kSlots) {
    uint32_t bar = __cvta_generic_to_shared(&barriers[threadIdx.x]);
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(bar));
  }
  asm volatile("fence.mbarrier_init.release.cluster;");
  __syncthreads();
  for (int it = 0; it < iters; ++it) {
    uint64_t tile = uint64_t(blockIdx.x) * iters + it;
    int s = it % kSlots;
    uint32_t bar = __cvta_generic_to_shared(&barriers[s]);
    uint32_t slot = __cvta_generic_to_shared(smem + s * kTileBytes);
    if (threadIdx.x == 0)
      asm volatile(
          "mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar),
          "r"(kTileBytes));
    __syncthreads(); // expect_tx before any complete_tx
    for (int r = threadIdx.x; r < runs; r += kThreads)
      asm volatile(
          "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx:"
          ":bytes [%0], [%1], %2, [%3];" ::"r"(slot + r * gPattern.runBytes),
          "l"(src + runOffset(tile, r)), "r"(gPattern.runBytes), "r"(bar)
          : "memory");
    // Wait for the tile issued kSlots - 2 iterations ago (as deep as the
    // cp.async ring above).
    if (it >= kSlots - 2)
      waitTile(barriers, it - (kSlots - 2));
  }
  for (int waitIt = iters - (kSlots - 2); waitIt < iters; ++waitIt)
    if (waitIt >= 0)
      waitTile(barriers, waitIt);
  __syncthreads();
  if (threadIdx.x == 0)
    sink[blockIdx.x] = smem[(iters - 1) % kSlots * kTileBytes];
}

int main() {
  int sms = 0;
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  uint8_t *buffer;
  uint32_t *sink;
  CK(cudaMalloc(&buffer, kBufferBytes));
  CK(cudaMemset(buffer, 1, kBufferBytes));
  const int ctas = sms * 3, iters = 256; // 3 x 64 KiB rings per SM
  CK(cudaMalloc(&sink, ctas * sizeof(uint32_t)));
  const int shared = kSlots * kTileBytes;
  using Kernel = void (*)(const uint8_t *, int, uint32_t *);
  struct Style {
    const char *name;
    Kernel kernel;
  } styles[] = {{"cp.async 16 B", copyCpAsync},
                {"ldg.v4 + sts", copyLdgSts},
                {"cp.async.bulk", copyBulk}};
  Pattern patterns[] = {{"contiguous 16 KiB", 16384, 16384},
                        {"B rows: 32 x 512 B, 16 KiB pitch", 512, 16384},
                        {"A rows: 512 x 32 B, 4 KiB pitch", 32, 4096}};
  for (const Style &st : styles)
    CK(cudaFuncSetAttribute(
        st.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, shared));
  std::printf("| pattern | %s | %s | %s |\n|---|---|---|---|\n", styles[0].name,
              styles[1].name, styles[2].name);
  cudaEvent_t start, stop;
  CK(cudaEventCreate(&start));
  CK(cudaEventCreate(&stop));
  for (const Pattern &p : patterns) {
    CK(cudaMemcpyToSymbol(gPattern, &p, sizeof p));
    std::printf("| %s |", p.name);
    for (const Style &st : styles) {
      st.kernel<<<ctas, kThreads, shared>>>(buffer, iters, sink); // warm-up
      CK(cudaGetLastError());
      CK(cudaDeviceSynchronize());
      const int reps = 10;
      CK(cudaEventRecord(start));
      for (int r = 0; r < reps; ++r)
        st.kernel<<<ctas, kThreads, shared>>>(buffer, iters, sink);
      CK(cudaEventRecord(stop));
      CK(cudaEventSynchronize(stop));
      float ms = 0;
      CK(cudaEventElapsedTime(&ms, start, stop));
      double bytes = double(reps) * ctas * iters * kTileBytes;
      std::printf(" %.0f GB/s |", bytes / (ms * 1e-3) / 1e9);
    }
    std::printf("\n");
  }
  std::printf("\n%d CTAs of %d threads, %d tiles of %d B each, %d-slot ring "
              "(%d B dynamic shared memory), buffer %zu MiB\n",
              ctas, kThreads, iters, kTileBytes, kSlots, shared,
              kBufferBytes >> 20);
  return 0;
}
