/* test_workspace.c — the two forms of the training functions of a model
 * without batch_norm: NAME_..._backward, which trains on CHUNK packs at a
 * time in a workspace on its stack, and NAME_..._backward_ws, which trains
 * on the whole batch in the caller's. For batches below, at and past CHUNK
 * and TRAIN_TILE both must return the same loss and write the same
 * gradient, bit for bit; the _ws one must stay within the workspace of
 * exactly the bytes ganc_info gives (the bytes after it keep their
 * pattern); and for n <= 0 both return 0 and write nothing. Through the
 * JIT, and through gcc's build of the emitted C for one model. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ganc.h"
#include "test.h"

TestSuite(workspace);

enum { CANARY_BYTES = 256 };

/* Batches, in packs: around the chunks and tiles of the models below
   (fashion_mlp: CHUNK 16, TRAIN_TILE 64; fashion_dcgan: CHUNK 2). */
static const int BATCHES[] = {1, 2, 3, 15, 16, 17, 33, 64, 65, 130};

static void *filled(int size, int64_t n, unsigned seed)
{
  unsigned char *p = malloc((size_t)(n > 0 ? n : 1) * (size_t)size);
  cr_assert_not_null(p);
  for (int64_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    double v = ((double)(seed >> 8) / (double)(1u << 24)) * 2 - 1;
    if (size == 4) {
      float f = (float)v;
      memcpy(p + i * 4, &f, 4);
    } else {
      memcpy(p + i * 8, &v, 8);
    }
  }
  return p;
}

/* One training function on n packs, through its _backward form
   (workspace NULL) or its _ws one. */
static double train(const ganc_info *info, const ganc_fns *fns, int d, int n, const void *params, const void *x,
                    const void *z, const int *labels, void *grad, void *workspace)
{
  ganc_fn fn = d ? (workspace ? GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS : GANC_FN_DISCRIMINATOR_LOSS_BACKWARD)
                 : (workspace ? GANC_FN_GENERATOR_LOSS_BACKWARD_WS : GANC_FN_GENERATOR_LOSS_BACKWARD);
  ganc_args a = {.params = params, .n = n, .x = x, .z = z, .x_labels = labels, .z_labels = labels, .grad = grad,
                 .workspace = workspace};
  return ganc_call(info, fns, fn, &a);
}

static void check_model(const ganc_info *info, const ganc_fns *fns, const char *how)
{
  int size = info->scalar_size, most = BATCHES[sizeof BATCHES / sizeof *BATCHES - 1];
  int64_t samples = (int64_t)most * info->pack;
  void *params = malloc((size_t)info->param_count * (size_t)size);
  cr_assert_not_null(params);
  ganc_init_params(info, 3, params);
  void *x = filled(size, samples * info->obs_size, 1), *z = filled(size, samples * info->latent_size, 2);
  int *labels = malloc(sizeof(int) * (size_t)samples);
  cr_assert_not_null(labels);
  for (int64_t i = 0; i < samples; i++)
    labels[i] = info->classes ? (int)(i % info->classes) : 0;

  for (int d = 0; d < 2; d++) {
    const char *name = d ? "discriminator_loss_backward" : "generator_loss_backward";
    int64_t ngrad = d ? info->d_param_count : info->g_param_count;
    size_t gbytes = (size_t)(ngrad > 0 ? ngrad : 1) * (size_t)size;
    void *g_stack = malloc(gbytes), *g_ws = malloc(gbytes);
    cr_assert(g_stack && g_ws);
    for (size_t b = 0; b < sizeof BATCHES / sizeof *BATCHES; b++) {
      int n = BATCHES[b];
      size_t bytes = (size_t)size * (size_t)(n * info->train_workspace_per_n + info->train_workspace_once);
      unsigned char *ws = malloc(bytes + CANARY_BYTES);
      cr_assert_not_null(ws);
      memset(ws, 0xA5, bytes + CANARY_BYTES);
      memset(g_stack, 0x5A, gbytes);
      memset(g_ws, 0x3C, gbytes);
      double l_stack = train(info, fns, d, n, params, x, z, labels, g_stack, NULL);
      double l_ws = train(info, fns, d, n, params, x, z, labels, g_ws, ws);
      cr_expect(isfinite(l_stack), "%s %s: %s(n = %d) = %g", how, info->name, name, n, l_stack);
      cr_expect(memcmp(&l_stack, &l_ws, sizeof l_ws) == 0, "%s %s: %s(n = %d) = %.17g, its _ws form %.17g", how,
                info->name, name, n, l_stack, l_ws);
      cr_expect(memcmp(g_stack, g_ws, gbytes) == 0, "%s %s: %s(n = %d): the _ws form wrote another gradient", how,
                info->name, name, n);
      size_t k = 0;
      while (k < CANARY_BYTES && ws[bytes + k] == 0xA5)
        k++;
      cr_expect_eq(k, CANARY_BYTES, "%s %s: %s_ws(n = %d) wrote byte %zu past its workspace of %zu", how,
                   info->name, name, n, k, bytes);
      free(ws);
    }
    /* n <= 0: 0, and the gradient as it was */
    for (int n = -1; n <= 0; n++)
      for (int with_ws = 0; with_ws < 2; with_ws++) {
        unsigned char ws[CANARY_BYTES];
        memset(g_stack, 0x5A, gbytes);
        double l = train(info, fns, d, n, params, x, z, labels, g_stack, with_ws ? ws : NULL);
        size_t k = 0;
        while (k < gbytes && ((unsigned char *)g_stack)[k] == 0x5A)
          k++;
        cr_expect(l == 0 && k == gbytes, "%s %s: %s%s(n = %d) = %g, wrote gradient byte %zu", how, info->name, name,
                  with_ws ? "_ws" : "", n, l, k);
      }
    free(g_stack);
    free(g_ws);
  }
  free(labels);
  free(x);
  free(z);
  free(params);
}

static void check_model_of(ganc_model *m, const char *path)
{
  const ganc_info *info = ganc_model_info(m, 0);
  cr_assert_not_null(info);
  cr_assert_eq(info->stats_count, 0, "%s has batch_norm: tests/test_batch_norm.c covers it", path);
  ganc_fns fns;
  cr_assert_eq(ganc_functions(m, info, &fns), 0, "%s: no functions", path);
  check_model(info, &fns, "JIT");
  ganc_free(m);
}

static void check_jit(const char *path)
{
  char err[1024];
  ganc_model *m = ganc_jit(path, err, sizeof err, NULL);
  cr_assert_not_null(m, "%s: %s", path, err);
  check_model_of(m, path);
}

Test(workspace, mlp)
{
  check_jit("models/fashion_mlp.gan");
}

Test(workspace, conv)
{
  check_jit("models/fashion_dcgan.gan");
}

Test(workspace, packed)
{
  check_jit("models/ring8_pack.gan");
  check_jit("tests/models/pack_conv.gan");
}

Test(workspace, conditional_double)
{
  check_jit("tests/models/label_mlp.gan");
  check_jit("tests/models/every_layer_double.gan");
}

/* Many values per sample beside a wide dense input. At TRAIN_TILE 64 the
   training passes fit the stack (D's dense takes 64 x 3072 = 196,608
   scalars of scratch, the product's panel 16,384 more: 852 KB), but a
   _backward function's workspace for one sample (58,371 scalars: G's
   49,152 values, D's one, the 3,072 of D's input gradient, two scores and
   two gradient rows of 3,072) does not fit beside them (1.09 MB), so
   lowering halves TRAIN_TILE: at 32, 114,688 + 2 x 58,371 scalars fit
   (926 KB), 4 samples would not. */
static const char DEEP_VALUES[] =
    "model deep_values {\n"
    "  latent [8]\n  observation [3072]\n"
    "  generator { linear(3072) relu tanh relu sigmoid relu tanh relu sigmoid relu tanh relu sigmoid relu tanh\n"
    "              leaky_relu(0.1) }\n"
    "  discriminator { linear(1) }\n"
    "}\n";

Test(workspace, train_tile_halved)
{
  Run r = run_ganc("check --dump=plan -", DEEP_VALUES);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_expect(strstr(r.out, "model deep_values: TILE 32, TRAIN_TILE 32, CHUNK 2, deepest call chain 925720 bytes") !=
                NULL,
            "%s", r.out);
  run_free(&r);
  char err[1024];
  ganc_model *m = ganc_jit_string(DEEP_VALUES, "deep_values.gan", err, sizeof err, NULL);
  cr_assert_not_null(m, "%s", err);
  check_model_of(m, "deep_values.gan");
}

/* The emitted C as gcc builds it: the same for fashion_mlp. */
Test(workspace, aot)
{
  char err[1024], why[1024];
  ganc_model *m = ganc_jit("models/fashion_mlp.gan", err, sizeof err, NULL);
  cr_assert_not_null(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  Aot *aot = aot_build("models/fashion_mlp.gan", "gcc -O2", why, sizeof why);
  cr_assert_not_null(aot, "%s", why);
  ganc_fns fns;
  const char *missing = model_fns(NULL, aot, info, &fns);
  cr_assert_null(missing, "the AOT build has no %s", missing);
  check_model(info, &fns, "AOT");
  aot_free(aot);
  ganc_free(m);
}
