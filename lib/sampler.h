/* sampler — turn one row of next-token logits into a token id, the way
 * transformers' `generate(do_sample=True)` does (docs/hf-reference.md §14).
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
 * Before the warpers, and in greedy decoding too, ft_sampler_process runs
 * the processors that look at the sequence so far (prompt included, as for
 * a decoder-only model), in generate()'s order:
 *
 *   repetition penalty  (RepetitionPenaltyLogitsProcessor, when != 1):
 *       every token id present in the sequence, once however often it
 *       occurs: x < 0 ? x * penalty : x / penalty, in float.
 *   no-repeat n-gram    (NoRepeatNGramLogitsProcessor, when n > 0):
 *       with cur_len >= n, every token that would complete an n-gram that
 *       already occurs (its first n-1 tokens equal the last n-1 of the
 *       sequence) becomes -inf; n = 1 bans every token seen.
 *   min new tokens      (MinNewTokensLengthLogitsProcessor, when > 0):
 *       while fewer than min_new_tokens tokens follow the prompt, the eos
 *       ids become -inf.
 *
 * (The three commute: -inf stays -inf under the penalty.)
 *
 * After the warpers the pick is a categorical draw from softmax(logits)
 * over the survivors with one uniform number u in [0, 1) supplied by the
 * caller (ft_rng), so the sampler itself holds no random state.  Greedy
 * decoding (or temperature 0) is argmax over the raw logits; the lowest
 * index wins ties, like torch.argmax.  NaN logits count as -inf. */
#ifndef FT_SAMPLER_H
#define FT_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

struct ft_sampler_params {
	double temperature;     /* 1 = off; 0 = greedy */
	long top_k;             /* 0 = off */
	double top_p;           /* >= 1 = off; must be > 0 */
	int greedy;             /* argmax, ignore the three warpers */
	int min_tokens_to_keep; /* >= 1; generate uses 1 for num_beams 1 */
	double repetition_penalty; /* > 0; 1 (or 0, unset) = off */
	int no_repeat_ngram_size;  /* 0 = off */
	int min_new_tokens;        /* 0 = off */
};

/* The notebook's call: temperature 0.9, top-k 50, top-p 0.92, keep 1, no
 * penalty, no n-gram ban, no minimum. */
#define FT_SAMPLER_DEFAULTS { 0.9, 50, 0.92, 0, 1, 1.0, 0, 0 }

struct ft_sampler {
	struct ft_sampler_params p;
	int V;
	int *idx;      /* [V] survivors */
	float *tmp;    /* [V] scratch for the top-k selection */
	struct ft_sampler_ent { float v; int i; } *ent; /* [V] top-p sort */
	unsigned char *seen;  /* [V] zeroed scratch for the penalty */
};

/* Check parameters (temperature >= 0, top_k >= 0, 0 < top_p,
 * min_tokens_to_keep >= 1, repetition_penalty >= 0, no_repeat_ngram_size
 * >= 0, min_new_tokens >= 0, V >= 1) and allocate scratch for vocabulary
 * size V.  0, or -1 after a message. */
int ft_sampler_init(struct ft_sampler *s, const struct ft_sampler_params *p,
    int V);
void ft_sampler_release(struct ft_sampler *s);

/* Is this a greedy sampler (greedy flag or temperature 0)? */
int ft_sampler_is_greedy(const struct ft_sampler *s);

/* Does the sampler have processors that need the sequence? */
int ft_sampler_has_processors(const struct ft_sampler *s);

/* Apply the repetition penalty, the n-gram ban and the min-new-tokens
 * rule to logits[V] in place, for the sequence ids[0..n) of which the
 * first `prompt` are the prompt; eos[0..neos) are the eos ids.  Ids
 * outside [0, V) are ignored. */
void ft_sampler_process(struct ft_sampler *s, float *logits,
    const int32_t *ids, int n, int prompt, const int32_t *eos, int neos);

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
