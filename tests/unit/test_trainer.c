/* Unit tests for lib/trainer: Python number text, samples and batches,
 * the Trainer's step plan and epoch order (fixtures from
 * tests/ref/trainer_ref.py), trainer_state.json bytes, checkpoint folders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "err.h"
#include "io.h"
#include "optim.h"
#include "trainer.h"

#define FIX "tests/fixtures/train/"

static char *
fixture(const char *name)
{
	const char *top = getenv("FT_TOP");

	return ft_asprintf("%s/%s%s", top ? top : ".", FIX, name);
}

static void
test_pyfloat(void)
{
	char *path = fixture("pyfloat.txt"), line[512];
	FILE *fp = fopen(path, "r");
	int n = 0;

	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	while (fgets(line, sizeof line, fp) != NULL) {
		char hex[64], want[64], got[64];
		int nd;

		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "round %63s %d %63s", hex, &nd, want) == 3) {
			ft_pyfloat(got, sizeof got,
			    ft_pyround(strtod(hex, NULL), nd));
		} else if (sscanf(line, "%63s %63s", hex, want) == 2) {
			ft_pyfloat(got, sizeof got, strtod(hex, NULL));
		} else {
			continue;
		}
		n++;
		if (strcmp(got, want) != 0)
			fprintf(stderr, "pyfloat %s: got %s, want %s\n", hex, got,
			    want);
		CHECK(strcmp(got, want) == 0);
	}
	CHECK(n > 20);
	fclose(fp);
	free(path);
}

static void
test_order(void)
{
	char *path = fixture("order.txt"), line[16384];
	FILE *fp = fopen(path, "r");
	int lines = 0;

	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	while (fgets(line, sizeof line, fp) != NULL) {
		unsigned long long seed;
		long epoch;
		size_t n, *got;
		char *p;
		int off, ok = 1;

		if (sscanf(line, "%llu %ld %zu:%n", &seed, &epoch, &n, &off) != 3)
			continue;
		got = ft_malloc(n * sizeof *got);
		ft_epoch_order(seed, epoch, n, 1, got);
		p = line + off;
		for (size_t i = 0; i < n; i++)
			if (strtoul(p, &p, 10) != got[i])
				ok = 0;
		CHECK(ok);
		ft_epoch_order(seed, epoch, n, 0, got);
		CHECK(got[n - 1] == n - 1);
		free(got);
		lines++;
	}
	CHECK_EQ_INT(lines, 15);
	fclose(fp);
	free(path);
}

static void
test_plan(void)
{
	char *path = fixture("plan.txt"), line[256];
	FILE *fp = fopen(path, "r");
	int lines = 0;
	ft_plan p;
	int64_t e, b0, b1;

	CHECK(fp != NULL);
	if (fp == NULL)
		return;
	while (fgets(line, sizeof line, fp) != NULL) {
		size_t n;
		int bs, ga;
		double epochs;
		long long ms, w_b, w_u, w_s, w_e;

		if (sscanf(line, "%zu %d %d %lf %lld: %lld %lld %lld %lld", &n,
		    &bs, &ga, &epochs, &ms, &w_b, &w_u, &w_s, &w_e) != 9)
			continue;
		CHECK(ft_plan_init(&p, n, bs, ga, epochs, ms) == 0);
		CHECK_EQ_INT(p.batches_per_epoch, w_b);
		CHECK_EQ_INT(p.updates_per_epoch, w_u);
		CHECK_EQ_INT(p.max_steps, w_s);
		CHECK_EQ_INT(p.num_epochs, w_e);
		lines++;
	}
	CHECK_EQ_INT(lines, 8);
	fclose(fp);
	free(path);

	/* 10 samples, batch 4, accumulation 2: 3 batches, 2 updates per
	 * epoch (2 batches, then the remainder) */
	ft_plan_init(&p, 10, 4, 2, 3, -1);
	ft_plan_locate(&p, 1, &e, &b0, &b1);
	CHECK(e == 0 && b0 == 0 && b1 == 1);
	ft_plan_locate(&p, 2, &e, &b0, &b1);
	CHECK(e == 0 && b0 == 2 && b1 == 2);
	ft_plan_locate(&p, 3, &e, &b0, &b1);
	CHECK(e == 1 && b0 == 0 && b1 == 1);
	CHECK(ft_plan_epoch(&p, 1, 1) == 1 + 2.0 / 3);
}

/* st written as trainer_state.json: the bytes want[0..wlen). */
static void
check_state_bytes(const ft_trainer_state *st, const char *want, size_t wlen)
{
	char *got = NULL;
	size_t glen = 0;
	FILE *fp = open_memstream(&got, &glen);

	CHECK(ft_trainer_state_fwrite(fp, st, "mem") == 0);
	fclose(fp);
	CHECK(glen == wlen && memcmp(got, want, wlen) == 0);
	if (glen != wlen || memcmp(got, want, wlen) != 0)
		fprintf(stderr, "--- got:\n%s", got);
	free(got);
}

/* tests/ref/trainer_ref.py simulated_state(), rebuilt through the
 * library. */
static void
test_state_json(void)
{
	char *path = fixture("trainer_state.json"), *want = NULL, *got = NULL;
	size_t wlen = 0, glen = 0;
	ft_trainer_state st, back;
	ft_plan p;
	double tr = 0, total = 0;
	int64_t last = 0;
	FILE *fp;

	ft_trainer_state_init(&st);
	CHECK(ft_read_file(path, &want, &wlen) == 0);
	ft_plan_init(&p, 10, 4, 1, 2, -1);
	for (int64_t k = 1; k <= p.max_steps; k++) {
		int64_t e, b0, b1;
		ft_log_entry en;
		double loss = (float)(3.0 / (double)k);

		ft_plan_locate(&p, k, &e, &b0, &b1);
		memset(&en, 0, sizeof en);
		en.step = k;
		en.epoch = ft_plan_epoch(&p, e, b1);
		tr += loss;
		total += loss;
		if (k % 2 == 0) {
			en.kind = FT_LOG_TRAIN;
			en.loss = ft_pyround(tr / (double)(k - last), 4);
			en.grad_norm = (float)(1 + (double)k / 10);
			en.learning_rate = 5e-5 * ft_lr_lambda(FT_LR_LINEAR, k - 1,
			    2, p.max_steps);
			ft_trainer_state_push(&st, &en);
			tr = 0;
			last = k;
		}
		if (k % 3 == 0) {
			en.kind = FT_LOG_EVAL;
			en.eval_loss = (float)(2.5 - (double)k / 7);
			en.eval_runtime = ft_pyround(0.123456 * (double)k, 4);
			en.eval_samples_per_second = ft_pyround(81.0 / (double)k,
			    3);
			en.eval_steps_per_second = ft_pyround(24.3 / (double)k, 3);
			ft_trainer_state_push(&st, &en);
		}
	}
	{
		ft_log_entry en;

		memset(&en, 0, sizeof en);
		en.kind = FT_LOG_END;
		en.step = p.max_steps;
		en.epoch = 2.0;
		en.train_runtime = ft_pyround(12.345678, 4);
		en.train_samples_per_second = ft_pyround(20 / 12.345678, 3);
		en.train_steps_per_second = ft_pyround(6 / 12.345678, 3);
		en.total_flos = 123456.0;
		en.train_loss = total / 6;
		ft_trainer_state_push(&st, &en);
	}
	st.epoch = 2.0;
	st.eval_steps = 3;
	st.global_step = 6;
	st.logging_steps = 2;
	st.max_steps = 6;
	st.num_train_epochs = 2;
	st.save_steps = 3;
	st.total_flos = 123456.0;
	st.train_batch_size = 4;
	check_state_bytes(&st, want, wlen);

	/* read back and write again: same bytes */
	CHECK(ft_trainer_state_load(&back, path) == 0);
	CHECK_EQ_INT(back.n_log, st.n_log);
	check_state_bytes(&back, want, wlen);
	ft_trainer_state_truncate(&back, 3);
	CHECK_EQ_INT(back.n_log, 2);

	/* with a best model and EarlyStoppingCallback (simulated_best_state):
	 * written as the Trainer writes it, read back */
	free(want);
	free(path);
	path = fixture("trainer_state_best.json");
	CHECK(ft_read_file(path, &want, &wlen) == 0);
	st.best_metric = (float)(2.5 - 6.0 / 7);
	st.best_model_checkpoint = ft_strdup("run/checkpoint-6");
	st.es_patience = 3;
	st.es_threshold = 0;
	st.es_counter = 1;
	st.should_training_stop = 1;
	check_state_bytes(&st, want, wlen);
	ft_trainer_state_release(&back);
	CHECK(ft_trainer_state_load(&back, path) == 0);
	CHECK(back.best_metric == st.best_metric);
	CHECK(back.best_model_checkpoint != NULL &&
	    strcmp(back.best_model_checkpoint, "run/checkpoint-6") == 0);
	CHECK(back.es_patience == 3 && back.es_counter == 1);
	back.should_training_stop = 1; /* TrainerControl: written, not read */
	check_state_bytes(&back, want, wlen);

	/* compact form for metrics.jsonl */
	fp = open_memstream(&got, &glen);
	ft_log_entry_write(fp, &st.log[0], -1);
	fclose(fp);
	CHECK(strcmp(got, "{\"epoch\": 0.6666666666666666, \"grad_norm\": "
	    "1.2000000476837158, \"learning_rate\": 2.5e-05, \"loss\": 2.25, "
	    "\"step\": 2}") == 0);
	free(got);
	ft_trainer_state_release(&st);
	ft_trainer_state_release(&back);
	free(want);
	free(path);
}

static void
test_samples(void)
{
	/* docs: [1 2 3 4 5 9], [], [6 9], [7] with eos 9 */
	uint32_t ids[] = { 1, 2, 3, 4, 5, 9, 6, 9, 7 };
	size_t starts[] = { 0, 6, 6, 8, 9 };
	ft_tok_data d = { .ids = ids, .n_ids = 9, .doc_start = starts,
	    .n_docs = 4 };
	ft_samples s;
	ft_batch b = { 0 };
	size_t idx[] = { 1, 0 };

	d.info.eos_id = 9;
	CHECK(ft_samples_build(&s, &d, 4, 0) == 0);
	CHECK_EQ_INT(s.n, 3);
	CHECK_EQ_INT(s.n_empty, 1);
	CHECK_EQ_INT(s.n_truncated, 1);
	CHECK_EQ_INT(s.len[0], 4);
	CHECK_EQ_INT(s.len[1], 2);
	CHECK_EQ_INT(s.n_tokens, 7);
	ft_batch_make(&b, &s, idx, 2, 9, -1);
	CHECK(b.B == 2 && b.T == 4);
	/* row 0 = [6 9 pad pad], targets [9 -100 -100 -100] */
	CHECK(b.ids[0] == 6 && b.ids[1] == 9 && b.ids[2] == 9);
	CHECK(b.mask[1] == 1 && b.mask[2] == 0);
	CHECK(b.targets[0] == 9 && b.targets[1] == -100);
	/* row 1 = [1 2 3 4], targets [2 3 4 -100] */
	CHECK(b.targets[4] == 2 && b.targets[6] == 4 && b.targets[7] == -100);
	CHECK_EQ_INT(b.n_targets, 4);
	CHECK_EQ_INT(b.n_real, 6);
	ft_batch_make(&b, &s, idx, 2, 9, 9); /* --mask-eos */
	CHECK(b.targets[0] == -100);
	CHECK_EQ_INT(b.n_targets, 3);
	ft_samples_free(&s);

	CHECK(ft_samples_build(&s, &d, 4, 1) == 0); /* pack: 9 ids -> 2 */
	CHECK_EQ_INT(s.n, 2);
	CHECK(s.off[1] == 4 && s.len[1] == 4);
	ft_samples_free(&s);
	CHECK(ft_samples_build(&s, &d, 16, 1) == 0); /* one short window */
	CHECK(s.n == 1 && s.len[0] == 9);
	ft_samples_free(&s);
	ft_batch_free(&b);
}

static void
test_ckpt(void)
{
	char dir[] = "/tmp/ft-test-trainer.XXXXXX", *p, *tmp;
	int64_t *steps;
	size_t n;

	CHECK(mkdtemp(dir) != NULL);
	for (int i = 0; i < 4; i++) {
		static const char *const names[] = { "checkpoint-100",
		    "checkpoint-5", "checkpoint-10", "checkpoint-x1" };

		p = ft_path_join(dir, names[i]);
		CHECK(mkdir(p, 0777) == 0);
		free(p);
	}
	CHECK(ft_ckpt_list(dir, &steps, &n) == 0);
	CHECK(n == 3 && steps[0] == 5 && steps[1] == 10 && steps[2] == 100);
	free(steps);
	CHECK(ft_ckpt_rotate(dir, 2, -1) == 0);
	CHECK(ft_ckpt_list(dir, &steps, &n) == 0);
	CHECK(n == 2 && steps[0] == 10);
	free(steps);

	/* the best is never rotated away (the Trainer's _sorted_checkpoints:
	 * it takes the second-newest place; limit 1 keeps 2) */
	for (int i = 0; i < 3; i++) {
		static const char *const names[] = { "checkpoint-1",
		    "checkpoint-200", "checkpoint-300" };

		p = ft_path_join(dir, names[i]);
		CHECK(mkdir(p, 0777) == 0);
		free(p);
	}
	/* 1 10 100 200 300, best 10: kept 10 and 300 */
	CHECK(ft_ckpt_rotate(dir, 2, 10) == 0);
	CHECK(ft_ckpt_list(dir, &steps, &n) == 0);
	CHECK(n == 2 && steps[0] == 10 && steps[1] == 300);
	free(steps);
	p = ft_path_join(dir, "checkpoint-400");
	CHECK(mkdir(p, 0777) == 0);
	free(p);
	/* limit 1, best 10 not the newest: 10 and 400 */
	CHECK(ft_ckpt_rotate(dir, 1, 10) == 0);
	CHECK(ft_ckpt_list(dir, &steps, &n) == 0);
	CHECK(n == 2 && steps[0] == 10 && steps[1] == 400);
	free(steps);
	/* limit 1, the best is the newest: it alone */
	CHECK(ft_ckpt_rotate(dir, 1, 400) == 0);
	CHECK(ft_ckpt_list(dir, &steps, &n) == 0);
	CHECK(n == 1 && steps[0] == 400);
	free(steps);
	CHECK(ft_ckpt_remove(dir, 400) == 0);
	p = ft_path_join(dir, "checkpoint-10");
	CHECK(mkdir(p, 0777) == 0);
	free(p);
	p = ft_path_join(dir, "checkpoint-100");
	CHECK(mkdir(p, 0777) == 0);
	free(p);

	/* a new checkpoint appears only when committed; it replaces one of
	 * the same step */
	tmp = ft_ckpt_begin(dir, 10);
	CHECK(tmp != NULL);
	p = ft_path_join(tmp, "f");
	{
		/* an empty regular file (ft_map_file maps nothing else:
		 * /dev/null passed only where it had become one) */
		FILE *f = fopen(p, "wb");
		CHECK(f != NULL && fclose(f) == 0);
	}
	free(p);
	CHECK(ft_ckpt_commit(dir, tmp, 10) == 0);
	p = ft_path_join(dir, "checkpoint-10/f");
	CHECK(ft_exists(p));
	free(p);
	tmp = ft_ckpt_begin(dir, 200);
	ft_ckpt_abort(tmp);
	p = ft_path_join(dir, ".tmp-checkpoint-200");
	CHECK(!ft_exists(p));
	free(p);
	tmp = ft_ckpt_begin(dir, 300);
	free(tmp);
	ft_ckpt_clean_tmp(dir);
	p = ft_path_join(dir, ".tmp-checkpoint-300");
	CHECK(!ft_exists(p));
	free(p);
	CHECK(ft_remove_tree(dir) == 0);
}

/* ft_state.json: doubles come back bit for bit (cJSON alone prints 15
 * digits when they read back within DBL_EPSILON: 0.1 + 0.2 becomes "0.3"),
 * and fields out of range are refused. */
static void
test_run_state(void)
{
	volatile double a = 0.1, b = 0.2;
	ft_run_state s = {
		.global_step = 7, .log_steps = 3, .dropout_seed = 42,
		.dropout_counter = UINT64_MAX, .log_loss_sum = a + b,
		.total_loss_sum = 32.52182483673096, .total_flos = 1e300,
		.train_runtime = 5e-324,
	}, t;
	cJSON *args = cJSON_CreateObject(), *num = cJSON_CreateNumber(a + b);
	void *back = NULL;
	char *text, *c = cJSON_PrintUnformatted(num);

	CHECK(strcmp(c, "0.3") == 0); /* what the test guards against */
	free(c);
	cJSON_Delete(num);
	cJSON_AddStringToObject(args, "seed", "42");
	text = ft_run_state_print(&s, args);
	CHECK(ft_run_state_parse(&t, &back, text, strlen(text), 10, "st") == 0);
	CHECK(memcmp(&s, &t, sizeof s) == 0);
	CHECK(cJSON_Compare(args, back, 1));
	cJSON_Delete(back);
	fprintf(stderr, "(the following error messages are expected)\n");
	CHECK(ft_run_state_parse(&t, &back, text, strlen(text), 6, "st") == -1);
	free(text);
	s.log_steps = 8;
	text = ft_run_state_print(&s, args);
	CHECK(ft_run_state_parse(&t, &back, text, strlen(text), 10, "st") == -1);
	free(text);
	cJSON_Delete(args);
}

int
main(void)
{
	ft_setprog("test_trainer");
	test_pyfloat();
	test_order();
	test_plan();
	test_state_json();
	test_run_state();
	test_samples();
	test_ckpt();
	return check_done();
}
