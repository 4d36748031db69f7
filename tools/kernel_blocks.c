/* kernel_blocks.c — runtime/kernels.inc split into its top-level items, for
 * the build:
 *
 *   kernel_blocks INPUT OUTPUT          the blocks as a C table (kernel_blocks.h,
 *                                       for compiler/emit.c)
 *   kernel_blocks --names INPUT OUTPUT  K(name) for each KERNEL function, in
 *                                       order (kernel_names.h, runtime/kernels.c)
 *
 * The input is lexed as C: comments, string and character literals,
 * preprocessor lines with their continuations, and brackets. A top-level
 * item is a function definition, ended by the '}' of its body; a
 * declaration, ended by a ';' outside brackets; or a preprocessor line. The
 * comments directly above an item (no blank line between) belong to it, as
 * do comments after its end on the same line; comments standing apart are
 * items of their own. A block is one function definition, or a run of the
 * other items with no blank line between them. Each block records its text,
 * the function it defines, whether that function is a KERNEL (the macro
 * begins the definition) with the declaration the JIT needs, and the blocks
 * whose functions it uses (calls, or passes as an argument: any identifier
 * that names one).
 *
 * What it cannot classify is an error, "INPUT:LINE: error: ...", with exit
 * status 1 and no output written. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- input and errors ---- */

static const char *path;
static char *src; /* NUL-terminated */
static int len;

static void fail(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void fail(int line, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s:%d: error: ", path, line);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void *grow(void *p, int *cap, int need, size_t size)
{
  if (need <= *cap)
    return p;
  while (*cap < need)
    *cap = *cap ? *cap * 2 : 64;
  p = realloc(p, (size_t)*cap * size);
  if (!p) {
    fputs("kernel_blocks: out of memory\n", stderr);
    exit(1);
  }
  return p;
}

static void read_input(void)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "kernel_blocks: cannot open '%s': %s\n", path, strerror(errno));
    exit(1);
  }
  int cap = 0;
  size_t got;
  len = 0;
  do {
    src = grow(src, &cap, len + 4097, 1);
    got = fread(src + len, 1, (size_t)(cap - len - 1), f);
    len += (int)got;
  } while (got > 0);
  if (ferror(f)) {
    fprintf(stderr, "kernel_blocks: cannot read '%s': %s\n", path, strerror(errno));
    exit(1);
  }
  fclose(f);
  src[len] = 0;
  if (memchr(src, 0, (size_t)len))
    fail(1, "NUL byte in the file");
}

/* ---- lexing ---- */

typedef enum Kind {
  T_IDENT,
  T_NUMBER,
  T_STRING, /* or a character constant */
  T_PUNCT,
  T_COMMENT,
  T_HASH,  /* the '#' that begins a preprocessor line */
  T_PPEND, /* where that line ends: at its newline, no width */
} Kind;

typedef struct Token {
  Kind kind;
  int start, end; /* offsets in src */
  int line;
  int newlines; /* between the previous token and this one */
  int pp;       /* part of a preprocessor line, T_HASH to T_PPEND */
} Token;

static Token *tok;
static int ntok, tokcap;

static int is_ident_start(int c)
{
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_ident_char(int c)
{
  return is_ident_start(c) || (c >= '0' && c <= '9');
}

static int is_punct(const Token *t, const char *p)
{
  return t->kind == T_PUNCT && t->end - t->start == (int)strlen(p) && memcmp(src + t->start, p, strlen(p)) == 0;
}

static int is_ident(const Token *t, const char *name)
{
  return t->kind == T_IDENT && t->end - t->start == (int)strlen(name) &&
         memcmp(src + t->start, name, strlen(name)) == 0;
}

/* The length of the punctuator at p: enough to tell '=' from '==', '<=',
   '+=', '<<=' and the like; other characters one at a time. */
static int punct_len(const char *p)
{
  if ((p[0] == '<' || p[0] == '>') && p[1] == p[0])
    return p[2] == '=' ? 3 : 2;
  if (strchr("=!<>+-*/%&|^", p[0]) && p[1] == '=')
    return 2;
  return 1;
}

static void lex(void)
{
  int i = 0, line = 1, newlines = 0, bol = 1, pp = 0;
  while (i < len) {
    int c = (unsigned char)src[i];
    if (c == '\n') {
      if (pp) {
        tok = grow(tok, &tokcap, ntok + 1, sizeof *tok);
        tok[ntok++] = (Token){T_PPEND, i, i, line, newlines, 1};
        newlines = 0;
        pp = 0;
      }
      newlines++;
      line++;
      bol = 1;
      i++;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      i++;
      continue;
    }
    if (c == '\\' && src[i + 1] == '\n') {
      if (!pp)
        fail(line, "'\\' at the end of a line outside a preprocessor line");
      i += 2;
      line++;
      continue;
    }
    int start = i, first_line = line;
    Kind kind = T_PUNCT;
    if (c == '/' && src[i + 1] == '*') {
      for (i += 2; i < len && !(src[i] == '*' && src[i + 1] == '/'); i++)
        line += src[i] == '\n';
      if (i >= len)
        fail(first_line, "unterminated comment");
      i += 2;
      kind = T_COMMENT;
    } else if (c == '/' && src[i + 1] == '/') {
      for (; i < len && src[i] != '\n'; i++)
        if (src[i] == '\\' && src[i + 1] == '\n')
          i++, line++;
      kind = T_COMMENT;
    } else if (c == '"' || c == '\'') {
      for (i++; src[i] != c; i++) {
        if (i >= len || src[i] == '\n')
          fail(first_line, "missing terminating %c character", c);
        if (src[i] == '\\' && i + 1 < len) {
          i++;
          line += src[i] == '\n';
        }
      }
      i++;
      kind = T_STRING;
    } else if (is_ident_start(c)) {
      while (is_ident_char(src[i]))
        i++;
      kind = T_IDENT;
    } else if ((c >= '0' && c <= '9') || (c == '.' && src[i + 1] >= '0' && src[i + 1] <= '9')) {
      /* a preprocessing number: 0x1p-64f, 1e+5, 12u */
      for (i++; is_ident_char(src[i]) || src[i] == '.' ||
                ((src[i] == '+' || src[i] == '-') && strchr("eEpP", src[i - 1]));
           i++)
        ;
      kind = T_NUMBER;
    } else if (c == '#' && bol) {
      pp = 1;
      i++;
      kind = T_HASH;
    } else if (pp || (c < 127 && strchr("()[]{};,=<>!+-*/%&|^~?:.", c))) {
      i += punct_len(src + i);
    } else if (c == '#') {
      fail(line, "'#' not at the start of a line, outside a preprocessor line");
    } else if (c > ' ' && c < 127) {
      fail(line, "stray '%c'", c);
    } else {
      fail(line, "stray byte 0x%02x", (unsigned)c);
    }
    tok = grow(tok, &tokcap, ntok + 1, sizeof *tok);
    tok[ntok++] = (Token){kind, start, i, first_line, newlines, pp};
    newlines = 0;
    if (kind != T_COMMENT)
      bol = 0;
  }
}

/* ---- items and blocks ---- */

typedef struct Item {
  int first, last; /* tokens, with its comments */
  int code;        /* its first token after the leading comments */
  int start, end;  /* offsets: the start of its first line, past the newline ending its last */
  int same_line;   /* begins on the line where the item before it ends */
  int function;
  int name, close; /* a function's name token and the ')' closing its parameter list */
  int kernel;
} Item;

static Item *items;
static int nitems, itemcap;

/* Past the newline that ends the line of offset p. */
static int line_end(int p)
{
  while (p < len && src[p] != '\n')
    p++;
  return p < len ? p + 1 : len;
}

static int line_start(int p)
{
  while (p > 0 && src[p - 1] != '\n')
    p--;
  return p;
}

/* The last token of the preprocessor line that token t is part of. */
static int directive_end(int t)
{
  while (tok[t].kind != T_PPEND)
    t++;
  return t;
}

/* Adds the item of tokens first .. last and the comments after it on its
   last line; returns its last token. */
static int add_item(int first, int code, int last, int function)
{
  while (last + 1 < ntok && tok[last + 1].kind == T_COMMENT && tok[last + 1].newlines == 0)
    last++;
  items = grow(items, &itemcap, nitems + 1, sizeof *items);
  Item *it = &items[nitems];
  *it = (Item){.first = first, .last = last, .code = code, .function = function, .name = -1, .close = -1};
  const Item *prev = nitems ? &items[nitems - 1] : NULL;
  it->same_line = prev && tok[first].newlines == 0;
  it->start = it->same_line ? prev->end : line_start(tok[first].start);
  it->end = last + 1 < ntok && tok[last + 1].newlines == 0 ? tok[last + 1].start : line_end(tok[last].end);
  it->kernel = is_ident(&tok[code], "KERNEL");
  if (it->kernel && !function)
    fail(tok[code].line, "KERNEL begins something that is not a function definition");
  nitems++;
  return last;
}

static void split_items(void)
{
  int *open = NULL, depth = 0, opencap = 0; /* the brackets open, by token */
  int lead = -1;  /* the first of the comments waiting for the next item */
  int first = -1; /* the current item's first token (its leading comment) */
  int code = -1;  /* its first token after the comments; -1 between items */
  int prev = -1;  /* the code token before this one, in the item */
  int group = -1, group_close = -1; /* the last ( ) at depth 0 */
  int body = -1, assigns = 0;       /* a function body's '{'; an '=' at depth 0 */
  for (int t = 0; t < ntok; t++) {
    const Token *k = &tok[t];
    if (k->kind == T_COMMENT) {
      if (code < 0) {
        if (lead >= 0 && k->newlines >= 2) /* a blank line: the comments above stand apart */
          add_item(lead, lead, t - 1, 0);
        if (lead < 0 || k->newlines >= 2)
          lead = t;
      }
      continue;
    }
    if (code < 0) {
      if (lead >= 0 && k->newlines >= 2) {
        add_item(lead, lead, t - 1, 0);
        lead = -1;
      }
      first = lead >= 0 ? lead : t;
      code = t;
      lead = prev = group = group_close = body = -1;
      assigns = 0;
      if (k->kind == T_HASH) {
        t = add_item(first, code, directive_end(t), 0);
        code = -1;
        continue;
      }
    }
    if (k->kind == T_HASH) {
      if (is_ident(&tok[code], "KERNEL") && body < 0)
        fail(k->line, "preprocessor line inside the signature of a KERNEL function");
      t = directive_end(t);
      continue;
    }
    if (is_punct(k, "(") || is_punct(k, "[") || is_punct(k, "{")) {
      if (depth == 0 && is_punct(k, "("))
        group = t;
      if (depth == 0 && is_punct(k, "{") && prev >= 0 && prev == group_close && !assigns)
        body = t;
      open = grow(open, &opencap, depth + 1, sizeof *open);
      open[depth++] = t;
    } else if (is_punct(k, ")") || is_punct(k, "]") || is_punct(k, "}")) {
      char c = src[k->start], want = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (depth == 0)
        fail(k->line, "unmatched '%c'", c);
      int o = open[--depth];
      if (src[tok[o].start] != want)
        fail(k->line, "'%c' does not match the '%c' of line %d", c, src[tok[o].start], tok[o].line);
      if (depth == 0 && c == ')')
        group_close = t;
      if (depth == 0 && o == body) {
        int name = group - 1;
        while (name >= code && (tok[name].kind == T_COMMENT || tok[name].pp))
          name--;
        if (name < code || tok[name].kind != T_IDENT)
          fail(tok[code].line, "a function definition whose name is not an identifier before its parameters");
        t = add_item(first, code, t, 1);
        items[nitems - 1].name = name;
        items[nitems - 1].close = group_close;
        code = -1;
        continue;
      }
    } else if (depth == 0 && is_punct(k, ";")) {
      t = add_item(first, code, t, 0);
      code = -1;
      continue;
    } else if (depth == 0 && is_punct(k, "=")) {
      assigns = 1;
    } else if (depth == 0 && t != code && is_ident(k, "KERNEL")) {
      fail(k->line, "KERNEL not at the start of a function definition");
    }
    prev = t;
  }
  if (depth > 0)
    fail(tok[open[depth - 1]].line, "unclosed '%c'", src[tok[open[depth - 1]].start]);
  if (code >= 0)
    fail(tok[code].line, "this item does not end: no ';' or function body follows");
  if (lead >= 0)
    add_item(lead, lead, ntok - 1, 0);
  free(open);
}

typedef struct Block {
  int start, end; /* offsets in src */
  int item;       /* its function's item, or -1 */
  int line;
  char *calls;    /* [nblocks]: uses block j's function */
} Block;

static Block *blocks;
static int nblocks, blockcap;

static int name_is(const Item *it, const char *p, int n)
{
  const Token *t = &tok[it->name];
  return t->end - t->start == n && memcmp(src + t->start, p, (size_t)n) == 0;
}

static void make_blocks(void)
{
  for (int i = 0; i < nitems; i++) {
    const Item *it = &items[i];
    if (it->function && it->same_line)
      fail(tok[it->first].line, "a function definition not on a line of its own");
    if (it->function && i + 1 < nitems && items[i + 1].same_line)
      fail(tok[items[i + 1].first].line, "more on the line where function '%.*s' ends",
           tok[it->name].end - tok[it->name].start, src + tok[it->name].start);
    if (it->function)
      for (int j = 0; j < i; j++)
        if (items[j].function && name_is(&items[j], src + tok[it->name].start, tok[it->name].end - tok[it->name].start))
          fail(tok[it->name].line, "function '%.*s' defined twice (first at line %d)",
               tok[it->name].end - tok[it->name].start, src + tok[it->name].start, tok[items[j].name].line);
    Block *last = nblocks ? &blocks[nblocks - 1] : NULL;
    if (last && last->item < 0 && !it->function && (it->same_line || tok[it->first].newlines < 2)) {
      last->end = it->end;
      continue;
    }
    blocks = grow(blocks, &blockcap, nblocks + 1, sizeof *blocks);
    blocks[nblocks++] =
        (Block){.start = it->start, .end = it->end, .item = it->function ? i : -1, .line = tok[it->first].line};
  }
  if (nblocks == 0)
    fail(1, "no items in the file");
}

/* The block whose function is named by token t, or -1. */
static int function_block(const Token *t)
{
  for (int b = 0; b < nblocks; b++)
    if (blocks[b].item >= 0 && name_is(&items[blocks[b].item], src + t->start, t->end - t->start))
      return b;
  return -1;
}

static void find_calls(void)
{
  for (int b = 0; b < nblocks; b++)
    blocks[b].calls = calloc((size_t)nblocks, 1);
  int b = 0;
  for (int t = 0; t < ntok; t++) {
    const Token *k = &tok[t];
    if (k->kind != T_IDENT)
      continue;
    while (b + 1 < nblocks && k->start >= blocks[b].end)
      b++;
    int callee = function_block(k);
    if (callee >= 0 && callee != b)
      blocks[b].calls[callee] = 1;
  }
}

/* ---- output ---- */

typedef struct Out {
  char *buf;
  int len, cap;
} Out;

static void out_printf(Out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void out_printf(Out *o, const char *fmt, ...)
{
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  o->buf = grow(o->buf, &o->cap, o->len + n + 1, 1);
  vsnprintf(o->buf + o->len, (size_t)n + 1, fmt, ap);
  o->len += n;
  va_end(ap);
}

/* s[0, n) as C string literals, one a line, each line after the first
   indented by indent. */
static void out_literal(Out *o, const char *s, int n, const char *indent)
{
  if (n == 0)
    out_printf(o, "\"\"");
  for (int i = 0; i < n;) {
    out_printf(o, "%s\"", i == 0 ? "" : indent);
    for (; i < n; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c == '\\' || c == '"')
        out_printf(o, "\\%c", c);
      else if (c == '?' && i > 0 && s[i - 1] == '?') /* no trigraphs */
        out_printf(o, "\\?");
      else if (c == '\n')
        out_printf(o, "\\n");
      else if (c == '\t')
        out_printf(o, "\\t");
      else if (c < ' ' || c >= 127)
        out_printf(o, "\\%03o", c);
      else
        out_printf(o, "%c", c);
      if (c == '\n') {
        i++;
        break;
      }
    }
    out_printf(o, "\"%s", i < n ? "\n" : "");
  }
}

/* A KERNEL's declaration: its signature after KERNEL, comments left out,
   the space between two tokens kept unless it holds a newline or a comment
   (then one space), and ';'. */
static void out_decl(Out *o, const Item *it)
{
  Out d = {0};
  int prev = -1;
  for (int t = it->code + 1; t <= it->close; t++) {
    if (tok[t].kind == T_COMMENT)
      continue;
    if (prev >= 0) {
      int plain = 1;
      for (int i = tok[prev].end; i < tok[t].start; i++)
        plain &= src[i] == ' ' || src[i] == '\t';
      if (plain)
        out_printf(&d, "%.*s", tok[t].start - tok[prev].end, src + tok[prev].end);
      else
        out_printf(&d, " ");
    }
    out_printf(&d, "%.*s", tok[t].end - tok[t].start, src + tok[t].start);
    prev = t;
  }
  out_printf(&d, ";");
  out_literal(o, d.buf, d.len, "");
  free(d.buf);
}

static void write_blocks(Out *o)
{
  out_printf(o, "/* Generated by tools/kernel_blocks from %s: its top-level items\n"
                "   as blocks, in order, for compiler/emit.c. */\n\n", path);
  out_printf(o, "typedef struct KernelBlock {\n"
                "  const char *text;  /* as in the file, from its leading comment; ends with a newline */\n"
                "  const char *name;  /* the function it defines, or NULL */\n"
                "  int kernel;        /* 1: that function is defined with KERNEL, */\n"
                "  int macro, rest;   /* which is at text[macro], what follows it at text[rest] */\n"
                "  const char *decl;  /* a KERNEL's declaration, without the macro, ending with ';' */\n"
                "  const int *calls;  /* the blocks whose functions it uses, then -1 */\n"
                "} KernelBlock;\n\n");
  out_printf(o, "enum { KERNEL_BLOCK_COUNT = %d };\n\n", nblocks);
  out_printf(o, "static const int kernel_block_calls[] = {\n");
  int *at = calloc((size_t)nblocks, sizeof *at), n = 0;
  for (int b = 0; b < nblocks; b++) {
    at[b] = n;
    out_printf(o, "    ");
    for (int j = 0; j < nblocks; j++)
      if (blocks[b].calls[j]) {
        out_printf(o, "%d, ", j);
        n++;
      }
    out_printf(o, "-1, /* %d */\n", b);
    n++;
  }
  out_printf(o, "};\n\n");
  out_printf(o, "static const KernelBlock kernel_blocks[KERNEL_BLOCK_COUNT] = {\n");
  for (int b = 0; b < nblocks; b++) {
    const Block *k = &blocks[b];
    out_printf(o, "    /* %d: line %d */\n    {.text = ", b, k->line);
    out_literal(o, src + k->start, k->end - k->start, "             ");
    if (k->item >= 0) {
      const Item *it = &items[k->item];
      const Token *name = &tok[it->name];
      out_printf(o, ",\n     .name = \"%.*s\"", name->end - name->start, src + name->start);
      if (it->kernel) {
        out_printf(o, ",\n     .kernel = 1, .macro = %d, .rest = %d,\n     .decl = ", tok[it->code].start - k->start,
                   tok[it->code + 1].start - k->start);
        out_decl(o, it);
      }
    }
    out_printf(o, ",\n     .calls = kernel_block_calls + %d},\n", at[b]);
  }
  out_printf(o, "};\n");
  free(at);
}

static void write_names(Out *o)
{
  for (int i = 0; i < nitems; i++)
    if (items[i].kernel)
      out_printf(o, "K(%.*s)\n", tok[items[i].name].end - tok[items[i].name].start, src + tok[items[i].name].start);
}

int main(int argc, char **argv)
{
  int names = argc == 4 && strcmp(argv[1], "--names") == 0;
  if (argc != 3 + names) {
    fputs("usage: kernel_blocks [--names] INPUT OUTPUT\n", stderr);
    return 2;
  }
  path = argv[1 + names];
  const char *out_path = argv[2 + names];
  read_input();
  if (len > 0 && src[len - 1] != '\n') {
    int line = 1;
    for (int i = 0; i < len; i++)
      line += src[i] == '\n';
    fail(line, "no newline at the end of the file");
  }
  lex();
  split_items();
  make_blocks();
  find_calls();
  Out o = {0};
  if (names)
    write_names(&o);
  else
    write_blocks(&o);
  FILE *f = fopen(out_path, "wb");
  int ok = f && fwrite(o.buf, 1, (size_t)o.len, f) == (size_t)o.len;
  if (f && fclose(f) != 0)
    ok = 0;
  free(o.buf);
  if (!ok) {
    fprintf(stderr, "kernel_blocks: cannot write '%s': %s\n", out_path, strerror(errno));
    remove(out_path);
    return 1;
  }
  return 0;
}
