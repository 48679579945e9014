#!/usr/bin/env python3
"""Convolutions on the host CPU: sparsec's kernels (dense, HiNM, 2:4 on the GEMM view)
against onnxruntime's dense Conv and the machine's measured FMA peak (docs/CPUBackend.md).

The shapes are ResNet-50's, VGG-16's and MobileNetV2's heavy layers at batch 1. For each
shape and weight pattern sparsec compiles a one-layer module to an object (`--emit=obj`),
linked into a shared library and called in this process through its C interface;
onnxruntime runs the dense Conv of the same weights (CPUExecutionProvider, all graph
optimisations, the same thread count). Times are medians over --repeat calls after a
warm-up, execution only. Every sparsec output is checked against a float64 numpy
convolution before it is timed.

    python3 bench/cpu_conv.py [--repeat 10] [--threads 1] [--out bench/results/cpu_conv.md]

Physical limits printed beside each figure: the single-core FMA peak (bench/micro/fma_peak.c)
and each kernel's fraction of it in useful FLOPs (2 x the nonzero MACs per output pixel).
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import gc
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

# numpy's BLAS threads would spin on the cores the kernels are timed on
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "e2e"))
sys.path.insert(0, str(ROOT / "bench"))
from cpu_linear import (compiled_call, fma_peak, make_weight, median_ms, ort_session,  # noqa: E402
                        set_threads, stream_bandwidth)
from test_cpu_kernels import conv_module, conv_reference  # noqa: E402

SHAPES = [
    # name, input NCHW, out channels, kernel, stride, pad[, groups]
    ("r50-stem-7x7s2", (1, 3, 224, 224), 64, 7, 2, 3),
    ("r50-l1-1x1", (1, 256, 56, 56), 64, 1, 1, 0),
    ("r50-l1-3x3", (1, 64, 56, 56), 64, 3, 1, 1),
    ("r50-l2-3x3s2", (1, 128, 56, 56), 128, 3, 2, 1),
    ("r50-l3-3x3", (1, 256, 14, 14), 256, 3, 1, 1),
    ("r50-l4-1x1", (1, 512, 7, 7), 2048, 1, 1, 0),
    ("r50-l4-3x3", (1, 512, 7, 7), 512, 3, 1, 1),
    ("vgg-3x3-112", (1, 128, 112, 112), 128, 3, 1, 1),
    ("vgg-3x3-56", (1, 256, 56, 56), 256, 3, 1, 1),
    ("mnv2-1x1-expand", (1, 24, 56, 56), 144, 1, 1, 0),
    # depthwise (groups = channels): the row-sparse kernel; dense weights only
    ("mnv2-dw-3x3", (1, 144, 56, 56), 144, 3, 1, 1, 144),
    ("mnv2-dw-3x3s2", (1, 96, 112, 112), 96, 3, 2, 1, 96),
    ("mnv2-dw-3x3-7", (1, 960, 7, 7), 960, 3, 1, 1, 960),
]
PATTERNS = ["dense", "hinm75", "nm24"]


def sparsec_call(sparsec: Path, work: Path, name: str, x, weight, bias, stride, pad, options,
                 groups=1):
    text, out_shape = conv_module(x.shape, weight, bias, (stride, stride), (pad,) * 4, (1, 1),
                                  groups)
    out = np.zeros(out_shape, np.float32)
    call, compile_s = compiled_call(sparsec, work, name, text, options, x, out)
    return call, out, out_shape, compile_s


def ort_call(x, weight, bias, stride, pad, threads: int, groups=1):
    from onnx import TensorProto, helper, numpy_helper
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[stride] * 2, pads=[pad] * 4,
                          group=groups)],
        "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")])
    session = ort_session(graph, threads)
    feed = {"x": x}
    return lambda: session.run(None, feed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sparsec", default=str(ROOT / "build/bin/sparsec"))
    parser.add_argument("--options", default="", help="extra sparsec flags")
    parser.add_argument("--only", default="", help="comma-separated shape names to run")
    parser.add_argument("--patterns", default=",".join(PATTERNS))
    parser.add_argument("--out", help="also write the table here (markdown)")
    parser.add_argument("--retain-memory", action=argparse.BooleanOptionalAction, default=True,
                        help="glibc keeps freed buffers (mallopt: no mmap, no trim), so the "
                             "kernel's per-call buffers do not page-fault on every call")
    args = parser.parse_args()
    if args.retain_memory:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    options = args.options.split()
    patterns = args.patterns.split(",")
    set_threads(args.threads)
    rng = np.random.default_rng(2026)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        peak = fma_peak(work)
        bandwidth = stream_bandwidth(work)
        lines += [f"# Convolutions on the host CPU: sparsec vs onnxruntime ({args.threads} thread)", "",
                  f"- Date: {datetime.datetime.now().isoformat(timespec='seconds')}",
                  f"- Command: `python3 bench/cpu_conv.py --repeat {args.repeat} --threads {args.threads}"
                  + (f" --options='{args.options}'" if options else "")
                  + ("" if args.retain_memory else " --no-retain-memory") + "`",
                  f"- Host: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; "
                  f"measured FMA peak {peak:.1f} GFLOP/s per core (bench/micro/fma_peak.c), "
                  f"memory bandwidth {bandwidth:.1f} GB/s per core (bench/micro/stream_bw.c, triad)",
                  "- `% BW` is the least traffic a layer needs (its input, nonzero weights and output, "
                  "4 bytes each, once) per call time, against the one-core bandwidth: the bound "
                  "that matters for depthwise and other low-reuse layers.",
                  "- GFLOP/s are dense-equivalent (2 x output pixels x C x KH x KW x O per call); "
                  "`useful % peak` counts only the nonzero MACs, against threads x the one-core peak.",
                  "- glibc malloc: " + ("freed buffers retained (mallopt M_MMAP_THRESHOLD and "
                                        "M_TRIM_THRESHOLD 1 GiB; sparsec's object mallocs its "
                                        "padded input and output on every call)" if args.retain_memory
                                        else "defaults (--no-retain-memory)"),
                  "- The weights' GEMM view [O][C x KH x KW] carries the pattern (HiNM: V = 64, half "
                  "the vectors kept, 2:4 inside; nm24: 2:4 along C x KH x KW).",
                  "",
                  "| layer | input, O, k/s/p[, groups] | pattern | sparsec ms | GFLOP/s | useful % peak "
                  "| % BW | vs sparsec dense | onnxruntime dense ms | vs onnxruntime | compile s |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        only = set(filter(None, args.only.split(",")))
        for name, in_shape, out_ch, k, stride, pad, *rest in SHAPES:
            if only and name not in only:
                continue
            groups = rest[0] if rest else 1
            cols = in_shape[1] // groups * k * k
            x = rng.standard_normal(in_shape).astype(np.float32)
            bias = rng.standard_normal(out_ch).astype(np.float32)
            dense_gemm = make_weight(rng, "dense", out_ch, cols)
            time.sleep(0.5)
            ort = ort_call(x, dense_gemm.reshape(out_ch, in_shape[1] // groups, k, k), bias,
                           stride, pad, args.threads, groups)
            ort_ms = median_ms(ort, args.repeat)
            del ort  # closes the session and its thread pool
            gc.collect()
            time.sleep(0.5)
            dense_ms = None
            for pattern in patterns:
                if groups > 1 and pattern != "dense":
                    continue
                gemm = dense_gemm if pattern == "dense" else make_weight(rng, pattern, out_ch, cols)
                weight = gemm.reshape(out_ch, in_shape[1] // groups, k, k)
                call, out, out_shape, compile_s = sparsec_call(
                    Path(args.sparsec), work, f"{name}-{pattern}", x, weight, bias, stride, pad,
                    options, groups)
                call()
                expected = conv_reference(x, weight, bias, (stride,) * 2, (pad,) * 4, (1, 1),
                                          out_shape, groups)
                err = np.abs(out - expected).max() / np.abs(expected).max()
                if err > 1e-5:
                    print(f"{name} {pattern}: wrong result, relative error {err:.3g}", file=sys.stderr)
                    return 1
                ms = median_ms(call, args.repeat)
                if pattern == "dense":
                    dense_ms = ms
                pixels = out_shape[2] * out_shape[3] * out_shape[0]
                gflops = 2.0 * pixels * cols * out_ch / (ms * 1e-3) * 1e-9
                useful = 2.0 * pixels * int(np.count_nonzero(gemm)) / (ms * 1e-3) * 1e-9
                vs_dense = f"{dense_ms / ms:.2f}x" if dense_ms else "-"
                traffic = 4.0 * (x.size + int(np.count_nonzero(gemm)) + int(np.prod(out_shape)))
                bw_share = traffic / (ms * 1e-3) * 1e-9 / (bandwidth * args.threads)
                lines.append(f"| {name} | {'x'.join(map(str, in_shape))}, {out_ch}, {k}/{stride}/{pad}"
                             + (f", groups {groups}" if groups > 1 else "") + " "
                             f"| {pattern} | {ms:.3f} | {gflops:.1f} | "
                             f"{100 * useful / (peak * args.threads):.0f} % | {100 * bw_share:.0f} % | {vs_dense} | "
                             f"{ort_ms:.3f} | "
                             f"{ort_ms / ms:.2f}x | {compile_s:.2f} |")
                print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
