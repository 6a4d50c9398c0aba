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

#endif
