/* adam.c — torch.optim.Adam's update, step for step.
 *
 * As PyTorch computes it for a tensor of the parameters' type: the moments
 * in that type with the betas converted to it, the bias corrections in
 * double, and the update param -= step_size * m / (sqrt(v) / sqrt(bc2) + eps). */
#include <math.h>

#include "ganc.h"

#define ADAM_STEP(T, SQRT)                                                            \
  do {                                                                                \
    T *p = params, *mm = m, *vv = v;                                                  \
    const T *g = grad;                                                                \
    T b1 = (T)opt->beta1, b2 = (T)opt->beta2;                                         \
    T a1 = (T)(1 - opt->beta1), a2 = (T)(1 - opt->beta2);                             \
    T bc2_sqrt = (T)sqrt(1 - pow(opt->beta2, (double)step));                          \
    T step_size = (T)(opt->lr / (1 - pow(opt->beta1, (double)step)));                 \
    T eps = (T)opt->eps;                                                              \
    for (int64_t i = 0; i < n; i++) {                                                 \
      mm[i] = mm[i] * b1 + a1 * g[i];                                                 \
      vv[i] = vv[i] * b2 + a2 * g[i] * g[i];                                          \
      T denom = SQRT(vv[i]) / bc2_sqrt + eps;                                         \
      p[i] -= step_size * (mm[i] / denom);                                            \
    }                                                                                 \
  } while (0)

void ganc_adam_step(const ganc_adam *opt, int scalar_size, int64_t step, int64_t n, void *params,
                    const void *grad, void *m, void *v)
{
  if (scalar_size == 4)
    ADAM_STEP(float, sqrtf);
  else
    ADAM_STEP(double, sqrt);
}
