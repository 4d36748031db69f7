/* fuzz_safetensors.c — libFuzzer target for the safetensors loader: bytes as
 * a weights file or a checkpoint (ganc_load_weights_mem) for three models,
 * each as `scalar float` and as `scalar double`:
 *
 *   ring8  models/ring8.gan (tests/fixtures/torch_ring8.safetensors fits it)
 *   tiny   a linear layer and convolutions, rank-4 weights among its tensors
 *   bn     batch_norm in both networks: running statistics and
 *          num_batches_tracked (tests/fixtures/torch_bn.safetensors fits it)
 *
 * The models' descriptions come from the compiler, as the JIT makes them.
 * The seeds for tiny were written by `ganc train` for TINY_SOURCE below
 * (and for the same text with `scalar double`).
 *
 * Beyond what the sanitizers see, it aborts when the loader breaks its
 * contract: a failure comes with a message and leaves the caller's arrays
 * as they were; a success reads a step and a generator state that can be. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "io.h"

#define RING8_SOURCE                                                                     \
  "model ring8 {\n  latent [2]\n  observation [2]\n"                                     \
  "  generator { linear(128) relu linear(128) relu linear(2) }\n"                        \
  "  discriminator { linear(128) leaky_relu(0.2) linear(128) leaky_relu(0.2) linear(1) }\n" \
  "}\n"

#define TINY_SOURCE                                                                      \
  "model tiny {\n  latent [2]\n  observation [1, 3, 3]\n"                                \
  "  generator { linear(18) tanh reshape([2, 3, 3]) conv2d(1, 1) }\n"                    \
  "  discriminator { conv2d(2, 2) leaky_relu(0.2) flatten linear(1) }\n"                 \
  "}\n"

#define BN_SOURCE                                                                        \
  "model bn {\n  latent [4]\n  observation [6]\n"                                        \
  "  generator { linear(8) batch_norm relu linear(6) tanh }\n"                            \
  "  discriminator { linear(5) batch_norm(momentum=0.2) leaky_relu(0.2) linear(1) }\n"    \
  "}\n"

enum { NMODELS = 3, NINFOS = 2 * NMODELS, NARRAYS = 4 };

static Compilation comp;
static ganc_info infos[NINFOS];
static unsigned char *arrays[NARRAYS], *reference; /* params, adam m, adam v, statistics */
static size_t array_bytes;

static void fail(const char *what, const ganc_info *info, const char *err)
{
  fprintf(stderr, "fuzz_safetensors: %s (model %s, %d-byte scalars)%s%s\n", what, info->name,
          info->scalar_size, err ? ": " : "", err ? err : "");
  abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  static const char src[] = RING8_SOURCE TINY_SOURCE BN_SOURCE;
  if (compile_source(&comp, "models.gan", src, sizeof src - 1) != 0 || comp.prog->n != NMODELS) {
    fprintf(stderr, "fuzz_safetensors: the built-in models do not compile:\n%s\n",
            comp.diag.out.buf ? comp.diag.out.buf : "");
    exit(1);
  }
  for (int i = 0; i < NINFOS; i++) {
    describe_model(&comp.arena, &comp.ir->models[i / 2], &infos[i]);
    infos[i].scalar_size = i % 2 ? 8 : 4;
    size_t bytes = (size_t)infos[i].param_count * 8;
    if (bytes > array_bytes)
      array_bytes = bytes;
  }
  reference = malloc(array_bytes);
  if (!reference)
    exit(1);
  for (int k = 0; k < NARRAYS; k++)
    if (!(arrays[k] = malloc(array_bytes)))
      exit(1);
  for (size_t i = 0; i < array_bytes; i++)
    reference[i] = (unsigned char)(0xA5 ^ i);
  for (int k = 0; k < NARRAYS; k++)
    memcpy(arrays[k], reference, array_bytes);
  return 0;
}

/* The loader writes whole tensors; a tensor's first and last scalar show
   whether it wrote one (array 3 holds the statistics, laid out by their
   tensors). */
static int untouched(const ganc_info *info, int k)
{
  size_t s = (size_t)info->scalar_size;
  const ganc_tensor *tensors = k == 3 ? info->stats : info->tensors;
  for (int i = 0; i < (k == 3 ? info->nstats : info->ntensors); i++) {
    const ganc_tensor *t = &tensors[i];
    size_t first = (size_t)t->offset * s, last = (size_t)(t->offset + t->count - 1) * s;
    if (t->count > 0 && (memcmp(arrays[k] + first, reference + first, s) != 0 ||
                         memcmp(arrays[k] + last, reference + last, s) != 0))
      return 0;
  }
  return 1;
}

/* The arrays hold the reference before each load and after it. */
static void load(const ganc_info *info, const uint8_t *data, size_t size, int with_state)
{
  char err[512];
  ganc_train_state st = {arrays[1], arrays[2], 777, {{1, 2, 3, 4}}};
  ganc_stats stats = {arrays[3], -7, -7};
  int rc = ganc_load_weights_mem(info, "fuzz.safetensors", data, size, arrays[0],
                                 info->stats_count ? &stats : NULL, with_state ? &st : NULL, err, sizeof err);
  if (!memchr(err, 0, sizeof err))
    fail("an unterminated message", info, NULL);
  if (rc != 0) {
    if (rc != -1 || !err[0])
      fail("a failure without a message", info, NULL);
    if (!untouched(info, 0) || !untouched(info, 1) || !untouched(info, 2) || !untouched(info, 3) ||
        st.step != 777 || st.rng.s[0] != 1 || st.rng.s[3] != 4 || stats.g_passes != -7 || stats.d_passes != -7)
      fail("a failed load changed the caller's arrays", info, err);
    return;
  }
  if (with_state && (st.step < 0 || !(st.rng.s[0] | st.rng.s[1] | st.rng.s[2] | st.rng.s[3])))
    fail("a checkpoint with an impossible step or generator state", info, err);
  if (info->stats_count && (stats.g_passes < 0 || stats.d_passes < 0))
    fail("a negative count of training passes", info, err);
  if (err[0] && !strstr(err, "warning"))
    fail("a success with an error message", info, err);
  size_t bytes = (size_t)info->param_count * (size_t)info->scalar_size;
  for (int k = 0; k < NARRAYS; k++)
    memcpy(arrays[k], reference, bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  for (int i = 0; i < NINFOS; i++) {
    load(&infos[i], data, size, 0);
    load(&infos[i], data, size, 1);
  }
  /* A message cut to a short buffer is still terminated. */
  char small[9];
  memset(small, 'x', sizeof small);
  ganc_load_weights_mem(&infos[2], NULL, data, size, arrays[0], NULL, NULL, small, 7);
  if (!memchr(small, 0, 7) || small[7] != 'x')
    fail("a message not cut to its buffer", &infos[2], NULL);
  memcpy(arrays[0], reference, (size_t)infos[2].param_count * (size_t)infos[2].scalar_size);
  return 0;
}
