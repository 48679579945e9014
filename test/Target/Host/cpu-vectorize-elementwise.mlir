// RUN: sparsec-opt %s --sparsec-cpu-vectorize-elementwise="vector-width=4 chunk-vectors=2" | FileCheck %s
// RUN: not sparsec-opt %s --sparsec-cpu-vectorize-elementwise="vector-width=0" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not sparsec-opt %s --sparsec-cpu-vectorize-elementwise="chunk-vectors=-1" 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: error: sparsec-cpu-vectorize-elementwise: vector-width and chunk-vectors must be positive, got

// Contiguous buffers: one flat row of 100 floats in parallel chunks of two
// vectors (12 chunks = 96 floats), then the last whole vector; no tail.
// CHECK-LABEL: func.func @add_relu
// CHECK-DAG: %[[A:.*]] = memref.collapse_shape %arg0 {{\[\[}}0, 1, 2, 3]] : memref<1x4x5x5xf32> into memref<100xf32>
// CHECK-DAG: %[[B:.*]] = memref.collapse_shape %arg1
// CHECK-DAG: %[[O:.*]] = memref.collapse_shape %arg2
// CHECK-DAG: %[[C12:.*]] = arith.constant 12 : index
// CHECK: scf.parallel (%[[CHUNK:.*]]) = (%{{.*}}) to (%[[C12]])
// CHECK:   %[[FIRST:.*]] = arith.muli %[[CHUNK]], %{{.*}} : index
// CHECK:   scf.for %[[V:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:     %[[AT:.*]] = arith.addi %[[FIRST]], %[[V]] : index
// CHECK:     %[[X:.*]] = vector.load %[[A]][%[[AT]]] : memref<100xf32>, vector<4xf32>
// CHECK:     %[[Y:.*]] = vector.load %[[B]][%[[AT]]] : memref<100xf32>, vector<4xf32>
// CHECK:     %[[S:.*]] = arith.addf %[[X]], %[[Y]] : vector<4xf32>
// CHECK:     %[[R:.*]] = arith.maximumf %[[S]], %{{.*}} : vector<4xf32>
// CHECK:     vector.store %[[R]], %[[O]][%[[AT]]] : memref<100xf32>, vector<4xf32>
// CHECK: %[[C96:.*]] = arith.constant 96 : index
// CHECK: %[[C100:.*]] = arith.constant 100 : index
// CHECK: scf.for %[[LAST:.*]] = %[[C96]] to %[[C100]]
// CHECK:   vector.store %{{.*}}, %[[O]][%[[LAST]]]
// CHECK-NOT: vector.maskedstore
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @add_relu(%a: memref<1x4x5x5xf32>, %b: memref<1x4x5x5xf32>, %o: memref<1x4x5x5xf32>) {
  %c0 = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [affine_map<(d0,d1,d2,d3)->(d0,d1,d2,d3)>, affine_map<(d0,d1,d2,d3)->(d0,d1,d2,d3)>, affine_map<(d0,d1,d2,d3)->(d0,d1,d2,d3)>], iterator_types = ["parallel","parallel","parallel","parallel"]} ins(%a, %b : memref<1x4x5x5xf32>, memref<1x4x5x5xf32>) outs(%o : memref<1x4x5x5xf32>) {
  ^bb0(%x: f32, %y: f32, %z: f32):
    %s = arith.addf %x, %y : f32
    %r = arith.maximumf %s, %c0 : f32
    linalg.yield %r : f32
  }
  return
}

// A strided input and a per-row operand: rows in parallel, two vectors of
// each row of 10, the last two floats masked; the per-row value is loaded
// once per vector and broadcast.
// CHECK-LABEL: func.func @scale_rows
// CHECK: scf.parallel (%[[I:.*]], %[[J:.*]]) =
// CHECK:   scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} {
// CHECK:     %[[X:.*]] = vector.load %arg0[%[[I]], %[[J]], %[[K]]] : memref<2x3x10xf32, strided<[40, 12, 1], offset: 1>>, vector<4xf32>
// CHECK:     %[[W:.*]] = memref.load %arg1[%[[J]]] : memref<3xf32>
// CHECK:     %[[WV:.*]] = vector.broadcast %[[W]] : f32 to vector<4xf32>
// CHECK:     %[[P:.*]] = arith.mulf %[[X]], %[[WV]] : vector<4xf32>
// CHECK:     vector.store %[[P]], %arg2[%[[I]], %[[J]], %[[K]]]
// CHECK:   %[[C8:.*]] = arith.constant 8 : index
// CHECK:   %[[C2:.*]] = arith.constant 2 : index
// CHECK:   %[[MASK:.*]] = vector.create_mask %[[C2]] : vector<4xi1>
// CHECK:   vector.maskedload %arg0[%[[I]], %[[J]], %[[C8]]], %[[MASK]]
// CHECK:   vector.maskedstore %arg2[%[[I]], %[[J]], %[[C8]]], %[[MASK]]
func.func @scale_rows(%a: memref<2x3x10xf32, strided<[40, 12, 1], offset: 1>>, %scale: memref<3xf32>, %o: memref<2x3x10xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0,d1,d2)->(d0,d1,d2)>, affine_map<(d0,d1,d2)->(d1)>, affine_map<(d0,d1,d2)->(d0,d1,d2)>], iterator_types = ["parallel","parallel","parallel"]} ins(%a, %scale : memref<2x3x10xf32, strided<[40, 12, 1], offset: 1>>, memref<3xf32>) outs(%o : memref<2x3x10xf32>) {
  ^bb0(%x: f32, %y: f32, %z: f32):
    %s = arith.mulf %x, %y : f32
    linalg.yield %s : f32
  }
  return
}

// A padded buffer: the fill runs flat (48 floats, 6 chunks), the copy into
// the strided interior row by row (4 lanes, then 2 masked).
// CHECK-LABEL: func.func @pad
// CHECK: %[[FLAT:.*]] = memref.collapse_shape %arg1 {{\[\[}}0, 1]] : memref<6x8xf32> into memref<48xf32>
// CHECK: scf.parallel
// CHECK:   %[[SPLAT:.*]] = vector.broadcast %{{.*}} : f32 to vector<4xf32>
// CHECK:   vector.store %[[SPLAT]], %[[FLAT]]
// CHECK: %[[VIEW:.*]] = memref.subview %arg1[1, 1] [4, 6] [1, 1]
// CHECK: scf.parallel (%[[R:.*]]) =
// CHECK:   %[[IN:.*]] = vector.load %arg0[%[[R]], %{{.*}}] : memref<4x6xf32>, vector<4xf32>
// CHECK:   vector.store %[[IN]], %[[VIEW]][%[[R]], %{{.*}}]
// CHECK:   %[[TAILMASK:.*]] = vector.create_mask %{{.*}} : vector<4xi1>
// CHECK:   %[[TAIL:.*]] = vector.maskedload %arg0[%[[R]], %{{.*}}], %[[TAILMASK]]
// CHECK:   vector.maskedstore %[[VIEW]][%[[R]], %{{.*}}], %[[TAILMASK]], %[[TAIL]]
// CHECK-NOT: linalg.
// CHECK: return
func.func @pad(%a: memref<4x6xf32>, %p: memref<6x8xf32>) {
  %c1 = arith.constant 1.5 : f32
  linalg.fill ins(%c1 : f32) outs(%p : memref<6x8xf32>)
  %v = memref.subview %p[1, 1] [4, 6] [1, 1] : memref<6x8xf32> to memref<4x6xf32, strided<[8, 1], offset: 9>>
  linalg.copy ins(%a : memref<4x6xf32>) outs(%v : memref<4x6xf32, strided<[8, 1], offset: 9>>)
  return
}

// A rank-0 input is read once per vector; linalg.map as a generic.
// CHECK-LABEL: func.func @map_scalar_buffer
// CHECK: %[[S:.*]] = memref.load %arg1[] : memref<f32>
// CHECK: vector.broadcast %[[S]] : f32 to vector<4xf32>
// CHECK: arith.subf
// CHECK-NOT: linalg.map
func.func @map_scalar_buffer(%a: memref<8xf32>, %s: memref<f32>, %o: memref<8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0)->(d0)>, affine_map<(d0)->()>, affine_map<(d0)->(d0)>], iterator_types = ["parallel"]} ins(%a, %s : memref<8xf32>, memref<f32>) outs(%o : memref<8xf32>) {
  ^bb0(%x: f32, %y: f32, %z: f32):
    %d = arith.subf %x, %y : f32
    linalg.yield %d : f32
  }
  linalg.map ins(%a : memref<8xf32>) outs(%o : memref<8xf32>)
    (%x: f32, %unused: f32) {
      %n = arith.negf %x : f32
      linalg.yield %n : f32
    }
  return
}

// A row sum: rows in parallel; per row a vector accumulator from -0.0 over
// two whole vectors, the last two floats masked (masked-off lanes keep the
// accumulator), its lanes reduced in order, then added to the output.
// CHECK-LABEL: func.func @row_sum
// CHECK: scf.parallel (%[[R:.*]]) =
// CHECK:   %[[ZERO:.*]] = arith.constant dense<-0.000000e+00> : vector<4xf32>
// CHECK:   %[[ACC:.*]] = scf.for %[[K:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[A:.*]] = %[[ZERO]]) -> (vector<4xf32>) {
// CHECK:     %[[X:.*]] = vector.load %arg0[%[[R]], %[[K]]] : memref<4x10xf32>, vector<4xf32>
// CHECK:     %[[S:.*]] = arith.addf %[[X]], %[[A]] : vector<4xf32>
// CHECK:     scf.yield %[[S]]
// CHECK:   %[[MASK:.*]] = vector.create_mask %{{.*}} : vector<4xi1>
// CHECK:   %[[T:.*]] = vector.maskedload %arg0[%[[R]], %{{.*}}], %[[MASK]]
// CHECK:   %[[TS:.*]] = arith.addf %[[T]], %[[ACC]] : vector<4xf32>
// CHECK:   %[[KEPT:.*]] = arith.select %[[MASK]], %[[TS]], %[[ACC]] : vector<4xi1>, vector<4xf32>
// CHECK:   %[[LANES:.*]] = vector.reduction <add>, %[[KEPT]] : vector<4xf32> into f32
// CHECK:   %[[OLD:.*]] = memref.load %arg1[%[[R]]] : memref<4xf32>
// CHECK:   %[[NEW:.*]] = arith.addf %[[LANES]], %[[OLD]] : f32
// CHECK:   memref.store %[[NEW]], %arg1[%[[R]]] : memref<4xf32>
// CHECK-NOT: linalg.generic
func.func @row_sum(%a: memref<4x10xf32>, %sum: memref<4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0,d1)->(d0,d1)>, affine_map<(d0,d1)->(d0)>], iterator_types = ["parallel","reduction"]} ins(%a : memref<4x10xf32>) outs(%sum : memref<4xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %x, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// Two reduction loops (a global max pool): the outer one an scf.for that
// carries the accumulator, from -inf, around each row of 5: one whole
// vector and one masked lane.
// CHECK-LABEL: func.func @pool_max
// CHECK: scf.parallel (%[[C:.*]]) =
// CHECK:   %[[NEG:.*]] = arith.constant dense<0xFF800000> : vector<4xf32>
// CHECK:   %[[ACC:.*]] = scf.for %[[H:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[A:.*]] = %[[NEG]])
// CHECK:     %[[ROW:.*]] = scf.for %[[W:.*]] = %{{.*}} iter_args(%[[B:.*]] = %[[A]])
// CHECK:       %[[X:.*]] = vector.load %arg0[%[[C]], %[[H]], %[[W]]] : memref<2x3x5xf32>
// CHECK:       arith.maximumf %[[X]], %[[B]] : vector<4xf32>
// CHECK:     %[[MASK:.*]] = vector.create_mask
// CHECK:     %[[T:.*]] = vector.maskedload %arg0[%[[C]], %[[H]], %{{.*}}], %[[MASK]]
// CHECK:     %[[TM:.*]] = arith.maximumf %[[T]], %[[ROW]]
// CHECK:     arith.select %[[MASK]], %[[TM]], %[[ROW]]
// CHECK:   vector.reduction <maximumf>, %[[ACC]]
// CHECK:   arith.maximumf
// CHECK:   memref.store %{{.*}}, %arg1[%[[C]]]
func.func @pool_max(%a: memref<2x3x5xf32>, %m: memref<2xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0,d1,d2)->(d0,d1,d2)>, affine_map<(d0,d1,d2)->(d0)>], iterator_types = ["parallel","reduction","reduction"]} ins(%a : memref<2x3x5xf32>) outs(%m : memref<2xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.maximumf %x, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// Layer normalisation's last step: the per-feature scale read in lanes
// through a map that is not the identity, the per-row statistic through a
// constant index.
// CHECK-LABEL: func.func @normalize
// CHECK: scf.parallel (%[[I:.*]], %[[J:.*]]) =
// CHECK:   scf.for %[[K:.*]] =
// CHECK:     %[[X:.*]] = vector.load %arg0[%[[I]], %[[J]], %[[K]]] : memref<2x3x8xf32>, vector<4xf32>
// CHECK:     %[[ZERO:.*]] = arith.constant 0 : index
// CHECK:     %[[MEAN:.*]] = memref.load %arg1[%[[I]], %[[J]], %[[ZERO]]] : memref<2x3x1xf32>
// CHECK:     %[[MEANS:.*]] = vector.broadcast %[[MEAN]]
// CHECK:     %[[G:.*]] = vector.load %arg2[%[[K]]] : memref<8xf32>, vector<4xf32>
// CHECK:     %[[D:.*]] = arith.subf %[[X]], %[[MEANS]]
// CHECK:     %[[P:.*]] = arith.mulf %[[D]], %[[G]]
// CHECK:     vector.store %[[P]], %arg3[%[[I]], %[[J]], %[[K]]]
func.func @normalize(%x: memref<2x3x8xf32>, %mean: memref<2x3x1xf32>, %gamma: memref<8xf32>, %o: memref<2x3x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0,d1,d2)->(d0,d1,d2)>, affine_map<(d0,d1,d2)->(d0,d1,0)>, affine_map<(d0,d1,d2)->(d2)>, affine_map<(d0,d1,d2)->(d0,d1,d2)>], iterator_types = ["parallel","parallel","parallel"]} ins(%x, %mean, %gamma : memref<2x3x8xf32>, memref<2x3x1xf32>, memref<8xf32>) outs(%o : memref<2x3x8xf32>) {
  ^bb0(%a: f32, %m: f32, %g: f32, %out: f32):
    %d = arith.subf %a, %m : f32
    %p = arith.mulf %d, %g : f32
    linalg.yield %p : f32
  }
  return
}

// Left to the loops: a transposed read, a parallel payload that reads its
// output, integer division (a masked-off lane would divide by zero),
// tensors, an i1 buffer, a reduction over a leading loop, a reduction whose
// combiner is not associative (subf), and one that reads its output twice.
// CHECK-LABEL: func.func @not_taken
// CHECK-COUNT-8: linalg.generic
// CHECK-NOT: vector.
// CHECK: return
func.func @not_taken(%a: memref<4x8xf32>, %t: memref<8x4xf32>, %r: memref<4xf32>, %o: memref<4x8xf32>, %i: memref<8xi32>, %io: memref<8xi32>, %tensor: tensor<8xf32>, %bits: memref<8xi1>, %cols: memref<8xf32>) -> tensor<8xf32> {
  linalg.generic {indexing_maps = [affine_map<(d0,d1)->(d1,d0)>, affine_map<(d0,d1)->(d0,d1)>], iterator_types = ["parallel","parallel"]} ins(%t : memref<8x4xf32>) outs(%o : memref<4x8xf32>) {
  ^bb0(%x: f32, %y: f32):
    linalg.yield %x : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0,d1)->(d0,d1)>, affine_map<(d0,d1)->(d0,d1)>], iterator_types = ["parallel","parallel"]} ins(%a : memref<4x8xf32>) outs(%o : memref<4x8xf32>) {
  ^bb0(%x: f32, %y: f32):
    %s = arith.addf %x, %y : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0)->(d0)>, affine_map<(d0)->(d0)>], iterator_types = ["parallel"]} ins(%i : memref<8xi32>) outs(%io : memref<8xi32>) {
  ^bb0(%x: i32, %y: i32):
    %c3 = arith.constant 3 : i32
    %q = arith.divsi %x, %c3 : i32
    linalg.yield %q : i32
  }
  %e = tensor.empty() : tensor<8xf32>
  %n = linalg.generic {indexing_maps = [affine_map<(d0)->(d0)>, affine_map<(d0)->(d0)>], iterator_types = ["parallel"]} ins(%tensor : tensor<8xf32>) outs(%e : tensor<8xf32>) {
  ^bb0(%x: f32, %y: f32):
    %m = arith.negf %x : f32
    linalg.yield %m : f32
  } -> tensor<8xf32>
  linalg.generic {indexing_maps = [affine_map<(d0)->(d0)>, affine_map<(d0)->(d0)>], iterator_types = ["parallel"]} ins(%bits : memref<8xi1>) outs(%bits : memref<8xi1>) {
  ^bb0(%x: i1, %y: i1):
    linalg.yield %x : i1
  }
  linalg.generic {indexing_maps = [affine_map<(d0,d1)->(d0,d1)>, affine_map<(d0,d1)->(d1)>], iterator_types = ["reduction","parallel"]} ins(%a : memref<4x8xf32>) outs(%cols : memref<8xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %x, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0,d1)->(d0,d1)>, affine_map<(d0,d1)->(d0)>], iterator_types = ["parallel","reduction"]} ins(%a : memref<4x8xf32>) outs(%r : memref<4xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.subf %x, %acc : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0,d1)->(d0,d1)>, affine_map<(d0,d1)->(d0)>], iterator_types = ["parallel","reduction"]} ins(%a : memref<4x8xf32>) outs(%r : memref<4xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %sq = arith.mulf %acc, %acc : f32
    %s = arith.addf %x, %sq : f32
    linalg.yield %s : f32
  }
  return %n : tensor<8xf32>
}
