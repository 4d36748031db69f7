/* compiler.h — the internal header of the ganc compiler, one section per file.
 *
 * The pipeline:  text --lexer.l/parser.y--> Ast --check.c--> Program
 *                     --lower.c--> Ir --emit.c--> C text
 * Each stage owns one data structure, allocated in the compilation's Arena,
 * and hands it to the next; nothing is freed until arena_free. */
#ifndef GANC_COMPILER_H
#define GANC_COMPILER_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "ganc.h"

/* ---- arena.c: one bump allocator per compilation; growable strings ---- */

typedef struct ArenaBlock ArenaBlock;
typedef struct Arena {
  ArenaBlock *head;
  jmp_buf *on_oom; /* longjmp here when memory runs out (compile_source) */
} Arena;

void *arena_alloc(Arena *a, size_t size); /* zeroed */
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_strdup(Arena *a, const char *s);
void arena_oom(Arena *a); /* out of memory: longjmp to a->on_oom */
void arena_free(Arena *a);

/* A growable byte string on the C heap (emitted code, diagnostics). */
typedef struct Str {
  char *buf;
  size_t len, cap;
  int failed; /* out of memory: contents truncated */
} Str;

void str_putn(Str *s, const char *p, size_t n);
void str_puts(Str *s, const char *p);
void str_putc(Str *s, char c);
void str_printf(Str *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void str_vprintf(Str *s, const char *fmt, va_list ap);
void str_free(Str *s);

/* A growable array of pointers in the arena (AST lists). */
typedef struct List {
  void **item;
  int n, cap;
} List;

void list_push(Arena *a, List *l, void *item);

/* ---- diag.c: compiler diagnostics ---- */

/* A source location: 1-based line and byte column; end_col is exclusive
   and on the same line (for the underline). */
typedef struct Loc {
  int line, col, end_col;
} Loc;

enum { DIAG_MAX_ERRORS = 20 };

typedef struct Diag {
  const char *file; /* name used in messages ("<stdin>" for standard input) */
  const char *src;  /* the whole source, for quoting lines */
  size_t srclen;
  Str out; /* formatted diagnostics */
  int errors;
} Diag;

void diag_init(Diag *d, const char *file, const char *src, size_t srclen);
/* `file:line:col: error: message`, the source line, a caret under col. */
void diag_error(Diag *d, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_verror(Diag *d, Loc loc, const char *fmt, va_list ap);
/* An error with no location: `file: error: message`. */
void diag_error_noloc(Diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* True once DIAG_MAX_ERRORS have been reported: stop checking. */
int diag_full(const Diag *d);
void diag_free(Diag *d);

/* ---- parser.y (with lexer.l): text to Ast ---- */

typedef enum { VAL_NUMBER, VAL_SHAPE } ValueKind;

typedef struct Value {
  ValueKind kind;
  Loc loc;
  const char *text; /* VAL_NUMBER: the number as written */
  List items;       /* VAL_SHAPE: Value* dimensions */
} Value;

typedef struct Arg {
  const char *key; /* NULL for a positional argument */
  Loc key_loc;
  Value *value;
} Arg;

typedef struct LayerNode {
  const char *name;
  Loc loc;          /* of the name */
  int has_parens;   /* written as name(...) */
  List args;        /* Arg* */
  size_t text_start, text_end; /* byte span of the whole layer in the source */
} LayerNode;

typedef enum { DECL_SHAPE, DECL_BLOCK, DECL_WORD, DECL_NUMBER } DeclKind;

typedef struct DeclNode {
  DeclKind kind;
  const char *name; /* latent, generator, scalar, ... (checked later) */
  Loc loc;
  Value *shape;     /* DECL_SHAPE */
  List layers;      /* DECL_BLOCK: LayerNode* */
  const char *word; /* DECL_WORD, DECL_NUMBER: as written */
  Loc word_loc;
} DeclNode;

typedef struct ModelNode {
  const char *name;
  Loc loc;      /* of the name */
  Loc kw_loc;   /* of `model` */
  List decls;   /* DeclNode* */
} ModelNode;

typedef struct Ast {
  List models; /* ModelNode* */
} Ast;

/* Parse src into an Ast; syntax errors go to d. NULL if there were any. */
Ast *parse_source(Arena *a, Diag *d, const char *src, size_t len);

/* ---- check.c: names, arguments, shapes, parameter offsets ---- */

/* Limits of the language, checked with clear errors. */
enum { MAX_RANK = 8, MAX_MODELS = 256, MAX_LAYERS = 1024 };
#define MAX_ELEMENTS INT32_MAX /* per tensor, and parameters in all */

typedef struct Shape {
  int rank;
  int64_t dim[MAX_RANK];
} Shape;

/* The layer kinds, in the order of layers.c's table (grep ORDER LAYER). */
typedef enum {
  LY_LINEAR,
  LY_RELU,
  LY_LEAKY_RELU,
  LY_TANH,
  LY_SIGMOID,
  LY_RESHAPE,
  LY_FLATTEN,
  LY_CONV2D,
  LY_CONV_TRANSPOSE2D,
  LY_UPSAMPLE,
  LY_BATCH_NORM,
  LY_LABEL,
  LY_PROJECTION,
  NLAYER_KINDS
} LayerKind;

enum { MAX_ARGS = 4, MAX_TENSORS = 3, MAX_KARGS = 10 };

/* One parameter tensor of a layer: a slice of the model's flat array. */
typedef struct Tensor {
  const char *suffix; /* "weight": the tensor is STACK.INDEX.weight */
  Shape shape;
  int init;           /* a GANC_INIT_* rule (ganc.h) */
  int64_t off, count; /* absolute, in scalars */
} Tensor;

/* A trailing argument of a layer's kernels: its geometry or a constant. */
typedef struct KArg {
  int real;    /* a number of the scalar type, else an integer */
  int64_t i;
  double r;
} KArg;

typedef struct Layer {
  LayerKind kind;
  int index;        /* position in its stack, as nn.Sequential counts */
  Loc loc;
  const char *text; /* the layer as written, whitespace folded */
  Shape in, out;
  Tensor tensor[MAX_TENSORS];
  int ntensors;
  int64_t param_count; /* scalars in its tensors */
  /* Running statistics (batch_norm): slices of the statistics array,
     named and initialized as tensors are. */
  Tensor stat[MAX_TENSORS];
  int nstats;
  int64_t batch_positions; /* batch_norm: values per channel in one sample */
  int classes;             /* the model's classes, the rows of a label layer's
                              embedding (0 for an unconditional model) */
  KArg karg[MAX_KARGS]; /* what its kernels take after the tile size */
  int nkargs;
  int64_t flops;       /* per sample; a multiply-add counts 2 */
} Layer;

typedef struct Stack {
  const char *name; /* "generator" or "discriminator" */
  char letter;      /* 'G' or 'D': the emitted functions NAME_G, NAME_D_back, ... */
  Loc loc;          /* of the declaration */
  Layer *layers;
  int n;
  Shape in, out;
  int64_t param_off, param_count;
  int64_t stats_off, stats_count; /* in the statistics array */
  int64_t flops; /* per sample; a multiply-add counts 2 */
} Stack;

typedef enum { SCALAR_FLOAT, SCALAR_DOUBLE } ScalarKind;

typedef struct LossClass LossClass;

typedef struct Model {
  const char *name;
  Loc loc;
  ScalarKind scalar;
  const LossClass *loss;
  int pack;         /* observations the discriminator judges at once (PacGAN) */
  int classes;      /* class labels of a conditional model; 0: none */
  Shape latent, observation;
  Stack gen, disc;
  int64_t param_count;
  int64_t stats_count; /* running statistics of batch_norm layers, G then D */
} Model;

typedef struct Program {
  const char *file;
  Model *models;
  int n;
} Program;

/* Check every model; errors go to d. NULL if there were any. */
Program *check_program(Arena *a, Diag *d, const Ast *ast, const char *src);

int64_t shape_count(const Shape *s);
/* "[1, 28, 28]" into buf. */
const char *shape_str(const Shape *s, char *buf, size_t size);
void shape_set(Shape *s, int rank, const int64_t *dims);
/* a * b into *out unless it exceeds MAX_ELEMENTS; likewise a + b and the
   element count of a shape. */
int mul_ok(int64_t a, int64_t b, int64_t *out);
int add_ok(int64_t a, int64_t b, int64_t *out);
int count_ok(const Shape *s, int64_t *out);

/* ---- layers.c: the layer table, one row per kind ---- */

/* ARG_UNIT: a number in [0, 1]; ARG_POSITIVE_NUMBER: a number > 0. */
typedef enum { ARG_POSITIVE, ARG_NONNEGATIVE, ARG_NUMBER, ARG_UNIT, ARG_POSITIVE_NUMBER, ARG_SHAPE } ArgType;

typedef struct ArgSpec {
  const char *name;
  ArgType type;
  int required;
  double fallback; /* default of an optional numeric argument */
} ArgSpec;

/* A layer's arguments bound to its ArgSpecs, as Python binds them. */
typedef struct Args {
  const Value *value[MAX_ARGS];
  int64_t integer[MAX_ARGS];
  double number[MAX_ARGS];
  Shape shape[MAX_ARGS];
} Args;

/* One kernel call: the kernel's name and its arguments, one word each:
     y x      the layer's output and input      dy dx  their gradients
     W B E    its tensors 0, 1 and 2 (params + offset)
     gW gB gE their gradients (grad + offset in the stack)
     S        its running statistics (stats + offset)
     L        the labels of the samples (a conditional model's)
     M        its batch's moments (training: moments + offset)
     cs       the kernels' scratch              t      the tile's samples
     n        t times the output's elements     G      the samples per group
     K        the layer's kernel arguments (Layer.karg)
     xl xh    the bounds of its input, below and above (bounds functions)
     yl yh    those of its output
   A layer's backward reads what its templates name of x, y and W. */
typedef struct KernelCall {
  const char *kernel;
  const char *args;
} KernelCall;

typedef struct LayerClass {
  const char *name;
  ArgSpec args[MAX_ARGS];
  /* l->out, l->tensor[] (shapes and rules), l->karg[] and l->flops from
     l->in and the bound arguments; 0 after reporting an error at l->loc. */
  int (*shape)(Diag *d, Layer *l, const Args *a);
  /* Scalars of kernel scratch (cs) for a tile of t samples, forward or
     backward; a grouped layer also sets *group (G). NULL: none. */
  int64_t (*scratch)(const Layer *l, int64_t t, int backward, int *group);
  const char *scratch_what; /* its comment in emitted code */
  int elementwise;          /* one output per input: may run in place */
  int grouped;              /* its kernels take G, samples per product */
  /* NULL kernel: a view, the same data with a new shape (no code). */
  KernelCall forward, back_params, back_input;
  /* A layer whose training pass normalizes over the whole batch
     (batch_norm): its train call and its backward calls take every sample
     of the batch at once (t). */
  int batch;
  /* Its forward call in the training passes, if not forward's: a batch
     layer's, or one whose every sample's result must not depend on the
     samples beside it (dense_products). */
  KernelCall train;
  /* Its bounds rule (docs/DESIGN.md §8): a box of its input, one sample's
     (or pack's), to a box of its output; may run in place. */
  KernelCall bounds;
  /* Its kind in a chain that CROWN bounds (kernels.inc: CrownKind), or
     NULL for a layer no such chain may hold. */
  const char *crown;
} LayerClass;

extern const LayerClass layer_classes[NLAYER_KINDS];

static inline const LayerClass *layer_class(const Layer *l)
{
  return &layer_classes[l->kind];
}

/* Does a kernel call's template name this word? */
int kernel_takes(const KernelCall *k, const char *word);
/* Does a stack have a layer whose kernels take the samples' labels? */
int stack_takes_labels(const Stack *st);

/* ---- losses.c: the loss table ---- */

/* Each loss is three terms of a score s, the real-sample r(s), the
   fake-sample f(s) and the generator's g(s), emitted with their
   derivatives as static functions of the scalar type:
   discriminator_loss = r(D(x)) + f(D(G(z))), generator_loss = g(D(G(z))). */
struct LossClass {
  const char *name;
  const char *title;     /* "a least-squares GAN" */
  const char *d_formula, *g_formula;             /* single sample, as written in comments */
  const char *d_batch_formula, *g_batch_formula; /* batch means */
  const char *helpers;                 /* functions the terms call, or NULL */
  const char *real, *fake, *gen;       /* C function bodies of r, f, g in s */
  const char *real_d, *fake_d, *gen_d; /* of their derivatives */
};

extern const LossClass loss_classes[]; /* ends with a row of NULLs */
const LossClass *find_loss(const char *name);

/* ---- lower.c: a checked stack to an op list and a memory plan ---- */

/* Where a value lives in the forward function that computes it. */
typedef enum {
  BUF_IN,  /* the function's input (read only) */
  BUF_OUT, /* the function's output */
  BUF_A,   /* the two scratch arrays, used alternately */
  BUF_B,
} Buf;

/* Where a gradient lives during the backward pass. */
typedef enum { GRAD_OUT, GRAD_A, GRAD_B, GRAD_IN } GradBuf;

typedef struct Op {
  const Layer *layer;
  int view;             /* no code: out == in */
  int in, out;          /* value ids */
  Buf in_buf, out_buf;  /* out_buf == in_buf: in place */
  GradBuf dy_buf, dx_buf; /* backward: the gradients of out and in */
  int group;            /* grouped layers: samples per product, in the inference passes */
  int train_group;      /* and in the training passes */
  int64_t moments_off;  /* batch layers: its batch moments in the stack's moments */
} Op;

typedef struct Graph {
  const Stack *stack;
  Op *ops;
  int nops;
  int64_t *size;  /* elements of each value */
  int nvalues;    /* value 0 is the input; value nvalues-1 the output */
  int64_t scratch; /* elements per sample of each of BUF_A and BUF_B */
  /* Training: every value but the input kept for the backward pass. */
  int64_t *act_off; /* offset of each value in the activations array */
  int64_t acts;     /* elements per sample of the activations array */
  int64_t grad_scratch; /* elements per sample of each gradient array */
  int64_t moments;      /* scalars of the batch layers' moments (a whole batch's) */
} Graph;

/* Every function a model's source defines: the static passes over one
   stack, then the public functions (ganc.h's ids, offset by FN_PUBLIC). */
typedef enum {
  FN_G, FN_D,             /* forward, t <= TILE samples */
  FN_G_TRAIN, FN_D_TRAIN, /* forward keeping every value */
  FN_G_BACK, FN_D_BACK,   /* backward */
  FN_G_BOUNDS, FN_D_BOUNDS, /* bounds of one sample (one pack for D) */
  FN_PUBLIC,
  NFUNCS = FN_PUBLIC + GANC_NFNS
} Func;

/* What a buffer's count is multiplied by. A tile is TILE of what the
   discriminator judges (packs: samples unless the model packs) and the
   samples the generator makes for them, G_TILE = TILE * PACK; a chunk is
   the CHUNK packs a _backward function without a workspace trains on at
   a time. */
typedef enum { PER_NONE, PER_PACK, PER_TILE, PER_G_TILE, PER_BATCH, PER_G_BATCH, PER_CHUNK, PER_TRAIN_TILE } Per;

/* One array on a function's stack. */
typedef struct Buffer {
  const char *name;
  int64_t count;  /* scalars, times per */
  Per per;
  int obs;        /* count is the observation's elements (NAME_OBS_SIZE) */
  const char *what; /* its comment in emitted code */
} Buffer;

enum { MAX_FRAME = 6, MAX_CALLS = 4 };

/* A function's stack frame and the functions it calls. */
typedef struct Frame {
  Buffer buf[MAX_FRAME];
  int nbuf;
  Func calls[MAX_CALLS];
  int ncalls;
  int kernels;        /* it calls kernels (their own stack counts) */
  int64_t scalars;    /* its buffers, at the plan's tile */
  int64_t deepest;    /* scalars of the deepest call chain from it */
} Frame;

enum { MAX_WORKSPACE = 10 };

typedef struct IrModel {
  const Model *model;
  Graph gen, disc;
  int tile;            /* packs (samples, unpacked) that pass through D together */
  int train_tile;      /* the same in the training passes */
  int chunk;           /* packs per pass of a _backward function without a
                          workspace (a model without batch layers) */
  Frame frame[NFUNCS]; /* the memory plan */
  int64_t stack_bytes; /* the most any emitted function keeps on the stack */
  /* Training passes run over a batch, their values in a workspace of
     these arrays (PER_BATCH: times n packs, PER_G_BATCH: times the n *
     PACK samples G makes, PER_TRAIN_TILE: times TRAIN_TILE packs, PER_NONE:
     once), which the _ws functions take from the caller. A model with batch layers (batch)
     trains on whole batches: its _backward functions take the workspace
     from the heap. Any other model's take it from the stack, for CHUNK
     packs at a time. */
  int batch;
  int min_batch;       /* the smallest n they train on: two values per channel */
  Buffer ws[MAX_WORKSPACE];
  int nws;
  int64_t ws_per_n, ws_once; /* its scalars: n * ws_per_n + ws_once */
  int64_t ws_per_tile;       /* of ws_once, those per pack of a training tile */
  /* The bounds functions that CROWN tightens (docs/DESIGN.md §8): G's
     (generate_bounds), D's (score_bounds), and G then D as one chain
     (fake_score_bounds, unpacked); each needs every layer in a chain
     (crown_chain) and two linear layers in it. */
  int crown_g, crown_d, crown_gd;
} IrModel;

/* What a stack frame's buffer of kind per is multiplied by, for tiles of t
   packs and chunks of c. */
int64_t frame_times(const IrModel *m, Per per, int64_t t, int64_t c);
/* Scalars of a workspace buffer per n (or once, PER_NONE). */
int64_t ws_count(const IrModel *m, const Buffer *b);

/* Emitted functions keep their activations on the stack, or in a
   workspace; each tile is the largest power of two up to MAX_TILE that
   keeps the functions using it within this. */
enum { STACK_BUDGET = 1 << 20, MAX_TILE = 64 };
/* The kernels' own stack (runtime/kernels.inc: gemm's pack), in scalars. */
enum { KERNEL_STACK_SCALARS = 256 * 64 };
/* CROWN's chains: no layer wider than this (bound_crown keeps two vectors
   of the widest layer's doubles on its own stack, within the kernels'),
   and a work array within half the stack budget; other chains keep
   interval bounds. */
enum { CROWN_MAX_WIDTH = 4096 };
/* A convolution takes as many samples at once as keep its scratch within
   this many scalars (at least one). */
enum { CONV_GROUP_SCALARS = 1 << 17 };

typedef struct Ir {
  const Program *prog;
  IrModel *models;
  int n;
} Ir;

/* NULL after reporting a model that does not fit the stack budget. */
Ir *lower_program(Arena *a, Diag *d, const Program *prog);
/* Can CROWN bound the whole of g (every layer a linear layer, an
   elementwise activation or a view)? */
int crown_chain(const Graph *g);
/* The scalars of bound_crown's work array for the chain of g, or of g then
   h (h not NULL). */
int64_t crown_work(const Graph *g, const Graph *h);
/* Is f emitted for m? Every function is but a bounds pass that CROWN's
   chains replace everywhere. */
int func_emitted(const IrModel *m, Func f);
/* Does g's backward pass use the gradient array b? */
int uses_grad(const Graph *g, GradBuf b);
/* The name of an emitted function: "G_train", "generate_batch". */
const char *func_suffix(Func f);

/* ---- dump.c: the state between stages as text (--dump) ---- */

void dump_ast(Str *s, const Ast *ast);
void dump_ir(Str *s, const Ir *ir);
void dump_plan(Str *s, const Ir *ir);

/* ---- describe.c: a checked model as the runtime describes it ---- */

/* info's strings and tensors live in a. */
void describe_model(Arena *a, const IrModel *m, ganc_info *info);

/* ---- emit.c: C text ---- */

typedef struct EmitOptions {
  const char *source_name; /* the .gan file, named in the header comment */
  int jit;                 /* call the runtime's kernels; declare what is called */
  int weights;             /* the header declares NAME_weights (emit_weights) */
} EmitOptions;

/* The names a model's code defines besides its functions, each NAME_X:
   the header's constants, its scalar type, its include guard, the weights.
   NULL-terminated. */
extern const char *const emit_names[];

/* The header NAME.h and the source NAME.c for one model. */
void emit_header(Str *out, const IrModel *m, const EmitOptions *opt);
void emit_source(Str *out, const IrModel *m, const EmitOptions *opt);
/* NAME_weights.c: params (the model's scalar type) as a const array, and
   for a model with batch_norm its running statistics as another. */
void emit_weights(Str *out, const IrModel *m, const EmitOptions *opt, const void *params, const void *stats);
/* The header and source of one model as one translation unit (the JIT's). */
void emit_unit(Str *out, const IrModel *m, const EmitOptions *opt);

/* ---- compile.c: the front end as one call, for the CLI and the JIT ---- */

typedef struct Compilation {
  Arena arena;
  Diag diag;
  Ast *ast;
  Program *prog;
  Ir *ir;
} Compilation;

/* Longer sources are an error ("file is too large"). */
enum { COMPILE_MAX_SOURCE_BYTES = 16 << 20 };

/* Parse, check and lower; on failure (c->diag.errors > 0) ir is NULL. */
int compile_source(Compilation *c, const char *file, const char *src, size_t len);
void compile_free(Compilation *c);

#endif
