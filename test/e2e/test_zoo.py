"""End-to-end: PyTorch-export stand-ins (test/e2e/zoo.py) compiled and run by sparsec match
onnxruntime with max relative error max|a-b|/max|b| <= 1e-4.

By default only the CI-affordable subset runs (reduced resolutions / sequence lengths; about
a minute on 2 cores). Set SPARSEC_FULL_ZOO=1 to also run the full-size models (ResNet-18/50,
MobileNetV2, VGG-16 at 224x224, BERT-base layer at seq 128, ViT-B/16 block) and the slower
reduced ones; those take minutes each.
"""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest

import zoo
from sparsec_cli import robust_rel_err, run_model

MAX_REL_ERR = 1e-4
FULL = os.environ.get("SPARSEC_FULL_ZOO", "") not in ("", "0")


def _param(name: str):
    e = zoo.ZOO[name]
    marks = [pytest.mark.skipif(not FULL, reason="full-size zoo model; set SPARSEC_FULL_ZOO=1")
             ] if e.full else []
    return pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("name", [_param(n) for n in zoo.ZOO])
def test_zoo_model_matches_onnxruntime(name, sparsec, tmp_path):
    entry = zoo.ZOO[name]
    model = entry.build()
    path = tmp_path / f"{name}.onnx"
    onnx.save_model(model, str(path))
    inputs = zoo.make_inputs(model, entry.input_shapes)
    expected = zoo.run_onnxruntime(model, inputs)
    del model

    res = run_model(path, inputs, tmp_path / "run", len(expected), timeout=entry.timeout_s,
                    extra_args=zoo.shape_args(entry))
    assert res.error is None, (f"{name}: sparsec --run failed: {res.error}\ncmd: {res.cmd}\n"
                               f"stderr:\n{res.proc.stderr if res.proc else ''}")
    for i, (out, ref) in enumerate(zip(res.outputs, expected)):
        assert out.dtype == ref.dtype, f"output_{i}: dtype {out.dtype} != {ref.dtype}"
        assert out.shape == ref.shape, f"output_{i}: shape {out.shape} != {ref.shape}"
        assert np.all(np.isfinite(out)), f"output_{i}: non-finite values"
        rel = robust_rel_err(out, ref)
        assert rel <= MAX_REL_ERR, f"output_{i}: max relative error {rel:.3g} > {MAX_REL_ERR}"


@pytest.mark.parametrize("folded,unfolded,hw", [
    (lambda: zoo.resnet(18, hw=32), lambda: zoo.resnet(18, hw=32, fold_bn=False), 32),
    (lambda: zoo.mobilenet_v2(hw=32), lambda: zoo.mobilenet_v2(hw=32, fold_bn=False), 32),
], ids=["resnet18", "mobilenet_v2"])
def test_bn_fold_variants_agree(folded, unfolded, hw):
    """The BN-folded and BatchNormalization variants compute the same function (onnxruntime
    only; checks the builders, not sparsec) and keep activations O(1)."""
    a, b = folded(), unfolded()
    x = zoo.make_inputs(a)
    ya, yb = zoo.run_onnxruntime(a, x)[0], zoo.run_onnxruntime(b, x)[0]
    assert robust_rel_err(ya, yb) < 1e-5
    assert 0.1 < float(np.abs(yb).max()) < 1e3


def test_symbolic_batch_is_symbolic():
    """The *_batch_sym / *_sym entries really carry dim_params and need --input-shape."""
    for name, e in zoo.ZOO.items():
        if not e.input_shapes:
            continue
        m = e.build() if not e.full else None
        if m is None:
            continue
        dims = [d for v in zoo.graph_inputs(m) for d in v.type.tensor_type.shape.dim]
        assert any(d.HasField("dim_param") for d in dims), name
        assert set(e.input_shapes) == {v.name for v in zoo.graph_inputs(m)}, name
