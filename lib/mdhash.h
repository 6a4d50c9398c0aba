/* mdhash — the Merkle–Damgård frame that SHA-1 and SHA-256 share (FIPS
 * 180-4 §5.1.1): 64-byte blocks, a 0x80 byte, zero padding, the length in
 * bits as a big-endian 64-bit number, state words written big-endian.
 * sha1.c and sha256.c supply only their initial values and compression
 * function. */
#ifndef FT_MDHASH_H
#define FT_MDHASH_H

#include <stddef.h>
#include <stdint.h>

/* Mix one 64-byte block into the state h. */
typedef void ft_md_compress(uint32_t *h, const uint8_t *block);

typedef struct ft_md {
	uint32_t h[8];           /* the first nwords are used */
	uint64_t len;            /* bytes hashed so far */
	uint8_t buf[64];         /* a partial block */
	size_t nbuf;
	int nwords;              /* 5 (SHA-1) or 8 (SHA-256) */
	ft_md_compress *compress;
} ft_md;

void ft_md_init(ft_md *c, const uint32_t *iv, int nwords, ft_md_compress *f);
void ft_md_update(ft_md *c, const void *data, size_t n);
/* Pad, write 4 * nwords digest bytes to out, and wipe c. */
void ft_md_final(ft_md *c, uint8_t *out);
/* n bytes as 2n lowercase hex digits + NUL. */
void ft_hex(const uint8_t *d, size_t n, char *hex);

#endif
