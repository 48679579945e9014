#!/usr/bin/env python3
"""NEON kernels' static speed: cycles per useful FMA of the hot loops, from llvm-mca.

qemu runs (test/e2e/test_neon.py) prove the `--target=neon` code correct but say nothing
about its speed, and no AArch64 machine is at hand. So, for each layer shape and weight
pattern (dense, 2:4, HiNM 75 % = V 64, vs 0.5, 2:4), this script compiles a one-layer
module with `sparsec --target=neon --neon-cpu=<cpu> --emit=asm`, finds the innermost loop
with the most `fmla` instructions (the register tile's K step), and asks `llvm-mca-22
-mcpu=<cpu>` for its steady-state cycles per iteration. From those:

- FMA lanes / iteration: 4 per `fmla .4s` (what the loop computes, zeros included);
- cycles per useful FMA: cycles / iteration over the lanes that multiply a nonzero weight
  (the N:M zeros filled back inside kept vectors are not useful);
- cycles per dense-equivalent FMA: the layer's cycles in that loop (cycles / iteration x
  the loop's trip count, from the work fraction the report prints) over T*K*R;
- fraction of the FMA peak: Neoverse N1 issues two 128-bit FMAs per cycle (8 lanes).

    python3 bench/neon_mca.py [--cpu neoverse-n1] [--out bench/results/neon_mca.md]

Static estimates: no cache misses, no loop overhead outside the hot loop, no threads.
"""
from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "e2e"))
from test_cpu_kernels import conv_module, hinm_weight, linear_module, nm_weight  # noqa: E402

SHAPES = [
    # name, T, K, R: BERT-base / ViT-B layers at 128 tokens, an MLP at batch 8
    ("bert-qkv", 128, 768, 768),
    ("bert-ffn1", 128, 768, 3072),
    ("mlp-b8", 8, 1024, 1024),
    # convolutions (NCHW input, out channels, kernel): ResNet-50 stage-2 3x3 and 1x1
    ("resnet-3x3", (1, 64, 56, 56), 64, 3),
    ("resnet-1x1", (1, 256, 56, 56), 64, 1),
]
PATTERNS = ["dense", "nm24", "hinm75"]
FMA_LANES_PER_CYCLE = {"neoverse-n1": 8, "cortex-a76": 8, "cortex-a55": 4}
LABEL = re.compile(r"^(\.?L[\w$.]+):")
BRANCH = re.compile(r"^\s+(?:b\.\w+|b|cbnz|cbz|tbnz|tbz)\s+(?:[^,]+,\s*)*(\.?L[\w$.]+)\s*$")
FMLA = re.compile(r"^\s+fmla\s+v\d+\.4s")


def weight_for(pattern: str, rows: int, cols: int) -> np.ndarray:
    rng = np.random.default_rng(rows * 7919 + cols)
    if pattern == "dense":
        return rng.standard_normal((rows, cols)).astype(np.float32)
    if pattern == "nm24":
        return nm_weight(rng, rows, cols)
    return hinm_weight(rng, rows, cols, 64, 0.5)


def hot_loop(asm: str) -> list[str]:
    """The innermost backward-branch loop with the most fmla instructions: the tile's K step."""
    lines = asm.splitlines()
    labels = {}
    loops = []
    for i, line in enumerate(lines):
        if m := LABEL.match(line):
            labels[m.group(1)] = i
        elif (m := BRANCH.match(line)) and m.group(1) in labels and labels[m.group(1)] < i:
            loops.append((labels[m.group(1)], i))
    innermost = [(a, b) for a, b in loops
                 if not any(a <= c and d <= b and (c, d) != (a, b) for c, d in loops)]
    if not innermost:
        raise RuntimeError("no loop found in the assembly")
    def body(ab):
        a, b = ab
        return [x for x in lines[a + 1:b + 1]
                if x.strip() and not x.lstrip().startswith((".", "//")) and not LABEL.match(x)]
    # The most FMAs; of equals (a masked edge tile beside the full one), the shortest.
    return max((body(ab) for ab in innermost),
               key=lambda xs: (sum(bool(FMLA.match(x)) for x in xs), -len(xs)))


def mca_cycles_per_iteration(body: list[str], cpu: str) -> float:
    text = "\n".join(body) + "\n"
    out = subprocess.run(["llvm-mca-22", "-mtriple=aarch64-linux-gnu", f"-mcpu={cpu}",
                          "-iterations=200"], input=text, capture_output=True, text=True,
                         check=True).stdout
    cycles = int(re.search(r"Total Cycles:\s+(\d+)", out).group(1))
    iterations = int(re.search(r"Iterations:\s+(\d+)", out).group(1))
    return cycles / iterations


def work_fraction(module: Path, workdir: Path) -> float:
    """The fraction of dense work the report says the kernel does (1.0 for dense)."""
    out = subprocess.run([str(ROOT / "build/bin/sparsec"), str(module), "--target=neon",
                          "--emit=report", "--report-json"], capture_output=True, text=True,
                         check=True).stdout
    kernel = json.loads(out)["layers"][0]["kernel"]
    m = re.search(r"(\d+)% of dense work", kernel)
    return (int(m.group(1)) / 100 if m else 1.0), kernel


def measure(name, t, k, r, pattern, cpu, workdir: Path) -> dict:
    module = workdir / f"{name}-{pattern}.mlir"
    if isinstance(t, tuple):  # a convolution: t is the input shape, k the kernel size
        cin, kernel = t[1], r
        weight = weight_for(pattern, k, cin * kernel * kernel)
        pad = kernel // 2
        text, _ = conv_module(t, weight.reshape(k, cin, kernel, kernel), None, (1, 1),
                              (pad,) * 4, (1, 1))
        module.write_text(text)
    else:
        weight = weight_for(pattern, r, k)
        module.write_text(linear_module((t, k), weight, None))
    asm = subprocess.run([str(ROOT / "build/bin/sparsec"), str(module), "--target=neon",
                          f"--neon-cpu={cpu}", "--emit=asm", "-o", "-"], capture_output=True,
                         text=True, check=True).stdout
    body = hot_loop(asm)
    cycles = mca_cycles_per_iteration(body, cpu)
    lanes = 4 * sum(bool(FMLA.match(x)) for x in body)
    fraction, kernel = work_fraction(module, workdir)
    nonzero = float(np.count_nonzero(weight)) / weight.size
    # Lanes that multiply a nonzero weight: the kernel's work is `fraction` of dense, of
    # which nonzero/fraction is useful.
    useful_lanes = lanes * min(1.0, nonzero / fraction)
    dense_equiv_lanes = lanes / fraction
    peak = FMA_LANES_PER_CYCLE.get(cpu, 8)
    return dict(name=name, pattern=pattern, kernel=kernel, cycles=cycles, lanes=lanes,
                instructions=len(body), fraction=fraction, nonzero=nonzero,
                cyc_useful=cycles / useful_lanes, cyc_dense_equiv=cycles / dense_equiv_lanes,
                peak_frac=lanes / cycles / peak)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu", default="neoverse-n1")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, t, k, r in SHAPES:  # conv rows: name, input shape, out channels, kernel
            for pattern in PATTERNS:
                rows.append(measure(name, t, k, r, pattern, args.cpu, Path(tmp)))
    peak = FMA_LANES_PER_CYCLE.get(args.cpu, 8)
    md = [f"# NEON kernels under llvm-mca ({args.cpu})", "",
          f"{datetime.date.today()}, `python3 bench/neon_mca.py --cpu {args.cpu}`; "
          f"llvm-mca-22 steady state of each layer's hot loop (200 iterations). Physical "
          f"limit: {peak} f32 FMA lanes per cycle ({peak // 4} x 128-bit FMA pipes).", "",
          "| layer | pattern | kernel | insts/iter | FMA lanes/iter | cycles/iter "
          "| % of FMA peak | cycles / useful FMA | cycles / dense-equiv FMA | vs dense |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    dense = {x["name"]: x for x in rows if x["pattern"] == "dense"}
    for x in rows:
        speedup = dense[x["name"]]["cyc_dense_equiv"] / x["cyc_dense_equiv"]
        md.append(f"| {x['name']} | {x['pattern']} | {x['kernel']} | {x['instructions']} "
                  f"| {x['lanes']} | {x['cycles']:.2f} | {100 * x['peak_frac']:.0f} % "
                  f"| {x['cyc_useful']:.3f} | {x['cyc_dense_equiv']:.3f} | {speedup:.2f}x |")
    md += ["", "`vs dense`: the dense kernel's cycles per dense-equivalent FMA over this "
           "kernel's (the issue asks >= 1.8x for HiNM 75 %). Static: the estimate leaves out "
           "cache misses, the index loads' latency across iterations and everything outside "
           "the hot loop."]
    text = "\n".join(md) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
