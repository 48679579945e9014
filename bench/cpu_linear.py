#!/usr/bin/env python3
"""Linear layers on the host CPU: sparsec's kernels (dense, HiNM, 2:4) against onnxruntime's
dense MatMul and the machine's measured FMA peak (docs/CPUBackend.md).

For each shape (tokens T, input features K, output features R) and weight pattern, sparsec
compiles a one-layer module to an object (`--emit=obj`), which is linked into a shared
library and called in this process through its C interface; onnxruntime runs the dense
MatMul + Add of the same weights (CPUExecutionProvider, all graph optimisations, the same
thread count). Times are medians over --repeat calls after a warm-up, execution only.
Every sparsec output is checked against numpy (float64) before it is timed.

    python3 bench/cpu_linear.py [--repeat 50] [--threads 1] [--out bench/results/cpu_linear.md]

Physical limits printed beside each figure: the single-core FMA peak measured by
bench/micro/fma_peak.c, and each kernel's fraction of it counted in useful FLOPs
(2 x the nonzero MACs it must do); dense-equivalent GFLOP/s count 2*T*K*R.
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import gc
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# numpy's BLAS threads would spin on the cores the kernels are timed on
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "e2e"))
from test_cpu_kernels import hinm_weight, linear_module, nm_weight  # noqa: E402

SHAPES = [
    # name, T, K, R: BERT-base / ViT-B layers at 128 tokens, an MLP at batch 8 and 1
    ("bert-qkv", 128, 768, 768),
    ("bert-ffn1", 128, 768, 3072),
    ("bert-ffn2", 128, 3072, 768),
    ("mlp-b8", 8, 1024, 1024),
    ("mlp-b1", 1, 1024, 1024),
    # the zoo MLP's 4096 x 4096 layer: 64 MB of weights, more than the L3
    ("mlp4096-b16", 16, 4096, 4096),
    ("mlp4096-b1", 1, 4096, 4096),
]
PATTERNS = ["dense", "hinm75", "nm24"]


def descriptor(a: np.ndarray) -> ctypes.Structure:
    """The MLIR memref descriptor of a contiguous array (any rank)."""
    class Descriptor(ctypes.Structure):
        _fields_ = [("allocated", ctypes.c_void_p), ("aligned", ctypes.c_void_p),
                    ("offset", ctypes.c_int64), ("sizes", ctypes.c_int64 * a.ndim),
                    ("strides", ctypes.c_int64 * a.ndim)]
    d = Descriptor()
    d.allocated = d.aligned = a.ctypes.data
    d.offset = 0
    for i in range(a.ndim):
        d.sizes[i] = a.shape[i]
        d.strides[i] = a.strides[i] // a.itemsize
    return d


def median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def set_threads(threads: int) -> None:
    """Caps the OpenMP threads of the generated code (this process's libomp)."""
    ctypes.CDLL(str(runner_library().parent / "libomp.so")).omp_set_num_threads(threads)


def runner_library() -> Path:
    out = subprocess.run(["/usr/lib/llvm-22/bin/llvm-config", "--libdir"], capture_output=True,
                         text=True, check=True).stdout.strip()
    return Path(out) / "libmlir_c_runner_utils.so"


def compiled_call(sparsec: Path, work: Path, name: str, module_text: str, options,
                  x: np.ndarray, out: np.ndarray):
    """Compiles a one-function module to an object with sparsec, links it into a shared
    library and returns (call, compile seconds): call() runs main(x) -> out in place."""
    module = work / f"{name}.mlir"
    module.write_text(module_text)
    obj, lib = work / f"{name}.o", work / f"{name}.so"
    start = time.perf_counter()
    subprocess.run([str(sparsec), str(module), "--emit=obj", "-o", str(obj), *options],
                   check=True, capture_output=True)
    compile_s = time.perf_counter() - start
    runner = runner_library()
    subprocess.run(["cc", "-shared", "-o", str(lib), str(obj), f"-L{runner.parent}",
                    "-lmlir_c_runner_utils", "-lomp", f"-Wl,-rpath,{runner.parent}"], check=True)
    fn = ctypes.CDLL(str(lib))._mlir_ciface_main
    descs = [descriptor(x), descriptor(out)]
    fn.argtypes = [ctypes.c_void_p] * 2
    args = [ctypes.addressof(d) for d in descs]

    def call(keep=(descs, x, out)):  # the descriptors must outlive the calls
        fn(*args)
    return call, compile_s


def sparsec_call(sparsec: Path, work: Path, name: str, x, weight, bias, options):
    out = np.zeros((x.shape[0], weight.shape[0]), np.float32)
    call, compile_s = compiled_call(sparsec, work, name, linear_module(x.shape, weight, bias),
                                    options, x, out)
    return call, out, compile_s


def ort_session(graph, threads: int):
    """onnxruntime on `graph` (opset 17): CPU provider, all optimisations, `threads`."""
    import onnxruntime as ort
    from onnx import helper
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def ort_call(x, weight, bias, threads: int):
    from onnx import TensorProto, helper, numpy_helper
    T, K = x.shape
    R = weight.shape[0]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "wt"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
        "linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [T, K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [T, R])],
        [numpy_helper.from_array(np.ascontiguousarray(weight.T), "wt"),
         numpy_helper.from_array(bias, "b")])
    session = ort_session(graph, threads)
    feed = {"x": x}
    return lambda: session.run(None, feed)


def fma_peak(work: Path) -> float:
    exe = work / "fma_peak"
    subprocess.run(["cc", "-O2", "-march=native", "-ffp-contract=fast",
                    str(ROOT / "bench/micro/fma_peak.c"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return float(next(ln.split()[1] for ln in out.splitlines() if ln.startswith("fma_peak")))


def stream_bandwidth(work: Path) -> float:
    """One core's memory bandwidth in GB/s (bench/micro/stream_bw.c, triad)."""
    exe = work / "stream_bw"
    subprocess.run(["cc", "-O2", "-march=native", str(ROOT / "bench/micro/stream_bw.c"), "-o",
                    str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return float(next(ln.split()[1] for ln in out.splitlines() if ln.startswith("triad_bw")))


def make_weight(rng, pattern: str, rows: int, cols: int) -> np.ndarray:
    if pattern == "dense":
        return rng.standard_normal((rows, cols)).astype(np.float32)
    if pattern == "hinm75":  # V = 64, half the vectors kept, 2:4 inside them
        return hinm_weight(rng, rows, cols, 64, 0.5)
    return nm_weight(rng, rows, cols)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sparsec", default=str(ROOT / "build/bin/sparsec"))
    parser.add_argument("--options", default="", help="extra sparsec flags, e.g. --host-tile-tokens=6")
    parser.add_argument("--out", help="also write the table here (markdown)")
    parser.add_argument("--only", default="", help="comma-separated layer names to run")
    args = parser.parse_args()
    only = [n for n in args.only.split(",") if n]
    options = args.options.split()
    set_threads(args.threads)
    rng = np.random.default_rng(2026)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        peak = fma_peak(work)
        bandwidth = stream_bandwidth(work)
        lines += [f"# Linear layers on the host CPU: sparsec vs onnxruntime ({args.threads} thread)", "",
                  f"- Date: {datetime.datetime.now().isoformat(timespec='seconds')}",
                  f"- Command: `python3 bench/cpu_linear.py --repeat {args.repeat} --threads {args.threads}"
                  + (f" --only={args.only}" if only else "")
                  + (f" --options='{args.options}'" if options else "") + "`",
                  f"- Host: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; "
                  f"measured FMA peak {peak:.1f} GFLOP/s per core (bench/micro/fma_peak.c), "
                  f"memory bandwidth {bandwidth:.1f} GB/s per core (bench/micro/stream_bw.c, "
                  "triad). The 1024-wide MLP's 4 MB of weights stay in this CPU's L3 between "
                  "the timed calls, so it is bound by cache, not DRAM, bandwidth here; the "
                  "4096-wide one's 64 MB do not",
                  "- GFLOP/s are dense-equivalent (2*T*K*R per call); `useful % peak` counts only the "
                  "nonzero MACs the kernel must do, against the peak of the cores it runs on "
                  "(threads x the one-core peak).",
                  f"- Both run {args.threads} thread(s) (sparsec: OpenMP, omp_set_num_threads). "
                  "They never run at the same time: each onnxruntime session is closed (its "
                  "threads end) before sparsec runs, and onnxruntime starts 0.5 s after "
                  "sparsec's last call (libomp's workers spin 200 ms after a parallel loop).",
                  "",
                  "| layer | T x K x R | pattern | sparsec ms | GFLOP/s | useful % peak | vs sparsec dense "
                  "| onnxruntime dense ms | vs onnxruntime | compile s |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, T, K, R in SHAPES:
            if only and name not in only:
                continue
            x = rng.standard_normal((T, K)).astype(np.float32)
            bias = rng.standard_normal(R).astype(np.float32)
            dense_weight = make_weight(rng, "dense", R, K)
            time.sleep(0.5)
            ort = ort_call(x, dense_weight, bias, args.threads)
            ort_ms = median_ms(ort, args.repeat)
            del ort  # closes the session and its thread pool
            gc.collect()
            time.sleep(0.5)
            dense_ms = None
            for pattern in PATTERNS:
                weight = dense_weight if pattern == "dense" else make_weight(rng, pattern, R, K)
                call, out, compile_s = sparsec_call(Path(args.sparsec), work, f"{name}-{pattern}",
                                                    x, weight, bias, options)
                call()
                expected = x.astype(np.float64) @ weight.astype(np.float64).T + bias
                err = np.abs(out - expected).max() / np.abs(expected).max()
                if err > 1e-5:
                    print(f"{name} {pattern}: wrong result, relative error {err:.3g}", file=sys.stderr)
                    return 1
                ms = median_ms(call, args.repeat)
                if pattern == "dense":
                    dense_ms = ms
                nonzeros = int(np.count_nonzero(weight))
                gflops = 2.0 * T * K * R / (ms * 1e-3) * 1e-9
                useful = 2.0 * T * nonzeros / (ms * 1e-3) * 1e-9
                lines.append(f"| {name} | {T}x{K}x{R} | {pattern} | {ms:.3f} | {gflops:.1f} | "
                             f"{100 * useful / (peak * args.threads):.0f} % | {dense_ms / ms:.2f}x | {ort_ms:.3f} | "
                             f"{ort_ms / ms:.2f}x | {compile_s:.2f} |")
                print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
