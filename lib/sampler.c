/* sampler — see sampler.h.
 *
 * Cost per token is O(V) for temperature and the top-k threshold
 * (quickselect on a copy), then O(m log m) for the m top-k survivors in
 * top-p; only with top-k off does top-p sort the whole vocabulary. */
#include "sampler.h"

#include "err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int
ft_sampler_init(struct ft_sampler *s, const struct ft_sampler_params *p,
    int V)
{
	memset(s, 0, sizeof(*s));
	if (V < 1)
		return ft_error("sampler: vocabulary size %d", V);
	if (!(p->temperature >= 0) || !isfinite(p->temperature))
		return ft_error("temperature must be >= 0: %g", p->temperature);
	if (p->top_k < 0)
		return ft_error("top-k must be >= 0: %ld", p->top_k);
	if (!(p->top_p > 0) || isnan(p->top_p))
		return ft_error("top-p must be > 0: %g", p->top_p);
	if (p->min_tokens_to_keep < 1)
		return ft_error("min_tokens_to_keep must be >= 1: %d",
		    p->min_tokens_to_keep);
	if (!(p->repetition_penalty >= 0) || !isfinite(p->repetition_penalty))
		return ft_error("repetition penalty must be > 0: %g",
		    p->repetition_penalty);
	if (p->no_repeat_ngram_size < 0)
		return ft_error("no-repeat n-gram size must be >= 0: %d",
		    p->no_repeat_ngram_size);
	if (p->min_new_tokens < 0)
		return ft_error("min new tokens must be >= 0: %d",
		    p->min_new_tokens);
	s->p = *p;
	s->V = V;
	s->idx = ft_malloc((size_t)V * sizeof(*s->idx));
	s->tmp = ft_malloc((size_t)V * sizeof(*s->tmp));
	s->ent = ft_malloc((size_t)V * sizeof(*s->ent));
	s->seen = ft_calloc((size_t)V, 1);
	return 0;
}

int
ft_sampler_has_processors(const struct ft_sampler *s)
{
	return (s->p.repetition_penalty != 0 && s->p.repetition_penalty != 1)
	    || s->p.no_repeat_ngram_size > 0 || s->p.min_new_tokens > 0;
}

void
ft_sampler_process(struct ft_sampler *s, float *logits, const int32_t *ids,
    int n, int prompt, const int32_t *eos, int neos)
{
	const int V = s->V, N = s->p.no_repeat_ngram_size;
	const double rp = s->p.repetition_penalty;

	if (rp != 0 && rp != 1) {
		/* torch: gather, where(x < 0, x * p, x / p), scatter; a float
		 * tensor op with a Python float scalar computes in float */
		const float pf = (float)rp;

		for (int i = 0; i < n; i++) {
			int32_t t = ids[i];

			if (t < 0 || t >= V || s->seen[t])
				continue;
			s->seen[t] = 1;
			logits[t] = logits[t] < 0 ? logits[t] * pf : logits[t] / pf;
		}
		for (int i = 0; i < n; i++)
			if (ids[i] >= 0 && ids[i] < V)
				s->seen[ids[i]] = 0;
	}
	if (N > 0 && n >= N) {
		/* windows ids[i .. i+N) for i + N <= n whose first N-1 tokens
		 * equal the last N-1 of the sequence ban their last token */
		const int32_t *suffix = ids + n - (N - 1);

		for (int i = 0; i + N <= n; i++) {
			int32_t t = ids[i + N - 1];

			if (t < 0 || t >= V)
				continue;
			if (memcmp(ids + i, suffix, (size_t)(N - 1) * sizeof(*ids))
			    == 0)
				logits[t] = -INFINITY;
		}
	}
	if (s->p.min_new_tokens > 0 && n - prompt < s->p.min_new_tokens)
		for (int i = 0; i < neos; i++)
			if (eos[i] >= 0 && eos[i] < V)
				logits[eos[i]] = -INFINITY;
}

void
ft_sampler_release(struct ft_sampler *s)
{
	if (s == NULL)
		return;
	free(s->idx);
	free(s->tmp);
	free(s->ent);
	free(s->seen);
	memset(s, 0, sizeof(*s));
}

int
ft_sampler_is_greedy(const struct ft_sampler *s)
{
	return s->p.greedy || s->p.temperature == 0;
}

int
ft_sampler_argmax(const float *logits, int V)
{
	int best = -1;

	for (int i = 0; i < V; i++)
		if (!isnan(logits[i]) && (best < 0 || logits[i] > logits[best]))
			best = i;
	return best;
}

/* Sift h[i] down a min-heap of n entries. */
static void
sift_down(float *h, int n, int i)
{
	float x = h[i];

	for (;;) {
		int c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && h[c + 1] < h[c])
			c++;
		if (!(h[c] < x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

/* The k-th largest (1-based, counting equal values separately) of
 * a[0..n) without NaN: a min-heap of the k largest seen so far.  Most
 * values fail the one comparison with the heap's root, so for k << n this
 * is one read of a[] (the sampler's usual top-k 50 of 50257). */
static float
kth_largest_heap(const float *a, int n, int k, float *h)
{
	memcpy(h, a, (size_t)k * sizeof(*h));
	for (int i = k / 2 - 1; i >= 0; i--)
		sift_down(h, k, i);
	for (int i = k; i < n; i++)
		if (a[i] > h[0]) {
			h[0] = a[i];
			sift_down(h, k, 0);
		}
	return h[0];
}

/* The k-th largest (1-based) of a[0..n), reordering a.  Hoare-style
 * quickselect with median-of-three pivots: O(n) expected. */
static float
kth_largest(float *a, int n, int k)
{
	int lo = 0, hi = n - 1, want = k - 1;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2, i = lo, j = hi;
		float x = a[lo], y = a[mid], z = a[hi], piv, t;

		/* median of three, descending order wanted */
		piv = (x > y) ? ((y > z) ? y : (x > z ? z : x))
		    : ((x > z) ? x : (y > z ? z : y));
		while (i <= j) {
			while (a[i] > piv)
				i++;
			while (a[j] < piv)
				j--;
			if (i <= j) {
				t = a[i], a[i] = a[j], a[j] = t;
				i++, j--;
			}
		}
		if (want <= j)
			hi = j;
		else if (want >= i)
			lo = i;
		else
			return a[want];
	}
	return a[want];
}

static int
cmp_ent(const void *pa, const void *pb)
{
	const struct ft_sampler_ent *a = pa, *b = pb;

	if (a->v != b->v)
		return a->v < b->v ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

static int
cmp_int(const void *pa, const void *pb)
{
	int a = *(const int *)pa, b = *(const int *)pb;

	return (a > b) - (a < b);
}

/* TopPLogitsWarper over the n survivors in s->idx (finite or +inf).
 * Returns the new survivor count, s->idx sorted by index. */
static int
top_p(struct ft_sampler *s, float *logits, int n)
{
	struct ft_sampler_ent *e = s->ent;
	float thr = (float)(1.0 - s->p.top_p), mx;
	double sum = 0, cum = 0;
	int cut, keep = s->p.min_tokens_to_keep;

	for (int j = 0; j < n; j++)
		e[j].v = logits[s->idx[j]], e[j].i = s->idx[j];
	qsort(e, (size_t)n, sizeof(*e), cmp_ent);
	mx = e[n - 1].v;
	if (isinf(mx))		/* softmax would be NaN: nothing to cut */
		return n;
	for (int j = 0; j < n; j++) {
		s->tmp[j] = expf(e[j].v - mx);
		sum += s->tmp[j];
	}
	/* probabilities as torch: exp(x - max) * (1 / sum) in float */
	{
		float inv = (float)(1.0 / sum);

		for (cut = 0; cut < n; cut++) {
			cum += s->tmp[cut] * inv;
			if (!((float)cum <= thr))
				break;
		}
	}
	if (cut > n - keep)
		cut = n - keep > 0 ? n - keep : 0;
	for (int j = 0; j < cut; j++)
		logits[e[j].i] = -INFINITY;
	for (int j = cut; j < n; j++)
		s->idx[j - cut] = e[j].i;
	n -= cut;
	qsort(s->idx, (size_t)n, sizeof(*s->idx), cmp_int);
	return n;
}

int
ft_sampler_warp(struct ft_sampler *s, float *logits)
{
	const int V = s->V;
	int n = 0;

	if (s->p.temperature != 1.0) {
		float t = (float)s->p.temperature;

		for (int i = 0; i < V; i++)
			logits[i] = isnan(logits[i]) ? -INFINITY : logits[i] / t;
	} else {
		for (int i = 0; i < V; i++)
			if (isnan(logits[i]))
				logits[i] = -INFINITY;
	}
	if (s->p.top_k > 0) {
		long k = s->p.top_k;
		float thr;

		if (k < s->p.min_tokens_to_keep)
			k = s->p.min_tokens_to_keep;
		if (k > V)
			k = V;
		if (k <= V / 16) {
			thr = kth_largest_heap(logits, V, (int)k, s->tmp);
		} else {
			memcpy(s->tmp, logits, (size_t)V * sizeof(*logits));
			thr = kth_largest(s->tmp, V, (int)k);
		}
		for (int i = 0; i < V; i++) {
			if (logits[i] < thr)
				logits[i] = -INFINITY;
			else if (logits[i] > -INFINITY)
				s->idx[n++] = i;
		}
	} else {
		for (int i = 0; i < V; i++)
			if (logits[i] > -INFINITY)
				s->idx[n++] = i;
	}
	if (n > 0 && s->p.top_p < 1.0)
		n = top_p(s, logits, n);
	return n;
}

int
ft_sampler_pick(struct ft_sampler *s, float *logits, double u)
{
	float mx = -INFINITY;
	double sum = 0, r, cum = 0;
	int n, ninf = 0;

	if (ft_sampler_is_greedy(s))
		return ft_sampler_argmax(logits, s->V);
	n = ft_sampler_warp(s, logits);
	if (n == 0)
		return -1;
	for (int j = 0; j < n; j++)
		if (logits[s->idx[j]] > mx)
			mx = logits[s->idx[j]];
	if (isinf(mx)) {
		/* +inf logits (a tiny temperature): the limit of softmax shares
		 * the mass equally among them */
		for (int j = 0; j < n; j++)
			if (logits[s->idx[j]] == mx)
				s->idx[ninf++] = s->idx[j];
		r = u * ninf;
		return s->idx[r < ninf ? (int)r : ninf - 1];
	}
	for (int j = 0; j < n; j++) {
		s->tmp[j] = expf(logits[s->idx[j]] - mx);
		sum += s->tmp[j];
	}
	r = u * sum;
	for (int j = 0; j < n; j++) {
		cum += s->tmp[j];
		if (r < cum)
			return s->idx[j];
	}
	/* u * sum rounded up to the total: the last token with mass */
	for (int j = n - 1; j >= 0; j--)
		if (s->tmp[j] > 0)
			return s->idx[j];
	return s->idx[n - 1];
}
