/* Kernels: finite-difference checks of every backward kernel (LayerNorm,
 * RMSNorm, GELU, SwiGLU, rotary, matmul in both weight layouts,
 * grouped-query attention with padding mask and dropout, cross-entropy),
 * the fast exp against expf, dropout statistics, and thread-count
 * independence of elementwise kernels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"

static uint64_t rs = 88172645463325252ULL;

static float
frand(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (float)((rs >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

static float *
rnd(size_t n, float scale)
{
	float *x = malloc(n * sizeof(float));

	for (size_t i = 0; i < n; i++)
		x[i] = frand() * scale;
	return x;
}

static double
dot(const float *a, const float *b, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += (double)a[i] * b[i];
	return s;
}

/* Compare analytic g[idx] with central differences of f over x[idx]. */
typedef double (*lossfn)(void *ctx);
static double
fd_check(const char *what, float *x, const float *g, size_t n, lossfn f,
    void *ctx, float h)
{
	double worst = 0, gmax = 0;

	for (size_t i = 0; i < n; i++)
		gmax = fmax(gmax, fabs(g[i]));
	for (int k = 0; k < 24; k++) {
		size_t i = (size_t)(k * 7919) % n;
		float old = x[i];
		double lp, lm, num;
		x[i] = old + h;
		lp = f(ctx);
		x[i] = old - h;
		lm = f(ctx);
		x[i] = old;
		num = (lp - lm) / (2.0 * h);
		worst = fmax(worst, fabs(num - g[i]) / fmax(gmax, 1e-6));
	}
	printf("%-12s finite-difference rel err %.2g\n", what, worst);
	return worst;
}

/* ---- LayerNorm ---- */
struct lnc { float *x, *w, *b, *dy, *y, *mean, *rstd; int N, C; };
static double
ln_loss(void *vc)
{
	struct lnc *c = vc;

	ft_layernorm_forward(c->y, c->mean, c->rstd, c->x, c->w, c->b, c->N,
	    c->C, 1e-5f, 2);
	return dot(c->y, c->dy, (size_t)c->N * c->C);
}

static void
test_layernorm(void)
{
	int N = 6, C = 37;
	struct lnc c = { rnd((size_t)N * C, 2), rnd((size_t)C, 1),
	    rnd((size_t)C, 1), rnd((size_t)N * C, 1),
	    malloc((size_t)N * C * 4), malloc((size_t)N * 4),
	    malloc((size_t)N * 4), N, C };
	float *dx = calloc((size_t)N * C, 4), *dw = calloc((size_t)C, 4);
	float *db = calloc((size_t)C, 4);

	ln_loss(&c);
	ft_layernorm_backward(dx, dw, db, c.dy, c.x, c.w, c.mean, c.rstd, N, C, 2);
	CHECK(fd_check("ln dx", c.x, dx, (size_t)N * C, ln_loss, &c, 1e-2f) < 1e-2);
	CHECK(fd_check("ln dw", c.w, dw, (size_t)C, ln_loss, &c, 1e-2f) < 1e-2);
	CHECK(fd_check("ln db", c.b, db, (size_t)C, ln_loss, &c, 1e-2f) < 1e-2);
	free(c.x); free(c.w); free(c.b); free(c.dy); free(c.y); free(c.mean);
	free(c.rstd); free(dx); free(dw); free(db);
}

/* ---- GELU ---- */
struct gc { float *x, *y, *dy; size_t n; };
static double
gelu_loss(void *vc)
{
	struct gc *c = vc;

	ft_gelu_forward(c->y, c->x, c->n, 2);
	return dot(c->y, c->dy, c->n);
}

static void
test_gelu(void)
{
	size_t n = 203;
	struct gc c = { rnd(n, 4), malloc(n * 4), rnd(n, 1), n };
	float *dx = malloc(n * 4);
	double worst = 0;

	gelu_loss(&c);
	for (size_t i = 0; i < n; i++)
		worst = fmax(worst, fabs(c.y[i] - ft_ref_gelu(c.x[i])));
	printf("gelu vs tanh formula max abs err %.2g\n", worst);
	CHECK(worst < 2e-6);
	ft_gelu_backward(dx, c.x, c.dy, n, 2);
	CHECK(fd_check("gelu", c.x, dx, n, gelu_loss, &c, 1e-2f) < 1e-2);
	free(c.x); free(c.y); free(c.dy); free(dx);
}

/* ---- matmul ---- */
struct mc { float *x, *w, *b, *y, *dy; int N, IC, OC; };
static double
mm_loss(void *vc)
{
	struct mc *c = vc;

	ft_matmul_forward(c->y, c->x, c->w, c->b, c->N, c->IC, c->OC);
	return dot(c->y, c->dy, (size_t)c->N * c->OC);
}

static void
test_matmul(void)
{
	int N = 5, IC = 13, OC = 11;
	struct mc c = { rnd((size_t)N * IC, 1), rnd((size_t)IC * OC, 1),
	    rnd((size_t)OC, 1), malloc((size_t)N * OC * 4), rnd((size_t)N * OC, 1),
	    N, IC, OC };
	float *ref = malloc((size_t)N * OC * 4), *dx = calloc((size_t)N * IC, 4);
	float *dw = calloc((size_t)IC * OC, 4), *db = calloc((size_t)OC, 4);
	double worst = 0;

	mm_loss(&c);
	ft_ref_matmul(ref, c.x, c.w, c.b, N, IC, OC);
	for (int i = 0; i < N * OC; i++)
		worst = fmax(worst, fabs(ref[i] - c.y[i]));
	CHECK(worst < 1e-5);
	ft_matmul_backward(dx, dw, db, c.dy, c.x, c.w, N, IC, OC, 0, 2);
	CHECK(fd_check("matmul dx", c.x, dx, (size_t)N * IC, mm_loss, &c, 1e-2f) < 1e-2);
	CHECK(fd_check("matmul dw", c.w, dw, (size_t)IC * OC, mm_loss, &c, 1e-2f) < 1e-2);
	CHECK(fd_check("matmul db", c.b, db, (size_t)OC, mm_loss, &c, 1e-2f) < 1e-2);
	free(c.x); free(c.w); free(c.b); free(c.y); free(c.dy); free(ref);
	free(dx); free(dw); free(db);
}

/* ---- nn.Linear layout: w [OC, IC] ---- */
static double
lin_loss(void *vc)
{
	struct mc *c = vc;

	ft_linear_forward(c->y, c->x, c->w, c->b, c->N, c->IC, c->OC);
	return dot(c->y, c->dy, (size_t)c->N * c->OC);
}

static void
test_linear(void)
{
	int IC = 13, OC = 11;

	/* N 1 (sgemv), 3 (few-row kernel), 17 (sgemm) */
	for (int N = 1; N <= 17; N += N == 1 ? 2 : 14) {
		struct mc c = { rnd((size_t)N * IC, 1), rnd((size_t)IC * OC, 1),
		    rnd((size_t)OC, 1), malloc((size_t)N * OC * 4),
		    rnd((size_t)N * OC, 1), N, IC, OC };
		float *wt = malloc((size_t)IC * OC * 4);
		float *ref = malloc((size_t)N * OC * 4), *dx = calloc((size_t)N * IC, 4);
		float *dw = calloc((size_t)IC * OC, 4), *db = calloc((size_t)OC, 4);
		double worst = 0;

		for (int o = 0; o < OC; o++)
			for (int i = 0; i < IC; i++)
				wt[i * OC + o] = c.w[o * IC + i];
		lin_loss(&c);
		ft_ref_matmul(ref, c.x, wt, c.b, N, IC, OC);
		for (int i = 0; i < N * OC; i++)
			worst = fmax(worst, fabs(ref[i] - c.y[i]));
		CHECK(worst < 1e-5);
		ft_linear_backward(dx, dw, db, c.dy, c.x, c.w, N, IC, OC, 0, 2);
		CHECK(fd_check("linear dx", c.x, dx, (size_t)N * IC, lin_loss, &c,
		    1e-2f) < 1e-2);
		CHECK(fd_check("linear dw", c.w, dw, (size_t)IC * OC, lin_loss, &c,
		    1e-2f) < 1e-2);
		CHECK(fd_check("linear db", c.b, db, (size_t)OC, lin_loss, &c,
		    1e-2f) < 1e-2);
		free(c.x); free(c.w); free(c.b); free(c.y); free(c.dy); free(ref);
		free(dx); free(dw); free(db); free(wt);
	}
}

/* ---- RMSNorm ---- */
static double
rms_loss(void *vc)
{
	struct lnc *c = vc;

	ft_rmsnorm_forward(c->y, c->rstd, c->x, c->w, c->N, c->C, 1e-5f, 2);
	return dot(c->y, c->dy, (size_t)c->N * c->C);
}

static void
test_rmsnorm(void)
{
	int N = 7, C = 37;
	struct lnc c = { rnd((size_t)N * C, 2), rnd((size_t)C, 1), NULL,
	    rnd((size_t)N * C, 1), malloc((size_t)N * C * 4), NULL,
	    malloc((size_t)N * 4), N, C };
	float *dx = calloc((size_t)N * C, 4), *dw = calloc((size_t)C, 4);
	double worst = 0;

	rms_loss(&c);
	/* y = w x / sqrt(mean x² + eps), in double */
	for (int n = 0; n < N; n++) {
		double ms = 0;
		for (int i = 0; i < C; i++)
			ms += (double)c.x[n * C + i] * c.x[n * C + i];
		ms = 1 / sqrt(ms / C + 1e-5);
		for (int i = 0; i < C; i++)
			worst = fmax(worst, fabs(c.y[n * C + i] -
			    c.w[i] * c.x[n * C + i] * ms));
	}
	printf("rmsnorm vs formula max abs err %.2g\n", worst);
	CHECK(worst < 1e-5);
	ft_rmsnorm_backward(dx, dw, c.dy, c.x, c.w, c.rstd, N, C, 2);
	CHECK(fd_check("rms dx", c.x, dx, (size_t)N * C, rms_loss, &c, 1e-2f) < 1e-2);
	CHECK(fd_check("rms dw", c.w, dw, (size_t)C, rms_loss, &c, 1e-2f) < 1e-2);
	free(c.x); free(c.w); free(c.dy); free(c.y); free(c.rstd); free(dx);
	free(dw);
}

/* ---- rotary ---- */
struct rc { float *x, *x0, *dy, *cs, *sn; int32_t *pos; int N, S, nh, hs; };
static double
rope_loss(void *vc)
{
	struct rc *c = vc;

	memcpy(c->x, c->x0, (size_t)c->N * c->S * 4);
	ft_rope_apply(c->x, c->pos, c->N, c->S, c->nh, c->hs, c->cs, c->sn, 0,
	    2);
	return dot(c->x, c->dy, (size_t)c->N * c->S);
}

static void
test_rope(void)
{
	/* 5 rows of 3 rotated heads of 6 plus 4 untouched columns */
	int N = 5, nh = 3, hs = 6, S = nh * hs + 4, half = hs / 2, P = 9;
	struct rc c = { malloc((size_t)N * S * 4), rnd((size_t)N * S, 1),
	    rnd((size_t)N * S, 1), malloc((size_t)P * half * 4),
	    malloc((size_t)P * half * 4), malloc((size_t)N * 4), N, S, nh, hs };
	float *g = malloc((size_t)N * S * 4);
	double worst = 0;

	for (int p = 0; p < P; p++)
		for (int i = 0; i < half; i++) {
			double a = p / pow(10000.0, 2.0 * i / hs);
			c.cs[p * half + i] = (float)cos(a);
			c.sn[p * half + i] = (float)sin(a);
		}
	for (int n = 0; n < N; n++)
		c.pos[n] = (n * 4 + 1) % P;
	rope_loss(&c);
	/* rotate-half: x' = x cos + rotate_half(x) sin */
	for (int n = 0; n < N; n++)
		for (int h = 0; h < nh; h++)
			for (int i = 0; i < hs; i++) {
				const float *x = c.x0 + n * S + h * hs;
				int j = i % half, p = c.pos[n];
				double rh = i < half ? -x[i + half] : x[i - half];
				double want = x[i] * c.cs[p * half + j] +
				    rh * c.sn[p * half + j];
				worst = fmax(worst, fabs(c.x[n * S + h * hs + i] - want));
			}
	for (int n = 0; n < N; n++)
		for (int i = nh * hs; i < S; i++)
			worst = fmax(worst, fabs(c.x[n * S + i] - c.x0[n * S + i]));
	printf("rotary vs rotate-half formula max abs err %.2g\n", worst);
	CHECK(worst < 1e-6);
	/* backward: the inverse rotation of dy */
	memcpy(g, c.dy, (size_t)N * S * 4);
	ft_rope_apply(g, c.pos, N, S, nh, hs, c.cs, c.sn, 1, 2);
	CHECK(fd_check("rotary", c.x0, g, (size_t)N * S, rope_loss, &c,
	    1e-2f) < 1e-2);
	free(c.x); free(c.x0); free(c.dy); free(c.cs); free(c.sn); free(c.pos);
	free(g);
}

/* ---- SwiGLU ---- */
struct sc { float *gu, *y, *dy; size_t N; int F; };
static double
swiglu_loss(void *vc)
{
	struct sc *c = vc;

	ft_swiglu_forward(c->y, c->gu, c->N, c->F, 2);
	return dot(c->y, c->dy, c->N * (size_t)c->F);
}

static void
test_swiglu(void)
{
	size_t N = 6;
	int F = 19;
	struct sc c = { rnd(N * 2 * F, 4), malloc(N * F * 4), rnd(N * F, 1), N,
	    F };
	float *dgu = malloc(N * 2 * F * 4);
	double worst = 0;

	swiglu_loss(&c);
	for (size_t n = 0; n < N; n++)
		for (int i = 0; i < F; i++) {
			double g = c.gu[n * 2 * F + i], u = c.gu[n * 2 * F + F + i];
			worst = fmax(worst, fabs(c.y[n * F + i] - g / (1 + exp(-g)) * u));
		}
	printf("swiglu vs silu(g)*u max abs err %.2g\n", worst);
	CHECK(worst < 1e-5);
	ft_swiglu_backward(dgu, c.gu, c.dy, N, F, 2);
	CHECK(fd_check("swiglu", c.gu, dgu, N * 2 * F, swiglu_loss, &c,
	    1e-2f) < 1e-2);
	free(c.gu); free(c.y); free(c.dy); free(dgu);
}

/* few-row matmuls (batched decode) against the reference, 1 and 2
 * threads, sizes that are not multiples of the vector or block widths */
static void
test_matmul_small(void)
{
	int IC = 77, OC = 203;
	float *x = rnd((size_t)16 * IC, 1), *w = rnd((size_t)IC * OC, 1);
	float *b = rnd((size_t)OC, 1), *y = malloc((size_t)16 * OC * 4);
	float *ref = malloc((size_t)16 * OC * 4), *wt = malloc((size_t)IC * OC * 4);
	float *y2 = malloc((size_t)16 * OC * 4);

	for (int i = 0; i < IC; i++)
		for (int o = 0; o < OC; o++)
			wt[(size_t)o * IC + i] = w[(size_t)i * OC + o];
	for (int N = 2; N <= 16; N++)
		for (int th = 1; th <= 2; th++) {
			double worst = 0;

			ft_ref_matmul(ref, x, w, b, N, IC, OC);
			ft_matmul_forward_small(y, x, w, b, N, IC, OC, th);
			for (int i = 0; i < N * OC; i++)
				worst = fmax(worst, fabs(ref[i] - y[i]) /
				    fmax(1, fabs(ref[i])));
			CHECK(worst < 1e-5);
			ft_matmul_forward_small(y2, x, w, NULL, N, IC, OC, th);
			worst = 0;
			for (int i = 0; i < N * OC; i++)
				worst = fmax(worst, fabs(ref[i] - b[i % OC] - y2[i]) /
				    fmax(1, fabs(ref[i])));
			CHECK(worst < 1e-5);
			/* out[N,OC] = x[N,IC] · wtᵀ with wt [OC,IC] */
			ft_matmul_rows_small(y2, x, wt, N, OC, IC, th);
			worst = 0;
			for (int i = 0; i < N * OC; i++)
				worst = fmax(worst, fabs(ref[i] - b[i % OC] - y2[i]) /
				    fmax(1, fabs(ref[i])));
			CHECK(worst < 1e-5);
			if (worst >= 1e-5)
				printf("matmul small N %d threads %d: %g\n", N, th, worst);
		}
	free(x); free(w); free(b); free(y); free(ref); free(wt); free(y2);
}

/* ---- attention ---- */
/* qkv rows [q heads | k heads | v heads], S = (NH + 2 KV) hs floats. */
struct ac { float *qkv, *y, *dy, *P, *Pd; uint8_t *mask; int B, T, NH, KV, hs;
	double p; };
static double
att_loss(void *vc)
{
	struct ac *c = vc;

	ft_attention_forward(c->y, c->P, c->Pd, c->qkv, c->mask, c->B, c->T,
	    c->NH, c->KV, c->hs, c->p, 99, 2);
	return dot(c->y, c->dy, (size_t)c->B * c->T * c->NH * c->hs);
}

/* Plain causal attention with key mask (no dropout) in double; query
 * head h reads key/value head h / (NH / KV). */
static double
att_ref_err(const struct ac *c)
{
	int B = c->B, T = c->T, NH = c->NH, hs = c->hs, C = NH * hs;
	int S = (NH + 2 * c->KV) * hs;
	double worst = 0, mx = 0;

	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				double w[200], m = -1e300, z = 0;
				int j = h / (NH / c->KV);
				const float *q = c->qkv + ((size_t)b * T + t) * S + h * hs;
				for (int s = 0; s <= t; s++) {
					const float *k = c->qkv + ((size_t)b * T + s) * S + C +
					    j * hs;
					w[s] = -1e300;
					if (!c->mask[b * T + s])
						continue;
					w[s] = dot(q, k, (size_t)hs) / sqrt((double)hs);
					m = fmax(m, w[s]);
				}
				for (int s = 0; s <= t; s++) {
					w[s] = c->mask[b * T + s] ? exp(w[s] - m) : 0;
					z += w[s];
				}
				for (int i = 0; i < hs; i++) {
					double o = 0;
					for (int s = 0; s <= t; s++)
						o += w[s] / z * c->qkv[((size_t)b * T + s) * S +
						    C + c->KV * hs + j * hs + i];
					worst = fmax(worst, fabs(o -
					    c->y[((size_t)b * T + t) * C + h * hs + i]));
					mx = fmax(mx, fabs(o));
				}
			}
	return worst / mx;
}

static void
test_attention(double p, int T, int NH, int KV, int hs)
{
	int B = 2, C = NH * hs, S = (NH + 2 * KV) * hs;
	size_t att = (size_t)B * NH * T * T;
	struct ac c = { rnd((size_t)B * T * S, 1.5f),
	    malloc((size_t)B * T * C * 4), rnd((size_t)B * T * C, 1),
	    malloc(att * 4), malloc(att * 4), malloc((size_t)B * T), B, T, NH,
	    KV, hs, p };
	float *dqkv = malloc((size_t)B * T * S * 4), *dP = malloc(att * 4);
	float *Pd2 = malloc(att * 4);
	char what[64];

	for (int i = 0; i < B * T; i++)
		c.mask[i] = !(i / T == 1 && i % T >= 4); /* row 1: 4 real tokens */
	att_loss(&c);
	if (p == 0) {
		double e = att_ref_err(&c);
		printf("attention T=%d heads %d/%d vs plain reference rel err "
		    "%.2g\n", T, NH, KV, e);
		CHECK(e < 1e-5);
	}
	/* probabilities: rows sum to 1; masked keys get 0 */
	{
		double worst = 0;
		for (int r = 0; r < B * NH * T; r++) {
			double s = 0;
			for (int k = 0; k < T; k++)
				s += c.P[(size_t)r * T + k];
			worst = fmax(worst, fabs(s - 1));
		}
		CHECK(worst < 1e-6);
		CHECK(c.P[((size_t)(1 * NH + 0) * T + 6) * T + 5] == 0.0f);
		CHECK(c.P[((size_t)(0 * NH + 1) * T + 2) * T + 3] == 0.0f);
	}
	ft_attention_backward(dqkv, dP, Pd2, c.dy, c.qkv, c.P, c.mask, B, T,
	    NH, KV, hs, p, 99, 2);
	snprintf(what, sizeof what, "attn%s %d/%d", p > 0 ? "+drop" : "", NH,
	    KV);
	CHECK(fd_check(what, c.qkv, dqkv, (size_t)B * T * S, att_loss, &c,
	    1e-2f) < 1e-2);
	free(c.qkv); free(c.y); free(c.dy); free(c.P); free(c.Pd); free(c.mask);
	free(dqkv); free(dP); free(Pd2);
}

/* ---- cross-entropy ---- */
struct cc { float *l, *losses, *lse; int32_t *t; int N, V; };
static double
ce_loss(void *vc)
{
	struct cc *c = vc;
	int64_t n;

	return ft_crossentropy_forward(c->losses, c->lse, c->l, c->t, c->N, c->V,
	    &n, 2);
}

static void
test_crossentropy(void)
{
	int N = 5, V = 67;
	int32_t t[5] = { 3, -100, 66, 0, 12 };
	struct cc c = { rnd((size_t)N * V, 3), malloc((size_t)N * 4),
	    malloc((size_t)N * 4), t, N, V };
	float *g = malloc((size_t)N * V * 4);
	int64_t n;
	double s = ft_crossentropy_forward(c.losses, c.lse, c.l, t, N, V, &n, 2);
	double ref = 0;

	CHECK_EQ_INT(n, 4);
	for (int r = 0; r < N; r++) {
		double mx = -1e30, z = 0;
		if (t[r] == -100)
			continue;
		for (int v = 0; v < V; v++)
			mx = fmax(mx, c.l[r * V + v]);
		for (int v = 0; v < V; v++)
			z += exp(c.l[r * V + v] - mx);
		ref += mx + log(z) - c.l[r * V + t[r]];
	}
	CHECK_NEAR(s, ref, 1e-6);
	memcpy(g, c.l, (size_t)N * V * 4);
	ft_crossentropy_backward(g, c.lse, t, N, V, 1.0f, 2);
	CHECK(fd_check("cross-ent", c.l, g, (size_t)N * V, ce_loss, &c, 1e-2f) < 1e-2);
	free(c.l); free(c.losses); free(c.lse); free(g);
}

static void
test_exp_and_dropout(void)
{
	double worst = 0;
	size_t n = 100000, kept = 0;
	float *x = malloc(n * 4), *y = malloc(n * 4);

	for (float v = -87.0f; v < 88.0f; v += 0.013f)
		worst = fmax(worst, fabs(ft_expf_fast(v) - expf(v)) / expf(v));
	printf("fast exp max rel err %.2g\n", worst);
	CHECK(worst < 5e-7);
	CHECK(ft_expf_fast(-1000.0f) == 0.0f);
	for (size_t i = 0; i < n; i++)
		x[i] = 1.0f;
	memcpy(y, x, n * 4);
	ft_dropout(x, n, 0.1, ft_drop_key(1, 2, 3), 1);
	ft_dropout(y, n, 0.1, ft_drop_key(1, 2, 3), 2);
	CHECK(memcmp(x, y, n * 4) == 0);
	for (size_t i = 0; i < n; i++) {
		kept += x[i] != 0;
		if (x[i] != 0 && x[i] != (float)(1.0 / 0.9))
			worst = 1;
		if ((x[i] != 0) != ft_drop_keep(ft_drop_key(1, 2, 3), (uint32_t)i, 0.1))
			worst = 1;
	}
	CHECK(worst < 1);
	printf("dropout kept %.4f\n", (double)kept / n);
	CHECK(fabs((double)kept / n - 0.9) < 0.005);
	/* ft_dropout_to: the same mask into another buffer, or added to it
	 * (an odd length, so the scalar tail runs too) */
	{
		size_t m = n - 3;
		float *src = rnd(m, 7), *a = malloc(m * 4), *b = rnd(m, 8);
		float *want = malloc(m * 4), *sum = malloc(m * 4);
		uint64_t k = ft_drop_key(4, 5, 6);

		memcpy(want, src, m * 4);
		ft_dropout(want, m, 0.3, k, 1);
		ft_dropout_to(a, src, m, 0.3, k, 0, 2);
		CHECK(memcmp(a, want, m * 4) == 0);
		for (size_t i = 0; i < m; i++)
			sum[i] = b[i] + want[i];
		ft_dropout_to(b, src, m, 0.3, k, 1, 2);
		CHECK(memcmp(b, sum, m * 4) == 0);
		ft_dropout_to(a, src, m, 0, k, 0, 2);
		CHECK(memcmp(a, src, m * 4) == 0);
		free(src);
		free(a);
		free(b);
		free(want);
		free(sum);
	}
	free(x);
	free(y);
}

static void
test_dot_axpy(void)
{
	for (int n = 0; n < 40; n += 3) {
		float *a = rnd((size_t)n + 1, 1), *b = rnd((size_t)n + 1, 1);
		float *y = rnd((size_t)n + 1, 1), *y0 = malloc(((size_t)n + 1) * 4);
		double ref = dot(a, b, (size_t)n);
		memcpy(y0, y, ((size_t)n + 1) * 4);
		CHECK(fabs(ft_dot(a, b, n) - ref) < 1e-5);
		ft_axpy(y, 0.5f, a, n);
		for (int i = 0; i < n; i++)
			CHECK(fabs(y[i] - (y0[i] + 0.5 * a[i])) < 1e-6);
		CHECK(y[n] == y0[n]);
		free(a); free(b); free(y); free(y0);
	}
}

int
main(void)
{
	test_dot_axpy();
	test_layernorm();
	test_gelu();
	test_matmul();
	test_matmul_small();
	test_linear();
	test_rmsnorm();
	test_rope();
	test_swiglu();
	test_attention(0.0, 7, 3, 3, 5);
	test_attention(0.2, 7, 3, 3, 5);
	test_attention(0.0, 150, 3, 3, 5);
	test_attention(0.2, 150, 3, 3, 5);
	/* grouped-query (3 KV heads for 9) and multi-query (1 KV head) */
	test_attention(0.0, 9, 9, 3, 6);
	test_attention(0.2, 9, 9, 3, 6);
	test_attention(0.0, 70, 3, 1, 7);
	test_attention(0.0, 7, 4, 2, 3);
	test_crossentropy();
	test_exp_and_dropout();
	return check_done();
}
