"""The host target's memory plan (sparsec-cpu-plan-memory, docs/CPUBackend.md "Memory"):
intermediates whose lifetimes do not overlap share one arena. A chain of layers whose
buffers are reused while a skip connection keeps an early one alive, against a float64
numpy reference, through --run (main allocates the arena) and through sparsec-run (which
passes an arena it allocated once to main_workspace, three calls in a row); the
artifact's manifest records the arena, smaller than the buffers taken separately; and
the same bits at 1 and 2 threads.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
from onnx import helper

from sparsec_cli import run_at_thread_counts, sparsec_bin
from test_cpu_elementwise import check_against_numpy, save_model
from test_cpu_residual import conv_node, conv_ref, relu

RTOL = 1e-5


def skip_chain(rng):
    """h = relu(conv(x)); four 3x3 convolutions after it, each reusing the memory of
    the one before last; their result plus h (alive all along), through ReLU."""
    x = rng.standard_normal((1, 8, 12, 12)).astype(np.float32)
    init, nodes = [], []
    conv, w, b = conv_node(rng, "h0", "x", 8, 16, 1, 1, 0, init)
    nodes += [conv, helper.make_node("Relu", ["h0"], ["h"])]
    h = relu(conv_ref(x, w, b, 1, 0))
    name, value = "h", h
    for i in range(4):
        conv, w, b = conv_node(rng, f"c{i}", name, 16, 16, 3, 1, 1, init)
        nodes += [conv, helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        name, value = f"r{i}", relu(conv_ref(value.astype(np.float32), w, b, 1, 1))
    nodes += [helper.make_node("Add", [name, "h"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    return nodes, [("x", x)], init, relu(value + h)


def test_shared_buffers_match_numpy(tmp_path: Path):
    nodes, inputs, init, expected = skip_chain(np.random.default_rng(11))
    check_against_numpy(tmp_path, nodes, inputs, init, expected, [], RTOL)


def test_artifact_takes_its_arena_from_the_caller(tmp_path: Path):
    nodes, inputs, init, expected = skip_chain(np.random.default_rng(11))
    model = save_model(tmp_path / "chain.onnx", nodes, inputs, expected.shape, init)
    art = tmp_path / "art"
    proc = subprocess.run([str(sparsec_bin()), str(model), "--target=host", "--emit=artifact",
                           "-o", str(art)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((art / "manifest.json").read_text())
    sizes = manifest["intermediate_bytes"]
    # Each intermediate is at least one 16x12x12 float tensor (9216 bytes); at least
    # six of them exist (h, four convolution outputs, the padded inputs), and no more
    # than h, the padded input being read and the output being written are ever live
    # at once.
    assert sizes["without_plan"] >= 6 * 9216
    assert 3 * 9216 <= sizes["arena"] < sizes["without_plan"] / 2, sizes
    assert manifest["workspace"] == {"entry": "_mlir_ciface_main_workspace",
                                     "bytes": sizes["arena"], "alignment": 64}

    runner = sparsec_bin().parent / "sparsec-run"
    listing = subprocess.run([str(runner), str(art), "--list"], capture_output=True,
                             text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert (f"workspace {sizes['arena']} bytes (the intermediates' arena, allocated once "
            "by sparsec-run; entry _mlir_ciface_main_workspace)") in listing.stdout

    np.save(tmp_path / "x.npy", inputs[0][1])
    proc = subprocess.run([str(runner), str(art), "--input", str(tmp_path / "x.npy"),
                           "--repeat", "3", "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    actual = np.load(tmp_path / "out" / "output_0.npy")
    assert np.abs(actual - expected).max() <= RTOL * np.abs(expected).max()


def test_same_bits_at_1_and_2_threads(tmp_path: Path):
    nodes, inputs, init, expected = skip_chain(np.random.default_rng(12))
    model = save_model(tmp_path / "chain.onnx", nodes, inputs, expected.shape, init)
    outputs = run_at_thread_counts(model, inputs[0][1], tmp_path)
    assert outputs[0].tobytes() == outputs[1].tobytes()
    assert np.abs(outputs[0] - expected).max() <= RTOL * np.abs(expected).max()
