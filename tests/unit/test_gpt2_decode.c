/* KV-cache decoding: logits of prefill and one-token steps equal the last
 * position of a full forward over the same tokens (rel. error <= 1e-5),
 * for rows of different lengths, some inactive. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/model.h"

static double
relerr(const float *a, const float *b, size_t n)
{
	double d = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		double e = fabs((double)a[i] - b[i]);
		d = e > d || isnan(e) ? (isnan(e) ? INFINITY : e) : d;
		m = fabs(b[i]) > m ? fabs(b[i]) : m;
	}
	return m > 0 ? d / m : d;
}

int
main(void)
{
	ft_model m;
	ft_kv *kv;
	enum { B = 3, STEPS = 5 };
	int32_t seq[B][16] = { { 5, 9, 13 }, { 1, 2, 3, 4, 70 }, { 42 } };
	int len[B] = { 3, 5, 1 };
	float *lg, *one;
	int V;
	double worst = 0;

	CHECK(ft_model_load(&m, "tests/fixtures/gpt2/b") == 0);
	V = m.cfg.vocab_size;
	ft_model_set_threads(&m, 2);
	kv = ft_kv_new(&m, B, 16);
	lg = malloc((size_t)B * V * sizeof(float));
	one = malloc((size_t)V * sizeof(float));
	for (int b = 0; b < B; b++) {
		double e;
		CHECK(ft_kv_prefill(&m, kv, b, seq[b], len[b], one) == 0);
		ft_model_forward(&m, seq[b], NULL, NULL, 1, len[b]);
		e = relerr(one, ft_model_logits(&m) + (size_t)(len[b] - 1) * V,
		    (size_t)V);
		CHECK(e <= 1e-5);
		worst = e > worst ? e : worst;
	}
	for (int s = 0; s < STEPS; s++) {
		int32_t ids[B];
		uint8_t act[B];
		for (int b = 0; b < B; b++) {
			ids[b] = (7 * s + 11 * b + 3) % V;
			act[b] = !(b == 1 && s == 2);
		}
		CHECK(ft_kv_decode_step(&m, kv, ids, act, lg) == 0);
		for (int b = 0; b < B; b++) {
			double e;
			if (!act[b])
				continue;
			seq[b][len[b]++] = ids[b];
			CHECK_EQ_INT(ft_kv_len(kv, b), len[b]);
			ft_model_forward(&m, seq[b], NULL, NULL, 1, len[b]);
			e = relerr(lg + (size_t)b * V,
			    ft_model_logits(&m) + (size_t)(len[b] - 1) * V, (size_t)V);
			CHECK(e <= 1e-5);
			worst = e > worst ? e : worst;
		}
	}
	printf("worst kv-cache logits rel err %.3g\n", worst);
	/* a full row is refused */
	ft_kv_reset(kv, 0);
	CHECK_EQ_INT(ft_kv_len(kv, 0), 0);
	{
		int32_t many[17] = { 0 };
		fprintf(stderr, "expected error follows:\n");
		CHECK(ft_kv_prefill(&m, kv, 0, many, 17, one) == -1);
		many[3] = V;
		CHECK(isnan(ft_model_forward(&m, many, NULL, NULL, 1, 5)));
		CHECK_EQ_INT(m.n_targets, -1);
	}
	ft_kv_free(kv);
	free(lg);
	free(one);
	ft_model_release(&m);
	return check_done();
}
