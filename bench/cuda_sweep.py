#!/usr/bin/env python3
"""Tuning sweep: times sparsec kernel configurations of one layer shape.

For the kernel generator's developers: which tile, stage count and wgmma
pipeline a shape wants, next to cuBLAS and cuSPARSELt on the same data.
Each configuration is checked once against an fp64 reference, then timed by
CUDA-graph replays over 4 weight copies (bench/cuda_bench.py's method; 4
copies pass the 60 MiB L2 only for large layers: compare configurations, and
take the committed figures from cuda_bench.py). Prints one markdown table.

  python3 bench/cuda_sweep.py --shape 4096x4096:8192 --format 2:4 \\
      --configs "sm_90a,tile_n=128;sm_90a,tile_n=64,stages=6;sm_80,tile_n=128"

A configuration is `arch[,key=value...]` with keys tile_n, tile_m, stages,
wgmma (auto|async|sync|off; default async, so plain sm_90a means the wgmma
kernel); arch sm_80 or sm_90a.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "gpu"))
import cuda_bench as cb  # noqa: E402
import gpu_common as gc  # noqa: E402

COPIES = 4  # weight copies rotated: 4 x 18 MiB (2:4, 4096 x 4096) > 60 MiB L2
FORMATS = {"2:4": gc.NM24, "H75/64": gc.HINM[(64, 0.5)],
           "H75/128": gc.HINM[(128, 0.5)], "H87.5/64": gc.HINM[(64, 0.75)],
           "H87.5/128": gc.HINM[(128, 0.75)]}


def parse_config(text: str) -> dict:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or parts[0] not in ("sm_80", "sm_90a"):
        raise SystemExit(f"config {text!r}: starts with sm_80 or sm_90a")
    config = {"arch": parts[0]}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        if key not in ("tile_n", "tile_m", "stages", "wgmma"):
            raise SystemExit(f"config {text!r}: unknown key {key!r}")
        config[key] = value if key == "wgmma" else int(value)
    return config


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", required=True, help="NxK:T")
    ap.add_argument("--format", default="2:4", choices=sorted(FORMATS))
    ap.add_argument("--configs", required=True,
                    help="';'-separated configurations (see the docstring)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--replays", type=int, default=10)
    ap.add_argument("--min-calls", type=int, default=24)
    ap.add_argument("--out", default=None, help="also write the table here")
    ap.add_argument("--no-time", action="store_true",
                    help="check and launch each configuration once (for ncu: "
                         "its kernels are named sweep_<index>)")
    args = ap.parse_args()

    import torch
    rt = gc.runtime()
    dims, _, tokens = args.shape.partition(":")
    n, k = (int(v) for v in dims.split("x"))
    t = int(tokens)
    fmt = FORMATS[args.format]
    rng = np.random.default_rng(args.seed)
    w = rng.standard_normal((n, k), dtype=np.float32)
    mask, cols = gc.random_mask(rng, n, k, fmt)
    wm = w * mask
    x_np = gc.rounded(rng.standard_normal((k, t), dtype=np.float32), "f16")
    ref = gc.rounded(wm, "f16").astype(np.float64) @ x_np
    x = torch.from_numpy(x_np).to("cuda", torch.float16)
    y = torch.empty((n, t), device="cuda", dtype=torch.float16)
    props = torch.cuda.get_device_properties(0)
    device = rt.Device("cuda")

    rows = []

    def add(label, launch_i, info=""):
        out = launch_i(0)
        torch.cuda.synchronize()
        got = out.float().cpu().numpy()
        err = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
        if not np.isfinite(err) or err > 0.01:
            rows.append((label, None, err, info))
            print(f"{label}: MISMATCH rel err {err:.2e}", flush=True)
            return
        if args.no_time:
            rows.append((label, None, err, info))
            return
        med, _, _, _ = cb.time_graph(torch, launch_i, COPIES, args.min_calls,
                                     args.replays)
        rows.append((label, med, err, info))
        print(f"{label}: {med:.1f} us", flush=True)

    w16 = torch.from_numpy(wm).to("cuda", torch.float16)
    dense = [w16.clone() for _ in range(COPIES)]
    add("cuBLAS", lambda i: torch.mm(dense[i], x, out=y))
    if fmt.format == "nm24" and hasattr(torch, "_cslt_compress"):
        wc = [torch._cslt_compress(w16) for _ in range(COPIES)]
        add("cuSPARSELt", lambda i: torch._cslt_sparse_mm(wc[i], x))
    configs = [c for c in args.configs.split(";") if c.strip()]
    for index, text in enumerate(configs):
        config = parse_config(text)
        try:
            layers = [rt.Layer(device, wm, mask=mask, tile_columns=cols,
                               format=fmt.format, v=fmt.v, dtype="f16",
                               arch=config["arch"],
                               tile_n=config.get("tile_n", 0),
                               tile_m=config.get("tile_m", 0),
                               stages=config.get("stages", 0),
                               wgmma=config.get("wgmma", "async"),
                               name=f"sweep_{index}")
                      for _ in range(COPIES)]
        except Exception as e:  # a configuration the generator refuses
            rows.append((text, None, float("nan"), f"refused: {e}"))
            print(f"{text}: refused: {e}", flush=True)
            continue
        info = layers[0].info
        desc = (f"{info['tile_m']}x{info['tile_n']}, {info['threads']} thr, "
                f"{info['shared_bytes']} B smem")

        def launch(i, layers=layers):
            layers[i].run_device(x.data_ptr(), y.data_ptr(), t, t, t,
                                     torch.cuda.current_stream().cuda_stream)
            return y
        add(text, launch, desc)
        for layer in layers:
            layer.close()

    flops = 2.0 * n * k * t
    lines = [f"### {args.format} {n}x{k}, T={t} "
             f"({props.name}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
             "", "| configuration | µs | dense-equiv. TFLOP/s | rel. error | tile |",
             "|---|---|---|---|---|"]
    for label, med, err, info in rows:
        us = f"{med:.1f}" if med else ("–" if args.no_time else "✗")
        tf = f"{flops / med / 1e6:.0f}" if med else "–"
        lines.append(f"| {label} | {us} | {tf} | {err:.1e} | {info} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        with open(args.out, "a") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
