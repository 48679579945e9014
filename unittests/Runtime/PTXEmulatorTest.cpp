//===- PTXEmulatorTest.cpp - the CPU PTX interpreter ----------------------===//
//
// Every kernel here is valid PTX (checked with ptxas for its .target while
// writing the tests; the tests themselves do not need CUDA). Set
// PTXEMU_DUMP_DIR to write each module to that directory for such a check.
// Expected values are computed in the tests, with their own reference
// implementations (f16/bf16 rounding, fragment layouts, dense matmuls).
//
//===----------------------------------------------------------------------===//
#include "sparsec/Runtime/PTXEmulator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace sparsec::ptx;

namespace {

std::unique_ptr<Module> mustParse(const std::string &ptx) {
  if (const char *dir = std::getenv("PTXEMU_DUMP_DIR")) {
    static int counter = 0;
    std::ofstream(std::string(dir) + "/m" + std::to_string(counter++) + ".ptx")
        << ptx;
  }
  std::string error;
  std::unique_ptr<Module> m = parseModule(ptx, error);
  EXPECT_TRUE(m) << error;
  return m;
}

template <class T> uint64_t upload(Memory &mem, const std::vector<T> &v) {
  uint64_t addr = mem.allocate(v.size() * sizeof(T));
  EXPECT_NE(addr, 0u);
  EXPECT_EQ(mem.write(addr, v.data(), v.size() * sizeof(T)), "");
  return addr;
}

template <class T>
std::vector<T> download(Memory &mem, uint64_t addr, size_t count) {
  std::vector<T> v(count);
  EXPECT_EQ(mem.read(addr, v.data(), count * sizeof(T)), "");
  return v;
}

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
ParamValue f32Param(float f) { return ParamValue::u32(bitsOf(f)); }

//===----------------------------------------------------------------------===//
// Reference 16-bit float formats, independent of the emulator's bit tricks:
// values are decoded with ldexp and rounding searches the sorted encodings.
//===----------------------------------------------------------------------===//

struct Format16 {
  int expBits, mantBits;
  int bias() const { return (1 << (expBits - 1)) - 1; }
  uint16_t inf() const {
    return static_cast<uint16_t>(((1 << expBits) - 1) << mantBits);
  }
  double decode(uint16_t h) const {
    int e = (h >> mantBits) & ((1 << expBits) - 1);
    int m = h & ((1 << mantBits) - 1);
    double v;
    if (e == (1 << expBits) - 1)
      v = m ? std::numeric_limits<double>::quiet_NaN()
            : std::numeric_limits<double>::infinity();
    else if (e == 0)
      v = std::ldexp(m, 1 - bias() - mantBits);
    else
      v = std::ldexp(m + (1 << mantBits), e - bias() - mantBits);
    return (h & 0x8000) ? -v : v;
  }
  // Round-to-nearest-even of x (NaN -> 0x7fff, the emulator's convention).
  uint16_t round(float x) const {
    if (std::isnan(x))
      return 0x7fff;
    uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    double ax = std::fabs(static_cast<double>(x));
    if (std::isinf(ax))
      return sign | inf();
    // Largest positive finite encoding whose value is <= ax.
    uint16_t lo = 0, hi = inf() - 1;
    if (decode(hi) <= ax) {
      lo = hi;
    } else {
      while (lo + 1 < hi) { // decode(lo) <= ax < decode(hi)
        uint16_t mid = static_cast<uint16_t>((lo + hi) / 2);
        if (decode(mid) <= ax)
          lo = mid;
        else
          hi = mid;
      }
    }
    double vlo = decode(lo);
    double vhi = lo + 1 == inf() ? std::ldexp(1.0, (1 << expBits) - 1 - bias())
                                 : decode(static_cast<uint16_t>(lo + 1));
    double dlo = ax - vlo, dhi = vhi - ax;
    uint16_t pick = dlo < dhi       ? lo
                    : dhi < dlo     ? static_cast<uint16_t>(lo + 1)
                    : (lo % 2 == 0) ? lo
                                    : static_cast<uint16_t>(lo + 1);
    return sign | pick;
  }
};
const Format16 kHalf{5, 10};
const Format16 kBf16{8, 7};

const char *kHeader80 = ".version 8.5\n.target sm_80\n.address_size 64\n";
const char *kHeader90 = ".version 8.5\n.target sm_90a\n.address_size 64\n";

//===----------------------------------------------------------------------===//
// 1. Integer / float arithmetic and predication
//===----------------------------------------------------------------------===//

TEST(PTXEmulator, SaxpyWithBoundsPredication) {
  std::string ptx = std::string(kHeader80) + R"(
.visible .entry saxpy(
    .param .u64 px,
    .param .u64 py,
    .param .u32 pn,
    .param .f32 pa)
{
  .reg .pred %p<2>;
  .reg .b32 %r<8>;
  .reg .f32 %f<5>;
  .reg .b64 %rd<8>;

  ld.param.u64 %rd1, [px];
  ld.param.u64 %rd2, [py];
  ld.param.u32 %r1, [pn];
  ld.param.f32 %f1, [pa];
  cvta.to.global.u64 %rd1, %rd1;
  cvta.to.global.u64 %rd2, %rd2;
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r5, %r2, %r3, %r4;
  setp.lt.u32 %p1, %r5, %r1;
  mul.wide.u32 %rd3, %r5, 4;
  add.s64 %rd4, %rd1, %rd3;
  add.s64 %rd5, %rd2, %rd3;
  @%p1 ld.global.f32 %f2, [%rd4];
  @%p1 ld.global.f32 %f3, [%rd5];
  fma.rn.f32 %f4, %f1, %f2, %f3;
  @%p1 st.global.f32 [%rd5], %f4;
  ret;
}
)";
  auto m = mustParse(ptx);
  ASSERT_TRUE(m);
  EXPECT_EQ(kernelNames(*m), std::vector<std::string>{"saxpy"});
  const uint32_t n = 1000; // not a multiple of the block: tail predicated off
  std::vector<float> x(n), y(n);
  for (uint32_t i = 0; i < n; ++i) {
    x[i] = 0.25f * static_cast<float>(i) - 7.0f;
    y[i] = std::sin(static_cast<float>(i));
  }
  Memory mem;
  uint64_t dx = upload(mem, x), dy = upload(mem, y);
  const float a = 1.75f;
  LaunchStats stats;
  ASSERT_EQ(launch(*m, "saxpy", {8, 1, 1}, {128, 1, 1}, 0,
                   {ParamValue::u64(dx), ParamValue::u64(dy),
                    ParamValue::u32(n), f32Param(a)},
                   mem, &stats),
            "");
  std::vector<float> out = download<float>(mem, dy, n);
  for (uint32_t i = 0; i < n; ++i)
    ASSERT_EQ(bitsOf(out[i]), bitsOf(std::fma(a, x[i], y[i]))) << i;
  // 19 instructions (ret included) for each of 8 CTAs x 4 warps.
  EXPECT_EQ(stats.instructions, 19u * 8 * 4);
  EXPECT_EQ(stats.mmaInstructions, 0u);
}

TEST(PTXEmulator, IntegerAndFloatOps) {
  std::string ptx = std::string(kHeader80) + R"(
.visible .entry arith(
    .param .u64 pa,
    .param .u64 pb,
    .param .u64 pf,
    .param .u64 pout)
{
  .reg .pred %p<8>;
  .reg .b16 %h<4>;
  .reg .b32 %r<80>;
  .reg .f32 %f<20>;
  .reg .b64 %rd<32>;

  ld.param.u64 %rd1, [pa];
  ld.param.u64 %rd2, [pb];
  ld.param.u64 %rd3, [pf];
  ld.param.u64 %rd4, [pout];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mad.lo.s32 %r4, %r2, %r3, %r1;
  mul.wide.u32 %rd5, %r4, 4;
  add.s64 %rd6, %rd1, %rd5;
  ld.global.u32 %r5, [%rd6];
  add.s64 %rd7, %rd2, %rd5;
  ld.global.u32 %r6, [%rd7];
  add.s64 %rd8, %rd3, %rd5;
  ld.global.f32 %f1, [%rd8];
  mul.wide.u32 %rd9, %r4, 192;
  add.s64 %rd10, %rd4, %rd9;

  add.s32 %r10, %r5, %r6;
  st.global.u32 [%rd10], %r10;
  sub.s32 %r11, %r5, %r6;
  st.global.u32 [%rd10+4], %r11;
  mul.lo.s32 %r12, %r5, %r6;
  st.global.u32 [%rd10+8], %r12;
  mul.hi.s32 %r13, %r5, %r6;
  st.global.u32 [%rd10+12], %r13;
  mul.wide.s32 %rd11, %r5, %r6;
  st.global.u64 [%rd10+16], %rd11;
  mul.wide.u32 %rd12, %r5, %r6;
  st.global.u64 [%rd10+24], %rd12;
  mul.hi.u32 %r14, %r5, %r6;
  st.global.u32 [%rd10+32], %r14;
  mad.lo.s32 %r15, %r5, %r6, 7;
  st.global.u32 [%rd10+36], %r15;
  div.s32 %r16, %r5, %r6;
  st.global.u32 [%rd10+40], %r16;
  rem.s32 %r17, %r5, %r6;
  st.global.u32 [%rd10+44], %r17;
  div.u32 %r18, %r5, %r6;
  st.global.u32 [%rd10+48], %r18;
  rem.u32 %r19, %r5, %r6;
  st.global.u32 [%rd10+52], %r19;
  min.s32 %r20, %r5, %r6;
  st.global.u32 [%rd10+56], %r20;
  max.s32 %r21, %r5, %r6;
  st.global.u32 [%rd10+60], %r21;
  min.u32 %r22, %r5, %r6;
  st.global.u32 [%rd10+64], %r22;
  max.u32 %r23, %r5, %r6;
  st.global.u32 [%rd10+68], %r23;
  neg.s32 %r24, %r5;
  st.global.u32 [%rd10+72], %r24;
  abs.s32 %r25, %r5;
  st.global.u32 [%rd10+76], %r25;
  and.b32 %r26, %r6, 31;
  shl.b32 %r27, %r5, %r26;
  st.global.u32 [%rd10+80], %r27;
  shr.s32 %r28, %r5, %r26;
  st.global.u32 [%rd10+84], %r28;
  shr.u32 %r29, %r5, %r26;
  st.global.u32 [%rd10+88], %r29;
  and.b32 %r30, %r5, %r6;
  st.global.u32 [%rd10+92], %r30;
  or.b32 %r31, %r5, %r6;
  st.global.u32 [%rd10+96], %r31;
  xor.b32 %r32, %r5, %r6;
  st.global.u32 [%rd10+100], %r32;
  not.b32 %r33, %r5;
  st.global.u32 [%rd10+104], %r33;
  setp.lt.s32 %p1, %r5, %r6;
  selp.b32 %r34, %r5, %r6, %p1;
  st.global.u32 [%rd10+108], %r34;
  setp.lt.u32 %p2, %r5, %r6;
  selp.u32 %r35, 1, 0, %p2;
  st.global.u32 [%rd10+112], %r35;
  add.sat.s32 %r36, %r5, %r6;
  st.global.u32 [%rd10+116], %r36;
  cvt.s64.s32 %rd13, %r5;
  st.global.u64 [%rd10+120], %rd13;
  cvt.s64.s32 %rd14, %r6;
  mul.lo.s64 %rd15, %rd13, %rd14;
  shl.b64 %rd16, %rd15, 3;
  st.global.u64 [%rd10+128], %rd16;
  cvt.rn.f32.s32 %f2, %r5;
  fma.rn.f32 %f3, %f1, 0f40200000, %f2;
  st.global.f32 [%rd10+136], %f3;
  mul.f32 %f4, %f1, 0f42C80000;
  cvt.rzi.s32.f32 %r37, %f4;
  st.global.u32 [%rd10+140], %r37;
  max.f32 %f5, %f1, 0f00000000;
  st.global.f32 [%rd10+144], %f5;
  div.rn.f32 %f6, %f1, 0f40400000;
  st.global.f32 [%rd10+148], %f6;
  abs.f32 %f7, %f1;
  sqrt.rn.f32 %f8, %f7;
  st.global.f32 [%rd10+152], %f8;
  setp.gt.f32 %p3, %f1, 0f00000000;
  @%p3 mov.u32 %r38, 111;
  @!%p3 mov.u32 %r38, 222;
  st.global.u32 [%rd10+156], %r38;
  cvt.rni.s32.f32 %r39, %f4;
  st.global.u32 [%rd10+160], %r39;
  cvt.u16.u32 %h1, %r5;
  cvt.u32.u16 %r40, %h1;
  st.global.u32 [%rd10+164], %r40;
  ex2.approx.ftz.f32 %f9, %f1;
  st.global.f32 [%rd10+168], %f9;
  rcp.approx.f32 %f10, %f1;
  st.global.f32 [%rd10+172], %f10;
  setp.gt.s32 %p4, %r5, 0;
  setp.gt.s32 %p5, %r6, 0;
  and.pred %p6, %p4, %p5;
  xor.pred %p7, %p4, %p5;
  selp.u32 %r41, 2, 0, %p6;
  selp.u32 %r42, 1, 0, %p7;
  add.s32 %r43, %r41, %r42;
  st.global.u32 [%rd10+176], %r43;
  neg.f32 %f11, %f1;
  sub.f32 %f12, %f11, 1.5;
  st.global.f32 [%rd10+180], %f12;
  setp.ge.and.s32 %p1, %r5, %r6, !%p4;
  selp.u32 %r44, 1, 0, %p1;
  st.global.u32 [%rd10+184], %r44;
  ret;
}
)";
  auto m = mustParse(ptx);
  ASSERT_TRUE(m);
  const uint32_t n = 128;
  std::mt19937 rng(7);
  std::vector<int32_t> a(n), b(n);
  std::vector<float> f(n);
  for (uint32_t i = 0; i < n; ++i) {
    int scale = 1 << (i % 31);
    a[i] = static_cast<int32_t>(rng() % (2u * scale + 1)) - scale;
    b[i] = static_cast<int32_t>(rng() % 2001) - 1000;
    if (b[i] == 0 || b[i] == -1)
      b[i] = 3;
    f[i] = std::ldexp(static_cast<float>(rng() % 20001) - 10000.0f, -10);
  }
  a[0] = std::numeric_limits<int32_t>::min();
  a[1] = std::numeric_limits<int32_t>::max();
  b[1] = 5;
  Memory mem;
  uint64_t da = upload(mem, a), db = upload(mem, b), df = upload(mem, f);
  uint64_t dout = mem.allocate(n * 192);
  ASSERT_EQ(launch(*m, "arith", {2, 1, 1}, {64, 1, 1}, 0,
                   {ParamValue::u64(da), ParamValue::u64(db),
                    ParamValue::u64(df), ParamValue::u64(dout)},
                   mem),
            "");
  std::vector<uint32_t> out = download<uint32_t>(mem, dout, n * 48);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t *o = &out[i * 48];
    int32_t x = a[i], y = b[i];
    uint32_t ux = static_cast<uint32_t>(x), uy = static_cast<uint32_t>(y);
    int64_t wide = static_cast<int64_t>(x) * y;
    uint64_t uwide = static_cast<uint64_t>(ux) * uy;
    auto u64at = [&](int w) { return o[w] | uint64_t(o[w + 1]) << 32; };
    SCOPED_TRACE("thread " + std::to_string(i) + " a=" + std::to_string(x) +
                 " b=" + std::to_string(y));
    EXPECT_EQ(o[0], ux + uy);
    EXPECT_EQ(o[1], ux - uy);
    EXPECT_EQ(o[2], ux * uy);
    EXPECT_EQ(o[3], static_cast<uint32_t>(static_cast<uint64_t>(wide) >> 32));
    EXPECT_EQ(u64at(4), static_cast<uint64_t>(wide));
    EXPECT_EQ(u64at(6), uwide);
    EXPECT_EQ(o[8], static_cast<uint32_t>(uwide >> 32));
    EXPECT_EQ(o[9], ux * uy + 7);
    EXPECT_EQ(o[10], static_cast<uint32_t>(x / y));
    EXPECT_EQ(o[11], static_cast<uint32_t>(x % y));
    EXPECT_EQ(o[12], ux / uy);
    EXPECT_EQ(o[13], ux % uy);
    EXPECT_EQ(o[14], static_cast<uint32_t>(std::min(x, y)));
    EXPECT_EQ(o[15], static_cast<uint32_t>(std::max(x, y)));
    EXPECT_EQ(o[16], std::min(ux, uy));
    EXPECT_EQ(o[17], std::max(ux, uy));
    EXPECT_EQ(o[18], 0u - ux);
    EXPECT_EQ(o[19], x < 0 ? 0u - ux : ux);
    uint32_t s = uy & 31;
    EXPECT_EQ(o[20], ux << s);
    EXPECT_EQ(o[21], static_cast<uint32_t>(x >> s));
    EXPECT_EQ(o[22], ux >> s);
    EXPECT_EQ(o[23], ux & uy);
    EXPECT_EQ(o[24], ux | uy);
    EXPECT_EQ(o[25], ux ^ uy);
    EXPECT_EQ(o[26], ~ux);
    EXPECT_EQ(o[27], static_cast<uint32_t>(x < y ? x : y));
    EXPECT_EQ(o[28], ux < uy ? 1u : 0u);
    int64_t sat = std::min<int64_t>(
        INT32_MAX, std::max<int64_t>(INT32_MIN, int64_t(x) + y));
    EXPECT_EQ(o[29], static_cast<uint32_t>(static_cast<int32_t>(sat)));
    EXPECT_EQ(u64at(30), static_cast<uint64_t>(static_cast<int64_t>(x)));
    EXPECT_EQ(u64at(32), static_cast<uint64_t>(wide) << 3);
    EXPECT_EQ(o[34], bitsOf(std::fma(f[i], 2.5f, static_cast<float>(x))));
    float f100 = f[i] * 100.0f;
    EXPECT_EQ(o[35], static_cast<uint32_t>(static_cast<int32_t>(f100)));
    EXPECT_EQ(o[36], bitsOf(f[i] > 0 ? f[i] : 0.0f));
    EXPECT_EQ(o[37], bitsOf(f[i] / 3.0f));
    EXPECT_EQ(o[38], bitsOf(std::sqrt(std::fabs(f[i]))));
    EXPECT_EQ(o[39], f[i] > 0 ? 111u : 222u);
    EXPECT_EQ(o[40], static_cast<uint32_t>(
                         static_cast<int32_t>(std::nearbyint(f100))));
    EXPECT_EQ(o[41], ux & 0xffffu);
    EXPECT_NEAR(floatOf(o[42]), std::exp2(f[i]),
                1e-5f * std::exp2(f[i]) + 1e-30f);
    if (f[i] != 0) {
      EXPECT_NEAR(floatOf(o[43]), 1.0f / f[i], 1e-5f * std::fabs(1.0f / f[i]));
    }
    EXPECT_EQ(o[44],
              (x > 0 && y > 0 ? 2u : 0u) + ((x > 0) != (y > 0) ? 1u : 0u));
    EXPECT_EQ(o[45], bitsOf(-f[i] - 1.5f));
    EXPECT_EQ(o[46], (x >= y && !(x > 0)) ? 1u : 0u);
  }
}

TEST(PTXEmulator, SpecialRegistersAndSharedSymbols) {
  // 2-D grid and block; a static and a dynamic shared array; symbol
  // addresses as values; .reqntid is enforced.
  std::string ptx = std::string(kHeader80) + R"(
.extern .shared .align 16 .b8 dyn[];

.visible .entry ids(
    .param .u64 pout)
.reqntid 8, 4, 1
{
  .reg .b32 %r<24>;
  .reg .b64 %rd<8>;
  .shared .align 4 .b8 stat[100];

  ld.param.u64 %rd1, [pout];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, %tid.y;
  mov.u32 %r3, %ntid.x;
  mad.lo.s32 %r4, %r2, %r3, %r1;
  mov.u32 %r5, %ctaid.x;
  mov.u32 %r6, %ctaid.y;
  mov.u32 %r7, %nctaid.x;
  mad.lo.s32 %r8, %r6, %r7, %r5;
  mad.lo.s32 %r9, %r8, 32, %r4;
  mov.u32 %r10, dyn;
  mov.u32 %r11, stat;
  shl.b32 %r12, %r4, 2;
  add.s32 %r13, %r10, %r12;
  st.shared.u32 [%r13], %r9;
  ld.shared.u32 %r14, [%r13];
  st.shared.u32 [stat+8], %r14;
  mov.u32 %r15, %laneid;
  mov.u32 %r16, %nctaid.y;
  mul.wide.u32 %rd2, %r9, 24;
  add.s64 %rd3, %rd1, %rd2;
  st.global.v2.u32 [%rd3], {%r14, %r15};
  st.global.v2.u32 [%rd3+8], {%r10, %r11};
  st.global.v2.u32 [%rd3+16], {%r16, %r5};
  ret;
}
)";
  auto m = mustParse(ptx);
  ASSERT_TRUE(m);
  Memory mem;
  uint64_t out = mem.allocate(6 * 32 * 24);
  std::string err =
      launch(*m, "ids", {3, 2, 1}, {8, 4, 1}, 128, {ParamValue::u64(out)}, mem);
  // Everyone writes stat+8: a write-after-write race between threads.
  EXPECT_NE(err.find("shared-memory race"), std::string::npos) << err;
  EXPECT_NE(err.find("writes bytes written by thread (0,0,0)"),
            std::string::npos)
      << err;

  // Without the racy store (ptxas-valid predication on tid == 0).
  std::string fixed = ptx;
  size_t at = fixed.find("  st.shared.u32 [stat+8], %r14;");
  ASSERT_NE(at, std::string::npos);
  fixed.replace(at, std::strlen("  st.shared.u32 [stat+8], %r14;"),
                "  .reg .pred %q;\n  setp.eq.u32 %q, %r4, 0;\n"
                "  @%q st.shared.u32 [stat+8], %r14;");
  m = mustParse(fixed);
  ASSERT_TRUE(m);
  ASSERT_EQ(
      launch(*m, "ids", {3, 2, 1}, {8, 4, 1}, 128, {ParamValue::u64(out)}, mem),
      "");
  std::vector<uint32_t> o = download<uint32_t>(mem, out, 6 * 32 * 6);
  for (uint32_t cta = 0; cta < 6; ++cta)
    for (uint32_t t = 0; t < 32; ++t) {
      uint32_t g = cta * 32 + t;
      const uint32_t *r = &o[g * 6];
      EXPECT_EQ(r[0], g);
      EXPECT_EQ(r[1], t % 32);
      EXPECT_EQ(r[2] % 16, 0u); // dyn: 16-aligned, after stat
      EXPECT_GE(r[2], r[3] + 100);
      EXPECT_EQ(r[4], 2u);
      EXPECT_EQ(r[5], cta % 3);
    }
  // .reqntid mismatch and too little dynamic shared memory are errors.
  err = launch(*m, "ids", {1, 1, 1}, {32, 1, 1}, 128, {ParamValue::u64(out)},
               mem);
  EXPECT_NE(err.find(".reqntid"), std::string::npos) << err;
  err =
      launch(*m, "ids", {1, 1, 1}, {8, 4, 1}, 64, {ParamValue::u64(out)}, mem);
  EXPECT_NE(err.find("outside the CTA's"), std::string::npos) << err;
  err = launch(*m, "ids", {1, 1, 1}, {8, 4, 1}, 128, {}, mem);
  EXPECT_NE(err.find("expects 1 parameters"), std::string::npos) << err;
}

TEST(PTXEmulator, ShflModes) {
  std::string ptx = std::string(kHeader80) + R"(
.visible .entry shfl(
    .param .u64 pout)
{
  .reg .b32 %r<16>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [pout];
  mov.u32 %r1, %tid.x;
  mad.lo.s32 %r2, %r1, 3, 1;
  xor.b32 %r3, %r1, 5;
  shfl.sync.idx.b32 %r4, %r2, %r3, 31, 0xffffffff;
  shfl.sync.down.b32 %r5, %r2, 3, 31, 0xffffffff;
  shfl.sync.up.b32 %r6, %r2, 2, 0, 0xffffffff;
  shfl.sync.bfly.b32 %r7, %r2, 9, 31, 0xffffffff;
  shfl.sync.idx.b32 %r8, %r2, 1, 0x181f, 0xffffffff;
  mul.wide.u32 %rd2, %r1, 20;
  add.s64 %rd3, %rd1, %rd2;
  st.global.u32 [%rd3], %r4;
  st.global.u32 [%rd3+4], %r5;
  st.global.u32 [%rd3+8], %r6;
  st.global.u32 [%rd3+12], %r7;
  st.global.u32 [%rd3+16], %r8;
  ret;
}
)";
  auto m = mustParse(ptx);
  ASSERT_TRUE(m);
  Memory mem;
  uint64_t out = mem.allocate(64 * 20);
  ASSERT_EQ(
      launch(*m, "shfl", {1, 1, 1}, {64, 1, 1}, 0, {ParamValue::u64(out)}, mem),
      "");
  std::vector<uint32_t> o = download<uint32_t>(mem, out, 64 * 5);
  for (uint32_t t = 0; t < 64; ++t) {
    uint32_t w = t & ~31u, l = t & 31;
    auto v = [&](uint32_t lane) { return (w + lane) * 3 + 1; };
    EXPECT_EQ(o[t * 5 + 0], v(l ^ 5)) << t;
    EXPECT_EQ(o[t * 5 + 1], v(l + 3 <= 31 ? l + 3 : l)) << t;
    EXPECT_EQ(o[t * 5 + 2], v(l >= 2 ? l - 2 : l)) << t;
    EXPECT_EQ(o[t * 5 + 3], v(l ^ 9)) << t;
    // Segments of 8 lanes (segmask 0x18): lane 1 of each segment.
    EXPECT_EQ(o[t * 5 + 4], v((l & 0x18) | 1)) << t;
  }
}

TEST(PTXEmulator, NarrowAccessesPackingAndComments) {
  std::string ptx = std::string(kHeader80) + R"(
/* A block comment
   over several lines. */
.visible .entry narrow(  // a trailing comment
    .param .u64 pin,
    .param .u64 pout)
{
  .reg .b16 %h<6>;
  .reg .b32 %r<16>;
  .reg .b64 %rd<16>;

  ld.param.u64 %rd1, [pin];
  ld.param.u64 %rd2, [pout];
  mov.u32 %r1, %tid.x;
  cvt.u64.u32 %rd3, %r1;
  add.s64 %rd4, %rd1, %rd3;
  ld.global.u8 %r2, [%rd4];
  ld.global.s8 %r3, [%rd4];
  ld.global.s8 %rd5, [%rd4];
  shl.b64 %rd6, %rd3, 1;
  add.s64 %rd7, %rd1, %rd6;
  ld.global.u16 %r4, [%rd7];
  ld.global.s16 %r5, [%rd7];
  shl.b64 %rd8, %rd3, 3;
  add.s64 %rd9, %rd1, %rd8;
  ld.global.v4.b16 {%h1, %h2, %h3, %h4}, [%rd9];
  mov.b32 %r6, {%h4, %h1};
  mov.b64 %rd10, {%r5, %r6};
  mov.b64 {%r7, %r8}, %rd10;
  mul.wide.u32 %rd11, %r1, 32;
  add.s64 %rd12, %rd2, %rd11;
  st.global.v4.u32 [%rd12], {%r2, %r3, %r4, %r5};
  st.global.u64 [%rd12+16], %rd5;
  st.global.u32 [%rd12+24], %r6;
  st.global.u8 [%rd12+28], %r5;
  st.global.b16 [%rd12+30], %h2;
  st.global.u8 [%rd12+29], %r8;
  ret;
}
)";
  auto m = mustParse(ptx);
  ASSERT_TRUE(m);
  std::vector<uint8_t> in(256);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = static_cast<uint8_t>(i * 29 + 130);
  Memory mem;
  uint64_t din = upload(mem, in), dout = mem.allocate(32 * 32);
  ASSERT_EQ(launch(*m, "narrow", {1, 1, 1}, {32, 1, 1}, 0,
                   {ParamValue::u64(din), ParamValue::u64(dout)}, mem),
            "");
  std::vector<uint8_t> o = download<uint8_t>(mem, dout, 32 * 32);
  for (uint32_t t = 0; t < 32; ++t) {
    const uint8_t *r = &o[t * 32];
    auto word = [&](int off) {
      uint32_t w;
      std::memcpy(&w, r + off, 4);
      return w;
    };
    uint16_t u16 = static_cast<uint16_t>(in[2 * t] | in[2 * t + 1] << 8);
    auto h = [&](int i) {
      return static_cast<uint32_t>(in[8 * t + 2 * i] | in[8 * t + 2 * i + 1]
                                                           << 8);
    };
    EXPECT_EQ(word(0), in[t]);
    EXPECT_EQ(word(4), static_cast<uint32_t>(static_cast<int8_t>(in[t])));
    EXPECT_EQ(word(8), u16);
    EXPECT_EQ(word(12), static_cast<uint32_t>(static_cast<int16_t>(u16)));
    uint64_t s64;
    std::memcpy(&s64, r + 16, 8);
    EXPECT_EQ(s64, static_cast<uint64_t>(static_cast<int8_t>(in[t])));
    EXPECT_EQ(word(24), h(3) | h(0) << 16); // first element: low half
    EXPECT_EQ(r[28], static_cast<uint8_t>(u16));
    EXPECT_EQ(r[29], in[8 * t + 6]); // low byte of %r6 via the b64 pack
    EXPECT_EQ(r[30] | r[31] << 8, static_cast<int>(h(1)));
  }
}

// Directed rounding of add/mul/fma, checked against an exact double result
// rounded by hand.
TEST(PTXEmulator, DirectedRounding) {
  std::string ptx = std::string(kHeader80) + R"(
.visible .entry rnd(
    .param .u64 pin,
    .param .u64 pout)
{
  .reg .f32 %f<16>;
  .reg .b32 %r<4>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [pin];
  ld.param.u64 %rd2, [pout];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd3, %r1, 12;
  add.s64 %rd4, %rd1, %rd3;
  ld.global.f32 %f1, [%rd4];
  ld.global.f32 %f2, [%rd4+4];
  ld.global.f32 %f3, [%rd4+8];
  add.rz.f32 %f4, %f1, %f2;
  add.rm.f32 %f5, %f1, %f2;
  add.rp.f32 %f6, %f1, %f2;
  sub.rz.f32 %f7, %f1, %f2;
  mul.rz.f32 %f8, %f1, %f2;
  mul.rp.f32 %f9, %f1, %f2;
  fma.rz.f32 %f10, %f1, %f2, %f3;
  fma.rm.f32 %f11, %f1, %f2, %f3;
  add.rn.f32 %f12, %f1, %f2;
  mul.wide.u32 %rd5, %r1, 36;
  add.s64 %rd6, %rd2, %rd5;
  st.global.f32 [%rd6], %f4;
  st.global.f32 [%rd6+4], %f5;
  st.global.f32 [%rd6+8], %f6;
  st.global.f32 [%rd6+12], %f7;
  st.global.f32 [%rd6+16], %f8;
  st.global.f32 [%rd6+20], %f9;
  st.global.f32 [%rd6+24], %f10;
  st.global.f32 [%rd6+28], %f11;
  st.global.f32 [%rd6+32], %f12;
  ret;
}
)";
  auto m = mustParse(ptx);
  ASSERT_TRUE(m);
  const uint32_t n = 64;
  std::mt19937 rng(17);
  std::vector<float> in;
  for (uint32_t i = 0; i < n; ++i) {
    // Operands within a factor 2^20 of each other: exact in double.
    float a = std::ldexp(static_cast<float>(rng() % 0xffffff + 1), -23);
    float b = std::ldexp(static_cast<float>(rng() % 0xffffff + 1),
                         -23 - static_cast<int>(rng() % 20));
    float c = std::ldexp(static_cast<float>(rng() % 0xffff), -30);
    if (i % 2)
      b = -b;
    if (i % 3 == 0)
      a = -a;
    in.insert(in.end(), {a, b, c});
  }
  Memory mem;
  uint64_t din = upload(mem, in), dout = mem.allocate(n * 36);
  ASSERT_EQ(launch(*m, "rnd", {1, 1, 1}, {n, 1, 1}, 0,
                   {ParamValue::u64(din), ParamValue::u64(dout)}, mem),
            "");
  std::vector<float> o = download<float>(mem, dout, n * 9);
  auto rz = [](double x) {
    float r = static_cast<float>(x);
    return std::fabs(static_cast<double>(r)) > std::fabs(x)
               ? std::nextafter(r, 0.0f)
               : r;
  };
  auto rm = [](double x) {
    float r = static_cast<float>(x);
    return static_cast<double>(r) > x ? std::nextafter(r, -INFINITY) : r;
  };
  auto rp = [](double x) {
    float r = static_cast<float>(x);
    return static_cast<double>(r) < x ? std::nextafter(r, INFINITY) : r;
  };
  int inexact = 0;
  for (uint32_t i = 0; i < n; ++i) {
    double a = in[3 * i], b = in[3 * i + 1], c = in[3 * i + 2];
    const float *r = &o[9 * i];
    SCOPED_TRACE(i);
    EXPECT_EQ(bitsOf(r[0]), bitsOf(rz(a + b)));
    EXPECT_EQ(bitsOf(r[1]), bitsOf(rm(a + b)));
    EXPECT_EQ(bitsOf(r[2]), bitsOf(rp(a + b)));
    EXPECT_EQ(bitsOf(r[3]), bitsOf(rz(a - b)));
    EXPECT_EQ(bitsOf(r[4]), bitsOf(rz(a * b)));
    EXPECT_EQ(bitsOf(r[5]), bitsOf(rp(a * b)));
    EXPECT_EQ(bitsOf(r[6]), bitsOf(rz(a * b + c)));
    EXPECT_EQ(bitsOf(r[7]), bitsOf(rm(a * b + c)));
    EXPECT_EQ(bitsOf(r[8]), bitsOf(static_cast<float>(a + b)));
    inexact += r[0] != r[2];
  }
  EXPECT_GT(inexact, int(n) / 2); // the rounding direction mattered
}

//===----------------------------------------------------------------------===//
// 2. f16 / bf16 conversions
//===----------------------------------------------------------------------===//

TEST(PTXEmulator, HalfAndBf16ConversionsAreExact) {
  std::string ptx = std::string(kHeader80) + R"(
.visible .entry conv(
    .param .u64 pin,
    .param .u64 ph,
    .param .u64 pb,
    .param .u64 pback,
    .param .u64 ppack,
    .param .u32 pn)
{
  .reg .pred %p<2>;
  .reg .b16 %h<3>;
  .reg .b32 %r<12>;
  .reg .f32 %f<6>;
  .reg .b64 %rd<20>;

  ld.param.u64 %rd1, [pin];
  ld.param.u64 %rd2, [ph];
  ld.param.u64 %rd3, [pb];
  ld.param.u64 %rd4, [pback];
  ld.param.u64 %rd5, [ppack];
  ld.param.u32 %r1, [pn];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r5, %r2, %r3, %r4;
  setp.lt.u32 %p1, %r5, %r1;
  mul.wide.u32 %rd6, %r5, 4;
  add.s64 %rd7, %rd1, %rd6;
  @%p1 ld.global.f32 %f1, [%rd7];
  cvt.rn.f16.f32 %h1, %f1;
  cvt.rn.bf16.f32 %h2, %f1;
  mul.wide.u32 %rd8, %r5, 2;
  add.s64 %rd9, %rd2, %rd8;
  @%p1 st.global.b16 [%rd9], %h1;
  add.s64 %rd10, %rd3, %rd8;
  @%p1 st.global.b16 [%rd10], %h2;
  cvt.f32.f16 %f2, %h1;
  cvt.f32.bf16 %f3, %h2;
  mul.wide.u32 %rd11, %r5, 8;
  add.s64 %rd12, %rd4, %rd11;
  @%p1 st.global.v2.f32 [%rd12], {%f2, %f3};
  mov.f32 %f4, 0f3F800000;
  cvt.rn.f16x2.f32 %r6, %f1, %f4;
  cvt.rn.bf16x2.f32 %r7, %f4, %f1;
  add.s64 %rd13, %rd5, %rd11;
  @%p1 st.global.v2.u32 [%rd13], {%r6, %r7};
  ret;
}
)";
  auto m = mustParse(ptx);
  ASSERT_TRUE(m);
  std::vector<float> in = {0.0f,
                           -0.0f,
                           1.0f,
                           -2.5f,
                           65504.0f,
                           65519.99f,
                           65520.0f,
                           -65520.0f,
                           1e6f,
                           std::ldexp(1.0f, -24),
                           std::ldexp(1.0f, -25),
                           std::ldexp(1.0f, -25) * 1.0000001f,
                           std::ldexp(3.0f, -25),
                           std::ldexp(1.0f, -14),
                           std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25),
                           1.0f + std::ldexp(1.0f, -11),
                           1.0f + std::ldexp(3.0f, -11),
                           1.0f + std::ldexp(1.0f, -8),
                           1.0f + std::ldexp(3.0f, -8),
                           1e-10f,
                           1e-40f,
                           -1e-40f,
                           std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::max(),
                           3.3895314e38f,
                           0.1f,
                           3.14159265f,
                           std::numeric_limits<float>::quiet_NaN()};
  std::mt19937 rng(11);
  for (int i = 0; i < 3000; ++i) {
    uint32_t bits = rng();
    if (i % 2) // concentrate on the f16 range, subnormals included
      bits = (bits & 0x807fffffu) | ((96u + rng() % 60u) << 23);
    in.push_back(floatOf(bits));
  }
  uint32_t n = static_cast<uint32_t>(in.size());
  Memory mem;
  uint64_t din = upload(mem, in);
  uint64_t dh = mem.allocate(n * 2), db = mem.allocate(n * 2),
           dback = mem.allocate(n * 8), dpack = mem.allocate(n * 8);
  ASSERT_EQ(launch(*m, "conv", {(n + 127) / 128, 1, 1}, {128, 1, 1}, 0,
                   {ParamValue::u64(din), ParamValue::u64(dh),
                    ParamValue::u64(db), ParamValue::u64(dback),
                    ParamValue::u64(dpack), ParamValue::u32(n)},
                   mem),
            "");
  std::vector<uint16_t> h = download<uint16_t>(mem, dh, n);
  std::vector<uint16_t> b = download<uint16_t>(mem, db, n);
  std::vector<float> back = download<float>(mem, dback, 2 * n);
  std::vector<uint32_t> pack = download<uint32_t>(mem, dpack, 2 * n);
  // A few hand-checked encodings first.
  EXPECT_EQ(h[4], 0x7bff);  // 65504
  EXPECT_EQ(h[5], 0x7bff);  // just below the overflow threshold
  EXPECT_EQ(h[6], 0x7c00);  // 65520 -> inf
  EXPECT_EQ(h[7], 0xfc00);  // -65520 -> -inf
  EXPECT_EQ(h[9], 0x0001);  // 2^-24
  EXPECT_EQ(h[10], 0x0000); // 2^-25: tie to even (0)
  EXPECT_EQ(h[11], 0x0001);
  EXPECT_EQ(h[12], 0x0002); // 3 * 2^-25: tie to even (2)
  EXPECT_EQ(h[14], 0x0400); // tie between 0x3ff and 0x400
  EXPECT_EQ(h[15], 0x3c00); // 1 + 2^-11: tie to even
  EXPECT_EQ(h[16], 0x3c02);
  EXPECT_EQ(b[17], 0x3f80); // 1 + 2^-8: tie to even
  EXPECT_EQ(b[18], 0x3f82);
  EXPECT_EQ(b[24], 0x7f80); // FLT_MAX -> inf in bf16
  EXPECT_EQ(b[25], 0x7f7f); // largest bf16
  EXPECT_EQ(h[28], 0x7fff); // NaN: canonical
  EXPECT_EQ(b[28], 0x7fff);
  for (uint32_t i = 0; i < n; ++i) {
    SCOPED_TRACE("input " + std::to_string(i) + " bits " +
                 std::to_string(bitsOf(in[i])));
    ASSERT_EQ(h[i], kHalf.round(in[i]));
    ASSERT_EQ(b[i], kBf16.round(in[i]));
    if (!std::isnan(in[i])) {
      ASSERT_EQ(static_cast<double>(back[2 * i]), kHalf.decode(h[i]));
      ASSERT_EQ(static_cast<double>(back[2 * i + 1]), kBf16.decode(b[i]));
    }
    // First cvt source goes to the upper half.
    ASSERT_EQ(pack[2 * i], uint32_t(h[i]) << 16 | 0x3c00u);
    ASSERT_EQ(pack[2 * i + 1], 0x3f800000u | b[i]);
  }
}

//===----------------------------------------------------------------------===//
// 3. cp.async groups
//===----------------------------------------------------------------------===//

TEST(PTXEmulator, CpAsyncGroupsAndZeroFill) {
  std::string ptx = std::string(kHeader80) + R"(
.visible .entry cpasync(
    .param .u64 psrc,
    .param .u64 pout)
{
  .reg .b32 %r<40>;
  .reg .b64 %rd<12>;
  .shared .align 16 .b8 buf[6144];

  ld.param.u64 %rd1, [psrc];
  ld.param.u64 %rd2, [pout];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, buf;
  shl.b32 %r3, %r1, 4;
  add.s32 %r4, %r2, %r3;
  mul.wide.u32 %rd3, %r1, 16;
  add.s64 %rd4, %rd1, %rd3;
  rem.u32 %r5, %r1, 17;
  mov.u64 %rd5, 0;
  cp.async.ca.shared.global [%r4], [%rd4], 16;
  cp.async.commit_group;
  cp.async.cg.shared.global.L2::128B [%r4+2048], [%rd4+2048], 16, %r5;
  cp.async.commit_group;
  ld.shared.v4.u32 {%r10, %r11, %r12, %r13}, [%r4];
  cp.async.wait_group 1;
  ld.shared.v4.u32 {%r14, %r15, %r16, %r17}, [%r4];
  ld.shared.v4.u32 {%r18, %r19, %r20, %r21}, [%r4+2048];
  cp.async.wait_group 0;
  ld.shared.v4.u32 {%r22, %r23, %r24, %r25}, [%r4+2048];
  cp.async.ca.shared.global [%r4+4096], [%rd5], 8, 0;
  cp.async.wait_all;
  ld.shared.v4.u32 {%r26, %r27, %r28, %r29}, [%r4+4096];
  mul.wide.u32 %rd6, %r1, 80;
  add.s64 %rd7, %rd2, %rd6;
  st.global.v4.u32 [%rd7], {%r10, %r11, %r12, %r13};
  st.global.v4.u32 [%rd7+16], {%r14, %r15, %r16, %r17};
  st.global.v4.u32 [%rd7+32], {%r18, %r19, %r20, %r21};
  st.global.v4.u32 [%rd7+48], {%r22, %r23, %r24, %r25};
  st.global.v4.u32 [%rd7+64], {%r26, %r27, %r28, %r29};
  ret;
}
)";
  auto m = mustParse(ptx);
  ASSERT_TRUE(m);
  const uint32_t threads = 128;
  std::vector<uint8_t> src(4096);
  for (size_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<uint8_t>(i * 13 + 5);
  Memory mem;
  uint64_t dsrc = upload(mem, src);
  uint64_t dout = mem.allocate(threads * 80);
  ASSERT_EQ(launch(*m, "cpasync", {1, 1, 1}, {threads, 1, 1}, 0,
                   {ParamValue::u64(dsrc), ParamValue::u64(dout)}, mem),
            "");
  std::vector<uint8_t> o = download<uint8_t>(mem, dout, threads * 80);
  for (uint32_t t = 0; t < threads; ++t) {
    const uint8_t *r = &o[t * 80];
    for (int i = 0; i < 16; ++i) {
      SCOPED_TRACE("thread " + std::to_string(t) + " byte " +
                   std::to_string(i));
      EXPECT_EQ(r[i], 0xCD);                 // before any wait: poison
      EXPECT_EQ(r[16 + i], src[t * 16 + i]); // group 0 complete
      EXPECT_EQ(r[32 + i], 0xCD);            // group 1 still pending
      uint32_t ss = t % 17;                  // src-size: zero fill
      EXPECT_EQ(r[48 + i],
                i < static_cast<int>(ss) ? src[2048 + t * 16 + i] : 0);
      EXPECT_EQ(r[64 + i], i < 8 ? 0 : 0xCD); // src-size 0, null source
    }
  }
}

//===----------------------------------------------------------------------===//
// 4. ldmatrix
//===----------------------------------------------------------------------===//

TEST(PTXEmulator, LdmatrixX4AndTrans) {
  // Matrix i's row r lives at tile + i*384 + r*48 (16-byte aligned rows).
  std::string ptx = std::string(kHeader80) + R"(
.visible .entry ldm(
    .param .u64 pin,
    .param .u64 pout)
{
  .reg .b32 %r<40>;
  .reg .b64 %rd<12>;
  .shared .align 16 .b8 tile[1536];

  ld.param.u64 %rd1, [pin];
  ld.param.u64 %rd2, [pout];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, tile;
  mul.wide.u32 %rd3, %r1, 16;
  add.s64 %rd4, %rd1, %rd3;
  shl.b32 %r3, %r1, 4;
  add.s32 %r4, %r2, %r3;
  ld.global.v4.u32 {%r10, %r11, %r12, %r13}, [%rd4];
  st.shared.v4.u32 [%r4], {%r10, %r11, %r12, %r13};
  ld.global.v4.u32 {%r10, %r11, %r12, %r13}, [%rd4+512];
  st.shared.v4.u32 [%r4+512], {%r10, %r11, %r12, %r13};
  ld.global.nc.L1::no_allocate.v4.u32 {%r10, %r11, %r12, %r13}, [%rd4+1024];
  st.shared.v4.u32 [%r4+1024], {%r10, %r11, %r12, %r13};
  membar.cta;
  bar.sync 0, 32;
  barrier.sync 0;
  shr.u32 %r5, %r1, 3;
  and.b32 %r6, %r1, 7;
  mul.lo.s32 %r7, %r5, 384;
  mad.lo.s32 %r8, %r6, 48, %r7;
  add.s32 %r9, %r2, %r8;
  ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r20, %r21, %r22, %r23}, [%r9];
  ldmatrix.sync.aligned.m8n8.x4.trans.shared::cta.b16 {%r24, %r25, %r26, %r27}, [%r9];
  ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%r28, %r29}, [%r9];
  mul.wide.u32 %rd5, %r1, 48;
  add.s64 %rd6, %rd2, %rd5;
  st.global.v4.u32 [%rd6], {%r20, %r21, %r22, %r23};
  st.global.v4.u32 [%rd6+16], {%r24, %r25, %r26, %r27};
  st.global.v2.u32 [%rd6+32], {%r28, %r29};
  ret;
}
)";
  auto m = mustParse(ptx);
  ASSERT_TRUE(m);
  std::vector<uint16_t> in(768);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = static_cast<uint16_t>(i * 37 + 11);
  Memory mem;
  uint64_t din = upload(mem, in), dout = mem.allocate(32 * 48);
  ASSERT_EQ(launch(*m, "ldm", {1, 1, 1}, {32, 1, 1}, 0,
                   {ParamValue::u64(din), ParamValue::u64(dout)}, mem),
            "");
  std::vector<uint32_t> o = download<uint32_t>(mem, dout, 32 * 12);
  auto elem = [&](int i, int row, int col) -> uint32_t {
    return in[(i * 384 + row * 48) / 2 + col];
  };
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      uint32_t plain = elem(i, lane / 4, 2 * (lane % 4)) |
                       elem(i, lane / 4, 2 * (lane % 4) + 1) << 16;
      uint32_t trans = elem(i, 2 * (lane % 4), lane / 4) |
                       elem(i, 2 * (lane % 4) + 1, lane / 4) << 16;
      EXPECT_EQ(o[lane * 12 + i], plain) << lane << " " << i;
      EXPECT_EQ(o[lane * 12 + 4 + i], trans) << lane << " " << i;
      if (i < 2) {
        EXPECT_EQ(o[lane * 12 + 8 + i], plain) << lane << " " << i;
      }
    }
}

//===----------------------------------------------------------------------===//
// 5./6. Sparse MMA: a 2:4-sparse (16*warps) x 32 A times a dense 32 x N B
//===----------------------------------------------------------------------===//

struct SparseProblem {
  int M = 0, N = 0;
  std::vector<float> A;     // M x 32 logical (zeros where pruned)
  std::vector<uint8_t> pos; // M x 8 x 2: logical position of slots 0, 1
  std::vector<float> B;     // 32 x N
  std::vector<float> C;     // M x N
  float a(int r, int k) const { return A[r * 32 + k]; }
};

// Small integers so that every product and sum is exact in fp32. With
// `ordered` false, slot 0 may hold the later position of its group.
SparseProblem makeProblem(int M, int N, bool ordered, std::mt19937 &rng) {
  SparseProblem p;
  p.M = M;
  p.N = N;
  p.A.assign(M * 32, 0.0f);
  p.pos.resize(M * 16);
  auto small = [&]() { return static_cast<float>(int(rng() % 9) - 4); };
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < 8; ++c) {
      int p0 = rng() % 4, p1 = rng() % 3;
      if (p1 >= p0)
        ++p1;
      if (ordered && p0 > p1)
        std::swap(p0, p1);
      p.pos[(r * 8 + c) * 2] = static_cast<uint8_t>(p0);
      p.pos[(r * 8 + c) * 2 + 1] = static_cast<uint8_t>(p1);
      p.A[r * 32 + 4 * c + p0] = small();
      p.A[r * 32 + 4 * c + p1] = small();
    }
  p.B.resize(32 * N);
  for (float &v : p.B)
    v = small();
  p.C.resize(M * N);
  for (float &v : p.C)
    v = small() * 8;
  return p;
}

// Compressed A (M x 16): column 2c+s is slot s of group c.
float compressed(const SparseProblem &p, int r, int col) {
  int c = col / 2, s = col % 2;
  return p.a(r, 4 * c + p.pos[(r * 8 + c) * 2 + s]);
}

uint32_t pack16(const Format16 &fmt, float lo, float hi) {
  return uint32_t(fmt.round(lo)) | uint32_t(fmt.round(hi)) << 16;
}

// Per-thread A registers (4 each) for warps of 16 rows: lane = 4g + t.
std::vector<uint32_t> aRegisters(const SparseProblem &p, const Format16 &f) {
  std::vector<uint32_t> regs;
  for (int w = 0; w < p.M / 16; ++w)
    for (int lane = 0; lane < 32; ++lane) {
      int g = lane / 4, t = lane % 4, r0 = 16 * w + g, r1 = r0 + 8;
      auto pr = [&](int r, int col) {
        return pack16(f, compressed(p, r, col), compressed(p, r, col + 1));
      };
      regs.push_back(pr(r0, 2 * t));
      regs.push_back(pr(r1, 2 * t));
      regs.push_back(pr(r0, 2 * t + 8));
      regs.push_back(pr(r1, 2 * t + 8));
    }
  return regs;
}

// Per-thread metadata register: E(g,p) in lane 4g + p + 2*sel of each warp;
// the other lanes hold invalid codes that must be ignored.
std::vector<uint32_t> metaRegisters(const SparseProblem &p, int sel) {
  std::vector<uint32_t> regs(p.M / 16 * 32, 0xffffffffu);
  for (int w = 0; w < p.M / 16; ++w)
    for (int g = 0; g < 8; ++g)
      for (int half = 0; half < 2; ++half) {
        uint32_t word = 0;
        for (int c = 0; c < 4; ++c)
          for (int hi = 0; hi < 2; ++hi) {
            int r = 16 * w + g + 8 * hi, group = 4 * half + c;
            uint32_t code = p.pos[(r * 8 + group) * 2] |
                            p.pos[(r * 8 + group) * 2 + 1] << 2;
            word |= code << (4 * c + 16 * hi);
          }
        regs[w * 32 + 4 * g + half + 2 * sel] = word;
      }
  return regs;
}

// Dense reference: scaleAB * A*B (+ C).
std::vector<float> reference(const SparseProblem &p, bool addC,
                             float scaleAB = 1.0f) {
  std::vector<float> d(p.M * p.N);
  for (int r = 0; r < p.M; ++r)
    for (int n = 0; n < p.N; ++n) {
      float acc = 0;
      for (int k = 0; k < 32; ++k)
        acc += p.a(r, k) * p.B[k * p.N + n];
      d[r * p.N + n] = scaleAB * acc + (addC ? p.C[r * p.N + n] : 0.0f);
    }
  return d;
}

std::string mmaModule() {
  std::string text = kHeader80;
  for (const char *type : {"f16", "bf16"})
    for (int sel = 0; sel < 2; ++sel)
      for (int ordered = 0; ordered < 2; ++ordered) {
        std::string name = std::string("mma_") + type + "_sel" +
                           std::to_string(sel) + (ordered ? "_ord" : "");
        text += ".visible .entry " + name + R"((
    .param .u64 pa,
    .param .u64 pb,
    .param .u64 pc,
    .param .u64 pe,
    .param .u64 pd)
{
  .reg .b32 %r<12>;
  .reg .f32 %f<10>;
  .reg .b64 %rd<14>;
  ld.param.u64 %rd1, [pa];
  ld.param.u64 %rd2, [pb];
  ld.param.u64 %rd3, [pc];
  ld.param.u64 %rd4, [pe];
  ld.param.u64 %rd5, [pd];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd6, %r1, 16;
  add.s64 %rd7, %rd1, %rd6;
  ld.global.v4.u32 {%r2, %r3, %r4, %r5}, [%rd7];
  add.s64 %rd8, %rd2, %rd6;
  ld.global.v4.u32 {%r6, %r7, %r8, %r9}, [%rd8];
  add.s64 %rd9, %rd3, %rd6;
  ld.global.v4.f32 {%f1, %f2, %f3, %f4}, [%rd9];
  mul.wide.u32 %rd10, %r1, 4;
  add.s64 %rd11, %rd4, %rd10;
  ld.global.u32 %r10, [%rd11];
  mma.)" + (ordered ? "sp::ordered_metadata" : "sp") +
                ".sync.aligned.m16n8k32.row.col.f32." + type + "." + type +
                ".f32 {%f5, %f6, %f7, %f8}, {%r2, %r3, %r4, %r5}, "
                "{%r6, %r7, %r8, %r9}, {%f1, %f2, %f3, %f4}, %r10, " +
                std::to_string(sel) + R"(;
  add.s64 %rd12, %rd5, %rd6;
  st.global.v4.f32 [%rd12], {%f5, %f6, %f7, %f8};
  ret;
}
)";
      }
  return text;
}

struct MmaRun {
  std::string error;
  std::vector<float> d; // per thread, 4 each
};

MmaRun runMma(const Module &m, const std::string &kernel,
              const SparseProblem &p, const Format16 &fmt,
              const std::vector<uint32_t> &e) {
  int threads = p.M / 16 * 32;
  std::vector<uint32_t> b, a = aRegisters(p, fmt);
  std::vector<float> c;
  for (int w = 0; w < p.M / 16; ++w)
    for (int lane = 0; lane < 32; ++lane) {
      int g = lane / 4, t = lane % 4, r0 = 16 * w + g;
      for (int j = 0; j < 4; ++j)
        b.push_back(pack16(fmt, p.B[(8 * j + 2 * t) * 8 + g],
                           p.B[(8 * j + 2 * t + 1) * 8 + g]));
      c.push_back(p.C[r0 * 8 + 2 * t]);
      c.push_back(p.C[r0 * 8 + 2 * t + 1]);
      c.push_back(p.C[(r0 + 8) * 8 + 2 * t]);
      c.push_back(p.C[(r0 + 8) * 8 + 2 * t + 1]);
    }
  Memory mem;
  uint64_t da = upload(mem, a), db = upload(mem, b), dc = upload(mem, c),
           de = upload(mem, e), dd = mem.allocate(threads * 16);
  MmaRun run;
  LaunchStats stats;
  run.error =
      launch(m, kernel, {1, 1, 1}, {uint32_t(threads), 1, 1}, 0,
             {ParamValue::u64(da), ParamValue::u64(db), ParamValue::u64(dc),
              ParamValue::u64(de), ParamValue::u64(dd)},
             mem, &stats);
  if (run.error.empty()) {
    run.d = download<float>(mem, dd, threads * 4);
    EXPECT_EQ(stats.mmaInstructions, uint64_t(threads / 32));
  }
  return run;
}

// D fragment of thread (warp w, lane) register q, as (row, col).
std::pair<int, int> dPosition(int w, int lane, int q) {
  int g = lane / 4, t = lane % 4;
  return {16 * w + g + (q >= 2 ? 8 : 0), 2 * t + (q & 1)};
}

TEST(PTXEmulator, MmaSpM16n8k32MatchesDenseReference) {
  auto m = mustParse(mmaModule());
  ASSERT_TRUE(m);
  std::mt19937 rng(2024);
  for (const char *type : {"f16", "bf16"})
    for (int sel = 0; sel < 2; ++sel)
      for (int ordered = 0; ordered < 2; ++ordered) {
        std::string name = std::string("mma_") + type + "_sel" +
                           std::to_string(sel) + (ordered ? "_ord" : "");
        SCOPED_TRACE(name);
        const Format16 &fmt = std::string(type) == "f16" ? kHalf : kBf16;
        // Two warps with different problems; plain mma.sp also gets
        // slot-0-after-slot-1 codes.
        SparseProblem p = makeProblem(32, 8, ordered, rng);
        MmaRun run = runMma(*m, name, p, fmt, metaRegisters(p, sel));
        ASSERT_EQ(run.error, "");
        std::vector<float> ref = reference(p, true);
        for (int w = 0; w < 2; ++w)
          for (int lane = 0; lane < 32; ++lane)
            for (int q = 0; q < 4; ++q) {
              auto [r, c] = dPosition(w, lane, q);
              ASSERT_EQ(run.d[(w * 32 + lane) * 4 + q], ref[r * 8 + c])
                  << "warp " << w << " lane " << lane << " reg " << q;
            }
      }
}

TEST(PTXEmulator, MmaSpRejectsInvalidMetadata) {
  auto m = mustParse(mmaModule());
  ASSERT_TRUE(m);
  std::mt19937 rng(5);
  SparseProblem p = makeProblem(16, 8, true, rng);
  std::vector<uint32_t> e = metaRegisters(p, 0);
  // Row 3 (g = 3, low half of lane 12's word), group 2: code 0x5 (1, 1).
  std::vector<uint32_t> bad = e;
  bad[12] = (bad[12] & ~0xf00u) | 0x500u;
  for (const char *k : {"mma_f16_sel0", "mma_f16_sel0_ord"}) {
    MmaRun run = runMma(*m, k, p, kHalf, bad);
    EXPECT_NE(run.error.find("invalid sparsity metadata: lane 12 supplies "
                             "code 0x5 for row 3, group 2"),
              std::string::npos)
        << run.error;
    EXPECT_NE(run.error.find("kernel " + std::string(k) +
                             ", cta (0,0,0), thread (12,0,0), line "),
              std::string::npos)
        << run.error;
  }
  // Code 0x1 (slot 0 at position 1, slot 1 at 0): invalid with
  // ::ordered_metadata, fine for plain mma.sp.
  for (int r = 0; r < 16; ++r) {
    p.pos[(r * 8 + 5) * 2] = 1;
    p.pos[(r * 8 + 5) * 2 + 1] = 0;
    std::fill_n(&p.A[r * 32 + 20], 4, 0.0f);
    p.A[r * 32 + 21] = static_cast<float>(r % 5) - 2; // slot 0
    p.A[r * 32 + 20] = 3.0f;                          // slot 1
  }
  e = metaRegisters(p, 1);
  MmaRun run = runMma(*m, "mma_f16_sel1_ord", p, kHalf, e);
  EXPECT_NE(run.error.find("code 0x1 for row 0, group 5"), std::string::npos)
      << run.error;
  EXPECT_NE(run.error.find("lane 3 supplies"), std::string::npos) << run.error;
  run = runMma(*m, "mma_f16_sel1", p, kHalf, e);
  ASSERT_EQ(run.error, "");
  std::vector<float> ref = reference(p, true);
  for (int lane = 0; lane < 32; ++lane)
    for (int q = 0; q < 4; ++q) {
      auto [r, c] = dPosition(0, lane, q);
      EXPECT_EQ(run.d[lane * 4 + q], ref[r * 8 + c]);
    }
  // Lanes that do not supply metadata for this selector are ignored: the
  // 0xffffffff in them (all codes invalid) did not matter above.
}

// The wgmma B layout without swizzling, as the H200 showed it
// (test/gpu/results/mma_oracle.json): LBO steps between 8-k blocks and SBO
// between 8-n blocks, whichever dimension is contiguous.
uint32_t wgmmaB(uint32_t lbo, uint32_t sbo, bool transB, int k, int n) {
  if (!transB)
    return (n / 8) * sbo + (n % 8) * 16 + (k / 8) * lbo + (k % 8) * 2;
  return (n / 8) * sbo + (n % 8) * 2 + (k / 8) * lbo + (k % 8) * 16;
}

std::string wgmmaModule(bool barrier) {
  std::string text = kHeader90;
  struct Variant {
    const char *name, *type;
    int trans;
    bool scaleD;
    int scaleB;
  };
  for (Variant v : {Variant{"wg_f16_t0", "f16", 0, true, 1},
                    Variant{"wg_f16_t1", "f16", 1, false, -1},
                    Variant{"wg_bf16_t1", "bf16", 1, true, 1}}) {
    text += std::string(".visible .entry ") + v.name + R"((
    .param .u64 pa,
    .param .u64 pe,
    .param .u64 pbimg,
    .param .u64 pc,
    .param .u64 pd,
    .param .u32 plbo,
    .param .u32 psbo,
    .param .u64 pextra)
.maxntid 128, 1, 1
{
  .reg .pred %p<2>;
  .reg .b32 %r<24>;
  .reg .f32 %f<8>;
  .reg .b64 %rd<28>;
  .shared .align 128 .b8 bsm[2048];

  ld.param.u64 %rd1, [pa];
  ld.param.u64 %rd2, [pe];
  ld.param.u64 %rd3, [pbimg];
  ld.param.u64 %rd4, [pc];
  ld.param.u64 %rd5, [pd];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd6, %r1, 16;
  add.s64 %rd7, %rd3, %rd6;
  ld.global.v4.u32 {%r2, %r3, %r4, %r5}, [%rd7];
  mov.u32 %r6, bsm;
  shl.b32 %r7, %r1, 4;
  add.s32 %r8, %r6, %r7;
  st.shared.v4.u32 [%r8], {%r2, %r3, %r4, %r5};
)" + (barrier ? "  bar.sync 0;\n" : "") +
            R"(  fence.proxy.async.shared::cta;
  cvt.u64.u32 %rd8, %r6;
  and.b64 %rd9, %rd8, 262143;
  shr.u64 %rd10, %rd9, 4;
  ld.param.u32 %r9, [plbo];
  shr.u32 %r10, %r9, 4;
  cvt.u64.u32 %rd11, %r10;
  shl.b64 %rd12, %rd11, 16;
  or.b64 %rd13, %rd10, %rd12;
  ld.param.u32 %r11, [psbo];
  shr.u32 %r12, %r11, 4;
  cvt.u64.u32 %rd14, %r12;
  shl.b64 %rd15, %rd14, 32;
  or.b64 %rd16, %rd13, %rd15;
  ld.param.u64 %rd17, [pextra];
  or.b64 %rd18, %rd16, %rd17;
  add.s64 %rd19, %rd1, %rd6;
  ld.global.v4.u32 {%r13, %r14, %r15, %r16}, [%rd19];
  mul.wide.u32 %rd20, %r1, 4;
  add.s64 %rd21, %rd2, %rd20;
  ld.global.u32 %r17, [%rd21];
  mul.wide.u32 %rd22, %r1, 32;
  add.s64 %rd23, %rd4, %rd22;
  ld.global.v4.f32 {%f0, %f1, %f2, %f3}, [%rd23];
  ld.global.v4.f32 {%f4, %f5, %f6, %f7}, [%rd23+16];
  setp.)" + (v.scaleD ? "ne" : "eq") +
            R"(.u32 %p1, %r1, 1000;
  wgmma.fence.sync.aligned;
  wgmma.mma_async.sp.sync.aligned.m64n16k32.f32.)" +
            v.type + "." + v.type +
            " {%f0, %f1, %f2, %f3, %f4, %f5, %f6, %f7}, "
            "{%r13, %r14, %r15, %r16}, %rd18, %r17, 0, %p1, 1, " +
            std::to_string(v.scaleB) + ", " + std::to_string(v.trans) +
            R"(;
  wgmma.commit_group.sync.aligned;
  wgmma.wait_group.sync.aligned 0;
  add.s64 %rd24, %rd5, %rd22;
  st.global.v4.f32 [%rd24], {%f0, %f1, %f2, %f3};
  st.global.v4.f32 [%rd24+16], {%f4, %f5, %f6, %f7};
  ret;
}
)";
  }
  return text;
}

struct WgmmaCase {
  std::string kernel;
  const Format16 *fmt;
  bool transB, addC;
  float scaleAB;
  uint32_t lbo, sbo;
};

std::string runWgmma(const Module &m, const WgmmaCase &wc,
                     const SparseProblem &p, uint64_t extra,
                     std::vector<float> *d) {
  const int N = 16;
  std::vector<uint16_t> image(1024);
  for (size_t i = 0; i < image.size(); ++i)
    image[i] = static_cast<uint16_t>(0x7e00 + i); // NaN filler: must be unused
  for (int k = 0; k < 32; ++k)
    for (int n = 0; n < N; ++n)
      image[wgmmaB(wc.lbo, wc.sbo, wc.transB, k, n) / 2] =
          wc.fmt->round(p.B[k * N + n]);
  std::vector<float> c;
  for (int w = 0; w < 4; ++w)
    for (int lane = 0; lane < 32; ++lane)
      for (int i = 0; i < N / 8; ++i)
        for (int q = 0; q < 4; ++q) {
          auto [r, col] = dPosition(w, lane, q);
          c.push_back(p.C[r * N + 8 * i + col]);
        }
  Memory mem;
  std::vector<uint32_t> a = aRegisters(p, *wc.fmt), e = metaRegisters(p, 0);
  uint64_t da = upload(mem, a), de = upload(mem, e), db = upload(mem, image),
           dc = upload(mem, c), dd = mem.allocate(128 * 32);
  std::string err =
      launch(m, wc.kernel, {1, 1, 1}, {128, 1, 1}, 0,
             {ParamValue::u64(da), ParamValue::u64(de), ParamValue::u64(db),
              ParamValue::u64(dc), ParamValue::u64(dd), ParamValue::u32(wc.lbo),
              ParamValue::u32(wc.sbo), ParamValue::u64(extra)},
             mem);
  if (err.empty() && d)
    *d = download<float>(mem, dd, 128 * 8);
  return err;
}

TEST(PTXEmulator, WgmmaSpM64n16k32MatchesDenseReference) {
  auto m = mustParse(wgmmaModule(true));
  ASSERT_TRUE(m);
  std::mt19937 rng(99);
  const int N = 16;
  for (const WgmmaCase &wc :
       {WgmmaCase{"wg_f16_t0", &kHalf, false, true, 1.0f, 256, 128},
        WgmmaCase{"wg_f16_t1", &kHalf, true, false, -1.0f, 128, 512},
        WgmmaCase{"wg_bf16_t1", &kBf16, true, true, 1.0f, 512, 128}}) {
    SCOPED_TRACE(wc.kernel);
    SparseProblem p = makeProblem(64, N, false, rng);
    std::vector<float> d;
    ASSERT_EQ(runWgmma(*m, wc, p, 0, &d), "");
    std::vector<float> ref = reference(p, wc.addC, wc.scaleAB);
    for (int w = 0; w < 4; ++w)
      for (int lane = 0; lane < 32; ++lane)
        for (int i = 0; i < N / 8; ++i)
          for (int q = 0; q < 4; ++q) {
            auto [r, col] = dPosition(w, lane, q);
            ASSERT_EQ(d[(w * 32 + lane) * 8 + 4 * i + q],
                      ref[r * N + 8 * i + col])
                << "warp " << w << " lane " << lane << " chunk " << i << " reg "
                << q;
          }
  }
  // Swizzled descriptors are rejected.
  SparseProblem p = makeProblem(64, N, false, rng);
  std::string err =
      runWgmma(*m, {"wg_f16_t0", &kHalf, false, true, 1.0f, 256, 128}, p,
               1ull << 62, nullptr);
  EXPECT_NE(err.find("swizzle mode 1"), std::string::npos) << err;
}

TEST(PTXEmulator, WgmmaReadsOfUnsynchronisedSharedMemoryAreRaces) {
  auto m = mustParse(wgmmaModule(false)); // no bar.sync after the stores
  ASSERT_TRUE(m);
  std::mt19937 rng(3);
  SparseProblem p = makeProblem(64, 16, false, rng);
  std::string err = runWgmma(
      *m, {"wg_f16_t0", &kHalf, false, true, 1.0f, 256, 128}, p, 0, nullptr);
  EXPECT_NE(err.find("shared-memory race"), std::string::npos) << err;
  EXPECT_NE(err.find("thread (0,0,0) reads bytes written by thread (1,0,0)"),
            std::string::npos)
      << err;
}

//===----------------------------------------------------------------------===//
// 7. Errors
//===----------------------------------------------------------------------===//

// 1-based line of the first line of `text` containing `needle`.
int lineOf(const std::string &text, const std::string &needle) {
  size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return 1 +
         static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

std::string errorsModule() {
  return std::string(kHeader80) + R"(
.visible .entry oob(
    .param .u64 pin,
    .param .u64 pout)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [pin];
  ld.param.u64 %rd2, [pout];
  mov.u32 %r1, %tid.x;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd4, %rd1, %rd3;
  ld.global.u32 %r2, [%rd4];
  add.s64 %rd5, %rd2, %rd3;
  st.global.u32 [%rd5], %r2;
  ret;
}

.visible .entry misaligned(
    .param .u64 pin)
{
  .reg .b32 %r<4>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [pin];
  ld.global.u32 %r1, [%rd1+2];
  ret;
}

.visible .entry misaligned_shared()
{
  .reg .b32 %r<8>;
  .shared .align 16 .b8 sm[256];
  mov.u32 %r1, sm;
  ld.shared.v4.u32 {%r2, %r3, %r4, %r5}, [%r1+8];
  ret;
}

.visible .entry divergent(
    .param .u64 pout)
{
  .reg .pred %p<2>;
  .reg .b32 %r<4>;
  mov.u32 %r1, %tid.x;
  setp.lt.u32 %p1, %r1, 5;
  @%p1 bra SKIP;
  add.s32 %r2, %r1, 1;
SKIP:
  ret;
}

.visible .entry uniform_loop(
    .param .u64 pout,
    .param .u32 pn)
{
  .reg .pred %p<2>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [pout];
  ld.param.u32 %r5, [pn];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, 0;
  mov.u32 %r3, %r1;
$L_loop:
  mad.lo.s32 %r3, %r3, 1664525, 1013904223;
  xor.b32 %r4, %r3, %r2;
  add.s32 %r3, %r3, %r4;
  add.s32 %r2, %r2, 1;
  setp.lt.u32 %p1, %r2, %r5;
  @%p1 bra.uni $L_loop;
  mov.u32 %r6, %ctaid.x;
  mov.u32 %r7, %ntid.x;
  mad.lo.s32 %r6, %r6, %r7, %r1;
  mul.wide.u32 %rd2, %r6, 4;
  add.s64 %rd3, %rd1, %rd2;
  st.global.u32 [%rd3], %r3;
  ret;
}

.visible .entry exchange(
    .param .u64 pout,
    .param .u32 psync)
{
  .reg .pred %p<2>;
  .reg .b32 %r<12>;
  .reg .b64 %rd<4>;
  .shared .align 4 .b8 sm[512];
  ld.param.u64 %rd1, [pout];
  ld.param.u32 %r9, [psync];
  setp.ne.u32 %p1, %r9, 0;
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, %ntid.x;
  mov.u32 %r3, sm;
  shl.b32 %r4, %r1, 2;
  add.s32 %r5, %r3, %r4;
  mad.lo.s32 %r6, %r1, 10, 3;
  st.shared.u32 [%r5], %r6;
  @%p1 bar.sync 0;
  add.s32 %r7, %r1, 1;
  rem.u32 %r7, %r7, %r2;
  shl.b32 %r7, %r7, 2;
  add.s32 %r8, %r3, %r7;
  ld.shared.u32 %r10, [%r8];
  mul.wide.u32 %rd2, %r1, 4;
  add.s64 %rd3, %rd1, %rd2;
  st.global.u32 [%rd3], %r10;
  ret;
}

.visible .entry overwrite(
    .param .u64 pout)
{
  .reg .b32 %r<12>;
  .shared .align 4 .b8 sm[512];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, %ntid.x;
  mov.u32 %r3, sm;
  shl.b32 %r4, %r1, 2;
  add.s32 %r5, %r3, %r4;
  st.shared.u32 [%r5], %r1;
  bar.sync 0;
  add.s32 %r7, %r1, 1;
  rem.u32 %r7, %r7, %r2;
  shl.b32 %r7, %r7, 2;
  add.s32 %r8, %r3, %r7;
  ld.shared.u32 %r10, [%r8];
  st.shared.u32 [%r5], %r10;
  ret;
}
)";
}

TEST(PTXEmulator, ReportsOutOfBoundsAndMisalignedAccesses) {
  std::string text = errorsModule();
  auto m = mustParse(text);
  ASSERT_TRUE(m);
  Memory mem;
  uint64_t in = mem.allocate(16 * 4), out = mem.allocate(32 * 4);
  std::string err = launch(*m, "oob", {2, 1, 1}, {32, 1, 1}, 0,
                           {ParamValue::u64(in), ParamValue::u64(out)}, mem);
  std::string want = "kernel oob, cta (0,0,0), thread (16,0,0), line " +
                     std::to_string(lineOf(text, "ld.global.u32 %r2")) +
                     ": global load of 4 bytes out of bounds: address ";
  EXPECT_EQ(err.compare(0, want.size(), want), 0) << err;
  EXPECT_NE(err.find("is outside allocation"), std::string::npos) << err;
  // In bounds: fine.
  ASSERT_EQ(launch(*m, "oob", {1, 1, 1}, {16, 1, 1}, 0,
                   {ParamValue::u64(in), ParamValue::u64(out)}, mem),
            "");
  // A freed buffer.
  mem.free(in);
  err = launch(*m, "oob", {1, 1, 1}, {16, 1, 1}, 0,
               {ParamValue::u64(in), ParamValue::u64(out)}, mem);
  EXPECT_NE(err.find("freed"), std::string::npos) << err;

  err = launch(*m, "misaligned", {1, 1, 1}, {32, 1, 1}, 0,
               {ParamValue::u64(out)}, mem);
  EXPECT_NE(err.find("thread (0,0,0), line " +
                     std::to_string(lineOf(text, "[%rd1+2]")) +
                     ": misaligned global load of 4 bytes"),
            std::string::npos)
      << err;
  err = launch(*m, "misaligned_shared", {1, 1, 1}, {32, 1, 1}, 0, {}, mem);
  EXPECT_NE(err.find("misaligned shared load of 16 bytes"), std::string::npos)
      << err;

  // The Memory API checks too.
  uint32_t word = 0;
  EXPECT_NE(mem.read(out + 128, &word, 4), "");
  EXPECT_NE(mem.write(out + 126, &word, 4), "");
  EXPECT_NE(mem.read(0x1234, &word, 4), "");
  EXPECT_EQ(mem.read(out + 124, &word, 4), "");
  EXPECT_EQ(out % 256, 0u);
}

TEST(PTXEmulator, ReportsDivergentBranches) {
  std::string text = errorsModule();
  auto m = mustParse(text);
  ASSERT_TRUE(m);
  Memory mem;
  std::string err = launch(*m, "divergent", {1, 1, 1}, {32, 1, 1}, 0,
                           {ParamValue::u64(0)}, mem);
  int line = lineOf(text, "@%p1 bra SKIP");
  EXPECT_NE(err.find("divergent branch at line " + std::to_string(line)),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("kernel divergent, cta (0,0,0), thread (5,0,0)"),
            std::string::npos)
      << err;
  // Uniform: all threads branch alike (5 threads only).
  EXPECT_EQ(launch(*m, "divergent", {1, 1, 1}, {5, 1, 1}, 0,
                   {ParamValue::u64(0)}, mem),
            "");
}

TEST(PTXEmulator, UniformLoopsRunFast) {
  auto m = mustParse(errorsModule());
  ASSERT_TRUE(m);
  const uint32_t ctas = 4, threads = 128, iters = 20000;
  Memory mem;
  uint64_t out = mem.allocate(ctas * threads * 4);
  LaunchStats stats;
  auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(launch(*m, "uniform_loop", {ctas, 1, 1}, {threads, 1, 1}, 0,
                   {ParamValue::u64(out), ParamValue::u32(iters)}, mem, &stats),
            "");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::vector<uint32_t> o = download<uint32_t>(mem, out, ctas * threads);
  for (uint32_t i = 0; i < ctas * threads; ++i) {
    uint32_t acc = i % threads;
    for (uint32_t k = 0; k < iters; ++k) {
      acc = acc * 1664525u + 1013904223u;
      acc += acc ^ k;
    }
    ASSERT_EQ(o[i], acc) << i;
  }
  uint64_t perWarp = 5 + 6ull * iters + 7;
  EXPECT_EQ(stats.instructions, perWarp * ctas * (threads / 32));
  double rate = static_cast<double>(stats.instructions) * 32 / seconds;
  std::printf("[ PTXEmu   ] %.0f M thread-instructions/s\n", rate / 1e6);
}

TEST(PTXEmulator, DetectsSharedMemoryRaces) {
  std::string text = errorsModule();
  auto m = mustParse(text);
  ASSERT_TRUE(m);
  Memory mem;
  const uint32_t threads = 128;
  uint64_t out = mem.allocate(threads * 4);
  // Without the barrier thread t reads what thread t+1 just wrote.
  std::string err = launch(*m, "exchange", {1, 1, 1}, {threads, 1, 1}, 0,
                           {ParamValue::u64(out), ParamValue::u32(0)}, mem);
  EXPECT_NE(err.find("shared-memory race at line " +
                     std::to_string(lineOf(text, "ld.shared.u32 %r10")) +
                     ": thread (0,0,0) reads bytes written by thread "
                     "(1,0,0) since the last bar.sync"),
            std::string::npos)
      << err;
  // With it: no error, and the exchanged values.
  ASSERT_EQ(launch(*m, "exchange", {1, 1, 1}, {threads, 1, 1}, 0,
                   {ParamValue::u64(out), ParamValue::u32(1)}, mem),
            "");
  std::vector<uint32_t> o = download<uint32_t>(mem, out, threads);
  for (uint32_t t = 0; t < threads; ++t)
    EXPECT_EQ(o[t], ((t + 1) % threads) * 10 + 3);
  // Overwriting bytes another thread read in the same epoch (no barrier
  // between the read and the write) is a race too.
  err = launch(*m, "overwrite", {1, 1, 1}, {threads, 1, 1}, 0,
               {ParamValue::u64(out)}, mem);
  // Thread 0 overwrites word 0, which thread 127 read.
  EXPECT_NE(err.find("thread (0,0,0) writes bytes read by thread (127,0,0)"),
            std::string::npos)
      << err;
}

TEST(PTXEmulator, ParseErrorsNameTheLine) {
  std::string error;
  std::string text = std::string(kHeader80) +
                     ".visible .entry k()\n{\n  .reg .b32 %r<3>;\n"
                     "  prmt.b32 %r1, %r1, %r2, 0x3210;\n  ret;\n}\n";
  EXPECT_FALSE(parseModule(text, error));
  EXPECT_EQ(error, "line 7: unsupported instruction 'prmt.b32'");
  text = std::string(kHeader80) + ".visible .entry k()\n{\n  .reg .b32 %r<3>;\n"
                                  "  add.s32 %r1, %r7, 1;\n  ret;\n}\n";
  EXPECT_FALSE(parseModule(text, error));
  EXPECT_EQ(error, "line 7: unknown register or symbol '%r7'");
  text = std::string(kHeader80) +
         ".visible .entry k()\n{\n  bra.uni NOWHERE;\n}\n";
  EXPECT_FALSE(parseModule(text, error));
  EXPECT_EQ(error, "line 6: unknown label 'NOWHERE'");
  text = std::string(kHeader80) + ".visible .entry k()\n{\n  .reg .b32 %r<3>;\n"
                                  "  ld.local.u32 %r1, [%r2];\n}\n";
  EXPECT_FALSE(parseModule(text, error));
  EXPECT_EQ(error,
            "line 7: unsupported instruction 'ld.local.u32' (modifier .local)");
}

} // namespace

// wgmma.mma_async reads its metadata register and accumulates into its d
// registers asynchronously: touching them before wgmma.wait_group retires
// the group is undefined on the device and an error here. The A operand
// comes from a shared-memory descriptor (SS form).
TEST(PTXEmulator, ReportsRegistersReusedBeforeWgmmaWait) {
  auto kernel = [](const char *name, const char *afterCommit) {
    std::string text =
        std::string(".visible .entry ") + name +
        "()\n.reqntid 128\n{\n"
        ".reg .b32 %r<4>;\n.reg .b64 %rd<2>;\n.reg .f32 %f<4>;\n"
        ".shared .align 128 .b8 tile[4096];\n"
        "mov.u32 %r0, tile;\n"
        "mov.u32 %r1, 0;\n"
        // Valid metadata in every lane: code 0x4 everywhere.
        "mov.u32 %r2, 0x44444444;\n"
        "cvt.u64.u32 %rd0, %r0;\n"
        "shr.u64 %rd0, %rd0, 4;\n"
        "or.b64 %rd0, %rd0, 0x1000000080000;\n" // LBO 128, SBO 256
        "add.u64 %rd1, %rd0, 128;\n"
        "mov.f32 %f0, 0f00000000;\nmov.f32 %f1, 0f00000000;\n"
        "mov.f32 %f2, 0f00000000;\nmov.f32 %f3, 0f00000000;\n"
        "bar.sync 0;\n"
        "wgmma.fence.sync.aligned;\n"
        "wgmma.mma_async.sp.sync.aligned.m64n8k32.f32.f16.f16 "
        "{%f0, %f1, %f2, %f3}, %rd0, %rd1, %r2, 0, 1, 1, 1, 0, 1;\n"
        "wgmma.commit_group.sync.aligned;\n" +
        std::string(afterCommit) + "ret;\n}\n";
    return text;
  };
  std::string text =
      std::string(kHeader90) +
      kernel("waits", "wgmma.wait_group.sync.aligned 0;\n"
                      "mov.u32 %r2, 1;\nadd.f32 %f0, %f0, %f1;\n") +
      kernel("meta", "mov.u32 %r2, 1;\n") +
      kernel("acc", "add.f32 %f0, %f0, %f1;\n") +
      kernel("keepsone", "wgmma.wait_group.sync.aligned 1;\n"
                         "mov.u32 %r2, 1;\n");
  auto m = mustParse(text);
  ASSERT_TRUE(m);
  Memory mem;
  auto run = [&](const char *name) {
    return launch(*m, name, {1, 1, 1}, {128, 1, 1}, 0, {}, mem);
  };
  EXPECT_EQ(run("waits"), "");
  EXPECT_NE(run("meta").find("overwrites an A/metadata register"),
            std::string::npos);
  EXPECT_NE(run("acc").find("uses an accumulator register"), std::string::npos);
  EXPECT_NE(run("keepsone").find("overwrites an A/metadata register"),
            std::string::npos);
}

// A two-stage ring of 1 KiB cp.async.bulk copies, each stage signalled by
// its own mbarrier and waited for by phase parity (the producer pattern of
// Hopper kernels). pmode: 0 correct, 1 reads a stage without waiting, 2
// expects more transaction bytes than arrive, 3 exits with a copy in flight.
const char *kBulkRing = R"(
.visible .entry bulkring(
    .param .u64 psrc,
    .param .u64 pout,
    .param .u32 pmode)
{
  .reg .b32 %r<40>;
  .reg .b64 %rd<12>;
  .reg .pred %p<10>;
  .shared .align 128 .b8 ring[2048];
  .shared .align 8 .b8 bars[16];

  ld.param.u64 %rd1, [psrc];
  cvta.to.global.u64 %rd1, %rd1;
  ld.param.u64 %rd2, [pout];
  cvta.to.global.u64 %rd2, %rd2;
  ld.param.u32 %r30, [pmode];
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, ring;
  mov.u32 %r3, bars;
  setp.eq.u32 %p1, %r1, 0;
  setp.eq.u32 %p8, %r30, 2;
  selp.b32 %r20, 2048, 1024, %p8;
  @%p1 mbarrier.init.shared::cta.b64 [%r3], 1;
  @%p1 mbarrier.init.shared::cta.b64 [%r3+8], 1;
  bar.sync 0;
  @%p1 mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r3], 1024;
  @%p1 cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r2], [%rd1], 1024, [%r3];
  @%p1 mbarrier.arrive.expect_tx.shared::cta.b64 %rd9, [%r3+8], 1024;
  @%p1 cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r2+1024], [%rd1+1024], 1024, [%r3+8];
  mov.u32 %r10, 0;
  mov.u32 %r11, 0;
$L_loop:
  and.b32 %r12, %r10, 1;
  shr.u32 %r13, %r10, 1;
  and.b32 %r13, %r13, 1;
  mad.lo.u32 %r14, %r12, 8, %r3;
  mad.lo.u32 %r15, %r12, 1024, %r2;
  setp.eq.u32 %p2, %r30, 1;
  @%p2 bra.uni $L_read;
$L_wait:
  mbarrier.try_wait.parity.shared::cta.b64 %p3, [%r14], %r13;
  @!%p3 bra.uni $L_wait;
$L_read:
  shl.b32 %r16, %r1, 3;
  add.u32 %r16, %r16, %r15;
  ld.shared.v2.u32 {%r17, %r18}, [%r16];
  add.u32 %r11, %r11, %r17;
  add.u32 %r11, %r11, %r18;
  bar.sync 0;
  add.u32 %r19, %r10, 2;
  setp.lt.u32 %p4, %r19, 4;
  and.pred %p5, %p4, %p1;
  mul.wide.u32 %rd3, %r19, 1024;
  add.u64 %rd4, %rd1, %rd3;
  @%p5 mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r14], %r20;
  @%p5 cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r15], [%rd4], 1024, [%r14];
  add.u32 %r10, %r10, 1;
  setp.lt.u32 %p6, %r10, 4;
  @%p6 bra.uni $L_loop;
  setp.eq.u32 %p7, %r30, 3;
  and.pred %p7, %p7, %p1;
  @%p7 mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r3], 1024;
  @%p7 cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%r2], [%rd1], 1024, [%r3];
  mul.wide.u32 %rd5, %r1, 4;
  add.u64 %rd6, %rd2, %rd5;
  st.global.u32 [%rd6], %r11;
  ret;
}
)";

TEST(PTXEmulator, BulkCopiesSignalMbarriersByPhase) {
  std::string text = std::string(kHeader90) + kBulkRing;
  auto m = mustParse(text);
  ASSERT_TRUE(m);
  const uint32_t threads = 128;
  std::vector<uint32_t> src(4 * 256);
  for (size_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<uint32_t>(i * 2654435761u + 12345u);
  Memory mem;
  uint64_t dsrc = upload(mem, src);
  uint64_t dout = mem.allocate(threads * 4);
  auto run = [&](uint32_t mode) {
    return launch(
        *m, "bulkring", {1, 1, 1}, {threads, 1, 1}, 0,
        {ParamValue::u64(dsrc), ParamValue::u64(dout), ParamValue::u32(mode)},
        mem);
  };
  ASSERT_EQ(run(0), "");
  std::vector<uint32_t> out = download<uint32_t>(mem, dout, threads);
  for (uint32_t t = 0; t < threads; ++t) {
    uint32_t want = 0;
    for (uint32_t chunk = 0; chunk < 4; ++chunk)
      want += src[chunk * 256 + 2 * t] + src[chunk * 256 + 2 * t + 1];
    EXPECT_EQ(out[t], want) << "thread " << t;
  }
  std::string err = run(1);
  EXPECT_NE(err.find("touches the destination of the cp.async.bulk at line " +
                     std::to_string(lineOf(text, "[%r2], [%rd1], 1024, "
                                                 "[%r3];")) +
                     " before a wait on its mbarrier completed it"),
            std::string::npos)
      << err;
  err = run(2);
  EXPECT_NE(err.find("mbarrier wait for phase parity 1 never completes: it "
                     "still needs 0 arrivals and 1024 transaction bytes"),
            std::string::npos)
      << err;
  err = run(3);
  EXPECT_NE(err.find("exits with the cp.async.bulk of line"), std::string::npos)
      << err;
}

TEST(PTXEmulator, MbarrierMisuseIsReported) {
  std::string text = std::string(kHeader90) + R"(
.visible .entry misuse(.param .u32 pmode)
{
  .reg .b32 %r<8>;
  .reg .pred %p<4>;
  .shared .align 8 .b8 bars[16];
  ld.param.u32 %r1, [pmode];
  mov.u32 %r2, bars;
  setp.eq.u32 %p1, %r1, 0;
  @%p1 mbarrier.try_wait.parity.shared::cta.b64 %p2, [%r2], 0;
  mbarrier.init.shared::cta.b64 [%r2], 2;
  setp.eq.u32 %p1, %r1, 1;
  @%p1 mbarrier.arrive.expect_tx.shared::cta.b64 _, [%r2], 16;
  setp.eq.u32 %p1, %r1, 2;
  @%p1 mbarrier.init.shared::cta.b64 [%r2+4], 1;
  ret;
}
)";
  auto m = mustParse(text);
  ASSERT_TRUE(m);
  Memory mem;
  auto run = [&](uint32_t mode, uint32_t threads) {
    return launch(*m, "misuse", {1, 1, 1}, {threads, 1, 1}, 0,
                  {ParamValue::u32(mode)}, mem);
  };
  EXPECT_NE(run(0, 32).find("no mbarrier was initialised at shared address"),
            std::string::npos);
  // Count 2, then 32 arrivals expecting bytes that never come: the third
  // arrival finds a phase that has all its arrivals but not its bytes.
  EXPECT_NE(run(1, 32).find("mbarrier.arrive on a phase that has all its 2 "
                            "arrivals (it still waits for 32 transaction "
                            "bytes)"),
            std::string::npos);
  EXPECT_NE(run(2, 32).find("is not an 8-byte aligned slot"),
            std::string::npos);
  EXPECT_EQ(run(3, 32), "");
}

TEST(PTXEmulator, AtomicsTakeTurnsAndCtaOrderFollowsTheSeed) {
  // Thread 0 of every CTA takes a ticket from counter[0] (atom.add) and one
  // from counter[1] (atom.inc wrapping after 4); both land in out[cta].
  std::string ptx = std::string(kHeader80) + R"(
.visible .entry tickets(
    .param .u64 pcounter,
    .param .u64 pout)
{
  .reg .pred %p<2>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<8>;

  ld.param.u64 %rd1, [pcounter];
  ld.param.u64 %rd2, [pout];
  cvta.to.global.u64 %rd1, %rd1;
  cvta.to.global.u64 %rd2, %rd2;
  mov.u32 %r1, %tid.x;
  setp.eq.u32 %p1, %r1, 0;
  mov.u32 %r2, %ctaid.y;
  mov.u32 %r3, %nctaid.x;
  mov.u32 %r4, %ctaid.x;
  mad.lo.u32 %r2, %r2, %r3, %r4;
  mul.wide.u32 %rd3, %r2, 8;
  add.u64 %rd3, %rd2, %rd3;
  @%p1 atom.global.add.u32 %r5, [%rd1], 1;
  @%p1 atom.acq_rel.gpu.global.inc.u32 %r6, [%rd1+4], 4;
  @%p1 st.global.v2.u32 [%rd3], {%r5, %r6};
  ret;
}
)";
  auto m = mustParse(ptx);
  ASSERT_TRUE(m);
  const uint32_t ctas = 24;
  auto run = [&](uint64_t seed, std::vector<uint32_t> &add,
                 std::vector<uint32_t> &inc) {
    Memory mem;
    uint64_t counter = upload(mem, std::vector<uint32_t>{100, 0});
    uint64_t out = upload(mem, std::vector<uint32_t>(2 * ctas, 0));
    ASSERT_EQ(launch(*m, "tickets", {6, 4, 1}, {64, 1, 1}, 0,
                     {ParamValue::u64(counter), ParamValue::u64(out)}, mem,
                     nullptr, seed),
              "");
    std::vector<uint32_t> raw = download<uint32_t>(mem, out, 2 * ctas);
    add.clear();
    inc.clear();
    for (uint32_t i = 0; i < ctas; ++i) {
      add.push_back(raw[2 * i] - 100);
      inc.push_back(raw[2 * i + 1]);
    }
    // Every CTA got its own ticket; inc counts 0..4 and wraps to 0.
    EXPECT_EQ(download<uint32_t>(mem, counter, 2),
              (std::vector<uint32_t>{100 + ctas, ctas % 5}));
    for (uint32_t i = 0; i < ctas; ++i)
      EXPECT_EQ(inc[i], add[i] % 5) << i;
  };
  std::vector<uint32_t> add, inc, identity(ctas);
  for (uint32_t i = 0; i < ctas; ++i)
    identity[i] = i;
  run(0, add, inc); // x fastest, then y
  EXPECT_EQ(add, identity);
  std::vector<uint32_t> first, again;
  run(7, first, inc);
  run(7, again, inc); // the same seed, the same order
  EXPECT_EQ(first, again);
  EXPECT_NE(first, identity);
  std::vector<uint32_t> sorted = first;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, identity);
  run(8, again, inc);
  EXPECT_NE(first, again);
}
