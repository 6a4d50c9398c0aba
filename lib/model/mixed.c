/* mixed — see mixed.h. */
#include <stdlib.h>
#include <string.h>

#include "bf16.h"
#include "err.h"
#include "kernels.h"
#include "model/mixed.h"

enum { BUF_IN, BUF_OUT, BUF_P, BUF_N };

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
	const ft_bf16 *x16 = conv(m, BUF_IN, inp, (size_t)N * IC);

	if (dinp != NULL)
		ok(ft_bf16_linear_dx(dinp, d16, w16_of(m, w), N, IC, OC, lay, 0,
		    m->threads));
	ok(ft_bf16_linear_dw(dw, x16, d16, N, IC, OC, lay, m->threads));
	if (db != NULL)
		ft_bias_backward(db, dout, N, OC, m->threads);
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
