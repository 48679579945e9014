// Weights large enough that pruning stores the packed arrays as
// dense_resource blobs (more than 256 bytes).
func.func @main(%x: tensor<2x64xf32>) -> tensor<2x32xf32> {
  %w = arith.constant dense<1.5> : tensor<32x64xf32>
  %y = sparsec.linear %x, %w : (tensor<2x64xf32>, tensor<32x64xf32>) -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
