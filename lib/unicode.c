/* unicode — see unicode.h.  Lookups are binary searches in the generated
 * tables, with ASCII fast paths.  NFC is the textbook algorithm of UAX #15:
 * full canonical decomposition (Hangul algorithmically), canonical
 * ordering of each run of non-starters (stable by combining class), then
 * canonical composition with the blocking rule. */
#include "unicode.h"
#include "err.h"

#include <stdlib.h>
#include <string.h>

#include "hangul.h"
#include "unicode_tables.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))


const char *
ft_unicode_version(void)
{
	return FT_UNICODE_VERSION;
}

/* Index of c in a table whose rows start with a sorted key, or -1. */
static long
find_key(const uint32_t *tab, size_t rows, size_t width, uint32_t c)
{
	size_t lo = 0, hi = rows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t k = tab[mid * width];
		if (k == c)
			return (long)mid;
		if (k < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Row of the range [lo, hi] (first two columns) holding c, or -1. */
static long
find_range(const uint32_t *tab, size_t rows, size_t width, uint32_t c)
{
	size_t lo = 0, hi = rows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c < tab[mid * width])
			hi = mid;
		else if (c > tab[mid * width + 1])
			lo = mid + 1;
		else
			return (long)mid;
	}
	return -1;
}

int
ft_uni_isspace(uint32_t c)
{
	if (c < 0x80)
		return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20);
	for (size_t i = 0; i < NELEM(space_tab); i++)
		if (space_tab[i] == c)
			return 1;
	return 0;
}

unsigned
ft_uni_ccc(uint32_t c)
{
	long i;

	if (c < 0x300)
		return 0;
	i = find_range(&ccc_tab[0][0], NELEM(ccc_tab), 3, c);
	return i < 0 ? 0 : ccc_tab[i][2];
}

static int
is_ignorable(uint32_t c)
{
	return find_range(&ignorable_tab[0][0], NELEM(ignorable_tab), 2, c) >= 0;
}

static int
is_cased(uint32_t c)
{
	return find_range(&cased_tab[0][0], NELEM(cased_tab), 2, c) >= 0;
}

static void
reserve(struct ft_ustr *u, size_t need)
{
	ft_grow((void **)&u->cp, &u->cap, need, sizeof *u->cp);
}

static void
take(struct ft_ustr *u, struct ft_ustr *t)
{
	free(u->cp);
	*u = *t;
}

void
ft_ustr_set_utf8(struct ft_ustr *u, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, o = 0;

	reserve(u, n + 1);
	while (i < n) {
		size_t l;

		u->cp[o++] = ft_utf8_get(s, i, n, &l);
		i += l;
	}
	u->n = o;
}

size_t
ft_ustr_utf8(const struct ft_ustr *u, char **buf, size_t *cap)
{
	size_t o = 0;
	unsigned char *d;

	ft_grow((void **)buf, cap, 4 * u->n + 1, 1);
	d = (unsigned char *)*buf;
	for (size_t i = 0; i < u->n; i++)
		o += ft_utf8_put((char *)d + o, u->cp[i]);
	return o;
}

void
ft_ustr_release(struct ft_ustr *u)
{
	free(u->cp);
	memset(u, 0, sizeof *u);
}

/* Python's handle_capital_sigma: final form when a cased letter precedes
 * (skipping case-ignorables) and none follows (likewise). */
static uint32_t
sigma(const uint32_t *s, size_t n, size_t i)
{
	size_t j = i;
	int fin = 0;

	while (j > 0 && is_ignorable(s[j - 1]))
		j--;
	fin = j > 0 && is_cased(s[j - 1]);
	if (fin) {
		j = i + 1;
		while (j < n && is_ignorable(s[j]))
			j++;
		fin = j == n || !is_cased(s[j]);
	}
	return fin ? 0x3c2 : 0x3c3;
}

static void
lower(struct ft_ustr *u, int final_sigma)
{
	struct ft_ustr t = { 0 };
	size_t o = 0;

	reserve(&t, 2 * u->n + 1);
	for (size_t i = 0; i < u->n; i++) {
		uint32_t c = u->cp[i];
		long k;
		if (c < 0x80) {
			t.cp[o++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
			continue;
		}
		if (c == 0x3a3 && final_sigma) {
			t.cp[o++] = sigma(u->cp, u->n, i);
			continue;
		}
		k = find_key(&lower_tab[0][0], NELEM(lower_tab), 2, c);
		if (k >= 0) {
			t.cp[o++] = lower_tab[k][1];
			continue;
		}
		k = find_key(&lower_multi[0][0], NELEM(lower_multi), 4, c);
		if (k >= 0) {
			for (uint32_t m = 0; m < lower_multi[k][1]; m++)
				t.cp[o++] = lower_multi[k][2 + m];
			continue;
		}
		t.cp[o++] = c;
	}
	t.n = o;
	take(u, &t);
}

void
ft_ustr_lower(struct ft_ustr *u)
{
	lower(u, 1);
}

void
ft_ustr_lower_chars(struct ft_ustr *u)
{
	lower(u, 0);
}

void
ft_ustr_strip(struct ft_ustr *u)
{
	size_t a = 0, b = u->n;

	while (a < b && ft_uni_isspace(u->cp[a]))
		a++;
	while (b > a && ft_uni_isspace(u->cp[b - 1]))
		b--;
	memmove(u->cp, u->cp + a, (b - a) * sizeof *u->cp);
	u->n = b - a;
}

void
ft_ustr_collapse_space(struct ft_ustr *u)
{
	size_t o = 0;
	int in_run = 0;

	for (size_t i = 0; i < u->n; i++) {
		if (ft_uni_isspace(u->cp[i])) {
			if (!in_run)
				u->cp[o++] = ' ';
			in_run = 1;
		} else {
			u->cp[o++] = u->cp[i];
			in_run = 0;
		}
	}
	u->n = o;
}

static uint32_t
compose(uint32_t a, uint32_t b)
{
	size_t lo = 0, hi = NELEM(compose_tab);

	/* Hangul: L + V -> LV, LV + T -> LVT. */
	if (a >= L_BASE && a < L_BASE + L_COUNT && b >= V_BASE &&
	    b < V_BASE + V_COUNT)
		return S_BASE + ((a - L_BASE) * V_COUNT + (b - V_BASE)) * T_COUNT;
	if (a >= S_BASE && a < S_BASE + S_COUNT && (a - S_BASE) % T_COUNT == 0 &&
	    b > T_BASE && b < T_BASE + T_COUNT)
		return a + (b - T_BASE);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const uint32_t *r = compose_tab[mid];
		if (r[0] == a && r[1] == b)
			return r[2];
		if (r[0] < a || (r[0] == a && r[1] < b))
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void
ft_ustr_nfc(struct ft_ustr *u)
{
	struct ft_ustr t = { 0 };
	size_t o = 0, i, sp, cp;
	unsigned last;
	uint32_t st;
	int ascii = 1;

	for (i = 0; i < u->n && ascii; i++)
		ascii = u->cp[i] < 0x80;
	if (ascii)
		return;
	/* 1. full canonical decomposition */
	reserve(&t, DECOMP_MAX * u->n + 1);
	for (i = 0; i < u->n; i++) {
		uint32_t c = u->cp[i];
		long k;
		if (c >= S_BASE && c < S_BASE + S_COUNT) {
			uint32_t s = c - S_BASE;
			t.cp[o++] = L_BASE + s / N_COUNT;
			t.cp[o++] = V_BASE + (s % N_COUNT) / T_COUNT;
			if (s % T_COUNT != 0)
				t.cp[o++] = T_BASE + s % T_COUNT;
			continue;
		}
		k = c < 0xc0 ? -1 : find_key(&decomp_tab[0][0], NELEM(decomp_tab),
		    DECOMP_MAX + 2, c);
		if (k < 0) {
			t.cp[o++] = c;
			continue;
		}
		for (uint32_t m = 0; m < decomp_tab[k][1]; m++)
			t.cp[o++] = decomp_tab[k][2 + m];
	}
	t.n = o;
	/* 2. canonical ordering: stable insertion sort of non-starter runs */
	for (i = 1; i < t.n; i++) {
		uint32_t c = t.cp[i];
		unsigned cc = ft_uni_ccc(c);
		size_t j = i;
		if (cc == 0)
			continue;
		while (j > 0) {
			unsigned pc = ft_uni_ccc(t.cp[j - 1]);
			if (pc == 0 || pc <= cc)
				break;
			t.cp[j] = t.cp[j - 1];
			j--;
		}
		t.cp[j] = c;
	}
	/* 3. canonical composition */
	if (t.n > 0) {
		sp = 0;
		st = t.cp[0];
		last = ft_uni_ccc(st) ? 256 : 0;
		cp = 1;
		for (i = 1; i < t.n; i++) {
			uint32_t c = t.cp[i], comp;
			unsigned cc = ft_uni_ccc(c);
			comp = compose(st, c);
			if (comp != 0 && (last < cc || last == 0)) {
				t.cp[sp] = comp;
				st = comp;
				continue;
			}
			if (cc == 0) {
				sp = cp;
				st = c;
			}
			last = cc;
			t.cp[cp++] = c;
		}
		t.n = cp;
	}
	take(u, &t);
}
