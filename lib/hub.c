/* hub — see hub.h.
 *
 * One CURL handle is reused (curl_easy_reset keeps its connection cache).
 * Redirects are never followed by libcurl: each hop is examined here, so
 * that the Authorization header goes only to the Hub's origin and only
 * http/https targets are accepted.  Response headers are parsed by a
 * callback with a total cap; bodies go to a file (downloads) or to a
 * capped memory buffer (JSON). */
#include "hub.h"
#include "err.h"
#include "io.h"
#include "jsonl.h"
#include "hubcache.h"
#include "progress.h"
#include "sha1.h"
#include "sha256.h"

#include <ctype.h>
#include <dirent.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_ENDPOINT "https://huggingface.co"
#define DEFAULT_VIEWER "https://datasets-server.huggingface.co"
#define MAX_HEADER_BYTES (64 * 1024)   /* all headers of one response */
#define MAX_JSON_BYTES (64L << 20)     /* one JSON answer */
#define MAX_ERROR_BODY 4096
/* A file whose size neither HEAD nor the Hub's file tree gives: at most
 * this much (the Hub stores files above 10 MB in LFS, whose size it
 * always knows). */
#define MAX_UNSIZED_BYTES (32LL << 20)
#define MAX_REDIRECTS 10
#define USER_AGENT "ft-fetch/" FT_VERSION " (ft; +libcurl)"

/* ---------------------------------------------------------------- names */

static int
unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

char *
ft_hub_quote(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = ft_malloc(3 * n + 1), *o = out;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p) || (keep_slash && *p == '/')) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

char *
ft_hub_file_url(const char *endpoint, const char *type, const char *repo,
	const char *revision, const char *filename)
{
	char *rev = ft_hub_quote(revision ? revision : "main", 0);
	char *file = ft_hub_quote(filename, 1);
	char *url = ft_asprintf("%s/%s%s/resolve/%s/%s", endpoint,
		strcmp(type, "dataset") == 0 ? "datasets/" : "", repo, rev, file);

	free(rev);
	free(file);
	return url;
}

char *
ft_hub_etag_normalize(const char *raw)
{
	size_t n;

	while (*raw == ' ' || *raw == '\t')
		raw++;
	if (strncmp(raw, "W/", 2) == 0)
		raw += 2;
	n = strlen(raw);
	while (n > 0 && (raw[n - 1] == ' ' || raw[n - 1] == '\t'))
		n--;
	if (n >= 2 && raw[0] == '"' && raw[n - 1] == '"') {
		raw++;
		n -= 2;
	}
	return ft_strndup(raw, n);
}

int
ft_hub_etag_safe(const char *e)
{
	size_t n = strlen(e);

	if (n == 0 || n > 128 || e[0] == '.')
		return 0;
	for (const char *p = e; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
			return 0;
	return 1;
}

char *
ft_hub_link_target(const char *filename, const char *etag)
{
	size_t depth = 0, n;
	char *t, *o;

	for (const char *p = filename; *p; p++)
		depth += *p == '/';
	n = 3 * (depth + 2) + strlen("blobs/") + strlen(etag) + 1;
	t = o = ft_malloc(n);
	for (size_t i = 0; i < depth + 2; i++) {
		memcpy(o, "../", 3);
		o += 3;
	}
	snprintf(o, n - (size_t)(o - t), "blobs/%s", etag);
	return t;
}

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && *v != '\0') ? v : NULL;
}

int
ft_hub_env_true(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && (strcasecmp(v, "1") == 0 || strcasecmp(v, "on") == 0 ||
		strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0);
}

/* huggingface_hub's _clean_token: drop \r and \n, trim; empty = none. */
static char *
clean_token(const char *raw)
{
	char *t, *o;
	size_t n;

	if (raw == NULL)
		return NULL;
	t = o = ft_strdup(raw);
	for (const char *p = raw; *p; p++)
		if (*p != '\r' && *p != '\n')
			*o++ = *p;
	*o = '\0';
	n = strlen(t);
	while (n > 0 && isspace((unsigned char)t[n - 1]))
		t[--n] = '\0';
	o = t;
	while (isspace((unsigned char)*o))
		o++;
	memmove(t, o, strlen(o) + 1);
	if (*t == '\0') {
		free(t);
		return NULL;
	}
	for (const unsigned char *p = (const unsigned char *)t; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			ft_warn("ignoring a Hub token that contains control characters");
			free(t);
			return NULL;
		}
	return t;
}

char *
ft_hub_token(void)
{
	char *t, *path, *buf;
	size_t n;
	const char *v;
	FILE *fp;

	if ((t = clean_token(getenv("HF_TOKEN"))) != NULL)
		return t;
	if ((t = clean_token(getenv("HUGGING_FACE_HUB_TOKEN"))) != NULL)
		return t;
	if ((v = env("HF_TOKEN_PATH")) != NULL) {
		path = ft_strdup(v);
	} else {
		char *home = ft_hub_home_dir();
		path = ft_path_join(home, "token");
		free(home);
	}
	fp = fopen(path, "rb");
	free(path);
	if (fp == NULL)
		return NULL;
	buf = ft_calloc(1, 4097);
	n = fread(buf, 1, 4096, fp);
	buf[n] = '\0';
	fclose(fp);
	t = clean_token(buf);
	memset(buf, 0, 4097);
	free(buf);
	return t;
}

int
ft_hub_same_origin(const char *a, const char *b)
{
	CURLU *ua = curl_url(), *ub = curl_url();
	char *sa = NULL, *sb = NULL, *ha = NULL, *hb = NULL, *pa = NULL, *pb = NULL;
	int same = 0;

	if (ua && ub &&
		curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
		curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK &&
		curl_url_get(ua, CURLUPART_SCHEME, &sa, 0) == CURLUE_OK &&
		curl_url_get(ub, CURLUPART_SCHEME, &sb, 0) == CURLUE_OK &&
		curl_url_get(ua, CURLUPART_HOST, &ha, 0) == CURLUE_OK &&
		curl_url_get(ub, CURLUPART_HOST, &hb, 0) == CURLUE_OK &&
		curl_url_get(ua, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT) == CURLUE_OK &&
		curl_url_get(ub, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT) == CURLUE_OK)
		same = strcasecmp(sa, sb) == 0 && strcasecmp(ha, hb) == 0 &&
			strcmp(pa, pb) == 0;
	curl_free(sa); curl_free(sb); curl_free(ha); curl_free(hb);
	curl_free(pa); curl_free(pb);
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

static int
http_url(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* ------------------------------------------------------------ setup */

static long
env_long(const char *name, long def, long min, long max)
{
	const char *v = env(name);
	char *end;
	long x;

	if (v == NULL)
		return def;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < min || x > max) {
		ft_warn("ignoring %s='%s' (want %ld..%ld)", name, v, min, max);
		return def;
	}
	return x;
}

int
ft_hub_init(struct ft_hub *h)
{
	static int global_done;
	const char *v;
	size_t n;

	memset(h, 0, sizeof *h);
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			return ft_error("cannot initialise libcurl");
		atexit(curl_global_cleanup);
		global_done = 1;
	}
	v = env("HF_ENDPOINT");
	h->endpoint = ft_strdup(v ? v : DEFAULT_ENDPOINT);
	n = strlen(h->endpoint);
	while (n > 0 && h->endpoint[n - 1] == '/')
		h->endpoint[--n] = '\0';
	/* The viewer: HF_DATASETS_SERVER_URL; else, with HF_ENDPOINT set (a
	 * mirror), the mirror itself (its /splits, /rows): rows never go to
	 * the public viewer when only HF_ENDPOINT names another host. */
	v = env("HF_DATASETS_SERVER_URL");
	if (v == NULL && env("HF_ENDPOINT") != NULL)
		v = h->endpoint;
	h->viewer = ft_strdup(v ? v : DEFAULT_VIEWER);
	n = strlen(h->viewer);
	while (n > 0 && h->viewer[n - 1] == '/')
		h->viewer[--n] = '\0';
	if (!http_url(h->endpoint)) {
		ft_error("HF_ENDPOINT '%s' is not an http or https URL", h->endpoint);
		goto fail;
	}
	h->cache = ft_hub_cache_dir();
	h->token = ft_hub_token();
	h->offline = ft_hub_env_true("HF_HUB_OFFLINE") || ft_hub_env_true("TRANSFORMERS_OFFLINE");
	h->progress = 1;
	h->retries = (int)env_long("FT_HUB_RETRIES", 5, 0, 100);
	h->retry_delay_ms = env_long("FT_HUB_RETRY_DELAY_MS", 1000, 0, 600000);
	h->etag_timeout_s = env_long("HF_HUB_ETAG_TIMEOUT", 10, 1, 86400);
	h->download_timeout_s = env_long("HF_HUB_DOWNLOAD_TIMEOUT", 10, 1, 86400);
	h->curl_ = curl_easy_init();
	if (h->curl_ == NULL) {
		ft_error("cannot initialise libcurl");
		goto fail;
	}
	return 0;
fail:
	ft_hub_release(h);
	return -1;
}

void
ft_hub_release(struct ft_hub *h)
{
	if (h->curl_ != NULL)
		curl_easy_cleanup(h->curl_);
	free(h->endpoint);
	free(h->viewer);
	free(h->cache);
	free(h->unreachable_);
	if (h->token != NULL) {
		memset(h->token, 0, strlen(h->token));
		free(h->token);
	}
	memset(h, 0, sizeof *h);
}

/* ------------------------------------------------------------ requests */

struct resp {
	long status;
	char *location, *commit, *etag, *linked_etag, *error_code, *error_message;
	long long linked_size, content_length, range_start;
	size_t hdr_bytes;
	int hdr_overflow;
	/* body to a file */
	int fd;
	uint64_t have;        /* bytes in the file before this request */
	uint64_t written;
	long long limit;      /* most bytes the file may reach (-1: none) */
	int too_long, write_err, started;
	/* body to memory */
	char *body;
	size_t blen, bcap, bmax;
	int body_overflow;
	struct ft_progress *prog;
	CURL *curl;
};

static void
resp_clear_headers(struct resp *r)
{
	free(r->location); free(r->commit); free(r->etag);
	free(r->linked_etag); free(r->error_code); free(r->error_message);
	r->location = r->commit = r->etag = r->linked_etag = NULL;
	r->error_code = r->error_message = NULL;
	r->linked_size = r->content_length = r->range_start = -1;
}

static void
resp_free(struct resp *r)
{
	resp_clear_headers(r);
	free(r->body);
	r->body = NULL;
}

static void
set_header(char **dst, const char *v, size_t n)
{
	free(*dst);
	*dst = ft_strndup(v, n);
}

static size_t
on_header(char *data, size_t size, size_t nitems, void *ud)
{
	struct resp *r = ud;
	size_t n = size * nitems, nl, vl;
	const char *colon, *v;

	r->hdr_bytes += n;
	if (r->hdr_bytes > MAX_HEADER_BYTES) {
		r->hdr_overflow = 1;
		return 0;
	}
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new response (e.g. after 100 Continue): forget the old one. */
		resp_clear_headers(r);
		return n;
	}
	colon = memchr(data, ':', n);
	if (colon == NULL)
		return n;
	nl = (size_t)(colon - data);
	v = colon + 1;
	vl = n - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
#define IS(name) (nl == sizeof(name) - 1 && strncasecmp(data, name, nl) == 0)
	if (IS("location"))
		set_header(&r->location, v, vl);
	else if (IS("x-repo-commit"))
		set_header(&r->commit, v, vl);
	else if (IS("etag"))
		set_header(&r->etag, v, vl);
	else if (IS("x-linked-etag"))
		set_header(&r->linked_etag, v, vl);
	else if (IS("x-error-code"))
		set_header(&r->error_code, v, vl);
	else if (IS("x-error-message"))
		set_header(&r->error_message, v, vl < 300 ? vl : 300);
	else if (IS("x-linked-size") || IS("content-length") || IS("content-range")) {
		char tmp[64], *end;
		long long x;
		const char *s = tmp;
		if (vl >= sizeof tmp)
			return n;
		memcpy(tmp, v, vl);
		tmp[vl] = '\0';
		if (IS("content-range")) {
			if (strncasecmp(tmp, "bytes ", 6) != 0)
				return n;
			s = tmp + 6;
		}
		errno = 0;
		x = strtoll(s, &end, 10);
		if (errno != 0 || end == s || x < 0)
			return n;
		if (IS("x-linked-size"))
			r->linked_size = x;
		else if (IS("content-length"))
			r->content_length = x;
		else
			r->range_start = x;
	}
#undef IS
	return n;
}

static size_t
on_body_mem(char *data, size_t size, size_t nitems, void *ud)
{
	struct resp *r = ud;
	size_t n = size * nitems;

	if (r->blen + n > r->bmax) {
		r->body_overflow = 1;
		return 0;
	}
	ft_grow((void **)&r->body, &r->bcap, r->blen + n + 1, 1);
	memcpy(r->body + r->blen, data, n);
	r->blen += n;
	r->body[r->blen] = '\0';
	return n;
}

static size_t
on_body_file(char *data, size_t size, size_t nitems, void *ud)
{
	struct resp *r = ud;
	size_t n = size * nitems, off = 0;
	long code = 0;

	if (!r->started) {
		curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
		r->status = code;
		r->started = 1;
		if (code == 206 && (r->range_start < 0 || (uint64_t)r->range_start != r->have)) {
			r->write_err = 2; /* the range we got is not the one asked for */
			return 0;
		}
		if (code == 200 && r->have > 0) {
			/* The server ignored Range: start over. */
			if (ftruncate(r->fd, 0) != 0) {
				r->write_err = 1;
				return 0;
			}
			r->have = 0;
		}
	}
	if (r->status != 200 && r->status != 206) {
		r->bmax = MAX_ERROR_BODY;
		on_body_mem(data, size, nitems, ud);
		return n; /* keep reading the error body (capped) */
	}
	if (r->limit >= 0 && r->have + r->written + n > (uint64_t)r->limit) {
		r->too_long = 1;
		return 0;
	}
	while (off < n) {
		ssize_t w = write(r->fd, data + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			r->write_err = 1;
			return 0;
		}
		off += (size_t)w;
	}
	r->written += n;
	if (r->prog != NULL)
		ft_progress_update(r->prog, r->have + r->written);
	return n;
}

/* One HTTP request, no redirect following.  range: bytes to skip (0 =
 * none).  auth: send the token.  Returns the CURLcode. */
static CURLcode
request(struct ft_hub *h, const char *method, const char *url, uint64_t range,
	int auth, long timeout_s, struct resp *r, char *errbuf)
{
	CURL *c = h->curl_;
	struct curl_slist *hdrs = NULL;
	char *authz = NULL, rangebuf[64];
	CURLcode rc;

	curl_easy_reset(c);
	r->status = 0;
	r->hdr_bytes = 0;
	r->hdr_overflow = 0;
	r->curl = c;
	r->started = 0;
	resp_clear_headers(r);
	errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)1 << 40);
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
		hdrs = curl_slist_append(hdrs, "Accept-Encoding: identity");
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		/* A stalled transfer is a timeout; a slow one is fine. */
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout_s);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, r->fd >= 0 ? on_body_file : on_body_mem);
	}
	if (range > 0) {
		snprintf(rangebuf, sizeof rangebuf, "%llu-", (unsigned long long)range);
		curl_easy_setopt(c, CURLOPT_RANGE, rangebuf);
	}
	if (auth && h->token != NULL) {
		authz = ft_asprintf("Authorization: Bearer %s", h->token);
		hdrs = curl_slist_append(hdrs, authz);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(c);
	if (!r->started || r->status == 0)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	if (authz != NULL) {
		memset(authz, 0, strlen(authz));
		free(authz);
	}
	return rc;
}

/* The absolute URL a 3xx points to, checked; NULL after a message. */
static char *
redirect_target(struct ft_hub *h, const char *what)
{
	char *u = NULL;

	curl_easy_getinfo((CURL *)h->curl_, CURLINFO_REDIRECT_URL, &u);
	if (u == NULL || !http_url(u)) {
		ft_error("%s: bad redirect from the server", what);
		return NULL;
	}
	return ft_strdup(u);
}

/* Move *url to the target of the 3xx just received.  0 or -1. */
static int
follow(struct ft_hub *h, const char *what, char **url, int *hops)
{
	char *next;

	if (++*hops > MAX_REDIRECTS)
		return ft_error("%s: too many redirects", what);
	if ((next = redirect_target(h, what)) == NULL)
		return -1;
	free(*url);
	*url = next;
	return 0;
}

static int
transient_curl(CURLcode rc)
{
	return rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_PARTIAL_FILE ||
		rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
		rc == CURLE_GOT_NOTHING || rc == CURLE_HTTP2 ||
		rc == CURLE_HTTP2_STREAM || rc == CURLE_SSL_CONNECT_ERROR;
}

static int
unreachable_curl(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
		rc == CURLE_COULDNT_RESOLVE_PROXY;
}

static int
transient_status(long s)
{
	return s == 429 || (s >= 500 && s <= 599);
}

static void
backoff(struct ft_hub *h, int attempt)
{
	long ms = h->retry_delay_ms;
	struct timespec ts;

	for (int i = 0; i < attempt && ms < 8000; i++)
		ms *= 2;
	if (ms > 8000 && h->retry_delay_ms <= 8000)
		ms = 8000;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const char *
curl_why(CURLcode rc, const char *errbuf)
{
	return errbuf[0] ? errbuf : curl_easy_strerror(rc);
}

/* ------------------------------------------------------------ metadata */

struct meta {
	char *commit, *etag, *url; /* url: where to GET */
	long long size;            /* -1 unknown */
	int sum;                   /* SUM_*: what the etag says of the content */
	int lfs;                   /* an LFS file (linked etag or redirect) */
};

/* An LFS etag (X-Linked-Etag) is the sha256 of the content; the plain
 * ETag of a regular file served by the Hub itself is its git blob id. */
enum { SUM_NONE, SUM_SHA256, SUM_GIT_SHA1 };

static void
meta_free(struct meta *m)
{
	free(m->commit);
	free(m->etag);
	free(m->url);
	memset(m, 0, sizeof *m);
}

enum { META_OK = 0, META_MISSING = 1, META_ERROR = -1, META_OFFLINE = -2 };

static int
error_status(const char *what, const struct resp *r)
{
	const char *code = r->error_code ? r->error_code : "";

	if (strcmp(code, "GatedRepo") == 0)
		return ft_error("%s: gated repository: accept its terms on the Hub "
			"and set HF_TOKEN", what);
	if (strcmp(code, "RepoNotFound") == 0 || r->status == 401)
		return ft_error("%s: repository not found (a private or gated "
			"repository needs HF_TOKEN)", what);
	if (strcmp(code, "RevisionNotFound") == 0)
		return ft_error("%s: revision not found", what);
	if (strcmp(code, "EntryNotFound") == 0 || r->status == 404)
		return ft_error("%s: file not found in the repository", what);
	if (r->status == 403)
		return ft_error("%s: access denied (HTTP 403)", what);
	return ft_error("%s: HTTP %ld from the Hub", what, r->status);
}

/* HEAD the file, following relative redirects.  Transient errors (429,
 * 5xx, timeouts) are retried, but only when nothing is cached (as
 * huggingface_hub does): with a cached copy they mean "use the cache".
 * META_OFFLINE sets *why to the reason. */
static int
head_meta(struct ft_hub *h, const char *url0, const char *what, int cached,
	char **why, struct meta *m)
{
	struct resp r;
	char errbuf[CURL_ERROR_SIZE], *url = ft_strdup(url0);
	CURLcode rc;
	int attempt = 0, hops = 0, ret = META_ERROR;

	memset(m, 0, sizeof *m);
	memset(&r, 0, sizeof r);
	r.fd = -1;
	m->size = -1;
	for (;;) {
		rc = request(h, "HEAD", url, 0, ft_hub_same_origin(url, h->endpoint),
			h->etag_timeout_s, &r, errbuf);
		if (r.hdr_overflow) {
			ft_error("%s: response headers longer than %d bytes", what, MAX_HEADER_BYTES);
			goto out;
		}
		if (rc != CURLE_OK) {
			if (unreachable_curl(rc) ||
				(transient_curl(rc) && (cached || attempt >= h->retries))) {
				*why = ft_asprintf("cannot reach %s (%s)", h->endpoint,
					curl_why(rc, errbuf));
				free(h->unreachable_);
				h->unreachable_ = ft_strdup(*why);
				ret = META_OFFLINE;
				goto out;
			}
			if (!transient_curl(rc)) {
				ft_error("%s: %s", what, curl_why(rc, errbuf));
				goto out;
			}
			backoff(h, attempt++);
			continue;
		}
		if (transient_status(r.status)) {
			if (cached || attempt >= h->retries) {
				*why = ft_asprintf("HTTP %ld from %s after %d %s", r.status,
					h->endpoint, attempt + 1, attempt ? "tries" : "try");
				ret = META_OFFLINE;
				goto out;
			}
			backoff(h, attempt++);
			continue;
		}
		if (r.status >= 300 && r.status < 400 && r.location != NULL &&
			r.location[0] == '/' && r.location[1] != '/') {
			/* A renamed repo: repeat the HEAD at the new place. */
			if (follow(h, what, &url, &hops) != 0)
				goto out;
			continue;
		}
		break;
	}
	if (r.status == 404 && r.error_code && strcmp(r.error_code, "EntryNotFound") == 0) {
		if (r.commit != NULL && ft_hub_is_commit(r.commit))
			m->commit = ft_strdup(r.commit);
		ret = META_MISSING;
		goto out;
	}
	if (r.status >= 400) {
		error_status(what, &r);
		goto out;
	}
	if (r.status >= 300 && r.status < 400) {
		if ((m->url = redirect_target(h, what)) == NULL)
			goto out;
	} else if (r.status >= 200 && r.status < 300) {
		m->url = ft_strdup(url);
		m->size = r.content_length;
	} else {
		ft_error("%s: unexpected HTTP %ld from the Hub", what, r.status);
		goto out;
	}
	if (r.commit == NULL) {
		ft_error("%s: no X-Repo-Commit in the answer: '%s' does not look like "
			"a Hugging Face Hub", what, h->endpoint);
		goto out;
	}
	if (!ft_hub_is_commit(r.commit)) {
		ft_error("%s: the server sent a malformed commit id", what);
		goto out;
	}
	m->commit = ft_strdup(r.commit);
	if (r.linked_etag != NULL) {
		m->etag = ft_hub_etag_normalize(r.linked_etag);
	} else if (r.etag != NULL) {
		m->etag = ft_hub_etag_normalize(r.etag);
	} else {
		ft_error("%s: no ETag in the answer of the Hub", what);
		goto out;
	}
	if (!ft_hub_etag_safe(m->etag)) {
		ft_error("%s: the server sent an unusable blob id", what);
		goto out;
	}
	if (r.linked_size >= 0)
		m->size = r.linked_size;
	m->lfs = r.linked_etag != NULL || (r.status >= 300 && r.status < 400);
	m->sum = SUM_NONE;
	if (r.linked_etag != NULL && strlen(m->etag) == 64) {
		m->sum = SUM_SHA256;
		for (char *p = m->etag; *p; p++)
			if (!isxdigit((unsigned char)*p))
				m->sum = SUM_NONE;
	} else if (r.linked_etag == NULL && r.status >= 200 && r.status < 300 &&
		ft_hub_is_commit(m->etag)) {
		m->sum = SUM_GIT_SHA1; /* 40 lowercase hex digits, like a commit */
	}
	ret = META_OK;
out:
	if (ret != META_OK && ret != META_MISSING)
		meta_free(m);
	else if (ret == META_MISSING) {
		free(m->etag); m->etag = NULL;
		free(m->url); m->url = NULL;
	}
	resp_free(&r);
	free(url);
	return ret;
}

/* ------------------------------------------------------------ cache */

/* Write text to path atomically (folders created).  0 or -1. */
static int
write_small(const char *path, const char *text)
{
	ft_atomic a;
	char *dir = ft_strdup(path), *slash = strrchr(dir, '/');

	if (slash != NULL) {
		*slash = '\0';
		if (ft_mkdir_p(dir, 0777) != 0) {
			free(dir);
			return -1;
		}
	}
	free(dir);
	if (ft_atomic_open(&a, path) != 0)
		return -1;
	if (fputs(text, a.fp) == EOF) {
		ft_atomic_abort(&a);
		return ft_error("cannot write '%s':", path);
	}
	return ft_atomic_commit(&a);
}

/* The cache's answer for (rev, file): 0 found (*path, *commit), 1 known
 * missing (.no_exist), -1 nothing. */
static int
cache_lookup(const char *repodir, const char *rev, const char *file,
	char **path, char **commit)
{
	char *c = ft_hub_is_commit(rev) ? ft_strdup(rev) : ft_hub_read_ref(repodir, rev), *p;
	struct stat st;

	if (c == NULL)
		return -1;
	p = ft_asprintf("%s/snapshots/%s/%s", repodir, c, file);
	if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
		*path = p;
		*commit = c;
		return 0;
	}
	free(p);
	p = ft_asprintf("%s/.no_exist/%s/%s", repodir, c, file);
	if (lstat(p, &st) == 0) {
		free(p);
		*path = NULL;
		*commit = c;
		return 1;
	}
	free(p);
	free(c);
	return -1;
}

/* snapshots/COMMIT/FILE -> ../../blobs/ETAG, replaced atomically. */
static int
make_pointer(const char *pointer, const char *file, const char *etag)
{
	char *dir = ft_strdup(pointer), *slash = strrchr(dir, '/');
	char *target = ft_hub_link_target(file, etag), *tmp = NULL;
	int rc = -1, slot;

	*slash = '\0';
	if (ft_mkdir_p(dir, 0777) != 0)
		goto out;
	tmp = ft_asprintf("%s.tmp%ld", pointer, (long)getpid());
	unlink(tmp);
	slot = ft_tmp_register(tmp);
	if (symlink(target, tmp) != 0) {
		ft_error("cannot create the link '%s':", tmp);
		ft_tmp_unregister(slot);
		goto out;
	}
	if (rename(tmp, pointer) != 0) {
		ft_error("cannot rename '%s' to '%s':", tmp, pointer);
		unlink(tmp);
		ft_tmp_unregister(slot);
		goto out;
	}
	ft_tmp_unregister(slot);
	ft_fsync_dir(dir);
	rc = 0;
out:
	free(tmp);
	free(target);
	free(dir);
	return rc;
}

/* The digest of the whole file behind fd in hex, of the kind sum names:
 * the sha256 of the content, or its git blob id (sha1 of "blob SIZE\0" +
 * content).  Read from the start, so a resumed download is checked whole. */
static int
digest_file(int fd, int sum, char hex[65])
{
	static char buf[1 << 16];
	ft_sha256 c256;
	ft_sha1 c1;
	uint8_t d[32];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) != 0 || lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	if (sum == SUM_SHA256)
		ft_sha256_init(&c256);
	else
		ft_sha1_git_blob_init(&c1, (uint64_t)st.st_size);
	while ((n = read(fd, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (sum == SUM_SHA256)
			ft_sha256_update(&c256, buf, (size_t)n);
		else
			ft_sha1_update(&c1, buf, (size_t)n);
	}
	if (sum == SUM_SHA256) {
		ft_sha256_final(&c256, d);
		ft_sha256_hex(d, hex);
	} else {
		ft_sha1_final(&c1, d);
		ft_sha1_hex(d, hex);
	}
	return 0;
}

/* Check the finished inc (open as fd) against m->etag when the etag is a
 * checksum; on a mismatch delete it (a rerun must start clean) and fail
 * with one line naming repo and file.  0 or -1. */
static int
verify_blob(const struct meta *m, int fd, const char *inc, const char *what)
{
	char hex[65];

	if (m->sum == SUM_NONE)
		return 0;
	if (digest_file(fd, m->sum, hex) != 0) {
		ft_error("cannot read '%s':", inc);
		return -1;
	}
	if (strcmp(hex, m->etag) != 0) {
		unlink(inc);
		ft_error("%s: checksum mismatch: %s %s, the Hub says %s "
			"(the partial download was deleted)", what,
			m->sum == SUM_SHA256 ? "sha256" : "git blob sha1", hex, m->etag);
		return -1;
	}
	return 0;
}

/* GET m->url into blob (via blob.incomplete, resumed).  0 or -1. */
static int
download(struct ft_hub *h, const struct meta *m, const char *blob,
	const char *what, const char *file)
{
	char *inc = ft_asprintf("%s.incomplete", blob), *url = NULL;
	char errbuf[CURL_ERROR_SIZE];
	struct ft_progress prog;
	struct resp r;
	struct stat st;
	CURLcode rc;
	int fd = -1, ret = -1, attempt = 0, hops = 0;
	const char *base = strrchr(file, '/');

	memset(&r, 0, sizeof r);
	fd = open(inc, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		ft_error("cannot open '%s':", inc);
		goto out;
	}
	ft_progress_init(&prog, base ? base + 1 : file,
		m->size > 0 ? (uint64_t)m->size : 0, 1, h->progress);
	url = ft_strdup(m->url);
	for (;;) {
		if (fstat(fd, &st) != 0) {
			ft_error("cannot stat '%s':", inc);
			goto out;
		}
		r.have = (uint64_t)st.st_size;
		if (m->size >= 0 && r.have > (uint64_t)m->size) {
			if (ftruncate(fd, 0) != 0) {
				ft_error("cannot truncate '%s':", inc);
				goto out;
			}
			r.have = 0;
		}
		if (m->size >= 0 && r.have == (uint64_t)m->size && r.have > 0)
			break; /* complete already */
		r.fd = fd;
		r.written = 0;
		r.limit = m->size >= 0 ? m->size : MAX_UNSIZED_BYTES;
		r.too_long = r.write_err = 0;
		r.blen = 0;
		r.prog = &prog;
		rc = request(h, "GET", url, r.have, ft_hub_same_origin(url, h->endpoint),
			h->download_timeout_s, &r, errbuf);
		if (r.write_err == 1) {
			ft_error("cannot write '%s':", inc);
			goto out;
		}
		if (r.too_long) {
			ft_progress_clear(&prog);
			unlink(inc);
			if (m->size >= 0)
				ft_error("%s: the server sent more than the announced %lld "
					"bytes", what, m->size);
			else
				ft_error("%s: the server gave no size and sent more than %lld "
					"bytes: refusing an unbounded download", what,
					MAX_UNSIZED_BYTES);
			goto out;
		}
		if (r.hdr_overflow) {
			ft_progress_clear(&prog);
			ft_error("%s: response headers longer than %d bytes", what, MAX_HEADER_BYTES);
			goto out;
		}
		if (r.write_err == 2 || r.status == 416) {
			/* Our partial file does not fit the server's idea: restart. */
			if (ftruncate(fd, 0) != 0) {
				ft_error("cannot truncate '%s':", inc);
				goto out;
			}
			if (attempt >= h->retries) {
				ft_progress_clear(&prog);
				ft_error("%s: the server does not resume downloads correctly", what);
				goto out;
			}
			attempt++;
			continue;
		}
		if (rc == CURLE_OK && r.status >= 300 && r.status < 400) {
			if (follow(h, what, &url, &hops) != 0) {
				ft_progress_clear(&prog);
				goto out;
			}
			continue;
		}
		if ((rc != CURLE_OK && (transient_curl(rc) || unreachable_curl(rc))) ||
			(rc == CURLE_OK && transient_status(r.status))) {
			if (attempt >= h->retries) {
				ft_progress_clear(&prog);
				if (rc != CURLE_OK)
					ft_error("%s: download failed after %d tries: %s (run again to resume)",
						what, attempt + 1, curl_why(rc, errbuf));
				else
					ft_error("%s: HTTP %ld after %d tries (run again to resume)",
						what, r.status, attempt + 1);
				goto out;
			}
			backoff(h, attempt++);
			free(url);
			url = ft_strdup(m->url); /* CDN links may expire: start again */
			hops = 0;
			continue;
		}
		if (rc != CURLE_OK) {
			ft_progress_clear(&prog);
			ft_error("%s: download failed: %s", what, curl_why(rc, errbuf));
			goto out;
		}
		if (r.status != 200 && r.status != 206) {
			ft_progress_clear(&prog);
			error_status(what, &r);
			goto out;
		}
		if (fstat(fd, &st) != 0) {
			ft_error("cannot stat '%s':", inc);
			goto out;
		}
		if (m->size >= 0 && st.st_size != m->size) {
			/* Short body without a transport error: resume. */
			if (attempt >= h->retries) {
				ft_progress_clear(&prog);
				ft_error("%s: got %lld of %lld bytes (run again to resume)", what,
					(long long)st.st_size, m->size);
				goto out;
			}
			backoff(h, attempt++);
			continue;
		}
		break;
	}
	ft_progress_finish(&prog);
	if (verify_blob(m, fd, inc, what) != 0)
		goto out;
	if (fsync(fd) != 0 && errno != EINVAL) {
		ft_error("cannot sync '%s':", inc);
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(inc, blob) != 0) {
		ft_error("cannot rename '%s' to '%s':", inc, blob);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	resp_free(&r);
	free(url);
	free(inc);
	return ret;
}

/* The size of an LFS file whose HEAD gave none, from the Hub's file tree
 * ({endpoint}/api/{type}s/{repo}/tree/{commit}/{folder}: entries with
 * "path", "size" and, for LFS files, "lfs": {"size"}).  0, or -1 after a
 * message: without a size the download would have no bound. */
static int
tree_size(struct ft_hub *h, const char *type, const char *repo,
	const char *commit, const char *file, const char *what, long long *size)
{
	const char *slash = strrchr(file, '/');
	char *dir = slash ? ft_strndup(file, (size_t)(slash - file)) : ft_strdup("");
	char *qd = ft_hub_quote(dir, 1), *qr = ft_hub_quote(commit, 0);
	char *url = ft_asprintf("%s/api/%ss/%s/tree/%s%s%s", h->endpoint, type, repo,
		qr, *qd ? "/" : "", qd);
	cJSON *tree = ft_hub_get_json(h, url, what), *e;
	cJSON *arr = cJSON_IsArray(tree) ? tree : NULL;
	int rc = -1;

	*size = -1;
	cJSON_ArrayForEach(e, arr) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "path");
		const cJSON *lfs = cJSON_GetObjectItemCaseSensitive(e, "lfs");
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(
			cJSON_IsObject(lfs) ? lfs : e, "size");

		if (cJSON_IsString(p) && strcmp(p->valuestring, file) == 0 &&
			cJSON_IsNumber(n) && n->valuedouble >= 0 &&
			n->valuedouble <= 9007199254740992.0 &&
			n->valuedouble == (double)(long long)n->valuedouble) {
			*size = (long long)n->valuedouble;
			rc = 0;
			break;
		}
	}
	if (rc != 0 && tree != NULL)
		ft_error("%s: the Hub gives no size for this file (no X-Linked-Size, "
			"not in its file tree): refusing an unbounded download", what);
	cJSON_Delete(tree);
	free(url);
	free(qd);
	free(qr);
	free(dir);
	return rc;
}

static int
lock_blob(struct ft_hub *h, const char *folder, const char *etag)
{
	char *dir = ft_asprintf("%s/.locks/%s", h->cache, folder);
	char *path = ft_asprintf("%s/%s.lock", dir, etag);
	int fd = -1;

	if (ft_mkdir_p(dir, 0777) != 0)
		goto out;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		ft_error("cannot open '%s':", path);
		goto out;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			ft_error("cannot lock '%s':", path);
			close(fd);
			fd = -1;
			goto out;
		}
	}
out:
	free(dir);
	free(path);
	return fd;
}

int
ft_hub_fetch(struct ft_hub *h, const char *type, const char *repo,
	const char *revision, const char *filename, int optional,
	char **path_out, char **commit_out)
{
	char *folder = NULL, *repodir = NULL, *url = NULL, *what = NULL;
	char *path = NULL, *commit = NULL, *why = NULL, *blob = NULL, *p;
	struct meta m;
	struct stat st;
	int ret = -1, r, lockfd = -1;

	memset(&m, 0, sizeof m);
	if (revision == NULL)
		revision = "main";
	what = ft_asprintf("%s: %s", repo, filename);
	if (!ft_hub_repo_valid(repo)) {
		ft_error("'%s' is not a valid repository id", repo);
		goto out;
	}
	if (!ft_hub_path_safe(filename)) {
		ft_error("%s: refusing an unsafe file name", what);
		goto out;
	}
	if (!ft_hub_revision_safe(revision)) {
		ft_error("%s: invalid revision '%s'", what, revision);
		goto out;
	}
	folder = ft_hub_repo_folder(type, repo);
	repodir = ft_path_join(h->cache, folder);
	if (h->offline) {
		/* An optional file the cache does not know is taken as absent. */
		r = cache_lookup(repodir, revision, filename, &path, &commit);
		if (r == 0 || optional) {
			ret = r == 0 ? 0 : 1;
			goto out;
		}
		if (r == 1)
			ft_error("%s: file not found in the repository (cached answer; "
				"HF_HUB_OFFLINE is set)", what);
		else
			ft_error("%s: not in the cache '%s' and HF_HUB_OFFLINE is set",
				what, h->cache);
		goto out;
	}
	url = ft_hub_file_url(h->endpoint, type, repo, revision, filename);
	r = cache_lookup(repodir, revision, filename, &path, &commit);
	free(path);
	free(commit);
	path = commit = NULL;
	if (h->unreachable_ != NULL) {
		/* Unreachable a moment ago: don't wait for it again. */
		why = ft_strdup(h->unreachable_);
		r = META_OFFLINE;
	} else {
		r = head_meta(h, url, what, r >= 0, &why, &m);
	}
	if (r == META_OFFLINE) {
		r = cache_lookup(repodir, revision, filename, &path, &commit);
		if (r == 0 || (optional && (r == 1 || h->unreachable_ != NULL))) {
			r = r == 0 ? 0 : 1;
			if (!h->warned_offline)
				ft_warn("%s: using the cache", why);
			h->warned_offline = 1;
			ret = r;
			goto out;
		}
		ft_error("%s: %s and nothing is cached", what, why);
		goto out;
	}
	if (r == META_ERROR)
		goto out;
	if (m.commit != NULL && strcmp(revision, m.commit) != 0) {
		char *have = ft_hub_read_ref(repodir, revision);
		p = ft_asprintf("%s/refs/%s", repodir, revision);
		if ((have == NULL || strcmp(have, m.commit) != 0) && write_small(p, m.commit) != 0) {
			free(p);
			free(have);
			goto out;
		}
		free(p);
		free(have);
	}
	if (r == META_MISSING) {
		if (m.commit != NULL) {
			p = ft_asprintf("%s/.no_exist/%s/%s", repodir, m.commit, filename);
			if (write_small(p, "") != 0) {
				free(p);
				goto out;
			}
			free(p);
			commit = ft_strdup(m.commit);
		}
		if (optional)
			ret = 1;
		else
			ft_error("%s: file not found in the repository", what);
		goto out;
	}
	commit = ft_strdup(m.commit);
	path = ft_asprintf("%s/snapshots/%s/%s", repodir, m.commit, filename);
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
		ret = 0;
		goto out;
	}
	p = ft_path_join(repodir, "blobs");
	if (ft_mkdir_p(p, 0777) != 0) {
		free(p);
		goto out;
	}
	blob = ft_path_join(p, m.etag);
	free(p);
	if (stat(blob, &st) != 0 && m.size < 0 && m.lfs &&
		tree_size(h, type, repo, m.commit, filename, what, &m.size) != 0)
		goto out;
	if (stat(blob, &st) != 0) {
		lockfd = lock_blob(h, folder, m.etag);
		if (lockfd < 0)
			goto out;
		if (stat(blob, &st) != 0 && download(h, &m, blob, what, filename) != 0)
			goto out;
	}
	if (make_pointer(path, filename, m.etag) != 0)
		goto out;
	ret = 0;
out:
	if (lockfd >= 0)
		close(lockfd);
	if (ret != 0) {
		free(path);
		path = NULL;
		if (ret < 0) {
			free(commit);
			commit = NULL;
		}
	}
	if (path_out != NULL)
		*path_out = path;
	else
		free(path);
	if (commit_out != NULL)
		*commit_out = commit;
	else
		free(commit);
	meta_free(&m);
	free(blob);
	free(why);
	free(url);
	free(repodir);
	free(folder);
	free(what);
	return ret;
}

int
ft_hub_exists(struct ft_hub *h, const char *type, const char *repo,
	const char *revision, const char *filename)
{
	char *folder, *repodir, *url, *what, *why = NULL, *path = NULL, *commit = NULL;
	struct meta m;
	int r, ret = -1;

	if (revision == NULL)
		revision = "main";
	if (!ft_hub_repo_valid(repo) || !ft_hub_path_safe(filename) ||
		!ft_hub_revision_safe(revision))
		return ft_error("'%s': invalid repository, revision or file name", repo);
	folder = ft_hub_repo_folder(type, repo);
	repodir = ft_path_join(h->cache, folder);
	what = ft_asprintf("%s: %s", repo, filename);
	url = ft_hub_file_url(h->endpoint, type, repo, revision, filename);
	r = h->offline || h->unreachable_ ? META_OFFLINE : head_meta(h, url, what, 0, &why, &m);
	if (r == META_OK)
		ret = 1;
	else if (r == META_MISSING)
		ret = 0;
	else if (r == META_OFFLINE)
		ret = cache_lookup(repodir, revision, filename, &path, &commit) == 0;
	if (r == META_OK || r == META_MISSING)
		meta_free(&m);
	free(path);
	free(commit);
	free(why);
	free(url);
	free(what);
	free(repodir);
	free(folder);
	return ret;
}

/* ------------------------------------------------------------ JSON */

cJSON *
ft_hub_get_json(struct ft_hub *h, const char *url, const char *what)
{
	return ft_hub_get_json_body(h, url, what, NULL, NULL);
}

cJSON *
ft_hub_get_json_body(struct ft_hub *h, const char *url, const char *what,
	char **body, size_t *len)
{
	struct resp r;
	char errbuf[CURL_ERROR_SIZE], *u = ft_strdup(url);
	CURLcode rc;
	cJSON *doc = NULL, *e;
	int attempt = 0, hops = 0, auth;

	memset(&r, 0, sizeof r);
	r.fd = -1;
	if (h->offline) {
		ft_error("%s: HF_HUB_OFFLINE is set", what);
		goto out;
	}
	for (;;) {
		r.blen = 0;
		r.bmax = MAX_JSON_BYTES;
		r.body_overflow = 0;
		auth = ft_hub_same_origin(u, h->endpoint) || ft_hub_same_origin(u, h->viewer);
		rc = request(h, "GET", u, 0, auth, h->download_timeout_s, &r, errbuf);
		if (r.body_overflow) {
			ft_error("%s: answer larger than %ld bytes", what, MAX_JSON_BYTES);
			goto out;
		}
		if (r.hdr_overflow) {
			ft_error("%s: response headers longer than %d bytes", what, MAX_HEADER_BYTES);
			goto out;
		}
		if ((rc != CURLE_OK && transient_curl(rc)) ||
			(rc == CURLE_OK && transient_status(r.status))) {
			if (attempt >= h->retries) {
				if (rc != CURLE_OK)
					ft_error("%s: %s (after %d tries)", what, curl_why(rc, errbuf), attempt + 1);
				else
					ft_error("%s: HTTP %ld after %d tries", what, r.status, attempt + 1);
				goto out;
			}
			backoff(h, attempt++);
			continue;
		}
		if (rc != CURLE_OK) {
			ft_error("%s: %s", what, curl_why(rc, errbuf));
			goto out;
		}
		if (r.status >= 300 && r.status < 400) {
			if (follow(h, what, &u, &hops) != 0)
				goto out;
			continue;
		}
		break;
	}
	doc = cJSON_ParseWithLength(r.body ? r.body : "", r.blen);
	if (r.status != 200) {
		e = doc ? cJSON_GetObjectItemCaseSensitive(doc, "error") : NULL;
		if (cJSON_IsString(e)) {
			char msg[301];
			size_t k = 0;
			for (const char *s = e->valuestring; *s && k < 300; s++)
				msg[k++] = (unsigned char)*s < 0x20 ? ' ' : *s;
			msg[k] = '\0';
			ft_error("%s: %s (HTTP %ld)", what, msg, r.status);
		} else {
			ft_error("%s: HTTP %ld", what, r.status);
		}
		cJSON_Delete(doc);
		doc = NULL;
		goto out;
	}
	if (doc == NULL) {
		char *name = ft_asprintf("%s: the answer", what);

		/* the same parse again, for a message that names the cause */
		doc = ft_json_parse_value(r.body ? r.body : "", r.blen, name);
		free(name);
		if (doc != NULL) {
			cJSON_Delete(doc);
			doc = NULL;
			ft_error("%s: the answer is not valid JSON", what);
		}
	} else if (body != NULL) {
		*body = r.body ? r.body : ft_strdup("");
		*len = r.blen;
		r.body = NULL;
	}
out:
	resp_free(&r);
	free(u);
	return doc;
}

/* ------------------------------------------------------------ rows */

/* A compact copy of JSON text that cJSON has already accepted: strings are
 * decoded and re-escaped the way cJSON and Python's json.dumps(...,
 * ensure_ascii=False) write them, numbers are copied digit for digit (an
 * int64 id survives, which a double would not). */
struct jcopy {
	const char *p, *end;
	FILE *out; /* NULL: just skip */
};

static void
jput(struct jcopy *j, const char *s, size_t n)
{
	if (j->out != NULL && n > 0)
		fwrite(s, 1, n, j->out);
}

static void
jws(struct jcopy *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
jhex4(const char *p, const char *end, unsigned *v)
{
	*v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)p[i], d;
		if (c >= '0' && c <= '9') d = c - '0';
		else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
		else return -1;
		*v = *v * 16 + (unsigned)d;
	}
	return 0;
}

/* One decoded code point, escaped as json.dumps(ensure_ascii=False)
 * does (ft_json_escape); a lone surrogate stays an escape. */
static void
jcode(struct jcopy *j, unsigned cp)
{
	char u[4], b[32];
	size_t n;

	if (cp >= 0xD800 && cp <= 0xDFFF) {
		n = (size_t)snprintf(b, sizeof b, "\\u%04x", cp);
		jput(j, b, n);
		return;
	}
	n = ft_json_escape(b, u, ft_utf8_put(u, cp));
	jput(j, b + 1, n - 2);   /* without the quotes */
}

static int
jstring(struct jcopy *j)
{
	unsigned cp, lo;

	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	jput(j, "\"", 1);
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p;
		if (c != '\\') {
			if (c < 0x20)
				jcode(j, c);
			else
				jput(j, j->p, 1);
			j->p++;
			continue;
		}
		if (j->end - j->p < 2)
			return -1;
		c = (unsigned char)j->p[1];
		j->p += 2;
		switch (c) {
		case '"': case '\\': case '/': jcode(j, c); break;
		case 'b': jcode(j, '\b'); break;
		case 'f': jcode(j, '\f'); break;
		case 'n': jcode(j, '\n'); break;
		case 'r': jcode(j, '\r'); break;
		case 't': jcode(j, '\t'); break;
		case 'u':
			if (jhex4(j->p, j->end, &cp) != 0)
				return -1;
			j->p += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF && j->end - j->p >= 6 &&
				j->p[0] == '\\' && j->p[1] == 'u' &&
				jhex4(j->p + 2, j->end, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				j->p += 6;
			}
			jcode(j, cp);
			break;
		default:
			return -1;
		}
	}
	if (j->p >= j->end)
		return -1;
	j->p++;
	jput(j, "\"", 1);
	return 0;
}

static int
jvalue(struct jcopy *j, int depth)
{
	const char *s;

	jws(j);
	if (j->p >= j->end || depth > 200)
		return -1;
	if (*j->p == '"')
		return jstring(j);
	if (*j->p == '{' || *j->p == '[') {
		char close = *j->p == '{' ? '}' : ']';
		int obj = *j->p == '{';
		jput(j, j->p++, 1);
		jws(j);
		if (j->p < j->end && *j->p == close) {
			jput(j, j->p++, 1);
			return 0;
		}
		for (;;) {
			if (obj) {
				jws(j);
				if (jstring(j) != 0)
					return -1;
				jws(j);
				if (j->p >= j->end || *j->p != ':')
					return -1;
				jput(j, j->p++, 1);
			}
			if (jvalue(j, depth + 1) != 0)
				return -1;
			jws(j);
			if (j->p < j->end && *j->p == ',') {
				jput(j, j->p++, 1);
				continue;
			}
			if (j->p < j->end && *j->p == close) {
				jput(j, j->p++, 1);
				return 0;
			}
			return -1;
		}
	}
	s = j->p;
	while (j->p < j->end && (isalnum((unsigned char)*j->p) || *j->p == '-' ||
		*j->p == '+' || *j->p == '.'))
		j->p++;
	if (j->p == s)
		return -1;
	jput(j, s, (size_t)(j->p - s));
	return 0;
}

/* In the object at j->p, find key and leave j->p at its value.  0 or -1. */
static int
jfind(struct jcopy *j, const char *key)
{
	FILE *out = j->out;
	size_t klen = strlen(key);

	j->out = NULL;
	jws(j);
	if (j->p >= j->end || *j->p != '{')
		goto fail;
	j->p++;
	for (;;) {
		const char *k;
		jws(j);
		k = j->p;
		if (jstring(j) != 0)
			goto fail;
		jws(j);
		if (j->p >= j->end || *j->p != ':')
			goto fail;
		j->p++;
		/* Keys are compared raw: the viewer's keys have no escapes. */
		if ((size_t)(j->p - k) >= klen + 2 && strncmp(k + 1, key, klen) == 0 && k[klen + 1] == '"') {
			j->out = out;
			jws(j);
			return 0;
		}
		if (jvalue(j, 0) != 0)
			goto fail;
		jws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		goto fail;
	}
fail:
	j->out = out;
	return -1;
}

int
ft_hub_rows_write(const char *body, size_t len, FILE *out, long long *count)
{
	struct jcopy j = { body, body + len, out };

	*count = 0;
	if (jfind(&j, "rows") != 0 || j.p >= j.end || *j.p != '[')
		return -1;
	j.p++;
	jws(&j);
	if (j.p < j.end && *j.p == ']')
		return 0;
	for (;;) {
		struct jcopy item = j;
		item.out = NULL;
		if (jvalue(&item, 0) != 0) /* the end of this row record */
			return -1;
		if (jfind(&j, "row") != 0 || jvalue(&j, 0) != 0)
			return -1;
		if (out != NULL)
			putc('\n', out);
		(*count)++;
		j.p = item.p;
		jws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			continue;
		}
		if (j.p < j.end && *j.p == ']')
			return 0;
		return -1;
	}
}

/* ------------------------------------------------------------ export */

/* The files an export wrote, one name a line, in the folder itself. */
#define EXPORT_LIST ".ft-fetch-files"

struct names {
	char **v;
	size_t n, cap;
};

static void
names_add(struct names *l, char *s)
{
	ft_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v);
	l->v[l->n++] = s;
}

static void
names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
names_has(const struct names *l, const char *s)
{
	return l->n > 0 && bsearch(&s, l->v, l->n, sizeof *l->v, cmp_str) != NULL;
}

/* Every entry under root/rel that is not a folder, and every empty folder
 * (as "NAME/"), relative to root.  0 or -1. */
static int
walk_dir(const char *root, const char *rel, struct names *out)
{
	char *path = *rel ? ft_path_join(root, rel) : ft_strdup(root);
	DIR *d = opendir(path);
	struct dirent *e;
	int rc = 0, empty = 1;

	if (d == NULL) {
		rc = ft_error("cannot open folder '%s':", path);
		free(path);
		return rc;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char *sub, *full;
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		empty = 0;
		sub = *rel ? ft_path_join(rel, e->d_name) : ft_strdup(e->d_name);
		full = ft_path_join(root, sub);
		if (lstat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			rc = walk_dir(root, sub, out);
			free(sub);
		} else {
			names_add(out, sub);
		}
		free(full);
	}
	closedir(d);
	if (rc == 0 && empty && *rel)
		names_add(out, ft_asprintf("%s/", rel));
	free(path);
	return rc;
}

/* The names in DIR/EXPORT_LIST (sorted; none when it is missing). */
static void
read_export_list(const char *dir, struct names *out)
{
	char *p = ft_path_join(dir, EXPORT_LIST), *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *fp = fopen(p, "r");

	free(p);
	if (fp == NULL)
		return;
	while ((n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && ft_hub_path_safe(line))
			names_add(out, ft_strdup(line));
	}
	free(line);
	fclose(fp);
	qsort(out->v, out->n, sizeof *out->v, cmp_str);
}

static int
write_export_list(const char *dir, const char *const *a, size_t na,
	const struct names *b)
{
	char *p = ft_path_join(dir, EXPORT_LIST);
	ft_atomic at;
	int rc = -1;

	if (ft_atomic_open(&at, p) != 0)
		goto out;
	for (size_t i = 0; i < na; i++)
		fprintf(at.fp, "%s\n", a[i]);
	for (size_t i = 0; b != NULL && i < b->n; i++)
		fprintf(at.fp, "%s\n", b->v[i]);
	if (ferror(at.fp)) {
		ft_error("cannot write '%s':", p);
		ft_atomic_abort(&at);
		goto out;
	}
	rc = ft_atomic_commit(&at);
out:
	free(p);
	return rc;
}

/* Copy the files into dir/ (made as needed), each atomically. */
static int
copy_files(const char *snapshot, const char *const *files, size_t n,
	const char *dir)
{
	for (size_t i = 0; i < n; i++) {
		char *from = ft_path_join(snapshot, files[i]);
		char *to = ft_path_join(dir, files[i]);
		char *sub = ft_strdup(to), *s = strrchr(sub, '/');
		int ok;

		*s = '\0';
		ok = ft_mkdir_p(sub, 0777) == 0 && ft_copy_file(from, to) == 0;
		free(sub);
		free(from);
		free(to);
		if (!ok)
			return -1;
	}
	return 0;
}

/* Into an existing folder: refuse when it holds anything an earlier export
 * did not write (unless force); then replace the model's files one by one
 * (each atomically) and remove the files of the earlier export that this
 * model lacks.  The list is widened first, so that a crash midway leaves
 * every file ft wrote on it. */
static int
export_into(const char *snapshot, const char *const *files, size_t n,
	const char *dir, int force)
{
	struct names ours = { 0 }, have = { 0 }, foreign = { 0 }, stale = { 0 };
	struct names sorted = { 0 };
	int rc = -1;

	read_export_list(dir, &ours);
	if (walk_dir(dir, "", &have) != 0)
		goto out;
	for (size_t i = 0; i < have.n; i++)
		if (strcmp(have.v[i], EXPORT_LIST) != 0 && !names_has(&ours, have.v[i]))
			names_add(&foreign, ft_strdup(have.v[i]));
	if (foreign.n > 0 && !force) {
		char more[48] = "";

		qsort(foreign.v, foreign.n, sizeof *foreign.v, cmp_str);
		if (foreign.n > 2)
			snprintf(more, sizeof more, " and %zu more", foreign.n - 2);
		ft_error("'%s' holds files ft-fetch did not write ('%s'%s%s%s%s): not "
			"writing into it; use --force to replace the model's files and "
			"keep the others", dir, foreign.v[0],
			foreign.n > 1 ? ", '" : "", foreign.n > 1 ? foreign.v[1] : "",
			foreign.n > 1 ? "'" : "", more);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		names_add(&sorted, ft_strdup(files[i]));
	qsort(sorted.v, sorted.n, sizeof *sorted.v, cmp_str);
	for (size_t i = 0; i < ours.n; i++)
		if (!names_has(&sorted, ours.v[i]))
			names_add(&stale, ft_strdup(ours.v[i]));
	if (write_export_list(dir, files, n, &stale) != 0 ||
		copy_files(snapshot, files, n, dir) != 0)
		goto out;
	for (size_t i = 0; i < stale.n; i++) {
		char *p = ft_path_join(dir, stale.v[i]);

		if (unlink(p) != 0 && errno != ENOENT) {
			ft_error("cannot remove '%s':", p);
			free(p);
			goto out;
		}
		free(p);
	}
	rc = write_export_list(dir, files, n, NULL);
	if (rc == 0)
		ft_fsync_dir(dir);
out:
	names_free(&ours);
	names_free(&have);
	names_free(&foreign);
	names_free(&stale);
	names_free(&sorted);
	return rc;
}

int
ft_hub_export(const char *snapshot, const char *const *files, size_t n,
	const char *dir, int force)
{
	char *tmp, *parent, *slash;
	struct stat st;
	int rc = -1, slot;

	if (lstat(dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return ft_error("'%s' exists and is not a folder", dir);
		return export_into(snapshot, files, n, dir, force);
	}
	if (errno != ENOENT)
		return ft_error("cannot stat '%s':", dir);
	/* A new folder: filled under a temporary name, renamed into place. */
	parent = ft_strdup(dir);
	slash = strrchr(parent, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (*parent != '\0' && ft_mkdir_p(parent, 0777) != 0) {
			free(parent);
			return -1;
		}
	}
	free(parent);
	tmp = ft_asprintf("%s.tmp%ld", dir, (long)getpid());
	ft_remove_tree(tmp);
	if (mkdir(tmp, 0777) != 0) {
		ft_error("cannot create folder '%s':", tmp);
		free(tmp);
		return -1;
	}
	slot = ft_tmp_register(tmp);
	if (copy_files(snapshot, files, n, tmp) != 0 ||
		write_export_list(tmp, files, n, NULL) != 0)
		goto out;
	if (rename(tmp, dir) != 0) {
		ft_error("cannot rename '%s' to '%s':", tmp, dir);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		ft_remove_tree(tmp);
	ft_tmp_unregister(slot);
	free(tmp);
	return rc;
}
