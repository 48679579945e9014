"""A Llama-style decoder (zoo_decoder.py: RMSNorm, rotary embeddings, grouped-query causal
attention, SwiGLU, tied or untied LM head) at opset 17 (RMSNorm decomposed, as torch 2.x
exports it) and opset 23 (the RMSNormalization op): imported, run on the host and compared
with onnxruntime, dense and pruned (2:4 on every block's projections and the LM head, the
pruned model exported with --export-onnx and run by onnxruntime as the reference)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import zoo
from sparsec_cli import robust_rel_err, run_model, sparsec_ok
from zoo_decoder import DecoderConfig, llama_decoder, token_ids

MAX_REL_ERR = 1e-4

CONFIGS = {
    "opset17_tied": DecoderConfig(opset=17, tied=True),
    "opset23_untied_batch2": DecoderConfig(opset=23, tied=False, batch=2, seq=6),
}


def _save(cfg: DecoderConfig, path: Path) -> onnx.ModelProto:
    model = llama_decoder(cfg)
    onnx.save_model(model, str(path))
    return model


def _run(path: Path, ids: np.ndarray, workdir: Path, *flags: str) -> np.ndarray:
    res = run_model(path, [ids], workdir, 1, timeout=300, extra_args=flags)
    assert res.error is None, f"{res.error}\ncmd: {res.cmd}"
    return res.outputs[0]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_decoder_matches_onnxruntime(name, sparsec, tmp_path):
    cfg = CONFIGS[name]
    model = _save(cfg, tmp_path / "m.onnx")
    ids = token_ids(cfg)
    expected = zoo.run_onnxruntime(model, [ids])[0]
    got = _run(tmp_path / "m.onnx", ids, tmp_path / "run")
    assert got.shape == expected.shape == (cfg.batch, cfg.seq, cfg.vocab)
    assert robust_rel_err(got, expected) <= MAX_REL_ERR


def _weights(model: onnx.ModelProto):
    """name -> array of the MatMuls' constant [K, N] weights."""
    inits = {t.name: t for t in model.graph.initializer}
    return {n.input[1]: numpy_helper.to_array(inits[n.input[1]])
            for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_pruned_decoder_matches_onnxruntime_on_its_export(name, sparsec, tmp_path):
    cfg = CONFIGS[name]
    model = _save(cfg, tmp_path / "m.onnx")
    exported = tmp_path / "pruned.onnx"
    sparsec_ok([tmp_path / "m.onnx", "--sparsity=nm:n=2,m=4", f"--export-onnx={exported}",
                "-o", tmp_path / "unused"], "export the 2:4 decoder", 300)
    pruned = onnx.load(str(exported))
    before, after = _weights(model), _weights(pruned)
    # Seven projections (q, k, v, o, gate, up, down) per block and the LM head, each
    # 2:4 along K (the ONNX weight is [K, N]: groups of four rows of a column).
    assert len(after) == 7 * cfg.layers + 1
    for key, w in after.items():
        groups = w.T.reshape(w.shape[1], -1, 4)
        assert np.all((groups != 0).sum(axis=-1) <= 2), key
        kept = w != 0
        np.testing.assert_array_equal(w[kept], before[key][kept])
    ids = token_ids(cfg, seed=1)
    expected = zoo.run_onnxruntime(pruned, [ids])[0]
    got = _run(tmp_path / "m.onnx", ids, tmp_path / "run", "--sparsity=nm:n=2,m=4")
    assert robust_rel_err(got, expected) <= MAX_REL_ERR
    # Pruning changed the function (the comparison above is not dense vs dense).
    dense = zoo.run_onnxruntime(model, [ids])[0]
    assert robust_rel_err(dense, expected) > 1e-3


def test_lm_head_can_stay_dense(sparsec, tmp_path):
    cfg = CONFIGS["opset17_tied"]
    model = _save(cfg, tmp_path / "m.onnx")
    exported = tmp_path / "pruned.onnx"
    sparsec_ok([tmp_path / "m.onnx", "--sparsity=nm:n=2,m=4", "--prune-skip-last",
                f"--export-onnx={exported}", "-o", tmp_path / "unused"],
               "export with a dense LM head", 300)
    head = model.graph.node[-1].input[1]
    before, after = _weights(model), _weights(onnx.load(str(exported)))
    np.testing.assert_array_equal(after[head], before[head])
    assert sum(np.count_nonzero(w) * 2 == w.size for k, w in after.items() if k != head) \
        == 7 * cfg.layers
