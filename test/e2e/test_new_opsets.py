"""Models at the opsets after 17 (issue 15): what the current ONNX library
(scripts/build-onnx.sh) lets the importer accept. Each model runs through
`sparsec --run` on the host and is compared with onnxruntime and with a float64
numpy reference: the definitions that changed after opset 17 (Reduce* axes as an
input, Squeeze/Unsqueeze/Reshape at their newest definitions) and the ops that
appeared since (Gelu at 20, RMSNormalization at 23).
"""
from __future__ import annotations

from math import erf, sqrt
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from sparsec_cli import run_model, run_sparsec

RTOL = 1e-4  # the bound, relative to max |y|


def build(path: Path, opset: int, nodes, inputs, output_shape, initializers=()) -> Path:
    graph = helper.make_graph(
        nodes, f"opset{opset}",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(x.shape))
         for name, x in inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(output_shape))],
        [numpy_helper.from_array(a, name) for name, a in initializers])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, str(path))
    return path


def gelu(x, tanh=False):
    if tanh:
        return 0.5 * x * (1 + np.tanh(sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + np.vectorize(erf)(x / sqrt(2)))


def rms_norm(x, scale, axis, eps):
    axes = tuple(range(axis % x.ndim, x.ndim))
    return x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps) * scale


def case_reduce_mean_axes_input(rng):
    x = rng.standard_normal((2, 5, 7)).astype(np.float32)
    axes = np.array([1, -1], np.int64)
    nodes = [helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)]
    return 18, nodes, [("x", x)], [("axes", axes)], x.astype(np.float64).mean(axis=(1, 2))


def case_reduce_max_axes_input(rng):
    x = rng.standard_normal((3, 4, 6)).astype(np.float32)
    nodes = [helper.make_node("ReduceMax", ["x", "axes"], ["y"], keepdims=1)]
    return (20, nodes, [("x", x)], [("axes", np.array([0], np.int64))],
            x.max(axis=0, keepdims=True).astype(np.float64))


def case_gelu_erf(rng):
    x = rng.standard_normal((4, 33)).astype(np.float32) * 3
    return 20, [helper.make_node("Gelu", ["x"], ["y"])], [("x", x)], [], gelu(
        x.astype(np.float64))


def case_gelu_tanh(rng):
    x = rng.standard_normal((4, 33)).astype(np.float32) * 3
    return 21, [helper.make_node("Gelu", ["x"], ["y"], approximate="tanh")], [("x", x)], [], \
        gelu(x.astype(np.float64), tanh=True)


def case_rms_norm_last_axis(rng):
    x = rng.standard_normal((2, 3, 40)).astype(np.float32) * 2
    scale = rng.uniform(0.5, 1.5, 40).astype(np.float32)
    nodes = [helper.make_node("RMSNormalization", ["x", "scale"], ["y"], epsilon=1e-6)]
    return 23, nodes, [("x", x)], [("scale", scale)], rms_norm(
        x.astype(np.float64), scale.astype(np.float64), -1, 1e-6)


def case_rms_norm_two_axes(rng):
    x = rng.standard_normal((2, 6, 9)).astype(np.float32)
    scale = rng.uniform(0.5, 1.5, (6, 9)).astype(np.float32)
    nodes = [helper.make_node("RMSNormalization", ["x", "scale"], ["y"], axis=1)]
    return 23, nodes, [("x", x)], [("scale", scale)], rms_norm(
        x.astype(np.float64), scale.astype(np.float64), 1, 1e-5)


def case_llama_mlp_block(rng):
    """RMSNorm, then a SwiGLU MLP (gate and up projections, SiLU as x *
    Sigmoid(x)) and a residual, at opset 23 with Unsqueeze/Squeeze/Reshape at
    their newest definitions around it."""
    d, f, t = 16, 24, 5
    x = rng.standard_normal((t, d)).astype(np.float32)
    scale = rng.uniform(0.5, 1.5, d).astype(np.float32)
    wg, wu = (rng.standard_normal((d, f)).astype(np.float32) * 0.3 for _ in range(2))
    wd = rng.standard_normal((f, d)).astype(np.float32) * 0.3
    nodes = [
        helper.make_node("Unsqueeze", ["x", "ax0"], ["x3"]),
        helper.make_node("RMSNormalization", ["x3", "scale"], ["n"]),
        helper.make_node("Squeeze", ["n", "ax0"], ["n2"]),
        helper.make_node("MatMul", ["n2", "wg"], ["g"]),
        helper.make_node("Sigmoid", ["g"], ["sg"]),
        helper.make_node("Mul", ["g", "sg"], ["silu"]),
        helper.make_node("MatMul", ["n2", "wu"], ["u"]),
        helper.make_node("Mul", ["silu", "u"], ["h"]),
        helper.make_node("MatMul", ["h", "wd"], ["o"]),
        helper.make_node("Add", ["o", "x"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["y"]),
    ]
    x64 = x.astype(np.float64)
    n = rms_norm(x64, scale.astype(np.float64), -1, 1e-5)
    g = n @ wg.astype(np.float64)
    h = g / (1 + np.exp(-g)) * (n @ wu.astype(np.float64))
    expected = (h @ wd.astype(np.float64) + x64).reshape(1, t * d)
    inits = [("scale", scale), ("wg", wg), ("wu", wu), ("wd", wd),
             ("ax0", np.array([0], np.int64)), ("shape", np.array([1, t * d], np.int64))]
    return 23, nodes, [("x", x)], inits, expected


def case_split_uneven(rng):
    """Split's num_outputs (opset 18): parts of ceil(10 / 3) = 4, the last smaller; the
    parts are summed back with weights so that every output is checked."""
    x = rng.standard_normal((2, 10)).astype(np.float32)
    nodes = [helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3),
             helper.make_node("Concat", ["c", "a", "b"], ["y"], axis=1)]
    x64 = x.astype(np.float64)
    return 18, nodes, [("x", x)], [], np.concatenate([x64[:, 8:], x64[:, :4], x64[:, 4:8]], 1)


def case_pad_constant_axes_and_crop(rng):
    """Pad's axes input (opset 18): pads on axis -1 only, one side negative (a crop)."""
    x = rng.standard_normal((3, 7)).astype(np.float32)
    nodes = [helper.make_node("Pad", ["x", "pads", "value", "axes"], ["y"])]
    inits = [("pads", np.array([2, -3], np.int64)), ("value", np.array(1.5, np.float32)),
             ("axes", np.array([-1], np.int64))]
    expected = np.pad(x.astype(np.float64)[:, :4], ((0, 0), (2, 0)), constant_values=1.5)
    return 18, nodes, [("x", x)], inits, expected


def refused(tmp_path: Path, model: onnx.ModelProto, *flags: str) -> str:
    """Saves `model`, runs sparsec on it, checks that it fails; returns its stderr."""
    onnx.save_model(model, str(tmp_path / "m.onnx"))
    proc = run_sparsec([str(tmp_path / "m.onnx"), *flags])
    assert proc.returncode != 0
    return proc.stderr


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def case_attention_gqa_causal(rng):
    """Attention (23, expanded from its ONNX function): 4 query heads over 2 key/value
    heads, causal, [batch, heads, seq, head size] inputs."""
    q = rng.standard_normal((1, 4, 5, 8)).astype(np.float32)
    k = rng.standard_normal((1, 2, 5, 8)).astype(np.float32)
    v = rng.standard_normal((1, 2, 5, 8)).astype(np.float32)
    nodes = [helper.make_node("Attention", ["q", "k", "v"], ["y"], is_causal=1)]
    kk = np.repeat(k.astype(np.float64), 2, axis=1)
    vv = np.repeat(v.astype(np.float64), 2, axis=1)
    scores = q.astype(np.float64) @ kk.transpose(0, 1, 3, 2) / np.sqrt(8)
    scores = np.where(np.tril(np.ones((5, 5), bool)), scores, -np.inf)
    return 23, nodes, [("q", q), ("k", k), ("v", v)], [], softmax(scores) @ vv


def case_rotary_embedding(rng):
    """RotaryEmbedding (23, expanded): [batch, seq, heads x head size] input, position ids,
    rotate-half form."""
    x = rng.standard_normal((1, 3, 2 * 8)).astype(np.float32)
    angles = rng.uniform(0, 3, (6, 4))
    cos, sin = np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
    positions = np.array([[4, 0, 2]], np.int64)
    nodes = [helper.make_node("RotaryEmbedding", ["x", "cos", "sin", "pos"], ["y"],
                              num_heads=2)]
    xh = x.astype(np.float64).reshape(1, 3, 2, 8)
    c = cos.astype(np.float64)[positions][:, :, None, :]
    s_ = sin.astype(np.float64)[positions][:, :, None, :]
    x1, x2 = xh[..., :4], xh[..., 4:]
    y = np.concatenate([x1 * c - x2 * s_, x2 * c + x1 * s_], axis=-1).reshape(1, 3, 16)
    return 23, nodes, [("x", x)], [("cos", cos), ("sin", sin), ("pos", positions)], y


def case_mvn_default_axes(rng):
    """MeanVarianceNormalization (13, a plain function) over axes [0, 2, 3]. (Its default
    axes, which ONNX's own checker trips over, are the node test test_mvn.)"""
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    xd = x.astype(np.float64)
    mean = xd.mean(axis=(0, 2, 3), keepdims=True)
    var = ((xd - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True)
    return 18, [helper.make_node("MeanVarianceNormalization", ["x"], ["y"], axes=[0, 2, 3])], \
        [("x", x)], [], \
        (xd - mean) / (np.sqrt(var) + 1e-9)


def case_celu(rng):
    x = rng.standard_normal((3, 7)).astype(np.float32) * 2
    xd = x.astype(np.float64)
    return 17, [helper.make_node("Celu", ["x"], ["y"], alpha=1.5)], [("x", x)], [], \
        np.maximum(0, xd) + np.minimum(0, 1.5 * (np.exp(xd / 1.5) - 1))


def case_resize_nearest_upsample(rng):
    """Resize as torch exports F.interpolate(scale_factor=2, mode='nearest'): asymmetric,
    floor (UNet/YOLO upsampling)."""
    x = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor")]
    expected = x.astype(np.float64).repeat(2, axis=2).repeat(2, axis=3)
    return 19, nodes, [("x", x)], [("scales", np.array([1, 1, 2, 2], np.float32))], expected


def case_resize_bilinear_align_corners(rng):
    """Resize linear with align_corners to sizes 7 x 9 from 4 x 5."""
    x = rng.standard_normal((1, 2, 4, 5)).astype(np.float32)
    nodes = [helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear",
                              coordinate_transformation_mode="align_corners")]

    def along(a, axis, n_out):
        n_in = a.shape[axis]
        pos = np.arange(n_out) * (n_in - 1) / (n_out - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        w = (pos - lo).reshape([-1 if d == axis else 1 for d in range(a.ndim)])
        return np.take(a, lo, axis=axis) * (1 - w) + np.take(a, hi, axis=axis) * w
    expected = along(along(x.astype(np.float64), 2, 7), 3, 9)
    return 19, nodes, [("x", x)], [("sizes", np.array([1, 2, 7, 9], np.int64))], expected


def case_shrink(rng):
    """Shrink (9): x + bias below -lambd, x - bias above lambd, else 0."""
    x = np.concatenate([np.array([-0.75, -0.5, 0.5, 0.75], np.float32),
                        rng.standard_normal(12).astype(np.float32)]).reshape(4, 4)
    xd = x.astype(np.float64)
    lambd, bias = np.float32(0.5), np.float32(0.25)
    expected = np.where(xd < -lambd, xd + bias, np.where(xd > lambd, xd - bias, 0.0))
    return 17, [helper.make_node("Shrink", ["x"], ["y"], lambd=0.5, bias=0.25)], \
        [("x", x)], [], expected


CASES = [case_split_uneven, case_pad_constant_axes_and_crop, case_reduce_mean_axes_input, case_reduce_max_axes_input, case_gelu_erf,
         case_gelu_tanh, case_rms_norm_last_axis, case_rms_norm_two_axes,
         case_llama_mlp_block, case_attention_gqa_causal, case_rotary_embedding,
         case_mvn_default_axes, case_celu, case_resize_nearest_upsample,
         case_resize_bilinear_align_corners, case_shrink]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_new_opset_model_matches_onnxruntime_and_numpy(case, tmp_path, sparsec):
    opset, nodes, inputs, inits, expected = case(np.random.default_rng(15))
    path = build(tmp_path / "m.onnx", opset, nodes, inputs, expected.shape, inits)
    result = run_model(path, [x for _, x in inputs], tmp_path / "run", 1)
    assert result.error is None, result.error
    got = result.outputs[0].astype(np.float64)
    scale = max(float(np.abs(expected).max()), 1e-6)
    assert got.shape == expected.shape
    assert float(np.abs(got - expected).max()) / scale <= RTOL
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    reference = session.run(None, {name: x for name, x in inputs})[0].astype(np.float64)
    assert float(np.abs(got - reference).max()) / scale <= RTOL


def test_nested_function_ops_expand(tmp_path, sparsec):
    """SwiGLU (28) is a function whose body uses Swish (24), itself a function: both levels
    are expanded. Checked against numpy (onnxruntime predates opset 28)."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 8)).astype(np.float32)
    b = rng.standard_normal((3, 8)).astype(np.float32)
    path = build(tmp_path / "swiglu.onnx", 28,
                 [helper.make_node("SwiGLU", ["a", "b"], ["y"], alpha=1.5)],
                 [("a", a), ("b", b)], (3, 8))
    result = run_model(path, [a, b], tmp_path / "run", 1)
    assert result.error is None, result.error
    ad, bd = a.astype(np.float64), b.astype(np.float64)
    expected = ad / (1 + np.exp(-1.5 * ad)) * bd
    np.testing.assert_allclose(result.outputs[0], expected, rtol=RTOL, atol=1e-6)


def test_function_ops_expand_with_a_clear_error(tmp_path, sparsec):
    """An op ONNX defines as a function is expanded by ONNX's inliner; when the inliner
    cannot (Attention with an omitted input before a given one), the error names it."""
    q = helper.make_tensor_value_info("q", TensorProto.FLOAT, [1, 2, 3, 4])
    past = helper.make_tensor_value_info("past", TensorProto.FLOAT, [1, 2, 2, 4])
    graph = helper.make_graph(
        [helper.make_node("Attention", ["q", "q", "q", "", "past", "past"],
                          ["y", "pk", "pv"], name="attn")], "g", [q, past],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "pk", "pv")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    assert "expanding the ONNX function ops (Attention) failed" in refused(tmp_path, model)


def test_opset_past_the_newest_is_refused(tmp_path, sparsec):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 99)])
    newest = onnx.defs.onnx_opset_version()
    assert f"model uses ONNX opset 99; sparsec supports opsets 7-{newest}" in \
        refused(tmp_path, model)


def test_bad_gelu_approximation_is_an_error(tmp_path, sparsec):
    graph = helper.make_graph(
        [helper.make_node("Gelu", ["x"], ["y"], name="act", approximate="erf")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    assert "node 'act' (Gelu, opset 20): Gelu approximate must be 'none' or 'tanh', not 'erf'" \
        in refused(tmp_path, model, "--no-onnx-checker")


@pytest.mark.parametrize("mode,pads", [("edge", (3, 5)), ("reflect", (4, 2)),
                                       ("reflect", (9, 13)), ("wrap", (11, 2))])
def test_pad_modes_match_numpy(mode, pads, tmp_path, sparsec):
    """edge, reflect (pads beyond the axis reflect again, as numpy's) and wrap (opset 19)
    along the last axis of a [2, 5] input, against numpy.pad."""
    x = np.random.default_rng(3).standard_normal((2, 5)).astype(np.float32)
    nodes = [helper.make_node("Pad", ["x", "pads"], ["y"], mode=mode)]
    inits = [("pads", np.array([0, pads[0], 0, pads[1]], np.int64))]
    expected = np.pad(x.astype(np.float64), ((0, 0), pads), mode=mode)
    path = build(tmp_path / "m.onnx", 19, nodes, [("x", x)], expected.shape, inits)
    result = run_model(path, [x], tmp_path / "run", 1)
    assert result.error is None, result.error
    np.testing.assert_array_equal(result.outputs[0].astype(np.float64), expected)


def test_split_sizes_must_cover_the_axis(tmp_path, sparsec):
    graph = helper.make_graph(
        [helper.make_node("Split", ["x", "split"], ["a", "b"], name="split", axis=0)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [5])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in "ab"],
        [numpy_helper.from_array(np.array([2, 2], np.int64), "split")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    assert "node 'split' (Split, opset 18): the Split sizes add up to 4, not axis 0's 5" \
        in refused(tmp_path, model, "--no-onnx-checker")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_weights_prune_and_export(dtype, tmp_path, sparsec):
    """fp16 and bf16 checkpoints (a weight initializer cast to float): the layer is a
    constant-weight layer that prunes 2:4; --export-onnx writes the pruned weight back in
    its own type; the host run agrees with onnxruntime on the exported model."""
    rng = np.random.default_rng(5)
    w32 = rng.standard_normal((64, 32)).astype(np.float32)
    if dtype == "float16":
        w = w32.astype(np.float16)
        init = numpy_helper.from_array(w, "W")
        w_values = w.astype(np.float32)
        elem = TensorProto.FLOAT16
    else:
        bits = ((w32.view(np.uint32) + 0x7FFF + ((w32.view(np.uint32) >> 16) & 1)) >> 16)
        bits = bits.astype(np.uint16)
        init = helper.make_tensor("W", TensorProto.BFLOAT16, [64, 32], bits.tobytes(), raw=True)
        w_values = (bits.astype(np.uint32) << 16).view(np.float32)
        elem = TensorProto.BFLOAT16
    graph = helper.make_graph(
        [helper.make_node("Cast", ["W"], ["Wf"], to=TensorProto.FLOAT),
         helper.make_node("MatMul", ["x", "Wf"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 32])], [init])
    model = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(model))
    x = rng.standard_normal((4, 64)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "pruned.onnx"
    proc = run_sparsec([model, "--sparsity=nm:n=2,m=4", "--prune-value-type=f32",
                        f"--export-onnx={out}", "--run", f"--input={tmp_path / 'x.npy'}",
                        "-o", tmp_path / "out"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    exported = next(t for t in onnx.load(str(out)).graph.initializer if t.name == "W")
    assert exported.data_type == elem
    raw = np.frombuffer(exported.raw_data, np.uint16)
    values = (raw.view(np.float16).astype(np.float32) if dtype == "float16"
              else (raw.astype(np.uint32) << 16).view(np.float32)).reshape(64, 32)
    # 2:4 by magnitude along K (the 64 rows of B) for every output column.
    groups = np.abs(w_values.T).reshape(32, 16, 4)
    keep = np.argsort(-groups, axis=2, kind="stable")[:, :, :2]
    mask = np.zeros_like(groups, bool)
    np.put_along_axis(mask, keep, True, axis=2)
    np.testing.assert_array_equal(values, np.where(mask.reshape(32, 64).T, w_values, 0))
    y = np.load(tmp_path / "out" / "output_0.npy")
    ref = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    assert np.abs(y - ref).max() <= 1e-4 * np.abs(ref).max()
