// A hand-edited 2:4 layer whose metadata words do not match its positions.
func.func @main(%x: tensor<1x8xf32>) -> tensor<1x1xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x8xf32>
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 2, m = 4>,
      packed_weight = #sparsec.packed<values = dense<[[1.0, 0.0, 0.0, 0.0]]> : tensor<1x4xf32>,
                                      positions = dense<[[0, 1, 0, 1]]> : tensor<1x4xui8>,
                                      meta = dense<0> : tensor<32xui32>>}
      : (tensor<1x8xf32>, tensor<1x8xf32>) -> tensor<1x1xf32>
  return %y : tensor<1x1xf32>
}
