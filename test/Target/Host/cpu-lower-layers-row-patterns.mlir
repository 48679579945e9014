// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=4 row-patterns=always" -canonicalize | FileCheck %s
// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=4 row-patterns=auto" | FileCheck %s --check-prefix=AUTO
// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=4" | FileCheck %s --check-prefix=NEVER

// Rows in panels of four (rows 0-3, then row 4 and three empty rows). Per
// panel, each column's pattern is the set of rows it feeds: in panel 0,
// column 0 feeds rows 0 and 2 (pattern 5), column 1 row 1 (pattern 2),
// column 2 row 0 (pattern 1); in panel 1 columns 1 and 2 feed row 4
// (pattern 1). _c lists the columns pattern by pattern, _r where each
// pattern's run starts (17 entries per panel: patterns 0-15 and the end),
// _w the values of each entry's rows in row order, _v where each run's
// values start.
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_c : memref<5xi32> = dense<[2, 1, 0, 1, 2]>
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_r : memref<34xi32> = dense<[0, 0, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]>
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_w : memref<6xf32> = dense<[2.000000e+00, 3.000000e+00, 1.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00]>
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_v : memref<32xi32> = dense<[0, 0, 1, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6]>
// CHECK-LABEL: func.func @patterns
// The input is transposed to [K][tokens] in 4 x 4 blocks of shuffles (the
// third token row of the block is real, the fourth a zero).
// CHECK: %[[XT:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x4xf32>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 4, 1, 5] : vector<4xf32>, vector<4xf32>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [2, 3, 6, 7] : vector<4xf32>, vector<4xf32>
// CHECK: %[[XTT:.*]] = bufferization.to_tensor %[[XT]]
// CHECK: %[[YT:.*]] = memref.alloc() {alignment = 64 : i64, sparsec.cpu.kernel = {kind = "row_patterns", nonzeros = 6 : i64, panels = 2 : i64, tile_token_vectors = 4 : i64, vector_width = 4 : i64}} : memref<8x4xf32>
// Per panel: the bias, then per pattern a loop over its columns that
// carries only the pattern's rows' accumulators: one per row of pattern 1
// (row 0), two for pattern 5 (rows 0 and 2), four for pattern 15.
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 {
// CHECK: vector.store %{{.*}}, %[[YT]]
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c1 iter_args(%{{.*}} = %{{.*}}) -> (vector<4xf32>) {
// CHECK: vector.transfer_read %[[XTT]]
// CHECK: vector.broadcast
// CHECK: vector.fma
// CHECK: scf.for %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// The result is transposed back to [tokens][rows], the last row block
// masked (rows 4-7 of which only row 4 is real).
// CHECK: vector.transfer_write %{{.*}}, %[[Y:.*]][%c0, %{{.*}}] : vector<4xf32>, memref<3x5xf32>
// CHECK: vector.transfer_write %{{.*}}, %[[Y]][%c2, %{{.*}}] : vector<4xf32>, memref<3x5xf32>
// CHECK: bufferization.to_tensor %[[Y]] restrict writable : memref<3x5xf32> to tensor<3x5xf32>
// Three tokens do not fill a tile's vectors: auto keeps the channel tiles
// (one panel of 8 features keeping all 3 columns), as does the default.
// AUTO-LABEL: func.func @patterns
// AUTO: kind = "dense"
// NEVER-LABEL: func.func @patterns
// NEVER: kind = "dense"
func.func @patterns(%x: tensor<3x3xf32>) -> tensor<3x5xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 2.0], [0.0, 3.0, 0.0], [4.0, 0.0, 0.0],
                             [0.0, 0.0, 0.0], [0.0, 5.0, 6.0]]> : tensor<5x3xf32>
  %b = arith.constant dense<[0.5, 1.5, 2.5, 3.5, 4.5]> : tensor<5xf32>
  %y = sparsec.linear %x, %w, %b : (tensor<3x3xf32>, tensor<5x3xf32>, tensor<5xf32>) -> tensor<3x5xf32>
  return %y : tensor<3x5xf32>
}

// -----

// A convolution's GEMM view runs the same patterns with its pixels already
// along the vectors: the weight above as a 1x1 convolution (same tables),
// and _x the activation offset of each entry's column (column c starts at
// c * 10 in the 2x5 image). The 10 pixels are one tile of 3 vectors of 4,
// the last one's reads masked past the image.
// CHECK-LABEL: memref.global "private" constant @__sparsec_cpu_layer0_x : memref<5xi32> = dense<[20, 10, 0, 10, 20]>
// CHECK-LABEL: func.func @conv_patterns
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64, sparsec.cpu.kernel = {im2col = false, kind = "conv_row_patterns", nonzeros = 6 : i64, panels = 2 : i64, tile_pixel_vectors = 4 : i64, vector_width = 4 : i64}} : memref<1x8x12xf32>
// CHECK: scf.parallel
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK: vector.transfer_read %{{.*}} : tensor<1x30xf32>, vector<4xf32>
// CHECK: } {sparsec.cpu.kernel_loop}
// Rows 5-7 of the last panel and the pixels past 10 are sliced off. Auto
// does not take a layer this small (15 pattern loops per panel for 6
// nonzeros); it is sparse enough for the row-sparse form.
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0] [1, 5, 12] [1, 1, 1] : tensor<1x8x12xf32> to tensor<1x5x12xf32>
// AUTO-LABEL: func.func @conv_patterns
// AUTO: kind = "conv_sparse_rows"
// NEVER-LABEL: func.func @conv_patterns
// NEVER: kind = "conv_sparse_rows"
func.func @conv_patterns(%x: tensor<1x3x2x5xf32>) -> tensor<1x5x2x5xf32> {
  %w = arith.constant dense<[[[[1.0]], [[0.0]], [[2.0]]], [[[0.0]], [[3.0]], [[0.0]]],
                             [[[4.0]], [[0.0]], [[0.0]]], [[[0.0]], [[0.0]], [[0.0]]],
                             [[[0.0]], [[5.0]], [[6.0]]]]> : tensor<5x3x1x1xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x3x2x5xf32>, tensor<5x3x1x1xf32>) -> tensor<1x5x2x5xf32>
  return %y : tensor<1x5x2x5xf32>
}
