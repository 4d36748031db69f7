/* data.c — training data: the synthetic Gaussian mixtures ring8 and grid25,
 * and sample files (IDX, gzip'd or not, and CSV) held in memory in the
 * model's scalar type, with the labels of a conditional model's data; plus
 * PacGAN's mode coverage and the label accuracy for the mixtures. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "io.h"
#include "scalar.h"

#define FASHION_MNIST_PATH "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
#define FASHION_MNIST_LABELS_PATH "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz"

enum {
  MAX_MODES = 25,
  IDX_MAX_DIMS = 1 + 16,  /* the sample count, then the sample's dims */
  COVER_MIN_SAMPLES = 20, /* PacGAN's threshold for a covered mode */
  FASHION_CLASSES = 10,
};

/* In the order of the labels file's numbers; lowercase, as the bitmap font
   that draws them has no capitals. */
static const char *const fashion_names[FASHION_CLASSES] = {
    "t-shirt/top", "trouser", "pullover", "dress", "coat",
    "sandal",      "shirt",   "sneaker",  "bag",   "ankle boot",
};

/* Bytes of data an IDX file may promise. */
#define IDX_MAX_BYTES ((uint64_t)4 << 30)

struct ganc_data {
  int scalar_size;
  int64_t obs_size;
  int64_t count;          /* samples in memory; 0 for mixtures */
  unsigned char *samples; /* count * obs_size scalars */
  int *labels;            /* files of labelled data: one per sample, else NULL */
  int64_t capacity;       /* samples (and labels) there is room for */
  int classes;            /* labelled data: the model's classes; else 0 */
  const char **names;     /* classes of them, or NULL */
  int modes;              /* mixtures: centres and their spread */
  double sigma;
  double centres[2 * MAX_MODES];
};

static const char *model_name(const ganc_info *info)
{
  return info->name ? info->name : "(unnamed)";
}

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
  d->classes = info->classes;
  return d;
}

/* Room for at least need samples, of at most most, and for their labels when
   the data is labelled: the arrays grow as the file proves to hold them, so
   that a few bytes promising a huge data set cost no more than they hold.
   0, or -1 with a message. */
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
  if (p)
    d->samples = p;
  int *l = NULL;
  if (p && d->classes > 0 && (uint64_t)cap <= SIZE_MAX / sizeof *l) {
    l = realloc(d->labels, (size_t)cap * sizeof *l);
    if (l)
      d->labels = l;
  }
  if (!p || (d->classes > 0 && !l)) {
    ganc_seterr(err, errlen, "%s: out of memory for %" PRId64 " samples", name, need);
    return -1;
  }
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
  int modes = strcmp(spec, "ring8") == 0 ? 8 : 25;
  if (info->classes > 0 && info->classes < modes) {
    ganc_seterr(err, errlen, "%s labels its samples 0..%d by mode, but model %s has classes %d", spec,
                modes - 1, model_name(info), info->classes);
    return NULL;
  }
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

/* What an IDX header says. */
typedef struct IdxHeader {
  int type, tsize, ndims;
  int64_t dims[IDX_MAX_DIMS];
  uint64_t total; /* bytes of data after the header */
} IdxHeader;

/* The magic bytes and the dims, bounded. 0, or -1 with a message. */
static int idx_header(const char *path, gzFile g, IdxHeader *h, char *err, size_t errlen)
{
  unsigned char head[4], dimbuf[4 * IDX_MAX_DIMS];
  if (gz_read_full(g, head, 4) != 4) {
    short_header(path, g, err, errlen);
    return -1;
  }
  h->type = head[2];
  h->ndims = head[3];
  h->tsize = idx_type_size(h->type);
  if (head[0] != 0 || head[1] != 0 || h->tsize == 0) {
    ganc_seterr(err, errlen, "%s: not an IDX file (magic bytes %02x %02x %02x %02x; expected"
           " 00 00, a type among 08 09 0b 0c 0d 0e, the number of dims)", path, head[0],
           head[1], head[2], head[3]);
    return -1;
  }
  if (h->ndims == 0 || h->ndims > IDX_MAX_DIMS) {
    ganc_seterr(err, errlen, "%s: IDX file has %d dims; ganc reads 1 to %d", path, h->ndims,
           IDX_MAX_DIMS);
    return -1;
  }
  if (gz_read_full(g, dimbuf, 4 * (uint64_t)h->ndims) != 4 * (uint64_t)h->ndims) {
    short_header(path, g, err, errlen);
    return -1;
  }
  h->total = (uint64_t)h->tsize; /* bounded as we go */
  int absurd = 0;
  for (int i = 0; i < h->ndims; i++) {
    h->dims[i] = (int64_t)get_be(dimbuf + 4 * i, 4);
    if (h->dims[i] != 0 && h->total > IDX_MAX_BYTES / (uint64_t)h->dims[i])
      absurd = 1;
    else
      h->total *= (uint64_t)h->dims[i];
  }
  if (absurd) {
    char shape[512];
    ganc_format_shape(shape, sizeof shape, h->dims, h->ndims);
    ganc_seterr(err, errlen, "%s: IDX dims %s are absurd (more than 4 GiB of data)", path, shape);
    return -1;
  }
  return 0;
}

/* Where the elements of an IDX file go: take is handed them a chunk at a
   time, n elements of the header's type from element first on. */
typedef struct IdxSink {
  const char *path;
  const IdxHeader *h;
  ganc_data *d;
  const ganc_info *info;
  int (*take)(struct IdxSink *s, const unsigned char *bytes, uint64_t first, uint64_t n, char *err,
              size_t errlen);
} IdxSink;

/* The data after the header, into s. what names the elements the header
   promises ("60000 samples of [28, 28]"), for the message when the file
   ends early. 0, or -1 with a message. */
static int idx_body(gzFile g, IdxSink *s, const char *what, char *err, size_t errlen)
{
  const IdxHeader *h = s->h;
  size_t chunk_size = h->total < (1 << 20) ? (size_t)h->total : (1 << 20); /* whole elements */
  unsigned char *chunk = malloc(chunk_size ? chunk_size : 1);
  if (!chunk) {
    ganc_seterr(err, errlen, "%s: out of memory", s->path);
    return -1;
  }
  uint64_t done = 0;
  while (done < h->total) {
    uint64_t want = h->total - done < chunk_size ? h->total - done : chunk_size;
    uint64_t got = gz_read_full(g, chunk, want);
    if (got != want) {
      const char *why = gz_reason(g, s->path);
      uint64_t have = done + (uint64_t)got;
      ganc_seterr(err, errlen, "%s: truncated%s: the header promises %s"
             " (%" PRIu64 " bytes of data) but %s after %" PRIu64 " bytes%s%s%s", s->path,
             why ? " or corrupt" : "", what, h->total,
             why ? "reading stops" : "the data ends", have, why ? " (" : "",
             why ? why : "", why ? ")" : "");
      free(chunk);
      return -1;
    }
    if (s->take(s, chunk, done / (uint64_t)h->tsize, want / (uint64_t)h->tsize, err, errlen)) {
      free(chunk);
      return -1;
    }
    done += want;
  }
  free(chunk);
  return 0;
}

static int take_samples(IdxSink *s, const unsigned char *bytes, uint64_t first, uint64_t n, char *err,
                        size_t errlen)
{
  ganc_data *d = s->d;
  uint64_t size = (uint64_t)d->obs_size;
  if (reserve_samples(d, s->path, (int64_t)((first + n + size - 1) / size), s->h->dims[0], err, errlen))
    return -1;
  for (uint64_t i = 0; i < n; i++)
    ganc_scalar_store(d->samples, d->scalar_size, (int64_t)(first + i),
                      idx_value(bytes + i * (uint64_t)s->h->tsize, s->h->type));
  return 0;
}

/* Labels go in as stored (unsigned bytes are not scaled), each checked
   against the model's classes. */
static int take_labels(IdxSink *s, const unsigned char *bytes, uint64_t first, uint64_t n, char *err,
                       size_t errlen)
{
  int classes = s->d->classes;
  for (uint64_t i = 0; i < n; i++) {
    int64_t v = s->h->type == 0x08 ? bytes[i] : (int32_t)(uint32_t)get_be(bytes + 4 * i, 4);
    if (v < 0 || v >= classes) {
      ganc_seterr(err, errlen, "%s: row %" PRIu64 ": label %" PRId64 " is outside [0, %d) for model %s",
                  s->path, first + i + 1, v, classes, model_name(s->info));
      return -1;
    }
    s->d->labels[first + i] = (int)v;
  }
  return 0;
}

static ganc_data *read_idx(const char *name, const char *path, gzFile g,
                           const ganc_info *info, char *err, size_t errlen)
{
  IdxHeader h;
  if (idx_header(path, g, &h, err, errlen))
    return NULL;
  if (h.dims[0] == 0 || h.total == 0) {
    ganc_seterr(err, errlen, "%s: the IDX file holds no samples", path);
    return NULL;
  }
  if (check_shape(name, h.dims + 1, h.ndims - 1, info, err, errlen))
    return NULL;
  ganc_data *d = new_data(info, err, errlen);
  if (!d)
    return NULL;
  char shape[512], what[600];
  ganc_format_shape(shape, sizeof shape, h.dims + 1, h.ndims - 1);
  snprintf(what, sizeof what, "%" PRId64 " samples of %s", h.dims[0], shape);
  IdxSink s = {path, &h, d, info, take_samples};
  if (idx_body(g, &s, what, err, errlen)) {
    ganc_data_free(d);
    return NULL;
  }
  d->count = h.dims[0];
  return d;
}

/* gzopen, with a message naming path when it fails; hint is added when the
   file does not exist. */
static gzFile open_gz(const char *path, const char *hint, char *err, size_t errlen)
{
  errno = 0;
  gzFile g = gzopen(path, "rb");
  if (!g)
    ganc_seterr(err, errlen, "cannot open '%s': %s%s", path,
           errno ? strerror(errno) : "out of memory", errno == ENOENT && hint ? hint : "");
  return g;
}

static ganc_data *open_idx(const char *name, const char *path, const ganc_info *info,
                           const char *hint, char *err, size_t errlen)
{
  gzFile g = open_gz(path, hint, err, errlen);
  if (!g)
    return NULL;
  ganc_data *d = read_idx(name, path, g, info, err, errlen);
  gzclose(g);
  return d;
}

/* The labels of d's samples (read from samples_path) from the IDX file path:
   1-D, unsigned bytes or 32-bit integers, one per sample. 0, or -1 with a
   message. */
static int read_idx_labels(ganc_data *d, const char *samples_path, const char *path, const ganc_info *info,
                           const char *hint, char *err, size_t errlen)
{
  gzFile g = open_gz(path, hint, err, errlen);
  if (!g)
    return -1;
  IdxHeader h;
  int rc = idx_header(path, g, &h, err, errlen);
  if (rc == 0 && h.type != 0x08 && h.type != 0x0C) {
    ganc_seterr(err, errlen, "%s: labels are unsigned bytes (IDX type 08) or 32-bit integers (0c),"
                " but this file holds type %02x", path, h.type);
    rc = -1;
  }
  if (rc == 0 && h.ndims != 1) {
    char shape[512];
    ganc_format_shape(shape, sizeof shape, h.dims, h.ndims);
    ganc_seterr(err, errlen, "%s: labels are one number per sample (a 1-D IDX file), but this file"
                " has dims %s", path, shape);
    rc = -1;
  }
  if (rc == 0 && h.dims[0] != d->count) {
    ganc_seterr(err, errlen, "%" PRId64 " samples in %s but %" PRId64 " labels in %s", d->count,
                samples_path, h.dims[0], path);
    rc = -1;
  }
  if (rc == 0) {
    /* reserve_samples made room for a label per sample */
    char what[64];
    snprintf(what, sizeof what, "%" PRId64 " labels", h.dims[0]);
    IdxSink s = {path, &h, d, info, take_labels};
    rc = idx_body(g, &s, what, err, errlen);
  }
  gzclose(g);
  return rc;
}

/* ---- CSV ---- */

static int is_blank(int c)
{
  return c == ' ' || c == '\t';
}

/* The cell [s, e) without the spaces around it. */
static void trim(char **s, char **e)
{
  while (*s < *e && is_blank(**s))
    (*s)++;
  while (*e > *s && is_blank((*e)[-1]))
    (*e)--;
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

/* The whole cell [s, e) is a label: decimal digits, perhaps signed, perhaps
   with spaces around them. Its value (LLONG_MIN or LLONG_MAX when it does
   not fit) into *v, or -1. */
static int parse_label(char *s, char *e, long long *v)
{
  trim(&s, &e);
  char *p = s + (s < e && (*s == '+' || *s == '-'));
  if (p == e)
    return -1;
  for (char *q = p; q < e; q++)
    if (*q < '0' || *q > '9')
      return -1;
  char saved = *e;
  *e = 0;
  *v = strtoll(s, NULL, 10);
  *e = saved;
  return 0;
}

/* One sample per line, a header line allowed first (a line whose first cell
   is not a number); for a conditional model each line begins with its
   label. */
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

  int labelled = info->classes > 0;
  int64_t want = info->obs_size + labelled;
  char expected[128];
  if (labelled)
    snprintf(expected, sizeof expected, "%" PRId64 " values (a label and %" PRId64 " for the sample)",
             want, info->obs_size);
  else
    snprintf(expected, sizeof expected, "%" PRId64 " values", want);

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
      ganc_seterr(err, errlen, "%s:%" PRId64 ": expected %s, found an empty line", path, blank, expected);
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
    if (cells != want) {
      ganc_seterr(err, errlen, "%s:%" PRId64 ": expected %s, found %" PRId64, path, line, expected, cells);
      goto fail;
    }
    if (reserve_samples(d, path, d->count + 1, lines, err, errlen))
      goto fail;
    char *cell = p;
    for (int64_t col = 0; col < cells; col++) {
      char *cend = memchr(cell, ',', (size_t)(stop - cell));
      if (!cend)
        cend = stop;
      if (labelled && col == 0) {
        long long label;
        int bad = parse_label(cell, cend, &label);
        char *ts = cell, *te = cend; /* for the messages */
        trim(&ts, &te);
        int shown = (int)(te - ts < 64 ? te - ts : 64);
        if (bad) {
          ganc_seterr(err, errlen, "%s:%" PRId64 ": column 1: '%.*s' is not an integer label", path, line,
                      shown, ts);
          goto fail;
        }
        if (label < 0 || label >= info->classes) {
          ganc_seterr(err, errlen, "%s:%" PRId64 ": label %.*s is outside [0, %d) for model %s", path, line,
                      shown, ts, info->classes, model_name(info));
          goto fail;
        }
        d->labels[d->count] = (int)label;
      } else if (parse_cell(cell, cend, &v) != 0) {
        trim(&cell, &cend);
        ganc_seterr(err, errlen, "%s:%" PRId64 ": column %" PRId64 ": '%.*s' is not a number",
               path, line, col + 1, (int)(cend - cell < 64 ? cend - cell : 64), cell);
        goto fail;
      } else {
        ganc_scalar_store(d->samples, d->scalar_size, d->count * info->obs_size + col - labelled, v);
      }
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

/* Fashion-MNIST's names for d's classes; any beyond its ten (they never
   occur) are named by their number. 0, or -1 with a message. */
static int name_fashion_classes(ganc_data *d, char *err, size_t errlen)
{
  enum { DIGITS = 12 };
  size_t n = (size_t)d->classes, extra = n - FASHION_CLASSES;
  d->names = malloc(n * sizeof *d->names + extra * DIGITS);
  if (!d->names) {
    ganc_seterr(err, errlen, "out of memory");
    return -1;
  }
  char *numbers = (char *)(d->names + n);
  for (int k = 0; k < d->classes; k++) {
    if (k < FASHION_CLASSES) {
      d->names[k] = fashion_names[k];
    } else {
      snprintf(numbers, DIGITS, "%d", k);
      d->names[k] = numbers;
      numbers += DIGITS;
    }
  }
  return 0;
}

static ganc_data *open_fashion_mnist(const char *spec, const ganc_info *info, char *err, size_t errlen)
{
  const char *path = getenv("GANC_FASHION_MNIST");
  if (!path || !*path)
    path = FASHION_MNIST_PATH;
  ganc_data *d = open_idx(spec, path, info,
                          " (install Debian's dataset-fashion-mnist, or set GANC_FASHION_MNIST"
                          " to the gzip'd IDX training images)", err, errlen);
  if (!d || info->classes == 0)
    return d;
  const char *labels = getenv("GANC_FASHION_MNIST_LABELS");
  if (!labels || !*labels)
    labels = FASHION_MNIST_LABELS_PATH;
  if (read_idx_labels(d, path, labels, info,
                      " (install Debian's dataset-fashion-mnist, or set GANC_FASHION_MNIST_LABELS"
                      " to the gzip'd IDX training labels)", err, errlen) ||
      name_fashion_classes(d, err, errlen)) {
    ganc_data_free(d);
    return NULL;
  }
  return d;
}

ganc_data *ganc_data_open(const char *spec, const ganc_info *info, char *err, size_t errlen)
{
  return ganc_data_open_labels(spec, NULL, info, err, errlen);
}

ganc_data *ganc_data_open_labels(const char *spec, const char *labels_path, const ganc_info *info, char *err,
                                 size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  if ((info->scalar_size != 4 && info->scalar_size != 8) || info->obs_size < 1 ||
      info->obs_rank < 0 || info->obs_rank > GANC_MAX_RANK || info->classes < 0) {
    ganc_seterr(err, errlen, "internal error: bad model description (scalar size %d,"
           " observation of %" PRId64 " elements, %d classes)", info->scalar_size, info->obs_size,
           info->classes);
    return NULL;
  }
  int mixture = strcmp(spec, "ring8") == 0 || strcmp(spec, "grid25") == 0;
  int fashion = strcmp(spec, "fashion-mnist") == 0;
  int idx = ganc_ends_with(spec, ".idx") || ganc_ends_with(spec, ".idx.gz");
  int csv = ganc_ends_with(spec, ".csv");
  if (!mixture && !fashion && !idx && !csv) {
    ganc_seterr(err, errlen, "unknown data set '%s': expected ring8, grid25, fashion-mnist, or a"
           " file ending in .idx, .idx.gz or .csv", spec);
    return NULL;
  }

  /* Who gives the labels, before any file is read. */
  if (labels_path && info->classes == 0) {
    ganc_seterr(err, errlen, "labels file '%s' given, but model %s has no classes (it is not conditional)",
                labels_path, model_name(info));
    return NULL;
  }
  if (labels_path && !idx) {
    const char *own = mixture ? "each sample's mode" : csv ? "its first column"
                                                           : "the file GANC_FASHION_MNIST_LABELS names";
    ganc_seterr(err, errlen, "%s carries its own labels (%s), so it takes no labels file ('%s')", spec, own,
                labels_path);
    return NULL;
  }
  if (idx && info->classes > 0 && !labels_path) {
    ganc_seterr(err, errlen, "model %s has classes %d but data set '%s' has no labels: pass"
                " --labels FILE.idx[.gz]", model_name(info), info->classes, spec);
    return NULL;
  }
  if (fashion && info->classes > 0 && info->classes < FASHION_CLASSES) {
    ganc_seterr(err, errlen, "fashion-mnist labels its samples 0..%d by class, but model %s has classes %d",
                FASHION_CLASSES - 1, model_name(info), info->classes);
    return NULL;
  }

  if (mixture)
    return open_mixture(spec, info, err, errlen);
  if (fashion)
    return open_fashion_mnist(spec, info, err, errlen);
  if (csv)
    return open_csv(spec, info, err, errlen);
  ganc_data *d = open_idx(spec, spec, info, NULL, err, errlen);
  if (d && labels_path && read_idx_labels(d, spec, labels_path, info, NULL, err, errlen)) {
    ganc_data_free(d);
    return NULL;
  }
  return d;
}

int ganc_data_classes(const ganc_data *d)
{
  return d->classes;
}

const char *const *ganc_data_class_names(const ganc_data *d)
{
  return (const char *const *)d->names;
}

int64_t ganc_data_count(const ganc_data *d)
{
  return d->count;
}

void ganc_data_batch(ganc_data *d, ganc_rng *r, int n, void *out, int *labels)
{
  unsigned char *o = out;
  if (d->modes > 0) {
    for (int i = 0; i < n; i++) {
      int k = (int)(ganc_rng_next(r) % (uint64_t)d->modes);
      if (labels && d->classes > 0) /* a sample's label is its mode */
        labels[i] = k;
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
    if (labels && d->labels)
      labels[i] = d->labels[k];
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

/* The mode whose centre is nearest to sample i, its squared distance into
   *d2; -1 (and infinity) when no distance is finite (a NaN or huge sample). */
static int nearest_mode(const ganc_data *d, const void *samples, int scalar_size, int i, double *d2)
{
  double x = ganc_scalar_load(samples, scalar_size, 2 * (int64_t)i);
  double y = ganc_scalar_load(samples, scalar_size, 2 * (int64_t)i + 1);
  int best = -1;
  *d2 = INFINITY;
  for (int k = 0; k < d->modes; k++) {
    double dx = x - d->centres[2 * k], dy = y - d->centres[2 * k + 1];
    double dk = dx * dx + dy * dy;
    if (dk < *d2) { /* false for NaN */
      *d2 = dk;
      best = k;
    }
  }
  return best;
}

void ganc_mode_coverage(const ganc_data *d, const void *samples, int scalar_size, int n,
                        int *modes_covered, double *high_quality_share)
{
  int hits[MAX_MODES] = {0}, good = 0, covered = 0;
  for (int i = 0; d->modes > 0 && i < n; i++) {
    double best_d2;
    int best = nearest_mode(d, samples, scalar_size, i, &best_d2);
    if (best_d2 <= 9 * d->sigma * d->sigma) { /* false when best is -1 */
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

int ganc_label_accuracy(const ganc_data *d, const void *samples, int scalar_size, const int *labels, int n,
                        int classes, double *share)
{
  if (d->modes == 0)
    return -1;
  /* share[k] counts the samples drawn for label k first; only a label that
     is a mode can have samples nearest to it */
  int64_t right[MAX_MODES] = {0};
  for (int k = 0; k < classes; k++)
    share[k] = 0;
  for (int i = 0; i < n; i++) {
    int k = labels[i];
    if (k < 0 || k >= classes)
      continue;
    double d2;
    share[k]++;
    if (nearest_mode(d, samples, scalar_size, i, &d2) == k)
      right[k]++;
  }
  for (int k = 0; k < classes; k++)
    share[k] = share[k] > 0 ? (double)(k < d->modes ? right[k] : 0) / share[k] : NAN;
  return 0;
}

void ganc_data_free(ganc_data *d)
{
  if (!d)
    return;
  free(d->samples);
  free(d->labels);
  free(d->names);
  free(d);
}
