/* rng — see rng.h.  The numpy parts follow numpy/random/bit_generator.pyx
 * (SeedSequence), pcg64.h and distributions.c (random_interval,
 * _shuffle_raw); the torch part follows ATen's mt19937 and randperm_cpu. */
#include "rng.h"

#include <stdlib.h>

/* ---- SeedSequence ---- */

#define SS_INIT_A 0x43b0d7e5u
#define SS_MULT_A 0x931e8875u
#define SS_INIT_B 0x8b51f9ddu
#define SS_MULT_B 0x58f38dedu
#define SS_MIX_L 0xca01f9ddu
#define SS_MIX_R 0x4973f715u
#define SS_POOL 4

static uint32_t
hashmix(uint32_t v, uint32_t *h)
{
	v ^= *h;
	*h *= SS_MULT_A;
	v *= *h;
	v ^= v >> 16;
	return v;
}

static uint32_t
mix(uint32_t x, uint32_t y)
{
	uint32_t r = SS_MIX_L * x - SS_MIX_R * y;

	return r ^ (r >> 16);
}

void
ft_seedseq_generate(uint64_t seed, uint32_t *out, size_t nwords,
    uint32_t pool_out[4])
{
	uint32_t ent[2], pool[SS_POOL], h = SS_INIT_A, hb = SS_INIT_B;
	size_t nent = 0;

	/* The integer as little-endian 32-bit words; 0 is one word. */
	do {
		ent[nent++] = (uint32_t)seed;
		seed >>= 32;
	} while (seed != 0);
	for (size_t i = 0; i < SS_POOL; i++)
		pool[i] = hashmix(i < nent ? ent[i] : 0, &h);
	for (size_t s = 0; s < SS_POOL; s++)
		for (size_t d = 0; d < SS_POOL; d++)
			if (s != d)
				pool[d] = mix(pool[d], hashmix(pool[s], &h));
	/* (at most 2 entropy words here, so none beyond the pool) */
	for (size_t i = 0; i < nwords; i++) {
		uint32_t v = pool[i % SS_POOL];
		v ^= hb;
		hb *= SS_MULT_B;
		v *= hb;
		v ^= v >> 16;
		out[i] = v;
	}
	if (pool_out != NULL)
		for (size_t i = 0; i < SS_POOL; i++)
			pool_out[i] = pool[i];
}

/* ---- PCG64 ---- */

#define PCG_MULT (((unsigned __int128)0x2360ED051FC65DA4ull << 64) | \
	0x4385DF649FCCF645ull)

static void
pcg_step(struct ft_pcg64 *g)
{
	g->state = g->state * PCG_MULT + g->inc;
}

void
ft_pcg64_seed(struct ft_pcg64 *g, uint64_t seed)
{
	uint32_t w[8];
	uint64_t s[4];
	unsigned __int128 initstate, initseq;

	ft_seedseq_generate(seed, w, 8, NULL);
	for (int i = 0; i < 4; i++)
		s[i] = (uint64_t)w[2 * i] | (uint64_t)w[2 * i + 1] << 32;
	initstate = (unsigned __int128)s[0] << 64 | s[1];
	initseq = (unsigned __int128)s[2] << 64 | s[3];
	g->inc = (initseq << 1) | 1;
	g->state = 0;
	pcg_step(g);
	g->state += initstate;
	pcg_step(g);
	g->has_uint32 = 0;
	g->uinteger = 0;
}

uint64_t
ft_pcg64_next64(struct ft_pcg64 *g)
{
	uint64_t x;
	unsigned rot;

	pcg_step(g);
	x = (uint64_t)(g->state >> 64) ^ (uint64_t)g->state;
	rot = (unsigned)(g->state >> 122);
	return (x >> rot) | (x << ((64 - rot) & 63));
}

uint32_t
ft_pcg64_next32(struct ft_pcg64 *g)
{
	uint64_t v;

	if (g->has_uint32) {
		g->has_uint32 = 0;
		return g->uinteger;
	}
	v = ft_pcg64_next64(g);
	g->has_uint32 = 1;
	g->uinteger = (uint32_t)(v >> 32);
	return (uint32_t)v;
}

uint64_t
ft_pcg64_interval(struct ft_pcg64 *g, uint64_t max)
{
	uint64_t mask = max, v;

	if (max == 0)
		return 0;
	mask |= mask >> 1;
	mask |= mask >> 2;
	mask |= mask >> 4;
	mask |= mask >> 8;
	mask |= mask >> 16;
	mask |= mask >> 32;
	if (max <= 0xffffffffu) {
		while ((v = (ft_pcg64_next32(g) & mask)) > max)
			;
	} else {
		while ((v = (ft_pcg64_next64(g) & mask)) > max)
			;
	}
	return v;
}

void
ft_numpy_permutation(uint64_t seed, size_t n, size_t *out)
{
	struct ft_pcg64 g;

	ft_pcg64_seed(&g, seed);
	for (size_t i = 0; i < n; i++)
		out[i] = i;
	for (size_t i = n; i-- > 1;) {
		size_t j = (size_t)ft_pcg64_interval(&g, i), t = out[i];
		out[i] = out[j];
		out[j] = t;
	}
}

/* ---- MT19937 ---- */

void
ft_mt19937_seed(struct ft_mt19937 *g, uint64_t seed)
{
	g->mt[0] = (uint32_t)seed;
	for (int i = 1; i < 624; i++)
		g->mt[i] = 1812433253u * (g->mt[i - 1] ^ (g->mt[i - 1] >> 30)) +
		    (uint32_t)i;
	g->mti = 624;
}

uint32_t
ft_mt19937_next32(struct ft_mt19937 *g)
{
	uint32_t y;

	if (g->mti >= 624) {
		for (int k = 0; k < 624; k++) {
			y = (g->mt[k] & 0x80000000u) |
			    (g->mt[(k + 1) % 624] & 0x7fffffffu);
			g->mt[k] = g->mt[(k + 397) % 624] ^ (y >> 1) ^
			    ((y & 1) ? 0x9908b0dfu : 0);
		}
		g->mti = 0;
	}
	y = g->mt[g->mti++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= y >> 18;
	return y;
}

void
ft_randperm_torch(uint64_t seed, size_t n, size_t *out)
{
	struct ft_mt19937 g;
	int wide = (uint64_t)n >= 0xffffffffull / 20;

	ft_mt19937_seed(&g, seed);
	for (size_t i = 0; i < n; i++)
		out[i] = i;
	for (size_t i = 0; i + 1 < n; i++) {
		uint64_t r;
		if (wide) {
			uint64_t hi = ft_mt19937_next32(&g);
			r = hi << 32 | ft_mt19937_next32(&g);
		} else {
			r = ft_mt19937_next32(&g);
		}
		size_t z = (size_t)(r % (uint64_t)(n - i)), t = out[i];
		out[i] = out[i + z];
		out[i + z] = t;
	}
}

/* ---- xoshiro256** ---- */

uint64_t
ft_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void
ft_rng_seed(struct ft_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = stream, m;

	/* Mix the stream number through its own splitmix so that nearby
	 * (seed, stream) pairs start far apart. */
	m = ft_splitmix64(&x);
	x = seed ^ m;
	for (int i = 0; i < 4; i++)
		r->s[i] = ft_splitmix64(&x);
	if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
		r->s[0] = 1;
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
ft_rng_next(struct ft_rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

float
ft_rng_float(struct ft_rng *r)
{
	return (float)(ft_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

double
ft_rng_double(struct ft_rng *r)
{
	return (double)(ft_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t
ft_rng_below(struct ft_rng *r, uint64_t n)
{
	/* Reject the top partial block: 2^64 mod n values. */
	uint64_t lim = -n % n, v;

	do
		v = ft_rng_next(r);
	while (v < lim);
	return v % n;
}

void
ft_rng_jump(struct ft_rng *r)
{
	static const uint64_t J[] = { 0x180ec6d33cfd0abaull,
		0xd5a61266f0c9392cull, 0xa9582618e03fc9aaull,
		0x39abdc4529b1661cull };
	uint64_t t[4] = { 0, 0, 0, 0 };

	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 64; b++) {
			if (J[i] & (1ull << b))
				for (int k = 0; k < 4; k++)
					t[k] ^= r->s[k];
			ft_rng_next(r);
		}
	for (int k = 0; k < 4; k++)
		r->s[k] = t[k];
}
