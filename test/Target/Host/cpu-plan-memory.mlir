// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-plan-memory | FileCheck %s

// Three buffers of 1024, 512 and 1024 bytes, live over ops [4, 6], [6, 10]
// and [7, 11] (a view's uses count for its buffer): %a and %c are never
// live together and share offset 0, %b lives with both and goes after
// them. The arena is 1536 bytes instead of 2560.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: sparsec.cpu.arena_bytes = 1536 : i64
// CHECK-SAME: sparsec.cpu.unplanned_bytes = 2560 : i64
// CHECK: %[[ARENA:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1536xi8>
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[A:.*]] = memref.view %[[ARENA]][%[[C0]]][] : memref<1536xi8> to memref<256xf32>
// CHECK: %[[C1024:.*]] = arith.constant 1024 : index
// CHECK: %[[B:.*]] = memref.view %[[ARENA]][%[[C1024]]][] : memref<1536xi8> to memref<128xf32>
// CHECK: %[[C0B:.*]] = arith.constant 0 : index
// CHECK: %[[C:.*]] = memref.view %[[ARENA]][%[[C0B]]][] {sparsec.cpu.kernel = {kind = "test"}} : memref<1536xi8> to memref<16x16xf32>
// CHECK-NOT: memref.alloc
// CHECK: memref.copy %[[B]]
// CHECK-NOT: memref.dealloc %[[A]]
// CHECK: memref.dealloc %[[ARENA]] : memref<1536xi8>
// CHECK-NEXT: return
func.func @chain(%in: memref<256xf32>, %out: memref<256xf32>) {
  %cst = arith.constant 0.0 : f32
  %a = memref.alloc() {alignment = 64 : i64} : memref<256xf32>
  %b = memref.alloc() {alignment = 64 : i64} : memref<128xf32>
  %c = memref.alloc() {alignment = 64 : i64, sparsec.cpu.kernel = {kind = "test"}} : memref<16x16xf32>
  memref.copy %in, %a : memref<256xf32> to memref<256xf32>
  %a0 = memref.subview %a[0] [128] [1] : memref<256xf32> to memref<128xf32, strided<[1]>>
  memref.copy %a0, %b : memref<128xf32, strided<[1]>> to memref<128xf32>
  %cf = memref.collapse_shape %c [[0, 1]] : memref<16x16xf32> into memref<256xf32>
  linalg.fill ins(%cst : f32) outs(%cf : memref<256xf32>)
  %cs = memref.subview %cf[0] [128] [1] : memref<256xf32> to memref<128xf32, strided<[1]>>
  memref.copy %b, %cs : memref<128xf32> to memref<128xf32, strided<[1]>>
  memref.copy %cf, %out : memref<256xf32> to memref<256xf32>
  memref.dealloc %a : memref<256xf32>
  memref.dealloc %b : memref<128xf32>
  memref.dealloc %c : memref<16x16xf32>
  return
}

// -----

// Buffers that may escape (through a call, a return, a pointer taken out of
// them), or whose life is not in the entry block, stay
// separate allocations; the two others share the arena (they are live
// together: 64 + 12 bytes, each taking a 64-byte-aligned slot).
func.func private @consume(memref<4xf32>)
// CHECK-LABEL: func.func @escapes
// CHECK-SAME: sparsec.cpu.arena_bytes = 128 : i64
// CHECK-SAME: sparsec.cpu.unplanned_bytes = 128 : i64
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<128xi8>
// CHECK-DAG: %[[CALLED:.*]] = memref.alloc() : memref<4xf32>
// CHECK-DAG: %[[NESTED:.*]] = memref.alloc() : memref<8xf32>
// CHECK-DAG: %[[DYNAMIC:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK-DAG: %[[YIELDED:.*]] = memref.alloc() : memref<2xf32>
// CHECK-DAG: %[[POINTED:.*]] = memref.alloc() : memref<5xf32>
// CHECK-DAG: memref.view {{.*}} to memref<16xf32>
// CHECK-DAG: memref.view {{.*}} to memref<3xf32>
// CHECK: call @consume(%[[CALLED]])
// CHECK: memref.dealloc %[[NESTED]]
// CHECK: memref.dealloc %[[DYNAMIC]]
func.func @escapes(%n: index, %flag: i1, %x: memref<16xf32>) -> memref<2xf32> {
  %cst = arith.constant 1.0 : f32
  %called = memref.alloc() : memref<4xf32>
  %nested = memref.alloc() : memref<8xf32>
  %dynamic = memref.alloc(%n) : memref<?xf32>
  %yielded = memref.alloc() : memref<2xf32>
  %pointed = memref.alloc() : memref<5xf32>
  %pointer = memref.extract_aligned_pointer_as_index %pointed : memref<5xf32> -> index
  %p = memref.alloc() : memref<16xf32>
  %q = memref.alloc() : memref<3xf32>
  linalg.fill ins(%cst : f32) outs(%p : memref<16xf32>)
  linalg.fill ins(%cst : f32) outs(%q : memref<3xf32>)
  memref.copy %p, %x : memref<16xf32> to memref<16xf32>
  call @consume(%called) : (memref<4xf32>) -> ()
  linalg.fill ins(%cst : f32) outs(%nested : memref<8xf32>)
  linalg.fill ins(%cst : f32) outs(%dynamic : memref<?xf32>)
  linalg.fill ins(%cst : f32) outs(%q : memref<3xf32>)
  scf.if %flag {
    memref.dealloc %nested : memref<8xf32>
  }
  memref.dealloc %called : memref<4xf32>
  memref.dealloc %pointed : memref<5xf32>
  memref.dealloc %dynamic : memref<?xf32>
  memref.dealloc %p : memref<16xf32>
  memref.dealloc %q : memref<3xf32>
  return %yielded : memref<2xf32>
}

// -----

// One buffer alone is left as it is: an arena would save nothing.
// CHECK-LABEL: func.func @single
// CHECK-NOT: sparsec.cpu.arena_bytes
// CHECK: memref.alloc() : memref<4xf32>
// CHECK-NOT: memref.view
func.func @single(%x: memref<4xf32>) {
  %a = memref.alloc() : memref<4xf32>
  memref.copy %x, %a : memref<4xf32> to memref<4xf32>
  memref.copy %a, %x : memref<4xf32> to memref<4xf32>
  memref.dealloc %a : memref<4xf32>
  return
}
