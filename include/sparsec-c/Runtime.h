/*===- sparsec-c/Runtime.h - C API of the sparsec CUDA runtime ---*- C -*-===*\
|*                                                                            *|
|* libsparsec_runtime.so runs sparsec's sparse-linear kernels, generated at   *|
|* run time from a weight (layers) or loaded from a compiled artifact         *|
|* (models), on a GPU through the CUDA driver or on the CPU PTX emulator.     *|
|*                                                                            *|
|* Every function returns 0 on success; otherwise a non-zero code, and        *|
|* sparsec_rt_last_error() describes the failure (per thread). Objects keep   *|
|* their device alive, so handles may be destroyed in any order.             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef SPARSEC_C_RUNTIME_H
#define SPARSEC_C_RUNTIME_H

#include <stdint.h>

#if defined(__GNUC__)
#define SPARSEC_RT_API __attribute__((visibility("default")))
#else
#define SPARSEC_RT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sparsec_rt_device_s *sparsec_rt_device;
typedef struct sparsec_rt_layer_s *sparsec_rt_layer;
typedef struct sparsec_rt_model_s *sparsec_rt_model;

/* The message of this thread's last failure ("" if none). */
SPARSEC_RT_API const char *sparsec_rt_last_error(void);

/* kind: "cuda" (GPU 0 through libcuda.so.1) or "emulator" (CPU). */
SPARSEC_RT_API int sparsec_rt_device_create(const char *kind,
                                            sparsec_rt_device *out);
SPARSEC_RT_API void sparsec_rt_device_destroy(sparsec_rt_device device);
/* Device memory, for callers (tests, the emulator) without their own
 * allocator. Addresses are what run_device takes. */
SPARSEC_RT_API int sparsec_rt_device_alloc(sparsec_rt_device device,
                                           uint64_t bytes, uint64_t *address);
SPARSEC_RT_API int sparsec_rt_device_free(sparsec_rt_device device,
                                          uint64_t address);
SPARSEC_RT_API int sparsec_rt_device_copy_to_device(sparsec_rt_device device,
                                                    uint64_t dst,
                                                    const void *src,
                                                    uint64_t bytes);
SPARSEC_RT_API int sparsec_rt_device_copy_to_host(sparsec_rt_device device,
                                                  void *dst, uint64_t src,
                                                  uint64_t bytes);
SPARSEC_RT_API int sparsec_rt_device_synchronize(sparsec_rt_device device);

/* A sparse linear layer Y = act(W X + bias) with W = weight (rows x cols,
 * row-major fp32) restricted to mask (rows x cols, non-zero = kept; NULL: the
 * weight's non-zeros). options: comma-separated key=value among
 *   format=hinm|nm24  arch=sm_80|sm_90a  dtype=f16|bf16  act=none|relu|gelu
 *   v=64  tile_n=0  tile_m=0  stages=0
 *   wgmma=auto|async|sync|off  name=sparsec_linear
 * (defaults shown first; 0 = the generator's choice). HiNM: tile_columns is
 * tiles x nnz_vec column indices (tiles = ceil(rows / v)) or NULL for each
 * tile's non-empty columns; nnz_vec 0 derives it from the mask. bias: rows
 * floats or NULL. */
SPARSEC_RT_API int sparsec_rt_layer_create(
    sparsec_rt_device device, const char *options, const float *weight,
    const uint8_t *mask, int64_t rows, int64_t cols, const float *bias,
    const int64_t *tile_columns, int64_t nnz_vec, sparsec_rt_layer *out);
SPARSEC_RT_API void sparsec_rt_layer_destroy(sparsec_rt_layer layer);
/* The generated PTX (owned by the layer). */
SPARSEC_RT_API const char *sparsec_rt_layer_ptx(sparsec_rt_layer layer);
/* tile_m, tile_n, threads, shared_bytes, rows_padded, kept_width. */
SPARSEC_RT_API int sparsec_rt_layer_info(sparsec_rt_layer layer,
                                         int64_t out[6]);
/* Device bytes of the packed values, metadata and column indices. */
SPARSEC_RT_API int64_t sparsec_rt_layer_weight_bytes(sparsec_rt_layer layer);
/* Enqueues the kernel on stream (a CUstream, 0 = default) with device
 * pointers x: [cols, ldx] and y: [rows, ldy], feature-major, in the value
 * type; ldx, ldy >= tokens and multiples of 8. Does not wait. */
SPARSEC_RT_API int sparsec_rt_layer_run_device(sparsec_rt_layer layer,
                                               uint64_t x_dev, uint64_t y_dev,
                                               int64_t tokens, int64_t ldx,
                                               int64_t ldy, uint64_t stream);
/* Same with host arrays of value-type bits; copies in, runs, waits, copies
 * y back. */
SPARSEC_RT_API int sparsec_rt_layer_run_host(sparsec_rt_layer layer,
                                             const uint16_t *x, uint16_t *y,
                                             int64_t tokens, int64_t ldx,
                                             int64_t ldy);

/* A compiled artifact directory (manifest.json, PTX, packed weights). */
SPARSEC_RT_API int sparsec_rt_model_load(sparsec_rt_device device,
                                         const char *artifact_dir,
                                         sparsec_rt_model *out);
SPARSEC_RT_API void sparsec_rt_model_destroy(sparsec_rt_model model);
/* Reads fp32 .npy inputs (manifest order and shapes), runs, writes
 * output_<i>.npy (fp32) into output_dir (which must exist). */
SPARSEC_RT_API int sparsec_rt_model_run_npy(sparsec_rt_model model,
                                            const char *const *input_paths,
                                            int n_inputs,
                                            const char *output_dir);

#ifdef __cplusplus
}
#endif

#endif
