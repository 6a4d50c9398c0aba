/* unicode — the text transforms of ft-clean, with exactly the results of
 * Python 3.11 (Unicode 14.0.0): str.lower(), str.strip(), str.isspace(),
 * re.sub(r"\s+", " ", s) and unicodedata.normalize("NFC", s).  The tables
 * (unicode_tables.h) are generated from Python by
 * tests/ref/gen_unicode_tables.py.
 *
 * Strings are worked on as arrays of code points (struct ft_ustr); the
 * input UTF-8 must be valid (ft_utf8_check).  Functions allocate through
 * ft_malloc (which dies on exhaustion) and cannot fail otherwise. */
#ifndef FT_UNICODE_H
#define FT_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "utf8.h"   /* ft_utf8_count */

struct ft_ustr {
	uint32_t *cp;
	size_t n, cap;
};

/* Replace u's contents with the code points of valid UTF-8 s[0..n). */
void ft_ustr_set_utf8(struct ft_ustr *u, const char *s, size_t n);
/* Encode u as UTF-8 into *buf (grown as needed, capacity *cap); returns
 * the length.  Not NUL-terminated. */
size_t ft_ustr_utf8(const struct ft_ustr *u, char **buf, size_t *cap);
void ft_ustr_release(struct ft_ustr *u);

/* str.lower(): full mappings (U+0130 -> "i\u0307") and the final-sigma
 * rule for U+03A3. */
void ft_ustr_lower(struct ft_ustr *u);
/* The same code point by code point (Rust's char::to_lowercase, as the
 * tokenizers Lowercase normalizer): U+03A3 always becomes U+03C3. */
void ft_ustr_lower_chars(struct ft_ustr *u);
/* str.strip() with no argument. */
void ft_ustr_strip(struct ft_ustr *u);
/* Each maximal run of str.isspace() code points becomes one U+0020. */
void ft_ustr_collapse_space(struct ft_ustr *u);
/* unicodedata.normalize("NFC", s). */
void ft_ustr_nfc(struct ft_ustr *u);

int ft_uni_isspace(uint32_t c);
unsigned ft_uni_ccc(uint32_t c);
/* The Unicode version of the tables, e.g. "14.0.0". */
const char *ft_unicode_version(void);

#endif
