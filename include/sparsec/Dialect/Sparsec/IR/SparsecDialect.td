//===- SparsecDialect.td - sparsec dialect definition ------*- tablegen -*-===//
#ifndef SPARSEC_DIALECT_TD
#define SPARSEC_DIALECT_TD

include "mlir/IR/OpBase.td"

def Sparsec_Dialect : Dialect {
  let name = "sparsec";
  let cppNamespace = "::sparsec";
  let summary = "Weight-carrying layers with structured-sparsity encodings";
  let description = [{
    The sparsec dialect holds the layers whose weights sparsec compresses: a
    linear (matmul) layer and a 2-D convolution. Their weight operand may carry
    a sparsity encoding attribute (`#sparsec.dense`, `#sparsec.nm<...>`) that
    states a structural invariant of the weight; the op verifier checks the
    invariant on the weight's shape and, when the weight is a constant, on its
    values. Everything else in a model stays in upstream dialects (tensor,
    arith, math, linalg, func).

    Every weight has a *GEMM view* W (R x K): R output channels and K the
    reduction length. For `sparsec.linear`, W is the weight operand itself
    (R x K). For `sparsec.conv2d` with an OIHW weight, R = C_out and
    K = (C_in/groups)·kh·kw, flattened in the encoding's `korder`: `hwc`
    (input channel fastest, canonical for code generation) or `chw` (kw
    fastest, the order the HiNM reference code uses). Structured groups always
    run along K.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

class Sparsec_Op<string mnemonic, list<Trait> traits = []>
    : Op<Sparsec_Dialect, mnemonic, traits>;

#endif // SPARSEC_DIALECT_TD
