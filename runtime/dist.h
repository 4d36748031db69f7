/* dist.h — the ranks of a data-parallel training run (docs/DESIGN.md §7):
 * the processes `mpirun -np P` starts, over Open MPI when ganc is built
 * with it, or a single one. Without mpirun, or in a build without MPI,
 * every call below is that of a run of one rank: the sums and broadcasts
 * leave their data as it is. */
#ifndef GANC_DIST_H
#define GANC_DIST_H

#include <stddef.h>
#include <stdint.h>

/* Is this build linked with MPI? */
int ganc_dist_built(void);
/* Join the run: MPI_Init when the process was started by mpirun (its
   environment says so) in a build with MPI; nothing otherwise. Call once,
   before any other call here. 0, or -1 with a message. */
int ganc_dist_init(char *err, size_t errlen);
/* Leave it (MPI_Finalize after ganc_dist_init joined one). */
void ganc_dist_finish(void);
int ganc_dist_rank(void); /* 0 .. ganc_dist_size() - 1 */
int ganc_dist_size(void); /* P; 1 without mpirun */

/* Every rank's n scalars of scalar_size bytes summed, on every rank, in
   place (MPI_Allreduce). */
void ganc_dist_sum(int scalar_size, int64_t n, void *v);
/* Rank 0's bytes on every rank (MPI_Bcast). */
void ganc_dist_broadcast(void *p, size_t bytes);
/* Is flag set on any rank? */
int ganc_dist_any(int flag);
/* The bytes this rank has sent in collectives so far. */
int64_t ganc_dist_bytes_sent(void);

#endif
