//===- SparsecAttrs.td - sparsity encoding attributes ------*- tablegen -*-===//
#ifndef SPARSEC_ATTRS_TD
#define SPARSEC_ATTRS_TD

include "sparsec/Dialect/Sparsec/IR/SparsecDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Interface shared by every sparsity encoding.
//===----------------------------------------------------------------------===//

def Sparsec_SparsityEncodingAttrInterface
    : AttrInterface<"SparsityEncodingAttrInterface"> {
  let cppNamespace = "::sparsec";
  let description = [{
    A structural invariant of a weight's GEMM view W (R x K). Encodings check
    the invariant on the view's shape and on concrete values.
  }];
  let methods = [
    InterfaceMethod<"Order in which a convolution weight's K axis is flattened.",
      "::sparsec::KOrder", "getKOrder">,
    InterfaceMethod<[{Checks the encoding against a GEMM view of shape
      `rows` x `cols`.}],
      "::mlir::LogicalResult", "verifyGemmShape",
      (ins "int64_t":$rows, "int64_t":$cols,
           "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError)>,
    InterfaceMethod<[{Checks the encoding against the values of the GEMM view;
      `isNonZero(r, k)` tells whether element (r, k) is non-zero.}],
      "::mlir::LogicalResult", "verifyGemmValues",
      (ins "int64_t":$rows, "int64_t":$cols,
           "::llvm::function_ref<bool(int64_t, int64_t)>":$isNonZero,
           "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError)>,
    InterfaceMethod<"Fraction of weights kept (1 for dense).",
      "double", "getDensity">
  ];
}

def Sparsec_KOrder : I32EnumAttr<"KOrder",
    "flattening order of a convolution weight's reduction axis", [
      I32EnumAttrCase<"hwc", 0>,
      I32EnumAttrCase<"chw", 1>
    ]> {
  let cppNamespace = "::sparsec";
  let genSpecializedAttr = 0;
}

class Sparsec_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Sparsec_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def Sparsec_DenseEncodingAttr : Sparsec_Attr<"DenseEncoding", "dense",
    [DeclareAttrInterfaceMethods<Sparsec_SparsityEncodingAttrInterface>]> {
  let summary = "Dense weight: no structural constraint";
  let description = [{
    `#sparsec.dense` states that the weight is stored and executed dense. It is
    the explicit form of "no encoding".
  }];
}

def Sparsec_NMEncodingAttr : Sparsec_Attr<"NMEncoding", "nm",
    [DeclareAttrInterfaceMethods<Sparsec_SparsityEncodingAttrInterface>]> {
  let summary = "N:M structured sparsity along the reduction axis";
  let description = [{
    `#sparsec.nm<n = 2, m = 4>` states that in every row r of the weight's GEMM
    view and in every group q of M consecutive logical columns
    (qM ... qM+M-1, the last group padded with zeros when M does not divide K)
    at most N entries are non-zero. Constraints: 1 <= N < M and
    M in {4, 8, 16, 32}. `korder` (default `hwc`) fixes how a convolution
    weight's K axis is flattened; it is ignored for linear weights.
  }];
  let parameters = (ins "unsigned":$n, "unsigned":$m,
      DefaultValuedParameter<"::sparsec::KOrder", "::sparsec::KOrder::hwc">:$korder);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // SPARSEC_ATTRS_TD
