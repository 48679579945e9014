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
      `nonZero` is its row-major R x K non-zero map.}],
      "::mlir::LogicalResult", "verifyGemmValues",
      (ins "int64_t":$rows, "int64_t":$cols,
           "::llvm::ArrayRef<uint8_t>":$nonZero,
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

def Sparsec_MetaLayout : I32EnumAttr<"MetaLayout",
    "memory layout of 2:4 metadata words", [
      I32EnumAttrCase<"meta32", 0>,
      I32EnumAttrCase<"meta16", 1>
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

def Sparsec_HiNMEncodingAttr : Sparsec_Attr<"HiNMEncoding", "hinm",
    [DeclareAttrInterfaceMethods<Sparsec_SparsityEncodingAttrInterface>]> {
  let summary = "Hierarchical N:M: column vectors per row tile, N:M inside";
  let description = [{
    `#sparsec.hinm<v = 64, kept = 384, n = 2, m = 4>` states a two-level
    structure on the weight's GEMM view (R x K). Level 1 runs along R: rows are
    grouped into tiles of V rows (the last tile padded with zero rows); every
    tile keeps the same number `kept` (nnz_vec) of column vectors, all other
    columns of the tile are zero. Level 2 runs along K inside the kept
    columns: in each row of the compacted tile, every group of M consecutive
    kept columns keeps at most N values. Constraints: V a positive multiple of
    16, M in {4, 8, 16, 32}, 1 <= N < M, `kept` a positive multiple of M and at
    most K.

    Which kept columns form a group depends on the tile's column order, which
    lives in the packed storage (`col_idx`). Without it the verifier checks
    the necessary conditions: at most `kept` non-zero columns per tile and at
    most kept·N/M non-zeros per row.
  }];
  let parameters = (ins "unsigned":$v, "unsigned":$kept, "unsigned":$n,
      "unsigned":$m,
      DefaultValuedParameter<"::sparsec::KOrder", "::sparsec::KOrder::hwc">:$korder);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Sparsec_PackedWeightAttr : Sparsec_Attr<"PackedWeight", "packed"> {
  let summary = "Packed storage of a structured-sparse weight";
  let description = [{
    The arrays the code generators read (docs/Pruning.md): `values` (kept
    values, one row per GEMM row, in the packing value type), `positions`
    (the position in [0, M) of each value slot), and for HiNM `col_idx`
    (per-tile kept column lists L_t plus fillers); `meta` holds the 2:4
    hardware metadata words (META32/META16) when N:M is 2:4.
  }];
  let parameters = (ins "::mlir::ElementsAttr":$values,
      "::mlir::ElementsAttr":$positions,
      OptionalParameter<"::mlir::ElementsAttr">:$col_idx,
      OptionalParameter<"::mlir::ElementsAttr">:$meta,
      DefaultValuedParameter<"::sparsec::MetaLayout", "::sparsec::MetaLayout::meta32">:$meta_layout);
  let assemblyFormat = "`<` struct(params) `>`";
}

#endif // SPARSEC_ATTRS_TD
