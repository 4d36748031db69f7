/* fixture.h — what the suites that compare with PyTorch share
 * (test_conformance.c, test_gradients.c, test_batch_norm.c; test_conv.c
 * uses its scalars): the formula that derives a fixture's parameters, running
 * statistics and inputs (tests/reference/forward.py describes it and computes
 * the same values), the fixtures' text parsing, the fixture names of the
 * suites' test instances, and scalars of either width. A conditional
 * model's labels come from the formula too; its fixtures also list them. */
#ifndef GANC_TEST_FIXTURE_H
#define GANC_TEST_FIXTURE_H

#include <criterion/parameterized.h>

#include <stdint.h>
#include <stdio.h>

#include "ganc.h"

/* The formula's streams; forward.py and backward.py use the same numbers
   (5 is test_gradients.c's own). */
enum {
  STREAM_PARAMS = 1,
  STREAM_LATENT = 2,
  STREAM_REAL = 3,
  STREAM_SAMPLE = 4,
  STREAM_STATS = 6,
  STREAM_LABELS_REAL = 7, /* a conditional model's labels of x */
  STREAM_LABELS_FAKE = 8, /* and of z */
};

uint64_t splitmix64(uint64_t x);
/* 2u - 1 with u = (splitmix64(stream * 2^32 + k) >> 40) / 2^24: a 24-bit
   integer over 2^23, exact in float32. */
double signed_unit(uint64_t stream, uint64_t k);
/* floor(log2(fan_in) / 2): parameters of a tensor are scaled by 2^-this. */
int weight_exponent(int64_t fan_in);

/* A parameter tensor as a fixture's `tensors` section lists it, or a
   statistics tensor of its `stats_tensors` (fan_in 0). */
typedef struct Tensor {
  char name[48];
  int64_t offset, count, fan_in;
  int rank;
  int64_t shape[GANC_MAX_RANK];
} Tensor;

/* Parameter k (which lies in t) by the formula: (2u - 1) * 2^-e, but
   1/2 + |2u - 1| for a batch_norm weight (the one weight of rank 1). */
double formula_param(const Tensor *t, int64_t k);
/* Every parameter of the tensors, stored as scalars of size bytes. */
void formula_params(const Tensor *tensors, int ntensors, int size, void *params);
/* Running statistic k (in t) by the formula: (2u - 1) / 8 for a
   running_mean, 1/2 + |2u - 1| for a running_var. */
double formula_stat(const Tensor *t, int64_t k);
/* Every statistic of the tensors, as formula_params. */
void formula_stats(const Tensor *tensors, int ntensors, int size, void *stats);
/* n inputs of a stream (STREAM_LATENT or STREAM_REAL) times scale. */
void formula_inputs(uint64_t stream, double scale, int size, int64_t n, void *out);
/* Label k of a stream (STREAM_LABELS_REAL or STREAM_LABELS_FAKE) of a
   model with classes labels: floor(u * classes), that is the top 24 bits
   of splitmix64(stream * 2^32 + k) times classes, shifted right by 24. */
int formula_label(uint64_t stream, int classes, uint64_t k);
/* Labels 0 .. n-1 of a stream, in a fresh array (at least one element);
   all 0 for an unconditional model (classes 0), whose functions read none. */
int *formula_labels(uint64_t stream, int classes, int64_t n);

/* A fixture's text, line by line, comments and blank lines skipped. */
typedef struct FixtureReader {
  const char *path;
  FILE *fp;
  char *line;
  size_t cap;
} FixtureReader;

/* Open path (a failed assertion if it cannot be read). */
void fixture_open(FixtureReader *r, const char *path);
/* The next line: 1 for `section KEY COUNT` (COUNT >= 0), 2 for a header
   line `KEY VALUE`, 0 at the end of the file, which closes it. */
int fixture_next(FixtureReader *r, char key[64], char value[256], int *count);

/* Inside a section: the next line (a failed assertion at the end of the
   file). A number fills the whole of s. */
char *fixture_read_line(FixtureReader *r);
double fixture_parse_double(const char *s, const char *path);
/* A section `key` of count values, one a line, which must be expected;
   malloc'd. */
double *fixture_read_values(FixtureReader *r, int count, int64_t expected, const char *key);
/* A `tensors` section (with_fan_in) or a `stats_tensors` section of count
   lines into t (at most max of them). */
void fixture_read_tensors(Tensor *t, int max, int count, int with_fan_in, FixtureReader *r);
/* The tensors lie back to back from 0 and cover all total scalars. */
void fixture_check_layout(const Tensor *t, int count, int64_t total, const char *what, const char *path);

/* The `key value` lines every fixture starts with. */
typedef struct FixtureHeader {
  char model[256], file[256], loss[32]; /* loss: "lsgan" unless the header says */
  int scalar_size, batch; /* scalar_size 4 or 8 (`scalar float` or `double`); batch: samples */
  int pack;               /* samples per discriminator input; 0 (unpacked) reads as 1 */
  double input_scale;
  int64_t latent_size, obs_size, g_param_count, param_count;
  int64_t stats_count;    /* running statistics; 0 without batch_norm */
  int classes;            /* labels of a conditional model; 0 for one without */
} FixtureHeader;

/* The discriminator's inputs in a batch: packs of h->pack samples. */
int fixture_packs(const FixtureHeader *h);
int fixture_pack(const FixtureHeader *h);

/* One header line into h; 0 if key is not a header key. */
int fixture_header_key(FixtureHeader *h, const char *key, const char *value, const char *path);

/* Labels sections: a conditional model's fixture has both. */
enum { FIXTURE_LABELS_REAL = 1, FIXTURE_LABELS_FAKE = 2, FIXTURE_LABELS_BOTH = 3 };
/* Section key of count lines if it is `labels_real` or `labels_fake` (after
   the header, so h is complete): h->batch labels, each checked to be the
   formula's label of its stream, which is what the tests pass. Which of
   the two it was, or 0 (nothing read) for another section. */
int fixture_labels_section(FixtureReader *r, const char *key, int count, const FixtureHeader *h);

/* A fixture's name, its file's without ".txt": the parameter of the suites'
   test instances. */
typedef struct FixtureName {
  char name[64];
} FixtureName;

/* One test instance per DIR/NAME.txt, in glob's order: every one, or those
   for which keep(path, kind) holds. */
struct criterion_test_params fixture_names_in(const char *dir, int (*keep)(const char *path, int kind), int kind);

/* Scalar i of a float (size 4) or double (size 8) array, as double. */
void scalar_store(void *buf, int size, int64_t i, double v);
double scalar_load(const void *buf, int size, int64_t i);
/* n zeroed scalars (at least one); a failed assertion if out of memory. */
void *scalar_alloc(int size, int64_t n);
/* The n values of v as scalars of size bytes, in a fresh array. */
void *scalars_from(int size, const double *v, int64_t n);

#endif
