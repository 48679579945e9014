// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-shape-parallel-loops="min-iterations=100" | FileCheck %s

// An elementwise op's loops (4 parallel dimensions, nothing inside): the
// last dimension becomes an inner scf.for (LLVM vectorises it inside each
// thread's share), the others stay one scf.parallel.
// CHECK-LABEL: func.func @elementwise
// CHECK: scf.parallel (%[[I:.*]], %[[J:.*]], %[[K:.*]]) = (%c0, %c0, %c0) to (%c1, %c16, %c8) step (%c1, %c1, %c1) {
// CHECK-NEXT: scf.for %[[L:.*]] = %c0 to %c9 step %c1 {
// CHECK-NEXT: memref.load %arg0[%[[I]], %[[J]], %[[K]], %[[L]]]
// CHECK: memref.store
// CHECK-NOT: scf.parallel
func.func @elementwise(%a: memref<1x16x8x9xf32>, %b: memref<1x16x8x9xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c8 = arith.constant 8 : index
  %c9 = arith.constant 9 : index
  scf.parallel (%i, %j, %k, %l) = (%c0, %c0, %c0, %c0) to (%c1, %c16, %c8, %c9) step (%c1, %c1, %c1, %c1) {
    %x = memref.load %a[%i, %j, %k, %l] : memref<1x16x8x9xf32>
    %y = arith.addf %x, %x : f32
    memref.store %y, %b[%i, %j, %k, %l] : memref<1x16x8x9xf32>
    scf.reduce
  }
  return
}

// -----

// A pooling nest as the interchange pass orders it, (n, c, oh) parallel,
// (kh, kw) reductions, ow parallel: the outer loop stays parallel, the
// inner scf.parallel becomes a plain loop (no parallel region per window
// position).
// CHECK-LABEL: func.func @pooling
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for
// CHECK-NOT: scf.parallel
func.func @pooling(%a: memref<1x8x10x10xf32>, %b: memref<1x8x8x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c8 = arith.constant 8 : index
  scf.parallel (%n, %c, %y) = (%c0, %c0, %c0) to (%c1, %c8, %c8) step (%c1, %c1, %c1) {
    scf.for %i = %c0 to %c3 step %c1 {
      scf.for %j = %c0 to %c3 step %c1 {
        scf.parallel (%x) = (%c0) to (%c8) step (%c1) {
          %yy = arith.addi %y, %i : index
          %xx = arith.addi %x, %j : index
          %v = memref.load %a[%n, %c, %yy, %xx] : memref<1x8x10x10xf32>
          %o = memref.load %b[%n, %c, %y, %x] : memref<1x8x8x8xf32>
          %m = arith.maximumf %v, %o : f32
          memref.store %m, %b[%n, %c, %y, %x] : memref<1x8x8x8xf32>
          scf.reduce
        }
      }
    }
    scf.reduce
  }
  return
}

// -----

// Too little work (6 x 4 = 24 iterations < 100) to be worth threads: all
// sequential. A kernel's loop (sparsec.cpu.kernel_loop) is left alone.
// CHECK-LABEL: func.func @small_and_kernel
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.parallel
// CHECK: } {sparsec.cpu.kernel_loop}
func.func @small_and_kernel(%a: memref<6x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c6 = arith.constant 6 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c6, %c4) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<6x4xf32>
    memref.store %x, %a[%i, %j] : memref<6x4xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c6) step (%c1) {
    %x = memref.load %a[%i, %c0] : memref<6x4xf32>
    memref.store %x, %a[%i, %c1] : memref<6x4xf32>
    scf.reduce
  } {sparsec.cpu.kernel_loop}
  return
}
