/* quant — see quant.h.
 *
 * Conversion gathers 32 output rows at a time into an fp32 tile (a
 * Conv1D matrix [in, out] is read 32 contiguous floats per input row, not
 * one strided float per element), then rounds or quantises each row.
 *
 * ft_qmat_mul: a thread owns a contiguous range of output rows; for each
 * row it walks the stored blocks of 32 once, turns them into fp32 in
 * registers ((float)q * d, or the bf16 bits shifted up) and multiplies
 * them into groups of up to 8 (AVX-512) or 4 (AVX2) activation rows, each
 * with two accumulators (even and odd 16- or 8-wide pieces), reduced at
 * the end of the row (groups of 4 and 8 by one transpose-and-add tree).
 * Q8_0 against a single row (AVX-512) scales each block's sum instead of
 * its weights (q8one512): there the int8 -> fp32 conversions set the
 * pace, not the memory.  When cols is not a multiple of 32 the activations
 * are copied once into zero-padded rows so no kernel has a tail. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kernels.h"
#include "quant.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FT_X86 1
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx2,fma")))
#define INLINE inline __attribute__((always_inline))
#endif

enum { ISA_PLAIN, ISA_AVX2, ISA_AVX512 };
static const char *const isa_names[] = { "plain", "avx2", "avx512" };

static int
isa_supported(int isa)
{
#ifdef FT_X86
	__builtin_cpu_init();
	if (isa == ISA_AVX512)
		return __builtin_cpu_supports("avx512f") &&
		    __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	if (isa == ISA_AVX2)
		return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
	return isa == ISA_PLAIN;
}

static int isa_cur = -1;

static int
isa(void)
{
	if (isa_cur < 0)
		isa_cur = isa_supported(ISA_AVX512) ? ISA_AVX512 :
		    isa_supported(ISA_AVX2) ? ISA_AVX2 : ISA_PLAIN;
	return isa_cur;
}

const char *
ft_qmat_isa(void)
{
	return isa_names[isa()];
}

int
ft_qmat_set_isa(const char *name)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(name, isa_names[i]) == 0) {
			if (!isa_supported(i))
				return -1;
			isa_cur = i;
			return 0;
		}
	return -1;
}

/* ---- bf16 conversion ---- */

#ifdef FT_X86
/* 16 floats -> 16 bf16, the same integer rounding as ft_bf16_round */
AVX2 static INLINE __m256i
round8(__m256i u)
{
	__m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16),
	    _mm256_set1_epi32(1));
	__m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u,
	    _mm256_set1_epi32(0x7fff)), lsb), 16);
	__m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u,
	    _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
	return _mm256_blendv_epi8(r, _mm256_set1_epi32(0xffff), nan);
}

AVX2 static size_t
from_f32_avx2(ft_bf16 *dst, const float *src, size_t n)
{
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m256i a = round8(_mm256_loadu_si256((const __m256i *)(src + i)));
		__m256i b = round8(_mm256_loadu_si256((const __m256i *)(src + i + 8)));
		__m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b),
		    0xd8);
		_mm256_storeu_si256((__m256i *)(dst + i), p);
	}
	return i;
}

AVX2 static size_t
to_f32_avx2(float *dst, const ft_bf16 *src, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(
		    (const __m128i *)(src + i)));
		_mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(v, 16));
	}
	return i;
}
#endif

struct conv_ctx {
	ft_bf16 *h;
	float *f;
	const ft_bf16 *ch;
	const float *cf;
	size_t n;
	int vec;
};

static void
from_f32_task(void *vc, int tid, int nt)
{
	struct conv_ctx *c = vc;
	size_t lo, hi, i = 0;

	ft_split(c->n, tid, nt, &lo, &hi);
#ifdef FT_X86
	if (c->vec)
		i = from_f32_avx2(c->h + lo, c->cf + lo, hi - lo);
#endif
	for (i += lo; i < hi; i++)
		c->h[i] = ft_bf16_round(c->cf[i]);
}

static void
to_f32_task(void *vc, int tid, int nt)
{
	struct conv_ctx *c = vc;
	size_t lo, hi, i = 0;

	ft_split(c->n, tid, nt, &lo, &hi);
#ifdef FT_X86
	if (c->vec)
		i = to_f32_avx2(c->f + lo, c->ch + lo, hi - lo);
#endif
	for (i += lo; i < hi; i++)
		c->f[i] = ft_bf16_float(c->ch[i]);
}

void
ft_bf16_from_f32(ft_bf16 *dst, const float *src, size_t n, int threads)
{
	struct conv_ctx c = { .h = dst, .cf = src, .n = n,
	    .vec = isa() != ISA_PLAIN };

	ft_parallel(n < 65536 ? 1 : threads, from_f32_task, &c);
}

void
ft_bf16_to_f32(float *dst, const ft_bf16 *src, size_t n, int threads)
{
	struct conv_ctx c = { .f = dst, .ch = src, .n = n,
	    .vec = isa() != ISA_PLAIN };

	ft_parallel(n < 65536 ? 1 : threads, to_f32_task, &c);
}

/* ---- formats ---- */

const char *
ft_qtype_name(ft_qtype t)
{
	return t == FT_Q_BF16 ? "bf16" : "int8";
}

int
ft_qtype_parse(const char *s, ft_qtype *t)
{
	if (strcmp(s, "bf16") == 0)
		*t = FT_Q_BF16;
	else if (strcmp(s, "int8") == 0)
		*t = FT_Q_Q8_0;
	else
		return -1;
	return 0;
}

size_t
ft_qmat_bytes(const ft_qmat *m)
{
	size_t n = (size_t)m->rows * (size_t)m->ld;

	return m->type == FT_Q_BF16 ? 2 * n :
	    n + n / FT_QBLOCK * sizeof(float);
}

/* One row of fp32 (ld values, zero padded) into row o of m. */
static void
put_row(ft_qmat *m, int o, const float *x)
{
	size_t ld = (size_t)m->ld, base = (size_t)o * ld;

	if (m->type == FT_Q_BF16) {
		for (size_t i = 0; i < ld; i++)
			m->w16[base + i] = ft_bf16_round(x[i]);
		return;
	}
	/* Q8_0 as llama.cpp's quantize_row_q8_0_reference, scale kept fp32 */
	for (size_t b = 0; b < ld / FT_QBLOCK; b++) {
		const float *xb = x + b * FT_QBLOCK;
		float amax = 0, d, id;

		for (int j = 0; j < FT_QBLOCK; j++)
			amax = fmaxf(amax, fabsf(xb[j]));
		d = amax / 127.0f;
		id = d != 0 ? 1.0f / d : 0.0f;
		m->d[base / FT_QBLOCK + b] = d;
		for (int j = 0; j < FT_QBLOCK; j++) {
			/* clamped so NaN or inf weights stay defined (0, ±127) */
			float v = roundf(xb[j] * id);
			m->q[base + b * FT_QBLOCK + j] = (int8_t)(v >= 127.0f ? 127 :
			    v <= -127.0f ? -127 : v == v ? (int)v : 0);
		}
	}
}

#define TILE 32

struct build_ctx {
	ft_qmat *m;
	const float *wf;
	const ft_bf16 *wh;
	ft_wlayout lay;
};

static inline float
src_at(const struct build_ctx *c, size_t i)
{
	return c->wf != NULL ? c->wf[i] : ft_bf16_float(c->wh[i]);
}

static void
build_task(void *vc, int tid, int nt)
{
	struct build_ctx *c = vc;
	ft_qmat *m = c->m;
	size_t lo, hi, ld = (size_t)m->ld, in = (size_t)m->cols;
	size_t out = (size_t)m->rows;
	float *tile = ft_calloc(TILE * ld, sizeof(float));

	ft_split((out + TILE - 1) / TILE, tid, nt, &lo, &hi);
	for (size_t t = lo; t < hi; t++) {
		size_t o0 = t * TILE, no = out - o0 < TILE ? out - o0 : TILE;

		if (c->lay == FT_W_OI)
			for (size_t r = 0; r < no; r++)
				for (size_t i = 0; i < in; i++)
					tile[r * ld + i] = src_at(c, (o0 + r) * in + i);
		else
			for (size_t i = 0; i < in; i++)
				for (size_t r = 0; r < no; r++)
					tile[r * ld + i] = src_at(c, i * out + o0 + r);
		for (size_t r = 0; r < no; r++)
			put_row(m, (int)(o0 + r), tile + r * ld);
	}
	free(tile);
}

static void
build(ft_qmat *m, ft_qtype type, const float *wf, const ft_bf16 *wh,
    int out, int in, ft_wlayout lay, int threads)
{
	struct build_ctx c = { m, wf, wh, lay };
	size_t n;

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->rows = out;
	m->cols = in;
	m->ld = (in + FT_QBLOCK - 1) / FT_QBLOCK * FT_QBLOCK;
	n = (size_t)out * (size_t)m->ld;
	if (type == FT_Q_BF16) {
		m->w16 = ft_malloc(n * sizeof(ft_bf16));
	} else {
		m->q = ft_malloc(n);
		m->d = ft_malloc(n / FT_QBLOCK * sizeof(float));
	}
	ft_parallel(threads, build_task, &c);
}

void
ft_qmat_from_f32(ft_qmat *m, ft_qtype type, const float *w, int out, int in,
    ft_wlayout lay, int threads)
{
	build(m, type, w, NULL, out, in, lay, threads);
}

void
ft_qmat_from_bf16(ft_qmat *m, ft_qtype type, const ft_bf16 *w, int out,
    int in, ft_wlayout lay, int threads)
{
	build(m, type, NULL, w, out, in, lay, threads);
}

int
ft_qmat_from_tensor(ft_qmat *m, ft_qtype type, const ft_st_file *f,
    const ft_st_tensor *t, ft_wlayout lay, int threads)
{
	int64_t out, in;
	void *cp = NULL;
	const void *data = t->data;
	int bf = t->dtype == FT_BF16;

	if (t->ndim != 2)
		return ft_error("'%s': tensor '%s': a weight matrix must be 2-D, not "
		    "%d-D", f->path, t->name, t->ndim);
	out = lay == FT_W_OI ? t->shape[0] : t->shape[1];
	in = lay == FT_W_OI ? t->shape[1] : t->shape[0];
	if (out < 1 || in < 1 || out > INT32_MAX || in > INT32_MAX - FT_QBLOCK)
		return ft_error("'%s': tensor '%s': shape [%lld, %lld] out of range",
		    f->path, t->name, (long long)t->shape[0],
		    (long long)t->shape[1]);
	if (t->dtype != FT_F32 && !bf) {
		/* F16, F64: through fp32 (ft_st_read_f32 refuses the rest) */
		cp = ft_malloc(t->nelem * sizeof(float));
		if (ft_st_read_f32(f, t, cp) != 0) {
			free(cp);
			return -1;
		}
		data = cp;
	} else if (((uintptr_t)data & (bf ? 1 : 3)) != 0) {
		/* safetensors data need not be aligned for its dtype */
		size_t sz = t->nelem * ft_dtype_size(t->dtype);

		cp = ft_malloc(sz);
		memcpy(cp, data, sz);
		data = cp;
	}
	build(m, type, bf ? NULL : data, bf ? data : NULL, (int)out, (int)in, lay,
	    threads);
	free(cp);
	return 0;
}

void
ft_qmat_free(ft_qmat *m)
{
	free(m->w16);
	free(m->q);
	free(m->d);
	memset(m, 0, sizeof(*m));
}

static inline float
deq(const ft_qmat *m, size_t i)
{
	return m->type == FT_Q_BF16 ? ft_bf16_float(m->w16[i]) :
	    (float)m->q[i] * m->d[i / FT_QBLOCK];
}

void
ft_qmat_row(const ft_qmat *m, int row, float *out)
{
	size_t base = (size_t)row * (size_t)m->ld;

	for (size_t i = 0; i < (size_t)m->cols; i++)
		out[i] = deq(m, base + i);
}

void
ft_qmat_dequant(const ft_qmat *m, float *w)
{
	for (int o = 0; o < m->rows; o++)
		ft_qmat_row(m, o, w + (size_t)o * m->cols);
}

/* ---- few-row matmul ---- */

struct mul_ctx {
	float *out;
	const float *a;   /* [k, ld] */
	int k;
	const ft_qmat *m;
	const float *bias;
	int isa;
};

/* plain C: one row o of W against all k rows of a */
static void
row_plain(const struct mul_ctx *c, size_t o)
{
	const ft_qmat *m = c->m;
	size_t ld = (size_t)m->ld;

	for (int r = 0; r < c->k; r++) {
		const float *x = c->a + (size_t)r * ld;
		float s = 0;

		for (size_t i = 0; i < ld; i++)
			s += deq(m, o * ld + i) * x[i];
		c->out[(size_t)r * m->rows + o] = s +
		    (c->bias != NULL ? c->bias[o] : 0.0f);
	}
}

#ifdef FT_X86
/* AVX-512: the block of 32 at b of row o as two fp32 vectors */
AVX512 static INLINE void
blk512(const ft_qmat *m, int q8, size_t o, size_t b, __m512 *w0, __m512 *w1)
{
	size_t at = o * (size_t)m->ld + b * FT_QBLOCK;

	if (q8) {
		__m512 d = _mm512_set1_ps(m->d[at / FT_QBLOCK]);
		__m128i q0 = _mm_loadu_si128((const __m128i *)(m->q + at));
		__m128i q1 = _mm_loadu_si128((const __m128i *)(m->q + at + 16));
		*w0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0)), d);
		*w1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1)), d);
	} else {
		__m256i h0 = _mm256_loadu_si256((const __m256i *)(m->w16 + at));
		__m256i h1 = _mm256_loadu_si256((const __m256i *)(m->w16 + at + 16));
		*w0 = _mm512_castsi512_ps(_mm512_slli_epi32(
		    _mm512_cvtepu16_epi32(h0), 16));
		*w1 = _mm512_castsi512_ps(_mm512_slli_epi32(
		    _mm512_cvtepu16_epi32(h1), 16));
	}
}

/* The sums of a[0..7] (16 lanes each) in t[0..7]: a transpose-and-add
 * tree, fixed order (a[i] may be zero for unused rows). */
AVX512 static INLINE void
sum8_512(const __m512 *a, float *t)
{
	__m512 u[4], v[2], w, z;
	float l[16];

	for (int i = 0; i < 4; i++)
		u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1],
		    _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(a[2 * i],
		    a[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
	for (int j = 0; j < 2; j++)
		v[j] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * j], u[2 * j + 1],
		    _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(u[2 * j],
		    u[2 * j + 1], _MM_SHUFFLE(3, 1, 3, 1)));
	/* 128-bit lane j of v[0]: row j's partial sums, of v[1]: row j + 4 */
	w = _mm512_add_ps(_mm512_shuffle_ps(v[0], v[1], _MM_SHUFFLE(1, 0, 1, 0)),
	    _mm512_shuffle_ps(v[0], v[1], _MM_SHUFFLE(3, 2, 3, 2)));
	z = _mm512_add_ps(_mm512_shuffle_ps(w, w, _MM_SHUFFLE(2, 0, 2, 0)),
	    _mm512_shuffle_ps(w, w, _MM_SHUFFLE(3, 1, 3, 1)));
	_mm512_storeu_ps(l, z);
	for (int j = 0; j < 4; j++) {
		t[j] = l[4 * j];
		t[j + 4] = l[4 * j + 1];
	}
}

/* rows r0..r0+R of a against row o (R <= 8 a constant where inlined) */
AVX512 static INLINE void
grp512(const struct mul_ctx *c, int q8, size_t o, int r0, int R)
{
	const ft_qmat *m = c->m;
	size_t ld = (size_t)m->ld, nb = ld / FT_QBLOCK;
	const float *x = c->a + (size_t)r0 * ld;
	__m512 s[8], t[8];
	float bias = c->bias != NULL ? c->bias[o] : 0.0f;

#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		s[r] = t[r] = _mm512_setzero_ps();
	for (size_t b = 0; b < nb; b++) {
		__m512 w0, w1;

		blk512(m, q8, o, b, &w0, &w1);
#pragma GCC unroll 8
		for (int r = 0; r < R; r++) {
			const float *xr = x + (size_t)r * ld + b * FT_QBLOCK;
			s[r] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xr), s[r]);
			t[r] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xr + 16), t[r]);
		}
	}
	if (R >= 4) {
		__m512 a[8];
		float sum[8];

#pragma GCC unroll 8
		for (int r = 0; r < 8; r++)
			a[r] = r < R ? _mm512_add_ps(s[r], t[r]) : _mm512_setzero_ps();
		sum8_512(a, sum);
#pragma GCC unroll 8
		for (int r = 0; r < R; r++)
			c->out[(size_t)(r0 + r) * m->rows + o] = sum[r] + bias;
		return;
	}
#pragma GCC unroll 8
	for (int r = 0; r < R; r++)
		c->out[(size_t)(r0 + r) * m->rows + o] =
		    _mm512_reduce_add_ps(_mm512_add_ps(s[r], t[r])) + bias;
}

/* Q8_0, one activation row: block b of row o as Σ q·x in fp32, scaled
 * once (p = q0·x0 + q1·x1, acc += p·d: one multiply a block fewer than
 * scaling the weights), even and odd blocks into two accumulators. */
AVX512 static INLINE __m512
q8dot512(const int8_t *q, const float *x)
{
	__m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
	    _mm_loadu_si128((const __m128i *)q)));
	__m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(
	    _mm_loadu_si128((const __m128i *)(q + 16))));

	return _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + 16),
	    _mm512_mul_ps(w0, _mm512_loadu_ps(x)));
}

AVX512 static void
q8one512(const struct mul_ctx *c, size_t o)
{
	const ft_qmat *m = c->m;
	size_t ld = (size_t)m->ld, nb = ld / FT_QBLOCK, b = 0;
	const int8_t *q = m->q + o * ld;
	const float *d = m->d + o * nb, *x = c->a;
	__m512 s = _mm512_setzero_ps(), t = s;

	for (; b + 2 <= nb; b += 2) {
		s = _mm512_fmadd_ps(q8dot512(q + b * FT_QBLOCK, x + b * FT_QBLOCK),
		    _mm512_set1_ps(d[b]), s);
		t = _mm512_fmadd_ps(q8dot512(q + (b + 1) * FT_QBLOCK,
		    x + (b + 1) * FT_QBLOCK), _mm512_set1_ps(d[b + 1]), t);
	}
	if (b < nb)
		s = _mm512_fmadd_ps(q8dot512(q + b * FT_QBLOCK, x + b * FT_QBLOCK),
		    _mm512_set1_ps(d[b]), s);
	c->out[o] = _mm512_reduce_add_ps(_mm512_add_ps(s, t)) +
	    (c->bias != NULL ? c->bias[o] : 0.0f);
}

/* every group of rows of a against row o */
AVX512 static INLINE void
rows512(const struct mul_ctx *c, int q8, size_t o)
{
	int r = 0;

	for (; r + 8 <= c->k; r += 8)
		grp512(c, q8, o, r, 8);
	if (r + 4 <= c->k) {
		grp512(c, q8, o, r, 4);
		r += 4;
	}
	if (r + 2 <= c->k) {
		grp512(c, q8, o, r, 2);
		r += 2;
	}
	if (r < c->k)
		grp512(c, q8, o, r, 1);
}

AVX512 static void
row512(const struct mul_ctx *c, size_t o)
{
	if (c->m->type == FT_Q_Q8_0)
		rows512(c, 1, o);
	else
		rows512(c, 0, o);
}

/* AVX2: the 8 values at piece p (0..3) of block b of row o */
AVX2 static INLINE __m256
blk256(const ft_qmat *m, int q8, size_t o, size_t b, int p)
{
	size_t at = o * (size_t)m->ld + b * FT_QBLOCK + (size_t)p * 8;

	if (q8)
		return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
		    _mm_loadl_epi64((const __m128i *)(m->q + at)))),
		    _mm256_set1_ps(m->d[at / FT_QBLOCK]));
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(
	    _mm_loadu_si128((const __m128i *)(m->w16 + at))), 16));
}

AVX2 static INLINE float
hsum256(__m256 v)
{
	float t[8];

	_mm256_storeu_ps(t, v);
	return ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
}

AVX2 static INLINE void
grp256(const struct mul_ctx *c, int q8, size_t o, int r0, int R)
{
	const ft_qmat *m = c->m;
	size_t ld = (size_t)m->ld, nb = ld / FT_QBLOCK;
	const float *x = c->a + (size_t)r0 * ld;
	__m256 s[4], t[4];

#pragma GCC unroll 4
	for (int r = 0; r < R; r++)
		s[r] = t[r] = _mm256_setzero_ps();
	for (size_t b = 0; b < nb; b++) {
#pragma GCC unroll 4
		for (int p = 0; p < 4; p += 2) {
			__m256 w0 = blk256(m, q8, o, b, p), w1 = blk256(m, q8, o, b, p + 1);
#pragma GCC unroll 4
			for (int r = 0; r < R; r++) {
				const float *xr = x + (size_t)r * ld + b * FT_QBLOCK + p * 8;
				s[r] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xr), s[r]);
				t[r] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xr + 8), t[r]);
			}
		}
	}
#pragma GCC unroll 4
	for (int r = 0; r < R; r++)
		c->out[(size_t)(r0 + r) * m->rows + o] =
		    hsum256(_mm256_add_ps(s[r], t[r])) +
		    (c->bias != NULL ? c->bias[o] : 0.0f);
}

AVX2 static INLINE void
rows256(const struct mul_ctx *c, int q8, size_t o)
{
	int r = 0;

	for (; r + 4 <= c->k; r += 4)
		grp256(c, q8, o, r, 4);
	if (r + 2 <= c->k) {
		grp256(c, q8, o, r, 2);
		r += 2;
	}
	if (r < c->k)
		grp256(c, q8, o, r, 1);
}

AVX2 static void
row256(const struct mul_ctx *c, size_t o)
{
	if (c->m->type == FT_Q_Q8_0)
		rows256(c, 1, o);
	else
		rows256(c, 0, o);
}
#endif

static void
mul_task(void *vc, int tid, int nt)
{
	struct mul_ctx *c = vc;
	size_t lo, hi;
	int which = c->isa;

	ft_split((size_t)c->m->rows, tid, nt, &lo, &hi);
#ifdef FT_X86
	if (which == ISA_AVX512 && c->k == 1 && c->m->type == FT_Q_Q8_0) {
		for (size_t o = lo; o < hi; o++)
			q8one512(c, o);
		return;
	}
#endif
	for (size_t o = lo; o < hi; o++) {
#ifdef FT_X86
		if (which == ISA_AVX512) {
			row512(c, o);
			continue;
		}
		if (which == ISA_AVX2) {
			row256(c, o);
			continue;
		}
#endif
		(void)which;
		row_plain(c, o);
	}
}

void
ft_qmat_mul(float *out, const float *a, int k, const ft_qmat *m,
    const float *bias, int threads)
{
	struct mul_ctx c = { out, a, k, m, bias, isa() };
	float *pad = NULL;

	if (k < 1)
		return;
	if (m->ld != m->cols) {
		size_t ld = (size_t)m->ld;

		pad = ft_calloc((size_t)k * ld, sizeof(float));
		for (int r = 0; r < k; r++)
			memcpy(pad + (size_t)r * ld, a + (size_t)r * m->cols,
			    (size_t)m->cols * sizeof(float));
		c.a = pad;
	}
	ft_parallel(threads, mul_task, &c);
	free(pad);
}
