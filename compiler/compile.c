/* compile.c — the front end as one call: parse, check, lower.
 *
 * Shared by the CLI and the JIT. Running out of memory anywhere in the
 * stages lands here (arena_oom) and becomes an ordinary error. */
#include <string.h>

#include "compiler.h"

int compile_source(Compilation *c, const char *file, const char *src, size_t len)
{
  jmp_buf oom;
  memset(c, 0, sizeof *c);
  diag_init(&c->diag, file, src, len);
  c->arena.on_oom = &oom;
  if (setjmp(oom)) {
    c->ir = NULL;
    diag_error_noloc(&c->diag, "out of memory");
    c->arena.on_oom = NULL;
    return -1;
  }
  if (len > COMPILE_MAX_SOURCE_BYTES) {
    diag_error_noloc(&c->diag, "file is too large (%zu bytes; at most %d)", len,
                     COMPILE_MAX_SOURCE_BYTES);
  } else {
    c->ast = parse_source(&c->arena, &c->diag, src, len);
    if (c->ast)
      c->prog = check_program(&c->arena, &c->diag, c->ast, src);
    if (c->prog)
      c->ir = lower_program(&c->arena, &c->diag, c->prog);
  }
  c->arena.on_oom = NULL;
  if (c->diag.out.failed) {
    c->ir = NULL;
    return -1;
  }
  return c->ir ? 0 : -1;
}

void compile_free(Compilation *c)
{
  arena_free(&c->arena);
  diag_free(&c->diag);
  c->ast = NULL;
  c->prog = NULL;
  c->ir = NULL;
}
