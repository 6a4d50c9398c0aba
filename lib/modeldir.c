/* modeldir — see modeldir.h.  A Hub id resolves like huggingface_hub's
 * offline lookup: CACHE/models--OWNER--NAME/refs/main holds the commit,
 * snapshots/COMMIT is the model folder. */
#include "modeldir.h"
#include "bpe.h"
#include "err.h"
#include "hubcache.h"
#include "io.h"
#include "jsonl.h"

#include <cJSON.h>
#include <stdio.h>
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

/* ---- token ids ---- */

/* Take key's id(s) from o when present: 0, 1 when taken, -1 after a
 * message.  A list fills up to max entries. */
static int
json_ids(const cJSON *o, const char *key, int32_t *v, int max, int *n,
    const char *path)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, key);
	int k = 0;

	if (e == NULL || cJSON_IsNull(e))
		return 0;
	if (cJSON_IsNumber(e)) {
		v[k++] = (int32_t)e->valuedouble;
	} else if (cJSON_IsArray(e)) {
		for (const cJSON *x = e->child; x != NULL; x = x->next) {
			if (!cJSON_IsNumber(x))
				return ft_error("%s: %s: not a list of token ids",
				    path, key);
			if (k < max)
				v[k++] = (int32_t)x->valuedouble;
		}
	} else {
		return ft_error("%s: %s: not a token id", path, key);
	}
	if (k == 0)
		return 0;
	if (n != NULL)
		*n = k;
	return 1;
}

int
ft_model_token_ids(const char *dir, ft_token_ids *ids)
{
	static const char *const files[] = { "config.json",
		"generation_config.json" };
	int rc = 0, one;

	memset(ids, 0, sizeof *ids);
	ids->bos = ids->pad = -1;
	/* config.json first, then generation_config.json over it */
	for (size_t f = 0; rc == 0 && f < 2; f++) {
		char *p = ft_path_join(dir, files[f]);
		cJSON *o;

		if (!ft_exists(p)) {
			free(p);
			continue;
		}
		if ((o = ft_json_load(p)) == NULL) {
			free(p);
			return -1;
		}
		if (json_ids(o, "bos_token_id", &ids->bos, 1, &one, p) < 0 ||
		    json_ids(o, "pad_token_id", &ids->pad, 1, &one, p) < 0 ||
		    json_ids(o, "eos_token_id", ids->eos, FT_MAX_EOS, &ids->neos,
		    p) < 0)
			rc = -1;
		cJSON_Delete(o);
		free(p);
	}
	return rc;
}

/* ---- the tokenizer file set ---- */

const char *const ft_tokenizer_files[FT_N_TOKENIZER_FILES] = {
	"vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
	"special_tokens_map.json", "added_tokens.json",
};

static int
has(const char *dir, const char *name)
{
	char *p = ft_path_join(dir, name);
	int r = ft_exists(p);

	free(p);
	return r;
}

int
ft_has_tokenizer(const char *dir)
{
	return has(dir, "tokenizer.json") ||
	    (has(dir, "vocab.json") && has(dir, "merges.txt"));
}

int
ft_need_tokenizer(const char *dir)
{
	int v = has(dir, "vocab.json"), mg = has(dir, "merges.txt");

	if (ft_has_tokenizer(dir))
		return 0;
	return ft_error("%s: no tokenizer: missing %s%s%s (or tokenizer.json)",
	    dir, v ? "" : "vocab.json", !v && !mg ? " and " : "",
	    mg ? "" : "merges.txt");
}

/* Token id's text as a JSON string item, or NULL when it has none or is
 * not UTF-8. */
static cJSON *
token_item(const struct ft_bpe *b, int32_t id)
{
	const char *t;
	size_t n;
	char *s;
	cJSON *it;

	if (id < 0 || (uint32_t)id >= ft_bpe_vocab_size(b) ||
	    (t = ft_bpe_token(b, (uint32_t)id, &n)) == NULL || n == 0 ||
	    memchr(t, '\0', n) != NULL || ft_utf8_check(t, n) != n)
		return NULL;
	s = ft_strndup(t, n);
	it = cJSON_CreateString(s);
	free(s);
	return it;
}

/* o[k] = item unless o has k (item freed then, or NULL). */
static void
put_default(cJSON *o, const char *k, cJSON *item)
{
	if (item == NULL)
		return;
	if (cJSON_GetObjectItemCaseSensitive(o, k) != NULL)
		cJSON_Delete(item);
	else
		cJSON_AddItemToObject(o, k, item);
}

static char *
render(const cJSON *o)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	if (f == NULL)
		ft_die("out of memory");
	ft_json_put_pretty(f, o);
	fputc('\n', f);
	if (fclose(f) != 0)
		ft_die("out of memory");
	return text;
}

/* src's file name as a JSON object, or an empty one when absent.  NULL
 * after a message. */
static cJSON *
load_or_empty(const char *src, const char *name)
{
	char *p = ft_path_join(src, name);
	cJSON *o = ft_exists(p) ? ft_json_load(p) : cJSON_CreateObject();

	free(p);
	return o;
}

int
ft_tokfiles_prepare(ft_tokfiles *t, const char *src,
    const char *model_type, int n_positions, int bos_id)
{
	static const char *const special[] = { "bos_token", "eos_token",
		"unk_token", "sep_token", "pad_token", "cls_token",
		"mask_token", "additional_special_tokens" };
	int gpt2 = strcmp(model_type, "gpt2") == 0;
	struct ft_bpe *b;
	cJSON *cfg = NULL, *map = NULL;
	int32_t eos;

	memset(t, 0, sizeof *t);
	if (ft_need_tokenizer(src) != 0 || (b = ft_bpe_load_dir(src)) == NULL)
		return -1;
	if ((cfg = load_or_empty(src, "tokenizer_config.json")) == NULL ||
	    (map = load_or_empty(src, "special_tokens_map.json")) == NULL) {
		cJSON_Delete(cfg);
		ft_bpe_free(b);
		return -1;
	}
	eos = ft_bpe_eos_id(b);
	if (has(src, "tokenizer_config.json")) {
		;	/* src's, copied as it is */
	} else if (gpt2 || !has(src, "tokenizer.json")) {
		put_default(cfg, "tokenizer_class",
		    cJSON_CreateString("GPT2Tokenizer"));
		put_default(cfg, "add_bos_token", cJSON_CreateFalse());
		put_default(cfg, "add_prefix_space", cJSON_CreateFalse());
		put_default(cfg, "errors", cJSON_CreateString("replace"));
		put_default(cfg, "bos_token", token_item(b, eos));
		put_default(cfg, "unk_token", token_item(b, eos));
		if (eos >= 0 && ft_bpe_is_special(b, (uint32_t)eos)) {
			cJSON *d = cJSON_CreateObject(), *e = cJSON_CreateObject();
			char id[16];

			cJSON_AddItemToObject(e, "content", token_item(b, eos));
			cJSON_AddFalseToObject(e, "lstrip");
			cJSON_AddTrueToObject(e, "normalized");
			cJSON_AddFalseToObject(e, "rstrip");
			cJSON_AddFalseToObject(e, "single_word");
			cJSON_AddTrueToObject(e, "special");
			snprintf(id, sizeof id, "%d", (int)eos);
			cJSON_AddItemToObject(d, id, e);
			put_default(cfg, "added_tokens_decoder", d);
		}
	} else {
		put_default(cfg, "tokenizer_class",
		    cJSON_CreateString("PreTrainedTokenizerFast"));
		put_default(cfg, "bos_token", token_item(b, bos_id));
	}
	if (!has(src, "tokenizer_config.json")) {
		put_default(cfg, "eos_token", token_item(b, eos));
		put_default(cfg, "pad_token", token_item(b, eos));
		put_default(cfg, "model_max_length",
		    cJSON_CreateNumber(n_positions));
		put_default(cfg, "clean_up_tokenization_spaces",
		    cJSON_CreateFalse());
		t->config = render(cfg);
	}
	if (!has(src, "special_tokens_map.json"))
		for (size_t i = 0; i < sizeof special / sizeof *special; i++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg,
			    special[i]);

			if (v != NULL && !cJSON_IsNull(v))
				cJSON_AddItemToObject(map, special[i],
				    cJSON_Duplicate(v, 1));
		}
	t->src = ft_strdup(src);
	if (!has(src, "special_tokens_map.json"))
		t->special_map = render(map);
	cJSON_Delete(cfg);
	cJSON_Delete(map);
	ft_bpe_free(b);
	return 0;
}

static int
write_text(const char *path, const char *text)
{
	ft_atomic a;

	if (ft_atomic_open(&a, path) != 0)
		return -1;
	if (ft_write(a.fp, text, strlen(text), path) != 0) {
		ft_atomic_abort(&a);
		return -1;
	}
	return ft_atomic_commit(&a);
}

int
ft_tokfiles_save(const ft_tokfiles *t, const char *dst)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < FT_N_TOKENIZER_FILES; i++) {
		const char *name = ft_tokenizer_files[i];
		const char *text = strcmp(name, "tokenizer_config.json") == 0 ?
		    t->config : strcmp(name, "special_tokens_map.json") == 0 ?
		    t->special_map : NULL;  /* NULL: src's file, copied */
		char *d = ft_path_join(dst, name);

		if (text != NULL) {
			rc = write_text(d, text);
		} else {
			char *s = ft_path_join(t->src, name);

			if (ft_exists(s))
				rc = ft_copy_file(s, d);
			free(s);
		}
		free(d);
	}
	return rc;
}

void
ft_tokfiles_release(ft_tokfiles *t)
{
	free(t->src);
	free(t->config);
	free(t->special_map);
	memset(t, 0, sizeof *t);
}

/* ---- weights ---- */

char *
ft_model_weights_path(const char *dir)
{
	char *w = ft_path_join(dir, "model.safetensors");

	if (ft_exists(w))
		return w;
	free(w);
	w = ft_path_join(dir, "model.safetensors.index.json");
	if (ft_exists(w))
		return w;
	free(w);
	ft_error("%s: no model.safetensors or model.safetensors.index.json",
	    dir);
	return NULL;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
ft_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
ft_model_index_shards(const char *path, const char *what, char ***names,
    size_t *n)
{
	struct stat st;
	cJSON *doc, *map, *e;
	char **v = NULL;
	size_t k = 0, cap = 0, u;

	*names = NULL;
	*n = 0;
	if (stat(path, &st) == 0 && st.st_size > (64 << 20))
		return ft_error("%s: larger than 64 MiB", what);
	if ((doc = ft_json_load(path)) == NULL)
		return -1;
	map = cJSON_GetObjectItemCaseSensitive(doc, "weight_map");
	if (!cJSON_IsObject(map)) {
		cJSON_Delete(doc);
		return ft_error("%s: no \"weight_map\" object", what);
	}
	cJSON_ArrayForEach(e, map) {
		if (!cJSON_IsString(e) || !ft_hub_path_safe(e->valuestring)) {
			ft_error("%s: refusing the unsafe shard name of tensor "
			    "'%.100s'", what, e->string ? e->string : "?");
			ft_names_free(v, k);
			cJSON_Delete(doc);
			return -1;
		}
		ft_grow((void **)&v, &cap, k + 1, sizeof *v);
		v[k++] = ft_strdup(e->valuestring);
	}
	cJSON_Delete(doc);
	if (k == 0)
		return ft_error("%s: empty weight_map", what);
	/* sorted(set(...)): O(n log n) */
	qsort(v, k, sizeof *v, cmp_name);
	u = 0;
	for (size_t i = 1; i < k; i++) {
		if (strcmp(v[i], v[u]) == 0)
			free(v[i]);
		else
			v[++u] = v[i];
	}
	*names = v;
	*n = u + 1;
	return 0;
}
