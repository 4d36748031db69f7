/* train.h — the training loop (train.c) and the sampling helpers the CLI
 * shares with it. */
#ifndef GANC_TRAIN_H
#define GANC_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "ganc.h"
#include "io.h"

typedef struct ganc_progress {
  int64_t step, steps;
  double d_loss, g_loss; /* this step's */
  double seconds;        /* elapsed, including the runs resumed from */
  int modes, nmodes;     /* mixtures, at snapshots: modes covered of nmodes */
  double high_quality;
  int snapshot; /* outputs were just written */
  int final;    /* the last step */
} ganc_progress;

typedef struct ganc_train_options {
  const char *data;   /* --data SPEC */
  const char *labels; /* --labels FILE: an IDX data set's labels (conditional models); NULL for none */
  const char *outdir; /* must exist */
  int64_t steps;      /* the total, also when resuming */
  int batch;
  ganc_adam adam_d, adam_g; /* each network's Adam (--lr-d and --lr-g; the same betas) */
  double ema;         /* --ema: the decay, in (0, 1), of the generator's moving average; 0 for none */
  int d_steps;        /* discriminator updates per step */
  uint64_t seed;
  int64_t every;      /* loss.csv row, samples.png and checkpoint every K steps */
  int resume;         /* continue from outdir/checkpoint.safetensors */
  int samples;        /* images in samples.png (64 if 0; a conditional model's
                         has one row per class, samples / classes each, 8 if 0) */
  volatile sig_atomic_t *stop; /* set asynchronously: checkpoint and return */
  void (*progress)(const ganc_progress *p, void *ctx); /* after every step */
  void *progress_ctx;
} ganc_train_options;

enum { GANC_MAX_LABEL_SHARES = 32 };

typedef struct ganc_train_result {
  int modes, nmodes;  /* mixtures: PacGAN's coverage of 2500 samples */
  double high_quality;
  /* Conditional mixtures: for each label k < nlabels (the classes that
     name a mode), the share of the 2500 samples drawn for label k whose
     nearest mode is k. */
  int nlabels;
  double label_share[GANC_MAX_LABEL_SHARES];
  int64_t steps_run;     /* the steps this call took */
  double bytes_per_step; /* what each of them passed to MPI's collectives (dist.h) */
} ganc_train_result;

enum {
  GANC_TRAIN_DONE,
  GANC_TRAIN_ERROR,    /* a bad data set, checkpoint or file: err says */
  GANC_TRAIN_NAN,      /* a loss became NaN or infinite; the last checkpoint stays */
  GANC_TRAIN_STOPPED,  /* *stop was set; a checkpoint was written */
  GANC_TRAIN_INTERNAL, /* a bug */
};

/* Train info's model, its emitted functions in fns (ganc_functions, or
   dlsym of a build of the emitted C), writing weights.safetensors,
   checkpoint.safetensors, loss.csv, loss.png and samples.png into
   o->outdir. With o->ema, samples.png, the coverage and weights.safetensors
   come from the moving average of the generator (and the discriminator as
   trained); the checkpoint holds the raw parameters and the average. */
int ganc_train(const ganc_fns *fns, const ganc_info *info, const ganc_train_options *o, ganc_train_result *result,
               char *err, size_t errlen);

/* What one training step works on: the loop in ganc_train and `ganc bench`
   both step through ganc_train_step, so what bench times is what training
   runs. */
typedef struct ganc_step {
  const ganc_info *info;
  const ganc_fns *fns;   /* uses DISCRIMINATOR_LOSS_BACKWARD, GENERATOR_LOSS_BACKWARD */
  const ganc_adam *adam_d, *adam_g; /* the discriminator's and the generator's */
  int batch;             /* samples; the functions get batch / info->pack packs */
  int d_steps;           /* discriminator updates per step */
  void *params;          /* info->param_count scalars: the generator's, then the discriminator's */
  void *stats;           /* info->stats_count scalars, updated by every training pass (batch_norm) */
  void *adam_m, *adam_v; /* the Adam moments, laid out as params */
  void *grad_d, *grad_g; /* d_param_count + 1 and g_param_count + 1 scalars */
  /* The _ws functions' workspace for the batch (ganc_train_workspace),
     or NULL to call the _backward ones. */
  void *workspace;
  void *x, *z;           /* a batch of observations and one of latents */
  int *x_labels, *z_labels; /* a conditional model's: x's and z's labels (batch ints each) */
  /* Called before every update to draw its batches (and their labels): x
     and z before each discriminator update, z alone (x NULL) before the
     generator's. NULL: every update uses x and z as they are. */
  void (*draw)(void *ctx, void *x, void *z);
  void *draw_ctx;
  /* Data-parallel training (dist.h): the functions get part `part` of
     `parts` equal parts of every batch (the draws fill all of it), and
     each update's gradient and loss are the means over the ranks. parts
     0 or 1: the whole batch, on this process alone. */
  int part, parts;
} ganc_step;

/* The step after `done` steps: d_steps Adam updates of the discriminator
   (update k, from 0, is Adam step done * d_steps + k + 1 of its moments),
   then one of the generator (Adam step done + 1). The losses are those the
   last updates computed. */
void ganc_train_step(const ganc_step *s, int64_t done, double *d_loss, double *g_loss);

/* n bytes (at least 1), zeroed, at an address that is a multiple of 64
   (a cache line, and the widest vector the kernels read), to free with
   free(); NULL if the heap fails. The kernels read parameters, gradients,
   batches and workspaces in whole vectors: at this alignment none of them
   straddles two cache lines. */
void *ganc_alloc(size_t n);

/* A workspace for the _ws functions on n packs (info's
   train_workspace_per_n and train_workspace_once), to free; NULL if the
   heap fails. */
void *ganc_train_workspace(const ganc_info *info, int n);

/* One update of a moving average of n scalars of scalar_size bytes:
   ema[i] = decay * ema[i] + (1 - decay) * params[i], computed in double from
   the stored values and rounded to the scalar type. */
void ganc_ema_update(int scalar_size, double decay, int64_t n, void *ema, const void *params);

/* The latents of every snapshot (samples.png, and the coverage of 2500
   samples): the first ones of a ganc_rng seeded with this, drawn by
   ganc_normal_fill. A conditional image model's samples.png, a row of
   per_class samples per class, gives every class the first per_class of
   them: a column shares its latent. */
#define GANC_SNAPSHOT_SEED 0x5eed

/* n samples of info's model from the latents z (its generate_batch), with
   labels (n ints) for a conditional model, else NULL. */
void ganc_generate(const ganc_info *info, const ganc_fns *fns, const void *params, const void *stats, int n,
                   const void *z, const int *labels, void *x);

/* A conditional image model with at most this many classes shows a row
   per class (samples.png, ganc sample); one with more, or a 2-D model,
   labels sample i with i mod classes. A scatter plot colours labels for at
   most GANC_SCATTER_MAX_CLASSES classes. */
#define GANC_CLASS_ROWS_MAX 256

/* The labels of n snapshot samples of a model with classes: sample i
   draws class i / per_class when per_class > 0 (one row of per_class per
   class), or i % classes when per_class is 0. */
void ganc_snapshot_labels(int classes, int per_class, int n, int *labels);

/* n samples as a PNG: a scatter plot over the data's distribution for 2-D
   observations (coloured by label when labels is not NULL), an image grid
   otherwise, with one row of per_class images for each class when labels
   is not NULL and per_class > 0 (n = classes * per_class, labels as
   ganc_snapshot_labels makes them). data may be NULL. */
int ganc_write_samples_png(const ganc_info *info, const char *path, const void *x, int n, const int *labels,
                           int per_class, const ganc_data *data, char *err, size_t errlen);

#endif
