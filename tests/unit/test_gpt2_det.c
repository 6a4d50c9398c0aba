/* Determinism and resume (GPT-2 and the Llama-family choices): the same
 * seed and thread count give bit-identical parameters after N training
 * steps with dropout; stopping after k steps
 * and resuming from (params, AdamW state, dropout counter) gives the same
 * bits as running straight through.  And the OpenBLAS kernels chosen by
 * ft_blas_init give the same results as the generic Prescott kernels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "check.h"
#include "model/model.h"
#include "gpt2_fixture.h"
#include "optim.h"

enum { B = 2, T = 9 };

/* arch 1: the Llama-family choices (Qwen3: GQA, head_dim != C/H, q/k
 * norm, rotary, SwiGLU, RMSNorm) with attention dropout */
static int arch;

static void
tiny(ft_model_config *c)
{
	if (arch == 1) {
		ft_model_preset("qwen3-tiny", c);
		c->n_layer = 2;
		c->n_embd = 24;
		c->n_head = 4;
		c->n_kv_head = 2;
		c->head_dim = 10;
		c->n_positions = 16;
		c->vocab_size = 53;
		c->n_inner = 40;
		c->attn_pdrop = 0.1;
		return;
	}
	ft_model_preset("distilgpt2", c);
	c->n_layer = 2;
	c->n_embd = 24;
	c->n_head = 4;
	c->n_positions = 16;
	c->vocab_size = 53;
	c->n_inner = 40;
	c->embd_pdrop = c->attn_pdrop = c->resid_pdrop = 0.1;
}

static void
batch(int k, int32_t *ids, uint8_t *mask, int32_t *tg)
{
	for (int i = 0; i < B * T; i++) {
		ids[i] = (i * 7 + k * 13) % 53;
		mask[i] = !(i >= T && i % T >= 6);
	}
	for (int i = 0; i < B * T; i++)
		tg[i] = (i % T == T - 1 || !mask[i] || (i + 1 < B * T && !mask[i + 1]))
		    ? -100 : ids[i + 1];
}

static void
train(ft_model *m, ft_adamw *o, int from, int to)
{
	int32_t ids[B * T], tg[B * T];
	uint8_t mask[B * T];

	for (int k = from; k < to; k++) {
		batch(k, ids, mask, tg);
		ft_model_zero_grad(m);
		ft_model_forward(m, ids, mask, tg, B, T);
		ft_model_backward(m, 1.0 / m->n_targets);
		ft_clip_grad_norm(m->grads, m->n_params, 1.0, m->threads);
		ft_adamw_step(o, m->params, m->grads, 1e-3 * (k + 1), m->tensors,
		    m->n_tensors);
	}
}

static void
setup(ft_model *m, ft_adamw *o, int threads)
{
	ft_model_config c;

	tiny(&c);
	CHECK(ft_model_new(m, &c, 0) == 0);
	ft_model_init_random(m, 5);
	ft_model_set_threads(m, threads);
	ft_model_set_dropout_seed(m, 77);
	m->training = 1;
	ft_adamw_init(o, m->n_params);
	o->weight_decay = 0.01;
	o->threads = threads;
}

static void
test_determinism(int threads)
{
	ft_model a, b, c;
	ft_adamw oa, ob, oc;
	float loss0, loss1;
	int32_t ids[B * T], tg[B * T];
	uint8_t mask[B * T];

	setup(&a, &oa, threads);
	setup(&b, &ob, threads);
	train(&a, &oa, 0, 4);
	train(&b, &ob, 0, 4);
	CHECK(memcmp(a.params, b.params, a.n_params * 4) == 0);
	/* resume after 2 steps in a fresh model */
	setup(&c, &oc, threads);
	train(&c, &oc, 0, 2);
	{
		ft_model d;
		ft_adamw od;
		setup(&d, &od, threads);
		memcpy(d.params, c.params, c.n_params * 4);
		memcpy(od.m, oc.m, c.n_params * 4);
		memcpy(od.v, oc.v, c.n_params * 4);
		od.step = oc.step;
		d.dropout_counter = c.dropout_counter;
		train(&d, &od, 2, 4);
		CHECK(memcmp(a.params, d.params, a.n_params * 4) == 0);
		ft_model_release(&d);
		ft_adamw_release(&od);
	}
	/* dropout is on: two forwards differ, eval forwards agree */
	batch(0, ids, mask, tg);
	loss0 = ft_model_forward(&a, ids, mask, tg, B, T);
	loss1 = ft_model_forward(&a, ids, mask, tg, B, T);
	CHECK(loss0 != loss1);
	a.training = 0;
	loss0 = ft_model_forward(&a, ids, mask, tg, B, T);
	loss1 = ft_model_forward(&a, ids, mask, tg, B, T);
	CHECK(loss0 == loss1);
	ft_model_release(&a);
	ft_model_release(&b);
	ft_model_release(&c);
	ft_adamw_release(&oa);
	ft_adamw_release(&ob);
	ft_adamw_release(&oc);
}

/* Child: forward of fixture a and of a wider random model; logits to
 * stdout as raw floats, the OpenBLAS core to stderr. */
static int
child(int argc, char **argv)
{
	ft_model m;
	ft_model_config c;
	int32_t ids[64];

	ft_blas_init(argc, argv);
	fprintf(stderr, "core %s\n", ft_blas_corename());
	if (ft_model_load(&m, "tests/fixtures/gpt2/a") < 0)
		return 1;
	ft_model_set_threads(&m, 2);
	for (int i = 0; i < 21; i++)
		ids[i] = (i * 5) % 77;
	ft_model_forward(&m, ids, NULL, NULL, 3, 7);
	fwrite(ft_model_logits(&m), 4, 3 * 7 * 77, stdout);
	ft_model_release(&m);
	ft_model_preset("distilgpt2", &c);
	c.n_layer = 2;
	c.n_embd = 192;
	c.n_head = 3;
	c.vocab_size = 1001;
	c.n_inner = 700;
	c.n_positions = 64;
	ft_model_new(&m, &c, 0);
	ft_model_init_random(&m, 3);
	ft_model_set_threads(&m, 2);
	for (int i = 0; i < 64; i++)
		ids[i] = (i * 37) % 1001;
	ft_model_forward(&m, ids, NULL, NULL, 1, 64);
	fwrite(ft_model_logits(&m), 4, 64 * 1001, stdout);
	ft_model_release(&m);
	return 0;
}

static float *
run_child(const char *env, size_t n)
{
	char cmd[512];
	FILE *p;
	float *x = malloc(n * 4);
	char self[256];
	ssize_t k = readlink("/proc/self/exe", self, sizeof(self) - 1);

	self[k > 0 ? k : 0] = '\0';
	snprintf(cmd, sizeof(cmd), "%s '%s' child", env, self);
	p = popen(cmd, "r");
	if (p == NULL || fread(x, 4, n, p) != n) {
		CHECK(0);
		memset(x, 0, n * 4);
	}
	if (p != NULL)
		CHECK(pclose(p) == 0);
	return x;
}

static double
relerr(const float *a, const float *b, size_t n)
{
	double d = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		d = fmax(d, fabs((double)a[i] - b[i]));
		m = fmax(m, fabs(b[i]));
	}
	return d / m;
}

static void
test_blas_paths(void)
{
	size_t n1 = 3 * 7 * 77, n = n1 + 64 * 1001;
	float *gen = run_child("env OPENBLAS_CORETYPE=Prescott", n);
	float *fast = run_child("env -u OPENBLAS_CORETYPE", n);
	double e1 = relerr(fast, gen, n1), e2 = relerr(fast + n1, gen + n1, n - n1);

	printf("auto vs Prescott kernels: rel err %.2g (fixture), %.2g (wide)\n",
	    e1, e2);
	CHECK(e1 <= 1e-5);
	CHECK(e2 <= 1e-5);
	free(gen);
	free(fast);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return child(argc, argv);
	test_determinism(1);
	test_determinism(2);
	arch = 1;
	test_determinism(1);
	test_determinism(2);
	arch = 0;
	test_blas_paths();
	return check_done();
}
