/* bf16 matmuls through oneDNN: every product of a linear layer in both
 * weight layouts and the attention products (grouped-query heads too)
 * equal an exact matmul of the bf16-rounded inputs within fp32
 * accumulation error, at odd sizes, with 1 and 2 threads, and repeat bit
 * for bit; then again under oneDNN's bf16 emulation (DNNL_MAX_CPU_ISA=
 * AVX512_CORE, a CPU without bf16 instructions) and once without AVX-512
 * (must refuse).  Where oneDNN cannot compute bf16, prints SKIP with the
 * reason and exits 77 (tests/run.sh: SKIP). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bf16.h"
#include "check.h"
#include "rng.h"
#include "err.h"
#include "kernels.h"

static struct ft_rng rng;

static float
frand(void)
{
	return ft_rng_float(&rng) * 2.0f - 1.0f;
}

/* n random values, their bf16 bits and the fp32 values those stand for */
struct op {
	size_t n;
	float *f;      /* bf16-rounded values as fp32 */
	ft_bf16 *h;
};

static struct op
op_new(size_t n, int threads)
{
	struct op o = { n, malloc(n * sizeof(float)), malloc(n * sizeof(ft_bf16)) };
	float *x = malloc(n * sizeof(float));

	for (size_t i = 0; i < n; i++)
		x[i] = frand();
	ft_bf16_from_f32(o.h, x, n, threads);
	ft_bf16_to_f32(o.f, o.h, n, threads);
	free(x);
	return o;
}

static void
op_free(struct op *o)
{
	free(o->f);
	free(o->h);
}

/* got[i] against want[i] (exact sums in double) within (K+2) 2^-24 of
 * the sum of |terms| mag[i] */
static int
close_all(const char *what, const float *got, const double *want,
    const double *mag, size_t n, int K)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		if (!(fabs(got[i] - want[i]) <= (K + 2) * 0x1p-24 * mag[i])) {
			if (bad++ == 0)
				fprintf(stderr, "%s: [%zu] = %.9g, want %.9g (bound %.3g)\n",
				    what, i, got[i], want[i], (K + 2) * 0x1p-24 * mag[i]);
		}
	return bad;
}

/* run fn twice, the second time into a copy of the initial output, and
 * demand the same bits */
#define TWICE(out, n, init, call) do { \
	float *o2_ = malloc((n) * sizeof(float)); \
	memcpy(out, init, (n) * sizeof(float)); \
	memcpy(o2_, init, (n) * sizeof(float)); \
	CHECK((call) == 0); \
	{ float *keep_ = out; out = o2_; CHECK((call) == 0); out = keep_; } \
	CHECK(memcmp(out, o2_, (n) * sizeof(float)) == 0); \
	free(o2_); } while (0)

static void
test_linear(int N, int in, int out, ft_wlayout lay, int th)
{
	struct op x = op_new((size_t)N * in, th), w = op_new((size_t)in * out, th);
	struct op dy = op_new((size_t)N * out, th);
	float *bias = malloc(out * sizeof(float)), *y = NULL;
	size_t ny = (size_t)N * out, nx = (size_t)N * in, nw = (size_t)in * out;
	float *init = malloc((nx > nw ? (nx > ny ? nx : ny) : (nw > ny ? nw : ny)) *
	    sizeof(float));
	double *want = malloc(nw * 2 * sizeof(double) + nx * 2 * sizeof(double) +
	    ny * 2 * sizeof(double)), *mag;
	float *wio = malloc(nw * sizeof(float)); /* W as [in, out] */
	char what[96];

	for (int o = 0; o < out; o++)
		bias[o] = frand();
	for (int i = 0; i < in; i++)
		for (int o = 0; o < out; o++)
			wio[(size_t)i * out + o] = lay == FT_W_IO ?
			    w.f[(size_t)i * out + o] : w.f[(size_t)o * in + i];
	mag = want + (nx > nw ? (nx > ny ? nx : ny) : (nw > ny ? nw : ny));

	/* forward with bias; the reference is kernels' ft_ref_matmul on
	 * the rounded values (its sum of |terms| computed here) */
	y = malloc(ny * sizeof(float));
	{
		float *yr = malloc(ny * sizeof(float));
		ft_ref_matmul(yr, x.f, wio, bias, N, in, out);
		for (int n = 0; n < N; n++)
			for (int o = 0; o < out; o++) {
				double m = fabs(bias[o]), s = bias[o];
				for (int i = 0; i < in; i++) {
					double p = (double)x.f[(size_t)n * in + i] *
					    wio[(size_t)i * out + o];
					m += fabs(p);
					s += p;
				}
				want[(size_t)n * out + o] = s;
				mag[(size_t)n * out + o] = m;
				/* ft_ref_matmul agrees with the double sum */
				CHECK(yr[(size_t)n * out + o] == (float)s);
			}
		free(yr);
	}
	memset(init, 0, ny * sizeof(float));
	TWICE(y, ny, init, ft_bf16_linear_fwd(y, x.h, w.h, bias, N, in, out,
	    lay, th));
	snprintf(what, sizeof(what), "fwd %s %dx%dx%d t%d",
	    lay == FT_W_IO ? "IO" : "OI", N, in, out, th);
	CHECK_EQ_INT(close_all(what, y, want, mag, ny, in), 0);
	/* without bias */
	for (size_t i = 0; i < ny; i++) {
		want[i] -= bias[i % out];
		mag[i] -= fabs(bias[i % out]);
	}
	TWICE(y, ny, init, ft_bf16_linear_fwd(y, x.h, w.h, NULL, N, in, out,
	    lay, th));
	CHECK_EQ_INT(close_all(what, y, want, mag, ny, in), 0);
	free(y);

	/* dx = dy · Wᵀ, then dx += dy · Wᵀ onto a random dx */
	{
		float *dx = malloc(nx * sizeof(float));
		for (int acc = 0; acc <= 1; acc++) {
			for (size_t i = 0; i < nx; i++)
				init[i] = acc ? frand() : 0.0f;
			for (int n = 0; n < N; n++)
				for (int i = 0; i < in; i++) {
					double s = init[(size_t)n * in + i], m = fabs(s);
					for (int o = 0; o < out; o++) {
						double p = (double)dy.f[(size_t)n * out + o] *
						    wio[(size_t)i * out + o];
						s += p;
						m += fabs(p);
					}
					want[(size_t)n * in + i] = s;
					mag[(size_t)n * in + i] = m;
				}
			if (!acc)	/* = must not read the old contents */
				for (size_t i = 0; i < nx; i++)
					init[i] = NAN;
			TWICE(dx, nx, init, ft_bf16_linear_dx(dx, dy.h, w.h, N, in, out,
			    lay, acc, th));
			snprintf(what, sizeof(what), "dx acc=%d %s %dx%dx%d t%d", acc,
			    lay == FT_W_IO ? "IO" : "OI", N, in, out, th);
			CHECK_EQ_INT(close_all(what, dx, want, mag, nx, out), 0);
		}
		free(dx);
	}

	/* dW += (xᵀ · dy in W's layout) onto a random dW */
	{
		float *dw = malloc(nw * sizeof(float));
		for (size_t i = 0; i < nw; i++)
			init[i] = frand();
		for (int i = 0; i < in; i++)
			for (int o = 0; o < out; o++) {
				size_t at = lay == FT_W_IO ? (size_t)i * out + o :
				    (size_t)o * in + i;
				double s = init[at], m = fabs(s);
				for (int n = 0; n < N; n++) {
					double p = (double)x.f[(size_t)n * in + i] *
					    dy.f[(size_t)n * out + o];
					s += p;
					m += fabs(p);
				}
				want[at] = s;
				mag[at] = m;
			}
		TWICE(dw, nw, init, ft_bf16_linear_dw(dw, x.h, dy.h, N, in, out,
		    lay, th));
		snprintf(what, sizeof(what), "dw %s %dx%dx%d t%d",
		    lay == FT_W_IO ? "IO" : "OI", N, in, out, th);
		CHECK_EQ_INT(close_all(what, dw, want, mag, nw, N), 0);
		free(dw);
	}
	op_free(&x);
	op_free(&w);
	op_free(&dy);
	free(bias);
	free(init);
	free(want);
	free(wio);
}

/* a packed qkv [B*T, (NH + 2 NKV) hs] (GPT-2: NKV = NH; grouped-query
 * otherwise): S = Q·Kᵀ, O (=, +=) P·V, and the group sums of Pᵀ·Y */
static void
test_attention(int B, int T, int NH, int NKV, int hs, int th)
{
	int G = NH / NKV, W = (NH + 2 * NKV) * hs, CQ = NH * hs, CK = NKV * hs;
	size_t nq = (size_t)B * T * W, nS = (size_t)B * NH * T * T;
	size_t no = (size_t)B * T * CQ, nk = (size_t)B * T * CK;
	struct op qkv = op_new(nq, th), P = op_new(nS, th), Y = op_new(no, th);
	float *S = malloc(nS * sizeof(float)), *O = malloc(no * sizeof(float));
	float *init = malloc((nS > no ? nS : no) * sizeof(float));
	double *want = malloc(nS * sizeof(double)), *mag = malloc(nS *
	    sizeof(double));
	char what[80];

#define Q(b, t, h, d) \
	qkv.f[((size_t)(b) * T + (t)) * W + (size_t)(h) * hs + (d)]
#define K(b, t, j, d) Q(b, t, NH + (j), d)
#define V(b, t, j, d) Q(b, t, NH + NKV + (j), d)
#define PP(b, h, t, s) P.f[(((size_t)(b) * NH + (h)) * T + (t)) * T + (s)]
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++)
				for (int s = 0; s < T; s++) {
					double a = 0, m = 0;
					for (int d = 0; d < hs; d++) {
						double p = (double)Q(b, t, h, d) * K(b, s, h / G, d);
						a += p;
						m += fabs(p);
					}
					size_t at = (((size_t)b * NH + h) * T + t) * T + s;
					want[at] = a;
					mag[at] = m;
				}
	memset(init, 0, nS * sizeof(float));
	TWICE(S, nS, init, ft_bf16_att_qk(S, qkv.h, W, qkv.h + CQ, W, B, T,
	    NH, NKV, hs, th));
	snprintf(what, sizeof(what), "qk %dx%dx%d/%dx%d t%d", B, T, NH, NKV, hs,
	    th);
	CHECK_EQ_INT(close_all(what, S, want, mag, nS, hs), 0);

	/* O [B*T, NH hs] (=, +=) P · V */
	for (int acc = 0; acc <= 1; acc++) {
		for (size_t i = 0; i < no; i++)
			init[i] = acc ? frand() : 0.0f;
		for (int b = 0; b < B; b++)
			for (int h = 0; h < NH; h++)
				for (int t = 0; t < T; t++)
					for (int d = 0; d < hs; d++) {
						size_t at = ((size_t)b * T + t) * CQ + (size_t)h * hs + d;
						double a = init[at], m = fabs(a);
						for (int s = 0; s < T; s++) {
							double p = (double)PP(b, h, t, s) * V(b, s, h / G, d);
							a += p;
							m += fabs(p);
						}
						want[at] = a;
						mag[at] = m;
					}
		if (!acc)
			for (size_t i = 0; i < no; i++)
				init[i] = NAN;
		TWICE(O, no, init, ft_bf16_att_pv(O, CQ, P.h, 0, qkv.h + CQ + CK, W,
		    B, T, NH, NKV, hs, acc, th));
		snprintf(what, sizeof(what), "pv acc=%d %dx%dx%d/%dx%d t%d", acc, B,
		    T, NH, NKV, hs, th);
		CHECK_EQ_INT(close_all(what, O, want, mag, no, T), 0);
	}

	/* O [B*T, NKV hs] (=, +=) Σ_g P[h]ᵀ · Y[h], Y [B*T, NH hs] */
	for (int acc = 0; acc <= 1; acc++) {
		for (size_t i = 0; i < nk; i++)
			init[i] = acc ? frand() : 0.0f;
		for (int b = 0; b < B; b++)
			for (int j = 0; j < NKV; j++)
				for (int t = 0; t < T; t++)
					for (int d = 0; d < hs; d++) {
						size_t at = ((size_t)b * T + t) * CK + (size_t)j * hs + d;
						double a = init[at], m = fabs(a);
						for (int h = j * G; h < (j + 1) * G; h++)
							for (int s = 0; s < T; s++) {
								double p = (double)PP(b, h, s, t) *
								    Y.f[((size_t)b * T + s) * CQ + (size_t)h * hs + d];
								a += p;
								m += fabs(p);
							}
						want[at] = a;
						mag[at] = m;
					}
		if (!acc)
			for (size_t i = 0; i < nk; i++)
				init[i] = NAN;
		TWICE(O, nk, init, ft_bf16_att_pv(O, CK, P.h, 1, Y.h, CQ, B, T, NH,
		    NKV, hs, acc, th));
		snprintf(what, sizeof(what), "pvT acc=%d %dx%dx%d/%dx%d t%d", acc, B,
		    T, NH, NKV, hs, th);
		CHECK_EQ_INT(close_all(what, O, want, mag, nk, G * T), 0);
	}
#undef Q
#undef K
#undef V
#undef PP
	op_free(&qkv);
	op_free(&P);
	op_free(&Y);
	free(S);
	free(O);
	free(init);
	free(want);
	free(mag);
}

int
main(int argc, char **argv)
{
	const char *why, *warn;

	ft_rng_seed(&rng, 13, 0);
	ft_setprog(argc > 0 ? argv[0] : "test_bf16");
	printf("cpu bf16 instructions: %s\n", ft_bf16_cpu() != NULL ?
	    ft_bf16_cpu() : "none");
	if (ft_bf16_probe(&why, &warn) != 0) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	printf("%s%s%s\n", ft_bf16_describe(), warn != NULL ? "; " : "",
	    warn != NULL ? warn : "");
	for (int th = 1; th <= 2; th++) {
		for (int lay = FT_W_IO; lay <= FT_W_OI; lay++) {
			test_linear(37, 53, 29, (ft_wlayout)lay, th);
			test_linear(1, 17, 70, (ft_wlayout)lay, th);
			test_linear(67, 130, 99, (ft_wlayout)lay, th);
		}
		test_attention(2, 19, 3, 3, 7, th);
		test_attention(1, 40, 2, 2, 16, th);
		test_attention(2, 13, 6, 2, 5, th);	/* grouped-query */
		test_attention(3, 11, 4, 1, 8, th);	/* multi-query */
	}
	if (argc == 1) {
		/* again on oneDNN's bf16 emulation (what a CPU without bf16
		 * instructions gets), and without AVX-512, where oneDNN has no
		 * bf16 matmul: SKIP (77) with the reason */
		char self[4096], cmd[4200];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		int rc;

		CHECK(n > 0);
		self[n > 0 ? n : 0] = '\0';
		fflush(stdout);
		snprintf(cmd, sizeof(cmd), "DNNL_MAX_CPU_ISA=AVX512_CORE '%s' child",
		    self);
		rc = system(cmd);
		CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
		snprintf(cmd, sizeof(cmd), "DNNL_MAX_CPU_ISA=AVX2 '%s' child", self);
		rc = system(cmd);
		CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 77);
	}
	return check_done();
}
