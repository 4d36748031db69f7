/* test_image.c — PNG grids (plain and by class), scatter plots (plain and
 * by label) and line plots, read back with libpng. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <png.h>

#include "io.h"
#include "test.h"

TestSuite(image, .init = scratch_open, .fini = scratch_close);

/* ---- Reading PNGs back ---- */

typedef struct Picture {
  int width, height, channels;
  unsigned char *pixels;
} Picture;

/* Read path; the file must be a PNG with the colour type wanted. */
static Picture read_png(const char *path, int channels)
{
  png_image img;
  memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  cr_assert(png_image_begin_read_from_file(&img, path), "%s: %s", path, img.message);
  int colour = (img.format & PNG_FORMAT_FLAG_COLOR) != 0;
  cr_assert_eq(colour, channels == 3, "colour type of %s", path);
  cr_assert_eq(img.format & PNG_FORMAT_FLAG_ALPHA, 0);
  img.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  Picture p = {(int)img.width, (int)img.height, channels, malloc(PNG_IMAGE_SIZE(img))};
  cr_assert(png_image_finish_read(&img, NULL, p.pixels, 0, NULL), "%s", img.message);
  return p;
}

static const unsigned char *at(const Picture *p, int x, int y)
{
  cr_assert(x >= 0 && y >= 0 && x < p->width && y < p->height, "(%d, %d) outside", x, y);
  return p->pixels + ((size_t)y * p->width + x) * p->channels;
}

/* ---- Grids ---- */

Test(image, gray_grid)
{
  enum { N = 5, H = 4, W = 3 };
  float s[N][H][W];
  for (int i = 0; i < N; i++)
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        s[i][y][x] = -1.0f + 0.5f * i;
  s[0][1][2] = 1.0f; /* a marker, to see rows and columns the right way round */
  char err[256];
  cr_assert_eq(ganc_png_grid(scratch_path("g.png"), s, 4, N, 1, H, W, err, sizeof err), 0, "%s", err);
  Picture p = read_png(scratch_path("g.png"), 1);

  /* ceil(sqrt(5)) = 3 columns, 2 rows, 2-pixel gaps around every image. */
  const int cols = 3, rows = 2, gap = 2;
  cr_assert_geq(p.width, 256);
  cr_assert_eq((p.width - (cols + 1) * gap) % (cols * W), 0, "width %d", p.width);
  int scale = (p.width - (cols + 1) * gap) / (cols * W);
  cr_assert_eq(p.height, rows * H * scale + (rows + 1) * gap);
  cr_assert_lt((cols * W) * (scale - 1) + (cols + 1) * gap, 256, "scale %d larger than needed", scale);

  /* (v + 1) * 127.5 rounded: -1 -> 0, -0.5 -> 64, 0 -> 128, 0.5 -> 191, 1 -> 255 */
  const int want[N] = {0, 64, 128, 191, 255};
  for (int i = 0; i < N; i++) {
    int x0 = gap + (i % cols) * (W * scale + gap), y0 = gap + (i / cols) * (H * scale + gap);
    cr_assert_eq(*at(&p, x0, y0), want[i], "image %d", i);
    cr_assert_eq(*at(&p, x0 + W * scale - 1, y0 + H * scale - 1), want[i]);
  }
  int mx = gap + 2 * scale, my = gap + 1 * scale;
  cr_assert_eq(*at(&p, mx, my), 255);
  cr_assert_eq(*at(&p, mx + scale - 1, my + scale - 1), 255);
  cr_assert_eq(*at(&p, mx - 1, my), 0);
  cr_assert_eq(*at(&p, mx, my - 1), 0);
  /* Gaps and the empty sixth cell are white. */
  cr_assert_eq(*at(&p, 0, 0), 255);
  cr_assert_eq(*at(&p, gap + W * scale, gap), 255);
  cr_assert_eq(*at(&p, p.width - 1 - gap - W * scale / 2, p.height - 1 - gap - H * scale / 2), 255);
  free(p.pixels);
}

Test(image, rgb_grid_double_and_clamping)
{
  enum { C = 3, H = 2, W = 2 };
  double s[2][C][H][W];
  for (int i = 0; i < 2; i++)
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        s[i][0][y][x] = 1;
        s[i][1][y][x] = -1;
        s[i][2][y][x] = 0;
      }
  s[1][0][0][0] = 5;    /* clamped to 255 */
  s[1][1][0][0] = -7;   /* clamped to 0 */
  s[1][2][0][0] = NAN;  /* drawn as 0 */
  s[1][2][1][1] = 0.99; /* 253.7 -> 254 */
  char err[256];
  cr_assert_eq(ganc_png_grid(scratch_path("c.png"), s, 8, 2, C, H, W, err, sizeof err), 0, "%s", err);
  Picture p = read_png(scratch_path("c.png"), 3);
  const int cols = 2, gap = 2;
  int scale = (p.width - (cols + 1) * gap) / (cols * W);
  cr_assert_geq(p.width, 256);
  cr_assert_eq(p.width, cols * W * scale + (cols + 1) * gap);
  cr_assert_eq(p.height, H * scale + 2 * gap);
  const unsigned char *px = at(&p, gap + scale / 2, gap + scale / 2);
  cr_assert(px[0] == 255 && px[1] == 0 && px[2] == 128, "(%d, %d, %d)", px[0], px[1], px[2]);
  int x1 = gap + W * scale + gap;
  px = at(&p, x1, gap);
  cr_assert(px[0] == 255 && px[1] == 0 && px[2] == 0, "(%d, %d, %d)", px[0], px[1], px[2]);
  px = at(&p, x1 + 2 * scale - 1, gap + 2 * scale - 1);
  cr_assert(px[0] == 255 && px[1] == 0 && px[2] == 254, "(%d, %d, %d)", px[0], px[1], px[2]);
  free(p.pixels);
}

Test(image, big_images_are_not_upscaled)
{
  enum { H = 300, W = 300 };
  float *s = calloc(H * W, sizeof *s);
  char err[256];
  cr_assert_eq(ganc_png_grid(scratch_path("big.png"), s, 4, 1, 1, H, W, err, sizeof err), 0, "%s", err);
  Picture p = read_png(scratch_path("big.png"), 1);
  cr_assert_eq(p.width, W + 4);
  cr_assert_eq(p.height, H + 4);
  cr_assert_eq(*at(&p, 150, 150), 128);
  free(p.pixels);
  free(s);
}

Test(image, grid_errors)
{
  float s[12] = {0};
  char err[256];
  cr_assert_eq(ganc_png_grid(scratch_path("x.png"), s, 4, 1, 2, 2, 3, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "x.png"), "%s", err);
  cr_assert_eq(ganc_png_grid(scratch_path("x.png"), s, 4, 0, 1, 2, 3, err, sizeof err), -1);
  cr_assert_eq(ganc_png_grid(scratch_path("nodir/x.png"), s, 4, 1, 1, 2, 3, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "nodir/x.png"), "%s", err);
  cr_assert_eq(scratch_entries(), 0);
}

/* ---- Class grids ---- */

/* ganc_png_grid's scale for cols images w pixels wide: the smallest whole
   factor that makes them and their 2-pixel gaps at least 256 pixels wide. */
static int grid_scale_for(int cols, int w)
{
  int s = 1;
  while (cols * w * s + (cols + 1) * 2 < 256)
    s++;
  return s;
}

static int is_dark(const Picture *p, int x, int y)
{
  const unsigned char *px = at(p, x, y);
  for (int k = 0; k < p->channels; k++)
    if (px[k] >= 100)
      return 0;
  return 1;
}

/* The ink in the margin's columns [0, margin) and rows [y0, y1): how many
   dark pixels, and the first and last column holding one. */
typedef struct Ink {
  int count, first, last;
} Ink;

static Ink margin_ink(const Picture *p, int margin, int y0, int y1)
{
  Ink ink = {0, -1, -1};
  for (int y = y0; y < y1; y++)
    for (int x = 0; x < margin; x++)
      if (is_dark(p, x, y)) {
        ink.count++;
        ink.first = ink.first < 0 || x < ink.first ? x : ink.first;
        ink.last = x > ink.last ? x : ink.last;
      }
  return ink;
}

/* The margin: what is left of the width once the grid ganc_png_grid would
   draw of per_class columns is taken away. */
static int class_margin(const Picture *p, int per_class, int w, int scale)
{
  int margin = p->width - (per_class * (w * scale + 2) + 2);
  cr_assert_gt(margin, 0, "width %d leaves no margin", p->width);
  return margin;
}

Test(image, class_grid_layout)
{
  enum { K = 3, P = 4, H = 4, W = 3 };
  float s[K][P][H][W];
  for (int k = 0; k < K; k++)
    for (int j = 0; j < P; j++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
          s[k][j][y][x] = -1.0f + 0.5f * ((k * P + j) % 5);
  s[1][2][1][2] = 1.0f; /* a marker in class 1's third image */
  const char *names[K] = {"bag", "", "ankle boot"};
  char err[256];
  cr_assert_eq(ganc_png_class_grid(scratch_path("k.png"), s, 4, K, P, 1, H, W, names, err, sizeof err), 0, "%s",
               err);
  cr_assert_str_empty(err);
  Picture p = read_png(scratch_path("k.png"), 1);

  const int gap = 2, scale = grid_scale_for(P, W);
  cr_assert_eq(p.height, K * H * scale + (K + 1) * gap, "height %d", p.height);
  int margin = class_margin(&p, P, W, scale);

  /* Image j of class k in row k, column j, right of the margin. */
  const int want[5] = {0, 64, 128, 191, 255};
  for (int k = 0; k < K; k++)
    for (int j = 0; j < P; j++) {
      int x0 = margin + gap + j * (W * scale + gap), y0 = gap + k * (H * scale + gap);
      int v = want[(k * P + j) % 5];
      cr_assert_eq(*at(&p, x0, y0), v, "class %d image %d", k, j);
      cr_assert_eq(*at(&p, x0 + W * scale - 1, y0 + H * scale - 1), v, "class %d image %d", k, j);
      cr_assert_eq(*at(&p, x0 - 1, y0), 255, "the gap left of class %d image %d", k, j);
      cr_assert_eq(*at(&p, x0, y0 - 1), 255, "the gap above class %d image %d", k, j);
    }
  int mx = margin + gap + 2 * (W * scale + gap) + 2 * scale, my = gap + (H * scale + gap) + 1 * scale;
  cr_assert_eq(*at(&p, mx, my), 255);
  cr_assert_eq(*at(&p, mx + scale - 1, my + scale - 1), 255);
  cr_assert_eq(*at(&p, mx - 1, my), want[6 % 5]);
  cr_assert_eq(*at(&p, mx, my - 1), want[6 % 5]);

  /* The margin holds white and ink only; ink in the rows of the classes
     that have a name, none in the gaps between rows. */
  for (int y = 0; y < p.height; y++)
    for (int x = 0; x < margin; x++)
      cr_assert(*at(&p, x, y) == 255 || is_dark(&p, x, y), "(%d, %d) is %d", x, y, *at(&p, x, y));
  Ink rows[K];
  for (int k = 0; k < K; k++) {
    int y0 = gap + k * (H * scale + gap);
    rows[k] = margin_ink(&p, margin, y0, y0 + H * scale);
    cr_assert_eq(margin_ink(&p, margin, y0 - gap, y0).count, 0, "ink above row %d", k);
  }
  cr_assert_eq(margin_ink(&p, margin, p.height - gap, p.height).count, 0, "ink below the last row");
  cr_assert_gt(rows[0].count, 0, "no name in row 0");
  cr_assert_eq(rows[1].count, 0, "an empty name drew %d pixels", rows[1].count);
  cr_assert_gt(rows[2].count, rows[0].count, "'ankle boot' has more ink than 'bag'");
  /* The longest name fits with some padding, and takes most of the margin. */
  cr_assert(rows[2].first >= 2 && rows[2].last <= margin - 3, "ink from %d to %d in a margin of %d",
            rows[2].first, rows[2].last, margin);
  cr_assert_leq(rows[2].first + (margin - 1 - rows[2].last), 40, "padding of %d pixels",
                rows[2].first + (margin - 1 - rows[2].last));
  cr_assert_gt(rows[2].last - rows[2].first, rows[0].last - rows[0].first);
  free(p.pixels);

  /* Shorter names, a narrower margin; the images themselves the same size. */
  const char *short_names[K] = {"a", "b", "c"};
  cr_assert_eq(ganc_png_class_grid(scratch_path("k2.png"), s, 4, K, P, 1, H, W, short_names, err, sizeof err), 0,
               "%s", err);
  Picture q = read_png(scratch_path("k2.png"), 1);
  cr_assert_eq(q.height, p.height);
  cr_assert_lt(class_margin(&q, P, W, scale), margin);
  free(q.pixels);
}

/* Two pictures the same, pixel for pixel. */
static void assert_same_png(const char *a, const char *b, int channels)
{
  Picture p = read_png(a, channels), q = read_png(b, channels);
  cr_assert(p.width == q.width && p.height == q.height, "%d×%d and %d×%d", p.width, p.height, q.width, q.height);
  cr_assert(memcmp(p.pixels, q.pixels, (size_t)p.width * p.height * channels) == 0, "%s and %s differ", a, b);
  free(p.pixels);
  free(q.pixels);
}

Test(image, class_grid_numbers_without_names)
{
  enum { K = 12, P = 8, H = 4, W = 4 };
  float s[K * P * H * W];
  for (int i = 0; i < K * P * H * W; i++)
    s[i] = (float)sin(i * 0.1);
  char err[256];
  cr_assert_eq(ganc_png_class_grid(scratch_path("n.png"), s, 4, K, P, 1, H, W, NULL, err, sizeof err), 0, "%s", err);
  Picture p = read_png(scratch_path("n.png"), 1);
  const int gap = 2, scale = grid_scale_for(P, W);
  cr_assert_eq(p.height, K * H * scale + (K + 1) * gap);
  int margin = class_margin(&p, P, W, scale);
  int widest_digit = 0;
  for (int k = 0; k < K; k++) {
    int y0 = gap + k * (H * scale + gap);
    Ink ink = margin_ink(&p, margin, y0, y0 + H * scale);
    cr_assert_gt(ink.count, 0, "no number in row %d", k);
    int w = ink.last - ink.first + 1;
    if (k < 10)
      widest_digit = w > widest_digit ? w : widest_digit;
    else
      cr_assert_gt(w, widest_digit, "row %d's number is no wider than one digit", k);
  }
  free(p.pixels);

  /* The numbers are the names k: spelt out, or NULL one by one, the same
     picture. */
  const char *names[K] = {"0", "1", "2", "3", "4", "5", NULL, "7", "8", "9", "10", "11"};
  cr_assert_eq(ganc_png_class_grid(scratch_path("n2.png"), s, 4, K, P, 1, H, W, names, err, sizeof err), 0, "%s",
               err);
  assert_same_png(scratch_path("n.png"), scratch_path("n2.png"), 1);
  /* Other names, another picture. */
  names[3] = "coat";
  cr_assert_eq(ganc_png_class_grid(scratch_path("n3.png"), s, 4, K, P, 1, H, W, names, err, sizeof err), 0, "%s",
               err);
  Picture q = read_png(scratch_path("n3.png"), 1);
  cr_assert_gt(q.width, p.width, "'coat' is wider than '11'");
  free(q.pixels);

  /* Fewer classes, all numbers of one digit: a narrower margin. */
  cr_assert_eq(ganc_png_class_grid(scratch_path("n4.png"), s, 4, 3, P, 1, H, W, NULL, err, sizeof err), 0, "%s",
               err);
  q = read_png(scratch_path("n4.png"), 1);
  cr_assert_eq(q.height, 3 * H * scale + 4 * gap);
  cr_assert_lt(class_margin(&q, P, W, scale), margin);
  free(q.pixels);
}

Test(image, class_grid_rgb_double)
{
  enum { K = 2, P = 3, C = 3, H = 5, W = 6 };
  double s[K][P][C][H][W];
  for (int k = 0; k < K; k++)
    for (int j = 0; j < P; j++)
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          s[k][j][0][y][x] = k == 0 ? 1 : -1; /* red in row 0 */
          s[k][j][1][y][x] = -1 + j;          /* green by column: 0, 128, 255 */
          s[k][j][2][y][x] = k == 1 ? 1 : -1; /* blue in row 1 */
        }
  const char *names[K] = {"red", "blue"};
  char err[256];
  cr_assert_eq(ganc_png_class_grid(scratch_path("c.png"), s, 8, K, P, C, H, W, names, err, sizeof err), 0, "%s",
               err);
  Picture p = read_png(scratch_path("c.png"), 3);
  const int gap = 2, scale = grid_scale_for(P, W);
  cr_assert_eq(p.height, K * H * scale + (K + 1) * gap);
  int margin = class_margin(&p, P, W, scale);
  const int green[P] = {0, 128, 255};
  for (int k = 0; k < K; k++)
    for (int j = 0; j < P; j++) {
      int x = margin + gap + j * (W * scale + gap) + W * scale / 2, y = gap + k * (H * scale + gap) + H * scale / 2;
      const unsigned char *px = at(&p, x, y);
      cr_assert(px[0] == (k == 0 ? 255 : 0) && px[1] == green[j] && px[2] == (k == 1 ? 255 : 0),
                "class %d image %d: (%d, %d, %d)", k, j, px[0], px[1], px[2]);
    }
  for (int k = 0; k < K; k++) {
    int y0 = gap + k * (H * scale + gap);
    cr_assert_gt(margin_ink(&p, margin, y0, y0 + H * scale).count, 0, "no name in row %d", k);
  }
  free(p.pixels);
}

Test(image, class_grid_errors)
{
  float s[64] = {0};
  const char *names[2] = {"a", "b"};
  char err[256];
  /* classes, per_class, c, h, w, scalar_size, samples: one wrong at a time */
  struct {
    int classes, per_class, c, h, w, size;
    const char *says;
  } bad[] = {
      {0, 2, 1, 2, 2, 4, "classes"},  {-1, 2, 1, 2, 2, 4, "classes"}, {2, 0, 1, 2, 2, 4, "images each"},
      {2, 2, 2, 2, 2, 4, "channels"}, {2, 2, 4, 2, 2, 4, "channels"}, {2, 2, 1, 0, 2, 4, "0×2"},
      {2, 2, 1, 2, -3, 4, "2×-3"},    {2, 2, 1, 2, 2, 2, "scalars"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = ganc_png_class_grid(scratch_path("x.png"), s, bad[i].size, bad[i].classes, bad[i].per_class, bad[i].c,
                                 bad[i].h, bad[i].w, NULL, err, sizeof err);
    cr_assert_eq(rc, -1, "case %zu", i);
    cr_assert_not_null(strstr(err, "x.png"), "case %zu: %s", i, err);
    cr_assert_not_null(strstr(err, bad[i].says), "case %zu: %s", i, err);
  }
  cr_assert_eq(ganc_png_class_grid(scratch_path("x.png"), NULL, 4, 2, 2, 1, 2, 2, names, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "no samples"), "%s", err);

  /* Too large, without reading the (absent) samples: by rows, by columns,
     by sizes whose products pass int, and by a name too long for any
     margin. */
  struct {
    int classes, per_class, h, w;
  } huge[] = {{1 << 17, 1, 1, 1}, {1, 1 << 17, 1, 1}, {1 << 20, 1, 1 << 20, 1},
              {INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX}, {1, 1, 1 << 15, 1 << 15}};
  for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
    int rc = ganc_png_class_grid(scratch_path("x.png"), s, 4, huge[i].classes, huge[i].per_class, 1, huge[i].h,
                                 huge[i].w, NULL, err, sizeof err);
    cr_assert_eq(rc, -1, "case %zu", i);
    cr_assert_not_null(strstr(err, "too large"), "case %zu: %s", i, err);
  }
  enum { LONG = 40000 };
  char *long_name = malloc(LONG + 1);
  memset(long_name, 'm', LONG);
  long_name[LONG] = 0;
  const char *long_names[2] = {"a", long_name};
  cr_assert_eq(ganc_png_class_grid(scratch_path("x.png"), s, 4, 2, 2, 1, 2, 2, long_names, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "too large"), "%s", err);
  free(long_name);

  cr_assert_eq(ganc_png_class_grid(scratch_path("nodir/x.png"), s, 4, 2, 2, 1, 2, 2, names, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "nodir/x.png"), "%s", err);
  cr_assert_eq(scratch_entries(), 0);
}

/* ---- Scatter plots ---- */

static int is_blue(const unsigned char *px)
{
  return px[2] > 100 && px[0] < 100 && px[2] > px[0] + 50;
}

static int is_orange(const unsigned char *px)
{
  return px[0] > 200 && px[1] > 120 && px[1] < 230 && px[2] < px[0] - 60;
}

static int is_gray(const unsigned char *px)
{
  return px[0] == px[1] && px[1] == px[2] && px[0] > 150 && px[0] < 255;
}

Test(image, scatter)
{
  enum { N = 10 };
  float pts[2 * N] = {0};      /* all at (0, 0) */
  const double ref[] = {1, 1}; /* one reference point at (1, 1) */
  char err[256];
  cr_assert_eq(ganc_png_scatter(scratch_path("s.png"), pts, 4, N, ref, 1, err, sizeof err), 0, "%s", err);
  Picture p = read_png(scratch_path("s.png"), 3);
  cr_assert_eq(p.width, 512);
  cr_assert_eq(p.height, 512);

  /* The blue dot lower left, the orange one upper right, both inside. */
  long bx = 0, by = 0, nb = 0, ox = 0, oy = 0, no = 0;
  for (int y = 0; y < 512; y++)
    for (int x = 0; x < 512; x++) {
      const unsigned char *px = at(&p, x, y);
      if (is_blue(px)) {
        bx += x;
        by += y;
        nb++;
      } else if (is_orange(px)) {
        ox += x;
        oy += y;
        no++;
      }
    }
  cr_assert_gt(nb, 0);
  cr_assert_gt(no, 0);
  cr_assert(bx / nb < 128 && by / nb > 384, "blue at (%ld, %ld)", bx / nb, by / nb);
  cr_assert(ox / no > 384 && oy / no < 128, "orange at (%ld, %ld)", ox / no, oy / no);
  cr_assert(bx / nb > 0 && by / nb < 511 && ox / no < 511 && oy / no > 0, "no margin");

  /* White corners; grid lines at x = 0 and x = 1 cross the top rows. */
  const unsigned char *corner = at(&p, 0, 0);
  cr_assert(corner[0] == 255 && corner[1] == 255 && corner[2] == 255);
  int lines = 0;
  for (int x = 0; x < 512; x++)
    lines += is_gray(at(&p, x, 3));
  cr_assert_eq(lines, 2, "%d vertical grid lines", lines);
  /* The line through x = 0 runs through the blue dot's column. */
  int found = 0;
  for (int x = (int)(bx / nb) - 2; x <= bx / nb + 2; x++)
    found |= is_gray(at(&p, x, 3));
  cr_assert(found);
  free(p.pixels);
}

Test(image, scatter_without_reference_and_with_bad_points)
{
  double pts[] = {-3, -3, 3, 3, NAN, 0, INFINITY, 1};
  char err[256];
  cr_assert_eq(ganc_png_scatter(scratch_path("s.png"), pts, 8, 4, NULL, 0, err, sizeof err), 0, "%s", err);
  Picture p = read_png(scratch_path("s.png"), 3);
  cr_assert_eq(p.width, 512);
  int blue = 0;
  for (int y = 0; y < 512; y++)
    for (int x = 0; x < 512; x++)
      blue += is_blue(at(&p, x, y));
  cr_assert_gt(blue, 0);
  /* Two dots of equal size: half of the blue in each half of the picture. */
  int left = 0;
  for (int y = 0; y < 512; y++)
    for (int x = 0; x < 256; x++)
      left += is_blue(at(&p, x, y));
  cr_assert_eq(2 * left, blue);
  free(p.pixels);
  /* No points at all still makes a picture. */
  cr_assert_eq(ganc_png_scatter(scratch_path("e.png"), NULL, 4, 0, NULL, 0, err, sizeof err), 0, "%s", err);
  p = read_png(scratch_path("e.png"), 3);
  cr_assert_eq(p.height, 512);
  free(p.pixels);
}

Test(image, scatter_into_missing_directory)
{
  float pts[2] = {0};
  char err[256];
  cr_assert_eq(ganc_png_scatter(scratch_path("nodir/s.png"), pts, 4, 1, NULL, 0, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "nodir/s.png"), "%s", err);
  cr_assert_eq(scratch_entries(), 0);
}

/* ---- Scatter plots by label ---- */

static int colour_is(const unsigned char *px, const unsigned char rgb[3])
{
  return px[0] == rgb[0] && px[1] == rgb[1] && px[2] == rgb[2];
}

/* Pixels of label k's colour in rows [y0, y1), and their mean column. */
static int label_pixels(const Picture *p, int k, int y0, int y1, double *mean_x)
{
  unsigned char rgb[3];
  ganc_scatter_colour(k, rgb);
  long n = 0, sx = 0;
  for (int y = y0; y < y1; y++)
    for (int x = 0; x < p->width; x++)
      if (colour_is(at(p, x, y), rgb)) {
        n++;
        sx += x;
      }
  if (mean_x)
    *mean_x = n ? (double)sx / n : NAN;
  return (int)n;
}

/* The dark gray of text (grid lines and axes are light gray). */
static int is_text(const unsigned char *px)
{
  return px[0] == px[1] && px[1] == px[2] && px[0] < 100;
}

static int text_pixels(const Picture *p, int y0, int y1)
{
  int n = 0;
  for (int y = y0; y < y1; y++)
    for (int x = 0; x < p->width; x++)
      n += is_text(at(p, x, y));
  return n;
}

static double rgb_distance(const unsigned char a[3], const unsigned char b[3])
{
  double d = 0;
  for (int i = 0; i < 3; i++)
    d += (a[i] - b[i]) * (a[i] - b[i]);
  return sqrt(d);
}

Test(image, scatter_palette)
{
  unsigned char c[GANC_SCATTER_MAX_CLASSES][3];
  for (int k = 0; k < GANC_SCATTER_MAX_CLASSES; k++)
    ganc_scatter_colour(k, c[k]);
  /* Eight labels far apart, all of them apart; none near the white
     background, the grid's gray or the reference's light orange. */
  const unsigned char white[3] = {255, 255, 255}, gray[3] = {228, 228, 228}, orange[3] = {253, 187, 120};
  for (int i = 0; i < GANC_SCATTER_MAX_CLASSES; i++) {
    cr_expect_gt(rgb_distance(c[i], white), 100, "label %d is near white", i);
    cr_expect_gt(rgb_distance(c[i], gray), 80, "label %d is near the grid's gray", i);
    cr_expect_gt(rgb_distance(c[i], orange), 60, "label %d is near the reference's orange", i);
    for (int j = 0; j < i; j++)
      cr_expect_gt(rgb_distance(c[i], c[j]), i < 8 ? 70 : 40, "labels %d and %d: (%d, %d, %d) and (%d, %d, %d)", j,
                   i, c[j][0], c[j][1], c[j][2], c[i][0], c[i][1], c[i][2]);
  }
  /* The plain scatter plot's points are label 0's. */
  float pts[2] = {0};
  char err[256];
  cr_assert_eq(ganc_png_scatter(scratch_path("s.png"), pts, 4, 1, NULL, 0, err, sizeof err), 0, "%s", err);
  Picture p = read_png(scratch_path("s.png"), 3);
  cr_expect_gt(label_pixels(&p, 0, 0, p.height, NULL), 0);
  free(p.pixels);
}

Test(image, scatter_labels_colour_points)
{
  /* Eight clumps along y = 0, clump i at x = i with label perm[i]. */
  enum { K = 8, EACH = 5 };
  const int perm[K] = {3, 0, 7, 1, 6, 2, 5, 4};
  float pts[2 * K * EACH];
  int labels[K * EACH];
  for (int i = 0; i < K * EACH; i++) {
    pts[2 * i] = (float)(i % K);
    pts[2 * i + 1] = 0;
    labels[i] = perm[i % K];
  }
  char err[256];
  cr_assert_eq(ganc_png_scatter_labels(scratch_path("l.png"), pts, 4, K * EACH, labels, K, NULL, 0, err, sizeof err),
               0, "%s", err);
  cr_assert_str_empty(err);
  Picture p = read_png(scratch_path("l.png"), 3);
  cr_assert_eq(p.width, 512);
  cr_assert_eq(p.height, 512);

  /* Below the top quarter (the legend's), each label's colour in one dot
     where its clump is: left to right in the order of the clumps, evenly
     spaced. */
  double x[K];
  for (int i = 0; i < K; i++) {
    cr_assert_gt(label_pixels(&p, perm[i], 128, 512, &x[i]), 0, "no point of label %d", perm[i]);
    if (i > 0)
      cr_assert_gt(x[i], x[i - 1], "label %d's point left of label %d's", perm[i], perm[i - 1]);
  }
  for (int i = 2; i < K; i++)
    cr_assert(fabs((x[i] - x[i - 1]) - (x[1] - x[0])) < 2, "clumps %d, %d and %d are not evenly spaced", i - 2,
              i - 1, i);
  /* Colours beyond the eight labels appear nowhere. */
  for (int k = K; k < GANC_SCATTER_MAX_CLASSES; k++)
    cr_assert_eq(label_pixels(&p, k, 0, 512, NULL), 0, "label %d's colour, with %d labels", k, K);

  /* The legend, in the top quarter: every label's colour and the numbers'
     dark ink, which the plot without labels lacks. */
  for (int k = 0; k < K; k++)
    cr_assert_gt(label_pixels(&p, k, 0, 128, NULL), 0, "label %d is not in the legend", k);
  cr_assert_gt(text_pixels(&p, 0, 128), 8 * 10, "no numbers in the legend");
  cr_assert_eq(text_pixels(&p, 128, 512), 0);
  free(p.pixels);
  cr_assert_eq(ganc_png_scatter(scratch_path("u.png"), pts, 4, K * EACH, NULL, 0, err, sizeof err), 0, "%s", err);
  p = read_png(scratch_path("u.png"), 3);
  cr_assert_eq(text_pixels(&p, 0, 512), 0);
  free(p.pixels);
}

/* The rows holding label k's colour: how many runs of them, and where the
   last run starts. */
static int label_row_runs(const Picture *p, int k, int *last_start)
{
  unsigned char rgb[3];
  ganc_scatter_colour(k, rgb);
  int runs = 0, was = 0;
  for (int y = 0; y < p->height; y++) {
    int any = 0;
    for (int x = 0; x < p->width; x++)
      any |= colour_is(at(p, x, y), rgb);
    if (any && !was) {
      runs++;
      *last_start = y;
    }
    was = any;
  }
  return runs;
}

Test(image, scatter_labels_legend_above_the_points)
{
  /* Label 1 at the very top of the data, label 0 at the bottom; with 32
     labels the legend has several rows. */
  for (int classes = 2; classes <= GANC_SCATTER_MAX_CLASSES; classes += 30) {
    double pts[] = {0, 1, 0, -1, 0.5, 0};
    int labels[] = {1, 0, 0};
    char err[256];
    cr_assert_eq(ganc_png_scatter_labels(scratch_path("t.png"), pts, 8, 3, labels, classes, NULL, 0, err,
                                         sizeof err),
                 0, "%s", err);
    Picture p = read_png(scratch_path("t.png"), 3);
    /* Label 1's colour twice: its legend entry, then its point, whole
       (a dot the size of label 0's bottom one) and below every number. */
    int top_point = -1;
    cr_assert_eq(label_row_runs(&p, 1, &top_point), 2, "%d classes", classes);
    int text_last = -1;
    for (int y = 0; y < p.height; y++)
      if (text_pixels(&p, y, y + 1))
        text_last = y;
    cr_assert_geq(text_last, 0, "no numbers");
    cr_assert_gt(top_point, text_last, "%d classes: the top point at row %d, numbers down to row %d", classes,
                 top_point, text_last);
    int bottom = -1;
    label_row_runs(&p, 0, &bottom);
    cr_assert_eq(label_pixels(&p, 1, top_point, p.height, NULL), label_pixels(&p, 0, bottom, p.height, NULL),
                 "%d classes", classes);
    for (int k = 0; k < classes; k++)
      cr_assert_gt(label_pixels(&p, k, 0, text_last + 1, NULL), 0, "%d classes: label %d not in the legend",
                   classes, k);
    free(p.pixels);
  }
}

Test(image, scatter_labels_errors)
{
  float pts[6] = {0, 0, 1, 1, 2, 2};
  int labels[3] = {0, 1, 2};
  char err[256];
  const int bad_classes[] = {0, -1, GANC_SCATTER_MAX_CLASSES + 1};
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(ganc_png_scatter_labels(scratch_path("s.png"), pts, 4, 3, labels, bad_classes[i], NULL, 0, err,
                                         sizeof err),
                 -1);
    cr_assert_not_null(strstr(err, "s.png"), "%s", err);
    cr_assert_not_null(strstr(err, "classes"), "%s", err);
  }
  /* A label out of range, at either end: the message names the point. */
  cr_assert_eq(ganc_png_scatter_labels(scratch_path("s.png"), pts, 4, 3, labels, 2, NULL, 0, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "point 2 has label 2"), "%s", err);
  labels[1] = -1;
  cr_assert_eq(ganc_png_scatter_labels(scratch_path("s.png"), pts, 4, 3, labels, 3, NULL, 0, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "point 1 has label -1"), "%s", err);
  cr_assert_eq(ganc_png_scatter_labels(scratch_path("s.png"), pts, 4, 3, NULL, 3, NULL, 0, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "no labels"), "%s", err);
  cr_assert_eq(ganc_png_scatter_labels(scratch_path("s.png"), NULL, 4, 3, labels, 3, NULL, 0, err, sizeof err), -1);
  cr_assert_eq(scratch_entries(), 0, "a refused plot wrote a file");
  labels[1] = 1;
  cr_assert_eq(ganc_png_scatter_labels(scratch_path("nodir/s.png"), pts, 4, 3, labels, 3, NULL, 0, err, sizeof err),
               -1);
  cr_assert_not_null(strstr(err, "nodir/s.png"), "%s", err);
  cr_assert_eq(scratch_entries(), 0);
  /* No points: the legend alone. */
  cr_assert_eq(ganc_png_scatter_labels(scratch_path("e.png"), NULL, 4, 0, NULL, 5, NULL, 0, err, sizeof err), 0, "%s",
               err);
  Picture p = read_png(scratch_path("e.png"), 3);
  for (int k = 0; k < 5; k++)
    cr_assert_gt(label_pixels(&p, k, 0, 512, NULL), 0);
  free(p.pixels);
}

/* ---- Line plots (loss.png) ---- */

static int has_colour(const unsigned char *px, const unsigned char rgb[3])
{
  return px[0] == rgb[0] && px[1] == rgb[1] && px[2] == rgb[2];
}

/* Pixels of line l's colour in rows y0..y1 (exclusive). */
static int count_colour(const Picture *p, int l, int y0, int y1)
{
  unsigned char rgb[3];
  ganc_plot_colour(l, rgb);
  int n = 0;
  for (int y = y0; y < y1; y++)
    for (int x = 0; x < p->width; x++)
      n += has_colour(at(p, x, y), rgb);
  return n;
}

/* Below the legend: the plot area and its margins. */
static int in_plot(const Picture *p, int l)
{
  return count_colour(p, l, GANC_PLOT_LEGEND_HEIGHT, p->height);
}

static Picture plot_png(const char *name, const ganc_plot *plot)
{
  char err[256];
  cr_assert_eq(ganc_png_plot(scratch_path(name), plot, err, sizeof err), 0, "%s", err);
  Picture p = read_png(scratch_path(name), 3);
  cr_assert_eq(p.width, GANC_PLOT_WIDTH);
  cr_assert_eq(p.height, GANC_PLOT_HEIGHT);
  return p;
}

Test(image, plot_lines_axes_and_legend)
{
  enum { N = 20 };
  double x[N], d[N], g[N], m[N], h[N];
  for (int i = 0; i < N; i++) {
    x[i] = 500.0 * (i + 1);
    d[i] = 0.5 + 0.1 * sin(i);
    g[i] = 0.3 + 0.05 * cos(i);
    m[i] = i / (double)N;
    h[i] = 0.5;
  }
  ganc_plot_line lines[] = {{"d_loss", d, 0}, {"g_loss", g, 0}, {"modes/8", m, 1}, {"high_quality", h, 1}};
  ganc_plot plot = {x, N, 1, lines, 4, "step", "loss", "coverage", 0, 1};
  Picture p = plot_png("loss.png", &plot);
  /* Every line in its colour, in the legend (a stroke and a dot) and in
     the plot. */
  for (int l = 0; l < 4; l++) {
    cr_expect_gt(count_colour(&p, l, 0, GANC_PLOT_LEGEND_HEIGHT), 40, "legend entry %d: %d pixels", l,
                 count_colour(&p, l, 0, GANC_PLOT_LEGEND_HEIGHT));
    cr_expect_gt(in_plot(&p, l), 200, "line %d: %d pixels", l, in_plot(&p, l));
  }
  cr_expect_eq(count_colour(&p, 4, 0, p.height), 0, "a fifth colour");
  /* White corners; dark text: the legend's names, the axis labels along
     the edges, the tick labels next to the plot area. */
  const unsigned char *c = at(&p, 0, p.height - 1);
  cr_assert(c[0] == 255 && c[1] == 255 && c[2] == 255);
  int legend = 0, left = 0, right = 0, below = 0, ticks_left = 0, ticks_below = 0;
  for (int y = 0; y < p.height; y++)
    for (int i = 0; i < p.width; i++) {
      const unsigned char *px = at(&p, i, y);
      if (px[0] == px[1] && px[1] == px[2] && px[0] < 60) {
        legend += y < GANC_PLOT_LEGEND_HEIGHT;
        left += i < 28 && y >= GANC_PLOT_LEGEND_HEIGHT;
        right += i >= p.width - 28 && y >= GANC_PLOT_LEGEND_HEIGHT;
        below += y >= p.height - 26;
        ticks_left += i >= 28 && i < 50 && y >= GANC_PLOT_LEGEND_HEIGHT && y < p.height - 50;
        ticks_below += y >= p.height - 40 && y < p.height - 28;
      }
    }
  cr_expect_gt(legend, 150, "no names in the legend");
  cr_expect_gt(left, 30, "no y label");
  cr_expect_gt(right, 30, "no right-hand label");
  cr_expect_gt(below, 30, "no x label");
  cr_expect_gt(ticks_left, 30, "no y tick labels");
  cr_expect_gt(ticks_below, 30, "no x tick labels");
  free(p.pixels);

  /* Without a right-hand axis: two lines, nothing dark on the right. */
  plot.nlines = 2;
  plot.y2_label = NULL;
  p = plot_png("two.png", &plot);
  cr_expect_gt(in_plot(&p, 0), 200);
  cr_expect_gt(in_plot(&p, 1), 200);
  cr_expect_eq(count_colour(&p, 2, 0, p.height), 0);
  right = 0;
  for (int y = 0; y < p.height; y++)
    for (int i = p.width - 12; i < p.width; i++)
      right += at(&p, i, y)[0] < 255;
  cr_expect_eq(right, 0, "%d pixels drawn at the right edge", right);
  free(p.pixels);
}

/* The rows of line l's colour in the plot area. */
static int colour_rows(const Picture *p, int l, int *first)
{
  unsigned char rgb[3];
  ganc_plot_colour(l, rgb);
  int rows = 0;
  *first = -1;
  for (int y = GANC_PLOT_LEGEND_HEIGHT; y < p->height; y++) {
    int any = 0;
    for (int x = 0; x < p->width; x++)
      any |= has_colour(at(p, x, y), rgb);
    if (any && *first < 0)
      *first = y;
    rows += any;
  }
  return rows;
}

/* The runs of columns holding line l's colour, below the legend. */
static int colour_runs(const Picture *p, int l)
{
  unsigned char rgb[3];
  ganc_plot_colour(l, rgb);
  int runs = 0, was = 0;
  for (int x = 0; x < p->width; x++) {
    int any = 0;
    for (int y = GANC_PLOT_LEGEND_HEIGHT; y < p->height; y++)
      any |= has_colour(at(p, x, y), rgb);
    runs += any && !was;
    was = any;
  }
  return runs;
}

Test(image, plot_constant_lines_are_flat)
{
  enum { N = 100 }; /* enough rows for no dots */
  double x[N], a[N], b[N];
  for (int i = 0; i < N; i++) {
    x[i] = i;
    a[i] = 0.25;
    b[i] = 0.25 + 0.001 * i;
  }
  ganc_plot_line lines[] = {{"a", a, 0}, {"b", b, 0}};
  ganc_plot plot = {x, N, 1, lines, 2, "step", "loss", NULL, 0, 0};
  Picture p = plot_png("flat.png", &plot);
  int first;
  cr_expect_eq(colour_rows(&p, 0, &first), 2, "a constant line 2 pixels high");
  free(p.pixels);
  /* Every value the same: still a flat line, in the middle. */
  plot.nlines = 1;
  p = plot_png("flat1.png", &plot);
  cr_expect_eq(colour_rows(&p, 0, &first), 2);
  cr_expect(abs(first - (GANC_PLOT_LEGEND_HEIGHT + p.height) / 2) < 40, "at row %d", first);
  cr_expect_eq(colour_runs(&p, 0), 1);
  free(p.pixels);
}

Test(image, plot_gaps_single_rows_and_nothing)
{
  enum { N = 200 };
  double x[N], a[N], b[N];
  for (int i = 0; i < N; i++) {
    x[i] = 10.0 * i;
    a[i] = sin(i * 0.05);
    b[i] = 2; /* above a, so that it hides none of a */
  }
  a[60] = NAN;
  a[140] = INFINITY; /* gaps */
  b[100] = -INFINITY;
  x[20] = NAN; /* a row left out: no gap */
  ganc_plot_line lines[] = {{"a", a, 0}, {"b", b, 0}};
  ganc_plot plot = {x, N, 1, lines, 2, "step", "loss", NULL, 0, 0};
  Picture p = plot_png("gaps.png", &plot);
  cr_expect_eq(colour_runs(&p, 0), 3, "a NaN and an infinity cut the line in three");
  cr_expect_eq(colour_runs(&p, 1), 2);
  int first;
  cr_expect_eq(colour_rows(&p, 1, &first), 2, "the infinity does not stretch the axis");
  free(p.pixels);

  /* One row: a dot per line. */
  double x1 = 500, a1 = 0.4, b1 = 0.3;
  ganc_plot_line one[] = {{"d_loss", &a1, 0}, {"g_loss", &b1, 0}};
  ganc_plot single = {&x1, 1, 1, one, 2, "step", "loss", NULL, 0, 0};
  p = plot_png("one.png", &single);
  cr_expect_gt(in_plot(&p, 0), 10);
  cr_expect_gt(in_plot(&p, 1), 10);
  cr_expect_eq(colour_runs(&p, 0), 1);
  free(p.pixels);

  /* A lone value between gaps also gets its dot. */
  a[99] = a[101] = NAN;
  p = plot_png("lone.png", &plot);
  cr_expect_eq(colour_runs(&p, 0), 5, "three lines and the lone dot between two gaps");
  free(p.pixels);

  /* No rows, or only NaN: the axes alone. */
  ganc_plot none = {NULL, 0, 1, NULL, 0, "step", "loss", NULL, 0, 0};
  p = plot_png("none.png", &none);
  free(p.pixels);
  for (int i = 0; i < N; i++)
    a[i] = b[i] = NAN;
  p = plot_png("nan.png", &plot);
  cr_expect_eq(in_plot(&p, 0) + in_plot(&p, 1), 0);
  free(p.pixels);
}

Test(image, plot_errors)
{
  double x = 1, y = 1;
  ganc_plot_line line = {"a", &y, 0};
  ganc_plot plot = {&x, 1, 0, &line, 1, "x", "y", NULL, 0, 0};
  char err[256];
  cr_assert_eq(ganc_png_plot(scratch_path("nodir/p.png"), &plot, err, sizeof err), -1);
  cr_assert_not_null(strstr(err, "nodir/p.png"), "%s", err);
  plot.nlines = GANC_PLOT_MAX_LINES + 1;
  cr_assert_eq(ganc_png_plot(scratch_path("p.png"), &plot, err, sizeof err), -1);
  cr_assert_eq(scratch_entries(), 0);
}
