/* image.c — PNG pictures of what a model makes: grids of generated images
 * (with a row per class for a conditional model), scatter plots of 2-D
 * samples over the data (coloured by label for a conditional model) and
 * line plots of the losses, written with libpng, atomically (a reader never
 * sees half a picture). Text comes from a small bitmap font of its own. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <limits.h>
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
  FONT_ROWS = 9,           /* 7 rows above the baseline, 2 below it */
  FONT_ASCENT = 7,
};

#define PNG_MAX_BYTES ((int64_t)1 << 30)

typedef struct Rgb {
  unsigned char r, g, b;
} Rgb;

static const Rgb grid_line = {228, 228, 228};
static const Rgb axis_line = {190, 190, 190};
static const Rgb ref_colour = {253, 187, 120};   /* light orange */
static const Rgb text_colour = {34, 34, 34};

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

/* ---- Text and drawing ---- */

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

/* Pixels from the first ink to the last, one blank column between glyphs
   (counting stops past PNG_MAX_SIDE, wider than any picture). */
static int text_width(const char *s, int scale)
{
  int w = 0;
  for (; *s && w <= PNG_MAX_SIDE; s++)
    w += glyph_width(glyph(*s)) + 1;
  return w > 0 ? (w - 1) * scale : 0;
}

/* A picture of 1 (gray) or 3 (RGB) channels with a clipping rectangle
   [x0, x1) × [y0, y1). */
typedef struct Canvas {
  unsigned char *px;
  int width, height, channels;
  int x0, y0, x1, y1;
} Canvas;

static void canvas_put(const Canvas *c, int x, int y, Rgb colour)
{
  if (x < c->x0 || y < c->y0 || x >= c->x1 || y >= c->y1)
    return;
  unsigned char *p = c->px + ((size_t)y * (size_t)c->width + (size_t)x) * (size_t)c->channels;
  if (c->channels == 1) { /* the colour's luma */
    p[0] = (unsigned char)((299 * colour.r + 587 * colour.g + 114 * colour.b + 500) / 1000);
    return;
  }
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

/* A round dot of radius r pixels centred on pixel (cx, cy). */
static void canvas_disc(const Canvas *c, int cx, int cy, int r, Rgb colour)
{
  for (int dy = -r; dy <= r; dy++)
    for (int dx = -r; dx <= r; dx++)
      if (dx * dx + dy * dy <= r * r + r)
        canvas_put(c, cx + dx, cy + dy, colour);
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

/* ---- Image grids ---- */

enum { CLASS_PAD = 8 }; /* blank pixels either side of a class's name */

static unsigned char to_byte(double v)
{
  double b = (v + 1) * 127.5;
  if (!(b > 0)) /* also NaN */
    return 0;
  if (b >= 255)
    return 255;
  return (unsigned char)lround(b);
}

/* Where a grid's images go: rows × cols cells of h×w images upscaled by
   scale, GRID_GAP pixels around each, right of a margin left pixels wide
   (the class grid's names). */
typedef struct Grid {
  int64_t rows, cols, scale, left;
  int c, h, w;
  int64_t width, height; /* the picture's, set by grid_fits */
} Grid;

/* What every grid asks of its images. */
static int grid_check(const char *path, const void *samples, int scalar_size, int c, int h, int w,
                      char *err, size_t errlen)
{
  if (c != 1 && c != 3) {
    ganc_seterr(err, errlen, "%s: cannot draw images of %d channels (1 for gray, 3 for RGB)", path, c);
    return -1;
  }
  if (h < 1 || w < 1) {
    ganc_seterr(err, errlen, "%s: cannot draw images of %d×%d pixels", path, h, w);
    return -1;
  }
  if ((scalar_size != 4 && scalar_size != 8) || !samples) {
    ganc_seterr(err, errlen, "%s: internal error: no samples, or %d-byte scalars", path, scalar_size);
    return -1;
  }
  return 0;
}

/* The integer factor that makes cols images w pixels wide, with their
   gaps, at least GRID_MIN_WIDTH pixels wide; 1 when they are already. */
static int64_t grid_scale(int64_t cols, int w)
{
  int64_t images = cols * w, gaps = (cols + 1) * GRID_GAP;
  if (images + gaps >= GRID_MIN_WIDTH)
    return 1;
  return (GRID_MIN_WIDTH - gaps + images - 1) / images;
}

/* The picture's size into g; -1 with a message when a side would pass
   PNG_MAX_SIDE or the pixels PNG_MAX_BYTES. */
static int grid_fits(Grid *g, const char *path, char *err, size_t errlen)
{
  /* Every factor bounded first, the products stay far inside int64_t. */
  int fits = g->rows <= PNG_MAX_SIDE && g->cols <= PNG_MAX_SIDE && g->h <= PNG_MAX_SIDE &&
             g->w <= PNG_MAX_SIDE && g->left <= PNG_MAX_SIDE;
  if (fits) {
    g->width = g->left + g->cols * (g->w * g->scale + GRID_GAP) + GRID_GAP;
    g->height = g->rows * (g->h * g->scale + GRID_GAP) + GRID_GAP;
    fits = g->width <= PNG_MAX_SIDE && g->height <= PNG_MAX_SIDE &&
           g->width * g->height * g->c <= PNG_MAX_BYTES;
  }
  if (!fits)
    ganc_seterr(err, errlen,
                "%s: %lld rows of %lld images of %d×%d would make too large a picture"
                " (at most %d pixels a side and %lld bytes)",
                path, (long long)g->rows, (long long)g->cols, g->h, g->w, PNG_MAX_SIDE,
                (long long)PNG_MAX_BYTES);
  return fits ? 0 : -1;
}

/* A white picture of g with images 0..n-1 of samples in its cells, row by
   row; NULL with a message when memory runs out. */
static unsigned char *grid_draw(const Grid *g, const void *samples, int scalar_size, int64_t n,
                                const char *path, char *err, size_t errlen)
{
  size_t bytes = (size_t)(g->width * g->height * g->c);
  unsigned char *pixels = malloc(bytes);
  if (!pixels) {
    ganc_seterr(err, errlen, "%s: out of memory", path);
    return NULL;
  }
  memset(pixels, 255, bytes);
  int64_t plane = (int64_t)g->h * g->w, cell_w = g->w * g->scale, cell_h = g->h * g->scale;
  for (int64_t i = 0; i < n; i++) {
    int64_t x0 = g->left + GRID_GAP + (i % g->cols) * (cell_w + GRID_GAP);
    int64_t y0 = GRID_GAP + (i / g->cols) * (cell_h + GRID_GAP);
    for (int64_t y = 0; y < cell_h; y++) {
      unsigned char *row = pixels + ((y0 + y) * g->width + x0) * g->c;
      for (int64_t x = 0; x < cell_w; x++)
        for (int k = 0; k < g->c; k++)
          row[x * g->c + k] = to_byte(ganc_scalar_load(
              samples, scalar_size, (i * g->c + k) * plane + (y / g->scale) * g->w + x / g->scale));
    }
  }
  return pixels;
}

int ganc_png_grid(const char *path, const void *samples, int scalar_size, int n,
                  int c, int h, int w, char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  if (n < 1) {
    ganc_seterr(err, errlen, "%s: cannot draw a grid of %d images", path, n);
    return -1;
  }
  if (grid_check(path, samples, scalar_size, c, h, w, err, errlen))
    return -1;
  Grid g = {.cols = 1, .c = c, .h = h, .w = w};
  while (g.cols * g.cols < n)
    g.cols++;
  g.rows = (n + g.cols - 1) / g.cols;
  g.scale = grid_scale(g.cols, w);
  if (grid_fits(&g, path, err, errlen))
    return -1;
  unsigned char *pixels = grid_draw(&g, samples, scalar_size, n, path, err, errlen);
  if (!pixels)
    return -1;
  int rc = write_png(path, (int)g.width, (int)g.height, c, pixels, err, errlen);
  free(pixels);
  return rc;
}

/* Class k's name, or its number (written into num) when it has none. */
static const char *class_name(const char *const *names, int k, char num[16])
{
  if (names && names[k])
    return names[k];
  snprintf(num, 16, "%d", k);
  return num;
}

/* The grid ganc_png_grid would draw of per_class columns, with a row per
   class, right of a margin holding the names: CLASS_PAD, the widest name,
   CLASS_PAD. Each name ends CLASS_PAD short of the images and is centred
   on its row, at twice the font's size when the row is tall enough. */
int ganc_png_class_grid(const char *path, const void *samples, int scalar_size, int classes, int per_class, int c,
                        int h, int w, const char *const *names, char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  if (classes < 1 || per_class < 1) {
    ganc_seterr(err, errlen,
                "%s: cannot draw a class grid of %d classes of %d images each (both must be at least 1)",
                path, classes, per_class);
    return -1;
  }
  if (grid_check(path, samples, scalar_size, c, h, w, err, errlen))
    return -1;
  Grid g = {.rows = classes, .cols = per_class, .c = c, .h = h, .w = w};
  g.scale = grid_scale(per_class, w);
  if (grid_fits(&g, path, err, errlen)) /* bounds classes before the names are measured */
    return -1;
  int row_h = (int)(h * g.scale), scale = row_h >= 2 * FONT_ROWS ? 2 : 1, widest = 0;
  for (int k = 0; k < classes; k++) {
    char num[16];
    int tw = text_width(class_name(names, k, num), scale);
    widest = tw > widest ? tw : widest;
  }
  g.left = widest + 2 * CLASS_PAD;
  if (grid_fits(&g, path, err, errlen))
    return -1;
  unsigned char *pixels = grid_draw(&g, samples, scalar_size, (int64_t)classes * per_class, path, err, errlen);
  if (!pixels)
    return -1;
  /* Where the text starts: its ascent centred on the row, raised if need
     be to keep the descenders in the row, but never above the row. */
  int top = (row_h - FONT_ASCENT * scale) / 2;
  if (top > row_h - FONT_ROWS * scale)
    top = row_h - FONT_ROWS * scale;
  top = top > 0 ? top : 0;
  for (int k = 0; k < classes; k++) {
    int y0 = GRID_GAP + k * (row_h + GRID_GAP);
    Canvas row = {pixels, (int)g.width, (int)g.height, c, 0, y0, (int)g.left, y0 + row_h};
    char num[16];
    const char *name = class_name(names, k, num);
    draw_text(&row, (int)g.left - CLASS_PAD - text_width(name, scale), y0 + top, name, scale, text_colour, 0);
  }
  int rc = write_png(path, (int)g.width, (int)g.height, c, pixels, err, errlen);
  free(pixels);
  return rc;
}

/* ---- Scatter plots ---- */

typedef struct View {
  double x0, y0, unit; /* lower left corner; pixels per unit */
} View;

static void dot(const Canvas *cv, const View *v, double x, double y, int radius, Rgb colour)
{
  double px = (x - v->x0) * v->unit, py = (SCATTER_SIZE - 1) - (y - v->y0) * v->unit;
  if (!(px > -radius - 1 && px < SCATTER_SIZE + radius && py > -radius - 1 &&
        py < SCATTER_SIZE + radius))
    return; /* off the picture, or not finite */
  canvas_disc(cv, (int)lround(px), (int)lround(py), radius, colour);
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

/* A view of every finite point with a tenth of a margin, filling the
   rows from top down, centred across (the units are square). */
static View fit_view(const void *points, int scalar_size, int n, const double *ref, int nref, int top)
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
  double unit = (SCATTER_SIZE - 1 - top) / (2 * half);
  return (View){cx - (SCATTER_SIZE - 1) / (2 * unit), cy - half, unit};
}

/* Lines at integer coordinates, every 1, 2, 5, 10, 20, ... units so that
   they stay apart; the axes a little darker. */
static void draw_grid(const Canvas *cv, const View *v)
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
          canvas_put(cv, p, t, colour);
        else
          canvas_put(cv, t, SCATTER_SIZE - 1 - p, colour);
      }
    }
  }
}

/* A colour of hue h (in sixths of a turn), saturation s and value v. */
static Rgb hsv(double h, double s, double v)
{
  int sector = (int)h % 6;
  double f = h - floor(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const double rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  const double *c = rgb[sector];
  return (Rgb){(unsigned char)lround(c[0] * 255), (unsigned char)lround(c[1] * 255),
               (unsigned char)lround(c[2] * 255)};
}

/* Squared distance, weighted for the eye's greater sensitivity to green. */
static int colour_distance(Rgb a, Rgb b)
{
  int dr = a.r - b.r, dg = a.g - b.g, db = a.b - b.b;
  return 2 * dr * dr + 4 * dg * dg + 3 * db * db;
}

/* near, or the distance from c to the nearest of n colours if less. */
static int nearest(Rgb c, const Rgb *colours, int n, int near)
{
  for (int i = 0; i < n; i++)
    if (colour_distance(c, colours[i]) < near)
      near = colour_distance(c, colours[i]);
  return near;
}

/* The labels' colours: ten picked by hand to stand apart (dark blue first,
   the colour of unlabelled points), then each in turn the candidate
   farthest from all before it and from the picture's white and light
   orange; the candidates are 24 hues at two saturations and three depths,
   the first of equals winning. */
static void label_palette(Rgb palette[GANC_SCATTER_MAX_CLASSES])
{
  static const Rgb picked[] = {
      {24, 52, 150},   /* dark blue */
      {214, 39, 40},   /* red */
      {44, 160, 44},   /* green */
      {255, 127, 14},  /* orange */
      {148, 103, 189}, /* purple */
      {23, 190, 207},  /* cyan */
      {227, 119, 194}, /* pink */
      {140, 86, 75},   /* brown */
      {188, 189, 34},  /* olive */
      {0, 0, 0},       /* black */
  };
  enum { PICKED = sizeof picked / sizeof picked[0], HUES = 24 };
  static const double sat[2] = {1, 0.6}, depth[3] = {0.9, 0.7, 0.5};
  const Rgb background[2] = {{255, 255, 255}, ref_colour};
  memcpy(palette, picked, sizeof picked);
  for (int k = PICKED; k < GANC_SCATTER_MAX_CLASSES; k++) {
    int best = -1;
    for (int i = 0; i < HUES * 6; i++) {
      Rgb c = hsv(i % HUES * 6.0 / HUES, sat[i / HUES % 2], depth[i / HUES / 2]);
      int near = nearest(c, palette, k, nearest(c, background, 2, INT_MAX));
      if (near > best) {
        best = near;
        palette[k] = c;
      }
    }
  }
}

void ganc_scatter_colour(int k, unsigned char rgb[3])
{
  Rgb palette[GANC_SCATTER_MAX_CLASSES];
  label_palette(palette);
  Rgb c = palette[(k % GANC_SCATTER_MAX_CLASSES + GANC_SCATTER_MAX_CLASSES) % GANC_SCATTER_MAX_CLASSES];
  rgb[0] = c.r;
  rgb[1] = c.g;
  rgb[2] = c.b;
}

/* The legend: for each label a dot of its colour and its number, in a
   table centred in a band of its own along the top, cells as wide as the
   widest entry (the last label's, digits being equally wide), as many
   columns as fit across, and the rows then made as even as they go. */
enum {
  LEGEND_SCALE = 2,                       /* the font's magnification */
  LEGEND_TOP = 5,                         /* blank rows above the first row */
  LEGEND_ROW = 19,                        /* pixels from one row to the next */
  LEGEND_DOT = 4,                         /* the dots' radius */
  LEGEND_NUMBER = 2 * LEGEND_DOT + 1 + 6, /* from an entry's left to its number */
  LEGEND_GAP = 20,                        /* blank pixels between entries */
  LEGEND_SIDE = 8,                        /* blank pixels left and right */
};

typedef struct Legend {
  int cols, rows, cell, height; /* height: the band's */
} Legend;

static Legend legend_layout(int classes)
{
  char num[16];
  snprintf(num, sizeof num, "%d", classes - 1);
  Legend l;
  l.cell = LEGEND_NUMBER + text_width(num, LEGEND_SCALE) + LEGEND_GAP;
  int fit = (SCATTER_SIZE - 2 * LEGEND_SIDE + LEGEND_GAP) / l.cell;
  l.rows = (classes + fit - 1) / fit;
  l.cols = (classes + l.rows - 1) / l.rows;
  l.height = LEGEND_TOP + l.rows * LEGEND_ROW;
  return l;
}

static void draw_legend(const Canvas *cv, const Legend *l, int classes, const Rgb *palette)
{
  int x0 = (SCATTER_SIZE - (l->cols * l->cell - LEGEND_GAP)) / 2, text_h = FONT_ASCENT * LEGEND_SCALE;
  for (int k = 0; k < classes; k++) {
    int x = x0 + k % l->cols * l->cell, y = LEGEND_TOP + k / l->cols * LEGEND_ROW;
    char num[16];
    snprintf(num, sizeof num, "%d", k);
    canvas_disc(cv, x + LEGEND_DOT, y + text_h / 2, LEGEND_DOT, palette[k]);
    draw_text(cv, x + LEGEND_NUMBER, y, num, LEGEND_SCALE, text_colour, 0);
  }
}

/* Both scatter plots: classes 0 is the unlabelled one (labels unread,
   every point in label 0's colour, no legend). */
static int scatter(const char *path, const void *points, int scalar_size, int n, const int *labels,
                   int classes, const double *ref, int nref, char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
  if (n < 0 || (n > 0 && !points) || (scalar_size != 4 && scalar_size != 8)) {
    ganc_seterr(err, errlen, "%s: cannot plot %d points of %d-byte scalars", path, n,
                scalar_size);
    return -1;
  }
  if (classes > 0 && n > 0 && !labels) {
    ganc_seterr(err, errlen, "%s: internal error: %d points and no labels", path, n);
    return -1;
  }
  for (int i = 0; classes > 0 && i < n; i++)
    if (labels[i] < 0 || labels[i] >= classes) {
      ganc_seterr(err, errlen, "%s: point %d has label %d, outside [0, %d)", path, i, labels[i], classes);
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
  /* The legend's band on top, the plot below it. */
  Legend legend = {0};
  Rgb palette[GANC_SCATTER_MAX_CLASSES];
  label_palette(palette);
  if (classes > 0)
    legend = legend_layout(classes);
  Canvas all = {img, SCATTER_SIZE, SCATTER_SIZE, 3, 0, 0, SCATTER_SIZE, SCATTER_SIZE};
  Canvas plot = all;
  plot.y0 = legend.height;
  if (classes > 0)
    draw_legend(&all, &legend, classes, palette);
  View v = fit_view(points, scalar_size, n, ref, nref, legend.height);
  draw_grid(&plot, &v);
  for (int i = 0; i < nref; i++)
    dot(&plot, &v, ref[2 * i], ref[2 * i + 1], 2, ref_colour);
  for (int i = 0; i < n; i++)
    dot(&plot, &v, ganc_scalar_load(points, scalar_size, 2 * (int64_t)i),
        ganc_scalar_load(points, scalar_size, 2 * (int64_t)i + 1), 2,
        palette[classes > 0 ? labels[i] : 0]);
  int rc = write_png(path, SCATTER_SIZE, SCATTER_SIZE, 3, img, err, errlen);
  free(img);
  return rc;
}

int ganc_png_scatter(const char *path, const void *points, int scalar_size, int n,
                     const double *ref, int nref, char *err, size_t errlen)
{
  return scatter(path, points, scalar_size, n, NULL, 0, ref, nref, err, errlen);
}

int ganc_png_scatter_labels(const char *path, const void *points, int scalar_size, int n, const int *labels,
                            int classes, const double *ref, int nref, char *err, size_t errlen)
{
  if (classes < 1 || classes > GANC_SCATTER_MAX_CLASSES) {
    ganc_seterr(err, errlen, "%s: cannot plot %d classes (a labelled scatter plot takes 1 to %d)", path,
                classes, GANC_SCATTER_MAX_CLASSES);
    return -1;
  }
  return scatter(path, points, scalar_size, n, labels, classes, ref, nref, err, errlen);
}

/* ---- Line plots ---- */

enum {
  PLOT_TICK = 4,            /* tick marks' length, outwards */
  PLOT_PAD = 8,             /* blank pixels at the picture's edges */
  PLOT_MARKER_ROWS = 60,    /* up to this many rows, a dot at each */
  TICK_SCALE = 1,           /* the font's magnification for tick labels */
  LABEL_SCALE = 2,          /* for the axis labels and the legend */
};

#define PLOT_BIG 1e300 /* larger values are left out, so ranges stay finite */

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
  Canvas all = {img, W, H, 3, 0, 0, W, H};

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
    draw_text(&all, px - text_width(buf, TICK_SCALE) / 2, bottom + PLOT_TICK + 4, buf, TICK_SCALE, text_colour, 0);
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
        draw_text(&all, left - PLOT_TICK - 4 - tw, py - tick_h / 2, buf, TICK_SCALE, text_colour, 0);
      } else {
        canvas_fill(&all, right + 1, py, PLOT_TICK, 1, plot_frame);
        draw_text(&all, right + PLOT_TICK + 4, py - tick_h / 2, buf, TICK_SCALE, text_colour, 0);
      }
    }
  }
  canvas_fill(&all, left, top, right - left + 1, 1, plot_frame);
  canvas_fill(&all, left, bottom, right - left + 1, 1, plot_frame);
  canvas_fill(&all, left, top, 1, bottom - top + 1, plot_frame);
  canvas_fill(&all, right, top, 1, bottom - top + 1, plot_frame);
  if (p->x_label)
    draw_text(&all, (left + right) / 2 - text_width(p->x_label, LABEL_SCALE) / 2, H - PLOT_PAD - label_h - 1,
              p->x_label, LABEL_SCALE, text_colour, 0);
  if (p->y_label)
    draw_text(&all, PLOT_PAD, (top + bottom) / 2 + text_width(p->y_label, LABEL_SCALE) / 2, p->y_label,
              LABEL_SCALE, text_colour, 1);
  if (has_y2)
    draw_text(&all, W - PLOT_PAD - label_h, (top + bottom) / 2 + text_width(p->y2_label, LABEL_SCALE) / 2,
              p->y2_label, LABEL_SCALE, text_colour, 1);

  /* The lines, inside the frame: the right axis's first, under the others. */
  Canvas area = {img, W, H, 3, left + 1, top + 1, right, bottom};
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
      Canvas band = {img, W, H, 3, 0, 0, W, GANC_PLOT_LEGEND_HEIGHT};
      int dash = 0;
      draw_segment(&band, x, y + label_h / 2 - 1, x + SWATCH - 1, y + label_h / 2 - 1, colour,
                   has_y2 && p->lines[l].right ? &dash : NULL);
      draw_marker(&band, x + SWATCH / 2 + 1, y + label_h / 2, colour);
      draw_text(&band, x + SWATCH + SWATCH_GAP, y, p->lines[l].name ? p->lines[l].name : "", LABEL_SCALE,
                text_colour, 0);
      x += widths[l] + ENTRY_GAP;
    }
  }

  int rc = write_png(path, W, H, 3, img, err, errlen);
  free(img);
  return rc;
}
