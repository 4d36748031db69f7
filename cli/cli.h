/* cli.h — the internal header of the ganc command, one section per file.
 *
 * main.c parses the command line and runs each command as a pipeline of the
 * compiler's and the runtime's stages; the files below are the CLI's own
 * stages: what it prints, what it writes, what it shows while training. */
#ifndef GANC_CLI_H
#define GANC_CLI_H

#include "compiler.h"
#include "ganc.h"
#include "train.h"

/* Exit statuses of every command; 128 + N after signal N. */
enum { EXIT_USER = 1, EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

/* ---- summary.c: `ganc summary`'s table ---- */

/* A model's layers with their source line, output shape and parameter
   count, then the totals, on standard output. */
void summary_print(const Model *m);

/* ---- output.c: the files commands write ---- */

/* Create dir and any missing parents, as mkdir -p. 0, or EXIT_USER after
   saying why. */
int output_make_dir(const char *dir);

/* Write s to DIR/NAMESUFFIX. 0, or EXIT_USER; with report, after saying
   why on standard error. */
int output_write_text(const char *dir, const char *name, const char *suffix, const Str *s, int report);

/* What `ganc sample -o OUT` writes, by OUT's name. */
typedef enum SampleFormat {
  SAMPLES_NONE, /* not a name sample writes */
  SAMPLES_CSV,  /* OUT.csv, or - for standard output: a sample per row */
  SAMPLES_F32,  /* OUT.f32: raw little-endian floats */
  SAMPLES_PNG,  /* OUT.png: an image grid, or a scatter plot of 2-D samples */
} SampleFormat;

SampleFormat output_sample_format(const char *out);

/* n samples x of info's model to out in format; a scatter plot is drawn
   over data_spec's distribution when it is not NULL. A conditional model's
   labels (n, or NULL) lead each CSV row and colour a scatter plot; with
   per_class > 0 an image grid shows one row of per_class per class (n =
   per_class * classes, class by class). 0, or EXIT_USER after saying why. */
int output_write_samples(const char *out, SampleFormat format, const ganc_info *info, const void *x, const int *labels,
                         int per_class, long n, const char *data_spec);

/* ---- progress.c: the training progress display ---- */

/* On a terminal, one line redrawn at most five times a second; otherwise a
   line per snapshot. */
typedef struct Progress {
  int tty; /* standard error is a terminal */
  double last_print;
} Progress;

/* ganc_train_options.progress, with a Progress as ctx. */
void progress_show(const ganc_progress *p, void *ctx);

/* ---- bench.c: `ganc bench` ---- */

/* Time every emitted function of the file's models (all, or the one named
   only) for each batch size; a table, or JSON lines. 0, or an exit status. */
int bench_models(const char *file, const char *src, const Ir *ir, const char *only, const int *batches, int nbatches,
                 int json);

#endif
