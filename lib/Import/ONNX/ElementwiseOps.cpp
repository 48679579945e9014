//===- ElementwiseOps.cpp - ONNX elementwise ops to linalg.generic --------===//
#include "Importer.h"

#include "llvm/ADT/StringSet.h"

using namespace mlir;

namespace sparsec::onnx_import {
namespace {

using ScalarFn = std::function<Value(OpBuilder &, Location, ValueRange)>;

bool isFloatValue(Value v) {
  return isa<FloatType>(getElementTypeOrSelf(v.getType()));
}

Value fconst(OpBuilder &b, Location loc, Type t, double v) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(t, v));
}

/// Registers a float-only unary op.
void unaryFloat(
    LoweringTable &table, StringRef name,
    std::function<Value(Importer &, OpBuilder &, Location, Value)> fn) {
  table[name].lower = [fn, name = name.str()](Importer &im) -> LogicalResult {
    Value x = im.input(0);
    if (!x)
      return failure();
    if (!isFloatValue(x))
      return im.error(name + " on a non-float tensor is not supported");
    FailureOr<Value> r =
        im.elementwise({x}, Importer::typeOf(x).getElementType(),
                       [&](OpBuilder &b, Location loc, ValueRange a) {
                         return fn(im, b, loc, a[0]);
                       });
    if (failed(r))
      return failure();
    im.setOutput(0, *r);
    return success();
  };
}

/// A float unary op that is exactly one math dialect op.
template <typename MathOp>
void mathUnary(LoweringTable &table, StringRef name) {
  unaryFloat(table, name, [](Importer &, OpBuilder &b, Location l, Value x) {
    return MathOp::create(b, l, x).getResult();
  });
}

/// Registers a variadic/binary op with separate float and integer bodies
/// (`intFn` may be null for float-only ops).
void nary(LoweringTable &table, StringRef name, bool boolResult,
          std::function<Value(OpBuilder &, Location, Value, Value)> floatFn,
          std::function<Value(OpBuilder &, Location, Value, Value)> intFn,
          unsigned minInputs = 2, unsigned maxInputs = 2) {
  table[name].minInputs = minInputs;
  table[name].maxInputs = maxInputs;
  table[name].lower = [=, name = name.str()](Importer &im) -> LogicalResult {
    SmallVector<Value> ins;
    for (unsigned i = 0; i < im.numInputs(); ++i)
      if (im.hasInput(i)) {
        Value v = im.input(i);
        if (!v)
          return failure();
        ins.push_back(v);
      }
    if (ins.empty())
      return im.error("expects at least one input");
    Type elt = Importer::typeOf(ins[0]).getElementType();
    for (Value v : ins)
      if (Importer::typeOf(v).getElementType() != elt)
        return im.error("operands have different element types");
    bool isFloat = isa<FloatType>(elt);
    if (!isFloat && !intFn)
      return im.error(name + " on integer tensors is not supported");
    auto fn = isFloat ? floatFn : intFn;
    Type resultElt = boolResult ? Type(im.builder().getI1Type()) : elt;
    FailureOr<Value> r = im.elementwise(
        ins, resultElt, [&](OpBuilder &b, Location loc, ValueRange a) {
          Value acc = a[0];
          for (Value v : a.drop_front())
            acc = fn(b, loc, acc, v);
          return acc;
        });
    if (failed(r))
      return failure();
    im.setOutput(0, *r);
    return success();
  };
}

template <typename FOp, typename IOp>
void arithBinary(LoweringTable &table, StringRef name, unsigned minInputs = 2,
                 unsigned maxInputs = 2) {
  nary(
      table, name, false,
      [](OpBuilder &b, Location l, Value x, Value y) -> Value {
        return FOp::create(b, l, x, y);
      },
      [](OpBuilder &b, Location l, Value x, Value y) -> Value {
        return IOp::create(b, l, x, y);
      },
      minInputs, maxInputs);
}

void compare(LoweringTable &table, StringRef name, arith::CmpFPredicate fp,
             arith::CmpIPredicate ip) {
  nary(
      table, name, true,
      [fp](OpBuilder &b, Location l, Value x, Value y) -> Value {
        return arith::CmpFOp::create(b, l, fp, x, y);
      },
      [ip](OpBuilder &b, Location l, Value x, Value y) -> Value {
        return arith::CmpIOp::create(b, l, ip, x, y);
      });
}

/// A divisor the hardware cannot trap on: 1 where y is 0 or -1, with the two
/// conditions for the caller to patch the result.
std::tuple<Value, Value, Value> safeDivisor(OpBuilder &b, Location l, Value y) {
  Type t = y.getType();
  auto constant = [&](int64_t v) {
    return arith::ConstantOp::create(b, l, b.getIntegerAttr(t, v)).getResult();
  };
  Value zero =
      arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, y, constant(0));
  Value minusOne =
      arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, y, constant(-1));
  Value unsafe = arith::OrIOp::create(b, l, zero, minusOne);
  Value safe = arith::SelectOp::create(b, l, unsafe, constant(1), y);
  return {safe, zero, minusOne};
}

/// Mod: fmod=1 is C's fmod (the dividend's sign), fmod=0 the divisor's sign
/// (Python's %, for floats from opset 28); integer x mod 0 is 0.
LogicalResult lowerMod(Importer &im) {
  Value x = im.input(0), y = im.input(1);
  if (!x || !y)
    return failure();
  Type elt = Importer::typeOf(x).getElementType();
  bool fmod = im.attrInt("fmod", 0) != 0;
  if (isa<FloatType>(elt) && !fmod && im.opset() < 28)
    return im.error("Mod on floating-point tensors needs fmod=1 before "
                    "opset 28");
  FailureOr<Value> r = im.elementwise(
      {x, y}, elt, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        if (isa<FloatType>(elt)) {
          Value rem = arith::RemFOp::create(b, l, a[0], a[1]);
          if (fmod)
            return rem;
          // Opset 28's special cases: a zero takes y's sign, a non-zero
          // remainder of the other sign moves by y (inf and NaN follow).
          Value zero = fconst(b, l, elt, 0);
          Value isZero =
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, rem, zero);
          Value remNeg =
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT, rem, zero);
          Value yNeg = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT,
                                             a[1], zero);
          Value moved = arith::SelectOp::create(
              b, l, arith::XOrIOp::create(b, l, remNeg, yNeg),
              arith::AddFOp::create(b, l, rem, a[1]), rem);
          return arith::SelectOp::create(
              b, l, isZero, math::CopySignOp::create(b, l, zero, a[1]), moved);
        }
        auto [safe, zero, minusOne] = safeDivisor(b, l, a[1]);
        (void)zero;
        (void)minusOne;
        // x rem 1 is 0: right for y = -1, and y = 0 gives 0.
        Value rem = arith::RemSIOp::create(b, l, a[0], safe);
        if (fmod)
          return rem;
        Value zeroV = arith::ConstantOp::create(b, l, b.getIntegerAttr(elt, 0));
        Value nonZero =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne, rem, zeroV);
        Value remNeg =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, rem, zeroV);
        Value yNeg =
            arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, a[1], zeroV);
        Value signsDiffer = arith::XOrIOp::create(b, l, remNeg, yNeg);
        Value adjust = arith::AndIOp::create(b, l, nonZero, signsDiffer);
        Value shifted = arith::AddIOp::create(b, l, rem, a[1]);
        return arith::SelectOp::create(b, l, adjust, shifted, rem);
      });
  if (failed(r))
    return failure();
  im.setOutput(0, *r);
  return success();
}

/// ONNX Cast semantics from x's element type to `target`.
LogicalResult castTo(Importer &im, Value x, Type target) {
  Type from = Importer::typeOf(x).getElementType();
  FailureOr<Value> r = im.elementwise(
      {x}, target, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        Value v = a[0];
        if (from == target)
          return v;
        bool fromF = isa<FloatType>(from), toF = isa<FloatType>(target);
        if (target.isInteger(1)) {
          if (fromF)
            return arith::CmpFOp::create(b, l, arith::CmpFPredicate::UNE, v,
                                         fconst(b, l, from, 0));
          Value zero =
              arith::ConstantOp::create(b, l, b.getIntegerAttr(from, 0));
          return arith::CmpIOp::create(b, l, arith::CmpIPredicate::ne, v, zero);
        }
        if (fromF && toF) {
          unsigned fw = from.getIntOrFloatBitWidth(),
                   tw = target.getIntOrFloatBitWidth();
          if (fw == tw) // f16 <-> bf16: through f32
            v = arith::ExtFOp::create(b, l, b.getF32Type(), v);
          return fw < tw ? arith::ExtFOp::create(b, l, target, v).getResult()
                         : arith::TruncFOp::create(b, l, target, v).getResult();
        }
        if (fromF)
          return arith::FPToSIOp::create(b, l, target, v);
        if (toF)
          return from.isInteger(1)
                     ? arith::UIToFPOp::create(b, l, target, v).getResult()
                     : arith::SIToFPOp::create(b, l, target, v).getResult();
        unsigned fw = from.getIntOrFloatBitWidth(),
                 tw = target.getIntOrFloatBitWidth();
        if (fw < tw)
          return from.isInteger(1)
                     ? arith::ExtUIOp::create(b, l, target, v).getResult()
                     : arith::ExtSIOp::create(b, l, target, v).getResult();
        return arith::TruncIOp::create(b, l, target, v);
      });
  if (failed(r))
    return failure();
  im.setOutput(0, *r);
  return success();
}

LogicalResult lowerCast(Importer &im) {
  // An fp16/bf16/f64 weight cast to f32 stays an initializer, so that the
  // layer it feeds is a constant-weight layer (and prunes).
  if (im.attrInt("to", 1) == onnx::TensorProto::FLOAT &&
      im.castInitializerToFloat(0))
    return success();
  Value x = im.input(0);
  if (!x)
    return failure();
  FailureOr<Type> to = im.elementType(im.attrInt("to", 1));
  if (failed(to))
    return failure();
  return castTo(im, x, *to);
}

/// CastLike (15): Cast to the element type of the second input.
LogicalResult lowerCastLike(Importer &im) {
  Value x = im.input(0), like = im.input(1);
  if (!x || !like)
    return failure();
  return castTo(im, x, Importer::typeOf(like).getElementType());
}

LogicalResult lowerClip(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  Type elt = Importer::typeOf(x).getElementType();
  if (!isa<FloatType>(elt))
    return im.error("Clip on integer tensors is not supported");
  std::optional<double> lo, hi;
  SmallVector<Value> bounds;
  if (im.opset() < 11) {
    lo = im.attrFloat("min", -std::numeric_limits<float>::infinity());
    hi = im.attrFloat("max", std::numeric_limits<float>::infinity());
  }
  Value loV, hiV;
  for (unsigned i = 1; i <= 2; ++i) {
    if (!im.hasInput(i))
      continue;
    Value bound = im.input(i);
    if (!bound)
      return failure();
    if (Importer::typeOf(bound).getElementType() != elt)
      return im.error("Clip bounds must have the input's element type");
    (i == 1 ? loV : hiV) = bound;
  }
  SmallVector<Value> ins = {x};
  if (loV)
    ins.push_back(loV);
  if (hiV)
    ins.push_back(hiV);
  FailureOr<Value> r = im.elementwise(
      ins, elt, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        Value v = a[0];
        unsigned next = 1;
        Value low = loV ? a[next++] : (lo ? fconst(b, l, elt, *lo) : Value());
        Value high = hiV ? a[next++] : (hi ? fconst(b, l, elt, *hi) : Value());
        if (low)
          v = arith::MaximumFOp::create(b, l, v, low);
        if (high)
          v = arith::MinimumFOp::create(b, l, v, high);
        return v;
      });
  if (failed(r))
    return failure();
  im.setOutput(0, *r);
  return success();
}

LogicalResult lowerWhere(Importer &im) {
  Value c = im.input(0), x = im.input(1), y = im.input(2);
  if (!c || !x || !y)
    return failure();
  if (!Importer::typeOf(c).getElementType().isInteger(1))
    return im.error("the Where condition must be a bool tensor");
  if (Importer::typeOf(x).getElementType() !=
      Importer::typeOf(y).getElementType())
    return im.error("Where operands have different element types");
  FailureOr<Value> r =
      im.elementwise({c, x, y}, Importer::typeOf(x).getElementType(),
                     [](OpBuilder &b, Location l, ValueRange a) -> Value {
                       return arith::SelectOp::create(b, l, a[0], a[1], a[2]);
                     });
  if (failed(r))
    return failure();
  im.setOutput(0, *r);
  return success();
}

LogicalResult lowerIdentity(Importer &im) {
  Value x = im.input(0);
  if (!x)
    return failure();
  im.setOutput(0, x);
  return success();
}

LogicalResult lowerDropout(Importer &im) {
  if (im.outputUsed(1))
    return im.error(
        "the Dropout mask output is not supported (inference only)");
  if (const HostTensor *training = im.constInput(2))
    if (training->numElements() == 1 && training->at(0) != 0)
      return im.error("Dropout in training mode is not supported");
  if (im.hasInput(2) && !im.constInput(2))
    return im.error("Dropout needs a constant training_mode input");
  return lowerIdentity(im);
}

} // namespace

void registerElementwiseLowerings(LoweringTable &t) {
  llvm::StringSet<> before;
  for (auto &entry : t)
    before.insert(entry.getKey());
  unaryFloat(t, "Relu", [](Importer &, OpBuilder &b, Location l, Value x) {
    return arith::MaximumFOp::create(b, l, x, fconst(b, l, x.getType(), 0));
  });
  unaryFloat(
      t, "LeakyRelu", [](Importer &im, OpBuilder &b, Location l, Value x) {
        Value alpha = fconst(b, l, x.getType(), im.attrFloat("alpha", 0.01f));
        Value zero = fconst(b, l, x.getType(), 0);
        Value neg =
            arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT, x, zero);
        return arith::SelectOp::create(
            b, l, neg, arith::MulFOp::create(b, l, x, alpha), x);
      });
  unaryFloat(t, "Sigmoid", [](Importer &, OpBuilder &b, Location l, Value x) {
    Value one = fconst(b, l, x.getType(), 1);
    Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
    return arith::DivFOp::create(b, l, one,
                                 arith::AddFOp::create(b, l, one, e));
  });
  unaryFloat(t, "HardSigmoid",
             [](Importer &im, OpBuilder &b, Location l, Value x) {
               Type ty = x.getType();
               Value v = arith::AddFOp::create(
                   b, l,
                   arith::MulFOp::create(
                       b, l, x, fconst(b, l, ty, im.attrFloat("alpha", 0.2f))),
                   fconst(b, l, ty, im.attrFloat("beta", 0.5f)));
               v = arith::MaximumFOp::create(b, l, v, fconst(b, l, ty, 0));
               return arith::MinimumFOp::create(b, l, v, fconst(b, l, ty, 1));
             });
  unaryFloat(t, "HardSwish", [](Importer &, OpBuilder &b, Location l, Value x) {
    Type ty = x.getType();
    Value v = arith::AddFOp::create(
        b, l, arith::MulFOp::create(b, l, x, fconst(b, l, ty, 1.0 / 6.0)),
        fconst(b, l, ty, 0.5));
    v = arith::MaximumFOp::create(b, l, v, fconst(b, l, ty, 0));
    v = arith::MinimumFOp::create(b, l, v, fconst(b, l, ty, 1));
    return arith::MulFOp::create(b, l, x, v);
  });
  // Shrink: x + bias below -lambd, x - bias above lambd, 0 between.
  unaryFloat(t, "Shrink", [](Importer &im, OpBuilder &b, Location l, Value x) {
    Type ty = x.getType();
    Value lambd = fconst(b, l, ty, im.attrFloat("lambd", 0.5f));
    Value bias = fconst(b, l, ty, im.attrFloat("bias", 0.0f));
    Value below = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT, x,
                                        arith::NegFOp::create(b, l, lambd));
    Value above =
        arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, x, lambd);
    Value v = arith::SelectOp::create(
        b, l, above, arith::SubFOp::create(b, l, x, bias), fconst(b, l, ty, 0));
    return arith::SelectOp::create(b, l, below,
                                   arith::AddFOp::create(b, l, x, bias), v);
  });
  unaryFloat(t, "Softplus", [](Importer &, OpBuilder &b, Location l, Value x) {
    return math::Log1pOp::create(b, l, math::ExpOp::create(b, l, x));
  });
  unaryFloat(t, "Elu", [](Importer &im, OpBuilder &b, Location l, Value x) {
    Type ty = x.getType();
    Value alpha = fconst(b, l, ty, im.attrFloat("alpha", 1.0f));
    Value neg = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT, x,
                                      fconst(b, l, ty, 0));
    Value em1 = math::ExpM1Op::create(b, l, x);
    return arith::SelectOp::create(b, l, neg,
                                   arith::MulFOp::create(b, l, alpha, em1), x);
  });
  // Gelu (opset 20): 0.5 x (1 + erf(x / sqrt 2)), or with approximate =
  // "tanh" 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
  t["Gelu"].lower = [](Importer &im) -> LogicalResult {
    std::string approximate = im.attrString("approximate", "none");
    if (approximate != "none" && approximate != "tanh")
      return im.error("Gelu approximate must be 'none' or 'tanh', not '" +
                      approximate + "'");
    Value x = im.input(0);
    if (!x)
      return failure();
    if (!isFloatValue(x))
      return im.error("Gelu needs a floating-point input");
    Type elt = Importer::typeOf(x).getElementType();
    bool useTanh = approximate == "tanh";
    FailureOr<Value> y = im.elementwise(
        {x}, elt, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value v = a[0];
          Value inner;
          if (useTanh) {
            Value cube = arith::MulFOp::create(
                b, l, arith::MulFOp::create(b, l, v, v), v);
            Value sum = arith::AddFOp::create(
                b, l, v,
                arith::MulFOp::create(b, l, cube, fconst(b, l, elt, 0.044715)));
            inner = math::TanhOp::create(
                b, l,
                arith::MulFOp::create(
                    b, l, sum,
                    fconst(b, l, elt, 0.7978845608028654))); // sqrt(2 / pi)
          } else {
            inner = math::ErfOp::create(
                b, l,
                arith::MulFOp::create(
                    b, l, v,
                    fconst(b, l, elt, 0.7071067811865476))); // 1 / sqrt 2
          }
          Value onePlus =
              arith::AddFOp::create(b, l, fconst(b, l, elt, 1.0), inner);
          return arith::MulFOp::create(
              b, l, arith::MulFOp::create(b, l, v, fconst(b, l, elt, 0.5)),
              onePlus);
        });
    if (failed(y))
      return failure();
    im.setOutput(0, *y);
    return success();
  };
  mathUnary<math::TanhOp>(t, "Tanh");
  mathUnary<math::ErfOp>(t, "Erf");
  mathUnary<math::SqrtOp>(t, "Sqrt");
  mathUnary<math::ExpOp>(t, "Exp");
  mathUnary<math::LogOp>(t, "Log");
  mathUnary<math::SinOp>(t, "Sin");
  mathUnary<math::CosOp>(t, "Cos");
  mathUnary<math::FloorOp>(t, "Floor");
  mathUnary<math::CeilOp>(t, "Ceil");
  unaryFloat(
      t, "Reciprocal", [](Importer &, OpBuilder &b, Location l, Value x) {
        return arith::DivFOp::create(b, l, fconst(b, l, x.getType(), 1), x);
      });
  // Unary ops with an integer variant go through their own lambdas.
  t["Neg"].lower = [](Importer &im) -> LogicalResult {
    Value x = im.input(0);
    if (!x)
      return failure();
    Type elt = Importer::typeOf(x).getElementType();
    FailureOr<Value> r = im.elementwise(
        {x}, elt, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          if (isa<FloatType>(elt))
            return arith::NegFOp::create(b, l, a[0]);
          Value zero =
              arith::ConstantOp::create(b, l, b.getIntegerAttr(elt, 0));
          return arith::SubIOp::create(b, l, zero, a[0]);
        });
    if (failed(r))
      return failure();
    im.setOutput(0, *r);
    return success();
  };
  t["Abs"].lower = [](Importer &im) -> LogicalResult {
    Value x = im.input(0);
    if (!x)
      return failure();
    Type elt = Importer::typeOf(x).getElementType();
    FailureOr<Value> r = im.elementwise(
        {x}, elt, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          if (isa<FloatType>(elt))
            return math::AbsFOp::create(b, l, a[0]);
          return math::AbsIOp::create(b, l, a[0]);
        });
    if (failed(r))
      return failure();
    im.setOutput(0, *r);
    return success();
  };
  t["Not"].lower = [](Importer &im) -> LogicalResult {
    Value x = im.input(0);
    if (!x)
      return failure();
    if (!Importer::typeOf(x).getElementType().isInteger(1))
      return im.error("Not expects a bool tensor");
    FailureOr<Value> r = im.elementwise(
        {x}, im.builder().getI1Type(),
        [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value one = arith::ConstantOp::create(b, l, b.getBoolAttr(true));
          return arith::XOrIOp::create(b, l, a[0], one);
        });
    if (failed(r))
      return failure();
    im.setOutput(0, *r);
    return success();
  };

  arithBinary<arith::AddFOp, arith::AddIOp>(t, "Add");
  arithBinary<arith::SubFOp, arith::SubIOp>(t, "Sub");
  arithBinary<arith::MulFOp, arith::MulIOp>(t, "Mul");
  nary(
      t, "Div", false,
      [](OpBuilder &b, Location l, Value x, Value y) -> Value {
        return arith::DivFOp::create(b, l, x, y);
      },
      [](OpBuilder &b, Location l, Value x, Value y) -> Value {
        // x / 0 is 0 and INT_MIN / -1 wraps (as the constant folder does):
        // the hardware division would trap on either.
        auto [safe, zero, minusOne] = safeDivisor(b, l, y);
        Value zeroV =
            arith::ConstantOp::create(b, l, b.getIntegerAttr(y.getType(), 0));
        Value q = arith::DivSIOp::create(b, l, x, safe);
        Value negated = arith::SubIOp::create(b, l, zeroV, x);
        q = arith::SelectOp::create(b, l, minusOne, negated, q);
        return arith::SelectOp::create(b, l, zero, zeroV, q).getResult();
      });
  t["Mod"] = {lowerMod, 2, 2};
  arithBinary<arith::AddFOp, arith::AddIOp>(t, "Sum", 1, kVariadic);
  arithBinary<arith::MaximumFOp, arith::MaxSIOp>(t, "Max", 1, kVariadic);
  arithBinary<arith::MinimumFOp, arith::MinSIOp>(t, "Min", 1, kVariadic);
  t["Pow"].lower = [](Importer &im) -> LogicalResult {
    Value x = im.input(0), y = im.input(1);
    if (!x || !y)
      return failure();
    Type elt = Importer::typeOf(x).getElementType();
    if (!isa<FloatType>(elt))
      return im.error("Pow with an integer base is not supported");
    FailureOr<Value> r = im.elementwise(
        {x, y}, elt, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
          Value e = a[1];
          if (isa<IntegerType>(e.getType()))
            return math::PowFOp::create(b, l, a[0],
                                        arith::SIToFPOp::create(b, l, elt, e));
          if (e.getType() != elt &&
              e.getType().getIntOrFloatBitWidth() ==
                  elt.getIntOrFloatBitWidth()) // f16 <-> bf16: through f32
            e = arith::ExtFOp::create(b, l, b.getF32Type(), e);
          if (e.getType() != elt)
            e = e.getType().getIntOrFloatBitWidth() >
                        elt.getIntOrFloatBitWidth()
                    ? arith::TruncFOp::create(b, l, elt, e).getResult()
                    : arith::ExtFOp::create(b, l, elt, e).getResult();
          return math::PowFOp::create(b, l, a[0], e);
        });
    if (failed(r))
      return failure();
    im.setOutput(0, *r);
    return success();
  };
  t["Pow"].minInputs = t["Pow"].maxInputs = 2;
  nary(t, "And", false, nullptr,
       [](OpBuilder &b, Location l, Value x, Value y) -> Value {
         return arith::AndIOp::create(b, l, x, y);
       });
  nary(t, "Or", false, nullptr,
       [](OpBuilder &b, Location l, Value x, Value y) -> Value {
         return arith::OrIOp::create(b, l, x, y);
       });
  nary(t, "Xor", false, nullptr,
       [](OpBuilder &b, Location l, Value x, Value y) -> Value {
         return arith::XOrIOp::create(b, l, x, y);
       });
  compare(t, "Equal", arith::CmpFPredicate::OEQ, arith::CmpIPredicate::eq);
  compare(t, "Less", arith::CmpFPredicate::OLT, arith::CmpIPredicate::slt);
  compare(t, "LessOrEqual", arith::CmpFPredicate::OLE,
          arith::CmpIPredicate::sle);
  compare(t, "Greater", arith::CmpFPredicate::OGT, arith::CmpIPredicate::sgt);
  compare(t, "GreaterOrEqual", arith::CmpFPredicate::OGE,
          arith::CmpIPredicate::sge);
  t["Clip"] = {lowerClip, 1, 3};
  t["Where"] = {lowerWhere, 3, 3};
  t["Cast"] = {lowerCast, 1, 1};
  t["CastLike"] = {lowerCastLike, 2, 2};
  t["Identity"] = {lowerIdentity, 1, 1};
  t["Dropout"] = {lowerDropout, 1, 3};
  // Every lowering here builds on Importer::elementwise, which takes
  // dynamic dims.
  for (auto &entry : t)
    if (!before.count(entry.getKey()))
      entry.getValue().dynamic = true;
}

} // namespace sparsec::onnx_import
