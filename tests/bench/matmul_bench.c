/* Timing driver for tests/bench/matmul: the matmul rates mixed precision
 * is about (issue 13).
 * usage: matmul_bench THREADS REPS
 *   sgemm and oneDNN bf16 at 2048^3;
 *   the products of a distilgpt2 training step (batch 4 x 256: the four
 *   linear layers of a block and the tied head, forward / dx / dW, and the
 *   six attention products), fp32 (OpenBLAS) against bf16 (oneDNN), and
 *   what converting the activations to bf16 costs;
 *   decoding: all the weights of distilgpt2 once (what a token reads) for
 *   1 and 8 rows, fp32 (ft's kernels), bf16 and int8 (quant.h), as
 *   tokens/s and effective bandwidth against memcpy.
 * Best of REPS for every number.  Weights are random (speed only). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "bf16.h"
#include "blas.h"
#include "err.h"
#include "kernels.h"
#include "quant.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int threads, reps;

static float *
frnd(size_t n)
{
	float *x = ft_malloc(n * sizeof(float));
	uint32_t s = 12345;

	for (size_t i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		x[i] = ((float)(s >> 8) * 0x1p-24f - 0.5f) * 0.04f;
	}
	return x;
}

static ft_bf16 *
hrnd(size_t n)
{
	float *f = frnd(n);
	ft_bf16 *h = ft_malloc(n * sizeof(ft_bf16));

	ft_bf16_from_f32(h, f, n, threads);
	free(f);
	return h;
}

#define BEST(var, stmt) do { var = 1e30; \
	for (int r_ = 0; r_ < reps; r_++) { double t0_ = now(); stmt; \
		double d_ = now() - t0_; if (d_ < var) var = d_; } } while (0)

static void
die_bf16(int rc)
{
	if (rc != 0)
		exit(1);
}

/* one linear layer of the step: [N, in] x W -> [N, out], three products */
static void
linear(const char *name, int N, int in, int out, ft_wlayout lay,
    double *tf, double *tb)
{
	float *x = frnd((size_t)N * in), *w = frnd((size_t)in * out);
	float *dy = frnd((size_t)N * out), *y = frnd((size_t)N * out);
	float *dx = frnd((size_t)N * in), *dw = frnd((size_t)in * out);
	ft_bf16 *xh = hrnd((size_t)N * in), *wh = hrnd((size_t)in * out);
	ft_bf16 *dyh = hrnd((size_t)N * out);
	double f[3], b[3], conv, fl = 2.0 * N * in * out;
	int io = lay == FT_W_IO;

	/* fp32: what kernels.c calls (sgemm in the weight's layout) */
	BEST(f[0], cblas_sgemm(CblasRowMajor, CblasNoTrans,
	    io ? CblasNoTrans : CblasTrans, N, out, in, 1, x, in, w,
	    io ? out : in, 0, y, out));
	BEST(f[1], cblas_sgemm(CblasRowMajor, CblasNoTrans,
	    io ? CblasTrans : CblasNoTrans, N, in, out, 1, dy, out, w,
	    io ? out : in, 0, dx, in));
	if (io)
		BEST(f[2], cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in,
		    out, N, 1, x, in, dy, out, 1, dw, out));
	else
		BEST(f[2], cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out,
		    in, N, 1, dy, out, x, in, 1, dw, in));
	die_bf16(ft_bf16_linear_fwd(y, xh, wh, NULL, N, in, out, lay, threads));
	BEST(b[0], die_bf16(ft_bf16_linear_fwd(y, xh, wh, NULL, N, in, out, lay,
	    threads)));
	die_bf16(ft_bf16_linear_dx(dx, dyh, wh, N, in, out, lay, 0, threads));
	BEST(b[1], die_bf16(ft_bf16_linear_dx(dx, dyh, wh, N, in, out, lay, 0,
	    threads)));
	die_bf16(ft_bf16_linear_dw(dw, xh, dyh, N, in, out, lay, threads));
	BEST(b[2], die_bf16(ft_bf16_linear_dw(dw, xh, dyh, N, in, out, lay,
	    threads)));
	BEST(conv, ft_bf16_from_f32(dyh, dy, (size_t)N * out, threads));
	printf("%-8s [%d,%d]x[%d,%d] %s  fp32 fwd/dx/dW %6.1f %6.1f %6.1f "
	    "GFLOP/s | bf16 %6.1f %6.1f %6.1f GFLOP/s | convert output %.2f ms\n",
	    name, N, in, in, out, io ? "IO" : "OI", fl / f[0] / 1e9,
	    fl / f[1] / 1e9, fl / f[2] / 1e9, fl / b[0] / 1e9, fl / b[1] / 1e9,
	    fl / b[2] / 1e9, conv * 1e3);
	*tf += f[0] + f[1] + f[2];
	*tb += b[0] + b[1] + b[2];
	free(x); free(w); free(dy); free(y); free(dx); free(dw);
	free(xh); free(wh); free(dyh);
}

/* the attention products of one layer: B x NH heads of [T, hs] */
static void
attention(int B, int T, int NH, int hs, double *tf, double *tb)
{
	int C = NH * hs, C3 = 3 * C;
	size_t nq = (size_t)B * T * C3, nS = (size_t)B * NH * T * T;
	float *qkv = frnd(nq), *S = frnd(nS), *O = frnd((size_t)B * T * C);
	ft_bf16 *qh = hrnd(nq), *Ph = hrnd(nS);
	double f, b, fl = 6 * 2.0 * B * NH * T * T * hs;

	/* fp32: per (b, h) sgemm, full T x T, as the six products */
	BEST(f, for (int bh = 0; bh < B * NH; bh++) {
		const float *q = qkv + (size_t)(bh / NH) * T * C3 + (bh % NH) * hs;
		float *s = S + (size_t)bh * T * T;
		float *o = O + (size_t)(bh / NH) * T * C + (bh % NH) * hs;
		for (int k = 0; k < 3; k++) {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1,
			    q, C3, q + C, C3, 0, s, T);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T,
			    1, s, T, q + 2 * C, C3, 0, o, C);
		}
	});
	die_bf16(ft_bf16_att_qk(S, qh, C3, qh + C, C3, B, T, NH, NH, hs,
	    threads));
	BEST(b, for (int k = 0; k < 3; k++) {
		die_bf16(ft_bf16_att_qk(S, qh, C3, qh + C, C3, B, T, NH, NH, hs,
		    threads));
		die_bf16(ft_bf16_att_pv(O, C, Ph, k & 1, qh + 2 * C, C3, B, T, NH,
		    NH, hs, 0, threads));
	});
	printf("attention %dx%d heads of [%d,%d], six full products: fp32 %.1f "
	    "GFLOP/s | bf16 %.1f GFLOP/s\n", B, NH, T, hs, fl / f / 1e9,
	    fl / b / 1e9);
	*tf += f;
	*tb += b;
	free(qkv); free(S); free(O); free(qh); free(Ph);
}

static double
copy_bw(void)
{
	size_t n = (size_t)64 << 20;
	float *a = frnd(n), *b = ft_malloc(n * sizeof(float));
	double t;

	memcpy(b, a, n * sizeof(float));
	BEST(t, memcpy(b, a, n * sizeof(float)));
	free(a);
	free(b);
	return 2.0 * n * sizeof(float) / t;
}

/* streaming read: every thread sums its share of a 256 MiB array (what
 * a decode step does with the weights), best of reps */
struct rd_ctx {
	const uint64_t *a;
	size_t n;
	uint64_t sum[64];
};

static void
rd_task(void *vc, int tid, int nt)
{
	struct rd_ctx *c = vc;
	size_t lo, hi;
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;

	/* integer sums, four chains of 8-byte loads: the loads set the pace */
	ft_split(c->n / 4, tid, nt, &lo, &hi);
	for (size_t i = 4 * lo; i < 4 * hi; i += 4) {
		s0 += c->a[i];
		s1 += c->a[i + 1];
		s2 += c->a[i + 2];
		s3 += c->a[i + 3];
	}
	c->sum[tid & 63] = s0 + s1 + s2 + s3;
}

static double
read_bw(void)
{
	struct rd_ctx c = { .n = (size_t)32 << 20 };
	uint64_t *a = ft_malloc(c.n * sizeof(uint64_t));
	double t;

	for (size_t i = 0; i < c.n; i++)
		a[i] = i;
	c.a = a;
	ft_parallel(threads, rd_task, &c);
	BEST(t, ft_parallel(threads, rd_task, &c));
	free(a);
	return c.n * sizeof(uint64_t) / t;
}

/* decode: every weight of distilgpt2 once for k rows */
#define L 6
#define C 768
#define V 50257
static void
decode(double bw)
{
	static const int shp[4][2] = { { C, 3 * C }, { C, C }, { C, 4 * C },
		{ 4 * C, C } };
	float *w[4], *head = frnd((size_t)V * C), *x = frnd(8 * 4 * C);
	float *y = frnd((size_t)8 * V);
	ft_qmat q[2][5];
	size_t bytes[3] = { 0, 0, 0 };

	for (int i = 0; i < 4; i++)
		w[i] = frnd((size_t)L * shp[i][0] * shp[i][1]);
	for (int t = 0; t < 2; t++) {
		for (int i = 0; i < 4; i++) {
			/* one matrix per kind, L layers' worth of data each */
			ft_qmat_from_f32(&q[t][i], t ? FT_Q_Q8_0 : FT_Q_BF16, w[i],
			    shp[i][1] * L, shp[i][0], FT_W_IO, threads);
			bytes[t + 1] += ft_qmat_bytes(&q[t][i]);
		}
		ft_qmat_from_f32(&q[t][4], t ? FT_Q_Q8_0 : FT_Q_BF16, head, V, C,
		    FT_W_OI, threads);
		bytes[t + 1] += ft_qmat_bytes(&q[t][4]);
	}
	for (int i = 0; i < 4; i++)
		bytes[0] += (size_t)L * shp[i][0] * shp[i][1] * sizeof(float);
	bytes[0] += (size_t)V * C * sizeof(float);
	for (int k = 1; k <= 8; k += 7) {
		double t[3];

		/* fp32: ft's decode path (sgemv or the few-row kernel per layer
		 * matrix, the rows kernel for the head) */
		BEST(t[0], {
			for (int l = 0; l < L; l++)
				for (int i = 0; i < 4; i++)
					ft_matmul_forward(y, x, w[i] + (size_t)l * shp[i][0] *
					    shp[i][1], NULL, k, shp[i][0], shp[i][1]);
			ft_matmul_rows_small(y, x, head, k, V, C, threads);
		});
		for (int tq = 0; tq < 2; tq++)
			BEST(t[tq + 1], {
				/* the L layers' matrices stacked: the same bytes read */
				for (int i = 0; i < 4; i++)
					ft_qmat_mul(y, x, k, &q[tq][i], NULL, threads);
				ft_qmat_mul(y, x, k, &q[tq][4], NULL, threads);
			});
		for (int d = 0; d < 3; d++)
			printf("decode %d row%s %-5s %6.1f MB/step %7.1f steps/s "
			    "(%4.2fx fp32) %6.2f GB/s = %3.0f%% of read bandwidth\n", k,
			    k > 1 ? "s" : " ", d == 0 ? "fp32" : d == 1 ? "bf16" : "int8",
			    bytes[d] / 1e6, 1 / t[d], t[0] / t[d], bytes[d] / t[d] / 1e9,
			    100 * bytes[d] / t[d] / bw);
	}
	for (int i = 0; i < 4; i++)
		free(w[i]);
	for (int t = 0; t < 2; t++)
		for (int i = 0; i < 5; i++)
			ft_qmat_free(&q[t][i]);
	free(head);
	free(x);
	free(y);
}

int
main(int argc, char **argv)
{
	double f, b, tf = 0, tb = 0, bw;
	const char *warn, *why;

	ft_blas_init(argc, argv);
	ft_setprog(argv[0]);
	if (argc != 3 && !(argc == 4 && (strcmp(argv[3], "decode") == 0 ||
	    strcmp(argv[3], "bandwidth") == 0)))
		ft_die("usage: matmul_bench THREADS REPS [decode|bandwidth]");
	threads = atoi(argv[1]);
	reps = atoi(argv[2]);
	ft_blas_set_threads(threads);
	if (argc == 4)
		; /* the decode kernels only */
	else if (ft_bf16_probe(&why, &warn) != 0)
		printf("bf16: not measured: %s\n", why);
	else {
		int n = 2048;
		float *a = frnd((size_t)n * n), *c = frnd((size_t)n * n);
		ft_bf16 *ah = hrnd((size_t)n * n), *bh = hrnd((size_t)n * n);
		double fl = 2.0 * n * n * n;

		printf("bf16: %s, cpu bf16: %s%s%s\n", ft_bf16_describe(),
		    ft_bf16_cpu() ? ft_bf16_cpu() : "none", warn ? "; " : "",
		    warn ? warn : "");
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a,
		    n, a, n, 0, c, n);
		BEST(f, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n,
		    n, 1, a, n, a, n, 0, c, n));
		die_bf16(ft_bf16_linear_fwd(c, ah, bh, NULL, n, n, n, FT_W_IO,
		    threads));
		BEST(b, die_bf16(ft_bf16_linear_fwd(c, ah, bh, NULL, n, n, n,
		    FT_W_IO, threads)));
		printf("2048^3, %d threads: sgemm %.1f GFLOP/s (OpenBLAS %s) | "
		    "bf16 %.1f GFLOP/s | bf16/fp32 %.2fx\n", threads, fl / f / 1e9,
		    ft_blas_corename(), fl / b / 1e9, f / b);
		free(a); free(c); free(ah); free(bh);

		/* distilgpt2 step, batch 4 x 256 */
		linear("c_attn", 1024, C, 3 * C, FT_W_IO, &tf, &tb);
		linear("attn.c_proj", 1024, C, C, FT_W_IO, &tf, &tb);
		linear("c_fc", 1024, C, 4 * C, FT_W_IO, &tf, &tb);
		linear("mlp.c_proj", 1024, 4 * C, C, FT_W_IO, &tf, &tb);
		tf *= L;
		tb *= L;
		attention(4, 256, 12, 64, &f, &b);
		tf += L * f;
		tb += L * b;
		f = b = 0;
		linear("lm_head", 1024, C, V, FT_W_OI, &f, &b);
		tf += f;
		tb += b;
		printf("matmuls of one step (6 layers + head, full attention): "
		    "fp32 %.0f ms | bf16 %.0f ms | %.2fx\n", tf * 1e3, tb * 1e3,
		    tf / tb);
	}
	bw = read_bw();
	printf("memcpy bandwidth %.2f GB/s (read + write); streaming read "
	    "(%d threads) %.2f GB/s; few-row kernels: %s\n", copy_bw() / 1e9,
	    threads, bw / 1e9, ft_qmat_isa());
	if (argc == 4 && strcmp(argv[3], "bandwidth") == 0)
		return 0;
	decode(bw);
	return 0;
}
