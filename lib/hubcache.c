/* hubcache — see hubcache.h. */
#include "hubcache.h"
#include "err.h"
#include "io.h"

#include <ctype.h>
#include <pwd.h>
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

char *
ft_hub_repo_folder(const char *type, const char *repo)
{
	size_t n = strlen(repo);
	char *r = ft_malloc(2 * n + 1), *o = r, *f;

	for (const char *p = repo; *p; p++) {
		if (*p == '/') {
			*o++ = '-';
			*o++ = '-';
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	f = ft_asprintf("%ss--%s", type, r);
	free(r);
	return f;
}

int
ft_hub_path_safe(const char *name)
{
	size_t n = strlen(name);
	const char *p = name, *q;

	if (n == 0 || n > 1024 || name[0] == '/')
		return 0;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		if (*c < 0x20 || *c == 0x7f || *c == '\\')
			return 0;
	for (;;) {
		q = strchr(p, '/');
		size_t len = q ? (size_t)(q - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
			(len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (q == NULL)
			break;
		p = q + 1;
	}
	return 1;
}

int
ft_hub_revision_safe(const char *rev)
{
	return ft_hub_path_safe(rev) && strlen(rev) <= 255;
}

int
ft_hub_repo_valid(const char *repo)
{
	const char *slash = strchr(repo, '/');
	size_t n = strlen(repo);

	if (n == 0 || n > 200 || strstr(repo, "--") || strstr(repo, ".."))
		return 0;
	if (slash != NULL && (slash == repo || slash[1] == '\0' || strchr(slash + 1, '/')))
		return 0;
	for (const char *p = repo; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
			*p != '.' && *p != '/')
			return 0;
	if (repo[0] == '-' || repo[0] == '.' || (slash && (slash[1] == '-' || slash[1] == '.')))
		return 0;
	return 1;
}

int
ft_hub_is_commit(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return i == 40;
}

char *
ft_hub_home_dir(void)
{
	const char *v = env("HF_HOME"), *home;
	struct passwd *pw;

	if (v != NULL)
		return ft_strdup(v);
	if ((v = env("XDG_CACHE_HOME")) != NULL)
		return ft_path_join(v, "huggingface");
	home = env("HOME");
	if (home == NULL && (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	return ft_asprintf("%s/.cache/huggingface", home ? home : ".");
}

char *
ft_hub_read_ref(const char *repodir, const char *rev)
{
	char *path = ft_asprintf("%s/refs/%s", repodir, rev), buf[128];
	FILE *fp = fopen(path, "rb");
	size_t n;

	free(path);
	if (fp == NULL)
		return NULL;
	n = fread(buf, 1, sizeof buf - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	return ft_hub_is_commit(buf) ? ft_strdup(buf) : NULL;
}

char *
ft_hub_cache_dir(void)
{
	const char *v;
	char *home, *dir;

	if ((v = env("HF_HUB_CACHE")) != NULL ||
	    (v = env("HUGGINGFACE_HUB_CACHE")) != NULL)
		return ft_strdup(v);
	home = ft_hub_home_dir();
	dir = ft_path_join(home, "hub");
	free(home);
	return dir;
}

char *
ft_hub_cached_snapshot(const char *cache, const char *type,
    const char *repo, const char *rev)
{
	char *folder, *repodir, *commit, *snap = NULL;
	struct stat st;

	if (!ft_hub_repo_valid(repo) || !ft_hub_revision_safe(rev))
		return NULL;
	folder = ft_hub_repo_folder(type, repo);
	repodir = ft_path_join(cache, folder);
	commit = ft_hub_read_ref(repodir, rev);
	if (commit != NULL) {
		snap = ft_asprintf("%s/snapshots/%s", repodir, commit);
		if (stat(snap, &st) != 0 || !S_ISDIR(st.st_mode)) {
			free(snap);
			snap = NULL;
		}
	}
	free(commit);
	free(repodir);
	free(folder);
	return snap;
}
