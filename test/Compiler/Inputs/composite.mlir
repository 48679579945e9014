// A sum-of-terms layer and a product-of-factors layer (see
// test/Dialect/Sparsec/composite-encodings.mlir for the parts' layout).
func.func @main(%x: tensor<2x8xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %ws = arith.constant dense<[[1.0, 2.0, 8.0, 0.0, 3.0, 0.0, 0.0, 0.0],
                              [0.0, 0.0, 4.0, 5.0, 0.0, 0.0, 0.0, 6.0],
                              [1.0, 0.0, 0.0, 7.0, 0.0, 0.0, 0.0, 0.0],
                              [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %s = sparsec.linear %x, %ws {
      weight_encoding = #sparsec.sum<[#sparsec.nm<n = 2, m = 4>, #sparsec.nm<n = 1, m = 8>]>,
      weight_parts = [
        #sparsec.packed<values = dense<[[2.0, 8.0, 3.0, 0.0], [4.0, 5.0, 0.0, 6.0],
                                        [1.0, 7.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]> : tensor<4x4xf32>,
                        positions = dense<[[1, 2, 0, 1], [2, 3, 0, 3], [0, 3, 0, 1], [0, 1, 0, 1]]> : tensor<4x4xui8>>,
        dense<[[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
               [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
               [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
               [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<4x8xf32>]}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  %wp = arith.constant dense<[[1.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0],
                              [0.0, 1.0, 0.0, 1.0, 4.0, 0.0, 0.0, 0.0],
                              [1.0, 1.0, 2.0, 1.0, 4.0, 3.0, 0.0, 0.0],
                              [2.0, 0.0, 4.0, 0.0, 0.0, 6.0, 0.0, 0.0]]> : tensor<4x8xf32>
  %p = sparsec.linear %x, %wp {
      weight_encoding = #sparsec.product<[#sparsec.dense, #sparsec.nm<n = 2, m = 4>], inner = [2]>,
      weight_parts = [
        dense<[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]]> : tensor<4x2xf32>,
        dense<[[1.0, 0.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0],
               [0.0, 1.0, 0.0, 1.0, 4.0, 0.0, 0.0, 0.0]]> : tensor<2x8xf32>]}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %s, %p : tensor<2x4xf32>, tensor<2x4xf32>
}
