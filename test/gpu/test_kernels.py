#!/usr/bin/env python3
"""Every sparsec kernel variant against an fp64 reference (gpu.md §7 T3/T4).

For each architecture the device runs (sm_80 always, sm_90a on compute
capability 9.x), format (2:4; HiNM at V = 64 and 128, vector sparsity 0.5 and
0.75), value type (f16, bf16), activation (none, relu, gelu), bias or not,
and shapes with R, K, T off the tile sizes: fresh seeded random data, a random
structured mask (random kept columns in random group order per HiNM tile,
random 2 of 4 inside), the generated kernel run through the runtime, compared
with act((round(W) * mask) @ round(X) + bias) in fp64. Pass: normwise
relative error <= 1e-2, every output written, nothing written outside Y.
Some cases drop 30 % of the kept mask entries ("holes": groups keeping
fewer than 2 values, so the packer's fillers are exercised); others use a
non-default tile_n.

  python3 test/gpu/test_kernels.py                      # GPU (torch + cuda)
  python3 test/gpu/test_kernels.py --device emulator --small   # CPU emulator

Exit status 1 when a case fails.
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpu_common as gc  # noqa: E402

TOLERANCE = 1e-2
COMBOS = list(itertools.product(["f16", "bf16"], ["none", "relu", "gelu"],
                                [True, False]))            # 12
AWKWARD = (200, 328, 13)                                   # every combo
SHAPES = [(64, 64, 8), (256, 512, 1), (192, 1000, 300), (4096, 4096, 2048)]
SMALL_SHAPES = [(64, 64, 8), (70, 100, 5)]
SMALL_COMBOS = [("f16", "none", True), ("bf16", "gelu", False),
                ("f16", "relu", True)]
# Non-default tokens per CTA (0 = the generator's choice: 64 / 128).
TILE_N = {"sm_80": [32, 128], "sm_90a": [64, 256]}


def make_cases(arches, small):
    """All 12 combos on the awkward shape; the other shapes rotate through
    the combos (7 is prime to 12, so each group sees different ones)."""
    cases = []
    for g, (arch, fmt) in enumerate(itertools.product(arches, gc.ALL_FORMATS)):
        if not gc.variant_supports(arch, fmt):
            continue
        if small:
            if fmt.format == "hinm" and (fmt.v, fmt.vs) != (64, 0.5):
                continue
            for i, shape in enumerate(SMALL_SHAPES):
                combo = SMALL_COMBOS[(g + i) % len(SMALL_COMBOS)]
                cases.append((arch, fmt, shape, *combo, 0, i == 1))
            continue
        for combo in COMBOS:
            cases.append((arch, fmt, AWKWARD, *combo, 0, False))
        for i, shape in enumerate(SHAPES):
            combo = COMBOS[(5 * g + 7 * i) % len(COMBOS)]
            cases.append((arch, fmt, shape, *combo, 0, False))
        # groups keeping fewer than 2 values: the packer's fillers
        cases.append((arch, fmt, AWKWARD, "f16", "relu", True, 0, True))
        cases.append((arch, fmt, (192, 1000, 300), "bf16", "none", False, 0,
                      True))
        if fmt.name in ("2:4", "HiNM75 V64"):
            for tile_n in TILE_N[arch.partition("-")[0]]:
                cases.append((arch, fmt, AWKWARD, "f16", "gelu", True, tile_n,
                              False))
    return cases


class CudaRunner:
    """Runs a layer on the GPU through torch-allocated buffers: NaN guard
    rows after X, guard rows and columns around Y that must stay poisoned."""

    def __init__(self):
        import torch
        self.torch = torch
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False

    def run(self, layer, x_bits, tokens, dtype):
        torch = self.torch
        rows, cols = layer.rows, layer.cols
        ldy = gc.round_up(tokens, 8) + 8
        # NaN rows after K: a kernel reading past K turns its outputs NaN.
        guarded = np.full((cols + 32, x_bits.shape[1]), gc.POISON[dtype],
                          np.uint16)
        guarded[:cols] = x_bits
        x = torch.from_numpy(guarded.view(np.int16)).cuda()
        poison = np.uint16(gc.POISON[dtype]).view(np.int16)
        y = torch.full((rows + 16, ldy), int(poison), dtype=torch.int16,
                       device="cuda")
        layer.run_device(x.data_ptr(), y.data_ptr(), tokens, x_bits.shape[1],
                         ldy, torch.cuda.current_stream().cuda_stream)
        torch.cuda.synchronize()
        out = y.cpu().numpy().view(np.uint16)
        problems = []
        p = gc.POISON[dtype]
        unwritten = int(np.count_nonzero(out[:rows, :tokens] == p))
        if unwritten:
            problems.append(f"{unwritten} outputs not written")
        if np.any(out[:rows, tokens:] != p):
            problems.append("wrote past T (guard columns)")
        if np.any(out[rows:] != p):
            problems.append("wrote past R (guard rows)")
        return out[:rows, :tokens], problems


class EmulatorRunner:
    def run(self, layer, x_bits, tokens, dtype):
        ldy = gc.round_up(tokens, 8)
        y = layer.run_host(x_bits, tokens, ldy)
        return y[:, :tokens], []


def run_case(rt, device, runner, case, seed, index):
    arch, fmt, (rows, cols, tokens), dtype, act, has_bias, tile_n, holes = case
    rng = np.random.default_rng([seed, index])
    keep = fmt.sparsity
    w = (rng.standard_normal((rows, cols)) /
         math.sqrt(max(1.0, cols * (1 - keep)))).astype(np.float32)
    mask, tile_columns = gc.random_mask(rng, rows, cols, fmt)
    if holes:  # drop 30 % of the kept entries (W stays non-zero there)
        mask &= (rng.random(mask.shape) > 0.3).astype(np.uint8)
    bias = (0.5 * rng.standard_normal(rows)).astype(np.float32) \
        if has_bias else None
    layer = rt.Layer(device, w, mask=mask, bias=bias,
                     tile_columns=tile_columns, format=fmt.format,
                     dtype=dtype, act=act, v=fmt.v, tile_n=tile_n,
                     **gc.kernel_variant(arch))
    ldx = gc.round_up(tokens, 8)
    x = rng.standard_normal((cols, tokens)).astype(np.float32)
    x_bits = np.empty((cols, ldx), np.uint16)
    x_bits[:, :tokens] = gc.to_bits(x, dtype)
    x_bits[:, tokens:] = gc.POISON[dtype]  # NaN padding must not leak
    y_bits, problems = runner.run(layer, x_bits, tokens, dtype)
    y = gc.from_bits(y_bits, dtype)
    ref = gc.reference(w, mask, gc.from_bits(x_bits[:, :tokens], dtype), bias,
                       act, dtype)
    rel = gc.rel_error(y, ref)
    finite = np.isfinite(y)
    max_abs = float(np.max(np.abs(y[finite] - ref[finite]))) \
        if finite.any() else math.inf
    if rel > TOLERANCE:
        problems.append(f"relative error {rel:.3g} > {TOLERANCE}")
    info = layer.info
    layer.close()
    return dict(rel_error=rel, max_abs_error=max_abs, problems=problems,
                tile_n=info["tile_n"], kept_width=info["kept_width"],
                rows_padded=info["rows_padded"])


def describe(case):
    arch, fmt, (r, k, t), dtype, act, bias, tile_n, holes = case
    return (f"{arch:6s} {fmt.name:13s} R={r:<4d} K={k:<4d} T={t:<4d} "
            f"{dtype:4s} {act:4s} {'bias' if bias else '    '}"
            f"{f' tile_n={tile_n}' if tile_n else ''}"
            f"{' holes' if holes else ''}")


def markdown(results, seed, device_name, elapsed):
    failed = [r for r in results if r["status"] == "FAIL"]
    skipped = [r for r in results if r["status"] == "SKIP"]
    lines = [f"## Kernel checks (test/gpu/test_kernels.py)", "",
             f"Device: {device_name}; seed {seed}; {len(results)} cases, "
             f"{len(failed)} failed, {len(skipped)} skipped; "
             f"{elapsed:.0f} s; tolerance normwise {TOLERANCE}.", "",
             "| arch | format | cases | failed | worst rel. error | "
             "worst max abs error |", "|---|---|---|---|---|---|"]
    groups = {}
    for r in results:
        groups.setdefault((r["arch"], r["format"]), []).append(r)
    for (arch, fmt), rs in groups.items():
        ran = [r for r in rs if r["status"] != "SKIP"]
        worst = max((r["rel_error"] for r in ran), default=float("nan"))
        worst_abs = max((r["max_abs_error"] for r in ran),
                        default=float("nan"))
        lines.append(f"| {arch} | {fmt} | {len(ran)} | "
                     f"{sum(r['status'] == 'FAIL' for r in rs)} | "
                     f"{worst:.2e} | {worst_abs:.2e} |")
    if failed:
        lines += ["", "Failures:", ""]
        lines += [f"- `{r['case']}`: {'; '.join(r['problems'])}"
                  for r in failed[:40]]
        if len(failed) > 40:
            lines.append(f"- ... and {len(failed) - 40} more (JSON)")
    if skipped:
        lines += ["", f"{len(skipped)} cases skipped by the time budget."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cuda", "emulator"], default="cuda")
    ap.add_argument("--small", action="store_true",
                    help="a few tiny cases (the emulator's mode)")
    ap.add_argument("--arch", default="auto",
                    help="sm_80, sm_90a or both comma-separated (auto: what "
                         "the device runs)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--time-budget", type=float, default=420,
                    help="seconds; later cases are skipped (not failed)")
    ap.add_argument("--json", default=None, help="write all results here")
    ap.add_argument("--md", default=None, help="write the summary here")
    args = ap.parse_args()

    seed = args.seed if args.seed is not None else \
        int.from_bytes(os.urandom(4), "little")
    print(f"test_kernels: seed {seed} (rerun with --seed {seed})", flush=True)
    rt = gc.runtime()
    device = rt.Device(args.device)
    if args.device == "cuda":
        runner = CudaRunner()
        torch = runner.torch
        major, minor = torch.cuda.get_device_capability()
        device_name = f"{torch.cuda.get_device_name()} (sm_{major}{minor})"
        available = ["sm_80", "sm_80-m128"] + (
            ["sm_90a", "sm_90a-sync", "sm_90a-auto"]
            if (major, minor) == (9, 0) else [])
    else:
        runner = EmulatorRunner()
        device_name = "CPU PTX emulator"
        available = ["sm_80", "sm_80-m128", "sm_90a", "sm_90a-sync",
                     "sm_90a-auto"]
    arches = available if args.arch == "auto" else args.arch.split(",")
    cases = make_cases(arches, args.small)
    print(f"device: {device_name}; arches {arches}; {len(cases)} cases",
          flush=True)

    results, start = [], time.time()
    for index, case in enumerate(cases):
        arch, fmt, shape, dtype, act, bias, tile_n, holes = case
        record = dict(case=describe(case).strip(), arch=arch, format=fmt.name,
                      rows=shape[0], cols=shape[1], tokens=shape[2],
                      dtype=dtype, act=act, bias=bias, tile_n_asked=tile_n,
                      holes=holes, index=index)
        if time.time() - start > args.time_budget:
            record.update(status="SKIP", problems=["time budget"])
            results.append(record)
            continue
        t0 = time.time()
        try:
            record.update(run_case(rt, device, runner, case, seed, index))
        except Exception as e:  # a failing case must not stop the others
            record.update(rel_error=math.inf, max_abs_error=math.inf,
                          problems=[f"{type(e).__name__}: {e}".strip()])
            traceback.print_exc()
        record["seconds"] = round(time.time() - t0, 3)
        record["status"] = "FAIL" if record["problems"] else "PASS"
        results.append(record)
        print(f"{record['status']}  {describe(case)}  rel {record['rel_error']:.2e}"
              f"  max abs {record['max_abs_error']:.2e}"
              f"{'  ' + '; '.join(record['problems']) if record['problems'] else ''}",
              flush=True)

    elapsed = time.time() - start
    md = markdown(results, seed, device_name, elapsed)
    print(md)
    gc.write_json(args.json, dict(seed=seed, device=device_name,
                                  tolerance=TOLERANCE, results=results))
    gc.write_text(args.md, md)
    failed = sum(r["status"] == "FAIL" for r in results)
    skipped = sum(r["status"] == "SKIP" for r in results)
    print(f"test_kernels: {len(results) - failed - skipped} passed, {failed} "
          f"failed, {skipped} skipped (seed {seed})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
