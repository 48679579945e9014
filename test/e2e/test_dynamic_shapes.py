"""Dynamic shapes (issue 15, item 3): batch and sequence length stay symbolic through
import, pruning and compilation for the host target (--input-shape=x:?x1..64x...), and one
compiled artifact runs any size within the bounds. The reference is onnxruntime on the same
model (dense) or on sparsec's export of the pruned model, at every size tried."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import onnx

import zoo
from sparsec_cli import robust_rel_err, run_model, run_sparsec, sparsec_bin, sparsec_ok

MAX_REL_ERR = 1e-4
SPARSEC_RUN = sparsec_bin().parent / "sparsec-run"
# HF BertLayer as torch exports it with dynamic axes: its reshapes are
# Shape -> Gather -> Unsqueeze -> Concat chains on the symbolic batch and sequence.
BERT_SHAPES = ["--input-shape=hidden_states:?x1..64x64",
               "--input-shape=attention_mask:?x1x1x1..64"]
SIZES = [(1, 7), (2, 32), (3, 13), (1, 64)]


def _bert(path: Path) -> onnx.ModelProto:
    model = zoo.bert_layer(seq=32, d=64, heads=4, ffn=128, batch="batch", seq_dim="seq")
    onnx.save_model(model, str(path))
    return model


def _bert_inputs(batch: int, seq: int, seed: int = 0):
    rng = np.random.default_rng(seed + 100 * batch + seq)
    hidden = rng.standard_normal((batch, seq, 64)).astype(np.float32)
    # HF's extended mask: 0 where attended, a large negative number where padded.
    mask = np.where(rng.random((batch, 1, 1, seq)) < 0.2, -10000.0, 0.0).astype(np.float32)
    return [hidden, mask]


def _sparsec_run(artifact: Path, inputs, workdir: Path) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    args = [str(SPARSEC_RUN), str(artifact), "-o", str(workdir / "out")]
    for i, x in enumerate(inputs):
        np.save(workdir / f"in{i}.npy", x)
        args.append(f"--input={workdir / f'in{i}.npy'}")
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def test_one_artifact_runs_every_batch_and_length(sparsec, tmp_path):
    model = _bert(tmp_path / "bert.onnx")
    sparsec_ok([tmp_path / "bert.onnx", *BERT_SHAPES, "--emit=artifact", "-o",
                tmp_path / "art"], "compile with dynamic dims", 300)
    for batch, seq in SIZES:
        inputs = _bert_inputs(batch, seq)
        proc = _sparsec_run(tmp_path / "art", inputs, tmp_path / f"run_{batch}_{seq}")
        assert proc.returncode == 0, proc.stderr
        got = np.load(tmp_path / f"run_{batch}_{seq}" / "out" / "output_0.npy")
        expected = zoo.run_onnxruntime(model, inputs)[0]
        assert got.shape == expected.shape == (batch, seq, 64)
        assert robust_rel_err(got, expected) <= MAX_REL_ERR, (batch, seq)
    # --run (the JIT) computes the same bits as the artifact.
    inputs = _bert_inputs(3, 13)
    res = run_model(tmp_path / "bert.onnx", inputs, tmp_path / "jit", 1, timeout=300,
                    extra_args=BERT_SHAPES)
    assert res.error is None, res.error
    artifact_out = np.load(tmp_path / "run_3_13" / "out" / "output_0.npy")
    assert np.array_equal(res.outputs[0], artifact_out)


def test_pruned_dynamic_model_matches_its_export(sparsec, tmp_path):
    _bert(tmp_path / "bert.onnx")
    flags = [*BERT_SHAPES, "--sparsity=nm:n=2,m=4"]
    sparsec_ok([tmp_path / "bert.onnx", *flags, f"--export-onnx={tmp_path / 'pruned.onnx'}",
                "--emit=artifact", "-o", tmp_path / "art"], "prune with dynamic dims", 300)
    exported = onnx.load(str(tmp_path / "pruned.onnx"))
    # The export keeps the model's symbolic dims.
    dims = [d.dim_param or d.dim_value for d in exported.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "seq", 64]
    for batch, seq in [(2, 5), (1, 40)]:
        inputs = _bert_inputs(batch, seq, seed=1)
        proc = _sparsec_run(tmp_path / "art", inputs, tmp_path / f"run_{seq}")
        assert proc.returncode == 0, proc.stderr
        got = np.load(tmp_path / f"run_{seq}" / "out" / "output_0.npy")
        expected = zoo.run_onnxruntime(exported, inputs)[0]
        assert robust_rel_err(got, expected) <= MAX_REL_ERR, (batch, seq)


def test_sizes_outside_the_bounds_or_disagreeing_are_refused(sparsec, tmp_path):
    _bert(tmp_path / "bert.onnx")
    sparsec_ok([tmp_path / "bert.onnx", *BERT_SHAPES, "--emit=artifact", "-o",
                tmp_path / "art"], "compile with dynamic dims", 300)
    too_long = _bert_inputs(1, 65)
    proc = _sparsec_run(tmp_path / "art", too_long, tmp_path / "long")
    assert proc.returncode != 0
    assert "dimension 1 is 65, outside its bounds 1..64" in proc.stderr, proc.stderr
    res = run_model(tmp_path / "bert.onnx", too_long, tmp_path / "jit_long", 1, timeout=300,
                    extra_args=BERT_SHAPES)
    assert res.error is not None and "outside its bounds 1..64" in res.error, res.error
    # The mask's sequence must be the hidden states' (the model names both "seq").
    hidden, _ = _bert_inputs(1, 8)
    _, mask = _bert_inputs(1, 9)
    proc = _sparsec_run(tmp_path / "art", [hidden, mask], tmp_path / "mismatch")
    assert proc.returncode != 0
    assert "the model names them alike, so they must be equal" in proc.stderr, proc.stderr
    res = run_model(tmp_path / "bert.onnx", [hidden, mask], tmp_path / "jit_mismatch", 1,
                    timeout=300, extra_args=BERT_SHAPES)
    assert res.error is not None and "must be equal" in res.error, res.error


def test_dynamic_batch_mlp_with_unbounded_batch(sparsec, tmp_path):
    model = zoo.mlp(batch="batch", dims=(48, 96, 40, 10))
    onnx.save_model(model, str(tmp_path / "mlp.onnx"))
    for batch in (1, 5, 17):
        x = np.random.default_rng(batch).standard_normal((batch, 48)).astype(np.float32)
        res = run_model(tmp_path / "mlp.onnx", [x], tmp_path / f"b{batch}", 1, timeout=300,
                        extra_args=["--input-shape=input:?x48"])
        assert res.error is None, res.error
        expected = zoo.run_onnxruntime(model, [x])[0]
        assert res.outputs[0].shape == (batch, 10)
        assert robust_rel_err(res.outputs[0], expected) <= MAX_REL_ERR


def test_neon_runs_a_dynamic_batch_under_qemu(sparsec, tmp_path):
    # The same code generator for AArch64: its artifact's manifest carries the dynamic
    # dims, and the AArch64 sparsec-run sizes the outputs from the inputs.
    model = zoo.mlp(batch="batch", dims=(48, 96, 10))
    onnx.save_model(model, str(tmp_path / "mlp.onnx"))
    for batch in (1, 6):
        x = np.random.default_rng(batch).standard_normal((batch, 48)).astype(np.float32)
        res = run_model(tmp_path / "mlp.onnx", [x], tmp_path / f"b{batch}", 1, timeout=300,
                        extra_args=["--input-shape=input:1..8x48", "--target=neon"])
        assert res.error is None, res.error
        expected = zoo.run_onnxruntime(model, [x])[0]
        assert res.outputs[0].shape == (batch, 10)
        assert robust_rel_err(res.outputs[0], expected) <= MAX_REL_ERR


def test_targets_and_ops_without_dynamic_dims_say_so(sparsec, tmp_path):
    _bert(tmp_path / "bert.onnx")
    proc = run_sparsec([tmp_path / "bert.onnx", *BERT_SHAPES, "--target=cuda",
                        "--emit=artifact", "-o", tmp_path / "cuda"], timeout=300)
    assert proc.returncode != 0
    assert "the cuda target compiles static shapes only" in proc.stderr, proc.stderr
    # A CNN's convolution does not take a dynamic batch yet.
    onnx.save_model(zoo.resnet(18, hw=32, classes=10, batch="batch"), str(tmp_path / "r.onnx"))
    proc = run_sparsec([tmp_path / "r.onnx", "--input-shape=input.1:?x3x32x32",
                        "--emit=none"], timeout=300)
    assert proc.returncode != 0
    assert "Conv does not take dynamic dimensions yet" in proc.stderr, proc.stderr
    # Calibration takes static shapes for now, and says so.
    hidden, mask = _bert_inputs(1, 8)
    np.savez(tmp_path / "calib.npz", hidden_states=hidden[None], attention_mask=mask[None])
    proc = run_sparsec([tmp_path / "bert.onnx", *BERT_SHAPES, "--sparsity=nm:n=2,m=4",
                        "--saliency=wanda", f"--calibration={tmp_path / 'calib.npz'}",
                        "--emit=none"], timeout=300)
    assert proc.returncode != 0
    assert ("input 'hidden_states' has dynamic dimensions; calibration takes static shapes"
            in proc.stderr), proc.stderr


def test_llama_decoder_with_dynamic_batch_and_sequence(sparsec, tmp_path):
    # Positions from Range, the causal mask from ConstantOfShape/Range/Less/Where expanded
    # to [B, 1, S, S], grouped-query heads repeated with Expand: all sized by the symbolic
    # sequence. One artifact, dense and 2:4-pruned, against onnxruntime at several sizes.
    from zoo_decoder import DecoderConfig, llama_decoder
    cfg = DecoderConfig(dynamic=True, seq=16, tied=False)
    model = llama_decoder(cfg)
    onnx.save_model(model, str(tmp_path / "llama.onnx"))
    shape = ["--input-shape=input_ids:1..4x1..32"]
    sparsec_ok([tmp_path / "llama.onnx", *shape, "--emit=artifact", "-o", tmp_path / "dense"],
               "compile the dynamic decoder", 300)
    sparsec_ok([tmp_path / "llama.onnx", *shape, "--sparsity=nm:n=2,m=4",
                f"--export-onnx={tmp_path / 'pruned.onnx'}", "--emit=artifact", "-o",
                tmp_path / "pruned"], "prune the dynamic decoder", 300)
    pruned = onnx.load(str(tmp_path / "pruned.onnx"))
    for batch, seq in [(1, 1), (2, 5), (1, 32), (4, 9)]:
        ids = np.random.default_rng(seq).integers(0, cfg.vocab, (batch, seq), dtype=np.int64)
        for artifact, reference in [("dense", model), ("pruned", pruned)]:
            proc = _sparsec_run(tmp_path / artifact, [ids], tmp_path / f"{artifact}_{batch}_{seq}")
            assert proc.returncode == 0, proc.stderr
            got = np.load(tmp_path / f"{artifact}_{batch}_{seq}" / "out" / "output_0.npy")
            expected = zoo.run_onnxruntime(reference, [ids])[0]
            assert got.shape == (batch, seq, cfg.vocab)
            assert robust_rel_err(got, expected) <= MAX_REL_ERR, (artifact, batch, seq)
