/* test_adam.c — ganc_adam_step against torch.optim.Adam.
 *
 * tests/reference/adam.py writes tests/fixtures/adam.txt (its docstring
 * describes the format): the initial parameters, ten gradients, and for each
 * scalar type and each of two settings the parameters PyTorch holds after
 * every step, with its two moments after the last. Here the same steps run
 * through ganc_adam_step in the same scalar type.
 *
 * Tolerance for the parameters, |got - want| <= rtol * |want| + atol:
 *   float:  rtol 1e-6, atol 1e-9
 *   double: rtol 1e-12, atol 0
 * ganc follows PyTorch's sequence of operations, so results differ by a few
 * roundings (1e-6 is about 16 ulps of a float): PyTorch's CPU kernels fuse
 * m * beta1 + (1 - beta1) * g into one FMA, ganc's C need not.
 * The moments are sums of terms of both signs that can cancel (m = -1.04
 * from terms near 10), so their tolerance is rtol times the same sum taken
 * over absolute values: rtol * S with S = beta1 * S + (1 - beta1) * |g| (and
 * with g * g for the second moment, where S = v). */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "ganc.h"

#define ADAM_FIXTURE "tests/fixtures/adam.txt"

enum { N_MAX = 256, STEPS_MAX = 64, MAX_REPORTS = 12 };

typedef struct Run {
  char type[16], name[32];
  ganc_adam opt;
  double after[STEPS_MAX][N_MAX]; /* parameters after step t + 1 */
  double m[N_MAX], v[N_MAX];      /* moments after the last step */
} Run;

typedef struct AdamFixture {
  int n, steps;
  double init[N_MAX];
  double grad[STEPS_MAX][N_MAX]; /* gradient at step t + 1 */
  int nruns;
  Run runs[8];
} AdamFixture;

static AdamFixture fx;

/* n numbers after the first `skip` words of line into out. */
static void parse_vector(const char *line, int skip, int n, double *out) {
  const char *s = line;
  for (int i = 0; i < skip; i++) {
    s += strspn(s, " ");
    s += strcspn(s, " \n");
  }
  for (int i = 0; i < n; i++) {
    char *end;
    out[i] = strtod(s, &end);
    cr_assert(end != s, ADAM_FIXTURE ": too few values in: %.60s", line);
    s = end;
  }
  s += strspn(s, " ");
  cr_assert(*s == '\n' || *s == '\0', ADAM_FIXTURE ": too many values in: %.60s", line);
}

static void load_fixture(void) {
  memset(&fx, 0, sizeof fx);
  FILE *fp = fopen(ADAM_FIXTURE, "r");
  cr_assert_not_null(fp, "cannot open %s", ADAM_FIXTURE);
  char *line = NULL;
  size_t cap = 0;
  Run *run = NULL;
  int t, grads = 0, steps_seen = 0;
  while (getline(&line, &cap, fp) > 0) {
    char word[32];
    if (line[0] == '#' || sscanf(line, "%31s", word) != 1)
      continue;
    if (!strcmp(word, "n")) {
      fx.n = atoi(line + 2);
      cr_assert(fx.n > 0 && fx.n <= N_MAX, ADAM_FIXTURE ": bad n");
    } else if (!strcmp(word, "steps")) {
      fx.steps = atoi(line + 6);
      cr_assert(fx.steps > 0 && fx.steps <= STEPS_MAX, ADAM_FIXTURE ": bad steps");
    } else if (!strcmp(word, "init")) {
      parse_vector(line, 1, fx.n, fx.init);
    } else if (!strcmp(word, "grad")) {
      cr_assert(sscanf(line, "grad %d", &t) == 1 && t == grads + 1,
                ADAM_FIXTURE ": gradients out of order");
      parse_vector(line, 2, fx.n, fx.grad[grads++]);
    } else if (!strcmp(word, "run")) {
      cr_assert(fx.nruns < (int)(sizeof fx.runs / sizeof *fx.runs), ADAM_FIXTURE ": too many runs");
      cr_assert(!run || steps_seen == fx.steps, ADAM_FIXTURE ": run %s has too few steps",
                run->name);
      run = &fx.runs[fx.nruns++];
      ganc_adam *o = &run->opt;
      cr_assert(sscanf(line, "run %15s %31s %lf %lf %lf %lf", run->type, run->name, &o->lr,
                       &o->beta1, &o->beta2, &o->eps) == 6,
                ADAM_FIXTURE ": bad line: %s", line);
      steps_seen = 0;
    } else if (!strcmp(word, "step")) {
      cr_assert(run && sscanf(line, "step %d", &t) == 1 && t == steps_seen + 1 &&
                    t <= fx.steps,
                ADAM_FIXTURE ": steps out of order");
      parse_vector(line, 2, fx.n, run->after[steps_seen++]);
    } else if (!strcmp(word, "exp_avg")) {
      cr_assert_not_null(run);
      parse_vector(line, 1, fx.n, run->m);
    } else if (!strcmp(word, "exp_avg_sq")) {
      cr_assert_not_null(run);
      parse_vector(line, 1, fx.n, run->v);
    } else {
      cr_assert_fail(ADAM_FIXTURE ": unknown line: %.60s", line);
    }
  }
  free(line);
  fclose(fp);
  cr_assert(fx.n > 0 && grads == fx.steps && fx.nruns > 0 && steps_seen == fx.steps,
            ADAM_FIXTURE ": incomplete");
}

static const Run *find_run(const char *type, const char *name) {
  load_fixture();
  for (int i = 0; i < fx.nruns; i++)
    if (!strcmp(fx.runs[i].type, type) && !strcmp(fx.runs[i].name, name))
      return &fx.runs[i];
  cr_assert_fail(ADAM_FIXTURE ": no run %s %s", type, name);
  return NULL;
}

static void mismatch(const char *what, int step, int i, double got, double want, double tol,
                     int *reports) {
  if ((*reports)++ < MAX_REPORTS)
    cr_expect_fail("%s after step %d, index %d: got %.17g, want %.17g (tolerance %.3g)", what,
                   step, i, got, want, tol);
}

/* got[i] against want[i]; reports the mismatches. */
static void compare(const char *what, int step, int n, const double *got, const double *want,
                    double rtol, double atol, int *reports) {
  for (int i = 0; i < n; i++) {
    double tol = rtol * fabs(want[i]) + atol;
    if (!(fabs(got[i] - want[i]) <= tol))
      mismatch(what, step, i, got[i], want[i], tol, reports);
  }
}

/* A moment against PyTorch's, within rtol of its terms' absolute sum. */
static void compare_moment(const char *what, int step, int n, const double *got,
                           const double *want, const double *scale, double rtol, int *reports) {
  for (int i = 0; i < n; i++) {
    double tol = rtol * scale[i];
    if (!(fabs(got[i] - want[i]) <= tol))
      mismatch(what, step, i, got[i], want[i], tol, reports);
  }
}

/* Every step of one run through ganc_adam_step, in the run's scalar type. */
static void check_run(const char *type, const char *name) {
  const Run *run = find_run(type, name);
  int size = !strcmp(type, "float32") ? 4 : 8, n = fx.n;
  double rtol = size == 4 ? 1e-6 : 1e-12, atol = size == 4 ? 1e-9 : 0;
  void *p = scalar_alloc(size, n), *g = scalar_alloc(size, n);
  void *m = scalar_alloc(size, n), *v = scalar_alloc(size, n);
  double got[N_MAX], scale_m[N_MAX] = {0}, scale_v[N_MAX] = {0};
  for (int i = 0; i < n; i++)
    scalar_store(p, size, i, fx.init[i]);
  int reports = 0;
  char what[96];
  snprintf(what, sizeof what, "%s %s: parameters", type, name);
  for (int t = 1; t <= fx.steps; t++) {
    for (int i = 0; i < n; i++) {
      double gi = fx.grad[t - 1][i];
      scalar_store(g, size, i, gi);
      scale_m[i] = run->opt.beta1 * scale_m[i] + (1 - run->opt.beta1) * fabs(gi);
      scale_v[i] = run->opt.beta2 * scale_v[i] + (1 - run->opt.beta2) * gi * gi;
    }
    ganc_adam_step(&run->opt, size, t, n, p, g, m, v);
    for (int i = 0; i < n; i++)
      got[i] = scalar_load(p, size, i);
    compare(what, t, n, got, run->after[t - 1], rtol, atol, &reports);
  }
  snprintf(what, sizeof what, "%s %s: first moment", type, name);
  for (int i = 0; i < n; i++)
    got[i] = scalar_load(m, size, i);
  compare_moment(what, fx.steps, n, got, run->m, scale_m, rtol, &reports);
  snprintf(what, sizeof what, "%s %s: second moment", type, name);
  for (int i = 0; i < n; i++)
    got[i] = scalar_load(v, size, i);
  compare_moment(what, fx.steps, n, got, run->v, scale_v, rtol, &reports);
  if (reports > MAX_REPORTS)
    cr_expect_fail("%s %s: %d more mismatches not shown", type, name, reports - MAX_REPORTS);
  free(p);
  free(g);
  free(m);
  free(v);
}

Test(adam, float_defaults) { check_run("float32", "default"); }
Test(adam, float_other_settings) { check_run("float32", "other"); }
Test(adam, double_defaults) { check_run("float64", "default"); }
Test(adam, double_other_settings) { check_run("float64", "other"); }

/* The fixture's default run is ganc's default optimizer. */
Test(adam, defaults_macro) {
  const Run *run = find_run("float32", "default");
  ganc_adam d = GANC_ADAM_DEFAULTS;
  cr_expect(d.lr == run->opt.lr && d.beta1 == run->opt.beta1 && d.beta2 == run->opt.beta2 &&
                d.eps == run->opt.eps,
            "GANC_ADAM_DEFAULTS is {%g, %g, %g, %g}, the fixture's default run {%g, %g, %g, %g}",
            d.lr, d.beta1, d.beta2, d.eps, run->opt.lr, run->opt.beta1, run->opt.beta2,
            run->opt.eps);
}

/* n = 0 touches nothing. */
Test(adam, empty) {
  ganc_adam opt = GANC_ADAM_DEFAULTS;
  float p = 1, g = 1, m = 2, v = 3;
  ganc_adam_step(&opt, 4, 1, 0, &p, &g, &m, &v);
  cr_expect(p == 1 && m == 2 && v == 3);
}
