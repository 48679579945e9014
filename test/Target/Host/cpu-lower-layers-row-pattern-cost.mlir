// The row-pattern kernel's MAC cost decides auto mode (pass option, and the
// host target's flag, whose 0 default picks the CPU's measured figure).
// RUN: sparsec-opt %s --sparsec-cpu-lower-layers="vector-width=4 row-patterns=auto" | FileCheck %s --check-prefix=CHEAP
// RUN: sparsec-opt %s --sparsec-cpu-lower-layers="vector-width=4 row-patterns=auto row-pattern-mac-cost=2.6" | FileCheck %s --check-prefix=COSTLY
// RUN: sparsec %s --emit=report --host-vector-width=4 --host-row-pattern-mac-cost=1.6 | FileCheck %s --check-prefix=REPORTCHEAP
// RUN: sparsec %s --emit=report --host-vector-width=4 --host-row-pattern-mac-cost=2.6 | FileCheck %s --check-prefix=REPORTCOSTLY

// Eight rows sharing eight kept columns, half of them nonzero in each row:
// the channel tiles do 8 x 8 = 64 MACs per token, the row patterns 32 at a
// cost each. At 1.6 dense MACs (a Zen 4's figure, the pass default) the
// patterns win (51 < 64); at 2.6 (an Emerald Rapids Xeon's) the channel
// tiles do (83 > 64).
// CHEAP: kind = "row_patterns", nonzeros = 32
// COSTLY: kept_columns = 8 : i64, kind = "kept_columns"
// REPORTCHEAP: gemm row patterns
// REPORTCOSTLY: gemm kept columns
func.func @pattern_cost(%x: tensor<16x32xf32>) -> tensor<16x8xf32> {
  %w = arith.constant dense<[[1.0, 0.0, 1.5, 0.0, 2.0, 0.0, 2.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 2.5, 0.0, 3.0, 0.0, 3.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [4.5, 0.0, 3.0, 0.0, 3.5, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 5.5, 0.0, 4.0, 0.0, 4.5, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [6.0, 0.0, 6.5, 0.0, 5.0, 0.0, 5.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 7.0, 0.0, 7.5, 0.0, 6.0, 0.0, 6.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [7.5, 0.0, 8.0, 0.0, 8.5, 0.0, 7.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 8.5, 0.0, 9.0, 0.0, 9.5, 0.0, 8.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<8x32xf32>
  %y = sparsec.linear %x, %w : (tensor<16x32xf32>, tensor<8x32xf32>) -> tensor<16x8xf32>
  return %y : tensor<16x8xf32>
}
