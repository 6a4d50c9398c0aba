/* dist — data parallelism over MPI for ft-train (docs/hf-reference.md §20).
 *
 * Under `mpirun -np N ft-train ...` every rank holds the whole model and
 * takes its share of every global batch as the Trainer under accelerate
 * does: the shuffled order is cut into per-process batches and process r
 * takes batches r, r+N, r+2N, ... (BatchSamplerShard, even_batches: the
 * last round is filled with samples from the start of the order), so N
 * ranks x batch b see the data of one process x batch N*b.  Gradients,
 * losses and counters are summed across ranks here; the training loop
 * (trainrun.c) calls these hooks and is otherwise unchanged.
 *
 * Without a launcher (no OMPI_COMM_WORLD_SIZE, PMIX_RANK, PMI_RANK or
 * PMI_SIZE in the environment) MPI is never initialised: rank 0 of 1,
 * every reduction a no-op, no MPI runtime needed.
 *
 * Determinism: the sums do not use MPI_Allreduce's arithmetic (whose
 * algorithm, and so its order of additions, Open MPI picks by message and
 * communicator size).  Each buffer is cut into N chunks; MPI_Alltoallv
 * moves chunk c of every rank to rank c, which adds the N contributions
 * in rank order 0..N-1; MPI_Allgatherv hands the sums back.  Only data
 * movement is left to MPI, so the result is the same bits on every rank
 * and in every run with the same N (and costs the 2(N-1)/N x bytes per
 * rank of a ring all-reduce).
 *
 * Failures: MPI errors are fatal (MPI_ERRORS_ARE_FATAL: the job is
 * aborted).  ft_dist_end finalises after a success or after a failure all
 * ranks agreed on (ft_dist_same, ft_dist_any); any other failure calls
 * MPI_Abort, so that ranks waiting in a collective do not hang. */
#ifndef FT_DIST_H
#define FT_DIST_H

#include <stddef.h>
#include <stdint.h>

/* Join the MPI job when started by a launcher; argv (the flags, from
 * argv[1]) is kept for ft_dist_same.  Messages of ranks other than 0 are
 * prefixed "PROG (rank R)".  0, or -1 with a message. */
int ft_dist_init(int argc, char **argv);
/* Leave the job: rc is the process's exit status (0 = success).  Returns
 * rc (or does not return: MPI_Abort). */
int ft_dist_end(int rc);

int ft_dist_rank(void);
int ft_dist_size(void);

/* x[0..n) = the sum over ranks of x[0..n), added in rank order.  The
 * float sum is accumulated in double and rounded once. */
void ft_dist_sum_f32(float *x, size_t n);
void ft_dist_sum_f64(double *x, size_t n);
void ft_dist_sum_i64(int64_t *x, size_t n);
/* Nonzero on every rank when flag is nonzero on any (a failure or stop
 * all ranks then handle together: ft_dist_end finalises cleanly). */
int ft_dist_any(int flag);
/* Bytes of payload summed so far by ft_dist_sum_* (for benchmarks). */
uint64_t ft_dist_bytes_summed(void);

/* What every rank must have the same of: a name for the message and the
 * bytes. */
typedef struct ft_dist_part {
	const char *what;
	const void *p;
	size_t n;
} ft_dist_part;

/* Check that every rank got the same flags (the argv given to
 * ft_dist_init) and the same parts: rank 0 broadcasts a 256-bit digest of
 * each (not cryptographic: it catches mistakes at memory speed); a rank
 * that differs says which in one line.  0 on every rank, or
 * -1 on every rank. */
int ft_dist_same(const ft_dist_part *parts, int n);

/* ---- which samples this rank takes (pure arithmetic) ---- */

/* Length of an epoch's order of n samples after the last round of
 * per-process batches of bs is filled (n itself with one rank). */
size_t ft_dist_order_len(size_t n, int bs);
/* Fill order[n .. ft_dist_order_len(n, bs)) with the start of the order,
 * as accelerate's BatchSamplerShard does (order[n + t] = order[t mod L],
 * L = min(n, N*bs)). */
void ft_dist_order_pad(size_t *order, size_t n, int bs);
/* Position in the order of this rank's first sample of the global batch
 * b (a global batch = N per-process batches of bs). */
size_t ft_dist_batch_first(int64_t b, int bs);
/* Whether batch b (of a sequence every rank walks, e.g. evaluation) is
 * this rank's: b mod N == rank. */
int ft_dist_mine(int64_t b);

#endif
