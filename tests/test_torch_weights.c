/* test_torch_weights.c — weights written by PyTorch load into ganc and give
 * PyTorch's outputs (tests/reference/torch_weights.py made the fixture:
 * the nn.Sequential pair of models/ring8.gan, PyTorch's own initialization,
 * no ganc metadata). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "test.h"

/* "name rows [cols]" then the values; returns how many were read. */
static int read_block(FILE *f, const char *want, double *out, int max)
{
  char name[32];
  int rows, cols = 1;
  char line[256];
  do {
    if (!fgets(line, sizeof line, f))
      return 0;
  } while (line[0] == '#');
  int got = sscanf(line, "%31s %d %d", name, &rows, &cols);
  cr_assert(got >= 2 && strcmp(name, want) == 0, "fixture: expected %s, found %s", want, line);
  if (got == 2)
    cols = 1;
  cr_assert(rows * cols <= max);
  for (int i = 0; i < rows * cols; i++)
    cr_assert(fscanf(f, "%lf", &out[i]) == 1);
  fgetc(f);
  return rows * cols;
}

static void expect_close(double got, double want, const char *what, int i)
{
  /* float code against a float64 reference (docs/DESIGN.md §4) */
  cr_expect(fabs(got - want) <= 1e-5 * fabs(want) + 1e-6, "%s[%d]: got %.9g, PyTorch %.17g", what, i, got, want);
}

Test(safetensors, pytorch_written_weights)
{
  char err[4096];
  ganc_model *m = ganc_jit("models/ring8.gan", err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  float *p = malloc(sizeof(float) * (size_t)info->param_count);
  cr_assert_eq(ganc_load_weights(info, "tests/fixtures/torch_ring8.safetensors", p, NULL, NULL, err, sizeof err), 0,
               "%s", err);
  cr_expect_str_empty(err);

  FILE *f = fopen("tests/fixtures/torch_ring8.txt", "r");
  cr_assert(f);
  double z[8], x[8], gen[8], real[4], fake[4];
  read_block(f, "z", z, 8);
  read_block(f, "x", x, 8);
  read_block(f, "generate", gen, 8);
  read_block(f, "real_score", real, 4);
  read_block(f, "fake_score", fake, 4);
  fclose(f);

  void (*generate)(const float *, const float *, float *);
  float (*real_score)(const float *, const float *), (*fake_score)(const float *, const float *);
  *(void **)&generate = ganc_symbol(m, "ring8_generate");
  *(void **)&real_score = ganc_symbol(m, "ring8_real_score");
  *(void **)&fake_score = ganc_symbol(m, "ring8_fake_score");
  for (int i = 0; i < 4; i++) {
    float zi[2] = {(float)z[2 * i], (float)z[2 * i + 1]}, xi[2] = {(float)x[2 * i], (float)x[2 * i + 1]}, g[2];
    generate(p, zi, g);
    expect_close(g[0], gen[2 * i], "generate", 2 * i);
    expect_close(g[1], gen[2 * i + 1], "generate", 2 * i + 1);
    expect_close(real_score(p, xi), real[i], "real_score", i);
    expect_close(fake_score(p, zi), fake[i], "fake_score", i);
  }
  free(p);
  ganc_free(m);
}
