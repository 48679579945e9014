"""The Python package (python/sparsec, over the C API) against the CLI and
onnxruntime: same report, same exported ONNX bytes, same outputs, also when
two threads compile different models with different options at once."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import models
from sparsec_cli import REPO_ROOT, sparsec_bin

CAPI = sparsec_bin().parent.parent / "lib" / "libsparsec_capi.so"
os.environ.setdefault("SPARSEC_CAPI_LIBRARY", str(CAPI))
sys.path.insert(0, str(REPO_ROOT / "python"))
import sparsec  # noqa: E402


def cli(*args):
    proc = subprocess.run([str(sparsec_bin()), *map(str, args)],
                          capture_output=True, text=True)
    return proc.returncode, proc.stderr


def save(model, path):
    onnx.save(model, str(path))
    return path


def inputs_for(model, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim])
            .astype(np.float32) for i in models.graph_inputs(model)]


def cli_run(path, flags, xs, tmp):
    names = []
    for i, x in enumerate(xs):
        np.save(tmp / f"x{i}.npy", x)
        names.append(f"--input={tmp / f'x{i}.npy'}")
    rc, err = cli(path, *flags, "--run", *names, "-o", tmp / "out")
    assert rc == 0, err
    return np.load(tmp / "out" / "output_0.npy")


def test_snippet_matches_cli_and_onnxruntime(tmp_path):
    path = save(models.mlp_gemm(dims=(64, 128, 64, 10)), tmp_path / "mlp.onnx")
    m = sparsec.load(path)
    m.compress(sparsity="hinm:v=64,vs=0.5", permute="gyro", permute_seed=5)
    flags = ["--sparsity=hinm:v=64,vs=0.5", "--permute=gyro", "--permute-seed=5"]

    rc, err = cli(path, *flags, "--emit=report", "--report-json", "-o", tmp_path / "r.json")
    assert rc == 0, err
    cli_report = json.loads((tmp_path / "r.json").read_text())
    # The CLI compiles for a target (host) and says how it runs each layer;
    # so does the library when told the target. HiNM with half the vectors
    # kept: the host's kernels do at most half the dense work.
    assert m.report(target="host") == cli_report
    kernels = [layer["kernel"] for layer in cli_report["layers"]]
    assert kernels[0].startswith("gemm") and "50% of dense work" in kernels[0], kernels
    # Without a target there is no "kernel" key; the rest is the same.
    report = m.report()
    assert all("kernel" not in layer for layer in report["layers"])
    for layer in cli_report["layers"]:
        del layer["kernel"]
    assert report == cli_report
    assert report["layers"][0]["pattern"] == "hinm"
    # Target options reach the decision (and the CLI's flags say the same).
    rc, err = cli(path, *flags, "--emit=report", "--report-json", "--host-row-patterns=always",
                  "-o", tmp_path / "rp.json")
    assert rc == 0, err
    by_rows = m.report(target="host", host_row_patterns="always")
    assert by_rows == json.loads((tmp_path / "rp.json").read_text())
    assert by_rows["layers"][0]["kernel"] != kernels[0]
    with pytest.raises(sparsec.Error, match="unknown target 'nosuch'"):
        m.report(target="nosuch")
    with pytest.raises(sparsec.Error, match="row-patterns must be auto, always or never"):
        m.report(target="host", row_patterns="sometimes")

    m.export_onnx(tmp_path / "py.onnx", masks=True)
    rc, err = cli(path, *flags, f"--export-onnx={tmp_path / 'cli.onnx'}", "--export-masks")
    assert rc == 0, err
    assert (tmp_path / "py.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()

    exe = m.compile(target="host")
    xs = inputs_for(onnx.load(str(path)), 1)
    (y,) = exe.run(xs)
    assert np.array_equal(y, cli_run(path, flags, xs, tmp_path))
    # Independent reference: onnxruntime on the exported pruned model.
    session = ort.InferenceSession(str(tmp_path / "py.onnx"))
    feed = {i.name: x for i, x in zip(session.get_inputs(), xs)}
    np.testing.assert_allclose(y, session.run(None, feed)[0], rtol=1e-4, atol=1e-5)

    exe.save(tmp_path / "artifact")
    assert (tmp_path / "artifact" / "model.o").read_bytes()[:4] == b"\x7fELF"
    assert exe.inputs == [(np.dtype("float32"), (4, 64))]


def test_handles_may_be_destroyed_in_any_order(tmp_path):
    """A cyclic garbage collector may finalize a Model (and its context)
    before the Executable compiled from it; the executable must keep
    working and then free cleanly (this was a use-after-free)."""
    path = save(models.mlp_gemm(dims=(64, 128, 64, 10)), tmp_path / "mlp.onnx")
    m = sparsec.load(path)
    m.compress(sparsity="nm:n=2,m=4")
    exe = m.compile(target="host")
    expected = exe.run(inputs_for(onnx.load(str(path)), 3))[0]
    m.__del__()  # what the collector does first in a reference cycle
    assert np.array_equal(exe.run(inputs_for(onnx.load(str(path)), 3))[0],
                          expected)
    assert exe.lowered().startswith("module")
    exe.__del__()


def test_errors_carry_the_cli_message(tmp_path):
    path = save(models.mlp_gemm(), tmp_path / "m.onnx")
    m = sparsec.load(path)
    rc, err = cli(path, "--sparsity=hinm:v=64,vs=2")
    with pytest.raises(sparsec.Error) as info:
        m.compress(sparsity="hinm:v=64,vs=2")
    assert rc != 0 and str(info.value) in err
    with pytest.raises(sparsec.Error, match="--cuda-arch must be sm_80 or sm_90a"):
        m.compile(target="cuda", cuda_arch="sm_70")
    with pytest.raises(sparsec.Error, match="unknown target 'tpu'"):
        m.compile(target="tpu")
    with pytest.raises(sparsec.Error, match="unknown option 'spars'"):
        m.compress(spars="nm:n=2,m=4")
    with pytest.raises(sparsec.Error, match="no-such.onnx"):
        sparsec.load(tmp_path / "no-such.onnx")
    with pytest.raises(sparsec.Error, match="input 0: expected float32"):
        m.compile().run([np.zeros((3, 3), np.float32)])


def test_cuda_plan_and_artifact_match_the_cli(tmp_path):
    """compile(target="cuda") runs the target's planner: lowered() shows the
    plan, save() writes the CLI's artifact byte for byte, and what the target
    cannot run fails compile() with the CLI's message."""
    path = save(models.mlp_gemm(dims=(64, 128, 64, 10)), tmp_path / "m.onnx")
    m = sparsec.load(path)
    m.compress(sparsity="nm:n=2,m=4", prune_skip_last=True)
    exe = m.compile(target="cuda", cuda_arch="sm_90a", cuda_wgmma="async")
    lowered = exe.lowered()
    assert 'sparsec.cuda.plan = {arch = "sm_90a", wgmma = "async"}' in lowered
    assert lowered.count('kind = "sparse_kernel"') == 2
    assert 'kind = "host_dense_linear"' in lowered
    exe.save(tmp_path / "py")
    rc, err = cli(path, "--sparsity=nm:n=2,m=4", "--prune-skip-last=1", "--target=cuda",
                  "--cuda-arch=sm_90a", "--cuda-wgmma=async", "-o", tmp_path / "cli")
    assert rc == 0, err
    files = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "py").iterdir())
    for name in files:
        assert (tmp_path / "py" / name).read_bytes() == \
            (tmp_path / "cli" / name).read_bytes(), name

    conv = save(models.resnet_cnn(), tmp_path / "cnn.onnx")
    rc, err = cli(conv, "--target=cuda", "-o", tmp_path / "cnn")
    with pytest.raises(sparsec.Error) as info:
        sparsec.load(conv).compile(target="cuda")
    assert rc != 0 and "the cuda target cannot run this op yet" in str(info.value)
    assert str(info.value) in err


def test_two_threads_with_different_options_match_two_cli_runs(tmp_path):
    jobs = [
        (save(models.mlp_gemm(dims=(64, 128, 64, 10)), tmp_path / "a.onnx"),
         {"sparsity": "nm:n=2,m=4", "permute": "asp", "permute_seed": 1},
         {"host_opt_level": 0}, ["--sparsity=nm:n=2,m=4", "--permute=asp",
                                 "--permute-seed=1", "--host-opt-level=0"]),
        (save(models.bert_encoder(seq=8, d=64, heads=2, ffn=128), tmp_path / "b.onnx"),
         {"sparsity": "hinm:v=64,sparsity=0.75"}, {"opt_level": 2},
         ["--sparsity=hinm:v=64,sparsity=0.75", "--host-opt-level=2"]),
    ]
    results = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def work(i):
        path, compress, target_options, _ = jobs[i]
        xs = inputs_for(onnx.load(str(path)), i)
        barrier.wait()
        m = sparsec.load(path)
        m.compress(**compress)
        results[i] = (xs, m.compile(target="host", **target_options).run(xs)[0])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (path, _, _, flags) in enumerate(jobs):
        xs, y = results[i]
        work_dir = tmp_path / f"cli{i}"
        work_dir.mkdir()
        assert np.array_equal(y, cli_run(path, flags, xs, work_dir)), path.name


def test_two_threads_running_models_at_once_agree_with_one(tmp_path):
    """Two threads' runs overlap 200 times (concurrent_runs.py, in a child process): no
    crash, and every result equals the one-thread result bit for bit."""
    proc = subprocess.run([sys.executable, str(Path(__file__).parent / "concurrent_runs.py"),
                           str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (
        f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def test_pip_install_into_a_fresh_venv(tmp_path):
    """`pip install ./python` into a new venv, then the README snippet."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # Exactly `pip install ./python`: setuptools for the build and numpy come
    # from PyPI or pip's cache.
    env = dict(os.environ, SPARSEC_BUILD_DIR=str(CAPI.parent.parent))
    env.pop("SPARSEC_CAPI_LIBRARY", None)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    str(REPO_ROOT / "python")],
                   check=True, env=env)
    path = save(models.mlp_gemm(), tmp_path / "m.onnx")
    script = f"""
import numpy as np, sparsec
m = sparsec.load({str(path)!r})
m.compress(sparsity="nm:n=2,m=4")
assert m.report()["layers"][0]["pattern"] == "nm"
m.export_onnx({str(tmp_path / 'p.onnx')!r}, masks=True)
exe = m.compile(target="host")
x = np.ones((4, 64), np.float32)
print(exe.run([x])[0].shape, sparsec.__file__)
"""
    proc = subprocess.run([str(python), "-c", script], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "(4, 10)" in proc.stdout and str(venv) in proc.stdout


def test_dynamic_dims_compile_once_and_run_any_length(tmp_path):
    # HF BertLayer exported with a symbolic batch and sequence (issue 15,
    # item 3): one executable, inputs of two sizes, onnxruntime as reference.
    import zoo
    model = zoo.bert_layer(seq=32, d=64, heads=4, ffn=128, batch="batch", seq_dim="seq")
    path = save(model, tmp_path / "bert.onnx")
    m = sparsec.load(path, input_shape=["hidden_states:?x1..64x64",
                                        "attention_mask:?x1x1x1..64"])
    exe = m.compile(target="host")
    assert exe.inputs == [(np.dtype("float32"), (None, None, 64)),
                          (np.dtype("float32"), (None, 1, 1, None))]
    assert exe.outputs == [(np.dtype("float32"), (None, None, 64))]
    session = ort.InferenceSession(str(path))
    for batch, seq in [(1, 3), (2, 21)]:
        rng = np.random.default_rng(seq)
        xs = [rng.standard_normal((batch, seq, 64)).astype(np.float32),
              np.zeros((batch, 1, 1, seq), np.float32)]
        (y,) = exe.run(xs)
        expected = session.run(None, dict(zip(["hidden_states", "attention_mask"], xs)))[0]
        assert y.shape == (batch, seq, 64)
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(sparsec.Error, match="outside its bounds 1..64"):
        exe.run([np.zeros((1, 65, 64), np.float32), np.zeros((1, 1, 1, 65), np.float32)])
