/* Timing driver for tests/bench/train: a distilgpt2-shaped model (random
 * init) trained on random tokens; FT_BENCH_MODEL=PRESET (smollm2-135m,
 * qwen3-0.6b, any ft-train --init preset) for another shape, with the real
 * model's vocabulary.
 * usage: train_bench B T DROPOUT THREADS STEPS MODE
 * MODE: train, eval, sgemm, bgemm (the sgemm shape in bf16 through
 * oneDNN), or trainpad / trainpad0: the second half of every row is
 * padding (mask 0, target -100), with and without skip_ignored_logits;
 * lora: the base frozen, LoRA adapters of rank FT_BENCH_LORA_R (16) on
 * every linear layer (all-linear, alpha 32, lora_dropout 0.05) trained.
 * FT_BENCH_BF16=1: the model in bf16 mixed precision (ft-train --bf16).
 * Prints one line: "ms_per_step MEDIAN_MS min MIN_MS" (or "gflops G" for
 * sgemm and bgemm), plus "rss_mb" and the OpenBLAS core. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <cblas.h>

#include "bf16.h"
#include "blas.h"
#include "err.h"
#include "model/lora.h"
#include "model/model.h"
#include "optim.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	int B, T, threads, steps, bf16;
	double p;
	const char *mode;
	double t[64];

	ft_blas_init(argc, argv);
	ft_setprog(argv[0]);
	if (argc != 7)
		ft_die("usage: train_bench B T DROPOUT THREADS STEPS MODE");
	B = atoi(argv[1]);
	T = atoi(argv[2]);
	p = strtod(argv[3], NULL);
	threads = atoi(argv[4]);
	steps = atoi(argv[5]);
	mode = argv[6];
	if (steps > 64)
		steps = 64;
	ft_blas_set_threads(threads);
	if (strcmp(mode, "sgemm") == 0) {
		/* the step's dominant shape: [1024,768] x [768,3072] and friends */
		int M = 1024, N = 3072, K = 768;
		float *a = calloc((size_t)M * K, 4), *b = calloc((size_t)K * N, 4);
		float *c = calloc((size_t)M * N, 4);
		for (int i = 0; i < M * K; i++)
			a[i] = (float)(i % 7) * 0.1f;
		for (int i = 0; i < K * N; i++)
			b[i] = (float)(i % 5) * 0.1f;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a,
		    K, b, N, 0, c, N);
		for (int s = 0; s < steps; s++) {
			double t0 = now();
			for (int r = 0; r < 5; r++)
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N,
				    K, 1, a, K, b, N, 0, c, N);
			t[s] = 2.0 * M * N * K * 5 / (now() - t0) / 1e9;
		}
		qsort(t, (size_t)steps, sizeof(double), cmpd);
		printf("gflops %.1f core %s\n", t[steps - 1], ft_blas_corename());
		return 0;
	}
	if (strcmp(mode, "bgemm") == 0) {
		/* the same shape in bf16 through oneDNN (--bf16's products) */
		int M = 1024, N = 3072, K = 768;
		ft_bf16 *a = calloc((size_t)M * K, 2), *b = calloc((size_t)K * N, 2);
		float *c = calloc((size_t)M * N, 4);
		if (ft_bf16_init() != 0)
			return 1;
		for (int s = -1; s < steps; s++) {
			double t0 = now();
			for (int r = 0; r < 5; r++)
				if (ft_bf16_linear_fwd(c, a, b, NULL, M, K, N, FT_W_IO,
				    threads) != 0)
					return 1;
			if (s >= 0)
				t[s] = 2.0 * M * N * K * 5 / (now() - t0) / 1e9;
		}
		qsort(t, (size_t)steps, sizeof(double), cmpd);
		printf("gflops %.1f core %s\n", t[steps - 1], ft_bf16_describe());
		return 0;
	}
	{
		ft_model_config cfg;
		ft_model m;
		ft_adamw opt;
		int32_t *ids = malloc((size_t)B * T * 4), *tg = malloc((size_t)B * T * 4);
		uint8_t *mask = malloc((size_t)B * T);
		int pad = strncmp(mode, "trainpad", 8) == 0;
		uint64_t s = 12345;
		struct rusage ru;

		const char *shape = getenv("FT_BENCH_MODEL");
		int V;
		float *P, *G;
		size_t NP, NT;
		const ft_param_tensor *TT;

		if (shape == NULL || *shape == '\0')
			shape = "distilgpt2";
		if (ft_model_preset(shape, &cfg) < 0)
			ft_die("FT_BENCH_MODEL: no preset '%s'", shape);
		/* the real models' vocabularies */
		cfg.vocab_size = V = strcmp(shape, "smollm2-135m") == 0 ? 49152 :
		    strncmp(shape, "qwen3", 5) == 0 ? 151936 : 50257;
		ft_model_new(&m, &cfg, 0);
		ft_model_set_dropout(&m, p);
		ft_model_init_random(&m, 1);
		ft_model_set_threads(&m, threads);
		ft_model_set_dropout_seed(&m, 42);
		bf16 = getenv("FT_BENCH_BF16") != NULL &&
		    strcmp(getenv("FT_BENCH_BF16"), "1") == 0;
		if (bf16 && ft_model_set_bf16(&m, 1) != 0)
			return 1;
		if (strcmp(mode, "lora") == 0) {
			const char *rs = getenv("FT_BENCH_LORA_R");
			const char *ds = getenv("FT_BENCH_LORA_DROPOUT");
			ft_lora_opts lo = { .r = rs != NULL ? atoi(rs) : 16,
				.alpha = 32, .dropout = ds != NULL ? atof(ds) : 0.05,
				.targets = "all-linear", .base = shape };
			if (ft_lora_new(&m, &lo, 1) < 0)
				return 1;
		}
		ft_model_trainable(&m, &P, &G, &NP, &TT, &NT);
		ft_adamw_init(&opt, NP);
		opt.weight_decay = 0.01;
		opt.threads = threads;
		for (int i = 0; i < B * T; i++) {
			s = s * 6364136223846793005ULL + 1442695040888963407ULL;
			ids[i] = (int32_t)((s >> 33) % (uint64_t)V);
		}
		for (int i = 0; i < B * T; i++) {
			tg[i] = (i + 1) % T == 0 ? -100 : ids[i + 1];
			mask[i] = !(pad && i % T >= T / 2);
			if (pad && i % T >= T / 2 - 1)
				tg[i] = -100;
		}
		m.training = strcmp(mode, "eval") != 0;
		m.skip_ignored_logits = strcmp(mode, "trainpad") == 0;
		for (int k = 0; k <= steps; k++) {
			double t0 = now();
			float loss;
			if (m.training) {
				ft_model_zero_grad(&m);
				loss = ft_model_forward(&m, ids, mask, tg, B, T);
				ft_model_backward(&m, 1.0 / m.n_targets);
				/* the trained parameters (the adapters with lora) */
				ft_model_trainable(&m, &P, &G, &NP, &TT, &NT);
				ft_clip_grad_norm(G, NP, 1.0, threads);
				ft_adamw_step(&opt, P, G, 5e-5, TT, NT);
				ft_model_params_changed(&m);
			} else {
				loss = ft_model_forward(&m, ids, NULL, tg, B, T);
			}
			if (k > 0)
				t[k - 1] = (now() - t0) * 1000;
			if (k == 0)
				fprintf(stderr, "loss %.4f\n", loss);
		}
		qsort(t, (size_t)steps, sizeof(double), cmpd);
		getrusage(RUSAGE_SELF, &ru);
		{
			/* the parts of the memory bound: the base weights, their
			 * gradients (none with lora), the trained parameters'
			 * two AdamW moments, the adapters with their gradients,
			 * and the rest of what the model holds (activations and
			 * backward scratch; with --bf16 also the bf16 copy) */
			double MB = 1048576.0, w = m.n_params * 4.0;
			double g = m.grads != NULL ? w : 0;
			double ad = m.lora != NULL ? 2.0 * NP * 4 : 0;
			double acts = (double)ft_model_memory(&m) - w - g;

			printf("ms_per_step %.1f min %.1f rss_mb %.0f model_mb %.0f "
			    "weights_mb %.0f grads_mb %.0f adam_mb %.0f "
			    "adapters_mb %.0f acts_mb %.0f "
			    "core %s params %zu layers %d attn %d\n", t[steps / 2],
			    t[0], ru.ru_maxrss / 1024.0,
			    (w + g + 2.0 * NP * 4 + ad + acts) / MB, w / MB, g / MB,
			    2.0 * NP * 4 / MB, ad / MB, acts / MB,
			    ft_blas_corename(), m.n_params, m.cfg.n_layer,
			    m.cfg.n_head * m.cfg.head_dim);
		}
		ft_model_release(&m);
		ft_adamw_release(&opt);
		free(ids);
		free(tg);
		free(mask);
	}
	return 0;
}
