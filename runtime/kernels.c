/* kernels.c — the loops of linear and convolution layers that the JIT's code
 * calls instead of running them as tcc-compiled code (jit.c hands them to
 * libtcc with tcc_add_symbol).
 *
 * Convolutions are lowered to GEMM: im2col gathers each output position's
 * window into a column, the product with the weights does the arithmetic,
 * col2im scatters columns back. conv_transpose2d is conv2d's adjoint, so the
 * same window map serves it with the roles of input and output exchanged.
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

/* Window map: big [ch, h, w]; position (y, x) of the small grid [sh, sw]
   sees big[c, y*s - p + ky, x*s - p + kx] for ky, kx < k; cols is
   [ch*k*k, sh*sw], zero where the window leaves big. */
#define DEFINE_CONV(T, SUFFIX)                                                            \
  KERNEL void ganc_im2col_##SUFFIX(T *cols, const T *big, int ch, int h, int w, int sh, int sw, int k, int s, \
                                   int p)                                                 \
  {                                                                                       \
    for (int c = 0; c < ch; c++)                                                          \
      for (int ky = 0; ky < k; ky++)                                                      \
        for (int kx = 0; kx < k; kx++) {                                                  \
          T *row = cols + ((size_t)(c * k + ky) * k + kx) * (size_t)(sh * sw);            \
          for (int y = 0; y < sh; y++) {                                                  \
            int iy = y * s - p + ky;                                                      \
            for (int x = 0; x < sw; x++) {                                                \
              int ix = x * s - p + kx;                                                    \
              row[y * sw + x] = iy >= 0 && iy < h && ix >= 0 && ix < w                    \
                                    ? big[((size_t)c * h + iy) * w + ix] : 0;             \
            }                                                                             \
          }                                                                               \
        }                                                                                 \
  }                                                                                       \
                                                                                          \
  KERNEL void ganc_col2im_##SUFFIX(T *big, const T *cols, int ch, int h, int w, int sh, int sw, int k, int s, \
                                   int p)                                                 \
  {                                                                                       \
    for (int c = 0; c < ch; c++)                                                          \
      for (int ky = 0; ky < k; ky++)                                                      \
        for (int kx = 0; kx < k; kx++) {                                                  \
          const T *row = cols + ((size_t)(c * k + ky) * k + kx) * (size_t)(sh * sw);      \
          for (int y = 0; y < sh; y++) {                                                  \
            int iy = y * s - p + ky;                                                      \
            if (iy < 0 || iy >= h)                                                        \
              continue;                                                                   \
            for (int x = 0; x < sw; x++) {                                                \
              int ix = x * s - p + kx;                                                    \
              if (ix >= 0 && ix < w)                                                      \
                big[((size_t)c * h + iy) * w + ix] += row[y * sw + x];                    \
            }                                                                             \
          }                                                                               \
        }                                                                                 \
  }                                                                                       \
                                                                                          \
  /* C[m, n] += A[m, kk] B[kk, n] */                                                      \
  KERNEL void ganc_gemm_nn_##SUFFIX(T *c, const T *a, const T *b, int m, int n, int kk)   \
  {                                                                                       \
    for (int i = 0; i < m; i++) {                                                         \
      T *crow = c + (size_t)i * n;                                                        \
      for (int q = 0; q < kk; q++) {                                                      \
        T av = a[(size_t)i * kk + q];                                                     \
        const T *brow = b + (size_t)q * n;                                                \
        for (int j = 0; j < n; j++)                                                       \
          crow[j] += av * brow[j];                                                        \
      }                                                                                   \
    }                                                                                     \
  }                                                                                       \
                                                                                          \
  /* C[m, n] += A^T B for A [kk, m], B [kk, n] */                                         \
  KERNEL void ganc_gemm_tn_##SUFFIX(T *c, const T *a, const T *b, int m, int n, int kk)   \
  {                                                                                       \
    for (int q = 0; q < kk; q++) {                                                        \
      const T *brow = b + (size_t)q * n;                                                  \
      for (int i = 0; i < m; i++) {                                                       \
        T av = a[(size_t)q * m + i];                                                      \
        T *crow = c + (size_t)i * n;                                                      \
        for (int j = 0; j < n; j++)                                                       \
          crow[j] += av * brow[j];                                                        \
      }                                                                                   \
    }                                                                                     \
  }                                                                                       \
                                                                                          \
  /* C[m, n] += A B^T for A [m, kk], B [n, kk]: dot products */                           \
  KERNEL void ganc_gemm_nt_##SUFFIX(T *c, const T *a, const T *b, int m, int n, int kk)   \
  {                                                                                       \
    for (int i = 0; i < m; i++)                                                           \
      for (int j = 0; j < n; j++) {                                                       \
        const T *ar = a + (size_t)i * kk, *br = b + (size_t)j * kk;                       \
        T acc[KERNEL_LANES] = {0};                                                        \
        int q = 0;                                                                        \
        for (; q + KERNEL_LANES <= kk; q += KERNEL_LANES)                                 \
          for (int l = 0; l < KERNEL_LANES; l++)                                          \
            acc[l] += ar[q + l] * br[q + l];                                              \
        T sum = 0;                                                                        \
        for (int l = 0; l < KERNEL_LANES; l++)                                            \
          sum += acc[l];                                                                  \
        for (; q < kk; q++)                                                               \
          sum += ar[q] * br[q];                                                           \
        c[(size_t)i * n + j] += sum;                                                      \
      }                                                                                   \
  }                                                                                       \
                                                                                          \
  static void fill_bias_##SUFFIX(T *out, const T *b, int ch, int n)                       \
  {                                                                                       \
    for (int o = 0; o < ch; o++)                                                          \
      for (int j = 0; j < n; j++)                                                         \
        out[(size_t)o * n + j] = b[o];                                                    \
  }                                                                                       \
                                                                                          \
  static void add_bias_grad_##SUFFIX(T *gb, const T *dy, int ch, int n)                   \
  {                                                                                       \
    for (int o = 0; o < ch; o++) {                                                        \
      T s = 0;                                                                            \
      for (int j = 0; j < n; j++)                                                         \
        s += dy[(size_t)o * n + j];                                                       \
      gb[o] += s;                                                                         \
    }                                                                                     \
  }                                                                                       \
                                                                                          \
  void ganc_conv2d_##SUFFIX(T *out, const T *w, const T *b, const T *in, T *scratch, int c, int h, int wd, int o, \
                            int oh, int ow, int k, int s, int p)                          \
  {                                                                                       \
    ganc_im2col_##SUFFIX(scratch, in, c, h, wd, oh, ow, k, s, p);                         \
    fill_bias_##SUFFIX(out, b, o, oh * ow);                                               \
    ganc_gemm_nn_##SUFFIX(out, w, scratch, o, oh * ow, c * k * k);                        \
  }                                                                                       \
                                                                                          \
  void ganc_conv2d_back_params_##SUFFIX(T *gw, T *gb, const T *dy, const T *in, T *scratch, int c, int h, int wd, \
                                        int o, int oh, int ow, int k, int s, int p)       \
  {                                                                                       \
    ganc_im2col_##SUFFIX(scratch, in, c, h, wd, oh, ow, k, s, p);                         \
    ganc_gemm_nt_##SUFFIX(gw, dy, scratch, o, c * k * k, oh * ow);                        \
    add_bias_grad_##SUFFIX(gb, dy, o, oh * ow);                                           \
  }                                                                                       \
                                                                                          \
  void ganc_conv2d_back_input_##SUFFIX(T *dx, const T *w, const T *dy, T *scratch, int c, int h, int wd, int o, \
                                       int oh, int ow, int k, int s, int p)               \
  {                                                                                       \
    size_t ncol = (size_t)c * k * k * oh * ow;                                            \
    for (size_t i = 0; i < ncol; i++)                                                     \
      scratch[i] = 0;                                                                     \
    ganc_gemm_tn_##SUFFIX(scratch, w, dy, c * k * k, oh * ow, o);                         \
    for (size_t i = 0; i < (size_t)c * h * wd; i++)                                       \
      dx[i] = 0;                                                                          \
    ganc_col2im_##SUFFIX(dx, scratch, c, h, wd, oh, ow, k, s, p);                         \
  }                                                                                       \
                                                                                          \
  /* conv_transpose2d: input [c, h, wd] (the small grid), output [o, oh, ow]. */          \
  void ganc_conv_transpose2d_##SUFFIX(T *out, const T *w, const T *b, const T *in, T *scratch, int c, int h,  \
                                      int wd, int o, int oh, int ow, int k, int s, int p) \
  {                                                                                       \
    size_t ncol = (size_t)o * k * k * h * wd;                                             \
    for (size_t i = 0; i < ncol; i++)                                                     \
      scratch[i] = 0;                                                                     \
    ganc_gemm_tn_##SUFFIX(scratch, w, in, o * k * k, h * wd, c);                          \
    fill_bias_##SUFFIX(out, b, o, oh * ow);                                               \
    ganc_col2im_##SUFFIX(out, scratch, o, oh, ow, h, wd, k, s, p);                        \
  }                                                                                       \
                                                                                          \
  void ganc_conv_transpose2d_back_params_##SUFFIX(T *gw, T *gb, const T *dy, const T *in, T *scratch, int c,  \
                                                  int h, int wd, int o, int oh, int ow, int k, int s, int p) \
  {                                                                                       \
    ganc_im2col_##SUFFIX(scratch, dy, o, oh, ow, h, wd, k, s, p);                         \
    ganc_gemm_nt_##SUFFIX(gw, in, scratch, c, o * k * k, h * wd);                         \
    add_bias_grad_##SUFFIX(gb, dy, o, oh * ow);                                           \
  }                                                                                       \
                                                                                          \
  void ganc_conv_transpose2d_back_input_##SUFFIX(T *dx, const T *w, const T *dy, T *scratch, int c, int h,     \
                                                 int wd, int o, int oh, int ow, int k, int s, int p) \
  {                                                                                       \
    ganc_im2col_##SUFFIX(scratch, dy, o, oh, ow, h, wd, k, s, p);                         \
    for (size_t i = 0; i < (size_t)c * h * wd; i++)                                       \
      dx[i] = 0;                                                                          \
    ganc_gemm_nn_##SUFFIX(dx, w, scratch, c, h * wd, o * k * k);                          \
  }

DEFINE_KERNELS(float, f32)
DEFINE_KERNELS(double, f64)
DEFINE_CONV(float, f32)
DEFINE_CONV(double, f64)
