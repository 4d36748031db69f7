/* ganc.h — embed the ganc compiler and runtime: compile .gan models in memory
 * (libtcc), call the emitted functions, initialize, load and save parameters.
 * Link with `pkg-config --cflags --libs --static ganc`.
 *
 * Every call reports failure by its return value (NULL or nonzero) and, where
 * it takes err/errlen, a message in err; none aborts or exits. */
#ifndef GANC_H
#define GANC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GANC_VERSION "0.1.0"
#define GANC_MAX_RANK 8

/* One compiled .gan file: every model in it, compiled together. */
typedef struct ganc_model ganc_model;

/* How a call failed: the user's input (a model, data or weights file), or a
   broken invariant inside ganc (a bug). */
typedef enum ganc_status {
  GANC_OK = 0,
  GANC_EUSER = 1,
  GANC_EINTERNAL = 3,
} ganc_status;

/* The functions ganc emits for every model NAME, named NAME_SUFFIX, in the
   order its header declares them (grep ORDER FN: the compiler's emitter
   describes each one's arguments in this order). */
#define GANC_FUNCTIONS(X)                                         \
  X(GENERATE, generate)                                           \
  X(FAKE_SCORE, fake_score)                                       \
  X(REAL_SCORE, real_score)                                       \
  X(DISCRIMINATOR_LOSS, discriminator_loss)                       \
  X(GENERATOR_LOSS, generator_loss)                               \
  X(GENERATE_BATCH, generate_batch)                               \
  X(REAL_SCORE_BATCH, real_score_batch)                           \
  X(FAKE_SCORE_BATCH, fake_score_batch)                           \
  X(DISCRIMINATOR_LOSS_BATCH, discriminator_loss_batch)           \
  X(GENERATOR_LOSS_BATCH, generator_loss_batch)                   \
  X(DISCRIMINATOR_LOSS_BACKWARD, discriminator_loss_backward)     \
  X(GENERATOR_LOSS_BACKWARD, generator_loss_backward)             \
  X(DISCRIMINATOR_LOSS_BACKWARD_WS, discriminator_loss_backward_ws) \
  X(GENERATOR_LOSS_BACKWARD_WS, generator_loss_backward_ws)     \
  X(GENERATE_BOUNDS, generate_bounds)                             \
  X(SCORE_BOUNDS, score_bounds)                                   \
  X(FAKE_SCORE_BOUNDS, fake_score_bounds)

typedef enum ganc_fn {
#define GANC_FN_ENUM(id, suffix) GANC_FN_##id,
  GANC_FUNCTIONS(GANC_FN_ENUM)
#undef GANC_FN_ENUM
  GANC_NFNS
} ganc_fn;

/* "generate_batch" for GANC_FN_GENERATE_BATCH; NULL out of range. */
const char *ganc_fn_suffix(ganc_fn fn);

typedef struct ganc_info ganc_info;
/* Does info's model have fn? Every model has every function of
   GANC_FUNCTIONS; fn out of range is not one. */
int ganc_fn_exists(const ganc_info *info, ganc_fn fn);

/* Every emitted function of one model, by ganc_fn: from the JIT
   (ganc_functions) or from any build of the emitted C (dlsym); NULL for
   those the model does not have (ganc_fn_exists). */
typedef struct ganc_fns {
  void *fn[GANC_NFNS];
} ganc_fns;

/* The arguments of any emitted function, each used where the function's
   signature (docs/DESIGN.md §4) has it; the scalars are of the model's type. */
typedef struct ganc_args {
  const void *params;
  void *stats;     /* running statistics, for a model with batch_norm */
  int n;           /* batch functions: samples (generate_batch) or packs */
  const void *z;   /* latents */
  const void *x;   /* observations: x, or x_real of the losses */
  /* A conditional model's labels (info->classes > 0): those of x and those
     of z, n of each for a batch function; a single-sample function takes
     the first. */
  const int *x_labels, *z_labels;
  void *out;       /* generate's x, or the score batches' scores */
  void *grad;      /* the _backward functions' grad_d or grad_g */
  void *workspace; /* the _ws functions' */
  /* The bounds functions' box, of z (generate_bounds, fake_score_bounds,
     whose labels are z_labels) or of x (score_bounds, x_labels), and the
     bounds they write. */
  const void *box_lo, *box_hi;
  void *out_lo, *out_hi;
} ganc_args;

/* Call fn of fns (info's model) with a's arguments, through a pointer of
   its exact type. Returns what it returns (0 for a void function). */
double ganc_call(const ganc_info *info, const ganc_fns *fns, ganc_fn fn, const ganc_args *a);

/* How ganc_init_params fills a tensor. */
typedef enum ganc_init {
  GANC_INIT_XAVIER, /* U(-a, a), a = sqrt(6 / (fan_in + fan_out)), PyTorch's fans */
  GANC_INIT_ZERO,
  GANC_INIT_ONE,
  GANC_INIT_NORMAL, /* standard normal */
} ganc_init;

/* A parameter tensor: a slice of the model's flat parameter array. */
typedef struct ganc_tensor {
  char name[48];              /* "generator.0.weight", as PyTorch names it */
  int rank;
  int64_t shape[GANC_MAX_RANK];
  int64_t offset, count;      /* in scalars */
  ganc_init init;
} ganc_tensor;

/* What a program needs to know of one model to call its functions. */
struct ganc_info {
  const char *name;           /* the model's name; prefixes its symbols */
  int scalar_size;            /* 4 for `scalar float`, 8 for `scalar double` */
  const char *loss;           /* "lsgan", "logistic" or "hinge" */
  int pack;                   /* samples per discriminator input: the score and
                                 loss functions' n counts packs of these */
  int classes;                /* class labels of a conditional model (its
                                 functions take labels, docs/DESIGN.md §4); 0
                                 for a model without `classes` */
  int latent_rank, obs_rank;
  int64_t latent_shape[GANC_MAX_RANK], obs_shape[GANC_MAX_RANK];
  int64_t latent_size, obs_size;           /* elements */
  int64_t g_param_count, d_param_count, param_count;
  int ntensors;               /* generator's first, then discriminator's */
  const ganc_tensor *tensors;
  /* Running statistics (batch_norm layers, docs/DESIGN.md §3): a second
     flat array, the generator's first, each layer's running_mean then its
     running_var; the tensors name them ("generator.1.running_mean") with
     offsets into that array. None (0) without batch_norm. */
  int64_t g_stats_count, d_stats_count, stats_count;
  int nstats;
  const ganc_tensor *stats;
  /* The smallest batch, in samples, the _backward functions train on:
     every batch_norm layer must see two values per channel (1 without). */
  int min_train_batch;
  /* The _backward_ws functions' workspace for n: scalar_size * (n *
     train_workspace_per_n + train_workspace_once) bytes
     (NAME_TRAIN_WORKSPACE_BYTES). */
  int64_t train_workspace_per_n, train_workspace_once;
  const char *signature;      /* shapes as text, e.g. "latent [64]; ..." */
};

/* Compile every model in a .gan file in memory (libtcc). NULL on failure,
   with the diagnostics (same format as the CLI) in err and, if status is
   not NULL, the kind of failure in *status (GANC_OK on success). */
ganc_model *ganc_jit(const char *path, char *err, size_t errlen, ganc_status *status);
/* The same for source text; name_for_diagnostics stands for the file name. */
ganc_model *ganc_jit_string(const char *source, const char *name_for_diagnostics,
                            char *err, size_t errlen, ganc_status *status);
/* An emitted symbol by name, e.g. "fashion_mlp_generate"; NULL if absent. */
void *ganc_symbol(ganc_model *m, const char *name);
/* Every emitted function of info's model (one of m's) into fns. 0, or -1
   if one is missing. */
int ganc_functions(ganc_model *m, const ganc_info *info, ganc_fns *fns);
/* Free everything ganc_jit made; symbols from it become invalid. */
void ganc_free(ganc_model *m);

/* The models of a compiled file, in source order. */
int ganc_model_count(const ganc_model *m);
const ganc_info *ganc_model_info(const ganc_model *m, int i);
/* A model by name; NULL if the file has none of that name. */
const ganc_info *ganc_find_model(const ganc_model *m, const char *name);

/* ---- Random numbers (documented in README, "Random numbers") ----
   xoshiro256** seeded by SplitMix64; uniforms from the top 53 bits; normals
   by Box–Muller (one normal from two uniforms). */
typedef struct ganc_rng {
  uint64_t s[4];
} ganc_rng;

void ganc_rng_seed(ganc_rng *r, uint64_t seed);
uint64_t ganc_rng_next(ganc_rng *r);
double ganc_rng_uniform(ganc_rng *r); /* [0, 1) */
double ganc_rng_normal(ganc_rng *r);  /* mean 0, variance 1 */

/* Fill params (info->param_count scalars of info->scalar_size bytes), each
   tensor by its rule, deterministically from seed: the random rules draw
   from one stream, tensor by tensor in order. */
void ganc_init_params(const ganc_info *info, uint64_t seed, void *params);
/* Fill info->stats_count scalars: running means 0, variances 1. */
void ganc_init_stats(const ganc_info *info, void *stats);
/* Fill n scalars with standard normal noise. */
void ganc_normal_fill(ganc_rng *r, int scalar_size, int64_t n, void *out);

/* ---- Threads ----
   The JIT's kernels run each large product's pieces on a pool of threads;
   every output is computed exactly as on one thread, so results do not
   depend on the count. The emitted standalone C is single-threaded. */
#define GANC_MAX_THREADS 256

/* Use n threads (n <= 0: the default, GANC_THREADS or every core, shared
   among the ranks mpirun started on this machine; at most
   GANC_MAX_THREADS). Returns the count in effect. */
int ganc_set_threads(int n);
/* The count in effect. */
int ganc_threads(void);

/* ---- Adam ---- */

typedef struct ganc_adam {
  double lr, beta1, beta2, eps;
} ganc_adam;

/* lr 2e-4, betas (0.5, 0.999), eps 1e-8: the DCGAN/LSGAN convention. */
#define GANC_ADAM_DEFAULTS {2e-4, 0.5, 0.999, 1e-8}

/* One step of torch.optim.Adam on n scalars of scalar_size bytes: moments
   m and v (zero before the first step) updated in place, bias-corrected,
   eps added after the square root. step counts from 1. */
void ganc_adam_step(const ganc_adam *opt, int scalar_size, int64_t step, int64_t n, void *params,
                    const void *grad, void *m, void *v);

/* ---- Weights and checkpoints (safetensors) ---- */

/* A model's running statistics as files hold them: info->stats_count
   scalars (model's scalar type), and the training passes each network's
   batch_norm layers have seen (every one of its layers'
   num_batches_tracked). Pass NULL for a model without batch_norm. */
typedef struct ganc_stats {
  void *running;
  int64_t g_passes, d_passes;
} ganc_stats;

/* What a checkpoint holds beyond the weights. */
typedef struct ganc_train_state {
  void *adam_m, *adam_v; /* info->param_count scalars each, model's scalar type */
  int64_t step;
  ganc_rng rng;
} ganc_train_state;

/* Write weights (state == NULL) or a checkpoint (state != NULL: also tensors
   adam.m.NAME and adam.v.NAME for every tensor NAME, metadata ganc.step and
   ganc.rng). A model with batch_norm needs stats: every layer's
   running_mean and running_var (the model's dtype) and num_batches_tracked
   (I64, shape []: stats->g_passes in the generator, d_passes in the
   discriminator), named as PyTorch names them; they have no adam.*. Atomic
   (written as PATH.tmp, synced, renamed over PATH): on failure PATH is
   untouched and no temporary is left. 0 on success, -1 with a message. */
int ganc_save_weights(const ganc_info *info, const char *path, const void *params,
                      const ganc_stats *stats, const ganc_train_state *state, char *err, size_t errlen);
/* Load weights from a safetensors file ("-" is standard input) into params
   (model's scalar type; F32 and F64 are converted; tensors named as in
   info->tensors), and with state != NULL the Adam moments, step and rng,
   which must then be present. With state == NULL adam.* tensors are
   ignored. A model with batch_norm reads its running statistics into
   stats->running (they must be present, F32 or F64) and each network's
   passes from its first layer's num_batches_tracked (optional, but I64 of
   shape [] when present; 0 without it), or with stats == NULL ignores
   every statistics tensor. On failure params, stats and state are
   untouched. 0 on success, -1 with a message. On success err may still
   hold a warning (err[0] != 0), e.g. when weights or statistics are NaN
   or infinite. */
int ganc_load_weights(const ganc_info *info, const char *path, void *params,
                      ganc_stats *stats, ganc_train_state *state, char *err, size_t errlen);
/* The same for a file's size bytes already in memory at data; name stands
   for the file in messages. */
int ganc_load_weights_mem(const ganc_info *info, const char *name, const void *data,
                          size_t size, void *params, ganc_stats *stats, ganc_train_state *state,
                          char *err, size_t errlen);

/* An exponential moving average of the generator's parameters (`ganc train
   --ema`): params holds info->g_param_count scalars of the model's type,
   laid out as the generator's part of the parameters. */
typedef struct ganc_ema {
  void *params;
  void *stats;  /* info->g_stats_count scalars: a copy of the generator's
                   running statistics (NULL without batch_norm) */
  double decay; /* in (0, 1) */
} ganc_ema;

/* ganc_save_weights with state, and with ema != NULL also tensors ema.NAME
   for every generator tensor NAME and, from ema->stats, for the
   generator's running_mean and running_var (not its num_batches_tracked),
   and metadata ganc.ema (the decay, in the fewest digits that read back
   exactly). ema == NULL writes exactly what ganc_save_weights writes. */
int ganc_save_checkpoint(const ganc_info *info, const char *path, const void *params,
                         const ganc_stats *stats, const ganc_train_state *state,
                         const ganc_ema *ema, char *err, size_t errlen);
/* ganc_load_weights with state, and with ema != NULL the moving average
   too: ema->decay becomes the file's ganc.ema, or 0 when it has none. A
   file with ganc.ema must hold ema.NAME for every generator tensor, loaded
   into ema->params unless that is NULL, and, when stats and ema->stats are
   not NULL, for the generator's running statistics, loaded into ema->stats
   (otherwise those are ignored); a file without it may hold no ema.*
   tensor. ganc_load_weights (and this call with ema == NULL) ignores
   ema.* tensors and ganc.ema. On failure nothing is touched. */
int ganc_load_checkpoint(const ganc_info *info, const char *path, void *params,
                         ganc_stats *stats, ganc_train_state *state, ganc_ema *ema, char *err,
                         size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
