/* gpt2 — GPT2LMHeadModel as one architecture of the decoder
 * (docs/hf-reference.md §8, §10, §13): config.json keys, tensor names
 * ("transformer."-prefixed in files), init, presets.  The choices:
 * LayerNorm with bias, learned positions, gelu_new MLP, Conv1D [in, out]
 * weights with biases everywhere, tied head unless lm_head is stored. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "model/arch.h"

/* distilgpt2's values (n_layer 6; the rest as GPT-2 small). */
static void
gpt2_default(ft_model_config *c)
{
	memset(c, 0, sizeof(*c));
	c->arch = &ft_arch_gpt2;
	c->n_layer = 6;
	c->n_embd = 768;
	c->n_head = c->n_kv_head = 12;
	c->head_dim = 64;
	c->n_positions = 1024;
	c->vocab_size = 50257;
	c->n_inner = 3072;
	c->norm_eps = 1e-5;
	c->embd_pdrop = c->attn_pdrop = c->resid_pdrop = 0.1;
	c->bos_token_id = c->eos_token_id = 50256;
	c->pad_token_id = -1; /* GPT-2's wte has no padding_idx */
	c->tie_word_embeddings = 1;
	c->norm = FT_NORM_LAYER;
	c->mlp = FT_MLP_GELU;
	c->pos = FT_POS_LEARNED;
	c->linear = 0;
	c->qkv_bias = c->o_bias = c->mlp_bias = 1;
	c->resid_dropout = 1;
}

static int
gpt2_read(ft_model_config *c, const cJSON *o, const char *path)
{
	const cJSON *it;

	/* GPT2Config defaults */
	gpt2_default(c);
	c->n_layer = 12;
	c->n_inner = -1;
	it = cJSON_GetObjectItemCaseSensitive(o, "activation_function");
	if (it != NULL && !(cJSON_IsString(it) &&
	    (strcmp(it->valuestring, "gelu_new") == 0 ||
	    strcmp(it->valuestring, "gelu_pytorch_tanh") == 0)))
		return ft_error("%s: \"activation_function\": %s%s%s is not "
		    "supported (gelu_new only)", path,
		    cJSON_IsString(it) ? "'" : "",
		    cJSON_IsString(it) ? it->valuestring : "value",
		    cJSON_IsString(it) ? "'" : "");
	if (ft_cfg_want_bool(o, "scale_attn_by_inverse_layer_idx", 0, path) < 0 ||
	    ft_cfg_want_bool(o, "reorder_and_upcast_attn", 0, path) < 0 ||
	    ft_cfg_want_bool(o, "scale_attn_weights", 1, path) < 0 ||
	    ft_cfg_want_bool(o, "add_cross_attention", 0, path) < 0 ||
	    ft_cfg_want_bool(o, "is_encoder_decoder", 0, path) < 0 ||
	    ft_cfg_bool(o, "tie_word_embeddings", &c->tie_word_embeddings,
	    path) < 0)
		return -1;
	if (ft_cfg_int(o, "n_layer", &c->n_layer, path) < 0 ||
	    ft_cfg_int(o, "n_embd", &c->n_embd, path) < 0 ||
	    ft_cfg_int(o, "n_head", &c->n_head, path) < 0 ||
	    ft_cfg_int(o, "n_positions", &c->n_positions, path) < 0 ||
	    ft_cfg_int(o, "vocab_size", &c->vocab_size, path) < 0 ||
	    ft_cfg_int(o, "n_inner", &c->n_inner, path) < 0 ||
	    ft_cfg_int(o, "bos_token_id", &c->bos_token_id, path) < 0 ||
	    ft_cfg_int(o, "eos_token_id", &c->eos_token_id, path) < 0 ||
	    ft_cfg_num(o, "layer_norm_epsilon", &c->norm_eps, path) < 0 ||
	    ft_cfg_num(o, "embd_pdrop", &c->embd_pdrop, path) < 0 ||
	    ft_cfg_num(o, "attn_pdrop", &c->attn_pdrop, path) < 0 ||
	    ft_cfg_num(o, "resid_pdrop", &c->resid_pdrop, path) < 0)
		return -1;
	/* transformers: n_inner null -> 4 n_embd; 0 would build a 0-wide
	 * MLP */
	if (c->n_inner == 0)
		return ft_error("%s: \"n_inner\": 0 is not supported (null means "
		    "4 * n_embd)", path);
	if (c->n_inner < 0)
		c->n_inner = 4 * c->n_embd;
	if (c->n_head < 1 || c->n_embd % c->n_head != 0)
		return ft_error("%s: n_embd %d is not a multiple of n_head %d",
		    path, c->n_embd, c->n_head);
	c->n_kv_head = c->n_head;
	c->head_dim = c->n_embd / c->n_head;
	return 0;
}

/* All GPT2Config fields, as save_pretrained writes them. */
static void
gpt2_write(const ft_model_config *c, int untied, cJSON *o)
{
	const char *arch[1] = { "GPT2LMHeadModel" };

	ft_cfg_default(o, "activation_function", cJSON_CreateString("gelu_new"));
	ft_cfg_set(o, "architectures", cJSON_CreateStringArray(arch, 1));
	ft_cfg_set_float(o, "attn_pdrop", c->attn_pdrop);
	ft_cfg_set_int(o, "bos_token_id", c->bos_token_id);
	ft_cfg_set_float(o, "embd_pdrop", c->embd_pdrop);
	ft_cfg_set_int(o, "eos_token_id", c->eos_token_id);
	ft_cfg_default(o, "initializer_range", cJSON_CreateRaw("0.02"));
	ft_cfg_set_float(o, "layer_norm_epsilon", c->norm_eps);
	ft_cfg_set_str(o, "model_type", "gpt2");
	ft_cfg_set_int(o, "n_ctx", c->n_positions);
	ft_cfg_set_int(o, "n_embd", c->n_embd);
	ft_cfg_set_int(o, "n_head", c->n_head);
	ft_cfg_set_int(o, "n_inner", c->n_inner);
	ft_cfg_set_int(o, "n_layer", c->n_layer);
	ft_cfg_set_int(o, "n_positions", c->n_positions);
	ft_cfg_set_bool(o, "reorder_and_upcast_attn", 0);
	ft_cfg_set_float(o, "resid_pdrop", c->resid_pdrop);
	ft_cfg_set_bool(o, "scale_attn_by_inverse_layer_idx", 0);
	ft_cfg_set_bool(o, "scale_attn_weights", 1);
	ft_cfg_default(o, "summary_activation", cJSON_CreateNull());
	ft_cfg_default(o, "summary_first_dropout", cJSON_CreateRaw("0.1"));
	ft_cfg_default(o, "summary_proj_to_labels", cJSON_CreateTrue());
	ft_cfg_default(o, "summary_type", cJSON_CreateString("cls_index"));
	ft_cfg_default(o, "summary_use_proj", cJSON_CreateTrue());
	if (untied || cJSON_GetObjectItemCaseSensitive(o,
	    "tie_word_embeddings") != NULL)
		ft_cfg_set_bool(o, "tie_word_embeddings", !untied);
	ft_cfg_set_str(o, "torch_dtype", "float32");
	ft_cfg_default(o, "use_cache", cJSON_CreateTrue());
	ft_cfg_set_int(o, "vocab_size", c->vocab_size);
}

static void
gpt2_layout(ft_model *m)
{
	const ft_model_config *c = &m->cfg;
	int64_t C = c->n_embd, F = c->n_inner, V = c->vocab_size;
	char name[64];
	static const char *nm[12] = { "ln_1.weight", "ln_1.bias",
	    "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
	    "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight",
	    "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias" };
	static const int slot[12] = { SLOT_N1_W, SLOT_N1_B, SLOT_QKV_W,
	    SLOT_QKV_B, SLOT_O_W, SLOT_O_B, SLOT_N2_W, SLOT_N2_B, SLOT_UP_W,
	    SLOT_UP_B, SLOT_DOWN_W, SLOT_DOWN_B };

	ft_model_add_tensor(m, "wte.weight", -1, SLOT_EMB, 2, V, C);
	ft_model_add_tensor(m, "wpe.weight", -1, SLOT_POS, 2, c->n_positions, C);
	for (int l = 0; l < c->n_layer; l++) {
		int64_t d0[12] = { C, C, C, 3 * C, C, C, C, C, C, F, F, C };
		int64_t d1[12] = { 0, 0, 3 * C, 0, C, 0, 0, 0, F, 0, C, 0 };
		for (int k = 0; k < 12; k++) {
			snprintf(name, sizeof(name), "h.%d.%s", l, nm[k]);
			ft_model_add_tensor(m, name, l, slot[k], d1[k] ? 2 : 1, d0[k],
			    d1[k]);
		}
	}
	ft_model_add_tensor(m, "ln_f.weight", -1, SLOT_NF_W, 1, C, 0);
	ft_model_add_tensor(m, "ln_f.bias", -1, SLOT_NF_B, 1, C, 0);
	if (m->untied) /* decayed: the Trainer excludes only biases and LN */
		ft_model_add_tensor(m, "lm_head.weight", -1, SLOT_HEAD, 2, V, C);
}

static int
ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* the causal-mask buffers some files keep */
static int
gpt2_ignored(const char *name)
{
	return ends_with(name, ".attn.bias") || ends_with(name, ".attn.masked_bias");
}

/* GPT2PreTrainedModel._init_weights: Linear/Conv1D and embeddings
 * N(0, 0.02), c_proj weights N(0, 0.02/sqrt(2*n_layer)), biases 0,
 * LayerNorm weight 1, bias 0. */
static void
gpt2_init(ft_model *m, uint64_t seed)
{
	uint64_t s = seed ^ 0x5eed5eed5eedULL;
	double proj = 0.02 / sqrt(2.0 * m->cfg.n_layer);

	for (size_t i = 0; i < m->n_tensors; i++) {
		const ft_param_tensor *t = &m->tensors[i];
		float *x = m->params + t->off;
		const char *nm = t->name;

		if (strstr(nm, "ln_") != NULL) {
			float v = ends_with(nm, "weight") ? 1.0f : 0.0f;
			for (size_t j = 0; j < t->n; j++)
				x[j] = v;
		} else if (ends_with(nm, "bias")) {
			memset(x, 0, t->n * sizeof(float));
		} else if (strstr(nm, "c_proj.weight") != NULL) {
			ft_model_fill_normal(x, t->n, proj, &s);
		} else {
			ft_model_fill_normal(x, t->n, 0.02, &s);
		}
	}
}

static const struct preset {
	const char *name;
	int n_layer, n_embd, n_head, n_positions;
} presets[] = {
	{ "gpt2-micro", 1, 32, 2, 128 },
	{ "gpt2-tiny", 2, 128, 4, 256 },
	{ "gpt2-mini", 4, 256, 4, 512 },
	{ "distilgpt2", 6, 768, 12, 1024 },
	{ "gpt2", 12, 768, 12, 1024 },
};

static int
gpt2_preset(const char *name, ft_model_config *c)
{
	for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
		if (strcmp(name, presets[i].name) == 0) {
			gpt2_default(c);
			c->n_layer = presets[i].n_layer;
			c->n_embd = presets[i].n_embd;
			c->n_head = c->n_kv_head = presets[i].n_head;
			c->head_dim = c->n_embd / c->n_head;
			c->n_positions = presets[i].n_positions;
			c->n_inner = 4 * c->n_embd;
			c->vocab_size = 0;
			return 0;
		}
	return -1;
}

const struct ft_arch ft_arch_gpt2 = {
	.model_type = "gpt2",
	.architecture = "GPT2LMHeadModel",
	.prefix = "transformer.",
	.config_read = gpt2_read,
	.config_write = gpt2_write,
	.layout = gpt2_layout,
	.ignored = gpt2_ignored,
	.init = gpt2_init,
	.preset = gpt2_preset,
};
