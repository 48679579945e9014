// Option errors of the registered pipelines: the same words as the CLI's.
// RUN: not sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compress{sparsity=block})" 2>&1 | FileCheck %s --check-prefix=PATTERN
// RUN: not sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compress{sparsity=hinm:vs=nan})" 2>&1 | FileCheck %s --check-prefix=NAN
// RUN: not sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compress{permute=gyro})" 2>&1 | FileCheck %s --check-prefix=PERMUTE
// RUN: not sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compress{saliency=/tmp/x.safetensors})" 2>&1 | FileCheck %s --check-prefix=SALIENCY
// RUN: not sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compress{sparsity=nm:n=2,m=4 permute-budget=-1})" 2>&1 | FileCheck %s --check-prefix=BUDGET
// RUN: not sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compress{sparsity=nm:n=2,m=4 pruning=3})" 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compile{target=tpu})" 2>&1 | FileCheck %s --check-prefix=TARGET
// RUN: not sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compile{target=cuda target-options={arch=sm_70}})" 2>&1 | FileCheck %s --check-prefix=ARCH
// RUN: not sparsec-opt %s --pass-pipeline="builtin.module(sparsec-compile{target=cuda target-options={tiles=4}})" 2>&1 | FileCheck %s --check-prefix=TOPT
// RUN: not sparsec-opt %s --pass-pipeline="builtin.module(sparsec-host-pipeline{opt-level=9})" 2>&1 | FileCheck %s --check-prefix=OPTLEVEL

// PATTERN: --sparsity: unknown pattern 'block' in 'block' (expected nm:... or hinm:...)
// NAN: --sparsity: vs must be a finite number, got 'nan'
// PERMUTE: --permute needs --sparsity
// SALIENCY: --saliency needs --sparsity
// BUDGET: --permute-budget must be a non-negative number of seconds, got -1
// UNKNOWN: unknown option 'pruning' (known: {{.*}}permute{{.*}}sparsity
// TARGET: unknown target 'tpu' (known: host, neon, cuda)
// ARCH: --cuda-arch must be sm_80 or sm_90a, not 'sm_70'
// TOPT: target 'cuda': unknown option 'tiles' (known: arch, device, dtype, tile-m, tile-n, wgmma)
// OPTLEVEL: --host-opt-level must be 0, 1, 2 or 3, not 9

func.func @main(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  return %x : tensor<2x8xf32>
}
