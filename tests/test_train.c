/* test_train.c — ganc train and ganc sample from the command line:
 * determinism, bit-identical resume, signals, NaN, outputs, weights compiled
 * into standalone code. */
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

TestSuite(train, .init = setup, .fini = teardown, .timeout = 400); /* sanitized builds run ~10x slower */

static Run ganc(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static Run ganc(const char *fmt, ...)
{
  char args[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  return run_ganc(args, NULL);
}

static int same_file(const char *a, const char *b)
{
  size_t la, lb;
  char *x = slurp(a, &la), *y = slurp(b, &lb);
  int same = x && y && la == lb && memcmp(x, y, la) == 0;
  free(x);
  free(y);
  return same;
}

static void expect_ok(Run r, const char *what)
{
  cr_expect_eq(r.status, 0, "%s: exit %d\n%s", what, r.status, r.err);
  run_free(&r);
}

#define TRAIN "train models/ring8.gan --data ring8 --batch 32 --every 50 "

Test(train, same_seed_same_weights)
{
  expect_ok(ganc(TRAIN "--steps 120 --seed 7 -o %s/a", dir), "first run");
  expect_ok(ganc(TRAIN "--steps 120 --seed 7 -o %s/b", dir), "second run");
  expect_ok(ganc(TRAIN "--steps 120 --seed 8 -o %s/c", dir), "other seed");
  char a[600], b[600], c[600];
  snprintf(a, sizeof a, "%s/a/weights.safetensors", dir);
  snprintf(b, sizeof b, "%s/b/weights.safetensors", dir);
  snprintf(c, sizeof c, "%s/c/weights.safetensors", dir);
  cr_expect(same_file(a, b), "same seed and flags gave different weights");
  cr_expect(!same_file(a, c), "another seed gave the same weights");
}

Test(train, resume_is_bit_identical)
{
  expect_ok(ganc(TRAIN "--steps 200 --d-steps 2 -o %s/whole", dir), "uninterrupted");
  expect_ok(ganc(TRAIN "--steps 75 --d-steps 2 -o %s/parts", dir), "first part");
  expect_ok(ganc(TRAIN "--steps 150 --d-steps 2 --resume -o %s/parts", dir), "second part");
  expect_ok(ganc(TRAIN "--steps 200 --d-steps 2 --resume -o %s/parts", dir), "third part");
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
  expect_ok(ganc(TRAIN "--steps 10 -o %s/x", dir), "first");
  Run r = ganc(TRAIN "--steps 10 -o %s/x", dir);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "already holds a checkpoint; --resume continues it, --force starts over"), "%s", r.err);
  run_free(&r);
  expect_ok(ganc(TRAIN "--steps 10 --force -o %s/x", dir), "--force");
}

Test(train, usage_and_data_errors)
{
  Run r = ganc("train models/ring8.gan -o %s/x", dir);
  cr_expect_eq(r.status, 2, "no --data");
  run_free(&r);
  r = ganc("train models/ring8.gan --data ring8 -o %s/x --batch 0", dir);
  cr_expect_eq(r.status, 2, "--batch 0");
  run_free(&r);
  r = ganc("train models/ring8.gan --data nosuch.csv -o %s/x", dir);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "nosuch.csv"), "%s", r.err);
  run_free(&r);
  r = ganc("train models/fashion_mlp.gan --data ring8 -o %s/x", dir);
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
  Run r = ganc("sample models/ring8.gan --weights %s -n 4 -o -", ckpt);
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
  expect_ok(ganc("train models/ring8.gan --data %s --steps 10 --every 5 -o %s/n", good, dir), "good data");
  snprintf(ckpt, sizeof ckpt, "%s/n/checkpoint.safetensors", dir);
  snprintf(copy, sizeof copy, "%s/saved.safetensors", dir);
  snprintf(cmd, sizeof cmd, "cp %s %s", ckpt, copy);
  cr_assert_eq(run_shell(cmd, NULL), 0);
  Run r = ganc("train models/ring8.gan --data %s --steps 20 --every 5 --resume -o %s/n", bad, dir);
  cr_expect_eq(r.status, 1);
  cr_expect(strstr(r.err, "training stopped at step 11: the discriminator loss is"), "%s", r.err);
  run_free(&r);
  cr_expect(same_file(ckpt, copy), "the last good checkpoint changed");
}

Test(train, sample_outputs)
{
  expect_ok(ganc(TRAIN "--steps 20 -o %s/s", dir), "train");
  expect_ok(ganc("sample models/ring8.gan --weights %s/s/weights.safetensors -n 5 -o %s/x.csv", dir, dir), "csv");
  expect_ok(ganc("sample models/ring8.gan --weights %s/s/checkpoint.safetensors -n 5 -o %s/x.f32", dir, dir), "f32");
  expect_ok(ganc("sample models/ring8.gan --weights %s/s/weights.safetensors --data ring8 -o %s/x.png", dir, dir),
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
  Run r = ganc("sample models/ring8.gan -o %s/x.txt", dir);
  cr_expect_eq(r.status, 2);
  run_free(&r);
}

/* ganc emit --weights gives a program that generates with no file at all,
   as the JIT does with the same weights. */
Test(train, emitted_weights)
{
  expect_ok(ganc(TRAIN "--steps 30 -o %s/w", dir), "train");
  expect_ok(ganc("emit models/ring8.gan --weights %s/w/weights.safetensors -o %s/c", dir, dir), "emit");
  char cmd[4096], *log = NULL;
  snprintf(cmd, sizeof cmd,
           "cd %s/c && printf '%%s\\n' '#include <stdio.h>' '#include \"ring8.h\"' "
           "'int main(void) { float z[2] = {0.5f, -1.0f}, x[2]; ring8_generate(ring8_weights, z, x); "
           "printf(\"%%.9g %%.9g\\\\n\", x[0], x[1]); return 0; }' > main.c && "
           "cc -std=c99 -Wall -Wextra -pedantic -Werror -O2 main.c ring8.c ring8_weights.c -lm -o main && ./main",
           dir);
  cr_assert_eq(run_shell(cmd, &log), 0, "%s", log);
  float got[2];
  cr_assert(sscanf(log, "%f %f", &got[0], &got[1]) == 2, "%s", log);

  char err[4096], path[700];
  ganc_model *m = ganc_jit("models/ring8.gan", err, sizeof err, NULL);
  cr_assert(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  float *p = malloc(sizeof(float) * (size_t)info->param_count);
  snprintf(path, sizeof path, "%s/w/weights.safetensors", dir);
  cr_assert_eq(ganc_load_weights(info, path, p, NULL, err, sizeof err), 0, "%s", err);
  void (*gen)(const float *, const float *, float *);
  *(void **)&gen = ganc_symbol(m, "ring8_generate");
  float z[2] = {0.5f, -1.0f}, want[2];
  gen(p, z, want);
  for (int i = 0; i < 2; i++)
    cr_expect(fabsf(got[i] - want[i]) <= 1e-5f * fabsf(want[i]) + 1e-6f, "x[%d]: standalone %.9g, JIT %.9g", i,
              got[i], want[i]);
  free(p);
  free(log);
  ganc_free(m);
}

/* Training learns: from Xavier initialization, whose samples sit near the
   origin far from every mode, to most of the ring. GAN training oscillates
   (modes are found, lost and found again), so the test takes the best of
   the snapshots in loss.csv rather than one step's. */
Test(train, ring8_learns)
{
  Run r = ganc("train models/ring8.gan --data ring8 --steps 2000 --batch 256 --lr 1e-3 --every 250 -o %s/l", dir);
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
