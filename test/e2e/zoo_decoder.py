"""A Llama-style decoder-only language model as ONNX, for the import and pruning tests
(issue 15): the graph HuggingFace's LlamaForCausalLM gives under torch.onnx.export with
do_constant_folding=True at a static sequence length, built node by node like zoo.py's
models (no torch here), with seeded random weights.

Per block: RMSNorm (opset 17: Pow, ReduceMean, Add, Sqrt, Div, Mul; opset 23: the
RMSNormalization op), q/k/v projections without biases, heads views, rotary embeddings
(cos/sin tables gathered at constant positions, rotate_half as two Slices, Neg and Concat),
grouped-query attention (k/v heads repeated with Unsqueeze, Expand and Reshape), a constant
causal mask, Softmax, the output projection and a residual; RMSNorm, a SwiGLU MLP (SiLU as
x * Sigmoid(x)) and a residual. Then a final RMSNorm and the LM head, tied (the embedding
table's transpose, folded into its own initializer as torch's constant folding leaves it)
or untied. Input: token ids [batch, seq] (int64); output: logits [batch, seq, vocab].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import onnx
from onnx import TensorProto, helper

from models import IR_VERSION
from zoo import TorchGraph, _f32, _i64


@dataclass
class DecoderConfig:
    vocab: int = 96
    d: int = 64
    heads: int = 4
    kv_heads: int = 2
    ffn: int = 128
    layers: int = 2
    seq: int = 8
    batch: int = 1
    eps: float = 1e-6
    tied: bool = True
    opset: int = 17
    theta: float = 10000.0
    # Batch and sequence as symbolic dims ("batch", "seq"), exported as torch does with
    # dynamic axes: the reshapes' shapes from Shape -> Gather -> Concat chains, positions
    # from Range, the causal mask from ConstantOfShape, Range, Less and Where, expanded to
    # [B, 1, S, S]; the rotary tables then hold max_positions rows (default 2 * seq).
    dynamic: bool = False
    max_positions: int = 0


def _rms_norm(g: TorchGraph, x: str, d: int, eps: float, opset: int) -> str:
    w = (1.0 + 0.1 * g.rng.standard_normal(d)).astype(np.float32)
    weight = g.init(g.param_name("weight"), w)
    if opset >= 23:
        return g.node("RMSNormalization", [x, weight], axis=-1, epsilon=eps)
    var = g.node("ReduceMean", [g.node("Pow", [x, g.cnode(_f32(2.0))])], axes=[-1],
                 keepdims=1)
    rstd = g.node("Div", [g.cnode(_f32(1.0)),
                          g.node("Sqrt", [g.node("Add", [var, g.cnode(_f32(eps))])])])
    return g.node("Mul", [weight, g.node("Mul", [x, rstd])])


def _shape(g: TorchGraph, parts) -> str:
    """A shape input: a constant, or (with 0-d size tensors among the parts) the Concat
    torch builds for view()/expand()."""
    if any(isinstance(p, str) for p in parts):
        return g.shape_tensor(parts)
    return g.cnode(_i64(list(parts)))


def _proj(g: TorchGraph, x: str, k: int, n: int) -> str:
    """nn.Linear(bias=False) on [B, S, K]: MatMul with the folded [K, N] weight."""
    w = (g.rng.standard_normal([k, n]) / math.sqrt(k)).astype(np.float32)
    return g.node("MatMul", [x, g.init(g.onnx_name("MatMul"), w)])


def _rotate_half(g: TorchGraph, x: str, dh: int) -> str:
    x1 = g.node("Slice", [x, g.cnode(_i64([0])), g.cnode(_i64([dh // 2])), g.cnode(_i64([3])),
                          g.cnode(_i64([1]))])
    x2 = g.node("Slice", [x, g.cnode(_i64([dh // 2])), g.cnode(_i64([dh])), g.cnode(_i64([3])),
                          g.cnode(_i64([1]))])
    return g.node("Concat", [g.node("Neg", [x2]), x1], axis=-1)


def _attention(g: TorchGraph, x: str, cfg: DecoderConfig, cos: str, sin: str,
               mask: str) -> str:
    dh = cfg.d // cfg.heads
    b, s = (cfg.batch, cfg.seq) if not cfg.dynamic else (g.size(x, 0), g.size(x, 1))

    def heads(t: str, n: int) -> str:  # [B, S, n*dh] -> [B, n, S, dh]
        t = g.node("Reshape", [t, _shape(g, [b, s, n, dh])], allowzero=0)
        return g.node("Transpose", [t], perm=[0, 2, 1, 3])

    with g.scope("q_proj"):
        q = heads(_proj(g, x, cfg.d, cfg.heads * dh), cfg.heads)
    with g.scope("k_proj"):
        k = heads(_proj(g, x, cfg.d, cfg.kv_heads * dh), cfg.kv_heads)
    with g.scope("v_proj"):
        v = heads(_proj(g, x, cfg.d, cfg.kv_heads * dh), cfg.kv_heads)
    q = g.node("Add", [g.node("Mul", [q, cos]), g.node("Mul", [_rotate_half(g, q, dh), sin])])
    k = g.node("Add", [g.node("Mul", [k, cos]), g.node("Mul", [_rotate_half(g, k, dh), sin])])
    rep = cfg.heads // cfg.kv_heads

    def repeat_kv(t: str) -> str:  # [B, kv, S, dh] -> [B, heads, S, dh]
        if rep == 1:
            return t
        t = g.node("Unsqueeze", [t, g.cnode(_i64([2]))])
        t = g.node("Expand", [t, _shape(g, [b, cfg.kv_heads, rep, s, dh])])
        return g.node("Reshape", [t, _shape(g, [b, cfg.heads, s, dh])], allowzero=0)

    k, v = repeat_kv(k), repeat_kv(v)
    scores = g.node("MatMul", [q, g.node("Transpose", [k], perm=[0, 1, 3, 2])])
    scores = g.node("Div", [scores, g.cnode(_f32(math.sqrt(dh)))])
    probs = g.node("Softmax", [g.node("Add", [scores, mask])], axis=-1)
    o = g.node("Transpose", [g.node("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    o = g.node("Reshape", [o, _shape(g, [b, s, cfg.d])], allowzero=0)
    with g.scope("o_proj"):
        return _proj(g, o, cfg.d, cfg.d)


def _mlp(g: TorchGraph, x: str, cfg: DecoderConfig) -> str:
    with g.scope("gate_proj"):
        gate = _proj(g, x, cfg.d, cfg.ffn)
    with g.scope("up_proj"):
        up = _proj(g, x, cfg.d, cfg.ffn)
    silu = g.node("Mul", [gate, g.node("Sigmoid", [gate])])
    with g.scope("down_proj"):
        return _proj(g, g.node("Mul", [silu, up]), cfg.ffn, cfg.d)


def _dynamic_causal_mask(g: TorchGraph) -> str:
    """HF _make_causal_mask as torch exports it with a dynamic sequence: full((S, S), min),
    then 0 where arange(S) < (arange(S) + 1).view(S, 1) (on and below the diagonal),
    expanded to [B, 1, S, S]."""
    b, s = g.size("input_ids", 0), g.size("input_ids", 1)
    full = g.node("ConstantOfShape", [g.shape_tensor([s, s])],
                  value=helper.make_tensor("v", TensorProto.FLOAT, [1],
                                           [float(np.finfo(np.float32).min)]))
    cond = g.node("Range", [g.cnode(_i64(0)), s, g.cnode(_i64(1))])
    column = g.node("Reshape", [g.node("Add", [cond, g.cnode(_i64(1))]),
                                g.shape_tensor([s, 1])], allowzero=0)
    mask = g.node("Where", [g.node("Less", [cond, column]), g.cnode(_f32(0.0)), full])
    mask = g.node("Unsqueeze", [mask, g.cnode(_i64([0, 1]))])
    return g.node("Expand", [mask, g.shape_tensor([b, 1, s, s])])


def llama_decoder(cfg: DecoderConfig = DecoderConfig(), seed: int = 15,
                  graph: Optional[TorchGraph] = None, check: bool = True) -> onnx.ModelProto:
    """`graph` may be a TorchGraph subclass that stores initializers elsewhere (external
    data, bench/big_model_bench.py); `check=False` skips shape inference and the full check,
    which need every tensor in memory."""
    g = graph or TorchGraph("llama", seed)
    b, s, dh = cfg.batch, cfg.seq, cfg.d // cfg.heads
    dims = ["batch", "seq"] if cfg.dynamic else [b, s]
    g.inputs.append(helper.make_tensor_value_info("input_ids", TensorProto.INT64, dims))
    table = (0.5 * g.rng.standard_normal([cfg.vocab, cfg.d])).astype(np.float32)
    with g.scope("model", "embed_tokens"):
        embed = g.init(g.param_name("weight"), table)
    h = g.node("Gather", [embed, "input_ids"], axis=0)
    # Rotary tables (LlamaRotaryEmbedding's cos/sin caches) at positions 0..S-1.
    inv_freq = 1.0 / cfg.theta ** (np.arange(0, dh, 2, dtype=np.float64) / dh)
    angles = np.outer(np.arange(cfg.max_positions or 2 * s), inv_freq)
    emb = np.concatenate([angles, angles], axis=-1)
    if cfg.dynamic:
        # position_ids = torch.arange(seq).unsqueeze(0)
        seq = g.size("input_ids", 1)
        positions = g.node("Unsqueeze", [g.node("Range", [g.cnode(_i64(0)), seq,
                                                          g.cnode(_i64(1))]),
                                         g.cnode(_i64([0]))])
    else:
        positions = g.cnode(_i64([list(range(s))]))
    cos = g.node("Unsqueeze", [g.node("Gather", [g.init("cos_cached", _f32(np.cos(emb))),
                                                 positions], axis=0), g.cnode(_i64([1]))])
    sin = g.node("Unsqueeze", [g.node("Gather", [g.init("sin_cached", _f32(np.sin(emb))),
                                                 positions], axis=0), g.cnode(_i64([1]))])
    if cfg.dynamic:
        mask = _dynamic_causal_mask(g)
    else:
        causal = np.triu(np.full((s, s), np.finfo(np.float32).min, np.float32), k=1)
        mask = g.init("causal_mask", causal.reshape(1, 1, s, s))
    for layer in range(cfg.layers):
        with g.scope("model", "layers", str(layer)):
            with g.scope("input_layernorm"):
                n = _rms_norm(g, h, cfg.d, cfg.eps, cfg.opset)
            with g.scope("self_attn"):
                h = g.node("Add", [h, _attention(g, n, cfg, cos, sin, mask)])
            with g.scope("post_attention_layernorm"):
                n = _rms_norm(g, h, cfg.d, cfg.eps, cfg.opset)
            with g.scope("mlp"):
                h = g.node("Add", [h, _mlp(g, n, cfg)])
    with g.scope("model", "norm"):
        h = _rms_norm(g, h, cfg.d, cfg.eps, cfg.opset)
    if cfg.tied:
        head = g.init(g.onnx_name("MatMul"), np.ascontiguousarray(table.T))
    else:
        head = g.init(g.onnx_name("MatMul"), (g.rng.standard_normal([cfg.d, cfg.vocab])
                                              / math.sqrt(cfg.d)).astype(np.float32))
    g.node("MatMul", [h, head], out="logits")
    g.outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                                   [*dims, cfg.vocab]))
    graph = helper.make_graph(g.nodes, "main_graph", g.inputs, g.outputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", cfg.opset)],
                              producer_name="pytorch", producer_version="2.1.0",
                              ir_version=IR_VERSION)
    model.doc_string = "Llama-style decoder (test/e2e/zoo_decoder.py)"
    if check:
        model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        onnx.checker.check_model(model, full_check=True)
    return model


def token_ids(cfg: DecoderConfig, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, cfg.vocab, (cfg.batch, cfg.seq),
                                                dtype=np.int64)
