/* kernels.h — optimized loops exported to JIT-compiled code (kernels.c).
 * emit.c writes calls to exactly these names and argument orders. */
#ifndef GANC_KERNELS_H
#define GANC_KERNELS_H

#include <stddef.h>

/* y = W x + b for W [out, in]. */
void ganc_linear_f32(float *y, const float *w, const float *b, const float *x, int out, int in);
void ganc_linear_f64(double *y, const double *w, const double *b, const double *x, int out, int in);
/* gw += dy x^T, gb += dy. */
void ganc_linear_back_params_f32(float *gw, float *gb, const float *dy, const float *x, int out, int in);
void ganc_linear_back_params_f64(double *gw, double *gb, const double *dy, const double *x, int out, int in);
/* dx = W^T dy. */
void ganc_linear_back_input_f32(float *dx, const float *w, const float *dy, int out, int in);
void ganc_linear_back_input_f64(double *dx, const double *w, const double *dy, int out, int in);

/* Convolutions (PyTorch's conv2d and conv_transpose2d, square kernel k,
   stride s, zero padding p) on an input [c, h, wd] and an output
   [o, oh, ow]. scratch holds c*k*k*oh*ow scalars for conv2d and
   o*k*k*h*wd for conv_transpose2d. Weights: conv2d [o, c, k, k],
   conv_transpose2d [c, o, k, k]. */
#define GANC_CONV_KERNELS(T, S)                                                                                    \
  void ganc_conv2d_##S(T *out, const T *w, const T *b, const T *in, T *scratch, int c, int h, int wd, int o,     \
                       int oh, int ow, int k, int s, int p);                                                       \
  void ganc_conv2d_back_params_##S(T *gw, T *gb, const T *dy, const T *in, T *scratch, int c, int h, int wd,     \
                                   int o, int oh, int ow, int k, int s, int p);                                    \
  void ganc_conv2d_back_input_##S(T *dx, const T *w, const T *dy, T *scratch, int c, int h, int wd, int o, int oh, \
                                  int ow, int k, int s, int p);                                                    \
  void ganc_conv_transpose2d_##S(T *out, const T *w, const T *b, const T *in, T *scratch, int c, int h, int wd,  \
                                 int o, int oh, int ow, int k, int s, int p);                                      \
  void ganc_conv_transpose2d_back_params_##S(T *gw, T *gb, const T *dy, const T *in, T *scratch, int c, int h,   \
                                             int wd, int o, int oh, int ow, int k, int s, int p);                  \
  void ganc_conv_transpose2d_back_input_##S(T *dx, const T *w, const T *dy, T *scratch, int c, int h, int wd,    \
                                            int o, int oh, int ow, int k, int s, int p);                           \
  void ganc_im2col_##S(T *cols, const T *big, int ch, int h, int w, int sh, int sw, int k, int s, int p);         \
  void ganc_col2im_##S(T *big, const T *cols, int ch, int h, int w, int sh, int sw, int k, int s, int p);         \
  void ganc_gemm_nn_##S(T *c, const T *a, const T *b, int m, int n, int kk);                                     \
  void ganc_gemm_tn_##S(T *c, const T *a, const T *b, int m, int n, int kk);                                     \
  void ganc_gemm_nt_##S(T *c, const T *a, const T *b, int m, int n, int kk);

GANC_CONV_KERNELS(float, f32)
GANC_CONV_KERNELS(double, f64)

#endif
