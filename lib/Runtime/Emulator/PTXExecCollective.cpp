//===- PTXExecCollective.cpp - shfl, ldmatrix, mma.sp, wgmma --------------===//
//
// Warp-collective (shfl.sync, ldmatrix, mma.sp) and warpgroup (wgmma)
// instructions. Each reads every participating lane's operands first and
// writes results afterwards, so destination registers may alias sources.
//
// Fragment layouts (lane = 4g + t, g = lane >> 2, t = lane & 3), for the
// 16x32 logical A of one warp (compressed to 16x16 by 2:4 sparsity), the
// 32x8 B and the 16x8 C/D of mma.sp m16n8k32 with 16-bit inputs:
//   A regs: a0 = (row g, ccols 2t,2t+1)  a1 = (row g+8, ccols 2t,2t+1)
//           a2 = (row g, ccols 2t+8,+9)  a3 = (row g+8, ccols 2t+8,+9)
//           compressed column 2c+s = slot s of logical group c (cols 4c..+3)
//   B regs: b_j = (k 8j+2t, 8j+2t+1; n g)
//   C/D:    c0 = (g, 2t) c1 = (g, 2t+1) c2 = (g+8, 2t) c3 = (g+8, 2t+1)
//   Metadata E(g,p), p = 0,1, from lane 4g+p (selector 0) or 4g+2+p
//   (selector 1): nibble c (c = 0..3) of bits [15:0] codes row g, logical
//   group 4p+c; bits [31:16] row g+8. Code = p0 | p1 << 2: slots 0 and 1
//   sit at positions p0 and p1 of the group.
// wgmma.mma_async.sp m64nNk32: warp w of the warpgroup supplies rows
// 16w..16w+15 of A with the same per-warp layout; B comes from shared memory
// through a matrix descriptor (wgmmaBElementAddress).
//
//===----------------------------------------------------------------------===//
#include "PTXInternal.h"

#include <cstring>

namespace sparsec::ptx::detail {

namespace {

uint16_t half16(uint64_t reg, unsigned which) {
  return static_cast<uint16_t>(reg >> (16 * which));
}

// Kept entries of one logical A row (2 per group of 4), in increasing k.
constexpr unsigned kKept = 16;
struct SparseRow {
  uint8_t k[kKept];
  float v[kKept];
};

} // namespace

/// Shared-memory byte address of element (k, n) of the wgmma B operand
/// (16-bit elements, no swizzle, K = 32 logical rows) given the descriptor's
/// start address, leading (LBO) and stride (SBO) byte offsets. A core matrix
/// is 8 rows of 16 contiguous bytes (128 bytes). In both majors LBO steps
/// between 8-k blocks and SBO between 8-n blocks: measured on an H200 by
/// test/gpu/mma_oracle.cu (test/gpu/results/).
uint64_t wgmmaBElementAddress(uint64_t start, uint64_t lbo, uint64_t sbo,
                              bool transB, unsigned k, unsigned n) {
  if (!transB) // K-major: k contiguous within a 16-byte core-matrix row
    return start + (n / 8) * sbo + (n % 8) * 16 + (k / 8) * lbo + (k % 8) * 2;
  // MN-major: n contiguous within a 16-byte core-matrix row
  return start + (n / 8) * sbo + (n % 8) * 2 + (k / 8) * lbo + (k % 8) * 16;
}

namespace {

// Decodes the 16 x 32 logical A of the warp starting at thread `base`.
// `rowBase` only names rows in errors (16w for wgmma).
// `fromShared`, when given, is the compressed 16 x 16 A already read from
// shared memory (wgmma with an A descriptor); aRegs is then unused.
bool decodeSparseA(Exec &E, const Inst &I, uint32_t base, unsigned rowBase,
                   const int32_t *aRegs, int32_t eReg, int sel, bool ordered,
                   bool bf16, float scale, SparseRow rows[16],
                   const float (*fromShared)[16] = nullptr) {
  // Compressed 16 x 16 A: register j of lane 4g+t holds row g (+8 if j is
  // odd), compressed columns 2t, 2t+1 (+8 if j >= 2).
  float ac[16][16];
  if (fromShared)
    std::memcpy(ac, fromShared, sizeof(ac));
  for (unsigned lane = 0; !fromShared && lane < 32; ++lane)
    for (unsigned j = 0; j < 4; ++j) {
      uint64_t v = E.row(aRegs[j])[base + lane];
      unsigned r = lane / 4 + (j & 1) * 8, col = 2 * (lane % 4) + (j >> 1) * 8;
      for (unsigned h = 0; h < 2; ++h) {
        uint16_t bits = half16(v, h);
        ac[r][col + h] = (bf16 ? bf16ToFloat(bits) : halfToFloat(bits)) * scale;
      }
    }
  const uint64_t *e = E.row(eReg);
  for (unsigned r = 0; r < 16; ++r) {
    unsigned g = r & 7;
    SparseRow &out = rows[r];
    for (unsigned c = 0; c < 8; ++c) {
      unsigned eLane = 4 * g + (c >> 2) + 2 * sel;
      uint32_t word = static_cast<uint32_t>(e[base + eLane]);
      unsigned code = (word >> ((c & 3) * 4 + (r >= 8 ? 16 : 0))) & 0xf;
      unsigned p0 = code & 3, p1 = code >> 2;
      if (p0 == p1 || (ordered && p0 > p1))
        return E.fail(base + eLane, I,
                      "invalid sparsity metadata: lane " +
                          std::to_string(eLane) + " supplies code " +
                          hexString(code) + " for row " +
                          std::to_string(rowBase + r) + ", group " +
                          std::to_string(c) + " (positions " +
                          std::to_string(p0) + "," + std::to_string(p1) + "; " +
                          (p0 == p1 ? "positions must differ"
                                    : "::ordered_metadata needs p0 < p1") +
                          ")");
      // Slots 0 and 1 (compressed columns 2c, 2c+1) in increasing k.
      unsigned first = p0 < p1 ? 0 : 1;
      unsigned pos[2] = {p0, p1};
      for (unsigned i = 0; i < 2; ++i) {
        unsigned s = i ? 1 - first : first;
        out.k[2 * c + i] = static_cast<uint8_t>(4 * c + pos[s]);
        out.v[2 * c + i] = ac[r][2 * c + s];
      }
    }
  }
  return true;
}

} // namespace

bool Exec::execShfl(const Inst &I) {
  ShflMode mode = static_cast<ShflMode>(I.mod);
  uint64_t *d = row(I.ops[0].reg);
  const uint64_t *a = row(I.ops[1].reg), *b = row(I.ops[2].reg),
                 *c = row(I.ops[3].reg), *mask = row(I.ops[4].reg);
  for (uint32_t w = 0; w < nwarps; ++w) {
    uint32_t base = 32 * w;
    int g = groupGuard(I, base, 32);
    if (g < 0)
      return false;
    if (!g)
      continue;
    uint64_t in[32], out[32];
    for (uint32_t l = 0; l < 32; ++l) {
      if (static_cast<uint32_t>(mask[base + l]) != 0xffffffffu)
        return fail(base + l, I,
                    "shfl.sync membermask " + hexString(mask[base + l]) +
                        " (only the full warp, 0xffffffff, is supported)");
      in[l] = a[base + l] & 0xffffffffu;
    }
    for (int l = 0; l < 32; ++l) {
      int bval = static_cast<int>(b[base + l] & 31);
      int cval = static_cast<int>(c[base + l] & 31);
      int segmask = static_cast<int>((c[base + l] >> 8) & 31);
      int maxLane = (l & segmask) | (cval & ~segmask);
      int minLane = l & segmask;
      int j = l;
      bool p = false;
      switch (mode) {
      case ShflUp:
        j = l - bval;
        p = j >= maxLane;
        break;
      case ShflDown:
        j = l + bval;
        p = j <= maxLane;
        break;
      case ShflBfly:
        j = l ^ bval;
        p = j <= maxLane;
        break;
      case ShflIdx:
        j = minLane | (bval & ~segmask);
        p = j <= maxLane;
        break;
      }
      out[l] = in[p ? j : l];
    }
    for (uint32_t l = 0; l < 32; ++l)
      d[base + l] = out[l];
  }
  return true;
}

bool Exec::execLdmatrix(const Inst &I) {
  const Operand &A = I.ops[1];
  const int32_t *dst = regList(I.ops[0]);
  const uint64_t *addrBase = A.reg >= 0 ? row(A.reg) : nullptr;
  unsigned count = I.vec;
  bool trans = I.flags & FlagTrans;
  for (uint32_t w = 0; w < nwarps; ++w) {
    uint32_t base = 32 * w;
    int g = groupGuard(I, base, 32);
    if (g < 0)
      return false;
    if (!g)
      continue;
    uint16_t m[4][8][8]; // [matrix][row][col]
    for (unsigned i = 0; i < count; ++i)
      for (unsigned r = 0; r < 8; ++r) {
        uint32_t t = base + 8 * i + r;
        uint64_t addr =
            (addrBase ? addrBase[t] : 0) + static_cast<uint64_t>(A.offset);
        const uint8_t *p = sharedAccess(t, I, addr, 16, 16, Read);
        if (!p)
          return false;
        std::memcpy(m[i][r], p, 16);
      }
    for (unsigned l = 0; l < 32; ++l)
      for (unsigned i = 0; i < count; ++i) {
        uint16_t lo, hi;
        if (trans) {
          lo = m[i][2 * (l % 4)][l / 4];
          hi = m[i][2 * (l % 4) + 1][l / 4];
        } else {
          lo = m[i][l / 4][2 * (l % 4)];
          hi = m[i][l / 4][2 * (l % 4) + 1];
        }
        row(dst[i])[base + l] = uint64_t(lo) | uint64_t(hi) << 16;
      }
  }
  return true;
}

bool Exec::execMmaSp(const Inst &I) {
  const int32_t *dRegs = regList(I.ops[0]), *aRegs = regList(I.ops[1]),
                *bRegs = regList(I.ops[2]), *cRegs = regList(I.ops[3]);
  bool bf16 = I.type2 == Ty::BF16, ordered = I.flags & FlagOrdered;
  int sel = static_cast<int>(I.aux[0]);
  for (uint32_t w = 0; w < nwarps; ++w) {
    uint32_t base = 32 * w;
    int g = groupGuard(I, base, 32);
    if (g < 0)
      return false;
    if (!g)
      continue;
    ++stats.mmaInstructions;
    SparseRow rows[16];
    if (!decodeSparseA(*this, I, base, 0, aRegs, I.ops[4].reg, sel, ordered,
                       bf16, 1.0f, rows))
      return false;
    float B[32][8];
    for (unsigned k = 0; k < 32; ++k)
      for (unsigned nn = 0; nn < 8; ++nn) {
        unsigned lane = 4 * nn + (k % 8) / 2;
        uint16_t h = half16(row(bRegs[k / 8])[base + lane], k & 1);
        B[k][nn] = bf16 ? bf16ToFloat(h) : halfToFloat(h);
      }
    float D[16][8];
    for (unsigned r = 0; r < 16; ++r)
      for (unsigned nn = 0; nn < 8; ++nn) {
        unsigned lane = 4 * (r & 7) + nn / 2;
        unsigned reg = (r >= 8 ? 2 : 0) + (nn & 1);
        D[r][nn] = bitsToFloat(row(cRegs[reg])[base + lane]);
      }
    // Every row keeps exactly 16 values. With the kept index outermost the
    // 128 accumulations are independent chains, and each output still adds
    // its products in increasing k.
    for (unsigned i = 0; i < kKept; ++i)
      for (unsigned r = 0; r < 16; ++r) {
        float v = rows[r].v[i];
        const float *b = B[rows[r].k[i]];
        for (unsigned nn = 0; nn < 8; ++nn)
          D[r][nn] += v * b[nn];
      }
    for (unsigned r = 0; r < 16; ++r)
      for (unsigned nn = 0; nn < 8; ++nn) {
        unsigned lane = 4 * (r & 7) + nn / 2;
        unsigned reg = (r >= 8 ? 2 : 0) + (nn & 1);
        row(dRegs[reg])[base + lane] = floatToBits(D[r][nn]);
      }
  }
  return true;
}

bool Exec::execWgmmaSp(const Inst &I) {
  bool aDesc = I.flags & FlagADesc;
  const int32_t *dRegs = regList(I.ops[0]);
  const int32_t *aRegs = aDesc ? nullptr : regList(I.ops[1]);
  const uint64_t *descRow = row(I.ops[2].reg), *scaleRow = row(I.ops[4].reg);
  bool bf16 = I.type2 == Ty::BF16;
  int sel = static_cast<int>(I.aux[0]);
  float scaleA = static_cast<float>(I.aux[1]);
  float scaleB = static_cast<float>(I.aux[2]);
  bool transB = I.aux[3] != 0;
  unsigned N = 8u * I.vec;
  std::vector<float> B(32 * N);
  std::vector<float> D(64 * N);
  for (uint32_t base = 0; base < n; base += 128) {
    int g = groupGuard(I, base, 128);
    if (g < 0)
      return false;
    if (!g)
      continue;
    ++stats.mmaInstructions;
    uint64_t desc = descRow[base];
    bool scaleD = scaleRow[base] != 0;
    for (uint32_t t = base + 1; t < base + 128; ++t) {
      if (descRow[t] != desc)
        return fail(t, I,
                    "wgmma B descriptor differs within the warpgroup (" +
                        hexString(descRow[t]) + " vs " + hexString(desc) +
                        " in thread " + threadName(base) + ")");
      if ((scaleRow[t] != 0) != scaleD)
        return fail(t, I, "wgmma scale-d differs within the warpgroup");
    }
    unsigned swizzle = static_cast<unsigned>(desc >> 62);
    if (swizzle)
      return fail(base, I,
                  "wgmma B descriptor " + hexString(desc) +
                      " uses swizzle mode " + std::to_string(swizzle) +
                      "; only mode 0 (no swizzle) is supported");
    uint64_t start = (desc & 0x3fff) << 4;
    uint64_t lbo = ((desc >> 16) & 0x3fff) << 4;
    uint64_t sbo = ((desc >> 32) & 0x3fff) << 4;
    for (unsigned k = 0; k < 32; ++k)
      for (unsigned nn = 0; nn < N; ++nn) {
        uint64_t addr = wgmmaBElementAddress(start, lbo, sbo, transB, k, nn);
        const uint8_t *p = sharedAccess(base, I, addr, 2, 2, ReadUnrecorded);
        if (!p) {
          error += " (wgmma B element k=" + std::to_string(k) +
                   ", n=" + std::to_string(nn) + ", descriptor " +
                   hexString(desc) + ")";
          return false;
        }
        uint16_t h;
        std::memcpy(&h, p, 2);
        B[k * N + nn] = (bf16 ? bf16ToFloat(h) : halfToFloat(h)) * scaleB;
      }
    // A from shared memory: the compressed 64 x 16 tile in the K-major
    // canonical layout, addressed like a K-major B with rows for columns.
    float aShared[64][16];
    if (aDesc) {
      uint64_t adesc = row(I.ops[1].reg)[base];
      for (uint32_t t = base + 1; t < base + 128; ++t)
        if (row(I.ops[1].reg)[t] != adesc)
          return fail(t, I, "wgmma A descriptor differs within the warpgroup");
      if (adesc >> 62)
        return fail(base, I,
                    "wgmma A descriptor " + hexString(adesc) +
                        " uses a swizzle mode; only mode 0 is supported");
      uint64_t aStart = (adesc & 0x3fff) << 4;
      uint64_t aLbo = ((adesc >> 16) & 0x3fff) << 4;
      uint64_t aSbo = ((adesc >> 32) & 0x3fff) << 4;
      for (unsigned m = 0; m < 64; ++m)
        for (unsigned kc = 0; kc < 16; ++kc) {
          uint64_t addr =
              wgmmaBElementAddress(aStart, aLbo, aSbo, false, kc, m);
          const uint8_t *p = sharedAccess(base, I, addr, 2, 2, ReadUnrecorded);
          if (!p) {
            error += " (wgmma A element m=" + std::to_string(m) +
                     ", compressed k=" + std::to_string(kc) + ")";
            return false;
          }
          uint16_t h;
          std::memcpy(&h, p, 2);
          aShared[m][kc] = (bf16 ? bf16ToFloat(h) : halfToFloat(h)) * scaleA;
        }
    }
    for (unsigned w = 0; w < 4; ++w) {
      uint32_t wb = base + 32 * w;
      SparseRow rows[16];
      if (!decodeSparseA(*this, I, wb, 16 * w, aRegs, I.ops[3].reg, sel,
                         I.flags & FlagOrdered, bf16, scaleA, rows,
                         aDesc ? &aShared[16 * w] : nullptr))
        return false;
      for (unsigned r = 0; r < 16; ++r) {
        float *d = &D[(16 * w + r) * N];
        for (unsigned nn = 0; nn < N; ++nn) {
          unsigned i = nn / 8, col = nn % 8;
          unsigned lane = 4 * (r & 7) + col / 2;
          unsigned reg = 4 * i + (r >= 8 ? 2 : 0) + (col & 1);
          d[nn] = scaleD ? bitsToFloat(row(dRegs[reg])[wb + lane]) : 0.0f;
        }
        const SparseRow &sr = rows[r];
        for (unsigned q = 0; q < kKept; ++q) {
          float v = sr.v[q];
          const float *b = &B[sr.k[q] * N];
          for (unsigned nn = 0; nn < N; ++nn)
            d[nn] += v * b[nn];
        }
      }
    }
    for (unsigned w = 0; w < 4; ++w)
      for (unsigned r = 0; r < 16; ++r)
        for (unsigned nn = 0; nn < N; ++nn) {
          unsigned i = nn / 8, col = nn % 8;
          unsigned lane = 4 * (r & 7) + col / 2;
          unsigned reg = 4 * i + (r >= 8 ? 2 : 0) + (col & 1);
          row(dRegs[reg])[base + 32 * w + lane] =
              floatToBits(D[(16 * w + r) * N + nn]);
        }
  }
  return true;
}

} // namespace sparsec::ptx::detail
