/* test_kernels.c — the JIT's kernel tables (runtime/kernels.inc as the
 * runtime built it for this CPU: ganc_kernels) against definitions written
 * out here.
 *
 * The products (dense and its two gradients) run over shapes that cross
 * every blocking edge: samples, outputs and inputs of 1 up to past the
 * register block, the vector, the panel, the packed rows (GEMM_KC = 256)
 * and dense's output blocks (DENSE_OC outputs by 64 samples; a packed
 * model's G tile reaches 128 samples). Inputs are small integers, so every sum is exact in float whatever
 * its order: results are compared for equality, and the scalars around
 * each output must be left alone.
 *
 * Each check runs on the runtime's table for this CPU and, in float, on
 * every layout of kernels.inc (GNU vectors of 64, 32 and 16 bytes, plain
 * C), built for the tests whatever this CPU runs.
 *
 * upsample and its gradient run on scales 1 to 7 (2, which the kernels
 * pass to their loops as a constant, among them), square and non-square
 * inputs, several samples, exactly and between sentinels too.
 *
 * tanh and sigmoid in float are the runtime's own vectorizable functions;
 * they are compared with libm's in double, in units in the last place, over
 * a sweep of the float line and at NaN, infinities and zeros. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

typedef void (*DenseF)(float *, const float *, const float *, const float *, float *, int, int, int);
typedef void (*DenseD)(double *, const double *, const double *, const double *, double *, int, int, int);
typedef void (*BackInputF)(float *, const float *, const float *, int, int, int);
typedef void (*BackInputD)(double *, const double *, const double *, int, int, int);
typedef void (*BackParamsF)(float *, float *, const float *, const float *, int, int, int);
typedef void (*BackParamsD)(double *, double *, const double *, const double *, int, int, int);
typedef void (*ActF)(float *, const float *, int);

/* Besides the runtime's table for this CPU, the tests link every layout of
   runtime/kernels.inc in float (Makefile: TEST_KERNEL_LAYOUTS), so that
   the AVX-512 blocking, say, is checked on a machine without it. */
extern const ganc_kernel ganc_test_kernels_layout_64[], ganc_test_kernels_layout_32[],
    ganc_test_kernels_layout_16[], ganc_test_kernels_layout_0[];

static const struct Layout {
  const char *name;
  const ganc_kernel *table; /* NULL: the runtime's, ganc_kernels() */
} LAYOUTS[] = {
    {"this CPU's kernels", NULL},
    {"64-byte vectors", ganc_test_kernels_layout_64},
    {"32-byte vectors", ganc_test_kernels_layout_32},
    {"16-byte vectors", ganc_test_kernels_layout_16},
    {"plain C", ganc_test_kernels_layout_0},
};
enum { NLAYOUTS = sizeof LAYOUTS / sizeof *LAYOUTS };

static const struct Layout *layout = &LAYOUTS[0]; /* the float kernels under test */

static const void *kernel(int size, const char *name)
{
  const ganc_kernel *table = size == 4 && layout->table ? layout->table : ganc_kernels(size);
  for (const ganc_kernel *k = table; k->name; k++)
    if (strcmp(k->name, name) == 0)
      return k->fn;
  cr_assert_fail("no kernel %s for scalar size %d", name, size);
  return NULL;
}

enum { GUARD = 16 };
static const double SENTINEL = 12345.0;

/* n scalars between GUARD sentinels on each side; returns the first. */
static double *guarded(size_t n)
{
  double *p = malloc(sizeof(double) * (n + 2 * GUARD));
  cr_assert_not_null(p);
  for (size_t i = 0; i < n + 2 * GUARD; i++)
    p[i] = SENTINEL;
  return p + GUARD;
}

static void guard_check(const double *p, size_t n, const char *what)
{
  for (int i = 1; i <= GUARD; i++) {
    cr_assert(p[-i] == SENTINEL, "%s: written before its start", what);
    cr_assert(p[n - 1 + i] == SENTINEL, "%s: written past its end", what);
  }
}

/* integers in [-4, 4] */
static void fill(double *p, size_t n, unsigned *seed)
{
  for (size_t i = 0; i < n; i++) {
    *seed = *seed * 1103515245u + 12345u;
    p[i] = (double)((int)((*seed >> 16) % 9) - 4);
  }
}

/* The kernels take arrays of their own scalar; these copy to and from. */
static void *as_scalars(int size, const double *p, size_t n)
{
  char *q = malloc(size * (n + 2 * GUARD));
  cr_assert_not_null(q);
  for (size_t i = 0; i < n + 2 * GUARD; i++) {
    double v = p[(ptrdiff_t)i - GUARD];
    if (size == 4)
      ((float *)q)[i] = (float)v;
    else
      ((double *)q)[i] = v;
  }
  return q + size * GUARD;
}

static void from_scalars(double *p, const void *q, int size, size_t n)
{
  for (size_t i = 0; i < n + 2 * GUARD; i++)
    p[(ptrdiff_t)i - GUARD] = size == 4 ? ((const float *)q)[(ptrdiff_t)i - GUARD]
                                        : ((const double *)q)[(ptrdiff_t)i - GUARD];
}

static void release(void *q, int size)
{
  free((char *)q - size * GUARD);
}

static void check_equal(const double *got, const double *want, size_t n, const char *what, int size, int t, int out,
                        int in)
{
  guard_check(got, n, what);
  for (size_t i = 0; i < n; i++)
    cr_assert(got[i] == want[i], "%s, %s (scalar size %d, t %d, out %d, in %d): element %zu is %g, want %g",
              layout->name, what, size, t, out, in, i, got[i], want[i]);
}

/* y = b + x w^T, dx = dy w, gw += dy^T x, gb += column sums of dy, each
   through the table of one scalar size and by the definition. */
static void check_dense(int size, int t, int out, int in, unsigned seed)
{
  size_t nw = (size_t)out * in, nx = (size_t)t * in, ny = (size_t)t * out;
  size_t ncs = (size_t)in * ((t + 15) / 16 * 16);
  double *w = guarded(nw), *b = guarded(out), *x = guarded(nx), *dy = guarded(ny);
  double *gw0 = guarded(nw), *gb0 = guarded(out);
  fill(w, nw, &seed);
  fill(b, out, &seed);
  fill(x, nx, &seed);
  fill(dy, ny, &seed);
  fill(gw0, nw, &seed);
  fill(gb0, out, &seed);

  double *y = guarded(ny), *dx = guarded(nx), *gw = guarded(nw), *gb = guarded(out);
  double *want_y = guarded(ny), *want_dx = guarded(nx), *want_gw = guarded(nw), *want_gb = guarded(out);
  for (int s = 0; s < t; s++)
    for (int o = 0; o < out; o++) {
      double v = b[o];
      for (int i = 0; i < in; i++)
        v += x[(size_t)s * in + i] * w[(size_t)o * in + i];
      want_y[(size_t)s * out + o] = v;
    }
  for (int s = 0; s < t; s++)
    for (int i = 0; i < in; i++) {
      double v = 0;
      for (int o = 0; o < out; o++)
        v += dy[(size_t)s * out + o] * w[(size_t)o * in + i];
      want_dx[(size_t)s * in + i] = v;
    }
  for (int o = 0; o < out; o++) {
    double vb = gb0[o];
    for (int s = 0; s < t; s++)
      vb += dy[(size_t)s * out + o];
    want_gb[o] = vb;
    for (int i = 0; i < in; i++) {
      double v = gw0[(size_t)o * in + i];
      for (int s = 0; s < t; s++)
        v += dy[(size_t)s * out + o] * x[(size_t)s * in + i];
      want_gw[(size_t)o * in + i] = v;
    }
  }

  void *sw = as_scalars(size, w, nw), *sb = as_scalars(size, b, out), *sx = as_scalars(size, x, nx);
  void *sdy = as_scalars(size, dy, ny), *sy = as_scalars(size, y, ny), *sdx = as_scalars(size, dx, nx);
  void *sgw = as_scalars(size, gw0, nw), *sgb = as_scalars(size, gb0, out);
  void *scs = malloc(size * (ncs ? ncs : 1));
  cr_assert_not_null(scs);
  if (size == 4) {
    ((DenseF)kernel(4, "dense"))(sy, sw, sb, sx, scs, t, out, in);
    ((BackInputF)kernel(4, "dense_back_input"))(sdx, sw, sdy, t, out, in);
    ((BackParamsF)kernel(4, "dense_back_params"))(sgw, sgb, sdy, sx, t, out, in);
  } else {
    ((DenseD)kernel(8, "dense"))(sy, sw, sb, sx, scs, t, out, in);
    ((BackInputD)kernel(8, "dense_back_input"))(sdx, sw, sdy, t, out, in);
    ((BackParamsD)kernel(8, "dense_back_params"))(sgw, sgb, sdy, sx, t, out, in);
  }
  from_scalars(y, sy, size, ny);
  from_scalars(dx, sdx, size, nx);
  from_scalars(gw, sgw, size, nw);
  from_scalars(gb, sgb, size, out);
  check_equal(y, want_y, ny, "dense", size, t, out, in);
  check_equal(dx, want_dx, nx, "dense_back_input", size, t, out, in);
  check_equal(gw, want_gw, nw, "dense_back_params (weight)", size, t, out, in);
  check_equal(gb, want_gb, out, "dense_back_params (bias)", size, t, out, in);

  void *all[] = {sw, sb, sx, sdy, sy, sdx, sgw, sgb};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    release(all[i], size);
  free(scs);
  double *mine[] = {w, b, x, dy, gw0, gb0, y, dx, gw, gb, want_y, want_dx, want_gw, want_gb};
  for (size_t i = 0; i < sizeof mine / sizeof *mine; i++)
    free(mine[i] - GUARD);
}

static const int SAMPLES[] = {1, 2, 7, 8, 9, 16, 17, 31, 33, 64, 65, 130};
static const int OUTS[] = {1, 3, 4, 5, 6, 7, 13, 24, 65, 300};
static const int INS[] = {1, 5, 8, 17, 64, 257};

static void sweep(int size)
{
  unsigned seed = 7;
  for (size_t a = 0; a < sizeof SAMPLES / sizeof *SAMPLES; a++)
    for (size_t o = 0; o < sizeof OUTS / sizeof *OUTS; o++)
      for (size_t i = 0; i < sizeof INS / sizeof *INS; i++)
        check_dense(size, SAMPLES[a], OUTS[o], INS[i], seed++);
}

Test(kernels, dense_products_exact_float)
{
  for (int l = 0; l < NLAYOUTS; l++) {
    layout = &LAYOUTS[l];
    sweep(4);
  }
}

Test(kernels, dense_products_exact_double)
{
  sweep(8);
}

/* |got - want| in units in the last place of the float nearest want. */
static double ulps(float got, double want)
{
  float w = (float)want;
  double ulp = w == 0 ? 0x1p-149 : fabs((double)nextafterf(fabsf(w), INFINITY) - fabsf(w));
  return fabs((double)got - want) / ulp;
}

static float run_act(ActF f, float x)
{
  float y;
  f(&y, &x, 1);
  return y;
}

/* Every float of magnitude 2^-30 to 2^6 on a grid of 2^-12 relative steps
   (both signs), and the values either side of the switch to the series. */
static void check_activation(const char *name, double (*ref)(double), double max_ulps)
{
  ActF f = (ActF)kernel(4, name);
  double worst = 0;
  float worst_x = 0;
  for (int sign = -1; sign <= 1; sign += 2)
    for (double m = 0x1p-30; m < 0x1p6; m *= 1 + 0x1p-12) {
      float x = (float)(sign * m);
      double e = ulps(run_act(f, x), ref(x));
      if (e > worst) {
        worst = e;
        worst_x = x;
      }
    }
  float edges[] = {0.25f, nextafterf(0.25f, 0), nextafterf(0.25f, 1), -0.25f, 43.5f, 87.0f, -87.0f, 100.0f, -100.0f};
  for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
    double e = ulps(run_act(f, edges[i]), ref(edges[i]));
    if (e > worst) {
      worst = e;
      worst_x = edges[i];
    }
  }
  cr_expect(worst <= max_ulps, "%s, %s: %.2f ulps at x = %.9g (%.9g, libm %.9g)", layout->name, name, worst, worst_x,
            run_act(f, worst_x), ref(worst_x));
  cr_expect(isnan(run_act(f, NAN)), "%s, %s(NaN) is not NaN", layout->name, name);
}

static double sigmoid(double x)
{
  return 1 / (1 + exp(-x));
}

Test(kernels, tanh_float_within_4_ulps)
{
  for (int l = 0; l < NLAYOUTS; l++) {
    layout = &LAYOUTS[l];
    check_activation("act_tanh", tanh, 4);
    ActF f = (ActF)kernel(4, "act_tanh");
    cr_expect(run_act(f, INFINITY) == 1 && run_act(f, -INFINITY) == -1, "%s", layout->name);
    cr_expect(run_act(f, 0.0f) == 0 && !signbit(run_act(f, 0.0f)), "%s", layout->name);
    cr_expect(run_act(f, -0.0f) == 0 && signbit(run_act(f, -0.0f)), "%s: tanh(-0) is not -0", layout->name);
    cr_expect(run_act(f, 0x1p-140f) == 0x1p-140f, "%s: tanh of a subnormal is not itself", layout->name);
  }
}

Test(kernels, sigmoid_float_within_4_ulps)
{
  for (int l = 0; l < NLAYOUTS; l++) {
    layout = &LAYOUTS[l];
    check_activation("act_sigmoid", sigmoid, 4);
    ActF f = (ActF)kernel(4, "act_sigmoid");
    cr_expect(run_act(f, INFINITY) == 1 && run_act(f, -INFINITY) == 0, "%s", layout->name);
    cr_expect(run_act(f, 0.0f) == 0.5f, "%s", layout->name);
  }
}

typedef void (*LeakyF)(float *, const float *, int, float);
typedef void (*LeakyBackF)(float *, const float *, const float *, int, float);

/* The definition, element by element, on values of every kind. */
Test(kernels, leaky_relu_exact)
{
  const float x[] = {3.5f, -3.5f, 0.0f, 1e-30f, -1e-30f, 0x1p-140f, -0x1p-140f, INFINITY, -INFINITY, 1e30f, -1e30f};
  enum { N = sizeof x / sizeof *x };
  float y[N], dx[N], dy[N];
  for (int i = 0; i < N; i++)
    dy[i] = (float)(i + 1) * 0.75f;
  for (int l = 0; l < NLAYOUTS; l++) {
    layout = &LAYOUTS[l];
    ((LeakyF)kernel(4, "act_leaky_relu"))(y, x, N, 0.2f);
    ((LeakyBackF)kernel(4, "act_leaky_relu_back"))(dx, x, dy, N, 0.2f);
    for (int i = 0; i < N; i++) {
      float want = x[i] > 0 ? x[i] : 0.2f * x[i], want_dx = x[i] > 0 ? dy[i] : 0.2f * dy[i];
      cr_expect(y[i] == want, "%s: leaky_relu(%g) is %g, want %g", layout->name, x[i], y[i], want);
      cr_expect(dx[i] == want_dx, "%s: leaky_relu_back at %g is %g, want %g", layout->name, x[i], dx[i], want_dx);
    }
    float nan = NAN, out;
    ((LeakyF)kernel(4, "act_leaky_relu"))(&out, &nan, 1, 0.2f);
    cr_expect(isnan(out), "%s: leaky_relu(NaN) is not NaN", layout->name);
  }
}

/* ---- convolutions, several samples at a time ---- */

typedef void (*ConvF)(float *, const float *, const float *, const float *, float *, int, int, int, int, int, int,
                      int, int, int, int, int);
typedef void (*ConvBackParamsF)(float *, float *, const float *, const float *, float *, int, int, int, int, int, int,
                                int, int, int, int, int);
typedef void (*ConvBackInputF)(float *, const float *, const float *, float *, int, int, int, int, int, int, int, int,
                               int, int, int);

typedef struct Geometry {
  int c, h, w, o, k, s, p; /* input channels and size, output channels, kernel, stride, padding */
} Geometry;

static float *to_float(const double *p, size_t n)
{
  float *f = malloc(sizeof(float) * (n ? n : 1));
  cr_assert_not_null(f);
  for (size_t i = 0; i < n; i++)
    f[i] = (float)p[i];
  return f;
}

static void expect_same(const float *got, const double *want, size_t n, const char *what, int transposed, int nb)
{
  for (size_t i = 0; i < n; i++)
    cr_assert(got[i] == want[i], "%s, %s%s (nb %d): element %zu is %g, want %g", layout->name,
              transposed ? "conv_transpose2d" : "conv2d", what, nb, i, got[i], want[i]);
}

/* One layer on t samples, nb at a time: forward, and both gradients (added
   to nonzero ones), against the definitions: for conv2d, big is the input
   and small the output; for conv_transpose2d the other way round. */
static void check_conv(Geometry g, int transposed, int t, int nb, unsigned seed)
{
  int bh = g.h, bw = g.w, sh = (g.h + 2 * g.p - g.k) / g.s + 1, sw = (g.w + 2 * g.p - g.k) / g.s + 1;
  int bc = g.c, sc = g.o; /* channels of the big and the small side */
  if (transposed) {
    /* the small grid is the input: big = (small - 1) s - 2p + k */
    sh = g.h, sw = g.w, bh = (g.h - 1) * g.s - 2 * g.p + g.k, bw = (g.w - 1) * g.s - 2 * g.p + g.k;
    bc = g.o, sc = g.c;
  }
  size_t nbig = (size_t)bc * bh * bw, nsmall = (size_t)sc * sh * sw, nw = (size_t)g.c * g.o * g.k * g.k;
  size_t nin = transposed ? nsmall : nbig, nout = transposed ? nbig : nsmall;
  double *x = calloc((size_t)t * nin, sizeof *x), *dy = calloc((size_t)t * nout, sizeof *dy);
  double *w = calloc(nw, sizeof *w), *b = calloc(g.o, sizeof *b), *gw = calloc(nw, sizeof *gw);
  double *gb = calloc(g.o, sizeof *gb), *y = calloc((size_t)t * nout, sizeof *y);
  double *dx = calloc((size_t)t * nin, sizeof *dx);
  fill(x, (size_t)t * nin, &seed);
  fill(dy, (size_t)t * nout, &seed);
  fill(w, nw, &seed);
  fill(b, g.o, &seed);
  fill(gw, nw, &seed);
  fill(gb, g.o, &seed);
  float *fgw = to_float(gw, nw), *fgb = to_float(gb, g.o);

  /* the definitions: every (sample, big channel, small channel, small
     position, kernel offset) pairs big[by][bx] with small[sy][sx] through
     the weight; conv2d's weight is [small][big], conv_transpose2d's
     [small][big] too (its input channels first) */
  for (int n = 0; n < t; n++) {
    const double *xin = x + (size_t)n * nin, *dyo = dy + (size_t)n * nout;
    double *yo = y + (size_t)n * nout, *dxi = dx + (size_t)n * nin;
    for (int q = 0; q < g.o; q++)
      for (size_t j = 0; j < nout / g.o; j++)
        yo[(size_t)q * (nout / g.o) + j] = b[q];
    for (int bcn = 0; bcn < bc; bcn++)
      for (int scn = 0; scn < sc; scn++)
        for (int sy = 0; sy < sh; sy++)
          for (int sx = 0; sx < sw; sx++)
            for (int ky = 0; ky < g.k; ky++)
              for (int kx = 0; kx < g.k; kx++) {
                int by = sy * g.s - g.p + ky, bx = sx * g.s - g.p + kx;
                if (by < 0 || by >= bh || bx < 0 || bx >= bw)
                  continue;
                size_t wi = (((size_t)scn * bc + bcn) * g.k + ky) * g.k + kx;
                size_t big = ((size_t)bcn * bh + by) * bw + bx, small = ((size_t)scn * sh + sy) * sw + sx;
                if (!transposed) {
                  yo[small] += w[wi] * xin[big];
                  dxi[big] += w[wi] * dyo[small];
                  gw[wi] += dyo[small] * xin[big];
                } else {
                  yo[big] += w[wi] * xin[small];
                  dxi[small] += w[wi] * dyo[big];
                  gw[wi] += xin[small] * dyo[big];
                }
              }
    for (int q = 0; q < g.o; q++)
      for (size_t j = 0; j < nout / g.o; j++)
        gb[q] += dyo[(size_t)q * (nout / g.o) + j];
  }

  int64_t per = transposed ? (int64_t)sh * sw * (g.o * g.k * g.k + g.c) : (int64_t)sh * sw * (g.c * g.k * g.k + g.o);
  float *cs = malloc(sizeof(float) * (size_t)(per * nb));
  float *fx = to_float(x, (size_t)t * nin), *fdy = to_float(dy, (size_t)t * nout), *fw = to_float(w, nw);
  float *fb = to_float(b, g.o), *fy = calloc((size_t)t * nout, sizeof *fy), *fdx = calloc((size_t)t * nin, sizeof *fdx);
  cr_assert(cs && fy && fdx);
  const char *name = transposed ? "conv_transpose2d" : "conv2d";
  char back_params[64], back_input[64];
  snprintf(back_params, sizeof back_params, "%s_back_params", name);
  snprintf(back_input, sizeof back_input, "%s_back_input", name);
  int oh = transposed ? bh : sh, ow = transposed ? bw : sw;
  ((ConvF)kernel(4, name))(fy, fw, fb, fx, cs, t, nb, g.c, g.h, g.w, g.o, oh, ow, g.k, g.s, g.p);
  ((ConvBackParamsF)kernel(4, back_params))(fgw, fgb, fdy, fx, cs, t, nb, g.c, g.h, g.w, g.o, oh, ow, g.k, g.s, g.p);
  ((ConvBackInputF)kernel(4, back_input))(fdx, fw, fdy, cs, t, nb, g.c, g.h, g.w, g.o, oh, ow, g.k, g.s, g.p);
  expect_same(fy, y, (size_t)t * nout, "", transposed, nb);
  expect_same(fdx, dx, (size_t)t * nin, "_back_input", transposed, nb);
  expect_same(fgw, gw, nw, "_back_params (weight)", transposed, nb);
  expect_same(fgb, gb, g.o, "_back_params (bias)", transposed, nb);

  void *all[] = {x, dy, w, b, gw, gb, y, dx, fgw, fgb, cs, fx, fdy, fw, fb, fy, fdx};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    free(all[i]);
}

static const Geometry GEOMETRIES[] = {
    {1, 28, 28, 32, 4, 2, 1}, {32, 14, 14, 64, 4, 2, 1}, {3, 9, 7, 5, 3, 1, 1}, {2, 8, 11, 3, 3, 3, 2},
    {4, 5, 5, 6, 1, 1, 0},    {3, 6, 6, 2, 2, 2, 0},     {5, 7, 7, 7, 5, 2, 2},
};

/* 5 samples in groups of 1, 2 (the last one short) and 5. */
Test(kernels, convolutions_in_groups_exact)
{
  unsigned seed = 11;
  for (int l = 0; l < NLAYOUTS; l++) {
    layout = &LAYOUTS[l];
    for (size_t i = 0; i < sizeof GEOMETRIES / sizeof *GEOMETRIES; i++)
      for (int transposed = 0; transposed <= 1; transposed++)
        for (int nb = 1; nb <= 5; nb += nb == 1 ? 1 : 3)
          check_conv(GEOMETRIES[i], transposed, 5, nb, seed++);
  }
}

/* ---- upsample ---- */

typedef void (*UpsampleF)(float *, const float *, int, int, int, int, int);
typedef void (*UpsampleD)(double *, const double *, int, int, int, int, int);

/* t samples [c, h, w] upsampled by s and back, through the table of one
   scalar size, against the definitions: y[n][q][i][j] = x[n][q][i/s][j/s],
   and dx[n][q][i][j] the sum of dy over the s x s block it was copied to.
   Small integers keep every sum exact; the sentinels around each output
   must stay. */
static void check_upsample(int size, int t, int c, int h, int w, int s, unsigned seed)
{
  size_t nx = (size_t)t * c * h * w, ny = nx * s * s;
  int oh = h * s, ow = w * s;
  double *x = guarded(nx), *dy = guarded(ny), *y = guarded(ny), *dx = guarded(nx);
  double *want_y = guarded(ny), *want_dx = guarded(nx);
  fill(x, nx, &seed);
  fill(dy, ny, &seed);
  for (size_t i = 0; i < nx; i++)
    want_dx[i] = 0;
  for (int n = 0; n < t; n++)
    for (int q = 0; q < c; q++)
      for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++) {
          size_t out = (((size_t)n * c + q) * oh + i) * ow + j, in = (((size_t)n * c + q) * h + i / s) * w + j / s;
          want_y[out] = x[in];
          want_dx[in] += dy[out];
        }

  void *sx = as_scalars(size, x, nx), *sdy = as_scalars(size, dy, ny);
  void *sy = as_scalars(size, y, ny), *sdx = as_scalars(size, dx, nx);
  if (size == 4) {
    ((UpsampleF)kernel(4, "upsample"))(sy, sx, t, c, h, w, s);
    ((UpsampleF)kernel(4, "upsample_back"))(sdx, sdy, t, c, h, w, s);
  } else {
    ((UpsampleD)kernel(8, "upsample"))(sy, sx, t, c, h, w, s);
    ((UpsampleD)kernel(8, "upsample_back"))(sdx, sdy, t, c, h, w, s);
  }
  from_scalars(y, sy, size, ny);
  from_scalars(dx, sdx, size, nx);
  char what[128];
  snprintf(what, sizeof what, "upsample [%d, %d, %d] by %d", c, h, w, s);
  check_equal(y, want_y, ny, what, size, t, (int)(ny / t), (int)(nx / t));
  snprintf(what, sizeof what, "upsample_back [%d, %d, %d] by %d", c, h, w, s);
  check_equal(dx, want_dx, nx, what, size, t, (int)(ny / t), (int)(nx / t));

  void *all[] = {sx, sdy, sy, sdx};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    release(all[i], size);
  double *mine[] = {x, dy, y, dx, want_y, want_dx};
  for (size_t i = 0; i < sizeof mine / sizeof *mine; i++)
    free(mine[i] - GUARD);
}

/* c, h, w, s: scale 1 (a copy), 2 (passed to the loops as a constant) and
   others, square and not, rows shorter and longer than a vector. */
static const int UPSAMPLES[][4] = {
    {1, 1, 1, 1}, {2, 3, 5, 1}, {1, 1, 1, 2}, {3, 4, 4, 2}, {2, 5, 3, 2}, {1, 2, 37, 2},
    {2, 3, 7, 3}, {1, 6, 2, 4}, {4, 1, 9, 5}, {2, 7, 7, 3}, {1, 3, 20, 7},
};

static void upsample_sweep(int size)
{
  unsigned seed = 13;
  static const int ts[] = {1, 3, 8};
  for (size_t g = 0; g < sizeof UPSAMPLES / sizeof *UPSAMPLES; g++)
    for (size_t k = 0; k < sizeof ts / sizeof *ts; k++)
      check_upsample(size, ts[k], UPSAMPLES[g][0], UPSAMPLES[g][1], UPSAMPLES[g][2], UPSAMPLES[g][3], seed++);
}

Test(kernels, upsample_exact_float)
{
  for (int l = 0; l < NLAYOUTS; l++) {
    layout = &LAYOUTS[l];
    upsample_sweep(4);
  }
}

Test(kernels, upsample_exact_double)
{
  upsample_sweep(8);
}
