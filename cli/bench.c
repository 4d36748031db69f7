/* bench.c — `ganc bench`: how fast a model's emitted functions run.
 *
 * For each model and batch size: the JIT's compile time, then µs per call
 * and GFLOP/s of every emitted function compiled by the JIT and, when a C
 * compiler is at hand, ahead of time (cc -O3 -march=native), and of a whole
 * training step (both gradients and both Adam updates). Each figure is the
 * best of several timed runs of at least a tenth of a second. FLOPs: a
 * multiply-add counts 2; a backward pass counts twice its forward pass. */
#define _DEFAULT_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "compiler.h"
#include "ganc.h"
#include "train.h"

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* What the timed functions work on. */
typedef struct Work {
  const ganc_info *info;
  int n;
  void *params, *z, *x, *scores, *grad_d, *grad_g, *m, *v;
  int64_t step;
} Work;

typedef enum {
  FN_GENERATE,
  FN_REAL_SCORE,
  FN_FAKE_SCORE,
  FN_D_LOSS,
  FN_G_LOSS,
  FN_D_BACKWARD,
  FN_G_BACKWARD,
  FN_TRAIN_STEP,
  NFNS
} Fn;

static const char *const fn_names[NFNS] = {"generate_batch",           "real_score_batch",
                                           "fake_score_batch",         "discriminator_loss_batch",
                                           "generator_loss_batch",     "discriminator_loss_backward",
                                           "generator_loss_backward",  "training step"};

/* Multiply-adds times two, per sample. */
static double fn_flops(const Model *m, Fn f)
{
  double g = (double)m->gen.flops, d = (double)m->disc.flops;
  switch (f) {
  case FN_GENERATE: return g;
  case FN_REAL_SCORE: return d;
  case FN_FAKE_SCORE: return g + d;
  case FN_D_LOSS: return g + 2 * d;
  case FN_G_LOSS: return g + d;
  case FN_D_BACKWARD: return g + 2 * 3 * d;
  case FN_G_BACKWARD: return 3 * g + 3 * d;
  case FN_TRAIN_STEP: return 4 * g + 9 * d;
  case NFNS: break;
  }
  return 0;
}

typedef struct Syms {
  void *fn[NFNS];
} Syms;

/* Each function through a pointer of its exact type, S float or double. */
#define CALL_AS(S)                                                                                           \
  switch (f) {                                                                                               \
  case FN_GENERATE: ((void (*)(const S *, int, const S *, S *))s->fn[f])(w->params, n, w->z, w->x); break;   \
  case FN_REAL_SCORE: ((void (*)(const S *, int, const S *, S *))s->fn[f])(w->params, n, w->x, w->scores); break; \
  case FN_FAKE_SCORE: ((void (*)(const S *, int, const S *, S *))s->fn[f])(w->params, n, w->z, w->scores); break; \
  case FN_D_LOSS: ((S(*)(const S *, int, const S *, const S *))s->fn[f])(w->params, n, w->x, w->z); break;   \
  case FN_G_LOSS: ((S(*)(const S *, int, const S *))s->fn[f])(w->params, n, w->z); break;                     \
  case FN_D_BACKWARD:                                                                                        \
    ((S(*)(const S *, int, const S *, const S *, S *))s->fn[f])(w->params, n, w->x, w->z, w->grad_d);        \
    break;                                                                                                   \
  case FN_G_BACKWARD: ((S(*)(const S *, int, const S *, S *))s->fn[f])(w->params, n, w->z, w->grad_g); break; \
  default: break;                                                                                            \
  }

static void call(const Work *w, const Syms *s, Fn f)
{
  int n = w->n;
  if (w->info->scalar_size == 4) {
    CALL_AS(float)
  } else {
    CALL_AS(double)
  }
}

/* One training step as ganc train takes it: D's gradient and Adam update,
   then G's. */
static void train_step(Work *w, const Syms *s)
{
  static const ganc_adam adam = GANC_ADAM_DEFAULTS;
  const ganc_info *i = w->info;
  size_t b = (size_t)i->scalar_size * (size_t)i->g_param_count;
  w->step++;
  call(w, s, FN_D_BACKWARD);
  ganc_adam_step(&adam, i->scalar_size, w->step, i->d_param_count, (char *)w->params + b, w->grad_d,
                 (char *)w->m + b, (char *)w->v + b);
  call(w, s, FN_G_BACKWARD);
  ganc_adam_step(&adam, i->scalar_size, w->step, i->g_param_count, w->params, w->grad_g, w->m, w->v);
}

/* Best seconds per call over several runs of at least min_seconds. */
static double time_fn(Work *w, const Syms *s, Fn f, double min_seconds)
{
  double best = 1e30;
  for (int rep = 0; rep < 5; rep++) {
    long calls = 0;
    double start = now(), t;
    do {
      if (f == FN_TRAIN_STEP)
        train_step(w, s);
      else
        call(w, s, f);
      calls++;
    } while ((t = now() - start) < min_seconds);
    if (t / (double)calls < best)
      best = t / (double)calls;
  }
  return best;
}

static int work_alloc(Work *w, const ganc_info *info, int n)
{
  size_t s = (size_t)info->scalar_size;
  memset(w, 0, sizeof *w);
  w->info = info;
  w->n = n;
  w->params = malloc(s * (size_t)info->param_count);
  w->m = calloc((size_t)info->param_count, s);
  w->v = calloc((size_t)info->param_count, s);
  w->z = malloc(s * (size_t)n * (size_t)info->latent_size);
  w->x = malloc(s * (size_t)n * (size_t)info->obs_size);
  w->scores = malloc(s * (size_t)n);
  w->grad_d = malloc(s * (size_t)(info->d_param_count + 1));
  w->grad_g = malloc(s * (size_t)(info->g_param_count + 1));
  if (!w->params || !w->m || !w->v || !w->z || !w->x || !w->scores || !w->grad_d || !w->grad_g)
    return -1;
  ganc_rng r;
  ganc_rng_seed(&r, 1);
  ganc_init_params(info, 1, w->params);
  ganc_normal_fill(&r, info->scalar_size, (int64_t)n * info->latent_size, w->z);
  ganc_normal_fill(&r, info->scalar_size, (int64_t)n * info->obs_size, w->x);
  return 0;
}

static void work_free(Work *w)
{
  free(w->params);
  free(w->m);
  free(w->v);
  free(w->z);
  free(w->x);
  free(w->scores);
  free(w->grad_d);
  free(w->grad_g);
}

static void syms_lookup(Syms *s, const char *model, void *(*lookup)(void *, const char *), void *handle)
{
  static const char *const suffix[NFNS - 1] = {"generate_batch",          "real_score_batch",
                                               "fake_score_batch",        "discriminator_loss_batch",
                                               "generator_loss_batch",    "discriminator_loss_backward",
                                               "generator_loss_backward"};
  for (int f = 0; f < NFNS - 1; f++) {
    char name[512];
    snprintf(name, sizeof name, "%s_%s", model, suffix[f]);
    s->fn[f] = lookup(handle, name);
  }
}

static void *jit_lookup(void *m, const char *name)
{
  return ganc_symbol(m, name);
}

static void *aot_lookup(void *h, const char *name)
{
  return dlsym(h, name);
}

static int write_str(const char *dir, const char *name, const char *suffix, const Str *s)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
  FILE *f = fopen(path, "w");
  int ok = f && !s->failed && fwrite(s->buf, 1, s->len, f) == s->len;
  if (f && fclose(f) != 0)
    ok = 0;
  return ok ? 0 : -1;
}

/* cc -O3 -march=native -shared of the emitted file; the seconds `cc -O2 -c`
   takes on it in *cc_seconds. NULL if there is no compiler. */
static void *aot_build(const IrModel *ir, const char *file, const char *dir, double *cc_seconds)
{
  const char *name = ir->model->name;
  char path[4096], cmd[12288];
  EmitOptions opt = {.source_name = file};
  Str h = {0}, c = {0};
  emit_header(&h, ir, &opt);
  emit_source(&c, ir, &opt);
  int ok = write_str(dir, name, ".h", &h) == 0 && write_str(dir, name, ".c", &c) == 0;
  str_free(&h);
  str_free(&c);
  if (!ok)
    return NULL;
  double start = now();
  snprintf(cmd, sizeof cmd, "cc -O2 -c -o %s/%s.o %s/%s.c >/dev/null 2>&1", dir, name, dir, name);
  if (system(cmd) != 0)
    return NULL;
  *cc_seconds = now() - start;
  snprintf(cmd, sizeof cmd, "cc -O3 -march=native -shared -fPIC -o %s/%s.so %s/%s.c -lm >/dev/null 2>&1", dir, name,
           dir, name);
  if (system(cmd) != 0)
    return NULL;
  snprintf(path, sizeof path, "%s/%s.so", dir, name);
  return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

int bench_models(const char *file, const char *src, const Ir *ir, const char *only, const int *batches, int nbatches,
                 int json)
{
  char dir[] = "/tmp/ganc-bench-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("ganc: mkdtemp");
    return 1;
  }
  /* Compile time: the median of nine compiles of the whole file. */
  double compile[9];
  char err[8192];
  ganc_model *jit = NULL;
  for (int k = 0; k < 9; k++) {
    double start = now();
    ganc_model *m = ganc_jit_string(src, file, err, sizeof err, NULL);
    compile[k] = now() - start;
    if (!m) {
      fputs(err, stderr);
      return 1;
    }
    if (jit)
      ganc_free(jit);
    jit = m;
  }
  for (int i = 0; i < 9; i++)
    for (int j = i + 1; j < 9; j++)
      if (compile[j] < compile[i]) {
        double t = compile[i];
        compile[i] = compile[j];
        compile[j] = t;
      }

  int rc = 0;
  for (int mi = 0; mi < ir->n && !rc; mi++) {
    const Model *model = ir->models[mi].model;
    if (only && strcmp(only, model->name) != 0)
      continue;
    const ganc_info *info = ganc_find_model(jit, model->name);
    Syms js = {{0}}, as = {{0}};
    syms_lookup(&js, model->name, jit_lookup, jit);
    double cc_seconds = 0;
    void *so = aot_build(&ir->models[mi], file, dir, &cc_seconds);
    if (so)
      syms_lookup(&as, model->name, aot_lookup, so);
    if (json)
      printf("{\"model\": \"%s\", \"jit_compile_ms\": %.3f, \"cc_O2_ms\": %.1f}\n", model->name, compile[4] * 1e3,
             cc_seconds * 1e3);
    else
      printf("%s: JIT compile %.2f ms (median of 9)%s", model->name, compile[4] * 1e3, so ? "" : "; no C compiler\n");
    if (so && !json)
      printf("; cc -O2 -c %.0f ms (%.0fx the JIT)\n", cc_seconds * 1e3, cc_seconds / compile[4]);
    for (int bi = 0; bi < nbatches && !rc; bi++) {
      Work w;
      if (work_alloc(&w, info, batches[bi]) < 0) {
        fputs("ganc: out of memory\n", stderr);
        rc = 1;
        work_free(&w);
        break;
      }
      if (!json)
        printf("\n  batch %-4d %-30s %10s %9s %10s %9s\n", batches[bi], "", "JIT us", "GFLOP/s", so ? "AOT us" : "",
               so ? "GFLOP/s" : "");
      for (int f = 0; f < NFNS; f++) {
        double flops = fn_flops(model, (Fn)f) * batches[bi];
        double tj = time_fn(&w, &js, (Fn)f, 0.1), ta = so ? time_fn(&w, &as, (Fn)f, 0.1) : 0;
        if (json) {
          printf("{\"model\": \"%s\", \"batch\": %d, \"function\": \"%s\", \"flops\": %.0f, \"jit_us\": %.3f", model->name,
                 batches[bi], fn_names[f], flops, tj * 1e6);
          if (so)
            printf(", \"aot_us\": %.3f", ta * 1e6);
          printf("}\n");
        } else {
          printf("  %-41s %10.1f %9.1f", fn_names[f], tj * 1e6, flops / tj * 1e-9);
          if (so)
            printf(" %10.1f %9.1f", ta * 1e6, flops / ta * 1e-9);
          putchar('\n');
        }
        fflush(stdout);
      }
      work_free(&w);
    }
    if (so)
      dlclose(so);
  }
  ganc_free(jit);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "ganc: could not remove %s\n", dir);
  return rc;
}
