// RUN: sparsec-opt %s | sparsec-opt | FileCheck %s
// RUN: sparsec-opt %s --mlir-print-op-generic | sparsec-opt | FileCheck %s

// CHECK-LABEL: func @linear_nm
// CHECK: sparsec.linear %{{.*}}, %{{.*}}, %{{.*}} {weight_encoding = #sparsec.nm<n = 2, m = 4>} : (tensor<3x8xf32>, tensor<2x8xf32>, tensor<2xf32>) -> tensor<3x2xf32>
func.func @linear_nm(%x: tensor<3x8xf32>, %b: tensor<2xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 3.0, 4.0],
                             [0.0, 5.0, 0.0, 0.0, 6.0, 0.0, 0.0, 0.0]]> : tensor<2x8xf32>
  %y = sparsec.linear %x, %w, %b {weight_encoding = #sparsec.nm<n = 2, m = 4>}
      : (tensor<3x8xf32>, tensor<2x8xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}

// CHECK-LABEL: func @linear_batched_dense
// CHECK: sparsec.linear %{{.*}}, %{{.*}} {weight_encoding = #sparsec.dense} : (tensor<2x5x8xf32>, tensor<4x8xf32>) -> tensor<2x5x4xf32>
func.func @linear_batched_dense(%x: tensor<2x5x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x5x4xf32> {
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.dense}
      : (tensor<2x5x8xf32>, tensor<4x8xf32>) -> tensor<2x5x4xf32>
  return %y : tensor<2x5x4xf32>
}

// CHECK-LABEL: func @conv_grouped
// CHECK: sparsec.conv2d %{{.*}}, %{{.*}} {dilations = array<i64: 1, 1>, groups = 2 : i64, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>, weight_encoding = #sparsec.nm<n = 1, m = 8, korder = chw>}
func.func @conv_grouped(%x: tensor<1x4x8x8xf32>, %w: tensor<6x2x3x3xf32>) -> tensor<1x6x4x4xf32> {
  %y = sparsec.conv2d %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>,
      dilations = array<i64: 1, 1>, groups = 2 : i64,
      weight_encoding = #sparsec.nm<n = 1, m = 8, korder = chw>}
      : (tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x4x4xf32>
  return %y : tensor<1x6x4x4xf32>
}

// A 2:4 conv weight in HWC order: groups run over input channels at each
// (kh, kw) position. Channel pairs (0,1) and (2,3) keep at most 2 of 4.
// CHECK-LABEL: func @conv_nm_hwc
// CHECK: sparsec.conv2d {{.*}}weight_encoding = #sparsec.nm<n = 2, m = 4>}
func.func @conv_nm_hwc(%x: tensor<1x4x3x3xf32>) -> tensor<1x1x3x3xf32> {
  %w = arith.constant dense<[[[[1.0]], [[2.0]], [[0.0]], [[0.0]]]]> : tensor<1x4x1x1xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64,
      weight_encoding = #sparsec.nm<n = 2, m = 4, korder = hwc>}
      : (tensor<1x4x3x3xf32>, tensor<1x4x1x1xf32>) -> tensor<1x1x3x3xf32>
  return %y : tensor<1x1x3x3xf32>
}
