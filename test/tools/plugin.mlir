// The stock mlir-opt loads the sparsec plugin. mlir-opt ignores a plugin that
// fails to load, so each check below depends on the plugin really running:
// the sparsec op must parse (dialect plugin) and be rewritten (pass plugin).
// RUN: mlir-opt %s --load-dialect-plugin=%sparsec_plugin --load-pass-plugin=%sparsec_plugin \
// RUN:   --pass-pipeline="builtin.module(sparsec-lower-to-linalg)" | FileCheck %s
// RUN: mlir-opt --load-pass-plugin=%sparsec_plugin --help | FileCheck %s --check-prefix=HELP
// RUN: mlir-opt %s --load-dialect-plugin=%sparsec_plugin --load-pass-plugin=%sparsec_plugin \
// RUN:   --pass-pipeline="builtin.module(sparsec-verify-encodings{report})" -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
// RUN: mlir-opt %s --load-dialect-plugin=%sparsec_plugin --load-pass-plugin=%sparsec_plugin \
// RUN:   --pass-pipeline="builtin.module(sparsec-prune-nm{n=1 m=4},sparsec-verify-encodings)" | FileCheck %s --check-prefix=PRUNE
// RUN: not mlir-opt %s --load-pass-plugin=%sparsec_plugin \
// RUN:   --pass-pipeline="builtin.module(sparsec-lower-to-linalg)" 2>&1 | FileCheck %s --check-prefix=NODIALECT

// CHECK-LABEL: func.func @layer
// CHECK-NOT: sparsec.linear
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.mulf
// CHECK: return

// HELP: --sparsec-lower-to-linalg
// HELP: --sparsec-verify-encodings

// REPORT: sparsec: sparsec.linear at {{.*}}: gemm 4x8, encoding #sparsec.nm<n = 2, m = 8>, density unknown

// PRUNE: arith.constant dense<{{\[\[}}0.000000e+00, 0.000000e+00, 0.000000e+00, 4.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 8.000000e+00]
// PRUNE: sparsec.linear {{.*}}weight_encoding = #sparsec.nm<n = 1, m = 4>

// NODIALECT: error: Dialect `sparsec' not found for custom op 'sparsec.linear'
func.func @layer(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 2, m = 8>}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}

func.func @constant_layer(%x: tensor<2x8xf32>) -> tensor<2x1xf32> {
  %w = arith.constant dense<[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]]> : tensor<1x8xf32>
  %y = sparsec.linear %x, %w : (tensor<2x8xf32>, tensor<1x8xf32>) -> tensor<2x1xf32>
  return %y : tensor<2x1xf32>
}
