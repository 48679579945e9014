"""Stand-ins for PyTorch (TorchScript exporter, opset 17, do_constant_folding=True) exports of
standard vision models and transformer layers, built with onnx.helper and seeded random weights.

The graphs mimic what ``torch.onnx.export(model.eval(), x, opset_version=17,
do_constant_folding=True)`` writes for torchvision / HuggingFace modules:

* node names ``/layer1/layer1.0/conv1/Conv``, values ``/layer1/layer1.0/conv1/Conv_output_0``,
  parameters named after the module (``fc.weight``) or ``onnx::Conv_123`` when folded,
  scalar/shape constants as ``Constant`` nodes (not initializers);
* Conv carries dilations/group/kernel_shape/pads/strides, MaxPool ceil_mode=0, Gemm
  alpha/beta/transB=1, Reshape allowzero=0, BatchNormalization momentum=0.9 training_mode=0;
* BN folded into Conv weight+bias (torch's eval peephole, the default) or kept as
  BatchNormalization (``fold_bn=False``); the two variants compute the same function;
* ``Linear`` on 3-D input is MatMul with a [K, N] initializer followed by ``Add(bias, mm)``
  (bias first, as torch's linear symbolic emits it); on 2-D input it is Gemm(transB=1);
* reshapes of activations use Shape -> Gather(Constant idx) -> Unsqueeze(Constant axes) ->
  Concat chains (``shape_mode="chain"``, what dynamic_axes exports look like) or a single
  Constant shape (``shape_mode="const"``, what a fully static export folds to);
* GELU as Div/Erf/Add/Mul/Mul, LayerNormalization (opset 17), Dropout nodes kept.

Weights use He-style scaling (std = sqrt(2/fan_in) before ReLU, sqrt(1/fan_in) for linear
layers feeding attention/LayerNorm) so activations stay O(1); BN has positive variance.

``ZOO`` maps a name to a ``ZooEntry`` (builder, input maker, flags). ``make_inputs`` /
``run_onnxruntime`` give deterministic inputs and reference outputs.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models import GraphBuilder, IR_VERSION

INT64_MAX = np.iinfo(np.int64).max
Dim = Union[int, str]


def _i64(v) -> np.ndarray:
    return np.asarray(v, dtype=np.int64)


def _f32(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float32)


class TorchGraph(GraphBuilder):
    """GraphBuilder that names things the way the TorchScript ONNX exporter does."""

    def __init__(self, name: str, seed: int):
        super().__init__(name, seed)
        self._scope: List[str] = []
        self._used: Dict[str, int] = {}
        self._onnx_id = 200  # torch numbers folded params onnx::Conv_<id>

    # -- naming -----------------------------------------------------------
    @contextlib.contextmanager
    def scope(self, *parts: str):
        """Enter module scope(s); ``scope("layer1", "0")`` -> /layer1/layer1.0."""
        pushed = 0
        for p in parts:
            full = f"{self._scope[-1]}.{p}" if self._scope and not p.startswith("/") else p
            # torch scope segments are the dotted path relative to the root module
            self._scope.append(full.lstrip("/"))
            pushed += 1
        try:
            yield
        finally:
            for _ in range(pushed):
                self._scope.pop()

    def _node_name(self, op_type: str) -> str:
        base = "/" + "/".join(self._scope + [op_type]) if self._scope else f"/{op_type}"
        n = self._used.get(base, 0)
        self._used[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def param_name(self, leaf: str) -> str:
        """Module parameter name: scope path + leaf, e.g. layer1.0.conv1.weight."""
        return f"{self._scope[-1]}.{leaf}" if self._scope else leaf

    def onnx_name(self, op_type: str) -> str:
        self._onnx_id += 1
        return f"onnx::{op_type}_{self._onnx_id}"

    # -- values -----------------------------------------------------------
    def init(self, name: str, array: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op_type: str, inputs: Sequence[str], n_out: int = 1, out: Optional[str] = None,
             **attrs):
        name = self._node_name(op_type)
        outs = [out] if out else [f"{name}_output_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=name, **attrs))
        return outs[0] if n_out == 1 else outs

    def cnode(self, array: np.ndarray) -> str:
        """A Constant node (how torch exports scalars, indices and shape pieces)."""
        arr = np.asarray(array)
        return self.node("Constant", [], value=numpy_helper.from_array(arr, ""))

    # -- torch-export idioms -------------------------------------------------
    def size(self, x: str, dim: int) -> str:
        """x.size(dim): Shape -> Gather(Constant scalar idx, axis 0); a 0-d int64."""
        shp = self.node("Shape", [x])
        return self.node("Gather", [shp, self.cnode(_i64(dim))], axis=0)

    def unsq0(self, s: str) -> str:
        return self.node("Unsqueeze", [s, self.cnode(_i64([0]))])

    def shape_tensor(self, parts: Sequence[Union[int, str]]) -> str:
        """Concat(axis 0) of 1-D pieces: ints become Constant [v], names are 0-d int64 values
        (unsqueezed here). This is torch's prim::ListConstruct for a view()/reshape()."""
        pieces = [self.cnode(_i64([p])) if isinstance(p, (int, np.integer)) else self.unsq0(p)
                  for p in parts]
        return self.node("Concat", pieces, axis=0)

    def reshape(self, x: str, shape: Optional[Sequence[int]], dyn: Optional[Sequence[Union[int, str]]],
                mode: str) -> str:
        """Reshape x to `shape`; in chain mode the shape input is built from `dyn` (ints and
        0-d size tensors), in const mode it is a Constant node."""
        if mode == "chain" and dyn is not None:
            s = self.shape_tensor(dyn)
        else:
            s = self.cnode(_i64(shape))
        return self.node("Reshape", [x, s], allowzero=0)

    def dropout(self, x: str) -> str:
        return self.node("Dropout", [x])

    # -- layers ---------------------------------------------------------------
    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int = 0,
             group: int = 1, bias: bool = True, w_scale: float = 1.0) -> str:
        fan_in = (cin // group) * k * k
        w = (self.rng.standard_normal([cout, cin // group, k, k])
             * (w_scale * math.sqrt(2.0 / fan_in))).astype(np.float32)
        ins = [x, self.init(self.param_name("weight"), w)]
        if bias:
            ins.append(self.init(self.param_name("bias"),
                                 (0.05 * self.rng.standard_normal(cout)).astype(np.float32)))
        return self.node("Conv", ins, dilations=[1, 1], group=group, kernel_shape=[k, k],
                         pads=[pad] * 4, strides=[stride, stride])

    def conv_bn(self, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int = 0,
                group: int = 1, fold: bool = True, gamma_scale: float = 1.0,
                conv_name: str = "conv", bn_name: str = "bn") -> str:
        """torchvision Conv2d(bias=False) + BatchNorm2d, folded (torch eval export) or not.
        Call inside the parent module scope; conv_name/bn_name are the child module names."""
        fan_in = (cin // group) * k * k
        r = self.rng
        w = (r.standard_normal([cout, cin // group, k, k]) * math.sqrt(2.0 / fan_in))
        gamma = (1.0 + 0.1 * r.standard_normal(cout)) * gamma_scale
        beta = 0.05 * r.standard_normal(cout)
        mean = 0.05 * r.standard_normal(cout)
        var = r.uniform(0.6, 1.4, cout)
        eps = 1e-5
        attrs = dict(dilations=[1, 1], group=group, kernel_shape=[k, k], pads=[pad] * 4,
                     strides=[stride, stride])
        if fold:
            s = gamma / np.sqrt(var + eps)
            wf = self.init(self.onnx_name("Conv"), (w * s[:, None, None, None]).astype(np.float32))
            bf = self.init(self.onnx_name("Conv"), (beta - mean * s).astype(np.float32))
            with self.scope(conv_name):
                return self.node("Conv", [x, wf, bf], **attrs)
        with self.scope(conv_name):
            y = self.node("Conv", [x, self.init(self.param_name("weight"), w.astype(np.float32))],
                          **attrs)
        with self.scope(bn_name):
            ps = [self.init(self.param_name(n), v.astype(np.float32)) for n, v in
                  (("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", var))]
            return self.node("BatchNormalization", [y, *ps], epsilon=eps, momentum=0.9,
                             training_mode=0)

    def relu(self, x: str) -> str:
        return self.node("Relu", [x])

    def gemm(self, x: str, k: int, n: int, scale: float = 1.0) -> str:
        """nn.Linear on a 2-D input: Gemm(transB=1) with [N, K] weight."""
        w = (self.rng.standard_normal([n, k]) * (scale / math.sqrt(k))).astype(np.float32)
        b = (0.05 * self.rng.standard_normal(n)).astype(np.float32)
        return self.node("Gemm", [x, self.init(self.param_name("weight"), w),
                                  self.init(self.param_name("bias"), b)],
                         alpha=1.0, beta=1.0, transB=1)

    def linear3d(self, x: str, k: int, n: int, scale: float = 1.0) -> str:
        """nn.Linear on >2-D input: MatMul with a folded [K, N] weight, then Add(bias, mm)."""
        w = (self.rng.standard_normal([k, n]) * (scale / math.sqrt(k))).astype(np.float32)
        b = (0.05 * self.rng.standard_normal(n)).astype(np.float32)
        mm = self.node("MatMul", [x, self.init(self.onnx_name("MatMul"), w)])
        return self.node("Add", [self.init(self.param_name("bias"), b), mm])

    def layer_norm(self, x: str, d: int, eps: float) -> str:
        g = (1.0 + 0.1 * self.rng.standard_normal(d)).astype(np.float32)
        b = (0.05 * self.rng.standard_normal(d)).astype(np.float32)
        return self.node("LayerNormalization", [x, self.init(self.param_name("weight"), g),
                                                self.init(self.param_name("bias"), b)],
                         axis=-1, epsilon=eps)

    def gelu(self, x: str) -> str:
        """torch gelu (approximate='none') symbolic: x * (1 + erf(x / sqrt2)) * 0.5."""
        d = self.node("Div", [x, self.cnode(_f32(1.4142135381698608))])
        e = self.node("Erf", [d])
        a = self.node("Add", [e, self.cnode(_f32(1.0))])
        m = self.node("Mul", [x, a])
        return self.node("Mul", [m, self.cnode(_f32(0.5))])

    # -- model ----------------------------------------------------------------
    def torch_model(self, doc: str = "") -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, "main_graph", self.inputs, self.outputs,
                                  initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="pytorch", producer_version="2.1.0",
                              ir_version=IR_VERSION)
        m.doc_string = doc
        m = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
        onnx.checker.check_model(m, full_check=m.ByteSize() < 1_500_000_000)
        return m


# ---------------------------------------------------------------------------
# CNNs
# ---------------------------------------------------------------------------
def _image_input(g: TorchGraph, name: str, hw: int, batch: Dim) -> str:
    return g.input(name, [batch, 3, hw, hw])


def _classifier_tail(g: TorchGraph, x: str, c: int, classes: int, out: str) -> str:
    """AdaptiveAvgPool2d(1) -> GlobalAveragePool, torch.flatten(x, 1) -> Flatten, fc -> Gemm."""
    with g.scope("avgpool"):
        x = g.node("GlobalAveragePool", [x])
    x = g.node("Flatten", [x], axis=1)
    with g.scope("fc"):
        x = g.gemm(x, c, classes)
    g.nodes[-1].output[0] = out
    return out


def resnet(depth: int = 18, hw: int = 224, classes: int = 1000, fold_bn: bool = True,
           batch: Dim = 1, seed: int = 18) -> onnx.ModelProto:
    """torchvision resnet18 / resnet50 (v1.5: stride on the 3x3 of the bottleneck)."""
    cfg = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]),
           50: ("bottleneck", [3, 4, 6, 3])}[depth]
    kind, blocks = cfg
    expansion = 1 if kind == "basic" else 4
    g = TorchGraph(f"resnet{depth}", seed=seed)
    x = _image_input(g, "input.1", hw, batch)
    with g.scope():
        x = g.conv_bn(x, 3, 64, 7, stride=2, pad=3, fold=fold_bn, conv_name="conv1",
                      bn_name="bn1")
        with g.scope("relu"):
            x = g.relu(x)
        with g.scope("maxpool"):
            x = g.node("MaxPool", [x], ceil_mode=0, kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                       strides=[2, 2])
    cin = 64
    for li, (n, width) in enumerate(zip(blocks, [64, 128, 256, 512])):
        layer = f"layer{li + 1}"
        for bi in range(n):
            stride = 2 if (bi == 0 and li > 0) else 1
            cout = width * expansion
            with g.scope(layer, str(bi)):
                ident = x
                if kind == "basic":
                    y = g.conv_bn(x, cin, width, 3, stride, 1, fold=fold_bn, conv_name="conv1",
                                  bn_name="bn1")
                    with g.scope("relu"):
                        y = g.relu(y)
                    y = g.conv_bn(y, width, width, 3, 1, 1, fold=fold_bn, gamma_scale=0.5,
                                  conv_name="conv2", bn_name="bn2")
                else:
                    y = g.conv_bn(x, cin, width, 1, fold=fold_bn, conv_name="conv1",
                                  bn_name="bn1")
                    with g.scope("relu"):
                        y = g.relu(y)
                    y = g.conv_bn(y, width, width, 3, stride, 1, fold=fold_bn,
                                  conv_name="conv2", bn_name="bn2")
                    with g.scope("relu"):
                        y = g.relu(y)
                    y = g.conv_bn(y, width, cout, 1, fold=fold_bn, gamma_scale=0.5,
                                  conv_name="conv3", bn_name="bn3")
                if stride != 1 or cin != cout:
                    with g.scope("downsample"):
                        ident = g.conv_bn(x, cin, cout, 1, stride, fold=fold_bn,
                                          conv_name="0", bn_name="1")
                x = g.node("Add", [y, ident])
                with g.scope("relu"):
                    x = g.relu(x)
            cin = cout
    with g.scope():
        _classifier_tail(g, x, cin, classes, out="output")
    g.output("output", shape=[batch, classes])
    return g.torch_model(f"torchvision resnet{depth} stand-in, fold_bn={fold_bn}")


def mobilenet_v2(hw: int = 224, classes: int = 1000, fold_bn: bool = True, batch: Dim = 1,
                 seed: int = 2) -> onnx.ModelProto:
    """torchvision mobilenet_v2 (width 1.0): Conv-BN-ReLU6 with ReLU6 as Clip(x, min, max) where
    min/max are Constant nodes, depthwise 3x3 convs (group=C), inverted residual Adds."""
    g = TorchGraph("mobilenet_v2", seed=seed)
    x = _image_input(g, "input.1", hw, batch)

    def cbr6(x, cin, cout, k, stride, group, idx_prefix, relu6=True, gamma_scale=1.0):
        # torchvision Conv2dNormActivation: children "0" (conv), "1" (bn), "2" (ReLU6)
        with g.scope(*idx_prefix):
            y = g.conv_bn(x, cin, cout, k, stride, (k - 1) // 2, group=group, fold=fold_bn,
                          gamma_scale=gamma_scale, conv_name="0", bn_name="1")
            if relu6:
                with g.scope("2"):
                    y = g.node("Clip", [y, g.cnode(_f32(0.0)), g.cnode(_f32(6.0))])
        return y

    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1)]
    fi = 0
    with g.scope("features"):
        x = cbr6(x, 3, 32, 3, 2, 1, [str(fi)])
        cin = 32
        for t, c, n, s in settings:
            for i in range(n):
                fi += 1
                stride = s if i == 0 else 1
                hidden = cin * t
                with g.scope(str(fi), "conv"):
                    y = x
                    j = 0
                    if t != 1:
                        y = cbr6(y, cin, hidden, 1, 1, 1, [str(j)])
                        j += 1
                    y = cbr6(y, hidden, hidden, 3, stride, hidden, [str(j)])
                    j += 1
                    # project: conv (j) + bn (j+1), no activation
                    y = g.conv_bn(y, hidden, c, 1, fold=fold_bn, gamma_scale=0.5,
                                  conv_name=str(j), bn_name=str(j + 1))
                if stride == 1 and cin == c:
                    with g.scope(str(fi)):
                        y = g.node("Add", [x, y])
                x = y
                cin = c
        fi += 1
        x = cbr6(x, cin, 1280, 1, 1, 1, [str(fi)])
    # forward(): adaptive_avg_pool2d(x, (1, 1)) -> GlobalAveragePool; flatten; classifier
    x = g.node("GlobalAveragePool", [x])
    x = g.node("Flatten", [x], axis=1)
    with g.scope("classifier"):
        with g.scope("0"):
            x = g.dropout(x)
        with g.scope("1"):
            g.gemm(x, 1280, classes)
    g.nodes[-1].output[0] = "output"
    g.output("output", shape=[batch, classes])
    return g.torch_model(f"torchvision mobilenet_v2 stand-in, fold_bn={fold_bn}")


def vgg16(hw: int = 224, classes: int = 1000, width_div: int = 1, fc: int = 4096,
          pool_mode: str = "avgpool", batch: Dim = 1, seed: int = 16) -> onnx.ModelProto:
    """torchvision vgg16 (no BN): 13 conv3x3+ReLU, 5 MaxPool(2,2), AdaptiveAvgPool2d((7,7)),
    flatten, classifier Linear/ReLU/Dropout x2 + Linear. On a 224 input the adaptive pool sees
    7x7 and torch exports it as AveragePool(kernel 1, stride 1) (pool_mode="avgpool"); a
    GlobalAveragePool (pool_mode="gap", i.e. AdaptiveAvgPool2d(1)) variant shrinks fc1 to C.
    width_div divides all channel counts (cheap variant for CI)."""
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    g = TorchGraph("vgg16", seed=seed)
    x = _image_input(g, "input.1", hw, batch)
    cin, side = 3, hw
    with g.scope("features"):
        for i, v in enumerate(cfg):
            with g.scope(str(i)):
                if v == "M":
                    x = g.node("MaxPool", [x], ceil_mode=0, kernel_shape=[2, 2], pads=[0] * 4,
                               strides=[2, 2])
                    side //= 2
                else:
                    c = v // width_div
                    x = g.relu(g.conv(x, cin, c, 3, 1, 1))
                    cin = c
    with g.scope("avgpool"):
        if pool_mode == "gap":
            x = g.node("GlobalAveragePool", [x])
            side = 1
        else:
            assert side % 7 == 0, "AdaptiveAvgPool2d((7,7)) export needs a 7-divisible input"
            k = side // 7
            x = g.node("AveragePool", [x], ceil_mode=0, count_include_pad=1,
                       kernel_shape=[k, k], pads=[0] * 4, strides=[k, k])
            side = 7
    x = g.node("Flatten", [x], axis=1)
    feat = cin * side * side
    fcw = fc // width_div
    with g.scope("classifier"):
        for i, (k, n) in enumerate([(feat, fcw), (fcw, fcw)]):
            with g.scope(str(3 * i)):
                x = g.gemm(x, k, n, scale=math.sqrt(2.0))
            with g.scope(str(3 * i + 1)):
                x = g.relu(x)
            with g.scope(str(3 * i + 2)):
                x = g.dropout(x)
        with g.scope("6"):
            g.gemm(x, fcw, classes)
    g.nodes[-1].output[0] = "output"
    g.output("output", shape=[batch, classes])
    return g.torch_model(f"torchvision vgg16 stand-in, width_div={width_div}, pool={pool_mode}")


# ---------------------------------------------------------------------------
# Transformers
# ---------------------------------------------------------------------------
def _bert_self_attention(g: TorchGraph, x: str, mask: str, d: int, heads: int, seq: Dim,
                         batch: Dim, mode: str) -> str:
    """HF BertSelfAttention.forward (eager attention) as torch exports it."""
    dh = d // heads

    def transpose_for_scores(t: str) -> str:
        # new_x_shape = x.size()[:-1] + (heads, dh); x.view(new_x_shape).permute(0, 2, 1, 3)
        dyn = [g.size(t, 0), g.size(t, 1), heads, dh] if mode == "chain" else None
        static = None if dyn else [_dim(batch), _dim(seq), heads, dh]
        r = g.reshape(t, static, dyn, mode)
        return g.node("Transpose", [r], perm=[0, 2, 1, 3])

    with g.scope("query"):
        q = g.linear3d(x, d, d)
    with g.scope("key"):
        k = g.linear3d(x, d, d)
    k = transpose_for_scores(k)
    with g.scope("value"):
        v = g.linear3d(x, d, d)
    v = transpose_for_scores(v)
    q = transpose_for_scores(q)
    kt = g.node("Transpose", [k], perm=[0, 1, 3, 2])  # key_layer.transpose(-1, -2)
    s = g.node("MatMul", [q, kt])
    s = g.node("Div", [s, g.cnode(_f32(math.sqrt(dh)))])
    s = g.node("Add", [s, mask])
    p = g.node("Softmax", [s], axis=-1)
    with g.scope("dropout"):
        p = g.dropout(p)
    c = g.node("MatMul", [p, v])
    c = g.node("Transpose", [c], perm=[0, 2, 1, 3])
    dyn = [g.size(c, 0), g.size(c, 1), d] if mode == "chain" else None
    return g.reshape(c, None if dyn else [_dim(batch), _dim(seq), d], dyn, mode)


def _dim(d: Dim) -> int:
    """Static value for a const-mode shape; symbolic dims must use chain mode."""
    if isinstance(d, str):
        raise ValueError("symbolic dims need shape_mode='chain'")
    return d


def bert_layer(seq: int = 128, d: int = 768, heads: int = 12, ffn: int = 3072,
               shape_mode: str = "chain", batch: Dim = 1, seq_dim: Optional[Dim] = None,
               seed: int = 768) -> onnx.ModelProto:
    """HF BertLayer (post-LN) exported alone: inputs hidden_states [B, S, d] and the extended
    float attention mask [B, 1, 1, S]; output [B, S, d]."""
    g = TorchGraph("bert_layer", seed=seed)
    s = seq if seq_dim is None else seq_dim
    x = g.input("hidden_states", [batch, s, d])
    mask = g.input("attention_mask", [batch, 1, 1, s])
    with g.scope("attention"):
        with g.scope("self"):
            a = _bert_self_attention(g, x, mask, d, heads, s, batch, shape_mode)
        with g.scope("output"):
            with g.scope("dense"):
                a = g.linear3d(a, d, d)
            with g.scope("dropout"):
                a = g.dropout(a)
            a = g.node("Add", [a, x])
            with g.scope("LayerNorm"):
                a = g.layer_norm(a, d, 1e-12)
    with g.scope("intermediate"):
        with g.scope("dense"):
            h = g.linear3d(a, d, ffn, scale=1.0)
        with g.scope("intermediate_act_fn"):
            h = g.gelu(h)
    with g.scope("output"):
        with g.scope("dense"):
            h = g.linear3d(h, ffn, d, scale=1.0)
        with g.scope("dropout"):
            h = g.dropout(h)
        h = g.node("Add", [h, a])
        with g.scope("LayerNorm"):
            g.layer_norm(h, d, 1e-12)
    g.nodes[-1].output[0] = "output"
    g.output("output", shape=[batch, s, d])
    return g.torch_model(f"HF BertLayer stand-in (d={d}, heads={heads}, seq={seq}, ffn={ffn}, "
                         f"shape_mode={shape_mode})")


def _sdpa(g: TorchGraph, q: str, k: str, v: str) -> str:
    """torch symbolic_opset14.scaled_dot_product_attention (no mask, no dropout, scale None)."""
    qs = g.node("Shape", [q])
    last = g.node("Slice", [qs, g.cnode(_i64([-1])), g.cnode(_i64([INT64_MAX]))])
    emb = g.node("Cast", [last], to=TensorProto.FLOAT)
    scale = g.node("Div", [g.cnode(_f32([1.0])), g.node("Sqrt", [emb])])
    scale = g.node("Cast", [scale], to=TensorProto.FLOAT)
    kt = g.node("Transpose", [k], perm=[0, 1, 3, 2])
    qsc = g.node("Mul", [q, g.node("Sqrt", [scale])])
    ksc = g.node("Mul", [kt, g.node("Sqrt", [scale])])
    w = g.node("Softmax", [g.node("MatMul", [qsc, ksc])], axis=-1)
    return g.node("MatMul", [w, v])


def _torch_mha(g: TorchGraph, x: str, d: int, heads: int, n_tok: int) -> str:
    """nn.MultiheadAttention(batch_first=True)(x, x, x, need_weights=False) as torch 2.x
    exports F.multi_head_attention_forward: packed in-projection, unflatten/unsqueeze/
    transpose/squeeze split, per-head views built from Shape/Gather chains, SDPA, out-proj as
    Gemm on a 2-D view."""
    dh = d // heads
    x = g.node("Transpose", [x], perm=[1, 0, 2])  # [L, N, E]
    tgt_len, bsz = g.size(x, 0), g.size(x, 1)
    proj = g.linear3d(x, d, 3 * d)  # [L, N, 3E]
    # proj.unflatten(-1, (3, E)): Shape -> Slice(:-1) -> Concat([3, E]) -> Reshape
    ps = g.node("Shape", [proj])
    head = g.node("Slice", [ps, g.cnode(_i64([0])), g.cnode(_i64([-1]))])
    proj = g.node("Reshape", [proj, g.node("Concat", [head, g.cnode(_i64([3, d]))], axis=0)],
                  allowzero=0)
    proj = g.node("Unsqueeze", [proj, g.cnode(_i64([0]))])  # [1, L, N, 3, E]
    proj = g.node("Transpose", [proj], perm=[3, 1, 2, 0, 4])  # transpose(0, -2)
    proj = g.node("Squeeze", [proj, g.cnode(_i64([3]))])  # squeeze(-2) -> [3, L, N, E]
    q, k, v = (g.node("Gather", [proj, g.cnode(_i64(i))], axis=0) for i in range(3))
    bh = g.node("Mul", [bsz, g.cnode(_i64(heads))])

    def heads_view(t: str) -> str:
        # t.view(L, bsz * heads, dh).transpose(0, 1) -> [N*H, L, dh]
        t = g.node("Reshape", [t, g.shape_tensor([tgt_len, bh, dh])], allowzero=0)
        return g.node("Transpose", [t], perm=[1, 0, 2])

    q, k, v = heads_view(q), heads_view(k), heads_view(v)
    # q.view(bsz, heads, L, dh) (same for k, v)
    q, k, v = (g.node("Reshape", [t, g.shape_tensor([bsz, heads, tgt_len, dh])], allowzero=0)
               for t in (q, k, v))
    o = _sdpa(g, q, k, v)  # [N, H, L, dh]
    o = g.node("Transpose", [o], perm=[2, 0, 1, 3])  # permute(2, 0, 1, 3)
    nl = g.node("Mul", [bsz, tgt_len])
    o = g.node("Reshape", [o, g.shape_tensor([nl, d])], allowzero=0)
    with g.scope("out_proj"):
        o = g.gemm(o, d, d)
    o = g.node("Reshape", [o, g.shape_tensor([tgt_len, bsz, g.size(o, 1)])], allowzero=0)
    return g.node("Transpose", [o], perm=[1, 0, 2])  # back to batch_first


def vit_b16(hw: int = 224, patch: int = 16, d: int = 768, heads: int = 12, mlp: int = 3072,
            depth: int = 1, classes: int = 1000, class_token: str = "expand",
            batch: int = 1, seed: int = 1616) -> onnx.ModelProto:
    """torchvision vit_b_16 with `depth` encoder blocks (the real model has 12):
    Conv patch embed (k=s=patch), reshape(n, d, nh*nw) via Shape chain, permute(0, 2, 1),
    class token (class_token="expand": class_token.expand(n, -1, -1) as torch exports it, with
    ConstantOfShape/Mul/Equal/Where/Expand; "concat": plain Concat of the constant), Concat,
    Add pos_embedding, Dropout, pre-LN encoder blocks with nn.MultiheadAttention, final
    LayerNorm, x[:, 0] Gather, Gemm head."""
    g = TorchGraph("vit_b_16", seed=seed)
    x = g.input("x", [batch, 3, hw, hw])
    nh = hw // patch
    n_tok = nh * nh + 1
    n = g.size(x, 0)
    with g.scope("conv_proj"):
        w = (g.rng.standard_normal([d, 3, patch, patch]) * math.sqrt(1.0 / (3 * patch * patch)))
        y = g.node("Conv", [x, g.init(g.param_name("weight"), w.astype(np.float32)),
                            g.init(g.param_name("bias"),
                                   (0.05 * g.rng.standard_normal(d)).astype(np.float32))],
                   dilations=[1, 1], group=1, kernel_shape=[patch, patch], pads=[0] * 4,
                   strides=[patch, patch])
    y = g.node("Reshape", [y, g.shape_tensor([n, d, nh * nh])], allowzero=0)
    y = g.node("Transpose", [y], perm=[0, 2, 1])
    cls = g.init("class_token", (0.5 * g.rng.standard_normal([1, 1, d])).astype(np.float32))
    if class_token == "expand":
        size = g.node("Concat", [g.unsq0(n), g.cnode(_i64([-1])), g.cnode(_i64([-1]))], axis=0)
        ones = g.node("ConstantOfShape", [g.node("Shape", [size])],
                      value=numpy_helper.from_array(_i64([1]), ""))
        neg = g.node("Mul", [ones, g.cnode(_i64(-1))])
        size = g.node("Where", [g.node("Equal", [size, neg]), ones, size])
        cls = g.node("Expand", [cls, size])
    y = g.node("Concat", [cls, y], axis=1)
    with g.scope("encoder"):
        pos = g.init("encoder.pos_embedding",
                     (0.5 * g.rng.standard_normal([1, n_tok, d])).astype(np.float32))
        y = g.node("Add", [y, pos])
        with g.scope("dropout"):
            y = g.dropout(y)
        for li in range(depth):
            with g.scope("layers", f"encoder_layer_{li}"):
                inp = y
                with g.scope("ln_1"):
                    t = g.layer_norm(y, d, 1e-6)
                with g.scope("self_attention"):
                    t = _torch_mha(g, t, d, heads, n_tok)
                with g.scope("dropout"):
                    t = g.dropout(t)
                y = g.node("Add", [t, inp])
                with g.scope("ln_2"):
                    t = g.layer_norm(y, d, 1e-6)
                with g.scope("mlp"):
                    with g.scope("0"):
                        t = g.linear3d(t, d, mlp)
                    with g.scope("1"):
                        t = g.gelu(t)
                    with g.scope("2"):
                        t = g.dropout(t)
                    with g.scope("3"):
                        t = g.linear3d(t, mlp, d)
                    with g.scope("4"):
                        t = g.dropout(t)
                y = g.node("Add", [y, t])
        with g.scope("ln"):
            y = g.layer_norm(y, d, 1e-6)
    y = g.node("Gather", [y, g.cnode(_i64(0))], axis=1)  # x[:, 0]
    with g.scope("heads", "head"):
        g.gemm(y, d, classes)
    g.nodes[-1].output[0] = "output"
    g.output("output", shape=[batch, classes])
    return g.torch_model(f"torchvision vit_b_16 stand-in (hw={hw}, patch={patch}, d={d}, "
                         f"depth={depth}, class_token={class_token}, batch={batch})")


# ---------------------------------------------------------------------------
# MLP
# ---------------------------------------------------------------------------
def mlp(batch: Dim = 1, dims: Sequence[int] = (1024, 4096, 4096, 1000),
        seed: int = 4096) -> onnx.ModelProto:
    """torch nn.Sequential(Linear, ReLU, Linear, ReLU, Linear) as exported: Gemm(transB=1)
    with [out, in] weights. At batch 1 its 100 MB of weights make it bound by memory
    bandwidth; at batch 16 each weight is used 16 times."""
    g = TorchGraph("mlp", seed=seed)
    x = g.input("input", [batch, dims[0]])
    layers = list(zip(dims[:-1], dims[1:]))
    for i, (k, n) in enumerate(layers):
        with g.scope(str(2 * i)):
            x = g.gemm(x, k, n)
        if i + 1 < len(layers):
            with g.scope(str(2 * i + 1)):
                x = g.relu(x)
    g.nodes[-1].output[0] = "output"
    g.output("output", shape=[batch, dims[-1]])
    return g.torch_model(f"MLP stand-in (dims={tuple(dims)}, batch={batch})")


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------
@dataclass
class ZooEntry:
    build: Callable[[], onnx.ModelProto]
    full: bool  # full-size (run only with SPARSEC_FULL_ZOO=1)
    # concrete shapes for symbolic inputs: {input name: shape}; passed as --input-shape
    input_shapes: Dict[str, Tuple[int, ...]] = field(default_factory=dict)
    timeout_s: float = 120.0
    note: str = ""


def _sym_bert_shapes(b: int, s: int, d: int) -> Dict[str, Tuple[int, ...]]:
    return {"hidden_states": (b, s, d), "attention_mask": (b, 1, 1, s)}


ZOO: Dict[str, ZooEntry] = {
    # ---- CI-affordable subset --------------------------------------------------
    "resnet18_64": ZooEntry(lambda: resnet(18, hw=64), False),
    "resnet18_64_bn": ZooEntry(lambda: resnet(18, hw=64, fold_bn=False), False),
    "mobilenet_v2_96": ZooEntry(lambda: mobilenet_v2(hw=96), False),
    "mobilenet_v2_96_bn": ZooEntry(lambda: mobilenet_v2(hw=96, fold_bn=False), False),
    "vgg16_w8_224": ZooEntry(lambda: vgg16(hw=224, width_div=8), False,
                             note="channels/8; AdaptiveAvgPool as AveragePool k1"),
    "vgg16_w8_gap_64": ZooEntry(lambda: vgg16(hw=64, width_div=8, pool_mode="gap"), False),
    "vgg16_w8_gap_64_batch_sym": ZooEntry(
        lambda: vgg16(hw=64, width_div=8, pool_mode="gap", batch="batch"), False,
        {"input.1": (3, 3, 64, 64)}),
    "bert_layer_s32": ZooEntry(lambda: bert_layer(seq=32), False),
    "bert_layer_s32_const": ZooEntry(lambda: bert_layer(seq=32, shape_mode="const"), False),
    "bert_layer_s32_sym": ZooEntry(lambda: bert_layer(seq=32, batch="batch", seq_dim="seq"),
                                   False, _sym_bert_shapes(2, 32, 768)),
    "vit_b16_64": ZooEntry(lambda: vit_b16(hw=64), False),
    "vit_b16_64_concat": ZooEntry(lambda: vit_b16(hw=64, class_token="concat"), False),
    "vit_b16_64_batch2": ZooEntry(lambda: vit_b16(hw=64, batch=2), False),
    "mlp_256": ZooEntry(lambda: mlp(batch=4, dims=(256, 512, 384, 10)), False),
    # ---- full tier (SPARSEC_FULL_ZOO=1) ----------------------------------------
    # reduced-size but slow to compile (~10 s / ~60 s on 2 cores)
    "resnet18_64_batch_sym": ZooEntry(lambda: resnet(18, hw=64, batch="batch"), True,
                                      {"input.1": (2, 3, 64, 64)}),
    "resnet50_64": ZooEntry(lambda: resnet(50, hw=64), True, timeout_s=600),
    "mobilenet_v2_96_batch_sym": ZooEntry(lambda: mobilenet_v2(hw=96, batch="batch"), True,
                                          {"input.1": (2, 3, 96, 96)}),
    # full size
    "resnet18": ZooEntry(lambda: resnet(18), True, timeout_s=600),
    "resnet18_bn": ZooEntry(lambda: resnet(18, fold_bn=False), True, timeout_s=600),
    "resnet18_batch_sym": ZooEntry(lambda: resnet(18, batch="batch"), True,
                                   {"input.1": (1, 3, 224, 224)}, timeout_s=600),
    "resnet50": ZooEntry(lambda: resnet(50), True, timeout_s=900),
    "mobilenet_v2": ZooEntry(lambda: mobilenet_v2(), True, timeout_s=600),
    "vgg16": ZooEntry(lambda: vgg16(), True, timeout_s=1800),
    "bert_layer": ZooEntry(lambda: bert_layer(seq=128), True, timeout_s=600),
    "vit_b16": ZooEntry(lambda: vit_b16(), True, timeout_s=600),
    "mlp": ZooEntry(lambda: mlp(), True, timeout_s=600),
    # one batch of 8 or more per model (bench/host_models.py --models ..._b8)
    "resnet50_b8": ZooEntry(lambda: resnet(50, batch=8), True, timeout_s=900),
    "mobilenet_v2_b8": ZooEntry(lambda: mobilenet_v2(batch=8), True, timeout_s=600),
    "bert_layer_b8": ZooEntry(lambda: bert_layer(seq=128, batch=8), True, timeout_s=600),
    "vit_b16_b8": ZooEntry(lambda: vit_b16(batch=8), True, timeout_s=600),
    "mlp_b16": ZooEntry(lambda: mlp(batch=16), True, timeout_s=600),
}

_NP = {TensorProto.FLOAT: np.float32, TensorProto.INT64: np.int64}


def graph_inputs(model: onnx.ModelProto) -> List[onnx.ValueInfoProto]:
    inits = {t.name for t in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in inits]


def input_shapes(model: onnx.ModelProto,
                 overrides: Optional[Dict[str, Tuple[int, ...]]] = None
                 ) -> Dict[str, Tuple[int, ...]]:
    overrides = overrides or {}
    out = {}
    for v in graph_inputs(model):
        if v.name in overrides:
            out[v.name] = tuple(overrides[v.name])
            continue
        dims = v.type.tensor_type.shape.dim
        if any(not d.HasField("dim_value") for d in dims):
            raise ValueError(f"input {v.name} has symbolic dims; give a concrete shape")
        out[v.name] = tuple(d.dim_value for d in dims)
    return out


def make_inputs(model: onnx.ModelProto, overrides: Optional[Dict[str, Tuple[int, ...]]] = None,
                seed: int = 0) -> List[np.ndarray]:
    """Images / hidden states: standard normal. attention_mask: HF extended mask
    (1 - m) * -10000 with the last quarter of positions masked."""
    rng = np.random.default_rng(seed)
    arrs = []
    for name, shape in input_shapes(model, overrides).items():
        if name == "attention_mask":
            s = shape[-1]
            m = np.zeros(shape, np.float32)
            m[..., s - s // 4:] = -10000.0
            arrs.append(m)
        else:
            arrs.append(rng.standard_normal(shape).astype(np.float32))
    return arrs


def ort_session(model: Union[onnx.ModelProto, str], threads: int = 1, optimize: bool = False):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else
                                   ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    src = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def run_onnxruntime(model: Union[onnx.ModelProto, str], inputs: Sequence[np.ndarray],
                    names: Optional[Sequence[str]] = None) -> List[np.ndarray]:
    """Reference outputs: onnxruntime CPU, graph optimizations disabled, 1 thread."""
    sess = ort_session(model)
    names = names or [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, inputs)))


def shape_args(entry: ZooEntry) -> List[str]:
    return [f"--input-shape={n}:{'x'.join(map(str, s))}" for n, s in entry.input_shapes.items()]


if __name__ == "__main__":  # build everything small, run onnxruntime, print a summary
    import sys
    names = sys.argv[1:] or [n for n, e in ZOO.items() if not e.full]
    for name in names:
        e = ZOO[name]
        m = e.build()
        ins = make_inputs(m, e.input_shapes)
        outs = run_onnxruntime(m, ins)
        ops = sorted({n.op_type for n in m.graph.node})
        o = outs[0]
        print(f"{name:24s} nodes={len(m.graph.node):4d} MB={m.ByteSize() / 1e6:7.1f} "
              f"out={o.shape} absmax={np.abs(o).max():.3g} std={o.std():.3g} ops={ops}")
