/* bench.h — `ganc bench` (bench.c), a command of the CLI. */
#ifndef GANC_BENCH_H
#define GANC_BENCH_H

#include "compiler.h"

/* Time every emitted function of the file's models (all, or the one named
   only) for each batch size; a table, or JSON lines. 0, or an exit status. */
int bench_models(const char *file, const char *src, const Ir *ir, const char *only, const int *batches, int nbatches,
                 int json);

#endif
