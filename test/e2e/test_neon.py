"""`--target=neon` (AArch64 with NEON, docs/CPUBackend.md): the kernel shape tests of
test_cpu_kernels.py and the zoo's small models, cross-compiled and run with `--run`, which
executes the artifact with the AArch64 sparsec-run under qemu-aarch64 on this x86-64 host.
References are independent: numpy (float64) for the kernels, onnxruntime for the models
(dense, and HiNM / 2:4 pruned through the masked model that `--export-onnx` writes).
"""
from __future__ import annotations

import json
import subprocess
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest

import zoo
from sparsec_cli import robust_rel_err, run_model, sparsec_bin
from test_cpu_kernels import (CASES, CONV_CASES, FUSED_CASES, GROUPED_CASES, linear_module,
                              make_weight)
from test_cpu_kernels import test_conv_kernel_matches_numpy as conv_kernel_matches_numpy
from test_cpu_kernels import \
    test_fused_activations_match_numpy as fused_activations_match_numpy
from test_cpu_kernels import \
    test_grouped_conv_kernel_matches_numpy as grouped_conv_kernel_matches_numpy
from test_cpu_kernels import test_linear_kernel_matches_numpy as linear_kernel_matches_numpy

NEON = ["--target=neon"]
# The default tile (8 tokens x 2 vectors) and one that divides nothing.
LINEAR_OPTIONS = [NEON, NEON + ["--neon-tile-tokens=5", "--neon-tile-vectors=3",
                                "--neon-cpu=cortex-a55"]]
CONV_OPTIONS = [NEON, NEON + ["--neon-sparse-rows=always"]]


def _ids(options):
    return " ".join(options[1:]) or "defaults"


@pytest.mark.parametrize("options", LINEAR_OPTIONS, ids=_ids)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_neon_linear_kernel_matches_numpy(tmp_path: Path, case, options):
    linear_kernel_matches_numpy(tmp_path, case, options)


@pytest.mark.parametrize("options", CONV_OPTIONS, ids=_ids)
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: c[0])
def test_neon_conv_kernel_matches_numpy(tmp_path: Path, case, options):
    conv_kernel_matches_numpy(tmp_path, case, options)


@pytest.mark.parametrize("case", GROUPED_CASES, ids=lambda c: c[0])
def test_neon_grouped_conv_kernel_matches_numpy(tmp_path: Path, case):
    grouped_conv_kernel_matches_numpy(tmp_path, case, NEON)


@pytest.mark.parametrize("case", FUSED_CASES, ids=lambda c: c[0])
def test_neon_fused_activations_match_numpy(tmp_path: Path, case):
    fused_activations_match_numpy(tmp_path, case, NEON)


ZOO_MODELS = ["resnet18_64", "mobilenet_v2_96", "bert_layer_s32", "vit_b16_64"]
SPARSITY = {"dense": None, "hinm75": "hinm:v=64,vs=0.5,n=2,m=4", "nm24": "nm:n=2,m=4"}
ZOO_CASES = [(m, "dense") for m in ZOO_MODELS] + [("resnet18_64", "hinm75"),
                                                  ("bert_layer_s32", "hinm75"),
                                                  ("vit_b16_64", "nm24")]


@pytest.mark.parametrize("name,pattern", ZOO_CASES, ids=[f"{m}-{p}" for m, p in ZOO_CASES])
def test_neon_zoo_model_matches_onnxruntime(tmp_path: Path, name, pattern):
    entry = zoo.ZOO[name]
    model = entry.build()
    path = tmp_path / f"{name}.onnx"
    onnx.save_model(model, str(path))
    inputs = zoo.make_inputs(model, entry.input_shapes)
    spec = SPARSITY[pattern]
    if spec:
        # The reference is onnxruntime on the masked model; sparsec runs that model too,
        # and its kernels find the zeros again (the decision follows the zeros).
        masked = tmp_path / "masked.onnx"
        proc = subprocess.run([str(sparsec_bin()), str(path), f"--sparsity={spec}",
                               f"--export-onnx={masked}", "--emit=none"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        path = masked
        model = onnx.load(str(masked))
    expected = zoo.run_onnxruntime(model, inputs)
    res = run_model(path, inputs, tmp_path / "run", len(expected), timeout=600,
                    extra_args=NEON + zoo.shape_args(entry))
    assert res.error is None, (f"{name}: sparsec --run failed: {res.error}\ncmd: {res.cmd}\n"
                               f"stderr:\n{res.proc.stderr if res.proc else ''}")
    for i, (out, ref) in enumerate(zip(res.outputs, expected)):
        assert out.shape == ref.shape and out.dtype == ref.dtype, f"output_{i}"
        rel = robust_rel_err(out, ref)
        assert rel <= 1e-4, f"output_{i}: max relative error {rel:.3g} > 1e-4"


def test_neon_artifact_manifest_and_library(tmp_path: Path):
    """The artifact is an AArch64 shared object that needs libomp, with a manifest naming
    the tensors; sparsec-run (host build) refuses to time it without loading it."""
    rng = np.random.default_rng(3)
    weight = make_weight(rng, "hinm64", 64, 48)
    model = tmp_path / "linear.mlir"
    model.write_text(linear_module((5, 48), weight, None))
    art = tmp_path / "art"
    proc = subprocess.run([str(sparsec_bin()), str(model), *NEON, "--emit=artifact", "-o",
                           str(art)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((art / "manifest.json").read_text())
    assert manifest["format"] == "sparsec-cpu-artifact" and manifest["target"] == "neon"
    assert manifest["triple"].startswith("aarch64") and manifest["cpu"] == "neoverse-n1"
    assert manifest["inputs"] == [{"name": "input_0", "dtype": "<f4", "shape": [5, 48]}]
    assert manifest["outputs"] == [{"name": "output_0", "dtype": "<f4", "shape": [5, 64]}]
    header = (art / manifest["library"]).read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[16] == 3  # ET_DYN
    assert int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
