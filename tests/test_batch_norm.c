/* test_batch_norm.c — models with batch_norm (docs/DESIGN.md §2 and §4)
 * against a float64 PyTorch reference: inference with the running
 * statistics, one training call of each _backward function, and a training
 * loop with Adam.
 *
 * tests/reference/batch_norm.py writes tests/fixtures/batch_norm/NAME.txt
 * beside NAME.gan (its docstring describes the format): the initial
 * parameters, statistics and inputs, exact in float32, and what PyTorch
 * computes from them. Each fixture runs through the JIT and through emitted
 * C built by gcc, every function called by id with ganc_call; the double
 * models as written, and each model again as `scalar float`. Beyond the
 * reference: the _ws functions give bit for bit what the heap ones give, on
 * a workspace of exactly NAME_TRAIN_WORKSPACE_BYTES(n) bytes whose end they
 * do not pass; for 0 < n < NAME_MIN_BATCH the training functions return NaN
 * and leave the gradient and the statistics alone, for n <= 0 they return 0
 * and leave them alone.
 *
 * Tolerance, |got - want| <= rtol * |want| + atol, for every value:
 *   scalar double: rtol 1e-9, atol 1e-12
 *   scalar float:  rtol 1e-4, atol 1e-5
 * Double stays far below it, its sums differing from PyTorch's in their
 * order only: the largest errors seen are 2e-16 in inference, 2.4e-15 in a
 * gradient and 1.4e-14 after the damped loop (below 1e-3 of the tolerance;
 * each check logs its share). Float carries its rounding (6e-8) through
 * sums that cancel, the batch statistics and five Adam steps, which keep
 * the gradients' relative error: 1.4e-7, 4.9e-7 and 4.4e-6 (at most 0.14
 * of the tolerance).
 *
 * The loops need one allowance more. Some gradient entries are zero in
 * exact arithmetic and rounding in practice (batch_norm.py lists the cases;
 * here: at most NULL_SHARE of the gradient's largest |entry|). Adam moves
 * such a parameter by lr * m / (sqrt(v) + eps), and with |m| at most the
 * largest such |entry| g, by at most lr * g / eps a step: over the loop
 * steps * lr * (g_ganc + g_torch) / eps apart from PyTorch's, g_ganc the
 * largest this build computed, g_torch the fixture's null_gradient. Every
 * value of a loop (losses, parameters, statistics) gets that on top of the
 * tolerance, as a parameter may matter again once its gradient is no longer
 * zero (a relu unit that stops being active for the whole batch). With eps
 * 1e-8 it is 3e-10 to 2e-8 in double, and the errors seen (up to 3.8e-9 in
 * a parameter) stay within 0.35 of tolerance and allowance; in float it
 * would be a few tenths, more than five steps of lr 1e-2 can move a
 * parameter, so the float builds run the damped loop only. With the damped
 * loop's eps 1e-3 it is below 1e-12 in double and about 1e-5 in float.
 * The entries of the fixture's bias_before_norm tensors are checked to be
 * such zeros in every gradient ganc computes: the batch_norm backward takes
 * the mean away as it should.
 *
 * Run from the repository root, with build/ganc and build/libganc.a built. */

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dlfcn.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "ganc.h"
#include "test.h"

#define BN_DIR "tests/fixtures/batch_norm"

enum { MAX_TENSORS = 64, MAX_REPORTS = 12, CANARY_BYTES = 64 };

static const double RTOL_DOUBLE = 1e-9, ATOL_DOUBLE = 1e-12;
static const double RTOL_FLOAT = 1e-4, ATOL_FLOAT = 1e-5;
/* A gradient entry that is zero in exact arithmetic is at most this share
   of the gradient's largest |entry|: batch_norm.py checks that in double
   such entries stay below 1e-12 of it and every other one above 1e-5;
   float's rounding leaves them below 3e-7 of it. */
static const double NULL_SHARE_DOUBLE = 1e-12, NULL_SHARE_FLOAT = 3e-6;

/* ---- Fixtures ---- */

/* The fixture's sections of values, in the order batch_norm.py writes them. */
typedef enum Sec {
  PARAMS, STATS, Z, X,
  GENERATE, REAL_SCORE, FAKE_SCORE, DISCRIMINATOR_LOSS, GENERATOR_LOSS,
  DISCRIMINATOR_LOSS_BATCH, GENERATOR_LOSS_BATCH,
  D_LOSS, D_GRAD, D_STATS, G_LOSS, G_GRAD, G_STATS,
  LOOP_X, LOOP_Z_D, LOOP_Z_G, LOOP_D_LOSS, LOOP_G_LOSS, LOOP_PARAMS, LOOP_STATS,
  DAMPED_D_LOSS, DAMPED_G_LOSS, DAMPED_PARAMS, DAMPED_STATS,
  NSECS
} Sec;

static const char *const sec_name[NSECS] = {
    "params", "stats", "z", "x",
    "generate", "real_score", "fake_score", "discriminator_loss", "generator_loss",
    "discriminator_loss_batch", "generator_loss_batch",
    "d_loss", "d_grad", "d_stats", "g_loss", "g_grad", "g_stats",
    "loop_x", "loop_z_d", "loop_z_g", "loop_d_loss", "loop_g_loss", "loop_params", "loop_stats",
    "damped_d_loss", "damped_g_loss", "damped_params", "damped_stats",
};

/* A tensor as the fixture lists it: a slice of the parameters or of the
   statistics. */
typedef struct Slice {
  char name[64];
  int64_t offset, count;
} Slice;

typedef struct BnFixture {
  char path[256];
  FixtureHeader h; /* batch: samples */
  int64_t g_stats_count;
  int min_batch, steps; /* min_batch: packs */
  ganc_adam adam;    /* the loop's */
  double damped_eps; /* the damped loop's */
  double null_gradient;
  int ntensors, nstat_tensors, nbias;
  Slice tensors[MAX_TENSORS], stat_tensors[MAX_TENSORS];
  int bias_before_norm[MAX_TENSORS]; /* indices into tensors */
  double *v[NSECS];
} BnFixture;

/* The values section s holds. */
static int64_t sec_count(const BnFixture *f, Sec s)
{
  int64_t n = fixture_packs(&f->h), S = f->h.batch, L = f->h.latent_size, O = f->h.obs_size;
  int64_t P = f->h.param_count, G = f->h.g_param_count, T = f->steps;
  switch (s) {
  case PARAMS: case LOOP_PARAMS: case DAMPED_PARAMS: return P;
  case STATS: case D_STATS: case G_STATS: case LOOP_STATS: case DAMPED_STATS: return f->h.stats_count;
  case Z: return S * L;
  case X: case GENERATE: return S * O;
  case REAL_SCORE: case FAKE_SCORE: case DISCRIMINATOR_LOSS: case GENERATOR_LOSS: return n;
  case DISCRIMINATOR_LOSS_BATCH: case GENERATOR_LOSS_BATCH: case D_LOSS: case G_LOSS: return 1;
  case D_GRAD: return P - G;
  case G_GRAD: return G;
  case LOOP_X: return T * S * O;
  case LOOP_Z_D: case LOOP_Z_G: return T * S * L;
  case LOOP_D_LOSS: case LOOP_G_LOSS: case DAMPED_D_LOSS: case DAMPED_G_LOSS: return T;
  default: return 0;
  }
}

static void read_slices(Slice *t, int count, FixtureReader *r)
{
  cr_assert(count <= MAX_TENSORS, "%s: too many tensors", r->path);
  int64_t offset = 0;
  for (int i = 0; i < count; i++) {
    const char *s = fixture_read_line(r);
    cr_assert(sscanf(s, "%63s %" SCNd64 " %" SCNd64, t[i].name, &t[i].offset, &t[i].count) == 3 &&
                  t[i].offset == offset && t[i].count > 0,
              "%s: bad or misplaced tensor line: %s", r->path, s);
    offset += t[i].count;
  }
}

/* Each line names a parameter tensor. */
static void read_bias_before_norm(BnFixture *f, int count, FixtureReader *r)
{
  cr_assert(count <= MAX_TENSORS && f->ntensors > 0, "%s: bias_before_norm out of place", f->path);
  for (int i = 0; i < count; i++) {
    char name[64];
    const char *s = fixture_read_line(r);
    int t = 0;
    cr_assert(sscanf(s, "%63s", name) == 1, "%s: bad line: %s", f->path, s);
    while (t < f->ntensors && strcmp(f->tensors[t].name, name))
      t++;
    cr_assert(t < f->ntensors, "%s: bias_before_norm names no tensor: %s", f->path, name);
    f->bias_before_norm[i] = t;
  }
  f->nbias = count;
}

static int header_key(BnFixture *f, const char *key, const char *value)
{
  const char *path = f->path;
  if (fixture_header_key(&f->h, key, value, path))
    return 1;
  if (!strcmp(key, "g_stats_count"))
    f->g_stats_count = strtoll(value, NULL, 10);
  else if (!strcmp(key, "min_batch"))
    f->min_batch = atoi(value);
  else if (!strcmp(key, "steps"))
    f->steps = atoi(value);
  else if (!strcmp(key, "lr"))
    f->adam.lr = fixture_parse_double(value, path);
  else if (!strcmp(key, "beta1"))
    f->adam.beta1 = fixture_parse_double(value, path);
  else if (!strcmp(key, "beta2"))
    f->adam.beta2 = fixture_parse_double(value, path);
  else if (!strcmp(key, "adam_eps"))
    f->adam.eps = fixture_parse_double(value, path);
  else if (!strcmp(key, "damped_eps"))
    f->damped_eps = fixture_parse_double(value, path);
  else if (!strcmp(key, "null_gradient"))
    f->null_gradient = fixture_parse_double(value, path);
  else
    return 0;
  return 1;
}

static void fixture_load(BnFixture *f, const char *name)
{
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, BN_DIR "/%s.txt", name);
  const char *path = f->path;
  FixtureReader r;
  fixture_open(&r, path);
  int next = 0, kind, count; /* next: the values section expected next */
  char key[64], value[256];
  while ((kind = fixture_next(&r, key, value, &count))) {
    if (kind == 2) {
      cr_assert(header_key(f, key, value), "%s: unknown key %s", path, key);
      continue;
    }
    cr_assert(f->h.batch > 0 && f->steps > 0 && f->h.stats_count > 0, "%s: section %s before the header", path, key);
    if (!strcmp(key, "tensors")) {
      read_slices(f->tensors, count, &r);
      f->ntensors = count;
    } else if (!strcmp(key, "stat_tensors")) {
      read_slices(f->stat_tensors, count, &r);
      f->nstat_tensors = count;
    } else if (!strcmp(key, "bias_before_norm")) {
      read_bias_before_norm(f, count, &r);
    } else {
      cr_assert(next < NSECS && !strcmp(key, sec_name[next]), "%s: section %s, expected %s", path, key,
                next < NSECS ? sec_name[next] : "none");
      f->v[next] = fixture_read_values(&r, count, sec_count(f, (Sec)next), key);
      next++;
    }
  }
  cr_assert_str_eq(f->h.model, name, "%s: names model %s", path, f->h.model);
  cr_assert_eq(next, NSECS, "%s: missing sections from %s on", path, next < NSECS ? sec_name[next] : "");
  cr_assert(f->h.scalar_size == 8 && f->min_batch > 0 && f->adam.lr > 0 && f->adam.eps > 0 && f->damped_eps > 0,
            "%s: incomplete header", path);
  const Slice *last = &f->tensors[f->ntensors - 1], *slast = &f->stat_tensors[f->nstat_tensors - 1];
  cr_assert(last->offset + last->count == f->h.param_count && slast->offset + slast->count == f->h.stats_count,
            "%s: the tensors do not cover the parameters and statistics", path);
}

static void fixture_free(BnFixture *f)
{
  for (int s = 0; s < NSECS; s++)
    free(f->v[s]);
  memset(f, 0, sizeof *f);
}

/* ---- Builds: a model's functions through the JIT or gcc ---- */

typedef struct Build {
  const ganc_info *info; /* from the JIT, for either build: the model's description */
  ganc_fns fns;
  size_t (*workspace_bytes)(int n); /* NAME_TRAIN_WORKSPACE_BYTES */
  const char *how;
} Build;

static double call(const Build *b, ganc_fn fn, ganc_args a)
{
  return ganc_call(b->info, &b->fns, fn, &a);
}

/* One test's state, released by teardown even when an assertion stops it. */
static struct {
  BnFixture f;
  ganc_model *jit;
  Aot *aot;
  char *probe_dir;
  void *probe;
  char *source;
} state;

static void teardown(void)
{
  aot_free(state.aot);
  if (state.probe)
    dlclose(state.probe);
  tmpdir_remove(state.probe_dir);
  if (state.jit)
    ganc_free(state.jit);
  free(state.source);
  fixture_free(&state.f);
  memset(&state, 0, sizeof state);
}

/* The source of the fixture's model with `scalar double` made `scalar
   float`, in the scratch folder. */
static const char *float_copy(const BnFixture *f)
{
  size_t len;
  state.source = slurp(f->h.file, &len);
  cr_assert_not_null(state.source, "cannot read %s", f->h.file);
  char *p = strstr(state.source, "scalar double");
  cr_assert(p && !strstr(p + 1, "scalar double"), "%s: expected one `scalar double`", f->h.file);
  memcpy(p, "scalar  float", 13);
  const char *path = scratch_path("float.gan");
  FILE *fp = fopen(path, "w");
  cr_assert(fp && fwrite(state.source, 1, len, fp) == len && fclose(fp) == 0, "cannot write %s", path);
  return path;
}

/* NAME_TRAIN_WORKSPACE_BYTES is a macro of the emitted header only (a
   ganc_info does not say it), so a function of a library of its own
   evaluates it. */
static void probe_workspace(Build *b, const char *file)
{
  const char *name = b->info->name;
  state.probe_dir = tmpdir_make();
  cr_assert_not_null(state.probe_dir);
  char args[1024], cmd[2048], path[600];
  snprintf(args, sizeof args, "emit '%s' -o '%s'", file, state.probe_dir);
  Run r = run_ganc(args, NULL);
  cr_assert_eq(r.status, 0, "ganc %s failed:\n%s", args, r.err);
  run_free(&r);
  snprintf(path, sizeof path, "%s/probe.c", state.probe_dir);
  FILE *fp = fopen(path, "w");
  cr_assert_not_null(fp);
  fprintf(fp, "#include \"%s.h\"\nsize_t workspace_bytes(int n) { return %s_TRAIN_WORKSPACE_BYTES(n); }\n", name,
          name);
  cr_assert_eq(fclose(fp), 0);
  snprintf(cmd, sizeof cmd, "gcc -std=c99 -shared -fPIC -o '%s/probe.so' '%s'", state.probe_dir, path);
  char *log = NULL;
  int status = run_shell(cmd, &log);
  cr_assert_eq(status, 0, "%s failed:\n%s", cmd, log ? log : "");
  free(log);
  snprintf(path, sizeof path, "%s/probe.so", state.probe_dir);
  state.probe = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  cr_assert_not_null(state.probe, "dlopen: %s", dlerror());
  *(void **)&b->workspace_bytes = dlsym(state.probe, "workspace_bytes");
  cr_assert_not_null(b->workspace_bytes);
}

/* The compiled model's layout against the fixture's. */
static void check_info(const BnFixture *f, const ganc_info *info, int size)
{
  const char *m = f->h.model;
  cr_assert_str_eq(info->loss, f->h.loss, "%s: loss %s, the fixture's %s", m, info->loss, f->h.loss);
  cr_assert(info->scalar_size == size && info->pack == fixture_pack(&f->h) &&
                info->latent_size == f->h.latent_size && info->obs_size == f->h.obs_size &&
                info->param_count == f->h.param_count && info->g_param_count == f->h.g_param_count &&
                info->stats_count == f->h.stats_count && info->g_stats_count == f->g_stats_count &&
                info->ntensors == f->ntensors && info->nstats == f->nstat_tensors,
            "%s: the compiled model's sizes differ from %s", m, f->path);
  cr_assert_eq(info->min_train_batch, f->min_batch * fixture_pack(&f->h),
               "%s: trains on %d samples at the least, PyTorch on %d", m, info->min_train_batch,
               f->min_batch * fixture_pack(&f->h));
  for (int k = 0; k < 2; k++) {
    const ganc_tensor *got = k ? info->stats : info->tensors;
    const Slice *want = k ? f->stat_tensors : f->tensors;
    for (int i = 0; i < (k ? f->nstat_tensors : f->ntensors); i++)
      cr_assert(!strcmp(got[i].name, want[i].name) && got[i].offset == want[i].offset &&
                    got[i].count == want[i].count,
                "%s: tensor %d is %s at %" PRId64 " (%" PRId64 "), the fixture's %s at %" PRId64 " (%" PRId64 ")", m,
                i, got[i].name, got[i].offset, got[i].count, want[i].name, want[i].offset, want[i].count);
  }
}

/* The fixture's model (or its float copy) through the JIT or gcc. */
static Build open_build(const BnFixture *f, int size, int aot)
{
  static char err[16384];
  Build b = {.how = aot ? (size == 4 ? "gcc, float" : "gcc") : (size == 4 ? "JIT, float" : "JIT")};
  const char *file = size == 4 ? float_copy(f) : f->h.file;
  state.jit = ganc_jit(file, err, sizeof err, NULL);
  cr_assert_not_null(state.jit, "%s: ganc_jit failed:\n%s", file, err);
  b.info = ganc_find_model(state.jit, f->h.model);
  cr_assert_not_null(b.info, "%s: no model %s", file, f->h.model);
  check_info(f, b.info, size);
  if (!aot) {
    cr_assert_eq(ganc_functions(state.jit, b.info, &b.fns), 0, "%s: ganc_functions failed", f->h.model);
  } else {
    state.aot = aot_build(file, "gcc", err, sizeof err);
    cr_assert_not_null(state.aot, "%s: %s", f->h.model, err);
    const char *missing = model_fns(NULL, state.aot, b.info, &b.fns);
    cr_assert_null(missing, "%s: no symbol %s_%s", b.how, f->h.model, missing);
  }
  probe_workspace(&b, file);
  return b;
}

/* ---- Scalars in the model's type ---- */

static void fill(void *buf, int size, int64_t n, double v)
{
  for (int64_t i = 0; i < n; i++)
    scalar_store(buf, size, i, v);
}

static void *offset(void *buf, int size, int64_t k)
{
  return (char *)buf + (size_t)(k * size);
}

/* ---- Comparison ---- */

typedef struct Cmp {
  const BnFixture *f;
  const char *how;
  double rtol, atol;
  int failures;
  double worst; /* the largest |got - want| / tolerance */
  const char *worst_what;
  double worst_err, worst_want; /* its |got - want| and want */
} Cmp;

static Cmp cmp_make(const BnFixture *f, const Build *b)
{
  int is_float = b->info->scalar_size == 4;
  return (Cmp){f, b->how, is_float ? RTOL_FLOAT : RTOL_DOUBLE, is_float ? ATOL_FLOAT : ATOL_DOUBLE, 0, 0, "", 0, 0};
}

/* One value within the tolerance plus extra. A NaN never passes. */
static void cmp_one(Cmp *c, const char *what, int64_t k, double got, double want, double extra)
{
  double tol = c->rtol * fabs(want) + c->atol + extra, err = fabs(got - want);
  if (err / tol > c->worst || isnan(err)) {
    c->worst = isnan(err) ? INFINITY : err / tol;
    c->worst_what = what;
    c->worst_err = err;
    c->worst_want = want;
  }
  if (!(err <= tol) && c->failures++ < MAX_REPORTS)
    cr_expect_fail("%s: %s: %s[%" PRId64 "]: got %.17g, want %.17g (tolerance %.3g)", c->f->h.model, c->how, what,
                   k, got, want, tol);
}

/* n scalars of the model's type against a section's values from want. */
static void cmp_values(Cmp *c, const char *what, const void *got, int size, const double *want, int64_t n)
{
  for (int64_t k = 0; k < n; k++)
    cmp_one(c, what, k, scalar_load(got, size, k), want[k], 0);
}

static void cmp_finish(Cmp *c, const char *what)
{
  if (c->failures > MAX_REPORTS)
    cr_expect_fail("%s: %s: %d more mismatches not shown", c->f->h.model, c->how, c->failures - MAX_REPORTS);
  cr_log_info("%s: %s: %s: largest error %.3g of the tolerance (%s: %.3g, of %.3g)", c->f->h.model, c->how, what,
              c->worst, c->worst_what, c->worst_err, c->worst_want);
}

/* ---- (i) inference, with the running statistics ---- */

static void check_inference(const BnFixture *f, const Build *b)
{
  int size = b->info->scalar_size, pack = fixture_pack(&f->h), n = fixture_packs(&f->h);
  int64_t L = f->h.latent_size, O = f->h.obs_size, S = f->h.batch;
  void *params = scalars_from(size, f->v[PARAMS], f->h.param_count);
  void *stats = scalars_from(size, f->v[STATS], f->h.stats_count);
  void *z = scalars_from(size, f->v[Z], S * L), *x = scalars_from(size, f->v[X], S * O);
  void *out = scalar_alloc(size, S * O), *scores = scalar_alloc(size, n);
  void *one = scalar_alloc(size, n);
  Cmp c = cmp_make(f, b);
  ganc_args a = {.params = params, .stats = stats};

  for (int64_t i = 0; i < S; i++) {
    a.z = offset(z, size, i * L);
    a.out = offset(out, size, i * O);
    call(b, GANC_FN_GENERATE, a);
  }
  cmp_values(&c, "generate", out, size, f->v[GENERATE], S * O);
  fill(out, size, S * O, NAN);
  call(b, GANC_FN_GENERATE_BATCH, (ganc_args){.params = params, .stats = stats, .n = (int)S, .z = z, .out = out});
  cmp_values(&c, "generate_batch", out, size, f->v[GENERATE], S * O);

  /* Each score and per-pack loss from its single-pack function, then the
     score batches and the batch losses. */
  static const ganc_fn single[] = {GANC_FN_REAL_SCORE, GANC_FN_FAKE_SCORE, GANC_FN_DISCRIMINATOR_LOSS,
                                   GANC_FN_GENERATOR_LOSS};
  static const Sec single_want[] = {REAL_SCORE, FAKE_SCORE, DISCRIMINATOR_LOSS, GENERATOR_LOSS};
  for (int s = 0; s < 4; s++) {
    for (int i = 0; i < n; i++) {
      a.x = offset(x, size, (int64_t)i * pack * O);
      a.z = offset(z, size, (int64_t)i * pack * L);
      scalar_store(one, size, i, call(b, single[s], a));
    }
    cmp_values(&c, ganc_fn_suffix(single[s]), one, size, f->v[single_want[s]], n);
  }
  a = (ganc_args){.params = params, .stats = stats, .n = n, .x = x, .z = z, .out = scores};
  fill(scores, size, n, NAN);
  call(b, GANC_FN_REAL_SCORE_BATCH, a);
  cmp_values(&c, "real_score_batch", scores, size, f->v[REAL_SCORE], n);
  fill(scores, size, n, NAN);
  call(b, GANC_FN_FAKE_SCORE_BATCH, a);
  cmp_values(&c, "fake_score_batch", scores, size, f->v[FAKE_SCORE], n);
  cmp_one(&c, "discriminator_loss_batch", 0, call(b, GANC_FN_DISCRIMINATOR_LOSS_BATCH, a),
          f->v[DISCRIMINATOR_LOSS_BATCH][0], 0);
  cmp_one(&c, "generator_loss_batch", 0, call(b, GANC_FN_GENERATOR_LOSS_BATCH, a), f->v[GENERATOR_LOSS_BATCH][0],
          0);
  cmp_finish(&c, "inference");
  /* Inference reads the statistics and writes none of them. */
  void *stats0 = scalars_from(size, f->v[STATS], f->h.stats_count);
  cr_expect(memcmp(stats, stats0, (size_t)(f->h.stats_count * size)) == 0, "%s: %s: inference changed the statistics",
            f->h.model, b->how);
  free(stats0);
  free(params);
  free(stats);
  free(z);
  free(x);
  free(out);
  free(scores);
  free(one);
}

/* ---- (ii) one training call of each kind ---- */

/* A training call's arguments and results: the gradient (of D's or G's
   parameters) and the statistics it moves, in buffers of their own. */
typedef struct TrainCall {
  int d;          /* discriminator_loss_backward, or generator_loss_backward */
  int64_t ngrad;  /* D_PARAM_COUNT or G_PARAM_COUNT */
  void *grad, *stats;
  double loss;
} TrainCall;

static TrainCall train_call(const BnFixture *f, const Build *b, int d)
{
  int size = b->info->scalar_size;
  TrainCall t = {.d = d, .ngrad = d ? f->h.param_count - f->h.g_param_count : f->h.g_param_count};
  t.grad = scalar_alloc(size, t.ngrad);
  t.stats = scalar_alloc(size, f->h.stats_count);
  return t;
}

static void train_call_free(TrainCall *t)
{
  free(t->grad);
  free(t->stats);
}

/* t's function: the heap variant, or the _ws one. */
static ganc_fn train_fn(const TrainCall *t, int with_ws)
{
  if (t->d)
    return with_ws ? GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS : GANC_FN_DISCRIMINATOR_LOSS_BACKWARD;
  return with_ws ? GANC_FN_GENERATOR_LOSS_BACKWARD_WS : GANC_FN_GENERATOR_LOSS_BACKWARD;
}

/* Run t's function on n packs from stats0, every entry of the gradient
   first set to grad0 (NaN, so that an entry left unwritten shows); through
   the heap variant when workspace is NULL, else through the _ws one. */
static void train_run(const Build *b, TrainCall *t, const void *params, const void *stats0, int n, const void *x,
                      const void *z, void *workspace, double grad0)
{
  int size = b->info->scalar_size;
  memcpy(t->stats, stats0, (size_t)(b->info->stats_count * size));
  fill(t->grad, size, t->ngrad, grad0);
  t->loss = call(b, train_fn(t, workspace != NULL), (ganc_args){.params = params, .stats = t->stats, .n = n, .x = x,
                                                                .z = z, .grad = t->grad, .workspace = workspace});
}

/* The largest |entry| of a gradient of n scalars. */
static double largest(const void *grad, int size, int64_t n)
{
  double most = 0;
  for (int64_t k = 0; k < n; k++)
    most = fmax(most, fabs(scalar_load(grad, size, k)));
  return most;
}

/* The largest |entry| of a gradient (of the parameters from base on) that
   is zero in exact arithmetic, after checking that the bias_before_norm
   entries are such zeros. */
static double null_entries(const BnFixture *f, const Build *b, const TrainCall *t, int64_t base)
{
  int size = b->info->scalar_size;
  double bound = (size == 4 ? NULL_SHARE_FLOAT : NULL_SHARE_DOUBLE) * largest(t->grad, size, t->ngrad), most = 0;
  for (int64_t k = 0; k < t->ngrad; k++) {
    double g = fabs(scalar_load(t->grad, size, k));
    if (g <= bound)
      most = fmax(most, g);
  }
  for (int i = 0; i < f->nbias; i++) {
    const Slice *s = &f->tensors[f->bias_before_norm[i]];
    for (int64_t k = s->offset - base; k >= 0 && k < t->ngrad && k < s->offset - base + s->count; k++) {
      double g = fabs(scalar_load(t->grad, size, k));
      cr_expect(g <= bound, "%s: %s: the gradient of %s[%" PRId64 "] is %.3g, not zero but for rounding (%.3g)",
                f->h.model, b->how, s->name, k - (s->offset - base), g, bound);
    }
  }
  return most;
}

static void check_train_calls(const BnFixture *f, const Build *b)
{
  int size = b->info->scalar_size, n = fixture_packs(&f->h);
  int64_t S = f->h.batch, gpc = f->h.g_param_count;
  void *params = scalars_from(size, f->v[PARAMS], f->h.param_count);
  void *stats = scalars_from(size, f->v[STATS], f->h.stats_count);
  void *z = scalars_from(size, f->v[Z], S * f->h.latent_size), *x = scalars_from(size, f->v[X], S * f->h.obs_size);
  size_t bytes = b->workspace_bytes(n);
  unsigned char *ws = malloc(bytes + CANARY_BYTES);
  cr_assert_not_null(ws);
  Cmp c = cmp_make(f, b);
  for (int d = 1; d >= 0; d--) {
    TrainCall heap = train_call(f, b, d), with_ws = train_call(f, b, d);
    const char *what = d ? "discriminator_loss_backward" : "generator_loss_backward";
    train_run(b, &heap, params, stats, n, x, z, NULL, NAN);
    cmp_one(&c, d ? "d_loss" : "g_loss", 0, heap.loss, f->v[d ? D_LOSS : G_LOSS][0], 0);
    cmp_values(&c, d ? "d_grad" : "g_grad", heap.grad, size, f->v[d ? D_GRAD : G_GRAD], heap.ngrad);
    cmp_values(&c, d ? "d_stats" : "g_stats", heap.stats, size, f->v[d ? D_STATS : G_STATS], f->h.stats_count);
    null_entries(f, b, &heap, d ? gpc : 0);

    /* The caller's workspace, of the size the header states: the same
       results bit for bit, and the bytes after it untouched. */
    memset(ws, 0xA5, bytes + CANARY_BYTES);
    train_run(b, &with_ws, params, stats, n, x, z, ws, NAN);
    cr_expect(memcmp(&heap.loss, &with_ws.loss, sizeof heap.loss) == 0, "%s: %s: %s_ws returns %.17g, not %.17g",
              f->h.model, b->how, what, with_ws.loss, heap.loss);
    cr_expect(memcmp(heap.grad, with_ws.grad, (size_t)(heap.ngrad * size)) == 0,
              "%s: %s: %s_ws: another gradient", f->h.model, b->how, what);
    cr_expect(memcmp(heap.stats, with_ws.stats, (size_t)(f->h.stats_count * size)) == 0,
              "%s: %s: %s_ws: other statistics", f->h.model, b->how, what);
    size_t k = 0;
    while (k < CANARY_BYTES && ws[bytes + k] == 0xA5)
      k++;
    cr_expect_eq(k, CANARY_BYTES, "%s: %s: %s_ws wrote byte %zu past its workspace of %zu", f->h.model, b->how, what,
                 k, bytes);
    train_call_free(&heap);
    train_call_free(&with_ws);
  }
  cmp_finish(&c, "one training call");
  free(ws);
  free(params);
  free(stats);
  free(z);
  free(x);
}

/* ---- Batches too small to train on, and empty ones ---- */

static void check_small_batches(const BnFixture *f, const Build *b)
{
  int size = b->info->scalar_size, minb = b->info->min_train_batch / b->info->pack;
  int64_t S = f->h.batch;
  void *params = scalars_from(size, f->v[PARAMS], f->h.param_count);
  void *z = scalars_from(size, f->v[Z], S * f->h.latent_size), *x = scalars_from(size, f->v[X], S * f->h.obs_size);
  void *sentinel = scalar_alloc(size, f->h.stats_count);
  fill(sentinel, size, f->h.stats_count, 42);
  void *ws = malloc(b->workspace_bytes(minb));
  cr_assert_not_null(ws);
  for (int n = -1; n < minb; n++) {
    for (int k = 0; k < 4; k++) {
      int with_ws = k / 2;
      TrainCall t = train_call(f, b, k % 2);
      const char *name = ganc_fn_suffix(train_fn(&t, with_ws));
      train_run(b, &t, params, sentinel, n, x, z, with_ws ? ws : NULL, 42);
      if (n <= 0)
        cr_expect(t.loss == 0, "%s: %s: %s(n = %d) = %.17g, want 0", f->h.model, b->how, name, n, t.loss);
      else
        cr_expect(isnan(t.loss), "%s: %s: %s(n = %d) = %.17g, want NaN (MIN_BATCH %d)", f->h.model, b->how, name, n,
                  t.loss, minb);
      int64_t j = 0;
      while (j < t.ngrad && scalar_load(t.grad, size, j) == 42)
        j++;
      cr_expect_eq(j, t.ngrad, "%s: %s: %s(n = %d) wrote grad[%" PRId64 "]", f->h.model, b->how, name, n, j);
      cr_expect(memcmp(t.stats, sentinel, (size_t)(f->h.stats_count * size)) == 0,
                "%s: %s: %s(n = %d) changed the statistics", f->h.model, b->how, name, n);
      train_call_free(&t);
    }
  }
  free(ws);
  free(sentinel);
  free(params);
  free(z);
  free(x);
}

/* ---- (iii) the training loops ---- */

/* The loop whose results start at section first (its d losses, g losses,
   parameters and statistics follow in that order), with Adam's eps. */
static void check_loop(const BnFixture *f, const Build *b, Sec first, double eps, const char *what)
{
  int size = b->info->scalar_size, n = fixture_packs(&f->h);
  int64_t S = f->h.batch, L = f->h.latent_size, O = f->h.obs_size;
  int64_t P = f->h.param_count, gpc = f->h.g_param_count, dpc = P - gpc;
  ganc_adam adam = f->adam;
  adam.eps = eps;
  void *params = scalars_from(size, f->v[PARAMS], P), *stats = scalars_from(size, f->v[STATS], f->h.stats_count);
  void *x = scalars_from(size, f->v[LOOP_X], f->steps * S * O);
  void *zd = scalars_from(size, f->v[LOOP_Z_D], f->steps * S * L);
  void *zg = scalars_from(size, f->v[LOOP_Z_G], f->steps * S * L);
  void *m = scalar_alloc(size, P), *v = scalar_alloc(size, P);
  double *losses = malloc(2 * (size_t)f->steps * sizeof *losses), null_most = 0;
  cr_assert_not_null(losses);
  TrainCall dc = train_call(f, b, 1), gc = train_call(f, b, 0);
  for (int t = 0; t < f->steps; t++) {
    train_run(b, &dc, params, stats, n, offset(x, size, t * S * O), offset(zd, size, t * S * L), NULL, NAN);
    memcpy(stats, dc.stats, (size_t)(f->h.stats_count * size));
    ganc_adam_step(&adam, size, t + 1, dpc, offset(params, size, gpc), dc.grad, offset(m, size, gpc),
                   offset(v, size, gpc));
    train_run(b, &gc, params, stats, n, NULL, offset(zg, size, t * S * L), NULL, NAN);
    memcpy(stats, gc.stats, (size_t)(f->h.stats_count * size));
    ganc_adam_step(&adam, size, t + 1, gpc, params, gc.grad, m, v);
    losses[t] = dc.loss;
    losses[f->steps + t] = gc.loss;
    null_most = fmax(null_most, fmax(null_entries(f, b, &dc, gpc), null_entries(f, b, &gc, 0)));
  }

  /* The file comment's allowance for what Adam makes of rounding. */
  double extra = f->steps * adam.lr * (null_most + f->null_gradient) / eps;
  Cmp c = cmp_make(f, b);
  for (int t = 0; t < 2 * f->steps; t++)
    cmp_one(&c, sec_name[first + t / f->steps], t % f->steps, losses[t], f->v[first + t / f->steps][t % f->steps],
            extra);
  for (int64_t k = 0; k < P; k++)
    cmp_one(&c, sec_name[first + 2], k, scalar_load(params, size, k), f->v[first + 2][k], extra);
  for (int64_t k = 0; k < f->h.stats_count; k++)
    cmp_one(&c, sec_name[first + 3], k, scalar_load(stats, size, k), f->v[first + 3][k], extra);
  cr_log_info("%s: %s: %s: allowance %.3g (the largest zero gradient entry %.3g here, %.3g in PyTorch)", f->h.model,
              b->how, what, extra, null_most, f->null_gradient);
  cmp_finish(&c, what);
  train_call_free(&dc);
  train_call_free(&gc);
  free(losses);
  free(params);
  free(stats);
  free(x);
  free(zd);
  free(zg);
  free(m);
  free(v);
}

/* ---- Tests ---- */

static void check_all(const char *name, int size, int aot)
{
  fixture_load(&state.f, name);
  Build b = open_build(&state.f, size, aot);
  check_inference(&state.f, &b);
  check_train_calls(&state.f, &b);
  check_small_batches(&state.f, &b);
  if (size == 8) /* the file comment says why not in float */
    check_loop(&state.f, &b, LOOP_D_LOSS, state.f.adam.eps, "loop");
  check_loop(&state.f, &b, DAMPED_D_LOSS, state.f.damped_eps, "damped loop");
}

ParameterizedTestParameters(batch_norm, jit) { return fixture_names_in(BN_DIR, NULL, 0); }
ParameterizedTestParameters(batch_norm, aot) { return fixture_names_in(BN_DIR, NULL, 0); }
ParameterizedTestParameters(batch_norm, float_jit) { return fixture_names_in(BN_DIR, NULL, 0); }
ParameterizedTestParameters(batch_norm, float_aot) { return fixture_names_in(BN_DIR, NULL, 0); }

ParameterizedTest(FixtureName *fx, batch_norm, jit, .fini = teardown) { check_all(fx->name, 8, 0); }
ParameterizedTest(FixtureName *fx, batch_norm, aot, .fini = teardown) { check_all(fx->name, 8, 1); }

static void float_teardown(void)
{
  teardown();
  scratch_close();
}

/* The same models in float, from the same float64 reference. */
ParameterizedTest(FixtureName *fx, batch_norm, float_jit, .init = scratch_open, .fini = float_teardown)
{
  check_all(fx->name, 4, 0);
}

ParameterizedTest(FixtureName *fx, batch_norm, float_aot, .init = scratch_open, .fini = float_teardown)
{
  check_all(fx->name, 4, 1);
}

/* Every model in the folder has its fixture, and every fixture its model. */
Test(batch_norm, every_model_has_a_fixture)
{
  char **gans = list_files(BN_DIR, ".gan"), **txts = list_files(BN_DIR, ".txt");
  int n = 0;
  for (; gans[n] && txts[n]; n++) {
    size_t len = strlen(gans[n]) - strlen(".gan");
    cr_expect(!strncmp(gans[n], txts[n], len) && !strcmp(txts[n] + len, ".txt"), "%s and %s do not pair up",
              gans[n], txts[n]);
  }
  cr_expect(!gans[n] && !txts[n], "%s has no pair", gans[n] ? gans[n] : txts[n]);
  cr_expect_geq(n, 4, "only %d batch_norm fixtures", n);
  paths_free(gans);
  paths_free(txts);
}
