/* sha1 — see sha1.h.  FIPS 180-4 section 6.1: 64-byte blocks, an
 * 80-word big-endian message schedule, length in bits appended after a
 * 0x80 byte and zero padding (the same padding as SHA-256). */
#include "sha1.h"

#include <stdio.h>
#include <string.h>

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static void
block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 80; i++)
		w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = ROL(a, 5) + f + e + k + w[i];
		e = d; d = c; c = ROL(b, 30); b = a; a = t;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

void
ft_sha1_init(ft_sha1 *c)
{
	c->h[0] = 0x67452301;
	c->h[1] = 0xefcdab89;
	c->h[2] = 0x98badcfe;
	c->h[3] = 0x10325476;
	c->h[4] = 0xc3d2e1f0;
	c->len = 0;
	c->nbuf = 0;
}

void
ft_sha1_update(ft_sha1 *c, const void *data, size_t n)
{
	const uint8_t *p = data;

	c->len += n;
	if (c->nbuf > 0) {
		size_t k = 64 - c->nbuf;

		if (k > n)
			k = n;
		memcpy(c->buf + c->nbuf, p, k);
		c->nbuf += k;
		p += k;
		n -= k;
		if (c->nbuf < 64)
			return;
		block(c->h, c->buf);
		c->nbuf = 0;
	}
	for (; n >= 64; p += 64, n -= 64)
		block(c->h, p);
	if (n > 0) {
		memcpy(c->buf, p, n);
		c->nbuf = n;
	}
}

void
ft_sha1_final(ft_sha1 *c, uint8_t out[20])
{
	uint64_t bits = c->len * 8;
	int i;

	c->buf[c->nbuf++] = 0x80;
	if (c->nbuf > 56) {
		memset(c->buf + c->nbuf, 0, 64 - c->nbuf);
		block(c->h, c->buf);
		c->nbuf = 0;
	}
	memset(c->buf + c->nbuf, 0, 56 - c->nbuf);
	for (i = 0; i < 8; i++)
		c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	block(c->h, c->buf);
	for (i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(c->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)c->h[i];
	}
	memset(c, 0, sizeof *c);
}

void
ft_sha1_buf(const void *data, size_t n, uint8_t out[20])
{
	ft_sha1 c;

	ft_sha1_init(&c);
	ft_sha1_update(&c, data, n);
	ft_sha1_final(&c, out);
}

void
ft_sha1_hex(const uint8_t d[20], char hex[41])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 20; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[40] = '\0';
}

void
ft_sha1_git_blob_init(ft_sha1 *c, uint64_t size)
{
	char hdr[32];
	int n = snprintf(hdr, sizeof hdr, "blob %llu", (unsigned long long)size);

	ft_sha1_init(c);
	ft_sha1_update(c, hdr, (size_t)n + 1); /* with the NUL */
}
