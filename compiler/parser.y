/* parser.y — the grammar of .gan files; actions only build the Ast.
 *
 * Declarations and layers are plain identifiers here: which names exist, what
 * arguments they take and what shapes they make is the checker's business,
 * so that it can say "unknown layer 'lineer' (did you mean 'linear'?)"
 * instead of a bare syntax error. */
%define api.pure full
%define api.prefix {gan}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {yyscan_t scanner}
%parse-param {ParseState *ps}

%code requires {
#include "compiler.h"

typedef void *yyscan_t;

/* Token locations carry byte offsets too, so that a layer's source text
   can be quoted in emitted comments. last_column is exclusive. */
typedef struct GANLTYPE {
  int first_line, first_column, last_line, last_column;
  size_t start, end;
} GANLTYPE;
#define GANLTYPE_IS_DECLARED 1
#define GANLTYPE_IS_TRIVIAL 1

#define YYLLOC_DEFAULT(Cur, Rhs, N)                                   \
  do {                                                                \
    if (N) {                                                          \
      (Cur).first_line = YYRHSLOC(Rhs, 1).first_line;                 \
      (Cur).first_column = YYRHSLOC(Rhs, 1).first_column;             \
      (Cur).start = YYRHSLOC(Rhs, 1).start;                           \
      (Cur).last_line = YYRHSLOC(Rhs, N).last_line;                   \
      (Cur).last_column = YYRHSLOC(Rhs, N).last_column;               \
      (Cur).end = YYRHSLOC(Rhs, N).end;                               \
    } else {                                                          \
      (Cur).first_line = (Cur).last_line = YYRHSLOC(Rhs, 0).last_line; \
      (Cur).first_column = (Cur).last_column =                        \
          YYRHSLOC(Rhs, 0).last_column;                               \
      (Cur).start = (Cur).end = YYRHSLOC(Rhs, 0).end;                 \
    }                                                                 \
  } while (0)

/* Shared by the parser and the scanner (its yyextra). */
typedef struct ParseState {
  Arena *arena;
  Diag *diag;
  const char *src;
  Ast *ast;
  int line, col;   /* where the next token starts */
  size_t offset;
  List braces;     /* Loc* of each '{' not yet closed, innermost last */
  GANLTYPE prev, last; /* the last two tokens read */
} ParseState;
}

%code {
#include <stdio.h>
#include <string.h>
}

%code provides {
int ganlex(GANSTYPE *lval, GANLTYPE *lloc, yyscan_t scanner);
void ganerror(GANLTYPE *lloc, yyscan_t scanner, ParseState *ps, const char *msg);
Loc loc_of(GANLTYPE l);
}

%union {
  const char *text;
  Value *value;
  Arg *arg;
  LayerNode *layer;
  DeclNode *decl;
  ModelNode *model;
  List list;
}

%token <text> MODEL "'model'" IDENT "identifier" NUMBER "number"
%type <value> value shape
%type <arg> arg
%type <layer> layer
%type <decl> decl
%type <model> model
%type <list> decls layers args values

%%

/* file: model* */
file:
  %empty
| file model { list_push(ps->arena, &ps->ast->models, $2); }
;

/* model: 'model' NAME '{' decl* '}' */
model:
  MODEL IDENT '{' decls '}' {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->name = $2;
    $$->loc = loc_of(@2);
    $$->kw_loc = loc_of(@1);
    $$->decls = $4;
  }
;

decls:
  %empty { $$ = (List){0}; }
| decls decl { $$ = $1; list_push(ps->arena, &$$, $2); }
;

/* decl: NAME SHAPE | NAME '{' layer* '}' | NAME WORD | NAME NUMBER */
decl:
  IDENT shape {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->kind = DECL_SHAPE;
    $$->name = $1;
    $$->loc = loc_of(@1);
    $$->shape = $2;
  }
| IDENT '{' layers '}' {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->kind = DECL_BLOCK;
    $$->name = $1;
    $$->loc = loc_of(@1);
    $$->layers = $3;
  }
| IDENT IDENT {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->kind = DECL_WORD;
    $$->name = $1;
    $$->loc = loc_of(@1);
    $$->word = $2;
    $$->word_loc = loc_of(@2);
  }
| IDENT NUMBER {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->kind = DECL_NUMBER;
    $$->name = $1;
    $$->loc = loc_of(@1);
    $$->word = $2;
    $$->word_loc = loc_of(@2);
  }
;

layers:
  %empty { $$ = (List){0}; }
| layers layer opt_semi { $$ = $1; list_push(ps->arena, &$$, $2); }
;

opt_semi: %empty | ';' ;

/* layer: NAME | NAME '(' [arg (',' arg)* [',']] ')' */
layer:
  IDENT {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->name = $1;
    $$->loc = loc_of(@1);
    $$->text_start = @1.start;
    $$->text_end = @1.end;
  }
| IDENT '(' ')' {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->name = $1;
    $$->loc = loc_of(@1);
    $$->has_parens = 1;
    $$->text_start = @1.start;
    $$->text_end = @3.end;
  }
| IDENT '(' args opt_comma ')' {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->name = $1;
    $$->loc = loc_of(@1);
    $$->has_parens = 1;
    $$->args = $3;
    $$->text_start = @1.start;
    $$->text_end = @5.end;
  }
;

opt_comma: %empty | ',' ;

args:
  arg { $$ = (List){0}; list_push(ps->arena, &$$, $1); }
| args ',' arg { $$ = $1; list_push(ps->arena, &$$, $3); }
;

/* arg: VALUE | KEY '=' VALUE */
arg:
  value {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->value = $1;
  }
| IDENT '=' value {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->key = $1;
    $$->key_loc = loc_of(@1);
    $$->value = $3;
  }
;

/* value: NUMBER | SHAPE */
value:
  NUMBER {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->kind = VAL_NUMBER;
    $$->loc = loc_of(@1);
    $$->text = $1;
  }
| shape
;

/* shape: '[' [value (',' value)*] ']' */
shape:
  '[' ']' {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->kind = VAL_SHAPE;
    $$->loc = loc_of(@$);
  }
| '[' values ']' {
    $$ = arena_alloc(ps->arena, sizeof *$$);
    $$->kind = VAL_SHAPE;
    $$->loc = loc_of(@$);
    $$->items = $2;
  }
;

values:
  value { $$ = (List){0}; list_push(ps->arena, &$$, $1); }
| values ',' value { $$ = $1; list_push(ps->arena, &$$, $3); }
;

%%

Loc loc_of(GANLTYPE l)
{
  Loc loc = {l.first_line, l.first_column, l.first_column + 1};
  if (l.last_line == l.first_line && l.last_column > l.first_column)
    loc.end_col = l.last_column;
  return loc;
}

/* The token as the user wrote it, for "unexpected identifier 'foo'". */
static void describe_token(ParseState *ps, yysymbol_kind_t tok, const GANLTYPE *l,
                           char *buf, size_t size)
{
  if (tok == YYSYMBOL_YYEOF) {
    snprintf(buf, size, "end of file");
    return;
  }
  size_t n = l->end - l->start;
  const char *text = ps->src + l->start;
  if (tok == YYSYMBOL_IDENT || tok == YYSYMBOL_NUMBER)
    snprintf(buf, size, "%s '%.*s'", yysymbol_name(tok), n > 40 ? 40 : (int)n, text);
  else
    snprintf(buf, size, "%s", yysymbol_name(tok));
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, ParseState *ps)
{
  (void)scanner;
  const GANLTYPE *l = yypcontext_location(ctx);
  yysymbol_kind_t tok = yypcontext_token(ctx);
  Loc loc = loc_of(*l);

  enum { MAX_EXPECTED = 6 };
  yysymbol_kind_t expected[MAX_EXPECTED];
  int n = yypcontext_expected_tokens(ctx, expected, MAX_EXPECTED);
  int lbrace = strcmp(yysymbol_name(tok), "'{'") == 0;

  /* A block left open: at the end of the file, or where the next
     declaration (NAME '{') is taken for a layer of the open block. */
  if (ps->braces.n > 0 && (tok == YYSYMBOL_YYEOF || (lbrace && ps->braces.n > 1))) {
    Loc *open = ps->braces.item[ps->braces.n - (tok == YYSYMBOL_YYEOF ? 1 : 2)];
    if (tok == YYSYMBOL_YYEOF)
      diag_error(ps->diag, loc, "expected '}' (to close '{' at line %d)", open->line);
    else
      diag_error(ps->diag, loc_of(ps->prev), "expected '}' (to close '{' at line %d) before '%.*s'", open->line,
                 (int)(ps->prev.end - ps->prev.start > 40 ? 40 : ps->prev.end - ps->prev.start),
                 ps->src + ps->prev.start);
    return 0;
  }
  char found[80];
  describe_token(ps, tok, l, found, sizeof found);

  Str msg = {0};
  str_printf(&msg, "unexpected %s", found);
  for (int i = 0; i < n; i++)
    str_printf(&msg, "%s%s", i == 0 ? "; expected " : i == n - 1 ? " or " : ", ",
               yysymbol_name(expected[i]));
  diag_error(ps->diag, loc, "%s", msg.buf ? msg.buf : "syntax error");
  str_free(&msg);
  return 0;
}

void ganerror(GANLTYPE *lloc, yyscan_t scanner, ParseState *ps, const char *msg)
{
  (void)scanner;
  if (strcmp(msg, "memory exhausted") == 0)
    msg = "nesting too deep";
  diag_error(ps->diag, loc_of(*lloc), "%s", msg);
}
