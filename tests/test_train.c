/* test_train.c — ganc train and ganc sample from the command line:
 * determinism, bit-identical resume, signals, NaN, outputs, weights compiled
 * into standalone code, the two learning rates, the moving average (--ema)
 * and loss.png. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <png.h>

#include "io.h"
#include "test.h"
#include "train.h"

static char *dir;

static void setup(void)
{
  dir = tmpdir_make();
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(train, .init = setup, .fini = teardown, .timeout = 400); /* sanitized builds run ~10x slower */

static void expect_ok(Run r, const char *what)
{
  cr_expect_eq(r.status, 0, "%s: exit %d\n%s", what, r.status, r.err);
  run_free(&r);
}

#define TRAIN "train models/ring8.gan --data ring8 --batch 32 --every 50 "

Test(train, same_seed_same_weights)
{
  expect_ok(run_gancf(TRAIN "--steps 120 --seed 7 -o %s/a", dir), "first run");
  expect_ok(run_gancf(TRAIN "--steps 120 --seed 7 -o %s/b", dir), "second run");
  expect_ok(run_gancf(TRAIN "--steps 120 --seed 8 -o %s/c", dir), "other seed");
  char a[600], b[600], c[600];
  snprintf(a, sizeof a, "%s/a/weights.safetensors", dir);
  snprintf(b, sizeof b, "%s/b/weights.safetensors", dir);
  snprintf(c, sizeof c, "%s/c/weights.safetensors", dir);
  cr_expect(same_file(a, b), "same seed and flags gave different weights");
  cr_expect(!same_file(a, c), "another seed gave the same weights");
}

Test(train, resume_is_bit_identical)
{
  expect_ok(run_gancf(TRAIN "--steps 200 --d-steps 2 -o %s/whole", dir), "uninterrupted");
  expect_ok(run_gancf(TRAIN "--steps 75 --d-steps 2 -o %s/parts", dir), "first part");
  expect_ok(run_gancf(TRAIN "--steps 150 --d-steps 2 --resume -o %s/parts", dir), "second part");
  expect_ok(run_gancf(TRAIN "--steps 200 --d-steps 2 --resume -o %s/parts", dir), "third part");
  char a[600], b[600];
  snprintf(a, sizeof a, "%s/whole/checkpoint.safetensors", dir);
  snprintf(b, sizeof b, "%s/parts/checkpoint.safetensors", dir);
  cr_expect(same_file(a, b), "resumed training differs from uninterrupted training");
  snprintf(a, sizeof a, "%s/parts/loss.csv", dir);
  char *csv = slurp(a, NULL);
  int rows = 0;
  for (char *p = csv; (p = strchr(p, '\n')); p++)
    rows++;
  /* header + 50, 75 (the first part's end), 100, 150, 200 */
  cr_expect_eq(rows, 6, "loss.csv:\n%s", csv);
  free(csv);
}

Test(train, refuses_to_overwrite_a_checkpoint)
{
  expect_ok(run_gancf(TRAIN "--steps 10 -o %s/x", dir), "first");
  Run r = run_gancf(TRAIN "--steps 10 -o %s/x", dir);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "already holds a checkpoint; --resume continues it, --force starts over"), "%s", r.err);
  run_free(&r);
  expect_ok(run_gancf(TRAIN "--steps 10 --force -o %s/x", dir), "--force");
}

Test(train, usage_and_data_errors)
{
  Run r = run_gancf("train models/ring8.gan -o %s/x", dir);
  cr_expect_eq(r.status, 2, "no --data");
  run_free(&r);
  r = run_gancf("train models/ring8.gan --data ring8 -o %s/x --batch 0", dir);
  cr_expect_eq(r.status, 2, "--batch 0");
  run_free(&r);
  r = run_gancf("train models/ring8.gan --data nosuch.csv -o %s/x", dir);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "nosuch.csv"), "%s", r.err);
  run_free(&r);
  r = run_gancf("train models/fashion_mlp.gan --data ring8 -o %s/x", dir);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "[1, 28, 28]") && strstr(r.err, "[2]"), "names both shapes: %s", r.err);
  run_free(&r);
}

/* SIGINT and SIGTERM write a checkpoint and exit 130 and 143; --resume
   then finishes the run. */
static void interrupt(int sig, int want)
{
  char out[600], ganc_bin[600];
  snprintf(out, sizeof out, "%s/sig%d", dir, sig);
  snprintf(ganc_bin, sizeof ganc_bin, "%s", getenv("GANC") ? getenv("GANC") : "build/ganc");
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    int null = open("/dev/null", 1);
    dup2(null, 1);
    dup2(null, 2);
    execl(ganc_bin, ganc_bin, "train", "models/ring8.gan", "--data", "ring8", "--steps", "100000000", "--every",
          "1000000", "-o", out, (char *)NULL);
    _exit(99);
  }
  usleep(700 * 1000);
  kill(pid, sig);
  int status;
  waitpid(pid, &status, 0);
  cr_assert(WIFEXITED(status), "killed by a signal instead of stopping");
  cr_expect_eq(WEXITSTATUS(status), want);
  char ckpt[700];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", out);
  struct stat st;
  cr_expect(stat(ckpt, &st) == 0, "no checkpoint after the signal");
  Run r = run_gancf("sample models/ring8.gan --weights %s -n 4 -o -", ckpt);
  cr_expect_eq(r.status, 0, "the checkpoint does not load: %s", r.err);
  run_free(&r);
}

Test(train, sigint_checkpoints) { interrupt(SIGINT, 130); }
Test(train, sigterm_checkpoints) { interrupt(SIGTERM, 143); }

/* A loss that turns infinite stops training, names the step, exit 1, and
   leaves the last good checkpoint as it was. */
Test(train, infinite_loss_stops)
{
  char good[600], bad[600], ckpt[700], copy[700], cmd[2048];
  snprintf(good, sizeof good, "%s/good.csv", dir);
  snprintf(bad, sizeof bad, "%s/bad.csv", dir);
  FILE *f = fopen(good, "w");
  fputs("x,y\n0.5,1\n-1,0.25\n", f);
  fclose(f);
  f = fopen(bad, "w");
  fputs("1e38,-1e38\n", f);
  fclose(f);
  expect_ok(run_gancf("train models/ring8.gan --data %s --steps 10 --every 5 -o %s/n", good, dir), "good data");
  snprintf(ckpt, sizeof ckpt, "%s/n/checkpoint.safetensors", dir);
  snprintf(copy, sizeof copy, "%s/saved.safetensors", dir);
  snprintf(cmd, sizeof cmd, "cp %s %s", ckpt, copy);
  cr_assert_eq(run_shell(cmd, NULL), 0);
  Run r = run_gancf("train models/ring8.gan --data %s --steps 20 --every 5 --resume -o %s/n", bad, dir);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "training stopped at step 11: the discriminator loss is"), "%s", r.err);
  run_free(&r);
  cr_expect(same_file(ckpt, copy), "the last good checkpoint changed");
}

Test(train, sample_outputs)
{
  expect_ok(run_gancf(TRAIN "--steps 20 -o %s/s", dir), "train");
  expect_ok(run_gancf("sample models/ring8.gan --weights %s/s/weights.safetensors -n 5 -o %s/x.csv", dir, dir), "csv");
  expect_ok(run_gancf("sample models/ring8.gan --weights %s/s/checkpoint.safetensors -n 5 -o %s/x.f32", dir, dir),
            "f32");
  expect_ok(run_gancf("sample models/ring8.gan --weights %s/s/weights.safetensors --data ring8 -o %s/x.png", dir, dir),
            "png");
  char path[700];
  snprintf(path, sizeof path, "%s/x.csv", dir);
  char *csv = slurp(path, NULL);
  float first[2];
  cr_assert(sscanf(csv, "%f,%f\n", &first[0], &first[1]) == 2, "%s", csv);
  int rows = 0;
  for (char *p = csv; (p = strchr(p, '\n')); p++)
    rows++;
  cr_expect_eq(rows, 5);
  size_t len;
  snprintf(path, sizeof path, "%s/x.f32", dir);
  char *raw = slurp(path, &len);
  cr_expect_eq(len, 5 * 2 * 4);
  float v[2];
  memcpy(v, raw, sizeof v);
  cr_expect(v[0] == first[0] && v[1] == first[1], "f32 %g %g against csv %g %g (same seed, weights and checkpoint)",
            v[0], v[1], first[0], first[1]);
  snprintf(path, sizeof path, "%s/x.png", dir);
  char *png = slurp(path, &len);
  cr_expect(len > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
  free(csv);
  free(raw);
  free(png);
  Run r = run_gancf("sample models/ring8.gan -o %s/x.txt", dir);
  cr_expect_eq(r.status, 2);
  run_free(&r);
}

/* ganc emit --weights gives a program that generates with no file at all,
   as the JIT does with the same weights. */
/* The standalone build of model's emitted code and weights in DIR/c
   generates got from z = (0.5, -1), with its statistics when it has them. */
static void standalone_generate(const char *model, int stats, float got[2])
{
  char cmd[4096], *log = NULL;
  snprintf(cmd, sizeof cmd,
           "cd %s/c && printf '%%s\\n' '#include <stdio.h>' '#include \"%s.h\"' "
           "'int main(void) { float z[2] = {0.5f, -1.0f}, x[2]; %s_generate(%s_weights, %s%s%s z, x); "
           "printf(\"%%.9g %%.9g\\\\n\", x[0], x[1]); return 0; }' > main.c && "
           "cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 main.c %s.c %s_weights.c -lm -o main && ./main",
           dir, model, model, model, stats ? model : "", stats ? "_stats" : "", stats ? "," : "", model, model);
  cr_assert_eq(run_shell(cmd, &log), 0, "%s", log);
  cr_assert(sscanf(log, "%f %f", &got[0], &got[1]) == 2, "%s", log);
  free(log);
}

Test(train, emitted_weights)
{
  expect_ok(run_gancf(TRAIN "--steps 30 -o %s/w", dir), "train");
  expect_ok(run_gancf("emit models/ring8.gan --weights %s/w/weights.safetensors -o %s/c", dir, dir), "emit");
  float got[2];
  standalone_generate("ring8", 0, got);

  char err[4096], path[700];
  ganc_model *m = ganc_jit("models/ring8.gan", err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  float *p = malloc(sizeof(float) * (size_t)info->param_count);
  snprintf(path, sizeof path, "%s/w/weights.safetensors", dir);
  cr_assert_eq(ganc_load_weights(info, path, p, NULL, NULL, err, sizeof err), 0, "%s", err);
  void (*gen)(const float *, const float *, float *);
  *(void **)&gen = ganc_symbol(m, "ring8_generate");
  float z[2] = {0.5f, -1.0f}, want[2];
  gen(p, z, want);
  for (int i = 0; i < 2; i++)
    cr_expect(fabsf(got[i] - want[i]) <= 1e-5f * fabsf(want[i]) + 1e-6f, "x[%d]: standalone %.9g, JIT %.9g", i,
              got[i], want[i]);
  free(p);
  ganc_free(m);
}

/* Training learns: from Xavier initialization, whose samples sit near the
   origin far from every mode, to most of the ring. GAN training oscillates
   (modes are found, lost and found again), so the test takes the best of
   the snapshots in loss.csv rather than one step's. */
Test(train, ring8_learns)
{
  Run r = run_gancf("train models/ring8.gan --data ring8 --steps 2000 --batch 256 --lr 1e-3 --every 250 -o %s/l", dir);
  cr_assert_eq(r.status, 0, "%s", r.err);
  run_free(&r);
  char path[700];
  snprintf(path, sizeof path, "%s/l/loss.csv", dir);
  char *csv = slurp(path, NULL);
  cr_assert(csv);
  int best_modes = 0, rows = 0;
  double best_hq = 0;
  for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
    long step;
    double dl, gl, sec, hq;
    int modes;
    if (sscanf(line + 1, "%ld,%lf,%lf,%lf,%d,%lf", &step, &dl, &gl, &sec, &modes, &hq) != 6)
      continue;
    rows++;
    best_modes = modes > best_modes ? modes : best_modes;
    best_hq = hq > best_hq ? hq : best_hq;
  }
  cr_expect_eq(rows, 8, "%s", csv);
  cr_expect_geq(best_modes, 6, "at best %d modes covered in 2000 steps:\n%s", best_modes, csv);
  cr_expect_gt(best_hq, 0.2, "at best %.3f high-quality share in 2000 steps:\n%s", best_hq, csv);
  free(csv);
}

/* ---- Reading what training wrote ---- */

/* A path in the test's folder, printf-style; the last eight stay valid. */
#define in(...) path_in(dir, __VA_ARGS__)

/* models/ring8.gan compiled in memory: its tensors and functions. */
typedef struct Ring8 {
  ganc_model *m;
  const ganc_info *info;
  int64_t np, ng; /* all parameters, the generator's */
} Ring8;

static Ring8 ring8(void)
{
  char err[4096];
  Ring8 r;
  r.m = ganc_jit("models/ring8.gan", err, sizeof err, NULL);
  cr_assert(r.m, "%s", err);
  r.info = ganc_model_info(r.m, 0);
  cr_assert_eq(r.info->scalar_size, 4);
  r.np = r.info->param_count;
  r.ng = r.info->g_param_count;
  return r;
}

static float *floats(int64_t n)
{
  float *p = calloc((size_t)(n ? n : 1), sizeof(float));
  cr_assert(p);
  return p;
}

static void read_weights(const Ring8 *r, const char *path, float *params)
{
  char err[4096];
  cr_assert_eq(ganc_load_weights(r->info, path, params, NULL, NULL, err, sizeof err), 0, "%s", err);
}

/* A checkpoint's raw parameters and its moving average (ema may be NULL);
   the decay, 0 when it has none. */
static double read_checkpoint(const Ring8 *r, const char *path, float *params, float *ema)
{
  char err[4096];
  float *m = floats(r->np), *v = floats(r->np);
  ganc_train_state st = {m, v, 0, {{0}}};
  ganc_ema e = {ema, NULL, 0};
  cr_assert_eq(ganc_load_checkpoint(r->info, path, params, NULL, &st, &e, err, sizeof err), 0, "%s", err);
  free(m);
  free(v);
  return e.decay;
}

static int same_floats(const float *a, const float *b, int64_t n)
{
  return memcmp(a, b, sizeof(float) * (size_t)n) == 0;
}

/* ---- --lr, --lr-d, --lr-g ---- */

/* A learning rate of 0 leaves that network exactly at its initial values
   while the other trains; --lr sets both whatever the order. */
Test(train, zero_learning_rate_freezes_one_network)
{
  expect_ok(run_gancf(TRAIN "--steps 60 --lr-g 0 --lr 1e-3 -o %s/g0", dir), "--lr-g 0");
  expect_ok(run_gancf(TRAIN "--steps 60 --lr 1e-3 --lr-d 0 -o %s/d0", dir), "--lr-d 0");
  Ring8 r = ring8();
  float *init = floats(r.np), *w = floats(r.np);
  ganc_init_params(r.info, 1, init);
  read_weights(&r, in("g0/weights.safetensors"), w);
  cr_expect(same_floats(w, init, r.ng), "the generator moved with --lr-g 0");
  cr_expect(!same_floats(w + r.ng, init + r.ng, r.np - r.ng), "the discriminator did not train");
  read_weights(&r, in("d0/weights.safetensors"), w);
  cr_expect(same_floats(w + r.ng, init + r.ng, r.np - r.ng), "the discriminator moved with --lr-d 0");
  cr_expect(!same_floats(w, init, r.ng), "the generator did not train");
  free(init);
  free(w);
  ganc_free(r.m);
}

Test(train, lr_sets_both_rates)
{
  Run a = run_gancf(TRAIN "--steps 60 --lr 1e-3 -o %s/a", dir);
  cr_expect_eq(a.status, 0, "%s", a.err);
  cr_expect(strstr(a.err, "Adam lr 0.001 betas (0.5, 0.999), seed 1\n"), "%s", a.err);
  run_free(&a);
  expect_ok(run_gancf(TRAIN "--steps 60 --lr-d 1e-3 --lr-g 1e-3 -o %s/b", dir), "both given");
  expect_ok(run_gancf(TRAIN "--steps 60 --lr-d 1e-3 --lr-g 1e-3 --lr 5e-4 -o %s/c", dir), "--lr after");
  cr_expect(same_file(in("a/checkpoint.safetensors"), in("b/checkpoint.safetensors")),
            "--lr 1e-3 differs from --lr-d 1e-3 --lr-g 1e-3");
  cr_expect(same_file(in("a/checkpoint.safetensors"), in("c/checkpoint.safetensors")),
            "a later --lr overrode --lr-d and --lr-g");
  Run d = run_gancf(TRAIN "--steps 60 --lr-g 5e-4 --lr 1e-3 -o %s/d", dir);
  cr_expect_eq(d.status, 0, "%s", d.err);
  cr_expect(strstr(d.err, "Adam lr 0.001 (discriminator) 0.0005 (generator) betas (0.5, 0.999)"), "%s", d.err);
  run_free(&d);
  cr_expect(!same_file(in("a/checkpoint.safetensors"), in("d/checkpoint.safetensors")), "--lr-g had no effect");
  Run bad = run_gancf(TRAIN "--lr-d -1 -o %s/e", dir);
  cr_expect_eq(bad.status, 2);
  cr_expect(strstr(bad.err, "--lr-d must be a number"), "%s", bad.err);
  run_free(&bad);
}

/* ---- --ema ---- */

/* ema = decay * ema + (1 - decay) * params after every generator step,
   from the initial parameters, in double and then rounded to float:
   checked against the checkpoints after one, two and three steps. */
static void check_average(const Ring8 *r, double decay, const char *name)
{
  float *prev = floats(r->np), *p = floats(r->np), *e = floats(r->ng), *w = floats(r->np);
  ganc_init_params(r->info, 1, prev);
  for (int k = 1; k <= 3; k++) {
    cr_assert_eq(read_checkpoint(r, in("%s%d/checkpoint.safetensors", name, k), p, e), decay);
    int64_t bad = 0, moved = 0;
    for (int64_t i = 0; i < r->ng; i++) {
      float want = (float)(decay * (double)prev[i] + (1 - decay) * (double)p[i]);
      bad += memcmp(&want, &e[i], sizeof want) != 0;
      moved += e[i] != p[i];
    }
    cr_expect_eq(bad, 0, "decay %g, step %d: %lld of %lld scalars off the formula", decay, k, (long long)bad,
                 (long long)r->ng);
    cr_expect_gt(moved, r->ng / 2, "the average is the parameters themselves");
    /* weights.safetensors: the average, and the discriminator as trained */
    read_weights(r, in("%s%d/weights.safetensors", name, k), w);
    cr_expect(same_floats(w, e, r->ng), "step %d: weights.safetensors is not the average", k);
    cr_expect(same_floats(w + r->ng, p + r->ng, r->np - r->ng), "step %d: not the trained discriminator", k);
    memcpy(prev, e, sizeof(float) * (size_t)r->ng);
  }
  free(prev);
  free(p);
  free(e);
  free(w);
}

Test(train, ema_follows_its_formula)
{
  for (int k = 1; k <= 3; k++) {
    expect_ok(run_gancf(TRAIN "--steps %d --lr 1e-2 --ema 0.5 -o %s/half%d", k, dir, k), "--ema 0.5");
    expect_ok(run_gancf(TRAIN "--steps %d --lr 1e-2 --ema 0.9 -o %s/nine%d", k, dir, k), "--ema 0.9");
  }
  expect_ok(run_gancf(TRAIN "--steps 3 --lr 1e-2 -o %s/raw", dir), "without --ema");
  Ring8 r = ring8();
  check_average(&r, 0.5, "half");
  check_average(&r, 0.9, "nine");
  /* By hand for decay 0.5: after one step the midpoint of the initial and
     the trained parameters. */
  float *init = floats(r.np), *p = floats(r.np), *e = floats(r.ng);
  ganc_init_params(r.info, 1, init);
  read_checkpoint(&r, in("half1/checkpoint.safetensors"), p, e);
  for (int64_t i = 0; i < r.ng; i += 97)
    cr_expect_eq(e[i], (float)((init[i] + (double)p[i]) / 2), "scalar %lld", (long long)i);
  /* The average does not change training: the raw parameters are those of a run without it. */
  float *q = floats(r.np);
  cr_expect_eq(read_checkpoint(&r, in("raw/checkpoint.safetensors"), q, NULL), 0);
  read_checkpoint(&r, in("nine3/checkpoint.safetensors"), p, NULL);
  cr_expect(same_floats(p, q, r.np), "--ema changed the trained parameters");
  free(init);
  free(p);
  free(e);
  free(q);
  ganc_free(r.m);
}

/* samples.png, the coverage (printed and in loss.csv) and weights.safetensors
   all come from the average, recomputed here from weights.safetensors; the
   raw generator would give others. */
Test(train, ema_drives_the_outputs)
{
  Run run = run_gancf("train models/ring8.gan --data ring8 --batch 64 --lr 1e-3 --every 100 --steps 300 --ema 0.95 "
                 "-o %s/e", dir);
  cr_assert_eq(run.status, 0, "%s", run.err);
  cr_expect(strstr(run.err, ", EMA decay 0.95\n"), "%s", run.err);
  Ring8 r = ring8();
  float *w = floats(r.np), *p = floats(r.np);
  read_weights(&r, in("e/weights.safetensors"), w);
  read_checkpoint(&r, in("e/checkpoint.safetensors"), p, NULL);
  char err[4096];
  ganc_data *data = ganc_data_open("ring8", r.info, err, sizeof err);
  cr_assert(data, "%s", err);
  enum { COVER = 2500, SAMPLES = 1000 };
  float *z = floats(2 * COVER), *x = floats(2 * COVER), *xr = floats(2 * COVER);
  ganc_rng rng;
  ganc_rng_seed(&rng, GANC_SNAPSHOT_SEED);
  ganc_normal_fill(&rng, 4, 2 * COVER, z);
  ganc_fns fns;
  cr_assert_eq(ganc_functions(r.m, r.info, &fns), 0);
  ganc_generate(r.info, &fns, w, NULL, COVER, z, NULL, x);
  ganc_generate(r.info, &fns, p, NULL, COVER, z, NULL, xr);
  int modes, modes_raw;
  double hq, hq_raw;
  ganc_mode_coverage(data, x, 4, COVER, &modes, &hq);
  ganc_mode_coverage(data, xr, 4, COVER, &modes_raw, &hq_raw);
  cr_assert_neq(hq, hq_raw, "the test needs an average whose coverage differs from the raw generator's");

  char want[256];
  snprintf(want, sizeof want, "ring8: %d of 8 modes covered, %.1f%% high-quality", modes, 100 * hq);
  cr_expect(strstr(run.out, want), "wanted '%s' in:\n%s", want, run.out);
  char *csv = slurp(in("e/loss.csv"), NULL);
  snprintf(want, sizeof want, ",%d,%.4f\n", modes, hq);
  cr_expect(ganc_ends_with(csv, want), "the last row of loss.csv should end '%s':\n%s", want, csv);
  free(csv);

  cr_assert_eq(ganc_write_samples_png(r.info, in("avg.png"), x, SAMPLES, NULL, 0, data, err, sizeof err), 0, "%s", err);
  cr_assert_eq(ganc_write_samples_png(r.info, in("raw.png"), xr, SAMPLES, NULL, 0, data, err, sizeof err), 0, "%s", err);
  cr_expect(same_file(in("avg.png"), in("e/samples.png")), "samples.png is not drawn from the average");
  cr_expect(!same_file(in("raw.png"), in("e/samples.png")));
  ganc_data_free(data);
  free(w);
  free(p);
  free(z);
  free(x);
  free(xr);
  run_free(&run);
  ganc_free(r.m);
}

Test(train, ema_resume_is_bit_identical)
{
  expect_ok(run_gancf(TRAIN "--steps 200 --d-steps 2 --ema 0.99 -o %s/whole", dir), "uninterrupted");
  expect_ok(run_gancf(TRAIN "--steps 75 --d-steps 2 --ema 0.99 -o %s/parts", dir), "first part");
  expect_ok(run_gancf(TRAIN "--steps 150 --d-steps 2 --ema 0.99 --resume -o %s/parts", dir), "second part");
  expect_ok(run_gancf(TRAIN "--steps 200 --d-steps 2 --ema 0.99 --resume -o %s/parts", dir), "third part");
  const char *files[] = {"checkpoint.safetensors", "weights.safetensors", "samples.png"};
  for (int i = 0; i < 3; i++)
    cr_expect(same_file(in("whole/%s", files[i]), in("parts/%s", files[i])), "resumed %s differs", files[i]);
}

/* A checkpoint keeps the moving average it started with: resuming with
   another decay, without --ema, or with --ema on a run without one is an
   error that names both, and leaves the folder as it was. */
Test(train, ema_must_match_on_resume)
{
  expect_ok(run_gancf(TRAIN "--steps 60 --ema 0.99 -o %s/e", dir), "with --ema");
  expect_ok(run_gancf(TRAIN "--steps 60 -o %s/n", dir), "without");
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "cp %s %s && cp %s %s", in("e/checkpoint.safetensors"), in("saved.safetensors"),
           in("e/loss.csv"), in("saved.csv"));
  cr_assert_eq(run_shell(cmd, NULL), 0);
  struct {
    const char *dir, *opt, *want;
  } cases[] = {
      {"e", "", "holds a moving average of the generator (--ema 0.99); resume with --ema 0.99, or start over "
                "with --force"},
      {"e", "--ema 0.999", "--ema 0.999, but the moving average in "},
      {"e", "--ema 0.999", "has decay 0.99; resume with --ema 0.99"},
      {"n", "--ema 0.99", "--ema 0.99, but "},
      {"n", "--ema 0.99", "holds no moving average (it was trained without --ema); resume without --ema"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    Run r = run_gancf(TRAIN "--steps 100 %s --resume -o %s/%s", cases[i].opt, dir, cases[i].dir);
    cr_expect_eq(r.status, 1, "%s on %s: exit %d", cases[i].opt, cases[i].dir, r.status);
    cr_expect(strstr(r.err, cases[i].want), "wanted '%s' in:\n%s", cases[i].want, r.err);
    cr_expect(strstr(r.err, "checkpoint.safetensors"), "%s", r.err);
    run_free(&r);
  }
  cr_expect(same_file(in("e/checkpoint.safetensors"), in("saved.safetensors")), "the checkpoint changed");
  cr_expect(same_file(in("e/loss.csv"), in("saved.csv")), "loss.csv changed");
  expect_ok(run_gancf(TRAIN "--steps 100 --ema 0.99 --resume -o %s/e", dir), "the same decay");
  const char *bad[] = {"0", "1", "-0.5", "1.5", "x", "nan"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    Run r = run_gancf(TRAIN "--ema %s -o %s/b", bad[i], dir);
    cr_expect_eq(r.status, 2, "--ema %s: exit %d", bad[i], r.status);
    run_free(&r);
  }
}

/* A checkpoint with an average still serves as weights: the raw ones. */
Test(train, ema_checkpoint_loads_as_raw_weights)
{
  expect_ok(run_gancf(TRAIN "--steps 60 --lr 1e-3 --ema 0.9 -o %s/e", dir), "train");
  Ring8 r = ring8();
  float *p = floats(r.np), *w = floats(r.np);
  read_checkpoint(&r, in("e/checkpoint.safetensors"), p, NULL);
  read_weights(&r, in("e/checkpoint.safetensors"), w);
  cr_expect(same_floats(p, w, r.np), "a checkpoint loaded as weights is not its raw parameters");
  char err[4096];
  cr_assert_eq(ganc_save_weights(r.info, in("raw.safetensors"), p, NULL, NULL, err, sizeof err), 0, "%s", err);
  Run a = run_gancf("sample models/ring8.gan --weights %s -n 8 -o -", in("e/checkpoint.safetensors"));
  Run b = run_gancf("sample models/ring8.gan --weights %s -n 8 -o -", in("raw.safetensors"));
  Run c = run_gancf("sample models/ring8.gan --weights %s -n 8 -o -", in("e/weights.safetensors"));
  cr_assert(a.status == 0 && b.status == 0 && c.status == 0, "%s%s%s", a.err, b.err, c.err);
  cr_expect_str_eq(a.out, b.out, "sampling the checkpoint is not sampling the raw weights");
  cr_expect_str_neq(a.out, c.out, "the raw and the averaged generator sample alike");
  cr_expect_str_empty(a.err, "%s", a.err);
  run_free(&a);
  run_free(&b);
  run_free(&c);
  free(p);
  free(w);
  ganc_free(r.m);
}

/* ---- loss.png ---- */

typedef struct Png {
  int width, height;
  unsigned char *rgb;
} Png;

static Png read_png(const char *path)
{
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  cr_assert(png_image_begin_read_from_file(&img, path), "%s: %s", path, img.message);
  img.format = PNG_FORMAT_RGB;
  Png p = {(int)img.width, (int)img.height, malloc(PNG_IMAGE_SIZE(img))};
  cr_assert(png_image_finish_read(&img, NULL, p.rgb, 0, NULL), "%s", img.message);
  return p;
}

/* Pixels in line l's colour below the legend. */
static int line_pixels(const Png *p, int l)
{
  unsigned char c[3];
  ganc_plot_colour(l, c);
  int n = 0;
  for (int y = GANC_PLOT_LEGEND_HEIGHT; y < p->height; y++)
    for (int x = 0; x < p->width; x++)
      n += memcmp(p->rgb + ((size_t)y * p->width + x) * 3, c, 3) == 0;
  return n;
}

Test(train, loss_png_plots_loss_csv)
{
  Run r = run_gancf(TRAIN "--steps 100 -o %s/p", dir);
  cr_assert_eq(r.status, 0, "%s", r.err);
  cr_expect(strstr(r.out, "/p/weights.safetensors, checkpoint.safetensors, loss.csv, loss.png, samples.png\n"),
            "%s", r.out);
  run_free(&r);
  Png a = read_png(in("p/loss.png"));
  cr_expect_eq(a.width, GANC_PLOT_WIDTH);
  cr_expect_eq(a.height, GANC_PLOT_HEIGHT);
  for (int l = 0; l < 4; l++) /* d_loss, g_loss, modes, high_quality */
    cr_expect_gt(line_pixels(&a, l), 20, "line %d: %d pixels", l, line_pixels(&a, l));
  free(a.rgb);
  size_t n1;
  char *before = slurp(in("p/loss.png"), &n1);

  /* A later run rewrites it, with the new rows; resumed, it is the plot of
     an uninterrupted run. */
  expect_ok(run_gancf(TRAIN "--steps 200 --resume -o %s/p", dir), "resumed");
  size_t n2;
  char *after = slurp(in("p/loss.png"), &n2);
  cr_expect(n1 != n2 || memcmp(before, after, n1) != 0, "loss.png was not rewritten");
  expect_ok(run_gancf(TRAIN "--steps 200 -o %s/q", dir), "uninterrupted");
  cr_expect(same_file(in("p/loss.png"), in("q/loss.png")), "the resumed run's plot differs");
  free(before);
  free(after);

  /* Data without modes: the two losses only. */
  FILE *f = fopen(in("pts.csv"), "w");
  fputs("0.5,1\n-1,0.25\n", f);
  fclose(f);
  expect_ok(run_gancf("train models/ring8.gan --data %s --steps 30 --every 10 -o %s/c", in("pts.csv"), dir), "csv data");
  Png c = read_png(in("c/loss.png"));
  cr_expect_gt(line_pixels(&c, 0), 20);
  cr_expect_gt(line_pixels(&c, 1), 20);
  cr_expect_eq(line_pixels(&c, 2) + line_pixels(&c, 3), 0);
  free(c.rgb);
}

/* ---- batch_norm: statistics trained, saved, averaged and resumed ---- */

/* ring8 with batch normalization in both networks, written into the
   test's folder. */
static const char *ring8_bn(void)
{
  const char *path = in("ring8_bn.gan");
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fputs("model ring8_bn {\n  latent [2]\n  observation [2]\n"
        "  generator { linear(32) batch_norm relu linear(32) batch_norm(momentum=0.3) relu linear(2) }\n"
        "  discriminator { linear(32) leaky_relu(0.2) linear(32) batch_norm leaky_relu(0.2) linear(1) }\n}\n",
        f);
  cr_assert_eq(fclose(f), 0);
  return path;
}

#define TRAIN_BN "train %s --data ring8 --batch 32 --every 50 --d-steps 2 --ema 0.99 "

Test(train, batch_norm_resume_is_bit_identical)
{
  const char *model = ring8_bn();
  expect_ok(run_gancf(TRAIN_BN "--steps 120 -o %s/whole", model, dir), "uninterrupted");
  expect_ok(run_gancf(TRAIN_BN "--steps 50 -o %s/parts", model, dir), "first part");
  expect_ok(run_gancf(TRAIN_BN "--steps 120 --resume -o %s/parts", model, dir), "second part");
  const char *files[] = {"checkpoint.safetensors", "weights.safetensors", "samples.png"};
  for (int i = 0; i < 3; i++)
    cr_expect(same_file(in("whole/%s", files[i]), in("parts/%s", files[i])), "resumed %s differs", files[i]);

  /* The statistics moved, and the passes are counted per step: 1 + K for
     the generator's layers, 2K + 1 for the discriminator's (K = 2). */
  char err[4096];
  ganc_model *m = ganc_jit(model, err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  cr_assert_eq(info->stats_count, 2 * 32 + 2 * 32 + 2 * 32);
  float *p = floats(info->param_count), *st = floats(info->stats_count), *init = floats(info->stats_count);
  ganc_stats stats = {st, -1, -1};
  cr_assert_eq(ganc_load_weights(info, in("whole/weights.safetensors"), p, &stats, NULL, err, sizeof err), 0, "%s",
               err);
  cr_expect_eq(stats.g_passes, 120 * 3);
  cr_expect_eq(stats.d_passes, 120 * 5);
  ganc_init_stats(info, init);
  int64_t moved = 0;
  for (int64_t i = 0; i < info->stats_count; i++)
    moved += st[i] != init[i];
  cr_expect_eq(moved, info->stats_count, "only %lld of %lld statistics moved", (long long)moved,
               (long long)info->stats_count);
  free(p);
  free(st);
  free(init);
  ganc_free(m);
}

/* A batch on which a batch_norm layer sees one value per channel is refused
   before anything is written. */
Test(train, batch_norm_refuses_a_batch_of_one)
{
  const char *model = ring8_bn();
  Run r = run_gancf("train %s --data ring8 --batch 1 --steps 10 -o %s/one", model, dir);
  cr_expect_eq(r.status, 1, "exit %d\n%s", r.status, r.err);
  cr_expect(strstr(r.err, "--batch 1 is too small for ring8_bn: its batch_norm layers need a batch of at least 2 "
                          "samples"), "%s", r.err);
  cr_expect(access(in("one/checkpoint.safetensors"), F_OK) != 0, "a checkpoint was written");
  run_free(&r);
}

/* `ganc emit --weights` writes the running statistics beside the weights;
   the standalone build generates what the JIT does with them. */
Test(train, batch_norm_emitted_weights)
{
  const char *model = ring8_bn();
  expect_ok(run_gancf("train %s --data ring8 --batch 32 --steps 30 -o %s/w", model, dir), "train");
  expect_ok(run_gancf("emit %s --weights %s/w/weights.safetensors -o %s/c", model, dir, dir), "emit");
  float got[2];
  standalone_generate("ring8_bn", 1, got);

  char err[4096];
  ganc_model *m = ganc_jit(model, err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  float *p = floats(info->param_count), *st = floats(info->stats_count), *init = floats(info->stats_count);
  ganc_stats stats = {st, 0, 0};
  cr_assert_eq(ganc_load_weights(info, in("w/weights.safetensors"), p, &stats, NULL, err, sizeof err), 0, "%s", err);
  ganc_fns fns;
  cr_assert_eq(ganc_functions(m, info, &fns), 0);
  float z[2] = {0.5f, -1.0f}, want[2], at_init[2];
  ganc_call(info, &fns, GANC_FN_GENERATE, &(ganc_args){.params = p, .stats = st, .z = z, .out = want});
  ganc_init_stats(info, init);
  ganc_call(info, &fns, GANC_FN_GENERATE, &(ganc_args){.params = p, .stats = init, .z = z, .out = at_init});
  cr_assert(at_init[0] != want[0] || at_init[1] != want[1], "the statistics make no difference to the test");
  for (int i = 0; i < 2; i++)
    cr_expect(fabsf(got[i] - want[i]) <= 1e-5f * fabsf(want[i]) + 1e-6f, "x[%d]: standalone %.9g, JIT %.9g", i,
              got[i], want[i]);
  free(p);
  free(st);
  free(init);
  ganc_free(m);
}
