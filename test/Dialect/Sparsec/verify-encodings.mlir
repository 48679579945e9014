// RUN: sparsec-opt %s --sparsec-verify-encodings=report 2>&1 | FileCheck %s

// CHECK: sparsec: sparsec.linear at loc("fc1"): gemm 2x8, encoding #sparsec.nm<n = 2, m = 4>, density 0.3750
// CHECK: sparsec: sparsec.linear at loc("fc2"): gemm 2x8, encoding none, density unknown
func.func @layers(%x: tensor<1x8xf32>, %w2: tensor<2x8xf32>) -> (tensor<1x2xf32>, tensor<1x2xf32>) {
  %w = arith.constant dense<[[1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 3.0, 4.0],
                             [0.0, 5.0, 0.0, 0.0, 6.0, 0.0, 0.0, 0.0]]> : tensor<2x8xf32>
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 2, m = 4>}
      : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32> loc("fc1")
  %z = sparsec.linear %x, %w2 : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32> loc("fc2")
  return %y, %z : tensor<1x2xf32>, tensor<1x2xf32>
}
