// mma_oracle.cu - brute-force oracle for the sparse tensor-core instructions
// sparsec's kernels use (gpu.md §7, T1 metadata map and T2 fragment layouts).
//
//   nvcc -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a \
//        -gencode=arch=compute_80,code=sm_80 test/gpu/mma_oracle.cu -o mma_oracle
//   ./mma_oracle [observed.json]
//
// Every trial hands the device raw register contents (and, for wgmma, a raw
// shared-memory image), runs ONE instruction and reads the raw accumulator
// registers back. The host holds the documented model of each layout
// (gpu.md §2.3/§2.4/§3, formats.md §1.4/§2.1, the descriptor formula of
// docs/CUDABackend.md / the PTX emulator) and predicts every output register
// from the inputs; a trial passes only when all of them match exactly (all
// values are small integers, exact in f16/bf16 and f32).
//
// The inputs are chosen so that the raw observations reveal the layouts
// themselves (written to the JSON file), also when the model is wrong:
//   * metadata map: A = 1 in slot 0 and 64 in slot 1 of every group, B[k][n] =
//     k%4+1 if k/4 == n else 0, so D[r][q] = (p0+1) + 64 (p1+1) shows which
//     logical positions group q of row r kept. Flipping one 4-bit field of one
//     lane shows which (row, group) that field addresses.
//   * A/B fragments: one-hot A register half, B filled with distinct values
//     per register half (mma) or per (k, n) (wgmma): the non-zero D entries
//     give the A element's row and which B elements met it.
//   * wgmma B descriptor: one-hot shared-memory half at every byte offset with
//     A[r][kept k] = k+1: D column n holds k+1 where (k, n) reads that offset.
// Exit status: 0 when every item passes, 1 otherwise, 2 on a CUDA error.
//
// --simulate replaces the GPU by the model itself (every item must pass), and
// --simulate=swapped by a model whose MN-major descriptor swaps LBO and SBO
// (the transB1 items must fail and name that hypothesis): self-tests of the
// host logic that run without a GPU.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

// A CUDA error is fatal (the context may be lost): the JSON written so far
// is completed with the error and the program exits with status 2.
[[noreturn]] static void cudaFatal(const char *call, int line,
                                   cudaError_t err);
#define CK(call)                                                               \
  do {                                                                         \
    cudaError_t err_ = (call);                                                 \
    if (err_ != cudaSuccess)                                                   \
      cudaFatal(#call, __LINE__, err_);                                        \
  } while (0)

// ---------------------------------------------------------------------------
// Device side: one instruction per trial on raw registers.
// ---------------------------------------------------------------------------
struct MmaRegs {          // one lane of an mma.sp m16n8k32 trial
  uint32_t a[4], b[4], e; // A, B fragments (2 halves each), metadata
  float c[4];             // accumulator input
};
struct WgRegs {     // one thread of a wgmma.mma_async.sp m64nNk32 trial
  uint32_t a[4], e; // A fragment (registers), metadata
};
constexpr int kSmemBytes = 4096; // shared-memory image per wgmma trial

#define MMA_SP_OPERANDS                                                        \
  " {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, %13;"
#define MMA_SP_CONSTRAINTS                                                     \
  : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                             \
  : "r"(r.a[0]), "r"(r.a[1]), "r"(r.a[2]), "r"(r.a[3]), "r"(r.b[0]),           \
    "r"(r.b[1]), "r"(r.b[2]), "r"(r.b[3]), "r"(r.e), "n"(Sel)

// One warp per trial; trials is a multiple of nothing in particular, so the
// bounds check is per warp (uniform across its lanes).
template <bool Ordered, int Sel, bool BF16>
__global__ void mmaSpTrials(const MmaRegs *regs, float *out, int trials) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  int lane = threadIdx.x & 31;
  if (warp >= trials)
    return;
  MmaRegs r = regs[warp * 32 + lane];
  float d[4] = {r.c[0], r.c[1], r.c[2], r.c[3]};
  if constexpr (Ordered && !BF16)
    asm volatile("mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32."
                 "f16.f16.f32" MMA_SP_OPERANDS MMA_SP_CONSTRAINTS);
  else if constexpr (Ordered && BF16)
    asm volatile("mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32."
                 "bf16.bf16.f32" MMA_SP_OPERANDS MMA_SP_CONSTRAINTS);
  else if constexpr (!Ordered && !BF16)
    asm volatile("mma.sp.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32"
                 MMA_SP_OPERANDS MMA_SP_CONSTRAINTS);
  else
    asm volatile("mma.sp.sync.aligned.m16n8k32.row.col.f32.bf16.bf16.f32"
                 MMA_SP_OPERANDS MMA_SP_CONSTRAINTS);
  for (int i = 0; i < 4; ++i)
    out[(warp * 32 + lane) * 4 + i] = d[i];
#endif
}

// Copies trial `trial`'s shared-memory image in, made visible to wgmma (the
// async proxy); returns its shared address.
__device__ uint32_t loadTrialImage(uint16_t *smem, const uint16_t *images,
                                   int trial) {
  const uint16_t *image = images + size_t(trial) * (kSmemBytes / 2);
  for (int i = threadIdx.x; i < kSmemBytes / 2; i += 128)
    smem[i] = image[i];
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  __syncthreads();
  return uint32_t(__cvta_generic_to_shared(smem));
}

// A shared-memory matrix descriptor without swizzle: start >> 4 in [13:0],
// LBO >> 4 in [29:16], SBO >> 4 in [45:32].
__device__ __forceinline__ uint64_t smemDescriptor(uint32_t start, int lbo,
                                                   int sbo) {
  return uint64_t((start >> 4) & 0x3FFF) |
         (uint64_t((lbo >> 4) & 0x3FFF) << 16) |
         (uint64_t((sbo >> 4) & 0x3FFF) << 32);
}

// One warpgroup (one CTA of 128 threads) per trial.
template <int N, int Sel, int TransB>
__global__ void __launch_bounds__(128)
    wgmmaSpTrials(const WgRegs *regs, const uint16_t *images, float *out,
                  int lbo, int sbo) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __shared__ __align__(1024) uint16_t smem[kSmemBytes / 2];
  int trial = blockIdx.x, tid = threadIdx.x;
  uint32_t start = loadTrialImage(smem, images, trial);
  uint64_t desc = smemDescriptor(start, lbo, sbo);
  WgRegs r = regs[trial * 128 + tid];
  float d[N / 2];
#pragma unroll
  for (int i = 0; i < N / 2; ++i)
    d[i] = 0.0f;
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
  if constexpr (N == 8) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %10, 0;\n"
                 "wgmma.mma_async.sp.sync.aligned.m64n8k32.f32.f16.f16 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, %8, %9, %11, p, 1, 1, %12;\n}"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(r.a[0]), "r"(r.a[1]), "r"(r.a[2]), "r"(r.a[3]),
                   "l"(desc), "r"(r.e), "r"(0), "n"(Sel), "n"(TransB)
                 : "memory");
  } else {
    static_assert(N == 16, "N is 8 or 16");
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %14, 0;\n"
                 "wgmma.mma_async.sp.sync.aligned.m64n16k32.f32.f16.f16 "
                 "{%0,%1,%2,%3,%4,%5,%6,%7}, {%8,%9,%10,%11}, %12, %13, %15, "
                 "p, 1, 1, %16;\n}"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]),
                   "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
                 : "r"(r.a[0]), "r"(r.a[1]), "r"(r.a[2]), "r"(r.a[3]),
                   "l"(desc), "r"(r.e), "r"(0), "n"(Sel), "n"(TransB)
                 : "memory");
  }
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
#pragma unroll
  for (int i = 0; i < N / 2; ++i)
    out[(size_t(trial) * 128 + tid) * (N / 2) + i] = d[i];
#endif
}


// The form sparsec's asynchronous sm_90a kernels use: A (compressed 64 x 16)
// also from shared memory, K-major canonical layout at offset 0 (LBO 128,
// SBO 256), B MN-major at offset 2048 (LBO 512, SBO 128).
template <int N, int Sel>
__global__ void __launch_bounds__(128)
    wgmmaSpSharedATrials(const WgRegs *regs, const uint16_t *images,
                         float *out) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __shared__ __align__(1024) uint16_t smem[kSmemBytes / 2];
  int trial = blockIdx.x, tid = threadIdx.x;
  uint32_t start = loadTrialImage(smem, images, trial);
  uint64_t adesc = smemDescriptor(start, 128, 256);
  uint64_t bdesc = smemDescriptor(start + 2048, 512, 128);
  WgRegs r = regs[trial * 128 + tid];
  float d[N / 2];
#pragma unroll
  for (int i = 0; i < N / 2; ++i)
    d[i] = 0.0f;
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
  static_assert(N == 8, "m64n8k32 only");
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %7, 0;\n"
               "wgmma.mma_async.sp.sync.aligned.m64n8k32.f32.f16.f16 "
               "{%0,%1,%2,%3}, %4, %5, %6, %8, p, 1, 1, 0, 1;\n}"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "l"(adesc), "l"(bdesc), "r"(r.e), "r"(0), "n"(Sel)
               : "memory");
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
#pragma unroll
  for (int i = 0; i < N / 2; ++i)
    out[(size_t(trial) * 128 + tid) * (N / 2) + i] = d[i];
#endif
}

// ---------------------------------------------------------------------------
// Host: value conversions (IEEE round to nearest even).
// ---------------------------------------------------------------------------
static uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7FFFFF;
  int exp = int((x >> 23) & 0xFF) - 127 + 15;
  if (((x >> 23) & 0xFF) == 0xFF)
    return uint16_t(sign | 0x7C00 | (mant ? 0x200 : 0));
  if (exp >= 31)
    return uint16_t(sign | 0x7C00);
  if (exp <= 0) {
    if (exp < -10)
      return uint16_t(sign);
    mant |= 0x800000;
    int shift = 14 - exp;
    uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1),
             halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1)))
      ++h;
    return uint16_t(sign | h);
  }
  uint32_t h = (uint32_t(exp) << 10) | (mant >> 13), rem = mant & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
    ++h;
  return uint16_t(sign | h);
}
static float halfToFloat(uint16_t h) {
  int e = (h >> 10) & 0x1F;
  uint32_t m = h & 0x3FF;
  float v = e == 0    ? std::ldexp(float(m), -24)
            : e == 31 ? (m ? NAN : INFINITY)
                      : std::ldexp(float(m | 0x400), e - 25);
  return (h & 0x8000) ? -v : v;
}
static uint16_t floatToBF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  return uint16_t((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
}
static float bf16ToFloat(uint16_t b) {
  uint32_t x = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}
static uint16_t toBits(float v, bool bf16) {
  return bf16 ? floatToBF16(v) : floatToHalf(v);
}
static float fromBits(uint16_t v, bool bf16) {
  return bf16 ? bf16ToFloat(v) : halfToFloat(v);
}
static float regHalf(uint32_t reg, int half, bool bf16) {
  return fromBits(uint16_t(reg >> (16 * half)), bf16);
}
static void setRegHalf(uint32_t &reg, int half, float v, bool bf16) {
  reg &= ~(0xFFFFu << (16 * half));
  reg |= uint32_t(toBits(v, bf16)) << (16 * half);
}

// ---------------------------------------------------------------------------
// The documented model (per warp; wgmma warp w adds 16 w to every row).
// ---------------------------------------------------------------------------
struct RC {
  int row, col;
};
// A (compressed 16x16 tile): reg0 (g, 2t..), reg1 (g+8, 2t..), reg2 (g,
// 2t+8..), reg3 (g+8, 2t+8..); half h = low (0) / high (1) 16 bits.
static RC aPos(int lane, int reg, int half) {
  int g = lane >> 2, t = lane & 3;
  return {g + 8 * (reg & 1), 2 * t + half + 8 * (reg >> 1)};
}
// B (dense 32x8): reg j holds k = 2t + 8j + h, column n = g. RC = {k, n}.
static RC bPos(int lane, int reg, int half) {
  int g = lane >> 2, t = lane & 3;
  return {2 * t + half + 8 * reg, g};
}
// C/D f32: per 8-column block nb (reg >> 2): (g, 2t), (g, 2t+1), (g+8, 2t),
// (g+8, 2t+1).
static RC dPos(int lane, int reg) {
  int g = lane >> 2, t = lane & 3, j = reg & 3, nb = reg >> 2;
  return {g + 8 * (j >> 1), 8 * nb + 2 * t + (j & 1)};
}
// Metadata: with selector s, lane 4g + 2s + p (p = 0, 1) supplies E(g, p);
// nibble c < 4 is row g, group 4p + c; nibble c >= 4 row g + 8, group 4p+c-4.
static bool metaPos(int lane, int nibble, int sel, RC &rowGroup) {
  int g = lane >> 2, t = lane & 3;
  if ((t >> 1) != sel)
    return false;
  int p = t - 2 * sel;
  rowGroup = {g + 8 * (nibble >> 2), 4 * p + (nibble & 3)};
  return true;
}
// Code = p0 | p1 << 2: slot s of a group sits at logical position
// 4q + ((code >> 2s) & 3).
static int slotPos(int code, int slot) { return (code >> (2 * slot)) & 3; }
// wgmma B in shared memory, no swizzle (byte offset of B[k][n]).
static int bAddr(int k, int n, bool mnMajor, int lbo, int sbo) {
  if (!mnMajor)
    return (n / 8) * sbo + (n % 8) * 16 + (k / 8) * lbo + (k % 8) * 2;
  // Measured on an H200 (test/gpu/results/): without swizzling LBO is the
  // k-direction stride and SBO the n-direction one in both majors.
  return (n / 8) * sbo + (n % 8) * 2 + (k / 8) * lbo + (k % 8) * 16;
}

static const int kOrderedCodes[6] = {0x4, 0x8, 0x9, 0xC, 0xD, 0xE};
static const int kReversedCodes[6] = {0x1, 0x2, 0x6, 0x3, 0x7, 0xB};

// A logical problem: rows x 16 compressed A, rows x 8 codes, 32 x n B.
struct Logical {
  int rows, n;
  std::vector<float> a, b;
  std::vector<int> code;
  Logical(int rows, int n)
      : rows(rows), n(n), a(rows * 16, 0.f), b(32 * n, 0.f),
        code(rows * 8, 0x4) {}
  float &A(int r, int cc) { return a[r * 16 + cc]; }
  float &B(int k, int c) { return b[k * n + c]; }
  int &Code(int r, int q) { return code[r * 8 + q]; }
  std::vector<float> product() {
    std::vector<float> d(rows * n, 0.f);
    for (int r = 0; r < rows; ++r)
      for (int q = 0; q < 8; ++q)
        for (int s = 0; s < 2; ++s) {
          int k = 4 * q + slotPos(Code(r, q), s);
          for (int c = 0; c < n; ++c)
            d[r * n + c] += A(r, 2 * q + s) * B(k, c);
        }
    return d;
  }
};

// --- mma.sp m16n8k32: registers <-> logical problem through the model.
static void encodeMma(Logical &L, int sel, bool bf16, MmaRegs *lanes) {
  for (int lane = 0; lane < 32; ++lane) {
    MmaRegs &r = lanes[lane];
    std::memset(&r, 0, sizeof r);
    for (int reg = 0; reg < 4; ++reg)
      for (int h = 0; h < 2; ++h) {
        RC a = aPos(lane, reg, h), b = bPos(lane, reg, h);
        setRegHalf(r.a[reg], h, L.A(a.row, a.col), bf16);
        setRegHalf(r.b[reg], h, L.B(b.row, b.col), bf16);
      }
    for (int c = 0; c < 8; ++c) {
      RC rg;
      if (metaPos(lane, c, sel, rg))
        r.e |= uint32_t(L.Code(rg.row, rg.col)) << (4 * c);
    }
  }
}
static Logical decodeMma(const MmaRegs *lanes, int sel, bool bf16) {
  Logical L(16, 8);
  for (int lane = 0; lane < 32; ++lane)
    for (int reg = 0; reg < 4; ++reg)
      for (int h = 0; h < 2; ++h) {
        RC a = aPos(lane, reg, h), b = bPos(lane, reg, h);
        L.A(a.row, a.col) = regHalf(lanes[lane].a[reg], h, bf16);
        L.B(b.row, b.col) = regHalf(lanes[lane].b[reg], h, bf16);
      }
  for (int lane = 0; lane < 32; ++lane)
    for (int c = 0; c < 8; ++c) {
      RC rg;
      if (metaPos(lane, c, sel, rg))
        L.Code(rg.row, rg.col) = (lanes[lane].e >> (4 * c)) & 0xF;
    }
  return L;
}
static void expectMma(const MmaRegs *lanes, int sel, bool bf16, float *want) {
  Logical L = decodeMma(lanes, sel, bf16);
  std::vector<float> d = L.product();
  for (int lane = 0; lane < 32; ++lane)
    for (int reg = 0; reg < 4; ++reg) {
      RC p = dPos(lane, reg);
      want[lane * 4 + reg] = d[p.row * 8 + p.col] + lanes[lane].c[reg];
    }
}
// Observed D (per the model's D layout) as a rows x n matrix.
static std::vector<float> observedMatrix(const float *out, int threads, int n) {
  int regs = n / 2;
  std::vector<float> d((threads / 32) * 16 * n, 0.f);
  for (int tid = 0; tid < threads; ++tid)
    for (int reg = 0; reg < regs; ++reg) {
      RC p = dPos(tid & 31, reg);
      d[(16 * (tid >> 5) + p.row) * n + p.col] = out[tid * regs + reg];
    }
  return d;
}

// --- wgmma.mma_async.sp m64nNk32, A in registers, B in shared memory.
struct WgTrial {
  std::vector<WgRegs> regs = std::vector<WgRegs>(128);
  std::vector<uint16_t> smem = std::vector<uint16_t>(kSmemBytes / 2, 0);
};
struct WgLayout {
  bool mnMajor;
  int lbo, sbo;
};
static void encodeWg(Logical &L, int sel, const WgLayout &lay, WgTrial &t) {
  for (int tid = 0; tid < 128; ++tid) {
    int w = tid >> 5, lane = tid & 31;
    WgRegs &r = t.regs[tid];
    std::memset(&r, 0, sizeof r);
    for (int reg = 0; reg < 4; ++reg)
      for (int h = 0; h < 2; ++h) {
        RC a = aPos(lane, reg, h);
        setRegHalf(r.a[reg], h, L.A(16 * w + a.row, a.col), false);
      }
    for (int c = 0; c < 8; ++c) {
      RC rg;
      if (metaPos(lane, c, sel, rg))
        r.e |= uint32_t(L.Code(16 * w + rg.row, rg.col)) << (4 * c);
    }
  }
  for (int k = 0; k < 32; ++k)
    for (int c = 0; c < L.n; ++c)
      t.smem[bAddr(k, c, lay.mnMajor, lay.lbo, lay.sbo) / 2] =
          floatToHalf(L.B(k, c));
}
static Logical decodeWg(const WgTrial &t, int n, int sel, const WgLayout &lay) {
  Logical L(64, n);
  for (int tid = 0; tid < 128; ++tid) {
    int w = tid >> 5, lane = tid & 31;
    for (int reg = 0; reg < 4; ++reg)
      for (int h = 0; h < 2; ++h) {
        RC a = aPos(lane, reg, h);
        L.A(16 * w + a.row, a.col) = regHalf(t.regs[tid].a[reg], h, false);
      }
    for (int c = 0; c < 8; ++c) {
      RC rg;
      if (metaPos(lane, c, sel, rg))
        L.Code(16 * w + rg.row, rg.col) = (t.regs[tid].e >> (4 * c)) & 0xF;
    }
  }
  for (int k = 0; k < 32; ++k)
    for (int c = 0; c < n; ++c)
      L.B(k, c) =
          halfToFloat(t.smem[bAddr(k, c, lay.mnMajor, lay.lbo, lay.sbo) / 2]);
  return L;
}
static void expectWg(const WgTrial &t, int n, int sel, const WgLayout &lay,
                     float *want) {
  std::vector<float> d = decodeWg(t, n, sel, lay).product();
  for (int tid = 0; tid < 128; ++tid)
    for (int reg = 0; reg < n / 2; ++reg) {
      RC p = dPos(tid & 31, reg);
      want[tid * (n / 2) + reg] = d[(16 * (tid >> 5) + p.row) * n + p.col];
    }
}

// ---------------------------------------------------------------------------
// Launchers.
// ---------------------------------------------------------------------------
struct MmaVariant {
  const char *name;
  int sel;
  bool bf16, ordered;
  void (*kernel)(const MmaRegs *, float *, int);
};
static const MmaVariant kMmaVariants[] = {
    {"mma.sp::ordered_metadata f16 sel0", 0, false, true,
     mmaSpTrials<true, 0, false>},
    {"mma.sp::ordered_metadata f16 sel1", 1, false, true,
     mmaSpTrials<true, 1, false>},
    {"mma.sp (plain) f16 sel0", 0, false, false, mmaSpTrials<false, 0, false>},
    {"mma.sp (plain) f16 sel1", 1, false, false, mmaSpTrials<false, 1, false>},
    {"mma.sp::ordered_metadata bf16 sel0", 0, true, true,
     mmaSpTrials<true, 0, true>},
    {"mma.sp::ordered_metadata bf16 sel1", 1, true, true,
     mmaSpTrials<true, 1, true>},
};

static int gSimulate = 0; // 0: GPU, 1: the model, 2: model, MN-major swapped

static std::vector<float> runMma(const MmaVariant &v,
                                 const std::vector<MmaRegs> &regs) {
  int trials = int(regs.size() / 32);
  if (gSimulate) {
    std::vector<float> out(regs.size() * 4);
    for (int t = 0; t < trials; ++t)
      expectMma(&regs[t * 32], v.sel, v.bf16, &out[t * 128]);
    return out;
  }
  MmaRegs *dRegs;
  float *dOut;
  CK(cudaMalloc(&dRegs, regs.size() * sizeof(MmaRegs)));
  CK(cudaMalloc(&dOut, regs.size() * 4 * sizeof(float)));
  CK(cudaMemcpy(dRegs, regs.data(), regs.size() * sizeof(MmaRegs),
                cudaMemcpyHostToDevice));
  CK(cudaMemset(dOut, 0xFF, regs.size() * 4 * sizeof(float))); // NaN poison
  v.kernel<<<(trials + 3) / 4, 128>>>(dRegs, dOut, trials);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<float> out(regs.size() * 4);
  CK(cudaMemcpy(out.data(), dOut, out.size() * sizeof(float),
                cudaMemcpyDeviceToHost));
  CK(cudaFree(dRegs));
  CK(cudaFree(dOut));
  return out;
}

struct WgVariant {
  const char *name;
  int n, sel;
  bool mnMajor; // immTransB
  void (*kernel)(const WgRegs *, const uint16_t *, float *, int, int);
};
static const WgVariant kWgVariants[] = {
    {"wgmma.sp m64n8k32 f16 sel0 transB0", 8, 0, false,
     wgmmaSpTrials<8, 0, 0>},
    {"wgmma.sp m64n8k32 f16 sel1 transB0", 8, 1, false,
     wgmmaSpTrials<8, 1, 0>},
    {"wgmma.sp m64n16k32 f16 sel0 transB0", 16, 0, false,
     wgmmaSpTrials<16, 0, 0>},
    {"wgmma.sp m64n8k32 f16 sel0 transB1", 8, 0, true, wgmmaSpTrials<8, 0, 1>},
    {"wgmma.sp m64n8k32 f16 sel1 transB1", 8, 1, true, wgmmaSpTrials<8, 1, 1>},
    {"wgmma.sp m64n16k32 f16 sel0 transB1", 16, 0, true,
     wgmmaSpTrials<16, 0, 1>},
};
constexpr int kLBO = 512, kSBO = 128;

// Uploads the trials' registers and shared-memory images, runs `launch`
// (one 128-thread CTA per trial) and returns `perThread` floats per thread.
template <class Launch>
static std::vector<float> runWgTrials(const std::vector<WgTrial> &trials,
                                      int perThread, Launch launch) {
  std::vector<WgRegs> regs;
  std::vector<uint16_t> smem;
  for (const WgTrial &t : trials) {
    regs.insert(regs.end(), t.regs.begin(), t.regs.end());
    smem.insert(smem.end(), t.smem.begin(), t.smem.end());
  }
  size_t outCount = trials.size() * 128 * perThread;
  WgRegs *dRegs;
  uint16_t *dSmem;
  float *dOut;
  CK(cudaMalloc(&dRegs, regs.size() * sizeof(WgRegs)));
  CK(cudaMalloc(&dSmem, smem.size() * 2));
  CK(cudaMalloc(&dOut, outCount * sizeof(float)));
  CK(cudaMemcpy(dRegs, regs.data(), regs.size() * sizeof(WgRegs),
                cudaMemcpyHostToDevice));
  CK(cudaMemcpy(dSmem, smem.data(), smem.size() * 2, cudaMemcpyHostToDevice));
  CK(cudaMemset(dOut, 0xFF, outCount * sizeof(float)));
  launch(int(trials.size()), dRegs, dSmem, dOut);
  CK(cudaGetLastError());
  CK(cudaDeviceSynchronize());
  std::vector<float> out(outCount);
  CK(cudaMemcpy(out.data(), dOut, outCount * sizeof(float),
                cudaMemcpyDeviceToHost));
  CK(cudaFree(dRegs));
  CK(cudaFree(dSmem));
  CK(cudaFree(dOut));
  return out;
}

static std::vector<float> runWg(const WgVariant &v,
                                const std::vector<WgTrial> &trials, int lbo,
                                int sbo) {
  if (gSimulate) {
    std::vector<float> out(trials.size() * 128 * (v.n / 2));
    WgLayout lay{v.mnMajor, lbo, sbo};
    if (gSimulate == 2 && v.mnMajor)
      std::swap(lay.lbo, lay.sbo);
    for (size_t t = 0; t < trials.size(); ++t)
      expectWg(trials[t], v.n, v.sel, lay, &out[t * 128 * (v.n / 2)]);
    return out;
  }
  return runWgTrials(trials, v.n / 2,
                     [&](int count, const WgRegs *r, const uint16_t *m,
                         float *o) {
                       v.kernel<<<count, 128>>>(r, m, o, lbo, sbo);
                     });
}

// ---------------------------------------------------------------------------
// Reporting.
// ---------------------------------------------------------------------------
static int gPass = 0, gFail = 0;
static std::string gJson = "{";
static bool gJsonFirst = true;
static std::string gJsonPath = "mma_oracle.json";
static std::string gItems;

static void jsonKey(const std::string &key, const std::string &value) {
  gJson += (gJsonFirst ? "\n" : ",\n") + std::string("\"") + key +
           "\": " + value;
  gJsonFirst = false;
}
static std::string jnum(double v) {
  if (std::isnan(v))
    return "\"nan\"";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
static void report(const std::string &name, bool ok, const std::string &why) {
  (ok ? gPass : gFail)++;
  std::printf("%s  %s%s%s\n", ok ? "PASS" : "FAIL", name.c_str(),
              why.empty() ? "" : ": ", why.c_str());
  std::fflush(stdout);
  gItems += std::string(gItems.empty() ? "\n" : ",\n") + "{\"name\": \"" +
            name + "\", \"pass\": " + (ok ? "true" : "false") +
            ", \"detail\": \"" + why + "\"}";
}
// Compares observed and expected accumulator registers of a batch; returns a
// description of the first mismatches ("" when all match).
static std::string compare(const std::vector<float> &got,
                           const std::vector<float> &want, int threads,
                           int regs) {
  size_t perTrial = size_t(threads) * regs, bad = 0;
  std::set<size_t> badTrials;
  std::string first;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i])
      continue;
    if (!bad++) {
      char buf[160];
      size_t idx = i % perTrial;
      std::snprintf(buf, sizeof buf,
                    "trial %zu thread %zu reg %zu: got %g want %g",
                    i / perTrial, idx / regs, idx % regs, got[i], want[i]);
      first = buf;
    }
    badTrials.insert(i / perTrial);
  }
  if (!bad)
    return "";
  return std::to_string(bad) + " registers in " +
         std::to_string(badTrials.size()) + "/" +
         std::to_string(got.size() / perTrial) + " trials differ; first " +
         first;
}

// The T1 decode pattern: A = 1 (slot 0) / 64 (slot 1), B[k][k/4] = k%4+1.
static void decodePattern(Logical &L) {
  for (int r = 0; r < L.rows; ++r)
    for (int q = 0; q < 8; ++q) {
      L.A(r, 2 * q) = 1.f;
      L.A(r, 2 * q + 1) = 64.f;
    }
  for (int k = 0; k < 32; ++k)
    L.B(k, k / 4) = float(k % 4 + 1);
}
// Reads the kept positions back from D[r][q] = (p0+1) + 64 (p1+1); the code
// p0 | p1 << 2, or -1 when the value cannot be such a sum.
static int decodeCode(float v) {
  if (!(v == std::floor(v)) || v < 65 || v > 260)
    return -1;
  int x = int(v), p0 = x % 64 - 1, p1 = x / 64 - 1;
  if (p0 < 0 || p0 > 3 || p1 < 0 || p1 > 3)
    return -1;
  return p0 | (p1 << 2);
}
static std::vector<int> observedCodes(const float *out, int threads, int n) {
  std::vector<float> d = observedMatrix(out, threads, n);
  std::vector<int> codes(d.size());
  for (size_t i = 0; i < d.size(); ++i)
    codes[i] = decodeCode(d[i]);
  return codes;
}
static std::string hex(int v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\"0x%X\"", v);
  return buf;
}

// ---------------------------------------------------------------------------
// mma.sp tests.
// ---------------------------------------------------------------------------
static std::mt19937 gRng(20261123);
static int randInt(int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(gRng);
}
static int randCode() { return kOrderedCodes[randInt(0, 5)]; }
static uint32_t randMetaWord() {
  uint32_t w = 0;
  for (int c = 0; c < 8; ++c)
    w |= uint32_t(randCode()) << (4 * c);
  return w;
}
static uint32_t splat(int code) { return 0x11111111u * uint32_t(code); }

static std::string mmaCodeSemantics(const MmaVariant &v, const int *codes,
                                    int count, std::string &json) {
  std::vector<MmaRegs> regs(count * 32);
  for (int i = 0; i < count; ++i) {
    Logical L(16, 8);
    decodePattern(L);
    encodeMma(L, v.sel, v.bf16, &regs[i * 32]);
    for (int lane = 0; lane < 32; ++lane)
      regs[i * 32 + lane].e = splat(codes[i]);
  }
  std::vector<float> got = runMma(v, regs), want(got.size());
  for (int i = 0; i < count; ++i)
    expectMma(&regs[i * 32], v.sel, v.bf16, &want[i * 128]);
  json = "{";
  for (int i = 0; i < count; ++i) {
    std::vector<int> seen = observedCodes(&got[i * 128], 32, 8);
    std::set<int> distinct(seen.begin(), seen.end());
    json += std::string(i ? ", " : "") + hex(codes[i]) + ": [";
    bool firstCode = true;
    for (int c : distinct) {
      json += (firstCode ? "" : ", ") + (c < 0 ? std::string("null") : hex(c));
      firstCode = false;
    }
    json += "]";
  }
  json += "}";
  return compare(got, want, 32, 4);
}

static void mmaTests(const MmaVariant &v, std::string &json) {
  std::string name = v.name, sub;
  json = "{";
  // T1a: every ordered code in every field means p0 | p1 << 2.
  std::string err = mmaCodeSemantics(v, kOrderedCodes, 6, sub);
  report(name + ": T1 code semantics (6 ordered codes)", err.empty(), err);
  json += "\"codes_observed\": " + sub;
  if (!v.ordered) { // informational: reversed pairs on the plain form
    std::string sub2;
    std::string err2 = mmaCodeSemantics(v, kReversedCodes, 6, sub2);
    std::printf("INFO  %s: reversed codes (p0 > p1) %s the model; observed "
                "{code: [decoded code]} %s\n",
                v.name, err2.empty() ? "match" : "do not match", sub2.c_str());
    json += ", \"reversed_codes_observed\": " + sub2;
  }

  // T1b: lane map. Participating lanes hold 0x4 everywhere, the others junk
  // (random valid codes); each trial flips one field of one lane.
  std::vector<MmaRegs> regs(257 * 32);
  Logical base(16, 8);
  decodePattern(base);
  std::vector<uint32_t> junk(32);
  for (auto &w : junk)
    w = randMetaWord();
  for (int trial = 0; trial < 257; ++trial) {
    MmaRegs *lanes = &regs[trial * 32];
    encodeMma(base, v.sel, v.bf16, lanes);
    for (int lane = 0; lane < 32; ++lane)
      if (((lane & 3) >> 1) != v.sel)
        lanes[lane].e = junk[lane];
    if (trial) {
      int lane = (trial - 1) / 8, c = (trial - 1) % 8;
      uint32_t old = (lanes[lane].e >> (4 * c)) & 0xF;
      uint32_t flip = old == 0xE ? 0x9 : 0xE;
      lanes[lane].e = (lanes[lane].e & ~(0xFu << (4 * c))) | (flip << (4 * c));
    }
  }
  std::vector<float> got = runMma(v, regs), want(got.size());
  for (int trial = 0; trial < 257; ++trial)
    expectMma(&regs[trial * 32], v.sel, v.bf16, &want[trial * 128]);
  err = compare(got, want, 32, 4);
  std::vector<int> baseCodes = observedCodes(&got[0], 32, 8);
  std::string map = "[";
  for (int trial = 1; trial < 257; ++trial) {
    std::vector<int> codes = observedCodes(&got[trial * 128], 32, 8);
    map += std::string(trial > 1 ? ", " : "") + "[" +
           std::to_string((trial - 1) / 8) + ", " +
           std::to_string((trial - 1) % 8) + ", [";
    bool first = true;
    for (int i = 0; i < 128; ++i)
      if (codes[i] != baseCodes[i]) {
        map += std::string(first ? "" : ", ") + "[" + std::to_string(i / 8) +
               ", " + std::to_string(i % 8) + "]";
        first = false;
      }
    map += "]]";
  }
  map += "]";
  report(name + ": T1 lane map (32 lanes x 8 fields, junk in idle lanes)",
         err.empty(), err);
  json += ", \"lane_map_lane_field_rowgroups\": " + map;

  // T1/T2 random: random values, random ordered codes in every lane.
  const int kRandom = 200;
  regs.assign(kRandom * 32, MmaRegs{});
  for (int trial = 0; trial < kRandom; ++trial) {
    Logical L(16, 8);
    for (float &x : L.a)
      x = float(randInt(-3, 3));
    for (float &x : L.b)
      x = float(randInt(-3, 3));
    for (int &c : L.code)
      c = randCode();
    encodeMma(L, v.sel, v.bf16, &regs[trial * 32]);
    for (int lane = 0; lane < 32; ++lane) {
      MmaRegs &r = regs[trial * 32 + lane];
      if (((lane & 3) >> 1) != v.sel)
        r.e = randMetaWord();
      for (float &c : r.c)
        c = float(randInt(-8, 8));
    }
  }
  got = runMma(v, regs);
  want.assign(got.size(), 0.f);
  for (int trial = 0; trial < kRandom; ++trial)
    expectMma(&regs[trial * 32], v.sel, v.bf16, &want[trial * 128]);
  err = compare(got, want, 32, 4);
  report(name + ": random A, B, C, codes (200 trials, exact)", err.empty(),
         err);
  json += "}";
}

// T2 for mma.sp: one-hot A half, B = distinct value per register half.
static void mmaFragmentTests(const MmaVariant &v, std::string &json) {
  std::string name = v.name;
  std::vector<MmaRegs> regs;
  std::vector<int> metas = {0x4, 0xE};
  for (int meta : metas)
    for (int lane = 0; lane < 32; ++lane)
      for (int reg = 0; reg < 4; ++reg)
        for (int h = 0; h < 2; ++h) {
          std::vector<MmaRegs> lanes(32);
          for (int l = 0; l < 32; ++l) {
            std::memset(&lanes[l], 0, sizeof(MmaRegs));
            for (int j = 0; j < 4; ++j)
              for (int hh = 0; hh < 2; ++hh)
                setRegHalf(lanes[l].b[j], hh, float(1 + l * 8 + j * 2 + hh),
                           v.bf16);
            lanes[l].e = splat(meta);
          }
          setRegHalf(lanes[lane].a[reg], h, 1.f, v.bf16);
          regs.insert(regs.end(), lanes.begin(), lanes.end());
        }
  // C -> D: one-hot accumulator, A = B = 0.
  for (int lane = 0; lane < 32; ++lane)
    for (int reg = 0; reg < 4; ++reg) {
      std::vector<MmaRegs> lanes(32);
      for (auto &l : lanes) {
        std::memset(&l, 0, sizeof l);
        l.e = splat(0x4);
      }
      lanes[lane].c[reg] = 5.f;
      regs.insert(regs.end(), lanes.begin(), lanes.end());
    }
  std::vector<float> got = runMma(v, regs), want(got.size());
  int trials = int(regs.size() / 32), abTrials = 512;
  for (int t = 0; t < trials; ++t)
    expectMma(&regs[t * 32], v.sel, v.bf16, &want[t * 128]);
  std::vector<float> gotAB(got.begin(), got.begin() + abTrials * 128),
      wantAB(want.begin(), want.begin() + abTrials * 128);
  std::vector<float> gotC(got.begin() + abTrials * 128, got.end()),
      wantC(want.begin() + abTrials * 128, want.end());
  std::string err = compare(gotAB, wantAB, 32, 4);
  report(name + ": T2 A/B fragments (one-hot A half x distinct B halves, "
                "metadata 0x4 and 0xE)",
         err.empty(), err);
  err = compare(gotC, wantC, 32, 4);
  report(name + ": T2 C/D fragment (one-hot C)", err.empty(), err);
  // Raw: for each one-hot A (meta, lane, reg, half): the non-zero D
  // registers [lane, reg, value]; value - 1 = 8 * B lane + 2 * B reg + half.
  json = "[";
  for (int t = 0; t < abTrials; ++t) {
    int meta = metas[t / 256], rest = t % 256;
    json += std::string(t ? ",\n " : "") + "[" + hex(meta) + ", " +
            std::to_string(rest / 8) + ", " + std::to_string((rest / 2) % 4) +
            ", " + std::to_string(rest % 2) + ", [";
    bool first = true;
    for (int i = 0; i < 128; ++i)
      if (got[t * 128 + i] != 0.f) {
        json += std::string(first ? "" : ", ") + "[" + std::to_string(i / 4) +
                ", " + std::to_string(i % 4) + ", " +
                jnum(got[t * 128 + i]) + "]";
        first = false;
      }
    json += "]]";
  }
  json += "]";
}

// ---------------------------------------------------------------------------
// wgmma.mma_async.sp tests.
// ---------------------------------------------------------------------------
static WgLayout layoutOf(const WgVariant &v) {
  return {v.mnMajor, kLBO, kSBO};
}

static void wgTests(const WgVariant &v, bool laneMap, std::string &json) {
  std::string name = v.name;
  WgLayout lay = layoutOf(v);
  int per = 128 * (v.n / 2);
  json = "{";
  // T1a: code semantics.
  {
    std::vector<WgTrial> trials(6);
    for (int i = 0; i < 6; ++i) {
      Logical L(64, v.n);
      decodePattern(L);
      encodeWg(L, v.sel, lay, trials[i]);
      for (auto &r : trials[i].regs)
        r.e = splat(kOrderedCodes[i]);
    }
    std::vector<float> got = runWg(v, trials, kLBO, kSBO), want(got.size());
    for (int i = 0; i < 6; ++i)
      expectWg(trials[i], v.n, v.sel, lay, &want[i * per]);
    std::string err = compare(got, want, 128, v.n / 2);
    report(name + ": T1 code semantics (6 ordered codes)", err.empty(), err);
  }
  // T1b: lane map over the 128 threads (4 warps x 16 rows).
  if (laneMap) {
    const int count = 1 + 128 * 8;
    std::vector<WgTrial> trials(count);
    Logical base(64, v.n);
    decodePattern(base);
    std::vector<uint32_t> junk(128);
    for (auto &w : junk)
      w = randMetaWord();
    for (int trial = 0; trial < count; ++trial) {
      WgTrial &t = trials[trial];
      encodeWg(base, v.sel, lay, t);
      for (int tid = 0; tid < 128; ++tid)
        if (((tid & 3) >> 1) != v.sel)
          t.regs[tid].e = junk[tid];
      if (trial) {
        int tid = (trial - 1) / 8, c = (trial - 1) % 8;
        uint32_t &e = t.regs[tid].e, old = (e >> (4 * c)) & 0xF;
        uint32_t flip = old == 0xE ? 0x9 : 0xE;
        e = (e & ~(0xFu << (4 * c))) | (flip << (4 * c));
      }
    }
    std::vector<float> got = runWg(v, trials, kLBO, kSBO), want(got.size());
    for (int trial = 0; trial < count; ++trial)
      expectWg(trials[trial], v.n, v.sel, lay, &want[trial * per]);
    std::string err = compare(got, want, 128, v.n / 2);
    std::vector<int> baseCodes = observedCodes(&got[0], 128, v.n);
    std::string map = "[";
    for (int trial = 1; trial < count; ++trial) {
      std::vector<int> codes = observedCodes(&got[trial * per], 128, v.n);
      map += std::string(trial > 1 ? ", " : "") + "[" +
             std::to_string((trial - 1) / 8) + ", " +
             std::to_string((trial - 1) % 8) + ", [";
      bool first = true;
      for (int i = 0; i < 64 * v.n; ++i)
        if (i % v.n < 8 && codes[i] != baseCodes[i]) {
          map += std::string(first ? "" : ", ") + "[" +
                 std::to_string(i / v.n) + ", " + std::to_string(i % v.n) + "]";
          first = false;
        }
      map += "]]";
    }
    map += "]";
    report(name + ": T1 lane map (128 threads x 8 fields, junk in idle lanes)",
           err.empty(), err);
    json += "\"lane_map_thread_field_rowgroups\": " + map + ", ";
  }
  // Random: values, codes, junk in idle lanes and in unused shared memory.
  {
    const int kRandom = 200;
    std::vector<WgTrial> trials(kRandom);
    for (WgTrial &t : trials) {
      Logical L(64, v.n);
      for (float &x : L.a)
        x = float(randInt(-3, 3));
      for (float &x : L.b)
        x = float(randInt(-3, 3));
      for (int &c : L.code)
        c = randCode();
      for (auto &h : t.smem)
        h = floatToHalf(float(randInt(-100, 100)));
      encodeWg(L, v.sel, lay, t);
      for (int tid = 0; tid < 128; ++tid)
        if (((tid & 3) >> 1) != v.sel)
          t.regs[tid].e = randMetaWord();
    }
    std::vector<float> got = runWg(v, trials, kLBO, kSBO), want(got.size());
    for (int i = 0; i < kRandom; ++i)
      expectWg(trials[i], v.n, v.sel, lay, &want[i * per]);
    std::string err = compare(got, want, 128, v.n / 2);
    report(name + ": random A, B, codes; junk in idle lanes and unused smem "
                  "(200 trials, exact)",
           err.empty(), err);
  }
  json += "\"lbo\": " + std::to_string(kLBO) +
          ", \"sbo\": " + std::to_string(kSBO) + "}";
}

// T2 for wgmma: one-hot A register half; B[k][n] = 1 + 8k + n in smem.
static void wgFragmentTests(const WgVariant &v, std::string &json) {
  WgLayout lay = layoutOf(v);
  int per = 128 * (v.n / 2);
  std::vector<WgTrial> trials;
  int metas[2] = {0x4, 0xE};
  for (int meta : metas)
    for (int tid = 0; tid < 128; ++tid)
      for (int slot = 0; slot < 8; ++slot) {
        Logical L(64, v.n);
        for (int k = 0; k < 32; ++k)
          for (int c = 0; c < v.n; ++c)
            L.B(k, c) = float(1 + 8 * k + c);
        WgTrial t;
        encodeWg(L, v.sel, lay, t);
        for (auto &r : t.regs)
          r.e = splat(meta);
        setRegHalf(t.regs[tid].a[slot / 2], slot % 2, 1.f, false);
        trials.push_back(std::move(t));
      }
  std::vector<float> got = runWg(v, trials, kLBO, kSBO), want(got.size());
  for (size_t i = 0; i < trials.size(); ++i)
    expectWg(trials[i], v.n, v.sel, lay, &want[i * per]);
  std::string err = compare(got, want, 128, v.n / 2);
  report(std::string(v.name) +
             ": T2 register-A fragment (one-hot A half, B[k][n] = 1+8k+n, "
             "metadata 0x4 and 0xE)",
         err.empty(), err);
  // Raw: [meta, thread, reg, half, [[thread, reg, value]...]];
  // value - 1 = 8k + n of the B element that met the one-hot A element.
  json = "[";
  for (size_t t = 0; t < trials.size(); ++t) {
    int meta = metas[t / 1024], rest = int(t % 1024);
    json += std::string(t ? ",\n " : "") + "[" + hex(meta) + ", " +
            std::to_string(rest / 8) + ", " + std::to_string((rest % 8) / 2) +
            ", " + std::to_string(rest % 2) + ", [";
    bool first = true;
    for (int i = 0; i < per; ++i)
      if (got[t * per + i] != 0.f) {
        json += std::string(first ? "" : ", ") + "[" +
                std::to_string(i / (v.n / 2)) + ", " +
                std::to_string(i % (v.n / 2)) + ", " +
                jnum(got[t * per + i]) + "]";
        first = false;
      }
    json += "]]";
  }
  json += "]";
}


// --- wgmma with A from shared memory (sparsec's async sm_90a pipeline).
static int aCanonicalAddr(int m, int kc) {
  return (m / 8) * 256 + (kc / 8) * 128 + (m % 8) * 16 + (kc % 8) * 2;
}

static void wgSharedATests(int sel, std::string &json) {
  const int n = 8, per = 128 * (n / 2), trialsCount = 200;
  WgLayout lay{true, kLBO, kSBO};
  std::vector<WgTrial> trials(trialsCount);
  std::vector<float> want(size_t(trialsCount) * per);
  for (int t = 0; t < trialsCount; ++t) {
    Logical L(64, n);
    for (float &x : L.a)
      x = float(randInt(-3, 3));
    for (float &x : L.b)
      x = float(randInt(-3, 3));
    for (int &c : L.code)
      c = randCode();
    WgTrial &trial = trials[t];
    encodeWg(L, sel, lay, trial); // metadata registers; B at offset 0
    std::vector<uint16_t> image(kSmemBytes / 2, 0);
    for (int i = 0; i < 1024; ++i) // B moves to byte offset 2048
      image[1024 + i] = trial.smem[i];
    for (int m = 0; m < 64; ++m)
      for (int kc = 0; kc < 16; ++kc)
        image[aCanonicalAddr(m, kc) / 2] = floatToHalf(L.A(m, kc));
    trial.smem = image;
    for (WgRegs &r : trial.regs) // A comes from shared memory only
      std::fill(std::begin(r.a), std::end(r.a), 0xFFFFFFFFu);
    std::vector<float> d = L.product();
    for (int tid = 0; tid < 128; ++tid)
      for (int reg = 0; reg < n / 2; ++reg) {
        RC p = dPos(tid & 31, reg);
        want[size_t(t) * per + tid * (n / 2) + reg] =
            d[(16 * (tid >> 5) + p.row) * n + p.col];
      }
  }
  std::vector<float> got = want; // --simulate: the model itself
  if (!gSimulate)
    got = runWgTrials(trials, n / 2,
                      [&](int count, const WgRegs *r, const uint16_t *m,
                          float *o) {
                        if (sel)
                          wgmmaSpSharedATrials<8, 1><<<count, 128>>>(r, m, o);
                        else
                          wgmmaSpSharedATrials<8, 0><<<count, 128>>>(r, m, o);
                      });
  std::string err = compare(got, want, 128, n / 2);
  report("wgmma.sp m64n8k32 f16 sel" + std::to_string(sel) +
             ": A from shared memory (K-major canonical, LBO 128, SBO 256) "
             "and B MN-major, 200 random trials",
         err.empty(), err);
  json = "{\"passed\": " + std::string(err.empty() ? "true" : "false") +
         ", \"first_trial_got\": [";
  for (int i = 0; i < per; ++i)
    json += (i ? ", " : "") + jnum(got[i]);
  json += "]}";
}

// Descriptor map: which (k, n) reads each shared-memory half.
static void wgDescriptorMap(const WgVariant &v, std::string &json) {
  WgLayout lay = layoutOf(v);
  int per = 128 * (v.n / 2), halves = kSmemBytes / 2;
  std::map<int, std::set<std::pair<int, int>>> observed; // offset -> (k, n)
  std::string err;
  for (int meta : {0x4, 0xE}) {
    std::vector<WgTrial> trials(halves);
    for (int o = 0; o < halves; ++o) {
      Logical L(64, v.n);
      for (int r = 0; r < 64; ++r)
        for (int q = 0; q < 8; ++q)
          for (int s = 0; s < 2; ++s)
            L.A(r, 2 * q + s) = float(4 * q + slotPos(meta, s) + 1);
      WgTrial &t = trials[o];
      encodeWg(L, v.sel, lay, t);
      for (auto &r : t.regs)
        r.e = splat(meta);
      std::fill(t.smem.begin(), t.smem.end(), 0);
      t.smem[o] = floatToHalf(1.f);
    }
    std::vector<float> got = runWg(v, trials, kLBO, kSBO), want(got.size());
    for (int o = 0; o < halves; ++o)
      expectWg(trials[o], v.n, v.sel, lay, &want[o * per]);
    std::string e = compare(got, want, 128, v.n / 2);
    if (!e.empty() && err.empty())
      err = "metadata " + hex(meta) + ": " + e;
    for (int o = 0; o < halves; ++o) {
      std::vector<float> d = observedMatrix(&got[o * per], 128, v.n);
      for (int r = 0; r < 64; ++r)
        for (int c = 0; c < v.n; ++c) {
          float x = d[r * v.n + c];
          if (x != 0.f)
            observed[2 * o].insert({x == std::floor(x) ? int(x) - 1 : -1, c});
        }
    }
  }
  report(std::string(v.name) + ": B descriptor map (one-hot smem half at each "
                               "of 2048 offsets, LBO 512, SBO 128)",
         err.empty(), err);
  // Which layout hypotheses reproduce the observed map exactly?
  struct Hyp {
    const char *name;
    bool mnMajor;
    int lbo, sbo;
  } hyps[] = {{"K-major", false, kLBO, kSBO},
              {"K-major, LBO/SBO swapped", false, kSBO, kLBO},
              {"MN-major", true, kLBO, kSBO},
              {"MN-major, LBO/SBO swapped", true, kSBO, kLBO}};
  std::string matches;
  for (const Hyp &h : hyps) {
    std::map<int, std::set<std::pair<int, int>>> model;
    for (int k = 0; k < 32; ++k)
      for (int c = 0; c < v.n; ++c)
        model[bAddr(k, c, h.mnMajor, h.lbo, h.sbo)].insert({k, c});
    if (model == observed)
      matches += std::string(matches.empty() ? "" : ", ") + "\"" + h.name +
                 "\"";
  }
  std::printf("INFO  %s: observed map matches: [%s]\n", v.name,
              matches.c_str());
  json = "{\"lbo\": " + std::to_string(kLBO) +
         ", \"sbo\": " + std::to_string(kSBO) +
         ", \"matching_hypotheses\": [" + matches +
         "], \"byte_offset_to_k_n\": [";
  bool first = true;
  for (auto &[offset, kns] : observed) {
    json += std::string(first ? "" : ", ") + "[" + std::to_string(offset);
    for (auto &kn : kns)
      json += ", [" + std::to_string(kn.first) + ", " +
              std::to_string(kn.second) + "]";
    json += "]";
    first = false;
  }
  json += "]}";
}

// Writes what was observed so far (called after each section, so that a
// later crash still leaves a valid file).
static void writeJson(const std::string &error) {
  std::string text = gJson + (gJsonFirst ? "\n" : ",\n") + "\"items\": [" +
                     gItems + "\n],\n\"passed\": " + std::to_string(gPass) +
                     ",\n\"failed\": " + std::to_string(gFail) +
                     ",\n\"error\": \"" + error + "\"\n}\n";
  if (FILE *f = std::fopen(gJsonPath.c_str(), "w")) {
    std::fputs(text.c_str(), f);
    std::fclose(f);
  } else {
    std::printf("cannot write %s\n", gJsonPath.c_str());
  }
}

static void cudaFatal(const char *call, int line, cudaError_t err) {
  std::string msg = std::string("CUDA error in ") + call + " (line " +
                    std::to_string(line) + "): " + cudaGetErrorString(err);
  std::printf("FAIL  %s; stopping (results so far in %s)\n", msg.c_str(),
              gJsonPath.c_str());
  std::fflush(stdout);
  for (char &c : msg)
    if (c == '"' || c == '\\')
      c = '\'';
  writeJson(msg);
  std::exit(2);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--simulate")
      gSimulate = 1;
    else if (arg == "--simulate=swapped")
      gSimulate = 2;
    else if (!arg.empty() && arg[0] == '-') {
      std::printf("usage: mma_oracle [--simulate|--simulate=swapped] "
                  "[results.json]\n");
      return arg == "--help" || arg == "-h" ? 0 : 2;
    } else
      gJsonPath = argv[i];
  }
  int device = 0;
  cudaDeviceProp prop;
  if (gSimulate) {
    std::memset(&prop, 0, sizeof prop);
    std::snprintf(prop.name, sizeof prop.name, "simulated (the model)");
    prop.major = 9;
  } else {
    CK(cudaGetDevice(&device));
    CK(cudaGetDeviceProperties(&prop, device));
  }
  std::printf("device: %s, compute capability %d.%d\n", prop.name, prop.major,
              prop.minor);
  jsonKey("device", "\"" + std::string(prop.name) + "\"");
  jsonKey("compute_capability",
          "\"" + std::to_string(prop.major) + "." + std::to_string(prop.minor) +
              "\"");
  if (prop.major < 8) {
    std::printf("FAIL  this GPU has no sparse tensor cores (sm_80+ needed)\n");
    return 1;
  }

  std::string mmaJson = "{";
  for (size_t i = 0; i < sizeof(kMmaVariants) / sizeof(kMmaVariants[0]); ++i) {
    const MmaVariant &v = kMmaVariants[i];
    std::string sub, frag;
    mmaTests(v, sub);
    mmaFragmentTests(v, frag);
    mmaJson += std::string(i ? ",\n" : "\n") + "\"" + v.name + "\": " + sub;
    if (i == 0)
      mmaJson += ",\n\"" + std::string(v.name) +
                 " A one-hot [meta, lane, reg, half, [[D lane, D reg, value]]]"
                 "\": " + frag;
  }
  jsonKey("mma_sp_m16n8k32", mmaJson + "}");
  writeJson("");

  // Per variant, transB0 first: a descriptor that addresses outside shared
  // memory would end the run, so the riskier MN-major ones come last.
  if (prop.major == 9) {
    for (const WgVariant &v : kWgVariants) {
      std::string sub;
      wgTests(v, /*laneMap=*/v.n == 8 && !v.mnMajor, sub);
      jsonKey(v.name, sub);
      if (v.n == 8 && v.sel == 0 && !v.mnMajor) {
        std::string frag;
        wgFragmentTests(v, frag);
        jsonKey(std::string(v.name) + " A one-hot [meta, thread, reg, half, "
                                      "[[D thread, D reg, value]]]",
                frag);
      }
      if (v.n == 16) {
        std::string map;
        wgDescriptorMap(v, map);
        jsonKey(std::string(v.name) + " descriptor map", map);
      }
      writeJson("");
    }
    for (int sel : {0, 1}) {
      std::string sub;
      wgSharedATests(sel, sub);
      jsonKey("wgmma.sp m64n8k32 f16 sel" + std::to_string(sel) +
                  " A from shared memory",
              sub);
      writeJson("");
    }
  } else {
    std::printf("SKIP  wgmma.mma_async.sp: needs a compute capability 9.x "
                "GPU (sm_90a), this one is %d.%d\n",
                prop.major, prop.minor);
    jsonKey("wgmma_sp_m64nNk32", "\"skipped: not sm_90\"");
  }

  writeJson("");
  std::printf("wrote %s\nmma_oracle: %d passed, %d failed\n",
              gJsonPath.c_str(), gPass, gFail);
  return gFail ? 1 : 0;
}
