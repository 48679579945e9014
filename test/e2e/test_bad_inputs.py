"""Hostile / corrupt inputs: sparsec must fail cleanly.

For every case: exit code exactly 1 (not 0, not a signal), an `error:` line on stderr with a
hint of the cause, done within 30 s, and no output file written. Each model case is run both
with `--emit=mlir -o FILE` (hint checked) and with `--run ... -o DIR` (exit code, `error:` and
no outputs checked). The expected hints are in EXPECTED_HINTS below.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import models
from sparsec_cli import run_sparsec

TIMEOUT_S = 30

# case -> list of groups; every group must match stderr (case-insensitive), a group matches if
# any of its alternatives occurs. Adjust here when the compiler's wording changes.
EXPECTED_HINTS: Dict[str, List[Tuple[str, ...]]] = {
    "truncated_protobuf": [("parse", "protobuf", "invalid", "corrupt", "truncated", "malformed")],
    "garbage_bytes": [("parse", "protobuf", "invalid", "corrupt", "malformed")],
    "empty_file": [("empty", "parse", "invalid", "no graph")],
    "missing_file": [("no such file", "not found", "does not exist", "cannot open",
                      "failed to open", "could not open")],
    "add_shape_mismatch": [("bad_add", "Add"), ("shape", "broadcast", "incompatible")],
    "matmul_k_mismatch": [("bad_matmul", "MatMul"), ("shape", "dimension", "incompatible", "mismatch")],
    "missing_initializer": [("W_missing",)],
    "external_relative_escape": [("external",), ("../secret.bin", "outside", "escape", "parent")],
    "external_absolute_path": [("external",), ("/etc/passwd", "absolute")],
    "external_symlink_escape": [("external",), ("link.bin", "outside", "symlink", "escape")],
    "cyclic_graph": [("cycle", "cyclic")],
    "unsupported_op": [("NonMaxSuppression",), ("nms_node",)],
    "custom_domain_op": [("MyCustomOp",), ("com.example", "domain", "unsupported")],
    "zero_dim_input": [("x_zero",), ("dim", "shape", "zero")],
    "negative_dim_input": [("x_neg",), ("dim", "shape", "negative")],
    "raw_data_size_mismatch": [("W_short",), ("size", "bytes", "raw_data", "mismatch")],
    "initializer_dims_overflow": [("W_huge",), ("overflow", "too large", "size", "dim")],
    "duplicate_output_name": [("dup",), ("more than once", "duplicate", "redefin", "already")],
    "unsupported_opset": [("opset",)],
    "no_graph": [("graph",)],
    # issue 13: each crashed, over-read or exited silently before
    "uint8_constant_output": [("'y'",), ("UINT8",)],
    "raw_data_short_shape_input": [("target",), ("raw_data",), ("12 bytes",)],
    "external_offset_overflow": [("external",), ("outside",)],
    "external_offset_not_a_number": [("external",), ("offset",), ("not a",)],
    "conv_zero_stride": [("conv0",), ("strides",), ("out of range",)],
    "gemm_missing_input_no_checker": [("gemm1",), ("inputs",)],
    "concat_no_inputs_no_checker": [("cat0",), ("input",)],
    "cast_fold_out_of_range": [("cast_big",), ("out of range",)],
}

# Cases that run with extra flags (the checker would catch them first).
EXTRA_ARGS: Dict[str, List[str]] = {
    "gemm_missing_input_no_checker": ["--no-onnx-checker"],
    "concat_no_inputs_no_checker": ["--no-onnx-checker"],
}

# --run-only cases (CLI input problems on a valid model): case -> hint groups
RUN_HINTS: Dict[str, List[Tuple[str, ...]]] = {
    "run_missing_input": [("input",)],
    "run_too_many_inputs": [("input",)],
    "run_input_shape_mismatch": [("shape", "dimension", "expected")],
    "run_input_npy_corrupt": [("npy", "input")],
    "run_input_npy_missing": [("no such file", "not found", "does not exist", "cannot open",
                               "failed to open", "could not open")],
}

ERROR_LINE = re.compile(r"(^|: )error:", re.M)


def _model(nodes, inputs, outputs, inits=(), opset=17, domains=()) -> onnx.ModelProto:
    g = helper.make_graph(nodes, "bad", inputs, outputs, initializer=list(inits))
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    return helper.make_model(g, opset_imports=ops, ir_version=models.IR_VERSION)


def _vi(name, shape, dt=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dt, shape)


def _valid_bytes() -> bytes:
    return models.mlp_gemm(opset=17).SerializeToString()


def _external_tensor(name: str, location: str) -> onnx.TensorProto:
    t = TensorProto(name=name, dims=[4], data_type=TensorProto.FLOAT)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "16")):
        e = t.external_data.add()
        e.key, e.value = k, v
    return t


def _uses_init(init: onnx.TensorProto) -> onnx.ModelProto:
    n = helper.make_node("Add", ["x", init.name], ["y"], name="add_init")
    return _model([n], [_vi("x", [4])], [_vi("y", [4])], [init])


# Each builder writes the hostile file into d and returns its path.
def _b_truncated(d: Path) -> Path:
    b = _valid_bytes()
    p = d / "m.onnx"
    p.write_bytes(b[: len(b) // 2])
    return p


def _b_garbage(d: Path) -> Path:
    p = d / "m.onnx"
    p.write_bytes(np.random.default_rng(1234).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return p


def _b_empty(d: Path) -> Path:
    p = d / "m.onnx"
    p.write_bytes(b"")
    return p


def _b_missing(d: Path) -> Path:
    return d / "does_not_exist.onnx"


def _b_add_shape(d: Path) -> onnx.ModelProto:
    n = helper.make_node("Add", ["a", "b"], ["y"], name="bad_add")
    return _model([n], [_vi("a", [2, 3]), _vi("b", [4, 5])], [_vi("y", [2, 3])])


def _b_matmul_k(d: Path) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones([4, 5], np.float32), "W")
    n = helper.make_node("MatMul", ["a", "W"], ["y"], name="bad_matmul")
    return _model([n], [_vi("a", [2, 3])], [_vi("y", [2, 5])], [w])


def _b_missing_init(d: Path) -> onnx.ModelProto:
    n = helper.make_node("MatMul", ["x", "W_missing"], ["y"], name="mm")
    return _model([n], [_vi("x", [2, 3])], [_vi("y", [2, 5])])


def _b_ext_relative(d: Path) -> onnx.ModelProto:
    # a file that a naive loader would happily read, outside the model directory
    (d.parent / "secret.bin").write_bytes(np.arange(4, dtype=np.float32).tobytes())
    return _uses_init(_external_tensor("W_ext", "../secret.bin"))


def _b_ext_absolute(d: Path) -> onnx.ModelProto:
    return _uses_init(_external_tensor("W_ext", "/etc/passwd"))


def _b_ext_symlink(d: Path) -> onnx.ModelProto:
    os.symlink("/etc/passwd", d / "link.bin")
    return _uses_init(_external_tensor("W_ext", "link.bin"))


def _b_cycle(d: Path) -> onnx.ModelProto:
    a = helper.make_node("Add", ["x", "b_out"], ["a_out"], name="node_A")
    b = helper.make_node("Relu", ["a_out"], ["b_out"], name="node_B")
    return _model([a, b], [_vi("x", [2, 3])], [_vi("a_out", [2, 3])])


def _b_unsupported(d: Path) -> onnx.ModelProto:
    n = helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"], name="nms_node")
    return _model([n], [_vi("boxes", [1, 6, 4]), _vi("scores", [1, 1, 6])],
                  [_vi("sel", [None, 3], TensorProto.INT64)])


def _b_custom(d: Path) -> onnx.ModelProto:
    n = helper.make_node("MyCustomOp", ["x"], ["y"], name="custom_node", domain="com.example")
    return _model([n], [_vi("x", [2, 3])], [_vi("y", [2, 3])], domains=["com.example"])


def _b_zero_dim(d: Path) -> onnx.ModelProto:
    n = helper.make_node("Relu", ["x_zero"], ["y"], name="relu")
    return _model([n], [_vi("x_zero", [0, 4])], [_vi("y", [0, 4])])


def _b_neg_dim(d: Path) -> onnx.ModelProto:
    n = helper.make_node("Relu", ["x_neg"], ["y"], name="relu")
    return _model([n], [_vi("x_neg", [-3, 4])], [_vi("y", [-3, 4])])


def _b_raw_short(d: Path) -> onnx.ModelProto:
    t = TensorProto(name="W_short", dims=[4, 4], data_type=TensorProto.FLOAT, raw_data=b"\0" * 8)
    n = helper.make_node("MatMul", ["x", "W_short"], ["y"], name="mm")
    return _model([n], [_vi("x", [2, 4])], [_vi("y", [2, 4])], [t])


def _b_dims_overflow(d: Path) -> onnx.ModelProto:
    # 2^31 * 2^31 * 4 elements: the int64 product wraps to 0, matching the empty raw_data
    t = TensorProto(name="W_huge", dims=[2 ** 31, 2 ** 31, 4], data_type=TensorProto.FLOAT,
                    raw_data=b"")
    n = helper.make_node("Add", ["x", "W_huge"], ["y"], name="add_huge")
    return _model([n], [_vi("x", [4])], [_vi("y", [2 ** 31, 2 ** 31, 4])], [t])


def _b_dup_output(d: Path) -> onnx.ModelProto:
    n1 = helper.make_node("Relu", ["x"], ["dup"], name="relu1")
    n2 = helper.make_node("Neg", ["x"], ["dup"], name="neg1")
    return _model([n1, n2], [_vi("x", [2, 3])], [_vi("dup", [2, 3])])


def _b_opset(d: Path) -> onnx.ModelProto:
    n = helper.make_node("Relu", ["x"], ["y"], name="relu")
    return _model([n], [_vi("x", [2, 3])], [_vi("y", [2, 3])], opset=99)


def _b_no_graph(d: Path) -> onnx.ModelProto:
    return onnx.ModelProto(ir_version=models.IR_VERSION,
                           opset_import=[helper.make_opsetid("", 17)])


def _b_uint8_output(d: Path) -> onnx.ModelProto:
    # elementType() failed and was dereferenced for the graph output
    t = numpy_helper.from_array(np.array([1, 2, 3], np.uint8), "u")
    n = helper.make_node("Constant", [], ["y"], name="u8", value=t)
    return _model([n], [], [_vi("y", [3], TensorProto.UINT8)])


def _b_raw_short_shape(d: Path) -> onnx.ModelProto:
    # 12 bytes for dims [2] of INT64: ONNX 1.12's ParseData overflowed the heap
    t = TensorProto(name="target", dims=[2], data_type=TensorProto.INT64,
                    raw_data=np.array([3, 2], np.int64).tobytes()[:12])
    n = helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape")
    return _model([n], [_vi("x", [2, 3])], [_vi("y", [3, 2])], [t])


def _external_in(d: Path, offset: str, length: str) -> onnx.ModelProto:
    (d / "w.bin").write_bytes(np.arange(8, dtype=np.float32).tobytes())
    t = _external_tensor("W_ext", "w.bin")
    for e in t.external_data:
        e.value = {"offset": offset, "length": length}.get(e.key, e.value)
    return _uses_init(t)


def _b_ext_offset_overflow(d: Path) -> onnx.ModelProto:
    return _external_in(d, "1", str(2 ** 63 - 1))  # offset + length wrapped


def _b_ext_offset_nan(d: Path) -> onnx.ModelProto:
    return _external_in(d, "16abc", "16")  # was read as 16


def _b_conv_zero_stride(d: Path) -> onnx.ModelProto:
    # SIGFPE in ONNX 1.12's conv shape inference and in sparsec
    w = numpy_helper.from_array(np.ones([1, 1, 3, 3], np.float32), "w")
    n = helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", strides=[0, 1],
                         auto_pad="SAME_UPPER")
    return _model([n], [_vi("x", [1, 1, 5, 5])], [_vi("y", [1, 1, 5, 5])], [w])


def _b_gemm_missing_input(d: Path) -> onnx.ModelProto:
    # exited 1 with an empty stderr
    n = helper.make_node("Gemm", ["x"], ["y"], name="gemm1")
    return _model([n], [_vi("x", [2, 3])], [_vi("y", [2, 3])])


def _b_concat_no_inputs(d: Path) -> onnx.ModelProto:
    # read the first of zero inputs
    c = helper.make_node("Concat", [], ["c"], name="cat0", axis=0)
    a = helper.make_node("Add", ["x", "c"], ["y"], name="add")
    return _model([c, a], [_vi("x", [2, 3])], [_vi("y", [2, 3])])


def _b_cast_fold_big(d: Path) -> onnx.ModelProto:
    # float -> int64 conversion of 1e30 while folding: undefined behaviour
    c = numpy_helper.from_array(np.array([1e30, 3], np.float32), "c")
    cast = helper.make_node("Cast", ["c"], ["s"], name="cast_big", to=TensorProto.INT64)
    r = helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")
    return _model([cast, r], [_vi("x", [2, 3])], [_vi("y", [3, 2])], [c])


BUILDERS: Dict[str, Callable[[Path], object]] = {
    "truncated_protobuf": _b_truncated,
    "garbage_bytes": _b_garbage,
    "empty_file": _b_empty,
    "missing_file": _b_missing,
    "add_shape_mismatch": _b_add_shape,
    "matmul_k_mismatch": _b_matmul_k,
    "missing_initializer": _b_missing_init,
    "external_relative_escape": _b_ext_relative,
    "external_absolute_path": _b_ext_absolute,
    "external_symlink_escape": _b_ext_symlink,
    "cyclic_graph": _b_cycle,
    "unsupported_op": _b_unsupported,
    "custom_domain_op": _b_custom,
    "zero_dim_input": _b_zero_dim,
    "negative_dim_input": _b_neg_dim,
    "raw_data_size_mismatch": _b_raw_short,
    "initializer_dims_overflow": _b_dims_overflow,
    "duplicate_output_name": _b_dup_output,
    "unsupported_opset": _b_opset,
    "no_graph": _b_no_graph,
    "uint8_constant_output": _b_uint8_output,
    "raw_data_short_shape_input": _b_raw_short_shape,
    "external_offset_overflow": _b_ext_offset_overflow,
    "external_offset_not_a_number": _b_ext_offset_nan,
    "conv_zero_stride": _b_conv_zero_stride,
    "gemm_missing_input_no_checker": _b_gemm_missing_input,
    "concat_no_inputs_no_checker": _b_concat_no_inputs,
    "cast_fold_out_of_range": _b_cast_fold_big,
}
assert set(BUILDERS) == set(EXPECTED_HINTS)
assert set(EXTRA_ARGS) <= set(BUILDERS)


def _write_case(case: str, tmp_path: Path) -> Path:
    d = tmp_path / "case"
    d.mkdir()
    r = BUILDERS[case](d)
    if isinstance(r, onnx.ModelProto):  # written raw: no checker, no shape inference
        p = d / "m.onnx"
        p.write_bytes(r.SerializeToString())
        return p
    return r


def _run(args) -> subprocess.CompletedProcess:
    try:
        return run_sparsec(args, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"sparsec did not finish within {TIMEOUT_S}s (hang?)", pytrace=False)


def _check_failure(proc: subprocess.CompletedProcess, hints) -> None:
    err = proc.stderr
    assert proc.returncode >= 0, f"killed by signal {-proc.returncode}; stderr:\n{err}"
    assert proc.returncode == 1, f"exit code {proc.returncode} (want 1); stderr:\n{err}"
    assert ERROR_LINE.search(err), f"no 'error:' line on stderr:\n{err}"
    low = err.lower()
    for group in hints or ():
        assert any(h.lower() in low for h in group), \
            f"stderr mentions none of {group}:\n{err}"


@pytest.mark.parametrize("case", list(BUILDERS))
def test_bad_model_emit(case, sparsec, tmp_path):
    model = _write_case(case, tmp_path)
    out = tmp_path / "out.mlir"
    proc = _run([model, "--emit=mlir", "-o", out, *EXTRA_ARGS.get(case, [])])
    _check_failure(proc, EXPECTED_HINTS[case])
    assert not out.exists(), "output file written despite the error"


@pytest.mark.parametrize("case", list(BUILDERS))
def test_bad_model_run(case, sparsec, tmp_path):
    model = _write_case(case, tmp_path)
    inp = tmp_path / "in0.npy"
    np.save(inp, np.zeros([2, 3], np.float32))
    outdir = tmp_path / "outdir"
    proc = _run([model, "--run", f"--input={inp}", "-o", outdir,
                 *EXTRA_ARGS.get(case, [])])
    _check_failure(proc, None)
    written = list(outdir.iterdir()) if outdir.exists() else []
    assert not written, f"outputs written despite the error: {written}"


def _run_case_args(case: str, tmp_path: Path) -> List[str]:
    m = models.mlp_gemm(opset=17)  # one input x: [4, 64] float32
    p = tmp_path / "mlp.onnx"
    onnx.save_model(m, str(p))
    good = tmp_path / "good.npy"
    np.save(good, models.make_inputs(m)[0])
    if case == "run_missing_input":
        ins = []
    elif case == "run_too_many_inputs":
        ins = [good, good]
    elif case == "run_input_shape_mismatch":
        bad = tmp_path / "bad_shape.npy"
        np.save(bad, np.zeros([4, 63], np.float32))
        ins = [bad]
    elif case == "run_input_npy_corrupt":
        bad = tmp_path / "corrupt.npy"
        bad.write_bytes(good.read_bytes()[:100])
        ins = [bad]
    elif case == "run_input_npy_missing":
        ins = [tmp_path / "nope.npy"]
    else:
        raise KeyError(case)
    return [p, "--run", *[f"--input={i}" for i in ins]]


@pytest.mark.parametrize("case", list(RUN_HINTS))
def test_bad_run_inputs(case, sparsec, tmp_path):
    outdir = tmp_path / "outdir"
    proc = _run(_run_case_args(case, tmp_path) + ["-o", outdir])
    _check_failure(proc, RUN_HINTS[case])
    written = list(outdir.iterdir()) if outdir.exists() else []
    assert not written, f"outputs written despite the error: {written}"
