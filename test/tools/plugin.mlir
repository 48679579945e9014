// The stock mlir-opt loads the sparsec plugin. mlir-opt ignores a plugin that
// fails to load, so each check below depends on the plugin really running:
// the sparsec op must parse (dialect plugin) and be rewritten (pass plugin).
// RUN: mlir-opt %s --load-dialect-plugin=%sparsec_plugin --load-pass-plugin=%sparsec_plugin \
// RUN:   --pass-pipeline="builtin.module(sparsec-lower-to-linalg)" | FileCheck %s
// RUN: mlir-opt --load-pass-plugin=%sparsec_plugin --help | FileCheck %s --check-prefix=HELP
// RUN: mlir-opt %s --load-dialect-plugin=%sparsec_plugin --load-pass-plugin=%sparsec_plugin \
// RUN:   --pass-pipeline="builtin.module(sparsec-verify-encodings{report})" -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT
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

// NODIALECT: error: Dialect `sparsec' not found for custom op 'sparsec.linear'
func.func @layer(%x: tensor<2x8xf32>, %w: tensor<4x8xf32>) -> tensor<2x4xf32> {
  %y = sparsec.linear %x, %w {weight_encoding = #sparsec.nm<n = 2, m = 8>}
      : (tensor<2x8xf32>, tensor<4x8xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
