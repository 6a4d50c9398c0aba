/* LoRA adapters (lib/model/lora.c) against tests/ref/lora_ref.py (PEFT's
 * math in torch; fixtures tests/fixtures/lora/{gpt2,llama,qwen2}): the
 * adapter directory read in PEFT's names, logits, gradients of every
 * lora_A / lora_B and the adapters after AdamW steps with the base frozen
 * (ref_case.h: 1e-5 logits, 1e-4 grads/params), no gradient slab for the
 * base, logits with the trained adapter, greedy decoding through the KV
 * cache with the adapter = the reference and = the merged model, merged
 * weights = W + s·B·A (transposed for Conv1D), adapter files written
 * back (config byte-identical to PEFT's layout, tensors bit-exact); and
 * with lora_dropout: the gradient against finite differences; PEFT's
 * init; the refusals. */
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "err.h"
#include "io.h"
#include "model/lora.h"
#include "ref_case.h"

static char tmpdir[] = "/tmp/ft-lora-XXXXXX";

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		ft_die("cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

static char *
slurp(const char *path)
{
	char *b = NULL;
	size_t n;

	if (ft_read_file(path, &b, &n) < 0)
		return NULL;
	return b;
}

/* The merged model against merged.NAME: every targeted weight. */
static void
check_merged(const ft_model *m, const struct fix *rf, size_t nmods)
{
	double worst = 0;
	size_t seen = 0;

	for (size_t i = 0; i < m->n_tensors; i++) {
		const ft_param_tensor *t = &m->tensors[i];
		char nm[256];
		size_t n = 0;
		const float *w;
		double e;

		snprintf(nm, sizeof nm, "merged.%s", t->name);
		w = fix_get(rf, nm, &n);
		if (w == NULL)
			continue;
		seen++;
		CHECK(n == t->n);
		e = relerr(m->params + t->off, w, t->n);
		worst = e > worst ? e : worst;
	}
	printf("  merged weights (%zu) rel err %.3g\n", seen, worst);
	CHECK(seen == nmods);
	CHECK(worst <= 1e-4);
}

/* Logits of micro-batch 0 (no targets) against the reference tensor. */
static double
logits_err(ft_model *m, const struct fix *rf, const char *key, int B, int T)
{
	int32_t *ids = malloc((size_t)B * T * 4), *tg = malloc((size_t)B * T * 4);
	uint8_t *mask = malloc((size_t)B * T);
	size_t n = 0;
	const float *want = fix_get(rf, key, &n);
	double e = INFINITY;

	get_batch(rf, 0, B, T, ids, mask, tg);
	m->training = 0;
	ft_model_forward(m, ids, mask, NULL, B, T);
	if (want != NULL && n == (size_t)B * T * m->cfg.vocab_size)
		e = relerr(ft_model_logits(m), want, n);
	free(ids);
	free(tg);
	free(mask);
	return e;
}

static void
run_case(const char *name, int threads)
{
	char *dir = ft_asprintf("tests/fixtures/lora/%s", name);
	char *rp = ft_path_join(dir, "ref.safetensors");
	char *out = ft_path_join(tmpdir, name), *a, *b;
	struct fix rf;
	ft_model m, r;
	int B, T;
	double e;
	size_t nmods;

	printf("%s (threads %d)\n", name, threads);
	CHECK(fix_open(&rf, rp) == 0);
	CHECK(ft_model_load(&m, dir) == 0);
	CHECK(ft_lora_load(&m, dir) == 0);
	CHECK(m.lora != NULL && m.frozen);
	if (m.lora == NULL)
		return;
	nmods = m.lora->n_mods;
	CHECK_EQ_INT(m.lora->r, atoi(fix_meta(&rf, "r")));
	CHECK_NEAR(m.lora->scale, strtod(fix_meta(&rf, "scaling"), NULL), 1e-15);
	fix_shape(&rf, "ids.0", &B, &T);
	ref_train(&m, &rf, B, T, threads, 0);
	CHECK(m.grads == NULL); /* the base has no gradient slab */
	e = logits_err(&m, &rf, "adapter_logits", B, T);
	printf("  logits with the trained adapter rel err %.3g\n", e);
	CHECK(e <= 1e-5);
	check_generation(&m, &rf);

	/* written back: PEFT's config layout, the tensors bit-exact */
	CHECK(ft_lora_save(&m, out) == 0);
	a = ft_path_join(dir, "adapter_config.json");
	b = ft_path_join(out, "adapter_config.json");
	{
		char *x = slurp(a), *y = slurp(b);
		CHECK(x != NULL && y != NULL && strcmp(x, y) == 0);
		free(x);
		free(y);
	}
	free(a);
	free(b);
	CHECK(ft_model_load(&r, dir) == 0);
	CHECK(ft_lora_load(&r, out) == 0);
	CHECK(r.lora != NULL && r.lora->n_params == m.lora->n_params &&
	    memcmp(r.lora->params, m.lora->params,
	    m.lora->n_params * sizeof(float)) == 0);

	/* merged: W + s·B·A; the same logits and greedy tokens */
	ft_lora_merge(&m);
	CHECK(m.lora == NULL && !m.frozen);
	check_merged(&m, &rf, nmods);
	e = logits_err(&m, &rf, "merged_logits", B, T);
	printf("  merged model logits rel err %.3g\n", e);
	CHECK(e <= 1e-5);
	{
		/* adapter forward = merged forward on the same weights */
		float *x;
		size_t n = (size_t)B * T * m.cfg.vocab_size;
		logits_err(&r, &rf, "logits", B, T);
		x = malloc(n * sizeof(float));
		memcpy(x, ft_model_logits(&r), n * sizeof(float));
		logits_err(&m, &rf, "logits", B, T);
		e = relerr(x, ft_model_logits(&m), n);
		printf("  adapter vs merged logits rel err %.3g\n", e);
		CHECK(e <= 1e-5);
		free(x);
	}
	check_generation(&m, &rf);
	ft_model_release(&r);
	ft_model_release(&m);
	fix_close(&rf);
	free(out);
	free(rp);
	free(dir);
}

static double
loss_of(ft_model *m, const int32_t *ids, const int32_t *tg, int B, int T)
{
	m->dropout_counter = 7;
	return ft_model_forward(m, ids, NULL, tg, B, T);
}

/* With lora_dropout the gradient of A and B (masks recomputed from the
 * counter) against central differences in double. */
static void
test_dropout_grad(void)
{
	ft_model m;
	ft_lora_opts o = { .r = 3, .alpha = 6, .dropout = 0.3,
		.targets = "all-linear", .base = "x" };
	int B = 2, T = 6;
	int32_t ids[12], tg[12];
	double worst = 0;
	float *P, *G;
	size_t NP, NT;
	const ft_param_tensor *TT;

	CHECK(ft_model_load(&m, "tests/fixtures/lora/llama") == 0);
	CHECK(ft_lora_new(&m, &o, 3) == 0);
	for (int i = 0; i < B * T; i++) {
		ids[i] = (i * 7 + 3) % m.cfg.vocab_size;
		tg[i] = (i * 5 + 1) % m.cfg.vocab_size;
	}
	ft_model_trainable(&m, &P, &G, &NP, &TT, &NT);
	/* B nonzero so that every gradient is */
	for (size_t k = 0; k < NP; k++)
		P[k] += 0.05f * (float)((k * 2654435761u) % 1000) / 1000.0f;
	ft_model_set_dropout_seed(&m, 11);
	m.training = 1;
	ft_model_zero_grad(&m);
	loss_of(&m, ids, tg, B, T);
	ft_model_backward(&m, 1.0);   /* gradient of the loss sum */
	ft_model_trainable(&m, &P, &G, &NP, &TT, &NT);
	for (size_t t = 0; t < NT; t++)
		for (size_t j = 0; j < TT[t].n; j += TT[t].n / 3 + 1) {
			float *p = P + TT[t].off + j, keep = *p;
			double h = 1e-2, lp, lm, fd, an = G[TT[t].off + j];
			*p = keep + (float)h;
			loss_of(&m, ids, tg, B, T);
			lp = m.loss_sum;
			*p = keep - (float)h;
			loss_of(&m, ids, tg, B, T);
			lm = m.loss_sum;
			*p = keep;
			fd = (lp - lm) / (2 * h);
			worst = fmax(worst, fabs(fd - an) / fmax(fabs(an), 1e-1));
		}
	printf("dropout 0.3: gradients vs central differences rel err %.3g\n",
	    worst);
	CHECK(worst <= 2e-2);
	/* the mask really drops: another counter, another loss */
	m.dropout_counter = 8;
	CHECK(ft_model_forward(&m, ids, NULL, tg, B, T) != loss_of(&m, ids, tg,
	    B, T));
	ft_model_release(&m);
}

/* PEFT's init: A in ±1/√in, B zero, so the first forward is the base's
 * bit for bit; targets by suffix; the default targets. */
static void
test_init(void)
{
	ft_model m;
	ft_lora_opts o = { .r = 4, .alpha = 16, .targets = "c_proj",
		.base = "b" };
	int32_t ids[5] = { 1, 2, 3, 4, 5 };
	size_t n;
	float *base;
	double amax = 0;
	int bzero = 1;

	CHECK(ft_model_load(&m, "tests/fixtures/lora/gpt2") == 0);
	n = (size_t)5 * m.cfg.vocab_size;
	ft_model_forward(&m, ids, NULL, NULL, 1, 5);
	base = malloc(n * sizeof(float));
	memcpy(base, ft_model_logits(&m), n * sizeof(float));
	CHECK(ft_lora_new(&m, &o, 1) == 0);
	/* c_proj: attn.c_proj and mlp.c_proj of both layers */
	CHECK_EQ_INT(m.lora->n_mods, 4);
	CHECK(strcmp(m.lora->mods[0].name, "transformer.h.0.attn.c_proj") == 0);
	CHECK(strcmp(m.lora->mods[1].name, "transformer.h.0.mlp.c_proj") == 0);
	CHECK(m.lora->scale == 4.0);
	for (size_t i = 0; i < m.lora->n_mods; i++) {
		const struct ft_lora_mod *x = &m.lora->mods[i];
		for (size_t k = 0; k < (size_t)4 * x->in; k++)
			amax = fmax(amax, fabs(m.lora->params[x->a + k]) *
			    sqrt((double)x->in));
		for (size_t k = 0; k < (size_t)4 * x->out; k++)
			bzero &= m.lora->params[x->b + k] == 0;
	}
	CHECK(amax <= 1.0 && amax > 0.9);
	CHECK(bzero);
	ft_model_forward(&m, ids, NULL, NULL, 1, 5);
	CHECK(memcmp(base, ft_model_logits(&m), n * sizeof(float)) == 0);
	CHECK(strcmp(ft_lora_default_targets(&m), "c_attn") == 0);
	o.targets = NULL;
	CHECK(ft_lora_new(&m, &o, 1) == 0);
	CHECK_EQ_INT(m.lora->n_mods, 2);
	o.rslora = 1;
	o.targets = "attn.c_attn,mlp.c_fc";
	CHECK(ft_lora_new(&m, &o, 1) == 0);
	CHECK_EQ_INT(m.lora->n_mods, 4);
	CHECK(m.lora->scale == 8.0);
	free(base);
	ft_model_release(&m);
	CHECK(ft_model_load(&m, "tests/fixtures/lora/qwen2") == 0);
	CHECK(strcmp(ft_lora_default_targets(&m), "q_proj,v_proj") == 0);
	ft_model_release(&m);
}

static void
test_refusals(void)
{
	static const char *const bad[] = {
		"{\"peft_type\": \"IA3\", \"r\": 4, \"target_modules\": [\"c_attn\"]}",
		"{\"peft_type\": \"LORA\", \"target_modules\": [\"c_attn\"]}",
		"{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": [\"q_proj\"]}",
		"{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": [\"c_attn\"], "
		    "\"use_dora\": true}",
		"{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": [\"c_attn\"], "
		    "\"bias\": \"all\"}",
		"{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": [\"c_attn\"], "
		    "\"modules_to_save\": [\"lm_head\"]}",
		"{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": [\"c_attn\"], "
		    "\"rank_pattern\": {\"c_attn\": 8}}",
		"{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": [\"c_attn\"], "
		    "\"lora_bias\": true}",
		"{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": [\"c_attn\"], "
		    "\"exclude_modules\": [\"h.0.attn.c_attn\"]}",
		/* the fixture's tensors are r 4: shape mismatch */
		"{\"peft_type\": \"LORA\", \"r\": 2, \"target_modules\": [\"c_attn\", "
		    "\"c_proj\", \"c_fc\"]}",
		/* fewer targets than the file: unexpected tensors */
		"{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": [\"c_attn\"]}",
	};
	char *d = ft_path_join(tmpdir, "bad"), *p, *w, *rp;
	ft_model m;
	ft_lora_opts o = { .r = 2, .alpha = 4, .targets = "lm_head" };

	CHECK(ft_mkdir_p(d, 0777) == 0);
	w = ft_path_join(d, "adapter_model.safetensors");
	rp = realpath("tests/fixtures/lora/gpt2/adapter_model.safetensors", NULL);
	CHECK(rp != NULL && symlink(rp, w) == 0);
	free(rp);
	p = ft_path_join(d, "adapter_config.json");
	CHECK(ft_model_load(&m, "tests/fixtures/lora/gpt2") == 0);
	fprintf(stderr, "expected errors follow:\n");
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		write_file(p, bad[i]);
		CHECK(ft_lora_load(&m, d) == -1);
		CHECK(m.lora == NULL);
	}
	CHECK(ft_lora_new(&m, &o, 1) == -1);
	o.targets = "c_attn,,c_fc";
	CHECK(ft_lora_new(&m, &o, 1) == -1);
	fprintf(stderr, "end of expected errors\n");
	/* the right one loads; a regex string matches whole names */
	write_file(p, "{\"peft_type\": \"LORA\", \"r\": 4, \"target_modules\": "
	    "\".*\\\\.(c_attn|c_proj|c_fc)\"}");
	CHECK(ft_lora_load(&m, d) == 0);
	CHECK(m.lora != NULL && m.lora->n_mods == 8);
	ft_model_release(&m);
	free(p);
	free(w);
	free(d);
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	run_case("gpt2", 1);
	run_case("llama", 2);
	run_case("qwen2", 1);
	test_init();
	test_dropout_grad();
	test_refusals();
	ft_remove_tree(tmpdir);
	return check_done();
}
