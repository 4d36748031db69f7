/* threads.h — the runtime's thread pool (threads.c), for the kernels'
 * build (kernels.c) and the trainer. ganc_set_threads and ganc_threads
 * are public, in ganc.h. */
#ifndef GANC_THREADS_H
#define GANC_THREADS_H

/* Run fn(ctx, lo, hi) over pieces that cover [0, count), at most one per
   thread, side by side, and return when all are done. Each piece must
   write only its own outputs. A call made while the pool serves another
   (from another thread, or from inside a piece) runs fn(ctx, 0, count)
   itself. */
void ganc_parallel_for(int count, void (*fn)(void *ctx, int lo, int hi), void *ctx);

/* GANC_THREADS when it holds a positive number, else the machine's cores
   (at most GANC_MAX_THREADS). */
int ganc_default_threads(void);

#endif
