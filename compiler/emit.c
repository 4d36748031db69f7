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
} Emitter;

static Emitter emitter(Str *out, const IrModel *ir, const EmitOptions *opt)
{
  Emitter e = {out, ir, ir->model, opt, "", "", ""};
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
typedef enum { A_END, A_PARAMS, A_N, A_Z, A_X, A_X_REAL, A_X_OUT, A_SCORES, A_GRAD_D, A_GRAD_G } ArgKind;

typedef struct FnSpec {
  int scalar_result; /* returns a scalar, else void */
  ArgKind args[6];
  /* A comment the header puts before it, NULL for none: $N is the model's
     name, $D and $G its loss's formulas, $d and $g their batch means. */
  const char *doc;
} FnSpec;

/* Indexed by ganc.h's ids, so that the header keeps GANC_FUNCTIONS' order. */
static const FnSpec fn_specs[GANC_NFNS] = {
    [GANC_FN_GENERATE] = {0, {A_PARAMS, A_Z, A_X_OUT},
                          "/* params: $N_PARAM_COUNT scalars, G then D, each layer's weight then bias,\n"
                          "   row-major in PyTorch's layout. x: one observation; z: one latent vector. */\n"},
    [GANC_FN_FAKE_SCORE] = {1, {A_PARAMS, A_Z}, NULL},
    [GANC_FN_REAL_SCORE] = {1, {A_PARAMS, A_X}, NULL},
    [GANC_FN_DISCRIMINATOR_LOSS] = {1, {A_PARAMS, A_X_REAL, A_Z}, "/* $D */\n"},
    [GANC_FN_GENERATOR_LOSS] = {1, {A_PARAMS, A_Z}, "/* $G */\n"},
    [GANC_FN_GENERATE_BATCH] = {0, {A_PARAMS, A_N, A_Z, A_X_OUT},
                                "\n/* n samples, stored one after another. Losses are batch means:\n"
                                "   $d and $g.\n"
                                "   For n <= 0 nothing is written and the losses are 0. */\n"},
    [GANC_FN_REAL_SCORE_BATCH] = {0, {A_PARAMS, A_N, A_X, A_SCORES}, NULL},
    [GANC_FN_FAKE_SCORE_BATCH] = {0, {A_PARAMS, A_N, A_Z, A_SCORES}, NULL},
    [GANC_FN_DISCRIMINATOR_LOSS_BATCH] = {1, {A_PARAMS, A_N, A_X_REAL, A_Z}, NULL},
    [GANC_FN_GENERATOR_LOSS_BATCH] = {1, {A_PARAMS, A_N, A_Z}, NULL},
    [GANC_FN_DISCRIMINATOR_LOSS_BACKWARD] =
        {1, {A_PARAMS, A_N, A_X_REAL, A_Z, A_GRAD_D},
         "\n/* Training. Return the batch loss; overwrite grad with its gradient: the\n"
         "   discriminator's parameters ($N_D_PARAM_COUNT scalars, grad_d[k] for\n"
         "   params[$N_G_PARAM_COUNT + k]) for the first, the generator's\n"
         "   ($N_G_PARAM_COUNT) for the second, the discriminator held fixed.\n"
         "   For n <= 0 nothing is written and the result is 0. */\n"},
    [GANC_FN_GENERATOR_LOSS_BACKWARD] = {1, {A_PARAMS, A_N, A_Z, A_GRAD_G}, NULL},
};

/* The names the emitter defines besides the functions (check.c keeps two
   models' names apart with them): the header's constants below, the scalar
   type, the include guard and the weights. */
const char *const emit_names[] = {"scalar", "LATENT_SIZE", "OBS_SIZE", "G_PARAM_COUNT", "D_PARAM_COUNT",
                                  "PARAM_COUNT", "PACK", "H", "weights", NULL};

/* fn's declaration: `RESULT NAME_SUFFIX(ARGS)`, with scalar as the type. */
static void put_signature(Emitter *e, ganc_fn fn, const char *scalar)
{
  static const char *const arg_text[] = {
      [A_PARAMS] = "const %s *params", [A_N] = "int n", [A_Z] = "const %s *z", [A_X] = "const %s *x",
      [A_X_REAL] = "const %s *x_real", [A_X_OUT] = "%s *x", [A_SCORES] = "%s *scores",
      [A_GRAD_D] = "%s *grad_d", [A_GRAD_G] = "%s *grad_g"};
  const FnSpec *f = &fn_specs[fn];
  put(e, "%s %s_%s(", f->scalar_result ? scalar : "void", e->m->name, ganc_fn_suffix(fn));
  for (int i = 0; f->args[i] != A_END; i++) {
    put(e, "%s", i ? ", " : "");
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
    default: str_putc(e->out, *p);
    }
  }
}

/* ---- the header ---- */

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
  put(&e, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  put(&e, "typedef %s %s_scalar;\n\n", scalar_type(m), n);
  put(&e, "#define %s_LATENT_SIZE %lld /* elements of latent %s */\n", n, (long long)shape_count(&m->latent), lat);
  put(&e, "#define %s_OBS_SIZE %lld /* elements of observation %s */\n", n, (long long)shape_count(&m->observation), obs);
  put(&e, "#define %s_G_PARAM_COUNT %lld /* generator scalars */\n", n, (long long)m->gen.param_count);
  put(&e, "#define %s_D_PARAM_COUNT %lld /* discriminator scalars */\n", n, (long long)m->disc.param_count);
  put(&e, "#define %s_PARAM_COUNT %lld /* G then D */\n", n, (long long)m->param_count);
  if (m->pack > 1)
    put(&e, "#define %s_PACK %d /* observations the discriminator judges at once */\n", n, m->pack);
  put(&e, "\n");
  if (m->pack > 1)
    put(&e, "/* Packed (PacGAN): each x, x_real and z of the score and loss functions\n"
            "   holds %s_PACK samples, one after another, and n counts packs;\n"
            "   generate and generate_batch take samples. */\n", n);
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
   runtime links its optimized build). */
static void put_kernels(Emitter *e, const Str *code)
{
  char used[KERNEL_BLOCK_COUNT] = {0};
  for (int i = 0; i < KERNEL_BLOCK_COUNT; i++) {
    const KernelBlock *k = &kernel_blocks[i];
    if (k->kernel ? calls(code->buf, code->len, k->name) : !k->name && !e->opt->jit)
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

static void put_layer_comment(Emitter *e, const Op *op, const Graph *g)
{
  const Layer *l = op->layer;
  char in[160], out[160], sh[160];
  put(e, "\n  /* %s.%d: ", g->stack->name, l->index);
  put_comment_text(e, l->text);
  put(e, ", line %d: %s -> %s", l->loc.line, shape_str(&l->in, in, sizeof in), shape_str(&l->out, out, sizeof out));
  for (int k = 0; k < l->ntensors; k++)
    put(e, "%s%s %s at params[%lld]", k ? ", " : "\n     ", l->tensor[k].suffix,
        shape_str(&l->tensor[k].shape, sh, sizeof sh), (long long)l->tensor[k].off);
  if (op->view)
    put(e, "\n     (the same data with a new shape: no code)");
  if (layer_class(l)->grouped)
    put(e, "\n     %d sample%s per product, %s windows side by side in cs", op->group, op->group == 1 ? "" : "s",
        op->group == 1 ? "its" : "their");
  put(e, " */\n");
}

/* The names a kernel call's words stand for. */
typedef struct CallNames {
  const char *x, *y, *dx, *dy;
} CallNames;

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
    else if (!strcmp(w, "W") || !strcmp(w, "B"))
      put(e, "params + %lld", (long long)l->tensor[w[0] == 'B'].off);
    else if (!strcmp(w, "gW") || !strcmp(w, "gB"))
      put(e, "grad + %lld", (long long)l->tensor[w[1] == 'B'].off - base);
    else if (!strcmp(w, "n"))
      put(e, "t * %lld", (long long)g->size[op->out]);
    else if (!strcmp(w, "G"))
      put(e, "%d", op->group);
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

/* One layer's forward code for t samples, reading x and writing y. */
static void put_op(Emitter *e, const Op *op, const Graph *g, const char *x, const char *y)
{
  put_layer_comment(e, op, g);
  if (!op->view)
    put_call(e, "  ", &layer_class(op->layer)->forward, op, g, &(CallNames){x, y, NULL, NULL});
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
  put(e, "static void %s_%c(const scalar *params, int t, const scalar *in, scalar *out)\n{\n", n, st->letter);
  put_frame(e, is_gen ? FN_G : FN_D);
  if (st->param_count == 0)
    put(e, "  (void)params;\n");
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
    put(e, "  %sscalar *v%d = acts + %s * %lld; /* %s.%d: %s */\n", qual, op->out,
        tile_of(e, g == &e->ir->gen), (long long)g->act_off[op->out], g->stack->name, op->layer->index,
        shape_str(&op->layer->out, shape, sizeof shape));
  }
}

/* A zeroed array of n ints for bookkeeping within one function. */
static int *flags_alloc(int n)
{
  return calloc((size_t)(n > 0 ? n : 1), sizeof(int));
}

/* NAME_G_train / NAME_D_train: the forward pass keeping every value in acts
   (TILE * acts scalars); the output is the last value. */
static void put_train_forward(Emitter *e, const Graph *g, int is_gen)
{
  const char *n = e->m->name;
  int *used = flags_alloc(g->nvalues);
  for (int v = 1; v < g->nvalues; v++)
    used[v] = 1;
  put(e, "\n/* The %s for training: keeps every value in acts (%s * %lld scalars)%s. */\n", g->stack->name,
      tile_of(e, is_gen), (long long)g->acts, is_gen ? "" : " and writes the t scores");
  if (is_gen)
    put(e, "static void %s_G_train(const scalar *params, int t, const scalar *in, scalar *acts)\n{\n", n);
  else
    put(e, "static void %s_D_train(const scalar *params, int t, const scalar *in, scalar *acts, scalar *score)\n{\n",
        n);
  put_value_decls(e, g, used, "");
  put_frame(e, is_gen ? FN_G_TRAIN : FN_D_TRAIN);
  if (g->stack->param_count == 0)
    put(e, "  (void)params;\n");
  if (g->nvalues == 1)
    put(e, "  (void)acts;\n");
  if (is_gen && g->nvalues == 1)
    put(e, "  (void)in;\n  (void)t;\n");
  char x[32], y[32];
  for (int i = 0; i < g->nops; i++)
    put_op(e, &g->ops[i], g, value_name(g->ops[i].in, x, sizeof x), value_name(g->ops[i].out, y, sizeof y));
  if (!is_gen)
    put(e, "  memcpy(score, %s, sizeof(scalar) * (size_t)t);\n", value_name(g->nvalues - 1, y, sizeof y));
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
  CallNames nm = {value_name(op->in, xb, sizeof xb), value_name(op->out, yb, sizeof yb), grad_name(op->dx_buf),
                  grad_name(op->dy_buf)};
  int want_dx = !(op->dx_buf == GRAD_IN && is_gen); /* nothing flows into the latent */

  put_layer_comment(e, op, g);
  if (lc->back_params.kernel) {
    if (!is_gen)
      put(e, "  if (grad)\n");
    put_call(e, is_gen ? "  " : "    ", &lc->back_params, op, g, &nm);
    mark_values(use, &lc->back_params, op);
  }
  if (!want_dx)
    return;
  use->params |= kernel_takes(&lc->back_input, "W");
  mark_values(use, &lc->back_input, op);
  if (op->dx_buf == GRAD_IN)
    put(e, "  if (din)\n");
  put_call(e, op->dx_buf == GRAD_IN ? "    " : "  ", &lc->back_input, op, g, &nm);
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
  for (int i = g->nops - 1; i >= 0; i--)
    if (!g->ops[i].view)
      put_back_op(e, g, &g->ops[i], is_gen, &use);
  if (g->nvalues == 1 && !is_gen) /* D is the identity */
    put(e, "  if (din)\n    memcpy(din, dout, sizeof(scalar) * (size_t)t);\n");
  e->out = saved;

  if (is_gen) {
    put(e, "\n/* Backward through the generator from dout (dL/dx): adds dL/dparams into grad\n"
           "   (indexed from params[0]). */\n");
    put(e, "static void %s_G_back(const scalar *params, int t, const scalar *in, const scalar *acts, "
           "const scalar *dout, scalar *grad)\n{\n", n);
  } else {
    put(e, "\n/* Backward through the discriminator from dout (dL/dscore, one per sample): adds\n"
           "   dL/dparams into grad (indexed from params[%lld]) if grad is not NULL, and writes\n"
           "   dL/din into din if din is not NULL. */\n", (long long)g->stack->param_off);
    put(e, "static void %s_D_back(const scalar *params, int t, const scalar *in, const scalar *acts, "
           "const scalar *dout, scalar *grad, scalar *din)\n{\n", n);
  }
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
    put(e, "  (void)t;\n  (void)dout;\n  (void)grad;\n");
  if (!is_gen && g->stack->param_count == 0)
    put(e, "  (void)grad;\n");
  if (body.buf)
    str_puts(e->out, body.buf);
  put(e, "}\n");
  str_free(&body);
  free(use.value);
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
  const char *n = e->m->name, *gt = tile_of(e, 1);
  const char *gn = e->g_samples;
  char pk[300];
  snprintf(pk, sizeof pk, e->m->pack > 1 ? "%s_PACK" : "1", n);
  put(e, "\n/* ---- single samples%s: tiles of one ---- */\n", e->m->pack > 1 ? " and single packs" : "");
  put_public_open(e, GANC_FN_GENERATE);
  put(e, "  %s_G(params, 1, z, x);\n}\n", n);
  put_public_open(e, GANC_FN_FAKE_SCORE);
  put(e, "  %s_G(params, %s, z, x);\n  %s_D(params, 1, x, &score);\n", n, pk, n);
  put(e, "  return score;\n}\n");
  put_public_open(e, GANC_FN_REAL_SCORE);
  put(e, "  %s_D(params, 1, x, &score);\n  return score;\n}\n", n);
  put_public_open(e, GANC_FN_DISCRIMINATOR_LOSS);
  put(e, "  return loss_real(%s_real_score(params, x_real)) + loss_fake(%s_fake_score(params, z));\n}\n", n, n);
  put_public_open(e, GANC_FN_GENERATOR_LOSS);
  put(e, "  return loss_gen(%s_fake_score(params, z));\n}\n", n);

  put(e, "\n/* ---- batches, TILE %s at a time; means summed in double ---- */\n",
      e->m->pack > 1 ? "packs" : "samples");
  put_public_open(e, GANC_FN_GENERATE_BATCH);
  put(e, "  for (int i = 0; i < n; i += %s)\n", gt);
  put(e, "    %s_G(params, n - i < %s ? n - i : %s, z + (size_t)i * %s_LATENT_SIZE, x + (size_t)i * %s_OBS_SIZE);\n}\n",
      n, gt, gt, n, n);
  put_public_open(e, GANC_FN_REAL_SCORE_BATCH);
  put(e, "  for (int i = 0; i < n; i += TILE)\n");
  put(e, "    %s_D(params, n - i < TILE ? n - i : TILE, x + (size_t)i * %s, scores + i);\n}\n", n, e->obs_in);
  put_public_open(e, GANC_FN_FAKE_SCORE_BATCH);
  put_tile_loop(e);
  put(e, "    %s_G(params, %s, z + (size_t)i * %s, x);\n", n, gn, e->lat_in);
  put(e, "    %s_D(params, t, x, scores + i);\n  }\n}\n", n);
  put_public_open(e, GANC_FN_DISCRIMINATOR_LOSS_BATCH);
  put(e, "  double real = 0, fake = 0;\n");
  put(e, "  if (n <= 0)\n    return 0;\n");
  put_tile_loop(e);
  put(e, "    %s_D(params, t, x_real + (size_t)i * %s, s);\n", n, e->obs_in);
  put(e, "    for (int k = 0; k < t; k++)\n      real += loss_real(s[k]);\n");
  put(e, "    %s_G(params, %s, z + (size_t)i * %s, x);\n", n, gn, e->lat_in);
  put(e, "    %s_D(params, t, x, s);\n", n);
  put(e, "    for (int k = 0; k < t; k++)\n      fake += loss_fake(s[k]);\n  }\n");
  put(e, "  return (scalar)(real / n + fake / n);\n}\n");
  put_public_open(e, GANC_FN_GENERATOR_LOSS_BATCH);
  put(e, "  double fake = 0;\n");
  put(e, "  if (n <= 0)\n    return 0;\n");
  put_tile_loop(e);
  put(e, "    %s_G(params, %s, z + (size_t)i * %s, x);\n", n, gn, e->lat_in);
  put(e, "    %s_D(params, t, x, s);\n", n);
  put(e, "    for (int k = 0; k < t; k++)\n      fake += loss_gen(s[k]);\n  }\n");
  put(e, "  return (scalar)(fake / n);\n}\n");
}

static void put_public_backward(Emitter *e)
{
  const char *n = e->m->name;
  const Graph *g = &e->ir->gen;
  const char *gn = e->g_samples;
  const char *x = g->nvalues == 1 ? "zi" : "x";

  put(e, "\n/* ---- gradients of the batch losses ---- */\n");
  put_public_open(e, GANC_FN_DISCRIMINATOR_LOSS_BACKWARD);
  put(e, "  double real = 0, fake = 0;\n  if (n <= 0)\n    return 0;\n");
  put(e, "  memset(grad_d, 0, sizeof(scalar) * %s_D_PARAM_COUNT);\n", n);
  put_tile_loop(e);
  put(e, "    const scalar *xi = x_real + (size_t)i * %s;\n", e->obs_in);
  put(e, "    %s_D_train(params, t, xi, acts, s);\n", n);
  put(e, "    for (int k = 0; k < t; k++) {\n      real += loss_real(s[k]);\n");
  put(e, "      ds[k] = loss_real_d(s[k]) / (scalar)n;\n    }\n");
  put(e, "    %s_D_back(params, t, xi, acts, ds, grad_d, NULL);\n", n);
  put(e, "    %s_G(params, %s, z + (size_t)i * %s, x);\n", n, gn, e->lat_in);
  put(e, "    %s_D_train(params, t, x, acts, s);\n", n);
  put(e, "    for (int k = 0; k < t; k++) {\n      fake += loss_fake(s[k]);\n");
  put(e, "      ds[k] = loss_fake_d(s[k]) / (scalar)n;\n    }\n");
  put(e, "    %s_D_back(params, t, x, acts, ds, grad_d, NULL);\n  }\n", n);
  put(e, "  return (scalar)(real / n + fake / n);\n}\n");

  put_public_open(e, GANC_FN_GENERATOR_LOSS_BACKWARD);
  put(e, "  double loss = 0;\n  if (n <= 0)\n    return 0;\n");
  put(e, "  memset(grad_g, 0, sizeof(scalar) * %s_G_PARAM_COUNT);\n", n);
  put_tile_loop(e);
  put(e, "    const scalar *zi = z + (size_t)i * %s;\n", e->lat_in);
  put(e, "    %s_G_train(params, %s, zi, gacts);\n", n, gn);
  if (g->nvalues > 1)
    put(e, "    const scalar *x = gacts + %s * %lld;\n", tile_of(e, 1), (long long)g->act_off[g->nvalues - 1]);
  put(e, "    %s_D_train(params, t, %s, dacts, s);\n", n, x);
  put(e, "    for (int k = 0; k < t; k++) {\n      loss += loss_gen(s[k]);\n");
  put(e, "      ds[k] = loss_gen_d(s[k]) / (scalar)n;\n    }\n");
  put(e, "    %s_D_back(params, t, %s, dacts, ds, NULL, dx);\n", n, x);
  put(e, "    %s_G_back(params, %s, zi, gacts, dx, grad_g);\n  }\n", n, gn);
  put(e, "  return (scalar)(loss / n);\n}\n");
}

static void put_source_body(Emitter *e)
{
  if (e->opt->jit) {
    /* No system headers: libtcc parses only what the code needs. */
    put(e, "typedef __SIZE_TYPE__ size_t;\n#define NULL ((void *)0)\n");
    put(e, "void *memcpy(void *dst, const void *src, size_t n);\nvoid *memset(void *dst, int c, size_t n);\n");

  } else {
    put(e, "#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n");
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
  put(e, "\n/* Samples pass through the layers TILE at a time: the most that keeps every\n"
         "   function below within %d bytes of stack (this model's deepest needs %lld). */\n",
      STACK_BUDGET, (long long)e->ir->stack_bytes);
  if (e->m->pack > 1)
    put(e, "enum { TILE = %d, G_TILE = TILE * %s_PACK }; /* packs, and the samples G makes for them */\n",
        e->ir->tile, e->m->name);
  else
    put(e, "enum { TILE = %d };\n", e->ir->tile);
  put_forward(e, &e->ir->gen, 1);
  put_forward(e, &e->ir->disc, 0);
  put_train_forward(e, &e->ir->gen, 1);
  put_train_forward(e, &e->ir->disc, 0);
  put_backward(e, &e->ir->gen, 1);
  put_backward(e, &e->ir->disc, 0);
  put_loss(e);
  put_public(e);
  put_public_backward(e);
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

void emit_weights(Str *out, const IrModel *ir, const EmitOptions *opt, const void *params)
{
  Emitter e = emitter(out, ir, opt);
  const char *n = e.m->name;
  put_banner(&e, "c");
  put(&e, "   The trained parameters of %s, G then D, each layer's weight then bias. */\n", n);
  put(&e, "#include \"%s.h\"\n\nconst %s_scalar %s_weights[%s_PARAM_COUNT] = {", n, n, n, n);
  char lit[64];
  for (int64_t i = 0; i < e.m->param_count; i++) {
    double v = e.m->scalar == SCALAR_DOUBLE ? ((const double *)params)[i] : ((const float *)params)[i];
    put(&e, "%s%s,", i % 6 == 0 ? "\n  " : " ", literal(&e, v, lit, sizeof lit));
  }
  put(&e, "\n};\n");
}
