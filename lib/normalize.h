/* normalize — the Unicode normalization forms NFD, NFC, NFKD and NFKC
 * exactly as the Hugging Face `tokenizers` library computes them (its
 * unicode-normalization-alignments crate, Unicode 9.0.0: code points
 * assigned later are left alone and have combining class 0).  The tables
 * (normalize_tables.h) are generated from the Unicode Character Database
 * by tests/ref/gen_normalize_tables.py.
 *
 * The algorithm is UAX #15's: full decomposition (Hangul algorithmically),
 * canonical ordering of each run of non-starters, and for NFC/NFKC
 * canonical composition with the blocking rule.  Text is copied as is up
 * to the last starter before a code point that the quick check cannot
 * pass (ASCII and most text never reach the slow path).
 *
 * ft-clean's --nfc (Python's unicodedata, Unicode 14.0) is lib/unicode's
 * ft_ustr_nfc, a different version on purpose. */
#ifndef FT_NORMALIZE_H
#define FT_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "unicode.h"

enum ft_nf { FT_NFC, FT_NFD, FT_NFKC, FT_NFKD };

/* Scratch space of ft_nf_utf8 (zero-initialise; one per thread). */
struct ft_nf_buf {
	struct ft_ustr a, b;
	char *u8;
	size_t u8cap;
};
void ft_nf_buf_release(struct ft_nf_buf *w);

/* Append form f of valid UTF-8 s[0..n) to *out (length *len, capacity
 * *cap, grown with ft_grow). */
void ft_nf_utf8(enum ft_nf f, struct ft_nf_buf *w, const char *s, size_t n,
    char **out, size_t *len, size_t *cap);
/* Length of the longest prefix of valid UTF-8 s[0..n) that the quick
 * check proves already in form f (n when the whole text is). */
size_t ft_nf_quick(enum ft_nf f, const char *s, size_t n);
/* The combining class (as the tables' Unicode version has it). */
unsigned ft_nf_ccc(uint32_t c);
/* "9.0.0" */
const char *ft_nf_unicode_version(void);

#endif
