/* utf8 — see utf8.h. */
#include "utf8.h"
#include "err.h"

#include <string.h>

size_t
ft_utf8_put(char *d, uint32_t cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | cp >> 6);
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | cp >> 12);
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | cp >> 18);
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Classify the sequence at s[i..n): 1 valid (*len its length), 0 invalid
 * (*len the maximal subpart, >= 1), -1 a valid prefix cut off by n. */
static int
u8seq(const unsigned char *s, size_t i, size_t n, size_t *len)
{
	unsigned c = s[i], lo = 0x80, hi = 0xBF;
	size_t l, k;

	if (c < 0x80) {
		*len = 1;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
		l = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		l = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		l = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		*len = 1;
		return 0;
	}
	for (k = 1; k < l; k++) {
		unsigned x;
		if (i + k >= n) {
			*len = k;
			return -1;
		}
		x = s[i + k];
		if (x < lo || x > hi) {
			*len = k;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	*len = l;
	return 1;
}

size_t
ft_utf8_valid_prefix(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, l;

	while (i < n) {
		if (s[i] < 0x80) {
			uint64_t v;
			while (i + 8 <= n) {
				memcpy(&v, s + i, 8);
				if (v & 0x8080808080808080ULL)
					break;
				i += 8;
			}
			while (i < n && s[i] < 0x80)
				i++;
			if (i >= n)
				break;
		}
		if (u8seq(s, i, n, &l) != 1)
			break;
		i += l;
	}
	return i;
}

size_t
ft_utf8_check(const char *s, size_t n)
{
	return ft_utf8_valid_prefix(s, n);
}

size_t
ft_utf8_repair(const char *str, size_t n, int partial, char **buf,
    size_t *len, size_t *cap)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, l;

	while (i < n) {
		size_t v = ft_utf8_valid_prefix(str + i, n - i);
		if (*len + v + 3 > *cap)
			ft_grow((void **)buf, cap, *len + v + 4096, 1);
		memcpy(*buf + *len, str + i, v);
		*len += v;
		i += v;
		if (i >= n)
			break;
		if (u8seq(s, i, n, &l) == -1 && partial)
			return n - i;
		memcpy(*buf + *len, "\xEF\xBF\xBD", 3);
		*len += 3;
		i += l;
	}
	return 0;
}

size_t
ft_utf8_count(const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xc0) != 0x80;
	return k;
}
