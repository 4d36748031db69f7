/* scalar.h — one element of an array in the model's scalar type, float
 * (scalar_size 4) or double (8), read and written as a double. Internal to
 * the runtime; memcpy so that byte buffers need no alignment. */
#ifndef GANC_SCALAR_H
#define GANC_SCALAR_H

#include <stdint.h>
#include <string.h>

static inline double ganc_scalar_load(const void *p, int scalar_size, int64_t i)
{
  if (scalar_size == 4) {
    float f;
    memcpy(&f, (const unsigned char *)p + i * 4, 4);
    return f;
  }
  double d;
  memcpy(&d, (const unsigned char *)p + i * 8, 8);
  return d;
}

/* A float store rounds v to float. */
static inline void ganc_scalar_store(void *p, int scalar_size, int64_t i, double v)
{
  if (scalar_size == 4) {
    float f = (float)v;
    memcpy((unsigned char *)p + i * 4, &f, 4);
  } else {
    memcpy((unsigned char *)p + i * 8, &v, 8);
  }
}

#endif
