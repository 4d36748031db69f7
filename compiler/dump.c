/* dump.c — the state between the stages as text, for `ganc --dump=ast|ir|plan`:
 * what the parser built, what lowering made of each stack, and the memory
 * plan the emitter prints. One line per node, indented by depth. */
#include <stdio.h>

#include "compiler.h"

static void dump_value(Str *s, const Value *v)
{
  if (v->kind == VAL_NUMBER) {
    str_puts(s, v->text);
    return;
  }
  str_putc(s, '[');
  for (int i = 0; i < v->items.n; i++) {
    if (i)
      str_puts(s, ", ");
    dump_value(s, v->items.item[i]);
  }
  str_putc(s, ']');
}

void dump_ast(Str *s, const Ast *ast)
{
  for (int i = 0; i < ast->models.n; i++) {
    const ModelNode *m = ast->models.item[i];
    str_printf(s, "model %s  @%d:%d\n", m->name, m->loc.line, m->loc.col);
    for (int j = 0; j < m->decls.n; j++) {
      const DeclNode *d = m->decls.item[j];
      str_printf(s, "  %s", d->name);
      if (d->kind == DECL_SHAPE) {
        str_putc(s, ' ');
        dump_value(s, d->shape);
      } else if (d->kind == DECL_WORD)
        str_printf(s, " %s", d->word);
      str_printf(s, "  @%d:%d\n", d->loc.line, d->loc.col);
      for (int k = 0; d->kind == DECL_BLOCK && k < d->layers.n; k++) {
        const LayerNode *l = d->layers.item[k];
        str_printf(s, "    %s", l->name);
        if (l->has_parens)
          str_putc(s, '(');
        for (int a = 0; a < l->args.n; a++) {
          const Arg *arg = l->args.item[a];
          str_printf(s, "%s%s%s", a ? ", " : "", arg->key ? arg->key : "", arg->key ? " = " : "");
          dump_value(s, arg->value);
        }
        if (l->has_parens)
          str_putc(s, ')');
        str_printf(s, "  @%d:%d\n", l->loc.line, l->loc.col);
      }
    }
  }
}

static const char *buf_names[] = {[BUF_IN] = "in", [BUF_OUT] = "out", [BUF_A] = "a", [BUF_B] = "b"};
static const char *grad_names[] = {[GRAD_OUT] = "dout", [GRAD_A] = "ga", [GRAD_B] = "gb", [GRAD_IN] = "din"};

static void dump_graph(Str *s, const Graph *g)
{
  char a[160], b[160];
  str_printf(s, "  %s %s -> %s: %d ops, %d values; per sample: scratch %lld, acts %lld, grad %lld\n", g->stack->name,
             shape_str(&g->stack->in, a, sizeof a), shape_str(&g->stack->out, b, sizeof b), g->nops, g->nvalues,
             (long long)g->scratch, (long long)g->acts, (long long)g->grad_scratch);
  for (int i = 0; i < g->nops; i++) {
    const Op *op = &g->ops[i];
    const Layer *l = op->layer;
    str_printf(s, "    %d %-24s v%d -> v%d [%lld]", l->index, l->text, op->in, op->out, (long long)g->size[op->out]);
    if (op->view)
      str_puts(s, "  view");
    else
      str_printf(s, "  %s -> %s, back %s -> %s", buf_names[op->in_buf], buf_names[op->out_buf],
                 grad_names[op->dy_buf], grad_names[op->dx_buf]);
    if (layer_class(l)->grouped)
      str_printf(s, ", group %d (training %d)", op->group, op->train_group);
    for (int k = 0; k < l->ntensors; k++)
      str_printf(s, "  %s %s @%lld", l->tensor[k].suffix, shape_str(&l->tensor[k].shape, a, sizeof a),
                 (long long)l->tensor[k].off);
    str_putc(s, '\n');
  }
}

void dump_ir(Str *s, const Ir *ir)
{
  for (int i = 0; i < ir->n; i++) {
    const IrModel *m = &ir->models[i];
    str_printf(s, "model %s: loss %s, scalar %s, %lld parameters\n", m->model->name, m->model->loss->name,
               m->model->scalar == SCALAR_DOUBLE ? "double" : "float", (long long)m->model->param_count);
    dump_graph(s, &m->gen);
    dump_graph(s, &m->disc);
  }
}

void dump_plan(Str *s, const Ir *ir)
{
  for (int i = 0; i < ir->n; i++) {
    const IrModel *m = &ir->models[i];
    int size = m->model->scalar == SCALAR_DOUBLE ? 8 : 4;
    str_printf(s, "model %s: TILE %d, TRAIN_TILE %d", m->model->name, m->tile, m->train_tile);
    if (!m->batch)
      str_printf(s, ", CHUNK %d", m->chunk);
    str_printf(s, ", deepest call chain %lld bytes of %d\n", (long long)m->stack_bytes, STACK_BUDGET);
    for (int f = 0; f < NFUNCS; f++) {
      const Frame *fr = &m->frame[f];
      if (!func_emitted(m, (Func)f))
        continue;
      str_printf(s, "  %s_%s: frame %lld bytes, deepest %lld", m->model->name, func_suffix((Func)f),
                 (long long)fr->scalars * size, (long long)fr->deepest * size);
      for (int c = 0; c < fr->ncalls; c++)
        str_printf(s, "%s%s", c ? ", " : "; calls ", func_suffix(fr->calls[c]));
      if (fr->kernels)
        str_printf(s, "%skernels", fr->ncalls ? ", " : "; calls ");
      str_putc(s, '\n');
      for (int b = 0; b < fr->nbuf; b++) {
        const Buffer *bf = &fr->buf[b];
        int64_t times = frame_times(m, bf->per, m->tile, m->chunk);
        static const char *const per[] = {[PER_PACK] = "PACK", [PER_TILE] = "TILE", [PER_G_TILE] = "G_TILE",
                                          [PER_BATCH] = "n", [PER_G_BATCH] = "n x PACK", [PER_CHUNK] = "CHUNK"};
        str_printf(s, "    %-6s %lld scalars", bf->name, (long long)(bf->count * times));
        if (bf->per != PER_NONE)
          str_printf(s, " (%s x %lld)", per[bf->per], (long long)bf->count);
        str_printf(s, "%s%s\n", bf->what ? ": " : "", bf->what ? bf->what : "");
      }
    }
    if (m->batch)
      str_printf(s, "  training workspace (whole batches; the smallest n is %d):\n", m->min_batch);
    else
      str_printf(s, "  training workspace (n packs: the whole batch in the _ws functions, CHUNK on the stack):\n");
    for (int b = 0; b < m->nws; b++) {
      const Buffer *bf = &m->ws[b];
      int64_t count = bf->obs ? shape_count(&m->model->observation) : bf->count;
      if (bf->per == PER_NONE)
        str_printf(s, "    %-8s %lld scalars", bf->name, (long long)count);
      else if (bf->per == PER_TRAIN_TILE)
        str_printf(s, "    %-8s TRAIN_TILE x %lld scalars", bf->name, (long long)count);
      else
        str_printf(s, "    %-8s %s x %lld scalars", bf->name, bf->per == PER_G_BATCH && m->model->pack > 1 ? "n x PACK" : "n", (long long)count);
      str_printf(s, "%s%s\n", bf->what ? ": " : "", bf->what ? bf->what : "");
    }
  }
}
