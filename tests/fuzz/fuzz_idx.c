/* fuzz_idx.c — libFuzzer target for the IDX loader: bytes as FILE.idx, the
 * same bytes gzip'd as FILE.idx.gz, and the bytes themselves as a gzip
 * stream (FILE.idx.gz), each read for three observations (fuzz_data.h);
 * and the bytes as the labels file of a conditional model's samples.
 *
 * Beyond what the sanitizers see, a small decoder written from the format's
 * description (io.h, yann.lecun.com/exdb/mnist) says whether a file must
 * load, how many samples it holds and what they are (or, as labels, what
 * the labels are); the loader must agree with it, and the gzip'd copy must
 * load exactly as the plain file. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "fuzz_data.h"

enum { MAX_DIMS = 17, DRAWS = 8, MAX_LABELLED = 4096 };
#define MAX_DATA_BYTES ((uint64_t)4 << 30)

typedef struct Expect {
  int loads;       /* the file must load (else it must fail) */
  int type, tsize; /* element type and its bytes */
  uint64_t count;  /* samples */
  const uint8_t *data;
} Expect;

static uint64_t be(const uint8_t *p, int n)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v = v << 8 | p[i];
  return v;
}

static int type_size(int t)
{
  return t == 0x08 || t == 0x09 ? 1 : t == 0x0B ? 2 : t == 0x0C || t == 0x0D ? 4 : t == 0x0E ? 8 : 0;
}

/* Sample dims fit an observation: the same element count and, unless it is
   1-D, the same dims once dims of 1 are dropped. */
static int fits(const uint64_t *dims, int rank, const ganc_info *info)
{
  uint64_t n = 1;
  for (int i = 0; i < rank; i++)
    n *= dims[i];
  if (n != (uint64_t)info->obs_size)
    return 0;
  if (info->obs_rank == 1)
    return 1;
  uint64_t a[MAX_DIMS], b[GANC_MAX_RANK];
  int ra = 0, rb = 0;
  for (int i = 0; i < rank; i++)
    if (dims[i] != 1)
      a[ra++] = dims[i];
  for (int i = 0; i < info->obs_rank; i++)
    if (info->obs_shape[i] != 1)
      b[rb++] = (uint64_t)info->obs_shape[i];
  if (ra != rb)
    return 0;
  for (int i = 0; i < ra; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

static Expect expect(const uint8_t *p, size_t size, const ganc_info *info)
{
  Expect e = {0};
  if (size < 4 || p[0] || p[1] || !(e.tsize = type_size(p[2])) || p[3] < 1 || p[3] > MAX_DIMS)
    return e;
  int ndims = p[3];
  e.type = p[2];
  if (size < 4 + 4 * (size_t)ndims)
    return e;
  uint64_t dims[MAX_DIMS], total = (uint64_t)e.tsize;
  for (int i = 0; i < ndims; i++) {
    dims[i] = be(p + 4 + 4 * i, 4);
    if (dims[i] && total > MAX_DATA_BYTES / dims[i])
      return e;
    total *= dims[i];
  }
  if (dims[0] == 0 || total == 0 || !fits(dims + 1, ndims - 1, info))
    return e;
  if (size - 4 - 4 * (size_t)ndims < total)
    return e;
  e.loads = 1;
  e.count = dims[0];
  e.data = p + 4 + 4 * ndims;
  return e;
}

static double value(const uint8_t *p, int type)
{
  switch (type) {
  case 0x08: return p[0] / 127.5 - 1.0;
  case 0x09: return (int8_t)p[0];
  case 0x0B: return (int16_t)(uint16_t)be(p, 2);
  case 0x0C: return (int32_t)(uint32_t)be(p, 4);
  case 0x0D: {
    uint32_t u = (uint32_t)be(p, 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
  }
  default: {
    uint64_t u = be(p, 8);
    double d;
    memcpy(&d, &u, 8);
    return d;
  }
  }
}

static int same_scalar(const unsigned char *got, double want, int scalar_size)
{
  if (scalar_size == 4) {
    float g, w = (float)want;
    memcpy(&g, got, 4);
    return (isnan(g) && isnan(w)) || memcmp(&g, &w, 4) == 0;
  }
  double g;
  memcpy(&g, got, 8);
  return (isnan(g) && isnan(want)) || memcmp(&g, &want, 8) == 0;
}

/* The samples ganc_data_batch draws with the seed fuzz_batch uses. */
static void check_samples(ganc_data *d, const ganc_info *info, const Expect *e)
{
  unsigned char *got = fuzz_batch(d, info, DRAWS, NULL);
  ganc_rng r;
  ganc_rng_seed(&r, 42);
  size_t s = (size_t)info->scalar_size;
  for (int i = 0; i < DRAWS; i++) {
    uint64_t k = ganc_rng_next(&r) % e->count;
    for (int64_t j = 0; j < info->obs_size; j++) {
      const uint8_t *src = e->data + (k * (uint64_t)info->obs_size + (uint64_t)j) * (uint64_t)e->tsize;
      if (!same_scalar(got + ((size_t)i * (size_t)info->obs_size + (size_t)j) * s, value(src, e->type),
                       info->scalar_size))
        fuzz_fail("a sample differs from the file", info->name);
    }
  }
  free(got);
}

/* Labels are 1-D, unsigned bytes or signed 32-bit integers. */
static int64_t label_value(const uint8_t *p, int type)
{
  return type == 0x08 ? p[0] : (int32_t)(uint32_t)be(p, 4);
}

/* The samples to read the bytes as labels for: as many as a 1-D header
   promises, within reason; else 3. */
static uint64_t label_count(const uint8_t *p, size_t size)
{
  uint64_t n = size >= 8 && p[3] == 1 ? be(p + 4, 4) : 0;
  return n >= 1 && n <= MAX_LABELLED ? n : 3;
}

/* The bytes as the labels of n samples must load: 1-D unsigned bytes or
   32-bit integers, n of them, each in [0, FUZZ_CLASSES). */
static int labels_load(const uint8_t *p, size_t size, uint64_t n)
{
  if (size < 8 || p[0] || p[1] || (p[2] != 0x08 && p[2] != 0x0C) || p[3] != 1 || be(p + 4, 4) != n)
    return 0;
  int t = type_size(p[2]);
  if ((size - 8) / (size_t)t < n)
    return 0;
  for (uint64_t i = 0; i < n; i++) {
    int64_t v = label_value(p + 8 + i * (uint64_t)t, p[2]);
    if (v < 0 || v >= FUZZ_CLASSES)
      return 0;
  }
  return 1;
}

/* The bytes as the labels file of n samples of [2]. */
static void check_as_labels(const uint8_t *data, size_t size, int is_gzip)
{
  uint64_t n = label_count(data, size);
  size_t bytes = 12 + 2 * (size_t)n;
  uint8_t *samples = calloc(bytes, 1);
  if (!samples)
    fuzz_fail("out of memory", NULL);
  samples[2] = 0x08;
  samples[3] = 2;
  for (int b = 0; b < 4; b++)
    samples[4 + b] = (uint8_t)(n >> (24 - 8 * b));
  samples[11] = 2;
  for (size_t i = 12; i < bytes; i++)
    samples[i] = (uint8_t)(i * 37);
  char spath[320], lpath[320], err[512];
  snprintf(spath, sizeof spath, "%s", fuzz_write("samples.idx", samples, bytes));
  snprintf(lpath, sizeof lpath, "%s", fuzz_write("labels.idx", data, size));
  free(samples);
  ganc_data *d = fuzz_open_labels(spath, lpath, &fuzz_labelled, err, sizeof err);
  if (!is_gzip) {
    int loads = labels_load(data, size, n);
    if (loads != (d != NULL))
      fuzz_fail(loads ? "good labels did not load" : "bad labels loaded", err[0] ? err : NULL);
    if (d && (uint64_t)ganc_data_count(d) != n)
      fuzz_fail("the wrong number of labelled samples", NULL);
  }
  if (d && !is_gzip) {
    int labels[DRAWS];
    free(fuzz_batch(d, &fuzz_labelled, DRAWS, labels));
    ganc_rng r;
    ganc_rng_seed(&r, 42);
    int t = type_size(data[2]);
    for (int i = 0; i < DRAWS; i++) {
      uint64_t k = ganc_rng_next(&r) % n;
      if (labels[i] != label_value(data + 8 + k * (uint64_t)t, data[2]))
        fuzz_fail("a label differs from the file", NULL);
    }
  }
  ganc_data_free(d);
}

static size_t gzip(const uint8_t *data, size_t size, uint8_t **out)
{
  z_stream z = {0};
  if (deflateInit2(&z, 1, Z_DEFLATED, 9 + 16, 1, Z_DEFAULT_STRATEGY) != Z_OK)
    fuzz_fail("deflateInit2", NULL);
  size_t cap = deflateBound(&z, (uLong)size);
  *out = malloc(cap);
  if (!*out)
    fuzz_fail("out of memory", NULL);
  z.next_in = (Bytef *)data;
  z.avail_in = (uInt)size;
  z.next_out = *out;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END)
    fuzz_fail("deflate", NULL);
  size_t n = z.total_out;
  deflateEnd(&z);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > (1 << 20))
    return 0;
  char plain[320], packed[320], err[512], err_gz[512];
  snprintf(plain, sizeof plain, "%s", fuzz_write("in.idx", data, size));
  uint8_t *gz;
  size_t gzsize = gzip(data, size, &gz);
  snprintf(packed, sizeof packed, "%s", fuzz_write("in.idx.gz", gz, gzsize));
  free(gz);
  /* gzopen reads a gzip stream whatever the file's name: the bytes say
     more than the decoder and the gzip'd copy can check. */
  int is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;

  for (int i = 0; i < NOBS; i++) {
    const ganc_info *info = &fuzz_obs[i];
    ganc_data *d = fuzz_open(plain, info, err, sizeof err);
    ganc_data *g = fuzz_open(packed, info, err_gz, sizeof err_gz);
    if (!is_gzip) {
      Expect e = expect(data, size, info);
      if (e.loads != (d != NULL))
        fuzz_fail(e.loads ? "a good file did not load" : "a bad file loaded", err[0] ? err : info->name);
      if (d && (uint64_t)ganc_data_count(d) != e.count)
        fuzz_fail("the wrong number of samples", info->name);
      if (d)
        check_samples(d, info, &e);
    }
    if (!is_gzip && !d != !g)
      fuzz_fail("the gzip'd file and the plain one disagree", d ? err_gz : err);
    if (!is_gzip && d && g) {
      size_t bytes = 16 * (size_t)info->obs_size * (size_t)info->scalar_size;
      void *a = fuzz_batch(d, info, 16, NULL), *b = fuzz_batch(g, info, 16, NULL);
      if (ganc_data_count(d) != ganc_data_count(g) || memcmp(a, b, bytes) != 0)
        fuzz_fail("the gzip'd file holds other samples than the plain one", info->name);
      free(a);
      free(b);
    }
    ganc_data_free(d);
    ganc_data_free(g);
  }

  /* The bytes as a gzip stream, broken or not. */
  const char *raw = fuzz_write("raw.idx.gz", data, size);
  for (int i = 0; i < NOBS; i++)
    ganc_data_free(fuzz_open(raw, &fuzz_obs[i], err, sizeof err));

  check_as_labels(data, size, is_gzip);
  return 0;
}
