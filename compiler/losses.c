/* losses.c — the loss table: each loss as three terms of a score and their
 * derivatives (compiler.h: LossClass), which the emitter writes out as small
 * static functions that every loss function of the model calls. The first
 * row is the default. A new loss is a new row. */
#include <string.h>

#include "compiler.h"

const LossClass loss_classes[] = {
    {
        .name = "lsgan",
        .title = "a least-squares GAN",
        .d_formula = "(D(x_real) - 1)^2 + D(G(z))^2",
        .g_formula = "(D(G(z)) - 1)^2",
        .d_batch_formula = "mean (D(x_i) - 1)^2 + mean D(G(z_i))^2",
        .g_batch_formula = "mean (D(G(z_i)) - 1)^2",
        .real = "scalar r = s - 1;\n  return r * r;",
        .fake = "return s * s;",
        .gen = "scalar f = s - 1;\n  return f * f;",
        .real_d = "return 2 * (s - 1);",
        .fake_d = "return 2 * s;",
        .gen_d = "return 2 * (s - 1);",
    },
    {0},
};

const LossClass *find_loss(const char *name)
{
  for (const LossClass *l = loss_classes; l->name; l++)
    if (strcmp(l->name, name) == 0)
      return l;
  return NULL;
}
