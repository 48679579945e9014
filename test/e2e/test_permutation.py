"""End-to-end tests of sparsec's channel permutation (algorithms.md §2-§4):
``--permute=gyro`` for HiNM (stage A output rows + stage B per-tile column grouping) and
``--permute=asp`` / ``--permute=swap`` for N:M input channels.

What is checked (all from the CLI; nothing here re-implements the searches):
- graph consistency: ``sparsec --sparsity=S --permute=P --run`` equals onnxruntime on the
  ``--export-onnx`` model of the same flags (robust relative error <= 1e-5). The export is the
  original graph (original initializer names/shapes, un-permuted coordinates) with the masks
  the permutation search found, so this says the permuted + folded + pruned model computes the
  same function as the original graph with those masks. ResNet-style (BN, residual Adds,
  strided 1x1 downsample), MobileNetV2-style (depthwise, Clip, residual), a transformer encoder
  layer fed directly by graph input/output (head splits, LayerNorm, residuals, FFN: explicit
  permutes expected) and one wrapped between an input projection and a head (the residual
  stream is then an absorbable class);
- retained saliency: per layer ``retained_saliency >= retained_saliency_unpermuted``; the
  report's numbers agree with the exported masks / plain pruning of the original weights; on
  "trained-looking" weights (log-normal row/column scales + row clusters) permutation improves
  the total;
- determinism: same seed => byte-identical exported ONNX and identical ``--emit=mlir``;
- structure in original coordinates: exact per-row counts of the exported masks, and the
  deployment form (``--emit=packed``) is the exported masked weight up to a row and a column
  permutation, with the HiNM tiles / N:M groups intact there;
- explicit permutes: a HiNM layer feeding a graph output is listed in ``explicit_permutes``
  (and not with ``--permute-explicit=false``).

Every test fails (never skips) with a clear message when sparsec lacks the feature.

Assumed interfaces beyond docs/Pruning.md (edit the constants below if the C++ differs):
- report JSON: {"layers": [{"name" (node), "weight" (initializer), "pattern",
  "retained_saliency", "retained_saliency_unpermuted", ...}], "total": {...},
  "explicit_permutes": [{"layer", "axis", "reason"}]}; "layer" may be the node or the weight
  name. A missing "explicit_permutes" key is read as an empty list only when --permute is not
  given.
- ``--emit=packed`` of a permuted model writes the deployment form: HiNM ``values`` rows in
  deployment row order and ``col_idx`` = L_t (grouped order allowed) in the layer's deployed
  input-column coordinates; N:M ``values``/``pos`` in the deployed column order.
"""
from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import sparsec_cli
import onnx
import pytest
from onnx import numpy_helper

import models
import pruning_ref as ref
from sparsec_cli import first_error_line, robust_rel_err, run_model, run_sparsec, sparsec_bin
from test_pruning import load_inits, weight_layers

TIMEOUT_S = 180
REL_TOL = 1e-5

KEY_RETAINED = "retained_saliency"
KEY_RETAINED_UNPERM = "retained_saliency_unpermuted"
KEY_EXPLICIT = "explicit_permutes"

HINM = "hinm:v=16,vs=0.5"
NM = "nm:n=2,m=4"
# (id, sparsity spec, permute method)
CONFIGS = [("hinm-gyro", HINM, "gyro"), ("nm-asp", NM, "asp"), ("nm-swap", NM, "swap")]
CONFIG_IDS = [c[0] for c in CONFIGS]


# =============================================================================================
# helpers
# =============================================================================================
@functools.lru_cache(maxsize=1)
def _help_text() -> str:
    try:
        p = run_sparsec(["--help"], timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:  # pragma: no cover
        return f"<cannot run sparsec --help: {e}>"
    return p.stdout + p.stderr


@pytest.fixture
def permute(sparsec) -> None:
    """Fails (not skips) when the binary has no --permute option."""
    if "--permute" not in _help_text():
        pytest.fail(f"{sparsec} --help does not list --permute: channel permutation "
                    f"(--permute=gyro|asp|swap) is not implemented in this build", pytrace=False)


def _hint(stderr: str) -> str:
    if "Unknown command line argument" in stderr:
        return " -- sparsec does not know one of these options yet (the permutation feature missing)"
    return ""


def sparsec_ok(args: Sequence[object], what: str, timeout: float = TIMEOUT_S
               ) -> subprocess.CompletedProcess:
    return sparsec_cli.sparsec_ok(args, what, timeout, "the permutation feature")


def flags(spec: str, method: Optional[str], extra: Sequence[str] = ()) -> List[str]:
    out = [f"--sparsity={spec}", "--prune-min-params=0"]
    if spec.startswith("hinm") and ref.parse_sparsity(spec)["v"] % 32:
        out.append("--prune-meta=meta16")
    if method:
        out.append(f"--permute={method}")
    return out + list(extra)


def export(path: Path, spec: str, method: Optional[str], out: Path, extra: Sequence[str] = (),
           what: str = "export") -> Dict[str, np.ndarray]:
    sparsec_ok([path, *flags(spec, method, extra), f"--export-onnx={out}", "--export-masks",
                "--emit=none", "-o", "/dev/null"], what)
    if not out.exists():
        pytest.fail(f"{what}: --export-onnx={out} exited 0 but wrote no file", pytrace=False)
    return load_inits(out)


def report(path: Path, spec: str, method: Optional[str], out: Path,
           extra: Sequence[str] = ()) -> dict:
    sparsec_ok([path, *flags(spec, method, extra), "--emit=report", "--report-json", "-o", out],
               "report")
    try:
        return json.loads(out.read_text())
    except (OSError, ValueError) as e:
        pytest.fail(f"report {out} is not JSON: {e}", pytrace=False)


def report_layers(rep: dict) -> List[dict]:
    rows = rep.get("layers")
    assert isinstance(rows, list) and rows, f"report has no 'layers' list: {str(rep)[:500]}"
    return [r for r in rows if r.get("pattern") in ("nm", "hinm")]


def explicit_list(rep: dict, method: Optional[str]) -> List[dict]:
    if KEY_EXPLICIT not in rep:
        if method:
            pytest.fail(f"report has no top-level {KEY_EXPLICIT!r} key (keys: {sorted(rep)})",
                        pytrace=False)
        return []
    ex = rep[KEY_EXPLICIT]
    assert isinstance(ex, list), f"{KEY_EXPLICIT} is not a list: {ex!r}"
    for e in ex:
        assert isinstance(e, dict) and {"layer", "axis", "reason"} <= set(e), \
            f"{KEY_EXPLICIT} entry {e!r} lacks layer/axis/reason"
    return ex


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


# ---------------------------------------------------------------------------------------------
# "trained-looking" weights: log-normal row and column scales plus row clusters that prefer
# different columns (so both row grouping and column grouping have something to find)
# ---------------------------------------------------------------------------------------------
def _axes(kind: str) -> Tuple[int, int]:
    """(output-row axis, input-channel axis) of the initializer."""
    return {"gemm": (0, 1), "gemm_t0": (1, 0), "matmul": (1, 0), "conv": (0, 1)}[kind]


def structured_scale(shape: Tuple[int, ...], kind: str, rng, sigma: float = 0.7,
                     clusters: int = 4) -> np.ndarray:
    ra, ca = _axes(kind)
    R, C = shape[ra], shape[ca]
    a = rng.standard_normal(R)
    b = rng.standard_normal(C)
    cl = rng.integers(0, clusters, R)
    cc = rng.standard_normal((clusters, C))
    logs = sigma * (a[:, None] + b[None, :] + 1.2 * cc[cl])          # [R, C]
    f = np.exp(logs - logs.mean())
    f = np.moveaxis(f.reshape(R, C, *([1] * (len(shape) - 2))), (0, 1), (ra, ca)) \
        if kind != "conv" else f.reshape(R, C, *([1] * (len(shape) - 2)))
    return np.broadcast_to(f, shape)


def structure_weights(model: onnx.ModelProto, seed: int = 0, sigma: float = 0.7
                      ) -> onnx.ModelProto:
    """Rescale every prunable weight (keeping its sign and overall RMS)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    rng = np.random.default_rng(seed)
    layers = {l.weight: l for l in weight_layers(m)}
    for i, t in enumerate(m.graph.initializer):
        if t.name not in layers:
            continue
        w = numpy_helper.to_array(t).astype(np.float64)
        w2 = w * structured_scale(w.shape, layers[t.name].kind, rng, sigma)
        w2 *= np.sqrt((w ** 2).mean() / max((w2 ** 2).mean(), 1e-30))
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(w2.astype(np.float32), t.name))
    return m


# ---------------------------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------------------------
def resnet_style() -> onnx.ModelProto:
    """Stem conv-BN-Relu, identity residual block, strided block with 1x1 downsample (BN kept
    unfolded everywhere), GAP, Flatten, Gemm."""
    g = models.GraphBuilder("perm_resnet", seed=31)
    x = g.input("input", [1, 3, 16, 16])
    x = g.conv_bn(x, 3, 32, 3, pad=1, name="stem")
    y = g.conv_bn(x, 32, 32, 3, pad=1, name="b1c1")
    y = g.conv_bn(y, 32, 32, 3, pad=1, relu=False, name="b1c2")
    x = g.op("Relu", [g.op("Add", [x, y], name="b1_add")], name="b1_relu")
    y = g.conv_bn(x, 32, 64, 3, stride=2, pad=1, name="b2c1")
    y = g.conv_bn(y, 64, 64, 3, pad=1, relu=False, name="b2c2")
    sc = g.conv_bn(x, 32, 64, 1, stride=2, relu=False, name="b2_down")
    x = g.op("Relu", [g.op("Add", [y, sc], name="b2_add")], name="b2_relu")
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x], name="gap")], name="flatten", axis=1)
    w = g.weight("fc_w", [16, 64], fan_in=64)
    g.op("Gemm", [x, w, g.bias("fc_b", 16)], name="fc", out="logits", transB=1)
    g.output("logits", shape=[1, 16])
    return g.model(17)


def mobilenet_style() -> onnx.ModelProto:
    """Stem, inverted residual (1x1 expand, depthwise 3x3, Clip(0,6), 1x1 project, residual Add),
    a stride-2 inverted residual without residual, 1x1 conv, GAP, Gemm."""
    g = models.GraphBuilder("perm_mobilenet", seed=32)
    lo, hi = g.const("r6_min", np.float32(0.0)), g.const("r6_max", np.float32(6.0))
    x = g.input("input", [1, 3, 16, 16])

    def relu6(t, name):
        return g.op("Clip", [t, lo, hi], name=name)

    x = relu6(g.conv_bn(x, 3, 32, 3, pad=1, relu=False, name="stem"), "stem_r6")

    def block(x, cin, cout, stride, name, expand=4):
        ce = cin * expand
        y = relu6(g.conv_bn(x, cin, ce, 1, relu=False, name=f"{name}_expand"), f"{name}_r6a")
        y = relu6(g.conv_bn(y, ce, ce, 3, stride=stride, pad=1, group=ce, relu=False,
                            name=f"{name}_dw"), f"{name}_r6b")
        y = g.conv_bn(y, ce, cout, 1, relu=False, name=f"{name}_project")
        if stride == 1 and cin == cout:
            y = g.op("Add", [x, y], name=f"{name}_residual")
        return y

    x = block(x, 32, 32, 1, "ir1")
    x = block(x, 32, 48, 2, "ir2")
    x = relu6(g.conv_bn(x, 48, 64, 1, relu=False, name="head_conv"), "head_r6")
    x = g.op("Flatten", [g.op("GlobalAveragePool", [x], name="gap")], name="flatten", axis=1)
    w = g.weight("fc_w", [16, 64], fan_in=64)
    g.op("Gemm", [x, w, g.bias("fc_b", 16)], name="fc", out="logits", transB=1)
    g.output("logits", shape=[1, 16])
    return g.model(13)


def transformer_plain() -> onnx.ModelProto:
    """models.bert_encoder: the residual stream is the graph input and output."""
    return models.bert_encoder(opset=17, seq=16, d=64, heads=4, ffn=128)


def transformer_wrapped() -> onnx.ModelProto:
    """Input projection (MatMul+Add) -> post-LN encoder layer (LayerNormalization op) ->
    head projection: the residual stream is not a graph input/output."""
    g = models.GraphBuilder("perm_transformer", seed=33)
    x = g.input("tokens", [1, 16, 32])
    x = g.linear(x, 32, 64, name="embed")
    x = models._encoder_layer(g, x, 16, 64, 4, 128, "l0", use_ln_op=True, dynamic_reshape=False)
    y = g.linear(x, 64, 16, name="head")
    g.nodes.append(onnx.helper.make_node("Identity", [y], ["out"], name="out_identity"))
    g.output("out", shape=[1, 16, 16])
    return g.model(17)


def mlp_to_output(seed: int = 34) -> onnx.ModelProto:
    """Gemm 64->64, Relu, Gemm 64->64 whose output is the graph output."""
    g = models.GraphBuilder("perm_mlp_out", seed=seed)
    x = g.input("x", [4, 64])
    w0 = g.weight("fc0_w", [64, 64], fan_in=64)
    h = g.op("Relu", [g.op("Gemm", [x, w0, g.bias("fc0_b", 64)], name="fc0", transB=1)],
             name="relu0")
    w1 = g.weight("fc1_w", [64, 64], fan_in=64)
    g.op("Gemm", [h, w1, g.bias("fc1_b", 64)], name="fc1", out="y", transB=1)
    g.output("y", shape=[4, 64])
    return g.model(17)


def mlp_chain(seed: int = 35) -> onnx.ModelProto:
    """Gemm(transB=1) chain 128 -> 128 -> 128 -> 128 -> 128 with Relu: each hidden class has one
    producer and one consumer (every permutation is absorbable)."""
    g = models.GraphBuilder("perm_mlp_chain", seed=seed)
    x = g.input("x", [4, 128])
    for i in range(4):
        w = g.weight(f"fc{i}_w", [128, 128], fan_in=128)
        x = g.op("Gemm", [x, w, g.bias(f"fc{i}_b", 128)], name=f"fc{i}", transB=1)
        if i < 3:
            x = g.op("Relu", [x], name=f"relu{i}")
    g.nodes[-1].output[0] = "y"
    g.output("y", shape=[4, 128])
    return g.model(17)


MODELS = {
    "resnet": resnet_style,
    "mobilenet": mobilenet_style,
    "transformer": transformer_plain,
    "transformer_wrapped": transformer_wrapped,
}


@functools.lru_cache(maxsize=None)
def _built(name: str, structured: bool) -> bytes:
    m = MODELS[name]() if name in MODELS else {"mlp_chain": mlp_chain,
                                                "mlp_out": mlp_to_output}[name]()
    if structured:
        m = structure_weights(m, seed=len(name))
    return m.SerializeToString()


def build(name: str, structured: bool = True) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.ParseFromString(_built(name, structured))
    return m


def without_masks(model: onnx.ModelProto) -> onnx.ModelProto:
    """Copy of an --export-masks export without the <name>.mask initializers (unused by any
    node; onnxruntime would only warn about them)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = [t for t in m.graph.initializer if not t.name.endswith(".mask")]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    return m


def orig_weights(model: onnx.ModelProto) -> Dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def masks_gemm(inits: Dict[str, np.ndarray], model: onnx.ModelProto, what: str
               ) -> Dict[str, Tuple[object, np.ndarray]]:
    """weight name -> (Layer, GEMM-view bool mask) from an --export-masks export."""
    out = {}
    for l in weight_layers(model):
        mk = inits.get(f"{l.weight}.mask")
        assert mk is not None, f"{what}: export has no {l.weight}.mask (layer {l.node} not " \
                               f"pruned?)"
        assert mk.shape == tuple(l.shape), f"{what}: {l.weight}.mask shape {mk.shape} != " \
                                           f"original {tuple(l.shape)}"
        out[l.weight] = (l, ref.gemm_view(mk == 1, l.kind))
    return out


def check_export_is_original_graph(model: onnx.ModelProto, exp_path: Path, what: str) -> None:
    """Export = original graph (same nodes), original initializer names/shapes, weights =
    original * mask, every other initializer unchanged."""
    em = onnx.load(str(exp_path))
    assert [(n.op_type, list(n.input), list(n.output)) for n in em.graph.node] == \
        [(n.op_type, list(n.input), list(n.output)) for n in model.graph.node], \
        f"{what}: exported graph's nodes differ from the original graph's (permutation leaked " \
        f"into the export?)"
    orig = orig_weights(model)
    got = {t.name: numpy_helper.to_array(t) for t in em.graph.initializer}
    pruned = {l.weight for l in weight_layers(model)}
    for n, a in orig.items():
        assert n in got, f"{what}: initializer {n} missing from the export"
        assert got[n].shape == a.shape, f"{what}: {n} shape {got[n].shape} != {a.shape}"
        if n in pruned:
            mk = got[f"{n}.mask"] == 1
            exp = np.where(mk, a, np.float32(0))
            assert np.array_equal(got[n], exp), \
                f"{what}: exported {n} is not original * mask (not in original coordinates?)"
        else:
            assert np.array_equal(got[n], a), \
                f"{what}: non-weight initializer {n} changed in the export (it must stay in " \
                f"original coordinates)"


# =============================================================================================
# 1. graph consistency
# =============================================================================================
CONSISTENCY = [(m, c) for m in MODELS for c in CONFIGS]


@pytest.mark.parametrize("model_name,cfg", CONSISTENCY,
                         ids=[f"{m}-{c[0]}" for m, c in CONSISTENCY])
def test_run_matches_onnxruntime_on_export(model_name, cfg, permute, tmp_path):
    cid, spec, method = cfg
    model = build(model_name)
    path = save(model, tmp_path / "m.onnx")
    out = tmp_path / "pruned.onnx"
    inits = export(path, spec, method, out, what=f"{model_name} {cid}")
    check_export_is_original_graph(model, out, f"{model_name} {cid}")
    pruned = without_masks(onnx.load(str(out)))
    inputs = models.make_inputs(model, seed=3)
    expected = models.run_onnxruntime(pruned, inputs)
    res = run_model(path, inputs, tmp_path / "run", len(expected), timeout=TIMEOUT_S,
                    extra_args=flags(spec, method))
    assert res.error is None, f"sparsec --run failed: {res.error}" \
        f"{_hint(res.proc.stderr if res.proc else '')}\ncmd: {res.cmd}"
    for i, (a, e) in enumerate(zip(res.outputs, expected)):
        assert a.shape == e.shape, f"output {i}: shape {a.shape} != {e.shape}"
        rel = robust_rel_err(a, e)
        assert rel <= REL_TOL, (f"{model_name} {cid}: output {i}: rel err {rel:.3g} > {REL_TOL} "
                                f"vs onnxruntime on the export (the permuted model does not "
                                f"compute the original graph with the found masks)\n"
                                f"cmd: {res.cmd}")
    # non-vacuity: the search changed at least one mask w.r.t. plain pruning
    plain = export(path, spec, None, tmp_path / "plain.onnx", what="plain export")
    changed = [l.weight for l in weight_layers(model)
               if not np.array_equal(inits[f"{l.weight}.mask"], plain[f"{l.weight}.mask"])]
    assert changed, f"{model_name} {cid}: --permute={method} left every mask identical to plain " \
                    f"pruning: the permutation search had no effect (test vacuous)"


# =============================================================================================
# 2. retained saliency
# =============================================================================================
def _sal_ratio(S: np.ndarray, mg: np.ndarray) -> float:
    return float((S * mg).sum() / S.sum())


@pytest.mark.parametrize("model_name,cfg", CONSISTENCY,
                         ids=[f"{m}-{c[0]}" for m, c in CONSISTENCY])
def test_retained_saliency_never_below_unpermuted(model_name, cfg, permute, tmp_path):
    """Per layer: retained (with permutation) >= retained_unpermuted; both agree with the masks
    (exported / plain pruning of the original weights)."""
    cid, spec, method = cfg
    model = build(model_name)
    path = save(model, tmp_path / "m.onnx")
    rep = report(path, spec, method, tmp_path / "r.json")
    inits = export(path, spec, method, tmp_path / "o.onnx")
    orig = orig_weights(model)
    opts = ref.parse_sparsity(spec)
    by_w = {r.get("weight"): r for r in report_layers(rep)}
    by_n = {r.get("name"): r for r in report_layers(rep)}
    problems, worse = [], []
    for w, (l, mg) in masks_gemm(inits, model, cid).items():
        r = by_w.get(w) or by_n.get(l.node)
        if r is None:
            problems.append(f"{l.node}/{w}: not in the report")
            continue
        for k in (KEY_RETAINED, KEY_RETAINED_UNPERM):
            if not isinstance(r.get(k), (int, float)):
                problems.append(f"{l.node}: report key {k!r} missing or not a number "
                                f"({r.get(k)!r}); keys: {sorted(r)}")
        if problems:
            continue
        S = np.abs(ref.gemm_view(orig[w], l.kind)).astype(np.float64)
        got, unp = float(r[KEY_RETAINED]), float(r[KEY_RETAINED_UNPERM])
        mine = _sal_ratio(S, mg)
        if abs(got - mine) > 1e-6:
            problems.append(f"{l.node}: {KEY_RETAINED} = {got:.8f} but the exported mask "
                            f"retains {mine:.8f}")
        plain, _ = ref.select(S, opts)
        mine_u = _sal_ratio(S, plain)
        if abs(unp - mine_u) > 1e-6:
            problems.append(f"{l.node}: {KEY_RETAINED_UNPERM} = {unp:.8f} but plain pruning "
                            f"(pruning_ref) retains {mine_u:.8f}")
        if got < unp - 1e-9:
            worse.append(f"{l.node}: {got:.6f} < unpermuted {unp:.6f}")
    assert not problems, "report disagrees with the masks:\n  " + "\n  ".join(problems)
    assert not worse, (f"--permute={method} retains less saliency than plain pruning on "
                       f"{len(worse)} layer(s):\n  " + "\n  ".join(worse))


@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("model_name", ["mlp_chain", "transformer_wrapped"])
def test_permutation_improves_structured_weights(model_name, cfg, permute, tmp_path):
    """Trained-looking weights (log-normal row/column scales, clustered rows): the total
    retained saliency improves, and every layer is at least as good."""
    cid, spec, method = cfg
    model = build(model_name, structured=True)
    path = save(model, tmp_path / "m.onnx")
    rep = report(path, spec, method, tmp_path / "r.json")
    orig = orig_weights(model)
    layers = {l.weight: l for l in weight_layers(model)}
    kept = kept_u = total = 0.0
    lines = []
    for r in report_layers(rep):
        w = r.get("weight")
        assert w in layers, f"report layer {r.get('name')}/{w} is not a weight of the model"
        assert KEY_RETAINED_UNPERM in r, f"report lacks {KEY_RETAINED_UNPERM!r}: {sorted(r)}"
        s = float(np.abs(orig[w]).astype(np.float64).sum())
        kept += s * float(r[KEY_RETAINED])
        kept_u += s * float(r[KEY_RETAINED_UNPERM])
        total += s
        lines.append(f"{r.get('name')}: {float(r[KEY_RETAINED_UNPERM]):.4f} -> "
                     f"{float(r[KEY_RETAINED]):.4f}")
    gain = (kept - kept_u) / total
    assert gain >= 2e-3, (f"{model_name} {cid}: total retained saliency gain {gain:.5f} < 0.002 "
                          f"on structured weights:\n  " + "\n  ".join(lines))


# =============================================================================================
# 3. determinism
# =============================================================================================
@pytest.mark.parametrize("cfg", CONFIGS, ids=CONFIG_IDS)
def test_same_seed_identical_outputs(cfg, permute, tmp_path):
    cid, spec, method = cfg
    model = build("transformer_wrapped")
    path = save(model, tmp_path / "m.onnx")
    res = {}
    for run, seed in (("a", 7), ("b", 7), ("c", 8)):
        extra = [f"--permute-seed={seed}"]
        onx = tmp_path / f"{run}.onnx"
        export(path, spec, method, onx, extra, what=f"seed {seed} run {run}")
        mlir = tmp_path / f"{run}.mlir"
        sparsec_ok([path, *flags(spec, method, extra), "--emit=mlir", "-o", mlir],
                   f"--emit=mlir seed {seed}")
        res[run] = (onx.read_bytes(), mlir.read_text())
    assert res["a"][0] == res["b"][0], "same --permute-seed: exported ONNX bytes differ"
    assert res["a"][1] == res["b"][1], "same --permute-seed: --emit=mlir text differs"
    # a different seed may or may not change the result, but it must still be a valid export
    check_export_is_original_graph(model, tmp_path / "c.onnx", "seed 8")


def test_default_seed_deterministic(permute, tmp_path):
    """No --permute-seed (default 0) twice: identical export, on a model with joint classes."""
    model = build("resnet")
    path = save(model, tmp_path / "m.onnx")
    a = tmp_path / "a.onnx"
    b = tmp_path / "b.onnx"
    export(path, HINM, "gyro", a)
    export(path, HINM, "gyro", b)
    assert a.read_bytes() == b.read_bytes(), "default seed: exported ONNX bytes differ"


# =============================================================================================
# 4. structure in original coordinates
# =============================================================================================
@pytest.mark.parametrize("model_name,cfg", CONSISTENCY,
                         ids=[f"{m}-{c[0]}" for m, c in CONSISTENCY])
def test_export_mask_counts(model_name, cfg, permute, tmp_path):
    """Original coordinates: every row keeps exactly nnz_vec*N/M (HiNM) or, for N:M with a
    permuted K (groups scattered), exactly sum over groups of min(N, width) values; totals."""
    cid, spec, method = cfg
    model = build(model_name)
    path = save(model, tmp_path / "m.onnx")
    inits = export(path, spec, method, tmp_path / "o.onnx")
    opts = ref.parse_sparsity(spec)
    n, m = opts["n"], opts["m"]
    bad = []
    for w, (l, mg) in masks_gemm(inits, model, cid).items():
        R, K = mg.shape
        if opts["pattern"] == "hinm":
            want = ref.hinm_nnz_vec(K, opts["vs"], m) * n // m
        else:
            widths = np.minimum(m, K - np.arange(-(-K // m)) * m)
            want = int(np.minimum(n, widths).sum())
        rk = mg.sum(1)
        if not np.all(rk == want):
            bad.append(f"{l.node} [{R}x{K}]: rows keep {sorted(set(rk.tolist()))}, expected "
                       f"exactly {want}")
        if int(mg.sum()) != R * want:
            bad.append(f"{l.node}: total {int(mg.sum())} != R*{want} = {R * want}")
    assert not bad, "exported masks break the structure:\n  " + "\n  ".join(bad)


def _match_perm(a: np.ndarray, b: np.ndarray, axis: int, what: str) -> np.ndarray:
    """p such that take(a, p, axis) == b up to the other axis' order: match rows (axis 0) or
    columns (axis 1) by their sorted value multisets. a, b float32 2-D."""
    A = np.sort(np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1), axis=1)
    B = np.sort(np.moveaxis(b, axis, 0).reshape(b.shape[axis], -1), axis=1)
    keyA = {}
    for i, r in enumerate(A):
        keyA.setdefault(r.tobytes(), []).append(i)
    p = np.empty(B.shape[0], dtype=np.int64)
    for j, r in enumerate(B):
        lst = keyA.get(r.tobytes())
        assert lst, f"{what}: deployed {'row' if axis == 0 else 'column'} {j} matches no " \
                    f"{'row' if axis == 0 else 'column'} of the exported masked weight"
        p[j] = lst.pop(0)
    return p


def _load_npy(pdir: Path, e: dict, key: str) -> np.ndarray:
    fn = (e.get("files") or {}).get(key)
    assert fn, f"manifest entry {e.get('weight')} has no files.{key}"
    return np.load(pdir / fn, allow_pickle=False)


@pytest.mark.parametrize("cfg", CONFIGS[:2], ids=CONFIG_IDS[:2])
@pytest.mark.parametrize("model_name", ["mlp_chain", "transformer_wrapped", "resnet"])
def test_deployment_is_permuted_export(model_name, cfg, permute, tmp_path):
    """The packed deployment form equals the exported (original-coordinate) masked weight up to
    one row and one column permutation; there the HiNM tiles (V consecutive rows sharing <=
    nnz_vec columns, 2 of every compacted 4) / the N:M groups (2 of every 4 consecutive
    columns) hold. That is: the exported mask obeys the structure after the inverse
    permutation."""
    cid, spec, method = cfg
    model = build(model_name)
    path = save(model, tmp_path / "m.onnx")
    inits = export(path, spec, method, tmp_path / "o.onnx")
    pdir = tmp_path / "packed"
    sparsec_ok([path, *flags(spec, method), "--emit=packed", "-o", pdir], "packed")
    man = json.loads((pdir / "manifest.json").read_text())
    by_w = {e.get("weight"): e for e in man.get("layers", [])}
    opts = ref.parse_sparsity(spec)
    for l in weight_layers(model):
        e = by_w.get(l.weight)
        assert e is not None, f"{l.weight} missing from manifest.json"
        Wm = ref.gemm_view(inits[l.weight], l.kind).astype(np.float32)
        mask = ref.gemm_view(inits[f"{l.weight}.mask"] == 1, l.kind)
        R, K = Wm.shape
        tag = f"{model_name} {cid} {l.node}"
        if opts["pattern"] == "hinm":
            v = opts["v"]
            if R % v:
                continue  # padding rows may sit anywhere in deployment order; not checked here
            nnz = ref.hinm_nnz_vec(K, opts["vs"], opts["m"])
            layout = e.get("meta_layout") or ("meta32" if v % 32 == 0 else "meta16")
            dep = ref.unpack_hinm(_load_npy(pdir, e, "values"), _load_npy(pdir, e, "col_idx"),
                                  _load_npy(pdir, e, "meta"), R, K, v, nnz, "f32", layout,
                                  strict=False)
        else:
            dep = ref.unpack_nm(_load_npy(pdir, e, "values"), _load_npy(pdir, e, "pos"), R, K,
                                opts["n"], opts["m"], "f32")
        rows = _match_perm(Wm, dep, 0, tag)
        cols = _match_perm(Wm, dep, 1, tag)
        assert len(set(rows.tolist())) == R and len(set(cols.tolist())) == K, \
            f"{tag}: deployed rows/columns do not map one-to-one onto the export"
        assert np.array_equal(Wm[rows][:, cols], dep), \
            f"{tag}: deployed weight is not a row+column permutation of the exported weight"
        md = mask[rows][:, cols]  # the exported mask in deployment coordinates
        if opts["pattern"] == "hinm":
            for t in range(R // v):
                tile = md[t * v:(t + 1) * v]
                used = np.flatnonzero(tile.any(0))
                assert len(used) <= nnz, f"{tag}: deployed tile {t} uses {len(used)} > " \
                                         f"nnz_vec = {nnz} columns"
            assert np.all(md.sum(1) == nnz // 2), f"{tag}: row counts"
        else:
            Kf = K // 4 * 4
            g = md[:, :Kf].reshape(R, Kf // 4, 4).sum(-1)
            assert np.all(g == 2), f"{tag}: after the inverse permutation some 4-group of the " \
                                   f"exported mask does not keep exactly 2"


# =============================================================================================
# 5. explicit permutes
# =============================================================================================
def _names(e: dict) -> str:
    return str(e.get("layer"))


def test_explicit_permute_for_graph_output(permute, tmp_path):
    """fc1 (HiNM) feeds the graph output: its row permutation cannot be absorbed, so an explicit
    sparsec.permute is reported for it; fc0's rows fold into fc1 (not reported). The run still
    matches onnxruntime on the export. With --permute-explicit=false nothing is reported."""
    model = build("mlp_out")
    path = save(model, tmp_path / "m.onnx")
    rep = report(path, HINM, "gyro", tmp_path / "r.json")
    ex = explicit_list(rep, "gyro")
    hits = [e for e in ex if _names(e) in ("fc1", "fc1_w")]
    assert hits, f"no {KEY_EXPLICIT} entry for fc1 (feeds the graph output 'y'); got {ex!r}"
    assert not [e for e in ex if _names(e) in ("fc0", "fc0_w")], \
        f"fc0's rows fold into fc1's columns, yet it is listed as explicit: {ex!r}"
    inputs = models.make_inputs(model, seed=5)
    for extra in ([], ["--permute-explicit=false"]):
        out = tmp_path / f"o{len(extra)}.onnx"
        export(path, HINM, "gyro", out, extra)
        expected = models.run_onnxruntime(without_masks(onnx.load(str(out))), inputs)
        res = run_model(path, inputs, tmp_path / f"run{len(extra)}", 1, timeout=TIMEOUT_S,
                        extra_args=flags(HINM, "gyro", extra))
        assert res.error is None, f"sparsec --run {extra} failed: {res.error}\ncmd: {res.cmd}"
        rel = robust_rel_err(res.outputs[0], expected[0])
        assert rel <= REL_TOL, f"{extra}: rel err {rel:.3g} vs onnxruntime on the export"
    rep2 = report(path, HINM, "gyro", tmp_path / "r2.json", ["--permute-explicit=false"])
    ex2 = explicit_list(rep2, "gyro")
    assert not ex2, f"--permute-explicit=false still reports explicit permutes: {ex2!r}"


def test_explicit_permute_in_mlir(permute, tmp_path):
    """When the report lists an explicit permute, --emit=mlir contains a sparsec.permute op;
    with --permute-explicit=false it does not."""
    model = build("mlp_out")
    path = save(model, tmp_path / "m.onnx")
    ex = explicit_list(report(path, HINM, "gyro", tmp_path / "r.json"), "gyro")
    assert ex, "precondition: expected an explicit permute for fc1"
    a = tmp_path / "a.mlir"
    sparsec_ok([path, *flags(HINM, "gyro"), "--emit=mlir", "-o", a], "--emit=mlir")
    assert "sparsec.permute" in a.read_text(), "no sparsec.permute op in --emit=mlir although " \
                                               f"the report lists {ex!r}"
    b = tmp_path / "b.mlir"
    sparsec_ok([path, *flags(HINM, "gyro", ["--permute-explicit=false"]), "--emit=mlir", "-o", b],
               "--emit=mlir explicit=false")
    assert "sparsec.permute" not in b.read_text(), \
        "--permute-explicit=false still emits a sparsec.permute op"


def test_transformer_graph_io_explicit_permutes_listed(permute, tmp_path):
    """Plain encoder layer (stream = graph input/output, head splits): every explicit permute
    entry names a pruned layer of the model, with an axis and a non-empty reason."""
    model = build("transformer")
    path = save(model, tmp_path / "m.onnx")
    ex = explicit_list(report(path, HINM, "gyro", tmp_path / "r.json"), "gyro")
    names = {l.node for l in weight_layers(model)} | {l.weight for l in weight_layers(model)}
    for e in ex:
        assert _names(e) in names, f"{KEY_EXPLICIT} entry {e!r} names no pruned layer"
        assert str(e.get("reason", "")).strip(), f"{KEY_EXPLICIT} entry {e!r}: empty reason"
