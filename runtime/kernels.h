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

#endif
