"""CUDA back end without a GPU: every kernel variant the generator emits runs
on sparsec's PTX emulator (through the runtime's C API) and is compared with an
independent numpy reference; the PTX assembles with ptxas; whole pruned models
compiled with --target=cuda agree with onnxruntime on the exported masked
model. The same kernels run on the H200 in test/gpu/ (docs/GPUChecks.md)."""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from cuda_ref import (linear_reference, normwise_rel, random_hinm, random_nm24_mask,
                      round_to)
from sparsec_cli import REPO_ROOT, sparsec_bin, sparsec_ok
import models

RUNTIME_LIB = sparsec_bin().parent.parent / "lib" / "libsparsec_runtime.so"
SPARSEC_RUN = sparsec_bin().parent / "sparsec-run"
PTXAS = shutil.which("ptxas") or (
    "/usr/local/cuda/bin/ptxas" if os.access("/usr/local/cuda/bin/ptxas", os.X_OK) else None)


@pytest.fixture(scope="module")
def rt():
    if not RUNTIME_LIB.exists():
        pytest.fail(f"{RUNTIME_LIB} missing: build the project first", pytrace=False)
    os.environ["SPARSEC_RUNTIME_LIB"] = str(RUNTIME_LIB)
    sys.path.insert(0, str(REPO_ROOT / "python"))
    import sparsec_runtime
    return sparsec_runtime


@pytest.fixture(scope="module")
def emulator(rt):
    with rt.Device("emulator") as device:
        yield device


# (rows, cols, tokens): awkward sizes on purpose (not tile multiples, T=1).
SHAPES = [(200, 328, 13), (64, 32, 1), (130, 100, 70), (96, 80, 8), (257, 64, 130)]
FORMATS = [("nm24", 0, 0.0), ("hinm", 64, 0.5), ("hinm", 128, 0.75)]
CASES = list(itertools.product(["sm_80", "sm_90a"], FORMATS, ["f16", "bf16"],
                               ["none", "relu", "gelu"], [True, False]))


def make_layer(rt, device, rng, rows, cols, fmt, v, vs, **kwargs):
    # sm_90a here means the wgmma kernels unless a test asks otherwise
    # (--cuda-wgmma=auto would pick mma.sp for most of these small layers).
    kwargs.setdefault("wgmma", "async")
    weight = rng.standard_normal((rows, cols)).astype(np.float32)
    columns = None
    if fmt == "nm24":
        mask = random_nm24_mask(rng, rows, cols)
    else:
        mask, columns = random_hinm(rng, rows, cols, v, vs,
                                    shuffle=kwargs.pop("shuffle", False))
    layer = rt.Layer(device, weight, mask=mask, tile_columns=columns, format=fmt,
                     v=v or 64, **kwargs)
    return layer, weight, mask


def assemble(ptx: str, arch: str, tmp_path: Path) -> None:
    if PTXAS is None:
        return
    path = tmp_path / f"k.{arch}.ptx"
    path.write_text(ptx)
    proc = subprocess.run([PTXAS, f"-arch={arch}", str(path), "-o", os.devnull],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


@pytest.mark.parametrize("arch,fmt,dtype,act,has_bias", CASES,
                         ids=[f"{a}-{f[0]}{f[1] or ''}-{d}-{act}-{'bias' if b else 'nobias'}"
                              for a, f, d, act, b in CASES])
def test_kernel_matches_numpy(rt, emulator, tmp_path, arch, fmt, dtype, act, has_bias):
    index = CASES.index((arch, fmt, dtype, act, has_bias))
    rows, cols, tokens = SHAPES[index % len(SHAPES)]
    rng = np.random.default_rng(1000 + index)
    name, v, vs = fmt
    bias = rng.standard_normal(rows).astype(np.float32) if has_bias else None
    layer, weight, mask = make_layer(rt, emulator, rng, rows, cols, name, v, vs, bias=bias,
                                     arch=arch, dtype=dtype, act=act)
    x = rng.standard_normal((tokens, cols)).astype(np.float32)
    got = layer.run(x)
    want = linear_reference(weight, mask, bias, x, dtype, act)
    assert got.shape == want.shape
    assert normwise_rel(got, want) <= (2e-3 if dtype == "f16" else 1e-2)
    # Every output is the reference rounded to the value type, give or take
    # accumulation-order differences of a few ulps.
    ulp = 2.0 ** -10 if dtype == "f16" else 2.0 ** -7
    assert np.all(np.abs(got - want) <= 4 * ulp * np.abs(want) + 1e-3 * np.abs(want).max())
    assemble(layer.ptx, arch, tmp_path)


@pytest.mark.parametrize("arch,tile_n", [("sm_80", 32), ("sm_80", 128), ("sm_90a", 64),
                                         ("sm_90a", 256)])
def test_tile_sizes(rt, emulator, tmp_path, arch, tile_n):
    rng = np.random.default_rng(tile_n)
    layer, weight, mask = make_layer(rt, emulator, rng, 192, 160, "hinm", 64, 0.5,
                                     arch=arch, tile_n=tile_n)
    assert layer.info["tile_n"] == tile_n
    x = rng.standard_normal((tile_n + 5, 160)).astype(np.float32)
    want = linear_reference(weight, mask, None, x, "f16", "none")
    assert normwise_rel(layer.run(x), want) <= 2e-3
    assemble(layer.ptx, arch, tmp_path)


@pytest.mark.parametrize("fmt", [("nm24", 0, 0.0), ("hinm", 64, 0.5), ("hinm", 128, 0.75)])
@pytest.mark.parametrize("tile_n", [64, 128, 256])
def test_wgmma_sync_fallback(rt, emulator, fmt, tile_n):
    """The synchronous sm_90a pipeline (A from registers) stays correct: it is
    the fallback for tile_n 256 and --cuda-wgmma=sync."""
    rng = np.random.default_rng(tile_n)
    name, v, vs = fmt
    layer, weight, mask = make_layer(rt, emulator, rng, 192, 300, name, v, vs,
                                     arch="sm_90a", tile_n=tile_n, wgmma="sync")
    assert "async wgmma" not in layer.ptx.splitlines()[0]
    x = rng.standard_normal((tile_n + 3, 300)).astype(np.float32)
    want = linear_reference(weight, mask, None, x, "f16", "none")
    assert normwise_rel(layer.run(x), want) <= 2e-3


@pytest.mark.parametrize("fmt", [("nm24", 0, 0.0), ("hinm", 128, 0.75)])
@pytest.mark.parametrize("wgmma", ["async", "sync"])
@pytest.mark.parametrize("tile_m,tile_n",
                         [(128, 64), (128, 128), (64, 128), (256, 128), (128, 256)])
def test_sm90a_tile_m(rt, emulator, fmt, wgmma, tile_m, tile_n):
    """One warpgroup per 64 rows; the CTA's warpgroups share the activation
    tile."""
    rng = np.random.default_rng(tile_m + tile_n)
    name, v, vs = fmt
    if name == "hinm" and v % tile_m:
        pytest.skip("HiNM rows per CTA must divide V (test_tile_m_limits)")
    bias = rng.standard_normal(300).astype(np.float32)
    layer, weight, mask = make_layer(rt, emulator, rng, 300, 256, name, v, vs,
                                     arch="sm_90a", tile_m=tile_m, tile_n=tile_n,
                                     wgmma=wgmma, bias=bias, act="relu")
    assert layer.info["tile_m"] == tile_m and layer.info["threads"] == 2 * tile_m
    x = rng.standard_normal((tile_n + 9, 256)).astype(np.float32)
    want = linear_reference(weight, mask, bias, x, "f16", "relu")
    assert normwise_rel(layer.run(x), want) <= 2e-3


@pytest.mark.parametrize("arch,wgmma", [("sm_80", "auto"), ("sm_90a", "off"),
                                        ("sm_90a", "auto")])
@pytest.mark.parametrize("fmt", [("nm24", 0, 0.0), ("hinm", 128, 0.5),
                                 ("hinm", 256, 0.75)])
@pytest.mark.parametrize("splits", [1, 3])
def test_mma_sp_tile_m128(rt, emulator, monkeypatch, tmp_path, arch, wgmma, fmt,
                          splits):
    """mma.sp with 128-row tiles: 8 warps of 32 rows x tile_n/2 tokens share
    one activation tile (half the activation traffic of 64-row tiles), on
    awkward sizes, with and without k-splits; under --cuda-wgmma=auto an
    explicit tile_m 128 keeps the layer's instruction (mma.sp here)."""
    monkeypatch.setenv("SPARSEC_CUDA_SPLIT_K", str(splits))
    rng = np.random.default_rng(splits)
    name, v, vs = fmt
    bias = rng.standard_normal(300).astype(np.float32)
    layer, weight, mask = make_layer(rt, emulator, rng, 300, 328, name, v, vs,
                                     arch=arch, wgmma=wgmma, tile_m=128,
                                     bias=bias, act="gelu")
    assert layer.info["tile_m"] == 128 and layer.info["threads"] == 256
    assert "wgmma" not in layer.ptx and "mma.sp::ordered_metadata" in layer.ptx
    assemble(layer.ptx, arch, tmp_path)
    for tokens in (1, 137):
        x = rng.standard_normal((tokens, 328)).astype(np.float32)
        want = linear_reference(weight, mask, bias, x, "f16", "gelu")
        assert normwise_rel(layer.run(x), want) <= 2e-3


def test_tile_m_limits(rt, emulator):
    rng = np.random.default_rng(0)
    with pytest.raises(rt.SparsecRuntimeError, match="tile_m 256 needs sm_90a"):
        make_layer(rt, emulator, rng, 256, 64, "nm24", 0, 0.0, arch="sm_80", tile_m=256)
    with pytest.raises(rt.SparsecRuntimeError, match="tile_m 256 needs wgmma"):
        make_layer(rt, emulator, rng, 256, 64, "nm24", 0, 0.0, arch="sm_90a",
                   wgmma="off", tile_m=256)
    with pytest.raises(rt.SparsecRuntimeError, match="multiple of it"):
        make_layer(rt, emulator, rng, 128, 64, "hinm", 64, 0.5, arch="sm_90a", tile_m=128)
    with pytest.raises(rt.SparsecRuntimeError, match="accumulator registers"):
        make_layer(rt, emulator, rng, 256, 64, "nm24", 0, 0.0, arch="sm_90a",
                   tile_m=256, tile_n=256)


@pytest.mark.parametrize("arch", ["sm_80", "sm_90a"])
def test_hinm_column_order_defines_groups(rt, emulator, arch):
    """Shuffled L_t: the 2:4 groups are consecutive entries of the list, not
    of ascending columns; the kernel must gather in list order."""
    rng = np.random.default_rng(7)
    layer, weight, mask = make_layer(rt, emulator, rng, 128, 96, "hinm", 64, 0.5,
                                     arch=arch, shuffle=True)
    x = rng.standard_normal((20, 96)).astype(np.float32)
    want = linear_reference(weight, mask, None, x, "f16", "none")
    assert normwise_rel(layer.run(x), want) <= 2e-3


def test_layer_info_and_bytes(rt, emulator):
    rng = np.random.default_rng(3)
    layer, _, _ = make_layer(rt, emulator, rng, 100, 256, "hinm", 64, 0.5)
    info = layer.info
    assert info["rows_padded"] == 128 and info["kept_width"] == 128
    # values 2 B + meta 1/4 B per kept slot, + 4 B per col_idx entry.
    assert layer.weight_bytes == 128 * 64 * 2 + 128 * 128 // 8 + 2 * 128 * 4


def test_bad_layer_options_are_refused(rt, emulator):
    weight = np.ones((64, 64), dtype=np.float32)
    with pytest.raises(rt.SparsecRuntimeError, match="not 2:4 sparse"):
        rt.Layer(emulator, weight, format="nm24")
    mask, columns = random_hinm(np.random.default_rng(0), 64, 64, 64, 0.5)
    with pytest.raises(rt.SparsecRuntimeError, match="multiple of 64"):
        rt.Layer(emulator, weight, mask=mask, tile_columns=columns, format="hinm", v=32)
    with pytest.raises(rt.SparsecRuntimeError, match="arch"):
        rt.Layer(emulator, weight, mask=mask, tile_columns=columns, arch="sm_70")


def pruned_model(tmp_path: Path, spec: str, dims, batch: int):
    path = tmp_path / "mlp.onnx"
    onnx.save(models.mlp_gemm(batch=batch, dims=dims), path)
    masked = tmp_path / "masked.onnx"
    sparsec_ok([path, f"--sparsity={spec}", f"--export-onnx={masked}", "--emit=none"],
               "export masked model", timeout=120)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((batch, dims[0])).astype(np.float32)
    ort_out = models.run_onnxruntime(onnx.load(masked), [x])[0]
    return path, x, ort_out


MODEL_CASES = [("hinm:v=64,vs=0.5", "sm_80", "f16", "auto"),
               ("hinm:v=128,vs=0.75", "sm_90a", "f16", "async"),
               ("hinm:v=128,vs=0.75", "sm_90a", "bf16", "auto"),
               ("nm:n=2,m=4", "sm_80", "bf16", "auto"),
               ("nm:n=2,m=4", "sm_90a", "f16", "async")]


@pytest.mark.parametrize("spec,arch,dtype,wgmma", MODEL_CASES)
def test_model_matches_onnxruntime(tmp_path, spec, arch, dtype, wgmma):
    """--target=cuda --run on the emulator vs onnxruntime on the masked model."""
    path, x, want = pruned_model(tmp_path, spec, (200, 328, 136, 40), batch=37)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out"
    sparsec_ok([path, f"--sparsity={spec}", "--target=cuda", f"--cuda-arch={arch}",
                f"--cuda-wgmma={wgmma}", f"--cuda-dtype={dtype}", "--cuda-device=emulator",
                "--run",
                f"--input={tmp_path / 'x.npy'}", "-o", out], "cuda run", timeout=300)
    got = np.load(out / "output_0.npy")
    assert got.shape == want.shape
    assert normwise_rel(got, want) <= (5e-3 if dtype == "f16" else 2e-2)


def ffn_model(batch: int, seq: int, d: int, ffn: int) -> onnx.ModelProto:
    """A transformer FFN block as torch exports it: 3-D MatMul + Add bias,
    erf GELU, residual Add."""
    g = models.GraphBuilder("ffn", seed=5)
    x = g.input("x", [batch, seq, d])
    h = models._gelu_erf(g, g.linear(x, d, ffn, name="fc1"), "gelu")
    y = g.op("Add", [g.linear(h, ffn, d, name="fc2"), x], name="residual", out="y")
    g.output(y, shape=[batch, seq, d])
    return g.model(17)


@pytest.mark.parametrize("spec,arch", [("hinm:v=64,vs=0.5", "sm_90a"),
                                       ("nm:n=2,m=4", "sm_80")])
def test_ffn_with_gelu_matches_onnxruntime(tmp_path, spec, arch):
    """Bias and GELU fused into the sparse layers' epilogues, 3-D input."""
    path = tmp_path / "ffn.onnx"
    onnx.save(ffn_model(2, 9, 96, 384), path)
    masked = tmp_path / "masked.onnx"
    sparsec_ok([path, f"--sparsity={spec}", f"--export-onnx={masked}", "--emit=none"],
               "export", timeout=120)
    x = np.random.default_rng(4).standard_normal((2, 9, 96)).astype(np.float32)
    want = models.run_onnxruntime(onnx.load(masked), [x])[0]
    np.save(tmp_path / "x.npy", x)
    sparsec_ok([path, f"--sparsity={spec}", "--target=cuda", f"--cuda-arch={arch}",
                "--cuda-wgmma=async", "--cuda-device=emulator", "--run",
                f"--input={tmp_path / 'x.npy'}",
                "-o", tmp_path / "out"], "cuda run", timeout=300)
    got = np.load(tmp_path / "out" / "output_0.npy")
    assert got.shape == want.shape
    assert normwise_rel(got, want) <= 5e-3


def test_sparsec_run_cli(tmp_path):
    """The artifact runs through the MLIR-free CLI, and bad inputs are refused."""
    path, x, want = pruned_model(tmp_path, "nm:n=2,m=4", (64, 128, 64, 10), batch=4)
    art = tmp_path / "art"
    sparsec_ok([path, "--sparsity=nm:n=2,m=4", "--target=cuda", "-o", art], "artifact",
               timeout=120)
    np.save(tmp_path / "x.npy", x)
    run = subprocess.run([SPARSEC_RUN, art, "--input", tmp_path / "x.npy", "-o",
                          tmp_path / "out", "--device=emulator"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert normwise_rel(np.load(tmp_path / "out" / "output_0.npy"), want) <= 5e-3
    np.save(tmp_path / "bad.npy", np.zeros((4, 63), dtype=np.float32))
    bad = subprocess.run([SPARSEC_RUN, art, "--input", tmp_path / "bad.npy", "-o",
                          tmp_path / "out2", "--device=emulator"], capture_output=True, text=True)
    assert bad.returncode != 0 and "shape" in bad.stderr


@pytest.mark.parametrize("arch", ["sm_80", "sm_90a"])
@pytest.mark.parametrize("splits", [1, 2, 3, 7])
@pytest.mark.parametrize("fmt", [("nm24", 0, 0.0), ("hinm", 64, 0.25)])
@pytest.mark.parametrize("tokens", [19, 150])
def test_split_k(rt, emulator, monkeypatch, arch, splits, fmt, tokens):
    """Forced k-splits, including splits left without k-steps: each split
    stores partial sums and the last of a tile's splits to arrive adds them
    up, in one launch. The result agrees with the reference, and is
    bit-identical whichever split arrives last (CTA orders drawn by the
    emulator) and on later launches (the tile counters reset themselves).
    Another input runs in between, so a split that read the workspace too
    early would find the other input's partials. For HiNM each split starts
    its staged gather indices mid-list."""
    monkeypatch.setenv("SPARSEC_CUDA_SPLIT_K", str(splits))
    monkeypatch.delenv("SPARSEC_EMULATOR_CTA_ORDER", raising=False)
    rng = np.random.default_rng(splits)
    bias = rng.standard_normal(130).astype(np.float32)
    name, v, vs = fmt
    layer, weight, mask = make_layer(rt, emulator, rng, 130, 200, name, v, vs,
                                     arch=arch, bias=bias, act="gelu")
    inputs = [rng.standard_normal((tokens, 200)).astype(np.float32) for _ in range(2)]
    first = []
    for x in inputs:
        first.append(layer.run(x))
        want = linear_reference(weight, mask, bias, x, "f16", "gelu")
        assert normwise_rel(first[-1], want) <= 2e-3
    for order in (1, 2, 3):
        monkeypatch.setenv("SPARSEC_EMULATOR_CTA_ORDER", str(order))
        for x, got in zip(inputs, first):
            assert np.array_equal(layer.run(x), got), f"CTA order {order}"


@pytest.mark.parametrize("tokens", [1, 64, 65, 200])
def test_sm90a_small_t_variant(rt, emulator, tokens):
    """T <= 64 runs the module's `_small` entry (64x64 tiles), larger T the
    128-token one; both agree with the reference at the boundary."""
    rng = np.random.default_rng(tokens)
    layer, weight, mask = make_layer(rt, emulator, rng, 256, 192, "hinm", 128, 0.5,
                                     arch="sm_90a", act="gelu")
    assert ".entry sparsec_linear_small(" in layer.ptx
    x = rng.standard_normal((tokens, 192)).astype(np.float32)
    want = linear_reference(weight, mask, None, x, "f16", "gelu")
    assert normwise_rel(layer.run(x), want) <= 2e-3


def entry_header(ptx: str, entry: str) -> str:
    """The generator's one-line description of `entry` (tile, stages, path)."""
    return next(line for line in ptx.splitlines() if line.startswith(f"// {entry}: "))


@pytest.mark.parametrize("fmt", FORMATS)
def test_sm90a_auto_picks_mma_sp_for_small_and_hinm_layers(rt, emulator, tmp_path, fmt):
    """--cuda-wgmma=auto on sm_90a: HiNM layers and 2:4 layers under 2048 rows
    get the mma.sp kernels (faster on the H200), inside an sm_90a module."""
    rng = np.random.default_rng(21)
    name, v, vs = fmt
    layer, weight, mask = make_layer(rt, emulator, rng, 256, 192, name, v, vs,
                                     arch="sm_90a", wgmma="auto", act="relu")
    assert ".target sm_90a" in layer.ptx and "wgmma" not in layer.ptx
    assert "tile 64x128, 4 stages, mma.sp" in entry_header(layer.ptx, "sparsec_linear")
    for tokens in (5, 100):
        x = rng.standard_normal((tokens, 192)).astype(np.float32)
        want = linear_reference(weight, mask, None, x, "f16", "relu")
        assert normwise_rel(layer.run(x), want) <= 2e-3
    assemble(layer.ptx, "sm_90a", tmp_path)


@pytest.mark.parametrize("tokens", [1, 256, 257])
def test_sm90a_auto_wide_2to4_layer(rt, emulator, tmp_path, tokens):
    """A 2:4 layer of 2048 rows: wgmma with 256-row tiles for T > 256, the
    mma.sp `_small` entry (64x128) up to T = 256; both match the reference."""
    rng = np.random.default_rng(tokens)
    bias = rng.standard_normal(2048).astype(np.float32)
    layer, weight, mask = make_layer(rt, emulator, rng, 2048, 40, "nm24", 0, 0.0,
                                     arch="sm_90a", wgmma="auto", bias=bias)
    assert "tile 256x128, 4 stages, async wgmma" in entry_header(layer.ptx, "sparsec_linear")
    assert "tile 64x128, 5 stages, mma.sp" in entry_header(layer.ptx, "sparsec_linear_small")
    assert layer.info["tile_m"] == 256
    x = rng.standard_normal((tokens, 40)).astype(np.float32)
    want = linear_reference(weight, mask, bias, x, "f16", "none")
    assert normwise_rel(layer.run(x), want) <= 2e-3
    if tokens == 1:
        assemble(layer.ptx, "sm_90a", tmp_path)


def test_wgmma_off_and_bad_mode(rt, emulator):
    rng = np.random.default_rng(2)
    layer, _, _ = make_layer(rt, emulator, rng, 2048, 64, "nm24", 0, 0.0, arch="sm_90a",
                             wgmma="off")
    assert "wgmma" not in layer.ptx and layer.info["tile_m"] == 64
    with pytest.raises(rt.SparsecRuntimeError, match="option wgmma"):
        make_layer(rt, emulator, rng, 64, 64, "nm24", 0, 0.0, arch="sm_90a", wgmma="maybe")
