/* rng — every random number generator ft uses.
 *
 * Three families, each bit-exact with a reference:
 *
 * 1. numpy: SeedSequence + PCG64 (XSL-RR 128/64), as in
 *    numpy.random.default_rng(seed), and Generator.permutation(N).  Used by
 *    ft-split to reproduce datasets.Dataset.shuffle(seed) exactly
 *    (docs/hf-reference.md §4).
 * 2. torch: MT19937 seeded with init_genrand(seed) and torch.randperm(n) on
 *    the CPU (docs/hf-reference.md §12), for the Trainer's epoch order.
 * 3. ft's own fast generator for dropout and sampling: xoshiro256** seeded
 *    through splitmix64.  Its whole state is four uint64 words (struct
 *    ft_rng, plain data: copy it, or save/restore s[0..3], for bit-exact
 *    resume).  Independent streams come from ft_rng_seed(seed, stream)
 *    (different streams give unrelated sequences) or ft_rng_jump (2^128
 *    steps ahead).
 *
 * No function allocates except where noted; none fails. */
#ifndef FT_RNG_H
#define FT_RNG_H

#include <stddef.h>
#include <stdint.h>

/* ---- numpy: SeedSequence and PCG64 ---- */

/* SeedSequence(seed).generate_state(nwords, uint32): the seed is split
 * into 32-bit little-endian words (0 gives one word 0), mixed into a pool
 * of 4 words; pool (if not NULL) receives those 4 words. */
void ft_seedseq_generate(uint64_t seed, uint32_t *out, size_t nwords,
    uint32_t pool[4]);

struct ft_pcg64 {
	unsigned __int128 state, inc;
	int has_uint32;
	uint32_t uinteger;
};

/* numpy.random.PCG64(seed) (seeded through SeedSequence). */
void ft_pcg64_seed(struct ft_pcg64 *g, uint64_t seed);
uint64_t ft_pcg64_next64(struct ft_pcg64 *g);
/* Lower half of a fresh 64-bit draw, then its buffered upper half. */
uint32_t ft_pcg64_next32(struct ft_pcg64 *g);
/* numpy random_interval: uniform in [0, max] by masked rejection. */
uint64_t ft_pcg64_interval(struct ft_pcg64 *g, uint64_t max);
/* default_rng(seed).permutation(n) into out[0..n). */
void ft_numpy_permutation(uint64_t seed, size_t n, size_t *out);

/* ---- torch: MT19937 and randperm ---- */

struct ft_mt19937 {
	uint32_t mt[624];
	int mti;
};

/* init_genrand(seed & 0xffffffff), as torch's CPU generator. */
void ft_mt19937_seed(struct ft_mt19937 *g, uint64_t seed);
uint32_t ft_mt19937_next32(struct ft_mt19937 *g);
/* torch.randperm(n, generator=torch.Generator().manual_seed(seed)) on the
 * CPU into out[0..n).  For n >= 2^32/20 torch draws 64-bit values (two
 * 32-bit draws, first one high); so does this. */
void ft_randperm_torch(uint64_t seed, size_t n, size_t *out);

/* ---- ft's fast generator: xoshiro256** ---- */

struct ft_rng {
	uint64_t s[4];
};

/* Seed stream `stream` of `seed`: s[] = four splitmix64 outputs started
 * from a mix of seed and stream.  Never all-zero. */
void ft_rng_seed(struct ft_rng *r, uint64_t seed, uint64_t stream);
uint64_t ft_rng_next(struct ft_rng *r);
/* Uniform float in [0, 1) with 24 random bits; double with 53. */
float ft_rng_float(struct ft_rng *r);
double ft_rng_double(struct ft_rng *r);
/* Uniform integer in [0, n) without modulo bias (n > 0). */
uint64_t ft_rng_below(struct ft_rng *r, uint64_t n);
/* Advance by 2^128 draws: call k times on a copy for stream k. */
void ft_rng_jump(struct ft_rng *r);

/* splitmix64 step (also handy as a hash of a 64-bit value). */
uint64_t ft_splitmix64(uint64_t *x);

#endif
