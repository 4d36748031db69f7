/* lower.c — turn each checked stack into an op list over sized values and
 * plan the memory of every function the emitter writes.
 *
 * A value is the output of one layer; reshape and flatten are views that
 * keep their input's value. The forward code needs at most two scratch
 * arrays: elementwise layers run in place, everything else alternates
 * between A and B, and the stack's last layer writes the caller's output.
 * The training forward instead keeps every value in one activations array
 * for the backward pass, whose gradients alternate between two arrays the
 * same way, both in a workspace laid out here. Every function works on
 * tiles of samples, and lowering decides every buffer of every function
 * (the Frame of each Func) for the largest tiles whose deepest call chains
 * fit the stack budget; the emitter prints that plan and computes no size
 * of its own. */
#include <string.h>

#include "compiler.h"

static int64_t max2(int64_t a, int64_t b)
{
  return a > b ? a : b;
}

static void lower_stack(Arena *a, const Stack *st, Graph *g)
{
  g->stack = st;
  g->ops = arena_alloc(a, (size_t)(st->n ? st->n : 1) * sizeof *g->ops);
  g->size = arena_alloc(a, (size_t)(st->n + 1) * sizeof *g->size);
  g->size[0] = shape_count(&st->in);
  g->nvalues = 1;

  int cur = 0;
  for (int i = 0; i < st->n; i++) {
    Op *op = &g->ops[g->nops++];
    op->layer = &st->layers[i];
    op->view = layer_class(op->layer)->forward.kernel == NULL;
    op->in = cur;
    if (!op->view) {
      cur = g->nvalues++;
      g->size[cur] = shape_count(&st->layers[i].out);
    }
    op->out = cur;
  }

  /* Forward storage: the final value is the caller's output. */
  int last = g->nvalues - 1;
  Buf where = BUF_IN;
  for (int i = 0; i < g->nops; i++) {
    Op *op = &g->ops[i];
    int elementwise = layer_class(op->layer)->elementwise;
    op->in_buf = where;
    if (op->view)
      op->out_buf = where;
    else if (op->out == last)
      op->out_buf = BUF_OUT;
    else if (elementwise && where != BUF_IN)
      op->out_buf = where;
    else
      op->out_buf = where == BUF_A ? BUF_B : BUF_A;
    if ((op->out_buf == BUF_A || op->out_buf == BUF_B) && g->size[op->out] > g->scratch)
      g->scratch = g->size[op->out];
    where = op->out_buf;
  }

  /* Backward storage: from the caller's dout to din, the input's gradient. */
  GradBuf grad = GRAD_OUT;
  for (int i = g->nops - 1; i >= 0; i--) {
    Op *op = &g->ops[i];
    if (op->view)
      continue;
    GradBuf next;
    if (op->in == 0)
      next = GRAD_IN;
    else if (layer_class(op->layer)->elementwise && grad != GRAD_OUT)
      next = grad; /* in place */
    else
      next = grad == GRAD_A ? GRAD_B : GRAD_A;
    op->dy_buf = grad;
    op->dx_buf = next;
    grad = next;
  }

  /* Training keeps every value; gradients flow through two arrays. */
  g->act_off = arena_alloc(a, (size_t)g->nvalues * sizeof *g->act_off);
  for (int v = 1; v < g->nvalues; v++) {
    g->act_off[v] = g->acts;
    g->acts += g->size[v];
  }
  for (int v = 0; v < g->nvalues; v++)
    g->grad_scratch = max2(g->grad_scratch, g->size[v]);

  /* A batch layer's moments: a mean and an inverse deviation per channel. */
  for (int i = 0; i < g->nops; i++)
    if (layer_class(g->ops[i].layer)->batch) {
      g->ops[i].moments_off = g->moments;
      g->moments += 2 * g->ops[i].layer->stat[0].count;
    }
}

/* The smallest n (packs) on which every batch layer of g sees two values
   per channel, when a pass over n packs takes `per` samples of each. */
static int min_packs(const Graph *g, int per)
{
  int64_t most = 1;
  for (int i = 0; i < g->nops; i++) {
    const Layer *l = g->ops[i].layer;
    if (layer_class(l)->batch) {
      int64_t values = l->batch_positions * per; /* per pack */
      most = max2(most, (2 + values - 1) / values);
    }
  }
  return (int)most;
}

const char *func_suffix(Func f)
{
  static const char *const internal[FN_PUBLIC] = {
      [FN_G] = "G", [FN_D] = "D", [FN_G_TRAIN] = "G_train",
      [FN_D_TRAIN] = "D_train", [FN_G_BACK] = "G_back", [FN_D_BACK] = "D_back",
      [FN_G_BOUNDS] = "G_bounds", [FN_D_BOUNDS] = "D_bounds",
  };
  return f < FN_PUBLIC ? internal[f] : ganc_fn_suffix((ganc_fn)(f - FN_PUBLIC));
}

/* ---- CROWN's chains ---- */

int func_emitted(const IrModel *m, Func f)
{
  return !(f == FN_G_BOUNDS && m->crown_g) && !(f == FN_D_BOUNDS && m->crown_d);
}

int crown_chain(const Graph *g)
{
  for (int i = 0; i < g->nops; i++) {
    const Layer *l = g->ops[i].layer;
    if (!layer_class(l)->crown || (l->kind == LY_LABEL && l->in.rank != 1)) /* a label on a vector only */
      return 0;
  }
  return 1;
}

static int linear_layers(const Graph *g)
{
  int n = 0;
  for (int i = 0; i < g->nops; i++)
    n += g->ops[i].layer->kind == LY_LINEAR;
  return n;
}

/* bound_crown's work (kernels.inc: crown_box, crown_allowance): each
   layer's input box, the output's, a linear layer's two allowances per
   output, an activation's one per element (views and labels round
   nothing). */
int64_t crown_work(const Graph *g, const Graph *h)
{
  int64_t n = 0, last = 0;
  const Graph *both[2] = {g, h};
  for (int k = 0; k < 2 && both[k]; k++)
    for (int i = 0; i < both[k]->nops; i++) {
      const Op *op = &both[k]->ops[i];
      int64_t in = both[k]->size[op->in], out = both[k]->size[op->out];
      n += 2 * in;
      if (op->layer->kind == LY_LINEAR)
        n += 2 * out;
      else if (!op->view && op->layer->kind != LY_LABEL)
        n += in;
      last = out;
    }
  return n + 2 * last;
}

/* Does a chain of g (then h) fit CROWN's limits (CROWN_MAX_WIDTH)? */
static int crown_fits(const IrModel *m, const Graph *g, const Graph *h)
{
  const Graph *both[2] = {g, h};
  for (int k = 0; k < 2 && both[k]; k++)
    for (int v = 0; v < both[k]->nvalues; v++)
      if (both[k]->size[v] > CROWN_MAX_WIDTH)
        return 0;
  int64_t bytes = m->model->scalar == SCALAR_DOUBLE ? 8 : 4;
  return (crown_work(g, h) + KERNEL_STACK_SCALARS) * bytes <= STACK_BUDGET / 2;
}

/* Which bounds functions CROWN tightens. */
static void choose_crown(IrModel *m)
{
  int g = crown_chain(&m->gen) && m->gen.nops > 0, d = crown_chain(&m->disc) && m->disc.nops > 0;
  m->crown_g = g && linear_layers(&m->gen) >= 2 && crown_fits(m, &m->gen, NULL);
  m->crown_d = d && linear_layers(&m->disc) >= 2 && crown_fits(m, &m->disc, NULL);
  m->crown_gd = g && d && m->model->pack == 1 && linear_layers(&m->gen) + linear_layers(&m->disc) >= 2 &&
                crown_fits(m, &m->gen, &m->disc);
}

/* ---- the memory plan ---- */

static void add_buffer(Frame *fr, const char *name, int64_t count, Per per, const char *what)
{
  fr->buf[fr->nbuf++] = (Buffer){name, count, per, 0, what};
}

/* An array of the observation's elements, per sample or one. */
static void add_obs(Frame *fr, const char *name, Per per, int64_t obs)
{
  fr->buf[fr->nbuf++] = (Buffer){name, obs, per, 1, NULL};
}

static void add_calls(Frame *fr, int n, const Func *calls)
{
  for (int i = 0; i < n; i++)
    fr->calls[fr->ncalls++] = calls[i];
}

static int uses_buf(const Graph *g, Buf b)
{
  for (int i = 0; i < g->nops; i++)
    if (g->ops[i].out_buf == b)
      return 1;
  return 0;
}

int uses_grad(const Graph *g, GradBuf b)
{
  for (int i = 0; i < g->nops; i++)
    if (!g->ops[i].view && (g->ops[i].dy_buf == b || g->ops[i].dx_buf == b))
      return 1;
  return 0;
}

/* The kernels' scratch of one pass over g for tiles of t, sized by its
   hungriest layer; grouped layers learn their group (in the training
   passes if train). */
static void add_scratch(Frame *fr, Graph *g, int64_t t, int backward, int train)
{
  int64_t most = 0;
  const char *what = NULL;
  for (int i = 0; i < g->nops; i++) {
    Op *op = &g->ops[i];
    const LayerClass *lc = layer_class(op->layer);
    if (!lc->scratch)
      continue;
    int64_t n = lc->scratch(op->layer, t, backward, train ? &op->train_group : &op->group);
    if (n > most) {
      most = n;
      what = lc->scratch_what;
    }
  }
  if (most)
    add_buffer(fr, "cs", most, 0, what);
}

/* The frames of one stack's passes: the inference pass for tiles of t of
   its inputs, the training passes for tiles of tt (their values and
   gradients live in the workspace). */
static void plan_stack(IrModel *m, Graph *g, int gen, int64_t t, int64_t tt)
{
  Frame *fwd = &m->frame[gen ? FN_G : FN_D], *train = &m->frame[gen ? FN_G_TRAIN : FN_D_TRAIN];
  Frame *back = &m->frame[gen ? FN_G_BACK : FN_D_BACK];
  Per per = gen ? PER_G_TILE : PER_TILE;
  if (uses_buf(g, BUF_A))
    add_buffer(fwd, "a", g->scratch, per, NULL);
  if (uses_buf(g, BUF_B))
    add_buffer(fwd, "b", g->scratch, per, NULL);
  add_scratch(fwd, g, t, 0, 0);
  add_scratch(train, g, tt, 0, 1);
  add_scratch(back, g, tt, 1, 1);
  fwd->kernels = train->kernels = back->kernels = 1;

  /* The bounds pass: a box in place of each value, one sample's (one
     pack's for D); its kernels keep nothing on the stack. */
  Frame *bounds = &m->frame[gen ? FN_G_BOUNDS : FN_D_BOUNDS];
  static const char *const box[2][2] = {{"a_lo", "a_hi"}, {"b_lo", "b_hi"}};
  for (int k = 0; k < 2 && func_emitted(m, gen ? FN_G_BOUNDS : FN_D_BOUNDS); k++)
    if (uses_buf(g, k ? BUF_B : BUF_A)) {
      add_buffer(bounds, box[k][0], g->scratch, PER_NONE, k ? NULL : "a value's bounds, below and above (with b)");
      add_buffer(bounds, box[k][1], g->scratch, PER_NONE, NULL);
    }
}

/* The workspace of the training functions for training tiles of tt, one
   layout for both: G's values for its n * PACK samples, D's for n packs,
   the gradient of D's input, the scores and their gradients, the two
   gradient arrays both backward passes share (a tile's, or a model with
   batch layers' whole batch's), and such a model's batch moments (G's,
   then D's). */
static void plan_workspace(IrModel *m, int64_t tt)
{
  int64_t obs = shape_count(&m->model->observation);
  int64_t gacts = m->gen.acts ? m->gen.acts : 1, dacts = m->disc.acts ? m->disc.acts : 1;
  Buffer *w = m->ws;
  int64_t grads = max2(m->disc.grad_scratch, m->gen.grad_scratch * m->model->pack);
  int n = 0;
  w[n++] = (Buffer){"gacts", gacts, PER_G_BATCH, 0, "G's values, for its backward pass"};
  w[n++] = (Buffer){"dacts", dacts, PER_BATCH, 0, "D's values, for its backward pass"};
  w[n++] = (Buffer){"dx", obs, PER_G_BATCH, 1, "the gradient of D's input"};
  w[n++] = (Buffer){"s", 1, PER_BATCH, 0, "scores"};
  w[n++] = (Buffer){"ds", 1, PER_BATCH, 0, "their gradients"};
  Per per = m->batch ? PER_BATCH : PER_TRAIN_TILE;
  w[n++] = (Buffer){"ga", grads, per, 0, "gradients, layer by layer (with gb)"};
  w[n++] = (Buffer){"gb", grads, per, 0, NULL};
  if (m->batch) {
    w[n++] = (Buffer){"gmoments", m->gen.moments ? m->gen.moments : 1, PER_NONE, 0, "G's batch moments"};
    w[n++] = (Buffer){"dmoments", m->disc.moments ? m->disc.moments : 1, PER_NONE, 0, "D's batch moments"};
  }
  m->nws = n;
  m->ws_per_n = m->ws_once = m->ws_per_tile = 0;
  for (int i = 0; i < n; i++)
    if (w[i].per == PER_NONE)
      m->ws_once += w[i].count;
    else if (w[i].per == PER_TRAIN_TILE)
      m->ws_per_tile += w[i].count;
    else
      m->ws_per_n += ws_count(m, &w[i]);
  m->ws_once += m->ws_per_tile * tt;
}

int64_t ws_count(const IrModel *m, const Buffer *b)
{
  int64_t count = b->obs ? shape_count(&m->model->observation) : b->count;
  return b->per == PER_G_BATCH ? count * m->model->pack : count;
}

/* The public training functions. The _ws ones keep nothing on their stacks
   (the workspace holds the batch); a model with batch layers' _backward
   functions call them with the heap's, any other's keep a workspace of
   CHUNK packs on the stack. */
static void plan_training(IrModel *m, Frame *f)
{
  static const ganc_fn backward[2] = {GANC_FN_DISCRIMINATOR_LOSS_BACKWARD, GANC_FN_GENERATOR_LOSS_BACKWARD};
  static const ganc_fn ws[2] = {GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS, GANC_FN_GENERATOR_LOSS_BACKWARD_WS};
  static const Func passes[2][4] = {{FN_G_TRAIN, FN_D_TRAIN, FN_D_BACK}, {FN_G_TRAIN, FN_D_TRAIN, FN_D_BACK, FN_G_BACK}};
  for (int k = 0; k < 2; k++) {
    add_calls(&f[ws[k]], 3 + k, passes[k]);
    if (m->batch) {
      add_calls(&f[backward[k]], 1, (Func[]){FN_PUBLIC + ws[k]});
    } else {
      add_buffer(&f[backward[k]], "workspace", m->ws_per_n + m->ws_per_tile, PER_CHUNK,
                 "the training workspace of CHUNK packs");
      add_calls(&f[backward[k]], 3 + k, passes[k]);
    }
  }
}

/* The public bounds functions: CROWN's chains where they apply (its work
   array on the stack), the interval passes elsewhere. */
static void plan_bounds(IrModel *m, Frame *f, int64_t obs)
{
  static const char *const what = "CROWN's boxes and allowances, layer by layer";
  Frame *gen = &f[GANC_FN_GENERATE_BOUNDS], *score = &f[GANC_FN_SCORE_BOUNDS], *fake = &f[GANC_FN_FAKE_SCORE_BOUNDS];
  if (m->crown_g) {
    add_buffer(gen, "crown", crown_work(&m->gen, NULL), PER_NONE, what);
    gen->kernels = 1;
  } else {
    add_calls(gen, 1, (Func[]){FN_G_BOUNDS});
  }
  if (m->crown_d) {
    add_buffer(score, "crown", crown_work(&m->disc, NULL), PER_NONE, what);
    score->kernels = 1;
  } else {
    add_calls(score, 1, (Func[]){FN_D_BOUNDS});
  }
  if (m->crown_gd) {
    add_buffer(fake, "crown", crown_work(&m->gen, &m->disc), PER_NONE, what);
    fake->kernels = 1;
    return;
  }
  add_obs(fake, "x_lo", PER_PACK, obs);
  add_obs(fake, "x_hi", PER_PACK, obs);
  if (m->crown_g || m->crown_d) {
    int64_t g = m->crown_g ? crown_work(&m->gen, NULL) : 0, d = m->crown_d ? crown_work(&m->disc, NULL) : 0;
    add_buffer(fake, "crown", max2(g, d), PER_NONE, what);
    fake->kernels = 1;
  }
  if (!m->crown_g)
    add_calls(fake, 1, (Func[]){FN_G_BOUNDS});
  if (!m->crown_d)
    add_calls(fake, 1, (Func[]){FN_D_BOUNDS});
}

int64_t frame_times(const IrModel *m, Per per, int64_t t, int64_t c)
{
  switch (per) {
  case PER_PACK: return m->model->pack;
  case PER_TILE: return t;
  case PER_G_TILE: return t * m->model->pack;
  case PER_CHUNK: return c;
  default: return 1;
  }
}

/* Every frame for inference tiles of t packs (t * pack samples of G),
   training tiles of tt and chunks of c. */
static void plan(IrModel *m, int64_t t, int64_t tt, int64_t c)
{
  int64_t pack = m->model->pack;
  memset(m->frame, 0, sizeof m->frame);
  plan_workspace(m, tt);
  plan_stack(m, &m->gen, 1, t * pack, tt * pack);
  plan_stack(m, &m->disc, 0, t, tt);
  int64_t obs = shape_count(&m->model->observation);
  Frame *f = m->frame + FN_PUBLIC;

  add_calls(&f[GANC_FN_GENERATE], 1, (Func[]){FN_G});
  add_obs(&f[GANC_FN_FAKE_SCORE], "x", PER_PACK, obs);
  add_buffer(&f[GANC_FN_FAKE_SCORE], "score", 1, PER_NONE, NULL);
  add_calls(&f[GANC_FN_FAKE_SCORE], 2, (Func[]){FN_G, FN_D});
  add_buffer(&f[GANC_FN_REAL_SCORE], "score", 1, PER_NONE, NULL);
  add_calls(&f[GANC_FN_REAL_SCORE], 1, (Func[]){FN_D});
  add_calls(&f[GANC_FN_DISCRIMINATOR_LOSS], 2,
            (Func[]){FN_PUBLIC + GANC_FN_REAL_SCORE, FN_PUBLIC + GANC_FN_FAKE_SCORE});
  add_calls(&f[GANC_FN_GENERATOR_LOSS], 1, (Func[]){FN_PUBLIC + GANC_FN_FAKE_SCORE});

  add_calls(&f[GANC_FN_GENERATE_BATCH], 1, (Func[]){FN_G});
  add_calls(&f[GANC_FN_REAL_SCORE_BATCH], 1, (Func[]){FN_D});
  add_obs(&f[GANC_FN_FAKE_SCORE_BATCH], "x", PER_G_TILE, obs);
  add_calls(&f[GANC_FN_FAKE_SCORE_BATCH], 2, (Func[]){FN_G, FN_D});
  for (int k = 0; k < 2; k++) {
    Frame *fr = &f[k ? GANC_FN_GENERATOR_LOSS_BATCH : GANC_FN_DISCRIMINATOR_LOSS_BATCH];
    add_obs(fr, "x", PER_G_TILE, obs);
    add_buffer(fr, "s", 1, PER_TILE, NULL);
    add_calls(fr, 2, (Func[]){FN_G, FN_D});
  }
  plan_training(m, f);

  plan_bounds(m, f, obs);

  for (int i = 0; i < NFUNCS; i++) {
    Frame *fr = &m->frame[i];
    for (int b = 0; b < fr->nbuf; b++)
      fr->scalars += fr->buf[b].count * frame_times(m, fr->buf[b].per, t, c);
  }
}

/* Scalars on the stack of the deepest call chain from f: its frame, then
   its deepest callee or the kernels' own buffer for a panel of a product
   (gemm's pack). Calls go only to functions listed before (FN_ order, or
   the public ones it builds on), so the recursion ends. */
static int64_t deepest(IrModel *m, Func f)
{
  Frame *fr = &m->frame[f];
  int64_t below = fr->kernels ? KERNEL_STACK_SCALARS : 0;
  for (int i = 0; i < fr->ncalls; i++)
    below = max2(below, deepest(m, fr->calls[i]));
  return fr->deepest = fr->scalars + below;
}

/* The public functions each size governs: the inference ones TILE, the
   _ws ones TRAIN_TILE, the _backward ones CHUNK. */
typedef enum { SIZE_TILE, SIZE_TRAIN_TILE, SIZE_CHUNK } Size;

static Size governed_by(ganc_fn fn)
{
  if (fn == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD_WS || fn == GANC_FN_GENERATOR_LOSS_BACKWARD_WS)
    return SIZE_TRAIN_TILE;
  if (fn == GANC_FN_DISCRIMINATOR_LOSS_BACKWARD || fn == GANC_FN_GENERATOR_LOSS_BACKWARD)
    return SIZE_CHUNK;
  return SIZE_TILE;
}

/* Bytes of stack of the deepest chain from the public functions of size
   k, or from every one for k < 0, under the plan for sizes[]. */
static int64_t stack_bytes(IrModel *m, const int64_t *sizes, int k)
{
  plan(m, sizes[SIZE_TILE], sizes[SIZE_TRAIN_TILE], sizes[SIZE_CHUNK]);
  int64_t most = 0;
  for (int f = 0; f < GANC_NFNS; f++)
    if (k < 0 || governed_by((ganc_fn)f) == (Size)k)
      most = max2(most, deepest(m, FN_PUBLIC + f));
  return most * (m->model->scalar == SCALAR_DOUBLE ? 8 : 4);
}

/* The largest power of two up to most for sizes[k] whose functions fit
   the stack budget, or 0; the bytes of the last one tried in *bytes. */
static int64_t largest_fit(IrModel *m, int64_t *sizes, int k, int64_t most, int64_t *bytes)
{
  for (sizes[k] = most; sizes[k] >= 1; sizes[k] /= 2)
    if ((*bytes = stack_bytes(m, sizes, k)) <= STACK_BUDGET)
      return sizes[k];
  return 0;
}

/* TILE, then TRAIN_TILE (the tiles of the training passes, whose values
   are in the workspace) and CHUNK (at most TRAIN_TILE: a chunk is trained
   on in tiles of it), each the largest power of two up to MAX_TILE whose
   functions fit the stack budget; TRAIN_TILE is the largest that leaves
   room for a chunk of one on the stack beside the training passes'
   scratch, unless the model takes the heap's workspace. */
static int choose_tile(Diag *d, IrModel *m)
{
  int64_t sizes[3] = {1, 1, 1}, bytes = 0;
  int ok = largest_fit(m, sizes, SIZE_TILE, MAX_TILE, &bytes) > 0;
  int64_t most = MAX_TILE;
  while (ok) {
    int64_t tt = largest_fit(m, sizes, SIZE_TRAIN_TILE, most, &bytes);
    if (!tt || m->batch || largest_fit(m, sizes, SIZE_CHUNK, tt, &bytes)) {
      ok = tt > 0;
      break;
    }
    sizes[SIZE_CHUNK] = 1;
    ok = tt > 1; /* no chunk fits beside these tiles: try smaller ones */
    most = tt / 2;
  }
  if (!ok) {
    diag_error(d, m->model->loc, "model '%s' needs %lld bytes of stack for one sample; ganc's emitted code keeps "
               "at most %d", m->model->name, (long long)bytes, STACK_BUDGET);
    return 0;
  }
  m->tile = (int)sizes[SIZE_TILE];
  m->train_tile = (int)sizes[SIZE_TRAIN_TILE];
  m->chunk = (int)sizes[SIZE_CHUNK];
  m->stack_bytes = stack_bytes(m, sizes, -1);
  return 1;
}

Ir *lower_program(Arena *a, Diag *d, const Program *prog)
{
  Ir *ir = arena_alloc(a, sizeof *ir);
  ir->prog = prog;
  ir->n = prog->n;
  ir->models = arena_alloc(a, (size_t)(prog->n ? prog->n : 1) * sizeof *ir->models);
  for (int i = 0; i < prog->n; i++) {
    IrModel *m = &ir->models[i];
    m->model = &prog->models[i];
    lower_stack(a, &m->model->gen, &m->gen);
    lower_stack(a, &m->model->disc, &m->disc);
    m->batch = m->gen.moments + m->disc.moments > 0;
    m->min_batch = (int)max2(min_packs(&m->gen, m->model->pack), min_packs(&m->disc, 1));
    choose_crown(m);
  }
  int ok = 1;
  for (int i = 0; i < ir->n; i++)
    ok &= choose_tile(d, &ir->models[i]);
  return ok ? ir : NULL;
}
