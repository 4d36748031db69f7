/* fuzz_csv.c — libFuzzer target for the CSV loader: bytes as FILE.csv, read
 * for three observations and, with a label first on every row, for a
 * conditional model's (fuzz_data.h).
 *
 * Beyond what the sanitizers see, it checks what the format's description
 * promises does not matter: a final newline, a UTF-8 byte order mark in
 * front, and CRLF line ends instead of LF each leave the samples (and
 * labels) as they were, or the failure a failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_data.h"

enum { DRAWS = 16 };

typedef struct Result {
  int loaded;
  int64_t count;
  void *samples; /* DRAWS of them, drawn with a fixed seed */
  int labels[DRAWS];
  char err[512];
} Result;

static Result load(const uint8_t *data, size_t size, const ganc_info *info)
{
  Result r = {0};
  ganc_data *d = fuzz_open(fuzz_write("in.csv", data, size), info, r.err, sizeof r.err);
  if (d) {
    r.loaded = 1;
    r.count = ganc_data_count(d);
    r.samples = fuzz_batch(d, info, DRAWS, r.labels);
    ganc_data_free(d);
  }
  return r;
}

static void same(const Result *a, const Result *b, const ganc_info *info, const char *what)
{
  size_t bytes = DRAWS * (size_t)info->obs_size * (size_t)info->scalar_size;
  if (a->loaded != b->loaded)
    fuzz_fail(what, a->loaded ? b->err : a->err);
  if (a->loaded && (a->count != b->count || memcmp(a->samples, b->samples, bytes) != 0))
    fuzz_fail(what, "other samples");
  if (a->loaded && info->classes > 0 && memcmp(a->labels, b->labels, sizeof a->labels) != 0)
    fuzz_fail(what, "other labels");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > (1 << 16))
    return 0;
  uint8_t *buf = malloc(2 * size + 3);
  if (!buf)
    return 0;
  int has_cr = memchr(data, '\r', size) != NULL;
  int has_bom = size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0;
  for (int i = 0; i <= NOBS; i++) {
    const ganc_info *info = i < NOBS ? &fuzz_obs[i] : &fuzz_labelled;
    Result base = load(data, size, info);
    if (base.loaded) {
      int64_t lines = 1;
      for (size_t j = 0; j < size; j++)
        lines += data[j] == '\n';
      if (base.count > lines)
        fuzz_fail("more samples than lines", NULL);
    }

    memcpy(buf, data, size);
    buf[size] = '\n';
    Result r = load(buf, size + 1, info);
    same(&base, &r, info, "a final newline changed the result");
    free(r.samples);

    if (!has_bom) {
      memcpy(buf, "\xEF\xBB\xBF", 3);
      memcpy(buf + 3, data, size);
      r = load(buf, size + 3, info);
      same(&base, &r, info, "a byte order mark changed the result");
      free(r.samples);
    }

    if (!has_cr) {
      size_t n = 0;
      for (size_t j = 0; j < size; j++) {
        if (data[j] == '\n')
          buf[n++] = '\r';
        buf[n++] = data[j];
      }
      r = load(buf, n, info);
      same(&base, &r, info, "CRLF line ends changed the result");
      free(r.samples);
    }
    free(base.samples);
  }
  free(buf);
  return 0;
}
