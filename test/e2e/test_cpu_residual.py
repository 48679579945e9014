"""Residual connections and GELU fused into the host kernels' stores, bias adds folded
into the layers (sparsec-fold-bias-add, sparsec-cpu-lower-layers; docs/CPUBackend.md
"Fused epilogues"): a layer's output added to another tensor, then a ReLU, and a
transformer's FFN, as ONNX exports ResNet's and the transformers' blocks. Each case against a
float64 numpy reference, by default and with the options that pick the kernels which
fuse the add (the channel tiles) and those that leave it to a loop of its own (the
row patterns, the row-sparse form); the lit test cpu-lower-layers-epilogue.mlir checks
which ones fuse. And the same bits at 1 and 2 threads.
"""
from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

from sparsec_cli import run_at_thread_counts
from test_cpu_elementwise import check_against_numpy, save_model
from test_cpu_kernels import conv_reference

# float32 sums of at most a few hundred terms, relative to max |y|
RTOL = 1e-5


def conv_node(rng, name, x_name, in_ch, out_ch, k, stride, pad, initializers):
    weight = (rng.standard_normal((out_ch, in_ch, k, k)) / np.sqrt(in_ch * k * k)).astype(np.float32)
    bias = rng.standard_normal(out_ch).astype(np.float32)
    initializers += [(f"{name}_w", weight), (f"{name}_b", bias)]
    node = helper.make_node("Conv", [x_name, f"{name}_w", f"{name}_b"], [name],
                            kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)
    return node, weight, bias


def conv_ref(x, weight, bias, stride, pad):
    n, _, h, w = x.shape
    o, _, k, _ = weight.shape
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    return conv_reference(x.astype(np.float64), weight, bias, (stride, stride), (pad,) * 4,
                          (1, 1), (n, o, oh, ow))


def relu(y):
    return np.maximum(y, 0.0)


def case_bottleneck_end(rng, x_shape=(1, 24, 7, 7), out_ch=37):
    """A 1x1 convolution + the block's input + ReLU (ResNet-50's block end; 49
    pixels: the last one with the channels along the lanes, a partial panel)."""
    x = rng.standard_normal(x_shape).astype(np.float32)
    skip = rng.standard_normal((x_shape[0], out_ch, *x_shape[2:])).astype(np.float32)
    init = []
    conv, w, b = conv_node(rng, "c", "x", x_shape[1], out_ch, 1, 1, 0, init)
    nodes = [conv, helper.make_node("Add", ["c", "skip"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    return nodes, [("x", x), ("skip", skip)], init, relu(conv_ref(x, w, b, 1, 0) + skip)


def case_bottleneck_end_batch2(rng):
    """Two images of 9 x 12 = 108 pixels: full blocks, a tail and lane pixels;
    the skip added first."""
    x = rng.standard_normal((2, 16, 9, 12)).astype(np.float32)
    skip = rng.standard_normal((2, 20, 9, 12)).astype(np.float32)
    init = []
    conv, w, b = conv_node(rng, "c", "x", 16, 20, 1, 1, 0, init)
    nodes = [conv, helper.make_node("Add", ["skip", "c"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    return nodes, [("x", x), ("skip", skip)], init, relu(conv_ref(x, w, b, 1, 0) + skip)


def case_downsampling_block(rng):
    """ResNet's downsampling block: a 3x3 stride-2 main branch, then the 1x1
    stride-2 shortcut, which takes the add (its operand, the main branch, comes
    first)."""
    x = rng.standard_normal((1, 16, 14, 14)).astype(np.float32)
    init = []
    main, wm, bm = conv_node(rng, "main", "x", 16, 40, 3, 2, 1, init)
    short, ws, bs = conv_node(rng, "short", "x", 16, 40, 1, 2, 0, init)
    nodes = [main, short, helper.make_node("Add", ["main", "short"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    expected = relu(conv_ref(x, wm, bm, 2, 1) + conv_ref(x, ws, bs, 2, 0))
    return nodes, [("x", x)], init, expected


def case_padded_conv_residual(rng):
    """A 3x3 padded convolution + the input (ResNet-18's blocks): its rows have
    padding columns, so the add runs as a loop of its own."""
    x = rng.standard_normal((1, 12, 10, 10)).astype(np.float32)
    init = []
    conv, w, b = conv_node(rng, "c", "x", 12, 12, 3, 1, 1, init)
    nodes = [conv, helper.make_node("Add", ["c", "x"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    return nodes, [("x", x)], init, relu(conv_ref(x, w, b, 1, 1) + x)


def case_linear_residual(rng):
    """A transformer's projection + its input: [2, 5, 40] tokens, 40 features
    (a partial panel at every vector width)."""
    x = rng.standard_normal((2, 5, 40)).astype(np.float32)
    w = (rng.standard_normal((40, 40)) / np.sqrt(40)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["p"]),
             helper.make_node("Add", ["p", "x"], ["s"]),
             helper.make_node("Relu", ["s"], ["y"])]
    x64 = x.astype(np.float64)
    return nodes, [("x", x)], [("w", w), ("b", b)], relu(x64 @ w + b + x64)


def case_linear_residual_after(rng):
    """The other operand computed after the layer (x * 2 following the MatMul):
    not fused."""
    x = rng.standard_normal((7, 24)).astype(np.float32)
    w = (rng.standard_normal((24, 24)) / np.sqrt(24)).astype(np.float32)
    two = np.array(2.0, dtype=np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]),
             helper.make_node("Mul", ["x", "two"], ["d"]),
             helper.make_node("Add", ["m", "d"], ["y"])]
    x64 = x.astype(np.float64)
    return nodes, [("x", x)], [("w", w), ("two", two)], x64 @ w + 2 * x64


def case_transformer_ffn(rng):
    """A transformer's FFN as ONNX exports it: MatMul + Add(bias) (folded into
    the layer's bias), GELU as Div, Erf, Add, Mul, Mul (one graph fused into
    the stores), MatMul + Add(bias), + the block's input (fused)."""
    x = rng.standard_normal((1, 9, 24)).astype(np.float32)
    w1 = (rng.standard_normal((24, 56)) / np.sqrt(24)).astype(np.float32)
    b1 = rng.standard_normal(56).astype(np.float32)
    w2 = (rng.standard_normal((56, 24)) / np.sqrt(56)).astype(np.float32)
    b2 = rng.standard_normal(24).astype(np.float32)
    consts = [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2),
              ("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32)),
              ("one", np.array(1.0, dtype=np.float32)),
              ("half", np.array(0.5, dtype=np.float32))]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["m1"]),
             helper.make_node("Add", ["m1", "b1"], ["h"]),
             helper.make_node("Div", ["h", "sqrt2"], ["d"]),
             helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["p"]),
             helper.make_node("Mul", ["h", "p"], ["q"]),
             helper.make_node("Mul", ["q", "half"], ["g"]),
             helper.make_node("MatMul", ["g", "w2"], ["m2"]),
             helper.make_node("Add", ["m2", "b2"], ["o"]),
             helper.make_node("Add", ["o", "x"], ["y"])]
    x64 = x.astype(np.float64)
    h = x64 @ w1 + b1
    gelu = h * 0.5 * (1.0 + np.vectorize(math.erf)(h / np.sqrt(2.0)))
    return nodes, [("x", x)], consts, gelu @ w2 + b2 + x64


CASES = {
    "bottleneck-end-7x7": case_bottleneck_end,
    "bottleneck-end-batch2": case_bottleneck_end_batch2,
    "downsampling-block": case_downsampling_block,
    "padded-conv-residual": case_padded_conv_residual,
    "linear-residual": case_linear_residual,
    "linear-residual-after": case_linear_residual_after,
    "transformer-ffn": case_transformer_ffn,
}

OPTIONS = [
    [],
    ["--host-vector-width=8"],
    ["--host-vector-width=4", "--host-tile-tokens=2", "--host-tile-vectors=1"],
    ["--host-row-patterns=always", "--host-sparse-rows=always"],
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: " ".join(o) or "default")
@pytest.mark.parametrize("name", CASES)
def test_residual_blocks_match_numpy(tmp_path: Path, name, options):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    check_against_numpy(tmp_path, *CASES[name](rng), options, RTOL)


def test_fused_residual_gives_the_same_bits_at_1_and_2_threads(tmp_path: Path):
    nodes, inputs, init, expected = case_downsampling_block(np.random.default_rng(5))
    model = save_model(tmp_path / "block.onnx", nodes, inputs, expected.shape, init)
    one, two = run_at_thread_counts(model, inputs[0][1], tmp_path)
    assert one.tobytes() == two.tobytes()
