/* dist — data parallelism over MPI (see dist.h). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "err.h"

/* Elements per all-reduce bucket: 4 Mi (16 MiB of floats, DDP's 25 MiB
 * order of magnitude); bounds the scratch memory. */
#define BUCKET ((size_t)1 << 22)

static struct {
	int on;              /* MPI initialised */
	int rank, size;
	int agreed;          /* the failure, if any, is known to every rank */
	char *flags;         /* argv[1..] joined by NUL bytes */
	size_t flags_len;
	char prog[64];       /* "PROG (rank R)" */
	uint64_t bytes;      /* payload summed */
	void *scratch;       /* BUCKET elements of 8 bytes */
} d = { 0, 0, 1, 0, NULL, 0, "", 0, NULL };

/* Started by an MPI launcher: Open MPI's mpirun, a PMIx launcher (srun,
 * prterun) or MPICH's hydra. */
static int
launched(void)
{
	static const char *const vars[] = {
		"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
	};

	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
		if (getenv(vars[i]) != NULL)
			return 1;
	return 0;
}

int
ft_dist_init(int argc, char **argv)
{
	int provided;

	for (int i = 1; i < argc; i++) {
		size_t k = strlen(argv[i]) + 1;

		d.flags = ft_realloc(d.flags, d.flags_len + k);
		memcpy(d.flags + d.flags_len, argv[i], k);
		d.flags_len += k;
	}
	if (!launched())
		return 0;
	/* MPI is called from the main thread only; the kernels' and
	 * OpenBLAS's workers never touch it. */
	if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) !=
	    MPI_SUCCESS)
		return ft_error("MPI_Init failed");
	d.on = 1;
	MPI_Comm_rank(MPI_COMM_WORLD, &d.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &d.size);
	if (d.rank > 0) {
		snprintf(d.prog, sizeof d.prog, "%s (rank %d)", ft_prog(),
		    d.rank);
		ft_setprog(d.prog);
	}
	return 0;
}

int
ft_dist_end(int rc)
{
	free(d.flags);
	free(d.scratch);
	d.flags = NULL;
	d.scratch = NULL;
	if (!d.on)
		return rc;
	if (rc != 0 && d.size > 1 && !d.agreed) {
		/* the other ranks may wait in a collective for this one */
		fflush(stderr);
		MPI_Abort(MPI_COMM_WORLD, rc);
	}
	MPI_Finalize();
	d.on = 0;
	return rc;
}

int
ft_dist_rank(void)
{
	return d.rank;
}

int
ft_dist_size(void)
{
	return d.size;
}

uint64_t
ft_dist_bytes_summed(void)
{
	return d.bytes;
}

/* chunk c of a bucket of n elements: [off, off + len) */
static void
chunk(size_t n, int c, int *off, int *len)
{
	size_t q = n / (size_t)d.size, r = n % (size_t)d.size;
	size_t o = (size_t)c * q + ((size_t)c < r ? (size_t)c : r);

	*off = (int)o;
	*len = (int)(q + ((size_t)c < r));
}

enum kind { F32, F64, I64 };

/* Sum x[0..n) across ranks (see dist.h: reduce-scatter by Alltoallv, the
 * additions in rank order, then Allgatherv). */
static void
sum(void *x, size_t n, enum kind k)
{
	static const size_t esz[] = { 4, 8, 8 };
	MPI_Datatype t = k == F32 ? MPI_FLOAT : k == F64 ? MPI_DOUBLE :
	    MPI_INT64_T;
	int N = d.size;
	int *cnt, *off, *rcnt, *roff;

	if (!d.on || N == 1 || n == 0)
		return;
	if (d.scratch == NULL)
		d.scratch = ft_malloc(BUCKET * 8);
	cnt = ft_malloc(4 * (size_t)N * sizeof *cnt);
	off = cnt + N;
	rcnt = off + N;
	roff = rcnt + N;
	d.bytes += n * esz[k];
	for (size_t b0 = 0; b0 < n; b0 += BUCKET) {
		size_t bn = n - b0 < BUCKET ? n - b0 : BUCKET;
		char *buf = (char *)x + b0 * esz[k];
		int mo, ml;

		for (int c = 0; c < N; c++)
			chunk(bn, c, &off[c], &cnt[c]);
		mo = off[d.rank];
		ml = cnt[d.rank];
		for (int c = 0; c < N; c++) {
			rcnt[c] = ml;
			roff[c] = c * ml;
		}
		/* scratch[c * ml + i] = rank c's element mo + i */
		MPI_Alltoallv(buf, cnt, off, t, d.scratch, rcnt, roff, t,
		    MPI_COMM_WORLD);
		for (int i = 0; i < ml; i++) {
			if (k == F32) {
				const float *s = d.scratch;
				double a = s[i];

				for (int c = 1; c < N; c++)
					a += s[(size_t)c * (size_t)ml + (size_t)i];
				((float *)buf)[mo + i] = (float)a;
			} else if (k == F64) {
				const double *s = d.scratch;
				double a = s[i];

				for (int c = 1; c < N; c++)
					a += s[(size_t)c * (size_t)ml + (size_t)i];
				((double *)buf)[mo + i] = a;
			} else {
				const int64_t *s = d.scratch;
				int64_t a = s[i];

				for (int c = 1; c < N; c++)
					a += s[(size_t)c * (size_t)ml + (size_t)i];
				((int64_t *)buf)[mo + i] = a;
			}
		}
		MPI_Allgatherv(MPI_IN_PLACE, 0, t, buf, cnt, off, t,
		    MPI_COMM_WORLD);
	}
	free(cnt);
}

void
ft_dist_sum_f32(float *x, size_t n)
{
	sum(x, n, F32);
}

void
ft_dist_sum_f64(double *x, size_t n)
{
	sum(x, n, F64);
}

void
ft_dist_sum_i64(int64_t *x, size_t n)
{
	sum(x, n, I64);
}

int
ft_dist_any(int flag)
{
	int in = flag != 0, out = in;

	if (d.on && d.size > 1)
		MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	if (out)
		d.agreed = 1;
	return out;
}

/* A 256-bit digest of p[0..n) for ft_dist_same: four lanes of xxHash64's
 * round (acc = rotl(acc + w * P2, 31) * P1) over 8-byte words.  It only
 * has to catch accidental differences, and runs at memory speed where
 * SHA-256 would take seconds per gigabyte of weights on every rank. */
static void
digest(const void *p, size_t n, uint8_t out[32])
{
	static const uint64_t P1 = 0x9E3779B185EBCA87ULL,
	    P2 = 0xC2B2AE3D27D4EB4FULL;
	const uint8_t *b = p;
	uint64_t acc[4] = { 1, 2, 3, 4 }, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t *a = &acc[(i / 8) & 3];

		memcpy(&w, b + i, 8);
		*a += w * P2;
		*a = ((*a << 31) | (*a >> 33)) * P1;
	}
	w = 0;
	if (n > i)
		memcpy(&w, b + i, n - i);
	acc[0] ^= (w + (uint64_t)n) * P2;
	for (int k = 0; k < 4; k++) {
		uint64_t h = acc[k] ^ (acc[(k + 1) & 3] >> 29) ^ (uint64_t)n;

		h *= P1;
		h ^= h >> 32;
		memcpy(out + 8 * k, &h, 8);
	}
}

int
ft_dist_same(const ft_dist_part *parts, int n)
{
	uint8_t (*mine)[32], (*root)[32];
	int bad = -1, any;

	if (!d.on || d.size == 1)
		return 0;
	mine = ft_malloc((size_t)(n + 1) * sizeof *mine);
	root = ft_malloc((size_t)(n + 1) * sizeof *root);
	digest(d.flags != NULL ? d.flags : "", d.flags_len, mine[0]);
	for (int i = 0; i < n; i++)
		digest(parts[i].p, parts[i].n, mine[i + 1]);
	memcpy(root, mine, (size_t)(n + 1) * sizeof *mine);
	MPI_Bcast(root, (n + 1) * 32, MPI_BYTE, 0, MPI_COMM_WORLD);
	for (int i = 0; i <= n && bad < 0; i++)
		if (memcmp(mine[i], root[i], 32) != 0)
			bad = i;
	if (bad >= 0)
		ft_error("its %s differ%s from rank 0's: every rank must get "
		    "the same flags, model and data",
		    bad == 0 ? "flags" : parts[bad - 1].what,
		    bad == 0 ? "" : "s");
	free(mine);
	free(root);
	any = ft_dist_any(bad >= 0);
	return any ? -1 : 0;
}

/* ---- sharding ---- */

size_t
ft_dist_order_len(size_t n, int bs)
{
	size_t gb = (size_t)d.size * (size_t)bs;

	if (d.size == 1)
		return n;
	return (n + gb - 1) / gb * gb;
}

void
ft_dist_order_pad(size_t *order, size_t n, int bs)
{
	size_t len = ft_dist_order_len(n, bs);
	size_t L = (size_t)d.size * (size_t)bs;

	if (L > n)
		L = n;
	for (size_t i = n; i < len; i++)
		order[i] = order[(i - n) % L];
}

size_t
ft_dist_batch_first(int64_t b, int bs)
{
	return ((size_t)b * (size_t)d.size + (size_t)d.rank) * (size_t)bs;
}

int
ft_dist_mine(int64_t b)
{
	return b % d.size == d.rank;
}
