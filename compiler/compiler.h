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

typedef enum { DECL_SHAPE, DECL_BLOCK, DECL_WORD } DeclKind;

typedef struct DeclNode {
  DeclKind kind;
  const char *name; /* latent, generator, scalar, ... (checked later) */
  Loc loc;
  Value *shape;     /* DECL_SHAPE */
  List layers;      /* DECL_BLOCK: LayerNode* */
  const char *word; /* DECL_WORD */
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
} LayerKind;

typedef struct Layer {
  LayerKind kind;
  int index;        /* position in its stack, as nn.Sequential counts */
  Loc loc;
  const char *text; /* the layer as written, whitespace folded */
  Shape in, out;
  double slope;     /* leaky_relu */
  int64_t out_features;              /* linear, conv */
  int64_t kernel, stride, padding;   /* conv */
  /* Parameters: absolute offsets into the model's flat array. */
  Shape weight_shape, bias_shape;
  int64_t weight_off, weight_count, bias_off, bias_count;
} Layer;

typedef struct Stack {
  const char *name; /* "generator" or "discriminator" */
  Loc loc;          /* of the declaration */
  Layer *layers;
  int n;
  Shape in, out;
  int64_t param_off, param_count;
  int64_t flops; /* per sample; a multiply-add counts 2 */
} Stack;

typedef enum { SCALAR_FLOAT, SCALAR_DOUBLE } ScalarKind;

typedef struct Model {
  const char *name;
  Loc loc;
  ScalarKind scalar;
  Shape latent, observation;
  Stack gen, disc;
  int64_t param_count;
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
const char *layer_kind_name(LayerKind k);

/* ---- lower.c: a checked stack to an op list over sized values ---- */

typedef enum {
  OP_LINEAR,
  OP_RELU,
  OP_LEAKY_RELU,
  OP_TANH,
  OP_SIGMOID,
  OP_VIEW, /* reshape, flatten: a new shape for the same data */
  OP_CONV2D,
  OP_CONV_TRANSPOSE2D,
} OpKind;

/* Where a value lives in the forward function that computes it. */
typedef enum {
  BUF_IN,  /* the function's input (read only) */
  BUF_OUT, /* the function's output */
  BUF_A,   /* the two scratch arrays, used alternately */
  BUF_B,
} Buf;

typedef struct Op {
  OpKind kind;
  const Layer *layer;
  int in, out;          /* value ids; out == in for OP_VIEW */
  Buf in_buf, out_buf;  /* out_buf == in_buf: in place */
} Op;

typedef struct Graph {
  const Stack *stack;
  Op *ops;
  int nops;
  int64_t *size;  /* elements of each value */
  int nvalues;    /* value 0 is the input; value nvalues-1 the output */
  int64_t scratch; /* elements of each of BUF_A and BUF_B; 0 if unused */
  /* Training: every value but the input kept for the backward pass. */
  int64_t *act_off; /* offset of each value in the activations array */
  int64_t acts;     /* elements of the activations array */
  int64_t grad_scratch; /* elements of each of the two gradient arrays */
  int64_t dense_in;     /* the widest dense layer input: dense's scratch per sample */
} Graph;

typedef struct IrModel {
  const Model *model;
  Graph gen, disc;
  int tile;            /* samples that pass through the layers together */
  int64_t stack_bytes; /* the most any emitted function keeps on the stack */
} IrModel;

/* Emitted functions keep their activations on the stack; the tile is the
   largest power of two up to MAX_TILE that keeps every one within this. */
enum { STACK_BUDGET = 1 << 20, MAX_TILE = 64 };
/* The kernels' own stack (runtime/kernels.inc: gemm's pack), in scalars. */
enum { KERNEL_STACK_SCALARS = 256 * 64 };
/* A convolution takes as many samples at once as keep its scratch within
   this many scalars (at least one). */
enum { CONV_GROUP_SCALARS = 1 << 16 };

typedef struct Ir {
  const Program *prog;
  IrModel *models;
  int n;
} Ir;

/* NULL after reporting a model that does not fit the stack budget. */
Ir *lower_program(Arena *a, Diag *d, const Program *prog);
/* The samples a convolution layer takes at once in tiles of t, the
   scalars of a stack's convolution scratch for them, and of its forward
   kernels' scratch (convolutions' or dense layers'). */
int conv_group(const Layer *l, int64_t t);
int64_t conv_scratch(const Graph *g, int64_t t);
int64_t kernel_scratch(const Graph *g, int64_t t);
/* relu, leaky_relu, tanh, sigmoid: one output per input, in place allowed. */
int op_is_elementwise(OpKind k);

/* ---- emit.c: C text ---- */

typedef struct EmitOptions {
  const char *source_name; /* the .gan file, named in the header comment */
  int jit;                 /* call the runtime's kernels; declare what is called */
  int weights;             /* the header declares NAME_weights (emit_weights) */
} EmitOptions;

/* The header NAME.h and the source NAME.c for one model. */
void emit_header(Str *out, const IrModel *m, const EmitOptions *opt);
void emit_source(Str *out, const IrModel *m, const EmitOptions *opt);
/* NAME_weights.c: params (the model's scalar type) as a const array. */
void emit_weights(Str *out, const IrModel *m, const EmitOptions *opt, const void *params);
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
