/* main.c — the ganc command-line driver.
 *
 * A thin layer over the stages and the runtime. For `emit` the whole
 * pipeline reads top to bottom in cmd_emit:
 *   read_file -> compile_source (parse, check, lower) -> emit_header/source
 * Exit status: 0 success, 1 user error, 2 bad usage, 3 internal error. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compiler.h"
#include "ganc.h"

enum { EXIT_USER = 1, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

typedef struct Command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *usage;
  const char *help;
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

/* Options shared by every command: --help, --model. */
typedef struct Common {
  const char *model; /* --model NAME */
  const char *file;  /* the positional FILE.gan */
} Common;

/* Compile the file or print its diagnostics; the exit status on failure. */
static int load(const char *path, Compilation *c, char **src)
{
  size_t len;
  *src = read_file(path, &len);
  if (!*src) {
    fprintf(stderr, "ganc: cannot open '%s': %s\n", path, strerror(errno));
    return EXIT_USER;
  }
  if (compile_source(c, strcmp(path, "-") == 0 ? "<stdin>" : path, *src, len) < 0) {
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

/* Parse argv: the common options plus the command's own (extra, handled by
   on_opt). Returns -1 to go on, or an exit status. */
static int parse_args(const Command *cmd, int argc, char **argv, Common *co, const char *extra_short,
                      const struct option *extra_long, int (*on_opt)(int opt, const char *arg, void *ctx),
                      void *ctx)
{
  struct option longs[24] = {{"help", no_argument, NULL, 'h'}, {"model", required_argument, NULL, 'm'}};
  int n = 2;
  for (; extra_long && extra_long[n - 2].name && n < 23; n++)
    longs[n] = extra_long[n - 2];
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
  Compilation c;
  char *src;
  if ((rc = load(co.file, &c, &src)))
    return rc;
  int first, count;
  rc = select_models(&c, co.model, &first, &count);
  compile_free(&c);
  free(src);
  return rc;
}

/* ---- summary ---- */

/* 1234567 as "1,234,567". */
static const char *grouped(int64_t v, char *buf)
{
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%" PRId64, v), j = 0;
  for (int i = 0; i < n; i++) {
    if (i > 0 && tmp[i - 1] != '-' && (n - i) % 3 == 0)
      buf[j++] = ',';
    buf[j++] = tmp[i];
  }
  buf[j] = 0;
  return buf;
}

static void summary_stack(const Stack *st)
{
  char shape[160], num[32];
  printf("  %-32s %5d  %-18s\n", st->name, st->loc.line, shape_str(&st->in, shape, sizeof shape));
  for (int i = 0; i < st->n; i++) {
    const Layer *l = &st->layers[i];
    char name[64];
    snprintf(name, sizeof name, "%-3d %s", l->index, l->text);
    printf("    %-30.30s %5d  %-18s %12s\n", name, l->loc.line, shape_str(&l->out, shape, sizeof shape),
           grouped(l->weight_count + l->bias_count, num));
  }
}

static void summary_model(const Model *m)
{
  char a[160], b[160], n1[32], n2[32], n3[32], n4[32];
  int bytes = m->scalar == SCALAR_DOUBLE ? 8 : 4;
  printf("model %s (scalar %s, loss lsgan): latent %s, observation %s\n\n", m->name,
         m->scalar == SCALAR_DOUBLE ? "double" : "float", shape_str(&m->latent, a, sizeof a),
         shape_str(&m->observation, b, sizeof b));
  printf("  %-32s %5s  %-18s %12s\n", "layer", "line", "output", "parameters");
  summary_stack(&m->gen);
  summary_stack(&m->disc);
  printf("\n  parameters: %s generator + %s discriminator = %s (%s bytes)\n", grouped(m->gen.param_count, n1),
         grouped(m->disc.param_count, n2), grouped(m->param_count, n3), grouped(m->param_count * bytes, n4));
  printf("  FLOPs per sample: generate %s, discriminator %s\n", grouped(m->gen.flops, n1),
         grouped(m->disc.flops, n2));
}

static int cmd_summary(int argc, char **argv)
{
  Common co = {0};
  int rc = parse_args(find_command("summary"), argc, argv, &co, NULL, NULL, NULL, NULL);
  if (rc >= 0)
    return rc;
  Compilation c;
  char *src;
  if ((rc = load(co.file, &c, &src)))
    return rc;
  int first, count;
  if (!(rc = select_models(&c, co.model, &first, &count)))
    for (int i = first; i < first + count; i++) {
      if (i > first)
        putchar('\n');
      summary_model(c.ir->models[i].model);
    }
  compile_free(&c);
  free(src);
  return rc;
}

/* ---- emit ---- */

typedef struct EmitArgs {
  const char *outdir;
} EmitArgs;

static int emit_opt(int opt, const char *arg, void *ctx)
{
  EmitArgs *ea = ctx;
  if (opt == 'o')
    ea->outdir = arg;
  return -1;
}

static int write_text(const char *path, const Str *s)
{
  FILE *f = fopen(path, "w");
  if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f) != 0) {
    fprintf(stderr, "ganc: cannot write '%s': %s\n", path, strerror(errno));
    return EXIT_USER;
  }
  return 0;
}

static int cmd_emit(int argc, char **argv)
{
  Common co = {0};
  EmitArgs ea = {0};
  static const struct option longs[] = {{"output", required_argument, NULL, 'o'}, {0}};
  int rc = parse_args(find_command("emit"), argc, argv, &co, "o:", longs, emit_opt, &ea);
  if (rc >= 0)
    return rc;
  if (!ea.outdir)
    return usage_error("emit", "emit needs an output folder: -o DIR");

  Compilation c;
  char *src;
  if ((rc = load(co.file, &c, &src)))
    return rc;
  int first, count;
  if ((rc = select_models(&c, co.model, &first, &count)))
    goto done;
  if (mkdir(ea.outdir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "ganc: cannot create folder '%s': %s\n", ea.outdir, strerror(errno));
    rc = EXIT_USER;
    goto done;
  }
  EmitOptions opt = {.source_name = c.diag.file};
  for (int i = first; i < first + count && !rc; i++) {
    const IrModel *m = &c.ir->models[i];
    Str h = {0}, s = {0};
    emit_header(&h, m, &opt);
    emit_source(&s, m, &opt);
    if (h.failed || s.failed) {
      fputs("ganc: out of memory\n", stderr);
      rc = EXIT_USER;
    } else {
      size_t plen = strlen(ea.outdir) + strlen(m->model->name) + 8;
      char *path = malloc(plen);
      snprintf(path, plen, "%s/%s.h", ea.outdir, m->model->name);
      rc = write_text(path, &h);
      snprintf(path, plen, "%s/%s.c", ea.outdir, m->model->name);
      if (!rc)
        rc = write_text(path, &s);
      free(path);
    }
    str_free(&h);
    str_free(&s);
  }
done:
  compile_free(&c);
  free(src);
  return rc;
}

/* ---- sample ---- */

typedef struct SampleArgs {
  const char *out;
  long n;
  uint64_t seed;
} SampleArgs;

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

static int sample_opt(int opt, const char *arg, void *ctx)
{
  SampleArgs *sa = ctx;
  long v;
  int rc;
  switch (opt) {
  case 'o':
    sa->out = arg;
    return -1;
  case 'n':
    return parse_count("sample", "-n", arg, 1, 1 << 20, &sa->n);
  case 's':
    if ((rc = parse_count("sample", "--seed", arg, 0, 0x7fffffffL, &v)) >= 0)
      return rc;
    sa->seed = (uint64_t)v;
    return -1;
  }
  return EXIT_INTERNAL;
}

static void print_value(FILE *f, const void *p, int size, int64_t i)
{
  if (size == 4)
    fprintf(f, "%.9g", (double)((const float *)p)[i]);
  else
    fprintf(f, "%.17g", ((const double *)p)[i]);
}

static int cmd_sample(int argc, char **argv)
{
  Common co = {0};
  SampleArgs sa = {.n = 64, .seed = 1};
  static const struct option longs[] = {
      {"output", required_argument, NULL, 'o'}, {"seed", required_argument, NULL, 's'}, {0}};
  int rc = parse_args(find_command("sample"), argc, argv, &co, "o:n:", longs, sample_opt, &sa);
  if (rc >= 0)
    return rc;
  if (!sa.out)
    return usage_error("sample", "sample needs an output: -o OUT.csv, or -o - for standard output");
  if (strcmp(sa.out, "-") != 0)
    return usage_error("sample", "this build writes samples as CSV to standard output only (-o -)");

  char err[8192];
  ganc_model *m = ganc_jit(co.file, err, sizeof err);
  if (!m) {
    fputs(err, stderr);
    return strstr(err, "internal error") ? EXIT_INTERNAL : EXIT_USER;
  }
  const ganc_info *info = co.model ? ganc_find_model(m, co.model) : ganc_model_info(m, 0);
  if (!info || (!co.model && ganc_model_count(m) > 1)) {
    fprintf(stderr, "ganc: %s\n", info ? "the file has several models; choose one with --model NAME"
                                       : "no such model (--model)");
    ganc_free(m);
    return EXIT_USER;
  }
  char sym[256];
  snprintf(sym, sizeof sym, "%s_generate_batch", info->name);
  void (*generate)(const void *, int, const void *, void *);
  *(void **)&generate = ganc_symbol(m, sym);
  size_t s = (size_t)info->scalar_size;
  void *params = malloc(s * (size_t)info->param_count);
  void *z = malloc(s * (size_t)info->latent_size * (size_t)sa.n);
  void *x = malloc(s * (size_t)info->obs_size * (size_t)sa.n);
  if (!generate || !params || !z || !x) {
    fprintf(stderr, "ganc: %s\n", generate ? "out of memory" : "internal error: no generate function");
    rc = generate ? EXIT_USER : EXIT_INTERNAL;
  } else {
    ganc_rng rng;
    ganc_init_params(info, sa.seed, params);
    ganc_rng_seed(&rng, sa.seed + 1);
    ganc_normal_fill(&rng, info->scalar_size, info->latent_size * sa.n, z);
    generate(params, (int)sa.n, z, x);
    for (long i = 0; i < sa.n; i++)
      for (int64_t j = 0; j < info->obs_size; j++) {
        print_value(stdout, x, info->scalar_size, i * info->obs_size + j);
        putchar(j + 1 < info->obs_size ? ',' : '\n');
      }
    rc = 0;
  }
  free(params);
  free(z);
  free(x);
  ganc_free(m);
  return rc;
}

/* ---- help ---- */

static int cmd_help(int argc, char **argv);

static const Command commands[] = {
    {"check", cmd_check, "[--model NAME] FILE.gan",
     "Parse and check a model file; silent on success. Errors go to standard\n"
     "error as FILE:LINE:COL: error: MESSAGE, with the line and a caret.\n"},
    {"summary", cmd_summary, "[--model NAME] FILE.gan",
     "Print each model's layers with their source line, output shape and\n"
     "parameter count, then the totals: parameters, bytes, FLOPs per sample.\n"},
    {"emit", cmd_emit, "[--model NAME] FILE.gan -o DIR",
     "Write DIR/NAME.h and DIR/NAME.c for each model: standalone C99 that\n"
     "needs only libm. DIR is created if it does not exist.\n\n"
     "  -o, --output DIR   the folder to write to\n"},
    {"sample", cmd_sample, "[--model NAME] [-n N] [--seed S] FILE.gan -o -",
     "Generate N samples (default 64) from parameters initialized from the seed\n"
     "(default 1) with latent noise from seed + 1, compiled in memory with\n"
     "libtcc, and print them as CSV, one sample per row.\n\n"
     "  -o, --output -     standard output\n"
     "  -n N               samples to draw\n"
     "      --seed S       the seed\n"},
    {"help", cmd_help, "[COMMAND]", "Show help for a command.\n"},
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
