// RUN: sparsec-opt %s --convert-scf-to-openmp --sparsec-cpu-schedule-kernel-loops | FileCheck %s
// RUN: sparsec-opt %s --convert-scf-to-openmp --sparsec-cpu-schedule-kernel-loops="schedule=dynamic chunk=4" | FileCheck %s --check-prefix=DYN
// RUN: sparsec-opt %s --convert-scf-to-openmp --sparsec-cpu-schedule-kernel-loops="schedule=static" | FileCheck %s --check-prefix=STATIC
// RUN: sparsec-opt %s --convert-scf-to-openmp --sparsec-cpu-schedule-kernel-loops="schedule=runtime" | FileCheck %s --check-prefix=RUNTIME

// A kernel's tile loop (its location named by the tag, which the conversion
// keeps while it drops the attribute) gets the kernels' schedule; the
// elementwise loop after it keeps the default static one.
// CHECK-LABEL: func.func @kernel_then_elementwise
// CHECK: %[[CHUNK:.*]] = arith.constant 1 : i32
// CHECK-NEXT: omp.parallel {
// CHECK-NEXT: omp.wsloop schedule(guided = %[[CHUNK]] : i32) {
// CHECK: memref.store %{{.*}}, %arg0
// CHECK: omp.parallel {
// CHECK-NEXT: omp.wsloop {
// CHECK: memref.store %{{.*}}, %arg1
// DYN-LABEL: func.func @kernel_then_elementwise
// DYN: %[[CHUNK:.*]] = arith.constant 4 : i32
// DYN-NEXT: omp.parallel {
// DYN-NEXT: omp.wsloop schedule(dynamic = %[[CHUNK]] : i32) {
// DYN: omp.wsloop {
// STATIC-LABEL: func.func @kernel_then_elementwise
// STATIC: omp.wsloop schedule(static) {
// STATIC-NOT: schedule(
// STATIC-LABEL: func.func @fused_and_scheduled
// RUNTIME-LABEL: func.func @kernel_then_elementwise
// RUNTIME: omp.wsloop schedule(runtime) {
// RUNTIME-NOT: schedule(
// RUNTIME-LABEL: func.func @fused_and_scheduled
func.func @kernel_then_elementwise(%tiles: memref<64xf32>, %rows: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %one = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    memref.store %one, %tiles[%i] : memref<64xf32>
    scf.reduce
  } loc(#kernel)
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    memref.store %one, %rows[%i] : memref<64xf32>
    scf.reduce
  }
  return
}

// The tag inside a fused location (what a rewrite that merges ops gives)
// still counts; a loop that already has a schedule keeps it.
// CHECK-LABEL: func.func @fused_and_scheduled
// CHECK: omp.wsloop schedule(guided
// CHECK: omp.wsloop schedule(static) {
func.func @fused_and_scheduled(%m: memref<64xf32>, %lb: index, %ub: index) {
  %c1 = arith.constant 1 : index
  %one = arith.constant 1.0 : f32
  scf.parallel (%i) = (%lb) to (%ub) step (%c1) {
    memref.store %one, %m[%i] : memref<64xf32>
    scf.reduce
  } loc(fused["sparsec.cpu.kernel_loop"("model.onnx":2:1), "other"])
  omp.parallel {
    omp.wsloop schedule(static) {
      omp.loop_nest (%i) : index = (%lb) to (%ub) step (%c1) {
        memref.store %one, %m[%i] : memref<64xf32>
        omp.yield
      }
    } loc(#kernel)
    omp.terminator
  }
  return
}

#kernel = loc("sparsec.cpu.kernel_loop"("model.onnx":1:1))
