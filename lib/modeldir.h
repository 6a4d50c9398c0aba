/* modeldir — the one owner of a model directory: which one a tool uses,
 * and what is in it (config.json's and generation_config.json's token
 * ids, the tokenizer file set, the shard index); tools and the rest of
 * lib ask here instead of knowing file names.
 *
 * `-m ARG`: ARG is a directory, or a Hub repo id found in the local Hub
 * cache (snapshot of refs/main, as ft-fetch and huggingface_hub store it).
 * Without -m: $FT_MODEL (a directory or a Hub id) if set, else distilgpt2
 * from the Hub cache.  Failing all that, one line says to run
 * `ft-fetch model distilgpt2` or pass -m.
 *
 * Dependencies: modeldir reads the Hub cache through lib/hubcache (the
 * on-disk layout) and never the network: it does not include hub.h, and
 * lib/hub does not include modeldir.h.  It knows files, not models: lib/
 * model (weights.c) asks it where the weights are, and it asks nothing of
 * lib/model (callers pass what it needs of a model's config). */
#ifndef FT_MODELDIR_H
#define FT_MODELDIR_H

#include <stddef.h>
#include <stdint.h>

/* Resolve arg (NULL when -m was not given) to a malloc'd directory path.
 * NULL after a message. */
char *ft_model_resolve(const char *arg);

/* ---- token ids ---- */

/* The ids generate() uses: generation_config.json's, else config.json's
 * (as GenerationConfig.from_model_config).  eos_token_id may be a number
 * or a list (every id ends a sequence); -1 / 0 entries when absent. */
#define FT_MAX_EOS 16
typedef struct ft_token_ids {
	int32_t bos, pad;
	int32_t eos[FT_MAX_EOS];
	int neos;
} ft_token_ids;
/* Read dir's files.  0, or -1 after a message naming the file (invalid
 * JSON, an id that is not a number). */
int ft_model_token_ids(const char *dir, ft_token_ids *ids);

/* ---- the tokenizer file set ---- */

/* The tokenizer files a model directory may hold (GPT-2's vocab.json and
 * merges.txt, tokenizers' tokenizer.json, added_tokens.json and the two
 * configs): what ft-fetch downloads, ft-train and ft-sample copy, and
 * ft-train --overwrite-output-dir removes. */
extern const char *const ft_tokenizer_files[];
#define FT_N_TOKENIZER_FILES 6
/* Nonzero when dir holds a tokenizer (tokenizer.json, or vocab.json and
 * merges.txt). */
int ft_has_tokenizer(const char *dir);
/* 0 when dir holds a tokenizer, else -1 after "DIR: no tokenizer:
 * missing vocab.json and merges.txt (or tokenizer.json)". */
int ft_need_tokenizer(const char *dir);

/* A tokenizer to write into output directories as
 * tokenizer.save_pretrained leaves them: src's tokenizer files copied,
 * plus tokenizer_config.json and special_tokens_map.json even when src
 * lacks them (docs/hf-reference.md §13).  src's own are copied as they
 * are; a missing tokenizer_config.json is written with the keys
 * save_pretrained writes: for a GPT-2
 * model the GPT2Tokenizer class, bos/eos/unk "<|endoftext|>" (the end-of-
 * text token), add_bos_token and add_prefix_space false, errors
 * "replace"; for another model with a tokenizer.json the
 * PreTrainedTokenizerFast class (its post-processor, as ft uses it) and
 * the bos/eos tokens of config.json's ids; for both model_max_length
 * (n_positions), pad_token (the end-of-text token: ft-train pads with it,
 * as the notebook sets pad_token = eos_token), clean_up_tokenization_spaces
 * false (ft's decoder does not clean up), and for GPT-2
 * added_tokens_decoder (the end-of-text token, as GPT2Tokenizer has it).
 * A missing special_tokens_map.json is written with the special tokens of
 * tokenizer_config.json (src's or the written one).  None of these keys
 * changes how ft tokenizes. */
typedef struct ft_tokfiles {
	char *src;
	char *config, *special_map;   /* the two files' text; NULL: src's
	                               * file, copied */
} ft_tokfiles;
/* Read src (which must hold a tokenizer) for a model of config.json's
 * model_type with n_positions positions and bos_id (-1: none).  0, or -1
 * after a message. */
int ft_tokfiles_prepare(ft_tokfiles *t, const char *src,
    const char *model_type, int n_positions, int bos_id);
/* Write the files into the folder dst (each atomically).  0 or -1. */
int ft_tokfiles_save(const ft_tokfiles *t, const char *dst);
void ft_tokfiles_release(ft_tokfiles *t);

/* ---- weights ---- */

/* The weights of dir: model.safetensors, else model.safetensors.index.json
 * (malloc'd path; NULL after "DIR: no model.safetensors or
 * model.safetensors.index.json"). */
char *ft_model_weights_path(const char *dir);
/* The shard files a model.safetensors.index.json names (its weight_map's
 * values), sorted and each once, as huggingface_hub's
 * sorted(set(weight_map.values())); every name a safe relative path
 * (hubcache's ft_hub_path_safe).  what names the file in messages.  0
 * and *names (malloc'd, each malloc'd; free with ft_names_free), or -1
 * after a message. */
int ft_model_index_shards(const char *path, const char *what,
    char ***names, size_t *n);
void ft_names_free(char **names, size_t n);

#endif
