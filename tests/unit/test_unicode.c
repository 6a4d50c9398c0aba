/* Unit tests for lib/unicode: Python 3.11 str.lower/strip/isspace and
 * unicodedata NFC on hand-picked cases (the big comparison against Python
 * is tests/cli/clean.sh on tests/fixtures/clean). */
#include "check.h"
#include "err.h"
#include "unicode.h"

#include <stdlib.h>
#include <string.h>

static char *out;
static size_t outcap;

/* Apply op to UTF-8 s and compare with want. */
static int
same(void (*op)(struct ft_ustr *), const char *s, const char *want)
{
	struct ft_ustr u = { 0 };
	size_t n;
	int ok;

	ft_ustr_set_utf8(&u, s, strlen(s));
	op(&u);
	n = ft_ustr_utf8(&u, &out, &outcap);
	ok = n == strlen(want) && memcmp(out, want, n) == 0;
	if (!ok)
		fprintf(stderr, "got '%.*s' want '%s'\n", (int)n, out, want);
	ft_ustr_release(&u);
	return ok;
}

static void
lower_strip(struct ft_ustr *u)
{
	ft_ustr_lower(u);
	ft_ustr_strip(u);
}

static void
test_lower(void)
{
	CHECK(same(ft_ustr_lower, "Hello WORLD 123", "hello world 123"));
	CHECK(same(ft_ustr_lower, "\xc3\x84\xc3\x96\xc3\x9c\xc3\x9f",
	    "\xc3\xa4\xc3\xb6\xc3\xbc\xc3\x9f"));               /* ÄÖÜß */
	CHECK(same(ft_ustr_lower, "\xc4\xb0", "i\xcc\x87"));    /* İ */
	CHECK(same(ft_ustr_lower, "\xe2\x80\x99", "\xe2\x80\x99"));
	/* final sigma: ΟΔΟΣ -> οδος; Σ alone -> σ; ΣΑ -> σα */
	CHECK(same(ft_ustr_lower, "\xce\x9f\xce\x94\xce\x9f\xce\xa3",
	    "\xce\xbf\xce\xb4\xce\xbf\xcf\x82"));
	CHECK(same(ft_ustr_lower, "\xce\xa3", "\xcf\x83"));
	CHECK(same(ft_ustr_lower, "\xce\xa3\xce\x91", "\xcf\x83\xce\xb1"));
	/* A'Σ: the apostrophe is case-ignorable, so still final */
	CHECK(same(ft_ustr_lower, "A'\xce\xa3 x", "a'\xcf\x82 x"));
	CHECK(same(ft_ustr_lower, "A\xce\xa3'B", "a\xcf\x83'b"));
	/* Deseret (4 bytes) and Cherokee */
	CHECK(same(ft_ustr_lower, "\xf0\x90\x90\x80", "\xf0\x90\x90\xa8"));
	CHECK(same(ft_ustr_lower, "\xe1\x8e\xa0", "\xea\xad\xb0"));
	/* docs/hf-reference.md §5 example */
	CHECK(same(lower_strip, " \xc2\xa0Hello\nWorld\xe2\x80\x83",
	    "hello\nworld"));
}

static void
test_space(void)
{
	static const uint32_t sp[] = { 0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d,
		0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002,
		0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000 };
	size_t k = 0, total = 0;

	for (uint32_t c = 0; c < 0x110000; c++) {
		if (ft_uni_isspace(c)) {
			total++;
			if (k < 29 && sp[k] == c)
				k++;
		}
	}
	CHECK_EQ_INT(total, 29);
	CHECK_EQ_INT(k, 29);
	CHECK(!ft_uni_isspace(0x200b) && !ft_uni_isspace(0xfeff));
	CHECK(same(ft_ustr_strip, "\t\x1c x y \xe3\x80\x80", "x y"));
	CHECK(same(ft_ustr_strip, " \n ", ""));
	CHECK(same(ft_ustr_strip, "", ""));
	CHECK(same(ft_ustr_collapse_space, "  a \t\n b\xc2\xa0\xc2\xa0" "c ",
	    " a b c "));
}

static void
test_nfc(void)
{
	CHECK(same(ft_ustr_nfc, "e\xcc\x81", "\xc3\xa9"));         /* é */
	CHECK(same(ft_ustr_nfc, "\xe2\x84\xab", "\xc3\x85"));      /* Å sign */
	/* Hangul jamo L V T -> one syllable, and LV + T */
	CHECK(same(ft_ustr_nfc, "\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8",
	    "\xea\xb0\x81"));
	CHECK(same(ft_ustr_nfc, "\xea\xb0\x80\xe1\x86\xa8", "\xea\xb0\x81"));
	/* reordering: a + dot below (220) after acute (230) -> ạ + acute */
	CHECK(same(ft_ustr_nfc, "a\xcc\x81\xcc\xa3",
	    "\xe1\xba\xa1\xcc\x81"));
	/* a leading combining mark stays */
	CHECK(same(ft_ustr_nfc, "\xcc\x81" "a", "\xcc\x81" "a"));
	/* composition exclusion U+0958 stays decomposed */
	CHECK(same(ft_ustr_nfc, "\xe0\xa5\x98", "\xe0\xa4\x95\xe0\xa4\xbc"));
	CHECK(same(ft_ustr_nfc, "plain ascii", "plain ascii"));
	CHECK_EQ_INT(ft_uni_ccc(0x301), 230);
	CHECK_EQ_INT(ft_uni_ccc('a'), 0);
	CHECK(strcmp(ft_unicode_version(), "14.0.0") == 0);
	CHECK_EQ_INT(ft_utf8_count("a\xc3\xa9\xf0\x90\x90\x80", 7), 3);
}

int
main(void)
{
	ft_setprog("test_unicode");
	test_lower();
	test_space();
	test_nfc();
	free(out);
	return check_done();
}
