/* safetensors.c — model parameters and training checkpoints as safetensors
 * files, and the atomic file replacement every runtime writer uses.
 *
 * The format: an 8-byte little-endian header length N, N bytes of JSON
 * mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets into the data that follows) plus an optional "__metadata__"
 * object of strings, then the raw little-endian data. Files come from
 * anywhere (PyTorch, other tools, a disk that filled up), so every size is
 * checked against the file before it is used. Also the small helpers every
 * part of the runtime shares (io.h): messages, whole-file reads, suffixes,
 * the clock. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "io.h"
#include "scalar.h"

enum {
  HEADER_LIMIT = 100 * 1000 * 1000, /* bytes of JSON we are willing to parse */
  FILE_RANK_LIMIT = 32,             /* dims of a file's shape we can print */
  NAME_MAX_LEN = 64,                /* "adam.m." + a ganc_tensor name, or a
                                       num_batches_tracked named after one */
};

/* A tensor's role in a checkpoint. ema.NAME exists for the generator's
   tensors only, and only in a checkpoint of a run with --ema. */
enum { ROLE_WEIGHT, ROLE_ADAM_M, ROLE_ADAM_V, ROLE_EMA, ROLE_COUNT };

static const char *const role_prefix[ROLE_COUNT] = {"", "adam.m.", "adam.v.", "ema."};

/* What a name of the model stands for: a parameter tensor; a running
   statistic, which is no parameter (no Adam moments) but has a moving
   average in the generator; or a batch_norm layer's num_batches_tracked,
   an I64 scalar that counts its network's training passes and has
   neither. */
enum { KIND_PARAM, KIND_STAT, KIND_TRACKED };

static const char running_mean_suffix[] = ".running_mean";

/* Whether tensor t is the generator's (so it has a moving average). */
static int is_generator_tensor(const ganc_info *info, const ganc_tensor *t)
{
  return t->offset + t->count <= info->g_param_count;
}

static int is_generator_stat(const ganc_info *info, const ganc_tensor *t)
{
  return t->offset + t->count <= info->g_stats_count;
}

/* For the statistic t of a batch_norm layer, its layer's num_batches_tracked
   into name ("generator.1.running_mean" gives "generator.1.num_batches_tracked"):
   1 for a running_mean, 0 for the layer's other statistic. */
static int tracked_name(const ganc_tensor *t, char name[NAME_MAX_LEN])
{
  if (!ganc_ends_with(t->name, running_mean_suffix))
    return 0;
  int prefix = (int)(strlen(t->name) - (sizeof running_mean_suffix - 1));
  snprintf(name, NAME_MAX_LEN, "%.*s.num_batches_tracked", prefix, t->name);
  return 1;
}

void ganc_seterr(char *err, size_t errlen, const char *fmt, ...)
{
  if (!err || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

int ganc_ends_with(const char *s, const char *suffix)
{
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

void ganc_format_real(char *buf, size_t len, double v)
{
  for (int digits = 1; digits <= 17; digits++) {
    snprintf(buf, len, "%.*g", digits, v);
    if (strtod(buf, NULL) == v)
      return;
  }
}

double ganc_seconds(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- Atomic replacement ---- */

int ganc_atomic_open(ganc_atomic *a, const char *path, char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  a->f = NULL;
  a->path = strdup(path);
  a->tmp = malloc(strlen(path) + sizeof ".tmp");
  if (!a->path || !a->tmp) {
    ganc_seterr(err, errlen, "%s: out of memory", path);
    goto fail;
  }
  strcpy(a->tmp, path);
  strcat(a->tmp, ".tmp");
  a->f = fopen(a->tmp, "wb");
  if (!a->f) {
    ganc_seterr(err, errlen, "cannot create '%s': %s", a->tmp, strerror(errno));
    goto fail;
  }
  return 0;
fail:
  free(a->path);
  free(a->tmp);
  a->path = a->tmp = NULL;
  return -1;
}

static void atomic_free(ganc_atomic *a)
{
  free(a->path);
  free(a->tmp);
  a->path = a->tmp = NULL;
  a->f = NULL;
}

void ganc_atomic_abort(ganc_atomic *a)
{
  if (a->f)
    fclose(a->f);
  if (a->tmp)
    remove(a->tmp);
  atomic_free(a);
}

/* The rename is only durable once the directory entry is on disk too. */
static int sync_parent_dir(const char *path)
{
  const char *slash = strrchr(path, '/');
  char *dir;
  if (!slash) {
    dir = strdup(".");
  } else {
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    dir = malloc(n + 1);
    if (dir) {
      memcpy(dir, path, n);
      dir[n] = 0;
    }
  }
  if (!dir) {
    errno = ENOMEM;
    return -1;
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY);
  free(dir);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  /* Some file systems cannot sync a directory; the data itself is synced. */
  if (rc != 0 && errno == EINVAL)
    rc = 0;
  int saved = errno;
  close(fd);
  errno = saved;
  return rc;
}

int ganc_atomic_commit(ganc_atomic *a, char *err, size_t errlen)
{
  FILE *f = a->f;
  a->f = NULL;
  if (ferror(f)) {
    ganc_seterr(err, errlen, "cannot write '%s'", a->path);
    fclose(f);
    goto fail;
  }
  if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
    ganc_seterr(err, errlen, "cannot write '%s': %s", a->path, strerror(errno));
    fclose(f);
    goto fail;
  }
  if (fclose(f) != 0) {
    ganc_seterr(err, errlen, "cannot write '%s': %s", a->path, strerror(errno));
    goto fail;
  }
  if (rename(a->tmp, a->path) != 0) {
    ganc_seterr(err, errlen, "cannot rename '%s' to '%s': %s", a->tmp, a->path,
           strerror(errno));
    goto fail;
  }
  /* Too late to keep PATH as it was, but the caller should know the new
     contents may not survive a crash. */
  if (sync_parent_dir(a->path) != 0) {
    ganc_seterr(err, errlen, "'%s' was written but its directory could not be synced: %s",
           a->path, strerror(errno));
    atomic_free(a);
    return -1;
  }
  atomic_free(a);
  ganc_seterr(err, errlen, "%s", "");
  return 0;
fail:
  remove(a->tmp);
  atomic_free(a);
  return -1;
}

/* ---- Helpers ---- */

static int host_is_little_endian(void)
{
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static uint64_t get_le(const unsigned char *p, int n)
{
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
  for (int i = 0; i < n; i++, v >>= 8)
    p[i] = (unsigned char)v;
}

/* a * b, or -1 when it would exceed limit. */
static int mul_check(uint64_t a, uint64_t b, uint64_t limit, uint64_t *out)
{
  if (a != 0 && b > limit / a)
    return -1;
  *out = a * b;
  return 0;
}


/* The first of n tensors that is not a slice of an array of limit scalars
   with a terminated name and a shape of its count, or -1. */
static int bad_tensor(const ganc_tensor *tensors, int n, int64_t limit)
{
  for (int k = 0; k < n; k++) {
    const ganc_tensor *t = &tensors[k];
    uint64_t count = 1;
    int ok = t->rank >= 0 && t->rank <= GANC_MAX_RANK && t->offset >= 0 &&
             t->count >= 0 && t->offset <= limit - t->count &&
             memchr(t->name, 0, sizeof t->name) != NULL;
    for (int i = 0; ok && i < t->rank; i++)
      ok = t->shape[i] >= 0 &&
           mul_check(count, (uint64_t)t->shape[i], INT64_MAX, &count) == 0;
    if (!ok || count != (uint64_t)t->count)
      return k;
  }
  return -1;
}

/* The compiler makes info; still, a broken one must not make us write
   outside the caller's arrays. */
static int check_info(const ganc_info *info, const char *path, const void *params,
                      const ganc_stats *stats, const ganc_train_state *state,
                      const ganc_ema *ema, char *err, size_t errlen)
{
  if (!params || (state && (!state->adam_m || !state->adam_v || state->step < 0))) {
    ganc_seterr(err, errlen, "%s: internal error: no parameter array or a bad training state",
           path);
    return -1;
  }
  if (info->nstats > 0 && stats && !stats->running) {
    ganc_seterr(err, errlen, "%s: internal error: no statistics array", path);
    return -1;
  }
  if (info->scalar_size != 4 && info->scalar_size != 8) {
    ganc_seterr(err, errlen, "%s: internal error: scalar size %d is neither 4 nor 8",
           path, info->scalar_size);
    return -1;
  }
  if (info->ntensors < 0 || (info->ntensors > 0 && !info->tensors) ||
      info->param_count < 0 || info->param_count > INT64_MAX / 32 ||
      (ema && (info->g_param_count < 0 || info->g_param_count > info->param_count)) ||
      info->nstats < 0 || (info->nstats > 0 && !info->stats) || info->stats_count < 0 ||
      info->stats_count > INT64_MAX / 32 || info->g_stats_count < 0 ||
      info->g_stats_count > info->stats_count) {
    ganc_seterr(err, errlen, "%s: internal error: bad model description", path);
    return -1;
  }
  int k = bad_tensor(info->tensors, info->ntensors, info->param_count);
  if (k >= 0) {
    ganc_seterr(err, errlen, "%s: internal error: bad tensor %d in the model description",
           path, k);
    return -1;
  }
  k = bad_tensor(info->stats, info->nstats, info->stats_count);
  if (k >= 0) {
    ganc_seterr(err, errlen, "%s: internal error: bad statistics tensor %d in the model"
           " description", path, k);
    return -1;
  }
  return 0;
}

/* ---- Writing ---- */

static cJSON *add_raw_int(cJSON *array, int64_t v)
{
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  cJSON *item = cJSON_CreateRaw(buf);
  if (item && !cJSON_AddItemToArray(array, item)) {
    cJSON_Delete(item);
    return NULL;
  }
  return item;
}

/* One tensor of a file being written. */
typedef struct Piece {
  char name[NAME_MAX_LEN];
  const ganc_tensor *t;     /* NULL for a num_batches_tracked */
  const unsigned char *src; /* t's scalars, of the model's type */
  int64_t passes;           /* a num_batches_tracked's value */
} Piece;

static int64_t piece_bytes(const Piece *p, int scalar_size)
{
  return p->t ? p->t->count * scalar_size : 8;
}

static int add_tensor_entry(cJSON *root, const Piece *p, int scalar_size, int64_t *offset)
{
  cJSON *entry = cJSON_AddObjectToObject(root, p->name);
  const char *dtype = !p->t ? "I64" : scalar_size == 4 ? "F32" : "F64";
  if (!entry || !cJSON_AddStringToObject(entry, "dtype", dtype))
    return -1;
  cJSON *shape = cJSON_AddArrayToObject(entry, "shape");
  if (!shape)
    return -1;
  for (int i = 0; p->t && i < p->t->rank; i++)
    if (!add_raw_int(shape, p->t->shape[i]))
      return -1;
  cJSON *offsets = cJSON_AddArrayToObject(entry, "data_offsets");
  int64_t end = *offset + piece_bytes(p, scalar_size);
  if (!offsets || !add_raw_int(offsets, *offset) || !add_raw_int(offsets, end))
    return -1;
  *offset = end;
  return 0;
}

/* The n tensors that lie within the first limit scalars of an array laid
   out as they describe, at src, named prefix + their name, after the first
   count of p. The new count. */
static int add_pieces(Piece *p, int count, const char *prefix, const ganc_tensor *tensors,
                      int n, int64_t limit, const void *src, int scalar_size)
{
  for (int k = 0; k < n; k++) {
    const ganc_tensor *t = &tensors[k];
    if (t->offset + t->count > limit)
      continue;
    snprintf(p[count].name, sizeof p[count].name, "%s%s", prefix, t->name);
    p[count].t = t;
    p[count].src = (const unsigned char *)src + t->offset * scalar_size;
    count++;
  }
  return count;
}

/* Every tensor of the file, in the order of its data, into a malloc'd
   array (*n of them); NULL when out of memory. */
static Piece *plan_file(const ganc_info *info, const void *params, const ganc_stats *stats,
                        const ganc_train_state *state, const ganc_ema *ema, int *n)
{
  int s = info->scalar_size, most = info->ntensors * ROLE_COUNT + info->nstats * 3;
  Piece *p = malloc((size_t)(most ? most : 1) * sizeof *p);
  if (!p)
    return NULL;
  int count = 0;
  /* The 8-byte counts first: the data starts 8-byte aligned, so every
     tensor stays aligned to its dtype, as readers that map the file want. */
  for (int k = 0; k < info->nstats; k++) {
    if (tracked_name(&info->stats[k], p[count].name)) {
      p[count].t = NULL;
      p[count].passes = is_generator_stat(info, &info->stats[k]) ? stats->g_passes : stats->d_passes;
      count++;
    }
  }
  count = add_pieces(p, count, "", info->tensors, info->ntensors, INT64_MAX, params, s);
  if (info->nstats > 0)
    count = add_pieces(p, count, "", info->stats, info->nstats, INT64_MAX, stats->running, s);
  if (state) {
    count = add_pieces(p, count, role_prefix[ROLE_ADAM_M], info->tensors, info->ntensors,
                       INT64_MAX, state->adam_m, s);
    count = add_pieces(p, count, role_prefix[ROLE_ADAM_V], info->tensors, info->ntensors,
                       INT64_MAX, state->adam_v, s);
  }
  if (ema) {
    count = add_pieces(p, count, role_prefix[ROLE_EMA], info->tensors, info->ntensors,
                       info->g_param_count, ema->params, s);
    if (info->g_stats_count > 0)
      count = add_pieces(p, count, role_prefix[ROLE_EMA], info->stats, info->nstats,
                         info->g_stats_count, ema->stats, s);
  }
  *n = count;
  return p;
}

static cJSON *build_header(const ganc_info *info, const ganc_train_state *state,
                           const ganc_ema *ema, const Piece *pieces, int npieces)
{
  cJSON *root = cJSON_CreateObject();
  cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
  if (!meta)
    goto fail;
  if (info->name && !cJSON_AddStringToObject(meta, "ganc.model", info->name))
    goto fail;
  if (info->signature && !cJSON_AddStringToObject(meta, "ganc.signature", info->signature))
    goto fail;
  if (state) {
    char buf[80];
    snprintf(buf, sizeof buf, "%" PRId64, state->step);
    if (!cJSON_AddStringToObject(meta, "ganc.step", buf))
      goto fail;
    snprintf(buf, sizeof buf, "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64,
             state->rng.s[0], state->rng.s[1], state->rng.s[2], state->rng.s[3]);
    if (!cJSON_AddStringToObject(meta, "ganc.rng", buf))
      goto fail;
    if (ema) {
      ganc_format_real(buf, sizeof buf, ema->decay);
      if (!cJSON_AddStringToObject(meta, "ganc.ema", buf))
        goto fail;
    }
  }
  int64_t offset = 0;
  for (int i = 0; i < npieces; i++)
    if (add_tensor_entry(root, &pieces[i], info->scalar_size, &offset))
      goto fail;
  return root;
fail:
  cJSON_Delete(root);
  return NULL;
}

/* count scalars from base as little-endian bytes. */
static int write_scalars(FILE *f, const void *base, int64_t count, int size)
{
  if (host_is_little_endian())
    return fwrite(base, (size_t)size, (size_t)count, f) == (size_t)count ? 0 : -1;
  unsigned char buf[4096];
  const unsigned char *p = base;
  int64_t per = (int64_t)sizeof buf / size;
  for (int64_t i = 0; i < count; i += per) {
    int64_t m = count - i < per ? count - i : per;
    for (int64_t j = 0; j < m; j++) {
      uint64_t v;
      if (size == 4) {
        uint32_t u;
        memcpy(&u, p + (i + j) * 4, 4);
        v = u;
      } else {
        memcpy(&v, p + (i + j) * 8, 8);
      }
      put_le(buf + j * size, v, size);
    }
    if (fwrite(buf, (size_t)size, (size_t)m, f) != (size_t)m)
      return -1;
  }
  return 0;
}

static int write_piece(FILE *f, const Piece *p, int scalar_size)
{
  if (p->t)
    return write_scalars(f, p->src, p->t->count, scalar_size);
  unsigned char b[8];
  put_le(b, (uint64_t)p->passes, 8);
  return fwrite(b, 1, 8, f) == 8 ? 0 : -1;
}

int ganc_save_checkpoint(const ganc_info *info, const char *path, const void *params,
                         const ganc_stats *stats, const ganc_train_state *state,
                         const ganc_ema *ema, char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  if (ema && (!state || !ema->params || !(ema->decay > 0 && ema->decay < 1))) {
    ganc_seterr(err, errlen, "%s: internal error: a moving average without a training state,"
           " parameters or a decay in (0, 1)", path);
    return -1;
  }
  /* A file without the statistics would not load into the model. */
  if (info->nstats > 0 && (!stats || stats->g_passes < 0 || stats->d_passes < 0 ||
                           (ema && info->g_stats_count > 0 && !ema->stats))) {
    ganc_seterr(err, errlen, "%s: internal error: model '%s' has batch_norm, but its running"
           " statistics are missing or count negative passes", path, info->name ? info->name : "?");
    return -1;
  }
  if (check_info(info, path, params, stats, state, ema, err, errlen))
    return -1;
  int npieces;
  Piece *pieces = plan_file(info, params, stats, state, ema, &npieces);
  cJSON *root = pieces ? build_header(info, state, ema, pieces, npieces) : NULL;
  char *json = root ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  if (!json) {
    ganc_seterr(err, errlen, "%s: out of memory", path);
    free(pieces);
    return -1;
  }
  /* Pad with spaces so that the data starts 8-byte aligned. */
  size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8;
  unsigned char lenbuf[8];
  put_le(lenbuf, hlen, 8);

  ganc_atomic a;
  if (ganc_atomic_open(&a, path, err, errlen)) {
    free(json);
    free(pieces);
    return -1;
  }
  int bad = fwrite(lenbuf, 1, 8, a.f) != 8 || fwrite(json, 1, jlen, a.f) != jlen;
  for (size_t i = jlen; i < hlen && !bad; i++)
    bad = fputc(' ', a.f) == EOF;
  free(json);
  for (int i = 0; i < npieces && !bad; i++)
    bad = write_piece(a.f, &pieces[i], info->scalar_size) != 0;
  free(pieces);
  if (bad) {
    ganc_seterr(err, errlen, "cannot write '%s': %s", path, strerror(errno));
    ganc_atomic_abort(&a);
    return -1;
  }
  return ganc_atomic_commit(&a, err, errlen);
}

int ganc_save_weights(const ganc_info *info, const char *path, const void *params,
                      const ganc_stats *stats, const ganc_train_state *state, char *err, size_t errlen)
{
  return ganc_save_checkpoint(info, path, params, stats, state, NULL, err, errlen);
}

/* ---- Reading ---- */

int ganc_read_file_max(const char *path, size_t max, unsigned char **out, size_t *outlen,
                       char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  int is_stdin = strcmp(path, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen(path, "rb");
  int e;
  if (!f) {
    e = errno;
    ganc_seterr(err, errlen, "cannot open '%s': %s", path, strerror(e));
    errno = e;
    return -1;
  }
  /* cap is what may be read before the buffer grows; the buffer holds one
     more byte, for the NUL. */
  struct stat st;
  size_t cap = 1 << 16, len = 0;
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      (uintmax_t)st.st_size < SIZE_MAX / 4)
    cap = (size_t)st.st_size + 1; /* + 1 to see the end of file in one read */
  if (cap > max)
    cap = max;
  unsigned char *buf = malloc(cap + 1);
  for (;;) {
    if (!buf) {
      e = ENOMEM;
      ganc_seterr(err, errlen, "%s: out of memory reading the file", path);
      goto fail;
    }
    len += fread(buf + len, 1, cap - len, f);
    if (ferror(f)) {
      e = errno ? errno : EIO;
      ganc_seterr(err, errlen, "cannot read '%s': %s", path, strerror(e));
      free(buf);
      goto fail;
    }
    if (len < cap || len == max) /* the end of the file, or as far as max */
      break;
    size_t next = cap > SIZE_MAX / 4 ? 0 : cap * 2;
    if (next > max)
      next = max;
    unsigned char *grown = next ? realloc(buf, next + 1) : NULL;
    if (!grown)
      free(buf);
    buf = grown;
    cap = next;
  }
  if (!is_stdin)
    fclose(f);
  buf[len] = 0;
  *out = buf;
  *outlen = len;
  return 0;
fail:
  if (!is_stdin)
    fclose(f);
  errno = e;
  return -1;
}

int ganc_read_file(const char *path, unsigned char **out, size_t *outlen, char *err,
                   size_t errlen)
{
  return ganc_read_file_max(path, SIZE_MAX, out, outlen, err, errlen);
}

/* A JSON number that is a whole number in [0, 2^53]. */
static int json_uint(const cJSON *item, uint64_t *out)
{
  if (!cJSON_IsNumber(item))
    return -1;
  double v = item->valuedouble;
  if (!(v >= 0 && v <= 9007199254740992.0) || v != floor(v))
    return -1;
  *out = (uint64_t)v;
  return 0;
}

static int cmp_items(const void *a, const void *b)
{
  return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* The first key that occurs twice in object (cJSON keeps both), or NULL.
   *oom is set when there was no memory to check. */
static const char *duplicate_key(const cJSON *object, int *oom)
{
  int n = cJSON_GetArraySize(object);
  *oom = 0;
  if (n < 2)
    return NULL;
  const cJSON **items = malloc((size_t)n * sizeof *items);
  if (!items) {
    *oom = 1;
    return NULL;
  }
  int i = 0;
  for (const cJSON *c = object->child; c && i < n; c = c->next)
    items[i++] = c;
  qsort(items, (size_t)i, sizeof *items, cmp_items);
  const char *dup = NULL;
  for (int j = 1; j < i && !dup; j++)
    if (strcmp(items[j - 1]->string, items[j]->string) == 0)
      dup = items[j]->string;
  free(items);
  return dup;
}

/* A name the model gives to a tensor of a file. */
typedef struct Known {
  const char *name;
  const ganc_tensor *t; /* its shape and count */
  int kind;
  int index;            /* in the model's order: parameters, statistics, counts */
  int generator;        /* the generator's (so it may have a moving average) */
} Known;

/* What a num_batches_tracked holds: one scalar, shape []. */
static const ganc_tensor tracked_tensor = {.rank = 0, .count = 1};

static int cmp_known_ptrs(const void *a, const void *b)
{
  return strcmp((*(const Known *const *)a)->name, (*(const Known *const *)b)->name);
}

static int cmp_name_known(const void *key, const void *elem)
{
  return strcmp(key, (*(const Known *const *)elem)->name);
}

/* One tensor of the file that will be loaded. */
typedef struct Entry {
  const char *name;
  const Known *k;
  int role;
  int dtype_size;        /* 4 for F32, 8 for F64 and I64 */
  uint64_t begin, end;   /* in the data section */
  int64_t passes;        /* a num_batches_tracked's value */
} Entry;

static int cmp_entry_begin(const void *a, const void *b)
{
  const Entry *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Everything ganc_load_weights gathers from the header before it touches the
   caller's arrays. */
typedef struct Loader {
  const ganc_info *info;
  const char *path;
  int want_state;
  int want_ema;               /* read ema.* and ganc.ema (implies want_state) */
  int want_stats;             /* read the running statistics and the counts */
  int want_ema_stats;         /* and the statistics' ema.* (implies both) */
  Known *known;               /* every name of the model, in its order */
  const Known **sorted;       /* the same by name */
  int nknown;
  char (*tracked)[NAME_MAX_LEN]; /* the names of the num_batches_tracked */
  Entry *entries;
  int nentries;
  char *found;                /* [role * nknown + index] */
  const char *model, *signature, *step, *rng, *ema; /* metadata */
  int64_t step_value;
  ganc_rng rng_value;
  double ema_value;           /* 0: no moving average */
  const unsigned char *data;  /* the data section, data_size bytes */
  uint64_t data_size;
  char *err;
  size_t errlen;
} Loader;

static int read_metadata(Loader *L, const cJSON *meta)
{
  if (!cJSON_IsObject(meta)) {
    ganc_seterr(L->err, L->errlen, "%s: __metadata__ is not an object", L->path);
    return -1;
  }
  int oom;
  const char *dup = duplicate_key(meta, &oom);
  if (dup || oom) {
    ganc_seterr(L->err, L->errlen, oom ? "%s: out of memory" : "%s: duplicate metadata key '%s'",
           L->path, dup);
    return -1;
  }
  for (const cJSON *c = meta->child; c; c = c->next) {
    if (!cJSON_IsString(c)) {
      ganc_seterr(L->err, L->errlen, "%s: metadata '%s' is not a string", L->path, c->string);
      return -1;
    }
    if (strcmp(c->string, "ganc.model") == 0)
      L->model = c->valuestring;
    else if (strcmp(c->string, "ganc.signature") == 0)
      L->signature = c->valuestring;
    else if (strcmp(c->string, "ganc.step") == 0)
      L->step = c->valuestring;
    else if (strcmp(c->string, "ganc.rng") == 0)
      L->rng = c->valuestring;
    else if (strcmp(c->string, "ganc.ema") == 0)
      L->ema = c->valuestring;
  }
  if (L->model && L->info->name && strcmp(L->model, L->info->name) != 0) {
    ganc_seterr(L->err, L->errlen, "%s: weights are for model '%s', not '%s'", L->path,
           L->model, L->info->name);
    return -1;
  }
  if (L->signature && L->info->signature && strcmp(L->signature, L->info->signature) != 0) {
    ganc_seterr(L->err, L->errlen,
           "%s: weights are for signature '%s', but the model's is '%s'", L->path,
           L->signature, L->info->signature);
    return -1;
  }
  return 0;
}

static int parse_step(const char *s, int64_t *out)
{
  int64_t v = 0;
  if (!*s)
    return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (INT64_MAX - (*s - '0')) / 10)
      return -1;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return 0;
}

static int hex_digit(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Four hexadecimal words of at most 16 digits, separated by single spaces,
   not all zero (xoshiro's one forbidden state). */
static int parse_rng(const char *s, ganc_rng *out)
{
  uint64_t any = 0;
  for (int w = 0; w < 4; w++) {
    if (w > 0 && *s++ != ' ')
      return -1;
    uint64_t v = 0;
    int digits = 0;
    for (; hex_digit(*s) >= 0; s++, digits++)
      v = v << 4 | (uint64_t)hex_digit(*s);
    if (digits < 1 || digits > 16)
      return -1;
    out->s[w] = v;
    any |= v;
  }
  return *s || !any ? -1 : 0;
}

/* A decay: a number strictly between 0 and 1, the whole of s. */
static int parse_decay(const char *s, double *out)
{
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v > 0 && v < 1))
    return -1;
  *out = v;
  return 0;
}

/* Whether the caller did not ask for a statistic's tensor: none of them
   with stats == NULL, nor their moving averages without ema->stats. */
static int stat_ignored(const Loader *L, const Known *k, int role)
{
  if (k->kind == KIND_PARAM)
    return 0;
  if (role == ROLE_WEIGHT)
    return !L->want_stats;
  return role == ROLE_EMA && k->kind == KIND_STAT && !L->want_ema_stats;
}

/* Why a file cannot hold k in role, or NULL if it can. */
static const char *role_refused(const Known *k, int role)
{
  if (role == ROLE_WEIGHT)
    return NULL;
  if (k->kind == KIND_TRACKED)
    return "a num_batches_tracked has no Adam moments and no moving average";
  if (k->kind == KIND_STAT && role != ROLE_EMA)
    return "running statistics are not parameters and have no Adam moments";
  if (role == ROLE_EMA && !k->generator)
    return "the moving average covers the generator's tensors only";
  return NULL;
}

static int read_tensor(Loader *L, const cJSON *item)
{
  const char *name = item->string;
  const ganc_info *info = L->info;
  int role = ROLE_WEIGHT;
  const char *base = name;
  for (int r = ROLE_ADAM_M; r < ROLE_COUNT; r++) {
    size_t n = strlen(role_prefix[r]);
    if (strncmp(name, role_prefix[r], n) == 0) {
      role = r;
      base = name + n;
    }
  }
  if ((role != ROLE_WEIGHT && !L->want_state) || (role == ROLE_EMA && !L->want_ema))
    return 0;
  const Known **hit = L->nknown == 0 ? NULL :
      bsearch(base, L->sorted, (size_t)L->nknown, sizeof *L->sorted, cmp_name_known);
  if (!hit) {
    ganc_seterr(L->err, L->errlen, "%s: unexpected tensor '%s': model '%s' has no such parameter",
           L->path, name, info->name ? info->name : "?");
    return -1;
  }
  const Known *k = *hit;
  const ganc_tensor *t = k->t;
  if (stat_ignored(L, k, role))
    return 0;
  const char *refused = role_refused(k, role);
  if (refused) {
    ganc_seterr(L->err, L->errlen, "%s: unexpected tensor '%s': %s", L->path, name, refused);
    return -1;
  }
  if (role == ROLE_EMA && !L->ema) {
    ganc_seterr(L->err, L->errlen, "%s: tensor '%s' is a moving average, but metadata ganc.ema"
           " (its decay) is missing", L->path, name);
    return -1;
  }
  if (!cJSON_IsObject(item)) {
    ganc_seterr(L->err, L->errlen, "%s: tensor '%s' is not described by a JSON object",
           L->path, name);
    return -1;
  }

  const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
  int dsize;
  if (!cJSON_IsString(dtype)) {
    ganc_seterr(L->err, L->errlen, "%s: tensor '%s' has no dtype", L->path, name);
    return -1;
  }
  if (k->kind == KIND_TRACKED) {
    if (strcmp(dtype->valuestring, "I64") != 0) {
      ganc_seterr(L->err, L->errlen, "%s: tensor '%s' has dtype '%s'; a num_batches_tracked"
             " is I64", L->path, name, dtype->valuestring);
      return -1;
    }
    dsize = 8;
  } else if (strcmp(dtype->valuestring, "F32") == 0) {
    dsize = 4;
  } else if (strcmp(dtype->valuestring, "F64") == 0) {
    dsize = 8;
  } else {
    ganc_seterr(L->err, L->errlen, "%s: tensor '%s' has dtype '%s'; ganc reads F32 and F64",
           L->path, name, dtype->valuestring);
    return -1;
  }

  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
  int64_t dims[FILE_RANK_LIMIT];
  int rank = 0;
  if (!cJSON_IsArray(shape)) {
    ganc_seterr(L->err, L->errlen, "%s: tensor '%s' has no shape", L->path, name);
    return -1;
  }
  for (const cJSON *d = shape->child; d; d = d->next, rank++) {
    uint64_t v;
    if (json_uint(d, &v) || rank == FILE_RANK_LIMIT) {
      ganc_seterr(L->err, L->errlen, "%s: tensor '%s' has an invalid shape", L->path, name);
      return -1;
    }
    dims[rank] = (int64_t)v;
  }
  int same = rank == t->rank;
  for (int i = 0; same && i < rank; i++)
    same = dims[i] == t->shape[i];
  if (!same) {
    char have[512], want[512];
    ganc_format_shape(have, sizeof have, dims, rank);
    ganc_format_shape(want, sizeof want, t->shape, t->rank);
    ganc_seterr(L->err, L->errlen, "%s: tensor '%s' has shape %s but the model expects %s",
           L->path, name, have, want);
    return -1;
  }

  const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
  uint64_t begin, end, bytes = (uint64_t)t->count * (uint64_t)dsize;
  if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
      json_uint(offsets->child, &begin) || json_uint(offsets->child->next, &end)) {
    ganc_seterr(L->err, L->errlen,
           "%s: tensor '%s' has no valid data_offsets (two whole numbers)", L->path, name);
    return -1;
  }
  if (end < begin || end - begin != bytes) {
    char want[512];
    ganc_format_shape(want, sizeof want, t->shape, t->rank);
    ganc_seterr(L->err, L->errlen,
           "%s: tensor '%s' has data_offsets [%" PRIu64 ", %" PRIu64 "], but %s %s"
           " takes %" PRIu64 " bytes", L->path, name, begin, end,
           dtype->valuestring, want, bytes);
    return -1;
  }
  if (end > L->data_size) {
    ganc_seterr(L->err, L->errlen,
           "%s: tensor '%s' has data_offsets [%" PRIu64 ", %" PRIu64 "] beyond the end"
           " of the file (the data holds %" PRIu64 " bytes)", L->path, name, begin, end,
           L->data_size);
    return -1;
  }
  int64_t passes = 0;
  if (k->kind == KIND_TRACKED) {
    passes = (int64_t)get_le(L->data + begin, 8);
    if (passes < 0) {
      ganc_seterr(L->err, L->errlen, "%s: tensor '%s' holds %" PRId64 ", not a count of"
             " training passes", L->path, name, passes);
      return -1;
    }
  }

  L->found[role * L->nknown + k->index] = 1;
  L->entries[L->nentries++] = (Entry){name, k, role, dsize, begin, end, passes};
  return 0;
}

/* Whether a file must hold k in role. */
static int required(const Loader *L, const Known *k, int role)
{
  if (role == ROLE_WEIGHT)
    return k->kind == KIND_PARAM || (k->kind == KIND_STAT && L->want_stats);
  if (role == ROLE_EMA)
    return L->ema && k->generator &&
           (k->kind == KIND_PARAM ? L->want_ema : k->kind == KIND_STAT && L->want_ema_stats);
  return k->kind == KIND_PARAM && L->want_state;
}

static int check_complete(Loader *L)
{
  for (int role = 0; role < ROLE_COUNT; role++) {
    for (int i = 0; i < L->nknown; i++) {
      const Known *k = &L->known[i];
      if (L->found[role * L->nknown + i] || !required(L, k, role))
        continue;
      ganc_seterr(L->err, L->errlen, "%s: tensor '%s%s' is missing%s", L->path,
             role_prefix[role], k->name,
             role == ROLE_WEIGHT ? ""
             : role == ROLE_EMA ? " (metadata ganc.ema says the checkpoint holds the generator's moving average)"
                                : " (a checkpoint holds the Adam moments of every tensor)");
      return -1;
    }
  }
  /* Entries are sorted by begin here; empty tensors occupy no bytes. */
  const Entry *prev = NULL;
  for (int i = 0; i < L->nentries; i++) {
    const Entry *e = &L->entries[i];
    if (e->begin == e->end)
      continue;
    if (prev && e->begin < prev->end) {
      ganc_seterr(L->err, L->errlen, "%s: tensors '%s' and '%s' overlap in the data", L->path,
             prev->name, e->name);
      return -1;
    }
    prev = e;
  }
  return 0;
}

/* Convert one tensor into the model's scalars; 1 when a value is not finite. */
static int copy_tensor(const Entry *e, const unsigned char *src, unsigned char *dst,
                       int scalar_size)
{
  int64_t n = e->k->t->count;
  if (e->dtype_size == scalar_size && host_is_little_endian()) {
    memcpy(dst, src, (size_t)n * (size_t)scalar_size);
  } else {
    for (int64_t i = 0; i < n; i++) {
      uint64_t u = get_le(src + i * e->dtype_size, e->dtype_size);
      double v;
      if (e->dtype_size == 4) {
        uint32_t u32 = (uint32_t)u;
        float f;
        memcpy(&f, &u32, 4);
        v = f;
      } else {
        memcpy(&v, &u, 8);
      }
      ganc_scalar_store(dst, scalar_size, i, v);
    }
  }
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(ganc_scalar_load(dst, scalar_size, i)))
      return 1;
  return 0;
}

static void add_known(Loader *L, const char *name, const ganc_tensor *t, int kind, int generator)
{
  Known *k = &L->known[L->nknown];
  *k = (Known){name, t, kind, L->nknown, generator};
  L->sorted[L->nknown++] = k;
}

/* Every name of the model into L->known and L->sorted. 0, or -1 when out
   of memory. */
static int list_known(Loader *L)
{
  const ganc_info *info = L->info;
  size_t most = (size_t)info->ntensors + 2 * (size_t)info->nstats;
  L->known = malloc((most ? most : 1) * sizeof *L->known);
  L->sorted = malloc((most ? most : 1) * sizeof *L->sorted);
  L->tracked = malloc((info->nstats ? (size_t)info->nstats : 1) * sizeof *L->tracked);
  if (!L->known || !L->sorted || !L->tracked)
    return -1;
  for (int k = 0; k < info->ntensors; k++)
    add_known(L, info->tensors[k].name, &info->tensors[k], KIND_PARAM,
              is_generator_tensor(info, &info->tensors[k]));
  for (int k = 0; k < info->nstats; k++)
    add_known(L, info->stats[k].name, &info->stats[k], KIND_STAT,
              is_generator_stat(info, &info->stats[k]));
  int ntracked = 0;
  for (int k = 0; k < info->nstats; k++)
    if (tracked_name(&info->stats[k], L->tracked[ntracked]))
      add_known(L, L->tracked[ntracked++], &tracked_tensor, KIND_TRACKED,
                is_generator_stat(info, &info->stats[k]));
  qsort(L->sorted, (size_t)L->nknown, sizeof *L->sorted, cmp_known_ptrs);
  return 0;
}

static int load_header(Loader *L, const cJSON *root)
{
  if (!cJSON_IsObject(root)) {
    ganc_seterr(L->err, L->errlen, "%s: the header is not a JSON object", L->path);
    return -1;
  }
  int oom;
  const char *dup = duplicate_key(root, &oom);
  if (dup || oom) {
    ganc_seterr(L->err, L->errlen, oom ? "%s: out of memory" : "%s: duplicate key '%s' in the header",
           L->path, dup);
    return -1;
  }
  int nitems = cJSON_GetArraySize(root);
  if (list_known(L) ||
      !(L->entries = malloc((nitems ? (size_t)nitems : 1) * sizeof *L->entries)) ||
      !(L->found = calloc(ROLE_COUNT * (L->nknown ? (size_t)L->nknown : 1), 1))) {
    ganc_seterr(L->err, L->errlen, "%s: out of memory", L->path);
    return -1;
  }

  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
  if (meta && read_metadata(L, meta))
    return -1;
  if (L->want_state && (!L->step || !L->rng)) {
    ganc_seterr(L->err, L->errlen, "%s: not a checkpoint: metadata '%s' is missing", L->path,
           !L->step ? "ganc.step" : "ganc.rng");
    return -1;
  }
  if (L->want_state && parse_step(L->step, &L->step_value)) {
    ganc_seterr(L->err, L->errlen, "%s: metadata ganc.step '%s' is not a step number", L->path,
           L->step);
    return -1;
  }
  if (L->want_state && parse_rng(L->rng, &L->rng_value)) {
    ganc_seterr(L->err, L->errlen, "%s: metadata ganc.rng '%s' is not a generator state"
           " (four hexadecimal words, not all zero)", L->path, L->rng);
    return -1;
  }
  if (L->want_ema && L->ema && parse_decay(L->ema, &L->ema_value)) {
    ganc_seterr(L->err, L->errlen, "%s: metadata ganc.ema '%s' is not a moving average's decay"
           " (a number between 0 and 1)", L->path, L->ema);
    return -1;
  }
  for (const cJSON *c = root->child; c; c = c->next)
    if (c != meta && read_tensor(L, c))
      return -1;
  qsort(L->entries, (size_t)L->nentries, sizeof *L->entries, cmp_entry_begin);
  return check_complete(L);
}

/* Where the scalars of entry e go: NULL for a moving average the caller
   did not ask for. */
static void *destination(const Entry *e, void *params, ganc_stats *stats,
                         ganc_train_state *state, ganc_ema *ema)
{
  if (e->k->kind == KIND_STAT)
    return e->role == ROLE_EMA ? ema->stats : stats->running;
  switch (e->role) {
  case ROLE_ADAM_M: return state->adam_m;
  case ROLE_ADAM_V: return state->adam_v;
  case ROLE_EMA: return ema->params;
  default: return params;
  }
}

/* Parse a whole file's bytes (size of them at buf) and fill the caller's
   arrays; path names the file in messages. */
static int load_buffer(const ganc_info *info, const char *path, const unsigned char *buf,
                       size_t size, void *params, ganc_stats *stats, ganc_train_state *state,
                       ganc_ema *ema, char *err, size_t errlen)
{
  int want_stats = stats && info->nstats > 0;
  Loader L = {.info = info, .path = path, .want_state = state != NULL,
              .want_ema = state && ema, .want_stats = want_stats,
              .want_ema_stats = want_stats && state && ema && ema->stats,
              .err = err, .errlen = errlen};
  cJSON *root = NULL;
  int rc = -1;
  if (size < 8) {
    ganc_seterr(err, errlen, "%s: not a safetensors file: %zu bytes, too short for the header length",
           path, size);
    goto done;
  }
  uint64_t hlen = get_le(buf, 8);
  if (hlen > HEADER_LIMIT) {
    ganc_seterr(err, errlen, "%s: header length %" PRIu64 " is absurd (the limit is %d bytes)",
           path, hlen, HEADER_LIMIT);
    goto done;
  }
  if (hlen > size - 8) {
    ganc_seterr(err, errlen,
           "%s: header length %" PRIu64 " goes beyond the end of the file (%zu bytes);"
           " truncated?", path, hlen, size);
    goto done;
  }
  const char *json = (const char *)buf + 8, *json_end = json + hlen, *parse_end = NULL;
  root = cJSON_ParseWithLengthOpts(json, (size_t)hlen, &parse_end, 0);
  if (!root) {
    ganc_seterr(err, errlen, "%s: the header is not valid JSON (error near byte %td)", path,
           (parse_end ? parse_end - json : 0) + 8);
    goto done;
  }
  for (const char *p = parse_end; p && p < json_end; p++) {
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
      ganc_seterr(err, errlen, "%s: the header has extra bytes after its JSON (at byte %td)",
             path, p - json + 8);
      goto done;
    }
  }
  L.data = buf + 8 + hlen;
  L.data_size = size - 8 - hlen;
  if (load_header(&L, root))
    goto done;

  const Entry *nonfinite = NULL; /* the first in the model's order */
  const Entry *first[2] = {NULL, NULL}; /* the discriminator's and the generator's
                                           first num_batches_tracked */
  for (int i = 0; i < L.nentries; i++) {
    const Entry *e = &L.entries[i];
    if (e->k->kind == KIND_TRACKED) {
      const Entry **f = &first[e->k->generator];
      if (!*f || e->k->index < (*f)->k->index)
        *f = e;
      continue;
    }
    unsigned char *base = destination(e, params, stats, state, ema);
    if (!base) /* a moving average the caller did not ask for */
      continue;
    unsigned char *dst = base + e->k->t->offset * info->scalar_size;
    if (copy_tensor(e, L.data + e->begin, dst, info->scalar_size) && e->role == ROLE_WEIGHT &&
        (!nonfinite || e->k->index < nonfinite->k->index))
      nonfinite = e;
  }
  if (want_stats) {
    stats->g_passes = first[1] ? first[1]->passes : 0;
    stats->d_passes = first[0] ? first[0]->passes : 0;
  }
  if (state) {
    state->step = L.step_value;
    state->rng = L.rng_value;
  }
  if (L.want_ema)
    ema->decay = L.ema_value;
  if (nonfinite)
    ganc_seterr(err, errlen, "%s: warning: tensor '%s' holds NaN or infinite values", path,
           nonfinite->name);
  rc = 0;
done:
  cJSON_Delete(root);
  free(L.known);
  free(L.sorted);
  free(L.tracked);
  free(L.entries);
  free(L.found);
  return rc;
}

int ganc_load_checkpoint(const ganc_info *info, const char *path, void *params,
                         ganc_stats *stats, ganc_train_state *state, ganc_ema *ema, char *err,
                         size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  if (ema && !state) {
    ganc_seterr(err, errlen, "%s: internal error: a moving average without a training state", path);
    return -1;
  }
  if (check_info(info, path, params, stats, state, ema, err, errlen))
    return -1;
  unsigned char *buf;
  size_t size;
  if (ganc_read_file(path, &buf, &size, err, errlen))
    return -1;
  int rc = load_buffer(info, path, buf, size, params, stats, state, ema, err, errlen);
  free(buf);
  return rc;
}

int ganc_load_weights(const ganc_info *info, const char *path, void *params,
                      ganc_stats *stats, ganc_train_state *state, char *err, size_t errlen)
{
  return ganc_load_checkpoint(info, path, params, stats, state, NULL, err, errlen);
}

int ganc_load_weights_mem(const ganc_info *info, const char *name, const void *data,
                          size_t size, void *params, ganc_stats *stats, ganc_train_state *state,
                          char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  if (!name)
    name = "<memory>";
  if (check_info(info, name, params, stats, state, NULL, err, errlen))
    return -1;
  if (!data && size > 0) {
    ganc_seterr(err, errlen, "%s: internal error: no data", name);
    return -1;
  }
  return load_buffer(info, name, data, size, params, stats, state, NULL, err, errlen);
}
