// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=4 tile-tokens=5 tile-vectors=1 token-vectors=true" | FileCheck %s

// token-vectors (what --target=neon uses): the input is transposed once
// (K x T), each token tile reads a K x 5 slice of it, tokens 0-3 of a column
// are one vector read whose lanes the FMAs take in turn, and token 4 (no
// whole vector left) is a scalar read. The column loop takes four columns
// per iteration, then the rest (K = 6: one unrolled iteration, two single
// ones).
// CHECK-LABEL: func.func @tokens
// CHECK-SAME: (%[[X:.*]]: tensor<5x6xf32>)
// CHECK: sparsec.cpu.kernel = {kept_columns = 6 : i64, kind = "dense", panels = 1 : i64, tile_tokens = 5 : i64, tile_vectors = 1 : i64, token_vectors = true, vector_width = 4 : i64}
// CHECK: %[[XT:.*]] = linalg.transpose ins(%[[X]] : tensor<5x6xf32>) outs(%{{.*}} : tensor<6x5xf32>) permutation = [1, 0]
// One token tile and one panel: no parallel loop.
// CHECK: %[[SLICE:.*]] = tensor.extract_slice %[[XT]][0, %{{.*}}] [6, 5] [1, 1]
// CHECK: %[[MASKED:.*]] = arith.andi %{{.*}}, %c-4
// CHECK: %[[END:.*]] = arith.addi %{{.*}}, %[[MASKED]]
// CHECK: %[[UNROLLED:.*]]:5 = scf.for %{{.*}} to %[[END]] step %c4
// CHECK: %[[W:.*]] = vector.load {{.*}} : memref<6x4xf32>, vector<4xf32>
// CHECK: %[[T:.*]] = vector.transfer_read %[[SLICE]][%{{.*}}, %c0{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<6x5xf32>, vector<4xf32>
// CHECK: %[[T0:.*]] = vector.extract %[[T]][0] : f32 from vector<4xf32>
// CHECK: %[[S0:.*]] = vector.broadcast %[[T0]] : f32 to vector<4xf32>
// CHECK: vector.fma %[[S0]], %[[W]], %{{.*}} : vector<4xf32>
// CHECK: vector.extract %[[T]][1]
// CHECK: vector.extract %[[T]][2]
// CHECK: vector.extract %[[T]][3]
// CHECK: %[[T4:.*]] = tensor.extract %[[SLICE]][%{{.*}}, %c4{{.*}}] : tensor<6x5xf32>
// CHECK: vector.broadcast %[[T4]] : f32 to vector<4xf32>
// CHECK-COUNT-3: vector.transfer_read %[[SLICE]]
// CHECK: scf.yield
// CHECK: scf.for %{{.*}} = %[[END]] to %{{.*}} step %c1{{.*}} iter_args(%{{.*}} = %[[UNROLLED]]#0,
// CHECK: vector.transfer_read %[[SLICE]]
// CHECK-NOT: vector.transfer_read
// CHECK: scf.yield
func.func @tokens(%x: tensor<5x6xf32>) -> tensor<5x4xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
                             [7.0, 8.0, 9.0, 1.0, 2.0, 3.0], [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]]> : tensor<4x6xf32>
  %y = sparsec.linear %x, %w : (tensor<5x6xf32>, tensor<4x6xf32>) -> tensor<5x4xf32>
  return %y : tensor<5x4xf32>
}

// -----

// Convolutions with token-vectors take a tile's 8 channel weights as two
// vector loads of the packed row and multiply by lane; the tile is 8
// channels x 3 pixel vectors.
// CHECK: memref.global "private" constant @{{.*}} : memref<9x8xf32>
// CHECK-LABEL: func.func @conv
// CHECK: scf.for %{{.*}} step %c4
// CHECK: %[[WV:.*]] = vector.load %{{.*}}[%{{.*}}, %c0{{.*}}] : memref<9x8xf32>, vector<4xf32>
// CHECK: %[[W0:.*]] = vector.extract %[[WV]][0] : f32 from vector<4xf32>
// CHECK: %[[S:.*]] = vector.broadcast %[[W0]] : f32 to vector<4xf32>
// CHECK-COUNT-3: vector.fma %[[S]],
// CHECK: vector.load %{{.*}}[%{{.*}}, %c4{{.*}}] : memref<9x8xf32>, vector<4xf32>
func.func @conv(%x: tensor<1x1x6x6xf32>) -> tensor<1x8x6x6xf32> {
  %w = arith.constant dense<0.5> : tensor<8x1x3x3xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x1x6x6xf32>, tensor<8x1x3x3xf32>) -> tensor<1x8x6x6xf32>
  return %y : tensor<1x8x6x6xf32>
}
