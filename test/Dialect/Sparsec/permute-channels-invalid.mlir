// RUN: not sparsec-opt %s --sparsec-permute-channels="method=shuffle" 2>&1 | FileCheck %s --check-prefix=METHOD
// RUN: not sparsec-opt %s --sparsec-permute-channels="pattern=nm method=gyro" 2>&1 | FileCheck %s --check-prefix=GYRONM
// RUN: not sparsec-opt %s --sparsec-permute-channels="pattern=hinm method=asp" 2>&1 | FileCheck %s --check-prefix=ASPHINM
// RUN: not sparsec-opt %s --sparsec-permute-channels="pattern=block" 2>&1 | FileCheck %s --check-prefix=PATTERN
// RUN: not sparsec-opt %s --sparsec-permute-channels="method=asp window=4" 2>&1 | FileCheck %s --check-prefix=WINDOW
// RUN: not sparsec-opt %s --sparsec-permute-channels="pattern=hinm method=gyro schedule=8,x" 2>&1 | FileCheck %s --check-prefix=SCHEDULE
// RUN: not sparsec-opt %s --sparsec-permute-channels="method=asp tries=0" 2>&1 | FileCheck %s --check-prefix=TRIES
// RUN: not sparsec-opt %s --sparsec-prune-nm --sparsec-permute-channels="method=asp" 2>&1 | FileCheck %s --check-prefix=PRUNED
// RUN: echo '{"layers": [{"match": "^#0$", "n": 4}]}' > %t.json
// RUN: sparsec-opt %s --sparsec-permute-channels="method=asp config=%t.json" -verify-diagnostics -o /dev/null

// METHOD: error: sparsec-permute-channels: unknown method 'shuffle' (expected gyro, asp or swap)
// GYRONM: error: sparsec-permute-channels: method=gyro needs pattern=hinm
// ASPHINM: error: sparsec-permute-channels: method=asp needs pattern=nm
// PATTERN: error: sparsec-permute-channels: unknown pattern 'block' (expected nm or hinm)
// WINDOW: error: sparsec-permute-channels: window must be 2 or 3
// SCHEDULE: error: sparsec-permute-channels: schedule must be a comma-separated list of positive integers, got '8,x'
// TRIES: error: sparsec-permute-channels: tries must be positive, escapes and budget non-negative
// PRUNED: error: sparsec-permute-channels: the module has packed (pruned) layers; permute channels before pruning

func.func @f(%x: tensor<1x8xf32>) -> tensor<1x40xf32> {
  %w = arith.constant dense<1.0> : tensor<40x8xf32>
  // A config rule makes layer #0's N:M invalid (checked with -verify-diagnostics).
  // expected-error @+1 {{sparsec-permute-channels: layer '#0': N:M needs 1 <= N < M (got 4:4)}}
  %y = sparsec.linear %x, %w : (tensor<1x8xf32>, tensor<40x8xf32>) -> tensor<1x40xf32>
  return %y : tensor<1x40xf32>
}
