// RUN: sparsec-opt %s --sparsec-prune-nm="n=2 m=4 saliency=wanda value-type=f32" | FileCheck %s --check-prefix=WANDA
// RUN: sparsec-opt %s --sparsec-prune-nm="n=2 m=4 value-type=f32" | FileCheck %s --check-prefix=MAGNITUDE

// Wanda scores |w| · sqrt(Σx²) (algorithms.md §10.2): input 1 has norm 10,
// inputs 2 and 3 norm 0.1, so row 0 keeps |-1| (score 10) and |2| at input 0
// (score 2) over |3| and |4| (0.3, 0.4); magnitude keeps 3 and 4.
// WANDA-LABEL: func @wanda
// WANDA: arith.constant dense<{{\[\[}}2.000000e+00, -1.000000e+00, 0.000000e+00, 0.000000e+00]]>
// MAGNITUDE-LABEL: func @wanda
// MAGNITUDE: arith.constant dense<{{\[\[}}0.000000e+00, 0.000000e+00, 3.000000e+00, 4.000000e+00]]>
func.func @wanda(%x: tensor<3x4xf32>) -> tensor<3x1xf32> {
  %w = arith.constant dense<[[2.0, -1.0, 3.0, 4.0]]> : tensor<1x4xf32>
  %y = sparsec.linear %x, %w {sparsec.input_sq_norms = dense<[1.0, 100.0, 0.01, 0.01]> : tensor<4xf64>} : (tensor<3x4xf32>, tensor<1x4xf32>) -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}

