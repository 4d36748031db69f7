/* emit.c — C text for one lowered model: NAME.h, NAME.c, NAME_weights.c.
 *
 * Samples go through the layers in tiles of up to TILE at a time (lower.c
 * chooses TILE within the stack budget), so that a linear layer is one
 * matrix product that reads each weight row once per tile. Every layer is
 * one call of a kernel from runtime/kernels.inc, headed by a comment naming
 * the layer, its source line and its shapes. `ganc emit` copies the kernels
 * the model needs into the source; the JIT declares them and links the
 * runtime's optimized build of the same text. The public functions
 * (docs/DESIGN.md §4) are written in terms of the static NAME_G and NAME_D,
 * so that fake_score(z) and real_score(generate(z)) run the same code on
 * the same numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "kernel_blocks.h"

typedef struct Emitter {
  Str *out;
  const IrModel *ir;
  const Model *m;
  const EmitOptions *opt;
  /* The discriminator's inputs: NAME_OBS_SIZE and NAME_LATENT_SIZE scalars
     per sample, or per pack of NAME_PACK samples; and the samples G makes
     for t of them. */
  char obs_in[300], lat_in[300], g_samples[300];
  /* The leading arguments of every call of the model's functions:
     "params", or "params, stats" for a model with batch_norm. */
  const char *pa;
  int labels; /* a conditional model: its functions take labels */
  /* The extra indent of a training pass's body inside its loop over tiles
     (depth_first). */
  const char *ind;
  char lab[8][128]; /* lab()'s results, used in turn */
  int nlab;
} Emitter;

static Emitter emitter(Str *out, const IrModel *ir, const EmitOptions *opt)
{
  Emitter e = {.out = out, .ir = ir, .m = ir->model, .opt = opt, .pa = ir->batch ? "params, stats" : "params",
               .labels = ir->model->classes > 0, .ind = ""};
  const char *n = ir->model->name;
  if (ir->model->pack > 1) {
    snprintf(e.obs_in, sizeof e.obs_in, "%s_PACK * %s_OBS_SIZE", n, n);
    snprintf(e.lat_in, sizeof e.lat_in, "%s_PACK * %s_LATENT_SIZE", n, n);
    snprintf(e.g_samples, sizeof e.g_samples, "t * %s_PACK", n);
  } else {
    snprintf(e.obs_in, sizeof e.obs_in, "%s_OBS_SIZE", n);
    snprintf(e.lat_in, sizeof e.lat_in, "%s_LATENT_SIZE", n);
    snprintf(e.g_samples, sizeof e.g_samples, "t");
  }
  return e;
}

/* The tile a stack's functions take: TILE, or for a packed model's
   generator G_TILE, the samples of TILE packs. */
static const char *tile_of(const Emitter *e, int gen)
{
  return gen && e->m->pack > 1 ? "G_TILE" : "TILE";
}

/* Do the training passes run tile by tile through every layer? Yes but
   in a model with batch layers, which go layer by layer over the batch. */
static int depth_first(const Emitter *e)
{
  return !e->ir->batch;
}

/* The same in the training passes: TRAIN_TILE or G_TRAIN_TILE. */
static const char *train_tile_of(const Emitter *e, int gen)
{
  return gen && e->m->pack > 1 ? "G_TRAIN_TILE" : "TRAIN_TILE";
}

static void put(Emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(Emitter *e, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  str_vprintf(e->out, fmt, ap);
  va_end(ap);
}

static const char *scalar_type(const Model *m)
{
  return m->scalar == SCALAR_DOUBLE ? "double" : "float";
}

/* The labels argument of a call, ", expr", in a conditional model; "" in
   any other. The text lasts for the next seven calls. */
static const char *lab(Emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *lab(Emitter *e, const char *fmt, ...)
{
  char *b = e->lab[e->nlab++ % 8];
  b[0] = 0;
  if (e->labels) {
    va_list ap;
    va_start(ap, fmt);
    b[0] = ',';
    b[1] = ' ';
    vsnprintf(b + 2, sizeof e->lab[0] - 2, fmt, ap);
    va_end(ap);
  }
  return b;
}

/* A constant of the scalar type that reads back exactly. */
static const char *literal(const Emitter *e, double v, char *buf, size_t size)
{
  if (e->m->scalar == SCALAR_DOUBLE)
    snprintf(buf, size, "%.17g", v);
  else
    snprintf(buf, size, "%.9g", (double)(float)v);
  if (!strpbrk(buf, ".e"))
    strncat(buf, ".0", size - strlen(buf) - 1);
  if (e->m->scalar == SCALAR_FLOAT)
    strncat(buf, "f", size - strlen(buf) - 1);
  return buf;
}

/* Text safe inside a C comment. */
static void put_comment_text(Emitter *e, const char *s)
{
  for (; *s; s++) {
    str_putc(e->out, *s);
    if (*s == '*' && s[1] == '/')
      str_putc(e->out, ' ');
  }
}

/* ---- the emitted functions ---- */

/* What each emitted function takes, in order. */
/* A_STATS: the running statistics, only in a model with batch_norm; const
   but in the training functions, which update them. */
/* A_LABEL...: a conditional model's labels of the input before them, one
   (int) for a single sample, n (const int *) for a batch. */
typedef enum {
  A_END, A_PARAMS, A_STATS, A_N, A_Z, A_X, A_X_REAL, A_X_OUT, A_SCORES, A_GRAD_D, A_GRAD_G, A_WORKSPACE,
  A_Z_LO, A_Z_HI, A_X_LO, A_X_HI, A_X_LO_OUT, A_X_HI_OUT, A_LO, A_HI,
  A_LABEL, A_LABEL_REAL, A_LABEL_FAKE, A_LABELS, A_LABELS_REAL, A_LABELS_FAKE
} ArgKind;

typedef struct FnSpec {
  int scalar_result; /* returns a scalar, else void */
  ArgKind args[10];
  /* A comment the header puts before it, NULL for none: $N is the model's
     name, $D and $G its loss's formulas, $d and $g their batch means. */
  const char *doc;
} FnSpec;

/* Indexed by ganc.h's ids, so that the header keeps GANC_FUNCTIONS' order. */
static const FnSpec fn_specs[GANC_NFNS] = {
    [GANC_FN_GENERATE] = {0, {A_PARAMS, A_STATS, A_Z, A_LABEL, A_X_OUT},
                          "/* params: $N_PARAM_COUNT scalars, G then D, each layer's weight then bias,\n"
                          "   row-major in PyTorch's layout. x: one observation; z: one latent vector. */\n"},
    [GANC_FN_FAKE_SCORE] = {1, {A_PARAMS, A_STATS, A_Z, A_LABEL}, NULL},
    [GANC_FN_REAL_SCORE] = {1, {A_PARAMS, A_STATS, A_X, A_LABEL}, NULL},
    [GANC_FN_DISCRIMINATOR_LOSS] = {1, {A_PARAMS, A_STATS, A_X_REAL, A_LABEL_REAL, A_Z, A_LABEL_FAKE}, "/* $D */\n"},
    [GANC_FN_GENERATOR_LOSS] = {1, {A_PARAMS, A_STATS, A_Z, A_LABEL}, "/* $G */\n"},
    [GANC_FN_GENERATE_BATCH] = {0, {A_PARAMS, A_STATS, A_N, A_Z, A_LABELS, A_X_OUT},
                                "\n/* n samples, stored one after another. Losses are batch means:\n"
                                "   $d and $g.\n"
                                "   For n <= 0 nothing is written and the losses are 0. */\n"},
    [GANC_FN_REAL_SCORE_BATCH] = {0, {A_PARAMS, A_STATS, A_N, A_X, A_LABELS, A_SCORES}, NULL},
    [GANC_FN_FAKE_SCORE_BATCH] = {0, {A_PARAMS, A_STATS, A_N, A_Z, A_LABELS, A_SCORES}, NULL},
    [GANC_FN_DISCRIMINATOR_LOSS_BATCH] = {1, {A_PARAMS, A_STATS, A_N, A_X_REAL, A_LABELS_REAL, A_Z, A_LABELS_FAKE},
                                          NULL},
    [GANC_FN_GENERATOR_LOSS_BATCH] = {1, {A_PARAMS, A_STATS, A_N, A_Z, A_LABELS}, NULL},
    [GANC_FN_DISCRIMINATOR_LOSS_BACKWARD] =
        {1, {A_PARAMS, A_STATS, A_N, A_X_REAL, A_LABELS_REAL, A_Z, A_LABELS_FAKE, A_GRAD_D},
         "\n/* Training. Return the batch loss; overwrite grad with its gradient: the\n"
         "   discriminator's parameters ($N_D_PARAM_COUNT scalars, grad_d[k] for\n"
         "   params[$N_G_PARAM_COUNT + k]) for the first, the generator's\n"
         "   ($N_G_PARAM_COUNT) for the second, the discriminator held fixed.\n"
         "   For n <= 0 nothing is written and the result is 0. */\n"},
    [GANC_FN_GENERATOR_LOSS_BACKWARD] = {1, {A_PARAMS, A_STATS, A_N, A_Z, A_LABELS, A_GRAD_G}, NULL},
    [GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS] =
        {1, {A_PARAMS, A_STATS, A_N, A_X_REAL, A_LABELS_REAL, A_Z, A_LABELS_FAKE, A_GRAD_D, A_WORKSPACE},
         "\n/* The same with $W\n"
         "   workspace holds $N_TRAIN_WORKSPACE_BYTES(n) bytes, aligned for $N_scalar.\n"
         "   Both give the same numbers, bit for bit. */\n"},
    [GANC_FN_GENERATOR_LOSS_BACKWARD_WS] = {1, {A_PARAMS, A_STATS, A_N, A_Z, A_LABELS, A_GRAD_G, A_WORKSPACE},
                                            NULL},
    [GANC_FN_GENERATE_BOUNDS] =
        {0, {A_PARAMS, A_STATS, A_Z_LO, A_Z_HI, A_LABEL, A_X_LO_OUT, A_X_HI_OUT},
         "\n/* Bounds (inference mode). For every z with z_lo <= z <= z_hi elementwise,\n"
         "   generate's x lies in [x_lo, x_hi] and fake_score's result in [*lo, *hi];\n"
         "   for every x in [x_lo, x_hi], real_score's result lies in [*lo, *hi]:\n"
         "   sound in $N_scalar with the rounding of this build, for any order of\n"
         "   its sums. An infinite bound means the true one overflows. */\n"},
    [GANC_FN_SCORE_BOUNDS] = {0, {A_PARAMS, A_STATS, A_X_LO, A_X_HI, A_LABEL, A_LO, A_HI}, NULL},
    [GANC_FN_FAKE_SCORE_BOUNDS] = {0, {A_PARAMS, A_STATS, A_Z_LO, A_Z_HI, A_LABEL, A_LO, A_HI}, NULL},
};

/* The names the emitter defines besides the functions (check.c keeps two
   models' names apart with them): the header's constants below, the scalar
   type, the include guard and the weights. */
const char *const emit_names[] = {"scalar", "LATENT_SIZE", "OBS_SIZE", "G_PARAM_COUNT", "D_PARAM_COUNT",
                                  "PARAM_COUNT", "PACK", "H", "weights", "STATS_COUNT", "G_STATS_COUNT",
                                  "D_STATS_COUNT", "TRAIN_WORKSPACE_BYTES", "MIN_BATCH", "stats", "CLASSES", NULL};

static int is_training_fn(ganc_fn fn)
{
  return fn == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD || fn == GANC_FN_GENERATOR_LOSS_BACKWARD ||
         fn == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS || fn == GANC_FN_GENERATOR_LOSS_BACKWARD_WS;
}

/* fn's declaration: `RESULT NAME_SUFFIX(ARGS)`, with scalar as the type. */
static void put_signature(Emitter *e, ganc_fn fn, const char *scalar)
{
  static const char *const arg_text[] = {
      [A_PARAMS] = "const %s *params", [A_STATS] = "const %s *stats", [A_N] = "int n", [A_Z] = "const %s *z",
      [A_X] = "const %s *x", [A_X_REAL] = "const %s *x_real", [A_X_OUT] = "%s *x", [A_SCORES] = "%s *scores",
      [A_GRAD_D] = "%s *grad_d", [A_GRAD_G] = "%s *grad_g", [A_WORKSPACE] = "void *workspace",
      [A_Z_LO] = "const %s *z_lo", [A_Z_HI] = "const %s *z_hi", [A_X_LO] = "const %s *x_lo",
      [A_X_HI] = "const %s *x_hi", [A_X_LO_OUT] = "%s *x_lo", [A_X_HI_OUT] = "%s *x_hi", [A_LO] = "%s *lo",
      [A_HI] = "%s *hi",
      [A_LABEL] = "int label", [A_LABEL_REAL] = "int label_real", [A_LABEL_FAKE] = "int label_fake",
      [A_LABELS] = "const int *labels", [A_LABELS_REAL] = "const int *labels_real",
      [A_LABELS_FAKE] = "const int *labels_fake"};
  const FnSpec *f = &fn_specs[fn];
  put(e, "%s %s_%s(", f->scalar_result ? scalar : "void", e->m->name, ganc_fn_suffix(fn));
  for (int i = 0; f->args[i] != A_END; i++) {
    if ((f->args[i] == A_STATS && !e->ir->batch) || (f->args[i] >= A_LABEL && !e->labels))
      continue;
    put(e, "%s", i ? ", " : "");
    if (f->args[i] == A_STATS && is_training_fn(fn))
      put(e, "%s *stats", scalar);
    else
      put(e, arg_text[f->args[i]], scalar);
  }
  put(e, ")");
}

/* A doc template with its $ words replaced. */
static void put_doc(Emitter *e, const char *doc)
{
  const LossClass *l = e->m->loss;
  for (const char *p = doc; *p; p++) {
    if (*p != '$' || !p[1]) {
      str_putc(e->out, *p);
      continue;
    }
    switch (*++p) {
    case 'N': put(e, "%s", e->m->name); break;
    case 'D': put(e, "%s", l->d_formula); break;
    case 'G': put(e, "%s", l->g_formula); break;
    case 'd': put(e, "%s", l->d_batch_formula); break;
    case 'g': put(e, "%s", l->g_batch_formula); break;
    case 'W':
      put(e, "%s", e->ir->batch ? "the memory they take from the heap given by the caller:"
                                : "the whole batch trained on at once, in a workspace given by\n"
                                  "   the caller, instead of a few samples at a time on the stack:");
      break;
    default: str_putc(e->out, *p);
    }
  }
}

/* ---- the header ---- */

/* A model with batch_norm: its statistics and the smallest batch its
   training functions take. */
static void put_stats_constants(Emitter *e)
{
  const char *n = e->m->name;
  put(e, "#define %s_G_STATS_COUNT %lld /* generator's running statistics */\n", n, (long long)e->m->gen.stats_count);
  put(e, "#define %s_D_STATS_COUNT %lld /* discriminator's */\n", n, (long long)e->m->disc.stats_count);
  put(e, "#define %s_STATS_COUNT %lld /* G then D: each batch_norm layer's running_mean, then running_var */\n", n,
      (long long)e->m->stats_count);
  put(e, "#define %s_MIN_BATCH %d /* the smallest n the _backward functions train on */\n", n, e->ir->min_batch);
}

static void put_banner(Emitter *e, const char *suffix)
{
  put(e, "/* %s.%s — generated by ganc %s from ", e->m->name, suffix, GANC_VERSION);
  put_comment_text(e, e->opt->source_name ? e->opt->source_name : "a model file");
  put(e, "; do not edit.\n");
}

void emit_header(Str *out, const IrModel *ir, const EmitOptions *opt)
{
  Emitter e = emitter(out, ir, opt);
  const Model *m = ir->model;
  const char *n = m->name;
  char lat[160], obs[160];
  shape_str(&m->latent, lat, sizeof lat);
  shape_str(&m->observation, obs, sizeof obs);

  put_banner(&e, "h");
  put(&e, "   Model %s: %s over %s observations, scalar %s. */\n", n, m->loss->title, obs, scalar_type(m));
  put(&e, "#ifndef %s_H\n#define %s_H\n\n", n, n);
  put(&e, "#include <stddef.h> /* the training workspace's size is a size_t */\n\n");
  put(&e, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  put(&e, "typedef %s %s_scalar;\n\n", scalar_type(m), n);
  put(&e, "#define %s_LATENT_SIZE %lld /* elements of latent %s */\n", n, (long long)shape_count(&m->latent), lat);
  put(&e, "#define %s_OBS_SIZE %lld /* elements of observation %s */\n", n, (long long)shape_count(&m->observation), obs);
  put(&e, "#define %s_G_PARAM_COUNT %lld /* generator scalars */\n", n, (long long)m->gen.param_count);
  put(&e, "#define %s_D_PARAM_COUNT %lld /* discriminator scalars */\n", n, (long long)m->disc.param_count);
  put(&e, "#define %s_PARAM_COUNT %lld /* G then D */\n", n, (long long)m->param_count);
  if (m->pack > 1)
    put(&e, "#define %s_PACK %d /* observations the discriminator judges at once */\n", n, m->pack);
  if (m->classes)
    put(&e, "#define %s_CLASSES %d /* class labels: 0 .. %d */\n", n, m->classes, m->classes - 1);
  if (ir->batch)
    put_stats_constants(&e);
  put(&e, "#define %s_TRAIN_WORKSPACE_BYTES(n) (sizeof(%s_scalar) * ((size_t)(n) * %lld + %lld)) /* the _ws "
          "functions' */\n\n", n, n, (long long)ir->ws_per_n, (long long)ir->ws_once);
  if (m->classes)
    put(&e, "/* Conditional: each z and x is followed by its labels, one int for a single\n"
            "   sample, n for a batch (x_real's labels_real, z's labels_fake). A label\n"
            "   outside [0, %s_CLASSES) makes no access outside the arguments; what\n"
            "   it computes is unspecified. */\n", n);
  if (m->pack > 1)
    put(&e, "/* Packed (PacGAN): each x, x_real and z of the score and loss functions\n"
            "   holds %s_PACK samples, one after another, and n counts packs;\n"
            "   generate and generate_batch take samples. */\n", n);
  if (ir->batch)
    put(&e, "/* batch_norm: stats holds %s_STATS_COUNT running statistics. The inference\n"
            "   functions normalize with them (PyTorch's eval() mode); the _backward\n"
            "   functions normalize each pass by its whole batch (train() mode) and\n"
            "   update stats as they go. Those return NaN and change nothing for\n"
            "   0 < n < %s_MIN_BATCH, or when the heap fails them. */\n", n, n);
  char type[256];
  snprintf(type, sizeof type, "%s_scalar", n);
  for (int f = 0; f < GANC_NFNS; f++) {
    if (fn_specs[f].doc)
      put_doc(&e, fn_specs[f].doc);
    put_signature(&e, (ganc_fn)f, type);
    put(&e, ";\n");
  }
  if (opt->weights)
    put(&e, "\n/* Trained parameters (%s_weights.c). */\nextern const %s_scalar %s_weights[%s_PARAM_COUNT];\n", n, n,
        n, n);
  if (opt->weights && ir->batch)
    put(&e, "extern const %s_scalar %s_stats[%s_STATS_COUNT];\n", n, n, n);
  put(&e, "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

/* ---- kernels ---- */

/* Does text call name, as a whole identifier followed by '('? */
static int calls(const char *text, size_t len, const char *name)
{
  size_t nl = strlen(name);
  for (const char *p = text; p + nl < text + len; p++) {
    p = strstr(p, name);
    if (!p || p + nl >= text + len)
      return 0;
    char c = p == text ? ' ' : p[-1];
    int starts = !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    if (starts && p[nl] == '(')
      return 1;
  }
  return 0;
}

/* Does text name name, as a whole identifier? */
static int mentions(const char *text, size_t len, const char *name)
{
  size_t nl = strlen(name);
  for (const char *p = text; p && p + nl <= text + len; p++) {
    p = strstr(p, name);
    if (!p || p + nl > text + len)
      return 0;
    char before = p == text ? ' ' : p[-1], after = p[nl];
    int word = !(before == '_' || (before >= 'a' && before <= 'z') || (before >= 'A' && before <= 'Z') ||
                 (before >= '0' && before <= '9')) &&
               !(after == '_' || (after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z') ||
                 (after >= '0' && after <= '9'));
    if (word)
      return 1;
  }
  return 0;
}

/* Does a block that is not a function end by defining a type (typedef ...
   NAME;) that code names? The JIT's source needs such a type: the
   kernels' declarations and the model's code use it. */
static int defines_type_of(const char *block, const Str *code)
{
  const char *t = NULL;
  for (const char *p = strstr(block, "typedef"); p; p = strstr(p + 1, "typedef"))
    t = p;
  const char *semi = t ? strrchr(t, ';') : NULL;
  if (!semi)
    return 0;
  const char *end = semi;
  while (end > t && (end[-1] == '_' || (end[-1] >= 'a' && end[-1] <= 'z') || (end[-1] >= 'A' && end[-1] <= 'Z') ||
                     (end[-1] >= '0' && end[-1] <= '9')))
    end--;
  char name[64];
  snprintf(name, sizeof name, "%.*s", (int)(semi - end), end);
  return name[0] && mentions(code->buf, code->len, name);
}

/* Block i of kernels.inc (kernel_blocks.h) and those whose functions it
   calls, transitively. */
static void use_block(char *used, int i)
{
  if (used[i])
    return;
  used[i] = 1;
  for (const int *c = kernel_blocks[i].calls; *c >= 0; c++)
    use_block(used, *c);
}

/* In the file's order: every block of kernels.inc that is not a function,
   the kernels the model's code calls, and what those call in turn, KERNEL
   made static inline; for the JIT only the kernels' declarations (the
   runtime links its optimized build) and the types the model's code
   names. */
static void put_kernels(Emitter *e, const Str *code)
{
  char used[KERNEL_BLOCK_COUNT] = {0};
  for (int i = 0; i < KERNEL_BLOCK_COUNT; i++) {
    const KernelBlock *k = &kernel_blocks[i];
    if (k->kernel ? calls(code->buf, code->len, k->name)
                  : !k->name && (!e->opt->jit || defines_type_of(k->text, code)))
      use_block(used, i);
  }
  put(e, "\n/* ---- kernels (ganc's runtime/kernels.inc) ---- */\n");
  if (e->opt->jit)
    put(e, "/* The JIT links the runtime's optimized build of these. */\n");
  for (int i = 0; i < KERNEL_BLOCK_COUNT; i++) {
    const KernelBlock *k = &kernel_blocks[i];
    if (!used[i])
      continue;
    if (e->opt->jit) {
      if (k->kernel)
        put(e, "%s\n", k->decl);
      else if (!k->name)
        put(e, "\n%s", k->text);
    } else if (k->kernel) { /* KERNEL becomes static inline */
      put(e, "\n%.*sstatic inline %s", k->macro, k->text, k->text + k->rest);
    } else {
      put(e, "\n%s", k->text);
    }
  }
}

/* ---- layers ---- */

static const char *buf_name(Buf b)
{
  switch (b) {
  case BUF_IN: return "in";
  case BUF_OUT: return "out";
  case BUF_A: return "a";
  case BUF_B: return "b";
  }
  return "?";
}

static const char *grad_name(GradBuf b)
{
  switch (b) {
  case GRAD_OUT: return "dout";
  case GRAD_A: return "ga";
  case GRAD_B: return "gb";
  case GRAD_IN: return "din";
  }
  return "?";
}

/* The arrays of a function's stack frame, as lowering planned them. */
static void put_frame(Emitter *e, Func f)
{
  const Frame *fr = &e->ir->frame[f];
  for (int i = 0; i < fr->nbuf; i++) {
    const Buffer *b = &fr->buf[i];
    char times[300] = "";
    if (b->per == PER_TILE || b->per == PER_G_TILE)
      snprintf(times, sizeof times, "%s * ", tile_of(e, b->per == PER_G_TILE));
    else if (b->per == PER_CHUNK)
      snprintf(times, sizeof times, "CHUNK * ");
    else if (b->per == PER_PACK && e->m->pack > 1)
      snprintf(times, sizeof times, "%s_PACK * ", e->m->name);
    put(e, "  scalar %s", b->name);
    if (b->obs)
      put(e, "[%s%s_OBS_SIZE]", times, e->m->name);
    else if (b->count == 1 && *times)
      put(e, "[%.*s]", (int)strlen(times) - 3, times);
    else if (*times)
      put(e, "[%s%lld]", times, (long long)b->count);
    else if (b->count > 1)
      put(e, "[%lld]", (long long)b->count);
    put(e, b->what ? "; /* %s */\n" : ";\n", b->what);
  }
}

static void put_layer_comment(Emitter *e, const Op *op, const Graph *g, int train)
{
  const Layer *l = op->layer;
  const char *ind = train ? e->ind : "";
  char in[160], out[160], sh[160];
  put(e, "\n%s  /* %s.%d: ", ind, g->stack->name, l->index);
  put_comment_text(e, l->text);
  put(e, ", line %d: %s -> %s", l->loc.line, shape_str(&l->in, in, sizeof in), shape_str(&l->out, out, sizeof out));
  for (int k = 0; k < l->ntensors; k++)
    put(e, "%s%s%s %s at params[%lld]", k ? ", " : "\n     ", k ? "" : ind, l->tensor[k].suffix,
        shape_str(&l->tensor[k].shape, sh, sizeof sh), (long long)l->tensor[k].off);
  if (op->view)
    put(e, "\n%s     (the same data with a new shape: no code)", ind);
  int group = train ? op->train_group : op->group;
  if (layer_class(l)->grouped)
    put(e, "\n%s     %d sample%s per product, %s windows side by side in cs", ind, group, group == 1 ? "" : "s",
        group == 1 ? "its" : "their");
  put(e, " */\n");
}

/* The names a kernel call's words stand for. */
typedef struct CallNames {
  const char *x, *y, *dx, *dy;
  const char *t; /* the samples: "t", or "n" for a whole batch */
  const char *L; /* their labels */
  int train;     /* in a training pass (its groups) */
  const char *xl, *xh, *yl, *yh; /* a bounds pass's boxes */
} CallNames;

/* The tensor a template's W, B or E names. */
static int tensor_of(char letter)
{
  return letter == 'W' ? 0 : letter == 'B' ? 1 : 2;
}

/* One kernel call from its template (compiler.h: KernelCall). */
static void put_call(Emitter *e, const char *indent, const KernelCall *k, const Op *op, const Graph *g,
                     const CallNames *nm)
{
  const Layer *l = op->layer;
  long long base = (long long)g->stack->param_off;
  char lit[64];
  put(e, "%s%s(", indent, k->kernel);
  for (const char *p = k->args; *p;) {
    size_t len = strcspn(p, " ");
    char w[8];
    snprintf(w, sizeof w, "%.*s", (int)(len < sizeof w ? len : sizeof w - 1), p);
    if (p != k->args)
      put(e, ", ");
    if (!strcmp(w, "x") || !strcmp(w, "y") || !strcmp(w, "dx") || !strcmp(w, "dy"))
      put(e, "%s", w[0] == 'x' ? nm->x : w[0] == 'y' ? nm->y : w[1] == 'x' ? nm->dx : nm->dy);
    else if (!strcmp(w, "xl") || !strcmp(w, "xh") || !strcmp(w, "yl") || !strcmp(w, "yh"))
      put(e, "%s", w[0] == 'x' ? (w[1] == 'l' ? nm->xl : nm->xh) : (w[1] == 'l' ? nm->yl : nm->yh));
    else if (!strcmp(w, "W") || !strcmp(w, "B") || !strcmp(w, "E"))
      put(e, "params + %lld", (long long)l->tensor[tensor_of(w[0])].off);
    else if (!strcmp(w, "gW") || !strcmp(w, "gB") || !strcmp(w, "gE"))
      put(e, "grad + %lld", (long long)l->tensor[tensor_of(w[1])].off - base);
    else if (!strcmp(w, "n") && !strcmp(nm->t, "1"))
      put(e, "%lld", (long long)g->size[op->out]);
    else if (!strcmp(w, "n"))
      put(e, "%s * %lld", nm->t, (long long)g->size[op->out]);
    else if (!strcmp(w, "t"))
      put(e, "%s", nm->t);
    else if (!strcmp(w, "S"))
      put(e, "stats + %lld", (long long)l->stat[0].off);
    else if (!strcmp(w, "M"))
      put(e, "moments + %lld", (long long)op->moments_off);
    else if (!strcmp(w, "G"))
      put(e, "%d", nm->train ? op->train_group : op->group);
    else if (!strcmp(w, "L"))
      put(e, "%s", nm->L);
    else if (!strcmp(w, "K"))
      for (int i = 0; i < l->nkargs; i++) {
        const KArg *a = &l->karg[i];
        if (a->real)
          put(e, "%s%s", i ? ", " : "", literal(e, a->r, lit, sizeof lit));
        else
          put(e, "%s%lld", i ? ", " : "", (long long)a->i);
      }
    else /* cs, t */
      put(e, "%s", w);
    p += len;
    while (*p == ' ')
      p++;
  }
  put(e, ");\n");
}

/* A kernel call in a training pass over n samples. Depth first, the call
   on the tile of t samples from sample i. Layer by layer, a batch layer's
   or an elementwise layer's call takes all n at once, any other runs tile
   by tile (TRAIN_TILE, or G_TRAIN_TILE in the generator). Each array is
   named from the tile's first sample. */
static void put_train_call(Emitter *e, const char *indent, const KernelCall *k, const Op *op, const Graph *g,
                           const CallNames *nm)
{
  if (!depth_first(e) && (layer_class(op->layer)->batch || layer_class(op->layer)->elementwise)) {
    CallNames whole = *nm;
    whole.t = "n";
    whole.train = 1;
    put_call(e, indent, k, op, g, &whole);
    return;
  }
  const char *tile = train_tile_of(e, g == &e->ir->gen);
  long long in = (long long)g->size[op->in], out = (long long)g->size[op->out];
  char x[96], y[96], dx[96], dy[96], L[96], inner[16];
  snprintf(x, sizeof x, "%s + (size_t)i * %lld", nm->x, in);
  snprintf(y, sizeof y, "%s + (size_t)i * %lld", nm->y, out);
  snprintf(dx, sizeof dx, "%s + (size_t)i * %lld", nm->dx ? nm->dx : "", in);
  snprintf(dy, sizeof dy, "%s + (size_t)i * %lld", nm->dy ? nm->dy : "", out);
  snprintf(L, sizeof L, "%s + i", nm->L);
  if (depth_first(e)) { /* inside the loop over tiles, where ga and gb hold one tile's gradients */
    if (op->dx_buf == GRAD_A || op->dx_buf == GRAD_B)
      snprintf(dx, sizeof dx, "%s", nm->dx ? nm->dx : "");
    if (op->dy_buf == GRAD_A || op->dy_buf == GRAD_B)
      snprintf(dy, sizeof dy, "%s", nm->dy ? nm->dy : "");
    snprintf(inner, sizeof inner, "%s%s", e->ind, indent);
    put_call(e, inner, k, op, g, &(CallNames){.x = x, .y = y, .dx = dx, .dy = dy, .t = "t", .L = L, .train = 1});
    return;
  }
  snprintf(inner, sizeof inner, "%s  ", indent);
  put(e, "%sfor (int i = 0; i < n; i += %s) {\n", indent, tile);
  put(e, "%s  int t = n - i < %s ? n - i : %s;\n", indent, tile, tile);
  put_call(e, inner, k, op, g, &(CallNames){.x = x, .y = y, .dx = dx, .dy = dy, .t = "t", .L = L, .train = 1});
  put(e, "%s}\n", indent);
}

/* Depth first: the opening and the end of the loop over tiles of the
   training passes' bodies. */
static void put_train_tiles_open(Emitter *e, int is_gen)
{
  const char *tile = train_tile_of(e, is_gen);
  put(e, "  for (int i = 0; i < n; i += %s) { /* through every layer, a tile at a time */\n", tile);
  put(e, "    int t = n - i < %s ? n - i : %s;\n", tile, tile);
  e->ind = "  ";
}

static void put_train_tiles_close(Emitter *e)
{
  e->ind = "";
  put(e, "  }\n");
}

/* A conditional model's stack without a label layer ignores its labels. */
static void put_unused_labels(Emitter *e, const Stack *st)
{
  if (e->labels && !stack_takes_labels(st))
    put(e, "  (void)labels;\n");
}

/* One layer's forward code for t samples, reading x and writing y. */
static void put_op(Emitter *e, const Op *op, const Graph *g, const char *x, const char *y)
{
  put_layer_comment(e, op, g, 0);
  if (!op->view)
    put_call(e, "  ", &layer_class(op->layer)->forward, op, g, &(CallNames){.x = x, .y = y, .t = "t", .L = "labels"});
}

/* NAME_G (latent to observation) and NAME_D (observation to score), for
   t <= TILE samples. */
static void put_forward(Emitter *e, const Graph *g, int is_gen)
{
  const Stack *st = g->stack;
  const char *n = e->m->name;
  char in[160], out[160];
  put(e, "\n/* The %s: %s -> %s, %d layer%s, parameters params[%lld .. %lld); t <= %s %s. */\n", st->name,
      shape_str(&st->in, in, sizeof in), shape_str(&st->out, out, sizeof out), st->n, st->n == 1 ? "" : "s",
      (long long)st->param_off, (long long)(st->param_off + st->param_count), tile_of(e, is_gen),
      !is_gen && e->m->pack > 1 ? "packs" : "samples");
  put(e, "static void %s_%c(const scalar *params, %sint t, const scalar *in%s, scalar *out)\n{\n", n, st->letter,
      e->ir->batch ? "const scalar *stats, " : "", lab(e, "const int *labels"));
  put_frame(e, is_gen ? FN_G : FN_D);
  put_unused_labels(e, st);
  if (st->param_count == 0)
    put(e, "  (void)params;\n");
  if (e->ir->batch && st->stats_count == 0)
    put(e, "  (void)stats;\n");
  for (int i = 0; i < g->nops; i++)
    put_op(e, &g->ops[i], g, buf_name(g->ops[i].in_buf), buf_name(g->ops[i].out_buf));
  if (g->nvalues == 1) /* nothing but views: the input is the output */
    put(e, "\n  memcpy(out, in, sizeof(scalar) * (size_t)t * %lld);\n", (long long)g->size[0]);
  put(e, "}\n");
}

/* ---- training: forward keeping every value, then backward ---- */

/* The name of value v in the training functions: the input or vN. */
static const char *value_name(int v, char *buf, size_t size)
{
  if (v == 0)
    snprintf(buf, size, "in");
  else
    snprintf(buf, size, "v%d", v);
  return buf;
}

static void put_value_decls(Emitter *e, const Graph *g, const int *used, const char *qual)
{
  char shape[160];
  for (int i = 0; i < g->nops; i++) {
    const Op *op = &g->ops[i];
    if (op->view || !used[op->out])
      continue;
    put(e, "  %sscalar *v%d = acts + (size_t)n * %lld; /* %s.%d: %s */\n", qual, op->out,
        (long long)g->act_off[op->out], g->stack->name,
        op->layer->index, shape_str(&op->layer->out, shape, sizeof shape));
  }
}

/* A zeroed array of n ints for bookkeeping within one function. */
static int *flags_alloc(int n)
{
  return calloc((size_t)(n > 0 ? n : 1), sizeof(int));
}

/* NAME_G_train / NAME_D_train: the forward pass over n samples keeping
   every value in acts (n * acts scalars), depth first or layer by layer
   (depth_first); the output is the last value. A batch layer runs in
   training mode: normalized by the batch's statistics, which it keeps in
   moments, and moving the running statistics. */
static void put_train_forward(Emitter *e, const Graph *g, int is_gen)
{
  const char *n = e->m->name;
  int batch = e->ir->batch;
  int *used = flags_alloc(g->nvalues);
  for (int v = 1; v < g->nvalues; v++)
    used[v] = 1;
  if (batch)
    put(e, "\n/* The %s for training, over n samples: keeps every value in acts\n"
           "   (n * %lld scalars) and the batch_norm layers' batch moments in moments, and\n"
           "   updates the running statistics%s. */\n", g->stack->name, (long long)g->acts,
        is_gen ? "" : "; writes the n scores");
  else
    put(e, "\n/* The %s for training, over n samples: keeps every value in acts\n"
           "   (n * %lld scalars)%s. */\n", g->stack->name, (long long)g->acts,
        is_gen ? "" : " and writes the n scores");
  put(e, "static void %s_%c_train(const scalar *params, %sint n, const scalar *in%s, scalar *acts%s%s)\n{\n", n,
      g->stack->letter, batch ? "scalar *stats, " : "", lab(e, "const int *labels"),
      batch ? ", scalar *moments" : "", is_gen ? "" : ", scalar *score");
  put_value_decls(e, g, used, "");
  put_frame(e, is_gen ? FN_G_TRAIN : FN_D_TRAIN);
  put_unused_labels(e, g->stack);
  if (g->stack->param_count == 0)
    put(e, "  (void)params;\n");
  if (batch && g->stack->stats_count == 0)
    put(e, "  (void)stats;\n  (void)moments;\n");
  if (g->nvalues == 1)
    put(e, "  (void)acts;\n");
  if (is_gen && g->nvalues == 1)
    put(e, "  (void)in;\n  (void)n;\n");
  char x[32], y[32];
  int tiles = depth_first(e) && g->nvalues > 1;
  if (tiles)
    put_train_tiles_open(e, is_gen);
  for (int i = 0; i < g->nops; i++) {
    const Op *op = &g->ops[i];
    const LayerClass *lc = layer_class(op->layer);
    put_layer_comment(e, op, g, 1);
    if (op->view)
      continue;
    CallNames nm = {.x = value_name(op->in, x, sizeof x), .y = value_name(op->out, y, sizeof y), .t = "t", .L = "labels",
                    .train = 1};
    put_train_call(e, "  ", lc->train.kernel ? &lc->train : &lc->forward, op, g, &nm);
  }
  if (tiles)
    put_train_tiles_close(e);
  if (!is_gen)
    put(e, "  memcpy(score, %s, sizeof(scalar) * (size_t)n);\n", value_name(g->nvalues - 1, y, sizeof y));
  put(e, "}\n");
  free(used);
}

/* What a backward function's body reads: to declare just those. */
typedef struct BackUse {
  int params, in;
  int *value;
} BackUse;

/* The values a kernel call's template reads. */
static void mark_values(BackUse *use, const KernelCall *k, const Op *op)
{
  int reads[2] = {kernel_takes(k, "x") ? op->in : -1, kernel_takes(k, "y") ? op->out : -1};
  for (int i = 0; i < 2; i++)
    if (reads[i] == 0)
      use->in = 1;
    else if (reads[i] > 0)
      use->value[reads[i]] = 1;
}

/* One layer backward: parameter gradients (into grad, indexed from the
   stack's first parameter; only if grad is given for D), then the gradient
   of its input. */
static void put_back_op(Emitter *e, const Graph *g, const Op *op, int is_gen, BackUse *use)
{
  const LayerClass *lc = layer_class(op->layer);
  char xb[32], yb[32];
  CallNames nm = {.x = value_name(op->in, xb, sizeof xb), .y = value_name(op->out, yb, sizeof yb),
                  .dx = grad_name(op->dx_buf), .dy = grad_name(op->dy_buf), .t = "t", .L = "labels", .train = 1};
  int want_dx = !(op->dx_buf == GRAD_IN && is_gen); /* nothing flows into the latent */

  put_layer_comment(e, op, g, 1);
  if (lc->back_params.kernel) {
    if (!is_gen)
      put(e, "%s  if (grad) {\n", e->ind);
    put_train_call(e, is_gen ? "  " : "    ", &lc->back_params, op, g, &nm);
    if (!is_gen)
      put(e, "%s  }\n", e->ind);
    mark_values(use, &lc->back_params, op);
  }
  if (!want_dx)
    return;
  use->params |= kernel_takes(&lc->back_input, "W");
  mark_values(use, &lc->back_input, op);
  if (op->dx_buf == GRAD_IN)
    put(e, "%s  if (din) {\n", e->ind);
  put_train_call(e, op->dx_buf == GRAD_IN ? "    " : "  ", &lc->back_input, op, g, &nm);
  if (op->dx_buf == GRAD_IN)
    put(e, "%s  }\n", e->ind);
}

/* NAME_G_back / NAME_D_back: the backward pass from dout, the gradient of
   the stack's output (D's: one per sample), adding parameter gradients into
   grad; D's also gives the gradient of its input in din. */
static void put_backward(Emitter *e, const Graph *g, int is_gen)
{
  const char *n = e->m->name;
  Str body = {0}, *saved = e->out;
  BackUse use = {0};
  use.value = flags_alloc(g->nvalues);
  e->out = &body;
  int tiles = depth_first(e) && g->nvalues > 1;
  if (tiles)
    put_train_tiles_open(e, is_gen);
  for (int i = g->nops - 1; i >= 0; i--)
    if (!g->ops[i].view)
      put_back_op(e, g, &g->ops[i], is_gen, &use);
  if (tiles)
    put_train_tiles_close(e);
  int batch = e->ir->batch;
  const char *count = "n";
  if (g->nvalues == 1 && !is_gen) /* D is the identity */
    put(e, "  if (din)\n    memcpy(din, dout, sizeof(scalar) * (size_t)n);\n");
  e->out = saved;

  /* The gradients pass through ga and gb, the caller's. */
  const char *moments = batch ? "const scalar *moments, " : "", *grads = ", scalar *ga, scalar *gb";
  if (is_gen) {
    put(e, "\n/* Backward through the generator from dout (dL/dx): adds dL/dparams into grad\n"
           "   (indexed from params[0]). */\n");
    put(e, "static void %s_G_back(const scalar *params, int %s, const scalar *in%s, const scalar *acts, %s"
           "const scalar *dout, scalar *grad%s)\n{\n", n, count, lab(e, "const int *labels"), moments, grads);
  } else {
    put(e, "\n/* Backward through the discriminator from dout (dL/dscore, one per %s): adds\n"
           "   dL/dparams into grad (indexed from params[%lld]) if grad is not NULL, and writes\n"
           "   dL/din into din if din is not NULL. */\n", e->m->pack > 1 ? "pack" : "sample",
        (long long)g->stack->param_off);
    put(e, "static void %s_D_back(const scalar *params, int %s, const scalar *in%s, const scalar *acts, %s"
           "const scalar *dout, scalar *grad, scalar *din%s)\n{\n", n, count, lab(e, "const int *labels"), moments,
        grads);
  }
  put_unused_labels(e, g->stack);
  if (batch && g->stack->stats_count == 0)
    put(e, "  (void)moments;\n");
  if (!uses_grad(g, GRAD_A))
    put(e, "  (void)ga;\n");
  if (!uses_grad(g, GRAD_B))
    put(e, "  (void)gb;\n");
  put_value_decls(e, g, use.value, "const ");
  put_frame(e, is_gen ? FN_G_BACK : FN_D_BACK);
  if (!use.params)
    put(e, "  (void)params;\n");
  if (!use.in)
    put(e, "  (void)in;\n");
  int any_value = 0;
  for (int v = 1; v < g->nvalues; v++)
    any_value |= use.value[v];
  if (!any_value)
    put(e, "  (void)acts;\n");
  if (is_gen && g->nvalues == 1)
    put(e, "  (void)%s;\n  (void)dout;\n  (void)grad;\n", count);
  if (!is_gen && g->stack->param_count == 0)
    put(e, "  (void)grad;\n");
  if (body.buf)
    str_puts(e->out, body.buf);
  put(e, "}\n");
  str_free(&body);
  free(use.value);
}

/* ---- bounds ---- */

/* NAME_G_bounds / NAME_D_bounds: the box [in_lo, in_hi] of one sample's
   input (one pack's for D) through every layer's bounds rule to the box
   [out_lo, out_hi] of its output, each value's box where the forward pass
   keeps the value. */
static void put_bounds(Emitter *e, const Graph *g, int is_gen)
{
  const Stack *st = g->stack;
  const char *n = e->m->name;
  static const char *const lo[] = {[BUF_IN] = "in_lo", [BUF_OUT] = "out_lo", [BUF_A] = "a_lo", [BUF_B] = "b_lo"};
  static const char *const hi[] = {[BUF_IN] = "in_hi", [BUF_OUT] = "out_hi", [BUF_A] = "a_hi", [BUF_B] = "b_hi"};
  put(e, "\n/* Bounds through the %s: for every input of one %s in [in_lo, in_hi],\n"
         "   %s_%c's output lies in [out_lo, out_hi] (docs/DESIGN.md §8). */\n",
      st->name, !is_gen && e->m->pack > 1 ? "pack" : "sample", n, st->letter);
  put(e, "static void %s_%c_bounds(const scalar *params, %sconst scalar *in_lo, const scalar *in_hi%s, scalar *out_lo, "
         "scalar *out_hi)\n{\n", n, st->letter, e->ir->batch ? "const scalar *stats, " : "",
      lab(e, "const int *labels"));
  put_frame(e, is_gen ? FN_G_BOUNDS : FN_D_BOUNDS);
  put_unused_labels(e, st);
  if (st->param_count == 0)
    put(e, "  (void)params;\n");
  if (e->ir->batch && st->stats_count == 0)
    put(e, "  (void)stats;\n");
  for (int i = 0; i < g->nops; i++) {
    const Op *op = &g->ops[i];
    put_layer_comment(e, op, g, 0);
    if (op->view)
      continue;
    CallNames nm = {.t = "1", .L = "labels", .xl = lo[op->in_buf], .xh = hi[op->in_buf], .yl = lo[op->out_buf],
                    .yh = hi[op->out_buf]};
    put_call(e, "  ", &layer_class(op->layer)->bounds, op, g, &nm);
  }
  if (g->nvalues == 1) { /* nothing but views: the input is the output */
    put(e, "\n  memcpy(out_lo, in_lo, sizeof(scalar) * %lld);\n", (long long)g->size[0]);
    put(e, "  memcpy(out_hi, in_hi, sizeof(scalar) * %lld);\n", (long long)g->size[0]);
  }
  put(e, "}\n");
}

/* ---- the loss ---- */

/* The C library's names for the scalar type: expf or exp. */
static const char *libm(const Emitter *e, const char *fn, char *buf, size_t size)
{
  snprintf(buf, size, "%s%s", fn, e->m->scalar == SCALAR_FLOAT ? "f" : "");
  return buf;
}

/* Text with $exp, $log1p and $fabs as the scalar type's functions. */
static void put_libm_text(Emitter *e, const char *text)
{
  static const char *const fns[] = {"exp", "log1p", "fabs"};
  char buf[16];
  for (const char *p = text; *p; p++) {
    int k = 0;
    if (*p == '$')
      for (k = 0; k < 3 && strncmp(p + 1, fns[k], strlen(fns[k])) != 0; k++)
        ;
    if (*p != '$' || k == 3) {
      str_putc(e->out, *p);
      continue;
    }
    put(e, "%s", libm(e, fns[k], buf, sizeof buf));
    p += strlen(fns[k]);
  }
}

static void put_loss(Emitter *e)
{
  const LossClass *l = e->m->loss;
  const char *name[6] = {"loss_real", "loss_fake", "loss_gen", "loss_real_d", "loss_fake_d", "loss_gen_d"};
  const char *body[6] = {l->real, l->fake, l->gen, l->real_d, l->fake_d, l->gen_d};
  put(e, "\n/* ---- the loss (%s): terms of a score s and their derivatives in s ----\n", l->name);
  put(e, "   discriminator_loss = loss_real(D(x)) + loss_fake(D(G(z))),\n"
         "   generator_loss = loss_gen(D(G(z))). */\n");
  if (l->helpers) {
    put(e, "\n");
    put_libm_text(e, l->helpers);
  }
  for (int i = 0; i < 6; i++)
    put(e, "\nstatic scalar %s(scalar s)\n{\n  %s\n}\n", name[i], body[i]);
}

/* ---- public functions ---- */

/* A public function's opening: its signature and planned frame. */
static void put_public_open(Emitter *e, ganc_fn fn)
{
  put(e, "\n");
  put_signature(e, fn, "scalar");
  put(e, "\n{\n");
  put_frame(e, FN_PUBLIC + fn);
}

/* The opening of a loop over tiles: sample i, t of them. */
static void put_tile_loop(Emitter *e)
{
  put(e, "  for (int i = 0; i < n; i += TILE) {\n");
  put(e, "    int t = n - i < TILE ? n - i : TILE;\n");
}

static void put_public(Emitter *e)
{
  const char *n = e->m->name, *gt = tile_of(e, 1), *pa = e->pa;
  const char *gn = e->g_samples;
  char pk[300];
  snprintf(pk, sizeof pk, e->m->pack > 1 ? "%s_PACK" : "1", n);
  put(e, "\n/* ---- single samples%s: tiles of one ---- */\n", e->m->pack > 1 ? " and single packs" : "");
  put_public_open(e, GANC_FN_GENERATE);
  put(e, "  %s_G(%s, 1, z%s, x);\n}\n", n, pa, lab(e, "&label"));
  put_public_open(e, GANC_FN_FAKE_SCORE);
  put(e, "  %s_G(%s, %s, z%s, x);\n  %s_D(%s, 1, x%s, &score);\n", n, pa, pk, lab(e, "&label"), n, pa,
      lab(e, "&label"));
  put(e, "  return score;\n}\n");
  put_public_open(e, GANC_FN_REAL_SCORE);
  put(e, "  %s_D(%s, 1, x%s, &score);\n  return score;\n}\n", n, pa, lab(e, "&label"));
  put_public_open(e, GANC_FN_DISCRIMINATOR_LOSS);
  put(e, "  return loss_real(%s_real_score(%s, x_real%s)) + loss_fake(%s_fake_score(%s, z%s));\n}\n", n, pa,
      lab(e, "label_real"), n, pa, lab(e, "label_fake"));
  put_public_open(e, GANC_FN_GENERATOR_LOSS);
  put(e, "  return loss_gen(%s_fake_score(%s, z%s));\n}\n", n, pa, lab(e, "label"));

  put(e, "\n/* ---- batches, TILE %s at a time; means summed in double ---- */\n",
      e->m->pack > 1 ? "packs" : "samples");
  put_public_open(e, GANC_FN_GENERATE_BATCH);
  put(e, "  for (int i = 0; i < n; i += %s)\n", gt);
  put(e, "    %s_G(%s, n - i < %s ? n - i : %s, z + (size_t)i * %s_LATENT_SIZE%s, x + (size_t)i * %s_OBS_SIZE);\n}\n",
      n, pa, gt, gt, n, lab(e, "labels + i"), n);
  put_public_open(e, GANC_FN_REAL_SCORE_BATCH);
  put(e, "  for (int i = 0; i < n; i += TILE)\n");
  put(e, "    %s_D(%s, n - i < TILE ? n - i : TILE, x + (size_t)i * %s%s, scores + i);\n}\n", n, pa, e->obs_in,
      lab(e, "labels + i"));
  put_public_open(e, GANC_FN_FAKE_SCORE_BATCH);
  put_tile_loop(e);
  put(e, "    %s_G(%s, %s, z + (size_t)i * %s%s, x);\n", n, pa, gn, e->lat_in, lab(e, "labels + i"));
  put(e, "    %s_D(%s, t, x%s, scores + i);\n  }\n}\n", n, pa, lab(e, "labels + i"));
  put_public_open(e, GANC_FN_DISCRIMINATOR_LOSS_BATCH);
  put(e, "  double real = 0, fake = 0;\n");
  put(e, "  if (n <= 0)\n    return 0;\n");
  put_tile_loop(e);
  put(e, "    %s_D(%s, t, x_real + (size_t)i * %s%s, s);\n", n, pa, e->obs_in, lab(e, "labels_real + i"));
  put(e, "    for (int k = 0; k < t; k++)\n      real += loss_real(s[k]);\n");
  put(e, "    %s_G(%s, %s, z + (size_t)i * %s%s, x);\n", n, pa, gn, e->lat_in, lab(e, "labels_fake + i"));
  put(e, "    %s_D(%s, t, x%s, s);\n", n, pa, lab(e, "labels_fake + i"));
  put(e, "    for (int k = 0; k < t; k++)\n      fake += loss_fake(s[k]);\n  }\n");
  put(e, "  return (scalar)(real / n + fake / n);\n}\n");
  put_public_open(e, GANC_FN_GENERATOR_LOSS_BATCH);
  put(e, "  double fake = 0;\n");
  put(e, "  if (n <= 0)\n    return 0;\n");
  put_tile_loop(e);
  put(e, "    %s_G(%s, %s, z + (size_t)i * %s%s, x);\n", n, pa, gn, e->lat_in, lab(e, "labels + i"));
  put(e, "    %s_D(%s, t, x%s, s);\n", n, pa, lab(e, "labels + i"));
  put(e, "    for (int k = 0; k < t; k++)\n      fake += loss_gen(s[k]);\n  }\n");
  put(e, "  return (scalar)(fake / n);\n}\n");
}

/* ---- gradients of the batch losses ---- */

/* A workspace buffer's part of the layout for count packs: 0, count
   times its scalars (the per-pack arrays, and in a chunk's layout, whose
   tiles are at most CHUNK, the per-tile ones); 1, a training tile's; 2, a
   fixed count. */
static int ws_part(const Buffer *b, int chunk)
{
  if (b->per == PER_NONE)
    return 2;
  return b->per == PER_TRAIN_TILE && !chunk ? 1 : 0;
}

/* The declaration of the workspace buffer named name, for n packs or, on
   a _backward function's stack, CHUNK (chunk): its place in the layout
   lowering planned, by part, each part's buffers in order. */
static void put_ws(Emitter *e, const char *name, int chunk)
{
  const char *count = chunk ? "CHUNK" : "n";
  const Buffer *found = NULL;
  for (int i = 0; i < e->ir->nws && !found; i++)
    if (!strcmp(e->ir->ws[i].name, name))
      found = &e->ir->ws[i];
  if (!found)
    return;
  int part = ws_part(found, chunk);
  int64_t per = 0, fixed = 0; /* the offset: count * per + fixed */
  for (int i = 0; i < e->ir->nws; i++) {
    const Buffer *b = &e->ir->ws[i];
    int p = ws_part(b, chunk);
    int before = p < part || (p == part && b < found);
    if (p == 0 && (part > 0 || before))
      per += ws_count(e->ir, b);
    else if (p > 0 && before)
      fixed += p == 1 ? b->count * e->ir->train_tile : b->count;
  }
  put(e, "  scalar *%s = (scalar *)workspace + (size_t)%s * %lld", name, count, (long long)per);
  if (fixed)
    put(e, " + %lld", (long long)fixed);
  put(e, found->what ? "; /* %s */\n" : ";\n", found->what);
}

/* The heap's workspace for fn's _ws variant. */
static void put_heap_backward(Emitter *e, ganc_fn fn, ganc_fn ws, const char *args)
{
  const char *n = e->m->name;
  put_public_open(e, fn);
  put(e, "  void *workspace;\n  scalar loss;\n  if (n <= 0)\n    return 0;\n");
  put(e, "  workspace = malloc(%s_TRAIN_WORKSPACE_BYTES(n));\n  if (!workspace)\n    return NAN;\n", n);
  put(e, "  loss = %s_%s(params, stats, n, %s, workspace);\n  free(workspace);\n  return loss;\n}\n", n,
      ganc_fn_suffix(ws), args);
}

/* The opening of a training function: its result, the refusals, then its
   buffers in the workspace, for n packs or CHUNK (chunk). */
static void put_train_open(Emitter *e, ganc_fn fn, const char *result, const char *const *bufs, int chunk)
{
  const char *n = e->m->name;
  put_public_open(e, fn);
  put(e, "  %s;\n  if (n <= 0)\n    return 0;\n", result);
  if (e->ir->batch)
    put(e, "  if (n < %s_MIN_BATCH) /* a batch_norm layer would see one value per channel */\n    return NAN;\n", n);
  for (const char *const *b = bufs; *b; b++)
    put_ws(e, *b, chunk);
}

/* The opening of a loop over the batch, CHUNK packs at a time (c of
   them from pack i), in a _backward function without a workspace. */
static void put_chunk_loop(Emitter *e, const char *what)
{
  put(e, "  for (int i = 0; i < n; i += CHUNK) { /* %s, CHUNK packs at a time */\n", what);
  put(e, "    int c = n - i < CHUNK ? n - i : CHUNK;\n");
}

/* A training pass's names: its packs (n, or c of a chunk), the indent,
   and the offset of its first pack ("", or " + i"). */
typedef struct Pass {
  const char *c, *in, *at;
} Pass;

/* The samples G makes for the pass's packs, in ng. */
static const char *g_count(const Emitter *e, const Pass *p, char *ng, size_t size)
{
  snprintf(ng, size, e->m->pack > 1 ? "%s * %s_PACK" : "%s", p->c, e->m->name);
  return ng;
}

/* G in training mode on the pass's latents, and x, its output (D's input). */
static void put_g_pass(Emitter *e, const Pass *p, const char *labels)
{
  const char *n = e->m->name;
  const Graph *g = &e->ir->gen;
  char ng[300];
  g_count(e, p, ng, sizeof ng);
  if (*p->at)
    put(e, "%sconst scalar *zi = z + (size_t)i * %s;\n", p->in, e->lat_in);
  const char *z = *p->at ? "zi" : "z";
  put(e, "%s%s_G_train(params, %s%s, %s%s, gacts%s);\n", p->in, n, e->ir->batch ? "stats, " : "", ng, z,
      lab(e, "%s%s", labels, p->at), e->ir->batch ? ", gmoments" : "");
  if (g->nvalues == 1)
    put(e, "%sconst scalar *x = %s;\n", p->in, z);
  else
    put(e, "%sconst scalar *x = gacts + (size_t)%s * %lld;\n", p->in, ng, (long long)g->act_off[g->nvalues - 1]);
}

/* D in training mode on x, its loss term (real, fake or gen) summed into
   the variable of that name, and the term's gradient back through D into
   grad and din (either may be NULL). */
static void put_d_pass(Emitter *e, const Pass *p, const char *x, const char *labels, const char *term,
                       const char *grad, const char *din)
{
  const char *n = e->m->name, *st = e->ir->batch ? "stats, " : "", *mo = e->ir->batch ? "dmoments, " : "";
  put(e, "%s%s_D_train(params, %s%s, %s%s, dacts, %ss);\n", p->in, n, st, p->c, x, lab(e, "%s%s", labels, p->at), mo);
  put(e, "%sfor (int k = 0; k < %s; k++) {\n%s  %s += loss_%s(s[k]);\n", p->in, p->c, p->in, term, term);
  put(e, "%s  ds[k] = loss_%s_d(s[k]) / (scalar)n;\n%s}\n", p->in, term, p->in);
  put(e, "%s%s_D_back(params, %s, %s%s, dacts, %sds, %s, %s, ga, gb);\n", p->in, n, p->c, x,
      lab(e, "%s%s", labels, p->at), mo, grad, din);
}

/* G's gradient from dx back through G into grad_g. */
static void put_g_back(Emitter *e, const Pass *p, const char *labels)
{
  const char *n = e->m->name;
  char ng[300];
  put(e, "%s%s_G_back(params, %s, %s%s, gacts, %sdx, grad_g, ga, gb);\n", p->in, n, g_count(e, p, ng, sizeof ng),
      *p->at ? "zi" : "z", lab(e, "%s%s", labels, p->at), e->ir->batch ? "gmoments, " : "");
}

/* The two training functions for count packs at once: the _ws ones on the
   whole batch (count "n"), or a _backward one without a workspace over
   chunks (count "CHUNK"). The discriminator's takes the real batch, then
   G and the fake one, so that both forms add the same terms in the same
   order. */
static void put_training(Emitter *e, int chunked)
{
  const char *n = e->m->name;
  const Pass whole = {"n", "  ", ""}, part = {"c", "    ", " + i"};
  const Pass *p = chunked ? &part : &whole;
  ganc_fn d = chunked ? GANC_FN_DISCRIMINATOR_LOSS_BACKWARD : GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS;
  ganc_fn g = chunked ? GANC_FN_GENERATOR_LOSS_BACKWARD : GANC_FN_GENERATOR_LOSS_BACKWARD_WS;
  char xr[400];
  snprintf(xr, sizeof xr, chunked ? "x_real + (size_t)i * %s" : "x_real", e->obs_in);

  static const char *const d_bufs[] = {"gacts", "dacts", "s", "ds", "ga", "gb", "gmoments", "dmoments", NULL};
  put_train_open(e, d, "double real = 0, fake = 0", d_bufs, chunked);
  put(e, "  memset(grad_d, 0, sizeof(scalar) * %s_D_PARAM_COUNT);\n", n);
  if (chunked) {
    put_chunk_loop(e, "D on the real batch");
    put_d_pass(e, p, xr, "labels_real", "real", "grad_d", "NULL");
    put(e, "  }\n");
    put_chunk_loop(e, "G, then D on its fake batch");
    put_g_pass(e, p, "labels_fake");
    put_d_pass(e, p, "x", "labels_fake", "fake", "grad_d", "NULL");
    put(e, "  }\n");
  } else {
    put_d_pass(e, p, xr, "labels_real", "real", "grad_d", "NULL");
    put_g_pass(e, p, "labels_fake");
    put_d_pass(e, p, "x", "labels_fake", "fake", "grad_d", "NULL");
  }
  put(e, "  return (scalar)(real / n + fake / n);\n}\n");

  static const char *const g_bufs[] = {"gacts", "dacts", "dx", "s", "ds", "ga", "gb", "gmoments", "dmoments", NULL};
  put_train_open(e, g, "double gen = 0", g_bufs, chunked);
  put(e, "  memset(grad_g, 0, sizeof(scalar) * %s_G_PARAM_COUNT);\n", n);
  if (chunked)
    put_chunk_loop(e, "G, D, then back through both");
  put_g_pass(e, p, "labels");
  put_d_pass(e, p, "x", "labels", "gen", "NULL", "dx");
  put_g_back(e, p, "labels");
  if (chunked)
    put(e, "  }\n");
  put(e, "  return (scalar)(gen / n);\n}\n");
}

static void put_public_backward(Emitter *e)
{
  put(e, "\n/* ---- gradients of the batch losses ----\n"
         "   Each pass runs in training mode over its batch, %s, in the PyTorch loop's order:\n"
         "   D on the real batch, then G, then D on the fake. */\n",
      e->ir->batch ? "layer by layer" : "a tile at a time through every layer");
  if (e->ir->batch) {
    char args[200];
    snprintf(args, sizeof args, "x_real%s, z%s, grad_d", lab(e, "labels_real"), lab(e, "labels_fake"));
    put_heap_backward(e, GANC_FN_DISCRIMINATOR_LOSS_BACKWARD, GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS, args);
    snprintf(args, sizeof args, "z%s, grad_g", lab(e, "labels"));
    put_heap_backward(e, GANC_FN_GENERATOR_LOSS_BACKWARD, GANC_FN_GENERATOR_LOSS_BACKWARD_WS, args);
  } else {
    put_training(e, 1);
  }
  put_training(e, 0);
}

/* CROWN over the chain of g's layers, then h's (h may be NULL): the
   layers as a table, and one call from the box [in_lo, in_hi] to
   [out_lo, out_hi]. */
static void put_crown(Emitter *e, const Graph *g, const Graph *h, const char *in_lo, const char *in_hi,
                      const char *out_lo, const char *out_hi)
{
  const Graph *both[2] = {g, h};
  int n = g->nops + (h ? h->nops : 0);
  char lit[64];
  put(e, "  const CrownLayer chain[%d] = {\n", n);
  for (int k = 0; k < 2 && both[k]; k++)
    for (int i = 0; i < both[k]->nops; i++) {
      const Op *op = &both[k]->ops[i];
      const Layer *l = op->layer;
      long long in = (long long)both[k]->size[op->in], out = (long long)both[k]->size[op->out];
      put(e, "      {%s, %lld, %lld, ", layer_class(l)->crown, in, out);
      if (l->kind == LY_LINEAR)
        put(e, "params + %lld, params + %lld, 0, 0, 0}", (long long)l->tensor[0].off, (long long)l->tensor[1].off);
      else if (l->kind == LY_LEAKY_RELU)
        put(e, "NULL, NULL, %s, 0, 0}", literal(e, l->karg[0].r, lit, sizeof lit));
      else if (l->kind == LY_LABEL)
        put(e, "params + %lld, NULL, 0, label, %d}", (long long)l->tensor[0].off, l->classes);
      else
        put(e, "NULL, NULL, 0, 0, 0}");
      put(e, ", /* %s.%d: ", both[k]->stack->name, l->index);
      put_comment_text(e, l->text);
      put(e, " */\n");
    }
  put(e, "  };\n");
  put(e, "  bound_crown(chain, %d, %s, %s, crown, %s, %s);\n", n, in_lo, in_hi, out_lo, out_hi);
}

/* Do g's layers (and h's) read the sample's label? */
static int chain_takes_label(const Graph *g, const Graph *h)
{
  return stack_takes_labels(g->stack) || (h && stack_takes_labels(h->stack));
}

/* What a bounds function that CROWN serves with the chain of g (then h)
   does not read. */
static void put_crown_unused(Emitter *e, const Graph *g, const Graph *h)
{
  if (e->ir->batch)
    put(e, "  (void)stats;\n");
  if (e->labels && !chain_takes_label(g, h))
    put(e, "  (void)label;\n");
}

/* The public bounds functions: CROWN where lowering chose it
   (IrModel.crown_*), the interval passes elsewhere. */
static void put_public_bounds(Emitter *e)
{
  const IrModel *ir = e->ir;
  const char *n = e->m->name, *pa = e->pa;
  put(e, "\n/* ---- bounds: interval bounds layer by layer, tightened by CROWN over\n"
         "   chains of linear layers and activations (docs/DESIGN.md §8) ---- */\n");
  put_public_open(e, GANC_FN_GENERATE_BOUNDS);
  if (ir->crown_g) {
    put_crown_unused(e, &ir->gen, NULL);
    put_crown(e, &ir->gen, NULL, "z_lo", "z_hi", "x_lo", "x_hi");
  } else {
    put(e, "  %s_G_bounds(%s, z_lo, z_hi%s, x_lo, x_hi);\n", n, pa, lab(e, "&label"));
  }
  put(e, "}\n");
  put_public_open(e, GANC_FN_SCORE_BOUNDS);
  if (ir->crown_d) {
    put_crown_unused(e, &ir->disc, NULL);
    put_crown(e, &ir->disc, NULL, "x_lo", "x_hi", "lo", "hi");
  } else {
    put(e, "  %s_D_bounds(%s, x_lo, x_hi%s, lo, hi);\n", n, pa, lab(e, "&label"));
  }
  put(e, "}\n");
  put_public_open(e, GANC_FN_FAKE_SCORE_BOUNDS);
  if (ir->crown_gd) {
    put_crown_unused(e, &ir->gen, &ir->disc);
    put_crown(e, &ir->gen, &ir->disc, "z_lo", "z_hi", "lo", "hi");
    put(e, "}\n");
    return;
  }
  if (e->ir->batch && ir->crown_g && ir->crown_d)
    put(e, "  (void)stats;\n");
  if (e->labels && ir->crown_g && ir->crown_d && !chain_takes_label(&ir->gen, &ir->disc))
    put(e, "  (void)label;\n");
  if (e->m->pack > 1)
    put(e, "  for (int k = 0; k < %s_PACK; k++) { /* each sample of the pack */\n", n);
  const char *in = e->m->pack > 1 ? "  " : "";
  char zl[128], zh[128], xl[128], xh[128];
  snprintf(zl, sizeof zl, e->m->pack > 1 ? "z_lo + (size_t)k * %s_LATENT_SIZE" : "z_lo", n);
  snprintf(zh, sizeof zh, e->m->pack > 1 ? "z_hi + (size_t)k * %s_LATENT_SIZE" : "z_hi", n);
  snprintf(xl, sizeof xl, e->m->pack > 1 ? "x_lo + (size_t)k * %s_OBS_SIZE" : "x_lo", n);
  snprintf(xh, sizeof xh, e->m->pack > 1 ? "x_hi + (size_t)k * %s_OBS_SIZE" : "x_hi", n);
  if (ir->crown_g) {
    if (e->m->pack > 1)
      put(e, "  {\n");
    put_crown(e, &ir->gen, NULL, zl, zh, xl, xh);
    if (e->m->pack > 1)
      put(e, "  }\n");
  } else {
    put(e, "%s  %s_G_bounds(%s, %s, %s%s, %s, %s);\n", in, n, pa, zl, zh, lab(e, "&label"), xl, xh);
  }
  if (e->m->pack > 1)
    put(e, "  }\n");
  if (ir->crown_d)
    put_crown(e, &ir->disc, NULL, "x_lo", "x_hi", "lo", "hi");
  else
    put(e, "  %s_D_bounds(%s, x_lo, x_hi%s, lo, hi);\n", n, pa, lab(e, "&label"));
  put(e, "}\n");
}

/* The tiles lowering chose, each the most that keeps the functions using
   it within the stack budget. */
static void put_tiles(Emitter *e)
{
  const IrModel *ir = e->ir;
  put(e, "\n/* Samples pass through the layers TILE at a time, and through the training\n"
         "   passes TRAIN_TILE at a time, their values in the training workspace%s:\n"
         "   the most that keeps every function within %d bytes of stack\n"
         "   (this model's deepest needs %lld). */\n",
      ir->batch ? "" : ",\n   which the _backward functions keep on the stack for CHUNK samples",
      STACK_BUDGET, (long long)ir->stack_bytes);
  put(e, "enum { TILE = %d, TRAIN_TILE = %d", ir->tile, ir->train_tile);
  if (!ir->batch)
    put(e, ", CHUNK = %d", ir->chunk);
  put(e, " };\n");
  if (e->m->pack > 1)
    put(e, "enum { G_TILE = TILE * %s_PACK, G_TRAIN_TILE = TRAIN_TILE * %s_PACK }; /* the samples G makes for "
           "them */\n", e->m->name, e->m->name);
}

static void put_source_body(Emitter *e)
{
  if (e->opt->jit) {
    /* No system headers: libtcc parses only what the code needs. */
    put(e, "typedef __SIZE_TYPE__ size_t;\n#define NULL ((void *)0)\n");
    put(e, "void *memcpy(void *dst, const void *src, size_t n);\nvoid *memset(void *dst, int c, size_t n);\n");
    if (e->ir->batch)
      put(e, "void *malloc(size_t n);\nvoid free(void *p);\n#define NAN (0.0f / 0.0f)\n");

  } else {
    put(e, "#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n%s#include <string.h>\n",
        e->ir->batch ? "#include <stdlib.h>\n" : "");
  }
  put(e, "\ntypedef %s_scalar scalar;\n", e->m->name);
  if (e->opt->jit && e->m->loss->helpers) {
    char a[16], b[16], c[16];
    put(e, "scalar %s(scalar);\nscalar %s(scalar);\nscalar %s(scalar);\n", libm(e, "exp", a, sizeof a),
        libm(e, "log1p", b, sizeof b), libm(e, "fabs", c, sizeof c));
  }

  /* The model's code first, to see which kernels it calls. */
  Str code = {0}, *out = e->out;
  e->out = &code;
  put_tiles(e);
  put_forward(e, &e->ir->gen, 1);
  put_forward(e, &e->ir->disc, 0);
  put_train_forward(e, &e->ir->gen, 1);
  put_train_forward(e, &e->ir->disc, 0);
  put_backward(e, &e->ir->gen, 1);
  put_backward(e, &e->ir->disc, 0);
  if (func_emitted(e->ir, FN_G_BOUNDS))
    put_bounds(e, &e->ir->gen, 1);
  if (func_emitted(e->ir, FN_D_BOUNDS))
    put_bounds(e, &e->ir->disc, 0);
  put_loss(e);
  put_public(e);
  put_public_backward(e);
  put_public_bounds(e);
  e->out = out;
  if (code.failed)
    e->out->failed = 1;
  else {
    put_kernels(e, &code);
    str_putn(e->out, code.buf, code.len);
  }
  str_free(&code);
}

static void put_source_banner(Emitter *e)
{
  const LossClass *l = e->m->loss;
  put_banner(e, "c");
  put(e, "   Model %s, %s: discriminator_loss = %s,\n   generator_loss = %s. */\n", e->m->name, l->title,
      l->d_formula, l->g_formula);
}

void emit_source(Str *out, const IrModel *ir, const EmitOptions *opt)
{
  Emitter e = emitter(out, ir, opt);
  put_source_banner(&e);
  put(&e, "#include \"%s.h\"\n\n", ir->model->name);
  put_source_body(&e);
}

void emit_unit(Str *out, const IrModel *ir, const EmitOptions *opt)
{
  Emitter e = emitter(out, ir, opt);
  emit_header(out, ir, opt);
  put(&e, "\n");
  put_source_banner(&e);
  put_source_body(&e);
}

/* A const array of count scalars of the model's type. */
static void put_array(Emitter *e, const char *suffix, const char *count, const void *v, int64_t n)
{
  char lit[64];
  put(e, "\nconst %s_scalar %s_%s[%s_%s] = {", e->m->name, e->m->name, suffix, e->m->name, count);
  for (int64_t i = 0; i < n; i++) {
    double x = e->m->scalar == SCALAR_DOUBLE ? ((const double *)v)[i] : ((const float *)v)[i];
    put(e, "%s%s,", i % 6 == 0 ? "\n  " : " ", literal(e, x, lit, sizeof lit));
  }
  put(e, "\n};\n");
}

void emit_weights(Str *out, const IrModel *ir, const EmitOptions *opt, const void *params, const void *stats)
{
  Emitter e = emitter(out, ir, opt);
  const char *n = e.m->name;
  put_banner(&e, "c");
  put(&e, "   The trained parameters of %s, G then D, each layer's weight then bias%s. */\n", n,
      ir->batch ? ";\n   and its running statistics, each batch_norm layer's running_mean then running_var" : "");
  put(&e, "#include \"%s.h\"\n", n);
  put_array(&e, "weights", "PARAM_COUNT", params, e.m->param_count);
  if (ir->batch)
    put_array(&e, "stats", "STATS_COUNT", stats, e.m->stats_count);
}
