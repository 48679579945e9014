"""The host target's linear-layer kernels (sparsec-cpu-lower-layers, docs/CPUBackend.md)
against numpy: random shapes that are multiples of no tile, vector width or V; dense, HiNM,
2:4, 1:4 (the N:M group kernel) and all-zero weights; with and without bias; rank 1, 2 and 3 inputs; every vector width
and several register tiles. The reference is float64 numpy of the same float32 data.
"""
from __future__ import annotations

import math
import re
import subprocess
import zlib
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

from sparsec_cli import run_at_thread_counts, run_model, sparsec_bin

RTOL = 1e-5  # float32 sums of at most ~300 products, relative to max |y|


def dense_literal(a: np.ndarray) -> str:
    """An exact MLIR dense literal: the little-endian bytes as hex."""
    return 'dense<"0x' + np.ascontiguousarray(a, "<f4").tobytes().hex().upper() + '">'


def tensor_type(shape) -> str:
    return "tensor<" + "x".join(map(str, shape)) + "xf32>"


def linear_module(in_shape, weight: np.ndarray, bias: Optional[np.ndarray]) -> str:
    rows = weight.shape[0]
    out_shape = tuple(in_shape[:-1]) + (rows,)
    lines = [f"func.func @main(%x: {tensor_type(in_shape)}) -> {tensor_type(out_shape)} {{",
             f"  %w = arith.constant {dense_literal(weight)} : {tensor_type(weight.shape)}"]
    operands, types = "%x, %w", f"{tensor_type(in_shape)}, {tensor_type(weight.shape)}"
    if bias is not None:
        lines.append(f"  %b = arith.constant {dense_literal(bias)} : {tensor_type(bias.shape)}")
        operands += ", %b"
        types += f", {tensor_type(bias.shape)}"
    lines += [f"  %y = sparsec.linear {operands} : ({types}) -> {tensor_type(out_shape)}",
              f"  return %y : {tensor_type(out_shape)}", "}"]
    return "\n".join(lines) + "\n"


def hinm_weight(rng, rows, cols, v, kept_fraction, n=2, m=4):
    """Rows in tiles of v share one kept-column list; inside it each row keeps n of every m."""
    w = rng.standard_normal((rows, cols)).astype(np.float32)
    mask = np.zeros_like(w, dtype=bool)
    for first in range(0, rows, v):
        kept = np.sort(rng.choice(cols, max(1, int(cols * kept_fraction)), replace=False))
        for r in range(first, min(rows, first + v)):
            for g in range(0, len(kept), m):
                group = kept[g:g + m]
                mask[r, rng.choice(group, min(n, len(group)), replace=False)] = True
    return np.where(mask, w, 0).astype(np.float32)


def nm_weight(rng, rows, cols, n=2, m=4):
    w = rng.standard_normal((rows, cols)).astype(np.float32)
    mask = np.zeros_like(w, dtype=bool)
    for r in range(rows):
        for g in range(0, cols, m):
            width = min(m, cols - g)
            mask[r, g + rng.choice(width, min(n, width), replace=False)] = True
    return np.where(mask, w, 0).astype(np.float32)


CASES = [
    # name, tokens shape (leading dims), rows, cols, pattern, bias
    ("dense-odd", (7,), 37, 29, "dense", True),
    ("dense-rank1", (), 19, 33, "dense", True),
    ("dense-rank3", (2, 5), 40, 24, "dense", False),
    ("hinm-v16", (13,), 70, 96, "hinm16", True),
    ("hinm-v64", (9,), 130, 120, "hinm64", True),
    ("nm24", (11,), 33, 50, "nm", False),
    ("nm24-rank3", (3, 7), 45, 64, "nm", True),
    ("nm24-one-token", (1,), 40, 36, "nm", True),
    ("nm14", (23,), 50, 70, "nm14", True),
    ("zero-rows", (5,), 21, 17, "zero-panel", True),
    ("one-token", (1,), 64, 64, "hinm64", False),
]
KERNEL_OPTIONS = [
    ["--host-vector-width=4", "--host-tile-tokens=1", "--host-tile-vectors=1"],
    ["--host-vector-width=8", "--host-tile-tokens=6", "--host-tile-vectors=2"],
    ["--host-vector-width=16", "--host-tile-tokens=8", "--host-tile-vectors=3"],
    # The N:M group kernel for every weight it can take (AVX2's 4 x 1 tile).
    ["--host-vector-width=8", "--host-nm-groups=always"],
    [],  # this machine's defaults (2:4 and 1:4 linear layers: N:M groups, 10 x 2)
    # The row-pattern kernel for every layer (tokens along the lanes; tails of
    # tokens, rows and columns at each vector width)
    ["--host-vector-width=4", "--host-row-patterns=always"],
    ["--host-vector-width=16", "--host-row-patterns=always"],
]


def make_weight(rng, pattern, rows, cols):
    if pattern == "dense":
        return rng.standard_normal((rows, cols)).astype(np.float32)
    if pattern.startswith("hinm"):
        return hinm_weight(rng, rows, cols, int(pattern[4:]), 0.5)
    if pattern == "nm":
        return nm_weight(rng, rows, cols)
    if pattern == "nm14":
        return nm_weight(rng, rows, cols, n=1)
    w = rng.standard_normal((rows, cols)).astype(np.float32)
    w[: rows // 2] = 0  # whole panels without a kept column: the output is the bias
    return w


@pytest.mark.parametrize("options", KERNEL_OPTIONS, ids=lambda o: " ".join(o) or "defaults")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_linear_kernel_matches_numpy(tmp_path: Path, case, options):
    name, lead, rows, cols, pattern, with_bias = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    weight = make_weight(rng, pattern, rows, cols)
    bias = rng.standard_normal(rows).astype(np.float32) if with_bias else None
    in_shape = tuple(lead) + (cols,)
    x = rng.standard_normal(in_shape).astype(np.float32)
    model = tmp_path / "linear.mlir"
    model.write_text(linear_module(in_shape, weight, bias))

    result = run_model(model, [x], tmp_path, 1, extra_args=options)
    assert result.error is None, f"{result.error}\n{result.cmd}"
    expected = x.astype(np.float64) @ weight.astype(np.float64).T
    if bias is not None:
        expected = expected + bias
    (actual,) = result.outputs
    assert actual.shape == expected.shape and actual.dtype == np.float32
    scale = max(float(np.abs(expected).max()), 1e-6)
    err = float(np.abs(actual - expected).max()) / scale
    assert err <= RTOL, f"max relative error {err:.3g} > {RTOL} ({result.cmd})"


def test_kernel_decision_follows_the_zeros(tmp_path: Path):
    """A HiNM weight with V = 64 keeps half of each panel's columns; a dense one keeps all;
    a 2:4 weight keeps all (its zeros differ from row to row)."""
    rng = np.random.default_rng(5)
    decisions = {}
    for pattern in ("dense", "hinm64", "nm"):
        weight = make_weight(rng, pattern, 128, 64)
        model = tmp_path / f"{pattern}.mlir"
        model.write_text(linear_module((4, 64), weight, None))
        out = subprocess.run([str(sparsec_bin().parent / "sparsec-opt"), str(model),
                              "--sparsec-cpu-lower-layers=vector-width=16 tile-vectors=2"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        line = next(ln for ln in out.stdout.splitlines() if "sparsec.cpu.kernel" in ln)
        decisions[pattern] = line
    assert 'kind = "dense"' in decisions["dense"] and "kept_columns = 256" in decisions["dense"]
    assert 'kind = "kept_columns"' in decisions["hinm64"]
    assert "kept_columns = 128 " in decisions["hinm64"] + " "
    assert 'kind = "dense"' in decisions["nm"]


def assert_same_bits_at_1_and_2_threads(tmp_path: Path, weight, x, flags):
    """Runs the linear layer at OMP_NUM_THREADS 1 and 2: bit-identical outputs that match
    numpy."""
    model = tmp_path / "linear.mlir"
    model.write_text(linear_module(x.shape, weight, None))
    outputs = run_at_thread_counts(model, x, tmp_path, flags)
    assert outputs[0].tobytes() == outputs[1].tobytes()
    expected = x.astype(np.float64) @ weight.astype(np.float64).T
    assert np.abs(outputs[0] - expected).max() <= RTOL * np.abs(expected).max()


@pytest.mark.parametrize("threads_flag", [[], ["--host-threads=2"]], ids=["runtime", "compiled"])
def test_threads_give_the_same_bits(tmp_path: Path, threads_flag):
    """Panels run on OpenMP threads: 1 and 2 threads (OMP_NUM_THREADS, or --host-threads
    fixed at compile time) give bit-identical outputs, and both match numpy."""
    rng = np.random.default_rng(11)
    weight = hinm_weight(rng, 200, 72, 16, 0.5)
    x = rng.standard_normal((13, 72)).astype(np.float32)
    assert_same_bits_at_1_and_2_threads(tmp_path, weight, x,
                                        ["--host-vector-width=8", *threads_flag])


def linear_report(tmp_path: Path, weight, tokens: int, flags) -> str:
    """`sparsec --emit=report` of a linear layer with `tokens` tokens."""
    model = tmp_path / "report.mlir"
    model.write_text(linear_module((tokens, weight.shape[1]), weight, None))
    report = subprocess.run([str(sparsec_bin()), str(model), "--emit=report", *flags],
                            capture_output=True, text=True, timeout=60)
    assert report.returncode == 0, report.stderr
    return report.stdout


def test_nm_groups_give_the_same_bits_at_any_thread_count(tmp_path: Path):
    """The N:M group kernel's panels on 1 and 2 OpenMP threads: bit-identical, and numpy's."""
    rng = np.random.default_rng(13)
    weight = nm_weight(rng, 200, 76)
    x = rng.standard_normal((27, 76)).astype(np.float32)
    flags = ["--host-nm-groups=always"]
    assert "gemm N:M groups (2 of 4 columns per row)" in linear_report(tmp_path, weight, 27,
                                                                        flags)
    assert_same_bits_at_1_and_2_threads(tmp_path, weight, x, flags)


def test_row_patterns_give_the_same_bits_at_any_thread_count(tmp_path: Path):
    """A HiNM layer with enough tokens runs the row-pattern kernel in auto mode at a Zen 4's
    pattern MAC cost (the report says so; an Intel AVX-512 host's own cost prefers the
    channel tiles); 1 and 2 OpenMP threads give bit-identical outputs, and numpy's. K > 512:
    two chunks of columns; 150 tokens: two tiles of four 16-lane vectors and a tail tile."""
    rng = np.random.default_rng(15)
    weight = hinm_weight(rng, 130, 600, 16, 0.5)
    x = rng.standard_normal((150, 600)).astype(np.float32)
    flags = ["--host-vector-width=16", "--host-row-pattern-mac-cost=1.6"]
    assert "gemm row patterns, 25% of dense work" in linear_report(tmp_path, weight, 150, flags)
    assert_same_bits_at_1_and_2_threads(tmp_path, weight, x, flags)


def test_nm_group_code_permutes_with_vpermps(tmp_path: Path):
    """The 2:4 layer's x86 code: lane permutes (vpermps, or vpermd on lane indices that were
    widened from bytes) feeding FMAs, no broadcast of the activations."""
    rng = np.random.default_rng(14)
    model = tmp_path / "linear.mlir"
    model.write_text(linear_module((12, 64), nm_weight(rng, 32, 64), None))
    proc = subprocess.run([str(sparsec_bin()), str(model), "--emit=asm",
                           "--host-nm-groups=always"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"\bvperm(ps|d)\b", proc.stdout) and "vfmadd" in proc.stdout
    assert "vpmovzxbd" in proc.stdout  # the lane bytes, widened
    assert "vbroadcastf32x4" not in proc.stdout


def test_sparse_layer_code_is_parallel_and_vectorised(tmp_path: Path):
    """The object of a HiNM layer forks OpenMP threads and uses FMA instructions."""
    rng = np.random.default_rng(12)
    model = tmp_path / "linear.mlir"
    model.write_text(linear_module((8, 64), hinm_weight(rng, 128, 64, 64, 0.5), None))
    proc = subprocess.run([str(sparsec_bin()), str(model), "--emit=llvm",
                           "--host-vector-width=8"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "__kmpc_fork_call" in proc.stdout
    assert "llvm.fma.v8f32" in proc.stdout or "llvm.fmuladd.v8f32" in proc.stdout


def conv_module(in_shape, weight, bias, strides, pads, dilations, groups=1) -> str:
    n, _, h, w = in_shape
    o, _, kh, kw = weight.shape
    oh = (h + pads[0] + pads[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    out_shape = (n, o, oh, ow)
    operands, types = "%x, %w", f"{tensor_type(in_shape)}, {tensor_type(weight.shape)}"
    lines = [f"func.func @main(%x: {tensor_type(in_shape)}) -> {tensor_type(out_shape)} {{",
             f"  %w = arith.constant {dense_literal(weight)} : {tensor_type(weight.shape)}"]
    if bias is not None:
        lines.append(f"  %b = arith.constant {dense_literal(bias)} : {tensor_type(bias.shape)}")
        operands += ", %b"
        types += f", {tensor_type(bias.shape)}"
    arr = lambda v: "array<i64: " + ", ".join(map(str, v)) + ">"  # noqa: E731
    lines += [f"  %y = sparsec.conv2d {operands} {{strides = {arr(strides)}, pads = {arr(pads)}, "
              f"dilations = {arr(dilations)}, groups = {groups} : i64}} : ({types}) -> {tensor_type(out_shape)}",
              f"  return %y : {tensor_type(out_shape)}", "}"]
    return "\n".join(lines) + "\n", out_shape


def conv_reference(x, weight, bias, strides, pads, dilations, out_shape, groups=1):
    """float64 direct convolution (NCHW, OIHW; grouped: each group's channels alone)."""
    if groups > 1:
        cg, og = x.shape[1] // groups, weight.shape[0] // groups
        parts = [conv_reference(x[:, g * cg:(g + 1) * cg], weight[g * og:(g + 1) * og],
                                None if bias is None else bias[g * og:(g + 1) * og], strides,
                                pads, dilations, (out_shape[0], og, *out_shape[2:]))
                 for g in range(groups)]
        return np.concatenate(parts, axis=1)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, o, oh, ow = out_shape
    kh, kw = weight.shape[2:]
    y = np.zeros(out_shape)
    for i in range(kh):
        for j in range(kw):
            rows = i * dilations[0] + strides[0] * np.arange(oh)
            cols = j * dilations[1] + strides[1] * np.arange(ow)
            patch = xp[:, :, rows][:, :, :, cols]  # n, c, oh, ow
            y += np.einsum("nchw,oc->nohw", patch, weight[:, :, i, j].astype(np.float64))
    if bias is not None:
        y += bias[None, :, None, None]
    return y


CONV_CASES = [
    # name, input NCHW, out channels, kernel, strides, pads, dilations, pattern, bias
    ("1x1", (1, 19, 5, 6), 33, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), "dense", True),
    ("1x1-batch2", (2, 6, 3, 5), 9, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), "dense", False),
    ("1x1-s2", (1, 8, 7, 9), 12, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), "dense", True),
    ("1x1-pad", (1, 5, 4, 4), 7, (1, 1), (1, 1), (1, 0, 0, 1), (1, 1), "dense", True),
    ("1x1-hinm", (1, 64, 9, 9), 72, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), "hinm16", True),
    ("3x3-pad", (2, 7, 9, 8), 20, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), "dense", False),
    ("7x7-s2", (1, 3, 17, 15), 40, (7, 7), (2, 2), (3, 2, 3, 1), (1, 1), "dense", True),
    ("3x3-dilated", (1, 5, 12, 11), 17, (3, 2), (1, 2), (2, 0, 1, 1), (2, 3), "dense", True),
    ("3x3-hinm", (1, 16, 8, 8), 64, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), "hinm32", True),
    # direct (stride 1) convolutions: no padding, so the last pixel blocks read
    # past the input's end (masked); garbage columns of a padded width; small
    # images; batch > 1; channel counts that are no multiple of the panel
    ("3x3-valid", (1, 6, 10, 13), 11, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1), "dense", True),
    ("1x1-28", (1, 40, 28, 28), 20, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), "dense", True),
    ("5x3-dilated-s1", (1, 4, 11, 9), 9, (5, 3), (1, 1), (4, 2, 3, 1), (2, 1), "dense", False),
    ("3x3-7x7-batch2", (2, 32, 7, 7), 24, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), "dense", True),
    ("3x3-valid-hinm", (1, 16, 12, 5), 40, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1), "hinm16", True),
    ("3x3-s2-hinm", (1, 16, 9, 9), 64, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), "hinm32", False),
    ("3x3-nm24", (2, 8, 11, 10), 21, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), "nm24", True),
    ("1x1-s2-nm24", (1, 16, 9, 7), 12, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), "nm24", True),
    # pixel counts with a few pixels past the last whole vector (49 = 32 + 16
    # + 1, 196 = 6 x 32 + 4): those run with the channels along the lanes
    ("1x1-7x7", (1, 37, 7, 7), 45, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), "dense", True),
    ("1x1-14x14-hinm-batch2", (2, 64, 14, 14), 40, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1),
     "hinm16", False),
    ("1x1-s2-to-7x7", (1, 24, 13, 13), 20, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), "dense", True),
    # phase planes: stride 3, unequal strides with a dilation on the other axis
    ("3x3-s3", (1, 5, 13, 12), 7, (3, 3), (3, 3), (1, 1, 1, 1), (1, 1), "dense", True),
    ("3x2-s2x1-d1x2", (1, 4, 11, 10), 9, (3, 2), (2, 1), (1, 0, 2, 1), (1, 2), "dense", True),
    # more columns than a pixel block's activations can keep in L1, on an
    # image of more than four pixel blocks (smaller ones run panel by panel,
    # unchunked): the columns run in chunks (a partial last panel, a tail
    # tile, lane pixels and masked blocks besides)
    ("1x1-column-chunks", (1, 600, 9, 29), 19, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), "dense", True),
    ("3x3-column-chunks-batch2", (2, 160, 6, 10), 16, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1),
     "dense", False),
]


# The channel-tile form at two vector widths, and the row-sparse form forced
# on (it runs only where it pays by default).
CONV_OPTIONS = KERNEL_OPTIONS[1:3] + [
    ["--host-vector-width=8", "--host-sparse-rows=always"],
    ["--host-vector-width=16", "--host-sparse-rows=always"],
    ["--host-vector-width=8", "--host-row-patterns=always"],
    ["--host-vector-width=16", "--host-row-patterns=always"],
]


@pytest.mark.parametrize("options", CONV_OPTIONS, ids=lambda o: " ".join(o))
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: c[0])
def test_conv_kernel_matches_numpy(tmp_path: Path, case, options):
    name, in_shape, out_ch, kernel, strides, pads, dilations, pattern, with_bias = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    cols = in_shape[1] * kernel[0] * kernel[1]
    if pattern.startswith("hinm"):
        gemm = hinm_weight(rng, out_ch, cols, int(pattern[4:]), 0.5)
    elif pattern == "nm24":
        gemm = nm_weight(rng, out_ch, cols)
    else:
        gemm = rng.standard_normal((out_ch, cols)).astype(np.float32)
    weight = gemm.reshape(out_ch, in_shape[1], *kernel)
    bias = rng.standard_normal(out_ch).astype(np.float32) if with_bias else None
    x = rng.standard_normal(in_shape).astype(np.float32)
    text, out_shape = conv_module(in_shape, weight, bias, strides, pads, dilations)
    model = tmp_path / "conv.mlir"
    model.write_text(text)
    result = run_model(model, [x], tmp_path, 1, extra_args=options)
    assert result.error is None, f"{result.error}\n{result.cmd}"
    expected = conv_reference(x, weight, bias, strides, pads, dilations, out_shape)
    (actual,) = result.outputs
    assert actual.shape == expected.shape
    err = float(np.abs(actual - expected).max()) / max(float(np.abs(expected).max()), 1e-6)
    assert err <= RTOL, f"max relative error {err:.3g} > {RTOL} ({result.cmd})"


GROUPED_CASES = [
    # name, input NCHW, out channels, groups, kernel, strides, pads, dilations, bias
    ("dw-3x3", (1, 24, 13, 11), 24, 24, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), True),
    ("dw-3x3-s2-batch2", (2, 16, 15, 14), 16, 16, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), False),
    ("dw-5x5-s2", (1, 8, 9, 9), 8, 8, (5, 5), (2, 2), (2, 2, 2, 2), (1, 1), True),
    ("dw-multiplier", (1, 4, 7, 7), 8, 4, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1), True),
    ("grouped-3", (1, 12, 8, 9), 18, 3, (3, 3), (1, 1), (1, 0, 1, 2), (1, 1), True),
    ("dw-dilated", (1, 6, 12, 10), 6, 6, (3, 3), (1, 1), (2, 2, 2, 2), (2, 2), True),
    ("dw-s2-dilated", (1, 5, 12, 11), 5, 5, (3, 3), (2, 2), (2, 2, 2, 2), (2, 2), True),
    # the direct depthwise kernel (DepthwiseConv.cpp): rows wide enough for
    # loops of unmasked chunks between the border chunks, at both strides
    ("dw-wide", (1, 3, 6, 301), 3, 3, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), True),
    ("dw-wide-s2", (2, 2, 7, 300), 2, 2, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),
    # asymmetric pads; stride 2 on rows narrower than a vector
    ("dw-s2-asym", (1, 4, 9, 10), 4, 4, (3, 3), (2, 2), (0, 2, 2, 0), (1, 1), False),
    ("dw-s2-narrow", (1, 3, 5, 3), 3, 3, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),
    # pads wider than the kernel: border rows and columns with no valid tap
    ("dw-wide-pad", (1, 3, 5, 6), 3, 3, (3, 3), (1, 1), (3, 4, 3, 4), (1, 1), True),
    # a vertical stride of 3 (scalar rows), multiplier 2 with stride 2
    ("dw-s3x1", (1, 4, 13, 20), 4, 4, (3, 3), (3, 1), (1, 1, 1, 1), (1, 1), True),
    ("dw-multiplier-s2", (1, 3, 10, 37), 6, 3, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),
    # a horizontal stride of 3: the row-sparse form
    ("dw-s1x3", (1, 4, 8, 20), 4, 4, (3, 3), (1, 3), (1, 1, 1, 1), (1, 1), True),
]


@pytest.mark.parametrize("options", KERNEL_OPTIONS[:3], ids=lambda o: " ".join(o))
@pytest.mark.parametrize("case", GROUPED_CASES, ids=lambda c: c[0])
def test_grouped_conv_kernel_matches_numpy(tmp_path: Path, case, options):
    name, in_shape, out_ch, groups, kernel, strides, pads, dilations, with_bias = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    weight = rng.standard_normal((out_ch, in_shape[1] // groups, *kernel)).astype(np.float32)
    weight[0, 0, 0, 0] = 0.0  # a zero the row-sparse form skips
    bias = rng.standard_normal(out_ch).astype(np.float32) if with_bias else None
    x = rng.standard_normal(in_shape).astype(np.float32)
    text, out_shape = conv_module(in_shape, weight, bias, strides, pads, dilations, groups)
    model = tmp_path / "conv.mlir"
    model.write_text(text)
    result = run_model(model, [x], tmp_path, 1, extra_args=options)
    assert result.error is None, f"{result.error}\n{result.cmd}"
    expected = conv_reference(x, weight, bias, strides, pads, dilations, out_shape, groups)
    (actual,) = result.outputs
    assert actual.shape == expected.shape
    err = float(np.abs(actual - expected).max()) / max(float(np.abs(expected).max()), 1e-6)
    assert err <= RTOL, f"max relative error {err:.3g} > {RTOL} ({result.cmd})"


def activation_generic(value: str, shape, kind: str, name: str) -> list:
    """MLIR lines applying `kind` (relu6 with 0-d bound tensors, or leaky) to `value`."""
    rank = len(shape)
    dims = ", ".join(f"d{i}" for i in range(rank))
    ident = f"affine_map<({dims}) -> ({dims})>"
    scalar = f"affine_map<({dims}) -> ()>"
    t = tensor_type(shape)
    par = ", ".join(['"parallel"'] * rank)
    if kind == "relu6":
        return [f"  %{name}_lo = arith.constant dense<0.0> : tensor<f32>",
                f"  %{name}_hi = arith.constant dense<6.0> : tensor<f32>",
                f"  %{name}_e = tensor.empty() : {t}",
                f"  %{name} = linalg.generic {{indexing_maps = [{ident}, {scalar}, {scalar}, {ident}], "
                f"iterator_types = [{par}]}} ins(%{value}, %{name}_lo, %{name}_hi : {t}, tensor<f32>, "
                f"tensor<f32>) outs(%{name}_e : {t}) {{",
                "  ^bb0(%a: f32, %l: f32, %h: f32, %o: f32):",
                "    %m = arith.maximumf %a, %l : f32",
                "    %n = arith.minimumf %m, %h : f32",
                "    linalg.yield %n : f32",
                f"  }} -> {t}"]
    return [f"  %{name}_e = tensor.empty() : {t}",
            f"  %{name} = linalg.generic {{indexing_maps = [{ident}, {ident}], iterator_types = [{par}]}} "
            f"ins(%{value} : {t}) outs(%{name}_e : {t}) {{",
            "  ^bb0(%a: f32, %o: f32):",
            "    %zero = arith.constant 0.0 : f32",
            "    %alpha = arith.constant 0.1 : f32",
            "    %neg = arith.cmpf olt, %a, %zero : f32",
            "    %s = arith.mulf %a, %alpha : f32",
            "    %v = arith.select %neg, %s, %a : f32",
            "    linalg.yield %v : f32",
            f"  }} -> {t}"]


def apply_activation(y: np.ndarray, kind: str) -> np.ndarray:
    return np.clip(y, 0.0, 6.0) if kind == "relu6" else np.where(y < 0, 0.1 * y, y)


FUSED_CASES = [
    # name, layer, shapes, groups, activations applied in order
    ("conv3x3-relu6", "conv", (1, 8, 9, 10), 12, 1, ["relu6"]),
    ("conv3x3-relu6-leaky", "conv", (2, 6, 7, 11), 10, 1, ["relu6", "leaky"]),
    ("depthwise-relu6", "conv", (1, 16, 12, 9), 16, 16, ["relu6"]),
    # 49 pixels: the last one runs with the channels along the lanes
    ("conv1x1-7x7-relu6", "conv1x1", (1, 8, 7, 7), 20, 1, ["relu6"]),
    # column chunks: the activation applies once, to the sum of every chunk
    # (not ReLU6: it clips the large sums of 1728 columns, and the error of
    # the few left in [0, 6] is large beside 6)
    ("conv3x3-column-chunks-leaky", "conv", (1, 192, 6, 10), 16, 1, ["leaky"]),
    ("linear3d-leaky", "linear", (2, 5, 24), 37, 1, ["leaky"]),
]


@pytest.mark.parametrize("options", CONV_OPTIONS + [["--host-row-patterns=always"]],
                         ids=lambda o: " ".join(o))
@pytest.mark.parametrize("case", FUSED_CASES, ids=lambda c: c[0])
def test_fused_activations_match_numpy(tmp_path: Path, case, options):
    """ReLU6 / LeakyReLU generics after a layer run inside its kernel's stores
    (test/Target/Host/cpu-lower-layers-epilogue.mlir checks that they are fused)."""
    name, layer, in_shape, out_ch, groups, acts = case
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    x = (3 * rng.standard_normal(in_shape)).astype(np.float32)
    bias = rng.standard_normal(out_ch).astype(np.float32)
    if layer.startswith("conv"):
        k, pads = (1, (0, 0, 0, 0)) if layer == "conv1x1" else (3, (1, 1, 1, 1))
        weight = rng.standard_normal((out_ch, in_shape[1] // groups, k, k)).astype(np.float32)
        text, out_shape = conv_module(in_shape, weight, bias, (1, 1), pads, (1, 1), groups)
        expected = conv_reference(x, weight, bias, (1, 1), pads, (1, 1), out_shape, groups)
    else:
        weight = rng.standard_normal((out_ch, in_shape[-1])).astype(np.float32)
        text = linear_module(in_shape, weight, bias)
        out_shape = (*in_shape[:-1], out_ch)
        expected = x.astype(np.float64) @ weight.astype(np.float64).T + bias
    lines = text.rstrip("\n").split("\n")
    ret = lines[-2]  # "  return %y : tensor<...>"
    value = ret.split("%")[1].split(" ")[0]
    body = lines[:-2]
    for i, act in enumerate(acts):
        body += activation_generic(value, out_shape, act, f"act{i}")
        value = f"act{i}"
        expected = apply_activation(expected, act)
    body += [f"  return %{value} : {tensor_type(out_shape)}", "}"]
    model = tmp_path / "fused.mlir"
    model.write_text("\n".join(body) + "\n")
    result = run_model(model, [x], tmp_path, 1, extra_args=options)
    assert result.error is None, f"{result.error}\n{result.cmd}"
    (actual,) = result.outputs
    assert actual.shape == expected.shape
    err = float(np.abs(actual - expected).max()) / max(float(np.abs(expected).max()), 1e-6)
    assert err <= RTOL, f"max relative error {err:.3g} > {RTOL} ({result.cmd})"


MATMUL_CASES = [
    # A shape, B shape: ONNX MatMul of two graph inputs (attention's Q·Kᵀ and P·V)
    ((7, 5), (5, 37)),
    ((2, 3, 13, 9), (2, 3, 9, 70)),
    ((4, 33, 16), (4, 16, 8)),
    ((1, 1), (1, 1)),
    ((1, 4, 16, 16), (1, 4, 16, 16)),
]


@pytest.mark.parametrize("options", KERNEL_OPTIONS[:3], ids=lambda o: " ".join(o))
@pytest.mark.parametrize("shapes", MATMUL_CASES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_batched_matmul_kernel_matches_numpy(tmp_path: Path, shapes, options):
    import onnx
    from onnx import TensorProto, helper
    a_shape, b_shape = shapes
    out_shape = tuple(a_shape[:-1]) + (b_shape[-1],)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["a", "b"], ["y"])], "matmul",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, list(a_shape)),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, list(b_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(out_shape))])
    model = tmp_path / "matmul.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    rng = np.random.default_rng(sum(a_shape) * 31 + sum(b_shape))
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    result = run_model(model, [a, b], tmp_path, 1, extra_args=options)
    assert result.error is None, f"{result.error}\n{result.cmd}"
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    (actual,) = result.outputs
    assert actual.shape == expected.shape
    err = float(np.abs(actual - expected).max()) / max(float(np.abs(expected).max()), 1e-6)
    assert err <= RTOL, f"max relative error {err:.3g} > {RTOL} ({result.cmd})"


def elementwise_module(n: int, op: str) -> str:
    return f"""func.func @main(%x: tensor<{n}xf32>) -> tensor<{n}xf32> {{
  %e = tensor.empty() : tensor<{n}xf32>
  %y = linalg.generic {{indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                       iterator_types = ["parallel"]}}
      ins(%x : tensor<{n}xf32>) outs(%e : tensor<{n}xf32>) {{
  ^bb0(%a: f32, %o: f32):
    %r = {op} %a : f32
    linalg.yield %r : f32
  }} -> tensor<{n}xf32>
  return %y : tensor<{n}xf32>
}}
"""


MATH_REFERENCES = {"erf": math.erf, "tanh": math.tanh,
                   "exp": lambda v: math.exp(v) if v < 709 else math.inf}
MATH_AT_INFINITY = {"erf": (1.0, -1.0), "tanh": (1.0, -1.0), "exp": (math.inf, 0.0)}


@pytest.mark.parametrize("approximate", [True, False], ids=["polynomial", "libm"])
@pytest.mark.parametrize("name", sorted(MATH_REFERENCES))
def test_math_functions_match_float64(tmp_path: Path, name, approximate):
    """erf, exp and tanh as the host compiles them (sparsec-cpu-approximate-math by default,
    libm with --host-approximate-math=false) against float64 math over a dense sweep, the
    overflow edges and the special values: relative error <= 3e-7 (libm: 1.5e-7) wherever the
    result is a normal float; exp of x < -87.4 (a subnormal result) is 0 or that subnormal."""
    x = np.concatenate([np.linspace(-12, 12, 24001), np.linspace(-90, 90, 1801),
                        [0.0, -0.0, 1e-30, -1e-30, 1e-45, 3.4e38, -3.4e38, 88.7, -87.3,
                         np.inf, -np.inf, np.nan]]).astype(np.float32)
    model = tmp_path / "f.mlir"
    model.write_text(elementwise_module(x.size, f"math.{name}"))
    flags = [] if approximate else ["--host-approximate-math=false"]
    result = run_model(model, [x], tmp_path, 1, extra_args=flags)
    assert result.error is None, f"{result.error}\n{result.cmd}"
    (got,) = result.outputs
    got = got.astype(np.float64)
    finite = np.isfinite(x)
    ref = np.array([MATH_REFERENCES[name](float(v)) for v in x[finite]])
    f32 = np.finfo(np.float32)
    overflow = np.abs(ref) > f32.max
    normal = ~overflow & (np.abs(ref) >= f32.tiny)
    g = got[finite]
    assert np.all(g[overflow] == np.sign(ref[overflow]) * np.inf), "overflow"
    rel = np.abs(g[normal] - ref[normal]) / np.abs(ref[normal])
    bound = 3e-7 if approximate else 1.5e-7
    assert rel.max() <= bound, f"max relative error {rel.max():.3g} at x = {x[finite][normal][rel.argmax()]}"
    tiny = ~overflow & ~normal & (ref != 0)
    assert np.all((g[tiny] >= 0) & (g[tiny] <= np.finfo(np.float32).tiny)), "subnormal results"
    up, down = MATH_AT_INFINITY[name]
    assert got[x == np.inf][0] == up and got[x == -np.inf][0] == down
    assert np.isnan(got[np.isnan(x)]).all()
