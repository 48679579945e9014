// RUN: sparsec-opt %s --split-input-file -verify-diagnostics

// expected-error @+1 {{the parts of a sum encoding must be plain encodings, not sums or products}}
func.func @nested() attributes {e = #sparsec.sum<[#sparsec.sum<[#sparsec.dense]>]>} { return }

// -----

// expected-error @+1 {{the terms of a sum must share one korder}}
func.func @korders() attributes {e = #sparsec.sum<[#sparsec.nm<n = 2, m = 4>, #sparsec.nm<n = 1, m = 4, korder = chw>]>} { return }

// -----

// expected-error @+1 {{a product of 2 factors needs 1 inner dimensions, got 2}}
func.func @inner() attributes {e = #sparsec.product<[#sparsec.dense, #sparsec.dense], inner = [2, 3]>} { return }

// -----

// expected-error @+1 {{inner dimensions of a product must be positive, got 0}}
func.func @inner_zero() attributes {e = #sparsec.product<[#sparsec.dense, #sparsec.dense], inner = [0]>} { return }

// -----

func.func @parts_without_composite(%x: tensor<1x8xf32>, %w: tensor<4x8xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{weight_parts needs a #sparsec.sum or #sparsec.product weight_encoding}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 2, m = 4>,
      weight_parts = [dense<0.0> : tensor<4x8xf32>]}
      : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

func.func @parts_without_encoding(%x: tensor<1x8xf32>, %w: tensor<4x8xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{has weight_parts but no weight_encoding}}
  %y = sparsec.linear %x, %w {weight_parts = [dense<0.0> : tensor<4x8xf32>]}
      : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

func.func @part_count(%x: tensor<1x8xf32>, %w: tensor<4x8xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{weight_parts has 1 entries for a sum of 2}}
  %y = sparsec.linear %x, %w {
      weight_encoding = #sparsec.sum<[#sparsec.nm<n = 2, m = 4>, #sparsec.nm<n = 1, m = 8>]>,
      weight_parts = [dense<0.0> : tensor<4x8xf32>]}
      : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

func.func @part_shape(%x: tensor<1x8xf32>, %w: tensor<4x8xf32>) -> tensor<1x4xf32> {
  // expected-error @+1 {{weight_parts[1] must be a 3x8 f32 tensor, got 'tensor<2x8xf32>'}}
  %y = sparsec.linear %x, %w {
      weight_encoding = #sparsec.product<[#sparsec.dense, #sparsec.dense], inner = [3]>,
      weight_parts = [dense<0.0> : tensor<4x3xf32>, dense<0.0> : tensor<2x8xf32>]}
      : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

func.func @sum_row_bound(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]]> : tensor<1x8xf32>
  // expected-error @+1 {{weight violates 2:4+1:8: row 0 has 6 non-zeros, the terms hold at most 5}}
  %y = sparsec.linear %x, %w {
      weight_encoding = #sparsec.sum<[#sparsec.nm<n = 2, m = 4>, #sparsec.nm<n = 1, m = 8>]>}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}
