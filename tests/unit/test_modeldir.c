/* Unit tests for lib/modeldir: the cache root, -m resolution, token ids,
 * the shard index, the tokenizer file check; and lib/io's file copy. */
#include "check.h"
#include "err.h"
#include "io.h"
#include "modeldir.h"
#include "hubcache.h"

#include <stdlib.h>
#include <string.h>

static const char commit[] = "0123456789abcdef0123456789abcdef01234567";

static int
eq_free(char *got, const char *want)
{
	int ok = got != NULL && want != NULL && strcmp(got, want) == 0;

	if (!ok)
		fprintf(stderr, "got '%s', want '%s'\n", got ? got : "(null)", want ? want : "(null)");
	free(got);
	return ok;
}

static void
clear_env(void)
{
	unsetenv("HF_HUB_CACHE");
	unsetenv("HUGGINGFACE_HUB_CACHE");
	unsetenv("HF_HOME");
	unsetenv("XDG_CACHE_HOME");
	unsetenv("FT_MODEL");
}

static void
test_cache_dir(void)
{
	clear_env();
	setenv("HOME", "/home/u", 1);
	CHECK(eq_free(ft_hub_cache_dir(), "/home/u/.cache/huggingface/hub"));
	setenv("XDG_CACHE_HOME", "/x", 1);
	CHECK(eq_free(ft_hub_cache_dir(), "/x/huggingface/hub"));
	setenv("HF_HOME", "/h", 1);
	CHECK(eq_free(ft_hub_cache_dir(), "/h/hub"));
	setenv("HUGGINGFACE_HUB_CACHE", "/b", 1);
	CHECK(eq_free(ft_hub_cache_dir(), "/b"));
	setenv("HF_HUB_CACHE", "/a", 1);
	CHECK(eq_free(ft_hub_cache_dir(), "/a"));
	setenv("HF_HUB_CACHE", "", 1); /* empty = unset */
	CHECK(eq_free(ft_hub_cache_dir(), "/b"));
	clear_env();
}

/* CACHE/models--F/refs/main -> commit, snapshots/commit/config.json. */
static char *
make_cached(const char *cache, const char *folder)
{
	char *snap = ft_asprintf("%s/%s/snapshots/%s", cache, folder, commit);
	char *refs = ft_asprintf("%s/%s/refs", cache, folder);
	char *ref = ft_asprintf("%s/main", refs);
	FILE *fp;

	CHECK(ft_mkdir_p(snap, 0777) == 0 && ft_mkdir_p(refs, 0777) == 0);
	fp = fopen(ref, "w");
	CHECK(fp != NULL);
	if (fp != NULL) {
		fputs(commit, fp);
		fclose(fp);
	}
	free(refs);
	free(ref);
	return snap;
}

static void
test_resolve(void)
{
	char dir[] = "/tmp/ft-test-modeldir.XXXXXX", *cache, *snap, *dg, *file;
	FILE *fp;

	CHECK(mkdtemp(dir) != NULL);
	clear_env();
	cache = ft_path_join(dir, "hub");
	setenv("HF_HUB_CACHE", cache, 1);
	snap = make_cached(cache, "models--org--m");

	CHECK(eq_free(ft_model_resolve(dir), dir));           /* a folder */
	CHECK(eq_free(ft_model_resolve("org/m"), snap));      /* a Hub id */
	CHECK(ft_model_resolve("org/absent") == NULL);
	CHECK(ft_model_resolve("bad--id") == NULL);
	file = ft_path_join(dir, "file");
	fp = fopen(file, "w");
	if (fp != NULL)
		fclose(fp);
	CHECK(ft_model_resolve(file) == NULL);               /* not a folder */
	free(file);

	/* Default: distilgpt2, under its legacy or canonical id. */
	CHECK(ft_model_resolve(NULL) == NULL);
	dg = make_cached(cache, "models--distilbert--distilgpt2");
	CHECK(eq_free(ft_model_resolve(NULL), dg));
	CHECK(eq_free(ft_model_resolve("distilgpt2"), dg));
	free(dg);
	dg = make_cached(cache, "models--distilgpt2");
	CHECK(eq_free(ft_model_resolve(NULL), dg));
	free(dg);
	setenv("FT_MODEL", "org/m", 1);
	CHECK(eq_free(ft_model_resolve(NULL), snap));
	setenv("FT_MODEL", dir, 1);
	CHECK(eq_free(ft_model_resolve(NULL), dir));
	CHECK(eq_free(ft_model_resolve("org/m"), snap));      /* -m beats FT_MODEL */

	/* A ref pointing at a missing snapshot is not a model. */
	unsetenv("FT_MODEL");
	{
		char *s = ft_asprintf("%s/models--org--m/snapshots", cache);
		ft_remove_tree(s);
		free(s);
	}
	CHECK(ft_model_resolve("org/m") == NULL);
	clear_env();
	ft_remove_tree(dir);
	free(snap);
	free(cache);
}

static void
put(const char *dir, const char *name, const char *text)
{
	char *p = ft_path_join(dir, name);
	FILE *fp = fopen(p, "w");

	CHECK(fp != NULL);
	if (fp != NULL) {
		fputs(text, fp);
		fclose(fp);
	}
	free(p);
}

static void
test_files(void)
{
	char dir[] = "/tmp/ft-test-modeldir.XXXXXX", **names, *p, *q, *buf;
	ft_token_ids t;
	size_t n, len;

	CHECK(mkdtemp(dir) != NULL);
	/* token ids: config.json, then generation_config.json over it */
	CHECK(ft_model_token_ids(dir, &t) == 0);
	CHECK(t.bos == -1 && t.pad == -1 && t.neos == 0);
	put(dir, "config.json", "{\"bos_token_id\": 1, \"eos_token_id\": [2, 7], "
	    "\"pad_token_id\": null}");
	CHECK(ft_model_token_ids(dir, &t) == 0);
	CHECK(t.bos == 1 && t.pad == -1 && t.neos == 2 && t.eos[0] == 2 &&
	    t.eos[1] == 7);
	put(dir, "generation_config.json", "{\"eos_token_id\": 9, "
	    "\"pad_token_id\": 3}");
	CHECK(ft_model_token_ids(dir, &t) == 0);
	CHECK(t.bos == 1 && t.pad == 3 && t.neos == 1 && t.eos[0] == 9);
	put(dir, "generation_config.json", "{\"eos_token_id\": \"x\"}");
	CHECK(ft_model_token_ids(dir, &t) == -1);
	put(dir, "generation_config.json", "{");
	CHECK(ft_model_token_ids(dir, &t) == -1);

	/* the shard index: sorted(set(values)), unsafe names refused */
	put(dir, "i.json", "{\"weight_map\": {\"a\": \"m-2.safetensors\", "
	    "\"b\": \"m-1.safetensors\", \"c\": \"m-2.safetensors\"}}");
	p = ft_path_join(dir, "i.json");
	CHECK(ft_model_index_shards(p, "i.json", &names, &n) == 0);
	CHECK(n == 2 && strcmp(names[0], "m-1.safetensors") == 0 &&
	    strcmp(names[1], "m-2.safetensors") == 0);
	ft_names_free(names, n);
	put(dir, "i.json", "{\"weight_map\": {\"a\": \"../x.safetensors\"}}");
	CHECK(ft_model_index_shards(p, "i.json", &names, &n) == -1);
	put(dir, "i.json", "{\"weight_map\": {}}");
	CHECK(ft_model_index_shards(p, "i.json", &names, &n) == -1);
	put(dir, "i.json", "{\"metadata\": {}}");
	CHECK(ft_model_index_shards(p, "i.json", &names, &n) == -1);
	free(p);
	p = ft_model_weights_path(dir);
	CHECK(p == NULL);
	put(dir, "model.safetensors.index.json", "{}");
	CHECK(eq_free(ft_model_weights_path(dir),
	    (q = ft_path_join(dir, "model.safetensors.index.json"))));
	free(q);

	/* the tokenizer check: tokenizer.json, or vocab.json and merges.txt */
	CHECK(!ft_has_tokenizer(dir) && ft_need_tokenizer(dir) == -1);
	put(dir, "vocab.json", "{}");
	CHECK(!ft_has_tokenizer(dir));
	put(dir, "merges.txt", "#version: 0.2\n");
	CHECK(ft_has_tokenizer(dir) && ft_need_tokenizer(dir) == 0);

	/* ft_copy_file: the bytes, atomically replacing */
	p = ft_path_join(dir, "config.json");
	q = ft_path_join(dir, "copy.json");
	put(dir, "copy.json", "old old old old old old old old");
	CHECK(ft_copy_file(p, q) == 0);
	CHECK(ft_read_file(q, &buf, &len) == 0);
	CHECK(len == strlen("{\"bos_token_id\": 1, \"eos_token_id\": [2, 7], "
	    "\"pad_token_id\": null}"));
	free(buf);
	free(q);
	q = ft_path_join(dir, "absent");
	CHECK(ft_copy_file(q, p) == -1);
	free(q);
	free(p);
	ft_remove_tree(dir);
}

int
main(void)
{
	ft_setprog("test_modeldir");
	test_cache_dir();
	test_resolve();
	test_files();
	return check_done();
}
