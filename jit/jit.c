/* jit.c — compile models in memory with libtcc; the models' metadata.
 *
 * Each model's header and source go to libtcc as one translation unit in a
 * TCCState of its own, linked against the runtime's kernels for the model's
 * scalar type (the emitted code calls them by their plain names). libtcc
 * keeps global state, so every call into it holds one process-wide lock.
 * This is the only file that includes libtcc.h. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libtcc.h>

#include "compiler.h"
#include "ganc.h"
#include "io.h"
#include "kernels.h"

struct ganc_model {
  Compilation comp; /* its arena holds the names below */
  TCCState **tcc;   /* one per model */
  int n;
  ganc_info *info;
};

static pthread_mutex_t tcc_lock = PTHREAD_MUTEX_INITIALIZER;

/* A failure of kind status with message msg; NULL for the caller to return. */
static ganc_model *fail(ganc_status status, const char *msg, char *err, size_t errlen, ganc_status *out)
{
  if (err && errlen)
    snprintf(err, errlen, "%s", msg);
  if (out)
    *out = status;
  return NULL;
}

/* ---- metadata ---- */

int ganc_model_count(const ganc_model *m)
{
  return m ? m->n : 0;
}

const ganc_info *ganc_model_info(const ganc_model *m, int i)
{
  return m && i >= 0 && i < m->n ? &m->info[i] : NULL;
}

const ganc_info *ganc_find_model(const ganc_model *m, const char *name)
{
  for (int i = 0; m && i < m->n; i++)
    if (strcmp(m->info[i].name, name) == 0)
      return &m->info[i];
  return NULL;
}

/* ---- compiling ---- */

static void tcc_error_to_str(void *opaque, const char *msg)
{
  Str *s = opaque;
  str_printf(s, "%s%s", s->len ? "\n" : "", msg);
}

const ganc_kernel *ganc_kernels(int scalar_size)
{
  int f64 = scalar_size == 8;
#ifdef GANC_KERNEL_LEVELS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4"))
    return f64 ? ganc_kernels_f64_v4 : ganc_kernels_f32_v4;
  if (__builtin_cpu_supports("x86-64-v3"))
    return f64 ? ganc_kernels_f64_v3 : ganc_kernels_f32_v3;
#endif
  return f64 ? ganc_kernels_f64_v1 : ganc_kernels_f32_v1;
}

/* What emitted code calls: the kernels for its scalar type, and the C
   library's memcpy, memset, the few functions of the losses' terms, and
   malloc and free (a model with batch_norm takes its training workspace
   from the heap). The JIT links nothing else. */
static int add_symbols(TCCState *s, int scalar_size)
{
  static const struct {
    const char *name;
    const void *fn;
  } libc[] = {{"memcpy", (const void *)memcpy}, {"memset", (const void *)memset},
              {"exp", (const void *)exp},       {"expf", (const void *)expf},
              {"log1p", (const void *)log1p},   {"log1pf", (const void *)log1pf},
              {"fabs", (const void *)fabs},     {"fabsf", (const void *)fabsf},
              {"malloc", (const void *)malloc}, {"free", (const void *)free}};
  for (size_t i = 0; i < sizeof libc / sizeof libc[0]; i++)
    if (tcc_add_symbol(s, libc[i].name, libc[i].fn) < 0)
      return -1;
  for (const ganc_kernel *k = ganc_kernels(scalar_size); k->name; k++)
    if (tcc_add_symbol(s, k->name, k->fn) < 0)
      return -1;
  return 0;
}

/* Emitted code that libtcc rejects is a bug in ganc, not in the model. */
static int jit_compile(ganc_model *m, Str *msg)
{
  const Ir *ir = m->comp.ir;
  EmitOptions opt = {.source_name = m->comp.diag.file, .jit = 1};
  m->tcc = arena_alloc(&m->comp.arena, (size_t)(ir->n ? ir->n : 1) * sizeof *m->tcc);
  for (int i = 0; i < ir->n; i++) {
    TCCState *s = m->tcc[i] = tcc_new();
    if (!s) {
      str_puts(msg, "out of memory (tcc_new)");
      return -1;
    }
    tcc_set_error_func(s, msg, tcc_error_to_str);
    tcc_set_options(s, "-nostdlib");
    if (tcc_set_output_type(s, TCC_OUTPUT_MEMORY) < 0)
      return -1;
    Str unit = {0};
    emit_unit(&unit, &ir->models[i], &opt);
    int rc = unit.failed ? -1 : tcc_compile_string(s, unit.buf);
    str_free(&unit);
    if (rc < 0 || add_symbols(s, m->info[i].scalar_size) < 0 || tcc_relocate(s, TCC_RELOCATE_AUTO) < 0)
      return -1;
  }
  return 0;
}

ganc_model *ganc_jit_string(const char *source, const char *name_for_diagnostics, char *err, size_t errlen,
                            ganc_status *status)
{
  fail(GANC_OK, "", err, errlen, status);
  ganc_model *m = calloc(1, sizeof *m);
  if (!m)
    return fail(GANC_EUSER, "ganc: out of memory", err, errlen, status);
  const char *name = name_for_diagnostics ? name_for_diagnostics : "<string>";
  if (!source)
    source = "";
  if (compile_source(&m->comp, name, source, strlen(source)) < 0) {
    fail(GANC_EUSER, m->comp.diag.out.buf ? m->comp.diag.out.buf : "ganc: out of memory", err, errlen, status);
    ganc_free(m);
    return NULL;
  }
  /* The diagnostics quote the source; the JIT does not keep it. */
  m->comp.diag.src = NULL;
  m->comp.diag.srclen = 0;

  const Program *p = m->comp.prog;
  m->n = p->n;
  m->info = arena_alloc(&m->comp.arena, (size_t)(p->n ? p->n : 1) * sizeof *m->info);
  for (int i = 0; i < p->n; i++)
    describe_model(&m->comp.arena, &m->comp.ir->models[i], &m->info[i]);

  Str msg = {0};
  pthread_mutex_lock(&tcc_lock);
  int rc = jit_compile(m, &msg);
  pthread_mutex_unlock(&tcc_lock);
  if (rc < 0) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s: internal error: libtcc rejected the code ganc emitted (a bug in ganc): %s",
             name, msg.buf ? msg.buf : "unknown error");
    fail(GANC_EINTERNAL, buf, err, errlen, status);
    str_free(&msg);
    ganc_free(m);
    return NULL;
  }
  str_free(&msg);
  return m;
}

ganc_model *ganc_jit(const char *path, char *err, size_t errlen, ganc_status *status)
{
  unsigned char *data;
  size_t len;
  /* At most 64 MiB with the NUL: compile_source reports the size of a file
     over the limit up to there, and a huge file or endless input is never
     read whole. */
  size_t max = 4 * (size_t)COMPILE_MAX_SOURCE_BYTES - 1;
  if (ganc_read_file_max(path, max, &data, &len, NULL, 0) != 0) {
    char buf[512];
    snprintf(buf, sizeof buf, "ganc: cannot open '%s': %s", path, strerror(errno));
    return fail(GANC_EUSER, buf, err, errlen, status);
  }
  char *src = (char *)data;
  if (memchr(src, 0, len)) { /* ganc_jit_string stops at the first NUL */
    Compilation c;
    compile_source(&c, strcmp(path, "-") == 0 ? "<stdin>" : path, src, len);
    fail(GANC_EUSER, c.diag.out.buf ? c.diag.out.buf : "", err, errlen, status);
    compile_free(&c);
    free(src);
    return NULL;
  }
  ganc_model *m = ganc_jit_string(src, strcmp(path, "-") == 0 ? "<stdin>" : path, err, errlen, status);
  free(src);
  return m;
}

void *ganc_symbol(ganc_model *m, const char *name)
{
  void *p = NULL;
  if (!m || !m->tcc || !name)
    return NULL;
  pthread_mutex_lock(&tcc_lock);
  for (int i = 0; i < m->n && !p; i++)
    p = tcc_get_symbol(m->tcc[i], name);
  pthread_mutex_unlock(&tcc_lock);
  return p;
}

int ganc_functions(ganc_model *m, const ganc_info *info, ganc_fns *fns)
{
  int ok = 1;
  for (int f = 0; f < GANC_NFNS; f++) {
    char name[512];
    fns->fn[f] = NULL;
    if (!ganc_fn_exists(info, (ganc_fn)f))
      continue;
    snprintf(name, sizeof name, "%s_%s", info->name, ganc_fn_suffix((ganc_fn)f));
    ok &= (fns->fn[f] = ganc_symbol(m, name)) != NULL;
  }
  return ok ? 0 : -1;
}

void ganc_free(ganc_model *m)
{
  if (!m)
    return;
  if (m->tcc) {
    pthread_mutex_lock(&tcc_lock);
    for (int i = 0; i < m->n; i++)
      if (m->tcc[i])
        tcc_delete(m->tcc[i]);
    pthread_mutex_unlock(&tcc_lock);
  }
  compile_free(&m->comp);
  free(m);
}
