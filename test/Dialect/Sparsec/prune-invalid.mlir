// RUN: sparsec-opt %s --sparsec-prune="pattern=nm n=4 m=4" -verify-diagnostics
// RUN: not sparsec-opt %s --sparsec-prune="pattern=nm n=2 m=6" 2>&1 | FileCheck %s --check-prefix=M6
// RUN: not sparsec-opt %s --sparsec-prune="pattern=hinm v=32 pad=false" 2>&1 | FileCheck %s --check-prefix=PAD
// RUN: not sparsec-opt %s --sparsec-prune="pattern=hinm v=32 sparsity=1.5" 2>&1 | FileCheck %s --check-prefix=RANGE
// RUN: not sparsec-opt %s --sparsec-prune="pattern=hinm v=32 sparsity=0.25" 2>&1 | FileCheck %s --check-prefix=REACH
// RUN: not sparsec-opt %s --sparsec-prune="pattern=hinm v=32 vector-sparsity=0.99" 2>&1 | FileCheck %s --check-prefix=TOOSPARSE
// RUN: not sparsec-opt %s --sparsec-prune="pattern=hinm v=24" 2>&1 | FileCheck %s --check-prefix=VMULT
// RUN: not sparsec-opt %s --sparsec-prune="pattern=block" 2>&1 | FileCheck %s --check-prefix=PATTERN
// RUN: not sparsec-opt %s --sparsec-prune="pattern=nm saliency=/nonexistent/scores" 2>&1 | FileCheck %s --check-prefix=SALIENCY
// RUN: not sparsec-opt %s --sparsec-prune="pattern=nm include=(" 2>&1 | FileCheck %s --check-prefix=REGEX
// RUN: not sparsec-opt %s --sparsec-prune="pattern=nm value-type=f8" 2>&1 | FileCheck %s --check-prefix=VALUETYPE

// M6: error: sparsec-prune: layer '#0': M must be one of 4, 8, 16, 32 (got 6)
// RUN: not sparsec-opt %s --sparsec-prune="pattern=nm permute=shuffle" 2>&1 | FileCheck %s --check-prefix=PERMUTE
// RUN: not sparsec-opt %s --sparsec-prune="pattern=nm permute=gyro" 2>&1 | FileCheck %s --check-prefix=GYRONM
// RUN: not sparsec-opt %s --sparsec-prune="pattern=hinm permute=asp" 2>&1 | FileCheck %s --check-prefix=ASPHINM
// RUN: not sparsec-opt %s --sparsec-prune="pattern=nm permute=asp permute-window=4" 2>&1 | FileCheck %s --check-prefix=WINDOW
// RUN: not sparsec-opt %s --sparsec-prune="pattern=hinm permute=gyro permute-schedule=8,x" 2>&1 | FileCheck %s --check-prefix=SCHEDULE
// PERMUTE: error: sparsec-prune: unknown permute 'shuffle' (expected none, gyro, asp or swap)
// GYRONM: error: sparsec-prune: permute=gyro needs pattern=hinm
// ASPHINM: error: sparsec-prune: permute=asp needs pattern=nm
// WINDOW: error: sparsec-prune: permute-window must be 2 or 3
// SCHEDULE: error: sparsec-prune: permute-schedule must be a comma-separated list of positive integers, got '8,x'
// PAD: error: sparsec-prune: layer '#0' has 40 output rows, not a multiple of V = 32 (pad=false)
// RANGE: error: sparsec-prune: layer '#0': sparsity must lie in (0, 1), got 1.500000
// REACH: error: sparsec-prune: layer '#0': HiNM with 2:4 cannot reach sparsity 0.250000 (at least 0.500000)
// TOOSPARSE: error: sparsec-prune: layer '#0': HiNM keeps 0 column vectors per tile; it must be a positive multiple of M = 4 (vector sparsity too high for K = 8)
// VMULT: error: sparsec-prune: layer '#0': V must be a positive multiple of 16 (got 24)
// PATTERN: error: sparsec-prune: unknown pattern 'block' (expected nm or hinm)
// SALIENCY: error: sparsec-prune: saliency '/nonexistent/scores' is neither a directory of .npy files nor a .safetensors file
// REGEX: error: sparsec-prune: include is not a valid regex
// VALUETYPE: error: sparsec-prune: unknown value-type 'f8' (expected f32, f16 or bf16)

func.func @bad_nm(%x: tensor<1x8xf32>) -> tensor<1x40xf32> {
  %w = arith.constant dense<1.0> : tensor<40x8xf32>
  // expected-error @+1 {{sparsec-prune: layer '#0': N:M needs 1 <= N < M (got 4:4)}}
  %y = sparsec.linear %x, %w : (tensor<1x8xf32>, tensor<40x8xf32>) -> tensor<1x40xf32>
  return %y : tensor<1x40xf32>
}

