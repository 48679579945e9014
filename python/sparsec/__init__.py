"""sparsec from Python: the compiler's C API with numpy in and out.

    import sparsec
    m = sparsec.load("model.onnx")                       # ONNX or MLIR
    m.compress(sparsity="hinm:v=64,vs=0.5", permute="gyro")
    m.report()                                           # dict (--report-json)
    m.export_onnx("pruned.onnx", masks=True)
    exe = m.compile(target="host")                       # target options as keywords
    outs = exe.run([x])                                  # list of numpy arrays
    exe.save("artifact_dir")

Keyword arguments are the CLI's flags with `_` for `-` (permute_seed=3 is
--permute-seed=3; cuda_arch="sm_90a" or arch="sm_90a" with target="cuda").
Failures raise sparsec.Error with the message the CLI prints. The GIL is
released while the library compiles or runs.
"""
import ctypes
import json

import numpy as np

from ._capi import Array as _Array
from ._capi import lib as _lib

__all__ = ["Error", "Model", "Executable", "load", "version"]


class Error(Exception):
    """A failure reported by sparsec (the text the CLI prints)."""


def _check(error):
    if error:
        message = ctypes.string_at(error).decode("utf-8", "replace")
        _lib.sparsec_string_free(error)
        raise Error(message)


def _take_string(call, *args):
    out = ctypes.c_void_p()
    _check(call(*args, ctypes.byref(out)))
    try:
        return ctypes.string_at(out).decode("utf-8")
    finally:
        _lib.sparsec_string_free(out)


def _format_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_format_value(v) for v in value)
    text = str(value)
    if any(c.isspace() for c in text) or not text:
        if '"' in text:
            raise Error(f"option value {text!r} contains both blanks and '\"'")
        return f'"{text}"'
    return text


def _options(options):
    """keyword arguments -> "key=value ..." with the CLI's names."""
    return " ".join(f"{key.replace('_', '-')}={_format_value(value)}"
                    for key, value in options.items() if value is not None)


def version():
    return _lib.sparsec_version().decode()


class Model:
    """A model loaded into its own compiler context."""

    def __init__(self, path, **options):
        self._context = ctypes.c_void_p()
        _check(_lib.sparsec_context_create(ctypes.byref(self._context)))
        self._module = ctypes.c_void_p()
        try:
            _check(_lib.sparsec_module_load(self._context, str(path).encode(),
                                            _options(options).encode(),
                                            ctypes.byref(self._module)))
        except Error:
            _lib.sparsec_context_destroy(self._context)
            self._context = None
            raise
        self.path = str(path)

    def __del__(self):
        if getattr(self, "_module", None):
            _lib.sparsec_module_destroy(self._module)
            self._module = None
        if getattr(self, "_context", None):
            _lib.sparsec_context_destroy(self._context)
            self._context = None

    def compress(self, **options):
        """Prunes in place: sparsity="nm:n=2,m=4", permute="asp", ...

        Masks are kept (export_masks=True) unless told otherwise, so that
        export_onnx(masks=True) works afterwards.
        """
        options.setdefault("export_masks", True)
        _check(_lib.sparsec_module_compress(self._module,
                                            _options(options).encode()))
        return self

    def mlir(self):
        """The module as MLIR text (--emit=mlir)."""
        return _take_string(_lib.sparsec_module_print, self._module)

    def report(self, target=None, **target_options):
        """Per-layer report as a dict (--emit=report --report-json).

        With a target ("host", "neon", ...; options as for compile), each
        layer also says which kernel that target would run it with
        ("kernel": "gemm kept columns, 50% of dense work", ...).
        """
        if target is None:
            if target_options:
                raise TypeError("report(): target options need a target")
            return json.loads(_take_string(_lib.sparsec_module_report_json,
                                           self._module))
        return json.loads(_take_string(
            _lib.sparsec_module_report_json_for_target, self._module,
            target.encode(), _options(target_options).encode()))

    def export_onnx(self, path, masks=False):
        """Writes the pruned model as ONNX (--export-onnx [--export-masks])."""
        _check(_lib.sparsec_module_export_onnx(self._module, str(path).encode(),
                                               int(bool(masks))))

    def compile(self, target="host", **target_options):
        """Compiles a copy for `target`; options are the target's flags
        (cuda_arch="sm_90a", host_opt_level=2, or without the prefix)."""
        exe = ctypes.c_void_p()
        _check(_lib.sparsec_module_compile(self._module, target.encode(),
                                           _options(target_options).encode(),
                                           ctypes.byref(exe)))
        return Executable(exe, self)


def load(path, **options):
    """Loads an ONNX model or an MLIR file (input_shape=["x:1x3x8x8"],
    no_onnx_checker=True)."""
    return Model(path, **options)


class Executable:
    """A model compiled for one target."""

    def __init__(self, handle, model):
        self._handle = handle
        self._model = model  # keeps the context alive

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.sparsec_executable_destroy(self._handle)
            self._handle = None

    def _signature(self, is_output):
        count = (_lib.sparsec_executable_num_outputs if is_output
                 else _lib.sparsec_executable_num_inputs)(self._handle)
        result = []
        for i in range(count):
            dtype = ctypes.c_char_p()
            rank = ctypes.c_int64()
            shape = ctypes.POINTER(ctypes.c_int64)()
            _lib.sparsec_executable_signature(self._handle, int(is_output), i,
                                              ctypes.byref(dtype),
                                              ctypes.byref(rank),
                                              ctypes.byref(shape))
            # A dynamic dimension (-1 in the C API) is None.
            result.append((np.dtype(dtype.value.decode()) if dtype.value
                           else None,
                           tuple(None if shape[d] < 0 else shape[d]
                                 for d in range(rank.value))))
        return result

    @property
    def inputs(self):
        """[(numpy dtype, shape)] of `main`'s arguments; None for a dynamic
        dimension."""
        return self._signature(False)

    @property
    def outputs(self):
        return self._signature(True)

    def lowered(self):
        """Target-level MLIR (--emit=lowered)."""
        return _take_string(_lib.sparsec_executable_print, self._handle)

    def save(self, directory):
        """Writes the target's artifact directory (--emit=artifact)."""
        _check(_lib.sparsec_executable_save(self._handle,
                                            str(directory).encode()))

    def run(self, inputs):
        """Runs `main` on numpy arrays; returns a list of numpy arrays."""
        arrays = [np.ascontiguousarray(x) for x in inputs]
        shapes = [(ctypes.c_int64 * max(a.ndim, 1))(*a.shape) for a in arrays]
        c_inputs = (_Array * max(len(arrays), 1))()
        for i, a in enumerate(arrays):
            c_inputs[i].dtype = a.dtype.str.encode()
            c_inputs[i].rank = a.ndim
            c_inputs[i].shape = shapes[i]
            c_inputs[i].data = a.ctypes.data
        outputs = ctypes.POINTER(_Array)()
        count = ctypes.c_size_t()
        _check(_lib.sparsec_executable_run(self._handle, c_inputs, len(arrays),
                                           ctypes.byref(outputs),
                                           ctypes.byref(count)))
        try:
            results = []
            for i in range(count.value):
                out = outputs[i]
                dtype = np.dtype(out.dtype.decode())
                shape = tuple(out.shape[d] for d in range(out.rank))
                nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                buffer = ctypes.string_at(out.data, nbytes)
                results.append(np.frombuffer(buffer, dtype=dtype)
                               .reshape(shape).copy())
            return results
        finally:
            _lib.sparsec_arrays_free(outputs, count)
