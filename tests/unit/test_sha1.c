/* Unit tests for lib/sha1: FIPS 180-4 / NIST vectors, Python hashlib
 * digests of a fixed pattern at block-boundary lengths (tests/ref/sha1_ref.py),
 * fed whole and in odd-sized pieces, and git blob ids. */
#include "check.h"
#include "sha1.h"

#include <stdlib.h>
#include <string.h>

static int
hex_is(const uint8_t d[20], const char *want)
{
	char hex[41];

	ft_sha1_hex(d, hex);
	if (strcmp(hex, want) != 0) {
		fprintf(stderr, "got  %s\nwant %s\n", hex, want);
		return 0;
	}
	return 1;
}

static const struct {
	size_t n;
	const char *hex;
} vec[] = {
	{ 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
	{ 1, "9842926af7ca0a8cca12604f945414f07b01e13d" },
	{ 55, "ddf57317ef34bfee3b6df83d359098930eb278bc" },
	{ 56, "a0d492bb0fc889d0eca3bc137066ab6f4f74f369" },
	{ 63, "c55856749bef509bdfe6bfebfc7bf4e793e82132" },
	{ 64, "bede92be29c3874e1b54ddc77988d606fc857a8e" },
	{ 65, "b05a80522b053d6dc7e0a517d0e70212c7dad11f" },
	{ 119, "504e27376a6e0f0dba8295b85cb25dc4dfa17d23" },
	{ 120, "82134b02fb3f702491be9bed581eeab59334acb2" },
	{ 128, "a09133e6730ffe899efb70204cb5646cd5dc24ee" },
	{ 1000, "4231a8a50a10fa9758db8ec71fdef855b751048a" },
}, blob[] = {
	{ 0, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391" },
	{ 55, "1abe178a5e7d928b8cf998ad8479d32f2a5a50c1" },
	{ 1000, "91475c4915324f928254bb924272e5b930262344" },
};

int
main(void)
{
	uint8_t d[20], pat[1000];
	ft_sha1 c;
	size_t i, j, step;
	char *a;

	CHECK((ft_sha1_buf("abc", 3, d), hex_is(d,
	    "a9993e364706816aba3e25717850c26c9cd0d89d")));
	/* The 448-bit message (FIPS 180-2 appendix A.2). */
	CHECK((ft_sha1_buf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, d), hex_is(d, "84983e441c3bd26ebaae4aa1f95129e5e54670f1")));

	for (i = 0; i < sizeof pat; i++)
		pat[i] = (uint8_t)((i * 7 + 3) & 255);
	for (i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		ft_sha1_buf(pat, vec[i].n, d);
		CHECK(hex_is(d, vec[i].hex));
		for (step = 1; step <= 67; step += 11) {
			ft_sha1_init(&c);
			for (j = 0; j < vec[i].n; j += step)
				ft_sha1_update(&c, pat + j,
				    vec[i].n - j < step ? vec[i].n - j : step);
			ft_sha1_final(&c, d);
			CHECK(hex_is(d, vec[i].hex));
		}
	}

	/* git blob ids: sha1("blob SIZE\0" + content), as `git hash-object`. */
	for (i = 0; i < sizeof blob / sizeof blob[0]; i++) {
		ft_sha1_git_blob_init(&c, blob[i].n);
		for (j = 0; j < blob[i].n; j += 13)
			ft_sha1_update(&c, pat + j, blob[i].n - j < 13 ? blob[i].n - j : 13);
		ft_sha1_final(&c, d);
		CHECK(hex_is(d, blob[i].hex));
	}
	ft_sha1_git_blob_init(&c, 6);
	ft_sha1_update(&c, "hello\n", 6);
	ft_sha1_final(&c, d);
	CHECK(hex_is(d, "ce013625030ba8dba906f756967f9e9ca394464a"));

	/* One million 'a' (FIPS 180-2 appendix A.3), whole and in pieces. */
	a = malloc(1000000);
	CHECK(a != NULL);
	memset(a, 'a', 1000000);
	ft_sha1_buf(a, 1000000, d);
	CHECK(hex_is(d, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
	ft_sha1_init(&c);
	for (j = 0; j < 1000000; j += 4099)
		ft_sha1_update(&c, a + j, 1000000 - j < 4099 ? 1000000 - j : 4099);
	ft_sha1_final(&c, d);
	CHECK(hex_is(d, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"));
	free(a);
	return check_done();
}
