// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=4 tile-tokens=4 tile-vectors=1" | FileCheck %s

// 7 tokens at MR = 4: one full tile, then the 3 tokens left over as one
// tile of 3 accumulators (one pass over the panel's weights), not three
// one-token tiles.
// CHECK-LABEL: func.func @linear
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4
// CHECK: scf.for {{.*}} iter_args({{[^)]*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK-COUNT-4: vector.fma
// CHECK: scf.for {{.*}} iter_args({{[^)]*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>) {
// CHECK-COUNT-3: vector.fma
// CHECK-NOT: scf.for
// CHECK: return
func.func @linear(%x: tensor<7x3xf32>) -> tensor<7x4xf32> {
  %w = arith.constant dense<1.0> : tensor<4x3xf32>
  %y = sparsec.linear %x, %w : (tensor<7x3xf32>, tensor<4x3xf32>) -> tensor<7x4xf32>
  return %y : tensor<7x4xf32>
}

// -----

// The batched kernel (a MatMul of two computed values) alike: rows 4-6 as
// one tile of 3.
#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @matmul
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4
// CHECK: scf.for {{.*}} iter_args({{[^)]*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK-COUNT-4: vector.fma
// CHECK: scf.for {{.*}} iter_args({{[^)]*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>) {
// CHECK-COUNT-3: vector.fma
// CHECK-NOT: scf.for
// CHECK: return
func.func @matmul(%a: tensor<7x3xf32>, %b: tensor<3x4xf32>,
                  %c: tensor<7x4xf32>) -> tensor<7x4xf32> {
  %r = linalg.generic {indexing_maps = [#a, #b, #c],
                       iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<7x3xf32>, tensor<3x4xf32>)
      outs(%c : tensor<7x4xf32>) {
  ^bb0(%x: f32, %y: f32, %z: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %z, %m : f32
    linalg.yield %s : f32
  } -> tensor<7x4xf32>
  return %r : tensor<7x4xf32>
}
