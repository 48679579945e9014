/* A C program that uses an installed sparsec through sparsec::capi only.
 *
 *   capi_consumer MODEL OPTIONS [TARGET]
 *
 * Loads MODEL (.mlir or .onnx), compresses it with OPTIONS ("-" or "" for
 * none, e.g. "sparsity=nm:n=2,m=4"), compiles it for TARGET (default
 * "host"), runs it on inputs filled with input_value() below and prints
 *
 *   version <sparsec_version()>
 *   input <i> <dtype> <d0>x<d1>...
 *   output <i> <dtype> <d0>x<d1>...
 *   values <v0> <v1> ...            (after each output line)
 *
 * test/install/run_install_test.sh recomputes the outputs with numpy. */
#include "sparsec-c/Compiler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Element j of every input (in C order): small multiples of 1/4, exact in
 * float32; the test script uses the same formula. */
static float input_value(size_t j) {
  return (float)((long)((j * 7) % 11) - 5) * 0.25f;
}

static int check(sparsec_error error, const char *what) {
  if (!error)
    return 0;
  fprintf(stderr, "capi_consumer: %s: %s\n", what, error);
  sparsec_string_free(error);
  return 1;
}

static void print_shape(const char *kind, size_t i, const char *dtype,
                        int64_t rank, const int64_t *shape) {
  printf("%s %zu %s ", kind, i, dtype);
  for (int64_t d = 0; d < rank; ++d)
    printf(d ? "x%lld" : "%lld", (long long)shape[d]);
  if (rank == 0)
    printf("scalar");
  printf("\n");
}

static size_t num_elements(int64_t rank, const int64_t *shape) {
  size_t n = 1;
  for (int64_t d = 0; d < rank; ++d)
    n *= (size_t)shape[d];
  return n;
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: %s MODEL OPTIONS [TARGET]\n", argv[0]);
    return 2;
  }
  const char *model_path = argv[1];
  const char *options = argv[2];
  const char *target = argc > 3 ? argv[3] : "host";
  int compress = options[0] != '\0' && strcmp(options, "-") != 0;

  printf("version %s\n", sparsec_version());

  sparsec_context context = NULL;
  sparsec_module module = NULL;
  sparsec_executable executable = NULL;
  sparsec_array *inputs = NULL;
  sparsec_array *outputs = NULL;
  size_t num_inputs = 0, num_outputs = 0;
  int status = 1;

  if (check(sparsec_context_create(&context), "context"))
    goto done;
  if (check(sparsec_module_load(context, model_path, NULL, &module), "load"))
    goto done;
  if (compress && check(sparsec_module_compress(module, options), "compress"))
    goto done;
  if (check(sparsec_module_compile(module, target, NULL, &executable),
            "compile"))
    goto done;
  {
    /* Which kernel the target runs each layer with, as the report says. */
    char *report = NULL;
    if (check(sparsec_module_report_json_for_target(module, target, NULL,
                                                    &report),
              "report"))
      goto done;
    const char *kernel = strstr(report, "\"kernel\": \"");
    if (kernel) {
      kernel += strlen("\"kernel\": \"");
      printf("kernel %.*s\n", (int)strcspn(kernel, "\""), kernel);
    }
    sparsec_string_free(report);
  }

  num_inputs = sparsec_executable_num_inputs(executable);
  inputs = calloc(num_inputs ? num_inputs : 1, sizeof(sparsec_array));
  if (!inputs)
    goto done;
  for (size_t i = 0; i < num_inputs; ++i) {
    const char *dtype = NULL;
    int64_t rank = 0;
    const int64_t *shape = NULL;
    sparsec_executable_signature(executable, 0, i, &dtype, &rank, &shape);
    if (!dtype || strcmp(dtype, "<f4") != 0) {
      fprintf(stderr, "capi_consumer: input %zu is not float32\n", i);
      goto done;
    }
    print_shape("input", i, dtype, rank, shape);
    size_t n = num_elements(rank, shape);
    float *data = malloc((n ? n : 1) * sizeof(float));
    if (!data)
      goto done;
    for (size_t j = 0; j < n; ++j)
      data[j] = input_value(j);
    inputs[i].dtype = dtype;
    inputs[i].rank = rank;
    inputs[i].shape = shape;
    inputs[i].data = data;
  }

  if (check(sparsec_executable_run(executable, inputs, num_inputs, &outputs,
                                   &num_outputs),
            "run"))
    goto done;
  if (num_outputs != sparsec_executable_num_outputs(executable)) {
    fprintf(stderr, "capi_consumer: %zu outputs, the signature has %zu\n",
            num_outputs, sparsec_executable_num_outputs(executable));
    goto done;
  }
  for (size_t i = 0; i < num_outputs; ++i) {
    const sparsec_array *out = &outputs[i];
    if (strcmp(out->dtype, "<f4") != 0) {
      fprintf(stderr, "capi_consumer: output %zu is %s, not float32\n", i,
              out->dtype);
      goto done;
    }
    print_shape("output", i, out->dtype, out->rank, out->shape);
    size_t n = num_elements(out->rank, out->shape);
    const float *values = out->data;
    printf("values");
    for (size_t j = 0; j < n; ++j)
      printf(" %.9g", (double)values[j]);
    printf("\n");
  }
  status = 0;

done:
  if (outputs)
    sparsec_arrays_free(outputs, num_outputs);
  if (inputs) {
    for (size_t i = 0; i < num_inputs; ++i)
      free(inputs[i].data);
    free(inputs);
  }
  if (executable)
    sparsec_executable_destroy(executable);
  if (module)
    sparsec_module_destroy(module);
  if (context)
    sparsec_context_destroy(context);
  return status;
}
