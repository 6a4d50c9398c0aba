/* utf8 — UTF-8 as Python and the Unicode standard define it (shortest
 * forms only, no surrogates, at most U+10FFFF), in one place: decode,
 * encode, validate, count, and repair as bytes.decode("utf-8",
 * "replace") does.  Every tool and module that reads or writes UTF-8 uses
 * these (lib/unicode works on code points, lib/utf8stream repairs a
 * stream). */
#ifndef FT_UTF8_H
#define FT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decode one character of s[i..n): its code point and its length in *len,
 * or 0xFFFFFFFF with *len 1 for a byte that does not start a valid
 * sequence (inline: the tokenizers' inner loops use it). */
static inline uint32_t
ft_utf8_get(const unsigned char *s, size_t i, size_t n, size_t *len)
{
	unsigned c = s[i];
	uint32_t cp;
	size_t k, l;

	if (c < 0x80) {
		*len = 1;
		return c;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		l = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		l = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		l = 4;
		cp = c & 0x07;
	} else {
		goto bad;
	}
	if (i + l > n)
		goto bad;
	for (k = 1; k < l; k++) {
		if ((s[i + k] & 0xC0) != 0x80)
			goto bad;
		cp = (cp << 6) | (s[i + k] & 0x3F);
	}
	if ((l == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (l == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		goto bad;
	*len = l;
	return cp;
bad:
	*len = 1;
	return 0xFFFFFFFFu;
}

/* Encode code point cp (< 0x110000) into d (4 bytes room); returns its
 * length. */
size_t ft_utf8_put(char *d, uint32_t cp);

/* Length of the longest prefix of s[0..n) that is valid UTF-8, except that
 * a valid but incomplete sequence at the very end is not counted: the
 * caller may complete it with more bytes. */
size_t ft_utf8_valid_prefix(const char *s, size_t n);
/* Check that s[0..n) is valid UTF-8 (no overlongs, no surrogates).
 * Returns the offset of the first bad byte, or n when all is valid. */
size_t ft_utf8_check(const char *s, size_t n);
/* Append s[0..n) to *buf with every maximal invalid subsequence replaced
 * by U+FFFD, as Python's bytes.decode("utf-8", "replace") does.  When
 * `partial`, an incomplete sequence at the end is left out and its length
 * returned (the caller keeps it for the next call); otherwise returns 0. */
size_t ft_utf8_repair(const char *s, size_t n, int partial, char **buf,
    size_t *len, size_t *cap);
/* Number of code points in the valid UTF-8 s[0..n) (len() of the str). */
size_t ft_utf8_count(const char *s, size_t n);

#endif
