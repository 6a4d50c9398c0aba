/* sha256 — FIPS 180-4 SHA-256 (token file tokenizer hashes, Hub LFS
 * checksums). */
#ifndef FT_SHA256_H
#define FT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "mdhash.h"

typedef struct ft_sha256 {
	ft_md md;
} ft_sha256;

void ft_sha256_init(ft_sha256 *c);
void ft_sha256_update(ft_sha256 *c, const void *data, size_t n);
void ft_sha256_final(ft_sha256 *c, uint8_t out[32]);
/* One call; hex is 64 lowercase digits + NUL. */
void ft_sha256_buf(const void *data, size_t n, uint8_t out[32]);
void ft_sha256_hex(const uint8_t d[32], char hex[65]);

#endif
