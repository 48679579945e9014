"""Writes a module with a linear layer, a convolution and a depthwise
convolution whose weights are seeded random values (ties would make the
pruning choose the same positions in every row)."""
import sys

import numpy as np

rng = np.random.default_rng(7)


def literal(a):
    return 'dense<"0x' + np.ascontiguousarray(a, "<f4").tobytes().hex().upper() + '">'


w = rng.standard_normal((128, 64)).astype(np.float32)
k = rng.standard_normal((64, 16, 3, 3)).astype(np.float32)
d = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)
attrs = ("strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, "
         "dilations = array<i64: 1, 1>")
open(sys.argv[1], "w").write(f"""
func.func @main(%x: tensor<4x64xf32>, %img: tensor<1x16x6x6xf32>) -> (tensor<4x128xf32>, tensor<1x64x6x6xf32>, tensor<1x16x6x6xf32>) {{
  %w = arith.constant {literal(w)} : tensor<128x64xf32>
  %y = sparsec.linear %x, %w : (tensor<4x64xf32>, tensor<128x64xf32>) -> tensor<4x128xf32>
  %k = arith.constant {literal(k)} : tensor<64x16x3x3xf32>
  %c = sparsec.conv2d %img, %k {{{attrs}, groups = 1 : i64}} : (tensor<1x16x6x6xf32>, tensor<64x16x3x3xf32>) -> tensor<1x64x6x6xf32>
  %d = arith.constant {literal(d)} : tensor<16x1x3x3xf32>
  %e = sparsec.conv2d %img, %d {{{attrs}, groups = 16 : i64}} : (tensor<1x16x6x6xf32>, tensor<16x1x3x3xf32>) -> tensor<1x16x6x6xf32>
  return %y, %c, %e : tensor<4x128xf32>, tensor<1x64x6x6xf32>, tensor<1x16x6x6xf32>
}}
""")
