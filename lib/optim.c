/* optim — see optim.h.  The AdamW update follows torch 1.13's
 * _single_tensor_adamw operation by operation in float32; the step
 * scalars (1 - lr*wd, bias corrections) are computed in double as Python
 * does and rounded to float where torch would.  State save/load is in
 * optim_io.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kernels.h"
#include "optim.h"
#include "safetensors.h"

void
ft_adamw_init(ft_adamw *o, size_t n)
{
	memset(o, 0, sizeof(*o));
	o->beta1 = 0.9;
	o->beta2 = 0.999;
	o->eps = 1e-8;
	o->weight_decay = 0.0;
	o->n = n;
	o->m = ft_calloc(n ? n : 1, sizeof(float));
	o->v = ft_calloc(n ? n : 1, sizeof(float));
	o->threads = 1;
}

void
ft_adamw_release(ft_adamw *o)
{
	if (o == NULL)
		return;
	free(o->m);
	free(o->v);
	memset(o, 0, sizeof(*o));
}

struct adam_ctx {
	float *p, *m, *v;
	const float *g;
	size_t n;
	float decay, b1, omb1, b2, omb2, bc2s, eps, step;
};

#if defined(__x86_64__)
#include <immintrin.h>

/* The same IEEE operations as the scalar loop (no FMA), so the results are
 * bit-identical to it. */
__attribute__((target("avx2"))) static size_t
adam_avx2(const struct adam_ctx *c, size_t lo, size_t hi)
{
	__m256 dec = _mm256_set1_ps(c->decay), b1 = _mm256_set1_ps(c->b1);
	__m256 omb1 = _mm256_set1_ps(c->omb1), b2 = _mm256_set1_ps(c->b2);
	__m256 omb2 = _mm256_set1_ps(c->omb2), bc = _mm256_set1_ps(c->bc2s);
	__m256 eps = _mm256_set1_ps(c->eps), st = _mm256_set1_ps(c->step);
	size_t i = lo;

	for (; i + 8 <= hi; i += 8) {
		__m256 g = _mm256_loadu_ps(c->g + i);
		__m256 p = _mm256_mul_ps(_mm256_loadu_ps(c->p + i), dec);
		__m256 m = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(c->m + i), b1),
		    _mm256_mul_ps(omb1, g));
		__m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(c->v + i), b2),
		    _mm256_mul_ps(_mm256_mul_ps(omb2, g), g));
		__m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v), bc), eps);
		_mm256_storeu_ps(c->m + i, m);
		_mm256_storeu_ps(c->v + i, v);
		_mm256_storeu_ps(c->p + i, _mm256_add_ps(p,
		    _mm256_div_ps(_mm256_mul_ps(st, m), den)));
	}
	return i;
}
#endif

static void
adam_range(const struct adam_ctx *c, size_t lo, size_t hi)
{
	float *p = c->p, *m = c->m, *v = c->v;
	const float *g = c->g;

#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2"))
		lo = adam_avx2(c, lo, hi);
#endif
	for (size_t i = lo; i < hi; i++) {
		float pi = p[i] * c->decay;
		float mi = m[i] * c->b1 + c->omb1 * g[i];
		float vi = v[i] * c->b2 + c->omb2 * g[i] * g[i];
		float den = sqrtf(vi) / c->bc2s + c->eps;

		m[i] = mi;
		v[i] = vi;
		p[i] = pi + c->step * mi / den;
	}
}

static void
adam_task(void *vc, int tid, int nt)
{
	const struct adam_ctx *c = vc;
	size_t lo, hi;

	ft_split(c->n, tid, nt, &lo, &hi);
	adam_range(c, lo, hi);
}

void
ft_adamw_step(ft_adamw *o, float *params, const float *grads, double lr,
    const ft_param_tensor *t, size_t nt)
{
	double bc1, bc2;

	o->step++;
	bc1 = 1.0 - pow(o->beta1, (double)o->step);
	bc2 = 1.0 - pow(o->beta2, (double)o->step);
	for (size_t i = 0; i < nt; i++) {
		double wd = t[i].decay ? o->weight_decay : 0.0;
		struct adam_ctx c = {
			.p = params + t[i].off, .m = o->m + t[i].off,
			.v = o->v + t[i].off, .g = grads + t[i].off, .n = t[i].n,
			.decay = (float)(1.0 - lr * wd),
			.b1 = (float)o->beta1, .omb1 = (float)(1.0 - o->beta1),
			.b2 = (float)o->beta2, .omb2 = (float)(1.0 - o->beta2),
			.bc2s = (float)sqrt(bc2), .eps = (float)o->eps,
			.step = (float)(-(lr / bc1)),
		};
		if (c.n < 65536 || o->threads <= 1)
			adam_range(&c, 0, c.n);
		else
			ft_parallel(o->threads, adam_task, &c);
	}
}

struct norm_ctx {
	float *g;
	size_t n;
	double part[256];
	float coef;
};

static void
norm_task(void *vc, int tid, int nt)
{
	struct norm_ctx *c = vc;
	size_t lo, hi;
	double s[4] = { 0, 0, 0, 0 };

	ft_split(c->n, tid, nt, &lo, &hi);
	size_t i = lo;
	for (; i + 4 <= hi; i += 4)
		for (int j = 0; j < 4; j++)
			s[j] += (double)c->g[i + j] * c->g[i + j];
	for (; i < hi; i++)
		s[0] += (double)c->g[i] * c->g[i];
	c->part[tid] = (s[0] + s[1]) + (s[2] + s[3]);
}

static void
scale_task(void *vc, int tid, int nt)
{
	struct norm_ctx *c = vc;
	size_t lo, hi;

	ft_split(c->n, tid, nt, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		c->g[i] *= c->coef;
}

double
ft_clip_grad_norm(float *g, size_t n, double max_norm, int threads)
{
	struct norm_ctx c;
	double total = 0, norm;
	int nt = threads < 1 ? 1 : threads > 256 ? 256 : threads;

	c.g = g;
	c.n = n;
	ft_parallel(nt, norm_task, &c);
	for (int i = 0; i < nt; i++)
		total += c.part[i];
	norm = sqrt(total);
	if (max_norm > 0) {
		/* torch: coef = max_norm / (norm + 1e-6), clamped to 1 */
		double coef = max_norm / (norm + 1e-6);
		if (coef < 1.0) {
			c.coef = (float)coef;
			ft_parallel(nt, scale_task, &c);
		}
	}
	return norm;
}

double
ft_lr_lambda(enum ft_lr_kind kind, int64_t s, int64_t W, int64_t S)
{
	double p;

	if (kind == FT_LR_CONSTANT)
		return 1.0;
	if (s < W)
		return (double)s / (double)(W > 1 ? W : 1);
	switch (kind) {
	case FT_LR_LINEAR:
		p = (double)(S - s) / (double)(S - W > 1 ? S - W : 1);
		return p > 0 ? p : 0.0;
	case FT_LR_COSINE:
		p = (double)(s - W) / (double)(S - W > 1 ? S - W : 1);
		p = 0.5 * (1.0 + cos(M_PI * 0.5 * 2.0 * p));
		return p > 0 ? p : 0.0;
	case FT_LR_CONSTANT_WARMUP:
	default:
		return 1.0;
	}
}

/* indexed by enum ft_lr_kind */
static const char *const lr_names[] = { "linear", "cosine",
	"constant_with_warmup", "constant" };

int
ft_lr_kind_parse(const char *name)
{
	for (size_t i = 0; i < sizeof lr_names / sizeof *lr_names; i++)
		if (strcmp(name, lr_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
ft_lr_kind_name(int kind)
{
	if (kind < 0 || (size_t)kind >= sizeof lr_names / sizeof *lr_names)
		return NULL;
	return lr_names[kind];
}

/* ---- the state file ---- */

int
ft_adamw_save(const ft_adamw *o, const char *path, const ft_param_tensor *t,
    size_t nt)
{
	ft_st_entry *e = ft_calloc(2 * nt, sizeof(*e));
	char **names = ft_calloc(2 * nt, sizeof(*names));
	char step[32], b1[32], b2[32], eps[32], wd[32];
	const char *mk[5] = { "beta1", "beta2", "eps", "step", "weight_decay" };
	const char *mv[5] = { b1, b2, eps, step, wd };
	int rc;

	snprintf(step, sizeof(step), "%lld", (long long)o->step);
	snprintf(b1, sizeof(b1), "%.17g", o->beta1);
	snprintf(b2, sizeof(b2), "%.17g", o->beta2);
	snprintf(eps, sizeof(eps), "%.17g", o->eps);
	snprintf(wd, sizeof(wd), "%.17g", o->weight_decay);
	for (size_t i = 0; i < nt; i++)
		for (int k = 0; k < 2; k++) {
			ft_st_entry *x = &e[2 * i + (size_t)k];
			names[2 * i + (size_t)k] = ft_asprintf("%s.%s",
			    k ? "exp_avg_sq" : "exp_avg", t[i].name);
			x->name = names[2 * i + (size_t)k];
			x->dtype = FT_F32;
			x->ndim = t[i].ndim;
			x->shape = t[i].shape;
			x->data = (k ? o->v : o->m) + t[i].off;
		}
	rc = ft_st_write(path, e, 2 * nt, mk, mv, 5);
	for (size_t i = 0; i < 2 * nt; i++)
		free(names[i]);
	free(names);
	free(e);
	return rc;
}

int
ft_adamw_load(ft_adamw *o, const char *path, const ft_param_tensor *t,
    size_t nt)
{
	ft_st_file f;
	const char *s;
	char *end, list[1024];
	size_t k = 0;
	int rc = -1, missing = 0, unexpected = 0;
	long long step;

	if (ft_st_open(&f, path) < 0)
		return -1;
	for (size_t i = 0; i < f.n; i++) {
		const char *nm = f.tensors[i].name;
		int known = 0;
		for (size_t j = 0; !known && j < nt; j++) {
			const char *b = strchr(nm, '.');
			known = b != NULL && strcmp(b + 1, t[j].name) == 0 &&
			    (strncmp(nm, "exp_avg.", 8) == 0 ||
			    strncmp(nm, "exp_avg_sq.", 11) == 0);
		}
		if (!known)
			ft_name_list(list, sizeof(list), &k, nm, &unexpected);
	}
	if (unexpected) {
		ft_error("%s: unexpected tensor%s %s", path,
		    unexpected > 1 ? "s" : "", list);
		goto out;
	}
	s = ft_st_meta(&f, "step");
	if (s == NULL || (step = strtoll(s, &end, 10)) < 0 || *end != '\0') {
		ft_error("%s: missing or bad \"step\" metadata", path);
		goto out;
	}
	for (size_t j = 0; j < nt; j++)
		for (int q = 0; q < 2; q++) {
			char *nm = ft_asprintf("%s.%s", q ? "exp_avg_sq" : "exp_avg",
			    t[j].name);
			const ft_st_tensor *x = ft_st_find(&f, nm);
			int ok;
			if (x == NULL) {
				ft_name_list(list, sizeof(list), &k, nm, &missing);
				free(nm);
				continue;
			}
			ok = x->dtype == FT_F32 && x->ndim == t[j].ndim &&
			    x->shape[0] == t[j].shape[0] &&
			    (t[j].ndim == 1 || x->shape[1] == t[j].shape[1]);
			if (!ok) {
				ft_error("%s: tensor '%s': expected F32 of the "
				    "parameter's shape", path, nm);
				free(nm);
				goto out;
			}
			free(nm);
			if (ft_st_read_f32(&f, x, (q ? o->v : o->m) + t[j].off) < 0)
				goto out;
		}
	if (missing) {
		ft_error("%s: missing tensor%s %s", path, missing > 1 ? "s" : "",
		    list);
		goto out;
	}
	o->step = step;
	rc = 0;
out:
	ft_st_close(&f);
	return rc;
}
