// RUN: sparsec-opt %s --split-input-file --sparsec-verify-encodings -verify-diagnostics

// Two terms claim (0, 0).
func.func @overlap(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>
  // expected-error @+1 {{weight_parts: terms 0 and 1 overlap at (0, 0); the supports of a sum's terms must be disjoint}}
  %y = sparsec.linear %x, %w {
      weight_encoding = #sparsec.sum<[#sparsec.nm<n = 2, m = 4>, #sparsec.nm<n = 1, m = 8>]>,
      weight_parts = [dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>,
                      dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>]}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

// The first term breaks its own 2:4 pattern.
func.func @term_pattern(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>
  // expected-error @+1 {{weight_parts[0]: weight violates 2:4 sparsity: row 0, group 0 (columns 0..3) has 3 non-zeros}}
  %y = sparsec.linear %x, %w {
      weight_encoding = #sparsec.sum<[#sparsec.nm<n = 2, m = 4>, #sparsec.nm<n = 1, m = 8>]>,
      weight_parts = [dense<[[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>,
                      dense<0.0> : tensor<1x8xf32>]}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

func.func @sum_mismatch(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>
  // expected-error @+1 {{the terms do not add up to the weight at (0, 1): 3.000000e+00 vs 2.000000e+00}}
  %y = sparsec.linear %x, %w {
      weight_encoding = #sparsec.sum<[#sparsec.nm<n = 2, m = 4>, #sparsec.nm<n = 1, m = 8>]>,
      weight_parts = [dense<[[1.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>,
                      dense<0.0> : tensor<1x8xf32>]}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

func.func @product_mismatch(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]> : tensor<2x4xf32>
  // expected-error @+1 {{the product of the factors does not reproduce the weight at (1, 0): 1.000000e+00 vs 0.000000e+00}}
  %y = sparsec.linear %x, %w {
      weight_encoding = #sparsec.product<[#sparsec.dense, #sparsec.dense], inner = [1]>,
      weight_parts = [dense<[[1.0], [1.0]]> : tensor<2x1xf32>,
                      dense<[[1.0, 0.0, 0.0, 0.0]]> : tensor<1x4xf32>]}
      : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}

// -----

// A packed term whose arrays do not fit its 2:4 encoding.
func.func @bad_packed_term(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<0.0> : tensor<1x8xf32>
  // expected-error @+1 {{weight_parts[0]: packed values must be 1x4 f32/f16/bf16, got 1x2}}
  %y = sparsec.linear %x, %w {
      weight_encoding = #sparsec.sum<[#sparsec.nm<n = 2, m = 4>]>,
      weight_parts = [#sparsec.packed<values = dense<0.0> : tensor<1x2xf32>,
                                      positions = dense<0> : tensor<1x2xui8>>]}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}
