/* lora — see lora.h.  The adapters of one (layer, site) add their low-rank
 * product to the columns of the site's output they belong to (q, k, v of
 * the fused qkv matrix; gate, up of gate|up), so the block in decoder.c
 * keeps its fused matrices and calls one hook per linear layer. */
#include <cblas.h>
#include <cJSON.h>
#include <oniguruma.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "io.h"
#include "jsonl.h"
#include "kernels.h"
#include "model/arch.h"
#include "model/lora.h"
#include "model/mixed.h"
#include "modeldir.h"
#include "rng.h"
#include "safetensors.h"

#define LORA_STREAM 0x4c6f5241u         /* "LoRA": A's init stream */
#define LORA_SITE (1ull << 40)          /* dropout sites: + module index */
#define ALIGN 16

/* The linear layers of a block, per architecture. */
struct mod_def {
	const char *suffix;     /* within the layer */
	int site;
	char in, out, col;      /* 'C' hidden, 'A' H hd, 'K' KV hd, 'F',
	                         * 'S' (H + 2 KV) hd; col: 0, 'A', 'B' (A +
	                         * KV hd), 'F' */
};
static const struct mod_def gpt2_mods[] = {
	{ "attn.c_attn", FT_LORA_QKV, 'C', 'S', 0 },
	{ "attn.c_proj", FT_LORA_O, 'A', 'C', 0 },
	{ "mlp.c_fc", FT_LORA_UP, 'C', 'F', 0 },
	{ "mlp.c_proj", FT_LORA_DOWN, 'F', 'C', 0 },
};
static const struct mod_def llama_mods[] = {
	{ "self_attn.q_proj", FT_LORA_QKV, 'C', 'A', 0 },
	{ "self_attn.k_proj", FT_LORA_QKV, 'C', 'K', 'A' },
	{ "self_attn.v_proj", FT_LORA_QKV, 'C', 'K', 'B' },
	{ "self_attn.o_proj", FT_LORA_O, 'A', 'C', 0 },
	{ "mlp.gate_proj", FT_LORA_UP, 'C', 'F', 0 },
	{ "mlp.up_proj", FT_LORA_UP, 'C', 'F', 'F' },
	{ "mlp.down_proj", FT_LORA_DOWN, 'F', 'C', 0 },
};

static int
is_gpt2(const ft_model *m)
{
	return !m->cfg.linear;
}

static int
dim(const ft_model *m, char c)
{
	const ft_model_config *k = &m->cfg;

	switch (c) {
	case 'C': return k->n_embd;
	case 'A': return k->n_head * k->head_dim;
	case 'K': return k->n_kv_head * k->head_dim;
	case 'B': return (k->n_head + k->n_kv_head) * k->head_dim;
	case 'F': return k->n_inner;
	case 'S': return (k->n_head + 2 * k->n_kv_head) * k->head_dim;
	}
	return 0;
}

const char *
ft_lora_default_targets(const ft_model *m)
{
	return is_gpt2(m) ? "c_attn" : "q_proj,v_proj";
}

/* ---- target matching (peft check_target_module_exists) ---- */

static int
ends_with_dot(const char *name, const char *t)
{
	size_t a = strlen(name), b = strlen(t);

	return strcmp(name, t) == 0 || (a > b && name[a - b - 1] == '.' &&
	    strcmp(name + a - b, t) == 0);
}

struct targets {
	char **list;            /* names, or NULL with regex / all */
	size_t n;
	int all;
	int is_re;
	OnigRegex re;           /* a string: matched against the whole name */
	char *re_src;
};

static int
target_match(const struct targets *t, const char *module)
{
	if (t->all)
		return 1;
	if (t->is_re) {
		const OnigUChar *s = (const OnigUChar *)module;
		const OnigUChar *e = s + strlen(module);
		return onig_search(t->re, s, e, s, e, NULL, ONIG_OPTION_NONE) >= 0;
	}
	for (size_t i = 0; i < t->n; i++)
		if (ends_with_dot(module, t->list[i]))
			return 1;
	return 0;
}

static void
targets_free(struct targets *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->list[i]);
	free(t->list);
	if (t->is_re)
		onig_free(t->re);
	free(t->re_src);
	memset(t, 0, sizeof(*t));
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
targets_add(struct targets *t, const char *s, size_t n)
{
	char *x = ft_malloc(n + 1);

	memcpy(x, s, n);
	x[n] = '\0';
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->list[i], x) == 0) {
			free(x);
			return;
		}
	t->list = ft_realloc(t->list, (t->n + 1) * sizeof(*t->list));
	t->list[t->n++] = x;
}

/* ---- building the adapter table ---- */

static void
mod_defs(const ft_model *m, const struct mod_def **d, size_t *n)
{
	if (is_gpt2(m)) {
		*d = gpt2_mods;
		*n = sizeof(gpt2_mods) / sizeof(*gpt2_mods);
	} else {
		*d = llama_mods;
		*n = sizeof(llama_mods) / sizeof(*llama_mods);
	}
}

static char *
module_name(const ft_model *m, int l, const char *suffix)
{
	return is_gpt2(m) ? ft_asprintf("transformer.h.%d.%s", l, suffix) :
	    ft_asprintf("model.layers.%d.%s", l, suffix);
}

static char *
peft_name(const char *module, char ab)
{
	return ft_asprintf("base_model.model.%s.lora_%c.weight", module, ab);
}

/* Lay out the adapters of every matched module; refuse targets that
 * match nothing.  The slab is allocated zeroed. */
static int
build(ft_model *m, ft_lora *lo, const struct targets *t, const char *what)
{
	const struct mod_def *d;
	size_t nd, off = 0;
	int *hit = NULL;

	mod_defs(m, &d, &nd);
	if (t->n > 0)
		hit = ft_calloc(t->n, sizeof(int));
	for (int l = 0; l < m->cfg.n_layer; l++)
		for (size_t k = 0; k < nd; k++) {
			char *name = module_name(m, l, d[k].suffix);
			struct ft_lora_mod *x;
			if (!target_match(t, name)) {
				free(name);
				continue;
			}
			for (size_t i = 0; i < t->n; i++)
				hit[i] |= ends_with_dot(name, t->list[i]);
			lo->mods = ft_realloc(lo->mods, (lo->n_mods + 1) *
			    sizeof(*lo->mods));
			x = &lo->mods[lo->n_mods++];
			x->name = name;
			x->weight = ft_asprintf("%s.weight", is_gpt2(m) ?
			    name + strlen("transformer.") : name);
			x->layer = l;
			x->site = d[k].site;
			x->in = dim(m, d[k].in);
			x->out = dim(m, d[k].out);
			x->col = d[k].col ? dim(m, d[k].col) : 0;
			x->a = off;
			off += ((size_t)lo->r * x->in + ALIGN - 1) / ALIGN * ALIGN;
			x->b = off;
			off += ((size_t)x->out * lo->r + ALIGN - 1) / ALIGN * ALIGN;
		}
	for (size_t i = 0; i < t->n; i++)
		if (!hit[i]) {
			free(hit);
			return ft_error("%s: target module '%s' matches no linear "
			    "layer of the model (%s)", what, t->list[i],
			    is_gpt2(m) ? "c_attn, c_proj, c_fc" : "q_proj, k_proj, "
			    "v_proj, o_proj, gate_proj, up_proj, down_proj");
		}
	free(hit);
	if (lo->n_mods == 0)
		return ft_error("%s: the target modules match no linear layer",
		    what);
	lo->n_params = off;
	lo->params = ft_calloc(off, sizeof(float));
	lo->n_tensors = 2 * lo->n_mods;
	lo->tensors = ft_calloc(lo->n_tensors, sizeof(*lo->tensors));
	for (size_t i = 0; i < lo->n_mods; i++) {
		const struct ft_lora_mod *x = &lo->mods[i];
		ft_param_tensor *a = &lo->tensors[2 * i], *b = a + 1;
		a->name = peft_name(x->name, 'A');
		a->off = x->a;
		a->ndim = 2;
		a->shape[0] = lo->r;
		a->shape[1] = x->in;
		a->n = (size_t)lo->r * x->in;
		a->decay = 1;
		b->name = peft_name(x->name, 'B');
		b->off = x->b;
		b->ndim = 2;
		b->shape[0] = x->out;
		b->shape[1] = lo->r;
		b->n = (size_t)x->out * lo->r;
		b->decay = 1;
	}
	/* the names as PEFT saves them: the distinct last components (or the
	 * regex as given) */
	if (t->is_re) {
		lo->targets = ft_calloc(1, sizeof(char *));
		lo->targets[0] = ft_strdup(t->re_src);
		lo->n_targets = 1;
		lo->all_linear = -1;    /* a string, not a list */
	} else {
		struct targets u = { 0 };
		if (t->all) {
			for (size_t i = 0; i < lo->n_mods; i++) {
				const char *dot = strrchr(lo->mods[i].name, '.');
				targets_add(&u, dot + 1, strlen(dot + 1));
			}
		} else {
			for (size_t i = 0; i < t->n; i++)
				targets_add(&u, t->list[i], strlen(t->list[i]));
		}
		qsort(u.list, u.n, sizeof(*u.list), str_cmp);
		lo->targets = u.list;
		lo->n_targets = u.n;
	}
	return 0;
}

static void
set_scale(ft_lora *lo)
{
	lo->scale = lo->rslora ? lo->alpha / sqrt((double)lo->r) :
	    lo->alpha / lo->r;
}

static void
lora_free(ft_lora *lo)
{
	if (lo == NULL)
		return;
	for (size_t i = 0; i < lo->n_mods; i++) {
		free(lo->mods[i].name);
		free(lo->mods[i].weight);
	}
	for (size_t i = 0; i < lo->n_tensors; i++)
		free((char *)lo->tensors[i].name);
	for (size_t i = 0; i < lo->n_targets; i++)
		free(lo->targets[i]);
	free(lo->targets);
	free(lo->base);
	free(lo->mods);
	free(lo->tensors);
	free(lo->params);
	free(lo->grads);
	free(lo->u);
	free(lo->xd);
	free(lo->t1);
	free(lo->t2);
	free(lo);
}

void
ft_lora_release(ft_model *m)
{
	lora_free(m->lora);
	m->lora = NULL;
	m->frozen = 0;
}

static void
attach(ft_model *m, ft_lora *lo)
{
	ft_lora_release(m);
	m->lora = lo;
	m->frozen = 1;
	free(m->grads);         /* the base trains no more */
	m->grads = NULL;
}

int
ft_lora_new(ft_model *m, const ft_lora_opts *o, uint64_t seed)
{
	ft_lora *lo = ft_calloc(1, sizeof(*lo));
	struct targets t = { 0 };
	const char *s = o->targets != NULL ? o->targets :
	    ft_lora_default_targets(m);
	struct ft_rng g;

	if (o->r < 1)
		return lora_free(lo), ft_error("--lora-r must be >= 1");
	lo->r = o->r;
	lo->alpha = o->alpha;
	lo->dropout = o->dropout;
	lo->rslora = o->rslora != 0;
	lo->fan_in_fan_out = is_gpt2(m);
	lo->base = ft_strdup(o->base != NULL ? o->base : "");
	set_scale(lo);
	if (strcmp(s, "all-linear") == 0) {
		t.all = 1;
	} else {
		while (*s != '\0') {
			size_t n = strcspn(s, ",");
			if (n == 0) {
				targets_free(&t);
				lora_free(lo);
				return ft_error("--lora-targets: empty module name");
			}
			targets_add(&t, s, n);
			s += n + (s[n] == ',');
		}
	}
	if (build(m, lo, &t, "--lora-targets") < 0) {
		targets_free(&t);
		lora_free(lo);
		return -1;
	}
	targets_free(&t);
	/* kaiming_uniform_(a = sqrt(5)) on [r, in]: U(-1/sqrt(in), 1/sqrt(in));
	 * B stays zero */
	ft_rng_seed(&g, seed, LORA_STREAM);
	for (size_t i = 0; i < lo->n_mods; i++) {
		const struct ft_lora_mod *x = &lo->mods[i];
		double bound = 1.0 / sqrt((double)x->in);
		float *A = lo->params + x->a;
		for (size_t k = 0; k < (size_t)lo->r * x->in; k++)
			A[k] = (float)((2.0 * ft_rng_double(&g) - 1.0) * bound);
	}
	attach(m, lo);
	return 0;
}

/* ---- files ---- */

int
ft_lora_is_adapter_dir(const char *dir)
{
	char *p = ft_path_join(dir, "adapter_config.json");
	int r = ft_exists(p);

	free(p);
	return r;
}

char *
ft_lora_base_of(const char *dir)
{
	char *p = ft_path_join(dir, "adapter_config.json");
	cJSON *o = ft_json_load(p);
	const cJSON *b;
	char *r = NULL;

	if (o == NULL) {
		free(p);
		return NULL;
	}
	b = cJSON_GetObjectItemCaseSensitive(o, "base_model_name_or_path");
	if (cJSON_IsString(b) && b->valuestring[0] != '\0')
		r = ft_strdup(b->valuestring);
	else
		ft_error("%s: no \"base_model_name_or_path\"; name the base "
		    "model with -m", p);
	cJSON_Delete(o);
	free(p);
	return r;
}

/* Keys of a PEFT LoraConfig that must have their default value here. */
static int
want_default(const cJSON *o, const char *path)
{
	static const char *const nulls[] = { "modules_to_save",
		"layers_to_transform", "layers_pattern", "layer_replication",
		"megatron_config", "exclude_modules", "trainable_token_indices",
		"target_parameters" };
	static const char *const empties[] = { "rank_pattern",
		"alpha_pattern" };
	const cJSON *it;

	for (size_t i = 0; i < sizeof(nulls) / sizeof(*nulls); i++) {
		it = cJSON_GetObjectItemCaseSensitive(o, nulls[i]);
		if (it != NULL && !cJSON_IsNull(it))
			return ft_error("%s: \"%s\" is not supported (must be null)",
			    path, nulls[i]);
	}
	for (size_t i = 0; i < sizeof(empties) / sizeof(*empties); i++) {
		it = cJSON_GetObjectItemCaseSensitive(o, empties[i]);
		if (it != NULL && !cJSON_IsNull(it) &&
		    !(cJSON_IsObject(it) && it->child == NULL))
			return ft_error("%s: \"%s\" is not supported (must be "
			    "empty)", path, empties[i]);
	}
	it = cJSON_GetObjectItemCaseSensitive(o, "use_dora");
	if (cJSON_IsTrue(it))
		return ft_error("%s: \"use_dora\": true is not supported", path);
	it = cJSON_GetObjectItemCaseSensitive(o, "lora_bias");
	if (cJSON_IsTrue(it))
		return ft_error("%s: \"lora_bias\": true is not supported", path);
	it = cJSON_GetObjectItemCaseSensitive(o, "bias");
	if (it != NULL && !(cJSON_IsString(it) &&
	    strcmp(it->valuestring, "none") == 0))
		return ft_error("%s: \"bias\" other than \"none\" is not "
		    "supported", path);
	return 0;
}

static int
parse_config(const ft_model *m, ft_lora *lo, struct targets *t,
    const char *path)
{
	cJSON *o = ft_json_load(path);
	const cJSON *it;
	double r = 0;
	int fifo = -1, rc = -1;

	if (o == NULL)
		return -1;
	it = cJSON_GetObjectItemCaseSensitive(o, "peft_type");
	if (!cJSON_IsString(it) || strcmp(it->valuestring, "LORA") != 0) {
		ft_error("%s: \"peft_type\" is not \"LORA\"", path);
		goto out;
	}
	if (want_default(o, path) < 0)
		goto out;
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "r"))) {
		ft_error("%s: missing number \"r\"", path);
		goto out;
	}
	if (ft_cfg_num(o, "r", &r, path) < 0)
		goto out;
	if (r < 1 || r > 1 << 20 || r != floor(r)) {
		ft_error("%s: \"r\": %g is not a positive integer", path, r);
		goto out;
	}
	lo->r = (int)r;
	lo->alpha = 8;
	lo->dropout = 0;
	if (ft_cfg_num(o, "lora_alpha", &lo->alpha, path) < 0 ||
	    ft_cfg_num(o, "lora_dropout", &lo->dropout, path) < 0 ||
	    ft_cfg_bool(o, "use_rslora", &lo->rslora, path) < 0 ||
	    ft_cfg_bool(o, "fan_in_fan_out", &fifo, path) < 0)
		goto out;
	if (!(lo->dropout >= 0 && lo->dropout < 1)) {
		ft_error("%s: \"lora_dropout\" must be in [0, 1)", path);
		goto out;
	}
	/* PEFT sets fan_in_fan_out itself for Conv1D (with a warning);
	 * a Linear layer with it would be transposed */
	if (fifo == 1 && !is_gpt2(m)) {
		ft_error("%s: \"fan_in_fan_out\": true, but the model's layers "
		    "are nn.Linear", path);
		goto out;
	}
	lo->fan_in_fan_out = is_gpt2(m);
	it = cJSON_GetObjectItemCaseSensitive(o, "target_modules");
	if (cJSON_IsString(it)) {
		if (strcmp(it->valuestring, "all-linear") == 0) {
			t->all = 1;
		} else {
			/* a string is a regex matched against the whole name
			 * (Python's re.fullmatch) */
			static int inited;
			char *re = ft_asprintf("\\A(?:%s)\\z", it->valuestring);
			OnigErrorInfo ei;
			int e;
			if (!inited) {
				OnigEncoding enc[1] = { ONIG_ENCODING_UTF8 };
				onig_initialize(enc, 1);
				inited = 1;
			}
			e = onig_new(&t->re, (const OnigUChar *)re,
			    (const OnigUChar *)re + strlen(re), ONIG_OPTION_NONE,
			    ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &ei);
			free(re);
			if (e != ONIG_NORMAL) {
				ft_error("%s: \"target_modules\": bad regular "
				    "expression", path);
				goto out;
			}
			t->is_re = 1;
			t->re_src = ft_strdup(it->valuestring);
		}
	} else if (cJSON_IsArray(it) && it->child != NULL) {
		const cJSON *c;
		cJSON_ArrayForEach(c, it) {
			if (!cJSON_IsString(c) || c->valuestring[0] == '\0') {
				ft_error("%s: \"target_modules\": not a list of "
				    "names", path);
				goto out;
			}
			targets_add(t, c->valuestring, strlen(c->valuestring));
		}
	} else {
		ft_error("%s: missing \"target_modules\"", path);
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(o, "base_model_name_or_path");
	lo->base = ft_strdup(cJSON_IsString(it) ? it->valuestring : "");
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}

int
ft_lora_load(ft_model *m, const char *dir)
{
	ft_lora *lo = ft_calloc(1, sizeof(*lo));
	struct targets t = { 0 };
	char *cp = ft_path_join(dir, "adapter_config.json");
	char *wp = ft_path_join(dir, "adapter_model.safetensors");
	ft_st_file f;
	int rc = -1, opened = 0;

	if (parse_config(m, lo, &t, cp) < 0 || build(m, lo, &t, cp) < 0)
		goto out;
	set_scale(lo);
	if (ft_st_open(&f, wp) < 0)
		goto out;
	opened = 1;
	for (size_t i = 0; i < f.n; i++) {
		int known = 0;
		for (size_t j = 0; !known && j < lo->n_tensors; j++)
			known = strcmp(f.tensors[i].name, lo->tensors[j].name) == 0;
		if (!known) {
			ft_error("%s: unexpected tensor '%s' (not an adapter of "
			    "the target modules)", wp, f.tensors[i].name);
			goto out;
		}
	}
	for (size_t j = 0; j < lo->n_tensors; j++) {
		const ft_param_tensor *p = &lo->tensors[j];
		const ft_st_tensor *x = ft_st_find(&f, p->name);
		if (x == NULL) {
			ft_error("%s: missing tensor '%s'", wp, p->name);
			goto out;
		}
		if (x->ndim != 2 || x->shape[0] != p->shape[0] ||
		    x->shape[1] != p->shape[1]) {
			ft_error("%s: tensor '%s': expected shape [%lld, %lld]", wp,
			    p->name, (long long)p->shape[0], (long long)p->shape[1]);
			goto out;
		}
		if (ft_st_read_f32(&f, x, lo->params + p->off) < 0)
			goto out;
		for (size_t k = 0; k < p->n; k++)
			if (!isfinite(lo->params[p->off + k])) {
				ft_error("%s: tensor '%s' holds a non-finite value", wp,
				    p->name);
				goto out;
			}
	}
	rc = 0;
out:
	if (opened)
		ft_st_close(&f);
	targets_free(&t);
	free(cp);
	free(wp);
	if (rc == 0)
		attach(m, lo);
	else
		lora_free(lo);
	return rc;
}

int
ft_lora_load_model(ft_model *m, const char *dir, const char *adapter,
    char **base)
{
	char *b = NULL;

	*base = NULL;
	if (ft_lora_is_adapter_dir(dir)) {
		char *name;
		if (adapter != NULL)
			return ft_error("'%s' is an adapter; --adapter needs a "
			    "model", dir);
		if ((name = ft_lora_base_of(dir)) == NULL)
			return -1;
		b = ft_model_resolve(name);
		free(name);
		if (b == NULL)
			return -1;
		adapter = dir;
	} else {
		b = ft_strdup(dir);
	}
	if (ft_model_load(m, b) < 0) {
		free(b);
		return -1;
	}
	if (adapter != NULL && ft_lora_load(m, adapter) < 0) {
		ft_model_release(m);
		free(b);
		return -1;
	}
	*base = b;
	return 0;
}

static cJSON *
pyfloat(double x)
{
	char num[40];

	ft_pyfloat(num, sizeof(num), x);
	return cJSON_CreateRaw(num);
}

static cJSON *
config_json(const ft_lora *lo)
{
	cJSON *o = cJSON_CreateObject(), *tm;

	cJSON_AddItemToObject(o, "alpha_pattern", cJSON_CreateObject());
	cJSON_AddNullToObject(o, "auto_mapping");
	cJSON_AddStringToObject(o, "base_model_name_or_path", lo->base);
	cJSON_AddStringToObject(o, "bias", "none");
	cJSON_AddBoolToObject(o, "fan_in_fan_out", lo->fan_in_fan_out);
	cJSON_AddBoolToObject(o, "inference_mode", 1);
	cJSON_AddBoolToObject(o, "init_lora_weights", 1);
	cJSON_AddNullToObject(o, "layer_replication");
	cJSON_AddNullToObject(o, "layers_pattern");
	cJSON_AddNullToObject(o, "layers_to_transform");
	cJSON_AddItemToObject(o, "loftq_config", cJSON_CreateObject());
	/* an integral alpha is an int in PEFT's files */
	if (lo->alpha == floor(lo->alpha) && fabs(lo->alpha) < 1e15)
		cJSON_AddNumberToObject(o, "lora_alpha", lo->alpha);
	else
		cJSON_AddItemToObject(o, "lora_alpha", pyfloat(lo->alpha));
	cJSON_AddItemToObject(o, "lora_dropout", pyfloat(lo->dropout));
	cJSON_AddNullToObject(o, "megatron_config");
	cJSON_AddStringToObject(o, "megatron_core", "megatron.core");
	cJSON_AddNullToObject(o, "modules_to_save");
	cJSON_AddStringToObject(o, "peft_type", "LORA");
	cJSON_AddNumberToObject(o, "r", lo->r);
	cJSON_AddItemToObject(o, "rank_pattern", cJSON_CreateObject());
	cJSON_AddNullToObject(o, "revision");
	if (lo->all_linear == -1) {
		tm = cJSON_CreateString(lo->targets[0]);
	} else {
		tm = cJSON_CreateArray();
		for (size_t i = 0; i < lo->n_targets; i++)
			cJSON_AddItemToArray(tm, cJSON_CreateString(lo->targets[i]));
	}
	cJSON_AddItemToObject(o, "target_modules", tm);
	cJSON_AddStringToObject(o, "task_type", "CAUSAL_LM");
	cJSON_AddBoolToObject(o, "use_dora", 0);
	cJSON_AddBoolToObject(o, "use_rslora", lo->rslora);
	return o;
}

int
ft_lora_save(const ft_model *m, const char *dir)
{
	const ft_lora *lo = m->lora;
	ft_st_entry *e;
	const char *mk[1] = { "format" }, *mv[1] = { "pt" };
	cJSON *o;
	ft_atomic a;
	char *p;
	int rc;

	if (ft_mkdir_p(dir, 0777) < 0)
		return -1;
	p = ft_path_join(dir, "adapter_config.json");
	if (ft_atomic_open(&a, p) < 0) {
		free(p);
		return -1;
	}
	o = config_json(lo);
	ft_json_put_pretty(a.fp, o);
	fputc('\n', a.fp);
	cJSON_Delete(o);
	free(p);
	if (ft_atomic_commit(&a) < 0)
		return -1;
	e = ft_calloc(lo->n_tensors, sizeof(*e));
	for (size_t i = 0; i < lo->n_tensors; i++) {
		e[i].name = lo->tensors[i].name;
		e[i].dtype = FT_F32;
		e[i].ndim = 2;
		e[i].shape = lo->tensors[i].shape;
		e[i].data = lo->params + lo->tensors[i].off;
	}
	p = ft_path_join(dir, "adapter_model.safetensors");
	rc = ft_st_write(p, e, lo->n_tensors, mk, mv, 1);
	free(p);
	free(e);
	return rc;
}

/* ---- merge ---- */

void
ft_lora_merge(ft_model *m)
{
	const ft_lora *lo = m->lora;

	if (lo == NULL)
		return;
	for (size_t i = 0; i < lo->n_mods; i++) {
		const struct ft_lora_mod *x = &lo->mods[i];
		const float *A = lo->params + x->a, *B = lo->params + x->b;
		float *W = NULL;
		int r = lo->r;

		for (size_t k = 0; k < m->n_tensors; k++)
			if (strcmp(m->tensors[k].name, x->weight) == 0)
				W = m->params + m->tensors[k].off;
		if (W == NULL)
			ft_die("lora merge: no tensor '%s'", x->weight);
		/* delta[o][i] = s * sum_k B[o][k] A[k][i]; Linear W [out, in],
		 * Conv1D W [in, out] */
		for (int o = 0; o < x->out; o++)
			for (int c = 0; c < x->in; c++) {
				float d = 0;
				for (int k = 0; k < r; k++)
					d += B[(size_t)o * r + k] * A[(size_t)k * x->in + c];
				d *= (float)lo->scale;
				if (is_gpt2(m))
					W[(size_t)c * x->out + o] += d;
				else
					W[(size_t)o * x->in + c] += d;
			}
	}
	ft_lora_release(m);
}

/* ---- trainer view ---- */

void
ft_model_trainable(ft_model *m, float **params, float **grads, size_t *n,
    const ft_param_tensor **t, size_t *nt)
{
	if (m->lora != NULL) {
		*params = m->lora->params;
		*grads = m->lora->grads;
		*n = m->lora->n_params;
		*t = m->lora->tensors;
		*nt = m->lora->n_tensors;
		return;
	}
	*params = m->params;
	*grads = m->grads;
	*n = m->n_params;
	*t = m->tensors;
	*nt = m->n_tensors;
}

void
ft_lora_describe(const ft_model *m, char *buf, size_t n)
{
	const ft_lora *lo = m->lora;
	size_t k = 0, trained = 0;
	char tg[256];

	tg[0] = '\0';
	for (size_t i = 0; i < lo->n_targets; i++)
		k += (size_t)snprintf(tg + (k < sizeof(tg) ? k : sizeof(tg)),
		    k < sizeof(tg) ? sizeof(tg) - k : 0, "%s%s", i ? "," : "",
		    lo->targets[i]);
	for (size_t i = 0; i < lo->n_tensors; i++)
		trained += lo->tensors[i].n;
	snprintf(buf, n, "LoRA r %d, alpha %g (scale %.4g%s), dropout %g, "
	    "targets %s: %zu modules, %zu trainable parameters (%.3g%% of "
	    "%zu)", lo->r, lo->alpha, lo->scale, lo->rslora ? ", rslora" : "",
	    lo->dropout, tg, lo->n_mods, trained,
	    100.0 * (double)trained / (double)(m->n_params + trained),
	    m->n_params + trained);
}

/* ---- hooks ---- */

static void
reserve(ft_lora *lo, size_t N, int save)
{
	size_t w = 0;

	for (size_t i = 0; i < lo->n_mods; i++) {
		if ((size_t)lo->mods[i].in > w)
			w = (size_t)lo->mods[i].in;
		if ((size_t)lo->mods[i].out > w)
			w = (size_t)lo->mods[i].out;
	}
	if (N * (w > (size_t)lo->r ? w : (size_t)lo->r) > lo->cap_x) {
		lo->cap_x = N * (w > (size_t)lo->r ? w : (size_t)lo->r);
		free(lo->xd);
		free(lo->t1);
		free(lo->t2);
		lo->xd = ft_malloc(lo->cap_x * sizeof(float));
		lo->t1 = ft_malloc(lo->cap_x * sizeof(float));
		lo->t2 = ft_malloc(lo->cap_x * sizeof(float));
	}
	if (save && N > lo->cap_N) {
		free(lo->u);
		lo->u = ft_malloc(N * lo->n_mods * (size_t)lo->r * sizeof(float));
		lo->cap_N = N;
	}
}

static uint64_t
mod_key(const ft_model *m, size_t i, uint64_t counter)
{
	return ft_drop_key(m->dropout_seed, counter, LORA_SITE + i);
}

void
ft_lora_forward(ft_model *m, int layer, int site, float *out, int ld,
    const float *inp, int N, int save, int drop, uint64_t counter)
{
	ft_lora *lo = m->lora;
	int r = lo->r;

	for (size_t i = 0; i < lo->n_mods; i++) {
		const struct ft_lora_mod *x = &lo->mods[i];
		const float *xin = inp;
		float *u;

		if (x->layer != layer || x->site != site)
			continue;
		reserve(lo, (size_t)N, save);
		u = save ? lo->u + i * lo->cap_N * r : lo->t1;
		if (drop && lo->dropout > 0) {
			ft_dropout_to(lo->xd, inp, (size_t)N * x->in, lo->dropout,
			    mod_key(m, i, counter), 0, m->threads);
			xin = lo->xd;
		}
		if (ft_mx_on(m)) {
			/* under autocast lora_A and lora_B are bf16 products too:
			 * u = x16 · A16ᵀ, then s · (u16 · B16ᵀ) added in fp32 */
			const float *B = lo->params + x->b;
			float s = (float)lo->scale, *t = lo->t2;

			ft_mx_ext_fwd(m, u, xin, lo->params + x->a, N, x->in, r);
			ft_mx_ext_fwd(m, t, u, B, N, r, x->out);
			for (int n = 0; n < N; n++) {
				float *y = out + (size_t)n * ld + x->col;
				const float *tn = t + (size_t)n * x->out;
				for (int o = 0; o < x->out; o++)
					y[o] += s * tn[o];
			}
			continue;
		}
		/* u[N,r] = x[N,in] · Aᵀ;  out[:, col..] += s · u · Bᵀ */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, r, x->in,
		    1.0f, xin, x->in, lo->params + x->a, x->in, 0.0f, u, r);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, x->out, r,
		    (float)lo->scale, u, r, lo->params + x->b, r, 1.0f,
		    out + x->col, ld);
	}
}

void
ft_lora_zero_grad(ft_lora *lo)
{
	if (lo->grads == NULL)
		lo->grads = ft_malloc(lo->n_params * sizeof(float));
	memset(lo->grads, 0, lo->n_params * sizeof(float));
}

void
ft_lora_backward(ft_model *m, int layer, int site, float *dinp,
    const float *dout, int ld, const float *inp, int N, int drop,
    uint64_t counter)
{
	ft_lora *lo = m->lora;
	int r = lo->r;

	if (lo->grads == NULL)
		ft_lora_zero_grad(lo);
	reserve(lo, (size_t)N, 0);
	for (size_t i = 0; i < lo->n_mods; i++) {
		const struct ft_lora_mod *x = &lo->mods[i];
		const float *xin = inp, *u = lo->u + i * lo->cap_N * r;
		float *gs = lo->t1, *du = lo->xd;
		int dr = drop && lo->dropout > 0;
		float s = (float)lo->scale;

		if (x->layer != layer || x->site != site)
			continue;
		if (ft_mx_on(m)) {
			/* bf16 products as the forward's: gs = s · dy (the
			 * backward of "* scaling"); dB += gsᵀ·u, du = gs·B;
			 * dA += duᵀ·x, dx += du·A */
			const float *A = lo->params + x->a;

			for (int n = 0; n < N; n++) {
				const float *dy = dout + (size_t)n * ld + x->col;
				float *g = gs + (size_t)n * x->out;
				for (int o = 0; o < x->out; o++)
					g[o] = dy[o] * s;
			}
			ft_mx_ext_bwd(m, du, 0, lo->grads + x->b, gs, u,
			    lo->params + x->b, N, r, x->out);
			if (dr) {
				ft_dropout_to(gs, inp, (size_t)N * x->in, lo->dropout,
				    mod_key(m, i, counter), 0, m->threads);
				xin = gs;
			}
			ft_mx_ext_bwd(m, dinp == NULL ? NULL : dr ? lo->t2 : dinp, !dr,
			    lo->grads + x->a, du, xin, A, N, x->in, r);
			if (dinp != NULL && dr)
				ft_dropout_to(dinp, lo->t2, (size_t)N * x->in,
				    lo->dropout, mod_key(m, i, counter), 1, m->threads);
			continue;
		}
		/* dB[out,r] += s · dyᵀ · u;  du[N,r] = s · dy · B (the scaling's
		 * backward in the products' alpha) */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, x->out, r, N,
		    s, dout + x->col, ld, u, r, 1.0f, lo->grads + x->b, r);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, r,
		    x->out, s, dout + x->col, ld, lo->params + x->b, r, 0.0f, du, r);
		/* the input of A: x, or dropout(x) recomputed from its key */
		if (dr) {
			ft_dropout_to(gs, inp, (size_t)N * x->in, lo->dropout,
			    mod_key(m, i, counter), 0, m->threads);
			xin = gs;
		}
		/* dA[r,in] += duᵀ · x */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, x->in, N,
		    1.0f, du, r, xin, x->in, 1.0f, lo->grads + x->a, x->in);
		if (dinp == NULL)
			continue;
		/* dx[N,in] += du · A, through the dropout mask */
		if (!dr) {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N,
			    x->in, r, 1.0f, du, r, lo->params + x->a, x->in, 1.0f,
			    dinp, x->in);
			continue;
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, x->in,
		    r, 1.0f, du, r, lo->params + x->a, x->in, 0.0f, gs, x->in);
		ft_dropout_to(dinp, gs, (size_t)N * x->in, lo->dropout,
		    mod_key(m, i, counter), 1, m->threads);
	}
}
