/* hubcache — the layout of huggingface_hub's cache on disk, without the
 * network (docs/hf-reference.md §1): where the cache is, how a repo id
 * names its folder, refs/REVISION, snapshots/COMMIT, and which names are
 * safe to use as paths.
 *
 * Who depends on whom: lib/hub (the network client, which writes the
 * cache) and lib/modeldir (which finds a model folder in it, offline) both
 * use this module; modeldir does not include hub.h and hub does not
 * include modeldir.h. */
#ifndef FT_HUBCACHE_H
#define FT_HUBCACHE_H

/* HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface.
 * malloc'd. */
char *ft_hub_home_dir(void);
/* The cache root: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else
 * $HF_HOME/hub (ft_hub_home_dir).  malloc'd. */
char *ft_hub_cache_dir(void);
/* "models--org--name" for ("model", "org/name"). malloc'd. */
char *ft_hub_repo_folder(const char *type, const char *repo);
/* "name" or "owner/name" with [A-Za-z0-9._-] parts, no "--", "..".  1 ok. */
int ft_hub_repo_valid(const char *repo);
/* 40 lowercase hex digits? */
int ft_hub_is_commit(const char *s);
/* A relative path whose components are not empty, "." or "..", without
 * backslashes or control characters, at most 1024 bytes.  1 when safe. */
int ft_hub_path_safe(const char *name);
/* A revision usable under refs/: same rules as a path, at most 255
 * bytes. */
int ft_hub_revision_safe(const char *rev);
/* The commit that repodir/refs/REV holds (trailing white space dropped),
 * malloc'd, or NULL when there is none or it is not a commit. */
char *ft_hub_read_ref(const char *repodir, const char *rev);
/* The folder cache/TYPEs--OWNER--NAME/snapshots/COMMIT that refs/REV of
 * repo names, when it exists; malloc'd, or NULL (no message). */
char *ft_hub_cached_snapshot(const char *cache, const char *type,
    const char *repo, const char *rev);

#endif
