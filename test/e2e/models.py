"""Deterministic ONNX model builders for sparsec end-to-end tests.

Every builder returns an ``onnx.ModelProto`` (float32, static shapes) that passes
``onnx.checker.check_model(m, full_check=True)``. Weights come from fixed numpy seeds.
``MODELS`` maps a test name to a zero-argument callable; ``make_inputs`` builds
deterministic inputs for a model.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 8  # readable by onnx >= 1.10 and by onnxruntime; enough for opset 17


class GraphBuilder:
    """Small helper that accumulates nodes/initializers with unique names."""

    def __init__(self, name: str, seed: int):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes: List[onnx.NodeProto] = []
        self.inits: List[onnx.TensorProto] = []
        self.inputs: List[onnx.ValueInfoProto] = []
        self.outputs: List[onnx.ValueInfoProto] = []
        self._count: Dict[str, int] = {}

    def uniq(self, base: str) -> str:
        n = self._count.get(base, 0)
        self._count[base] = n + 1
        return f"{base}_{n}" if n else base

    # -- values -----------------------------------------------------------
    def input(self, name: str, shape: Sequence[int], dtype=TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, dtype, list(shape)))
        return name

    def output(self, name: str, dtype=TensorProto.FLOAT, shape=None) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, dtype, shape))

    def const(self, base: str, array: np.ndarray) -> str:
        name = self.uniq(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, base: str, shape: Sequence[int], fan_in: Optional[int] = None,
               scale: float = 1.0) -> str:
        fan_in = fan_in or int(np.prod(shape[1:])) or 1
        std = scale * math.sqrt(2.0 / fan_in)
        return self.const(base, (self.rng.standard_normal(shape) * std).astype(np.float32))

    def bias(self, base: str, n: int, scale: float = 0.1) -> str:
        return self.const(base, (self.rng.standard_normal(n) * scale).astype(np.float32))

    # -- nodes ------------------------------------------------------------
    def op(self, op_type: str, inputs: Sequence[str], n_out: int = 1, name: Optional[str] = None,
           out: Optional[str] = None, **attrs):
        name = self.uniq(name or op_type.lower())
        outs = [out] if out else [f"{name}_out{i}" if n_out > 1 else f"{name}_out"
                                  for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=name, **attrs))
        return outs[0] if n_out == 1 else outs

    def model(self, opset: int, doc: str = "") -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs,
                                  initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="sparsec-tests", ir_version=IR_VERSION)
        m.doc_string = doc
        m = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
        onnx.checker.check_model(m, full_check=True)
        return m

    # -- composite layers ---------------------------------------------------
    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int = 0,
             group: int = 1, bias: bool = True, name: str = "conv", **attrs) -> str:
        w = self.weight(f"{name}_w", [cout, cin // group, k, k])
        ins = [x, w] + ([self.bias(f"{name}_b", cout)] if bias else [])
        kw = dict(kernel_shape=[k, k], strides=[stride, stride], group=group)
        if "auto_pad" not in attrs:
            kw["pads"] = [pad] * 4
        kw.update(attrs)
        return self.op("Conv", ins, name=name, **kw)

    def bn(self, x: str, c: int, name: str = "bn") -> str:
        r = self.rng
        scale = self.const(f"{name}_scale", (1.0 + 0.1 * r.standard_normal(c)).astype(np.float32))
        b = self.const(f"{name}_bias", (0.1 * r.standard_normal(c)).astype(np.float32))
        mean = self.const(f"{name}_mean", (0.1 * r.standard_normal(c)).astype(np.float32))
        var = self.const(f"{name}_var", r.uniform(0.5, 1.5, c).astype(np.float32))
        return self.op("BatchNormalization", [x, scale, b, mean, var], name=name, epsilon=1e-5)

    def conv_bn(self, x, cin, cout, k, stride=1, pad=0, group=1, relu=True, name="cbr"):
        y = self.bn(self.conv(x, cin, cout, k, stride, pad, group, bias=False, name=f"{name}_conv"),
                    cout, name=f"{name}_bn")
        return self.op("Relu", [y], name=f"{name}_relu") if relu else y

    def linear(self, x: str, k: int, n: int, name: str = "fc") -> str:
        """MatMul with a constant [K,N] weight + Add bias (PyTorch-export style)."""
        y = self.op("MatMul", [x, self.weight(f"{name}_w", [k, n], fan_in=k, scale=0.7)],
                    name=f"{name}_mm")
        return self.op("Add", [y, self.bias(f"{name}_b", n)], name=f"{name}_add")


def _i64(v) -> np.ndarray:
    return np.asarray(v, dtype=np.int64)


def _f32(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


# ---------------------------------------------------------------------------
# MLPs
# ---------------------------------------------------------------------------
def mlp_gemm(opset: int = 17, batch: int = 4, dims=(64, 128, 64, 10)) -> onnx.ModelProto:
    """MLP with Gemm(transB=1) + Relu layers (torch.nn.Linear export style)."""
    g = GraphBuilder("mlp_gemm", seed=1)
    x = g.input("x", [batch, dims[0]])
    for i, (k, n) in enumerate(zip(dims[:-1], dims[1:])):
        w = g.weight(f"fc{i}_w", [n, k], fan_in=k)
        x = g.op("Gemm", [x, w, g.bias(f"fc{i}_b", n)], name=f"fc{i}", transB=1)
        if i < len(dims) - 2:
            x = g.op("Relu", [x], name=f"relu{i}")
    g.nodes[-1].output[0] = "logits"
    g.output("logits", shape=[batch, dims[-1]])
    return g.model(opset)


def mlp_matmul(opset: int = 13, batch: int = 4, dims=(64, 128, 64, 10)) -> onnx.ModelProto:
    """MLP with MatMul [K,N] + Add bias + Relu; also a Gemm with alpha/beta and transA."""
    g = GraphBuilder("mlp_matmul", seed=2)
    x = g.input("x", [batch, dims[0]])
    for i, (k, n) in enumerate(zip(dims[:-2], dims[1:-1])):
        x = g.op("Relu", [g.linear(x, k, n, name=f"fc{i}")], name=f"relu{i}")
    # last layer: Gemm with transA=1 on a transposed activation, alpha/beta != 1
    xt = g.op("Transpose", [x], name="xT", perm=[1, 0])
    w = g.weight("head_w", [dims[-2], dims[-1]], fan_in=dims[-2])
    c = g.bias("head_b", dims[-1])
    g.op("Gemm", [xt, w, c], name="head", out="logits", transA=1, alpha=0.5, beta=2.0)
    g.output("logits", shape=[batch, dims[-1]])
    return g.model(opset)


# ---------------------------------------------------------------------------
# CNNs
# ---------------------------------------------------------------------------
def resnet_cnn(opset: int = 17, hw: int = 32, classes: int = 10) -> onnx.ModelProto:
    """Tiny ResNet: stem conv-bn-relu, padded MaxPool, identity block, strided block with
    1x1 downsample, GlobalAveragePool, Flatten, Gemm."""
    g = GraphBuilder("tiny_resnet", seed=3)
    x = g.input("input", [1, 3, hw, hw])
    x = g.conv_bn(x, 3, 8, 3, stride=1, pad=1, name="stem")
    x = g.op("MaxPool", [x], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    # identity residual block (8 -> 8)
    y = g.conv_bn(x, 8, 8, 3, pad=1, name="b1c1")
    y = g.conv_bn(y, 8, 8, 3, pad=1, relu=False, name="b1c2")
    x = g.op("Relu", [g.op("Add", [x, y], name="b1_add")], name="b1_relu")
    # strided block with 1x1 downsample (8 -> 16, stride 2)
    y = g.conv_bn(x, 8, 16, 3, stride=2, pad=1, name="b2c1")
    y = g.conv_bn(y, 16, 16, 3, pad=1, relu=False, name="b2c2")
    sc = g.conv_bn(x, 8, 16, 1, stride=2, relu=False, name="b2_down")
    x = g.op("Relu", [g.op("Add", [y, sc], name="b2_add")], name="b2_relu")
    x = g.op("GlobalAveragePool", [x], name="gap")
    x = g.op("Flatten", [x], name="flatten", axis=1)
    w = g.weight("fc_w", [classes, 16], fan_in=16)
    g.op("Gemm", [x, w, g.bias("fc_b", classes)], name="fc", out="logits", transB=1)
    g.output("logits", shape=[1, classes])
    return g.model(opset)


def mobilenet_block(opset: int = 13, c: int = 16, hw: int = 16, expand: int = 6
                    ) -> onnx.ModelProto:
    """MobileNetV2 inverted residual: 1x1 expand, depthwise 3x3 (group=C), Relu6 as Clip with
    min/max inputs, 1x1 project, residual Add; followed by a stride-2 block (no residual)."""
    g = GraphBuilder("mobilenet_v2_block", seed=4)
    lo, hi = g.const("relu6_min", _f32(0.0)), g.const("relu6_max", _f32(6.0))
    x = g.input("input", [1, c, hw, hw])

    def relu6(t, name):
        return g.op("Clip", [t, lo, hi], name=name)

    def block(x, cin, cout, stride, name):
        ce = cin * expand
        y = relu6(g.conv_bn(x, cin, ce, 1, relu=False, name=f"{name}_expand"), f"{name}_r6a")
        y = relu6(g.conv_bn(y, ce, ce, 3, stride=stride, pad=1, group=ce, relu=False,
                            name=f"{name}_dw"), f"{name}_r6b")
        y = g.conv_bn(y, ce, cout, 1, relu=False, name=f"{name}_project")
        if stride == 1 and cin == cout:
            y = g.op("Add", [x, y], name=f"{name}_residual")
        return y

    x = block(x, c, c, 1, "ir1")
    x = block(x, c, 24, 2, "ir2")
    # plain Clip with only min (optional max omitted) and a depthwise conv with bias
    x = g.op("Clip", [x, lo], name="clip_min_only")
    g.conv(x, 24, 24, 3, pad=1, group=24, name="dw_bias")
    g.nodes[-1].output[0] = "features"
    g.output("features", shape=[1, 24, hw // 2, hw // 2])
    return g.model(opset)


def vgg_stack(opset: int = 13, hw: int = 32, classes: int = 10) -> onnx.ModelProto:
    """VGG-style: 3x3 convs (pad 1) + Relu, MaxPool 2x2, AveragePool (incl. a padded one with
    count_include_pad=0), Flatten, Gemm."""
    g = GraphBuilder("vgg_stack", seed=5)
    x = g.input("input", [1, 3, hw, hw])
    x = g.op("Relu", [g.conv(x, 3, 8, 3, pad=1, name="c1")], name="r1")
    x = g.op("Relu", [g.conv(x, 8, 8, 3, pad=1, name="c2")], name="r2")
    x = g.op("MaxPool", [x], name="mp", kernel_shape=[2, 2], strides=[2, 2])
    x = g.op("Relu", [g.conv(x, 8, 16, 3, pad=1, name="c3")], name="r3")
    # dilated conv (explicit pads) keeps 16x16; strided conv with auto_pad SAME_UPPER -> 8x8
    # (asymmetric padding: 0 before, 1 after)
    x = g.op("Relu", [g.conv(x, 16, 16, 3, pad=2, name="c4", dilations=[2, 2])], name="r4")
    x = g.op("Relu", [g.conv(x, 16, 16, 3, stride=2, name="c5", auto_pad="SAME_UPPER")],
             name="r5")
    x = g.op("AveragePool", [x], name="ap", kernel_shape=[2, 2], strides=[2, 2])  # 4x4
    x = g.op("AveragePool", [x], name="ap_pad", kernel_shape=[3, 3], strides=[2, 2],
             pads=[1, 1, 1, 1], count_include_pad=0)  # 2x2
    x = g.op("Flatten", [x], name="flatten", axis=1)
    w = g.weight("fc_w", [classes, 16 * (hw // 16) ** 2])
    g.op("Gemm", [x, w, g.bias("fc_b", classes)], name="fc", out="logits", transB=1)
    g.output("logits", shape=[1, classes])
    return g.model(opset)


# ---------------------------------------------------------------------------
# Transformers
# ---------------------------------------------------------------------------
def _layer_norm(g: GraphBuilder, x: str, d: int, name: str, use_op: bool) -> str:
    gamma = g.const(f"{name}_gamma", (1.0 + 0.1 * g.rng.standard_normal(d)).astype(np.float32))
    beta = g.const(f"{name}_beta", (0.1 * g.rng.standard_normal(d)).astype(np.float32))
    if use_op:
        return g.op("LayerNormalization", [x, gamma, beta], name=name, axis=-1, epsilon=1e-5)
    # opset-13 decomposition, as exported by torch for older opsets
    mean = g.op("ReduceMean", [x], name=f"{name}_mean", axes=[-1], keepdims=1)
    xc = g.op("Sub", [x, mean], name=f"{name}_sub")
    sq = g.op("Pow", [xc, g.const("two", _f32(2.0))], name=f"{name}_pow")
    var = g.op("ReduceMean", [sq], name=f"{name}_var", axes=[-1], keepdims=1)
    std = g.op("Sqrt", [g.op("Add", [var, g.const("eps", _f32(1e-5))], name=f"{name}_addeps")],
               name=f"{name}_sqrt")
    y = g.op("Div", [xc, std], name=f"{name}_div")
    return g.op("Add", [g.op("Mul", [y, gamma], name=f"{name}_mul"), beta], name=f"{name}_add")


def _gelu_erf(g: GraphBuilder, x: str, name: str) -> str:
    """GELU as x * 0.5 * (1 + Erf(x / sqrt(2))) (torch export)."""
    e = g.op("Erf", [g.op("Div", [x, g.const("sqrt2", _f32(math.sqrt(2.0)))], name=f"{name}_div")],
             name=f"{name}_erf")
    e1 = g.op("Add", [e, g.const("one", _f32(1.0))], name=f"{name}_add1")
    xe = g.op("Mul", [x, e1], name=f"{name}_mul")
    return g.op("Mul", [xe, g.const("half", _f32(0.5))], name=f"{name}_half")


def _encoder_layer(g: GraphBuilder, x: str, seq: int, d: int, heads: int, ffn: int,
                   name: str, use_ln_op: bool, dynamic_reshape: bool) -> str:
    """Post-LN BERT encoder layer on x: [1, seq, d]."""
    dh = d // heads
    if dynamic_reshape:
        # PyTorch-export style: shape computed by Shape -> Gather -> Unsqueeze -> Concat
        shp = g.op("Shape", [x], name=f"{name}_shape")
        b = g.op("Gather", [shp, g.const("idx0", _i64(0))], name=f"{name}_gather_b", axis=0)
        s = g.op("Gather", [shp, g.const("idx1", _i64(1))], name=f"{name}_gather_s", axis=0)
        ax0 = g.const("axes0", _i64([0]))
        bu = g.op("Unsqueeze", [b, ax0], name=f"{name}_unsq_b")
        su = g.op("Unsqueeze", [s, ax0], name=f"{name}_unsq_s")
        hd = g.const(f"{name}_heads_dh", _i64([heads, dh]))
        split_shape = g.op("Concat", [bu, su, hd], name=f"{name}_concat_split", axis=0)
        merge_shape = g.op("Concat", [bu, su, g.const(f"{name}_d", _i64([d]))],
                           name=f"{name}_concat_merge", axis=0)
    else:
        split_shape = g.const(f"{name}_split_shape", _i64([1, seq, heads, dh]))
        merge_shape = g.const(f"{name}_merge_shape", _i64([1, seq, d]))

    def heads_of(t, tag, perm):
        r = g.op("Reshape", [t, split_shape], name=f"{name}_{tag}_reshape")
        return g.op("Transpose", [r], name=f"{name}_{tag}_transpose", perm=perm)

    q = heads_of(g.linear(x, d, d, name=f"{name}_q"), "q", [0, 2, 1, 3])  # [1,h,s,dh]
    kt = heads_of(g.linear(x, d, d, name=f"{name}_k"), "k", [0, 2, 3, 1])  # [1,h,dh,s]
    v = heads_of(g.linear(x, d, d, name=f"{name}_v"), "v", [0, 2, 1, 3])
    scores = g.op("MatMul", [q, kt], name=f"{name}_qk")
    scores = g.op("Div", [scores, g.const(f"{name}_sqrt_dh", _f32(math.sqrt(dh)))],
                  name=f"{name}_scale")
    probs = g.op("Softmax", [scores], name=f"{name}_softmax", axis=-1)
    ctx = g.op("MatMul", [probs, v], name=f"{name}_pv")
    ctx = g.op("Transpose", [ctx], name=f"{name}_ctx_transpose", perm=[0, 2, 1, 3])
    ctx = g.op("Reshape", [ctx, merge_shape], name=f"{name}_ctx_reshape")
    attn = g.linear(ctx, d, d, name=f"{name}_o")
    x = _layer_norm(g, g.op("Add", [x, attn], name=f"{name}_res1"), d, f"{name}_ln1", use_ln_op)
    h = _gelu_erf(g, g.linear(x, d, ffn, name=f"{name}_ffn1"), f"{name}_gelu")
    h = g.linear(h, ffn, d, name=f"{name}_ffn2")
    return _layer_norm(g, g.op("Add", [x, h], name=f"{name}_res2"), d, f"{name}_ln2", use_ln_op)


def bert_encoder(opset: int = 17, seq: int = 16, d: int = 64, heads: int = 4, ffn: int = 128,
                 dynamic_reshape: bool = False) -> onnx.ModelProto:
    """One BERT encoder layer, input [1, seq, d]. LayerNormalization op needs opset >= 17;
    for opset < 17 the ReduceMean decomposition is used."""
    g = GraphBuilder("bert_encoder" + ("_shape_subgraph" if dynamic_reshape else ""), seed=6)
    x = g.input("hidden", [1, seq, d])
    y = _encoder_layer(g, x, seq, d, heads, ffn, "l0", use_ln_op=opset >= 17,
                       dynamic_reshape=dynamic_reshape)
    g.nodes.append(helper.make_node("Identity", [y], ["out"], name="out_identity"))
    g.output("out", shape=[1, seq, d])
    return g.model(opset)


def vit_encoder(opset: int = 13, hw: int = 32, patch: int = 8, d: int = 64, heads: int = 4,
                ffn: int = 128, classes: int = 10) -> onnx.ModelProto:
    """ViT: Conv patch embedding, Reshape+Transpose to tokens, position embedding, one encoder
    layer with ReduceMean-based layer norm (opset 13 style), mean pooling, Gemm head.
    Two outputs: logits and the token features."""
    g = GraphBuilder("vit_encoder", seed=7)
    x = g.input("pixels", [1, 3, hw, hw])
    n = (hw // patch) ** 2
    x = g.conv(x, 3, d, patch, stride=patch, name="patch_embed")  # [1,d,h/p,w/p]
    x = g.op("Reshape", [x, g.const("tok_shape", _i64([1, d, -1]))], name="to_tokens")
    x = g.op("Transpose", [x], name="tok_transpose", perm=[0, 2, 1])  # [1,n,d]
    pos = g.const("pos_embed", (0.02 * g.rng.standard_normal([1, n, d])).astype(np.float32))
    x = g.op("Add", [x, pos], name="add_pos")
    x = _encoder_layer(g, x, n, d, heads, ffn, "l0", use_ln_op=False, dynamic_reshape=False)
    g.op("Identity", [x], name="feat_identity", out="tokens")
    pooled = g.op("ReduceMean", [x], name="pool", axes=[1], keepdims=0)  # [1,d]
    w = g.weight("head_w", [classes, d], fan_in=d)
    g.op("Gemm", [pooled, w, g.bias("head_b", classes)], name="head", out="logits", transB=1)
    g.output("logits", shape=[1, classes])
    g.output("tokens", shape=[1, n, d])
    return g.model(opset)


# ---------------------------------------------------------------------------
# Remaining claimed ops in one small graph
# ---------------------------------------------------------------------------
def ops_zoo(opset: int = 13) -> onnx.ModelProto:
    """Covers Exp, Log, Neg, Abs, Reciprocal, Sigmoid, Tanh, Sqrt, Dropout (inference), Cast,
    Slice, Gather, Squeeze, Unsqueeze, Concat, Identity, Constant, Softmax, Shape and two inputs.
    Outputs: float result, int64 result (Cast), and a Gather on the second input."""
    g = GraphBuilder("ops_zoo", seed=8)
    a = g.input("a", [2, 3, 8])
    b = g.input("b", [2, 3, 8])
    e = g.op("Exp", [g.op("Tanh", [a], name="tanh")], name="exp")
    lg = g.op("Log", [g.op("Add", [g.op("Abs", [b], name="abs"), g.const("one", _f32(1.0))],
                              name="abs_plus1")], name="log")
    r = g.op("Reciprocal", [g.op("Add", [lg, g.const("one_b", _f32(1.0))], name="lg_plus1")],
             name="recip")
    s = g.op("Sigmoid", [g.op("Neg", [a], name="neg")], name="sigmoid")
    sq = g.op("Sqrt", [g.op("Mul", [s, e], name="mul_se")], name="sqrt")
    d = g.op("Dropout", [sq], name="dropout")
    cst = g.op("Constant", [], name="const_node",
               value=numpy_helper.from_array(_f32(np.linspace(-1, 1, 8)), "c8"))
    y = g.op("Sub", [g.op("Mul", [d, r], name="mul_dr"), cst], name="sub_c")
    # Slice [:, 1:3, ::2] and a negative-start slice on the last axis
    sl = g.op("Slice", [y, g.const("sl_starts", _i64([1, 0])), g.const("sl_ends", _i64([3, 8])),
                        g.const("sl_axes", _i64([1, 2])), g.const("sl_steps", _i64([1, 2]))],
              name="slice")  # [2,2,4]
    sl2 = g.op("Slice", [y, g.const("sl2_starts", _i64([-4])), g.const("sl2_ends", _i64([100])),
                         g.const("sl2_axes", _i64([-1]))], name="slice_neg")  # [2,3,4]
    sl2 = g.op("Gather", [sl2, g.const("g_idx", _i64([2, 0]))], name="gather_rows", axis=1)
    cat = g.op("Concat", [sl, sl2], name="concat", axis=1)  # [2,4,4]
    u = g.op("Unsqueeze", [cat, g.const("unsq_axes", _i64([0, 3]))], name="unsq")  # [1,2,4,1,4]
    sm = g.op("Softmax", [g.op("Squeeze", [u, g.const("sq_axes", _i64([0, 3]))], name="squeeze")],
              name="softmax", axis=1)
    g.op("Identity", [sm], name="out_identity", out="y")
    # Shape of a static tensor used arithmetically, then Cast float -> int64 (truncation)
    shp = g.op("Cast", [g.op("Shape", [a], name="shape_a")], name="shape_f", to=TensorProto.FLOAT)
    scaled = g.op("Mul", [b, g.const("four", _f32(4.0))], name="b_times4")
    cast_in = g.op("Add", [scaled, g.op("Gather", [shp, g.const("last", _i64(2))], name="g_last",
                                        axis=0)], name="add_shape")
    g.op("Cast", [cast_in], name="cast_i64", out="y_int", to=TensorProto.INT64)
    g.op("Gather", [b, g.const("g_idx2", _i64([[1, 1], [0, 2]]))], name="gather_2d", out="y_gather",
         axis=1)
    g.output("y", shape=[2, 4, 4])
    g.output("y_int", dtype=TensorProto.INT64, shape=[2, 3, 8])
    g.output("y_gather", shape=[2, 2, 2, 8])
    return g.model(opset)


# ---------------------------------------------------------------------------
# Registry and inputs
# ---------------------------------------------------------------------------
MODELS: Dict[str, Callable[[], onnx.ModelProto]] = {
    "mlp_gemm_op13": lambda: mlp_gemm(opset=13),
    "mlp_gemm_op17": lambda: mlp_gemm(opset=17),
    "mlp_matmul_op13": lambda: mlp_matmul(opset=13),
    "mlp_matmul_op17": lambda: mlp_matmul(opset=17),
    "resnet_cnn_op13": lambda: resnet_cnn(opset=13),
    "resnet_cnn_op17": lambda: resnet_cnn(opset=17),
    "mobilenet_block_op13": lambda: mobilenet_block(opset=13),
    "mobilenet_block_op17": lambda: mobilenet_block(opset=17),
    "vgg_stack_op13": lambda: vgg_stack(opset=13),
    "vgg_stack_op17": lambda: vgg_stack(opset=17),
    "bert_encoder_op17": lambda: bert_encoder(opset=17),
    "bert_encoder_shape_subgraph_op17": lambda: bert_encoder(opset=17, dynamic_reshape=True),
    "bert_encoder_reducemean_ln_op13": lambda: bert_encoder(opset=13, dynamic_reshape=True),
    "vit_encoder_op13": lambda: vit_encoder(opset=13),
    "ops_zoo_op13": lambda: ops_zoo(opset=13),
    "ops_zoo_op17": lambda: ops_zoo(opset=17),
}

_NP_OF_ONNX = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64,
               TensorProto.INT64: np.int64, TensorProto.INT32: np.int32, TensorProto.BOOL: np.bool_}


def graph_inputs(model: onnx.ModelProto) -> List[onnx.ValueInfoProto]:
    """Graph inputs that are not initializers, in order."""
    inits = {t.name for t in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in inits]


def input_shape(v: onnx.ValueInfoProto) -> List[int]:
    return [d.dim_value for d in v.type.tensor_type.shape.dim]


def make_inputs(model: onnx.ModelProto, seed: int = 0) -> List[np.ndarray]:
    """Deterministic random inputs (standard normal for floats) for the model's graph inputs."""
    rng = np.random.default_rng(seed)
    out = []
    for v in graph_inputs(model):
        et = v.type.tensor_type.elem_type
        dt = _NP_OF_ONNX[et]
        shape = input_shape(v)
        if et in (TensorProto.FLOAT, TensorProto.DOUBLE):
            out.append(rng.standard_normal(shape).astype(dt))
        elif et == TensorProto.BOOL:
            out.append(rng.integers(0, 2, shape).astype(np.bool_))
        else:
            out.append(rng.integers(-10, 10, shape).astype(dt))
    return out


def run_onnxruntime(model: onnx.ModelProto, inputs: Sequence[np.ndarray]) -> List[np.ndarray]:
    """Reference outputs from onnxruntime (CPU, graph optimizations disabled)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    feeds = {v.name: a for v, a in zip(graph_inputs(model), inputs)}
    return sess.run([o.name for o in model.graph.output], feeds)


if __name__ == "__main__":  # quick self-check: build all, run onnxruntime, print shapes
    for name, build in MODELS.items():
        m = build()
        outs = run_onnxruntime(m, make_inputs(m))
        ops = sorted({n.op_type for n in m.graph.node})
        print(f"{name:36s} nodes={len(m.graph.node):3d} bytes={m.ByteSize():7d} "
              f"outs={[tuple(o.shape) for o in outs]} ops={ops}")
