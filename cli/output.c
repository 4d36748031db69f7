/* output.c — the files the commands write: folders created as mkdir -p,
 * emitted C text, and `ganc sample`'s samples as CSV, raw floats or PNG. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "io.h"

int output_make_dir(const char *dir)
{
  char *path = strdup(dir);
  int rc = 0;
  if (!path) {
    fputs("ganc: out of memory\n", stderr);
    return EXIT_USER;
  }
  /* Each prefix ending at a '/', then the whole path. */
  for (char *p = path + 1;; p++) {
    int end = *p == 0;
    if (*p != '/' && !end)
      continue;
    *p = 0;
    struct stat st;
    if (mkdir(path, 0777) != 0 && (errno != EEXIST || stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) {
      fprintf(stderr, "ganc: cannot create folder '%s': %s\n", path,
              errno == EEXIST ? "Not a directory" : strerror(errno));
      rc = EXIT_USER;
      break;
    }
    if (end)
      break;
    *p = '/';
  }
  free(path);
  return rc;
}

int output_write_text(const char *dir, const char *name, const char *suffix, const Str *s, int report)
{
  size_t plen = strlen(dir) + strlen(name) + strlen(suffix) + 2;
  char *path = malloc(plen);
  if (!path || s->failed) {
    if (report)
      fputs("ganc: out of memory\n", stderr);
    free(path);
    return EXIT_USER;
  }
  snprintf(path, plen, "%s/%s%s", dir, name, suffix);
  FILE *f = fopen(path, "w");
  int ok = f && fwrite(s->buf, 1, s->len, f) == s->len, why = errno; /* the first failure's */
  if (f && fclose(f) != 0 && ok) {
    ok = 0;
    why = errno;
  }
  if (!ok && report)
    fprintf(stderr, "ganc: cannot write '%s': %s\n", path, strerror(why));
  free(path);
  return ok ? 0 : EXIT_USER;
}

SampleFormat output_sample_format(const char *out)
{
  if (strcmp(out, "-") == 0 || ganc_ends_with(out, ".csv"))
    return SAMPLES_CSV;
  if (ganc_ends_with(out, ".f32"))
    return SAMPLES_F32;
  if (ganc_ends_with(out, ".png"))
    return SAMPLES_PNG;
  return SAMPLES_NONE;
}

static double value_at(const void *p, int size, int64_t i)
{
  return size == 4 ? ((const float *)p)[i] : ((const double *)p)[i];
}

static int cannot_write(const char *out)
{
  fprintf(stderr, "ganc: cannot write '%s': %s\n", out, strerror(errno));
  return EXIT_USER;
}

/* A sample per row, with the digits that read back to the same scalar. */
/* A sample per row, after its label when it has one (as labelled CSV data
   reads it back). */
static int write_csv(const char *out, const ganc_info *info, const void *x, const int *labels, long n)
{
  FILE *f = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
  if (!f)
    return cannot_write(out);
  for (long i = 0; i < n; i++) {
    if (labels)
      fprintf(f, "%d,", labels[i]);
    for (int64_t j = 0; j < info->obs_size; j++)
      fprintf(f, info->scalar_size == 4 ? "%.9g%c" : "%.17g%c", value_at(x, info->scalar_size, i * info->obs_size + j),
              j + 1 < info->obs_size ? ',' : '\n');
  }
  if (f != stdout ? fclose(f) != 0 : fflush(f) != 0)
    return cannot_write(out);
  return 0;
}

static int write_f32(const char *out, const ganc_info *info, const void *x, long n)
{
  FILE *f = fopen(out, "wb");
  int ok = f != NULL;
  for (int64_t i = 0; ok && i < (int64_t)n * info->obs_size; i++) {
    float v = (float)value_at(x, info->scalar_size, i);
    unsigned char b[4];
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int k = 0; k < 4; k++)
      b[k] = (unsigned char)(u >> (8 * k)); /* little-endian whatever the host */
    ok = fwrite(b, 1, 4, f) == 4;
  }
  if (!f || fclose(f) != 0 || !ok)
    return cannot_write(out);
  return 0;
}

static int write_png(const char *out, const ganc_info *info, const void *x, const int *labels, int per_class, long n,
                     const char *data_spec)
{
  char err[4096];
  ganc_data *data = NULL;
  if (data_spec && !(data = ganc_data_open(data_spec, info, err, sizeof err))) {
    fprintf(stderr, "ganc: %s\n", err);
    return EXIT_USER;
  }
  int rc = ganc_write_samples_png(info, out, x, (int)n, labels, per_class, data, err, sizeof err);
  ganc_data_free(data);
  if (rc < 0) {
    fprintf(stderr, "ganc: %s\n", err);
    return EXIT_USER;
  }
  return 0;
}

int output_write_samples(const char *out, SampleFormat format, const ganc_info *info, const void *x, const int *labels,
                         int per_class, long n, const char *data_spec)
{
  switch (format) {
  case SAMPLES_CSV: return write_csv(out, info, x, labels, n);
  case SAMPLES_F32: return write_f32(out, info, x, n);
  case SAMPLES_PNG: return write_png(out, info, x, labels, per_class, n, data_spec);
  case SAMPLES_NONE: break;
  }
  fprintf(stderr, "ganc: internal error: no sample format for '%s'\n", out);
  return EXIT_INTERNAL;
}
