/* threads.c — the runtime's threads: one small pool that runs the pieces of
 * a kernel call side by side (kernels.c: KERNEL_SPLIT), sized by
 * ganc_set_threads, GANC_THREADS or the machine's cores.
 *
 * A call splits its work into pieces that are its own: each piece writes
 * outputs no other piece writes, and computes each of them exactly as one
 * thread would, so that results do not depend on the number of threads.
 * The caller runs the first share itself and each worker one more; the pool
 * serves one call at a time, and a call that finds it busy (another
 * thread's, or a piece's own) runs all its pieces in the calling thread.
 * Products come in quick succession while a model trains, so a worker
 * that has finished watches for the next call for a while (SPIN_SECONDS)
 * before it sleeps, and the caller likewise for the workers to finish. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ganc.h"
#include "threads.h"

enum { MAX_THREADS = GANC_MAX_THREADS };

/* How long a wait spins before it sleeps: long enough to bridge the gap
   between a training step's products, short enough that threads which
   outnumber the free cores (another busy process) give theirs back soon. */
#define SPIN_SECONDS 200e-6

static double now(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct Pool {
  pthread_mutex_t lock; /* the pool's state; held while workers start or stop */
  pthread_cond_t wake, done;
  pthread_t worker[MAX_THREADS];
  uint64_t born[MAX_THREADS]; /* the generation before a worker's first call */
  int nthreads;   /* the caller and nthreads - 1 workers */
  int started;    /* workers running */
  /* The call being served: workers take share 1 .. nthreads - 1. Its
     fields are set before generation moves on, which publishes them. */
  atomic_uint_fast64_t generation;
  void (*fn)(void *ctx, int lo, int hi);
  void *ctx;
  int count, shares;
  atomic_int pending; /* workers still running their share */
  /* Who is asleep, so that a call wakes nobody when everyone is watching:
     workers waiting on wake, and whether the caller waits on done. Each is
     set under lock before its sleeper checks once more. */
  atomic_int sleepers, caller_sleeps;
  atomic_int quit;
  atomic_flag busy; /* a call is being served */
} Pool;

static Pool pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
                    .busy = ATOMIC_FLAG_INIT};
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

/* Is the call after generation seen out? Are the workers done? */
static int moved_from(uint64_t seen)
{
  return atomic_load_explicit(&pool.generation, memory_order_acquire) != seen;
}

static int workers_done(uint64_t unused)
{
  (void)unused;
  return atomic_load_explicit(&pool.pending, memory_order_acquire) == 0;
}

/* Spin until ready(arg) or SPIN_SECONDS pass; whether it became ready. */
static int spin(int (*ready)(uint64_t), uint64_t arg)
{
  double until = now() + SPIN_SECONDS;
  for (int i = 0;; i++) {
    if (ready(arg))
      return 1;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
    if (i % 64 == 63 && now() > until)
      return 0;
  }
}

/* Piece i of count split into shares: [count * i / shares, count * (i + 1) / shares). */
static void run_share(void (*fn)(void *, int, int), void *ctx, int count, int shares, int i)
{
  int lo = (int)((int64_t)count * i / shares), hi = (int)((int64_t)count * (i + 1) / shares);
  if (lo < hi)
    fn(ctx, lo, hi);
}

static void *worker_main(void *arg)
{
  int me = (int)(intptr_t)arg;
  uint64_t seen = pool.born[me];
  for (;;) {
    if (!spin(moved_from, seen) && atomic_load(&pool.generation) == seen) {
      pthread_mutex_lock(&pool.lock);
      atomic_fetch_add(&pool.sleepers, 1);
      while (!pool.quit && atomic_load(&pool.generation) == seen)
        pthread_cond_wait(&pool.wake, &pool.lock);
      atomic_fetch_sub(&pool.sleepers, 1);
      pthread_mutex_unlock(&pool.lock);
    }
    if (pool.quit)
      break;
    seen = atomic_load(&pool.generation);
    if (me < pool.shares)
      run_share(pool.fn, pool.ctx, pool.count, pool.shares, me);
    if (atomic_fetch_sub(&pool.pending, 1) == 1 && atomic_load(&pool.caller_sleeps)) {
      pthread_mutex_lock(&pool.lock);
      pthread_cond_signal(&pool.done);
      pthread_mutex_unlock(&pool.lock);
    }
  }
  return NULL;
}

/* Stop the workers (with pool.lock held). */
static void stop_workers(void)
{
  pool.quit = 1;
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);
  for (int i = 1; i < pool.started; i++)
    pthread_join(pool.worker[i], NULL);
  pthread_mutex_lock(&pool.lock);
  pool.quit = 0;
  pool.started = 1;
}

/* Start workers up to pool.nthreads (with pool.lock held); fewer if the
   system refuses more. */
static void start_workers(void)
{
  if (pool.started == 0)
    pool.started = 1;
  while (pool.started < pool.nthreads) {
    pool.born[pool.started] = atomic_load(&pool.generation);
    if (pthread_create(&pool.worker[pool.started], NULL, worker_main, (void *)(intptr_t)pool.started) != 0)
      break;
    pool.started++;
  }
  pool.nthreads = pool.started;
}

static int cores(void)
{
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

int ganc_default_threads(void)
{
  const char *env = getenv("GANC_THREADS");
  if (env && *env) {
    char *end;
    long n = strtol(env, &end, 10);
    if (*end == 0 && n >= 1)
      return n > MAX_THREADS ? MAX_THREADS : (int)n;
  }
  /* Under mpirun, the ranks on this machine share its cores. */
  const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  long ranks = local && *local ? strtol(local, NULL, 10) : 1;
  int n = cores();
  return ranks > 1 ? (n / ranks > 1 ? (int)(n / ranks) : 1) : n;
}

static void pool_init(void)
{
  pthread_mutex_lock(&pool.lock);
  if (pool.nthreads == 0)
    pool.nthreads = ganc_default_threads();
  pthread_mutex_unlock(&pool.lock);
}

int ganc_set_threads(int n)
{
  pthread_once(&pool_once, pool_init);
  /* Wait for any call being served to finish before changing the pool. */
  while (atomic_flag_test_and_set(&pool.busy))
    sched_yield();
  pthread_mutex_lock(&pool.lock);
  int want = n <= 0 ? ganc_default_threads() : n > MAX_THREADS ? MAX_THREADS : n;
  if (pool.started > want)
    stop_workers();
  pool.nthreads = want;
  int got = pool.nthreads;
  pthread_mutex_unlock(&pool.lock);
  atomic_flag_clear(&pool.busy);
  return got;
}

int ganc_threads(void)
{
  pthread_once(&pool_once, pool_init);
  pthread_mutex_lock(&pool.lock);
  int n = pool.nthreads;
  pthread_mutex_unlock(&pool.lock);
  return n;
}

void ganc_parallel_for(int count, void (*fn)(void *ctx, int lo, int hi), void *ctx)
{
  pthread_once(&pool_once, pool_init);
  if (count <= 0)
    return;
  if (count == 1 || atomic_flag_test_and_set(&pool.busy)) {
    fn(ctx, 0, count);
    return;
  }
  pthread_mutex_lock(&pool.lock);
  if (pool.started < pool.nthreads)
    start_workers();
  int shares = pool.nthreads < count ? pool.nthreads : count;
  if (shares <= 1) {
    pthread_mutex_unlock(&pool.lock);
    atomic_flag_clear(&pool.busy);
    fn(ctx, 0, count);
    return;
  }
  pool.fn = fn;
  pool.ctx = ctx;
  pool.count = count;
  pool.shares = shares;
  atomic_store(&pool.pending, pool.started - 1);
  atomic_fetch_add(&pool.generation, 1);
  if (atomic_load(&pool.sleepers) > 0)
    pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);

  run_share(fn, ctx, count, shares, 0);

  if (!spin(workers_done, 0) && atomic_load(&pool.pending) > 0) {
    pthread_mutex_lock(&pool.lock);
    atomic_store(&pool.caller_sleeps, 1);
    while (atomic_load(&pool.pending) > 0)
      pthread_cond_wait(&pool.done, &pool.lock);
    atomic_store(&pool.caller_sleeps, 0);
    pthread_mutex_unlock(&pool.lock);
  }
  atomic_flag_clear(&pool.busy);
}
