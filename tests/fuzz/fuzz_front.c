/* fuzz_front.c — libFuzzer target for the whole front end: bytes as a .gan
 * file through compile_source (lexer, parser, checker, lowering), then, for
 * every model that checks, the emitter's header, source, JIT unit and
 * compiled-in weights, into memory.
 *
 * Beyond what the sanitizers see, it aborts when the compiler breaks its
 * own contract: success and failure must agree with the diagnostics, every
 * diagnostic must point inside the file, and emitted text must be whole. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"

#define FILE_NAME "fuzz.gan"

/* Models with at most this many parameters also get NAME_weights.c. */
enum { WEIGHTS_LIMIT = 1 << 16 };

static void fail(const char *what, const Str *context)
{
  fprintf(stderr, "fuzz_front: %s\n", what);
  if (context && context->buf)
    fprintf(stderr, "%.*s\n", (int)(context->len < 4000 ? context->len : 4000), context->buf);
  abort();
}

static void check_text(const Str *s, const char *what)
{
  if (s->failed)
    fail(what, NULL); /* out of memory on inputs this small is a bug too */
  if (!s->buf || s->len == 0)
    fail(what, NULL);
  if (strlen(s->buf) != s->len)
    fail("a NUL byte in emitted text", s);
}

/* Bytes in line `line` (from 1) of src, without its newline; -1 if the
   file has fewer lines. */
static long line_length(const char *src, size_t len, long line)
{
  const char *p = src, *end = src + len;
  for (long l = 1; l < line; l++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
      return -1;
    p = nl + 1;
  }
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  return (long)((nl ? nl : end) - p);
}

/* Lines "fuzz.gan:LINE:COL: error: ..." must name a line of the file and a
   column on it, or just past its end. */
static void check_diagnostics(const Diag *d, const char *src, size_t len)
{
  const char *p = d->out.buf, *end = p + d->out.len;
  size_t prefix = strlen(FILE_NAME ":");
  int errors = 0;
  while (p && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
      fail("diagnostics do not end in a newline", &d->out);
    if ((size_t)(eol - p) > prefix && memcmp(p, FILE_NAME ":", prefix) == 0) {
      long line, col;
      char tail[8];
      if (sscanf(p + prefix, "%ld:%ld: %7s", &line, &col, tail) == 3) {
        if (strcmp(tail, "error:") != 0)
          fail("a diagnostic that is not an error", &d->out);
        long n = line >= 1 ? line_length(src, len, line) : -1;
        if (n < 0 || col < 1 || col > n + 1)
          fail("a diagnostic outside the file", &d->out);
        errors++;
      } else if (strncmp(p + prefix, " error: ", 8) == 0) {
        errors++;
      }
    }
    p = eol + 1;
  }
  if (errors == 0 || errors > DIAG_MAX_ERRORS)
    fail("the number of error lines is wrong", &d->out);
}

static void emit_model(const IrModel *m)
{
  for (int jit = 0; jit <= 1; jit++) {
    EmitOptions opt = {.source_name = FILE_NAME, .jit = jit, .weights = !jit};
    Str h = {0}, s = {0}, u = {0};
    emit_header(&h, m, &opt);
    emit_source(&s, m, &opt);
    emit_unit(&u, m, &opt);
    check_text(&h, "emit_header");
    check_text(&s, "emit_source");
    check_text(&u, "emit_unit");
    if (!strstr(h.buf, m->model->name) || !strstr(s.buf, m->model->name))
      fail("emitted code without the model's name", &h);
    str_free(&h);
    str_free(&s);
    str_free(&u);
  }
  int64_t n = m->model->param_count, ns = m->model->stats_count;
  if (n > 0 && n <= WEIGHTS_LIMIT && ns <= WEIGHTS_LIMIT) {
    size_t size = m->model->scalar == SCALAR_DOUBLE ? sizeof(double) : sizeof(float);
    void *params = calloc((size_t)n, size), *stats = calloc((size_t)(ns ? ns : 1), size);
    if (!params || !stats)
      fail("out of memory", NULL);
    EmitOptions opt = {.source_name = FILE_NAME, .weights = 1};
    Str w = {0};
    emit_weights(&w, m, &opt, params, stats);
    check_text(&w, "emit_weights");
    str_free(&w);
    free(params);
    free(stats);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* The CLI hands the compiler a NUL-terminated buffer; so do we, but the
     compiler must not read the terminator as part of the file. */
  char *src = malloc(size + 1);
  if (!src)
    return 0;
  memcpy(src, data, size);
  src[size] = 0;

  Compilation c;
  int rc = compile_source(&c, FILE_NAME, src, size);
  if ((rc == 0) != (c.ir != NULL))
    fail("compile_source's result disagrees with its IR", &c.diag.out);
  if (rc == 0) {
    if (c.diag.errors != 0 || c.diag.out.len != 0)
      fail("a successful compilation reported errors", &c.diag.out);
    if (!c.prog || c.ir->n != c.prog->n || c.ir->n < 1)
      fail("a successful compilation without every model", NULL);
    for (int i = 0; i < c.ir->n; i++)
      emit_model(&c.ir->models[i]);
  } else {
    if (c.diag.errors < 1 || c.diag.out.len == 0)
      fail("a failed compilation without a diagnostic", NULL);
    check_diagnostics(&c.diag, src, size);
  }
  compile_free(&c);
  free(src);
  return 0;
}
