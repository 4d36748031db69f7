/* io.h — the runtime's internal file helpers, one section per file: atomic
 * writes and whole-file reads (safetensors.c, whose weights and checkpoint
 * calls are public in ganc.h), training data sets (data.c) and PNG output
 * (image.c).
 *
 * Calls that take err/errlen report failure by their return value (-1 or
 * NULL) and a message in err, NUL-terminated and cut to errlen like snprintf;
 * they set err to "" when they succeed, except where noted. None aborts. */
#ifndef GANC_IO_H
#define GANC_IO_H

#include <stdint.h>
#include <stdio.h>

#include "ganc.h"

/* ---- safetensors.c: atomic writes and the runtime's helpers ----
   (its weights and checkpoint calls are public, in ganc.h) */

/* A file being written as PATH.tmp, to be renamed over PATH on commit. */
typedef struct ganc_atomic {
  FILE *f;
  char *path, *tmp;
} ganc_atomic;

/* Create PATH.tmp for writing into a->f. 0, or -1 with a message. */
int ganc_atomic_open(ganc_atomic *a, const char *path, char *err, size_t errlen);
/* Flush, fsync, close, rename over PATH, fsync the directory; on failure the
   temporary is removed and PATH untouched, except when only the final sync
   of the directory fails (PATH is then replaced). Frees a either way. 0 or -1. */
int ganc_atomic_commit(ganc_atomic *a, char *err, size_t errlen);
/* Give up: close and remove the temporary, free a. */
void ganc_atomic_abort(ganc_atomic *a);

/* Format a message into err (nothing if err is NULL or errlen 0). */
void ganc_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Read a whole file ("-" is standard input) into *data (malloc'd, with a
   NUL after the *len bytes). 0, or -1 with a message and errno saying why
   (ENOMEM when memory ran out). */
int ganc_read_file(const char *path, unsigned char **data, size_t *len, char *err,
                   size_t errlen);
/* The same, but reading no more than max bytes: a longer file comes back
   cut to its first max bytes (*len == max). */
int ganc_read_file_max(const char *path, size_t max, unsigned char **data, size_t *len,
                       char *err, size_t errlen);
/* v in the fewest significant digits (%g) that read back as v exactly. */
void ganc_format_real(char *buf, size_t len, double v);
/* Whether s ends with suffix. */
int ganc_ends_with(const char *s, const char *suffix);
/* Seconds on the monotonic clock (CLOCK_MONOTONIC), for durations. */
double ganc_seconds(void);
/* Format a shape as users see it, "[1, 28, 28]", cut to len like snprintf. */
void ganc_format_shape(char *buf, size_t len, const int64_t *dims, int rank);

/* ---- data.c: training data ---- */

typedef struct ganc_data ganc_data;

/* spec: "ring8", "grid25", "fashion-mnist" (the file named by the environment
   variable GANC_FASHION_MNIST, by default Debian's dataset-fashion-mnist
   training images), or a path ending in .idx, .idx.gz or .csv. The samples
   must fit info's observation: the same element count, and the same dims
   once dimensions of 1 are dropped from both (any dims for a 1-D observation
   and for CSV rows, which have no shape). NULL with a message on failure. */
ganc_data *ganc_data_open(const char *spec, const ganc_info *info, char *err, size_t errlen);
/* The same with labels for a conditional model (info->classes > 0): ring8
   and grid25 label each sample with its mode; fashion-mnist reads the
   labels file named by GANC_FASHION_MNIST_LABELS (by default Debian's
   training labels); a CSV's first column is the label; an IDX file takes
   its labels from labels_path (IDX of unsigned bytes or 32-bit integers,
   .idx or .idx.gz, one per sample). Every label must lie in
   [0, info->classes): an error names the file and the row (counting from
   1). labels_path for an unconditional model, labelled data missing for a
   conditional one, or a count that differs from the samples' is an error
   naming the files. For an unconditional model with labels_path NULL this
   is ganc_data_open. */
ganc_data *ganc_data_open_labels(const char *spec, const char *labels_path, const ganc_info *info, char *err,
                                 size_t errlen);
/* Classes of labelled data (what ganc_data_open_labels was given in
   info->classes); 0 for unlabelled data. */
int ganc_data_classes(const ganc_data *d);
/* Names of the classes for display (fashion-mnist: "t-shirt/top", ...),
   ganc_data_classes of them; NULL when the data set has none. */
const char *const *ganc_data_class_names(const ganc_data *d);
/* Samples in a file; 0 for ring8 and grid25 (unbounded). */
int64_t ganc_data_count(const ganc_data *d);
/* n samples into out (info->obs_size scalars each, model's scalar type):
   file data uniformly with replacement, mixtures a uniform centre plus
   sigma times a standard normal per coordinate. Labelled data writes each
   sample's label into labels (n ints) unless it is NULL; the labels take
   no draws of their own, so the samples do not depend on whether they are
   asked for. */
void ganc_data_batch(ganc_data *d, ganc_rng *r, int n, void *out, int *labels);
/* Mixture centres (x, y pairs) and sigma; the number of modes, 0 for files. */
int ganc_data_modes(const ganc_data *d, const double **centres, double *sigma);
/* PacGAN's criterion on n 2-D samples: high quality within 3 sigma of the
   nearest centre; a mode covered by >= 20 high-quality samples nearest it.
   Both 0 for file data or n <= 0. */
void ganc_mode_coverage(const ganc_data *d, const void *samples, int scalar_size, int n,
                        int *modes_covered, double *high_quality_share);
/* A conditional mixture's criterion: for each label k < classes, the share
   of the samples drawn for label k (labels[i] == k) whose nearest centre is
   mode k, into share[k]; NaN for a label no sample has. Mixtures only:
   -1 for file data, else 0. */
int ganc_label_accuracy(const ganc_data *d, const void *samples, int scalar_size, const int *labels, int n,
                        int classes, double *share);
/* Free what ganc_data_open made; NULL is allowed. */
void ganc_data_free(ganc_data *d);

/* ---- image.c: PNG output, written atomically ---- */

/* n images of c×h×w scalars (c = 1 gray, 3 RGB; [-1, 1] to 0..255, clamped)
   in a grid of ceil(sqrt(n)) columns with 2-pixel white gaps, upscaled by an
   integer factor to be at least about 256 pixels wide. 0 or -1. */
int ganc_png_grid(const char *path, const void *samples, int scalar_size, int n,
                  int c, int h, int w, char *err, size_t errlen);
/* One row per class: classes rows of per_class images each (samples hold
   them row by row, class 0's first), each row headed on the left by its
   name (names[k], or the number k when names or names[k] is NULL) in the
   built-in font, with the same scaling, gaps and pixel mapping as
   ganc_png_grid: the picture is the grid ganc_png_grid draws of per_class
   columns, with a white margin on its left as wide as the longest name and
   some padding. 0 or -1. */
int ganc_png_class_grid(const char *path, const void *samples, int scalar_size, int classes, int per_class, int c,
                        int h, int w, const char *const *names, char *err, size_t errlen);
/* 512×512 scatter plot of n 2-D points (dark blue) over nref reference points
   ref (x, y doubles, light orange; may be 0/NULL), white background, light
   grid lines at integer coordinates, view fitted to all points. 0 or -1. */
int ganc_png_scatter(const char *path, const void *points, int scalar_size, int n,
                     const double *ref, int nref, char *err, size_t errlen);
/* The same with each point coloured by its label (labels[i] in [0,
   classes), classes <= GANC_SCATTER_MAX_CLASSES) and a legend of the
   colours with the labels' numbers along the top edge, above the points. */
enum { GANC_SCATTER_MAX_CLASSES = 32 };
int ganc_png_scatter_labels(const char *path, const void *points, int scalar_size, int n, const int *labels,
                            int classes, const double *ref, int nref, char *err, size_t errlen);
/* The colour ganc_png_scatter_labels gives label k, in the plot and its
   legend (label 0's is ganc_png_scatter's dark blue). */
void ganc_scatter_colour(int k, unsigned char rgb[3]);

/* A line plot, GANC_PLOT_WIDTH × GANC_PLOT_HEIGHT RGB: white, a framed
   plot area with light grid lines, tick marks and numeric tick labels on
   both axes, the axis labels, and the legend above the plot area (in its
   top GANC_PLOT_LEGEND_HEIGHT rows). Text is drawn with a built-in bitmap
   font: digits, lowercase letters, space and . - + _ / ( ) % : , only. */
enum { GANC_PLOT_WIDTH = 640, GANC_PLOT_HEIGHT = 400, GANC_PLOT_LEGEND_HEIGHT = 30,
       GANC_PLOT_MAX_LINES = 8 };

typedef struct ganc_plot_line {
  const char *name; /* in the legend */
  const double *y;  /* one value per x; a NaN or infinite value is a gap in the line */
  int right;        /* on the right-hand axis */
} ganc_plot_line;

typedef struct ganc_plot {
  const double *x;  /* n values, increasing; a row whose x is not finite is left out */
  int n;            /* 0 draws the axes alone */
  int x_whole;      /* x values are whole numbers: no fractional ticks */
  const ganc_plot_line *lines;
  int nlines;       /* at most GANC_PLOT_MAX_LINES */
  const char *x_label, *y_label;
  const char *y2_label; /* the right-hand axis, for the lines with right set; NULL: none */
  double y2_lo, y2_hi;  /* its range; equal: fitted to its lines like the left axis */
} ganc_plot;

/* Both axes are fitted to the finite values with a small margin (a single
   row or a constant line gets a range around its value). Each line is
   drawn 2 pixels wide in its colour (dashed on the right-hand axis), with a
   dot at every row while there are few rows, and a lone point between gaps
   always gets its dot. 0 or -1. */
int ganc_png_plot(const char *path, const ganc_plot *plot, char *err, size_t errlen);
/* The colour ganc_png_plot draws line i in, and its legend entry. */
void ganc_plot_colour(int i, unsigned char rgb[3]);

#endif
