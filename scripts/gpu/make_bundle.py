#!/usr/bin/env python3
"""Builds gpu-bundle/: pruned models compiled by sparsec for the CUDA target,
their masked (dense) ONNX exports and inputs, for test/gpu/test_model.py on
a GPU machine that has no LLVM/MLIR. Called by scripts/gpu/prepare.sh.

Layout:
  bundle.json                       entries (one per compiled artifact)
  <model>/input_<i>.npy             fp32 inputs
  <model>/<format>/masked.onnx.gz   --export-onnx of the pruned model
  <model>/<format>/<arch>[-bf16]/   the artifact (manifest.json, PTX, .npy)
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "test" / "e2e"))
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from models import GraphBuilder, _gelu_erf, make_inputs, mlp_gemm  # noqa: E402

FORMATS = {
    "nm24": "nm:n=2,m=4",
    "hinm75": "hinm:v=64,vs=0.5",
    "hinm87": "hinm:v=128,vs=0.75",
}
ARCHES = ["sm_80", "sm_90a"]


def ffn_block(tokens: int = 128, d: int = 384, hidden: int = 1536):
    """BERT-FFN residual block as torch exports it, y = x + W2 gelu(W1 x +
    b1) + b2 with 3-D MatMul + Add bias and the erf GELU chain (the cuda
    target fuses bias and GELU into the sparse layers)."""
    g = GraphBuilder("ffn_block", seed=11)
    x = g.input("hidden", [2, tokens // 2, d])
    h = _gelu_erf(g, g.linear(x, d, hidden, name="ffn1"), "gelu")
    h = g.linear(h, hidden, d, name="ffn2")
    g.op("Add", [x, h], name="residual", out="out")
    g.output("out", shape=[2, tokens // 2, d])
    return g.model(17)


# name -> (builder, formats, extra bf16 (format, arch) pairs)
MODELS = {
    "mlp_tiny": (lambda: mlp_gemm(batch=8, dims=(64, 128, 64, 10)),
                 ["nm24", "hinm75"], []),
    "mlp": (lambda: mlp_gemm(batch=50, dims=(512, 2048, 512, 64)),
            ["nm24", "hinm75", "hinm87"],
            [("hinm75", "sm_80"), ("hinm75", "sm_90a")]),
    "ffn": (lambda: ffn_block(), ["nm24", "hinm75", "hinm87"],
            [("nm24", "sm_90a")]),
}


def run(cmd):
    print("  $", " ".join(map(str, cmd)), flush=True)
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if proc.returncode:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}")


def git_state():
    def git(*args):
        return subprocess.run(["git", "-C", str(REPO), *args],
                              capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sparsec", default=str(REPO / "build" / "bin" / "sparsec"))
    ap.add_argument("--out", default=str(REPO / "gpu-bundle"))
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    entries = []
    with tempfile.TemporaryDirectory(prefix="sparsec_bundle_") as tmp:
        for name in args.models.split(","):
            build, formats, bf16 = MODELS[name]
            model = build()
            model_path = Path(tmp) / f"{name}.onnx"
            onnx.save(model, model_path)
            inputs = []
            for i, x in enumerate(make_inputs(model, seed=5)):
                path = out / name / f"input_{i}.npy"
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, x)
                inputs.append(str(path.relative_to(out)))
            print(f"{name}: inputs {[tuple(x.shape) for x in make_inputs(model, seed=5)]}",
                  flush=True)
            for fmt in formats:
                fdir = out / name / fmt
                fdir.mkdir(parents=True)
                masked = Path(tmp) / f"{name}_{fmt}_masked.onnx"
                variants = [(arch, "f16") for arch in ARCHES] + \
                    [(arch, "bf16") for f, arch in bf16 if f == fmt]
                for i, (arch, dtype) in enumerate(variants):
                    adir = fdir / (arch + ("-bf16" if dtype == "bf16" else ""))
                    cmd = [args.sparsec, model_path, f"--sparsity={FORMATS[fmt]}",
                           "--target=cuda", f"--cuda-arch={arch}",
                           f"--cuda-dtype={dtype}", "-o", adir]
                    if i == 0:  # pruning is deterministic: export once
                        cmd.insert(2, f"--export-onnx={masked}")
                    run(cmd)
                    entries.append(dict(
                        name=f"{name}/{fmt}/{adir.name}", model=name,
                        format=fmt, sparsity=FORMATS[fmt], arch=arch,
                        dtype=dtype, artifact=str(adir.relative_to(out)),
                        masked_onnx=str((fdir / "masked.onnx.gz").relative_to(out)),
                        inputs=inputs))
                with open(masked, "rb") as src, \
                        gzip.open(fdir / "masked.onnx.gz", "wb", 9) as dst:
                    shutil.copyfileobj(src, dst)
    (out / "bundle.json").write_text(json.dumps(dict(
        created=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        sparsec=git_state(), entries=entries), indent=1) + "\n")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out}: {len(entries)} artifacts, {total / 2**20:.1f} MiB")
    if total > 48 * 2**20:
        raise SystemExit("gpu-bundle is larger than 48 MiB: the device tool "
                         "carries at most 64 MiB in all; trim MODELS")


if __name__ == "__main__":
    main()
