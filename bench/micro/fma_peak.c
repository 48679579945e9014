// The machine's single-core f32 FMA peak, measured: 24 independent
// accumulators (enough to cover FMA latency x issue width on current x86
// cores) of the widest vector the compiler targets (-march=native), so the
// loop is bound by FMA issue alone. Prints GFLOP/s (2 flops per lane-FMA).
//
//   cc -O2 -march=native bench/micro/fma_peak.c -o fma_peak && ./fma_peak
#include <stdio.h>
#include <time.h>

#if defined(__AVX512F__)
#define LANES 16
#elif defined(__AVX__)
#define LANES 8
#else
#define LANES 4
#endif
typedef float vec __attribute__((vector_size(LANES * 4)));
#define ACC 24

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
  vec acc[ACC], a, b;
  for (int i = 0; i < LANES; ++i) {
    a[i] = 1.0f + 1e-7f * i;
    b[i] = 1e-7f;
  }
  for (int j = 0; j < ACC; ++j)
    acc[j] = a * (float)j;
  const long iterations = 20000000;
  double best = 0;
  for (int round = 0; round < 5; ++round) {
    double start = now();
    for (long i = 0; i < iterations; ++i) {
#pragma GCC unroll 24
      for (int j = 0; j < ACC; ++j)
        acc[j] = acc[j] * a + b;
      __asm__ volatile("" : "+x"(a));
    }
    double seconds = now() - start;
    double gflops = 2.0 * LANES * ACC * iterations / seconds * 1e-9;
    if (gflops > best)
      best = gflops;
  }
  float sink = 0;
  for (int j = 0; j < ACC; ++j)
    for (int i = 0; i < LANES; ++i)
      sink += acc[j][i];
  printf("lanes %d\nfma_peak_gflops %.1f\nsink %g\n", LANES, best, sink);
  return 0;
}
