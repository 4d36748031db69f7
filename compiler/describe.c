/* describe.c — a checked model as the runtime describes it (ganc_info):
 * shapes, parameter counts and every tensor with its PyTorch name, offset
 * and initialization rule, for the JIT and for anything else that loads,
 * saves or initializes a model's parameters. */
#include <stdio.h>
#include <string.h>

#include "compiler.h"

/* A stack's parameter tensors, or its statistics (stats). */
static void add_tensors(ganc_tensor *out, int *n, const Stack *st, int stats)
{
  for (int i = 0; i < st->n; i++) {
    const Layer *ly = &st->layers[i];
    for (int k = 0; k < (stats ? ly->nstats : ly->ntensors); k++) {
      const Tensor *src = stats ? &ly->stat[k] : &ly->tensor[k];
      ganc_tensor *t = &out[(*n)++];
      snprintf(t->name, sizeof t->name, "%s.%d.%s", st->name, ly->index, src->suffix);
      t->rank = src->shape.rank;
      memcpy(t->shape, src->shape.dim, sizeof(int64_t) * (size_t)src->shape.rank);
      t->offset = src->off;
      t->count = src->count;
      t->init = (ganc_init)src->init;
    }
  }
}

static int count_tensors(const Stack *st, int stats)
{
  int n = 0;
  for (int i = 0; i < st->n; i++)
    n += stats ? st->layers[i].nstats : st->layers[i].ntensors;
  return n;
}

/* "latent [64]; observation [1, 28, 28]; generator.0.weight [256, 64]; ..."
   — everything that decides whether a set of weights fits the model. */
static const char *signature(Arena *a, const Model *m, const ganc_tensor *t, int n)
{
  Str s = {0};
  char buf[160];
  str_printf(&s, "latent %s; ", shape_str(&m->latent, buf, sizeof buf));
  str_printf(&s, "observation %s", shape_str(&m->observation, buf, sizeof buf));
  for (int i = 0; i < n; i++) {
    Shape sh;
    shape_set(&sh, t[i].rank, t[i].shape);
    str_printf(&s, "; %s %s", t[i].name, shape_str(&sh, buf, sizeof buf));
  }
  if (s.failed)
    arena_oom(a);
  const char *r = arena_strdup(a, s.buf ? s.buf : "");
  str_free(&s);
  return r;
}

void describe_model(Arena *a, const IrModel *ir, ganc_info *info)
{
  const Model *m = ir->model;
  memset(info, 0, sizeof *info);
  info->name = m->name;
  info->scalar_size = m->scalar == SCALAR_DOUBLE ? 8 : 4;
  info->loss = m->loss->name;
  info->pack = m->pack;
  info->classes = m->classes;
  info->latent_rank = m->latent.rank;
  info->obs_rank = m->observation.rank;
  memcpy(info->latent_shape, m->latent.dim, sizeof info->latent_shape);
  memcpy(info->obs_shape, m->observation.dim, sizeof info->obs_shape);
  info->latent_size = shape_count(&m->latent);
  info->obs_size = shape_count(&m->observation);
  info->g_param_count = m->gen.param_count;
  info->d_param_count = m->disc.param_count;
  info->param_count = m->param_count;
  int n = count_tensors(&m->gen, 0) + count_tensors(&m->disc, 0);
  int ns = count_tensors(&m->gen, 1) + count_tensors(&m->disc, 1);
  ganc_tensor *t = arena_alloc(a, (size_t)(n + ns ? n + ns : 1) * sizeof *t);
  info->ntensors = 0;
  add_tensors(t, &info->ntensors, &m->gen, 0);
  add_tensors(t, &info->ntensors, &m->disc, 0);
  info->tensors = t;
  add_tensors(t + n, &info->nstats, &m->gen, 1);
  add_tensors(t + n, &info->nstats, &m->disc, 1);
  info->stats = t + n;
  info->g_stats_count = m->gen.stats_count;
  info->d_stats_count = m->disc.stats_count;
  info->stats_count = m->stats_count;
  info->min_train_batch = ir->min_batch * m->pack;
  info->train_workspace_per_n = ir->ws_per_n;
  info->train_workspace_once = ir->ws_once;
  info->signature = signature(a, m, t, n + ns);
}
