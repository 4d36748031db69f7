/* products.c — ganc's own matrix products of models/fashion_mlp.gan, one at a
 * time, for bench/RESULTS.md: the same kernels the JIT links its code against
 * (runtime/kernels.inc, the table ganc_kernels picks for this CPU), called as
 * the emitted code calls them.
 *
 *   cc -O2 -Iruntime -o products bench/products.c build/libganc.a LIBS
 *   ./products TILE TRAIN_TILE BATCH    one JSON object per line on stdout
 *
 * TILE and TRAIN_TILE are the model's tiles (`ganc check --dump=plan`
 * prints them): the inference functions take a batch TILE samples at a
 * time, the training passes TRAIN_TILE, so a product at batch BATCH is
 * BATCH / TILE kernel calls on TILE samples each (one call on BATCH samples
 * when BATCH < TILE). For every linear layer: forward `dense` (Y = X W^T)
 * on tiles of TILE, as generate and the losses run it, and on tiles of
 * TRAIN_TILE grad input `dense_back_input` (dX = dY W) and grad weight
 * `dense_back_params` (dW += dY^T X, with the bias's sums). FLOPs are
 * 2·batch·in·out. One thread; each figure the best of 21 runs of at least
 * 5 ms, as bench/peak.c times OpenBLAS's products. */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ganc.h"
#include "kernels.h"
#include "timing.h"

enum { RUNS = 21 };
#define RUN_SECONDS 0.005

typedef void dense_fn(float *y, const float *w, const float *b, const float *x, float *cs, int t, int out, int in);
typedef void back_input_fn(float *dx, const float *w, const float *dy, int t, int out, int in);
typedef void back_params_fn(float *gw, float *gb, const float *dy, const float *x, int t, int out, int in);

static dense_fn *dense;
static back_input_fn *back_input;
static back_params_fn *back_params;

typedef struct Product {
  const char *net;
  int layer, in, out;
} Product;

/* The buffers of one layer's products, sized for the whole batch. */
typedef struct Bufs {
  float *x, *w, *b, *dy, *y, *cs, *gw, *gb;
} Bufs;

static const void *kernel(const ganc_kernel *table, const char *name)
{
  for (; table->name; table++)
    if (strcmp(table->name, name) == 0)
      return table->fn;
  fprintf(stderr, "products: no kernel %s\n", name);
  exit(1);
}

/* One product over the batch, tile by tile: 0 forward, 1 dX, 2 dW. */
typedef struct Call {
  int pass, batch, tile;
  const Product *p;
  const Bufs *b;
} Call;

static void product(void *ctx)
{
  const Call *c = ctx;
  int pass = c->pass, batch = c->batch, tile = c->tile;
  const Product *p = c->p;
  const Bufs *b = c->b;
  for (int s = 0; s < batch; s += tile) {
    int t = batch - s < tile ? batch - s : tile;
    const float *x = b->x + (size_t)s * p->in, *dy = b->dy + (size_t)s * p->out;
    switch (pass) {
    case 0: dense(b->y + (size_t)s * p->out, b->w, b->b, x, b->cs, t, p->out, p->in); break;
    case 1: back_input(b->y + (size_t)s * p->in, b->w, dy, t, p->out, p->in); break;
    default: back_params(b->gw, b->gb, dy, x, t, p->out, p->in); break;
    }
  }
}

static void time_one(const Product *p, int pass, int batch, int tile)
{
  static const char *const pass_name[3] = {"forward", "grad_input", "grad_weight"};
  static const char *const kernel_name[3] = {"dense", "dense_back_input", "dense_back_params"};
  int in = p->in, out = p->out, big = in > out ? in : out;
  Bufs b = {filled((long)batch * in), filled((long)out * in), filled(out),   filled((long)batch * out),
            filled((long)batch * big), filled((long)in * ((tile + 15) / 16 * 16)), filled((long)out * in),
            filled(out)};
  Call call = {pass, batch, tile, p, &b};
  double best = best_seconds(product, &call, RUN_SECONDS, RUNS);
  double flops = 2.0 * batch * in * out;
  printf("{\"what\": \"ganc_product\", \"net\": \"%s\", \"layer\": %d, \"in\": %d, \"out\": %d, \"batch\": %d, "
         "\"tile\": %d, \"pass\": \"%s\", \"kernel\": \"%s\", \"runs\": %d, \"flops\": %.0f, \"us\": %.3f, "
         "\"gflops\": %.2f, \"threads\": %d}\n",
         p->net, p->layer, in, out, batch, tile < batch ? tile : batch, pass_name[pass], kernel_name[pass], RUNS,
         flops, best * 1e6, flops / best * 1e-9, ganc_threads());
  fflush(stdout);
  float *all[] = {b.x, b.w, b.b, b.dy, b.y, b.cs, b.gw, b.gb};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    free(all[i]);
}

int main(int argc, char **argv)
{
  /* fashion_mlp's linear layers, numbered as in bench/peak.c. */
  static const Product products[] = {
      {"generator", 0, 64, 256},      {"generator", 2, 256, 512},     {"generator", 4, 512, 784},
      {"discriminator", 1, 784, 512}, {"discriminator", 3, 512, 256}, {"discriminator", 5, 256, 1},
  };
  int tile = argc == 4 ? atoi(argv[1]) : 0, train_tile = argc == 4 ? atoi(argv[2]) : 0;
  int batch = argc == 4 ? atoi(argv[3]) : 0;
  if (tile < 1 || train_tile < 1 || batch < 1) {
    fputs("usage: products TILE TRAIN_TILE BATCH\n", stderr);
    return 2;
  }
  ganc_set_threads(1);
  const ganc_kernel *table = ganc_kernels(4);
  *(const void **)&dense = kernel(table, "dense");
  *(const void **)&back_input = kernel(table, "dense_back_input");
  *(const void **)&back_params = kernel(table, "dense_back_params");
  for (size_t i = 0; i < sizeof products / sizeof products[0]; i++)
    for (int pass = 0; pass < 3; pass++)
      time_one(&products[i], pass, batch, pass ? train_tile : tile);
  return 0;
}
