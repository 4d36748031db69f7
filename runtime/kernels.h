/* kernels.h — the kernels of kernels.inc as the JIT sees them: by name,
 * one table per scalar type (kernels.c). */
#ifndef GANC_KERNELS_H
#define GANC_KERNELS_H

#include <stddef.h>

typedef struct ganc_kernel {
  const char *name; /* as emitted code calls it, e.g. "dense" */
  const void *fn;
} ganc_kernel;

/* NULL-terminated tables, one per scalar type and instruction set level:
   _v4 for x86-64-v4 (AVX-512), _v3 for x86-64-v3 (AVX2, FMA), _v1 for the
   baseline (or the only build elsewhere). */
extern const ganc_kernel ganc_kernels_f32_v1[], ganc_kernels_f64_v1[];
#if defined(__x86_64__) && defined(__GNUC__)
#define GANC_KERNEL_LEVELS 1
extern const ganc_kernel ganc_kernels_f32_v3[], ganc_kernels_f64_v3[];
extern const ganc_kernel ganc_kernels_f32_v4[], ganc_kernels_f64_v4[];
#endif

/* The table for scalar_size (4 or 8) and this CPU. */
const ganc_kernel *ganc_kernels(int scalar_size);

#endif
