//===- Passes.td - sparsec pass definitions ----------------*- tablegen -*-===//
#ifndef SPARSEC_TRANSFORMS_PASSES_TD
#define SPARSEC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def SparsecLowerToLinalg : Pass<"sparsec-lower-to-linalg", "::mlir::ModuleOp"> {
  let summary = "Lower sparsec layers to linalg on tensors (dense host path)";
  let description = [{
    Rewrites `sparsec.linear` and `sparsec.conv2d` into `linalg` operations on
    tensors with the weight used as stored: masked (pruned) weights execute as
    dense tensors with zeros, which is the host reference semantics of every
    sparsity encoding. Grouped and depthwise convolutions become
    `linalg.conv_2d_ngchw_gfchw`; padding becomes `tensor.pad`.

    Example: `sparsec-opt --sparsec-lower-to-linalg model.mlir`.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect", "::mlir::tensor::TensorDialect",
    "::mlir::arith::ArithDialect"
  ];
}

def SparsecFlattenConstants
    : Pass<"sparsec-flatten-constants", "::mlir::func::FuncOp"> {
  let summary = "Store large multi-dimensional constants as 1-D plus a reshape";
  let description = [{
    Rewrites every `arith.constant` tensor of rank > 1 with at least
    `min-elements` elements into a rank-1 constant (same data, no copy for
    dense_resource blobs) followed by `tensor.expand_shape`. After
    bufferization each weight is then one flat global, which LLVM emits as a
    single constant array instead of millions of nested ones (ResNet-18's
    object emission drops from seconds of constant uniquing to a fraction).
  }];
  let options = [
    Option<"minElements", "min-elements", "int64_t", /*default=*/"256",
           "Flatten constants with at least this many elements">
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

def SparsecVerifyEncodings : Pass<"sparsec-verify-encodings", "::mlir::ModuleOp"> {
  let summary = "Check every weight encoding and packed weight";
  let description = [{
    Runs the sparsity-encoding checks of every weight-carrying op (also done by
    the op verifiers), and unpacks every `packed_weight` to check that it
    reproduces the layer's dense weight exactly (which also proves the HiNM
    structure against the packed column lists). With `report`, prints one line
    per layer with its GEMM view, encoding and measured density to stderr.
    Fails if a layer without an encoding is required by `require-encoding`.
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"false",
           "Print one line per weight-carrying layer to stderr">,
    Option<"requireEncoding", "require-encoding", "bool", /*default=*/"false",
           "Fail if a weight-carrying layer has no weight_encoding">
  ];
}

def SparsecPrune : Pass<"sparsec-prune", "::mlir::ModuleOp"> {
  let summary = "Prune constant layer weights to N:M or hierarchical N:M";
  let description = [{
    Selects, for every chosen `sparsec.linear` / `sparsec.conv2d` with a
    constant weight, the structured mask of `pattern` by the exact rules of
    docs/Pruning.md (ties to the lower index, HiNM column scores in float64),
    replaces the weight with its masked dense weight, sets `weight_encoding`
    (`#sparsec.nm` / `#sparsec.hinm`) and attaches the packed storage
    (`packed_weight`: values, positions, HiNM column lists, 2:4 metadata in
    META32/META16 order). Saliency is |w| or user scores (`saliency`).

    Layers are chosen by `include` / `exclude` regexes on the layer (node) or
    weight (initializer) name, `skip-first` / `skip-last`, `min-params` and a
    JSON `config` of per-layer overrides. Rows that do not divide V are padded
    unless `pad=false`, which makes such a layer an error.

    Example: `sparsec-opt --sparsec-prune="pattern=hinm v=64 vector-sparsity=0.5"`.
  }];
  let options = [
    Option<"pattern", "pattern", "std::string", /*default=*/"\"nm\"",
           "Sparsity pattern: nm or hinm">,
    Option<"n", "n", "int64_t", /*default=*/"2", "N of N:M">,
    Option<"m", "m", "int64_t", /*default=*/"4", "M of N:M (4, 8, 16 or 32)">,
    Option<"v", "v", "int64_t", /*default=*/"64",
           "HiNM rows per tile (a multiple of 16)">,
    Option<"vectorSparsity", "vector-sparsity", "double", /*default=*/"-1",
           "HiNM vector sparsity vs in [0, 1) (default 0.5 unless sparsity)">,
    Option<"sparsity", "sparsity", "double", /*default=*/"-1",
           "HiNM target total sparsity in (0, 1); sets vs = 1 - (1 - s)·M/N">,
    Option<"saliency", "saliency", "std::string", /*default=*/"\"\"",
           "Scores: a directory of <initializer>.npy files or a .safetensors file">,
    Option<"include", "include", "std::string", /*default=*/"\"\"",
           "Prune only layers whose layer or weight name matches this regex">,
    Option<"exclude", "exclude", "std::string", /*default=*/"\"\"",
           "Never prune layers whose layer or weight name matches this regex">,
    Option<"skipFirst", "skip-first", "bool", /*default=*/"false",
           "Leave the first weight layer dense">,
    Option<"skipLast", "skip-last", "bool", /*default=*/"false",
           "Leave the last weight layer dense">,
    Option<"minParams", "min-params", "int64_t", /*default=*/"0",
           "Leave layers with fewer weights dense">,
    Option<"config", "config", "std::string", /*default=*/"\"\"",
           "JSON file of per-layer overrides">,
    Option<"pad", "pad", "bool", /*default=*/"true",
           "Pad rows to a multiple of V (else a layer that does not divide is an error)">,
    Option<"valueType", "value-type", "std::string", /*default=*/"\"f32\"",
           "Packed value type: f32, f16 or bf16">,
    Option<"korder", "korder", "std::string", /*default=*/"\"hwc\"",
           "Convolution K order: hwc or chw">,
    Option<"metaLayout", "meta-layout", "std::string", /*default=*/"\"auto\"",
           "HiNM 2:4 metadata layout: meta32, meta16, or auto (meta32 when V is a multiple of 32)">,
    Option<"keepMask", "keep-mask", "bool", /*default=*/"false",
           "Attach the selected mask (sparsec.mask) for export">,
    Option<"permute", "permute", "std::string", /*default=*/"\"none\"",
           "Channel permutation before selection: none, gyro (HiNM: output "
           "rows, then per-tile column grouping), asp (N:M: stripe-group "
           "search on input channels) or swap (N:M: greedy channel swap)">,
    Option<"seed", "seed", "int64_t", /*default=*/"0",
           "Seed of the permutation searches (one sub-stream per layer)">,
    Option<"permuteTries", "permute-tries", "int64_t", /*default=*/"100",
           "Gyro: most trials per schedule phase">,
    Option<"permuteColumnTries", "permute-column-tries", "int64_t",
           /*default=*/"32",
           "Gyro stage B: most trials per tile (a deterministic work cap; the "
           "search also stops at its third failure)">,
    Option<"permuteSchedule", "permute-schedule", "std::string",
           /*default=*/"\"8,1,4,1,2,1,1\"",
           "Gyro: rows moved per block in each stage-A phase">,
    Option<"permuteBudget", "permute-budget", "double", /*default=*/"0",
           "Wall-clock budget in seconds for all searches (0 = none)">,
    Option<"permuteWindow", "permute-window", "int64_t", /*default=*/"2",
           "ASP: stripes per exhaustive window (2 or 3)">,
    Option<"permuteEscapes", "permute-escapes", "int64_t", /*default=*/"100",
           "ASP: escape attempts">,
    Option<"explicitPermutes", "explicit-permutes", "bool", /*default=*/"true",
           "Where no neighbour can absorb a permutation, insert sparsec.permute "
           "(else leave that layer unpermuted)">,
    Option<"progress", "progress", "bool", /*default=*/"false",
           "Print search progress to stderr">
  ];
  let statistics = [
    Statistic<"numPruned", "layers-pruned", "Number of layers pruned">,
    Statistic<"numSkipped", "layers-skipped", "Number of weight layers left dense">
  ];
}

#endif // SPARSEC_TRANSFORMS_PASSES_TD
