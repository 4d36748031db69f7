/* call.c — every emitted function called through a pointer of its exact
 * type (ganc_call), for the trainer, the CLI and embedders that look the
 * functions up at run time. A function's type follows from the model
 * (docs/DESIGN.md §4): its scalar type, a statistics argument right after
 * params when the model has batch_norm, const except in the training
 * functions, which update it, and labels after each input when the model
 * is conditional. */
#include "ganc.h"

int ganc_fn_exists(const ganc_info *info, ganc_fn fn)
{
  (void)info;
  return (int)fn >= 0 && fn < GANC_NFNS;
}

/* One switch over the functions for scalar type S; CS and S_ are the
   statistics parameter's types (", const S *" and ", S *", or nothing) and
   ST the argument (", a->stats", or nothing); L names the labels' macros,
   LABELS_ or NO_LABELS_: the types after an input, I for one label and IP
   for a batch's, and the arguments, XL and XLS for x's, ZL and ZLS for z's. */
#define CALL_ALL(S, CS, S_, ST, L)                                                                                     \
  switch (fn) {                                                                                                        \
  case GANC_FN_GENERATE:                                                                                               \
    ((void (*)(const S *CS, const S *L##I, S *))p)(a->params ST, a->z L##ZL, a->out);                                  \
    return 0;                                                                                                          \
  case GANC_FN_FAKE_SCORE:                                                                                             \
    return ((S(*)(const S *CS, const S *L##I))p)(a->params ST, a->z L##ZL);                                            \
  case GANC_FN_REAL_SCORE:                                                                                             \
    return ((S(*)(const S *CS, const S *L##I))p)(a->params ST, a->x L##XL);                                            \
  case GANC_FN_DISCRIMINATOR_LOSS:                                                                                     \
    return ((S(*)(const S *CS, const S *L##I, const S *L##I))p)(a->params ST, a->x L##XL, a->z L##ZL);                 \
  case GANC_FN_GENERATOR_LOSS:                                                                                         \
    return ((S(*)(const S *CS, const S *L##I))p)(a->params ST, a->z L##ZL);                                            \
  case GANC_FN_GENERATE_BATCH:                                                                                         \
    ((void (*)(const S *CS, int, const S *L##IP, S *))p)(a->params ST, a->n, a->z L##ZLS, a->out);                     \
    return 0;                                                                                                          \
  case GANC_FN_REAL_SCORE_BATCH:                                                                                       \
    ((void (*)(const S *CS, int, const S *L##IP, S *))p)(a->params ST, a->n, a->x L##XLS, a->out);                     \
    return 0;                                                                                                          \
  case GANC_FN_FAKE_SCORE_BATCH:                                                                                       \
    ((void (*)(const S *CS, int, const S *L##IP, S *))p)(a->params ST, a->n, a->z L##ZLS, a->out);                     \
    return 0;                                                                                                          \
  case GANC_FN_DISCRIMINATOR_LOSS_BATCH:                                                                               \
    return ((S(*)(const S *CS, int, const S *L##IP, const S *L##IP))p)(a->params ST, a->n, a->x L##XLS, a->z L##ZLS);  \
  case GANC_FN_GENERATOR_LOSS_BATCH:                                                                                   \
    return ((S(*)(const S *CS, int, const S *L##IP))p)(a->params ST, a->n, a->z L##ZLS);                               \
  case GANC_FN_DISCRIMINATOR_LOSS_BACKWARD:                                                                            \
    return ((S(*)(const S *S_, int, const S *L##IP, const S *L##IP, S *))p)(a->params ST, a->n, a->x L##XLS,           \
                                                                            a->z L##ZLS, a->grad);                     \
  case GANC_FN_GENERATOR_LOSS_BACKWARD:                                                                                \
    return ((S(*)(const S *S_, int, const S *L##IP, S *))p)(a->params ST, a->n, a->z L##ZLS, a->grad);                 \
  case GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS:                                                                         \
    return ((S(*)(const S *S_, int, const S *L##IP, const S *L##IP, S *, void *))p)(                                   \
        a->params ST, a->n, a->x L##XLS, a->z L##ZLS, a->grad, a->workspace);                                          \
  case GANC_FN_GENERATOR_LOSS_BACKWARD_WS:                                                                             \
    return ((S(*)(const S *S_, int, const S *L##IP, S *, void *))p)(a->params ST, a->n, a->z L##ZLS, a->grad,          \
                                                                    a->workspace);                                     \
  case GANC_FN_GENERATE_BOUNDS:                                                                                        \
  case GANC_FN_FAKE_SCORE_BOUNDS:                                                                                      \
    ((void (*)(const S *CS, const S *, const S *L##I, S *, S *))p)(a->params ST, a->box_lo, a->box_hi L##ZL,          \
                                                                   a->out_lo, a->out_hi);                              \
    return 0;                                                                                                          \
  case GANC_FN_SCORE_BOUNDS:                                                                                           \
    ((void (*)(const S *CS, const S *, const S *L##I, S *, S *))p)(a->params ST, a->box_lo, a->box_hi L##XL,          \
                                                                   a->out_lo, a->out_hi);                              \
    return 0;                                                                                                          \
  default:                                                                                                             \
    return 0;                                                                                                          \
  }

#define NOTHING
#define COMMA ,
#define NO_LABELS_I
#define NO_LABELS_IP
#define NO_LABELS_XL
#define NO_LABELS_XLS
#define NO_LABELS_ZL
#define NO_LABELS_ZLS
#define LABELS_I , int
#define LABELS_IP , const int *
#define LABELS_XL , a->x_labels[0]
#define LABELS_XLS , a->x_labels
#define LABELS_ZL , a->z_labels[0]
#define LABELS_ZLS , a->z_labels

static double call_float(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(float, NOTHING, NOTHING, NOTHING, NO_LABELS_)
}

static double call_double(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(double, NOTHING, NOTHING, NOTHING, NO_LABELS_)
}

static double call_float_stats(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(float, COMMA const float *, COMMA float *, COMMA a->stats, NO_LABELS_)
}

static double call_double_stats(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(double, COMMA const double *, COMMA double *, COMMA a->stats, NO_LABELS_)
}

static double call_float_labels(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(float, NOTHING, NOTHING, NOTHING, LABELS_)
}

static double call_double_labels(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(double, NOTHING, NOTHING, NOTHING, LABELS_)
}

static double call_float_stats_labels(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(float, COMMA const float *, COMMA float *, COMMA a->stats, LABELS_)
}

static double call_double_stats_labels(ganc_fn fn, void *p, const ganc_args *a)
{
  CALL_ALL(double, COMMA const double *, COMMA double *, COMMA a->stats, LABELS_)
}

double ganc_call(const ganc_info *info, const ganc_fns *fns, ganc_fn fn, const ganc_args *a)
{
  void *p = ganc_fn_exists(info, fn) ? fns->fn[fn] : NULL;
  if (!p)
    return 0;
  static double (*const callers[2][2][2])(ganc_fn, void *, const ganc_args *) = {
      {{call_float, call_float_labels}, {call_float_stats, call_float_stats_labels}},
      {{call_double, call_double_labels}, {call_double_stats, call_double_stats_labels}}};
  return callers[info->scalar_size == 8][info->stats_count > 0][info->classes > 0](fn, p, a);
}
