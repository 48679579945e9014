#!/usr/bin/env python3
"""sparsec's sparse GEMM kernels against cuBLAS and cuSPARSELt (gpu.md §7 T6).

Y[N, T] = W[N, K] X[K, T], fp16, X feature-major (T contiguous). One run, one
seed, the same random W and X for every method:
  cuBLAS       torch.mm(W, X), dense W
  cuSPARSELt   torch._cslt_compress / _cslt_sparse_mm on the 2:4-masked W
  sparsec      2:4, HiNM 75 % (vs 0.5) and 87.5 % (vs 0.75) at V = 64 and
               128, once per kernel path (sm_80 mma.sp; sm_90a wgmma.sp on
               Hopper), launched through python/sparsec_runtime.py
Each method is checked once against an fp32 reference of its own masked W
(normwise relative error <= 1e-2; a mismatch is reported instead of a time),
then timed as CUDA-graph replays of a loop over distinct weight copies whose
bytes add up to >= 3x the L2 size (anchors.md §A methodology): the median of
the replays, per call. The report ends with the issue's targets, evaluated
on this run's numbers.

  python3 bench/cuda_bench.py                     # GPU, all shapes
  python3 bench/cuda_bench.py --shapes 4096x4096:16,8192x8192 --time-budget 300
  python3 bench/cuda_bench.py --device emulator --small   # logic check, no torch
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "test" / "gpu"))
import gpu_common as gc  # noqa: E402

SHAPES = [(4096, 4096, t) for t in (16, 64, 256, 2048, 8192)] + [
    (11008, 4096, 2048), (4096, 11008, 2048), (3072, 768, 4096),
    (768, 3072, 4096), (8192, 8192, 8192)]
SMALL_SHAPES = [(128, 256, 16), (192, 128, 64), (128, 256, 2048)]
CEILING = dict(dense_tflops=989.0, sparse_tflops=1979.0, hbm_tbs=4.8)
# What the H200's L2 delivers into shared memory, per load style
# (bench/results/l2_load_styles.md): per-thread 16-byte cp.async, and 1-D
# bulk copies of contiguous 16 KiB runs (the best any style reached).
L2_TO_SMEM_TBS = {"cp.async": 5.9, "bulk": 8.5}
TOLERANCE = 1e-2


@dataclass
class Method:
    key: str                       # column label
    kind: str                      # cublas | cusparselt | sparsec
    fmt: Optional[gc.Format] = None
    arch: str = ""


@dataclass
class Result:
    shape: tuple
    method: str
    status: str = "ok"             # ok | mismatch | error | skipped | n/a
    note: str = ""
    time_us: Optional[float] = None
    replays_us: List[float] = field(default_factory=list)
    rel_error: Optional[float] = None
    weight_bytes: Optional[int] = None
    executed_k: Optional[int] = None   # K the tensor cores run (K_c for HiNM)
    copies: int = 0
    calls_per_replay: int = 0
    # sparsec: the main entry's CTA tile (T above the small-T entry's range)
    tile_m: Optional[int] = None
    tile_n: Optional[int] = None


def methods_for(arches, cslt_ok: Optional[str], torch_ok: bool):
    out = []
    if torch_ok:
        out += [Method("cuBLAS", "cublas"), Method("cuSPARSELt", "cusparselt",
                                                   gc.NM24)]
    for arch in arches:
        for fmt in gc.ALL_FORMATS:
            if not gc.variant_supports(arch, fmt):
                continue
            label = fmt.name.replace("HiNM", "H").replace(" V", "/")
            out.append(Method(f"{label} {arch}", "sparsec", fmt, arch))
    return out


def parse_shapes(spec: Optional[str], shapes):
    """'4096x4096:16,8192x8192' -> the matching (N, K, T) entries."""
    if not spec:
        return list(shapes)
    keep = []
    for item in spec.split(","):
        nk, _, t = item.strip().partition(":")
        n, k = (int(v) for v in nk.lower().split("x"))
        keep += [s for s in shapes if s[:2] == (n, k) and (not t or s[2] == int(t))
                 and s not in keep]
    if not keep:
        raise SystemExit(f"--shapes {spec!r} matches none of {shapes}")
    return keep


# ---------------------------------------------------------------------------
# Timing (CUDA graphs).
# ---------------------------------------------------------------------------
def time_eager(torch, launch, copies: int, calls: int, replays: int):
    """Fallback when a capture fails: events around plain launches."""
    per_call = []
    for _ in range(replays + 2):
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        start.record()
        for c in range(calls):
            launch(c % copies)
        stop.record()
        stop.synchronize()
        per_call.append(start.elapsed_time(stop) * 1000.0 / calls)
    per_call = per_call[2:]
    return statistics.median(per_call), per_call, calls


def time_graph(torch, launch, copies: int, min_calls: int, replays: int):
    """Captures `passes` loops over launch(0..copies-1) in one CUDA graph and
    returns (median µs per call, all replays, calls per replay, how)."""
    passes = max(1, math.ceil(min_calls / copies))
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):        # warm-up outside the capture
        for i in range(copies):
            launch(i)
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            for _ in range(passes):
                for i in range(copies):
                    launch(i)
    except Exception as e:
        print(f"  WARNING: graph capture failed ({type(e).__name__}: {e}); "
              f"timing plain launches instead", flush=True)
        torch.cuda.synchronize()
        return (*time_eager(torch, launch, copies, passes * copies, replays),
                "eager launches (capture failed)")
    for _ in range(3):
        graph.replay()
    torch.cuda.synchronize()
    calls = passes * copies
    per_call = []
    for _ in range(replays):
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        stop.record()
        stop.synchronize()
        per_call.append(start.elapsed_time(stop) * 1000.0 / calls)
    del graph
    return statistics.median(per_call), per_call, calls, ""


def cusparselt_status(torch) -> Optional[str]:
    """None when torch can run cuSPARSELt 2:4, else the reason."""
    try:
        if not torch.backends.cusparselt.is_available():
            return "torch.backends.cusparselt.is_available() is False"
    except AttributeError:
        return "this torch has no torch.backends.cusparselt"
    if not hasattr(torch, "_cslt_compress"):
        try:
            from torch.sparse import SparseSemiStructuredTensor  # noqa: F401
        except ImportError:
            return "neither torch._cslt_compress nor SparseSemiStructuredTensor"
    return None


class GpuBench:
    """Builds each method's weight copies for one (N, K) group and times it
    for every T of the group."""

    def __init__(self, args, rt):
        import torch
        self.torch, self.args, self.rt = torch, args, rt
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        props = torch.cuda.get_device_properties(0)
        self.l2_bytes = int(getattr(props, "L2_cache_size", 0) or 50 << 20)
        self.device_name = f"{props.name} (sm_{props.major}{props.minor}, " \
                           f"{props.multi_processor_count} SMs, " \
                           f"L2 {self.l2_bytes / 2**20:.0f} MiB)"
        self.arches = ["sm_80"] + (["sm_90a"] if (props.major, props.minor)
                                   == (9, 0) else [])
        self.cslt_reason = cusparselt_status(torch)
        self.device = rt.Device("cuda")

    def copies_for(self, weight_bytes: int) -> int:
        need = math.ceil(3 * self.l2_bytes / max(weight_bytes, 1))
        return max(2, min(self.args.max_copies, need))

    def build(self, method: Method, w16, w32_np, mask_np, cols_np, shape):
        """Returns (launch(i, X, Y) -> output tensor, weight bytes, copies,
        executed K, cleanup)."""
        torch = self.torch
        n, k = shape
        if method.kind == "cublas":
            copies = self.copies_for(w16.numel() * 2)
            ws = [w16.clone() for _ in range(copies)]

            def launch(i, x, y):
                return torch.mm(ws[i], x, out=y)
            return launch, w16.numel() * 2, copies, k, ws.clear
        if method.kind == "cusparselt":
            wm = w16 * torch.from_numpy(mask_np).to(w16.device, w16.dtype)
            if hasattr(torch, "_cslt_compress"):
                first = torch._cslt_compress(wm)
                nbytes = first.numel() * first.element_size()
                copies = self.copies_for(nbytes)
                wcs = [first] + [torch._cslt_compress(wm)
                                 for _ in range(copies - 1)]
                algs: Dict[int, int] = {}
                search = getattr(torch, "_cslt_sparse_mm_search", None)

                def launch(i, x, y):
                    t = x.shape[1]
                    if t not in algs:  # first call per T: the check, not a capture
                        algs[t] = 0
                        if search is not None:
                            try:
                                found = search(first, x)
                                algs[t] = int(found[0] if isinstance(found, tuple)
                                              else found)
                            except Exception as e:
                                print(f"  cuSPARSELt algorithm search failed "
                                      f"({e}); alg_id 0", flush=True)
                    return torch._cslt_sparse_mm(wcs[i], x, alg_id=algs[t])
                return launch, nbytes, copies, k, wcs.clear
            from torch.sparse import (SparseSemiStructuredTensor,
                                      to_sparse_semi_structured)
            SparseSemiStructuredTensor._FORCE_CUTLASS = False
            first = to_sparse_semi_structured(wm)
            nbytes = first.packed.numel() * first.packed.element_size()
            copies = self.copies_for(nbytes)
            wss = [first] + [to_sparse_semi_structured(wm)
                             for _ in range(copies - 1)]

            def launch(i, x, y):
                return torch.mm(wss[i], x)
            return launch, nbytes, copies, k, wss.clear
        fmt = method.fmt
        w_masked = w32_np * mask_np  # zeros off the mask, whatever the packer

        def make_layer(_):
            return self.rt.Layer(self.device, w_masked, mask=mask_np,
                                 tile_columns=cols_np, format=fmt.format,
                                 dtype="f16", act="none", v=fmt.v,
                                 tile_n=self.args.tile_n,
                                 **gc.kernel_variant(method.arch))
        first = make_layer(0)
        self.last_info = first.info
        nbytes = first.weight_bytes
        copies = self.copies_for(nbytes)
        with ThreadPoolExecutor(self.args.build_threads) as pool:
            layers = [first] + list(pool.map(make_layer, range(copies - 1)))
        kept = first.info["kept_width"]

        def launch(i, x, y):
            layers[i].run_device(x.data_ptr(), y.data_ptr(), x.shape[1],
                                 x.shape[1], y.shape[1],
                                 torch.cuda.current_stream().cuda_stream)
            return y

        def cleanup():
            for layer in layers:
                layer.close()
            layers.clear()
        return launch, nbytes, copies, min(kept, k), cleanup

    def run_group(self, n, k, tokens, methods, seed, deadline, results):
        torch = self.torch
        rng = np.random.default_rng([seed, n, k])
        w32 = (rng.standard_normal((n, k)) / math.sqrt(k)).astype(np.float16)
        w16 = torch.from_numpy(w32).cuda()
        w32 = w32.astype(np.float32)
        xs = {t: torch.from_numpy(rng.standard_normal((k, t)).astype(np.float16)
                                  ).cuda() for t in tokens}
        masks: Dict[str, tuple] = {}
        refs: Dict[tuple, object] = {}
        for method in methods:
            rows = [Result((n, k, t), method.key) for t in tokens]
            results.extend(rows)
            if time.time() > deadline:
                for r in rows:
                    r.status, r.note = "skipped", "time budget"
                continue
            if method.kind == "cusparselt" and self.cslt_reason:
                for r in rows:
                    r.status, r.note = "n/a", self.cslt_reason
                continue
            fmt = method.fmt
            key = fmt.name if fmt else "dense"
            if key not in masks:
                if fmt is None:
                    masks[key] = (np.ones((n, k), np.uint8), None)
                else:
                    masks[key] = gc.random_mask(rng, n, k, fmt)
            mask, cols = masks[key]
            print(f"{n}x{k}: {method.key} ...", flush=True)
            try:
                launch, nbytes, copies, k_exec, cleanup = self.build(
                    method, w16, w32, mask, cols, (n, k))
            except Exception as e:
                traceback.print_exc()
                for r in rows:
                    r.status, r.note = "error", f"{type(e).__name__}: {e}"
                continue
            for r, t in zip(rows, tokens):
                r.weight_bytes, r.copies, r.executed_k = nbytes, copies, k_exec
                if method.kind == "sparsec":
                    r.tile_m = self.last_info["tile_m"]
                    r.tile_n = self.last_info["tile_n"]
                if time.time() > deadline:
                    r.status, r.note = "skipped", "time budget"
                    continue
                try:
                    self.check_and_time(r, launch, copies, xs[t], n, key,
                                        mask, w16, refs)
                except Exception as e:
                    traceback.print_exc()
                    r.status, r.note = "error", f"{type(e).__name__}: {e}"
                print(f"  T={t}: {r.status} {r.note} "
                      f"{'' if r.time_us is None else f'{r.time_us:.1f} us'}"
                      f" (rel err {r.rel_error}, {copies} copies)", flush=True)
            cleanup()
            torch.cuda.synchronize()
            torch.cuda.empty_cache()

    def check_and_time(self, r, launch, copies, x, n, key, mask, w16, refs):
        torch = self.torch
        t = x.shape[1]
        if (key, t) not in refs:
            wm = w16.float() * torch.from_numpy(mask).to(w16.device,
                                                         torch.float32)
            refs[(key, t)] = wm @ x.float()
        ref = refs[(key, t)]
        y = torch.full((n, t), float("nan"), dtype=torch.float16,
                       device=x.device)
        out = launch(0, x, y)
        torch.cuda.synchronize()
        rel = float(torch.linalg.norm(out.float() - ref) /
                    torch.linalg.norm(ref))
        r.rel_error = rel
        if not (rel <= TOLERANCE):   # NaN (unwritten outputs) fails too
            r.status, r.note = "mismatch", f"rel err {rel:.2e}"
            return
        r.time_us, r.replays_us, r.calls_per_replay, r.note = time_graph(
            torch, lambda i: launch(i, x, y), copies, self.args.min_calls,
            self.args.replays)


class EmulatorBench:
    """Script-logic check without torch: sparsec layers on the CPU emulator
    against the numpy reference; nothing is timed."""

    def __init__(self, args, rt):
        self.args, self.rt = args, rt
        self.device = rt.Device("emulator")
        self.device_name = "CPU PTX emulator (no timing)"
        self.arches = ["sm_80", "sm_90a"]
        self.l2_bytes = 0
        self.cslt_reason = "no torch in --device emulator mode"

    def run_group(self, n, k, tokens, methods, seed, deadline, results):
        rng = np.random.default_rng([seed, n, k])
        w = (rng.standard_normal((n, k)) / math.sqrt(k)).astype(np.float16) \
            .astype(np.float32)
        for method in methods:
            mask, cols = gc.random_mask(rng, n, k, method.fmt)
            layer = self.rt.Layer(self.device, w * mask, mask=mask,
                                  tile_columns=cols,
                                  format=method.fmt.format, dtype="f16",
                                  act="none", v=method.fmt.v,
                                  **gc.kernel_variant(method.arch))
            for t in tokens:
                r = Result((n, k, t), method.key, status="ok",
                           note="not timed (emulator)",
                           weight_bytes=layer.weight_bytes,
                           executed_k=min(layer.info["kept_width"], k),
                           tile_m=layer.info["tile_m"],
                           tile_n=layer.info["tile_n"])
                x = gc.rounded(rng.standard_normal((k, t)), "f16")
                y = gc.from_bits(layer.run_host(gc.to_bits(x, "f16"), t), "f16")
                r.rel_error = gc.rel_error(y[:, :t],
                                           gc.reference(w, mask, x, None,
                                                        "none", "f16"))
                if not r.rel_error <= TOLERANCE:
                    r.status, r.note = "mismatch", f"rel err {r.rel_error:.2e}"
                results.append(r)
            layer.close()


# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------
def size(nbytes: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes} B"


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def fmt_num(v, spec=".1f", missing="–"):
    return missing if v is None else format(v, spec)


def report(results: List[Result], methods, shapes, meta) -> str:
    by = {(r.shape, r.method): r for r in results}
    keys = [m.key for m in methods]
    kinds = {m.key: m for m in methods}

    def time_of(shape, key):
        r = by.get((shape, key))
        return r.time_us if r and r.status == "ok" else None

    def cell(shape, key, value_fn, spec):
        r = by.get((shape, key))
        if r is None:
            return "–"
        if r.status == "mismatch":
            return f"✗ {r.note}"
        if r.status != "ok":
            return r.status
        v = value_fn(r)
        return fmt_num(v, spec)

    def table(title, value_fn, spec, note=""):
        lines = [f"### {title}", ""] + ([note, ""] if note else [])
        lines.append("| N×K | T | " + " | ".join(keys) + " |")
        lines.append("|---|---|" + "---|" * len(keys))
        for s in shapes:
            lines.append(f"| {s[0]}×{s[1]} | {s[2]} | " + " | ".join(
                cell(s, key, value_fn(s, key), spec) for key in keys) + " |")
        return lines + [""]

    def tflops(s, key):
        return lambda r: 2 * s[0] * s[1] * s[2] / (r.time_us * 1e6) \
            if r.time_us else None

    def speedup(s, key):
        base = time_of(s, "cuBLAS")
        return lambda r: base / r.time_us if base and r.time_us else None

    def vs_cslt(s, key):
        base = time_of(s, "cuSPARSELt")
        return lambda r: base / r.time_us \
            if base and r.time_us and kinds[key].kind == "sparsec" else None

    def roofline(s, key):
        m = kinds[key]
        n, k, t = s

        def frac(r):
            if not r.time_us or r.weight_bytes is None:
                return None
            peak = CEILING["dense_tflops"] if m.kind == "cublas" \
                else CEILING["sparse_tflops"]
            flops = 2 * n * (r.executed_k or k) * t
            nbytes = r.weight_bytes + 2 * k * t + 2 * n * t
            floor_us = max(flops / (peak * 1e6), nbytes / (CEILING["hbm_tbs"] * 1e6))
            return 100 * floor_us / r.time_us
        return frac

    def gbps(s, key):
        n, k, t = s
        return lambda r: (r.weight_bytes + 2 * k * t + 2 * n * t) / \
            (r.time_us * 1e3) if r.time_us and r.weight_bytes else None

    legend = ("Columns: cuBLAS dense fp16; cuSPARSELt 2:4; sparsec kernels "
              "'2:4', 'H75/V' (HiNM 75 %, vs 0.5, tile rows V) and 'H87.5/V' "
              "(HiNM 87.5 %, vs 0.75), each with its kernel path: sm_80 = "
              "mma.sp::ordered_metadata, sm_90a = wgmma.mma_async.sp. "
              "✗ = output mismatch (not timed).")
    md = ["# sparsec CUDA kernels vs cuBLAS and cuSPARSELt", "",
          f"- Device: {meta['device']}", f"- Seed: {meta['seed']} "
          f"(`python3 bench/cuda_bench.py --seed {meta['seed']}`)",
          f"- Date: {meta['date']}; torch {meta.get('torch', '–')}; "
          f"cuSPARSELt: {meta.get('cusparselt', '–')}",
          "- Method: fp16, Y[N,T] = W[N,K]·X[K,T] with X feature-major; "
          "CUDA-graph replays of a loop over distinct weight copies (≥ 3× L2 "
          f"bytes, at most {meta['max_copies']} copies), median of "
          f"{meta['replays']} replays, per call; each method checked once "
          f"against an fp32 reference of its masked W (normwise ≤ {TOLERANCE}).",
          f"- {legend}", ""]
    md += table("Time per call (µs)", lambda s, key: (lambda r: r.time_us), ".1f")
    md += table("Speedup vs cuBLAS (×)", speedup, ".2f")
    md += table("Dense-equivalent TFLOP/s (2·N·K·T / time)", tflops, ".0f")
    md += table("sparsec vs cuSPARSELt (cuSPARSELt time / sparsec time)",
                vs_cslt, ".2f")
    md += table("Share of the H200 roofline (%)", roofline, ".0f",
                note="Floor = max(executed FLOPs / peak, (weight + X + Y bytes)"
                     " / 4.8 TB/s); peak 989 TFLOP/s dense (cuBLAS), 1979 for "
                     "the sparse tensor-core paths, whose executed FLOPs are "
                     "2·N·K_c·T (K_c = kept width for HiNM).")
    wb_lines = ["### Weight bytes per copy × copies rotated", "",
                "| N×K | " + " | ".join(keys) + " |",
                "|---|" + "---|" * len(keys)]
    for nk in dict.fromkeys(s[:2] for s in shapes):
        row = []
        for key in keys:
            r = next((r for r in results if r.shape[:2] == nk and
                      r.method == key and r.weight_bytes), None)
            row.append(f"{size(r.weight_bytes)} ×{r.copies}" if r else "–")
        wb_lines.append(f"| {nk[0]}×{nk[1]} | " + " | ".join(row) + " |")
    md += wb_lines + [""]
    small = [s for s in shapes if s[2] <= 16]
    if small:
        lines = ["### Achieved GB/s at T = 16", "",
                 "(weight + X + Y bytes) / time; H200 HBM peak 4800 GB/s.", "",
                 "| N×K | T | " + " | ".join(keys) + " |",
                 "|---|---|" + "---|" * len(keys)]
        for s in small:
            lines.append(f"| {s[0]}×{s[1]} | {s[2]} | " + " | ".join(
                cell(s, key, gbps(s, key), ".0f") for key in keys) + " |")
        md += lines + [""]
    md += traffic_table(results, methods, shapes)
    md += bounds(results, methods, shapes)
    md += table("Check: normwise relative error vs the fp32 reference",
                lambda s, key: (lambda r: r.rel_error), ".1e")
    md += targets(results, methods, shapes, time_of)
    notes = [r for r in results if r.status == "ok" and r.note and r.time_us]
    if notes:
        md += ["### Timing notes", ""] + [
            f"- {r.method} at {r.shape[0]}×{r.shape[1]}, T={r.shape[2]}: "
            f"{r.note}" for r in notes] + [""]
    problems = [r for r in results if r.status in ("mismatch", "error")]
    if problems:
        md += ["### Problems", ""] + [
            f"- {r.method} at {r.shape[0]}×{r.shape[1]}, T={r.shape[2]}: "
            f"{r.status}: {r.note}" for r in problems] + [""]
    return "\n".join(md)


def operand_bytes(n, k_exec, t, weight_bytes, tile_m, tile_n) -> int:
    """Bytes a kernel with tile_m x tile_n CTA tiles moves from L2 into
    shared memory (plus its output stores): every token tile reads all of
    the packed weights, every row tile the activation rows it multiplies
    (K_exec of them: all of K for 2:4, the kept columns for HiNM)."""
    return (weight_bytes * math.ceil(t / tile_n) +
            math.ceil(n / tile_m) * k_exec * t * 2 + n * t * 2)


def legal_tiles(fmt) -> List[tuple]:
    """The CTA tiles the generator offers for a format (tile_m must divide
    HiNM's V; at most 256 x 128 or 128 x 256 accumulators)."""
    out = []
    for tm in (64, 128, 256):
        for tn in (128, 256):
            if tm * tn > 256 * 128:
                continue
            if fmt.format == "hinm" and fmt.v % tm:
                continue
            out.append((tm, tn))
    return out


def traffic_table(results, methods, shapes) -> List[str]:
    """Per sparsec kernel at T >= 2048: its modeled operand traffic and the
    L2 -> shared-memory rate that implies at the measured time."""
    big = [s for s in shapes if s[2] >= 2048]
    keys = [m.key for m in methods if m.kind == "sparsec"]
    rows = []
    for s in big:
        cells = []
        for key in keys:
            r = next((r for r in results if r.shape == s and r.method == key),
                     None)
            if not (r and r.time_us and r.tile_m and r.weight_bytes):
                cells.append("–")
                continue
            nbytes = operand_bytes(s[0], r.executed_k or s[1], s[2],
                                   r.weight_bytes, r.tile_m, r.tile_n)
            cells.append(f"{nbytes / 1e9:.2f} GB, {nbytes / (r.time_us * 1e6):.1f}"
                         f" ({r.tile_m}×{r.tile_n})")
        rows.append(f"| {s[0]}×{s[1]} | {s[2]} | " + " | ".join(cells) + " |")
    if not big or not any("GB" in row for row in rows):
        return []
    return ["### Operand traffic into shared memory at T ≥ 2048", "",
            "Modeled bytes from L2 (each token tile reads all packed weights, "
            "each row tile its activation rows) and the rate they imply at "
            "the measured time, in TB/s, with the kernel's CTA tile. The H200 "
            f"delivers about {L2_TO_SMEM_TBS['cp.async']} TB/s from L2 to "
            "shared memory with per-thread cp.async and "
            f"{L2_TO_SMEM_TBS['bulk']} TB/s with bulk copies of long runs "
            "(`l2_load_styles.md`).", "",
            "| N×K | T | " + " | ".join(keys) + " |",
            "|---|---|" + "---|" * len(keys)] + rows + [""]


def bounds(results, methods, shapes) -> List[str]:
    """What the H200 allows each format at T >= 2048: the fastest time any
    legal CTA tile permits, limited by the sparse tensor-core peak, HBM and
    the operand traffic at the L2 -> shared-memory rates, against this
    run's cuBLAS (and cuSPARSELt for 2:4) and the issue's targets."""
    big = [s for s in shapes if s[2] >= 2048]
    fmts = [m.fmt for m in methods if m.kind == "sparsec"]
    fmts = list(dict.fromkeys(fmts))
    goals = {"nm24": ("vs cuSPARSELt", 1.0), 0.5: ("vs cuBLAS", 2.5),
             0.75: ("vs cuBLAS", 4.0)}
    lines = []
    for s in big:
        n, k, t = s
        dense = next((r.time_us for r in results if r.shape == s and
                      r.method == "cuBLAS" and r.status == "ok"), None)
        cslt = next((r.time_us for r in results if r.shape == s and
                     r.method == "cuSPARSELt" and r.status == "ok"), None)
        for fmt in fmts:
            r = next((r for r in results if r.shape == s and r.weight_bytes
                      and r.method.startswith(
                          fmt.name.replace("HiNM", "H").replace(" V", "/") +
                          " ")), None)
            if r is None:
                continue
            k_exec = r.executed_k or k
            t_tc = 2 * n * k_exec * t / (CEILING["sparse_tflops"] * 1e6)
            t_hbm = (r.weight_bytes + 2 * k * t + 2 * n * t) / \
                (CEILING["hbm_tbs"] * 1e6)
            tm, tn = min(legal_tiles(fmt), key=lambda tile: operand_bytes(
                n, k_exec, t, r.weight_bytes, *tile))
            traffic = operand_bytes(n, k_exec, t, r.weight_bytes, tm, tn)
            label, goal = goals["nm24" if fmt.format == "nm24" else fmt.vs]
            base = cslt if fmt.format == "nm24" else dense
            cells = []
            for style in ("cp.async", "bulk"):
                t_l2 = traffic / (L2_TO_SMEM_TBS[style] * 1e6)
                best = max(t_tc, t_hbm, t_l2)
                cells.append(f"{base / best:.2f}×" if base else "–")
            lines.append(
                f"| {n}×{k} | {t} | {fmt.name} | {tm}×{tn} | "
                f"{traffic / 1e9:.2f} | {t_tc:.0f} | {t_hbm:.0f} | "
                f"{cells[0]} | {cells[1]} | {goal}× {label} |")
    if not lines:
        return []
    return ["### What the H200 allows each format at T ≥ 2048", "",
            "Best time = max(executed FLOPs at the 1979 TFLOP/s sparse peak, "
            "(weights + X + Y) at 4.8 TB/s HBM, operand traffic at the L2 → "
            "shared-memory rate) for the legal CTA tile with the least "
            "traffic (HiNM: tile_m divides V, since a tile's rows share one "
            "gather); shown as the speedup that time would give over this "
            "run's cuBLAS (2:4: over cuSPARSELt), at each load style's rate. "
            "A target above both columns cannot be met by any kernel that "
            "stages operands through shared memory at those rates. Cluster "
            "multicast (one L2 read landing in several CTAs) is not modeled: "
            "it can cut 2:4's activation traffic, whose row tiles read the "
            "same rows, but not HiNM's, whose row tiles gather different "
            "columns.", "",
            "| N×K | T | format | tile | traffic (GB) | tensor-core µs | "
            "HBM µs | best at cp.async rate | best at bulk rate | target |",
            "|---|---|---|---|---|---|---|---|---|---|"] + lines + [""]


def targets(results, methods, shapes, time_of) -> List[str]:
    """The issue's targets on this run's numbers (per kernel path)."""
    lines = ["## Targets", "",
             "| Target | Variant | Shapes | Achieved | Target | Verdict |",
             "|---|---|---|---|---|---|"]
    arches = sorted({m.arch for m in methods if m.kind == "sparsec"})
    present = {m.key for m in methods}

    def verdict(value, goal):
        if value is None:
            return "**incomplete** (a shape was not measured)"
        if value >= goal:
            return f"met (+{value - goal:.2f})"
        return (f"**missed** by {goal - value:.2f} "
                f"({100 * (value / goal - 1):.1f} %)")

    def add(name, variant, pairs, goal, agg):
        if not pairs:
            lines.append(f"| {name} | {variant} | 0 | – | {goal} | "
                         f"n/a (no such shape in this run) |")
            return
        ratios = [a / b for a, b in pairs if a and b]
        value = None
        if ratios and len(ratios) == len(pairs):
            value = agg(ratios)
        shown = f"{value:.2f}" if value is not None else \
            f"incomplete ({len(ratios)}/{len(pairs)})"
        lines.append(f"| {name} | {variant} | {len(pairs)} | {shown} | "
                     f"{goal} | {verdict(value, goal)} |")

    for arch in arches:
        key = f"2:4 {arch}"
        if key not in present:
            continue
        pairs = [(time_of(s, "cuSPARSELt"), time_of(s, key)) for s in shapes]
        add("2:4 vs cuSPARSELt, geomean ≥ 1", key, pairs, 1.0, geomean)
        add("2:4 vs cuSPARSELt, min ≥ 0.9", key, pairs, 0.9, min)
    for label, goal_big, goal_16 in (("H75", 2.5, 2.0), ("H87.5", 4.0, None)):
        for v in (64, 128):
            for arch in arches:
                key = f"{label}/{v} {arch}"
                if key not in present:
                    continue
                big = [s for s in shapes if s[2] >= 2048]
                pairs = [(time_of(s, "cuBLAS"), time_of(s, key)) for s in big]
                add(f"{label} vs cuBLAS at T ≥ 2048, every shape ≥ {goal_big}×",
                    key, pairs, goal_big, min)
                if goal_16:
                    t16 = [s for s in shapes if s[2] == 16]
                    pairs = [(time_of(s, "cuBLAS"), time_of(s, key)) for s in t16]
                    add(f"{label} vs cuBLAS at T = 16, ≥ {goal_16}×", key,
                        pairs, goal_16, min)
    lines += ["", "Ceilings (H200 SXM): 989 TFLOP/s dense fp16, 1979 2:4 "
              "sparse, 4.8 TB/s HBM; the byte-ratio ceilings at small T are "
              "1.78× (2:4), ≈3.46× (HiNM75) and ≈6.9× (HiNM87.5) over dense "
              "(gpu.md §6).", ""]
    return lines


def print_bounds(path: str) -> int:
    import json
    data = json.loads(Path(path).read_text())
    fields = set(Result.__dataclass_fields__)
    results = [Result(**{k: v for k, v in r.items() if k in fields})
               for r in data["results"]]
    for r in results:
        r.shape = tuple(r.shape)
    shapes = list(dict.fromkeys(r.shape for r in results))
    keys = list(dict.fromkeys(r.method for r in results))
    by_label = {f.name.replace("HiNM", "H").replace(" V", "/"): f
                for f in gc.ALL_FORMATS}
    methods = []
    for key in keys:
        label, _, arch = key.partition(" ")
        kind = {"cuBLAS": "cublas", "cuSPARSELt": "cusparselt"}.get(key,
                                                                    "sparsec")
        methods.append(Method(key, kind, by_label.get(label), arch))
    print("\n".join(traffic_table(results, methods, shapes) +
                    bounds(results, methods, shapes)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["cuda", "emulator"], default="cuda")
    ap.add_argument("--small", action="store_true",
                    help="tiny shapes (the emulator's default)")
    ap.add_argument("--shapes", default=None,
                    help="comma list of NxK or NxK:T, e.g. 4096x4096:16,8192x8192")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--time-budget", type=float, default=540,
                    help="seconds; later measurements are reported as skipped")
    ap.add_argument("--max-copies", type=int, default=64)
    ap.add_argument("--min-calls", type=int, default=24,
                    help="kernel calls per graph replay (at least)")
    ap.add_argument("--replays", type=int, default=15)
    ap.add_argument("--build-threads", type=int, default=8,
                    help="threads creating sparsec weight copies")
    ap.add_argument("--tile-n", type=int, default=0,
                    help="sparsec tokens per CTA (0: the generator's choice)")
    ap.add_argument("--sync-wgmma", action="store_true",
                    help="also time the synchronous sm_90a pipeline "
                         "(columns 'sm_90a-sync')")
    ap.add_argument("--auto-wgmma", action="store_true",
                    help="also time sm_90a under --cuda-wgmma=auto, the "
                         "compiler's default (columns 'sm_90a-auto')")
    ap.add_argument("--m128", action="store_true",
                    help="also time the mma.sp kernel with 128-row tiles "
                         "(columns 'sm_80-m128'; 2:4 and HiNM V=128)")
    ap.add_argument("--methods", default=None,
                    help="comma list of substrings of the column labels")
    ap.add_argument("--out", default=None,
                    help="markdown table (default: bench/results/cuda_bench.md "
                         "on a GPU; not written for emulator smoke runs)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--bounds-from-json", default=None, metavar="JSON",
                    help="print the traffic and bound tables of an earlier "
                         "run's --json output and exit (no GPU needed)")
    args = ap.parse_args()
    if args.bounds_from_json:
        return print_bounds(args.bounds_from_json)

    start = time.time()
    seed = args.seed if args.seed is not None else \
        int.from_bytes(os.urandom(4), "little")
    print(f"cuda_bench: seed {seed} (rerun with --seed {seed})", flush=True)
    rt = gc.runtime()
    small = args.small or args.device == "emulator"
    shapes = parse_shapes(args.shapes, SMALL_SHAPES if small else SHAPES)
    meta = dict(seed=seed, date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                max_copies=args.max_copies, replays=args.replays)
    if args.device == "cuda":
        bench = GpuBench(args, rt)
        import torch
        meta["torch"] = torch.__version__
        meta["cusparselt"] = "available" if bench.cslt_reason is None else \
            f"MISSING ({bench.cslt_reason})"
        if bench.cslt_reason:
            print(f"WARNING: cuSPARSELt unavailable: {bench.cslt_reason}",
                  flush=True)
    else:
        bench = EmulatorBench(args, rt)
    meta["device"] = bench.device_name
    if args.sync_wgmma and "sm_90a" in bench.arches:
        bench.arches = bench.arches + ["sm_90a-sync"]
    if args.auto_wgmma and "sm_90a" in bench.arches:
        bench.arches = bench.arches + ["sm_90a-auto"]
    if args.m128:
        bench.arches = bench.arches + ["sm_80-m128"]
    methods = methods_for(bench.arches, bench.cslt_reason,
                          args.device == "cuda")
    if args.methods:
        wanted = [w.strip().lower() for w in args.methods.split(",")]
        methods = [m for m in methods
                   if any(w in m.key.lower() for w in wanted)]
    print(f"device: {bench.device_name}; methods: {[m.key for m in methods]}",
          flush=True)

    deadline = start + args.time_budget
    results: List[Result] = []
    for nk in dict.fromkeys(s[:2] for s in shapes):
        tokens = [s[2] for s in shapes if s[:2] == nk]
        bench.run_group(nk[0], nk[1], tokens, methods, seed, deadline, results)

    md = report(results, methods, shapes, meta)
    md += f"\nTotal run time {time.time() - start:.0f} s.\n"
    print(md)
    if args.out is None and args.device == "cuda":
        args.out = str(REPO / "bench" / "results" / "cuda_bench.md")
    if args.out is not None:
        gc.write_text(args.out, md)
        print(f"wrote {args.out}")
    gc.write_json(args.json, dict(meta=meta, results=[r.__dict__ for r in results]))
    bad = [r for r in results if r.status in ("mismatch", "error")]
    if bad:
        print(f"cuda_bench: {len(bad)} measurements failed their check "
              f"or errored", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
