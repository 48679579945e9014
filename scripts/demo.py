#!/usr/bin/env python3
"""sparsec demo: import (--emit=mlir), compile+run (--run) a model on the host CPU, compare with
onnxruntime and print a short report. Exit code 0 on PASS (max rel err <= 1e-4), 1 on FAIL.

Usage: python3 scripts/demo.py [MODEL.onnx] [--input X.npy ...] [--seed 0]
Default model: examples/tiny_resnet.onnx with examples/tiny_resnet_input.npy.
"""
from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "test" / "e2e"))
import models  # noqa: E402
from sparsec_cli import (first_error_line, missing_binary_message, robust_rel_err,  # noqa: E402
                         run_model, run_sparsec, sparsec_bin)

DEFAULT_MODEL = REPO_ROOT / "examples" / "tiny_resnet.onnx"
MAX_REL_ERR = 1e-4


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--input", action="append", type=Path, default=None,
                    help=".npy input (repeat per graph input); default: example input or random")
    ap.add_argument("--seed", type=int, default=None,
                    help="use random inputs with this seed (default: the example input if "
                         "MODEL_input.npy exists, else seed 0)")
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args(argv)

    msg = missing_binary_message()
    if msg:
        print(f"error: {msg}", file=sys.stderr)
        return 2
    if not args.model.exists():
        print(f"error: model {args.model} not found (run examples/make_examples.py?)",
              file=sys.stderr)
        return 2
    model = onnx.load(str(args.model))
    if args.input:
        inputs = [np.load(p) for p in args.input]
    else:
        default_in = args.model.with_name(args.model.stem + "_input.npy")
        n_in = len(models.graph_inputs(model))
        inputs = ([np.load(default_in)] if default_in.exists() and n_in == 1
                  and args.seed is None else models.make_inputs(model, seed=args.seed or 0))

    hist = collections.Counter(n.op_type for n in model.graph.node)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(f"model      : {args.model}")
    print(f"sparsec    : {sparsec_bin()}")
    print(f"nodes      : {len(model.graph.node)}")
    print("ops        : " + ", ".join(f"{k}×{v}" for k, v in sorted(hist.items())))
    print(f"params     : {params:,}")
    print("inputs     : " + ", ".join(f"{a.dtype}{list(a.shape)}" for a in inputs))

    with tempfile.TemporaryDirectory(prefix="sparsec_demo_") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        try:
            proc = run_sparsec([args.model, "--emit=mlir", "-o", tmp / "model.mlir"],
                               timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"import     : TIMEOUT\nresult     : FAIL")
            return 1
        t_import = time.perf_counter() - t0
        if proc.returncode != 0:
            print(f"import     : FAILED (exit {proc.returncode}): {first_error_line(proc.stderr)}")
            print("result     : FAIL")
            return 1
        mlir_lines = (tmp / "model.mlir").read_text(errors="replace").count("\n")
        print(f"import     : {t_import:.3f} s (--emit=mlir, {mlir_lines} lines of MLIR)")

        t0 = time.perf_counter()
        res = run_model(args.model, inputs, tmp / "run", len(model.graph.output),
                        timeout=args.timeout)
        t_run = time.perf_counter() - t0
        if res.error:
            print(f"run        : FAILED: {res.error}")
            print("result     : FAIL")
            return 1
        print(f"run        : {t_run:.3f} s (import+compile+run, --run)")

        # The same model pruned to 2:4 with an ASP channel permutation: the
        # host run must equal onnxruntime on the exported masked model.
        pruned_dir, pruned_onnx = tmp / "pruned", tmp / "pruned.onnx"
        npys = []
        for i, a in enumerate(inputs):
            np.save(tmp / f"pin{i}.npy", a)
            npys.append(f"--input={tmp / f'pin{i}.npy'}")
        t0 = time.perf_counter()
        proc = run_sparsec([args.model, "--sparsity=nm:n=2,m=4", "--permute=asp",
                            "--run", *npys, "-o", pruned_dir,
                            f"--export-onnx={pruned_onnx}"], timeout=args.timeout)
        t_prune = time.perf_counter() - t0
        pruned_rel = None
        if proc.returncode == 0:
            import onnx as _onnx
            pruned_model = _onnx.load(str(pruned_onnx))
            pruned_ref = models.run_onnxruntime(pruned_model, inputs)
            pruned_rel = max(robust_rel_err(np.load(pruned_dir / f"output_{i}.npy"), r)
                             for i, r in enumerate(pruned_ref))
            report = run_sparsec([args.model, "--sparsity=nm:n=2,m=4", "--permute=asp",
                                  "--emit=report"], timeout=args.timeout)
            total = [l for l in report.stdout.splitlines() if l.startswith("total")]
            print(f"pruned 2:4 : {t_prune:.3f} s (ASP permutation, prune, compile, run)")
            if total:
                cols = total[0].split()
                print(f"             sparsity {cols[2]}, retained |w| {cols[3]} "
                      f"(without permutation {cols[-1]}), compression {cols[-3]}x")
            print(f"             max rel err vs onnxruntime on the exported pruned "
                  f"model: {pruned_rel:.3g}")
        else:
            print(f"pruned 2:4 : FAILED: {first_error_line(proc.stderr)}")

    expected = models.run_onnxruntime(model, inputs)
    ok = True
    max_abs = max_rel = 0.0
    for i, (a, b) in enumerate(zip(res.outputs, expected)):
        if a.shape != b.shape or a.dtype != b.dtype:
            print(f"output_{i}   : shape/dtype mismatch {a.dtype}{a.shape} vs {b.dtype}{b.shape}")
            ok = False
            continue
        err = float(np.max(np.abs(a.astype(np.float64) - b))) if b.size else 0.0
        rel = robust_rel_err(a, b)
        max_abs, max_rel = max(max_abs, err), max(max_rel, rel)
    ok = ok and max_rel <= MAX_REL_ERR and pruned_rel is not None and \
        pruned_rel <= MAX_REL_ERR
    print(f"max abs err: {max_abs:.3g}")
    print(f"max rel err: {max_rel:.3g} (limit {MAX_REL_ERR:g}, vs onnxruntime)")
    print(f"result     : {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
