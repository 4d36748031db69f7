/* call.c — every emitted function called through a pointer of its exact
 * type (ganc_call), for the trainer, the CLI and embedders that look the
 * functions up at run time. A function's type follows from the model
 * (docs/DESIGN.md §4): its scalar type, and a statistics argument right
 * after params when the model has batch_norm, const except in the training
 * functions, which update it. */
#include "ganc.h"

int ganc_fn_exists(const ganc_info *info, ganc_fn fn)
{
  if ((int)fn < 0 || fn >= GANC_NFNS)
    return 0;
  if (fn == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS || fn == GANC_FN_GENERATOR_LOSS_BACKWARD_WS)
    return info->stats_count > 0;
  return 1;
}

/* One switch over the functions for scalar type S; CS and S_ are the
   statistics parameter's types (", const S *" and ", S *", or nothing) and
   ST the argument (", a->stats", or nothing). */
#define CALL_ALL(S, CS, S_, ST)                                                                        \
  switch (fn) {                                                                                        \
  case GANC_FN_GENERATE: ((void (*)(const S * CS, const S *, S *))p)(a->params ST, a->z, a->out); return 0; \
  case GANC_FN_FAKE_SCORE: return ((S(*)(const S * CS, const S *))p)(a->params ST, a->z);             \
  case GANC_FN_REAL_SCORE: return ((S(*)(const S * CS, const S *))p)(a->params ST, a->x);             \
  case GANC_FN_DISCRIMINATOR_LOSS:                                                                     \
    return ((S(*)(const S * CS, const S *, const S *))p)(a->params ST, a->x, a->z);                   \
  case GANC_FN_GENERATOR_LOSS: return ((S(*)(const S * CS, const S *))p)(a->params ST, a->z);         \
  case GANC_FN_GENERATE_BATCH:                                                                         \
    ((void (*)(const S * CS, int, const S *, S *))p)(a->params ST, a->n, a->z, a->out);               \
    return 0;                                                                                          \
  case GANC_FN_REAL_SCORE_BATCH:                                                                       \
    ((void (*)(const S * CS, int, const S *, S *))p)(a->params ST, a->n, a->x, a->out);               \
    return 0;                                                                                          \
  case GANC_FN_FAKE_SCORE_BATCH:                                                                       \
    ((void (*)(const S * CS, int, const S *, S *))p)(a->params ST, a->n, a->z, a->out);               \
    return 0;                                                                                          \
  case GANC_FN_DISCRIMINATOR_LOSS_BATCH:                                                               \
    return ((S(*)(const S * CS, int, const S *, const S *))p)(a->params ST, a->n, a->x, a->z);        \
  case GANC_FN_GENERATOR_LOSS_BATCH:                                                                   \
    return ((S(*)(const S * CS, int, const S *))p)(a->params ST, a->n, a->z);                         \
  case GANC_FN_DISCRIMINATOR_LOSS_BACKWARD:                                                            \
    return ((S(*)(const S * S_, int, const S *, const S *, S *))p)(a->params ST, a->n, a->x, a->z, a->grad); \
  case GANC_FN_GENERATOR_LOSS_BACKWARD:                                                                \
    return ((S(*)(const S * S_, int, const S *, S *))p)(a->params ST, a->n, a->z, a->grad);           \
  case GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS:                                                         \
    return ((S(*)(const S * S_, int, const S *, const S *, S *, void *))p)(a->params ST, a->n, a->x, a->z, \
                                                                          a->grad, a->workspace);      \
  case GANC_FN_GENERATOR_LOSS_BACKWARD_WS:                                                             \
    return ((S(*)(const S * S_, int, const S *, S *, void *))p)(a->params ST, a->n, a->z, a->grad,    \
                                                               a->workspace);                          \
  default: return 0;                                                                                   \
  }

#define NOTHING
#define COMMA ,

static double call_float(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(float, NOTHING, NOTHING, NOTHING)
}

static double call_double(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(double, NOTHING, NOTHING, NOTHING)
}

static double call_float_stats(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(float, COMMA const float *, COMMA float *, COMMA a->stats)
}

static double call_double_stats(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(double, COMMA const double *, COMMA double *, COMMA a->stats)
}

double ganc_call(const ganc_info *info, const ganc_fns *fns, ganc_fn fn, const ganc_args *a)
{
  void *p = ganc_fn_exists(info, fn) ? fns->fn[fn] : NULL;
  if (!p)
    return 0;
  if (info->stats_count > 0)
    return info->scalar_size == 4 ? call_float_stats(fn, p, a) : call_double_stats(fn, p, a);
  return info->scalar_size == 4 ? call_float(fn, p, a) : call_double(fn, p, a);
}
