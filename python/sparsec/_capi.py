"""ctypes declarations of include/sparsec-c/Compiler.h.

ctypes releases the GIL for the duration of every foreign call, so
compilations and runs of other threads proceed in parallel.
"""
import ctypes
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


class Array(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_char_p), ("rank", ctypes.c_int64),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("data", ctypes.c_void_p)]


def _find_library():
    explicit = os.environ.get("SPARSEC_CAPI_LIBRARY")
    if explicit:
        return explicit
    bundled = os.path.join(_HERE, "libsparsec_capi.so")
    if os.path.isfile(bundled):
        return bundled
    # A source checkout used without installing: python/sparsec -> build/lib.
    return os.path.join(_HERE, os.pardir, os.pardir, "build", "lib",
                        "libsparsec_capi.so")


def _load():
    lib = ctypes.CDLL(_find_library())
    error = ctypes.c_void_p  # a char* the caller frees
    handle = ctypes.c_void_p
    out = ctypes.POINTER(ctypes.c_void_p)
    text = ctypes.c_char_p
    sig = {
        "sparsec_version": (ctypes.c_char_p, []),
        "sparsec_string_free": (None, [ctypes.c_void_p]),
        "sparsec_context_create": (error, [out]),
        "sparsec_context_destroy": (None, [handle]),
        "sparsec_module_load": (error, [handle, text, text, out]),
        "sparsec_module_destroy": (None, [handle]),
        "sparsec_module_compress": (error, [handle, text]),
        "sparsec_module_print": (error, [handle, out]),
        "sparsec_module_report_json": (error, [handle, out]),
        "sparsec_module_report_json_for_target": (error, [handle, text, text, out]),
        "sparsec_module_export_onnx": (error, [handle, text, ctypes.c_int]),
        "sparsec_module_compile": (error, [handle, text, text, out]),
        "sparsec_executable_destroy": (None, [handle]),
        "sparsec_executable_print": (error, [handle, out]),
        "sparsec_executable_save": (error, [handle, text]),
        "sparsec_executable_num_inputs": (ctypes.c_size_t, [handle]),
        "sparsec_executable_num_outputs": (ctypes.c_size_t, [handle]),
        "sparsec_executable_signature": (
            None, [handle, ctypes.c_int, ctypes.c_size_t,
                   ctypes.POINTER(ctypes.c_char_p),
                   ctypes.POINTER(ctypes.c_int64),
                   ctypes.POINTER(ctypes.POINTER(ctypes.c_int64))]),
        "sparsec_executable_run": (
            error, [handle, ctypes.POINTER(Array), ctypes.c_size_t,
                    ctypes.POINTER(ctypes.POINTER(Array)),
                    ctypes.POINTER(ctypes.c_size_t)]),
        "sparsec_arrays_free": (None, [ctypes.POINTER(Array),
                                       ctypes.c_size_t]),
    }
    for name, (restype, argtypes) in sig.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = _load()
