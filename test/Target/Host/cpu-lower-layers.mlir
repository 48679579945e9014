// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=4 tile-tokens=2 tile-vectors=1" | FileCheck %s

// A dense 4x3 weight: one panel of 4 features keeps all 3 columns. The
// packed rows are the weight's columns (W transposed), the bias pads to the
// panel, and the register tile is 2 tokens x 1 vector of 4 features: one
// weight load, two broadcasts and two FMAs per column.
// CHECK-LABEL: memref.global "private" constant @__sparsec_cpu_layer0_b : memref<4xf32> = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> {alignment = 64 : i64}
// CHECK: memref.global "private" constant @__sparsec_cpu_layer0_w : memref<3x4xf32> = dense<{{\[}}[1.000000e+00, 4.000000e+00, 7.000000e+00, 1.000000e+01], [2.000000e+00, 5.000000e+00, 8.000000e+00, 1.100000e+01], [3.000000e+00, 6.000000e+00, 9.000000e+00, 1.200000e+01]]>
// CHECK: func.func @dense(%[[X:.*]]: tensor<2x3xf32>)
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64, sparsec.cpu.kernel = {kept_columns = 3 : i64, kind = "dense", panels = 1 : i64, tile_tokens = 2 : i64, tile_vectors = 1 : i64, token_vectors = false, vector_width = 4 : i64}} : memref<2x4xf32>
// One panel and one token tile: no parallel loop.
// CHECK-NOT: scf.parallel
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

// A 3x3 convolution with padding and stride 2: the padded input (6x6, plus
// zero rows and a column for the split) is copied into 2x2 phase planes
// [N, C, 2, 2, rows, cols] (space-to-depth), planes[a, b][u, v] =
// padded[2u + a, 2v + b], so that every tap reads a contiguous run again:
// tap (c, i, j) of output pixel (y, x) is plane (c, i%2, j%2) at row
// y + i/2, column x + j/2; the _x table holds those flat offsets (planes of
// 4 rows x 3 columns; one zero row keeps the block's reads inside). The
// kernel computes [N, O, 6] (2 rows of 3 pixels, one garbage column each),
// sliced back to NCHW: one vector of 4 pixels, then the last 2 pixels with
// the channels along the lanes (fewer than a tile's 4 channels). The
// register tile is 4 channels (3 here) x 2 vectors of 4 pixels; per column,
// one offset load, one activation vector per pixel vector and one weight
// broadcast per channel.
// CHECK-LABEL: memref.global "private" constant @__sparsec_cpu_layer0_x : memref<18xi32> = dense<[0, 12, 1, 24, 36, 25, 3, 15, 4, 48, 60, 49, 72, 84, 73, 51, 63, 52]>
// CHECK-LABEL: func.func @conv
// CHECK: %[[PAD:.*]] = tensor.pad %{{.*}} low[0, 0, 1, 1] high[0, 0, 3, 1]
// CHECK: %[[PLANES:.*]] = linalg.generic {{.*}} ins(%[[PAD]] : tensor<1x2x8x6xf32>) outs(%{{.*}} : tensor<1x2x2x2x4x3xf32>)
// CHECK: %[[P4:.*]] = tensor.collapse_shape %[[PLANES]] {{\[}}[0], [1], [2, 3, 4], [5]] : tensor<1x2x2x2x4x3xf32> into tensor<1x2x16x3xf32>
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[P4]] {{\[}}[0], [1, 2, 3]] : tensor<1x2x16x3xf32> into tensor<1x96xf32>
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64, sparsec.cpu.kernel = {column_chunk = 0 : i64, im2col = false, kept_columns = 18 : i64, kind = "conv_dense", lane_pixels = 2 : i64, panels = 1 : i64, tail_vectors = 1 : i64, tile_channels = 4 : i64, tile_pixel_vectors = 2 : i64, vector_width = 4 : i64}} : memref<1x3x6xf32>
// CHECK: %[[TABLE:.*]] = memref.get_global @__sparsec_cpu_layer0_x
// One panel and one pixel block: no parallel loop.
// CHECK: memref.load %[[TABLE]]
// CHECK: vector.transfer_read %[[FLAT]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<1x96xf32>, vector<4xf32>
// CHECK: vector.broadcast
// CHECK: vector.fma
// The lane pixels 4 and 5: per column, the packed row's weights as one
// vector, one broadcast activation per pixel; each lane stored on its own.
// CHECK: vector.load %{{.*}} : memref<18x4xf32>, vector<4xf32>
// CHECK: tensor.extract %[[FLAT]]
// CHECK: vector.fma {{.*}} : vector<4xf32>
// CHECK: memref.store %{{.*}}, %[[OUT]][%{{.*}}, %{{.*}}, %c4{{.*}}]
// CHECK: memref.store %{{.*}}, %[[OUT]][%{{.*}}, %{{.*}}, %c5{{.*}}]
// CHECK: %[[Y:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<1x3x6xf32> to tensor<1x3x6xf32>
// CHECK: %[[E:.*]] = tensor.expand_shape %[[Y]] {{\[}}[0], [1], [2, 3]] output_shape [1, 3, 2, 3] : tensor<1x3x6xf32> into tensor<1x3x2x3xf32>
// CHECK: tensor.extract_slice %[[E]][0, 0, 0, 0] [1, 3, 2, 2] [1, 1, 1, 1] : tensor<1x3x2x3xf32> to tensor<1x3x2x2xf32>
// CHECK-NOT: sparsec.conv2d
func.func @conv(%x: tensor<1x2x4x4xf32>) -> tensor<1x3x2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2x3x3xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x2x4x4xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x2x2xf32>
  return %y : tensor<1x3x2x2xf32>
}

// -----

// A 1x1 convolution with stride 2 reads phase (0, 0) only: that one plane
// is copied ([N, C, 1, 1, rows, cols]: a quarter of the input), and input
// channel c is plane c (of 4 rows x 2 columns: 2 x 2 pixels, and two zero
// rows that keep the reads of a block of 8 pixels inside).
// CHECK-LABEL: memref.global "private" constant @__sparsec_cpu_layer0_x : memref<2xi32> = dense<[0, 8]>
// CHECK-LABEL: func.func @pointwise_strided
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<1x2x1x1x4x2xf32>)
// CHECK: tensor.collapse_shape %{{.*}} : tensor<1x2x4x2xf32> into tensor<1x16xf32>
func.func @pointwise_strided(%x: tensor<1x2x4x4xf32>) -> tensor<1x3x2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2x1x1xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x2x2xf32>
  return %y : tensor<1x3x2x2xf32>
}

// -----

// A stride with a dilation on the same axis: a phase's taps are not
// contiguous, so the padded input is copied into its im2col matrix
// [N, C, KH, KW, OH, OW], column k at offset k * OH*OW. The block of 8
// pixels reads past the matrix's end (offset 17 * 4 + 8 > 72): masked reads.
// CHECK-LABEL: memref.global "private" constant @__sparsec_cpu_layer0_x : memref<18xi32> = dense<[0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64, 68]>
// CHECK-LABEL: func.func @strided_dilated
// CHECK: %[[COLS:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x2x3x3x2x2xf32>)
// CHECK: %[[MAT:.*]] = tensor.collapse_shape %[[COLS]] {{\[}}[0], [1, 2, 3, 4, 5]] : tensor<1x2x3x3x2x2xf32> into tensor<1x72xf32>
// CHECK: sparsec.cpu.kernel = {column_chunk = 0 : i64, im2col = true
// CHECK: vector.transfer_read %[[MAT]][%{{.*}}, %{{.*}}], %{{.*}} : tensor<1x72xf32>, vector<4xf32>
func.func @strided_dilated(%x: tensor<1x2x7x7xf32>) -> tensor<1x3x2x2xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2x3x3xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 2, 2>, groups = 1 : i64}
      : (tensor<1x2x7x7xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x2x2xf32>
  return %y : tensor<1x3x2x2xf32>
}

// -----

// A 3x3 convolution with stride 1 is direct: no im2col. The input is padded
// to 11 columns (1 + 9 + 1) and 5 rows (one extra zero row, so that the
// last block's reads stay inside), and column (c, i, j) reads the flat
// padded image at c*55 + i*11 + j. The kernel computes pixels y*11 + x,
// x < 11, of which x >= 9 are garbage (22: two blocks of 8, a vector of 4
// and 2 lane pixels), then sliced back to 2x9. So few blocks run panel by
// panel (one image and one panel here: no loop left), the blocks, the tail
// vector and the lane pixels back to back.
// CHECK-LABEL: memref.global "private" constant @__sparsec_cpu_layer0_x : memref<18xi32> = dense<[0, 1, 2, 11, 12, 13, 22, 23, 24, 55, 56, 57, 66, 67, 68, 77, 78, 79]>
// CHECK-LABEL: func.func @direct
// CHECK: %[[PAD:.*]] = tensor.pad %{{.*}} low[0, 0, 1, 1] high[0, 0, 2, 1]
// CHECK: tensor<1x2x2x9xf32> to tensor<1x2x5x11xf32>
// CHECK-NOT: linalg.generic
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[PAD]] {{\[}}[0], [1, 2, 3]] : tensor<1x2x5x11xf32> into tensor<1x110xf32>
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64, sparsec.cpu.kernel = {column_chunk = 0 : i64, im2col = false, {{.*}}lane_pixels = 2 : i64, {{.*}}tail_vectors = 1 : i64, {{.*}}} : memref<1x3x22xf32>
// CHECK-NOT: scf.parallel
// CHECK: vector.transfer_read %[[FLAT]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<1x110xf32>, vector<4xf32>
// CHECK-NOT: scf.parallel
// CHECK: tensor.extract %[[FLAT]]
// CHECK: %[[Y:.*]] = bufferization.to_tensor %[[OUT]]
// CHECK: %[[E:.*]] = tensor.expand_shape %[[Y]] {{\[}}[0], [1], [2, 3]] output_shape [1, 3, 2, 11] : tensor<1x3x22xf32> into tensor<1x3x2x11xf32>
// CHECK: tensor.extract_slice %[[E]][0, 0, 0, 0] [1, 3, 2, 9] [1, 1, 1, 1] : tensor<1x3x2x11xf32> to tensor<1x3x2x9xf32>
func.func @direct(%x: tensor<1x2x2x9xf32>) -> tensor<1x3x2x9xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2x3x3xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x2x2x9xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x2x9xf32>
  return %y : tensor<1x3x2x9xf32>
}

// -----

// On a small image the garbage columns of the direct form would be a large
// share of the work (3 of every 5 pixels here; 2 of 9 on a 7x7 image), so
// the padded input is copied into its im2col matrix: 9 pixels, no garbage,
// nothing to slice.
// CHECK-LABEL: func.func @small_image
// CHECK: tensor.pad %{{.*}} low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK: linalg.generic
// CHECK: sparsec.cpu.kernel = {column_chunk = 0 : i64, im2col = true, {{.*}}} : memref<1x3x9xf32>
// CHECK-NOT: tensor.extract_slice
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1], [2, 3]] output_shape [1, 3, 3, 3] : tensor<1x3x9xf32> into tensor<1x3x3x3xf32>
// CHECK-NOT: tensor.extract_slice
func.func @small_image(%x: tensor<1x2x3x3xf32>) -> tensor<1x3x3x3xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2x3x3xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x2x3x3xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x3x3xf32>
  return %y : tensor<1x3x3x3xf32>
}

// -----

// A 1x1 convolution with stride 1 and no padding reads its input in place:
// no copy. Its 10 pixels are one block of 8 and 2 pixels with the channels
// along the lanes; every read stays inside the image: no masks, and the
// output has exactly the image's pixels (nothing to slice).
// CHECK-LABEL: func.func @pointwise
// CHECK: %[[X:.*]] = tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2, 3]] : tensor<2x3x2x5xf32> into tensor<2x30xf32>
// CHECK-NOT: tensor.pad
// CHECK-NOT: linalg.generic
// CHECK: kind = "conv_dense"
// One loop runs over the 2 images (the panel, one, is a constant); each
// image's block and its lane pixels run in the same iteration, while the
// panel's weights are in cache.
// CHECK: scf.parallel ({{.*}}) = (%c0{{.*}}) to (%c2{{.*}})
// CHECK: vector.transfer_read %[[X]][%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]}
// CHECK-NOT: scf.parallel
// The 2 lane pixels' columns alternate, two per iteration, between two
// sets of accumulators (the bias, zeros): two chains of dependent FMAs per
// pixel instead of one. Each pixel's two sums are added before the stores.
// CHECK: %[[BIAS:.*]] = vector.load %{{.*}} : memref<4xf32>, vector<4xf32>
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<4xf32>
// CHECK: scf.for {{.*}} step %c2{{.*}} iter_args(%{{.*}} = %[[BIAS]], %{{.*}} = %[[BIAS]], %{{.*}} = %[[ZERO]], %{{.*}} = %[[ZERO]])
// CHECK: tensor.extract %[[X]]
// CHECK: %[[SUMS:.*]]:4 = scf.for {{.*}} step %c1
// CHECK: %[[FIRST:.*]] = arith.addf %[[SUMS]]#0, %[[SUMS]]#2 : vector<4xf32>
// CHECK: vector.extract %[[FIRST]][0]
// CHECK: arith.addf %[[SUMS]]#1, %[[SUMS]]#3 : vector<4xf32>
// CHECK-NOT: tensor.extract_slice
func.func @pointwise(%x: tensor<2x3x2x5xf32>) -> tensor<2x4x2x5xf32> {
  %w = arith.constant dense<1.0> : tensor<4x3x1x1xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<2x3x2x5xf32>, tensor<4x3x1x1xf32>) -> tensor<2x4x2x5xf32>
  return %y : tensor<2x4x2x5xf32>
}

// -----

// A grouped convolution is a block-diagonal GEMM: each channel walks its
// own group's taps (the row-sparse form): _s holds each channel's range of
// nonzeros, _x their offsets in the padded image (4 channels of 7 rows x 11
// columns; channels 0-1 read input channels 0-1, channels 2-3 read 2-3),
// _w their weights. A tile is one channel x 4 vectors of 4 pixels;
// channels are grouped by 4 (tile-channels) in the parallel loop.
// (Depthwise convolutions run their own kernel:
// cpu-lower-layers-depthwise.mlir.)
// CHECK-LABEL: memref.global "private" constant @__sparsec_cpu_layer0_w : memref<72xf32> = dense<1.000000e+00>
// CHECK: memref.global "private" constant @__sparsec_cpu_layer0_x : memref<72xi32> = dense<[0, 1, 2, 11, 12, 13, 22, 23, 24, 77, 78, 79, 88, 89, 90, 99, 100, 101, 0, 1, 2, 11, 12, 13, 22, 23, 24, 77, 78, 79, 88, 89, 90, 99, 100, 101, 154, 155, 156, 165,
// CHECK: memref.global "private" constant @__sparsec_cpu_layer0_s : memref<5xi32> = dense<[0, 18, 36, 54, 72]>
// CHECK-LABEL: func.func @grouped
// CHECK: tensor.pad %{{.*}} low[0, 0, 1, 1] high[0, 0, 2, 1]
// CHECK: sparsec.cpu.kernel = {groups = 2 : i64, im2col = false, kind = "conv_sparse_rows", nonzeros = 72 : i64, tile_pixel_vectors = 4 : i64, vector_width = 4 : i64}} : memref<1x4x48xf32>
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK-COUNT-4: vector.fma
// CHECK-NOT: sparsec.conv2d
func.func @grouped(%x: tensor<1x4x4x9xf32>) -> tensor<1x4x4x9xf32> {
  %w = arith.constant dense<1.0> : tensor<4x2x3x3xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>,
      dilations = array<i64: 1, 1>, groups = 2 : i64}
      : (tensor<1x4x4x9xf32>, tensor<4x2x3x3xf32>) -> tensor<1x4x4x9xf32>
  return %y : tensor<1x4x4x9xf32>
}

// -----

// A block's activations for all 1024 columns (8 pixels each, 48 KB with the
// panel's weights) would not fit in L1: the columns run in two chunks of
// 512. Every panel of a group does the first chunk (from the bias, stored
// without the epilogue) before any does the second (resumed from the
// output buffer).
// CHECK-LABEL: func.func @column_chunks
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64, sparsec.cpu.kernel = {column_chunk = 512 : i64, im2col = false, kept_columns = 2048 : i64, kind = "conv_dense"
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: vector.broadcast
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: vector.fma
// CHECK: vector.store %{{.*}}, %[[OUT]]
// CHECK: scf.for
// CHECK: vector.load %[[OUT]]
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args
// CHECK: vector.fma
// CHECK: vector.store %{{.*}}, %[[OUT]]
func.func @column_chunks(%x: tensor<1x1024x2x4xf32>) -> tensor<1x8x2x4xf32> {
  %w = arith.constant dense<1.0> : tensor<8x1024x1x1xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x1024x2x4xf32>, tensor<8x1024x1x1xf32>) -> tensor<1x8x2x4xf32>
  return %y : tensor<1x8x2x4xf32>
}
