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
      "double", "getDensity">,
    InterfaceMethod<[{Short name of the pattern: "dense", "nm", "hinm",
      "sum", "product". The report's `pattern` field.}],
      "::llvm::StringRef", "getPatternName">,
    InterfaceMethod<[{Compact label for tables, e.g. "2:4", "hinm64",
      "2:4+1:8".}],
      "std::string", "getLabel">,
    InterfaceMethod<[{Adds the encoding's parameters to a report or manifest
      row (`n`, `m`, `v`, `nnz_vec`, `korder`, `terms`, ...).}],
      "void", "describe", (ins "::llvm::json::Object &":$row)>,
    InterfaceMethod<[{Structurally kept weights and packed bytes of an
      `rows` x `cols` GEMM view whose values take `valueBytes` bytes
      (formats.md §1.3, §3.6, §4.2).}],
      "::sparsec::WeightFootprint", "getFootprint",
      (ins "int64_t":$rows, "int64_t":$cols, "int64_t":$valueBytes)>,
    InterfaceMethod<[{Most non-zeros the encoding allows in one row of a
      GEMM view with `cols` columns.}],
      "int64_t", "getMaxNonZerosPerRow", (ins "int64_t":$cols)>,
    InterfaceMethod<[{Packs a masked GEMM view into a `#sparsec.packed`
      attribute. Returns an error message, or "" with `packed` set.}],
      "std::string", "pack",
      (ins "const ::sparsec::PackRequest &":$request,
           "::mlir::Attribute &":$packed)>,
    InterfaceMethod<[{Checks a packed attribute's array shapes, element
      types and index ranges (positions < M, col_idx < K) for an `rows` x
      `cols` GEMM view without unpacking it: cheap enough for the op
      verifier. Returns an error message, or "".}],
      "std::string", "verifyPacked",
      (ins "::mlir::Attribute":$packed, "int64_t":$rows, "int64_t":$cols)>,
    InterfaceMethod<[{Unpacks `packed` (as made by `pack`) into the dense
      row-major `rows` x `cols` GEMM view, after `verifyPacked` and a check
      that stored 2:4 metadata words match the positions. Returns an error
      message, or "".}],
      "std::string", "unpack",
      (ins "::mlir::Attribute":$packed, "int64_t":$rows, "int64_t":$cols,
           "std::vector<float> &":$dense)>
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

def Sparsec_SumEncodingAttr : Sparsec_Attr<"SumEncoding", "sum",
    [DeclareAttrInterfaceMethods<Sparsec_SparsityEncodingAttrInterface>]> {
  let summary = "A weight that is a sum of structured terms (TASD)";
  let description = [{
    `#sparsec.sum<[#sparsec.nm<n = 2, m = 4>, #sparsec.nm<n = 1, m = 8>]>`
    states that the weight's GEMM view is W = T_1 + ... + T_n, where term T_i
    satisfies the i-th encoding and the terms' supports are pairwise disjoint
    (formats.md §4), so the sum is exact in any order and W agrees with every
    term on its support. Terms are listed in extraction order, share the K
    order, and are neither sums nor products themselves.

    The layer's weight operand holds W itself (the host reference semantics);
    the op's `weight_parts` holds each term's packed storage, in term order.
    `sparsec-verify-encodings` unpacks every term, checks it against its
    encoding, checks that the supports are disjoint and that the terms add up
    to the weight bit for bit.
  }];
  let parameters = (ins
      ArrayRefParameter<"::sparsec::SparsityEncodingAttrInterface", "terms">:$terms);
  let assemblyFormat = "`<` `[` $terms `]` `>`";
  let genVerifyDecl = 1;
}

def Sparsec_ProductEncodingAttr : Sparsec_Attr<"ProductEncoding", "product",
    [DeclareAttrInterfaceMethods<Sparsec_SparsityEncodingAttrInterface>]> {
  let summary = "A weight that is a product of factors";
  let description = [{
    `#sparsec.product<[#sparsec.nm<n = 2, m = 4>, #sparsec.dense], inner = [16]>`
    states that the weight's GEMM view (R x K) is the matrix product
    W = F_1 · F_2 · ... · F_n of factors of shapes R x d_1, d_1 x d_2, ...,
    d_(n-1) x K, where `inner` = [d_1, ..., d_(n-1)] and factor F_i satisfies
    the i-th encoding on its own shape (basis-kernel decompositions,
    low-rank and butterfly-style factorizations). Factors are neither sums nor
    products themselves. `korder` fixes how a convolution weight's K axis is
    flattened.

    The layer's weight operand holds W (the host reference semantics); the
    op's `weight_parts` holds each factor, in order: a `#sparsec.packed`
    attribute for a structured factor, or a dense tensor of the factor's
    shape. `sparsec-verify-encodings` checks every factor against its encoding
    and that the product reproduces the weight within float32 rounding.
  }];
  let parameters = (ins
      ArrayRefParameter<"::sparsec::SparsityEncodingAttrInterface", "factors">:$factors,
      ArrayRefParameter<"int64_t", "inner dimensions">:$inner,
      DefaultValuedParameter<"::sparsec::KOrder", "::sparsec::KOrder::hwc">:$korder);
  let assemblyFormat =
      "`<` `[` $factors `]` `,` `inner` `=` `[` $inner `]` (`,` `korder` `=` $korder^)? `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Rows and columns of factor `i` in a product whose GEMM view is
    /// `rows` x `cols`.
    std::pair<int64_t, int64_t> getFactorShape(unsigned i, int64_t rows,
                                               int64_t cols) const;
    /// The product of the factors held by `parts` (a layer's weight_parts)
    /// in float64, and the elementwise bound sum |a|·|b| that the rounding
    /// error of a float32 product scales with. Returns an error or "".
    std::string multiply(::mlir::Attribute parts, int64_t rows, int64_t cols,
                         std::vector<double> &product,
                         std::vector<double> &bound) const;
  }];
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
