/* libFuzzer target for the state files of an ft-train checkpoint
 * (lib/trainer): arbitrary bytes parsed as ft_state.json and as
 * trainer_state.json.  Errors are expected; crashes, leaks, UB and hangs
 * are not.  What parses is range-checked (asserted here: a step within
 * [0, max_steps], finite sums), and writing it back and parsing again
 * gives the very same values, bit for bit. */
#include "err.h"
#include "trainer.h"

#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_STEPS 1000

static void
run_state(const char *text, size_t n)
{
	ft_run_state s, t;
	void *args, *args2;
	char *out;

	if (ft_run_state_parse(&s, &args, text, n, MAX_STEPS, "fuzz") != 0)
		return;
	if (s.global_step < 0 || s.global_step > MAX_STEPS ||
	    s.log_steps < 0 || s.log_steps > s.global_step ||
	    !isfinite(s.log_loss_sum) || !isfinite(s.total_loss_sum) ||
	    !(s.total_flos >= 0) || !(s.train_runtime >= 0))
		abort();
	out = ft_run_state_print(&s, args);
	if (ft_run_state_parse(&t, &args2, out, strlen(out), MAX_STEPS,
	    "fuzz-again") != 0 || memcmp(&s, &t, sizeof s) != 0 ||
	    !cJSON_Compare(args, args2, 1))
		abort();
	free(out);
	cJSON_Delete(args);
	cJSON_Delete(args2);
}

static void
trainer_state(const char *text, size_t n)
{
	ft_trainer_state st, st2;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	if (ft_trainer_state_parse(&st, text, n, "fuzz") != 0)
		return;
	for (size_t i = 0; i < st.n_log; i++)
		if (st.log[i].step < 0 || st.log[i].step > st.global_step)
			abort();
	fp = open_memstream(&buf, &len);
	if (fp == NULL || ft_trainer_state_fwrite(fp, &st, "mem") != 0)
		abort();
	fclose(fp);
	/* a log value NaN or inf (1e999) is written as Python writes it,
	 * which JSON then cannot read: only finite states must come back */
	if (ft_trainer_state_parse(&st2, buf, len, "fuzz-again") == 0) {
		if (st2.n_log != st.n_log || st2.global_step != st.global_step)
			abort();
		ft_trainer_state_release(&st2);
	}
	free(buf);
	ft_trainer_state_release(&st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;

	if (!quiet) {
		ft_setprog("fuzz_state");
		quiet = 1;
	}
	run_state((const char *)data, size);
	trainer_state((const char *)data, size);
	return 0;
}
