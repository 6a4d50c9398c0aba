/* Unit tests for lib/modeldir: the cache root and -m resolution. */
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

int
main(void)
{
	ft_setprog("test_modeldir");
	test_cache_dir();
	test_resolve();
	return check_done();
}
