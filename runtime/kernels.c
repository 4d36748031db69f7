/* kernels.c — the linear-layer loops the JIT's code calls instead of running
 * them as tcc-compiled code (jit.c hands them to libtcc with tcc_add_symbol).
 *
 * Dot products keep KERNEL_LANES independent partial sums, added in a fixed
 * order at the end: the compiler can vectorize them without reassociating
 * anything, so results are the same on every run on a machine. On x86-64
 * with gcc each kernel is built for AVX-512, AVX2+FMA and the baseline, and
 * the loader picks the one the CPU runs. */
#include "kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL
#endif

enum { KERNEL_LANES = 16 };

#define DEFINE_KERNELS(T, SUFFIX)                                                         \
  KERNEL void ganc_linear_##SUFFIX(T *y, const T *w, const T *b, const T *x, int out, int in) \
  {                                                                                       \
    for (int o = 0; o < out; o++) {                                                       \
      const T *row = w + (size_t)o * (size_t)in;                                          \
      T acc[KERNEL_LANES] = {0};                                                          \
      int i = 0;                                                                          \
      for (; i + KERNEL_LANES <= in; i += KERNEL_LANES)                                   \
        for (int k = 0; k < KERNEL_LANES; k++)                                            \
          acc[k] += row[i + k] * x[i + k];                                                \
      T s = b[o];                                                                         \
      for (int k = 0; k < KERNEL_LANES; k++)                                              \
        s += acc[k];                                                                      \
      for (; i < in; i++)                                                                 \
        s += row[i] * x[i];                                                               \
      y[o] = s;                                                                           \
    }                                                                                     \
  }                                                                                       \
                                                                                          \
  KERNEL void ganc_linear_back_params_##SUFFIX(T *gw, T *gb, const T *dy, const T *x, int out, int in) \
  {                                                                                       \
    for (int o = 0; o < out; o++) {                                                       \
      T *row = gw + (size_t)o * (size_t)in;                                               \
      T d = dy[o];                                                                        \
      gb[o] += d;                                                                         \
      for (int i = 0; i < in; i++)                                                        \
        row[i] += d * x[i];                                                               \
    }                                                                                     \
  }                                                                                       \
                                                                                          \
  KERNEL void ganc_linear_back_input_##SUFFIX(T *dx, const T *w, const T *dy, int out, int in) \
  {                                                                                       \
    for (int i = 0; i < in; i++)                                                          \
      dx[i] = 0;                                                                          \
    for (int o = 0; o < out; o++) {                                                       \
      const T *row = w + (size_t)o * (size_t)in;                                          \
      T d = dy[o];                                                                        \
      for (int i = 0; i < in; i++)                                                        \
        dx[i] += row[i] * d;                                                              \
    }                                                                                     \
  }

DEFINE_KERNELS(float, f32)
DEFINE_KERNELS(double, f64)
