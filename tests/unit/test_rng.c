/* Unit tests for lib/rng: the docs/hf-reference.md §4 and §12 vectors, every
 * committed numpy/torch vector (tests/ref/split_ref.py), and the fast
 * generator's streams, jump and save/restore. */
#include "check.h"
#include "err.h"
#include "rng.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void
test_hf_vectors(void)
{
	uint32_t w[8], pool[4];
	struct ft_pcg64 g;
	size_t p[154];
	static const size_t p10[] = { 5, 6, 0, 7, 3, 2, 4, 9, 1, 8 };
	static const size_t p16[] = { 6, 15, 11, 10, 9, 3, 0, 7, 12, 5, 2, 4,
		14, 1, 13, 8 };
	static const size_t p154a[] = { 68, 118, 137, 7, 51, 146, 54, 132, 116,
		52, 111, 8, 24, 37, 3, 66, 152, 138, 38, 4 };
	static const size_t p154v[] = { 102, 139, 150, 41, 110, 22, 19, 64,
		47, 113, 140, 14, 141, 36, 97, 136 };
	static const size_t t10[] = { 2, 6, 1, 8, 4, 5, 0, 9, 3, 7 };

	ft_seedseq_generate(42, w, 8, pool);
	CHECK(pool[0] == 0x631d3606u && pool[1] == 0x07ae90aeu);
	CHECK(pool[2] == 0x6fc4be28u && pool[3] == 0x2ced5c75u);
	CHECK(((uint64_t)w[1] << 32 | w[0]) == 0x9f1e2e6dcd540ab7ull);
	CHECK(((uint64_t)w[3] << 32 | w[2]) == 0xd57873dc79fb94b6ull);
	CHECK(((uint64_t)w[5] << 32 | w[4]) == 0x7d282a1b64d420b7ull);
	CHECK(((uint64_t)w[7] << 32 | w[6]) == 0x336579714692d5ffull);

	ft_pcg64_seed(&g, 42);
	CHECK(ft_pcg64_next64(&g) == 0xc621fbcd16d92688ull);
	CHECK(ft_pcg64_next64(&g) == 0x705a5661a791ffc1ull);
	CHECK(ft_pcg64_next64(&g) == 0xdbcd12c26eda1624ull);
	/* next32: low half first, then the buffered high half */
	ft_pcg64_seed(&g, 42);
	CHECK(ft_pcg64_next32(&g) == 0x16d92688u);
	CHECK(ft_pcg64_next32(&g) == 0xc621fbcdu);
	CHECK(ft_pcg64_next32(&g) == 0xa791ffc1u);

	ft_numpy_permutation(42, 10, p);
	CHECK(memcmp(p, p10, sizeof p10) == 0);
	ft_numpy_permutation(42, 16, p);
	CHECK(memcmp(p, p16, sizeof p16) == 0);
	ft_numpy_permutation(42, 154, p);
	CHECK(memcmp(p, p154a, sizeof p154a) == 0);
	CHECK(memcmp(p + 138, p154v, sizeof p154v) == 0);
	CHECK_EQ_INT((long)(0.9 * (double)154), 138);

	ft_randperm_torch(42, 10, p);
	CHECK(memcmp(p, t10, sizeof t10) == 0);
	ft_randperm_torch(42, 0, p);
	ft_numpy_permutation(42, 0, p);
	ft_randperm_torch(42, 1, p);
	CHECK(p[0] == 0);
}

/* Each line: SEED N p0 .. p(N-1); compare with `perm`. */
static void
test_vector_file(const char *path, void (*perm)(uint64_t, size_t, size_t *))
{
	FILE *fp = fopen(path, "r");
	char *line = NULL, *s, *end;
	size_t cap = 0, *p = NULL, pcap = 0, lines = 0, bad = 0;

	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	while (getline(&line, &cap, fp) > 0) {
		uint64_t seed = strtoull(line, &end, 10);
		size_t n = strtoull(end, &end, 10);
		ft_grow((void **)&p, &pcap, n + 1, sizeof *p);
		perm(seed, n, p);
		s = end;
		for (size_t i = 0; i < n; i++) {
			size_t v = strtoull(s, &end, 10);
			if (end == s || v != p[i]) {
				bad++;
				fprintf(stderr, "%s: seed %" PRIu64 " n %zu: "
				    "differs at %zu\n", path, seed, n, i);
				break;
			}
			s = end;
		}
		lines++;
	}
	CHECK(lines > 10);
	CHECK_EQ_INT(bad, 0);
	free(p);
	free(line);
	fclose(fp);
}

static void
test_fast(void)
{
	struct ft_rng a, b, c;
	uint64_t x[8];
	double sum = 0;
	int same = 0, below[5] = { 0 };

	ft_rng_seed(&a, 42, 0);
	ft_rng_seed(&b, 42, 0);
	for (int i = 0; i < 1000; i++)
		CHECK_EQ_INT(ft_rng_next(&a) == ft_rng_next(&b), 1);
	/* save / restore */
	c = a;
	for (int i = 0; i < 8; i++)
		x[i] = ft_rng_next(&a);
	for (int i = 0; i < 8; i++)
		same += ft_rng_next(&c) == x[i];
	CHECK_EQ_INT(same, 8);
	/* streams and seeds differ */
	ft_rng_seed(&a, 42, 0);
	ft_rng_seed(&b, 42, 1);
	ft_rng_seed(&c, 43, 0);
	same = 0;
	for (int i = 0; i < 100; i++) {
		uint64_t va = ft_rng_next(&a), vb = ft_rng_next(&b),
		    vc = ft_rng_next(&c);
		same += va == vb || va == vc || vb == vc;
	}
	CHECK_EQ_INT(same, 0);
	/* jump moves somewhere else, deterministically */
	ft_rng_seed(&a, 1, 0);
	b = a;
	ft_rng_jump(&a);
	ft_rng_jump(&b);
	CHECK(memcmp(&a, &b, sizeof a) == 0);
	ft_rng_seed(&c, 1, 0);
	CHECK(memcmp(&a, &c, sizeof a) != 0);
	/* uniform floats */
	ft_rng_seed(&a, 7, 3);
	for (int i = 0; i < 100000; i++) {
		float f = ft_rng_float(&a);
		double d = ft_rng_double(&a);
		CHECK_EQ_INT(f >= 0.0f && f < 1.0f && d >= 0 && d < 1, 1);
		sum += f;
		below[ft_rng_below(&a, 5)]++;
	}
	CHECK_NEAR(sum / 100000, 0.5, 0.01);
	for (int i = 0; i < 5; i++)
		CHECK_NEAR(below[i] / 100000.0, 0.2, 0.03);
}

int
main(void)
{
	ft_setprog("test_rng");
	test_hf_vectors();
	test_vector_file("tests/fixtures/split/perm_vectors.txt",
	    ft_numpy_permutation);
	test_vector_file("tests/fixtures/split/randperm_vectors.txt",
	    ft_randperm_torch);
	test_fast();
	return check_done();
}
