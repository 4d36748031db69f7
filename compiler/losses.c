/* losses.c — the loss table: each loss as three terms of a score and their
 * derivatives (compiler.h: LossClass), which the emitter writes out as small
 * static functions that every loss function of the model calls. The first
 * row is the default. A new loss is a new row. */
#include <string.h>

#include "compiler.h"

/* The logistic loss's helpers, in forms that neither overflow nor lose the
   small end: softplus(t) = max(t, 0) + log1p(exp(-|t|)), and the logistic
   function 1 / (1 + exp(-t)) from exp(-|t|). $exp, $log1p and $fabs are the
   C library's functions for the scalar type. */
static const char softplus_helpers[] =
    "static scalar softplus(scalar t)\n{\n  return (t > 0 ? t : 0) + $log1p($exp(-$fabs(t)));\n}\n\n"
    "static scalar logistic(scalar t)\n{\n  scalar e = $exp(-$fabs(t));\n  return t >= 0 ? 1 / (1 + e) : e / (1 + e);\n}\n";

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
    {
        .name = "logistic",
        .title = "a logistic (non-saturating) GAN",
        .d_formula = "softplus(-D(x_real)) + softplus(D(G(z)))",
        .g_formula = "softplus(-D(G(z)))",
        .d_batch_formula = "mean softplus(-D(x_i)) + mean softplus(D(G(z_i)))",
        .g_batch_formula = "mean softplus(-D(G(z_i)))",
        .helpers = softplus_helpers,
        .real = "return softplus(-s);",
        .fake = "return softplus(s);",
        .gen = "return softplus(-s);",
        .real_d = "return -logistic(-s);",
        .fake_d = "return logistic(s);",
        .gen_d = "return -logistic(-s);",
    },
    {
        .name = "hinge",
        .title = "a hinge-loss GAN",
        .d_formula = "relu(1 - D(x_real)) + relu(1 + D(G(z)))",
        .g_formula = "-D(G(z))",
        .d_batch_formula = "mean relu(1 - D(x_i)) + mean relu(1 + D(G(z_i)))",
        .g_batch_formula = "mean -D(G(z_i))",
        .real = "scalar m = 1 - s;\n  return m > 0 ? m : 0;",
        .fake = "scalar m = 1 + s;\n  return m > 0 ? m : 0;",
        .gen = "return -s;",
        /* relu'(0) = 0, as PyTorch takes it */
        .real_d = "return 1 - s > 0 ? -1 : 0;",
        .fake_d = "return 1 + s > 0 ? 1 : 0;",
        .gen_d = "(void)s;\n  return -1;",
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
