/* peak.c — what one core of this machine can do, for bench/RESULTS.md.
 *
 *   cc -O3 -march=native -o peak bench/peak.c -lopenblas
 *   ./peak            one JSON object per line on standard output
 *   ./peak --sgemm    3. only (with the OpenBLAS line): bench/run.sh times
 *                     each OPENBLAS_CORETYPE it tries this way
 *
 * 1. fp32 FMA throughput: independent accumulators, each a GCC vector as
 *    wide as the machine's registers (64 bytes with AVX-512, 16 of them; 32
 *    bytes otherwise, 12 of them, so that all stay in the 16 registers),
 *    updated acc = acc * m + a (one fused multiply-add, 2 FLOPs per lane).
 *    Best of 41 runs of about 5 ms.
 * 2. Read bandwidth: sums of a 2,201,664-byte array (fashion_mlp's generator
 *    parameters: 550,416 floats) read again and again. Best of 41 runs.
 * 3. OpenBLAS cblas_sgemm, one thread, on the matrix products of
 *    models/fashion_mlp.gan: every linear layer's forward product
 *    Y = X W^T (M = batch, N = out, K = in) at batch 1 and 64, and at batch
 *    64 the two backward products dX = dY W (M = batch, N = in, K = out) and
 *    dW = dY^T X (M = out, N = in, K = batch). FLOPs are 2·M·N·K. Best of
 *    21 runs of at least 5 ms each. */
#define _POSIX_C_SOURCE 200112L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timing.h"

#ifdef __AVX512F__
#define VBYTES 64
#define NACC 16
#else
#define VBYTES 32
#define NACC 12
#endif
typedef float vfloat __attribute__((vector_size(VBYTES)));

/* Many short runs, keeping the best: on a busy machine a short run is more
   likely to go without being interrupted. */
enum { LANES = VBYTES / sizeof(float), RUNS = 41, GEMM_RUNS = 21 };
#define RUN_SECONDS 0.005

static volatile float seed_m = 0.9999999f, seed_a = 1e-7f, seed_x = 0.5f;
static volatile float sink;

/* iters rounds of NACC independent vector FMAs; seconds taken. */
static double fma_run(long iters)
{
  vfloat m, a, acc[NACC];
  for (int l = 0; l < LANES; l++) {
    m[l] = seed_m;
    a[l] = seed_a * (float)(l + 1);
  }
  for (int k = 0; k < NACC; k++)
    for (int l = 0; l < LANES; l++)
      acc[k][l] = seed_x + 0.01f * (float)k;
  double start = now();
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
    for (int k = 0; k < NACC; k++)
      acc[k] = acc[k] * m + a;
  }
  double t = now() - start;
  vfloat s = acc[0];
  for (int k = 1; k < NACC; k++)
    s += acc[k];
  float total = 0;
  for (int l = 0; l < LANES; l++)
    total += s[l];
  sink = total;
  return t;
}

/* passes reads of the n-vector array p; seconds taken. */
static double read_run(const vfloat *p, long n, long passes)
{
  vfloat s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, s4 = {0}, s5 = {0}, s6 = {0}, s7 = {0};
  double start = now();
  for (long r = 0; r < passes; r++) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
      s0 += p[i];
      s1 += p[i + 1];
      s2 += p[i + 2];
      s3 += p[i + 3];
      s4 += p[i + 4];
      s5 += p[i + 5];
      s6 += p[i + 6];
      s7 += p[i + 7];
    }
    for (; i < n; i++)
      s0 += p[i];
    __asm__ volatile("" ::: "memory"); /* read the array again on every pass */
  }
  double t = now() - start;
  vfloat s = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
  float total = 0;
  for (int l = 0; l < LANES; l++)
    total += s[l];
  sink = total;
  return t;
}

static void fma_peak(void)
{
  long iters = 1000;
  while (fma_run(iters) < RUN_SECONDS)
    iters *= 2;
  double best = 1e30;
  for (int r = 0; r < RUNS; r++) {
    double t = fma_run(iters);
    if (t < best)
      best = t;
  }
  double flops = (double)iters * NACC * LANES * 2;
  printf("{\"what\": \"fma\", \"vector_bytes\": %d, \"accumulators\": %d, \"runs\": %d, \"gflops\": %.2f}\n",
         (int)sizeof(vfloat), NACC, RUNS, flops / best * 1e-9);
}

/* fashion_mlp's generator: linear 64->256, 256->512, 512->784, weights and biases. */
static const long gen_params = 64 * 256 + 256 + 256 * 512 + 512 + 512 * 784 + 784;

static void read_peak(void)
{
  long bytes = gen_params * (long)sizeof(float);
  long n = (bytes + (long)sizeof(vfloat) - 1) / (long)sizeof(vfloat);
  vfloat *p = aligned_alloc(64, (size_t)n * sizeof(vfloat));
  if (!p) {
    fputs("peak: out of memory\n", stderr);
    exit(1);
  }
  for (long i = 0; i < n; i++)
    for (int l = 0; l < LANES; l++)
      p[i][l] = (float)((i * LANES + l) % 97) * 0.01f;
  long passes = 1;
  while (read_run(p, n, passes) < RUN_SECONDS)
    passes *= 2;
  double best = 1e30;
  for (int r = 0; r < RUNS; r++) {
    double t = read_run(p, n, passes);
    if (t < best)
      best = t;
  }
  printf("{\"what\": \"read_bandwidth\", \"bytes\": %ld, \"runs\": %d, \"gbs\": %.2f}\n", n * (long)sizeof(vfloat), RUNS,
         (double)n * sizeof(vfloat) * (double)passes / best * 1e-9);
  free(p);
}

typedef struct Product {
  const char *net;
  int layer, in, out;
} Product;

/* One product of a linear layer at a batch size: 0 forward, 1 dX, 2 dW. */
typedef struct Call {
  int pass, batch, in, out;
  const float *x, *w, *dy;
  float *c;
} Call;

static void gemm(void *ctx)
{
  const Call *g = ctx;
  int batch = g->batch, in = g->in, out = g->out;
  const float *x = g->x, *w = g->w, *dy = g->dy;
  float *c = g->c;
  switch (g->pass) {
  case 0: /* Y[batch, out] = X[batch, in] W[out, in]^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, out, in, 1.0f, x, in, w, in, 0.0f, c, out);
    break;
  case 1: /* dX[batch, in] = dY[batch, out] W[out, in] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, in, out, 1.0f, dy, out, w, in, 0.0f, c, in);
    break;
  default: /* dW[out, in] = dY[batch, out]^T X[batch, in] */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, batch, 1.0f, dy, out, x, in, 0.0f, c, in);
    break;
  }
}

static void sgemm_one(const Product *p, int pass, int batch)
{
  static const char *const pass_name[3] = {"forward", "grad_input", "grad_weight"};
  int in = p->in, out = p->out;
  float *x = filled((long)batch * in), *w = filled((long)out * in), *dy = filled((long)batch * out);
  float *c = filled((long)(batch > out ? batch : out) * (in > out ? in : out));
  Call call = {pass, batch, in, out, x, w, dy, c};
  double best = best_seconds(gemm, &call, RUN_SECONDS, GEMM_RUNS);
  int M = pass == 2 ? out : batch, N = pass == 0 ? out : in, K = pass == 0 ? in : pass == 1 ? out : batch;
  double flops = 2.0 * M * N * K;
  printf("{\"what\": \"sgemm\", \"net\": \"%s\", \"layer\": %d, \"in\": %d, \"out\": %d, \"batch\": %d, "
         "\"pass\": \"%s\", \"M\": %d, \"N\": %d, \"K\": %d, \"transA\": %s, \"transB\": %s, "
         "\"runs\": %d, \"flops\": %.0f, \"us\": %.3f, \"gflops\": %.2f}\n",
         p->net, p->layer, in, out, batch, pass_name[pass], M, N, K, pass == 2 ? "true" : "false",
         pass == 0 ? "true" : "false", GEMM_RUNS, flops, best * 1e6, flops / best * 1e-9);
  fflush(stdout);
  free(x);
  free(w);
  free(dy);
  free(c);
}

int main(int argc, char **argv)
{
  /* fashion_mlp's linear layers; the index is the layer's position in its
     nn.Sequential, as the safetensors names count them. */
  static const Product products[] = {
      {"generator", 0, 64, 256},      {"generator", 2, 256, 512},     {"generator", 4, 512, 784},
      {"discriminator", 1, 784, 512}, {"discriminator", 3, 512, 256}, {"discriminator", 5, 256, 1},
  };
  enum { NPRODUCTS = sizeof products / sizeof products[0] };
  int sgemm_only = argc == 2 && strcmp(argv[1], "--sgemm") == 0;
  if (argc > 1 && !sgemm_only) {
    fputs("usage: peak [--sgemm]\n", stderr);
    return 2;
  }
  openblas_set_num_threads(1);
  if (!sgemm_only) {
    fma_peak();
    read_peak();
  }
  printf("{\"what\": \"openblas\", \"core\": \"%s\", \"config\": \"%s\", \"threads\": %d}\n",
         openblas_get_corename(), openblas_get_config(), openblas_get_num_threads());
  fflush(stdout);
  for (int i = 0; i < NPRODUCTS; i++)
    if (strcmp(products[i].net, "generator") == 0)
      sgemm_one(&products[i], 0, 1);
  for (int i = 0; i < NPRODUCTS; i++)
    for (int pass = 0; pass < 3; pass++)
      sgemm_one(&products[i], pass, 64);
  return 0;
}
