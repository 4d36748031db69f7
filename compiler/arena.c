/* arena.c — the compilation's bump allocator, growable strings and lists.
 *
 * Every stage allocates from one Arena; arena_free releases a whole
 * compilation at once. When memory runs out, arena_oom jumps back to
 * compile_source, which reports it as an error: no stage checks pointers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"

struct ArenaBlock {
  ArenaBlock *next;
  size_t used, size;
  _Alignas(max_align_t) unsigned char data[];
};

enum { BLOCK_SIZE = 64 * 1024 };

void arena_oom(Arena *a)
{
  if (a->on_oom)
    longjmp(*a->on_oom, 1);
  fputs("ganc: out of memory\n", stderr);
  abort(); /* only reachable from a stage run outside compile_source */
}

void *arena_alloc(Arena *a, size_t size)
{
  size_t align = _Alignof(max_align_t);
  size = (size + align - 1) & ~(align - 1);
  ArenaBlock *b = a->head;
  if (!b || b->size - b->used < size) {
    size_t cap = size > BLOCK_SIZE ? size : BLOCK_SIZE;
    b = malloc(sizeof *b + cap);
    if (!b)
      arena_oom(a);
    b->size = cap;
    b->used = 0;
    b->next = a->head;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += size;
  memset(p, 0, size);
  return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
  char *p = arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

char *arena_strdup(Arena *a, const char *s)
{
  return arena_strndup(a, s, strlen(s));
}

void arena_free(Arena *a)
{
  ArenaBlock *b = a->head;
  while (b) {
    ArenaBlock *next = b->next;
    free(b);
    b = next;
  }
  a->head = NULL;
}

void list_push(Arena *a, List *l, void *item)
{
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 4;
    void **items = arena_alloc(a, (size_t)cap * sizeof *items);
    if (l->n)
      memcpy(items, l->item, (size_t)l->n * sizeof *items);
    l->item = items;
    l->cap = cap;
  }
  l->item[l->n++] = item;
}

/* Strings live on the C heap: the emitted code and the diagnostics outlive
   the compilation's arena. Out of memory marks the string failed and drops
   what follows; the caller reports it. */
static int str_reserve(Str *s, size_t extra)
{
  if (s->failed)
    return 0;
  if (s->len + extra + 1 <= s->cap)
    return 1;
  size_t cap = s->cap ? s->cap : 256;
  while (cap < s->len + extra + 1)
    cap *= 2;
  char *buf = realloc(s->buf, cap);
  if (!buf) {
    s->failed = 1;
    return 0;
  }
  s->buf = buf;
  s->cap = cap;
  return 1;
}

void str_putn(Str *s, const char *p, size_t n)
{
  if (!str_reserve(s, n))
    return;
  memcpy(s->buf + s->len, p, n);
  s->len += n;
  s->buf[s->len] = 0;
}

void str_puts(Str *s, const char *p)
{
  str_putn(s, p, strlen(p));
}

void str_putc(Str *s, char c)
{
  str_putn(s, &c, 1);
}

void str_vprintf(Str *s, const char *fmt, va_list ap)
{
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0 || !str_reserve(s, (size_t)n))
    return;
  vsnprintf(s->buf + s->len, (size_t)n + 1, fmt, ap);
  s->len += (size_t)n;
}

void str_printf(Str *s, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  str_vprintf(s, fmt, ap);
  va_end(ap);
}

void str_free(Str *s)
{
  free(s->buf);
  s->buf = NULL;
  s->len = s->cap = 0;
  s->failed = 0;
}
