func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %y = sparsec.permute %x {axis = 1 : i64, permutation = array<i64: 2, 0, 1>} : tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
