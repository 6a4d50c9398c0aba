/* modeldir — which model directory a tool uses.
 *
 * `-m ARG`: ARG is a directory, or a Hub repo id found in the local Hub
 * cache (snapshot of refs/main, as ft-fetch and huggingface_hub store it).
 * Without -m: $FT_MODEL (a directory or a Hub id) if set, else distilgpt2
 * from the Hub cache.  Failing all that, one line says to run
 * `ft-fetch model distilgpt2` or pass -m. */
#ifndef FT_MODELDIR_H
#define FT_MODELDIR_H

/* Resolve arg (NULL when -m was not given) to a malloc'd directory path.
 * NULL after a message. */
char *ft_model_resolve(const char *arg);

/* The Hub cache root: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else
 * $HF_HOME/hub, HF_HOME defaulting to $XDG_CACHE_HOME/huggingface or
 * ~/.cache/huggingface.  malloc'd. */
char *ft_hub_cache_dir(void);

/* The tokenizer files a model directory may hold (GPT-2's vocab.json and
 * merges.txt, tokenizers' tokenizer.json, and their configs). */
extern const char *const ft_tokenizer_files[];
#define FT_N_TOKENIZER_FILES 6
/* Nonzero when dir holds a tokenizer (tokenizer.json, or vocab.json and
 * merges.txt). */
int ft_has_tokenizer(const char *dir);
/* Copy those of them src holds into dst (atomically each).  0 or -1. */
int ft_copy_tokenizer_files(const char *src, const char *dst);

#endif
