/* GPT-2 engine against the PyTorch reference (tests/ref/gpt2_ref.py):
 * logits and loss (rel. error <= 1e-5), every parameter gradient and the
 * parameters after several AdamW steps with warmup, decay, clipping and
 * gradient accumulation (<= 1e-4), on right-padded batches.  Relative
 * error of a tensor = max |c - ref| / max |ref|. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/model.h"
#include "gpt2_fixture.h"
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

static int
load_fix_weights(ft_model *m, const struct fix *f)
{
	char name[256];

	for (size_t i = 0; i < m->n_tensors; i++) {
		const ft_param_tensor *t = &m->tensors[i];
		size_t n = 0;
		const void *d = fix_get(f, t->name, &n);
		if (d == NULL) {
			snprintf(name, sizeof(name), "transformer.%s", t->name);
			d = fix_get(f, name, &n);
		}
		if (d == NULL || n != t->n) {
			fprintf(stderr, "fixture lacks %s\n", t->name);
			return -1;
		}
		memcpy(m->params + t->off, d, n * sizeof(float));
	}
	return 0;
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

static void
run_case(const char *name, int B, int T, int threads, int skip)
{
	char path[256], nm[256];
	ft_model_config cfg;
	ft_model m;
	ft_adamw opt;
	struct fix mf, rf;
	int steps, accum, warmup;
	double lr0, max_norm;
	const float *ref_loss, *ref_norm, *ref_lr, *ref_step_loss;
	int32_t *ids = malloc((size_t)B * T * 4), *tg = malloc((size_t)B * T * 4);
	uint8_t *mask = malloc((size_t)B * T);

	printf("case %s (threads %d%s)\n", name, threads,
	    skip ? ", logits only where targets" : "");
	snprintf(path, sizeof(path), "tests/fixtures/gpt2/%s/config.json", name);
	CHECK(ft_model_config_load(&cfg, path) == 0);
	CHECK(ft_model_new(&m, &cfg, !cfg.tie_word_embeddings) == 0);
	snprintf(path, sizeof(path), "tests/fixtures/gpt2/%s/model.safetensors",
	    name);
	CHECK(fix_open(&mf, path) == 0);
	CHECK(load_fix_weights(&m, &mf) == 0);
	snprintf(path, sizeof(path), "tests/fixtures/gpt2/%s/ref.safetensors",
	    name);
	CHECK(fix_open(&rf, path) == 0);
	steps = atoi(fix_meta(&rf, "steps"));
	accum = atoi(fix_meta(&rf, "accum"));
	warmup = atoi(fix_meta(&rf, "warmup"));
	lr0 = strtod(fix_meta(&rf, "lr"), NULL);
	max_norm = strtod(fix_meta(&rf, "max_norm"), NULL);
	ref_loss = fix_get(&rf, "loss", NULL);
	ref_norm = fix_get(&rf, "grad_norm", NULL);
	ref_lr = fix_get(&rf, "lr", NULL);
	ref_step_loss = fix_get(&rf, "step_loss", NULL);

	ft_model_set_threads(&m, threads);
	ft_adamw_init(&opt, m.n_params);
	opt.weight_decay = 0.01;
	opt.threads = threads;
	m.training = 1; /* dropout probabilities are 0 in these configs */
	m.skip_ignored_logits = skip;
	for (int k = 0; k < steps; k++) {
		int64_t total = 0;
		double step_loss = 0, norm, lr;

		/* count targets of all micro-batches first (accumulation) */
		for (int j = 0; j < accum; j++) {
			get_batch(&rf, k * accum + j, B, T, ids, mask, tg);
			for (int i = 0; i < B * T; i++)
				total += tg[i] != -100;
		}
		ft_model_zero_grad(&m);
		for (int j = 0; j < accum; j++) {
			float loss;
			get_batch(&rf, k * accum + j, B, T, ids, mask, tg);
			loss = ft_model_forward(&m, ids, mask, tg, B, T);
			if (k == 0 && j == 0) {
				size_t n = 0;
				const float *rl = fix_get(&rf, "logits", &n);
				double e;
				if (skip) {
					/* compact rows: those with a target, in order */
					size_t V = (size_t)cfg.vocab_size, r = 0;
					float *full = calloc(n, sizeof(float));
					float *want = calloc(n, sizeof(float));
					for (int i = 0; i < B * T; i++)
						if (tg[i] != -100) {
							memcpy(full + (size_t)i * V,
							    ft_model_logits(&m) + r++ * V, V * 4);
							memcpy(want + (size_t)i * V, rl +
							    (size_t)i * V, V * 4);
						}
					e = relerr(full, want, n);
					free(full);
					free(want);
				} else {
					e = relerr(ft_model_logits(&m), rl, n);
				}
				printf("  logits rel err %.3g\n", e);
				CHECK(n == (size_t)B * T * cfg.vocab_size);
				CHECK(e <= 1e-5);
				CHECK_NEAR(loss, ref_loss[0], 1e-5);
			}
			step_loss += m.loss_sum / (double)total;
			ft_model_backward(&m, 1.0 / (double)total);
		}
		CHECK_NEAR(step_loss, ref_step_loss[k], 1e-5);
		if (k == 0) {
			double worst = 0;
			for (size_t i = 0; i < m.n_tensors; i++) {
				const ft_param_tensor *t = &m.tensors[i];
				size_t n = 0;
				const float *rg;
				double e;
				snprintf(nm, sizeof(nm), "grad.%s", t->name);
				rg = fix_get(&rf, nm, &n);
				CHECK(rg != NULL && n == t->n);
				if (rg == NULL)
					continue;
				e = relerr(m.grads + t->off, rg, n);
				if (e > 1e-4)
					printf("  grad %s rel err %.3g\n", t->name, e);
				CHECK(e <= 1e-4);
				worst = e > worst ? e : worst;
			}
			printf("  worst gradient rel err %.3g\n", worst);
		}
		norm = ft_clip_grad_norm(m.grads, m.n_params, max_norm, threads);
		CHECK_NEAR(norm, ref_norm[k], 1e-4);
		lr = lr0 * ft_lr_lambda(FT_LR_LINEAR, k, warmup, steps);
		CHECK_NEAR(lr, ref_lr[k], 1e-6);
		ft_adamw_step(&opt, m.params, m.grads, lr, m.tensors, m.n_tensors);
	}
	{
		double worst = 0;
		for (size_t i = 0; i < m.n_tensors; i++) {
			const ft_param_tensor *t = &m.tensors[i];
			size_t n = 0;
			const float *rp;
			double e;
			snprintf(nm, sizeof(nm), "final.%s", t->name);
			rp = fix_get(&rf, nm, &n);
			CHECK(rp != NULL && n == t->n);
			if (rp == NULL)
				continue;
			e = relerr(m.params + t->off, rp, n);
			if (strstr(t->name, "c_attn.bias") != NULL) {
				/* The key bias has an exactly-zero true gradient (it
				 * adds q·b_k to a whole score row, which softmax
				 * ignores), so both sides feed rounding noise to
				 * Adam, which scales it up to lr-sized steps of
				 * random sign.  Compare the q and v parts only. */
				size_t C = (size_t)cfg.n_embd;
				double e1 = relerr(m.params + t->off, rp, C);
				double e2 = relerr(m.params + t->off + 2 * C,
				    rp + 2 * C, C);
				e = e1 > e2 ? e1 : e2;
			}
			if (e > 1e-4)
				printf("  param %s rel err %.3g\n", t->name, e);
			CHECK(e <= 1e-4);
			worst = e > worst ? e : worst;
		}
		printf("  worst parameter rel err after %d steps %.3g\n", steps,
		    worst);
	}
	ft_adamw_release(&opt);
	ft_model_release(&m);
	fix_close(&mf);
	fix_close(&rf);
	free(ids);
	free(tg);
	free(mask);
}

int
main(void)
{
	run_case("a", 3, 7, 1, 0);
	run_case("b", 2, 13, 2, 0);
	run_case("a", 3, 7, 2, 1);
	run_case("b", 2, 13, 1, 1);
	return check_done();
}
