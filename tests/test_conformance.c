/* test_conformance.c — compiled models against a float64 PyTorch reference.
 *
 * tests/reference/forward.py writes one fixture per model to
 * tests/fixtures/forward/NAME.txt (its docstring describes the format). The
 * parameters and inputs are not stored: the script and this file derive them
 * from the same formula (splitmix64, fixture.c), exact in float32, so float and
 * double models see the same numbers (inputs times the fixture's input_scale,
 * a power of two); so are the running statistics of a model with batch_norm,
 * which every function here (all of them inference, PyTorch's eval() mode)
 * reads, and so are a conditional model's labels, which the fixture also
 * lists (checked against the formula as it is read): each sample's x with
 * its label of labels_real, its z with its label of labels_fake, as the
 * reference passes them. Every model is run through the JIT (ganc_jit) and
 * through emitted C (`build/ganc emit`, cc, dlopen), each function called
 * through ganc_call; each is compared with the reference, its batch
 * functions with its single-sample ones, and the two paths with each other.
 *
 * Tolerance (docs/DESIGN.md §4), |got - want| <= rtol * |want| + atol:
 *   scalar float:  rtol 1e-5,  atol 1e-6
 *   scalar double: rtol 1e-12, atol 1e-14
 * `want` is the reference, the single-sample result when checking a batch
 * function, and the JIT result when checking AOT against JIT. Each
 * comparison logs its largest absolute and relative error and its largest
 * share of the tolerance (--verbose shows them).
 *
 * Run from the repository root, with build/ganc and build/libganc.a built. */

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <glob.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "ganc.h"
#include "test.h"

#define FIXTURE_DIR "tests/fixtures/forward"

enum { MAX_TENSORS = 64, MAX_CHECKS = 16, MAX_REPORTS = 12 };

/* ---- Fixtures ---- */

/* Sampled values the script wrote, to check the formula bit for bit. */
typedef struct Check {
  int n;
  int64_t k[MAX_CHECKS];
  double v[MAX_CHECKS];
} Check;

/* What a model computes for one batch, widened to double. The first five
   come from the single-sample functions, the rest from the batch ones; a
   fixture fills the single-sample fields and the two batch losses. */
typedef struct Results {
  double *generate, *real_score, *fake_score;
  double *discriminator_loss, *generator_loss;
  double *generate_batch, *real_score_batch, *fake_score_batch;
  double discriminator_loss_batch, generator_loss_batch;
} Results;

typedef struct Fixture {
  char path[256];
  FixtureHeader h;
  int labels; /* the labels sections read: FIXTURE_LABELS_BOTH for a conditional model */
  int ntensors, nstats;
  Tensor tensors[MAX_TENSORS], stats[MAX_TENSORS];
  Check params_check, stats_check, z_check, x_check;
  Results want;
} Fixture;

static void read_check(Check *c, int count, FixtureReader *r) {
  cr_assert(count <= MAX_CHECKS, "%s: too many check values", r->path);
  c->n = count;
  for (int i = 0; i < count; i++) {
    char *s = fixture_read_line(r), *end;
    c->k[i] = strtoll(s, &end, 10);
    c->v[i] = fixture_parse_double(end + 1, r->path);
  }
}

static void fixture_load(Fixture *f, const char *name) {
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, FIXTURE_DIR "/%s.txt", name);
  const char *path = f->path;
  FixtureReader r;
  fixture_open(&r, path);
  Results *w = &f->want;
  int kind, count, which;
  char key[64], value[256];
  while ((kind = fixture_next(&r, key, value, &count))) {
    if (kind == 1) {
      int64_t B = f->h.batch;
      cr_assert(B > 0 && f->h.obs_size > 0, "%s: section %s before the header", path, key);
      if (!strcmp(key, "tensors")) {
        fixture_read_tensors(f->tensors, MAX_TENSORS, count, 1, &r);
        f->ntensors = count;
      } else if (!strcmp(key, "stats_tensors")) {
        fixture_read_tensors(f->stats, MAX_TENSORS, count, 0, &r);
        f->nstats = count;
      } else if (!strcmp(key, "params_check")) {
        read_check(&f->params_check, count, &r);
      } else if (!strcmp(key, "stats_check")) {
        read_check(&f->stats_check, count, &r);
      } else if (!strcmp(key, "z_check")) {
        read_check(&f->z_check, count, &r);
      } else if (!strcmp(key, "x_check")) {
        read_check(&f->x_check, count, &r);
      } else if (!strcmp(key, "generate")) {
        w->generate = fixture_read_values(&r, count, B * f->h.obs_size, key);
      } else if (!strcmp(key, "real_score")) {
        w->real_score = fixture_read_values(&r, count, fixture_packs(&f->h), key);
      } else if (!strcmp(key, "fake_score")) {
        w->fake_score = fixture_read_values(&r, count, fixture_packs(&f->h), key);
      } else if (!strcmp(key, "discriminator_loss")) {
        w->discriminator_loss = fixture_read_values(&r, count, fixture_packs(&f->h), key);
      } else if (!strcmp(key, "generator_loss")) {
        w->generator_loss = fixture_read_values(&r, count, fixture_packs(&f->h), key);
      } else if (!strcmp(key, "discriminator_loss_batch")) {
        double *v = fixture_read_values(&r, count, 1, key);
        w->discriminator_loss_batch = v[0];
        free(v);
      } else if (!strcmp(key, "generator_loss_batch")) {
        double *v = fixture_read_values(&r, count, 1, key);
        w->generator_loss_batch = v[0];
        free(v);
      } else if ((which = fixture_labels_section(&r, key, count, &f->h))) {
        f->labels |= which;
      } else {
        cr_assert_fail("%s: unknown section %s", path, key);
      }
      continue;
    }
    if (!fixture_header_key(&f->h, key, value, path))
      cr_assert_fail("%s: unknown key %s", path, key);
  }
  cr_assert_str_eq(f->h.model, name, "%s: names model %s", path, f->h.model);
  cr_assert(f->h.scalar_size == 4 || f->h.scalar_size == 8, "%s: bad scalar", path);
  cr_assert(f->h.latent_size > 0 && f->h.param_count > 0 && f->h.input_scale > 0,
            "%s: incomplete header", path);
  cr_assert(w->generate && w->real_score && w->fake_score && w->discriminator_loss &&
                w->generator_loss && f->ntensors > 0 && f->params_check.n > 0,
            "%s: missing sections", path);
  cr_assert(f->h.stats_count == 0 || (f->nstats > 0 && f->stats_check.n > 0),
            "%s: statistics without their sections", path);
  cr_assert(f->labels == (f->h.classes > 0 ? FIXTURE_LABELS_BOTH : 0),
            "%s: a conditional model's fixture lists labels_real and labels_fake, another neither", path);
  fixture_check_layout(f->tensors, f->ntensors, f->h.param_count, "tensors", path);
  fixture_check_layout(f->stats, f->nstats, f->h.stats_count, "stats_tensors", path);
}

static void results_free(Results *r) {
  free(r->generate);
  free(r->real_score);
  free(r->fake_score);
  free(r->discriminator_loss);
  free(r->generator_loss);
  free(r->generate_batch);
  free(r->real_score_batch);
  free(r->fake_score_batch);
  memset(r, 0, sizeof *r);
}

static void fixture_free(Fixture *f) {
  results_free(&f->want);
}

/* ---- Parameters and inputs, in the model's scalar type ---- */

typedef struct Inputs {
  int size; /* bytes per scalar */
  void *params, *stats, *z, *x;
  int *labels_real, *labels_fake; /* of x and of z, one per sample (all 0 when unconditional) */
} Inputs;

/* Scalar k of the tensors' array by value(t, k) of the tensor t it is in. */
static double formula_at(const Fixture *f, const Tensor *tensors, int n, int64_t k,
                         double (*value)(const Tensor *, int64_t)) {
  for (int i = 0; i < n; i++) {
    const Tensor *t = &tensors[i];
    if (k >= t->offset && k < t->offset + t->count)
      return value(t, k);
  }
  cr_assert_fail("%s: scalar %" PRId64 " is in no tensor", f->path, k);
  return 0;
}

static double param_value(const Fixture *f, int64_t k) {
  return formula_at(f, f->tensors, f->ntensors, k, formula_param);
}

static double stat_value(const Fixture *f, int64_t k) {
  return formula_at(f, f->stats, f->nstats, k, formula_stat);
}

static void inputs_make(const Fixture *f, Inputs *in) {
  int size = f->h.scalar_size;
  in->size = size;
  in->params = scalar_alloc(size, f->h.param_count);
  formula_params(f->tensors, f->ntensors, size, in->params);
  in->stats = scalar_alloc(size, f->h.stats_count);
  formula_stats(f->stats, f->nstats, size, in->stats);
  in->z = scalar_alloc(size, f->h.batch * f->h.latent_size);
  formula_inputs(STREAM_LATENT, f->h.input_scale, size, f->h.batch * f->h.latent_size, in->z);
  in->x = scalar_alloc(size, f->h.batch * f->h.obs_size);
  formula_inputs(STREAM_REAL, f->h.input_scale, size, f->h.batch * f->h.obs_size, in->x);
  in->labels_real = formula_labels(STREAM_LABELS_REAL, f->h.classes, f->h.batch);
  in->labels_fake = formula_labels(STREAM_LABELS_FAKE, f->h.classes, f->h.batch);
}

static void inputs_free(Inputs *in) {
  free(in->params);
  free(in->stats);
  free(in->z);
  free(in->x);
  free(in->labels_real);
  free(in->labels_fake);
}

/* ---- The emitted functions, called through either path ---- */

typedef struct Api {
  const ganc_info *info;
  ganc_fns fns;
} Api;

/* fn with the fixture's parameters and statistics, the labels of samples
   i, i+1, ... (single-sample functions read the first) and a's other
   arguments. */
static double call(const Api *api, const Inputs *in, int i, ganc_fn fn, ganc_args a) {
  a.params = in->params;
  a.stats = in->stats;
  a.x_labels = in->labels_real + i;
  a.z_labels = in->labels_fake + i;
  return ganc_call(api->info, &api->fns, fn, &a);
}

static const void *sample(const void *buf, int size, int64_t elements, int i) {
  return (const char *)buf + (size_t)i * (size_t)elements * (size_t)size;
}

static double *widen(const void *buf, int size, int64_t n) {
  double *v = malloc((size_t)n * sizeof *v);
  cr_assert_not_null(v);
  for (int64_t i = 0; i < n; i++)
    v[i] = scalar_load(buf, size, i);
  return v;
}

/* Samples go to generate one at a time; the discriminator's functions
   take packs of pack samples (one sample, unpacked). */
static void run_model(const Fixture *f, const Api *a, const Inputs *in, Results *r) {
  int B = f->h.batch, P = fixture_packs(&f->h), pk = fixture_pack(&f->h), size = in->size;
  int64_t L = f->h.latent_size, O = f->h.obs_size;
  void *gen = scalar_alloc(size, B * O), *scores = scalar_alloc(size, P);
  memset(r, 0, sizeof *r);

  for (int i = 0; i < B; i++) {
    const void *z = sample(in->z, size, L, i);
    call(a, in, i, GANC_FN_GENERATE, (ganc_args){.z = z, .out = (char *)gen + (size_t)(i * O * size)});
  }
  r->generate = widen(gen, size, B * O);
  r->real_score = malloc((size_t)P * sizeof(double));
  r->fake_score = malloc((size_t)P * sizeof(double));
  r->discriminator_loss = malloc((size_t)P * sizeof(double));
  r->generator_loss = malloc((size_t)P * sizeof(double));
  cr_assert(r->real_score && r->fake_score && r->discriminator_loss && r->generator_loss);
  for (int i = 0; i < P; i++) {
    const void *z = sample(in->z, size, L * pk, i), *x = sample(in->x, size, O * pk, i);
    r->real_score[i] = call(a, in, i, GANC_FN_REAL_SCORE, (ganc_args){.x = x});
    r->fake_score[i] = call(a, in, i, GANC_FN_FAKE_SCORE, (ganc_args){.z = z});
    r->discriminator_loss[i] = call(a, in, i, GANC_FN_DISCRIMINATOR_LOSS, (ganc_args){.x = x, .z = z});
    r->generator_loss[i] = call(a, in, i, GANC_FN_GENERATOR_LOSS, (ganc_args){.z = z});
  }

  memset(gen, 0, (size_t)(B * O * size));
  call(a, in, 0, GANC_FN_GENERATE_BATCH, (ganc_args){.n = B, .z = in->z, .out = gen});
  r->generate_batch = widen(gen, size, B * O);
  call(a, in, 0, GANC_FN_REAL_SCORE_BATCH, (ganc_args){.n = P, .x = in->x, .out = scores});
  r->real_score_batch = widen(scores, size, P);
  call(a, in, 0, GANC_FN_FAKE_SCORE_BATCH, (ganc_args){.n = P, .z = in->z, .out = scores});
  r->fake_score_batch = widen(scores, size, P);
  r->discriminator_loss_batch =
      call(a, in, 0, GANC_FN_DISCRIMINATOR_LOSS_BATCH, (ganc_args){.n = P, .x = in->x, .z = in->z});
  r->generator_loss_batch = call(a, in, 0, GANC_FN_GENERATOR_LOSS_BATCH, (ganc_args){.n = P, .z = in->z});
  free(gen);
  free(scores);
}

/* docs/DESIGN.md §4: for n <= 0 the batch functions write nothing and
   return 0. */
static void check_empty_batch(const Fixture *f, const Api *a, const Inputs *in,
                              const char *how) {
  int size = in->size;
  int64_t n = f->h.obs_size;
  void *out = scalar_alloc(size, n);
  for (int empty = 0; empty >= -1; empty--) {
    for (int64_t i = 0; i < n; i++)
      scalar_store(out, size, i, 42);
    call(a, in, 0, GANC_FN_GENERATE_BATCH, (ganc_args){.n = empty, .z = in->z, .out = out});
    call(a, in, 0, GANC_FN_REAL_SCORE_BATCH, (ganc_args){.n = empty, .x = in->x, .out = out});
    call(a, in, 0, GANC_FN_FAKE_SCORE_BATCH, (ganc_args){.n = empty, .z = in->z, .out = out});
    for (int64_t i = 0; i < n; i++)
      cr_expect(scalar_load(out, size, i) == 42,
                "%s: %s: a batch function wrote output for n = %d", f->h.model, how, empty);
    double d = call(a, in, 0, GANC_FN_DISCRIMINATOR_LOSS_BATCH, (ganc_args){.n = empty, .x = in->x, .z = in->z});
    double g = call(a, in, 0, GANC_FN_GENERATOR_LOSS_BATCH, (ganc_args){.n = empty, .z = in->z});
    cr_expect(d == 0, "%s: %s: discriminator_loss_batch(n = %d) = %.17g, want 0", f->h.model, how,
              empty, d);
    cr_expect(g == 0, "%s: %s: generator_loss_batch(n = %d) = %.17g, want 0", f->h.model, how,
              empty, g);
  }
  free(out);
}

/* ---- Comparison ---- */

typedef struct Cmp {
  const char *model, *what;
  double rtol, atol;
  int failures;
  double abs_err, rel_err, share; /* the largest |got - want|, that over |want|, that over the tolerance */
} Cmp;

static Cmp cmp_start(const Fixture *f, const char *what) {
  Cmp c = {f->h.model, what, 1e-5, 1e-6, 0, 0, 0, 0};
  if (f->h.scalar_size == 8) {
    c.rtol = 1e-12;
    c.atol = 1e-14;
  }
  return c;
}

/* got[i] against want[i] for i < n; per_sample elements make one sample
   (0 for a single batch value). A NaN never passes. */
static void cmp_values(Cmp *c, const char *fn, int64_t n, int64_t per_sample,
                       const double *got, const double *want) {
  for (int64_t i = 0; i < n; i++) {
    double tol = c->rtol * fabs(want[i]) + c->atol, err = fabs(got[i] - want[i]);
    c->abs_err = fmax(c->abs_err, err);
    c->rel_err = fmax(c->rel_err, want[i] != 0 ? err / fabs(want[i]) : err > 0 ? INFINITY : 0);
    c->share = fmax(c->share, err / tol);
    if (err <= tol)
      continue;
    if (c->failures++ >= MAX_REPORTS)
      continue;
    if (per_sample == 0)
      cr_expect_fail("%s: %s: %s (batch): got %.17g, want %.17g (tolerance %.3g)", c->model,
                     c->what, fn, got[i], want[i], tol);
    else if (per_sample == 1)
      cr_expect_fail("%s: %s: %s sample %" PRId64 ": got %.17g, want %.17g (tolerance %.3g)",
                     c->model, c->what, fn, i, got[i], want[i], tol);
    else
      cr_expect_fail("%s: %s: %s sample %" PRId64 " index %" PRId64
                     ": got %.17g, want %.17g (tolerance %.3g)",
                     c->model, c->what, fn, i / per_sample, i % per_sample, got[i], want[i],
                     tol);
  }
}

static void cmp_finish(Cmp *c) {
  if (c->failures > MAX_REPORTS)
    cr_expect_fail("%s: %s: %d more mismatches not shown", c->model, c->what,
                   c->failures - MAX_REPORTS);
  cr_log_info("%s: %s: largest error %.3g absolute, %.3g relative, %.3g of the tolerance", c->model,
              c->what, c->abs_err, c->rel_err, c->share);
}

/* got against the reference; the batch functions against it too. */
static void check_reference(const Fixture *f, const Results *got, const char *what) {
  const Results *w = &f->want;
  int64_t B = f->h.batch, P = fixture_packs(&f->h), O = f->h.obs_size;
  Cmp c = cmp_start(f, what);
  cmp_values(&c, "generate", B * O, O, got->generate, w->generate);
  cmp_values(&c, "real_score", P, 1, got->real_score, w->real_score);
  cmp_values(&c, "fake_score", P, 1, got->fake_score, w->fake_score);
  cmp_values(&c, "discriminator_loss", P, 1, got->discriminator_loss, w->discriminator_loss);
  cmp_values(&c, "generator_loss", P, 1, got->generator_loss, w->generator_loss);
  cmp_values(&c, "generate_batch", B * O, O, got->generate_batch, w->generate);
  cmp_values(&c, "real_score_batch", P, 1, got->real_score_batch, w->real_score);
  cmp_values(&c, "fake_score_batch", P, 1, got->fake_score_batch, w->fake_score);
  cmp_values(&c, "discriminator_loss_batch", 1, 0, &got->discriminator_loss_batch,
             &w->discriminator_loss_batch);
  cmp_values(&c, "generator_loss_batch", 1, 0, &got->generator_loss_batch,
             &w->generator_loss_batch);
  cmp_finish(&c);
}

static double mean(const double *v, int n) {
  double s = 0;
  for (int i = 0; i < n; i++)
    s += v[i];
  return s / n;
}

/* Each batch function against the single-sample functions of the same build. */
static void check_batch_vs_single(const Fixture *f, const Results *r, const char *what) {
  int64_t B = f->h.batch, P = fixture_packs(&f->h), O = f->h.obs_size;
  double d = mean(r->discriminator_loss, (int)P), g = mean(r->generator_loss, (int)P);
  Cmp c = cmp_start(f, what);
  cmp_values(&c, "generate_batch", B * O, O, r->generate_batch, r->generate);
  cmp_values(&c, "real_score_batch", P, 1, r->real_score_batch, r->real_score);
  cmp_values(&c, "fake_score_batch", P, 1, r->fake_score_batch, r->fake_score);
  cmp_values(&c, "discriminator_loss_batch", 1, 0, &r->discriminator_loss_batch, &d);
  cmp_values(&c, "generator_loss_batch", 1, 0, &r->generator_loss_batch, &g);
  cmp_finish(&c);
}

static void check_same(const Fixture *f, const Results *got, const Results *want,
                       const char *what) {
  int64_t B = f->h.batch, P = fixture_packs(&f->h), O = f->h.obs_size;
  Cmp c = cmp_start(f, what);
  cmp_values(&c, "generate", B * O, O, got->generate, want->generate);
  cmp_values(&c, "real_score", P, 1, got->real_score, want->real_score);
  cmp_values(&c, "fake_score", P, 1, got->fake_score, want->fake_score);
  cmp_values(&c, "discriminator_loss", P, 1, got->discriminator_loss, want->discriminator_loss);
  cmp_values(&c, "generator_loss", P, 1, got->generator_loss, want->generator_loss);
  cmp_values(&c, "generate_batch", B * O, O, got->generate_batch, want->generate_batch);
  cmp_values(&c, "real_score_batch", P, 1, got->real_score_batch, want->real_score_batch);
  cmp_values(&c, "fake_score_batch", P, 1, got->fake_score_batch, want->fake_score_batch);
  cmp_values(&c, "discriminator_loss_batch", 1, 0, &got->discriminator_loss_batch,
             &want->discriminator_loss_batch);
  cmp_values(&c, "generator_loss_batch", 1, 0, &got->generator_loss_batch,
             &want->generator_loss_batch);
  cmp_finish(&c);
}

/* ---- The two paths. One test's state, released by teardown even when an
   assertion stops the test. ---- */

static struct {
  Fixture fixture;
  Inputs inputs;
  Results jit_results, aot_results;
  ganc_model *jit;
  Aot *aot;
} state;

static void teardown(void) {
  aot_free(state.aot);
  if (state.jit)
    ganc_free(state.jit);
  results_free(&state.jit_results);
  results_free(&state.aot_results);
  inputs_free(&state.inputs);
  fixture_free(&state.fixture);
  memset(&state, 0, sizeof state);
}

static const Fixture *setup_fixture(const char *name) {
  fixture_load(&state.fixture, name);
  inputs_make(&state.fixture, &state.inputs);
  return &state.fixture;
}

/* The tensors the compiler describes against the fixture's. */
static void check_tensors(const Fixture *f, const char *what, const ganc_tensor *tensors, int n,
                          const Tensor *fixture, int nfixture) {
  cr_assert_eq(n, nfixture, "%s: %d %s, want %d", f->h.model, n, what, nfixture);
  for (int i = 0; i < n; i++) {
    const ganc_tensor *got = &tensors[i];
    const Tensor *want = &fixture[i];
    cr_expect_str_eq(got->name, want->name, "%s: %s %d is %s, want %s", f->h.model, what, i,
                     got->name, want->name);
    cr_expect(got->offset == want->offset && got->count == want->count &&
                  got->rank == want->rank,
              "%s: tensor %s: offset %" PRId64 " count %" PRId64 " rank %d, want %" PRId64
              " %" PRId64 " %d",
              f->h.model, want->name, got->offset, got->count, got->rank, want->offset,
              want->count, want->rank);
    for (int d = 0; d < want->rank && d < got->rank; d++)
      cr_expect_eq(got->shape[d], want->shape[d],
                   "%s: tensor %s: dimension %d is %" PRId64 ", want %" PRId64, f->h.model,
                   want->name, d, got->shape[d], want->shape[d]);
  }
}

/* The JIT's description of the model against the fixture's layout. */
static void check_info(const Fixture *f, const ganc_info *info) {
  cr_expect_str_eq(info->name, f->h.model);
  cr_assert_str_eq(info->loss, f->h.loss[0] ? f->h.loss : "lsgan", "%s: loss %s, the fixture's %s", f->h.model,
                   info->loss, f->h.loss[0] ? f->h.loss : "lsgan");
  cr_assert_eq(info->pack, fixture_pack(&f->h), "%s: pack %d, the fixture's %d", f->h.model, info->pack,
               fixture_pack(&f->h));
  cr_assert_eq(info->scalar_size, f->h.scalar_size, "%s: scalar_size %d, want %d", f->h.model,
               info->scalar_size, f->h.scalar_size);
  cr_assert_eq(info->latent_size, f->h.latent_size, "%s: latent_size %" PRId64 ", want %" PRId64,
               f->h.model, info->latent_size, f->h.latent_size);
  cr_assert_eq(info->obs_size, f->h.obs_size, "%s: obs_size %" PRId64 ", want %" PRId64, f->h.model,
               info->obs_size, f->h.obs_size);
  cr_assert_eq(info->param_count, f->h.param_count,
               "%s: param_count %" PRId64 ", want %" PRId64, f->h.model, info->param_count,
               f->h.param_count);
  cr_expect_eq(info->g_param_count, f->h.g_param_count,
               "%s: g_param_count %" PRId64 ", want %" PRId64, f->h.model, info->g_param_count,
               f->h.g_param_count);
  cr_expect_eq(info->d_param_count, f->h.param_count - f->h.g_param_count,
               "%s: d_param_count %" PRId64 ", want %" PRId64, f->h.model, info->d_param_count,
               f->h.param_count - f->h.g_param_count);
  cr_assert_eq(info->stats_count, f->h.stats_count,
               "%s: stats_count %" PRId64 ", want %" PRId64, f->h.model, info->stats_count,
               f->h.stats_count);
  cr_assert_eq(info->classes, f->h.classes, "%s: classes %d, the fixture's %d", f->h.model, info->classes,
               f->h.classes);
  check_tensors(f, "tensors", info->tensors, info->ntensors, f->tensors, f->ntensors);
  check_tensors(f, "statistics", info->stats, info->nstats, f->stats, f->nstats);
}

/* The model's description, from the JIT (which the AOT path needs too). */
static const ganc_info *open_info(const Fixture *f) {
  static char err[8192];
  if (!state.jit)
    state.jit = ganc_jit(f->h.file, err, sizeof err, NULL);
  cr_assert_not_null(state.jit, "%s: ganc_jit(%s) failed:\n%s", f->h.model, f->h.file, err);
  const ganc_info *info = ganc_find_model(state.jit, f->h.model);
  cr_assert_not_null(info, "%s: ganc_find_model found no model %s in %s", f->h.model, f->h.model,
                     f->h.file);
  check_info(f, info);
  return info;
}

static void jit_open(const Fixture *f, Api *api) {
  api->info = open_info(f);
  cr_assert_eq(ganc_functions(state.jit, api->info, &api->fns), 0, "%s: JIT: a function is missing",
               f->h.model);
}

static void aot_open(const Fixture *f, Api *api) {
  static char why[16384];
  api->info = open_info(f);
  state.aot = aot_build(f->h.file, "cc", why, sizeof why);
  cr_assert_not_null(state.aot, "%s: %s", f->h.model, why);
  const char *missing = model_fns(NULL, state.aot, api->info, &api->fns);
  cr_assert_null(missing, "%s: AOT: no function %s_%s", f->h.model, f->h.model, missing);
}

/* ---- Tests ---- */

/* One test instance per fixture file. */
static struct criterion_test_params fixture_names(void) {
  return fixture_names_in(FIXTURE_DIR, NULL, 0);
}

ParameterizedTestParameters(conformance, formula) { return fixture_names(); }
ParameterizedTestParameters(conformance, jit) { return fixture_names(); }
ParameterizedTestParameters(conformance, aot) { return fixture_names(); }
ParameterizedTestParameters(conformance, aot_matches_jit) { return fixture_names(); }

Test(conformance, splitmix64_known_value) {
  /* SplitMix64's first output from seed 0 */
  cr_assert_eq(splitmix64(0), UINT64_C(0xE220A8397B1DCDAF));
  cr_assert_eq(weight_exponent(1), 0);
  cr_assert_eq(weight_exponent(3), 0);
  cr_assert_eq(weight_exponent(4), 1);
  cr_assert_eq(weight_exponent(15), 1);
  cr_assert_eq(weight_exponent(16), 2);
  cr_assert_eq(weight_exponent(784), 4);
}

/* The values the script derived (params[0..7] and the last, the same of
   the statistics, the first and last inputs) equal this file's bit for
   bit, and are exact in float32. */
static void check_samples(const Fixture *f, const char *what, const Check *c,
                          double (*value)(const Fixture *, int64_t)) {
  for (int i = 0; i < c->n; i++) {
    double v = value(f, c->k[i]);
    cr_expect(memcmp(&v, &c->v[i], sizeof v) == 0, "%s: %s[%" PRId64 "]: C %a, script %a",
              f->h.model, what, c->k[i], v, c->v[i]);
    cr_expect((double)(float)v == v, "%s: %s[%" PRId64 "] = %a is not a float", f->h.model, what,
              c->k[i], v);
  }
}

static double latent_value(const Fixture *f, int64_t k) {
  return f->h.input_scale * signed_unit(STREAM_LATENT, (uint64_t)k);
}

static double real_value(const Fixture *f, int64_t k) {
  return f->h.input_scale * signed_unit(STREAM_REAL, (uint64_t)k);
}

ParameterizedTest(FixtureName *fx, conformance, formula, .fini = teardown) {
  fixture_load(&state.fixture, fx->name);
  const Fixture *f = &state.fixture;
  cr_assert_eq(f->params_check.k[f->params_check.n - 1], f->h.param_count - 1);
  check_samples(f, "params", &f->params_check, param_value);
  if (f->h.stats_count > 0) {
    cr_assert_eq(f->stats_check.k[f->stats_check.n - 1], f->h.stats_count - 1);
    check_samples(f, "stats", &f->stats_check, stat_value);
  }
  check_samples(f, "z", &f->z_check, latent_value);
  check_samples(f, "x", &f->x_check, real_value);
}

ParameterizedTest(FixtureName *fx, conformance, jit, .fini = teardown) {
  const Fixture *f = setup_fixture(fx->name);
  Api api;
  jit_open(f, &api);
  run_model(f, &api, &state.inputs, &state.jit_results);
  check_reference(f, &state.jit_results, "JIT vs reference");
  check_batch_vs_single(f, &state.jit_results, "JIT batch vs single-sample");
  check_empty_batch(f, &api, &state.inputs, "JIT");
}

ParameterizedTest(FixtureName *fx, conformance, aot, .fini = teardown) {
  const Fixture *f = setup_fixture(fx->name);
  Api api;
  aot_open(f, &api);
  run_model(f, &api, &state.inputs, &state.aot_results);
  check_reference(f, &state.aot_results, "AOT vs reference");
  check_batch_vs_single(f, &state.aot_results, "AOT batch vs single-sample");
  check_empty_batch(f, &api, &state.inputs, "AOT");
}

ParameterizedTest(FixtureName *fx, conformance, aot_matches_jit, .fini = teardown) {
  const Fixture *f = setup_fixture(fx->name);
  Api jit, aot;
  jit_open(f, &jit);
  aot_open(f, &aot);
  run_model(f, &jit, &state.inputs, &state.jit_results);
  run_model(f, &aot, &state.inputs, &state.aot_results);
  check_same(f, &state.aot_results, &state.jit_results, "AOT vs JIT");
}

/* Every model the compiler finds in models/ and tests/models/ has a fixture
   that names its file, so none escapes the tests above. */
Test(conformance, every_model_has_a_fixture) {
  const char *patterns[] = {"models/*.gan", "tests/models/*.gan"};
  int models = 0;
  for (size_t p = 0; p < sizeof patterns / sizeof *patterns; p++) {
    glob_t g;
    if (glob(patterns[p], 0, NULL, &g) != 0)
      continue;
    for (size_t i = 0; i < g.gl_pathc; i++) {
      static char err[8192];
      ganc_model *m = ganc_jit(g.gl_pathv[i], err, sizeof err, NULL);
      cr_expect_not_null(m, "ganc_jit(%s) failed:\n%s", g.gl_pathv[i], err);
      for (int j = 0; m && j < ganc_model_count(m); j++) {
        const char *name = ganc_model_info(m, j)->name;
        char path[512], line[512], file[512] = "";
        snprintf(path, sizeof path, FIXTURE_DIR "/%s.txt", name);
        FILE *fp = fopen(path, "r");
        cr_expect_not_null(fp, "%s: model %s has no fixture %s", g.gl_pathv[i], name, path);
        while (fp && fgets(line, sizeof line, fp))
          if (sscanf(line, "file %511s", file) == 1)
            break;
        if (fp)
          fclose(fp);
        cr_expect(!fp || !strcmp(file, g.gl_pathv[i]), "%s says file %s, model %s is in %s",
                  path, file, name, g.gl_pathv[i]);
        models++;
      }
      if (m)
        ganc_free(m);
    }
    globfree(&g);
  }
  cr_assert_geq(models, 17, "found only %d models", models);
}
