/* generate — see generate.h. */
#include "generate.h"

#include "err.h"
#include "rng.h"
#include "utf8stream.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct row {
	struct ft_rng rng;
	struct ft_utf8stream u;
	struct ft_stopper stop;
	int len;        /* tokens so far, prompt included */
	int32_t *hist;  /* [max_T] those tokens, for the logits processors */
	int done;
};

struct ft_gen {
	ft_model *m;
	const struct ft_bpe *tok;
	struct ft_gen_opts o;
	int B, V, max_T;    /* max_T: positions a row may reach */
	int kv_T;           /* positions the cache holds now */
	int prompt_n;       /* tokens of the current prompt */
	struct ft_sampler s;
	ft_kv *kv;
	struct row *rows;
	float *logits;      /* [B, V] */
	int32_t *next;      /* [B] */
	uint8_t *active;    /* [B] */
	char *text;         /* scratch for decoded text */
	size_t text_cap;
	struct ft_gen_stats st;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct ft_gen *
ft_gen_new(ft_model *m, const struct ft_bpe *tok, int batch,
    const struct ft_gen_opts *o)
{
	struct ft_gen *g = ft_calloc(1, sizeof(*g));
	int P = m->cfg.n_positions;

	g->m = m;
	g->tok = tok;
	g->o = *o;
	g->B = batch;
	g->V = m->cfg.vocab_size;
	if (ft_sampler_init(&g->s, &o->sampler, g->V) != 0) {
		free(g);
		return NULL;
	}
	g->max_T = P;
	if (o->max_new_tokens <= 0 && o->max_length < P)
		g->max_T = o->max_length;
	g->rows = ft_calloc((size_t)batch, sizeof(*g->rows));
	for (int b = 0; b < batch; b++) {
		ft_stopper_init(&g->rows[b].stop, o->stops, o->nstops);
		if (ft_sampler_has_processors(&g->s))
			g->rows[b].hist = ft_malloc((size_t)g->max_T *
			    sizeof(*g->rows[b].hist));
	}
	g->logits = ft_malloc((size_t)batch * (size_t)g->V * sizeof(float));
	g->next = ft_calloc((size_t)batch, sizeof(*g->next));
	g->active = ft_calloc((size_t)batch, 1);
	return g;
}

void
ft_gen_free(struct ft_gen *g)
{
	if (g == NULL)
		return;
	for (int b = 0; b < g->B; b++) {
		ft_stopper_release(&g->rows[b].stop);
		free(g->rows[b].hist);
	}
	ft_kv_free(g->kv);
	ft_sampler_release(&g->s);
	free(g->rows);
	free(g->logits);
	free(g->next);
	free(g->active);
	free(g->text);
	free(g);
}

int
ft_gen_max_prompt(const struct ft_gen *g)
{
	return g->max_T - 1;
}

void
ft_gen_set_seed(struct ft_gen *g, uint64_t seed)
{
	g->o.seed = seed;
}

void
ft_gen_stats(const struct ft_gen *g, struct ft_gen_stats *st)
{
	*st = g->st;
}

static int
is_eos(const struct ft_gen *g, int32_t id)
{
	for (int i = 0; i < g->o.neos; i++)
		if (g->o.eos[i] == id)
			return 1;
	return 0;
}

/* Pass decoded bytes of row b through UTF-8 repair and the stop strings;
 * *stopped is set when a stop string ended the row.  finish: the row
 * ends, flush what is held. */
static int
emit(struct ft_gen *g, int b, const char *bytes, size_t n, int finish,
    ft_gen_text_fn text, void *ctx, int *stopped)
{
	struct row *r = &g->rows[b];
	const char *out;
	size_t w, outn;

	ft_grow((void **)&g->text, &g->text_cap, 3 * n + 6, 1);
	w = ft_utf8stream_feed(&r->u, bytes, n, g->text);
	if (finish)
		w += ft_utf8stream_finish(&r->u, g->text + w);
	*stopped = ft_stopper_push(&r->stop, g->text, w, &out, &outn);
	if (outn > 0 && text(ctx, b, out, outn) != 0)
		return -1;
	if (finish && !*stopped) {
		ft_stopper_flush(&r->stop, &out, &outn);
		if (outn > 0 && text(ctx, b, out, outn) != 0)
			return -1;
	}
	return 0;
}

/* Row b took token id: output it, decide whether the row ends. */
static int
take(struct ft_gen *g, int b, int32_t id, int limit, ft_gen_text_fn text,
    ft_gen_end_fn end, void *ctx)
{
	struct row *r = &g->rows[b];
	const char *bytes = NULL;
	size_t n = 0;
	int stopped = 0, why = 0;

	if (r->hist != NULL)
		r->hist[r->len] = id;
	r->len++;
	g->st.new_tokens++;
	if (is_eos(g, id)) {
		why = FT_GEN_EOS;
	} else {
		if (!(g->o.skip_special && ft_bpe_is_special(g->tok, (uint32_t)id))
		    && (uint32_t)id < ft_bpe_vocab_size(g->tok))
			bytes = ft_bpe_token(g->tok, (uint32_t)id, &n);
		if (r->len >= limit)
			why = FT_GEN_LENGTH;
		if (emit(g, b, bytes ? bytes : "", bytes ? n : 0, why != 0, text,
		    ctx, &stopped) != 0)
			return -1;
		if (stopped)
			why = FT_GEN_STOP;
	}
	if (why == FT_GEN_EOS && emit(g, b, "", 0, 1, text, ctx, &stopped) != 0)
		return -1;
	if (why != 0) {
		r->done = 1;
		g->active[b] = 0;
		if (end(ctx, b, why) != 0)
			return -1;
	} else {
		g->next[b] = id;
		g->active[b] = 1;
	}
	return 0;
}

static int
pick(struct ft_gen *g, int b, float *logits)
{
	struct row *r = &g->rows[b];
	int id;

	if (r->hist != NULL)
		ft_sampler_process(&g->s, logits, r->hist, r->len, g->prompt_n,
		    g->o.eos, g->o.neos);
	id = ft_sampler_pick(&g->s, logits, ft_rng_double(&r->rng));

	if (id < 0)
		ft_error("the model produced no finite logit (NaN weights?)");
	return id;
}

int
ft_gen_run(struct ft_gen *g, const int32_t *ids, int n,
    ft_gen_text_fn text, ft_gen_end_fn end, void *ctx)
{
	const size_t V = (size_t)g->V;
	int limit = g->max_T, left = g->B;
	double t0;

	if (n < 1 || n > ft_gen_max_prompt(g))
		return ft_error("prompt of %d tokens does not fit in %d positions",
		    n, g->max_T);
	if (g->o.max_new_tokens > 0 && n + g->o.max_new_tokens < limit)
		limit = n + g->o.max_new_tokens;
	/* the cache grows to what a run needs (the last token is not fed) */
	if (g->kv == NULL || g->kv_T < limit - 1) {
		ft_kv_free(g->kv);
		g->kv_T = limit - 1;
		if ((g->kv = ft_kv_new(g->m, g->B, g->kv_T)) == NULL)
			return -1;
	}
	ft_kv_reset(g->kv, -1);
	g->prompt_n = n;
	t0 = now();
	for (int b = 0; b < g->B; b++) {
		struct row *r = &g->rows[b];

		ft_rng_seed(&r->rng, g->o.seed, (uint64_t)b);
		ft_utf8stream_init(&r->u);
		ft_stopper_reset(&r->stop);
		if (r->hist != NULL)
			memcpy(r->hist, ids, (size_t)n * sizeof(*ids));
		r->len = n;
		r->done = 0;
		g->active[b] = 0;
		/* each row's cache needs the prompt (no row copy in the engine) */
		if (ft_kv_prefill(g->m, g->kv, b, ids, n,
		    g->logits + (size_t)b * V) != 0)
			return -1;
		g->st.prompt_tokens += n;
	}
	g->st.prefill_s += now() - t0;
	t0 = now();
	for (int b = 0; b < g->B; b++) {
		int id = pick(g, b, g->logits + (size_t)b * V);

		if (id < 0 || take(g, b, id, limit, text, end, ctx) != 0)
			return -1;
		left -= g->rows[b].done;
	}
	while (left > 0) {
		if (ft_kv_decode_step(g->m, g->kv, g->next, g->active,
		    g->logits) != 0)
			return -1;
		g->st.steps++;
		for (int b = 0; b < g->B; b++) {
			int id;

			if (!g->active[b])
				continue;
			id = pick(g, b, g->logits + (size_t)b * V);
			if (id < 0 || take(g, b, id, limit, text, end, ctx) != 0)
				return -1;
			left -= g->rows[b].done;
		}
	}
	g->st.decode_s += now() - t0;
	return 0;
}
