/* test_data.c — data sets: the Gaussian mixtures and their mode coverage,
 * IDX and CSV files written here byte by byte, Fashion-MNIST itself. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zlib.h>

#include "io.h"
#include "test.h"

static const double pi = 3.14159265358979323846;

static ganc_info obs_info(int scalar_size, int rank, const int64_t *shape)
{
  ganc_info info = {.name = "m", .scalar_size = scalar_size, .obs_rank = rank,
                    .latent_rank = 1, .latent_shape = {2}, .latent_size = 2};
  info.obs_size = 1;
  for (int i = 0; i < rank; i++) {
    info.obs_shape[i] = shape[i];
    info.obs_size *= shape[i];
  }
  return info;
}

static const int64_t shape_2[] = {2};

TestSuite(data, .init = scratch_open, .fini = scratch_close);

static void write_bytes(const char *path, const void *bytes, size_t n)
{
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(bytes, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

static void write_text(const char *path, const char *text)
{
  write_bytes(path, text, strlen(text));
}

/* ---- Gaussian mixtures ---- */

/* Centres as the design states them, computed here. */
static int expected_centres(const char *spec, double *c)
{
  if (strcmp(spec, "ring8") == 0) {
    for (int k = 0; k < 8; k++) {
      c[2 * k] = 2 * cos(2 * pi * k / 8);
      c[2 * k + 1] = 2 * sin(2 * pi * k / 8);
    }
    return 8;
  }
  int n = 0;
  for (int x = -4; x <= 4; x += 2)
    for (int y = -4; y <= 4; y += 2) {
      c[2 * n] = x;
      c[2 * n + 1] = y;
      n++;
    }
  return n;
}

static void check_mixture(const char *spec, int scalar_size, double want_sigma)
{
  ganc_info info = obs_info(scalar_size, 1, shape_2);
  char err[256];
  ganc_data *d = ganc_data_open(spec, &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_eq(ganc_data_count(d), 0);

  double want[50];
  int nwant = expected_centres(spec, want);
  const double *centres;
  double sigma;
  cr_assert_eq(ganc_data_modes(d, &centres, &sigma), nwant);
  cr_assert_float_eq(sigma, want_sigma, 1e-15);
  for (int k = 0; k < nwant; k++) {
    int found = 0;
    for (int j = 0; j < nwant; j++)
      found |= fabs(centres[2 * j] - want[2 * k]) < 1e-12 &&
               fabs(centres[2 * j + 1] - want[2 * k + 1]) < 1e-12;
    cr_assert(found, "centre (%g, %g) missing", want[2 * k], want[2 * k + 1]);
  }

  enum { N = 2000 };
  double *xs = malloc(N * 2 * sizeof *xs);
  void *out = malloc(N * 2 * (size_t)scalar_size);
  ganc_rng r;
  ganc_rng_seed(&r, 7);
  ganc_data_batch(d, &r, N, out, NULL);
  int hit[25] = {0};
  for (int i = 0; i < 2 * N; i++)
    xs[i] = scalar_size == 4 ? ((float *)out)[i] : ((double *)out)[i];
  for (int i = 0; i < N; i++) {
    int best = -1;
    double best_d = INFINITY;
    for (int k = 0; k < nwant; k++) {
      double dist = hypot(xs[2 * i] - want[2 * k], xs[2 * i + 1] - want[2 * k + 1]);
      if (dist < best_d) {
        best_d = dist;
        best = k;
      }
    }
    cr_assert_leq(best_d, 6 * want_sigma, "sample %d (%g, %g) is %g from any centre", i,
                  xs[2 * i], xs[2 * i + 1], best_d);
    hit[best]++;
  }
  for (int k = 0; k < nwant; k++)
    cr_assert_gt(hit[k], 0, "mode %d never drawn", k);

  /* The spread is sigma: the sample variance about the centres. */
  double ss = 0;
  for (int i = 0; i < N; i++) {
    double best_d2 = INFINITY;
    for (int k = 0; k < nwant; k++) {
      double dx = xs[2 * i] - want[2 * k], dy = xs[2 * i + 1] - want[2 * k + 1];
      best_d2 = fmin(best_d2, dx * dx + dy * dy);
    }
    ss += best_d2;
  }
  double sd = sqrt(ss / (2 * N));
  cr_assert(fabs(sd - want_sigma) < 0.1 * want_sigma, "spread %g, want %g", sd, want_sigma);

  /* The generator's own output decides coverage here: all modes, nearly all
     samples within 3 sigma (about 98.9% for a 2-D normal). */
  int covered;
  double share;
  ganc_mode_coverage(d, out, scalar_size, N, &covered, &share);
  cr_assert_eq(covered, nwant);
  cr_assert(share > 0.97 && share <= 1, "share %g", share);
  free(out);
  free(xs);
  ganc_data_free(d);
}

Test(data, ring8_clusters)
{
  check_mixture("ring8", 4, 0.02);
}

Test(data, grid25_clusters_double)
{
  check_mixture("grid25", 8, 0.05);
}

Test(data, mixture_batches_are_deterministic)
{
  ganc_info info = obs_info(4, 1, shape_2);
  ganc_data *d = ganc_data_open("ring8", &info, NULL, 0);
  float a[20], b[20];
  ganc_rng r1, r2;
  ganc_rng_seed(&r1, 3);
  ganc_rng_seed(&r2, 3);
  ganc_data_batch(d, &r1, 10, a, NULL);
  ganc_data_batch(d, &r2, 10, b, NULL);
  cr_assert_eq(memcmp(a, b, sizeof a), 0);
  ganc_data_free(d);
}

Test(data, coverage_of_exact_centres)
{
  ganc_info info = obs_info(8, 1, shape_2);
  ganc_data *d = ganc_data_open("grid25", &info, NULL, 0);
  cr_assert_not_null(d);
  double want[50];
  expected_centres("grid25", want);
  enum { PER = 20 };
  double pts[25 * PER * 2];
  for (int k = 0; k < 25; k++)
    for (int j = 0; j < PER; j++) {
      pts[2 * (k * PER + j)] = want[2 * k];
      pts[2 * (k * PER + j) + 1] = want[2 * k + 1];
    }
  int covered = -1;
  double share = -1;
  ganc_mode_coverage(d, pts, 8, 25 * PER, &covered, &share);
  cr_assert_eq(covered, 25);
  cr_assert_eq(share, 1.0);
  /* Mode 0 one sample short of the threshold. */
  ganc_mode_coverage(d, pts + 2, 8, 25 * PER - 1, &covered, &share);
  cr_assert_eq(covered, 24);
  ganc_data_free(d);
}

Test(data, coverage_threshold_is_twenty)
{
  ganc_info info = obs_info(4, 1, shape_2);
  ganc_data *d = ganc_data_open("ring8", &info, NULL, 0);
  float pts[2 * 20];
  for (int i = 0; i < 20; i++) {
    pts[2 * i] = 2.0f + (i % 2 ? 0.05f : -0.05f); /* within 3 sigma = 0.06 */
    pts[2 * i + 1] = 0;
  }
  int covered;
  double share;
  ganc_mode_coverage(d, pts, 4, 19, &covered, &share);
  cr_assert_eq(covered, 0);
  cr_assert_eq(share, 1.0);
  ganc_mode_coverage(d, pts, 4, 20, &covered, &share);
  cr_assert_eq(covered, 1);
  ganc_data_free(d);
}

Test(data, coverage_of_far_points)
{
  ganc_info info = obs_info(4, 1, shape_2);
  ganc_data *d = ganc_data_open("ring8", &info, NULL, 0);
  enum { N = 400 };
  float pts[2 * N];
  for (int i = 0; i < N; i++) {
    pts[2 * i] = 100.0f + (float)i;
    pts[2 * i + 1] = -50.0f;
  }
  int covered = -1;
  double share = -1;
  ganc_mode_coverage(d, pts, 4, N, &covered, &share);
  cr_assert_eq(covered, 0);
  cr_assert_eq(share, 0.0);
  /* Half of them at the centre (2, 0), half far: half high quality. */
  for (int i = 0; i < N / 2; i++) {
    pts[2 * i] = 2.0f;
    pts[2 * i + 1] = 0.0f;
  }
  ganc_mode_coverage(d, pts, 4, N, &covered, &share);
  cr_assert_eq(covered, 1);
  cr_assert_float_eq(share, 0.5, 1e-12);
  /* Just beyond 3 sigma of every centre. */
  pts[0] = 2.0f + 0.061f;
  ganc_mode_coverage(d, pts, 4, 1, &covered, &share);
  cr_assert_eq(share, 0.0);
  ganc_data_free(d);
}

Test(data, mixture_needs_two_elements)
{
  const int64_t shape[] = {3};
  ganc_info info = obs_info(4, 1, shape);
  char err[256];
  cr_assert_null(ganc_data_open("ring8", &info, err, sizeof err));
  cr_assert_str_eq(err, "data set 'ring8' has samples of shape [2] but the observation is [3]");
  const int64_t shape12[] = {1, 2};
  info = obs_info(4, 2, shape12);
  ganc_data *d = ganc_data_open("grid25", &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  ganc_data_free(d);
}

Test(data, unknown_spec)
{
  ganc_info info = obs_info(4, 1, shape_2);
  char err[256];
  cr_assert_null(ganc_data_open("ring9", &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "'ring9'"), "%s", err);
}

/* ---- IDX ---- */

/* magic 00 00 type ndims, big-endian dims, then body */
static size_t idx_bytes(unsigned char *buf, int type, int ndims, const uint32_t *dims,
                        const unsigned char *body, size_t nbody)
{
  size_t n = 0;
  buf[n++] = 0;
  buf[n++] = 0;
  buf[n++] = (unsigned char)type;
  buf[n++] = (unsigned char)ndims;
  for (int i = 0; i < ndims; i++)
    for (int b = 3; b >= 0; b--)
      buf[n++] = (unsigned char)(dims[i] >> (8 * b));
  memcpy(buf + n, body, nbody);
  return n + nbody;
}

/* Draw many samples; each must equal one of want[nwant][size], and all must
   occur. */
static void check_samples(ganc_data *d, int scalar_size, int size, const double *want,
                          int nwant)
{
  enum { N = 200 };
  void *out = malloc((size_t)N * (size_t)size * (size_t)scalar_size);
  ganc_rng r;
  ganc_rng_seed(&r, 11);
  ganc_data_batch(d, &r, N, out, NULL);
  int seen[16] = {0};
  for (int i = 0; i < N; i++) {
    int match = -1;
    for (int k = 0; k < nwant && match < 0; k++) {
      int same = 1;
      for (int j = 0; j < size; j++) {
        double v = scalar_size == 4 ? ((float *)out)[i * size + j]
                                    : ((double *)out)[i * size + j];
        double w = scalar_size == 4 ? (float)want[k * size + j] : want[k * size + j];
        same &= v == w;
      }
      if (same)
        match = k;
    }
    cr_assert_geq(match, 0, "sample %d matches none of the data", i);
    seen[match]++;
  }
  for (int k = 0; k < nwant; k++)
    cr_assert_gt(seen[k], 0, "sample %d of the data never drawn", k);
  free(out);
}

Test(data, idx_ubyte_scaled)
{
  const uint32_t dims[] = {3, 2, 2};
  const unsigned char body[12] = {0, 255, 51, 204, 255, 255, 255, 255, 0, 0, 0, 1};
  unsigned char buf[64];
  size_t n = idx_bytes(buf, 0x08, 3, dims, body, sizeof body);
  write_bytes(scratch_path("u8.idx"), buf, n);
  const int64_t obs[] = {1, 2, 2};
  ganc_info info = obs_info(4, 3, obs);
  char err[256];
  ganc_data *d = ganc_data_open(scratch_path("u8.idx"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_eq(ganc_data_count(d), 3);
  /* v / 127.5 - 1: 0 -> -1, 255 -> 1, 51 -> -0.6, 204 -> 0.6, 1 -> -126.5/127.5 */
  const double want[12] = {-1, 1, -0.6, 0.6, 1, 1, 1, 1, -1, -1, -1, -126.5 / 127.5};
  check_samples(d, 4, 4, want, 3);
  cr_assert_eq(ganc_data_modes(d, NULL, NULL), 0);
  ganc_data_free(d);
}

Test(data, idx_float_big_endian)
{
  const uint32_t dims[] = {2, 2};
  /* 1.0f = 3F800000, -2.5f = C0200000, 0.375f = 3EC00000, 1e10f = 501502F9 */
  const unsigned char body[16] = {0x3F, 0x80, 0, 0, 0xC0, 0x20, 0, 0,
                                  0x3E, 0xC0, 0, 0, 0x50, 0x15, 0x02, 0xF9};
  unsigned char buf[64];
  size_t n = idx_bytes(buf, 0x0D, 2, dims, body, sizeof body);
  write_bytes(scratch_path("f.idx"), buf, n);
  ganc_info info = obs_info(8, 1, shape_2);
  char err[256];
  ganc_data *d = ganc_data_open(scratch_path("f.idx"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  const double want[4] = {1.0, -2.5, 0.375, (double)1e10f};
  check_samples(d, 8, 2, want, 2);
  ganc_data_free(d);
}

Test(data, idx_short_and_signed)
{
  const uint32_t dims[] = {2, 1};
  unsigned char buf[64];
  const unsigned char shorts[4] = {0xFF, 0xFE, 0x01, 0x00}; /* -2, 256 */
  size_t n = idx_bytes(buf, 0x0B, 2, dims, shorts, sizeof shorts);
  write_bytes(scratch_path("s.idx"), buf, n);
  const int64_t obs[] = {1};
  ganc_info info = obs_info(8, 1, obs);
  char err[256];
  ganc_data *d = ganc_data_open(scratch_path("s.idx"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  const double want[2] = {-2, 256};
  check_samples(d, 8, 1, want, 2);
  ganc_data_free(d);

  const unsigned char bytes[2] = {0x80, 0x7F}; /* -128, 127 */
  n = idx_bytes(buf, 0x09, 2, dims, bytes, sizeof bytes);
  write_bytes(scratch_path("s.idx"), buf, n);
  d = ganc_data_open(scratch_path("s.idx"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  const double want8[2] = {-128, 127};
  check_samples(d, 8, 1, want8, 2);
  ganc_data_free(d);
}

Test(data, idx_gz)
{
  const uint32_t dims[] = {2, 2};
  const unsigned char body[4] = {0, 255, 255, 0};
  unsigned char buf[64];
  size_t n = idx_bytes(buf, 0x08, 2, dims, body, sizeof body);
  gzFile g = gzopen(scratch_path("u8.idx.gz"), "wb");
  cr_assert_not_null(g);
  cr_assert_eq(gzwrite(g, buf, (unsigned)n), (int)n);
  cr_assert_eq(gzclose(g), Z_OK);
  /* It really is compressed: gzip's magic bytes. */
  FILE *f = fopen(scratch_path("u8.idx.gz"), "rb");
  cr_assert_eq(fgetc(f), 0x1f);
  cr_assert_eq(fgetc(f), 0x8b);
  fclose(f);
  ganc_info info = obs_info(4, 1, shape_2);
  char err[256];
  ganc_data *d = ganc_data_open(scratch_path("u8.idx.gz"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_eq(ganc_data_count(d), 2);
  const double want[4] = {-1, 1, 1, -1};
  check_samples(d, 4, 2, want, 2);
  ganc_data_free(d);
}

Test(data, idx_truncated)
{
  const uint32_t dims[] = {3, 2};
  const unsigned char body[5] = {1, 2, 3, 4, 5};
  unsigned char buf[64];
  size_t n = idx_bytes(buf, 0x08, 2, dims, body, sizeof body);
  write_bytes(scratch_path("t.idx"), buf, n);
  ganc_info info = obs_info(4, 1, shape_2);
  char err[512];
  cr_assert_null(ganc_data_open(scratch_path("t.idx"), &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "truncated"), "%s", err);
  cr_assert_not_null(strstr(err, "t.idx"), "%s", err);
  /* Cut inside the dims. */
  write_bytes(scratch_path("t.idx"), buf, 9);
  cr_assert_null(ganc_data_open(scratch_path("t.idx"), &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "truncated"), "%s", err);
}

Test(data, idx_gz_truncated)
{
  enum { SAMPLES = 500 };
  const uint32_t dims[] = {SAMPLES, 2};
  unsigned char body[2 * SAMPLES], buf[2 * SAMPLES + 64];
  for (int i = 0; i < 2 * SAMPLES; i++)
    body[i] = (unsigned char)(i * 7919 % 251);
  size_t n = idx_bytes(buf, 0x08, 2, dims, body, sizeof body);
  gzFile g = gzopen(scratch_path("gz.tmp"), "wb");
  gzwrite(g, buf, (unsigned)n);
  gzclose(g);
  FILE *f = fopen(scratch_path("gz.tmp"), "rb");
  unsigned char z[4096];
  size_t zn = fread(z, 1, sizeof z, f);
  fclose(f);
  write_bytes(scratch_path("cut.idx.gz"), z, zn / 2);
  ganc_info info = obs_info(4, 1, shape_2);
  char err[512];
  cr_assert_null(ganc_data_open(scratch_path("cut.idx.gz"), &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "cut.idx.gz"), "%s", err);
  cr_assert_not_null(strstr(err, "truncated"), "%s", err);
}

Test(data, idx_bad_magic)
{
  unsigned char buf[16] = {0x1f, 0x02, 0x08, 0x01, 0, 0, 0, 1, 0};
  write_bytes(scratch_path("bad.idx"), buf, 9);
  ganc_info info = obs_info(4, 1, shape_2);
  char err[512];
  cr_assert_null(ganc_data_open(scratch_path("bad.idx"), &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "not an IDX file"), "%s", err);
  /* Unknown element type. */
  buf[0] = 0;
  buf[1] = 0;
  buf[2] = 0x0A;
  write_bytes(scratch_path("bad.idx"), buf, 9);
  cr_assert_null(ganc_data_open(scratch_path("bad.idx"), &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "not an IDX file"), "%s", err);
}

Test(data, idx_absurd_dims)
{
  const uint32_t dims[] = {0xFFFFFFFFu, 0xFFFFFFFFu, 2};
  unsigned char buf[64];
  size_t n = idx_bytes(buf, 0x0E, 3, dims, (const unsigned char *)"", 0);
  write_bytes(scratch_path("big.idx"), buf, n);
  ganc_info info = obs_info(4, 1, shape_2);
  char err[512];
  cr_assert_null(ganc_data_open(scratch_path("big.idx"), &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "absurd"), "%s", err);
}

Test(data, idx_shape_mismatch)
{
  const uint32_t dims[] = {1, 28, 28};
  unsigned char body[784] = {0}, buf[900];
  size_t n = idx_bytes(buf, 0x08, 3, dims, body, sizeof body);
  write_bytes(scratch_path("img.idx"), buf, n);
  char err[512];
  char want[600];
  snprintf(want, sizeof want,
           "data set '%s' has samples of shape [28, 28] but the observation is [3, 32, 32]",
           scratch_path("img.idx"));
  const int64_t rgb[] = {3, 32, 32};
  ganc_info info = obs_info(4, 3, rgb);
  cr_assert_null(ganc_data_open(scratch_path("img.idx"), &info, err, sizeof err));
  cr_assert_str_eq(err, want);
  /* Same count, other dims. */
  const int64_t flat2[] = {2, 392};
  info = obs_info(4, 2, flat2);
  cr_assert_null(ganc_data_open(scratch_path("img.idx"), &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "[2, 392]"), "%s", err);
  /* These all fit. */
  const int64_t fits[][3] = {{1, 28, 28}, {28, 28, 1}, {784}};
  const int ranks[] = {3, 3, 1};
  for (int i = 0; i < 3; i++) {
    info = obs_info(4, ranks[i], fits[i]);
    ganc_data *d = ganc_data_open(scratch_path("img.idx"), &info, err, sizeof err);
    cr_assert_not_null(d, "%s", err);
    ganc_data_free(d);
  }
}

/* ---- CSV ---- */

Test(data, csv_good)
{
  write_text(scratch_path("data.csv"), "x, y\r\n1, 2\r\n  3.5 ,-4e1\r\n-0.25,7\n\n  \n");
  ganc_info info = obs_info(8, 1, shape_2);
  char err[256];
  ganc_data *d = ganc_data_open(scratch_path("data.csv"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_eq(ganc_data_count(d), 3);
  const double want[6] = {1, 2, 3.5, -40, -0.25, 7};
  check_samples(d, 8, 2, want, 3);
  ganc_data_free(d);
}

Test(data, csv_byte_order_mark_no_header_no_final_newline)
{
  write_text(scratch_path("data.csv"), "\xEF\xBB\xBF" "1,2\n3,4");
  ganc_info info = obs_info(4, 1, shape_2);
  char err[256];
  ganc_data *d = ganc_data_open(scratch_path("data.csv"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_eq(ganc_data_count(d), 2);
  const double want[4] = {1, 2, 3, 4};
  check_samples(d, 4, 2, want, 2);
  ganc_data_free(d);
}

Test(data, csv_rows_fit_any_observation_of_their_size)
{
  write_text(scratch_path("data.csv"), "1,2,3,4\n");
  const int64_t square[] = {1, 2, 2};
  ganc_info info = obs_info(4, 3, square);
  char err[256];
  ganc_data *d = ganc_data_open(scratch_path("data.csv"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  ganc_data_free(d);
}

static void expect_csv_error(const char *text, const char *want_after_path)
{
  write_text(scratch_path("data.csv"), text);
  ganc_info info = obs_info(4, 1, shape_2);
  char err[512], want[600];
  snprintf(want, sizeof want, "%s%s", scratch_path("data.csv"), want_after_path);
  cr_assert_null(ganc_data_open(scratch_path("data.csv"), &info, err, sizeof err));
  cr_assert_str_eq(err, want);
}

Test(data, csv_short_row)
{
  expect_csv_error("a,b\n1,2\n3,4\n5\n6,7\n", ":4: expected 2 values, found 1");
}

Test(data, csv_long_row)
{
  expect_csv_error("1,2\n3,4,5\n", ":2: expected 2 values, found 3");
}

Test(data, csv_bad_cell)
{
  expect_csv_error("x,y\n1,2\n3, abc \n", ":3: column 2: 'abc' is not a number");
  expect_csv_error("1,2\n3 4,5\n", ":2: column 1: '3 4' is not a number");
  expect_csv_error("1,2\n,5\n", ":2: column 1: '' is not a number");
}

Test(data, csv_header_only_on_first_line)
{
  expect_csv_error("1,2\nx,y\n", ":2: column 1: 'x' is not a number");
}

Test(data, csv_blank_line_inside)
{
  expect_csv_error("1,2\n\n3,4\n", ":2: expected 2 values, found an empty line");
}

Test(data, csv_empty)
{
  expect_csv_error("", ": no samples");
  expect_csv_error("x,y\n\n", ": no samples");
}

Test(data, missing_file)
{
  ganc_info info = obs_info(4, 1, shape_2);
  char err[512];
  cr_assert_null(ganc_data_open(scratch_path("none.csv"), &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "none.csv"), "%s", err);
  cr_assert_null(ganc_data_open(scratch_path("none.idx.gz"), &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "none.idx.gz"), "%s", err);
}

/* ---- Fashion-MNIST ---- */

#define FASHION "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

Test(data, fashion_mnist)
{
  const int64_t obs[] = {1, 28, 28};
  ganc_info info = obs_info(4, 3, obs);
  char err[512];
  ganc_data *d = ganc_data_open("fashion-mnist", &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_eq(ganc_data_count(d), 60000);

  enum { N = 64 };
  float *out = malloc(N * 784 * sizeof *out);
  ganc_rng r, copy;
  ganc_rng_seed(&r, 5);
  copy = r;
  ganc_data_batch(d, &r, N, out, NULL);
  float lo = 1, hi = -1;
  for (int i = 0; i < N * 784; i++) {
    cr_assert(out[i] >= -1 && out[i] <= 1, "value %g", out[i]);
    lo = fminf(lo, out[i]);
    hi = fmaxf(hi, out[i]);
  }
  cr_assert_eq(lo, -1.0f); /* backgrounds are 0 */
  cr_assert_gt(hi, 0.5f);

  /* The first sample is image (next % 60000), decoded here from the file. */
  uint64_t index = ganc_rng_next(&copy) % 60000;
  gzFile g = gzopen(FASHION, "rb");
  cr_assert_not_null(g);
  cr_assert_eq(gzseek(g, (z_off_t)(16 + index * 784), SEEK_SET), (z_off_t)(16 + index * 784));
  unsigned char img[784];
  cr_assert_eq(gzread(g, img, 784), 784);
  gzclose(g);
  for (int j = 0; j < 784; j++)
    cr_assert_eq(out[j], (float)(img[j] / 127.5 - 1), "pixel %d", j);
  free(out);
  ganc_data_free(d);
}

Test(data, fashion_mnist_missing)
{
  setenv("GANC_FASHION_MNIST", scratch_path("nowhere.gz"), 1);
  const int64_t obs[] = {784};
  ganc_info info = obs_info(4, 1, obs);
  char err[512];
  cr_assert_null(ganc_data_open("fashion-mnist", &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "dataset-fashion-mnist"), "%s", err);
  cr_assert_not_null(strstr(err, "nowhere.gz"), "%s", err);
}

Test(data, fashion_mnist_shape)
{
  const int64_t obs[] = {3, 32, 32};
  ganc_info info = obs_info(4, 3, obs);
  char err[512];
  cr_assert_null(ganc_data_open("fashion-mnist", &info, err, sizeof err));
  cr_assert_str_eq(err, "data set 'fashion-mnist' has samples of shape [28, 28] but the"
                        " observation is [3, 32, 32]");
}
