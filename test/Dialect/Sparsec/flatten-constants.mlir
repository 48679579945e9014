// RUN: sparsec-opt %s --pass-pipeline="builtin.module(func.func(sparsec-flatten-constants{min-elements=4}))" | FileCheck %s

// CHECK-LABEL: func @weights
// CHECK: %[[FLAT:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00]> : tensor<6xf32>
// CHECK: %[[W:.*]] = tensor.expand_shape %[[FLAT]] {{\[\[}}0, 1]] output_shape [2, 3] : tensor<6xf32> into tensor<2x3xf32>
// Below the threshold: unchanged.
// CHECK: arith.constant dense<{{\[\[}}7.000000e+00], [8.000000e+00]]> : tensor<2x1xf32>
// CHECK: return %[[W]]
func.func @weights() -> (tensor<2x3xf32>, tensor<2x1xf32>) {
  %w = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>
  %s = arith.constant dense<[[7.0], [8.0]]> : tensor<2x1xf32>
  return %w, %s : tensor<2x3xf32>, tensor<2x1xf32>
}
