/* train.c — the LSGAN training loop over a model's emitted functions.
 *
 * Each step: K discriminator updates (a real batch and a fresh latent batch
 * each), then one generator update on a fresh latent batch; Adam on each
 * network's half of the parameters. One RNG, seeded from --seed, draws every
 * batch, so the run is a function of the seed and the options; snapshots
 * (samples.png, mode coverage) use fixed streams of their own and never
 * touch it. A conditional model's real labels come with the data; its fake
 * labels are drawn uniformly over the classes after the latents. A
 * checkpoint holds the parameters, both networks' Adam moments, the step
 * and the RNG state (and with --ema the generator's moving average):
 * resuming from it continues bit for bit. loss.png plots the rows
 * of loss.csv, which the trainer keeps in memory. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist.h"
#include "ganc.h"
#include "io.h"
#include "scalar.h"
#include "train.h"

enum { COVERAGE_SAMPLES = 2500, SNAPSHOT_SEED = GANC_SNAPSHOT_SEED };

/* A row of loss.csv: step, d_loss, g_loss, seconds, modes, high_quality. */
enum { ROW_STEP, ROW_D, ROW_G, ROW_SECONDS, ROW_MODES, ROW_HQ, ROW_COLUMNS };

typedef struct Trainer {
  const ganc_info *info;
  const ganc_train_options *opt;
  ganc_data *data;
  ganc_step work; /* the parameters, statistics, moments and batches; draws from rng */
  const ganc_fns *fns;
  /* With --ema: the generator's moving average, then a copy of the
     discriminator's parameters made before every output (so that it is
     a whole parameter array, what samples and weights come from); and
     likewise the generator's running statistics as the average copied
     them, then the discriminator's. */
  void *avg, *avg_stats;
  void *snap_z, *snap_x; /* fixed latents for samples.png and coverage */
  int *snap_labels;      /* and a conditional model's labels for them */
  int nsnap, per_class;  /* samples in samples.png; a conditional image model's per class */
  ganc_rng rng;
  int64_t step;
  double seconds_before; /* elapsed time of the runs this one resumes */
  double *rows;          /* loss.csv's rows, ROW_COLUMNS each, for loss.png */
  int64_t nrows, cap_rows;
  char *path_weights, *path_ckpt, *path_csv, *path_png, *path_plot;
} Trainer;

static char *join(const char *dir, const char *name)
{
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s", dir, name);
  return p;
}

/* The samples of the step's part of a batch, and the first of them. */
static int part_samples(const ganc_step *s)
{
  return s->parts > 1 ? s->batch / s->parts : s->batch;
}

static int64_t part_first(const ganc_step *s)
{
  return s->parts > 1 ? (int64_t)s->part * part_samples(s) : 0;
}

static const void *at_sample(const void *p, size_t size, int64_t elements, int64_t i)
{
  return (const char *)p + size * (size_t)(elements * i);
}

/* The two training functions on the step's part of its batches, in its
   workspace if it has one. */
static double call_dloss_back(const ganc_step *s)
{
  const ganc_info *info = s->info;
  size_t size = (size_t)info->scalar_size;
  int64_t first = part_first(s);
  ganc_args a = {.params = s->params, .stats = s->stats, .n = part_samples(s) / info->pack,
                 .x = at_sample(s->x, size, info->obs_size, first), .z = at_sample(s->z, size, info->latent_size, first),
                 .x_labels = s->x_labels ? s->x_labels + first : NULL, .z_labels = s->z_labels ? s->z_labels + first : NULL,
                 .grad = s->grad_d, .workspace = s->workspace};
  return ganc_call(info, s->fns,
                   s->workspace ? GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS : GANC_FN_DISCRIMINATOR_LOSS_BACKWARD, &a);
}

static double call_gloss_back(const ganc_step *s)
{
  const ganc_info *info = s->info;
  int64_t first = part_first(s);
  ganc_args a = {.params = s->params, .stats = s->stats, .n = part_samples(s) / info->pack,
                 .z = at_sample(s->z, (size_t)info->scalar_size, info->latent_size, first),
                 .z_labels = s->z_labels ? s->z_labels + first : NULL, .grad = s->grad_g, .workspace = s->workspace};
  return ganc_call(info, s->fns,
                   s->workspace ? GANC_FN_GENERATOR_LOSS_BACKWARD_WS : GANC_FN_GENERATOR_LOSS_BACKWARD, &a);
}

/* Over the ranks of a data-parallel step: the means of n scalars of grad
   and of the loss, which travels after them (grad has n + 1). */
static double mean_over_parts(const ganc_step *s, void *grad, int64_t n, double loss)
{
  if (s->parts <= 1)
    return loss;
  int size = s->info->scalar_size;
  ganc_scalar_store(grad, size, n, loss);
  ganc_dist_sum(size, n + 1, grad);
  for (int64_t i = 0; i <= n; i++)
    ganc_scalar_store(grad, size, i, ganc_scalar_load(grad, size, i) / s->parts);
  return ganc_scalar_load(grad, size, n);
}

void *ganc_alloc(size_t n)
{
  void *p;
  if (posix_memalign(&p, 64, n ? n : 1) != 0)
    return NULL;
  memset(p, 0, n);
  return p;
}

void *ganc_train_workspace(const ganc_info *info, int n)
{
  int64_t scalars = (int64_t)n * info->train_workspace_per_n + info->train_workspace_once;
  return ganc_alloc((size_t)info->scalar_size * (size_t)(scalars > 0 ? scalars : 1));
}

void ganc_generate(const ganc_info *info, const ganc_fns *fns, const void *params, const void *stats, int n,
                   const void *z, const int *labels, void *x)
{
  ganc_args a = {.params = params, .stats = (void *)stats, .n = n, .z = z, .z_labels = labels, .out = x};
  ganc_call(info, fns, GANC_FN_GENERATE_BATCH, &a);
}

void ganc_snapshot_labels(int classes, int per_class, int n, int *labels)
{
  for (int i = 0; i < n; i++)
    labels[i] = per_class > 0 ? i / per_class : i % classes;
}

static void *offset(void *p, size_t s, int64_t n)
{
  return (char *)p + s * (size_t)n;
}

void ganc_train_step(const ganc_step *s, int64_t done, double *d_loss, double *g_loss)
{
  const ganc_info *info = s->info;
  size_t size = (size_t)info->scalar_size;
  int64_t goff = info->g_param_count; /* the discriminator's parameters follow the generator's */
  for (int k = 0; k < s->d_steps; k++) {
    if (s->draw)
      s->draw(s->draw_ctx, s->x, s->z);
    *d_loss = mean_over_parts(s, s->grad_d, info->d_param_count, call_dloss_back(s));
    ganc_adam_step(s->adam_d, info->scalar_size, done * s->d_steps + k + 1, info->d_param_count,
                   offset(s->params, size, goff), s->grad_d, offset(s->adam_m, size, goff),
                   offset(s->adam_v, size, goff));
  }
  if (s->draw)
    s->draw(s->draw_ctx, NULL, s->z);
  *g_loss = mean_over_parts(s, s->grad_g, info->g_param_count, call_gloss_back(s));
  ganc_adam_step(s->adam_g, info->scalar_size, done + 1, info->g_param_count, s->params, s->grad_g, s->adam_m,
                 s->adam_v);
}

void ganc_ema_update(int scalar_size, double decay, int64_t n, void *ema, const void *params)
{
  double keep = decay, take = 1 - decay;
  if (scalar_size == 4) {
    float *e = ema;
    const float *p = params;
    for (int64_t i = 0; i < n; i++)
      e[i] = (float)(keep * (double)e[i] + take * (double)p[i]);
  } else {
    double *e = ema;
    const double *p = params;
    for (int64_t i = 0; i < n; i++)
      e[i] = keep * e[i] + take * p[i];
  }
}

/* The batches of a training run: a real batch (when x is wanted, with its
   labels), then latents, then a conditional model's fake labels, all from
   the run's one RNG, in that order. */
static void draw_batches(void *ctx, void *x, void *z)
{
  Trainer *t = ctx;
  int b = t->opt->batch, classes = t->info->classes;
  if (x)
    ganc_data_batch(t->data, &t->rng, b, x, t->work.x_labels);
  ganc_normal_fill(&t->rng, t->info->scalar_size, t->info->latent_size * b, z);
  for (int i = 0; i < b && classes > 0; i++) {
    int k = (int)(ganc_rng_uniform(&t->rng) * classes);
    t->work.z_labels[i] = k < classes ? k : classes - 1;
  }
}

/* ---- snapshots ---- */

int ganc_write_samples_png(const ganc_info *info, const char *path, const void *x, int n, const int *labels,
                           int per_class, const ganc_data *data, char *err, size_t errlen)
{
  const int64_t *d = info->obs_shape;
  int r = info->obs_rank;
  if (info->obs_size == 2) {
    const double *centres = NULL;
    double sigma = 0;
    int modes = data ? ganc_data_modes(data, &centres, &sigma) : 0;
    enum { REF = 2000 };
    double *ref = NULL;
    if (modes > 0 && (ref = malloc(sizeof(double) * 2 * REF))) {
      ganc_rng rr;
      ganc_rng_seed(&rr, SNAPSHOT_SEED);
      for (int i = 0; i < REF; i++) {
        int k = (int)(ganc_rng_next(&rr) % (uint64_t)modes);
        ref[2 * i] = centres[2 * k] + sigma * ganc_rng_normal(&rr);
        ref[2 * i + 1] = centres[2 * k + 1] + sigma * ganc_rng_normal(&rr);
      }
    }
    int coloured = labels && info->classes <= GANC_SCATTER_MAX_CLASSES;
    int rc = coloured ? ganc_png_scatter_labels(path, x, info->scalar_size, n, labels, info->classes, ref,
                                                ref ? REF : 0, err, errlen)
                      : ganc_png_scatter(path, x, info->scalar_size, n, ref, ref ? REF : 0, err, errlen);
    free(ref);
    return rc;
  }
  int c = 1, h = 1, w = (int)info->obs_size;
  if (r == 3 && (d[0] == 1 || d[0] == 3)) {
    c = (int)d[0];
    h = (int)d[1];
    w = (int)d[2];
  } else if (r == 2) {
    h = (int)d[0];
    w = (int)d[1];
  } else {
    int side = (int)sqrt((double)info->obs_size);
    if ((int64_t)side * side == info->obs_size)
      h = w = side;
  }
  if (labels && per_class > 0)
    return ganc_png_class_grid(path, x, info->scalar_size, info->classes, per_class, c, h, w,
                               data ? ganc_data_class_names(data) : NULL, err, errlen);
  return ganc_png_grid(path, x, info->scalar_size, n, c, h, w, err, errlen);
}

/* What outputs show of an array laid out G then D (g and d scalars): the
   moving average's generator part (avg) with the discriminator's as
   trained (raw), or raw itself without an average. */
static const void *shown(const Trainer *t, void *avg, const void *raw, int64_t g, int64_t d)
{
  if (!t->avg)
    return raw;
  size_t s = (size_t)t->info->scalar_size;
  memcpy((char *)avg + s * (size_t)g, (const char *)raw + s * (size_t)g, s * (size_t)d);
  return avg;
}

static const void *shown_params(Trainer *t)
{
  return shown(t, t->avg, t->work.params, t->info->g_param_count, t->info->d_param_count);
}

static const void *shown_stats(Trainer *t)
{
  return shown(t, t->avg_stats, t->work.stats, t->info->g_stats_count, t->info->d_stats_count);
}

/* After a generator update: the average takes a step toward the
   parameters and copies the running statistics. */
static void update_average(Trainer *t)
{
  const ganc_info *info = t->info;
  ganc_ema_update(info->scalar_size, t->opt->ema, info->g_param_count, t->avg, t->work.params);
  memcpy(t->avg_stats, t->work.stats, (size_t)info->scalar_size * (size_t)info->g_stats_count);
}

/* The statistics as files hold them: num_batches_tracked counts the
   training passes, 1 + K per step for the generator's layers (one in each
   update) and 2K + 1 for the discriminator's (real and fake batches in
   each of its K updates, then the generator's). */
static ganc_stats file_stats(Trainer *t, const void *running)
{
  int64_t k = t->opt->d_steps;
  return (ganc_stats){(void *)running, t->step * (1 + k), t->step * (2 * k + 1)};
}

static int mode_count(const Trainer *t)
{
  const double *c;
  double s;
  return ganc_data_modes(t->data, &c, &s);
}

/* Coverage of the fixed snapshot latents, for mixtures; with result, a
   conditional model's share of each label's samples at its mode too. */
static void coverage(Trainer *t, int *modes, double *hq, ganc_train_result *result)
{
  int classes = t->info->classes;
  int *labels = classes ? t->snap_labels : NULL;
  if (labels)
    ganc_snapshot_labels(classes, 0, COVERAGE_SAMPLES, labels);
  ganc_generate(t->info, t->fns, shown_params(t), shown_stats(t), COVERAGE_SAMPLES, t->snap_z, labels, t->snap_x);
  ganc_mode_coverage(t->data, t->snap_x, t->info->scalar_size, COVERAGE_SAMPLES, modes, hq);
  if (labels && result) {
    double share[GANC_MAX_LABEL_SHARES];
    int nmodes = mode_count(t), n = classes < nmodes ? classes : nmodes;
    if (n <= GANC_MAX_LABEL_SHARES &&
        ganc_label_accuracy(t->data, t->snap_x, t->info->scalar_size, labels, COVERAGE_SAMPLES, n, share) == 0) {
      result->nlabels = n;
      memcpy(result->label_share, share, sizeof(double) * (size_t)n);
    }
  }
}

static int is_mixture(const Trainer *t)
{
  return mode_count(t) > 0;
}

static int write_snapshot(Trainer *t, char *err, size_t errlen)
{
  int *labels = t->info->classes ? t->snap_labels : NULL;
  if (labels)
    ganc_snapshot_labels(t->info->classes, t->per_class, t->nsnap, labels);
  ganc_generate(t->info, t->fns, shown_params(t), shown_stats(t), t->nsnap, t->snap_z, labels, t->snap_x);
  return ganc_write_samples_png(t->info, t->path_png, t->snap_x, t->nsnap, labels, t->per_class, t->data, err,
                                errlen);
}

static int write_checkpoint(Trainer *t, char *err, size_t errlen)
{
  ganc_train_state st = {t->work.adam_m, t->work.adam_v, t->step, t->rng};
  ganc_ema ema = {t->avg, t->avg_stats, t->opt->ema};
  int has = t->info->stats_count > 0;
  ganc_stats raw = file_stats(t, t->work.stats), shown = file_stats(t, shown_stats(t));
  if (ganc_save_checkpoint(t->info, t->path_ckpt, t->work.params, has ? &raw : NULL, &st, t->avg ? &ema : NULL,
                           err, errlen) < 0)
    return -1;
  return ganc_save_weights(t->info, t->path_weights, shown_params(t), has ? &shown : NULL, NULL, err, errlen);
}

/* ---- loss.csv and loss.png ---- */

/* A line of loss.csv into row (modes and high_quality NaN when absent);
   0 if it is not a row. */
static int parse_row(const char *line, double row[ROW_COLUMNS])
{
  long long step = 0;
  int modes = 0;
  double dl, gl, sec, hq = 0;
  int got = sscanf(line, "%lld,%lf,%lf,%lf,%d,%lf", &step, &dl, &gl, &sec, &modes, &hq);
  if (got < 4)
    return 0;
  row[ROW_STEP] = (double)step;
  row[ROW_D] = dl;
  row[ROW_G] = gl;
  row[ROW_SECONDS] = sec;
  row[ROW_MODES] = got == 6 ? modes : NAN;
  row[ROW_HQ] = got == 6 ? hq : NAN;
  return 1;
}

static int add_row(Trainer *t, const double row[ROW_COLUMNS], char *err, size_t errlen)
{
  if (t->nrows == t->cap_rows) {
    int64_t cap = t->cap_rows ? 2 * t->cap_rows : 64;
    double *grown = realloc(t->rows, sizeof(double) * ROW_COLUMNS * (size_t)cap);
    if (!grown) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    t->rows = grown;
    t->cap_rows = cap;
  }
  memcpy(t->rows + ROW_COLUMNS * t->nrows++, row, sizeof(double) * ROW_COLUMNS);
  return 0;
}

/* loss.png: d_loss and g_loss against the step on the left axis; for
   mixtures the share of modes covered and of high-quality samples on a
   right-hand axis from 0 to 1. */
static int write_plot(Trainer *t, char *err, size_t errlen)
{
  int64_t n = t->nrows;
  if (n > INT32_MAX) {
    snprintf(err, errlen, "internal error: too many rows for loss.png");
    return -1;
  }
  double *col = malloc(sizeof(double) * (size_t)(n ? n : 1) * 5);
  if (!col) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  double *x = col, *d = col + n, *g = col + 2 * n, *m = col + 3 * n, *h = col + 4 * n;
  int nmodes = mode_count(t);
  for (int64_t i = 0; i < n; i++) {
    const double *r = t->rows + ROW_COLUMNS * i;
    x[i] = r[ROW_STEP];
    d[i] = r[ROW_D];
    g[i] = r[ROW_G];
    m[i] = nmodes ? r[ROW_MODES] / nmodes : NAN;
    h[i] = r[ROW_HQ];
  }
  char modes_name[32];
  snprintf(modes_name, sizeof modes_name, "modes/%d", nmodes);
  ganc_plot_line lines[] = {{"d_loss", d, 0}, {"g_loss", g, 0}, {modes_name, m, 1}, {"high_quality", h, 1}};
  ganc_plot plot = {.x = x, .n = (int)n, .x_whole = 1, .lines = lines, .nlines = nmodes ? 4 : 2,
                    .x_label = "step", .y_label = "loss", .y2_label = nmodes ? "coverage" : NULL,
                    .y2_lo = 0, .y2_hi = 1};
  int rc = ganc_png_plot(t->path_plot, &plot, err, errlen);
  free(col);
  return rc;
}

/* On resume, keep the rows up to the checkpoint's step and take the elapsed
   time from the last of them; otherwise start the file. */
static int csv_start(Trainer *t, char *err, size_t errlen)
{
  const char *header = is_mixture(t) ? "step,d_loss,g_loss,seconds,modes,high_quality\n"
                                     : "step,d_loss,g_loss,seconds\n";
  unsigned char *old = NULL;
  size_t len = 0;
  char e2[256];
  if (t->opt->resume && ganc_read_file(t->path_csv, &old, &len, e2, sizeof e2) < 0)
    old = NULL;
  ganc_atomic a;
  if (ganc_atomic_open(&a, t->path_csv, err, errlen) < 0) {
    free(old);
    return -1;
  }
  fputs(header, a.f);
  if (old) {
    char *line = strchr((char *)old, '\n');
    while (line && line[1]) {
      char *next = strchr(line + 1, '\n');
      double row[ROW_COLUMNS];
      if (parse_row(line + 1, row) && row[ROW_STEP] <= (double)t->step) {
        fwrite(line + 1, 1, next ? (size_t)(next - line) : strlen(line + 1), a.f);
        t->seconds_before = row[ROW_SECONDS];
        if (add_row(t, row, err, errlen) < 0) {
          free(old);
          ganc_atomic_abort(&a);
          return -1;
        }
      }
      line = next;
    }
    free(old);
  }
  return ganc_atomic_commit(&a, err, errlen);
}

static int csv_append(Trainer *t, double dl, double gl, double seconds, int modes, double hq, char *err,
                      size_t errlen)
{
  char line[256];
  int len = snprintf(line, sizeof line, "%lld,%.9g,%.9g,%.3f", (long long)t->step, dl, gl, seconds);
  if (is_mixture(t) && len > 0 && (size_t)len < sizeof line)
    snprintf(line + len, sizeof line - (size_t)len, ",%d,%.4f", modes, hq);
  FILE *f = fopen(t->path_csv, "a");
  if (!f) {
    snprintf(err, errlen, "cannot write '%s': %s", t->path_csv, strerror(errno));
    return -1;
  }
  fputs(line, f);
  fputc('\n', f);
  if (fclose(f) != 0) {
    snprintf(err, errlen, "cannot write '%s': %s", t->path_csv, strerror(errno));
    return -1;
  }
  /* The plot shows what the file says, as a resumed run reads it back. */
  double row[ROW_COLUMNS];
  if (!parse_row(line, row)) {
    snprintf(err, errlen, "internal error: loss.csv row '%s' does not read back", line);
    return -1;
  }
  if (add_row(t, row, err, errlen) < 0)
    return -1;
  return write_plot(t, err, errlen);
}

/* ---- the loop ---- */

/* n running statistics averaged over the ranks, in place. */
static void mean_over_ranks(const ganc_info *info, void *stats, int parts)
{
  int size = info->scalar_size;
  ganc_dist_sum(size, info->stats_count, stats);
  for (int64_t i = 0; i < info->stats_count; i++)
    ganc_scalar_store(stats, size, i, ganc_scalar_load(stats, size, i) / parts);
}

static void trainer_free(Trainer *t)
{
  free(t->work.params);
  free(t->work.stats);
  free(t->avg);
  free(t->avg_stats);
  free(t->rows);
  free(t->path_plot);
  free(t->work.adam_m);
  free(t->work.adam_v);
  free(t->work.grad_d);
  free(t->work.grad_g);
  free(t->work.workspace);
  free(t->work.x);
  free(t->work.z);
  free(t->work.x_labels);
  free(t->work.z_labels);
  free(t->snap_labels);
  free(t->snap_z);
  free(t->snap_x);
  free(t->path_weights);
  free(t->path_ckpt);
  free(t->path_csv);
  free(t->path_png);
  ganc_data_free(t->data);
}

/* A checkpoint's moving average (decay 0: none) against --ema: resuming
   must keep what the run started with. */
static int ema_mismatch(const Trainer *t, double file_decay, char *err, size_t errlen)
{
  double want = t->opt->ema;
  if (file_decay == want)
    return 0;
  char have[32], asked[32];
  ganc_format_real(have, sizeof have, file_decay);
  ganc_format_real(asked, sizeof asked, want);
  if (want == 0)
    snprintf(err, errlen, "%s holds a moving average of the generator (--ema %s); resume with --ema %s, or "
             "start over with --force", t->path_ckpt, have, have);
  else if (file_decay == 0)
    snprintf(err, errlen, "--ema %s, but %s holds no moving average (it was trained without --ema); resume "
             "without --ema, or start over with --force", asked, t->path_ckpt);
  else
    snprintf(err, errlen, "--ema %s, but the moving average in %s has decay %s; resume with --ema %s, or "
             "start over with --force", asked, t->path_ckpt, have, have);
  return -1;
}

/* Rank 0's state on every rank of a data-parallel run: how its start
   went (rc), then the parameters, statistics, Adam moments, step, noise
   and the moving average. */
static int share_state(Trainer *t, int rc, char *err, size_t errlen)
{
  if (t->work.parts <= 1)
    return rc;
  const ganc_info *info = t->info;
  size_t s = (size_t)info->scalar_size;
  ganc_dist_broadcast(&rc, sizeof rc);
  if (rc != GANC_TRAIN_DONE) {
    if (t->work.part != 0)
      snprintf(err, errlen, "rank 0 could not start (it says why)");
    return rc;
  }
  ganc_step *w = &t->work;
  ganc_dist_broadcast(w->params, s * (size_t)info->param_count);
  ganc_dist_broadcast(w->stats, s * (size_t)info->stats_count);
  ganc_dist_broadcast(w->adam_m, s * (size_t)info->param_count);
  ganc_dist_broadcast(w->adam_v, s * (size_t)info->param_count);
  ganc_dist_broadcast(&t->step, sizeof t->step);
  ganc_dist_broadcast(&t->rng, sizeof t->rng);
  if (t->avg) {
    ganc_dist_broadcast(t->avg, s * (size_t)info->g_param_count);
    ganc_dist_broadcast(t->avg_stats, s * (size_t)info->g_stats_count);
  }
  return rc;
}

static int setup(Trainer *t, const ganc_fns *fns, char *err, size_t errlen)
{
  const ganc_info *info = t->info;
  const ganc_train_options *o = t->opt;
  ganc_step *w = &t->work;
  *w = (ganc_step){.info = info, .fns = fns, .adam_d = &o->adam_d, .adam_g = &o->adam_g, .batch = o->batch,
                   .d_steps = o->d_steps, .draw = draw_batches, .draw_ctx = t, .part = ganc_dist_rank(),
                   .parts = ganc_dist_size()};
  t->fns = fns;
  if (!fns->fn[GANC_FN_DISCRIMINATOR_LOSS_BACKWARD] || !fns->fn[GANC_FN_GENERATOR_LOSS_BACKWARD] ||
      !fns->fn[GANC_FN_GENERATE_BATCH]) {
    snprintf(err, errlen, "internal error: model '%s' has no training functions", info->name);
    return GANC_TRAIN_INTERNAL;
  }
  t->data = ganc_data_open_labels(o->data, o->labels, info, err, errlen);
  if (!t->data)
    return GANC_TRAIN_ERROR;
  t->nsnap = o->samples > 0 ? o->samples : info->obs_size == 2 ? 1000 : 64; /* points, or images */
  if (info->classes && info->classes <= GANC_CLASS_ROWS_MAX && info->obs_size != 2) { /* a row per class */
    t->per_class = o->samples > 0 ? (o->samples + info->classes - 1) / info->classes : 8;
    if ((int64_t)t->per_class * info->classes > 4096) {
      snprintf(err, errlen, "samples.png would show %lld images (%d classes, %d each); ask for fewer with "
               "--samples", (long long)t->per_class * info->classes, info->classes, t->per_class);
      return GANC_TRAIN_ERROR;
    }
    t->nsnap = t->per_class * info->classes;
  }
  int nz = is_mixture(t) && t->nsnap < COVERAGE_SAMPLES ? COVERAGE_SAMPLES : t->nsnap;
  size_t s = (size_t)info->scalar_size, np = (size_t)info->param_count, b = (size_t)o->batch;
  size_t ns = (size_t)(info->stats_count ? info->stats_count : 1);
  w->params = ganc_alloc(s * np);
  w->stats = ganc_alloc(s * ns);
  if (o->ema > 0 && (!(t->avg = ganc_alloc(s * (np ? np : 1))) || !(t->avg_stats = ganc_alloc(s * ns)))) {
    snprintf(err, errlen, "out of memory");
    return GANC_TRAIN_ERROR;
  }
  w->adam_m = ganc_alloc(s * np);
  w->adam_v = ganc_alloc(s * np);
  w->grad_d = ganc_alloc(s * (size_t)(info->d_param_count + 1));
  w->grad_g = ganc_alloc(s * (size_t)(info->g_param_count + 1));
  w->workspace = ganc_train_workspace(info, o->batch / w->parts / info->pack);
  w->x = ganc_alloc(s * b * (size_t)info->obs_size);
  w->z = ganc_alloc(s * b * (size_t)info->latent_size);
  t->snap_z = ganc_alloc(s * (size_t)nz * (size_t)info->latent_size);
  t->snap_x = ganc_alloc(s * (size_t)nz * (size_t)info->obs_size);
  if (info->classes) {
    w->x_labels = malloc(sizeof(int) * b);
    w->z_labels = malloc(sizeof(int) * b);
    t->snap_labels = malloc(sizeof(int) * (size_t)nz);
    if (!w->x_labels || !w->z_labels || !t->snap_labels) {
      snprintf(err, errlen, "out of memory");
      return GANC_TRAIN_ERROR;
    }
  }
  t->path_weights = join(o->outdir, "weights.safetensors");
  t->path_ckpt = join(o->outdir, "checkpoint.safetensors");
  t->path_csv = join(o->outdir, "loss.csv");
  t->path_png = join(o->outdir, "samples.png");
  t->path_plot = join(o->outdir, "loss.png");
  if (!w->params || !w->stats || !w->adam_m || !w->adam_v || !w->grad_d || !w->grad_g || !w->workspace || !w->x ||
      !w->z || !t->snap_z ||
      !t->snap_x || !t->path_weights || !t->path_ckpt || !t->path_csv || !t->path_png || !t->path_plot) {
    snprintf(err, errlen, "out of memory");
    return GANC_TRAIN_ERROR;
  }
  ganc_rng snap;
  ganc_rng_seed(&snap, SNAPSHOT_SEED);
  ganc_normal_fill(&snap, info->scalar_size, (int64_t)nz * info->latent_size, t->snap_z);
  for (int i = t->per_class; t->per_class > 0 && i < t->nsnap; i++) /* a column shares its latent */
    memcpy((char *)t->snap_z + s * (size_t)i * (size_t)info->latent_size,
           (char *)t->snap_z + s * (size_t)(i % t->per_class) * (size_t)info->latent_size,
           s * (size_t)info->latent_size);

  int rc = GANC_TRAIN_DONE;
  if (o->resume && w->part == 0) { /* rank 0 reads, then shares (share_state) */
    ganc_train_state st = {w->adam_m, w->adam_v, 0, {{0}}};
    ganc_ema ema = {t->avg, t->avg_stats, 0};
    ganc_stats stats = {w->stats, 0, 0};
    if (ganc_load_checkpoint(info, t->path_ckpt, w->params, info->stats_count ? &stats : NULL, &st, &ema, err,
                             errlen) < 0 ||
        ema_mismatch(t, ema.decay, err, errlen))
      rc = GANC_TRAIN_ERROR;
    t->step = st.step;
    t->rng = st.rng;
    if (rc == GANC_TRAIN_DONE && t->step > o->steps) {
      snprintf(err, errlen, "the checkpoint is at step %lld, past --steps %lld", (long long)t->step,
               (long long)o->steps);
      rc = GANC_TRAIN_ERROR;
    }
  } else if (!o->resume) {
    ganc_init_params(info, o->seed, w->params);
    ganc_init_stats(info, w->stats);
    if (t->avg) { /* the average starts at the initial parameters */
      memcpy(t->avg, w->params, s * (size_t)info->g_param_count);
      memcpy(t->avg_stats, w->stats, s * (size_t)info->g_stats_count);
    }
    ganc_rng_seed(&t->rng, o->seed ^ 0x9e3779b97f4a7c15ull);
  }
  if (share_state(t, rc, err, errlen) != GANC_TRAIN_DONE)
    return GANC_TRAIN_ERROR;
  if (w->part != 0) /* rank 0 alone writes */
    return GANC_TRAIN_DONE;
  return csv_start(t, err, errlen) < 0 ? GANC_TRAIN_ERROR : GANC_TRAIN_DONE;
}

int ganc_train(const ganc_fns *fns, const ganc_info *info, const ganc_train_options *o, ganc_train_result *result,
               char *err, size_t errlen)
{
  Trainer t = {.info = info, .opt = o};
  snprintf(err, errlen, "%s", "");
  memset(result, 0, sizeof *result);
  if (o->batch <= 0 || o->steps < 0 || o->d_steps <= 0 || o->every <= 0 ||
      !(o->ema == 0 || (o->ema > 0 && o->ema < 1))) {
    snprintf(err, errlen, "internal error: bad training options");
    return GANC_TRAIN_INTERNAL;
  }
  if (o->batch % info->pack != 0) {
    snprintf(err, errlen, "--batch %d is not a multiple of %s's pack %d (the discriminator judges packs of %d samples)",
             o->batch, info->name, info->pack, info->pack);
    return GANC_TRAIN_ERROR;
  }
  int parts = ganc_dist_size(), rank = ganc_dist_rank();
  if (o->batch % (parts * info->pack) != 0) {
    snprintf(err, errlen, "--batch %d does not split evenly over %d ranks%s: each rank trains on an equal part of "
             "every batch, a multiple of %d samples", o->batch, parts, info->pack > 1 ? " in whole packs" : "",
             parts * info->pack);
    return GANC_TRAIN_ERROR;
  }
  if (parts > 1 && o->batch / parts < info->min_train_batch) {
    snprintf(err, errlen, "--batch %d gives each of %d ranks %d samples, too few for %s: its batch_norm layers "
             "need at least %d per rank", o->batch, parts, o->batch / parts, info->name, info->min_train_batch);
    return GANC_TRAIN_ERROR;
  }
  if (o->batch < info->min_train_batch) {
    snprintf(err, errlen, "--batch %d is too small for %s: its batch_norm layers need a batch of at least %d "
             "samples to see two values per channel (a variance of one value is undefined)",
             o->batch, info->name, info->min_train_batch);
    return GANC_TRAIN_ERROR;
  }
  int rc = setup(&t, fns, err, errlen);
  if (rc != GANC_TRAIN_DONE) {
    trainer_free(&t);
    return rc;
  }

  double start = ganc_seconds(), sum_d = 0, sum_g = 0, sent = (double)ganc_dist_bytes_sent();
  int64_t in_window = 0;
  ganc_progress p = {.steps = o->steps, .nmodes = mode_count(&t)};
  while (t.step < o->steps) {
    double dl = 0, gl = 0;
    ganc_train_step(&t.work, t.step, &dl, &gl);
    if (parts > 1 && info->stats_count > 0) /* the replicas' running statistics, averaged */
      mean_over_ranks(info, t.work.stats, parts);
    if (t.avg)
      update_average(&t);
    t.step++;
    result->steps_run++;
    if (!isfinite(dl) || !isfinite(gl)) {
      snprintf(err, errlen, "training stopped at step %lld: the %s loss is %s; %s/checkpoint.safetensors holds "
               "the last good state", (long long)t.step, isfinite(dl) ? "generator" : "discriminator",
               isnan(isfinite(dl) ? gl : dl) ? "NaN" : "infinite", o->outdir);
      rc = GANC_TRAIN_NAN;
      break;
    }
    sum_d += dl;
    sum_g += gl;
    in_window++;
    p.step = t.step;
    p.d_loss = dl;
    p.g_loss = gl;
    p.seconds = t.seconds_before + ganc_seconds() - start;
    int last = t.step == o->steps, stopping = ganc_dist_any(o->stop && *o->stop);
    if (rank == 0 && (t.step % o->every == 0 || last || stopping)) {
      p.modes = 0;
      p.high_quality = 0;
      if (p.nmodes)
        coverage(&t, &p.modes, &p.high_quality, NULL);
      if (csv_append(&t, sum_d / (double)in_window, sum_g / (double)in_window, p.seconds, p.modes,
                     p.high_quality, err, errlen) < 0 ||
          write_snapshot(&t, err, errlen) < 0 || write_checkpoint(&t, err, errlen) < 0) {
        rc = GANC_TRAIN_ERROR;
        break;
      }
      sum_d = sum_g = 0;
      in_window = 0;
      p.snapshot = 1;
    }
    p.final = last;
    if (o->progress && rank == 0)
      o->progress(&p, o->progress_ctx);
    p.snapshot = 0;
    if (stopping && !last) {
      rc = GANC_TRAIN_STOPPED;
      break;
    }
  }
  if (rc == GANC_TRAIN_DONE && o->steps == t.step && p.step == 0 && rank == 0) {
    /* Nothing to do (resumed at the end): refresh the outputs anyway. */
    if (write_plot(&t, err, errlen) < 0 || write_snapshot(&t, err, errlen) < 0 ||
        write_checkpoint(&t, err, errlen) < 0)
      rc = GANC_TRAIN_ERROR;
  }
  if (result->steps_run > 0)
    result->bytes_per_step = ((double)ganc_dist_bytes_sent() - sent) / (double)result->steps_run;
  if (rc == GANC_TRAIN_DONE && is_mixture(&t) && rank == 0) {
    coverage(&t, &result->modes, &result->high_quality, result);
    result->nmodes = p.nmodes;
  }
  trainer_free(&t);
  return rc;
}
