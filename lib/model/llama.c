/* llama — the Llama family as architectures of the decoder
 * (docs/hf-reference.md §16): LlamaForCausalLM (SmolLM/SmolLM2,
 * TinyLlama, Llama 2/3.x), MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM.  The
 * choices: RMSNorm, rotary positions (rope_theta, rope_scaling linear or
 * llama3), grouped-query attention with an explicit head_dim, SwiGLU MLP,
 * nn.Linear [out, in] weights, biases per model_type (Llama
 * attention_bias / mlp_bias, Qwen2 q/k/v, Qwen3 attention_bias), Qwen3's
 * per-head q_norm / k_norm, tied or untied head.
 *
 * What each model_type adds to Llama's config:
 *   mistral: sliding_window (refused when smaller than the context used),
 *            no biases;
 *   qwen2:   biases on q, k, v (not o); use_sliding_window true refused;
 *   qwen3:   q_norm, k_norm [head_dim]; use_sliding_window true refused. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "jsonl.h"
#include "model/arch.h"

enum { LLAMA, MISTRAL, QWEN2, QWEN3 };

static int
kind_of(const ft_model_config *c)
{
	return c->arch == &ft_arch_mistral ? MISTRAL :
	    c->arch == &ft_arch_qwen2 ? QWEN2 :
	    c->arch == &ft_arch_qwen3 ? QWEN3 : LLAMA;
}

/* The config class's defaults (LlamaConfig, MistralConfig, ...). */
static void
family_default(ft_model_config *c, int kind)
{
	const struct ft_arch *a = c->arch;

	memset(c, 0, sizeof(*c));
	c->arch = a;
	c->vocab_size = kind == QWEN2 || kind == QWEN3 ? 151936 : 32000;
	c->n_embd = 4096;
	c->n_inner = kind == MISTRAL ? 14336 : kind == LLAMA ? 11008 : 22016;
	c->n_layer = 32;
	c->n_head = 32;
	c->n_kv_head = kind == MISTRAL ? 8 : 0; /* 0: = n_head */
	c->head_dim = kind == QWEN3 ? 128 : 0;  /* 0: n_embd / n_head */
	c->n_positions = kind == MISTRAL ? 4096 * 32 :
	    kind == LLAMA ? 2048 : 32768;
	c->norm_eps = 1e-6;
	c->bos_token_id = kind == LLAMA || kind == MISTRAL ? 1 : -1;
	c->eos_token_id = kind == LLAMA || kind == MISTRAL ? 2 : -1;
	c->pad_token_id = -1;
	c->tie_word_embeddings = 0;
	c->rope_theta = 10000.0;
	c->rope_type = FT_ROPE_DEFAULT;
	c->norm = FT_NORM_RMS;
	c->mlp = FT_MLP_SWIGLU;
	c->pos = FT_POS_ROPE;
	c->linear = 1;
	c->qkv_bias = kind == QWEN2;
	c->qk_norm = kind == QWEN3;
	c->sliding_window = kind == MISTRAL ? 4096 : 0;
}

/* "key": 'value' is not supported, for string values. */
static int
refuse_str(const char *path, const char *key, const cJSON *v,
    const char *what)
{
	return ft_error("%s: \"%s\": %s%s%s is not supported%s", path, key,
	    cJSON_IsString(v) ? "'" : "", cJSON_IsString(v) ? v->valuestring :
	    "this value", cJSON_IsString(v) ? "'" : "", what);
}

/* rope_scaling, or transformers 5's rope_parameters (which also holds
 * rope_theta). */
static int
read_rope_scaling(ft_model_config *c, const cJSON *o, const char *path)
{
	const char *key = "rope_scaling";
	const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, key);
	const cJSON *t;
	double orig = -1, part = 1;

	if (ft_cfg_num(o, "partial_rotary_factor", &part, path) < 0)
		return -1;
	if (part != 1)
		return ft_error("%s: \"partial_rotary_factor\": %g is not "
		    "supported (1 only)", path, part);
	if (rs == NULL || cJSON_IsNull(rs)) {
		key = "rope_parameters";
		rs = cJSON_GetObjectItemCaseSensitive(o, key);
		if (cJSON_IsObject(rs) &&
		    ft_cfg_num(rs, "rope_theta", &c->rope_theta, path) < 0)
			return -1;
	}
	if (rs == NULL || cJSON_IsNull(rs))
		return 0;
	if (!cJSON_IsObject(rs))
		return ft_error("%s: \"%s\" must be an object or null", path,
		    key);
	t = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
	if (t == NULL)
		t = cJSON_GetObjectItemCaseSensitive(rs, "type");
	if (t == NULL || !cJSON_IsString(t))
		return ft_error("%s: \"%s\": no \"rope_type\"", path, key);
	if (strcmp(t->valuestring, "default") == 0)
		return 0;
	if (strcmp(t->valuestring, "linear") == 0)
		c->rope_type = FT_ROPE_LINEAR;
	else if (strcmp(t->valuestring, "llama3") == 0)
		c->rope_type = FT_ROPE_LLAMA3;
	else
		return refuse_str(path, strcmp(key, "rope_scaling") == 0 ?
		    "rope_scaling.rope_type" : "rope_parameters.rope_type", t,
		    " (default, linear or llama3)");
	c->rope_factor = 0;
	if (ft_cfg_num(rs, "factor", &c->rope_factor, path) < 0)
		return -1;
	if (!(c->rope_factor >= 1))
		return ft_error("%s: \"rope_scaling.factor\" must be >= 1", path);
	if (c->rope_type == FT_ROPE_LINEAR)
		return 0;
	c->rope_low = 1;
	c->rope_high = 4;
	if (ft_cfg_num(rs, "low_freq_factor", &c->rope_low, path) < 0 ||
	    ft_cfg_num(rs, "high_freq_factor", &c->rope_high, path) < 0 ||
	    ft_cfg_num(rs, "original_max_position_embeddings", &orig, path) < 0)
		return -1;
	if (!(orig >= 1) || orig != floor(orig))
		return ft_error("%s: \"rope_scaling.original_max_position_"
		    "embeddings\" must be a positive integer", path);
	if (!(c->rope_low > 0 && c->rope_high > c->rope_low))
		return ft_error("%s: \"rope_scaling\": high_freq_factor must "
		    "exceed low_freq_factor > 0", path);
	c->rope_orig = (int)orig;
	return 0;
}

static int
family_read(ft_model_config *c, const cJSON *o, const char *path)
{
	int kind = kind_of(c), swin = 0;
	const cJSON *it;

	family_default(c, kind);
	it = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
	if (it != NULL && !(cJSON_IsString(it) &&
	    strcmp(it->valuestring, "silu") == 0))
		return refuse_str(path, "hidden_act", it, " (silu only)");
	if (ft_cfg_int(o, "vocab_size", &c->vocab_size, path) < 0 ||
	    ft_cfg_int(o, "hidden_size", &c->n_embd, path) < 0 ||
	    ft_cfg_int(o, "intermediate_size", &c->n_inner, path) < 0 ||
	    ft_cfg_int(o, "num_hidden_layers", &c->n_layer, path) < 0 ||
	    ft_cfg_int(o, "num_attention_heads", &c->n_head, path) < 0 ||
	    ft_cfg_int(o, "num_key_value_heads", &c->n_kv_head, path) < 0 ||
	    ft_cfg_int(o, "head_dim", &c->head_dim, path) < 0 ||
	    ft_cfg_int(o, "max_position_embeddings", &c->n_positions, path) < 0 ||
	    ft_cfg_num(o, "rms_norm_eps", &c->norm_eps, path) < 0 ||
	    ft_cfg_token(o, "bos_token_id", &c->bos_token_id, path) < 0 ||
	    ft_cfg_token(o, "eos_token_id", &c->eos_token_id, path) < 0 ||
	    ft_cfg_int(o, "pad_token_id", &c->pad_token_id, path) < 0 ||
	    ft_cfg_bool(o, "tie_word_embeddings", &c->tie_word_embeddings,
	    path) < 0 ||
	    ft_cfg_num(o, "rope_theta", &c->rope_theta, path) < 0 ||
	    ft_cfg_num(o, "attention_dropout", &c->attn_pdrop, path) < 0)
		return -1;
	if (c->pad_token_id >= c->vocab_size)
		return ft_error("%s: \"pad_token_id\": %d is not below vocab_size "
		    "%d", path, c->pad_token_id, c->vocab_size);
	if (c->n_kv_head == 0)
		c->n_kv_head = c->n_head;
	if (c->head_dim == 0 && c->n_head > 0)
		c->head_dim = c->n_embd / c->n_head;
	if (kind == LLAMA || kind == QWEN3) {
		int ab = 0;
		if (ft_cfg_bool(o, "attention_bias", &ab, path) < 0)
			return -1;
		c->qkv_bias = c->o_bias = ab;
	}
	if (kind == LLAMA && ft_cfg_bool(o, "mlp_bias", &c->mlp_bias, path) < 0)
		return -1;
	if (kind == MISTRAL) {
		it = cJSON_GetObjectItemCaseSensitive(o, "sliding_window");
		if (it != NULL && cJSON_IsNull(it))
			c->sliding_window = 0;
		else if (ft_cfg_int(o, "sliding_window", &c->sliding_window,
		    path) < 0)
			return -1;
	}
	if (kind == QWEN2 || kind == QWEN3) {
		if (ft_cfg_bool(o, "use_sliding_window", &swin, path) < 0)
			return -1;
		if (swin)
			return ft_error("%s: \"use_sliding_window\": true is not "
			    "supported", path);
	}
	/* transformers 5 lists each layer's attention */
	it = cJSON_GetObjectItemCaseSensitive(o, "layer_types");
	if (cJSON_IsArray(it)) {
		const cJSON *x;
		cJSON_ArrayForEach(x, it)
			if (!cJSON_IsString(x) ||
			    strcmp(x->valuestring, "full_attention") != 0)
				return refuse_str(path, "layer_types", x,
				    " (full_attention only)");
	}
	if (read_rope_scaling(c, o, path) < 0)
		return -1;
	if (c->n_kv_head < 1 || c->n_head < 1 || c->n_head % c->n_kv_head != 0)
		return ft_error("%s: \"num_key_value_heads\": %d does not divide "
		    "num_attention_heads %d", path, c->n_kv_head, c->n_head);
	if (c->head_dim < 2 || c->head_dim % 2 != 0)
		return ft_error("%s: \"head_dim\": %d is not supported (rotary "
		    "needs an even size)", path, c->head_dim);
	return 0;
}

/* rope_scaling as transformers writes it (null for the default). */
static cJSON *
rope_scaling_json(const ft_model_config *c)
{
	cJSON *r;
	char b[32];

	if (c->rope_type == FT_ROPE_DEFAULT)
		return cJSON_CreateNull();
	r = cJSON_CreateObject();
	ft_pyfloat(b, sizeof b, c->rope_factor);
	cJSON_AddItemToObject(r, "factor", cJSON_CreateRaw(b));
	if (c->rope_type == FT_ROPE_LLAMA3) {
		ft_pyfloat(b, sizeof b, c->rope_high);
		cJSON_AddItemToObject(r, "high_freq_factor", cJSON_CreateRaw(b));
		ft_pyfloat(b, sizeof b, c->rope_low);
		cJSON_AddItemToObject(r, "low_freq_factor", cJSON_CreateRaw(b));
		cJSON_AddNumberToObject(r, "original_max_position_embeddings",
		    c->rope_orig);
	}
	cJSON_AddStringToObject(r, "rope_type", c->rope_type == FT_ROPE_LLAMA3 ?
	    "llama3" : "linear");
	return r;
}

static void
family_write(const ft_model_config *c, int untied, cJSON *o)
{
	int kind = kind_of(c);
	const char *arch[1] = { c->arch->architecture };

	ft_cfg_set(o, "architectures", cJSON_CreateStringArray(arch, 1));
	ft_cfg_set_str(o, "model_type", c->arch->model_type);
	ft_cfg_set_str(o, "hidden_act", "silu");
	ft_cfg_set_int(o, "hidden_size", c->n_embd);
	ft_cfg_set_int(o, "intermediate_size", c->n_inner);
	ft_cfg_set_int(o, "num_hidden_layers", c->n_layer);
	ft_cfg_set_int(o, "num_attention_heads", c->n_head);
	ft_cfg_set_int(o, "num_key_value_heads", c->n_kv_head);
	ft_cfg_set_int(o, "head_dim", c->head_dim);
	ft_cfg_set_int(o, "max_position_embeddings", c->n_positions);
	ft_cfg_set_int(o, "vocab_size", c->vocab_size);
	ft_cfg_set_float(o, "rms_norm_eps", c->norm_eps);
	ft_cfg_set_float(o, "rope_theta", c->rope_theta);
	ft_cfg_set_bool(o, "tie_word_embeddings", !untied);
	ft_cfg_set_str(o, "torch_dtype", "float32");
	if (kind == LLAMA || kind == QWEN3)
		ft_cfg_set_bool(o, "attention_bias", c->o_bias);
	if (kind == LLAMA)
		ft_cfg_set_bool(o, "mlp_bias", c->mlp_bias);
	if (c->bos_token_id >= 0)
		ft_cfg_default(o, "bos_token_id", cJSON_CreateNumber(c->bos_token_id));
	if (c->eos_token_id >= 0)
		ft_cfg_default(o, "eos_token_id", cJSON_CreateNumber(c->eos_token_id));
	if (c->pad_token_id >= 0)
		ft_cfg_default(o, "pad_token_id", cJSON_CreateNumber(c->pad_token_id));
	{
		char b[32];
		ft_pyfloat(b, sizeof b, c->attn_pdrop);
		ft_cfg_default(o, "attention_dropout", cJSON_CreateRaw(b));
	}
	ft_cfg_default(o, "initializer_range", cJSON_CreateRaw("0.02"));
	if (cJSON_GetObjectItemCaseSensitive(o, "rope_parameters") == NULL)
		ft_cfg_default(o, "rope_scaling", rope_scaling_json(c));
	ft_cfg_default(o, "use_cache", cJSON_CreateTrue());
	if (kind == MISTRAL)
		ft_cfg_default(o, "sliding_window", c->sliding_window > 0 ?
		    cJSON_CreateNumber(c->sliding_window) : cJSON_CreateNull());
	if (kind == QWEN2 || kind == QWEN3)
		ft_cfg_default(o, "use_sliding_window", cJSON_CreateFalse());
}

static void
family_layout(ft_model *m)
{
	const ft_model_config *c = &m->cfg;
	int64_t C = c->n_embd, F = c->n_inner, V = c->vocab_size;
	int64_t hd = c->head_dim, Q = (int64_t)c->n_head * hd;
	int64_t K = (int64_t)c->n_kv_head * hd;
	char n[96];

#define ADD(l, slot, nd, d0, d1, ...) do { \
	snprintf(n, sizeof n, __VA_ARGS__); \
	ft_model_add_tensor(m, n, l, slot, nd, d0, d1); } while (0)
	ADD(-1, SLOT_EMB, 2, V, C, "model.embed_tokens.weight");
	for (int l = 0; l < c->n_layer; l++) {
		const char *a = "self_attn", *p = "model.layers";
		ADD(l, SLOT_N1_W, 1, C, 0, "%s.%d.input_layernorm.weight", p, l);
		/* q, k, v adjacent: one [(H + 2 KV) hd, C] matrix */
		ADD(l, SLOT_QKV_W, 2, Q, C, "%s.%d.%s.q_proj.weight", p, l, a);
		ADD(l, SLOT_JOIN, 2, K, C, "%s.%d.%s.k_proj.weight", p, l, a);
		ADD(l, SLOT_JOIN, 2, K, C, "%s.%d.%s.v_proj.weight", p, l, a);
		if (c->qkv_bias) {
			ADD(l, SLOT_QKV_B, 1, Q, 0, "%s.%d.%s.q_proj.bias", p, l, a);
			ADD(l, SLOT_JOIN, 1, K, 0, "%s.%d.%s.k_proj.bias", p, l, a);
			ADD(l, SLOT_JOIN, 1, K, 0, "%s.%d.%s.v_proj.bias", p, l, a);
		}
		if (c->qk_norm) {
			ADD(l, SLOT_QN_W, 1, hd, 0, "%s.%d.%s.q_norm.weight", p, l, a);
			ADD(l, SLOT_KN_W, 1, hd, 0, "%s.%d.%s.k_norm.weight", p, l, a);
		}
		ADD(l, SLOT_O_W, 2, C, Q, "%s.%d.%s.o_proj.weight", p, l, a);
		if (c->o_bias)
			ADD(l, SLOT_O_B, 1, C, 0, "%s.%d.%s.o_proj.bias", p, l, a);
		ADD(l, SLOT_N2_W, 1, C, 0, "%s.%d.post_attention_layernorm.weight",
		    p, l);
		/* gate, up adjacent: one [2F, C] matrix */
		ADD(l, SLOT_UP_W, 2, F, C, "%s.%d.mlp.gate_proj.weight", p, l);
		ADD(l, SLOT_JOIN, 2, F, C, "%s.%d.mlp.up_proj.weight", p, l);
		if (c->mlp_bias) {
			ADD(l, SLOT_UP_B, 1, F, 0, "%s.%d.mlp.gate_proj.bias", p, l);
			ADD(l, SLOT_JOIN, 1, F, 0, "%s.%d.mlp.up_proj.bias", p, l);
		}
		ADD(l, SLOT_DOWN_W, 2, C, F, "%s.%d.mlp.down_proj.weight", p, l);
		if (c->mlp_bias)
			ADD(l, SLOT_DOWN_B, 1, C, 0, "%s.%d.mlp.down_proj.bias", p, l);
	}
	ADD(-1, SLOT_NF_W, 1, C, 0, "model.norm.weight");
	if (m->untied)
		ADD(-1, SLOT_HEAD, 2, V, C, "lm_head.weight");
#undef ADD
}

static int
family_ignored(const char *name)
{
	size_t n = strlen(name), k = strlen(".rotary_emb.inv_freq");

	return n >= k && strcmp(name + n - k, ".rotary_emb.inv_freq") == 0;
}

/* _init_weights: Linear and Embedding N(0, initializer_range 0.02),
 * biases 0, RMSNorm weights 1. */
static void
family_init(ft_model *m, uint64_t seed)
{
	uint64_t s = seed ^ 0x5eed5eed5eedULL;

	for (size_t i = 0; i < m->n_tensors; i++) {
		const ft_param_tensor *t = &m->tensors[i];
		float *x = m->params + t->off;
		size_t n = strlen(t->name);

		if (t->ndim == 2)
			ft_model_fill_normal(x, t->n, 0.02, &s);
		else if (n > 12 && strcmp(t->name + n - 12, "norm.weight") == 0)
			for (size_t j = 0; j < t->n; j++)
				x[j] = 1.0f;
		else
			memset(x, 0, t->n * sizeof(float));
		if (x == m->p.emb && m->cfg.pad_token_id >= 0) /* padding_idx */
			memset(x + (size_t)m->cfg.pad_token_id * m->cfg.n_embd, 0,
			    (size_t)m->cfg.n_embd * sizeof(float));
	}
}

static const struct preset {
	const char *name;
	const struct ft_arch *arch;
	int L, C, H, KV, hd, F, pos, V;
	double theta, eps;
} presets[] = {
	{ "llama-micro", &ft_arch_llama, 1, 32, 4, 2, 8, 64, 128, 0, 1e4, 1e-5 },
	{ "llama-tiny", &ft_arch_llama, 2, 128, 4, 2, 32, 352, 256, 0, 1e4, 1e-5 },
	/* SmolLM2-135M's shape (docs/hf-reference.md §16), vocabulary from the
	 * tokenizer */
	{ "smollm2-135m", &ft_arch_llama, 30, 576, 9, 3, 64, 1536, 8192, 0,
	  1e5, 1e-5 },
	/* Qwen3-0.6B's shape */
	{ "qwen3-0.6b", &ft_arch_qwen3, 28, 1024, 16, 8, 128, 3072, 40960, 0,
	  1e6, 1e-6 },
	/* Qwen3's choices at a tiny size: head_dim != hidden / heads */
	{ "qwen3-tiny", &ft_arch_qwen3, 2, 128, 4, 2, 48, 256, 256, 0, 1e6,
	  1e-6 },
};

static int
family_preset(const char *name, ft_model_config *c)
{
	for (size_t i = 0; i < sizeof presets / sizeof *presets; i++) {
		const struct preset *p = &presets[i];
		if (strcmp(name, p->name) != 0)
			continue;
		c->arch = p->arch;
		family_default(c, kind_of(c));
		c->n_layer = p->L;
		c->n_embd = p->C;
		c->n_head = p->H;
		c->n_kv_head = p->KV;
		c->head_dim = p->hd;
		c->n_inner = p->F;
		c->n_positions = p->pos;
		c->vocab_size = p->V;
		c->rope_theta = p->theta;
		c->norm_eps = p->eps;
		c->tie_word_embeddings = 1;
		return 0;
	}
	return -1;
}

#define FAMILY(var, type, archname) \
const struct ft_arch var = { \
	.model_type = type, \
	.architecture = archname, \
	.prefix = "", \
	.config_read = family_read, \
	.config_write = family_write, \
	.layout = family_layout, \
	.ignored = family_ignored, \
	.init = family_init, \
	.preset = family_preset, \
}
FAMILY(ft_arch_llama, "llama", "LlamaForCausalLM");
FAMILY(ft_arch_mistral, "mistral", "MistralForCausalLM");
FAMILY(ft_arch_qwen2, "qwen2", "Qwen2ForCausalLM");
FAMILY(ft_arch_qwen3, "qwen3", "Qwen3ForCausalLM");
