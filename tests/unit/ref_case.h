/* The training check shared by the reference-fixture tests
 * (tests/ref/gpt2_ref.py, tests/ref/llama_ref.py write the same keys):
 * logits and loss of micro-batch 0 (rel. error <= 1e-5), every gradient of
 * step 0 and every parameter after the AdamW steps with warmup, decay,
 * clipping and accumulation (<= 1e-4), per-step loss, norm and lr.
 * Relative error of a tensor = max |c - ref| / max |ref|. */
#ifndef FT_REF_CASE_H
#define FT_REF_CASE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gpt2_fixture.h"
#include "model/model.h"
#include "optim.h"

static double
relerr(const float *a, const float *b, size_t n)
{
	double d = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - b[i]);
		if (e > d || isnan(e))
			d = isnan(e) ? INFINITY : e;
		if (fabs(b[i]) > m)
			m = fabs(b[i]);
	}
	return m > 0 ? d / m : d;
}

static void
get_batch(const struct fix *r, int i, int B, int T, int32_t *ids,
    uint8_t *mask, int32_t *targets)
{
	char nm[64];
	const int32_t *p;
	int32_t *lab = malloc((size_t)B * T * sizeof(int32_t));

	snprintf(nm, sizeof(nm), "ids.%d", i);
	p = fix_get(r, nm, NULL);
	memcpy(ids, p, (size_t)B * T * sizeof(int32_t));
	snprintf(nm, sizeof(nm), "mask.%d", i);
	p = fix_get(r, nm, NULL);
	for (int j = 0; j < B * T; j++)
		mask[j] = (uint8_t)p[j];
	snprintf(nm, sizeof(nm), "labels.%d", i);
	p = fix_get(r, nm, NULL);
	memcpy(lab, p, (size_t)B * T * sizeof(int32_t));
	ft_model_shift_labels(lab, targets, B, T);
	free(lab);
}

/* The part of tensor t that has an exactly-zero true gradient: the key
 * bias (c_attn.bias's middle third; k_proj.bias) adds q·b_k to a whole
 * score row, which softmax ignores, so both sides feed rounding noise to
 * Adam, which scales it up to lr-sized steps of random sign.  [*lo, *hi)
 * is left out of the gradient and parameter comparisons. */
static void
key_bias_span(const ft_model *m, const ft_param_tensor *t, size_t *lo,
    size_t *hi)
{
	size_t n = strlen(t->name);

	*lo = *hi = 0;
	if (n >= 11 && strcmp(t->name + n - 11, "c_attn.bias") == 0) {
		*lo = (size_t)m->cfg.n_embd;
		*hi = 2 * *lo;
	} else if (n >= 11 && strcmp(t->name + n - 11, "k_proj.bias") == 0) {
		*lo = 0;
		*hi = t->n;
	}
}

/* relerr over [0, n) without [lo, hi). */
static double
relerr_but(const float *a, const float *b, size_t n, size_t lo, size_t hi)
{
	double e1 = relerr(a, b, lo), e2 = relerr(a + hi, b + hi, n - hi);

	return lo == hi ? relerr(a, b, n) : e1 > e2 ? e1 : e2;
}

/* Train m (weights as in the fixture) on the fixture's batches: what
 * ft_model_trainable() names (the model, or its LoRA adapters). */
static void
ref_train(ft_model *m, struct fix *rf, int B, int T, int threads, int skip)
{
	const ft_model_config cfg = m->cfg;
	char nm[256];
	size_t lo, hi;
	ft_adamw opt;
	int steps, accum, warmup;
	double lr0, max_norm;
	const float *ref_loss, *ref_norm, *ref_lr, *ref_step_loss;
	int32_t *ids = malloc((size_t)B * T * 4), *tg = malloc((size_t)B * T * 4);
	uint8_t *mask = malloc((size_t)B * T);
	float *P, *G;
	size_t NP, NT;
	const ft_param_tensor *TT;

	steps = atoi(fix_meta(rf, "steps"));
	accum = atoi(fix_meta(rf, "accum"));
	warmup = atoi(fix_meta(rf, "warmup"));
	lr0 = strtod(fix_meta(rf, "lr"), NULL);
	max_norm = strtod(fix_meta(rf, "max_norm"), NULL);
	ref_loss = fix_get(rf, "loss", NULL);
	ref_norm = fix_get(rf, "grad_norm", NULL);
	ref_lr = fix_get(rf, "lr", NULL);
	ref_step_loss = fix_get(rf, "step_loss", NULL);

	ft_model_set_threads(m, threads);
	ft_model_trainable(m, &P, &G, &NP, &TT, &NT);
	ft_adamw_init(&opt, NP);
	opt.weight_decay = 0.01;
	opt.threads = threads;
	m->training = 1; /* dropout probabilities are 0 in these configs */
	m->skip_ignored_logits = skip;
	for (int k = 0; k < steps; k++) {
		int64_t total = 0;
		double step_loss = 0, norm, lr;

		/* count targets of all micro-batches first (accumulation) */
		for (int j = 0; j < accum; j++) {
			get_batch(rf, k * accum + j, B, T, ids, mask, tg);
			for (int i = 0; i < B * T; i++)
				total += tg[i] != -100;
		}
		ft_model_zero_grad(m);
		ft_model_trainable(m, &P, &G, &NP, &TT, &NT);
		for (int j = 0; j < accum; j++) {
			float loss;
			get_batch(rf, k * accum + j, B, T, ids, mask, tg);
			loss = ft_model_forward(m, ids, mask, tg, B, T);
			if (k == 0 && j == 0) {
				size_t n = 0;
				const float *rl = fix_get(rf, "logits", &n);
				double e;
				if (skip) {
					/* compact rows: those with a target, in order */
					size_t V = (size_t)cfg.vocab_size, r = 0;
					float *full = calloc(n, sizeof(float));
					float *want = calloc(n, sizeof(float));
					for (int i = 0; i < B * T; i++)
						if (tg[i] != -100) {
							memcpy(full + (size_t)i * V,
							    ft_model_logits(m) + r++ * V, V * 4);
							memcpy(want + (size_t)i * V, rl +
							    (size_t)i * V, V * 4);
						}
					e = relerr(full, want, n);
					free(full);
					free(want);
				} else {
					e = relerr(ft_model_logits(m), rl, n);
				}
				printf("  logits rel err %.3g\n", e);
				CHECK(n == (size_t)B * T * cfg.vocab_size);
				CHECK(e <= 1e-5);
				CHECK_NEAR(loss, ref_loss[0], 1e-5);
			}
			step_loss += m->loss_sum / (double)total;
			ft_model_backward(m, 1.0 / (double)total);
		}
		CHECK_NEAR(step_loss, ref_step_loss[k], 1e-5);
		if (k == 0) {
			double worst = 0;
			for (size_t i = 0; i < NT; i++) {
				const ft_param_tensor *t = &TT[i];
				size_t n = 0;
				const float *rg;
				double e;
				snprintf(nm, sizeof(nm), "grad.%s", t->name);
				rg = fix_get(rf, nm, &n);
				CHECK(rg != NULL && n == t->n);
				if (rg == NULL)
					continue;
				key_bias_span(m, t, &lo, &hi);
				if (hi - lo == n) {
					/* a whole key bias: both sides are rounding
					 * noise around 0; compare absolutely */
					double d = 0;
					for (size_t i = 0; i < n; i++)
						d = fmax(d, fabs(G[t->off + i] - rg[i]));
					CHECK(d <= 1e-6);
					continue;
				}
				e = relerr(G + t->off, rg, n);
				if (e > 1e-4)
					printf("  grad %s rel err %.3g\n", t->name, e);
				CHECK(e <= 1e-4);
				worst = e > worst ? e : worst;
			}
			printf("  worst gradient rel err %.3g\n", worst);
		}
		norm = ft_clip_grad_norm(G, NP, max_norm, threads);
		CHECK_NEAR(norm, ref_norm[k], 1e-4);
		lr = lr0 * ft_lr_lambda(FT_LR_LINEAR, k, warmup, steps);
		CHECK_NEAR(lr, ref_lr[k], 1e-6);
		ft_adamw_step(&opt, P, G, lr, TT, NT);
	}
	{
		double worst = 0;
		for (size_t i = 0; i < NT; i++) {
			const ft_param_tensor *t = &TT[i];
			size_t n = 0;
			const float *rp;
			double e;
			snprintf(nm, sizeof(nm), "final.%s", t->name);
			rp = fix_get(rf, nm, &n);
			CHECK(rp != NULL && n == t->n);
			if (rp == NULL)
				continue;
			key_bias_span(m, t, &lo, &hi);
			e = relerr_but(P + t->off, rp, n, lo, hi);
			if (e > 1e-4)
				printf("  param %s rel err %.3g\n", t->name, e);
			CHECK(e <= 1e-4);
			worst = e > worst ? e : worst;
		}
		printf("  worst parameter rel err after %d steps %.3g\n", steps,
		    worst);
	}
	ft_adamw_release(&opt);
	free(ids);
	free(tg);
	free(mask);
}

/* dims of tensor name in the fixture */
static inline void
fix_shape(const struct fix *f, const char *name, int *d0, int *d1)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(f->hdr, name);
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "shape");

	*d0 = (int)cJSON_GetArrayItem(s, 0)->valuedouble;
	*d1 = cJSON_GetArraySize(s) > 1 ?
	    (int)cJSON_GetArrayItem(s, 1)->valuedouble : 1;
}

/* Greedy decode of every fixture prompt through the KV cache. */
static inline void
check_generation(ft_model *m, const struct fix *rf)
{
	int np = atoi(fix_meta(rf, "gen_prompts"));
	int nn = atoi(fix_meta(rf, "gen_new"));
	int V = m->cfg.vocab_size, same = 1;
	float *lg = malloc((size_t)V * sizeof(float));
	double worst = 0;

	for (int j = 0; j < np; j++) {
		char nm[64];
		size_t plen = 0;
		const int32_t *pr, *want;
		const float *wl;
		ft_kv *kv = ft_kv_new(m, 1, 64);
		int32_t next = 0;

		snprintf(nm, sizeof nm, "gen.prompt.%d", j);
		pr = fix_get(rf, nm, &plen);
		snprintf(nm, sizeof nm, "gen.ids.%d", j);
		want = fix_get(rf, nm, NULL);
		snprintf(nm, sizeof nm, "gen.logits.%d", j);
		wl = fix_get(rf, nm, NULL);
		CHECK(kv != NULL && pr != NULL && want != NULL && wl != NULL);
		if (kv == NULL || pr == NULL || want == NULL || wl == NULL)
			return;
		CHECK(ft_kv_prefill(m, kv, 0, pr, (int)plen, lg) == 0);
		for (int s = 0; s < nn; s++) {
			double e = relerr(lg, wl + (size_t)s * V, (size_t)V);
			worst = e > worst ? e : worst;
			next = 0;
			for (int v = 1; v < V; v++)
				if (lg[v] > lg[next])
					next = v;
			same &= next == want[s];
			if (s + 1 < nn)
				CHECK(ft_kv_decode_step(m, kv, &next, NULL, lg) == 0);
		}
		ft_kv_free(kv);
	}
	printf("  greedy generation %s, cached logits rel err %.3g\n",
	    same ? "equal" : "DIFFERENT", worst);
	CHECK(same);
	CHECK(worst <= 1e-5);
	free(lg);
}

#endif
