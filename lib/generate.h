/* generate — the loop of transformers' generate(do_sample=True) over a KV
 * cache (docs/hf-reference.md §14), for a batch of samples of one prompt.
 *
 * Each of the `batch` rows holds the prompt and then its own continuation:
 * the prompt is prefilled once per row, then every step feeds each
 * unfinished row's last token through ft_kv_decode_step (one batched
 * pass), picks the next token with lib/sampler, and turns the token's
 * bytes into text (lib/utf8stream: byte-correct UTF-8, U+FFFD for invalid
 * bytes, stop strings).  A row ends at an eos id (not output), at a stop
 * string (not output), or when prompt + continuation reach max_length
 * (capped at the model's n_positions).
 *
 * Randomness: row i draws one ft_rng_double per step from stream i of the
 * seed, re-seeded at every ft_gen_run, so sample i of a prompt is the same
 * whatever the batch size (for a given thread count: the logits may differ
 * in the last bits across counts).  The caller gives each prompt its own
 * seed with ft_gen_set_seed (ft-sample: seed + the prompt's index).
 *
 * The sampler's logits processors (repetition penalty, n-gram ban, min
 * new tokens) see each row's whole sequence, prompt included. */
#ifndef FT_GENERATE_H
#define FT_GENERATE_H

#include <stddef.h>
#include <stdint.h>

#include "bpe.h"
#include "model/model.h"
#include "sampler.h"

enum ft_gen_end {
	FT_GEN_EOS = 1,    /* an eos id was drawn */
	FT_GEN_STOP,       /* a stop string appeared */
	FT_GEN_LENGTH,     /* max_length reached */
};

struct ft_gen_opts {
	struct ft_sampler_params sampler;
	uint64_t seed;
	int max_length;             /* total tokens, prompt included */
	int max_new_tokens;         /* > 0: overrides max_length */
	const char *const *stops;   /* stop strings (borrowed) */
	size_t nstops;
	int skip_special;           /* drop special tokens from the text */
	const int32_t *eos;         /* ids that end a row (borrowed) */
	int neos;
};

/* Called with text of row `row` as it becomes final, and once when the
 * row ends.  Return 0 to go on, -1 to abort the run (after a message). */
typedef int (*ft_gen_text_fn)(void *ctx, int row, const char *s, size_t n);
typedef int (*ft_gen_end_fn)(void *ctx, int row, enum ft_gen_end why);

struct ft_gen;

/* A generator for `batch` rows of model m (thread count taken from m)
 * with tokenizer tok (ids >= its vocabulary decode to nothing).  NULL
 * after a message (bad sampler parameters). */
struct ft_gen *ft_gen_new(ft_model *m, const struct ft_bpe *tok, int batch,
    const struct ft_gen_opts *o);
void ft_gen_free(struct ft_gen *g);

/* The longest prompt the options leave room for (at least one new token):
 * n_positions - 1 with max_new_tokens, else min(max_length,
 * n_positions) - 1. */
int ft_gen_max_prompt(const struct ft_gen *g);

/* Generate for prompt ids[0..n) (n >= 1, n <= ft_gen_max_prompt, ids
 * below the model's vocabulary size).  0, or -1 after a message (or when
 * a callback returned -1). */
int ft_gen_run(struct ft_gen *g, const int32_t *ids, int n,
    ft_gen_text_fn text, ft_gen_end_fn end, void *ctx);

/* The seed of the next ft_gen_run (instead of the options' seed). */
void ft_gen_set_seed(struct ft_gen *g, uint64_t seed);

/* Counters since ft_gen_new: tokens generated, prompt tokens prefilled,
 * seconds in prefill and in decode steps (model + sampling). */
struct ft_gen_stats {
	long long new_tokens, prompt_tokens, steps;
	double prefill_s, decode_s;
};
void ft_gen_stats(const struct ft_gen *g, struct ft_gen_stats *st);

#endif
