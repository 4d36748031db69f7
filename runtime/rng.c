/* rng.c — the runtime's random numbers and parameter initialization.
 *
 * xoshiro256** (Blackman and Vigna) seeded by four SplitMix64 outputs;
 * uniforms in [0, 1) from the top 53 bits; standard normals by the Box–Muller
 * transform, one normal (the cosine branch) from two uniforms, so that the
 * generator's whole state is its four words. */
#include <math.h>
#include <string.h>

#include "ganc.h"
#include "scalar.h"

static uint64_t splitmix64(uint64_t *x)
{
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

void ganc_rng_seed(ganc_rng *r, uint64_t seed)
{
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&seed);
}

uint64_t ganc_rng_next(ganc_rng *r)
{
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double ganc_rng_uniform(ganc_rng *r)
{
  return (double)(ganc_rng_next(r) >> 11) * 0x1p-53;
}

double ganc_rng_normal(ganc_rng *r)
{
  /* 1 - u lies in (0, 1], so the logarithm is finite. */
  double u1 = 1.0 - ganc_rng_uniform(r);
  double u2 = ganc_rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

void ganc_normal_fill(ganc_rng *r, int scalar_size, int64_t n, void *out)
{
  for (int64_t i = 0; i < n; i++)
    ganc_scalar_store(out, scalar_size, i, ganc_rng_normal(r));
}

/* PyTorch's fan rules: dimension 1 is fan in, dimension 0 fan out, each
   times the receptive field (the product of the remaining dimensions). */
static double xavier_bound(const ganc_tensor *t)
{
  double receptive = 1;
  for (int i = 2; i < t->rank; i++)
    receptive *= (double)t->shape[i];
  double fan_in = (double)t->shape[1] * receptive;
  double fan_out = (double)t->shape[0] * receptive;
  return sqrt(6.0 / (fan_in + fan_out));
}

void ganc_init_params(const ganc_info *info, uint64_t seed, void *params)
{
  ganc_rng r;
  ganc_rng_seed(&r, seed);
  for (int k = 0; k < info->ntensors; k++) {
    const ganc_tensor *t = &info->tensors[k];
    double bound = t->init == GANC_INIT_XAVIER ? xavier_bound(t) : 0;
    for (int64_t i = 0; i < t->count; i++) {
      double v = 0;
      switch (t->init) {
      case GANC_INIT_XAVIER: v = (2.0 * ganc_rng_uniform(&r) - 1.0) * bound; break;
      case GANC_INIT_ZERO: v = 0; break;
      case GANC_INIT_ONE: v = 1; break;
      case GANC_INIT_NORMAL: v = ganc_rng_normal(&r); break;
      }
      ganc_scalar_store(params, info->scalar_size, t->offset + i, v);
    }
  }
}

void ganc_init_stats(const ganc_info *info, void *stats)
{
  for (int k = 0; k < info->nstats; k++) {
    const ganc_tensor *t = &info->stats[k];
    for (int64_t i = 0; i < t->count; i++)
      ganc_scalar_store(stats, info->scalar_size, t->offset + i, t->init == GANC_INIT_ONE ? 1 : 0);
  }
}
