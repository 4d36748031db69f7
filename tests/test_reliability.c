/* test_reliability.c — what must survive the outside world: training killed
 * at any moment or stopped by a full disk keeps a checkpoint that loads and
 * resumes; loaders given hostile files fail with a message and cost no more
 * memory than the file holds, and the compiler leaks nothing when memory
 * runs out; every input that ever crashed a fuzz target
 * (tests/fuzz/crashes/) is handled. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compiler.h"
#include "io.h"
#include "test.h"

static char *dir;

static void setup(void)
{
  dir = tmpdir_make();
  cr_assert_not_null(dir, "cannot make a temporary directory");
}

static void teardown(void)
{
  tmpdir_remove(dir);
}

TestSuite(reliability, .init = setup, .fini = teardown, .timeout = 240);


static int exists(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0;
}

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ring8 compiled in memory, for its description and arrays to load into. */
typedef struct Ring8 {
  ganc_model *m;
  const ganc_info *info;
  float *params, *adam_m, *adam_v;
} Ring8;

static Ring8 ring8_open(void)
{
  Ring8 r = {0};
  char err[4096];
  r.m = ganc_jit("models/ring8.gan", err, sizeof err, NULL);
  cr_assert(r.m, "%s", err);
  r.info = ganc_find_model(r.m, "ring8");
  cr_assert(r.info);
  size_t n = (size_t)r.info->param_count;
  r.params = malloc(n * sizeof(float));
  r.adam_m = malloc(n * sizeof(float));
  r.adam_v = malloc(n * sizeof(float));
  return r;
}

static void ring8_close(Ring8 *r)
{
  free(r->params);
  free(r->adam_m);
  free(r->adam_v);
  ganc_free(r->m);
}

/* The checkpoint at path loads with its training state: its step, or -1
   with the reason in why. */
static int64_t checkpoint_step(Ring8 *r, const char *path, char *why, size_t whylen)
{
  ganc_train_state st = {r->adam_m, r->adam_v, 0, {{0}}};
  if (ganc_load_weights(r->info, path, r->params, NULL, &st, why, whylen) != 0)
    return -1;
  return st.step;
}

/* loss.csv holds one row for each step 1..steps, in order: no row lost, none
   kept from a step the checkpoint does not hold. */
static void expect_rows(const char *csv_path, int64_t steps)
{
  char *csv = slurp(csv_path, NULL);
  cr_assert(csv, "no %s", csv_path);
  char *line = strchr(csv, '\n');
  cr_assert(line && strncmp(csv, "step,d_loss,g_loss,seconds", 26) == 0, "loss.csv header:\n%s", csv);
  int64_t want = 1;
  for (line++; *line; want++) {
    long long step;
    double d, g, s;
    int modes;
    double hq;
    char *eol = strchr(line, '\n');
    cr_assert(eol, "loss.csv: row %lld has no newline:\n%s", (long long)want, csv);
    cr_assert(sscanf(line, "%lld,%lf,%lf,%lf,%d,%lf", &step, &d, &g, &s, &modes, &hq) == 6,
              "loss.csv: a broken row '%.*s'", (int)(eol - line), line);
    cr_assert_eq(step, want, "loss.csv: row for step %lld where step %lld belongs:\n%s", step, (long long)want,
                 csv);
    line = eol + 1;
  }
  cr_expect_eq(want - 1, steps, "loss.csv ends at step %lld, the checkpoint is at %lld", (long long)(want - 1),
               (long long)steps);
  free(csv);
}

/* A small generator of our own for the kill delays: the test says which
   moments it tried when it fails. */
static uint64_t splitmix(uint64_t *s)
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static pid_t start_training(const char *out, int resume, const char *log)
{
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    const char *g = ganc_bin();
    if (resume)
      execl(g, g, "train", "models/ring8.gan", "--data", "ring8", "--every", "1", "--steps", "100000", "--resume",
            "-o", out, (char *)NULL);
    else
      execl(g, g, "train", "models/ring8.gan", "--data", "ring8", "--every", "1", "--steps", "100000", "-o", out,
            (char *)NULL);
    _exit(99);
  }
  return pid;
}

enum { KILLS = 20 };

/* SIGKILL, again and again, at random moments of a run that checkpoints
   every step, and in the middle of checkpoint writes. Each time, what is on
   disk must load, the step may only grow, and the next run resumes from it;
   in the end loss.csv holds every step once. */
Test(reliability, sigkill_at_random_moments)
{
  Ring8 r = ring8_open();
  char sub[600], log[700], why[4096];
  snprintf(sub, sizeof sub, "%s/k", dir);
  const char *ckpt = path_in(dir, "k/checkpoint.safetensors"), *weights = path_in(dir, "k/weights.safetensors");
  const char *tmp = path_in(dir, "k/checkpoint.safetensors.tmp");
  snprintf(log, sizeof log, "%s/log", dir);
  uint64_t seed = 0x6b696c6c, s = seed;
  int64_t last = 0;
  int temporaries = 0, stalled = 0;

  /* How long a run takes to its first checkpoint here: kills fall from
     half of that to 300 ms past it. */
  double t0 = now();
  pid_t pid = start_training(sub, 0, log);
  for (int i = 0; i < 60000 && !exists(ckpt); i++)
    usleep(1000);
  double startup = now() - t0;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  cr_assert(exists(ckpt), "no checkpoint within a minute of starting:\n%s", slurp(log, NULL));
  last = checkpoint_step(&r, ckpt, why, sizeof why);
  cr_assert_geq(last, 0, "the first kill: the checkpoint does not load: %s", why);

  for (int k = 0; k < KILLS; k++) {
    /* Even kills: at a random moment. Odd kills: in the middle of writing a
       checkpoint, a moment after its temporary appears. */
    int64_t delay_us = k % 2 == 0 ? (int64_t)(startup * 0.5e6) +
                                         (int64_t)(splitmix(&s) % (uint64_t)(startup * 0.5e6 + 300000))
                                   : (int64_t)(splitmix(&s) % 3000);
    int had = exists(ckpt);
    if (k % 2 == 1)
      unlink(tmp); /* the last kill's, so that the next one shows */
    pid = start_training(sub, had, log);
    for (int i = 0; k % 2 == 1 && i < (int)(startup * 2e4) + 10000 && !exists(tmp); i++)
      usleep(100);
    usleep((useconds_t)delay_us);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    char *text = slurp(log, NULL);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "kill %d (seed %#llx, %lld us): the run ended by itself (status %#x):\n%s", k,
              (unsigned long long)seed, (long long)delay_us, status, text);
    free(text);
    temporaries += exists(tmp);
    if (!exists(ckpt)) {
      cr_assert(!had, "kill %d: the checkpoint disappeared", k);
      continue;
    }
    int64_t step = checkpoint_step(&r, ckpt, why, sizeof why);
    cr_assert_geq(step, 0, "kill %d (seed %#llx, %lld us): the checkpoint does not load: %s", k,
                  (unsigned long long)seed, (long long)delay_us, why);
    cr_assert_geq(step, last, "kill %d: the checkpoint went back from step %lld to %lld", k, (long long)last,
                  (long long)step);
    stalled += step == last;
    last = step;
    if (exists(weights))
      cr_assert_eq(ganc_load_weights(r.info, weights, r.params, NULL, NULL, why, sizeof why), 0,
                   "kill %d: weights.safetensors does not load: %s", k, why);
  }
  cr_log_info("%d kills, %d left a temporary, %d with no new checkpoint; checkpoint at step %lld", KILLS, temporaries,
              stalled, (long long)last);

  /* Resuming finishes the run from the checkpoint, whatever temporary the
     last kill left behind. */
  int64_t target = last + 3;
  Run run = run_gancf("train models/ring8.gan --data ring8 --every 1 --steps %lld --resume -o %s", (long long)target,
                 sub);
  cr_assert_eq(run.status, 0, "resume from step %lld: exit %d\n%s", (long long)last, run.status, run.err);
  run_free(&run);
  cr_expect_eq(checkpoint_step(&r, ckpt, why, sizeof why), target, "%s", why);
  cr_expect(!exists(tmp), "a temporary is left after a clean run");
  expect_rows(path_in(dir, "k/loss.csv"), target);
  Run sample = run_gancf("sample models/ring8.gan --weights %s -n 4 -o -", ckpt);
  cr_expect_eq(sample.status, 0, "ganc sample --weights on the checkpoint: %s", sample.err);
  run_free(&sample);
  ring8_close(&r);
}

/* A checkpoint write that fails (a file size limit stands in for a full
   disk) stops training with exit 1 and a message naming the file; the
   previous checkpoint stays as it was, and training resumes from it. */
Test(reliability, failed_checkpoint_write_keeps_the_previous_one)
{
  Ring8 r = ring8_open();
  char sub[600], cmd[4096], why[4096];
  snprintf(sub, sizeof sub, "%s/f", dir);
  const char *ckpt = path_in(dir, "f/checkpoint.safetensors"), *copy = path_in(dir, "f/saved");
  Run run = run_gancf("train models/ring8.gan --data ring8 --steps 2 --every 2 -o %s", sub);
  cr_assert_eq(run.status, 0, "%s", run.err);
  run_free(&run);
  snprintf(cmd, sizeof cmd, "cp %s %s", ckpt, copy);
  cr_assert_eq(run_shell(cmd, NULL), 0);

  /* 400 blocks: 200 KiB for dash (512-byte blocks), 400 KiB for bash; the
     checkpoint takes more than 400 KB, loss.csv and samples.png far less. */
  char *out = NULL;
  snprintf(cmd, sizeof cmd,
           "trap '' XFSZ; ulimit -f 400; exec %s train models/ring8.gan --data ring8 --steps 4 --every 2 --resume "
           "-o %s",
           ganc_bin(), sub);
  int status = run_shell(cmd, &out);
  cr_expect_eq(status, 1, "exit %d under a file size limit:\n%s", status, out);
  cr_expect(strstr(out, "checkpoint.safetensors"), "the message does not name the checkpoint:\n%s", out);
  cr_expect(strstr(out, "File too large"), "the message does not say why:\n%s", out);
  free(out);

  cr_expect(same_file(ckpt, copy), "the previous checkpoint changed");
  cr_expect(!exists(path_in(dir, "f/checkpoint.safetensors.tmp")), "the temporary is left");
  cr_expect_eq(checkpoint_step(&r, ckpt, why, sizeof why), 2, "%s", why);

  run = run_gancf("train models/ring8.gan --data ring8 --steps 4 --every 2 --resume -o %s", sub);
  cr_expect_eq(run.status, 0, "resume after the failure: %s", run.err);
  run_free(&run);
  cr_expect_eq(checkpoint_step(&r, ckpt, why, sizeof why), 4, "%s", why);
  ring8_close(&r);
}

/* A whole, valid checkpoint left as checkpoint.safetensors.tmp (a run
   killed between writing and renaming it) is not the checkpoint: resuming
   takes checkpoint.safetensors, and a folder holding only the temporary
   holds no checkpoint. */
Test(reliability, stray_temporary_is_not_a_checkpoint)
{
  Ring8 r = ring8_open();
  char a[600], b[600], cmd[4096], why[4096];
  snprintf(a, sizeof a, "%s/a", dir);
  snprintf(b, sizeof b, "%s/b", dir);
  Run run = run_gancf("train models/ring8.gan --data ring8 --steps 3 --every 1 -o %s", a);
  cr_assert_eq(run.status, 0, "%s", run.err);
  run_free(&run);
  run = run_gancf("train models/ring8.gan --data ring8 --steps 6 --every 1 --seed 9 -o %s", b);
  cr_assert_eq(run.status, 0, "%s", run.err);
  run_free(&run);
  snprintf(cmd, sizeof cmd, "cp %s/checkpoint.safetensors %s/checkpoint.safetensors.tmp", b, a);
  cr_assert_eq(run_shell(cmd, NULL), 0);

  run = run_gancf("train models/ring8.gan --data ring8 --steps 4 --every 1 --resume -o %s", a);
  cr_assert_eq(run.status, 0, "%s", run.err);
  run_free(&run);
  cr_expect_eq(checkpoint_step(&r, path_in(dir, "a/checkpoint.safetensors"), why, sizeof why), 4,
               "resumed from the temporary (step 6) instead of the checkpoint (step 3): %s", why);
  expect_rows(path_in(dir, "a/loss.csv"), 4);

  /* Only a temporary: nothing to resume, nothing to protect. */
  snprintf(cmd, sizeof cmd, "mv %s/checkpoint.safetensors %s/checkpoint.safetensors.tmp", b, b);
  cr_assert_eq(run_shell(cmd, NULL), 0);
  run = run_gancf("train models/ring8.gan --data ring8 --steps 2 --every 1 --resume -o %s", b);
  cr_expect_eq(run.status, 1, "--resume with only a temporary: exit %d", run.status);
  cr_expect(strstr(run.err, "checkpoint.safetensors'"), "the message does not name the checkpoint: %s", run.err);
  run_free(&run);
  run = run_gancf("train models/ring8.gan --data ring8 --steps 2 --every 1 -o %s", b);
  cr_expect_eq(run.status, 0, "a fresh run where only a temporary is: %s", run.err);
  run_free(&run);
  cr_expect_eq(checkpoint_step(&r, path_in(dir, "b/checkpoint.safetensors"), why, sizeof why), 2, "%s", why);
  ring8_close(&r);
}

/* ---- Loaders and hostile files ---- */

/* Address space for this test process: what it uses now and limit more.
   0, or -1 where the limit cannot be set (AddressSanitizer reserves
   terabytes of shadow memory up front). */
static int limit_memory(size_t more)
{
#if defined(__SANITIZE_ADDRESS__)
  (void)more;
  return -1;
#else
  long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f || fscanf(f, "%ld", &pages) != 1)
    pages = 0;
  if (f)
    fclose(f);
  if (pages <= 0)
    return -1;
  struct rlimit rl = {.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + more};
  rl.rlim_max = rl.rlim_cur;
  return setrlimit(RLIMIT_AS, &rl);
#endif
}

static void write_file(const char *path, const void *data, size_t n)
{
  FILE *f = fopen(path, "wb");
  cr_assert(f, "%s: %s", path, strerror(errno));
  cr_assert_eq(fwrite(data, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

static const ganc_info flat2 = {.name = "flat", .scalar_size = 4, .obs_rank = 1, .obs_shape = {2}, .obs_size = 2};
static const ganc_info image784 = {
    .name = "image", .scalar_size = 4, .obs_rank = 3, .obs_shape = {1, 28, 28}, .obs_size = 784};

/* Found by fuzz_idx: 18 bytes whose header promises 721 million samples
   made the loader ask for 5.8 GB before reading any of them. With 256 MiB
   of address space to spare it must still see that the data is missing. */
Test(reliability, idx_promise_costs_no_memory)
{
  size_t n;
  char *bytes = slurp("tests/fuzz/crashes/idx-oom-huge-promise.idx", &n);
  cr_assert(bytes && n == 18);
  char path[700], err[512];
  snprintf(path, sizeof path, "%s/promise.idx", dir);
  write_file(path, bytes, n);
  free(bytes);
  if (limit_memory(256u << 20) != 0)
    cr_skip_test("cannot limit the address space here");
  ganc_data *d = ganc_data_open(path, &flat2, err, sizeof err);
  cr_assert_null(d);
  cr_expect(strstr(err, "truncated") && strstr(err, "721420291 samples"), "%s", err);
}

/* The same for CSV: a megabyte of newlines is no reason to reserve room
   for a million images. */
Test(reliability, csv_blank_lines_cost_no_memory)
{
  size_t n = 1 << 20;
  char *text = malloc(n);
  memset(text, '\n', n);
  char path[700], err[512];
  snprintf(path, sizeof path, "%s/blank.csv", dir);
  write_file(path, text, n);
  free(text);
  if (limit_memory(256u << 20) != 0)
    cr_skip_test("cannot limit the address space here");
  ganc_data *d = ganc_data_open(path, &image784, err, sizeof err);
  cr_assert_null(d);
  cr_expect(strstr(err, "no samples"), "%s", err);
}

/* A big data set still loads whole when the file holds it: more samples
   than one read brings in, stored in order. */
Test(reliability, idx_larger_than_a_read)
{
  enum { COUNT = 300000 }; /* 600000 bytes of data, 2.4 MB as floats */
  size_t n = 4 + 8 + 2 * (size_t)COUNT;
  unsigned char *bytes = malloc(n);
  memcpy(bytes, "\0\0\x08\x02", 4);
  unsigned char dims[8] = {0, COUNT >> 16 & 0xff, COUNT >> 8 & 0xff, COUNT & 0xff, 0, 0, 0, 2};
  memcpy(bytes + 4, dims, 8);
  for (size_t i = 0; i < 2 * (size_t)COUNT; i++)
    bytes[12 + i] = (unsigned char)(i % 251);
  char path[700], err[512];
  snprintf(path, sizeof path, "%s/big.idx", dir);
  write_file(path, bytes, n);
  ganc_data *d = ganc_data_open(path, &flat2, err, sizeof err);
  cr_assert(d, "%s", err);
  cr_expect_eq(ganc_data_count(d), COUNT);
  ganc_rng rng;
  ganc_rng_seed(&rng, 5);
  float x[2 * 64];
  ganc_data_batch(d, &rng, 64, x, NULL);
  ganc_rng_seed(&rng, 5);
  for (int i = 0; i < 64; i++) {
    uint64_t k = ganc_rng_next(&rng) % COUNT;
    for (int j = 0; j < 2; j++)
      cr_expect_eq(x[2 * i + j], (float)(bytes[12 + 2 * k + j] / 127.5 - 1.0), "sample %llu, element %d",
                   (unsigned long long)k, j);
  }
  ganc_data_free(d);
  free(bytes);
}

/* ganc_load_weights_mem reads the bytes of a file as ganc_load_weights reads
   the file, messages included (but for the name). */
Test(reliability, load_weights_from_memory)
{
  Ring8 r = ring8_open();
  size_t n;
  char *bytes = slurp("tests/fixtures/torch_ring8.safetensors", &n);
  cr_assert(bytes);
  size_t count = (size_t)r.info->param_count;
  float *from_file = malloc(count * sizeof(float));
  char err[512];
  cr_assert_eq(ganc_load_weights(r.info, "tests/fixtures/torch_ring8.safetensors", from_file, NULL, NULL, err, sizeof err),
               0, "%s", err);
  cr_assert_eq(ganc_load_weights_mem(r.info, "torch_ring8", bytes, n, r.params, NULL, NULL, err, sizeof err), 0, "%s",
               err);
  cr_expect_eq(memcmp(from_file, r.params, count * sizeof(float)), 0);
  /* Cut short, it fails with the file's message under the given name. */
  cr_expect_eq(ganc_load_weights_mem(r.info, "cut", bytes, n - 1, r.params, NULL, NULL, err, sizeof err), -1);
  cr_expect(strncmp(err, "cut: tensor", 11) == 0 && strstr(err, "beyond the end"), "%s", err);
  cr_expect_eq(ganc_load_weights_mem(r.info, NULL, bytes, 5, r.params, NULL, NULL, err, sizeof err), -1);
  cr_expect(strstr(err, "too short"), "%s", err);
  free(from_file);
  free(bytes);
  ring8_close(&r);
}

/* A source far over the size limit is read only a little past it: with 256
   MiB to spare, a sparse gigabyte is still rejected as too large (reading
   it whole would run out of memory first). */
Test(reliability, huge_source_costs_no_memory)
{
  char path[700], err[512];
  snprintf(path, sizeof path, "%s/huge.gan", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
  cr_assert_eq(ftruncate(fd, (off_t)1 << 30), 0, "%s", strerror(errno));
  cr_assert_eq(close(fd), 0);
  if (limit_memory(256u << 20) != 0)
    cr_skip_test("cannot limit the address space here");
  ganc_status status;
  cr_assert_null(ganc_jit(path, err, sizeof err, &status));
  cr_expect_eq(status, GANC_EUSER);
  cr_expect(strstr(err, "error: file is too large (") && strstr(err, "; at most 16777216)"), "%s", err);
}

/* Running out of memory in the parser frees the scanner and its copy of
   the source on the way out: after compile_free the heap is as it was. */
Test(reliability, parser_out_of_memory_leaks_nothing)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  /* Three million layers in 15 MB of source need far more than 64 MiB. */
  static const char head[] = "model m { generator { ", tail[] = "} }\n";
  enum { LAYERS = 3000000 };
  size_t len = sizeof head - 1 + 5 * (size_t)LAYERS + sizeof tail - 1;
  char *src = malloc(len + 1), *p = src;
  cr_assert(src);
  memcpy(p, head, sizeof head - 1);
  p += sizeof head - 1;
  for (int i = 0; i < LAYERS; i++, p += 5)
    memcpy(p, "relu ", 5);
  memcpy(p, tail, sizeof tail);
  if (limit_memory(64u << 20) != 0)
    cr_skip_test("cannot limit the address space here");
  struct mallinfo2 before = mallinfo2();
  Compilation c;
  int rc = compile_source(&c, "layers.gan", src, len);
  int said_oom = c.diag.out.buf && strstr(c.diag.out.buf, "out of memory");
  compile_free(&c);
  struct mallinfo2 after = mallinfo2();
  free(src);
  cr_assert_eq(rc, -1);
  cr_expect(said_oom, "the compilation did not run out of memory");
  size_t in_use_before = before.uordblks + before.hblkhd, in_use_after = after.uordblks + after.hblkhd;
  cr_expect(in_use_after <= in_use_before + (64u << 10), "%zu bytes more in use after compile_free",
            in_use_after - in_use_before);
#else
  cr_skip_test("needs glibc's mallinfo2");
#endif
}

/* ---- Inputs that crashed a fuzz target ---- */

static const ganc_info data_infos[] = {
    {.name = "flat", .scalar_size = 4, .obs_rank = 1, .obs_shape = {2}, .obs_size = 2},
    {.name = "image", .scalar_size = 8, .obs_rank = 3, .obs_shape = {1, 2, 2}, .obs_size = 4},
    {.name = "matrix", .scalar_size = 4, .obs_rank = 2, .obs_shape = {2, 2}, .obs_size = 4},
};
/* The fuzz targets' conditional model: CSV rows begin with a label, and an
   IDX input is read as the labels of a samples file too. */
static const ganc_info labelled_info = {.name = "labelled", .scalar_size = 4, .classes = 200, .obs_rank = 1,
                                        .obs_shape = {2}, .obs_size = 2};

static void replay_open(const char *file, const char *spec, const char *labels, const ganc_info *info)
{
  char err[512];
  ganc_data *d = ganc_data_open_labels(spec, labels, info, err, sizeof err);
  cr_expect(d || err[0], "%s: a failure without a message", file);
  if (d) {
    double out[3 * 4];
    int drawn[3];
    ganc_rng rng;
    ganc_rng_seed(&rng, 1);
    ganc_data_batch(d, &rng, 3, out, drawn);
  }
  ganc_data_free(d);
}

static void replay_data(const char *file, const char *suffix)
{
  size_t n;
  unsigned char *bytes = (unsigned char *)slurp(file, &n);
  char path[700];
  cr_assert(bytes, "%s", file);
  snprintf(path, sizeof path, "%s/replay%s", dir, suffix);
  write_file(path, bytes, n);
  for (size_t i = 0; i < sizeof data_infos / sizeof *data_infos; i++)
    replay_open(file, path, NULL, &data_infos[i]);
  if (strcmp(suffix, ".csv") == 0) {
    replay_open(file, path, NULL, &labelled_info);
  } else if (strcmp(suffix, ".idx") == 0) {
    /* As fuzz_idx does: the labels of as many samples of [2] as a 1-D
       header promises (up to 4096), else of 3. */
    uint32_t count = n >= 8 && bytes[3] == 1
                         ? (uint32_t)bytes[4] << 24 | (uint32_t)bytes[5] << 16 | (uint32_t)bytes[6] << 8 | bytes[7]
                         : 0;
    if (count < 1 || count > 4096)
      count = 3;
    size_t size = 12 + 2 * (size_t)count;
    unsigned char *samples = calloc(size, 1);
    const unsigned char head[12] = {0, 0, 0x08, 2, (unsigned char)(count >> 24), (unsigned char)(count >> 16),
                                    (unsigned char)(count >> 8), (unsigned char)count, 0, 0, 0, 2};
    memcpy(samples, head, sizeof head);
    char spath[700];
    snprintf(spath, sizeof spath, "%s/replay-samples.idx", dir);
    write_file(spath, samples, size);
    free(samples);
    replay_open(file, spath, path, &labelled_info);
  }
  free(bytes);
}

/* Each file tests/fuzz/crashes/TARGET-* once crashed fuzz target TARGET;
   here it goes through the same code (under SANITIZE=1 with the same
   sanitizers) and must fail or succeed in an orderly way. */
Test(reliability, fuzz_crashes_are_handled)
{
  char **files = list_files("tests/fuzz/crashes", "");
  Ring8 r = ring8_open();
  int n = 0;
  for (char **f = files; *f; f++) {
    const char *base = strrchr(*f, '/') + 1;
    if (base[0] == '.')
      continue;
    n++;
    if (strncmp(base, "idx-", 4) == 0) {
      replay_data(*f, ".idx");
      replay_data(*f, ".idx.gz");
    } else if (strncmp(base, "csv-", 4) == 0) {
      replay_data(*f, ".csv");
    } else if (strncmp(base, "safetensors-", 12) == 0) {
      char err[512];
      ganc_train_state st = {r.adam_m, r.adam_v, 0, {{0}}};
      int rc = ganc_load_weights(r.info, *f, r.params, NULL, &st, err, sizeof err);
      cr_expect(rc == 0 || err[0], "%s: a failure without a message", *f);
      rc = ganc_load_weights(r.info, *f, r.params, NULL, NULL, err, sizeof err);
      cr_expect(rc == 0 || err[0], "%s: a failure without a message", *f);
    } else if (strncmp(base, "front-", 6) == 0) {
      Run run = run_gancf("emit %s -o %s/emit", *f, dir);
      cr_expect(run.status == 0 || run.status == 1, "ganc emit %s: exit %d\n%s", *f, run.status, run.err);
      run_free(&run);
    } else {
      cr_expect_fail("%s: name it after its target (front-, safetensors-, idx-, csv-)", *f);
    }
  }
  cr_expect_gt(n, 0, "no inputs in tests/fuzz/crashes");
  paths_free(files);
  ring8_close(&r);
}
