/* sha1 — FIPS 180-4 SHA-1 (Hub git blob ids of regular, non-LFS files).
 * Not for anything that needs collision resistance: it only checks that
 * a download matches the id the Hub announced. */
#ifndef FT_SHA1_H
#define FT_SHA1_H

#include <stddef.h>
#include <stdint.h>

#include "mdhash.h"

typedef struct ft_sha1 {
	ft_md md;
} ft_sha1;

void ft_sha1_init(ft_sha1 *c);
void ft_sha1_update(ft_sha1 *c, const void *data, size_t n);
void ft_sha1_final(ft_sha1 *c, uint8_t out[20]);
/* One call; hex is 40 lowercase digits + NUL. */
void ft_sha1_buf(const void *data, size_t n, uint8_t out[20]);
void ft_sha1_hex(const uint8_t d[20], char hex[41]);
/* Init for a git blob id: hashes the header "blob SIZE\0"; then feed the
 * SIZE content bytes with ft_sha1_update. */
void ft_sha1_git_blob_init(ft_sha1 *c, uint64_t size);

#endif
