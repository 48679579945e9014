// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=8 nm-groups=always" | FileCheck %s
// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=8 nm-groups=auto" | FileCheck %s --check-prefix=AUTO
// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=8" | FileCheck %s --check-prefix=NEVER
// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=8 nm-groups=auto nm-group-slot-cost=2.3" | FileCheck %s --check-prefix=DEAR

// Rows keep at most two nonzeros in the one aligned group of four columns
// (columns 0-3); columns 4-5 are the K % 4 tail, run densely. With 8-lane
// vectors the tile is 4 tokens x 1 vector, so the 3 rows make one partial
// panel of 8 features. Per slot, the values in column order and each one's
// column within the group; row 1 keeps one nonzero, so its second slot is
// a zero at lane 0.
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_w : memref<16xf32> = dense<[1.000000e+00, 3.000000e+00, 4.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 2.000000e+00, 0.000000e+00, 5.000000e+00, 0.000000e+00
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_l : memref<16xi32> = dense<[0, 1, 2, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 0, 0]>
// CHECK-DAG: memref.global "private" constant @__sparsec_cpu_layer0_t : memref<16xf32> = dense<[7.000000e+00, 7.000000e+00, 7.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 8.000000e+00, 8.000000e+00, 8.000000e+00, 0.000000e+00
// CHECK-LABEL: func.func @two_four
// CHECK-SAME: (%[[X:.*]]: tensor<9x6xf32>)
// CHECK: %[[OUT:.*]] = memref.alloc() {alignment = 64 : i64, sparsec.cpu.kernel = {groups = 1 : i64, kind = "nm_groups", lane_bytes = 4 : i64, panels = 1 : i64, slots = 2 : i64, tail_columns = 2 : i64, tile_tokens = 4 : i64, tile_vectors = 1 : i64, vector_width = 8 : i64}} : memref<9x3xf32>
// The grouped columns, packed per token tile as [tile][group][token][4]
// (9 tokens padded to 3 tiles of 4).
// CHECK: %[[GROUPED:.*]] = tensor.extract_slice %[[X]][0, 0] [9, 4] [1, 1]
// CHECK: %[[PADDED:.*]] = tensor.pad %[[GROUPED]] low[0, 0] high[3, 0]
// CHECK: %[[TILES:.*]] = tensor.expand_shape %[[PADDED]] {{\[\[}}0, 1], [2, 3]] output_shape [3, 4, 1, 4]
// CHECK: %[[PACKED:.*]] = linalg.transpose ins(%[[TILES]] : tensor<3x4x1x4xf32>) outs(%{{.*}} : tensor<3x1x4x4xf32>) permutation = [0, 2, 1, 3]
// Per group: both slots' values and lanes, then per token one 128-bit read
// of its four activations, one permute and one FMA per slot.
// CHECK: scf.for {{.*}} iter_args(
// CHECK: %[[W0:.*]] = vector.load %{{.*}} : memref<16xf32>, vector<8xf32>
// CHECK: %[[L0:.*]] = vector.load %{{.*}} : memref<16xi32>, vector<8xi32>
// CHECK: %[[W1:.*]] = vector.load %{{.*}} : memref<16xf32>, vector<8xf32>
// CHECK: %[[L1:.*]] = vector.load %{{.*}} : memref<16xi32>, vector<8xi32>
// CHECK: %[[Q:.*]] = vector.transfer_read %[[PACKED]]{{.*}} : tensor<3x1x4x4xf32>, vector<4xf32>
// CHECK: %[[WIDE:.*]] = vector.shuffle %[[Q]], %[[Q]] [0, 1, 2, 3, -1, -1, -1, -1]
// CHECK: %[[P0:.*]] = sparsec.permute_lanes %[[WIDE]], %[[L0]] : vector<8xf32>, vector<8xi32>
// CHECK: %[[A:.*]] = vector.fma %[[P0]], %[[W0]], %{{.*}} : vector<8xf32>
// CHECK: %[[P1:.*]] = sparsec.permute_lanes %[[WIDE]], %[[L1]] : vector<8xf32>, vector<8xi32>
// CHECK: vector.fma %[[P1]], %[[W1]], %[[A]] : vector<8xf32>
// The tail columns read x in place, broadcast; lanes past 3 rows are masked.
// CHECK: tensor.extract %[[X]]
// CHECK: vector.maskedstore %[[OUT]]
// CHECK-NOT: sparsec.linear
// `auto` takes the group kernel for two or more tiles of tokens (here 9
// with tiles of 4); with fewer the layer is bound by the weights' bytes,
// and 2:4 moves fewer of them as values and lane bytes (2 x (4 + 1) bytes
// per row and group) than as dense columns (16 bytes).
// AUTO-LABEL: func.func @two_four
// AUTO: kind = "nm_groups"
// AUTO-LABEL: func.func @two_four_few_tokens
// AUTO: kind = "nm_groups"
// Where a slot costs 2.3 dense MACs (nm-group-slot-cost), half the work is
// dearer than the dense channel tiles with many tokens; with few, the
// weights' bytes still decide.
// DEAR-LABEL: func.func @two_four
// DEAR: kind = "dense"
// DEAR-LABEL: func.func @two_four_few_tokens
// DEAR: kind = "nm_groups"
// There the lane indices are bytes (a quarter of the index traffic),
// widened to i32 for the permute; with many tokens they stay i32, since
// widening costs a µop on the permute pipes that bound the kernel.
// AUTO: lane_bytes = 1
// AUTO: vector.load %{{.*}} : memref<16xi8>, vector<8xi8>
// AUTO: arith.extui %{{.*}} : vector<8xi8> to vector<8xi32>
// NEVER-LABEL: func.func @two_four
// NEVER: kind = "dense"
func.func @two_four(%x: tensor<9x6xf32>) -> tensor<9x3xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 2.0, 0.0, 7.0, 8.0],
                             [0.0, 3.0, 0.0, 0.0, 7.0, 8.0],
                             [0.0, 0.0, 4.0, 5.0, 7.0, 8.0]]> : tensor<3x6xf32>
  %y = sparsec.linear %x, %w : (tensor<9x6xf32>, tensor<3x6xf32>) -> tensor<9x3xf32>
  return %y : tensor<9x3xf32>
}

// -----

func.func @two_four_few_tokens(%x: tensor<7x6xf32>) -> tensor<7x3xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 2.0, 0.0, 7.0, 8.0],
                             [0.0, 3.0, 0.0, 0.0, 7.0, 8.0],
                             [0.0, 0.0, 4.0, 5.0, 7.0, 8.0]]> : tensor<3x6xf32>
  %y = sparsec.linear %x, %w : (tensor<7x6xf32>, tensor<3x6xf32>) -> tensor<7x3xf32>
  return %y : tensor<7x3xf32>
}

// -----

// Few tokens, and the panel keeps 2 of 8 columns: its kept columns are 8
// bytes per row and group of four, fewer than the group kernel's 10.
// AUTO-LABEL: func.func @kept_few_tokens
// AUTO: kind = "kept_columns"
func.func @kept_few_tokens(%x: tensor<7x8xf32>) -> tensor<7x3xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                             [3.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                             [0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<3x8xf32>
  %y = sparsec.linear %x, %w : (tensor<7x8xf32>, tensor<3x8xf32>) -> tensor<7x3xf32>
  return %y : tensor<7x3xf32>
}

// -----

// Three nonzeros in a group: the group kernel would do as many permutes as
// the channel tiles do FMAs, so even `always` keeps the channel tiles (here
// over the 3 columns the panel keeps).
// CHECK-LABEL: func.func @three_of_four
// CHECK: kind = "kept_columns"
// CHECK-NOT: sparsec.permute_lanes
func.func @three_of_four(%x: tensor<2x4xf32>) -> tensor<2x2xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 3.0, 0.0], [0.0, 1.0, 0.0, 0.0]]> : tensor<2x4xf32>
  %y = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x2xf32>
  return %y : tensor<2x2xf32>
}

// -----

// HiNM-style: all rows keep only columns 0-1 and 4-5, so the channel tiles
// do half the dense work; the group kernel would do two slots of four at
// about 1.55 dense MACs each (2/4 x 1.55 > 1/2), so `auto` keeps the
// channel tiles; `always` does not.
// CHECK-LABEL: func.func @hinm_like
// CHECK: kind = "nm_groups"
// AUTO-LABEL: func.func @hinm_like
// AUTO: kind = "kept_columns"
func.func @hinm_like(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0],
                             [1.0, 2.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0],
                             [1.0, 2.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0],
                             [1.0, 2.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0],
                             [1.0, 2.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0],
                             [1.0, 2.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0],
                             [1.0, 2.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0],
                             [1.0, 2.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0]]> : tensor<8x8xf32>
  %y = sparsec.linear %x, %w : (tensor<2x8xf32>, tensor<8x8xf32>) -> tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
