// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=4 tile-tokens=2 tile-vectors=1" | FileCheck %s

// A dense 4x3 weight: one panel of 4 features keeps all 3 columns. The
// packed rows are the weight's columns (W transposed), the bias pads to the
// panel, and the register tile is 2 tokens x 1 vector of 4 features: one
// weight load, two broadcasts and two FMAs per column.
// CHECK-LABEL: memref.global "private" constant @__sparsec_cpu_layer0_b : memref<4xf32> = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> {alignment = 64 : i64}
// CHECK: memref.global "private" constant @__sparsec_cpu_layer0_w : memref<3x4xf32> = dense<{{\[}}[1.000000e+00, 4.000000e+00, 7.000000e+00, 1.000000e+01], [2.000000e+00, 5.000000e+00, 8.000000e+00, 1.100000e+01], [3.000000e+00, 6.000000e+00, 9.000000e+00, 1.200000e+01]]>
// CHECK: func.func @dense(%[[X:.*]]: tensor<2x3xf32>)
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64, sparsec.cpu.kernel = {kept_columns = 3 : i64, kind = "dense", panels = 1 : i64, tile_tokens = 2 : i64, tile_vectors = 1 : i64, vector_width = 4 : i64}} : memref<2x4xf32>
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: %[[B:.*]] = vector.load %{{.*}} : memref<4xf32>, vector<4xf32>
// CHECK: scf.for {{.*}} iter_args(%[[A0:.*]] = %[[B]], %[[A1:.*]] = %[[B]]) -> (vector<4xf32>, vector<4xf32>)
// CHECK: %[[W:.*]] = vector.load {{.*}} : memref<3x4xf32>, vector<4xf32>
// CHECK: %[[X0:.*]] = tensor.extract %[[X]]
// CHECK: %[[S0:.*]] = vector.broadcast %[[X0]] : f32 to vector<4xf32>
// CHECK: vector.fma %[[S0]], %[[W]], %[[A0]] : vector<4xf32>
// CHECK: %[[X1:.*]] = tensor.extract %[[X]]
// CHECK: %[[S1:.*]] = vector.broadcast %[[X1]] : f32 to vector<4xf32>
// CHECK: vector.fma %[[S1]], %[[W]], %[[A1]] : vector<4xf32>
// CHECK: vector.store {{.*}}, %[[OUT]]
// CHECK: vector.store {{.*}}, %[[OUT]]
// CHECK-NOT: sparsec.linear
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable : memref<2x4xf32> to tensor<2x4xf32>
func.func @dense(%x: tensor<2x3xf32>) -> tensor<2x4xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0],
                             [7.0, 8.0, 9.0], [10.0, 11.0, 12.0]]> : tensor<4x3xf32>
  %b = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %y = sparsec.linear %x, %w, %b : (tensor<2x3xf32>, tensor<4x3xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

// -----

// Two panels of 4 rows (HiNM-like: each panel's rows share their zero
// columns) and a third, partial panel of 1 row. Panel 0 keeps columns 0 and
// 2, panel 1 keeps column 3, panel 2 keeps nothing (its output is the bias):
// the kernel walks each panel's kept-column list, and the partial panel
// stores with a mask. 3 tokens: one tile of 2, then a tile of 1.
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_o : memref<4xi32> = dense<[0, 2, 3, 3]>
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_k : memref<3xi32> = dense<[0, 2, 3]>
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_w : memref<3x4xf32> = dense<{{\[}}[1.000000e+00, 0.000000e+00, 3.000000e+00, 0.000000e+00], [2.000000e+00, 5.000000e+00, 0.000000e+00, 0.000000e+00], [0.000000e+00, 0.000000e+00, 0.000000e+00, 7.000000e+00]]>
// CHECK-LABEL: func.func @kept_columns
// CHECK: sparsec.cpu.kernel = {kept_columns = 3 : i64, kind = "kept_columns", panels = 3 : i64
// CHECK: scf.parallel
// CHECK: memref.load %{{.*}} : memref<4xi32>
// CHECK: memref.load %{{.*}} : memref<4xi32>
// CHECK: scf.for
// CHECK: memref.load %{{.*}} : memref<3xi32>
// CHECK: vector.create_mask
// CHECK: vector.maskedstore
func.func @kept_columns(%x: tensor<3x4xf32>) -> tensor<3x9xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 5.0, 0.0],
                             [3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0],
                             [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0],
                             [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 7.0],
                             [0.0, 0.0, 0.0, 0.0]]> : tensor<9x4xf32>
  %y = sparsec.linear %x, %w : (tensor<3x4xf32>, tensor<9x4xf32>) -> tensor<3x9xf32>
  return %y : tensor<3x9xf32>
}

// -----

// Rank-3 input: the kernel works on the 2-D view.
// CHECK-LABEL: func.func @rank3
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]] : tensor<2x3x4xf32> into tensor<6x4xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [2, 3, 5] : tensor<6x5xf32> into tensor<2x3x5xf32>
func.func @rank3(%x: tensor<2x3x4xf32>) -> tensor<2x3x5xf32> {
  %w = arith.constant dense<1.0> : tensor<5x4xf32>
  %y = sparsec.linear %x, %w : (tensor<2x3x4xf32>, tensor<5x4xf32>) -> tensor<2x3x5xf32>
  return %y : tensor<2x3x5xf32>
}

// -----

// A weight that is not a constant stays for sparsec-lower-to-linalg.
// CHECK-LABEL: func.func @not_constant
// CHECK: sparsec.linear
// CHECK-NOT: sparsec.cpu.kernel
func.func @not_constant(%x: tensor<2x4xf32>, %w: tensor<3x4xf32>) -> tensor<2x3xf32> {
  %y = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}

// -----

// A 3x3 convolution with padding and stride 2: the padded input is copied
// into its im2col matrix [N, C, KH, KW, OH, OW] (rows: the weight's GEMM-view
// columns c, kh, kw; pixels contiguous), and the kernel writes
// [N, O, OH*OW], which is the NCHW output: no transpose. The register tile
// is 4 channels (3 of them here) x 2 vectors of 4 pixels; per column, one
// activation vector per pixel vector and one weight broadcast per channel.
// CHECK-LABEL: func.func @conv
// CHECK: %[[PAD:.*]] = tensor.pad %{{.*}} low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK: %[[COLS:.*]] = linalg.generic {{.*}} ins(%[[PAD]] : tensor<1x2x6x6xf32>) outs(%{{.*}} : tensor<1x2x3x3x2x2xf32>)
// CHECK: %[[MAT:.*]] = tensor.collapse_shape %[[COLS]] {{\[}}[0], [1, 2, 3], [4, 5]] : tensor<1x2x3x3x2x2xf32> into tensor<1x18x4xf32>
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64, sparsec.cpu.kernel = {kept_columns = 18 : i64, kind = "conv_dense", panels = 1 : i64, tile_channels = 4 : i64, tile_pixel_vectors = 2 : i64, vector_width = 4 : i64}} : memref<1x3x4xf32>
// CHECK: scf.parallel
// CHECK: vector.transfer_read %[[MAT]]
// CHECK: vector.broadcast
// CHECK: vector.fma
// CHECK: %[[Y:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<1x3x4xf32> to tensor<1x3x4xf32>
// CHECK: tensor.expand_shape %[[Y]] {{\[}}[0], [1], [2, 3]] output_shape [1, 3, 2, 2] : tensor<1x3x4xf32> into tensor<1x3x2x2xf32>
// CHECK-NOT: sparsec.conv2d
func.func @conv(%x: tensor<1x2x4x4xf32>) -> tensor<1x3x2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2x3x3xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x2x4x4xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x2x2xf32>
  return %y : tensor<1x3x2x2xf32>
}

// -----

// A 1x1 convolution with stride 1 reads its input in place: no copy.
// CHECK-LABEL: func.func @pointwise
// CHECK: %[[X:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0], [1], [2, 3]] : tensor<2x3x2x5xf32> into tensor<2x3x10xf32>
// CHECK-NOT: linalg.generic
// CHECK: kind = "conv_dense"
// CHECK: vector.transfer_read %[[X]]
func.func @pointwise(%x: tensor<2x3x2x5xf32>) -> tensor<2x4x2x5xf32> {
  %w = arith.constant dense<1.0> : tensor<4x3x1x1xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<2x3x2x5xf32>, tensor<4x3x1x1xf32>) -> tensor<2x4x2x5xf32>
  return %y : tensor<2x4x2x5xf32>
}

// -----

// Grouped (here depthwise) convolutions stay for sparsec-lower-to-linalg.
// CHECK-LABEL: func.func @depthwise
// CHECK: sparsec.conv2d
// CHECK-NOT: sparsec.cpu.kernel
func.func @depthwise(%x: tensor<1x4x4x4xf32>) -> tensor<1x4x4x4xf32> {
  %w = arith.constant dense<1.0> : tensor<4x1x3x3xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>,
      dilations = array<i64: 1, 1>, groups = 4 : i64}
      : (tensor<1x4x4x4xf32>, tensor<4x1x3x3xf32>) -> tensor<1x4x4x4xf32>
  return %y : tensor<1x4x4x4xf32>
}
