/* image.c — PNG pictures of what a model makes: grids of generated images and
 * scatter plots of 2-D samples over the data, written with libpng, atomically
 * (a reader never sees half a picture). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "io.h"
#include "scalar.h"

enum {
  GRID_GAP = 2,        /* pixels between images and around them */
  GRID_MIN_WIDTH = 256,
  PNG_MAX_SIDE = 1 << 16,
  SCATTER_SIZE = 512,
  SCATTER_MIN_GRID_PX = 8, /* grid lines closer than this are thinned */
};

#define PNG_MAX_BYTES ((int64_t)1 << 30)

typedef struct Rgb {
  unsigned char r, g, b;
} Rgb;

static const Rgb grid_line = {228, 228, 228};
static const Rgb axis_line = {190, 190, 190};
static const Rgb ref_colour = {253, 187, 120};   /* light orange */
static const Rgb point_colour = {24, 52, 150};   /* dark blue */

/* ---- Writing a PNG ---- */

/* libpng reports errors by calling this, which must not return: the message
   is kept and control goes back to encode_png's setjmp. */
static void on_png_error(png_structp png, png_const_charp msg)
{
  char *keep = png_get_error_ptr(png);
  snprintf(keep, 200, "%s", msg);
  png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
  (void)png;
  (void)msg;
}

/* Nothing that changes after setjmp is read after a longjmp. */
static int encode_png(FILE *f, int width, int height, int channels,
                      const unsigned char *pixels, char msg[200])
{
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, msg, on_png_error,
                                            on_png_warning);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    snprintf(msg, 200, "out of memory");
    png_destroy_write_struct(&png, NULL);
    return -1;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return -1;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; y++)
    png_write_row(png, pixels + (size_t)y * (size_t)width * (size_t)channels);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return 0;
}

static int write_png(const char *path, int width, int height, int channels,
                     const unsigned char *pixels, char *err, size_t errlen)
{
  ganc_atomic a;
  char msg[200] = "";
  if (ganc_atomic_open(&a, path, err, errlen))
    return -1;
  if (encode_png(a.f, width, height, channels, pixels, msg)) {
    ganc_seterr(err, errlen, "cannot write '%s': %s", path, msg);
    ganc_atomic_abort(&a);
    return -1;
  }
  return ganc_atomic_commit(&a, err, errlen);
}

/* ---- Image grids ---- */

static unsigned char to_byte(double v)
{
  double b = (v + 1) * 127.5;
  if (!(b > 0)) /* also NaN */
    return 0;
  if (b >= 255)
    return 255;
  return (unsigned char)lround(b);
}

int ganc_png_grid(const char *path, const void *samples, int scalar_size, int n,
                  int c, int h, int w, char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  if (n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 ||
      (scalar_size != 4 && scalar_size != 8) || !samples) {
    ganc_seterr(err, errlen, "%s: cannot draw %d images of %d×%d×%d (channels must be 1 or 3)",
           path, n, c, h, w);
    return -1;
  }
  int64_t cols = 1;
  while (cols * cols < n)
    cols++;
  int64_t rows = (n + cols - 1) / cols;
  int64_t gaps_w = (cols + 1) * GRID_GAP, gaps_h = (rows + 1) * GRID_GAP;
  int64_t scale = 1;
  if ((int64_t)w * cols + gaps_w < GRID_MIN_WIDTH)
    scale = (GRID_MIN_WIDTH - gaps_w + (int64_t)w * cols - 1) / ((int64_t)w * cols);
  int64_t width = cols * w * scale + gaps_w, height = rows * h * scale + gaps_h;
  if (width > PNG_MAX_SIDE || height > PNG_MAX_SIDE || width * height * c > PNG_MAX_BYTES) {
    ganc_seterr(err, errlen, "%s: a grid of %d images of %d×%d would be %lld×%lld pixels,"
           " too large", path, n, h, w, (long long)width, (long long)height);
    return -1;
  }
  unsigned char *pixels = malloc((size_t)(width * height * c));
  if (!pixels) {
    ganc_seterr(err, errlen, "%s: out of memory", path);
    return -1;
  }
  memset(pixels, 255, (size_t)(width * height * c));
  int64_t plane = (int64_t)h * w;
  for (int64_t i = 0; i < n; i++) {
    int64_t x0 = GRID_GAP + (i % cols) * (w * scale + GRID_GAP);
    int64_t y0 = GRID_GAP + (i / cols) * (h * scale + GRID_GAP);
    for (int64_t y = 0; y < h * scale; y++) {
      unsigned char *row = pixels + ((y0 + y) * width + x0) * c;
      for (int64_t x = 0; x < w * scale; x++)
        for (int k = 0; k < c; k++)
          row[x * c + k] = to_byte(ganc_scalar_load(
              samples, scalar_size, (i * c + k) * plane + (y / scale) * w + x / scale));
    }
  }
  int rc = write_png(path, (int)width, (int)height, c, pixels, err, errlen);
  free(pixels);
  return rc;
}

/* ---- Scatter plots ---- */

typedef struct View {
  double x0, y0, unit; /* lower left corner; pixels per unit */
} View;

static void put_pixel(unsigned char *img, int x, int y, Rgb colour)
{
  if (x < 0 || y < 0 || x >= SCATTER_SIZE || y >= SCATTER_SIZE)
    return;
  unsigned char *p = img + ((size_t)y * SCATTER_SIZE + (size_t)x) * 3;
  p[0] = colour.r;
  p[1] = colour.g;
  p[2] = colour.b;
}

static void dot(unsigned char *img, const View *v, double x, double y, int radius,
                Rgb colour)
{
  double px = (x - v->x0) * v->unit, py = (SCATTER_SIZE - 1) - (y - v->y0) * v->unit;
  if (!(px > -radius - 1 && px < SCATTER_SIZE + radius && py > -radius - 1 &&
        py < SCATTER_SIZE + radius))
    return; /* off the picture, or not finite */
  int cx = (int)lround(px), cy = (int)lround(py);
  for (int dy = -radius; dy <= radius; dy++)
    for (int dx = -radius; dx <= radius; dx++)
      if (dx * dx + dy * dy <= radius * radius + radius)
        put_pixel(img, cx + dx, cy + dy, colour);
}

static void include(double *lo, double *hi, double x, double y)
{
  if (!isfinite(x) || !isfinite(y))
    return;
  lo[0] = fmin(lo[0], x);
  lo[1] = fmin(lo[1], y);
  hi[0] = fmax(hi[0], x);
  hi[1] = fmax(hi[1], y);
}

/* A square view around every finite point, with a tenth of a margin. */
static View fit_view(const void *points, int scalar_size, int n, const double *ref, int nref)
{
  double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
  for (int i = 0; i < n; i++)
    include(lo, hi, ganc_scalar_load(points, scalar_size, 2 * (int64_t)i),
            ganc_scalar_load(points, scalar_size, 2 * (int64_t)i + 1));
  for (int i = 0; i < nref; i++)
    include(lo, hi, ref[2 * i], ref[2 * i + 1]);
  double cx = (lo[0] + hi[0]) / 2, cy = (lo[1] + hi[1]) / 2;
  double half = fmax(hi[0] - lo[0], hi[1] - lo[1]) / 2 * 1.1;
  if (!(lo[0] <= hi[0]) || !isfinite(cx) || !isfinite(cy) || !isfinite(half)) {
    cx = cy = 0;
    half = 1;
  }
  if (half < 1e-9 * fmax(1, fmax(fabs(cx), fabs(cy))))
    half = fmax(1, fmax(fabs(cx), fabs(cy)) * 0.1);
  return (View){cx - half, cy - half, (SCATTER_SIZE - 1) / (2 * half)};
}

/* Lines at integer coordinates, every 1, 2, 5, 10, 20, ... units so that
   they stay apart; the axes a little darker. */
static void draw_grid(unsigned char *img, const View *v)
{
  double step = 1;
  for (int i = 0; step * v->unit < SCATTER_MIN_GRID_PX && i < 1000; i++)
    step *= i % 3 == 1 ? 2.5 : 2;
  double span = (SCATTER_SIZE - 1) / v->unit;
  for (int axis = 0; axis < 2; axis++) {
    double lo = axis == 0 ? v->x0 : v->y0, first = ceil(lo / step);
    for (int j = 0; j <= SCATTER_SIZE / SCATTER_MIN_GRID_PX + 1; j++) {
      double k = first + j;
      if (k * step > lo + span)
        break;
      Rgb colour = k == 0 ? axis_line : grid_line;
      int p = (int)lround((k * step - lo) * v->unit);
      for (int t = 0; t < SCATTER_SIZE; t++) {
        if (axis == 0)
          put_pixel(img, p, t, colour);
        else
          put_pixel(img, t, SCATTER_SIZE - 1 - p, colour);
      }
    }
  }
}

int ganc_png_scatter(const char *path, const void *points, int scalar_size, int n,
                     const double *ref, int nref, char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  if (n < 0 || (n > 0 && !points) || (scalar_size != 4 && scalar_size != 8)) {
    ganc_seterr(err, errlen, "%s: cannot plot %d points of %d-byte scalars", path, n,
           scalar_size);
    return -1;
  }
  if (!ref || nref < 0)
    nref = 0;
  size_t bytes = (size_t)SCATTER_SIZE * SCATTER_SIZE * 3;
  unsigned char *img = malloc(bytes);
  if (!img) {
    ganc_seterr(err, errlen, "%s: out of memory", path);
    return -1;
  }
  memset(img, 255, bytes); /* white */
  View v = fit_view(points, scalar_size, n, ref, nref);
  draw_grid(img, &v);
  for (int i = 0; i < nref; i++)
    dot(img, &v, ref[2 * i], ref[2 * i + 1], 2, ref_colour);
  for (int i = 0; i < n; i++)
    dot(img, &v, ganc_scalar_load(points, scalar_size, 2 * (int64_t)i),
        ganc_scalar_load(points, scalar_size, 2 * (int64_t)i + 1), 2, point_colour);
  int rc = write_png(path, SCATTER_SIZE, SCATTER_SIZE, 3, img, err, errlen);
  free(img);
  return rc;
}
