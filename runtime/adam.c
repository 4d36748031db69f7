/* adam.c — torch.optim.Adam's update, step for step.
 *
 * As PyTorch computes it for a tensor of the parameters' type: the moments
 * in that type with the betas converted to it, the bias corrections in
 * double, and the update param -= step_size * m / (sqrt(v) / sqrt(bc2) + eps).
 * Each scalar's update is its own, so a large update runs in pieces on the
 * runtime's threads with the same result. */
#include <math.h>

#include "ganc.h"
#include "threads.h"

/* Updates of at least this many scalars are split into pieces of BLOCK. */
enum { SPLIT_MIN = 1 << 16, BLOCK = 1 << 14 };

typedef struct Update {
  const ganc_adam *opt;
  int scalar_size;
  int64_t step, n;
  void *params, *m, *v;
  const void *grad;
} Update;

#define ADAM_STEP(T, SQRT)                                                            \
  do {                                                                                \
    T *p = u->params, *mm = u->m, *vv = u->v;                                         \
    const T *g = u->grad;                                                             \
    const ganc_adam *opt = u->opt;                                                    \
    T b1 = (T)opt->beta1, b2 = (T)opt->beta2;                                         \
    T a1 = (T)(1 - opt->beta1), a2 = (T)(1 - opt->beta2);                             \
    T bc2_sqrt = (T)sqrt(1 - pow(opt->beta2, (double)u->step));                       \
    T step_size = (T)(opt->lr / (1 - pow(opt->beta1, (double)u->step)));              \
    T eps = (T)opt->eps;                                                              \
    for (int64_t i = lo; i < hi; i++) {                                               \
      mm[i] = mm[i] * b1 + a1 * g[i];                                                 \
      vv[i] = vv[i] * b2 + a2 * g[i] * g[i];                                          \
      T denom = SQRT(vv[i]) / bc2_sqrt + eps;                                         \
      p[i] -= step_size * (mm[i] / denom);                                            \
    }                                                                                 \
  } while (0)

/* Blocks lo .. hi - 1 of the update, built for the widest vectors the CPU
   has (the Makefile keeps multiplies and adds apart: the same numbers on
   every CPU). */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void update_blocks(void *ctx, int first, int last)
{
  const Update *u = ctx;
  int64_t lo = (int64_t)first * BLOCK, hi = (int64_t)last * BLOCK < u->n ? (int64_t)last * BLOCK : u->n;
  if (u->scalar_size == 4)
    ADAM_STEP(float, sqrtf);
  else
    ADAM_STEP(double, sqrt);
}

void ganc_adam_step(const ganc_adam *opt, int scalar_size, int64_t step, int64_t n, void *params,
                    const void *grad, void *m, void *v)
{
  Update u = {opt, scalar_size, step, n, params, m, v, grad};
  int64_t blocks = (n + BLOCK - 1) / BLOCK; /* n <= INT32_MAX: parameters are counted in int32 */
  if (n >= SPLIT_MIN)
    ganc_parallel_for((int)blocks, update_blocks, &u);
  else
    update_blocks(&u, 0, (int)blocks);
}
