"""A character-level MLP language model (Bengio et al., 2003) trained here with numpy,
for the calibration tests (issue 15): 8 characters of context, 16-wide embeddings,
two ReLU layers of 256 and a 96-way softmax, trained with Adam for 2000 steps on the
source of two standard-library modules (every 10th block of 1000 characters held out).
Seeded; about a minute on two cores."""
from __future__ import annotations

import argparse
import inspect
import textwrap

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CONTEXT, WIDTH, HIDDEN, VOCAB = 8, 16, 256, 96


def corpus() -> np.ndarray:
    text = inspect.getsource(argparse) + inspect.getsource(textwrap)
    codes = np.frombuffer(text.encode("ascii", "replace"), np.uint8).astype(np.int64)
    return np.clip(codes, 32, 127) - 32  # newlines and tabs become spaces


def _windows(chars: np.ndarray):
    idx = np.arange(len(chars) - CONTEXT)[:, None] + np.arange(CONTEXT + 1)[None, :]
    w = chars[idx]
    return w[:, :CONTEXT], w[:, CONTEXT]


def splits(block: int = 1000):
    """(train, held-out) pairs of (contexts [n, 8] int64, next characters [n])."""
    chars = corpus()
    parts = ([], [])
    for b, start in enumerate(range(0, len(chars) - block, block)):
        parts[b % 10 == 9].append(_windows(chars[start:start + block]))
    return tuple((np.concatenate([p[0] for p in ps]), np.concatenate([p[1] for p in ps]))
                 for ps in parts)


def _forward(P, x):
    e = P["E"][x].reshape(len(x), -1)
    a1 = np.maximum(e @ P["W1"] + P["b1"], 0)
    a2 = np.maximum(a1 @ P["W2"] + P["b2"], 0)
    return e, a1, a2, a2 @ P["W3"] + P["b3"]


def loss(P, x, y) -> float:
    """Mean cross-entropy (nats per character)."""
    z = _forward(P, x)[3]
    z = z - z.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), y]))


def train(x, y, steps: int = 2000, batch: int = 256, lr: float = 2e-3, seed: int = 0):
    rng = np.random.default_rng(seed)
    fan = CONTEXT * WIDTH
    P = {"E": 0.3 * rng.standard_normal((VOCAB, WIDTH)),
         "W1": rng.standard_normal((fan, HIDDEN)) / np.sqrt(fan), "b1": np.zeros(HIDDEN),
         "W2": rng.standard_normal((HIDDEN, HIDDEN)) / np.sqrt(HIDDEN), "b2": np.zeros(HIDDEN),
         "W3": rng.standard_normal((HIDDEN, VOCAB)) / np.sqrt(HIDDEN), "b3": np.zeros(VOCAB)}
    P = {k: v.astype(np.float32) for k, v in P.items()}
    m = {k: np.zeros_like(v) for k, v in P.items()}
    s = {k: np.zeros_like(v) for k, v in P.items()}
    for step in range(1, steps + 1):
        i = rng.integers(0, len(x), batch)
        xb, yb = x[i], y[i]
        e, a1, a2, z = _forward(P, xb)
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(batch), yb] -= 1
        g = p / batch
        G = {"W3": a2.T @ g, "b3": g.sum(0)}
        g2 = (g @ P["W3"].T) * (a2 > 0)
        G["W2"], G["b2"] = a1.T @ g2, g2.sum(0)
        g1 = (g2 @ P["W2"].T) * (a1 > 0)
        G["W1"], G["b1"] = e.T @ g1, g1.sum(0)
        G["E"] = np.zeros_like(P["E"])
        np.add.at(G["E"], xb, (g1 @ P["W1"].T).reshape(batch, CONTEXT, WIDTH))
        for k in P:
            m[k] = 0.9 * m[k] + 0.1 * G[k]
            s[k] = 0.999 * s[k] + 0.001 * G[k] ** 2
            P[k] -= lr * (m[k] / (1 - 0.9 ** step)) / (np.sqrt(s[k] / (1 - 0.999 ** step)) + 1e-8)
    return P


def to_onnx(P, batch: int) -> onnx.ModelProto:
    """ids [batch, 8] -> Gather -> Reshape -> (Gemm, Relu) x 2 -> Gemm -> logits."""
    nodes = [helper.make_node("Gather", ["E", "ids"], ["e"], axis=0),
             helper.make_node("Reshape", ["e", "shape"], ["ef"]),
             helper.make_node("Gemm", ["ef", "W1", "b1"], ["h1"]),
             helper.make_node("Relu", ["h1"], ["a1"]),
             helper.make_node("Gemm", ["a1", "W2", "b2"], ["h2"]),
             helper.make_node("Relu", ["h2"], ["a2"]),
             helper.make_node("Gemm", ["a2", "W3", "b3"], ["logits"])]
    inits = [numpy_helper.from_array(P[k], k) for k in ("E", "W1", "b1", "W2", "b2", "W3", "b3")]
    inits.append(numpy_helper.from_array(np.array([batch, CONTEXT * WIDTH], np.int64), "shape"))
    graph = helper.make_graph(
        nodes, "char_mlp_lm", [helper.make_tensor_value_info("ids", TensorProto.INT64,
                                                             [batch, CONTEXT])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, VOCAB])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
