"""End-to-end: each model in models.MODELS compiled and run by sparsec matches onnxruntime."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

import models
from sparsec_cli import compare, run_model, run_sparsec

MAX_REL_ERR = 1e-4
RTOL, ATOL = 1e-4, 1e-5
TIMEOUT_S = 120


@pytest.mark.parametrize("name", list(models.MODELS))
def test_model_matches_onnxruntime(name, sparsec, tmp_path):
    model = models.MODELS[name]()
    path = tmp_path / f"{name}.onnx"
    onnx.save_model(model, str(path))
    inputs = models.make_inputs(model, seed=0)
    expected = models.run_onnxruntime(model, inputs)

    res = run_model(path, inputs, tmp_path / "run", len(expected), timeout=TIMEOUT_S)
    assert res.error is None, (f"{name}: sparsec --run failed: {res.error}\ncmd: {res.cmd}\n"
                               f"stderr:\n{res.proc.stderr if res.proc else ''}")
    failures = []
    for i, (out, ref) in enumerate(zip(res.outputs, expected)):
        ok, detail = compare(out, ref, RTOL, ATOL, max_rel=MAX_REL_ERR)
        if not ok:
            failures.append(f"output_{i} ({model.graph.output[i].name}): {detail}")
    assert not failures, f"{name}: " + "; ".join(failures)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_emit_mlir(name, sparsec, tmp_path):
    """--emit=mlir succeeds and writes a non-empty file."""
    path = tmp_path / f"{name}.onnx"
    onnx.save_model(models.MODELS[name](), str(path))
    out = tmp_path / "out.mlir"
    proc = run_sparsec([path, "--emit=mlir", "-o", out], timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    assert out.exists() and out.stat().st_size > 0, "no MLIR written"
    assert "func" in out.read_text(errors="replace"), "output does not look like MLIR"


@pytest.mark.parametrize("stage", ["linalg", "llvm", "obj"])
def test_emit_stages(stage, sparsec, tmp_path):
    """The later --emit stages work on the tiny ResNet."""
    path = tmp_path / "resnet.onnx"
    onnx.save_model(models.MODELS["resnet_cnn_op17"](), str(path))
    out = tmp_path / f"out.{stage}"
    proc = run_sparsec([path, f"--emit={stage}", "-o", out], timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr}"
    assert out.exists() and out.stat().st_size > 0
    if stage == "obj":
        assert out.read_bytes()[:4] == b"\x7fELF", "--emit=obj did not produce an ELF object"


def test_models_are_valid():
    """Builders produce checker-valid models that onnxruntime can run (no sparsec needed)."""
    for name, build in models.MODELS.items():
        m = build()
        onnx.checker.check_model(m, full_check=True)
        outs = models.run_onnxruntime(m, models.make_inputs(m))
        assert all(np.all(np.isfinite(o)) for o in outs), name
