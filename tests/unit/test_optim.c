/* optim: schedules (transformers' formulas), gradient clipping like
 * clip_grad_norm_, and one AdamW step computed by hand.  (Parity with
 * torch.optim.AdamW over several steps is in test_gpt2.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "optim.h"

static void
test_schedules(void)
{
	/* linear, W = 2, S = 10 */
	CHECK(ft_lr_lambda(FT_LR_LINEAR, 0, 2, 10) == 0.0);
	CHECK(ft_lr_lambda(FT_LR_LINEAR, 1, 2, 10) == 0.5);
	CHECK(ft_lr_lambda(FT_LR_LINEAR, 2, 2, 10) == 1.0);
	CHECK_NEAR(ft_lr_lambda(FT_LR_LINEAR, 6, 2, 10), 0.5, 1e-15);
	CHECK(ft_lr_lambda(FT_LR_LINEAR, 10, 2, 10) == 0.0);
	CHECK(ft_lr_lambda(FT_LR_LINEAR, 12, 2, 10) == 0.0);
	/* docs/hf-reference.md §12: W = 100: step 1 uses 0, step 2 uses 1/100 */
	CHECK(ft_lr_lambda(FT_LR_LINEAR, 1, 100, 500) == 0.01);
	CHECK_NEAR(ft_lr_lambda(FT_LR_LINEAR, 499, 100, 500), 1.0 / 400, 1e-15);
	/* no warmup */
	CHECK(ft_lr_lambda(FT_LR_LINEAR, 0, 0, 4) == 1.0);
	/* cosine */
	CHECK(ft_lr_lambda(FT_LR_COSINE, 1, 2, 10) == 0.5);
	CHECK_NEAR(ft_lr_lambda(FT_LR_COSINE, 2, 2, 10), 1.0, 1e-15);
	CHECK_NEAR(ft_lr_lambda(FT_LR_COSINE, 6, 2, 10), 0.5, 1e-12);
	CHECK(fabs(ft_lr_lambda(FT_LR_COSINE, 10, 2, 10)) < 1e-15);
	/* constant with warmup */
	CHECK(ft_lr_lambda(FT_LR_CONSTANT_WARMUP, 1, 4, 10) == 0.25);
	CHECK(ft_lr_lambda(FT_LR_CONSTANT_WARMUP, 9, 4, 10) == 1.0);
	/* constant: transformers' get_scheduler("constant") is
	 * get_constant_schedule, which takes no warmup, so even step 1
	 * (s = 0) of a run with warmup steps uses the full rate */
	CHECK(ft_lr_lambda(FT_LR_CONSTANT, 0, 4, 10) == 1.0);
	CHECK(ft_lr_lambda(FT_LR_CONSTANT, 1, 4, 10) == 1.0);
	CHECK(ft_lr_lambda(FT_LR_CONSTANT, 9, 4, 10) == 1.0);
	CHECK_EQ_INT(ft_lr_kind_parse("linear"), FT_LR_LINEAR);
	CHECK_EQ_INT(ft_lr_kind_parse("cosine"), FT_LR_COSINE);
	CHECK_EQ_INT(ft_lr_kind_parse("constant_with_warmup"),
	    FT_LR_CONSTANT_WARMUP);
	CHECK_EQ_INT(ft_lr_kind_parse("constant"), FT_LR_CONSTANT);
	/* stored in checkpoints: the values must not move */
	CHECK_EQ_INT(FT_LR_CONSTANT_WARMUP, 2);
	CHECK_EQ_INT(ft_lr_kind_parse("polynomial"), -1);
}

static void
test_clip(void)
{
	size_t n = 100001;
	float *g = malloc(n * sizeof(float));
	double norm;

	for (size_t i = 0; i < n; i++)
		g[i] = i % 2 ? 0.01f : -0.01f;
	norm = ft_clip_grad_norm(g, n, 0.0, 2);
	CHECK_NEAR(norm, sqrt(n * 1e-4), 1e-6);
	CHECK(g[0] == -0.01f);
	norm = ft_clip_grad_norm(g, n, 10.0, 2);  /* below: untouched */
	CHECK(g[0] == -0.01f);
	norm = ft_clip_grad_norm(g, n, 1.0, 2);
	CHECK_NEAR(g[1], 0.01 * 1.0 / (norm + 1e-6), 1e-6);
	CHECK_NEAR(ft_clip_grad_norm(g, n, 0, 1), 1.0, 1e-5);
	free(g);
}

static void
test_adamw_step(void)
{
	ft_param_tensor t[2] = {
		{ "w", 0, 2, 1, { 2, 0 }, 1 },
		{ "b", 2, 1, 1, { 1, 0 }, 0 },
	};
	float p[3] = { 1.0f, -2.0f, 0.5f }, g[3] = { 0.1f, -0.2f, 0.3f };
	ft_adamw o;

	ft_adamw_init(&o, 3);
	o.weight_decay = 0.01;
	ft_adamw_step(&o, p, g, 1e-3, t, 2);
	/* first step: m = 0.1 g, v = 0.001 g^2, bias-corrected m/sqrt(v) = sign
	 * g, so p -= lr * (sign(g) / (1 + eps/|g|)) after decay */
	CHECK_NEAR(p[0], 1.0 * (1 - 1e-5) - 1e-3 * 0.1 / (0.1 + 1e-8), 1e-6);
	CHECK_NEAR(p[1], -2.0 * (1 - 1e-5) + 1e-3, 1e-6);
	CHECK_NEAR(p[2], 0.5 - 1e-3, 1e-6);
	CHECK_EQ_INT(o.step, 1);
	CHECK_NEAR(o.m[1], -0.02, 1e-6);
	CHECK_NEAR(o.v[2], 0.001 * 0.09, 1e-6);
	ft_adamw_release(&o);
}

int
main(void)
{
	test_schedules();
	test_clip();
	test_adamw_step();
	return check_done();
}
