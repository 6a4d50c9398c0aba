/* lora — LoRA adapters on the decoder's linear layers, in PEFT's format
 * (docs/hf-reference.md §18).
 *
 * For a targeted linear layer with weight W:
 *	y = x·W (+b) + (dropout(x)·Aᵀ)·Bᵀ · s
 * A [r, in], B [out, r]; s = lora_alpha / r, or lora_alpha / √r with
 * use_rslora.  Init as PEFT: A ~ U(±1/√in) (kaiming_uniform_, a = √5)
 * from ft's generator, B = 0.  Attached to a model (ft_lora_attach) the
 * adapters take part in every forward, backward and KV-cache decode of
 * the decoder through small hooks at its linear-layer call sites; the
 * base weights are frozen (m->frozen: no gradient slab, no weight
 * gradients), and ft_model_trainable() hands the trainer the adapters'
 * slab and tensor table (PEFT names, all decayed) instead of the base's.
 *
 * Modules, as Hugging Face names them (PEFT matches a target_modules
 * entry T against a module name M when M == T or M ends with "." T):
 *   GPT-2:  transformer.h.N.attn.c_attn, .attn.c_proj, .mlp.c_fc,
 *           .mlp.c_proj  (Conv1D: fan_in_fan_out)
 *   Llama family: model.layers.N.self_attn.{q,k,v,o}_proj,
 *           model.layers.N.mlp.{gate,up,down}_proj
 * "all-linear" targets all of them (never the output head).  Default
 * targets (PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING):
 * c_attn for gpt2, q_proj,v_proj for llama, mistral, qwen2, qwen3.
 *
 * Files (an adapter directory, loadable by PeftModel.from_pretrained):
 *   adapter_config.json        PEFT's LoraConfig keys (sorted, indent 2)
 *   adapter_model.safetensors  base_model.model.MODULE.lora_A.weight
 *                              [r, in] and .lora_B.weight [out, r], F32
 *
 * Errors: 0 or -1 after one message naming the file, key or tensor. */
#ifndef FT_MODEL_LORA_H
#define FT_MODEL_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* The call sites of the block (the fused matrices of model.h). */
enum { FT_LORA_QKV, FT_LORA_O, FT_LORA_UP, FT_LORA_DOWN, FT_LORA_SITES };

typedef struct ft_lora_opts {
	int r;                  /* rank >= 1 */
	double alpha;           /* lora_alpha (PEFT's default 8) */
	double dropout;         /* lora_dropout, [0, 1) */
	int rslora;             /* use_rslora */
	const char *targets;    /* comma-separated names, "all-linear", or
	                         * NULL: the architecture's default */
	const char *base;       /* base_model_name_or_path to record */
} ft_lora_opts;

struct ft_lora_mod {
	char *name;             /* module path, e.g. transformer.h.0.attn.c_attn */
	char *weight;           /* the base tensor (model table name) */
	int layer, site;
	int in, out, col;       /* col: first output column in the site's
	                         * (fused) output row */
	size_t a, b;            /* offsets of A and B in the slab */
};

typedef struct ft_lora {
	int r;
	double alpha, dropout, scale;
	int rslora, fan_in_fan_out;
	char **targets;         /* as given (sorted, unique) */
	size_t n_targets;
	int all_linear;
	char *base;             /* base_model_name_or_path */
	struct ft_lora_mod *mods;
	size_t n_mods;
	size_t n_params;
	float *params, *grads;  /* one slab each */
	ft_param_tensor *tensors; /* A and B of each module (PEFT names) */
	size_t n_tensors;
	/* private: saved x·Aᵀ per module for the backward, scratch */
	float *u;
	size_t cap_N;
	float *xd, *t1, *t2;
	size_t cap_x;
} ft_lora;

/* Default target_modules of m's architecture, comma-separated. */
const char *ft_lora_default_targets(const ft_model *m);

/* Build adapters for m as opts say (A random from seed, B zero), attach
 * them (m->lora, m->frozen set).  Refuses a target that matches no module
 * of the model, naming it.  0 or -1. */
int ft_lora_new(ft_model *m, const ft_lora_opts *opts, uint64_t seed);

/* Load an adapter directory (adapter_config.json and
 * adapter_model.safetensors) for m and attach it.  Every key ft does not
 * implement (peft_type other than LORA, use_dora, lora_bias, bias other
 * than none, modules_to_save, exclude_modules, rank_pattern and
 * alpha_pattern, layers_to_transform, fan_in_fan_out true on nn.Linear
 * layers) is refused naming it; tensors checked by name and shape,
 * missing and unexpected ones named.  0 or -1. */
int ft_lora_load(ft_model *m, const char *dir);

/* Read only base_model_name_or_path of DIR/adapter_config.json
 * (malloc'd), or NULL after a message. */
char *ft_lora_base_of(const char *dir);

/* Nonzero when DIR holds an adapter_config.json. */
int ft_lora_is_adapter_dir(const char *dir);

/* Load what a tool's -m names: a model directory, or an adapter
 * directory on the base it names (base_model_name_or_path, a directory or
 * a Hub id, resolved through lib/modeldir); then the adapter directory
 * `adapter` when not NULL (on a model, not on another adapter).  *base
 * gets the base model's directory (malloc'd).  0 or -1 (m released). */
int ft_lora_load_model(ft_model *m, const char *dir, const char *adapter,
    char **base);

/* Write dir/adapter_config.json and dir/adapter_model.safetensors
 * (atomically, dir created).  0 or -1. */
int ft_lora_save(const ft_model *m, const char *dir);

/* Merge the adapters into the base weights (W += s·B·A, transposed for
 * Conv1D) and detach them: m becomes a plain model. */
void ft_lora_merge(ft_model *m);

/* Detach and free m's adapters (m->frozen cleared). */
void ft_lora_release(ft_model *m);

/* One line describing the adapters (targets, r, alpha, trainable
 * parameters and their share of the model's) into buf. */
void ft_lora_describe(const ft_model *m, char *buf, size_t n);

/* ---- hooks called by decoder.c ---- */

/* out[N, ld] (columns col..col+out of each adapter of (layer, site)) +=
 * s·(dropout(inp)·Aᵀ)·Bᵀ, inp [N, in].  save: keep inp·Aᵀ for the
 * backward (a training forward); drop: apply lora_dropout with the
 * model's dropout seed and this counter. */
void ft_lora_forward(ft_model *m, int layer, int site, float *out, int ld,
    const float *inp, int N, int save, int drop, uint64_t counter);
/* Backward of ft_lora_forward for the same forward: gradients of A and
 * B accumulated; dinp[N, in] += the input gradient; dout [N, ld]. */
void ft_lora_backward(ft_model *m, int layer, int site, float *dinp,
    const float *dout, int ld, const float *inp, int N, int drop,
    uint64_t counter);
/* Zero the adapters' gradients (allocating them). */
void ft_lora_zero_grad(ft_lora *lo);

#endif
