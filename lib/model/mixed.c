/* mixed — see mixed.h. */
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bf16.h"
#include "err.h"
#include "kernels.h"
#include "model/mixed.h"

enum { BUF_IN, BUF_OUT, BUF_P, BUF_W, BUF_N };

struct ft_model_bf16 {
	ft_bf16 *params16;      /* [n] bf16 copy of m->params */
	size_t n;
	int stale;
	int on;                 /* products in bf16 (a training forward) */
	ft_bf16 *buf[BUF_N];    /* scratch: inputs, gradients, probabilities */
	size_t cap[BUF_N];
};

int
ft_model_set_bf16(ft_model *m, int on)
{
	if (!on) {
		ft_mx_free(m);
		return 0;
	}
	if (m->bf16 != NULL)
		return 0;
	if (ft_bf16_init() != 0)
		return -1;
	m->bf16 = ft_calloc(1, sizeof(*m->bf16));
	m->bf16->stale = 1;
	return 0;
}

void
ft_model_params_changed(ft_model *m)
{
	if (m->bf16 != NULL)
		m->bf16->stale = 1;
}

size_t
ft_mx_bytes(const ft_model *m)
{
	const struct ft_model_bf16 *x = m->bf16;
	size_t n = 0;

	if (x == NULL)
		return 0;
	n = x->n;
	for (int i = 0; i < BUF_N; i++)
		n += x->cap[i];
	return n * sizeof(ft_bf16);
}

int
ft_mx_on(const ft_model *m)
{
	return m->bf16 != NULL && m->bf16->on;
}

void
ft_mx_begin(ft_model *m, int train)
{
	struct ft_model_bf16 *x = m->bf16;

	if (x == NULL)
		return;
	x->on = train;
	if (!train || (!x->stale && x->n == m->n_params))
		return;
	if (x->n != m->n_params) {
		free(x->params16);
		x->params16 = ft_malloc(m->n_params * sizeof(ft_bf16));
		x->n = m->n_params;
	}
	ft_bf16_from_f32(x->params16, m->params, m->n_params, m->threads);
	x->stale = 0;
}

void
ft_mx_free(ft_model *m)
{
	struct ft_model_bf16 *x = m->bf16;

	if (x == NULL)
		return;
	free(x->params16);
	for (int i = 0; i < BUF_N; i++)
		free(x->buf[i]);
	free(x);
	m->bf16 = NULL;
}

/* Scratch slot i converted from src[n]. */
static ft_bf16 *
conv(const ft_model *m, int i, const float *src, size_t n)
{
	struct ft_model_bf16 *x = m->bf16;

	if (n > x->cap[i]) {
		free(x->buf[i]);
		x->buf[i] = ft_malloc(n * sizeof(ft_bf16));
		x->cap[i] = n;
	}
	ft_bf16_from_f32(x->buf[i], src, n, m->threads);
	return x->buf[i];
}

/* The bf16 copy of a weight view into m->params. */
static const ft_bf16 *
w16_of(const ft_model *m, const float *w)
{
	return m->bf16->params16 + (w - m->params);
}

static void
ok(int rc)
{
	if (rc != 0)
		ft_die("bf16 matmul failed");
}

void
ft_mx_linear_fwd(const ft_model *m, float *out, const float *inp,
    const float *w, const float *b, int N, int IC, int OC, ft_wlayout lay)
{
	const ft_bf16 *x16 = conv(m, BUF_IN, inp, (size_t)N * IC);

	ok(ft_bf16_linear_fwd(out, x16, w16_of(m, w), b, N, IC, OC, lay,
	    m->threads));
}

void
ft_mx_linear_bwd(const ft_model *m, float *dinp, float *dw, float *db,
    const float *dout, const float *inp, const float *w, int N, int IC,
    int OC, ft_wlayout lay)
{
	const ft_bf16 *d16 = conv(m, BUF_OUT, dout, (size_t)N * OC);

	if (dinp != NULL)
		ok(ft_bf16_linear_dx(dinp, d16, w16_of(m, w), N, IC, OC, lay, 0,
		    m->threads));
	if (dw != NULL) /* NULL: a frozen weight (LoRA) */
		ok(ft_bf16_linear_dw(dw, conv(m, BUF_IN, inp, (size_t)N * IC),
		    d16, N, IC, OC, lay, m->threads));
	if (db != NULL)
		ft_bias_backward(db, dout, N, OC, m->threads);
}

void
ft_mx_ext_fwd(const ft_model *m, float *out, const float *inp,
    const float *w, int N, int IC, int OC)
{
	const ft_bf16 *x16 = conv(m, BUF_IN, inp, (size_t)N * IC);

	ok(ft_bf16_linear_fwd(out, x16, conv(m, BUF_W, w, (size_t)OC * IC),
	    NULL, N, IC, OC, FT_W_OI, m->threads));
}

void
ft_mx_ext_bwd(const ft_model *m, float *dinp, int acc, float *dw,
    const float *dout, const float *inp, const float *w, int N, int IC,
    int OC)
{
	const ft_bf16 *d16 = conv(m, BUF_OUT, dout, (size_t)N * OC);

	ok(ft_bf16_linear_dw(dw, conv(m, BUF_IN, inp, (size_t)N * IC), d16, N,
	    IC, OC, FT_W_OI, m->threads));
	if (dinp != NULL)
		ok(ft_bf16_linear_dx(dinp, d16, conv(m, BUF_W, w, (size_t)OC * IC),
		    N, IC, OC, FT_W_OI, acc, m->threads));
}

/* q, k, v of a [N, S] bf16 qkv: NH query heads, then NKV key heads, then
 * NKV value heads. */
void
ft_mx_att_fwd(const ft_model *m, float *out, float *P, float *Pd,
    const float *qkv, const uint8_t *mask, int B, int T, int NH, int NKV,
    int hs, double p, uint64_t key)
{
	int S = (NH + 2 * NKV) * hs, th = m->threads;
	size_t N = (size_t)B * T, att = N * NH * T;
	const ft_bf16 *q = conv(m, BUF_IN, qkv, N * S);
	const ft_bf16 *k = q + (size_t)NH * hs, *v = k + (size_t)NKV * hs;
	const ft_bf16 *p16;

	ok(ft_bf16_att_qk(P, q, S, k, S, B, T, NH, NKV, hs, th));
	ft_attention_softmax(P, Pd, mask, B, T, NH, hs, p, key, th);
	p16 = conv(m, BUF_P, p > 0 ? Pd : P, att);
	ok(ft_bf16_att_pv(out, NH * hs, p16, 0, v, S, B, T, NH, NKV, hs, 0,
	    th));
}

void
ft_mx_att_bwd(const ft_model *m, float *dqkv, float *dP, float *Pd,
    const float *dout, const float *qkv, const float *P,
    const uint8_t *mask, int B, int T, int NH, int NKV, int hs, double p,
    uint64_t key)
{
	int S = (NH + 2 * NKV) * hs, A = NH * hs, th = m->threads;
	size_t N = (size_t)B * T, att = N * NH * T;
	const ft_bf16 *q = conv(m, BUF_IN, qkv, N * S);
	const ft_bf16 *k = q + (size_t)NH * hs, *v = k + (size_t)NKV * hs;
	const ft_bf16 *dy = conv(m, BUF_OUT, dout, N * A), *p16;
	float *dq = dqkv, *dk = dqkv + (size_t)NH * hs;
	float *dv = dk + (size_t)NKV * hs;

	(void)mask; /* masked keys have P = 0: no gradient flows to them */
	/* dPd = dY·Vᵀ; dS from it (Pd recomputed from P when dropped) */
	ok(ft_bf16_att_qk(dP, dy, A, v, S, B, T, NH, NKV, hs, th));
	ft_attention_softmax_backward(dP, p > 0 ? Pd : NULL, P, B, T, NH, hs,
	    p, key, th);
	/* dV = Σ_group Pdᵀ·dY */
	p16 = conv(m, BUF_P, p > 0 ? Pd : P, att);
	ok(ft_bf16_att_pv(dv, S, p16, 1, dy, A, B, T, NH, NKV, hs, 0, th));
	/* dQ = dS·K, dK = Σ_group dSᵀ·Q */
	p16 = conv(m, BUF_P, dP, att);
	ok(ft_bf16_att_pv(dq, S, p16, 0, k, S, B, T, NH, NKV, hs, 0, th));
	ok(ft_bf16_att_pv(dk, S, p16, 1, q, S, B, T, NH, NKV, hs, 0, th));
}

/* ---- quantised weights for decoding ---- */

#define MQ_SMALL 16             /* rows: ft_qmat_mul on the stored weights */
#define MQ_CHUNK (1 << 20)      /* floats of dequantised scratch */

struct ft_model_q {
	ft_qtype type;
	int n;                  /* matrices, the head last */
	const float **w;        /* [n] the fp32 views they stand for */
	ft_qmat *q;             /* [n] */
	int tied;               /* embedding lookups from the head */
	size_t released;        /* fp32 bytes given back */
	float *scratch;         /* [MQ_CHUNK] */
};

/* Give the whole pages inside [p, p + n) back to the system (they read
 * as zeros afterwards). */
static size_t
release(float *p, size_t n)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)p + pg - 1) / pg * pg;
	uintptr_t hi = ((uintptr_t)(p + n)) / pg * pg;

	if (hi <= lo || madvise((void *)lo, hi - lo, MADV_DONTNEED) != 0)
		return 0;
	return hi - lo;
}

int
ft_model_quantize(ft_model *m, ft_qtype t)
{
	const ft_model_config *c = &m->cfg;
	int L = c->n_layer, C = c->n_embd, S, A = c->n_head * c->head_dim;
	int F = c->n_inner, F2 = c->mlp == FT_MLP_SWIGLU ? 2 * F : F;
	ft_wlayout lay = c->linear ? FT_W_OI : FT_W_IO;
	struct ft_model_q *x;
	size_t sz[5];

	if (m->quant != NULL)
		return ft_error("model is already quantised");
	S = (c->n_head + 2 * c->n_kv_head) * c->head_dim;
	x = ft_calloc(1, sizeof(*x));
	x->type = t;
	x->n = 4 * L + 1;
	x->w = ft_calloc((size_t)x->n, sizeof(*x->w));
	x->q = ft_calloc((size_t)x->n, sizeof(*x->q));
	x->scratch = ft_malloc(MQ_CHUNK * sizeof(float));
	sz[0] = (size_t)S * C;
	sz[1] = (size_t)A * C;
	sz[2] = (size_t)F2 * C;
	sz[3] = (size_t)F * C;
	for (int l = 0; l < L; l++) {
		const struct ft_layer *h = &m->p.h[l];
		const float *w[4] = { h->qkv_w, h->o_w, h->up_w, h->down_w };
		int in[4] = { C, A, C, F }, out[4] = { S, C, F2, C };
		for (int k = 0; k < 4; k++) {
			x->w[4 * l + k] = w[k];
			ft_qmat_from_f32(&x->q[4 * l + k], t, w[k], out[k], in[k],
			    lay, m->threads);
		}
	}
	x->w[4 * L] = m->untied ? m->p.head : m->p.emb;
	ft_qmat_from_f32(&x->q[4 * L], t, x->w[4 * L], c->vocab_size, C,
	    FT_W_OI, m->threads);
	x->tied = !m->untied;
	/* the fp32 matrices are not read again */
	for (int l = 0; l < L; l++)
		for (int k = 0; k < 4; k++)
			x->released += release((float *)x->w[4 * l + k], sz[k]);
	x->released += release((float *)x->w[4 * L],
	    (size_t)c->vocab_size * C);
	ft_mx_free(m);  /* no bf16 training copy either */
	m->quant = x;
	return 0;
}

const ft_qmat *
ft_mq_of(const ft_model *m, const float *w)
{
	const struct ft_model_q *x = m->quant;

	if (x == NULL)
		return NULL;
	for (int i = 0; i + 1 < x->n; i++)
		if (x->w[i] == w)
			return &x->q[i];
	return NULL;
}

const ft_qmat *
ft_mq_head(const ft_model *m)
{
	return m->quant != NULL ? &m->quant->q[m->quant->n - 1] : NULL;
}

int
ft_mq_emb(const ft_model *m)
{
	return m->quant != NULL && m->quant->tied;
}

void
ft_mq_linear(const ft_model *m, const ft_qmat *q, float *out,
    const float *inp, const float *b, int N)
{
	int R = q->rows, K = q->cols, step;

	if (N <= MQ_SMALL) {
		ft_qmat_mul(out, inp, N, q, b, m->threads);
		return;
	}
	/* a block of rows at a time: dequantised into scratch, then sgemm
	 * into columns r0.. of out */
	step = MQ_CHUNK / K > 0 ? MQ_CHUNK / K : 1;
	for (int r0 = 0; r0 < R; r0 += step) {
		int nr = r0 + step < R ? step : R - r0;
		ft_qmat sub = *q;
		size_t at = (size_t)r0 * q->ld;

		sub.rows = nr;
		if (sub.w16 != NULL)
			sub.w16 += at;
		if (sub.q != NULL)
			sub.q += at;
		if (sub.d != NULL)
			sub.d += at / FT_QBLOCK;
		ft_qmat_dequant(&sub, m->quant->scratch);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, nr, K,
		    1.0f, inp, K, m->quant->scratch, K, 0.0f, out + r0, R);
		if (b != NULL)
			for (int n = 0; n < N; n++)
				for (int r = 0; r < nr; r++)
					out[(size_t)n * R + r0 + r] += b[r0 + r];
	}
}

size_t
ft_mq_bytes(const ft_model *m, size_t *released)
{
	const struct ft_model_q *x = m->quant;
	size_t b = 0;

	*released = x != NULL ? x->released : 0;
	for (int i = 0; x != NULL && i < x->n; i++)
		b += ft_qmat_bytes(&x->q[i]);
	return b;
}

void
ft_mq_free(ft_model *m)
{
	struct ft_model_q *x = m->quant;

	if (x == NULL)
		return;
	for (int i = 0; i < x->n; i++)
		ft_qmat_free(&x->q[i]);
	free(x->q);
	free(x->w);
	free(x->scratch);
	free(x);
	m->quant = NULL;
}
