/* test_conv.c — conv2d and conv_transpose2d (docs/DESIGN.md §2) on tiny
 * cases whose results follow from the definition by hand, without PyTorch:
 * 1x1 kernels as per-pixel linear maps, strides equal to the kernel as block
 * sums and block scatters, strides larger than the kernel, padding that only
 * the bias sees, output sizes that drop a remainder, the weight layouts
 * ([out, in, k, k] and [in, out, k, k]) and the kernel's orientation (a
 * cross-correlation, not flipped).
 *
 * Each case is a one-layer stack (or a short one ending in a score) whose
 * parameters are set by hand; the other stack's are zero. It runs in
 * `scalar float` and `scalar double`, through the JIT (ganc_jit_string) and
 * through emitted C (aot_build: ganc emit, gcc, dlopen), single-sample and
 * batch. Every parameter, input and partial sum is a small dyadic rational,
 * exact in float, so every order of summation (and any FMA contraction)
 * gives the exact result: values are compared for equality. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "test.h"

enum { BATCH = 3 };

typedef enum Path { JIT, AOT } Path;

typedef void (*GenerateF)(const float *, const float *, float *);
typedef void (*GenerateD)(const double *, const double *, double *);
typedef float (*ScoreF)(const float *, const float *);
typedef double (*ScoreD)(const double *, const double *);
typedef void (*BatchF)(const float *, int, const float *, float *);
typedef void (*BatchD)(const double *, int, const double *, double *);

/* source with `scalar TYPE` declared after the `{` that opens its model */
static char *with_scalar(const char *source, const char *type)
{
  const char *brace = strchr(source, '{');
  cr_assert_not_null(brace);
  size_t head = (size_t)(brace + 1 - source), len = strlen(source) + 64;
  char *out = malloc(len);
  cr_assert_not_null(out);
  snprintf(out, len, "%.*s\n  scalar %s\n%s", (int)head, source, type, brace + 1);
  return out;
}

/* One case in one scalar type through one path. stack_params are the
   parameters of the stack that fn runs (the generator for "generate", the
   discriminator for "real_score"), the other stack's are zero; want holds
   the observation for "generate", the score for "real_score". */
static void run_one(const char *source, const char *type, Path path, const char *model,
                    const char *fn, const double *stack_params, int64_t nparams,
                    const double *in, int64_t nin, const double *want, int64_t nwant)
{
  static char err[8192];
  char *src = with_scalar(source, type), label[128];
  snprintf(label, sizeof label, "%s (scalar %s, %s)", model, type, path == JIT ? "JIT" : "gcc");
  ganc_model *jit = ganc_jit_string(src, label, err, sizeof err, NULL);
  cr_assert_not_null(jit, "%s: ganc_jit_string failed:\n%s", label, err);
  const ganc_info *info = ganc_find_model(jit, model);
  cr_assert_not_null(info, "%s: no model %s", label, model);

  int is_generate = !strcmp(fn, "generate");
  int64_t offset = is_generate ? 0 : info->g_param_count;
  int64_t stack = is_generate ? info->g_param_count : info->d_param_count;
  cr_assert_eq(stack, nparams, "%s: the %s has %lld parameters, the case sets %lld", label,
               is_generate ? "generator" : "discriminator", (long long)stack,
               (long long)nparams);
  cr_assert_eq(is_generate ? info->latent_size : info->obs_size, nin, "%s: input size", label);
  cr_assert_eq(is_generate ? info->obs_size : 1, nwant, "%s: output size", label);

  int size = info->scalar_size;
  void *params = scalar_alloc(size, info->param_count);
  for (int64_t k = 0; k < nparams; k++)
    scalar_store(params, size, offset + k, stack_params[k]);
  void *input = scalars_from(size, in, nin);
  void *inputs = scalar_alloc(size, BATCH * nin);
  for (int b = 0; b < BATCH; b++)
    memcpy((char *)inputs + (size_t)(b * nin * size), input, (size_t)(nin * size));
  void *out = scalar_alloc(size, nwant), *outs = scalar_alloc(size, BATCH * nwant);

  Aot *aot = NULL;
  char *dir = NULL;
  if (path == AOT) {
    static char why[16384];
    char file[512];
    dir = tmpdir_make();
    cr_assert_not_null(dir);
    snprintf(file, sizeof file, "%s/%s.gan", dir, model);
    FILE *fp = fopen(file, "w");
    cr_assert_not_null(fp);
    fputs(src, fp);
    fclose(fp);
    aot = aot_build(file, "gcc", why, sizeof why);
    cr_assert_not_null(aot, "%s: %s", label, why);
  }
  void *single = model_fn(jit, aot, model, fn);
  char batch_fn[64];
  snprintf(batch_fn, sizeof batch_fn, "%s_batch", fn);
  void *batch = model_fn(jit, aot, model, batch_fn);
  cr_assert(single && batch, "%s: no %s_%s or %s_%s", label, model, fn, model, batch_fn);

  if (is_generate) {
    if (size == 4)
      (*(GenerateF *)&single)(params, input, out);
    else
      (*(GenerateD *)&single)(params, input, out);
  } else {
    double s = size == 4 ? (*(ScoreF *)&single)(params, input)
                         : (*(ScoreD *)&single)(params, input);
    scalar_store(out, size, 0, s);
  }
  if (size == 4)
    (*(BatchF *)&batch)(params, BATCH, inputs, outs);
  else
    (*(BatchD *)&batch)(params, BATCH, inputs, outs);

  for (int64_t i = 0; i < nwant; i++) {
    double got = scalar_load(out, size, i);
    cr_expect(got == want[i], "%s: %s_%s[%lld]: got %.17g, want %.17g", label, model, fn,
              (long long)i, got, want[i]);
    for (int b = 0; b < BATCH; b++) {
      got = scalar_load(outs, size, b * nwant + i);
      cr_expect(got == want[i], "%s: %s_%s sample %d [%lld]: got %.17g, want %.17g", label,
                model, batch_fn, b, (long long)i, got, want[i]);
    }
  }

  aot_free(aot);
  tmpdir_remove(dir);
  ganc_free(jit);
  free(params);
  free(input);
  free(inputs);
  free(out);
  free(outs);
  free(src);
}

/* The case in both scalar types through both paths. */
static void check_case(const char *source, const char *model, const char *fn,
                       const double *stack_params, int64_t nparams, const double *in,
                       int64_t nin, const double *want, int64_t nwant)
{
  static const char *const types[] = {"float", "double"};
  for (int t = 0; t < 2; t++)
    for (Path p = JIT; p <= AOT; p++)
      run_one(source, types[t], p, model, fn, stack_params, nparams, in, nin, want, nwant);
}

#define N(a) ((int64_t)(sizeof(a) / sizeof *(a)))

/* A discriminator for cases that test the generator (its parameters are
   zero). */
#define ANY_DISCRIMINATOR "discriminator { flatten linear(1) }\n"

/* ---- conv2d ---- */

/* A 1x1 kernel is the same linear map (channels in to channels out) at
   every pixel. */
Test(conv, conv2d_kernel_1_is_a_per_pixel_linear_map)
{
  const char *src = "model k1 {\n  latent [3, 2, 3]\n  observation [2, 2, 3]\n"
                    "  generator { conv2d(2, 1) }\n  " ANY_DISCRIMINATOR "}\n";
  /* weight [2, 3, 1, 1], bias [2] */
  const double p[] = {1, -2, 0.5, 3, 0.25, -1, 0.5, -4};
  double z[18], want[12];
  for (int k = 0; k < 18; k++)
    z[k] = (k * 5 % 11) - 5;
  for (int o = 0; o < 2; o++)
    for (int px = 0; px < 6; px++)
      want[o * 6 + px] = p[6 + o] + p[3 * o] * z[px] + p[3 * o + 1] * z[6 + px] +
                         p[3 * o + 2] * z[12 + px];
  check_case(src, "k1", "generate", p, N(p), z, N(z), want, N(want));
}

/* A 1x1 kernel with stride 2 samples every other row and column. */
Test(conv, conv2d_kernel_1_stride_2_samples_every_other_pixel)
{
  const char *src = "model k1s2 {\n  latent [2, 3, 5]\n  observation [1, 2, 3]\n"
                    "  generator { conv2d(1, 1, stride = 2) }\n  " ANY_DISCRIMINATOR "}\n";
  const double p[] = {2, -1, 0.5};
  double z[30], want[6];
  for (int k = 0; k < 30; k++)
    z[k] = k % 7 - 3;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++)
      want[i * 3 + j] = 0.5 + 2 * z[(2 * i) * 5 + 2 * j] - z[15 + (2 * i) * 5 + 2 * j];
  check_case(src, "k1s2", "generate", p, N(p), z, N(z), want, N(want));
}

/* A 1x1 kernel with padding 1: the outer ring of outputs sees only the zero
   padding, so it is the bias. */
Test(conv, conv2d_padding_beyond_the_kernel_gives_the_bias)
{
  const char *src = "model k1p1 {\n  latent [1, 2, 3]\n  observation [1, 4, 5]\n"
                    "  generator { conv2d(1, 1, padding = 1) }\n  " ANY_DISCRIMINATOR "}\n";
  const double p[] = {3, -0.5};
  const double z[] = {1, 2, 3, -4, -5, -6};
  const double want[] = {-0.5, -0.5, -0.5, -0.5, -0.5,  /* */
                         -0.5, 2.5,  5.5,  8.5,  -0.5,  /* */
                         -0.5, -12.5, -15.5, -18.5, -0.5, /* */
                         -0.5, -0.5, -0.5, -0.5, -0.5};
  check_case(src, "k1p1", "generate", p, N(p), z, N(z), want, N(want));
}

/* Stride equal to the kernel, padding 0, weight all ones: the sums of the
   2x2 blocks of 0 1 2 .. 15, plus the bias. */
Test(conv, conv2d_stride_equal_to_kernel_sums_blocks)
{
  const char *src = "model blocks {\n  latent [1, 4, 4]\n  observation [1, 2, 2]\n"
                    "  generator { conv2d(1, 2, stride = 2) }\n  " ANY_DISCRIMINATOR "}\n";
  const double p[] = {1, 1, 1, 1, 0.5};
  double z[16];
  for (int k = 0; k < 16; k++)
    z[k] = k;
  /* 0+1+4+5, 2+3+6+7, 8+9+12+13, 10+11+14+15 */
  const double want[] = {10.5, 18.5, 42.5, 50.5};
  check_case(src, "blocks", "generate", p, N(p), z, N(z), want, N(want));
}

/* Output size floor((5-3)/3)+1 = 1 by floor((7-3)/3)+1 = 2: the last two
   rows and the last column take no part. Weight all ones over two channels:
   the sums of the 3x3 blocks at columns 0 and 3 of both channels. */
Test(conv, conv2d_stride_drops_the_remainder)
{
  const char *src = "model floor {\n  latent [2, 5, 7]\n  observation [1, 1, 2]\n"
                    "  generator { conv2d(1, 3, stride = 3) }\n  " ANY_DISCRIMINATOR "}\n";
  double p[19], z[70], want[2] = {0, 0};
  for (int k = 0; k < 18; k++)
    p[k] = 1;
  p[18] = 0;
  for (int k = 0; k < 70; k++)
    z[k] = k % 4 + 1;
  for (int j = 0; j < 2; j++)
    for (int c = 0; c < 2; c++)
      for (int r = 0; r < 3; r++)
        for (int s = 0; s < 3; s++)
          want[j] += z[c * 35 + r * 7 + 3 * j + s];
  check_case(src, "floor", "generate", p, N(p), z, N(z), want, N(want));
}

/* A kernel as large as the input: output o is the dot product of the
   weight's row o (layout [out, in, k, k], in the input's order) with the
   input. */
Test(conv, conv2d_weight_layout_is_out_in_k_k)
{
  const char *src = "model layout2d {\n  latent [2, 2, 2]\n  observation [3, 1, 1]\n"
                    "  generator { conv2d(3, 2) }\n  " ANY_DISCRIMINATOR "}\n";
  double p[27], want[3];
  const double z[] = {1, -2, 3, 0.5, -1, 2, 0.25, 4};
  for (int k = 0; k < 24; k++)
    p[k] = k - 12;
  p[24] = 1, p[25] = -1, p[26] = 0.5;
  for (int o = 0; o < 3; o++) {
    want[o] = p[24 + o];
    for (int m = 0; m < 8; m++)
      want[o] += p[8 * o + m] * z[m];
  }
  check_case(src, "layout2d", "generate", p, N(p), z, N(z), want, N(want));
}

/* PyTorch's conv2d is a cross-correlation: kernel [[1, 2], [3, 4]] over
   [[1, 2, 4], [8, 16, 32]] gives 1+4+24+64 and 2+8+48+128 (a flipped kernel
   would give 42 and 84). */
Test(conv, conv2d_does_not_flip_the_kernel)
{
  const char *src = "model xcorr {\n  latent [1, 2, 3]\n  observation [1, 1, 2]\n"
                    "  generator { conv2d(1, 2) }\n  " ANY_DISCRIMINATOR "}\n";
  const double p[] = {1, 2, 3, 4, 0};
  const double z[] = {1, 2, 4, 8, 16, 32};
  const double want[] = {93, 186};
  check_case(src, "xcorr", "generate", p, N(p), z, N(z), want, N(want));
}

/* ---- conv_transpose2d ---- */

/* One input pixel per channel: the output is the kernel of each input
   channel, weighted by it, unflipped (layout [in, out, k, k]). */
Test(conv, conv_transpose2d_weight_layout_is_in_out_k_k)
{
  const char *src = "model layoutT {\n  latent [2, 1, 1]\n  observation [3, 2, 2]\n"
                    "  generator { conv_transpose2d(3, 2) }\n  " ANY_DISCRIMINATOR "}\n";
  double p[27], want[12];
  const double z[] = {2, -1};
  for (int k = 0; k < 24; k++)
    p[k] = (k * 7 % 13) - 6;
  p[24] = 0.5, p[25] = -0.25, p[26] = 1;
  for (int o = 0; o < 3; o++)
    for (int q = 0; q < 4; q++)
      want[o * 4 + q] = p[24 + o] + 2 * p[o * 4 + q] - p[12 + o * 4 + q];
  check_case(src, "layoutT", "generate", p, N(p), z, N(z), want, N(want));
}

/* Stride equal to the kernel, weight all ones: each input pixel becomes a
   2x2 block of its value plus the bias. */
Test(conv, conv_transpose2d_stride_equal_to_kernel_scatters_blocks)
{
  const char *src = "model scatter {\n  latent [1, 2, 3]\n  observation [1, 4, 6]\n"
                    "  generator { conv_transpose2d(1, 2, stride = 2) }\n  " ANY_DISCRIMINATOR
                    "}\n";
  const double p[] = {1, 1, 1, 1, 0.5};
  const double z[] = {1, 2, 3, -4, -5, -6};
  const double want[] = {1.5,  1.5,  2.5,  2.5,  3.5,  3.5,  /* */
                         1.5,  1.5,  2.5,  2.5,  3.5,  3.5,  /* */
                         -3.5, -3.5, -4.5, -4.5, -5.5, -5.5, /* */
                         -3.5, -3.5, -4.5, -4.5, -5.5, -5.5};
  check_case(src, "scatter", "generate", p, N(p), z, N(z), want, N(want));
}

/* The same with two channels in and two out, kernel 3: every 3x3 block holds
   the sum of the two input channels at its pixel plus the channel's bias. */
Test(conv, conv_transpose2d_scatters_blocks_over_channels)
{
  const char *src = "model scatter3 {\n  latent [2, 2, 2]\n  observation [2, 6, 6]\n"
                    "  generator { conv_transpose2d(2, 3, stride = 3) }\n  " ANY_DISCRIMINATOR
                    "}\n";
  double p[38], want[72];
  const double z[] = {1, 2, 3, 4, 10, 20, 30, 40};
  for (int k = 0; k < 36; k++)
    p[k] = 1;
  p[36] = 0.5, p[37] = -1;
  for (int o = 0; o < 2; o++)
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 6; j++)
        want[o * 36 + i * 6 + j] = z[(i / 3) * 2 + j / 3] + z[4 + (i / 3) * 2 + j / 3] + p[36 + o];
  check_case(src, "scatter3", "generate", p, N(p), z, N(z), want, N(want));
}

/* Stride 3 with a 1x1 kernel: (2-1)*3+1 = 4 by (3-1)*3+1 = 7, the input
   pixels land on every third row and column, the rest is the bias. */
Test(conv, conv_transpose2d_stride_above_kernel_leaves_gaps)
{
  const char *src = "model gaps {\n  latent [1, 2, 3]\n  observation [1, 4, 7]\n"
                    "  generator { conv_transpose2d(1, 1, stride = 3) }\n  " ANY_DISCRIMINATOR
                    "}\n";
  const double p[] = {2, 0.25};
  const double z[] = {1, 2, 3, -4, -5, -6};
  double want[28];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 7; j++)
      want[i * 7 + j] = i % 3 == 0 && j % 3 == 0 ? 2 * z[(i / 3) * 3 + j / 3] + 0.25 : 0.25;
  check_case(src, "gaps", "generate", p, N(p), z, N(z), want, N(want));
}

/* Stride 1 with kernel 2, weight all ones: each output is the sum of the
   input pixels whose 2x2 footprint covers it. */
Test(conv, conv_transpose2d_overlapping_windows_add)
{
  const char *src = "model overlap {\n  latent [1, 2, 2]\n  observation [1, 3, 3]\n"
                    "  generator { conv_transpose2d(1, 2) }\n  " ANY_DISCRIMINATOR "}\n";
  const double p[] = {1, 1, 1, 1, -0.5};
  const double z[] = {1, 2, 4, 8};
  const double want[] = {0.5, 2.5, 1.5, 4.5, 14.5, 9.5, 3.5, 11.5, 7.5};
  check_case(src, "overlap", "generate", p, N(p), z, N(z), want, N(want));
}

/* Padding crops the full output: the 2x2 blocks of the stride-2 scatter of
   [1, 2, 3] are [1, 4, 6]; padding 1 removes one row and column on each
   side, leaving (2-1)*2+2-2 = 2 by (3-1)*2+2-2 = 4. */
Test(conv, conv_transpose2d_padding_crops)
{
  const char *src = "model crop {\n  latent [1, 2, 3]\n  observation [1, 2, 4]\n"
                    "  generator { conv_transpose2d(1, 2, stride = 2, padding = 1) }\n  "
                    ANY_DISCRIMINATOR "}\n";
  const double p[] = {1, 1, 1, 1, 0.5};
  const double z[] = {1, 2, 3, -4, -5, -6};
  const double want[] = {1.5, 2.5, 2.5, 3.5, /* */
                         -3.5, -4.5, -4.5, -5.5};
  check_case(src, "crop", "generate", p, N(p), z, N(z), want, N(want));
}

/* A 1x1 kernel with padding 1 (larger than kernel - 1), stride 3: the
   scattered grid of (3-1)*3+1 = 7 by 7, whose input pixels lie on rows and
   columns 0, 3 and 6, loses its border, leaving 5 by 5 in which only the
   centre pixel (3, 3), now (2, 2), holds an input: -z[1][1] + 0.5. */
Test(conv, conv_transpose2d_padding_beyond_the_kernel_crops)
{
  const char *src = "model crop1 {\n  latent [1, 3, 3]\n  observation [1, 5, 5]\n"
                    "  generator { conv_transpose2d(1, 1, stride = 3, padding = 1) }\n  "
                    ANY_DISCRIMINATOR "}\n";
  const double p[] = {-1, 0.5};
  const double z[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  double want[25];
  for (int k = 0; k < 25; k++)
    want[k] = k == 2 * 5 + 2 ? -4.5 : 0.5;
  check_case(src, "crop1", "generate", p, N(p), z, N(z), want, N(want));
}

/* ---- In the discriminator ---- */

/* A generator for cases that test the discriminator (its parameters are
   zero). */
#define GENERATOR_1_4_4 "generator { linear(16) reshape([1, 4, 4]) }\n"

/* The block sums of conv2d_stride_equal_to_kernel_sums_blocks, weighted 1 to
   4 by linear(1): 10.5 + 2*18.5 + 3*42.5 + 4*50.5 + 0.25. */
Test(conv, real_score_through_conv2d)
{
  const char *src = "model dblocks {\n  latent [1]\n  observation [1, 4, 4]\n  " GENERATOR_1_4_4
                    "  discriminator { conv2d(1, 2, stride = 2) flatten linear(1) }\n}\n";
  const double p[] = {1, 1, 1, 1, 0.5, 1, 2, 3, 4, 0.25};
  double x[16];
  for (int k = 0; k < 16; k++)
    x[k] = k;
  const double want[] = {377.25};
  check_case(src, "dblocks", "real_score", p, N(p), x, N(x), want, N(want));
}

/* A conv2d whose kernel covers the whole observation is the score: the sum
   0 + 1 + .. + 15 = 120, plus the bias. */
Test(conv, real_score_is_a_whole_image_conv2d)
{
  const char *src = "model dwhole {\n  latent [1]\n  observation [1, 4, 4]\n  " GENERATOR_1_4_4
                    "  discriminator { conv2d(1, 4) flatten }\n}\n";
  double p[17], x[16];
  for (int k = 0; k < 16; k++)
    p[k] = 1, x[k] = k;
  p[16] = -0.5;
  const double want[] = {119.5};
  check_case(src, "dwhole", "real_score", p, N(p), x, N(x), want, N(want));
}

/* conv_transpose2d in the discriminator: [1, 1, 2] scattered (weight all
   ones, stride 2) into two channels of 2x4 with biases 1 and -1, then
   linear(1) with weights 0 .. 15. */
Test(conv, real_score_through_conv_transpose2d)
{
  const char *src = "model dscatter {\n  latent [2]\n  observation [1, 1, 2]\n"
                    "  generator { linear(2) reshape([1, 1, 2]) }\n"
                    "  discriminator { conv_transpose2d(2, 2, stride = 2) flatten linear(1) }\n}\n";
  double p[8 + 2 + 16 + 1], want[1] = {0};
  const double x[] = {3, -2}, b[] = {1, -1};
  for (int k = 0; k < 8; k++)
    p[k] = 1;
  p[8] = b[0], p[9] = b[1];
  for (int m = 0; m < 16; m++)
    p[10 + m] = m;
  p[26] = 0;
  for (int o = 0; o < 2; o++)
    for (int i = 0; i < 2; i++)
      for (int j = 0; j < 4; j++)
        want[0] += (o * 8 + i * 4 + j) * (x[j / 2] + b[o]);
  check_case(src, "dscatter", "real_score", p, N(p), x, N(x), want, N(want));
}
