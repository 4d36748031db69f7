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

#include "cli.h"
#include "compiler.h"
#include "ganc.h"
#include "io.h"
#include "train.h"

/* The rows of the table: the batch functions, by id, then the training
   step (ganc_train_step). */
enum { TRAINING_STEP = GANC_NFNS };
static const int rows[] = {GANC_FN_GENERATE_BATCH,
                           GANC_FN_REAL_SCORE_BATCH,
                           GANC_FN_FAKE_SCORE_BATCH,
                           GANC_FN_DISCRIMINATOR_LOSS_BATCH,
                           GANC_FN_GENERATOR_LOSS_BATCH,
                           GANC_FN_DISCRIMINATOR_LOSS_BACKWARD,
                           GANC_FN_GENERATOR_LOSS_BACKWARD,
                           GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS,
                           GANC_FN_GENERATOR_LOSS_BACKWARD_WS,
                           TRAINING_STEP};
enum { NROWS = sizeof rows / sizeof rows[0] };

static const char *row_name(int f)
{
  return f == TRAINING_STEP ? "training step" : ganc_fn_suffix((ganc_fn)f);
}

/* Multiply-adds times two, per sample. */
static double fn_flops(const Model *m, int f)
{
  /* per sample: D judges a pack of m->pack samples at a time */
  double g = (double)m->gen.flops, d = (double)m->disc.flops / m->pack;
  switch (f) {
  case GANC_FN_GENERATE_BATCH: return g;
  case GANC_FN_REAL_SCORE_BATCH: return d;
  case GANC_FN_FAKE_SCORE_BATCH: return g + d;
  case GANC_FN_DISCRIMINATOR_LOSS_BATCH: return g + 2 * d;
  case GANC_FN_GENERATOR_LOSS_BATCH: return g + d;
  case GANC_FN_DISCRIMINATOR_LOSS_BACKWARD:
  case GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS: return g + 2 * 3 * d;
  case GANC_FN_GENERATOR_LOSS_BACKWARD:
  case GANC_FN_GENERATOR_LOSS_BACKWARD_WS: return 3 * g + 3 * d;
  case TRAINING_STEP: return 4 * g + 9 * d;
  }
  return 0;
}

/* What the timed functions work on: a training step's buffers (its batches
   drawn once, at the start) and the scores. */
typedef struct Work {
  ganc_step s;
  void *scores;
  int64_t steps; /* training steps taken */
} Work;

static void call(const Work *wk, const ganc_fns *fns, int f)
{
  const ganc_step *w = &wk->s;
  int is_d = f == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD || f == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS;
  /* generate_batch takes samples; the discriminator's functions packs */
  ganc_args a = {.params = w->params, .stats = w->stats,
                 .n = f == GANC_FN_GENERATE_BATCH ? w->batch : w->batch / w->info->pack, .z = w->z, .x = w->x,
                 .x_labels = w->x_labels, .z_labels = w->z_labels,
                 .out = f == GANC_FN_GENERATE_BATCH ? w->x : wk->scores, .grad = is_d ? w->grad_d : w->grad_g,
                 .workspace = w->workspace};
  ganc_call(w->info, fns, (ganc_fn)f, &a);
}

/* One training step as ganc train takes it, with one discriminator update. */
static void train_step(Work *wk, const ganc_fns *fns)
{
  double d_loss, g_loss;
  wk->s.fns = fns;
  ganc_train_step(&wk->s, wk->steps++, &d_loss, &g_loss);
}

/* Best seconds per call over several runs of at least min_seconds. */
static double time_fn(Work *w, const ganc_fns *fns, int f, double min_seconds)
{
  double best = 1e30;
  for (int rep = 0; rep < 5; rep++) {
    long calls = 0;
    double start = ganc_seconds(), t;
    do {
      if (f == TRAINING_STEP)
        train_step(w, fns);
      else
        call(w, fns, f);
      calls++;
    } while ((t = ganc_seconds() - start) < min_seconds);
    if (t / (double)calls < best)
      best = t / (double)calls;
  }
  return best;
}

static int work_alloc(Work *wk, const ganc_info *info, int n)
{
  static const ganc_adam adam = GANC_ADAM_DEFAULTS;
  size_t s = (size_t)info->scalar_size;
  ganc_step *w = &wk->s;
  memset(wk, 0, sizeof *wk);
  *w = (ganc_step){.info = info, .adam_d = &adam, .adam_g = &adam, .batch = n, .d_steps = 1};
  w->params = ganc_alloc(s * (size_t)info->param_count);
  w->stats = ganc_alloc(s * (size_t)(info->stats_count + 1));
  w->adam_m = ganc_alloc(s * (size_t)info->param_count);
  w->adam_v = ganc_alloc(s * (size_t)info->param_count);
  w->z = ganc_alloc(s * (size_t)n * (size_t)info->latent_size);
  w->x = ganc_alloc(s * (size_t)n * (size_t)info->obs_size);
  wk->scores = ganc_alloc(s * (size_t)n);
  w->grad_d = ganc_alloc(s * (size_t)(info->d_param_count + 1));
  w->grad_g = ganc_alloc(s * (size_t)(info->g_param_count + 1));
  w->workspace = ganc_train_workspace(info, n / info->pack);
  if (!w->params || !w->stats || !w->adam_m || !w->adam_v || !w->z || !w->x || !wk->scores || !w->grad_d ||
      !w->grad_g || !w->workspace)
    return -1;
  if (info->classes) { /* labels in turn, for x and z alike */
    w->x_labels = malloc(sizeof(int) * (size_t)n);
    w->z_labels = malloc(sizeof(int) * (size_t)n);
    if (!w->x_labels || !w->z_labels)
      return -1;
    for (int i = 0; i < n; i++)
      w->x_labels[i] = w->z_labels[i] = i % info->classes;
  }
  ganc_rng r;
  ganc_rng_seed(&r, 1);
  ganc_init_params(info, 1, w->params);
  ganc_init_stats(info, w->stats);
  ganc_normal_fill(&r, info->scalar_size, (int64_t)n * info->latent_size, w->z);
  ganc_normal_fill(&r, info->scalar_size, (int64_t)n * info->obs_size, w->x);
  return 0;
}

static void work_free(Work *wk)
{
  ganc_step *w = &wk->s;
  free(w->params);
  free(w->stats);
  free(w->adam_m);
  free(w->adam_v);
  free(w->z);
  free(w->x_labels);
  free(w->z_labels);
  free(w->x);
  free(wk->scores);
  free(w->grad_d);
  free(w->grad_g);
  free(w->workspace);
}

/* Every emitted function of model from a build of the emitted C. 0, or -1
   if one is missing. */
static int aot_functions(void *so, const ganc_info *info, ganc_fns *fns)
{
  int ok = 1;
  for (int f = 0; f < GANC_NFNS; f++) {
    char name[512];
    fns->fn[f] = NULL;
    if (!ganc_fn_exists(info, (ganc_fn)f))
      continue;
    snprintf(name, sizeof name, "%s_%s", info->name, ganc_fn_suffix((ganc_fn)f));
    ok &= (fns->fn[f] = dlsym(so, name)) != NULL;
  }
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
  int ok = output_write_text(dir, name, ".h", &h, 0) == 0 && output_write_text(dir, name, ".c", &c, 0) == 0;
  str_free(&h);
  str_free(&c);
  if (!ok)
    return NULL;
  double start = ganc_seconds();
  snprintf(cmd, sizeof cmd, "cc -O2 -c -o %s/%s.o %s/%s.c >/dev/null 2>&1", dir, name, dir, name);
  if (system(cmd) != 0)
    return NULL;
  *cc_seconds = ganc_seconds() - start;
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
    return EXIT_USER;
  }
  /* Compile time: the median of nine compiles of the whole file. */
  double compile[9];
  char err[8192];
  ganc_model *jit = NULL;
  for (int k = 0; k < 9; k++) {
    double start = ganc_seconds();
    ganc_model *m = ganc_jit_string(src, file, err, sizeof err, NULL);
    compile[k] = ganc_seconds() - start;
    if (!m) {
      fputs(err, stderr);
      return EXIT_USER;
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
    ganc_fns js, as;
    if (!info || ganc_functions(jit, info, &js) < 0) {
      fprintf(stderr, "ganc: internal error: the JIT lacks model '%s' or one of its functions\n", model->name);
      rc = EXIT_INTERNAL;
      break;
    }
    double cc_seconds = 0;
    void *so = aot_build(&ir->models[mi], file, dir, &cc_seconds);
    if (so && aot_functions(so, info, &as) < 0) {
      fprintf(stderr, "ganc: internal error: %s.so lacks a function of model '%s'\n", model->name, model->name);
      dlclose(so);
      rc = EXIT_INTERNAL;
      break;
    }
    if (json)
      printf("{\"model\": \"%s\", \"jit_compile_ms\": %.3f, \"cc_O2_ms\": %.1f, \"threads\": %d}\n", model->name,
             compile[4] * 1e3, cc_seconds * 1e3, ganc_threads());
    else
      printf("%s: JIT compile %.2f ms (median of 9); the JIT's kernels on %d thread%s, the AOT build on one%s",
             model->name, compile[4] * 1e3, ganc_threads(), ganc_threads() == 1 ? "" : "s",
             so ? "" : "; no C compiler\n");
    if (so && !json)
      printf("; cc -O2 -c %.0f ms (%.0fx the JIT)\n", cc_seconds * 1e3, cc_seconds / compile[4]);
    for (int bi = 0; bi < nbatches && !rc; bi++) {
      Work w;
      if (batches[bi] % info->pack != 0) {
        fprintf(stderr, "ganc: --batch %d is not a multiple of %s's pack %d\n", batches[bi], model->name, info->pack);
        rc = EXIT_USER;
        break;
      }
      if (work_alloc(&w, info, batches[bi]) < 0) {
        fputs("ganc: out of memory\n", stderr);
        rc = EXIT_USER;
        work_free(&w);
        break;
      }
      if (!json)
        printf("\n  batch %-4d %-30s %10s %9s %10s %9s\n", batches[bi], "", "JIT us", "GFLOP/s", so ? "AOT us" : "",
               so ? "GFLOP/s" : "");
      for (int r = 0; r < NROWS; r++) {
        int f = rows[r];
        int trains = f == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD || f == GANC_FN_GENERATOR_LOSS_BACKWARD ||
                     f == TRAINING_STEP;
        if (trains && batches[bi] < info->min_train_batch) { /* refused: batch_norm needs two values */
          if (!json)
            printf("  %-41s (batch_norm trains on batches of %d or more)\n", row_name(f), info->min_train_batch);
          continue;
        }
        double flops = fn_flops(model, f) * batches[bi];
        double tj = time_fn(&w, &js, f, 0.1), ta = so ? time_fn(&w, &as, f, 0.1) : 0;
        if (json) {
          printf("{\"model\": \"%s\", \"batch\": %d, \"function\": \"%s\", \"flops\": %.0f, \"threads\": %d, "
                 "\"jit_us\": %.3f",
                 model->name, batches[bi], row_name(f), flops, ganc_threads(), tj * 1e6);
          if (so)
            printf(", \"aot_us\": %.3f", ta * 1e6);
          printf("}\n");
        } else {
          printf("  %-41s %10.1f %9.1f", row_name(f), tj * 1e6, flops / tj * 1e-9);
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
