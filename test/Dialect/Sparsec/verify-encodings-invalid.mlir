// RUN: sparsec-opt %s --sparsec-verify-encodings=require-encoding -verify-diagnostics

func.func @missing(%x: tensor<1x8xf32>, %w: tensor<2x8xf32>) -> tensor<1x2xf32> {
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.dense}
      : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
  // expected-error @+1 {{layer has no weight_encoding (require-encoding is set)}}
  %z = sparsec.linear %x, %w : (tensor<1x8xf32>, tensor<2x8xf32>) -> tensor<1x2xf32>
  %s = arith.addf %y, %z : tensor<1x2xf32>
  return %s : tensor<1x2xf32>
}
