/* test_mpi.c — data-parallel training over Open MPI (docs/DESIGN.md §7):
 * `mpirun --allow-run-as-root --oversubscribe -np P build/ganc train ...`
 * on this one machine.
 *
 *   - a build with MPI trains, without mpirun and under `mpirun -np 1`,
 *     bit for bit as the same ganc built without it (GANC_NOMPI, or
 *     build/tests/ganc-nompi: its runtime/dist.c has no MPI);
 *   - the same seed, flags and P = 2 give the same weights and checkpoint,
 *     bit for bit; P = 1 and P = 2 give weights within rounding of each
 *     other (each tensor's largest difference at most 1e-4 of its largest
 *     magnitude after 200 steps; the sums of the gradients differ only in
 *     their order);
 *   - models with batch_norm, labels, pack and convolutions train over two
 *     ranks;
 *   - a batch that P does not divide is an error on every rank;
 *   - a rank killed with SIGKILL stops every rank within seconds with a
 *     non-zero exit, the checkpoint stays whole, and --resume continues
 *     with P = 2 and with P = 1; SIGTERM or SIGINT to mpirun leaves a
 *     checkpoint that resumes.
 * Without mpirun or in a build without MPI the suite is skipped. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dist.h"
#include "ganc.h"
#include "test.h"

/* Every test's files, in its scratch folder. */
static const char *const dir = scratch_dir;

TestSuite(mpi, .init = scratch_open, .fini = scratch_close, .timeout = 120);

/* mpirun is here and ganc has MPI: else skip the test. */
static void need_mpi(void)
{
  if (!ganc_dist_built() || run_shell("command -v mpirun", NULL) != 0)
    cr_skip_test("no MPI in this build, or no mpirun");
}

/* `mpirun -np p ganc ARGS` (p 0: ganc alone), its exit status; its
   output in *log when log is not NULL. LeakSanitizer's report on MPI's
   own allocations is not this test's concern. */
static int mpi_run(int p, const char *args, char **log)
{
  char cmd[8192];
  if (p > 0)
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=detect_leaks=0 mpirun --allow-run-as-root --oversubscribe -np %d %s %s 2>&1", p,
             ganc_bin(), args);
  else
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", ganc_bin(), args);
  return run_shell(cmd, log);
}

static const char *train_args(const char *model, const char *out, int steps)
{
  static char a[4][2048];
  static int k;
  char *b = a[k++ % 4];
  snprintf(b, sizeof a[0], "train %s --data ring8 --steps %d --every 100 --batch 64 -o %s/%s", model, steps, dir,
           out);
  return b;
}

Test(mpi, a_build_with_mpi_trains_as_one_without)
{
  need_mpi();
  char *log = NULL, cmd[4096];
  const char *nompi = getenv("GANC_NOMPI") && *getenv("GANC_NOMPI") ? getenv("GANC_NOMPI") : "build/tests/ganc-nompi";
  cr_assert_eq(access(nompi, X_OK), 0, "%s is missing (make test builds it)", nompi);
  snprintf(cmd, sizeof cmd, "%s %s 2>&1", nompi, train_args("models/ring8.gan", "nompi", 200));
  cr_assert_eq(run_shell(cmd, &log), 0, "%s", log);
  free(log);
  cr_assert_eq(mpi_run(0, train_args("models/ring8.gan", "alone", 200), &log), 0, "%s", log);
  free(log);
  cr_assert_eq(mpi_run(1, train_args("models/ring8.gan", "np1", 200), &log), 0, "%s", log);
  free(log);
  cr_expect(same_file(path_in(dir, "nompi/weights.safetensors"), path_in(dir, "alone/weights.safetensors")),
            "the MPI build without mpirun differs from the build without MPI");
  cr_expect(same_file(path_in(dir, "nompi/weights.safetensors"), path_in(dir, "np1/weights.safetensors")),
            "mpirun -np 1 differs from the build without MPI");
  cr_expect(same_file(path_in(dir, "nompi/checkpoint.safetensors"), path_in(dir, "np1/checkpoint.safetensors")));
}

Test(mpi, same_seed_and_p_give_the_same_weights)
{
  need_mpi();
  char *log = NULL;
  for (int k = 0; k < 2; k++) {
    cr_assert_eq(mpi_run(2, train_args("models/ring8.gan", k ? "b" : "a", 200), &log), 0, "%s", log);
    free(log);
  }
  cr_expect(same_file(path_in(dir, "a/weights.safetensors"), path_in(dir, "b/weights.safetensors")));
  cr_expect(same_file(path_in(dir, "a/checkpoint.safetensors"), path_in(dir, "b/checkpoint.safetensors")));
}

/* The largest difference of a and b within each tensor over its largest
   magnitude: the worst of the tensors. */
static double worst_difference(const ganc_info *info, const char *a, const char *b)
{
  char err[4096];
  size_t s = (size_t)info->scalar_size, n = (size_t)info->param_count;
  void *pa = malloc(s * n), *pb = malloc(s * n);
  cr_assert(pa && pb);
  cr_assert_eq(ganc_load_weights(info, a, pa, NULL, NULL, err, sizeof err), 0, "%s", err);
  cr_assert_eq(ganc_load_weights(info, b, pb, NULL, NULL, err, sizeof err), 0, "%s", err);
  double worst = 0;
  for (int t = 0; t < info->ntensors; t++) {
    const ganc_tensor *tt = &info->tensors[t];
    double most = 0, diff = 0;
    for (int64_t i = tt->offset; i < tt->offset + tt->count; i++) {
      double x = s == 4 ? ((float *)pa)[i] : ((double *)pa)[i], y = s == 4 ? ((float *)pb)[i] : ((double *)pb)[i];
      most = fmax(most, fabs(x));
      diff = fmax(diff, fabs(x - y));
    }
    if (most > 0)
      worst = fmax(worst, diff / most);
  }
  free(pa);
  free(pb);
  return worst;
}

Test(mpi, one_and_two_ranks_agree_within_rounding)
{
  need_mpi();
  char *log = NULL, err[8192];
  cr_assert_eq(mpi_run(1, train_args("models/ring8.gan", "p1", 200), &log), 0, "%s", log);
  free(log);
  cr_assert_eq(mpi_run(2, train_args("models/ring8.gan", "p2", 200), &log), 0, "%s", log);
  free(log);
  ganc_model *m = ganc_jit("models/ring8.gan", err, sizeof err, NULL);
  cr_assert_not_null(m, "%s", err);
  double worst = worst_difference(ganc_model_info(m, 0), path_in(dir, "p1/weights.safetensors"),
                                  path_in(dir, "p2/weights.safetensors"));
  ganc_free(m);
  cr_expect(worst <= 1e-4, "P = 1 and P = 2 differ by %.3g of a tensor's largest magnitude", worst);
  cr_log_info("P = 1 against P = 2 after 200 steps: %.3g of a tensor's largest magnitude", worst);
}

Test(mpi, every_kind_of_model_trains_over_two_ranks)
{
  need_mpi();
  const char *bn = path_in(dir, "bn.gan");
  FILE *f = fopen(bn, "w");
  cr_assert_not_null(f);
  fputs("model bn {\n  latent [4]\n  observation [2]\n  generator { linear(16) batch_norm relu linear(2) }\n"
        "  discriminator { linear(16) batch_norm leaky_relu(0.2) linear(1) }\n}\n", f);
  fclose(f);
  /* A conditional convolutional model with batch_norm in both networks,
     on a CSV of labelled 6 x 6 images. */
  const char *csv = path_in(dir, "images.csv");
  f = fopen(csv, "w");
  cr_assert_not_null(f);
  for (int r = 0; r < 64; r++) {
    fprintf(f, "%d", r % 3);
    for (int k = 0; k < 36; k++)
      fprintf(f, ",%g", ((r * 7 + k * 13) % 17) / 8.5 - 1);
    fputc('\n', f);
  }
  fclose(f);
  const char *models[] = {"models/ring8_cgan.gan", "models/ring8_pack.gan", bn, "tests/models/label_conv_double.gan"};
  for (int i = 0; i < 4; i++) {
    char *log = NULL, out[16], args[4096];
    snprintf(out, sizeof out, "m%d", i);
    snprintf(args, sizeof args, "%s", train_args(models[i], out, i == 3 ? 20 : 100));
    if (i == 3) { /* its data */
      char *at = strstr(args, "--data ring8");
      cr_assert_not_null(at);
      char rest[4096];
      snprintf(rest, sizeof rest, "%s", at + strlen("--data ring8"));
      snprintf(at, sizeof args - (size_t)(at - args), "--data %s%s", csv, rest);
    }
    int s = mpi_run(2, args, &log);
    cr_expect_eq(s, 0, "%s over two ranks:\n%s", models[i], log);
    free(log);
    cr_expect(access(path_in(dir, "%s/weights.safetensors", out), F_OK) == 0, "%s wrote no weights", models[i]);
  }
}

Test(mpi, a_batch_the_ranks_do_not_divide_is_an_error)
{
  need_mpi();
  char *log = NULL, args[2048];
  snprintf(args, sizeof args, "train models/ring8.gan --data ring8 --steps 10 --batch 63 -o %s/odd", dir);
  int s = mpi_run(2, args, &log);
  cr_expect_neq(s, 0);
  cr_expect(log && strstr(log, "--batch 63 does not split evenly over 2 ranks"), "%s", log);
  free(log);
}

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* mpirun -np 2 training ring8 for a long time, in the background: its pid. */
static pid_t start_long_run(const char *out, const char *log)
{
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "exec env ASAN_OPTIONS=detect_leaks=0 mpirun --allow-run-as-root --oversubscribe -np 2 %s train "
             "models/ring8.gan --data ring8 --steps 1000000 --every 20 -o %s/%s >%s 2>&1",
             ganc_bin(), dir, out, log);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(99);
  }
  return pid;
}

/* Wait for path to appear (at most 60 s). */
static void wait_for(const char *path)
{
  for (int i = 0; i < 600 && access(path, F_OK) != 0; i++)
    usleep(100000);
  cr_assert_eq(access(path, F_OK), 0, "%s never appeared", path);
}

/* The pid of a ganc rank of this run whose rank is `rank` (its
   environment says), or 0. */
static pid_t rank_pid(const char *out, int rank)
{
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "for p in $(pgrep -f 'train models/ring8.gan --data ring8 --steps 1000000 --every 20 -o %s/%s'); do "
           "tr '\\0' '\\n' </proc/$p/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=%d' && echo $p; done",
           dir, out, rank);
  FILE *f = popen(cmd, "r");
  cr_assert_not_null(f);
  char line[64];
  pid_t pid = 0;
  if (fgets(line, sizeof line, f))
    pid = (pid_t)atoi(line);
  pclose(f);
  return pid;
}

/* The step of the last row of a run's loss.csv. */
static long last_step(const char *out)
{
  char *csv = slurp(path_in(dir, "%s/loss.csv", out), NULL);
  cr_assert_not_null(csv);
  long step = 0;
  for (char *line = strtok(csv, "\n"); line; line = strtok(NULL, "\n"))
    step = atol(line);
  free(csv);
  return step;
}

/* --resume with p ranks (0: no mpirun) for a few steps more: exit 0. */
static void resumes(const char *out, int p)
{
  char args[2048], *log = NULL;
  snprintf(args, sizeof args, "train models/ring8.gan --data ring8 --steps %ld --every 20 --resume -o %s/%s",
           last_step(out) + 40, dir, out);
  int s = mpi_run(p, args, &log);
  cr_expect_eq(s, 0, "--resume with %d ranks:\n%s", p, log);
  free(log);
}

Test(mpi, a_killed_rank_stops_every_rank)
{
  need_mpi();
  const char *log = path_in(dir, "kill.log");
  pid_t run = start_long_run("k", log);
  wait_for(path_in(dir, "k/checkpoint.safetensors"));
  usleep(300000);
  pid_t victim = rank_pid("k", 1);
  cr_assert_gt(victim, 0, "no rank 1 found");
  double t0 = now();
  kill(victim, SIGKILL);
  int status;
  pid_t done = 0;
  while ((done = waitpid(run, &status, WNOHANG)) == 0 && now() - t0 < 30)
    usleep(50000);
  double took = now() - t0;
  if (done == 0) {
    kill(run, SIGKILL);
    waitpid(run, &status, 0);
  }
  cr_assert_neq(done, 0, "mpirun still ran 30 s after rank 1 was killed");
  cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0, "mpirun exited %d after a rank was killed", status);
  cr_expect_lt(took, 10, "every rank stopped only %.1f s after the kill", took);
  cr_expect(rank_pid("k", 0) == 0, "rank 0 still runs");
  char err[4096];
  ganc_model *m = ganc_jit("models/ring8.gan", err, sizeof err, NULL);
  cr_assert_not_null(m, "%s", err);
  const ganc_info *info = ganc_model_info(m, 0);
  void *p = malloc((size_t)info->scalar_size * (size_t)info->param_count);
  cr_expect_eq(ganc_load_weights(info, path_in(dir, "k/checkpoint.safetensors"), p, NULL, NULL, err, sizeof err), 0,
               "the checkpoint left does not load: %s", err);
  free(p);
  ganc_free(m);
  resumes("k", 2);
  resumes("k", 0);
  cr_log_info("every rank gone %.2f s after rank 1's SIGKILL", took);
}

/* mpirun passes SIGTERM on to the ranks, for SIGINT too: each stops after
   the same step, rank 0 writes a checkpoint, and it resumes. */
static void signal_leaves_a_checkpoint(int sig, const char *out)
{
  need_mpi();
  const char *log = path_in(dir, "%s.log", out);
  pid_t run = start_long_run(out, log);
  wait_for(path_in(dir, "%s/checkpoint.safetensors", out));
  usleep(300000);
  kill(run, sig);
  int status;
  waitpid(run, &status, 0);
  char *text = slurp(log, NULL);
  cr_expect(text && strstr(text, "stopped by SIGTERM"), "%s", text);
  free(text);
  resumes(out, 2);
}

Test(mpi, sigterm_to_mpirun_leaves_a_checkpoint)
{
  signal_leaves_a_checkpoint(SIGTERM, "t");
}

Test(mpi, sigint_to_mpirun_leaves_a_checkpoint)
{
  signal_leaves_a_checkpoint(SIGINT, "i");
}
