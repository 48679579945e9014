"""ctypes wrapper over libsparsec_runtime.so (include/sparsec-c/Runtime.h).

Runs sparsec's sparse-linear kernels on a GPU (CUDA driver) or on the CPU PTX
emulator, without MLIR:

    dev = Device("emulator")                       # or "cuda"
    layer = Layer(dev, weight, mask, bias, format="nm24", act="relu")
    y = layer.run(x)                               # x: [T, K] fp32 -> [T, R]
    outs = Model(dev, "artifact_dir").run(x)       # a compiled artifact

The library is taken from $SPARSEC_RUNTIME_LIB, else from build-rt/lib or
build/lib next to this file's parent directory.
"""

import ctypes
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["SparsecRuntimeError", "Device", "Layer", "Model", "to_bits",
           "from_bits"]


class SparsecRuntimeError(RuntimeError):
    """A runtime call failed; the message is sparsec_rt_last_error()."""


_lib = None


def _library_path():
    env = os.environ.get("SPARSEC_RUNTIME_LIB")
    if env:
        return env
    root = Path(__file__).resolve().parent.parent
    for build in ("build-rt", "build"):
        candidate = root / build / "lib" / "libsparsec_runtime.so"
        if candidate.exists():
            return str(candidate)
    raise SparsecRuntimeError(
        "libsparsec_runtime.so not found: run scripts/build-runtime.sh or "
        "set SPARSEC_RUNTIME_LIB")


def _load():
    global _lib
    if _lib is not None:
        return _lib
    lib = ctypes.CDLL(_library_path())
    p, i64, u64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint64, \
        ctypes.c_int
    signatures = {
        "sparsec_rt_last_error": (ctypes.c_char_p, []),
        "sparsec_rt_device_create": (i32, [ctypes.c_char_p,
                                           ctypes.POINTER(p)]),
        "sparsec_rt_device_destroy": (None, [p]),
        "sparsec_rt_device_alloc": (i32, [p, u64, ctypes.POINTER(u64)]),
        "sparsec_rt_device_free": (i32, [p, u64]),
        "sparsec_rt_device_copy_to_device": (i32, [p, u64, p, u64]),
        "sparsec_rt_device_copy_to_host": (i32, [p, p, u64, u64]),
        "sparsec_rt_device_synchronize": (i32, [p]),
        "sparsec_rt_layer_create": (i32, [p, ctypes.c_char_p, p, p, i64, i64,
                                          p, p, i64, ctypes.POINTER(p)]),
        "sparsec_rt_layer_destroy": (None, [p]),
        "sparsec_rt_layer_ptx": (ctypes.c_char_p, [p]),
        "sparsec_rt_layer_info": (i32, [p, ctypes.POINTER(i64)]),
        "sparsec_rt_layer_weight_bytes": (i64, [p]),
        "sparsec_rt_layer_run_device": (i32, [p, u64, u64, i64, i64, i64,
                                              u64]),
        "sparsec_rt_layer_run_host": (i32, [p, p, p, i64, i64, i64]),
        "sparsec_rt_model_load": (i32, [p, ctypes.c_char_p,
                                        ctypes.POINTER(p)]),
        "sparsec_rt_model_destroy": (None, [p]),
        "sparsec_rt_model_run_npy": (i32, [p, ctypes.POINTER(ctypes.c_char_p),
                                           i32, ctypes.c_char_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    _lib = lib
    return lib


def _check(code):
    if code != 0:
        raise SparsecRuntimeError(
            _load().sparsec_rt_last_error().decode(errors="replace"))


def _ptr(array):
    return None if array is None else array.ctypes.data_as(ctypes.c_void_p)


def _round_up(x, m):
    return (x + m - 1) // m * m


def to_bits(x, dtype="f16"):
    """fp32 array -> uint16 f16/bf16 bits (round to nearest even)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if dtype == "f16":
        return x.astype(np.float16).view(np.uint16)
    if dtype == "bf16":
        u = x.view(np.uint32).astype(np.uint64)
        nan = np.isnan(x)
        rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        bits = rounded.astype(np.uint16)
        bits[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
        return bits
    raise ValueError(f"unknown dtype {dtype!r} (f16 or bf16)")


def from_bits(bits, dtype="f16"):
    """uint16 f16/bf16 bits -> fp32 array."""
    bits = np.ascontiguousarray(bits, dtype=np.uint16)
    if dtype == "f16":
        return bits.view(np.float16).astype(np.float32)
    if dtype == "bf16":
        return (bits.astype(np.uint32) << 16).view(np.float32)
    raise ValueError(f"unknown dtype {dtype!r} (f16 or bf16)")


class _Handle:
    """Owns one C handle; `_destroy` names its sparsec_rt_*_destroy."""

    _handle = None  # so that __del__ works when __init__ fails
    _destroy = None

    def close(self):
        if self._handle:
            getattr(_load(), self._destroy)(self._handle)
            self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Device(_Handle):
    """kind: "cuda" (GPU 0) or "emulator" (the CPU PTX emulator)."""

    _destroy = "sparsec_rt_device_destroy"

    def __init__(self, kind="cuda"):
        lib = _load()
        handle = ctypes.c_void_p()
        _check(lib.sparsec_rt_device_create(kind.encode(),
                                            ctypes.byref(handle)))
        self.kind = kind
        self._handle = handle

    # Device memory for callers without their own allocator (the emulator).
    def alloc(self, nbytes):
        address = ctypes.c_uint64()
        _check(_load().sparsec_rt_device_alloc(self._handle, nbytes,
                                               ctypes.byref(address)))
        return address.value

    def free(self, address):
        _check(_load().sparsec_rt_device_free(self._handle, address))

    def copy_to_device(self, address, array):
        array = np.ascontiguousarray(array)
        _check(_load().sparsec_rt_device_copy_to_device(
            self._handle, address, _ptr(array), array.nbytes))

    def copy_to_host(self, array, address):
        """Fills the contiguous numpy `array` from `address`."""
        if not array.flags["C_CONTIGUOUS"]:
            raise ValueError("copy_to_host needs a C-contiguous array")
        _check(_load().sparsec_rt_device_copy_to_host(
            self._handle, _ptr(array), address, array.nbytes))

    def synchronize(self):
        _check(_load().sparsec_rt_device_synchronize(self._handle))


class Layer(_Handle):
    """Y = act(W X + bias) with W = weight (R x K) restricted to mask.

    HiNM (format="hinm") takes tile_columns (tiles x nnz_vec column indices,
    tiles = ceil(R / v)) or derives them from the mask.
    """

    _destroy = "sparsec_rt_layer_destroy"
    INFO_KEYS = ("tile_m", "tile_n", "threads", "shared_bytes", "rows_padded",
                 "kept_width")

    def __init__(self, device, weight, mask=None, bias=None,
                 tile_columns=None, format="hinm", arch="sm_80", dtype="f16",
                 act="none", v=64, tile_n=0, stages=0, nnz_vec=None,
                 name=None, wgmma="auto", tile_m=0):
        lib = _load()
        weight = np.ascontiguousarray(weight, dtype=np.float32)
        if weight.ndim != 2:
            raise ValueError("weight must be 2-D (rows x cols)")
        rows, cols = weight.shape
        if mask is not None:
            mask = np.ascontiguousarray(mask, dtype=np.uint8)
            if mask.shape != weight.shape:
                raise ValueError(f"mask shape {mask.shape} != weight shape "
                                 f"{weight.shape}")
        if bias is not None:
            bias = np.ascontiguousarray(bias, dtype=np.float32).reshape(-1)
            if bias.shape != (rows,):
                raise ValueError(f"bias must have {rows} values")
        if tile_columns is not None:
            tile_columns = np.ascontiguousarray(tile_columns, dtype=np.int64)
            if tile_columns.ndim != 2:
                raise ValueError("tile_columns must be tiles x nnz_vec")
            nnz_vec = tile_columns.shape[1]
        options = (f"format={format},arch={arch},dtype={dtype},act={act},"
                   f"v={v},tile_n={tile_n},tile_m={tile_m},stages={stages},"
                   f"wgmma={wgmma}")
        if name:
            options += f",name={name}"
        handle = ctypes.c_void_p()
        _check(lib.sparsec_rt_layer_create(
            device._handle, options.encode(), _ptr(weight), _ptr(mask), rows,
            cols, _ptr(bias), _ptr(tile_columns), nnz_vec or 0,
            ctypes.byref(handle)))
        self.device = device  # documents the dependency; C keeps it alive
        self.rows, self.cols, self.dtype = rows, cols, dtype
        self._handle = handle


    @property
    def ptx(self):
        return _load().sparsec_rt_layer_ptx(self._handle).decode()

    @property
    def info(self):
        out = (ctypes.c_int64 * 6)()
        _check(_load().sparsec_rt_layer_info(self._handle, out))
        return dict(zip(self.INFO_KEYS, list(out)))

    @property
    def weight_bytes(self):
        return _load().sparsec_rt_layer_weight_bytes(self._handle)

    def run_host(self, x_bits, tokens=None, ldy=None):
        """x_bits: uint16 [K, ldx] feature-major value-type bits, ldx a
        multiple of 8. Returns uint16 [R, ldy] (ldy defaults to ldx)."""
        x_bits = np.ascontiguousarray(x_bits, dtype=np.uint16)
        if x_bits.ndim != 2 or x_bits.shape[0] != self.cols:
            raise ValueError(f"x_bits must be [{self.cols}, ldx]")
        ldx = x_bits.shape[1]
        tokens = ldx if tokens is None else tokens
        ldy = ldx if ldy is None else ldy
        y = np.zeros((self.rows, ldy), dtype=np.uint16)
        _check(_load().sparsec_rt_layer_run_host(
            self._handle, _ptr(x_bits), _ptr(y), tokens, ldx, ldy))
        return y

    def run_device(self, x_ptr, y_ptr, tokens, ldx, ldy, stream=0):
        """Enqueues on `stream` with device pointers (e.g. a torch tensor's
        data_ptr()): x [K, ldx], y [R, ldy]. Does not wait."""
        _check(_load().sparsec_rt_layer_run_device(
            self._handle, x_ptr, y_ptr, tokens, ldx, ldy, stream))

    def run(self, x):
        """x: fp32 [T, K] -> fp32 [T, R] (through the value type)."""
        x = np.asarray(x, dtype=np.float32)
        tokens = x.shape[0]
        ld = _round_up(max(tokens, 1), 8)
        x_bits = np.zeros((self.cols, ld), dtype=np.uint16)
        x_bits[:, :tokens] = to_bits(x, self.dtype).T
        y = self.run_host(x_bits, tokens)
        return from_bits(y[:, :tokens], self.dtype).T.copy()


class Model(_Handle):
    """A compiled artifact directory (manifest.json, PTX, packed weights)."""

    _destroy = "sparsec_rt_model_destroy"

    def __init__(self, device, artifact_dir):
        handle = ctypes.c_void_p()
        _check(_load().sparsec_rt_model_load(
            device._handle, os.fspath(artifact_dir).encode(),
            ctypes.byref(handle)))
        self.device = device
        self._handle = handle


    def run(self, *inputs):
        """fp32 arrays in manifest order -> list of fp32 outputs."""
        with tempfile.TemporaryDirectory(prefix="sparsec_rt_") as tmp:
            paths = []
            for i, x in enumerate(inputs):
                path = os.path.join(tmp, f"input_{i}.npy")
                np.save(path, np.ascontiguousarray(x, dtype=np.float32))
                paths.append(path.encode())
            out_dir = os.path.join(tmp, "out")
            os.mkdir(out_dir)
            array = (ctypes.c_char_p * max(len(paths), 1))(*paths)
            _check(_load().sparsec_rt_model_run_npy(
                self._handle, array, len(paths), out_dir.encode()))
            outputs = []
            while True:
                path = os.path.join(out_dir, f"output_{len(outputs)}.npy")
                if not os.path.exists(path):
                    return outputs
                outputs.append(np.load(path))
