// Option values outside what the kernels can be built with are errors.
// RUN: not sparsec-opt %s --sparsec-cpu-lower-layers="vector-width=6" 2>&1 | FileCheck %s --check-prefix=WIDTH
// RUN: not sparsec-opt %s --sparsec-cpu-lower-layers="tile-tokens=0" 2>&1 | FileCheck %s --check-prefix=TILES
// RUN: not sparsec-opt %s --sparsec-cpu-lower-layers="tile-vectors=9" 2>&1 | FileCheck %s --check-prefix=TILES
// RUN: not sparsec-opt %s --sparsec-cpu-lower-layers="sparse-rows=sometimes" 2>&1 | FileCheck %s --check-prefix=ROWS
// RUN: not sparsec-opt %s --sparsec-cpu-lower-layers="nm-groups=yes" 2>&1 | FileCheck %s --check-prefix=GROUPS
// RUN: not sparsec-opt %s --sparsec-cpu-lower-layers="row-patterns=maybe" 2>&1 | FileCheck %s --check-prefix=PATTERNS
// RUN: not sparsec-opt %s --sparsec-cpu-lower-permute-lanes="isa=sse" 2>&1 | FileCheck %s --check-prefix=ISA
// RUN: not sparsec-opt %s --sparsec-cpu-lower-layers="nm-group-slot-cost=0" 2>&1 | FileCheck %s --check-prefix=SLOT
// RUN: not sparsec-opt %s --sparsec-cpu-lower-layers="row-pattern-mac-cost=100" 2>&1 | FileCheck %s --check-prefix=PATTERNCOST
// And through the driver, by the host target's flags.
// RUN: not sparsec %s --host-vector-width=32 2>&1 | FileCheck %s --check-prefix=HOSTWIDTH
// RUN: not sparsec %s --host-tile-tokens=17 2>&1 | FileCheck %s --check-prefix=HOSTTOKENS
// RUN: not sparsec %s --host-tile-vectors=9 2>&1 | FileCheck %s --check-prefix=HOSTVECTORS
// RUN: not sparsec %s --host-sparse-rows=yes 2>&1 | FileCheck %s --check-prefix=HOSTROWS
// RUN: not sparsec %s --host-nm-group-slot-cost=-1 2>&1 | FileCheck %s --check-prefix=HOSTSLOT
// RUN: not sparsec %s --host-row-pattern-mac-cost=-2 2>&1 | FileCheck %s --check-prefix=HOSTPATTERNCOST
// WIDTH: error: sparsec-cpu-lower-layers: vector-width must be 4, 8 or 16, not 6
// TILES: error: sparsec-cpu-lower-layers: tile-tokens must be 1 to 16 and tile-vectors 1 to 8, not
// ROWS: error: sparsec-cpu-lower-layers: sparse-rows must be auto, always or never, not 'sometimes'
// GROUPS: error: sparsec-cpu-lower-layers: nm-groups must be auto, always or never, not 'yes'
// PATTERNS: error: sparsec-cpu-lower-layers: row-patterns must be auto, always or never, not 'maybe'
// ISA: error: sparsec-cpu-lower-permute-lanes: isa must be none, avx2 or avx512, not 'sse'
// SLOT: error: sparsec-cpu-lower-layers: nm-group-slot-cost must be a number of dense MACs above 0 and below 100, not 0
// PATTERNCOST: error: sparsec-cpu-lower-layers: row-pattern-mac-cost must be a number of dense MACs above 0 and below 100, not 1.000000e+02
// HOSTPATTERNCOST: sparsec: error: --host-row-pattern-mac-cost must be 0 (this CPU's figure) or a number of dense MACs above 0 and below 100, not -2
// HOSTSLOT: sparsec: error: --host-nm-group-slot-cost must be a number of dense MACs above 0 and below 100, not -1
// HOSTROWS: sparsec: error: --host-sparse-rows must be auto, always or never, not 'yes'
// HOSTWIDTH: sparsec: error: --host-vector-width must be 0, 4, 8 or 16, not 32
// HOSTTOKENS: sparsec: error: --host-tile-tokens must be 0 to 16, not 17
// HOSTVECTORS: sparsec: error: --host-tile-vectors must be 0 to 8, not 9
func.func @main(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<1.0> : tensor<3x4xf32>
  %y = sparsec.linear %x, %w : (tensor<2x4xf32>, tensor<3x4xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
