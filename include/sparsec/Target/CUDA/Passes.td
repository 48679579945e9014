//===- Passes.td - cuda target passes ----------------------*- tablegen -*-===//
#ifndef SPARSEC_TARGET_CUDA_PASSES_TD
#define SPARSEC_TARGET_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def SparsecCudaPlanKernels
    : Pass<"sparsec-cuda-plan-kernels", "::mlir::ModuleOp"> {
  let summary = "Decide how the cuda target runs each step of func @main";
  let description = [{
    The cuda target's pipeline (`sparsec-cuda-pipeline`; `sparsec
    --target=cuda --emit=lowered` prints its result). It decides how each op
    of func @main runs and records the decisions as discardable attributes,
    which the artifact writer follows without deciding anything itself
    (docs/CUDABackend.md, "The kernel plan"):

    - func @main: `sparsec.cuda.plan = {arch, wgmma}`, the architecture of
      every PTX module and the mode given to the kernel generator;
    - every other op but constants, `tensor.empty` and the return:
      `sparsec.cuda.step = {kind = ..., ...}`, where `kind` is
      - `sparse_kernel` for a `sparsec.linear` with a packed 2:4 or HiNM
        weight, run by its own PTX kernel: `layer`, `kernel` (entry name),
        `format` (nm24, hinm), `instruction` (mma.sp, wgmma), `tile_m`,
        `tile_n`, `dtype` (f16, bf16), `bias`, `epilogue` (none, relu,
        gelu);
      - `host_dense_linear` for any other `sparsec.linear`, run on the host:
        `layer`, `bias`, `epilogue`;
      - `fused` for the bias Add and ReLU/GELU after a layer, done by that
        layer's step: `layer`, `role` (bias_add, relu, gelu);
      - `host_relu`, `host_add` for the remaining ReLU and Add generics.

    An op the target cannot run (convolutions, other generics, ...), a layer
    whose kernel cannot be generated with these options, and option values
    out of range are errors with the op's location. Running the pass again
    replaces the plan.

    Example: `sparsec-opt --sparsec-cuda-plan-kernels="arch=sm_90a" pruned.mlir`.
  }];
  let options = [
    Option<"arch", "arch", "std::string", /*default=*/"\"sm_80\"",
           "sm_80 (mma.sp) or sm_90a (wgmma.mma_async.sp or mma.sp per "
           "layer, see wgmma)">,
    Option<"dtype", "dtype", "std::string", /*default=*/"\"\"",
           "f16 or bf16 weights and activations (empty: the packed value "
           "type, f16 unless it is bf16)">,
    Option<"tileN", "tile-n", "int64_t", /*default=*/"0",
           "Tokens per CTA (mma.sp: 32/64/128, wgmma: 64/128/256; 0: "
           "default)">,
    Option<"tileM", "tile-m", "int64_t", /*default=*/"0",
           "Rows per CTA: 64, 128, or 256 with wgmma (HiNM needs "
           "V % tile-m == 0); 0: auto">,
    Option<"wgmma", "wgmma", "std::string", /*default=*/"\"auto\"",
           "sm_90a: auto (per layer, the faster instruction measured on the "
           "H200), async, sync (wgmma everywhere) or off (mma.sp everywhere)">
  ];
}

#endif
