// RUN: sparsec-opt %s --sparsec-prune-nm="n=4 m=4" -verify-diagnostics
// RUN: not sparsec-opt %s --sparsec-prune-nm="n=2 m=6" 2>&1 | FileCheck %s --check-prefix=M6
// RUN: not sparsec-opt %s --sparsec-prune-hinm="v=32 pad=false" 2>&1 | FileCheck %s --check-prefix=PAD
// RUN: not sparsec-opt %s --sparsec-prune-hinm="v=32 sparsity=1.5" 2>&1 | FileCheck %s --check-prefix=RANGE
// RUN: not sparsec-opt %s --sparsec-prune-hinm="v=32 sparsity=0.25" 2>&1 | FileCheck %s --check-prefix=REACH
// RUN: not sparsec-opt %s --sparsec-prune-hinm="v=32 vector-sparsity=0.99" 2>&1 | FileCheck %s --check-prefix=TOOSPARSE
// RUN: not sparsec-opt %s --sparsec-prune-hinm="v=24" 2>&1 | FileCheck %s --check-prefix=VMULT
// RUN: not sparsec-opt %s --sparsec-prune-hinm="meta-layout=meta8" 2>&1 | FileCheck %s --check-prefix=META
// RUN: not sparsec-opt %s --sparsec-prune-hinm="column-grouping=random" 2>&1 | FileCheck %s --check-prefix=GROUPING
// RUN: not sparsec-opt %s --sparsec-prune-hinm="v=48 meta-layout=meta32" 2>&1 | FileCheck %s --check-prefix=META32
// RUN: not sparsec-opt %s --sparsec-prune-nm="saliency=/nonexistent/scores" 2>&1 | FileCheck %s --check-prefix=SALIENCY
// RUN: not sparsec-opt %s --sparsec-prune-nm="include=(" 2>&1 | FileCheck %s --check-prefix=REGEX
// RUN: not sparsec-opt %s --sparsec-prune-nm="value-type=f8" 2>&1 | FileCheck %s --check-prefix=VALUETYPE
// RUN: not sparsec-opt %s --sparsec-prune-nm="korder=whc" 2>&1 | FileCheck %s --check-prefix=KORDER
// RUN: not sparsec-opt %s --sparsec-prune-nm="config=/nonexistent/config.json" 2>&1 | FileCheck %s --check-prefix=CONFIG
// RUN: echo '{"layers": [{"match": ".*", "pattern": "block"}]}' > %t.json
// RUN: not sparsec-opt %s --sparsec-prune-nm="config=%t.json" 2>&1 | FileCheck %s --check-prefix=PATTERN

// M6: error: sparsec-prune-nm: layer '#0': M must be one of 4, 8, 16, 32 (got 6)
// PAD: error: sparsec-prune-hinm: layer '#0' has 40 output rows, not a multiple of V = 32 (pad=false)
// RANGE: error: sparsec-prune-hinm: layer '#0': sparsity must lie in (0, 1), got 1.500000
// REACH: error: sparsec-prune-hinm: layer '#0': HiNM with 2:4 cannot reach sparsity 0.250000 (at least 0.500000)
// TOOSPARSE: error: sparsec-prune-hinm: layer '#0': HiNM keeps 0 column vectors per tile; it must be a positive multiple of M = 4 (vector sparsity too high for K = 8)
// VMULT: error: sparsec-prune-hinm: layer '#0': V must be a positive multiple of 16 (got 24)
// META: error: sparsec-prune-hinm: unknown meta-layout 'meta8' (expected meta32, meta16 or auto)
// GROUPING: error: sparsec-prune-hinm: unknown column-grouping 'random' (expected none or gyro)
// META32: error: sparsec-prune-hinm: layer '#0': META32 metadata needs V to be a multiple of 32 (use meta-layout=meta16)
// SALIENCY: error: sparsec-prune-nm: saliency '/nonexistent/scores' is neither a directory of .npy files nor a .safetensors file
// REGEX: error: sparsec-prune-nm: include is not a valid regex
// VALUETYPE: error: sparsec-prune-nm: unknown value-type 'f8' (expected f32, f16 or bf16)
// KORDER: error: sparsec-prune-nm: unknown korder 'whc' (expected hwc or chw)
// CONFIG: error: sparsec-prune-nm: cannot read config '/nonexistent/config.json'
// PATTERN: error: sparsec-prune-nm: layer '#0': unknown pattern 'block' (expected nm or hinm)

func.func @bad_nm(%x: tensor<1x8xf32>) -> tensor<1x40xf32> {
  %w = arith.constant dense<1.0> : tensor<40x8xf32>
  // expected-error @+1 {{sparsec-prune-nm: layer '#0': N:M needs 1 <= N < M (got 4:4)}}
  %y = sparsec.linear %x, %w : (tensor<1x8xf32>, tensor<40x8xf32>) -> tensor<1x40xf32>
  return %y : tensor<1x40xf32>
}
