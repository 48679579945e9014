// RUN: sparsec-opt %s --sparsec-cpu-byte-globals="min-bytes=8" | FileCheck %s
// RUN: not sparsec-opt %s --sparsec-cpu-byte-globals="min-bytes=0" 2>&1 | FileCheck %s --check-prefix=MIN

// MIN: error: sparsec-cpu-byte-globals: min-bytes must be at least 1, not 0

// A float global of 8 bytes becomes its IEEE bytes, little-endian (1.0 is
// 0x3F800000, 2.0 is 0x40000000), 64-byte aligned; its reads become a view.
// CHECK-DAG: memref.global "private" constant @weights : memref<8xi8> = dense<[0, 0, -128, 63, 0, 0, 0, 64]> {alignment = 64 : i64}
memref.global "private" constant @weights : memref<2x1xf32> = dense<[[1.0], [2.0]]> {alignment = 16 : i64}
// A larger alignment is kept.
// CHECK-DAG: memref.global "private" constant @offsets : memref<12xi8> = dense<[1, 0, 0, 0, 2, 0, 0, 0, -1, -1, -1, -1]> {alignment = 128 : i64}
memref.global "private" constant @offsets : memref<3xi32> = dense<[1, 2, -1]> {alignment = 128 : i64}
// A resource blob is re-typed in place.
// CHECK-DAG: memref.global "private" constant @blob : memref<8xi8> = dense_resource<blob1> {alignment = 64 : i64}
memref.global "private" constant @blob : memref<2xf32> = dense_resource<blob1>
// Left alone: a splat, a global below min-bytes, a mutable global, bytes
// already, and a global without data.
// CHECK-DAG: memref.global "private" constant @splat : memref<4xf32> = dense<5.000000e-01>
memref.global "private" constant @splat : memref<4xf32> = dense<0.5>
// CHECK-DAG: memref.global "private" constant @small : memref<1xf32> = dense<3.000000e+00>
memref.global "private" constant @small : memref<1xf32> = dense<3.0>
// CHECK-DAG: memref.global "private" @mutable : memref<2xf32> = dense<[1.000000e+00, 2.000000e+00]>
memref.global "private" @mutable : memref<2xf32> = dense<[1.0, 2.0]>
// CHECK-DAG: memref.global "private" constant @raw : memref<8xi8> = dense<[1, 2, 3, 4, 5, 6, 7, 8]>
memref.global "private" constant @raw : memref<8xi8> = dense<[1, 2, 3, 4, 5, 6, 7, 8]>
// CHECK-DAG: memref.global "private" @uninitialized : memref<4xf32> = uninitialized
memref.global "private" @uninitialized : memref<4xf32> = uninitialized

// CHECK-LABEL: func.func @reads
// CHECK: %[[BYTES:.*]] = memref.get_global @weights : memref<8xi8>
// CHECK: %[[VIEW:.*]] = memref.view %[[BYTES]][%{{.*}}][] : memref<8xi8> to memref<2x1xf32>
// CHECK: %[[SPLAT:.*]] = memref.get_global @splat : memref<4xf32>
// CHECK: %[[OFFSETS:.*]] = memref.get_global @offsets : memref<12xi8>
// CHECK: memref.view %[[OFFSETS]][%{{.*}}][] : memref<12xi8> to memref<3xi32>
// CHECK: return %[[VIEW]], %[[SPLAT]]
func.func @reads() -> (memref<2x1xf32>, memref<4xf32>, memref<3xi32>) {
  %w = memref.get_global @weights : memref<2x1xf32>
  %s = memref.get_global @splat : memref<4xf32>
  %o = memref.get_global @offsets : memref<3xi32>
  return %w, %s, %o : memref<2x1xf32>, memref<4xf32>, memref<3xi32>
}

{-#
  dialect_resources: {
    builtin: {
      blob1: "0x040000000000803F00000040"
    }
  }
#-}
