/* GPT-2 engine against the PyTorch reference (tests/ref/gpt2_ref.py):
 * logits and loss (rel. error <= 1e-5), every parameter gradient and the
 * parameters after several AdamW steps with warmup, decay, clipping and
 * gradient accumulation (<= 1e-4), on right-padded batches.  Relative
 * error of a tensor = max |c - ref| / max |ref| (tests/unit/ref_case.h). */
#include "ref_case.h"

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
run_case(const char *name, int B, int T, int threads, int skip)
{
	char path[256];
	ft_model_config cfg;
	ft_model m;
	struct fix mf, rf;

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
	ref_train(&m, &rf, B, T, threads, skip);
	ft_model_release(&m);
	fix_close(&mf);
	fix_close(&rf);
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
