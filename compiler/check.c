/* check.c — give the Ast its meaning: declarations, layer arguments, shapes
 * and parameter offsets, producing a Program. Each layer kind's arguments
 * and shape rule are its row of the layer table (layers.c).
 *
 * The checker reports every independent error it finds (up to the Diag
 * limit): a bad argument does not stop the next layer's arguments from being
 * checked, but after a layer whose output shape is unknown the rest of that
 * stack's shapes are not checked, since every message would be a consequence
 * of the first. All size arithmetic is checked against MAX_ELEMENTS. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "io.h"

typedef struct Checker {
  Arena *arena;
  Diag *diag;
  const char *src;
} Checker;

/* ---- helpers ---- */

int64_t shape_count(const Shape *s)
{
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++)
    n *= s->dim[i];
  return n;
}

const char *shape_str(const Shape *s, char *buf, size_t size)
{
  ganc_format_shape(buf, size, s->dim, s->rank);
  return buf;
}

int mul_ok(int64_t a, int64_t b, int64_t *out)
{
  if (a != 0 && b > MAX_ELEMENTS / a)
    return 0;
  *out = a * b;
  return 1;
}

int add_ok(int64_t a, int64_t b, int64_t *out)
{
  if (b > MAX_ELEMENTS - a)
    return 0;
  *out = a + b;
  return 1;
}

int count_ok(const Shape *s, int64_t *out)
{
  int64_t n = 1;
  for (int i = 0; i < s->rank; i++)
    if (!mul_ok(n, s->dim[i], &n))
      return 0;
  *out = n;
  return 1;
}

static size_t edit_distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  if (la > 32 || lb > 32)
    return 99;
  size_t row[33];
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best)
        best = row[j] + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* The closest of the NULL-terminated candidates, if close enough to be a
   plausible typo; NULL otherwise. */
static const char *suggest(const char *name, const char *const *candidates)
{
  const char *best = NULL;
  size_t best_d = 3;
  size_t limit = strlen(name) <= 3 ? 1 : 2;
  for (; *candidates; candidates++) {
    size_t d = edit_distance(name, *candidates);
    if (d <= limit && d < best_d) {
      best = *candidates;
      best_d = d;
    }
  }
  return best;
}

/* " (did you mean 'x'?)" or "". */
static const char *did_you_mean(Checker *c, const char *name, const char *const *candidates)
{
  const char *s = suggest(name, candidates);
  if (!s)
    return "";
  size_t n = strlen(s) + 24;
  char *buf = arena_alloc(c->arena, n);
  snprintf(buf, n, " (did you mean '%s'?)", s);
  return buf;
}

/* ---- numbers and shapes ---- */

static int is_integer_text(const char *t)
{
  if (*t == '-')
    t++;
  if (!*t)
    return 0;
  for (; *t; t++)
    if (*t < '0' || *t > '9')
      return 0;
  return 1;
}

/* A positive integer no larger than MAX_ELEMENTS; what names the value in
   messages ("dimension", "argument 'out'"). */
static int positive_int(Checker *c, const Value *v, const char *what, int64_t *out)
{
  if (v->kind != VAL_NUMBER) {
    diag_error(c->diag, v->loc, "%s must be a positive integer, not a shape", what);
    return 0;
  }
  if (!is_integer_text(v->text)) {
    diag_error(c->diag, v->loc, "%s must be a positive integer, not '%s'", what, v->text);
    return 0;
  }
  errno = 0;
  long long n = strtoll(v->text, NULL, 10);
  if (errno == ERANGE || n > MAX_ELEMENTS) {
    diag_error(c->diag, v->loc, "%s %s is too large (at most %d)", what, v->text, MAX_ELEMENTS);
    return 0;
  }
  if (n <= 0) {
    diag_error(c->diag, v->loc, "%s must be a positive integer, not %s", what, v->text);
    return 0;
  }
  *out = n;
  return 1;
}

static int finite_number(Checker *c, const Value *v, const char *what, double *out)
{
  if (v->kind != VAL_NUMBER) {
    diag_error(c->diag, v->loc, "%s must be a number, not a shape", what);
    return 0;
  }
  errno = 0;
  double x = strtod(v->text, NULL);
  if (errno == ERANGE && fabs(x) > 1) {
    diag_error(c->diag, v->loc, "%s %s is out of range", what, v->text);
    return 0;
  }
  *out = x;
  return 1;
}

static int check_shape(Checker *c, const Value *v, const char *what, Shape *out)
{
  if (v->kind != VAL_SHAPE) {
    diag_error(c->diag, v->loc, "%s must be a shape such as [1, 28, 28], not '%s'", what, v->text);
    return 0;
  }
  if (v->items.n > MAX_RANK) {
    diag_error(c->diag, v->loc, "shape has %d dimensions; at most %d are supported", v->items.n, MAX_RANK);
    return 0;
  }
  int ok = 1;
  out->rank = v->items.n;
  for (int i = 0; i < v->items.n; i++)
    ok &= positive_int(c, v->items.item[i], "dimension", &out->dim[i]);
  int64_t n;
  if (ok && !count_ok(out, &n)) {
    diag_error(c->diag, v->loc, "shape has too many elements (more than %d)", MAX_ELEMENTS);
    ok = 0;
  }
  return ok;
}

/* ---- layer arguments ---- */

static int nargs(const LayerClass *lc)
{
  int n = 0;
  while (n < MAX_ARGS && lc->args[n].name)
    n++;
  return n;
}

/* Bind a layer's arguments to its class's, as Python binds them. */
static int bind_args(Checker *c, const LayerNode *ln, const LayerClass *spec, Args *b)
{
  int np = nargs(spec), ok = 1, seen_key = 0, unknown_key = 0;
  Loc given_at[MAX_ARGS];
  const char *names[MAX_ARGS + 1] = {0};
  for (int i = 0; i < np; i++)
    names[i] = spec->args[i].name;
  memset(b, 0, sizeof *b);

  for (int i = 0; i < ln->args.n; i++) {
    const Arg *a = ln->args.item[i];
    int slot;
    if (!a->key) {
      if (seen_key) {
        diag_error(c->diag, a->value->loc, "positional argument follows keyword argument");
        ok = 0;
        continue;
      }
      if (i >= np) {
        if (np == 0)
          diag_error(c->diag, a->value->loc, "%s takes no arguments", spec->name);
        else
          diag_error(c->diag, a->value->loc, "%s takes at most %d argument%s, but %d were given",
                     spec->name, np, np == 1 ? "" : "s", ln->args.n);
        ok = 0;
        break;
      }
      slot = i;
    } else {
      seen_key = 1;
      for (slot = 0; slot < np; slot++)
        if (strcmp(a->key, names[slot]) == 0)
          break;
      if (slot == np) {
        if (np == 0)
          diag_error(c->diag, a->key_loc, "%s takes no arguments", spec->name);
        else
          diag_error(c->diag, a->key_loc, "%s has no argument '%s'%s", spec->name, a->key,
                     did_you_mean(c, a->key, names));
        ok = 0;
        unknown_key = 1;
        continue;
      }
      if (b->value[slot]) {
        diag_error(c->diag, a->key_loc, "argument '%s' given twice (first at column %d)",
                   a->key, given_at[slot].col);
        ok = 0;
        continue;
      }
    }
    b->value[slot] = a->value;
    given_at[slot] = a->key ? a->key_loc : a->value->loc;
  }

  for (int i = 0; i < np; i++) {
    const ArgSpec *p = &spec->args[i];
    const Value *v = b->value[i];
    char what[64];
    snprintf(what, sizeof what, "argument '%s'", p->name);
    if (!v) {
      if (p->required && !unknown_key) /* else it is likely the misspelt one */
        diag_error(c->diag, ln->loc, "%s needs argument '%s'", spec->name, p->name);
      ok &= !p->required;
      b->integer[i] = (int64_t)p->fallback;
      b->number[i] = p->fallback;
      continue;
    }
    switch (p->type) {
    case ARG_POSITIVE:
      ok &= positive_int(c, v, what, &b->integer[i]);
      break;
    case ARG_NONNEGATIVE:
      if (v->kind == VAL_NUMBER && strcmp(v->text, "0") == 0)
        b->integer[i] = 0;
      else if (v->kind == VAL_NUMBER && is_integer_text(v->text) && v->text[0] == '-') {
        diag_error(c->diag, v->loc, "%s must be a non-negative integer, not %s", what, v->text);
        ok = 0;
      } else
        ok &= positive_int(c, v, what, &b->integer[i]);
      break;
    case ARG_NUMBER:
      ok &= finite_number(c, v, what, &b->number[i]);
      break;
    case ARG_UNIT:
    case ARG_POSITIVE_NUMBER:
      if (!finite_number(c, v, what, &b->number[i]))
        ok = 0;
      else if (p->type == ARG_UNIT && !(b->number[i] >= 0 && b->number[i] <= 1)) {
        diag_error(c->diag, v->loc, "%s must lie in [0, 1], not %s", what, v->text);
        ok = 0;
      } else if (p->type == ARG_POSITIVE_NUMBER && !(b->number[i] > 0)) {
        diag_error(c->diag, v->loc, "%s must be greater than 0, not %s", what, v->text);
        ok = 0;
      }
      break;
    case ARG_SHAPE:
      ok &= check_shape(c, v, what, &b->shape[i]);
      break;
    }
  }
  return ok;
}

/* ---- layers and stacks ---- */

/* The layer as written, comments dropped and whitespace folded, for the
   emitted code's comments and `ganc summary`. */
static const char *layer_text(Checker *c, const LayerNode *ln)
{
  size_t n = ln->text_end - ln->text_start, len = 0;
  char *out = arena_alloc(c->arena, n + 1);
  const char *p = c->src + ln->text_start, *end = c->src + ln->text_end;
  int space = 0;
  while (p < end) {
    if (*p == '#') {
      while (p < end && *p != '\n')
        p++;
      space = 1;
    } else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v') {
      space = 1;
      p++;
    } else {
      if (space && len > 0 && out[len - 1] != '(' && out[len - 1] != '[' && *p != ')' && *p != ']' && *p != ',')
        out[len++] = ' ';
      space = 0;
      out[len++] = *p++;
    }
  }
  out[len] = 0;
  return out;
}

void shape_set(Shape *s, int rank, const int64_t *dims)
{
  s->rank = rank;
  for (int i = 0; i < rank; i++)
    s->dim[i] = dims[i];
}

static const LayerClass *find_layer(const char *name)
{
  for (int k = 0; k < NLAYER_KINDS; k++)
    if (strcmp(layer_classes[k].name, name) == 0)
      return &layer_classes[k];
  return NULL;
}

/* Check one stack starting from `in`; *offset is the next free parameter
   slot and advances. Returns 0 if any error was reported. */
static int check_stack(Checker *c, const DeclNode *decl, const char *name, const Shape *in, int classes,
                       int64_t *offset, int64_t *stats_offset, Stack *st)
{
  int ok = 1, shapes_known = in != NULL;
  Shape cur = in ? *in : (Shape){0};
  st->name = name;
  st->letter = name[0] == 'g' ? 'G' : 'D';
  st->loc = decl->loc;
  st->in = cur;
  if (decl->layers.n > MAX_LAYERS) {
    diag_error(c->diag, decl->loc, "%s has %d layers; at most %d are supported", name, decl->layers.n, MAX_LAYERS);
    return 0;
  }
  st->n = decl->layers.n;
  st->layers = arena_alloc(c->arena, (size_t)(st->n ? st->n : 1) * sizeof *st->layers);
  st->param_off = *offset;
  st->stats_off = *stats_offset;

  const char *names[NLAYER_KINDS + 1] = {0};
  for (int k = 0; k < NLAYER_KINDS; k++)
    names[k] = layer_classes[k].name;

  for (int i = 0; i < st->n && !diag_full(c->diag); i++) {
    const LayerNode *ln = decl->layers.item[i];
    Layer *l = &st->layers[i];
    l->index = i;
    l->loc = ln->loc;
    l->text = layer_text(c, ln);
    const LayerClass *lc = find_layer(ln->name);
    if (!lc) {
      diag_error(c->diag, ln->loc, "unknown layer '%s'%s", ln->name, did_you_mean(c, ln->name, names));
      ok = shapes_known = 0;
      continue;
    }
    l->kind = (LayerKind)(lc - layer_classes);
    l->classes = classes;
    Args b;
    if (!bind_args(c, ln, lc, &b)) {
      ok = shapes_known = 0;
      continue;
    }
    if ((l->kind == LY_LABEL || l->kind == LY_PROJECTION) && classes == 0) {
      diag_error(c->diag, ln->loc, "%s needs a conditional model: declare its classes, e.g. classes 10", lc->name);
      ok = shapes_known = 0;
      continue;
    }
    if (!shapes_known)
      continue;
    l->in = cur;
    if (!lc->shape(c->diag, l, &b)) {
      ok = shapes_known = 0;
      continue;
    }
    cur = l->out;

    /* The layer's tensors, one after another from *offset. */
    int64_t next = *offset;
    int fits = 1;
    for (int k = 0; k < l->ntensors && fits; k++) {
      Tensor *t = &l->tensor[k];
      fits = count_ok(&t->shape, &t->count) && add_ok(next, t->count, &next);
      t->off = next - t->count;
    }
    if (!fits) {
      diag_error(c->diag, l->loc, "too many parameters (more than %d in a model)", MAX_ELEMENTS);
      ok = shapes_known = 0;
      continue;
    }
    l->param_count = next - *offset;
    *offset = next;
    /* Its running statistics, likewise in the statistics array (each as
       large as its channels, which a tensor above already counts). */
    for (int k = 0; k < l->nstats; k++) {
      Tensor *t = &l->stat[k];
      t->count = shape_count(&t->shape);
      t->off = *stats_offset;
      *stats_offset += t->count;
    }
    st->flops += l->flops;
  }
  st->out = cur;
  st->param_count = *offset - st->param_off;
  st->stats_count = *stats_offset - st->stats_off;
  return ok && shapes_known;
}

/* ---- models ---- */

static int same_shape(const Shape *a, const Shape *b)
{
  if (a->rank != b->rank)
    return 0;
  for (int i = 0; i < a->rank; i++)
    if (a->dim[i] != b->dim[i])
      return 0;
  return 1;
}

static const char *const c_keywords[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
    "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
    "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
    "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "_Alignas",
    "_Alignof", "_Atomic", "_Bool", "_Complex", "_Generic", "_Imaginary", "_Noreturn",
    "_Static_assert", "_Thread_local", "asm", "bool", "true", "false", NULL};

/* Two models clash if any identifiers of their emitted code coincide: each
   is NAME_SUFFIX for a function (func_suffix) or another name the emitter
   defines (emit_names). */
static int symbols_clash(const char *a, const char *b)
{
  const char *suffix[NFUNCS + 16];
  int n = 0;
  for (int f = 0; f < NFUNCS; f++)
    suffix[n++] = func_suffix((Func)f);
  for (int i = 0; emit_names[i] && n < NFUNCS + 16; i++)
    suffix[n++] = emit_names[i];
  size_t la = strlen(a), lb = strlen(b);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      if (la + strlen(suffix[i]) == lb + strlen(suffix[j])) {
        char x[512], y[512];
        snprintf(x, sizeof x, "%s_%s", a, suffix[i]);
        snprintf(y, sizeof y, "%s_%s", b, suffix[j]);
        if (strcmp(x, y) == 0)
          return 1;
      }
  return 0;
}

static void check_model_name(Checker *c, const ModelNode *mn, const Model *prev, int nprev)
{
  for (const char *const *k = c_keywords; *k; k++)
    if (strcmp(mn->name, *k) == 0) {
      diag_error(c->diag, mn->loc, "model name '%s' is a C keyword; it prefixes every emitted symbol", mn->name);
      return;
    }
  if (mn->name[0] == '_' && (mn->name[1] == '_' || (mn->name[1] >= 'A' && mn->name[1] <= 'Z'))) {
    diag_error(c->diag, mn->loc, "model name '%s' is reserved in C (it begins with '_' and a capital or '_')", mn->name);
    return;
  }
  if (strlen(mn->name) > 200) {
    diag_error(c->diag, mn->loc, "model name is too long (at most 200 characters)");
    return;
  }
  for (int i = 0; i < nprev; i++) {
    if (strcmp(prev[i].name, mn->name) == 0) {
      diag_error(c->diag, mn->loc, "duplicate model name '%s' (first defined at line %d)", mn->name, prev[i].loc.line);
      return;
    }
    if (symbols_clash(prev[i].name, mn->name)) {
      diag_error(c->diag, mn->loc, "model name '%s' clashes with the symbols of model '%s' (line %d)",
                 mn->name, prev[i].name, prev[i].loc.line);
      return;
    }
  }
}

/* The declarations of a model; the first four are required. */
enum { D_LATENT, D_OBSERVATION, D_GENERATOR, D_DISCRIMINATOR, D_LOSS, D_SCALAR, D_PACK, D_CLASSES, NDECLS };

/* The most classes a conditional model may have. */
enum { MAX_CLASSES = 65536 };

static const struct {
  const char *name;
  DeclKind kind;
  const char *usage;
} decls[NDECLS] = {
    [D_LATENT] = {"latent", DECL_SHAPE, "a shape, e.g. latent [64]"},
    [D_OBSERVATION] = {"observation", DECL_SHAPE, "a shape, e.g. observation [1, 28, 28]"},
    [D_GENERATOR] = {"generator", DECL_BLOCK, "a block of layers, e.g. generator { linear(784) tanh }"},
    [D_DISCRIMINATOR] = {"discriminator", DECL_BLOCK, "a block of layers, e.g. discriminator { linear(1) }"},
    [D_LOSS] = {"loss", DECL_WORD, "a loss name: loss lsgan, loss logistic or loss hinge"},
    [D_SCALAR] = {"scalar", DECL_WORD, "a scalar type: scalar float or scalar double"},
    [D_PACK] = {"pack", DECL_NUMBER, "a number of observations, e.g. pack 2"},
    [D_CLASSES] = {"classes", DECL_NUMBER, "a number of class labels, e.g. classes 10"},
};

static int usable(const DeclNode *d, DeclKind kind)
{
  return d && d->kind == kind;
}

static int check_model(Checker *c, const ModelNode *mn, Model *m)
{
  const DeclNode *decl[NDECLS] = {0};
  int ok = 1;
  m->name = mn->name;
  m->loc = mn->loc;
  m->scalar = SCALAR_FLOAT;

  const char *decl_names[NDECLS + 1] = {0};
  for (int k = 0; k < NDECLS; k++)
    decl_names[k] = decls[k].name;
  for (int i = 0; i < mn->decls.n; i++) {
    const DeclNode *d = mn->decls.item[i];
    int k;
    for (k = 0; k < NDECLS; k++)
      if (strcmp(d->name, decls[k].name) == 0)
        break;
    if (k == NDECLS) {
      Str known = {0};
      for (int j = 0; j < NDECLS; j++)
        str_printf(&known, "%s%s", j == 0 ? "" : j == NDECLS - 1 ? " or " : ", ", decls[j].name);
      diag_error(c->diag, d->loc, "unknown declaration '%s'%s; expected %s", d->name,
                 did_you_mean(c, d->name, decl_names), known.buf ? known.buf : "");
      str_free(&known);
      ok = 0;
    } else if (decl[k]) {
      diag_error(c->diag, d->loc, "duplicate '%s' (first declared at line %d)", d->name, decl[k]->loc.line);
      ok = 0;
    } else if (d->kind != decls[k].kind) {
      diag_error(c->diag, d->loc, "'%s' takes %s", d->name, decls[k].usage);
      ok = 0;
      decl[k] = d; /* declared, if badly: no "missing" error too */
    } else {
      decl[k] = d;
    }
  }
  Str missing = {0};
  int nmissing = 0;
  for (int k = 0; k < D_LOSS; k++)
    if (!decl[k])
      str_printf(&missing, "%s'%s'", nmissing++ ? ", " : "", decls[k].name);
  if (nmissing) {
    char *last = missing.buf ? strrchr(missing.buf, ',') : NULL;
    if (last) /* "'a', 'b', 'c'" -> "'a', 'b' or 'c'" */
      diag_error(c->diag, mn->loc, "model '%s' has no %.*s or%s declaration", mn->name,
                 (int)(last - missing.buf), missing.buf, last + 1);
    else
      diag_error(c->diag, mn->loc, "model '%s' has no %s declaration", mn->name, missing.buf ? missing.buf : "");
    ok = 0;
  }
  str_free(&missing);

  m->loss = &loss_classes[0];
  if (decl[D_LOSS] && decl[D_LOSS]->kind == DECL_WORD) {
    const char *w = decl[D_LOSS]->word;
    if ((m->loss = find_loss(w)) == NULL) {
      const char *loss_names[16] = {0};
      for (int i = 0; i < 15 && loss_classes[i].name; i++)
        loss_names[i] = loss_classes[i].name;
      Str known = {0};
      for (int i = 0; loss_names[i]; i++)
        str_printf(&known, "%s'%s'", i == 0 ? "" : loss_names[i + 1] ? ", " : " or ", loss_names[i]);
      if (loss_names[1])
        diag_error(c->diag, decl[D_LOSS]->word_loc, "unknown loss '%s'%s; expected %s", w,
                   did_you_mean(c, w, loss_names), known.buf ? known.buf : "");
      else
        diag_error(c->diag, decl[D_LOSS]->word_loc, "unknown loss '%s'; the only loss is %s", w,
                   known.buf ? known.buf : "");
      str_free(&known);
      ok = 0;
    }
  }
  if (decl[D_SCALAR] && decl[D_SCALAR]->kind == DECL_WORD) {
    static const char *const scalars[] = {"float", "double", NULL};
    const char *w = decl[D_SCALAR]->word;
    if (strcmp(w, "double") == 0)
      m->scalar = SCALAR_DOUBLE;
    else if (strcmp(w, "float") != 0) {
      diag_error(c->diag, decl[D_SCALAR]->word_loc, "unknown scalar type '%s'%s; expected float or double",
                 w, did_you_mean(c, w, scalars));
      ok = 0;
    }
  }

  /* A stack whose input shape is unknown still has its arguments checked. */
  int lat_ok = usable(decl[D_LATENT], DECL_SHAPE) && check_shape(c, decl[D_LATENT]->shape, "latent", &m->latent);
  int obs_ok = usable(decl[D_OBSERVATION], DECL_SHAPE) &&
               check_shape(c, decl[D_OBSERVATION]->shape, "observation", &m->observation);
  /* The discriminator judges packs: pack observations along the first
     dimension, as PacGAN concatenates them (channels, for images). */
  Shape packed = m->observation;
  m->pack = 1;
  if (usable(decl[D_PACK], DECL_NUMBER)) {
    Value v = {.kind = VAL_NUMBER, .loc = decl[D_PACK]->word_loc, .text = decl[D_PACK]->word};
    int64_t p = 1;
    if (!positive_int(c, &v, "pack", &p))
      ok = 0;
    else if (obs_ok && m->observation.rank == 0) {
      diag_error(c->diag, decl[D_PACK]->loc, "pack needs an observation with at least one dimension, but "
                 "observation is []");
      ok = 0;
    } else if (p > 4096) {
      diag_error(c->diag, v.loc, "pack %s is too large (at most 4096)", v.text);
      ok = 0;
    } else if (obs_ok && !mul_ok(packed.dim[0], p, &packed.dim[0])) {
      diag_error(c->diag, v.loc, "pack %s makes the discriminator's input too large (more than %d elements)",
                 v.text, MAX_ELEMENTS);
      ok = 0;
    } else
      m->pack = (int)p;
    int64_t count;
    if (ok && obs_ok && !count_ok(&packed, &count)) {
      diag_error(c->diag, v.loc, "pack %s makes the discriminator's input too large (more than %d elements)",
                 v.text, MAX_ELEMENTS);
      ok = 0;
    }
  }
  /* A conditional model: its labels, which its label layers embed. */
  if (usable(decl[D_CLASSES], DECL_NUMBER)) {
    Value v = {.kind = VAL_NUMBER, .loc = decl[D_CLASSES]->word_loc, .text = decl[D_CLASSES]->word};
    int64_t k = 0;
    if (!positive_int(c, &v, "classes", &k))
      ok = 0;
    else if (k < 2) {
      diag_error(c->diag, v.loc, "classes must be at least 2, not %s (one class needs no label)", v.text);
      ok = 0;
    } else if (k > MAX_CLASSES) {
      diag_error(c->diag, v.loc, "classes %s is too many (at most %d)", v.text, MAX_CLASSES);
      ok = 0;
    } else if (m->pack > 1) {
      diag_error(c->diag, decl[D_CLASSES]->loc,
                 "classes cannot be combined with pack %d yet: a pack of samples has no single label", m->pack);
      ok = 0;
    } else
      m->classes = (int)k;
  }
  /* Whether a layer may take labels is known even when classes is wrong. */
  int classes = m->classes ? m->classes : decl[D_CLASSES] ? 2 : 0;
  int64_t offset = 0, stats_offset = 0;
  int gen_ok = 0, disc_ok = 0;
  if (usable(decl[D_GENERATOR], DECL_BLOCK))
    gen_ok = check_stack(c, decl[D_GENERATOR], "generator", lat_ok ? &m->latent : NULL, classes, &offset,
                         &stats_offset, &m->gen);
  if (usable(decl[D_DISCRIMINATOR], DECL_BLOCK))
    disc_ok = check_stack(c, decl[D_DISCRIMINATOR], "discriminator", obs_ok && ok ? &packed : NULL, classes,
                          &offset, &stats_offset, &m->disc);
  if (m->classes && gen_ok && disc_ok && !stack_takes_labels(&m->gen) && !stack_takes_labels(&m->disc)) {
    diag_error(c->diag, decl[D_CLASSES]->loc,
               "classes %d but no layer takes the label: add label(dim) to the generator or the discriminator, "
               "or end the discriminator in projection",
               m->classes);
    ok = 0;
  }
  m->param_count = offset;
  m->stats_count = stats_offset;
  ok &= lat_ok && obs_ok;

  char a[160], b[160];
  if (gen_ok && obs_ok && !same_shape(&m->gen.out, &m->observation)) {
    Loc at = m->gen.n ? m->gen.layers[m->gen.n - 1].loc : m->gen.loc;
    diag_error(c->diag, at, "generator produces %s but observation is %s",
               shape_str(&m->gen.out, a, sizeof a), shape_str(&m->observation, b, sizeof b));
    gen_ok = 0;
  }
  const Shape *score = &m->disc.out;
  if (disc_ok && !(score->rank == 0 || (score->rank == 1 && score->dim[0] == 1))) {
    Loc at = m->disc.n ? m->disc.layers[m->disc.n - 1].loc : m->disc.loc;
    diag_error(c->diag, at, "discriminator produces %s but must end in one score ([] or [1])",
               shape_str(score, a, sizeof a));
    disc_ok = 0;
  }
  return ok && gen_ok && disc_ok;
}

Program *check_program(Arena *a, Diag *d, const Ast *ast, const char *src)
{
  Checker c = {a, d, src};
  if (ast->models.n > MAX_MODELS) {
    const ModelNode *extra = ast->models.item[MAX_MODELS];
    diag_error(d, extra->loc, "file has %d models; at most %d are supported", ast->models.n, MAX_MODELS);
    return NULL;
  }
  Program *p = arena_alloc(a, sizeof *p);
  p->file = d->file;
  p->models = arena_alloc(a, (size_t)ast->models.n * sizeof *p->models);
  int before = d->errors;
  for (int i = 0; i < ast->models.n && !diag_full(d); i++) {
    const ModelNode *mn = ast->models.item[i];
    check_model_name(&c, mn, p->models, p->n);
    check_model(&c, mn, &p->models[p->n++]);
  }
  return d->errors == before ? p : NULL;
}
