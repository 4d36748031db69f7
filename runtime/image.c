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

/* ---- Line plots ---- */

enum {
  FONT_ROWS = 9,            /* 7 rows above the baseline, 2 below it */
  FONT_ASCENT = 7,
  PLOT_TICK = 4,            /* tick marks' length, outwards */
  PLOT_PAD = 8,             /* blank pixels at the picture's edges */
  PLOT_MARKER_ROWS = 60,    /* up to this many rows, a dot at each */
  TICK_SCALE = 1,           /* the font's magnification for tick labels */
  LABEL_SCALE = 2,          /* for the axis labels and the legend */
};

#define PLOT_BIG 1e300 /* larger values are left out, so ranges stay finite */

static const Rgb plot_text = {34, 34, 34};
static const Rgb plot_frame = {68, 68, 68};
static const Rgb plot_grid = {232, 232, 232};
/* matplotlib's first colours: blue, orange, green, red, purple, brown, pink, gray. */
static const Rgb plot_colours[GANC_PLOT_MAX_LINES] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40},
    {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127}};

void ganc_plot_colour(int i, unsigned char rgb[3])
{
  Rgb c = plot_colours[((i % GANC_PLOT_MAX_LINES) + GANC_PLOT_MAX_LINES) % GANC_PLOT_MAX_LINES];
  rgb[0] = c.r;
  rgb[1] = c.g;
  rgb[2] = c.b;
}

/* A glyph: up to FONT_ROWS rows of '#' (ink) and '.', all as wide as the
   first; rows left out are blank. The baseline is under row 6. */
typedef struct Glyph {
  char c;
  const char *rows[FONT_ROWS];
} Glyph;

static const Glyph font[] = {
    {' ', {"...", "...", "...", "...", "...", "...", "..."}},
    {'0', {".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."}},
    {'1', {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."}},
    {'2', {".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"}},
    {'3', {".###.", "#...#", "....#", "..##.", "....#", "#...#", ".###."}},
    {'4', {"...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."}},
    {'5', {"#####", "#....", "####.", "....#", "....#", "#...#", ".###."}},
    {'6', {"..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."}},
    {'7', {"#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."}},
    {'8', {".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."}},
    {'9', {".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."}},
    {'.', {"..", "..", "..", "..", "..", "##", "##"}},
    {',', {"..", "..", "..", "..", "..", ".#", ".#", "#."}},
    {':', {"..", "..", "##", "##", "..", "##", "##"}},
    {'-', {"....", "....", "....", "####", "....", "....", "...."}},
    {'+', {".....", ".....", "..#..", "..#..", "#####", "..#..", "..#.."}},
    {'_', {".....", ".....", ".....", ".....", ".....", ".....", ".....", "#####"}},
    {'/', {"....#", "...#.", "...#.", "..#..", ".#...", ".#...", "#...."}},
    {'(', {"..#", ".#.", "#..", "#..", "#..", ".#.", "..#"}},
    {')', {"#..", ".#.", "..#", "..#", "..#", ".#.", "#.."}},
    {'%', {"##..#", "##.#.", "...#.", "..#..", ".#...", ".#.##", "#..##"}},
    {'a', {".....", ".....", ".###.", "....#", ".####", "#...#", ".####"}},
    {'b', {"#....", "#....", "####.", "#...#", "#...#", "#...#", "####."}},
    {'c', {"....", "....", ".###", "#...", "#...", "#...", ".###"}},
    {'d', {"....#", "....#", ".####", "#...#", "#...#", "#...#", ".####"}},
    {'e', {".....", ".....", ".###.", "#...#", "#####", "#....", ".###."}},
    {'f', {"..##", ".#..", "####", ".#..", ".#..", ".#..", ".#.."}},
    {'g', {".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", ".###."}},
    {'h', {"#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
    {'i', {".#.", "...", "##.", ".#.", ".#.", ".#.", "###"}},
    {'j', {"...#", "....", "..##", "...#", "...#", "...#", "...#", "#..#", ".##."}},
    {'k', {"#...", "#...", "#..#", "#.#.", "##..", "#.#.", "#..#"}},
    {'l', {"##.", ".#.", ".#.", ".#.", ".#.", ".#.", "###"}},
    {'m', {".....", ".....", "##.#.", "#.#.#", "#.#.#", "#.#.#", "#.#.#"}},
    {'n', {".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"}},
    {'o', {".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."}},
    {'p', {".....", ".....", "####.", "#...#", "#...#", "#...#", "####.", "#....", "#...."}},
    {'q', {".....", ".....", ".####", "#...#", "#...#", "#...#", ".####", "....#", "....#"}},
    {'r', {"....", "....", "#.##", "##..", "#...", "#...", "#..."}},
    {'s', {"....", "....", ".###", "#...", ".##.", "...#", "###."}},
    {'t', {".#..", ".#..", "####", ".#..", ".#..", ".#..", "..##"}},
    {'u', {".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"}},
    {'v', {".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."}},
    {'w', {".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."}},
    {'x', {".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"}},
    {'y', {".....", ".....", "#...#", "#...#", "#...#", "#...#", ".####", "....#", ".###."}},
    {'z', {".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"}},
};

/* Characters the font lacks are drawn as a space. */
static const Glyph *glyph(char c)
{
  for (size_t i = 0; i < sizeof font / sizeof font[0]; i++)
    if (font[i].c == c)
      return &font[i];
  return &font[0];
}

static int glyph_width(const Glyph *g)
{
  return (int)strlen(g->rows[0]);
}

/* Pixels from the first ink to the last, one blank column between glyphs. */
static int text_width(const char *s, int scale)
{
  int w = 0;
  for (; *s; s++)
    w += glyph_width(glyph(*s)) + 1;
  return w > 0 ? (w - 1) * scale : 0;
}

/* An RGB picture with a clipping rectangle [x0, x1) × [y0, y1). */
typedef struct Canvas {
  unsigned char *px;
  int width, height;
  int x0, y0, x1, y1;
} Canvas;

static void canvas_put(const Canvas *c, int x, int y, Rgb colour)
{
  if (x < c->x0 || y < c->y0 || x >= c->x1 || y >= c->y1)
    return;
  unsigned char *p = c->px + ((size_t)y * (size_t)c->width + (size_t)x) * 3;
  p[0] = colour.r;
  p[1] = colour.g;
  p[2] = colour.b;
}

static void canvas_fill(const Canvas *c, int x, int y, int w, int h, Rgb colour)
{
  for (int j = 0; j < h; j++)
    for (int i = 0; i < w; i++)
      canvas_put(c, x + i, y + j, colour);
}

/* s with the top of its cells at y (horizontal, from x rightwards), or
   reading upwards with the top of its cells at the left, x, and its start
   at y (vertical). */
static void draw_text(const Canvas *c, int x, int y, const char *s, int scale, Rgb colour,
                      int vertical)
{
  int advance = 0;
  for (; *s; s++) {
    const Glyph *g = glyph(*s);
    int w = glyph_width(g);
    for (int r = 0; r < FONT_ROWS && g->rows[r]; r++)
      for (int k = 0; k < w; k++) {
        if (g->rows[r][k] != '#')
          continue;
        if (vertical)
          canvas_fill(c, x + r * scale, y - (advance + k + 1) * scale, scale, scale, colour);
        else
          canvas_fill(c, x + (advance + k) * scale, y + r * scale, scale, scale, colour);
      }
    advance += w + 1;
  }
}

/* A segment 2 pixels wide, clipped to the canvas's rectangle first (in
   double, so that far-off points are no trouble): Liang–Barsky. With dash
   not NULL, dashed: DASH_ON steps of the line drawn, DASH_OFF not, *dash
   counting on from one segment to the next. */
enum { DASH_ON = 7, DASH_OFF = 4 };

static void draw_segment(const Canvas *c, double ax, double ay, double bx, double by, Rgb colour,
                         int *dash)
{
  double t0 = 0, t1 = 1, dx = bx - ax, dy = by - ay;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {ax - (c->x0 - 1), (c->x1) - ax, ay - (c->y0 - 1), (c->y1) - ay};
  for (int i = 0; i < 4; i++) {
    if (p[i] == 0) {
      if (q[i] < 0)
        return;
      continue;
    }
    double t = q[i] / p[i];
    if (p[i] < 0 && t > t0)
      t0 = t;
    else if (p[i] > 0 && t < t1)
      t1 = t;
  }
  if (t0 > t1)
    return;
  int x = (int)lround(ax + t0 * dx - 0.5), y = (int)lround(ay + t0 * dy - 0.5);
  int xe = (int)lround(ax + t1 * dx - 0.5), ye = (int)lround(ay + t1 * dy - 0.5);
  int sx = x < xe ? 1 : -1, sy = y < ye ? 1 : -1;
  int ex = abs(xe - x), ey = -abs(ye - y), e = ex + ey;
  for (;;) { /* Bresenham, with a 2×2 brush */
    if (!dash || (*dash)++ % (DASH_ON + DASH_OFF) < DASH_ON)
      canvas_fill(c, x, y, 2, 2, colour);
    if (x == xe && y == ye)
      break;
    int e2 = 2 * e;
    if (e2 >= ey) {
      e += ey;
      x += sx;
    }
    if (e2 <= ex) {
      e += ex;
      y += sy;
    }
  }
}

/* A round dot of radius 2.5 pixels centred on (x, y), the 2×2 brush's
   centre. */
static void draw_marker(const Canvas *c, double x, double y, Rgb colour)
{
  if (!(x > c->x0 - 4 && x < c->x1 + 4 && y > c->y0 - 4 && y < c->y1 + 4))
    return;
  int cx = (int)lround(x - 0.5), cy = (int)lround(y - 0.5);
  for (int dy = -2; dy <= 3; dy++)
    for (int dx = -2; dx <= 3; dx++) {
      double ux = dx - 0.5, uy = dy - 0.5;
      if (ux * ux + uy * uy <= 7.5)
        canvas_put(c, cx + dx, cy + dy, colour);
    }
}

/* An axis: its range and ticks at the multiples of step inside it. */
typedef struct Axis {
  double lo, hi, step;
  int whole; /* ticks at whole numbers only */
} Axis;

static int usable(double v)
{
  return isfinite(v) && fabs(v) <= PLOT_BIG;
}

static void widen(double *lo, double *hi, double v)
{
  if (usable(v)) {
    *lo = fmin(*lo, v);
    *hi = fmax(*hi, v);
  }
}

/* lo..hi of the data, with a margin; around the value when there is only
   one, [0, 1] when there is none. */
static void axis_fit(Axis *a, double lo, double hi, double margin)
{
  if (!(lo <= hi)) {
    lo = 0;
    hi = 1;
  } else if (hi - lo <= 1e-9 * fmax(fabs(lo), fabs(hi))) {
    double pad = fabs(lo) * 0.05;
    if (!(pad >= 1e-200))
      pad = a->whole ? 1 : 0.5;
    if (a->whole && pad < 1)
      pad = 1;
    lo -= pad;
    hi += pad;
  } else {
    double span = hi - lo;
    lo -= span * margin;
    hi += span * margin;
  }
  a->lo = lo;
  a->hi = hi;
}

/* The next tick spacing of the 1, 2, 5 series after step. */
static double next_step(double step)
{
  double mag = pow(10, floor(log10(step) + 1e-9));
  double m = step / mag;
  return (m < 1.5 ? 2 : m < 3.5 ? 5 : 10) * mag;
}

/* The smallest spacing of the 1, 2, 5 series that makes at most max_ticks
   ticks. */
static void axis_ticks(Axis *a, int max_ticks)
{
  double raw = (a->hi - a->lo) / (max_ticks > 1 ? max_ticks - 1 : 1);
  double mag = pow(10, floor(log10(raw)));
  double m = raw / mag;
  a->step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * mag;
  if (!(a->step > 0) || !isfinite(a->step))
    a->step = 1;
  if (a->whole && a->step < 1)
    a->step = 1;
}

/* The first tick, and how many there are (at most 64). */
static int axis_count(const Axis *a, double *first)
{
  double k = ceil(a->lo / a->step - 1e-9);
  int n = 0;
  while (n < 64 && (k + n) * a->step <= a->hi + 1e-9 * a->step)
    n++;
  *first = k;
  return n;
}

static double tick_value(const Axis *a, double k)
{
  double v = k * a->step;
  return fabs(v) < a->step * 1e-6 ? 0 : v; /* no "-0" */
}

/* A tick's text: as many decimals as the spacing needs, or for very large
   or small numbers a mantissa and exponent ("2.5e-7"). */
static void tick_label(char *buf, size_t len, double v, double step)
{
  if (fmax(fabs(v), step) < 1e6 && step >= 1e-4) {
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, len, "%.*f", decimals, v);
    return;
  }
  if (v == 0) {
    snprintf(buf, len, "0");
    return;
  }
  int digits = (int)floor(log10(fabs(v)) + 1e-9) - (int)floor(log10(step) + 1e-9);
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%.*e", digits > 0 ? (digits < 15 ? digits : 15) : 0, v);
  /* 1.5e+07 -> 1.5e7, 2e-05 -> 2e-5 */
  char *e = strchr(tmp, 'e'), *out = buf;
  size_t used = 0;
  for (char *s = tmp; *s && used + 1 < len; s++) {
    if (e && s > e && (*s == '+' || (*s == '0' && (s[-1] == 'e' || s[-1] == '-' || s[-1] == '+') &&
                                     s[1] != 0)))
      continue;
    out[used++] = *s;
  }
  out[used] = 0;
}

/* The widest tick label of an axis. */
static int axis_label_width(const Axis *a, int scale)
{
  double first;
  int n = axis_count(a, &first), w = 0;
  for (int i = 0; i < n; i++) {
    char buf[64];
    tick_label(buf, sizeof buf, tick_value(a, first + i), a->step);
    int tw = text_width(buf, scale);
    w = tw > w ? tw : w;
  }
  return w;
}

/* The pixel of a value: x from left to right, y from bottom to top. */
static double to_px(const Axis *a, double v, int from, int to)
{
  return from + (v - a->lo) / (a->hi - a->lo) * (to - from);
}

int ganc_png_plot(const char *path, const ganc_plot *p, char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  if (!p || p->n < 0 || (p->n > 0 && !p->x) || p->nlines < 0 || p->nlines > GANC_PLOT_MAX_LINES ||
      (p->nlines > 0 && !p->lines)) {
    ganc_seterr(err, errlen, "%s: internal error: a bad plot", path);
    return -1;
  }
  for (int l = 0; l < p->nlines; l++)
    if (p->n > 0 && !p->lines[l].y) {
      ganc_seterr(err, errlen, "%s: internal error: line %d has no values", path, l);
      return -1;
    }
  enum { W = GANC_PLOT_WIDTH, H = GANC_PLOT_HEIGHT };
  size_t bytes = (size_t)W * H * 3;
  unsigned char *img = malloc(bytes);
  if (!img) {
    ganc_seterr(err, errlen, "%s: out of memory", path);
    return -1;
  }
  memset(img, 255, bytes);
  Canvas all = {img, W, H, 0, 0, W, H};

  /* The ranges. */
  int has_y2 = p->y2_label != NULL, fixed_y2 = has_y2 && p->y2_lo < p->y2_hi;
  Axis ax = {.whole = p->x_whole}, ay = {0}, ay2 = {0};
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY, y2lo = INFINITY, y2hi = -INFINITY;
  for (int i = 0; i < p->n; i++) {
    if (!usable(p->x[i]))
      continue;
    widen(&xlo, &xhi, p->x[i]);
    for (int l = 0; l < p->nlines; l++) {
      if (has_y2 && p->lines[l].right)
        widen(&y2lo, &y2hi, p->lines[l].y[i]);
      else
        widen(&ylo, &yhi, p->lines[l].y[i]);
    }
  }
  axis_fit(&ax, xlo, xhi, 0.02);
  axis_fit(&ay, ylo, yhi, 0.06);
  if (fixed_y2) { /* the range with the same margin, so that lines at its ends stay off the frame */
    double span = p->y2_hi - p->y2_lo;
    ay2.lo = p->y2_lo - 0.04 * span;
    ay2.hi = p->y2_hi + 0.04 * span;
  } else {
    axis_fit(&ay2, y2lo, y2hi, 0.06);
  }

  /* The layout: the legend on top; below the plot area the tick labels and
     the x label; on the left (and right) the y labels and tick labels. */
  int label_h = FONT_ASCENT * LABEL_SCALE, tick_h = FONT_ASCENT * TICK_SCALE;
  int top = GANC_PLOT_LEGEND_HEIGHT + 6;
  int bottom = H - 1 - (PLOT_PAD + label_h + 8 + tick_h + 4 + PLOT_TICK);
  axis_ticks(&ay, (bottom - top) / 45 + 1);
  if (has_y2)
    axis_ticks(&ay2, (bottom - top) / 45 + 1);
  int left = PLOT_PAD + label_h + 10 + axis_label_width(&ay, TICK_SCALE) + 4 + PLOT_TICK;
  int right = W - 1 - (has_y2 ? PLOT_PAD + label_h + 10 + axis_label_width(&ay2, TICK_SCALE) + 4 + PLOT_TICK
                              : PLOT_PAD + 12);
  axis_ticks(&ax, (right - left) / 70 + 1);
  for (int guard = 0; guard < 8; guard++) { /* x labels must not touch */
    double first;
    int n = axis_count(&ax, &first);
    double gap = ax.step / (ax.hi - ax.lo) * (right - left);
    if (n < 2 || axis_label_width(&ax, TICK_SCALE) + 12 <= gap)
      break;
    ax.step = next_step(ax.step);
  }

  /* Grid lines, the frame, the ticks and their labels. */
  double first;
  int n = axis_count(&ax, &first);
  for (int i = 0; i < n; i++) {
    double v = tick_value(&ax, first + i);
    int px = (int)lround(to_px(&ax, v, left, right));
    canvas_fill(&all, px, top + 1, 1, bottom - top - 1, plot_grid);
    canvas_fill(&all, px, bottom + 1, 1, PLOT_TICK, plot_frame);
    char buf[64];
    tick_label(buf, sizeof buf, v, ax.step);
    draw_text(&all, px - text_width(buf, TICK_SCALE) / 2, bottom + PLOT_TICK + 4, buf, TICK_SCALE, plot_text, 0);
  }
  for (int side = 0; side < (has_y2 ? 2 : 1); side++) {
    const Axis *a = side ? &ay2 : &ay;
    n = axis_count(a, &first);
    for (int i = 0; i < n; i++) {
      double v = tick_value(a, first + i);
      int py = (int)lround(to_px(a, v, bottom, top));
      if (side == 0)
        canvas_fill(&all, left + 1, py, right - left - 1, 1, plot_grid);
      char buf[64];
      tick_label(buf, sizeof buf, v, a->step);
      int tw = text_width(buf, TICK_SCALE);
      if (side == 0) {
        canvas_fill(&all, left - PLOT_TICK, py, PLOT_TICK, 1, plot_frame);
        draw_text(&all, left - PLOT_TICK - 4 - tw, py - tick_h / 2, buf, TICK_SCALE, plot_text, 0);
      } else {
        canvas_fill(&all, right + 1, py, PLOT_TICK, 1, plot_frame);
        draw_text(&all, right + PLOT_TICK + 4, py - tick_h / 2, buf, TICK_SCALE, plot_text, 0);
      }
    }
  }
  canvas_fill(&all, left, top, right - left + 1, 1, plot_frame);
  canvas_fill(&all, left, bottom, right - left + 1, 1, plot_frame);
  canvas_fill(&all, left, top, 1, bottom - top + 1, plot_frame);
  canvas_fill(&all, right, top, 1, bottom - top + 1, plot_frame);
  if (p->x_label)
    draw_text(&all, (left + right) / 2 - text_width(p->x_label, LABEL_SCALE) / 2, H - PLOT_PAD - label_h - 1,
              p->x_label, LABEL_SCALE, plot_text, 0);
  if (p->y_label)
    draw_text(&all, PLOT_PAD, (top + bottom) / 2 + text_width(p->y_label, LABEL_SCALE) / 2, p->y_label,
              LABEL_SCALE, plot_text, 1);
  if (has_y2)
    draw_text(&all, W - PLOT_PAD - label_h, (top + bottom) / 2 + text_width(p->y2_label, LABEL_SCALE) / 2,
              p->y2_label, LABEL_SCALE, plot_text, 1);

  /* The lines, inside the frame: the right axis's first, under the others. */
  Canvas area = {img, W, H, left + 1, top + 1, right, bottom};
  int rows = 0;
  for (int i = 0; i < p->n; i++)
    rows += usable(p->x[i]);
  for (int pass = 0; pass < 2; pass++)
    for (int l = 0; l < p->nlines; l++) {
      const ganc_plot_line *line = &p->lines[l];
      int on_right = has_y2 && line->right;
      if (on_right != (pass == 0))
        continue;
      const Axis *a = on_right ? &ay2 : &ay;
      Rgb colour = plot_colours[l];
      int prev = -1; /* the last row with a value, while the line is unbroken */
      int dash = 0;
      for (int i = 0; i < p->n; i++) {
        if (!usable(p->x[i]))
          continue;
        double v = line->y[i];
        if (!usable(v)) {
          prev = -1;
          continue;
        }
        double px = to_px(&ax, p->x[i], left, right), py = to_px(a, v, bottom, top);
        if (prev >= 0)
          draw_segment(&area, to_px(&ax, p->x[prev], left, right), to_px(a, line->y[prev], bottom, top), px, py,
                       colour, on_right ? &dash : NULL);
        /* A dot at every row while they are few, and always for a point
           with no neighbour to join. */
        int next = i + 1;
        while (next < p->n && !usable(p->x[next]))
          next++;
        int alone = prev < 0 && (next >= p->n || !usable(line->y[next]));
        if (rows <= PLOT_MARKER_ROWS || alone)
          draw_marker(&area, px, py, colour);
        prev = i;
      }
    }

  /* The legend, centred above the plot area, wrapped if it is too wide. */
  enum { SWATCH = 22, SWATCH_GAP = 6, ENTRY_GAP = 20 };
  int widths[GANC_PLOT_MAX_LINES], total = 0, row_starts[GANC_PLOT_MAX_LINES + 1], nrows_legend = 0;
  for (int l = 0; l < p->nlines; l++) {
    widths[l] = SWATCH + SWATCH_GAP + text_width(p->lines[l].name ? p->lines[l].name : "", LABEL_SCALE);
    if (l > 0 && total + ENTRY_GAP + widths[l] > right - left) {
      row_starts[nrows_legend++] = l;
      total = 0;
    }
    if (l == 0)
      row_starts[nrows_legend++] = 0;
    total += (total ? ENTRY_GAP : 0) + widths[l];
  }
  row_starts[nrows_legend] = p->nlines;
  int row_h = label_h + 6, y0 = (GANC_PLOT_LEGEND_HEIGHT - nrows_legend * row_h) / 2 + 3;
  for (int r = 0; r < nrows_legend; r++) {
    int w = 0;
    for (int l = row_starts[r]; l < row_starts[r + 1]; l++)
      w += (l > row_starts[r] ? ENTRY_GAP : 0) + widths[l];
    int x = (left + right) / 2 - w / 2, y = y0 + r * row_h;
    for (int l = row_starts[r]; l < row_starts[r + 1]; l++) {
      Rgb colour = plot_colours[l];
      Canvas band = {img, W, H, 0, 0, W, GANC_PLOT_LEGEND_HEIGHT};
      int dash = 0;
      draw_segment(&band, x, y + label_h / 2 - 1, x + SWATCH - 1, y + label_h / 2 - 1, colour,
                   has_y2 && p->lines[l].right ? &dash : NULL);
      draw_marker(&band, x + SWATCH / 2 + 1, y + label_h / 2, colour);
      draw_text(&band, x + SWATCH + SWATCH_GAP, y, p->lines[l].name ? p->lines[l].name : "", LABEL_SCALE,
                plot_text, 0);
      x += widths[l] + ENTRY_GAP;
    }
  }

  int rc = write_png(path, W, H, 3, img, err, errlen);
  free(img);
  return rc;
}
