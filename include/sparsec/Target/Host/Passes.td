//===- Passes.td - host target passes ----------------------*- tablegen -*-===//
#ifndef SPARSEC_TARGET_HOST_PASSES_TD
#define SPARSEC_TARGET_HOST_PASSES_TD

include "mlir/Pass/PassBase.td"

def SparsecCpuLowerLayers
    : Pass<"sparsec-cpu-lower-layers", "::mlir::ModuleOp"> {
  let summary = "Linear layers and convolutions with constant weights as "
                "register-tiled vector kernels over weights packed at compile "
                "time";
  let description = [{
    Rewrites every f32 `sparsec.linear`, and every f32 `sparsec.conv2d` with
    `groups = 1`, whose weight (and bias) is a readable constant into a GEMM
    kernel specialised to its shape and its zeros (docs/CPUBackend.md). A
    linear layer's GEMM is its T x K input times Wᵀ. A convolution's is, per
    image, the OIHW weight viewed as O x (C·KH·KW) times the im2col matrix
    [(c, kh, kw)][output pixel] (for a 1x1 convolution with stride 1, the
    input itself), with pixels along the vectors, which leaves the result in
    NCHW order: the convolution kernel's register tile is output channels x
    vectors of pixels (4 x 3 vectors with 8 lanes, 8 x 2 with 16), and its
    panels are that many channels. Matmuls of two computed values (a
    `linalg.generic` contraction `C[b.., m, n] += A[b.., m, k] · B[b.., k, n]`)
    run a batched kernel with the linear layers' tile that reads B's rows in
    place.

    - The R output features are cut into panels of `tile-vectors` x
      `vector-width` features. Each panel keeps the list of input columns in
      which any of its rows has a nonzero weight; its weights are packed at
      compile time as [kept column][panel feature] rows (a private
      `memref.global`), zero-padded past R.
    - A panel that keeps every column runs the dense kernel; one that keeps
      fewer runs the same kernel over its kept-column list (one index load
      per column, no gather: each kept column is one scalar of each token,
      broadcast). A HiNM weight with V a multiple of the panel width keeps
      exactly its tiles' kept vectors, so the work drops by the vector
      sparsity; the N:M zeros inside the kept vectors are filled back.
    - The register tile is `tile-tokens` tokens x `tile-vectors` vectors:
      per kept column, `tile-vectors` weight loads, `tile-tokens` broadcast
      loads and their product of FMAs into accumulators that stay in
      registers; the bias initialises them. Panels are an `scf.parallel`
      loop (OpenMP threads in the host pipeline).

    With `nm-groups` (meant for x86 with AVX2), a linear layer whose every row keeps at
    most two nonzeros in each aligned group of four columns (2:4, 1:4, ...)
    can run the N:M group kernel instead: per group, a token's four
    activations are one 128-bit load, and each of the group's slots costs
    one lane permute (`sparsec.permute_lanes`, lane indices packed at
    compile time as bytes) and one FMA, so only the nonzero MACs are done.
    `auto` takes it when a slot (`nm-group-slot-cost` dense MACs, 1.5 as
    measured on a Zen 4) beats the
    share of the work the channel tiles keep, or, with fewer than two tiles
    of tokens, when it moves fewer weight bytes; the decision is
    `kind = "nm_groups"` with `groups`, `slots`, `tail_columns`.

    With `row-patterns`, a sparse linear layer can run with the tokens along
    the lanes (x transposed once to K x T): rows go in panels of four, each
    column of a panel feeds a pattern of those rows (1 to 15), and the code
    of each pattern loops over its columns, loading the activations once
    for all the rows that need them and doing only the nonzero MACs.
    `auto` takes it with at least four vectors of tokens when its nonzeros
    (about 1.6 dense MACs each, measured) cost less than the other
    kernels; the decision is `kind = "row_patterns"` with `panels`,
    `nonzeros`. Convolutions (groups = 1) run the same patterns with their
    pixels along the lanes (`kind = "conv_row_patterns"`), chosen by the
    nonzeros at about 1.5 channel-tile MACs each plus each panel's 15
    pattern loops, and not on an im2col matrix larger than half of L2.
    Depthwise convolutions run a direct kernel (`kind = "conv_depthwise"`:
    one pass over the NCHW input, padding handled at compile time).

    The output buffer's `memref.alloc` records the decision:
    `sparsec.cpu.kernel = {kind = "dense" | "kept_columns", panels,
    kept_columns, vector_width, tile_tokens, tile_vectors}` (convolutions:
    `conv_dense` | `conv_kept_columns` with `tile_channels`,
    `tile_pixel_vectors`; matmuls: `batched_matmul`). Other layers
    (grouped convolutions, weights that are not readable f32 constants) are
    left to `sparsec-lower-to-linalg`.

    Example: `sparsec-opt --sparsec-cpu-lower-layers="vector-width=8" m.mlir`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect", "::mlir::vector::VectorDialect"
  ];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"8",
           "f32 lanes per vector: 4 (SSE, NEON), 8 (AVX2), 16 (AVX-512)">,
    Option<"tileTokens", "tile-tokens", "int64_t", /*default=*/"6",
           "Tokens (rows of the input) per register tile, 1 to 16">,
    Option<"tileVectors", "tile-vectors", "int64_t", /*default=*/"2",
           "Vectors of output features per register tile, 1 to 8">,
    Option<"tokenVectors", "token-vectors", "bool", /*default=*/"false",
           "Linear layers read the activations transposed (tokens "
           "contiguous) and multiply by vector lane: for ISAs without a "
           "broadcast-from-memory FMA operand (NEON)">,
    Option<"sparseRows", "sparse-rows", "std::string", /*default=*/"\"auto\"",
           "When a convolution runs the row-sparse form (each channel walks "
           "its own nonzeros): auto (when it does sufficiently fewer MACs "
           "than the channel tiles), always, never">,
    Option<"nmGroups", "nm-groups", "std::string", /*default=*/"\"never\"",
           "When a linear layer whose rows keep at most two nonzeros in "
           "every aligned group of four columns runs the N:M group kernel "
           "(fast only where sparsec.permute_lanes is one instruction: x86 "
           "with AVX2): auto (when it is expected to beat the channel "
           "tiles), always, never">,
    Option<"rowPatterns", "row-patterns", "std::string",
           /*default=*/"\"never\"",
           "When a sparse linear layer or convolution runs the row-pattern "
           "kernel (tokens or pixels along the lanes; rows in panels of "
           "four, each column's code specialised to which of the four it "
           "feeds): auto (when its measured cost beats the other kernels'), "
           "always, never">,
    Option<"nmGroupSlotCost", "nm-group-slot-cost", "double",
           /*default=*/"::sparsec::kDefaultNMGroupSlotCost",
           "What one slot of the N:M group kernel (a lane permute and an "
           "FMA) costs in dense MACs when nm-groups=auto weighs it (1.5: "
           "measured on a Zen 4; the host target's "
           "--host-nm-group-slot-cost)">,
    Option<"rowPatternMacCost", "row-pattern-mac-cost", "double",
           /*default=*/"::sparsec::kDefaultRowPatternMacCost",
           "What one MAC of the row-pattern kernel (a weight broadcast and "
           "an FMA, its share of the loop per pattern and the transposes) "
           "costs in dense MACs when row-patterns=auto weighs a linear "
           "layer (1.6: measured on a Zen 4; the host target's "
           "--host-row-pattern-mac-cost)">
  ];
}

def SparsecCpuInterchangeLoops
    : Pass<"sparsec-cpu-interchange-loops", "::mlir::func::FuncOp"> {
  let summary = "Reduction loops outside the innermost parallel loop, so "
                "LLVM vectorises the ops the kernels do not cover";
  let description = [{
    For every linalg op whose innermost loop is a reduction (depthwise and
    grouped convolutions, pooling, matmuls no kernel took), makes the loop
    of the output's last (contiguous) dimension the innermost one, with the
    reduction loops just outside it: a depthwise convolution iterated as
    (n, oh, ow, c, kh, kw) becomes (n, oh, c, kh, kw, ow). The innermost loop
    then walks contiguous output (and input) elements with no loop-carried
    dependence, which LLVM's loop vectoriser turns into vector code; each
    output element still sums its terms in the same order, so results do not
    change. Named ops are generalised first. Ops are left alone when an input
    reads along that loop anywhere but in its own last dimension (a row
    reduction such as softmax's sum would become strided loads), or when the
    output's last dimension is not a plain parallel loop.

    Example: `sparsec-opt --sparsec-cpu-interchange-loops m.mlir`.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}


def SparsecCpuStridedCopiesToLoops
    : Pass<"sparsec-cpu-strided-copies-to-loops", "::mlir::func::FuncOp"> {
  let summary = "memref.copy between non-contiguous buffers as linalg.copy, "
                "so it becomes loops LLVM vectorises";
  let description = [{
    Bufferization copies a padded convolution input into the interior of a
    zeroed buffer and a sliced kernel output into the caller's buffer with
    memref.copy. Between contiguous buffers that lowers to a memcpy; between
    strided ones to a call of the MLIR runtime's generic `memrefCopy`, which
    walks the elements one by one through their descriptor and cost the
    host's convolutions half as much time as their kernel. This pass turns
    each memref.copy with a non-contiguous operand into a linalg.copy, which
    `convert-linalg-to-loops` lowers to loops whose innermost one walks
    contiguous rows: LLVM vectorises it. Contiguous copies are left alone.
    Example: `sparsec-opt --sparsec-cpu-strided-copies-to-loops m.mlir`.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def SparsecCpuDynamicExpandShapes
    : Pass<"sparsec-cpu-dynamic-expand-shapes", "::mlir::func::FuncOp"> {
  let summary = "memref.expand_shape that splits a dim into several dynamic "
                "ones as memref.reinterpret_cast of the contiguous buffer";
  let description = [{
    With dynamic dimensions (`--input-shape=x:?x...`) bufferization gives
    expand_shape ops that split one dynamic size into several, e.g. the
    [tokens, N] result of a linear layer viewed as [batch, sequence, N].
    MLIR 22's `expand-strided-metadata` crashes on those (it reads the
    group's strides as constants). The source of each such op whose layout
    is the identity is contiguous, so the expanded view is a
    reinterpret_cast with the row-major strides of the output sizes; this
    pass writes that instead and leaves every other expand_shape alone.
    Example: `sparsec-opt --sparsec-cpu-dynamic-expand-shapes m.mlir`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def SparsecCpuVectorizeElementwise
    : Pass<"sparsec-cpu-vectorize-elementwise", "::mlir::func::FuncOp"> {
  let summary = "Elementwise linalg ops and innermost reductions on buffers "
                "(residual adds, padding copies, layer norm and softmax "
                "sums) as explicit vector loops";
  let description = [{
    The ops the kernels do not take were left to LLVM's vectorisers after
    `convert-linalg-to-parallel-loops`, and often stayed scalar: a 56-float
    innermost loop is fully unrolled before the loop vectoriser runs, and the
    SLP vectoriser cannot prove that the buffers do not alias. ResNet-50's
    residual Add + ReLU and its padding copies ran one float at a time.

    This pass writes the vector loops for linalg ops on buffers (generics,
    `linalg.copy`, `linalg.map`, `linalg.fill`, `linalg.transpose` that
    keeps the innermost dimension) whose body is arith/math elementwise ops
    and whose inputs are each read either along the innermost loop (their
    last index is that loop, no other index involves it, unit stride) or
    constant along it (a per-row or per-channel value, a rank-0 buffer, a
    scalar); indices are loops or constants.
    - Parallel ops (outputs written in iteration order): when every buffer
      read or written in lanes is contiguous and in iteration order and
      nothing is read per row, the op runs over the flat buffer, an
      `scf.parallel` over chunks of `chunk-vectors` vectors, then the
      leftover vectors and one masked tail; otherwise an `scf.parallel`
      over the outer loops, vectors along the innermost one and a masked
      tail.
    - Reductions (layer normalisation's sums, softmax's max and sum, global
      pooling): parallel loops first, then reduction loops, one output
      indexed by the parallel loops, and a body `out = c(f(inputs), out)`
      with c a float add, multiply, maximum or minimum. Per output element
      (in parallel) a vector accumulator starts at c's neutral value, runs
      over the reduction loops with the innermost along the lanes (masked-
      off tail lanes keep their partial value), and its lanes are combined
      in order and then with the output. This reassociates the sum (as any
      vectorised reduction does) but in a fixed order: the same bits at any
      thread count.
    `sparsec-cpu-shape-parallel-loops` then decides which loops stay
    parallel, as for the others.
    Left to the loops: reductions along a loop other than the innermost
    (max pooling's window), gathers whose innermost index is strided or
    transposed, and integer division (a masked-off lane could divide by
    zero).

    Example:
    `sparsec-opt --sparsec-cpu-vectorize-elementwise="vector-width=16" m.mlir`.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"8",
           "Lanes of f32 per vector (4: NEON or SSE, 8: AVX2, 16: AVX-512)">,
    Option<"chunkVectors", "chunk-vectors", "int64_t", /*default=*/"64",
           "Vectors per parallel iteration when the op runs over a flat "
           "buffer">
  ];
}

def SparsecCpuShapeParallelLoops
    : Pass<"sparsec-cpu-shape-parallel-loops", "::mlir::func::FuncOp"> {
  let summary = "The loops linalg ops lowered to, shaped for OpenMP threads "
                "and LLVM's vectoriser";
  let description = [{
    Runs after `convert-linalg-to-parallel-loops`, which turns every linalg
    op the kernels did not take (elementwise ops, pooling, softmax, layer
    normalisation, copies) into `scf.parallel` over its parallel dimensions
    and `scf.for` over its reductions. Each top-level `scf.parallel` becomes
    one OpenMP work-sharing loop (`convert-scf-to-openmp`); this pass shapes
    them first:
    - an `scf.parallel` with no loop inside keeps its last dimension as an
      inner `scf.for`, so the contiguous innermost loop is still a plain loop
      that LLVM vectorises inside each thread's share;
    - an `scf.parallel` nested in another loop, or one with fewer than
      `min-iterations` iterations in all (its own and its inner loops'),
      becomes sequential `scf.for` loops: a parallel region per outer
      iteration, or for a few thousand elements, costs more than it saves.
    Every output element is still computed by one thread in the same order,
    so results are the same bits at any thread count.
    Example: `sparsec-opt --sparsec-cpu-shape-parallel-loops m.mlir`.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
  let options = [
    Option<"minIterations", "min-iterations", "int64_t", /*default=*/"16384",
           "Fewest iterations (all loops of the nest together, static trip "
           "counts) for which a loop nest stays parallel">
  ];
}

def SparsecCpuApproximateMath
    : Pass<"sparsec-cpu-approximate-math", "::mlir::ModuleOp"> {
  let summary = "f32 erf, exp and tanh as polynomial approximations that "
                "vectorise, instead of scalar libm calls";
  let description = [{
    Rewrites `math.erf`, `math.exp` and `math.tanh` on f32 (scalars or
    vectors) with MLIR's polynomial approximations
    (`populateMathPolynomialApproximationPatterns`): plain arithmetic, so
    the loops of GELU, softmax and tanh can vectorise, where
    `convert-math-to-libm` leaves one scalar `erff`/`expf` call per element.
    `ops` picks which functions are rewritten.

    Example: `sparsec-opt --sparsec-cpu-approximate-math="ops=erf"`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect", "::mlir::vector::VectorDialect"
  ];
  let options = [
    ListOption<"ops", "ops", "std::string",
               "The math ops to approximate (default: erf, exp, tanh)">
  ];
}

def SparsecCpuLowerPermuteLanes
    : Pass<"sparsec-cpu-lower-permute-lanes", "::mlir::ModuleOp"> {
  let summary = "sparsec.permute_lanes as one x86 permute, or as per-lane "
                "extracts and inserts";
  let description = [{
    `sparsec.permute_lanes` (each lane takes the source lane its index
    names, as the N:M group kernel uses it) is exactly x86's `vpermps`. With
    `isa=avx2` a permute of 8 lanes becomes `llvm.x86.avx2.permps` and one
    of 4 lanes `llvm.x86.avx.vpermilvar.ps`; `isa=avx512` adds 16 lanes
    (`llvm.x86.avx512.permvar.sf.512`). Any other width, or `isa=none`,
    becomes one dynamic `vector.extract` and one `vector.insert` per lane
    (correct on any target, not fast). Runs after bufferization: the
    intrinsic call declares no memory effects.

    Example: `sparsec-opt --sparsec-cpu-lower-permute-lanes="isa=avx2"`.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::vector::VectorDialect"
  ];
  let options = [
    Option<"isa", "isa", "std::string", /*default=*/"\"none\"",
           "The x86 permutes the target has: none, avx2, avx512">
  ];
}

def SparsecCpuPlanMemory
    : Pass<"sparsec-cpu-plan-memory", "::mlir::ModuleOp"> {
  let summary = "A function's intermediate buffers as views of one arena, "
                "sharing memory when their lifetimes do not overlap";
  let description = [{
    Runs after bufferization and the deallocation pipeline, which frees
    every buffer at the end of its block: all of a model's intermediates
    were live at once, one `malloc` each per call. Each `memref.alloc` of
    the function's entry block with a static identity-layout type, freed by
    one `memref.dealloc` in that block and used only by ops that cannot let
    it escape (views of it are followed; a call, a terminator or another op
    returning a memref keeps the buffer as it is), gets a lifetime: the
    first to the last top-level op that touches it or a view of it. The
    buffers are placed largest first, each at the lowest 64-byte-aligned
    offset not covered by a placed buffer whose lifetime overlaps its own,
    and become `memref.view`s of one arena (`memref.alloc` at the function's
    start, `memref.dealloc` before its return). The function records
    `sparsec.cpu.arena_bytes` (the arena) and `sparsec.cpu.unplanned_bytes`
    (what the same buffers took separately, each 64-byte aligned). The
    placement depends only on the IR: the same offsets on every run.

    With `workspace`, a public function `f` with an arena takes it from its
    caller instead: `f` becomes `f_workspace` with the arena
    (`memref<Nxi8>`, 64-byte aligned) as its last argument, a new `f` with
    the old signature allocates the arena and calls it, and the public
    constant `f_workspace_bytes` (i64) holds N. A caller that keeps one
    arena per concurrent call allocates nothing per call. An existing
    symbol `f_workspace` or `f_workspace_bytes` is an error.

    Example: `sparsec-opt --sparsec-cpu-plan-memory="workspace=true" m.mlir`.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect"];
  let options = [
    Option<"workspace", "workspace", "bool", /*default=*/"false",
           "Public functions take their arena as a last argument "
           "(f_workspace), with a wrapper under the old name">
  ];
}

def SparsecCpuByteGlobals
    : Pass<"sparsec-cpu-byte-globals", "::mlir::ModuleOp"> {
  let summary = "Large constant memref.globals hold their data as raw bytes, "
                "read through memref.view";
  let description = [{
    LLVM's object emission writes a constant array of floats one element at
    a time (through an APFloat each), but an array of bytes as one block:
    for ResNet-50's 100 MB of weights that was about 3 s of the 15 s
    compile. This pass re-types each constant `memref.global` of at least
    `min-bytes` bytes, with a static identity-layout type of a whole-byte
    element type and non-splat data, as a 1-D `i8` global of the same bytes
    (its alignment at least 64), and turns each `memref.get_global` of it
    into a `memref.get_global` of the bytes plus a `memref.view` with the
    original type. The bytes are the attribute's in-memory (little-endian)
    data, so the targets must be little-endian; a resource blob is re-typed
    without a copy. Splats and smaller globals are left alone.

    Example: `sparsec-opt --sparsec-cpu-byte-globals="min-bytes=4096"`.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
  let options = [
    Option<"minBytes", "min-bytes", "int64_t", /*default=*/"4096",
           "Only globals of at least this many bytes are re-typed">
  ];
}

#endif

def SparsecCpuScheduleKernelLoops
    : Pass<"sparsec-cpu-schedule-kernel-loops", "::mlir::ModuleOp"> {
  let summary = "The kernels' OpenMP loops hand out their tiles on demand "
                "(a dynamic schedule) instead of in equal static shares";
  let description = [{
    Runs after `convert-scf-to-openmp`, which drops the attributes of the
    `scf.parallel` loops it converts but keeps their locations. The
    kernels' tile loops carry the location name `sparsec.cpu.kernel_loop`;
    each `omp.wsloop` with that location gets the schedule `schedule`
    (`static`, `dynamic`, `guided` or `runtime`, which reads
    `OMP_SCHEDULE`) and, for `dynamic` and `guided`, the chunk `chunk`
    (the fewest tiles per grab). With a static schedule a thread that the
    machine slows (another process, a busy neighbour on a shared host)
    holds up every other thread at the loop's barrier; with a dynamic one
    the others take its remaining tiles. `guided` (the default) hands out
    large chunks first, a share of what is left, so that each thread still
    walks neighbouring tiles, and single tiles at the end. Each tile is still computed by one thread
    with the same instructions, so results are the same bits at any thread
    count and schedule. Other loops (elementwise ops, copies) keep the
    static schedule: their iterations are too small to hand out one by one.
    Example: `sparsec-opt --sparsec-cpu-schedule-kernel-loops="schedule=dynamic chunk=2"`.
  }];
  let dependentDialects = ["::mlir::omp::OpenMPDialect",
                           "::mlir::arith::ArithDialect"];
  let options = [
    Option<"schedule", "schedule", "std::string", /*default=*/"\"guided\"",
           "static, dynamic, guided or runtime">,
    Option<"chunk", "chunk", "int64_t", /*default=*/"1",
           "Tiles a thread takes at a time (dynamic and guided; at least 1)">
  ];
}
