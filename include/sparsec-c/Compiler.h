/*===- sparsec-c/Compiler.h - C API of the sparsec compiler -------*- C -*-===*\
|*                                                                            *|
|* Load an ONNX model or MLIR file, compress it with the options of the CLI, *|
|* compile it for a named target, write the artifact, run it on host buffers  *|
|* and read the report, from C or any language with a C FFI (the Python      *|
|* package is built on it). Library: libsparsec_capi.so (sparsec::capi).     *|
|*                                                                            *|
|* Errors: every function that can fail returns a sparsec_error, NULL on     *|
|* success, else a message owned by the caller (sparsec_string_free). It is  *|
|* the text the sparsec CLI prints for the same failure, without the         *|
|* "sparsec: " prefix. Nothing here exits, asserts or prints.                *|
|*                                                                            *|
|* Threads: each context is independent; use one context per thread, or     *|
|* serialise the calls on a context and everything made from it. Options    *|
|* are per call: two compilations with different options never interact.    *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef SPARSEC_C_COMPILER_H
#define SPARSEC_C_COMPILER_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define SPARSEC_CAPI_API __attribute__((visibility("default")))
#else
#define SPARSEC_CAPI_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef char *sparsec_error;
typedef struct sparsec_context_s *sparsec_context;
typedef struct sparsec_module_s *sparsec_module;
typedef struct sparsec_executable_s *sparsec_executable;

/* A host array. dtype is a numpy descr ("<f4", "<f2", "<i8", "|b1", ...);
 * data is C-contiguous. */
typedef struct sparsec_array {
  const char *dtype;
  int64_t rank;
  const int64_t *shape;
  void *data;
} sparsec_array;

/* "0.1.0 (LLVM/MLIR 22.x)". Static storage. */
SPARSEC_CAPI_API const char *sparsec_version(void);
SPARSEC_CAPI_API void sparsec_string_free(char *string);

/* A context owns the IR of its modules and executables. Handles may be
 * destroyed in any order (a garbage collector's order): the context lives
 * until it and every module and executable made in it are destroyed. */
SPARSEC_CAPI_API sparsec_error sparsec_context_create(sparsec_context *out);
SPARSEC_CAPI_API void sparsec_context_destroy(sparsec_context context);

/* Loads an ONNX model or a .mlir/.mlirbc file. `options` are compile
 * options as "key=value ..." with the CLI's names (input-shape=x:1x3x8x8,
 * no-onnx-checker); NULL or "" for none. */
SPARSEC_CAPI_API sparsec_error sparsec_module_load(sparsec_context context,
                                                   const char *path,
                                                   const char *options,
                                                   sparsec_module *out);
SPARSEC_CAPI_API void sparsec_module_destroy(sparsec_module module);

/* Compresses in place with the CLI's compression options, e.g.
 * "sparsity=hinm:v=64,vs=0.5 permute=gyro permute-seed=3" (a leading "--"
 * on a key is accepted). */
SPARSEC_CAPI_API sparsec_error sparsec_module_compress(sparsec_module module,
                                                       const char *options);
/* The module as MLIR text (--emit=mlir). Free *out with
 * sparsec_string_free. */
SPARSEC_CAPI_API sparsec_error sparsec_module_print(sparsec_module module,
                                                    char **out);
/* The per-layer report as JSON (--emit=report --report-json). */
SPARSEC_CAPI_API sparsec_error sparsec_module_report_json(sparsec_module module,
                                                          char **out);
/* The same with each layer's "kernel": how `target` with `target_options`
 * (as for sparsec_module_compile) would run it, e.g. "gemm kept columns, 50%
 * of dense work"; the CLI's --emit=report --report-json --target=... */
SPARSEC_CAPI_API sparsec_error
sparsec_module_report_json_for_target(sparsec_module module, const char *target,
                                      const char *target_options, char **out);
/* Writes the (pruned) model back to ONNX (--export-onnx); `masks` adds each
 * mask as initializer <name>.mask, which needs compression with
 * export-masks=true. The module must have been loaded from ONNX. */
SPARSEC_CAPI_API sparsec_error sparsec_module_export_onnx(sparsec_module module,
                                                          const char *path,
                                                          int masks);

/* Compiles a copy of the module for `target` ("host", "cuda", ...) with the
 * target's options as "key=value ..." ("arch=sm_90a tile-n=64"; the CLI's
 * "cuda-arch=sm_90a" is accepted too); NULL or "" for defaults. */
SPARSEC_CAPI_API sparsec_error
sparsec_module_compile(sparsec_module module, const char *target,
                       const char *target_options, sparsec_executable *out);
SPARSEC_CAPI_API void sparsec_executable_destroy(sparsec_executable executable);
/* The target-level MLIR (--emit=lowered). */
SPARSEC_CAPI_API sparsec_error
sparsec_executable_print(sparsec_executable executable, char **out);
/* Writes the target's artifact directory (--emit=artifact): for cuda the
 * manifest, PTX and packed weights; for host an object file with the C ABI
 * `_mlir_ciface_main` (and `_mlir_ciface_main_workspace`, which takes the
 * arena of intermediates from the caller: the manifest's `workspace`) and a
 * manifest. */
SPARSEC_CAPI_API sparsec_error
sparsec_executable_save(sparsec_executable executable, const char *dir);

/* The signature of `main`: counts, then each argument's dtype and shape;
 * a dynamic dimension (input-shape=x:?x... or MIN..MAX) is -1, and a run
 * takes any size within its bounds and sizes the outputs from the inputs.
 * The returned pointers live as long as the executable. */
SPARSEC_CAPI_API size_t
sparsec_executable_num_inputs(sparsec_executable executable);
SPARSEC_CAPI_API size_t
sparsec_executable_num_outputs(sparsec_executable executable);
/* is_output 0: input i, 1: output i; NULL dtype when i is out of range. */
SPARSEC_CAPI_API void
sparsec_executable_signature(sparsec_executable executable, int is_output,
                             size_t i, const char **dtype, int64_t *rank,
                             const int64_t **shape);

/* Runs `main` on host arrays (--run). On success *outputs holds
 * *num_outputs arrays owned by the library: free them with
 * sparsec_arrays_free. */
SPARSEC_CAPI_API sparsec_error sparsec_executable_run(
    sparsec_executable executable, const sparsec_array *inputs,
    size_t num_inputs, sparsec_array **outputs, size_t *num_outputs);
SPARSEC_CAPI_API void sparsec_arrays_free(sparsec_array *arrays, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* SPARSEC_C_COMPILER_H */
