/* lower.c — turn each checked stack into an op list over sized values and
 * decide where each value lives in the forward function.
 *
 * A value is the output of one layer; reshape and flatten are views that
 * keep their input's value. The forward code needs at most two scratch
 * arrays: elementwise layers run in place, everything else alternates
 * between A and B, and the stack's last layer writes the caller's output.
 * The training forward instead keeps every value in one activations array
 * for the backward pass. Every function works on tiles of samples, as many
 * as the stack budget allows. */
#include "compiler.h"

int op_is_elementwise(OpKind k)
{
  return k == OP_RELU || k == OP_LEAKY_RELU || k == OP_TANH || k == OP_SIGMOID;
}

static OpKind op_kind(LayerKind k)
{
  switch (k) {
  case LY_LINEAR: return OP_LINEAR;
  case LY_RELU: return OP_RELU;
  case LY_LEAKY_RELU: return OP_LEAKY_RELU;
  case LY_TANH: return OP_TANH;
  case LY_SIGMOID: return OP_SIGMOID;
  case LY_RESHAPE:
  case LY_FLATTEN: return OP_VIEW;
  case LY_CONV2D: return OP_CONV2D;
  case LY_CONV_TRANSPOSE2D: return OP_CONV_TRANSPOSE2D;
  }
  return OP_VIEW;
}

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
    op->kind = op_kind(st->layers[i].kind);
    op->layer = &st->layers[i];
    op->in = cur;
    if (op->kind != OP_VIEW) {
      cur = g->nvalues++;
      g->size[cur] = shape_count(&st->layers[i].out);
    }
    op->out = cur;
  }

  /* Storage: the final value is the caller's output. */
  int last = g->nvalues - 1;
  Buf where = BUF_IN;
  for (int i = 0; i < g->nops; i++) {
    Op *op = &g->ops[i];
    op->in_buf = where;
    if (op->kind == OP_VIEW)
      op->out_buf = where;
    else if (op->out == last)
      op->out_buf = BUF_OUT;
    else if (op_is_elementwise(op->kind) && where != BUF_IN)
      op->out_buf = where;
    else
      op->out_buf = where == BUF_A ? BUF_B : BUF_A;
    if ((op->out_buf == BUF_A || op->out_buf == BUF_B) && g->size[op->out] > g->scratch)
      g->scratch = g->size[op->out];
    where = op->out_buf;
  }

  /* Training keeps every value; gradients flow through two arrays. */
  g->act_off = arena_alloc(a, (size_t)g->nvalues * sizeof *g->act_off);
  for (int v = 1; v < g->nvalues; v++) {
    g->act_off[v] = g->acts;
    g->acts += g->size[v];
  }
  for (int v = 0; v < g->nvalues; v++)
    if (g->size[v] > g->grad_scratch)
      g->grad_scratch = g->size[v];

  /* Dense layers take their tile transposed in the kernels' scratch. */
  for (int i = 0; i < g->nops; i++) {
    const Layer *l = g->ops[i].layer;
    if (l->kind == LY_LINEAR && l->in.dim[0] > g->dense_in)
      g->dense_in = l->in.dim[0];
  }
}

/* A convolution's scratch per sample: a window per position of its small
   grid (the output of conv2d, the input of conv_transpose2d), and the
   samples' small-channel side gathered channel by channel. */
static int64_t conv_per_sample(const Layer *l)
{
  int64_t k2 = l->kernel * l->kernel;
  if (l->kind == LY_CONV2D)
    return l->out.dim[1] * l->out.dim[2] * (l->in.dim[0] * k2 + l->out.dim[0]);
  if (l->kind == LY_CONV_TRANSPOSE2D)
    return l->in.dim[1] * l->in.dim[2] * (l->out.dim[0] * k2 + l->in.dim[0]);
  return 0;
}

int conv_group(const Layer *l, int64_t t)
{
  int64_t per = conv_per_sample(l), g = per ? CONV_GROUP_SCALARS / per : 0;
  return (int)(g < 1 ? 1 : g > t ? t : g);
}

int64_t conv_scratch(const Graph *g, int64_t t)
{
  int64_t most = 0;
  for (int i = 0; i < g->nops; i++)
    most = max2(most, conv_group(g->ops[i].layer, t) * conv_per_sample(g->ops[i].layer));
  return most;
}

/* Scalars of a stack's forward kernel scratch for tiles of t samples: dense
   takes the tile transposed, rounded up to 16 samples, from 8 samples on
   (kernels.inc: DENSE_GEMM_MIN and dense). */
int64_t kernel_scratch(const Graph *g, int64_t t)
{
  return max2(conv_scratch(g, t), t >= 8 ? (t + 15) / 16 * 16 * g->dense_in : 0);
}

/* Scalars on the stack of the deepest call chain of emitted code for tiles
   of t samples: the arrays emit.c declares, and the kernels' own buffer for
   a panel of a product (gemm's pack, at most GEMM_KC x 64 scalars). */
static int64_t stack_scalars(const IrModel *m, int64_t t)
{
  const Graph *g = &m->gen, *d = &m->disc;
  int64_t obs = shape_count(&m->model->observation);
  int64_t gcs = kernel_scratch(g, t), dcs = kernel_scratch(d, t);
  int64_t g_fwd = 2 * t * g->scratch + gcs, d_fwd = 2 * t * d->scratch + dcs;
  int64_t g_back = 2 * t * g->grad_scratch + conv_scratch(g, t), d_back = 2 * t * d->grad_scratch + conv_scratch(d, t);
  int64_t forward = t * (obs + 1) + max2(g_fwd, d_fwd);
  int64_t disc_back = t * (d->acts + obs + 2) + max2(g_fwd, d_back);
  int64_t gen_back = t * (g->acts + d->acts + obs + 2) + max2(g_back, d_back);
  return max2(forward, max2(disc_back, gen_back)) + KERNEL_STACK_SCALARS;
}

static int choose_tile(Diag *d, IrModel *m)
{
  int64_t size = m->model->scalar == SCALAR_DOUBLE ? 8 : 4;
  for (int t = MAX_TILE; t >= 1; t /= 2) {
    m->stack_bytes = stack_scalars(m, t) * size;
    if (m->stack_bytes <= STACK_BUDGET) {
      m->tile = t;
      return 1;
    }
  }
  diag_error(d, m->model->loc, "model '%s' needs %lld bytes of stack for one sample; ganc's emitted code keeps "
             "at most %d", m->model->name, (long long)m->stack_bytes, STACK_BUDGET);
  return 0;
}

Ir *lower_program(Arena *a, Diag *d, const Program *prog)
{
  Ir *ir = arena_alloc(a, sizeof *ir);
  ir->prog = prog;
  ir->n = prog->n;
  ir->models = arena_alloc(a, (size_t)(prog->n ? prog->n : 1) * sizeof *ir->models);
  for (int i = 0; i < prog->n; i++) {
    ir->models[i].model = &prog->models[i];
    lower_stack(a, &prog->models[i].gen, &ir->models[i].gen);
    lower_stack(a, &prog->models[i].disc, &ir->models[i].disc);
  }
  int ok = 1;
  for (int i = 0; i < ir->n; i++)
    ok &= choose_tile(d, &ir->models[i]);
  return ok ? ir : NULL;
}
