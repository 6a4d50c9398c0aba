/* gpt2 — see gpt2.h.  Model layout, forward, backward, KV-cache decoding.
 * Loading and saving weights (safetensors) live in gpt2_io.c.
 *
 * Forward (N = B*T rows, C channels, F = n_inner, L layers):
 *   x0 = drop(wte[ids] + wpe[t])
 *   per layer: a = LN1(x); qkv = a·Wattn + b; y = attn(qkv);
 *     xm = x + drop(y·Wproj + b); m = LN2(xm);
 *     x' = xm + drop(gelu(m·Wfc + b)·Wmproj + b)
 *   logits = LN_f(x_L)·wteᵀ; loss = masked CE.
 * Everything the backward pass needs is kept per layer; dropout masks are
 * recomputed from the counter-based hash instead of stored. */
#include <cblas.h>
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "err.h"
#include "gpt2.h"
#include "io.h"
#include "jsonl.h"
#include "kernels.h"
#include "rng.h"

#define ALIGN_FLOATS 16

/* Optional phase timing: FT_GPT2_PROFILE=1 prints a table on stderr at
 * ft_gpt2_release. */
enum { P_EMB, P_LN, P_MM, P_ATT, P_GELU, P_DROP, P_HEAD, P_CE, P_CEB,
	P_HEADB, P_MMB, P_ATTB, P_LNB, P_EMBB, P_ADD, P_N };
static const char *prof_name[P_N] = { "embed", "layernorm", "matmul",
	"attention", "gelu", "dropout", "lm_head", "xent", "xent bwd",
	"lm_head bwd", "matmul bwd", "attention bwd", "layernorm bwd",
	"embed bwd", "residual" };
static double prof_t[P_N];
static int prof_on = -1;

static double
prof_now(void)
{
	struct timespec ts;

	if (prof_on < 0) {
		const char *e = getenv("FT_GPT2_PROFILE");
		prof_on = e != NULL && *e != '\0' && strcmp(e, "0") != 0;
	}
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

struct ft_gpt2_acts {
	size_t cap_N, cap_att;  /* rows, and B*NH*T*T, allocated for */
	size_t N, att;          /* current */
	float *x, *xmid;        /* [L+1][N,C], [L][N,C] */
	float *ln1, *ln1_mean, *ln1_rstd;
	float *qkv, *atty, *P;
	float *ln2, *ln2_mean, *ln2_rstd;
	float *fch, *fcg;       /* [L][N,F] */
	float *lnf, *lnf_mean, *lnf_rstd;
	float *logits;          /* [N,V] */
	float *losses, *lse;    /* [N] */
	int32_t *ids, *targets; /* [N] */
	uint8_t *mask;          /* [N] */
	int has_mask, has_targets, training;
	uint64_t counter;       /* dropout counter of the last forward */
	float *Pd, *dP;         /* scratch [B,NH,T,T] */
	int compact;            /* logits only for rows with targets */
	size_t nv;              /* such rows */
	int32_t *rows, *tgc;    /* [N]: their indices and targets */
	float *lnfc, *lossc;    /* [N,C] gathered lnf rows, [N] losses */
	float *dx, *tmp, *bufC, *bufF;
	float *block;
};

/* ---- config ---- */

void
ft_gpt2_config_default(ft_gpt2_config *c)
{
	c->n_layer = 6;
	c->n_embd = 768;
	c->n_head = 12;
	c->n_positions = 1024;
	c->vocab_size = 50257;
	c->n_inner = 3072;
	c->layer_norm_epsilon = 1e-5;
	c->embd_pdrop = c->attn_pdrop = c->resid_pdrop = 0.1;
	c->bos_token_id = c->eos_token_id = 50256;
	c->tie_word_embeddings = 1;
}

static int
check_config(const ft_gpt2_config *c, const char *where)
{
	if (c->n_layer < 1 || c->n_layer > 1000)
		return ft_error("%s: n_layer %d out of range", where, c->n_layer);
	if (c->n_embd < 1 || c->n_embd > 65536)
		return ft_error("%s: n_embd %d out of range", where, c->n_embd);
	if (c->n_head < 1 || c->n_embd % c->n_head != 0)
		return ft_error("%s: n_embd %d is not a multiple of n_head %d",
		    where, c->n_embd, c->n_head);
	if (c->n_positions < 1 || c->n_positions > 1 << 20)
		return ft_error("%s: n_positions %d out of range", where,
		    c->n_positions);
	if (c->vocab_size < 1 || c->vocab_size > 1 << 24)
		return ft_error("%s: vocab_size %d out of range", where,
		    c->vocab_size);
	if (c->n_inner < 1 || c->n_inner > 1 << 20)
		return ft_error("%s: n_inner %d out of range", where, c->n_inner);
	if (!(c->layer_norm_epsilon > 0))
		return ft_error("%s: layer_norm_epsilon must be > 0", where);
	if (!(c->embd_pdrop >= 0 && c->embd_pdrop < 1 && c->attn_pdrop >= 0 &&
	    c->attn_pdrop < 1 && c->resid_pdrop >= 0 && c->resid_pdrop < 1))
		return ft_error("%s: dropout probabilities must be in [0, 1)",
		    where);
	return 0;
}

static int
get_int(const cJSON *o, const char *k, int *v, const char *path)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	if (it == NULL || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
	    fabs(it->valuedouble) > 2e9)
		return ft_error("%s: \"%s\" must be an integer", path, k);
	*v = (int)it->valuedouble;
	return 0;
}

static int
get_num(const cJSON *o, const char *k, double *v, const char *path)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	if (it == NULL || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsNumber(it))
		return ft_error("%s: \"%s\" must be a number", path, k);
	*v = it->valuedouble;
	return 0;
}

/* Boolean key that must have value ok (or be absent). */
static int
want_bool(const cJSON *o, const char *k, int ok, const char *path)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	if (it == NULL || cJSON_IsNull(it))
		return 0;
	if (!cJSON_IsBool(it))
		return ft_error("%s: \"%s\" must be true or false", path, k);
	if (cJSON_IsTrue(it) != ok)
		return ft_error("%s: \"%s\": %s is not supported", path, k,
		    ok ? "false" : "true");
	return 0;
}

int
ft_gpt2_config_load(ft_gpt2_config *c, const char *path)
{
	cJSON *o;
	const cJSON *it;
	int rc = -1;

	/* GPT2Config defaults */
	ft_gpt2_config_default(c);
	c->n_layer = 12;
	c->n_inner = 0;
	if ((o = ft_json_load(path)) == NULL)
		return -1;
	it = cJSON_GetObjectItemCaseSensitive(o, "model_type");
	if (it != NULL && !(cJSON_IsString(it) &&
	    strcmp(it->valuestring, "gpt2") == 0)) {
		ft_error("%s: \"model_type\": only \"gpt2\" is supported", path);
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(o, "activation_function");
	if (it != NULL && !(cJSON_IsString(it) &&
	    (strcmp(it->valuestring, "gelu_new") == 0 ||
	    strcmp(it->valuestring, "gelu_pytorch_tanh") == 0))) {
		ft_error("%s: \"activation_function\": %s%s%s is not supported "
		    "(gelu_new only)", path, cJSON_IsString(it) ? "'" : "",
		    cJSON_IsString(it) ? it->valuestring : "value",
		    cJSON_IsString(it) ? "'" : "");
		goto out;
	}
	if (want_bool(o, "scale_attn_by_inverse_layer_idx", 0, path) < 0 ||
	    want_bool(o, "reorder_and_upcast_attn", 0, path) < 0 ||
	    want_bool(o, "scale_attn_weights", 1, path) < 0 ||
	    want_bool(o, "add_cross_attention", 0, path) < 0 ||
	    want_bool(o, "is_encoder_decoder", 0, path) < 0)
		goto out;
	it = cJSON_GetObjectItemCaseSensitive(o, "tie_word_embeddings");
	if (it != NULL && !cJSON_IsNull(it)) {
		if (!cJSON_IsBool(it)) {
			ft_error("%s: \"tie_word_embeddings\" must be true or false",
			    path);
			goto out;
		}
		c->tie_word_embeddings = cJSON_IsTrue(it);
	}
	if (get_int(o, "n_layer", &c->n_layer, path) < 0 ||
	    get_int(o, "n_embd", &c->n_embd, path) < 0 ||
	    get_int(o, "n_head", &c->n_head, path) < 0 ||
	    get_int(o, "n_positions", &c->n_positions, path) < 0 ||
	    get_int(o, "vocab_size", &c->vocab_size, path) < 0 ||
	    get_int(o, "n_inner", &c->n_inner, path) < 0 ||
	    get_int(o, "bos_token_id", &c->bos_token_id, path) < 0 ||
	    get_int(o, "eos_token_id", &c->eos_token_id, path) < 0 ||
	    get_num(o, "layer_norm_epsilon", &c->layer_norm_epsilon, path) < 0 ||
	    get_num(o, "embd_pdrop", &c->embd_pdrop, path) < 0 ||
	    get_num(o, "attn_pdrop", &c->attn_pdrop, path) < 0 ||
	    get_num(o, "resid_pdrop", &c->resid_pdrop, path) < 0)
		goto out;
	if (c->n_inner == 0)
		c->n_inner = 4 * c->n_embd;
	if (check_config(c, path) < 0)
		goto out;
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}

int
ft_gpt2_config_save(const ft_gpt2_config *c, const char *path)
{
	ft_atomic a;
	FILE *f;
	char ap[32], ep[32], rp[32], eps[32];

	if (ft_atomic_open(&a, path) < 0)
		return -1;
	f = a.fp;
	/* floats as Python writes them: 0.1, not 0.10000000000000001 */
	ft_pyfloat(ap, sizeof ap, c->attn_pdrop);
	ft_pyfloat(ep, sizeof ep, c->embd_pdrop);
	ft_pyfloat(rp, sizeof rp, c->resid_pdrop);
	ft_pyfloat(eps, sizeof eps, c->layer_norm_epsilon);
	/* GPT2Config fields, sorted, as save_pretrained writes them */
	fprintf(f, "{\n"
	    "  \"activation_function\": \"gelu_new\",\n"
	    "  \"architectures\": [\n    \"GPT2LMHeadModel\"\n  ],\n"
	    "  \"attn_pdrop\": %s,\n"
	    "  \"bos_token_id\": %d,\n"
	    "  \"embd_pdrop\": %s,\n"
	    "  \"eos_token_id\": %d,\n"
	    "  \"initializer_range\": 0.02,\n"
	    "  \"layer_norm_epsilon\": %s,\n"
	    "  \"model_type\": \"gpt2\",\n"
	    "  \"n_ctx\": %d,\n"
	    "  \"n_embd\": %d,\n"
	    "  \"n_head\": %d,\n"
	    "  \"n_inner\": %d,\n"
	    "  \"n_layer\": %d,\n"
	    "  \"n_positions\": %d,\n"
	    "  \"reorder_and_upcast_attn\": false,\n"
	    "  \"resid_pdrop\": %s,\n"
	    "  \"scale_attn_by_inverse_layer_idx\": false,\n"
	    "  \"scale_attn_weights\": true,\n"
	    "  \"summary_activation\": null,\n"
	    "  \"summary_first_dropout\": 0.1,\n"
	    "  \"summary_proj_to_labels\": true,\n"
	    "  \"summary_type\": \"cls_index\",\n"
	    "  \"summary_use_proj\": true,\n"
	    "%s"
	    "  \"torch_dtype\": \"float32\",\n"
	    "  \"use_cache\": true,\n"
	    "  \"vocab_size\": %d\n"
	    "}\n", ap, c->bos_token_id, ep,
	    c->eos_token_id, eps, c->n_positions, c->n_embd,
	    c->n_head, c->n_inner, c->n_layer, c->n_positions, rp,
	    c->tie_word_embeddings ? "" : "  \"tie_word_embeddings\": false,\n",
	    c->vocab_size);
	return ft_atomic_commit(&a);
}

/* ---- layout ---- */

static size_t
add_tensor(ft_gpt2 *m, size_t *off, const char *name, int ndim, int64_t d0,
    int64_t d1, int decay)
{
	ft_param_tensor *t = &m->tensors[m->n_tensors++];
	size_t at = *off;

	t->name = ft_strdup(name);
	t->off = at;
	t->ndim = ndim;
	t->shape[0] = d0;
	t->shape[1] = ndim > 1 ? d1 : 0;
	t->n = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1);
	t->decay = decay;
	*off = (at + t->n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
	return at;
}

static void
set_views(const ft_gpt2 *m, float *base, struct ft_gpt2_views *v)
{
	const ft_param_tensor *t = m->tensors;
	int L = m->cfg.n_layer;

	v->wte = base + t[0].off;
	v->wpe = base + t[1].off;
	for (int l = 0; l < L; l++) {
		const ft_param_tensor *u = t + 2 + 12 * l;
		struct ft_gpt2_layer *h = &v->h[l];
		h->ln_1_w = base + u[0].off;
		h->ln_1_b = base + u[1].off;
		h->attn_w = base + u[2].off;
		h->attn_b = base + u[3].off;
		h->attn_proj_w = base + u[4].off;
		h->attn_proj_b = base + u[5].off;
		h->ln_2_w = base + u[6].off;
		h->ln_2_b = base + u[7].off;
		h->fc_w = base + u[8].off;
		h->fc_b = base + u[9].off;
		h->mlp_proj_w = base + u[10].off;
		h->mlp_proj_b = base + u[11].off;
	}
	v->ln_f_w = base + t[2 + 12 * L].off;
	v->ln_f_b = base + t[3 + 12 * L].off;
	v->lm_head = m->untied ? base + t[4 + 12 * L].off : NULL;
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
ft_gpt2_new(ft_gpt2 *m, const ft_gpt2_config *cfg, int untied)
{
	int L = cfg->n_layer, C = cfg->n_embd, F = cfg->n_inner;
	int64_t V = cfg->vocab_size;
	size_t off = 0;
	char name[64];
	static const char *nm[12] = { "ln_1.weight", "ln_1.bias",
	    "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
	    "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight",
	    "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias" };

	memset(m, 0, sizeof(*m));
	if (check_config(cfg, "config") < 0)
		return -1;
	m->cfg = *cfg;
	m->untied = untied != 0;
	m->cfg.tie_word_embeddings = !m->untied;
	m->tensors = ft_calloc((size_t)(5 + 12 * L), sizeof(*m->tensors));
	add_tensor(m, &off, "wte.weight", 2, V, C, 1);
	add_tensor(m, &off, "wpe.weight", 2, cfg->n_positions, C, 1);
	for (int l = 0; l < L; l++) {
		int64_t d0[12] = { C, C, C, 3 * C, C, C, C, C, C, F, F, C };
		int64_t d1[12] = { 0, 0, 3 * C, 0, C, 0, 0, 0, F, 0, C, 0 };
		for (int k = 0; k < 12; k++) {
			snprintf(name, sizeof(name), "h.%d.%s", l, nm[k]);
			add_tensor(m, &off, name, d1[k] ? 2 : 1, d0[k], d1[k],
			    d1[k] != 0);
		}
	}
	add_tensor(m, &off, "ln_f.weight", 1, C, 0, 0);
	add_tensor(m, &off, "ln_f.bias", 1, C, 0, 0);
	if (m->untied) /* decayed: the Trainer excludes only biases and LN */
		add_tensor(m, &off, "lm_head.weight", 2, V, C, 1);
	m->n_params = off;
	m->params = alloc_floats(off);
	memset(m->params, 0, off * sizeof(float));
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
acts_free(struct ft_gpt2_acts *a)
{
	if (a == NULL)
		return;
	free(a->block);
	free(a->ids);
	free(a->targets);
	free(a->mask);
	free(a->rows);
	free(a->tgc);
	free(a);
}

void
ft_gpt2_release(ft_gpt2 *m)
{
	if (m == NULL)
		return;
	prof_report();
	for (size_t i = 0; i < m->n_tensors; i++)
		free((char *)m->tensors[i].name);
	free(m->tensors);
	free(m->params);
	free(m->grads);
	free(m->p.h);
	free(m->g.h);
	acts_free(m->acts);
	memset(m, 0, sizeof(*m));
}

/* ---- random init ---- */

static void
fill_normal(float *x, size_t n, double std, uint64_t *s)
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
ft_gpt2_init_random(ft_gpt2 *m, uint64_t seed)
{
	uint64_t s = seed ^ 0x5eed5eed5eedULL;
	double proj = 0.02 / sqrt(2.0 * m->cfg.n_layer);

	for (size_t i = 0; i < m->n_tensors; i++) {
		const ft_param_tensor *t = &m->tensors[i];
		float *x = m->params + t->off;
		const char *nm = t->name;
		size_t ln = strlen(nm);

		if (strstr(nm, "ln_") != NULL) {
			float v = strcmp(nm + ln - 6, "weight") == 0 ? 1.0f : 0.0f;
			for (size_t j = 0; j < t->n; j++)
				x[j] = v;
		} else if (strcmp(nm + ln - 4, "bias") == 0) {
			memset(x, 0, t->n * sizeof(float));
		} else if (strstr(nm, "c_proj.weight") != NULL) {
			fill_normal(x, t->n, proj, &s);
		} else {
			fill_normal(x, t->n, 0.02, &s);
		}
	}
}

void
ft_gpt2_set_threads(ft_gpt2 *m, int threads)
{
	m->threads = threads < 1 ? 1 : threads;
	ft_blas_set_threads(m->threads);
}

void
ft_gpt2_set_dropout_seed(ft_gpt2 *m, uint64_t seed)
{
	m->dropout_seed = seed;
	m->dropout_counter = 0;
}

size_t
ft_gpt2_memory(const ft_gpt2 *m)
{
	size_t b = m->n_params * sizeof(float) * (m->grads != NULL ? 2 : 1);
	const struct ft_gpt2_acts *a = m->acts;

	if (a != NULL) {
		const ft_gpt2_config *c = &m->cfg;
		size_t L = (size_t)c->n_layer, C = (size_t)c->n_embd;
		size_t F = (size_t)c->n_inner, N = a->cap_N;
		size_t w = 3 * C > F ? 3 * C : F;
		b += sizeof(float) * (N * C * (L + 1) + L * (N * C * 4 + N * 3 * C +
		    a->cap_att + 2 * N * F) + N * C + N * (size_t)c->vocab_size +
		    2 * a->cap_att + 3 * N * C + N * w);
	}
	return b;
}

/* ---- activations ---- */

static void
acts_reserve(ft_gpt2 *m, int B, int T)
{
	const ft_gpt2_config *c = &m->cfg;
	size_t L = (size_t)c->n_layer, C = (size_t)c->n_embd;
	size_t F = (size_t)c->n_inner, V = (size_t)c->vocab_size;
	size_t N = (size_t)B * T, att = (size_t)B * c->n_head * T * T;
	size_t w = 3 * C > F ? 3 * C : F, total;
	struct ft_gpt2_acts *a = m->acts;
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
	total = RND((L + 1) * N * C) + 4 * RND(L * N * C) + RND(L * N * 3 * C) +
	    RND(L * att) + 2 * RND(L * N * F) + 4 * RND(L * N) + RND(N * C) +
	    2 * RND(N) + RND(N * V) + 2 * RND(N) + 2 * RND(att) +
	    3 * RND(N * C) + RND(N * w) + RND(N * C) + RND(N);
	a->block = alloc_floats(total);
	p = a->block;
#define TAKE(f, n) do { a->f = p; p += RND(n); } while (0)
	TAKE(x, (L + 1) * N * C);
	TAKE(xmid, L * N * C);
	TAKE(ln1, L * N * C);
	TAKE(atty, L * N * C);
	TAKE(ln2, L * N * C);
	TAKE(qkv, L * N * 3 * C);
	TAKE(P, L * att);
	TAKE(fch, L * N * F);
	TAKE(fcg, L * N * F);
	TAKE(ln1_mean, L * N);
	TAKE(ln1_rstd, L * N);
	TAKE(ln2_mean, L * N);
	TAKE(ln2_rstd, L * N);
	TAKE(lnf, N * C);
	TAKE(lnf_mean, N);
	TAKE(lnf_rstd, N);
	TAKE(logits, N * V);
	TAKE(losses, N);
	TAKE(lse, N);
	TAKE(Pd, att);
	TAKE(dP, att);
	TAKE(dx, N * C);
	TAKE(tmp, N * C);
	TAKE(bufC, N * C);
	TAKE(bufF, N * w);
	TAKE(lnfc, N * C);
	TAKE(lossc, N);
#undef TAKE
#undef RND
	a->ids = ft_calloc(N, sizeof(int32_t));
	a->targets = ft_calloc(N, sizeof(int32_t));
	a->mask = ft_calloc(N, 1);
	a->rows = ft_calloc(N, sizeof(int32_t));
	a->tgc = ft_calloc(N, sizeof(int32_t));
	a->N = (size_t)B * T;
	a->att = (size_t)B * c->n_head * T * T;
}

const float *
ft_gpt2_logits(const ft_gpt2 *m)
{
	return m->acts != NULL ? m->acts->logits : NULL;
}

const float *
ft_gpt2_losses(const ft_gpt2 *m)
{
	return m->acts != NULL ? m->acts->losses : NULL;
}

void
ft_gpt2_shift_labels(const int32_t *labels, int32_t *out, int B, int T)
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
key_of(const ft_gpt2 *m, uint64_t site)
{
	return ft_drop_key(m->dropout_seed, m->acts->counter, site);
}

static const float *
head_w(const ft_gpt2 *m)
{
	return m->untied ? m->p.lm_head : m->p.wte;
}

struct emb_ctx {
	const ft_gpt2 *m;
	float *out, *dwte, *dwpe;
	const float *dx;
	int B, T;
};

static void
emb_task(void *vc, int tid, int nt)
{
	struct emb_ctx *c = vc;
	const ft_gpt2 *m = c->m;
	size_t C = (size_t)m->cfg.n_embd, lo, hi;
	const int32_t *ids = m->acts->ids;

	ft_split((size_t)c->B * c->T, tid, nt, &lo, &hi);
	for (size_t n = lo; n < hi; n++) {
		const float *e = m->p.wte + (size_t)ids[n] * C;
		const float *p = m->p.wpe + (n % (size_t)c->T) * C;
		float *o = c->out + n * C;
		for (size_t i = 0; i < C; i++)
			o[i] = e[i] + p[i];
	}
}

/* Channel-parallel scatter: each thread owns a channel range, so repeated
 * ids add in row order whatever the thread count. */
static void
emb_bwd_task(void *vc, int tid, int nt)
{
	struct emb_ctx *c = vc;
	const ft_gpt2 *m = c->m;
	size_t C = (size_t)m->cfg.n_embd, lo, hi, N = (size_t)c->B * c->T;
	const int32_t *ids = m->acts->ids;

	ft_split(C, tid, nt, &lo, &hi);
	for (size_t n = 0; n < N; n++) {
		const float *d = c->dx + n * C;
		float *e = c->dwte + (size_t)ids[n] * C;
		float *p = c->dwpe + (n % (size_t)c->T) * C;
		for (size_t i = lo; i < hi; i++) {
			e[i] += d[i];
			p[i] += d[i];
		}
	}
}

static void
add3(float *out, const float *a, const float *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] + b[i];
}

float
ft_gpt2_forward(ft_gpt2 *m, const int32_t *ids, const uint8_t *mask,
    const int32_t *targets, int B, int T)
{
	const ft_gpt2_config *cf = &m->cfg;
	int L = cf->n_layer, C = cf->n_embd, F = cf->n_inner, NH = cf->n_head;
	int V = cf->vocab_size, th = m->threads;
	size_t N = (size_t)B * T, NC;
	struct ft_gpt2_acts *a;
	double pe, pa, pr;
	struct emb_ctx ec;

	m->n_targets = 0;
	m->loss_sum = 0;
	if (B < 1 || T < 1 || T > cf->n_positions) {
		ft_error("batch shape %dx%d invalid (T must be 1..%d)", B, T,
		    cf->n_positions);
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
	a = m->acts;
	NC = N * (size_t)C;
	m->B = B;
	m->T = T;
	memcpy(a->ids, ids, N * sizeof(int32_t));
	a->has_mask = mask != NULL;
	if (mask != NULL)
		memcpy(a->mask, mask, N);
	a->has_targets = targets != NULL;
	if (targets != NULL)
		memcpy(a->targets, targets, N * sizeof(int32_t));
	a->training = m->training;
	a->counter = m->dropout_counter;
	pe = m->training ? m->embd_pdrop : 0;
	pa = m->training ? m->attn_pdrop : 0;
	pr = m->training ? m->resid_pdrop : 0;

	ec = (struct emb_ctx){ .m = m, .out = a->x, .B = B, .T = T };
	PROF(P_EMB, ft_parallel(th, emb_task, &ec));
	PROF(P_DROP, ft_dropout(a->x, NC, pe, key_of(m, SITE_EMBD), th));
	for (int l = 0; l < L; l++) {
		const struct ft_gpt2_layer *w = &m->p.h[l];
		float *x = a->x + l * NC, *xm = a->xmid + l * NC;
		float *ln1 = a->ln1 + l * NC, *ln2 = a->ln2 + l * NC;
		float *qkv = a->qkv + l * NC * 3, *atty = a->atty + l * NC;
		float *fch = a->fch + l * N * F, *fcg = a->fcg + l * N * F;

		PROF(P_LN, ft_layernorm_forward(ln1, a->ln1_mean + l * N, a->ln1_rstd + l * N,
		    x, w->ln_1_w, w->ln_1_b, (int)N, C,
		    (float)cf->layer_norm_epsilon, th));
		PROF(P_MM, ft_matmul_forward(qkv, ln1, w->attn_w, w->attn_b, (int)N, C, 3 * C));
		PROF(P_ATT, ft_attention_forward(atty, a->P + l * a->att, a->Pd, qkv,
		    a->has_mask ? a->mask : NULL, B, T, C, NH, pa,
		    key_of(m, SITE_ATT(l)), th));
		PROF(P_MM, ft_matmul_forward(a->tmp, atty, w->attn_proj_w, w->attn_proj_b,
		    (int)N, C, C));
		PROF(P_DROP, ft_dropout(a->tmp, NC, pr, key_of(m, SITE_ATTRES(l)), th));
		PROF(P_ADD, add3(xm, x, a->tmp, NC));
		PROF(P_LN, ft_layernorm_forward(ln2, a->ln2_mean + l * N, a->ln2_rstd + l * N,
		    xm, w->ln_2_w, w->ln_2_b, (int)N, C,
		    (float)cf->layer_norm_epsilon, th));
		PROF(P_MM, ft_matmul_forward(fch, ln2, w->fc_w, w->fc_b, (int)N, C, F));
		PROF(P_GELU, ft_gelu_forward(fcg, fch, N * (size_t)F, th));
		PROF(P_MM, ft_matmul_forward(a->tmp, fcg, w->mlp_proj_w, w->mlp_proj_b,
		    (int)N, F, C));
		PROF(P_DROP, ft_dropout(a->tmp, NC, pr, key_of(m, SITE_MLPRES(l)), th));
		PROF(P_ADD, add3(a->x + (l + 1) * NC, xm, a->tmp, NC));
	}
	PROF(P_LN, ft_layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->x + L * NC,
	    m->p.ln_f_w, m->p.ln_f_b, (int)N, C, (float)cf->layer_norm_epsilon,
	    th));
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
			PROF(P_HEAD, cblas_sgemm(CblasRowMajor, CblasNoTrans,
			    CblasTrans, (int)a->nv, V, C, 1.0f, a->lnfc, C, head_w(m),
			    C, 0.0f, a->logits, V));
	} else {
		/* logits[N,V] = lnf[N,C] · headᵀ ([V,C]) */
		PROF(P_HEAD, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
		    (int)N, V, C, 1.0f, a->lnf, C, head_w(m), C, 0.0f, a->logits,
		    V));
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
ft_gpt2_zero_grad(ft_gpt2 *m)
{
	if (m->grads == NULL) {
		m->grads = alloc_floats(m->n_params);
		set_views(m, m->grads, &m->g);
	}
	memset(m->grads, 0, m->n_params * sizeof(float));
}

void
ft_gpt2_backward(ft_gpt2 *m, double scale)
{
	const ft_gpt2_config *cf = &m->cfg;
	int L = cf->n_layer, C = cf->n_embd, F = cf->n_inner, NH = cf->n_head;
	int V = cf->vocab_size, th = m->threads, B = m->B, T = m->T;
	struct ft_gpt2_acts *a = m->acts;
	size_t N, NC;
	double pe, pa, pr;
	struct emb_ctx ec;

	if (a == NULL || !a->has_targets)
		ft_die("ft_gpt2_backward: no forward pass with targets");
	if (m->grads == NULL)
		ft_gpt2_zero_grad(m);
	N = (size_t)B * T;
	NC = N * (size_t)C;
	pe = a->training ? m->embd_pdrop : 0;
	pa = a->training ? m->attn_pdrop : 0;
	pr = a->training ? m->resid_pdrop : 0;

	if (a->compact) {
		size_t nv = a->nv;
		PROF(P_CEB, ft_crossentropy_backward(a->logits, a->lse, a->tgc,
		    (int)nv, V, (float)scale, th));
		/* dlnfc[nv,C] = dlogits[nv,V] · head[V,C];
		 * dhead[V,C] += dlogitsᵀ · lnfc */
		memset(a->bufC, 0, NC * sizeof(float));
		if (nv > 0) {
			PROF(P_HEADB, cblas_sgemm(CblasRowMajor, CblasNoTrans,
			    CblasNoTrans, (int)nv, C, V, 1.0f, a->logits, V, head_w(m),
			    C, 0.0f, a->tmp, C));
			PROF(P_HEADB, cblas_sgemm(CblasRowMajor, CblasTrans,
			    CblasNoTrans, V, C, (int)nv, 1.0f, a->logits, V, a->lnfc, C,
			    1.0f, m->untied ? m->g.lm_head : m->g.wte, C));
		}
		for (size_t i = 0; i < nv; i++)
			memcpy(a->bufC + (size_t)a->rows[i] * C, a->tmp + i * C,
			    (size_t)C * sizeof(float));
	} else {
		PROF(P_CEB, ft_crossentropy_backward(a->logits, a->lse, a->targets,
		    (int)N, V, (float)scale, th));
		/* dlnf[N,C] = dlogits[N,V] · head[V,C];
		 * dhead[V,C] += dlogitsᵀ · lnf */
		PROF(P_HEADB, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
		    (int)N, C, V, 1.0f, a->logits, V, head_w(m), C, 0.0f, a->bufC,
		    C));
		PROF(P_HEADB, cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V,
		    C, (int)N, 1.0f, a->logits, V, a->lnf, C, 1.0f,
		    m->untied ? m->g.lm_head : m->g.wte, C));
	}
	memset(a->dx, 0, NC * sizeof(float));
	PROF(P_LNB, ft_layernorm_backward(a->dx, m->g.ln_f_w, m->g.ln_f_b, a->bufC,
	    a->x + L * NC, m->p.ln_f_w, a->lnf_mean, a->lnf_rstd, (int)N, C, th));
	for (int l = L - 1; l >= 0; l--) {
		const struct ft_gpt2_layer *w = &m->p.h[l];
		struct ft_gpt2_layer *g = &m->g.h[l];
		float *x = a->x + l * NC, *xm = a->xmid + l * NC;
		float *ln1 = a->ln1 + l * NC, *ln2 = a->ln2 + l * NC;
		float *qkv = a->qkv + l * NC * 3, *atty = a->atty + l * NC;
		float *fch = a->fch + l * N * F, *fcg = a->fcg + l * N * F;

		memcpy(a->tmp, a->dx, NC * sizeof(float));
		PROF(P_DROP, ft_dropout(a->tmp, NC, pr, key_of(m, SITE_MLPRES(l)), th));
		PROF(P_MMB, ft_matmul_backward(a->bufF, g->mlp_proj_w, g->mlp_proj_b, a->tmp,
		    fcg, w->mlp_proj_w, (int)N, F, C, 0, th));
		PROF(P_GELU, ft_gelu_backward(a->bufF, fch, a->bufF, N * (size_t)F, th));
		PROF(P_MMB, ft_matmul_backward(a->bufC, g->fc_w, g->fc_b, a->bufF, ln2, w->fc_w,
		    (int)N, C, F, 0, th));
		PROF(P_LNB, ft_layernorm_backward(a->dx, g->ln_2_w, g->ln_2_b, a->bufC, xm,
		    w->ln_2_w, a->ln2_mean + l * N, a->ln2_rstd + l * N, (int)N, C,
		    th));
		memcpy(a->tmp, a->dx, NC * sizeof(float));
		PROF(P_DROP, ft_dropout(a->tmp, NC, pr, key_of(m, SITE_ATTRES(l)), th));
		PROF(P_MMB, ft_matmul_backward(a->bufC, g->attn_proj_w, g->attn_proj_b, a->tmp,
		    atty, w->attn_proj_w, (int)N, C, C, 0, th));
		PROF(P_ATTB, ft_attention_backward(a->bufF, a->dP, a->Pd, a->bufC, qkv,
		    a->P + l * a->att, a->has_mask ? a->mask : NULL, B, T, C, NH, pa,
		    key_of(m, SITE_ATT(l)), th));
		PROF(P_MMB, ft_matmul_backward(a->bufC, g->attn_w, g->attn_b, a->bufF, ln1,
		    w->attn_w, (int)N, C, 3 * C, 0, th));
		PROF(P_LNB, ft_layernorm_backward(a->dx, g->ln_1_w, g->ln_1_b, a->bufC, x,
		    w->ln_1_w, a->ln1_mean + l * N, a->ln1_rstd + l * N, (int)N, C,
		    th));
	}
	PROF(P_DROP, ft_dropout(a->dx, NC, pe, key_of(m, SITE_EMBD), th));
	ec = (struct emb_ctx){ .m = m, .dx = a->dx, .dwte = m->g.wte,
	    .dwpe = m->g.wpe, .B = B, .T = T };
	PROF(P_EMBB, ft_parallel(th, emb_bwd_task, &ec));
	a->has_targets = 0; /* logits now hold their gradient */
}

/* ---- KV cache ---- */

struct ft_gpt2_kv {
	int B, max_T;
	float *k, *v;           /* [L][B][max_T][C] */
	int *len;               /* [B] */
	size_t cap;             /* items the scratch holds */
	float *x, *a, *qkv, *y, *tmp, *f, *g;
	float *mean, *rstd;
	float *logits;          /* [cap_logits, V] */
	size_t cap_logits;
};

ft_gpt2_kv *
ft_gpt2_kv_new(const ft_gpt2 *m, int B, int max_T)
{
	ft_gpt2_kv *kv = ft_calloc(1, sizeof(*kv));
	size_t n;

	if (max_T > m->cfg.n_positions || max_T < 1)
		max_T = m->cfg.n_positions;
	kv->B = B < 1 ? 1 : B;
	kv->max_T = max_T;
	n = (size_t)m->cfg.n_layer * kv->B * max_T * m->cfg.n_embd;
	kv->k = alloc_floats(n);
	kv->v = alloc_floats(n);
	kv->len = ft_calloc((size_t)kv->B, sizeof(int));
	return kv;
}

static void
kv_scratch_free(ft_gpt2_kv *kv)
{
	free(kv->x);
	free(kv->a);
	free(kv->qkv);
	free(kv->y);
	free(kv->tmp);
	free(kv->f);
	free(kv->g);
	free(kv->mean);
	free(kv->rstd);
}

void
ft_gpt2_kv_free(ft_gpt2_kv *kv)
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
ft_gpt2_kv_reset(ft_gpt2_kv *kv, int b)
{
	if (b < 0)
		memset(kv->len, 0, (size_t)kv->B * sizeof(int));
	else if (b < kv->B)
		kv->len[b] = 0;
}

int
ft_gpt2_kv_len(const ft_gpt2_kv *kv, int b)
{
	return b >= 0 && b < kv->B ? kv->len[b] : 0;
}

static void
kv_reserve(const ft_gpt2 *m, ft_gpt2_kv *kv, size_t n)
{
	size_t C = (size_t)m->cfg.n_embd, F = (size_t)m->cfg.n_inner;

	if (n <= kv->cap)
		return;
	kv_scratch_free(kv);
	kv->cap = n;
	kv->x = alloc_floats(n * C);
	kv->a = alloc_floats(n * C);
	kv->qkv = alloc_floats(n * 3 * C);
	kv->y = alloc_floats(n * C);
	kv->tmp = alloc_floats(n * C);
	kv->f = alloc_floats(n * F);
	kv->g = alloc_floats(n * F);
	kv->mean = alloc_floats(n);
	kv->rstd = alloc_floats(n);
}

struct kv_att_ctx {
	const ft_gpt2 *m;
	ft_gpt2_kv *kv;
	int l, n;
	const int *row, *pos;
};

/* One (item, head) per unit: attention of a new token over its row. */
static void
kv_att_task(void *vc, int tid, int nt)
{
	struct kv_att_ctx *c = vc;
	ft_gpt2_kv *kv = c->kv;
	int C = c->m->cfg.n_embd, NH = c->m->cfg.n_head, hs = C / NH;
	float div = (float)sqrt((double)hs);
	size_t lo, hi;
	float *s = ft_malloc((size_t)kv->max_T * sizeof(float));

	ft_split((size_t)c->n * NH, tid, nt, &lo, &hi);
	for (size_t u = lo; u < hi; u++) {
		int i = (int)(u / NH), h = (int)(u % NH), P = c->pos[i] + 1;
		size_t base = (((size_t)c->l * kv->B + c->row[i]) * kv->max_T) * C +
		    (size_t)h * hs;
		const float *q = kv->qkv + (size_t)i * 3 * C + (size_t)h * hs;
		float *y = kv->y + (size_t)i * C + (size_t)h * hs;
		float mx = -INFINITY;
		double sum = 0;
		float inv;

		for (int t = 0; t < P; t++) {
			s[t] = ft_dot(q, kv->k + base + (size_t)t * C, hs) / div;
			mx = s[t] > mx ? s[t] : mx;
		}
		for (int t = 0; t < P; t++) {
			s[t] = ft_expf_fast(s[t] - mx);
			sum += s[t];
		}
		inv = (float)(1.0 / sum);
		memset(y, 0, (size_t)hs * sizeof(float));
		for (int t = 0; t < P; t++)
			ft_axpy(y, s[t] * inv, kv->v + base + (size_t)t * C, hs);
	}
	free(s);
}

/* Run n items (row, position, id) through the model, appending their keys
 * and values to the cache; logits of items with out[i] != NULL. */
static void
kv_run(ft_gpt2 *m, ft_gpt2_kv *kv, const int *row, const int *pos,
    const int32_t *ids, int n, float *const *out)
{
	const ft_gpt2_config *cf = &m->cfg;
	int L = cf->n_layer, C = cf->n_embd, F = cf->n_inner, th = m->threads;
	size_t NC = (size_t)n * C;
	float eps = (float)cf->layer_norm_epsilon;
	struct kv_att_ctx ac = { m, kv, 0, n, row, pos };

	kv_reserve(m, kv, (size_t)n);
	for (int i = 0; i < n; i++)
		add3(kv->x + (size_t)i * C, m->p.wte + (size_t)ids[i] * C,
		    m->p.wpe + (size_t)pos[i] * C, (size_t)C);
	for (int l = 0; l < L; l++) {
		const struct ft_gpt2_layer *w = &m->p.h[l];

		ft_layernorm_forward(kv->a, kv->mean, kv->rstd, kv->x, w->ln_1_w,
		    w->ln_1_b, n, C, eps, th);
		ft_matmul_forward(kv->qkv, kv->a, w->attn_w, w->attn_b, n, C, 3 * C);
		for (int i = 0; i < n; i++) {
			size_t at = (((size_t)l * kv->B + row[i]) * kv->max_T +
			    pos[i]) * C;
			memcpy(kv->k + at, kv->qkv + (size_t)i * 3 * C + C,
			    (size_t)C * sizeof(float));
			memcpy(kv->v + at, kv->qkv + (size_t)i * 3 * C + 2 * C,
			    (size_t)C * sizeof(float));
		}
		ac.l = l;
		ft_parallel(th, kv_att_task, &ac);
		ft_matmul_forward(kv->tmp, kv->y, w->attn_proj_w, w->attn_proj_b, n,
		    C, C);
		for (size_t j = 0; j < NC; j++)
			kv->x[j] += kv->tmp[j];
		ft_layernorm_forward(kv->a, kv->mean, kv->rstd, kv->x, w->ln_2_w,
		    w->ln_2_b, n, C, eps, th);
		ft_matmul_forward(kv->f, kv->a, w->fc_w, w->fc_b, n, C, F);
		ft_gelu_forward(kv->g, kv->f, (size_t)n * F, th);
		ft_matmul_forward(kv->tmp, kv->g, w->mlp_proj_w, w->mlp_proj_b, n,
		    F, C);
		for (size_t j = 0; j < NC; j++)
			kv->x[j] += kv->tmp[j];
	}
	ft_layernorm_forward(kv->a, kv->mean, kv->rstd, kv->x, m->p.ln_f_w,
	    m->p.ln_f_b, n, C, eps, th);
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
		/* logits[k,V] = a[k,C] · headᵀ (one row: sgemv; a few rows:
		 * each head row read once; neither packs the head) */
		if (k == 1)
			cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)V, C, 1.0f,
			    head_w(m), C, kv->a, 1, 0.0f, kv->logits, 1);
		else if (ft_matmul_small_ok(k))
			ft_matmul_rows_small(kv->logits, kv->a, head_w(m), k,
			    (int)V, C, th);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k,
			    (int)V, C, 1.0f, kv->a, C, head_w(m), C, 0.0f,
			    kv->logits, (int)V);
		k = 0;
		for (int i = 0; i < n; i++)
			if (out[i] != NULL)
				memcpy(out[i], kv->logits + (size_t)k++ * V,
				    V * sizeof(float));
	}
}

int
ft_gpt2_kv_prefill(ft_gpt2 *m, ft_gpt2_kv *kv, int b, const int32_t *ids,
    int n, float *logits)
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
ft_gpt2_decode_step(ft_gpt2 *m, ft_gpt2_kv *kv, const int32_t *ids,
    const uint8_t *active, float *logits)
{
	int n = 0, B = kv->B, *row, *pos;
	int32_t *id;
	float **out;
	int rc = 0;

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
	return rc;
}
