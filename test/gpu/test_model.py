#!/usr/bin/env python3
"""Whole pruned models on the GPU against onnxruntime (gpu.md §7 T4).

For every artifact in gpu-bundle/bundle.json (scripts/gpu/prepare.sh): run it
with sparsec-run (build-rt/bin/sparsec-run, the MLIR-free runtime) on the
bundled inputs, run onnxruntime (CPU, fp32) on the masked ONNX model that
sparsec exported for the same pruning, and compare every output: normwise
relative error <= 2e-2 (f16/bf16 kernels with fp32 accumulation against
fp32 onnxruntime).

  python3 test/gpu/test_model.py                          # on the GPU
  python3 test/gpu/test_model.py --device emulator --models mlp_tiny

Exit status 1 when an artifact fails.
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_common as gc  # noqa: E402

TOLERANCE = 2e-2


def gpu_arch_ok(arch: str) -> str:
    """'' when this machine's GPU runs arch, else why not (nvidia-smi)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap",
                              "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=30).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return ""  # let the runtime decide
    if not out:
        return ""
    cap = out[0].strip()
    if arch == "sm_90a" and cap != "9.0":
        return f"sm_90a needs compute capability 9.0, this GPU is {cap}"
    return ""


def onnxruntime_outputs(masked_gz: Path, inputs):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(gzip.decompress(masked_gz.read_bytes()), so,
                                providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, inputs)))


def sparsec_outputs(runner: Path, artifact: Path, input_paths, device: str,
                    timeout: float):
    with tempfile.TemporaryDirectory(prefix="sparsec_model_") as tmp:
        cmd = [str(runner), str(artifact)]
        for p in input_paths:
            cmd += ["--input", str(p)]
        cmd += ["-o", tmp, f"--device={device}"]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode:
            raise RuntimeError(f"sparsec-run exit {proc.returncode}: "
                               f"{(proc.stderr or proc.stdout).strip()[:800]}")
        outs = []
        while (Path(tmp) / f"output_{len(outs)}.npy").exists():
            outs.append(np.load(Path(tmp) / f"output_{len(outs)}.npy"))
        return outs


def markdown(results, device, elapsed):
    failed = [r for r in results if r["status"] == "FAIL"]
    lines = ["## Model checks (test/gpu/test_model.py)", "",
             f"Device: {device}; {len(results)} artifacts, {len(failed)} "
             f"failed; {elapsed:.0f} s; tolerance normwise {TOLERANCE} vs "
             f"onnxruntime (fp32) on the masked ONNX.", "",
             "| artifact | sparsity | arch | dtype | status | rel. error | "
             "max abs error | run s |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        rel = r.get("rel_error")
        mae = r.get("max_abs_error")
        lines.append(
            f"| {r['name']} | {r['sparsity']} | {r['arch']} | {r['dtype']} | "
            f"{r['status']}{': ' + r['problem'][:200] if r.get('problem') else ''} | "
            f"{'–' if rel is None else f'{rel:.2e}'} | "
            f"{'–' if mae is None else f'{mae:.2e}'} | "
            f"{r.get('seconds', '–')} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=str(gc.REPO / "gpu-bundle"))
    ap.add_argument("--device", choices=["cuda", "emulator"], default="cuda")
    ap.add_argument("--models", default=None,
                    help="comma list of model names (default: all)")
    ap.add_argument("--runner", default=os.environ.get(
        "SPARSEC_RUN", str(gc.REPO / "build-rt" / "bin" / "sparsec-run")))
    ap.add_argument("--time-budget", type=float, default=300)
    ap.add_argument("--json", default=None)
    ap.add_argument("--md", default=None)
    args = ap.parse_args()

    bundle = Path(args.bundle)
    manifest = bundle / "bundle.json"
    if not manifest.exists():
        print(f"test_model: {manifest} not found: run scripts/gpu/prepare.sh "
              f"on a machine with build/bin/sparsec and carry gpu-bundle",
              file=sys.stderr)
        return 1
    info = json.loads(manifest.read_text())
    entries = info["entries"]
    if args.models:
        wanted = set(args.models.split(","))
        entries = [e for e in entries if e["model"] in wanted]
    print(f"test_model: bundle of {info.get('created')} (sparsec "
          f"{info.get('sparsec')}), {len(entries)} artifacts, device "
          f"{args.device}", flush=True)

    references, results, start = {}, [], time.time()
    for e in entries:
        r = dict(name=e["name"], sparsity=e["sparsity"], arch=e["arch"],
                 dtype=e["dtype"], status="PASS", problem="")
        results.append(r)
        why = gpu_arch_ok(e["arch"]) if args.device == "cuda" else ""
        if why:
            r.update(status="SKIP", problem=why)
        elif time.time() - start > args.time_budget:
            r.update(status="SKIP", problem="time budget")
        if r["status"] == "SKIP":
            print(f"SKIP  {e['name']}: {r['problem']}", flush=True)
            continue
        t0 = time.time()
        try:
            paths = [bundle / p for p in e["inputs"]]
            inputs = [np.load(p) for p in paths]
            if e["masked_onnx"] not in references:
                references[e["masked_onnx"]] = onnxruntime_outputs(
                    bundle / e["masked_onnx"], inputs)
            want = references[e["masked_onnx"]]
            got = sparsec_outputs(Path(args.runner), bundle / e["artifact"],
                                  paths, args.device, timeout=300)
            if len(got) != len(want):
                raise RuntimeError(f"{len(got)} outputs, onnxruntime has "
                                   f"{len(want)}")
            rels, maes = [], []
            for g, w in zip(got, want):
                if g.shape != w.shape:
                    raise RuntimeError(f"output shape {g.shape} != {w.shape}")
                rels.append(gc.rel_error(g, w))
                maes.append(float(np.max(np.abs(g.astype(np.float64) - w)))
                            if np.all(np.isfinite(g)) else math.inf)
            r.update(rel_error=max(rels), max_abs_error=max(maes))
            if not max(rels) <= TOLERANCE:
                r.update(status="FAIL",
                         problem=f"relative error {max(rels):.3g} > {TOLERANCE}")
        except Exception as ex:  # keep going with the other artifacts
            r.update(status="FAIL", problem=f"{type(ex).__name__}: {ex}")
        r["seconds"] = round(time.time() - t0, 2)
        print(f"{r['status']}  {e['name']:28s} rel {r.get('rel_error', math.nan):.2e}"
              f"  {r['problem']}", flush=True)

    md = markdown(results, args.device, time.time() - start)
    print(md)
    gc.write_json(args.json, dict(bundle=info.get("sparsec"),
                                  created=info.get("created"),
                                  device=args.device, tolerance=TOLERANCE,
                                  results=results))
    gc.write_text(args.md, md)
    failed = sum(r["status"] == "FAIL" for r in results)
    print(f"test_model: {sum(r['status'] == 'PASS' for r in results)} passed, "
          f"{failed} failed, {sum(r['status'] == 'SKIP' for r in results)} "
          f"skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
