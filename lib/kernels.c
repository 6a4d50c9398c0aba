/* kernels — see kernels.h.
 *
 * Matmuls go to cblas_sgemm, except a few rows (batched decode), which
 * use a register-tiled kernel that reads w once without packing it.  The
 * elementwise and row kernels are split over a persistent pthread pool in
 * fixed contiguous ranges; the
 * exp-heavy loops (softmax, cross-entropy, GELU, SwiGLU) use an AVX2+FMA
 * Cephes-style exp chosen at run time, with a scalar version of the same
 * polynomial elsewhere.  Vector tails are padded into a full vector so an
 * element's value never depends on where a range starts. */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "kernels.h"
#include "rng.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FT_X86 1
#endif

/* ---- thread pool ----
 *
 * A call publishes its task by bumping `gen`; the workers and the caller
 * wait for each other by spinning on the atomics for a while (a decode
 * step runs ~30 calls of tens of microseconds each, and waking a sleeping
 * thread costs about as much as the call), then sleep on the condition
 * variables.  Who sleeps says so first (sleepers, caller_asleep) and the
 * other side checks after its store, both sequentially consistent, so a
 * wake-up is never lost.  The spin lasts at most SPIN_NS, so a waiting
 * worker soon gives its core back to OpenBLAS's threads or to another
 * process on a busy machine. */

#define MAX_THREADS 256
#define SPIN_NS 20000.0

static double
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* spin until (*p == v) == eq, for at most SPIN_NS: 1 if it came */
static int
spin_until(atomic_ulong *p, unsigned long v, int eq)
{
	double t0 = 0;

	for (int i = 0;; i++) {
		if ((atomic_load_explicit(p, memory_order_acquire) == v) == eq)
			return 1;
#ifdef FT_X86
		_mm_pause();
#endif
		if ((i & 63) == 63) {
			double t = mono_ns();

			if (t0 == 0)
				t0 = t;
			else if (t - t0 > SPIN_NS)
				return 0;
		}
	}
}

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	pthread_mutex_t call;
	int nworkers;
	atomic_ulong gen;
	atomic_ulong pending;
	atomic_int sleepers;
	atomic_int caller_asleep;
	ft_task_fn fn;
	void *ctx;
	int nt;
	unsigned long start_gen[MAX_THREADS];
} pool = {
	.mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER, .call = PTHREAD_MUTEX_INITIALIZER,
};

static void *
worker(void *arg)
{
	int tid = (int)(size_t)arg;
	unsigned long seen;

	pthread_mutex_lock(&pool.mu);
	seen = pool.start_gen[tid];
	pthread_mutex_unlock(&pool.mu);
	for (;;) {
		if (!spin_until(&pool.gen, seen, 0)) {
			pthread_mutex_lock(&pool.mu);
			atomic_fetch_add(&pool.sleepers, 1);
			while (atomic_load(&pool.gen) == seen)
				pthread_cond_wait(&pool.work, &pool.mu);
			atomic_fetch_sub(&pool.sleepers, 1);
			pthread_mutex_unlock(&pool.mu);
		}
		seen = atomic_load_explicit(&pool.gen, memory_order_acquire);
		if (tid < pool.nt)
			pool.fn(pool.ctx, tid, pool.nt);
		/* every worker answers every call, so none is still reading
		 * the task when the caller writes the next one */
		if (atomic_fetch_sub(&pool.pending, 1) == 1 &&
		    atomic_load(&pool.caller_asleep)) {
			pthread_mutex_lock(&pool.mu);
			pthread_cond_signal(&pool.done);
			pthread_mutex_unlock(&pool.mu);
		}
	}
	return NULL;
}

void
ft_parallel(int nt, ft_task_fn fn, void *ctx)
{
	if (nt > MAX_THREADS)
		nt = MAX_THREADS;
	if (nt <= 1) {
		fn(ctx, 0, 1);
		return;
	}
	pthread_mutex_lock(&pool.call);
	pthread_mutex_lock(&pool.mu);
	while (pool.nworkers < nt - 1) {
		pthread_t th;
		pthread_attr_t at;

		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pool.start_gen[pool.nworkers + 1] = atomic_load(&pool.gen);
		if (pthread_create(&th, &at, worker,
		    (void *)(size_t)(pool.nworkers + 1)) != 0) {
			pthread_attr_destroy(&at);
			break;
		}
		pthread_attr_destroy(&at);
		pool.nworkers++;
	}
	pthread_mutex_unlock(&pool.mu);
	if (nt > pool.nworkers + 1)
		nt = pool.nworkers + 1;
	pool.fn = fn;
	pool.ctx = ctx;
	pool.nt = nt;
	atomic_store(&pool.pending, pool.nworkers);
	atomic_fetch_add(&pool.gen, 1);
	if (atomic_load(&pool.sleepers) > 0) {
		pthread_mutex_lock(&pool.mu);
		pthread_cond_broadcast(&pool.work);
		pthread_mutex_unlock(&pool.mu);
	}
	fn(ctx, 0, nt);
	if (!spin_until(&pool.pending, 0, 1)) {
		pthread_mutex_lock(&pool.mu);
		atomic_store(&pool.caller_asleep, 1);
		while (atomic_load(&pool.pending) > 0)
			pthread_cond_wait(&pool.done, &pool.mu);
		atomic_store(&pool.caller_asleep, 0);
		pthread_mutex_unlock(&pool.mu);
	}
	pthread_mutex_unlock(&pool.call);
}

void
ft_split(size_t n, int tid, int nt, size_t *lo, size_t *hi)
{
	size_t q = n / (size_t)nt, r = n % (size_t)nt, t = (size_t)tid;

	*lo = t * q + (t < r ? t : r);
	*hi = *lo + q + (t < r ? 1 : 0);
}

/* ---- dropout hash ---- */

/* splitmix64 of a value (one step from state x) */
static uint64_t
splitmix64(uint64_t x)
{
	return ft_splitmix64(&x);
}

uint64_t
ft_drop_key(uint64_t seed, uint64_t counter, uint64_t site)
{
	return splitmix64(splitmix64(splitmix64(seed) ^ counter) ^ site);
}

static inline uint32_t
mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

static inline uint32_t
drop_hash(uint64_t key, uint32_t i)
{
	return mix32(mix32(i ^ (uint32_t)key) + (uint32_t)(key >> 32));
}

static uint32_t
drop_threshold(double p)
{
	double t = p * 4294967296.0;

	return t >= 4294967295.0 ? 0xffffffffU : (uint32_t)t;
}

int
ft_drop_keep(uint64_t key, uint32_t i, double p)
{
	if (p <= 0)
		return 1;
	return drop_hash(key, i) >= drop_threshold(p);
}

static void drop_mul(float *dst, const float *src, size_t n, uint64_t key,
    uint32_t base, uint32_t thr, float scale);
static void drop_acc(float *dst, const float *src, size_t n, uint64_t key,
    uint32_t base, uint32_t thr, float scale);

struct drop_ctx {
	float *dst;
	const float *src;
	size_t n;
	uint64_t key;
	uint32_t thr;
	float scale;
	int acc;
};

static void
drop_task(void *vc, int tid, int nt)
{
	struct drop_ctx *c = vc;
	size_t lo, hi;

	ft_split(c->n, tid, nt, &lo, &hi);
	(c->acc ? drop_acc : drop_mul)(c->dst + lo, c->src + lo, hi - lo,
	    c->key, (uint32_t)lo, c->thr, c->scale);
}

void
ft_dropout(float *x, size_t n, double p, uint64_t key, int threads)
{
	if (p > 0)
		ft_dropout_to(x, x, n, p, key, 0, threads);
}

void
ft_dropout_to(float *dst, const float *src, size_t n, double p,
    uint64_t key, int acc, int threads)
{
	struct drop_ctx c = { dst, src, n, key, drop_threshold(p > 0 ? p : 0),
	    (float)(1.0 / (1.0 - (p > 0 ? p : 0))), acc };

	if (p <= 0 && !acc) {
		if (dst != src)
			memcpy(dst, src, n * sizeof(float));
		return;
	}
	ft_parallel(ft_threads_for(n, threads), drop_task, &c);
}

#define SMALL_WORK 32768
int
ft_threads_for(size_t n, int threads)
{
	return n < SMALL_WORK ? 1 : threads;
}

/* ---- exp ---- */

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f

#define EXP_HI 88.3762626647949f
#define EXP_LO (-87.0f)
#define LOG2EF 1.44269504088896341f
#define EXP_C1 0.693359375f
#define EXP_C2 (-2.12194440e-4f)
#define EXP_P0 1.9875691500E-4f
#define EXP_P1 1.3981999507E-3f
#define EXP_P2 8.3334519073E-3f
#define EXP_P3 4.1665795894E-2f
#define EXP_P4 1.6666665459E-1f
#define EXP_P5 5.0000001201E-1f

float
ft_expf_fast(float x)
{
	float fx, r, y, z;
	union { float f; int32_t i; } u;

	if (x < EXP_LO)
		return 0.0f;
	if (x > EXP_HI)
		x = EXP_HI;
	if (x != x) return x; /* NaN: (int32_t)fx below would be undefined */
	fx = rintf(x * LOG2EF);
	r = fmaf(-fx, EXP_C1, x);
	r = fmaf(-fx, EXP_C2, r);
	z = r * r;
	y = EXP_P0;
	y = fmaf(y, r, EXP_P1);
	y = fmaf(y, r, EXP_P2);
	y = fmaf(y, r, EXP_P3);
	y = fmaf(y, r, EXP_P4);
	y = fmaf(y, r, EXP_P5);
	y = fmaf(y, z, r);
	y = y + 1.0f;
	u.i = ((int32_t)fx + 127) << 23;
	return y * u.f;
}

#ifdef FT_X86
static int
have_avx2(void)
{
	static int v = -1;

	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("avx2") &&
		    __builtin_cpu_supports("fma");
	}
	return v;
}

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256
exp8(__m256 x)
{
	__m256 lo = _mm256_cmp_ps(x, _mm256_set1_ps(EXP_LO), _CMP_LT_OQ);
	__m256 fx, r, y, z;
	__m256i e;

	x = _mm256_min_ps(x, _mm256_set1_ps(EXP_HI));
	fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2EF)),
	    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(EXP_C1), x);
	r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(EXP_C2), r);
	z = _mm256_mul_ps(r, r);
	y = _mm256_set1_ps(EXP_P0);
	y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(EXP_P1));
	y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(EXP_P2));
	y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(EXP_P3));
	y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(EXP_P4));
	y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(EXP_P5));
	y = _mm256_fmadd_ps(y, z, r);
	y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
	e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx),
	    _mm256_set1_epi32(127)), 23);
	y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
	return _mm256_andnot_ps(lo, y);
}

/* Load n < 8 floats, the rest filled with fill. */
AVX2 static inline __m256
load_part(const float *p, int n, float fill)
{
	float b[8];

	for (int i = 0; i < 8; i++)
		b[i] = i < n ? p[i] : fill;
	return _mm256_loadu_ps(b);
}

AVX2 static inline void
store_part(float *p, __m256 v, int n)
{
	float b[8];

	_mm256_storeu_ps(b, v);
	memcpy(p, b, (size_t)n * sizeof(float));
}

AVX2 static inline double
hsum_d(__m256d a)
{
	__m128d lo = _mm256_castpd256_pd128(a), hi = _mm256_extractf128_pd(a, 1);
	lo = _mm_add_pd(lo, hi);
	return _mm_cvtsd_f64(lo) + _mm_cvtsd_f64(_mm_unpackhi_pd(lo, lo));
}

AVX2 static inline float
hmax8(__m256 a)
{
	float b[8], m;

	_mm256_storeu_ps(b, a);
	m = b[0];
	for (int i = 1; i < 8; i++)
		m = b[i] > m ? b[i] : m;
	return m;
}

/* max of x[0..n) */
AVX2 static float
vmax_avx2(const float *x, int n)
{
	__m256 m = _mm256_set1_ps(-INFINITY);
	int i = 0;

	for (; i + 8 <= n; i += 8)
		m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
	if (i < n)
		m = _mm256_max_ps(m, load_part(x + i, n - i, -INFINITY));
	return hmax8(m);
}

/* out[i] = exp(a*x[i] - b) (out may alias x); returns Σ out in double. */
AVX2 static double
vexp_sum_avx2(float *out, const float *x, int n, float a, float b)
{
	__m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
	__m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
	int i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 e = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), va, vb));
		if (out != NULL)
			_mm256_storeu_ps(out + i, e);
		s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
		s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
	}
	if (i < n) {
		__m256 e = exp8(_mm256_fmsub_ps(load_part(x + i, n - i, 0), va, vb));
		float bb[8];

		_mm256_storeu_ps(bb, e);
		for (int j = n - i; j < 8; j++)
			bb[j] = 0;
		e = _mm256_loadu_ps(bb);
		if (out != NULL)
			store_part(out + i, e, n - i);
		s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
		s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
	}
	return hsum_d(_mm256_add_pd(s0, s1));
}

/* out[i] = c * (exp(x[i] - b)) */
AVX2 static void
vexp_scale_avx2(float *out, const float *x, int n, float b, float c)
{
	__m256 vb = _mm256_set1_ps(b), vc = _mm256_set1_ps(c);
	int i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, _mm256_mul_ps(vc,
		    exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vb))));
	if (i < n)
		store_part(out + i, _mm256_mul_ps(vc, exp8(_mm256_sub_ps(
		    load_part(x + i, n - i, 0), vb))), n - i);
}

AVX2 static inline __m256
gelu_sig8(__m256 x, __m256 *up)
{
	/* s = sigmoid(2u), u = k(x + a x^3); gelu = x s */
	__m256 x2 = _mm256_mul_ps(x, x);
	__m256 u = _mm256_mul_ps(_mm256_set1_ps(GELU_K), _mm256_fmadd_ps(
	    _mm256_mul_ps(_mm256_set1_ps(GELU_A), x2), x, x));
	__m256 e = exp8(_mm256_mul_ps(u, _mm256_set1_ps(-2.0f)));
	if (up != NULL)
		*up = _mm256_mul_ps(_mm256_set1_ps(GELU_K), _mm256_fmadd_ps(
		    _mm256_set1_ps(3.0f * GELU_A), x2, _mm256_set1_ps(1.0f)));
	return _mm256_div_ps(_mm256_set1_ps(1.0f),
	    _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

AVX2 static void
gelu_fwd_avx2(float *out, const float *inp, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 x = _mm256_loadu_ps(inp + i);
		_mm256_storeu_ps(out + i, _mm256_mul_ps(x, gelu_sig8(x, NULL)));
	}
	if (i < n) {
		__m256 x = load_part(inp + i, (int)(n - i), 0);
		store_part(out + i, _mm256_mul_ps(x, gelu_sig8(x, NULL)),
		    (int)(n - i));
	}
}

AVX2 static inline __m256
gelu_grad8(__m256 x, __m256 dy)
{
	__m256 up, s = gelu_sig8(x, &up);
	/* s + 2 x s (1 - s) u' */
	__m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_add_ps(x, x), s),
	    _mm256_sub_ps(_mm256_set1_ps(1.0f), s));
	return _mm256_mul_ps(dy, _mm256_fmadd_ps(t, up, s));
}

AVX2 static void
gelu_bwd_avx2(float *dinp, const float *inp, const float *dout, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(dinp + i, gelu_grad8(_mm256_loadu_ps(inp + i),
		    _mm256_loadu_ps(dout + i)));
	if (i < n)
		store_part(dinp + i, gelu_grad8(load_part(inp + i, (int)(n - i), 0),
		    load_part(dout + i, (int)(n - i), 0)), (int)(n - i));
}
/* SwiGLU on n gate/up pairs: out = g / (1 + exp(-g)) * u. */
AVX2 static void
swiglu_fwd_avx2(float *out, const float *g, const float *u, int n)
{
	const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();

	for (int i = 0; i < n; i += 8) {
		int k = n - i < 8 ? n - i : 8;
		__m256 x = k == 8 ? _mm256_loadu_ps(g + i) : load_part(g + i, k, 0);
		__m256 v = k == 8 ? _mm256_loadu_ps(u + i) : load_part(u + i, k, 0);
		__m256 e = exp8(_mm256_sub_ps(zero, x));
		__m256 y = _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), v);
		if (k == 8)
			_mm256_storeu_ps(out + i, y);
		else
			store_part(out + i, y, k);
	}
}

/* dg = d u s (1 + g (1 - s)), du = d g s, s = sigmoid(g). */
AVX2 static void
swiglu_bwd_avx2(float *dg, float *du, const float *g, const float *u,
    const float *d, int n)
{
	const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();

	for (int i = 0; i < n; i += 8) {
		int k = n - i < 8 ? n - i : 8;
		__m256 x = k == 8 ? _mm256_loadu_ps(g + i) : load_part(g + i, k, 0);
		__m256 v = k == 8 ? _mm256_loadu_ps(u + i) : load_part(u + i, k, 0);
		__m256 dd = k == 8 ? _mm256_loadu_ps(d + i) : load_part(d + i, k, 0);
		__m256 sg = _mm256_div_ps(one, _mm256_add_ps(one,
		    exp8(_mm256_sub_ps(zero, x))));
		__m256 si = _mm256_mul_ps(x, sg);
		__m256 a = _mm256_mul_ps(dd, si);
		__m256 b = _mm256_mul_ps(_mm256_mul_ps(dd, v), _mm256_add_ps(sg,
		    _mm256_mul_ps(si, _mm256_sub_ps(one, sg))));
		if (k == 8) {
			_mm256_storeu_ps(du + i, a);
			_mm256_storeu_ps(dg + i, b);
		} else {
			store_part(du + i, a, k);
			store_part(dg + i, b, k);
		}
	}
}

#else
static int have_avx2(void) { return 0; }
#endif


/* dst[i] = keep(key, base + i) ? src[i] * scale : 0 for i < n (dst may
 * equal src). */
#ifdef FT_X86
AVX2 static size_t
drop_mul_avx2(float *dst, const float *src, size_t n, uint64_t key,
    uint32_t base, uint32_t thr, float scale, int acc)
{
	const __m256i k0 = _mm256_set1_epi32((int)(uint32_t)key);
	const __m256i k1 = _mm256_set1_epi32((int)(uint32_t)(key >> 32));
	const __m256i m1 = _mm256_set1_epi32(0x7feb352d);
	const __m256i m2 = _mm256_set1_epi32((int)0x846ca68bU);
	const __m256i flip = _mm256_set1_epi32((int)0x80000000U);
	const __m256i tf = _mm256_set1_epi32((int)(thr ^ 0x80000000U));
	const __m256 vs = _mm256_set1_ps(scale);
	__m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)base),
	    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
	const __m256i eight = _mm256_set1_epi32(8);
	size_t i = 0;

#define MIX(x) do { \
	x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16)); \
	x = _mm256_mullo_epi32(x, m1); \
	x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 15)); \
	x = _mm256_mullo_epi32(x, m2); \
	x = _mm256_xor_si256(x, _mm256_srli_epi32(x, 16)); } while (0)
	for (; i + 8 <= n; i += 8) {
		__m256i h = _mm256_xor_si256(idx, k0);
		__m256i drop;
		MIX(h);
		h = _mm256_add_epi32(h, k1);
		MIX(h);
		/* unsigned h < thr  <=>  signed (h^flip) < (thr^flip) */
		drop = _mm256_cmpgt_epi32(tf, _mm256_xor_si256(h, flip));
		__m256 v = _mm256_andnot_ps(_mm256_castsi256_ps(drop),
		    _mm256_mul_ps(_mm256_loadu_ps(src + i), vs));
		if (acc)
			v = _mm256_add_ps(_mm256_loadu_ps(dst + i), v);
		_mm256_storeu_ps(dst + i, v);
		idx = _mm256_add_epi32(idx, eight);
	}
#undef MIX
	return i;
}
#endif

/* dst = dropout(src), or dst += dropout(src) with acc (adding the
 * zeros too, so a sum equals a dropout followed by an add) */
static inline void
drop_run(float *dst, const float *src, size_t n, uint64_t key, uint32_t base,
    uint32_t thr, float scale, int acc)
{
	size_t i = 0;

#ifdef FT_X86
	if (have_avx2())
		i = drop_mul_avx2(dst, src, n, key, base, thr, scale, acc);
#endif
	for (; i < n; i++) {
		float v = drop_hash(key, base + (uint32_t)i) >= thr ?
		    src[i] * scale : 0.0f;
		dst[i] = acc ? dst[i] + v : v;
	}
}

static void
drop_mul(float *dst, const float *src, size_t n, uint64_t key, uint32_t base,
    uint32_t thr, float scale)
{
	drop_run(dst, src, n, key, base, thr, scale, 0);
}

static void
drop_acc(float *dst, const float *src, size_t n, uint64_t key, uint32_t base,
    uint32_t thr, float scale)
{
	drop_run(dst, src, n, key, base, thr, scale, 1);
}


#ifdef FT_X86
AVX2 static float
dot_avx2(const float *a, const float *b, int n)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
	float t[8], r = 0;
	int i = 0;

	for (; i + 16 <= n; i += 16) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8),
		    _mm256_loadu_ps(b + i + 8), s1);
	}
	for (; i + 8 <= n; i += 8)
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
	_mm256_storeu_ps(t, _mm256_add_ps(s0, s1));
	for (; i < n; i++)
		r += a[i] * b[i];
	return ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7])) + r;
}

AVX2 static void
axpy_avx2(float *y, float a, const float *x, int n)
{
	__m256 va = _mm256_set1_ps(a);
	int i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i),
		    _mm256_loadu_ps(y + i)));
	for (; i < n; i++)
		y[i] += a * x[i];
}
#endif

float
ft_dot(const float *a, const float *b, int n)
{
	float r = 0;

#ifdef FT_X86
	if (have_avx2())
		return dot_avx2(a, b, n);
#endif
	for (int i = 0; i < n; i++)
		r += a[i] * b[i];
	return r;
}

void
ft_axpy(float *y, float a, const float *x, int n)
{
#ifdef FT_X86
	if (have_avx2()) {
		axpy_avx2(y, a, x, n);
		return;
	}
#endif
	for (int i = 0; i < n; i++)
		y[i] += a * x[i];
}


/* ---- small-N matmul: no packing ----
 * With a few rows (batched decode) sgemm spends most of its time copying
 * (packing) the whole weight matrix.  Here each thread owns a range of
 * 16-column tiles; w is walked in chunks of MM_KC input rows, and for each
 * tile of the chunk (MM_KC x 64 bytes, in L1) every 4 rows of inp
 * accumulate in a 4 x 16 register tile that is then added to out, so w is
 * read from memory once per call.  The rows of a chunk are MM_KC strided
 * streams, so the next piece of each is prefetched MM_PF floats ahead.
 * An output element sums its chunks in order whatever the thread count. */
#define MM_KC 16	/* input rows per chunk */
#define MM_PF 64	/* prefetch distance in floats along a row of w */

struct mms_ctx {
	float *out;
	const float *inp, *w;
	int N, IC, OC;
};

#ifdef FT_X86
/* out[R rows, 16 cols] += inp[R, i0..i1) · w[i0..i1, 16 cols], R = 4, 2
 * or 1 (a constant where it is inlined: the sums stay in registers) */
#define MMS_ADD(o, acc) _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), \
	acc))
AVX2 static inline __attribute__((always_inline)) void
mms_tile(float *out, const float *inp, const float *w, int R, int IC,
    int OC, int i0, int i1)
{
	__m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0;
	__m256 c1 = a0, d0 = a0, d1 = a0;
	const float *x0 = inp, *x1 = inp + IC, *x2 = x1 + IC, *x3 = x2 + IC;

	for (int i = i0; i < i1; i++) {
		const float *wr = w + (size_t)i * OC;
		__m256 w0 = _mm256_loadu_ps(wr), w1 = _mm256_loadu_ps(wr + 8), x;

		_mm_prefetch((const char *)(wr + MM_PF), _MM_HINT_T0);
		x = _mm256_broadcast_ss(x0 + i);
		a0 = _mm256_fmadd_ps(x, w0, a0);
		a1 = _mm256_fmadd_ps(x, w1, a1);
		if (R > 1) {
			x = _mm256_broadcast_ss(x1 + i);
			b0 = _mm256_fmadd_ps(x, w0, b0);
			b1 = _mm256_fmadd_ps(x, w1, b1);
		}
		if (R > 2) {
			x = _mm256_broadcast_ss(x2 + i);
			c0 = _mm256_fmadd_ps(x, w0, c0);
			c1 = _mm256_fmadd_ps(x, w1, c1);
			x = _mm256_broadcast_ss(x3 + i);
			d0 = _mm256_fmadd_ps(x, w0, d0);
			d1 = _mm256_fmadd_ps(x, w1, d1);
		}
	}
	MMS_ADD(out, a0);
	MMS_ADD(out + 8, a1);
	if (R > 1) {
		MMS_ADD(out + OC, b0);
		MMS_ADD(out + OC + 8, b1);
	}
	if (R > 2) {
		MMS_ADD(out + 2 * OC, c0);
		MMS_ADD(out + 2 * OC + 8, c1);
		MMS_ADD(out + 3 * OC, d0);
		MMS_ADD(out + 3 * OC + 8, d1);
	}
}

/* every row over one 16-column tile at o */
AVX2 static void
mms_col(const struct mms_ctx *c, int o, int i0, int i1)
{
	int N = c->N, IC = c->IC, OC = c->OC, n = 0;

	for (; n + 4 <= N; n += 4)
		mms_tile(c->out + (size_t)n * OC + o, c->inp + (size_t)n * IC,
		    c->w + o, 4, IC, OC, i0, i1);
	if (n + 2 <= N) {
		mms_tile(c->out + (size_t)n * OC + o, c->inp + (size_t)n * IC,
		    c->w + o, 2, IC, OC, i0, i1);
		n += 2;
	}
	if (n < N)
		mms_tile(c->out + (size_t)n * OC + o, c->inp + (size_t)n * IC,
		    c->w + o, 1, IC, OC, i0, i1);
}

AVX2 static void
mms_task(void *vc, int tid, int nt)
{
	struct mms_ctx *c = vc;
	int N = c->N, IC = c->IC, OC = c->OC, o0, o1;
	size_t lo, hi;

	/* whole 16-column tiles per thread; the last thread also takes the
	 * columns past the last full tile */
	ft_split((size_t)OC / 16, tid, nt, &lo, &hi);
	o0 = (int)lo * 16;
	o1 = (int)hi * 16;
	for (int i0 = 0; i0 < IC; i0 += MM_KC) {
		int i1 = i0 + MM_KC > IC ? IC : i0 + MM_KC;

		for (int o = o0; o < o1; o += 16)
			mms_col(c, o, i0, i1);
		if (tid == nt - 1)
			for (int o = OC / 16 * 16; o < OC; o++)
				for (int n = 0; n < N; n++) {
					const float *x = c->inp + (size_t)n * IC;
					float s = 0;
					for (int i = i0; i < i1; i++)
						s += x[i] * c->w[(size_t)i * OC + o];
					c->out[(size_t)n * OC + o] += s;
				}
	}
}
#endif

int
ft_matmul_small_ok(int N)
{
#ifdef FT_X86
	return N >= 2 && N <= FT_MATMUL_SMALL_MAX && have_avx2();
#else
	(void)N;
	return 0;
#endif
}

int
ft_matmul_rows_small_ok(int k)
{
	return k == 1 ? ft_matmul_small_ok(2) : ft_matmul_small_ok(k);
}

void
ft_matmul_forward_small(float *out, const float *inp, const float *w,
    const float *bias, int N, int IC, int OC, int threads)
{
	for (int n = 0; n < N; n++)
		if (bias != NULL)
			memcpy(out + (size_t)n * OC, bias, (size_t)OC * sizeof(float));
		else
			memset(out + (size_t)n * OC, 0, (size_t)OC * sizeof(float));
#ifdef FT_X86
	if (have_avx2()) {
		struct mms_ctx c = { out, inp, w, N, IC, OC };
		ft_parallel(threads, mms_task, &c);
		return;
	}
#endif
	(void)threads;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, IC,
	    1.0f, inp, IC, w, OC, 1.0f, out, OC);
}

/* ---- small-k dot products against the rows of a matrix ----
 * out[k,V] = a[k,C] · m[V,C]ᵀ: each thread owns a range of m's rows and
 * reads each row once, computing its k dot products while it is in L1. */
struct mdots_ctx {
	float *out;
	const float *a, *m;
	int k, V, C;
};

#ifdef FT_X86
static float
hsum8(const float *t)
{
	return ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
}

/* out[r * V] = a[r, :] · mr for r < R (R = 4, 2 or 1); two sums per row
 * (even and odd vectors) so eight are in flight at R = 4 */
AVX2 static inline __attribute__((always_inline)) void
mdots_rows(float *out, const float *a, const float *mr, int R, int V, int C)
{
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	__m256 u0 = s0, u1 = s0, u2 = s0, u3 = s0;
	const float *a0 = a, *a1 = a + (R > 1 ? C : 0);
	const float *a2 = a + (R > 2 ? 2 * C : 0), *a3 = a + (R > 3 ? 3 * C : 0);
	float t[8][8];
	int i = 0;

	for (; i + 16 <= C; i += 16) {
		__m256 x = _mm256_loadu_ps(mr + i), y = _mm256_loadu_ps(mr + i + 8);

		s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a0 + i), s0);
		u0 = _mm256_fmadd_ps(y, _mm256_loadu_ps(a0 + i + 8), u0);
		if (R > 1) {
			s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a1 + i), s1);
			u1 = _mm256_fmadd_ps(y, _mm256_loadu_ps(a1 + i + 8), u1);
		}
		if (R > 2) {
			s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a2 + i), s2);
			u2 = _mm256_fmadd_ps(y, _mm256_loadu_ps(a2 + i + 8), u2);
			s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a3 + i), s3);
			u3 = _mm256_fmadd_ps(y, _mm256_loadu_ps(a3 + i + 8), u3);
		}
	}
	if (i + 8 <= C) {
		__m256 x = _mm256_loadu_ps(mr + i);

		s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a0 + i), s0);
		s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a1 + i), s1);
		s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a2 + i), s2);
		s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a3 + i), s3);
		i += 8;
	}
	_mm256_storeu_ps(t[0], _mm256_add_ps(s0, u0));
	_mm256_storeu_ps(t[1], _mm256_add_ps(s1, u1));
	_mm256_storeu_ps(t[2], _mm256_add_ps(s2, u2));
	_mm256_storeu_ps(t[3], _mm256_add_ps(s3, u3));
	for (int r = 0; r < R; r++) {
		const float *ar = a + (size_t)r * C;
		float p = 0;
		for (int j = i; j < C; j++)
			p += mr[j] * ar[j];
		out[(size_t)r * V] = hsum8(t[r]) + p;
	}
}

AVX2 static void
mdots_task(void *vc, int tid, int nt)
{
	struct mdots_ctx *c = vc;
	size_t lo, hi;

	ft_split((size_t)c->V, tid, nt, &lo, &hi);
	for (size_t v = lo; v < hi; v++) {
		const float *mr = c->m + v * (size_t)c->C;
		float *o = c->out + v;
		int r = 0, V = c->V, C = c->C;

		for (; r + 4 <= c->k; r += 4)
			mdots_rows(o + (size_t)r * V, c->a + (size_t)r * C, mr, 4, V,
			    C);
		if (r + 2 <= c->k) {
			mdots_rows(o + (size_t)r * V, c->a + (size_t)r * C, mr, 2, V,
			    C);
			r += 2;
		}
		if (r < c->k)
			mdots_rows(o + (size_t)r * V, c->a + (size_t)r * C, mr, 1, V,
			    C);
	}
}
#endif

void
ft_matmul_rows_small(float *out, const float *a, const float *m, int k,
    int V, int C, int threads)
{
#ifdef FT_X86
	if (have_avx2()) {
		struct mdots_ctx c = { out, a, m, k, V, C };
		ft_parallel(threads, mdots_task, &c);
		return;
	}
#endif
	(void)threads;
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, V, C, 1.0f, a,
	    C, m, C, 0.0f, out, V);
}

/* x[i] = x[i] / d  (IEEE division, as the scalar loop) */
#ifdef FT_X86
AVX2 static int
vdiv_avx2(float *x, int n, float d)
{
	__m256 vd = _mm256_set1_ps(d);
	int i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), vd));
	return i;
}

AVX2 static int
vmul_avx2(float *x, int n, float a)
{
	__m256 va = _mm256_set1_ps(a);
	int i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), va));
	return i;
}

/* d[i] = p[i] * (d[i] - dot) / div, dot = Σ p d in double */
AVX2 static void
dsoft_avx2(const float *p, float *d, int n, float div)
{
	__m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
	__m256 vdot, vdiv = _mm256_set1_ps(div);
	double dot;
	float fdot;
	int i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256 pd = _mm256_mul_ps(_mm256_loadu_ps(p + i),
		    _mm256_loadu_ps(d + i));
		s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(pd)));
		s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(pd, 1)));
	}
	dot = hsum_d(_mm256_add_pd(s0, s1));
	for (int j = i; j < n; j++)
		dot += (double)(p[j] * d[j]);
	fdot = (float)dot;
	vdot = _mm256_set1_ps(fdot);
	for (i = 0; i + 8 <= n; i += 8)
		_mm256_storeu_ps(d + i, _mm256_div_ps(_mm256_mul_ps(
		    _mm256_loadu_ps(p + i), _mm256_sub_ps(_mm256_loadu_ps(d + i),
		    vdot)), vdiv));
	for (; i < n; i++)
		d[i] = p[i] * (d[i] - fdot) / div;
}
#endif

static void
vdiv(float *x, int n, float d)
{
	int i = 0;

#ifdef FT_X86
	if (have_avx2())
		i = vdiv_avx2(x, n, d);
#endif
	for (; i < n; i++)
		x[i] = x[i] / d;
}

static void
vmul(float *x, int n, float a)
{
	int i = 0;

#ifdef FT_X86
	if (have_avx2())
		i = vmul_avx2(x, n, a);
#endif
	for (; i < n; i++)
		x[i] *= a;
}

static void
dsoft(const float *p, float *d, int n, float div)
{
	double dot = 0;
	float fdot;

#ifdef FT_X86
	if (have_avx2()) {
		dsoft_avx2(p, d, n, div);
		return;
	}
#endif
	for (int i = 0; i < n; i++)
		dot += (double)(p[i] * d[i]);
	fdot = (float)dot;
	for (int i = 0; i < n; i++)
		d[i] = p[i] * (d[i] - fdot) / div;
}

static float
vmax(const float *x, int n)
{
#ifdef FT_X86
	if (have_avx2())
		return vmax_avx2(x, n);
#endif
	float m = -INFINITY;

	for (int i = 0; i < n; i++)
		m = x[i] > m ? x[i] : m;
	return m;
}

static double
vexp_sum(float *out, const float *x, int n, float a, float b)
{
#ifdef FT_X86
	if (have_avx2())
		return vexp_sum_avx2(out, x, n, a, b);
#endif
	double s = 0;

	for (int i = 0; i < n; i++) {
		float e = ft_expf_fast(fmaf(x[i], a, -b));
		if (out != NULL)
			out[i] = e;
		s += e;
	}
	return s;
}

static void
vexp_scale(float *out, const float *x, int n, float b, float c)
{
#ifdef FT_X86
	if (have_avx2()) {
		vexp_scale_avx2(out, x, n, b, c);
		return;
	}
#endif
	for (int i = 0; i < n; i++)
		out[i] = c * ft_expf_fast(x[i] - b);
}

/* ---- GELU ---- */

float
ft_ref_gelu(float x)
{
	return 0.5f * x * (1.0f + tanhf(GELU_K * (x + 0.044715f * x * x * x)));
}

static float
gelu_scalar(float x)
{
	float u = GELU_K * fmaf(GELU_A * x * x, x, x);

	return x * (1.0f / (1.0f + ft_expf_fast(-2.0f * u)));
}

static float
gelu_grad_scalar(float x, float dy)
{
	float x2 = x * x;
	float u = GELU_K * fmaf(GELU_A * x2, x, x);
	float up = GELU_K * fmaf(3.0f * GELU_A, x2, 1.0f);
	float s = 1.0f / (1.0f + ft_expf_fast(-2.0f * u));

	return dy * fmaf((x + x) * s * (1.0f - s), up, s);
}

struct gelu_ctx {
	float *out;
	const float *inp, *dout;
	size_t n;
};

static void
gelu_fwd_task(void *vc, int tid, int nt)
{
	struct gelu_ctx *c = vc;
	size_t lo, hi;

	ft_split(c->n / 8, tid, nt, &lo, &hi);
	lo *= 8;
	hi = tid == nt - 1 ? c->n : hi * 8;
#ifdef FT_X86
	if (have_avx2()) {
		gelu_fwd_avx2(c->out + lo, c->inp + lo, hi - lo);
		return;
	}
#endif
	for (size_t i = lo; i < hi; i++)
		c->out[i] = gelu_scalar(c->inp[i]);
}

static void
gelu_bwd_task(void *vc, int tid, int nt)
{
	struct gelu_ctx *c = vc;
	size_t lo, hi;

	ft_split(c->n / 8, tid, nt, &lo, &hi);
	lo *= 8;
	hi = tid == nt - 1 ? c->n : hi * 8;
#ifdef FT_X86
	if (have_avx2()) {
		gelu_bwd_avx2(c->out + lo, c->inp + lo, c->dout + lo, hi - lo);
		return;
	}
#endif
	for (size_t i = lo; i < hi; i++)
		c->out[i] = gelu_grad_scalar(c->inp[i], c->dout[i]);
}

void
ft_gelu_forward(float *out, const float *inp, size_t n, int threads)
{
	struct gelu_ctx c = { out, inp, NULL, n };

	ft_parallel(ft_threads_for(n, threads), gelu_fwd_task, &c);
}

void
ft_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n,
    int threads)
{
	struct gelu_ctx c = { dinp, inp, dout, n };

	ft_parallel(threads, gelu_bwd_task, &c);
}

/* ---- matmul ---- */

void
ft_ref_matmul(float *out, const float *inp, const float *w,
    const float *bias, int N, int IC, int OC)
{
	for (int n = 0; n < N; n++)
		for (int o = 0; o < OC; o++) {
			double s = bias != NULL ? bias[o] : 0;
			for (int i = 0; i < IC; i++)
				s += (double)inp[(size_t)n * IC + i] *
				    w[(size_t)i * OC + o];
			out[(size_t)n * OC + o] = (float)s;
		}
}

/* Rows of out = bias before an sgemm that adds to them: its beta. */
static float
fill_bias(float *out, const float *bias, int N, int OC)
{
	if (bias == NULL)
		return 0.0f;
	for (int n = 0; n < N; n++)
		memcpy(out + (size_t)n * OC, bias, (size_t)OC * sizeof(float));
	return 1.0f;
}

void
ft_matmul_forward(float *out, const float *inp, const float *w,
    const float *bias, int N, int IC, int OC)
{
	float beta;

	/* a few rows: stream w once instead of packing it (the thread
	 * count is the one the BLAS was given) */
	if (ft_matmul_small_ok(N)) {
		ft_matmul_forward_small(out, inp, w, bias, N, IC, OC,
		    openblas_get_num_threads());
		return;
	}
	beta = fill_bias(out, bias, N, OC);
	/* out[N,OC] = inp[N,IC] · w[IC,OC].  One row (a decode step) is a
	 * matrix-vector product: sgemv streams w once, where sgemm would
	 * first copy (pack) all of it. */
	if (N == 1)
		cblas_sgemv(CblasRowMajor, CblasTrans, IC, OC, 1.0f, w, OC, inp,
		    1, beta, out, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, IC,
		    1.0f, inp, IC, w, OC, beta, out, OC);
}

struct bias_ctx {
	float *dbias;
	const float *dout;
	int N, OC;
};

static void
bias_task(void *vc, int tid, int nt)
{
	struct bias_ctx *c = vc;
	size_t lo, hi;
	double acc[64];

	ft_split((size_t)c->OC, tid, nt, &lo, &hi);
	for (size_t o0 = lo; o0 < hi; o0 += 64) {
		size_t w = hi - o0 < 64 ? hi - o0 : 64;
		for (size_t j = 0; j < w; j++)
			acc[j] = 0;
		for (int n = 0; n < c->N; n++) {
			const float *r = c->dout + (size_t)n * c->OC + o0;
			for (size_t j = 0; j < w; j++)
				acc[j] += r[j];
		}
		for (size_t j = 0; j < w; j++)
			c->dbias[o0 + j] += (float)acc[j];
	}
}

void
ft_bias_backward(float *dbias, const float *dout, int N, int OC, int threads)
{
	struct bias_ctx c = { dbias, dout, N, OC };

	ft_parallel(threads, bias_task, &c);
}

/* Both layouts: w [IC,OC] (Conv1D) or, with linear, [OC,IC]. */
static void
mm_backward(float *dinp, float *dw, float *dbias, const float *dout,
    const float *inp, const float *w, int N, int IC, int OC, int acc,
    int threads, int linear)
{
	/* dinp[N,IC] = dout[N,OC] · w[IC,OC]ᵀ, or dout · w[OC,IC] */
	if (dinp != NULL)
		cblas_sgemm(CblasRowMajor, CblasNoTrans,
		    linear ? CblasNoTrans : CblasTrans, N, IC, OC, 1.0f, dout, OC,
		    w, linear ? IC : OC, acc ? 1.0f : 0.0f, dinp, IC);
	if (dw == NULL) /* a frozen weight */
		;
	else if (linear) /* dw[OC,IC] += dout[N,OC]ᵀ · inp[N,IC] */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N,
		    1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
	else /* dw[IC,OC] += inp[N,IC]ᵀ · dout[N,OC] */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, IC, OC, N,
		    1.0f, inp, IC, dout, OC, 1.0f, dw, OC);
	if (dbias != NULL)
		ft_bias_backward(dbias, dout, N, OC, threads);
}

void
ft_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
    const float *inp, const float *w, int N, int IC, int OC, int acc,
    int threads)
{
	mm_backward(dinp, dw, dbias, dout, inp, w, N, IC, OC, acc, threads, 0);
}

/* ---- LayerNorm ---- */

struct ln_ctx {
	float *out, *mean, *rstd, *dinp, *dw, *db;
	const float *inp, *w, *b, *dout, *cmean, *crstd;
	int N, C;
	float eps;
};

static void
ln_fwd_task(void *vc, int tid, int nt)
{
	struct ln_ctx *c = vc;
	size_t lo, hi;
	int C = c->C;

	ft_split((size_t)c->N, tid, nt, &lo, &hi);
	for (size_t n = lo; n < hi; n++) {
		const float *x = c->inp + n * C;
		float *y = c->out + n * C;
		double s = 0, v = 0;
		float m, r;

		for (int i = 0; i < C; i++)
			s += x[i];
		m = (float)(s / C);
		for (int i = 0; i < C; i++) {
			double d = (double)x[i] - (double)m;
			v += d * d;
		}
		r = (float)(1.0 / sqrt(v / C + (double)c->eps));
		for (int i = 0; i < C; i++)
			y[i] = (x[i] - m) * r * c->w[i] + c->b[i];
		c->mean[n] = m;
		c->rstd[n] = r;
	}
}

void
ft_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
    const float *w, const float *b, int N, int C, float eps, int threads)
{
	struct ln_ctx c = { .out = out, .mean = mean, .rstd = rstd, .inp = inp,
	    .w = w, .b = b, .N = N, .C = C, .eps = eps };

	ft_parallel(ft_threads_for((size_t)N * C, threads), ln_fwd_task, &c);
}

static void
ln_bwd_rows(void *vc, int tid, int nt)
{
	struct ln_ctx *c = vc;
	size_t lo, hi;
	int C = c->C;

	ft_split((size_t)c->N, tid, nt, &lo, &hi);
	for (size_t n = lo; n < hi; n++) {
		const float *x = c->inp + n * C, *dy = c->dout + n * C;
		float *dx = c->dinp + n * C;
		float m = c->cmean[n], r = c->crstd[n];
		double a = 0, bsum = 0;
		float fa, fb;

		for (int i = 0; i < C; i++) {
			float dn = dy[i] * c->w[i];
			a += dn;
			bsum += (double)dn * ((x[i] - m) * r);
		}
		fa = (float)(a / C);
		fb = (float)(bsum / C);
		for (int i = 0; i < C; i++) {
			float xh = (x[i] - m) * r;
			dx[i] += (dy[i] * c->w[i] - fa - xh * fb) * r;
		}
	}
}

static void
ln_bwd_cols(void *vc, int tid, int nt)
{
	struct ln_ctx *c = vc;
	size_t lo, hi;
	int C = c->C;
	double aw[64], ab[64];

	ft_split((size_t)C, tid, nt, &lo, &hi);
	for (size_t i0 = lo; i0 < hi; i0 += 64) {
		size_t w = hi - i0 < 64 ? hi - i0 : 64;
		for (size_t j = 0; j < w; j++)
			aw[j] = ab[j] = 0;
		for (int n = 0; n < c->N; n++) {
			const float *x = c->inp + (size_t)n * C + i0;
			const float *dy = c->dout + (size_t)n * C + i0;
			float m = c->cmean[n], r = c->crstd[n];
			for (size_t j = 0; j < w; j++) {
				aw[j] += (double)dy[j] * ((x[j] - m) * r);
				ab[j] += dy[j];
			}
		}
		for (size_t j = 0; j < w; j++) {
			c->dw[i0 + j] += (float)aw[j];
			c->db[i0 + j] += (float)ab[j];
		}
	}
}

void
ft_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
    const float *inp, const float *w, const float *mean, const float *rstd,
    int N, int C, int threads)
{
	struct ln_ctx c = { .dinp = dinp, .dw = dw, .db = db, .dout = dout,
	    .inp = inp, .w = w, .cmean = mean, .crstd = rstd, .N = N, .C = C };

	ft_parallel(threads, ln_bwd_rows, &c);
	if (dw != NULL) /* NULL: frozen (dw and db together) */
		ft_parallel(threads, ln_bwd_cols, &c);
}

/* ---- nn.Linear layout ---- */

void
ft_linear_forward(float *out, const float *inp, const float *w,
    const float *bias, int N, int IC, int OC)
{
	float beta;

	if (ft_matmul_rows_small_ok(N)) {
		ft_matmul_rows_small(out, inp, w, N, OC, IC,
		    openblas_get_num_threads());
		if (bias != NULL)
			for (int n = 0; n < N; n++)
				for (int o = 0; o < OC; o++)
					out[(size_t)n * OC + o] += bias[o];
		return;
	}
	beta = fill_bias(out, bias, N, OC);
	/* out[N,OC] = inp[N,IC] · w[OC,IC]ᵀ */
	if (N == 1)
		cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, IC, 1.0f, w, IC, inp,
		    1, beta, out, 1);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC,
		    1.0f, inp, IC, w, IC, beta, out, OC);
}

void
ft_linear_backward(float *dinp, float *dw, float *dbias, const float *dout,
    const float *inp, const float *w, int N, int IC, int OC, int acc,
    int threads)
{
	mm_backward(dinp, dw, dbias, dout, inp, w, N, IC, OC, acc, threads, 1);
}

/* ---- RMSNorm ---- */

static void
rms_fwd_task(void *vc, int tid, int nt)
{
	struct ln_ctx *c = vc;
	size_t lo, hi;
	int C = c->C;

	ft_split((size_t)c->N, tid, nt, &lo, &hi);
	for (size_t n = lo; n < hi; n++) {
		const float *x = c->inp + n * C;
		float *y = c->out + n * C;
		double v = 0;
		float r;

		for (int i = 0; i < C; i++)
			v += (double)x[i] * x[i];
		/* fp32 as HF: rsqrt(mean(x²) + eps), then w * (x * r) */
		r = 1.0f / sqrtf((float)(v / C) + c->eps);
		for (int i = 0; i < C; i++)
			y[i] = c->w[i] * (x[i] * r);
		c->rstd[n] = r;
	}
}

void
ft_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w,
    int N, int C, float eps, int threads)
{
	struct ln_ctx c = { .out = out, .rstd = rstd, .inp = inp, .w = w,
	    .N = N, .C = C, .eps = eps };

	ft_parallel(ft_threads_for((size_t)N * C, threads), rms_fwd_task, &c);
}

static void
rms_bwd_rows(void *vc, int tid, int nt)
{
	struct ln_ctx *c = vc;
	size_t lo, hi;
	int C = c->C;

	ft_split((size_t)c->N, tid, nt, &lo, &hi);
	for (size_t n = lo; n < hi; n++) {
		const float *x = c->inp + n * C, *dy = c->dout + n * C;
		float *dx = c->dinp + n * C;
		float r = c->crstd[n], fb;
		double bsum = 0;

		for (int i = 0; i < C; i++)
			bsum += (double)(dy[i] * c->w[i]) * (x[i] * r);
		fb = (float)(bsum / C);
		for (int i = 0; i < C; i++)
			dx[i] += (dy[i] * c->w[i] - x[i] * r * fb) * r;
	}
}

static void
rms_bwd_cols(void *vc, int tid, int nt)
{
	struct ln_ctx *c = vc;
	size_t lo, hi;
	int C = c->C;
	double aw[64];

	ft_split((size_t)C, tid, nt, &lo, &hi);
	for (size_t i0 = lo; i0 < hi; i0 += 64) {
		size_t w = hi - i0 < 64 ? hi - i0 : 64;
		for (size_t j = 0; j < w; j++)
			aw[j] = 0;
		for (int n = 0; n < c->N; n++) {
			const float *x = c->inp + (size_t)n * C + i0;
			const float *dy = c->dout + (size_t)n * C + i0;
			float r = c->crstd[n];
			for (size_t j = 0; j < w; j++)
				aw[j] += (double)dy[j] * (x[j] * r);
		}
		for (size_t j = 0; j < w; j++)
			c->dw[i0 + j] += (float)aw[j];
	}
}

void
ft_rmsnorm_backward(float *dinp, float *dw, const float *dout,
    const float *inp, const float *w, const float *rstd, int N, int C,
    int threads)
{
	struct ln_ctx c = { .dinp = dinp, .dw = dw, .dout = dout, .inp = inp,
	    .w = w, .crstd = rstd, .N = N, .C = C };

	ft_parallel(threads, rms_bwd_rows, &c);
	if (dw != NULL)
		ft_parallel(threads, rms_bwd_cols, &c);
}

/* ---- rotary embedding ---- */

struct rope_ctx {
	float *x;
	const int32_t *pos;
	int N, stride, nh, hs, inverse;
	const float *cos_t, *sin_t;
};

static void
rope_task(void *vc, int tid, int nt)
{
	struct rope_ctx *c = vc;
	int half = c->hs / 2;
	size_t lo, hi;

	ft_split((size_t)c->N, tid, nt, &lo, &hi);
	for (size_t n = lo; n < hi; n++) {
		const float *cs = c->cos_t + (size_t)c->pos[n] * half;
		const float *sn = c->sin_t + (size_t)c->pos[n] * half;
		for (int h = 0; h < c->nh; h++) {
			float *a = c->x + n * c->stride + (size_t)h * c->hs;
			float *b = a + half;
			for (int i = 0; i < half; i++) {
				float x0 = a[i], x1 = b[i];
				/* q·cos + rotate_half(q)·sin, each product rounded
				 * as torch does */
				if (c->inverse) {
					a[i] = x0 * cs[i] + x1 * sn[i];
					b[i] = x1 * cs[i] - x0 * sn[i];
				} else {
					a[i] = x0 * cs[i] - x1 * sn[i];
					b[i] = x1 * cs[i] + x0 * sn[i];
				}
			}
		}
	}
}

void
ft_rope_apply(float *x, const int32_t *pos, int N, int stride, int nh,
    int hs, const float *cos_t, const float *sin_t, int inverse,
    int threads)
{
	struct rope_ctx c = { x, pos, N, stride, nh, hs, inverse, cos_t, sin_t };

	ft_parallel(threads, rope_task, &c);
}

/* ---- SwiGLU ---- */

struct swiglu_ctx {
	float *out;
	const float *gu, *dout;
	size_t N;
	int F;
};

static void
swiglu_fwd_task(void *vc, int tid, int nt)
{
	struct swiglu_ctx *c = vc;
	size_t lo, hi, F = (size_t)c->F;

	ft_split(c->N, tid, nt, &lo, &hi);
	for (size_t n = lo; n < hi; n++) {
		const float *g = c->gu + n * 2 * F, *u = g + F;
		float *o = c->out + n * F;
#ifdef FT_X86
		if (have_avx2()) {
			swiglu_fwd_avx2(o, g, u, c->F);
			continue;
		}
#endif
		for (size_t i = 0; i < F; i++)
			o[i] = g[i] / (1.0f + ft_expf_fast(-g[i])) * u[i];
	}
}

static void
swiglu_bwd_task(void *vc, int tid, int nt)
{
	struct swiglu_ctx *c = vc;
	size_t lo, hi, F = (size_t)c->F;

	ft_split(c->N, tid, nt, &lo, &hi);
	for (size_t n = lo; n < hi; n++) {
		const float *g = c->gu + n * 2 * F, *u = g + F;
		const float *d = c->dout + n * F;
		float *dg = c->out + n * 2 * F, *du = dg + F;
#ifdef FT_X86
		if (have_avx2()) {
			swiglu_bwd_avx2(dg, du, g, u, d, c->F);
			continue;
		}
#endif
		for (size_t i = 0; i < F; i++) {
			float s = 1.0f / (1.0f + ft_expf_fast(-g[i])), si = g[i] * s;
			float dd = d[i], uu = u[i];
			du[i] = dd * si;
			dg[i] = dd * uu * (s + si * (1.0f - s));
		}
	}
}

void
ft_swiglu_forward(float *out, const float *gu, size_t N, int F, int threads)
{
	struct swiglu_ctx c = { out, gu, NULL, N, F };

	ft_parallel(ft_threads_for(N * (size_t)F, threads), swiglu_fwd_task, &c);
}

void
ft_swiglu_backward(float *dgu, const float *gu, const float *dout, size_t N,
    int F, int threads)
{
	struct swiglu_ctx c = { dgu, gu, dout, N, F };

	ft_parallel(threads, swiglu_bwd_task, &c);
}

/* ---- attention ---- */

struct att_ctx {
	int bwd;
	float *P, *Pd, *dP, *out, *dqkv;
	const float *qkv, *dout;
	int NH, NKV, hs; /* query heads, key/value heads, head size */
	int S, O;        /* row strides of qkv ((NH + 2 NKV) hs) and out (NH hs) */
	const uint8_t *mask;
	int B, T;
	float div;       /* sqrt(hs) as float */
	double p;
	uint64_t key;
	uint32_t thr;
	float dscale;
};

/* Rows (b, h, t): scores in P are raw q·k; turn them into softmax
 * probabilities over visible keys, and Pd = dropped probabilities. */
static void
softmax_rows(struct att_ctx *c, size_t lo, size_t hi)
{
	size_t T = (size_t)c->T;

	for (size_t row = lo; row < hi; row++) {
		size_t t = row % T, b = row / T / (size_t)c->NH;
		float *pr = c->P + row * T;
		const uint8_t *mk = c->mask != NULL ? c->mask + b * T : NULL;
		int n = (int)t + 1;
		int full = 1;
		float mx;
		double sum;

		if (mk != NULL)
			for (int s = 0; s < n; s++)
				if (mk[s] == 0) {
					full = 0;
					break;
				}
		vdiv(pr, n, c->div);
		if (full) {
			mx = vmax(pr, n);
			sum = vexp_sum(pr, pr, n, 1.0f, mx);
		} else {
			/* masked keys: excluded (HF adds finfo.min) */
			int any = 0;
			mx = -INFINITY;
			for (int s = 0; s < n; s++)
				if (mk[s] && pr[s] > mx) {
					mx = pr[s];
					any = 1;
				}
			sum = 0;
			for (int s = 0; s < n; s++) {
				pr[s] = any && mk[s] ? ft_expf_fast(pr[s] - mx) : 0.0f;
				sum += pr[s];
			}
		}
		if (sum > 0)
			vmul(pr, n, (float)(1.0 / sum));
		memset(pr + n, 0, (T - (size_t)n) * sizeof(float));
		if (c->Pd != c->P) {
			float *pd = c->Pd + row * T;
			drop_mul(pd, pr, (size_t)n, c->key, (uint32_t)(row * T), c->thr,
			    c->dscale);
			memset(pd + n, 0, (T - (size_t)n) * sizeof(float));
		}
	}
}

static void redrop_rows(struct att_ctx *c, size_t lo, size_t hi);
static void dsoftmax_rows(struct att_ctx *c, size_t lo, size_t hi);

/* Causal blocking: query rows go in blocks of ATT_TB, and each block only
 * meets the keys up to its last row, so about half the T x T work of the
 * plain products is skipped. */
#define ATT_TB 64

/* One (b, h) pair: scores, softmax, dropout, weighted values.  Query
 * head h reads key/value head h / (NH / NKV) (grouped-query attention). */
static void
att_fwd_bh(struct att_ctx *c, size_t bh)
{
	int T = c->T, hs = c->hs, S = c->S, O = c->O, b = (int)(bh / c->NH);
	int h = (int)(bh % c->NH), j = h / (c->NH / c->NKV);
	size_t tt = (size_t)T * T;
	const float *row = c->qkv + (size_t)b * T * S;
	const float *q = row + (size_t)h * hs;
	const float *k = row + (size_t)(c->NH + j) * hs;
	const float *v = row + (size_t)(c->NH + c->NKV + j) * hs;
	float *out = c->out + (size_t)b * T * O + (size_t)h * hs;

	/* P[i0:i1, 0:i1] = Q[i0:i1] · K[0:i1]ᵀ  ([tb,hs]·[hs,i1]) */
	for (int i0 = 0; i0 < T; i0 += ATT_TB) {
		int i1 = i0 + ATT_TB < T ? i0 + ATT_TB : T;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i1 - i0, i1, hs,
		    1.0f, q + (size_t)i0 * S, S, k, S, 0.0f,
		    c->P + bh * tt + (size_t)i0 * T, T);
	}
	softmax_rows(c, bh * T, (bh + 1) * T);
	/* out[i0:i1] = Pd[i0:i1, 0:i1] · V[0:i1]  ([tb,i1]·[i1,hs]) */
	for (int i0 = 0; i0 < T; i0 += ATT_TB) {
		int i1 = i0 + ATT_TB < T ? i0 + ATT_TB : T;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i1 - i0, hs, i1,
		    1.0f, c->Pd + bh * tt + (size_t)i0 * T, T, v, S,
		    0.0f, out + (size_t)i0 * O, O);
	}
}

/* One (b, j) pair of a key/value head: the backward of each query head
 * of its group in head order; the first overwrites dK and dV, the others
 * add to them (a fixed order, so results do not depend on threads). */
static void
att_bwd_bj(struct att_ctx *c, size_t bj)
{
	int T = c->T, hs = c->hs, S = c->S, O = c->O, b = (int)(bj / c->NKV);
	int j = (int)(bj % c->NKV), G = c->NH / c->NKV;
	size_t tt = (size_t)T * T;
	const float *row = c->qkv + (size_t)b * T * S;
	const float *k = row + (size_t)(c->NH + j) * hs;
	const float *v = row + (size_t)(c->NH + c->NKV + j) * hs;
	float *drow = c->dqkv + (size_t)b * T * S;
	float *dk = drow + (size_t)(c->NH + j) * hs;
	float *dv = drow + (size_t)(c->NH + c->NKV + j) * hs;

	for (int h = j * G; h < (j + 1) * G; h++) {
		size_t bh = (size_t)b * c->NH + (size_t)h;
		const float *q = row + (size_t)h * hs;
		const float *dy = c->dout + (size_t)b * T * O + (size_t)h * hs;
		float *dq = drow + (size_t)h * hs;
		float *dP = c->dP + bh * tt;
		const float *Pd = c->Pd + bh * tt;
		float beta = h == j * G ? 0.0f : 1.0f;

		if (c->p > 0)
			redrop_rows(c, bh * T, (bh + 1) * T);
		for (int i0 = 0; i0 < T; i0 += ATT_TB) {
			int i1 = i0 + ATT_TB < T ? i0 + ATT_TB : T;
			/* dPd[i0:i1, 0:i1] = dY[i0:i1] · V[0:i1]ᵀ */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, i1 - i0,
			    i1, hs, 1.0f, dy + (size_t)i0 * O, O, v, S, 0.0f,
			    dP + (size_t)i0 * T, T);
			/* dV[i0:i1] (+)= Pd[i0:T, i0:i1]ᵀ · dY[i0:T] */
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i1 - i0,
			    hs, T - i0, 1.0f, Pd + (size_t)i0 * T + i0, T,
			    dy + (size_t)i0 * O, O, beta, dv + (size_t)i0 * S, S);
		}
		dsoftmax_rows(c, bh * T, (bh + 1) * T);
		for (int i0 = 0; i0 < T; i0 += ATT_TB) {
			int i1 = i0 + ATT_TB < T ? i0 + ATT_TB : T;
			/* dQ[i0:i1] = dS[i0:i1, 0:i1] · K[0:i1] */
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, i1 - i0,
			    hs, i1, 1.0f, dP + (size_t)i0 * T, T, k, S, 0.0f,
			    dq + (size_t)i0 * S, S);
			/* dK[i0:i1] (+)= dS[i0:T, i0:i1]ᵀ · Q[i0:T] */
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, i1 - i0,
			    hs, T - i0, 1.0f, dP + (size_t)i0 * T + i0, T,
			    q + (size_t)i0 * S, S, beta, dk + (size_t)i0 * S, S);
		}
	}
}

static void
att_task(void *vc, int tid, int nt)
{
	struct att_ctx *c = vc;
	size_t lo, hi;

	ft_split((size_t)c->B * (c->bwd ? c->NKV : c->NH), tid, nt, &lo, &hi);
	for (size_t u = lo; u < hi; u++)
		if (c->bwd)
			att_bwd_bj(c, u);
		else
			att_fwd_bh(c, u);
}

/* The (b, h) pairs run on the pool, each calling a single-threaded sgemm:
 * OpenBLAS's own threading costs more than it gains at these sizes. */
static void
att_run(int threads, struct att_ctx *c)
{
	int ob = openblas_get_num_threads();

	if (threads > 1 && ob != 1)
		openblas_set_num_threads(1);
	ft_parallel(threads, att_task, c);
	if (threads > 1 && ob != 1)
		openblas_set_num_threads(ob);
}

void
ft_attention_forward(float *out, float *P, float *Pd, const float *qkv,
    const uint8_t *mask, int B, int T, int NH, int NKV, int hs, double p,
    uint64_t key, int threads)
{
	struct att_ctx c = { .P = P, .Pd = p > 0 ? Pd : P, .out = out,
	    .qkv = qkv, .NH = NH, .NKV = NKV, .hs = hs,
	    .S = (NH + 2 * NKV) * hs, .O = NH * hs, .mask = mask, .B = B,
	    .T = T, .div = (float)sqrt((double)hs), .p = p, .key = key,
	    .thr = drop_threshold(p), .dscale = (float)(1.0 / (1.0 - p)) };

	att_run(threads, &c);
}

/* Recompute Pd rows from P. */
static void
redrop_rows(struct att_ctx *c, size_t lo, size_t hi)
{
	size_t T = (size_t)c->T;

	for (size_t row = lo; row < hi; row++) {
		const float *pr = c->P + row * T;
		float *pd = c->Pd + row * T;
		size_t n = row % T + 1;

		drop_mul(pd, pr, n, c->key, (uint32_t)(row * T), c->thr, c->dscale);
		memset(pd + n, 0, (T - n) * sizeof(float));
	}
}

/* dP holds dPd = dout·vᵀ; make it dS/sqrt(hs) (gradient of raw q·k). */
static void
dsoftmax_rows(struct att_ctx *c, size_t lo, size_t hi)
{
	size_t T = (size_t)c->T;

	for (size_t row = lo; row < hi; row++) {
		const float *pr = c->P + row * T;
		float *d = c->dP + row * T;
		uint32_t base = (uint32_t)(row * T);
		size_t n = row % T + 1;

		if (c->p > 0)
			drop_mul(d, d, n, c->key, base, c->thr, c->dscale);
		dsoft(pr, d, (int)n, c->div);
		memset(d + n, 0, (T - n) * sizeof(float));
	}
}

void
ft_attention_backward(float *dqkv, float *dP, float *Pd, const float *dout,
    const float *qkv, const float *P, const uint8_t *mask, int B, int T,
    int NH, int NKV, int hs, double p, uint64_t key, int threads)
{
	struct att_ctx c = { .P = (float *)P, .Pd = p > 0 ? Pd : (float *)P,
	    .dP = dP, .dqkv = dqkv, .qkv = qkv, .dout = dout, .NH = NH,
	    .NKV = NKV, .hs = hs, .S = (NH + 2 * NKV) * hs, .O = NH * hs,
	    .mask = mask, .B = B, .T = T, .div = (float)sqrt((double)hs),
	    .p = p, .key = key, .thr = drop_threshold(p),
	    .dscale = (float)(1.0 / (1.0 - p)) };

	c.bwd = 1;
	att_run(threads, &c);
}

/* The softmax passes of attention on their own, for callers that compute
 * the two products elsewhere (bf16 mixed precision): rows of [B, NH, T, T]
 * split over threads. */
static void
att_rows_task(void *vc, int tid, int nt)
{
	struct att_ctx *c = vc;
	size_t lo, hi;

	ft_split((size_t)c->B * c->NH * c->T, tid, nt, &lo, &hi);
	if (!c->bwd) {
		softmax_rows(c, lo, hi);
		return;
	}
	if (c->p > 0 && c->Pd != NULL)
		redrop_rows(c, lo, hi);
	dsoftmax_rows(c, lo, hi);
}

void
ft_attention_softmax(float *P, float *Pd, const uint8_t *mask, int B, int T,
    int NH, int hs, double p, uint64_t key, int threads)
{
	struct att_ctx c = { .P = P, .Pd = p > 0 ? Pd : P, .NH = NH, .hs = hs,
	    .mask = mask, .B = B, .T = T, .div = (float)sqrt((double)hs),
	    .p = p, .key = key, .thr = drop_threshold(p),
	    .dscale = (float)(1.0 / (1.0 - p)) };

	ft_parallel(threads, att_rows_task, &c);
}

void
ft_attention_softmax_backward(float *dP, float *Pd, const float *P, int B,
    int T, int NH, int hs, double p, uint64_t key, int threads)
{
	struct att_ctx c = { .bwd = 1, .P = (float *)P, .Pd = Pd, .dP = dP,
	    .NH = NH, .hs = hs, .B = B, .T = T,
	    .div = (float)sqrt((double)hs), .p = p, .key = key,
	    .thr = drop_threshold(p), .dscale = (float)(1.0 / (1.0 - p)) };

	ft_parallel(threads, att_rows_task, &c);
}

/* ---- cross-entropy ---- */

struct ce_ctx {
	float *losses, *lse, *logits;
	const float *clogits, *clse;
	const int32_t *targets;
	int N, V;
	float scale;
};

static void
ce_fwd_task(void *vc, int tid, int nt)
{
	struct ce_ctx *c = vc;
	size_t lo, hi;

	ft_split((size_t)c->N, tid, nt, &lo, &hi);
	for (size_t n = lo; n < hi; n++) {
		const float *l = c->clogits + n * c->V;
		float mx = vmax(l, c->V);
		double s = vexp_sum(NULL, l, c->V, 1.0f, mx);
		float lse = mx + (float)log(s);
		int32_t y = c->targets != NULL ? c->targets[n] : -100;

		c->lse[n] = lse;
		c->losses[n] = y == -100 ? 0.0f : lse - l[y];
	}
}

double
ft_crossentropy_forward(float *losses, float *lse, const float *logits,
    const int32_t *targets, int N, int V, int64_t *count, int threads)
{
	struct ce_ctx c = { .losses = losses, .lse = lse, .clogits = logits,
	    .targets = targets, .N = N, .V = V };
	double total = 0;
	int64_t cnt = 0;

	ft_parallel(threads, ce_fwd_task, &c);
	/* sequential sum: independent of the thread count */
	for (int n = 0; n < N; n++)
		if (targets != NULL && targets[n] != -100) {
			total += losses[n];
			cnt++;
		}
	*count = cnt;
	return total;
}

static void
ce_bwd_task(void *vc, int tid, int nt)
{
	struct ce_ctx *c = vc;
	size_t lo, hi;

	ft_split((size_t)c->N, tid, nt, &lo, &hi);
	for (size_t n = lo; n < hi; n++) {
		float *l = c->logits + n * c->V;
		int32_t y = c->targets[n];

		if (y == -100) {
			memset(l, 0, (size_t)c->V * sizeof(float));
			continue;
		}
		vexp_scale(l, l, c->V, c->clse[n], c->scale);
		l[y] -= c->scale;
	}
}

void
ft_crossentropy_backward(float *logits, const float *lse,
    const int32_t *targets, int N, int V, float scale, int threads)
{
	struct ce_ctx c = { .logits = logits, .clse = lse, .targets = targets,
	    .N = N, .V = V, .scale = scale };

	ft_parallel(threads, ce_bwd_task, &c);
}
