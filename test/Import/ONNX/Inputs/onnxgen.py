"""Writes small ONNX models for the importer lit tests: onnxgen.py NAME OUT."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(0)


def init(name, shape):
    return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def model(nodes, inputs, outputs, inits, opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def mlp():
    return model([
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="act"),
        helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2"),
    ], [vi("x", [2, 16])], [vi("y", [2, 4])],
        [init("w1", [8, 16]), init("b1", [8]), init("w2", [8, 4])])


def conv():
    return model([
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv1", pads=[1, 1, 1, 1],
                         strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], name="bn1"),
        helper.make_node("Conv", ["n", "dw"], ["d"], name="dw1", group=8, pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["d"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["y"], name="gap"),
    ], [vi("x", [1, 3, 16, 16])], [vi("y", [1, 8, 1, 1])],
        [init("w", [8, 3, 3, 3]), init("b", [8]), init("s", [8]), init("bb", [8]),
         init("m", [8]), numpy_helper.from_array(np.ones(8, np.float32), "v"),
         init("dw", [8, 1, 3, 3])])


def shape_fold():
    # The PyTorch export pattern for x.view(x.size(0), -1).
    return model([
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="cat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape"),
    ], [vi("x", [2, 3, 4])], [vi("y", [2, 12])],
        [numpy_helper.from_array(np.array(0, np.int64), "zero"),
         numpy_helper.from_array(np.array([0], np.int64), "axes"),
         numpy_helper.from_array(np.array([-1], np.int64), "minus1")])


def dynamic_heads():
    # x.view(x.size(0), x.size(1), 2, 4).transpose(1, 2), then back to
    # [B, S, 8] with Reshape(0, 0, -1): the torch export pattern for
    # attention heads, with a symbolic batch and sequence.
    return model([
        helper.make_node("MatMul", ["x", "w"], ["h"], name="proj"),
        helper.make_node("Shape", ["h"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["b"], name="batch", axis=0),
        helper.make_node("Gather", ["s", "one"], ["t"], name="seq", axis=0),
        helper.make_node("Unsqueeze", ["b", "axes"], ["b1"], name="unsq_b"),
        helper.make_node("Unsqueeze", ["t", "axes"], ["t1"], name="unsq_t"),
        helper.make_node("Concat", ["b1", "t1", "heads"], ["target"], name="cat", axis=0),
        helper.make_node("Reshape", ["h", "target"], ["r"], name="split_heads"),
        helper.make_node("Transpose", ["r"], ["p"], name="perm", perm=[0, 2, 1, 3]),
        helper.make_node("Softmax", ["p"], ["sm"], name="softmax", axis=-1),
        helper.make_node("Transpose", ["sm"], ["q"], name="unperm", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["q", "merge"], ["y"], name="merge_heads"),
    ], [vi("x", ["batch", "seq", 8])], [vi("y", ["batch", "seq", 8])],
        [init("w", [8, 8]),
         numpy_helper.from_array(np.array(0, np.int64), "zero"),
         numpy_helper.from_array(np.array(1, np.int64), "one"),
         numpy_helper.from_array(np.array([0], np.int64), "axes"),
         numpy_helper.from_array(np.array([2, 4], np.int64), "heads"),
         numpy_helper.from_array(np.array([0, 0, -1], np.int64), "merge")])


def _dynamic_mask(start):
    # A decoder's causal mask from its sequence length: full((S, S), -inf),
    # 0 where arange(S) < (arange(S) + 1).view(S, 1), added to x [S, S].
    c = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
    return model([
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="seq", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "n1"], ["nn"], name="cat", axis=0),
        helper.make_node("ConstantOfShape", ["nn"], ["full"], name="full",
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [-1e9])),
        helper.make_node("Range", ["start", "n", "one"], ["pos"], name="arange"),
        helper.make_node("Add", ["pos", "one"], ["pos1"], name="plus1"),
        helper.make_node("Concat", ["n1", "axes1"], ["col"], name="cat_col", axis=0),
        helper.make_node("Reshape", ["pos1", "col"], ["column"], name="view"),
        helper.make_node("Less", ["pos", "column"], ["keep"], name="less"),
        helper.make_node("Where", ["keep", "zerof", "full"], ["mask"], name="where"),
        helper.make_node("Add", ["x", "mask"], ["y"], name="add"),
    ], [vi("x", ["seq", "seq"])], [vi("y", ["seq", "seq"])],
        [c("zero", 0), c("axes", [0]), c("start", start), c("one", 1), c("axes1", [1]),
         numpy_helper.from_array(np.array(0, np.float32), "zerof")])


def dynamic_mask():
    return _dynamic_mask(0)


def dynamic_mask_start1():
    return _dynamic_mask(1)


def dynamic_broadcast():
    # x [batch, 4] + y [3, 4]: legal ONNX when batch is 1 or 3.
    return model([helper.make_node("Add", ["x", "y"], ["z"], name="add")],
                 [vi("x", ["batch", 4])], [vi("z", [3, 4])], [init("y", [3, 4])])


def dynamic_conv():
    # A convolution does not take dynamic dims yet.
    return model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                 [vi("x", ["batch", 3, 8, 8])], [vi("y", ["batch", 4, 6, 6])],
                 [init("w", [4, 3, 3, 3])])


def unsupported():
    return model([helper.make_node("Einsum", ["x", "x"], ["y"], name="weird", equation="ij,ij->ij")],
                 [vi("x", [2, 2])], [vi("y", [2, 2])], [])


def symbolic():
    return model([helper.make_node("Relu", ["x"], ["y"], name="act")],
                 [vi("x", ["batch", 4])], [vi("y", ["batch", 4])], [])


def opset18():
    return model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], [],
                 opset=18)


def opset99():
    return model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", [2])], [vi("y", [2])], [],
                 opset=99)


def split_pad18():
    """Split into num_outputs=3 uneven parts (4, 4, 2) along axis 1, the
    middle part padded in constant mode on axis -1 only (axes input), the
    last reflected."""
    i64 = lambda name, v: helper.make_tensor(name, TensorProto.INT64, [len(v)], v)
    return model([
        helper.make_node("Split", ["x"], ["a", "b", "c"], name="split", axis=1,
                         num_outputs=3),
        helper.make_node("Pad", ["b", "pads", "", "axes"], ["pb"], name="pad"),
        helper.make_node("Pad", ["c", "rpads"], ["rc"], name="reflect", mode="reflect"),
    ], [vi("x", [2, 10])], [vi("a", [2, 4]), vi("pb", [2, 7]), vi("rc", [2, 5])],
        [i64("pads", [1, 2]), i64("axes", [-1]), i64("rpads", [0, 1, 0, 2])], opset=18)


def decoder_ops23():
    """RMSNormalization (opset 23) over the last axis, then Gelu (20) with
    the tanh approximation."""
    return model([
        helper.make_node("RMSNormalization", ["x", "scale"], ["n"], name="norm",
                         epsilon=1e-6),
        helper.make_node("Gelu", ["n"], ["y"], name="act", approximate="tanh"),
    ], [vi("x", [2, 8])], [vi("y", [2, 8])], [init("scale", [8])], opset=23)


def mod_castlike():
    """Integer Mod with fmod=0 (the divisor's sign) on int64 inputs, integer
    Div, and CastLike to the float input's type."""
    ivi = lambda name, shape: helper.make_tensor_value_info(name, TensorProto.INT64, shape)
    return model([
        helper.make_node("Mod", ["a", "b"], ["r"], name="mod"),
        helper.make_node("Div", ["a", "b"], ["q"], name="div"),
        helper.make_node("Add", ["r", "q"], ["s"], name="sum"),
        helper.make_node("CastLike", ["s", "x"], ["y"], name="like"),
    ], [ivi("a", [6]), ivi("b", [6]), vi("x", [1])], [vi("y", [6])], [], opset=21)


def resize19():
    """Resize: linear, half_pixel, scales (1, 1, 2, 1.5) on [1, 2, 3, 4]."""
    f32 = lambda name, v: helper.make_tensor(name, TensorProto.FLOAT, [len(v)], v)
    return model([
        helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up", mode="linear"),
    ], [vi("x", [1, 2, 3, 4])], [vi("y", [1, 2, 6, 6])], [f32("scales", [1, 1, 2, 1.5])],
        opset=19)


def _col2im(channels):
    i64 = lambda name, v: helper.make_tensor(name, TensorProto.INT64, [len(v)], v)
    return model([
        helper.make_node("Col2Im", ["x", "image", "block"], ["y"], name="fold",
                         dilations=[1, 2], pads=[1, 0, 0, 1]),
    ], [vi("x", [1, channels, 9])], [vi("y", [1, channels // 4, 3, 4])],
        [i64("image", [3, 4]), i64("block", [2, 2])], opset=18)


def col2im18():
    """Col2Im (opset 18) of [1, 2 * 2 * 2, 9] columns into a 3 x 4 image: block
    2 x 2 with dilations (1, 2), pads (top 1, right 1), strides 1 (3 x 3 blocks
    over the 4 x 5 padded image)."""
    return _col2im(8)


def col2im18_bad():
    """The same with 7 input channels, not a multiple of the 4 block positions."""
    return _col2im(7)


def cuda_mlp():
    """Gemm+Relu, MatMul with a residual Add, and a small dense head: the ops
    the cuda target maps (sparse layers, fused ReLU, host Add)."""
    return model([
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="act1"),
        helper.make_node("MatMul", ["r", "w2"], ["m"], name="fc2"),
        helper.make_node("Add", ["m", "x"], ["s"], name="residual"),
        helper.make_node("Gemm", ["s", "w3"], ["y"], name="head", transB=1),
    ], [vi("x", [5, 96])], [vi("y", [5, 10])],
        [init("w1", [128, 96]), init("b1", [128]), init("w2", [128, 96]),
         init("w3", [10, 96])])


def cuda_wide():
    """One Gemm with 2048 output rows: large enough for the cuda target's
    sm_90a default to pick wgmma with 256-row tiles."""
    return model([helper.make_node("Gemm", ["x", "w"], ["y"], name="wide", transB=1)],
                 [vi("x", [3, 64])], [vi("y", [3, 2048])], [init("w", [2048, 64])])


def cuda_ffn():
    """A transformer FFN as torch exports it (3-D MatMul + Add bias, GELU as
    Div/Erf/Add/Mul/Mul, residual Add): the cuda target fuses bias and GELU."""
    c = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.float32), name)
    return model([
        helper.make_node("MatMul", ["x", "w1"], ["m1"], name="fc1"),
        helper.make_node("Add", ["m1", "b1"], ["h"], name="fc1_bias"),
        helper.make_node("Div", ["h", "sqrt2"], ["d"], name="gelu_div"),
        helper.make_node("Erf", ["d"], ["e"], name="gelu_erf"),
        helper.make_node("Add", ["e", "one"], ["e1"], name="gelu_add"),
        helper.make_node("Mul", ["h", "e1"], ["he"], name="gelu_mul"),
        helper.make_node("Mul", ["he", "half"], ["g"], name="gelu_half"),
        helper.make_node("MatMul", ["g", "w2"], ["m2"], name="fc2"),
        helper.make_node("Add", ["m2", "b2"], ["o"], name="fc2_bias"),
        helper.make_node("Add", ["o", "x"], ["y"], name="residual"),
    ], [vi("x", [2, 7, 64])], [vi("y", [2, 7, 64])],
        [init("w1", [64, 128]), init("b1", [128]), init("w2", [128, 64]), init("b2", [64]),
         c("sqrt2", 2 ** 0.5), c("one", 1.0), c("half", 0.5)])


if __name__ == "__main__":
    onnx.save(globals()[sys.argv[1]](), sys.argv[2])
