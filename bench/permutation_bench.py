#!/usr/bin/env python3
"""Permutation-search benchmark: wall time and retained saliency of sparsec's channel
permutation on BERT-base's linear weights and on ResNet-50, on 2 cores.

Models (float32, fixed seeds, written with external data):
- bert_base: 12 layers x [q, k, v, o: 768x768; ffn1: 768->3072; ffn2: 3072->768] as MatMul
  initializers ([K, R]) with weights "trained-looking" (per-row and per-column log-normal
  scales, sigma 0.5; the same recipe for every layer). Topology (--bert-topology):
  `chain` (default): the 72 MatMuls chained x -> q -> k -> ... -> ffn2 -> next layer's q, so
  every layer but the first has an absorbing producer and every layer but the last an
  absorbing consumer (a permutation of a layer fed straight from a graph input is blocked by
  the graph rules of algorithms.md §4.3, which would make --permute=asp a no-op);
  `inputs`: every MatMul reads its own graph input and writes its own graph output (no
  graph connections; stage-A row permutations then need explicit permutes).
- resnet50: test/e2e/zoo.py resnet(50) (torchvision ResNet-50 v1.5 stand-in, BN folded,
  224x224 input, He-init random weights).

Per model and configuration it runs (under `taskset -c 0,1` when available)
  sparsec MODEL --sparsity=SPEC [--permute=METHOD] --emit=report --report-json -o R.json
with SPEC = hinm:v=64,vs=0.5 (HiNM 75%, V=64) without / with --permute=gyro, and
nm:n=2,m=4 without / with --permute=asp and --permute=swap. Reported: whole-process wall time,
the permutation pass time when --mlir-timing has a row whose name contains "permut", total
retained saliency Σ_l Σ|w_l|·r_l / Σ_l Σ|w_l| (r_l = per-layer `retained_saliency`) with the
permutation vs `retained_saliency_unpermuted`, and the min / mean over layers of
r_l / r_l_unpermuted. Target: under 60 s per model for HiNM 75% V=64 with --permute=gyro.

Usage: python3 bench/permutation_bench.py [--models bert_base,resnet50]
       [--configs hinm,hinm_gyro,nm,nm_asp,nm_swap] [--bert-topology chain|inputs]
       [--seed 0] [--timeout 600] [--out bench/results/permutation.md]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shlex
import shutil
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

DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "permutation.md"
TARGET_S = 60.0
HINM = "hinm:v=64,vs=0.5"
NM = "nm:n=2,m=4"
CONFIGS = {"hinm": ("HiNM 75% V=64", HINM, None), "hinm_gyro": ("HiNM 75% V=64", HINM, "gyro"),
           "nm": ("2:4", NM, None), "nm_asp": ("2:4", NM, "asp"), "nm_swap": ("2:4", NM, "swap")}


# ---------------------------------------------------------------------------------------------
# models: (model, {weight name: GEMM-view |w| sum})
# ---------------------------------------------------------------------------------------------
def _scaled(rng, k: int, r: int, std: float, sigma: float = 0.5) -> np.ndarray:
    """[K, R] MatMul weight, rows (R) and columns (K) with log-normal scales."""
    w = rng.standard_normal((k, r), dtype=np.float32)
    cs = np.exp(sigma * rng.standard_normal(k)).astype(np.float32)
    rs = np.exp(sigma * rng.standard_normal(r)).astype(np.float32)
    w *= cs[:, None]
    w *= rs[None, :]
    w *= np.float32(std / float(np.sqrt((w.astype(np.float64) ** 2).mean())))
    return w


def bert_base(rng, topology: str) -> Tuple[onnx.ModelProto, Dict[str, float]]:
    d, ffn, seq = 768, 3072, 128
    nodes, inits, sums, ins, outs = [], [], {}, [], []
    x = "x"
    ins.append(helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, d]))
    for l in range(12):
        for name, k, r in (("q", d, d), ("k", d, d), ("v", d, d), ("o", d, d),
                           ("ffn1", d, ffn), ("ffn2", ffn, d)):
            wn = f"l{l}_{name}_w"
            w = _scaled(rng, k, r, 0.02)
            sums[wn] = float(np.abs(w).astype(np.float64).sum())
            inits.append(numpy_helper.from_array(w, wn))
            y = f"l{l}_{name}_out"
            if topology == "inputs":
                xi = f"l{l}_{name}_in"
                ins.append(helper.make_tensor_value_info(xi, TensorProto.FLOAT, [1, seq, k]))
                outs.append(helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, seq, r]))
                nodes.append(helper.make_node("MatMul", [xi, wn], [y], name=f"l{l}_{name}_mm"))
            else:
                nodes.append(helper.make_node("MatMul", [x, wn], [y], name=f"l{l}_{name}_mm"))
                x = y
    if topology != "inputs":
        ins = ins[:1]
        outs = [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, seq, d])]
    else:
        ins = ins[1:]
    g = helper.make_graph(nodes, f"bert_base_linears_{topology}", ins, outs, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return m, sums


def resnet50(rng, topology: str) -> Tuple[onnx.ModelProto, Dict[str, float]]:
    import zoo
    m = zoo.resnet(50, hw=224)
    inits = {t.name: t for t in m.graph.initializer}
    sums = {}
    for n in m.graph.node:
        if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1 and n.input[1] in inits:
            sums[n.input[1]] = float(np.abs(numpy_helper.to_array(inits[n.input[1]]))
                                     .astype(np.float64).sum())
    return m, sums


MODELS = {"bert_base": ("BERT-base linears (12 x 6 MatMul)", bert_base),
          "resnet50": ("ResNet-50 (zoo.resnet(50), BN folded)", resnet50)}


# ---------------------------------------------------------------------------------------------
def parse_permute_time(text: str) -> Optional[float]:
    """Sum of the wall-time column of --mlir-timing rows whose pass name mentions 'permut'."""
    total, found, two = 0.0, False, False
    row = re.compile(r"^\s*([0-9.]+)\s*\(\s*[0-9.]+%\)\s+(?:([0-9.]+)\s*\(\s*[0-9.]+%\)\s+)?(.*?)\s*$")
    for line in text.splitlines():
        if "Wall Time" in line:
            two = "User Time" in line
            continue
        mt = row.match(line)
        if mt and "permut" in mt.group(3).lower():
            total += float(mt.group(2) if (two and mt.group(2)) else mt.group(1))
            found = True
    return total if found else None


SWAP_BUDGET_S = 60


def run(model: Path, spec: str, method: Optional[str], rep: Path, seed: int, timeout: float,
        timing: bool):
    cmd = [str(sparsec_bin()), str(model), f"--sparsity={spec}", "--prune-min-params=0",
           "--emit=report", "--report-json", "-o", str(rep)]
    if method:
        cmd += [f"--permute={method}", f"--permute-seed={seed}"]
        if method == "swap":
            # The greedy baseline has no iteration cap on wide layers: give it
            # the same wall-clock budget as the 60 s target.
            cmd += [f"--permute-budget={SWAP_BUDGET_S}"]
    if timing:
        cmd.append("--mlir-timing")
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0,1"] + cmd
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - t, cmd, f"timeout after {timeout:.0f}s"
    return p, time.perf_counter() - t, cmd, None


def summarize(rep: dict, sums: Dict[str, float]) -> Dict[str, Optional[float]]:
    kept = kept_u = tot = 0.0
    ratios: List[float] = []
    missing_u = False
    for l in rep.get("layers", []):
        w = l.get("weight")
        r = l.get("retained_saliency")
        if w not in sums or not isinstance(r, (int, float)):
            continue
        ru = l.get("retained_saliency_unpermuted")
        s = sums[w]
        kept += s * r
        tot += s
        if isinstance(ru, (int, float)):
            kept_u += s * ru
            if ru > 0:
                ratios.append(r / ru)
        else:
            missing_u = True
    out = {"retained": kept / tot if tot else None, "layers": len(ratios)}
    out["retained_u"] = None if (missing_u or not tot) else kept_u / tot
    out["min_ratio"] = min(ratios) if ratios and not missing_u else None
    out["mean_ratio"] = float(np.mean(ratios)) if ratios and not missing_u else None
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="bert_base,resnet50")
    ap.add_argument("--configs", default="hinm,hinm_gyro,nm,nm_asp,nm_swap")
    ap.add_argument("--bert-topology", choices=("chain", "inputs"), default="chain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    t_all = time.perf_counter()
    bin_msg = missing_binary_message()
    rows, notes = [], []
    tmp = Path(tempfile.mkdtemp(prefix="perm_bench_"))
    try:
        for mkey in args.models.split(","):
            label, build = MODELS[mkey]
            model, sums = build(np.random.default_rng(args.seed), args.bert_topology)
            mdir = tmp / mkey
            mdir.mkdir()
            mpath = mdir / "model.onnx"
            onnx.save_model(model, str(mpath), save_as_external_data=True,
                            all_tensors_to_one_file=True, location="weights.bin",
                            size_threshold=0)
            params = sum(int(np.prod(t.dims)) for t in model.graph.initializer
                         if t.name in sums)
            del model
            base: Dict[str, dict] = {}
            for ckey in args.configs.split(","):
                plabel, spec, method = CONFIGS[ckey]
                row = dict(model=label, mkey=mkey, ckey=ckey, pattern=plabel, method=method,
                           spec=spec, params=params, wall=None, perm_s=None, status="", s={})
                if bin_msg:
                    row["status"] = bin_msg
                    rows.append(row)
                    continue
                rep = tmp / f"{mkey}_{ckey}.json"
                p, wall, cmd, err = run(mpath, spec, method, rep, args.seed, args.timeout, True)
                if p is not None and p.returncode != 0 and "--mlir-timing" in p.stderr and \
                        "Unknown command line argument" in p.stderr and \
                        p.stderr.count("Unknown command line argument") == 1:
                    p, wall, cmd, err = run(mpath, spec, method, rep, args.seed, args.timeout,
                                            False)
                row["cmd"] = " ".join(shlex.quote(c) for c in cmd)
                if err:
                    row["status"] = err
                elif p.returncode != 0:
                    row["status"] = f"exit {p.returncode}: " + " / ".join(
                        l.strip() for l in p.stderr.strip().splitlines()[-6:])
                else:
                    row["wall"] = wall
                    row["perm_s"] = parse_permute_time(p.stdout + "\n" + p.stderr)
                    try:
                        row["s"] = summarize(json.loads(rep.read_text()), sums)
                    except (OSError, ValueError) as e:
                        row["status"] = f"bad report JSON: {e}"
                    if method is None:
                        base[spec] = row
                rows.append(row)
                s = row["s"]
                print(f"{label:40s} {plabel:14s} {method or '-':5s} wall={row['wall']} "
                      f"perm={row['perm_s']} retained={s.get('retained')} "
                      f"unperm={s.get('retained_u')} {row['status'][:300]}", flush=True)
            # without-permutation baseline from the plain run when the report lacks it
            for r in rows:
                if r["mkey"] == mkey and r["method"] and r["s"] and r["s"].get("retained_u") \
                        is None and r["spec"] in base:
                    r["s"]["retained_u"] = base[r["spec"]]["s"].get("retained")
                    r["s"]["u_from_plain_run"] = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - t_all

    def f(x, d=4):
        return "n/a" if x is None else f"{x:.{d}f}"

    lines = ["| Model | Pattern | --permute | Params | Wall (s) | Permute pass (s) | "
             "Retained saliency | Without permutation | Gain (pp) | Per-layer ratio min / mean "
             "| Target < 60 s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["s"] or {}
        ret, ru = s.get("retained"), s.get("retained_u")
        gain = f"{100 * (ret - ru):+.2f}" if (ret is not None and ru is not None and r["method"]) \
            else "—"
        ratio = f"{f(s.get('min_ratio'))} / {f(s.get('mean_ratio'))}" if r["method"] else "—"
        tgt = "—"
        if r["ckey"] == "hinm_gyro":
            tgt = "n/a" if r["wall"] is None else ("PASS" if r["wall"] < TARGET_S else "FAIL")
        ru_cell = f(ru) + (" (plain run)" if s.get("u_from_plain_run") else "") \
            if r["method"] else "—"
        lines.append(f"| {r['model']} | {r['pattern']} | {r['method'] or 'none'} | "
                     f"{r['params'] / 1e6:.1f}M | {f(r['wall'], 2)} | {f(r['perm_s'], 2)} | "
                     f"{f(ret)} | {ru_cell} | {gain} | {ratio} | {tgt} |")
        if r["status"]:
            notes.append(f"- {r['model']} / {r['pattern']} / {r['method'] or 'none'}: "
                         f"{r['status']}" + (f" (cmd: `{r.get('cmd')}`)" if r.get("cmd") else ""))
    cmdline = "python3 " + " ".join(shlex.quote(a) for a in
                                    [display_path(Path(sys.argv[0]))] + sys.argv[1:])
    md = ["# Channel permutation benchmark", "",
          f"- Date: {datetime.datetime.now().isoformat(timespec='seconds')}",
          f"- Command: `{cmdline}`",
          f"- sparsec: `{display_path(sparsec_bin())}`; per row `sparsec MODEL --sparsity=SPEC "
          f"--prune-min-params=0 [--permute=M --permute-seed={args.seed}] (swap: "
          f"--permute-budget={SWAP_BUDGET_S}) --emit=report "
          f"--report-json --mlir-timing`" + (" under `taskset -c 0,1`"
                                              if shutil.which("taskset") else "") + ".",
          f"- Host: {os.cpu_count()} CPUs. BERT topology: {args.bert_topology}. "
          f"Total benchmark time {total:.0f} s.",
          "- Wall = whole process (import, prune, permutation search, report). Retained "
          "saliency = Σ_l Σ|w_l|·r_l / Σ_l Σ|w_l| with r_l the report's per-layer "
          "`retained_saliency`; 'without permutation' uses `retained_saliency_unpermuted` "
          "(or the plain run when the key is missing). Ratio = r_l / r_l,unpermuted.",
          "", *lines, ""]
    return write_report(args.out, md, notes)


if __name__ == "__main__":
    sys.exit(main())
