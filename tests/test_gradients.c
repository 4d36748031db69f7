/* test_gradients.c — the emitted gradient functions (docs/DESIGN.md §4),
 * NAME_discriminator_loss_backward and NAME_generator_loss_backward, against
 * float64 PyTorch autograd and against finite differences.
 *
 * tests/reference/backward.py writes one fixture per model to
 * tests/fixtures/backward/NAME.txt (its docstring describes the format): the
 * two batch losses of a batch of 4 and their gradients, every entry for small
 * models and a sample of each tensor's entries for large ones, with each
 * tensor's largest |entry|. Parameters and inputs are not stored: they come
 * from the formula of forward.py (fixture.c), as in test_conformance.c; so do
 * the running statistics of a model with batch_norm, from which each
 * _backward call starts (training mode: they do not change the loss, which
 * normalizes by the batch's statistics, but the function updates them, and
 * the fixture has what each function leaves), and a conditional model's
 * labels, labels_real with x and labels_fake with z (the fixture lists them
 * too, checked against the formula as it is read).
 *
 * Each model runs through the JIT and through emitted C built by gcc, every
 * function called through ganc_call. Each build's losses and gradients are
 * compared with PyTorch's, for the batch of 4 and for the same batch repeated
 * 16 times (n = 64, the same means and biased variances; the labels
 * repeated with it, so an embedding row sums 16 times the same terms); the gradient
 * buffers start out as NaN, so an entry left unwritten fails; for n <= 0 both
 * functions must return 0 and leave the buffer and the statistics alone. The
 * two builds' full gradients are compared with each other. A gradient entry
 * of tensor T passes when
 *     |got - want| <= rtol * |want| + atol * grad_max of T
 * where grad_max is the fixture's largest |entry| of T, or for a bias that a
 * batch_norm after its layer cancels (gradient 0 in exact arithmetic,
 * rounding noise in PyTorch and here) the size of the terms it sums
 * (backward.py's docstring).
 *   scalar float:  rtol 1e-4,  atol 1e-5
 *   scalar double: rtol 1e-10, atol 1e-12
 * Forward values need 1e-5 relative (test_conformance.c); gradients need
 * more, as each entry sums many products (over the batch, and over every path
 * back from the score) that cancel: the float rounding of those terms is
 * proportional to their size, which the tensor's largest entry measures, not
 * to the entry, which may be a small difference of large terms. PyTorch's own
 * float32 autograd on these fixtures stays within 1/20 of this tolerance.
 * Losses and the running statistics are forward values and keep the forward
 * tolerance (float 1e-5 relative + 1e-6, double 1e-12 + 1e-14), also where
 * the loss a _backward function returns is compared with NAME_*_loss_batch
 * of the same build (without batch_norm: with it, _batch is inference).
 *
 * Finite differences, in double: for every parameter of the `scalar double`
 * models in tests/models (and of 16 sampled per tensor of each model in models/,
 * compiled as a double copy of its source), the central difference
 * (L(p + h) - L(p - h)) / 2h of NAME_*_loss_batch against the _backward
 * gradient, within 1e-6 relative + 1e-8 absolute. h is 1e-6 times the larger
 * of |p| and the tensor's scale 2^-e (the formula's bound on its values), not
 * 1e-6 |p| alone: the losses carry a rounding error of a few ulps (about
 * 1e-15), which the difference quotient divides by 2h, so a parameter of 0.05
 * with h = 5e-8 would already miss 1e-8 from rounding alone. The truncation
 * error, of order h^2, stays far below the tolerance either way. With
 * batch_norm the loss differentiated is the training loss the _backward
 * function returns, and its rounding is larger: without normalization the
 * formula's weights shrink activations layer by layer, D's score is small
 * and the loss mostly its exact target term, while batch_norm keeps
 * activations of order 1, so the score sums terms of order 1 that cancel.
 * fashion_dcgan_bn's losses (about 3) carry some 12 ulps (PyTorch's float64
 * some 7), so there the absolute tolerance is also at least 32 ulps of the
 * loss divided by 2h.
 *
 * Run from the repository root, with build/ganc and build/libganc.a built. */

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "ganc.h"
#include "test.h"

#define BACKWARD_DIR "tests/fixtures/backward"

enum {
  MAX_TENSORS = 64,
  MAX_REPORTS = 12,
  REPEATS = 16,         /* the batch repeated: n = REPEATS * batch */
  SAMPLE_DRAWS = 64,    /* backward.py's draws per tensor of a large model */
  FD_SAMPLES = 16,      /* parameters per tensor, models/ */
  STREAM_FD_SAMPLE = 5, /* which ones, by the formula's generator */
};

static const double GRAD_RTOL_FLOAT = 1e-4, GRAD_ATOL_FLOAT = 1e-5;
static const double GRAD_RTOL_DOUBLE = 1e-10, GRAD_ATOL_DOUBLE = 1e-12;
static const double FD_RTOL = 1e-6, FD_ATOL = 1e-8, FD_STEP = 1e-6, FD_LOSS_ULPS = 32;

/* ---- Fixtures ---- */

typedef struct Entry {
  int64_t k; /* parameter index: grad_g[k], or grad_d[k - g_param_count] */
  double v;
} Entry;

typedef struct GradFixture {
  char path[256];
  FixtureHeader h;
  int sampled; /* entries: sampled, not all */
  int labels;  /* the labels sections read: FIXTURE_LABELS_BOTH for a conditional model */
  int ntensors, nstats;
  Tensor tensors[MAX_TENSORS], stats[MAX_TENSORS];
  double grad_max[MAX_TENSORS];
  double d_loss, g_loss;
  Entry *d_grad, *g_grad;
  int nd, ng;
  double *d_stats, *g_stats; /* the statistics after each _backward function */
} GradFixture;

static Entry *read_entries(int count, FixtureReader *r) {
  Entry *e = malloc((size_t)(count > 0 ? count : 1) * sizeof *e);
  cr_assert_not_null(e);
  for (int i = 0; i < count; i++) {
    char *s = fixture_read_line(r), *end;
    e[i].k = strtoll(s, &end, 10);
    cr_assert(end != s && *end == ' ', "%s: bad gradient line: %s", r->path, s);
    e[i].v = fixture_parse_double(end + 1, r->path);
  }
  return e;
}

static double read_one(int count, FixtureReader *r) {
  cr_assert_eq(count, 1, "%s: a loss section holds one value", r->path);
  return fixture_parse_double(fixture_read_line(r), r->path);
}

/* Which of the n tensors scalar k is in. */
static int tensor_in(const GradFixture *f, const Tensor *tensors, int n, int64_t k) {
  for (int i = 0; i < n; i++)
    if (k >= tensors[i].offset && k < tensors[i].offset + tensors[i].count)
      return i;
  cr_assert_fail("%s: scalar %" PRId64 " is in no tensor", f->path, k);
  return -1;
}

static int tensor_of(const GradFixture *f, int64_t k) {
  return tensor_in(f, f->tensors, f->ntensors, k);
}

static int cmp_int64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* A large model's fixture holds, of each tensor, the first and the last
   entry and backward.py's draws: entry splitmix64((STREAM_SAMPLE << 32) +
   SAMPLE_DRAWS * i + j) mod count of tensor i, for j < SAMPLE_DRAWS. */
static void check_sampled(const GradFixture *f) {
  for (int i = 0; i < f->ntensors; i++) {
    const Tensor *t = &f->tensors[i];
    int64_t want[SAMPLE_DRAWS + 2];
    int n = 0, m = 0;
    want[n++] = 0;
    want[n++] = t->count - 1;
    for (int j = 0; j < SAMPLE_DRAWS; j++)
      want[n++] = (int64_t)(splitmix64(((uint64_t)STREAM_SAMPLE << 32) +
                                       (uint64_t)(SAMPLE_DRAWS * i + j)) %
                            (uint64_t)t->count);
    qsort(want, (size_t)n, sizeof *want, cmp_int64);
    for (int j = 0; j < n; j++)
      if (m == 0 || want[j] != want[m - 1])
        want[m++] = want[j];
    int is_d = t->offset >= f->h.g_param_count;
    const Entry *e = is_d ? f->d_grad : f->g_grad;
    int count = is_d ? f->nd : f->ng, found = 0;
    for (int j = 0; j < count; j++) {
      if (e[j].k < t->offset || e[j].k >= t->offset + t->count)
        continue;
      cr_assert(found < m && e[j].k - t->offset == want[found],
                "%s: tensor %s: entry %" PRId64 " is not backward.py's sample", f->path,
                t->name, e[j].k - t->offset);
      found++;
    }
    cr_assert_eq(found, m, "%s: tensor %s: %d entries, backward.py samples %d", f->path,
                 t->name, found, m);
  }
}

static void grad_fixture_load(GradFixture *f, const char *name) {
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, BACKWARD_DIR "/%s.txt", name);
  const char *path = f->path;
  FixtureReader r;
  fixture_open(&r, path);
  int have_max = 0, have_d = 0, have_g = 0, kind, count, which;
  char key[64], value[256];
  while ((kind = fixture_next(&r, key, value, &count))) {
    if (kind == 1) {
      if (!strcmp(key, "tensors")) {
        fixture_read_tensors(f->tensors, MAX_TENSORS, count, 1, &r);
        f->ntensors = count;
      } else if (!strcmp(key, "stats_tensors")) {
        fixture_read_tensors(f->stats, MAX_TENSORS, count, 0, &r);
        f->nstats = count;
      } else if (!strcmp(key, "discriminator_stats")) {
        f->d_stats = fixture_read_values(&r, count, f->h.stats_count, key);
      } else if (!strcmp(key, "generator_stats")) {
        f->g_stats = fixture_read_values(&r, count, f->h.stats_count, key);
      } else if (!strcmp(key, "discriminator_loss_batch")) {
        f->d_loss = read_one(count, &r);
        have_d = 1;
      } else if (!strcmp(key, "generator_loss_batch")) {
        f->g_loss = read_one(count, &r);
        have_g = 1;
      } else if (!strcmp(key, "discriminator_grad")) {
        f->d_grad = read_entries(count, &r);
        f->nd = count;
      } else if (!strcmp(key, "generator_grad")) {
        f->g_grad = read_entries(count, &r);
        f->ng = count;
      } else if (!strcmp(key, "grad_max")) {
        cr_assert_eq(count, f->ntensors, "%s: grad_max after tensors, one per tensor", path);
        for (int i = 0; i < count; i++) {
          char *s = fixture_read_line(&r);
          char tname[64];
          int used = 0;
          cr_assert(sscanf(s, "%63s %n", tname, &used) == 1 && used > 0 &&
                        !strcmp(tname, f->tensors[i].name),
                    "%s: grad_max line %d is not tensor %s: %s", path, i, f->tensors[i].name, s);
          f->grad_max[i] = fixture_parse_double(s + used, path);
        }
        have_max = 1;
      } else if ((which = fixture_labels_section(&r, key, count, &f->h))) {
        f->labels |= which;
      } else {
        cr_assert_fail("%s: unknown section %s", path, key);
      }
      continue;
    }
    if (!strcmp(key, "entries"))
      f->sampled = !strcmp(value, "sampled");
    else if (!fixture_header_key(&f->h, key, value, path))
      cr_assert_fail("%s: unknown key %s", path, key);
  }

  cr_assert_str_eq(f->h.model, name, "%s: names model %s", path, f->h.model);
  cr_assert(f->h.scalar_size == 4 || f->h.scalar_size == 8, "%s: bad scalar", path);
  cr_assert(f->h.batch > 0 && f->h.latent_size > 0 && f->h.obs_size > 0 && f->h.input_scale > 0 &&
                f->h.g_param_count > 0 && f->h.param_count > f->h.g_param_count,
            "%s: incomplete header", path);
  cr_assert(f->ntensors > 0 && have_d && have_g && have_max && f->d_grad && f->g_grad,
            "%s: missing sections", path);
  cr_assert(f->h.stats_count == 0 || (f->nstats > 0 && f->d_stats && f->g_stats),
            "%s: statistics without their sections", path);
  cr_assert(f->labels == (f->h.classes > 0 ? FIXTURE_LABELS_BOTH : 0),
            "%s: a conditional model's fixture lists labels_real and labels_fake, another neither", path);
  fixture_check_layout(f->tensors, f->ntensors, f->h.param_count, "tensors", path);
  fixture_check_layout(f->stats, f->nstats, f->h.stats_count, "stats_tensors", path);
  for (int i = 0; i < f->nd; i++)
    cr_assert(f->d_grad[i].k >= f->h.g_param_count && f->d_grad[i].k < f->h.param_count &&
                  (i == 0 || f->d_grad[i].k > f->d_grad[i - 1].k),
              "%s: discriminator_grad entry %" PRId64 " out of place", path, f->d_grad[i].k);
  for (int i = 0; i < f->ng; i++)
    cr_assert(f->g_grad[i].k >= 0 && f->g_grad[i].k < f->h.g_param_count &&
                  (i == 0 || f->g_grad[i].k > f->g_grad[i - 1].k),
              "%s: generator_grad entry %" PRId64 " out of place", path, f->g_grad[i].k);
  if (!f->sampled)
    cr_assert(f->nd == f->h.param_count - f->h.g_param_count && f->ng == f->h.g_param_count,
              "%s: says all entries but has %d + %d", path, f->ng, f->nd);
  else
    check_sampled(f);
}

static void grad_fixture_free(GradFixture *f) {
  free(f->d_grad);
  free(f->g_grad);
  free(f->d_stats);
  free(f->g_stats);
  memset(f, 0, sizeof *f);
}

/* ---- The functions, called through either path ---- */

typedef struct Fns {
  const ganc_info *info;
  ganc_fns fns;
} Fns;

static double call(const Fns *f, ganc_fn fn, ganc_args a) {
  return ganc_call(f->info, &f->fns, fn, &a);
}

/* ---- Parameters, inputs, results ---- */

typedef struct Inputs {
  int size;             /* bytes per scalar */
  void *params, *z, *x; /* the fixture's batch */
  void *z_rep, *x_rep;  /* the same batch REPEATS times over */
  /* The labels of x and of z, of the batch and of it repeated (all 0 when
     unconditional) */
  int *labels_real, *labels_fake, *labels_real_rep, *labels_fake_rep;
  void *stats;          /* the formula's running statistics, where every call starts */
  void *work;           /* the statistics a call reads and updates: a copy of stats */
} Inputs;

static void inputs_make(const GradFixture *f, int size, Inputs *in) {
  int64_t zn = f->h.batch * f->h.latent_size, xn = f->h.batch * f->h.obs_size;
  in->size = size;
  in->params = scalar_alloc(size, f->h.param_count);
  formula_params(f->tensors, f->ntensors, size, in->params);
  in->stats = scalar_alloc(size, f->h.stats_count);
  formula_stats(f->stats, f->nstats, size, in->stats);
  in->work = scalar_alloc(size, f->h.stats_count);
  in->z = scalar_alloc(size, zn);
  formula_inputs(STREAM_LATENT, f->h.input_scale, size, zn, in->z);
  in->x = scalar_alloc(size, xn);
  formula_inputs(STREAM_REAL, f->h.input_scale, size, xn, in->x);
  in->z_rep = scalar_alloc(size, REPEATS * zn);
  in->x_rep = scalar_alloc(size, REPEATS * xn);
  int B = f->h.batch;
  in->labels_real = formula_labels(STREAM_LABELS_REAL, f->h.classes, B);
  in->labels_fake = formula_labels(STREAM_LABELS_FAKE, f->h.classes, B);
  in->labels_real_rep = calloc((size_t)(REPEATS * B), sizeof(int));
  in->labels_fake_rep = calloc((size_t)(REPEATS * B), sizeof(int));
  cr_assert(in->labels_real_rep && in->labels_fake_rep);
  for (int r = 0; r < REPEATS; r++) {
    memcpy((char *)in->z_rep + (size_t)(r * zn * size), in->z, (size_t)(zn * size));
    memcpy((char *)in->x_rep + (size_t)(r * xn * size), in->x, (size_t)(xn * size));
    memcpy(in->labels_real_rep + r * B, in->labels_real, (size_t)B * sizeof(int));
    memcpy(in->labels_fake_rep + r * B, in->labels_fake, (size_t)B * sizeof(int));
  }
}

static void inputs_free(Inputs *in) {
  free(in->params);
  free(in->z);
  free(in->x);
  free(in->z_rep);
  free(in->x_rep);
  free(in->stats);
  free(in->work);
  free(in->labels_real);
  free(in->labels_fake);
  free(in->labels_real_rep);
  free(in->labels_fake_rep);
  memset(in, 0, sizeof *in);
}

/* One model's losses and full gradients, widened to double. */
typedef struct Grads {
  double d_loss, g_loss;           /* from the _backward functions */
  double d_loss_batch, g_loss_batch; /* from the _batch functions */
  double *d, *g;                   /* grad_d, grad_g */
  double *d_stats, *g_stats;       /* the statistics each _backward function left */
} Grads;

static void grads_free(Grads *g) {
  free(g->d);
  free(g->g);
  free(g->d_stats);
  free(g->g_stats);
  memset(g, 0, sizeof *g);
}

static double *widen(const void *buf, int size, int64_t n) {
  double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  cr_assert_not_null(v);
  for (int64_t i = 0; i < n; i++)
    v[i] = scalar_load(buf, size, i);
  return v;
}

static void fill(void *buf, int size, int64_t n, double v) {
  for (int64_t i = 0; i < n; i++)
    scalar_store(buf, size, i, v);
}

/* The statistics a call starts from: the formula's, in in->work. */
static void *fresh_stats(const GradFixture *f, Inputs *in) {
  memcpy(in->work, in->stats, (size_t)(f->h.stats_count * in->size));
  return in->work;
}

/* The inputs of a call: observations and latents, and their labels. */
typedef struct Batch {
  const void *x, *z;
  const int *labels_real, *labels_fake;
} Batch;

/* The fixture's batch, or it repeated REPEATS times. */
static Batch batch_of(const Inputs *in, int repeated) {
  if (repeated)
    return (Batch){in->x_rep, in->z_rep, in->labels_real_rep, in->labels_fake_rep};
  return (Batch){in->x, in->z, in->labels_real, in->labels_fake};
}

/* fn's loss of n packs of b with in's parameters; each call starts from the
   formula's statistics, and a _backward call overwrites grad. */
static double loss_of(const GradFixture *f, const Fns *fn, ganc_fn id, Inputs *in, int n, const Batch *b,
                      void *grad) {
  return call(fn, id, (ganc_args){.params = in->params, .stats = fresh_stats(f, in), .n = n, .x = b->x,
                                  .z = b->z, .x_labels = b->labels_real, .z_labels = b->labels_fake,
                                  .grad = grad});
}

/* Both gradients of a batch of n, and the statistics each leaves; the
   gradient buffers start out as NaN, so an entry the function does not
   overwrite shows. */
static void run_backward(const GradFixture *f, const Fns *fn, Inputs *in, int n, const Batch *b, Grads *out) {
  int size = in->size;
  int64_t nd = f->h.param_count - f->h.g_param_count, ng = f->h.g_param_count;
  void *gd = scalar_alloc(size, nd), *gg = scalar_alloc(size, ng);
  fill(gd, size, nd, NAN);
  fill(gg, size, ng, NAN);
  out->d_loss = loss_of(f, fn, GANC_FN_DISCRIMINATOR_LOSS_BACKWARD, in, n, b, gd);
  out->d_stats = widen(in->work, size, f->h.stats_count);
  out->g_loss = loss_of(f, fn, GANC_FN_GENERATOR_LOSS_BACKWARD, in, n, b, gg);
  out->g_stats = widen(in->work, size, f->h.stats_count);
  out->d_loss_batch = loss_of(f, fn, GANC_FN_DISCRIMINATOR_LOSS_BATCH, in, n, b, NULL);
  out->g_loss_batch = loss_of(f, fn, GANC_FN_GENERATOR_LOSS_BATCH, in, n, b, NULL);
  out->d = widen(gd, size, nd);
  out->g = widen(gg, size, ng);
  free(gd);
  free(gg);
}

/* ---- Comparison ---- */

typedef struct Cmp {
  const char *model, *what;
  int failures;
  double worst; /* the largest |got - want| / tolerance of the gradient entries */
} Cmp;

static void cmp_fail(Cmp *c, const char *fn, int64_t k, const char *tensor, double got,
                     double want, double tol) {
  if (c->failures++ >= MAX_REPORTS)
    return;
  if (tensor)
    cr_expect_fail("%s: %s: %s, entry %" PRId64 " (%s): got %.17g, want %.17g "
                   "(tolerance %.3g)",
                   c->model, c->what, fn, k, tensor, got, want, tol);
  else
    cr_expect_fail("%s: %s: %s: got %.17g, want %.17g (tolerance %.3g)", c->model, c->what, fn,
                   got, want, tol);
}

/* Whether got is within tol of want, noting how close it came. A NaN never
   passes. */
static int cmp_within(Cmp *c, double got, double want, double tol) {
  double err = fabs(got - want);
  c->worst = fmax(c->worst, tol > 0 ? err / tol : err > 0 ? INFINITY : 0);
  return err <= tol;
}

static void cmp_finish(Cmp *c) {
  if (c->failures > MAX_REPORTS)
    cr_expect_fail("%s: %s: %d more mismatches not shown", c->model, c->what,
                   c->failures - MAX_REPORTS);
  cr_log_info("%s: %s: largest gradient error %.3g of the tolerance", c->model, c->what,
              c->worst);
}

/* The tolerance of a forward value (a loss, a running statistic): that of
   test_conformance.c. */
static double forward_tol(int size, double want) {
  return size == 4 ? 1e-5 * fabs(want) + 1e-6 : 1e-12 * fabs(want) + 1e-14;
}

/* A loss within the forward tolerance. A NaN never passes. */
static void cmp_loss(Cmp *c, int size, const char *fn, double got, double want) {
  double tol = forward_tol(size, want);
  if (!(fabs(got - want) <= tol))
    cmp_fail(c, fn, 0, NULL, got, want, tol);
}

/* The running statistics a _backward function left, within the forward
   tolerance. A NaN never passes. */
static void cmp_stats(Cmp *c, const GradFixture *f, const char *fn, const double *got,
                      const double *want) {
  double worst = 0;
  for (int64_t k = 0; k < f->h.stats_count; k++) {
    double err = fabs(got[k] - want[k]), tol = forward_tol(f->h.scalar_size, want[k]);
    worst = fmax(worst, err / tol);
    if (!(err <= tol))
      cmp_fail(c, fn, k, f->stats[tensor_in(f, f->stats, f->nstats, k)].name, got[k], want[k], tol);
  }
  if (f->h.stats_count > 0)
    cr_log_info("%s: %s: %s: largest error %.3g of the tolerance", c->model, c->what, fn, worst);
}

static void grad_tolerance(int size, double *rtol, double *atol) {
  *rtol = size == 4 ? GRAD_RTOL_FLOAT : GRAD_RTOL_DOUBLE;
  *atol = size == 4 ? GRAD_ATOL_FLOAT : GRAD_ATOL_DOUBLE;
}

/* Gradient entries against the fixture's; got is the whole gradient of the
   stack whose first parameter is params[base]. */
static void cmp_entries(Cmp *c, const GradFixture *f, const char *fn, const Entry *want,
                        int count, const double *got, int64_t base) {
  double rtol, atol;
  grad_tolerance(f->h.scalar_size, &rtol, &atol);
  for (int i = 0; i < count; i++) {
    int t = tensor_of(f, want[i].k);
    double g = got[want[i].k - base];
    double tol = rtol * fabs(want[i].v) + atol * f->grad_max[t];
    if (!cmp_within(c, g, want[i].v, tol))
      cmp_fail(c, fn, want[i].k, f->tensors[t].name, g, want[i].v, tol);
  }
}

/* Every entry of a computed gradient is a number (fixtures of large models
   hold a sample only). */
static void cmp_finite(Cmp *c, const GradFixture *f, const char *fn, const double *got,
                       int64_t base, int64_t n) {
  for (int64_t k = 0; k < n; k++)
    if (!isfinite(got[k]))
      cmp_fail(c, fn, base + k, f->tensors[tensor_of(f, base + k)].name, got[k], 0, 0);
}

/* A build's results for the fixture's batch (or the batch repeated, whose
   means and biased variances are the same) against PyTorch's. Without
   batch_norm, the _backward losses against the _batch ones of the same
   build; with it (the _batch functions use the running statistics, the
   _backward ones the batch's), for the fixture's batch the statistics
   each _backward function leaves (the repeated batch's unbiased variances
   differ). */
static void check_reference(const GradFixture *f, const Grads *r, int repeated, const char *what) {
  int64_t gpc = f->h.g_param_count;
  Cmp c = {f->h.model, what, 0, 0};
  cmp_loss(&c, f->h.scalar_size, "discriminator_loss_backward (loss)", r->d_loss, f->d_loss);
  cmp_loss(&c, f->h.scalar_size, "generator_loss_backward (loss)", r->g_loss, f->g_loss);
  if (f->h.stats_count == 0) {
    cmp_loss(&c, f->h.scalar_size, "discriminator_loss_backward vs _batch", r->d_loss,
             r->d_loss_batch);
    cmp_loss(&c, f->h.scalar_size, "generator_loss_backward vs _batch", r->g_loss, r->g_loss_batch);
  } else if (!repeated) {
    cmp_stats(&c, f, "statistics after discriminator_loss_backward", r->d_stats, f->d_stats);
    cmp_stats(&c, f, "statistics after generator_loss_backward", r->g_stats, f->g_stats);
  }
  cmp_entries(&c, f, "grad_d", f->d_grad, f->nd, r->d, gpc);
  cmp_entries(&c, f, "grad_g", f->g_grad, f->ng, r->g, 0);
  cmp_finite(&c, f, "grad_d", r->d, gpc, f->h.param_count - gpc);
  cmp_finite(&c, f, "grad_g", r->g, 0, gpc);
  cmp_finish(&c);
}

/* Two builds' full gradients and statistics: within the tolerance against
   PyTorch, with the fixture's scale of each tensor. */
static void check_same(const GradFixture *f, const Grads *got, const Grads *want,
                       const char *what) {
  double rtol, atol;
  grad_tolerance(f->h.scalar_size, &rtol, &atol);
  Cmp c = {f->h.model, what, 0, 0};
  cmp_loss(&c, f->h.scalar_size, "discriminator_loss_backward (loss)", got->d_loss, want->d_loss);
  cmp_loss(&c, f->h.scalar_size, "generator_loss_backward (loss)", got->g_loss, want->g_loss);
  cmp_stats(&c, f, "statistics after discriminator_loss_backward", got->d_stats, want->d_stats);
  cmp_stats(&c, f, "statistics after generator_loss_backward", got->g_stats, want->g_stats);
  for (int t = 0; t < f->ntensors; t++) {
    const Tensor *T = &f->tensors[t];
    int is_d = T->offset >= f->h.g_param_count;
    int64_t base = is_d ? f->h.g_param_count : 0;
    const double *g = is_d ? got->d : got->g, *w = is_d ? want->d : want->g;
    for (int64_t k = T->offset; k < T->offset + T->count; k++) {
      double tol = rtol * fabs(w[k - base]) + atol * f->grad_max[t];
      if (!cmp_within(&c, g[k - base], w[k - base], tol))
        cmp_fail(&c, is_d ? "grad_d" : "grad_g", k, T->name, g[k - base], w[k - base], tol);
    }
  }
  cmp_finish(&c);
}

/* docs/DESIGN.md §4: for n <= 0 the batch functions write nothing (neither
   a gradient nor the statistics) and return 0. */
static void check_empty_batch(const GradFixture *f, const Fns *fn, Inputs *in, const char *how) {
  int size = in->size;
  size_t stats_bytes = (size_t)(f->h.stats_count * size);
  int64_t nd = f->h.param_count - f->h.g_param_count, ng = f->h.g_param_count;
  void *gd = scalar_alloc(size, nd), *gg = scalar_alloc(size, ng);
  Batch b = batch_of(in, 0);
  for (int n = 0; n >= -1; n--) {
    fill(gd, size, nd, 42);
    fill(gg, size, ng, 42);
    double d = loss_of(f, fn, GANC_FN_DISCRIMINATOR_LOSS_BACKWARD, in, n, &b, gd);
    cr_expect(memcmp(in->work, in->stats, stats_bytes) == 0,
              "%s: %s: discriminator_loss_backward(n = %d) changed the statistics", f->h.model, how, n);
    double g = loss_of(f, fn, GANC_FN_GENERATOR_LOSS_BACKWARD, in, n, &b, gg);
    cr_expect(memcmp(in->work, in->stats, stats_bytes) == 0,
              "%s: %s: generator_loss_backward(n = %d) changed the statistics", f->h.model, how, n);
    cr_expect(d == 0, "%s: %s: discriminator_loss_backward(n = %d) = %.17g, want 0", f->h.model,
              how, n, d);
    cr_expect(g == 0, "%s: %s: generator_loss_backward(n = %d) = %.17g, want 0", f->h.model, how,
              n, g);
    int64_t k = 0;
    while (k < nd && scalar_load(gd, size, k) == 42)
      k++;
    cr_expect(k == nd, "%s: %s: discriminator_loss_backward(n = %d) wrote grad_d[%" PRId64 "]",
              f->h.model, how, n, k);
    k = 0;
    while (k < ng && scalar_load(gg, size, k) == 42)
      k++;
    cr_expect(k == ng, "%s: %s: generator_loss_backward(n = %d) wrote grad_g[%" PRId64 "]",
              f->h.model, how, n, k);
  }
  free(gd);
  free(gg);
}

/* ---- One test's state, released by teardown even when an assertion stops
   the test ---- */

static struct {
  GradFixture fixture;
  Inputs inputs;
  Grads jit, aot, rep;
  ganc_model *model;
  Aot *so;
  char *source;
} state;

static void teardown(void) {
  aot_free(state.so);
  if (state.model)
    ganc_free(state.model);
  free(state.source);
  grads_free(&state.jit);
  grads_free(&state.aot);
  grads_free(&state.rep);
  inputs_free(&state.inputs);
  grad_fixture_free(&state.fixture);
  memset(&state, 0, sizeof state);
}

static void check_layout(const GradFixture *f, const ganc_tensor *got, const Tensor *want, int n) {
  for (int i = 0; i < n; i++)
    cr_assert(got[i].offset == want[i].offset && got[i].count == want[i].count,
              "%s: tensor %s: offset %" PRId64 " count %" PRId64 ", the fixture says %" PRId64
              " %" PRId64,
              f->h.model, want[i].name, got[i].offset, got[i].count, want[i].offset, want[i].count);
}

/* The compiled model's layout against the fixture's. */
static void check_info(const GradFixture *f, const ganc_info *info, int size) {
  cr_assert_str_eq(info->loss, f->h.loss[0] ? f->h.loss : "lsgan", "%s: loss %s, the fixture's %s", f->h.model,
                   info->loss, f->h.loss[0] ? f->h.loss : "lsgan");
  cr_assert_eq(info->pack, fixture_pack(&f->h), "%s: pack %d, the fixture's %d", f->h.model, info->pack,
               fixture_pack(&f->h));
  cr_assert_eq(info->scalar_size, size, "%s: scalar_size %d, want %d", f->h.model,
               info->scalar_size, size);
  cr_assert(info->param_count == f->h.param_count && info->g_param_count == f->h.g_param_count &&
                info->d_param_count == f->h.param_count - f->h.g_param_count &&
                info->latent_size == f->h.latent_size && info->obs_size == f->h.obs_size &&
                info->ntensors == f->ntensors && info->stats_count == f->h.stats_count &&
                info->nstats == f->nstats && info->classes == f->h.classes,
            "%s: the compiled model's sizes differ from %s", f->h.model, f->path);
  check_layout(f, info->tensors, f->tensors, f->ntensors);
  check_layout(f, info->stats, f->stats, f->nstats);
}

/* The model's description, from the JIT (which the AOT path needs too). */
static const ganc_info *open_info(const GradFixture *f) {
  static char err[8192];
  if (!state.model)
    state.model = ganc_jit(f->h.file, err, sizeof err, NULL);
  cr_assert_not_null(state.model, "%s: ganc_jit(%s) failed:\n%s", f->h.model, f->h.file, err);
  const ganc_info *info = ganc_find_model(state.model, f->h.model);
  cr_assert_not_null(info, "%s: no model %s in %s", f->h.model, f->h.model, f->h.file);
  check_info(f, info, f->h.scalar_size);
  return info;
}

static Fns open_jit(const GradFixture *f) {
  Fns fn = {.info = open_info(f)};
  cr_assert_eq(ganc_functions(state.model, fn.info, &fn.fns), 0, "%s: JIT: a function is missing",
               f->h.model);
  return fn;
}

static Fns open_aot(const GradFixture *f) {
  static char why[16384];
  Fns fn = {.info = open_info(f)};
  state.so = aot_build(f->h.file, "gcc", why, sizeof why);
  cr_assert_not_null(state.so, "%s: %s", f->h.model, why);
  const char *missing = model_fns(NULL, state.so, fn.info, &fn.fns);
  cr_assert_null(missing, "%s: gcc: no function %s_%s", f->h.model, f->h.model, missing);
  return fn;
}

static const GradFixture *setup(const char *name) {
  grad_fixture_load(&state.fixture, name);
  inputs_make(&state.fixture, state.fixture.h.scalar_size, &state.inputs);
  return &state.fixture;
}

/* Against PyTorch for the batch of 4 and for it repeated REPEATS times;
   the empty batch. */
static void check_build(const GradFixture *f, const Fns *fn, Grads *out, const char *how) {
  Inputs *in = &state.inputs;
  char what[64];
  Batch batch = batch_of(in, 0), repeated = batch_of(in, 1);
  run_backward(f, fn, in, fixture_packs(&f->h), &batch, out);
  snprintf(what, sizeof what, "%s vs PyTorch", how);
  check_reference(f, out, 0, what);
  run_backward(f, fn, in, REPEATS * fixture_packs(&f->h), &repeated, &state.rep);
  snprintf(what, sizeof what, "%s, batch repeated %d times, vs PyTorch", how, REPEATS);
  check_reference(f, &state.rep, 1, what);
  check_empty_batch(f, fn, in, how);
}

/* ---- Finite differences ---- */

/* The formula's bound on the values of tensor t: 2^-e. */
static double tensor_scale(const Tensor *t) {
  return ldexp(1, -weight_exponent(t->fan_in));
}

/* The loss of the fixture's batch that grad_d (is_d) or grad_g belongs to.
   Without batch_norm, the _batch function's. With it, the training loss,
   which only the _backward functions compute (the _batch ones normalize by
   the running statistics), their gradient going to scratch; the loss does
   not read the running statistics, but each call moves them, and
   loss_of restores them so that every evaluation is the call that gave
   the analytic gradient. */
static double fd_loss(const GradFixture *f, const Fns *fn, int is_d, void *scratch) {
  Inputs *in = &state.inputs;
  ganc_fn id = f->h.stats_count == 0
                   ? (is_d ? GANC_FN_DISCRIMINATOR_LOSS_BATCH : GANC_FN_GENERATOR_LOSS_BATCH)
                   : (is_d ? GANC_FN_DISCRIMINATOR_LOSS_BACKWARD : GANC_FN_GENERATOR_LOSS_BACKWARD);
  Batch b = batch_of(in, 0);
  return loss_of(f, fn, id, in, fixture_packs(&f->h), &b, scratch);
}

/* Parameter k of a double model by central differences of the loss its
   gradient belongs to, against the _backward gradient analytic. */
static void fd_check(Cmp *c, const GradFixture *f, const Fns *fn, void *scratch, int64_t k,
                     const Tensor *t, double analytic) {
  double *params = state.inputs.params;
  int is_d = k >= f->h.g_param_count;
  double p = params[k];
  double h = FD_STEP * fmax(fabs(p), tensor_scale(t));
  double plus = p + h, minus = p - h;
  params[k] = plus;
  double lp = fd_loss(f, fn, is_d, scratch);
  params[k] = minus;
  double lm = fd_loss(f, fn, is_d, scratch);
  params[k] = p;
  double fd = (lp - lm) / (plus - minus); /* plus - minus is exact */
  double atol = FD_ATOL;
  if (f->h.stats_count > 0) {
    double big = fmax(fabs(lp), fabs(lm));
    atol = fmax(atol, FD_LOSS_ULPS * (nextafter(big, INFINITY) - big) / (plus - minus));
  }
  double tol = FD_RTOL * fabs(fd) + atol;
  if (!cmp_within(c, analytic, fd, tol))
    cmp_fail(c, is_d ? "grad_d vs finite differences" : "grad_g vs finite differences", k,
             t->name, analytic, fd, tol);
}

/* Finite differences for all parameters (samples <= 0) or `samples` of each
   tensor, chosen by the formula's generator. */
static void fd_model(const GradFixture *f, const Fns *fn, int samples, const char *what) {
  Grads g = {0};
  Inputs *in = &state.inputs;
  Batch b = batch_of(in, 0);
  run_backward(f, fn, in, fixture_packs(&f->h), &b, &g);
  Cmp c = {f->h.model, what, 0, 0};
  if (f->h.stats_count == 0) {
    cmp_loss(&c, 8, "discriminator_loss_backward vs _batch", g.d_loss, g.d_loss_batch);
    cmp_loss(&c, 8, "generator_loss_backward vs _batch", g.g_loss, g.g_loss_batch);
  }
  void *scratch = scalar_alloc(8, f->h.param_count); /* either gradient */
  int checked = 0;
  for (int i = 0; i < f->ntensors; i++) {
    const Tensor *t = &f->tensors[i];
    int all = samples <= 0 || t->count <= samples;
    for (int j = 0; j < (all ? t->count : samples); j++) {
      int64_t k = t->offset;
      if (all)
        k += j;
      else
        k += (int64_t)(splitmix64(((uint64_t)STREAM_FD_SAMPLE << 32) +
                                  (uint64_t)(samples * i + j)) %
                       (uint64_t)t->count);
      int is_d = k >= f->h.g_param_count;
      double analytic = is_d ? g.d[k - f->h.g_param_count] : g.g[k];
      fd_check(&c, f, fn, scratch, k, t, analytic);
      checked++;
    }
  }
  cr_log_info("%s: %s: %d parameters", f->h.model, what, checked);
  cmp_finish(&c);
  free(scratch);
  grads_free(&g);
}

/* The first word of a line of .gan source. */
static int first_word_is(const char *line, const char *word) {
  line += strspn(line, " \t");
  size_t n = strlen(word);
  return !strncmp(line, word, n) && strchr(" \t{\n", line[n]) && line[n] != '\0';
}

/* The source of a float .gan file with `scalar double` declared in each
   model, after the line `model NAME {` that opens it. */
static char *as_double(const char *file) {
  size_t len;
  char *src = slurp(file, &len);
  cr_assert_not_null(src, "cannot read %s", file);
  static const char decl[] = "  scalar double\n";
  size_t cap = len + 1;
  for (const char *s = src; *s; s++)
    cap += *s == '\n' ? sizeof decl : 0;
  char *out = malloc(cap + sizeof decl), *o = out;
  cr_assert_not_null(out);
  int models = 0;
  for (const char *line = src; *line;) {
    size_t n = strcspn(line, "\n");
    int is_model = first_word_is(line, "model");
    cr_assert(!first_word_is(line, "scalar"), "%s already declares a scalar type", file);
    cr_assert(!is_model || memchr(line, '{', n), "%s: expected `model NAME {` on one line",
              file);
    memcpy(o, line, n);
    o += n;
    *o++ = '\n';
    if (is_model) {
      memcpy(o, decl, sizeof decl - 1);
      o += sizeof decl - 1;
      models++;
    }
    line += n + (line[n] == '\n');
  }
  *o = '\0';
  free(src);
  cr_assert_gt(models, 0, "%s: no model", file);
  return out;
}

/* ---- Tests ---- */

enum { ALL, DOUBLE_TEST_MODELS, EXAMPLE_MODELS };

/* Whether a fixture is of the kind wanted, by its file and scalar lines. */
static int fixture_is(const char *path, int kind) {
  if (kind == ALL)
    return 1;
  FILE *fp = fopen(path, "r");
  char line[512], file[256] = "", scalar[16] = "";
  while (fp && fgets(line, sizeof line, fp)) {
    sscanf(line, "file %255s", file);
    sscanf(line, "scalar %15s", scalar);
  }
  if (fp)
    fclose(fp);
  if (kind == DOUBLE_TEST_MODELS)
    return !strncmp(file, "tests/models/", 13) && !strcmp(scalar, "double");
  return !strncmp(file, "models/", 7);
}

/* One test instance per fixture file of the kind. */
static struct criterion_test_params fixture_names(int kind) {
  return fixture_names_in(BACKWARD_DIR, fixture_is, kind);
}

ParameterizedTestParameters(gradients, jit) { return fixture_names(ALL); }
ParameterizedTestParameters(gradients, aot) { return fixture_names(ALL); }
ParameterizedTestParameters(gradients, aot_matches_jit) { return fixture_names(ALL); }
ParameterizedTestParameters(gradients, finite_differences) {
  return fixture_names(DOUBLE_TEST_MODELS);
}
ParameterizedTestParameters(gradients, finite_differences_as_double) {
  return fixture_names(EXAMPLE_MODELS);
}

ParameterizedTest(FixtureName *fx, gradients, jit, .fini = teardown) {
  const GradFixture *f = setup(fx->name);
  Fns fn = open_jit(f);
  check_build(f, &fn, &state.jit, "JIT");
}

ParameterizedTest(FixtureName *fx, gradients, aot, .fini = teardown) {
  const GradFixture *f = setup(fx->name);
  Fns fn = open_aot(f);
  check_build(f, &fn, &state.aot, "gcc");
}

ParameterizedTest(FixtureName *fx, gradients, aot_matches_jit, .fini = teardown) {
  const GradFixture *f = setup(fx->name);
  Fns jit = open_jit(f), aot = open_aot(f);
  Batch b = batch_of(&state.inputs, 0);
  run_backward(f, &jit, &state.inputs, fixture_packs(&f->h), &b, &state.jit);
  run_backward(f, &aot, &state.inputs, fixture_packs(&f->h), &b, &state.aot);
  check_same(f, &state.aot, &state.jit, "gcc vs JIT");
}

/* Every parameter of the double models of tests/models. */
ParameterizedTest(FixtureName *fx, gradients, finite_differences, .fini = teardown) {
  const GradFixture *f = setup(fx->name);
  cr_assert_eq(f->h.scalar_size, 8);
  Fns fn = open_jit(f);
  fd_model(f, &fn, 0, "JIT, finite differences");
}

/* The float models of models/ as double copies, FD_SAMPLES parameters per
   tensor. */
ParameterizedTest(FixtureName *fx, gradients, finite_differences_as_double, .fini = teardown) {
  grad_fixture_load(&state.fixture, fx->name);
  const GradFixture *f = &state.fixture;
  inputs_make(f, 8, &state.inputs);
  static char err[8192];
  char label[300];
  snprintf(label, sizeof label, "%s (as double)", f->h.file);
  state.source = as_double(f->h.file);
  state.model = ganc_jit_string(state.source, label, err, sizeof err, NULL);
  cr_assert_not_null(state.model, "%s: ganc_jit_string failed:\n%s", label, err);
  const ganc_info *info = ganc_find_model(state.model, f->h.model);
  cr_assert_not_null(info, "%s: no model %s", label, f->h.model);
  check_info(f, info, 8);
  Fns fn = {.info = info};
  cr_assert_eq(ganc_functions(state.model, info, &fn.fns), 0, "%s: a function is missing", label);
  fd_model(f, &fn, FD_SAMPLES, "JIT as double, finite differences");
}

/* Every model the compiler finds in models/ and tests/models/ has a gradient
   fixture. */
Test(gradients, every_model_has_a_fixture) {
  const char *dirs[] = {"models", "tests/models"};
  int models = 0;
  for (size_t d = 0; d < sizeof dirs / sizeof *dirs; d++) {
    char **files = list_files(dirs[d], ".gan");
    for (char **file = files; *file; file++) {
      static char err[8192];
      ganc_model *m = ganc_jit(*file, err, sizeof err, NULL);
      cr_expect_not_null(m, "ganc_jit(%s) failed:\n%s", *file, err);
      for (int j = 0; m && j < ganc_model_count(m); j++) {
        char path[512];
        snprintf(path, sizeof path, BACKWARD_DIR "/%s.txt", ganc_model_info(m, j)->name);
        cr_expect(access(path, R_OK) == 0, "%s: model %s has no fixture %s", *file,
                  ganc_model_info(m, j)->name, path);
        models++;
      }
      if (m)
        ganc_free(m);
    }
    paths_free(files);
  }
  cr_expect_geq(models, 17, "found only %d models", models);
}

/* The finite-difference test of every parameter reaches every layer kind in
   both stacks: some `scalar double` model in tests/models has it in its
   generator and some in its discriminator (read from `ganc summary`). The
   two differ: only a discriminator layer's parameters get the discriminator
   loss's gradient, only a generator layer is reached through the gradient
   with respect to the discriminator's input. */
Test(gradients, finite_differences_cover_every_layer) {
  const char *kinds[] = {"linear",  "relu",    "leaky_relu", "tanh",
                         "sigmoid", "reshape", "flatten",    "conv2d",
                         "conv_transpose2d", "upsample", "batch_norm", "label",
                         "projection"};
  const char *stacks[] = {"generator", "discriminator"};
  enum { KINDS = sizeof kinds / sizeof *kinds, STACKS = 2 };
  int covered[STACKS][KINDS] = {{0}};
  char **files = list_files("tests/models", ".gan");
  for (char **file = files; *file; file++) {
    char args[512];
    snprintf(args, sizeof args, "summary '%s'", *file);
    Run r = run_ganc(args, NULL);
    cr_assert_eq(r.status, 0, "ganc %s failed:\n%s", args, r.err);
    int is_double = 0, stack = -1;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
      char scalar[16], word[64], layer[64];
      int index;
      if (sscanf(line, "model %*s (scalar %15[a-z]", scalar) == 1) {
        is_double = !strcmp(scalar, "double");
        stack = -1;
      } else if (sscanf(line, " %d %63[a-z_0-9]", &index, layer) == 2) {
        cr_assert(stack >= 0, "ganc %s: a layer outside a stack: %s", args, line);
        for (int k = 0; is_double && k < KINDS; k++)
          covered[stack][k] |= !strcmp(layer, kinds[k]);
      } else if (sscanf(line, " %63s", word) == 1) {
        for (int s = 0; s < STACKS; s++)
          if (!strcmp(word, stacks[s]))
            stack = s;
      }
    }
    run_free(&r);
  }
  paths_free(files);
  for (int s = 0; s < STACKS; s++)
    for (int k = 0; k < KINDS; k++)
      cr_expect(covered[s][k], "no `scalar double` model in tests/models has a %s layer in its %s",
                kinds[k], stacks[s]);
}
