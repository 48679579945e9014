// RUN: sparsec-opt %s --sparsec-cpu-dynamic-expand-shapes | FileCheck %s

// [tokens, 8] viewed as [batch, seq, 8] (both dynamic): a reinterpret_cast
// with the row-major strides of the output sizes (expand-strided-metadata
// crashes on the expand_shape; the e2e dynamic-shape tests run this path).
// CHECK-LABEL: func.func @split_tokens
// CHECK-SAME: (%[[A:.*]]: memref<?x8xf32>, %[[B:.*]]: index, %[[S:.*]]: index)
// CHECK: %[[STRIDE:.*]] = arith.muli %{{.*}}, %[[S]] : index
// CHECK: memref.reinterpret_cast %[[A]] to offset: [0], sizes: [%[[B]], %[[S]], 8], strides: [%[[STRIDE]], 8, 1] : memref<?x8xf32> to memref<?x?x8xf32>
// CHECK-NOT: memref.expand_shape
func.func @split_tokens(%a: memref<?x8xf32>, %b: index, %s: index) -> memref<?x?x8xf32> {
  %e = memref.expand_shape %a [[0, 1], [2]] output_shape [%b, %s, 8] : memref<?x8xf32> into memref<?x?x8xf32>
  return %e : memref<?x?x8xf32>
}

// Static sizes between dynamic ones multiply into the strides.
// CHECK-LABEL: func.func @with_unit_dim
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%{{.*}}, %{{.*}}, 1, 8], strides: [%{{.*}}, 8, 8, 1]
func.func @with_unit_dim(%a: memref<?x8xf32>, %b: index, %s: index) -> memref<?x?x1x8xf32> {
  %e = memref.expand_shape %a [[0, 1, 2], [3]] output_shape [%b, %s, 1, 8] : memref<?x8xf32> into memref<?x?x1x8xf32>
  return %e : memref<?x?x1x8xf32>
}

// One dynamic size per group: left to expand-strided-metadata.
// CHECK-LABEL: func.func @one_dynamic_per_group
// CHECK: memref.expand_shape
// CHECK-NOT: memref.reinterpret_cast
func.func @one_dynamic_per_group(%a: memref<?x8xf32>, %b: index) -> memref<?x2x4xf32> {
  %e = memref.expand_shape %a [[0], [1, 2]] output_shape [%b, 2, 4] : memref<?x8xf32> into memref<?x2x4xf32>
  return %e : memref<?x2x4xf32>
}

// A strided source is not contiguous: left alone.
// CHECK-LABEL: func.func @strided_source
// CHECK: memref.expand_shape
// CHECK-NOT: memref.reinterpret_cast
func.func @strided_source(%a: memref<?x8xf32, strided<[16, 1]>>, %b: index, %s: index) -> memref<?x?x8xf32, strided<[?, 16, 1]>> {
  %e = memref.expand_shape %a [[0, 1], [2]] output_shape [%b, %s, 8] : memref<?x8xf32, strided<[16, 1]>> into memref<?x?x8xf32, strided<[?, 16, 1]>>
  return %e : memref<?x?x8xf32, strided<[?, 16, 1]>>
}
