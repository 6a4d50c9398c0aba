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

/* Train m (weights as in the fixture) on the fixture's batches. */
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
	ft_adamw_init(&opt, m->n_params);
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
			for (size_t i = 0; i < m->n_tensors; i++) {
				const ft_param_tensor *t = &m->tensors[i];
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
						d = fmax(d, fabs(m->grads[t->off + i] - rg[i]));
					CHECK(d <= 1e-6);
					continue;
				}
				e = relerr(m->grads + t->off, rg, n);
				if (e > 1e-4)
					printf("  grad %s rel err %.3g\n", t->name, e);
				CHECK(e <= 1e-4);
				worst = e > worst ? e : worst;
			}
			printf("  worst gradient rel err %.3g\n", worst);
		}
		norm = ft_clip_grad_norm(m->grads, m->n_params, max_norm, threads);
		CHECK_NEAR(norm, ref_norm[k], 1e-4);
		lr = lr0 * ft_lr_lambda(FT_LR_LINEAR, k, warmup, steps);
		CHECK_NEAR(lr, ref_lr[k], 1e-6);
		ft_adamw_step(&opt, m->params, m->grads, lr, m->tensors, m->n_tensors);
	}
	{
		double worst = 0;
		for (size_t i = 0; i < m->n_tensors; i++) {
			const ft_param_tensor *t = &m->tensors[i];
			size_t n = 0;
			const float *rp;
			double e;
			snprintf(nm, sizeof(nm), "final.%s", t->name);
			rp = fix_get(rf, nm, &n);
			CHECK(rp != NULL && n == t->n);
			if (rp == NULL)
				continue;
			key_bias_span(m, t, &lo, &hi);
			e = relerr_but(m->params + t->off, rp, n, lo, hi);
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

#endif
