/* bf16 mixed precision in the decoder (ft_model_set_bf16): on fixture
 * models of every family (GPT-2; Llama with grouped-query and multi-query
 * heads; Qwen3's q/k norms), with padding and dropout, a bf16 forward and
 * backward equals the fp32 one of the same bf16-rounded weights within
 * bf16's rounding of the activations (loss, logits, every gradient
 * tensor), and repeats bit for bit; switched off it is fp32 bit for bit;
 * a weight change reaches the bf16 copy after ft_model_params_changed
 * (as a model loaded with those weights, bit for bit); ft_model_save
 * with save_bf16 writes BF16 tensors (bf16-rounded, torch_dtype
 * bfloat16).  Where oneDNN cannot compute bf16: SKIP (77). */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bf16.h"
#include "check.h"
#include "err.h"
#include "io.h"
#include "jsonl.h"
#include "model/model.h"
#include "rng.h"

static char tmpdir[] = "/tmp/ft-test-model-bf16.XXXXXX";

struct batch {
	int B, T;
	int32_t *ids, *tg;
	uint8_t *mask;
};

static struct batch
batch_new(const ft_model *m, uint64_t seed)
{
	struct batch b = { 2, m->cfg.n_positions < 16 ? m->cfg.n_positions : 16,
	    NULL, NULL, NULL };
	size_t N = (size_t)b.B * b.T;
	struct ft_rng r;

	ft_rng_seed(&r, seed, 0);
	b.ids = malloc(N * sizeof(int32_t));
	b.tg = malloc(N * sizeof(int32_t));
	b.mask = malloc(N);
	for (size_t n = 0; n < N; n++) {
		b.ids[n] = (int32_t)ft_rng_below(&r, (uint64_t)m->cfg.vocab_size);
		b.tg[n] = (int32_t)ft_rng_below(&r, (uint64_t)m->cfg.vocab_size);
		/* row 1: the last 5 positions padding, no targets there */
		b.mask[n] = !(n >= (size_t)b.T && n % b.T >= (size_t)b.T - 5);
		if (!b.mask[n] || n % b.T == (size_t)b.T - 1)
			b.tg[n] = -100;
	}
	return b;
}

static void
batch_free(struct batch *b)
{
	free(b->ids);
	free(b->tg);
	free(b->mask);
}

static void
load(ft_model *m, const char *dir, int threads, int bf16)
{
	if (ft_model_load(m, dir) != 0)
		ft_die("cannot load %s", dir);
	ft_model_set_threads(m, threads);
	ft_model_set_dropout(m, 0.1);
	ft_model_set_dropout_seed(m, 7);
	m->training = 1;
	if (bf16 && ft_model_set_bf16(m, 1) != 0)
		ft_die("ft_model_set_bf16");
}

/* loss of one training forward + backward (gradients zeroed first) */
static float
step(ft_model *m, const struct batch *b)
{
	float loss;

	ft_model_zero_grad(m);
	m->dropout_counter = 0;
	loss = ft_model_forward(m, b->ids, b->mask, b->tg, b->B, b->T);
	ft_model_backward(m, 1.0 / (double)m->n_targets);
	return loss;
}

static void
run_case(const char *name, int threads)
{
	char dir[256];
	ft_model f, h, h2;
	struct batch b;
	size_t NV;
	float lf, lh, lh2;
	double worst = 0, e;
	const char *wn = "";

	snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
	load(&f, dir, threads, 0);
	load(&h, dir, threads, 1);
	load(&h2, dir, threads, 1);
	/* the fp32 reference runs on the bf16-rounded weights */
	for (size_t i = 0; i < f.n_params; i++)
		f.params[i] = ft_bf16_float(ft_bf16_round(f.params[i]));
	b = batch_new(&f, 11);
	NV = (size_t)b.B * b.T * f.cfg.vocab_size;
	lf = step(&f, &b);
	lh = step(&h, &b);
	e = check_rel_l2(ft_model_logits(&h), ft_model_logits(&f), NV);
	lh2 = step(&h2, &b);
	for (size_t i = 0; i < f.n_tensors; i++) {
		const ft_param_tensor *t = &f.tensors[i];
		double g = check_rel_l2(h.grads + t->off, f.grads + t->off, t->n);
		if (g > worst) {
			worst = g;
			wn = t->name;
		}
	}
	printf("%s (threads %d): loss fp32 %.6f bf16 %.6f; logits rel err "
	    "%.2g; worst gradient rel err %.3g (%s)\n", name, threads, lf, lh,
	    e, worst, wn);
	CHECK(fabs(lh - lf) <= 1e-2 * fabs(lf));
	CHECK(e <= 2e-2);
	CHECK(worst <= 6e-2);
	CHECK(check_rel_l2(h.grads, f.grads, f.n_params) <= 2e-2);
	/* bit for bit again */
	CHECK(memcmp(&lh, &lh2, sizeof lh) == 0);
	CHECK(memcmp(h.grads, h2.grads, h.n_params * sizeof(float)) == 0);
	/* off again: fp32 exactly */
	CHECK(ft_model_set_bf16(&h2, 0) == 0);
	for (size_t i = 0; i < f.n_params; i++)
		h2.params[i] = f.params[i];
	lh2 = step(&h2, &b);
	CHECK(memcmp(&lh2, &lf, sizeof lf) == 0);
	CHECK(memcmp(h2.grads, f.grads, f.n_params * sizeof(float)) == 0);
	/* a weight change reaches the products after ft_model_params_changed
	 * (before: the stale copy), as in a model loaded with those weights */
	ft_model_release(&h2);
	load(&h2, dir, threads, 1);
	for (size_t i = 0; i < h.n_params; i++) {
		h.params[i] *= 0.5f;
		h2.params[i] *= 0.5f;
	}
	lf = step(&h2, &b);
	lh2 = step(&h, &b);
	CHECK(memcmp(&lh2, &lf, sizeof lf) != 0);
	ft_model_params_changed(&h);
	lh2 = step(&h, &b);
	CHECK(memcmp(&lh2, &lf, sizeof lf) == 0);
	CHECK(memcmp(h.grads, h2.grads, h.n_params * sizeof(float)) == 0);
	ft_model_release(&f);
	ft_model_release(&h);
	ft_model_release(&h2);
	batch_free(&b);
}

/* save_bf16: BF16 tensors (the weights rounded), torch_dtype bfloat16 */
static void
check_save(const char *name)
{
	char src[256], *dir = ft_path_join(tmpdir, "save"), *cp;
	ft_model m, r;
	cJSON *o;
	const cJSON *v;
	int same = 1;

	snprintf(src, sizeof src, "tests/fixtures/%s", name);
	CHECK(ft_model_load(&m, src) == 0);
	m.save_bf16 = 1;
	CHECK(ft_model_save_dir(&m, dir) == 0);
	CHECK(ft_model_load(&r, dir) == 0);
	CHECK(r.n_params == m.n_params);
	for (size_t i = 0; i < m.n_params && i < r.n_params; i++)
		same &= r.params[i] == ft_bf16_float(ft_bf16_round(m.params[i]));
	CHECK(same);
	cp = ft_path_join(dir, "config.json");
	o = ft_json_load(cp);
	v = o != NULL ? cJSON_GetObjectItemCaseSensitive(o, "torch_dtype") : NULL;
	CHECK(cJSON_IsString(v) && strcmp(v->valuestring, "bfloat16") == 0);
	cJSON_Delete(o);
	free(cp);
	cp = ft_path_join(dir, "model.safetensors");
	{
		ft_st_file sf;
		CHECK(ft_st_open(&sf, cp) == 0);
		for (size_t i = 0; i < sf.n; i++)
			CHECK(sf.tensors[i].dtype == FT_BF16);
		ft_st_close(&sf);
	}
	printf("%s saved as BF16: %s\n", name, same ? "the rounded weights" :
	    "DIFFERENT");
	ft_model_release(&m);
	ft_model_release(&r);
	free(cp);
	free(dir);
}

int
main(void)
{
	static const char *const cases[] = { "gpt2/a", "llama/llama_gqa",
		"llama/llama_mqa", "llama/qwen3", "llama/qwen2" };
	const char *why, *warn;
	char cmd[300];

	if (ft_bf16_probe(&why, &warn) != 0) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		run_case(cases[i], 1 + (int)(i % 2));
	run_case("gpt2/a", 2);
	check_save("llama/llama_gqa");
	check_save("gpt2/a");
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return check_done();
}
