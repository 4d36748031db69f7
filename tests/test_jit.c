/* test_jit.c — the embedding API of runtime/ganc.h: compiling from files and
 * strings, errors, metadata, symbols, threads; the RNG and initializer. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

Test(jit, metadata)
{
  char err[4096];
  ganc_model *m = ganc_jit("models/fashion_mlp.gan", err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  cr_expect_str_empty(err);
  cr_assert_eq(ganc_model_count(m), 1);
  const ganc_info *info = ganc_model_info(m, 0);
  cr_expect_eq(ganc_find_model(m, "fashion_mlp"), info);
  cr_expect_null(ganc_find_model(m, "nope"));
  cr_expect_null(ganc_model_info(m, 1));
  cr_expect_str_eq(info->name, "fashion_mlp");
  cr_expect_eq(info->scalar_size, 4);
  cr_expect_eq(info->latent_size, 64);
  cr_expect_eq(info->obs_rank, 3);
  cr_expect_eq(info->obs_shape[1], 28);
  cr_expect_eq(info->obs_size, 784);
  cr_expect_eq(info->g_param_count, 550416);
  cr_expect_eq(info->param_count, 1083921);
  /* nn.Sequential names: parameterless layers still count. */
  static const char *const names[] = {"generator.0.weight", "generator.0.bias", "generator.2.weight",
                                      "generator.2.bias", "generator.4.weight", "generator.4.bias",
                                      "discriminator.1.weight", "discriminator.1.bias",
                                      "discriminator.3.weight", "discriminator.3.bias",
                                      "discriminator.5.weight", "discriminator.5.bias"};
  cr_assert_eq(info->ntensors, 12);
  int64_t off = 0;
  for (int i = 0; i < 12; i++) {
    cr_expect_str_eq(info->tensors[i].name, names[i]);
    cr_expect_eq(info->tensors[i].offset, off, "%s", names[i]);
    off += info->tensors[i].count;
  }
  cr_expect_eq(off, info->param_count);
  cr_expect_eq(info->tensors[6].shape[0], 512);
  cr_expect_eq(info->tensors[6].shape[1], 784);
  cr_expect(strncmp(info->signature, "latent [64]; observation [1, 28, 28]; generator.0.weight [256, 64];", 67) == 0,
            "%s", info->signature);
  cr_expect_not_null(ganc_symbol(m, "fashion_mlp_generate_batch"));
  cr_expect_null(ganc_symbol(m, "fashion_mlp_G"), "static functions are not exported");
  cr_expect_null(ganc_symbol(m, "nothing"));
  ganc_free(m);
  ganc_free(NULL);
}

Test(jit, errors_come_back_in_err)
{
  char err[4096];
  cr_expect_null(ganc_jit_string("model m { latent [2] }", "mine.gan", err, sizeof err, NULL));
  cr_expect(strncmp(err, "mine.gan:1:7: error: model 'm' has no 'observation', 'generator' or "
                         "'discriminator' declaration\n", 90) == 0, "%s", err);
  cr_expect_null(ganc_jit("no/such.gan", err, sizeof err, NULL));
  cr_expect_str_eq(err, "ganc: cannot open 'no/such.gan': No such file or directory");
  char small[16];
  cr_expect_null(ganc_jit_string("model", "x", small, sizeof small, NULL));
  cr_expect_eq(strlen(small), sizeof small - 1, "truncated, terminated");
  cr_expect_null(ganc_jit_string(NULL, NULL, err, sizeof err, NULL));
  cr_expect(strstr(err, "no model in file") != NULL, "%s", err);
}

Test(jit, string_and_file_agree)
{
  char err[4096];
  char *src = slurp("models/ring8.gan", NULL);
  ganc_model *a = ganc_jit_string(src, "ring8", err, sizeof err, NULL), *b = ganc_jit("models/ring8.gan", err, sizeof err, NULL);
  cr_assert(a && b, "%s", err);
  const ganc_info *info = ganc_model_info(a, 0);
  float *p = malloc(sizeof(float) * (size_t)info->param_count);
  ganc_init_params(info, 5, p);
  float z[2] = {0.25f, -0.5f}, x1[2], x2[2];
  void (*g1)(const float *, const float *, float *), (*g2)(const float *, const float *, float *);
  *(void **)&g1 = ganc_symbol(a, "ring8_generate");
  *(void **)&g2 = ganc_symbol(b, "ring8_generate");
  g1(p, z, x1);
  g2(p, z, x2);
  cr_expect(memcmp(x1, x2, sizeof x1) == 0);
  free(p);
  free(src);
  ganc_free(a);
  ganc_free(b);
}

/* Several threads compiling at once get working functions (libtcc itself is
   serialized inside). */
static void *compile_many(void *arg)
{
  long *failures = arg;
  for (int i = 0; i < 20; i++) {
    char err[4096];
    ganc_model *m = ganc_jit("models/ring8.gan", err, sizeof err, NULL);
    if (!m) {
      (*failures)++;
      continue;
    }
    const ganc_info *info = ganc_model_info(m, 0);
    float p[40000], z[2] = {1, 2};
    ganc_init_params(info, 1, p);
    float (*fake)(const float *, const float *);
    *(void **)&fake = ganc_symbol(m, "ring8_fake_score");
    float (*real)(const float *, const float *);
    *(void **)&real = ganc_symbol(m, "ring8_real_score");
    void (*gen)(const float *, const float *, float *);
    *(void **)&gen = ganc_symbol(m, "ring8_generate");
    float x[2];
    gen(p, z, x);
    if (!fake || fake(p, z) != real(p, x))
      (*failures)++;
    ganc_free(m);
  }
  return NULL;
}

Test(jit, concurrent_compiles)
{
  pthread_t t[4];
  long failures[4] = {0};
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, compile_many, &failures[i]);
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    cr_expect_eq(failures[i], 0, "thread %d: %ld failures", i, failures[i]);
  }
}

Test(rng, deterministic_and_distributed)
{
  ganc_rng a, b;
  ganc_rng_seed(&a, 123);
  ganc_rng_seed(&b, 123);
  for (int i = 0; i < 100; i++)
    cr_assert_eq(ganc_rng_next(&a), ganc_rng_next(&b));
  ganc_rng_seed(&b, 124);
  cr_expect_neq(ganc_rng_next(&a), ganc_rng_next(&b));
  enum { N = 200000 };
  double su = 0, sn = 0, sn2 = 0, lo = 1, hi = 0;
  for (int i = 0; i < N; i++) {
    double u = ganc_rng_uniform(&a), z = ganc_rng_normal(&a);
    cr_assert(u >= 0 && u < 1 && isfinite(z));
    su += u;
    sn += z;
    sn2 += z * z;
    lo = u < lo ? u : lo;
    hi = u > hi ? u : hi;
  }
  /* Means within ~5 standard errors. */
  cr_expect(fabs(su / N - 0.5) < 5 * sqrt(1.0 / 12 / N), "uniform mean %g", su / N);
  cr_expect(fabs(sn / N) < 5 / sqrt(N), "normal mean %g", sn / N);
  cr_expect(fabs(sn2 / N - 1) < 5 * sqrt(2.0 / N), "normal variance %g", sn2 / N);
  cr_expect(lo < 1e-4 && hi > 1 - 1e-4);
}

Test(rng, xavier_uniform_init)
{
  char err[4096];
  ganc_model *m = ganc_jit("models/fashion_mlp.gan", err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  float *p = malloc(sizeof(float) * (size_t)info->param_count), *q = malloc(sizeof(float) * (size_t)info->param_count);
  ganc_init_params(info, 9, p);
  ganc_init_params(info, 9, q);
  cr_expect(memcmp(p, q, sizeof(float) * (size_t)info->param_count) == 0, "same seed, same parameters");
  for (int k = 0; k < info->ntensors; k++) {
    const ganc_tensor *t = &info->tensors[k];
    double bound = t->rank == 2 ? sqrt(6.0 / (double)(t->shape[0] + t->shape[1])) : 0, s2 = 0, mx = 0;
    for (int64_t i = 0; i < t->count; i++) {
      double v = p[t->offset + i];
      s2 += v * v;
      mx = fabs(v) > mx ? fabs(v) : mx;
    }
    if (t->rank == 1) {
      cr_expect_eq(mx, 0, "%s: biases start at zero", t->name);
      continue;
    }
    cr_expect(mx <= bound * (1 + 1e-6), "%s: |w| %g exceeds the Xavier bound %g", t->name, mx, bound);
    cr_expect(mx > bound * 0.9, "%s: largest |w| %g far below the bound %g", t->name, mx, bound);
    /* U(-b, b) has variance b^2/3. */
    double var = s2 / (double)t->count;
    cr_expect(fabs(var / (bound * bound / 3) - 1) < 0.1 + 5 / sqrt((double)t->count), "%s: variance %g, want %g",
              t->name, var, bound * bound / 3);
  }
  free(p);
  free(q);
  ganc_free(m);
}

/* The rules no layer of this release uses yet (ones, standard normal), on a
   description written by hand: each tensor filled by its own rule, the
   random ones drawing from one stream in tensor order. */
Test(rng, init_rules)
{
  ganc_tensor t[4] = {
      {"a.0.weight", 1, {3}, 0, 3, GANC_INIT_ONE},
      {"a.0.bias", 1, {2}, 3, 2, GANC_INIT_ZERO},
      {"a.1.weight", 2, {400, 5}, 5, 2000, GANC_INIT_NORMAL},
      {"a.2.weight", 2, {2, 3}, 2005, 6, GANC_INIT_XAVIER},
  };
  ganc_info info = {.name = "a", .scalar_size = 8, .param_count = 2011, .ntensors = 4, .tensors = t};
  double *p = malloc(sizeof(double) * 2011);
  for (int i = 0; i < 2011; i++)
    p[i] = -7;
  ganc_init_params(&info, 3, p);
  for (int i = 0; i < 3; i++)
    cr_expect_eq(p[i], 1, "ones: p[%d] = %g", i, p[i]);
  cr_expect(p[3] == 0 && p[4] == 0, "zeros");
  ganc_rng r;
  ganc_rng_seed(&r, 3);
  double s = 0, s2 = 0;
  for (int i = 0; i < 2000; i++) {
    double want = ganc_rng_normal(&r);
    cr_expect_eq(p[5 + i], want, "normal: p[%d] = %.17g, want %.17g from the seed's stream", 5 + i, p[5 + i], want);
    s += p[5 + i];
    s2 += p[5 + i] * p[5 + i];
  }
  cr_expect(fabs(s / 2000) < 0.1 && fabs(s2 / 2000 - 1) < 0.15, "mean %g, variance %g", s / 2000, s2 / 2000);
  double bound = sqrt(6.0 / 5), x0 = (2 * ganc_rng_uniform(&r) - 1) * bound;
  cr_expect_eq(p[2005], x0, "Xavier after the normals continues the same stream");
  free(p);
}

/* The training workspace of a batch_norm model does not depend on the tile
   (here TILE is 8, chosen after three larger tiles did not fit): per sample
   G's values 1024 + 1024 + 8192 + 8192 + 1024 + 1024, D's 8192 + 8192 + 1,
   the gradient of D's input 1024, a score and its gradient, and two gradient
   arrays as large as the largest value, 8192; once, each batch_norm layer's
   mean and inverse deviation per channel (1024 + 8 in G, 8 in D). */
Test(jit, batch_norm_workspace)
{
  static const char src[] =
      "model big {\n latent [64]\n observation [1, 32, 32]\n"
      " generator { linear(1024) batch_norm reshape([1, 32, 32]) conv2d(8, 3, padding=1) batch_norm\n"
      "             conv2d(1, 3, padding=1) tanh }\n"
      " discriminator { conv2d(8, 3, padding=1) batch_norm flatten linear(1) }\n}\n";
  char err[4096];
  ganc_model *m = ganc_jit_string(src, "big.gan", err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  cr_expect_eq(info->train_workspace_per_n, 20480 + 16385 + 1024 + 2 + 2 * 8192);
  cr_expect_eq(info->train_workspace_once, 2 * (1024 + 8) + 2 * 8);
  ganc_free(m);
}
