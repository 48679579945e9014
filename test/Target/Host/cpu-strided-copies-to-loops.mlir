// RUN: sparsec-opt %s --sparsec-cpu-strided-copies-to-loops | FileCheck %s

// A copy into the interior of a padded buffer (a strided subview) becomes a
// linalg.copy: loops, not the runtime's element-by-element memrefCopy.
// CHECK-LABEL: func.func @into_padded
// CHECK: %[[VIEW:.*]] = memref.subview
// CHECK: linalg.copy ins(%{{.*}} : memref<2x3xf32>) outs(%[[VIEW]] : memref<2x3xf32, strided<[5, 1], offset: 6>>)
// CHECK-NOT: memref.copy
func.func @into_padded(%x: memref<2x3xf32>, %padded: memref<4x5xf32>) {
  %view = memref.subview %padded[1, 1] [2, 3] [1, 1] : memref<4x5xf32> to memref<2x3xf32, strided<[5, 1], offset: 6>>
  memref.copy %x, %view : memref<2x3xf32> to memref<2x3xf32, strided<[5, 1], offset: 6>>
  return
}

// A slice of a wider buffer copied out: the source is strided.
// CHECK-LABEL: func.func @out_of_slice
// CHECK: linalg.copy
// CHECK-NOT: memref.copy
func.func @out_of_slice(%y: memref<3x8xf32>, %out: memref<3x6xf32>) {
  %view = memref.subview %y[0, 0] [3, 6] [1, 1] : memref<3x8xf32> to memref<3x6xf32, strided<[8, 1]>>
  memref.copy %view, %out : memref<3x6xf32, strided<[8, 1]>> to memref<3x6xf32>
  return
}

// Contiguous copies stay memref.copy (a memcpy), as do unranked ones.
// CHECK-LABEL: func.func @contiguous
// CHECK: memref.copy %{{.*}}, %{{.*}} : memref<3x8xf32> to memref<3x8xf32>
// CHECK: memref.copy %{{.*}}, %{{.*}} : memref<*xf32> to memref<*xf32>
// CHECK-NOT: linalg.copy
func.func @contiguous(%a: memref<3x8xf32>, %b: memref<3x8xf32>, %u: memref<*xf32>, %v: memref<*xf32>) {
  memref.copy %a, %b : memref<3x8xf32> to memref<3x8xf32>
  memref.copy %u, %v : memref<*xf32> to memref<*xf32>
  return
}
