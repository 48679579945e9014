//===- PTXExecScalar.cpp - per-thread instructions ------------------------===//
//
// Exec::step: dispatch of one instruction for all threads of the CTA, and the
// per-thread (scalar) instructions: integer and float arithmetic, setp/selp,
// cvt, mov, branches and barriers. Memory instructions are in
// PTXEmulator.cpp, collectives in PTXExecCollective.cpp.
//
//===----------------------------------------------------------------------===//
#include "PTXInternal.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace sparsec::ptx::detail {

namespace {

template <class T> inline uint64_t zx(T v) {
  return static_cast<uint64_t>(static_cast<std::make_unsigned_t<T>>(v));
}

// Calls f(T{}) with T the C++ integer type of `ty`.
template <class F> inline void byInt(Ty ty, F f) {
  switch (ty) {
  case Ty::S8:
    return f(int8_t());
  case Ty::B8:
  case Ty::U8:
    return f(uint8_t());
  case Ty::S16:
    return f(int16_t());
  case Ty::B16:
  case Ty::U16:
  case Ty::F16:
  case Ty::BF16:
    return f(uint16_t());
  case Ty::S32:
    return f(int32_t());
  case Ty::S64:
    return f(int64_t());
  case Ty::B64:
  case Ty::U64:
  case Ty::F64:
    return f(uint64_t());
  default:
    return f(uint32_t());
  }
}

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

// Wider type for mul.hi / mul.wide (type) and its unsigned form (utype).
template <class T> struct Wide;
template <> struct Wide<int8_t> {
  using type = int16_t;
  using utype = uint16_t;
};
template <> struct Wide<uint8_t> {
  using type = uint16_t;
  using utype = uint16_t;
};
template <> struct Wide<int16_t> {
  using type = int32_t;
  using utype = uint32_t;
};
template <> struct Wide<uint16_t> {
  using type = uint32_t;
  using utype = uint32_t;
};
template <> struct Wide<int32_t> {
  using type = int64_t;
  using utype = uint64_t;
};
template <> struct Wide<uint32_t> {
  using type = uint64_t;
  using utype = uint64_t;
};
template <> struct Wide<int64_t> {
  using type = Int128;
  using utype = UInt128;
};
template <> struct Wide<uint64_t> {
  using type = UInt128;
  using utype = UInt128;
};

inline float ftz(float x) {
  return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x;
}
inline float sat01(float x) {
  return std::isnan(x) ? 0.0f : std::min(1.0f, std::max(0.0f, x));
}

// Rounds the exact value s + e (e the exact error of s) to float in
// direction rnd (RZ / RM / RP).
float roundDirected(double s, double e, Rounding rnd) {
  float f = static_cast<float>(s);
  if (std::isnan(f))
    return f;
  double v = s != 0 ? s : e;
  double d = static_cast<double>(f) - s; // exact (Sterbenz), or inf
  bool above = d > e, below = d < e;
  if (rnd == RndRZ) {
    if ((v > 0 && above) || (v < 0 && below))
      f = std::nextafter(f, 0.0f);
  } else if (rnd == RndRM) {
    if (above)
      f = std::nextafter(f, -std::numeric_limits<float>::infinity());
  } else if (rnd == RndRP) {
    if (below)
      f = std::nextafter(f, std::numeric_limits<float>::infinity());
  }
  return f;
}

inline void twoSum(double a, double b, double &s, double &e) {
  s = a + b;
  double bb = s - a;
  e = (a - (s - bb)) + (b - bb);
}

// Float binary op with .ftz/.sat.
template <class F> void fbin(Exec &E, const Inst &I, F f) {
  if (!(I.flags & (FlagFtz | FlagSat))) {
    map2(E, I, [&](uint64_t a, uint64_t b) {
      return floatToBits(f(bitsToFloat(a), bitsToFloat(b)));
    });
    return;
  }
  bool z = I.flags & FlagFtz, s = I.flags & FlagSat;
  map2(E, I, [&](uint64_t a, uint64_t b) {
    float x = bitsToFloat(a), y = bitsToFloat(b);
    if (z) {
      x = ftz(x);
      y = ftz(y);
    }
    float r = f(x, y);
    if (s)
      r = sat01(r);
    return floatToBits(z ? ftz(r) : r);
  });
}

template <class F> void fun(Exec &E, const Inst &I, F f) {
  bool z = I.flags & FlagFtz, s = I.flags & FlagSat;
  map1(E, I, [&](uint64_t a) {
    float x = bitsToFloat(a);
    if (z)
      x = ftz(x);
    float r = f(x);
    if (s)
      r = sat01(r);
    return floatToBits(z ? ftz(r) : r);
  });
}

} // namespace

bool Exec::execSetp(const Inst &I) {
  uint64_t *d = row(I.ops[0].reg);
  const uint64_t *a = row(I.ops[1].reg), *b = row(I.ops[2].reg);
  const uint64_t *c = I.aux[0] != BoolNone ? row(I.ops[3].reg) : nullptr;
  uint64_t cneg = I.aux[1] ? 1 : 0;
  int boolOp = static_cast<int>(I.aux[0]);
  Cmp cmp = static_cast<Cmp>(I.mod);
  auto finish = [&](uint32_t t, bool r) {
    uint64_t v = r;
    if (c) {
      uint64_t q = c[t] ^ cneg;
      v = boolOp == BoolAnd ? (v & q) : boolOp == BoolOr ? (v | q) : (v ^ q);
    }
    d[t] = v;
  };
  if (I.type == Ty::F32) {
    bool z = I.flags & FlagFtz;
    forActive(*this, I, [&](uint32_t t) {
      float x = bitsToFloat(a[t]), y = bitsToFloat(b[t]);
      if (z) {
        x = ftz(x);
        y = ftz(y);
      }
      bool un = std::isnan(x) || std::isnan(y), r = false;
      switch (cmp) {
      case CmpEq:
        r = x == y;
        break;
      case CmpNe:
        r = !un && x != y;
        break;
      case CmpLt:
        r = x < y;
        break;
      case CmpLe:
        r = x <= y;
        break;
      case CmpGt:
        r = x > y;
        break;
      case CmpGe:
        r = x >= y;
        break;
      case CmpEqu:
        r = un || x == y;
        break;
      case CmpNeu:
        r = un || x != y;
        break;
      case CmpLtu:
        r = un || x < y;
        break;
      case CmpLeu:
        r = un || x <= y;
        break;
      case CmpGtu:
        r = un || x > y;
        break;
      case CmpGeu:
        r = un || x >= y;
        break;
      case CmpNum:
        r = !un;
        break;
      case CmpNan:
        r = un;
        break;
      }
      finish(t, r);
    });
    return true;
  }
  byInt(I.type, [&](auto tag) {
    using T = decltype(tag);
    forActive(*this, I, [&](uint32_t t) {
      T x = static_cast<T>(a[t]), y = static_cast<T>(b[t]);
      bool r = false;
      switch (cmp) {
      case CmpEq:
        r = x == y;
        break;
      case CmpNe:
        r = x != y;
        break;
      case CmpLt:
        r = x < y;
        break;
      case CmpLe:
        r = x <= y;
        break;
      case CmpGt:
        r = x > y;
        break;
      case CmpGe:
        r = x >= y;
        break;
      default:
        break;
      }
      finish(t, r);
    });
  });
  return true;
}

namespace {
// Float to integer with PTX's saturating semantics (NaN -> 0).
template <class T> uint64_t floatToInt(float x, Rounding rnd) {
  if (std::isnan(x))
    return 0;
  double v = x;
  switch (rnd) {
  case RndRNI:
    v = std::nearbyint(v);
    break; // default mode: to nearest even
  case RndRMI:
    v = std::floor(v);
    break;
  case RndRPI:
    v = std::ceil(v);
    break;
  default:
    v = std::trunc(v);
    break;
  }
  double lo = static_cast<double>(std::numeric_limits<T>::min());
  double hi = static_cast<double>(std::numeric_limits<T>::max());
  if (v <= lo)
    return zx<T>(std::numeric_limits<T>::min());
  if (v >= hi)
    return zx<T>(std::numeric_limits<T>::max());
  return zx<T>(static_cast<T>(v));
}
} // namespace

bool Exec::execCvt(const Inst &I) {
  Ty d = I.type, s = I.type2;
  Rounding rnd = static_cast<Rounding>(I.mod);
  bool z = I.flags & FlagFtz, sat = I.flags & FlagSat,
       relu = I.flags & FlagRelu;
  if (tyIsInt(d) && tyIsInt(s)) {
    byInt(s, [&](auto st) {
      using S = decltype(st);
      byInt(d, [&](auto dt) {
        using D = decltype(dt);
        map1(*this, I, [&](uint64_t a) -> uint64_t {
          S v = static_cast<S>(a);
          if (sat) {
            Int128 w = v;
            Int128 lo = std::numeric_limits<D>::min(),
                   hi = std::numeric_limits<D>::max();
            w = w < lo ? lo : w > hi ? hi : w;
            return zx<D>(static_cast<D>(w));
          }
          return zx<D>(static_cast<D>(v));
        });
      });
    });
    return true;
  }
  if (tyIsInt(d) && s == Ty::F32) {
    byInt(d, [&](auto dt) {
      using D = decltype(dt);
      map1(*this, I, [&](uint64_t a) {
        float x = bitsToFloat(a);
        return floatToInt<D>(z ? ftz(x) : x, rnd);
      });
    });
    return true;
  }
  if (d == Ty::F32 && tyIsInt(s)) {
    byInt(s, [&](auto st) {
      using S = decltype(st);
      map1(*this, I, [&](uint64_t a) {
        float r = static_cast<float>(static_cast<S>(a));
        if (sat)
          r = sat01(r);
        return floatToBits(r);
      });
    });
    return true;
  }
  if (d == Ty::F32 && s == Ty::F32) {
    map1(*this, I, [&](uint64_t a) {
      float x = bitsToFloat(a);
      if (z)
        x = ftz(x);
      switch (rnd) {
      case RndRNI:
        x = std::nearbyint(x);
        break;
      case RndRZI:
        x = std::trunc(x);
        break;
      case RndRMI:
        x = std::floor(x);
        break;
      case RndRPI:
        x = std::ceil(x);
        break;
      default:
        break;
      }
      if (sat)
        x = sat01(x);
      return floatToBits(z ? ftz(x) : x);
    });
    return true;
  }
  if ((d == Ty::F16 || d == Ty::BF16) && s == Ty::F32) {
    bool half = d == Ty::F16;
    map1(*this, I, [&](uint64_t a) -> uint64_t {
      float x = bitsToFloat(a);
      if (relu && !std::isnan(x) && x < 0)
        x = 0;
      return half ? floatToHalf(x, rnd) : floatToBf16(x, rnd);
    });
    return true;
  }
  if (d == Ty::F32 && (s == Ty::F16 || s == Ty::BF16)) {
    bool half = s == Ty::F16;
    map1(*this, I, [&](uint64_t a) {
      uint16_t h = static_cast<uint16_t>(a);
      return floatToBits(half ? halfToFloat(h) : bf16ToFloat(h));
    });
    return true;
  }
  return fail(0, I, "internal error: unhandled cvt");
}

bool Exec::step(const Inst &I, size_t &pc, bool &done) {
  switch (I.op) {
  case Op::Nop:
    return true;
  case Op::Mov:
    map1(*this, I, [](uint64_t a) { return a; });
    return true;
  case Op::MovPack: {
    unsigned eb = static_cast<unsigned>(I.aux[0]);
    const Operand &V = I.ops[1];
    const int32_t *src = regList(V);
    uint64_t *d = row(I.ops[0].reg);
    uint64_t m = eb >= 64 ? ~0ull : (1ull << eb) - 1;
    forActive(*this, I, [&](uint32_t t) {
      uint64_t v = 0;
      for (int i = 0; i < V.count; ++i)
        v |= (row(src[i])[t] & m) << (eb * i);
      d[t] = v;
    });
    return true;
  }
  case Op::MovUnpack: {
    unsigned eb = static_cast<unsigned>(I.aux[0]);
    const Operand &V = I.ops[0];
    const int32_t *dst = regList(V);
    const uint64_t *a = row(I.ops[1].reg);
    uint64_t m = (1ull << eb) - 1;
    forActive(*this, I, [&](uint32_t t) {
      uint64_t v = a[t];
      for (int i = 0; i < V.count; ++i)
        row(dst[i])[t] = (v >> (eb * i)) & m;
    });
    return true;
  }
  case Op::Add:
  case Op::Sub:
    if (I.flags & FlagSat) { // s32 only
      bool sub = I.op == Op::Sub;
      map2(*this, I, [&](uint64_t a, uint64_t b) {
        int64_t x = static_cast<int32_t>(a), y = static_cast<int32_t>(b);
        int64_t r = sub ? x - y : x + y;
        r = std::min<int64_t>(INT32_MAX, std::max<int64_t>(INT32_MIN, r));
        return zx<int32_t>(static_cast<int32_t>(r));
      });
      return true;
    }
    byInt(I.type, [&](auto tag) {
      using U = std::make_unsigned_t<decltype(tag)>;
      if (I.op == Op::Add)
        map2(*this, I,
             [](uint64_t a, uint64_t b) { return uint64_t(U(U(a) + U(b))); });
      else
        map2(*this, I,
             [](uint64_t a, uint64_t b) { return uint64_t(U(U(a) - U(b))); });
    });
    return true;
  case Op::MulLo:
  case Op::MadLo:
    byInt(I.type, [&](auto tag) {
      using U = std::make_unsigned_t<decltype(tag)>;
      using P = std::conditional_t<(sizeof(U) < 4), uint32_t, U>;
      if (I.op == Op::MulLo)
        map2(*this, I, [](uint64_t a, uint64_t b) {
          return uint64_t(U(P(U(a)) * P(U(b))));
        });
      else
        map3(*this, I, [](uint64_t a, uint64_t b, uint64_t c) {
          return uint64_t(U(P(U(a)) * P(U(b)) + P(U(c))));
        });
    });
    return true;
  case Op::MulHi:
  case Op::MadHi:
  case Op::MulWide:
  case Op::MadWide:
    byInt(I.type, [&](auto tag) {
      using T = decltype(tag);
      using W = typename Wide<T>::type;
      using UW = typename Wide<T>::utype;
      constexpr unsigned bits = sizeof(T) * 8;
      bool hi = I.op == Op::MulHi || I.op == Op::MadHi;
      bool mad = I.op == Op::MadHi || I.op == Op::MadWide;
      auto prod = [](uint64_t a, uint64_t b) {
        return UW(W(static_cast<T>(a)) * W(static_cast<T>(b)));
      };
      if (hi) {
        using U = std::make_unsigned_t<T>;
        if (mad)
          map3(*this, I, [&](uint64_t a, uint64_t b, uint64_t c) {
            return uint64_t(U(U(prod(a, b) >> bits) + U(c)));
          });
        else
          map2(*this, I, [&](uint64_t a, uint64_t b) {
            return uint64_t(U(prod(a, b) >> bits));
          });
      } else if constexpr (sizeof(T) <= 4) {
        if (mad)
          map3(*this, I, [&](uint64_t a, uint64_t b, uint64_t c) {
            return uint64_t(UW(prod(a, b) + UW(c)));
          });
        else
          map2(*this, I,
               [&](uint64_t a, uint64_t b) { return uint64_t(prod(a, b)); });
      }
    });
    return true;
  case Op::Div:
  case Op::Rem:
    byInt(I.type, [&](auto tag) {
      using T = decltype(tag);
      using U = std::make_unsigned_t<T>;
      bool rem = I.op == Op::Rem;
      // Division by zero is unspecified in PTX: all ones / the dividend.
      map2(*this, I, [&](uint64_t a, uint64_t b) -> uint64_t {
        T x = static_cast<T>(a), y = static_cast<T>(b);
        if (y == 0)
          return rem ? zx<T>(x) : zx<U>(U(~U(0)));
        if (std::is_signed<T>::value && y == T(-1))
          return rem ? 0 : zx<U>(U(U(0) - U(x)));
        return zx<T>(rem ? T(x % y) : T(x / y));
      });
    });
    return true;
  case Op::Min:
  case Op::Max:
    byInt(I.type, [&](auto tag) {
      using T = decltype(tag);
      if (I.op == Op::Min)
        map2(*this, I, [](uint64_t a, uint64_t b) {
          return zx<T>(std::min(static_cast<T>(a), static_cast<T>(b)));
        });
      else
        map2(*this, I, [](uint64_t a, uint64_t b) {
          return zx<T>(std::max(static_cast<T>(a), static_cast<T>(b)));
        });
    });
    return true;
  case Op::Neg:
  case Op::Abs:
    byInt(I.type, [&](auto tag) {
      using T = decltype(tag);
      using U = std::make_unsigned_t<T>;
      bool abs = I.op == Op::Abs;
      map1(*this, I, [&](uint64_t a) {
        T x = static_cast<T>(a);
        return (abs && x >= 0) ? zx<T>(x) : zx<U>(U(U(0) - U(x)));
      });
    });
    return true;
  case Op::Shl:
  case Op::Shr:
    byInt(I.type, [&](auto tag) {
      using T = decltype(tag);
      using U = std::make_unsigned_t<T>;
      constexpr uint32_t bits = sizeof(T) * 8;
      if (I.op == Op::Shl)
        map2(*this, I, [](uint64_t a, uint64_t b) -> uint64_t {
          uint32_t s = static_cast<uint32_t>(b);
          return s >= bits ? 0 : zx<U>(U(U(a) << s));
        });
      else
        map2(*this, I, [](uint64_t a, uint64_t b) -> uint64_t {
          uint32_t s = std::min<uint32_t>(static_cast<uint32_t>(b), bits - 1);
          T x = static_cast<T>(a);
          if (std::is_signed<T>::value)
            return zx<T>(T(x >> s));
          return static_cast<uint32_t>(b) >= bits ? 0 : zx<T>(T(x >> s));
        });
    });
    return true;
  case Op::And:
    map2(*this, I, [](uint64_t a, uint64_t b) { return a & b; });
    return true;
  case Op::Or:
    map2(*this, I, [](uint64_t a, uint64_t b) { return a | b; });
    return true;
  case Op::Xor:
    map2(*this, I, [](uint64_t a, uint64_t b) { return a ^ b; });
    return true;
  case Op::Not: {
    uint64_t m =
        I.type == Ty::Pred
            ? 1
            : (tyBits(I.type) >= 64 ? ~0ull : (1ull << tyBits(I.type)) - 1);
    map1(*this, I, [m](uint64_t a) { return ~a & m; });
    return true;
  }
  case Op::FAdd:
  case Op::FSub:
  case Op::FMul:
  case Op::Fma: {
    Rounding rnd = static_cast<Rounding>(I.mod);
    if (rnd >= RndRZ && rnd <= RndRP) {
      auto exact = [&](float a, float b, float c, double &s, double &e) {
        switch (I.op) {
        case Op::FAdd:
          twoSum(a, b, s, e);
          break;
        case Op::FSub:
          twoSum(a, -double(b), s, e);
          break;
        case Op::FMul:
          s = double(a) * b;
          e = 0;
          break;
        default:
          twoSum(double(a) * b, c, s, e);
          break;
        }
      };
      bool z = I.flags & FlagFtz, st = I.flags & FlagSat;
      const uint64_t *cr = I.op == Op::Fma ? row(I.ops[3].reg) : nullptr;
      uint64_t *d = row(I.ops[0].reg);
      const uint64_t *ar = row(I.ops[1].reg), *br = row(I.ops[2].reg);
      forActive(*this, I, [&](uint32_t t) {
        float a = bitsToFloat(ar[t]), b = bitsToFloat(br[t]),
              c = cr ? bitsToFloat(cr[t]) : 0.0f;
        if (z) {
          a = ftz(a);
          b = ftz(b);
          c = ftz(c);
        }
        double s, e;
        exact(a, b, c, s, e);
        float r = roundDirected(s, e, rnd);
        if (st)
          r = sat01(r);
        d[t] = floatToBits(z ? ftz(r) : r);
      });
      return true;
    }
    if (I.op == Op::FAdd)
      fbin(*this, I, [](float a, float b) { return a + b; });
    else if (I.op == Op::FSub)
      fbin(*this, I, [](float a, float b) { return a - b; });
    else if (I.op == Op::FMul)
      fbin(*this, I, [](float a, float b) { return a * b; });
    else {
      bool z = I.flags & FlagFtz, st = I.flags & FlagSat;
      map3(*this, I, [&](uint64_t a, uint64_t b, uint64_t c) {
        float x = bitsToFloat(a), y = bitsToFloat(b), w = bitsToFloat(c);
        if (z) {
          x = ftz(x);
          y = ftz(y);
          w = ftz(w);
        }
        float r = std::fma(x, y, w);
        if (st)
          r = sat01(r);
        return floatToBits(z ? ftz(r) : r);
      });
    }
    return true;
  }
  case Op::FDiv:
    fbin(*this, I, [](float a, float b) { return a / b; });
    return true;
  case Op::FMin:
    fbin(*this, I, [](float a, float b) { return std::fmin(a, b); });
    return true;
  case Op::FMax:
    fbin(*this, I, [](float a, float b) { return std::fmax(a, b); });
    return true;
  case Op::FNeg:
    map1(*this, I, [](uint64_t a) { return (a ^ 0x80000000u) & 0xffffffffu; });
    return true;
  case Op::FAbs:
    map1(*this, I, [](uint64_t a) { return a & 0x7fffffffu; });
    return true;
  case Op::Rcp:
    fun(*this, I, [](float x) { return 1.0f / x; });
    return true;
  case Op::Sqrt:
    fun(*this, I, [](float x) { return std::sqrt(x); });
    return true;
  case Op::Rsqrt:
    fun(*this, I, [](float x) { return 1.0f / std::sqrt(x); });
    return true;
  case Op::Ex2:
    fun(*this, I, [](float x) { return std::exp2(x); });
    return true;
  case Op::Lg2:
    fun(*this, I, [](float x) { return std::log2(x); });
    return true;
  case Op::Tanh:
    fun(*this, I, [](float x) { return std::tanh(x); });
    return true;
  case Op::Sin:
    fun(*this, I, [](float x) { return std::sin(x); });
    return true;
  case Op::Cos:
    fun(*this, I, [](float x) { return std::cos(x); });
    return true;
  case Op::Setp:
    return execSetp(I);
  case Op::Selp:
    map3(*this, I,
         [](uint64_t a, uint64_t b, uint64_t c) { return c ? a : b; });
    return true;
  case Op::Cvt:
    return execCvt(I);
  case Op::CvtPack: {
    bool half = I.type == Ty::F16x2, relu = I.flags & FlagRelu;
    Rounding rnd = static_cast<Rounding>(I.mod);
    map2(*this, I, [&](uint64_t a, uint64_t b) -> uint64_t {
      float hi = bitsToFloat(a), lo = bitsToFloat(b);
      if (relu) {
        hi = (!std::isnan(hi) && hi < 0) ? 0.0f : hi;
        lo = (!std::isnan(lo) && lo < 0) ? 0.0f : lo;
      }
      uint32_t h = half ? floatToHalf(hi, rnd) : floatToBf16(hi, rnd);
      uint32_t l = half ? floatToHalf(lo, rnd) : floatToBf16(lo, rnd);
      return (h << 16) | l;
    });
    return true;
  }
  case Op::LdParam: {
    uint32_t eb = tyBits(I.type) / 8;
    uint64_t v = 0;
    std::memcpy(&v, params.data() + I.ops[1].offset, eb);
    if (tyIsSigned(I.type) && eb < 8) {
      uint64_t m = 1ull << (eb * 8 - 1);
      unsigned db = static_cast<unsigned>(I.aux[0]);
      v = ((v ^ m) - m) & (db >= 64 ? ~0ull : (1ull << db) - 1);
    }
    uint64_t *d = row(I.ops[0].reg);
    forActive(*this, I, [&](uint32_t t) { d[t] = v; });
    return true;
  }
  case Op::Ld:
    return execLd(I);
  case Op::St:
    return execSt(I);
  case Op::Atom:
    return execAtom(I);
  case Op::CpAsync:
    return execCpAsync(I);
  case Op::CpAsyncBulk:
    return execCpAsyncBulk(I);
  case Op::MbarInit:
  case Op::MbarArrive:
  case Op::MbarTryWait:
    return execMbarrier(I);
  case Op::CpAsyncCommit:
    forActive(*this, I, [&](uint32_t t) { ++async[t].openGroup; });
    return true;
  case Op::CpAsyncWait:
  case Op::CpAsyncWaitAll: {
    bool ok = true;
    forActive(*this, I, [&](uint32_t t) {
      if (!ok)
        return;
      AsyncQueue &q = async[t];
      uint32_t keep = 0;
      if (I.op == Op::CpAsyncWaitAll)
        ++q.openGroup; // wait_all == commit_group; wait_group 0
      else
        keep = static_cast<uint32_t>(I.aux[0]);
      if (q.openGroup > keep)
        ok = completeCopies(t, I, q.openGroup - keep);
    });
    return ok;
  }
  case Op::Bar:
  case Op::Bra:
  case Op::Exit: {
    bool taken = true;
    if (I.guard >= 0) {
      taken = active(I, 0);
      for (uint32_t t = 1; t < n; ++t)
        if (active(I, t) != taken) {
          const char *what = I.op == Op::Bar   ? "barrier"
                             : I.op == Op::Bra ? "branch"
                                               : "exit";
          uint32_t on = taken ? 0 : t, off = taken ? t : 0;
          return fail(t, I,
                      std::string("divergent ") + what + " at line " +
                          std::to_string(I.line) + ": taken by thread " +
                          threadName(on) + " but not by thread " +
                          threadName(off));
        }
    }
    if (!taken)
      return true;
    if (I.op == Op::Bar)
      ++epoch;
    else if (I.op == Op::Bra)
      pc = static_cast<size_t>(I.ops[0].offset);
    else
      done = true;
    return true;
  }
  case Op::Shfl:
    return execShfl(I);
  case Op::Ldmatrix:
    return execLdmatrix(I);
  case Op::MmaSp:
    return execMmaSp(I);
  case Op::WgmmaSp:
    return execWgmmaSp(I);
  case Op::WgmmaFence:
  case Op::WgmmaCommit:
  case Op::WgmmaWait:
    // The MMA is performed eagerly at wgmma.mma_async (lockstep makes that
    // safe), so there is nothing left to order or wait for.
    for (uint32_t g = 0; g < n; g += 128)
      if (groupGuard(I, g, 128) < 0)
        return false;
    return true;
  }
  return fail(0, I, "internal error: unknown opcode");
}

} // namespace sparsec::ptx::detail
