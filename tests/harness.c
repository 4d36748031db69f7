/* harness.c — helpers shared by the Criterion suites (test.h). */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <stdarg.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

int same_file(const char *a, const char *b)
{
  size_t la, lb;
  char *x = slurp(a, &la), *y = slurp(b, &lb);
  int same = x && y && la == lb && memcmp(x, y, la) == 0;
  free(x);
  free(y);
  return same;
}

const char *path_in(const char *dir, const char *fmt, ...)
{
  static char bufs[8][700];
  static int next;
  char *b = bufs[next++ % 8];
  int n = snprintf(b, sizeof bufs[0], "%s/", dir);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b + n, sizeof bufs[0] - (size_t)n, fmt, ap);
  va_end(ap);
  return b;
}

const char *ganc_bin(void)
{
  const char *g = getenv("GANC");
  return g && *g ? g : "build/ganc";
}

char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 1 << 12, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += got;
    if (n + 1 == cap)
      buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  buf[n] = 0;
  if (len)
    *len = n;
  return buf;
}

char *tmpdir_make(void)
{
  char *dir = strdup("/tmp/ganc-test-XXXXXX");
  if (!mkdtemp(dir)) {
    free(dir);
    return NULL;
  }
  return dir;
}

void tmpdir_remove(char *dir)
{
  if (!dir)
    return;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
  free(dir);
}

char scratch_dir[64];

void scratch_open(void)
{
  strcpy(scratch_dir, "/tmp/ganc-test-XXXXXX");
  if (!mkdtemp(scratch_dir)) {
    perror("mkdtemp");
    abort();
  }
}

void scratch_close(void)
{
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", scratch_dir);
}

const char *scratch_path(const char *name)
{
  static char paths[4][512];
  static int next;
  char *p = paths[next++ % 4];
  snprintf(p, sizeof paths[0], "%s/%s", scratch_dir, name);
  return p;
}

int scratch_entries(void)
{
  DIR *d = opendir(scratch_dir);
  if (!d) {
    perror(scratch_dir);
    abort();
  }
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static int exit_status(int raw)
{
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + (WIFSIGNALED(raw) ? WTERMSIG(raw) : 0);
}

Run run_gancf(const char *fmt, ...)
{
  char args[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  return run_ganc(args, NULL);
}

Run run_ganc(const char *args, const char *stdin_text)
{
  Run r = {0};
  char *dir = tmpdir_make();
  char cmd[4096], in[600], out[600], err[600];
  snprintf(in, sizeof in, "%s/in", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  snprintf(err, sizeof err, "%s/err", dir);
  if (stdin_text) {
    FILE *f = fopen(in, "wb");
    fputs(stdin_text, f);
    fclose(f);
  }
  snprintf(cmd, sizeof cmd, "%s %s <%s >%s 2>%s", ganc_bin(), args, stdin_text ? in : "/dev/null", out, err);
  r.status = exit_status(system(cmd));
  r.out = slurp(out, NULL);
  r.err = slurp(err, NULL);
  tmpdir_remove(dir);
  return r;
}

void run_free(Run *r)
{
  free(r->out);
  free(r->err);
}

int run_shell(const char *cmd, char **output)
{
  char *dir = tmpdir_make();
  char full[8192], log[600];
  snprintf(log, sizeof log, "%s/log", dir);
  snprintf(full, sizeof full, "(%s) >%s 2>&1", cmd, log);
  int status = exit_status(system(full));
  if (output)
    *output = slurp(log, NULL);
  tmpdir_remove(dir);
  return status;
}

static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

char **list_files(const char *dir, const char *suffix)
{
  DIR *d = opendir(dir);
  size_t n = 0, cap = 16, sl = strlen(suffix);
  char **paths = calloc(cap, sizeof *paths);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
      continue;
    if (n + 1 >= cap)
      paths = realloc(paths, (cap *= 2) * sizeof *paths);
    size_t pl = strlen(dir) + l + 2;
    paths[n] = malloc(pl);
    snprintf(paths[n++], pl, "%s/%s", dir, e->d_name);
  }
  if (d)
    closedir(d);
  paths[n] = NULL;
  qsort(paths, n, sizeof *paths, cmp_str);
  return paths;
}

void paths_free(char **paths)
{
  for (char **p = paths; p && *p; p++)
    free(*p);
  free(paths);
}

struct Aot {
  char *dir;
  void *handle;
};

Aot *aot_build(const char *gan_path, const char *cc, char *why, size_t whylen)
{
  Aot *a = calloc(1, sizeof *a);
  a->dir = tmpdir_make();
  char cmd[4096];
  char *log = NULL;
  /* Under SANITIZE=1 the Makefile passes its sanitizer flags, so that the
     emitted code is checked as the rest of the process is. */
  const char *extra = getenv("GANC_TEST_CFLAGS");
  snprintf(cmd, sizeof cmd, "%s emit %s -o %s && %s -std=c99 -O2 %s -shared -fPIC -o %s/models.so %s/*.c -lm",
           ganc_bin(), gan_path, a->dir, cc, extra ? extra : "", a->dir, a->dir);
  if (run_shell(cmd, &log) != 0) {
    snprintf(why, whylen, "%s failed:\n%s", cmd, log ? log : "");
    free(log);
    aot_free(a);
    return NULL;
  }
  free(log);
  char so[600];
  snprintf(so, sizeof so, "%s/models.so", a->dir);
  a->handle = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (!a->handle) {
    snprintf(why, whylen, "dlopen: %s", dlerror());
    aot_free(a);
    return NULL;
  }
  return a;
}

void *aot_symbol(Aot *a, const char *name)
{
  return dlsym(a->handle, name);
}

void aot_free(Aot *a)
{
  if (!a)
    return;
  if (a->handle)
    dlclose(a->handle);
  tmpdir_remove(a->dir);
  free(a);
}

void *model_fn(ganc_model *jit, Aot *aot, const char *model, const char *suffix)
{
  char name[512];
  snprintf(name, sizeof name, "%s_%s", model, suffix);
  return aot ? aot_symbol(aot, name) : ganc_symbol(jit, name);
}

const char *model_fns(ganc_model *jit, Aot *aot, const ganc_info *info, ganc_fns *fns)
{
  const char *missing = NULL;
  for (int f = 0; f < GANC_NFNS; f++) {
    fns->fn[f] = NULL;
    if (ganc_fn_exists(info, (ganc_fn)f))
      fns->fn[f] = model_fn(jit, aot, info->name, ganc_fn_suffix((ganc_fn)f));
    if (!fns->fn[f] && ganc_fn_exists(info, (ganc_fn)f))
      missing = ganc_fn_suffix((ganc_fn)f);
  }
  return missing;
}
