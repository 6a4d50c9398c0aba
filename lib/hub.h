/* hub — a Hugging Face Hub client over libcurl, sharing huggingface_hub's
 * cache (docs/hf-reference.md §1, §2).
 *
 * Files: HEAD {endpoint}/{repo}/resolve/{revision}/{file} gives the commit
 * (X-Repo-Commit), the blob id (X-Linked-Etag or ETag) and the size
 * (X-Linked-Size or Content-Length); relative redirects (renamed repos) are
 * followed, an absolute redirect (CDN) becomes the download URL.  The GET
 * writes blobs/ETAG.incomplete (resumed with Range after an interruption),
 * LFS blobs are checked against their sha256, then renamed to blobs/ETAG and
 * linked from snapshots/COMMIT/FILE (relative symlink); refs/REVISION holds
 * the commit; a missing file is remembered as .no_exist/COMMIT/FILE.
 * 429, 5xx and timeouts are retried with exponential backoff; when the Hub
 * cannot be reached (or HF_HUB_OFFLINE is set) the cache answers.
 *
 * The token (HF_TOKEN, HUGGING_FACE_HUB_TOKEN, HF_TOKEN_PATH or
 * $HF_HOME/token) is sent only to the Hub's own origin (and the dataset
 * viewer's), never to a redirect target on another host, and never printed
 * or written.  Names from the server are checked before they touch the
 * file system; headers and JSON answers are size-capped; a download never
 * exceeds its size (HEAD's, else for an LFS file the Hub's file tree's,
 * else a fixed 32 MiB cap), and one that would is refused with its
 * .incomplete removed; TLS peers are always verified.
 *
 * Every function reports its own errors (one line naming repo and file)
 * and returns -1; messages never contain the token. */
#ifndef FT_HUB_H
#define FT_HUB_H

#include <cJSON.h>
#include <stddef.h>
#include <stdio.h>

#include "hubcache.h"   /* the cache layout, shared with lib/modeldir */

struct ft_hub {
	char *endpoint;        /* HF_ENDPOINT or https://huggingface.co, no final '/' */
	char *viewer;          /* HF_DATASETS_SERVER_URL, else HF_ENDPOINT when
	                        * set, else the public viewer; no final '/' */
	char *cache;           /* cache root (ft_hub_cache_dir, hubcache.h) */
	char *token;           /* NULL when none; never printed */
	int offline;           /* HF_HUB_OFFLINE: no network at all */
	int progress;          /* allow progress bars (stderr is a terminal) */
	int retries;           /* extra tries for 429/5xx/timeouts (FT_HUB_RETRIES, 5) */
	long retry_delay_ms;   /* first backoff delay (FT_HUB_RETRY_DELAY_MS, 1000) */
	long etag_timeout_s;   /* HF_HUB_ETAG_TIMEOUT, 10 */
	long download_timeout_s; /* HF_HUB_DOWNLOAD_TIMEOUT, 10 (stall time) */
	int warned_offline;    /* "using the cache" said once */
	void *curl_;           /* private: CURL * */
	char *unreachable_;    /* private: why the Hub could not be reached */
};

/* Read the environment and set up libcurl.  Returns 0 or -1. */
int ft_hub_init(struct ft_hub *h);
void ft_hub_release(struct ft_hub *h);

/* Fetch one file of a repo into the cache.  type is "model" or "dataset".
 * revision NULL means "main".  Returns 0 with *path (the snapshot file)
 * and *commit malloc'd; 1 when the file does not exist in the repo and
 * optional is set (*path NULL, *commit set when known, else NULL); -1
 * after a message.  path or commit may be NULL when not wanted. */
int ft_hub_fetch(struct ft_hub *h, const char *type, const char *repo,
	const char *revision, const char *filename, int optional,
	char **path, char **commit);

/* Does the file exist in the repo (HEAD only, nothing downloaded)?
 * 1 yes, 0 no (or unknown offline and not cached), -1 after a message. */
int ft_hub_exists(struct ft_hub *h, const char *type, const char *repo,
	const char *revision, const char *filename);

/* GET a JSON document (dataset viewer or Hub API) with retries and a size
 * cap.  what names the request in messages.  Returns the parsed document
 * or NULL after a message. */
cJSON *ft_hub_get_json(struct ft_hub *h, const char *url, const char *what);
/* The same, also handing back the raw answer (*body malloc'd, NUL-ended). */
cJSON *ft_hub_get_json_body(struct ft_hub *h, const char *url, const char *what,
	char **body, size_t *len);

/* For a dataset viewer /rows answer (JSON text already accepted by cJSON):
 * write each rows[i].row as one compact JSON line to out (NULL: count
 * only), keys in order, strings decoded and re-escaped minimally (as
 * cJSON and Python's json.dumps(ensure_ascii=False) do), numbers copied
 * exactly as sent.  *count = rows written.  0, or -1 when malformed. */
int ft_hub_rows_write(const char *body, size_t len, FILE *out, long long *count);

/* Copy the named files of a snapshot folder into a plain folder dir.  A
 * new dir is filled under a temporary sibling name and renamed into place.
 * dir/.ft-fetch-files lists what ft wrote there; into an existing dir only
 * the model's files are written (each atomically) and those of an earlier
 * export that this model lacks removed; anything else there makes it
 * refuse, naming the files, unless force (then it stays).  0 or -1. */
int ft_hub_export(const char *snapshot, const char *const *files, size_t n,
	const char *dir, int force);

/* --- pieces, exported for tests --- */

/* Percent-encode s; keep_slash keeps '/' (file names) else encodes it
 * (revisions).  Unreserved characters stay.  malloc'd. */
char *ft_hub_quote(const char *s, int keep_slash);
/* {endpoint}/[datasets/]{repo}/resolve/{quoted rev}/{quoted file}. */
char *ft_hub_file_url(const char *endpoint, const char *type,
	const char *repo, const char *revision, const char *filename);
/* Drop a leading W/ and surrounding quotes.  malloc'd. */
char *ft_hub_etag_normalize(const char *raw);
/* A blob id usable as a file name: 1..128 of [A-Za-z0-9._-], not
 * starting with '.'.  Returns 1 when safe. */
int ft_hub_etag_safe(const char *etag);
/* "../../blobs/ETAG" with one more "../" per folder level in filename. */
char *ft_hub_link_target(const char *filename, const char *etag);
/* The token by huggingface_hub's lookup order, cleaned; NULL if none. */
char *ft_hub_token(void);
/* Is the environment variable a true flag (1, ON, YES, TRUE)? */
int ft_hub_env_true(const char *name);
/* Do two absolute URLs share scheme, host and port?  1 yes, 0 no. */
int ft_hub_same_origin(const char *a, const char *b);

#endif
