/* layers.c — the layer table: everything ganc knows about each layer kind.
 *
 * A row names the layer and its arguments (with defaults), points at its
 * shape rule (output shape, tensors and their initialization, the kernels'
 * trailing arguments, FLOPs) and its scratch rule, and spells out its kernel
 * calls forward and backward as templates (compiler.h: KernelCall). The
 * checker, lowering, the emitter and the JIT's metadata all read this table;
 * a new layer kind is a row here, a shape rule here and its kernels in
 * runtime/kernels.inc. Rows are indexed by LayerKind (grep ORDER LAYER). */
#include <stdio.h>
#include <string.h>

#include "compiler.h"

/* ---- helpers for shape rules ---- */

static void set_tensor(Layer *l, const char *suffix, int init, int rank, const int64_t *dims)
{
  Tensor *t = &l->tensor[l->ntensors++];
  t->suffix = suffix;
  t->init = init;
  shape_set(&t->shape, rank, dims);
}

static void set_kargs(Layer *l, int n, const int64_t *v)
{
  for (int i = 0; i < n; i++)
    l->karg[l->nkargs++] = (KArg){.i = v[i]};
}

/* Same shape in and out: the activations. */
static int same_shape(Diag *d, Layer *l, const Args *a)
{
  (void)d;
  (void)a;
  l->out = l->in;
  return 1;
}

/* ---- linear ---- */

static int linear_shape(Diag *d, Layer *l, const Args *a)
{
  char in[160];
  if (l->in.rank != 1) {
    diag_error(d, l->loc, "linear needs a 1-D input, but its input is %s%s", shape_str(&l->in, in, sizeof in),
               l->in.rank > 1 ? " (flatten it first)" : "");
    return 0;
  }
  int64_t out = a->integer[0], n = l->in.dim[0];
  shape_set(&l->out, 1, &out);
  set_tensor(l, "weight", GANC_INIT_XAVIER, 2, (int64_t[]){out, n});
  set_tensor(l, "bias", GANC_INIT_ZERO, 1, &out);
  set_kargs(l, 2, (int64_t[]){out, n});
  l->flops = 2 * n * out;
  return 1;
}

/* Dense takes its tile transposed, rounded up to 16 samples (kernels.inc:
   dense_products; dense uses none below DENSE_GEMM_MIN samples). */
static int64_t linear_scratch(const Layer *l, int64_t t, int backward, int *group)
{
  (void)group;
  return !backward ? (t + 15) / 16 * 16 * l->in.dim[0] : 0;
}

/* ---- leaky_relu ---- */

static int leaky_relu_shape(Diag *d, Layer *l, const Args *a)
{
  l->karg[l->nkargs++] = (KArg){.real = 1, .r = a->number[0]};
  return same_shape(d, l, a);
}

/* ---- reshape, flatten ---- */

static int reshape_shape(Diag *d, Layer *l, const Args *a)
{
  char in[160], to[160];
  int64_t n = shape_count(&l->in);
  l->out = a->shape[0];
  if (shape_count(&l->out) != n) {
    diag_error(d, l->loc, "reshape to %s (%lld elements) but its input %s has %lld",
               shape_str(&l->out, to, sizeof to), (long long)shape_count(&l->out), shape_str(&l->in, in, sizeof in),
               (long long)n);
    return 0;
  }
  return 1;
}

static int flatten_shape(Diag *d, Layer *l, const Args *a)
{
  (void)d;
  (void)a;
  int64_t n = shape_count(&l->in);
  shape_set(&l->out, 1, &n);
  return 1;
}

/* ---- conv2d, conv_transpose2d ---- */

/* One output dimension of a convolution; 0 after reporting an error. */
static int64_t conv_dim(Diag *d, const Layer *l, int64_t in, int64_t k, int64_t s, int64_t p, const char *axis)
{
  char buf[64];
  if (l->kind == LY_CONV2D) {
    if (in + 2 * p < k) {
      diag_error(d, l->loc, "conv2d kernel %lld is larger than the padded input %s %lld (input %s)", (long long)k, axis,
                 (long long)(in + 2 * p), shape_str(&l->in, buf, sizeof buf));
      return 0;
    }
    return (in + 2 * p - k) / s + 1;
  }
  int64_t out = (in - 1) * s + k - 2 * p;
  if (out <= 0) {
    diag_error(d, l->loc, "conv_transpose2d output %s would be %lld for input %s", axis, (long long)out,
               shape_str(&l->in, buf, sizeof buf));
    return 0;
  }
  return out;
}

static int conv_shape(Diag *d, Layer *l, const Args *a)
{
  const char *name = layer_class(l)->name;
  char in[160];
  if (l->in.rank != 3) {
    diag_error(d, l->loc, "%s needs a [channels, height, width] input, but its input is %s", name,
               shape_str(&l->in, in, sizeof in));
    return 0;
  }
  int64_t o = a->integer[0], k = a->integer[1], s = a->integer[2], p = a->integer[3], c = l->in.dim[0];
  int64_t h = conv_dim(d, l, l->in.dim[1], k, s, p, "height");
  int64_t w = h ? conv_dim(d, l, l->in.dim[2], k, s, p, "width") : 0;
  if (!h || !w)
    return 0;
  shape_set(&l->out, 3, (int64_t[]){o, h, w});
  int64_t count;
  if (!count_ok(&l->out, &count)) {
    diag_error(d, l->loc, "%s output has too many elements (more than %d)", name, MAX_ELEMENTS);
    return 0;
  }
  if (l->kind == LY_CONV2D) {
    set_tensor(l, "weight", GANC_INIT_XAVIER, 4, (int64_t[]){o, c, k, k});
    l->flops = 2 * count * c * k * k; /* each output element: C_in k k multiply-adds */
  } else {
    set_tensor(l, "weight", GANC_INIT_XAVIER, 4, (int64_t[]){c, o, k, k});
    l->flops = 2 * shape_count(&l->in) * o * k * k; /* each input element scatters to C_out k k */
  }
  set_tensor(l, "bias", GANC_INIT_ZERO, 1, &o);
  set_kargs(l, 9, (int64_t[]){c, l->in.dim[1], l->in.dim[2], o, h, w, k, s, p});
  return 1;
}

/* A convolution's scratch per sample: a window per position of its small
   grid (the output of conv2d, the input of conv_transpose2d), and the
   samples' small-channel side gathered channel by channel. It takes as many
   samples at once as keep that within CONV_GROUP_SCALARS. */
static int64_t conv_scratch(const Layer *l, int64_t t, int backward, int *group)
{
  (void)backward;
  int64_t k2 = l->tensor[0].shape.dim[2] * l->tensor[0].shape.dim[3], per;
  if (l->kind == LY_CONV2D)
    per = l->out.dim[1] * l->out.dim[2] * (l->in.dim[0] * k2 + l->out.dim[0]);
  else
    per = l->in.dim[1] * l->in.dim[2] * (l->out.dim[0] * k2 + l->in.dim[0]);
  int64_t g = CONV_GROUP_SCALARS / per;
  *group = (int)(g < 1 ? 1 : g > t ? t : g);
  return *group * per;
}

/* ---- upsample ---- */

/* Nearest neighbour by an integer scale s: [C, H, W] to [C, sH, sW]. The
   kernels take the input's geometry and s; copies count no FLOPs. */
static int upsample_shape(Diag *d, Layer *l, const Args *a)
{
  char in[160];
  if (l->in.rank != 3) {
    diag_error(d, l->loc, "upsample needs a [channels, height, width] input, but its input is %s",
               shape_str(&l->in, in, sizeof in));
    return 0;
  }
  int64_t s = a->integer[0], c = l->in.dim[0], h = l->in.dim[1], w = l->in.dim[2], sh, sw, count;
  int fits = mul_ok(h, s, &sh) && mul_ok(w, s, &sw);
  if (fits)
    shape_set(&l->out, 3, (int64_t[]){c, sh, sw});
  if (!fits || !count_ok(&l->out, &count)) {
    diag_error(d, l->loc, "upsample output has too many elements (more than %d)", MAX_ELEMENTS);
    return 0;
  }
  set_kargs(l, 4, (int64_t[]){c, h, w, s});
  l->flops = 0;
  return 1;
}

/* ---- batch_norm ---- */

/* Per feature on [C], per channel on [C, ...]: the kernels take the
   channels, the values per channel in a sample, momentum and eps. */
static int batch_norm_shape(Diag *d, Layer *l, const Args *a)
{
  if (l->in.rank == 0) {
    diag_error(d, l->loc, "batch_norm needs features or channels ([C] or [C, ...]), but its input is a scalar []");
    return 0;
  }
  int64_t c = l->in.dim[0], count = shape_count(&l->in);
  l->out = l->in;
  set_tensor(l, "weight", GANC_INIT_ONE, 1, &c);
  set_tensor(l, "bias", GANC_INIT_ZERO, 1, &c);
  Tensor *mean = &l->stat[l->nstats++], *var = &l->stat[l->nstats++];
  *mean = (Tensor){.suffix = "running_mean", .init = GANC_INIT_ZERO};
  *var = (Tensor){.suffix = "running_var", .init = GANC_INIT_ONE};
  shape_set(&mean->shape, 1, &c);
  shape_set(&var->shape, 1, &c);
  l->batch_positions = count / c;
  set_kargs(l, 2, (int64_t[]){c, count / c});
  l->karg[l->nkargs++] = (KArg){.real = 1, .r = a->number[0]};
  l->karg[l->nkargs++] = (KArg){.real = 1, .r = a->number[1]};
  l->flops = 2 * count; /* a multiply-add per value */
  return 1;
}

/* ---- label ---- */

/* The input, then the embedding of the sample's label: [n] -> [n + dim],
   [C, H, W] -> [C + dim, H, W] with the embedding repeated at every
   position. The kernels take the input's channels, its positions, dim and
   the classes (a label outside them reads nothing). */
static int label_shape(Diag *d, Layer *l, const Args *a)
{
  char in[160];
  if (l->in.rank != 1 && l->in.rank != 3) {
    diag_error(d, l->loc, "label needs a [features] or [channels, height, width] input, but its input is %s",
               shape_str(&l->in, in, sizeof in));
    return 0;
  }
  int64_t dim = a->integer[0], c = l->in.dim[0], positions = shape_count(&l->in) / c, count;
  l->out = l->in;
  if (!add_ok(c, dim, &l->out.dim[0]) || !count_ok(&l->out, &count)) {
    diag_error(d, l->loc, "label output has too many elements (more than %d)", MAX_ELEMENTS);
    return 0;
  }
  set_tensor(l, "weight", GANC_INIT_NORMAL, 2, (int64_t[]){l->classes, dim});
  set_kargs(l, 4, (int64_t[]){c, positions, dim, l->classes});
  l->flops = 0;
  return 1;
}

/* ---- projection ---- */

/* The projection discriminator's head (Miyato and Koyama 2018): the score
   of features h is w . h + b + E[label] . h, a linear score plus the inner
   product of h with the label's embedding. The embedding starts as a
   weight does (Xavier), not as label's (standard normal), so that the two
   terms start at one scale. The kernels take the features and the
   classes. */
static int projection_shape(Diag *d, Layer *l, const Args *a)
{
  (void)a;
  char in[160];
  if (l->in.rank != 1) {
    diag_error(d, l->loc, "projection needs a 1-D input of features, but its input is %s%s",
               shape_str(&l->in, in, sizeof in), l->in.rank > 1 ? " (flatten it first)" : "");
    return 0;
  }
  int64_t n = l->in.dim[0], one = 1;
  shape_set(&l->out, 1, &one);
  set_tensor(l, "weight", GANC_INIT_XAVIER, 2, (int64_t[]){1, n});
  set_tensor(l, "bias", GANC_INIT_ZERO, 1, &one);
  set_tensor(l, "embedding", GANC_INIT_XAVIER, 2, (int64_t[]){l->classes, n});
  set_kargs(l, 2, (int64_t[]){n, l->classes});
  l->flops = 4 * n; /* two multiply-adds per feature */
  return 1;
}

/* ---- the table (grep ORDER LAYER) ---- */

#define ACTIVATION(id, fwd, back, reads, kind)                                                 \
  [id] = {#fwd, {{0}}, same_shape, NULL, NULL, 1, 0, {"act_" #fwd, "y x n"}, {NULL, NULL}, \
          {"act_" #back, "dx " reads " dy n"}, .bounds = {"bound_" #fwd, "yl yh xl xh n"}, .crown = kind}

#define CONV(id, name)                                                                  \
  [id] = {name, {{"out", ARG_POSITIVE, 1, 0}, {"kernel", ARG_POSITIVE, 1, 0},           \
                 {"stride", ARG_POSITIVE, 0, 1}, {"padding", ARG_NONNEGATIVE, 0, 0}},    \
          conv_shape, conv_scratch, "a convolution's windows", 0, 1,                     \
          {name, "y W B x cs t G K"}, {name "_back_params", "gW gB dy x cs t G K"},      \
          {name "_back_input", "dx W dy cs t G K"}, .bounds = {"bound_" name, "yl yh W B xl xh K"}}

const LayerClass layer_classes[NLAYER_KINDS] = {
    [LY_LINEAR] = {"linear", {{"out", ARG_POSITIVE, 1, 0}}, linear_shape, linear_scratch,
                   "a dense layer's input tile, transposed", 0, 0, {"dense", "y W B x cs t K"},
                   {"dense_back_params", "gW gB dy x t K"}, {"dense_back_input", "dx W dy t K"}, 0,
                   {"dense_products", "y W B x cs t K"}, {"bound_dense", "yl yh W B xl xh K"}, "CROWN_LINEAR"},
    ACTIVATION(LY_RELU, relu, relu_back, "x", "CROWN_RELU"),
    [LY_LEAKY_RELU] = {"leaky_relu", {{"slope", ARG_NUMBER, 0, 0.01}}, leaky_relu_shape, NULL, NULL, 1, 0,
                       {"act_leaky_relu", "y x n K"}, {NULL, NULL}, {"act_leaky_relu_back", "dx x dy n K"},
                       .bounds = {"bound_leaky_relu", "yl yh xl xh n K"}, .crown = "CROWN_LEAKY_RELU"},
    ACTIVATION(LY_TANH, tanh, tanh_back, "y", "CROWN_TANH"),
    ACTIVATION(LY_SIGMOID, sigmoid, sigmoid_back, "y", "CROWN_SIGMOID"),
    [LY_RESHAPE] = {"reshape", {{"shape", ARG_SHAPE, 1, 0}}, reshape_shape, NULL, NULL, 0, 0, {0}, {0}, {0},
                    .crown = "CROWN_VIEW"},
    [LY_FLATTEN] = {"flatten", {{0}}, flatten_shape, NULL, NULL, 0, 0, {0}, {0}, {0}, .crown = "CROWN_VIEW"},
    CONV(LY_CONV2D, "conv2d"),
    CONV(LY_CONV_TRANSPOSE2D, "conv_transpose2d"),
    [LY_UPSAMPLE] = {"upsample", {{"scale", ARG_POSITIVE, 0, 2}}, upsample_shape, NULL, NULL, 0, 0,
                     {"upsample", "y x t K"}, {NULL, NULL}, {"upsample_back", "dx dy t K"},
                     .bounds = {"bound_upsample", "yl yh xl xh K"}},
    [LY_BATCH_NORM] = {"batch_norm", {{"momentum", ARG_UNIT, 0, 0.1}, {"eps", ARG_POSITIVE_NUMBER, 0, 1e-5}},
                       batch_norm_shape, NULL, NULL, 1, 0, {"batch_norm", "y W B S x t K"},
                       {"batch_norm_back_params", "gW gB dy x M t K"}, {"batch_norm_back_input", "dx W dy x M t K"},
                       1, {"batch_norm_train", "y W B S M x t K"}, {"bound_batch_norm", "yl yh W B S xl xh K"}},
    [LY_LABEL] = {"label", {{"dim", ARG_POSITIVE, 1, 0}}, label_shape, NULL, NULL, 0, 0,
                  {"embed_label", "y W x L t K"}, {"embed_label_back_params", "gW dy L t K"},
                  {"embed_label_back_input", "dx dy t K"}, .bounds = {"bound_embed_label", "yl yh W xl xh L K"},
                  .crown = "CROWN_LABEL"},
    [LY_PROJECTION] = {"projection", {{0}}, projection_shape, NULL, NULL, 0, 0, {"project", "y W B E x L t K"},
                       {"project_back_params", "gW gB gE dy x L t K"}, {"project_back_input", "dx W E dy L t K"},
                       .bounds = {"bound_project", "yl yh W B E xl xh L K"}},
};

int stack_takes_labels(const Stack *st)
{
  for (int i = 0; i < st->n; i++) {
    const LayerClass *lc = layer_class(&st->layers[i]);
    if (kernel_takes(&lc->forward, "L") || kernel_takes(&lc->back_params, "L") || kernel_takes(&lc->back_input, "L"))
      return 1;
  }
  return 0;
}

int kernel_takes(const KernelCall *k, const char *word)
{
  size_t n = strlen(word);
  for (const char *p = k->args; p && *p;) {
    const char *end = strchr(p, ' ');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == n && strncmp(p, word, n) == 0)
      return 1;
    p += len + (end != NULL);
  }
  return 0;
}
