/* sha1 — see sha1.h.  FIPS 180-4 section 6.1: 64-byte blocks, an
 * 80-word big-endian message schedule, length in bits appended after a
 * 0x80 byte and zero padding (the same padding as SHA-256). */
#include "sha1.h"

#include <stdio.h>
#include <string.h>

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static void
block(uint32_t *h, const uint8_t *p)
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
	static const uint32_t iv[5] = {
		0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0,
	};

	ft_md_init(&c->md, iv, 5, block);
}

void
ft_sha1_update(ft_sha1 *c, const void *data, size_t n)
{
	ft_md_update(&c->md, data, n);
}

void
ft_sha1_final(ft_sha1 *c, uint8_t out[20])
{
	ft_md_final(&c->md, out);
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
	ft_hex(d, 20, hex);
}

void
ft_sha1_git_blob_init(ft_sha1 *c, uint64_t size)
{
	char hdr[32];
	int n = snprintf(hdr, sizeof hdr, "blob %llu", (unsigned long long)size);

	ft_sha1_init(c);
	ft_sha1_update(c, hdr, (size_t)n + 1); /* with the NUL */
}
