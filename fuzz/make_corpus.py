#!/usr/bin/env python3
"""Regenerates the committed seed corpora under fuzz/corpus/<target>/.

    .venv/bin/python fuzz/make_corpus.py [--sparsec build/bin/sparsec]

Seeds are small valid inputs (and a few near-misses) of each reader, so that
libFuzzer starts from the formats' structure instead of from nothing. With
--sparsec, the artifact and .mlir seeds include real compiler output.
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "fuzz" / "corpus"
sys.path.insert(0, str(ROOT / "test" / "e2e"))


def npy_bytes(array: np.ndarray, version=None) -> bytes:
    out = io.BytesIO()
    if version is None:
        np.save(out, array)
    else:
        np.lib.format.write_array(out, array, version=version)
    return out.getvalue()


def write(target: str, name: str, data: bytes) -> None:
    path = CORPUS / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def npy_seeds() -> None:
    rng = np.random.default_rng(0)
    write("npy", "f4_2x3.npy", npy_bytes(rng.standard_normal((2, 3)).astype("<f4")))
    write("npy", "i8_scalar.npy", npy_bytes(np.array(7, dtype="<i8")))
    write("npy", "b1_5.npy", npy_bytes(np.array([1, 0, 1, 1, 0], dtype=bool)))
    write("npy", "u2_4x4.npy", npy_bytes(np.arange(16, dtype="<u2").reshape(4, 4)))
    write("npy", "f8_empty.npy", npy_bytes(np.zeros((0, 3), dtype="<f8")))
    write("npy", "u4_v2.npy", npy_bytes(np.arange(6, dtype="<u4"), version=(2, 0)))
    write("npy", "fortran.npy",
          npy_bytes(np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3))))


def safetensors_bytes(tensors: dict, metadata=None) -> bytes:
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, array) in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def safetensors_seeds() -> None:
    rng = np.random.default_rng(1)
    write("safetensors", "scores.safetensors", safetensors_bytes(
        {"fc1.weight": ("F32", rng.random((8, 16), dtype=np.float32)),
         "fc2.weight": ("F32", rng.random((4, 8), dtype=np.float32))},
        {"format": "pt"}))
    write("safetensors", "dtypes.safetensors", safetensors_bytes(
        {"a": ("U8", np.arange(3, dtype=np.uint8)),
         "b": ("I64", np.arange(2, dtype=np.int64)),
         "c": ("F16", np.ones((2, 2), dtype=np.float16)),
         "d": ("BOOL", np.array([True, False]))}))
    write("safetensors", "empty.safetensors", safetensors_bytes({}))


def artifact_input(directory: Path) -> bytes:
    """An artifact directory in ArtifactFuzzer.cpp's one-file format."""
    out = (directory / "manifest.json").read_bytes()
    for f in sorted(directory.iterdir()):
        if f.name != "manifest.json":
            out += b"\n--- file: " + f.name.encode() + b"\n" + f.read_bytes()
    return out


def artifact_seeds(sparsec) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "host"
        d.mkdir()
        rng = np.random.default_rng(2)
        (d / "w.npy").write_bytes(npy_bytes(rng.standard_normal((3, 4)).astype("<f4")))
        (d / "b.npy").write_bytes(npy_bytes(rng.standard_normal(3).astype("<f4")))
        (d / "manifest.json").write_text(json.dumps({
            "format": "sparsec-cuda-artifact", "format_version": 1, "arch": "sm_80",
            "inputs": [{"name": "x", "shape": [2, 1, 4], "dtype": "f32"}],
            "outputs": [{"name": "y", "tensor": "t3", "shape": [2, 3], "dtype": "f32"}],
            "steps": [
                {"op": "dense_linear", "name": "fc", "input": "x", "output": "t0",
                 "rows": 3, "cols": 4, "files": {"weight": "w.npy", "bias": "b.npy"}},
                {"op": "relu", "input": "t0", "output": "t1"},
                {"op": "gelu", "input": "t1", "output": "t2"},
                {"op": "add", "inputs": ["t2", "t0"], "output": "t3"}]}, indent=1))
        write("artifact", "host.txt", artifact_input(d))

        # A sparse 2:4 and a HiNM layer, shaped as the reader requires
        # (values rows_padded x kept_width/2, meta rows_padded/64 *
        # kept_width/32 * 64 words, col_idx rows_padded/v x kept_width).
        for fmt, cols, kept in (("nm24", 32, 32), ("hinm", 64, 32)):
            d = Path(tmp) / fmt
            d.mkdir()
            (d / "k.ptx").write_text(".version 8.0\n.target sm_80\n")
            (d / "v.npy").write_bytes(npy_bytes(np.ones((64, kept // 2), "<u2")))
            (d / "m.npy").write_bytes(npy_bytes(np.zeros(64 * (kept // 32), "<u4")))
            files = {"values": "v.npy", "meta": "m.npy"}
            step = {"op": "sparse_linear", "name": "fc", "input": "x", "output": "y",
                    "ptx": "k.ptx", "entry": "fc_kernel", "format": fmt,
                    "rows": 60, "cols": cols, "value_type": "f16",
                    "activation": "relu", "kept_width": kept, "rows_padded": 64,
                    "tile_m": 64, "tile_n": 8, "threads": 128, "shared_bytes": 0,
                    "files": files}
            if fmt == "hinm":
                step["v"] = 64
                (d / "c.npy").write_bytes(npy_bytes(np.arange(kept, dtype="<u4").reshape(1, kept) * 2))
                files["col_idx"] = "c.npy"
            else:
                step.update(small_max_tokens=8, small_tile_m=64, small_tile_n=8,
                            small_threads=128, mma="mma.sp")
            (d / "manifest.json").write_text(json.dumps({
                "format": "sparsec-cuda-artifact", "format_version": 1,
                "arch": "sm_90a" if fmt == "hinm" else "sm_80",
                "inputs": [{"name": "x", "shape": [4, cols], "dtype": "f32"}],
                "outputs": [{"name": "y", "shape": [4, 60], "dtype": "f32"}],
                "steps": [step]}, indent=1))
            write("artifact", f"{fmt}.txt", artifact_input(d))

        if sparsec:
            import models
            import onnx
            model = Path(tmp) / "mlp.onnx"
            onnx.save(models.mlp_gemm(dims=(64, 64, 32)), str(model))
            for name, sparsity in (("compiled-nm24", "nm:n=2,m=4"),
                                   ("compiled-hinm", "hinm:v=64,vs=0.5")):
                out = Path(tmp) / name
                subprocess.run([sparsec, str(model), f"--sparsity={sparsity}",
                                "--target=cuda", "--cuda-arch=sm_80", "-o", str(out)],
                               check=True)
                # The reader does not parse PTX: a stub keeps the seed small.
                for ptx in out.glob("*.ptx"):
                    ptx.write_text(".version 8.0\n.target sm_80\n")
                write("artifact", f"{name}.txt", artifact_input(out))


def onnx_seeds() -> None:
    import models
    import onnx
    for name, build in (("mlp_gemm", lambda: models.mlp_gemm(dims=(16, 32, 8))),
                        ("mlp_matmul", lambda: models.mlp_matmul(dims=(16, 32, 8))),
                        ("cnn", lambda: models.resnet_cnn(hw=8, classes=4)),
                        ("mobilenet", lambda: models.mobilenet_block(c=8, hw=8)),
                        ("bert", lambda: models.bert_encoder(seq=4, d=16, heads=2, ffn=32)),
                        ("ops_zoo", models.ops_zoo)):
        data = build().SerializeToString()
        # Even sizes go through the ONNX checker, odd ones skip it
        # (ONNXImporterFuzzer.cpp): keep one of each. Three bytes of an
        # unknown varint field (1000) flip the parity and parse the same.
        write("onnx-importer", f"{name}.onnx", data)
        write("onnx-importer", f"{name}-flipped.onnx", data + b"\xc0\x3e\x00")


def mlir_seeds(sparsec) -> None:
    for src in ("test/tools/Inputs/linear.mlir", "test/tools/Inputs/permute.mlir"):
        write("mlir", Path(src).name, (ROOT / src).read_bytes())
    if sparsec:
        opt = Path(sparsec).with_name("sparsec-opt")
        rng = np.random.default_rng(3)
        w = np.round(rng.standard_normal((16, 32)), 2).tolist()
        tmp = tempfile.TemporaryDirectory()
        layer = Path(tmp.name) / "layer.mlir"
        layer.write_text(
            "func.func @main(%x: tensor<2x32xf32>) -> tensor<2x16xf32> {\n"
            f"  %w = arith.constant dense<{w}> : tensor<16x32xf32>\n"
            "  %y = sparsec.linear %x, %w : (tensor<2x32xf32>, tensor<16x32xf32>)"
            " -> tensor<2x16xf32>\n  return %y : tensor<2x16xf32>\n}\n")
        for name, pipeline in (
                ("nm24", "sparsec-prune-nm{n=2 m=4}"),
                ("hinm", "sparsec-prune-hinm{v=16 vector-sparsity=0.5}"),
                ("linalg", "sparsec-lower-to-linalg")):
            proc = subprocess.run(
                [str(opt), str(layer), f"--pass-pipeline=builtin.module({pipeline})"],
                capture_output=True)
            if proc.returncode == 0:
                write("mlir", f"{name}.mlir", proc.stdout)
                if name == "nm24":  # and as bytecode (.mlirbc)
                    bc = subprocess.run(
                        [str(opt), "--emit-bytecode", "-"], input=proc.stdout,
                        capture_output=True, check=True)
                    write("mlir", f"{name}.mlirbc", bc.stdout)
            else:
                print(f"mlir seed {name}: {proc.stderr.decode()[:300]}", file=sys.stderr)


def prune_config_seeds() -> None:
    configs = {
        "nm.json": {"layers": [{"match": "fc1", "pattern": "nm", "n": 1, "m": 4}]},
        "hinm.json": {"layers": [{"match": "fc.*", "pattern": "hinm", "v": 16,
                                  "vs": 0.5}]},
        "skip.json": {"layers": [{"match": "fc2\\.weight", "skip": True},
                                 {"match": ".*", "sparsity": 0.5}]},
        "sparsity.json": {"layers": [{"match": "^fc[12]$", "pattern": "hinm",
                                      "n": 2, "m": 4, "sparsity": 0.75,
                                      "vector-sparsity": 0.25}]},
    }
    for name, config in configs.items():
        write("prune-config", name, json.dumps(config, indent=1).encode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sparsec", help="a built sparsec, for compiler output seeds")
    args = parser.parse_args()
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    npy_seeds()
    safetensors_seeds()
    artifact_seeds(args.sparsec)
    onnx_seeds()
    mlir_seeds(args.sparsec)
    prune_config_seeds()
    for d in sorted(CORPUS.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
