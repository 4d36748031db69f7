/* dist.c — a training run's ranks over Open MPI (dist.h), or one rank.
 * Built with -DGANC_MPI and Open MPI's flags when libopenmpi-dev is
 * installed (the Makefile asks pkg-config); without, every call is that
 * of a run of one. */
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "io.h"

#ifdef GANC_MPI
#include <mpi.h>
#endif

static int joined, rank, size = 1;
static int64_t sent;

int ganc_dist_built(void)
{
#ifdef GANC_MPI
  return 1;
#else
  return 0;
#endif
}

/* Was this process started by mpirun (Open MPI's launcher sets these)? */
static int launched(void)
{
  return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK");
}

int ganc_dist_init(char *err, size_t errlen)
{
  ganc_seterr(err, errlen, "%s", "");
#ifdef GANC_MPI
  if (!launched())
    return 0;
  if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
    ganc_seterr(err, errlen, "MPI_Init failed");
    return -1;
  }
  joined = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
#else
  if (launched() && getenv("OMPI_COMM_WORLD_SIZE") && strcmp(getenv("OMPI_COMM_WORLD_SIZE"), "1") != 0) {
    ganc_seterr(err, errlen, "this ganc is built without MPI, but mpirun started %s of it; install "
                "libopenmpi-dev and rebuild (make deps && make)", getenv("OMPI_COMM_WORLD_SIZE"));
    return -1;
  }
#endif
  return 0;
}

void ganc_dist_finish(void)
{
#ifdef GANC_MPI
  if (joined)
    MPI_Finalize();
#endif
  joined = 0;
  rank = 0;
  size = 1;
}

int ganc_dist_rank(void)
{
  return rank;
}

int ganc_dist_size(void)
{
  return size;
}

void ganc_dist_sum(int scalar_size, int64_t n, void *v)
{
  if (size == 1)
    return;
#ifdef GANC_MPI
  MPI_Datatype type = scalar_size == 8 ? MPI_DOUBLE : MPI_FLOAT;
  for (int64_t at = 0; at < n;) { /* counts are ints */
    int k = n - at > (1 << 30) ? 1 << 30 : (int)(n - at);
    MPI_Allreduce(MPI_IN_PLACE, (char *)v + (size_t)at * (size_t)scalar_size, k, type, MPI_SUM, MPI_COMM_WORLD);
    sent += (int64_t)k * scalar_size;
    at += k;
  }
#else
  (void)scalar_size;
  (void)n;
  (void)v;
#endif
}

void ganc_dist_broadcast(void *p, size_t bytes)
{
  if (size == 1)
    return;
#ifdef GANC_MPI
  for (size_t at = 0; at < bytes;) {
    int k = bytes - at > (1u << 30) ? 1 << 30 : (int)(bytes - at);
    MPI_Bcast((char *)p + at, k, MPI_BYTE, 0, MPI_COMM_WORLD);
    sent += rank == 0 ? k : 0;
    at += (size_t)k;
  }
#else
  (void)p;
  (void)bytes;
#endif
}

int ganc_dist_any(int flag)
{
  if (size == 1)
    return flag;
#ifdef GANC_MPI
  int any = 0;
  MPI_Allreduce(&flag, &any, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
  sent += (int64_t)sizeof flag;
  return any;
#else
  return flag;
#endif
}

int64_t ganc_dist_bytes_sent(void)
{
  return sent;
}
