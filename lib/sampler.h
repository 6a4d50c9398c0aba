/* sampler — turn one row of next-token logits into a token id, the way
 * transformers' `generate(do_sample=True)` does (hf-reference §14).
 *
 * The logits processors run in the reference order, each exactly as its
 * transformers class and only when generate would add it:
 *
 *   temperature  (TemperatureLogitsWarper, when temperature != 1):
 *       x / t, computed in float like torch's float tensor / scalar.
 *   top-k        (TopKLogitsWarper, when top_k > 0):
 *       k = min(max(top_k, min_tokens_to_keep), V); every logit strictly
 *       below the k-th largest becomes -inf, so ties at the threshold are
 *       all kept (more than k may survive).
 *   top-p        (TopPLogitsWarper, when top_p < 1):
 *       sort ascending, softmax, cumulative sum; remove the entries whose
 *       cumulative probability is <= 1 - top_p (the threshold rounded to
 *       float, as torch compares a float tensor with a Python float),
 *       except the last min_tokens_to_keep.  The cumulative sum is
 *       accumulated in double and rounded to float per element, which is
 *       what torch's CPU cumsum does for float tensors.
 *
 * Ties in top-p: torch.sort(stable=False) on CPU does not order equal
 * values predictably, so when equal logits straddle the top-p cut the
 * reference's kept set depends on torch internals.  This module sorts
 * stably, by (value, index): among equal values the lower index is removed
 * first, i.e. the result equals torch.sort(stable=True).  Away from ties
 * the kept sets are identical.  Softmax rounding can differ from torch's
 * vectorised exp by an ulp, which matters only when a cumulative sum lies
 * within ~1e-7 of 1 - top_p.
 *
 * After the warpers the pick is a categorical draw from softmax(logits)
 * over the survivors with one uniform number u in [0, 1) supplied by the
 * caller (ft_rng), so the sampler itself holds no random state.  Greedy
 * decoding (or temperature 0) is argmax over the raw logits; the lowest
 * index wins ties, like torch.argmax.  NaN logits count as -inf. */
#ifndef FT_SAMPLER_H
#define FT_SAMPLER_H

#include <stddef.h>

struct ft_sampler_params {
	double temperature;     /* 1 = off; 0 = greedy */
	long top_k;             /* 0 = off */
	double top_p;           /* >= 1 = off; must be > 0 */
	int greedy;             /* argmax, ignore the three warpers */
	int min_tokens_to_keep; /* >= 1; generate uses 1 for num_beams 1 */
};

/* The notebook's call: temperature 0.9, top-k 50, top-p 0.92, keep 1. */
#define FT_SAMPLER_DEFAULTS { 0.9, 50, 0.92, 0, 1 }

struct ft_sampler {
	struct ft_sampler_params p;
	int V;
	int *idx;      /* [V] survivors */
	float *tmp;    /* [V] scratch for the top-k selection */
	struct ft_sampler_ent { float v; int i; } *ent; /* [V] top-p sort */
};

/* Check parameters (temperature >= 0, top_k >= 0, 0 < top_p,
 * min_tokens_to_keep >= 1, V >= 1) and allocate scratch for vocabulary
 * size V.  0, or -1 after a message. */
int ft_sampler_init(struct ft_sampler *s, const struct ft_sampler_params *p,
    int V);
void ft_sampler_release(struct ft_sampler *s);

/* Is this a greedy sampler (greedy flag or temperature 0)? */
int ft_sampler_is_greedy(const struct ft_sampler *s);

/* Apply temperature, top-k and top-p to logits[V] in place; removed
 * entries become -INFINITY.  Returns the number of survivors (0 when every
 * logit is NaN or -inf).  On return s->idx[0..n) holds the survivors. */
int ft_sampler_warp(struct ft_sampler *s, float *logits);

/* Index of the largest logit, lowest index on ties; -1 if none is a
 * number. */
int ft_sampler_argmax(const float *logits, int V);

/* Pick the next token from logits[V] (modified in place): argmax when
 * greedy, otherwise warp and draw with u in [0, 1).  Returns the token id,
 * or -1 when no logit is finite (the caller reports it). */
int ft_sampler_pick(struct ft_sampler *s, float *logits, double u);

#endif
