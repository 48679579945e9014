#!/usr/bin/env python3
"""Accuracy benchmark of channel permutation: a numpy-trained MLP on scikit-learn's digits.

1. Train 64 -> 256 -> 256 -> 10 (ReLU, softmax cross-entropy, Adam, fixed seed) on
   sklearn.datasets.load_digits (bundled, offline), 70/30 stratified split, inputs / 16.
2. Export it to ONNX as Gemm(transB=1) layers (batch = the test set size).
3. Variants, all layers pruned (--prune-min-params=0), no fine-tuning:
   dense; HiNM 75% (hinm:v=32,vs=0.5) without / with --permute=gyro; 2:4 without / with
   --permute=asp (and the --permute=swap baseline); unstructured per-layer magnitude pruning at
   75% and 50% (numpy).
   sparsec variants: `sparsec MODEL --sparsity=S [--permute=P] --export-onnx=OUT
   --export-masks`; the accuracy is onnxruntime on OUT (the original graph with the found
   masks); one variant is cross-checked with `sparsec --run`.
4. Per layer retained saliency (|w|) from `--emit=report --report-json`
   (retained_saliency / retained_saliency_unpermuted).
5. Optional --finetune-epochs N (default 0): fine-tune every variant with its masks fixed
   (numpy, Adam, lr 3e-4) and report the accuracy after it.

Writes a markdown table to bench/results/permutation_quality.md (command and date included).

Usage: python3 bench/permutation_quality.py [--finetune-epochs N] [--epochs 60] [--seed 0]
                                            [--out bench/results/permutation_quality.md]
"""
from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "test" / "e2e"))
from sparsec_cli import display_path, missing_binary_message, sparsec_bin, write_report  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "permutation_quality.md"
DIMS = (64, 256, 256, 10)
HINM_SPEC = "hinm:v=32,vs=0.5"   # 75% total; V=32 divides the hidden widths (256)
NM_SPEC = "nm:n=2,m=4"
# key: (label, sparsity spec or None, permute method or None, unstructured sparsity or None)
VARIANTS = [
    ("dense", ("dense", None, None, None)),
    ("hinm", ("HiNM 75% (V=32), no permutation", HINM_SPEC, None, None)),
    ("hinm_gyro", ("HiNM 75% (V=32), --permute=gyro", HINM_SPEC, "gyro", None)),
    ("unstr75", ("unstructured 75% (per-layer magnitude)", None, None, 0.75)),
    ("nm", ("2:4, no permutation", NM_SPEC, None, None)),
    ("nm_asp", ("2:4, --permute=asp", NM_SPEC, "asp", None)),
    ("nm_swap", ("2:4, --permute=swap", NM_SPEC, "swap", None)),
    ("unstr50", ("unstructured 50% (per-layer magnitude)", None, None, 0.50)),
]
CROSS_CHECK = ("hinm", "hinm_gyro")  # variants also run with sparsec --run


# ---------------------------------------------------------------------------------------------
# data and numpy MLP
# ---------------------------------------------------------------------------------------------
def load_data(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.3, random_state=seed, stratify=y)


def init_params(rng) -> List[Tuple[np.ndarray, np.ndarray]]:
    ps = []
    for k, n in zip(DIMS[:-1], DIMS[1:]):
        w = (rng.standard_normal((n, k)) * np.sqrt(2.0 / k)).astype(np.float32)  # [out, in]
        ps.append((w, np.zeros(n, np.float32)))
    return ps


def forward(ps, x):
    acts = [x]
    h = x
    for i, (w, b) in enumerate(ps):
        h = h @ w.T + b
        if i < len(ps) - 1:
            h = np.maximum(h, 0)
        acts.append(h)
    return acts


def accuracy(ps, x, y) -> float:
    return float((forward(ps, x)[-1].argmax(1) == y).mean())


def train(ps, x, y, epochs: int, lr: float, rng, masks=None, batch: int = 64,
          wd: float = 1e-4):
    """Adam on softmax cross-entropy; with masks, weights stay masked (gradient masked too)."""
    ps = [(w.copy(), b.copy()) for w, b in ps]
    if masks is not None:
        ps = [(w * m, b) for (w, b), m in zip(ps, masks)]
    m_ = [(np.zeros_like(w), np.zeros_like(b)) for w, b in ps]
    v_ = [(np.zeros_like(w), np.zeros_like(b)) for w, b in ps]
    b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
    n = len(x)
    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            acts = forward(ps, x[idx])
            z = acts[-1]
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            g = p
            g[np.arange(len(idx)), y[idx]] -= 1
            g /= len(idx)
            t += 1
            for i in range(len(ps) - 1, -1, -1):
                w, b = ps[i]
                gw = g.T @ acts[i] + wd * w
                gb = g.sum(0)
                if i > 0:
                    g = (g @ w) * (acts[i] > 0)
                if masks is not None:
                    gw = gw * masks[i]
                new = []
                for j, (prm, gr) in enumerate(((w, gw), (b, gb))):
                    mm = m_[i][j] * b1 + (1 - b1) * gr
                    vv = v_[i][j] * b2 + (1 - b2) * gr * gr
                    m_[i] = (mm, m_[i][1]) if j == 0 else (m_[i][0], mm)
                    v_[i] = (vv, v_[i][1]) if j == 0 else (v_[i][0], vv)
                    mh = mm / (1 - b1 ** t)
                    vh = vv / (1 - b2 ** t)
                    new.append((prm - lr * mh / (np.sqrt(vh) + eps)).astype(np.float32))
                w2, b2_ = new
                if masks is not None:
                    w2 = w2 * masks[i]
                ps[i] = (w2, b2_)
    return ps


# ---------------------------------------------------------------------------------------------
# ONNX
# ---------------------------------------------------------------------------------------------
def to_onnx(ps, batch: int) -> onnx.ModelProto:
    nodes, inits = [], []
    x = "x"
    for i, (w, b) in enumerate(ps):
        inits += [numpy_helper.from_array(w, f"fc{i}.weight"),
                  numpy_helper.from_array(b, f"fc{i}.bias")]
        y = "logits" if i == len(ps) - 1 else f"fc{i}_out"
        nodes.append(helper.make_node("Gemm", [x, f"fc{i}.weight", f"fc{i}.bias"], [y],
                                      name=f"fc{i}", transB=1))
        x = y
        if i < len(ps) - 1:
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}_out"], name=f"relu{i}"))
            x = f"relu{i}_out"
    g = helper.make_graph(nodes, "digits_mlp",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, DIMS[0]])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                                         [batch, DIMS[-1]])],
                          initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8,
                          producer_name="sparsec-bench")
    onnx.checker.check_model(m, full_check=True)
    return m


def ort_logits(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def params_from_export(path: Path) -> Tuple[list, list]:
    inits = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    ps, masks = [], []
    for i in range(len(DIMS) - 1):
        ps.append((inits[f"fc{i}.weight"].astype(np.float32), inits[f"fc{i}.bias"]))
        mk = inits.get(f"fc{i}.weight.mask")
        masks.append((mk if mk is not None else (ps[-1][0] != 0)).astype(np.float32))
    return ps, masks


def strip_masks(path: Path) -> onnx.ModelProto:
    m = onnx.load(str(path))
    keep = [t for t in m.graph.initializer if not t.name.endswith(".mask")]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    return m


# ---------------------------------------------------------------------------------------------
def sparsec(args: List[str], timeout: float = 300) -> Tuple[Optional[str], str]:
    """(error or None, command line)."""
    cmd = [str(sparsec_bin()), *map(str, args)]
    line = " ".join(shlex.quote(c) for c in cmd)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timeout after {timeout}s", line
    if p.returncode != 0:
        return f"exit {p.returncode}: {p.stderr.strip()[-600:]}", line
    return None, line


def sparsec_flags(spec: str, method: Optional[str], seed: int) -> List[str]:
    f = [f"--sparsity={spec}", "--prune-min-params=0"]
    if method:
        f += [f"--permute={method}", f"--permute-seed={seed}"]
    return f


def unstructured_masks(ps, s: float) -> List[np.ndarray]:
    """Per layer: keep the round((1-s)*size) largest |w| (ties to the lower flat index)."""
    out = []
    for w, _ in ps:
        k = int(round((1 - s) * w.size))
        order = np.argsort(-np.abs(w).reshape(-1), kind="stable")
        m = np.zeros(w.size, np.float32)
        m[order[:k]] = 1
        out.append(m.reshape(w.shape))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--finetune-epochs", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    t0 = time.perf_counter()
    xtr, xte, ytr, yte = load_data(args.seed)
    rng = np.random.default_rng(args.seed)
    ps = train(init_params(rng), xtr, ytr, args.epochs, 1e-3, rng)
    dense_acc = accuracy(ps, xte, yte)
    print(f"trained {DIMS} for {args.epochs} epochs: train acc {accuracy(ps, xtr, ytr):.4f}, "
          f"test acc {dense_acc:.4f} ({time.perf_counter() - t0:.1f}s)", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="perm_quality_"))
    model_path = tmp / "mlp.onnx"
    model = to_onnx(ps, len(xte))
    onnx.save(model, str(model_path))
    ort_dense = float((ort_logits(model, xte).argmax(1) == yte).mean())
    assert abs(ort_dense - dense_acc) < 1e-9, (ort_dense, dense_acc)
    bin_msg = missing_binary_message()
    S = [np.abs(w).astype(np.float64) for w, _ in ps]
    rows, notes, sal_rows = [], [], {}
    cross_l = []
    for key, (label, spec, method, ustr) in VARIANTS:
        acc = ft = None
        status = ""
        masks = None
        pruned = None
        if spec is None and ustr is None:
            acc, pruned, masks = dense_acc, ps, [np.ones_like(w) for w, _ in ps]
        elif ustr is not None:
            masks = unstructured_masks(ps, ustr)
            pruned = [(w * m, b) for (w, b), m in zip(ps, masks)]
            acc = accuracy(pruned, xte, yte)
            sal_rows[key] = [(f"fc{i}", float((s * m).sum() / s.sum()), None)
                             for i, (s, m) in enumerate(zip(S, masks))]
        elif bin_msg:
            status = bin_msg
        else:
            out = tmp / f"{key}.onnx"
            err, line = sparsec([model_path, *sparsec_flags(spec, method, args.seed),
                                 f"--export-onnx={out}", "--export-masks", "--emit=none",
                                 "-o", "/dev/null"])
            if err:
                status = f"`{line}` failed: {err}"
            else:
                pruned, masks = params_from_export(out)
                acc = float((ort_logits(strip_masks(out), xte).argmax(1) == yte).mean())
                rep = tmp / f"{key}.json"
                err, line = sparsec([model_path, *sparsec_flags(spec, method, args.seed),
                                     "--emit=report", "--report-json", "-o", rep])
                if err:
                    notes.append(f"- {label}: report failed: " + " / ".join(err.splitlines()))
                else:
                    r = json.loads(rep.read_text())
                    sal_rows[key] = [(l.get("name"), l.get("retained_saliency"),
                                      l.get("retained_saliency_unpermuted"))
                                     for l in r.get("layers", []) if l.get("pattern")]
                if key in CROSS_CHECK:
                    np.save(tmp / "x.npy", xte)
                    err, line = sparsec([model_path, *sparsec_flags(spec, method, args.seed),
                                         "--run", f"--input={tmp / 'x.npy'}", "-o", tmp / "run"])
                    if err:
                        cross_l.append(f"`sparsec --run` ({label}) failed: {err}")
                    else:
                        got = np.load(tmp / "run" / "output_0.npy")
                        ref_l = ort_logits(strip_masks(out), xte)
                        rel = float(np.abs(got - ref_l).max() / np.abs(ref_l).max())
                        agree = float((got.argmax(1) == ref_l.argmax(1)).mean())
                        cross_l.append(f"{label}: `sparsec --run` vs onnxruntime on the export: "
                                       f"max rel err {rel:.2e}, argmax agreement {agree:.4f}, "
                                       f"accuracy {float((got.argmax(1) == yte).mean()):.4f}")
        if args.finetune_epochs > 0 and pruned is not None:
            frng = np.random.default_rng(args.seed + 1)
            fps = train(pruned, xtr, ytr, args.finetune_epochs, 3e-4, frng, masks=masks)
            ft = accuracy(fps, xte, yte)
        rows.append((key, label, spec, method, acc, ft, status))
        print(f"{label:42s} acc={acc} ft={ft} {status[:200]}", flush=True)
    total = time.perf_counter() - t0
    cross = "; ".join(cross_l) or "not run (no sparsec variant succeeded)"

    def f(x):
        return "n/a" if x is None else f"{100 * x:.2f}%"

    ftcol = f"after {args.finetune_epochs} epochs masked fine-tuning" \
        if args.finetune_epochs > 0 else "fine-tuned (--finetune-epochs 0: not run)"
    lines = [f"| Variant | sparsec flags | Test accuracy (no fine-tuning) | {ftcol} |",
             "|---|---|---|---|"]
    for key, label, spec, method, acc, ft, status in rows:
        fl = "—" if spec is None else f"`--sparsity={spec}" + \
            (f" --permute={method}`" if method else "`")
        lines.append(f"| {label} | {fl} | {f(acc)} | {f(ft)} |")
        if status:
            notes.append(f"- {label}: " + " / ".join(status.splitlines()))
    sal = ["| Layer | " + " | ".join(VARIANTS_LABEL[k] for k in sal_rows) + " |",
           "|---|" + "---|" * len(sal_rows)]
    for i in range(len(DIMS) - 1):
        cells = []
        for k, lst in sal_rows.items():
            ent = next((e for e in lst if e[0] == f"fc{i}"), None)
            if ent is None or ent[1] is None:
                cells.append("n/a")
            elif ent[2] is None or key_has_no_perm(k):
                cells.append(f"{ent[1]:.4f}")
            else:
                cells.append(f"{ent[1]:.4f} (unpermuted {ent[2]:.4f})")
        sal.append(f"| fc{i} [{DIMS[i + 1]}x{DIMS[i]}] | " + " | ".join(cells) + " |")
    cmdline = "python3 " + " ".join(shlex.quote(a) for a in
                                    [display_path(Path(sys.argv[0]))] + sys.argv[1:])
    md = ["# Channel permutation: accuracy on digits (numpy MLP)", "",
          f"- Date: {datetime.datetime.now().isoformat(timespec='seconds')}",
          f"- Command: `{cmdline}`",
          f"- Model: MLP {' -> '.join(map(str, DIMS))} (ReLU), trained in numpy: Adam lr 1e-3, "
          f"batch 64, weight decay 1e-4, {args.epochs} epochs, seed {args.seed}; "
          f"sklearn digits, 70/30 stratified split ({len(xtr)} train / {len(xte)} test), x/16.",
          "- Every weight layer pruned (`--prune-min-params=0`, including the 10x256 classifier). "
          "sparsec variants: accuracy = onnxruntime on `--export-onnx` (original graph, found "
          "masks). Unstructured: numpy per-layer magnitude top-k.",
          f"- Fine-tuning: masks fixed, Adam lr 3e-4, {args.finetune_epochs} epochs.",
          f"- Cross-check: {cross}",
          f"- sparsec: `{display_path(sparsec_bin())}`; total time {total:.0f} s.", "",
          *lines, "", "Retained saliency (Σ|w| kept / Σ|w|) per layer, from "
          "`--emit=report --report-json` (`retained_saliency`, `retained_saliency_unpermuted`) "
          "or numpy (unstructured):", "", *sal, ""]
    return write_report(args.out, md, notes)


VARIANTS_LABEL = {k: v[0] for k, v in VARIANTS}


def key_has_no_perm(k: str) -> bool:
    return dict(VARIANTS)[k][2] is None


if __name__ == "__main__":
    sys.exit(main())
