// RUN: sparsec-opt %s --sparsec-cpu-lower-permute-lanes="isa=avx2" | FileCheck %s --check-prefix=AVX2
// RUN: sparsec-opt %s --sparsec-cpu-lower-permute-lanes="isa=avx512" | FileCheck %s --check-prefix=AVX512
// RUN: sparsec-opt %s --sparsec-cpu-lower-permute-lanes | FileCheck %s --check-prefix=NONE
// The round trip of the op itself.
// RUN: sparsec-opt %s | FileCheck %s --check-prefix=OP

// OP: sparsec.permute_lanes %{{.*}}, %{{.*}} : vector<8xf32>, vector<8xi32>

// With AVX2 an 8-lane permute is one vpermps (table first, then indices).
// AVX2-LABEL: func.func @eight
// AVX2-SAME: (%[[X:.*]]: vector<8xf32>, %[[I:.*]]: vector<8xi32>)
// AVX2: %[[P:.*]] = llvm.call_intrinsic "llvm.x86.avx2.permps"(%[[X]], %[[I]]) : (vector<8xf32>, vector<8xi32>) -> vector<8xf32>
// AVX2: return %[[P]]
// Without x86 permutes: one dynamic extract (index & 7) and one insert per lane.
// NONE-LABEL: func.func @eight
// NONE-SAME: (%[[X:.*]]: vector<8xf32>, %[[I:.*]]: vector<8xi32>)
// NONE: %[[SEVEN:.*]] = arith.constant 7 : i32
// NONE: %[[I0:.*]] = vector.extract %[[I]][0] : i32 from vector<8xi32>
// NONE: %[[L0:.*]] = arith.andi %[[I0]], %[[SEVEN]] : i32
// NONE: %[[K0:.*]] = arith.index_cast %[[L0]] : i32 to index
// NONE: %[[V0:.*]] = vector.extract %[[X]][%[[K0]]] : f32 from vector<8xf32>
// NONE: vector.insert %[[V0]], %{{.*}} [0] : f32 into vector<8xf32>
// NONE-COUNT-7: vector.insert
// NONE-NOT: llvm.call_intrinsic
func.func @eight(%x: vector<8xf32>, %i: vector<8xi32>) -> vector<8xf32> {
  %p = sparsec.permute_lanes %x, %i : vector<8xf32>, vector<8xi32>
  return %p : vector<8xf32>
}

// Four lanes are one quad: vpermilps.
// AVX2-LABEL: func.func @four
// AVX2: llvm.call_intrinsic "llvm.x86.avx.vpermilvar.ps"
func.func @four(%x: vector<4xf32>, %i: vector<4xi32>) -> vector<4xf32> {
  %p = sparsec.permute_lanes %x, %i : vector<4xf32>, vector<4xi32>
  return %p : vector<4xf32>
}

// Sixteen lanes need AVX-512; with AVX2 only they take the portable form.
// AVX2-LABEL: func.func @sixteen
// AVX2-NOT: llvm.call_intrinsic
// AVX2-COUNT-16: vector.insert
// AVX512-LABEL: func.func @sixteen
// AVX512: llvm.call_intrinsic "llvm.x86.avx512.permvar.sf.512"
func.func @sixteen(%x: vector<16xf32>, %i: vector<16xi32>) -> vector<16xf32> {
  %p = sparsec.permute_lanes %x, %i : vector<16xf32>, vector<16xi32>
  return %p : vector<16xf32>
}
