// RUN: sparsec-opt %s --split-input-file | sparsec-opt --split-input-file | FileCheck %s
// RUN: sparsec-opt %s --split-input-file --sparsec-verify-encodings=report -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// RUN: sparsec-opt %s --split-input-file --sparsec-lower-to-linalg | FileCheck %s --check-prefix=LOWER

// A TASD-style weight: W = T1 (2:4) + T2 (1:8) with disjoint supports. T1 is
// packed, T2 is given as its dense values.
// CHECK-LABEL: func @sum_of_terms
// CHECK: sparsec.linear
// CHECK-SAME: weight_encoding = #sparsec.sum<[#sparsec.nm<n = 2, m = 4>, #sparsec.nm<n = 1, m = 8>]>
// CHECK-SAME: weight_parts = [#sparsec.packed<values = dense<
// REPORT: sparsec: sparsec.linear at {{.*}}: gemm 4x8, encoding #sparsec.sum<[#sparsec.nm<n = 2, m = 4>, #sparsec.nm<n = 1, m = 8>]>, density 0.2812
// LOWER-LABEL: func @sum_of_terms
// LOWER: linalg.generic
// LOWER-SAME: iterator_types = ["parallel", "parallel", "reduction"]
func.func @sum_of_terms(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 8.0, 0.0, 3.0, 0.0, 0.0, 0.0],
                             [0.0, 0.0, 4.0, 5.0, 0.0, 0.0, 0.0, 6.0],
                             [1.0, 0.0, 0.0, 7.0, 0.0, 0.0, 0.0, 0.0],
                             [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %y = sparsec.linear %x, %w {
      weight_encoding = #sparsec.sum<[#sparsec.nm<n = 2, m = 4>, #sparsec.nm<n = 1, m = 8>]>,
      weight_parts = [
        #sparsec.packed<values = dense<[[2.0, 8.0, 3.0, 0.0], [4.0, 5.0, 0.0, 6.0],
                                        [1.0, 7.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]> : tensor<4x4xf32>,
                        positions = dense<[[1, 2, 0, 1], [2, 3, 0, 3], [0, 3, 0, 1], [0, 1, 0, 1]]> : tensor<4x4xui8>>,
        dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
               [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
               [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
               [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>]}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// A factored weight: W (4x8) = F1 (4x2, dense) · F2 (2x8, 2:4).
// CHECK-LABEL: func @product_of_factors
// CHECK: weight_encoding = #sparsec.product<[#sparsec.dense, #sparsec.nm<n = 2, m = 4>], inner = [2]>
// REPORT: sparsec: sparsec.linear at {{.*}}: gemm 4x8, encoding #sparsec.product<[#sparsec.dense, #sparsec.nm<n = 2, m = 4>], inner = [2]>, density 0.4688
func.func @product_of_factors(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0],
                             [0.0, 1.0, 0.0, 1.0, 4.0, 0.0, 0.0, 0.0],
                             [1.0, 1.0, 2.0, 1.0, 4.0, 3.0, 0.0, 0.0],
                             [2.0, 0.0, 4.0, 0.0, 0.0, 6.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %y = sparsec.linear %x, %w {
      weight_encoding = #sparsec.product<[#sparsec.dense, #sparsec.nm<n = 2, m = 4>], inner = [2]>,
      weight_parts = [
        dense<[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]]> : tensor<4x2xf32>,
        dense<[[1.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0],
               [0.0, 1.0, 0.0, 1.0, 4.0, 0.0, 0.0, 0.0]]> : tensor<2x8xf32>]}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// The encodings alone (no parts) on a convolution, korder carried.
// CHECK-LABEL: func @conv_encodings
// CHECK: #sparsec.sum<[#sparsec.nm<n = 2, m = 4, korder = chw>, #sparsec.nm<n = 1, m = 4, korder = chw>]>
func.func @conv_encodings(%x: tensor<1x4x4x4xf32>, %w: tensor<8x4x1x1xf32>) -> tensor<1x8x4x4xf32> {
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64,
      weight_encoding = #sparsec.sum<[#sparsec.nm<n = 2, m = 4, korder = chw>, #sparsec.nm<n = 1, m = 4, korder = chw>]>}
      : (tensor<1x4x4x4xf32>, tensor<8x4x1x1xf32>) -> tensor<1x8x4x4xf32>
  return %y : tensor<1x8x4x4xf32>
}
