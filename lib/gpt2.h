/* gpt2 — the GPT-2 model of Hugging Face's GPT2LMHeadModel (hf-reference
 * §8, §10, §11): config, one parameter slab with named views, one gradient
 * slab, forward with masked cross-entropy, backward, and KV-cache decoding.
 *
 * All floats are fp32.  Weights keep the Conv1D layout of the files:
 * [in, out], y = x·W + b.  The output projection is tied to wte unless a
 * distinct lm_head.weight was loaded.
 *
 * Typical training use:
 *	struct ft_gpt2 m;
 *	if (ft_gpt2_load(&m, dir) < 0) ...          (or ft_gpt2_new + init_random)
 *	ft_gpt2_set_threads(&m, nthreads);
 *	ft_gpt2_set_dropout_seed(&m, seed);
 *	m.training = 1;
 *	ft_gpt2_zero_grad(&m);
 *	loss = ft_gpt2_forward(&m, ids, mask, targets, B, T);
 *	ft_gpt2_backward(&m, 1.0 / m.n_targets);
 *	norm = ft_clip_grad_norm(m.grads, m.n_params, 1.0, m.threads);
 *	ft_adamw_step(&opt, m.params, m.grads, lr, tensors, ntensors);
 *
 * Errors: functions returning int give 0 or -1 after one message naming
 * the file or tensor (ft_error).  Allocation failures die (ft_malloc).
 *
 * Threads: m->threads workers (ft_gpt2_set_threads) for the library's own
 * kernels and for OpenBLAS.  One model is used by one thread at a time.
 * Same inputs, seed and thread count give bit-identical results.
 * FT_GPT2_PROFILE=1 in the environment prints the time spent per kernel
 * family on stderr when the model is released. */
#ifndef FT_GPT2_H
#define FT_GPT2_H

#include <stddef.h>
#include <stdint.h>

#include "optim.h"

typedef struct ft_gpt2_config {
	int n_layer;        /* 6 for distilgpt2 */
	int n_embd;         /* C, 768 */
	int n_head;         /* NH, 12; n_embd % n_head == 0 */
	int n_positions;    /* max T, 1024 */
	int vocab_size;     /* V, 50257 */
	int n_inner;        /* F, 4 * n_embd when config says null */
	double layer_norm_epsilon;                  /* 1e-5 */
	double embd_pdrop, attn_pdrop, resid_pdrop; /* 0.1 each */
	int bos_token_id, eos_token_id;             /* 50256 */
	int tie_word_embeddings;                    /* 1: lm_head = wte */
} ft_gpt2_config;

/* distilgpt2's values (n_layer 6; the rest as GPT-2 small). */
void ft_gpt2_config_default(ft_gpt2_config *c);

/* Read config.json.  Missing keys take GPT2Config defaults (n_layer 12 as
 * GPT2Config).  Keys whose values this engine does not implement are refused
 * naming the key: activation_function other than gelu_new /
 * gelu_pytorch_tanh, scale_attn_by_inverse_layer_idx true,
 * reorder_and_upcast_attn true, scale_attn_weights false, add_cross_attention
 * true, model_type other than gpt2, n_embd not a multiple of n_head.
 * 0 or -1. */
int ft_gpt2_config_load(ft_gpt2_config *c, const char *path);

/* Write a config.json that transformers' GPT2Config reads back (all
 * GPT2Config fields, sorted keys, 2-space indent, "architectures":
 * ["GPT2LMHeadModel"]), atomically.  0 or -1. */
int ft_gpt2_config_save(const ft_gpt2_config *c, const char *path);

/* Named views into a parameter (or gradient) slab. */
struct ft_gpt2_layer {
	float *ln_1_w, *ln_1_b;         /* [C], [C] */
	float *attn_w, *attn_b;         /* c_attn [C, 3C], [3C] */
	float *attn_proj_w, *attn_proj_b; /* attn.c_proj [C, C], [C] */
	float *ln_2_w, *ln_2_b;         /* [C], [C] */
	float *fc_w, *fc_b;             /* mlp.c_fc [C, F], [F] */
	float *mlp_proj_w, *mlp_proj_b; /* mlp.c_proj [F, C], [C] */
};
struct ft_gpt2_views {
	float *wte;                     /* [V, C] */
	float *wpe;                     /* [n_positions, C] */
	struct ft_gpt2_layer *h;        /* [n_layer] */
	float *ln_f_w, *ln_f_b;         /* [C], [C] */
	float *lm_head;                 /* [V, C] untied head, or NULL (tied) */
};

struct ft_gpt2_acts;                    /* private: activations */

typedef struct ft_gpt2 {
	ft_gpt2_config cfg;
	size_t n_params;                /* floats in params (and grads) */
	float *params;                  /* one slab */
	float *grads;                   /* same layout; NULL until needed */
	struct ft_gpt2_views p, g;      /* views into params and grads */
	ft_param_tensor *tensors;       /* table of every tensor, slab order */
	size_t n_tensors;
	int untied;                     /* lm_head is a separate tensor */

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
	                                 * ft_gpt2_logits() holds just those
	                                 * rows, in order.  Default 0. */

	/* Results of the last forward: */
	double loss_sum;                /* sum of CE over counted targets */
	int64_t n_targets;              /* targets != -100 */
	int B, T;                       /* shape of the last forward */

	struct ft_gpt2_acts *acts;      /* private */
} ft_gpt2;

/* Allocate a model for cfg (parameters zeroed, no gradients).  Validates
 * the config.  untied: give it its own lm_head tensor.  0 or -1. */
int ft_gpt2_new(ft_gpt2 *m, const ft_gpt2_config *cfg, int untied);
/* Free everything (m may be zeroed memory). */
void ft_gpt2_release(ft_gpt2 *m);

/* Random init like transformers' GPT2PreTrainedModel._init_weights:
 * Linear/Conv1D and embeddings N(0, 0.02), c_proj weights
 * N(0, 0.02/sqrt(2*n_layer)), biases 0, LayerNorm weight 1, bias 0.
 * Deterministic in seed (not torch's stream). */
void ft_gpt2_init_random(ft_gpt2 *m, uint64_t seed);

/* Load a model directory: config.json, then model.safetensors or the
 * shards listed by model.safetensors.index.json.  Tensor names with or
 * without "transformer."; attn.bias / attn.masked_bias ignored;
 * lm_head.weight absent or equal to wte -> tied, else untied; every
 * tensor checked by dtype (F32/F16/BF16 converted) and shape; missing and
 * unexpected tensors reported by name.  A config with
 * tie_word_embeddings false expects lm_head.weight.  0 or -1 (m then
 * released). */
int ft_gpt2_load(ft_gpt2 *m, const char *dir);
/* Load only weights into an allocated model from a .safetensors file or a
 * model.safetensors.index.json (same checks as ft_gpt2_load).  If the file
 * has an lm_head.weight different from wte, m becomes untied (its slab is
 * reallocated; gradients dropped).  0 or -1. */
int ft_gpt2_load_weights(ft_gpt2 *m, const char *path);

/* Write the weights as one safetensors file (atomically): F32,
 * "transformer."-prefixed names, no lm_head when tied (written as
 * "lm_head.weight" when untied), metadata {"format":"pt"}.  0 or -1. */
int ft_gpt2_save(const ft_gpt2 *m, const char *path);
/* Write dir/config.json and dir/model.safetensors (dir created).  0/-1. */
int ft_gpt2_save_dir(const ft_gpt2 *m, const char *dir);

/* Threads for the kernels and for OpenBLAS (>= 1). */
void ft_gpt2_set_threads(ft_gpt2 *m, int threads);
/* Seed the dropout generator and reset its counter. */
void ft_gpt2_set_dropout_seed(ft_gpt2 *m, uint64_t seed);

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
 * range).  Logits stay available
 * through ft_gpt2_logits() until the next forward or backward. */
float ft_gpt2_forward(ft_gpt2 *m, const int32_t *ids, const uint8_t *mask,
    const int32_t *targets, int B, int T);
/* Turn HF labels [B, T] (unshifted, -100 ignored) into targets (shifted by
 * one, the last position -100).  out may not alias labels. */
void ft_gpt2_shift_labels(const int32_t *labels, int32_t *out, int B, int T);
/* Logits [B, T, V] of the last forward (before backward overwrites them
 * with their gradient). */
const float *ft_gpt2_logits(const ft_gpt2 *m);
/* Per-position CE losses [B, T] of the last forward (0 where ignored). */
const float *ft_gpt2_losses(const ft_gpt2 *m);

/* Backward pass of the last forward (which needs targets): ACCUMULATES into
 * m->grads (allocating them zeroed the first time) the gradient of
 *   scale * loss_sum
 * so scale = 1.0 / m->n_targets gives the gradient of the mean loss; for
 * gradient accumulation over micro-batches use 1 / (total targets of all
 * micro-batches) in each.  The wte gradient includes the tied head's. */
void ft_gpt2_backward(ft_gpt2 *m, double scale);
/* Zero m->grads (allocating them if needed). */
void ft_gpt2_zero_grad(ft_gpt2 *m);

/* KV-cache decoding (no dropout).  A cache holds B independent rows, each
 * with its own length (<= max_T <= n_positions). */
typedef struct ft_gpt2_kv ft_gpt2_kv;
ft_gpt2_kv *ft_gpt2_kv_new(const ft_gpt2 *m, int B, int max_T);
void ft_gpt2_kv_free(ft_gpt2_kv *kv);
/* Forget row b's tokens (b = -1: all rows). */
void ft_gpt2_kv_reset(ft_gpt2_kv *kv, int b);
/* Tokens cached in row b. */
int ft_gpt2_kv_len(const ft_gpt2_kv *kv, int b);
/* Feed n tokens (a prompt) to row b in one batched pass; writes the logits
 * of the last fed position to logits [V].  0, or -1 if the row would
 * exceed max_T (message printed). */
int ft_gpt2_kv_prefill(ft_gpt2 *m, ft_gpt2_kv *kv, int b,
    const int32_t *ids, int n, float *logits);
/* Feed one token to each row with active[b] != 0 (active NULL: all rows):
 * ids [B]; writes logits [B, V] (rows not active untouched).  The token at
 * row b goes to position ft_gpt2_kv_len(kv, b).  Logits equal those of a
 * full forward over the row's tokens.  0 or -1 (a row full). */
int ft_gpt2_decode_step(ft_gpt2 *m, ft_gpt2_kv *kv, const int32_t *ids,
    const uint8_t *active, float *logits);

/* Bytes held by parameters, gradients and activations (for reports). */
size_t ft_gpt2_memory(const ft_gpt2 *m);

#endif
