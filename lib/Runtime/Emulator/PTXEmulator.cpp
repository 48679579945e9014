//===- PTXEmulator.cpp - memory, launch, CTAs and memory instructions -----===//
//
// Memory, launch(), the CTA loop, shared/global access checking (bounds,
// alignment, races) and the memory instructions (ld, st, cp.async). Scalar
// instructions are in PTXExecScalar.cpp, collectives in
// PTXExecCollective.cpp. See PTXInternal.h for the register layout.
//
//===----------------------------------------------------------------------===//
#include "PTXInternal.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>
#include <type_traits>

namespace sparsec::ptx {

using namespace detail;

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

uint8_t *Memory::Impl::find(uint64_t address, uint64_t bytes,
                            std::string &why) {
  uint64_t idx = (address - kBase) >> kShift;
  if (address >= kBase && idx < allocations.size()) {
    Allocation &a = allocations[idx];
    uint64_t off = address & ((1ull << kShift) - 1);
    if (a.live && off <= a.size && bytes <= a.size - off)
      return a.data.get() + off;
    uint64_t base = address - off;
    if (!a.live)
      why = "address " + hexString(address) + " is in freed allocation " +
            hexString(base);
    else
      why = "address " + hexString(address) + " + " + std::to_string(bytes) +
            " bytes is outside allocation " + hexString(base) + " of " +
            std::to_string(a.size) + " bytes";
    return nullptr;
  }
  why = "address " + hexString(address) + " is not in any allocation";
  return nullptr;
}

Memory::Memory() : state(std::make_unique<Impl>()) {}
Memory::~Memory() = default;

uint64_t Memory::allocate(uint64_t bytes) {
  if (bytes >= (1ull << Impl::kShift) ||
      state->allocations.size() >= (1ull << (64 - Impl::kShift)) - 32)
    return 0;
  Impl::Allocation a;
  a.data.reset(new (std::nothrow) uint8_t[bytes ? bytes : 1]()); // zeroed
  if (!a.data)
    return 0;
  a.size = bytes;
  a.live = true;
  state->allocations.push_back(std::move(a));
  return Impl::kBase + ((state->allocations.size() - 1) << Impl::kShift);
}

void Memory::free(uint64_t address) {
  uint64_t idx = (address - Impl::kBase) >> Impl::kShift;
  if (address < Impl::kBase || idx >= state->allocations.size() ||
      (address & ((1ull << Impl::kShift) - 1)))
    return;
  Impl::Allocation &a = state->allocations[idx];
  a.data.reset();
  a.live = false;
}

std::string Memory::write(uint64_t address, const void *src, uint64_t bytes) {
  std::string why;
  uint8_t *p = state->find(address, bytes, why);
  if (!p)
    return "emulator memory write: " + why;
  if (bytes)
    std::memcpy(p, src, bytes);
  return "";
}

std::string Memory::read(uint64_t address, void *dst, uint64_t bytes) const {
  std::string why;
  uint8_t *p = state->find(address, bytes, why);
  if (!p)
    return "emulator memory read: " + why;
  if (bytes)
    std::memcpy(dst, p, bytes);
  return "";
}

ParamValue ParamValue::u32(uint32_t v) {
  ParamValue p;
  for (int i = 0; i < 4; ++i)
    p.bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return p;
}

ParamValue ParamValue::u64(uint64_t v) {
  ParamValue p;
  for (int i = 0; i < 8; ++i)
    p.bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return p;
}

} // namespace sparsec::ptx

namespace sparsec::ptx::detail {

//===----------------------------------------------------------------------===//
// f16 / bf16
//===----------------------------------------------------------------------===//

uint16_t floatToHalf(float f, Rounding rnd) {
  uint32_t x = static_cast<uint32_t>(floatToBits(f));
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  uint32_t ax = x & 0x7fffffff;
  if (ax > 0x7f800000)
    return 0x7fff; // NaN
  if (ax == 0x7f800000)
    return sign | 0x7c00;
  bool rz = rnd == RndRZ;
  if (ax >= 0x38800000) { // normal half range (>= 2^-14)
    uint32_t r = ax - (112u << 23);
    if (rz)
      r >>= 13;
    else
      r = (r + 0xfff + ((r >> 13) & 1)) >> 13;
    if (r >= 0x7c00)
      return sign | (rz ? 0x7bff : 0x7c00);
    return sign | static_cast<uint16_t>(r);
  }
  // Subnormal half: value = m * 2^-24, m < 1024.
  uint32_t e = ax >> 23;
  if (e == 0) // f32 subnormal: far below half's smallest subnormal
    return sign;
  uint32_t mant = (ax & 0x7fffff) | 0x800000;
  uint32_t shift = 126 - e; // value * 2^24 = mant * 2^(e - 126)
  if (shift >= 25)
    return sign;
  uint32_t q = mant >> shift;
  uint32_t rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (!rz && (rest > half || (rest == half && (q & 1))))
    ++q;
  return sign | static_cast<uint16_t>(q);
}

uint16_t floatToBf16(float f, Rounding rnd) {
  uint32_t x = static_cast<uint32_t>(floatToBits(f));
  if ((x & 0x7fffffff) > 0x7f800000)
    return 0x7fff; // NaN
  if (rnd == RndRZ)
    return static_cast<uint16_t>(x >> 16);
  return static_cast<uint16_t>((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

float halfToFloatSlow(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  uint32_t bits;
  if (e == 0x1f) {
    bits = sign | 0x7f800000 | (m << 13);
  } else if (e) {
    bits = sign | ((e + 112) << 23) | (m << 13);
  } else if (m == 0) {
    bits = sign;
  } else { // subnormal: normalise
    int shift = 0;
    while (!(m & 0x400)) {
      m <<= 1;
      ++shift;
    }
    bits = sign | ((113 - shift) << 23) | ((m & 0x3ff) << 13);
  }
  return bitsToFloat(bits);
}

//===----------------------------------------------------------------------===//
// Exec
//===----------------------------------------------------------------------===//

Exec::Exec(const Kernel &kernel, Memory::Impl &memory, Dim3 grid, Dim3 block,
           uint32_t sharedBytes, uint32_t dynamicSharedBytes,
           std::vector<uint8_t> params, LaunchStats &stats)
    : kernel(kernel), memory(memory), grid(grid), block(block),
      n(block.x * block.y * block.z), nwarps((n + 31) / 32),
      regs(static_cast<size_t>(kernel.numRegs) * n), shared(sharedBytes),
      dynamicSharedBytes(dynamicSharedBytes), params(std::move(params)),
      stats(stats), byteState(sharedBytes), async(n) {}

std::string Exec::threadName(uint32_t t) const {
  uint32_t x = t % block.x, y = (t / block.x) % block.y,
           z = t / (block.x * block.y);
  return "(" + std::to_string(x) + "," + std::to_string(y) + "," +
         std::to_string(z) + ")";
}

bool Exec::fail(uint32_t t, const Inst &I, const std::string &cause) {
  if (error.empty())
    error = "kernel " + kernel.name + ", cta (" + std::to_string(cta.x) + "," +
            std::to_string(cta.y) + "," + std::to_string(cta.z) + "), thread " +
            threadName(t) + ", line " + std::to_string(I.line) + ": " + cause;
  return false;
}

uint8_t *Exec::sharedAccess(uint32_t t, const Inst &I, uint64_t addr,
                            uint32_t bytes, uint32_t align, Access access) {
  bool write = access == Write;
  const char *what = write ? "shared store" : "shared load";
  if (addr % align) {
    fail(t, I,
         std::string("misaligned ") + what + " of " + std::to_string(bytes) +
             " bytes at shared address " + hexString(addr) + " (needs " +
             std::to_string(align) + "-byte alignment)");
    return nullptr;
  }
  if (addr > shared.size() || bytes > shared.size() - addr) {
    fail(t, I,
         std::string(what) + " of " + std::to_string(bytes) +
             " bytes at shared address " + hexString(addr) +
             " is outside the CTA's " + std::to_string(shared.size()) +
             "-byte shared window");
    return nullptr;
  }
  if (!bulkCopies.empty())
    if (const BulkCopy *c = pendingBulk(addr, bytes)) {
      fail(t, I,
           std::string(what) + " of shared address " + hexString(addr) +
               " touches the destination of the cp.async.bulk at line " +
               std::to_string(c->line) +
               " before a wait on its mbarrier completed it");
      return nullptr;
    }
  ByteState *s = &byteState[addr];
  for (uint32_t i = 0; i < bytes; ++i) {
    ByteState &b = s[i];
    if (b.writeEpoch == epoch && b.writer != t) {
      fail(t, I,
           "shared-memory race at line " + std::to_string(I.line) +
               ": thread " + threadName(t) + (write ? " writes" : " reads") +
               " bytes written by thread " + threadName(b.writer) +
               " since the last bar.sync (shared address " +
               hexString(addr + i) + ")");
      return nullptr;
    }
    if (write) {
      if (b.readEpoch == epoch && b.reader != t) {
        uint32_t other = b.reader & ~kManyReaders;
        fail(t, I,
             "shared-memory race at line " + std::to_string(I.line) +
                 ": thread " + threadName(t) + " writes bytes read by " +
                 (other != t ? "thread " + threadName(other)
                             : std::string("other threads")) +
                 " since the last bar.sync (shared address " +
                 hexString(addr + i) + ")");
        return nullptr;
      }
      b.writeEpoch = epoch;
      b.writer = t;
    } else if (access == ReadUnrecorded) {
      continue;
    } else if (b.readEpoch != epoch) {
      b.readEpoch = epoch;
      b.reader = t;
    } else if ((b.reader & ~kManyReaders) != t) {
      b.reader |= kManyReaders;
    }
  }
  return &shared[addr];
}

uint8_t *Exec::globalAccess(uint32_t t, const Inst &I, uint64_t addr,
                            uint32_t bytes, bool write) {
  const char *what = write ? "global store" : "global load";
  if (addr % bytes) {
    fail(t, I,
         std::string("misaligned ") + what + " of " + std::to_string(bytes) +
             " bytes at " + hexString(addr));
    return nullptr;
  }
  std::string why;
  uint8_t *p = memory.find(addr, bytes, why);
  if (!p)
    fail(t, I,
         std::string(what) + " of " + std::to_string(bytes) +
             " bytes out of bounds: " + why);
  return p;
}

int Exec::groupGuard(const Inst &I, uint32_t first, uint32_t width) {
  if (I.guard < 0)
    return 1;
  uint32_t count = 0;
  for (uint32_t t = first; t < first + width; ++t)
    count += active(I, t);
  if (count == 0 || count == width)
    return count ? 1 : 0;
  uint32_t on = first, off = first;
  while (!active(I, on))
    ++on;
  while (active(I, off))
    ++off;
  fail(on, I,
       "collective instruction executed by only part of its " +
           std::string(width == 32 ? "warp" : "warpgroup") + " (thread " +
           threadName(on) + " runs it, thread " + threadName(off) +
           " does not)");
  return -1;
}

bool Exec::execLd(const Inst &I) {
  const Operand &D = I.ops[0], &A = I.ops[1];
  uint32_t eb = tyBits(I.type) / 8, total = eb * I.vec;
  const int32_t *dst = D.kind == Operand::Vec ? regList(D) : &D.reg;
  const uint64_t *base = A.reg >= 0 ? row(A.reg) : nullptr;
  unsigned signBits = tyIsSigned(I.type) && eb < 8 ? eb * 8 : 0;
  unsigned destBits = static_cast<unsigned>(I.aux[0]);
  uint64_t destMask = destBits >= 64 ? ~0ull : (1ull << destBits) - 1;
  bool isShared = I.space == Space::Shared;
  bool ok = true;
  forActive(*this, I, [&](uint32_t t) {
    if (!ok)
      return;
    uint64_t addr = (base ? base[t] : 0) + static_cast<uint64_t>(A.offset);
    const uint8_t *p = isShared ? sharedAccess(t, I, addr, total, total, Read)
                                : globalAccess(t, I, addr, total, false);
    if (!p) {
      ok = false;
      return;
    }
    for (uint32_t v = 0; v < I.vec; ++v) {
      uint64_t x = 0;
      std::memcpy(&x, p + v * eb, eb);
      if (signBits) {
        uint64_t m = 1ull << (signBits - 1);
        x = ((x ^ m) - m) & destMask;
      }
      row(dst[v])[t] = x;
    }
  });
  return ok;
}

bool Exec::execSt(const Inst &I) {
  const Operand &A = I.ops[0], &S = I.ops[1];
  uint32_t eb = tyBits(I.type) / 8, total = eb * I.vec;
  const int32_t *src = S.kind == Operand::Vec ? regList(S) : &S.reg;
  const uint64_t *base = A.reg >= 0 ? row(A.reg) : nullptr;
  bool isShared = I.space == Space::Shared;
  bool ok = true;
  forActive(*this, I, [&](uint32_t t) {
    if (!ok)
      return;
    uint64_t addr = (base ? base[t] : 0) + static_cast<uint64_t>(A.offset);
    uint8_t *p = isShared ? sharedAccess(t, I, addr, total, total, Write)
                          : globalAccess(t, I, addr, total, true);
    if (!p) {
      ok = false;
      return;
    }
    for (uint32_t v = 0; v < I.vec; ++v) {
      uint64_t x = row(src[v])[t];
      std::memcpy(p + v * eb, &x, eb);
    }
  });
  return ok;
}

bool Exec::execAtom(const Inst &I) {
  const uint64_t *operand = row(I.ops[2].reg);
  uint64_t *dst = row(I.ops[0].reg);
  bool ok = true;
  // Threads take their turns in index order, each seeing the one before.
  forActive(*this, I, [&](uint32_t t) {
    if (!ok)
      return;
    uint8_t *p = globalAccess(t, I, address(I.ops[1], t), 4, true);
    if (!p) {
      ok = false;
      return;
    }
    uint32_t old = 0, b = static_cast<uint32_t>(operand[t]);
    std::memcpy(&old, p, 4);
    uint32_t next = I.mod == AtomAdd ? old + b : old >= b ? 0 : old + 1;
    std::memcpy(p, &next, 4);
    dst[t] = old;
  });
  return ok;
}

bool Exec::execCpAsync(const Inst &I) {
  uint32_t size = static_cast<uint32_t>(I.aux[0]);
  const uint64_t *srcSize = row(I.ops[2].reg);
  bool ok = true;
  forActive(*this, I, [&](uint32_t t) {
    if (!ok)
      return;
    uint64_t dst = address(I.ops[0], t), src = address(I.ops[1], t);
    uint32_t ss = static_cast<uint32_t>(srcSize[t]);
    if (ss > size) {
      ok = fail(t, I,
                "cp.async src-size " + std::to_string(ss) +
                    " exceeds cp-size " + std::to_string(size));
      return;
    }
    if (dst % size || dst > shared.size() || size > shared.size() - dst) {
      ok = fail(t, I,
                "cp.async destination " + hexString(dst) + " (" +
                    std::to_string(size) + " bytes) is " +
                    (dst % size ? "misaligned"
                                : "outside the CTA's " +
                                      std::to_string(shared.size()) +
                                      "-byte shared window"));
      return;
    }
    if (ss) {
      std::string why;
      if (src % size) {
        ok = fail(t, I,
                  "misaligned cp.async source " + hexString(src) + " (needs " +
                      std::to_string(size) + "-byte alignment)");
        return;
      }
      if (!memory.find(src, ss, why)) {
        ok = fail(t, I, "cp.async source out of bounds: " + why);
        return;
      }
    }
    AsyncQueue &q = async[t];
    q.copies.push_back({src, static_cast<uint32_t>(dst), q.openGroup,
                        static_cast<uint8_t>(size), static_cast<uint8_t>(ss),
                        I.line});
  });
  return ok;
}

bool Exec::completeCopies(uint32_t t, const Inst &I, uint32_t beforeGroup) {
  AsyncQueue &q = async[t];
  while (q.head < q.copies.size() && q.copies[q.head].group < beforeGroup) {
    const PendingCopy &c = q.copies[q.head++];
    uint8_t data[16] = {0};
    if (c.srcSize) {
      std::string why;
      const uint8_t *p = memory.find(c.src, c.srcSize, why);
      if (!p)
        return fail(t, I,
                    "cp.async from line " + std::to_string(c.line) +
                        " completes with a bad source: " + why);
      std::memcpy(data, p, c.srcSize);
    }
    uint8_t *d = sharedAccess(t, I, c.dst, c.size, c.size, Write);
    if (!d) {
      error += " (completing the cp.async issued at line " +
               std::to_string(c.line) + ")";
      return false;
    }
    std::memcpy(d, data, c.size);
  }
  if (q.head == q.copies.size()) {
    q.copies.clear();
    q.head = 0;
  }
  return true;
}

const Exec::BulkCopy *Exec::pendingBulk(uint64_t addr, uint32_t bytes) const {
  for (const BulkCopy &c : bulkCopies)
    if (addr < uint64_t(c.dst) + c.bytes && c.dst < addr + bytes)
      return &c;
  return nullptr;
}

Exec::Mbarrier *Exec::findMbarrier(uint32_t t, const Inst &I, uint64_t addr) {
  for (auto &entry : mbarriers)
    if (entry.first == addr)
      return &entry.second;
  fail(t, I,
       "no mbarrier was initialised at shared address " + hexString(addr));
  return nullptr;
}

bool Exec::execCpAsyncBulk(const Inst &I) {
  const uint64_t *size = row(I.ops[2].reg);
  bool ok = true;
  forActive(*this, I, [&](uint32_t t) {
    if (!ok)
      return;
    uint64_t dst = address(I.ops[0], t), src = address(I.ops[1], t);
    uint64_t bar = address(I.ops[3], t);
    uint32_t bytes = static_cast<uint32_t>(size[t]);
    std::string why;
    if (bytes == 0 || bytes % 16 || dst % 16 || src % 16)
      ok = fail(t, I,
                "cp.async.bulk needs a size, source and destination that are "
                "multiples of 16 (size " +
                    std::to_string(bytes) + ", src " + hexString(src) +
                    ", dst " + hexString(dst) + ")");
    else if (dst > shared.size() || bytes > shared.size() - dst)
      ok = fail(t, I,
                "cp.async.bulk destination " + hexString(dst) + " (" +
                    std::to_string(bytes) + " bytes) is outside the CTA's " +
                    std::to_string(shared.size()) + "-byte shared window");
    else if (!memory.find(src, bytes, why))
      ok = fail(t, I, "cp.async.bulk source out of bounds: " + why);
    else if (const BulkCopy *c = pendingBulk(dst, bytes))
      ok = fail(t, I,
                "cp.async.bulk overwrites the destination of the one at "
                "line " +
                    std::to_string(c->line) + " before it completed");
    else if (findMbarrier(t, I, bar))
      bulkCopies.push_back({src, static_cast<uint32_t>(dst), bytes,
                            static_cast<uint32_t>(bar), I.line});
    else
      ok = false;
  });
  return ok;
}

/// Lands the bulk copies signalling `mbar` (in issue order) and counts their
/// bytes off its transaction count.
bool Exec::deliverBulk(uint32_t t, const Inst &I, uint32_t mbar) {
  Mbarrier *m = findMbarrier(t, I, mbar);
  if (!m)
    return false;
  size_t kept = 0;
  for (size_t i = 0; i < bulkCopies.size(); ++i) {
    const BulkCopy &c = bulkCopies[i];
    if (c.mbar != mbar) {
      bulkCopies[kept++] = c;
      continue;
    }
    std::string why;
    const uint8_t *p = memory.find(c.src, c.bytes, why);
    if (!p)
      return fail(t, I,
                  "cp.async.bulk from line " + std::to_string(c.line) +
                      " completes with a bad source: " + why);
    std::memcpy(shared.data() + c.dst, p, c.bytes);
    // Written by the async proxy: any thread may read it after the wait.
    for (uint32_t b = 0; b < c.bytes; ++b)
      byteState[c.dst + b].writeEpoch = 0;
    m->txPending -= c.bytes;
  }
  bulkCopies.resize(kept);
  return true;
}

bool Exec::execMbarrier(const Inst &I) {
  const Operand &A = I.op == Op::MbarInit ? I.ops[0] : I.ops[1];
  bool ok = true;
  forActive(*this, I, [&](uint32_t t) {
    if (!ok)
      return;
    uint64_t addr = address(A, t);
    if (addr % 8 || addr + 8 > shared.size()) {
      ok = fail(t, I,
                "mbarrier address " + hexString(addr) +
                    " is not an 8-byte aligned slot of the CTA's " +
                    std::to_string(shared.size()) + "-byte shared window");
      return;
    }
    uint32_t key = static_cast<uint32_t>(addr);
    if (I.op == Op::MbarInit) {
      uint64_t count = row(I.ops[1].reg)[t];
      if (count == 0 || count >= (1u << 20)) {
        ok = fail(t, I,
                  "mbarrier.init count " + std::to_string(count) +
                      " is outside 1 .. 2^20 - 1");
        return;
      }
      for (const BulkCopy &c : bulkCopies)
        if (c.mbar == key) {
          ok = fail(t, I,
                    "mbarrier.init on a barrier that the cp.async.bulk at "
                    "line " +
                        std::to_string(c.line) + " still signals");
          return;
        }
      Mbarrier fresh;
      fresh.expected = fresh.pending = static_cast<uint32_t>(count);
      for (auto &entry : mbarriers)
        if (entry.first == key) {
          entry.second = fresh;
          return;
        }
      mbarriers.push_back({key, fresh});
      return;
    }
    Mbarrier *m = findMbarrier(t, I, addr);
    if (!m) {
      ok = false;
      return;
    }
    auto completeIfDone = [&] {
      if (m->pending == 0 && m->txPending == 0) {
        ++m->phase;
        m->pending = m->expected;
      }
    };
    if (I.op == Op::MbarArrive) {
      if (m->pending == 0) {
        ok = fail(t, I,
                  "mbarrier.arrive on a phase that has all its " +
                      std::to_string(m->expected) +
                      " arrivals (it still waits for " +
                      std::to_string(m->txPending) + " transaction bytes)");
        return;
      }
      if (I.aux[0])
        m->txPending += int64_t(row(I.ops[2].reg)[t]);
      --m->pending;
      completeIfDone();
      if (I.ops[0].reg != RegSink)
        row(I.ops[0].reg)[t] = m->phase; // the state token: the phase
      return;
    }
    // try_wait.parity: the copies this barrier counts land now; in lockstep
    // no other thread can arrive while this one waits, so a phase that is
    // still incomplete here never completes.
    if (!deliverBulk(t, I, key)) {
      ok = false;
      return;
    }
    completeIfDone();
    uint64_t parity = row(I.ops[2].reg)[t] & 1;
    bool done = (m->phase & 1) != parity;
    if (!done) {
      ok = fail(t, I,
                "mbarrier wait for phase parity " + std::to_string(parity) +
                    " never completes: it still needs " +
                    std::to_string(m->pending) + " arrivals and " +
                    std::to_string(m->txPending) +
                    " transaction bytes, and no other thread can arrive "
                    "while all wait (lockstep)");
      return;
    }
    row(I.ops[0].reg)[t] = 1;
  });
  return ok;
}

bool Exec::runCta(uint32_t x, uint32_t y, uint32_t z) {
  cta = {x, y, z};
  std::fill(regs.begin(), regs.end(), 0);
  for (const auto &c : kernel.constants)
    std::fill_n(row(c.first), n, c.second);
  for (uint32_t t = 0; t < n; ++t) {
    row(RegTidX)[t] = t % block.x;
    row(RegTidY)[t] = (t / block.x) % block.y;
    row(RegTidZ)[t] = t / (block.x * block.y);
    row(RegLaneid)[t] = t % 32;
    row(RegWarpid)[t] = t / 32;
  }
  std::fill_n(row(RegNtidX), n, block.x);
  std::fill_n(row(RegNtidY), n, block.y);
  std::fill_n(row(RegNtidZ), n, block.z);
  std::fill_n(row(RegCtaidX), n, x);
  std::fill_n(row(RegCtaidY), n, y);
  std::fill_n(row(RegCtaidZ), n, z);
  std::fill_n(row(RegNctaidX), n, grid.x);
  std::fill_n(row(RegNctaidY), n, grid.y);
  std::fill_n(row(RegNctaidZ), n, grid.z);
  std::fill_n(row(RegNwarpid), n, nwarps);
  std::fill_n(row(RegDynSmem), n, dynamicSharedBytes);
  // Uninitialised shared memory reads as a visible poison pattern.
  std::fill(shared.begin(), shared.end(), 0xCD);
  wgmmaUse.assign(kernel.numRegs, WgmmaUse());
  wgmmaOpenGroup = 0;
  wgmmaCommitted.clear();
  ++epoch;
  for (AsyncQueue &q : async) {
    q.copies.clear();
    q.head = 0;
    q.openGroup = 0;
  }
  mbarriers.clear();
  bulkCopies.clear();

  const Inst *insts = kernel.insts.data();
  size_t count = kernel.insts.size(), pc = 0;
  uint64_t steps = 0;
  constexpr uint64_t kMaxSteps = 50000000; // per CTA: catches endless loops
  bool done = false;
  while (pc < count && !done) {
    const Inst &I = insts[pc++];
    stats.instructions += nwarps;
    if (++steps > kMaxSteps)
      return fail(0, I,
                  "more than " + std::to_string(kMaxSteps) +
                      " instructions in one CTA (endless loop?)");
    if (kernel.usesWarpgroupOps && !checkWgmmaHazards(I))
      return false;
    if (!step(I, pc, done))
      return false;
  }
  if (!bulkCopies.empty())
    return fail(0, insts[pc ? pc - 1 : 0],
                "the CTA exits with the cp.async.bulk of line " +
                    std::to_string(bulkCopies.front().line) +
                    " in flight (no wait on its mbarrier)");
  return true;
}

bool Exec::checkWgmmaHazards(const Inst &I) {
  auto forRegs = [&](const Operand &o, auto f) {
    if (o.kind == Operand::Reg || (o.kind == Operand::Addr && o.reg >= 0))
      return f(o.reg);
    if (o.kind == Operand::Vec) {
      const int32_t *list = regList(o);
      for (int i = 0; i < o.count; ++i)
        if (!f(list[i]))
          return false;
    }
    return true;
  };
  switch (I.op) {
  case Op::WgmmaCommit:
    wgmmaCommitted.push_back(wgmmaOpenGroup++);
    return true;
  case Op::WgmmaWait: {
    size_t keep = static_cast<size_t>(I.aux[0]);
    while (wgmmaCommitted.size() > keep) {
      int64_t retired = wgmmaCommitted.front();
      wgmmaCommitted.erase(wgmmaCommitted.begin());
      for (WgmmaUse &use : wgmmaUse)
        if (use.group == retired)
          use = WgmmaUse();
    }
    return true;
  }
  case Op::WgmmaSp: {
    // Chaining into pending accumulators is how pipelines overlap MMAs.
    for (unsigned k = 0; k < I.nops; ++k)
      forRegs(I.ops[k], [&](int32_t r) {
        WgmmaUse &use = wgmmaUse[r];
        if (k == 0)
          use = {wgmmaOpenGroup, true};
        else if (!use.accumulator && r >= NumSpecialRegs)
          use = {wgmmaOpenGroup, false};
        return true;
      });
    return true;
  }
  default:
    break;
  }
  bool writesFirst = I.nops > 0 && I.op != Op::St && I.op != Op::CpAsync &&
                     I.op != Op::CpAsyncBulk && I.op != Op::MbarInit &&
                     I.op != Op::Bra && I.op != Op::Bar && I.op != Op::Exit &&
                     I.op != Op::WgmmaFence;
  for (unsigned k = 0; k < I.nops; ++k) {
    bool ok = forRegs(I.ops[k], [&](int32_t r) {
      const WgmmaUse &use = wgmmaUse[r];
      if (use.group < 0 || !(use.accumulator || (k == 0 && writesFirst)))
        return true;
      return fail(0, I,
                  std::string(use.accumulator
                                  ? "uses an accumulator register of a "
                                  : "overwrites an A/metadata register of a ") +
                      "wgmma.mma_async that no wgmma.wait_group has retired "
                      "yet (undefined on the device)");
    });
    if (!ok)
      return false;
  }
  return true;
}

} // namespace sparsec::ptx::detail

namespace sparsec::ptx {
namespace {

/// The CTAs of `grid`, x fastest, shuffled by `seed` unless it is 0. A
/// fixed generator and Fisher-Yates, so an order is the same everywhere.
std::vector<Dim3> ctaOrder(Dim3 grid, uint64_t seed) {
  std::vector<Dim3> order;
  order.reserve(uint64_t(grid.x) * grid.y * grid.z);
  for (uint32_t z = 0; z < grid.z; ++z)
    for (uint32_t y = 0; y < grid.y; ++y)
      for (uint32_t x = 0; x < grid.x; ++x)
        order.push_back({x, y, z});
  uint64_t state = seed;
  auto next = [&state] { // splitmix64
    uint64_t v = (state += 0x9E3779B97F4A7C15ull);
    v = (v ^ (v >> 30)) * 0xBF58476D1CE4E5B9ull;
    v = (v ^ (v >> 27)) * 0x94D049BB133111EBull;
    return v ^ (v >> 31);
  };
  if (seed)
    for (size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[next() % i]);
  return order;
}

} // namespace

std::string launch(const Module &module, const std::string &name, Dim3 grid,
                   Dim3 block, uint32_t dynamicSharedBytes,
                   const std::vector<ParamValue> &params, Memory &memory,
                   LaunchStats *stats, uint64_t ctaOrderSeed) {
  const Kernel *k = nullptr;
  std::string names;
  for (const Kernel &c : module.kernels) {
    if (c.name == name)
      k = &c;
    names += (names.empty() ? "" : ", ") + c.name;
  }
  if (!k)
    return "no kernel named '" + name + "' in the module (it has: " + names +
           ")";
  std::string pre = "kernel " + name + ": ";
  auto dims = [](Dim3 d) {
    return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," +
           std::to_string(d.z) + ")";
  };
  uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (!grid.x || !grid.y || !grid.z || !threads)
    return pre + "empty grid " + dims(grid) + " or block " + dims(block);
  if (threads > 1024)
    return pre + "block " + dims(block) + " has more than 1024 threads";
  if (k->reqntid[0] && (k->reqntid[0] != block.x || k->reqntid[1] != block.y ||
                        k->reqntid[2] != block.z))
    return pre + "block " + dims(block) + " differs from .reqntid " +
           std::to_string(k->reqntid[0]) + "," + std::to_string(k->reqntid[1]) +
           "," + std::to_string(k->reqntid[2]);
  if (k->maxntid[0] &&
      threads > uint64_t(k->maxntid[0]) * k->maxntid[1] * k->maxntid[2])
    return pre + "block " + dims(block) + " exceeds .maxntid";
  if (k->usesWarpOps && threads % 32)
    return pre +
           "warp-collective instructions need a multiple of 32 "
           "threads, block is " +
           dims(block);
  if (k->usesWarpgroupOps && threads % 128)
    return pre + "wgmma needs a multiple of 128 threads, block is " +
           dims(block);
  if (params.size() != k->params.size())
    return pre + "expects " + std::to_string(k->params.size()) +
           " parameters, got " + std::to_string(params.size());
  std::vector<uint8_t> buffer(k->paramBytes);
  for (size_t i = 0; i < params.size(); ++i) {
    const Param &p = k->params[i];
    if (params[i].bytes.size() != p.size)
      return pre + "parameter " + std::to_string(i) + " ('" + p.name +
             "') is " + std::to_string(p.size) + " bytes, got " +
             std::to_string(params[i].bytes.size());
    std::memcpy(buffer.data() + p.offset, params[i].bytes.data(), p.size);
  }
  uint64_t sharedBytes = uint64_t(std::max(k->staticShared, k->dynamicOffset)) +
                         dynamicSharedBytes;
  constexpr uint64_t kMaxShared = 227 * 1024; // sm_90 opt-in maximum
  if (sharedBytes > kMaxShared)
    return pre + "needs " + std::to_string(sharedBytes) +
           " bytes of shared memory, more than " + std::to_string(kMaxShared);
  LaunchStats counted;
  Exec exec(*k, *memory.impl(), grid, block, static_cast<uint32_t>(sharedBytes),
            dynamicSharedBytes, std::move(buffer), counted);
  std::string result;
  for (const Dim3 &cta : ctaOrder(grid, ctaOrderSeed))
    if (!exec.runCta(cta.x, cta.y, cta.z)) {
      result = exec.error;
      break;
    }
  if (stats)
    *stats = counted;
  return result;
}

} // namespace sparsec::ptx
