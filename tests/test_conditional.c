/* test_conditional.c — conditional models from the command line: training
 * on labelled data learns each label's mode, resumes bit for bit, and
 * refuses data without labels; `ganc sample --label`, the label column of
 * CSV samples and the class rows of an image grid; bench. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

#include "io.h"
#include "test.h"

static char *dir;

static void setup(void)
{
  dir = tmpdir_make();
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(conditional, .init = setup, .fini = teardown, .timeout = 400); /* sanitized builds run ~10x slower */

/* A path in the test's folder, printf-style; the last eight stay valid. */
#define in(...) path_in(dir, __VA_ARGS__)

static void expect_ok(Run r, const char *what)
{
  cr_expect_eq(r.status, 0, "%s: exit %d\n%s", what, r.status, r.err);
  run_free(&r);
}

/* A file written in the test's folder. */
static const char *write_file(const char *name, const char *text)
{
  const char *path = in("%s", name);
  FILE *f = fopen(path, "w");
  cr_assert(f, "%s", path);
  fputs(text, f);
  cr_assert_eq(fclose(f), 0);
  return path;
}

/* CSV rows: the label, then two values. */
typedef struct Rows {
  int n;
  int label[4096];
  double x[4096], y[4096];
} Rows;

static Rows *read_rows(const char *path)
{
  char *csv = slurp(path, NULL);
  cr_assert(csv, "%s", path);
  Rows *r = calloc(1, sizeof *r);
  for (char *line = strtok(csv, "\n"); line && r->n < 4096; line = strtok(NULL, "\n")) {
    cr_assert_eq(sscanf(line, "%d,%lf,%lf", &r->label[r->n], &r->x[r->n], &r->y[r->n]), 3, "%s: row '%s'", path,
                 line);
    r->n++;
  }
  free(csv);
  return r;
}

/* ring8's mode k sits at angle 2 pi k / 8 on the circle of radius 2. */
static int nearest_ring8_mode(double x, double y)
{
  int best = 0;
  double best_d = INFINITY;
  for (int k = 0; k < 8; k++) {
    double a = 2 * M_PI * k / 8, dx = x - 2 * cos(a), dy = y - 2 * sin(a), d = dx * dx + dy * dy;
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

#define CGAN "models/ring8_cgan.gan"
#define TRAIN "train " CGAN " --data ring8 --batch 32 --every 50 "

/* Trained on ring8's labelled samples, the conditional generator draws each
   label's mode: sampled afresh here for every label, nearly every sample
   lies nearest the mode it was asked for, and close to it. The trainer's
   own account says the same. */
Test(conditional, ring8_learns_each_labels_mode)
{
  Run r = run_gancf("train " CGAN " --data ring8 --steps 3000 --batch 256 --lr 1e-3 --every 1000 -o %s/l", dir);
  cr_assert_eq(r.status, 0, "%s", r.err);
  const char *line = strstr(r.out, "ring8_cgan: samples drawn for label k whose nearest mode is k:");
  cr_expect(line, "no per-label shares printed:\n%s", r.out);
  for (int k = 0; line && k < 8; k++) {
    char want[16];
    snprintf(want, sizeof want, " %d ", k);
    const char *at = strstr(line, want);
    double pct = 0;
    cr_expect(at && sscanf(at + strlen(want), "%lf%%", &pct) == 1, "label %d's share missing:\n%s", k, line);
    cr_expect_geq(pct, 90, "label %d: %.1f%% of its samples at its mode:\n%s", k, pct, line);
  }
  run_free(&r);

  for (int k = 0; k < 8; k++) {
    expect_ok(run_gancf("sample " CGAN " --weights %s/l/weights.safetensors --label %d -n 500 --seed %d -o %s/k%d.csv",
                   dir, k, 11 + k, dir, k),
              "sample");
    Rows *s = read_rows(in("k%d.csv", k));
    cr_assert_eq(s->n, 500);
    int at_mode = 0;
    double dist = 0;
    for (int i = 0; i < s->n; i++) {
      cr_expect_eq(s->label[i], k, "row %d of label %d's samples is labelled %d", i, k, s->label[i]);
      at_mode += nearest_ring8_mode(s->x[i], s->y[i]) == k;
      double a = 2 * M_PI * k / 8;
      dist += hypot(s->x[i] - 2 * cos(a), s->y[i] - 2 * sin(a));
    }
    cr_expect_geq(at_mode, 450, "label %d: %d of 500 samples nearest its mode", k, at_mode);
    /* neighbouring modes are 2 * 2 sin(pi / 8) = 1.53 apart */
    cr_expect_lt(dist / s->n, 0.3, "label %d: mean distance %.3f from its mode", k, dist / s->n);
    free(s);
  }
}

/* Labels are drawn from the run's one RNG, which the checkpoint holds. */
Test(conditional, resume_is_bit_identical)
{
  expect_ok(run_gancf(TRAIN "--steps 120 --seed 5 -o %s/whole", dir), "uninterrupted");
  expect_ok(run_gancf(TRAIN "--steps 50 --seed 5 -o %s/parts", dir), "first part");
  expect_ok(run_gancf(TRAIN "--steps 120 --seed 5 --resume -o %s/parts", dir), "second part");
  const char *files[] = {"checkpoint.safetensors", "weights.safetensors", "samples.png"};
  for (int i = 0; i < 3; i++)
    cr_expect(same_file(in("whole/%s", files[i]), in("parts/%s", files[i])), "resumed %s differs", files[i]);
}

/* The fake labels are drawn: with another seed the run differs, with the
   same it does not. */
Test(conditional, same_seed_same_weights)
{
  expect_ok(run_gancf(TRAIN "--steps 60 --seed 7 -o %s/a", dir), "first");
  expect_ok(run_gancf(TRAIN "--steps 60 --seed 7 -o %s/b", dir), "again");
  cr_expect(same_file(in("a/weights.safetensors"), in("b/weights.safetensors")));
}

/* A tiny conditional image model, and an IDX data set for it with its labels. */
static const char *image_model(void)
{
  static char path[700];
  snprintf(path, sizeof path, "%s/img.gan", dir);
  return write_file("img.gan", "model img {\n  latent [3]\n  observation [1, 2, 2]\n  classes 3\n"
                               "  generator { label(2) linear(4) tanh reshape([1, 2, 2]) }\n"
                               "  discriminator { label(1) flatten linear(1) }\n}\n")
             ? path
             : NULL;
}

static void write_bytes(const char *name, const unsigned char *b, size_t n)
{
  FILE *f = fopen(in("%s", name), "wb");
  cr_assert(f);
  cr_assert_eq(fwrite(b, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

/* Six 2x2 images and their labels as IDX files. */
static void image_data(int bad_label)
{
  unsigned char images[16 + 6 * 4] = {0, 0, 8, 3, 0, 0, 0, 6, 0, 0, 0, 2, 0, 0, 0, 2};
  for (int i = 0; i < 6 * 4; i++)
    images[16 + i] = (unsigned char)(i * 10);
  unsigned char labels[8 + 6] = {0, 0, 8, 1, 0, 0, 0, 6, 0, 1, 2, 0, 1, 2};
  if (bad_label)
    labels[8 + 4] = 3;
  write_bytes("img.idx", images, sizeof images);
  write_bytes("lab.idx", labels, sizeof labels);
}

/* An IDX data set needs its labels beside it for a conditional model, and
   its labels must lie among the classes; an unconditional model takes no
   labels. Each error names the file, and nothing is written. */
Test(conditional, labelled_data_errors)
{
  const char *model = image_model();
  image_data(0);
  Run r = run_gancf("train %s --data %s --steps 3 -o %s/u", model, in("img.idx"), dir);
  cr_expect_eq(r.status, 1, "exit %d\n%s", r.status, r.err);
  cr_expect(strstr(r.err, "img.idx' has no labels: pass --labels FILE.idx[.gz]"), "%s", r.err);
  cr_expect(access(in("u/checkpoint.safetensors"), F_OK) != 0);
  run_free(&r);

  expect_ok(run_gancf("train %s --data %s --labels %s --steps 3 --batch 4 -o %s/ok", model, in("img.idx"), in("lab.idx"),
                 dir),
            "labelled IDX");

  image_data(1);
  r = run_gancf("train %s --data %s --labels %s --steps 3 -o %s/bad", model, in("img.idx"), in("lab.idx"), dir);
  cr_expect_eq(r.status, 1, "exit %d\n%s", r.status, r.err);
  cr_expect(strstr(r.err, "lab.idx: row 5: label 3 is outside [0, 3) for model img"), "%s", r.err);
  run_free(&r);

  r = run_gancf("train models/ring8.gan --data ring8 --labels %s --steps 3 -o %s/plain", in("lab.idx"), dir);
  cr_expect_eq(r.status, 1, "exit %d\n%s", r.status, r.err);
  cr_expect(strstr(r.err, "has no classes"), "%s", r.err);
  run_free(&r);
}

/* --label draws one class; without it every class in turn, the same number
   of each, the label leading each CSV row. Labels the model does not have,
   and --label for an unconditional model, are refused. */
Test(conditional, sample_labels)
{
  expect_ok(run_gancf("sample " CGAN " --label 3 -n 7 -o %s/three.csv", dir), "--label 3");
  Rows *s = read_rows(in("three.csv"));
  cr_expect_eq(s->n, 7);
  for (int i = 0; i < s->n; i++)
    cr_expect_eq(s->label[i], 3);
  free(s);

  expect_ok(run_gancf("sample " CGAN " -n 12 -o %s/all.csv", dir), "every class");
  s = read_rows(in("all.csv"));
  cr_expect_eq(s->n, 16, "-n 12 over 8 classes draws 2 of each");
  for (int i = 0; i < s->n; i++)
    cr_expect_eq(s->label[i], i / 2, "row %d", i);
  free(s);

  Run r = run_gancf("sample " CGAN " --label 8 -o %s/x.csv", dir);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "--label 8 is outside model 'ring8_cgan''s classes 0 .. 7"), "%s", r.err);
  run_free(&r);
  r = run_gancf("sample " CGAN " --label -1 -o %s/x.csv", dir);
  cr_expect_eq(r.status, 2, "%s", r.err);
  run_free(&r);
  r = run_gancf("sample models/ring8.gan --label 0 -o %s/x.csv", dir);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "model 'ring8' has no classes"), "%s", r.err);
  run_free(&r);
}

/* Without --label an image model's grid has a row per class: the picture
   ganc_png_class_grid draws of the same samples, which the CSV gives with
   their labels. The trainer's samples.png has a row per class too, 8 each. */
Test(conditional, class_rows)
{
  const char *model = image_model();
  expect_ok(run_gancf("sample %s -n 5 --seed 3 -o %s/g.png", model, dir), "png");
  expect_ok(run_gancf("sample %s -n 5 --seed 3 -o %s/g.csv", model, dir), "csv");
  char *csv = slurp(in("g.csv"), NULL);
  cr_assert(csv);
  float x[6 * 4];
  int n = 0;
  for (char *line = strtok(csv, "\n"); line; line = strtok(NULL, "\n"), n++) {
    int label;
    cr_assert(n < 6);
    cr_assert_eq(sscanf(line, "%d,%f,%f,%f,%f", &label, &x[4 * n], &x[4 * n + 1], &x[4 * n + 2], &x[4 * n + 3]), 5,
                 "%s", line);
    cr_expect_eq(label, n / 2);
  }
  free(csv);
  cr_assert_eq(n, 6, "-n 5 over 3 classes draws 2 of each");
  char err[512];
  cr_assert_eq(ganc_png_class_grid(in("want.png"), x, 4, 3, 2, 1, 2, 2, NULL, err, sizeof err), 0, "%s", err);
  cr_expect(same_file(in("g.png"), in("want.png")), "ganc sample's grid is not a row per class");

  /* One class: a plain grid of its samples. */
  expect_ok(run_gancf("sample %s --label 1 -n 4 -o %s/one.png", model, dir), "--label png");
  expect_ok(run_gancf("sample %s --label 1 -n 4 -o %s/one.csv", model, dir), "--label csv");
  csv = slurp(in("one.csv"), NULL);
  cr_assert(csv);
  n = 0;
  for (char *line = strtok(csv, "\n"); line; line = strtok(NULL, "\n"), n++) {
    int label;
    cr_assert(n < 4);
    cr_assert_eq(sscanf(line, "%d,%f,%f,%f,%f", &label, &x[4 * n], &x[4 * n + 1], &x[4 * n + 2], &x[4 * n + 3]), 5,
                 "%s", line);
    cr_expect_eq(label, 1);
  }
  free(csv);
  cr_assert_eq(n, 4);
  cr_assert_eq(ganc_png_grid(in("want1.png"), x, 4, 4, 1, 2, 2, err, sizeof err), 0, "%s", err);
  cr_expect(same_file(in("one.png"), in("want1.png")), "ganc sample --label's grid is not its samples");

  image_data(0);
  expect_ok(run_gancf("train %s --data %s --labels %s --steps 2 --batch 4 -o %s/t", model, in("img.idx"), in("lab.idx"),
                 dir),
            "train");
  float blank[3 * 8 * 4] = {0};
  cr_assert_eq(ganc_png_class_grid(in("rows.png"), blank, 4, 3, 8, 1, 2, 2, NULL, err, sizeof err), 0, "%s", err);
  png_image a = {.version = PNG_IMAGE_VERSION}, b = {.version = PNG_IMAGE_VERSION};
  cr_assert(png_image_begin_read_from_file(&a, in("t/samples.png")), "%s", a.message);
  cr_assert(png_image_begin_read_from_file(&b, in("rows.png")), "%s", b.message);
  cr_expect(a.width == b.width && a.height == b.height, "samples.png is %ux%u, a grid of 3 rows of 8 is %ux%u",
            a.width, a.height, b.width, b.height);
  png_image_free(&a);
  png_image_free(&b);
}

/* With more classes than rows fit (GANC_CLASS_ROWS_MAX), samples.png is a
   plain grid of 64 samples, labelled in turn, and ganc sample draws just
   the N asked for. */
Test(conditional, many_classes_plain_grid)
{
  const char *model = write_file("many.gan", "model many {\n  latent [3]\n  observation [1, 2, 2]\n  classes 1000\n"
                                             "  generator { label(2) linear(4) tanh reshape([1, 2, 2]) }\n"
                                             "  discriminator { flatten label(1) linear(1) }\n}\n");
  char path[700];
  snprintf(path, sizeof path, "%s", model);
  image_data(0);
  expect_ok(run_gancf("train %s --data %s --labels %s --steps 2 --batch 4 -o %s/m", path, in("img.idx"),
                      in("lab.idx"), dir),
            "train");
  float blank[64 * 4] = {0};
  char err[512];
  cr_assert_eq(ganc_png_grid(in("plain.png"), blank, 4, 64, 1, 2, 2, err, sizeof err), 0, "%s", err);
  png_image a = {.version = PNG_IMAGE_VERSION}, b = {.version = PNG_IMAGE_VERSION};
  cr_assert(png_image_begin_read_from_file(&a, in("m/samples.png")), "%s", a.message);
  cr_assert(png_image_begin_read_from_file(&b, in("plain.png")), "%s", b.message);
  cr_expect(a.width == b.width && a.height == b.height, "samples.png is %ux%u, a grid of 64 is %ux%u", a.width,
            a.height, b.width, b.height);
  png_image_free(&a);
  png_image_free(&b);

  expect_ok(run_gancf("sample %s -n 5 -o %s/m.csv", path, dir), "sample");
  char *csv = slurp(in("m.csv"), NULL);
  cr_assert(csv);
  int n = 0;
  for (char *line = strtok(csv, "\n"); line; line = strtok(NULL, "\n"), n++)
    cr_expect_eq(atoi(line), n, "row %d: %s", n, line);
  cr_expect_eq(n, 5);
  free(csv);
}

/* bench times a conditional model's functions with labels. */
Test(conditional, bench)
{
  Run r = run_gancf("bench " CGAN " --batch 1,8");
  cr_expect_eq(r.status, 0, "%s", r.err);
  cr_expect(strstr(r.out, "training step"), "%s", r.out);
  run_free(&r);
}
