/* iso_driver.c — times the C that `ganc emit` writes for models/fashion_mlp.gan
 * as a user builds it, in whichever language mode it is compiled in; bench/run.sh
 * builds it in GNU mode (the compiler's default), with -std=c99 and with -std=c11.
 *
 *   ganc emit models/fashion_mlp.gan -o DIR
 *   cc -O3 -march=native [-std=c99|-std=c11] -IDIR -o iso bench/iso_driver.c DIR/fashion_mlp.c -lm
 *   ./iso LABEL       one JSON object on standard output
 *
 * Times fashion_mlp_generate_batch and fashion_mlp_discriminator_loss_batch at
 * batch 64, each figure the best of 11 runs of at least 0.05 s after warm-up.
 * The parameters and inputs are a fixed pseudo-random fill, the same in every
 * build, so the builds' outputs can be compared: the checksum is FNV-1a over
 * the bytes of the generated batch and of the loss. Written in C99 itself, so
 * that it builds in every mode it measures. */
#define _POSIX_C_SOURCE 200112L
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fashion_mlp.h"
#include "timing.h"

enum { BATCH = 64, RUNS = 11 };
#define RUN_SECONDS 0.05

static fashion_mlp_scalar params[fashion_mlp_PARAM_COUNT];
static fashion_mlp_scalar z[BATCH * fashion_mlp_LATENT_SIZE];
static fashion_mlp_scalar x_real[BATCH * fashion_mlp_OBS_SIZE];
static fashion_mlp_scalar x_fake[BATCH * fashion_mlp_OBS_SIZE];
static volatile fashion_mlp_scalar sink;

/* Uniform in [-scale, scale), from a 64-bit LCG's top bits. */
static void fill(fashion_mlp_scalar *p, long n, float scale, uint64_t seed)
{
  uint64_t s = seed;
  for (long i = 0; i < n; i++) {
    s = s * 6364136223846793005u + 1442695040888963407u;
    p[i] = scale * ((float)(s >> 40) * (1.0f / 8388608.0f) - 1.0f);
  }
}

static void call_generate(void *ctx)
{
  (void)ctx;
  fashion_mlp_generate_batch(params, BATCH, z, x_fake);
}

static void call_discriminator_loss(void *ctx)
{
  (void)ctx;
  sink = fashion_mlp_discriminator_loss_batch(params, BATCH, x_real, z);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211u;
  }
  return h;
}

int main(int argc, char **argv)
{
  if (argc != 2) {
    fputs("usage: iso_driver LABEL\n", stderr);
    return 2;
  }
  /* About Xavier's scale for these layers, so that no activation saturates. */
  fill(params, fashion_mlp_PARAM_COUNT, 0.06f, 1);
  fill(z, BATCH * fashion_mlp_LATENT_SIZE, 1.0f, 2);
  fill(x_real, BATCH * fashion_mlp_OBS_SIZE, 1.0f, 3);

  call_generate(NULL);
  fashion_mlp_scalar loss = fashion_mlp_discriminator_loss_batch(params, BATCH, x_real, z);
  uint64_t h = fnv1a(14695981039346656037u, x_fake, sizeof x_fake);
  h = fnv1a(h, &loss, sizeof loss);
  double sum = 0;
  for (long i = 0; i < BATCH * fashion_mlp_OBS_SIZE; i++)
    sum += x_fake[i];

  double gen_us = 1e6 * best_seconds(call_generate, NULL, RUN_SECONDS, RUNS);
  double loss_us = 1e6 * best_seconds(call_discriminator_loss, NULL, RUN_SECONDS, RUNS);

#ifdef __STRICT_ANSI__
  const char *strict = "true";
#else
  const char *strict = "false";
#endif
  printf("{\"what\": \"iso\", \"mode\": \"%s\", \"stdc_version\": %ld, \"strict_ansi\": %s, \"batch\": %d, "
         "\"runs\": %d, \"generate_batch_us\": %.3f, \"discriminator_loss_batch_us\": %.3f, "
         "\"checksum\": \"%016llx\", \"loss\": %.9g, \"generated_sum\": %.9g}\n",
         argv[1], (long)__STDC_VERSION__, strict, BATCH, RUNS, gen_us, loss_us, (unsigned long long)h, (double)loss,
         sum);
  return 0;
}
