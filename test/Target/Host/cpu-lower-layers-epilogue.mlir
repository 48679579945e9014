// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-lower-layers="vector-width=4 tile-tokens=2 tile-vectors=1" | FileCheck %s

// A Clip (ReLU6) of a linear layer's output, its bounds 0-d constant
// tensors: the kernel clamps its accumulators with vector max/min before the
// (masked) store, and the generic is gone. The decision attribute counts the
// fused ops.
// CHECK-LABEL: func.func @linear_relu6
// CHECK: sparsec.cpu.kernel = {fused_elementwise = 1 : i64, kept_columns = 4 : i64, kind = "dense"
// CHECK: vector.fma
// CHECK: %[[LO:.*]] = arith.constant dense<0.000000e+00> : vector<4xf32>
// CHECK: %[[HI:.*]] = arith.constant dense<6.000000e+00> : vector<4xf32>
// CHECK: %[[MAX:.*]] = arith.maximumf %{{.*}}, %[[LO]] : vector<4xf32>
// CHECK: %[[MIN:.*]] = arith.minimumf %[[MAX]], %[[HI]] : vector<4xf32>
// CHECK: vector.maskedstore %{{.*}}, %{{.*}}, %[[MIN]]
// CHECK-NOT: linalg.generic
#id = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>
func.func @linear_relu6(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %lo = arith.constant dense<0.0> : tensor<f32>
  %hi = arith.constant dense<6.0> : tensor<f32>
  %y = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %r = linalg.generic {indexing_maps = [#id, #s, #s, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y, %lo, %hi : tensor<2x3xf32>, tensor<f32>, tensor<f32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %l: f32, %h: f32, %o: f32):
    %m = arith.maximumf %a, %l : f32
    %n = arith.minimumf %m, %h : f32
    linalg.yield %n : f32
  } -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}

// -----

// A chain of two generics after a convolution (ReLU, then LeakyReLU with a
// compare and a select): both are fused, in order, into the stores.
// CHECK-LABEL: func.func @conv_chain
// CHECK: sparsec.cpu.kernel = {column_chunk = 0 : i64, fused_elementwise = 2 : i64
// CHECK: vector.fma
// CHECK: %[[RELU:.*]] = arith.maximumf %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK: %[[NEG:.*]] = arith.cmpf olt, %[[RELU]], %{{.*}} : vector<4xf32>
// CHECK: %[[SCALED:.*]] = arith.mulf %[[RELU]], %{{.*}} : vector<4xf32>
// CHECK: %[[LEAKY:.*]] = arith.select %[[NEG]], %[[SCALED]], %[[RELU]] : vector<4xi1>, vector<4xf32>
// CHECK: vector.store %[[LEAKY]]
// CHECK-NOT: linalg.generic
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @conv_chain(%x: tensor<1x2x4x4xf32>) -> tensor<1x3x4x4xf32> {
  %w = arith.constant dense<1.0> : tensor<3x2x1x1xf32>
  %y = sparsec.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x4x4xf32>
  %e = tensor.empty() : tensor<1x3x4x4xf32>
  %r = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%y : tensor<1x3x4x4xf32>) outs(%e : tensor<1x3x4x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %zero = arith.constant 0.0 : f32
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x3x4x4xf32>
  %l = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%r : tensor<1x3x4x4xf32>) outs(%e : tensor<1x3x4x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %zero = arith.constant 0.0 : f32
    %alpha = arith.constant 0.01 : f32
    %neg = arith.cmpf olt, %a, %zero : f32
    %s = arith.mulf %a, %alpha : f32
    %v = arith.select %neg, %s, %a : f32
    linalg.yield %v : f32
  } -> tensor<1x3x4x4xf32>
  return %l : tensor<1x3x4x4xf32>
}

// -----

// Not fused: a residual add (reads another tensor), and a layer output with
// two users (the un-activated value is needed too).
// CHECK-LABEL: func.func @not_fusable
// CHECK-NOT: fused_elementwise
// CHECK: linalg.generic
// CHECK: linalg.generic
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @not_fusable(%x: tensor<2x4xf32>, %skip: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %y = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %sum = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y, %skip : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  %z = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  %r = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%z : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %zero = arith.constant 0.0 : f32
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<2x3xf32>
  return %sum, %r, %z : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}
