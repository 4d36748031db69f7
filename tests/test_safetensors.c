/* test_safetensors.c — weights and checkpoints: round trips, files written
 * byte by byte from the format's description, and every kind of broken file;
 * then the same for the running statistics of a model with batch_norm. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "fixture.h"
#include "io.h"
#include "test.h"

/* ---- Models built by hand ---- */

/* tiny: latent [2] -> linear(4), relu, linear(2); discriminator linear(1). */
static const ganc_tensor tiny_tensors[] = {
    {"generator.0.weight", 2, {4, 2}, 0, 8, GANC_INIT_XAVIER},
    {"generator.0.bias", 1, {4}, 8, 4, GANC_INIT_ZERO},
    {"generator.2.weight", 2, {2, 4}, 12, 8, GANC_INIT_XAVIER},
    {"generator.2.bias", 1, {2}, 20, 2, GANC_INIT_ZERO},
    {"discriminator.0.weight", 2, {1, 2}, 22, 2, GANC_INIT_XAVIER},
    {"discriminator.0.bias", 1, {1}, 24, 1, GANC_INIT_ZERO},
};
enum { TINY_PARAMS = 25 };

static ganc_info tiny_info(int scalar_size)
{
  ganc_info info = {
      .name = "tiny",
      .scalar_size = scalar_size,
      .latent_rank = 1, .latent_shape = {2}, .latent_size = 2,
      .obs_rank = 1, .obs_shape = {2}, .obs_size = 2,
      .g_param_count = 22, .d_param_count = 3, .param_count = TINY_PARAMS,
      .ntensors = 6, .tensors = tiny_tensors,
      .signature = "latent [2]; observation [2]",
  };
  return info;
}

/* mini: small enough to write its headers by hand. */
static const ganc_tensor mini_tensors[] = {
    {"generator.0.weight", 2, {2, 1}, 0, 2, GANC_INIT_XAVIER},
    {"generator.0.bias", 1, {2}, 2, 2, GANC_INIT_ZERO},
    {"discriminator.0.weight", 2, {1, 2}, 4, 2, GANC_INIT_XAVIER},
    {"discriminator.0.bias", 1, {1}, 6, 1, GANC_INIT_ZERO},
};
enum { MINI_PARAMS = 7 };

static ganc_info mini_info(void)
{
  ganc_info info = {
      .name = "mini",
      .scalar_size = 4,
      .latent_rank = 1, .latent_shape = {1}, .latent_size = 1,
      .obs_rank = 1, .obs_shape = {2}, .obs_size = 2,
      .g_param_count = 4, .d_param_count = 3, .param_count = MINI_PARAMS,
      .ntensors = 4, .tensors = mini_tensors,
      .signature = "latent [1]; observation [2]",
  };
  return info;
}

TestSuite(safetensors, .init = scratch_open, .fini = scratch_close);

/* ---- Writing files byte by byte ---- */

static void write_bytes(const char *path, const void *bytes, size_t n)
{
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(bytes, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

/* length as 8 little-endian bytes, the header, then data */
static void write_safetensors(const char *path, uint64_t length, const char *header,
                              const unsigned char *data, size_t ndata)
{
  size_t hlen = strlen(header);
  unsigned char *buf = malloc(8 + hlen + ndata);
  for (int i = 0; i < 8; i++)
    buf[i] = (unsigned char)(length >> (8 * i));
  memcpy(buf + 8, header, hlen);
  if (ndata)
    memcpy(buf + 8 + hlen, data, ndata);
  write_bytes(path, buf, 8 + hlen + ndata);
  free(buf);
}

/* F32 values as their IEEE bit patterns (so the test does not rely on the
   host's float layout), written little-endian. */
static const uint32_t f32_bits[] = {0x3F800000, 0xC0200000, 0x3F000000, 0x40400000,
                                    0xBE800000, 0x41200000, 0x00000000};
static const float f32_values[] = {1.0f, -2.5f, 0.5f, 3.0f, -0.25f, 10.0f, 0.0f};

static void put_f32(unsigned char *p, int k)
{
  uint32_t b = f32_bits[k % 7];
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char)(b >> (8 * i));
}

static const char mini_header[] =
    "{\"generator.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
    "\"generator.0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
    "\"discriminator.0.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[16,24]},"
    "\"discriminator.0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[24,28]}";

/* A mini file with the given header (length stated truthfully) and ndata
   bytes of data; loading it must fail with a message holding want (and the
   file's name), and leave params untouched. */
static void expect_error(const char *header, size_t ndata, const char *want)
{
  const char *path = scratch_path("bad.safetensors");
  unsigned char data[64];
  for (int i = 0; i < 16; i++)
    put_f32(data + 4 * i, i);
  write_safetensors(path, strlen(header), header, data, ndata);
  ganc_info info = mini_info();
  float params[MINI_PARAMS];
  for (int i = 0; i < MINI_PARAMS; i++)
    params[i] = 42;
  char err[512];
  cr_assert_eq(ganc_load_weights(&info, path, params, NULL, NULL, err, sizeof err), -1,
               "loading should fail with '%s'", want);
  cr_assert_not_null(strstr(err, want), "error '%s' does not say '%s'", err, want);
  cr_assert_not_null(strstr(err, path), "error '%s' does not name the file", err);
  for (int i = 0; i < MINI_PARAMS; i++)
    cr_assert_eq(params[i], 42, "params changed by a failed load");
}

/* The mini header with the text at `at` overwritten by `with` (as many
   characters as it has), 28 bytes of data: must fail with want. */
static void expect_edit_error(const char *at, const char *with, const char *want)
{
  char h[2048];
  snprintf(h, sizeof h, "%s}", mini_header);
  char *p = strstr(h, at);
  cr_assert_not_null(p, "the mini header has no %s", at);
  memcpy(p, with, strlen(with));
  expect_error(h, 28, want);
}

/* mini_header with `extra` spliced in before the closing brace */
static char *header_with(const char *extra)
{
  static char buf[2048];
  snprintf(buf, sizeof buf, "%s%s}", mini_header, extra);
  return buf;
}

static void fill_params(float *p, int n, float scale)
{
  for (int i = 0; i < n; i++)
    p[i] = scale * (float)(i - 7) / 3.0f;
}

/* ---- Round trips ---- */

Test(safetensors, round_trip_float)
{
  ganc_info info = tiny_info(4);
  float params[TINY_PARAMS], back[TINY_PARAMS] = {0};
  fill_params(params, TINY_PARAMS, 1);
  char err[256] = "junk";
  cr_assert_eq(ganc_save_weights(&info, scratch_path("w.safetensors"), params, NULL, NULL, err, sizeof err),
               0, "%s", err);
  strcpy(err, "junk");
  cr_assert_eq(ganc_load_weights(&info, scratch_path("w.safetensors"), back, NULL, NULL, err, sizeof err),
               0, "%s", err);
  cr_assert_str_empty(err);
  cr_assert_eq(memcmp(params, back, sizeof params), 0);
}

Test(safetensors, round_trip_double)
{
  ganc_info info = tiny_info(8);
  double params[TINY_PARAMS], back[TINY_PARAMS] = {0};
  for (int i = 0; i < TINY_PARAMS; i++)
    params[i] = 1.0 / (i + 1) - 0.3; /* not representable as float */
  char err[256];
  cr_assert_eq(ganc_save_weights(&info, scratch_path("w.safetensors"), params, NULL, NULL, err, sizeof err),
               0, "%s", err);
  cr_assert_eq(ganc_load_weights(&info, scratch_path("w.safetensors"), back, NULL, NULL, err, sizeof err),
               0, "%s", err);
  cr_assert_eq(memcmp(params, back, sizeof params), 0);
}

/* The writer's bytes, read back here by the format's rules. */
Test(safetensors, written_file_follows_the_format)
{
  ganc_info info = tiny_info(4);
  float params[TINY_PARAMS];
  fill_params(params, TINY_PARAMS, 2);
  char err[256];
  const char *path = scratch_path("w.safetensors");
  cr_assert_eq(ganc_save_weights(&info, path, params, NULL, NULL, err, sizeof err), 0, "%s", err);

  FILE *f = fopen(path, "rb");
  unsigned char buf[4096];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = hlen << 8 | buf[i];
  cr_assert_eq(hlen % 8, 0, "header length %llu not a multiple of 8", (unsigned long long)hlen);
  cr_assert_eq(n, 8 + hlen + TINY_PARAMS * 4, "file size %zu", n);

  cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, hlen);
  cr_assert_not_null(root);
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
  cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(meta, "ganc.model")->valuestring, "tiny");
  cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(meta, "ganc.signature")->valuestring,
                   "latent [2]; observation [2]");
  cr_assert_null(cJSON_GetObjectItemCaseSensitive(meta, "ganc.step"));
  cr_assert_eq(cJSON_GetArraySize(root), 7);

  cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "generator.2.weight");
  cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(t, "dtype")->valuestring, "F32");
  cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
  cr_assert_eq(cJSON_GetArraySize(shape), 2);
  cr_assert_eq(cJSON_GetArrayItem(shape, 0)->valueint, 2);
  cr_assert_eq(cJSON_GetArrayItem(shape, 1)->valueint, 4);
  cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
  cr_assert_eq(cJSON_GetArrayItem(off, 0)->valueint, 12 * 4);
  cr_assert_eq(cJSON_GetArrayItem(off, 1)->valueint, 20 * 4);
  /* Its third scalar, read as little-endian bits. */
  const unsigned char *p = buf + 8 + hlen + 4 * (12 + 2);
  uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                  (uint32_t)p[3] << 24;
  float v;
  memcpy(&v, &bits, 4);
  cr_assert_eq(v, params[14]);
  cJSON_Delete(root);
}

Test(safetensors, f64_file_into_float_model)
{
  ganc_info dinfo = tiny_info(8), finfo = tiny_info(4);
  double params[TINY_PARAMS];
  float back[TINY_PARAMS];
  for (int i = 0; i < TINY_PARAMS; i++)
    params[i] = 1.0 / (i + 3) - 0.1;
  char err[256];
  cr_assert_eq(ganc_save_weights(&dinfo, scratch_path("w.safetensors"), params, NULL, NULL, err, sizeof err),
               0, "%s", err);
  cr_assert_eq(ganc_load_weights(&finfo, scratch_path("w.safetensors"), back, NULL, NULL, err, sizeof err),
               0, "%s", err);
  for (int i = 0; i < TINY_PARAMS; i++)
    cr_assert_eq(back[i], (float)params[i], "scalar %d: %g vs %g", i, back[i], params[i]);
}

Test(safetensors, f32_file_into_double_model)
{
  ganc_info dinfo = tiny_info(8), finfo = tiny_info(4);
  float params[TINY_PARAMS];
  double back[TINY_PARAMS];
  fill_params(params, TINY_PARAMS, 1);
  char err[256];
  cr_assert_eq(ganc_save_weights(&finfo, scratch_path("w.safetensors"), params, NULL, NULL, err, sizeof err),
               0, "%s", err);
  cr_assert_eq(ganc_load_weights(&dinfo, scratch_path("w.safetensors"), back, NULL, NULL, err, sizeof err),
               0, "%s", err);
  for (int i = 0; i < TINY_PARAMS; i++)
    cr_assert_eq(back[i], (double)params[i]);
}

static void fill_state(ganc_train_state *s, float *m, float *v)
{
  for (int i = 0; i < TINY_PARAMS; i++) {
    m[i] = 0.001f * (float)i;
    v[i] = 1e-6f * (float)(i * i) + 1e-8f;
  }
  s->adam_m = m;
  s->adam_v = v;
  s->step = 123456789012LL;
  /* Small words check the zero padding of the hexadecimal text. */
  s->rng = (ganc_rng){{0x1, 0xfedcba9876543210ull, 0xabc, 0x8000000000000000ull}};
}

Test(safetensors, checkpoint_round_trip)
{
  ganc_info info = tiny_info(4);
  float params[TINY_PARAMS], m[TINY_PARAMS], v[TINY_PARAMS];
  float bp[TINY_PARAMS] = {0}, bm[TINY_PARAMS] = {0}, bv[TINY_PARAMS] = {0};
  fill_params(params, TINY_PARAMS, 1);
  ganc_train_state s, back = {.adam_m = bm, .adam_v = bv};
  fill_state(&s, m, v);
  char err[256];
  const char *path = scratch_path("c.safetensors");
  cr_assert_eq(ganc_save_weights(&info, path, params, NULL, &s, err, sizeof err), 0, "%s", err);
  cr_assert_eq(ganc_load_weights(&info, path, bp, NULL, &back, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(params, bp, sizeof bp), 0);
  cr_assert_eq(memcmp(m, bm, sizeof bm), 0);
  cr_assert_eq(memcmp(v, bv, sizeof bv), 0);
  cr_assert_eq(back.step, s.step);
  for (int i = 0; i < 4; i++)
    cr_assert_eq(back.rng.s[i], s.rng.s[i], "rng word %d", i);

  /* The metadata text, as the design describes it. */
  FILE *f = fopen(path, "rb");
  char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  cr_assert_not_null(strstr(buf + 8, "\"ganc.step\":\"123456789012\""));
  cr_assert_not_null(strstr(buf + 8, "\"ganc.rng\":\"0000000000000001 fedcba9876543210"
                                     " 0000000000000abc 8000000000000000\""));
  cr_assert_not_null(strstr(buf + 8, "\"adam.m.discriminator.0.bias\""));
  cr_assert_not_null(strstr(buf + 8, "\"adam.v.generator.0.weight\""));
}

Test(safetensors, weights_loading_ignores_adam)
{
  ganc_info info = tiny_info(4);
  float params[TINY_PARAMS], m[TINY_PARAMS], v[TINY_PARAMS], back[TINY_PARAMS] = {0};
  fill_params(params, TINY_PARAMS, 3);
  ganc_train_state s;
  fill_state(&s, m, v);
  char err[256] = "junk";
  cr_assert_eq(ganc_save_weights(&info, scratch_path("c.safetensors"), params, NULL, &s, err, sizeof err), 0);
  cr_assert_eq(ganc_load_weights(&info, scratch_path("c.safetensors"), back, NULL, NULL, err, sizeof err), 0,
               "%s", err);
  cr_assert_str_empty(err);
  cr_assert_eq(memcmp(params, back, sizeof back), 0);
}

Test(safetensors, checkpoint_needs_training_state)
{
  ganc_info info = tiny_info(4);
  float params[TINY_PARAMS], m[TINY_PARAMS], v[TINY_PARAMS];
  fill_params(params, TINY_PARAMS, 1);
  ganc_train_state s = {.adam_m = m, .adam_v = v};
  char err[256];
  cr_assert_eq(ganc_save_weights(&info, scratch_path("w.safetensors"), params, NULL, NULL, err, sizeof err), 0);
  cr_assert_eq(ganc_load_weights(&info, scratch_path("w.safetensors"), params, NULL, &s, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "ganc.step"), "%s", err);
}

Test(safetensors, checkpoint_missing_adam_tensor)
{
  const char *path = scratch_path("c.safetensors");
  char header[2048];
  snprintf(header, sizeof header,
           "{\"__metadata__\":{\"ganc.step\":\"7\",\"ganc.rng\":\"1 2 3 4\"},%s,"
           "\"adam.m.generator.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[28,36]}}",
           mini_header + 1);
  unsigned char data[36];
  for (int i = 0; i < 9; i++)
    put_f32(data + 4 * i, i);
  write_safetensors(path, strlen(header), header, data, sizeof data);
  ganc_info info = mini_info();
  float params[MINI_PARAMS], m[MINI_PARAMS], v[MINI_PARAMS];
  ganc_train_state s = {.adam_m = m, .adam_v = v};
  char err[256];
  cr_assert_eq(ganc_load_weights(&info, path, params, NULL, &s, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "tensor 'adam.m.generator.0.bias' is missing"), "%s", err);
  /* As weights it is fine: the one adam tensor is ignored. */
  cr_assert_eq(ganc_load_weights(&info, path, params, NULL, NULL, err, sizeof err), 0, "%s", err);
}

Test(safetensors, checkpoint_bad_rng_text)
{
  const char *path = scratch_path("c.safetensors");
  char header[2048];
  snprintf(header, sizeof header, "{\"__metadata__\":{\"ganc.step\":\"7\",\"ganc.rng\":\"1 2 3\"},%s}",
           mini_header + 1);
  unsigned char data[28];
  for (int i = 0; i < 7; i++)
    put_f32(data + 4 * i, i);
  write_safetensors(path, strlen(header), header, data, sizeof data);
  ganc_info info = mini_info();
  float params[MINI_PARAMS], m[MINI_PARAMS], v[MINI_PARAMS];
  ganc_train_state s = {.adam_m = m, .adam_v = v};
  char err[256];
  cr_assert_eq(ganc_load_weights(&info, path, params, NULL, &s, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "ganc.rng"), "%s", err);
}

/* ---- Checkpoints with a moving average (--ema) ---- */

enum { TINY_G_PARAMS = 22 };

static void fill_ema(float *e)
{
  for (int i = 0; i < TINY_G_PARAMS; i++)
    e[i] = 0.25f * (float)i - 1.5f;
}

Test(safetensors, checkpoint_with_ema_round_trip)
{
  ganc_info info = tiny_info(4);
  float params[TINY_PARAMS], m[TINY_PARAMS], v[TINY_PARAMS], e[TINY_G_PARAMS];
  float bp[TINY_PARAMS] = {0}, bm[TINY_PARAMS] = {0}, bv[TINY_PARAMS] = {0}, be[TINY_G_PARAMS] = {0};
  fill_params(params, TINY_PARAMS, 1);
  fill_ema(e);
  ganc_train_state s, back = {.adam_m = bm, .adam_v = bv};
  fill_state(&s, m, v);
  ganc_ema ema = {e, NULL, 0.999}, got = {be, NULL, 0};
  char err[256];
  const char *path = scratch_path("c.safetensors");
  cr_assert_eq(ganc_save_checkpoint(&info, path, params, NULL, &s, &ema, err, sizeof err), 0, "%s", err);
  cr_assert_eq(ganc_load_checkpoint(&info, path, bp, NULL, &back, &got, err, sizeof err), 0, "%s", err);
  cr_assert_eq(memcmp(params, bp, sizeof bp), 0);
  cr_assert_eq(memcmp(m, bm, sizeof bm), 0);
  cr_assert_eq(memcmp(v, bv, sizeof bv), 0);
  cr_assert_eq(memcmp(e, be, sizeof be), 0);
  cr_assert_eq(got.decay, 0.999);
  cr_assert_eq(back.step, s.step);

  /* The metadata and names: ema.NAME for the generator's tensors only, the
     decay in its shortest exact form. */
  char *text = slurp(path, NULL);
  cr_assert_not_null(strstr(text + 8, "\"ganc.ema\":\"0.999\""), "%s", text + 8);
  cr_assert_not_null(strstr(text + 8, "\"ema.generator.0.weight\""));
  cr_assert_not_null(strstr(text + 8, "\"ema.generator.2.bias\""));
  cr_assert_null(strstr(text + 8, "\"ema.discriminator"));
  free(text);

  /* The decay alone, without the tensors. */
  got = (ganc_ema){NULL, NULL, 0};
  cr_assert_eq(ganc_load_checkpoint(&info, path, bp, NULL, &back, &got, err, sizeof err), 0, "%s", err);
  cr_assert_eq(got.decay, 0.999);
  /* As a plain checkpoint and as weights, the average is ignored. */
  cr_assert_eq(ganc_load_weights(&info, path, bp, NULL, &back, err, sizeof err), 0, "%s", err);
  memset(bp, 0, sizeof bp);
  cr_assert_eq(ganc_load_weights(&info, path, bp, NULL, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_str_empty(err);
  cr_assert_eq(memcmp(params, bp, sizeof bp), 0, "weights from a checkpoint are the raw parameters");
}

Test(safetensors, checkpoint_without_ema)
{
  ganc_info info = tiny_info(8);
  double params[TINY_PARAMS], m[TINY_PARAMS] = {0}, v[TINY_PARAMS] = {0}, e[TINY_G_PARAMS];
  for (int i = 0; i < TINY_PARAMS; i++)
    params[i] = 0.5 * i;
  for (int i = 0; i < TINY_G_PARAMS; i++)
    e[i] = 42;
  ganc_train_state s = {m, v, 3, {{1, 2, 3, 4}}};
  char err[256];
  /* Without an average, ganc_save_checkpoint writes what ganc_save_weights does. */
  cr_assert_eq(ganc_save_weights(&info, scratch_path("a.safetensors"), params, NULL, &s, err, sizeof err), 0, "%s", err);
  cr_assert_eq(ganc_save_checkpoint(&info, scratch_path("b.safetensors"), params, NULL, &s, NULL, err, sizeof err), 0,
               "%s", err);
  size_t la, lb;
  char *a = slurp(scratch_path("a.safetensors"), &la), *b = slurp(scratch_path("b.safetensors"), &lb);
  cr_assert(la == lb && memcmp(a, b, la) == 0);
  free(a);
  free(b);
  ganc_ema got = {e, NULL, 0.5};
  cr_assert_eq(ganc_load_checkpoint(&info, scratch_path("a.safetensors"), params, NULL, &s, &got, err, sizeof err), 0,
               "%s", err);
  cr_assert_eq(got.decay, 0, "no ganc.ema: decay %g", got.decay);
  for (int i = 0; i < TINY_G_PARAMS; i++)
    cr_assert_eq(e[i], 42, "the average was written to");
  /* A bad average is refused before anything is written. */
  ganc_ema bad = {e, NULL, 1};
  cr_assert_eq(ganc_save_checkpoint(&info, scratch_path("c.safetensors"), params, NULL, &s, &bad, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "internal error"), "%s", err);
  cr_assert_eq(access(scratch_path("c.safetensors"), F_OK), -1);
}

/* A mini checkpoint (step, rng, both moments) with extra metadata and
   tensors after the moments; data for 7 * 3 + extra_scalars floats. */
static const char *mini_checkpoint(const char *meta, const char *extra, int extra_scalars)
{
  const char *path = scratch_path("e.safetensors");
  static char header[4096];
  snprintf(header, sizeof header,
           "{\"__metadata__\":{\"ganc.step\":\"7\",\"ganc.rng\":\"1 2 3 4\"%s},%s,"
           "\"adam.m.generator.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[28,36]},"
           "\"adam.m.generator.0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[36,44]},"
           "\"adam.m.discriminator.0.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[44,52]},"
           "\"adam.m.discriminator.0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[52,56]},"
           "\"adam.v.generator.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[56,64]},"
           "\"adam.v.generator.0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[64,72]},"
           "\"adam.v.discriminator.0.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[72,80]},"
           "\"adam.v.discriminator.0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[80,84]}%s}",
           meta, mini_header + 1, extra);
  unsigned char data[4 * 32];
  for (int i = 0; i < 21 + extra_scalars; i++)
    put_f32(data + 4 * i, i);
  write_safetensors(path, strlen(header), header, data, 4 * (size_t)(21 + extra_scalars));
  return path;
}

#define EMA_W "\"ema.generator.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[84,92]}"
#define EMA_B "\"ema.generator.0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[92,100]}"

/* Loading path with an average must fail saying want, touching nothing;
   as weights it must load. */
static void expect_ema_error(const char *path, const char *want)
{
  ganc_info info = mini_info();
  float params[MINI_PARAMS], m[MINI_PARAMS], v[MINI_PARAMS], e[4];
  for (int i = 0; i < MINI_PARAMS; i++)
    params[i] = m[i] = v[i] = 42;
  for (int i = 0; i < 4; i++)
    e[i] = 42;
  ganc_train_state s = {.adam_m = m, .adam_v = v};
  ganc_ema ema = {e, NULL, 0.25};
  char err[512];
  cr_assert_eq(ganc_load_checkpoint(&info, path, params, NULL, &s, &ema, err, sizeof err), -1, "should fail: %s", want);
  cr_assert_not_null(strstr(err, want), "error '%s' does not say '%s'", err, want);
  for (int i = 0; i < MINI_PARAMS; i++)
    cr_assert(params[i] == 42 && m[i] == 42 && v[i] == 42, "a failed load changed the arrays");
  for (int i = 0; i < 4; i++)
    cr_assert_eq(e[i], 42, "a failed load changed the average");
  cr_assert_eq(ema.decay, 0.25, "a failed load changed the decay");
  cr_assert_eq(ganc_load_weights(&info, path, params, NULL, NULL, err, sizeof err), 0, "as weights: %s", err);
  cr_assert_eq(ganc_load_weights(&info, path, params, NULL, &s, err, sizeof err), 0, "without an average: %s", err);
}

Test(safetensors, hand_written_checkpoint_with_ema)
{
  const char *path = mini_checkpoint(",\"ganc.ema\":\"0.5\"", "," EMA_W "," EMA_B, 4);
  ganc_info info = mini_info();
  float params[MINI_PARAMS], m[MINI_PARAMS], v[MINI_PARAMS], e[4];
  ganc_train_state s = {.adam_m = m, .adam_v = v};
  ganc_ema ema = {e, NULL, 0};
  char err[512];
  cr_assert_eq(ganc_load_checkpoint(&info, path, params, NULL, &s, &ema, err, sizeof err), 0, "%s", err);
  cr_assert_eq(ema.decay, 0.5);
  for (int i = 0; i < 4; i++)
    cr_assert_eq(e[i], f32_values[(21 + i) % 7], "ema scalar %d", i);
}

Test(safetensors, ema_errors)
{
  expect_ema_error(mini_checkpoint(",\"ganc.ema\":\"0.5\"", "," EMA_W, 2),
                   "tensor 'ema.generator.0.bias' is missing");
  expect_ema_error(mini_checkpoint("", "," EMA_W "," EMA_B, 4),
                   "tensor 'ema.generator.0.weight' is a moving average, but metadata ganc.ema");
  expect_ema_error(mini_checkpoint(",\"ganc.ema\":\"1\"", "," EMA_W "," EMA_B, 4),
                   "metadata ganc.ema '1' is not a moving average's decay");
  expect_ema_error(mini_checkpoint(",\"ganc.ema\":\"0.9x\"", "," EMA_W "," EMA_B, 4), "ganc.ema '0.9x'");
  expect_ema_error(mini_checkpoint(",\"ganc.ema\":\"0.5\"",
                                   "," EMA_W "," EMA_B ",\"ema.discriminator.0.bias\":{\"dtype\":\"F32\","
                                   "\"shape\":[1],\"data_offsets\":[100,104]}", 5),
                   "unexpected tensor 'ema.discriminator.0.bias': the moving average covers the generator's");
  expect_ema_error(mini_checkpoint(",\"ganc.ema\":\"0.5\"",
                                   "," EMA_W ",\"ema.generator.0.bias\":{\"dtype\":\"F32\",\"shape\":[3],"
                                   "\"data_offsets\":[92,104]}", 5),
                   "tensor 'ema.generator.0.bias' has shape [3] but the model expects [2]");
}

/* ---- A file assembled by hand ---- */

Test(safetensors, hand_assembled_file)
{
  /* Tensors out of order, data laid out in yet another order, no padding,
     metadata from somewhere else: all allowed by the format. */
  const char *header =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"discriminator.0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
      "\"generator.0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
      "\"discriminator.0.weight\":{\"shape\":[1,2],\"dtype\":\"F32\",\"data_offsets\":[12,20]},"
      "\"generator.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[20,28]}}";
  unsigned char data[28];
  for (int i = 0; i < 7; i++)
    put_f32(data + 4 * i, i);
  const char *path = scratch_path("hand.safetensors");
  write_safetensors(path, strlen(header), header, data, sizeof data);
  ganc_info info = mini_info();
  float p[MINI_PARAMS];
  char err[256];
  cr_assert_eq(ganc_load_weights(&info, path, p, NULL, NULL, err, sizeof err), 0, "%s", err);
  /* flat order: g.0.weight (file scalars 5,6), g.0.bias (1,2), d.0.weight (3,4), d.0.bias (0) */
  const int from[MINI_PARAMS] = {5, 6, 1, 2, 3, 4, 0};
  for (int i = 0; i < MINI_PARAMS; i++)
    cr_assert_eq(p[i], f32_values[from[i]], "param %d is %g", i, p[i]);
}

Test(safetensors, hand_assembled_f64_into_float)
{
  /* 1.5 = 0x3FF8000000000000, -0.125 = 0xBFC0000000000000 */
  const uint64_t bits[MINI_PARAMS] = {0x3FF8000000000000ull, 0xBFC0000000000000ull, 0, 0,
                                      0x3FF8000000000000ull, 0, 0xBFC0000000000000ull};
  const char *header =
      "{\"generator.0.weight\":{\"dtype\":\"F64\",\"shape\":[2,1],\"data_offsets\":[0,16]},"
      "\"generator.0.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[16,32]},"
      "\"discriminator.0.weight\":{\"dtype\":\"F64\",\"shape\":[1,2],\"data_offsets\":[32,48]},"
      "\"discriminator.0.bias\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[48,56]}}";
  unsigned char data[56];
  for (int i = 0; i < MINI_PARAMS; i++)
    for (int b = 0; b < 8; b++)
      data[8 * i + b] = (unsigned char)(bits[i] >> (8 * b));
  const char *path = scratch_path("hand64.safetensors");
  write_safetensors(path, strlen(header), header, data, sizeof data);
  ganc_info info = mini_info();
  float p[MINI_PARAMS];
  char err[256];
  cr_assert_eq(ganc_load_weights(&info, path, p, NULL, NULL, err, sizeof err), 0, "%s", err);
  const float want[MINI_PARAMS] = {1.5f, -0.125f, 0, 0, 1.5f, 0, -0.125f};
  for (int i = 0; i < MINI_PARAMS; i++)
    cr_assert_eq(p[i], want[i], "param %d is %g", i, p[i]);
}

Test(safetensors, nan_is_a_warning)
{
  ganc_info info = tiny_info(4);
  float params[TINY_PARAMS], back[TINY_PARAMS];
  fill_params(params, TINY_PARAMS, 1);
  params[9] = NAN;       /* generator.0.bias */
  params[23] = INFINITY; /* discriminator.0.weight */
  char err[256];
  cr_assert_eq(ganc_save_weights(&info, scratch_path("w.safetensors"), params, NULL, NULL, err, sizeof err), 0);
  cr_assert_eq(ganc_load_weights(&info, scratch_path("w.safetensors"), back, NULL, NULL, err, sizeof err), 0);
  cr_assert_not_null(strstr(err, "warning: tensor 'generator.0.bias' holds NaN or infinite values"),
                     "%s", err);
  cr_assert(isnan(back[9]));
  cr_assert_eq(back[8], params[8]);
}

/* ---- Broken files ---- */

Test(safetensors, missing_tensor)
{
  char h[2048];
  snprintf(h, sizeof h, "%s", mini_header);
  *strstr(h, ",\"discriminator.0.bias\"") = 0;
  strcat(h, "}");
  expect_error(h, 28, "tensor 'discriminator.0.bias' is missing");
}

Test(safetensors, unexpected_tensor)
{
  expect_error(header_with(",\"generator.9.weight\":{\"dtype\":\"F32\",\"shape\":[1],"
                           "\"data_offsets\":[28,32]}"),
               32, "unexpected tensor 'generator.9.weight'");
}

Test(safetensors, shape_mismatch)
{
  expect_edit_error("[2,1]", "[1,2]", "tensor 'generator.0.weight' has shape [1, 2] but the model expects [2, 1]");
}

Test(safetensors, rank_mismatch)
{
  expect_edit_error("\"shape\":[2]", "\"shape\":[] ",
                    "tensor 'generator.0.bias' has shape [] but the model expects [2]");
}

Test(safetensors, unknown_dtype)
{
  expect_edit_error("\"F32\",\"shape\":[2]", "\"F16\"", "tensor 'generator.0.bias' has dtype 'F16'");
}

Test(safetensors, offsets_do_not_match_size)
{
  expect_edit_error("[8,16]", "[8,12]", "tensor 'generator.0.bias' has data_offsets [8, 12]");
}

Test(safetensors, offsets_out_of_the_file)
{
  expect_error(header_with(""), 27, "tensor 'discriminator.0.bias' has data_offsets [24, 28] beyond");
}

Test(safetensors, overlapping_tensors)
{
  expect_edit_error("[8,16]", "[4,12]", "tensors 'generator.0.weight' and 'generator.0.bias' overlap");
}

Test(safetensors, duplicate_key)
{
  expect_error(header_with(",\"generator.0.bias\":{\"dtype\":\"F32\",\"shape\":[2],"
                           "\"data_offsets\":[8,16]}"),
               28, "duplicate key 'generator.0.bias'");
}

Test(safetensors, non_string_metadata)
{
  expect_error(header_with(",\"__metadata__\":{\"ganc.step\":5}"), 28,
               "metadata 'ganc.step' is not a string");
}

Test(safetensors, metadata_not_an_object)
{
  expect_error(header_with(",\"__metadata__\":[]"), 28, "__metadata__ is not an object");
}

Test(safetensors, other_model)
{
  expect_error(header_with(",\"__metadata__\":{\"ganc.model\":\"other\"}"), 28,
               "weights are for model 'other', not 'mini'");
}

Test(safetensors, other_signature)
{
  char err[512];
  const char *path = scratch_path("sig.safetensors");
  char *h = header_with(",\"__metadata__\":{\"ganc.signature\":\"latent [9]; observation [2]\"}");
  write_safetensors(path, strlen(h), h, (const unsigned char *)"0123456789012345678901234567", 28);
  ganc_info info = mini_info();
  float p[MINI_PARAMS];
  cr_assert_eq(ganc_load_weights(&info, path, p, NULL, NULL, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "latent [9]; observation [2]"), "%s", err);
  cr_assert_not_null(strstr(err, "latent [1]; observation [2]"), "%s", err);
}

Test(safetensors, header_not_an_object)
{
  expect_error("[1, 2, 3]", 0, "not a JSON object");
}

Test(safetensors, header_not_json)
{
  expect_error("{\"generator.0.weight\": ", 0, "not valid JSON");
}

Test(safetensors, tensor_entry_not_an_object)
{
  expect_error(header_with(",\"generator.7.bias\":3")  /* unexpected name first */, 28,
               "unexpected tensor 'generator.7.bias'");
  char h[2048];
  snprintf(h, sizeof h, "{\"generator.0.weight\":[0,8],%s}", strstr(mini_header, "\"generator.0.bias\""));
  expect_error(h, 28, "tensor 'generator.0.weight' is not described by a JSON object");
}

Test(safetensors, header_length_beyond_file)
{
  const char *path = scratch_path("long.safetensors");
  write_safetensors(path, 5000, "{}", NULL, 0);
  ganc_info info = mini_info();
  float p[MINI_PARAMS];
  char err[512];
  cr_assert_eq(ganc_load_weights(&info, path, p, NULL, NULL, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "beyond the end of the file"), "%s", err);
}

Test(safetensors, header_length_absurd)
{
  const char *path = scratch_path("absurd.safetensors");
  write_safetensors(path, (uint64_t)1 << 62, "{}", NULL, 0);
  ganc_info info = mini_info();
  float p[MINI_PARAMS];
  char err[512];
  cr_assert_eq(ganc_load_weights(&info, path, p, NULL, NULL, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "absurd"), "%s", err);
  write_safetensors(path, 200u * 1000 * 1000, "{}", NULL, 0);
  cr_assert_eq(ganc_load_weights(&info, path, p, NULL, NULL, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "absurd"), "%s", err);
}

Test(safetensors, file_too_short)
{
  const char *path = scratch_path("short.safetensors");
  write_bytes(path, "\x10\0\0\0\0", 5);
  ganc_info info = mini_info();
  float p[MINI_PARAMS];
  char err[512];
  cr_assert_eq(ganc_load_weights(&info, path, p, NULL, NULL, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, path), "%s", err);
  cr_assert_not_null(strstr(err, "too short"), "%s", err);
}

Test(safetensors, truncated_data)
{
  /* A valid file cut short in its data. */
  ganc_info info = tiny_info(4);
  float params[TINY_PARAMS];
  fill_params(params, TINY_PARAMS, 1);
  char err[512];
  const char *path = scratch_path("w.safetensors");
  cr_assert_eq(ganc_save_weights(&info, path, params, NULL, NULL, err, sizeof err), 0);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(truncate(path, st.st_size - 2), 0);
  cr_assert_eq(ganc_load_weights(&info, path, params, NULL, NULL, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "discriminator.0.bias"), "%s", err);
}

Test(safetensors, missing_file)
{
  ganc_info info = mini_info();
  float p[MINI_PARAMS];
  char err[512];
  cr_assert_eq(ganc_load_weights(&info, scratch_path("none.safetensors"), p, NULL, NULL, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "none.safetensors"), "%s", err);
}

Test(safetensors, short_error_buffer_is_terminated)
{
  ganc_info info = mini_info();
  float p[MINI_PARAMS];
  char err[8];
  memset(err, 'x', sizeof err);
  cr_assert_eq(ganc_load_weights(&info, scratch_path("none.safetensors"), p, NULL, NULL, err, sizeof err), -1);
  cr_assert_eq(strlen(err), 7);
  cr_assert_eq(ganc_load_weights(&info, scratch_path("none.safetensors"), p, NULL, NULL, NULL, 0), -1);
}

/* ---- Atomic saving ---- */

Test(safetensors, save_into_missing_directory)
{
  ganc_info info = tiny_info(4);
  float params[TINY_PARAMS];
  fill_params(params, TINY_PARAMS, 1);
  char err[512];
  const char *path = scratch_path("nodir/w.safetensors");
  cr_assert_eq(ganc_save_weights(&info, path, params, NULL, NULL, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "nodir/w.safetensors"), "%s", err);
  cr_assert_eq(scratch_entries(), 0);
}

Test(safetensors, failed_save_leaves_target_and_no_temporary)
{
  /* The target is a directory: the final rename fails. */
  ganc_info info = tiny_info(4);
  float params[TINY_PARAMS];
  fill_params(params, TINY_PARAMS, 1);
  const char *path = scratch_path("target");
  cr_assert_eq(mkdir(path, 0700), 0);
  char err[512];
  cr_assert_eq(ganc_save_weights(&info, path, params, NULL, NULL, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "target"), "%s", err);
  struct stat st;
  cr_assert_eq(stat(path, &st), 0);
  cr_assert(S_ISDIR(st.st_mode));
  cr_assert_eq(scratch_entries(), 1, "a temporary file was left behind");
}

Test(safetensors, save_replaces_existing_file)
{
  ganc_info info = tiny_info(4);
  float a[TINY_PARAMS], b[TINY_PARAMS], back[TINY_PARAMS];
  fill_params(a, TINY_PARAMS, 1);
  fill_params(b, TINY_PARAMS, -5);
  char err[512];
  const char *path = scratch_path("w.safetensors");
  cr_assert_eq(ganc_save_weights(&info, path, a, NULL, NULL, err, sizeof err), 0);
  cr_assert_eq(ganc_save_weights(&info, path, b, NULL, NULL, err, sizeof err), 0);
  cr_assert_eq(ganc_load_weights(&info, path, back, NULL, NULL, err, sizeof err), 0);
  cr_assert_eq(memcmp(b, back, sizeof back), 0);
  cr_assert_eq(scratch_entries(), 1);
}

/* ---- Running statistics (batch_norm) ---- */

/* The model of BN_MODEL_SOURCE, `scalar double` for scalar_size 8. */
static ganc_model *bn_model(int scalar_size, const ganc_info **info)
{
  char err[4096];
  ganc_model *m = ganc_jit_string(scalar_size == 8 ? BN_MODEL_SOURCE("  scalar double\n") : BN_MODEL_SOURCE(""),
                                  "bn.gan", err, sizeof err, NULL);
  cr_assert_not_null(m, "%s", err);
  *info = ganc_model_info(m, 0);
  cr_assert_eq((*info)->nstats, 4);
  cr_assert_eq((*info)->g_stats_count, 16);
  return m;
}

/* n scalars: shift + i / 7, which a float does not hold exactly. */
static void *bn_scalars(const ganc_info *info, int64_t n, double shift)
{
  void *p = scalar_alloc(info->scalar_size, n);
  for (int64_t i = 0; i < n; i++)
    scalar_store(p, info->scalar_size, i, shift + (double)i / 7);
  return p;
}

static int same_scalars(const ganc_info *info, const void *a, const void *b, int64_t n)
{
  return memcmp(a, b, (size_t)n * (size_t)info->scalar_size) == 0;
}

static uint64_t le64(const unsigned char *p)
{
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* The JSON header of the safetensors file at path (cJSON_Delete it) and,
   in *bytes, the whole file (free it), of *len bytes unless len is NULL. */
static cJSON *file_header(const char *path, unsigned char **bytes, size_t *len)
{
  size_t n;
  *bytes = (unsigned char *)slurp(path, &n);
  cr_assert_not_null(*bytes);
  cr_assert_geq(n, 8);
  if (len)
    *len = n;
  cJSON *root = cJSON_ParseWithLength((const char *)*bytes + 8, (size_t)le64(*bytes));
  cr_assert_not_null(root);
  return root;
}

/* The value of tensor name of the file at path, checked to be an I64
   scalar. */
static int64_t file_i64(const char *path, const char *name)
{
  unsigned char *bytes;
  cJSON *root = file_header(path, &bytes, NULL);
  cJSON *t = cJSON_GetObjectItemCaseSensitive(root, name);
  cr_assert_not_null(t, "no tensor %s", name);
  cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(t, "dtype")->valuestring, "I64");
  cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "shape")), 0, "%s has a rank", name);
  cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
  uint64_t begin = (uint64_t)cJSON_GetArrayItem(off, 0)->valuedouble;
  cr_assert_eq((uint64_t)cJSON_GetArrayItem(off, 1)->valuedouble - begin, 8);
  int64_t v = (int64_t)le64(bytes + 8 + le64(bytes) + begin);
  cJSON_Delete(root);
  free(bytes);
  return v;
}

/* Rewrite the file at path with field of tensor name set to value (JSON
   text), or with field NULL, the tensor renamed to value (left out when
   value is NULL too); the data stays. */
static void edit_tensor(const char *path, const char *name, const char *field, const char *value)
{
  unsigned char *bytes;
  size_t len;
  cJSON *root = file_header(path, &bytes, &len);
  cJSON *t = cJSON_DetachItemFromObjectCaseSensitive(root, name);
  cr_assert_not_null(t, "no tensor %s", name);
  if (field)
    cJSON_ReplaceItemInObjectCaseSensitive(t, field, cJSON_Parse(value));
  if (field || value)
    cJSON_AddItemToObject(root, field ? name : value, t);
  else
    cJSON_Delete(t);
  char *json = cJSON_PrintUnformatted(root);
  uint64_t hlen = le64(bytes);
  write_safetensors(path, strlen(json), json, bytes + 8 + hlen, len - 8 - hlen);
  free(json);
  cJSON_Delete(root);
  free(bytes);
}

/* Every array of a checkpoint of the bn model with its moving average. */
typedef struct BnCheckpoint {
  void *params, *running, *m, *v, *avg, *avg_stats;
  ganc_stats stats;
  ganc_train_state state;
  ganc_ema ema;
} BnCheckpoint;

static void bn_checkpoint(const ganc_info *info, BnCheckpoint *c, double shift)
{
  c->params = bn_scalars(info, info->param_count, shift);
  c->running = bn_scalars(info, info->stats_count, shift + 1);
  c->m = bn_scalars(info, info->param_count, shift + 2);
  c->v = bn_scalars(info, info->param_count, shift + 3);
  c->avg = bn_scalars(info, info->g_param_count, shift + 4);
  c->avg_stats = bn_scalars(info, info->g_stats_count, shift + 5);
  c->stats = (ganc_stats){c->running, 30, 50};
  c->state = (ganc_train_state){c->m, c->v, 10, {{5, 6, 7, 8}}};
  c->ema = (ganc_ema){c->avg, c->avg_stats, 0.75};
}

static void bn_checkpoint_free(BnCheckpoint *c)
{
  free(c->params);
  free(c->running);
  free(c->m);
  free(c->v);
  free(c->avg);
  free(c->avg_stats);
}

/* Whether c holds what bn_checkpoint(shift) put in every array. */
static void expect_bn_checkpoint(const ganc_info *info, const BnCheckpoint *c, double shift)
{
  BnCheckpoint want;
  bn_checkpoint(info, &want, shift);
  cr_assert(same_scalars(info, c->params, want.params, info->param_count), "parameters");
  cr_assert(same_scalars(info, c->running, want.running, info->stats_count), "statistics");
  cr_assert(same_scalars(info, c->m, want.m, info->param_count), "adam m");
  cr_assert(same_scalars(info, c->v, want.v, info->param_count), "adam v");
  cr_assert(same_scalars(info, c->avg, want.avg, info->g_param_count), "average");
  cr_assert(same_scalars(info, c->avg_stats, want.avg_stats, info->g_stats_count), "average statistics");
  bn_checkpoint_free(&want);
}

/* The bn model (float) and, in c, the arrays of bn_checkpoint(shift). */
static ganc_model *bn_case(const ganc_info **info, BnCheckpoint *c, double shift)
{
  ganc_model *m = bn_model(4, info);
  bn_checkpoint(*info, c, shift);
  return m;
}

/* c as arrays to load into: values no file here holds, impossible passes,
   step 3 and no decay, to see what a load changes. */
static void bn_target(const ganc_info *info, BnCheckpoint *c)
{
  bn_checkpoint(info, c, -9);
  c->stats.g_passes = c->stats.d_passes = -1;
  c->state.step = 3;
  c->ema.decay = 0;
}

/* Weights of the bn model with statistics and passes, written and read back. */
static void stats_round_trip(int scalar_size)
{
  const ganc_info *info;
  ganc_model *m = bn_model(scalar_size, &info);
  BnCheckpoint c, got;
  bn_checkpoint(info, &c, -3);
  bn_target(info, &got);
  char err[512] = "junk";
  const char *path = scratch_path("bn.safetensors");
  cr_assert_eq(ganc_save_weights(info, path, c.params, &c.stats, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_eq(ganc_load_weights(info, path, got.params, &got.stats, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_str_empty(err);
  cr_assert(same_scalars(info, c.params, got.params, info->param_count));
  cr_assert(same_scalars(info, c.running, got.running, info->stats_count));
  cr_assert_eq(got.stats.g_passes, 30);
  cr_assert_eq(got.stats.d_passes, 50);
  cr_assert_eq(file_i64(path, "generator.1.num_batches_tracked"), 30);
  cr_assert_eq(file_i64(path, "discriminator.1.num_batches_tracked"), 50);

  /* The statistics in the model's dtype; the tensors and nothing else. */
  unsigned char *bytes;
  cJSON *root = file_header(path, &bytes, NULL);
  cJSON *var = cJSON_GetObjectItemCaseSensitive(root, "discriminator.1.running_var");
  cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(var, "dtype")->valuestring, scalar_size == 4 ? "F32" : "F64");
  cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(var, "shape"), 0)->valueint, 5);
  cr_assert_eq(cJSON_GetArraySize(root), 1 + info->ntensors + info->nstats + 2);
  cJSON_Delete(root);
  free(bytes);
  bn_checkpoint_free(&c);
  bn_checkpoint_free(&got);
  ganc_free(m);
}

Test(safetensors, stats_round_trip_float)
{
  stats_round_trip(4);
}

Test(safetensors, stats_round_trip_double)
{
  stats_round_trip(8);
}

Test(safetensors, stats_f32_file_into_double_model)
{
  const ganc_info *finfo, *dinfo;
  ganc_model *fm = bn_model(4, &finfo), *dm = bn_model(8, &dinfo);
  BnCheckpoint c, got;
  bn_checkpoint(finfo, &c, 1);
  bn_target(dinfo, &got);
  char err[512];
  const char *path = scratch_path("bn.safetensors");
  cr_assert_eq(ganc_save_weights(finfo, path, c.params, &c.stats, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_eq(ganc_load_weights(dinfo, path, got.params, &got.stats, NULL, err, sizeof err), 0, "%s", err);
  for (int64_t i = 0; i < finfo->param_count; i++)
    cr_assert_eq(((double *)got.params)[i], (double)((float *)c.params)[i], "parameter %lld", (long long)i);
  for (int64_t i = 0; i < finfo->stats_count; i++)
    cr_assert_eq(((double *)got.running)[i], (double)((float *)c.running)[i], "statistic %lld", (long long)i);
  cr_assert(got.stats.g_passes == 30 && got.stats.d_passes == 50);
  bn_checkpoint_free(&c);
  bn_checkpoint_free(&got);
  ganc_free(fm);
  ganc_free(dm);
}

Test(safetensors, checkpoint_with_ema_stats_round_trip)
{
  const ganc_info *info;
  BnCheckpoint c, got;
  ganc_model *model = bn_case(&info, &c, 1);
  bn_target(info, &got);
  char err[512];
  const char *path = scratch_path("c.safetensors");
  cr_assert_eq(ganc_save_checkpoint(info, path, c.params, &c.stats, &c.state, &c.ema, err, sizeof err), 0, "%s", err);
  cr_assert_eq(ganc_load_checkpoint(info, path, got.params, &got.stats, &got.state, &got.ema, err, sizeof err), 0,
               "%s", err);
  expect_bn_checkpoint(info, &got, 1);
  cr_assert(got.stats.g_passes == 30 && got.stats.d_passes == 50);
  cr_assert(got.ema.decay == 0.75 && got.state.step == 10);

  /* The generator's statistics have an average; no statistic has Adam
     moments, and no count is averaged. */
  unsigned char *bytes;
  cJSON *root = file_header(path, &bytes, NULL);
  cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(root, "ema.generator.1.running_mean"));
  cr_assert_not_null(cJSON_GetObjectItemCaseSensitive(root, "ema.generator.1.running_var"));
  cr_assert_null(cJSON_GetObjectItemCaseSensitive(root, "ema.discriminator.1.running_mean"));
  cr_assert_null(cJSON_GetObjectItemCaseSensitive(root, "ema.generator.1.num_batches_tracked"));
  cr_assert_null(cJSON_GetObjectItemCaseSensitive(root, "adam.m.generator.1.running_mean"));
  cr_assert_eq(cJSON_GetArraySize(root), 1 + 3 * info->ntensors + 6 + info->nstats + 2 + 2);
  cJSON_Delete(root);
  free(bytes);

  /* A missing average of a statistic is an error that touches nothing... */
  edit_tensor(path, "ema.generator.1.running_var", NULL, NULL);
  bn_checkpoint_free(&got);
  bn_target(info, &got);
  cr_assert_eq(ganc_load_checkpoint(info, path, got.params, &got.stats, &got.state, &got.ema, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "tensor 'ema.generator.1.running_var' is missing"), "%s", err);
  expect_bn_checkpoint(info, &got, -9);
  cr_assert(got.stats.g_passes == -1 && got.stats.d_passes == -1 && got.ema.decay == 0 && got.state.step == 3);
  /* ...unless the caller has no array for them. */
  got.ema.stats = NULL;
  cr_assert_eq(ganc_load_checkpoint(info, path, got.params, &got.stats, &got.state, &got.ema, err, sizeof err), 0,
               "%s", err);
  cr_assert_eq(got.ema.decay, 0.75);
  bn_checkpoint_free(&c);
  bn_checkpoint_free(&got);
  ganc_free(model);
}

/* Weights of the bn model at path, with passes 30 and 50. */
static void save_bn_weights(const ganc_info *info, const char *path)
{
  BnCheckpoint c;
  bn_checkpoint(info, &c, 2);
  char err[512];
  cr_assert_eq(ganc_save_weights(info, path, c.params, &c.stats, NULL, err, sizeof err), 0, "%s", err);
  bn_checkpoint_free(&c);
}

/* Loading path with statistics must fail saying want, touching nothing. */
static void expect_bn_error(const ganc_info *info, const char *path, const char *want)
{
  BnCheckpoint got;
  bn_checkpoint(info, &got, 42);
  char err[512];
  cr_assert_eq(ganc_load_weights(info, path, got.params, &got.stats, NULL, err, sizeof err), -1, "should fail: %s",
               want);
  cr_assert_not_null(strstr(err, want), "error '%s' does not say '%s'", err, want);
  expect_bn_checkpoint(info, &got, 42);
  cr_assert(got.stats.g_passes == 30 && got.stats.d_passes == 50, "a failed load changed the passes");
  bn_checkpoint_free(&got);
}

Test(safetensors, no_stats_argument_ignores_statistics)
{
  const ganc_info *info;
  ganc_model *model = bn_model(4, &info);
  const char *path = scratch_path("c.safetensors");
  BnCheckpoint c, got;
  bn_checkpoint(info, &c, 1);
  bn_target(info, &got);
  char err[512];
  cr_assert_eq(ganc_save_checkpoint(info, path, c.params, &c.stats, &c.state, &c.ema, err, sizeof err), 0, "%s", err);
  /* Broken statistics do not matter when none are read. */
  edit_tensor(path, "generator.1.running_var", NULL, NULL);
  edit_tensor(path, "discriminator.1.num_batches_tracked", "dtype", "\"F32\"");
  strcpy(err, "junk");
  cr_assert_eq(ganc_load_checkpoint(info, path, got.params, NULL, &got.state, &got.ema, err, sizeof err), 0, "%s", err);
  cr_assert_str_empty(err);
  cr_assert(same_scalars(info, got.params, c.params, info->param_count));
  cr_assert(same_scalars(info, got.avg, c.avg, info->g_param_count));
  BnCheckpoint untouched;
  bn_checkpoint(info, &untouched, -9);
  cr_assert(same_scalars(info, got.running, untouched.running, info->stats_count), "statistics were read");
  cr_assert(same_scalars(info, got.avg_stats, untouched.avg_stats, info->g_stats_count), "ema statistics were read");
  cr_assert_eq(ganc_load_weights(info, path, got.params, NULL, NULL, err, sizeof err), 0, "%s", err);
  /* With them, the same file is refused. */
  cr_assert_eq(ganc_load_weights(info, path, got.params, &got.stats, NULL, err, sizeof err), -1);
  bn_checkpoint_free(&untouched);
  bn_checkpoint_free(&c);
  bn_checkpoint_free(&got);
  ganc_free(model);
}

/* Weights of the bn model with field of tensor name set to value (as
   edit_tensor does): loading them must fail saying want. */
static void expect_edit_refused(const char *name, const char *field, const char *value, const char *want)
{
  const ganc_info *info;
  ganc_model *m = bn_model(4, &info);
  const char *path = scratch_path("bn.safetensors");
  save_bn_weights(info, path);
  edit_tensor(path, name, field, value);
  expect_bn_error(info, path, want);
  ganc_free(m);
}

Test(safetensors, missing_running_var)
{
  expect_edit_refused("discriminator.1.running_var", NULL, NULL, "tensor 'discriminator.1.running_var' is missing");
}

/* A checkpoint of the bn model with its average, tensor from renamed to
   to: loading it must fail saying want. */
static void expect_renamed_error(const char *from, const char *to, const char *want)
{
  const ganc_info *info;
  ganc_model *model = bn_model(4, &info);
  const char *path = scratch_path("c.safetensors");
  BnCheckpoint c;
  bn_checkpoint(info, &c, 1);
  char err[512];
  cr_assert_eq(ganc_save_checkpoint(info, path, c.params, &c.stats, &c.state, &c.ema, err, sizeof err), 0, "%s", err);
  edit_tensor(path, from, NULL, to);
  cr_assert_eq(ganc_load_checkpoint(info, path, c.params, &c.stats, &c.state, &c.ema, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, want), "error '%s' does not say '%s'", err, want);
  bn_checkpoint_free(&c);
  ganc_free(model);
}

Test(safetensors, misplaced_statistics)
{
  expect_renamed_error("adam.m.generator.1.weight", "adam.m.generator.1.running_mean",
                       "unexpected tensor 'adam.m.generator.1.running_mean': running statistics are not parameters");
  expect_renamed_error("ema.generator.1.running_mean", "ema.generator.1.num_batches_tracked",
                       "unexpected tensor 'ema.generator.1.num_batches_tracked': a num_batches_tracked has no");
  expect_renamed_error("ema.generator.1.running_mean", "ema.discriminator.1.running_mean",
                       "unexpected tensor 'ema.discriminator.1.running_mean': the moving average covers the"
                       " generator's");
}

Test(safetensors, num_batches_tracked_wrong_dtype_or_shape)
{
  expect_edit_refused("generator.1.num_batches_tracked", "dtype", "\"F64\"",
                      "tensor 'generator.1.num_batches_tracked' has dtype 'F64'; a num_batches_tracked is I64");
  expect_edit_refused("discriminator.1.num_batches_tracked", "shape", "[1]",
                      "tensor 'discriminator.1.num_batches_tracked' has shape [1] but the model expects []");
}

Test(safetensors, num_batches_tracked_is_optional)
{
  const ganc_info *info;
  ganc_model *m = bn_model(4, &info);
  const char *path = scratch_path("bn.safetensors");
  save_bn_weights(info, path);
  edit_tensor(path, "discriminator.1.num_batches_tracked", NULL, NULL);
  BnCheckpoint got;
  bn_target(info, &got);
  char err[512];
  cr_assert_eq(ganc_load_weights(info, path, got.params, &got.stats, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_eq(got.stats.g_passes, 30);
  cr_assert_eq(got.stats.d_passes, 0, "no count gives 0 passes");
  bn_checkpoint_free(&got);
  /* A negative count is no count of passes. */
  unsigned char *bytes;
  cJSON *root = file_header(path, &bytes, NULL);
  const cJSON *off = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "generator.1.num_batches_tracked"),
                                                      "data_offsets");
  size_t at = 8 + (size_t)le64(bytes) + (size_t)cJSON_GetArrayItem(off, 0)->valuedouble;
  cJSON_Delete(root);
  free(bytes);
  FILE *f = fopen(path, "r+b");
  cr_assert_not_null(f);
  cr_assert_eq(fseek(f, (long)at + 7, SEEK_SET), 0);
  cr_assert_eq(fputc(0x80, f), 0x80);
  cr_assert_eq(fclose(f), 0);
  expect_bn_error(info, path, "tensor 'generator.1.num_batches_tracked' holds -");
  ganc_free(m);
}

Test(safetensors, nan_statistics_are_a_warning)
{
  const ganc_info *info;
  BnCheckpoint c;
  ganc_model *m = bn_case(&info, &c, 0);
  ((float *)c.running)[10] = NAN; /* generator.1.running_var */
  char err[512];
  const char *path = scratch_path("bn.safetensors");
  cr_assert_eq(ganc_save_weights(info, path, c.params, &c.stats, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_eq(ganc_load_weights(info, path, c.params, &c.stats, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_not_null(strstr(err, "warning: tensor 'generator.1.running_var' holds NaN"), "%s", err);
  bn_checkpoint_free(&c);
  ganc_free(m);
}

Test(safetensors, saving_needs_the_statistics)
{
  const ganc_info *info;
  BnCheckpoint c;
  ganc_model *model = bn_case(&info, &c, 1);
  char err[512];
  cr_assert_eq(ganc_save_weights(info, scratch_path("w.safetensors"), c.params, NULL, NULL, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "internal error"), "%s", err);
  c.ema.stats = NULL;
  cr_assert_eq(ganc_save_checkpoint(info, scratch_path("w.safetensors"), c.params, &c.stats, &c.state, &c.ema, err,
                                    sizeof err), -1);
  cr_assert_not_null(strstr(err, "internal error"), "%s", err);
  cr_assert_eq(scratch_entries(), 0);
  bn_checkpoint_free(&c);
  ganc_free(model);
}

/* A model without batch_norm writes exactly the bytes it always did, with
   or without a statistics argument. */
Test(safetensors, model_without_batch_norm_unchanged)
{
  ganc_info info = mini_info();
  float params[MINI_PARAMS];
  for (int i = 0; i < MINI_PARAMS; i++)
    params[i] = f32_values[i];
  static const char header[] =
      "{\"__metadata__\":{\"ganc.model\":\"mini\",\"ganc.signature\":\"latent [1]; observation [2]\"},"
      "\"generator.0.weight\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
      "\"generator.0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
      "\"discriminator.0.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[16,24]},"
      "\"discriminator.0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[24,28]}}";
  size_t hlen = (sizeof header - 1 + 7) / 8 * 8;
  unsigned char want[8 + 512 + 28];
  cr_assert_leq(hlen, 512);
  for (int i = 0; i < 8; i++)
    want[i] = (unsigned char)(hlen >> (8 * i));
  memset(want + 8, ' ', hlen);
  memcpy(want + 8, header, sizeof header - 1);
  for (int i = 0; i < MINI_PARAMS; i++)
    put_f32(want + 8 + hlen + 4 * i, i);
  float unused = 0;
  ganc_stats stats = {&unused, 3, 4};
  const ganc_stats *args[] = {NULL, &stats};
  for (int k = 0; k < 2; k++) {
    char err[256];
    const char *path = scratch_path("w.safetensors");
    cr_assert_eq(ganc_save_weights(&info, path, params, args[k], NULL, err, sizeof err), 0, "%s", err);
    size_t len;
    char *got = slurp(path, &len);
    cr_assert_eq(len, 8 + hlen + 28, "stats argument %d: %zu bytes", k, len);
    cr_assert_eq(memcmp(got, want, len), 0, "stats argument %d: other bytes: %.*s", k, (int)hlen, got + 8);
    free(got);
  }
}
