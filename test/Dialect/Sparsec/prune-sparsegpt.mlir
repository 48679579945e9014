// RUN: sparsec-opt %s --sparsec-prune-hinm="v=16 vector-sparsity=0.5 saliency=sparsegpt value-type=f32" | FileCheck %s

// SparseGPT chose tile 0's kept columns 4..7 although column 5 is pruned in
// every row (its rows keep 4 and 6): the pass packs those columns, not the
// first ones by magnitude (columns 0..3 are all zero and would tie).
// CHECK-LABEL: func @sparsegpt
// CHECK: sparsec.linear
// CHECK-SAME: col_idx = dense<{{\[\[}}4, 5, 6, 7, 7,
// CHECK-SAME: weight_encoding = #sparsec.hinm<v = 16, kept = 4, n = 2, m = 4>
func.func @sparsegpt(%x: tensor<3x8xf32>) -> tensor<3x16xf32> {
  %w = arith.constant dense<[[0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0, 0.0]]> : tensor<16x8xf32>
  %y = sparsec.linear %x, %w {sparsec.sparsegpt = {columns = array<i64: 4, 5, 6, 7>, dead_inputs = 0 : i64, error = 0.0 : f64, relative_error = 0.0 : f64}} : (tensor<3x8xf32>, tensor<16x8xf32>) -> tensor<3x16xf32>
  return %y : tensor<3x16xf32>
}
