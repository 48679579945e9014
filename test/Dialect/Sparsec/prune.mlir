// RUN: sparsec-opt %s --split-input-file --sparsec-prune-nm="n=2 m=4" | FileCheck %s --check-prefix=NM
// RUN: sparsec-opt %s --split-input-file --sparsec-prune-hinm="v=16 vector-sparsity=0.5" | FileCheck %s --check-prefix=HINM
// RUN: sparsec-opt %s --split-input-file --sparsec-prune-hinm="v=16 sparsity=0.75 meta-layout=meta16 value-type=f16" --sparsec-verify-encodings | FileCheck %s --check-prefix=HINM16
// RUN: sparsec-opt %s --split-input-file --sparsec-prune-nm="n=2 m=4 exclude=^fc$" | FileCheck %s --check-prefix=EXCLUDE
// RUN: sparsec-opt %s --split-input-file --sparsec-prune-nm="n=1 m=8" --sparsec-verify-encodings | FileCheck %s --check-prefix=ONE8
// RUN: sparsec-opt %s --split-input-file --sparsec-prune-nm="n=2 m=4 pack=false" --sparsec-verify-encodings | FileCheck %s --check-prefix=NOPACK

// Group (0..3) of row 0 keeps |-5| and |3|; group (4..7) keeps |-7| and |1|.
// Row 1: ties in (4, 4, 1, 4) go to the lower positions 0 and 1; the all-zero
// group keeps positions 0 and 1 as well.
// NM-LABEL: func @linear
// NM: %[[W:.*]] = arith.constant dense<{{\[\[}}0.000000e+00, -5.000000e+00, 3.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, -7.000000e+00, 1.000000e+00], [4.000000e+00, 4.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00]]> : tensor<2x8xf32>
// NM: sparsec.linear %{{.*}}, %[[W]] {packed_weight = #sparsec.packed<values = dense<{{\[\[}}-5.000000e+00, 3.000000e+00, -7.000000e+00, 1.000000e+00], [4.000000e+00, 4.000000e+00, 0.000000e+00, 0.000000e+00]]> : tensor<2x4xf32>, positions = dense<{{\[\[}}1, 2, 2, 3], [0, 1, 0, 1]]> : tensor<2x4xui8>,
// Codes: row 0 = 0x9, 0xE; row 1 and padding = 0x4. META32 word 0 = E_top(0, 0)
// holds row 0 in its low half and (padding) row 8 in its high half.
// NM-SAME: meta = dense<[1145324777, 1145324612, 1145324612, 1145324612, 1145324612, 1145324612,
// NM-SAME: sparsec.prune_stats = {kept_saliency = 2.400000e+01 : f64, kept_saliency_unpermuted = 2.400000e+01 : f64, total_saliency = 3.275000e+01 : f64, value_type = "f32"}
// NM-SAME: weight_encoding = #sparsec.nm<n = 2, m = 4>

// pack=false: the same masked weight and encoding, no packed copy.
// NOPACK-LABEL: func @linear
// NOPACK: %[[W:.*]] = arith.constant dense<{{\[\[}}0.000000e+00, -5.000000e+00, 3.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, -7.000000e+00, 1.000000e+00], [4.000000e+00, 4.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00]]> : tensor<2x8xf32>
// NOPACK-NOT: packed_weight
// NOPACK: sparsec.linear %{{.*}}, %[[W]] {sparsec.prune_stats = {{.*}}, weight_encoding = #sparsec.nm<n = 2, m = 4>}
// NOPACK-NOT: packed_weight
// NOPACK: return

// EXCLUDE-LABEL: func @linear
// EXCLUDE-NOT: weight_encoding
// EXCLUDE: return
// EXCLUDE-LABEL: func @hinm
// EXCLUDE: weight_encoding = #sparsec.nm
func.func @linear(%x: tensor<3x8xf32>) -> tensor<3x2xf32> {
  %w = arith.constant dense<[[1.0, -5.0, 3.0, 2.0, 0.5, 0.25, -7.0, 1.0],
                             [4.0, 4.0, 1.0, 4.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<2x8xf32>
  %y = sparsec.linear %x, %w : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32> loc("fc")
  return %y : tensor<3x2xf32>
}

// -----

// Every row is (1, ..., 8) up to sign: the tile keeps columns 4..7 (largest
// column sums), then 2:4 keeps 7 and 8 in every row.
// HINM-LABEL: func @hinm
// HINM: sparsec.linear
// HINM-SAME: col_idx = dense<[
// HINM-SAME: [4, 5, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]]> : tensor<1x32xui16>
// HINM-SAME: weight_encoding = #sparsec.hinm<v = 16, kept = 4, n = 2, m = 4>
// With sparsity 0.75 and 2:4, vs = 0.5: the same selection, values in f16.
// HINM16-LABEL: func @hinm
// HINM16: #sparsec.packed<values = dense_resource<w.values> : tensor<16x16xf16>
// HINM16-SAME: meta_layout = meta16
// HINM16-SAME: weight_encoding = #sparsec.hinm<v = 16, kept = 4, n = 2, m = 4>
// 1:8 keeps the single largest of each group of 8.
// ONE8-LABEL: func @hinm
// ONE8: positions = dense<7> : tensor<16x1xui8>
// ONE8-SAME: weight_encoding = #sparsec.nm<n = 1, m = 8>
func.func @hinm(%x: tensor<1x8xf32>) -> tensor<1x16xf32> {
  %w = arith.constant dense<[
      [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
      [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
      [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
      [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
      [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0, -7.0, -8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
      [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
      [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
      [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]]>
      : tensor<16x8xf32>
  %y = sparsec.linear %x, %w : (tensor<1x8xf32>, tensor<16x8xf32>) -> tensor<1x16xf32> loc("w")
  return %y : tensor<1x16xf32>
}
