/* Unit tests for lib/normalize against the `tokenizers` library's own
 * normalizers (fixtures tests/fixtures/normalize/NAME.txt.zst, made by
 * tests/ref/normalize_ref.mjs):
 *   cps   every code point: the four forms of each that some form changes,
 *         and every other code point left alone by all four
 *   ccc   "a" X U+0334 and "a" U+0301 X for every X (canonical ordering
 *         by X's combining class), the unlisted ones unchanged by NFD
 *   seqs  random sequences of marks, jamo, composites and ASCII, alone
 *         and run together
 * Each case also goes through ft_nf_utf8 with a prefix and suffix of
 * ASCII, and through ft_nf_quick (never claiming more than is so). */
#include "check.h"
#include "err.h"
#include "io.h"
#include "normalize.h"

#include <stdlib.h>
#include <string.h>

#include <zstd.h>

static const enum ft_nf forms[4] = { FT_NFC, FT_NFD, FT_NFKC, FT_NFKD };
static const char *const fname[4] = { "NFC", "NFD", "NFKC", "NFKD" };
static struct ft_nf_buf nb;
static int shown;

static char *
load(const char *path, size_t *n)
{
	char *z, *out;
	size_t zn;
	unsigned long long cs;

	if (ft_read_file(path, &z, &zn) != 0)
		return NULL;
	cs = ZSTD_getFrameContentSize(z, zn);
	if (cs == ZSTD_CONTENTSIZE_ERROR || cs == ZSTD_CONTENTSIZE_UNKNOWN) {
		free(z);
		return NULL;
	}
	out = ft_malloc(cs + 1);
	if (ZSTD_decompress(out, cs, z, zn) != cs) {
		free(z);
		free(out);
		return NULL;
	}
	out[cs] = '\0';
	free(z);
	*n = cs;
	return out;
}

/* UTF-8 of code point c in o; its length. */
static size_t
enc(uint32_t c, char *o)
{
	static struct ft_ustr u;
	static char *b;
	static size_t cap;
	size_t n;

	u.n = 0;
	if (u.cap == 0) {
		u.cp = ft_malloc(sizeof *u.cp);
		u.cap = 1;
	}
	u.cp[u.n++] = c;
	n = ft_ustr_utf8(&u, &b, &cap);
	memcpy(o, b, n);
	return n;
}

/* Hex code points "61 301" -> UTF-8 in o (NUL-terminated); its length. */
static size_t
hex_utf8(const char *h, const char *end, char *o)
{
	size_t n = 0;

	while (h < end) {
		char *e;
		uint32_t c = (uint32_t)strtoul(h, &e, 16);
		if (e == h)
			break;
		n += enc(c, o + n);
		h = e;
		while (h < end && *h == ' ')
			h++;
	}
	o[n] = '\0';
	return n;
}

/* Does form f of in[0..n) equal want[0..wn)?  Also with ASCII around it,
 * and the quick check may only claim text that is already normalized. */
static int
same(int f, const char *in, size_t n, const char *want, size_t wn)
{
	static char *out;
	static size_t cap;
	char buf[4096];
	size_t len = 0, q;
	int ok;

	ft_nf_utf8(forms[f], &nb, in, n, &out, &len, &cap);
	ok = len == wn && memcmp(out, want, wn) == 0;
	if (ok && n + 8 < sizeof buf) {
		memcpy(buf, "ab ", 3);
		memcpy(buf + 3, in, n);
		memcpy(buf + 3 + n, " z", 2);
		len = 0;
		ft_nf_utf8(forms[f], &nb, buf, n + 5, &out, &len, &cap);
		ok = len == wn + 5 && memcmp(out + 3, want, wn) == 0;
	}
	q = ft_nf_quick(forms[f], in, n);
	if (ok && q == n)
		ok = wn == n && memcmp(in, want, n) == 0;
	if (!ok && shown++ < 20)
		fprintf(stderr, "%s of \"%.*s\": got \"%.*s\", want \"%.*s\"\n",
		    fname[f], (int)n, in, (int)len, out, (int)wn, want);
	return ok;
}

/* Check every line of fixture name; mark[] (if not NULL) records the
 * first code point of each line's input after skip code points. */
static long
run_file(const char *name, unsigned char *mark, int skip, long *bad)
{
	char path[256], *txt, *p, in[16384], want[16384];
	size_t n;
	long lines = 0;

	snprintf(path, sizeof path, "tests/fixtures/normalize/%s.txt.zst", name);
	txt = load(path, &n);
	CHECK(txt != NULL);
	if (txt == NULL)
		return 0;
	for (p = txt; *p != '\0';) {
		char *eol = strchr(p, '\n'), *col[6];
		size_t inl;
		int k, f;
		if (eol == NULL)
			eol = p + strlen(p);
		col[0] = p;
		for (k = 1; k < 5; k++) {
			col[k] = memchr(col[k - 1], '\t', (size_t)(eol - col[k - 1]));
			if (col[k] == NULL)
				break;
			col[k]++;
		}
		CHECK(k == 5);
		if (k != 5)
			break;
		col[5] = eol + 1;
		inl = hex_utf8(col[0], col[1] - 1, in);
		if (mark != NULL) {
			char *e = col[0];
			uint32_t c = 0;
			for (k = 0; k <= skip; k++) {
				c = (uint32_t)strtoul(e, &e, 16);
			}
			mark[c >> 3] |= (unsigned char)(1u << (c & 7));
		}
		for (f = 0; f < 4; f++) {
			size_t wl = hex_utf8(col[f + 1], col[f + 2] - 1, want);
			if (!same(f, in, inl, want, wl))
				(*bad)++;
		}
		lines++;
		p = *eol ? eol + 1 : eol;
	}
	free(txt);
	return lines;
}

int
main(void)
{
	static unsigned char seen[0x110000 / 8], seen1[0x110000 / 8],
	    seen2[0x110000 / 8];
	long bad = 0, n;
	uint32_t c;
	char in[32];
	size_t l;

	CHECK(strcmp(ft_nf_unicode_version(), "9.0.0") == 0);
	n = run_file("cps", seen, 0, &bad);
	printf("cps: %ld code points that some form changes\n", n);
	CHECK(n > 16000);
	/* every other code point is left alone by every form */
	for (c = 0; c < 0x110000; c++) {
		int f;
		if ((c >= 0xD800 && c <= 0xDFFF) || (seen[c >> 3] >> (c & 7) & 1))
			continue;
		l = enc(c, in);
		for (f = 0; f < 4; f++)
			if (!same(f, in, l, in, l))
				bad++;
	}
	/* ccc: lines "a X U+0334" mark X in seen1 (skip "a"), "a U+0301 X" in
	 * seen2; both kinds are in one file, told apart by their second cp */
	{
		char path[] = "tests/fixtures/normalize/ccc.txt.zst", *txt, *p;
		size_t tn;
		txt = load(path, &tn);
		CHECK(txt != NULL);
		for (p = txt; p != NULL && *p != '\0';) {
			char *e;
			uint32_t a, b, x;
			a = (uint32_t)strtoul(p, &e, 16);
			b = (uint32_t)strtoul(e, &e, 16);
			x = (uint32_t)strtoul(e, &e, 16);
			(void)a;
			if (b == 0x301)
				seen2[x >> 3] |= (unsigned char)(1u << (x & 7));
			if (b == 0x301 && x == 0x334)   /* both kinds */
				seen1[b >> 3] |= (unsigned char)(1u << (b & 7));
			else if (b != 0x301)
				seen1[b >> 3] |= (unsigned char)(1u << (b & 7));
			p = strchr(p, '\n');
			if (p != NULL)
				p++;
		}
		free(txt);
	}
	n = run_file("ccc", NULL, 0, &bad);
	printf("ccc: %ld reordering cases\n", n);
	CHECK(n > 1000);
	for (c = 0; c < 0x110000; c++) {
		if (c >= 0xD800 && c <= 0xDFFF)
			continue;
		if (!(seen1[c >> 3] >> (c & 7) & 1)) {
			l = enc('a', in);
			l += enc(c, in + l);
			l += enc(0x334, in + l);
			if (!same(1, in, l, in, l))
				bad++;
		}
		if (!(seen2[c >> 3] >> (c & 7) & 1)) {
			l = enc('a', in);
			l += enc(0x301, in + l);
			l += enc(c, in + l);
			if (!same(1, in, l, in, l))
				bad++;
		}
	}
	n = run_file("seqs", NULL, 0, &bad);
	printf("seqs: %ld sequences\n", n);
	CHECK(n > 5000);
	printf("%ld mismatches\n", bad);
	CHECK(bad == 0);
	/* combining classes as the tables' version (9.0) has them */
	CHECK_EQ_INT(ft_nf_ccc(0x301), 230);
	CHECK_EQ_INT(ft_nf_ccc(0x334), 1);
	CHECK_EQ_INT(ft_nf_ccc(0x1DF6), 0);   /* class 232 since 10.0 */
	CHECK_EQ_INT(ft_nf_ccc('a'), 0);
	ft_nf_buf_release(&nb);
	return check_done();
}
