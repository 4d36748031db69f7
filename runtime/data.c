/* data.c — training data: the synthetic Gaussian mixtures ring8 and grid25,
 * and sample files (IDX, gzip'd or not, and CSV) held in memory in the
 * model's scalar type; plus PacGAN's mode coverage for the mixtures. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "io.h"
#include "scalar.h"

#define FASHION_MNIST_PATH "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

enum {
  MAX_MODES = 25,
  IDX_MAX_DIMS = 1 + 16,  /* the sample count, then the sample's dims */
  COVER_MIN_SAMPLES = 20, /* PacGAN's threshold for a covered mode */
};

/* Bytes of data an IDX file may promise. */
#define IDX_MAX_BYTES ((uint64_t)4 << 30)

struct ganc_data {
  int scalar_size;
  int64_t obs_size;
  int64_t count;          /* samples in memory; 0 for mixtures */
  unsigned char *samples; /* count * obs_size scalars */
  int64_t capacity;       /* samples there is room for */
  int modes;              /* mixtures: centres and their spread */
  double sigma;
  double centres[2 * MAX_MODES];
};

/* Drop the dimensions equal to 1; the rank left. */
static int squeeze(const int64_t *dims, int rank, int64_t *out)
{
  int r = 0;
  for (int i = 0; i < rank; i++)
    if (dims[i] != 1)
      out[r++] = dims[i];
  return r;
}

/* Samples of shape dims fit the observation when they have its element count
   and, unless it is 1-D, its dims up to dimensions of 1. */
static int check_shape(const char *name, const int64_t *dims, int rank,
                       const ganc_info *info, char *err, size_t errlen)
{
  int64_t count = 1, a[IDX_MAX_DIMS], b[GANC_MAX_RANK];
  for (int i = 0; i < rank; i++)
    count *= dims[i]; /* the caller bounded the product */
  int fits = count == info->obs_size;
  if (fits && info->obs_rank != 1) {
    int ra = squeeze(dims, rank, a), rb = squeeze(info->obs_shape, info->obs_rank, b);
    fits = ra == rb && memcmp(a, b, (size_t)ra * sizeof *a) == 0;
  }
  if (!fits) {
    char have[256], want[256];
    ganc_format_shape(have, sizeof have, dims, rank);
    ganc_format_shape(want, sizeof want, info->obs_shape, info->obs_rank);
    ganc_seterr(err, errlen, "data set '%s' has samples of shape %s but the observation is %s",
           name, have, want);
    return -1;
  }
  return 0;
}

static ganc_data *new_data(const ganc_info *info, char *err, size_t errlen)
{
  ganc_data *d = calloc(1, sizeof *d);
  if (!d) {
    ganc_seterr(err, errlen, "out of memory");
    return NULL;
  }
  d->scalar_size = info->scalar_size;
  d->obs_size = info->obs_size;
  return d;
}

/* Room for at least need samples, of at most most: the array grows as the
   file proves to hold them, so that a few bytes promising a huge data set
   cost no more than they hold. 0, or -1 with a message. */
static int reserve_samples(ganc_data *d, const char *name, int64_t need, int64_t most,
                           char *err, size_t errlen)
{
  if (need <= d->capacity)
    return 0;
  int64_t cap = d->capacity < 1024 ? 1024 : d->capacity;
  while (cap < need && cap <= INT64_MAX / 2)
    cap *= 2;
  if (cap > most)
    cap = most;
  uint64_t per = (uint64_t)d->obs_size * (uint64_t)d->scalar_size;
  unsigned char *p = NULL;
  if (cap >= need && per > 0 && (uint64_t)cap <= SIZE_MAX / per)
    p = realloc(d->samples, (size_t)cap * (size_t)per);
  if (!p) {
    ganc_seterr(err, errlen, "%s: out of memory for %" PRId64 " samples", name, need);
    return -1;
  }
  d->samples = p;
  d->capacity = cap;
  return 0;
}

/* ---- Gaussian mixtures ---- */

static ganc_data *open_mixture(const char *spec, const ganc_info *info, char *err,
                               size_t errlen)
{
  const int64_t point[1] = {2};
  if (check_shape(spec, point, 1, info, err, errlen))
    return NULL;
  ganc_data *d = new_data(info, err, errlen);
  if (!d)
    return NULL;
  if (strcmp(spec, "ring8") == 0) {
    d->modes = 8;
    d->sigma = 0.02;
    for (int k = 0; k < 8; k++) {
      double angle = 2 * 3.14159265358979323846 * k / 8;
      d->centres[2 * k] = 2 * cos(angle);
      d->centres[2 * k + 1] = 2 * sin(angle);
    }
  } else {
    d->modes = 25;
    d->sigma = 0.05;
    for (int k = 0; k < 25; k++) {
      d->centres[2 * k] = -4 + 2 * (k % 5);
      d->centres[2 * k + 1] = -4 + 2 * (k / 5);
    }
  }
  return d;
}

/* ---- IDX ---- */

/* Up to n bytes; fewer only at the end of the data or on an error. */
static uint64_t gz_read_full(gzFile g, unsigned char *buf, uint64_t n)
{
  uint64_t got = 0;
  while (got < n) {
    unsigned chunk = n - got > (1u << 30) ? (1u << 30) : (unsigned)(n - got);
    int r = gzread(g, buf + got, chunk);
    if (r <= 0) /* the end, or an error gzerror tells */
      break;
    got += (uint64_t)r;
  }
  return got;
}

static uint64_t get_be(const unsigned char *p, int n)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

static int idx_type_size(int type)
{
  switch (type) {
  case 0x08: case 0x09: return 1;
  case 0x0B: return 2;
  case 0x0C: case 0x0D: return 4;
  case 0x0E: return 8;
  default: return 0;
  }
}

static double idx_value(const unsigned char *p, int type)
{
  switch (type) {
  case 0x08:
    return p[0] / 127.5 - 1.0;
  case 0x09:
    return (double)(int8_t)p[0];
  case 0x0B:
    return (double)(int16_t)(uint16_t)get_be(p, 2);
  case 0x0C:
    return (double)(int32_t)(uint32_t)get_be(p, 4);
  case 0x0D: {
    uint32_t u32 = (uint32_t)get_be(p, 4);
    float f;
    memcpy(&f, &u32, 4);
    return f;
  }
  default: {
    uint64_t u = get_be(p, 8);
    double v;
    memcpy(&v, &u, 8);
    return v;
  }
  }
}

/* Why a read came up short: zlib's message (without the path zlib puts in
   front of it), or NULL when the data simply ended. */
static const char *gz_reason(gzFile g, const char *path)
{
  int errnum;
  const char *msg = gzerror(g, &errnum);
  if (errnum == Z_OK || !msg || !*msg)
    return NULL;
  size_t n = strlen(path);
  if (strncmp(msg, path, n) == 0 && strncmp(msg + n, ": ", 2) == 0)
    msg += n + 2;
  return msg;
}

static void short_header(const char *path, gzFile g, char *err, size_t errlen)
{
  const char *why = gz_reason(g, path);
  if (why)
    ganc_seterr(err, errlen, "%s: cannot read the IDX header: %s", path, why);
  else
    ganc_seterr(err, errlen, "%s: truncated IDX header", path);
}

static ganc_data *read_idx(const char *name, const char *path, gzFile g,
                           const ganc_info *info, char *err, size_t errlen)
{
  unsigned char head[4], dimbuf[4 * IDX_MAX_DIMS];
  if (gz_read_full(g, head, 4) != 4) {
    short_header(path, g, err, errlen);
    return NULL;
  }
  int type = head[2], ndims = head[3], tsize = idx_type_size(type);
  if (head[0] != 0 || head[1] != 0 || tsize == 0) {
    ganc_seterr(err, errlen, "%s: not an IDX file (magic bytes %02x %02x %02x %02x; expected"
           " 00 00, a type among 08 09 0b 0c 0d 0e, the number of dims)", path, head[0],
           head[1], head[2], head[3]);
    return NULL;
  }
  if (ndims == 0 || ndims > IDX_MAX_DIMS) {
    ganc_seterr(err, errlen, "%s: IDX file has %d dims; ganc reads 1 to %d", path, ndims,
           IDX_MAX_DIMS);
    return NULL;
  }
  if (gz_read_full(g, dimbuf, 4 * (uint64_t)ndims) != 4 * (uint64_t)ndims) {
    short_header(path, g, err, errlen);
    return NULL;
  }
  int64_t dims[IDX_MAX_DIMS];
  uint64_t total = (uint64_t)tsize; /* bytes of data, bounded as we go */
  int absurd = 0;
  for (int i = 0; i < ndims; i++) {
    dims[i] = (int64_t)get_be(dimbuf + 4 * i, 4);
    if (dims[i] != 0 && total > IDX_MAX_BYTES / (uint64_t)dims[i])
      absurd = 1;
    else
      total *= (uint64_t)dims[i];
  }
  if (absurd) {
    char shape[512];
    ganc_format_shape(shape, sizeof shape, dims, ndims);
    ganc_seterr(err, errlen, "%s: IDX dims %s are absurd (more than 4 GiB of data)", path, shape);
    return NULL;
  }
  int64_t count = dims[0];
  if (count == 0 || total == 0) {
    ganc_seterr(err, errlen, "%s: the IDX file holds no samples", path);
    return NULL;
  }
  if (check_shape(name, dims + 1, ndims - 1, info, err, errlen))
    return NULL;

  ganc_data *d = new_data(info, err, errlen);
  size_t chunk_size = total < (1 << 20) ? (size_t)total : (1 << 20);
  unsigned char *chunk = malloc(chunk_size);
  if (!d || !chunk) {
    if (d)
      ganc_seterr(err, errlen, "%s: out of memory", path);
    free(chunk);
    ganc_data_free(d);
    return NULL;
  }
  uint64_t done = 0, per = (uint64_t)tsize * (uint64_t)info->obs_size; /* bytes a sample */
  while (done < total) {
    uint64_t want = total - done < chunk_size ? total - done : chunk_size;
    uint64_t got = gz_read_full(g, chunk, want);
    if (got != want) {
      char shape[512];
      ganc_format_shape(shape, sizeof shape, dims + 1, ndims - 1);
      const char *why = gz_reason(g, path);
      uint64_t have = done + (uint64_t)got;
      ganc_seterr(err, errlen, "%s: truncated%s: the header promises %" PRId64 " samples of %s"
             " (%" PRIu64 " bytes of data) but %s after %" PRIu64 " bytes%s%s%s", path,
             why ? " or corrupt" : "", count, shape, total,
             why ? "reading stops" : "the data ends", have, why ? " (" : "",
             why ? why : "", why ? ")" : "");
      free(chunk);
      ganc_data_free(d);
      return NULL;
    }
    if (reserve_samples(d, path, (int64_t)((done + want + per - 1) / per), count, err, errlen)) {
      free(chunk);
      ganc_data_free(d);
      return NULL;
    }
    for (uint64_t i = 0; i < want / (uint64_t)tsize; i++)
      ganc_scalar_store(d->samples, d->scalar_size, (int64_t)(done / (uint64_t)tsize + i),
                        idx_value(chunk + i * (uint64_t)tsize, type));
    done += want;
  }
  free(chunk);
  d->count = count;
  return d;
}

static ganc_data *open_idx(const char *name, const char *path, const ganc_info *info,
                           const char *hint, char *err, size_t errlen)
{
  errno = 0;
  gzFile g = gzopen(path, "rb");
  if (!g) {
    ganc_seterr(err, errlen, "cannot open '%s': %s%s", path,
           errno ? strerror(errno) : "out of memory", errno == ENOENT && hint ? hint : "");
    return NULL;
  }
  ganc_data *d = read_idx(name, path, g, info, err, errlen);
  gzclose(g);
  return d;
}

/* ---- CSV ---- */

static int is_blank(int c)
{
  return c == ' ' || c == '\t';
}

/* The whole cell [s, e) is one number, perhaps with spaces around it. */
static int parse_cell(char *s, char *e, double *v)
{
  char saved = *e, *end;
  *e = 0;
  while (s < e && is_blank(*s))
    s++;
  errno = 0;
  *v = strtod(s, &end);
  int ok = end != s;
  while (end < e && is_blank(*end))
    end++;
  *e = saved;
  return ok && end == e ? 0 : -1;
}

static ganc_data *open_csv(const char *path, const ganc_info *info, char *err,
                           size_t errlen)
{
  unsigned char *buf;
  size_t len;
  if (ganc_read_file(path, &buf, &len, err, errlen))
    return NULL;
  char *text = (char *)buf, *end = text + len;
  if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 byte order mark */
    text += 3;
  int64_t lines = 1;
  for (char *p = text; (p = memchr(p, '\n', (size_t)(end - p))); p++)
    lines++;

  ganc_data *d = new_data(info, err, errlen);
  if (!d) {
    free(buf);
    return NULL;
  }
  int64_t line = 0, blank = 0;
  for (char *p = text; p < end;) {
    char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol)
      eol = end;
    char *next = eol < end ? eol + 1 : end, *stop = eol;
    if (stop > p && stop[-1] == '\r')
      stop--;
    line++;
    char *q = p;
    while (q < stop && is_blank(*q))
      q++;
    if (q == stop) { /* blank: fine only at the end */
      if (!blank)
        blank = line;
      p = next;
      continue;
    }
    if (blank) {
      ganc_seterr(err, errlen, "%s:%" PRId64 ": expected %" PRId64 " values, found an empty line",
             path, blank, info->obs_size);
      goto fail;
    }
    char *comma = memchr(p, ',', (size_t)(stop - p));
    double v;
    if (d->count == 0 && line == 1 && parse_cell(p, comma ? comma : stop, &v) != 0) {
      p = next; /* a header line */
      continue;
    }
    int64_t cells = 1;
    for (char *c = p; (c = memchr(c, ',', (size_t)(stop - c))); c++)
      cells++;
    if (cells != info->obs_size) {
      ganc_seterr(err, errlen, "%s:%" PRId64 ": expected %" PRId64 " values, found %" PRId64,
             path, line, info->obs_size, cells);
      goto fail;
    }
    if (reserve_samples(d, path, d->count + 1, lines, err, errlen))
      goto fail;
    char *cell = p;
    for (int64_t col = 0; col < cells; col++) {
      char *cend = memchr(cell, ',', (size_t)(stop - cell));
      if (!cend)
        cend = stop;
      if (parse_cell(cell, cend, &v) != 0) {
        while (cell < cend && is_blank(*cell))
          cell++;
        while (cend > cell && is_blank(cend[-1]))
          cend--;
        ganc_seterr(err, errlen, "%s:%" PRId64 ": column %" PRId64 ": '%.*s' is not a number",
               path, line, col + 1, (int)(cend - cell < 64 ? cend - cell : 64), cell);
        goto fail;
      }
      ganc_scalar_store(d->samples, d->scalar_size, d->count * info->obs_size + col, v);
      cell = cend + 1;
    }
    d->count++;
    p = next;
  }
  if (d->count == 0) {
    ganc_seterr(err, errlen, "%s: no samples", path);
    goto fail;
  }
  free(buf);
  return d;
fail:
  free(buf);
  ganc_data_free(d);
  return NULL;
}

/* ---- The interface ---- */

ganc_data *ganc_data_open(const char *spec, const ganc_info *info, char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  if ((info->scalar_size != 4 && info->scalar_size != 8) || info->obs_size < 1 ||
      info->obs_rank < 0 || info->obs_rank > GANC_MAX_RANK) {
    ganc_seterr(err, errlen, "internal error: bad model description (scalar size %d,"
           " observation of %" PRId64 " elements)", info->scalar_size, info->obs_size);
    return NULL;
  }
  if (strcmp(spec, "ring8") == 0 || strcmp(spec, "grid25") == 0)
    return open_mixture(spec, info, err, errlen);
  if (strcmp(spec, "fashion-mnist") == 0) {
    const char *path = getenv("GANC_FASHION_MNIST");
    if (!path || !*path)
      path = FASHION_MNIST_PATH;
    return open_idx(spec, path, info,
                    " (install Debian's dataset-fashion-mnist, or set GANC_FASHION_MNIST"
                    " to the gzip'd IDX training images)", err, errlen);
  }
  if (ganc_ends_with(spec, ".idx") || ganc_ends_with(spec, ".idx.gz"))
    return open_idx(spec, spec, info, NULL, err, errlen);
  if (ganc_ends_with(spec, ".csv"))
    return open_csv(spec, info, err, errlen);
  ganc_seterr(err, errlen, "unknown data set '%s': expected ring8, grid25, fashion-mnist, or a"
         " file ending in .idx, .idx.gz or .csv", spec);
  return NULL;
}

int64_t ganc_data_count(const ganc_data *d)
{
  return d->count;
}

void ganc_data_batch(ganc_data *d, ganc_rng *r, int n, void *out, int *labels)
{
  (void)labels;
  unsigned char *o = out;
  if (d->modes > 0) {
    for (int i = 0; i < n; i++) {
      int k = (int)(ganc_rng_next(r) % (uint64_t)d->modes);
      for (int j = 0; j < 2; j++)
        ganc_scalar_store(o, d->scalar_size, 2 * (int64_t)i + j,
                          d->centres[2 * k + j] + d->sigma * ganc_rng_normal(r));
    }
    return;
  }
  size_t row = (size_t)d->obs_size * (size_t)d->scalar_size;
  for (int i = 0; i < n; i++) {
    uint64_t k = ganc_rng_next(r) % (uint64_t)d->count;
    memcpy(o + (size_t)i * row, d->samples + k * row, row);
  }
}

int ganc_data_modes(const ganc_data *d, const double **centres, double *sigma)
{
  if (centres)
    *centres = d->modes ? d->centres : NULL;
  if (sigma)
    *sigma = d->sigma;
  return d->modes;
}

void ganc_mode_coverage(const ganc_data *d, const void *samples, int scalar_size, int n,
                        int *modes_covered, double *high_quality_share)
{
  int hits[MAX_MODES] = {0}, good = 0, covered = 0;
  for (int i = 0; d->modes > 0 && i < n; i++) {
    double x = ganc_scalar_load(samples, scalar_size, 2 * (int64_t)i);
    double y = ganc_scalar_load(samples, scalar_size, 2 * (int64_t)i + 1);
    int best = 0;
    double best_d2 = INFINITY;
    for (int k = 0; k < d->modes; k++) {
      double dx = x - d->centres[2 * k], dy = y - d->centres[2 * k + 1];
      double d2 = dx * dx + dy * dy;
      if (d2 < best_d2) {
        best_d2 = d2;
        best = k;
      }
    }
    if (best_d2 <= 9 * d->sigma * d->sigma) { /* false for NaN */
      good++;
      hits[best]++;
    }
  }
  for (int k = 0; k < d->modes; k++)
    covered += hits[k] >= COVER_MIN_SAMPLES;
  if (modes_covered)
    *modes_covered = covered;
  if (high_quality_share)
    *high_quality_share = d->modes > 0 && n > 0 ? (double)good / n : 0;
}

void ganc_data_free(ganc_data *d)
{
  if (!d)
    return;
  free(d->samples);
  free(d);
}
