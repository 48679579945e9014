// RUN: sparsec-opt %s --split-input-file --sparsec-cpu-plan-memory="workspace=true" --verify-diagnostics | FileCheck %s

// A public function with an arena takes it as a last argument under a new
// name; a wrapper with the old name and signature allocates it and calls
// it; the arena's size is a public constant. Private functions keep their
// own allocation.
// CHECK-LABEL: memref.global constant @main_workspace_bytes : memref<i64> = dense<128>
// CHECK-LABEL: func.func @main(
// CHECK-SAME: %[[X:.*]]: memref<16xf32>, %[[Y:.*]]: memref<16xf32>)
// CHECK-SAME: sparsec.input_names = ["x"]
// CHECK-NEXT: %[[ARENA:.*]] = memref.alloc() {alignment = 64 : i64} : memref<128xi8>
// CHECK-NEXT: call @main_workspace(%[[X]], %[[Y]], %[[ARENA]]) : (memref<16xf32>, memref<16xf32>, memref<128xi8>) -> ()
// CHECK-NEXT: memref.dealloc %[[ARENA]]
// CHECK-NEXT: return
// CHECK-LABEL: func.func @main_workspace(
// CHECK-SAME: %{{.*}}: memref<16xf32>, %{{.*}}: memref<16xf32>, %[[WS:.*]]: memref<128xi8>)
// CHECK-SAME: sparsec.cpu.arena_bytes = 128 : i64
// CHECK-NOT: memref.alloc
// CHECK: memref.view %[[WS]]
// CHECK: memref.view %[[WS]]
// CHECK-NOT: memref.dealloc
// CHECK: return
// CHECK-LABEL: func.func private @helper
// CHECK: memref.alloc() {alignment = 64 : i64} : memref<128xi8>
func.func @main(%x: memref<16xf32>, %y: memref<16xf32>) attributes {sparsec.input_names = ["x"]} {
  %a = memref.alloc() : memref<16xf32>
  %b = memref.alloc() : memref<16xf32>
  memref.copy %x, %a : memref<16xf32> to memref<16xf32>
  memref.copy %a, %b : memref<16xf32> to memref<16xf32>
  memref.copy %b, %y : memref<16xf32> to memref<16xf32>
  memref.dealloc %a : memref<16xf32>
  memref.dealloc %b : memref<16xf32>
  return
}
func.func private @helper(%x: memref<16xf32>) {
  %a = memref.alloc() : memref<16xf32>
  %b = memref.alloc() : memref<16xf32>
  memref.copy %x, %a : memref<16xf32> to memref<16xf32>
  memref.copy %a, %b : memref<16xf32> to memref<16xf32>
  memref.copy %b, %x : memref<16xf32> to memref<16xf32>
  memref.dealloc %a : memref<16xf32>
  memref.dealloc %b : memref<16xf32>
  return
}

// -----

// The workspace entry's names are taken.
func.func private @main_workspace()
// expected-error @below {{sparsec-cpu-plan-memory: cannot name the workspace entry of 'main': 'main_workspace' or 'main_workspace_bytes' exists}}
func.func @main(%x: memref<16xf32>) {
  %a = memref.alloc() : memref<16xf32>
  %b = memref.alloc() : memref<16xf32>
  memref.copy %x, %a : memref<16xf32> to memref<16xf32>
  memref.copy %a, %b : memref<16xf32> to memref<16xf32>
  memref.copy %b, %x : memref<16xf32> to memref<16xf32>
  memref.dealloc %a : memref<16xf32>
  memref.dealloc %b : memref<16xf32>
  return
}

// -----

memref.global "private" constant @main_workspace_bytes : memref<i64> = dense<0>
// expected-error @below {{'main_workspace_bytes' exists}}
func.func @main(%x: memref<16xf32>) {
  %a = memref.alloc() : memref<16xf32>
  %b = memref.alloc() : memref<16xf32>
  memref.copy %x, %a : memref<16xf32> to memref<16xf32>
  memref.copy %a, %b : memref<16xf32> to memref<16xf32>
  memref.copy %b, %x : memref<16xf32> to memref<16xf32>
  memref.dealloc %a : memref<16xf32>
  memref.dealloc %b : memref<16xf32>
  return
}
