/* arch — what lib/model/decoder.c asks of an architecture file (gpt2.c,
 * llama.c): map config.json to the decoder's choices and back, lay out
 * and name every tensor as Hugging Face does, and initialise weights for
 * training from scratch.  Private to lib/model. */
#ifndef FT_MODEL_ARCH_H
#define FT_MODEL_ARCH_H

#include <cJSON.h>
#include <stdint.h>
#include <stdio.h>

#include "model/model.h"

/* Which view a tensor fills: per-layer slots (struct ft_layer) or, with
 * layer -1, the model-wide ones.  SLOT_JOIN: no view of its own, placed
 * right after the previous tensor (k and v after q, up after gate). */
enum { SLOT_N1_W, SLOT_N1_B, SLOT_QKV_W, SLOT_QKV_B, SLOT_QN_W, SLOT_KN_W,
	SLOT_O_W, SLOT_O_B, SLOT_N2_W, SLOT_N2_B, SLOT_UP_W, SLOT_UP_B,
	SLOT_DOWN_W, SLOT_DOWN_B, SLOT_LAYER_N,
	SLOT_EMB = 0, SLOT_POS, SLOT_NF_W, SLOT_NF_B, SLOT_HEAD,
	SLOT_JOIN = -1 };

struct ft_arch {
	const char *model_type;         /* config.json "model_type" */
	const char *architecture;       /* "architectures": [ ... ] */
	const char *prefix;             /* file names: prefix + table name
	                                 * (but lm_head.weight), or "" */
	/* Fill c from the parsed config (defaults of the config class for
	 * missing keys; refusals name key and value).  0 or -1. */
	int (*config_read)(ft_model_config *c, const cJSON *o, const char *path);
	/* Set in o every key that describes c (o may hold the source
	 * config's keys: keep what does not contradict c). */
	void (*config_write)(const ft_model_config *c, int untied, cJSON *o);
	/* Add every tensor with ft_model_add_tensor, in slab order. */
	void (*layout)(ft_model *m);
	/* Nonzero for file tensors that are buffers, not parameters. */
	int (*ignored)(const char *name);
	void (*init)(ft_model *m, uint64_t seed);
	/* Fill c for a --init preset of this architecture: 0, or -1 if name
	 * is not one of its presets. */
	int (*preset)(const char *name, ft_model_config *c);
};

/* ft_model_config_load that also hands back the parsed config.json (the
 * caller owns it) so a saved model keeps its keys. */
int ft_model_config_load_keep(ft_model_config *c, const char *path,
    cJSON **o);

/* The decoder's limits on c (sizes, eps, dropout, rope_theta), refusals
 * naming where (config.json's path) and the key.  0 or -1. */
int ft_model_config_check(const ft_model_config *c, const char *where);

extern const struct ft_arch ft_arch_gpt2, ft_arch_llama, ft_arch_mistral,
    ft_arch_qwen2, ft_arch_qwen3;

/* Add a tensor to m's table (decayed when 2-D, as the Trainer's groups
 * for these families); layer -1 for model-wide tensors. */
void ft_model_add_tensor(ft_model *m, const char *name, int layer, int slot,
    int ndim, int64_t d0, int64_t d1);
/* Normal(0, std) fill, Box-Muller over splitmix64. */
void ft_model_fill_normal(float *x, size_t n, double std, uint64_t *s);

/* config.json helpers: absent or null keys leave *v; wrong types are
 * refused naming the key.  0 or -1. */
int ft_cfg_int(const cJSON *o, const char *k, int *v, const char *path);
int ft_cfg_num(const cJSON *o, const char *k, double *v, const char *path);
int ft_cfg_bool(const cJSON *o, const char *k, int *v, const char *path);
/* A token id that may be a list (its first element is taken). */
int ft_cfg_token(const cJSON *o, const char *k, int *v, const char *path);
/* Boolean key that must be absent or have value ok. */
int ft_cfg_want_bool(const cJSON *o, const char *k, int ok, const char *path);
/* Set o[k] (replacing) to a number written as Python writes a float,
 * an integer, a bool or a string. */
void ft_cfg_set_float(cJSON *o, const char *k, double v);
void ft_cfg_set_int(cJSON *o, const char *k, long long v);
void ft_cfg_set_bool(cJSON *o, const char *k, int v);
void ft_cfg_set_str(cJSON *o, const char *k, const char *v);
void ft_cfg_set(cJSON *o, const char *k, cJSON *item);
/* Add o[k] = item only when o has no such key (item freed otherwise). */
void ft_cfg_default(cJSON *o, const char *k, cJSON *item);

#endif
