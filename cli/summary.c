/* summary.c — `ganc summary`: a model's layers, shapes, parameters and FLOPs
 * as a table on standard output. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* 1234567 as "1,234,567". */
static const char *grouped(int64_t v, char *buf)
{
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%" PRId64, v), j = 0;
  for (int i = 0; i < n; i++) {
    if (i > 0 && tmp[i - 1] != '-' && (n - i) % 3 == 0)
      buf[j++] = ',';
    buf[j++] = tmp[i];
  }
  buf[j] = 0;
  return buf;
}

/* The layer column: wide enough for the longest layer as written. */
static int layer_column(const Model *m)
{
  int width = 30;
  const Stack *stacks[] = {&m->gen, &m->disc};
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < stacks[k]->n; i++) {
      int w = 4 + (int)strlen(stacks[k]->layers[i].text);
      if (w > width)
        width = w < 72 ? w : 72;
    }
  return width;
}

static void summary_stack(const Stack *st, int width)
{
  char shape[160], num[32];
  printf("  %-*s %5d  %s\n", width + 2, st->name, st->loc.line, shape_str(&st->in, shape, sizeof shape));
  for (int i = 0; i < st->n; i++) {
    const Layer *l = &st->layers[i];
    char name[96];
    snprintf(name, sizeof name, "%-3d %s", l->index, l->text);
    printf("    %-*.*s %5d  %-18s %12s\n", width, width, name, l->loc.line, shape_str(&l->out, shape, sizeof shape),
           grouped(l->param_count, num));
  }
}

void summary_print(const Model *m)
{
  char a[160], b[160], n1[32], n2[32], n3[32], n4[32];
  int bytes = m->scalar == SCALAR_DOUBLE ? 8 : 4, width = layer_column(m);
  char pack[48] = "";
  if (m->pack > 1)
    snprintf(pack, sizeof pack, ", pack %d", m->pack);
  else if (m->classes)
    snprintf(pack, sizeof pack, ", classes %d", m->classes);
  printf("model %s (scalar %s, loss %s%s): latent %s, observation %s\n\n", m->name,
         m->scalar == SCALAR_DOUBLE ? "double" : "float", m->loss->name, pack, shape_str(&m->latent, a, sizeof a),
         shape_str(&m->observation, b, sizeof b));
  printf("  %-*s %5s  %-18s %12s\n", width + 2, "layer", "line", "output", "parameters");
  summary_stack(&m->gen, width);
  summary_stack(&m->disc, width);
  printf("\n  parameters: %s generator + %s discriminator = %s (%s bytes)\n", grouped(m->gen.param_count, n1),
         grouped(m->disc.param_count, n2), grouped(m->param_count, n3), grouped(m->param_count * bytes, n4));
  if (m->stats_count)
    printf("  running statistics: %s generator + %s discriminator = %s (batch_norm means and variances)\n",
           grouped(m->gen.stats_count, n1), grouped(m->disc.stats_count, n2), grouped(m->stats_count, n3));
  if (m->pack > 1)
    printf("  FLOPs: generate %s per sample, discriminator %s per pack of %d\n", grouped(m->gen.flops, n1),
           grouped(m->disc.flops, n2), m->pack);
  else
    printf("  FLOPs per sample: generate %s, discriminator %s\n", grouped(m->gen.flops, n1),
           grouped(m->disc.flops, n2));
}
