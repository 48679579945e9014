// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=8" -canonicalize | FileCheck %s

// A depthwise convolution reads its NCHW input where it lies and writes the
// NCHW output once: no padded copy, no garbage columns. One parallel
// iteration per channel (the image dimension, of size 1, is a constant);
// 8-lane vectors in chunks of 2 along each row (70 pixels: 9 vectors, 5
// chunks). Row 0 misses its top tap row; rows 1-2 have all three and run
// in one loop; row 3 misses its bottom one. Within a row, chunk 0 reads
// column -1 as lanes shifted in from column 0 with a zero; chunks 1-3 read
// inside the row, unmasked, in one loop; chunk 4 reads past the row's end
// (masked reads) and stores its last vector (pixels 64-69) with a mask.
// CHECK-LABEL: func.func @stride1
// CHECK-SAME: (%[[X:.*]]: tensor<1x2x4x70xf32>)
// CHECK-NOT: tensor.pad
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64, sparsec.cpu.kernel = {kind = "conv_depthwise", multiplier = 1 : i64, tile_pixel_vectors = 2 : i64, vector_width = 8 : i64}} : memref<1x2x4x70xf32>
// CHECK: scf.parallel (%[[C:.*]]) = (%c0) to (%c2) step (%c1) {
// Row 0, chunk 0: the left tap of vector 0 is column -1, a zero.
// CHECK: %[[R00:.*]] = vector.transfer_read %[[X]][%c0, %[[C]], %c0, %c0], %{{.*}} {in_bounds = [true]}
// CHECK: vector.shuffle %{{.*}}, %[[R00]] [0, 8, 9, 10, 11, 12, 13, 14] : vector<8xf32>, vector<8xf32>
// CHECK: vector.store %{{.*}}, %[[OUT]][%c0, %[[C]], %c0, %c0] : memref<1x2x4x70xf32>, vector<8xf32>
// CHECK: vector.store %{{.*}}, %[[OUT]][%c0, %[[C]], %c0, %c8] : memref<1x2x4x70xf32>, vector<8xf32>
// Row 0, chunks 1-3: one loop of unmasked reads.
// CHECK: scf.for %{{.*}} = %c1 to %c4 step %c1 {
// CHECK-NOT: vector.shuffle
// CHECK: vector.transfer_read %[[X]][%c0, %[[C]], %c0, %{{.*}}], %{{.*}} {in_bounds = [true]}
// CHECK: }
// Row 0, chunk 4: masked reads past column 69, a masked store.
// CHECK: vector.transfer_read %[[X]][%c0, %[[C]], %c0, %c65], %{{.*}} : tensor<1x2x4x70xf32>, vector<8xf32>
// CHECK: vector.maskedstore %[[OUT]][%c0, %[[C]], %c0, %c64]
// Rows 1-2: one loop with all three tap rows.
// CHECK: scf.for %[[Y:.*]] = %c1 to %c3 step %c1 {
// CHECK: vector.transfer_read %[[X]][%c0, %[[C]], %[[Y]], %c0]
// CHECK: } {sparsec.cpu.kernel_loop}
func.func @stride1(%x: tensor<1x2x4x70xf32>) -> tensor<1x2x4x70xf32> {
  %w = arith.constant dense<[[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]], [[[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0], [-7.0, -8.0, -9.0]]]]> : tensor<2x1x3x3xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 2 : i64} : (tensor<1x2x4x70xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x4x70xf32>
  return %y : tensor<1x2x4x70xf32>
}

// -----

// A horizontal stride of 2: per tap, two reads and the even lanes of the
// pair. At the left border, lane 0 of the tap at column -1 is a zero (a
// select); the weights and bias are packed per channel, [O][KH * KW].
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_w : memref<18xf32> = dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00, 5.000000e+00, 6.000000e+00, 7.000000e+00, 8.000000e+00, 9.000000e+00, -1.000000e+00, -2.000000e+00, -3.000000e+00, -4.000000e+00, -5.000000e+00, -6.000000e+00, -7.000000e+00, -8.000000e+00, -9.000000e+00]>
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_b : memref<2xf32> = dense<[5.000000e-01, -5.000000e-01]>
// CHECK-LABEL: func.func @stride2
// CHECK: sparsec.cpu.kernel = {kind = "conv_depthwise"
// CHECK: %[[LOW:.*]] = vector.transfer_read %{{.*}}[%c0, %{{.*}}, %c0, %c0], %{{.*}} {in_bounds = [true]}
// CHECK: %[[HIGH:.*]] = vector.transfer_read %{{.*}}[%c0, %{{.*}}, %c0, %c8], %{{.*}} : tensor<1x2x5x11xf32>, vector<8xf32>
// CHECK: %[[ODD:.*]] = vector.shuffle %[[LOW]], %[[HIGH]] [0, 1, 3, 5, 7, 9, 11, 13]
// CHECK: arith.select %{{.*}}, %[[ODD]], %{{.*}} : vector<8xi1>, vector<8xf32>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 2, 4, 6, 8, 10, 12, 14]
func.func @stride2(%x: tensor<1x2x5x11xf32>) -> tensor<1x2x3x6xf32> {
  %w = arith.constant dense<[[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]], [[[-1.0, -2.0, -3.0], [-4.0, -5.0, -6.0], [-7.0, -8.0, -9.0]]]]> : tensor<2x1x3x3xf32>
  %b = arith.constant dense<[0.5, -0.5]> : tensor<2xf32>
  %y = sparsec.conv2d %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 2 : i64} : (tensor<1x2x5x11xf32>, tensor<2x1x3x3xf32>, tensor<2xf32>) -> tensor<1x2x3x6xf32>
  return %y : tensor<1x2x3x6xf32>
}

// -----

// A horizontal stride of 3 has no shuffle form: the row-sparse kernel on
// the padded phase planes runs it.
// CHECK-LABEL: func.func @stride3
// CHECK: sparsec.cpu.kernel = {groups = 2 : i64, im2col = false, kind = "conv_sparse_rows"
func.func @stride3(%x: tensor<1x2x5x11xf32>) -> tensor<1x2x5x4xf32> {
  %w = arith.constant dense<1.0> : tensor<2x1x3x3xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 3>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 2 : i64} : (tensor<1x2x5x11xf32>, tensor<2x1x3x3xf32>) -> tensor<1x2x5x4xf32>
  return %y : tensor<1x2x5x4xf32>
}
