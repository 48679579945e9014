// RUN: sparsec-opt %s --sparsec-prune-nm -verify-diagnostics | FileCheck %s

// A weight that is not a constant is left dense with a warning.
// CHECK-LABEL: func @dynamic_weight
// CHECK-NOT: weight_encoding
func.func @dynamic_weight(%x: tensor<1x8xf32>, %w: tensor<4x8xf32>) -> tensor<1x4xf32> {
  // expected-warning @+1 {{sparsec-prune-nm: layer '#0' has no constant weight; left dense}}
  %y = sparsec.linear %x, %w : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}
