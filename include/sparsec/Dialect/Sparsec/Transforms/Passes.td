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

def SparsecFoldBiasAdd : Pass<"sparsec-fold-bias-add", "::mlir::func::FuncOp"> {
  let summary = "Fold a constant per-channel add after a layer into its bias";
  let description = [{
    ONNX exports a linear layer of a rank-3 input as `MatMul` then `Add` of
    the bias, which imports as `sparsec.linear` without a bias followed by a
    broadcasting `linalg.generic`. When a `sparsec.linear` or
    `sparsec.conv2d` has that generic as its only user (one `arith.addf` of
    the layer's output, read through the identity map, and a constant whose
    indexing map reads only the output channel: the last dimension of a
    linear layer, the second of a convolution), the constant becomes the
    layer's bias (added to a constant bias it already has) and the generic
    is gone. The kernels then start their accumulators from it, and the
    elementwise ops after it (GELU, a residual add) can fuse into their
    stores. The sum is rounded as the bias is added first rather than last:
    within float32 rounding of the unfolded model.

    Example: `sparsec-opt --sparsec-fold-bias-add model.mlir`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
  let statistics = [
    Statistic<"numFolded", "adds-folded", "Number of bias adds folded">
  ];
}

def SparsecVerifyEncodings : Pass<"sparsec-verify-encodings", "::mlir::ModuleOp"> {
  let summary = "Check every weight encoding and packed weight";
  let description = [{
    Runs the sparsity-encoding checks of every weight-carrying op (also done by
    the op verifiers), and unpacks every `packed_weight` to check that it
    reproduces the layer's dense weight exactly (which also proves the HiNM
    structure against the packed column lists). For a `#sparsec.sum` or
    `#sparsec.product` weight it unpacks every entry of `weight_parts`,
    checks it against its own encoding, and checks that the terms are
    disjoint and add up to the weight bit for bit, or that the factors'
    product reproduces it within float32 rounding. With `report`, prints one line
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

//===----------------------------------------------------------------------===//
// Compression passes. They share the layer-selection options below and the
// utility behind them (LayerSelection.h): which layers, their per-layer
// settings from a JSON config, and their saliency.
//===----------------------------------------------------------------------===//

defvar SparsecLayerSelectionOptions = [
  Option<"include", "include", "std::string", /*default=*/"\"\"",
         "Take only layers whose layer or weight name matches this regex">,
  Option<"exclude", "exclude", "std::string", /*default=*/"\"\"",
         "Never take layers whose layer or weight name matches this regex">,
  Option<"skipFirst", "skip-first", "bool", /*default=*/"false",
         "Leave the first weight layer alone">,
  Option<"skipLast", "skip-last", "bool", /*default=*/"false",
         "Leave the last weight layer alone">,
  Option<"minParams", "min-params", "int64_t", /*default=*/"0",
         "Leave layers with fewer weights alone">,
  Option<"config", "config", "std::string", /*default=*/"\"\"",
         "JSON file of per-layer overrides ({\"layers\": [{\"match\": regex, "
         "\"pattern\", \"n\", \"m\", \"v\", \"vs\", \"sparsity\", "
         "\"skip\"}]}); the first matching rule applies">,
  Option<"saliency", "saliency", "std::string", /*default=*/"\"\"",
         "Scores: magnitude (|w|, the default), wanda (|w| times the input "
         "norms calibration attached), sparsegpt (the mask a calibration run "
         "already applied), or user scores: a directory of <initializer>.npy "
         "files or a .safetensors file">,
  Option<"korder", "korder", "std::string", /*default=*/"\"hwc\"",
         "Convolution K order: hwc or chw">,
  Option<"pad", "pad", "bool", /*default=*/"true",
         "Pad rows to a multiple of V (else a HiNM layer that does not divide "
         "is an error)">
];

defvar SparsecNMOptions = [
  Option<"n", "n", "int64_t", /*default=*/"2", "N of N:M">,
  Option<"m", "m", "int64_t", /*default=*/"4", "M of N:M (4, 8, 16 or 32)">
];

defvar SparsecHiNMOptions = [
  Option<"v", "v", "int64_t", /*default=*/"64",
         "HiNM rows per tile (a multiple of 16)">,
  Option<"vectorSparsity", "vector-sparsity", "double", /*default=*/"-1",
         "HiNM vector sparsity vs in [0, 1) (default 0.5 unless sparsity)">,
  Option<"sparsity", "sparsity", "double", /*default=*/"-1",
         "HiNM target total sparsity in (0, 1); sets vs = 1 - (1 - s)·M/N">
];

defvar SparsecPackOptions = [
  Option<"valueType", "value-type", "std::string", /*default=*/"\"f32\"",
         "Packed value type: f32, f16 or bf16">,
  Option<"keepMask", "keep-mask", "bool", /*default=*/"false",
         "Attach the selected mask (sparsec.mask) for export">,
  Option<"pack", "pack", "bool", /*default=*/"true",
         "Attach the packed weight (packed_weight) that targets compile; "
         "false leaves the encoding and the masked weight only, which is all "
         "an ONNX export needs (a large model then holds no packed copy)">
];

def SparsecPruneNM : Pass<"sparsec-prune-nm", "::mlir::ModuleOp"> {
  let summary = "Prune constant layer weights to N:M";
  let description = [{
    For every chosen `sparsec.linear` / `sparsec.conv2d` with a constant
    weight and no encoding yet, selects the N:M mask by the rules of
    docs/Pruning.md (the N most salient of every M consecutive K entries,
    ties to the lower index), replaces the weight with its masked dense
    weight, sets `weight_encoding = #sparsec.nm<...>` and attaches the storage
    the encoding packs (`packed_weight`: values, positions, and 2:4 metadata
    words). Layers that a config rule gives `"pattern": "hinm"` are left to
    `sparsec-prune-hinm`.

    Example: `sparsec-opt --sparsec-prune-nm="n=2 m=4"`.
  }];
  let options = !listconcat(SparsecLayerSelectionOptions, SparsecNMOptions,
                            SparsecPackOptions);
  let statistics = [
    Statistic<"numPruned", "layers-pruned", "Number of layers pruned">,
    Statistic<"numSkipped", "layers-skipped", "Number of weight layers left alone">
  ];
}

def SparsecPruneHiNM : Pass<"sparsec-prune-hinm", "::mlir::ModuleOp"> {
  let summary = "Prune constant layer weights to hierarchical N:M";
  let description = [{
    For every chosen layer with a constant weight and no encoding yet,
    selects the HiNM mask of docs/Pruning.md: per tile of V rows the `kept`
    most salient column vectors (column scores in float64), then N:M inside
    the kept columns. With `column-grouping=gyro` each tile's kept columns
    are first grouped by the gyro stage-B search (algorithms.md §2; seeded,
    one sub-stream per tile). Sets `weight_encoding = #sparsec.hinm<...>` and
    attaches the packed storage (values, positions, per-tile column lists,
    2:4 metadata in META32/META16 order). Layers that a config rule gives
    `"pattern": "nm"` are left to `sparsec-prune-nm`.

    Example: `sparsec-opt --sparsec-prune-hinm="v=64 vector-sparsity=0.5"`.
  }];
  let options = !listconcat(SparsecLayerSelectionOptions, SparsecNMOptions,
      SparsecHiNMOptions, SparsecPackOptions, [
    Option<"metaLayout", "meta-layout", "std::string", /*default=*/"\"auto\"",
           "2:4 metadata layout: meta32, meta16, or auto (meta32 when V is a "
           "multiple of 32)">,
    Option<"columnGrouping", "column-grouping", "std::string",
           /*default=*/"\"none\"",
           "Grouping of each tile's kept columns into M-groups: none (column "
           "order) or gyro (stage-B search)">,
    Option<"columnTries", "column-tries", "int64_t", /*default=*/"32",
           "Gyro stage B: most trials per tile (a deterministic work cap; the "
           "search also stops at its third failure)">,
    Option<"seed", "seed", "int64_t", /*default=*/"0",
           "Seed of the stage-B search (one sub-stream per tile)">
  ]);
  let statistics = [
    Statistic<"numPruned", "layers-pruned", "Number of layers pruned">,
    Statistic<"numSkipped", "layers-skipped", "Number of weight layers left alone">
  ];
}

def SparsecPermuteChannels
    : Pass<"sparsec-permute-channels", "::mlir::ModuleOp"> {
  let summary = "Permute channels so that a later N:M or HiNM pruning keeps more";
  let description = [{
    Searches, for the layers a later `sparsec-prune-nm` / `sparsec-prune-hinm`
    with the same selection options will prune, channel permutations that
    raise the saliency the pruning keeps (algorithms.md §2-§4): `gyro`
    (HiNM: output rows), `asp` (N:M: stripe-group search on input channels)
    or `swap` (N:M: greedy channel swap). Channels that share an order
    (residual joins, elementwise ops) form classes; a class's permutation is
    folded into every weight, bias and per-channel constant in it, and
    `sparsec.permute` is inserted only where nothing can absorb one (graph
    outputs, concat, head splits; or, with `explicit-permutes=false`, the
    layer stays unpermuted). Layers record the cumulative permutations
    (`sparsec.row_perm`, `sparsec.col_perm`, new[j] = old[perm[j]]) so that
    user scores follow them, and the saliency plain pruning would have kept
    (`sparsec.kept_saliency_unpermuted`) for the report.

    Example: `sparsec-opt --sparsec-permute-channels="method=asp pattern=nm"
    --sparsec-prune-nm`.
  }];
  let options = !listconcat(SparsecLayerSelectionOptions, [
    Option<"pattern", "pattern", "std::string", /*default=*/"\"nm\"",
           "Pattern the layers will be pruned to, unless a config rule says "
           "otherwise: nm or hinm">
  ], SparsecNMOptions, SparsecHiNMOptions, [
    Option<"method", "method", "std::string", /*default=*/"\"asp\"",
           "gyro (HiNM: output rows), asp (N:M: stripe-group search on input "
           "channels) or swap (N:M: greedy channel swap)">,
    Option<"seed", "seed", "int64_t", /*default=*/"0",
           "Seed of the searches (one sub-stream per layer)">,
    Option<"tries", "tries", "int64_t", /*default=*/"100",
           "Gyro: most trials per schedule phase">,
    Option<"schedule", "schedule", "std::string",
           /*default=*/"\"8,1,4,1,2,1,1\"",
           "Gyro: rows moved per block in each stage-A phase">,
    Option<"budget", "budget", "double", /*default=*/"0",
           "Wall-clock budget in seconds for all searches (0 = none)">,
    Option<"window", "window", "int64_t", /*default=*/"2",
           "ASP: stripes per exhaustive window (2 or 3)">,
    Option<"escapes", "escapes", "int64_t", /*default=*/"100",
           "ASP: escape attempts">,
    Option<"explicitPermutes", "explicit-permutes", "bool", /*default=*/"true",
           "Where no neighbour can absorb a permutation, insert "
           "sparsec.permute (else leave that layer unpermuted)">,
    Option<"progress", "progress", "bool", /*default=*/"false",
           "Print search progress to stderr">
  ]);
  let statistics = [
    Statistic<"numPermuted", "layers-considered",
              "Number of layers the permutation search considered">
  ];
}

#endif // SPARSEC_TRANSFORMS_PASSES_TD
