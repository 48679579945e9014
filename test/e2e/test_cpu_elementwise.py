"""The host target's vector loops for the ops outside the kernels
(sparsec-cpu-vectorize-elementwise, docs/CPUBackend.md): softmax, layer normalisation,
reductions over the last axes, broadcast adds and a transpose that keeps the last axis,
on shapes whose rows are multiples of no vector width, against float64 numpy; and the
same bits at 1 and 2 threads.
"""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from sparsec_cli import run_at_thread_counts, run_model

# float32 sums of at most a few hundred terms, and the polynomial exp (3e-7),
# relative to max |y|
RTOL = 2e-6


def save_model(path: Path, nodes, inputs, output_shape, initializers=()) -> Path:
    graph = helper.make_graph(
        nodes, "ops",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(x.shape))
         for name, x in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(output_shape))],
        [numpy_helper.from_array(a, name) for name, a in initializers])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    return path


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layer_norm(x, scale, bias, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * scale + bias


def case_softmax(rng):
    x = rng.standard_normal((3, 5, 37)).astype(np.float32) * 3
    return [helper.make_node("Softmax", ["x"], ["y"], axis=-1)], [("x", x)], [], softmax(
        x.astype(np.float64))


def case_softmax_vit_attention(rng):
    """ViT-B/16's attention rows (197: a masked tail) in parallel loops: the
    polynomial exp's floor once became libm calls there, which kept OpenMP's
    alloca scopes from being inlined and failed the compile."""
    x = rng.standard_normal((1, 12, 197, 197)).astype(np.float32) * 3
    return [helper.make_node("Softmax", ["x"], ["y"], axis=-1)], [("x", x)], [], softmax(
        x.astype(np.float64))


def case_layer_norm(rng):
    x = rng.standard_normal((2, 7, 130)).astype(np.float32)
    scale = rng.standard_normal(130).astype(np.float32)
    bias = rng.standard_normal(130).astype(np.float32)
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], axis=-1,
                            epsilon=1e-5)
    return [node], [("x", x)], [("scale", scale), ("bias", bias)], layer_norm(
        x.astype(np.float64), scale, bias)


def case_reduce_sum(rng):
    x = rng.standard_normal((4, 45)).astype(np.float32)
    axes = np.array([-1], np.int64)
    node = helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=1)
    return [node], [("x", x)], [("axes", axes)], x.astype(np.float64).sum(-1, keepdims=True)


def case_reduce_max(rng):
    x = rng.standard_normal((6, 3, 19)).astype(np.float32)
    node = helper.make_node("ReduceMax", ["x"], ["y"], axes=[-1], keepdims=1)
    return [node], [("x", x)], [], x.astype(np.float64).max(-1, keepdims=True)


def case_global_average_pool(rng):
    x = rng.standard_normal((2, 20, 7, 7)).astype(np.float32)
    node = helper.make_node("GlobalAveragePool", ["x"], ["y"])
    return [node], [("x", x)], [], x.astype(np.float64).mean(axis=(2, 3), keepdims=True)


def case_channel_add_relu(rng):
    x = rng.standard_normal((2, 3, 9, 11)).astype(np.float32)
    shift = rng.standard_normal((3, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Add", ["x", "shift"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    return nodes, [("x", x)], [("shift", shift)], np.maximum(
        x.astype(np.float64) + shift, 0)


def case_residual_add(rng):
    a = rng.standard_normal((1, 6, 13, 13)).astype(np.float32)
    b = rng.standard_normal((1, 6, 13, 13)).astype(np.float32)
    node = helper.make_node("Add", ["a", "b"], ["y"])
    return [node], [("a", a), ("b", b)], [], a.astype(np.float64) + b


def case_transpose_keeps_last(rng):
    x = rng.standard_normal((2, 3, 5, 19)).astype(np.float32)
    node = helper.make_node("Transpose", ["x"], ["y"], perm=[0, 2, 1, 3])
    return [node], [("x", x)], [], x.transpose(0, 2, 1, 3).astype(np.float64)


CASES = [case_softmax, case_softmax_vit_attention, case_layer_norm, case_reduce_sum, case_reduce_max,
         case_global_average_pool, case_channel_add_relu, case_residual_add,
         case_transpose_keeps_last]
WIDTHS = [["--host-vector-width=4"], ["--host-vector-width=8"], ["--host-vector-width=16"]]


@pytest.mark.parametrize("options", WIDTHS, ids=lambda o: " ".join(o))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__[len("case_"):])
def test_elementwise_and_reductions_match_numpy(tmp_path: Path, case, options):
    rng = np.random.default_rng(zlib.crc32(case.__name__.encode()))
    check_against_numpy(tmp_path, *case(rng), options, RTOL)


def check_against_numpy(tmp_path: Path, nodes, inputs, initializers, expected, options,
                        rtol: float):
    """Saves the one-output ONNX graph, runs it with sparsec --run and `options`, and
    checks its output against `expected` (max error relative to max |expected|)."""
    model = save_model(tmp_path / "ops.onnx", nodes, inputs, expected.shape, initializers)
    result = run_model(model, [x for _, x in inputs], tmp_path, 1, extra_args=options)
    assert result.error is None, f"{result.error}\n{result.cmd}"
    (actual,) = result.outputs
    assert actual.shape == expected.shape
    err = float(np.abs(actual - expected).max()) / max(float(np.abs(expected).max()), 1e-6)
    assert err <= rtol, f"max relative error {err:.3g} > {rtol} ({result.cmd})"


def test_layer_norm_and_softmax_give_the_same_bits_at_1_and_2_threads(tmp_path: Path):
    """Rows large enough for the reductions' parallel loops to run on both threads."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((64, 12, 300)).astype(np.float32)
    scale = rng.standard_normal(300).astype(np.float32)
    bias = rng.standard_normal(300).astype(np.float32)
    nodes = [helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["n"], axis=-1),
             helper.make_node("Softmax", ["n"], ["y"], axis=-1)]
    model = save_model(tmp_path / "ln_softmax.onnx", nodes, [("x", x)], x.shape,
                       [("scale", scale), ("bias", bias)])
    outputs = run_at_thread_counts(model, x, tmp_path)
    assert outputs[0].tobytes() == outputs[1].tobytes()
    expected = softmax(layer_norm(x.astype(np.float64), scale, bias))
    assert np.abs(outputs[0] - expected).max() <= RTOL * np.abs(expected).max()
