/* normalize — see normalize.h.
 *
 * The quick check: a code point is a safe boundary for a form when its
 * combining class is 0, the form leaves it unchanged on its own, and (for
 * the composing forms) it never composes with a code point before it
 * (NFC_QC / NFKC_QC Yes).  Nothing before such a code point interacts
 * with it or with what follows, so the text is normalized piecewise: each
 * stretch from the last safe boundary before an unsafe code point to the
 * next safe boundary goes through the full algorithm, the rest is copied. */
#include "normalize.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hangul.h"
#include "normalize_tables.h"


#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *
ft_nf_unicode_version(void)
{
	return NM_UNICODE_VERSION;
}

static inline unsigned
prop(uint32_t c)
{
	if (c >= 0x110000)
		return 0;
	return nm_stage2[(size_t)nm_stage1[c / NM_BLOCK] * NM_BLOCK +
	    c % NM_BLOCK];
}

unsigned
ft_nf_ccc(uint32_t c)
{
	return prop(c) & 0xFF;
}

/* The properties that make a code point unsafe for form f. */
static unsigned
unsafe_mask(enum ft_nf f)
{
	switch (f) {
	case FT_NFD:
		return 0xFF | NM_F_CANON;
	case FT_NFKD:
		return 0xFF | NM_F_CANON | NM_F_COMPAT;
	case FT_NFC:
		return 0xFF | NM_F_NFC_NO | NM_F_SECOND;
	case FT_NFKC:
	default:
		return 0xFF | NM_F_NFKC_NO | NM_F_SECOND;
	}
}

static inline uint32_t
dec(const unsigned char *s, size_t *l)
{
	if (s[0] < 0xE0) {
		*l = 2;
		return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
	}
	if (s[0] < 0xF0) {
		*l = 3;
		return ((uint32_t)(s[0] & 0x0F) << 12) |
		    ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
	}
	*l = 4;
	return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
	    ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

size_t
ft_nf_quick(enum ft_nf f, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned mask = unsafe_mask(f);
	size_t i = 0, last = 0, l;

	while (i < n) {
		if (s[i] < 0x80) {
			last = i++;
			continue;
		}
		if (prop(dec(s + i, &l)) & mask)
			return last;
		last = i;
		i += l;
	}
	return n;
}

static const struct nm_decomp *
find_decomp(uint32_t c, int compat)
{
	size_t lo = compat ? NM_NCANON : 0;
	size_t hi = compat ? NELEM(nm_decomp) : NM_NCANON;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (nm_decomp[mid].cp == c)
			return &nm_decomp[mid];
		if (nm_decomp[mid].cp < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void
push(struct ft_ustr *u, uint32_t c)
{
	if (u->n == u->cap)
		ft_grow((void **)&u->cp, &u->cap, u->n + 1, sizeof *u->cp);
	u->cp[u->n++] = c;
}

/* Append the full decomposition of c to u. */
static void
decompose(struct ft_ustr *u, uint32_t c, int compat)
{
	unsigned p = prop(c);
	const struct nm_decomp *d = NULL;
	size_t k;

	if (c - S_BASE < S_COUNT) {
		uint32_t i = c - S_BASE;
		push(u, L_BASE + i / N_COUNT);
		push(u, V_BASE + (i % N_COUNT) / T_COUNT);
		if (i % T_COUNT)
			push(u, T_BASE + i % T_COUNT);
		return;
	}
	if (compat && (p & NM_F_COMPAT))
		d = find_decomp(c, 1);
	else if (p & NM_F_CANON)
		d = find_decomp(c, 0);
	if (d == NULL) {
		push(u, c);
		return;
	}
	for (k = 0; k < d->len; k++)
		push(u, nm_pool[d->off + k]);
}

/* Canonical ordering: a stable sort by combining class of each run of
 * non-starters. */
static void
reorder(struct ft_ustr *u)
{
	size_t i, j;

	for (i = 1; i < u->n; i++) {
		uint32_t c = u->cp[i];
		unsigned k = ft_nf_ccc(c);
		if (k == 0)
			continue;
		for (j = i; j > 0; j--) {
			unsigned kp = ft_nf_ccc(u->cp[j - 1]);
			if (kp == 0 || kp <= k)
				break;
			u->cp[j] = u->cp[j - 1];
		}
		u->cp[j] = c;
	}
}

/* The primary composite of a and b, or 0. */
static uint32_t
compose_pair(uint32_t a, uint32_t b)
{
	uint64_t key = ((uint64_t)a << 32) | b;
	size_t lo = 0, hi = NELEM(nm_compose);

	if (a - L_BASE < L_COUNT && b - V_BASE < V_COUNT)
		return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
	if (a - S_BASE < S_COUNT && (a - S_BASE) % T_COUNT == 0 &&
	    b - T_BASE - 1 < T_COUNT - 1)
		return a + (b - T_BASE);
	if (!(prop(b) & NM_F_SECOND))
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (nm_compose[mid].key == key)
			return nm_compose[mid].c;
		if (nm_compose[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Canonical composition in place (UAX #15 D117). */
static void
compose(struct ft_ustr *u)
{
	size_t i, o = 0, starter = 0;
	int have = 0, last = -1;    /* last: ccc after the starter, -1 none */

	for (i = 0; i < u->n; i++) {
		uint32_t c = u->cp[i];
		int k = (int)ft_nf_ccc(c);
		if (have && (last == -1 || last < k)) {
			uint32_t r = compose_pair(u->cp[starter], c);
			if (r != 0) {
				u->cp[starter] = r;
				continue;
			}
		}
		if (k == 0) {
			starter = o;
			have = 1;
			last = -1;
		} else if (have) {
			last = k;
		}
		u->cp[o++] = c;
	}
	u->n = o;
}

static void
put(char **out, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n > *cap)
		ft_grow((void **)out, cap, *len + n, 1);
	memcpy(*out + *len, p, n);
	*len += n;
}

/* Normalize the stretch s[0..n) the slow way, appending to out. */
static void
slow(enum ft_nf f, struct ft_nf_buf *w, const char *s, size_t n,
    char **out, size_t *len, size_t *cap)
{
	int compat = f == FT_NFKC || f == FT_NFKD;
	size_t i, k;

	ft_ustr_set_utf8(&w->a, s, n);
	w->b.n = 0;
	for (i = 0; i < w->a.n; i++)
		decompose(&w->b, w->a.cp[i], compat);
	reorder(&w->b);
	if (f == FT_NFC || f == FT_NFKC)
		compose(&w->b);
	k = ft_ustr_utf8(&w->b, &w->u8, &w->u8cap);
	put(out, len, cap, w->u8, k);
}

void
ft_nf_utf8(enum ft_nf f, struct ft_nf_buf *w, const char *str, size_t n,
    char **out, size_t *len, size_t *cap)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned mask = unsafe_mask(f);
	size_t i = 0, last = 0, done = 0, l;

	while (i < n) {
		size_t j;
		if (s[i] < 0x80) {
			last = i++;
			continue;
		}
		if (!(prop(dec(s + i, &l)) & mask)) {
			last = i;
			i += l;
			continue;
		}
		/* unsafe at i: normalize [last, next safe boundary) */
		for (j = i + l; j < n; j += l) {
			if (s[j] < 0x80)
				break;
			if (!(prop(dec(s + j, &l)) & mask))
				break;
		}
		if (last > done)
			put(out, len, cap, str + done, last - done);
		slow(f, w, str + last, j - last, out, len, cap);
		done = last = i = j;
	}
	if (n > done)
		put(out, len, cap, str + done, n - done);
}

void
ft_nf_buf_release(struct ft_nf_buf *w)
{
	ft_ustr_release(&w->a);
	ft_ustr_release(&w->b);
	free(w->u8);
	memset(w, 0, sizeof *w);
}
