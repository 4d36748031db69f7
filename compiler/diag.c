/* diag.c — compiler diagnostics, the one place that formats them.
 *
 *   file.gan:12:5: error: generator produces [784] but observation is [1, 28, 28]
 *      12 |     linear(784)
 *         |     ^~~~~~~~~~~
 *
 * Columns count bytes from 1. The quoted line shows unprintable bytes as '?'
 * so that binary input cannot garble a terminal; the caret line copies tabs
 * and skips UTF-8 continuation bytes so that the caret stays under the
 * column on screen. */
#include <stdio.h>
#include <string.h>

#include "compiler.h"

void diag_init(Diag *d, const char *file, const char *src, size_t srclen)
{
  memset(d, 0, sizeof *d);
  d->file = file;
  d->src = src;
  d->srclen = srclen;
}

int diag_full(const Diag *d)
{
  return d->errors >= DIAG_MAX_ERRORS;
}

/* The start of line `line` (1-based) and its length, without the newline. */
static const char *find_line(const Diag *d, int line, size_t *len)
{
  const char *p = d->src, *end = d->src + d->srclen;
  for (int l = 1; l < line && p < end; l++) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
      return NULL;
    p = nl + 1;
  }
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  *len = (size_t)((nl ? nl : end) - p);
  return p;
}

static void quote_line(Diag *d, Loc loc)
{
  size_t len;
  const char *line = d->src ? find_line(d, loc.line, &len) : NULL;
  if (!line)
    return;
  if (len > 0 && line[len - 1] == '\r')
    len--;
  str_printf(&d->out, "%5d | ", loc.line);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)line[i];
    str_putc(&d->out, (c == '\t' || c >= 0x80 || (c >= 0x20 && c < 0x7f)) ? (char)c : '?');
  }
  str_puts(&d->out, "\n      | ");
  size_t col = loc.col > 0 ? (size_t)loc.col - 1 : 0;
  for (size_t i = 0; i < col && i < len; i++) {
    unsigned char c = (unsigned char)line[i];
    if (c == '\t')
      str_putc(&d->out, '\t');
    else if ((c & 0xC0) != 0x80)
      str_putc(&d->out, ' ');
  }
  str_putc(&d->out, '^');
  for (int i = loc.col + 1; i < loc.end_col && (size_t)i <= len; i++)
    if (((unsigned char)line[i - 1] & 0xC0) != 0x80)
      str_putc(&d->out, '~');
  str_putc(&d->out, '\n');
}

void diag_verror(Diag *d, Loc loc, const char *fmt, va_list ap)
{
  if (diag_full(d))
    return;
  d->errors++;
  str_printf(&d->out, "%s:%d:%d: error: ", d->file, loc.line, loc.col);
  str_vprintf(&d->out, fmt, ap);
  str_putc(&d->out, '\n');
  quote_line(d, loc);
  if (diag_full(d))
    str_printf(&d->out, "%s: too many errors; stopping\n", d->file);
}

void diag_error(Diag *d, Loc loc, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  diag_verror(d, loc, fmt, ap);
  va_end(ap);
}

void diag_error_noloc(Diag *d, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  d->errors++;
  str_printf(&d->out, "%s: error: ", d->file);
  str_vprintf(&d->out, fmt, ap);
  str_putc(&d->out, '\n');
  va_end(ap);
}

void diag_free(Diag *d)
{
  str_free(&d->out);
}
