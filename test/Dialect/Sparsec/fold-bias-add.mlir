// RUN: sparsec-opt %s --split-input-file --sparsec-fold-bias-add --canonicalize | FileCheck %s

// ONNX's MatMul + Add(bias) on a rank-3 input: the broadcast add of a [3]
// constant along the last dimension becomes the layer's bias, and the
// generic is gone.
// CHECK-LABEL: func.func @linear_bias
// CHECK: %[[B:.*]] = arith.constant dense<[1.000000e+00, 2.000000e+00, 3.000000e+00]> : tensor<3xf32>
// CHECK: %[[Y:.*]] = sparsec.linear %{{.*}}, %{{.*}}, %[[B]] : (tensor<2x5x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x5x3xf32>
// CHECK-NOT: linalg.generic
// CHECK: return %[[Y]]
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#last = affine_map<(d0, d1, d2) -> (d2)>
func.func @linear_bias(%x: tensor<2x5x4xf32>) -> tensor<2x5x3xf32> {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %c = arith.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %y = sparsec.linear %x, %w : (tensor<2x5x4xf32>, tensor<3x4xf32>) -> tensor<2x5x3xf32>
  %e = tensor.empty() : tensor<2x5x3xf32>
  %r = linalg.generic {indexing_maps = [#id3, #last, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%y, %c : tensor<2x5x3xf32>, tensor<3xf32>) outs(%e : tensor<2x5x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x5x3xf32>
  return %r : tensor<2x5x3xf32>
}

// -----

// The constant first, a layer that already has a bias (added first: 10 +
// 1, ...), and an addend of shape [1, 1, 3] read through constant indices.
// CHECK-LABEL: func.func @linear_existing_bias
// CHECK: %[[B:.*]] = arith.constant dense<[1.100000e+01, 2.200000e+01, 3.300000e+01]> : tensor<3xf32>
// CHECK: sparsec.linear %{{.*}}, %{{.*}}, %[[B]]
// CHECK-NOT: linalg.generic
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (0, 0, d1)>
func.func @linear_existing_bias(%x: tensor<5x4xf32>) -> tensor<5x3xf32> {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %b0 = arith.constant dense<[10.0, 20.0, 30.0]> : tensor<3xf32>
  %c = arith.constant dense<[[[1.0, 2.0, 3.0]]]> : tensor<1x1x3xf32>
  %y = sparsec.linear %x, %w, %b0 : (tensor<5x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<5x3xf32>
  %e = tensor.empty() : tensor<5x3xf32>
  %r = linalg.generic {indexing_maps = [#row, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%c, %y : tensor<1x1x3xf32>, tensor<5x3xf32>) outs(%e : tensor<5x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<5x3xf32>
  return %r : tensor<5x3xf32>
}

// -----

// A convolution's per-channel add ([2, 1, 1] broadcast over the pixels).
// CHECK-LABEL: func.func @conv_channel_add
// CHECK: %[[B:.*]] = arith.constant dense<[5.000000e-01, -5.000000e-01]> : tensor<2xf32>
// CHECK: sparsec.conv2d %{{.*}}, %{{.*}}, %[[B]]
// CHECK-NOT: linalg.generic
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#chan = affine_map<(d0, d1, d2, d3) -> (d1, 0, 0)>
func.func @conv_channel_add(%x: tensor<1x3x4x4xf32>) -> tensor<1x2x4x4xf32> {
  %w = arith.constant dense<1.0> : tensor<2x3x1x1xf32>
  %c = arith.constant dense<[[[0.5]], [[-0.5]]]> : tensor<2x1x1xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x3x4x4xf32>, tensor<2x3x1x1xf32>) -> tensor<1x2x4x4xf32>
  %e = tensor.empty() : tensor<1x2x4x4xf32>
  %r = linalg.generic {indexing_maps = [#id4, #chan, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y, %c : tensor<1x2x4x4xf32>, tensor<2x1x1xf32>) outs(%e : tensor<1x2x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x2x4x4xf32>
  return %r : tensor<1x2x4x4xf32>
}

// -----

// Left alone: an addend that varies along another dimension (per token),
// one that is not a constant, a subtraction, and a layer output with a
// second user.
// CHECK-LABEL: func.func @not_folded
// CHECK: sparsec.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} : (
// CHECK: linalg.generic
// CHECK: sparsec.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} : (
// CHECK: linalg.generic
// CHECK: sparsec.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} : (
// CHECK: linalg.generic
// CHECK: sparsec.linear %{{[a-z0-9_]+}}, %{{[a-z0-9_]+}} : (
// CHECK: linalg.generic
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#tok = affine_map<(d0, d1) -> (d0)>
#last = affine_map<(d0, d1) -> (d1)>
func.func @not_folded(%x: tensor<5x4xf32>, %v: tensor<3xf32>)
    -> (tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>) {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %per_token = arith.constant dense<[1.0, 2.0, 3.0, 4.0, 5.0]> : tensor<5xf32>
  %c = arith.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %e = tensor.empty() : tensor<5x3xf32>
  %y0 = sparsec.linear %x, %w : (tensor<5x4xf32>, tensor<3x4xf32>) -> tensor<5x3xf32>
  %r0 = linalg.generic {indexing_maps = [#id2, #tok, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y0, %per_token : tensor<5x3xf32>, tensor<5xf32>) outs(%e : tensor<5x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<5x3xf32>
  %y1 = sparsec.linear %x, %w : (tensor<5x4xf32>, tensor<3x4xf32>) -> tensor<5x3xf32>
  %r1 = linalg.generic {indexing_maps = [#id2, #last, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y1, %v : tensor<5x3xf32>, tensor<3xf32>) outs(%e : tensor<5x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<5x3xf32>
  %y2 = sparsec.linear %x, %w : (tensor<5x4xf32>, tensor<3x4xf32>) -> tensor<5x3xf32>
  %r2 = linalg.generic {indexing_maps = [#id2, #last, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y2, %c : tensor<5x3xf32>, tensor<3xf32>) outs(%e : tensor<5x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.subf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<5x3xf32>
  %y3 = sparsec.linear %x, %w : (tensor<5x4xf32>, tensor<3x4xf32>) -> tensor<5x3xf32>
  %r3 = linalg.generic {indexing_maps = [#id2, #last, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y3, %c : tensor<5x3xf32>, tensor<3xf32>) outs(%e : tensor<5x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<5x3xf32>
  return %r0, %r1, %r2, %r3, %y3 : tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>, tensor<5x3xf32>
}
