/* Quality driver for tests/bench/sample (issue 13): the eval loss of a
 * held-out token file through fp32, bf16 and int8 weights (the kernels of
 * ft-sample --dtype, ft_model_quantize).
 * usage: quant_eval MODEL_DIR TOKENS THREADS [T [WINDOWS]]
 * The file's ids cut into windows of T (256) tokens, at most WINDOWS (8),
 * batches of 4; prints "fp32 LOSS bf16 LOSS int8 LOSS". */
#include <stdio.h>
#include <stdlib.h>

#include "blas.h"
#include "err.h"
#include "model/model.h"
#include "tokfile.h"

static double
eval(const char *dir, int q, ft_qtype t, const ft_tok_data *d, int T,
    int nw, int threads)
{
	ft_model m;
	int32_t *ids = ft_malloc((size_t)4 * T * sizeof(int32_t));
	int32_t *tg = ft_malloc((size_t)4 * T * sizeof(int32_t));
	double sum = 0;
	int64_t n = 0;

	if (ft_model_load(&m, dir) != 0)
		exit(1);
	ft_model_set_threads(&m, threads);
	if (q && ft_model_quantize(&m, t) != 0)
		exit(1);
	for (int w = 0; w < nw; w += 4) {
		int B = nw - w < 4 ? nw - w : 4;
		for (int i = 0; i < B * T; i++)
			ids[i] = (int32_t)d->ids[(size_t)w * T + (size_t)i];
		ft_model_shift_labels(ids, tg, B, T);
		ft_model_forward(&m, ids, NULL, tg, B, T);
		sum += m.loss_sum;
		n += m.n_targets;
	}
	ft_model_release(&m);
	free(ids);
	free(tg);
	return sum / (double)n;
}

int
main(int argc, char **argv)
{
	ft_tok_data d;
	int threads, T, nw;

	ft_blas_init(argc, argv);
	ft_setprog(argv[0]);
	if (argc < 4)
		ft_die("usage: quant_eval MODEL_DIR TOKENS THREADS [T [WINDOWS]]");
	threads = atoi(argv[3]);
	T = argc > 4 ? atoi(argv[4]) : 256;
	nw = argc > 5 ? atoi(argv[5]) : 8;
	ft_blas_set_threads(threads);
	if (ft_tok_load(argv[2], &d) != 0)
		return 1;
	if ((size_t)nw * T > d.n_ids)
		nw = (int)(d.n_ids / (size_t)T);
	if (nw < 1)
		ft_die("%s: fewer than %d tokens", argv[2], T);
	printf("fp32 %.6f bf16 %.6f int8 %.6f windows %d\n",
	    eval(argv[1], 0, FT_Q_BF16, &d, T, nw, threads),
	    eval(argv[1], 1, FT_Q_BF16, &d, T, nw, threads),
	    eval(argv[1], 1, FT_Q_Q8_0, &d, T, nw, threads), nw);
	ft_tok_data_free(&d);
	return 0;
}
