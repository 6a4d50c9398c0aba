/* bpe — see bpe.h.
 *
 * Loading.  vocab.json maps token strings, written in GPT-2's byte-to-
 * unicode alphabet, to ids; every token is stored as the raw bytes it
 * stands for.  Each merges line "a b" (rank = its position) becomes an
 * entry (id(a), id(b)) -> (rank, id(ab)) of an open-addressing table; a
 * later duplicate wins, as in Hugging Face tokenizers.
 *
 * Encoding.  Added tokens are split out first (leftmost, then longest).
 * The pre-tokenizer is a hand-written matcher equivalent to the GPT-2
 * regex: at each position the contractions, then an optional U+0020
 * followed by a run of letters, of numbers or of "other" characters, then
 * whitespace (a run followed by a non-space gives back its last
 * character).  Each piece is merged like tokenizers' Word::merge_all: a
 * heap ordered by (rank, position) over a linked list of symbols, so a
 * 100,000-character word costs O(n log n).  Pieces up to CACHE_KEY bytes
 * are remembered in a per-encoder cache, which serves most of English.
 */
#include "bpe.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "bpe_tables.h"
#include "err.h"
#include "io.h"
#include "jsonl.h"
#include "sha256.h"
#include "tokjson.h"

enum { C_O = 0, C_L = 1, C_N = 2, C_S = 3 };

/* ---- byte <-> unicode ---- */

static uint16_t byte_cp[256];   /* byte -> code point of its character */
static int16_t cp_byte[0x144];  /* code point -> byte, or -1 */
static uint8_t ascii_cls[128];

static void
init_tables(void)
{
	static int done;
	int b, n = 0;

	if (done)
		return;
	for (b = 0; b < 0x144; b++)
		cp_byte[b] = -1;
	for (b = 0; b < 256; b++) {
		if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
		    (b >= 174 && b <= 255))
			byte_cp[b] = (uint16_t)b;
		else
			byte_cp[b] = (uint16_t)(256 + n++);
		cp_byte[byte_cp[b]] = (int16_t)b;
	}
	for (b = 0; b < 128; b++)
		ascii_cls[b] = (bpe_cls_stage2[bpe_cls_stage1[0]][b >> 2] >>
		    ((b & 3) * 2)) & 3;
	done = 1;
}

static inline int
cp_class(uint32_t cp)
{
	if (cp >= 0x110000)
		return C_O;
	return (bpe_cls_stage2[bpe_cls_stage1[cp >> 8]][(cp & 255) >> 2] >>
	    ((cp & 3) * 2)) & 3;
}

int
ft_bpe_class(uint32_t cp)
{
	return cp_class(cp);
}

int
ft_bpe_unicode_byte(uint32_t cp)
{
	init_tables();
	return cp < 0x144 ? cp_byte[cp] : -1;
}

static inline int
classify(const unsigned char *s, size_t i, size_t n, size_t *len,
    uint32_t *cpo)
{
	uint32_t cp;

	if (s[i] < 0x80) {
		*len = 1;
		*cpo = s[i];
		return ascii_cls[s[i]];
	}
	cp = ft_utf8_get(s, i, n, len);
	*cpo = cp;
	return cp_class(cp);
}

/* ---- hashing ---- */

static inline uint64_t
mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static inline uint64_t
hash_bytes(const unsigned char *p, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0x100000001b3ULL), v;

	while (n >= 8) {
		memcpy(&v, p, 8);
		h = (h ^ v) * 0xbf58476d1ce4e5b9ULL;
		h ^= h >> 31;
		p += 8;
		n -= 8;
	}
	v = 0;
	if (n > 0)
		memcpy(&v, p, n);
	h = (h ^ v) * 0x94d049bb133111ebULL;
	h ^= h >> 29;
	return h;
}

/* A string -> uint32 map for loading (open addressing, keys copied). */
struct smap_slot {
	uint64_t h;
	size_t off;
	uint32_t len;
	uint32_t val;
	int used;
};

struct smap {
	struct smap_slot *slot;
	size_t mask, count;
	char *keys;
	size_t klen, kcap;
};

static void
smap_init(struct smap *m, size_t expect)
{
	size_t cap = 16;

	while (cap < expect * 2)
		cap <<= 1;
	memset(m, 0, sizeof *m);
	m->slot = ft_calloc(cap, sizeof *m->slot);
	m->mask = cap - 1;
}

static void
smap_free(struct smap *m)
{
	free(m->slot);
	free(m->keys);
	memset(m, 0, sizeof *m);
}

static struct smap_slot *
smap_find(const struct smap *m, const char *k, size_t n, uint64_t h)
{
	size_t i = h & m->mask;

	for (;;) {
		struct smap_slot *s = &m->slot[i];
		if (!s->used || (s->h == h && s->len == n &&
		    memcmp(m->keys + s->off, k, n) == 0))
			return s;
		i = (i + 1) & m->mask;
	}
}

static void smap_put(struct smap *m, const char *k, size_t n, uint32_t v);

static void
smap_grow(struct smap *m)
{
	struct smap old = *m;
	size_t i, cap = (old.mask + 1) * 2;

	m->slot = ft_calloc(cap, sizeof *m->slot);
	m->mask = cap - 1;
	m->count = 0;
	for (i = 0; i <= old.mask; i++) {
		struct smap_slot *s = &old.slot[i], *d;
		if (!s->used)
			continue;
		d = smap_find(m, old.keys + s->off, s->len, s->h);
		*d = *s;
		m->count++;
	}
	free(old.slot);
}

/* Insert or overwrite. */
static void
smap_put(struct smap *m, const char *k, size_t n, uint32_t v)
{
	uint64_t h = hash_bytes((const unsigned char *)k, n);
	struct smap_slot *s;

	if ((m->count + 1) * 2 > m->mask + 1)
		smap_grow(m);
	s = smap_find(m, k, n, h);
	if (!s->used) {
		ft_grow((void **)&m->keys, &m->kcap, m->klen + n + 1, 1);
		memcpy(m->keys + m->klen, k, n);
		s->off = m->klen;
		m->klen += n;
		s->h = h;
		s->len = (uint32_t)n;
		s->used = 1;
		m->count++;
	}
	s->val = v;
}

static int
smap_get(const struct smap *m, const char *k, size_t n, uint32_t *v)
{
	uint64_t h = hash_bytes((const unsigned char *)k, n);
	struct smap_slot *s = smap_find(m, k, n, h);

	if (!s->used)
		return 0;
	*v = s->val;
	return 1;
}

/* ---- the tokenizer ---- */

struct merge_slot {
	uint64_t key;   /* (a << 32) | b; EMPTY when free */
	uint32_t rank;
	uint32_t id;
};
#define EMPTY UINT64_MAX

struct added {
	char *s;
	size_t len;
	uint32_t id;
	int special;
	int lstrip, rstrip, single_word;
	int normalized;       /* matched in the normalized text, as ns */
	char *ns;             /* the normalized content (pipeline) */
	size_t nlen;
};

enum { TOK_PRESENT = 1, TOK_SPECIAL = 2 };
#define MAX_ID (1 << 24)   /* ids are below this (memory is per id) */

struct ft_bpe {
	uint32_t vocab_size;
	char *blob;           /* raw bytes of all tokens */
	size_t blob_len;
	size_t *tok_off;      /* [vocab_size + 1] */
	uint8_t *tok_flags;   /* TOK_* */
	uint32_t byte_id[256];
	struct merge_slot *mt;
	size_t mmask;
	uint32_t *merge_abz;  /* (a, b, ab) per rank */
	size_t n_merges, merge_cap;
	struct added *added;
	size_t n_added, max_added;
	uint8_t first[256];   /* first bytes of added tokens */
	int first_single;     /* the one first byte, or -1 */
	int32_t eos;
	int ignore_merges;
	struct smap raw;      /* raw bytes -> id, for ignore_merges */
	/* a tokenizer.json pipeline (NULL: GPT-2's, hand-written) */
	struct ft_tj *tj;
	int char_level;       /* the model sees characters, not bytes */
	int has_unk, fuse_unk, byte_fallback;
	uint32_t unk;
	int32_t fb_id[256];   /* "<0xXX>" ids, or -1 */
	uint32_t *pre_ids, *post_ids;   /* the post-processor's additions */
	size_t n_pre, n_post;
	int cut_ok;           /* ft_bpe_cut may cut (pipeline) */
	int n_nonspecial;     /* added tokens not marked special */
	int n_normalized;     /* added tokens matched after normalizing */
};

static inline const struct merge_slot *
merge_get(const struct ft_bpe *b, uint32_t x, uint32_t y)
{
	uint64_t key = ((uint64_t)x << 32) | y;
	size_t i = mix64(key) & b->mmask;

	for (;;) {
		const struct merge_slot *s = &b->mt[i];
		if (s->key == key)
			return s;
		if (s->key == EMPTY)
			return NULL;
		i = (i + 1) & b->mmask;
	}
}

static void
merge_put(struct ft_bpe *b, uint32_t x, uint32_t y, uint32_t rank,
    uint32_t id)
{
	uint64_t key = ((uint64_t)x << 32) | y;
	size_t i = mix64(key) & b->mmask;

	while (b->mt[i].key != EMPTY && b->mt[i].key != key)
		i = (i + 1) & b->mmask;
	b->mt[i].key = key;
	b->mt[i].rank = rank;
	b->mt[i].id = id;
}

/* Raw bytes of a token string in the byte-to-unicode alphabet; characters
 * outside the alphabet stay as their UTF-8. */
static void
unmap_token(const char *t, size_t n, char **buf, size_t *len, size_t *cap)
{
	const unsigned char *s = (const unsigned char *)t;
	size_t i = 0, l;

	ft_grow((void **)buf, cap, *len + n + 1, 1);
	while (i < n) {
		uint32_t cp = ft_utf8_get(s, i, n, &l);
		if (cp < 0x144 && cp_byte[cp] >= 0)
			(*buf)[(*len)++] = (char)cp_byte[cp];
		else {
			memcpy(*buf + *len, t + i, l);
			*len += l;
		}
		i += l;
	}
}

/* Encode byte b's character as UTF-8 (2 bytes at most). */
static size_t
byte_char(int b, char out[4])
{
	uint16_t cp = byte_cp[b];

	return ft_utf8_put(out, cp);
}

struct loader {
	const char *vname;    /* file named in vocabulary errors */
	struct smap vocab;    /* token string (as in the file) -> id */
	uint32_t max_id;
	int any;
};

static int
load_vocab(struct loader *L, const cJSON *obj)
{
	const cJSON *it;
	size_t n = 0;

	if (!cJSON_IsObject(obj))
		return ft_error("%s: vocabulary is not a JSON object", L->vname);
	for (it = obj->child; it != NULL; it = it->next)
		n++;
	smap_init(&L->vocab, n + 16);
	L->max_id = 0;
	L->any = 0;
	for (it = obj->child; it != NULL; it = it->next) {
		double d = it->valuedouble;
		if (!cJSON_IsNumber(it) || d < 0 || d >= MAX_ID ||
		    d != (double)(uint32_t)d)
			return ft_error("%s: token '%s' has no valid id "
			    "(0 to %d)", L->vname, it->string, MAX_ID - 1);
		smap_put(&L->vocab, it->string, strlen(it->string),
		    (uint32_t)d);
		if (!L->any || (uint32_t)d > L->max_id)
			L->max_id = (uint32_t)d;
		L->any = 1;
	}
	if (!L->any)
		return ft_error("%s: empty vocabulary", L->vname);
	return 0;
}

static struct ft_bpe *
bpe_new(void)
{
	struct ft_bpe *b = ft_calloc(1, sizeof *b);

	init_tables();
	b->eos = -1;
	b->first_single = -1;
	return b;
}

/* The vocabulary size (largest id of the vocabulary and added tokens, plus
 * one) into b, and each vocabulary id's token string (NULL for none) and
 * length: malloc'd arrays.  -1 (after a message) when an id has two. */
static int
vocab_keys(struct ft_bpe *b, const struct loader *L, char ***keys,
    size_t **klen)
{
	uint32_t V = L->max_id + 1;
	size_t i;

	for (i = 0; i < b->n_added; i++)
		if (b->added[i].id + 1 > V)
			V = b->added[i].id + 1;
	b->vocab_size = V;
	*keys = ft_calloc(V, sizeof **keys);
	*klen = ft_calloc(V, sizeof **klen);
	for (i = 0; i <= L->vocab.mask; i++) {
		const struct smap_slot *s = &L->vocab.slot[i];
		if (!s->used)
			continue;
		if ((*keys)[s->val] != NULL) {
			free(*keys);
			free(*klen);
			return ft_error("%s: id %u is used by two tokens",
			    L->vname, s->val);
		}
		(*keys)[s->val] = L->vocab.keys + s->off;
		(*klen)[s->val] = s->len;
	}
	return 0;
}

/* Build the token table from the vocabulary and added tokens. */
static int
build_tokens(struct ft_bpe *b, struct loader *L)
{
	size_t i, cap = 0, n;
	char **keys;
	size_t *klen;
	uint32_t V = L->max_id + 1, id;
	char c[4];

	if (vocab_keys(b, L, &keys, &klen) != 0)
		return -1;
	V = b->vocab_size;
	b->tok_off = ft_malloc((V + 1) * sizeof *b->tok_off);
	b->tok_flags = ft_calloc(V, 1);
	for (id = 0; id < V; id++) {
		b->tok_off[id] = b->blob_len;
		if (keys[id] == NULL)
			continue;
		unmap_token(keys[id], klen[id], &b->blob, &b->blob_len, &cap);
		b->tok_flags[id] = TOK_PRESENT;
	}
	b->tok_off[V] = b->blob_len;
	/* Added tokens decode as their content; rebuild if any differ. */
	for (i = 0; i < b->n_added; i++) {
		struct added *a = &b->added[i];
		size_t ol = b->tok_off[a->id + 1] - b->tok_off[a->id];
		b->tok_flags[a->id] |= TOK_PRESENT |
		    (a->special ? TOK_SPECIAL : 0);
		if (ol != a->len ||
		    memcmp(b->blob + b->tok_off[a->id], a->s, a->len) != 0) {
			char *nb = NULL;
			size_t nl = 0, ncap = 0, j;
			size_t *noff = ft_malloc((V + 1) * sizeof *noff);
			for (id = 0; id < V; id++) {
				const char *src = b->blob + b->tok_off[id];
				size_t sl = b->tok_off[id + 1] - b->tok_off[id];
				for (j = 0; j < b->n_added; j++)
					if (b->added[j].id == id) {
						src = b->added[j].s;
						sl = b->added[j].len;
					}
				noff[id] = nl;
				ft_grow((void **)&nb, &ncap, nl + sl + 1, 1);
				memcpy(nb + nl, src, sl);
				nl += sl;
			}
			noff[V] = nl;
			free(b->blob);
			free(b->tok_off);
			b->blob = nb;
			b->blob_len = nl;
			b->tok_off = noff;
			break;
		}
	}
	free(keys);
	free(klen);
	for (i = 0; i < 256; i++) {
		n = byte_char((int)i, c);
		if (!smap_get(&L->vocab, c, n, &b->byte_id[i]))
			return ft_error("%s: the vocabulary lacks the token "
			    "for byte 0x%02zx", L->vname, i);
	}
	return 0;
}

/* The token table of a tokenizer.json pipeline: each token's bytes are
 * what it decodes to on its own (tokjson's per-token decoder); raw maps
 * the strings the model works on (unmapped bytes for a byte-level
 * vocabulary, the strings themselves otherwise) to ids. */
static int
build_tokens_tj(struct ft_bpe *b, struct loader *L)
{
	size_t i, cap = 0, n, rl, rcap = 0;
	const char **keys;
	size_t *klen;
	uint32_t V = L->max_id + 1, id;
	char c[16], *rb = NULL;

	if (vocab_keys(b, L, (char ***)&keys, &klen) != 0)
		return -1;
	V = b->vocab_size;
	/* raw: only char_syms and ignore_merges look tokens up by bytes */
	if (b->char_level || b->ignore_merges)
		smap_init(&b->raw, L->vocab.count + 16);
	for (id = 0; id < V && (b->char_level || b->ignore_merges); id++) {
		if (keys[id] == NULL)
			continue;
		if (b->char_level) {
			smap_put(&b->raw, keys[id], klen[id], id);
		} else {
			rl = 0;
			unmap_token(keys[id], klen[id], &rb, &rl, &rcap);
			smap_put(&b->raw, rb, rl, id);
		}
	}
	free(rb);
	/* added tokens decode as their content, normalized for those
	 * matched after normalizing (as tokenizers does) */
	{
		struct ft_tj_work *w = ft_tj_work_new();
		for (i = 0; i < b->n_added; i++) {
			struct added *a = &b->added[i];
			const char *ns;
			keys[a->id] = a->s;
			klen[a->id] = a->len;
			if (!a->normalized)
				continue;
			a->nlen = ft_tj_normalize(b->tj, w, a->s, a->len, 0, &ns);
			a->ns = ft_strndup(ns, a->nlen);
			keys[a->id] = a->ns;
			klen[a->id] = a->nlen;
		}
		ft_tj_work_free(w);
	}
	b->tok_off = ft_malloc((V + 1) * sizeof *b->tok_off);
	b->tok_flags = ft_calloc(V, 1);
	for (id = 0; id < V; id++) {
		b->tok_off[id] = b->blob_len;
		if (keys[id] == NULL)
			continue;
		ft_tj_decode_token(b->tj, keys[id], klen[id], &b->blob,
		    &b->blob_len, &cap);
		b->tok_flags[id] = TOK_PRESENT;
	}
	b->tok_off[V] = b->blob_len;
	for (i = 0; i < b->n_added; i++)
		if (b->added[i].special)
			b->tok_flags[b->added[i].id] |= TOK_SPECIAL;
	free(keys);
	free(klen);
	for (i = 0; i < 256; i++) {
		if (b->char_level) {
			uint32_t v;
			snprintf(c, sizeof c, "<0x%02zX>", i);
			b->fb_id[i] = smap_get(&L->vocab, c, 6, &v) ?
			    (int32_t)v : -1;
			continue;
		}
		n = byte_char((int)i, c);
		if (!smap_get(&L->vocab, c, n, &b->byte_id[i]))
			return ft_error("%s: the vocabulary lacks the token "
			    "for byte 0x%02zx", L->vname, i);
	}
	return 0;
}

static int
add_merge(struct ft_bpe *b, struct loader *L, const char *name, long line,
    const char *x, size_t xn, const char *y, size_t yn)
{
	uint32_t ix, iy, iz;
	char *cat;
	size_t r = b->n_merges;

	if (xn == 0 || yn == 0)
		return ft_error("%s:%ld: malformed merge", name, line);
	if (!smap_get(&L->vocab, x, xn, &ix))
		return ft_error("%s:%ld: merge token '%.*s' is not in the "
		    "vocabulary", name, line, (int)xn, x);
	if (!smap_get(&L->vocab, y, yn, &iy))
		return ft_error("%s:%ld: merge token '%.*s' is not in the "
		    "vocabulary", name, line, (int)yn, y);
	cat = ft_malloc(xn + yn);
	memcpy(cat, x, xn);
	memcpy(cat + xn, y, yn);
	if (!smap_get(&L->vocab, cat, xn + yn, &iz)) {
		ft_error("%s:%ld: merged token '%.*s' is not in the "
		    "vocabulary", name, line, (int)(xn + yn), cat);
		free(cat);
		return -1;
	}
	free(cat);
	ft_grow((void **)&b->merge_abz, &b->merge_cap, 3 * (r + 1),
	    sizeof *b->merge_abz);
	b->merge_abz[3 * r] = ix;
	b->merge_abz[3 * r + 1] = iy;
	b->merge_abz[3 * r + 2] = iz;
	b->n_merges++;
	return 0;
}

/* Fill the merge table from merge_abz (later duplicates win). */
static void
build_merges(struct ft_bpe *b)
{
	size_t cap = 16, r;
	const uint32_t *m = b->merge_abz;

	while (cap < b->n_merges * 2 + 16)
		cap <<= 1;
	b->mt = ft_malloc(cap * sizeof *b->mt);
	for (r = 0; r < cap; r++)
		b->mt[r].key = EMPTY;
	b->mmask = cap - 1;
	for (r = 0; r < b->n_merges; r++)
		merge_put(b, m[3 * r], m[3 * r + 1], (uint32_t)r, m[3 * r + 2]);
}

static void
loader_free(struct loader *L)
{
	smap_free(&L->vocab);
}

static struct added *
add_added(struct ft_bpe *b, const char *s, size_t n, uint32_t id,
    int special)
{
	struct added *a;

	b->added = ft_realloc(b->added, (b->n_added + 1) * sizeof *b->added);
	a = &b->added[b->n_added++];
	memset(a, 0, sizeof *a);
	a->s = ft_strndup(s, n);
	a->len = n;
	a->id = id;
	a->special = special;
	return a;
}

/* Final steps shared by both loaders. */
static int
finish(struct ft_bpe *b)
{
	size_t i;
	int fb = -1;

	for (i = 0; i < b->n_added; i++) {
		const struct added *a = &b->added[i];
		if (a->ns != NULL && a->nlen > 0) {
			b->first[(unsigned char)a->ns[0]] = 1;
			b->n_normalized++;
			fb = -2;
		}
	}
	/* A cut "x\n|a" (ft_bpe_cut) stays safe only if no added token can
	 * see across it: none matched after normalizing (the normalizer may
	 * change what is around the cut), no lstrip one starting with a
	 * letter, no single_word one ending in '\n'. */
	for (i = 0; i < b->n_added && b->cut_ok; i++) {
		const struct added *a = &b->added[i];
		unsigned c0 = a->len > 0 ? (unsigned char)a->s[0] | 0x20 : 0;
		if ((a->normalized && ft_tj_has_normalizer(b->tj)) ||
		    (a->lstrip && c0 >= 'a' && c0 <= 'z') ||
		    (a->single_word && a->len > 0 && a->s[a->len - 1] == '\n'))
			b->cut_ok = 0;
	}
	for (i = 0; i < b->n_added; i++) {
		const struct added *a = &b->added[i];
		if (a->len == 0)
			continue;
		b->first[(unsigned char)a->s[0]] = 1;
		if (fb == -1)
			fb = (unsigned char)a->s[0];
		else if (fb != (unsigned char)a->s[0])
			fb = -2;
		if (a->len > b->max_added)
			b->max_added = a->len;
		if (a->len == 13 && memcmp(a->s, "<|endoftext|>", 13) == 0)
			b->eos = (int32_t)a->id;
		if (!a->special)
			b->n_nonspecial++;
	}
	b->first_single = fb >= 0 ? fb : -1;
	if (b->ignore_merges && b->tj == NULL) {
		uint32_t id;
		smap_init(&b->raw, b->vocab_size);
		for (id = 0; id < b->vocab_size; id++)
			if (b->tok_flags[id] & TOK_PRESENT)
				smap_put(&b->raw, b->blob + b->tok_off[id],
				    b->tok_off[id + 1] - b->tok_off[id], id);
	}
	return 0;
}

/* Tokens, merge table and added-token index from what was loaded. */
static int
complete(struct ft_bpe *b, struct loader *L)
{
	if ((b->tj != NULL ? build_tokens_tj(b, L) : build_tokens(b, L)) != 0)
		return -1;
	build_merges(b);
	return finish(b);
}

struct ft_bpe *
ft_bpe_load_files(const char *vocab_path, const char *merges_path)
{
	struct ft_bpe *b = bpe_new();
	struct loader L;
	cJSON *vj;
	char *mb = NULL, *p, *end;
	size_t mlen;
	long line = 0;
	uint32_t eid;

	memset(&L, 0, sizeof L);
	L.vname = vocab_path;
	if ((vj = ft_json_load(vocab_path)) == NULL)
		goto fail;
	if (load_vocab(&L, vj) != 0) {
		cJSON_Delete(vj);
		goto fail;
	}
	cJSON_Delete(vj);
	if (smap_get(&L.vocab, "<|endoftext|>", 13, &eid))
		add_added(b, "<|endoftext|>", 13, eid, 1);
	if (ft_read_file(merges_path, &mb, &mlen) != 0)
		goto fail;
	p = mb;
	end = mb + mlen;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *e, *sp;
		e = nl != NULL ? nl : end;
		line++;
		if (e > p && e[-1] == '\r')
			e--;
		if (!((size_t)(e - p) >= 8 && memcmp(p, "#version", 8) == 0)) {
			sp = memchr(p, ' ', (size_t)(e - p));
			if (sp == NULL || memchr(sp + 1, ' ',
			    (size_t)(e - sp - 1)) != NULL) {
				ft_error("%s:%ld: malformed merge (want 'a b')",
				    merges_path, line);
				goto fail;
			}
			if (add_merge(b, &L, merges_path, line, p,
			    (size_t)(sp - p), sp + 1, (size_t)(e - sp - 1)))
				goto fail;
		}
		p = nl != NULL ? nl + 1 : end;
	}
	free(mb);
	mb = NULL;
	if (complete(b, &L) != 0)
		goto fail;
	loader_free(&L);
	return b;
fail:
	free(mb);
	loader_free(&L);
	ft_bpe_free(b);
	return NULL;
}

static int
json_null_or(const cJSON *j, const char *key, const char *want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);

	if (v == NULL || cJSON_IsNull(v))
		return 1;
	if (want != NULL && cJSON_IsString(v) &&
	    strcmp(v->valuestring, want) == 0)
		return 1;
	return 0;
}

static int
json_type_is(const cJSON *j, const char *type)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");

	return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

/* The pre-tokenizer must be ByteLevel without a prefix space (directly or
 * as the only element of a Sequence). */
static int
check_pretok(const cJSON *pt, const char *path)
{
	const cJSON *t, *v;

	if (pt == NULL || cJSON_IsNull(pt))
		return ft_error("%s: unsupported tokenizer: no pre_tokenizer "
		    "(want ByteLevel)", path);
	t = cJSON_GetObjectItemCaseSensitive(pt, "type");
	if (cJSON_IsString(t) && strcmp(t->valuestring, "Sequence") == 0) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(pt,
		    "pretokenizers");
		if (cJSON_GetArraySize(a) == 1)
			return check_pretok(cJSON_GetArrayItem(a, 0), path);
	}
	if (!cJSON_IsString(t) || strcmp(t->valuestring, "ByteLevel") != 0)
		return ft_error("%s: unsupported tokenizer: pre_tokenizer is "
		    "not ByteLevel", path);
	v = cJSON_GetObjectItemCaseSensitive(pt, "add_prefix_space");
	if (cJSON_IsTrue(v))
		return ft_error("%s: unsupported tokenizer: add_prefix_space "
		    "is true", path);
	v = cJSON_GetObjectItemCaseSensitive(pt, "use_regex");
	if (cJSON_IsFalse(v))
		return ft_error("%s: unsupported tokenizer: use_regex is "
		    "false", path);
	return 0;
}

/* Is this the GPT-2 pipeline that the hand-written pre-tokenizer does:
 * no normalizer, ByteLevel without a prefix space with its regex (alone
 * or the only element of a Sequence), ByteLevel or no post-processor and
 * decoder, a plain BPE model, added tokens without strip flags? */
static int
is_gpt2(const cJSON *j, const cJSON *model)
{
	const cJSON *pt = cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer");
	const cJSON *it;
	static const char *const bl[] = { "post_processor", "decoder" };
	size_t i;

	if (!json_null_or(j, "normalizer", NULL) ||
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model,
	    "byte_fallback")) || !json_null_or(model, "unk_token", NULL))
		return 0;
	if (json_type_is(pt, "Sequence")) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(pt,
		    "pretokenizers");
		if (cJSON_GetArraySize(a) != 1)
			return 0;
		pt = cJSON_GetArrayItem(a, 0);
	}
	if (!json_type_is(pt, "ByteLevel") ||
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pt,
	    "add_prefix_space")) ||
	    cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(pt, "use_regex")))
		return 0;
	for (i = 0; i < 2; i++) {
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, bl[i]);
		if (x != NULL && !cJSON_IsNull(x) && !json_type_is(x,
		    "ByteLevel"))
			return 0;
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j,
	    "added_tokens")) {
		static const char *const fl[] = { "lstrip", "rstrip",
			"single_word" };
		for (i = 0; i < 3; i++)
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it,
			    fl[i])))
				return 0;
	}
	return 1;
}

static void
push_ids(uint32_t **v, size_t *n, const cJSON *ids)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, ids) {
		*v = ft_realloc(*v, (*n + 1) * sizeof **v);
		(*v)[(*n)++] = (uint32_t)it->valuedouble;
	}
}

/* The post-processor's ids before and after the text (TemplateProcessing's
 * "single"; ByteLevel adds none). */
static int
load_post(struct ft_bpe *b, const cJSON *pp, const char *path)
{
	const cJSON *it, *sp;
	int seen = 0;

	if (pp == NULL || cJSON_IsNull(pp) || json_type_is(pp, "ByteLevel"))
		return 0;
	if (json_type_is(pp, "Sequence")) {
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(pp,
		    "processors"))
			if (load_post(b, it, path) != 0)
				return -1;
		return 0;
	}
	if (!json_type_is(pp, "TemplateProcessing")) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(pp, "type");
		return ft_error("%s: post_processor \"%s\" is not supported",
		    path, cJSON_IsString(t) ? t->valuestring : "?");
	}
	sp = cJSON_GetObjectItemCaseSensitive(pp, "special_tokens");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(pp, "single")) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(it,
		    "SpecialToken"), *name, *ids, *tok;
		if (st == NULL) {
			seen = 1;
			continue;
		}
		name = cJSON_GetObjectItemCaseSensitive(st, "id");
		tok = cJSON_IsString(name) ?
		    cJSON_GetObjectItemCaseSensitive(sp, name->valuestring) :
		    NULL;
		ids = cJSON_GetObjectItemCaseSensitive(tok, "ids");
		if (!cJSON_IsArray(ids)) {
			return ft_error("%s: post_processor: special token "
			    "'%s' has no ids", path, cJSON_IsString(name) ?
			    name->valuestring : "?");
		}
		if (seen)
			push_ids(&b->post_ids, &b->n_post, ids);
		else
			push_ids(&b->pre_ids, &b->n_pre, ids);
	}
	return 0;
}

/* The id of a token named in tokenizer_config.json (a string or an
 * AddedToken object with "content"); -1 when absent or null, -2 (after a
 * message) when not in the vocabulary. */
static int64_t
config_token(const struct ft_bpe *b, const struct loader *L,
    const cJSON *cfg, const char *key, const char *cpath)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
	const char *name;
	uint32_t id;
	size_t i;

	if (cJSON_IsObject(v))
		v = cJSON_GetObjectItemCaseSensitive(v, "content");
	if (!cJSON_IsString(v))
		return -1;
	name = v->valuestring;
	for (i = b->n_added; i-- > 0;)
		if (strcmp(b->added[i].s, name) == 0)
			return b->added[i].id;
	if (smap_get(&L->vocab, name, strlen(name), &id))
		return id;
	ft_error("%s: %s '%s' is not in the vocabulary", cpath, key, name);
	return -2;
}

/* tokenizer_config.json (and config.json) beside the tokenizer: the end-
 * of-text token, and for the Llama and Gemma classes transformers'
 * post-processor rebuilt from add_bos_token / add_eos_token. */
static int
apply_config(struct ft_bpe *b, const struct loader *L, const char *path)
{
	const char *sl = strrchr(path, '/');
	char *dir = sl ? ft_strndup(path, (size_t)(sl - path) + 1) :
	    ft_strdup(".");
	char *cp = ft_path_join(dir, "tokenizer_config.json");
	char *mp = ft_path_join(dir, "config.json");
	cJSON *cfg = NULL, *mc = NULL;
	const cJSON *cls, *v;
	int64_t eos = -1, bos;
	int rc = -1;

	if (ft_exists(cp) && (cfg = ft_json_load(cp)) == NULL)
		goto out;
	if (cfg != NULL && (eos = config_token(b, L, cfg, "eos_token", cp)) ==
	    -2)
		goto out;
	if (eos < 0 && ft_exists(mp) && (mc = ft_json_load(mp)) != NULL) {
		v = cJSON_GetObjectItemCaseSensitive(mc, "eos_token_id");
		if (cJSON_IsArray(v))
			v = cJSON_GetArrayItem(v, 0);
		if (cJSON_IsNumber(v) && v->valuedouble >= 0 &&
		    v->valuedouble < b->vocab_size)
			eos = (int64_t)v->valuedouble;
	}
	if (eos >= 0)
		b->eos = (int32_t)eos;
	cls = cJSON_GetObjectItemCaseSensitive(cfg, "tokenizer_class");
	if (b->tj != NULL && cJSON_IsString(cls) &&
	    (strncmp(cls->valuestring, "LlamaTokenizer", 14) == 0 ||
	    strncmp(cls->valuestring, "GemmaTokenizer", 14) == 0)) {
		int add_bos = 1, add_eos = 0;
		v = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
		if (cJSON_IsBool(v))
			add_bos = cJSON_IsTrue(v);
		v = cJSON_GetObjectItemCaseSensitive(cfg, "add_eos_token");
		if (cJSON_IsBool(v))
			add_eos = cJSON_IsTrue(v);
		if ((bos = config_token(b, L, cfg, "bos_token", cp)) == -2)
			goto out;
		if ((add_bos && bos < 0) || (add_eos && eos < 0)) {
			ft_error("%s: add_%s_token without a %s_token", cp,
			    add_bos && bos < 0 ? "bos" : "eos",
			    add_bos && bos < 0 ? "bos" : "eos");
			goto out;
		}
		b->n_pre = b->n_post = 0;
		if (add_bos) {
			b->pre_ids = ft_realloc(b->pre_ids, sizeof *b->pre_ids);
			b->pre_ids[b->n_pre++] = (uint32_t)bos;
		}
		if (add_eos) {
			b->post_ids = ft_realloc(b->post_ids,
			    sizeof *b->post_ids);
			b->post_ids[b->n_post++] = (uint32_t)eos;
		}
	}
	rc = 0;
out:
	cJSON_Delete(cfg);
	cJSON_Delete(mc);
	free(cp);
	free(mp);
	free(dir);
	return rc;
}

/* Model options of a pipeline tokenizer.json. */
static int
load_model_opts(struct ft_bpe *b, const cJSON *model, const char *path)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(model, "dropout");

	if (v != NULL && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) &&
	    v->valuedouble == 0))
		return ft_error("%s: model: dropout is not supported", path);
	if (!json_null_or(model, "continuing_subword_prefix", "") ||
	    !json_null_or(model, "end_of_word_suffix", ""))
		return ft_error("%s: model: continuing_subword_prefix and "
		    "end_of_word_suffix are not supported", path);
	b->byte_fallback = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model,
	    "byte_fallback"));
	b->fuse_unk = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model,
	    "fuse_unk"));
	return 0;
}

struct ft_bpe *
ft_bpe_load_json(const char *path)
{
	struct ft_bpe *b = bpe_new();
	struct loader L;
	cJSON *j = NULL;
	const cJSON *model, *vocab, *merges, *added, *it, *t;
	long line = 0;
	int gpt2;

	memset(&L, 0, sizeof L);
	L.vname = path;
	if ((j = ft_json_load(path)) == NULL)
		goto fail;
	model = cJSON_GetObjectItemCaseSensitive(j, "model");
	if (!cJSON_IsObject(model)) {
		ft_error("%s: no \"model\" object", path);
		goto fail;
	}
	t = cJSON_GetObjectItemCaseSensitive(model, "type");
	if (t != NULL && !(cJSON_IsString(t) &&
	    strcmp(t->valuestring, "BPE") == 0)) {
		ft_error("%s: model \"%s\" is not supported (only BPE)", path,
		    cJSON_IsString(t) ? t->valuestring : "?");
		goto fail;
	}
	gpt2 = is_gpt2(j, model);
	if (gpt2) {
		if (!json_null_or(model, "dropout", NULL) ||
		    !json_null_or(model, "continuing_subword_prefix", "") ||
		    !json_null_or(model, "end_of_word_suffix", "")) {
			ft_error("%s: unsupported tokenizer: dropout or "
			    "subword prefix/suffix set", path);
			goto fail;
		}
		if (check_pretok(cJSON_GetObjectItemCaseSensitive(j,
		    "pre_tokenizer"), path) != 0)
			goto fail;
	} else {
		if ((b->tj = ft_tj_load(j, path)) == NULL ||
		    load_model_opts(b, model, path) != 0 ||
		    load_post(b, cJSON_GetObjectItemCaseSensitive(j,
		    "post_processor"), path) != 0)
			goto fail;
		b->char_level = !ft_tj_byte_level(b->tj);
		b->cut_ok = ft_tj_cut_safe(b->tj);
	}
	b->ignore_merges = cJSON_IsTrue(
	    cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
	vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
	if (load_vocab(&L, vocab) != 0)
		goto fail;
	added = cJSON_GetObjectItemCaseSensitive(j, "added_tokens");
	if (added != NULL && !cJSON_IsNull(added) && !cJSON_IsArray(added)) {
		ft_error("%s: added_tokens is not an array", path);
		goto fail;
	}
	cJSON_ArrayForEach(it, added) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(it,
		    "content");
		const cJSON *sp = cJSON_GetObjectItemCaseSensitive(it,
		    "special");
		struct added *a;
		if (!cJSON_IsNumber(id) || id->valuedouble < 0 ||
		    id->valuedouble >= MAX_ID || !cJSON_IsString(c) ||
		    c->valuestring[0] == '\0') {
			ft_error("%s: malformed entry in added_tokens", path);
			goto fail;
		}
		a = add_added(b, c->valuestring, strlen(c->valuestring),
		    (uint32_t)id->valuedouble, cJSON_IsTrue(sp));
		a->lstrip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it,
		    "lstrip"));
		a->rstrip = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it,
		    "rstrip"));
		a->single_word = cJSON_IsTrue(
		    cJSON_GetObjectItemCaseSensitive(it, "single_word"));
		sp = cJSON_GetObjectItemCaseSensitive(it, "normalized");
		a->normalized = cJSON_IsBool(sp) ? cJSON_IsTrue(sp) :
		    !a->special;
	}
	if (b->tj != NULL) {
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(model,
		    "unk_token");
		uint32_t uid;
		if (cJSON_IsString(u)) {
			if (!smap_get(&L.vocab, u->valuestring,
			    strlen(u->valuestring), &uid)) {
				ft_error("%s: unk_token '%s' is not in the "
				    "vocabulary", path, u->valuestring);
				goto fail;
			}
			b->has_unk = 1;
			b->unk = uid;
		}
	}
	merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
	if (merges != NULL && !cJSON_IsArray(merges)) {
		ft_error("%s: model.merges is not an array", path);
		goto fail;
	}
	cJSON_ArrayForEach(it, merges) {
		line++;
		if (cJSON_IsString(it)) {
			const char *s = it->valuestring;
			const char *sp = strchr(s, ' ');
			if (sp == NULL || strchr(sp + 1, ' ') != NULL) {
				ft_error("%s: merge %ld: malformed (want "
				    "\"a b\")", path, line);
				goto fail;
			}
			if (add_merge(b, &L, path, line, s, (size_t)(sp - s),
			    sp + 1, strlen(sp + 1)) != 0)
				goto fail;
		} else if (cJSON_GetArraySize(it) == 2 &&
		    cJSON_IsString(cJSON_GetArrayItem(it, 0)) &&
		    cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
			const char *x = cJSON_GetArrayItem(it, 0)->valuestring;
			const char *y = cJSON_GetArrayItem(it, 1)->valuestring;
			if (add_merge(b, &L, path, line, x, strlen(x), y,
			    strlen(y)) != 0)
				goto fail;
		} else {
			ft_error("%s: merge %ld: malformed", path, line);
			goto fail;
		}
	}
	cJSON_Delete(j);
	j = NULL;
	if (complete(b, &L) != 0 || apply_config(b, &L, path) != 0)
		goto fail;
	loader_free(&L);
	return b;
fail:
	cJSON_Delete(j);
	loader_free(&L);
	ft_bpe_free(b);
	return NULL;
}

struct ft_bpe *
ft_bpe_load_dir(const char *dir)
{
	char *tj = ft_path_join(dir, "tokenizer.json");
	char *vj, *mt;
	struct ft_bpe *b;

	if (ft_exists(tj)) {
		b = ft_bpe_load_json(tj);
		free(tj);
		return b;
	}
	free(tj);
	vj = ft_path_join(dir, "vocab.json");
	mt = ft_path_join(dir, "merges.txt");
	if (!ft_exists(vj)) {
		ft_error("%s: no tokenizer.json or vocab.json", dir);
		b = NULL;
	} else {
		b = ft_bpe_load_files(vj, mt);
	}
	free(vj);
	free(mt);
	return b;
}

void
ft_bpe_free(struct ft_bpe *b)
{
	size_t i;

	if (b == NULL)
		return;
	free(b->blob);
	free(b->tok_off);
	free(b->tok_flags);
	free(b->mt);
	free(b->merge_abz);
	for (i = 0; i < b->n_added; i++) {
		free(b->added[i].s);
		free(b->added[i].ns);
	}
	free(b->added);
	smap_free(&b->raw);
	ft_tj_free(b->tj);
	free(b->pre_ids);
	free(b->post_ids);
	free(b);
}

uint32_t
ft_bpe_vocab_size(const struct ft_bpe *b)
{
	return b->vocab_size;
}

int32_t
ft_bpe_eos_id(const struct ft_bpe *b)
{
	return b->eos;
}

const char *
ft_bpe_token(const struct ft_bpe *b, uint32_t id, size_t *len)
{
	if (id >= b->vocab_size || !(b->tok_flags[id] & TOK_PRESENT)) {
		*len = 0;
		return NULL;
	}
	*len = b->tok_off[id + 1] - b->tok_off[id];
	return b->blob + b->tok_off[id];
}

int
ft_bpe_is_special(const struct ft_bpe *b, uint32_t id)
{
	return id < b->vocab_size && (b->tok_flags[id] & TOK_SPECIAL) != 0;
}

static void
put_u32(ft_sha256 *c, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 24) };

	ft_sha256_update(c, x, 4);
}

void
ft_bpe_hash(const struct ft_bpe *b, uint8_t out[32])
{
	ft_sha256 c;
	uint32_t id;
	size_t i;

	ft_sha256_init(&c);
	ft_sha256_update(&c, "ft-bpe-1", 8);
	put_u32(&c, b->vocab_size);
	for (id = 0; id < b->vocab_size; id++) {
		size_t l = b->tok_off[id + 1] - b->tok_off[id];
		put_u32(&c, b->tok_flags[id]);
		put_u32(&c, (uint32_t)l);
		ft_sha256_update(&c, b->blob + b->tok_off[id], l);
	}
	put_u32(&c, (uint32_t)b->n_merges);
	for (i = 0; i < b->n_merges; i++) {
		put_u32(&c, b->merge_abz[3 * i]);
		put_u32(&c, b->merge_abz[3 * i + 1]);
	}
	put_u32(&c, (uint32_t)b->n_added);
	for (i = 0; i < b->n_added; i++) {
		put_u32(&c, b->added[i].id);
		put_u32(&c, (uint32_t)b->added[i].special);
		put_u32(&c, (uint32_t)b->added[i].len);
		ft_sha256_update(&c, b->added[i].s, b->added[i].len);
	}
	put_u32(&c, (uint32_t)b->ignore_merges);
	if (b->tj != NULL) {
		const char *cn = ft_tj_canon(b->tj);
		uint32_t f[6] = { (uint32_t)b->char_level,
			(uint32_t)b->byte_fallback, (uint32_t)b->fuse_unk,
			b->has_unk ? b->unk : UINT32_MAX, (uint32_t)b->n_pre,
			(uint32_t)b->n_post };
		ft_sha256_update(&c, "tokenizer.json", 14);
		ft_sha256_update(&c, cn, strlen(cn));
		for (i = 0; i < 6; i++)
			put_u32(&c, f[i]);
		for (i = 0; i < b->n_pre; i++)
			put_u32(&c, b->pre_ids[i]);
		for (i = 0; i < b->n_post; i++)
			put_u32(&c, b->post_ids[i]);
		for (i = 0; i < b->n_added; i++)
			put_u32(&c, (uint32_t)(b->added[i].lstrip |
			    b->added[i].rstrip << 1 |
			    b->added[i].single_word << 2 |
			    b->added[i].normalized << 3));
	}
	ft_sha256_final(&c, out);
}

/* ---- encoder ---- */

#define CACHE_KEY 48
#define CACHE_SLOTS (1u << 16)
#define CACHE_MAX (CACHE_SLOTS / 2)
#define CACHE_KEYBYTES (CACHE_MAX * 12)
#define CACHE_IDS (CACHE_MAX * 4)

struct cslot {
	uint64_t h;
	uint32_t koff;
	uint32_t ioff;
	uint16_t klen;   /* 0 = free */
	uint16_t nids;
};

struct sym {
	uint32_t id;
	int32_t prev, next;
};

struct hent {
	uint32_t rank;
	uint32_t pos;
	uint32_t id;
};

struct ft_bpe_enc {
	const struct ft_bpe *b;
	struct cslot *slot;
	uint32_t used;
	char *keys;
	uint32_t klen;
	uint32_t *ids;
	uint32_t ilen;
	struct sym *sym;
	size_t symcap;
	struct hent *heap;
	size_t heapcap;
	uint32_t *tmp;
	size_t tmpcap;
	struct ft_tj_work *tw;   /* pipeline scratch */
	char *nbuf;              /* a normalized segment */
	size_t ncap;
};

struct ft_bpe_enc *
ft_bpe_enc_new(const struct ft_bpe *b)
{
	struct ft_bpe_enc *e = ft_calloc(1, sizeof *e);

	e->b = b;
	e->slot = ft_calloc(CACHE_SLOTS, sizeof *e->slot);
	e->keys = ft_malloc(CACHE_KEYBYTES);
	e->ids = ft_malloc(CACHE_IDS * sizeof *e->ids);
	if (b->tj != NULL)
		e->tw = ft_tj_work_new();
	return e;
}

void
ft_bpe_enc_free(struct ft_bpe_enc *e)
{
	if (e == NULL)
		return;
	free(e->slot);
	free(e->keys);
	free(e->ids);
	free(e->sym);
	free(e->heap);
	free(e->tmp);
	ft_tj_work_free(e->tw);
	free(e->nbuf);
	free(e);
}

static inline int
hent_less(const struct hent *x, const struct hent *y)
{
	return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

static void
heap_push(struct ft_bpe_enc *e, size_t *n, uint32_t rank, uint32_t pos,
    uint32_t id)
{
	struct hent h = { rank, pos, id };
	size_t i;

	if (*n == e->heapcap)
		ft_grow((void **)&e->heap, &e->heapcap, *n + 1, sizeof *e->heap);
	i = (*n)++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!hent_less(&h, &e->heap[p]))
			break;
		e->heap[i] = e->heap[p];
		i = p;
	}
	e->heap[i] = h;
}

static struct hent
heap_pop(struct ft_bpe_enc *e, size_t *n)
{
	struct hent top = e->heap[0], last = e->heap[--(*n)];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && hent_less(&e->heap[c + 1], &e->heap[c]))
			c++;
		if (!hent_less(&e->heap[c], &last))
			break;
		e->heap[i] = e->heap[c];
		i = c;
	}
	if (*n > 0)
		e->heap[i] = last;
	return top;
}

/* The first symbols of a word for a character-level model (tokenizers'
 * BPE::merge_word): each character's id, else its "<0xXX>" bytes with
 * byte_fallback, else the unknown token (one for a run with fuse_unk),
 * else nothing.  Returns the count. */
static size_t
char_syms(const struct ft_bpe *b, struct sym *s, const unsigned char *p,
    size_t n)
{
	size_t i = 0, k = 0, l, j;
	int pending = 0;
	uint32_t id;

	while (i < n) {
		ft_utf8_get(p, i, n, &l);
		if (smap_get(&b->raw, (const char *)p + i, l, &id)) {
			if (pending)
				s[k++].id = b->unk;
			pending = 0;
			s[k++].id = id;
		} else {
			int fb = b->byte_fallback;
			for (j = 0; fb && j < l; j++)
				fb = b->fb_id[p[i + j]] >= 0;
			if (fb) {
				if (pending)
					s[k++].id = b->unk;
				pending = 0;
				for (j = 0; j < l; j++)
					s[k++].id = (uint32_t)b->fb_id[p[i + j]];
			} else if (b->has_unk) {
				if (pending && !b->fuse_unk)
					s[k++].id = b->unk;
				pending = 1;
			}
		}
		i += l;
	}
	if (pending)
		s[k++].id = b->unk;
	return k;
}

/* Merge the bytes p[0..n) into ids, appended to e->tmp; returns count. */
static size_t
bpe_merge(struct ft_bpe_enc *e, const unsigned char *p, size_t n)
{
	const struct ft_bpe *b = e->b;
	struct sym *s;
	size_t i, hn = 0, cnt = 0;
	int32_t k;

	if (n > e->symcap)
		ft_grow((void **)&e->sym, &e->symcap, n, sizeof *e->sym);
	s = e->sym;
	if (b->char_level) {
		n = char_syms(b, s, p, n);
		if (n == 0)
			return 0;
	} else {
		for (i = 0; i < n; i++)
			s[i].id = b->byte_id[p[i]];
	}
	for (i = 0; i < n; i++) {
		s[i].prev = (int32_t)i - 1;
		s[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
	}
	for (i = 0; i + 1 < n; i++) {
		const struct merge_slot *m = merge_get(b, s[i].id,
		    s[i + 1].id);
		if (m != NULL)
			heap_push(e, &hn, m->rank, (uint32_t)i, m->id);
	}
	while (hn > 0) {
		struct hent t = heap_pop(e, &hn);
		int32_t nx = s[t.pos].next, pv, nn;
		const struct merge_slot *m;
		if (s[t.pos].id == UINT32_MAX || nx < 0)
			continue;
		m = merge_get(b, s[t.pos].id, s[nx].id);
		if (m == NULL || m->id != t.id)
			continue;
		s[t.pos].id = t.id;
		s[nx].id = UINT32_MAX;
		nn = s[nx].next;
		s[t.pos].next = nn;
		if (nn >= 0)
			s[nn].prev = (int32_t)t.pos;
		pv = s[t.pos].prev;
		if (pv >= 0) {
			m = merge_get(b, s[pv].id, t.id);
			if (m != NULL)
				heap_push(e, &hn, m->rank, (uint32_t)pv, m->id);
		}
		if (nn >= 0) {
			m = merge_get(b, t.id, s[nn].id);
			if (m != NULL)
				heap_push(e, &hn, m->rank, t.pos, m->id);
		}
	}
	for (k = 0; k >= 0; k = s[k].next)
		cnt++;
	if (cnt > e->tmpcap)
		ft_grow((void **)&e->tmp, &e->tmpcap, cnt, sizeof *e->tmp);
	cnt = 0;
	for (k = 0; k >= 0; k = s[k].next)
		e->tmp[cnt++] = s[k].id;
	return cnt;
}

struct out {
	uint32_t **ids;
	size_t *n, *cap;
};

static inline void
out_push(struct out *o, const uint32_t *v, size_t k)
{
	if (k == 0)
		return;
	if (*o->n + k > *o->cap)
		ft_grow((void **)o->ids, o->cap, *o->n + k, sizeof **o->ids);
	memcpy(*o->ids + *o->n, v, k * sizeof *v);
	*o->n += k;
}

/* The ids of a piece into e->tmp (count returned): the whole piece when
 * ignore_merges finds it in the vocabulary, else merged. */
static size_t
piece_ids(struct ft_bpe_enc *e, const unsigned char *p, size_t n)
{
	uint32_t id;

	if (e->b->ignore_merges &&
	    smap_get(&e->b->raw, (const char *)p, n, &id)) {
		if (e->tmpcap < 1)
			ft_grow((void **)&e->tmp, &e->tmpcap, 1, sizeof *e->tmp);
		e->tmp[0] = id;
		return 1;
	}
	return bpe_merge(e, p, n);
}

static void
encode_piece(struct ft_bpe_enc *e, const unsigned char *p, size_t n,
    struct out *o)
{
	const struct ft_bpe *b = e->b;
	uint64_t h;
	uint32_t i;
	size_t cnt;

	if (n == 1 && !b->char_level) {
		out_push(o, &b->byte_id[p[0]], 1);
		return;
	}
	if (n > CACHE_KEY) {
		cnt = piece_ids(e, p, n);
		out_push(o, e->tmp, cnt);
		return;
	}
	h = hash_bytes(p, n);
	for (i = (uint32_t)h & (CACHE_SLOTS - 1);;
	    i = (i + 1) & (CACHE_SLOTS - 1)) {
		struct cslot *s = &e->slot[i];
		if (s->klen == 0)
			break;
		if (s->h == h && s->klen == n &&
		    memcmp(e->keys + s->koff, p, n) == 0) {
			out_push(o, e->ids + s->ioff, s->nids);
			return;
		}
	}
	cnt = piece_ids(e, p, n);
	out_push(o, e->tmp, cnt);
	if (e->used >= CACHE_MAX || e->klen + n > CACHE_KEYBYTES ||
	    e->ilen + cnt > CACHE_IDS) {
		memset(e->slot, 0, CACHE_SLOTS * sizeof *e->slot);
		e->used = e->klen = e->ilen = 0;
	}
	for (i = (uint32_t)h & (CACHE_SLOTS - 1); e->slot[i].klen != 0;
	    i = (i + 1) & (CACHE_SLOTS - 1))
		;
	e->slot[i].h = h;
	e->slot[i].klen = (uint16_t)n;
	e->slot[i].koff = e->klen;
	e->slot[i].nids = (uint16_t)cnt;
	e->slot[i].ioff = e->ilen;
	memcpy(e->keys + e->klen, p, n);
	e->klen += (uint32_t)n;
	if (cnt > 0)
		memcpy(e->ids + e->ilen, e->tmp, cnt * sizeof *e->tmp);
	e->ilen += (uint32_t)cnt;
	e->used++;
}

/* Pre-tokenize s[0..n) (no added tokens inside) and encode each piece. */
static void
encode_ordinary(struct ft_bpe_enc *e, const unsigned char *s, size_t n,
    struct out *o)
{
	size_t i = 0;

	while (i < n) {
		size_t start = i, l, l2;
		unsigned c = s[i];
		uint32_t cp;
		int k;

		if (c == '\'' && i + 1 < n) {
			unsigned c1 = s[i + 1], c2 = i + 2 < n ? s[i + 2] : 0;
			if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
				encode_piece(e, s + i, 2, o);
				i += 2;
				continue;
			}
			if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') ||
			    (c1 == 'l' && c2 == 'l')) {
				encode_piece(e, s + i, 3, o);
				i += 3;
				continue;
			}
		}
		k = classify(s, i, n, &l, &cp);
		if (c == ' ' && i + 1 < n) {
			int k2 = classify(s, i + 1, n, &l2, &cp);
			if (k2 != C_S) {
				i++;
				k = k2;
				l = l2;
			}
		}
		if (k != C_S) {
			i += l;
			if (k == C_L) {
				/* ASCII letters fast path */
				for (;;) {
					while (i < n && s[i] < 0x80 &&
					    ascii_cls[s[i]] == C_L)
						i++;
					if (i >= n || s[i] < 0x80 ||
					    classify(s, i, n, &l, &cp) != C_L)
						break;
					i += l;
				}
			} else {
				while (i < n && classify(s, i, n, &l, &cp) == k)
					i += l;
			}
		} else {
			size_t last = i, cnt = 0;
			while (i < n && classify(s, i, n, &l, &cp) == C_S) {
				last = i;
				i += l;
				cnt++;
			}
			if (i < n && cnt >= 2)
				i = last;
		}
		encode_piece(e, s + start, i - start, o);
	}
}

/* Longest added token at s[i..n), or NULL. */
/* Longest added token at s[i..n), or NULL.  stage -1: every token (the
 * GPT-2 pipeline); 0: those matched in the raw text; 1: the normalized
 * ones, by their normalized content. *len: the length matched. */
static const struct added *
added_at(const struct ft_bpe *b, const unsigned char *s, size_t i, size_t n,
    int skip_special, int stage, size_t *len)
{
	const struct added *best = NULL;
	size_t k, bl = 0;

	for (k = 0; k < b->n_added; k++) {
		const struct added *a = &b->added[k];
		const char *c = a->s;
		size_t l = a->len;
		if (skip_special && a->special)
			continue;
		if (stage >= 0 && a->normalized != (stage == 1 &&
		    b->n_normalized > 0))
			continue;
		if (stage == 1) {
			c = a->ns;
			l = a->nlen;
		}
		if (l > 0 && l <= n - i && (best == NULL || l > bl) &&
		    memcmp(s + i, c, l) == 0) {
			best = a;
			bl = l;
		}
	}
	*len = bl;
	return best;
}

static int
word_char(const unsigned char *s, size_t i, size_t n)
{
	size_t l;
	uint32_t cp;
	int k = classify(s, i, n, &l, &cp);

	return k == C_L || k == C_N || cp == '_';
}

static void split_added(struct ft_bpe_enc *e, const unsigned char *s,
    size_t n, int skip, int stage, unsigned f0, struct out *o);

/* A segment with no added token in it, normalized or not (stage). */
static void
encode_segment(struct ft_bpe_enc *e, const unsigned char *s, size_t n,
    unsigned tjflags, int skip, int stage, struct out *o)
{
	const struct ft_bpe *b = e->b;
	const char *buf;
	const struct ft_tj_piece *pc;
	size_t k, i;

	if (n == 0)
		return;
	if (stage == 0 && b->n_normalized > 0) {
		/* normalize, then split on the normalized added tokens */
		k = ft_tj_normalize(b->tj, e->tw, (const char *)s, n, tjflags,
		    &buf);
		if (k > e->ncap)
			ft_grow((void **)&e->nbuf, &e->ncap, k, 1);
		if (k > 0)
			memcpy(e->nbuf, buf, k);
		split_added(e, (const unsigned char *)e->nbuf, k, skip, 1,
		    tjflags, o);
		return;
	}
	if (stage == 1)
		k = ft_tj_pretokenize(b->tj, e->tw, (const char *)s, n, tjflags,
		    &buf, &pc);
	else
		k = ft_tj_pieces(b->tj, e->tw, (const char *)s, n, tjflags,
		    &buf, &pc);
	for (i = 0; i < k; i++)
		encode_piece(e, (const unsigned char *)buf + pc[i].off,
		    pc[i].len, o);
}

/* Split s[0..n) on the added tokens of a stage (leftmost, then longest;
 * lstrip/rstrip take the white space beside them, single_word ones must
 * not touch a word character) and encode the segments between them; the
 * first segment gets the flags f0. */
static void
split_added(struct ft_bpe_enc *e, const unsigned char *s, size_t n,
    int skip, int stage, unsigned f0, struct out *o)
{
	const struct ft_bpe *b = e->b;
	size_t i = 0, seg = 0, l, ml;

	if (b->n_added > 0 && !(skip && b->n_nonspecial == 0)) {
		while (i < n) {
			const struct added *a;
			size_t start, stop;
			if (b->first_single >= 0) {
				const unsigned char *q = memchr(s + i,
				    b->first_single, n - i);
				if (q == NULL)
					break;
				i = (size_t)(q - s);
			}
			if (!b->first[s[i]] || (a = added_at(b, s, i, n, skip,
			    stage, &ml)) == NULL) {
				i++;
				continue;
			}
			start = i;
			stop = i + ml;
			if (a->single_word) {
				size_t q = start;
				int before = 0, after;
				if (q > 0) {
					q--;
					while (q > 0 && (s[q] & 0xC0) == 0x80)
						q--;
					before = word_char(s, q, n);
				}
				after = stop < n && word_char(s, stop, n);
				if (before || after) {
					i = stop;
					continue;
				}
			}
			while (a->lstrip && start > seg) {
				size_t q = start - 1;
				while (q > seg && (s[q] & 0xC0) == 0x80)
					q--;
				if (!ft_tj_white_space(ft_utf8_get(s, q, n, &l)))
					break;
				start = q;
			}
			while (a->rstrip && stop < n &&
			    ft_tj_white_space(ft_utf8_get(s, stop, n, &l)))
				stop += l;
			encode_segment(e, s + seg, start - seg, seg == 0 ? f0 : 0,
			    skip, stage, o);
			out_push(o, &a->id, 1);
			i = seg = stop;
		}
	}
	encode_segment(e, s + seg, n - seg, seg == 0 ? f0 : 0, skip, stage, o);
}

/* The tokenizers pipeline: the text is split on the added tokens matched
 * in the raw text, each segment normalized and split on the normalized
 * ones, then pre-tokenized and encoded by the model. */
static void
encode_tj(struct ft_bpe_enc *e, const unsigned char *s, size_t n, int flags,
    struct out *o)
{
	split_added(e, s, n, (flags & FT_BPE_NO_SPECIAL) != 0, 0,
	    (flags & FT_BPE_CONT) ? FT_TJ_CONT : FT_TJ_ORIG0, o);
}

void
ft_bpe_encode(struct ft_bpe_enc *e, const char *str, size_t n, int flags,
    uint32_t **ids, size_t *n_ids, size_t *cap)
{
	const struct ft_bpe *b = e->b;
	const unsigned char *s = (const unsigned char *)str;
	struct out o = { ids, n_ids, cap };
	size_t i = 0, seg = 0, l;

	if (b->tj != NULL) {
		encode_tj(e, s, n, flags, &o);
		return;
	}
	if ((flags & FT_BPE_NO_SPECIAL) || b->n_added == 0) {
		encode_ordinary(e, s, n, &o);
		return;
	}
	while (i < n) {
		const struct added *a;
		if (b->first_single >= 0) {
			const unsigned char *q = memchr(s + i, b->first_single,
			    n - i);
			if (q == NULL)
				break;
			i = (size_t)(q - s);
		} else if (!b->first[s[i]]) {
			i++;
			continue;
		}
		a = added_at(b, s, i, n, 0, -1, &l);
		if (a == NULL) {
			i++;
			continue;
		}
		encode_ordinary(e, s + seg, i - seg, &o);
		out_push(&o, &a->id, 1);
		i += l;
		seg = i;
	}
	encode_ordinary(e, s + seg, n - seg, &o);
}

/* Does an added token occurrence s[q..q+len) with q < p < q+len exist
 * (or possibly exist, where it runs past n)? */
static int
added_crosses(const struct ft_bpe *b, const unsigned char *s, size_t n,
    size_t p)
{
	size_t k, off;

	for (k = 0; k < b->n_added; k++) {
		const struct added *a = &b->added[k];
		for (off = 1; off < a->len && off <= p; off++) {
			size_t q = p - off, m = a->len;
			if (q + m > n)
				m = n - q;
			if (memcmp(s + q, a->s, m) == 0)
				return 1;
		}
	}
	return 0;
}

size_t
ft_bpe_cut(const struct ft_bpe *b, const char *str, size_t n, size_t lim,
    size_t back)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t p = lim, stop = lim > back ? lim - back : 0;

	if (lim + FT_BPE_CUT_MARGIN > n)
		return 0;
	if (b->tj != NULL) {
		/* "x\n|a", where the pipeline allows it (tokjson.h) */
		if (!b->cut_ok)
			return 0;
		for (; p > stop && p >= 2; p--) {
			unsigned x = s[p - 2], c = s[p] | 0x20;
			if (s[p - 1] == '\n' && x > ' ' && x < 0x7F &&
			    c >= 'a' && c <= 'z' && !added_crosses(b, s, n, p))
				return p;
		}
		return 0;
	}
	for (; p > stop && p > 0; p--) {
		size_t q, la, lb;
		uint32_t ca, cb;
		int ka, kb;

		if ((s[p] & 0xC0) == 0x80)
			continue;
		kb = classify(s, p, n, &lb, &cb);
		q = p - 1;
		while (q > 0 && p - q < 4 && (s[q] & 0xC0) == 0x80)
			q--;
		ka = classify(s, q, n, &la, &ca);
		if (q + la != p || ca == 0xFFFFFFFFu)
			continue;
		if (!((ka == C_L && kb != C_L) || (ka == C_N && kb != C_N) ||
		    (ka == C_O && ca != '\'' && kb != C_O)))
			continue;
		if (added_crosses(b, s, n, p))
			continue;
		return p;
	}
	return 0;
}

/* ---- parallel encoding ---- */

#define PAR_BATCH (1024 * 1024)   /* bytes of text per thread per batch */
#define PAR_ITEMS 65536

struct par_item {
	size_t off, len;
	int end;
	int cont;    /* continues the previous item's document */
};

struct par_batch {
	char *text;
	size_t tlen, tcap;
	struct par_item *it;
	size_t n, cap;
};

struct par_worker {
	struct ft_bpe_enc *enc;
	const struct par_batch *bt;
	size_t i0, i1;
	int flags;
	uint32_t *ids;
	size_t n, cap;
	size_t *cnt;       /* ids per item i0..i1 */
	size_t ccap;
	pthread_t th;
};

struct par_slot {
	struct par_batch bt;
	struct par_worker *w;  /* [nw] */
	int used;              /* workers given items */
	int running;           /* threads started, not joined */
};

struct ft_bpe_par {
	struct ft_bpe_enc **enc;   /* one per thread, shared by the slots */
	int nw, flags;
	struct par_slot slot[2];
	int cur;                   /* the slot being filled */
	ft_bpe_emit_fn emit;
	void *arg;
	int open_doc;              /* the last item added did not end */
};

static void *
par_work(void *arg)
{
	struct par_worker *w = arg;
	size_t i;

	w->n = 0;
	ft_grow((void **)&w->cnt, &w->ccap, w->i1 - w->i0 + 1, sizeof *w->cnt);
	for (i = w->i0; i < w->i1; i++) {
		size_t before = w->n;
		ft_bpe_encode(w->enc, w->bt->text + w->bt->it[i].off,
		    w->bt->it[i].len, w->flags |
		    (w->bt->it[i].cont ? FT_BPE_CONT : 0), &w->ids, &w->n,
		    &w->cap);
		w->cnt[i - w->i0] = w->n - before;
	}
	return NULL;
}

/* Split a slot's batch among the workers by bytes and start them (or
 * encode it here with one thread). */
static void
par_launch(struct ft_bpe_par *P, struct par_slot *sl)
{
	const struct par_batch *bt = &sl->bt;
	size_t start = 0, per, acc;
	int t;

	sl->used = 0;
	if (bt->n == 0)
		return;
	per = bt->tlen / (size_t)P->nw + 1;
	for (t = 0; t < P->nw && start < bt->n; t++) {
		struct par_worker *w = &sl->w[t];
		size_t end = start;
		acc = 0;
		while (end < bt->n && (acc < per || t == P->nw - 1)) {
			acc += bt->it[end].len + 16;
			end++;
		}
		w->enc = P->enc[t];
		w->flags = P->flags;
		w->bt = bt;
		w->i0 = start;
		w->i1 = end;
		start = end;
		sl->used++;
	}
	if (P->nw == 1) {
		par_work(&sl->w[0]);
		return;
	}
	for (t = 0; t < sl->used; t++)
		if (pthread_create(&sl->w[t].th, NULL, par_work, &sl->w[t]))
			ft_die("cannot start a thread:");
	sl->running = 1;
}

static void
par_join(struct par_slot *sl)
{
	int t;

	if (!sl->running)
		return;
	for (t = 0; t < sl->used; t++)
		pthread_join(sl->w[t].th, NULL);
	sl->running = 0;
}

/* Emit a slot's encoded batch in input order and empty it. */
static int
par_emit(struct ft_bpe_par *P, struct par_slot *sl)
{
	struct par_batch *bt = &sl->bt;
	size_t i;
	int t;

	for (t = 0; t < sl->used; t++) {
		const struct par_worker *w = &sl->w[t];
		size_t off = 0;
		for (i = w->i0; i < w->i1; i++) {
			size_t c = w->cnt[i - w->i0];
			if (P->emit(P->arg, w->ids + off, c, bt->it[i].end) != 0)
				return -1;
			off += c;
		}
	}
	sl->used = 0;
	bt->n = 0;
	bt->tlen = 0;
	return 0;
}

/* The filling batch is full (or the input ended): start encoding it,
 * emit the previous one meanwhile, and fill the other slot next. */
static int
par_flush(struct ft_bpe_par *P, int final)
{
	struct par_slot *cur = &P->slot[P->cur], *prev = &P->slot[!P->cur];

	par_join(prev);
	par_launch(P, cur);
	if (par_emit(P, prev) != 0) {
		par_join(cur);
		return -1;
	}
	P->cur = !P->cur;
	if (final) {
		par_join(cur);
		return par_emit(P, cur);
	}
	return 0;
}

struct ft_bpe_par *
ft_bpe_par_new(const struct ft_bpe *b, int threads, int flags,
    ft_bpe_emit_fn emit, void *arg)
{
	struct ft_bpe_par *P = ft_calloc(1, sizeof *P);
	int t, i;

	P->nw = threads < 1 ? 1 : threads;
	P->flags = flags;
	P->emit = emit;
	P->arg = arg;
	P->enc = ft_calloc((size_t)P->nw, sizeof *P->enc);
	for (t = 0; t < P->nw; t++)
		P->enc[t] = ft_bpe_enc_new(b);
	for (i = 0; i < 2; i++)
		P->slot[i].w = ft_calloc((size_t)P->nw, sizeof *P->slot[i].w);
	return P;
}

int
ft_bpe_par_add(struct ft_bpe_par *P, const char *s, size_t n, int end)
{
	struct par_batch *bt = &P->slot[P->cur].bt;
	struct par_item *it;

	ft_grow((void **)&bt->it, &bt->cap, bt->n + 1, sizeof *bt->it);
	it = &bt->it[bt->n++];
	it->off = bt->tlen;
	it->len = n;
	it->end = end;
	it->cont = P->open_doc;
	P->open_doc = !end;
	ft_grow((void **)&bt->text, &bt->tcap, bt->tlen + n + 1, 1);
	if (n > 0)
		memcpy(bt->text + bt->tlen, s, n);
	bt->tlen += n;
	if (bt->tlen >= (size_t)P->nw * PAR_BATCH || bt->n >= PAR_ITEMS)
		return par_flush(P, 0);
	return 0;
}

int
ft_bpe_par_finish(struct ft_bpe_par *P)
{
	return par_flush(P, 1);
}

void
ft_bpe_par_free(struct ft_bpe_par *P)
{
	int t, i;

	if (P == NULL)
		return;
	par_join(&P->slot[0]);
	par_join(&P->slot[1]);
	for (t = 0; t < P->nw; t++)
		ft_bpe_enc_free(P->enc[t]);
	free(P->enc);
	for (i = 0; i < 2; i++) {
		for (t = 0; t < P->nw; t++) {
			free(P->slot[i].w[t].ids);
			free(P->slot[i].w[t].cnt);
		}
		free(P->slot[i].w);
		free(P->slot[i].bt.text);
		free(P->slot[i].bt.it);
	}
	free(P);
}

void
ft_bpe_special_ids(const struct ft_bpe *b, const uint32_t **pre,
    size_t *n_pre, const uint32_t **post, size_t *n_post)
{
	*pre = b->pre_ids;
	*n_pre = b->n_pre;
	*post = b->post_ids;
	*n_post = b->n_post;
}

/* ---- decoding ---- */

size_t
ft_bpe_doc_strip(const struct ft_bpe *b, const char *s, size_t n)
{
	return b->tj != NULL ? ft_tj_doc_strip(b->tj, s, n) : 0;
}

int
ft_bpe_decode(const struct ft_bpe *b, const uint32_t *ids, size_t n,
    int skip_special, char **buf, size_t *len, size_t *cap)
{
	size_t i;

	if (b->tj != NULL && !ft_tj_has_decoder(b->tj) && n > 0)
		return ft_error("the tokenizer.json has no decoder (tokenizers "
		    "would join the tokens with spaces; not supported)");
	for (i = 0; i < n; i++) {
		uint32_t id = ids[i];
		size_t l;
		if (id >= b->vocab_size)
			return ft_error("token id %u is outside the vocabulary "
			    "(size %u)", id, b->vocab_size);
		if (skip_special && (b->tok_flags[id] & TOK_SPECIAL))
			continue;
		l = b->tok_off[id + 1] - b->tok_off[id];
		if (l == 0)
			continue;
		if (*len + l > *cap)
			ft_grow((void **)buf, cap, *len + l + 4096, 1);
		memcpy(*buf + *len, b->blob + b->tok_off[id], l);
		*len += l;
	}
	return 0;
}

/* ---- UTF-8 ---- */

