/* test_threads.c — the runtime's thread pool: pieces that cover the work
 * exactly once, calls from inside a piece and from several threads at
 * once; and training whose weights do not depend on --threads. */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ganc.h"
#include "test.h"
#include "threads.h"

TestSuite(threads, .timeout = 400);

/* Counts how often each index is visited. */
typedef struct Visits {
  int count;
  atomic_int *seen;
  atomic_int pieces;
} Visits;

static void visit(void *ctx, int lo, int hi)
{
  Visits *v = ctx;
  cr_assert(0 <= lo && lo < hi && hi <= v->count, "piece [%d, %d) of %d", lo, hi, v->count);
  atomic_fetch_add(&v->pieces, 1);
  for (int i = lo; i < hi; i++)
    atomic_fetch_add(&v->seen[i], 1);
}

static void expect_once(Visits *v, int threads)
{
  for (int i = 0; i < v->count; i++)
    cr_expect_eq(atomic_load(&v->seen[i]), 1, "%d threads, count %d: index %d visited %d times", threads, v->count,
                 i, atomic_load(&v->seen[i]));
  int pieces = atomic_load(&v->pieces), most = threads < v->count ? threads : v->count;
  cr_expect(pieces >= (v->count > 0) && pieces <= most, "%d threads, count %d: %d pieces", threads, v->count, pieces);
}

Test(threads, pieces_cover_the_work_once)
{
  static atomic_int seen[200];
  for (int threads = 1; threads <= 5; threads++) {
    cr_assert_eq(ganc_set_threads(threads), threads);
    cr_expect_eq(ganc_threads(), threads);
    for (int count = 0; count <= 200; count += count < 20 ? 1 : 37) {
      memset(seen, 0, sizeof seen);
      Visits v = {count, seen, 0};
      ganc_parallel_for(count, visit, &v);
      expect_once(&v, threads);
    }
  }
  cr_expect_eq(ganc_set_threads(0), ganc_default_threads());
  cr_expect_eq(ganc_set_threads(GANC_MAX_THREADS + 5), GANC_MAX_THREADS);
}

/* A piece that splits work of its own runs it there and then. */
static void nested(void *ctx, int lo, int hi)
{
  Visits *outer = ctx;
  for (int i = lo; i < hi; i++) {
    static _Thread_local atomic_int inner_seen[16];
    memset(inner_seen, 0, sizeof inner_seen);
    Visits inner = {16, inner_seen, 0};
    ganc_parallel_for(16, visit, &inner);
    for (int k = 0; k < 16; k++)
      cr_assert_eq(atomic_load(&inner_seen[k]), 1);
    atomic_fetch_add(&outer->seen[i], 1);
  }
}

Test(threads, a_piece_may_split_again)
{
  static atomic_int seen[64];
  ganc_set_threads(3);
  Visits v = {64, seen, 0};
  ganc_parallel_for(64, nested, &v);
  for (int i = 0; i < 64; i++)
    cr_expect_eq(atomic_load(&seen[i]), 1);
}

/* Several threads calling at once each get all their work done. */
static void *caller(void *arg)
{
  (void)arg;
  atomic_int seen[100];
  for (int round = 0; round < 300; round++) {
    for (int i = 0; i < 100; i++)
      atomic_store(&seen[i], 0);
    Visits v = {1 + round % 100, seen, 0};
    ganc_parallel_for(v.count, visit, &v);
    for (int i = 0; i < v.count; i++)
      if (atomic_load(&seen[i]) != 1)
        return (void *)1;
  }
  return NULL;
}

Test(threads, callers_at_once)
{
  ganc_set_threads(2);
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, caller, NULL), 0);
  for (int i = 0; i < 4; i++) {
    void *failed;
    pthread_join(t[i], &failed);
    cr_expect_null(failed, "caller %d lost work", i);
  }
}

/* Training splits its products over the threads; every output is computed
   as on one thread, so the weights are the same bit for bit. fashion_mlp's
   products at batch 64 and the batch_norm DCGAN's are large enough to be
   split. */
static void same_weights(const char *model, const char *flags)
{
  char *dir = tmpdir_make();
  const int threads[] = {1, 2, 3};
  for (int i = 0; i < 3; i++) {
    Run r = run_gancf("train %s --data fashion-mnist %s --threads %d -o %s/t%d", model, flags, threads[i], dir,
                      threads[i]);
    cr_assert_eq(r.status, 0, "--threads %d: %s", threads[i], r.err);
    run_free(&r);
  }
  for (int i = 1; i < 3; i++)
    cr_expect(same_file(path_in(dir, "t1/checkpoint.safetensors"),
                        path_in(dir, "t%d/checkpoint.safetensors", threads[i])),
              "%s: --threads %d trained other weights than --threads 1", model, threads[i]);
  tmpdir_remove(dir);
}

Test(threads, training_does_not_depend_on_the_thread_count)
{
  same_weights("models/fashion_mlp.gan", "--steps 3 --every 3 --batch 64");
  same_weights("models/fashion_dcgan_bn.gan", "--steps 2 --every 2 --batch 16");
}
