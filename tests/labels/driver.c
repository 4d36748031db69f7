/* driver.c — every emitted function of one conditional model, called with
 * labels inside and outside [0, NAME_CLASSES), for tests/test_labels.c,
 * which builds it with the model's emitted C under AddressSanitizer and
 * UBSan:
 *
 *     cc -std=c99 -fsanitize=address,undefined -DMODEL=NAME
 *        -DHEADER='"NAME.h"' -DSTATS=0|1 driver.c NAME.c -lm
 *
 * (STATS=1 for a model with batch_norm: its functions take the running
 * statistics). It reads inputs.bin:
 * the model's scalars, NAME_PARAM_COUNT parameters, NAME_STATS_COUNT
 * running statistics, BATCH latents and BATCH observations. Every buffer a
 * function gets is allocated to its exact size, so that the sanitizers see
 * an access past it; each _backward function starts from a fresh copy of
 * the statistics.
 *
 * In range it prints one line per call, `SUFFIX LABEL VALUE...` (%a):
 *   for each label L: generate (L), fake_score (L), real_score (L),
 *   generator_loss (L), and discriminator_loss with x's label L and z's
 *   (L + 1) mod N; LABEL is L
 *   the batch functions with labels_real[i] = i mod N and labels_fake[i] =
 *   (i + 1) mod N (x's and z's); LABEL is -1. The _backward ones print
 *   the loss, the gradient, then the statistics they leave.
 *   for each label L: generate_bounds, score_bounds and fake_score_bounds
 *   (L) on the boxes of the first z and x widened by 1/4 each way, the
 *   lower bounds, then the upper ones.
 * Out of range (-1, N, INT_MIN, INT_MAX, and batches mixing them with
 * labels in range) it calls every function and prints nothing; the
 * in-range samples of a mixed batch must get, bit for bit, what they get
 * in a batch of the same size whose other labels are in range.
 *
 * Exit status 0; 1 if an input changed, a value in range is not finite or
 * a mixed batch differs (with a message on stderr). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include HEADER

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define M(x) CAT(MODEL, x)

typedef M(scalar) S;

enum {
  BATCH = 4,
  N = M(CLASSES),
  LATENT = M(LATENT_SIZE),
  OBS = M(OBS_SIZE),
  PARAMS = M(PARAM_COUNT),
  G_PARAMS = M(G_PARAM_COUNT),
  D_PARAMS = M(D_PARAM_COUNT),
#if STATS
  STATS_COUNT = M(STATS_COUNT),
#else
  STATS_COUNT = 0,
#endif
  BAD = 4,     /* labels out of range */
  BATCHES = 3, /* label arrays with labels out of range */
};

/* The statistics argument, in a model that has one. */
#if STATS
#define ST(s) s,
#else
#define ST(s)
#endif

static S *params, *stats, *z, *x;             /* the inputs */
static S *params0, *stats0, *z0, *x0;         /* copies, to see that none changes */
static int bad[BAD];                          /* -1, N, INT_MIN, INT_MAX */
static int *labels_real, *labels_fake;        /* in range */
static int *bad_batch[BATCHES];               /* out of range, some mixed with labels in range */
static int failed;

static void *alloc(size_t bytes)
{
  void *p = malloc(bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "driver: out of memory\n");
    exit(1);
  }
  return p;
}

static S *scalars(size_t n)
{
  return alloc(n * sizeof(S));
}

static S *copy(const S *v, size_t n)
{
  S *c = scalars(n);
  memcpy(c, v, n * sizeof(S));
  return c;
}

static int *labels(const int *v)
{
  int *l = alloc(BATCH * sizeof(int));
  memcpy(l, v, BATCH * sizeof(int));
  return l;
}

static void read_inputs(void)
{
  FILE *f = fopen("inputs.bin", "rb");
  size_t sizes[4] = {PARAMS, STATS_COUNT, (size_t)BATCH * LATENT, (size_t)BATCH * OBS};
  S **arrays[4] = {&params, &stats, &z, &x};
  for (int i = 0; i < 4; i++) {
    *arrays[i] = scalars(sizes[i]);
    if (!f || fread(*arrays[i], sizeof(S), sizes[i], f) != sizes[i]) {
      fprintf(stderr, "driver: cannot read inputs.bin\n");
      exit(1);
    }
  }
  fclose(f);
  params0 = copy(params, PARAMS);
  stats0 = copy(stats, STATS_COUNT);
  z0 = copy(z, (size_t)BATCH * LATENT);
  x0 = copy(x, (size_t)BATCH * OBS);
}

/* The inputs of every call are as they were. */
static void check_inputs(const char *fn)
{
  if (memcmp(params, params0, PARAMS * sizeof(S)) || memcmp(stats, stats0, STATS_COUNT * sizeof(S)) ||
      memcmp(z, z0, (size_t)BATCH * LATENT * sizeof(S)) || memcmp(x, x0, (size_t)BATCH * OBS * sizeof(S))) {
    fprintf(stderr, "driver: %s changed an input\n", fn);
    exit(1);
  }
}

/* A call's results in range: finite, printed. */
static void put(const char *fn, int label, const S *v, size_t n)
{
  printf("%s %d", fn, label);
  for (size_t i = 0; i < n; i++) {
    printf(" %a", (double)v[i]);
    if (!isfinite(v[i])) {
      fprintf(stderr, "driver: %s (label %d): value %zu is %g\n", fn, label, i, (double)v[i]);
      failed = 1;
    }
  }
  printf("\n");
}

static void put1(const char *fn, int label, S v)
{
  put(fn, label, &v, 1);
}

/* A _backward function's loss, gradient and the statistics it left, in one
   array of 1 + count + STATS_COUNT. */
static S *backward_results(S loss, const S *grad, int count, const S *st)
{
  S *r = scalars(1 + (size_t)count + STATS_COUNT);
  r[0] = loss;
  memcpy(r + 1, grad, (size_t)count * sizeof(S));
  memcpy(r + 1 + count, st, STATS_COUNT * sizeof(S));
  return r;
}

/* ---- Each function of the model, on exact buffers; labels x's then z's ---- */

static void generate(int label, S *out)
{
  M(generate)(params, ST(stats) z, label, out);
}

static S fake_score(int label)
{
  return M(fake_score)(params, ST(stats) z, label);
}

static S real_score(int label)
{
  return M(real_score)(params, ST(stats) x, label);
}

static S discriminator_loss(int label_real, int label_fake)
{
  return M(discriminator_loss)(params, ST(stats) x, label_real, z, label_fake);
}

static S generator_loss(int label)
{
  return M(generator_loss)(params, ST(stats) z, label);
}

/* The bounds functions on the boxes z +- 1/4 and x +- 1/4 of the first
   sample: 2 OBS values (generate_bounds), then 2 and 2 (score_bounds,
   fake_score_bounds), lower bounds first; in a fresh array. */
static S *bounds(int label)
{
  S *zl = scalars(LATENT), *zh = scalars(LATENT), *xl = scalars(OBS), *xh = scalars(OBS);
  S *r = scalars(2 * (size_t)OBS + 4);
  for (int i = 0; i < LATENT; i++) {
    zl[i] = z[i] - (S)0.25;
    zh[i] = z[i] + (S)0.25;
  }
  for (int i = 0; i < OBS; i++) {
    xl[i] = x[i] - (S)0.25;
    xh[i] = x[i] + (S)0.25;
  }
  S *gl = scalars(OBS), *gh = scalars(OBS), *s = scalars(1), *t = scalars(1);
  M(generate_bounds)(params, ST(stats) zl, zh, label, gl, gh);
  memcpy(r, gl, OBS * sizeof(S));
  memcpy(r + OBS, gh, OBS * sizeof(S));
  M(score_bounds)(params, ST(stats) xl, xh, label, s, t);
  r[2 * OBS] = *s;
  r[2 * OBS + 1] = *t;
  M(fake_score_bounds)(params, ST(stats) zl, zh, label, s, t);
  r[2 * OBS + 2] = *s;
  r[2 * OBS + 3] = *t;
  S *arrays[] = {zl, zh, xl, xh, gl, gh, s, t};
  for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
    free(arrays[i]);
  return r;
}

/* The training functions: loss, gradient and statistics in one array (free
   it); ws: the _ws function on a workspace of exactly its size. */
static S *discriminator_backward(const int *lr, const int *lf, int ws)
{
  S *grad = scalars(D_PARAMS), *st = copy(stats, STATS_COUNT), loss;
  (void)st;
  if (ws) {
    void *w = alloc(M(TRAIN_WORKSPACE_BYTES)(BATCH));
    loss = M(discriminator_loss_backward_ws)(params, ST(st) BATCH, x, lr, z, lf, grad, w);
    free(w);
  } else
    loss = M(discriminator_loss_backward)(params, ST(st) BATCH, x, lr, z, lf, grad);
  S *r = backward_results(loss, grad, D_PARAMS, st);
  free(grad);
  free(st);
  return r;
}

static S *generator_backward(const int *lf, int ws)
{
  S *grad = scalars(G_PARAMS), *st = copy(stats, STATS_COUNT), loss;
  (void)st;
  if (ws) {
    void *w = alloc(M(TRAIN_WORKSPACE_BYTES)(BATCH));
    loss = M(generator_loss_backward_ws)(params, ST(st) BATCH, z, lf, grad, w);
    free(w);
  } else
    loss = M(generator_loss_backward)(params, ST(st) BATCH, z, lf, grad);
  S *r = backward_results(loss, grad, G_PARAMS, st);
  free(grad);
  free(st);
  return r;
}

/* The inference batch functions' per-sample outputs: generated samples,
   then real scores, then fake scores, BATCH * (OBS + 2) values (free
   them); the losses in *d and *g. */
static S *batch_outputs(const int *lr, const int *lf, S *d, S *g)
{
  S *out = scalars((size_t)BATCH * (OBS + 2)), *gen = scalars((size_t)BATCH * OBS);
  S *real = scalars(BATCH), *fake = scalars(BATCH);
  M(generate_batch)(params, ST(stats) BATCH, z, lf, gen);
  M(real_score_batch)(params, ST(stats) BATCH, x, lr, real);
  M(fake_score_batch)(params, ST(stats) BATCH, z, lf, fake);
  *d = M(discriminator_loss_batch)(params, ST(stats) BATCH, x, lr, z, lf);
  *g = M(generator_loss_batch)(params, ST(stats) BATCH, z, lf);
  memcpy(out, gen, (size_t)BATCH * OBS * sizeof(S));
  memcpy(out + (size_t)BATCH * OBS, real, BATCH * sizeof(S));
  memcpy(out + (size_t)BATCH * (OBS + 1), fake, BATCH * sizeof(S));
  free(gen);
  free(real);
  free(fake);
  return out;
}

/* ---- In range: every function, printed ---- */

static void in_range(void)
{
  S *out = scalars(OBS);
  for (int l = 0; l < N; l++) {
    generate(l, out);
    put("generate", l, out, OBS);
    check_inputs("generate");
    put1("fake_score", l, fake_score(l));
    put1("real_score", l, real_score(l));
    put1("discriminator_loss", l, discriminator_loss(l, (l + 1) % N));
    put1("generator_loss", l, generator_loss(l));
    check_inputs("the single-sample functions");
  }
  free(out);

  S d, g, *b = batch_outputs(labels_real, labels_fake, &d, &g);
  put("generate_batch", -1, b, (size_t)BATCH * OBS);
  put("real_score_batch", -1, b + (size_t)BATCH * OBS, BATCH);
  put("fake_score_batch", -1, b + (size_t)BATCH * (OBS + 1), BATCH);
  put1("discriminator_loss_batch", -1, d);
  put1("generator_loss_batch", -1, g);
  free(b);
  check_inputs("the batch functions");

  for (int ws = 0; ws <= 1; ws++) {
    S *r = discriminator_backward(labels_real, labels_fake, ws);
    put(ws ? "discriminator_loss_backward_ws" : "discriminator_loss_backward", -1, r,
        1 + (size_t)D_PARAMS + STATS_COUNT);
    free(r);
    r = generator_backward(labels_fake, ws);
    put(ws ? "generator_loss_backward_ws" : "generator_loss_backward", -1, r, 1 + (size_t)G_PARAMS + STATS_COUNT);
    free(r);
    check_inputs("the _backward functions");
  }

  for (int l = 0; l < N; l++) {
    S *r = bounds(l);
    put("generate_bounds", l, r, 2 * (size_t)OBS);
    put("score_bounds", l, r + 2 * OBS, 2);
    put("fake_score_bounds", l, r + 2 * OBS + 2, 2);
    free(r);
    check_inputs("the bounds functions");
  }
}

/* ---- Out of range ---- */

/* The labels of a batch, those out of range made 0. */
static int *in_range_copy(const int *l)
{
  int *c = labels(l);
  for (int i = 0; i < BATCH; i++)
    if (c[i] < 0 || c[i] >= N)
      c[i] = 0;
  return c;
}

/* Sample i's per-sample outputs of two batch_outputs arrays are the same
   bit for bit. Generated samples and fake scores follow z's labels, real
   scores x's. */
static void same_samples(const S *got, const S *want, const int *lr, const int *lf, int k)
{
  for (int i = 0; i < BATCH; i++) {
    int real_ok = lr[i] >= 0 && lr[i] < N, fake_ok = lf[i] >= 0 && lf[i] < N;
    size_t gen = (size_t)i * OBS, real = (size_t)BATCH * OBS + i, fake = (size_t)BATCH * (OBS + 1) + i;
    if ((fake_ok && memcmp(got + gen, want + gen, OBS * sizeof(S))) ||
        (real_ok && memcmp(got + real, want + real, sizeof(S))) ||
        (fake_ok && memcmp(got + fake, want + fake, sizeof(S)))) {
      fprintf(stderr, "driver: mixed batch %d: sample %d (labels %d, %d) differs from a batch in range\n", k, i,
              lr[i], lf[i]);
      failed = 1;
    }
  }
}

static void out_of_range(void)
{
  S *out = scalars(OBS);
  for (int b = 0; b < BAD; b++) {
    generate(bad[b], out);
    fake_score(bad[b]);
    real_score(bad[b]);
    generator_loss(bad[b]);
    discriminator_loss(bad[b], 0);
    discriminator_loss(N - 1, bad[b]);
    discriminator_loss(bad[b], bad[(b + 1) % BAD]);
    free(bounds(bad[b]));
    check_inputs("a single-sample function, out of range");
  }
  free(out);

  for (int k = 0; k < BATCHES; k++) {
    const int *bk = bad_batch[k], *next = bad_batch[(k + 1) % BATCHES];
    const int *pairs[3][2] = {{bk, labels_fake}, {labels_real, bk}, {bk, next}};
    for (int p = 0; p < 3; p++) {
      const int *lr = pairs[p][0], *lf = pairs[p][1];
      int *lr_ok = in_range_copy(lr), *lf_ok = in_range_copy(lf);
      S d, g, *got = batch_outputs(lr, lf, &d, &g), *want = batch_outputs(lr_ok, lf_ok, &d, &g);
      same_samples(got, want, lr, lf, k);
      free(got);
      free(want);
      free(lr_ok);
      free(lf_ok);
      for (int ws = 0; ws <= 1; ws++) {
        free(discriminator_backward(lr, lf, ws));
        free(generator_backward(lf, ws));
      }
      check_inputs("a batch function, out of range");
    }
  }
}

int main(void)
{
  read_inputs();
  int real[BATCH], fake[BATCH];
  for (int i = 0; i < BATCH; i++) {
    real[i] = i % N;
    fake[i] = (i + 1) % N;
  }
  labels_real = labels(real);
  labels_fake = labels(fake);
  bad[0] = -1;
  bad[1] = N;
  bad[2] = INT_MIN;
  bad[3] = INT_MAX;
  int batches[BATCHES][BATCH] = {
      {-1, N, INT_MIN, INT_MAX},
      {0, -1, N - 1, INT_MAX},
      {INT_MIN, N - 1, N, 0},
  };
  for (int k = 0; k < BATCHES; k++)
    bad_batch[k] = labels(batches[k]);

  in_range();
  out_of_range();

  free(labels_real);
  free(labels_fake);
  for (int k = 0; k < BATCHES; k++)
    free(bad_batch[k]);
  S *arrays[] = {params, stats, z, x, params0, stats0, z0, x0};
  for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
    free(arrays[i]);
  return failed;
}
