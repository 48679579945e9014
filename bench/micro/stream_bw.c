// The machine's single-core memory bandwidth, measured: STREAM-style copy
// (read one array, write another) and triad (a = b + s*c) over arrays of
// 64 MiB each, far past the caches, best of 10 passes. Prints GB/s counting
// the bytes the loop must move (copy 2 x 4 bytes, triad 3 x 4 bytes per
// element; write-allocate reads are not counted, as in STREAM).
//
//   cc -O2 -march=native bench/micro/stream_bw.c -o stream_bw && ./stream_bw
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N (16 * 1024 * 1024) /* floats: 64 MiB per array */

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
  float *a = aligned_alloc(64, N * sizeof(float));
  float *b = aligned_alloc(64, N * sizeof(float));
  float *c = aligned_alloc(64, N * sizeof(float));
  if (!a || !b || !c)
    return 1;
  for (long i = 0; i < N; ++i) {
    a[i] = 0.0f;
    b[i] = 1.0f + (float)(i % 7);
    c[i] = 2.0f;
  }
  double copy = 1e30, triad = 1e30;
  for (int pass = 0; pass < 10; ++pass) {
    double t = now();
    for (long i = 0; i < N; ++i)
      a[i] = b[i];
    t = now() - t;
    if (t < copy)
      copy = t;
    t = now();
    for (long i = 0; i < N; ++i)
      a[i] = b[i] + 3.0f * c[i];
    t = now() - t;
    if (t < triad)
      triad = t;
  }
  // The checksum keeps the loops from being optimised away.
  double sum = 0;
  for (long i = 0; i < N; i += 4096)
    sum += a[i];
  printf("copy_bw %.2f GB/s\n", 2.0 * N * sizeof(float) / copy * 1e-9);
  printf("triad_bw %.2f GB/s\n", 3.0 * N * sizeof(float) / triad * 1e-9);
  printf("checksum %.1f\n", sum);
  free(a);
  free(b);
  free(c);
  return 0;
}
