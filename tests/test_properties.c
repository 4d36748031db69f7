/* test_properties.c — the GAN specification's properties (docs/DESIGN.md
 * §1) on every model in models/ and tests/models/, compiled by the JIT and
 * ahead of time by gcc, for the model's loss with terms r, f and g:
 *   1. fake_score(z) == real_score(generate(z))                  bit for bit
 *      (for a packed model: z a pack of latents, generated together)
 *   2. discriminator_loss(x,z) == r(real_score(x)) + f(fake_score(z))  bit for bit
 *   3. generator_loss(z) == g(fake_score(z))                     bit for bit
 *   4. LSGAN: generator_loss == 0 when fake_score == 1; discriminator_loss
 *      == 0 when real_score == 1 and fake_score == 0. Hinge:
 *      discriminator_loss == 0 when real_score >= 1 and fake_score <= -1
 *      (parameters built to get there)
 *   5. LSGAN and logistic losses >= 0; the hinge discriminator loss >= 0
 * 1-3 are the same float operations in the same order (the terms below are
 * written as the emitter writes them, with the C library's functions of the
 * scalar type), so equality is exact. A conditional model satisfies them
 * for each label (docs/DESIGN.md §1): they run once per label, every label
 * up to 16 classes and 16 spread from 0 to N-1 beyond (labels_to_check). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

enum { DRAWS = 8, ALL_LABELS = 16 };

/* Parameters: Xavier weights from the model's own initializer, small
   nonzero biases so that every term of the computation is exercised. */
static void random_params(const ganc_info *info, uint64_t seed, void *p)
{
  ganc_init_params(info, seed, p);
  ganc_rng r;
  ganc_rng_seed(&r, seed ^ 0xb1a5);
  for (int k = 0; k < info->ntensors; k++) {
    const ganc_tensor *t = &info->tensors[k];
    if (t->rank != 1)
      continue;
    for (int64_t i = 0; i < t->count; i++) {
      double v = 0.2 * ganc_rng_uniform(&r) - 0.1;
      if (info->scalar_size == 4)
        ((float *)p)[t->offset + i] = (float)v;
      else
        ((double *)p)[t->offset + i] = v;
    }
  }
}

static void uniform_fill(ganc_rng *r, int size, int64_t n, void *out)
{
  for (int64_t i = 0; i < n; i++) {
    double v = 2 * ganc_rng_uniform(r) - 1;
    if (size == 4)
      ((float *)out)[i] = (float)v;
    else
      ((double *)out)[i] = v;
  }
}

typedef enum { LSGAN, LOGISTIC, HINGE } Loss;

static Loss loss_of(const ganc_info *info)
{
  if (!strcmp(info->loss, "logistic"))
    return LOGISTIC;
  if (!strcmp(info->loss, "hinge"))
    return HINGE;
  cr_assert_str_eq(info->loss, "lsgan", "%s: unknown loss %s", info->name, info->loss);
  return LSGAN;
}

/* The loss's terms r, f, g (which 0, 1, 2) of a score, in each scalar type. */
#define DEFINE_TERMS(T, EXP, LOG1P, FABS)                                                          \
  static T T##_softplus(T t) { return (t > 0 ? t : 0) + LOG1P(EXP(-FABS(t))); }                  \
  static T T##_term(Loss loss, int which, T s)                                                    \
  {                                                                                               \
    T m;                                                                                          \
    switch (loss) {                                                                               \
    case LSGAN:                                                                                   \
      m = which == 1 ? s : s - 1;                                                                 \
      return m * m;                                                                               \
    case LOGISTIC: return T##_softplus(which == 1 ? s : -s);                                      \
    case HINGE:                                                                                   \
      if (which == 2)                                                                             \
        return -s;                                                                                \
      m = which == 1 ? 1 + s : 1 - s;                                                             \
      return m > 0 ? m : 0;                                                                       \
    }                                                                                             \
    return 0;                                                                                     \
  }

DEFINE_TERMS(float, expf, log1pf, fabsf)
DEFINE_TERMS(double, exp, log1p, fabs)

/* Running statistics away from their start (means 0, variances 1), so
   that inference mode has something to apply: means in [-0.1, 0.1),
   variances in [0.5, 1.5). */
static void random_stats(const ganc_info *info, uint64_t seed, void *st)
{
  ganc_rng r;
  ganc_rng_seed(&r, seed);
  for (int k = 0; k < info->nstats; k++) {
    const ganc_tensor *t = &info->stats[k];
    for (int64_t i = 0; i < t->count; i++) {
      double u = ganc_rng_uniform(&r), v = t->init == GANC_INIT_ONE ? 0.5 + u : 0.2 * u - 0.1;
      if (info->scalar_size == 4)
        ((float *)st)[t->offset + i] = (float)v;
      else
        ((double *)st)[t->offset + i] = v;
    }
  }
}

/* The labels the properties are checked for: every label of a model with
   at most ALL_LABELS classes; of a larger one ALL_LABELS spread evenly
   from 0 to N-1 (label i*(N-1)/(ALL_LABELS-1)); label 0 alone, which its
   functions do not read, for an unconditional model. Their count. */
static int labels_to_check(const ganc_info *info, int labels[ALL_LABELS])
{
  int n = info->classes;
  if (n <= 0) {
    labels[0] = 0;
    return 1;
  }
  int count = n <= ALL_LABELS ? n : ALL_LABELS;
  for (int i = 0; i < count; i++)
    labels[i] = n <= ALL_LABELS ? i : (int)((int64_t)i * (n - 1) / (ALL_LABELS - 1));
  return count;
}

/* Whether t's name ends in suffix. */
static int is_tensor(const ganc_tensor *t, const char *suffix)
{
  size_t n = strlen(t->name), m = strlen(suffix);
  return n >= m && !strcmp(t->name + n - m, suffix);
}

/* The discriminator's last layer with parameters: its tensors are
   info->tensors[*first .. *last], those named with the last one's
   `discriminator.K.`, and *bias is its bias (a linear layer's, a
   convolution's, batch_norm's or projection's, whose embedding comes
   after it). Setting the rest of them to 0 leaves the bias as D's
   score. */
static void last_d_layer(const ganc_info *info, const char *model, int *first, int *last, int *bias)
{
  *first = *last = *bias = -1;
  for (int k = 0; k < info->ntensors; k++)
    if (strncmp(info->tensors[k].name, "discriminator.", 14) == 0)
      *last = k;
  cr_assert(*last >= 0, "%s: no discriminator parameters", model);
  const char *name = info->tensors[*last].name;
  size_t prefix = (size_t)(strrchr(name, '.') - name) + 1;
  for (*first = *last; *first > 0 && !strncmp(info->tensors[*first - 1].name, name, prefix); --*first)
    ;
  for (int k = *first; k <= *last; k++)
    if (is_tensor(&info->tensors[k], ".bias"))
      *bias = k;
  cr_assert(*bias >= 0, "%s: the discriminator's last layer with parameters (%.*s) has no bias", model,
            (int)prefix - 1, name);
}

/* In a function of DEFINE_PROPERTIES: the model's function f with the
   parameters p and statistics st, the rest of its arguments named; its
   result in the scalar type S (exact: a float widened to double and
   back). The others take their arguments in the emitted functions' order,
   each input followed by its labels (one label's address for a
   single-sample function; ignored by an unconditional model). */
#define CALL(f, ...) ((S)ganc_call(info, &fns, GANC_FN_##f, &(ganc_args){.params = p, .stats = st, __VA_ARGS__}))
#define generate(zi, zl, x_) CALL(GENERATE, .z = (zi), .z_labels = (zl), .out = (x_))
#define generate_b(n_, zi, zl, x_) CALL(GENERATE_BATCH, .n = (n_), .z = (zi), .z_labels = (zl), .out = (x_))
#define fake_score(zi, zl) CALL(FAKE_SCORE, .z = (zi), .z_labels = (zl))
#define real_score(xi, xl) CALL(REAL_SCORE, .x = (xi), .x_labels = (xl))
#define dloss(xi, xl, zi, zl) CALL(DISCRIMINATOR_LOSS, .x = (xi), .x_labels = (xl), .z = (zi), .z_labels = (zl))
#define gloss(zi, zl) CALL(GENERATOR_LOSS, .z = (zi), .z_labels = (zl))
#define dloss_b(n_, xi, xl, zi, zl)                                                                \
  CALL(DISCRIMINATOR_LOSS_BATCH, .n = (n_), .x = (xi), .x_labels = (xl), .z = (zi), .z_labels = (zl))
#define gloss_b(n_, zi, zl) CALL(GENERATOR_LOSS_BATCH, .n = (n_), .z = (zi), .z_labels = (zl))

/* The property checks, written once for each scalar type: calls through
   ganc_call, which passes the statistics of a model with batch_norm (the
   properties hold in inference mode) and a conditional model's labels.
   They hold for each label: every check runs once per label of
   labels_to_check, the latents all of that label (also in the batch
   losses) and draw i's real sample of the label i places further along
   the list, so that the two labels of a loss differ too. */
#define DEFINE_PROPERTIES(T)                                                                       \
  static void T##_properties_for(ganc_fns fns, const ganc_info *info, const char *where,         \
                                 const int *zl, const int *xl, int label)                          \
  {                                                                                               \
    typedef T S;                                                                                  \
    T *p = malloc(sizeof(T) * (size_t)info->param_count + 1);                                     \
    T *st = malloc(sizeof(T) * (size_t)info->stats_count + 1);                                    \
    int64_t lat = info->latent_size * info->pack, obs = info->obs_size * info->pack; /* per pack */ \
    T *z = malloc(sizeof(T) * (size_t)lat * DRAWS);                                               \
    T *x = malloc(sizeof(T) * (size_t)obs * DRAWS);                                               \
    T *g = malloc(sizeof(T) * (size_t)obs);                                                       \
    Loss loss = loss_of(info);                                                                    \
    char name[300];                                                                               \
    if (info->classes > 0)                                                                        \
      snprintf(name, sizeof name, "%s (label %d)", info->name, label);                            \
    else                                                                                          \
      snprintf(name, sizeof name, "%s", info->name);                                              \
    ganc_rng r;                                                                                   \
    ganc_rng_seed(&r, 42);                                                                        \
    random_params(info, 7, p);                                                                    \
    random_stats(info, 11, st);                                                                   \
    ganc_normal_fill(&r, info->scalar_size, lat * DRAWS, z);                                      \
    uniform_fill(&r, info->scalar_size, obs * DRAWS, x);                                          \
    for (int i = 0; i < DRAWS; i++) {                                                             \
      const T *zi = z + i * lat, *xi = x + i * obs;                                               \
      if (info->pack == 1)                                                                        \
        generate(zi, zl + i, g);                                                                  \
      else /* a pack's samples made together, as fake_score makes them */                         \
        generate_b(info->pack, zi, zl + i, g);                                                    \
      T fake = fake_score(zi, zl + i), again = real_score(g, zl + i);                             \
      cr_expect(memcmp(&fake, &again, sizeof fake) == 0,                                          \
                "%s %s: property 1: fake_score %.17g != real_score(generate) %.17g", where, name, \
                (double)fake, (double)again);                                                     \
      T real = real_score(xi, xl + i);                                                            \
      T want_d = T##_term(loss, 0, real) + T##_term(loss, 1, fake);                               \
      T got_d = dloss(xi, xl + i, zi, zl + i);                                                    \
      cr_expect(memcmp(&want_d, &got_d, sizeof got_d) == 0,                                       \
                "%s %s: property 2: discriminator_loss %.17g, want %.17g", where, name,           \
                (double)got_d, (double)want_d);                                                   \
      T want_g = T##_term(loss, 2, fake), got_g = gloss(zi, zl + i);                              \
      cr_expect(memcmp(&want_g, &got_g, sizeof got_g) == 0,                                       \
                "%s %s: property 3: generator_loss %.17g, want %.17g", where, name,               \
                (double)got_g, (double)want_g);                                                   \
      cr_expect(got_d >= 0 && (got_g >= 0 || loss == HINGE), "%s %s: property 5: negative loss",  \
                where, name);                                                                     \
    }                                                                                             \
    T bd = dloss_b(DRAWS, x, xl, z, zl), bg = gloss_b(DRAWS, z, zl);                              \
    cr_expect(bd >= 0 && (bg >= 0 || loss == HINGE), "%s %s: property 5: negative batch loss",    \
              where, name);                                                                       \
    cr_expect(dloss_b(0, x, xl, z, zl) == 0 && gloss_b(-1, z, zl) == 0,                           \
              "%s %s: batch loss of no samples is not 0", where, name);                           \
                                                                                                  \
    /* Property 4a, LSGAN: D's last layer made constant so D == 1. */                             \
    int first_t, last_t, bias_t;                                                                  \
    last_d_layer(info, name, &first_t, &last_t, &bias_t);                                         \
    const ganc_tensor *last_b = &info->tensors[bias_t];                                           \
    if (loss == LSGAN) {                                                                          \
      for (int k = first_t; k <= last_t; k++)                                                     \
        for (int64_t i = 0; k != bias_t && i < info->tensors[k].count; i++)                       \
          p[info->tensors[k].offset + i] = 0;                                                     \
      T c = 1;                                                                                    \
      for (int tries = 0; tries < 3 && fake_score(z, zl) != 1; tries++, c *= 40)                  \
        for (int64_t i = 0; i < last_b->count; i++)                                               \
          p[last_b->offset + i] = c;                                                              \
      cr_assert(fake_score(z, zl) == 1, "%s %s: could not build D == 1", where, name);            \
      cr_expect(gloss(z, zl) == 0, "%s %s: property 4: generator_loss %.17g with fake_score 1",   \
                where, name, (double)gloss(z, zl));                                               \
    }                                                                                             \
                                                                                                  \
    /* Property 4b: G == f(0) and D passes the first coordinate through (a                        \
       projection's embedding stays 0, or label 0 would add its row to the                        \
       weight); for the hinge loss D's last bias is -1 and the real sample's                      \
       first value 2, so that D(x) == 1 and D(G(z)) == -1. */                                     \
    memset(p, 0, sizeof(T) * (size_t)info->param_count);                                          \
    for (int k = 0; k < info->ntensors; k++) {                                                    \
      const ganc_tensor *t = &info->tensors[k];                                                   \
      if (!strncmp(t->name, "discriminator.", 14) && t->rank == 2 && !is_tensor(t, ".embedding")) \
        p[t->offset] = 1;                                                                         \
    }                                                                                             \
    memset(x, 0, sizeof(T) * (size_t)obs);                                                        \
    x[0] = loss == HINGE ? 2 : 1;                                                                 \
    if (loss == HINGE)                                                                            \
      p[last_b->offset] = -1;                                                                     \
    T r4 = real_score(x, xl), f4 = fake_score(z, zl);                                             \
    if (loss == LOGISTIC)                                                                         \
      cr_log_info("%s %s: the logistic loss has no zero (property 4)", where, name);              \
    else if (loss == LSGAN ? r4 == 1 && f4 == 0 : r4 >= 1 && f4 <= -1) {                          \
      cr_expect(dloss(x, xl, z, zl) == 0, "%s %s: property 4: discriminator_loss %.17g", where,   \
                name, (double)dloss(x, xl, z, zl));                                               \
      /* At the hinges' corners (D(x) == 1, D(G(z)) == -1) the gradient is                        \
         zero: relu'(0) = 0, as PyTorch takes it. */                                              \
      if (loss == HINGE && r4 == 1 && f4 == -1) {                                                 \
        T *grad = calloc((size_t)info->d_param_count + 1, sizeof(T)), most = 0;                   \
        cr_assert(grad);                                                                          \
        S loss_1 = CALL(DISCRIMINATOR_LOSS_BACKWARD, .n = 1, .x = x, .x_labels = xl, .z = z,      \
                        .z_labels = zl, .grad = grad);                                            \
        cr_assert(loss_1 == 0, "%s %s: hinge loss %g at the corner, want 0", where, name,        \
                  (double)loss_1);                                                                \
        for (int64_t i = 0; i < info->d_param_count; i++)                                         \
          most = fabs((double)grad[i]) > most ? (T)fabs((double)grad[i]) : most;                  \
        cr_expect(most == 0, "%s %s: hinge gradient %g at D(x) == 1, D(G(z)) == -1, want 0",      \
                  where, name, (double)most);                                                     \
        free(grad);                                                                               \
      }                                                                                           \
    }                                                                                             \
    else                                                                                          \
      cr_log_info("%s %s: property 4b does not apply (D does not pass its input through)", where, \
                  name);                                                                          \
    free(p);                                                                                      \
    free(st);                                                                                     \
    free(z);                                                                                      \
    free(x);                                                                                      \
    free(g);                                                                                      \
  }                                                                                               \
                                                                                                  \
  static void T##_properties(ganc_model *jit, Aot *aot, const ganc_info *info, const char *where)  \
  {                                                                                               \
    ganc_fns fns;                                                                                 \
    const char *missing = model_fns(jit, aot, info, &fns);                                        \
    cr_assert(!missing, "%s: %s: no function %s", where, info->name, missing);                    \
    int labels[ALL_LABELS], zl[DRAWS], xl[DRAWS];                                                 \
    int count = labels_to_check(info, labels);                                                    \
    for (int j = 0; j < count; j++) {                                                             \
      for (int i = 0; i < DRAWS; i++) {                                                           \
        zl[i] = labels[j];                                                                        \
        xl[i] = labels[(j + i) % count];                                                          \
      }                                                                                           \
      T##_properties_for(fns, info, where, zl, xl, labels[j]);                                    \
    }                                                                                             \
  }

DEFINE_PROPERTIES(float)
DEFINE_PROPERTIES(double)

static void check_file(const char *path, Aot *aot, ganc_model *jit, const char *where)
{
  for (int i = 0; i < ganc_model_count(jit); i++) {
    const ganc_info *info = ganc_model_info(jit, i);
    if (info->scalar_size == 4)
      float_properties(aot ? NULL : jit, aot, info, where);
    else
      double_properties(aot ? NULL : jit, aot, info, where);
  }
  (void)path;
}

static void check_dir(const char *dir, int ahead_of_time)
{
  char **files = list_files(dir, ".gan");
  cr_assert(files[0], "no models in %s", dir);
  for (char **f = files; *f; f++) {
    char err[4096];
    ganc_model *jit = ganc_jit(*f, err, sizeof err, NULL);
    cr_assert(jit, "%s", err);
    Aot *aot = NULL;
    if (ahead_of_time) {
      aot = aot_build(*f, "gcc", err, sizeof err);
      cr_assert(aot, "%s", err);
    }
    check_file(*f, aot, jit, ahead_of_time ? "gcc" : "jit");
    aot_free(aot);
    ganc_free(jit);
  }
  paths_free(files);
}

Test(properties, models_jit) { check_dir("models", 0); }
Test(properties, models_gcc) { check_dir("models", 1); }
Test(properties, test_models_jit) { check_dir("tests/models", 0); }
Test(properties, test_models_gcc) { check_dir("tests/models", 1); }
