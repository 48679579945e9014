// RUN: sparsec-opt %s --split-input-file --sparsec-prune-nm="saliency=wanda" -verify-diagnostics
// RUN: not sparsec-opt %s --split-input-file --sparsec-prune-nm="saliency=sparsegpt" 2>&1 | FileCheck %s

// CHECK: error: sparsec-prune-nm: layer '#0' was not calibrated: --saliency=sparsegpt needs --calibration

func.func @uncalibrated(%x: tensor<1x8xf32>) -> tensor<1x4xf32> {
  %w = arith.constant dense<1.0> : tensor<4x8xf32>
  // expected-error @+1 {{sparsec-prune-nm: layer '#0' has no calibration statistics (sparsec.input_sq_norms): --saliency=wanda needs --calibration}}
  %y = sparsec.linear %x, %w : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// -----

func.func @mismatched(%x: tensor<1x8xf32>) -> tensor<1x4xf32> {
  %w = arith.constant dense<1.0> : tensor<4x8xf32>
  // expected-error @+1 {{sparsec-prune-nm: layer '#0' sparsec.input_sq_norms does not match the weight}}
  %y = sparsec.linear %x, %w {sparsec.input_sq_norms = dense<1.0> : tensor<4xf64>} : (tensor<1x8xf32>, tensor<4x8xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}
