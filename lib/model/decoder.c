/* decoder — see model.h.  The block, written once: layout of the slab,
 * activations, the layer forward shared by training and KV-cache decode,
 * its backward, and the cache.  Loading and saving live in weights.c,
 * config files in config.c, each architecture's choices and names in
 * gpt2.c and llama.c.
 *
 * Forward (N = B*T rows, C channels, S = (H + 2 KV) hd, A = H hd, F):
 *   x0 = drop(emb[ids] (+ pos[t] when learned))
 *   per layer: a = N1(x); qkv = a·Wqkv (+b); [q, k = RMSNorm_hd (Qwen3)];
 *     [q, k = rotary(t)]; y = attn(qkv) [N, A];
 *     xm = x + drop(y·Wo (+b)); m = N2(xm);
 *     x' = xm + drop(act(m·Wup (+b))·Wdown (+b))
 *     act = gelu_new (GPT-2) or silu(gate)·up (SwiGLU, Wup = gate|up)
 *   logits = Nf(x_L)·headᵀ; loss = masked CE.
 * N = LayerNorm with bias or RMSNorm; W·x in the layout of the files.
 * Everything the backward pass needs is kept per layer; dropout masks are
 * recomputed from the counter-based hash instead of stored. */
#include <cblas.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "err.h"
#include "kernels.h"
#include "model/arch.h"
#include "model/mixed.h"
#include "model/lora.h"
#include "rng.h"

#define ALIGN_FLOATS 16

/* Optional phase timing: FT_PROFILE=1 (or FT_GPT2_PROFILE=1) prints a
 * table on stderr at ft_model_release. */
enum { P_EMB, P_LN, P_MM, P_ATT, P_GELU, P_DROP, P_HEAD, P_CE, P_CEB,
	P_HEADB, P_MMB, P_ATTB, P_LNB, P_EMBB, P_ADD, P_ROPE, P_LORA, P_LORAB,
	P_N };
static const char *prof_name[P_N] = { "embed", "norm", "matmul",
	"attention", "activation", "dropout", "lm_head", "xent", "xent bwd",
	"lm_head bwd", "matmul bwd", "attention bwd", "norm bwd",
	"embed bwd", "residual", "rotary", "lora", "lora bwd" };
static double prof_t[P_N];
static int prof_on = -1;

static int
env_on(const char *name)
{
	const char *e = getenv(name);

	return e != NULL && *e != '\0' && strcmp(e, "0") != 0;
}

static double
prof_now(void)
{
	struct timespec ts;

	if (prof_on < 0)
		prof_on = env_on("FT_PROFILE") || env_on("FT_GPT2_PROFILE");
	if (!prof_on)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}
#define PROF(i, stmt) do { double t0_ = prof_now(); stmt; \
	if (prof_on) prof_t[i] += prof_now() - t0_; } while (0)

static void
prof_report(void)
{
	double tot = 0;

	if (prof_on <= 0)
		return;
	for (int i = 0; i < P_N; i++)
		tot += prof_t[i];
	for (int i = 0; i < P_N; i++)
		fprintf(stderr, "%-14s %9.3f s %5.1f%%\n", prof_name[i], prof_t[i],
		    tot > 0 ? 100 * prof_t[i] / tot : 0);
	memset(prof_t, 0, sizeof(prof_t));
}

/* Sizes derived from the config. */
struct dims {
	size_t L, C, H, KV, hd, S, A, F, F2, V;
};

static struct dims
dims_of(const ft_model_config *c)
{
	struct dims d;

	d.L = (size_t)c->n_layer;
	d.C = (size_t)c->n_embd;
	d.H = (size_t)c->n_head;
	d.KV = (size_t)c->n_kv_head;
	d.hd = (size_t)c->head_dim;
	d.S = (d.H + 2 * d.KV) * d.hd;
	d.A = d.H * d.hd;
	d.F = (size_t)c->n_inner;
	d.F2 = c->mlp == FT_MLP_SWIGLU ? 2 * d.F : d.F;
	d.V = (size_t)c->vocab_size;
	return d;
}

static size_t
max2(size_t a, size_t b)
{
	return a > b ? a : b;
}

struct ft_model_acts {
	size_t cap_N, cap_att;  /* rows, and B*H*T*T, allocated for */
	size_t N, att;          /* current */
	float *x, *xmid;        /* [L+1][N,C], [L][N,C] */
	float *ln1, *ln1_mean, *ln1_rstd;
	float *qkv, *atty, *P;  /* [L][N,S], [L][N,A], [L][att] */
	float *qkraw, *qk_rstd; /* Qwen3: [L][N,(H+KV)hd] pre-norm q|k, rstd */
	float *ln2, *ln2_mean, *ln2_rstd;
	float *fch, *fcg;       /* [L][N,F2], [L][N,F] */
	float *lnf, *lnf_mean, *lnf_rstd;
	float *logits;          /* [N,V] */
	float *losses, *lse;    /* [N] */
	int32_t *ids, *targets, *pos; /* [N] */
	uint8_t *mask;          /* [N] */
	int has_mask, has_targets, training;
	uint64_t counter;       /* dropout counter of the last forward */
	float *Pd, *dP;         /* scratch [B,H,T,T] */
	int compact;            /* logits only for rows with targets */
	size_t nv;              /* such rows */
	int32_t *rows, *tgc;    /* [N]: their indices and targets */
	float *lnfc, *lossc;    /* [N,C] gathered lnf rows, [N] losses */
	float *dx, *tmp, *bufC, *bufF, *bufG, *qkb;
	float *block;
};

/* ---- config checks ---- */

/* where: config.json's path (the keys are named as it spells them) or
 * "config" for a preset. */
int
ft_model_config_check(const ft_model_config *c, const char *where)
{
	int g = c->pos == FT_POS_LEARNED; /* GPT-2's names, else Llama's */

	if (c->n_layer < 1 || c->n_layer > 1000)
		return ft_error("%s: \"%s\": %d is out of range (1 to 1000)",
		    where, g ? "n_layer" : "num_hidden_layers", c->n_layer);
	if (c->n_embd < 1 || c->n_embd > 65536)
		return ft_error("%s: \"%s\": %d is out of range (1 to 65536)",
		    where, g ? "n_embd" : "hidden_size", c->n_embd);
	if (c->n_head < 1 || c->n_head > 4096)
		return ft_error("%s: \"%s\": %d is out of range (1 to 4096)",
		    where, g ? "n_head" : "num_attention_heads", c->n_head);
	if (c->n_kv_head < 1 || c->n_head % c->n_kv_head != 0)
		return ft_error("%s: \"num_key_value_heads\": %d does not divide "
		    "num_attention_heads %d", where, c->n_kv_head, c->n_head);
	if (c->head_dim < 1 || c->head_dim > 4096 ||
	    (c->pos == FT_POS_ROPE && c->head_dim % 2 != 0))
		return ft_error("%s: \"head_dim\": %d is invalid%s", where,
		    c->head_dim,
		    c->pos == FT_POS_ROPE ? " (rotary needs an even size)" : "");
	if (c->pos == FT_POS_LEARNED && c->head_dim * c->n_head != c->n_embd)
		return ft_error("%s: n_embd %d is not a multiple of n_head %d",
		    where, c->n_embd, c->n_head);
	if (c->n_positions < 1 || c->n_positions > 1 << 20)
		return ft_error("%s: \"%s\": %d is out of range (1 to %d)",
		    where, g ? "n_positions" : "max_position_embeddings",
		    c->n_positions, 1 << 20);
	if (c->vocab_size < 1 || c->vocab_size > 1 << 24)
		return ft_error("%s: \"vocab_size\": %d is out of range (1 to "
		    "%d)", where, c->vocab_size, 1 << 24);
	if (c->n_inner < 1 || c->n_inner > 1 << 20)
		return ft_error("%s: \"%s\": %d is out of range (1 to %d)",
		    where, g ? "n_inner" : "intermediate_size", c->n_inner,
		    1 << 20);
	if (!(c->norm_eps > 0))
		return ft_error("%s: \"%s\": %g is not > 0", where,
		    g ? "layer_norm_epsilon" : "rms_norm_eps", c->norm_eps);
	{
		const struct { const char *k; double p; } d[] = {
			{ "embd_pdrop", c->embd_pdrop },
			{ g ? "attn_pdrop" : "attention_dropout", c->attn_pdrop },
			{ "resid_pdrop", c->resid_pdrop },
		};
		for (size_t i = 0; i < sizeof d / sizeof *d; i++)
			if (!(d[i].p >= 0 && d[i].p < 1))
				return ft_error("%s: \"%s\": %g is not in [0, 1)",
				    where, d[i].k, d[i].p);
	}
	if (c->pos == FT_POS_ROPE && !(c->rope_theta > 0))
		return ft_error("%s: \"rope_theta\": %g is not > 0", where,
		    c->rope_theta);
	return 0;
}

/* ---- layout ---- */

static const size_t layer_off[SLOT_LAYER_N] = {
	offsetof(struct ft_layer, n1_w), offsetof(struct ft_layer, n1_b),
	offsetof(struct ft_layer, qkv_w), offsetof(struct ft_layer, qkv_b),
	offsetof(struct ft_layer, qn_w), offsetof(struct ft_layer, kn_w),
	offsetof(struct ft_layer, o_w), offsetof(struct ft_layer, o_b),
	offsetof(struct ft_layer, n2_w), offsetof(struct ft_layer, n2_b),
	offsetof(struct ft_layer, up_w), offsetof(struct ft_layer, up_b),
	offsetof(struct ft_layer, down_w), offsetof(struct ft_layer, down_b),
};
static const size_t model_off[] = {
	offsetof(struct ft_views, emb), offsetof(struct ft_views, pos),
	offsetof(struct ft_views, nf_w), offsetof(struct ft_views, nf_b),
	offsetof(struct ft_views, head),
};

void
ft_model_add_tensor(ft_model *m, const char *name, int layer, int slot,
    int ndim, int64_t d0, int64_t d1)
{
	size_t i = m->n_tensors++, at = 0;
	ft_param_tensor *t;

	m->tensors = ft_realloc(m->tensors, m->n_tensors * sizeof(*t));
	m->t_layer = ft_realloc(m->t_layer, m->n_tensors * sizeof(int));
	m->t_slot = ft_realloc(m->t_slot, m->n_tensors * sizeof(int));
	if (i > 0) {
		const ft_param_tensor *p = &m->tensors[i - 1];
		at = p->off + p->n;
		/* joined tensors follow the previous one directly */
		if (slot != SLOT_JOIN)
			at = (at + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
	}
	t = &m->tensors[i];
	memset(t, 0, sizeof(*t));
	t->name = ft_strdup(name);
	t->off = at;
	t->ndim = ndim;
	t->shape[0] = d0;
	t->shape[1] = ndim > 1 ? d1 : 0;
	t->n = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1);
	t->decay = ndim >= 2;
	m->t_layer[i] = layer;
	m->t_slot[i] = slot;
	m->n_params = (t->off + t->n + ALIGN_FLOATS - 1) / ALIGN_FLOATS *
	    ALIGN_FLOATS;
}

static void
set_views(const ft_model *m, float *base, struct ft_views *v)
{
	struct ft_layer *h = v->h;

	memset(v, 0, sizeof(*v));
	memset(h, 0, (size_t)m->cfg.n_layer * sizeof(*h));
	v->h = h;
	for (size_t i = 0; i < m->n_tensors; i++) {
		int l = m->t_layer[i], s = m->t_slot[i];
		float *p = base + m->tensors[i].off;
		if (s == SLOT_JOIN)
			continue;
		if (l >= 0)
			*(float **)((char *)&h[l] + layer_off[s]) = p;
		else
			*(float **)((char *)v + model_off[s]) = p;
	}
}

static void *
alloc_floats(size_t n)
{
	void *p = NULL;

	if (n == 0)
		n = 1;
	if (posix_memalign(&p, 64, n * sizeof(float)) != 0)
		ft_die("out of memory (%zu floats)", n);
	return p;
}

int
ft_model_new(ft_model *m, const ft_model_config *cfg, int untied)
{
	int L = cfg->n_layer;

	memset(m, 0, sizeof(*m));
	m->cfg = *cfg;
	if (m->cfg.arch == NULL)
		m->cfg.arch = &ft_arch_gpt2;
	/* learned positions (GPT-2): every head its own keys, C / H wide */
	if (m->cfg.pos == FT_POS_LEARNED && m->cfg.n_head > 0) {
		m->cfg.n_kv_head = m->cfg.n_head;
		m->cfg.head_dim = m->cfg.n_embd / m->cfg.n_head;
	}
	if (ft_model_config_check(&m->cfg, "config") < 0) {
		memset(m, 0, sizeof(*m));
		return -1;
	}
	m->untied = untied != 0;
	m->cfg.tie_word_embeddings = !m->untied;
	m->cfg.arch->layout(m);
	m->params = alloc_floats(m->n_params);
	memset(m->params, 0, m->n_params * sizeof(float));
	m->p.h = ft_calloc((size_t)L, sizeof(*m->p.h));
	m->g.h = ft_calloc((size_t)L, sizeof(*m->g.h));
	set_views(m, m->params, &m->p);
	m->threads = 1;
	m->embd_pdrop = cfg->embd_pdrop;
	m->attn_pdrop = cfg->attn_pdrop;
	m->resid_pdrop = cfg->resid_pdrop;
	return 0;
}

static void
acts_free(struct ft_model_acts *a)
{
	if (a == NULL)
		return;
	free(a->block);
	free(a->ids);
	free(a->targets);
	free(a->pos);
	free(a->mask);
	free(a->rows);
	free(a->tgc);
	free(a);
}

void
ft_model_release(ft_model *m)
{
	if (m == NULL)
		return;
	prof_report();
	for (size_t i = 0; i < m->n_tensors; i++)
		free((char *)m->tensors[i].name);
	free(m->tensors);
	free(m->t_layer);
	free(m->t_slot);
	free(m->params);
	free(m->grads);
	free(m->p.h);
	free(m->g.h);
	free(m->rope_cos);
	free(m->rope_sin);
	ft_lora_release(m);
	cJSON_Delete(m->src_config);
	acts_free(m->acts);
	ft_mx_free(m);
	ft_mq_free(m);
	memset(m, 0, sizeof(*m));
}

size_t
ft_model_embedding_params(const ft_model *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_tensors; i++)
		if (m->t_layer[i] < 0 && (m->t_slot[i] == SLOT_EMB ||
		    m->t_slot[i] == SLOT_POS))
			n += m->tensors[i].n;
	return n;
}

/* ---- random init ---- */

void
ft_model_fill_normal(float *x, size_t n, double std, uint64_t *s)
{
	for (size_t i = 0; i < n; i += 2) {
		/* Box-Muller over two uniforms in (0, 1] */
		double u1 = ((ft_splitmix64(s) >> 11) + 1) * 0x1.0p-53;
		double u2 = (ft_splitmix64(s) >> 11) * 0x1.0p-53;
		double r = sqrt(-2.0 * log(u1)) * std;
		x[i] = (float)(r * cos(2 * M_PI * u2));
		if (i + 1 < n)
			x[i + 1] = (float)(r * sin(2 * M_PI * u2));
	}
}

void
ft_model_init_random(ft_model *m, uint64_t seed)
{
	m->cfg.arch->init(m, seed);
}

void
ft_model_set_threads(ft_model *m, int threads)
{
	m->threads = threads < 1 ? 1 : threads;
	ft_blas_set_threads(m->threads);
}

void
ft_model_set_dropout(ft_model *m, double p)
{
	m->attn_pdrop = p;
	if (m->cfg.resid_dropout)
		m->embd_pdrop = m->resid_pdrop = p;
}

void
ft_model_set_dropout_seed(ft_model *m, uint64_t seed)
{
	m->dropout_seed = seed;
	m->dropout_counter = 0;
}

/* ---- rotary tables (docs/hf-reference.md §16) ---- */

/* inv_freq in fp32 as transformers computes it, with rope_scaling. */
static float
inv_freq(const ft_model_config *c, int i)
{
	float e = (float)(2 * i) / (float)c->head_dim;
	float inv = 1.0f / powf((float)c->rope_theta, e);

	if (c->rope_type == FT_ROPE_LINEAR)
		return inv / (float)c->rope_factor;
	if (c->rope_type == FT_ROPE_LLAMA3) {
		double lo = c->rope_orig / c->rope_low;   /* low_freq_wavelen */
		double hi = c->rope_orig / c->rope_high;  /* high_freq_wavelen */
		float wl = (float)(2 * M_PI) / inv;
		float f = (float)c->rope_factor, s;
		if (wl > (float)lo)
			return inv / f;
		if (wl < (float)hi)
			return inv;
		s = ((float)c->rope_orig / wl - (float)c->rope_low) /
		    (float)(c->rope_high - c->rope_low);
		return (1.0f - s) * inv / f + s * inv;
	}
	return inv;
}

/* Tables for positions 0..n-1 (grown on demand). */
static void
rope_reserve(ft_model *m, int n)
{
	int half = m->cfg.head_dim / 2;
	float *inv;

	if (m->cfg.pos != FT_POS_ROPE || n <= m->rope_n)
		return;
	if (n < m->cfg.n_positions && n < 2 * m->rope_n)
		n = 2 * m->rope_n < m->cfg.n_positions ? 2 * m->rope_n :
		    m->cfg.n_positions;
	free(m->rope_cos);
	free(m->rope_sin);
	m->rope_cos = alloc_floats((size_t)n * half);
	m->rope_sin = alloc_floats((size_t)n * half);
	inv = ft_malloc((size_t)half * sizeof(float));
	for (int i = 0; i < half; i++)
		inv[i] = inv_freq(&m->cfg, i);
	for (int p = 0; p < n; p++)
		for (int i = 0; i < half; i++) {
			float a = (float)p * inv[i];
			m->rope_cos[(size_t)p * half + i] = cosf(a);
			m->rope_sin[(size_t)p * half + i] = sinf(a);
		}
	free(inv);
	m->rope_n = n;
}

/* ---- activations ---- */

size_t
ft_model_memory(const ft_model *m)
{
	size_t b = m->n_params * sizeof(float) * (m->grads != NULL ? 2 : 1);
	const struct ft_model_acts *a = m->acts;
	size_t rel, qb = ft_mq_bytes(m, &rel);

	b += qb - rel + ft_mx_bytes(m);

	if (a != NULL) {
		struct dims d = dims_of(&m->cfg);
		size_t N = a->cap_N, qk = m->cfg.qk_norm ? (d.H + d.KV) : 0;
		b += sizeof(float) * (N * d.C * (d.L + 1) + d.L * (N * d.C * 3 +
		    N * d.A + N * d.S + a->cap_att + N * d.F2 + N * d.F +
		    N * qk * (d.hd + 1)) + N * d.C + N * d.V + 2 * a->cap_att +
		    3 * N * max2(d.C, d.A) + N * max2(d.S, d.F2));
	}
	return b;
}

static void
acts_reserve(ft_model *m, int B, int T)
{
	const ft_model_config *c = &m->cfg;
	struct dims d = dims_of(c);
	size_t L = d.L, C = d.C, N = (size_t)B * T;
	size_t att = (size_t)B * d.H * T * T, total;
	size_t wC = max2(C, d.A), wF = max2(d.S, d.F2);
	size_t qk = c->qk_norm ? (d.H + d.KV) : 0;
	size_t G = c->mlp == FT_MLP_SWIGLU ? d.F : 0;
	struct ft_model_acts *a = m->acts;
	float *p;

	if (a != NULL && N <= a->cap_N && att <= a->cap_att) {
		a->N = N;
		a->att = att;
		return;
	}
	if (a != NULL) {
		if (N < a->cap_N)
			N = a->cap_N;
		if (att < a->cap_att)
			att = a->cap_att;
	}
	acts_free(a);
	a = ft_calloc(1, sizeof(*a));
	m->acts = a;
	a->cap_N = N;
	a->cap_att = att;
#define RND(x) (((x) + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS)
	total = RND((L + 1) * N * C) + 3 * RND(L * N * C) + RND(L * N * d.A) +
	    RND(L * N * d.S) + RND(L * att) + RND(L * N * d.F2) +
	    RND(L * N * d.F) + RND(L * N * qk * d.hd) + RND(L * N * qk) +
	    4 * RND(L * N) + RND(N * C) + 2 * RND(N) + RND(N * d.V) +
	    2 * RND(N) + 2 * RND(att) + RND(N * C) + RND(N * wC) +
	    RND(N * wC) + RND(N * wF) + RND(N * G) + RND(2 * N * qk * d.hd) +
	    RND(N * C) + RND(N);
	a->block = alloc_floats(total);
	p = a->block;
#define TAKE(f, n) do { a->f = p; p += RND(n); } while (0)
	TAKE(x, (L + 1) * N * C);
	TAKE(xmid, L * N * C);
	TAKE(ln1, L * N * C);
	TAKE(atty, L * N * d.A);
	TAKE(ln2, L * N * C);
	TAKE(qkv, L * N * d.S);
	TAKE(P, L * att);
	TAKE(fch, L * N * d.F2);
	TAKE(fcg, L * N * d.F);
	TAKE(qkraw, L * N * qk * d.hd);
	TAKE(qk_rstd, L * N * qk);
	TAKE(ln1_mean, L * N);
	TAKE(ln1_rstd, L * N);
	TAKE(ln2_mean, L * N);
	TAKE(ln2_rstd, L * N);
	TAKE(lnf, N * C);
	TAKE(lnf_mean, N);
	TAKE(lnf_rstd, N);
	TAKE(logits, N * d.V);
	TAKE(losses, N);
	TAKE(lse, N);
	TAKE(Pd, att);
	TAKE(dP, att);
	TAKE(dx, N * C);
	TAKE(tmp, N * wC);
	TAKE(bufC, N * wC);
	TAKE(bufF, N * wF);
	TAKE(bufG, N * G);
	TAKE(qkb, 2 * N * qk * d.hd);
	TAKE(lnfc, N * C);
	TAKE(lossc, N);
#undef TAKE
#undef RND
	a->ids = ft_calloc(N, sizeof(int32_t));
	a->targets = ft_calloc(N, sizeof(int32_t));
	a->pos = ft_calloc(N, sizeof(int32_t));
	a->mask = ft_calloc(N, 1);
	a->rows = ft_calloc(N, sizeof(int32_t));
	a->tgc = ft_calloc(N, sizeof(int32_t));
	a->N = (size_t)B * T;
	a->att = (size_t)B * d.H * T * T;
}

const float *
ft_model_logits(const ft_model *m)
{
	return m->acts != NULL ? m->acts->logits : NULL;
}

const float *
ft_model_losses(const ft_model *m)
{
	return m->acts != NULL ? m->acts->losses : NULL;
}

void
ft_model_shift_labels(const int32_t *labels, int32_t *out, int B, int T)
{
	for (int b = 0; b < B; b++) {
		for (int t = 0; t + 1 < T; t++)
			out[b * T + t] = labels[b * T + t + 1];
		out[b * T + T - 1] = -100;
	}
}

/* dropout sites */
#define SITE_EMBD 0
#define SITE_ATT(l) (1 + 3 * (uint64_t)(l))
#define SITE_ATTRES(l) (2 + 3 * (uint64_t)(l))
#define SITE_MLPRES(l) (3 + 3 * (uint64_t)(l))

static uint64_t
key_of(const ft_model *m, uint64_t site)
{
	return ft_drop_key(m->dropout_seed, m->acts->counter, site);
}

static const float *
head_w(const ft_model *m)
{
	return m->untied ? m->p.head : m->p.emb;
}

/* ---- the pieces the block is made of ---- */

/* logits[N,V] = x[N,C] · headᵀ ([V,C]) */
static void
head_fwd(const ft_model *m, float *logits, const float *x, int N)
{
	int C = m->cfg.n_embd, V = m->cfg.vocab_size;

	if (ft_mq_head(m) != NULL)
		ft_mq_linear(m, ft_mq_head(m), logits, x, NULL, N);
	else if (ft_mx_on(m))
		ft_mx_linear_fwd(m, logits, x, head_w(m), NULL, N, C, V, FT_W_OI);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, V, C, 1.0f,
		    x, C, head_w(m), C, 0.0f, logits, V);
}

/* dx[N,C] = dlogits[N,V] · head[V,C]; dhead[V,C] += dlogitsᵀ · x */
static void
head_bwd(ft_model *m, float *dx, const float *dlogits, const float *x,
    int N)
{
	int C = m->cfg.n_embd, V = m->cfg.vocab_size;
	/* frozen (LoRA): no gradient for the head, only dx */
	float *dh = m->frozen ? NULL : m->untied ? m->g.head : m->g.emb;

	if (ft_mx_on(m)) {
		ft_mx_linear_bwd(m, dx, dh, NULL, dlogits, x, head_w(m), N, C, V,
		    FT_W_OI);
		return;
	}
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, V, 1.0f,
	    dlogits, V, head_w(m), C, 0.0f, dx, C);
	if (dh != NULL)
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, C, N,
		    1.0f, dlogits, V, x, C, 1.0f, dh, C);
}

/* y[N,OC] = x[N,IC]·W (+b) in the layout of the architecture's files. */
static void
mm_fwd(const ft_model *m, float *out, const float *inp, const float *w,
    const float *b, int N, int IC, int OC)
{
	const ft_qmat *q = ft_mq_of(m, w);

	if (q != NULL)
		ft_mq_linear(m, q, out, inp, b, N);
	else if (ft_mx_on(m))
		ft_mx_linear_fwd(m, out, inp, w, b, N, IC, OC,
		    m->cfg.linear ? FT_W_OI : FT_W_IO);
	else if (m->cfg.linear)
		ft_linear_forward(out, inp, w, b, N, IC, OC);
	else
		ft_matmul_forward(out, inp, w, b, N, IC, OC);
}

static void
mm_bwd(const ft_model *m, float *dinp, float *dw, float *db,
    const float *dout, const float *inp, const float *w, int N, int IC,
    int OC)
{
	if (ft_mx_on(m))
		ft_mx_linear_bwd(m, dinp, dw, db, dout, inp, w, N, IC, OC,
		    m->cfg.linear ? FT_W_OI : FT_W_IO);
	else if (m->cfg.linear)
		ft_linear_backward(dinp, dw, db, dout, inp, w, N, IC, OC, 0,
		    m->threads);
	else
		ft_matmul_backward(dinp, dw, db, dout, inp, w, N, IC, OC, 0,
		    m->threads);
}

static void
norm_fwd(const ft_model *m, float *out, float *mean, float *rstd,
    const float *inp, const float *w, const float *b, int N)
{
	float eps = (float)m->cfg.norm_eps;

	if (m->cfg.norm == FT_NORM_RMS)
		ft_rmsnorm_forward(out, rstd, inp, w, N, m->cfg.n_embd, eps,
		    m->threads);
	else
		ft_layernorm_forward(out, mean, rstd, inp, w, b, N, m->cfg.n_embd,
		    eps, m->threads);
}

/* dinp += ... (LayerNorm and RMSNorm backward both accumulate). */
static void
norm_bwd(const ft_model *m, float *dinp, float *dw, float *db,
    const float *dout, const float *inp, const float *w, const float *mean,
    const float *rstd, int N)
{
	if (m->cfg.norm == FT_NORM_RMS)
		ft_rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N,
		    m->cfg.n_embd, m->threads);
	else
		ft_layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N,
		    m->cfg.n_embd, m->threads);
}

static void
add3(float *out, const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

/* Copy `width` floats of N rows between strided buffers. */
static void
copy_cols(float *dst, size_t ds, const float *src, size_t ss, size_t N,
    size_t width)
{
	for (size_t n = 0; n < N; n++)
		memcpy(dst + n * ds, src + n * ss, width * sizeof(float));
}

/* Qwen3: q and k heads of qkv [N,S] RMS-normalised over hd in place;
 * raw [N,(H+KV)hd] keeps the inputs (q block [N*H,hd], then k block
 * [N*KV,hd]), rstd [N(H+KV)]; tmp [N,(H+KV)hd] scratch. */
static void
qk_norm_fwd(const ft_model *m, const struct ft_layer *w, float *qkv,
    float *raw, float *rstd, float *tmp, size_t N)
{
	struct dims d = dims_of(&m->cfg);
	float eps = (float)m->cfg.norm_eps;
	float *kraw = raw + N * d.H * d.hd, *ktmp = tmp + N * d.H * d.hd;

	copy_cols(raw, d.A, qkv, d.S, N, d.A);
	copy_cols(kraw, d.KV * d.hd, qkv + d.A, d.S, N, d.KV * d.hd);
	ft_rmsnorm_forward(tmp, rstd, raw, w->qn_w, (int)(N * d.H), (int)d.hd,
	    eps, m->threads);
	ft_rmsnorm_forward(ktmp, rstd + N * d.H, kraw, w->kn_w,
	    (int)(N * d.KV), (int)d.hd, eps, m->threads);
	copy_cols(qkv, d.S, tmp, d.A, N, d.A);
	copy_cols(qkv + d.A, d.S, ktmp, d.KV * d.hd, N, d.KV * d.hd);
}

/* Backward of qk_norm_fwd on the q and k columns of dqkv (in place). */
static void
qk_norm_bwd(const ft_model *m, const struct ft_layer *w, struct ft_layer *g,
    float *dqkv, const float *raw, const float *rstd, float *buf, size_t N)
{
	struct dims d = dims_of(&m->cfg);
	size_t nq = N * d.A, nk = N * d.KV * d.hd;
	float *dn = buf, *dr = buf + nq + nk;

	copy_cols(dn, d.A, dqkv, d.S, N, d.A);
	copy_cols(dn + nq, d.KV * d.hd, dqkv + d.A, d.S, N, d.KV * d.hd);
	memset(dr, 0, (nq + nk) * sizeof(float));
	ft_rmsnorm_backward(dr, g->qn_w, dn, raw, w->qn_w, rstd,
	    (int)(N * d.H), (int)d.hd, m->threads);
	ft_rmsnorm_backward(dr + nq, g->kn_w, dn + nq, raw + nq, w->kn_w,
	    rstd + N * d.H, (int)(N * d.KV), (int)d.hd, m->threads);
	copy_cols(dqkv, d.S, dr, d.A, N, d.A);
	copy_cols(dqkv + d.A, d.S, dr + nq, d.KV * d.hd, N, d.KV * d.hd);
}

struct ft_kv {
	int B, max_T;
	size_t kvw;             /* KV hd floats per position */
	float *k, *v;           /* [L][B][max_T][KV hd] */
	int *len;               /* [B] */
	size_t cap;             /* items the scratch holds */
	float *x, *a, *qkv, *y, *tmp, *f, *g, *qkr, *qkrs, *qkt;
	float *mean, *rstd;
	int32_t *pos;
	float *logits;          /* [cap_logits, V] */
	size_t cap_logits;
};

/* Where one layer's forward reads and writes.  Training keeps every
 * buffer per layer; decode passes the same scratch for every layer
 * (x == xm == out: the residual adds in place). */
struct blk {
	int N;
	const int32_t *pos;     /* [N] positions (rotary) */
	float *x, *xm, *out;    /* [N,C] input, after attention, output */
	float *ln1, *m1, *r1, *ln2, *m2, *r2; /* norm outputs and stats */
	float *qkv, *qkraw, *qkrs, *qkt; /* [N,S]; Qwen3 norm state, scratch */
	float *atty, *fch, *fcg, *tmp;   /* [N,A], [N,F2], [N,F], [N,C] */
	/* attention: training batch ... */
	int B, T;
	const uint8_t *mask;
	float *P, *Pd;
	double pa, pr;          /* dropout on attention, residuals */
	uint64_t katt, kres1, kres2;
	/* ... or the cache */
	ft_kv *kv;
	const int *row;
	int l;
	int drop;               /* LoRA dropout on (a training forward) */
	uint64_t counter;       /* its dropout counter */
};

/* LoRA hooks (lora.h): after a linear layer's forward / backward. */
#define LORA_FWD(site, out, ld, inp) do { if (m->lora != NULL) \
	ft_lora_forward((ft_model *)m, s->l, site, out, (int)(ld), inp, N, \
	    s->kv == NULL, s->drop, s->counter); } while (0)
#define LORA_BWD(site, dinp, dout, ld, inp) do { if (m->lora != NULL) \
	ft_lora_backward(m, l, site, dinp, dout, (int)(ld), inp, N, s.drop, \
	    s.counter); } while (0)

static void kv_attention(const ft_model *m, struct blk *s);

/* One layer, forward: the block of every architecture. */
static void
layer_forward(const ft_model *m, const struct ft_layer *w, struct blk *s)
{
	const ft_model_config *cf = &m->cfg;
	struct dims d = dims_of(cf);
	int th = m->threads, N = s->N, C = (int)d.C;
	size_t NC = (size_t)N * d.C;

	PROF(P_LN, norm_fwd(m, s->ln1, s->m1, s->r1, s->x, w->n1_w, w->n1_b, N));
	PROF(P_MM, mm_fwd(m, s->qkv, s->ln1, w->qkv_w, w->qkv_b, N, C,
	    (int)d.S));
	PROF(P_LORA, LORA_FWD(FT_LORA_QKV, s->qkv, d.S, s->ln1));
	if (cf->qk_norm)
		PROF(P_LN, qk_norm_fwd(m, w, s->qkv, s->qkraw, s->qkrs, s->qkt,
		    (size_t)N));
	if (cf->pos == FT_POS_ROPE)
		PROF(P_ROPE, ft_rope_apply(s->qkv, s->pos, N, (int)d.S,
		    (int)(d.H + d.KV), (int)d.hd, m->rope_cos, m->rope_sin, 0, th));
	if (s->kv != NULL)
		PROF(P_ATT, kv_attention(m, s));
	else if (ft_mx_on(m))
		PROF(P_ATT, ft_mx_att_fwd(m, s->atty, s->P, s->Pd, s->qkv,
		    s->mask, s->B, s->T, (int)d.H, (int)d.KV, (int)d.hd, s->pa,
		    s->katt));
	else
		PROF(P_ATT, ft_attention_forward(s->atty, s->P, s->Pd, s->qkv,
		    s->mask, s->B, s->T, (int)d.H, (int)d.KV, (int)d.hd, s->pa,
		    s->katt, th));
	PROF(P_MM, mm_fwd(m, s->tmp, s->atty, w->o_w, w->o_b, N, (int)d.A, C));
	PROF(P_LORA, LORA_FWD(FT_LORA_O, s->tmp, C, s->atty));
	PROF(P_DROP, ft_dropout(s->tmp, NC, s->pr, s->kres1, th));
	PROF(P_ADD, add3(s->xm, s->x, s->tmp, NC));
	PROF(P_LN, norm_fwd(m, s->ln2, s->m2, s->r2, s->xm, w->n2_w, w->n2_b, N));
	PROF(P_MM, mm_fwd(m, s->fch, s->ln2, w->up_w, w->up_b, N, C,
	    (int)d.F2));
	PROF(P_LORA, LORA_FWD(FT_LORA_UP, s->fch, d.F2, s->ln2));
	if (cf->mlp == FT_MLP_SWIGLU)
		PROF(P_GELU, ft_swiglu_forward(s->fcg, s->fch, (size_t)N,
		    (int)d.F, th));
	else
		PROF(P_GELU, ft_gelu_forward(s->fcg, s->fch, (size_t)N * d.F, th));
	PROF(P_MM, mm_fwd(m, s->tmp, s->fcg, w->down_w, w->down_b, N,
	    (int)d.F, C));
	PROF(P_LORA, LORA_FWD(FT_LORA_DOWN, s->tmp, C, s->fcg));
	PROF(P_DROP, ft_dropout(s->tmp, NC, s->pr, s->kres2, th));
	PROF(P_ADD, add3(s->out, s->xm, s->tmp, NC));
}

struct emb_ctx {
	const ft_model *m;
	float *out, *dwte, *dwpe;
	const float *dx;
	const int32_t *ids, *pos;
	size_t N;
};

static void
emb_task(void *vc, int tid, int nt)
{
	struct emb_ctx *c = vc;
	const ft_model *m = c->m;
	size_t C = (size_t)m->cfg.n_embd, lo, hi;

	ft_split(c->N, tid, nt, &lo, &hi);
	for (size_t n = lo; n < hi; n++) {
		const float *e = m->p.emb + (size_t)c->ids[n] * C;
		float *o = c->out + n * C;
		if (ft_mq_emb(m)) { /* the quantised tied head's row */
			ft_qmat_row(ft_mq_head(m), c->ids[n], o);
			e = o;
		}
		if (m->p.pos != NULL) {
			const float *p = m->p.pos + (size_t)c->pos[n] * C;
			for (size_t i = 0; i < C; i++)
				o[i] = e[i] + p[i];
		} else if (e != o) {
			memcpy(o, e, C * sizeof(float));
		}
	}
}

/* Channel-parallel scatter: each thread owns a channel range, so repeated
 * ids add in row order whatever the thread count. */
static void
emb_bwd_task(void *vc, int tid, int nt)
{
	struct emb_ctx *c = vc;
	const ft_model *m = c->m;
	size_t C = (size_t)m->cfg.n_embd, lo, hi;

	ft_split(C, tid, nt, &lo, &hi);
	for (size_t n = 0; n < c->N; n++) {
		const float *d = c->dx + n * C;
		float *e = c->dwte + (size_t)c->ids[n] * C;
		if (c->ids[n] == m->cfg.pad_token_id) /* padding_idx */
			continue;
		if (c->dwpe != NULL) {
			float *p = c->dwpe + (size_t)c->pos[n] * C;
			for (size_t i = lo; i < hi; i++) {
				e[i] += d[i];
				p[i] += d[i];
			}
		} else {
			for (size_t i = lo; i < hi; i++)
				e[i] += d[i];
		}
	}
}

/* A layer's training buffers. */
static struct blk
train_blk(ft_model *m, int l)
{
	struct ft_model_acts *a = m->acts;
	struct dims d = dims_of(&m->cfg);
	size_t N = a->N, NC = N * d.C, qk = m->cfg.qk_norm ? d.H + d.KV : 0;
	struct blk s = { 0 };

	s.N = (int)N;
	s.pos = a->pos;
	s.x = a->x + l * NC;
	s.xm = a->xmid + l * NC;
	s.out = a->x + (l + 1) * NC;
	s.ln1 = a->ln1 + l * NC;
	s.m1 = a->ln1_mean + l * N;
	s.r1 = a->ln1_rstd + l * N;
	s.ln2 = a->ln2 + l * NC;
	s.m2 = a->ln2_mean + l * N;
	s.r2 = a->ln2_rstd + l * N;
	s.qkv = a->qkv + l * N * d.S;
	s.qkraw = a->qkraw + l * N * qk * d.hd;
	s.qkrs = a->qk_rstd + l * N * qk;
	s.qkt = a->bufF;
	s.atty = a->atty + l * N * d.A;
	s.fch = a->fch + l * N * d.F2;
	s.fcg = a->fcg + l * N * d.F;
	s.tmp = a->tmp;
	s.B = m->B;
	s.T = m->T;
	s.mask = a->has_mask ? a->mask : NULL;
	s.P = a->P + l * a->att;
	s.Pd = a->Pd;
	s.pa = a->training ? m->attn_pdrop : 0;
	s.pr = a->training ? m->resid_pdrop : 0;
	s.l = l;
	s.drop = a->training;
	s.counter = a->counter;
	s.katt = key_of(m, SITE_ATT(l));
	s.kres1 = key_of(m, SITE_ATTRES(l));
	s.kres2 = key_of(m, SITE_MLPRES(l));
	return s;
}

float
ft_model_forward(ft_model *m, const int32_t *ids, const uint8_t *mask,
    const int32_t *targets, int B, int T)
{
	const ft_model_config *cf = &m->cfg;
	int L = cf->n_layer, C = cf->n_embd;
	int V = cf->vocab_size, th = m->threads;
	size_t N = (size_t)B * T, NC;
	struct ft_model_acts *a;
	double pe;
	struct emb_ctx ec;

	m->n_targets = 0;
	m->loss_sum = 0;
	if (B < 1 || T < 1 || T > cf->n_positions) {
		ft_error("batch shape %dx%d invalid (T must be 1..%d)", B, T,
		    cf->n_positions);
		m->n_targets = -1;
		return NAN;
	}
	if (cf->sliding_window > 0 && T > cf->sliding_window) {
		ft_error("\"sliding_window\": %d is smaller than the context of "
		    "%d tokens (not supported)", cf->sliding_window, T);
		m->n_targets = -1;
		return NAN;
	}
	for (size_t n = 0; n < N; n++) {
		if (ids[n] < 0 || ids[n] >= V) {
			ft_error("token id %d at row %zu, position %zu out of range "
			    "(vocabulary %d)", ids[n], n / T, n % T, V);
			m->n_targets = -1;
			return NAN;
		}
		if (targets != NULL && targets[n] != -100 &&
		    (targets[n] < 0 || targets[n] >= V)) {
			ft_error("target %d at row %zu, position %zu out of range "
			    "(vocabulary %d)", targets[n], n / T, n % T, V);
			m->n_targets = -1;
			return NAN;
		}
	}
	acts_reserve(m, B, T);
	rope_reserve(m, T);
	ft_mx_begin(m, 1);
	a = m->acts;
	NC = N * (size_t)C;
	m->B = B;
	m->T = T;
	memcpy(a->ids, ids, N * sizeof(int32_t));
	for (size_t n = 0; n < N; n++)
		a->pos[n] = (int32_t)(n % (size_t)T);
	a->has_mask = mask != NULL;
	if (mask != NULL)
		memcpy(a->mask, mask, N);
	a->has_targets = targets != NULL;
	if (targets != NULL)
		memcpy(a->targets, targets, N * sizeof(int32_t));
	a->training = m->training;
	a->counter = m->dropout_counter;
	pe = m->training ? m->embd_pdrop : 0;

	ec = (struct emb_ctx){ .m = m, .out = a->x, .ids = a->ids,
	    .pos = a->pos, .N = N };
	PROF(P_EMB, ft_parallel(th, emb_task, &ec));
	PROF(P_DROP, ft_dropout(a->x, NC, pe, key_of(m, SITE_EMBD), th));
	for (int l = 0; l < L; l++) {
		struct blk s = train_blk(m, l);
		layer_forward(m, &m->p.h[l], &s);
	}
	PROF(P_LN, norm_fwd(m, a->lnf, a->lnf_mean, a->lnf_rstd, a->x + L * NC,
	    m->p.nf_w, m->p.nf_b, (int)N));
	a->compact = targets != NULL && m->skip_ignored_logits;
	if (a->compact) {
		/* only rows that have a target: gather them */
		a->nv = 0;
		for (size_t n = 0; n < N; n++)
			if (targets[n] != -100) {
				a->rows[a->nv] = (int32_t)n;
				a->tgc[a->nv] = targets[n];
				memcpy(a->lnfc + a->nv * C, a->lnf + n * C,
				    (size_t)C * sizeof(float));
				a->nv++;
			}
		/* logits[nv,V] = lnfc[nv,C] · headᵀ ([V,C]) */
		if (a->nv > 0)
			PROF(P_HEAD, head_fwd(m, a->logits, a->lnfc, (int)a->nv));
	} else {
		/* logits[N,V] = lnf[N,C] · headᵀ ([V,C]) */
		PROF(P_HEAD, head_fwd(m, a->logits, a->lnf, (int)N));
	}
	if (m->training)
		m->dropout_counter++;
	if (targets == NULL)
		return NAN;
	if (a->compact) {
		PROF(P_CE, m->loss_sum = ft_crossentropy_forward(a->lossc, a->lse,
		    a->logits, a->tgc, (int)a->nv, V, &m->n_targets, th));
		memset(a->losses, 0, N * sizeof(float));
		for (size_t i = 0; i < a->nv; i++)
			a->losses[a->rows[i]] = a->lossc[i];
	} else {
		PROF(P_CE, m->loss_sum = ft_crossentropy_forward(a->losses, a->lse,
		    a->logits, a->targets, (int)N, V, &m->n_targets, th));
	}
	return m->n_targets > 0 ? (float)(m->loss_sum / m->n_targets) : NAN;
}

void
ft_model_zero_grad(ft_model *m)
{
	if (m->lora != NULL)
		ft_lora_zero_grad(m->lora);
	if (m->frozen)
		return;
	if (m->grads == NULL) {
		m->grads = alloc_floats(m->n_params);
		set_views(m, m->grads, &m->g);
	}
	memset(m->grads, 0, m->n_params * sizeof(float));
}

/* One layer, backward: a->dx holds the gradient of the layer's output
 * and becomes that of its input. */
static void
layer_backward(ft_model *m, int l)
{
	const ft_model_config *cf = &m->cfg;
	struct dims d = dims_of(cf);
	struct ft_model_acts *a = m->acts;
	const struct ft_layer *w = &m->p.h[l];
	static struct ft_layer frozen; /* all NULL: no weight gradients */
	struct ft_layer *g = m->frozen ? &frozen : &m->g.h[l];
	struct blk s = train_blk(m, l);
	int th = m->threads, N = s.N, C = (int)d.C;
	size_t NC = (size_t)N * d.C;
	float *dfcg = cf->mlp == FT_MLP_SWIGLU ? a->bufG : a->bufF;

	memcpy(a->tmp, a->dx, NC * sizeof(float));
	PROF(P_DROP, ft_dropout(a->tmp, NC, s.pr, s.kres2, th));
	PROF(P_MMB, mm_bwd(m, dfcg, g->down_w, g->down_b, a->tmp, s.fcg,
	    w->down_w, N, (int)d.F, C));
	PROF(P_LORAB, LORA_BWD(FT_LORA_DOWN, dfcg, a->tmp, C, s.fcg));
	if (cf->mlp == FT_MLP_SWIGLU)
		PROF(P_GELU, ft_swiglu_backward(a->bufF, s.fch, dfcg, (size_t)N,
		    (int)d.F, th));
	else
		PROF(P_GELU, ft_gelu_backward(a->bufF, s.fch, a->bufF,
		    (size_t)N * d.F, th));
	PROF(P_MMB, mm_bwd(m, a->bufC, g->up_w, g->up_b, a->bufF, s.ln2,
	    w->up_w, N, C, (int)d.F2));
	PROF(P_LORAB, LORA_BWD(FT_LORA_UP, a->bufC, a->bufF, d.F2, s.ln2));
	PROF(P_LNB, norm_bwd(m, a->dx, g->n2_w, g->n2_b, a->bufC, s.xm, w->n2_w,
	    s.m2, s.r2, N));
	memcpy(a->tmp, a->dx, NC * sizeof(float));
	PROF(P_DROP, ft_dropout(a->tmp, NC, s.pr, s.kres1, th));
	PROF(P_MMB, mm_bwd(m, a->bufC, g->o_w, g->o_b, a->tmp, s.atty, w->o_w,
	    N, (int)d.A, C));
	PROF(P_LORAB, LORA_BWD(FT_LORA_O, a->bufC, a->tmp, C, s.atty));
	if (ft_mx_on(m))
		PROF(P_ATTB, ft_mx_att_bwd(m, a->bufF, a->dP, a->Pd, a->bufC,
		    s.qkv, s.P, s.mask, s.B, s.T, (int)d.H, (int)d.KV, (int)d.hd,
		    s.pa, s.katt));
	else
		PROF(P_ATTB, ft_attention_backward(a->bufF, a->dP, a->Pd,
		    a->bufC, s.qkv, s.P, s.mask, s.B, s.T, (int)d.H, (int)d.KV,
		    (int)d.hd, s.pa, s.katt, th));
	if (cf->pos == FT_POS_ROPE)
		PROF(P_ROPE, ft_rope_apply(a->bufF, s.pos, N, (int)d.S,
		    (int)(d.H + d.KV), (int)d.hd, m->rope_cos, m->rope_sin, 1, th));
	if (cf->qk_norm)
		PROF(P_LNB, qk_norm_bwd(m, w, g, a->bufF, s.qkraw, s.qkrs, a->qkb,
		    (size_t)N));
	if (m->frozen && l == 0) {
		/* nothing below needs a gradient: only the adapters' */
		PROF(P_LORAB, LORA_BWD(FT_LORA_QKV, NULL, a->bufF, d.S, s.ln1));
		return;
	}
	PROF(P_MMB, mm_bwd(m, a->bufC, g->qkv_w, g->qkv_b, a->bufF, s.ln1,
	    w->qkv_w, N, C, (int)d.S));
	PROF(P_LORAB, LORA_BWD(FT_LORA_QKV, a->bufC, a->bufF, d.S, s.ln1));
	PROF(P_LNB, norm_bwd(m, a->dx, g->n1_w, g->n1_b, a->bufC, s.x, w->n1_w,
	    s.m1, s.r1, N));
}

void
ft_model_backward(ft_model *m, double scale)
{
	const ft_model_config *cf = &m->cfg;
	int L = cf->n_layer, C = cf->n_embd;
	int V = cf->vocab_size, th = m->threads, B = m->B, T = m->T;
	struct ft_model_acts *a = m->acts;
	size_t N, NC;
	double pe;
	struct emb_ctx ec;

	if (a == NULL || !a->has_targets)
		ft_die("ft_model_backward: no forward pass with targets");
	if (m->quant != NULL)
		ft_die("ft_model_backward: the model is quantised (forward only)");
	if ((!m->frozen && m->grads == NULL) ||
	    (m->lora != NULL && m->lora->grads == NULL))
		ft_model_zero_grad(m);
	N = (size_t)B * T;
	NC = N * (size_t)C;
	pe = a->training ? m->embd_pdrop : 0;

	if (a->compact) {
		size_t nv = a->nv;
		PROF(P_CEB, ft_crossentropy_backward(a->logits, a->lse, a->tgc,
		    (int)nv, V, (float)scale, th));
		/* dlnfc[nv,C] = dlogits[nv,V] · head[V,C];
		 * dhead[V,C] += dlogitsᵀ · lnfc */
		memset(a->bufC, 0, NC * sizeof(float));
		if (nv > 0)
			PROF(P_HEADB, head_bwd(m, a->tmp, a->logits, a->lnfc,
			    (int)nv));
		for (size_t i = 0; i < nv; i++)
			memcpy(a->bufC + (size_t)a->rows[i] * C, a->tmp + i * C,
			    (size_t)C * sizeof(float));
	} else {
		PROF(P_CEB, ft_crossentropy_backward(a->logits, a->lse, a->targets,
		    (int)N, V, (float)scale, th));
		/* dlnf[N,C] = dlogits[N,V] · head[V,C];
		 * dhead[V,C] += dlogitsᵀ · lnf */
		PROF(P_HEADB, head_bwd(m, a->bufC, a->logits, a->lnf, (int)N));
	}
	memset(a->dx, 0, NC * sizeof(float));
	PROF(P_LNB, norm_bwd(m, a->dx, m->frozen ? NULL : m->g.nf_w,
	    m->frozen ? NULL : m->g.nf_b, a->bufC, a->x + L * NC, m->p.nf_w,
	    a->lnf_mean, a->lnf_rstd, (int)N));
	for (int l = L - 1; l >= 0; l--)
		layer_backward(m, l);
	if (m->frozen) {
		a->has_targets = 0;
		return;
	}
	PROF(P_DROP, ft_dropout(a->dx, NC, pe, key_of(m, SITE_EMBD), th));
	ec = (struct emb_ctx){ .m = m, .dx = a->dx, .dwte = m->g.emb,
	    .dwpe = m->g.pos, .ids = a->ids, .pos = a->pos, .N = N };
	PROF(P_EMBB, ft_parallel(th, emb_bwd_task, &ec));
	a->has_targets = 0; /* logits now hold their gradient */
}

/* ---- KV cache ---- */

ft_kv *
ft_kv_new(const ft_model *m, int B, int max_T)
{
	ft_kv *kv;
	size_t n;

	if (max_T > m->cfg.n_positions || max_T < 1)
		max_T = m->cfg.n_positions;
	if (m->cfg.sliding_window > 0 && max_T > m->cfg.sliding_window) {
		ft_error("\"sliding_window\": %d is smaller than the context of "
		    "%d tokens (not supported)", m->cfg.sliding_window, max_T);
		return NULL;
	}
	kv = ft_calloc(1, sizeof(*kv));
	kv->B = B < 1 ? 1 : B;
	kv->max_T = max_T;
	kv->kvw = (size_t)m->cfg.n_kv_head * m->cfg.head_dim;
	n = (size_t)m->cfg.n_layer * kv->B * max_T * kv->kvw;
	kv->k = alloc_floats(n);
	kv->v = alloc_floats(n);
	kv->len = ft_calloc((size_t)kv->B, sizeof(int));
	return kv;
}

static void
kv_scratch_free(ft_kv *kv)
{
	free(kv->x);
	free(kv->a);
	free(kv->qkv);
	free(kv->y);
	free(kv->tmp);
	free(kv->f);
	free(kv->g);
	free(kv->qkr);
	free(kv->qkrs);
	free(kv->qkt);
	free(kv->mean);
	free(kv->rstd);
	free(kv->pos);
}

void
ft_kv_free(ft_kv *kv)
{
	if (kv == NULL)
		return;
	free(kv->k);
	free(kv->v);
	free(kv->len);
	free(kv->logits);
	kv_scratch_free(kv);
	free(kv);
}

void
ft_kv_reset(ft_kv *kv, int b)
{
	if (b < 0)
		memset(kv->len, 0, (size_t)kv->B * sizeof(int));
	else if (b < kv->B)
		kv->len[b] = 0;
}

int
ft_kv_len(const ft_kv *kv, int b)
{
	return b >= 0 && b < kv->B ? kv->len[b] : 0;
}

static void
kv_reserve(const ft_model *m, ft_kv *kv, size_t n)
{
	struct dims d = dims_of(&m->cfg);
	size_t qk = m->cfg.qk_norm ? d.H + d.KV : 0;

	if (n <= kv->cap)
		return;
	kv_scratch_free(kv);
	kv->cap = n;
	kv->x = alloc_floats(n * d.C);
	kv->a = alloc_floats(n * d.C);
	kv->qkv = alloc_floats(n * d.S);
	kv->y = alloc_floats(n * d.A);
	kv->tmp = alloc_floats(n * d.C);
	kv->f = alloc_floats(n * d.F2);
	kv->g = alloc_floats(n * d.F);
	kv->qkr = alloc_floats(n * qk * d.hd);
	kv->qkrs = alloc_floats(n * qk);
	kv->qkt = alloc_floats(n * qk * d.hd);
	kv->mean = alloc_floats(n);
	kv->rstd = alloc_floats(n);
	kv->pos = ft_calloc(n, sizeof(int32_t));
}

struct kv_att_ctx {
	const ft_model *m;
	const struct blk *s;
};

/* One (item, query head) per unit: attention of a new token over its
 * row's cached keys (key/value head h / (H / KV)). */
static void
kv_att_task(void *vc, int tid, int nt)
{
	struct kv_att_ctx *c = vc;
	const struct blk *bk = c->s;
	ft_kv *kv = bk->kv;
	struct dims d = dims_of(&c->m->cfg);
	int H = (int)d.H, hs = (int)d.hd, G = (int)(d.H / d.KV);
	float div = (float)sqrt((double)hs);
	size_t lo, hi, W = kv->kvw;
	float *s = ft_malloc((size_t)kv->max_T * sizeof(float));

	ft_split((size_t)bk->N * H, tid, nt, &lo, &hi);
	for (size_t u = lo; u < hi; u++) {
		int i = (int)(u / H), h = (int)(u % H), P = bk->pos[i] + 1;
		size_t base = (((size_t)bk->l * kv->B + bk->row[i]) * kv->max_T) * W +
		    (size_t)(h / G) * hs;
		const float *q = bk->qkv + (size_t)i * d.S + (size_t)h * hs;
		float *y = bk->atty + (size_t)i * d.A + (size_t)h * hs;
		float mx = -INFINITY;
		double sum = 0;
		float inv;

		for (int t = 0; t < P; t++) {
			s[t] = ft_dot(q, kv->k + base + (size_t)t * W, hs) / div;
			mx = s[t] > mx ? s[t] : mx;
		}
		for (int t = 0; t < P; t++) {
			s[t] = ft_expf_fast(s[t] - mx);
			sum += s[t];
		}
		inv = (float)(1.0 / sum);
		memset(y, 0, (size_t)hs * sizeof(float));
		for (int t = 0; t < P; t++)
			ft_axpy(y, s[t] * inv, kv->v + base + (size_t)t * W, hs);
	}
	free(s);
}

/* Append the items' keys and values (after rotary) to the cache, then
 * attend over each item's row. */
static void
kv_attention(const ft_model *m, struct blk *s)
{
	ft_kv *kv = s->kv;
	struct dims d = dims_of(&m->cfg);
	struct kv_att_ctx ac = { m, s };

	for (int i = 0; i < s->N; i++) {
		size_t at = (((size_t)s->l * kv->B + s->row[i]) * kv->max_T +
		    (size_t)s->pos[i]) * kv->kvw;
		memcpy(kv->k + at, s->qkv + (size_t)i * d.S + d.A,
		    kv->kvw * sizeof(float));
		memcpy(kv->v + at, s->qkv + (size_t)i * d.S + d.A + kv->kvw,
		    kv->kvw * sizeof(float));
	}
	ft_parallel(m->threads, kv_att_task, &ac);
}

/* Run n items (row, position, id) through the model, appending their keys
 * and values to the cache; logits of items with out[i] != NULL. */
static void
kv_run(ft_model *m, ft_kv *kv, const int *row, const int *pos,
    const int32_t *ids, int n, float *const *out)
{
	const ft_model_config *cf = &m->cfg;
	int L = cf->n_layer, C = cf->n_embd, th = m->threads;
	struct blk s = { 0 };
	struct emb_ctx ec;

	kv_reserve(m, kv, (size_t)n);
	for (int i = 0; i < n; i++)
		kv->pos[i] = pos[i];
	rope_reserve(m, kv->max_T);
	ft_mx_begin(m, 0);
	ec = (struct emb_ctx){ .m = m, .out = kv->x, .ids = ids,
	    .pos = kv->pos, .N = (size_t)n };
	ft_parallel(ft_threads_for((size_t)n * C, th), emb_task, &ec);
	s.N = n;
	s.pos = kv->pos;
	s.x = s.xm = s.out = kv->x;
	s.ln1 = s.ln2 = kv->a;
	s.m1 = s.m2 = kv->mean;
	s.r1 = s.r2 = kv->rstd;
	s.qkv = kv->qkv;
	s.qkraw = kv->qkr;
	s.qkrs = kv->qkrs;
	s.qkt = kv->qkt;
	s.atty = kv->y;
	s.fch = kv->f;
	s.fcg = kv->g;
	s.tmp = kv->tmp;
	s.kv = kv;
	s.row = row;
	for (int l = 0; l < L; l++) {
		s.l = l;
		layer_forward(m, &m->p.h[l], &s);
	}
	norm_fwd(m, kv->a, kv->mean, kv->rstd, kv->x, m->p.nf_w, m->p.nf_b, n);
	{
		/* one sgemm for every row that wants logits: the head matrix is
		 * streamed once, not once per row */
		int k = 0;
		size_t V = (size_t)cf->vocab_size;
		for (int i = 0; i < n; i++)
			if (out[i] != NULL) {
				if (k != i)
					memcpy(kv->a + (size_t)k * C, kv->a + (size_t)i * C,
					    (size_t)C * sizeof(float));
				k++;
			}
		if (k == 0)
			return;
		if ((size_t)k > kv->cap_logits) {
			free(kv->logits);
			kv->logits = alloc_floats((size_t)k * V);
			kv->cap_logits = (size_t)k;
		}
		/* logits[k,V] = a[k,C] · headᵀ (one or a few rows: each head
		 * row read once; neither packs the head) */
		double t0_ = prof_now();
		if (ft_mq_head(m) != NULL)
			ft_mq_linear(m, ft_mq_head(m), kv->logits, kv->a, NULL, k);
		else if (ft_matmul_rows_small_ok(k))
			ft_matmul_rows_small(kv->logits, kv->a, head_w(m), k,
			    (int)V, C, th);
		else if (k == 1)
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)V, C, 1.0f,
			    head_w(m), C, kv->a, 1, 0.0f, kv->logits, 1);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k,
			    (int)V, C, 1.0f, kv->a, C, head_w(m), C, 0.0f,
			    kv->logits, (int)V);
		if (prof_on)
			prof_t[P_HEAD] += prof_now() - t0_;
		k = 0;
		for (int i = 0; i < n; i++)
			if (out[i] != NULL)
				memcpy(out[i], kv->logits + (size_t)k++ * V,
				    V * sizeof(float));
	}
}

int
ft_kv_prefill(ft_model *m, ft_kv *kv, int b, const int32_t *ids, int n,
    float *logits)
{
	int *row, *pos;
	float **out;

	if (b < 0 || b >= kv->B || n < 1)
		return ft_error("kv prefill: bad row %d or length %d", b, n);
	if (kv->len[b] + n > kv->max_T)
		return ft_error("sequence of %d tokens exceeds the context of %d",
		    kv->len[b] + n, kv->max_T);
	for (int i = 0; i < n; i++)
		if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size)
			return ft_error("token id %d out of range (vocabulary %d)",
			    ids[i], m->cfg.vocab_size);
	row = ft_malloc((size_t)n * sizeof(int));
	pos = ft_malloc((size_t)n * sizeof(int));
	out = ft_calloc((size_t)n, sizeof(float *));
	for (int i = 0; i < n; i++) {
		row[i] = b;
		pos[i] = kv->len[b] + i;
	}
	out[n - 1] = logits;
	kv_run(m, kv, row, pos, ids, n, out);
	kv->len[b] += n;
	free(row);
	free(pos);
	free(out);
	return 0;
}

int
ft_kv_decode_step(ft_model *m, ft_kv *kv, const int32_t *ids,
    const uint8_t *active, float *logits)
{
	int n = 0, B = kv->B, *row, *pos;
	int32_t *id;
	float **out;

	for (int b = 0; b < B; b++) {
		if (active != NULL && !active[b])
			continue;
		if (kv->len[b] + 1 > kv->max_T)
			return ft_error("sequence %d is full (%d tokens)", b,
			    kv->max_T);
		if (ids[b] < 0 || ids[b] >= m->cfg.vocab_size)
			return ft_error("token id %d out of range (vocabulary %d)",
			    ids[b], m->cfg.vocab_size);
	}
	row = ft_malloc((size_t)B * sizeof(int));
	pos = ft_malloc((size_t)B * sizeof(int));
	id = ft_malloc((size_t)B * sizeof(int32_t));
	out = ft_calloc((size_t)B, sizeof(float *));
	for (int b = 0; b < B; b++) {
		if (active != NULL && !active[b])
			continue;
		row[n] = b;
		pos[n] = kv->len[b];
		id[n] = ids[b];
		out[n] = logits + (size_t)b * m->cfg.vocab_size;
		n++;
	}
	if (n > 0)
		kv_run(m, kv, row, pos, id, n, out);
	for (int i = 0; i < n; i++)
		kv->len[row[i]]++;
	free(row);
	free(pos);
	free(id);
	free(out);
	return 0;
}
