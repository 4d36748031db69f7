/* test_bounds.c — the emitted bounds functions (docs/DESIGN.md §8):
 * NAME_generate_bounds, NAME_score_bounds and NAME_fake_score_bounds.
 *
 * tests/reference/bounds.py writes, for every model, the exact interval
 * bounds (interval arithmetic in float64 through the PyTorch twins) over
 * boxes of several radii around forward.py's first inputs, with its
 * parameters and running statistics (the formula of fixture.c). For each
 * model, through the JIT and through the emitted C built by gcc, clang and
 * tcc (the last two on the three smallest boxes, with fewer points and no
 * search):
 *
 *   tight   no bound is looser than the exact interval bound beyond the
 *           rounding slack (CROWN's may be tighter, which the soundness
 *           checks keep honest): want_lo - got_lo and got_hi - want_hi
 *           <= SLACK * M + ABS, M the magnitude of the
 *           output's terms (bounds.py: max |x| over the box through |W|
 *           and |b|, layer by layer), SLACK 1e-3 and ABS 1e-30 for float,
 *           1e-10 and 1e-300 for double. Where the reference
 *           passes the scalar type's range on the way (the widest boxes of
 *           a few float models), a bound may be infinite, but none is NaN
 *           and none is inverted;
 *   sound   whatever generate, generate_batch, fake_score,
 *           fake_score_batch, real_score and real_score_batch return for an
 *           input in the box lies within the bounds: at the box's centre,
 *           random corners, random points, points built of the ends, the
 *           centre and 0, and the ends of a greedy search that pushes each
 *           score and a few of G's elements to either side, one coordinate
 *           to an end at a time.
 *
 * Inline models then push every activation to its kink (boxes whose ends
 * and inner points are the kink, -0, the smallest subnormals, and the first
 * layer's pre-activation crossing 0 along segments), and boxes with
 * infinite ends. Each test logs the inputs it tried and the violations
 * (--verbose shows them); a violation fails it. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "ganc.h"
#include "test.h"

#define FIXTURE_DIR "tests/fixtures/bounds"

enum { MAX_TENSORS = 64, MAX_BOXES = 8, MAX_REPORTS = 10 };

/* Under SANITIZE=1 (GANC_TEST_CFLAGS holds gcc's sanitizer flags) the
   emitted code is built with them, which tcc does not take and whose
   runtime clang's would clash with in this process: those two builds run
   without the sanitizers only, and the JIT's and gcc's checks are the
   light ones (what the sanitizers watch is the code, not the points). */
static int sanitized(void)
{
  const char *flags = getenv("GANC_TEST_CFLAGS");
  return flags && *flags;
}

/* ---- Fixtures ---- */

/* One box and the reference's bounds over it. */
typedef struct Box {
  double radius;
  int label_fake, label_real;
  int overflow[3]; /* generate's, the fake score's, the real score's path passes the scalar range */
  double *z_lo, *z_hi, *x_lo, *x_hi, *g_lo, *g_hi, *g_mag;
  double fake[3], real[3]; /* lower, upper, the magnitude of the terms */
} Box;

typedef struct Fixture {
  char path[256];
  FixtureHeader h;
  Tensor tensors[MAX_TENSORS], stats[MAX_TENSORS];
  int ntensors, nstats;
  Box box[MAX_BOXES];
  int nboxes;
} Fixture;

static void read_three(FixtureReader *r, int count, double v[3], const char *key)
{
  double *p = fixture_read_values(r, count, 3, key);
  memcpy(v, p, 3 * sizeof *v);
  free(p);
}

static void fixture_load(Fixture *f, const char *name)
{
  memset(f, 0, sizeof *f);
  snprintf(f->path, sizeof f->path, FIXTURE_DIR "/%s.txt", name);
  FixtureReader r;
  fixture_open(&r, f->path);
  char key[64], value[256];
  int kind, count;
  Box *b = NULL;
  while ((kind = fixture_next(&r, key, value, &count))) {
    int64_t z = fixture_pack(&f->h) * f->h.latent_size, x = fixture_pack(&f->h) * f->h.obs_size;
    if (kind == 2 && !strcmp(key, "box")) {
      cr_assert_lt(f->nboxes, MAX_BOXES, "%s: too many boxes", f->path);
      b = &f->box[f->nboxes++];
      b->radius = fixture_parse_double(value, f->path);
    } else if (kind == 2 && b && !strcmp(key, "label_fake")) {
      b->label_fake = atoi(value);
    } else if (kind == 2 && b && !strcmp(key, "label_real")) {
      b->label_real = atoi(value);
    } else if (kind == 2 && b && !strcmp(key, "overflow")) {
      cr_assert_eq(sscanf(value, "%d,%d,%d", &b->overflow[0], &b->overflow[1], &b->overflow[2]), 3);
    } else if (kind == 2) {
      cr_assert(fixture_header_key(&f->h, key, value, f->path), "%s: unknown key %s", f->path, key);
    } else if (!strcmp(key, "tensors")) {
      fixture_read_tensors(f->tensors, MAX_TENSORS, count, 1, &r);
      f->ntensors = count;
    } else if (!strcmp(key, "stats_tensors")) {
      fixture_read_tensors(f->stats, MAX_TENSORS, count, 0, &r);
      f->nstats = count;
    } else {
      cr_assert_not_null(b, "%s: section %s before a box", f->path, key);
      double **to = !strcmp(key, "z_lo")          ? &b->z_lo
                    : !strcmp(key, "z_hi")        ? &b->z_hi
                    : !strcmp(key, "x_lo")        ? &b->x_lo
                    : !strcmp(key, "x_hi")        ? &b->x_hi
                    : !strcmp(key, "generate_lo") ? &b->g_lo
                    : !strcmp(key, "generate_hi") ? &b->g_hi
                    : !strcmp(key, "generate_mag") ? &b->g_mag
                                                  : NULL;
      int64_t want = key[0] == 'z' ? z : key[0] == 'x' ? x : f->h.obs_size;
      if (to)
        *to = fixture_read_values(&r, count, want, key);
      else if (!strcmp(key, "fake_score"))
        read_three(&r, count, b->fake, key);
      else if (!strcmp(key, "real_score"))
        read_three(&r, count, b->real, key);
      else
        cr_assert_fail("%s: unknown section %s", f->path, key);
    }
  }
  cr_assert_str_eq(f->h.model, name, "%s: names model %s", f->path, f->h.model);
  cr_assert(f->nboxes > 0 && f->ntensors > 0, "%s: no boxes or no tensors", f->path);
  for (int i = 0; i < f->nboxes; i++)
    cr_assert(f->box[i].z_lo && f->box[i].z_hi && f->box[i].x_lo && f->box[i].x_hi && f->box[i].g_lo &&
                  f->box[i].g_hi && f->box[i].g_mag,
              "%s: box %d lacks a section", f->path, i);
  fixture_check_layout(f->tensors, f->ntensors, f->h.param_count, "tensors", f->path);
  fixture_check_layout(f->stats, f->nstats, f->h.stats_count, "stats_tensors", f->path);
}

static void fixture_free(Fixture *f)
{
  for (int i = 0; i < f->nboxes; i++) {
    Box *b = &f->box[i];
    double *v[] = {b->z_lo, b->z_hi, b->x_lo, b->x_hi, b->g_lo, b->g_hi, b->g_mag};
    for (size_t k = 0; k < sizeof v / sizeof *v; k++)
      free(v[k]);
  }
  memset(f, 0, sizeof *f);
}

/* ---- A model to call: its functions, parameters and statistics ---- */

typedef struct Model {
  const ganc_info *info;
  ganc_fns fns;
  int size;
  void *params, *stats;
  const char *what; /* "JIT", "gcc", ... */
} Model;

/* Bounds a model computed over a box. */
typedef struct Bounds {
  double *g_lo, *g_hi; /* obs_size each */
  double fake[2], real[2];
} Bounds;

static double *widened(const void *v, int size, int64_t n)
{
  double *w = malloc((size_t)(n > 0 ? n : 1) * sizeof *w);
  cr_assert_not_null(w);
  for (int64_t i = 0; i < n; i++)
    w[i] = scalar_load(v, size, i);
  return w;
}

/* The three bounds functions over a box: z_lo .. z_hi (pack latents) and
   x_lo .. x_hi (a pack of observations); generate_bounds takes the first
   latent. */
static Bounds bounds_of(const Model *m, const double *z_lo, const double *z_hi, const double *x_lo,
                        const double *x_hi, int label_fake, int label_real)
{
  const ganc_info *info = m->info;
  int s = m->size;
  int64_t nz = info->pack * info->latent_size, nx = info->pack * info->obs_size;
  void *zl = scalars_from(s, z_lo, nz), *zh = scalars_from(s, z_hi, nz);
  void *xl = scalars_from(s, x_lo, nx), *xh = scalars_from(s, x_hi, nx);
  void *gl = scalar_alloc(s, info->obs_size), *gh = scalar_alloc(s, info->obs_size);
  void *lo = scalar_alloc(s, 1), *hi = scalar_alloc(s, 1);
  Bounds b;
  ganc_args a = {.params = m->params, .stats = m->stats, .box_lo = zl, .box_hi = zh, .out_lo = gl, .out_hi = gh,
                 .z_labels = &label_fake, .x_labels = &label_real};
  ganc_call(info, &m->fns, GANC_FN_GENERATE_BOUNDS, &a);
  b.g_lo = widened(gl, s, info->obs_size);
  b.g_hi = widened(gh, s, info->obs_size);
  a.out_lo = lo;
  a.out_hi = hi;
  ganc_call(info, &m->fns, GANC_FN_FAKE_SCORE_BOUNDS, &a);
  b.fake[0] = scalar_load(lo, s, 0);
  b.fake[1] = scalar_load(hi, s, 0);
  a.box_lo = xl;
  a.box_hi = xh;
  ganc_call(info, &m->fns, GANC_FN_SCORE_BOUNDS, &a);
  b.real[0] = scalar_load(lo, s, 0);
  b.real[1] = scalar_load(hi, s, 0);
  void *v[] = {zl, zh, xl, xh, gl, gh, lo, hi};
  for (size_t k = 0; k < sizeof v / sizeof *v; k++)
    free(v[k]);
  return b;
}

static void bounds_free(Bounds *b)
{
  free(b->g_lo);
  free(b->g_hi);
}

/* ---- Tightness ---- */

typedef struct Tally {
  int64_t checked, failures;
  double worst; /* the most a bound is looser than the exact interval bound, over its slack */
  double width; /* the sum of the bounds' widths over the exact interval bounds' */
  int64_t widths;
} Tally;

/* One bound pair against the reference's (lower, upper and the magnitude
   of the terms), which overflow says may be infinite. */
static void check_pair(Tally *t, const Model *m, const char *what, int64_t i, double radius, const double got[2],
                       const double want[3], int overflow)
{
  double slack = m->size == 4 ? 1e-3 : 1e-10, abs = m->size == 4 ? 1e-30 : 1e-300;
  double scale = slack * want[2] + abs;
  t->checked++;
  int ok = !isnan(got[0]) && !isnan(got[1]) && got[0] <= got[1];
  if (ok && overflow) {
    ok = got[0] <= want[0] * (1 + 1e-9) + 1e-300 || got[0] == -INFINITY || want[0] < 0;
  } else if (ok) {
    double e = fmax(want[0] - got[0], got[1] - want[1]); /* looser than exact intervals by */
    t->worst = fmax(t->worst, e / scale);
    ok = isfinite(got[0]) && isfinite(got[1]) && e <= scale;
    if (radius > 0 && want[1] > want[0]) {
      t->width += (got[1] - got[0]) / (want[1] - want[0]);
      t->widths++;
    }
  }
  if (!ok && t->failures++ < MAX_REPORTS)
    cr_expect_fail("%s %s: %s[%" PRId64 "] over the box of radius %g: [%.9g, %.9g], exact [%.9g, %.9g] "
                   "(slack %.3g)%s",
                   m->info->name, m->what, what, i, radius, got[0], got[1], want[0], want[1], scale,
                   overflow ? ", where the reference overflows" : "");
}

static void check_tight(Tally *t, const Model *m, const Box *box, const Bounds *b)
{
  for (int64_t i = 0; i < m->info->obs_size; i++)
    check_pair(t, m, "generate", i, box->radius, (double[]){b->g_lo[i], b->g_hi[i]},
               (double[]){box->g_lo[i], box->g_hi[i], box->g_mag[i]}, box->overflow[0]);
  check_pair(t, m, "fake_score", 0, box->radius, b->fake, box->fake, box->overflow[1]);
  check_pair(t, m, "real_score", 0, box->radius, b->real, box->real, box->overflow[2]);
}

/* ---- Soundness ---- */

/* The inputs tried and the values outside their bounds. */
typedef struct Sound {
  int64_t inputs, values, violations;
} Sound;

static void violation(Sound *s, const Model *m, const char *fn, int64_t element, double got, double lo, double hi)
{
  if (s->violations++ < MAX_REPORTS)
    cr_expect_fail("%s %s: %s's element %" PRId64 " is %.9g, outside its bounds [%.9g, %.9g]", m->info->name,
                   m->what, fn, element, got, lo, hi);
}

/* v (n values per input, k inputs, the model's scalars) within [lo, hi]. */
static void within(Sound *s, const Model *m, const char *fn, const void *v, int64_t k, int64_t n, const double *lo,
                   const double *hi)
{
  s->inputs += k;
  for (int64_t j = 0; j < k; j++)
    for (int64_t i = 0; i < n; i++) {
      double got = scalar_load(v, m->size, j * n + i);
      s->values++;
      if (!(got >= lo[i] && got <= hi[i]))
        violation(s, m, fn, i, got, lo[i], hi[i]);
    }
}

/* A point of a box in a fresh array of the model's scalars, by kind: 0 the
   centre, 1 a random corner, 2 uniform, 3 each coordinate an end, the
   centre or 0 (when the box holds it). */
static void *point(const Model *m, const double *lo, const double *hi, int64_t n, int kind, ganc_rng *r)
{
  void *p = scalar_alloc(m->size, n);
  for (int64_t i = 0; i < n; i++) {
    double u = ganc_rng_uniform(r), v;
    switch (kind) {
    case 0: v = lo[i] + (hi[i] - lo[i]) / 2; break;
    case 1: v = u < 0.5 ? lo[i] : hi[i]; break;
    case 2: v = lo[i] + u * (hi[i] - lo[i]); break;
    default: {
      double c = lo[i] + (hi[i] - lo[i]) / 2;
      double choice[4] = {lo[i], hi[i], c, lo[i] <= 0 && hi[i] >= 0 ? 0 : c};
      v = choice[(int)(u * 4)];
    }
    }
    v = fmin(fmax(v, lo[i]), hi[i]);
    scalar_store(p, m->size, i, v);
    /* a float rounding out of the box goes back in */
    if (scalar_load(p, m->size, i) < lo[i] || scalar_load(p, m->size, i) > hi[i])
      scalar_store(p, m->size, i, lo[i]);
  }
  return p;
}

/* k points of a box of n elements, one after another, drawn by kind in
   turn (kind < 0: all four kinds). */
static void *points(const Model *m, const double *lo, const double *hi, int64_t n, int64_t k, ganc_rng *r)
{
  void *all = scalar_alloc(m->size, n * k);
  for (int64_t j = 0; j < k; j++) {
    void *p = point(m, lo, hi, n, j == 0 ? 0 : 1 + (int)(j % 3), r);
    memcpy((char *)all + (size_t)(j * n * m->size), p, (size_t)(n * m->size));
    free(p);
  }
  return all;
}

/* The functions of one kind over k inputs (packs for the scores): the
   batch one on all, and the single-sample one on each. */
typedef enum { RUN_GENERATE, RUN_FAKE, RUN_REAL } Run3;

static void *run(const Model *m, Run3 which, const void *in, int64_t k, int label, int single)
{
  const ganc_info *info = m->info;
  int64_t per = which == RUN_GENERATE ? info->obs_size : 1;
  int64_t in_per = which == RUN_REAL ? info->pack * info->obs_size
                   : which == RUN_FAKE ? info->pack * info->latent_size
                                       : info->latent_size;
  void *out = scalar_alloc(m->size, per * k);
  int *labels = malloc(sizeof(int) * (size_t)(k > 0 ? k : 1));
  cr_assert_not_null(labels);
  for (int64_t j = 0; j < k; j++)
    labels[j] = label;
  ganc_args a = {.params = m->params, .stats = m->stats, .n = (int)k, .out = out};
  if (!single) {
    a.z = a.x = in;
    a.z_labels = a.x_labels = labels;
    static const ganc_fn batch[3] = {GANC_FN_GENERATE_BATCH, GANC_FN_FAKE_SCORE_BATCH, GANC_FN_REAL_SCORE_BATCH};
    ganc_call(info, &m->fns, batch[which], &a);
  } else {
    for (int64_t j = 0; j < k; j++) {
      a.z = a.x = (const char *)in + (size_t)(j * in_per * m->size);
      a.z_labels = a.x_labels = &label;
      if (which == RUN_GENERATE) {
        a.out = (char *)out + (size_t)(j * per * m->size);
        ganc_call(info, &m->fns, GANC_FN_GENERATE, &a);
      } else {
        double v = ganc_call(info, &m->fns, which == RUN_FAKE ? GANC_FN_FAKE_SCORE : GANC_FN_REAL_SCORE, &a);
        scalar_store(out, m->size, j, v);
      }
    }
  }
  free(labels);
  return out;
}

/* Greedy search: from the centre, move one coordinate at a time to the
   end of the box that most pushes element `element` of which's output
   toward the side `up`, each round trying such moves of up to 32
   coordinates (all of them in a small box, others drawn at random) as
   one batch; every value seen is checked against the bounds. */
static void push(Sound *s, const Model *m, Run3 which, const double *lo, const double *hi, int64_t n, int label,
                 int64_t element, int up, const double *blo, const double *bhi, int rounds, ganc_rng *r)
{
  static const char *const names[3] = {"generate_batch", "fake_score_batch", "real_score_batch"};
  int64_t per = which == RUN_GENERATE ? m->info->obs_size : 1, moves = n < 32 ? n : 32, k = 2 * moves;
  int size = m->size;
  void *cur = point(m, lo, hi, n, 0, r), *cand = scalar_alloc(size, n * k);
  double best = up ? -INFINITY : INFINITY;
  for (int round = 0; round < rounds; round++) {
    for (int64_t j = 0; j < k; j++) {
      int64_t c = moves == n ? j / 2 : (int64_t)(ganc_rng_uniform(r) * (double)n);
      memcpy((char *)cand + (size_t)(j * n * size), cur, (size_t)(n * size));
      scalar_store(cand, size, j * n + c, j % 2 ? hi[c] : lo[c]);
    }
    void *out = run(m, which, cand, k, label, 0);
    within(s, m, names[which], out, k, per, blo, bhi);
    int64_t pick = -1;
    for (int64_t j = 0; j < k; j++) {
      double v = scalar_load(out, size, j * per + element);
      if (up ? v > best : v < best) {
        best = v;
        pick = j;
      }
    }
    free(out);
    if (pick < 0)
      break;
    memcpy(cur, (char *)cand + (size_t)(pick * n * size), (size_t)(n * size));
  }
  free(cur);
  free(cand);
}

/* Every check of soundness over one box; a light one (fewer points, no
   search) unless thorough. */
static void check_sound(Sound *s, const Model *m, const Box *box, const Bounds *b, int thorough, ganc_rng *r)
{
  const ganc_info *info = m->info;
  int64_t nz = info->pack * info->latent_size, nx = info->pack * info->obs_size, lat = info->latent_size;
  int64_t K = thorough ? 32 : 8;
  void *z = points(m, box->z_lo, box->z_hi, lat, K, r);
  void *zp = points(m, box->z_lo, box->z_hi, nz, K, r);
  void *x = points(m, box->x_lo, box->x_hi, nx, K, r);
  for (int single = 0; single <= 1; single++) {
    int64_t k = single ? 8 : K;
    void *g = run(m, RUN_GENERATE, z, k, box->label_fake, single);
    within(s, m, single ? "generate" : "generate_batch", g, k, info->obs_size, b->g_lo, b->g_hi);
    void *f = run(m, RUN_FAKE, zp, k, box->label_fake, single);
    within(s, m, single ? "fake_score" : "fake_score_batch", f, k, 1, &b->fake[0], &b->fake[1]);
    void *rs = run(m, RUN_REAL, x, k, box->label_real, single);
    within(s, m, single ? "real_score" : "real_score_batch", rs, k, 1, &b->real[0], &b->real[1]);
    free(g);
    free(f);
    free(rs);
  }
  free(z);
  free(zp);
  free(x);
  if (box->radius < 0.25 || !thorough)
    return;
  /* The boxes of radius 1/4 and 1: the scores to either side, and G's
     widest element and two others. */
  int rounds = info->param_count > 100000 ? 3 : 6;
  for (int up = 0; up <= 1; up++) {
    push(s, m, RUN_FAKE, box->z_lo, box->z_hi, nz, box->label_fake, 0, up, &b->fake[0], &b->fake[1], rounds, r);
    push(s, m, RUN_REAL, box->x_lo, box->x_hi, nx, box->label_real, 0, up, &b->real[0], &b->real[1], rounds, r);
    int64_t widest = 0;
    for (int64_t i = 1; i < info->obs_size; i++)
      if (b->g_hi[i] - b->g_lo[i] > b->g_hi[widest] - b->g_lo[widest])
        widest = i;
    int64_t picks[3] = {widest, info->obs_size / 2, info->obs_size - 1};
    for (int p = 0; p < 3; p++)
      push(s, m, RUN_GENERATE, box->z_lo, box->z_hi, lat, box->label_fake, picks[p], up, b->g_lo, b->g_hi, rounds, r);
  }
}

/* ---- The paths ---- */

static struct {
  Fixture fixture;
  ganc_model *jit;
  Aot *aot;
  Model model;
} state;

static void teardown(void)
{
  aot_free(state.aot);
  if (state.jit)
    ganc_free(state.jit);
  free(state.model.params);
  free(state.model.stats);
  fixture_free(&state.fixture);
  memset(&state, 0, sizeof state);
}

/* The fixture's model through the JIT, or built by cc (NULL: the JIT),
   with the formula's parameters and statistics. */
static const Model *open_model(const Fixture *f, const char *cc)
{
  static char err[16384];
  state.jit = ganc_jit(f->h.file, err, sizeof err, NULL);
  cr_assert_not_null(state.jit, "ganc_jit(%s) failed:\n%s", f->h.file, err);
  Model *m = &state.model;
  m->info = ganc_find_model(state.jit, f->h.model);
  cr_assert_not_null(m->info, "%s: no model %s", f->h.file, f->h.model);
  cr_assert_eq(m->info->param_count, f->h.param_count);
  cr_assert_eq(m->info->stats_count, f->h.stats_count);
  m->size = m->info->scalar_size;
  m->what = cc ? cc : "JIT";
  if (cc) {
    state.aot = aot_build(f->h.file, cc, err, sizeof err);
    cr_assert_not_null(state.aot, "%s: %s", f->h.model, err);
    const char *missing = model_fns(NULL, state.aot, m->info, &m->fns);
    cr_assert_null(missing, "%s %s: no function %s", f->h.model, cc, missing);
  } else {
    cr_assert_eq(ganc_functions(state.jit, m->info, &m->fns), 0);
  }
  m->params = scalar_alloc(m->size, m->info->param_count);
  formula_params(f->tensors, f->ntensors, m->size, m->params);
  m->stats = scalar_alloc(m->size, m->info->stats_count);
  formula_stats(f->stats, f->nstats, m->size, m->stats);
  return m;
}

/* Every box of a fixture: tight against the reference, and sound
   (thoroughly, or lightly for the slower builds). */
static void check_fixture(const char *name, const char *cc, int thorough)
{
  fixture_load(&state.fixture, name);
  const Fixture *f = &state.fixture;
  const Model *m = open_model(f, cc);
  Tally t = {0};
  Sound s = {0};
  ganc_rng r;
  ganc_rng_seed(&r, 11);
  for (int i = 0; i < f->nboxes; i++) {
    const Box *box = &f->box[i];
    if (!thorough && box->radius > 0.25) /* the slower builds: the three smallest boxes */
      continue;
    Bounds b = bounds_of(m, box->z_lo, box->z_hi, box->x_lo, box->x_hi, box->label_fake, box->label_real);
    check_tight(&t, m, box, &b);
    if (box->radius <= 1)
      check_sound(&s, m, box, &b, thorough, &r);
    bounds_free(&b);
  }
  cr_expect_eq(t.failures, 0, "%s %s: %" PRId64 " of %" PRId64 " bounds off the exact ones", name, m->what,
               t.failures, t.checked);
  cr_expect_eq(s.violations, 0, "%s %s: %" PRId64 " values outside their bounds", name, m->what, s.violations);
  cr_log_info("%s %s: %" PRId64 " bounds, at most %.3g of the slack looser than exact intervals, %.3g of their "
              "width on average; %" PRId64 " inputs, %" PRId64 " values, %" PRId64 " violations",
              name, m->what, t.checked, t.worst, t.widths ? t.width / (double)t.widths : 1.0, s.inputs, s.values,
              s.violations);
}

static struct criterion_test_params fixture_names(void)
{
  return fixture_names_in(FIXTURE_DIR, NULL, 0);
}

ParameterizedTestParameters(bounds, jit)
{
  return fixture_names();
}

ParameterizedTestParameters(bounds, gcc)
{
  return fixture_names();
}

ParameterizedTestParameters(bounds, clang)
{
  return fixture_names();
}

ParameterizedTestParameters(bounds, tcc)
{
  return fixture_names();
}

ParameterizedTest(FixtureName *fx, bounds, jit, .fini = teardown, .timeout = 120)
{
  check_fixture(fx->name, NULL, !sanitized());
}

ParameterizedTest(FixtureName *fx, bounds, gcc, .fini = teardown, .timeout = 120)
{
  check_fixture(fx->name, "gcc", !sanitized());
}

ParameterizedTest(FixtureName *fx, bounds, clang, .fini = teardown, .timeout = 120)
{
  if (sanitized())
    cr_skip_test("clang's sanitizer runtime is not gcc's");
  check_fixture(fx->name, "clang", 0);
}

ParameterizedTest(FixtureName *fx, bounds, tcc, .fini = teardown, .timeout = 120)
{
  if (sanitized())
    cr_skip_test("tcc takes no sanitizer flags");
  check_fixture(fx->name, "tcc", 0);
}

/* ---- Boxes with infinite ends: no NaN, no inverted interval ---- */

/* Every model's bounds over boxes with infinite ends (the whole line, a
   half line, a point at infinity) are ordered and never NaN. */
static void check_infinite(const Model *m, Sound *s)
{
  const ganc_info *info = m->info;
  int64_t nz = info->pack * info->latent_size, nx = info->pack * info->obs_size;
  static const double ends[4][2] = {{-INFINITY, INFINITY}, {0, INFINITY}, {-INFINITY, 0}, {INFINITY, INFINITY}};
  for (int e = 0; e < 4; e++) {
    double *zl = malloc(sizeof(double) * (size_t)nz), *zh = malloc(sizeof(double) * (size_t)nz);
    double *xl = malloc(sizeof(double) * (size_t)nx), *xh = malloc(sizeof(double) * (size_t)nx);
    cr_assert(zl && zh && xl && xh);
    for (int64_t i = 0; i < nz; i++) {
      zl[i] = ends[e][0];
      zh[i] = ends[e][1];
    }
    for (int64_t i = 0; i < nx; i++) {
      xl[i] = ends[e][0];
      xh[i] = ends[e][1];
    }
    Bounds b = bounds_of(m, zl, zh, xl, xh, 0, 0);
    for (int64_t i = 0; i <= info->obs_size + 1; i++) {
      double lo = i < info->obs_size ? b.g_lo[i] : i == info->obs_size ? b.fake[0] : b.real[0];
      double hi = i < info->obs_size ? b.g_hi[i] : i == info->obs_size ? b.fake[1] : b.real[1];
      s->values++;
      if (!(lo <= hi) && s->violations++ < MAX_REPORTS)
        cr_expect_fail("%s %s: over the box [%g, %g], output %" PRId64 " has bounds [%g, %g]", info->name, m->what,
                       ends[e][0], ends[e][1], i, lo, hi);
    }
    bounds_free(&b);
    free(zl);
    free(zh);
    free(xl);
    free(xh);
  }
}

ParameterizedTestParameters(bounds, infinite_boxes)
{
  return fixture_names();
}

ParameterizedTest(FixtureName *fx, bounds, infinite_boxes, .fini = teardown, .timeout = 60)
{
  fixture_load(&state.fixture, fx->name);
  Sound s = {0};
  check_infinite(open_model(&state.fixture, NULL), &s);
  cr_expect_eq(s.violations, 0, "%s: %" PRId64 " NaN or inverted bounds", fx->name, s.violations);
}

/* ---- Kinks ---- */

/* An inline model of one scalar type compiled by the JIT, its parameters
   from the initializer (seed 5) and its statistics away from 0 and 1. */
static const Model *open_inline(const char *src)
{
  static char err[8192];
  state.jit = ganc_jit_string(src, "<kinks>", err, sizeof err, NULL);
  cr_assert_not_null(state.jit, "%s\n%s", src, err);
  Model *m = &state.model;
  m->info = ganc_model_info(state.jit, 0);
  m->size = m->info->scalar_size;
  m->what = "JIT";
  cr_assert_eq(ganc_functions(state.jit, m->info, &m->fns), 0);
  m->params = scalar_alloc(m->size, m->info->param_count);
  ganc_init_params(m->info, 5, m->params);
  m->stats = scalar_alloc(m->size, m->info->stats_count);
  for (int64_t i = 0; i < m->info->stats_count; i++)
    scalar_store(m->stats, m->size, i, 0.5 + 0.25 * (double)(i % 3));
  return m;
}

/* A box's points made of its ends, 0, -0 and the smallest subnormals
   where the box holds them, and the first layer's kinks: along segments
   between random points, where pre-activation j of the first (linear)
   layer, W z + b in double, crosses 0, and one step of the scalar type to
   either side. Each point's generate (and real_score, when the point is
   an observation too) lies in the box's bounds. */
static void check_kink_points(Sound *s, const Model *m, const double *lo, const double *hi, int first_linear,
                              int width, ganc_rng *r)
{
  const ganc_info *info = m->info;
  int64_t n = info->latent_size;
  double tiny = m->size == 4 ? 0x1p-149 : 0x1p-1074;
  double special[8] = {0, -0.0, tiny, -tiny, 1e-30, -1e-30, 0, 0};
  Bounds b = bounds_of(m, lo, hi, lo, hi, 0, 0); /* unconditional, unpacked: the boxes of z and x agree */
  void *p = scalar_alloc(m->size, n);
  for (int k = 0; k < 64; k++) {
    for (int64_t i = 0; i < n; i++) {
      double c[10] = {lo[i], hi[i]};
      int nc = 2;
      for (int j = 0; j < 6; j++)
        if (special[j] >= lo[i] && special[j] <= hi[i])
          c[nc++] = special[j];
      scalar_store(p, m->size, i, c[(int)(ganc_rng_uniform(r) * nc)]);
    }
    void *g = run(m, RUN_GENERATE, p, 1, 0, 1);
    within(s, m, "generate", g, 1, info->obs_size, b.g_lo, b.g_hi);
    free(g);
    if (info->obs_size == n) { /* the same point as an observation, into D's first layer */
      void *d = run(m, RUN_REAL, p, 1, 0, 1);
      within(s, m, "real_score", d, 1, 1, &b.real[0], &b.real[1]);
      free(d);
    }
  }
  if (first_linear) {
    const double *w0 = NULL;
    double *w = malloc(sizeof(double) * (size_t)(width * n + width)), za[64], zb[64];
    cr_assert(w && n <= 64);
    for (int64_t i = 0; i < width * n + width; i++)
      w[i] = scalar_load(m->params, m->size, i);
    w0 = w;
    for (int k = 0; k < 32; k++) {
      for (int64_t i = 0; i < n; i++) {
        za[i] = lo[i] + ganc_rng_uniform(r) * (hi[i] - lo[i]);
        zb[i] = lo[i] + ganc_rng_uniform(r) * (hi[i] - lo[i]);
      }
      for (int j = 0; j < width; j++) {
        double ua = w0[width * n + j], ub = ua;
        for (int64_t i = 0; i < n; i++) {
          ua += w0[j * n + i] * za[i];
          ub += w0[j * n + i] * zb[i];
        }
        if ((ua < 0) == (ub < 0))
          continue;
        double t = ua / (ua - ub);
        for (int side = -1; side <= 1; side++) {
          for (int64_t i = 0; i < n; i++) {
            double v = za[i] + t * (zb[i] - za[i]);
            scalar_store(p, m->size, i, v);
            if (side && m->size == 4)
              scalar_store(p, m->size, i, nextafterf((float)scalar_load(p, m->size, i), side * INFINITY));
            else if (side)
              scalar_store(p, m->size, i, nextafter(scalar_load(p, m->size, i), side * INFINITY));
            double got = scalar_load(p, m->size, i);
            scalar_store(p, m->size, i, fmin(fmax(got, lo[i]), hi[i]));
          }
          void *g = run(m, RUN_GENERATE, p, 1, 0, 1);
          within(s, m, "generate", g, 1, info->obs_size, b.g_lo, b.g_hi);
          free(g);
        }
      }
    }
    free(w);
  }
  free(p);
  bounds_free(&b);
}

/* Every activation, in float and double, straight on the latent and
   after a linear layer, over boxes whose ends or inner points are its
   kink; batch_norm before it too. */
Test(bounds, kinks, .fini = teardown, .timeout = 120)
{
  static const char *const acts[] = {"relu", "leaky_relu(0.2)", "leaky_relu(-0.5)", "leaky_relu(0)", "tanh",
                                     "sigmoid"};
  static const char *const scalars[] = {"float", "double"};
  static const double boxes[][2] = {{-1, 1},     {0, 0},       {-0.0, 0},   {-0x1p-149, 0x1p-149}, {0, 1},
                                    {-1, 0},     {-1e-30, 1e-30}, {-40, 40}, {-3, -2},              {2, 3}};
  enum { NBOXES = sizeof boxes / sizeof boxes[0], L = 6, WIDTH = 8 };
  Sound s = {0};
  ganc_rng r;
  ganc_rng_seed(&r, 3);
  for (size_t a = 0; a < sizeof acts / sizeof *acts; a++)
    for (int sc = 0; sc < 2; sc++)
      for (int shape = 0; shape < 3; shape++) {
        char src[512];
        const char *gen[3] = {"%s", "linear(8)\n    %s\n    linear(4)", "batch_norm\n    %s"};
        char body[128];
        snprintf(body, sizeof body, gen[shape], acts[a]);
        snprintf(src, sizeof src,
                 "model k {\n  scalar %s\n  latent [%d]\n  observation [%d]\n  generator {\n    %s\n  }\n"
                 "  discriminator {\n    %s\n    linear(1)\n  }\n}\n",
                 scalars[sc], L, shape == 1 ? 4 : L, body, acts[a]);
        const Model *m = open_inline(src);
        for (int bx = 0; bx < NBOXES; bx++) {
          double lo[L], hi[L];
          for (int i = 0; i < L; i++) {
            lo[i] = boxes[bx][0];
            hi[i] = boxes[bx][1];
          }
          check_kink_points(&s, m, lo, hi, shape == 1, WIDTH, &r);
        }
        teardown();
      }
  cr_expect_eq(s.violations, 0, "%" PRId64 " values outside their bounds", s.violations);
  cr_log_info("kinks: %" PRId64 " inputs, %" PRId64 " values, %" PRId64 " violations", s.inputs, s.values,
              s.violations);
}

/* ---- Reentrant ---- */

typedef struct Caller {
  const Model *m;
  double z_lo[64], z_hi[64];
  double fake[2];
  int differs;
} Caller;

static void *call_bounds(void *arg)
{
  Caller *c = arg;
  for (int k = 0; k < 20; k++) {
    Bounds b = bounds_of(c->m, c->z_lo, c->z_hi, c->z_lo, c->z_hi, 0, 0);
    c->differs |= memcmp(b.fake, c->fake, sizeof c->fake) != 0;
    bounds_free(&b);
  }
  return NULL;
}

/* Two threads calling the bounds functions at once get what each gets
   alone, bit for bit. */
Test(bounds, reentrant, .fini = teardown, .timeout = 60)
{
  const Model *m = open_inline("model r {\n  latent [16]\n  observation [16]\n  generator {\n    linear(32)\n    tanh\n"
                               "    linear(16)\n  }\n  discriminator {\n    linear(32)\n    leaky_relu(0.2)\n"
                               "    linear(1)\n  }\n}\n");
  Caller c[2];
  for (int t = 0; t < 2; t++) {
    c[t].m = m;
    c[t].differs = 0;
    for (int i = 0; i < 16; i++) {
      c[t].z_lo[i] = -0.5 - t;
      c[t].z_hi[i] = 0.25 + t;
    }
    Bounds b = bounds_of(m, c[t].z_lo, c[t].z_hi, c[t].z_lo, c[t].z_hi, 0, 0);
    memcpy(c[t].fake, b.fake, sizeof b.fake);
    bounds_free(&b);
  }
  cr_assert(c[0].fake[1] - c[0].fake[0] < c[1].fake[1] - c[1].fake[0], "the wider box has the wider bounds");
  pthread_t th[2];
  for (int t = 0; t < 2; t++)
    cr_assert_eq(pthread_create(&th[t], NULL, call_bounds, &c[t]), 0);
  for (int t = 0; t < 2; t++)
    pthread_join(th[t], NULL);
  cr_expect(!c[0].differs && !c[1].differs, "a concurrent call changed a result");
}

/* A generator wider than CROWN_MAX_WIDTH keeps interval bounds, D its
   CROWN chain (its fake-score bounds take G's interval box), and every
   bound holds. */
Test(bounds, wide_chain, .fini = teardown, .timeout = 60)
{
  const Model *m = open_inline("model w {\n  latent [8]\n  observation [8]\n  generator {\n    linear(5000)\n    relu\n"
                               "    linear(8)\n  }\n  discriminator {\n    linear(16)\n    relu\n    linear(1)\n  }\n}\n");
  Sound s = {0};
  ganc_rng r;
  ganc_rng_seed(&r, 9);
  double lo[8], hi[8];
  for (int i = 0; i < 8; i++) {
    lo[i] = -0.5;
    hi[i] = 0.25 * i;
  }
  check_kink_points(&s, m, lo, hi, 0, 0, &r);
  Bounds b = bounds_of(m, lo, hi, lo, hi, 0, 0);
  void *z = points(m, lo, hi, 8, 64, &r);
  void *f = run(m, RUN_FAKE, z, 64, 0, 0);
  within(&s, m, "fake_score_batch", f, 64, 1, &b.fake[0], &b.fake[1]);
  free(z);
  free(f);
  bounds_free(&b);
  cr_expect_eq(s.violations, 0, "%" PRId64 " values outside their bounds", s.violations);
}
