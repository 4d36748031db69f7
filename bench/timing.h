/* timing.h — what bench/'s C programs share: a monotonic clock, a buffer
 * with a fixed fill, and the best of many timed runs of a call. Static
 * inline, C99 with POSIX (define _POSIX_C_SOURCE 200112L before the system
 * headers), so that bench/iso_driver.c builds with it in every language
 * mode it measures. */
#ifndef GANC_BENCH_TIMING_H
#define GANC_BENCH_TIMING_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* n floats, 64-byte aligned, filled with a short repeating pattern. */
static inline float *filled(long n)
{
  void *p = NULL;
  if (posix_memalign(&p, 64, (size_t)((n * 4 + 63) / 64 * 64)) != 0) {
    fputs("bench: out of memory\n", stderr);
    exit(1);
  }
  float *f = p;
  for (long i = 0; i < n; i++)
    f[i] = (float)(i % 31) * 0.01f - 0.15f;
  return f;
}

/* Seconds per call of fn(ctx): the calls that fill a run of at least
   run_seconds are found first (the warm-up), then the best of runs such
   runs. On a busy machine a short run is more likely to go without being
   interrupted. */
static inline double best_seconds(void (*fn)(void *), void *ctx, double run_seconds, int runs)
{
  long calls = 1;
  for (;;) {
    double start = now();
    for (long i = 0; i < calls; i++)
      fn(ctx);
    if (now() - start >= run_seconds)
      break;
    calls *= 2;
  }
  double best = 1e30;
  for (int r = 0; r < runs; r++) {
    double start = now();
    for (long i = 0; i < calls; i++)
      fn(ctx);
    double t = (now() - start) / (double)calls;
    if (t < best)
      best = t;
  }
  return best;
}

#endif
