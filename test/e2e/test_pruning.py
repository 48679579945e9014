"""End-to-end tests of sparsec's pruning (docs/Pruning.md) against the independent numpy
reference in pruning_ref.py.

Every test that needs the pruning CLI fails (never skips) with a clear message when the
feature is missing. Assumed interfaces beyond docs/Pruning.md are collected in the constants
below (MANIFEST_*, REPORT_KEYS) so they can be adjusted in one place:

- `--emit=packed -o DIR` writes DIR/manifest.json:
  {"layers": [{"name", "weight", "format": "nm"|"hinm", "rows", "cols", "n", "m", "v",
   "nnz_vec", "korder", "value_type", "meta_layout",
   "files": {"values", "pos", "meta", "col_idx"}}]}  (file names relative to DIR; keys a
   format does not have may be absent or null).
- `--emit=report --report-json -o FILE`: per layer the keys in REPORT_KEYS (plus name, rows,
  cols, nonzeros), and a "total" object with the same keys (sums; ratios of sums).
- HiNM with V not a multiple of 32: tests pass --prune-meta=meta16 explicitly (meta_args), and
  test_meta_layout_auto checks the documented auto default separately.
"""
from __future__ import annotations

import json
import re
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import sparsec_cli
import onnx
import pytest
from onnx import helper, numpy_helper

import models
import pruning_ref as ref
from sparsec_cli import first_error_line, robust_rel_err, run_model, run_sparsec, sparsec_bin

TIMEOUT_S = 120
ERROR_LINE = re.compile(r"(^|: )error:", re.M)

# ---- report keys (per layer; the same keys in the "total" object) ----------------------------
# Matched to the C++ as first landed: "bytes_indices" (not bytes_idx) and totals in a "total"
# object (not total_* keys). Edit here if the names change.
REPORT_KEYS = {
    "pattern": "pattern",                  # "nm" | "hinm"
    "weight": "weight",                    # initializer name
    "kept": "kept",                        # mask ones
    "params": "params",                    # R*K
    "sparsity": "sparsity",                # 1 - kept / (R*K)
    "retained_saliency": "retained_saliency",  # sum(S*mask) / sum(S), S = |w| by default
    "bytes_dense": "bytes_dense",          # R*K*b_v (b_v of --prune-value-type)
    "bytes_values": "bytes_values",        # formats.md §1.3 / §3.6
    "bytes_meta": "bytes_meta",
    "bytes_idx": "bytes_indices",
    "bytes_packed": "bytes_packed",        # values + meta + idx
    "compression_ratio": "compression_ratio",  # bytes_dense / bytes_packed
    "macs_dense": "macs_dense",
    "macs_sparse": "macs_sparse",          # macs_dense * kept / params
    "flop_reduction": "flop_reduction",    # macs_dense / macs_sparse (= R*K / kept per layer)
    "total": "total",                      # object with the summed / ratio-of-sums values
}
MANIFEST = "manifest.json"


# =============================================================================================
# helpers
# =============================================================================================
def _feature_hint(stderr: str) -> str:
    if "Unknown command line argument" in stderr:
        return " -- sparsec does not know one of these options yet (the pruning feature of docs/Pruning.md missing)"
    return ""


def sparsec_ok(args: Sequence[object], what: str, timeout: float = TIMEOUT_S
               ) -> subprocess.CompletedProcess:
    return sparsec_cli.sparsec_ok(args, what, timeout, "the pruning feature of docs/Pruning.md")


def load_inits(path: Path) -> Dict[str, np.ndarray]:
    m = onnx.load(str(path))
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


@dataclass
class Layer:
    node: str      # node name
    weight: str    # initializer name
    kind: str      # gemm | gemm_t0 | matmul | conv
    shape: Tuple[int, ...]


def weight_layers(model: onnx.ModelProto) -> List[Layer]:
    """Conv / Gemm / MatMul nodes whose weight is an initializer (what sparsec-prune prunes)."""
    inits = {t.name: t for t in model.graph.initializer}
    out = []
    for n in model.graph.node:
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits:
            t = inits[n.input[1]]
            if n.op_type == "Conv":
                kind = "conv"
            elif n.op_type == "MatMul":
                if len(t.dims) != 2:
                    continue
                kind = "matmul"
            else:
                tb = next((a.i for a in n.attribute if a.name == "transB"), 0)
                kind = "gemm" if tb else "gemm_t0"
            out.append(Layer(n.name, n.input[1], kind, tuple(t.dims)))
    return out


def expected_mask(w: np.ndarray, layer: Layer, opts: Dict, korder: str = "hwc",
                  saliency: Optional[np.ndarray] = None):
    """Reference mask in the initializer's shape (bool) and the HinmSelection (or None)."""
    S = np.abs(w) if saliency is None else saliency
    Sg = ref.gemm_view(S, layer.kind, korder)
    mg, sel = ref.select(Sg, opts)
    return ref.from_gemm_view(mg, layer.kind, w.shape, korder), sel


def diff_msg(got: np.ndarray, exp: np.ndarray, what: str) -> str:
    bad = np.argwhere(got != exp)
    first = ", ".join(str(tuple(int(i) for i in b)) for b in bad[:5])
    return f"{what}: {len(bad)}/{exp.size} entries differ; first at {first}"


def meta_args(spec: str, extra: Sequence[str] = ()) -> List[str]:
    """extra + --prune-meta=meta16 for HiNM with V not a multiple of 32 (META32 needs it), so
    no test depends on what the default does there."""
    extra = list(extra)
    if spec.startswith("hinm") and not any(a.startswith("--prune-meta") for a in extra):
        if ref.parse_sparsity(spec)["v"] % 32:
            extra.append("--prune-meta=meta16")
    return extra


def export(model_path: Path, spec: str, out: Path, extra: Sequence[str] = (),
           what: str = "export") -> Dict[str, np.ndarray]:
    extra = meta_args(spec, extra)
    sparsec_ok([model_path, f"--sparsity={spec}", f"--export-onnx={out}", "--export-masks",
                "-o", "/dev/null", "--emit=none", *extra], what)
    if not out.exists():
        pytest.fail(f"{what}: --export-onnx={out} exited 0 but wrote no file", pytrace=False)
    return load_inits(out)


def check_layer_export(inits: Dict[str, np.ndarray], w: np.ndarray, wname: str,
                       exp_mask: np.ndarray, value_type: str = "f32", tag: str = "") -> None:
    mname = f"{wname}.mask"
    assert mname in inits, f"{tag}: exported model has no initializer {mname!r} " \
                           f"(have {sorted(inits)[:12]})"
    mk = inits[mname]
    assert mk.dtype == np.float32 and mk.shape == w.shape, \
        f"{tag}: {mname} is {mk.dtype}{mk.shape}, expected float32{w.shape}"
    assert np.all((mk == 0) | (mk == 1)), f"{tag}: {mname} is not 0/1"
    got = mk == 1
    assert np.array_equal(got, exp_mask), diff_msg(got, exp_mask, f"{tag}: mask {wname}")
    wm = inits[wname]
    assert wm.shape == w.shape and wm.dtype == np.float32, f"{tag}: masked {wname} shape/dtype"
    exp_w = ref.round_value_type(np.where(exp_mask, w, 0).astype(np.float32), value_type)
    assert np.array_equal(wm, exp_w), diff_msg(wm, exp_w, f"{tag}: masked weight {wname}")


# ---- one-layer models ------------------------------------------------------------------------
def make_weight(rng, shape, dist: str) -> np.ndarray:
    if dist == "int":   # small integers: many exact ties, zeros included
        return rng.integers(-3, 4, size=shape).astype(np.float32)
    if dist == "int2":  # even coarser: {-1, 0, 1}
        return rng.integers(-1, 2, size=shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def layer_model(kind: str, w: np.ndarray, wname: str = "W", node: str = "layer",
                bias: bool = True) -> Tuple[onnx.ModelProto, List[np.ndarray]]:
    """One Gemm(transB=1) / MatMul / Conv layer around initializer w. Returns model, inputs."""
    g = models.GraphBuilder(f"one_{kind}", seed=0)
    rng = np.random.default_rng(1)
    if kind == "gemm":
        R, K = w.shape
        x = g.input("x", [2, K])
        g.inits.append(numpy_helper.from_array(w, wname))
        ins = [x, wname] + ([g.bias("b", R)] if bias else [])
        g.op("Gemm", ins, name=node, out="y", transB=1)
        g.output("y", shape=[2, R])
    elif kind == "matmul":
        K, R = w.shape
        x = g.input("x", [2, K])
        g.inits.append(numpy_helper.from_array(w, wname))
        g.op("MatMul", [x, wname], name=node, out="y")
        g.output("y", shape=[2, R])
    elif kind == "conv":
        co, c, kh, kw = w.shape
        hw = max(kh, kw) + 2
        x = g.input("x", [1, c, hw, hw])
        g.inits.append(numpy_helper.from_array(w, wname))
        ins = [x, wname] + ([g.bias("b", co)] if bias else [])
        g.op("Conv", ins, name=node, out="y", kernel_shape=[kh, kw], pads=[0, 0, 0, 0])
        g.output("y", shape=[1, co, hw - kh + 1, hw - kw + 1])
    else:
        raise ValueError(kind)
    m = g.model(17)
    return m, models.make_inputs(m, seed=int(rng.integers(1 << 30)))


def weight_shape(kind: str, R: int, K: int) -> Tuple[int, ...]:
    """Initializer shape for GEMM view R x K. For conv, K must factor as C*kh*kw: we use
    kh = kw = 3 if K % 9 == 0, else 1x1 (then C = K), else kh=1,kw=K/C."""
    if kind == "gemm":
        return (R, K)
    if kind == "matmul":
        return (K, R)
    if K % 9 == 0:
        return (R, K // 9, 3, 3)
    if K % 2 == 0 and K >= 6:
        return (R, K // 2, 1, 2)
    return (R, K, 1, 1)


# =============================================================================================
# 0. the reference itself
# =============================================================================================
def test_reference_self_test():
    """META16/META32 encoders vs the lookup decoder (bit by bit), vs the hinm_sp construction,
    top-k variants, pack/unpack round trips."""
    ref.self_test()


def test_reference_nnz_vec_and_vs():
    assert ref.hinm_nnz_vec(768, 0.5) == 384
    assert ref.hinm_nnz_vec(27, 0.5) == 12
    assert ref.hinm_nnz_vec(10, 0.0) == 8      # K mod 4 columns dropped at vs = 0
    assert ref.vs_from_sparsity(0.75, 2, 4) == 0.5
    assert ref.vs_from_sparsity(0.875, 2, 4) == 0.75
    # spec tables: HiNM CR fp16 V=64 b_idx=2 vs=0.5 ~ 3.46x (K large, no padding)
    K = 4096
    b = ref.hinm_bytes(64, K, 64, ref.hinm_nnz_vec(K, 0.5), 2)
    assert abs(64 * K * 2 / sum(b.values()) - 3.46) < 0.01


# =============================================================================================
# 1. mask-for-mask agreement
# =============================================================================================
# (kind, R, K, spec, dist, korder)
MASK_CASES = [
    ("gemm", 8, 16, "nm:n=2,m=4", "int", None),
    ("gemm", 7, 13, "nm:n=2,m=4", "int2", None),
    ("gemm", 5, 5, "nm:n=2,m=4", "int", None),      # tail group of 1 < N: keep it
    ("matmul", 9, 22, "nm:n=2,m=4", "normal", None),
    ("gemm", 6, 20, "nm:n=1,m=4", "int", None),
    ("matmul", 12, 30, "nm:n=2,m=8", "int", None),
    ("gemm", 4, 37, "nm:n=4,m=16", "int", None),
    ("gemm", 4, 34, "nm:n=4,m=16", "int2", None),   # tail of 2 < N = 4
    ("matmul", 5, 70, "nm:n=1,m=32", "int", None),
    ("gemm", 3, 64, "nm:n=16,m=32", "int", None),
    ("gemm", 6, 24, "nm:n=3,m=8", "normal", None),
    ("conv", 8, 72, "nm:n=2,m=4", "int", "hwc"),
    ("conv", 8, 72, "nm:n=2,m=4", "int", "chw"),
    ("conv", 6, 27, "nm:n=1,m=8", "int", "hwc"),
    ("conv", 6, 27, "nm:n=1,m=8", "int", "chw"),
    ("conv", 5, 10, "nm:n=2,m=4", "normal", "chw"),
    # HiNM
    ("gemm", 16, 64, "hinm:v=16,vs=0.5", "int", None),
    ("gemm", 20, 37, "hinm:v=16,vs=0.5", "int", None),      # R % V, K % 4
    ("gemm", 40, 70, "hinm:v=32,vs=0.5", "int2", None),
    ("matmul", 33, 50, "hinm:v=32,vs=0", "int", None),      # vs = 0, K % 4 != 0
    ("matmul", 64, 96, "hinm:v=64,vs=0.75", "int", None),
    ("gemm", 70, 130, "hinm:v=64,vs=0.5", "normal", None),
    ("gemm", 17, 45, "hinm:v=16,vs=0.75", "int", None),
    ("gemm", 48, 100, "hinm:v=16,vs=0.3", "int2", None),    # vs not a nice fraction
    ("gemm", 32, 64, "hinm:v=32,sparsity=0.75", "int", None),
    ("gemm", 32, 66, "hinm:v=32,sparsity=0.875", "int", None),
    ("matmul", 24, 40, "hinm:v=16,vs=0.5,n=1,m=4", "int", None),
    ("gemm", 16, 72, "hinm:v=16,vs=0.25,n=2,m=8", "int", None),
    ("conv", 24, 72, "hinm:v=16,vs=0.5", "int", "hwc"),
    ("conv", 24, 72, "hinm:v=16,vs=0.5", "int", "chw"),
    ("conv", 40, 36, "hinm:v=32,vs=0.5", "int2", "hwc"),
    ("conv", 40, 36, "hinm:v=32,vs=0.5", "normal", "chw"),
]


def _case_id(c):
    kind, R, K, spec, dist, ko = c
    return f"{kind}{'-' + ko if ko else ''}-{R}x{K}-{spec}-{dist}"


@pytest.mark.parametrize("case", MASK_CASES, ids=[_case_id(c) for c in MASK_CASES])
def test_masks_match_reference(case, sparsec, tmp_path):
    kind, R, K, spec, dist, korder = case
    rng = np.random.default_rng(zlib.crc32(_case_id(case).encode()))
    w = make_weight(rng, weight_shape(kind, R, K), dist)
    model, _ = layer_model(kind, w)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    extra = [f"--prune-korder={korder}"] if korder else []
    inits = export(path, spec, tmp_path / "out.onnx", extra, what=_case_id(case))
    layer = weight_layers(model)[0]
    exp, sel = expected_mask(w, layer, ref.parse_sparsity(spec), korder or "hwc")
    check_layer_export(inits, w, "W", exp, tag=_case_id(case))
    if sel is not None:  # exact counts
        opts = ref.parse_sparsity(spec)
        mg = ref.gemm_view(exp, kind, korder or "hwc")
        assert np.all(mg.sum(1) == sel.nnz_vec * opts["n"] // opts["m"])


def test_korder_changes_masks_on_ties(sparsec, tmp_path):
    """The same conv with hwc and chw gives different masks (ties) -- both as the reference."""
    rng = np.random.default_rng(7)
    w = make_weight(rng, (8, 4, 3, 3), "int")
    model, _ = layer_model("conv", w)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    layer = weight_layers(model)[0]
    got = {}
    for ko in ("hwc", "chw"):
        inits = export(path, "nm:n=2,m=4", tmp_path / f"{ko}.onnx", [f"--prune-korder={ko}"])
        exp, _ = expected_mask(w, layer, ref.parse_sparsity("nm:n=2,m=4"), ko)
        check_layer_export(inits, w, "W", exp, tag=ko)
        got[ko] = inits["W.mask"]
    assert not np.array_equal(got["hwc"], got["chw"])


# =============================================================================================
# 2. user saliency
# =============================================================================================
def two_layer_model(rng, names=("blk/fc:w", "blk/mm:w")):
    """Gemm(transB=1) [24, 40] then MatMul [24, 36] then Conv-free; weight names with / and :."""
    g = models.GraphBuilder("two", seed=0)
    w1 = make_weight(rng, (24, 40), "int")
    w2 = make_weight(rng, (24, 36), "int")
    x = g.input("x", [2, 40])
    g.inits.append(numpy_helper.from_array(w1, names[0]))
    h = g.op("Gemm", [x, names[0]], name="fc1", transB=1)
    g.inits.append(numpy_helper.from_array(w2, names[1]))
    g.op("MatMul", [h, names[1]], name="mm2", out="y")
    g.output("y", shape=[2, 36])
    return g.model(17), {names[0]: w1, names[1]: w2}


def write_safetensors(path: Path, tensors: Dict[str, np.ndarray]) -> None:
    """Minimal safetensors writer: u64 LE header length, JSON header, raw little-endian data."""
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    path.write_bytes(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))


def sanitize(name: str) -> str:
    return name.replace("/", "_").replace(":", "_")


@pytest.mark.parametrize("source", ["npy_dir", "safetensors"])
@pytest.mark.parametrize("spec", ["nm:n=2,m=4", "hinm:v=16,vs=0.5"])
def test_user_saliency(source, spec, sparsec, tmp_path):
    rng = np.random.default_rng(11)
    model, weights = two_layer_model(rng)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    # integer-valued scores: ties again, and unrelated to |w|
    scores = {n: rng.integers(0, 4, size=w.shape).astype(np.float32) for n, w in weights.items()}
    if source == "npy_dir":
        sal = tmp_path / "scores"
        sal.mkdir()
        for n, s in scores.items():
            np.save(sal / f"{sanitize(n)}.npy", s)
    else:
        sal = tmp_path / "scores.safetensors"
        write_safetensors(sal, scores)
    inits = export(path, spec, tmp_path / "out.onnx", [f"--saliency={sal}"], what=source)
    opts = ref.parse_sparsity(spec)
    layers = {l.weight: l for l in weight_layers(model)}
    changed = False
    for n, w in weights.items():
        exp, _ = expected_mask(w, layers[n], opts, saliency=scores[n])
        check_layer_export(inits, w, n, exp, tag=f"{source} {n}")
        default, _ = expected_mask(w, layers[n], opts)
        changed |= not np.array_equal(exp, default)
    assert changed, "test is vacuous: user scores give the same masks as |w|"


@pytest.mark.parametrize("source", ["npy_dir", "safetensors"])
def test_user_saliency_wrong_shape(source, sparsec, tmp_path):
    rng = np.random.default_rng(12)
    model, weights = two_layer_model(rng)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    bad_name = "blk/mm:w"
    scores = {n: np.abs(w) for n, w in weights.items()}
    scores[bad_name] = np.ones((36, 24), dtype=np.float32)  # transposed: wrong shape
    if source == "npy_dir":
        sal = tmp_path / "scores"
        sal.mkdir()
        for n, s in scores.items():
            np.save(sal / f"{sanitize(n)}.npy", s)
    else:
        sal = tmp_path / "scores.safetensors"
        write_safetensors(sal, scores)
    proc = run_sparsec([path, "--sparsity=nm:n=2,m=4", f"--saliency={sal}",
                        f"--export-onnx={tmp_path / 'o.onnx'}", "--export-masks", "-o",
                        "/dev/null", "--emit=none"], timeout=TIMEOUT_S)
    assert proc.returncode == 1, f"exit {proc.returncode} (expected 1){_feature_hint(proc.stderr)}" \
                                 f"\nstderr:\n{proc.stderr}"
    assert ERROR_LINE.search(proc.stderr), f"no 'error:' line:\n{proc.stderr}"
    assert any(s in proc.stderr for s in (bad_name, "mm2", sanitize(bad_name))), \
        f"error does not name the layer ({bad_name} / mm2):\n{proc.stderr}"


# =============================================================================================
# 3. exact invariants on model-shaped networks
# =============================================================================================
INVARIANT_CASES = [
    ("resnet_cnn", "nm:n=2,m=4"), ("resnet_cnn", "hinm:v=16,vs=0.5"),
    ("resnet_cnn", "nm:n=1,m=8"), ("resnet_cnn", "hinm:v=32,vs=0"),
    ("bert_encoder", "nm:n=2,m=4"), ("bert_encoder", "hinm:v=32,vs=0.5"),
    ("bert_encoder", "hinm:v=64,vs=0.75"), ("bert_encoder", "hinm:v=16,sparsity=0.875"),
]
MODEL_BUILDERS = {"resnet_cnn": lambda: models.resnet_cnn(opset=17),
                  "bert_encoder": lambda: models.bert_encoder(opset=17),
                  "mlp_gemm": lambda: models.mlp_gemm(opset=17)}


def check_invariants(mg: np.ndarray, opts: Dict, tag: str) -> None:
    """Exact counts of docs/Pruning.md from a GEMM-view mask alone."""
    R, K = mg.shape
    n, m = opts["n"], opts["m"]
    if opts["pattern"] == "nm":
        G = -(-K // m)
        mp = np.zeros((R, G * m), dtype=bool)
        mp[:, :K] = mg
        per_group = mp.reshape(R, G, m).sum(-1)
        widths = np.minimum(m, K - np.arange(G) * m)
        exp = np.minimum(n, widths)
        assert np.all(per_group == exp[None, :]), f"{tag}: some N:M group keeps != min(N, width)"
        return
    v = opts["v"]
    nnz = ref.hinm_nnz_vec(K, opts["vs"], m)
    row_keep = mg.sum(1)
    assert np.all(row_keep == nnz * n // m), \
        f"{tag}: rows keep {sorted(set(row_keep.tolist()))}, expected exactly {nnz * n // m}"
    assert int(mg.sum()) == R * nnz * n // m, f"{tag}: total {int(mg.sum())} != R*nnz_vec*N/M"
    for t in range(-(-R // v)):
        tile = mg[t * v:(t + 1) * v]
        cols = np.flatnonzero(tile.any(0))
        assert len(cols) <= nnz, f"{tag}: tile {t} uses {len(cols)} > nnz_vec={nnz} columns"
        if len(cols) == nnz:  # then the compacted view is exactly N:M
            c = tile[:, cols].reshape(tile.shape[0], nnz // m, m).sum(-1)
            assert np.all(c == n), f"{tag}: tile {t}: compacted groups not exactly {n}:{m}"


@pytest.mark.parametrize("model_name,spec", INVARIANT_CASES,
                         ids=[f"{a}-{b}" for a, b in INVARIANT_CASES])
def test_invariants_on_models(model_name, spec, sparsec, tmp_path):
    model = MODEL_BUILDERS[model_name]()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    inits = export(path, spec, tmp_path / "out.onnx", ["--prune-min-params=0"])
    orig = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    opts = ref.parse_sparsity(spec)
    layers = weight_layers(model)
    assert layers
    missing = [l.weight for l in layers if f"{l.weight}.mask" not in inits]
    assert not missing, f"layers not pruned (no .mask): {missing}"
    for l in layers:
        mk = inits[f"{l.weight}.mask"] == 1
        mg = ref.gemm_view(mk, l.kind)
        check_invariants(mg, opts, f"{model_name}/{l.weight}")
        exp, _ = expected_mask(orig[l.weight], l, opts)
        check_layer_export(inits, orig[l.weight], l.weight, exp, tag=f"{model_name}/{l.node}")
    # nothing else changed
    extra = set(inits) - set(orig) - {f"{l.weight}.mask" for l in layers}
    assert not extra, f"unexpected new initializers {sorted(extra)}"
    pruned = {l.weight for l in layers}
    for n, a in orig.items():
        if n not in pruned:
            assert np.array_equal(inits[n], a), f"non-weight initializer {n} changed"


# =============================================================================================
# 4. semantics preserved: sparsec --run on the pruned model == onnxruntime on the export
# =============================================================================================
SEM_CASES = [("mlp_gemm", "nm:n=2,m=4"), ("mlp_gemm", "hinm:v=16,vs=0.5"),
             ("resnet_cnn", "nm:n=2,m=4"), ("resnet_cnn", "hinm:v=16,vs=0.5"),
             ("bert_encoder", "hinm:v=32,vs=0.5"), ("bert_encoder", "nm:n=1,m=4")]


@pytest.mark.parametrize("model_name,spec", SEM_CASES, ids=[f"{a}-{b}" for a, b in SEM_CASES])
def test_pruned_run_matches_onnxruntime_on_export(model_name, spec, sparsec, tmp_path):
    check_pruned_run(model_name, spec, [], tmp_path)


# The host's N:M group kernel (2:4 linear layers) in whole models, forced on: `auto` leaves
# it to layers with two or more register tiles of tokens, which these small models lack.
NM_GROUP_CASES = [("mlp_gemm", "nm:n=2,m=4"), ("bert_encoder", "nm:n=2,m=4"),
                  ("bert_encoder", "nm:n=1,m=4")]


@pytest.mark.parametrize("model_name,spec", NM_GROUP_CASES,
                         ids=[f"{a}-{b}" for a, b in NM_GROUP_CASES])
def test_nm_group_kernel_matches_onnxruntime_on_export(model_name, spec, sparsec, tmp_path):
    check_pruned_run(model_name, spec, ["--host-nm-groups=always"], tmp_path)


def check_pruned_run(model_name, spec, flags, tmp_path):
    """sparsec --run with --sparsity=spec (and flags) agrees with onnxruntime on the pruned
    export, which differs from the dense model."""
    model = MODEL_BUILDERS[model_name]()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    out = tmp_path / "pruned.onnx"
    export(path, spec, out, ["--prune-min-params=0"])
    pruned = onnx.load(str(out))
    inputs = models.make_inputs(model, seed=3)
    expected = models.run_onnxruntime(pruned, inputs)
    dense = models.run_onnxruntime(model, inputs)
    res = run_model(path, inputs, tmp_path / "run", len(expected), timeout=TIMEOUT_S,
                    extra_args=[f"--sparsity={spec}", *meta_args(spec, ["--prune-min-params=0"]),
                                *flags])
    assert res.error is None, f"sparsec --run failed: {res.error}{_feature_hint(res.proc.stderr if res.proc else '')}\ncmd: {res.cmd}"
    for i, (a, e, d) in enumerate(zip(res.outputs, expected, dense)):
        rel = robust_rel_err(a, e)
        assert a.shape == e.shape, f"output {i}: shape {a.shape} != {e.shape}"
        assert rel <= 1e-5, f"output {i}: rel err {rel:.3g} vs onnxruntime on the export"
        assert robust_rel_err(d, e) > 1e-4, "test is vacuous: pruning did not change the output"


# =============================================================================================
# 5. export round trip
# =============================================================================================
RT_CASES = [("resnet_cnn", "nm:n=2,m=4", []), ("resnet_cnn", "hinm:v=16,vs=0.5", []),
            ("resnet_cnn", "hinm:v=16,vs=0.5", ["--prune-korder=chw"]),
            ("bert_encoder", "hinm:v=32,vs=0.5", []), ("bert_encoder", "nm:n=2,m=8", []),
            ("mlp_gemm", "hinm:v=16,vs=0.5", ["--prune-value-type=f16"])]


@pytest.mark.parametrize("model_name,spec,extra", RT_CASES,
                         ids=[f"{a}-{b}{'-' + c[0] if c else ''}" for a, b, c in RT_CASES])
def test_export_round_trip(model_name, spec, extra, sparsec, tmp_path):
    model = MODEL_BUILDERS[model_name]()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    extra = ["--prune-min-params=0", *extra]
    out1 = tmp_path / "p1.onnx"
    i1 = export(path, spec, out1, extra, what="first export")
    onnx.checker.check_model(onnx.load(str(out1)), full_check=True)
    opts = ref.parse_sparsity(spec)
    ko = "chw" if "--prune-korder=chw" in extra else "hwc"
    out2 = tmp_path / "p2.onnx"
    i2 = export(out1, spec, out2, extra, what="re-prune of the export")
    for l in weight_layers(model):
        a, b = i1[f"{l.weight}.mask"], i2[f"{l.weight}.mask"]
        # the reference applied to the exported (masked) weights
        rt, _ = expected_mask(i1[l.weight], l, opts, ko)
        # precondition: the contract's claim holds for the reference on this data
        assert np.array_equal(rt, a == 1), (
            f"test precondition: the numpy reference does not round-trip {l.weight} on this "
            f"data ({diff_msg(rt, a == 1, 'ref')}); pick another seed")
        assert np.array_equal(a, b), diff_msg(b, a, f"round trip mask {l.weight}")
        assert np.array_equal(i1[l.weight], i2[l.weight]), f"round trip weight {l.weight}"
    # the input model (minus masks) is preserved: same nodes, same graph I/O
    m1 = onnx.load(str(out1))
    assert [n.op_type for n in m1.graph.node] == [n.op_type for n in model.graph.node]
    assert [i.name for i in m1.graph.input] == [i.name for i in model.graph.input] or \
        {i.name for i in m1.graph.input} - {t.name for t in m1.graph.initializer} == \
        {i.name for i in model.graph.input} - {t.name for t in model.graph.initializer}


# =============================================================================================
# 6. packed storage
# =============================================================================================
# (kind, R, K, spec, value_type, meta_layout or None, korder or None)
PACK_CASES = [
    ("gemm", 32, 64, "nm:n=2,m=4", "f32", None, None),
    ("gemm", 37, 70, "nm:n=2,m=4", "f32", None, None),     # R % 32, K % 32, K % 4
    ("gemm", 64, 72, "nm:n=2,m=4", "f16", None, None),     # 2 row-blocks x 3 k-blocks
    ("matmul", 50, 18, "nm:n=2,m=4", "f16", None, None),
    ("gemm", 9, 13, "nm:n=1,m=4", "f32", None, None),
    ("gemm", 10, 30, "nm:n=2,m=8", "f16", None, None),
    ("matmul", 6, 70, "nm:n=3,m=32", "f32", None, None),
    ("conv", 20, 36, "nm:n=2,m=4", "f16", None, "chw"),
    ("conv", 20, 36, "nm:n=2,m=4", "f32", None, "hwc"),
    ("gemm", 64, 128, "hinm:v=32,vs=0.5", "f32", "meta32", None),
    ("gemm", 70, 130, "hinm:v=64,vs=0.5", "f16", "meta32", None),
    ("matmul", 33, 45, "hinm:v=32,vs=0", "f32", "meta32", None),
    ("gemm", 20, 37, "hinm:v=16,vs=0.5", "f32", "meta16", None),
    ("gemm", 48, 200, "hinm:v=16,vs=0.75", "f16", "meta16", None),
    ("matmul", 100, 64, "hinm:v=64,vs=0.5", "f32", "meta16", None),
    ("conv", 40, 72, "hinm:v=32,vs=0.5", "f16", "meta32", "hwc"),
    ("conv", 24, 36, "hinm:v=16,vs=0.5", "f32", "meta16", "chw"),
    ("gemm", 16, 65540, "hinm:v=16,vs=0.5", "f32", "meta16", None),  # col_idx uint32
]


def _pack_id(c):
    kind, R, K, spec, vt, ml, ko = c
    return f"{kind}{'-' + ko if ko else ''}-{R}x{K}-{spec}-{vt}{'-' + ml if ml else ''}"


def load_manifest(d: Path) -> Dict:
    mf = d / MANIFEST
    assert mf.exists(), f"--emit=packed wrote no {MANIFEST} in {d} (has {sorted(p.name for p in d.iterdir()) if d.exists() else 'no dir'})"
    data = json.loads(mf.read_text())
    assert isinstance(data.get("layers"), list), f"{MANIFEST}: no 'layers' list"
    return data


def load_arr(d: Path, entry: Dict, key: str) -> np.ndarray:
    files = entry.get("files") or {}
    fn = files.get(key)
    assert fn, f"manifest layer {entry.get('weight')}: no files.{key}"
    p = d / fn
    assert p.exists(), f"manifest names {fn} but {p} does not exist"
    return np.load(p, allow_pickle=False)


def expect_eq(got: np.ndarray, exp: np.ndarray, what: str, flatten: bool = False) -> None:
    if flatten:
        got, exp = got.reshape(-1), exp.reshape(-1)
    assert got.dtype == exp.dtype, f"{what}: dtype {got.dtype} != expected {exp.dtype}"
    assert got.shape == exp.shape, f"{what}: shape {got.shape} != expected {exp.shape}"
    assert np.array_equal(got, exp), diff_msg(got, exp, what)


@pytest.mark.parametrize("case", PACK_CASES, ids=[_pack_id(c) for c in PACK_CASES])
def test_packed_storage(case, sparsec, tmp_path):
    kind, R, K, spec, vt, ml, korder = case
    rng = np.random.default_rng(zlib.crc32(_pack_id(case).encode()))
    dist = "normal" if K > 10000 else "int"
    w = make_weight(rng, weight_shape(kind, R, K), dist)
    model, _ = layer_model(kind, w)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    opts = ref.parse_sparsity(spec)
    extra = [f"--prune-value-type={vt}"]
    if ml:
        extra.append(f"--prune-meta={ml}")
    if korder:
        extra.append(f"--prune-korder={korder}")
    ko = korder or "hwc"
    layer = weight_layers(model)[0]
    tag = _pack_id(case)

    # masks + masked weight from the export (the packer's input), checked vs the reference
    inits = export(path, spec, tmp_path / "out.onnx", extra, what=f"{tag} export")
    exp_mask, sel = expected_mask(w, layer, opts, ko)
    check_layer_export(inits, w, "W", exp_mask, vt, tag=tag)
    Wm = ref.gemm_view(inits["W"], kind, ko)
    Mg = ref.gemm_view(inits["W.mask"] == 1, kind, ko)

    pdir = tmp_path / "packed"
    sparsec_ok([path, f"--sparsity={spec}", *extra, "--emit=packed", "-o", pdir], f"{tag} packed")
    man = load_manifest(pdir)
    entries = [e for e in man["layers"] if e.get("weight") == "W"]
    assert len(entries) == 1, f"{MANIFEST}: expected one layer with weight 'W', got {man['layers']}"
    e = entries[0]
    hdr = {"format": opts["pattern"], "rows": R, "cols": K, "n": opts["n"], "m": opts["m"],
           "value_type": vt}
    if opts["pattern"] == "hinm":
        hdr.update(v=opts["v"], nnz_vec=sel.nnz_vec, meta_layout=ml)
    if kind == "conv":
        hdr["korder"] = ko
    bad = {k: (e.get(k), x) for k, x in hdr.items() if e.get(k) != x}
    assert not bad, f"{MANIFEST} header (got, expected): {bad}"
    vdt = {"f32": np.float32, "f16": np.float16}[vt]

    values = load_arr(pdir, e, "values")
    if opts["pattern"] == "nm":
        n, m = opts["n"], opts["m"]
        pos = load_arr(pdir, e, "pos")
        dense = ref.unpack_nm(values, pos, R, K, n, m, vt)
        expect_eq(dense, Wm, f"{tag}: unpack(values, pos) vs masked weight")
        mine = ref.pack_nm(Wm, Mg, n, m, vt)
        expect_eq(values, mine["values"].astype(vdt), f"{tag}: values")
        expect_eq(pos, mine["pos"], f"{tag}: pos")
        if n == 2 and m == 4:
            meta = load_arr(pdir, e, "meta")
            assert meta.dtype == np.uint32, f"{tag}: meta dtype {meta.dtype}"
            codes = ref.decode_meta32_nm(meta, R, K)
            G = -(-K // 4)
            p = pos.reshape(R, G, 2).astype(np.uint8)
            want = p[..., 0] | (p[..., 1] << 2)
            if not np.array_equal(codes[:R, :G], want):
                R32, G8 = ref.roundup(R, 32), ref.roundup(G, 8)
                alt = ref.meta_decode(meta.reshape(G8 // 8, R32 // 32, 32), "meta32")
                alt = alt.transpose(1, 2, 0, 3).reshape(R32, G8)
                hint = (" -- they do agree when meta is read in [k-block][row-block][word] "
                        "order; docs/Pruning.md says [row-block of 32][k-block of 32][word]"
                        if np.array_equal(alt[:R, :G], want) else "")
                pytest.fail(f"{tag}: META32 codes disagree with pos "
                            f"({int((codes[:R, :G] != want).sum())} groups){hint}", pytrace=False)
            expect_eq(meta, mine["meta"], f"{tag}: meta (META32)", flatten=True)
    else:
        v, nnz = opts["v"], sel.nnz_vec
        col_idx = load_arr(pdir, e, "col_idx")
        meta = load_arr(pdir, e, "meta")
        assert meta.dtype == np.uint32, f"{tag}: meta dtype {meta.dtype}"
        dense = ref.unpack_hinm(values, col_idx, meta, R, K, v, nnz, vt, ml)
        expect_eq(dense, Wm, f"{tag}: unpack(values, col_idx, meta) vs masked weight")
        mine = ref.pack_hinm(Wm, Mg, sel.L, v, vt, ml)
        expect_eq(col_idx, mine["col_idx"], f"{tag}: col_idx")
        expect_eq(values, mine["values"].astype(vdt), f"{tag}: values")
        expect_eq(meta, mine["meta"], f"{tag}: meta ({ml})", flatten=True)
        nb = ref.hinm_bytes(R, K, v, nnz, ref.VALUE_BYTES[vt])
        assert values.nbytes == nb["values"] and meta.nbytes == nb["meta"] \
            and col_idx.nbytes == nb["idx"], f"{tag}: buffer sizes != formats.md §3.6"


def test_packed_all_layers_of_model(sparsec, tmp_path):
    """Every weight layer of the tiny ResNet appears in the manifest and unpacks bit-exactly."""
    model = models.resnet_cnn(opset=17)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    spec = "hinm:v=16,vs=0.5"
    extra = ["--prune-min-params=0", "--prune-meta=meta16"]
    inits = export(path, spec, tmp_path / "o.onnx", extra)
    pdir = tmp_path / "packed"
    sparsec_ok([path, f"--sparsity={spec}", *extra, "--emit=packed", "-o", pdir], "packed")
    man = load_manifest(pdir)
    by_w = {e.get("weight"): e for e in man["layers"]}
    for l in weight_layers(model):
        assert l.weight in by_w, f"{l.weight} missing from {MANIFEST}"
        e = by_w[l.weight]
        Wm = ref.gemm_view(inits[l.weight], l.kind)
        R, K = Wm.shape
        nnz = ref.hinm_nnz_vec(K, 0.5)
        dense = ref.unpack_hinm(load_arr(pdir, e, "values"), load_arr(pdir, e, "col_idx"),
                                load_arr(pdir, e, "meta"), R, K, 16, nnz, "f32", "meta16")
        expect_eq(dense, Wm, f"{l.weight}: unpack")


@pytest.mark.parametrize("v,layout", [(16, "meta16"), (48, "meta16"), (64, "meta32")])
def test_meta_layout_auto(v, layout, sparsec, tmp_path):
    """No --prune-meta: META32 when V is a multiple of 32, else META16 (docs/Pruning.md)."""
    rng = np.random.default_rng(v)
    R, K = 70, 80
    w = make_weight(rng, (R, K), "int")
    model, _ = layer_model("gemm", w)
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    spec = f"hinm:v={v},vs=0.5"
    pdir = tmp_path / "packed"
    sparsec_ok([path, f"--sparsity={spec}", "--emit=packed", "-o", pdir], spec)
    e = load_manifest(pdir)["layers"][0]
    assert e.get("meta_layout") == layout, f"meta_layout {e.get('meta_layout')!r} != {layout}"
    sel = ref.hinm_select(np.abs(w), v, 0.5)
    Wm = np.where(sel.mask, w, 0).astype(np.float32)
    dense = ref.unpack_hinm(load_arr(pdir, e, "values"), load_arr(pdir, e, "col_idx"),
                            load_arr(pdir, e, "meta"), R, K, v, sel.nnz_vec, "f32", layout)
    expect_eq(dense, Wm, f"V={v}: unpack vs reference masked weight")
    expect_eq(load_arr(pdir, e, "meta"), ref.pack_hinm(Wm, sel.mask, sel.L, v, "f32", layout)["meta"],
              f"V={v}: meta", flatten=True)


# =============================================================================================
# 7. report
# =============================================================================================
REPORT_CASES = [("resnet_cnn", "hinm:v=16,vs=0.5", "f32"), ("resnet_cnn", "nm:n=2,m=4", "f16"),
                ("bert_encoder", "hinm:v=32,vs=0.5", "f16"), ("bert_encoder", "nm:n=2,m=8", "f32")]


def _close(a, b, rel=1e-6, abs_=1e-9) -> bool:
    return isinstance(a, (int, float)) and abs(float(a) - float(b)) <= max(abs_, rel * abs(float(b)))


@pytest.mark.parametrize("model_name,spec,vt", REPORT_CASES,
                         ids=[f"{a}-{b}-{c}" for a, b, c in REPORT_CASES])
def test_report_numbers(model_name, spec, vt, sparsec, tmp_path):
    """--emit=report --report-json numbers vs the exported masks and formats.md §1.3 / §3.6."""
    model = MODEL_BUILDERS[model_name]()
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    extra = meta_args(spec, ["--prune-min-params=0", f"--prune-value-type={vt}"])
    inits = export(path, spec, tmp_path / "o.onnx", extra)
    rep_path = tmp_path / "report.json"
    sparsec_ok([path, f"--sparsity={spec}", *extra, "--emit=report", "--report-json",
                "-o", rep_path], "report")
    rep = json.loads(rep_path.read_text())
    K_ = REPORT_KEYS
    orig = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    opts = ref.parse_sparsity(spec)
    b_v = ref.VALUE_BYTES[vt]
    rows = rep.get("layers", [])
    by_weight = {r.get(K_["weight"]): r for r in rows if r.get(K_["weight"])}
    by_name = {r.get("name"): r for r in rows}
    problems = []
    tot = dict.fromkeys(("bytes_dense", "bytes_values", "bytes_meta", "bytes_idx",
                         "bytes_packed", "kept", "params", "macs_dense", "macs_sparse",
                         "sal_kept", "sal_all"), 0.0)

    def chk(where, r, k, x, tol_abs=1e-9):
        got = r.get(K_[k])
        if not _close(got, x, 1e-6, tol_abs):
            problems.append(f"{where}: {K_[k]} = {got!r}, expected {x}")

    for l in weight_layers(model):
        r = by_weight.get(l.weight) or by_name.get(l.node)
        if r is None:
            problems.append(f"{l.node}/{l.weight}: not in report")
            continue
        mg = ref.gemm_view(inits[f"{l.weight}.mask"] == 1, l.kind)
        S = np.abs(ref.gemm_view(orig[l.weight], l.kind)).astype(np.float64)
        R, K = mg.shape
        kept = int(mg.sum())
        if opts["pattern"] == "nm":
            b = ref.nm_bytes(R, K, opts["n"], opts["m"], b_v)
        else:
            b = ref.hinm_bytes(R, K, opts["v"], ref.hinm_nnz_vec(K, opts["vs"], opts["m"]), b_v)
        packed = b["values"] + b["meta"] + b["idx"]
        dense = R * K * b_v
        macs_dense = r.get(K_["macs_dense"])
        if not isinstance(macs_dense, int) or macs_dense % (R * K):
            problems.append(f"{l.node}: {K_['macs_dense']} = {macs_dense!r} is not a multiple of "
                            f"R*K = {R * K}")
            macs_dense = R * K
        macs_sparse = macs_dense // (R * K) * kept
        exp = {"kept": kept, "params": R * K, "sparsity": 1 - kept / (R * K),
               "retained_saliency": float((S * mg).sum() / S.sum()),
               "bytes_dense": dense, "bytes_values": b["values"], "bytes_meta": b["meta"],
               "bytes_idx": b["idx"], "bytes_packed": packed, "compression_ratio": dense / packed,
               "macs_sparse": macs_sparse, "flop_reduction": R * K / kept}
        for k, x in exp.items():
            chk(l.node, r, k, x, 1.0 if k.startswith("bytes") else 1e-9)  # bytes may round up
        if r.get(K_["pattern"]) != opts["pattern"]:
            problems.append(f"{l.node}: {K_['pattern']} = {r.get(K_['pattern'])!r}")
        nnzv = int(np.count_nonzero(inits[l.weight]))
        if r.get("nonzeros") != nnzv:
            problems.append(f"{l.node}: nonzeros = {r.get('nonzeros')}, expected {nnzv}")
        for k in ("bytes_dense", "bytes_values", "bytes_meta", "bytes_idx", "bytes_packed"):
            tot[k] += exp[k]
        tot["kept"] += kept
        tot["params"] += R * K
        tot["macs_dense"] += macs_dense
        tot["macs_sparse"] += macs_sparse
        tot["sal_kept"] += float((S * mg).sum())
        tot["sal_all"] += float(S.sum())
    t = rep.get(K_["total"])
    if not isinstance(t, dict):
        problems.append(f"no {K_['total']!r} object in the report")
    else:
        for k in ("bytes_dense", "bytes_values", "bytes_meta", "bytes_idx", "bytes_packed"):
            chk("total", t, k, tot[k], 1.0)
        for k in ("kept", "params", "macs_dense", "macs_sparse"):
            chk("total", t, k, tot[k])
        chk("total", t, "sparsity", 1 - tot["kept"] / tot["params"])
        chk("total", t, "compression_ratio", tot["bytes_dense"] / tot["bytes_packed"])
        chk("total", t, "flop_reduction", tot["macs_dense"] / tot["macs_sparse"])
        chk("total", t, "retained_saliency", tot["sal_kept"] / tot["sal_all"])
    assert not problems, "report disagrees with the masks / formats.md byte formulas:\n  " + \
        "\n  ".join(problems) + f"\nreport:\n{json.dumps(rep, indent=1)[:3000]}"


# =============================================================================================
# 8. bad options
# =============================================================================================
# (id, args, hint groups): every group is a list of regexes (case-insensitive); one of them must
# match stderr. The model: one Gemm node "fc_bad", weight "W_bad" [R=40, K=64].
LAYER = r"fc_bad|W_bad"
BAD_CASES = [
    ("n_eq_m", ["--sparsity=nm:n=4,m=4"], [[r"\bn\b"], [r"\bm\b"]]),
    ("n_gt_m", ["--sparsity=nm:n=5,m=4"], [[r"\bn\b"], [r"\bm\b"]]),
    ("n_zero", ["--sparsity=nm:n=0,m=4"], [[r"\bn\b"]]),
    ("m_6", ["--sparsity=nm:n=2,m=6"], [[r"\bm\b"], [r"\b6\b"]]),
    ("m_64", ["--sparsity=nm:n=2,m=64"], [[r"\bm\b"], [r"\b64\b"]]),
    ("m_2", ["--sparsity=nm:n=1,m=2"], [[r"\bm\b"], [r"\b2\b"]]),
    ("v_not_mult16", ["--sparsity=hinm:v=24,vs=0.5"], [[r"\bv\b"], [r"\b24\b", r"16"]]),
    ("v_zero", ["--sparsity=hinm:v=0,vs=0.5"], [[r"\bv\b"]]),
    ("pad_false", ["--sparsity=hinm:v=32,vs=0.5", "--prune-pad=false"],
     [[LAYER], [r"pad", r"divis", r"multiple", r"\b40\b"]]),
    ("vs_one", ["--sparsity=hinm:v=16,vs=1.0"], [[r"\bvs\b", r"vector.sparsity"]]),
    ("vs_negative", ["--sparsity=hinm:v=16,vs=-0.1"], [[r"\bvs\b", r"vector.sparsity"]]),
    ("vs_big", ["--sparsity=hinm:v=16,vs=1.5"], [[r"\bvs\b", r"vector.sparsity"]]),
    ("sparsity_too_low", ["--sparsity=hinm:v=16,sparsity=0.3"], [[r"sparsity"], [r"0\.3", r"0\.5"]]),
    ("sparsity_one", ["--sparsity=hinm:v=16,sparsity=1.0"], [[r"sparsity"]]),
    ("nnz_vec_lt_m", ["--sparsity=hinm:v=16,vs=0.97"],
     [[LAYER], [r"nnz_vec", r"column", r"too (high|large|few|sparse)"]]),
    ("unknown_pattern", ["--sparsity=block:n=2,m=4"], [[r"\bblock\b"]]),
    ("malformed_no_value", ["--sparsity=nm:n=2,m"], [[r"sparsity", r"\bm\b"]]),
    ("malformed_not_number", ["--sparsity=nm:n=two,m=4"], [[r"\btwo\b"]]),
    ("malformed_unknown_key", ["--sparsity=nm:n=2,m=4,q=3"], [[r"\bq\b"]]),
    ("malformed_empty", ["--sparsity="], [[r"sparsity", r"pattern", r"empty"]]),
    ("malformed_separator", ["--sparsity=nm:n=2;m=4"], [[r"sparsity", r";"]]),
    ("bad_value_type", ["--sparsity=nm:n=2,m=4", "--prune-value-type=f8"], [[r"\bf8\b"]]),
    ("bad_korder", ["--sparsity=nm:n=2,m=4", "--prune-korder=whc"], [[r"\bwhc\b"]]),
    ("bad_meta", ["--sparsity=hinm:v=16,vs=0.5", "--prune-meta=meta8"], [[r"meta8"]]),
    ("meta32_v16", ["--sparsity=hinm:v=16,vs=0.5", "--prune-meta=meta32"],
     [[r"meta32"], [r"\b32\b", r"\bv\b"]]),
    ("missing_saliency", ["--sparsity=nm:n=2,m=4", "--saliency=/nonexistent/scores"],
     [[r"/nonexistent/scores"]]),
    ("missing_saliency_st", ["--sparsity=nm:n=2,m=4", "--saliency=/nonexistent/s.safetensors"],
     [[r"/nonexistent/s\.safetensors"]]),
    ("missing_config", ["--sparsity=nm:n=2,m=4", "--prune-config=/nonexistent/c.json"],
     [[r"/nonexistent/c\.json"]]),
]


def bad_model(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    model, _ = layer_model("gemm", make_weight(rng, (40, 64), "normal"), wname="W_bad",
                           node="fc_bad")
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("cid,args,hints", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_options(cid, args, hints, sparsec, tmp_path):
    path = bad_model(tmp_path)
    out = tmp_path / "report.txt"
    proc = run_sparsec([path, *args, "--emit=report", "-o", out], timeout=30)
    assert proc.returncode == 1, (f"{cid}: exit {proc.returncode} (expected 1"
                                  f"{', killed by a signal' if proc.returncode < 0 else ''})"
                                  f"\nstderr:\n{proc.stderr}")
    assert ERROR_LINE.search(proc.stderr), f"{cid}: no 'error:' line in stderr:\n{proc.stderr}"
    assert "Unknown command line argument" not in proc.stderr, \
        f"{cid}: rejected only because the option is unknown (feature missing):\n{proc.stderr}"
    for group in hints:
        assert any(re.search(h, proc.stderr, re.I) for h in group), \
            f"{cid}: stderr does not name the cause (one of {group}):\n{proc.stderr}"
    assert "Stack dump" not in proc.stderr and "Assertion" not in proc.stderr, \
        f"{cid}: crash output:\n{proc.stderr}"


def test_good_options_accepted(sparsec, tmp_path):
    """Sanity counterpart of test_bad_options: the same model prunes with valid strings."""
    path = bad_model(tmp_path)
    for spec in ("nm:n=2,m=4", "hinm:v=16,vs=0.5", "hinm:v=32,sparsity=0.75",
                 "hinm:v=16,vs=0.5,n=2,m=4"):
        sparsec_ok([path, f"--sparsity={spec}", *meta_args(spec), "--emit=report", "-o",
                    tmp_path / "r.txt"], spec)
