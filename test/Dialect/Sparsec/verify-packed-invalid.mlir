// RUN: sparsec-opt %s --sparsec-verify-encodings -verify-diagnostics

// The packed values claim 5.0 where the dense weight holds 1.0.
func.func @mismatch(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>
  // expected-error @+1 {{packed weight does not reproduce the dense weight at (0, 0): 5.000000e+00 vs 1.000000e+00}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 1, m = 4>,
      packed_weight = #sparsec.packed<values = dense<[[5.0, 0.0]]> : tensor<1x2xf32>,
                                      positions = dense<[[0, 0]]> : tensor<1x2xui8>>}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// 2:4 metadata words that do not match the positions (a hand-edited file).
func.func @meta_mismatch(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>
  // expected-error @+1 {{packed weight: packed 2:4 metadata word 0 does not match the positions}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 2, m = 4>,
      packed_weight = #sparsec.packed<values = dense<[[1.0, 0.0, 0.0, 0.0]]> : tensor<1x4xf32>,
                                      positions = dense<[[0, 1, 0, 1]]> : tensor<1x4xui8>,
                                      meta = dense<0> : tensor<32xui32>>}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}
