// A dense_resource whose blob is shorter than its type (a truncated hex
// blob) is refused when the file is loaded: passes and targets would read
// numElements() elements from it.
// RUN: not sparsec %s --emit=mlir 2>&1 | FileCheck %s
// CHECK: resource-blobs.mlir:[[@LINE+3]]:{{[0-9]+}}: error: dense_resource 'w' holds 4 bytes, but its type 'tensor<4xf32>' needs 16
module {
  func.func @main() -> tensor<4xf32> {
    %0 = arith.constant dense_resource<w> : tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F"
    }
  }
#-}
