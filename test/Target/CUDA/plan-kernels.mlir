// sparsec-cuda-plan-kernels states on the IR how the cuda target runs each op
// of func @main (docs/CUDABackend.md, "The kernel plan"); the artifact writer
// only reads it. Packed weights are written out by hand: the planner reads
// the encoding, the packed value type and the HiNM column lists, not values.
// RUN: sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels | FileCheck %s --check-prefixes=CHECK,SM80
// RUN: sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels="arch=sm_90a" | FileCheck %s --check-prefixes=CHECK,SM90
// RUN: sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels="arch=sm_90a wgmma=off tile-n=64" | FileCheck %s --check-prefixes=CHECK,OFF
// RUN: sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels="arch=sm_90a wgmma=async dtype=bf16" | FileCheck %s --check-prefixes=CHECK,ASYNC
// Planning again replaces the plan.
// RUN: sparsec-opt %s --split-input-file --sparsec-cuda-plan-kernels="arch=sm_90a wgmma=async" --sparsec-cuda-plan-kernels | FileCheck %s --check-prefixes=CHECK,SM80

// A 2:4 layer with its bias and a ReLU (fused into its kernel), a 2:4 layer
// with bf16 values, a residual Add and a ReLU on the host, and a dense head
// whose bias Add is folded into its host step.
// CHECK-LABEL: func.func @main
// SM80-SAME: sparsec.cuda.plan = {arch = "sm_80", wgmma = "auto"}
// SM90-SAME: sparsec.cuda.plan = {arch = "sm_90a", wgmma = "auto"}
// OFF-SAME: sparsec.cuda.plan = {arch = "sm_90a", wgmma = "off"}
// ASYNC-SAME: sparsec.cuda.plan = {arch = "sm_90a", wgmma = "async"}
// CHECK: %[[H:.*]] = sparsec.linear
// SM80-SAME: sparsec.cuda.step = {bias = true, dtype = "f16", epilogue = "relu", format = "nm24", instruction = "mma.sp", kernel = "sparsec_linear_0", kind = "sparse_kernel", layer = 0 : i64, tile_m = 64 : i64, tile_n = 128 : i64}
// SM90-SAME: sparsec.cuda.step = {bias = true, dtype = "f16", epilogue = "relu", format = "nm24", instruction = "mma.sp", kernel = "sparsec_linear_0", kind = "sparse_kernel", layer = 0 : i64, tile_m = 64 : i64, tile_n = 128 : i64}
// OFF-SAME: instruction = "mma.sp", kernel = "sparsec_linear_0", kind = "sparse_kernel", layer = 0 : i64, tile_m = 64 : i64, tile_n = 64 : i64}
// ASYNC-SAME: sparsec.cuda.step = {bias = true, dtype = "bf16", epilogue = "relu", format = "nm24", instruction = "wgmma", kernel = "sparsec_linear_0", kind = "sparse_kernel", layer = 0 : i64, tile_m = 128 : i64, tile_n = 128 : i64}
// CHECK: %[[R:.*]] = linalg.generic {{.*}} ins(%[[H]] : {{.*}} attrs = {sparsec.cuda.step = {kind = "fused", layer = 0 : i64, role = "relu"}}
// CHECK: %[[Y:.*]] = sparsec.linear %[[R]]
// SM80-SAME: sparsec.cuda.step = {bias = false, dtype = "bf16", epilogue = "none", format = "nm24", instruction = "mma.sp", kernel = "sparsec_linear_1", kind = "sparse_kernel", layer = 1 : i64, tile_m = 64 : i64, tile_n = 128 : i64}
// ASYNC-SAME: dtype = "bf16", {{.*}}instruction = "wgmma", kernel = "sparsec_linear_1", {{.*}}tile_m = 64 : i64, tile_n = 128 : i64}
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%[[Y]], %{{.*}} attrs = {sparsec.cuda.step = {kind = "host_add"}}
// CHECK: %[[T:.*]] = linalg.generic {{.*}} ins(%[[S]] : {{.*}} attrs = {sparsec.cuda.step = {kind = "host_relu"}}
// CHECK: %[[Z:.*]] = sparsec.linear %[[T]], %{{[^ ]*}} {sparsec.cuda.step = {bias = true, epilogue = "none", kind = "host_dense_linear", layer = 2 : i64}}
// CHECK: linalg.generic {{.*}} ins(%[[Z]], {{.*}} attrs = {sparsec.cuda.step = {kind = "fused", layer = 2 : i64, role = "bias_add"}}
// CHECK: return
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>
func.func @main(%x: tensor<8x64xf32>) -> tensor<8x16xf32> {
  %w1 = arith.constant dense<0.0> : tensor<128x64xf32>
  %b1 = arith.constant dense<0.5> : tensor<128xf32>
  %h = sparsec.linear %x, %w1, %b1 {weight_encoding = #sparsec.nm<n = 2, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<128x32xf32>,
                                      positions = dense<0> : tensor<128x32xui8>>}
      : (tensor<8x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<8x128xf32> loc("fc1")
  %e1 = tensor.empty() : tensor<8x128xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%h : tensor<8x128xf32>) outs(%e1 : tensor<8x128xf32>) {
  ^bb0(%in: f32, %out: f32):
    %zero = arith.constant 0.0 : f32
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<8x128xf32> loc("act1")
  %w2 = arith.constant dense<0.0> : tensor<64x128xf32>
  %y = sparsec.linear %r, %w2 {weight_encoding = #sparsec.nm<n = 2, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<64x64xbf16>,
                                      positions = dense<0> : tensor<64x64xui8>>}
      : (tensor<8x128xf32>, tensor<64x128xf32>) -> tensor<8x64xf32> loc("fc2")
  %e2 = tensor.empty() : tensor<8x64xf32>
  %s = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y, %x : tensor<8x64xf32>, tensor<8x64xf32>) outs(%e2 : tensor<8x64xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %sum = arith.addf %a, %b : f32
    linalg.yield %sum : f32
  } -> tensor<8x64xf32> loc("residual")
  %t = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%s : tensor<8x64xf32>) outs(%e2 : tensor<8x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %zero = arith.constant 0.0 : f32
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<8x64xf32> loc("act2")
  %w3 = arith.constant dense<1.0> : tensor<16x64xf32>
  %z = sparsec.linear %t, %w3 : (tensor<8x64xf32>, tensor<16x64xf32>) -> tensor<8x16xf32> loc("head")
  %b3 = arith.constant dense<0.25> : tensor<16xf32>
  %e3 = tensor.empty() : tensor<8x16xf32>
  %o = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%z, %b3 : tensor<8x16xf32>, tensor<16xf32>) outs(%e3 : tensor<8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %out: f32):
    %sum = arith.addf %a, %b : f32
    linalg.yield %sum : f32
  } -> tensor<8x16xf32> loc("head_bias")
  return %o : tensor<8x16xf32>
}

// -----

// A HiNM layer (V = 128, K_c = 32): mma.sp on sm_80 and, measured faster, on
// sm_90a too unless wgmma is forced; wgmma then takes 128-row tiles.
// CHECK-LABEL: func.func @main
// CHECK: sparsec.linear
// SM80-SAME: sparsec.cuda.step = {bias = false, dtype = "f16", epilogue = "none", format = "hinm", instruction = "mma.sp", kernel = "sparsec_linear_0", kind = "sparse_kernel", layer = 0 : i64, tile_m = 64 : i64, tile_n = 128 : i64}
// SM90-SAME: format = "hinm", instruction = "mma.sp", {{.*}}tile_m = 64 : i64, tile_n = 128 : i64}
// OFF-SAME: format = "hinm", instruction = "mma.sp", {{.*}}tile_m = 64 : i64, tile_n = 64 : i64}
// ASYNC-SAME: format = "hinm", instruction = "wgmma", {{.*}}tile_m = 128 : i64, tile_n = 128 : i64}
func.func @main(%x: tensor<8x64xf32>) -> tensor<8x128xf32> {
  %w = arith.constant dense<0.0> : tensor<128x64xf32>
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.hinm<v = 128, kept = 32, n = 2, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<128x16xf32>,
                                      positions = dense<0> : tensor<128x16xui8>,
                                      col_idx = dense<0> : tensor<1x32xui32>>}
      : (tensor<8x64xf32>, tensor<128x64xf32>) -> tensor<8x128xf32> loc("fc")
  return %y : tensor<8x128xf32>
}

// -----

// A 2:4 layer of 2048 rows: on sm_90a, auto picks wgmma with 256-row tiles
// (faster there on the H200); wgmma=off keeps mma.sp.
// CHECK-LABEL: func.func @main
// CHECK: sparsec.linear
// SM80-SAME: instruction = "mma.sp", {{.*}}tile_m = 64 : i64, tile_n = 128 : i64}
// SM90-SAME: instruction = "wgmma", {{.*}}tile_m = 256 : i64, tile_n = 128 : i64}
// OFF-SAME: instruction = "mma.sp", {{.*}}tile_m = 64 : i64, tile_n = 64 : i64}
// ASYNC-SAME: instruction = "wgmma", {{.*}}tile_m = 256 : i64, tile_n = 128 : i64}
func.func @main(%x: tensor<3x64xf32>) -> tensor<3x2048xf32> {
  %w = arith.constant dense<0.0> : tensor<2048x64xf32>
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 2, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<2048x32xf32>,
                                      positions = dense<0> : tensor<2048x32xui8>>}
      : (tensor<3x64xf32>, tensor<2048x64xf32>) -> tensor<3x2048xf32> loc("wide")
  return %y : tensor<3x2048xf32>
}

// -----

// Only @main is planned.
// CHECK-LABEL: func.func @small
// CHECK-NOT: sparsec.cuda
// CHECK-LABEL: func.func @main
// CHECK: sparsec.cuda.step = {bias = false
func.func @small(%x: tensor<4x64xf32>) -> tensor<4x256xf32> {
  %y = func.call @main(%x) : (tensor<4x64xf32>) -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @main(%x: tensor<4x64xf32>) -> tensor<4x256xf32> {
  %w = arith.constant dense<0.0> : tensor<256x64xf32>
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 2, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<256x32xf32>,
                                      positions = dense<0> : tensor<256x32xui8>>}
      : (tensor<4x64xf32>, tensor<256x64xf32>) -> tensor<4x256xf32> loc("fc")
  return %y : tensor<4x256xf32>
}
