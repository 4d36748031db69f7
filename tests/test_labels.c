/* test_labels.c — labels outside [0, N) in the emitted C of a conditional
 * model (docs/DESIGN.md §4: such a label never makes the code read or write
 * outside its arguments; what it computes is unspecified).
 *
 * For a conditional MLP, a conditional convolutional model with
 * batch_norm, a projection discriminator with batch_norm and a model with
 * projection in both stacks (tests/models), `ganc emit` writes the C, and
 * gcc builds it with tests/labels/driver.c under AddressSanitizer and
 * UBSan, errors fatal. The driver calls every emitted function
 * (single-sample, batch, _backward, bounds and, with batch_norm, _backward_ws)
 * with labels -1, N, INT_MIN and INT_MAX and with batches mixing them
 * with labels in range, on buffers of exactly their size; it checks that
 * no input changes and that the in-range samples of a mixed batch get,
 * bit for bit, what a batch in range gives them. It must exit 0 with nothing on stderr (a sanitizer's
 * report goes there). It also calls every function with labels in range
 * and prints the results, which must be finite and match the JIT's for
 * the same calls within the tolerance between builds (docs/DESIGN.md §4,
 * Numbers: rtol 1e-5 and atol 1e-6 in float, 1e-12 and 1e-14 in double);
 * they are not bit for bit the same, since the JIT runs its own build of
 * the kernels, which may fuse multiply-adds. */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "ganc.h"
#include "test.h"

enum { BATCH = 4 }; /* the driver's */

/* One model's inputs, as the driver reads them from inputs.bin. */
typedef struct Inputs {
  const ganc_info *info;
  ganc_fns fns;
  int size;
  void *params, *stats, *z, *x;
  int labels_real[BATCH], labels_fake[BATCH]; /* the driver's batch labels in range */
} Inputs;

static struct {
  char *dir;
  ganc_model *jit;
  Inputs in;
  FILE *results;
  char *line;
} state;

static void teardown(void)
{
  if (state.results)
    fclose(state.results);
  free(state.line);
  free(state.in.params);
  free(state.in.stats);
  free(state.in.z);
  free(state.in.x);
  if (state.jit)
    ganc_free(state.jit);
  tmpdir_remove(state.dir);
  memset(&state, 0, sizeof state);
}

/* Parameters from the model's initializer (embeddings standard normal),
   statistics away from their start, normal latents, uniform observations. */
static void inputs_make(Inputs *in)
{
  const ganc_info *info = in->info;
  int size = in->size = info->scalar_size;
  in->params = scalar_alloc(size, info->param_count);
  ganc_init_params(info, 3, in->params);
  in->stats = scalar_alloc(size, info->stats_count);
  ganc_rng r;
  ganc_rng_seed(&r, 5);
  for (int k = 0; k < info->nstats; k++) {
    const ganc_tensor *t = &info->stats[k];
    for (int64_t i = 0; i < t->count; i++) {
      double u = ganc_rng_uniform(&r);
      scalar_store(in->stats, size, t->offset + i, t->init == GANC_INIT_ONE ? 0.5 + u : 0.2 * u - 0.1);
    }
  }
  in->z = scalar_alloc(size, BATCH * info->latent_size);
  ganc_normal_fill(&r, size, BATCH * info->latent_size, in->z);
  in->x = scalar_alloc(size, BATCH * info->obs_size);
  for (int64_t i = 0; i < BATCH * info->obs_size; i++)
    scalar_store(in->x, size, i, 2 * ganc_rng_uniform(&r) - 1);
  for (int i = 0; i < BATCH; i++) {
    in->labels_real[i] = i % info->classes;
    in->labels_fake[i] = (i + 1) % info->classes;
  }
}

static void inputs_write(const Inputs *in, const char *path)
{
  const ganc_info *info = in->info;
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "cannot write %s", path);
  size_t counts[4] = {(size_t)info->param_count, (size_t)info->stats_count, (size_t)(BATCH * info->latent_size),
                      (size_t)(BATCH * info->obs_size)};
  const void *arrays[4] = {in->params, in->stats, in->z, in->x};
  for (int i = 0; i < 4; i++)
    cr_assert_eq(fwrite(arrays[i], (size_t)in->size, counts[i], f), counts[i], "cannot write %s", path);
  cr_assert_eq(fclose(f), 0, "cannot write %s", path);
}

/* ---- The JIT's results for the driver's calls, in its layout ---- */

static ganc_fn fn_of(const char *suffix)
{
  for (int f = 0; f < GANC_NFNS; f++)
    if (!strcmp(ganc_fn_suffix((ganc_fn)f), suffix))
      return (ganc_fn)f;
  cr_assert_fail("the driver printed an unknown function %s", suffix);
  return GANC_NFNS;
}

static int is_bounds(ganc_fn fn)
{
  return fn == GANC_FN_GENERATE_BOUNDS || fn == GANC_FN_SCORE_BOUNDS || fn == GANC_FN_FAKE_SCORE_BOUNDS;
}

/* What the driver's boxes are: the first z and x widened by 1/4 each way. */
static void *box_of(const void *v, int size, int64_t n, double by)
{
  void *b = scalar_alloc(size, n);
  for (int64_t i = 0; i < n; i++)
    scalar_store(b, size, i, scalar_load(v, size, i) + by);
  return b;
}

/* A bounds function as the driver calls it: its lower bounds, then its
   upper ones. */
static double *jit_bounds(const Inputs *in, ganc_fn fn, int label, int64_t *count)
{
  const ganc_info *info = in->info;
  int size = in->size;
  int64_t n = fn == GANC_FN_GENERATE_BOUNDS ? info->obs_size : 1;
  int64_t box = fn == GANC_FN_SCORE_BOUNDS ? info->obs_size : info->latent_size;
  const void *v = fn == GANC_FN_SCORE_BOUNDS ? in->x : in->z;
  void *lo = box_of(v, size, box, -0.25), *hi = box_of(v, size, box, 0.25);
  void *out_lo = scalar_alloc(size, n), *out_hi = scalar_alloc(size, n);
  ganc_args a = {.params = in->params, .stats = in->stats, .x_labels = &label, .z_labels = &label,
                 .box_lo = lo, .box_hi = hi, .out_lo = out_lo, .out_hi = out_hi};
  ganc_call(info, &in->fns, fn, &a);
  double *r = malloc(2 * (size_t)n * sizeof *r);
  cr_assert_not_null(r);
  for (int64_t i = 0; i < n; i++) {
    r[i] = scalar_load(out_lo, size, i);
    r[n + i] = scalar_load(out_hi, size, i);
  }
  *count = 2 * n;
  free(lo);
  free(hi);
  free(out_lo);
  free(out_hi);
  return r;
}

static int is_backward(ganc_fn fn)
{
  return fn == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD || fn == GANC_FN_GENERATOR_LOSS_BACKWARD ||
         fn == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS || fn == GANC_FN_GENERATOR_LOSS_BACKWARD_WS;
}

/* fn as the driver calls it: a single-sample function on the first sample
   with label (the discriminator loss: x's label, z's label + 1 mod N), a
   batch function (label -1) on the batch with labels_real and
   labels_fake. Its values (*count of them) as the driver prints them: the
   output, or the result, or a _backward function's loss, gradient and the
   statistics it leaves. */
static double *jit_values(const Inputs *in, ganc_fn fn, int label, int64_t *count)
{
  if (is_bounds(fn))
    return jit_bounds(in, fn, label, count);
  const ganc_info *info = in->info;
  int size = in->size, N = info->classes;
  int is_d = fn == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD || fn == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS;
  int64_t grads = is_d ? info->d_param_count : info->g_param_count;
  int64_t outs = fn == GANC_FN_GENERATE ? info->obs_size
                 : fn == GANC_FN_GENERATE_BATCH ? BATCH * info->obs_size
                 : fn == GANC_FN_REAL_SCORE_BATCH || fn == GANC_FN_FAKE_SCORE_BATCH ? BATCH
                                                                                      : 0;
  int x_label = label, z_label = fn == GANC_FN_DISCRIMINATOR_LOSS ? (label + 1) % N : label;
  void *out = scalar_alloc(size, outs), *grad = scalar_alloc(size, grads);
  void *stats = scalar_alloc(size, info->stats_count), *workspace = NULL;
  memcpy(stats, in->stats, (size_t)(size * info->stats_count));
  if (fn == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS || fn == GANC_FN_GENERATOR_LOSS_BACKWARD_WS) {
    workspace = malloc((size_t)(size * (BATCH * info->train_workspace_per_n + info->train_workspace_once)));
    cr_assert_not_null(workspace);
  }
  ganc_args a = {.params = in->params, .stats = stats, .n = BATCH, .z = in->z, .x = in->x,
                 .x_labels = label < 0 ? in->labels_real : &x_label,
                 .z_labels = label < 0 ? in->labels_fake : &z_label,
                 .out = out, .grad = grad, .workspace = workspace};
  double r = ganc_call(info, &in->fns, fn, &a);
  double *v;
  if (is_backward(fn)) {
    *count = 1 + grads + info->stats_count;
    v = malloc((size_t)*count * sizeof *v);
    cr_assert_not_null(v);
    v[0] = r;
    for (int64_t i = 0; i < grads; i++)
      v[1 + i] = scalar_load(grad, size, i);
    for (int64_t i = 0; i < info->stats_count; i++)
      v[1 + grads + i] = scalar_load(stats, size, i);
  } else if (outs > 0) {
    *count = outs;
    v = malloc((size_t)outs * sizeof *v);
    cr_assert_not_null(v);
    for (int64_t i = 0; i < outs; i++)
      v[i] = scalar_load(out, size, i);
  } else {
    *count = 1;
    v = malloc(sizeof *v);
    cr_assert_not_null(v);
    v[0] = r;
  }
  free(out);
  free(grad);
  free(stats);
  free(workspace);
  return v;
}

/* ---- The test ---- */

/* Emit gan's model, build the driver with it under the sanitizers, run it,
   compare its results in range with the JIT's. */
static void check_out_of_range(const char *gan)
{
  static char err[8192];
  state.jit = ganc_jit(gan, err, sizeof err, NULL);
  cr_assert_not_null(state.jit, "ganc_jit(%s) failed:\n%s", gan, err);
  Inputs *in = &state.in;
  in->info = ganc_model_info(state.jit, 0);
  const ganc_info *info = in->info;
  cr_assert_gt(info->classes, 1, "%s is not conditional", gan);
  cr_assert_eq(ganc_functions(state.jit, info, &in->fns), 0, "%s: a function is missing", gan);
  inputs_make(in);

  state.dir = tmpdir_make();
  cr_assert_not_null(state.dir);
  char path[600], cmd[4096], *log = NULL;
  snprintf(path, sizeof path, "%s/inputs.bin", state.dir);
  inputs_write(in, path);
  snprintf(cmd, sizeof cmd, "emit %s -o %s", gan, state.dir);
  Run r = run_ganc(cmd, NULL);
  cr_assert_eq(r.status, 0, "ganc %s failed:\n%s", cmd, r.err);
  run_free(&r);

  snprintf(cmd, sizeof cmd,
           "gcc -std=c99 -g -Wall -Wextra -pedantic -Werror -fsanitize=address,undefined "
           "-fno-sanitize-recover=all -fno-omit-frame-pointer -I%s -DMODEL=%s '-DHEADER=\"%s.h\"' -DSTATS=%d "
           "-o %s/driver tests/labels/driver.c %s/%s.c -lm",
           state.dir, info->name, info->name, info->stats_count > 0, state.dir, state.dir, info->name);
  int status = run_shell(cmd, &log);
  cr_assert_eq(status, 0, "%s: building the driver failed:\n%s\n%s", info->name, cmd, log ? log : "");
  free(log);
  log = NULL;

  snprintf(cmd, sizeof cmd, "cd %s && ASAN_OPTIONS=detect_leaks=1 ./driver >results.txt 2>errors.txt",
           state.dir);
  status = run_shell(cmd, NULL);
  snprintf(path, sizeof path, "%s/errors.txt", state.dir);
  char *errors = slurp(path, NULL);
  cr_assert_not_null(errors, "%s: the driver left no errors.txt", info->name);
  cr_expect(status == 0 && errors[0] == '\0', "%s: the driver exited %d:\n%s", info->name, status, errors);
  free(errors);
  if (status != 0)
    return;

  /* Every function in range, each against the JIT. */
  snprintf(path, sizeof path, "%s/results.txt", state.dir);
  state.results = fopen(path, "r");
  cr_assert_not_null(state.results, "%s: no results.txt", info->name);
  double rtol = info->scalar_size == 4 ? 1e-5 : 1e-12, atol = info->scalar_size == 4 ? 1e-6 : 1e-14;
  double worst = 0, largest = 0;
  int lines = 0, seen[GANC_NFNS] = {0}, failures = 0, exact = 1;
  size_t cap = 0;
  while (getline(&state.line, &cap, state.results) > 0) {
    char suffix[64];
    int label, used = 0;
    cr_assert(sscanf(state.line, "%63s %d%n", suffix, &label, &used) == 2, "%s: bad line %s", info->name,
              state.line);
    ganc_fn fn = fn_of(suffix);
    int single = fn <= GANC_FN_GENERATOR_LOSS || is_bounds(fn); /* (grep ORDER FN) */
    cr_assert(single ? label >= 0 && label < info->classes : label == -1, "%s: %s with label %d", info->name,
              suffix, label);
    seen[fn]++;
    lines++;
    int64_t count;
    double *want = jit_values(in, fn, label, &count);
    const char *s = state.line + used;
    for (int64_t i = 0; i < count; i++) {
      char *end;
      double got = strtod(s, &end);
      cr_assert(end != s, "%s: %s (label %d) has %" PRId64 " values, the JIT %" PRId64, info->name, suffix,
                label, i, count);
      s = end;
      double e = fabs(got - want[i]), tol = rtol * fabs(want[i]) + atol;
      exact &= memcmp(&got, &want[i], sizeof got) == 0;
      largest = fmax(largest, e);
      worst = fmax(worst, e / tol);
      if (!(e <= tol) && failures++ < 12)
        cr_expect_fail("%s: %s (label %d) value %" PRId64 ": gcc %.17g, JIT %.17g (tolerance %.3g)", info->name,
                       suffix, label, i, got, want[i], tol);
    }
    cr_expect(strspn(s, " \n") == strlen(s), "%s: %s (label %d) has more values than the JIT's %" PRId64,
              info->name, suffix, label, count);
    free(want);
  }
  cr_expect(failures <= 12, "%s: %d more differences not shown", info->name, failures - 12);
  for (int f = 0; f < GANC_NFNS; f++) {
    int single = f <= GANC_FN_GENERATOR_LOSS || is_bounds((ganc_fn)f);
    int want = !ganc_fn_exists(info, (ganc_fn)f) ? 0 : single ? info->classes : 1;
    cr_expect_eq(seen[f], want, "%s: the driver called %s %d times in range, want %d", info->name,
                 ganc_fn_suffix((ganc_fn)f), seen[f], want);
  }
  cr_log_info("%s: %d calls in range: gcc (sanitized) vs JIT %s, largest difference %.3g, %.3g of the tolerance",
              info->name, lines, exact ? "bit for bit" : "not bit for bit", largest, worst);
}

Test(labels, out_of_range_mlp, .fini = teardown, .timeout = 120)
{
  check_out_of_range("tests/models/label_mlp.gan");
}

Test(labels, out_of_range_conv_batch_norm, .fini = teardown, .timeout = 120)
{
  check_out_of_range("tests/models/label_conv_double.gan");
}

Test(labels, out_of_range_projection_batch_norm, .fini = teardown, .timeout = 120)
{
  check_out_of_range("tests/models/projection_double.gan");
}

Test(labels, out_of_range_projection_in_both_stacks, .fini = teardown, .timeout = 120)
{
  check_out_of_range("tests/models/projection_scalar_double.gan");
}
