/* test_torch_weights.c — weights written by PyTorch load into ganc and give
 * PyTorch's outputs (tests/reference/torch_weights.py made the fixture:
 * the nn.Sequential pair of models/ring8.gan, PyTorch's own initialization,
 * no ganc metadata), and so do those of a model with batch_norm, running
 * statistics included (tests/reference/torch_batch_norm.py), and of a
 * conditional model with a label layer and a projection head
 * (tests/reference/torch_projection.py), whose files ganc writes with
 * PyTorch's tensors exactly. */
#include <cjson/cJSON.h>
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

/* The bn model of BN_MODEL_SOURCE loads PyTorch's state_dict, every tensor
   of it, and computes what PyTorch computes in eval mode. */
Test(safetensors, pytorch_written_batch_norm)
{
  char err[4096];
  ganc_model *m = ganc_jit_string(BN_MODEL_SOURCE(""), "bn.gan", err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  cr_assert_eq(info->stats_count, 26);
  float *p = malloc(sizeof(float) * (size_t)info->param_count), running[26];
  ganc_stats stats = {running, -1, -1};
  cr_assert_eq(ganc_load_weights(info, "tests/fixtures/torch_bn.safetensors", p, &stats, NULL, err, sizeof err), 0,
               "%s", err);
  cr_expect_str_empty(err);

  FILE *f = fopen("tests/fixtures/torch_bn.txt", "r");
  cr_assert(f);
  double z[16], x[24], gen[24], real[4], fake[4], want_stats[26], passes[2];
  read_block(f, "z", z, 16);
  read_block(f, "x", x, 24);
  read_block(f, "generate", gen, 24);
  read_block(f, "real_score", real, 4);
  read_block(f, "fake_score", fake, 4);
  cr_assert_eq(read_block(f, "stats", want_stats, 26), 26);
  read_block(f, "passes", passes, 2);
  fclose(f);
  for (int i = 0; i < 26; i++)
    cr_expect_eq(running[i], (float)want_stats[i], "statistic %d: %.9g, PyTorch %.9g", i, running[i], want_stats[i]);
  cr_expect_eq(stats.g_passes, (int64_t)passes[0]);
  cr_expect_eq(stats.d_passes, (int64_t)passes[1]);

  ganc_fns fns;
  cr_assert_eq(ganc_functions(m, info, &fns), 0);
  for (int i = 0; i < 4; i++) {
    float zi[4], xi[6], g[6];
    for (int j = 0; j < 4; j++)
      zi[j] = (float)z[4 * i + j];
    for (int j = 0; j < 6; j++)
      xi[j] = (float)x[6 * i + j];
    ganc_args a = {.params = p, .stats = running, .z = zi, .x = xi, .out = g};
    ganc_call(info, &fns, GANC_FN_GENERATE, &a);
    for (int j = 0; j < 6; j++)
      expect_close(g[j], gen[6 * i + j], "generate", 6 * i + j);
    expect_close(ganc_call(info, &fns, GANC_FN_REAL_SCORE, &a), real[i], "real_score", i);
    expect_close(ganc_call(info, &fns, GANC_FN_FAKE_SCORE, &a), fake[i], "fake_score", i);
  }
  free(p);
  ganc_free(m);
}

/* The projection_hinge model of tests/models loads PyTorch's state_dict
   of its twin (nn.Embedding's weight for the label layer; weight, bias
   and embedding for the projection) and computes what PyTorch computes,
   each sample under its label. */
Test(safetensors, pytorch_written_projection)
{
  char err[4096];
  ganc_model *m = ganc_jit("tests/models/projection_hinge.gan", err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  cr_assert(info->classes == 4 && info->latent_size == 4 && info->obs_size == 36);
  float *p = malloc(sizeof(float) * (size_t)info->param_count);
  cr_assert_eq(ganc_load_weights(info, "tests/fixtures/torch_projection.safetensors", p, NULL, NULL, err, sizeof err),
               0, "%s", err);
  cr_expect_str_empty(err);

  FILE *f = fopen("tests/fixtures/torch_projection.txt", "r");
  cr_assert(f);
  double z[16], x[144], gen[144], lr[4], lf[4], real[4], fake[4];
  read_block(f, "z", z, 16);
  read_block(f, "x", x, 144);
  read_block(f, "generate", gen, 144);
  read_block(f, "labels_real", lr, 4);
  read_block(f, "labels_fake", lf, 4);
  read_block(f, "real_score", real, 4);
  read_block(f, "fake_score", fake, 4);
  fclose(f);

  ganc_fns fns;
  cr_assert_eq(ganc_functions(m, info, &fns), 0);
  for (int i = 0; i < 4; i++) {
    float zi[4], xi[36], g[36];
    int x_label = (int)lr[i], z_label = (int)lf[i];
    for (int j = 0; j < 4; j++)
      zi[j] = (float)z[4 * i + j];
    for (int j = 0; j < 36; j++)
      xi[j] = (float)x[36 * i + j];
    ganc_args a = {.params = p, .z = zi, .x = xi, .x_labels = &x_label, .z_labels = &z_label, .out = g};
    ganc_call(info, &fns, GANC_FN_GENERATE, &a);
    for (int j = 0; j < 36; j++)
      expect_close(g[j], gen[36 * i + j], "generate", 36 * i + j);
    expect_close(ganc_call(info, &fns, GANC_FN_REAL_SCORE, &a), real[i], "real_score", i);
    expect_close(ganc_call(info, &fns, GANC_FN_FAKE_SCORE, &a), fake[i], "fake_score", i);
  }
  free(p);
  ganc_free(m);
}

/* The tensors of a safetensors file's header: a JSON object of name ->
   [dtype, shape], which is what load_state_dict(strict=True) compares. */
static cJSON *tensor_set(const char *path)
{
  size_t len;
  char *text = slurp(path, &len);
  cr_assert(text && len >= 8, "cannot read %s", path);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = hlen << 8 | (unsigned char)text[i];
  cJSON *root = cJSON_ParseWithLength(text + 8, (size_t)hlen), *set = cJSON_CreateObject();
  cr_assert(root && set);
  for (const cJSON *t = root->child; t; t = t->next) {
    if (strcmp(t->string, "__metadata__") == 0)
      continue;
    cJSON *what = cJSON_AddArrayToObject(set, t->string);
    cJSON_AddItemToArray(what, cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "dtype"), 1));
    cJSON_AddItemToArray(what, cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(t, "shape"), 1));
  }
  cJSON_Delete(root);
  free(text);
  return set;
}

/* The file ganc wrote (ours) holds the tensors of PyTorch's (torch): the
   same names, dtypes and shapes, no more and no fewer. */
static void expect_same_tensors(const char *ours_path, const char *torch_path)
{
  cJSON *ours = tensor_set(ours_path), *torch = tensor_set(torch_path);
  char *a = cJSON_PrintUnformatted(ours), *b = cJSON_PrintUnformatted(torch);
  cr_expect_eq(cJSON_GetArraySize(ours), cJSON_GetArraySize(torch), "ganc: %s\nPyTorch: %s", a, b);
  for (const cJSON *t = torch->child; t; t = t->next)
    cr_expect(cJSON_Compare(t, cJSON_GetObjectItemCaseSensitive(ours, t->string), 1), "PyTorch's %s: %s\nganc: %s",
              t->string, b, a);
  free(a);
  free(b);
  cJSON_Delete(ours);
  cJSON_Delete(torch);
}

/* The other way: ganc's weights of the same model hold PyTorch's names,
   dtypes and shapes, no more and no fewer. */
Test(safetensors, ganc_batch_norm_names_match_pytorch)
{
  char err[4096];
  ganc_model *m = ganc_jit_string(BN_MODEL_SOURCE(""), "bn.gan", err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  float *p = malloc(sizeof(float) * (size_t)info->param_count), running[26];
  ganc_init_params(info, 1, p);
  ganc_init_stats(info, running);
  ganc_stats stats = {running, 3, 5};
  const char *path = scratch_path("bn.safetensors");
  cr_assert_eq(ganc_save_weights(info, path, p, &stats, NULL, err, sizeof err), 0, "%s", err);
  expect_same_tensors(path, "tests/fixtures/torch_bn.safetensors");
  free(p);
  ganc_free(m);
}

/* And those of a conditional model: the label layer's and the projection's
   tensors under PyTorch's names. */
Test(safetensors, ganc_projection_names_match_pytorch)
{
  char err[4096];
  ganc_model *m = ganc_jit("tests/models/projection_hinge.gan", err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  float *p = malloc(sizeof(float) * (size_t)info->param_count);
  ganc_init_params(info, 1, p);
  const char *path = scratch_path("projection.safetensors");
  cr_assert_eq(ganc_save_weights(info, path, p, NULL, NULL, err, sizeof err), 0, "%s", err);
  expect_same_tensors(path, "tests/fixtures/torch_projection.safetensors");
  free(p);
  ganc_free(m);
}
