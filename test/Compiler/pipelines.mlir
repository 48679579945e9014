// The driver's pipeline, registered in sparsec-opt and built from the same
// SparsecCompileOptions as the CLI's flags.
// RUN: sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compress{sparsity=nm:n=2,m=4})" | FileCheck %s --check-prefix=COMPRESS
// RUN: sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compress{sparsity=hinm:v=16,vs=0.5 prune-value-type=f16})" | FileCheck %s --check-prefix=HINM
// RUN: sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compress)" | FileCheck %s --check-prefix=NONE
// RUN: sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compile{sparsity=nm:n=2,m=4 target=host})" | FileCheck %s --check-prefix=HOST
// RUN: sparsec-opt %s --pass-pipeline="builtin.module(sparsec-host-pipeline{opt-level=1})" | FileCheck %s --check-prefix=HOST

// COMPRESS: sparsec.linear
// COMPRESS-SAME: weight_encoding = #sparsec.nm
// HINM: weight_encoding = #sparsec.hinm
// HINM-SAME: v = 16, kept = 4
// NONE: sparsec.linear
// NONE-NOT: weight_encoding
// HOST: llvm.func @_mlir_ciface_main

func.func @main(%x: tensor<2x8xf32>) -> tensor<2x32xf32> {
  %w = arith.constant dense<1.0> : tensor<32x8xf32>
  %y = sparsec.linear %x, %w : (tensor<2x8xf32>, tensor<32x8xf32>) -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
