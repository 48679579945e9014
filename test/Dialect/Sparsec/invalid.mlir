// RUN: sparsec-opt %s -split-input-file -verify-diagnostics

func.func @n_not_below_m(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{N:M encoding requires 1 <= N < M, got 4:4}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 4, m = 4>}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @bad_m(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{N:M encoding requires M in {4, 8, 16, 32}, got M = 6}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 2, m = 6>}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @zero_n(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{N:M encoding requires 1 <= N < M, got 0:8}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 0, m = 8>}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @violates_nm(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 0.0, 0.0, 1.0, 2.0, 3.0, 0.0]]> : tensor<1x8xf32>
  // expected-error @+1 {{weight violates 2:4 sparsity: row 0, group 1 (columns 4..7) has 3 non-zeros}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 2, m = 4>}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

// K = 6 is padded to 8: the tail group holds columns 4..5 only.
func.func @violates_nm_tail(%x: tensor<1x6xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]]> : tensor<1x6xf32>
  // expected-error @+1 {{weight violates 1:4 sparsity: row 0, group 1 (columns 4..5) has 2 non-zeros}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 1, m = 4>}
      : (tensor<1x6xf32>, tensor<1x6xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

// In HWC order the group of 4 input channels at (0, 0) holds 3 non-zeros,
// although in CHW order (kw fastest) no group of 4 would.
func.func @violates_nm_conv_hwc(%x: tensor<1x4x2x2xf32>) -> tensor<1x1x1x1xf32> {
  %w = arith.constant dense<[[[[1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 0.0]],
                              [[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]]]> : tensor<1x4x2x2xf32>
  // expected-error @+1 {{weight violates 2:4 sparsity: row 0, group 0 (columns 0..3) has 3 non-zeros}}
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64,
      weight_encoding = #sparsec.nm<n = 2, m = 4>}
      : (tensor<1x4x2x2xf32>, tensor<1x4x2x2xf32>) -> tensor<1x1x1x1xf32>
  return %y : tensor<1x1x1x1xf32>
}

// -----

func.func @linear_k_mismatch(%x: tensor<2x7xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{input feature size 7 does not match weight K = 8}}
  %y = sparsec.linear %x, %w : (tensor<2x7xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @linear_bad_bias(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>, %b: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{expects bias of shape [4]}}
  %y = sparsec.linear %x, %w, %b : (tensor<2x8xf32>, tensor<4x8xf32>, tensor<3xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @linear_bad_result(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{result shape does not match input batch dims + [R = 4]}}
  %y = sparsec.linear %x, %w : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x5xf32>
  return %y : tensor<2x5xf32>
}

// -----

func.func @conv_groups(%x: tensor<1x4x8x8xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x6x6x6xf32> {
  // expected-error @+1 {{groups = 3 must divide C_in = 4 and C_out = 6}}
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 3 : i64}
      : (tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x6x6xf32>
  return %y : tensor<1x6x6x6xf32>
}

// -----

func.func @conv_shape(%x: tensor<1x4x8x8xf32>, %w: tensor<6x4x3x3xf32>) -> tensor<1x6x8x8xf32> {
  // expected-error @+1 {{result shape does not match the convolution geometry}}
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x4x8x8xf32>, tensor<6x4x3x3xf32>) -> tensor<1x6x8x8xf32>
  return %y : tensor<1x6x8x8xf32>
}

// -----

func.func @conv_negative_pad(%x: tensor<1x4x8x8xf32>, %w: tensor<6x4x3x3xf32>) -> tensor<1x6x6x6xf32> {
  // expected-error @+1 {{expects non-negative pads}}
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: -1, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x4x8x8xf32>, tensor<6x4x3x3xf32>) -> tensor<1x6x6x6xf32>
  return %y : tensor<1x6x6x6xf32>
}

// -----

func.func @conv_zero_stride(%x: tensor<1x4x8x8xf32>, %w: tensor<6x4x3x3xf32>) -> tensor<1x6x6x6xf32> {
  // expected-error @+1 {{expects positive strides and dilations}}
  %y = sparsec.conv2d %x, %w {strides = array<i64: 0, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x4x8x8xf32>, tensor<6x4x3x3xf32>) -> tensor<1x6x6x6xf32>
  return %y : tensor<1x6x6x6xf32>
}

// -----

func.func @mixed_types(%x: tensor<2x8xf16>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{requires all operands and the result to have the same element type}}
  %y = sparsec.linear %x, %w : (tensor<2x8xf16>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @hinm_bad_v(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{HiNM encoding requires V to be a positive multiple of 16, got V = 24}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.hinm<v = 24, kept = 4, n = 2, m = 4>}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @hinm_bad_kept(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{HiNM encoding requires kept (column vectors per tile) to be a positive multiple of M = 4, got 6}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.hinm<v = 16, kept = 6, n = 2, m = 4>}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

func.func @hinm_kept_exceeds_k(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{HiNM encoding keeps 12 column vectors per tile but the GEMM view is 4x8}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.hinm<v = 16, kept = 12, n = 2, m = 4>}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// Rows 0..2 share a tile: together they use 5 columns, more than kept = 4.
func.func @hinm_tile_columns(%x: tensor<1x8xf32>) -> tensor<1x3xf32> {
  %w = arith.constant dense<[[1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                             [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0],
                             [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]]> : tensor<3x8xf32>
  // expected-error @+1 {{weight violates HiNM: tile 0 (rows 0..) uses 5 columns, at most 4}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.hinm<v = 16, kept = 4, n = 2, m = 4>}
      : (tensor<1x8xf32>, tensor<3x8xf32>) -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}

// -----

func.func @hinm_row_count(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>
  // expected-error @+1 {{weight violates HiNM: row 0 has 3 non-zeros, at most 2}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.hinm<v = 16, kept = 4, n = 2, m = 4>}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

func.func @permute_not_permutation(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{permutation is not a permutation of 0..2}}
  %y = sparsec.permute %x {axis = 1 : i64, permutation = array<i64: 0, 0, 2>} : tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

func.func @permute_wrong_size(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{permutation has 2 entries for a dimension of size 3}}
  %y = sparsec.permute %x {axis = 1 : i64, permutation = array<i64: 1, 0>} : tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// Packed storage is checked for sizes and index ranges by the op verifier.
func.func @packed_position_range(%x: tensor<1x8xf32>, %w: tensor<1x8xf32>) -> tensor<1x1xf32> {
  // expected-error @+1 {{'sparsec.linear' op packed_weight: packed positions hold 7, outside [0, 4)}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 1, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<1x2xf32>,
                                      positions = dense<[[0, 7]]> : tensor<1x2xui8>>}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

func.func @packed_values_shape(%x: tensor<1x8xf32>, %w: tensor<1x8xf32>) -> tensor<1x1xf32> {
  // expected-error @+1 {{'sparsec.linear' op packed_weight: packed values must be 1x2 f32/f16/bf16, got 1x3}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 1, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<1x3xf32>,
                                      positions = dense<0> : tensor<1x2xui8>>}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

func.func @packed_col_idx_range(%x: tensor<1x8xf32>, %w: tensor<16x8xf32>) -> tensor<1x16xf32> {
  // expected-error @+1 {{'sparsec.linear' op packed_weight: packed HiNM col_idx holds column 9, outside K = 8}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.hinm<v = 16, kept = 4, n = 2, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<16x16xf32>,
                                      positions = dense<0> : tensor<16x16xui8>,
                                      col_idx = dense<9> : tensor<1x32xui16>>}
      : (tensor<1x8xf32>, tensor<16x8xf32>) -> tensor<1x16xf32>
  return %y : tensor<1x16xf32>
}

// -----

func.func @packed_meta_not_24(%x: tensor<1x8xf32>, %w: tensor<1x8xf32>) -> tensor<1x1xf32> {
  // expected-error @+1 {{'sparsec.linear' op packed_weight: packed 1:4 weight has 2:4 metadata}}
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 1, m = 4>,
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<1x2xf32>,
                                      positions = dense<0> : tensor<1x2xui8>,
                                      meta = dense<0> : tensor<32xui32>>}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

func.func @packed_without_encoding(%x: tensor<1x8xf32>, %w: tensor<1x8xf32>) -> tensor<1x1xf32> {
  // expected-error @+1 {{'sparsec.linear' op has packed_weight but no weight_encoding}}
  %y = sparsec.linear %x, %w {
      packed_weight = #sparsec.packed<values = dense<0.0> : tensor<1x2xf32>,
                                      positions = dense<0> : tensor<1x2xui8>>}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}

// -----

func.func @permute_lanes_not_power_of_two(%x: vector<6xf32>, %i: vector<6xi32>) -> vector<6xf32> {
  // expected-error @+1 {{'sparsec.permute_lanes' op source must have a fixed power-of-two number of lanes, not 'vector<6xf32>'}}
  %p = sparsec.permute_lanes %x, %i : vector<6xf32>, vector<6xi32>
  return %p : vector<6xf32>
}

// -----

func.func @permute_lanes_index_count(%x: vector<8xf32>, %i: vector<4xi32>) -> vector<8xf32> {
  // expected-error @+1 {{'sparsec.permute_lanes' op indices must have as many lanes as the source (8), not 'vector<4xi32>'}}
  %p = sparsec.permute_lanes %x, %i : vector<8xf32>, vector<4xi32>
  return %p : vector<8xf32>
}
