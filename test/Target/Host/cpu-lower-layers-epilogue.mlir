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

// GELU as ONNX exports it, x * 0.5 * (1 + erf(x / sqrt 2)), reads the
// layer's output twice: the whole graph of five generics is fused, in
// order, into the stores.
// CHECK-LABEL: func.func @linear_gelu
// CHECK: sparsec.cpu.kernel = {fused_elementwise = 5 : i64
// CHECK: %[[ACC:.*]]:2 = scf.for
// CHECK: vector.fma
// CHECK: %[[SCALED:.*]] = arith.divf %[[ACC]]#0, %{{.*}} : vector<4xf32>
// CHECK: %[[ERF:.*]] = math.erf %[[SCALED]] : vector<4xf32>
// CHECK: %[[ONE_PLUS:.*]] = arith.addf %[[ERF]], %{{.*}} : vector<4xf32>
// CHECK: %[[PRODUCT:.*]] = arith.mulf %[[ACC]]#0, %[[ONE_PLUS]] : vector<4xf32>
// CHECK: %[[HALF:.*]] = arith.mulf %[[PRODUCT]], %{{.*}} : vector<4xf32>
// CHECK: vector.maskedstore %{{.*}}, %{{.*}}, %[[HALF]]
// CHECK-NOT: linalg.generic
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#s = affine_map<(d0, d1) -> ()>
func.func @linear_gelu(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %sqrt2 = arith.constant dense<1.41421354> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %y = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %d = linalg.generic {indexing_maps = [#id2, #s, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y, %sqrt2 : tensor<2x3xf32>, tensor<f32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.divf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  %erf = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%d : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.erf %a : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  %p = linalg.generic {indexing_maps = [#id2, #s, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%erf, %one : tensor<2x3xf32>, tensor<f32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.addf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  %m = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y, %p : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.mulf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  %g = linalg.generic {indexing_maps = [#id2, #s, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%m, %half : tensor<2x3xf32>, tensor<f32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.mulf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<2x3xf32>
  return %g : tensor<2x3xf32>
}

// -----

// A residual connection's add, then a ReLU, after a linear layer: the add
// reads the other tensor (here the function's argument) at the lanes each
// store writes (a transfer_read that pads past the row's end, for the
// masked partial panel), and both generics are gone.
// CHECK-LABEL: func.func @linear_residual
// CHECK-SAME: %[[SKIP:[a-z0-9]+]]: tensor<2x3xf32>
// CHECK: sparsec.cpu.kernel = {fused_elementwise = 2 : i64
// CHECK: vector.fma
// CHECK: %[[LANES:.*]] = vector.transfer_read %[[SKIP]][%{{.*}}, %{{.*}}], %{{.*}} : tensor<2x3xf32>, vector<4xf32>
// CHECK: %[[SUM:.*]] = arith.addf %{{.*}}, %[[LANES]] : vector<4xf32>
// CHECK: %[[RELU:.*]] = arith.maximumf %[[SUM]], %{{.*}} : vector<4xf32>
// CHECK: vector.maskedstore %{{.*}}, %{{.*}}, %[[RELU]]
// CHECK-NOT: linalg.generic
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @linear_residual(%x: tensor<2x4xf32>, %skip: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %y = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %sum = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y, %skip : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  %r = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%sum : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %zero = arith.constant 0.0 : f32
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}

// -----

// ResNet's downsampling block: the residual add reads the main branch's
// last convolution and the 1x1 stride-2 shortcut, which comes after it.
// The shortcut's kernel takes the add (the other operand is defined before
// it; the main branch's could not have read the shortcut's). Its output
// rows have no padding columns, so the residual is read flat as [N, O,
// pixels]. Of its 3x3 = 9 pixels, one block of 8 reads the residual as a
// vector, the last pixel (channels along the lanes) lane by lane.
// CHECK-LABEL: func.func @conv_residual
// CHECK: sparsec.cpu.kernel = {column_chunk = 0 : i64, im2col = false, kept_columns = 18 : i64
// CHECK: %[[MAIN:.*]] = tensor.extract_slice {{.*}} to tensor<1x3x3x3xf32>
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[MAIN]] {{\[}}[0], [1], [2, 3]] : tensor<1x3x3x3xf32> into tensor<1x3x9xf32>
// CHECK: sparsec.cpu.kernel = {column_chunk = 0 : i64, fused_elementwise = 2 : i64, im2col = false, kept_columns = 2 : i64, {{.*}}lane_pixels = 1 : i64
// CHECK: %[[LANES:.*]] = vector.transfer_read %[[FLAT]][%{{.*}}, %{{.*}}, %{{.*}}], %{{.*}} : tensor<1x3x9xf32>, vector<4xf32>
// CHECK: %[[SUM:.*]] = arith.addf %[[LANES]], %{{.*}} : vector<4xf32>
// CHECK: %[[RELU:.*]] = arith.maximumf %[[SUM]], %{{.*}} : vector<4xf32>
// CHECK: vector.store %[[RELU]]
// The lane pixel: channels c..c+3, clamped to the last channel (2).
// CHECK: %[[CH:.*]] = arith.minsi %{{.*}}, %c2{{.*}} : index
// CHECK: tensor.extract %[[FLAT]][%{{.*}}, %[[CH]], %{{.*}}] : tensor<1x3x9xf32>
// CHECK: vector.from_elements
// CHECK: arith.addf
// CHECK: arith.maximumf
// CHECK: memref.store
// CHECK-NOT: linalg.generic
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @conv_residual(%x: tensor<1x2x6x6xf32>) -> tensor<1x3x3x3xf32> {
  %w3 = arith.constant dense<1.0> : tensor<3x2x3x3xf32>
  %w1 = arith.constant dense<2.0> : tensor<3x2x1x1xf32>
  %main = sparsec.conv2d %x, %w3 {strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x2x6x6xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x3x3xf32>
  %short = sparsec.conv2d %x, %w1 {strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x2x6x6xf32>, tensor<3x2x1x1xf32>) -> tensor<1x3x3x3xf32>
  %e = tensor.empty() : tensor<1x3x3x3xf32>
  %sum = linalg.generic {indexing_maps = [#id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%main, %short : tensor<1x3x3x3xf32>, tensor<1x3x3x3xf32>) outs(%e : tensor<1x3x3x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x3x3x3xf32>
  %r = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%sum : tensor<1x3x3x3xf32>) outs(%e : tensor<1x3x3x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %zero = arith.constant 0.0 : f32
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<1x3x3x3xf32>
  return %r : tensor<1x3x3x3xf32>
}

// -----

// Not fused: two generics of the layer's output that are both read
// elsewhere (no one result could replace them), an add whose other tensor
// is defined after the layer, an add
// of a tensor broadcast along a dimension (not the layer's shape), a
// convolution whose rows carry padding columns (direct on an 8 x 16 image:
// its kernel's output is not laid out as the residual; on small images the
// im2col form has none), and a layer output with two users (the
// un-activated value is needed too).
// CHECK-LABEL: func.func @not_fusable
// CHECK-NOT: fused_elementwise
// CHECK: linalg.generic
// CHECK-NOT: fused_elementwise
// CHECK: linalg.generic
// CHECK-NOT: fused_elementwise
// CHECK: linalg.generic
// CHECK-NOT: fused_elementwise
// CHECK: linalg.generic
// CHECK-NOT: fused_elementwise
// CHECK: linalg.generic
// CHECK-NOT: fused_elementwise
// CHECK: linalg.generic
// CHECK-NOT: fused_elementwise
// CHECK: linalg.generic
// CHECK-NOT: fused_elementwise
// CHECK: return
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d1)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
func.func @not_fusable(%x: tensor<2x4xf32>, %skip: tensor<2x3xf32>, %bias: tensor<3xf32>,
                       %image: tensor<1x2x8x16xf32>, %skip4: tensor<1x3x8x16xf32>)
    -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<1x3x8x16xf32>,
        tensor<2x3xf32>, tensor<2x3xf32>) {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %e = tensor.empty() : tensor<2x3xf32>
  %y = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  %later = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%skip : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %d = arith.addf %a, %a : f32
    linalg.yield %d : f32
  } -> tensor<2x3xf32>
  %sum = linalg.generic {indexing_maps = [#id2, #id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y, %later : tensor<2x3xf32>, tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  %y2 = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  %bcast = linalg.generic {indexing_maps = [#id2, #row, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%y2, %bias : tensor<2x3xf32>, tensor<3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<2x3xf32>
  %w3 = arith.constant dense<1.0> : tensor<3x2x3x3xf32>
  %c = sparsec.conv2d %image, %w3 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>,
      dilations = array<i64: 1, 1>, groups = 1 : i64}
      : (tensor<1x2x8x16xf32>, tensor<3x2x3x3xf32>) -> tensor<1x3x8x16xf32>
  %e4 = tensor.empty() : tensor<1x3x8x16xf32>
  %csum = linalg.generic {indexing_maps = [#id4, #id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%c, %skip4 : tensor<1x3x8x16xf32>, tensor<1x3x8x16xf32>) outs(%e4 : tensor<1x3x8x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x3x8x16xf32>
  %z = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  %r = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%z : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %zero = arith.constant 0.0 : f32
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<2x3xf32>
  %t = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  %t1 = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%t : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<2x3xf32>
  %t2 = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%t : tensor<2x3xf32>) outs(%e : tensor<2x3xf32>) {
  ^bb0(%a: f32, %o: f32):
    %n = arith.mulf %a, %a : f32
    linalg.yield %n : f32
  } -> tensor<2x3xf32>
  return %sum, %bcast, %r, %z, %csum, %t1, %t2 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<1x3x8x16xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}
