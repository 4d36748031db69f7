/* fuzz_data.h — what the data set targets (fuzz_idx.c, fuzz_csv.c) share:
 * a scratch folder for the files they hand to ganc_data_open, and the
 * observations they read them for. */
#ifndef GANC_FUZZ_DATA_H
#define GANC_FUZZ_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

enum { NOBS = 3 };

/* [2] float, [1, 2, 2] double, [2, 2] float: 1-D observations take any
   sample dims of their size, the others the same dims up to dims of 1. */
extern ganc_info fuzz_obs[NOBS];

/* A file NAME in the target's scratch folder (made on first use, removed at
   exit), holding size bytes of data. Its path, valid until the next call. */
const char *fuzz_write(const char *name, const void *data, size_t size);

/* Open spec for info; when it opens, draw a few batches. Aborts when the
   loader breaks its contract (a failure without a message, an empty data
   set). The data set, for comparisons, or NULL; err gets the message. */
ganc_data *fuzz_open(const char *spec, const ganc_info *info, char *err, size_t errlen);

/* n samples of d into a new array (info's scalars), drawn with a fixed seed. */
void *fuzz_batch(ganc_data *d, const ganc_info *info, int n);

void fuzz_fail(const char *what, const char *detail);

#endif
