/* model — one decoder-only transformer for every supported architecture
 * (docs/hf-reference.md §8, §10, §11, §16): config, one parameter slab
 * with named views, one gradient slab, forward with masked cross-entropy, backward,
 * and KV-cache decoding.  The block is written once (decoder.c) and is
 * parametrised by what the families differ in (ft_model_config's
 * choices); each architecture (gpt2.c, llama.c) maps config.json to those
 * choices and back, names the tensors as Hugging Face does and knows its
 * init.  Callers see only this interface.
 *
 * Supported: model_type gpt2 (GPT2LMHeadModel), llama (LlamaForCausalLM:
 * SmolLM/SmolLM2, TinyLlama, Llama 2/3.x), mistral (without a sliding
 * window smaller than the context used), qwen2, qwen3.
 *
 * All floats are fp32.  Weights keep the layout of the files: Conv1D
 * [in, out] for GPT-2, nn.Linear [out, in] for the Llama family.  q, k, v
 * (and gate, up) are adjacent in the slab, so they are multiplied as one
 * matrix.  The output projection is tied to the token embedding unless a
 * distinct lm_head.weight exists.
 *
 * Typical training use:
 *	struct ft_model m;
 *	if (ft_model_load(&m, dir) < 0) ...        (or ft_model_new + init_random)
 *	ft_model_set_threads(&m, nthreads);
 *	ft_model_set_dropout_seed(&m, seed);
 *	m.training = 1;
 *	ft_model_zero_grad(&m);
 *	loss = ft_model_forward(&m, ids, mask, targets, B, T);
 *	ft_model_backward(&m, 1.0 / m.n_targets);
 *	norm = ft_clip_grad_norm(m.grads, m.n_params, 1.0, m.threads);
 *	ft_adamw_step(&opt, m.params, m.grads, lr, tensors, ntensors);
 *
 * Errors: functions returning int give 0 or -1 after one message naming
 * the file, tensor or config key (ft_error).  Allocation failures die.
 *
 * LoRA adapters (model/lora.h) attach to a model (m->lora): they take part
 * in every forward, backward and decode through hooks at the block's
 * linear layers, the base is then frozen (m->frozen: no gradient slab),
 * and ft_model_trainable() names what a trainer updates.
 *
 * Threads: m->threads workers (ft_model_set_threads) for the library's
 * own kernels and for OpenBLAS.  One model is used by one thread at a
 * time.  Same inputs, seed and thread count give bit-identical results.
 * FT_PROFILE=1 (or FT_GPT2_PROFILE=1) in the environment prints the time
 * spent per kernel family on stderr when the model is released. */
#ifndef FT_MODEL_H
#define FT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "optim.h"
#include "quant.h"

struct ft_arch;                         /* lib/model/arch.h */

enum { FT_NORM_LAYER, FT_NORM_RMS };    /* LayerNorm with bias / RMSNorm */
enum { FT_MLP_GELU, FT_MLP_SWIGLU };    /* gelu_new fc->proj / silu gate*up->down */
enum { FT_POS_LEARNED, FT_POS_ROPE };   /* wpe / rotary */
enum { FT_ROPE_DEFAULT, FT_ROPE_LINEAR, FT_ROPE_LLAMA3 }; /* rope_scaling */

typedef struct ft_model_config {
	const struct ft_arch *arch;     /* NULL: GPT-2 */
	int n_layer;        /* num_hidden_layers / n_layer */
	int n_embd;         /* C: hidden_size / n_embd */
	int n_head;         /* H: query heads */
	int n_kv_head;      /* KV: key/value heads, H % KV == 0 */
	int head_dim;       /* hd; GPT-2: C / H */
	int n_positions;    /* max T: max_position_embeddings / n_positions */
	int vocab_size;     /* V */
	int n_inner;        /* F: intermediate_size / n_inner */
	double norm_eps;    /* layer_norm_epsilon / rms_norm_eps */
	double embd_pdrop, attn_pdrop, resid_pdrop; /* GPT-2 0.1; Llama
	                                 * attention_dropout, others 0 */
	int bos_token_id, eos_token_id; /* -1 when absent; a list: its first */
	int pad_token_id;   /* Llama family: nn.Embedding's padding_idx (its
	                     * row gets no lookup gradient); -1 none */
	int tie_word_embeddings;        /* 1: lm_head = embedding */

	/* the choices the block is parametrised by */
	int norm;           /* FT_NORM_* */
	int mlp;            /* FT_MLP_* */
	int pos;            /* FT_POS_* */
	int linear;         /* 1: weights [out, in] (Linear), 0: [in, out] (Conv1D) */
	int qkv_bias;       /* biases on q, k, v */
	int o_bias;         /* bias on the attention output projection */
	int mlp_bias;       /* biases on the MLP matrices */
	int qk_norm;        /* RMSNorm over hd on q and k before rotary (Qwen3) */
	double rope_theta;  /* rotary base */
	int rope_type;      /* FT_ROPE_* */
	double rope_factor, rope_low, rope_high; /* scaling factor; llama3
	                                 * low/high_freq_factor */
	int rope_orig;      /* llama3 original_max_position_embeddings */
	int sliding_window; /* Mistral: 0 none; else forward refuses T > it */
	int resid_dropout;  /* 1: embedding and residual dropout exist (GPT-2) */
} ft_model_config;

/* Architecture presets for training from scratch (--init NAME): gpt2-micro,
 * gpt2-tiny, gpt2-mini, distilgpt2, gpt2, llama-micro, llama-tiny,
 * smollm2-135m, qwen3-tiny, qwen3-0.6b.  vocab_size 0 (take it from the
 * tokenizer).
 * 0, or -1 if name is not a preset (no message). */
int ft_model_preset(const char *name, ft_model_config *c);
/* Their names, comma-separated (for --help). */
const char *ft_model_preset_names(void);

/* config.json's "model_type" of c's architecture ("gpt2", "llama" ...). */
const char *ft_model_type(const ft_model_config *c);

/* Read config.json: model_type picks the architecture (absent: gpt2);
 * missing keys take that config class's defaults; values this engine
 * does not implement are refused with one line naming key and value.
 * 0 or -1. */
int ft_model_config_load(ft_model_config *c, const char *path);

/* Write config.json as save_pretrained does (sorted keys, 2-space indent,
 * "architectures", "torch_dtype": "float32"), keeping every key of the
 * config the model was loaded from (ft_model_load), atomically.  0/-1. */
struct ft_model;
int ft_model_config_save(const struct ft_model *m, const char *path);

/* Named views into a parameter (or gradient) slab.  NULL where the
 * architecture has no such tensor. */
struct ft_layer {
	float *n1_w, *n1_b;     /* ln_1 / input_layernorm [C] (bias: LN only) */
	float *qkv_w, *qkv_b;   /* c_attn [C, 3C] or q|k|v_proj [(H+2KV)hd, C] */
	float *qn_w, *kn_w;     /* q_norm, k_norm [hd] (Qwen3) */
	float *o_w, *o_b;       /* attn.c_proj [C, C] or o_proj [C, H hd] */
	float *n2_w, *n2_b;     /* ln_2 / post_attention_layernorm [C] */
	float *up_w, *up_b;     /* mlp.c_fc [C, F] or gate|up_proj [2F, C] */
	float *down_w, *down_b; /* mlp.c_proj [F, C] or down_proj [C, F] */
};
struct ft_views {
	float *emb;             /* wte / embed_tokens [V, C] */
	float *pos;             /* wpe [n_positions, C], or NULL (rotary) */
	struct ft_layer *h;     /* [n_layer] */
	float *nf_w, *nf_b;     /* ln_f / model.norm [C] */
	float *head;            /* lm_head [V, C] when untied, else NULL */
};

struct ft_model_acts;                   /* private: activations */
struct cJSON;

typedef struct ft_model {
	ft_model_config cfg;
	size_t n_params;                /* floats in params (and grads) */
	float *params;                  /* one slab */
	float *grads;                   /* same layout; NULL until needed */
	struct ft_views p, g;           /* views into params and grads */
	ft_param_tensor *tensors;       /* every tensor (HF names), slab order */
	size_t n_tensors;
	int untied;                     /* lm_head is a separate tensor */
	struct cJSON *src_config;       /* config.json it was loaded from */

	int threads;                    /* kernel and BLAS threads, >= 1 */
	int training;                   /* 1: dropout on (set by the caller) */
	uint64_t dropout_seed;          /* dropout masks: counter-based RNG */
	uint64_t dropout_counter;       /* +1 per training forward; save it
	                                 * to resume with identical masks */
	double embd_pdrop, attn_pdrop, resid_pdrop; /* from cfg; overridable */
	int skip_ignored_logits;        /* 1: a forward with targets computes
	                                 * logits only for positions whose target
	                                 * is not -100 (same loss and gradients,
	                                 * less work on padded batches); then
	                                 * ft_model_logits() holds just those
	                                 * rows, in order.  Default 0. */

	/* Results of the last forward: */
	double loss_sum;                /* sum of CE over counted targets */
	int64_t n_targets;              /* targets != -100 */
	int B, T;                       /* shape of the last forward */

	struct ft_lora *lora;           /* LoRA adapters (model/lora.h) or NULL */
	int frozen;                     /* 1: the base weights get no gradients
	                                 * (no slab; backward computes only
	                                 * input gradients and the adapters') */

	float *rope_cos, *rope_sin;     /* [rope_n, hd/2] tables */
	int rope_n;
	struct ft_model_acts *acts;     /* private */
	int *t_layer, *t_slot;          /* private: view of each tensor */
	struct ft_model_bf16 *bf16;     /* private: NULL unless bf16 is on */
	struct ft_model_q *quant;       /* private: ft_model_quantize */
	int save_bf16;                  /* 1: ft_model_save writes BF16 tensors
	                                 * (rounded to nearest even) and
	                                 * config.json "torch_dtype":
	                                 * "bfloat16" (--save-dtype bf16) */
} ft_model;

/* Allocate a model for cfg (parameters zeroed, no gradients).  Validates
 * the config.  untied: give it its own lm_head tensor.  0 or -1. */
int ft_model_new(ft_model *m, const ft_model_config *cfg, int untied);
/* Free everything (m may be zeroed memory). */
void ft_model_release(ft_model *m);

/* Random init as the architecture's _init_weights in transformers
 * (GPT-2: N(0, 0.02), c_proj N(0, 0.02/sqrt(2 n_layer)); Llama family:
 * N(0, initializer_range 0.02); biases 0, norm weights 1).  Deterministic
 * in seed (not torch's stream). */
void ft_model_init_random(ft_model *m, uint64_t seed);

/* Load a model directory: config.json, then model.safetensors or the
 * shards listed by model.safetensors.index.json.  Every tensor checked by
 * name, dtype (F32/F16/BF16 converted) and shape, and for finite values;
 * missing and unexpected tensors named.  GPT-2: names with or without
 * "transformer."; attn.bias / attn.masked_bias ignored.  lm_head.weight
 * absent or equal to the embedding -> tied, else untied; a config with
 * tie_word_embeddings false expects lm_head.weight.  0 or -1 (m then
 * released). */
int ft_model_load(ft_model *m, const char *dir);
/* Load only weights into an allocated model from a .safetensors file or a
 * model.safetensors.index.json (same checks as ft_model_load).  If the
 * file has an lm_head.weight different from the embedding, m becomes
 * untied (its slab is reallocated; gradients dropped).  0 or -1. */
int ft_model_load_weights(ft_model *m, const char *path);

/* Write the weights as one safetensors file (atomically): F32 (BF16 with
 * m->save_bf16), the
 * architecture's HF names (GPT-2: "transformer."-prefixed), no lm_head
 * when tied, metadata {"format":"pt"}.  0 or -1. */
int ft_model_save(const ft_model *m, const char *path);
/* Write dir/config.json and dir/model.safetensors (dir created).  0/-1. */
int ft_model_save_dir(const ft_model *m, const char *dir);

/* Threads for the kernels and for OpenBLAS (>= 1). */
void ft_model_set_threads(ft_model *m, int threads);
/* Set every dropout probability the architecture has (GPT-2: embedding,
 * attention and residuals; the Llama family: attention_dropout only). */
void ft_model_set_dropout(ft_model *m, double p);
/* Seed the dropout generator and reset its counter. */
void ft_model_set_dropout_seed(ft_model *m, uint64_t seed);

/* Mixed precision (ft-train --bf16; docs/hf-reference.md §19): on, the matrix
 * products of forward and backward (linear layers, the head, attention's
 * two products) take bf16 inputs and accumulate in fp32 (lib/bf16,
 * oneDNN), as torch.autocast("cpu", dtype=torch.bfloat16); norms,
 * softmax, activations, dropout and the loss stay fp32, and so do the
 * parameters and gradients.  A bf16 copy of the parameters is made before
 * the next forward; call ft_model_params_changed after changing
 * m->params (an optimizer step) so it is refreshed.  KV-cache decoding
 * stays fp32.  0; or -1 after a message when bf16 matmuls cannot run
 * here (ft_bf16_init).  Off (the default): fp32, bit-exact as without. */
int ft_model_set_bf16(ft_model *m, int on);
void ft_model_params_changed(ft_model *m);

/* Decoding with 16- or 8-bit weights (ft-sample --dtype; lib/quant):
 * every layer's projections (q|k|v, o, up, down) and the head become
 * ft_qmat of type t (FT_Q_BF16 or FT_Q_Q8_0), and the fp32 copies of
 * those matrices are released (their pages returned to the system; a
 * tied embedding is then looked up in the quantised head), so the model
 * holds about half (bf16) or 0.28x (int8) of its fp32 bytes.  Norms,
 * biases, a learned position table and an untied embedding stay fp32.
 * Forward passes of up to 16 rows (decode steps, a batch of samples) run
 * ft_qmat_mul on the stored weights; longer ones (prompts, eval batches)
 * dequantise a few rows at a time into scratch for sgemm: the same
 * weights, summed in another order.  Afterwards the model is for
 * forward passes only: ft_model_backward, ft_model_save and a second
 * ft_model_quantize refuse (die / -1).  0, or -1 after a message. */
int ft_model_quantize(ft_model *m, ft_qtype t);

/* Forward pass over a batch.
 *   ids      [B, T]  token ids (0 <= id < V; padding ids must be valid too)
 *   mask     [B, T]  attention mask (1 real, 0 padding), or NULL (all 1).
 *            Padded keys get no attention, as HF adds (1-mask)*finfo.min;
 *            use right padding (every row's first position real).
 *   targets  [B, T]  the token each position predicts, ALREADY SHIFTED:
 *            targets[b][t] = labels[b][t+1] in HF terms (the last position
 *            -100); -100 = ignored.  NULL: no loss (eval logits only).
 *   positions are 0..T-1 for every row (as HF with right padding).
 * B*T may vary between calls; buffers grow as needed.  Dropout applies when
 * m->training is set and the probabilities are > 0.
 * Returns the mean CE over targets != -100 (loss_sum / n_targets; NAN when
 * there are none or targets is NULL; NAN with n_targets = -1 after a
 * message naming the position when the shape, an id or a target is out of
 * range).  Logits stay available through ft_model_logits() until the next
 * forward or backward. */
float ft_model_forward(ft_model *m, const int32_t *ids, const uint8_t *mask,
    const int32_t *targets, int B, int T);
/* Turn HF labels [B, T] (unshifted, -100 ignored) into targets (shifted by
 * one, the last position -100).  out may not alias labels. */
void ft_model_shift_labels(const int32_t *labels, int32_t *out, int B, int T);
/* Logits [B, T, V] of the last forward (before backward overwrites them
 * with their gradient). */
const float *ft_model_logits(const ft_model *m);
/* Per-position CE losses [B, T] of the last forward (0 where ignored). */
const float *ft_model_losses(const ft_model *m);

/* Backward pass of the last forward (which needs targets): ACCUMULATES into
 * m->grads (allocating them zeroed the first time) the gradient of
 *   scale * loss_sum
 * so scale = 1.0 / m->n_targets gives the gradient of the mean loss; for
 * gradient accumulation over micro-batches use 1 / (total targets of all
 * micro-batches) in each.  A tied embedding's gradient includes the
 * head's. */
void ft_model_backward(ft_model *m, double scale);
/* Zero m->grads (allocating them if needed; with m->frozen only the
 * adapters' gradients). */
void ft_model_zero_grad(ft_model *m);
/* What a trainer updates: the adapters' slab, gradients and table when
 * LoRA adapters are attached (lib/model/lora.c), else the model's own.
 * grads is NULL until the first zero_grad or backward. */
void ft_model_trainable(ft_model *m, float **params, float **grads,
    size_t *n, const ft_param_tensor **t, size_t *nt);

/* KV-cache decoding (no dropout).  A cache holds B independent rows, each
 * with its own length (<= max_T <= n_positions), and only the KV heads
 * (grouped-query attention keeps its memory saving); keys are cached
 * after the rotary embedding of their position. */
typedef struct ft_kv ft_kv;
/* NULL after a message (a context the model refuses, e.g. beyond a
 * sliding window). */
ft_kv *ft_kv_new(const ft_model *m, int B, int max_T);
void ft_kv_free(ft_kv *kv);
/* Forget row b's tokens (b = -1: all rows). */
void ft_kv_reset(ft_kv *kv, int b);
/* Tokens cached in row b. */
int ft_kv_len(const ft_kv *kv, int b);
/* Feed n tokens (a prompt) to row b in one batched pass; writes the logits
 * of the last fed position to logits [V].  0, or -1 if the row would
 * exceed max_T (message printed). */
int ft_kv_prefill(ft_model *m, ft_kv *kv, int b, const int32_t *ids, int n,
    float *logits);
/* Feed one token to each row with active[b] != 0 (active NULL: all rows):
 * ids [B]; writes logits [B, V] (rows not active untouched).  The token at
 * row b goes to position ft_kv_len(kv, b).  Logits equal those of a full
 * forward over the row's tokens.  0 or -1 (a row full). */
int ft_kv_decode_step(ft_model *m, ft_kv *kv, const int32_t *ids,
    const uint8_t *active, float *logits);

/* Bytes held by parameters (quantised ones at their size), gradients,
 * activations and the bf16 copy (for reports). */
size_t ft_model_memory(const ft_model *m);

/* Parameters of the embedding tables (excluded from "non-embedding"
 * counts: the token embedding, and wpe when learned). */
size_t ft_model_embedding_params(const ft_model *m);

#endif
