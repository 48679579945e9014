"""Models with external data through calibration, pruning and export (issue 15, item 5, at a
size a test can afford; bench/big_model_bench.py runs the 1.1 B-parameter decoder).

Weights of 64 KiB or more reach the calibration probes as arguments (not compiled in), so
these layers are large enough for that path; the references are numpy (calibration_ref.py,
pruning_ref.py) and onnxruntime."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, numpy_helper

from calibration_ref import square_norms, wanda_scores
from pruning_ref import nm_select
from sparsec_cli import run_sparsec
from test_calibration import make_mlp

K, HID, R, TOKENS, SAMPLES = 128, 256, 128, 16, 3


def make_external_mlp(tmp: Path):
    """test_calibration's MLP with both weights (128 KiB) in external data."""
    return make_mlp(tmp, K, HID, R, TOKENS, SAMPLES, seed=11, external_data=True)


def external_refs(path: Path):
    model = onnx.load(str(path), load_external_data=False)
    return {t.name: {e.key: e.value for e in t.external_data}
            for t in model.graph.initializer if t.data_location == TensorProto.EXTERNAL}


def test_wanda_on_external_weights_matches_numpy(tmp_path):
    model, cal, W1, b1, W2, X = make_external_mlp(tmp_path)
    out, stats = tmp_path / "pruned.onnx", tmp_path / "stats"
    proc = run_sparsec([model, "--sparsity=nm:n=2,m=4", "--saliency=wanda",
                        f"--calibration={cal}", f"--calibration-stats={stats}",
                        f"--export-onnx={out}", "--emit=none"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = json.loads((stats / "calibration.json").read_text())
    assert [l["step"] for l in info["layers"]] == [0, 1]
    # The export mirrors the input: every weight external, in <out>.data.
    refs = external_refs(out)
    assert set(refs) == {"W1", "b1", "W2"}
    assert {r["location"] for r in refs.values()} == {"pruned.onnx.data"}
    assert all(int(r["offset"]) % 64 == 0 for r in refs.values())
    onnx.checker.check_model(str(out), full_check=True)
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    np.testing.assert_array_equal(weights["b1"], b1)

    sq1 = square_norms(X)
    np.testing.assert_allclose(np.load(stats / "W1.sq_norms.npy"), sq1, rtol=1e-12)
    mask1 = nm_select(wanda_scores(W1.T, sq1), 2, 4)
    assert (mask1 != nm_select(np.abs(W1.T), 2, 4)).any()  # Wanda is not magnitude here
    np.testing.assert_array_equal(weights["W1"], np.where(mask1.T, W1, 0))
    # Sequential: the second layer's inputs come from the pruned first layer.
    hidden = np.maximum(X @ weights["W1"] + b1, 0).astype(np.float32)
    sq2 = square_norms(hidden)
    np.testing.assert_allclose(np.load(stats / "W2.sq_norms.npy"), sq2, rtol=1e-5)
    mask2 = nm_select(wanda_scores(W2.T, sq2), 2, 4)
    np.testing.assert_array_equal(weights["W2"], np.where(mask2.T, W2, 0))

    # The exported model runs in onnxruntime as the pruned dense computation.
    x = X[:TOKENS]
    (y,) = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})
    expected = np.maximum(x @ weights["W1"] + b1, 0) @ weights["W2"]
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)


def test_export_with_masks_and_one_pass(tmp_path):
    model, cal, W1, _, W2, X = make_external_mlp(tmp_path)
    out = tmp_path / "one-pass.onnx"
    proc = run_sparsec([model, "--sparsity=nm:n=2,m=4", "--saliency=wanda",
                        f"--calibration={cal}", "--calibration-order=one-pass",
                        f"--export-onnx={out}", "--export-masks", "--emit=none"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert set(external_refs(out)) == {"W1", "b1", "W2", "W1.mask", "W2.mask"}
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    mask1 = nm_select(wanda_scores(W1.T, square_norms(X)), 2, 4)
    np.testing.assert_array_equal(weights["W1.mask"], mask1.T.astype(np.float32))
    np.testing.assert_array_equal(weights["W1"], np.where(mask1.T, W1, 0))
    # One pass: the second layer's statistics come from the dense first layer.
    (b1,) = [numpy_helper.to_array(t) for t in onnx.load(str(model)).graph.initializer
             if t.name == "b1"]
    sq2 = square_norms(np.maximum(X @ W1 + b1, 0).astype(np.float32))
    mask2 = nm_select(wanda_scores(W2.T, sq2), 2, 4)
    np.testing.assert_array_equal(weights["W2.mask"], mask2.T.astype(np.float32))


def test_export_never_overwrites_the_external_data_it_reads(tmp_path):
    model, _, _, _, _, _ = make_external_mlp(tmp_path)
    # mlp.onnx's data file is mlp.weights; exporting to mlp.weights[.data] is fine, but an
    # output whose data file is the input's data file is refused before anything is written.
    (tmp_path / "w").mkdir()
    clash = tmp_path / "w" / "m.onnx"
    onnx.save(onnx.load(str(model)), str(clash), save_as_external_data=True,
              location="m.onnx.data", size_threshold=1024)
    before = (tmp_path / "w" / "m.onnx.data").read_bytes()
    proc = run_sparsec([clash, "--sparsity=nm:n=2,m=4", f"--export-onnx={clash}",
                        "--emit=none"])
    assert proc.returncode != 0
    assert "would overwrite the external data of" in proc.stderr, proc.stderr
    assert (tmp_path / "w" / "m.onnx.data").read_bytes() == before


def test_progress_lines(tmp_path):
    model, cal, *_ = make_external_mlp(tmp_path)
    out = tmp_path / "p.onnx"
    proc = run_sparsec([model, "--sparsity=nm:n=2,m=4", "--saliency=wanda",
                        f"--calibration={cal}", f"--export-onnx={out}", "--emit=none",
                        "--progress=always"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.startswith("sparsec: ")]
    assert [l.split(" [")[0].split()[1] for l in lines] == [
        "imported", "calibrated", "compressed", "exported"], proc.stderr
    assert all(l.endswith(" MiB]") and ", peak " in l for l in lines)
    assert "calibration: step 2/2" in proc.stderr
    quiet = run_sparsec([model, "--emit=none", "--progress=never"])
    assert quiet.returncode == 0 and quiet.stderr == ""
    bad = run_sparsec([model, "--emit=none", "--progress=sometimes"])
    assert bad.returncode != 0
    assert "--progress must be auto, always or never, not 'sometimes'" in bad.stderr


def test_failed_export_leaves_no_data_file(tmp_path):
    model, *_ = make_external_mlp(tmp_path)
    blocked = tmp_path / "out.onnx"
    blocked.mkdir()  # the weights can be written, the model file cannot
    proc = run_sparsec([model, "--sparsity=nm:n=2,m=4", f"--export-onnx={blocked}",
                        "--emit=none"])
    assert proc.returncode != 0
    assert f"cannot write '{blocked}'" in proc.stderr, proc.stderr
    assert not (tmp_path / "out.onnx.data").exists()
