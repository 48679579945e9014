"""Writes malformed ONNX models for the importer's hardening tests:
hostile.py NAME OUT_DIR writes OUT_DIR/NAME.onnx (and any external data file
next to it). Models are serialized as they are: no checker, no shape inference.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=8)


def const_node(out, tensor, name):
    return helper.make_node("Constant", [], [out], name=name, value=tensor)


def f32(name, values, shape=None):
    a = np.array(values, np.float32)
    return numpy_helper.from_array(a if shape is None else a.reshape(shape), name)


def i64(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


# --- item 2: Constant value tensors that share a name ------------------------

def dup_constant_names(d):
    """y = x + A + B with A and B both named 'c' (legal ONNX)."""
    return model([
        const_node("a", f32("c", [1, 2, 3, 4]), "constA"),
        const_node("b", f32("c", [10, 20, 30, 40]), "constB"),
        helper.make_node("Add", ["x", "a"], ["t"], name="addA"),
        helper.make_node("Add", ["t", "b"], ["y"], name="addB"),
    ], [vi("x", [4])], [vi("y", [4])])


def dup_constant_names_sizes(d):
    """The same with sizes that differ: the first 'c' holds one float, the
    second eight (the name-keyed cache read 32 bytes from a 4-byte buffer)."""
    return model([
        const_node("a", f32("c", [5]), "constA"),
        const_node("b", f32("c", list(range(8)), [8]), "constB"),
        helper.make_node("Add", ["x", "a"], ["t"], name="addA"),
        helper.make_node("Add", ["t", "b"], ["y"], name="addB"),
    ], [vi("x", [8])], [vi("y", [8])])


# --- item 3: tensor data that does not match its dims --------------------------

def short_shape_initializer(d):
    """A Reshape target of dims [2] with 12 bytes of raw data: ONNX 1.12's
    ParseData copies 12 bytes into an 8-byte vector during shape inference."""
    t = TensorProto(name="target", dims=[2], data_type=TensorProto.INT64,
                    raw_data=np.array([3, 2], np.int64).tobytes()[:12])
    return model([helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape")],
                 [vi("x", [2, 3])], [vi("y", [3, 2])], [t])


def short_constant_tensor(d):
    """The same data in a Constant node's value."""
    t = TensorProto(name="target", dims=[2], data_type=TensorProto.INT64,
                    raw_data=np.array([3, 2], np.int64).tobytes()[:12])
    return model([const_node("target", t, "shape_const"),
                  helper.make_node("Reshape", ["x", "target"], ["y"], name="reshape")],
                 [vi("x", [2, 3])], [vi("y", [3, 2])])


def typed_data_count(d):
    """float_data with 3 values for dims [4]."""
    t = TensorProto(name="w", dims=[4], data_type=TensorProto.FLOAT,
                    float_data=[1, 2, 3])
    return model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [vi("x", [4])], [vi("y", [4])], [t])


def dims_product_overflow(d):
    """dims whose int64 product wraps to 0, with empty raw data."""
    t = TensorProto(name="w", dims=[2 ** 32, 2 ** 32, 4], data_type=TensorProto.INT64,
                    raw_data=b"")
    return model([helper.make_node("Reshape", ["x", "w"], ["y"], name="reshape")],
                 [vi("x", [4])], [vi("y", [4])], [t])


def duplicate_initializer(d):
    return model([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                 [vi("x", [2])], [vi("y", [2])], [f32("w", [1, 2]), f32("w", [3, 4])])


# --- item 4: malformed graphs -----------------------------------------------

def uint8_constant_output(d):
    t = numpy_helper.from_array(np.array([1, 2, 3], np.uint8), "u")
    return model([const_node("y", t, "u8")], [], [vi("y", [3], TensorProto.UINT8)])


def gemm_missing_b(d):
    return model([helper.make_node("Gemm", ["x"], ["y"], name="gemm")],
                 [vi("x", [2, 3])], [vi("y", [2, 3])])


def gemm_empty_b(d):
    return model([helper.make_node("Gemm", ["x", ""], ["y"], name="gemm")],
                 [vi("x", [2, 3])], [vi("y", [2, 3])])


def concat_no_inputs(d):
    return model([helper.make_node("Concat", [], ["y"], name="cat", axis=0),
                  helper.make_node("Add", ["x", "y"], ["z"], name="add")],
                 [vi("x", [2])], [vi("z", [2])])


def batchnorm_three_inputs(d):
    return model([helper.make_node("BatchNormalization", ["x", "s", "b"], ["y"], name="bn")],
                 [vi("x", [1, 2, 3, 3])], [vi("y", [1, 2, 3, 3])],
                 [f32("s", [1, 1]), f32("b", [0, 0])])


def where_two_inputs(d):
    return model([helper.make_node("Where", ["c", "x"], ["y"], name="where")],
                 [vi("c", [2], TensorProto.BOOL), vi("x", [2])], [vi("y", [2])])


def layernorm_no_scale(d):
    return model([helper.make_node("LayerNormalization", ["x"], ["y"], name="ln")],
                 [vi("x", [2, 4])], [vi("y", [2, 4])])


def conv_zero_stride(d):
    w = f32("w", np.ones(9), [1, 1, 3, 3])
    return model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv",
                                   strides=[0, 1], auto_pad="SAME_UPPER")],
                 [vi("x", [1, 1, 5, 5])], [vi("y", [1, 1, 5, 5])], [w])


def conv_huge_pads(d):
    w = f32("w", np.ones(9), [1, 1, 3, 3])
    big = 2 ** 62
    return model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv",
                                   pads=[big, big, big, big])],
                 [vi("x", [1, 1, 5, 5])], [vi("y", [1, 1, 5, 5])], [w])


def conv_huge_dilation(d):
    w = f32("w", np.ones(9), [1, 1, 3, 3])
    return model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv",
                                   dilations=[2 ** 62, 1])],
                 [vi("x", [1, 1, 5, 5])], [vi("y", [1, 1, 5, 5])], [w])


def pool_short_strides(d):
    return model([helper.make_node("MaxPool", ["x"], ["y"], name="pool",
                                   kernel_shape=[2, 2], strides=[1])],
                 [vi("x", [1, 1, 4, 4])], [vi("y", [1, 1, 3, 3])])


def pool_zero_stride(d):
    return model([helper.make_node("AveragePool", ["x"], ["y"], name="pool",
                                   kernel_shape=[2, 2], strides=[0, 0])],
                 [vi("x", [1, 1, 4, 4])], [vi("y", [1, 1, 3, 3])])


def pool_zero_kernel(d):
    return model([helper.make_node("MaxPool", ["x"], ["y"], name="pool",
                                   kernel_shape=[0, 2])],
                 [vi("x", [1, 1, 4, 4])], [vi("y", [1, 1, 3, 3])])


def matmul_scalar(d):
    return model([helper.make_node("MatMul", ["x", "x"], ["y"], name="mm")],
                 [vi("x", [])], [vi("y", [])])


def softmax_scalar(d):
    return model([helper.make_node("Softmax", ["x"], ["y"], name="sm")],
                 [vi("x", [])], [vi("y", [])])


def squeeze_scalar(d):
    return model([helper.make_node("Squeeze", ["x", "axes"], ["y"], name="sq")],
                 [vi("x", [])], [vi("y", [])], [i64("axes", [0])])


def concat_scalars(d):
    return model([helper.make_node("Concat", ["x", "x"], ["y"], name="cat", axis=0)],
                 [vi("x", [])], [vi("y", [2])])


def gemm_vector_b(d):
    return model([helper.make_node("Gemm", ["x", "b"], ["y"], name="gemm", transB=1)],
                 [vi("x", [2, 3]), vi("b", [3])], [vi("y", [2])])


def attr_wrong_type(d):
    """Gemm's transB given as a float: the old code read it as 0."""
    n = helper.make_node("Gemm", ["x", "w"], ["y"], name="gemm")
    n.attribute.append(helper.make_attribute("transB", 1.0))
    return model([n], [vi("x", [2, 3])], [vi("y", [2, 4])],
                 [f32("w", np.ones(12), [4, 3])])


def unsqueeze_dup_axes_fold(d):
    """Folded Unsqueeze with a repeated axis read past the input's shape."""
    return model([helper.make_node("Unsqueeze", ["c", "axes"], ["u"], name="unsq"),
                  helper.make_node("Reshape", ["x", "u"], ["y"], name="reshape")],
                 [vi("x", [4])], [vi("y", [4])],
                 [i64("c", [4]), i64("axes", [0, 0])])


def slice_fold_empty_steps(d):
    """Folded Slice read steps[0] of an empty tensor."""
    steps = numpy_helper.from_array(np.zeros([0], np.int64), "steps")
    return model([helper.make_node("Slice", ["c", "st", "en", "ax", "steps"], ["s"], name="slice"),
                  helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")],
                 [vi("x", [4])], [vi("y", [4])],
                 [i64("c", [4, 1]), i64("st", [0]), i64("en", [1]), i64("ax", [0]), steps])


def slice_huge_step(d):
    return model([helper.make_node("Slice", ["x", "st", "en", "ax", "steps"], ["y"], name="slice")],
                 [vi("x", [6])], [vi("y", [1])],
                 [i64("st", [1]), i64("en", [6]), i64("ax", [0]),
                  i64("steps", [2 ** 63 - 1])])


def reshape_fold_overflow(d):
    """A folded Reshape of a zero-element constant into dims whose product
    wraps to 0."""
    empty = numpy_helper.from_array(np.zeros([0], np.int64), "e")
    return model([helper.make_node("Reshape", ["e", "t"], ["r"], name="reshape"),
                  helper.make_node("Shape", ["r"], ["s"], name="shape"),
                  helper.make_node("Cast", ["s"], ["y"], name="cast", to=TensorProto.FLOAT)],
                 [], [vi("y", [2])], [empty, i64("t", [2 ** 32, 2 ** 32])])


def expand_huge(d):
    return model([helper.make_node("Expand", ["x", "s"], ["y"], name="expand")],
                 [vi("x", [1])], [vi("y", [2 ** 31, 2 ** 31, 2 ** 31])],
                 [i64("s", [2 ** 31, 2 ** 31, 2 ** 31])])


def constant_of_shape_overflow(d):
    return model([helper.make_node("ConstantOfShape", ["s"], ["c"], name="cos"),
                  helper.make_node("Add", ["x", "c"], ["y"], name="add")],
                 [vi("x", [1])], [vi("y", [1])], [i64("s", [2 ** 32, 2 ** 32, 2])])


def range_nan(d):
    return model([helper.make_node("Range", ["a", "b", "c"], ["r"], name="range"),
                  helper.make_node("Add", ["x", "r"], ["y"], name="add")],
                 [vi("x", [1])], [vi("y", [1])],
                 [f32("a", 0.0), f32("b", np.inf), f32("c", 1.0)])


def gather_float_indices_fold(d):
    return model([helper.make_node("Gather", ["c", "i"], ["g"], name="gather"),
                  helper.make_node("Reshape", ["x", "g"], ["y"], name="reshape")],
                 [vi("x", [4])], [vi("y", [4])],
                 [i64("c", [4, 1]), f32("i", [1e30])])


def reshape_float_shape(d):
    return model([helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")],
                 [vi("x", [4])], [vi("y", [4])], [f32("s", [1e30])])


def node_without_name_bad_input(d):
    return model([helper.make_node("Relu", [], ["y"])], [], [vi("y", [1])])


# --- item 6: external data and Cast folding ----------------------------------

def _external(name, location, offset, length, dims=(4,)):
    t = TensorProto(name=name, dims=list(dims), data_type=TensorProto.FLOAT)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, v
    return t


def _external_model(d, t):
    with open(os.path.join(d, "weights.bin"), "wb") as f:
        f.write(np.arange(8, dtype=np.float32).tobytes())
    return model([helper.make_node("Add", ["x", t.name], ["y"], name="add")],
                 [vi("x", [4])], [vi("y", [4])], [t])


def external_offset_overflow(d):
    """offset + length wraps around int64: the old check passed it."""
    return _external_model(d, _external("w", "weights.bin", "1", str(2 ** 63 - 1)))


def external_offset_garbage(d):
    return _external_model(d, _external("w", "weights.bin", "16abc", "16"))


def external_offset_huge(d):
    return _external_model(d, _external("w", "weights.bin", str(2 ** 63 - 8), None))


def external_too_short(d):
    return _external_model(d, _external("w", "weights.bin", "24", None))


def external_ok(d):
    return _external_model(d, _external("w", "weights.bin", "16", "16"))


def external_export(d):
    """A prunable MatMul and an Add bias in external data without a length:
    --export-onnx inlines exactly the bias's 16 bytes, not the file's rest."""
    w = numpy_helper.from_array(
        np.random.default_rng(0).standard_normal([8, 4]).astype(np.float32), "w")
    bias = _external("b", "weights.bin", "0", None)
    with open(os.path.join(d, "weights.bin"), "wb") as f:
        f.write(np.arange(8, dtype=np.float32).tobytes())
    return model([helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
                  helper.make_node("Add", ["m", "b"], ["y"], name="add")],
                 [vi("x", [2, 8])], [vi("y", [2, 4])], [w, bias])


def cast_fold_out_of_range(d):
    """Cast(1e30 -> INT64) folded at import time: UB in the old code."""
    return model([helper.make_node("Cast", ["c"], ["s"], name="cast", to=TensorProto.INT64),
                  helper.make_node("Reshape", ["x", "s"], ["y"], name="reshape")],
                 [vi("x", [4])], [vi("y", [4])], [f32("c", [1e30])])


def cast_fold_nan(d):
    return model([helper.make_node("Cast", ["c"], ["s"], name="cast", to=TensorProto.INT32),
                  helper.make_node("Add", ["x", "s"], ["y"], name="add")],
                 [vi("x", [1], TensorProto.INT32)], [vi("y", [1], TensorProto.INT32)],
                 [f32("c", [np.nan])])


def cast_fold_ok(d):
    """In-range float -> int casts fold (truncation toward zero), as do
    int64 values beyond 2^53, exactly."""
    return model([helper.make_node("Cast", ["c"], ["s"], name="cast", to=TensorProto.INT64),
                  helper.make_node("Add", ["s", "big"], ["t"], name="add"),
                  helper.make_node("Identity", ["t"], ["y"], name="id")],
                 [], [vi("y", [3], TensorProto.INT64)],
                 [f32("c", [-2.75, 3.5, 0]), i64("big", [0, 2 ** 62 + 1, 2 ** 63 - 1])])


if __name__ == "__main__":
    name, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    m = globals()[name](out_dir)
    with open(os.path.join(out_dir, name + ".onnx"), "wb") as f:
        f.write(m.SerializeToString())
