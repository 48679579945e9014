#!/usr/bin/env python3
"""Import benchmark: time and peak RSS of `sparsec MODEL --emit=mlir -o /dev/null` on a
~100M-parameter MLP (external-data and inline-proto variants), against `onnx.load` in Python.

Each measurement runs in its own child process, forked from a tiny wrapper interpreter; peak
RSS is that child's ru_maxrss from os.wait4 (per child, not the cumulative RUSAGE_CHILDREN
maximum). Files are freshly written,
so runs are warm page cache. Results go to bench/results/import.md.

Usage: python3 bench/import_bench.py [--layers 6] [--hidden 4096] [--repeat 3]
                                     [--out bench/results/import.md] [--baseline-only]
"""
from __future__ import annotations

import argparse
import datetime
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "test" / "e2e"))
from sparsec_cli import display_path, missing_binary_message, sparsec_bin  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "import.md"
TARGET_RATIO = 2.0  # peak RSS <= 2x weight bytes
PY_LOAD = ("import sys, time, onnx; t = time.perf_counter(); m = onnx.load(sys.argv[1]); "
           "print(f'LOADTIME {time.perf_counter() - t:.6f}')")


@dataclass
class Measure:
    wall_s: float
    peak_rss_kb: int
    rc: int
    stdout: str
    stderr: str


# Tiny fork+exec wrapper. Spawning the measured program straight from this (large) process
# would make its ru_maxrss start at our own RSS: Linux carries the pre-exec mm's high-water mark
# into the exec'd process. Forking from a fresh small interpreter keeps that floor at a few MiB.
WRAPPER = """
import os, sys, time
stat, cmd = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
with open(stat, "w") as f:
    f.write(f"{time.perf_counter() - t} {ru.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def measure(cmd: Sequence[str], timeout: float) -> Measure:
    """Run cmd in a child (via WRAPPER); its wall time and own peak RSS (os.wait4)."""
    with tempfile.TemporaryDirectory() as d:
        stat = Path(d) / "stat"
        p = subprocess.Popen([sys.executable, "-S", "-c", WRAPPER, str(stat), *cmd],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            out, err = p.communicate()
            return Measure(timeout, 0, -9, out.decode(errors="replace"),
                           f"timeout after {timeout:.0f}s")
        if not stat.exists():
            return Measure(0.0, 0, p.returncode or -1, out.decode(errors="replace"),
                           err.decode(errors="replace"))
        wall, rss, rc = stat.read_text().split()
        return Measure(float(wall), int(rss), int(rc), out.decode(errors="replace"),
                       err.decode(errors="replace"))


def build_mlp(layers: int, hidden: int, seed: int = 0) -> onnx.ModelProto:
    """MLP of `layers` Gemm(transB=1) [hidden x hidden] + Relu layers, float32."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    x = "x"
    for i in range(layers):
        w = (rng.standard_normal((hidden, hidden), dtype=np.float32) * (1.0 / hidden ** 0.5))
        inits.append(numpy_helper.from_array(w, f"fc{i}_w"))
        inits.append(numpy_helper.from_array(np.zeros(hidden, np.float32), f"fc{i}_b"))
        y = f"fc{i}_out"
        nodes.append(helper.make_node("Gemm", [x, f"fc{i}_w", f"fc{i}_b"], [y], name=f"fc{i}",
                                      transB=1))
        x = y
        if i < layers - 1:
            nodes.append(helper.make_node("Relu", [x], [f"relu{i}_out"], name=f"relu{i}"))
            x = f"relu{i}_out"
    g = helper.make_graph(nodes, "import_bench_mlp",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, hidden])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, hidden])],
                          initializer=inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def weight_stats(model: onnx.ModelProto):
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    return params, params * 4


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=60.0, help="per-run timeout (s)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--baseline-only", action="store_true",
                    help="only measure onnx.load (no sparsec needed)")
    args = ap.parse_args(argv)
    command = "python3 " + " ".join(shlex.quote(a) for a in
                                    [os.path.relpath(sys.argv[0], REPO_ROOT)] + sys.argv[1:])
    if not args.baseline_only:
        msg = missing_binary_message()
        if msg:
            print(f"error: {msg}", file=sys.stderr)
            return 2
    t_start = time.perf_counter()
    rows = []
    failures = []
    with tempfile.TemporaryDirectory(prefix="sparsec_import_bench_") as tmp:
        tmp = Path(tmp)
        model = build_mlp(args.layers, args.hidden)
        params, wbytes = weight_stats(model)
        variants = []
        if model.ByteSize() < 2 ** 31 - 2 ** 20:
            (tmp / "inline").mkdir()
            onnx.save_model(model, str(tmp / "inline" / "model.onnx"))
            variants.append(("inline proto", tmp / "inline" / "model.onnx"))
        (tmp / "external").mkdir()
        # converts the tensors of `model` in place, so it goes after the inline save
        onnx.save_model(model, str(tmp / "external" / "model.onnx"), save_as_external_data=True,
                        all_tensors_to_one_file=True, location="weights.bin",
                        size_threshold=1024)
        variants.insert(0, ("external data", tmp / "external" / "model.onnx"))
        del model
        print(f"generated {params / 1e6:.1f}M params ({wbytes / 2**20:.0f} MiB) in "
              f"{time.perf_counter() - t_start:.1f}s", file=sys.stderr)
        idle = measure([sys.executable, "-c", "import onnx"], args.timeout)
        floor = measure(["true"], args.timeout)

        tools = [("onnx.load (Python)", lambda p: [sys.executable, "-c", PY_LOAD, str(p)])]
        if not args.baseline_only:
            # Import alone (parse, validate, build the module, verify), then
            # import plus writing bytecode and the textual form (hex-encoded
            # weights, which needs its own buffer).
            for emit in ("mlir", "mlirbc", "none")[::-1]:
                tools.insert(0, (f"sparsec --emit={emit}",
                                 lambda p, e=emit: [str(sparsec_bin()), str(p), f"--emit={e}",
                                                    "-o", "/dev/null"]))
        for vname, path in variants:
            for tname, mk in tools:
                ms: List[Measure] = []
                for _ in range(args.repeat):
                    m = measure(mk(path), args.timeout)
                    ms.append(m)
                    if m.rc != 0:
                        failures.append(f"{tname} on {vname}: exit {m.rc}: "
                                        f"{m.stderr.strip().splitlines()[:1]}")
                        break
                ok = [m for m in ms if m.rc == 0]
                if tname.startswith("onnx.load"):  # load time measured inside the child
                    times = [float(m.stdout.split("LOADTIME")[1]) for m in ok]
                else:
                    times = [m.wall_s for m in ok]
                peak = max((m.peak_rss_kb for m in ms), default=0) * 1024
                rows.append(dict(model=vname, tool=tname, ok=len(ok) == len(ms),
                                 time=statistics.median(times) if times else float("nan"),
                                 tmin=min(times, default=float("nan")),
                                 tmax=max(times, default=float("nan")), peak=peak,
                                 ratio=peak / wbytes))
                r = rows[-1]
                print(f"{vname:14s} {tname:22s} {r['time']:7.2f}s  {peak / 2**20:8.0f} MiB  "
                      f"{r['ratio']:.2f}x", file=sys.stderr)

    total = time.perf_counter() - t_start
    hdr = ("| Model | Tool | Params | Weight bytes | Time (s), median [min–max] | "
           "Peak RSS (MiB) | Peak RSS / weight bytes | Target ≤ 2× |")
    lines = ["# Import benchmark", "",
             f"- Date: {datetime.datetime.now().isoformat(timespec='seconds')}",
             f"- Command: `{command}`",
             f"- sparsec: `{display_path(sparsec_bin())}`" + (" (not run: --baseline-only)"
                                                 if args.baseline_only else ""),
             f"- Model: MLP, {args.layers} × Gemm {args.hidden}×{args.hidden} (transB=1) + bias, "
             f"opset 17; {params:,} params, {wbytes:,} weight bytes "
             f"({wbytes / 2**20:.0f} MiB)",
             f"- {args.repeat} runs per row, each in a fresh child process; peak RSS = max "
             f"ru_maxrss of the child (os.wait4, forked from a small wrapper; floor "
             f"{floor.peak_rss_kb / 1024:.0f} MiB = `true`). Warm page cache (files just written).",
             f"- sparsec time is wall time of `sparsec MODEL --emit=X -o /dev/null` "
             f"(process start to exit); `none` is the import alone, `mlirbc`/`mlir` add "
             f"writing bytecode / text. onnx.load time is measured inside the child "
             f"(excludes interpreter start); its RSS includes the interpreter + `import onnx` "
             f"({idle.peak_rss_kb / 1024:.0f} MiB on its own).",
             f"- Host: {os.cpu_count()} CPUs. Total benchmark time {total:.0f} s.", "",
             hdr, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        target = ("PASS" if r["ratio"] <= TARGET_RATIO else "FAIL") \
            if r["tool"].startswith("sparsec") else "(baseline)"
        if not r["ok"]:
            target = "ERROR"
        lines.append(f"| {r['model']} | {r['tool']} | {params / 1e6:.1f}M | {wbytes:,} | "
                     f"{r['time']:.2f} [{r['tmin']:.2f}–{r['tmax']:.2f}] | "
                     f"{r['peak'] / 2**20:.0f} | {r['ratio']:.2f}× | {target} |")
    if failures:
        lines += ["", "Errors:", ""] + [f"- {f}" for f in failures]
    md = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    print(md)
    print(f"wrote {args.out}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
