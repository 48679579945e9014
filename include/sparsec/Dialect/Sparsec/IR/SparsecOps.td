//===- SparsecOps.td - sparsec operations ------------------*- tablegen -*-===//
#ifndef SPARSEC_OPS_TD
#define SPARSEC_OPS_TD

include "sparsec/Dialect/Sparsec/IR/SparsecDialect.td"
include "sparsec/Dialect/Sparsec/IR/SparsecAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"

def Sparsec_EncodingAttr
    : Attr<CPred<"::llvm::isa<::sparsec::SparsityEncodingAttrInterface>($_self)">,
           "sparsity encoding attribute"> {
  let storageType = "::sparsec::SparsityEncodingAttrInterface";
  let returnType = "::sparsec::SparsityEncodingAttrInterface";
  let convertFromStorage = "$_self";
}

def Sparsec_FloatTensor : RankedTensorOf<[AnyFloat]>;

def Sparsec_WeightPartsAttr
    : TypedArrayAttrBase<AnyAttrOf<[Sparsec_PackedWeightAttr, ElementsAttr]>,
                         "weight parts (packed or dense)">;

def Sparsec_LinearOp : Sparsec_Op<"linear", [Pure]> {
  let summary = "Linear layer: y = x · Wᵀ + b";
  let description = [{
    Computes `result[..., r] = sum_k input[..., k] * weight[r, k] + bias[r]`.
    The weight is the GEMM view W (R x K) directly: R output features, K input
    features. ONNX `MatMul(X, B)` with a constant B (K x R) imports as W = Bᵀ;
    `Gemm` honours transB. The optional `weight_encoding` states the weight's
    sparsity structure and is verified on the weight's shape and, if the weight
    is a constant, on its values. `packed_weight` is the storage of an N:M or
    HiNM weight; `weight_parts` holds the terms of a `#sparsec.sum` or the
    factors of a `#sparsec.product` weight.

    Example:
    ```mlir
    %y = sparsec.linear %x, %w, %b {weight_encoding = #sparsec.nm<n = 2, m = 4>}
        : (tensor<8x64xf32>, tensor<32x64xf32>, tensor<32xf32>) -> tensor<8x32xf32>
    ```
  }];
  let arguments = (ins Sparsec_FloatTensor:$input, Sparsec_FloatTensor:$weight,
      Optional<Sparsec_FloatTensor>:$bias,
      OptionalAttr<Sparsec_EncodingAttr>:$weight_encoding,
      OptionalAttr<Sparsec_PackedWeightAttr>:$packed_weight,
      OptionalAttr<Sparsec_WeightPartsAttr>:$weight_parts);
  let results = (outs Sparsec_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// R and K of the weight's GEMM view.
    int64_t getNumRows() { return getWeight().getType().getDimSize(0); }
    int64_t getReductionSize() { return getWeight().getType().getDimSize(1); }
  }];
}

def Sparsec_Conv2DOp : Sparsec_Op<"conv2d", [Pure]> {
  let summary = "2-D convolution (NCHW input, OIHW weight)";
  let description = [{
    ONNX-style grouped 2-D convolution. `input` is N x C_in x H x W, `weight`
    is C_out x (C_in/groups) x kh x kw, `bias` is C_out. `pads` is
    [top, left, bottom, right]. The weight's GEMM view is
    R = C_out, K = (C_in/groups)·kh·kw, flattened in the encoding's `korder`.

    Example:
    ```mlir
    %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>,
        pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64}
        : (tensor<1x8x16x16xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x16x16xf32>
    ```
  }];
  let arguments = (ins Sparsec_FloatTensor:$input, Sparsec_FloatTensor:$weight,
      Optional<Sparsec_FloatTensor>:$bias,
      DenseI64ArrayAttr:$strides, DenseI64ArrayAttr:$pads,
      DenseI64ArrayAttr:$dilations, I64Attr:$groups,
      OptionalAttr<Sparsec_EncodingAttr>:$weight_encoding,
      OptionalAttr<Sparsec_PackedWeightAttr>:$packed_weight,
      OptionalAttr<Sparsec_WeightPartsAttr>:$weight_parts);
  let results = (outs Sparsec_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getNumRows() { return getWeight().getType().getDimSize(0); }
    int64_t getReductionSize() {
      auto shape = getWeight().getType().getShape();
      return shape[1] * shape[2] * shape[3];
    }
  }];
}

def Sparsec_PermuteOp : Sparsec_Op<"permute", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Reorder the channels of a tensor along one axis";
  let description = [{
    `result[..., j, ...] = input[..., permutation[j], ...]` along `axis`
    (the `new[j] = old[perm[j]]` convention). Channel permutation passes fold
    permutations into neighbouring layers; they insert this op only where no
    neighbour can absorb one (a graph output, a head split, a concat), and the
    report lists every such op.
  }];
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis,
      DenseI64ArrayAttr:$permutation);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Sparsec_PermuteLanesOp : Sparsec_Op<"permute_lanes", [Pure,
    AllTypesMatch<["source", "result"]>]> {
  let summary = "Each lane takes the source lane its index names";
  let description = [{
    `result[i] = source[indices[i] mod N]` for a vector of N lanes (N a power
    of two; only the index's low log2(N) bits count). The CPU kernel for N:M
    weights uses it to hand every output lane the activation of its own
    row's column. `sparsec-cpu-lower-permute-lanes` lowers it to one x86
    `vpermps` (8 or 16 lanes) or `vpermilps` (4 lanes) or, elsewhere, to
    per-lane extracts and inserts.

    Example:
    ```mlir
    %p = sparsec.permute_lanes %x, %lanes : vector<8xf32>, vector<8xi32>
    ```
  }];
  let arguments = (ins VectorOfRankAndType<[1], [F32]>:$source,
      VectorOfRankAndType<[1], [I32]>:$indices);
  let results = (outs VectorOfRankAndType<[1], [F32]>:$result);
  let assemblyFormat = [{
    $source `,` $indices attr-dict `:` type($source) `,` type($indices)
  }];
  let hasVerifier = 1;
}

#endif // SPARSEC_OPS_TD
