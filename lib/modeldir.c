/* modeldir — see modeldir.h.  A Hub id resolves like huggingface_hub's
 * offline lookup: CACHE/models--OWNER--NAME/refs/main holds the commit,
 * snapshots/COMMIT is the model folder. */
#include "modeldir.h"
#include "err.h"
#include "hubcache.h"
#include "io.h"
#include "trainer.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0') ? v : NULL;
}

/* The snapshot folder of repo's "main" in the cache, or NULL. */
static char *
cached_snapshot(const char *cache, const char *repo)
{
	return ft_hub_cached_snapshot(cache, "model", repo, "main");
}

char *
ft_model_resolve(const char *arg)
{
	struct stat st;
	char *cache, *snap;

	if (arg == NULL)
		arg = env("FT_MODEL");
	if (arg != NULL && stat(arg, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return ft_strdup(arg);
		ft_error("model '%s' is not a folder", arg);
		return NULL;
	}
	cache = ft_hub_cache_dir();
	if (arg != NULL) {
		snap = cached_snapshot(cache, arg);
		if (snap == NULL && strcmp(arg, "distilgpt2") == 0)
			snap = cached_snapshot(cache, "distilbert/distilgpt2");
		if (snap == NULL)
			ft_error("model '%s' is neither a folder nor in the Hub cache '%s': "
				"run 'ft-fetch model %s' or pass -m DIR", arg, cache,
				ft_hub_repo_valid(arg) ? arg : "REPO");
	} else {
		/* The legacy id first, then the canonical one Python may have used. */
		snap = cached_snapshot(cache, "distilgpt2");
		if (snap == NULL)
			snap = cached_snapshot(cache, "distilbert/distilgpt2");
		if (snap == NULL)
			ft_error("no model given and distilgpt2 is not in the Hub cache '%s': "
				"run 'ft-fetch model distilgpt2' or pass -m DIR", cache);
	}
	free(cache);
	return snap;
}

const char *const ft_tokenizer_files[FT_N_TOKENIZER_FILES] = {
	"vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
	"special_tokens_map.json", "added_tokens.json",
};

int
ft_has_tokenizer(const char *dir)
{
	char *tj = ft_path_join(dir, "tokenizer.json");
	char *vj = ft_path_join(dir, "vocab.json");
	char *mt = ft_path_join(dir, "merges.txt");
	int r = ft_exists(tj) || (ft_exists(vj) && ft_exists(mt));

	free(tj);
	free(vj);
	free(mt);
	return r;
}

int
ft_copy_tokenizer_files(const char *src, const char *dst)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < FT_N_TOKENIZER_FILES; i++) {
		char *s = ft_path_join(src, ft_tokenizer_files[i]);

		if (ft_exists(s)) {
			char *d = ft_path_join(dst, ft_tokenizer_files[i]);
			rc = ft_copy_file(s, d);
			free(d);
		}
		free(s);
	}
	return rc;
}
