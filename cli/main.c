/* main.c — the ganc command-line driver: the commands, their options, and
 * for each command a function that runs its stages in order.
 *
 * A thin layer over the stages and the runtime. For `emit` the whole
 * pipeline reads top to bottom in cmd_emit:
 *   ganc_read_file -> compile_source (parse, check, lower) -> emit_header/source
 *   -> output_make_dir, output_write_text
 * What the commands print, write and show is in the other files of cli/
 * (cli.h). Exit status: 0 success, 1 user error, 2 bad usage, 3 internal
 * error. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "compiler.h"
#include "dist.h"
#include "ganc.h"
#include "io.h"
#include "scalar.h"
#include "train.h"

typedef struct Command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *usage;
  const char *help;
  int dumps; /* takes --dump=ast|ir|plan: the stages run in this process */
  int threads; /* takes --threads N: the JIT's kernels run on N threads */
} Command;

static const Command *find_command(const char *name);

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const char *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("ganc: ", stderr);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry 'ganc help %s'.\n", cmd ? cmd : "");
  va_end(ap);
  return EXIT_USAGE;
}

static void print_help(const Command *c, FILE *f)
{
  fprintf(f, "usage: ganc %s %s\n\n%s", c->name, c->usage, c->help);
}

/* Options shared by every command: --help, --model, and for the commands
   that run the compiler's stages here, --dump. */
typedef struct Common {
  const char *model; /* --model NAME */
  const char *file;  /* the positional FILE.gan */
  const char *dump;  /* --dump=ast|ir|plan */
} Common;

/* What --dump names, from the last stage that made it. */
static void dump(const Compilation *c, const char *what)
{
  Str s = {0};
  if (!strcmp(what, "ast") && c->ast)
    dump_ast(&s, c->ast);
  else if (!strcmp(what, "ir") && c->ir)
    dump_ir(&s, c->ir);
  else if (!strcmp(what, "plan") && c->ir)
    dump_plan(&s, c->ir);
  if (s.buf)
    fputs(s.buf, stdout);
  fflush(stdout);
  str_free(&s);
}

/* Compile the file or print its diagnostics; the exit status on failure. */
static int load(const char *path, const char *dump_what, Compilation *c, char **src)
{
  size_t len;
  unsigned char *data;
  size_t max = 4 * (size_t)COMPILE_MAX_SOURCE_BYTES - 1;
  if (ganc_read_file_max(path, max, &data, &len, NULL, 0) != 0) {
    fprintf(stderr, "ganc: cannot open '%s': %s\n", path, strerror(errno));
    return EXIT_USER;
  }
  *src = (char *)data;
  int rc = compile_source(c, strcmp(path, "-") == 0 ? "<stdin>" : path, *src, len);
  if (dump_what)
    dump(c, dump_what);
  if (rc < 0) {
    fputs(c->diag.out.buf ? c->diag.out.buf : "ganc: out of memory\n", stderr);
    compile_free(c);
    free(*src);
    *src = NULL;
    return EXIT_USER;
  }
  return 0;
}

/* The models a command acts on: all, or the one --model names. */
static int select_models(const Compilation *c, const char *name, int *first, int *count)
{
  *first = 0;
  *count = c->ir->n;
  if (!name)
    return 0;
  for (int i = 0; i < c->ir->n; i++)
    if (strcmp(c->ir->models[i].model->name, name) == 0) {
      *first = i;
      *count = 1;
      return 0;
    }
  fprintf(stderr, "ganc: %s has no model '%s' (it has:", c->diag.file, name);
  for (int i = 0; i < c->ir->n; i++)
    fprintf(stderr, " %s", c->ir->models[i].model->name);
  fputs(")\n", stderr);
  return EXIT_USER;
}

/* A file compiled and the models a command acts on. */
typedef struct Loaded {
  Compilation c;
  char *src;
  int first, count;
} Loaded;

/* Read and compile co->file and pick the models --model names: 0, or an
   exit status after saying why (nothing to free then). */
static int load_models(const Common *co, Loaded *l)
{
  int rc = load(co->file, co->dump, &l->c, &l->src);
  if (!rc && (rc = select_models(&l->c, co->model, &l->first, &l->count))) {
    compile_free(&l->c);
    free(l->src);
  }
  return rc;
}

static void loaded_free(Loaded *l)
{
  compile_free(&l->c);
  free(l->src);
}

/* Parse argv: the common options plus the command's own (extra, handled by
   on_opt). Returns -1 to go on, or an exit status. */
static int parse_args(const Command *cmd, int argc, char **argv, Common *co, const char *extra_short,
                      const struct option *extra_long, int (*on_opt)(int opt, const char *arg, void *ctx),
                      void *ctx)
{
  struct option longs[24] = {{"help", no_argument, NULL, 'h'}, {"model", required_argument, NULL, 'm'}};
  int n = 2;
  if (cmd->dumps)
    longs[n++] = (struct option){"dump", required_argument, NULL, 'u'};
  if (cmd->threads)
    longs[n++] = (struct option){"threads", required_argument, NULL, 'T'};
  for (int i = 0; extra_long && extra_long[i].name && n < 23; i++)
    longs[n++] = extra_long[i];
  char shorts[64];
  snprintf(shorts, sizeof shorts, ":h%s", extra_short ? extra_short : "");
  optind = 1;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
    switch (opt) {
    case 'h':
      print_help(cmd, stdout);
      return 0;
    case 'm':
      co->model = optarg;
      break;
    case 'u':
      if (strcmp(optarg, "ast") && strcmp(optarg, "ir") && strcmp(optarg, "plan"))
        return usage_error(cmd->name, "--dump takes ast, ir or plan, not '%s'", optarg);
      co->dump = optarg;
      break;
    case 'T': {
      char *end;
      errno = 0;
      long v = strtol(optarg, &end, 10);
      if (errno || *end || end == optarg || v < 1 || v > GANC_MAX_THREADS)
        return usage_error(cmd->name, "--threads must be an integer from 1 to %d, not '%s'", GANC_MAX_THREADS, optarg);
      ganc_set_threads((int)v);
      break;
    }
    case '?':
      if (optopt)
        return usage_error(cmd->name, "unknown option '-%c'", optopt);
      return usage_error(cmd->name, "unknown option '%s'", argv[optind - 1]);
    case ':':
      return usage_error(cmd->name, "option '%s' needs a value", argv[optind - 1]);
    default:
      if (!on_opt) return EXIT_INTERNAL;
      int rc = on_opt(opt, optarg, ctx);
      if (rc >= 0)
        return rc;
    }
  }
  if (optind >= argc)
    return usage_error(cmd->name, "%s needs a model file (FILE.gan, or - for standard input)", cmd->name);
  if (argc - optind > 1)
    return usage_error(cmd->name, "unexpected argument '%s'", argv[optind + 1]);
  co->file = argv[optind];
  return -1;
}

/* ---- check ---- */

static int cmd_check(int argc, char **argv)
{
  Common co = {0};
  int rc = parse_args(find_command("check"), argc, argv, &co, NULL, NULL, NULL, NULL);
  if (rc >= 0)
    return rc;
  Loaded l;
  if ((rc = load_models(&co, &l)))
    return rc;
  loaded_free(&l);
  return 0;
}

/* ---- summary ---- */

static int cmd_summary(int argc, char **argv)
{
  Common co = {0};
  int rc = parse_args(find_command("summary"), argc, argv, &co, NULL, NULL, NULL, NULL);
  if (rc >= 0)
    return rc;
  Loaded l;
  if ((rc = load_models(&co, &l)))
    return rc;
  for (int i = l.first; i < l.first + l.count; i++) {
    if (i > l.first)
      putchar('\n');
    summary_print(l.c.ir->models[i].model);
  }
  loaded_free(&l);
  return 0;
}

/* ---- shared by emit, train, sample ---- */

static int parse_count(const char *cmd, const char *what, const char *arg, long lo, long hi, long *out)
{
  char *end;
  errno = 0;
  long v = strtol(arg, &end, 10);
  if (errno || *end || end == arg || v < lo || v > hi)
    return usage_error(cmd, "%s must be an integer from %ld to %ld, not '%s'", what, lo, hi, arg);
  *out = v;
  return -1;
}

static int parse_real(const char *cmd, const char *what, const char *arg, double lo, double hi, double *out)
{
  char *end;
  errno = 0;
  double v = strtod(arg, &end);
  if (errno || *end || end == arg || !(v >= lo && v <= hi))
    return usage_error(cmd, "%s must be a number from %g to %g, not '%s'", what, lo, hi, arg);
  *out = v;
  return -1;
}

/* A file's models compiled in memory, and the one a command acts on. */
typedef struct Jitted {
  ganc_model *m;
  const ganc_info *info;
} Jitted;

static int jit_one(const char *file, const char *model, Jitted *j)
{
  char err[16384];
  ganc_status status;
  j->m = ganc_jit(file, err, sizeof err, &status);
  if (!j->m) {
    fputs(err, stderr);
    if (err[0] && err[strlen(err) - 1] != '\n')
      fputc('\n', stderr);
    return status == GANC_EINTERNAL ? EXIT_INTERNAL : EXIT_USER;
  }
  if (model)
    j->info = ganc_find_model(j->m, model);
  else if (ganc_model_count(j->m) == 1)
    j->info = ganc_model_info(j->m, 0);
  else {
    fprintf(stderr, "ganc: %s holds %d models; choose one with --model NAME\n", file, ganc_model_count(j->m));
    ganc_free(j->m);
    return EXIT_USER;
  }
  if (!j->info) {
    fprintf(stderr, "ganc: %s has no model '%s'\n", file, model);
    ganc_free(j->m);
    return EXIT_USER;
  }
  return 0;
}

/* A model's parameters and running statistics. */
typedef struct Weights {
  void *params, *stats;
} Weights;

static void weights_free(Weights *w)
{
  free(w->params);
  free(w->stats);
  w->params = w->stats = NULL;
}

/* Parameters and statistics from a weights file or checkpoint, or freshly
   initialized; 0 or an exit status. */
static int load_params(const ganc_info *info, const char *weights, uint64_t seed, Weights *w)
{
  size_t s = (size_t)info->scalar_size;
  w->params = ganc_alloc(s * (size_t)(info->param_count + 1));
  w->stats = ganc_alloc(s * (size_t)(info->stats_count + 1));
  if (!w->params || !w->stats) {
    fputs("ganc: out of memory\n", stderr);
    weights_free(w);
    return EXIT_USER;
  }
  if (!weights) {
    ganc_init_params(info, seed, w->params);
    ganc_init_stats(info, w->stats);
    return 0;
  }
  char err[4096];
  ganc_stats st = {w->stats, 0, 0};
  if (ganc_load_weights(info, weights, w->params, info->stats_count ? &st : NULL, NULL, err, sizeof err) < 0) {
    fprintf(stderr, "ganc: %s\n", err);
    weights_free(w);
    return EXIT_USER;
  }
  if (err[0])
    fprintf(stderr, "ganc: %s\n", err);
  return 0;
}

/* --label K (-1 for none) against info's model: none for a model without
   classes, one of its classes for a conditional one, where cmd may need it.
   0, or EXIT_USER after saying why. */
static int check_label(const char *cmd, const ganc_info *info, long label, int needed)
{
  if (label >= 0 && info->classes == 0)
    fprintf(stderr, "ganc: --label %ld, but model '%s' has no classes (it is not conditional)\n", label, info->name);
  else if (label >= info->classes && info->classes > 0)
    fprintf(stderr, "ganc: --label %ld is outside model '%s''s classes 0 .. %d\n", label, info->name,
            info->classes - 1);
  else if (label < 0 && info->classes > 0 && needed)
    fprintf(stderr, "ganc: model '%s' is conditional: %s needs --label K, one of its classes 0 .. %d\n", info->name,
            cmd, info->classes - 1);
  else
    return 0;
  return EXIT_USER;
}

/* ---- emit ---- */

typedef struct EmitArgs {
  const char *outdir, *weights;
} EmitArgs;

static int emit_opt(int opt, const char *arg, void *ctx)
{
  EmitArgs *ea = ctx;
  if (opt == 'o')
    ea->outdir = arg;
  else if (opt == 'w')
    ea->weights = arg;
  return -1;
}

static int cmd_emit(int argc, char **argv)
{
  Common co = {0};
  EmitArgs ea = {0};
  static const struct option longs[] = {
      {"output", required_argument, NULL, 'o'}, {"weights", required_argument, NULL, 'w'}, {0}};
  int rc = parse_args(find_command("emit"), argc, argv, &co, "o:", longs, emit_opt, &ea);
  if (rc >= 0)
    return rc;
  if (!ea.outdir)
    return usage_error("emit", "emit needs an output folder: -o DIR");

  /* The pipeline: source -> checked, lowered model -> C text. */
  Loaded l;
  if ((rc = load_models(&co, &l)))
    return rc;
  const Compilation *cp = &l.c;
  int first = l.first, count = l.count;
  Jitted j = {0};
  Weights wt = {0};
  if (ea.weights) { /* the weights file is checked against the model's tensors */
    if (count != 1) {
      fprintf(stderr, "ganc: %s holds %d models; --weights needs --model NAME\n", cp->diag.file, count);
      rc = EXIT_USER;
      goto done;
    }
    if ((rc = jit_one(co.file, cp->ir->models[first].model->name, &j)) ||
        (rc = load_params(j.info, ea.weights, 0, &wt)))
      goto done;
  }
  EmitOptions opt = {.source_name = cp->diag.file, .weights = ea.weights != NULL};
  Str *h = calloc((size_t)count, sizeof *h), *s = calloc((size_t)count, sizeof *s), w = {0};
  int failed = !h || !s;
  for (int i = 0; i < count && !failed; i++) {
    emit_header(&h[i], &cp->ir->models[first + i], &opt);
    emit_source(&s[i], &cp->ir->models[first + i], &opt);
    failed |= h[i].failed || s[i].failed;
  }
  if (wt.params) {
    emit_weights(&w, &cp->ir->models[first], &opt, wt.params, wt.stats);
    failed |= w.failed;
  }
  /* Everything is generated before anything is written. */
  if (failed) {
    fputs("ganc: out of memory\n", stderr);
    rc = EXIT_USER;
  } else if (!(rc = output_make_dir(ea.outdir))) {
    for (int i = 0; i < count && !rc; i++) {
      const char *name = cp->ir->models[first + i].model->name;
      rc = output_write_text(ea.outdir, name, ".h", &h[i], 1);
      if (!rc)
        rc = output_write_text(ea.outdir, name, ".c", &s[i], 1);
    }
    if (!rc && wt.params)
      rc = output_write_text(ea.outdir, cp->ir->models[first].model->name, "_weights.c", &w, 1);
  }
  for (int i = 0; h && s && i < count; i++) {
    str_free(&h[i]);
    str_free(&s[i]);
  }
  free(h);
  free(s);
  str_free(&w);
done:
  weights_free(&wt);
  if (j.m)
    ganc_free(j.m);
  loaded_free(&l);
  return rc;
}

/* ---- sample ---- */

typedef struct SampleArgs {
  const char *out, *weights, *data;
  long n;
  long label; /* --label K; -1 for none */
  uint64_t seed;
} SampleArgs;

static int parse_seed(const char *cmd, const char *arg, uint64_t *seed)
{
  char *end;
  errno = 0;
  unsigned long long v = strtoull(arg, &end, 10);
  if (errno || *end || end == arg || arg[0] == '-')
    return usage_error(cmd, "--seed must be a non-negative integer, not '%s'", arg);
  *seed = v;
  return -1;
}

static int sample_opt(int opt, const char *arg, void *ctx)
{
  SampleArgs *sa = ctx;
  switch (opt) {
  case 'o':
    sa->out = arg;
    return -1;
  case 'w':
    sa->weights = arg;
    return -1;
  case 'd':
    sa->data = arg;
    return -1;
  case 'n':
    return parse_count("sample", "-n", arg, 1, 1 << 20, &sa->n);
  case 's':
    return parse_seed("sample", arg, &sa->seed);
  case 'L':
    return parse_count("sample", "--label", arg, 0, INT32_MAX, &sa->label);
  }
  return EXIT_INTERNAL;
}

static int cmd_sample(int argc, char **argv)
{
  Common co = {0};
  SampleArgs sa = {.n = 64, .label = -1, .seed = 1};
  static const struct option longs[] = {{"output", required_argument, NULL, 'o'},
                                        {"seed", required_argument, NULL, 's'},
                                        {"weights", required_argument, NULL, 'w'},
                                        {"data", required_argument, NULL, 'd'},
                                        {"label", required_argument, NULL, 'L'},
                                        {0}};
  int rc = parse_args(find_command("sample"), argc, argv, &co, "o:n:", longs, sample_opt, &sa);
  if (rc >= 0)
    return rc;
  if (!sa.out)
    return usage_error("sample", "sample needs an output: -o OUT.png, OUT.csv, OUT.f32 or -");
  SampleFormat format = output_sample_format(sa.out);
  if (format == SAMPLES_NONE)
    return usage_error("sample", "-o names OUT.png, OUT.csv, OUT.f32, or - for CSV on standard output");

  Jitted j;
  if ((rc = jit_one(co.file, co.model, &j)))
    return rc;
  const ganc_info *info = j.info;
  if ((rc = check_label("sample", info, sa.label, 0))) {
    ganc_free(j.m);
    return rc;
  }
  /* A conditional model without --label draws every class in turn, the
     same number of each: a row per class in an image grid. */
  int per_class = 0;
  if (info->classes > 0 && info->classes <= GANC_CLASS_ROWS_MAX && sa.label < 0) {
    per_class = (int)((sa.n + info->classes - 1) / info->classes);
    sa.n = (long)per_class * info->classes;
  }
  Weights wt = {0};
  rc = load_params(info, sa.weights, sa.seed, &wt);
  size_t s = (size_t)info->scalar_size;
  void *z = ganc_alloc(s * (size_t)info->latent_size * (size_t)sa.n);
  void *x = ganc_alloc(s * (size_t)info->obs_size * (size_t)sa.n);
  int *labels = info->classes ? malloc(sizeof(int) * (size_t)sa.n) : NULL;
  ganc_fns fns;
  int have = ganc_functions(j.m, info, &fns) == 0;
  if (!rc && (!z || !x || (info->classes && !labels) || !have)) {
    fprintf(stderr, "ganc: %s\n", have ? "out of memory" : "internal error: a function is missing");
    rc = have ? EXIT_USER : EXIT_INTERNAL;
  }
  if (!rc) {
    ganc_rng rng;
    ganc_rng_seed(&rng, sa.seed ^ 0x5a3c96e1d2b4f708ull);
    ganc_normal_fill(&rng, info->scalar_size, info->latent_size * sa.n, z);
    for (long i = 0; labels && i < sa.n; i++)
      labels[i] = sa.label >= 0 ? (int)sa.label : per_class > 0 ? (int)(i / per_class) : (int)(i % info->classes);
    ganc_generate(info, &fns, wt.params, wt.stats, (int)sa.n, z, labels, x);
    int is_grid = per_class > 0 && info->obs_size != 2;
    rc = output_write_samples(sa.out, format, info, x, labels, is_grid ? per_class : 0, sa.n, sa.data);
  }
  weights_free(&wt);
  free(z);
  free(x);
  free(labels);
  ganc_free(j.m);
  return rc;
}

/* ---- bounds ---- */

typedef struct BoundsArgs {
  const char *out, *weights, *box, *center;
  double lo, hi; /* --box LO,HI */
  double radius; /* --radius R; -1 for none */
  long label;    /* --label K; -1 for none */
} BoundsArgs;

/* --box LO,HI: two numbers, each finite, inf or -inf, with LO <= HI. */
static int parse_box(const char *arg, double *lo, double *hi)
{
  char *end;
  errno = 0;
  *lo = strtod(arg, &end);
  int ok = !errno && end != arg && *end == ',';
  if (ok) {
    const char *second = end + 1;
    *hi = strtod(second, &end);
    ok = !errno && end != second && !*end && !isnan(*lo) && !isnan(*hi);
  }
  if (!ok)
    return usage_error("bounds", "--box must be two numbers LO,HI (each finite, inf or -inf), not '%s'", arg);
  if (*lo > *hi)
    return usage_error("bounds", "--box LO,HI needs LO <= HI, not '%s'", arg);
  return -1;
}

static int bounds_opt(int opt, const char *arg, void *ctx)
{
  BoundsArgs *ba = ctx;
  switch (opt) {
  case 'o': ba->out = arg; return -1;
  case 'w': ba->weights = arg; return -1;
  case 'c': ba->center = arg; return -1;
  case 'b': ba->box = arg; return parse_box(arg, &ba->lo, &ba->hi);
  case 'L': return parse_count("bounds", "--label", arg, 0, INT32_MAX, &ba->label);
  case 'r': {
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || *end || end == arg || !(v >= 0) || !isfinite(v))
      return usage_error("bounds", "--radius must be a finite number >= 0, not '%s'", arg);
    ba->radius = v;
    return -1;
  }
  }
  return EXIT_INTERNAL;
}

static int is_separator(char ch)
{
  return ch == ',' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The numbers of a latent file ("-" is standard input), separated by
   commas, spaces or newlines: info->latent_size of them, each finite, into
   c. 0, or EXIT_USER after naming the file and, for a bad number, its line. */
static int read_center(const char *path, const ganc_info *info, double *c)
{
  unsigned char *data;
  size_t len;
  if (ganc_read_file(path, &data, &len, NULL, 0) != 0) {
    fprintf(stderr, "ganc: cannot open '%s': %s\n", path, strerror(errno));
    return EXIT_USER;
  }
  const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
  const char *p = (const char *)data, *stop = p + len;
  int64_t n = 0;
  int line = 1, rc = 0;
  while (!rc) {
    for (; p < stop && is_separator(*p); p++)
      line += *p == '\n';
    if (p == stop)
      break;
    const char *q = p;
    while (q < stop && !is_separator(*q))
      q++;
    char *end;
    double v = strtod(p, &end); /* the file ends in a NUL: strtod stops there at the latest */
    int shown = q - p < 40 ? (int)(q - p) : 40;
    if (end != q) {
      fprintf(stderr, "ganc: %s:%d: '%.*s' is not a number\n", name, line, shown, p);
      rc = EXIT_USER;
    } else if (!isfinite(v)) {
      fprintf(stderr, "ganc: %s:%d: '%.*s' is not a finite number\n", name, line, shown, p);
      rc = EXIT_USER;
    } else if (n < info->latent_size) {
      c[n] = v;
    }
    n++;
    p = q;
  }
  if (!rc && n != info->latent_size) {
    fprintf(stderr, "ganc: %s holds %lld number%s, but model '%s''s latent has %lld\n", name, (long long)n,
            n == 1 ? "" : "s", info->name, (long long)info->latent_size);
    rc = EXIT_USER;
  }
  free(data);
  return rc;
}

/* c + d as scalar i of box (the model's type), rounded outward: toward -inf
   for a lower end, toward +inf for an upper one, so that the box holds the
   exact one. Knuth's two-sum gives the double sum's own rounding error e
   (s + e is c + d exactly), which decides when s itself lies inside. */
static void store_outward(void *box, int size, int64_t i, double c, double d, int up)
{
  double s = c + d, bb = s - c, e = (c - (s - bb)) + (d - bb);
  if (size == 8) {
    if (up ? e > 0 : e < 0)
      s = nextafter(s, up ? INFINITY : -INFINITY);
    ((double *)box)[i] = s;
    return;
  }
  float f = (float)s;
  if (up ? f < s || (f == s && e > 0) : f > s || (f == s && e < 0))
    f = nextafterf(f, up ? INFINITY : -INFINITY);
  ((float *)box)[i] = f;
}

/* A scalar in the fewest digits that read back as the same scalar. */
static void format_scalar(char *buf, size_t len, int size, double v)
{
  if (size == 8) {
    ganc_format_real(buf, len, v);
    return;
  }
  for (int digits = 1; digits <= 9; digits++) {
    snprintf(buf, len, "%.*g", digits, v);
    if (strtof(buf, NULL) == (float)v)
      return;
  }
}

/* The bounds as CSV, written atomically: a row per element of generate's
   output, then fake_score's. lo and hi hold obs_size + 1 scalars, the fake
   score's last. 0, or EXIT_USER after saying why. */
static int write_bounds_csv(const char *path, const ganc_info *info, const void *lo, const void *hi)
{
  char err[4096], a[32], b[32];
  ganc_atomic at;
  if (ganc_atomic_open(&at, path, err, sizeof err) < 0) {
    fprintf(stderr, "ganc: %s\n", err);
    return EXIT_USER;
  }
  int size = info->scalar_size;
  fputs("output,element,lo,hi\n", at.f);
  for (int64_t i = 0; i <= info->obs_size; i++) {
    format_scalar(a, sizeof a, size, ganc_scalar_load(lo, size, i));
    format_scalar(b, sizeof b, size, ganc_scalar_load(hi, size, i));
    if (i < info->obs_size)
      fprintf(at.f, "x,%lld,%s,%s\n", (long long)i, a, b);
    else
      fprintf(at.f, "fake_score,0,%s,%s\n", a, b);
  }
  if (ganc_atomic_commit(&at, err, sizeof err) < 0) {
    fprintf(stderr, "ganc: %s\n", err);
    return EXIT_USER;
  }
  return 0;
}

/* An interval's width; one with a NaN end bounds nothing, as if infinite. */
static double width_of(double lo, double hi)
{
  double w = hi - lo;
  return isnan(w) ? INFINITY : w;
}

/* v in %g's six digits, rounded toward -inf (down) or +inf, so that a
   printed interval holds the bound it prints. */
static const char *outward_g(char *buf, size_t size, double v, int down)
{
  snprintf(buf, size, "%g", v);
  double p = strtod(buf, NULL);
  if (!isfinite(v) || v == 0 || (down ? p <= v : p >= v))
    return buf;
  double step = pow(10, floor(log10(fabs(p))) - 5); /* a unit of the sixth digit */
  snprintf(buf, size, "%g", down ? p - step : p + step);
  return buf;
}

/* "[lo, hi]" rounded outward. */
static const char *interval_text(char *buf, size_t size, double lo, double hi)
{
  char a[32], b[32];
  snprintf(buf, size, "[%s, %s]", outward_g(a, sizeof a, lo, 1), outward_g(b, sizeof b, hi, 0));
  return buf;
}

/* What the box is and what the bounds are, on standard output: the
   tightest and the widest of generate's elements (the first of equals),
   their mean width, and the fake score's interval, each end rounded
   outward. */
static void print_bounds(const ganc_info *info, const BoundsArgs *ba, const void *lo, const void *hi)
{
  int size = info->scalar_size;
  int64_t n = info->obs_size, tight = 0, wide = 0;
  char label[48] = "";
  if (info->classes > 0)
    snprintf(label, sizeof label, "; label %ld", ba->label);
  if (ba->weights)
    printf("%s: weights %s; ", info->name, ba->weights);
  else
    printf("%s: parameters freshly initialized (seed 1, no --weights); ", info->name);
  if (ba->box)
    printf("latent box [%g, %g]", ba->lo, ba->hi);
  else
    printf("latent box center %s radius %g", strcmp(ba->center, "-") == 0 ? "<stdin>" : ba->center, ba->radius);
  printf(" in each of %lld element%s%s\n", (long long)info->latent_size, info->latent_size == 1 ? "" : "s", label);
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    double w = width_of(ganc_scalar_load(lo, size, i), ganc_scalar_load(hi, size, i));
    sum += w;
    if (w < width_of(ganc_scalar_load(lo, size, tight), ganc_scalar_load(hi, size, tight)))
      tight = i;
    if (w > width_of(ganc_scalar_load(lo, size, wide), ganc_scalar_load(hi, size, wide)))
      wide = i;
  }
  char names[2][32];
  snprintf(names[0], sizeof names[0], "x[%lld]", (long long)tight);
  snprintf(names[1], sizeof names[1], "x[%lld]", (long long)wide);
  int column = (int)(strlen(names[0]) > strlen(names[1]) ? strlen(names[0]) : strlen(names[1]));
  printf("generate: %lld element%s\n", (long long)n, n == 1 ? "" : "s");
  static const char *const kinds[2] = {"tightest", "widest"};
  for (int k = 0; k < 2; k++) {
    int64_t i = k ? wide : tight;
    double l = ganc_scalar_load(lo, size, i), h = ganc_scalar_load(hi, size, i);
    char text[80];
    printf("  %-8s  %-*s  %s  width %.4g\n", kinds[k], column, names[k], interval_text(text, sizeof text, l, h),
           width_of(l, h));
  }
  printf("  mean width %.4g\n", sum / (double)n);
  double l = ganc_scalar_load(lo, size, n), h = ganc_scalar_load(hi, size, n);
  char text[80];
  interval_text(text, sizeof text, l, h);
  if (info->pack > 1)
    printf("fake_score (a pack of %d, each latent in the box): %s  width %.4g\n", info->pack, text, width_of(l, h));
  else
    printf("fake_score: %s  width %.4g\n", text, width_of(l, h));
}

static int cmd_bounds(int argc, char **argv)
{
  Common co = {0};
  BoundsArgs ba = {.radius = -1, .label = -1};
  static const struct option longs[] = {{"output", required_argument, NULL, 'o'},
                                        {"weights", required_argument, NULL, 'w'},
                                        {"box", required_argument, NULL, 'b'},
                                        {"center", required_argument, NULL, 'c'},
                                        {"radius", required_argument, NULL, 'r'},
                                        {"label", required_argument, NULL, 'L'},
                                        {0}};
  int rc = parse_args(find_command("bounds"), argc, argv, &co, "o:", longs, bounds_opt, &ba);
  if (rc >= 0)
    return rc;
  int have_radius = ba.radius >= 0;
  if (ba.box && ba.center)
    return usage_error("bounds", "--box and --center contradict each other");
  if (ba.box && have_radius)
    return usage_error("bounds", "--box and --radius contradict each other");
  if (!ba.box && !ba.center && !have_radius)
    return usage_error("bounds", "bounds needs a latent box: --box LO,HI, or --center FILE --radius R");
  if (ba.center && !have_radius)
    return usage_error("bounds", "--center needs --radius R");
  if (have_radius && !ba.center)
    return usage_error("bounds", "--radius needs --center FILE");
  if (ba.center && strcmp(ba.center, "-") == 0 && strcmp(co.file, "-") == 0)
    return usage_error("bounds", "--center - and the model file - cannot both be standard input");
  if (ba.out && !ganc_ends_with(ba.out, ".csv"))
    return usage_error("bounds", "-o names OUT.csv, not '%s'", ba.out);

  Jitted j;
  if ((rc = jit_one(co.file, co.model, &j)))
    return rc;
  const ganc_info *info = j.info;
  if ((rc = check_label("bounds", info, ba.label, 1))) {
    ganc_free(j.m);
    return rc;
  }
  /* The fake score's box: the latent box for each sample of a pack. */
  size_t s = (size_t)info->scalar_size, nz = (size_t)info->latent_size, pack = (size_t)info->pack;
  void *z_lo = malloc(s * nz * pack), *z_hi = malloc(s * nz * pack);
  void *lo = malloc(s * (size_t)(info->obs_size + 1)), *hi = malloc(s * (size_t)(info->obs_size + 1));
  double *center = ba.center ? malloc(sizeof(double) * nz) : NULL;
  if (!z_lo || !z_hi || !lo || !hi || (ba.center && !center)) {
    fputs("ganc: out of memory\n", stderr);
    rc = EXIT_USER;
  }
  if (!rc && ba.center)
    rc = read_center(ba.center, info, center);
  Weights wt = {0};
  if (!rc)
    rc = load_params(info, ba.weights, 1, &wt);
  ganc_fns fns;
  if (!rc && ganc_functions(j.m, info, &fns) < 0) {
    fputs("ganc: internal error: a function is missing\n", stderr);
    rc = EXIT_INTERNAL;
  }
  if (!rc) {
    for (size_t i = 0; i < nz; i++) {
      store_outward(z_lo, (int)s, (int64_t)i, center ? center[i] : ba.lo, center ? -ba.radius : 0, 0);
      store_outward(z_hi, (int)s, (int64_t)i, center ? center[i] : ba.hi, center ? ba.radius : 0, 1);
    }
    for (size_t k = 1; k < pack; k++) {
      memcpy((char *)z_lo + k * s * nz, z_lo, s * nz);
      memcpy((char *)z_hi + k * s * nz, z_hi, s * nz);
    }
    int label = ba.label >= 0 ? (int)ba.label : 0;
    ganc_args a = {.params = wt.params, .stats = wt.stats, .z_labels = &label, .box_lo = z_lo, .box_hi = z_hi,
                   .out_lo = lo, .out_hi = hi};
    ganc_call(info, &fns, GANC_FN_GENERATE_BOUNDS, &a);
    a.out_lo = (char *)lo + s * (size_t)info->obs_size;
    a.out_hi = (char *)hi + s * (size_t)info->obs_size;
    ganc_call(info, &fns, GANC_FN_FAKE_SCORE_BOUNDS, &a);
    if (!ba.out || !(rc = write_bounds_csv(ba.out, info, lo, hi))) {
      print_bounds(info, &ba, lo, hi);
      if (ba.out)
        printf("wrote %s\n", ba.out);
    }
  }
  weights_free(&wt);
  free(z_lo);
  free(z_hi);
  free(lo);
  free(hi);
  free(center);
  ganc_free(j.m);
  return rc;
}

/* ---- train ---- */

typedef struct TrainArgs {
  ganc_train_options o;
  int force;
  double lr, lr_d, lr_g; /* --lr sets both rates; --lr-d and --lr-g win over it, in any order */
  int have_lr_d, have_lr_g;
} TrainArgs;

static int train_opt(int opt, const char *arg, void *ctx)
{
  TrainArgs *ta = ctx;
  ganc_train_options *o = &ta->o;
  long v;
  int rc;
  switch (opt) {
  case 'o': o->outdir = arg; return -1;
  case 'd': o->data = arg; return -1;
  case 'L': o->labels = arg; return -1;
  case 'r': o->resume = 1; return -1;
  case 'f': ta->force = 1; return -1;
  case 's': return parse_seed("train", arg, &o->seed);
  case 'l': return parse_real("train", "--lr", arg, 0, 10, &ta->lr);
  case 'D': ta->have_lr_d = 1; return parse_real("train", "--lr-d", arg, 0, 10, &ta->lr_d);
  case 'G': ta->have_lr_g = 1; return parse_real("train", "--lr-g", arg, 0, 10, &ta->lr_g);
  case '1': return parse_real("train", "--beta1", arg, 0, 0.999999, &o->adam_d.beta1);
  case '2': return parse_real("train", "--beta2", arg, 0, 0.999999999, &o->adam_d.beta2);
  case 'E':
    if ((rc = parse_real("train", "--ema", arg, 0, 1, &o->ema)) >= 0)
      return rc;
    if (!(o->ema > 0 && o->ema < 1))
      return usage_error("train", "--ema must be a decay between 0 and 1 (0.999 is usual), not '%s'", arg);
    return -1;
  case 'S':
    if ((rc = parse_count("train", "--steps", arg, 0, 2000000000L, &v)) >= 0)
      return rc;
    o->steps = v;
    return -1;
  case 'b':
    if ((rc = parse_count("train", "--batch", arg, 1, 1 << 16, &v)) >= 0)
      return rc;
    o->batch = (int)v;
    return -1;
  case 'k':
    if ((rc = parse_count("train", "--d-steps", arg, 1, 100, &v)) >= 0)
      return rc;
    o->d_steps = (int)v;
    return -1;
  case 'e':
    if ((rc = parse_count("train", "--every", arg, 1, 2000000000L, &v)) >= 0)
      return rc;
    o->every = v;
    return -1;
  case 'n':
    if ((rc = parse_count("train", "-n", arg, 1, 4096, &v)) >= 0)
      return rc;
    o->samples = (int)v;
    return -1;
  }
  return EXIT_INTERNAL;
}

/* A conditional mixture's share of each label's samples at its mode. */
static void print_label_shares(const ganc_info *info, const ganc_train_result *res)
{
  double sum = 0, least = 1;
  int counted = 0;
  printf("%s: samples drawn for label k whose nearest mode is k:", info->name);
  for (int k = 0; k < res->nlabels; k++) {
    double v = res->label_share[k];
    if (isnan(v)) {
      printf("%s %d -", k ? "," : "", k);
      continue;
    }
    printf("%s %d %.1f%%", k ? "," : "", k, 100 * v);
    sum += v;
    least = v < least ? v : least;
    counted++;
  }
  if (counted)
    printf(" (mean %.1f%%, least %.1f%%)", 100 * sum / counted, 100 * least);
  printf("\n");
}

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
  stop_signal = sig;
}

static int cmd_train(int argc, char **argv)
{
  Common co = {0};
  TrainArgs ta = {.o = {.steps = 10000, .batch = 64, .adam_d = GANC_ADAM_DEFAULTS, .d_steps = 1, .seed = 1,
                        .every = 500}};
  ta.lr = ta.o.adam_d.lr;
  ganc_train_options *o = &ta.o;
  static const struct option longs[] = {
      {"output", required_argument, NULL, 'o'}, {"data", required_argument, NULL, 'd'},
      {"steps", required_argument, NULL, 'S'},  {"batch", required_argument, NULL, 'b'},
      {"lr", required_argument, NULL, 'l'},     {"beta1", required_argument, NULL, '1'},
      {"beta2", required_argument, NULL, '2'},  {"d-steps", required_argument, NULL, 'k'},
      {"seed", required_argument, NULL, 's'},   {"every", required_argument, NULL, 'e'},
      {"resume", no_argument, NULL, 'r'},       {"force", no_argument, NULL, 'f'},
      {"lr-d", required_argument, NULL, 'D'},   {"lr-g", required_argument, NULL, 'G'},
      {"ema", required_argument, NULL, 'E'},    {"labels", required_argument, NULL, 'L'},
      {0}};
  int rc = parse_args(find_command("train"), argc, argv, &co, "o:n:", longs, train_opt, &ta);
  if (rc >= 0)
    return rc;
  /* Both networks share the betas and eps; each has its own rate. */
  o->adam_d.lr = ta.have_lr_d ? ta.lr_d : ta.lr;
  o->adam_g = o->adam_d;
  o->adam_g.lr = ta.have_lr_g ? ta.lr_g : ta.lr;
  if (!o->data)
    return usage_error("train", "train needs a data set: --data ring8, grid25, fashion-mnist or FILE");
  if (!o->outdir)
    return usage_error("train", "train needs an output folder: -o DIR");
  if (o->resume && ta.force)
    return usage_error("train", "--resume and --force contradict each other");

  /* Under mpirun, each rank is one of these processes (docs/DESIGN.md §7):
     all train, rank 0 alone writes and prints. A rank that fails exits
     without leaving the run, so that mpirun stops the others. */
  char err[4096];
  if (ganc_dist_init(err, sizeof err) < 0) {
    fprintf(stderr, "ganc: %s\n", err);
    return EXIT_USER;
  }
  int rank = ganc_dist_rank();
  Jitted j;
  if ((rc = jit_one(co.file, co.model, &j)))
    return rc;
  if ((rc = output_make_dir(o->outdir))) {
    ganc_free(j.m);
    return rc;
  }
  char ckpt[4096];
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", o->outdir);
  if (!o->resume && !ta.force && access(ckpt, F_OK) == 0) {
    fprintf(stderr, "ganc: %s already holds a checkpoint; --resume continues it, --force starts over\n", o->outdir);
    ganc_free(j.m);
    return EXIT_USER;
  }

  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  Progress pr = {.tty = isatty(STDERR_FILENO)};
  o->stop = &stop_signal;
  o->progress = progress_show;
  o->progress_ctx = &pr;

  char rates[96], ema[48] = "";
  if (o->adam_d.lr == o->adam_g.lr)
    snprintf(rates, sizeof rates, "lr %g", o->adam_d.lr);
  else
    snprintf(rates, sizeof rates, "lr %g (discriminator) %g (generator)", o->adam_d.lr, o->adam_g.lr);
  if (o->ema > 0) {
    char decay[32];
    ganc_format_real(decay, sizeof decay, o->ema);
    snprintf(ema, sizeof ema, ", EMA decay %s", decay);
  }
  char ranks[48] = "";
  if (ganc_dist_size() > 1)
    snprintf(ranks, sizeof ranks, " over %d ranks", ganc_dist_size());
  if (rank == 0)
    fprintf(stderr, "training %s on %s: %lld steps, batch %d%s, Adam %s betas (%g, %g), seed %llu%s\n",
            j.info->name, o->data, (long long)o->steps, o->batch, ranks, rates, o->adam_d.beta1, o->adam_d.beta2,
            (unsigned long long)o->seed, ema);
  ganc_fns fns;
  if (ganc_functions(j.m, j.info, &fns) < 0) {
    fprintf(stderr, "ganc: internal error: model '%s' has no training functions\n", j.info->name);
    ganc_free(j.m);
    return EXIT_INTERNAL;
  }
  ganc_train_result res;
  int t = ganc_train(&fns, j.info, o, &res, err, sizeof err);
  char who[32] = "";
  if (rank > 0)
    snprintf(who, sizeof who, "rank %d: ", rank);
  if (rank > 0 && (t == GANC_TRAIN_DONE || t == GANC_TRAIN_STOPPED)) {
    rc = t == GANC_TRAIN_DONE ? 0 : 128 + (int)stop_signal;
    ganc_free(j.m);
    ganc_dist_finish();
    return rc;
  }
  switch (t) {
  case GANC_TRAIN_DONE:
    if (res.nmodes)
      printf("%s: %d of %d modes covered, %.1f%% high-quality samples (PacGAN criterion, 2500 samples)\n",
             j.info->name, res.modes, res.nmodes, 100 * res.high_quality);
    if (res.nlabels)
      print_label_shares(j.info, &res);
    printf("wrote %s/weights.safetensors, checkpoint.safetensors, loss.csv, loss.png, samples.png\n", o->outdir);
    if (ganc_dist_size() > 1 && res.steps_run > 0)
      printf("%d ranks: each passed %.0f bytes a step to MPI's collectives\n", ganc_dist_size(),
             res.bytes_per_step);
    rc = 0;
    break;
  case GANC_TRAIN_STOPPED:
    fprintf(stderr, "\nganc: stopped by %s; %s holds the checkpoint (--resume continues)\n",
            stop_signal == SIGINT ? "SIGINT" : "SIGTERM", ckpt);
    rc = 128 + (int)stop_signal;
    break;
  case GANC_TRAIN_INTERNAL:
    fprintf(stderr, "ganc: %s%s\n", who, err);
    rc = EXIT_INTERNAL;
    break;
  default:
    fprintf(stderr, "%sganc: %s%s\n", pr.tty && rank == 0 ? "\n" : "", who, err);
    rc = EXIT_USER;
  }
  ganc_free(j.m);
  if (rc == 0 || t == GANC_TRAIN_STOPPED)
    ganc_dist_finish();
  return rc;
}

/* ---- bench ---- */

typedef struct BenchArgs {
  int batches[16], nbatches, json;
} BenchArgs;

static int bench_opt(int opt, const char *arg, void *ctx)
{
  BenchArgs *ba = ctx;
  if (opt == 'j') {
    ba->json = 1;
    return -1;
  }
  ba->nbatches = 0;
  char *copy = strdup(arg), *save = NULL;
  if (!copy) {
    fputs("ganc: out of memory\n", stderr);
    return EXIT_USER;
  }
  int rc = -1;
  for (char *tok = strtok_r(copy, ",", &save); tok && rc < 0; tok = strtok_r(NULL, ",", &save)) {
    long v;
    if (ba->nbatches == 16)
      rc = usage_error("bench", "at most 16 batch sizes");
    else if ((rc = parse_count("bench", "--batch", tok, 1, 1 << 16, &v)) < 0)
      ba->batches[ba->nbatches++] = (int)v;
  }
  free(copy);
  return rc;
}

static int cmd_bench(int argc, char **argv)
{
  Common co = {0};
  BenchArgs ba = {{1, 64}, 2, 0};
  static const struct option longs[] = {
      {"batch", required_argument, NULL, 'b'}, {"json", no_argument, NULL, 'j'}, {0}};
  int rc = parse_args(find_command("bench"), argc, argv, &co, NULL, longs, bench_opt, &ba);
  if (rc >= 0)
    return rc;
  if (ba.nbatches == 0)
    return usage_error("bench", "--batch needs at least one size");
  Loaded l;
  if ((rc = load_models(&co, &l)))
    return rc;
  rc = bench_models(l.c.diag.file, l.src, l.c.ir, co.model, ba.batches, ba.nbatches, ba.json);
  loaded_free(&l);
  return rc;
}

/* ---- help ---- */

static int cmd_help(int argc, char **argv);

static const Command commands[] = {
    {"check", cmd_check, "[--model NAME] [--dump=ast|ir|plan] FILE.gan",
     "Parse and check a model file; silent on success. Errors go to standard\n"
     "error as FILE:LINE:COL: error: MESSAGE, with the line and a caret.\n\n"
     "  --dump=WHAT        also print the compiler's state to standard output:\n"
     "                     ast (the parse), ir (the op lists) or plan (the memory\n"
     "                     plan of every emitted function)\n", 1, 0},
    {"summary", cmd_summary, "[--model NAME] [--dump=ast|ir|plan] FILE.gan",
     "Print each model's layers with their source line, output shape and\n"
     "parameter count, then the totals: parameters, bytes, FLOPs per sample.\n\n"
     "  --dump=WHAT        also print the compiler's state to standard output:\n"
     "                     ast (the parse), ir (the op lists) or plan (the memory\n"
     "                     plan of every emitted function)\n", 1, 0},
    {"emit", cmd_emit, "[--model NAME] FILE.gan -o DIR [--weights W] [--dump=ast|ir|plan]",
     "Write DIR/NAME.h and DIR/NAME.c for each model: standalone C99 that\n"
     "needs only libm. DIR is created if it does not exist. With --weights,\n"
     "also DIR/NAME_weights.c, the parameters as a const array NAME_weights.\n\n"
     "  -o, --output DIR   the folder to write to\n"
     "  --weights W        trained weights (.safetensors) to compile in\n"
     "  --dump=WHAT        also print the compiler's state to standard output:\n"
     "                     ast (the parse), ir (the op lists) or plan (the memory\n"
     "                     plan of every emitted function)\n", 1, 0},
    {"train", cmd_train, "FILE.gan --data SPEC -o DIR [OPTIONS]",
     "Train the model (compiled in memory) with its loss. Each step\n"
     "makes K discriminator updates, each on a real batch and a fresh latent\n"
     "batch, then one generator update; Adam on each network. Every K steps\n"
     "and at the end, DIR gets weights.safetensors, checkpoint.safetensors,\n"
     "loss.csv, loss.png (its columns plotted against the step) and\n"
     "samples.png. SIGINT or SIGTERM writes a checkpoint and stops (exit 130\n"
     "or 143); --resume continues bit for bit. Under mpirun -np P, P ranks\n"
     "train data-parallel: each takes an equal part of every batch, rank 0\n"
     "writes DIR.\n\n"
     "  --data SPEC      ring8, grid25, fashion-mnist, or FILE.idx, FILE.idx.gz, FILE.csv\n"
     "                   (a conditional model's labels: the modes of ring8 and grid25,\n"
     "                   fashion-mnist's labels file, a CSV's first column)\n"
     "  --labels FILE    the labels of FILE.idx[.gz] data (FILE.idx or FILE.idx.gz)\n"
     "  -o, --output DIR the folder to write (created if missing)\n"
     "  --steps N        total steps, also with --resume (10000)\n"
     "  --batch B        batch size (64)\n"
     "  --lr X           Adam learning rate of both networks (2e-4)\n"
     "  --lr-d X         the discriminator's learning rate, over --lr in any order\n"
     "  --lr-g X         the generator's learning rate, over --lr in any order\n"
     "  --beta1 X        Adam beta1 (0.5)\n"
     "  --beta2 X        Adam beta2 (0.999)\n"
     "  --d-steps K      discriminator updates per step (1)\n"
     "  --seed S         initialization and noise seed (1)\n"
     "  --every K        outputs every K steps (500)\n"
     "  -n N             samples in samples.png (64 images, or 1000 points; a\n"
     "                   conditional image model's has a row per class, 8 each)\n"
     "  --ema DECAY      keep a moving average of the generator, 0 < DECAY < 1\n"
     "                   (0.999 is usual; off by default): samples.png, the mode\n"
     "                   coverage and weights.safetensors use it, the checkpoint\n"
     "                   holds it too (ema.NAME), and --resume needs the same DECAY\n"
     "  --resume         continue from DIR/checkpoint.safetensors\n"
     "  --force          start over even if DIR holds a checkpoint\n"
     "  --threads N      threads for the products (every core, or GANC_THREADS);\n"
     "                   the result does not depend on N\n"
     "  --model NAME     the model to train, in a file with several\n", 0, 1},
    {"sample", cmd_sample, "FILE.gan [--weights W] -o OUT [-n N] [--seed S] [--label K] [--data SPEC] [--threads N]",
     "Draw N samples (default 64) from the model compiled in memory, with latent\n"
     "noise from the seed (default 1). The parameters come from W (weights or a\n"
     "checkpoint), or without --weights are freshly initialized from the seed.\n\n"
     "  -o, --output OUT  OUT.png (an image grid, or a scatter plot for 2-D\n"
     "                    observations), OUT.csv (a sample per row), OUT.f32\n"
     "                    (raw little-endian floats), or - (CSV on standard output)\n"
     "  --weights W       a .safetensors file from ganc train (or PyTorch)\n"
     "  --data SPEC       for a scatter plot, draw it over this distribution\n"
     "  -n N              samples to draw; a conditional model without --label\n"
     "                    draws ceil(N / classes) of each class, class by class:\n"
     "                    one row per class in an image grid, the label first in\n"
     "                    each CSV row, a colour per label in a scatter plot\n"
     "  --label K         draw class K of a conditional model\n"
     "  --seed S          the seed\n"
     "  --threads N       threads for the products (every core, or GANC_THREADS)\n", 0, 1},
    {"bounds", cmd_bounds,
     "FILE.gan [--model NAME] [--weights W] (--box LO,HI | --center FILE --radius R) [--label K] [-o OUT.csv] "
     "[--threads N]",
     "Sound bounds, by interval bound propagation through the model compiled\n"
     "in memory, over a box of latents: for every latent in the box, each\n"
     "element of generate's output and the fake score D(G(z)) lie within\n"
     "them. A packed model's fake score judges a pack whose every latent lies\n"
     "in the box. The parameters come from W (weights or a checkpoint), or\n"
     "without --weights are freshly initialized from seed 1. Prints the box,\n"
     "the tightest and widest of generate's bounds, their mean width, and the\n"
     "fake score's bounds.\n\n"
     "  --box LO,HI       every latent element in [LO, HI]; inf and -inf allowed\n"
     "  --center FILE     the box's centre: the latent's numbers, separated by\n"
     "                    commas, spaces or newlines (- for standard input)\n"
     "  --radius R        with --center: every element within R of the centre,\n"
     "                    the box rounded outward to the model's scalar type\n"
     "  --weights W       a .safetensors file from ganc train (or PyTorch)\n"
     "  --label K         the class of a conditional model (required there)\n"
     "  -o, --output OUT  OUT.csv: the header output,element,lo,hi, a row x,I,LO,HI\n"
     "                    for each element I of generate's output (flat index),\n"
     "                    then fake_score,0,LO,HI, in digits that read back exactly\n"
     "  --threads N       threads for the products (every core, or GANC_THREADS)\n"
     "  --model NAME      the model, in a file with several\n", 0, 1},
    {"bench", cmd_bench, "FILE.gan [--model NAME] [--batch N,...] [--threads N] [--json] [--dump=ast|ir|plan]",
     "Time the model's emitted functions: the JIT's compile time, then for each\n"
     "batch size (default 1,64) microseconds per call and GFLOP/s of every\n"
     "function, compiled by the JIT and, when cc is present, ahead of time\n"
     "(cc -O3 -march=native), and of a whole training step (both gradients and\n"
     "Adam updates). FLOPs: a multiply-add counts 2, a backward pass twice its\n"
     "forward pass.\n\n"
     "  --batch N,...   batch sizes\n"
     "  --json          one JSON object per line instead of a table\n"
     "  --threads N     threads for the JIT's products (every core, or\n"
     "                  GANC_THREADS); the AOT build is single-threaded\n"
     "  --dump=WHAT     also print the compiler's state to standard output:\n"
     "                  ast (the parse), ir (the op lists) or plan (the memory\n"
     "                  plan of every emitted function)\n", 1, 1},
    {"help", cmd_help, "[COMMAND]", "Show help for a command.\n", 0, 0},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static const Command *find_command(const char *name)
{
  for (int i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static void print_usage(FILE *f)
{
  fprintf(f, "usage: ganc COMMAND [OPTIONS] FILE.gan\n\n"
             "Compile generative adversarial networks described in .gan files to C.\n\n"
             "commands:\n");
  for (int i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].usage);
  fprintf(f, "\nFILE may be - for standard input. 'ganc help COMMAND' or 'ganc COMMAND --help'\n"
             "tells more; 'ganc --version' prints the version.\n");
}

static int cmd_help(int argc, char **argv)
{
  if (argc < 2) {
    print_usage(stdout);
    return 0;
  }
  const Command *c = find_command(argv[1]);
  if (!c)
    return usage_error(NULL, "unknown command '%s'", argv[1]);
  print_help(c, stdout);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    print_usage(stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
    printf("ganc %s\n", GANC_VERSION);
    return 0;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    print_usage(stdout);
    return 0;
  }
  const Command *c = find_command(argv[1]);
  if (!c)
    return usage_error(NULL, "unknown command '%s'", argv[1]);
  return c->run(argc - 1, argv + 1);
}
