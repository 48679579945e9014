"""Calibration-driven saliency (issue 15 item 4, algorithms.md §10): `--calibration`
runs the model on the host and streams each layer's input statistics; Wanda
scores and SparseGPT's mask and weight update are checked against the float64
numpy references of calibration_ref.py on the same calibration data, with the
second layer's inputs recomputed by numpy from its own pruned first layer
(the sequential order)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from calibration_ref import reconstruction_error, sparsegpt, square_norms, wanda_scores
from pruning_ref import hinm_select, nm_select
from sparsec_cli import run_sparsec

K, HID, R, TOKENS, SAMPLES = 32, 48, 16, 8, 5


def make_mlp(tmp: Path, k: int = K, hid: int = HID, r: int = R, tokens: int = TOKENS,
             samples: int = SAMPLES, seed: int = 7, external_data: bool = False):
    """MatMul-Add-Relu-MatMul and `samples` calibration inputs whose features have very
    different scales; with `external_data` the weights go to mlp.weights."""
    K, HID, R, TOKENS, SAMPLES = k, hid, r, tokens, samples  # noqa: N806
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((K, HID)).astype(np.float32)
    b1 = (0.5 * rng.standard_normal(HID)).astype(np.float32)
    W2 = rng.standard_normal((HID, R)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W1"], ["h"]),
         helper.make_node("Add", ["h", "b1"], ["hb"]),
         helper.make_node("Relu", ["hb"], ["a"]),
         helper.make_node("MatMul", ["a", "W2"], ["y"])],
        "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [TOKENS, K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [TOKENS, R])],
        [numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(b1, "b1"),
         numpy_helper.from_array(W2, "W2")])
    path = tmp / "mlp.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    if external_data:
        onnx.save(model, str(path), save_as_external_data=True, location="mlp.weights",
                  size_threshold=1024)
    else:
        onnx.save(model, str(path))
    # Features of very different scales: Wanda and magnitude disagree.
    scale = np.exp(1.5 * rng.standard_normal(K)).astype(np.float32)
    xs = [(rng.standard_normal((TOKENS, K)) * scale).astype(np.float32) for _ in range(SAMPLES)]
    cal = tmp / "cal"
    cal.mkdir()
    for i, x in enumerate(xs):
        np.save(cal / f"sample{i:02d}.npy", x)
    return path, cal, W1, b1, W2, np.concatenate(xs)


def calibrate(model: Path, cal: Path, tmp: Path, saliency: str, sparsity: str, *extra):
    out, stats = tmp / f"{saliency}.onnx", tmp / f"{saliency}-stats"
    proc = run_sparsec([model, f"--sparsity={sparsity}", f"--saliency={saliency}",
                        f"--calibration={cal}", f"--calibration-stats={stats}",
                        "--prune-value-type=f32", f"--export-onnx={out}", "--emit=none",
                        *extra], timeout=120)
    assert proc.returncode == 0, proc.stderr
    weights = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
    return weights, stats, json.loads((stats / "calibration.json").read_text())


def relu_layer(X, W1, b1):
    return np.maximum(X @ W1 + b1, 0).astype(np.float32)


@pytest.mark.parametrize("sparsity", ["nm:n=2,m=4", "hinm:v=16,vs=0.5"])
def test_wanda_matches_numpy(tmp_path, sparsity):
    model, cal, W1, b1, W2, X = make_mlp(tmp_path)
    weights, stats, info = calibrate(model, cal, tmp_path, "wanda", sparsity)
    assert [l["step"] for l in info["layers"]] == [0, 1]
    assert info["layers"][0]["tokens"] == SAMPLES * TOKENS

    def select(S):
        if sparsity.startswith("nm"):
            return nm_select(S, 2, 4)
        return hinm_select(S, 16, 0.5).mask

    sq1 = square_norms(X)
    np.testing.assert_allclose(np.load(stats / "W1.sq_norms.npy"), sq1, rtol=1e-12)
    mask1 = select(wanda_scores(W1.T, sq1))
    # Wanda differs from magnitude here, so the check has teeth.
    assert (mask1 != select(np.abs(W1.T))).any()
    np.testing.assert_array_equal(weights["W1"], np.where(mask1.T, W1, 0))
    # Sequential: the second layer sees the first one pruned.
    sq2 = square_norms(relu_layer(X, weights["W1"], b1))
    np.testing.assert_allclose(np.load(stats / "W2.sq_norms.npy"), sq2, rtol=1e-5)
    mask2 = select(wanda_scores(W2.T, sq2))
    np.testing.assert_array_equal(weights["W2"], np.where(mask2.T, W2, 0))


@pytest.mark.parametrize("sparsity,v", [("nm:n=2,m=4", 0), ("hinm:v=16,vs=0.5", 16)])
def test_sparsegpt_matches_numpy(tmp_path, sparsity, v):
    model, cal, W1, b1, W2, X = make_mlp(tmp_path)
    weights, stats, info = calibrate(model, cal, tmp_path, "sparsegpt", sparsity)
    inputs = X
    for name, W in (("W1", W1), ("W2", W2)):
        Xd = inputs.astype(np.float64)
        H = Xd.T @ Xd
        kept_vectors = (K if name == "W1" else HID) // 2 if v else 0
        Wref, keep, _ = sparsegpt(W.T, H, 2, 4, v=v, nnz_vec=kept_vectors)
        got = weights[name].T
        np.testing.assert_array_equal(got != 0, keep)
        np.testing.assert_allclose(got, Wref, rtol=1e-4, atol=1e-4 * np.abs(Wref).max())
        layer = next(l for l in info["layers"] if l["weight"] == name)
        err = reconstruction_error(W.T, Wref, H)
        assert layer["error"] == pytest.approx(err, rel=1e-4)
        # The update pays: less error than the same mask without it.
        assert err < reconstruction_error(W.T, np.where(keep, W.T, 0), H)
        inputs = relu_layer(X, weights["W1"], b1)
    # The pruning pass kept exactly SparseGPT's mask: 1/2 (2:4) or 1/4 (HiNM vs=0.5).
    assert (weights["W1"] != 0).sum() == HID * K // (4 if v else 2)


def test_layers_reading_one_value_share_its_statistics(tmp_path):
    """Two projections of the same input (as q/k/v are) are one step and share one Gram
    matrix: each is still SparseGPT on X·Xᵀ of that input, as numpy computes it."""
    rng = np.random.default_rng(5)
    Wa = rng.standard_normal((K, HID)).astype(np.float32)
    Wb = rng.standard_normal((K, R)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "Wa"], ["a"]),
         helper.make_node("MatMul", ["x", "Wb"], ["b"])],
        "two_heads", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [TOKENS, K])],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [TOKENS, HID]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [TOKENS, R])],
        [numpy_helper.from_array(Wa, "Wa"), numpy_helper.from_array(Wb, "Wb")])
    model = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(model))
    scale = np.exp(rng.standard_normal(K)).astype(np.float32)
    xs = [(rng.standard_normal((TOKENS, K)) * scale).astype(np.float32) for _ in range(3)]
    cal = tmp_path / "cal"
    cal.mkdir()
    for i, x in enumerate(xs):
        np.save(cal / f"{i}.npy", x)
    weights, stats, info = calibrate(model, cal, tmp_path, "sparsegpt", "nm:n=2,m=4")
    assert [l["step"] for l in info["layers"]] == [0, 0]
    assert [l["tokens"] for l in info["layers"]] == [3 * TOKENS] * 2
    X = np.concatenate(xs).astype(np.float64)
    H = X.T @ X
    for name, W in (("Wa", Wa), ("Wb", Wb)):
        np.testing.assert_allclose(np.load(stats / f"{name}.sq_norms.npy"), np.diag(H),
                                   rtol=1e-12)
        Wref, keep, _ = sparsegpt(W.T, H, 2, 4)
        got = weights[name].T
        np.testing.assert_array_equal(got != 0, keep)
        np.testing.assert_allclose(got, Wref, rtol=1e-4, atol=1e-4 * np.abs(Wref).max())


def test_one_pass_uses_the_dense_model(tmp_path):
    model, cal, W1, b1, W2, X = make_mlp(tmp_path)
    weights, stats, info = calibrate(model, cal, tmp_path, "wanda", "nm:n=2,m=4",
                                     "--calibration-order=one-pass")
    assert [l["step"] for l in info["layers"]] == [0, 0]
    np.testing.assert_allclose(np.load(stats / "W2.sq_norms.npy"),
                               square_norms(relu_layer(X, W1, b1)), rtol=1e-5)


def test_sample_layouts_agree(tmp_path):
    """A directory of .npy, one stacked .npz, a directory of .npz and a directory of
    per-sample folders give the same statistics; --calibration-samples limits."""
    model, cal, W1, b1, W2, X = make_mlp(tmp_path)
    xs = [np.load(p) for p in sorted(cal.iterdir())]
    np.savez(tmp_path / "stacked.npz", x=np.stack(xs))
    (tmp_path / "npzdir").mkdir()
    (tmp_path / "folders").mkdir()
    for i, x in enumerate(xs):
        np.savez(tmp_path / "npzdir" / f"{i}.npz", x=x)
        (tmp_path / "folders" / f"{i}").mkdir()
        np.save(tmp_path / "folders" / f"{i}" / "x.npy", x)
    expected = square_norms(X)
    for source in ("stacked.npz", "npzdir", "folders"):
        out = tmp_path / f"{source}-stats"
        proc = run_sparsec([model, "--sparsity=nm:n=2,m=4", "--saliency=wanda",
                            f"--calibration={tmp_path / source}", f"--calibration-stats={out}",
                            "--emit=none"], timeout=120)
        assert proc.returncode == 0, proc.stderr
        np.testing.assert_allclose(np.load(out / "W1.sq_norms.npy"), expected, rtol=1e-12)
    proc = run_sparsec([model, "--sparsity=nm:n=2,m=4", "--saliency=wanda",
                        f"--calibration={cal}", "--calibration-samples=2",
                        f"--calibration-stats={tmp_path / 'two'}", "--emit=none"], timeout=120)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(np.load(tmp_path / "two" / "W1.sq_norms.npy"),
                               square_norms(np.concatenate(xs[:2])), rtol=1e-12)


def refused(args, *needles):
    proc = run_sparsec(args, timeout=120)
    assert proc.returncode != 0, proc.stdout
    assert "Assertion" not in proc.stderr and "Stack dump" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr
    return proc.stderr


def test_bad_calibration_input(tmp_path):
    model, cal, *_ = make_mlp(tmp_path)
    base = [model, "--sparsity=nm:n=2,m=4", "--saliency=wanda", "--emit=none"]
    bad = tmp_path / "bad"
    bad.mkdir()
    np.save(bad / "a.npy", np.zeros((TOKENS, K + 1), np.float32))
    refused([*base, f"--calibration={bad}"], "a.npy", "'x'", "float32[8,32]", "float32[8,33]")
    np.save(bad / "a.npy", np.zeros((TOKENS, K), np.int64))
    refused([*base, f"--calibration={bad}"], "a.npy", "float32[8,32]", "int64[8,32]")
    (bad / "a.npy").write_bytes(b"not an array")
    refused([*base, f"--calibration={bad}"], "a.npy", "not a .npy file")
    (bad / "a.npy").unlink()
    (bad / "notes.txt").write_text("hello")
    refused([*base, f"--calibration={bad}"], "notes.txt", "not a .npy, a .npz")
    empty = tmp_path / "empty"
    empty.mkdir()
    refused([*base, f"--calibration={empty}"], "empty", "is empty")
    refused([*base, f"--calibration={tmp_path / 'missing'}"], "does not exist")
    np.savez_compressed(tmp_path / "c.npz", x=np.zeros((2, TOKENS, K), np.float32))
    refused([*base, f"--calibration={tmp_path / 'c.npz'}"], "c.npz", "compressed")
    np.savez(tmp_path / "k.npz", y=np.zeros((2, TOKENS, K), np.float32),
             z=np.zeros((2, TOKENS, K), np.float32))
    refused([*base, f"--calibration={tmp_path / 'k.npz'}"], "k.npz", "no array 'x'")
    refused([model, "--sparsity=nm:n=2,m=4", "--saliency=wanda"], "needs --calibration")
    refused([model, "--sparsity=nm:n=2,m=4", f"--calibration={cal}"],
            "--calibration needs --saliency=wanda")
    refused([model, "--sparsity=nm:n=2,m=4", "--saliency=sparsegpt", f"--calibration={cal}",
             "--permute=asp"], "does not combine with --permute")
    refused([*base, f"--calibration={cal}", "--sparsegpt-block=64"],
            "--sparsegpt-block has no effect without --saliency=sparsegpt")


@pytest.mark.parametrize("saliency", ["wanda", "sparsegpt"])
def test_decoder_calibrates_and_runs(tmp_path, saliency):
    """The Llama-style decoder (int64 token ids): 4 steps per block (q/k/v, o,
    gate/up, down) plus the LM head; the host run of the pruned model agrees with
    onnxruntime on the exported one."""
    import onnxruntime as ort
    from zoo_decoder import DecoderConfig, llama_decoder, token_ids
    cfg = DecoderConfig()
    model = tmp_path / "decoder.onnx"
    onnx.save(llama_decoder(cfg), str(model))
    cal = tmp_path / "cal"
    cal.mkdir()
    for i in range(6):
        np.save(cal / f"{i}.npy", token_ids(cfg, seed=100 + i))
    ids = token_ids(cfg, seed=1)
    np.save(tmp_path / "ids.npy", ids)
    out, stats = tmp_path / "pruned.onnx", tmp_path / "stats"
    proc = run_sparsec([model, "--sparsity=nm:n=2,m=4", f"--saliency={saliency}",
                        f"--calibration={cal}", f"--calibration-stats={stats}",
                        "--prune-value-type=f32", f"--export-onnx={out}", "--run",
                        f"--input={tmp_path / 'ids.npy'}", "-o", tmp_path / "out"], timeout=300)
    assert proc.returncode == 0, proc.stderr
    info = json.loads((stats / "calibration.json").read_text())
    assert info["steps"] == 4 * cfg.layers + 1
    assert len(info["layers"]) == 7 * cfg.layers + 1
    y = np.load(tmp_path / "out" / "output_0.npy")
    ref = ort.InferenceSession(str(out)).run(None, {"input_ids": ids})[0]
    assert np.abs(y - ref).max() <= 1e-4 * np.abs(ref).max()


def test_language_model_keeps_closer_to_dense(tmp_path):
    """2:4 pruning of every layer of a language model trained here: Wanda and SparseGPT
    keep the held-out loss closer to dense than magnitude does, and SparseGPT's first
    layer (whose inputs numpy computes on its own: the embeddings of the calibration
    contexts) has the reconstruction error of the numpy reference."""
    import tiny_lm
    (x_train, y_train), (x_test, y_test) = tiny_lm.splits()
    P = tiny_lm.train(x_train, y_train)
    batch = 32
    model = tmp_path / "lm.onnx"
    onnx.save(tiny_lm.to_onnx(P, batch), str(model))
    rng = np.random.default_rng(1)
    cal = tmp_path / "cal"
    cal.mkdir()
    contexts = []
    for i in range(64):
        contexts.append(x_train[rng.integers(0, len(x_train), batch)])
        np.save(cal / f"{i:03d}.npy", contexts[-1])
    losses, stats = {"dense": tiny_lm.loss(P, x_test, y_test)}, {}
    for saliency in ("magnitude", "wanda", "sparsegpt"):
        out = tmp_path / f"{saliency}.onnx"
        args = [model, "--sparsity=nm:n=2,m=4", "--prune-value-type=f32",
                f"--export-onnx={out}", "--emit=none"]
        if saliency != "magnitude":
            stats[saliency] = tmp_path / f"{saliency}-stats"
            args += [f"--saliency={saliency}", f"--calibration={cal}",
                     f"--calibration-stats={stats[saliency]}"]
        proc = run_sparsec(args, timeout=300)
        assert proc.returncode == 0, proc.stderr
        pruned = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(out)).graph.initializer}
        losses[saliency] = tiny_lm.loss(pruned, x_test, y_test)
    print("held-out loss (nats/char):", losses)
    assert losses["dense"] < losses["sparsegpt"] < losses["wanda"] < losses["magnitude"]

    embedded = P["E"][np.concatenate(contexts)].reshape(-1, tiny_lm.CONTEXT * tiny_lm.WIDTH)
    H = embedded.astype(np.float64).T @ embedded.astype(np.float64)
    W = P["W1"].T
    W_ref, _, _ = sparsegpt(W, H, 2, 4)
    info = json.loads((stats["sparsegpt"] / "calibration.json").read_text())
    first = next(l for l in info["layers"] if l["weight"] == "W1")
    assert first["error"] == pytest.approx(reconstruction_error(W, W_ref, H), rel=1e-3)
