/* fuzz_data.h — what the data set targets (fuzz_idx.c, fuzz_csv.c) share:
 * a scratch folder for the files they hand to ganc_data_open_labels, and
 * the observations they read them for. */
#ifndef GANC_FUZZ_DATA_H
#define GANC_FUZZ_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"

enum { NOBS = 3 };

/* [2] float, [1, 2, 2] double, [2, 2] float: 1-D observations take any
   sample dims of their size, the others the same dims up to dims of 1. */
extern ganc_info fuzz_obs[NOBS];
/* [2] float for a conditional model with FUZZ_CLASSES classes: CSV rows
   begin with a label, IDX files take a labels file. */
enum { FUZZ_CLASSES = 200 };
extern ganc_info fuzz_labelled;

/* A file NAME in the target's scratch folder (made on first use, removed at
   exit), holding size bytes of data. Its path, valid until the next call. */
const char *fuzz_write(const char *name, const void *data, size_t size);

/* Open spec for info; when it opens, draw a few batches. Aborts when the
   loader breaks its contract (a failure without a message, an empty data
   set; for labelled data a label out of range, or samples that depend on
   whether labels are asked for). The data set, for comparisons, or NULL;
   err gets the message. */
ganc_data *fuzz_open(const char *spec, const ganc_info *info, char *err, size_t errlen);
/* The same with a labels file (NULL for none). */
ganc_data *fuzz_open_labels(const char *spec, const char *labels, const ganc_info *info, char *err,
                            size_t errlen);

/* n samples of d into a new array (info's scalars), drawn with a fixed seed;
   their labels into labels unless it is NULL. */
void *fuzz_batch(ganc_data *d, const ganc_info *info, int n, int *labels);

void fuzz_fail(const char *what, const char *detail);

#endif
