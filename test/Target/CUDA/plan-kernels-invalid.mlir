// What the cuda target cannot run is refused by its planner, with the op's
// location, before anything is written.
// RUN: sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels -verify-diagnostics
// Bad option values, and options no kernel of a layer can honour.
// RUN: not sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels="arch=sm_70" 2>&1 | FileCheck %s --check-prefix=ARCH
// RUN: not sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels="dtype=f32" 2>&1 | FileCheck %s --check-prefix=DTYPE
// RUN: not sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels="arch=sm_90a wgmma=maybe" 2>&1 | FileCheck %s --check-prefix=WGMMA
// RUN: not sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels="tile-n=-64" 2>&1 | FileCheck %s --check-prefix=TILEN
// RUN: not sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels="tile-m=8192" 2>&1 | FileCheck %s --check-prefix=TILEM
// RUN: not sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels="tile-n=48" 2>&1 | FileCheck %s --check-prefix=TILE48
// RUN: not sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels="arch=sm_90a wgmma=off tile-m=256" 2>&1 | FileCheck %s --check-prefix=OFF256
// ARCH: error: sparsec-cuda-plan-kernels: arch must be sm_80 or sm_90a, not 'sm_70'
// DTYPE: error: sparsec-cuda-plan-kernels: dtype must be f16 or bf16, not 'f32'
// WGMMA: error: sparsec-cuda-plan-kernels: wgmma must be auto, async, sync or off, not 'maybe'
// TILEN: error: sparsec-cuda-plan-kernels: tile-n must be 0 (default) or a tile size, not -64
// TILEM: error: sparsec-cuda-plan-kernels: tile-m must be 0 (auto) or a tile size, not 8192
// TILE48: plan-kernels-invalid.mlir:[[@LINE+7]]:8: error: (sparsec.linear): cannot generate a CUDA kernel: tile_n 48 is not supported by mma.sp on sm_80 (32, 64 or 128)
// OFF256: plan-kernels-invalid.mlir:[[@LINE+6]]:8: error: (sparsec.linear): cannot generate a CUDA kernel: tile_m 256 needs wgmma (one warpgroup per 64 rows), not --cuda-wgmma=off

// A 2:4 layer: planned with the default options, refused with the tiles
// above.
func.func @main(%x: tensor<8x64xf32>) -> tensor<8x128xf32> {
  %w = arith.constant dense<0.0> : tensor<128x64xf32>
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 2, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<128x32xf32>,
                                      positions = dense<0> : tensor<128x32xui8>>}
      : (tensor<8x64xf32>, tensor<128x64xf32>) -> tensor<8x128xf32>
  return %y : tensor<8x128xf32>
}

// -----

func.func @main(%x: tensor<1x8x16x16xf32>) -> tensor<1x16x16x16xf32> {
  %w = arith.constant dense<0.0> : tensor<16x8x3x3xf32>
  // expected-error @+1 {{(sparsec.conv2d): the cuda target cannot run this op yet (supported: sparsec.linear, bias Add, ReLU, GELU, Add)}}
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>,
      pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x8x16x16xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x16x16xf32>
  return %y : tensor<1x16x16x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
func.func @main(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %e = tensor.empty() : tensor<8x64xf32>
  // expected-error @+1 {{(linalg.generic): the cuda target cannot run this linalg.generic yet (supported between layers: ReLU, GELU and Add)}}
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<8x64xf32>) outs(%e : tensor<8x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %r = math.exp %in : f32
    linalg.yield %r : f32
  } -> tensor<8x64xf32>
  return %y : tensor<8x64xf32>
}

// -----

func.func @main(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>
  // expected-error @+1 {{(sparsec.linear): the cuda target runs 2:4 and HiNM layers; 1:4 has no sparse tensor-core instruction}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 1, m = 4>,
      packed_weight = #sparsec.packed<values = dense<[[1.0, 0.0]]> : tensor<1x2xf32>,
                                      positions = dense<[[0, 0]]> : tensor<1x2xui8>>}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

func.func @main(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %w = arith.constant dense<0.0> : tensor<64x64xf32>
  // expected-error @+1 {{(sparsec.linear): the cuda target runs HiNM with 2:4 inside, not 1:4}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.hinm<v = 64, kept = 32, n = 1, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<64x8xf32>,
                                      positions = dense<0> : tensor<64x8xui8>,
                                      col_idx = dense<0> : tensor<1x32xui32>>}
      : (tensor<8x64xf32>, tensor<64x64xf32>) -> tensor<8x64xf32>
  return %y : tensor<8x64xf32>
}

// -----

func.func @main(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %w = arith.constant dense<0.0> : tensor<64x64xf32>
  // expected-error @+1 {{(sparsec.linear): cannot generate a CUDA kernel: HiNM kernels need V to be a multiple of 64 (got 32)}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.hinm<v = 32, kept = 32, n = 2, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<64x16xf32>,
                                      positions = dense<0> : tensor<64x16xui8>,
                                      col_idx = dense<0> : tensor<2x32xui32>>}
      : (tensor<8x64xf32>, tensor<64x64xf32>) -> tensor<8x64xf32>
  return %y : tensor<8x64xf32>
}

// -----

// The runtime takes dense weights and biases as constants only.
func.func @main(%x: tensor<8x64xf32>, %w: tensor<16x64xf32>) -> tensor<8x16xf32> {
  // expected-error @+1 {{(sparsec.linear): the cuda target needs the weight to be an f32 constant}}
  %y = sparsec.linear %x, %w : (tensor<8x64xf32>, tensor<16x64xf32>) -> tensor<8x16xf32>
  return %y : tensor<8x16xf32>
}

// -----

func.func @main(%x: tensor<8x64xf32>, %b: tensor<128xf32>) -> tensor<8x128xf32> {
  %w = arith.constant dense<0.0> : tensor<128x64xf32>
  // expected-error @+1 {{(sparsec.linear): the cuda target needs the bias to be an f32 constant}}
  %y = sparsec.linear %x, %w, %b {weight_encoding = #sparsec.nm<n = 2, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<128x32xf32>,
                                      positions = dense<0> : tensor<128x32xui8>>}
      : (tensor<8x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<8x128xf32>
  return %y : tensor<8x128xf32>
}

// -----

func.func @main(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %c = arith.constant dense<1.0> : tensor<8x64xf32>
  // expected-error @+1 {{(func.return): the cuda target cannot return a constant}}
  return %c : tensor<8x64xf32>
}

// -----

// expected-error @+1 {{the module has no func.func @main}}
module {
  func.func @forward(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {
    return %x : tensor<8x64xf32>
  }
}
