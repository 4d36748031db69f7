/* test_data.c — data sets: the Gaussian mixtures and their mode coverage,
 * IDX and CSV files written here byte by byte, Fashion-MNIST itself; and
 * the labels of each for a conditional model, with the label accuracy. */
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

/* The same for a conditional model with classes labels. */
static ganc_info labelled_info(int scalar_size, int rank, const int64_t *shape, int classes)
{
  ganc_info info = obs_info(scalar_size, rank, shape);
  info.classes = classes;
  return info;
}

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

/* ---- Labelled mixtures ---- */

static double load(const void *out, int scalar_size, int i)
{
  return scalar_size == 4 ? ((const float *)out)[i] : ((const double *)out)[i];
}

/* Every sample lies near the centre its label names, and every label occurs. */
static void check_mixture_labels(const char *spec, int scalar_size, int classes)
{
  ganc_info info = labelled_info(scalar_size, 1, shape_2, classes);
  char err[256];
  ganc_data *d = ganc_data_open_labels(spec, NULL, &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_str_eq(err, "");
  cr_assert_eq(ganc_data_classes(d), classes);
  cr_assert_null(ganc_data_class_names(d));
  const double *centres;
  double sigma;
  int modes = ganc_data_modes(d, &centres, &sigma);

  enum { N = 2000 };
  void *out = malloc(N * 2 * (size_t)scalar_size);
  int labels[N], seen[25] = {0};
  for (int i = 0; i < N; i++)
    labels[i] = -1;
  ganc_rng r;
  ganc_rng_seed(&r, 21);
  ganc_data_batch(d, &r, N, out, labels);
  for (int i = 0; i < N; i++) {
    int k = labels[i];
    cr_assert(k >= 0 && k < modes, "sample %d has label %d", i, k);
    double dist = hypot(load(out, scalar_size, 2 * i) - centres[2 * k],
                        load(out, scalar_size, 2 * i + 1) - centres[2 * k + 1]);
    cr_assert_leq(dist, 6 * sigma, "sample %d (label %d) is %g from centre %d", i, k, dist, k);
    seen[k]++;
  }
  for (int k = 0; k < modes; k++)
    cr_assert_gt(seen[k], 0, "label %d never drawn", k);
  free(out);
  ganc_data_free(d);
}

Test(data, ring8_labels_are_modes)
{
  check_mixture_labels("ring8", 4, 8);
}

Test(data, grid25_labels_are_modes_double)
{
  check_mixture_labels("grid25", 8, 25);
}

Test(data, mixture_classes_beyond_the_modes_never_occur)
{
  check_mixture_labels("ring8", 8, 11); /* labels 8, 9 and 10 are never drawn */
  check_mixture_labels("grid25", 4, 30);
}

/* Asking for labels changes neither the samples nor the random stream, and a
   conditional ring8 draws what an unconditional one does. */
Test(data, mixture_labels_take_no_draws)
{
  ganc_info plain = obs_info(4, 1, shape_2), cond = labelled_info(4, 1, shape_2, 8);
  ganc_data *u = ganc_data_open("ring8", &plain, NULL, 0);
  ganc_data *c = ganc_data_open("ring8", &cond, NULL, 0); /* ganc_data_open_labels without a file */
  cr_assert_not_null(u);
  cr_assert_not_null(c);
  cr_assert_eq(ganc_data_classes(u), 0);
  cr_assert_eq(ganc_data_classes(c), 8);
  enum { N = 50 };
  float a[2 * N], b[2 * N], e[2 * N];
  int labels[N], untouched[N];
  for (int i = 0; i < N; i++)
    untouched[i] = -7;
  ganc_rng r1, r2, r3;
  ganc_rng_seed(&r1, 4);
  ganc_rng_seed(&r2, 4);
  ganc_rng_seed(&r3, 4);
  ganc_data_batch(c, &r1, N, a, labels);
  ganc_data_batch(c, &r2, N, b, NULL);
  ganc_data_batch(u, &r3, N, e, untouched); /* unlabelled data writes no labels */
  cr_assert_eq(memcmp(a, b, sizeof a), 0);
  cr_assert_eq(memcmp(a, e, sizeof a), 0);
  uint64_t next = ganc_rng_next(&r1);
  cr_assert_eq(ganc_rng_next(&r2), next);
  cr_assert_eq(ganc_rng_next(&r3), next);
  for (int i = 0; i < N; i++)
    cr_assert_eq(untouched[i], -7);
  /* The label is the mode the first draw of each sample chose. */
  ganc_rng_seed(&r1, 4);
  for (int i = 0; i < N; i++) {
    cr_assert_eq(labels[i], (int)(ganc_rng_next(&r1) % 8), "sample %d", i);
    ganc_rng_normal(&r1);
    ganc_rng_normal(&r1);
  }
  ganc_data_free(u);
  ganc_data_free(c);
}

Test(data, mixture_fewer_classes_than_modes)
{
  char err[256];
  ganc_info info = labelled_info(4, 1, shape_2, 4);
  cr_assert_null(ganc_data_open_labels("ring8", NULL, &info, err, sizeof err));
  cr_assert_str_eq(err, "ring8 labels its samples 0..7 by mode, but model m has classes 4");
  info.classes = 24;
  cr_assert_null(ganc_data_open("grid25", &info, err, sizeof err));
  cr_assert_str_eq(err, "grid25 labels its samples 0..24 by mode, but model m has classes 24");
}

Test(data, labels_file_for_data_with_its_own_labels)
{
  char err[512];
  ganc_info info = labelled_info(4, 1, shape_2, 8);
  cr_assert_null(ganc_data_open_labels("ring8", "l.idx", &info, err, sizeof err));
  cr_assert_str_eq(err, "ring8 carries its own labels (each sample's mode), so it takes no labels file"
                        " ('l.idx')");
  info.classes = 25;
  cr_assert_null(ganc_data_open_labels("grid25", "l.idx", &info, err, sizeof err));
  cr_assert_str_eq(err, "grid25 carries its own labels (each sample's mode), so it takes no labels file"
                        " ('l.idx')");
  info.classes = 10;
  cr_assert_null(ganc_data_open_labels("d.csv", "l.idx", &info, err, sizeof err));
  cr_assert_str_eq(err, "d.csv carries its own labels (its first column), so it takes no labels file"
                        " ('l.idx')");
  const int64_t obs[] = {784};
  info = labelled_info(4, 1, obs, 10);
  cr_assert_null(ganc_data_open_labels("fashion-mnist", "l.idx", &info, err, sizeof err));
  cr_assert_str_eq(err, "fashion-mnist carries its own labels (the file GANC_FASHION_MNIST_LABELS names), so"
                        " it takes no labels file ('l.idx')");
}

Test(data, labels_file_for_an_unconditional_model)
{
  char err[512];
  ganc_info info = obs_info(4, 1, shape_2);
  const char *specs[] = {"ring8", "d.csv", "d.idx", "d.idx.gz", "fashion-mnist"};
  for (int i = 0; i < 5; i++) {
    cr_assert_null(ganc_data_open_labels(specs[i], "l.idx", &info, err, sizeof err));
    cr_assert_str_eq(err, "labels file 'l.idx' given, but model m has no classes (it is not conditional)");
  }
  /* Without one it is ganc_data_open. */
  ganc_data *d = ganc_data_open_labels("ring8", NULL, &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_eq(ganc_data_classes(d), 0);
  ganc_data_free(d);
}

/* By construction on ring8's centres (k at angle 2 pi k / 8): label 0 has
   three samples nearest centre 0 and one nearest centre 1 (3/4); label 1
   two at centre 1 (1); label 2 one nearest centre 5 (0); label 4 only a NaN
   (0: drawn, near nothing); labels 3, 5, 6, 7 none (NaN). Labels outside
   [0, classes) are left out, and label 9 of 10 classes (beyond the modes)
   can never be right. */
Test(data, label_accuracy_by_construction)
{
  for (int size = 4; size <= 8; size += 4) {
    ganc_info info = labelled_info(size, 1, shape_2, 10);
    ganc_data *d = ganc_data_open("ring8", &info, NULL, 0);
    cr_assert_not_null(d);
    const double *c;
    ganc_data_modes(d, &c, NULL);
    const double pts[][2] = {
        {c[0], c[1]},          /* 0 at centre 0 */
        {c[0] - 0.05, 0.01},   /* 0 near centre 0 */
        {100, 0},              /* 0, far away, yet nearest centre 0 */
        {c[2], c[3]},          /* 0 at centre 1 */
        {c[2], c[3]},          /* 1 at centre 1 */
        {c[2] * 1.1, c[3]},    /* 1 near centre 1 */
        {c[10], c[11] - 0.3},  /* 2 nearest centre 5 */
        {NAN, 0},              /* 4 */
        {c[0], c[1]},          /* -1: left out */
        {c[0], c[1]},          /* 12: left out */
        {c[2], c[3]},          /* 9 at centre 1 */
    };
    const int labels[] = {0, 0, 0, 0, 1, 1, 2, 4, -1, 12, 9};
    enum { N = sizeof labels / sizeof *labels };
    unsigned char buf[N * 2 * 8];
    for (int i = 0; i < N; i++)
      for (int j = 0; j < 2; j++) {
        if (size == 4)
          ((float *)buf)[2 * i + j] = (float)pts[i][j];
        else
          ((double *)buf)[2 * i + j] = pts[i][j];
      }
    double share[10];
    cr_assert_eq(ganc_label_accuracy(d, buf, size, labels, N, 10, share), 0);
    cr_assert_eq(share[0], 0.75);
    cr_assert_eq(share[1], 1.0);
    cr_assert_eq(share[2], 0.0);
    cr_assert_eq(share[4], 0.0);
    cr_assert_eq(share[9], 0.0);
    const int none[] = {3, 5, 6, 7, 8};
    for (int i = 0; i < 5; i++)
      cr_assert(isnan(share[none[i]]), "label %d: %g", none[i], share[none[i]]);
    /* No samples: every label NaN. */
    cr_assert_eq(ganc_label_accuracy(d, buf, size, labels, 0, 10, share), 0);
    for (int k = 0; k < 10; k++)
      cr_assert(isnan(share[k]));
    ganc_data_free(d);
  }
}

Test(data, label_accuracy_of_drawn_samples)
{
  ganc_info info = labelled_info(8, 1, shape_2, 25);
  ganc_data *d = ganc_data_open("grid25", &info, NULL, 0);
  enum { N = 1000 };
  double out[2 * N];
  int labels[N];
  ganc_rng r;
  ganc_rng_seed(&r, 8);
  ganc_data_batch(d, &r, N, out, labels);
  double share[25];
  cr_assert_eq(ganc_label_accuracy(d, out, 8, labels, N, 25, share), 0);
  for (int k = 0; k < 25; k++)
    cr_assert_eq(share[k], 1.0, "label %d: %g", k, share[k]);
  /* Every label shifted by one: none right. */
  for (int i = 0; i < N; i++)
    labels[i] = (labels[i] + 1) % 25;
  ganc_label_accuracy(d, out, 8, labels, N, 25, share);
  for (int k = 0; k < 25; k++)
    cr_assert_eq(share[k], 0.0, "label %d: %g", k, share[k]);
  ganc_data_free(d);
}

Test(data, label_accuracy_of_file_data)
{
  write_text(scratch_path("acc.csv"), "0,1,2\n1,3,4\n");
  ganc_info info = labelled_info(8, 1, shape_2, 2);
  char err[256];
  ganc_data *d = ganc_data_open(scratch_path("acc.csv"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  const double pts[4] = {1, 2, 3, 4};
  const int labels[2] = {0, 1};
  double share[2] = {5, 5};
  cr_assert_eq(ganc_label_accuracy(d, pts, 8, labels, 2, 2, share), -1);
  ganc_data_free(d);
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

/* ---- Labelled files ---- */

/* Draw many labelled samples: each must equal one of want[nwant][size] and
   carry its label want_labels[k], all must occur, and the samples and the
   random stream must be those of a draw without labels. */
static void check_labelled(ganc_data *d, int scalar_size, int size, const double *want,
                           const int *want_labels, int nwant)
{
  enum { N = 200 };
  size_t bytes = (size_t)N * (size_t)size * (size_t)scalar_size;
  void *out = malloc(bytes), *plain = malloc(bytes);
  int labels[N];
  ganc_rng r, q;
  ganc_rng_seed(&r, 11);
  ganc_rng_seed(&q, 11);
  ganc_data_batch(d, &r, N, out, labels);
  ganc_data_batch(d, &q, N, plain, NULL);
  cr_assert_eq(memcmp(out, plain, bytes), 0, "asking for labels changed the samples");
  cr_assert_eq(ganc_rng_next(&r), ganc_rng_next(&q), "asking for labels changed the stream");
  int seen[16] = {0};
  for (int i = 0; i < N; i++) {
    int match = -1;
    for (int k = 0; k < nwant && match < 0; k++) {
      int same = 1;
      for (int j = 0; j < size; j++) {
        double w = scalar_size == 4 ? (float)want[k * size + j] : want[k * size + j];
        same &= load(out, scalar_size, i * size + j) == w;
      }
      if (same)
        match = k;
    }
    cr_assert_geq(match, 0, "sample %d matches none of the data", i);
    cr_assert_eq(labels[i], want_labels[match], "sample %d (row %d) has label %d", i, match + 1, labels[i]);
    seen[match]++;
  }
  for (int k = 0; k < nwant; k++)
    cr_assert_gt(seen[k], 0, "sample %d of the data never drawn", k);
  free(out);
  free(plain);
}

Test(data, csv_labelled)
{
  write_text(scratch_path("lab.csv"), "label,x,y\r\n2, 1, 2\r\n0,3.5,-4e1\r\n +1 ,-0.25,7\n\n");
  ganc_info info = labelled_info(8, 1, shape_2, 3);
  char err[256];
  ganc_data *d = ganc_data_open_labels(scratch_path("lab.csv"), NULL, &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_str_eq(err, "");
  cr_assert_eq(ganc_data_count(d), 3);
  cr_assert_eq(ganc_data_classes(d), 3);
  cr_assert_null(ganc_data_class_names(d));
  const double want[6] = {1, 2, 3.5, -40, -0.25, 7};
  const int want_labels[3] = {2, 0, 1};
  check_labelled(d, 8, 2, want, want_labels, 3);
  ganc_data_free(d);
}

Test(data, csv_labelled_without_header_many_columns)
{
  write_text(scratch_path("lab.csv"), "9,1,2,3,4\n0,5,6,7,8");
  const int64_t square[] = {1, 2, 2};
  ganc_info info = labelled_info(4, 3, square, 10);
  char err[256];
  ganc_data *d = ganc_data_open(scratch_path("lab.csv"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_eq(ganc_data_count(d), 2);
  const double want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  const int want_labels[2] = {9, 0};
  check_labelled(d, 4, 4, want, want_labels, 2);
  ganc_data_free(d);
}

static void expect_labelled_csv_error(const char *text, int classes, const char *want_after_path)
{
  write_text(scratch_path("lab.csv"), text);
  ganc_info info = labelled_info(4, 1, shape_2, classes);
  char err[512], want[600];
  snprintf(want, sizeof want, "%s%s", scratch_path("lab.csv"), want_after_path);
  cr_assert_null(ganc_data_open_labels(scratch_path("lab.csv"), NULL, &info, err, sizeof err));
  cr_assert_str_eq(err, want);
}

Test(data, csv_label_not_an_integer)
{
  expect_labelled_csv_error("label,x,y\n1,2,3\n1.5,2,3\n", 3, ":3: column 1: '1.5' is not an integer label");
  expect_labelled_csv_error("1,2,3\nx,2,3\n", 3, ":2: column 1: 'x' is not an integer label");
  expect_labelled_csv_error("1,2,3\n1e0,2,3\n", 3, ":2: column 1: '1e0' is not an integer label");
  expect_labelled_csv_error("1,2,3\n - ,2,3\n", 3, ":2: column 1: '-' is not an integer label");
  expect_labelled_csv_error("1,2,3\n,2,3\n", 3, ":2: column 1: '' is not an integer label");
  /* A first line that does not start with a number is a header, even here;
     one that starts with a number but not an integer is a row. */
  expect_labelled_csv_error("0.5,2,3\n", 3, ":1: column 1: '0.5' is not an integer label");
  /* The sample's cells are numbered as the file's columns. */
  expect_labelled_csv_error("1,2,3\n1,2,z\n", 3, ":2: column 3: 'z' is not a number");
}

Test(data, csv_label_out_of_range)
{
  expect_labelled_csv_error("l,x,y\n0,1,2\n1,1,2\n 3 ,1,2\n", 3, ":4: label 3 is outside [0, 3) for model m");
  expect_labelled_csv_error("-1,1,2\n", 3, ":1: label -1 is outside [0, 3) for model m");
  expect_labelled_csv_error("99999999999999999999999,1,2\n", 3,
                            ":1: label 99999999999999999999999 is outside [0, 3) for model m");
}

Test(data, csv_labelled_row_lengths)
{
  /* Unlabelled rows for a conditional model: a value short. */
  expect_labelled_csv_error("1,2\n", 3, ":1: expected 3 values (a label and 2 for the sample), found 2");
  expect_labelled_csv_error("1,2,3\n1,2,3,4\n", 3,
                            ":2: expected 3 values (a label and 2 for the sample), found 4");
  expect_labelled_csv_error("1,2,3\n\n1,2,3\n", 3,
                            ":2: expected 3 values (a label and 2 for the sample), found an empty line");
  expect_labelled_csv_error("label,x,y\n", 3, ": no samples");
}

/* A labelled CSV file's samples are the unlabelled file's, drawn alike. */
Test(data, csv_labelled_draws_as_unlabelled)
{
  write_text(scratch_path("lab.csv"), "1,0.5,2\n0,3,4\n2,-1,8\n");
  write_text(scratch_path("plain.csv"), "0.5,2\n3,4\n-1,8\n");
  ganc_info cond = labelled_info(4, 1, shape_2, 3), plain = obs_info(4, 1, shape_2);
  ganc_data *a = ganc_data_open(scratch_path("lab.csv"), &cond, NULL, 0);
  ganc_data *b = ganc_data_open(scratch_path("plain.csv"), &plain, NULL, 0);
  cr_assert_not_null(a);
  cr_assert_not_null(b);
  float x[64], y[64];
  int labels[32];
  ganc_rng r1, r2;
  ganc_rng_seed(&r1, 2);
  ganc_rng_seed(&r2, 2);
  ganc_data_batch(a, &r1, 32, x, labels);
  ganc_data_batch(b, &r2, 32, y, labels + 16); /* unlabelled: leaves them alone */
  cr_assert_eq(memcmp(x, y, sizeof x), 0);
  ganc_rng_seed(&r1, 2);
  for (int i = 0; i < 32; i++) {
    static const int row_label[3] = {1, 0, 2};
    cr_assert_eq(labels[i], row_label[ganc_rng_next(&r1) % 3], "sample %d", i);
  }
  ganc_data_free(a);
  ganc_data_free(b);
}

static void write_gz(const char *path, const void *bytes, size_t n)
{
  gzFile g = gzopen(path, "wb");
  cr_assert_not_null(g);
  cr_assert_eq(gzwrite(g, bytes, (unsigned)n), (int)n);
  cr_assert_eq(gzclose(g), Z_OK);
}

/* Three samples of [2] as unsigned bytes into NAME (gzip'd when it ends in
   .gz). */
static const double three_samples[6] = {-1, 1, 1, -1, -1, -1};
static void write_three_samples(const char *name)
{
  const uint32_t dims[] = {3, 2};
  const unsigned char body[6] = {0, 255, 255, 0, 0, 0};
  unsigned char buf[64];
  size_t n = idx_bytes(buf, 0x08, 2, dims, body, sizeof body);
  if (ganc_ends_with(name, ".gz"))
    write_gz(scratch_path(name), buf, n);
  else
    write_bytes(scratch_path(name), buf, n);
}

Test(data, idx_labels_ubyte)
{
  write_three_samples("x.idx");
  const uint32_t dims[] = {3};
  const unsigned char body[3] = {2, 0, 1};
  unsigned char buf[64];
  size_t n = idx_bytes(buf, 0x08, 1, dims, body, sizeof body);
  write_bytes(scratch_path("y.idx"), buf, n);
  ganc_info info = labelled_info(4, 1, shape_2, 3);
  char err[512];
  ganc_data *d = ganc_data_open_labels(scratch_path("x.idx"), scratch_path("y.idx"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_str_eq(err, "");
  cr_assert_eq(ganc_data_count(d), 3);
  cr_assert_eq(ganc_data_classes(d), 3);
  cr_assert_null(ganc_data_class_names(d));
  const int want_labels[3] = {2, 0, 1}; /* as stored, not scaled as samples are */
  check_labelled(d, 4, 2, three_samples, want_labels, 3);
  ganc_data_free(d);
}

Test(data, idx_labels_int32_gz)
{
  write_three_samples("x.idx.gz");
  const uint32_t dims[] = {3};
  const unsigned char body[12] = {0, 0, 1, 0x2C, 0, 0, 0, 0, 0, 0, 0, 7}; /* 300, 0, 7 */
  unsigned char buf[64];
  size_t n = idx_bytes(buf, 0x0C, 1, dims, body, sizeof body);
  write_gz(scratch_path("y.idx.gz"), buf, n);
  ganc_info info = labelled_info(8, 1, shape_2, 301);
  char err[512];
  ganc_data *d = ganc_data_open_labels(scratch_path("x.idx.gz"), scratch_path("y.idx.gz"), &info, err,
                                       sizeof err);
  cr_assert_not_null(d, "%s", err);
  const int want_labels[3] = {300, 0, 7};
  check_labelled(d, 8, 2, three_samples, want_labels, 3);
  ganc_data_free(d);
  /* The same labels gzip'd for plain samples, and plain for gzip'd ones. */
  write_bytes(scratch_path("y.idx"), buf, n);
  write_three_samples("x.idx");
  d = ganc_data_open_labels(scratch_path("x.idx"), scratch_path("y.idx.gz"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  check_labelled(d, 8, 2, three_samples, want_labels, 3);
  ganc_data_free(d);
  d = ganc_data_open_labels(scratch_path("x.idx.gz"), scratch_path("y.idx"), &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  check_labelled(d, 8, 2, three_samples, want_labels, 3);
  ganc_data_free(d);
}

/* The labels file's contents give the message after its path. */
static void expect_idx_labels_error(int type, int ndims, const uint32_t *dims, const unsigned char *body,
                                    size_t nbody, int classes, const char *want_after_path)
{
  write_three_samples("x.idx");
  unsigned char buf[256];
  size_t n = idx_bytes(buf, type, ndims, dims, body, nbody);
  write_bytes(scratch_path("labels.idx"), buf, n);
  ganc_info info = labelled_info(4, 1, shape_2, classes);
  char err[512], want[600];
  snprintf(want, sizeof want, "%s%s", scratch_path("labels.idx"), want_after_path);
  cr_assert_null(ganc_data_open_labels(scratch_path("x.idx"), scratch_path("labels.idx"), &info, err,
                                       sizeof err));
  cr_assert_str_eq(err, want);
}

Test(data, idx_label_out_of_range)
{
  unsigned char body[17] = {0};
  body[16] = 12;
  const uint32_t dims[] = {17};
  /* 17 labels for 17 samples, the last out of range */
  const uint32_t sdims[] = {17, 2};
  unsigned char samples[34] = {0}, buf[128];
  size_t n = idx_bytes(buf, 0x08, 2, sdims, samples, sizeof samples);
  write_bytes(scratch_path("x.idx"), buf, n);
  n = idx_bytes(buf, 0x08, 1, dims, body, sizeof body);
  write_bytes(scratch_path("labels.idx"), buf, n);
  ganc_info info = labelled_info(4, 1, shape_2, 10);
  char err[512], want[600];
  snprintf(want, sizeof want, "%s: row 17: label 12 is outside [0, 10) for model m", scratch_path("labels.idx"));
  cr_assert_null(ganc_data_open_labels(scratch_path("x.idx"), scratch_path("labels.idx"), &info, err,
                                       sizeof err));
  cr_assert_str_eq(err, want);

  /* 32-bit labels are signed. */
  const uint32_t three[] = {3};
  const unsigned char negative[12] = {0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};
  expect_idx_labels_error(0x0C, 1, three, negative, sizeof negative, 2,
                          ": row 2: label -1 is outside [0, 2) for model m");
  const unsigned char big[12] = {0, 0, 0, 1, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF};
  expect_idx_labels_error(0x0C, 1, three, big, sizeof big, 2,
                          ": row 3: label 2147483647 is outside [0, 2) for model m");
  const unsigned char bytes[3] = {0, 255, 0};
  expect_idx_labels_error(0x08, 1, three, bytes, sizeof bytes, 255,
                          ": row 2: label 255 is outside [0, 255) for model m");
}

Test(data, idx_labels_count_mismatch)
{
  write_three_samples("x.idx");
  const uint32_t dims[] = {4};
  const unsigned char body[4] = {0, 1, 0, 1};
  unsigned char buf[64];
  size_t n = idx_bytes(buf, 0x08, 1, dims, body, sizeof body);
  write_gz(scratch_path("y.idx.gz"), buf, n);
  ganc_info info = labelled_info(4, 1, shape_2, 2);
  char err[512], want[600];
  snprintf(want, sizeof want, "3 samples in %s but 4 labels in %s", scratch_path("x.idx"),
           scratch_path("y.idx.gz"));
  cr_assert_null(ganc_data_open_labels(scratch_path("x.idx"), scratch_path("y.idx.gz"), &info, err,
                                       sizeof err));
  cr_assert_str_eq(err, want);
}

Test(data, idx_labels_wrong_kind)
{
  const uint32_t three[] = {3};
  const unsigned char floats[12] = {0};
  expect_idx_labels_error(0x0D, 1, three, floats, sizeof floats, 2,
                          ": labels are unsigned bytes (IDX type 08) or 32-bit integers (0c), but this file"
                          " holds type 0d");
  const unsigned char shorts[6] = {0};
  expect_idx_labels_error(0x0B, 1, three, shorts, sizeof shorts, 2,
                          ": labels are unsigned bytes (IDX type 08) or 32-bit integers (0c), but this file"
                          " holds type 0b");
  const uint32_t column[] = {3, 1};
  const unsigned char bytes[3] = {0};
  expect_idx_labels_error(0x08, 2, column, bytes, sizeof bytes, 2,
                          ": labels are one number per sample (a 1-D IDX file), but this file has dims"
                          " [3, 1]");
  expect_idx_labels_error(0x08, 1, three, bytes, 2, 2,
                          ": truncated: the header promises 3 labels (3 bytes of data) but the data ends"
                          " after 2 bytes");
  const unsigned char not_idx[4] = {0};
  write_bytes(scratch_path("labels.idx"), not_idx, 2);
  ganc_info info = labelled_info(4, 1, shape_2, 2);
  char err[512];
  cr_assert_null(ganc_data_open_labels(scratch_path("x.idx"), scratch_path("labels.idx"), &info, err,
                                       sizeof err));
  cr_assert_not_null(strstr(err, "labels.idx: truncated IDX header"), "%s", err);
}

Test(data, idx_labels_missing)
{
  write_three_samples("x.idx");
  ganc_info info = labelled_info(4, 1, shape_2, 10);
  char err[512], want[600];
  snprintf(want, sizeof want, "model m has classes 10 but data set '%s' has no labels: pass --labels"
           " FILE.idx[.gz]", scratch_path("x.idx"));
  cr_assert_null(ganc_data_open_labels(scratch_path("x.idx"), NULL, &info, err, sizeof err));
  cr_assert_str_eq(err, want);
  cr_assert_null(ganc_data_open(scratch_path("x.idx"), &info, err, sizeof err));
  cr_assert_str_eq(err, want);
  /* A labels file that is not there. */
  snprintf(want, sizeof want, "cannot open '%s': No such file or directory", scratch_path("none.idx"));
  cr_assert_null(ganc_data_open_labels(scratch_path("x.idx"), scratch_path("none.idx"), &info, err, sizeof err));
  cr_assert_str_eq(err, want);
}

/* An unconditional model reads an IDX file as before: the labels are not
   asked for, and the samples drawn are a conditional model's. */
Test(data, idx_labelled_draws_as_unlabelled)
{
  write_three_samples("x.idx");
  const uint32_t dims[] = {3};
  const unsigned char body[3] = {1, 1, 0};
  unsigned char buf[64];
  size_t n = idx_bytes(buf, 0x08, 1, dims, body, sizeof body);
  write_bytes(scratch_path("y.idx"), buf, n);
  ganc_info cond = labelled_info(4, 1, shape_2, 2), plain = obs_info(4, 1, shape_2);
  ganc_data *a = ganc_data_open_labels(scratch_path("x.idx"), scratch_path("y.idx"), &cond, NULL, 0);
  ganc_data *b = ganc_data_open(scratch_path("x.idx"), &plain, NULL, 0);
  cr_assert_not_null(a);
  cr_assert_not_null(b);
  cr_assert_eq(ganc_data_classes(b), 0);
  float x[40], y[40];
  int labels[20];
  ganc_rng r1, r2;
  ganc_rng_seed(&r1, 6);
  ganc_rng_seed(&r2, 6);
  ganc_data_batch(a, &r1, 20, x, labels);
  ganc_data_batch(b, &r2, 20, y, NULL);
  cr_assert_eq(memcmp(x, y, sizeof x), 0);
  cr_assert_eq(ganc_rng_next(&r1), ganc_rng_next(&r2));
  ganc_data_free(a);
  ganc_data_free(b);
}

/* ---- Fashion-MNIST ---- */

#define FASHION "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
#define FASHION_LABELS "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"

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

Test(data, fashion_mnist_labels)
{
  const int64_t obs[] = {1, 28, 28};
  ganc_info cond = labelled_info(4, 3, obs, 10), plain = obs_info(4, 3, obs);
  char err[512];
  ganc_data *d = ganc_data_open_labels("fashion-mnist", NULL, &cond, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_str_eq(err, "");
  cr_assert_eq(ganc_data_count(d), 60000);
  cr_assert_eq(ganc_data_classes(d), 10);
  const char *const *names = ganc_data_class_names(d);
  cr_assert_not_null(names);
  static const char *const want[10] = {"t-shirt/top", "trouser", "pullover", "dress", "coat",
                                       "sandal", "shirt", "sneaker", "bag", "ankle boot"};
  for (int k = 0; k < 10; k++)
    cr_assert_str_eq(names[k], want[k]);

  /* The labels file itself: 8 bytes of header, then one byte a sample. */
  gzFile g = gzopen(FASHION_LABELS, "rb");
  cr_assert_not_null(g);
  static unsigned char file[8 + 60000];
  cr_assert_eq(gzread(g, file, sizeof file), (int)sizeof file);
  gzclose(g);
  cr_assert_eq(file[2], 0x08);
  cr_assert_eq(file[3], 1);

  enum { N = 256 };
  float *out = malloc(N * 784 * sizeof *out), *same = malloc(N * 784 * sizeof *same);
  int labels[N];
  ganc_rng r, copy;
  ganc_rng_seed(&r, 5);
  copy = r;
  ganc_data_batch(d, &r, N, out, labels);
  for (int i = 0; i < N; i++) {
    uint64_t index = ganc_rng_next(&copy) % 60000;
    cr_assert_eq(labels[i], file[8 + index], "sample %d (image %d)", i, (int)index);
  }
  /* The images are those of the unlabelled data set, drawn alike. */
  ganc_data *u = ganc_data_open("fashion-mnist", &plain, err, sizeof err);
  cr_assert_not_null(u, "%s", err);
  cr_assert_null(ganc_data_class_names(u));
  cr_assert_eq(ganc_data_classes(u), 0);
  ganc_rng_seed(&r, 5);
  ganc_data_batch(u, &r, N, same, NULL);
  cr_assert_eq(memcmp(out, same, N * 784 * sizeof *out), 0);
  free(out);
  free(same);
  ganc_data_free(u);
  ganc_data_free(d);
}

Test(data, fashion_mnist_classes)
{
  const int64_t obs[] = {784};
  ganc_info info = labelled_info(4, 1, obs, 9);
  char err[512];
  cr_assert_null(ganc_data_open("fashion-mnist", &info, err, sizeof err));
  cr_assert_str_eq(err, "fashion-mnist labels its samples 0..9 by class, but model m has classes 9");
  /* More classes than the data set's: the rest are named by number. */
  info.classes = 12;
  ganc_data *d = ganc_data_open("fashion-mnist", &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  cr_assert_eq(ganc_data_classes(d), 12);
  const char *const *names = ganc_data_class_names(d);
  cr_assert_str_eq(names[9], "ankle boot");
  cr_assert_str_eq(names[10], "10");
  cr_assert_str_eq(names[11], "11");
  ganc_data_free(d);
}

Test(data, fashion_mnist_labels_from_the_variable)
{
  /* Labels of another file: its count must match, and its labels the classes. */
  const uint32_t dims[] = {60000};
  enum { N = 60000 };
  unsigned char *body = calloc(N, 1), *buf = malloc(N + 16);
  body[41] = 10;
  size_t n = idx_bytes(buf, 0x08, 1, dims, body, N);
  write_gz(scratch_path("l.gz"), buf, n);
  setenv("GANC_FASHION_MNIST_LABELS", scratch_path("l.gz"), 1);
  const int64_t obs[] = {784};
  ganc_info info = labelled_info(4, 1, obs, 10);
  char err[512], want[600];
  snprintf(want, sizeof want, "%s: row 42: label 10 is outside [0, 10) for model m", scratch_path("l.gz"));
  cr_assert_null(ganc_data_open("fashion-mnist", &info, err, sizeof err));
  cr_assert_str_eq(err, want);
  /* With 11 classes it loads, and every sample but image 41 is class 0. */
  info.classes = 11;
  ganc_data *d = ganc_data_open("fashion-mnist", &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  float *out = malloc(64 * 784 * sizeof *out);
  int labels[64];
  ganc_rng r, copy;
  ganc_rng_seed(&r, 1);
  copy = r;
  ganc_data_batch(d, &r, 64, out, labels);
  for (int i = 0; i < 64; i++)
    cr_assert_eq(labels[i], ganc_rng_next(&copy) % 60000 == 41 ? 10 : 0);
  ganc_data_free(d);
  free(out);

  /* A count that differs from the images'. */
  const uint32_t fewer[] = {59999};
  n = idx_bytes(buf, 0x08, 1, fewer, body, N - 1);
  write_gz(scratch_path("l.gz"), buf, n);
  snprintf(want, sizeof want, "60000 samples in %s but 59999 labels in %s", FASHION, scratch_path("l.gz"));
  cr_assert_null(ganc_data_open("fashion-mnist", &info, err, sizeof err));
  cr_assert_str_eq(err, want);
  free(body);
  free(buf);
}

Test(data, fashion_mnist_labels_missing)
{
  setenv("GANC_FASHION_MNIST_LABELS", scratch_path("nowhere.gz"), 1);
  const int64_t obs[] = {784};
  ganc_info info = labelled_info(4, 1, obs, 10);
  char err[512];
  cr_assert_null(ganc_data_open("fashion-mnist", &info, err, sizeof err));
  cr_assert_not_null(strstr(err, "nowhere.gz"), "%s", err);
  cr_assert_not_null(strstr(err, "GANC_FASHION_MNIST_LABELS"), "%s", err);
  cr_assert_not_null(strstr(err, "dataset-fashion-mnist"), "%s", err);
  /* An unconditional model does not look for them. */
  info.classes = 0;
  ganc_data *d = ganc_data_open("fashion-mnist", &info, err, sizeof err);
  cr_assert_not_null(d, "%s", err);
  ganc_data_free(d);
}
