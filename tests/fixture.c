/* fixture.c — the formula, fixture parsing and scalar helpers shared by the
 * suites that compare with PyTorch (fixture.h). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <glob.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

/* ---- The formula for parameters and inputs (same as forward.py) ---- */

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15u;
  uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

double signed_unit(uint64_t stream, uint64_t k) {
  int64_t top = (int64_t)(splitmix64((stream << 32) + k) >> 40);
  return ldexp((double)(top - (1 << 23)), -23);
}

/* floor(log2(n) / 2) == floor(floor(log2 n) / 2) */
int weight_exponent(int64_t fan_in) {
  int log2n = 0;
  while (fan_in >> (log2n + 1))
    log2n++;
  return log2n / 2;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

double formula_param(const Tensor *t, int64_t k) {
  double u = signed_unit(STREAM_PARAMS, (uint64_t)k);
  /* around batch_norm's initial weight 1, where every channel keeps its scale */
  if (t->rank == 1 && ends_with(t->name, ".weight"))
    return 0.5 + fabs(u);
  return ldexp(u, -weight_exponent(t->fan_in));
}

double formula_stat(const Tensor *t, int64_t k) {
  double u = signed_unit(STREAM_STATS, (uint64_t)k);
  return ends_with(t->name, ".running_var") ? 0.5 + fabs(u) : u / 8;
}

/* Every scalar of the tensors by value(t, k). */
static void formula_fill(const Tensor *tensors, int ntensors, int size, void *out,
                         double (*value)(const Tensor *, int64_t)) {
  for (int i = 0; i < ntensors; i++) {
    const Tensor *t = &tensors[i];
    for (int64_t k = t->offset; k < t->offset + t->count; k++)
      scalar_store(out, size, k, value(t, k));
  }
}

void formula_params(const Tensor *tensors, int ntensors, int size, void *params) {
  formula_fill(tensors, ntensors, size, params, formula_param);
}

void formula_stats(const Tensor *tensors, int ntensors, int size, void *stats) {
  formula_fill(tensors, ntensors, size, stats, formula_stat);
}

void formula_inputs(uint64_t stream, double scale, int size, int64_t n, void *out) {
  for (int64_t k = 0; k < n; k++)
    scalar_store(out, size, k, scale * signed_unit(stream, (uint64_t)k));
}

int formula_label(uint64_t stream, int classes, uint64_t k) {
  uint64_t top = splitmix64((stream << 32) + k) >> 40;
  return (int)((top * (uint64_t)classes) >> 24);
}

int *formula_labels(uint64_t stream, int classes, int64_t n) {
  int *labels = calloc((size_t)(n > 0 ? n : 1), sizeof *labels);
  cr_assert_not_null(labels);
  for (int64_t k = 0; classes > 0 && k < n; k++)
    labels[k] = formula_label(stream, classes, (uint64_t)k);
  return labels;
}

/* ---- Fixture text ---- */

void fixture_open(FixtureReader *r, const char *path) {
  *r = (FixtureReader){path, fopen(path, "r"), NULL, 0};
  cr_assert_not_null(r->fp, "cannot open %s", path);
}

int fixture_next(FixtureReader *r, char key[64], char value[256], int *count) {
  while (getline(&r->line, &r->cap, r->fp) > 0) {
    if (r->line[0] == '#' || r->line[0] == '\n')
      continue;
    if (sscanf(r->line, "section %63s %d", key, count) == 2) {
      cr_assert(*count >= 0, "%s: bad section line: %s", r->path, r->line);
      return 1;
    }
    cr_assert(sscanf(r->line, "%63s %255s", key, value) == 2, "%s: bad line: %s", r->path, r->line);
    return 2;
  }
  free(r->line);
  fclose(r->fp);
  *r = (FixtureReader){r->path, NULL, NULL, 0};
  return 0;
}

char *fixture_read_line(FixtureReader *r) {
  if (getline(&r->line, &r->cap, r->fp) <= 0)
    cr_assert_fail("%s: unexpected end of file", r->path);
  return r->line;
}

double fixture_parse_double(const char *s, const char *path) {
  char *end;
  double v = strtod(s, &end);
  cr_assert(end != s && (*end == '\n' || *end == '\0'), "%s: not a number: %s", path, s);
  return v;
}

double *fixture_read_values(FixtureReader *r, int count, int64_t expected, const char *key) {
  cr_assert(count == expected, "%s: section %s has %d values, expected %" PRId64, r->path, key, count, expected);
  double *v = malloc((size_t)(count > 0 ? count : 1) * sizeof *v);
  cr_assert_not_null(v);
  for (int i = 0; i < count; i++)
    v[i] = fixture_parse_double(fixture_read_line(r), r->path);
  return v;
}

int fixture_labels_section(FixtureReader *r, const char *key, int count, const FixtureHeader *h) {
  int which = !strcmp(key, "labels_real") ? FIXTURE_LABELS_REAL : !strcmp(key, "labels_fake") ? FIXTURE_LABELS_FAKE : 0;
  if (!which)
    return 0;
  uint64_t stream = which == FIXTURE_LABELS_REAL ? STREAM_LABELS_REAL : STREAM_LABELS_FAKE;
  cr_assert(h->classes >= 2, "%s: section %s without `classes` in the header", r->path, key);
  cr_assert(count == h->batch, "%s: section %s has %d labels, expected %d", r->path, key, count, h->batch);
  for (int k = 0; k < count; k++) {
    char *s = fixture_read_line(r), *end;
    long v = strtol(s, &end, 10);
    cr_assert(end != s && (*end == '\n' || *end == '\0'), "%s: %s: not a label: %s", r->path, key, s);
    int want = formula_label(stream, h->classes, (uint64_t)k);
    cr_assert(v == want, "%s: %s[%d] is %ld, the formula's %d (of %d classes)", r->path, key, k, v, want,
              h->classes);
  }
  return which;
}

static void fixture_read_tensor(Tensor *t, int with_fan_in, const char *line, const char *path) {
  int used = 0;
  t->fan_in = 0;
  int ok = with_fan_in ? sscanf(line, "%47s %" SCNd64 " %" SCNd64 " %d%n", t->name, &t->offset, &t->fan_in,
                                &t->rank, &used) == 4
                       : sscanf(line, "%47s %" SCNd64 " %d%n", t->name, &t->offset, &t->rank, &used) == 3;
  cr_assert(ok && t->rank >= 0 && t->rank <= GANC_MAX_RANK, "%s: bad tensor line: %s",
            path, line);
  t->count = 1;
  const char *s = line + used;
  for (int i = 0; i < t->rank; i++) {
    char *end;
    t->shape[i] = strtoll(s, &end, 10);
    cr_assert(end != s && t->shape[i] > 0, "%s: bad tensor line: %s", path, line);
    t->count *= t->shape[i];
    s = end;
  }
}

void fixture_read_tensors(Tensor *t, int max, int count, int with_fan_in, FixtureReader *r) {
  cr_assert(count <= max, "%s: too many tensors", r->path);
  for (int i = 0; i < count; i++)
    fixture_read_tensor(&t[i], with_fan_in, fixture_read_line(r), r->path);
}

void fixture_check_layout(const Tensor *t, int count, int64_t total, const char *what, const char *path) {
  int64_t offset = 0;
  for (int i = 0; i < count; i++) {
    cr_assert_eq(t[i].offset, offset, "%s: %s not contiguous", path, what);
    offset += t[i].count;
  }
  cr_assert_eq(offset, total, "%s: %s do not cover the %" PRId64 " scalars", path, what, total);
}

int fixture_pack(const FixtureHeader *h) {
  return h->pack > 0 ? h->pack : 1;
}

int fixture_packs(const FixtureHeader *h) {
  return h->batch / fixture_pack(h);
}

int fixture_header_key(FixtureHeader *h, const char *key, const char *value, const char *path) {
  if (!strcmp(key, "model"))
    snprintf(h->model, sizeof h->model, "%s", value);
  else if (!strcmp(key, "file"))
    snprintf(h->file, sizeof h->file, "%s", value);
  else if (!strcmp(key, "loss"))
    snprintf(h->loss, sizeof h->loss, "%s", value);
  else if (!strcmp(key, "pack"))
    h->pack = atoi(value);
  else if (!strcmp(key, "scalar"))
    h->scalar_size = !strcmp(value, "double") ? 8 : !strcmp(value, "float") ? 4 : 0;
  else if (!strcmp(key, "batch"))
    h->batch = atoi(value);
  else if (!strcmp(key, "input_scale"))
    h->input_scale = fixture_parse_double(value, path);
  else if (!strcmp(key, "latent_size"))
    h->latent_size = strtoll(value, NULL, 10);
  else if (!strcmp(key, "obs_size"))
    h->obs_size = strtoll(value, NULL, 10);
  else if (!strcmp(key, "g_param_count"))
    h->g_param_count = strtoll(value, NULL, 10);
  else if (!strcmp(key, "param_count"))
    h->param_count = strtoll(value, NULL, 10);
  else if (!strcmp(key, "stats_count"))
    h->stats_count = strtoll(value, NULL, 10);
  else if (!strcmp(key, "classes"))
    h->classes = atoi(value);
  else
    return 0;
  return 1;
}

/* ---- Test instances ---- */

static void fixture_names_free(struct criterion_test_params *ctp) {
  cr_free(ctp->params);
}

struct criterion_test_params fixture_names_in(const char *dir, int (*keep)(const char *path, int kind), int kind) {
  char pattern[512];
  glob_t g;
  size_t n = 0;
  FixtureName *names = NULL;
  snprintf(pattern, sizeof pattern, "%s/*.txt", dir);
  if (glob(pattern, 0, NULL, &g) == 0) {
    names = cr_malloc(g.gl_pathc * sizeof *names);
    for (size_t i = 0; names && i < g.gl_pathc; i++) {
      const char *base = strrchr(g.gl_pathv[i], '/') + 1;
      size_t len = strlen(base) - strlen(".txt");
      if (len >= sizeof names[n].name || (keep && !keep(g.gl_pathv[i], kind)))
        continue;
      memcpy(names[n].name, base, len);
      names[n].name[len] = '\0';
      n++;
    }
    globfree(&g);
  }
  return cr_make_param_array(FixtureName, names, n, fixture_names_free);
}

/* ---- Scalars of either width ---- */

void scalar_store(void *buf, int size, int64_t i, double v) {
  if (size == 4)
    ((float *)buf)[i] = (float)v;
  else
    ((double *)buf)[i] = v;
}

double scalar_load(const void *buf, int size, int64_t i) {
  return size == 4 ? ((const float *)buf)[i] : ((const double *)buf)[i];
}

void *scalar_alloc(int size, int64_t n) {
  void *p = calloc((size_t)(n > 0 ? n : 1), (size_t)size);
  cr_assert_not_null(p);
  return p;
}

void *scalars_from(int size, const double *v, int64_t n) {
  void *p = scalar_alloc(size, n);
  for (int64_t i = 0; i < n; i++)
    scalar_store(p, size, i, v[i]);
  return p;
}
