/* bf16 — see bf16.h.  One oneDNN CPU engine and stream for the process;
 * a matmul primitive per (shape, strides, accumulate, bias, threads) in a
 * round-robin cache of CACHE_N entries, each with its memory objects,
 * whose data handles are set at every call. */
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

#include "bf16.h"
#include "err.h"

/* oneDNN is loaded at first use (dlopen), not linked: Debian's build runs
 * on libgomp, which reads OMP_WAIT_POLICY once, when it is loaded, and
 * whose default (threads spin after each parallel region) slows the
 * matmuls several times over when they alternate with ft's own threads
 * or share the CPUs; see load().  Tools that never use bf16 do not load
 * it at all. */
#define DNNL_FUNCS(X) \
	X(dnnl_cpu_isa2str) \
	X(dnnl_engine_create) \
	X(dnnl_get_effective_cpu_isa) \
	X(dnnl_matmul_desc_init) \
	X(dnnl_memory_create) \
	X(dnnl_memory_desc_init_by_strides) \
	X(dnnl_memory_desc_init_by_tag) \
	X(dnnl_memory_destroy) \
	X(dnnl_memory_set_data_handle) \
	X(dnnl_post_ops_append_sum) \
	X(dnnl_post_ops_create) \
	X(dnnl_post_ops_destroy) \
	X(dnnl_primitive_attr_create) \
	X(dnnl_primitive_attr_destroy) \
	X(dnnl_primitive_attr_set_post_ops) \
	X(dnnl_primitive_create) \
	X(dnnl_primitive_desc_create) \
	X(dnnl_primitive_desc_destroy) \
	X(dnnl_primitive_destroy) \
	X(dnnl_primitive_execute) \
	X(dnnl_status2str) \
	X(dnnl_stream_create) \
	X(dnnl_stream_wait) \
	X(dnnl_version)

static struct {
#define X(f) __typeof__(&f) f;
	DNNL_FUNCS(X)
#undef X
	void (*omp_set_num_threads)(int);
} dl;

#ifdef FT_DNNL_LINKED
/* sanitizer builds (make SAN=1) link oneDNN instead: LeakSanitizer cannot
 * walk the thread-local storage of a dlopen'd library's threads */
extern void omp_set_num_threads(int n);

static const char *
load(void)
{
#define X(f) dl.f = f;
	DNNL_FUNCS(X)
#undef X
	dl.omp_set_num_threads = omp_set_num_threads;
	return NULL;
}
#else
static const char *
load(void)
{
	void *h;

	if (getenv("OMP_WAIT_POLICY") == NULL && getenv("GOMP_SPINCOUNT") == NULL)
		setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
	h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return "cannot load oneDNN (libdnnl.so.2, Debian package libdnnl2)";
#define X(f) if ((*(void **)&dl.f = dlsym(h, #f)) == NULL) \
		return "libdnnl.so.2 lacks " #f;
	DNNL_FUNCS(X)
#undef X
	if ((*(void **)&dl.omp_set_num_threads = dlsym(h,
	    "omp_set_num_threads")) == NULL)
		return "libdnnl.so.2 is not built on OpenMP (no omp_set_num_threads)";
	return NULL;
}
#endif

#define CACHE_N 64

struct key {
	ft_bf16_gemm_shape g;
	int threads, bias;
};

struct entry {
	int used;
	struct key k;
	dnnl_primitive_t prim;
	dnnl_memory_t a, b, c, bias;
};

static struct {
	pthread_mutex_t mu;
	int state; /* 0 not tried, 1 ready, -1 failed */
	const char *why, *warn;
	dnnl_engine_t eng;
	dnnl_stream_t stream;
	struct entry cache[CACHE_N];
	int next;
	char desc[96];
} g = { PTHREAD_MUTEX_INITIALIZER, 0, NULL, NULL, NULL, NULL, { { 0 } }, 0,
	{ 0 } };

const char *
ft_bf16_cpu(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	unsigned a, b, c, d;

	__builtin_cpu_init();
	/* AMX-BF16: CPUID.(7,0):EDX[22]; AVX512_BF16: CPUID.(7,1):EAX[5];
	 * both need the OS to save AVX-512 state (avx512f usable) */
	if (!__builtin_cpu_supports("avx512f"))
		return NULL;
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 22 & 1))
		return "amx_bf16";
	if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 5 & 1))
		return "avx512_bf16";
#endif
	return NULL;
}

/* memory descriptor of a [batch..., rows, cols] operand: the batch
 * dimensions of extent 1 left out (2-D when unbatched); B's broadcast
 * dimensions (stride 0) get extent 1 */
static dnnl_status_t
md(dnnl_memory_desc_t *m, const ft_bf16_gemm_shape *s, int rows, int cols,
    const int64_t *st, dnnl_data_type_t dt, int isb)
{
	dnnl_dims_t d, t;
	int n = 0;

	for (int i = 0; i < 3; i++)
		if (s->b[i] != 1) {
			d[n] = isb && st[i] == 0 ? 1 : s->b[i];
			t[n++] = st[i];
		}
	d[n] = rows;
	t[n++] = st[3];
	d[n] = cols;
	t[n++] = st[4];
	/* a stride of an extent-1 dimension is never used: make it one
	 * oneDNN accepts (the span of the dimensions inside it) */
	for (int i = 0; i < n - 2; i++)
		if (d[i] == 1) {
			t[i] = 1;
			for (int j = i + 1; j < n; j++)
				if (t[j] * d[j] > t[i])
					t[i] = t[j] * d[j];
		}
	return dl.dnnl_memory_desc_init_by_strides(m, n, d, dt, t);
}

/* Create the primitive and memory objects of e for e->k. */
static dnnl_status_t
create(struct entry *e)
{
	const ft_bf16_gemm_shape *s = &e->k.g;
	dnnl_memory_desc_t ma, mb, mc, mbias;
	dnnl_matmul_desc_t desc;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_status_t st;

	if ((st = md(&ma, s, s->M, s->K, s->sa, dnnl_bf16, 0)) != dnnl_success ||
	    (st = md(&mb, s, s->K, s->N, s->sb, dnnl_bf16, 1)) != dnnl_success ||
	    (st = md(&mc, s, s->M, s->N, s->sc, dnnl_f32, 0)) != dnnl_success)
		return st;
	if (e->k.bias) {
		dnnl_dims_t d = { 1, s->N };
		if ((st = dl.dnnl_memory_desc_init_by_tag(&mbias, 2, d, dnnl_f32,
		    dnnl_ab)) != dnnl_success)
			return st;
	}
	if ((st = dl.dnnl_matmul_desc_init(&desc, &ma, &mb,
	    e->k.bias ? &mbias : NULL, &mc)) != dnnl_success)
		return st;
	if ((st = dl.dnnl_primitive_attr_create(&attr)) != dnnl_success)
		return st;
	if (s->acc) {
		if ((st = dl.dnnl_post_ops_create(&po)) != dnnl_success ||
		    (st = dl.dnnl_post_ops_append_sum(po, 1.0f)) != dnnl_success ||
		    (st = dl.dnnl_primitive_attr_set_post_ops(attr, po)) !=
		    dnnl_success)
			goto out;
	}
	dl.omp_set_num_threads(e->k.threads);
	if ((st = dl.dnnl_primitive_desc_create(&pd, &desc, attr, g.eng, NULL)) !=
	    dnnl_success)
		goto out;
	if ((st = dl.dnnl_primitive_create(&e->prim, pd)) != dnnl_success)
		goto out;
	if ((st = dl.dnnl_memory_create(&e->a, &ma, g.eng, DNNL_MEMORY_NONE)) !=
	    dnnl_success ||
	    (st = dl.dnnl_memory_create(&e->b, &mb, g.eng, DNNL_MEMORY_NONE)) !=
	    dnnl_success ||
	    (st = dl.dnnl_memory_create(&e->c, &mc, g.eng, DNNL_MEMORY_NONE)) !=
	    dnnl_success)
		goto out;
	if (e->k.bias && (st = dl.dnnl_memory_create(&e->bias, &mbias, g.eng,
	    DNNL_MEMORY_NONE)) != dnnl_success)
		goto out;
out:
	if (pd != NULL)
		dl.dnnl_primitive_desc_destroy(pd);
	if (po != NULL)
		dl.dnnl_post_ops_destroy(po);
	dl.dnnl_primitive_attr_destroy(attr);
	return st;
}

static void
drop(struct entry *e)
{
	if (e->prim != NULL)
		dl.dnnl_primitive_destroy(e->prim);
	if (e->a != NULL)
		dl.dnnl_memory_destroy(e->a);
	if (e->b != NULL)
		dl.dnnl_memory_destroy(e->b);
	if (e->c != NULL)
		dl.dnnl_memory_destroy(e->c);
	if (e->bias != NULL)
		dl.dnnl_memory_destroy(e->bias);
	memset(e, 0, sizeof(*e));
}

static void
init_locked(void)
{
	struct entry e;
	dnnl_status_t st;

	if (g.state != 0)
		return;
	g.state = -1;
	if ((g.why = load()) != NULL)
		return;
	if (dl.dnnl_engine_create(&g.eng, dnnl_cpu, 0) != dnnl_success) {
		g.why = "oneDNN cannot create a CPU engine";
		return;
	}
	if (dl.dnnl_stream_create(&g.stream, g.eng, dnnl_stream_default_flags) !=
	    dnnl_success) {
		g.why = "oneDNN cannot create a CPU stream";
		return;
	}
	/* a small bf16 product: does oneDNN implement one on this CPU? */
	memset(&e, 0, sizeof(e));
	e.k.g = (ft_bf16_gemm_shape){ { 1, 1, 1 }, 16, 16, 16,
	    { 0, 0, 0, 16, 1 }, { 0, 0, 0, 16, 1 }, { 0, 0, 0, 16, 1 }, 0 };
	e.k.threads = 1;
	st = create(&e);
	drop(&e);
	if (st != dnnl_success) {
		g.why = st == dnnl_unimplemented ?
		    "oneDNN has no bf16 matmul for this CPU (it needs at least "
		    "AVX-512)" : "oneDNN failed to create a bf16 matmul";
		return;
	}
	{
		const dnnl_version_t *v = dl.dnnl_version();
		snprintf(g.desc, sizeof(g.desc), "oneDNN %d.%d.%d, %s", v->major,
		    v->minor, v->patch,
		    dl.dnnl_cpu_isa2str(dl.dnnl_get_effective_cpu_isa()));
	}
	if (ft_bf16_cpu() == NULL)
		g.warn = "this CPU has neither avx512_bf16 nor AMX-BF16: oneDNN "
		    "emulates bf16 matmuls (slower)";
	g.state = 1;
}

int
ft_bf16_probe(const char **why, const char **warn)
{
	pthread_mutex_lock(&g.mu);
	init_locked();
	pthread_mutex_unlock(&g.mu);
	if (why != NULL)
		*why = g.why;
	if (warn != NULL)
		*warn = g.warn;
	return g.state == 1 ? 0 : -1;
}

int
ft_bf16_init(void)
{
	const char *why, *warn;

	if (ft_bf16_probe(&why, &warn) != 0)
		return ft_error("bf16: %s", why);
	if (warn != NULL)
		ft_warn("bf16: %s", warn);
	return 0;
}

const char *
ft_bf16_describe(void)
{
	if (ft_bf16_probe(NULL, NULL) != 0)
		return "oneDNN without bf16";
	return g.desc;
}

int
ft_bf16_gemm(const ft_bf16_gemm_shape *s, float *c, const ft_bf16 *a,
    const ft_bf16 *b, const float *bias, int threads)
{
	struct key k;
	struct entry *e = NULL;
	dnnl_exec_arg_t args[4];
	dnnl_status_t st;
	int nargs = 3, batched = 0;

	if (s->M < 1 || s->N < 1 || s->K < 1)
		return 0;
	for (int i = 0; i < 3; i++) {
		if (s->b[i] < 1)
			return 0;
		batched |= s->b[i] != 1;
	}
	if (bias != NULL && batched)
		return ft_error("bf16 matmul: bias only without batch dimensions");
	/* the key with every byte defined (padding too), the strides of
	 * unused batch dimensions left 0 */
	memset(&k, 0, sizeof(k));
	for (int i = 0; i < 3; i++) {
		k.g.b[i] = s->b[i];
		if (s->b[i] != 1) {
			k.g.sa[i] = s->sa[i];
			k.g.sb[i] = s->sb[i];
			k.g.sc[i] = s->sc[i];
		}
	}
	k.g.M = s->M;
	k.g.N = s->N;
	k.g.K = s->K;
	for (int i = 3; i < 5; i++) {
		k.g.sa[i] = s->sa[i];
		k.g.sb[i] = s->sb[i];
		k.g.sc[i] = s->sc[i];
	}
	k.g.acc = s->acc != 0;
	k.threads = threads < 1 ? 1 : threads;
	k.bias = bias != NULL;

	pthread_mutex_lock(&g.mu);
	init_locked();
	if (g.state != 1) {
		pthread_mutex_unlock(&g.mu);
		return ft_error("bf16 matmul: %s", g.why);
	}
	for (int i = 0; i < CACHE_N; i++)
		if (g.cache[i].used && memcmp(&g.cache[i].k, &k, sizeof(k)) == 0) {
			e = &g.cache[i];
			break;
		}
	if (e == NULL) {
		e = &g.cache[g.next];
		g.next = (g.next + 1) % CACHE_N;
		drop(e);
		e->k = k;
		if ((st = create(e)) != dnnl_success) {
			drop(e);
			pthread_mutex_unlock(&g.mu);
			return ft_error("bf16 matmul [%d,%d]x[%d,%d] (batch %dx%dx%d): "
			    "oneDNN: %s", s->M, s->K, s->K, s->N, s->b[0], s->b[1],
			    s->b[2], dl.dnnl_status2str(st));
		}
		e->used = 1;
	}
	dl.dnnl_memory_set_data_handle(e->a, (void *)a);
	dl.dnnl_memory_set_data_handle(e->b, (void *)b);
	dl.dnnl_memory_set_data_handle(e->c, c);
	args[0] = (dnnl_exec_arg_t){ DNNL_ARG_SRC, e->a };
	args[1] = (dnnl_exec_arg_t){ DNNL_ARG_WEIGHTS, e->b };
	args[2] = (dnnl_exec_arg_t){ DNNL_ARG_DST, e->c };
	if (bias != NULL) {
		dl.dnnl_memory_set_data_handle(e->bias, (void *)bias);
		args[nargs++] = (dnnl_exec_arg_t){ DNNL_ARG_BIAS, e->bias };
	}
	dl.omp_set_num_threads(k.threads);
	st = dl.dnnl_primitive_execute(e->prim, g.stream, nargs, args);
	if (st == dnnl_success)
		st = dl.dnnl_stream_wait(g.stream);
	pthread_mutex_unlock(&g.mu);
	if (st != dnnl_success)
		return ft_error("bf16 matmul [%d,%d]x[%d,%d]: oneDNN: %s", s->M,
		    s->K, s->K, s->N, dl.dnnl_status2str(st));
	return 0;
}

/* ---- linear layers ---- */

int
ft_bf16_linear_fwd(float *y, const ft_bf16 *x, const ft_bf16 *w,
    const float *bias, int N, int in, int out, ft_wlayout lay, int threads)
{
	/* y[N, out] = x[N, in] · W;  W[in, out] or W[out, in] read as Wᵀ */
	ft_bf16_gemm_shape s = { { 1, 1, 1 }, N, out, in, { 0, 0, 0, in, 1 },
	    { 0, 0, 0, lay == FT_W_IO ? out : 1, lay == FT_W_IO ? 1 : in },
	    { 0, 0, 0, out, 1 }, 0 };

	return ft_bf16_gemm(&s, y, x, w, bias, threads);
}

int
ft_bf16_linear_dx(float *dx, const ft_bf16 *dy, const ft_bf16 *w, int N,
    int in, int out, ft_wlayout lay, int acc, int threads)
{
	/* dx[N, in] = dy[N, out] · Wᵀ  (Wᵀ[o][i] is W[i*out + o] or W[o*in + i]) */
	ft_bf16_gemm_shape s = { { 1, 1, 1 }, N, in, out, { 0, 0, 0, out, 1 },
	    { 0, 0, 0, lay == FT_W_IO ? 1 : in, lay == FT_W_IO ? out : 1 },
	    { 0, 0, 0, in, 1 }, acc };

	return ft_bf16_gemm(&s, dx, dy, w, NULL, threads);
}

int
ft_bf16_linear_dw(float *dw, const ft_bf16 *x, const ft_bf16 *dy, int N,
    int in, int out, ft_wlayout lay, int threads)
{
	if (lay == FT_W_IO) {
		/* dW[in, out] += xᵀ · dy */
		ft_bf16_gemm_shape s = { { 1, 1, 1 }, in, out, N,
		    { 0, 0, 0, 1, in }, { 0, 0, 0, out, 1 }, { 0, 0, 0, out, 1 },
		    1 };
		return ft_bf16_gemm(&s, dw, x, dy, NULL, threads);
	} else {
		/* dW[out, in] += dyᵀ · x */
		ft_bf16_gemm_shape s = { { 1, 1, 1 }, out, in, N,
		    { 0, 0, 0, 1, out }, { 0, 0, 0, in, 1 }, { 0, 0, 0, in, 1 },
		    1 };
		return ft_bf16_gemm(&s, dw, dy, x, NULL, threads);
	}
}

/* ---- attention ---- */

/* Batch dimensions (b, kv head, group member g): query head h = kv G + g,
 * so P [B, NH, T, T] and the NH-head operands index (kv, g) as one head
 * h with head strides G hs and hs, and the NKV-head operands broadcast
 * over g. */
int
ft_bf16_att_qk(float *S, const ft_bf16 *q, int lq, const ft_bf16 *k,
    int lk, int B, int T, int NH, int NKV, int hs, int threads)
{
	int64_t t = T, G = NH / NKV;
	ft_bf16_gemm_shape s = { { B, NKV, (int)G }, T, T, hs,
	    { t * lq, G * hs, hs, lq, 1 }, { t * lk, hs, 0, 1, lk },
	    { NH * t * t, G * t * t, t * t, t, 1 }, 0 };

	if (NKV < 1 || NH % NKV != 0)
		return ft_error("bf16 attention: %d query heads, %d key/value "
		    "heads", NH, NKV);
	return ft_bf16_gemm(&s, S, q, k, NULL, threads);
}

int
ft_bf16_att_pv(float *o, int lo, const ft_bf16 *P, int trans,
    const ft_bf16 *v, int lv, int B, int T, int NH, int NKV, int hs, int acc,
    int threads)
{
	int64_t t = T, G = NH / NKV;

	if (NKV < 1 || NH % NKV != 0)
		return ft_error("bf16 attention: %d query heads, %d key/value "
		    "heads", NH, NKV);
	if (!trans) {
		ft_bf16_gemm_shape s = { { B, NKV, (int)G }, T, hs, T,
		    { NH * t * t, G * t * t, t * t, t, 1 }, { t * lv, hs, 0, lv, 1 },
		    { t * lo, G * hs, hs, lo, 1 }, acc };
		return ft_bf16_gemm(&s, o, P, v, NULL, threads);
	}
	/* Pᵀ·V summed over each group: one product per member g */
	for (int64_t g = 0; g < G; g++) {
		ft_bf16_gemm_shape s = { { B, NKV, 1 }, T, hs, T,
		    { NH * t * t, G * t * t, 0, 1, t }, { t * lv, G * hs, 0, lv, 1 },
		    { t * lo, hs, 0, lo, 1 }, acc || g > 0 };
		if (ft_bf16_gemm(&s, o, P + g * t * t, v + g * hs, NULL,
		    threads) != 0)
			return -1;
	}
	return 0;
}
