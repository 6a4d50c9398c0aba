/* Unit tests for lib/sha256: FIPS 180-4 vectors and Python hashlib
 * digests of a fixed pattern at block-boundary lengths, fed whole and in
 * odd-sized pieces. */
#include "check.h"
#include "sha256.h"

#include <stdlib.h>
#include <string.h>

static int
hex_is(const uint8_t d[32], const char *want)
{
	char hex[65];

	ft_sha256_hex(d, hex);
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
	{ 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ 1, "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5" },
	{ 55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b" },
	{ 56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27" },
	{ 63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055" },
	{ 64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241" },
	{ 65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e" },
	{ 119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e" },
	{ 120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5" },
	{ 1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371" },
};

int
main(void)
{
	uint8_t d[32], pat[1000];
	ft_sha256 c;
	size_t i, j, step;
	char *a;

	CHECK((ft_sha256_buf("abc", 3, d), hex_is(d,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")));
	CHECK((ft_sha256_buf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, d), hex_is(d,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")));

	for (i = 0; i < sizeof pat; i++)
		pat[i] = (uint8_t)((i * 7 + 3) & 255);
	for (i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		ft_sha256_buf(pat, vec[i].n, d);
		CHECK(hex_is(d, vec[i].hex));
		for (step = 1; step <= 67; step += 11) {
			ft_sha256_init(&c);
			for (j = 0; j < vec[i].n; j += step)
				ft_sha256_update(&c, pat + j,
				    vec[i].n - j < step ? vec[i].n - j : step);
			ft_sha256_final(&c, d);
			CHECK(hex_is(d, vec[i].hex));
		}
	}

	/* One million 'a' (FIPS 180-2 appendix B.3). */
	a = malloc(1000000);
	memset(a, 'a', 1000000);
	ft_sha256_buf(a, 1000000, d);
	CHECK(hex_is(d,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
	free(a);
	return check_done();
}
