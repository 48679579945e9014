// RUN: sparsec-opt %s --sparsec-cpu-approximate-math | FileCheck %s
// RUN: sparsec-opt %s --sparsec-cpu-approximate-math="ops=erf" | FileCheck %s --check-prefix=ERF
// RUN: not sparsec-opt %s --sparsec-cpu-approximate-math="ops=log" 2>&1 | FileCheck %s --check-prefix=BAD
// The driver: no libm erff call is left by default, one with the flag off.
// RUN: sparsec %s --emit=llvm | FileCheck %s --check-prefix=LLVM
// RUN: sparsec %s --emit=llvm --host-approximate-math=false | FileCheck %s --check-prefix=LIBM

// erf, exp and tanh (scalars and vectors) become arithmetic; the
// approximations' multiply-adds are LLVM's fma intrinsic, not math.fma
// (which convert-math-to-libm would make scalar fmaf calls).
// CHECK-LABEL: func.func @main
// CHECK-NOT: math.erf
// CHECK-NOT: math.exp
// CHECK-NOT: math.tanh
// CHECK-NOT: math.fma
// CHECK: llvm.intr.fma
// CHECK: return
// Only the named ops are rewritten.
// ERF-LABEL: func.func @main
// ERF-NOT: math.erf
// ERF: math.exp %{{.*}} : vector<8xf32>
// ERF: math.tanh
// BAD: error: sparsec-cpu-approximate-math: ops must be erf, exp or tanh, not 'log'
// The exp approximation's floor is LLVM's vector intrinsic, not a floorf
// call per lane.
// LLVM: define {{.*}}@main
// LLVM-NOT: @erff
// LLVM-NOT: @floorf
// LLVM: @llvm.floor.v8f32
// LIBM: call float @erff
func.func @main(%x: f32, %v: vector<8xf32>) -> (f32, vector<8xf32>, f32) {
  %a = math.erf %x : f32
  %b = math.exp %v : vector<8xf32>
  %c = math.tanh %x : f32
  return %a, %b, %c : f32, vector<8xf32>, f32
}
