/* tokjson — see tokjson.h.
 *
 * A segment goes through the normalizers as one string, then through the
 * pre-tokenizers as a list of pieces (spans of a buffer; each stage
 * writes a new buffer).  Every splitting pre-tokenizer is a pattern plus
 * a behaviour, as in tokenizers' NormalizedString::split: the pattern's
 * matches (Oniguruma, iterated like the onig crate's find_iter, which
 * skips an empty match right after the previous match) and the gaps
 * between them become a list of (span, is_match), folded per behaviour;
 * empty pieces are dropped. */
#include "tokjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <oniguruma.h>

#include "bpe.h"
#include "err.h"
#include "io.h"
#include "normalize.h"
#include "unicode.h"

/* ---- patterns ---- */

struct pat {
	regex_t *re;       /* NULL: literal */
	char *lit;
	size_t litlen;
};

static int onig_ready;

static int
pat_regex(struct pat *p, const char *src, const char *path, const char *what)
{
	OnigErrorInfo ei;
	int r;

	if (!onig_ready) {
		OnigEncoding enc[1] = { ONIG_ENCODING_UTF8 };
		onig_initialize(enc, 1);
		onig_ready = 1;
	}
	r = onig_new(&p->re, (const OnigUChar *)src,
	    (const OnigUChar *)src + strlen(src), ONIG_OPTION_NONE,
	    ONIG_ENCODING_UTF8, ONIG_SYNTAX_DEFAULT, &ei);
	if (r != ONIG_NORMAL) {
		OnigUChar msg[ONIG_MAX_ERROR_MESSAGE_LEN];
		onig_error_code_to_str(msg, r, &ei);
		p->re = NULL;
		return ft_error("%s: %s: regex /%s/: %s", path, what, src,
		    (char *)msg);
	}
	return 0;
}

/* {"String": s} or {"Regex": r}. */
static int
pat_load(struct pat *p, const cJSON *j, const char *path, const char *what)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "String");
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "Regex");

	memset(p, 0, sizeof *p);
	if (cJSON_IsString(s)) {
		p->lit = ft_strdup(s->valuestring);
		p->litlen = strlen(s->valuestring);
		return 0;
	}
	if (cJSON_IsString(r))
		return pat_regex(p, r->valuestring, path, what);
	return ft_error("%s: %s: pattern is not {\"String\": ...} or "
	    "{\"Regex\": ...}", path, what);
}

static void
pat_free(struct pat *p)
{
	if (p->re != NULL)
		onig_free(p->re);
	free(p->lit);
}

static inline size_t
u8len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

struct match {
	size_t a, b;
	int m;      /* is a match (or, after a behaviour, to be removed) */
};

struct ft_tj_work {
	char *buf[2];
	size_t cap[2];
	struct ft_tj_piece *pc[2];
	size_t pcap[2];
	struct match *mt, *mt2;
	size_t mcap, mcap2;
	OnigRegion *region;
	struct ft_ustr u;
	char *ubuf;
	size_t ucap;
	struct ft_nf_buf nf;
};

static void
push_match(struct ft_tj_work *w, size_t *n, size_t a, size_t b, int m)
{
	ft_grow((void **)&w->mt, &w->mcap, *n + 1, sizeof *w->mt);
	w->mt[*n].a = a;
	w->mt[*n].b = b;
	w->mt[*n].m = m;
	(*n)++;
}

/* tokenizers' Pattern::find_matches: the spans of s[0..n), matches and
 * gaps, in order (one gap (0,0) for an empty string). */
static size_t
find_matches(const struct pat *p, struct ft_tj_work *w, const char *s,
    size_t n, int invert)
{
	size_t k = 0, prev = 0, last = 0;
	long last_match = -1;

	if (n == 0) {
		push_match(w, &k, 0, 0, invert);
		return k;
	}
	if (p->re == NULL) {
		if (p->litlen == 0) {
			push_match(w, &k, 0, n, invert);
			return k;
		}
		while (last + p->litlen <= n) {
			const char *q = memmem(s + last, n - last, p->lit,
			    p->litlen);
			size_t a;
			if (q == NULL)
				break;
			a = (size_t)(q - s);
			if (a > prev)
				push_match(w, &k, prev, a, invert);
			push_match(w, &k, a, a + p->litlen, !invert);
			prev = last = a + p->litlen;
		}
	} else {
		const OnigUChar *u = (const OnigUChar *)s;
		while (last <= n) {
			int r = onig_search(p->re, u, u + n, u + last, u + n,
			    w->region, ONIG_OPTION_NONE);
			size_t a, b;
			if (r < 0)
				break;
			a = (size_t)w->region->beg[0];
			b = (size_t)w->region->end[0];
			if (a == b && last_match == (long)b) {
				last += last < n ? u8len(u[last]) : 1;
				continue;
			}
			last = b;
			last_match = (long)b;
			if (a > prev)
				push_match(w, &k, prev, a, invert);
			push_match(w, &k, a, b, !invert);
			prev = b;
		}
	}
	if (prev < n)
		push_match(w, &k, prev, n, invert);
	return k;
}

enum { B_ISOLATED, B_REMOVED, B_MWP, B_MWN, B_CONTIG };

/* Fold the spans per behaviour (tokenizers' NormalizedString::split);
 * afterwards m marks spans to remove.  Returns the new count (in w->mt). */
static size_t
apply_behavior(struct ft_tj_work *w, size_t k, int beh)
{
	struct match *m = w->mt, *o;
	size_t i, n = 0;
	int prevm = 0;

	if (beh == B_REMOVED)
		return k;
	if (beh == B_ISOLATED) {
		for (i = 0; i < k; i++)
			m[i].m = 0;
		return k;
	}
	ft_grow((void **)&w->mt2, &w->mcap2, k, sizeof *w->mt2);
	o = w->mt2;
	if (beh == B_MWN) {
		for (i = k; i-- > 0;) {
			if (m[i].m && !prevm && n > 0)
				o[n - 1].a = m[i].a;
			else
				o[n++] = (struct match){ m[i].a, m[i].b, 0 };
			prevm = m[i].m;
		}
		for (i = 0; i < n / 2; i++) {
			struct match t = o[i];
			o[i] = o[n - 1 - i];
			o[n - 1 - i] = t;
		}
	} else {
		for (i = 0; i < k; i++) {
			int join = beh == B_CONTIG ? m[i].m == prevm :
			    m[i].m && !prevm;
			if (join && n > 0)
				o[n - 1].b = m[i].b;
			else
				o[n++] = (struct match){ m[i].a, m[i].b, 0 };
			prevm = m[i].m;
		}
	}
	w->mt2 = m;
	w->mt = o;
	i = w->mcap;
	w->mcap = w->mcap2;
	w->mcap2 = i;
	return n;
}

/* ---- components ---- */

enum { N_NF, N_LOWER, N_PREPEND, N_REPLACE, N_STRIP };
struct norm {
	int kind;
	enum ft_nf form;  /* N_NF */
	char *s;          /* Prepend / Replace content */
	size_t slen;
	struct pat p;
	int left, right;
};

enum { P_BYTELEVEL, P_SPLIT, P_METASPACE };
enum { S_ALWAYS, S_FIRST, S_NEVER };
struct pre {
	int kind;
	struct pat p;
	int beh, invert;
	int prefix, regex;    /* ByteLevel */
	char rep[8];          /* Metaspace */
	size_t replen;
	int scheme, split;
	int known;            /* splits at every "x\n|a" */
	int fast;             /* Llama 3 / Qwen regex by hand: max digits */
};

enum { D_BYTELEVEL, D_METASPACE, D_REPLACE, D_BYTEFALLBACK, D_FUSE, D_STRIP };
struct dec {
	int kind;
	struct pat p;
	char *s;          /* Replace content / Strip content / Metaspace rep */
	size_t slen;
	int start, stop, scheme;
};

struct ft_tj {
	struct norm *nm;
	size_t nn;
	struct pre *pt;
	size_t np;
	struct dec *dc;
	size_t nd;
	int has_dec, byte_level, cut_safe;
	char *doc_strip;      /* removed up to doc_strip_n times at the start */
	size_t doc_strip_len, doc_strip_n;
	char *canon;
};

static uint8_t ascii_cls[128];   /* ft_bpe_class of ASCII, set at load */

static const char GPT2_RE[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+"
    "|\\s+(?!\\S)|\\s+";
/* Split patterns after which "x\n|a" is always a piece boundary that
 * nothing looks across (see ft_tj_cut_safe). */
static const char *const CUT_SAFE_RE[] = {
	GPT2_RE,
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
	"|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
	"|\\s+(?!\\S)|\\s+",
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
	"|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
	"|\\s+(?!\\S)|\\s+",
};

static const char *
jtype(const cJSON *j)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");

	return cJSON_IsString(t) ? t->valuestring : "";
}

static const cJSON *
jget(const cJSON *j, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(j, k);
}

static const char *
jstr(const cJSON *j, const char *k, const char *def)
{
	const cJSON *v = jget(j, k);

	return cJSON_IsString(v) ? v->valuestring : def;
}

static int
jbool(const cJSON *j, const char *k, int def)
{
	const cJSON *v = jget(j, k);

	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

static int
unsupported(const char *path, const char *what, const char *name)
{
	return ft_error("%s: %s \"%s\" is not supported", path, what, name);
}

static int
scheme_of(const cJSON *j, const char *path, const char *what)
{
	const char *s = jstr(j, "prepend_scheme", NULL);

	if (s == NULL)
		return jbool(j, "add_prefix_space", 1) ? S_ALWAYS : S_NEVER;
	if (strcmp(s, "always") == 0)
		return S_ALWAYS;
	if (strcmp(s, "first") == 0)
		return S_FIRST;
	if (strcmp(s, "never") == 0)
		return S_NEVER;
	ft_error("%s: %s: prepend_scheme \"%s\" is not supported", path, what,
	    s);
	return -1;
}

static int
load_norm(struct ft_tj *t, const cJSON *j, const char *path)
{
	const char *ty = jtype(j);
	struct norm *n;

	if (strcmp(ty, "Sequence") == 0) {
		const cJSON *it, *a = jget(j, "normalizers");
		if (!cJSON_IsArray(a))
			return ft_error("%s: normalizer Sequence without "
			    "\"normalizers\"", path);
		cJSON_ArrayForEach(it, a)
			if (load_norm(t, it, path) != 0)
				return -1;
		return 0;
	}
	t->nm = ft_realloc(t->nm, (t->nn + 1) * sizeof *t->nm);
	n = &t->nm[t->nn];
	memset(n, 0, sizeof *n);
	if (strcmp(ty, "NFC") == 0 || strcmp(ty, "NFD") == 0 ||
	    strcmp(ty, "NFKC") == 0 || strcmp(ty, "NFKD") == 0) {
		n->kind = N_NF;
		n->form = ty[2] == 'C' ? FT_NFC : ty[2] == 'D' ? FT_NFD :
		    ty[3] == 'C' ? FT_NFKC : FT_NFKD;
	} else if (strcmp(ty, "Lowercase") == 0)
		n->kind = N_LOWER;
	else if (strcmp(ty, "Prepend") == 0) {
		n->kind = N_PREPEND;
		n->s = ft_strdup(jstr(j, "prepend", ""));
		n->slen = strlen(n->s);
	} else if (strcmp(ty, "Replace") == 0) {
		n->kind = N_REPLACE;
		if (pat_load(&n->p, jget(j, "pattern"), path,
		    "normalizer Replace") != 0)
			return -1;
		n->s = ft_strdup(jstr(j, "content", ""));
		n->slen = strlen(n->s);
	} else if (strcmp(ty, "Strip") == 0) {
		n->kind = N_STRIP;
		n->left = jbool(j, "strip_left", 1);
		n->right = jbool(j, "strip_right", 1);
	} else {
		return unsupported(path, "normalizer", ty);
	}
	t->nn++;
	return 0;
}

static struct pre *
new_pre(struct ft_tj *t)
{
	struct pre *p;

	t->pt = ft_realloc(t->pt, (t->np + 1) * sizeof *t->pt);
	p = &t->pt[t->np++];
	memset(p, 0, sizeof *p);
	return p;
}

static int
split_pre(struct ft_tj *t, const char *re, int beh, int invert,
    const char *path, const char *what)
{
	struct pre *p = new_pre(t);

	p->kind = P_SPLIT;
	p->beh = beh;
	p->invert = invert;
	return pat_regex(&p->p, re, path, what);
}

static int
behavior_of(const char *s)
{
	static const char *const names[] = { "Isolated", "Removed",
		"MergedWithPrevious", "MergedWithNext", "Contiguous" };
	int i;

	for (i = 0; i < 5; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static int
load_pre(struct ft_tj *t, const cJSON *j, const char *path)
{
	const char *ty = jtype(j);
	struct pre *p;

	if (t->byte_level)
		return ft_error("%s: pre_tokenizer \"%s\" after ByteLevel is "
		    "not supported", path, ty);
	if (strcmp(ty, "Sequence") == 0) {
		const cJSON *it, *a = jget(j, "pretokenizers");
		if (!cJSON_IsArray(a))
			return ft_error("%s: pre_tokenizer Sequence without "
			    "\"pretokenizers\"", path);
		cJSON_ArrayForEach(it, a)
			if (load_pre(t, it, path) != 0)
				return -1;
		return 0;
	}
	if (strcmp(ty, "ByteLevel") == 0) {
		p = new_pre(t);
		p->kind = P_BYTELEVEL;
		p->prefix = jbool(j, "add_prefix_space", 1);
		p->regex = jbool(j, "use_regex", 1);
		p->known = p->regex;
		t->byte_level = 1;
		if (p->regex)
			return pat_regex(&p->p, GPT2_RE, path,
			    "pre_tokenizer ByteLevel");
		return 0;
	}
	if (strcmp(ty, "Split") == 0) {
		const char *b = jstr(j, "behavior", "");
		p = new_pre(t);
		p->kind = P_SPLIT;
		if ((p->beh = behavior_of(b)) < 0)
			return ft_error("%s: pre_tokenizer Split: behavior "
			    "\"%s\" is not supported", path, b);
		p->invert = jbool(j, "invert", 0);
		if (pat_load(&p->p, jget(j, "pattern"), path,
		    "pre_tokenizer Split") != 0)
			return -1;
		if (p->beh == B_ISOLATED && !p->invert) {
			const char *r = jstr(jget(j, "pattern"), "Regex", "");
			const char *nf = getenv("FT_TOKJSON_NO_FAST");
			size_t k;
			for (k = 0; k < sizeof CUT_SAFE_RE /
			    sizeof *CUT_SAFE_RE; k++)
				p->known |= strcmp(r, CUT_SAFE_RE[k]) == 0;
			for (k = 0; k < 128; k++)
				ascii_cls[k] = (uint8_t)ft_bpe_class((uint32_t)k);
			if (nf == NULL || *nf == '\0') {
				if (strcmp(r, CUT_SAFE_RE[1]) == 0)
					p->fast = 3;
				else if (strcmp(r, CUT_SAFE_RE[2]) == 0)
					p->fast = 1;
			}
		}
		return 0;
	}
	if (strcmp(ty, "Digits") == 0)
		return split_pre(t, "\\p{N}", jbool(j, "individual_digits", 0) ?
		    B_ISOLATED : B_CONTIG, 0, path, "pre_tokenizer Digits");
	if (strcmp(ty, "Whitespace") == 0) {
		/* \w+|[^\w\s]+ of Rust's regex crate, which this one uses:
		 * its \w is Alphabetic, M, Nd, Pc and Join_Control */
		if (split_pre(t, "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}"
		    "\\p{Join_Control}]+|[^\\p{Alphabetic}\\p{M}\\p{Nd}"
		    "\\p{Pc}\\p{Join_Control}\\p{White_Space}]+", B_REMOVED, 1,
		    path, "pre_tokenizer Whitespace") != 0)
			return -1;
		t->pt[t->np - 1].known = 1;
		return 0;
	}
	if (strcmp(ty, "WhitespaceSplit") == 0) {
		if (split_pre(t, "\\p{White_Space}", B_REMOVED, 0, path,
		    "pre_tokenizer WhitespaceSplit") != 0)
			return -1;
		t->pt[t->np - 1].known = 1;
		return 0;
	}
	if (strcmp(ty, "Punctuation") == 0) {
		const char *b = jstr(j, "behavior", "Isolated");
		int beh = behavior_of(b);
		if (beh < 0)
			return ft_error("%s: pre_tokenizer Punctuation: "
			    "behavior \"%s\" is not supported", path, b);
		return split_pre(t, "[\\p{P}!-/:-@\\[-`{-~]", beh, 0, path,
		    "pre_tokenizer Punctuation");
	}
	if (strcmp(ty, "Metaspace") == 0) {
		const char *r = jstr(j, "replacement", "\xe2\x96\x81");
		p = new_pre(t);
		p->kind = P_METASPACE;
		p->replen = strlen(r);
		if (p->replen == 0 || p->replen > 4 ||
		    u8len((unsigned char)r[0]) != p->replen)
			return ft_error("%s: pre_tokenizer Metaspace: "
			    "replacement must be one character", path);
		memcpy(p->rep, r, p->replen);
		if ((p->scheme = scheme_of(j, path,
		    "pre_tokenizer Metaspace")) < 0)
			return -1;
		p->split = jbool(j, "split", 1);
		p->p.lit = ft_strndup(p->rep, p->replen);
		p->p.litlen = p->replen;
		return 0;
	}
	return unsupported(path, "pre_tokenizer", ty);
}

static int
load_dec(struct ft_tj *t, const cJSON *j, const char *path, int *fused)
{
	const char *ty = jtype(j);
	struct dec *d;

	if (strcmp(ty, "Sequence") == 0) {
		const cJSON *it, *a = jget(j, "decoders");
		if (!cJSON_IsArray(a))
			return ft_error("%s: decoder Sequence without "
			    "\"decoders\"", path);
		cJSON_ArrayForEach(it, a)
			if (load_dec(t, it, path, fused) != 0)
				return -1;
		return 0;
	}
	if (*fused && strcmp(ty, "Strip") != 0)
		return ft_error("%s: decoder \"%s\" after Fuse is not "
		    "supported", path, ty);
	t->dc = ft_realloc(t->dc, (t->nd + 1) * sizeof *t->dc);
	d = &t->dc[t->nd];
	memset(d, 0, sizeof *d);
	if (strcmp(ty, "ByteLevel") == 0)
		d->kind = D_BYTELEVEL;
	else if (strcmp(ty, "ByteFallback") == 0)
		d->kind = D_BYTEFALLBACK;
	else if (strcmp(ty, "Fuse") == 0) {
		*fused = 1;
		return 0;
	} else if (strcmp(ty, "Metaspace") == 0) {
		const char *r = jstr(j, "replacement", "\xe2\x96\x81");
		d->kind = D_METASPACE;
		d->s = ft_strdup(r);
		d->slen = strlen(r);
		if ((d->scheme = scheme_of(j, path, "decoder Metaspace")) < 0)
			return -1;
		if (d->scheme != S_NEVER) {
			free(t->doc_strip);
			t->doc_strip = ft_strdup(" ");
			t->doc_strip_len = 1;
			t->doc_strip_n = 1;
		}
	} else if (strcmp(ty, "Replace") == 0) {
		d->kind = D_REPLACE;
		if (pat_load(&d->p, jget(j, "pattern"), path,
		    "decoder Replace") != 0)
			return -1;
		d->s = ft_strdup(jstr(j, "content", ""));
		d->slen = strlen(d->s);
	} else if (strcmp(ty, "Strip") == 0) {
		const cJSON *a = jget(j, "start"), *b = jget(j, "stop");
		const char *c = jstr(j, "content", " ");
		d->kind = D_STRIP;
		d->s = ft_strdup(c);
		d->slen = strlen(c);
		d->start = cJSON_IsNumber(a) ? a->valueint : 0;
		d->stop = cJSON_IsNumber(b) ? b->valueint : 0;
		if (d->slen == 0 || u8len((unsigned char)c[0]) != d->slen ||
		    d->start < 0 || d->stop < 0)
			return ft_error("%s: decoder Strip: malformed", path);
		if (*fused) {
			if (d->stop != 0)
				return ft_error("%s: decoder Strip with stop "
				    "after Fuse is not supported", path);
			free(t->doc_strip);
			t->doc_strip = ft_strdup(c);
			t->doc_strip_len = d->slen;
			t->doc_strip_n = (size_t)d->start;
			free(d->s);
			return 0;
		}
	} else {
		return unsupported(path, "decoder", ty);
	}
	t->nd++;
	return 0;
}

void
ft_tj_free(struct ft_tj *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nn; i++) {
		pat_free(&t->nm[i].p);
		free(t->nm[i].s);
	}
	for (i = 0; i < t->np; i++)
		pat_free(&t->pt[i].p);
	for (i = 0; i < t->nd; i++) {
		pat_free(&t->dc[i].p);
		free(t->dc[i].s);
	}
	free(t->nm);
	free(t->pt);
	free(t->dc);
	free(t->doc_strip);
	free(t->canon);
	free(t);
}

/* Can a cut "x\n|a" change the pieces?  Safe when a pre-tokenizer that
 * always splits there (a known Split regex, ByteLevel's regex, Whitespace,
 * WhitespaceSplit) comes before any other splitting one (later ones work
 * per piece, so keep the boundary), and the normalizers work per
 * character or prepend at the start (which FT_TJ_CONT turns off for the
 * continuation). */
static int
cut_safe(const struct ft_tj *t)
{
	size_t i;

	for (i = 0; i < t->nn; i++) {
		const struct norm *n = &t->nm[i];
		if (n->kind == N_STRIP)
			return 0;
		if (n->kind == N_REPLACE && (n->p.re != NULL ||
		    memchr(n->p.lit, '\n', n->p.litlen) != NULL ||
		    memchr(n->s, '\n', n->slen) != NULL))
			return 0;
	}
	for (i = 0; i < t->np; i++) {
		const struct pre *p = &t->pt[i];
		if (p->known)
			return 1;
		if (p->kind != P_BYTELEVEL)
			return 0;
	}
	return 0;
}

struct ft_tj *
ft_tj_load(const cJSON *root, const char *path)
{
	struct ft_tj *t = ft_calloc(1, sizeof *t);
	const cJSON *nj = jget(root, "normalizer");
	const cJSON *pj = jget(root, "pre_tokenizer");
	const cJSON *dj = jget(root, "decoder");
	int fused = 0;
	char *a, *b, *c;

	if (nj != NULL && !cJSON_IsNull(nj) && load_norm(t, nj, path) != 0)
		goto fail;
	if (pj != NULL && !cJSON_IsNull(pj) && load_pre(t, pj, path) != 0)
		goto fail;
	if (dj != NULL && !cJSON_IsNull(dj)) {
		t->has_dec = 1;
		if (load_dec(t, dj, path, &fused) != 0)
			goto fail;
	}
	t->cut_safe = cut_safe(t);
	a = nj ? cJSON_PrintUnformatted(nj) : NULL;
	b = pj ? cJSON_PrintUnformatted(pj) : NULL;
	c = dj ? cJSON_PrintUnformatted(dj) : NULL;
	t->canon = ft_malloc(strlen(a ? a : "") + strlen(b ? b : "") +
	    strlen(c ? c : "") + 64);
	sprintf(t->canon, "n=%s\np=%s\nd=%s\n", a ? a : "null",
	    b ? b : "null", c ? c : "null");
	cJSON_free(a);
	cJSON_free(b);
	cJSON_free(c);
	return t;
fail:
	ft_tj_free(t);
	return NULL;
}

int
ft_tj_byte_level(const struct ft_tj *t)
{
	return t->byte_level;
}

int
ft_tj_cut_safe(const struct ft_tj *t)
{
	return t->cut_safe;
}

const char *
ft_tj_canon(const struct ft_tj *t)
{
	return t->canon;
}

int
ft_tj_has_normalizer(const struct ft_tj *t)
{
	return t->nn > 0;
}

int
ft_tj_has_decoder(const struct ft_tj *t)
{
	return t->has_dec;
}

/* ---- encoding ---- */

struct ft_tj_work *
ft_tj_work_new(void)
{
	struct ft_tj_work *w = ft_calloc(1, sizeof *w);

	w->region = onig_region_new();
	return w;
}

void
ft_tj_work_free(struct ft_tj_work *w)
{
	if (w == NULL)
		return;
	free(w->buf[0]);
	free(w->buf[1]);
	free(w->pc[0]);
	free(w->pc[1]);
	free(w->mt);
	free(w->mt2);
	if (w->region != NULL)
		onig_region_free(w->region, 1);
	ft_ustr_release(&w->u);
	free(w->ubuf);
	ft_nf_buf_release(&w->nf);
	free(w);
}

int
ft_tj_white_space(uint32_t c)
{
	return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 ||
	    c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
	    c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static uint32_t
u8cp(const unsigned char *s, size_t *len)
{
	size_t l = u8len(s[0]), k;
	uint32_t c = l == 1 ? s[0] : s[0] & (0x7F >> l);

	for (k = 1; k < l; k++)
		c = (c << 6) | (s[k] & 0x3F);
	*len = l;
	return c;
}

/* Append bytes to buffer i of w. */
static inline void
wput(struct ft_tj_work *w, int i, size_t *len, const void *p, size_t n)
{
	if (*len + n > w->cap[i])
		ft_grow((void **)&w->buf[i], &w->cap[i], *len + n, 1);
	if (n > 0)
		memcpy(w->buf[i] + *len, p, n);
	*len += n;
}

static int
all_ascii(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* Normalize buffer `cur` (length *n) into the other buffer; returns the
 * index of the buffer holding the result. */
static int
normalize(const struct ft_tj *t, struct ft_tj_work *w, int cur, size_t *n,
    unsigned flags)
{
	size_t i;

	for (i = 0; i < t->nn; i++) {
		const struct norm *nm = &t->nm[i];
		const char *s = w->buf[cur];
		size_t len = 0, k, j;
		int o = !cur;

		switch (nm->kind) {
		case N_NF:
			/* the quick check's prefix is copied as is, and
			 * a text that passes whole stays where it is */
			if ((k = ft_nf_quick(nm->form, s, *n)) == *n)
				continue;
			wput(w, o, &len, s, k);
			ft_nf_utf8(nm->form, &w->nf, s + k, *n - k, &w->buf[o],
			    &len, &w->cap[o]);
			break;
		case N_LOWER:
			if (all_ascii(s, *n)) {
				for (j = 0; j < *n; j++)
					if (w->buf[cur][j] >= 'A' &&
					    w->buf[cur][j] <= 'Z')
						w->buf[cur][j] += 32;
				continue;
			}
			ft_ustr_set_utf8(&w->u, s, *n);
			ft_ustr_lower_chars(&w->u);
			len = ft_ustr_utf8(&w->u, &w->ubuf, &w->ucap);
			wput(w, o, &(size_t){ 0 }, w->ubuf, len);
			break;
		case N_PREPEND:
			if (*n == 0 || (flags & FT_TJ_CONT))
				continue;
			wput(w, o, &len, nm->s, nm->slen);
			wput(w, o, &len, s, *n);
			break;
		case N_REPLACE:
			k = find_matches(&nm->p, w, s, *n, 0);
			for (j = 0; j < k; j++) {
				if (w->mt[j].m)
					wput(w, o, &len, nm->s, nm->slen);
				else
					wput(w, o, &len, s + w->mt[j].a,
					    w->mt[j].b - w->mt[j].a);
			}
			break;
		case N_STRIP: {
			size_t a = 0, b = *n, l;
			while (nm->left && a < b &&
			    ft_tj_white_space(u8cp((const unsigned char *)s + a, &l)))
				a += l;
			while (nm->right && b > a) {
				size_t q = b - 1;
				while (q > a && ((unsigned char)s[q] & 0xC0) ==
				    0x80)
					q--;
				if (!ft_tj_white_space(u8cp((const unsigned char *)s +
				    q, &l)))
					break;
				b = q;
			}
			wput(w, o, &len, s + a, b - a);
			break;
		}
		}
		*n = len;
		cur = o;
	}
	return cur;
}

/* Append piece (off, len, flags) of the output list o. */
static inline void
put_piece(struct ft_tj_work *w, int o, size_t *np, size_t off, size_t len,
    unsigned flags)
{
	if (len == 0)
		return;
	if (*np + 1 > w->pcap[o])
		ft_grow((void **)&w->pc[o], &w->pcap[o], *np + 1,
		    sizeof *w->pc[o]);
	w->pc[o][*np] = (struct ft_tj_piece){ off, len, flags };
	(*np)++;
}

/* The class of the character at s[i] (n > i), its length in *l. */
static inline int
cls_at(const unsigned char *s, size_t i, size_t n, size_t *l)
{
	uint32_t c;

	if (s[i] < 0x80) {
		*l = 1;
		return ascii_cls[s[i]];
	}
	c = u8cp(s + i, l);
	if (i + *l > n)
		*l = n - i;
	return ft_bpe_class(c);
}

/* The Llama 3 (maxd 3) and Qwen (maxd 1) regex
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxd}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * matched by hand with Unicode 16.0 classes: the end of the match at i. */
static size_t
fast_match(const unsigned char *s, size_t i, size_t n, int maxd)
{
	size_t l, l2, j, k;
	int c = cls_at(s, i, n, &l), c2;

	if (s[i] == '\'' && i + 1 < n) {
		unsigned a = s[i + 1] | 0x20, b = i + 2 < n ? s[i + 2] | 0x20 : 0;
		if (a == 's' || a == 't' || a == 'm' || a == 'd')
			return i + 2;
		if (i + 2 < n && ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') ||
		    (a == 'l' && b == 'l')))
			return i + 3;
		if (s[i + 1] == 0xC5 && i + 2 < n && s[i + 2] == 0xBF)
			return i + 3;   /* U+017F folds to 's' */
	}
	/* [^\r\n\p{L}\p{N}]?\p{L}+ */
	j = i;
	if (c != 1 && c != 2 && s[i] != '\r' && s[i] != '\n' && i + l < n &&
	    cls_at(s, i + l, n, &l2) == 1)
		j = i + l;
	if (j < n && cls_at(s, j, n, &l2) == 1) {
		while (j < n && cls_at(s, j, n, &l2) == 1)
			j += l2;
		return j;
	}
	if (c == 2) {
		for (j = i, k = 0; k < (size_t)maxd && j < n &&
		    cls_at(s, j, n, &l2) == 2; k++)
			j += l2;
		return j;
	}
	/* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
	j = i + (s[i] == ' ' ? 1 : 0);
	if (j < n && cls_at(s, j, n, &l2) == 0) {
		while (j < n && cls_at(s, j, n, &l2) == 0)
			j += l2;
		while (j < n && (s[j] == '\r' || s[j] == '\n'))
			j++;
		return j;
	}
	/* c is \s here: the maximal run, its last \r or \n */
	{
		size_t last = 0, prev = i;
		int nl = 0;
		j = i;
		while (j < n && (c2 = cls_at(s, j, n, &l2)) == 3) {
			if (s[j] == '\r' || s[j] == '\n') {
				nl = 1;
				last = j + 1;
			}
			prev = j;
			j += l2;
		}
		if (j == i)
			return i + l;   /* not reached: every class is handled */
		if (nl)
			return last;
		if (j == n || prev == i)
			return j;
		return prev;    /* \s+(?!\S): leave the last one */
	}
}

/* Split each piece of list/buffer `cur` with pattern p and behaviour; the
 * result goes to the other list/buffer (with `fast`, only to the other
 * list: its pieces point into buffer cur).  Pieces keep FT_TJ_ORIG0 when
 * they start their input piece; FT_TJ_CONT is dropped (the pre-tokenizer
 * splits at every cut, see cut_safe). */
static size_t
split_all(struct ft_tj_work *w, int cur, size_t np, const struct pat *p,
    int beh, int invert, int fast, size_t *olen)
{
	int o = !cur;
	size_t i, j, k, on = 0, len = 0;

	for (i = 0; i < np; i++) {
		const struct ft_tj_piece pc = w->pc[cur][i];
		const char *s = w->buf[cur] + pc.off;
		if (fast) {
			/* the pieces stay where they are in buffer cur */
			size_t a = 0, b;
			while (a < pc.len) {
				b = fast_match((const unsigned char *)s, a, pc.len,
				    fast);
				put_piece(w, o, &on, pc.off + a, b - a,
				    a == 0 ? (pc.flags & FT_TJ_ORIG0) : 0);
				a = b;
			}
			continue;
		}
		k = find_matches(p, w, s, pc.len, invert);
		k = apply_behavior(w, k, beh);
		for (j = 0; j < k; j++) {
			const struct match *m = &w->mt[j];
			if (m->m || m->b == m->a)
				continue;
			put_piece(w, o, &on, len, m->b - m->a,
			    m->a == 0 ? (pc.flags & FT_TJ_ORIG0) : 0);
			wput(w, o, &len, s + m->a, m->b - m->a);
		}
	}
	*olen = len;
	return on;
}

size_t
ft_tj_normalize(const struct ft_tj *t, struct ft_tj_work *w, const char *s,
    size_t n, unsigned flags, const char **out)
{
	size_t len = 0;
	int cur;

	wput(w, 0, &len, s, n);
	cur = normalize(t, w, 0, &len, flags);
	*out = w->buf[cur];
	return len;
}

static size_t pretokenize(const struct ft_tj *t, struct ft_tj_work *w,
    int cur, size_t len, unsigned flags, const char **buf,
    const struct ft_tj_piece **pc);

size_t
ft_tj_pretokenize(const struct ft_tj *t, struct ft_tj_work *w, const char *s,
    size_t n, unsigned flags, const char **buf,
    const struct ft_tj_piece **pc)
{
	size_t len = 0;

	wput(w, 0, &len, s, n);
	return pretokenize(t, w, 0, len, flags, buf, pc);
}

size_t
ft_tj_pieces(const struct ft_tj *t, struct ft_tj_work *w, const char *s,
    size_t n, unsigned flags, const char **buf,
    const struct ft_tj_piece **pc)
{
	size_t len = 0;
	int cur;

	wput(w, 0, &len, s, n);
	cur = normalize(t, w, 0, &len, flags);
	return pretokenize(t, w, cur, len, flags, buf, pc);
}

/* Pre-tokenize buffer cur (len bytes) of w. */
static size_t
pretokenize(const struct ft_tj *t, struct ft_tj_work *w, int cur,
    size_t len, unsigned flags, const char **buf,
    const struct ft_tj_piece **pc)
{
	size_t np = 0, i, j;

	put_piece(w, cur, &np, 0, len, flags);
	for (i = 0; i < t->np; i++) {
		const struct pre *p = &t->pt[i];
		int o = !cur;
		size_t on = 0, ol = 0;

		if (p->kind == P_SPLIT) {
			size_t ol2 = len;
			np = split_all(w, cur, np, &p->p, p->beh, p->invert,
			    p->fast, &ol2);
			if (!p->fast)
				len = ol2;
			if (p->fast) {
				/* the new list, over the same buffer */
				struct ft_tj_piece *t = w->pc[cur];
				size_t c = w->pcap[cur];
				w->pc[cur] = w->pc[o];
				w->pcap[cur] = w->pcap[o];
				w->pc[o] = t;
				w->pcap[o] = c;
			} else {
				cur = o;
			}
			continue;
		}
		if (p->kind == P_BYTELEVEL && !p->prefix) {
			/* no prefix: the pieces stay as they are */
			if (p->regex) {
				np = split_all(w, cur, np, &p->p, B_ISOLATED, 0, 0,
				    &len);
				cur = o;
			}
			continue;
		}
		/* ByteLevel's prefix, Metaspace's replacement: rewrite each
		 * piece into the other buffer */
		for (j = 0; j < np; j++) {
			struct ft_tj_piece q = w->pc[cur][j];
			const char *x = w->buf[cur] + q.off;
			size_t start = ol, k;
			if (p->kind == P_BYTELEVEL) {
				if (p->prefix && !(q.flags & FT_TJ_CONT) &&
				    x[0] != ' ')
					wput(w, o, &ol, " ", 1);
				wput(w, o, &ol, x, q.len);
			} else {
				size_t a = 0;
				int pre = 0;
				for (k = 0; k < q.len; k++)
					if (x[k] == ' ') {
						wput(w, o, &ol, x + a, k - a);
						wput(w, o, &ol, p->rep, p->replen);
						a = k + 1;
					}
				wput(w, o, &ol, x + a, q.len - a);
				if (p->scheme == S_ALWAYS)
					pre = 1;
				else if (p->scheme == S_FIRST)
					pre = (q.flags & FT_TJ_ORIG0) != 0;
				if (pre && !(ol - start >= p->replen &&
				    memcmp(w->buf[o] + start, p->rep,
				    p->replen) == 0)) {
					wput(w, o, &ol, p->rep, p->replen);
					memmove(w->buf[o] + start + p->replen,
					    w->buf[o] + start,
					    ol - start - p->replen);
					memcpy(w->buf[o] + start, p->rep,
					    p->replen);
				}
			}
			put_piece(w, o, &on, start, ol - start, q.flags);
		}
		np = on;
		len = ol;
		cur = o;
		if (p->kind == P_BYTELEVEL && p->regex) {
			np = split_all(w, cur, np, &p->p, B_ISOLATED, 0, 0, &len);
			cur = !cur;
		} else if (p->kind == P_METASPACE && p->split) {
			np = split_all(w, cur, np, &p->p, B_MWN, 0, 0, &len);
			cur = !cur;
		}
	}
	(void)len;
	*buf = w->buf[cur];
	*pc = w->pc[cur];
	return np;
}

/* ---- decoding ---- */

static int
hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void
ft_tj_decode_token(const struct ft_tj *t, const char *tok, size_t n,
    char **obuf, size_t *olen, size_t *ocap)
{
	char *cur, *nx;
	size_t len = n, i, j, cap, l;

	if (t->nd == 1 && t->dc[0].kind == D_BYTELEVEL) {
		/* the usual byte-level decoder alone: no copies */
		ft_grow((void **)obuf, ocap, *olen + n + 1, 1);
		for (j = 0, i = *olen; j < n; j += l) {
			uint32_t c = u8cp((const unsigned char *)tok + j, &l);
			int by = ft_bpe_unicode_byte(c);
			if (j + l > n || by < 0)
				break;
			(*obuf)[i++] = (char)by;
		}
		if (j < n) {
			memcpy(*obuf + *olen, tok, n);
			i = *olen + n;
		}
		*olen = i;
		return;
	}
	cur = ft_malloc(n + 1);
	memcpy(cur, tok, n);
	for (i = 0; i < t->nd; i++) {
		const struct dec *d = &t->dc[i];
		size_t k = 0;
		switch (d->kind) {
		case D_BYTELEVEL:
			nx = ft_malloc(len + 1);
			for (j = 0; j < len; j += l) {
				uint32_t c = u8cp((const unsigned char *)cur +
				    j, &l);
				int by = ft_bpe_unicode_byte(c);
				if (j + l > len || by < 0)
					break;
				nx[k++] = (char)by;
			}
			if (j >= len) {
				free(cur);
				cur = nx;
				len = k;
			} else {
				free(nx);
			}
			break;
		case D_BYTEFALLBACK:
			if (len == 6 && memcmp(cur, "<0x", 3) == 0 &&
			    cur[5] == '>' && hexv(cur[3]) >= 0 &&
			    hexv(cur[4]) >= 0) {
				cur[0] = (char)(hexv(cur[3]) * 16 + hexv(cur[4]));
				len = 1;
			}
			break;
		case D_METASPACE:
		case D_REPLACE: {
			struct pat lit = { NULL, d->s, d->slen };
			const struct pat *p = d->kind == D_REPLACE ? &d->p : &lit;
			const char *to = d->kind == D_REPLACE ? d->s : " ";
			size_t tl = d->kind == D_REPLACE ? d->slen : 1;
			struct ft_tj_work *w = ft_tj_work_new();
			size_t m = find_matches(p, w, cur, len, 0);
			cap = 0;
			nx = NULL;
			for (j = 0; j < m; j++) {
				const struct match *q = &w->mt[j];
				const char *src = q->m ? to : cur + q->a;
				size_t sl = q->m ? tl : q->b - q->a;
				ft_grow((void **)&nx, &cap, k + sl + 1, 1);
				memcpy(nx + k, src, sl);
				k += sl;
			}
			ft_tj_work_free(w);
			free(cur);
			cur = nx != NULL ? nx : ft_malloc(1);
			len = k;
			break;
		}
		case D_STRIP: {
			size_t a = 0, b = len;
			int c;
			for (c = 0; c < d->start && b - a >= d->slen &&
			    memcmp(cur + a, d->s, d->slen) == 0; c++)
				a += d->slen;
			for (c = 0; c < d->stop && b - a >= d->slen &&
			    memcmp(cur + b - d->slen, d->s, d->slen) == 0; c++)
				b -= d->slen;
			memmove(cur, cur + a, b - a);
			len = b - a;
			break;
		}
		}
	}
	ft_grow((void **)obuf, ocap, *olen + len + 1, 1);
	memcpy(*obuf + *olen, cur, len);
	*olen += len;
	free(cur);
}

size_t
ft_tj_doc_strip(const struct ft_tj *t, const char *s, size_t n)
{
	size_t a = 0, c;

	for (c = 0; c < t->doc_strip_n && n - a >= t->doc_strip_len &&
	    memcmp(s + a, t->doc_strip, t->doc_strip_len) == 0; c++)
		a += t->doc_strip_len;
	return a;
}
