/* 16- and 8-bit weights for decoding (ft_model_quantize), on fixture
 * models of every family, tied and untied: the eval loss of a held-out
 * batch through the quantised weights is within 0.5% (bf16) / 1% (int8)
 * of fp32; KV-cache decoding (prompts of more and fewer than 16 tokens,
 * then single steps: ft_qmat_mul) gives the logits of a full forward
 * over the same quantised weights (dequantised sgemm) up to summation
 * order; the bytes held shrink to about 1/2 and 0.28 of fp32; saving,
 * backward and a second quantisation are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "model/model.h"
#include "rng.h"

static float
eval_loss(ft_model *m, const int32_t *ids, const int32_t *tg, int B, int T)
{
	m->training = 0;
	return ft_model_forward(m, ids, NULL, tg, B, T);
}

static void
run_case(const char *name, ft_qtype t, int threads)
{
	char dir[256];
	ft_model f, q;
	int T = 20, B = 2, V;
	int32_t *ids, *tg;
	float lf, lq, *full, *lg;
	double worst = 0;
	struct ft_rng r;
	ft_kv *kv;

	snprintf(dir, sizeof dir, "tests/fixtures/%s", name);
	CHECK(ft_model_load(&f, dir) == 0);
	CHECK(ft_model_load(&q, dir) == 0);
	ft_model_set_threads(&f, threads);
	ft_model_set_threads(&q, threads);
	CHECK(ft_model_quantize(&q, t) == 0);
	if (T > f.cfg.n_positions)
		T = f.cfg.n_positions;
	V = f.cfg.vocab_size;
	ids = malloc((size_t)B * T * sizeof(int32_t));
	tg = malloc((size_t)B * T * sizeof(int32_t));
	ft_rng_seed(&r, 5, 0);
	for (int i = 0; i < B * T; i++)
		ids[i] = (int32_t)ft_rng_below(&r, (uint64_t)V);
	ft_model_shift_labels(ids, tg, B, T);
	lf = eval_loss(&f, ids, tg, B, T);
	lq = eval_loss(&q, ids, tg, B, T);
	full = malloc((size_t)B * T * V * sizeof(float));
	memcpy(full, ft_model_logits(&q), (size_t)B * T * V * sizeof(float));
	/* row 0 through the cache: a prompt of 5 then single tokens; row 1
	 * as one prompt of T (more than 16 rows when T allows) */
	lg = malloc((size_t)V * sizeof(float));
	kv = ft_kv_new(&q, 1, T);
	CHECK(kv != NULL);
	CHECK(ft_kv_prefill(&q, kv, 0, ids, 5, lg) == 0);
	worst = check_rel_l2(lg, full + 4 * (size_t)V, (size_t)V);
	for (int s = 5; s < T; s++) {
		double e;
		CHECK(ft_kv_decode_step(&q, kv, ids + s, NULL, lg) == 0);
		e = check_rel_l2(lg, full + (size_t)s * V, (size_t)V);
		worst = e > worst ? e : worst;
	}
	ft_kv_reset(kv, -1);
	CHECK(ft_kv_prefill(&q, kv, 0, ids + T, T, lg) == 0);
	{
		double e = check_rel_l2(lg, full + ((size_t)2 * T - 1) * V,
		    (size_t)V);
		worst = e > worst ? e : worst;
	}
	ft_kv_free(kv);
	printf("%s %s (threads %d): eval loss fp32 %.6f, %s %.6f (%+.3f%%); "
	    "cached logits vs forward rel err %.2g\n", name, ft_qtype_name(t),
	    threads, lf, ft_qtype_name(t), lq, 100.0 * (lq - lf) / lf, worst);
	CHECK(fabs(lq - lf) <= (t == FT_Q_BF16 ? 0.005 : 0.01) * lf);
	CHECK(t == FT_Q_BF16 || lq != lf); /* bf16 files: bf16 is lossless */
	CHECK(worst <= 1e-5);
	CHECK(ft_model_quantize(&q, t) == -1);
	CHECK(ft_model_save(&q, "/nonexistent/x.safetensors") == -1);
	ft_model_release(&f);
	ft_model_release(&q);
	free(ids);
	free(tg);
	free(full);
	free(lg);
}

/* Bytes held: a model with matrices of many pages each. */
static void
check_bytes(const char *preset, ft_qtype t, double most)
{
	ft_model_config c;
	ft_model m;
	size_t b32, bq;

	CHECK(ft_model_preset(preset, &c) == 0);
	c.vocab_size = 4096;
	CHECK(ft_model_new(&m, &c, 0) == 0);
	ft_model_init_random(&m, 1);
	b32 = ft_model_memory(&m);
	CHECK(ft_model_quantize(&m, t) == 0);
	bq = ft_model_memory(&m);
	printf("%s %s: %zu bytes held, fp32 %zu (%.3f)\n", preset,
	    ft_qtype_name(t), bq, b32, (double)bq / (double)b32);
	CHECK((double)bq <= most * (double)b32);
	ft_model_release(&m);
}

/* Backward of a quantised model: refused (dies). */
static void
check_no_backward(void)
{
	pid_t p = fork();
	int st;

	if (p == 0) {
		ft_model m;
		int32_t ids[4] = { 1, 2, 3, 4 }, tg[4] = { 2, 3, 4, -100 };
		if (ft_model_load(&m, "tests/fixtures/gpt2/a") != 0 ||
		    ft_model_quantize(&m, FT_Q_Q8_0) != 0)
			_exit(0);
		fclose(stderr);
		ft_model_forward(&m, ids, NULL, tg, 1, 4);
		ft_model_backward(&m, 1.0);
		_exit(0);
	}
	CHECK(p > 0 && waitpid(p, &st, 0) == p);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0);
}

int
main(void)
{
	static const char *const cases[] = { "gpt2/a", "gpt2/b",
		"llama/llama_gqa", "llama/llama_mqa", "llama/qwen3",
		"llama/llama3", "llama/mistral" };

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		run_case(cases[i], FT_Q_BF16, 1 + (int)(i % 2));
		run_case(cases[i], FT_Q_Q8_0, 2 - (int)(i % 2));
	}
	check_bytes("gpt2-micro", FT_Q_BF16, 0.56);
	check_bytes("llama-micro", FT_Q_Q8_0, 0.36);
	check_no_backward();
	return check_done();
}
