/* fuzz_data.c — the scratch files and checks the data set targets share
 * (fuzz_data.h). Files live in /dev/shm when there is one: the loaders are
 * what is being tested, not the disk. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_data.h"

ganc_info fuzz_obs[NOBS] = {
    {.name = "flat", .scalar_size = 4, .obs_rank = 1, .obs_shape = {2}, .obs_size = 2},
    {.name = "image", .scalar_size = 8, .obs_rank = 3, .obs_shape = {1, 2, 2}, .obs_size = 4},
    {.name = "matrix", .scalar_size = 4, .obs_rank = 2, .obs_shape = {2, 2}, .obs_size = 4},
};

ganc_info fuzz_labelled = {.name = "labelled", .scalar_size = 4, .classes = FUZZ_CLASSES, .obs_rank = 1,
                           .obs_shape = {2}, .obs_size = 2};

static char dir[256], path[320];

void fuzz_fail(const char *what, const char *detail)
{
  fprintf(stderr, "fuzz: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  abort();
}

static void remove_dir(void)
{
  char p[320];
  static const char *const names[] = {"in.idx", "in.idx.gz", "raw.idx.gz", "in.csv",
                                         "samples.idx", "labels.idx", NULL};
  for (int i = 0; names[i]; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, names[i]);
    unlink(p);
  }
  rmdir(dir);
}

const char *fuzz_write(const char *name, const void *data, size_t size)
{
  if (!dir[0]) {
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/ganc-fuzz-XXXXXX", base);
    if (!mkdtemp(dir))
      fuzz_fail("cannot make a scratch folder", dir);
    atexit(remove_dir);
  }
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
    fuzz_fail("cannot write", path);
  return path;
}

void *fuzz_batch(ganc_data *d, const ganc_info *info, int n, int *labels)
{
  void *out = malloc((size_t)n * (size_t)info->obs_size * (size_t)info->scalar_size);
  if (!out)
    fuzz_fail("out of memory", NULL);
  ganc_rng r;
  ganc_rng_seed(&r, 42);
  ganc_data_batch(d, &r, n, out, labels);
  return out;
}

ganc_data *fuzz_open(const char *spec, const ganc_info *info, char *err, size_t errlen)
{
  return fuzz_open_labels(spec, NULL, info, err, errlen);
}

/* Labelled data: labels in range, and samples that do not depend on them. */
static void check_labels(ganc_data *d, const ganc_info *info, const char *spec)
{
  enum { N = 3 };
  if (ganc_data_classes(d) != info->classes)
    fuzz_fail("other classes than the model's", spec);
  int labels[N];
  void *a = fuzz_batch(d, info, N, labels), *b = fuzz_batch(d, info, N, NULL);
  if (memcmp(a, b, N * (size_t)info->obs_size * (size_t)info->scalar_size) != 0)
    fuzz_fail("asking for labels changed the samples", spec);
  for (int i = 0; i < N; i++)
    if (labels[i] < 0 || labels[i] >= info->classes)
      fuzz_fail("a label out of range", spec);
  free(a);
  free(b);
}

ganc_data *fuzz_open_labels(const char *spec, const char *labels, const ganc_info *info, char *err,
                            size_t errlen)
{
  ganc_data *d = ganc_data_open_labels(spec, labels, info, err, errlen);
  if (!memchr(err, 0, errlen))
    fuzz_fail("an unterminated message", spec);
  if (!d) {
    if (!err[0])
      fuzz_fail("a failure without a message", spec);
    return NULL;
  }
  if (err[0])
    fuzz_fail("a success with a message", err);
  if (ganc_data_count(d) < 1)
    fuzz_fail("a data set without samples", spec);
  if (ganc_data_modes(d, NULL, NULL) != 0)
    fuzz_fail("a file with mixture modes", spec);
  free(fuzz_batch(d, info, 3, NULL));
  if (info->classes > 0)
    check_labels(d, info, spec);
  return d;
}
