// RUN: sparsec-opt %s --sparsec-lower-to-linalg | FileCheck %s

// CHECK-DAG: #[[MAPX:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[MAPW:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[MAPY:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[BIAS:.*]] = affine_map<(d0, d1) -> (d1)>

// CHECK-LABEL: func @linear_batched
// CHECK-SAME: (%[[X:.*]]: tensor<2x5x8xf32>, %[[W:.*]]: tensor<4x8xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK: %[[X2:.*]] = tensor.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : tensor<2x5x8xf32> into tensor<10x8xf32>
// CHECK: %[[INIT:.*]] = linalg.generic {indexing_maps = [#[[BIAS]], {{.*}}]{{.*}} ins(%[[B]] : tensor<4xf32>)
// CHECK: %[[Y:.*]] = linalg.generic {indexing_maps = [#[[MAPX]], #[[MAPW]], #[[MAPY]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[X2]], %[[W]] : tensor<10x8xf32>, tensor<4x8xf32>) outs(%[[INIT]] : tensor<10x4xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: tensor.expand_shape %[[Y]] {{\[\[}}0, 1], [2]] output_shape [2, 5, 4] : tensor<10x4xf32> into tensor<2x5x4xf32>
// CHECK-NOT: sparsec.linear
func.func @linear_batched(%x: tensor<2x5x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4xf32>) -> tensor<2x5x4xf32> {
  %y = sparsec.linear %x, %w, %b : (tensor<2x5x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<2x5x4xf32>
  return %y : tensor<2x5x4xf32>
}

// CHECK-LABEL: func @conv_padded
// CHECK: %[[P:.*]] = tensor.pad %{{.*}} low[0, 0, 1, 2] high[0, 0, 3, 4]
// CHECK: linalg.fill
// CHECK: linalg.conv_2d_nchw_fchw {dilations = dense<[1, 2]> : tensor<2xi64>, strides = dense<[2, 1]> : tensor<2xi64>} ins(%[[P]], %{{.*}} : tensor<1x3x12x14xf32>, tensor<5x3x3x3xf32>) outs(%{{.*}} : tensor<1x5x5x10xf32>)
func.func @conv_padded(%x: tensor<1x3x8x8xf32>, %w: tensor<5x3x3x3xf32>) -> tensor<1x5x5x10xf32> {
  %y = sparsec.conv2d %x, %w {strides = array<i64: 2, 1>, pads = array<i64: 1, 2, 3, 4>,
      dilations = array<i64: 1, 2>, groups = 1 : i64}
      : (tensor<1x3x8x8xf32>, tensor<5x3x3x3xf32>) -> tensor<1x5x5x10xf32>
  return %y : tensor<1x5x5x10xf32>
}

// CHECK-LABEL: func @conv_depthwise
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2], [3], [4]] output_shape [1, 4, 1, 6, 6] : tensor<1x4x6x6xf32> into tensor<1x4x1x6x6xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1], [2], [3], [4]] output_shape [4, 1, 1, 3, 3] : tensor<4x1x3x3xf32> into tensor<4x1x1x3x3xf32>
// CHECK: linalg.conv_2d_ngchw_gfchw
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1, 2], [3], [4]] : tensor<1x4x1x4x4xf32> into tensor<1x4x4x4xf32>
func.func @conv_depthwise(%x: tensor<1x4x6x6xf32>, %w: tensor<4x1x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x4x4xf32> {
  %y = sparsec.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 4 : i64}
      : (tensor<1x4x6x6xf32>, tensor<4x1x3x3xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}
