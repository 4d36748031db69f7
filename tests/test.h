/* test.h — helpers shared by the Criterion suites.
 *
 * Tests run from the repository root; GANC names the ganc binary (the
 * Makefile sets it; build/ganc otherwise). */
#ifndef GANC_TEST_H
#define GANC_TEST_H

#include <stddef.h>

#include "ganc.h"

/* A small model with batch_norm in both networks, for the weights tests;
   tests/reference/torch_batch_norm.py builds its PyTorch twin. SCALAR is a
   `scalar` line or "". */
#define BN_MODEL_SOURCE(SCALAR)                                                          \
  "model bn {\n" SCALAR "  latent [4]\n  observation [6]\n"                              \
  "  generator { linear(8) batch_norm relu linear(6) tanh }\n"                            \
  "  discriminator { linear(5) batch_norm(momentum=0.2) leaky_relu(0.2) linear(1) }\n"    \
  "}\n"

/* ganc with these arguments (a shell word list), stdin_text on standard
   input (NULL for none); its exit status and output. */
typedef struct Run {
  int status;
  char *out, *err;
} Run;

Run run_ganc(const char *args, const char *stdin_text);
/* The ganc binary: GANC, or build/ganc. */
const char *ganc_bin(void);
/* The same with the arguments printf-style and nothing on standard input. */
Run run_gancf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void run_free(Run *r);

/* A shell command's exit status, its output discarded into *output (may be
   NULL) — for compilers and make. */
int run_shell(const char *cmd, char **output);

/* A whole file, NUL-terminated; NULL if it cannot be read. */
char *slurp(const char *path, size_t *len);
/* Do two files hold the same bytes? (0 when either cannot be read.) */
int same_file(const char *a, const char *b);
/* DIR/NAME with NAME printf-style, in one of eight buffers used in turn:
   the last eight stay valid. */
const char *path_in(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The running test's scratch folder (every Criterion test is a process of
   its own): scratch_open and scratch_close as a suite's .init and .fini,
   scratch_path(name) for a file in it (the last four stay valid). */
extern char scratch_dir[64];
void scratch_open(void);
void scratch_close(void);
const char *scratch_path(const char *name);
/* The files and folders in it. */
int scratch_entries(void);

/* A fresh temporary folder (removed by tmpdir_remove). */
char *tmpdir_make(void);
void tmpdir_remove(char *dir);

/* The .gan files of a folder, sorted; NULL-terminated, free with paths_free. */
char **list_files(const char *dir, const char *suffix);
void paths_free(char **paths);

/* Ahead-of-time build of a .gan file: ganc emit, then cc -O2 -shared, then
   dlopen. NULL on failure with the reason in why. */
typedef struct Aot Aot;
Aot *aot_build(const char *gan_path, const char *cc, char *why, size_t whylen);
void *aot_symbol(Aot *a, const char *name);
void aot_free(Aot *a);

/* A function of model `model` from the JIT or an AOT build, by suffix
   ("generate", "fake_score", ...). */
void *model_fn(ganc_model *jit, Aot *aot, const char *model, const char *suffix);
/* Every function info's model has (ganc_fn_exists), the others NULL. The
   suffix of one the model has and the build lacks, or NULL. */
const char *model_fns(ganc_model *jit, Aot *aot, const ganc_info *info, ganc_fns *fns);

#endif
