/* kernels.c — kernels.inc compiled for the JIT, exporting a table of the
 * kernels by name that jit.c hands to libtcc (tcc_add_symbol), so that
 * tcc-compiled code calls gcc-optimized loops. The Makefile builds it once
 * per scalar type (GANC_KERNEL_SCALAR) and, on x86-64, per instruction set
 * level (-march=x86-64-v4, -v3 and the baseline); jit.c picks the table the
 * CPU runs (ganc_kernels). Its large products run their pieces on the
 * runtime's threads (threads.c). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "threads.h"

#define KERNEL static
#define KERNEL_SPLIT(count, fn, ctx) ganc_parallel_for(count, fn, ctx)

typedef GANC_KERNEL_SCALAR scalar;

#include "kernels.inc"

const ganc_kernel GANC_KERNEL_TABLE[] = {
#define K(name) {#name, (const void *)name},
#include "kernel_names.h"
#undef K
    {NULL, NULL},
};
