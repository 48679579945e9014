// RUN: sparsec-opt %s --split-input-file --sparsec-permute-channels="pattern=nm method=asp" --sparsec-prune-nm="n=2 m=4" --sparsec-verify-encodings | FileCheck %s --check-prefix=ASP
// RUN: sparsec-opt %s --split-input-file --sparsec-permute-channels="pattern=hinm v=16 vector-sparsity=0.5 method=gyro include=^fc$" --sparsec-prune-hinm="v=16 vector-sparsity=0.5 column-grouping=gyro include=^fc$" --sparsec-verify-encodings | FileCheck %s --check-prefix=GYRO
// RUN: sparsec-opt %s --split-input-file --sparsec-permute-channels="pattern=hinm v=16 vector-sparsity=0.5 method=gyro explicit-permutes=false include=^fc$" --sparsec-prune-hinm="v=16 vector-sparsity=0.5 column-grouping=gyro include=^fc$" | FileCheck %s --check-prefix=NOEXPLICIT
// RUN: sparsec-opt %s --split-input-file --sparsec-permute-channels="pattern=nm method=asp seed=7" --sparsec-prune-nm="n=2 m=4" | sparsec-opt --sparsec-lower-to-linalg | FileCheck %s --check-prefix=LOWER

// fc2 keeps at most 2 of its 4 nines per row group in channel order; after
// the input-channel permutation every group holds two nines and two ones.
// The permutation is folded into fc1's rows (and ReLU passes it through):
// no runtime permute op is left.
// ASP-LABEL: func @chain
// ASP-NOT: sparsec.permute
// ASP: sparsec.linear {{.*}}sparsec.row_perm = array<i64:
// ASP: sparsec.linear {{.*}}sparsec.col_perm = array<i64:
// ASP-SAME: sparsec.prune_stats = {kept_saliency = 4.000000e+01 : f64, kept_saliency_unpermuted = 2.000000e+01 : f64
// LOWER-LABEL: func @chain
// LOWER-NOT: sparsec.
func.func @chain(%x: tensor<1x4xf32>) -> tensor<1x2xf32> {
  %w1 = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [1.5, 2.5, 3.5, 4.5],
                              [5.5, 6.5, 7.5, 8.5], [1.0, 0.0, 3.0, 0.0], [0.0, 2.0, 0.0, 4.0],
                              [9.0, 1.0, 1.0, 9.0], [2.0, 2.0, 3.0, 3.0]]> : tensor<8x4xf32>
  %w2 = arith.constant dense<[[9.0, 9.0, 9.0, 9.0, 0.0, 0.0, 0.0, 0.0],
                              [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]]> : tensor<2x8xf32>
  %h = sparsec.linear %x, %w1 : (tensor<1x4xf32>, tensor<8x4xf32>) -> tensor<1x8xf32> loc("fc1")
  %e = tensor.empty() : tensor<1x8xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                       iterator_types = ["parallel", "parallel"]} ins(%h : tensor<1x8xf32>) outs(%e : tensor<1x8xf32>) {
  ^bb0(%in: f32, %out: f32):
    %zero = arith.constant 0.0 : f32
    %m = arith.maximumf %in, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x8xf32>
  %y = sparsec.linear %r, %w2 : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32> loc("fc2")
  return %y : tensor<1x2xf32>
}

// -----

// Even rows prefer columns 0..3, odd rows 4..7: in row order every tile
// mixes both and keeps 4 half-useful columns. Stage A groups like rows into
// one tile. The output is a graph output, so nothing can absorb the row order:
// an explicit permute restores it.
// GYRO-LABEL: func @rows
// GYRO: %[[Y:.*]] = sparsec.linear {{.*}}sparsec.row_perm = array<i64:
// GYRO: sparsec.permute %[[Y]] {axis = 1 : i64, permutation = array<i64: {{.*}}>, sparsec.reason = "graph output"} : tensor<1x32xf32>
// NOEXPLICIT-LABEL: func @rows
// NOEXPLICIT-NOT: sparsec.permute
// NOEXPLICIT-NOT: row_perm
func.func @rows(%x: tensor<1x8xf32>) -> tensor<1x32xf32> {
  %w = arith.constant dense<[[4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0, 0.1, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 4.0, 3.0, 2.0, 1.0]]> : tensor<32x8xf32>
  %y = sparsec.linear %x, %w : (tensor<1x8xf32>, tensor<32x8xf32>) -> tensor<1x32xf32> loc("fc")
  return %y : tensor<1x32xf32>
}
