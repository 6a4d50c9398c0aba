/* trainrun — the Trainer's loop (docs/hf-reference.md §12) over the decoder
 * (lib/model).
 *
 * Per optimizer step k = 1..max_steps: the step's micro-batches (ga of
 * them, the last group of an epoch may be shorter) are forward/backward'ed
 * with the gradient of (sum of token losses) / (targets of all
 * micro-batches), so accumulation equals one big batch; the pre-clip norm
 * is logged; AdamW runs at lr * lambda(k - 1).  Everything a step depends
 * on is a function of k and of state saved in each checkpoint (weights,
 * AdamW moments and step, the dropout generator's counter, the loss
 * accumulators), which is why a resumed run is bit-identical to an
 * uninterrupted one: the data order of step k is recomputed from
 * (seed + epoch), not replayed.
 *
 * Interruption: SIGINT/SIGTERM/SIGHUP only set a flag; the loop notices it
 * between steps, writes a checkpoint of the current step and exits with
 * 128 + the signal. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bpe.h"
#include "dist.h"
#include "err.h"
#include "model/lora.h"
#include "model/model.h"
#include "modeldir.h"
#include "io.h"
#include "jsonl.h"
#include "optim.h"
#include "plot.h"
#include "progress.h"
#include "sha256.h"
#include "tokfile.h"
#include "trainer.h"
#include "trainrun.h"

#define tokenizer_files ft_tokenizer_files
#define N_TOKENIZER_FILES FT_N_TOKENIZER_FILES

void
ft_train_opts_default(ft_train_opts *o)
{
	memset(o, 0, sizeof *o);
	o->epochs = 5;
	o->max_steps = -1;
	o->batch_size = 4;
	o->eval_batch_size = 4;
	o->grad_accum = 1;
	o->lr = 5e-5;
	o->warmup_steps = 100;
	o->schedule = FT_LR_LINEAR;
	o->weight_decay = 0.01;
	o->adam_beta1 = 0.9;
	o->adam_beta2 = 0.999;
	o->adam_eps = 1e-8;
	o->max_grad_norm = 1.0;
	o->dropout = -1;
	o->max_length = 0;
	o->eval_steps = 100;
	o->save_steps = 100;
	o->save_total_limit = 2;
	o->logging_steps = 10;
	o->seed = 42;
	o->threads = 1;
	o->shuffle = 1;
	o->lora_alpha = 8;
}

/* ---- presets ---- */

int
ft_train_preset(const char *name, struct ft_model_config *c)
{
	return ft_model_preset(name, c);
}

const char *
ft_train_preset_names(void)
{
	return ft_model_preset_names();
}

/* ---- signals ---- */

static volatile sig_atomic_t stop_signal;

static void
on_stop(int sig)
{
	stop_signal = sig;
}

/* SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed, SSH
 * dropped): a checkpoint at the next step boundary.  A signal ignored
 * when the process started (nohup, a shell's background job) stays
 * ignored. */
static const int stop_sigs[] = { SIGINT, SIGTERM, SIGHUP };
#define N_STOP_SIGS (sizeof stop_sigs / sizeof *stop_sigs)

static void
install_stop_handlers(void)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < N_STOP_SIGS; i++)
		if (sigaction(stop_sigs[i], NULL, &old) == 0 &&
		    old.sa_handler != SIG_IGN)
			sigaction(stop_sigs[i], &sa, NULL);
}

static const char *
sig_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" :
	    sig == SIGHUP ? "SIGHUP" : "a signal";
}

/* "PROG: note: ..." (an interruption is not an error) */
static void
note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ft_vmsg("note", fmt, ap);
	va_end(ap);
}

/* ---- the best model's options ---- */

/* "eval_loss" or "eval_NAME_loss": the metric of set nm. */
static void
loss_key(char *buf, size_t n, const char *nm)
{
	snprintf(buf, n, "eval_%s%sloss", nm, *nm ? "_" : "");
}

/* The evaluation set NAME of --eval NAME=FILE ("eval" is --val's, ""). */
static void
eval_set_name(const char *arg, char *name, size_t n)
{
	size_t k = strcspn(arg, "=");

	snprintf(name, n, "%.*s", (int)k, arg);
	if (strcmp(name, "eval") == 0)
		*name = '\0';
}

/* The set whose loss --metric-for-best-model names (eval_ prefix
 * optional, as the Trainer adds it): its index among --val then the
 * --eval sets, and the full metric name; -1 if none. */
static int
metric_set(const ft_train_opts *o, char *full, size_t n)
{
	const char *m = o->best_metric != NULL ? o->best_metric : "eval_loss";
	size_t nev = o->n_evals + (o->val_path != NULL), len;
	char set[80];

	snprintf(full, n, "%s%s", strncmp(m, "eval_", 5) == 0 ? "" : "eval_",
	    m);
	/* eval_loss: set ""; eval_NAME_loss: set NAME */
	len = strlen(full);
	if (strcmp(full, "eval_loss") == 0)
		*set = '\0';
	else if (len > 10 && strcmp(full + len - 5, "_loss") == 0)
		snprintf(set, sizeof set, "%.*s", (int)(len - 10), full + 5);
	else
		return -1;
	for (size_t k = 0; k < nev; k++) {
		char nm[80];

		if (o->val_path != NULL && k == 0)
			*nm = '\0';
		else
			eval_set_name(o->evals[k - (o->val_path != NULL)], nm,
			    sizeof nm);
		if (strcmp(nm, set) == 0)
			return (int)k;
	}
	return -1;
}

int
ft_train_opts_check(const ft_train_opts *o, char *why, size_t n)
{
	char full[80];
	size_t nev = o->n_evals + (o->val_path != NULL);

	*why = '\0';
	if (o->es_patience > 0 && !o->load_best)
		snprintf(why, n, "--early-stopping-patience needs "
		    "--load-best-model-at-end (as EarlyStoppingCallback does)");
	else if (o->es_threshold > 0 && o->es_patience == 0)
		snprintf(why, n, "--early-stopping-threshold needs "
		    "--early-stopping-patience");
	else if (o->greater_is_better && !o->load_best &&
	    o->best_metric == NULL)
		snprintf(why, n, "--greater-is-better needs "
		    "--metric-for-best-model or --load-best-model-at-end");
	else if (o->load_best && nev == 0)
		snprintf(why, n, "--load-best-model-at-end needs an evaluation "
		    "set (--val or --eval)");
	else if (o->load_best && (o->eval_steps == 0) != (o->save_steps == 0))
		snprintf(why, n, "--load-best-model-at-end requires the save and "
		    "eval strategy to match: %s", o->eval_steps == 0 ?
		    "--eval-steps 0 never evaluates, --save-steps saves every "
		    "N steps" : "--save-steps 0 saves only at the end, "
		    "--eval-steps evaluates every N steps");
	else if (o->load_best && o->eval_steps == 0)
		snprintf(why, n, "--load-best-model-at-end needs evaluations "
		    "(--eval-steps N, --save-steps a multiple of it)");
	else if (o->load_best && o->save_steps % o->eval_steps != 0)
		snprintf(why, n, "--load-best-model-at-end requires the saving "
		    "steps to be a round multiple of the evaluation steps: "
		    "--save-steps %" PRId64 " is not a multiple of --eval-steps %"
		    PRId64, o->save_steps, o->eval_steps);
	else if ((o->load_best || o->best_metric != NULL) && nev > 0 &&
	    metric_set(o, full, sizeof full) < 0) {
		size_t len = (size_t)snprintf(why, n, "--metric-for-best-model "
		    "'%s': no such loss; the evaluation sets give",
		    o->best_metric != NULL ? o->best_metric : "eval_loss");

		for (size_t k = 0; k < nev && len < n; k++) {
			char nm[80], key[96];

			if (o->val_path != NULL && k == 0)
				*nm = '\0';
			else
				eval_set_name(o->evals[k - (o->val_path != NULL)],
				    nm, sizeof nm);
			loss_key(key, sizeof key, nm);
			len += (size_t)snprintf(why + len, n - len, "%s %s",
			    k ? "," : "", key);
		}
	}
	return *why ? -1 : 0;
}

/* ---- the run ---- */

typedef struct run {
	const ft_train_opts *o;
	ft_model m;
	ft_adamw opt;
	ft_tok_data train;
	ft_samples strain;
	struct evset {             /* --val ("" name) and --eval NAME=FILE */
		char name[64];
		const char *path;
		ft_tok_data d;
		ft_samples s;
	} *ev;
	size_t nev;
	ft_plan plan;
	ft_trainer_state st;
	const char *tok_dir;       /* tokenizer files to copy, or NULL */
	ft_tokfiles tokf;          /* what the outputs get of it (src NULL:
	                            * none, --no-tokenizer) */
	const char *gen_src;       /* generation_config.json to copy, or NULL */
	int32_t pad_id, mask_id;
	uint64_t dropout_seed;
	int64_t step;              /* optimizer steps done */
	double log_loss_sum;       /* since the last log */
	int64_t log_steps;
	double total_loss_sum;     /* all steps, for train_loss */
	double flos;
	double runtime_before;     /* train seconds of earlier sessions */
	double t_start;
	uint64_t tokens;           /* real tokens trained on this session */
	double nonembed_params;
	FILE *metrics;
	char *metrics_path;
	int64_t last_saved;
	int64_t step0;             /* step this session started at */
	long max_length;           /* in effect */
	char train_hash[65];       /* sha256 of the training ids and bounds */
	struct ft_progress bar;
	int stop_sig;              /* the signal that stopped the run */
	/* the best model: the set and metric compared (best_k < 0: not
	 * tracked), the step of best_model_checkpoint (-1: none yet), this
	 * step's metric (when metric_step == step), early stopping */
	int best_k;
	char best_name[80];
	int64_t best_step;
	int64_t metric_step;
	double metric_now;
	int es_stop;
} run;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The lock file in the run directory (ft_lock_path): held for the whole
 * run; its name is ignored when judging whether the folder is empty. */
#define LOCK_NAME ".ft-train.lock"

/* What a run directory holds: anything besides the lock file, signs of an
 * ft-train run (metrics.jsonl, a lock file this process did not create, a
 * checkpoint with ft_state.json), checkpoints. */
typedef struct dir_survey {
	int any, ours, n_ckpt;
} dir_survey;

static int
ckpt_is_ours(const char *run_dir, int64_t step)
{
	char *c = ft_ckpt_path(run_dir, step);
	char *st = ft_path_join(c, "ft_state.json");
	int ok = ft_exists(st);

	free(st);
	free(c);
	return ok;
}

static void
survey_dir(const char *path, int lock_is_new, dir_survey *s)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int64_t *steps;
	size_t n;

	memset(s, 0, sizeof *s);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((strcmp(de->d_name, LOCK_NAME) == 0 && !lock_is_new) ||
		    strcmp(de->d_name, "metrics.jsonl") == 0)
			s->ours = 1;
		if (strcmp(de->d_name, LOCK_NAME) != 0)
			s->any = 1;
	}
	closedir(d);
	if (ft_ckpt_list(path, &steps, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (ckpt_is_ours(path, steps[i])) {
				s->ours = 1;
				s->n_ckpt++;
			}
		free(steps);
	}
}

/* A checkpoint-STEP folder in dir that ft-train did not write (no
 * ft_state.json) is refused by name (flag: what the user asked for):
 * --overwrite-output-dir would remove it, a resumed run write over it
 * or rotate it away.  0, or -1 with one message. */
static int
refuse_foreign_ckpt(const char *dir, const char *flag)
{
	int64_t *steps;
	size_t n;
	int rc = 0;

	if (ft_ckpt_list(dir, &steps, &n) != 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (!ckpt_is_ours(dir, steps[i])) {
			char *c = ft_ckpt_path(dir, steps[i]);

			rc = ft_error("'%s' was not written by ft-train (no "
			    "ft_state.json); move it away before %s", c, flag);
			free(c);
		}
	free(steps);
	return rc;
}

/* Remove what an earlier run left in run_dir (--overwrite-output-dir):
 * only names ft-train writes; anything else stays, and a checkpoint it
 * did not write is refused before anything is removed. */
static int
clear_run_dir(const char *dir)
{
	static const char *const ours[] = {
		"metrics.jsonl", "loss.svg", "trainer_state.json",
		"model.safetensors", "config.json", "generation_config.json",
		"adapter_config.json", "adapter_model.safetensors",
	};
	int64_t *steps;
	size_t n;
	int rc = 0;

	if (refuse_foreign_ckpt(dir, "--overwrite-output-dir") != 0 ||
	    ft_ckpt_list(dir, &steps, &n) != 0)
		return -1;
	ft_ckpt_clean_tmp(dir);
	for (size_t i = 0; i < n; i++)
		rc |= ft_ckpt_remove(dir, steps[i]);
	free(steps);
	for (size_t i = 0; i < sizeof ours / sizeof *ours; i++) {
		char *p = ft_path_join(dir, ours[i]);

		if (unlink(p) != 0 && errno != ENOENT)
			rc = ft_error("cannot remove '%s':", p);
		free(p);
	}
	for (size_t i = 0; i < N_TOKENIZER_FILES; i++) {
		char *p = ft_path_join(dir, tokenizer_files[i]);

		unlink(p);
		free(p);
	}
	return rc;
}

/* The run directory must neither be, hold, nor lie inside an input
 * (compared by identity, not by spelling): --overwrite-output-dir and the
 * final outputs would replace it.  0, or -1 with one message. */
static int
check_inputs(const ft_train_opts *o)
{
	const struct { const char *what, *path; } in[] = {
		{ "the model (-m)", o->model_dir },
		{ "the tokenizer (--tokenizer-dir)", o->tokenizer_dir },
		{ "the config (--init)", o->init },
		{ "the training file (--train)", o->train_path },
		{ "the validation file (--val)", o->val_path },
	};

	for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
		const char *p = in[i].path;

		if (p == NULL || strcmp(p, "-") == 0 || !ft_exists(p))
			continue;
		if (ft_path_within(p, o->run_dir))
			return ft_error("the output directory '%s' holds %s "
			    "'%s'; choose another -o", o->run_dir, in[i].what, p);
		if (ft_path_within(o->run_dir, p))
			return ft_error("the output directory '%s' is inside %s "
			    "'%s'; choose another -o", o->run_dir, in[i].what, p);
	}
	return 0;
}

/* Make (if need be) and lock the run directory, then check what it holds
 * against --resume / --overwrite-output-dir and clear it for a new run.
 * Returns the checkpoint to resume from (*ckpt, malloc'd, or NULL) and 0,
 * or -1 after one message; the lock stays held until the process ends.
 * *made: RUN_NEW_LOCK if the lock file is this run's, plus RUN_NEW_DIR
 * times the folders this run made, the run directory and its missing
 * parents (undo_run_dir removes them when the run fails early). */
static char *find_resume_checkpoint(const ft_train_opts *o);

enum { RUN_NEW_LOCK = 1, RUN_NEW_DIR = 2 };

/* The '/' before p's last component (trailing '/'s cut), or NULL when p
 * has a single component. */
static char *
last_component(char *p)
{
	size_t n = strlen(p);
	char *sl;

	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	sl = strrchr(p, '/');
	return sl == NULL || sl == p ? NULL : sl;
}

static int
setup_run_dir(const ft_train_opts *o, char **ckpt, int *made)
{
	dir_survey s;
	char *lock, *what;
	int fd, created = 0, rc = -1;

	*ckpt = NULL;
	*made = 0;
	if (check_inputs(o) != 0)
		return -1;
	if (o->resume && o->resume_from == NULL && !ft_exists(o->run_dir))
		return ft_error("no checkpoint to resume from: '%s' does not "
		    "exist", o->run_dir);
	{
		char *p = ft_strdup(o->run_dir), *sl;

		while (*p != '\0' && !ft_exists(p)) {
			*made += RUN_NEW_DIR;
			if ((sl = last_component(p)) == NULL)
				break;
			*sl = '\0';
		}
		free(p);
	}
	if (ft_mkdir_p(o->run_dir, 0777) != 0)
		return -1;
	lock = ft_path_join(o->run_dir, LOCK_NAME);
	what = ft_asprintf("the run directory '%s'", o->run_dir);
	fd = ft_lock_path(lock, what, &created);
	free(what);
	if (fd < 0)
		goto out;
	if (created)
		*made |= RUN_NEW_LOCK;
	survey_dir(o->run_dir, created, &s);
	if (o->resume) {
		if (o->resume_from == NULL && s.n_ckpt == 0) {
			if (s.ours)
				ft_error("no checkpoint to resume from in '%s': "
				    "its run stopped before the first "
				    "checkpoint; start it again with "
				    "--overwrite-output-dir", o->run_dir);
			else
				ft_error("no checkpoint to resume from in '%s'",
				    o->run_dir);
			goto refuse;
		}
		if (refuse_foreign_ckpt(o->run_dir, "--resume") != 0 ||
		    (*ckpt = find_resume_checkpoint(o)) == NULL)
			goto refuse;
	} else if (s.any) {
		if (!s.ours) {
			ft_error("'%s' is not empty and holds no ft-train run; "
			    "choose another -o", o->run_dir);
			goto refuse;
		}
		if (!o->overwrite) {
			if (s.n_ckpt == 0)
				ft_error("'%s' holds a run that stopped before "
				    "its first checkpoint; start it again with "
				    "--overwrite-output-dir", o->run_dir);
			else
				ft_error("'%s' holds another run; use "
				    "--overwrite-output-dir to replace it or "
				    "--resume to continue it", o->run_dir);
			goto refuse;
		}
		if (clear_run_dir(o->run_dir) != 0)
			goto out;
	}
	ft_ckpt_clean_tmp(o->run_dir);
	rc = 0;
	goto out;
refuse:
	/* leave the folder as it was found */
	if (created)
		unlink(lock);
out:
	free(lock);
	return rc;
}

/* A run that fails before writing anything leaves no trace: the lock
 * file it created, and the folders it made (a folder that holds anything
 * else stays as it is). */
static void
undo_run_dir(const char *dir, int made)
{
	dir_survey s;
	char *p, *sl;

	if (!(made & RUN_NEW_LOCK))
		return;
	survey_dir(dir, 1, &s);
	if (s.any)
		return;
	p = ft_path_join(dir, LOCK_NAME);
	unlink(p);
	free(p);
	p = ft_strdup(dir);
	for (int n = made / RUN_NEW_DIR; n > 0 &&
	    (rmdir(p) == 0 || errno == EINVAL); n--) { /* EINVAL: "." */
		if ((sl = last_component(p)) == NULL)
			break;
		*sl = '\0';
	}
	free(p);
}

/* Check a token file against the model: every id below the model's
 * vocabulary size (the first offender is named by position), the same
 * tokenizer as the reference (hash and vocabulary size), if any. */
static int
check_tokens(const ft_tok_data *d, const char *path, const ft_model *m,
    const ft_tok_info *ref, const char *ref_name)
{
	uint32_t V = (uint32_t)m->cfg.vocab_size;

	if (ref != NULL && (memcmp(ref->tok_hash, d->info.tok_hash, 32) != 0 ||
	    ref->vocab_size != d->info.vocab_size))
		return ft_error("'%s' was made with another tokenizer than %s",
		    path, ref_name);
	for (size_t i = 0; i < d->n_ids; i++)
		if (d->ids[i] >= V) {
			/* which document: binary search of doc_start */
			size_t lo = 0, hi = d->n_docs;

			while (hi - lo > 1) {
				size_t mid = (lo + hi) / 2;

				if (d->doc_start[mid] <= i)
					lo = mid;
				else
					hi = mid;
			}
			return ft_error("'%s': token %zu (document %zu): id %"
			    PRIu32 " is not below the model's vocabulary size %"
			    PRIu32, path, i, lo, d->ids[i], V);
		}
	if (d->info.vocab_size > V)
		return ft_error("'%s' was made with another tokenizer: its "
		    "vocabulary has %" PRIu32 " tokens, the model's %" PRIu32,
		    path, d->info.vocab_size, V);
	return 0;
}

/* The tokenizer of the model (or of --tokenizer-dir), when its files are
 * there: the token files must have been made with it. */
static int
model_tokenizer(const char *dir, ft_tok_info *info)
{
	struct ft_bpe *b;

	if (dir == NULL || !ft_has_tokenizer(dir))
		return 0;
	b = ft_bpe_load_dir(dir);
	if (b == NULL)
		return -1;
	memset(info, 0, sizeof *info);
	info->vocab_size = ft_bpe_vocab_size(b);
	info->eos_id = ft_bpe_eos_id(b);
	ft_bpe_hash(b, info->tok_hash);
	ft_bpe_free(b);
	return 1;
}

/* ---- ft_state.json: what trainer_state.json does not hold ---- */

/* ---- the run's options in ft_state.json, and --resume ---- */

enum { T_INT, T_LONG, T_I64, T_DBL, T_BOOL, T_STR, T_PATH, T_EVALS };
/* MUST: the checkpoint's value or a refusal (the data order, the
 * model); SHOULD: an override is legitimate but changes the result
 * (check_args warns); FREE: evaluation, saving, logging, outputs */
enum { C_MUST, C_SHOULD, C_FREE };

#define OFF(f) offsetof(ft_train_opts, f)
static const struct opt_key {
	const char *key, *flag;
	int type, cls;
	size_t off;
	const char *why;           /* C_MUST: what it decides */
} opt_keys[] = {
	{ "batch_size", "batch-size", T_INT, C_MUST, OFF(batch_size),
	    "the batches each step takes" },
	{ "grad_accum", "grad-accum", T_INT, C_MUST, OFF(grad_accum),
	    "the batches each step takes" },
	{ "max_length", "max-length", T_LONG, C_MUST, OFF(max_length),
	    "the samples" },
	{ "shuffle", "no-shuffle", T_BOOL, C_MUST, OFF(shuffle),
	    "the data order" },
	{ "pack", "pack", T_BOOL, C_MUST, OFF(pack), "the samples" },
	{ "mask_eos", "mask-eos", T_BOOL, C_MUST, OFF(mask_eos),
	    "the loss of every step" },
	{ "epochs", "epochs", T_DBL, C_SHOULD, OFF(epochs), NULL },
	{ "max_steps_arg", "max-steps", T_I64, C_SHOULD, OFF(max_steps),
	    NULL },
	{ "lr", "lr", T_DBL, C_SHOULD, OFF(lr), NULL },
	{ "warmup_steps", "warmup-steps", T_I64, C_SHOULD, OFF(warmup_steps),
	    NULL },
	{ "schedule", "schedule", T_INT, C_SHOULD, OFF(schedule), NULL },
	{ "weight_decay", "weight-decay", T_DBL, C_SHOULD, OFF(weight_decay),
	    NULL },
	{ "adam_beta1", "adam-beta1", T_DBL, C_SHOULD, OFF(adam_beta1), NULL },
	{ "adam_beta2", "adam-beta2", T_DBL, C_SHOULD, OFF(adam_beta2), NULL },
	{ "adam_eps", "adam-eps", T_DBL, C_SHOULD, OFF(adam_eps), NULL },
	{ "max_grad_norm", "max-grad-norm", T_DBL, C_SHOULD,
	    OFF(max_grad_norm), NULL },
	{ "dropout", "dropout", T_DBL, C_SHOULD, OFF(dropout), NULL },
	{ "bf16", "bf16", T_BOOL, C_SHOULD, OFF(bf16), NULL },
	{ "train", "train", T_PATH, C_FREE, OFF(train_path), NULL },
	{ "val", "val", T_PATH, C_FREE, OFF(val_path), NULL },
	{ "evals", "eval", T_EVALS, C_FREE, OFF(evals), NULL },
	{ "eval_steps", "eval-steps", T_I64, C_FREE, OFF(eval_steps), NULL },
	{ "eval_batch_size", "eval-batch-size", T_INT, C_FREE,
	    OFF(eval_batch_size), NULL },
	{ "save_steps", "save-steps", T_I64, C_FREE, OFF(save_steps), NULL },
	{ "save_total_limit", "save-total-limit", T_LONG, C_FREE,
	    OFF(save_total_limit), NULL },
	{ "logging_steps", "logging-steps", T_I64, C_FREE, OFF(logging_steps),
	    NULL },
	{ "save_bf16", "save-dtype", T_BOOL, C_FREE, OFF(save_bf16), NULL },
	{ "load_best_model_at_end", "load-best-model-at-end", T_BOOL, C_FREE,
	    OFF(load_best), NULL },
	{ "metric_for_best_model", "metric-for-best-model", T_STR, C_FREE,
	    OFF(best_metric), NULL },
	{ "greater_is_better", "greater-is-better", T_BOOL, C_FREE,
	    OFF(greater_is_better), NULL },
	{ "early_stopping_patience", "early-stopping-patience", T_LONG, C_FREE,
	    OFF(es_patience), NULL },
	{ "early_stopping_threshold", "early-stopping-threshold", T_DBL,
	    C_FREE, OFF(es_threshold), NULL },
};
#define N_OPT_KEYS (sizeof opt_keys / sizeof *opt_keys)

#define FIELD(o, k, type) (*(type *)(void *)((char *)(o) + (k)->off))

/* A path as the checkpoint records it: absolute when it exists, so that
 * a resume from another directory finds it. */
static cJSON *
path_json(const char *p)
{
	char *real;
	cJSON *j;

	if (p == NULL)
		return cJSON_CreateNull();
	real = strcmp(p, "-") == 0 ? NULL : realpath(p, NULL);
	j = cJSON_CreateString(real != NULL ? real : p);
	free(real);
	return j;
}

/* The value of option k of o as JSON. */
static cJSON *
opt_value_json(const ft_train_opts *o, const struct opt_key *k)
{
	switch (k->type) {
	case T_INT: return cJSON_CreateNumber(FIELD(o, k, int));
	case T_LONG: return cJSON_CreateNumber((double)FIELD(o, k, long));
	case T_I64: return cJSON_CreateNumber((double)FIELD(o, k, int64_t));
	case T_DBL: return cJSON_CreateNumber(FIELD(o, k, double));
	case T_BOOL: return cJSON_CreateBool(FIELD(o, k, int));
	case T_STR: {
		const char *v = FIELD(o, k, const char *);

		return v != NULL ? cJSON_CreateString(v) : cJSON_CreateNull();
	}
	case T_PATH: return path_json(FIELD(o, k, const char *));
	default: {
		cJSON *a = cJSON_CreateArray();

		for (size_t i = 0; i < o->n_evals; i++) {
			const char *eq = strchr(o->evals[i], '=');
			cJSON *p = path_json(eq + 1);
			char *v = ft_asprintf("%.*s=%s", (int)(eq - o->evals[i]),
			    o->evals[i], p->valuestring);

			cJSON_AddItemToArray(a, cJSON_CreateString(v));
			free(v);
			cJSON_Delete(p);
		}
		return a;
	}
	}
}

/* The options besides args_json's run facts (ft_state.json "args"). */
static void
opts_json(const ft_train_opts *o, cJSON *a)
{
	for (size_t i = 0; i < N_OPT_KEYS; i++)
		if (!cJSON_HasObjectItem(a, opt_keys[i].key))
			cJSON_AddItemToObject(a, opt_keys[i].key,
			    opt_value_json(o, &opt_keys[i]));
}

static int
given_as(const ft_train_opts *o, const char *flag)
{
	for (size_t i = 0; i < o->n_given; i++)
		if (strcmp(o->given[i], flag) == 0)
			return 1;
	return 0;
}

/* Whether the command line sets the option (--epochs and --max-steps
 * size the run together: either sets both). */
static int
opt_given(const ft_train_opts *o, const char *flag)
{
	if (strcmp(flag, "epochs") == 0 || strcmp(flag, "max-steps") == 0)
		return given_as(o, "epochs") || given_as(o, "max-steps");
	return given_as(o, flag);
}

/* An option's value for the note: as it would be typed. */
static void
opt_text(char *buf, size_t n, const struct opt_key *k, const cJSON *v)
{
	if (v == NULL || cJSON_IsNull(v)) {
		snprintf(buf, n, "none");
	} else if (cJSON_IsBool(v)) {
		int on = cJSON_IsTrue(v);

		if (strcmp(k->key, "shuffle") == 0)
			on = !on; /* --no-shuffle */
		snprintf(buf, n, "%s", strcmp(k->key, "save_bf16") == 0 ?
		    (on ? "bfloat16" : "float32") : on ? "on" : "off");
	} else if (cJSON_IsString(v)) {
		snprintf(buf, n, "%s", v->valuestring);
	} else if (cJSON_IsArray(v)) {
		size_t len = 0;

		*buf = '\0';
		for (const cJSON *e = v->child; e != NULL && len < n; e = e->next)
			len += (size_t)snprintf(buf + len, n - len, "%s%s",
			    len ? " " : "", cJSON_IsString(e) ? e->valuestring : "?");
		if (v->child == NULL)
			snprintf(buf, n, "none");
	} else if (strcmp(k->key, "schedule") == 0 && v->valuedouble >= 0 &&
	    v->valuedouble < 64 && ft_lr_kind_name((int)v->valuedouble)) {
		snprintf(buf, n, "%s", ft_lr_kind_name((int)v->valuedouble));
	} else if (v->valuedouble < 0) {
		snprintf(buf, n, "%s", strcmp(k->key, "dropout") == 0 ?
		    "from config.json" : "none");
	} else {
		snprintf(buf, n, "%.10g", v->valuedouble);
	}
}

/* Set option k of o from the checkpoint's value v (strings stay in v). */
static int
opt_set(ft_train_opts *o, const struct opt_key *k, const cJSON *v,
    const char ***evals)
{
	if (cJSON_IsNull(v) && (k->type == T_STR || k->type == T_PATH)) {
		FIELD(o, k, const char *) = NULL;
		return 0;
	}
	switch (k->type) {
	case T_INT: case T_LONG: case T_I64: case T_DBL:
		if (!cJSON_IsNumber(v))
			return -1;
		if (k->type == T_INT)
			FIELD(o, k, int) = (int)v->valuedouble;
		else if (k->type == T_LONG)
			FIELD(o, k, long) = (long)v->valuedouble;
		else if (k->type == T_I64)
			FIELD(o, k, int64_t) = (int64_t)v->valuedouble;
		else
			FIELD(o, k, double) = v->valuedouble;
		return 0;
	case T_BOOL:
		if (!cJSON_IsBool(v))
			return -1;
		FIELD(o, k, int) = cJSON_IsTrue(v);
		return 0;
	case T_STR: case T_PATH:
		if (!cJSON_IsString(v))
			return -1;
		FIELD(o, k, const char *) = v->valuestring;
		return 0;
	default: {
		size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
		const cJSON *e;

		if (!cJSON_IsArray(v))
			return -1;
		*evals = ft_realloc(*evals, (n ? n : 1) * sizeof **evals);
		cJSON_ArrayForEach(e, v) {
			if (!cJSON_IsString(e) || strchr(e->valuestring, '=') ==
			    NULL)
				return -1;
			(*evals)[i++] = e->valuestring;
		}
		o->evals = *evals;
		o->n_evals = n;
		return 0;
	}
	}
}

/* --resume: the options of the checkpoint's run (its ft_state.json)
 * unless given on the command line; one note names the overrides (old
 * -> new); an override of what decides the data order is refused.
 * *eff is o with the checkpoint's values; *hold keeps its strings
 * (cJSON_Delete it), *evals its --eval list (free it).  0 or -1. */
static int
resume_opts(const ft_train_opts *o, const char *ckpt, ft_train_opts *eff,
    cJSON **hold, const char ***evals)
{
	char *path = ft_path_join(ckpt, "ft_state.json"), *buf;
	char note_buf[1024];
	size_t len, nlen = 0;
	cJSON *root, *args, *now;
	const cJSON *seed;
	int rc = -1;

	*eff = *o;
	*hold = NULL;
	*evals = NULL;
	note_buf[0] = '\0';
	if (ft_read_file(path, &buf, &len) != 0) {
		free(path);
		return -1;
	}
	root = ft_json_parse(buf, len, path);
	free(buf);
	if (root == NULL) {
		free(path);
		return -1;
	}
	args = cJSON_GetObjectItemCaseSensitive(root, "args");
	if (!cJSON_IsObject(args)) {
		ft_error("%s: missing object 'args'", path);
		goto out;
	}
	/* the seed decides the data order, the dropout and the init */
	seed = cJSON_GetObjectItemCaseSensitive(args, "seed");
	if (cJSON_IsString(seed)) {
		char mine[32];

		snprintf(mine, sizeof mine, "%" PRIu64, o->seed);
		if (opt_given(o, "seed") && strcmp(mine, seed->valuestring)) {
			ft_error("%s: cannot resume with --seed %s: the "
			    "checkpoint's run has seed %s, which decides the data "
			    "order; resume without --seed", path, mine,
			    seed->valuestring);
			goto out;
		}
		eff->seed = strtoull(seed->valuestring, NULL, 10);
	}
	now = cJSON_CreateObject();
	opts_json(o, now);
	for (size_t i = 0; i < N_OPT_KEYS; i++) {
		const struct opt_key *k = &opt_keys[i];
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, k->key);
		const cJSON *mine = cJSON_GetObjectItemCaseSensitive(now, k->key);
		char a[300], b[300];

		if (v == NULL) /* an older checkpoint: as given or default */
			continue;
		if (!opt_given(o, k->flag)) {
			if (opt_set(eff, k, v, evals) != 0) {
				ft_error("%s: 'args' has a bad '%s'", path, k->key);
				cJSON_Delete(now);
				goto out;
			}
			continue;
		}
		if (cJSON_Compare(v, mine, 1) || (k->type == T_PATH &&
		    strcmp(k->key, "train") == 0)) /* train_sha256 decides */
			continue;
		opt_text(a, sizeof a, k, v);
		opt_text(b, sizeof b, k, mine);
		if (k->cls == C_MUST) {
			ft_error("%s: cannot resume with --%s %s: the checkpoint's "
			    "run has %s %s, which decides %s; resume without --%s",
			    path, k->flag, b, k->key, a, k->why, k->flag);
			cJSON_Delete(now);
			goto out;
		}
		if (nlen < sizeof note_buf)
			nlen += (size_t)snprintf(note_buf + nlen, sizeof note_buf -
			    nlen, "%s--%s %s -> %s", nlen ? ", " : "", k->flag, a, b);
	}
	cJSON_Delete(now);
	if (nlen > 0 && !o->quiet)
		ft_note("resuming '%s' with its options but %s", ckpt, note_buf);
	*hold = root;
	root = NULL;
	rc = 0;
out:
	cJSON_Delete(root);
	free(path);
	if (rc != 0) {
		free(*evals);
		*evals = NULL;
	}
	return rc;
}

static cJSON *
args_json(const run *r)
{
	const ft_train_opts *o = r->o;
	cJSON *a = cJSON_CreateObject();
	char seed[32];

	snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
	cJSON_AddStringToObject(a, "seed", seed);
	cJSON_AddNumberToObject(a, "batch_size", o->batch_size);
	cJSON_AddNumberToObject(a, "grad_accum", o->grad_accum);
	cJSON_AddNumberToObject(a, "max_length", (double)r->max_length);
	cJSON_AddBoolToObject(a, "shuffle", o->shuffle);
	cJSON_AddBoolToObject(a, "pack", o->pack);
	cJSON_AddBoolToObject(a, "mask_eos", o->mask_eos);
	cJSON_AddNumberToObject(a, "train_samples", (double)r->strain.n);
	cJSON_AddStringToObject(a, "train_sha256", r->train_hash);
	cJSON_AddNumberToObject(a, "max_steps", (double)r->plan.max_steps);
	cJSON_AddNumberToObject(a, "lr", o->lr);
	cJSON_AddNumberToObject(a, "warmup_steps", (double)o->warmup_steps);
	cJSON_AddNumberToObject(a, "schedule", o->schedule);
	cJSON_AddNumberToObject(a, "weight_decay", o->weight_decay);
	cJSON_AddNumberToObject(a, "adam_beta1", o->adam_beta1);
	cJSON_AddNumberToObject(a, "adam_beta2", o->adam_beta2);
	cJSON_AddNumberToObject(a, "adam_eps", o->adam_eps);
	cJSON_AddNumberToObject(a, "max_grad_norm", o->max_grad_norm);
	cJSON_AddNumberToObject(a, "embd_pdrop", r->m.embd_pdrop);
	cJSON_AddNumberToObject(a, "attn_pdrop", r->m.attn_pdrop);
	cJSON_AddNumberToObject(a, "resid_pdrop", r->m.resid_pdrop);
	if (ft_dist_size() > 1) /* mpirun -np N; absent = one process */
		cJSON_AddNumberToObject(a, "world_size", ft_dist_size());
	opts_json(o, a);
	return a;
}

static int
save_ft_state(const run *r, const char *path)
{
	ft_run_state st = {
		.global_step = r->step,
		.log_steps = r->log_steps,
		.dropout_seed = r->m.dropout_seed,
		.dropout_counter = r->m.dropout_counter,
		.log_loss_sum = r->log_loss_sum,
		.total_loss_sum = r->total_loss_sum,
		.total_flos = r->flos,
		.train_runtime = r->runtime_before + (now() - r->t_start),
	};
	cJSON *args = args_json(r);
	char *text = ft_run_state_print(&st, args);
	ft_atomic a;
	int rc = -1;

	cJSON_Delete(args);
	if (ft_atomic_open(&a, path) != 0)
		goto out;
	if (fputs(text, a.fp) == EOF || fputc('\n', a.fp) == EOF) {
		ft_error("cannot write '%s':", path);
		ft_atomic_abort(&a);
		goto out;
	}
	rc = ft_atomic_commit(&a);
out:
	free(text);
	return rc;
}

/* Compare the data options of the checkpoint with this run's: they decide
 * which documents each step sees, so they must agree. */
static int
check_args(const run *r, const cJSON *saved, const char *name)
{
	static const char *const must[] = {
		"seed", "batch_size", "grad_accum", "max_length", "shuffle",
		"pack", "mask_eos", "train_samples", "train_sha256",
	};
	static const char *const should[] = {
		"max_steps", "lr", "warmup_steps", "schedule", "weight_decay",
		"adam_beta1", "adam_beta2", "adam_eps", "max_grad_norm",
		"embd_pdrop", "attn_pdrop", "resid_pdrop", "world_size",
	};
	cJSON *now_args = args_json(r);
	int rc = 0;

	for (size_t i = 0; i < sizeof must / sizeof *must && rc == 0; i++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(saved, must[i]);
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(now_args,
		    must[i]);

		if (a == NULL || !cJSON_Compare(a, b, 1))
			rc = ft_error("%s: the checkpoint was made with another "
			    "%s; resume with the options of the first run",
			    name, must[i]);
	}
	for (size_t i = 0; i < sizeof should / sizeof *should && rc == 0; i++) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(saved,
		    should[i]);
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(now_args,
		    should[i]);

		if ((a != NULL || b != NULL) &&
		    (a == NULL || !cJSON_Compare(a, b, 1)))
			ft_warn("%s: %s differs from the checkpoint's; the "
			    "result will differ from an uninterrupted run",
			    name, should[i]);
	}
	cJSON_Delete(now_args);
	return rc;
}

/* ft_state.json of a checkpoint, range-checked against this run
 * (ft_run_state_parse) and its options against this run's. */
static int
load_ft_state(run *r, const char *path)
{
	ft_run_state st;
	void *args;
	char *buf;
	size_t len;
	int rc;

	if (ft_read_file(path, &buf, &len) != 0)
		return -1;
	rc = ft_run_state_parse(&st, &args, buf, len, r->plan.max_steps, path);
	free(buf);
	if (rc != 0)
		return -1;
	rc = check_args(r, args, path);
	cJSON_Delete(args);
	if (rc != 0)
		return -1;
	r->step = st.global_step;
	r->log_steps = st.log_steps;
	r->log_loss_sum = st.log_loss_sum;
	r->total_loss_sum = st.total_loss_sum;
	r->flos = st.total_flos;
	r->runtime_before = st.train_runtime;
	ft_model_set_dropout_seed(&r->m, st.dropout_seed);
	r->m.dropout_counter = st.dropout_counter;
	return 0;
}

/* ---- outputs ---- */

static int
write_generation_config(const run *r, const char *path)
{
	ft_atomic a;

	if (r->gen_src != NULL)
		return ft_copy_file(r->gen_src, path);
	if (ft_atomic_open(&a, path) != 0)
		return -1;
	fprintf(a.fp, "{\n  \"_from_model_config\": true,\n");
	/* a config without these ids (Qwen's bos) gives no key */
	if (r->m.cfg.bos_token_id >= 0)
		fprintf(a.fp, "  \"bos_token_id\": %d,\n", r->m.cfg.bos_token_id);
	if (r->m.cfg.eos_token_id >= 0)
		fprintf(a.fp, "  \"eos_token_id\": %d,\n", r->m.cfg.eos_token_id);
	fprintf(a.fp, "  \"transformers_version\": \"4.46.0\"\n}\n");
	if (ferror(a.fp)) {
		ft_error("cannot write '%s':", path);
		ft_atomic_abort(&a);
		return -1;
	}
	return ft_atomic_commit(&a);
}

/* config.json, generation_config.json, model.safetensors and the
 * tokenizer files into dir. */
static int
write_model_dir(const run *r, const char *dir)
{
	char *p;
	int rc;

	if (r->m.lora != NULL) {
		/* a LoRA run: the adapter (PEFT's files) */
		rc = ft_lora_save(&r->m, dir);
	} else if (ft_model_save_dir(&r->m, dir) != 0) {
		return -1;
	} else {
		p = ft_path_join(dir, "generation_config.json");
		rc = write_generation_config(r, p);
		free(p);
	}
	if (rc == 0 && r->tokf.src != NULL)
		rc = ft_tokfiles_save(&r->tokf, dir);
	return rc;
}

static void
fill_state_header(run *r)
{
	const ft_train_opts *o = r->o;

	r->st.global_step = r->step;
	r->st.max_steps = r->plan.max_steps;
	r->st.num_train_epochs = r->plan.num_epochs;
	r->st.logging_steps = o->logging_steps;
	r->st.eval_steps = o->eval_steps;
	r->st.save_steps = o->save_steps;
	r->st.train_batch_size = o->batch_size;
	r->st.total_flos = r->flos;
	r->st.es_patience = o->es_patience;
	r->st.es_threshold = o->es_threshold;
	r->st.should_training_stop = r->es_stop;
	if (r->step > 0) {
		int64_t e, b0, b1;

		ft_plan_locate(&r->plan, r->step, &e, &b0, &b1);
		r->st.epoch = ft_plan_epoch(&r->plan, e, b1);
	}
}

static int
write_plot(const run *r)
{
	/* the train loss, then one curve per evaluation set */
	static const char *const color[] = { "#1f77b4", "#ff7f0e", "#2ca02c",
		"#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f" };
	size_t ns = 1 + r->nev, nl = r->st.n_log + 1;
	ft_plot_series *s = ft_calloc(ns, sizeof *s);
	char **label = ft_calloc(ns, sizeof *label);
	char *path = ft_path_join(r->o->run_dir, "loss.svg");
	int rc;

	for (size_t k = 0; k < ns; k++) {
		const char *nm = k == 0 ? NULL : r->ev[k - 1].name;
		double *x = ft_calloc(nl, sizeof *x), *y = ft_calloc(nl, sizeof *y);
		size_t n = 0;

		for (size_t i = 0; i < r->st.n_log; i++) {
			const ft_log_entry *e = &r->st.log[i];

			if (k == 0 ? e->kind == FT_LOG_TRAIN : e->kind ==
			    FT_LOG_EVAL && strcmp(e->eval_name, nm) == 0) {
				x[n] = (double)e->step;
				y[n++] = k == 0 ? e->loss : e->eval_loss;
			}
		}
		label[k] = k == 0 ? ft_strdup("train loss") :
		    ft_asprintf("%s loss", *nm ? nm : "eval");
		s[k] = (ft_plot_series){ label[k], color[k % 8], x, y, n, k > 0 };
	}
	rc = ft_plot_svg(path, "ft-train loss", "step", "loss", s, (int)ns);
	for (size_t k = 0; k < ns; k++) {
		free((double *)s[k].x);
		free((double *)s[k].y);
		free(label[k]);
	}
	free(s);
	free(label);
	free(path);
	return rc;
}

/* Lower is better unless --greater-is-better (np.less / np.greater). */
static int
better(const run *r, double a, double b)
{
	return r->o->greater_is_better ? a > b : a < b;
}

/* The Trainer's _save_checkpoint: with the metrics of an evaluation at
 * this step, a new best metric makes this checkpoint the best one. */
static void
update_best(run *r)
{
	ft_trainer_state *st = &r->st;

	if (r->best_k < 0 || r->metric_step != r->step)
		return;
	if (isnan(st->best_metric) || st->best_model_checkpoint == NULL ||
	    better(r, r->metric_now, st->best_metric)) {
		st->best_metric = r->metric_now;
		free(st->best_model_checkpoint);
		st->best_model_checkpoint = ft_ckpt_path(r->o->run_dir, r->step);
		r->best_step = r->step;
	}
}

static int
save_checkpoint(run *r)
{
	char *tmp, *p;
	int rc = -1;

	update_best(r);
	if (ft_dist_rank() != 0) { /* rank 0 writes the run directory */
		r->last_saved = r->step;
		return 0;
	}
	tmp = ft_ckpt_begin(r->o->run_dir, r->step);
	if (tmp == NULL)
		return -1;
	fill_state_header(r);
	if (write_model_dir(r, tmp) != 0)
		goto fail;
	p = ft_path_join(tmp, "optimizer.safetensors");
	{
		float *P, *G;
		size_t NP, NT;
		const ft_param_tensor *TT;

		ft_model_trainable(&r->m, &P, &G, &NP, &TT, &NT);
		rc = ft_adamw_save(&r->opt, p, TT, NT);
	}
	free(p);
	if (rc != 0)
		goto fail;
	p = ft_path_join(tmp, "trainer_state.json");
	rc = ft_trainer_state_save(&r->st, p);
	free(p);
	if (rc != 0)
		goto fail;
	p = ft_path_join(tmp, "ft_state.json");
	rc = save_ft_state(r, p);
	free(p);
	if (rc != 0)
		goto fail;
	if (ft_ckpt_commit(r->o->run_dir, tmp, r->step) != 0)
		return -1;
	r->last_saved = r->step;
	if (ft_ckpt_rotate(r->o->run_dir, r->o->save_total_limit,
	    r->best_step) != 0)
		return -1;
	return write_plot(r);
fail:
	ft_ckpt_abort(tmp);
	return -1;
}

static int
metrics_append(run *r, const ft_log_entry *e)
{
	if (r->metrics == NULL) /* not rank 0 */
		return 0;
	ft_log_entry_write(r->metrics, e, -1);
	fputc('\n', r->metrics);
	if (fflush(r->metrics) != 0 || ferror(r->metrics))
		return ft_error("cannot write '%s':", r->metrics_path);
	return 0;
}

/* metrics.jsonl from the log history (fresh, or up to the resumed step),
 * then kept open for appending. */
static int
metrics_open(run *r)
{
	ft_atomic a;

	r->metrics_path = ft_path_join(r->o->run_dir, "metrics.jsonl");
	if (ft_atomic_open(&a, r->metrics_path) != 0)
		return -1;
	for (size_t i = 0; i < r->st.n_log; i++) {
		ft_log_entry_write(a.fp, &r->st.log[i], -1);
		fputc('\n', a.fp);
	}
	if (ferror(a.fp)) {
		ft_atomic_abort(&a);
		return ft_error("cannot write '%s':", r->metrics_path);
	}
	if (ft_atomic_commit(&a) != 0)
		return -1;
	r->metrics = fopen(r->metrics_path, "a");
	if (r->metrics == NULL)
		return ft_error("cannot open '%s':", r->metrics_path);
	return 0;
}

/* ---- training and evaluation ---- */

static void
progress(run *r, int64_t epoch, double loss, double lr)
{
	double el = now() - r->t_start;
	char buf[400];

	snprintf(buf, sizeof buf, "ep %" PRId64 "/%" PRId64 " loss %.4f lr "
	    "%.2e %.0f tok/s", epoch + 1, r->plan.num_epochs, loss, lr,
	    el > 0 ? (double)r->tokens / el : 0);
	snprintf(r->bar.label, sizeof r->bar.label, "%.*s",
	    (int)sizeof r->bar.label - 1, buf);
	ft_progress_update(&r->bar, (uint64_t)r->step);
}

/* Take the bar off the line (for messages) and draw it again at the next
 * step. */
static void
bar_pause(run *r)
{
	int enabled = r->bar.enabled;

	ft_progress_clear(&r->bar);
	r->bar.enabled = enabled;
}

static int
evaluate(run *r, const struct evset *set, ft_log_entry *e)
{
	const ft_samples *s = &set->s;
	int bs = r->o->eval_batch_size;
	ft_batch b = { 0 };
	size_t *idx = ft_malloc((size_t)bs * sizeof *idx);
	int64_t steps = (int64_t)((s->n + (size_t)bs - 1) / (size_t)bs);
	/* per batch: its loss, and whether it counts (has targets); under
	 * mpirun each rank fills its batches (b mod N == rank), the others
	 * stay 0, and the sums across ranks (exact: x + 0) are added in batch
	 * order, so the loss is the one-process loss */
	double *bl = ft_calloc((size_t)steps, sizeof *bl);
	int64_t *bc = ft_calloc((size_t)steps, sizeof *bc);
	double sum = 0, t0 = now(), rt;
	int64_t nb = 0;

	r->m.training = 0;
	for (int64_t j = 0; j < steps; j++) {
		size_t i = (size_t)j * (size_t)bs;
		int B = (int)(s->n - i < (size_t)bs ? s->n - i : (size_t)bs);
		float loss;

		if (!ft_dist_mine(j))
			continue;
		for (int k = 0; k < B; k++)
			idx[k] = i + (size_t)k;
		ft_batch_make(&b, s, idx, B, r->pad_id, r->mask_id);
		loss = ft_model_forward(&r->m, b.ids, b.mask, b.targets, b.B,
		    b.T);
		if (b.n_targets == 0)
			continue;
		bl[j] = loss;
		bc[j] = 1;
	}
	ft_dist_sum_f64(bl, (size_t)steps);
	ft_dist_sum_i64(bc, (size_t)steps);
	for (int64_t j = 0; j < steps; j++)
		if (bc[j]) {
			sum += bl[j];
			nb++;
		}
	r->m.training = 1;
	ft_batch_free(&b);
	free(idx);
	free(bl);
	free(bc);
	rt = now() - t0;
	e->kind = FT_LOG_EVAL;
	snprintf(e->eval_name, sizeof e->eval_name, "%s", set->name);
	e->eval_loss = nb > 0 ? (double)(float)(sum / (double)nb) : NAN;
	e->eval_runtime = ft_pyround(rt, 4);
	e->eval_samples_per_second = ft_pyround(rt > 0 ? (double)s->n / rt : 0,
	    3);
	e->eval_steps_per_second = ft_pyround(rt > 0 ? (double)steps / rt : 0,
	    3);
	if (!isfinite(e->eval_loss) && nb > 0)
		return ft_error("evaluation loss is %s at step %" PRId64,
		    isnan(e->eval_loss) ? "nan" : "inf", r->step);
	return 0;
}

/* EarlyStoppingCallback.check_metric_value: against the best metric so
 * far (set at the last save), an improvement by more than the threshold
 * resets the counter, anything else counts; patience reached stops. */
static void
early_stopping(run *r, double v)
{
	const ft_train_opts *o = r->o;
	ft_trainer_state *st = &r->st;
	int64_t stop;

	if (isnan(st->best_metric) || (better(r, v, st->best_metric) &&
	    fabs(v - st->best_metric) > o->es_threshold))
		st->es_counter = 0;
	else
		st->es_counter++;
	/* rank 0 decides (every rank has the same numbers) */
	stop = ft_dist_rank() == 0 && st->es_counter >= o->es_patience;
	ft_dist_sum_i64(&stop, 1);
	r->es_stop = stop != 0;
}

/* Evaluate every set at the current step (log history and metrics); one
 * line with the losses on the terminal. */
static int
evaluate_all(run *r, double epoch)
{
	char line[1024];
	size_t len;

	len = (size_t)snprintf(line, sizeof line, "step %" PRId64
	    " (epoch %.2f):", r->step, epoch);
	for (size_t k = 0; k < r->nev; k++) {
		ft_log_entry e;
		char key[80];

		memset(&e, 0, sizeof e);
		e.step = r->step;
		e.epoch = epoch;
		if (evaluate(r, &r->ev[k], &e) != 0)
			return -1;
		ft_trainer_state_push(&r->st, &e);
		if (metrics_append(r, &e) != 0)
			return -1;
		loss_key(key, sizeof key, r->ev[k].name);
		if (len < sizeof line)
			len += (size_t)snprintf(line + len, sizeof line - len,
			    "%s %s %.4f (perplexity %.2f)", k ? "," : "", key,
			    e.eval_loss, exp(e.eval_loss));
		if ((int)k == r->best_k) {
			r->metric_now = e.eval_loss;
			r->metric_step = r->step;
		}
	}
	if (!r->o->quiet)
		ft_note("%s", line);
	/* the baseline of step 0 is not one of the Trainer's evaluations */
	if (r->best_k >= 0 && r->o->es_patience > 0 && r->step > 0)
		early_stopping(r, r->metric_now);
	return 0;
}

/* One optimizer step; returns 0 or -1 (non-finite loss: message). */
static int
train_step(run *r, const size_t *order, int64_t epoch, int64_t b0,
    int64_t b1, ft_batch *mb, double *loss_out, double *norm_out)
{
	const ft_train_opts *o = r->o;
	const ft_plan *p = &r->plan;
	int64_t total = 0, nmb = b1 - b0 + 1;
	double loss_sum = 0, norm, lr, loss, sums[3] = { 0, 0, 0 };
	size_t n_order = ft_dist_order_len(p->n_samples, o->batch_size);
	float *P, *G;
	size_t NP, NT;
	const ft_param_tensor *TT;

	for (int64_t j = 0; j < nmb; j++) {
		/* this rank's part of global batch b0 + j (dist.h; with one
		 * process: batch b0 + j) */
		size_t first = ft_dist_batch_first(b0 + j, o->batch_size);
		int B = (int)(n_order - first < (size_t)o->batch_size ?
		    n_order - first : (size_t)o->batch_size);

		ft_batch_make(&mb[j], &r->strain, order + first, B, r->pad_id,
		    r->mask_id);
		total += mb[j].n_targets;
	}
	/* the loss is normalised by the targets of the whole global batch
	 * (all ranks, all micro-batches): num_items_in_batch */
	ft_dist_sum_i64(&total, 1);
	ft_model_zero_grad(&r->m);
	for (int64_t j = 0; j < nmb; j++) {
		ft_model_forward(&r->m, mb[j].ids, mb[j].mask, mb[j].targets,
		    mb[j].B, mb[j].T);
		loss_sum += r->m.loss_sum;
		if (total > 0)
			ft_model_backward(&r->m, 1.0 / (double)total);
		sums[1] += (double)mb[j].n_real;
		sums[2] += 6.0 * (double)mb[j].B * (double)mb[j].T *
		    r->nonembed_params;
	}
	/* the sums over ranks: gradients (before clipping, so every rank
	 * clips and steps identically), loss, tokens, flos */
	/* the trained parameters: the model's, or its LoRA adapters' */
	ft_model_trainable(&r->m, &P, &G, &NP, &TT, &NT);
	ft_dist_sum_f32(G, NP);
	sums[0] = loss_sum;
	ft_dist_sum_f64(sums, 3);
	loss_sum = sums[0];
	r->tokens += (uint64_t)sums[1];
	r->flos += sums[2];
	loss = total > 0 ? (double)(float)(loss_sum / (double)total) : 0;
	if (!isfinite(loss))
		ft_progress_clear(&r->bar);
	if (!isfinite(loss))
		return ft_error("loss is %s at step %" PRId64 " (epoch %" PRId64
		    "); stopping", isnan(loss) ? "nan" : "inf", r->step + 1,
		    epoch + 1);
	norm = ft_clip_grad_norm(G, NP, o->max_grad_norm, r->m.threads);
	if (!isfinite(norm))
		ft_progress_clear(&r->bar);
	if (!isfinite(norm))
		return ft_error("gradient norm is %s at step %" PRId64
		    "; stopping", isnan(norm) ? "nan" : "inf", r->step + 1);
	lr = o->lr * ft_lr_lambda((enum ft_lr_kind)o->schedule, r->step,
	    o->warmup_steps, p->max_steps);
	ft_adamw_step(&r->opt, P, G, lr, TT, NT);
	ft_model_params_changed(&r->m);
	r->step++;
	*loss_out = loss;
	*norm_out = norm;
	return 0;
}

static int
train_loop(run *r)
{
	const ft_train_opts *o = r->o;
	const ft_plan *p = &r->plan;
	size_t *order = ft_malloc(ft_dist_order_len(p->n_samples,
	    o->batch_size) * sizeof *order);
	ft_batch *mb = ft_calloc((size_t)o->grad_accum, sizeof *mb);
	int64_t cur_epoch = -1;
	int rc = 0;

	/* named sets: a baseline before the first step (forgetting) */
	if (r->step == 0 && o->n_evals > 0 && evaluate_all(r, 0) != 0)
		rc = -1;
	r->m.training = 1;
	while (rc == 0 && r->step < p->max_steps) {
		int64_t epoch, b0, b1;
		double loss = 0, norm = 0, lr;
		ft_log_entry e;

		if (ft_dist_any(stop_signal)) { /* all ranks stop together */
			/* which signal: this rank's, else one another got */
			int64_t got[N_STOP_SIGS];

			for (size_t i = 0; i < N_STOP_SIGS; i++)
				got[i] = stop_signal == stop_sigs[i];
			ft_dist_sum_i64(got, N_STOP_SIGS);
			r->stop_sig = stop_signal;
			for (size_t i = 0; i < N_STOP_SIGS && !r->stop_sig; i++)
				if (got[i])
					r->stop_sig = stop_sigs[i];
			ft_progress_clear(&r->bar);
			if (stop_signal)
				note("interrupted by %s at step %" PRId64,
				    sig_name((int)stop_signal), r->step);
			rc = -2;
			break;
		}
		ft_plan_locate(p, r->step + 1, &epoch, &b0, &b1);
		if (epoch != cur_epoch) {
			ft_epoch_order(o->seed, epoch, p->n_samples, o->shuffle,
			    order);
			ft_dist_order_pad(order, p->n_samples, o->batch_size);
			cur_epoch = epoch;
		}
		lr = o->lr * ft_lr_lambda((enum ft_lr_kind)o->schedule, r->step,
		    o->warmup_steps, p->max_steps);
		if (train_step(r, order, epoch, b0, b1, mb, &loss, &norm)) {
			rc = -1;
			break;
		}
		r->log_loss_sum += loss;
		r->log_steps++;
		r->total_loss_sum += loss;
		progress(r, epoch, loss, lr);
		memset(&e, 0, sizeof e);
		e.step = r->step;
		e.epoch = ft_plan_epoch(p, epoch, b1);
		if (o->logging_steps > 0 && r->step % o->logging_steps == 0) {
			e.kind = FT_LOG_TRAIN;
			e.loss = ft_pyround(r->log_loss_sum /
			    (double)r->log_steps, 4);
			e.grad_norm = (double)(float)norm;
			e.learning_rate = lr;
			ft_trainer_state_push(&r->st, &e);
			r->log_loss_sum = 0;
			r->log_steps = 0;
			if (metrics_append(r, &e) != 0) {
				rc = -1;
				break;
			}
		}
		if (r->nev > 0 && o->eval_steps > 0 &&
		    r->step % o->eval_steps == 0) {
			bar_pause(r);
			if (evaluate_all(r, e.epoch) != 0) {
				rc = -1;
				break;
			}
		}
		if ((o->save_steps > 0 && r->step % o->save_steps == 0) ||
		    r->step == p->max_steps) {
			bar_pause(r);
			if (save_checkpoint(r) != 0) {
				rc = -1;
				break;
			}
		}
		if (r->es_stop) {
			bar_pause(r);
			if (!o->quiet)
				ft_note("early stopping at step %" PRId64 ": %s did "
				    "not improve for %ld evaluations", r->step,
				    r->best_name, o->es_patience);
			break;
		}
	}
	if (rc == 0)
		ft_progress_finish(&r->bar);
	else
		ft_progress_clear(&r->bar);
	if (rc == -2 && r->last_saved != r->step && r->step > 0) {
		/* SIGINT/SIGTERM: leave a resumable checkpoint */
		if (save_checkpoint(r) != 0)
			r->stop_sig = 0; /* the checkpoint failed: an error */
		else if (ft_dist_rank() == 0)
			note("checkpoint-%" PRId64 " written; continue with "
			    "--resume", r->step);
	}
	for (int j = 0; j < o->grad_accum; j++)
		ft_batch_free(&mb[j]);
	free(mb);
	free(order);
	return rc == 0 ? 0 : rc == -2 && r->stop_sig ? -2 : -1;
}

/* ---- setup ---- */

static char *
find_resume_checkpoint(const ft_train_opts *o)
{
	int64_t *steps;
	size_t n;
	char *p;

	if (o->resume_from != NULL) {
		char *st = ft_path_join(o->resume_from, "ft_state.json");
		int ok = ft_exists(st);

		free(st);
		if (!ok) {
			ft_error("'%s' is not an ft-train checkpoint (no "
			    "ft_state.json)", o->resume_from);
			return NULL;
		}
		return ft_strdup(o->resume_from);
	}
	if (ft_ckpt_list(o->run_dir, &steps, &n) != 0)
		return NULL;
	/* the newest that ft-train wrote (setup_run_dir saw one) */
	while (n > 0 && !ckpt_is_ours(o->run_dir, steps[n - 1]))
		n--;
	if (n == 0) {
		free(steps);
		ft_error("no checkpoint to resume from in '%s'", o->run_dir);
		return NULL;
	}
	p = ft_ckpt_path(o->run_dir, steps[n - 1]);
	free(steps);
	return p;
}

/* LoRA: the adapter of a checkpoint on the base it names, an existing
 * adapter (--adapter), or new adapters (--lora-r) on the loaded base. */
static int
setup_lora(run *r, const char *ckpt)
{
	const ft_train_opts *o = r->o;
	ft_lora_opts lo = { .r = o->lora_r, .alpha = o->lora_alpha,
		.dropout = o->lora_dropout, .rslora = o->rslora,
		.targets = o->lora_targets, .base = o->base_name };
	char buf[512];
	int rc;

	if (ckpt != NULL) {
		char *base = ft_lora_base_of(ckpt), *dir;

		if (base == NULL)
			return -1;
		dir = ft_model_resolve(base);
		free(base);
		if (dir == NULL)
			return -1;
		rc = ft_model_load(&r->m, dir);
		free(dir);
		if (rc == 0)
			rc = ft_lora_load(&r->m, ckpt);
	} else if (o->adapter_dir != NULL) {
		rc = ft_lora_load(&r->m, o->adapter_dir);
	} else {
		rc = ft_lora_new(&r->m, &lo, o->seed);
	}
	if (rc == 0 && !o->quiet) {
		ft_lora_describe(&r->m, buf, sizeof buf);
		ft_note("%s", buf);
	}
	return rc;
}

static int
setup_model(run *r, const char *ckpt)
{
	const ft_train_opts *o = r->o;

	if (ckpt != NULL && ft_lora_is_adapter_dir(ckpt))
		return setup_lora(r, ckpt);
	if (ckpt != NULL && (o->lora_r > 0 || o->adapter_dir != NULL))
		return ft_error("'%s' is a checkpoint of full finetuning, not of "
		    "LoRA adapters", ckpt);
	if (ckpt != NULL)
		return ft_model_load(&r->m, ckpt);
	if (o->init != NULL) {
		ft_model_config c;

		if (ft_train_preset(o->init, &c) != 0 &&
		    ft_model_config_load(&c, o->init) != 0)
			return -1;
		if (c.vocab_size <= 0)
			c.vocab_size = (int)r->train.info.vocab_size;
		if (r->train.info.eos_id >= 0) {
			c.eos_token_id = r->train.info.eos_id;
			c.bos_token_id = r->train.info.eos_id;
		}
		if (ft_model_new(&r->m, &c, !c.tie_word_embeddings) != 0)
			return -1;
		ft_model_init_random(&r->m, o->seed);
		return 0;
	}
	if (ft_model_load(&r->m, o->model_dir) != 0)
		return -1;
	return o->lora_r > 0 || o->adapter_dir != NULL ? setup_lora(r, NULL) :
	    0;
}

static void
run_release(run *r)
{
	if (r->metrics != NULL)
		fclose(r->metrics);
	free(r->metrics_path);
	ft_model_release(&r->m);
	ft_tokfiles_release(&r->tokf);
	ft_adamw_release(&r->opt);
	ft_samples_free(&r->strain);
	for (size_t k = 0; k < r->nev; k++) {
		ft_samples_free(&r->ev[k].s);
		if (r->ev[k].d.ids != NULL)
			ft_tok_data_free(&r->ev[k].d);
	}
	free(r->ev);
	if (r->train.ids != NULL)
		ft_tok_data_free(&r->train);
	ft_trainer_state_release(&r->st);
}

/* The evaluation sets: --val (name "") and each --eval NAME=FILE, made
 * with the tokenizer of ref (the training data's, or the model's). */
static int
setup_evals(run *r, const ft_tok_info *ref, const char *ref_name)
{
	const ft_train_opts *o = r->o;
	size_t n = o->n_evals + (o->val_path != NULL);

	r->ev = ft_calloc(n ? n : 1, sizeof *r->ev);
	for (size_t k = 0; k < n; k++) {
		struct evset *s = &r->ev[r->nev];
		const char *a = o->val_path != NULL ? (k == 0 ? NULL :
		    o->evals[k - 1]) : o->evals[k];
		const char *eq = a != NULL ? strchr(a, '=') : NULL;

		if (a == NULL) {
			s->path = o->val_path;
		} else {
			if (eq == NULL || eq == a || eq[1] == '\0' ||
			    (size_t)(eq - a) >= sizeof s->name ||
			    strcspn(a, "=/ \t\"") != (size_t)(eq - a))
				return ft_error("--eval '%s': want NAME=FILE (NAME "
				    "a short word)", a);
			memcpy(s->name, a, (size_t)(eq - a));
			s->path = eq + 1;
			/* "eval" is --val's set: metrics eval_loss */
			if (strcmp(s->name, "eval") == 0)
				s->name[0] = '\0';
			for (size_t j = 0; j < r->nev; j++)
				if (strcmp(r->ev[j].name, s->name) == 0)
					return ft_error("--eval '%s': a second set "
					    "named '%s'", a, *s->name ? s->name : "eval");
		}
		r->nev++;
		if (ft_tok_load(s->path, &s->d) != 0 || check_tokens(&s->d,
		    s->path, &r->m, ref, ref_name) != 0)
			return -1;
	}
	return 0;
}

/* One line per evaluation set: its loss at the first and the last
 * evaluation (a forgetting report), the lowest (the best) and the
 * perplexities exp(loss). */
static void
eval_report(const run *r)
{
	for (size_t k = 0; k < r->nev && !r->o->quiet; k++) {
		const ft_log_entry *a = NULL, *b = NULL, *lo = NULL;
		const char *nm = r->ev[k].name;

		for (size_t i = 0; i < r->st.n_log; i++) {
			const ft_log_entry *e = &r->st.log[i];
			if (e->kind != FT_LOG_EVAL || strcmp(e->eval_name, nm) != 0)
				continue;
			if (a == NULL)
				a = e;
			if (lo == NULL || e->eval_loss < lo->eval_loss)
				lo = e;
			b = e;
		}
		if (a == NULL)
			continue;
		ft_note("%s loss %.4f at step %" PRId64 ", %.4f at step %" PRId64
		    " (%+.1f%%), lowest %.4f at step %" PRId64 "; perplexity "
		    "%.2f last, %.2f lowest", *nm ? nm : "eval", a->eval_loss,
		    a->step, b->eval_loss, b->step, a->eval_loss != 0 ? 100 *
		    (b->eval_loss - a->eval_loss) / a->eval_loss : 0,
		    lo->eval_loss, lo->step, exp(b->eval_loss),
		    exp(lo->eval_loss));
	}
}

/* --load-best-model-at-end: the weights (or the adapter) of the best
 * checkpoint into the model, as the Trainer's _load_best_model. */
static int
load_best(run *r)
{
	char *dir = ft_ckpt_path(r->o->run_dir, r->best_step), *p;
	int rc;

	if (r->m.lora != NULL) {
		ft_lora_release(&r->m);
		rc = ft_lora_load(&r->m, dir);
	} else {
		p = ft_path_join(dir, "model.safetensors");
		rc = ft_model_load_weights(&r->m, p);
		free(p);
	}
	free(dir);
	if (rc == 0)
		ft_model_params_changed(&r->m);
	return rc;
}

/* With a best checkpoint and save_total_limit 1, the Trainer's train()
 * ends by removing every other checkpoint. */
static int
prune_to_best(const run *r)
{
	int64_t *steps;
	size_t n;
	int rc = 0;

	if (r->best_step < 0 || r->o->save_total_limit != 1)
		return 0;
	if (ft_ckpt_list(r->o->run_dir, &steps, &n) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (steps[i] != r->best_step &&
		    ft_ckpt_remove(r->o->run_dir, steps[i]) != 0)
			rc = -1;
	free(steps);
	return rc;
}

static int
finish(run *r)
{
	ft_log_entry e;
	double rt = r->runtime_before + (now() - r->t_start);
	double samples;
	char *p;
	int rc, best;

	memset(&e, 0, sizeof e);
	e.kind = FT_LOG_END;
	e.step = r->step;
	fill_state_header(r);
	e.epoch = r->st.epoch;
	if (ft_dist_rank() != 0) /* rank 0 writes the run directory */
		return 0;
	samples = r->o->max_steps > 0 ? (double)r->plan.max_steps *
	    r->o->batch_size * r->o->grad_accum * ft_dist_size() :
	    (double)r->strain.n *
	    (double)r->plan.num_epochs;
	e.train_runtime = ft_pyround(rt, 4);
	e.train_samples_per_second = ft_pyround(rt > 0 ? samples / rt : 0, 3);
	e.train_steps_per_second = ft_pyround(rt > 0 ?
	    (double)r->plan.max_steps / rt : 0, 3);
	e.total_flos = r->flos;
	e.train_loss = r->step > 0 ? r->total_loss_sum / (double)r->step : 0;
	ft_trainer_state_push(&r->st, &e);
	best = r->o->load_best && r->best_step >= 0;
	if ((best && r->best_step != r->step && load_best(r) != 0) ||
	    prune_to_best(r) != 0)
		return -1;
	r->m.save_bf16 = r->o->save_bf16; /* checkpoints stay fp32 */
	if (metrics_append(r, &e) != 0 || write_model_dir(r, r->o->run_dir))
		return -1;
	p = ft_path_join(r->o->run_dir, "trainer_state.json");
	rc = ft_trainer_state_save(&r->st, p);
	free(p);
	if (rc != 0 || write_plot(r) != 0)
		return -1;
	eval_report(r);
	if (!r->o->quiet && best)
		ft_note("%" PRId64 " steps, train_loss %.4f (perplexity %.2f); "
		    "the best %s (checkpoint-%" PRId64 ", %s %.4f) in '%s'",
		    r->step, e.train_loss, exp(e.train_loss), r->m.lora != NULL ?
		    "adapter" : "model", r->best_step, r->best_name,
		    r->st.best_metric, r->o->run_dir);
	else if (!r->o->quiet)
		ft_note("%" PRId64 " steps, train_loss %.4f (perplexity %.2f); "
		    "%s of the last step in '%s'", r->step, e.train_loss,
		    exp(e.train_loss), r->m.lora != NULL ? "adapter" : "model",
		    r->o->run_dir);
	return 0;
}

/* --eval-only: the evaluation sets on the model (and adapter) as it is;
 * one metrics line per set on stdout. */
static int
eval_only(const ft_train_opts *o)
{
	run r;
	ft_tok_info ti;
	int have, rc = 1;
	char *what = NULL;

	memset(&r, 0, sizeof r);
	ft_trainer_state_init(&r.st);
	r.best_k = -1;
	r.o = o;
	r.mask_id = -1;
	r.tok_dir = o->tokenizer_dir != NULL ? o->tokenizer_dir : o->model_dir;
	if (setup_model(&r, NULL) != 0 ||
	    (have = model_tokenizer(r.tok_dir, &ti)) < 0)
		goto out;
	what = ft_asprintf("the model's ('%s')", have ? r.tok_dir : "");
	if (setup_evals(&r, have ? &ti : NULL, what) != 0)
		goto out;
	if (r.nev == 0) {
		ft_error("--eval-only: no evaluation set (--val or --eval)");
		goto out;
	}
	r.max_length = o->max_length > 0 ? o->max_length :
	    r.m.cfg.n_positions < 256 ? r.m.cfg.n_positions : 256;
	if (r.max_length > r.m.cfg.n_positions) {
		ft_error("--max-length %ld is above the model's n_positions %d",
		    r.max_length, r.m.cfg.n_positions);
		goto out;
	}
	r.pad_id = r.ev[0].d.info.eos_id >= 0 ? r.ev[0].d.info.eos_id : 0;
	if (o->mask_eos)
		r.mask_id = r.ev[0].d.info.eos_id;
	ft_model_set_threads(&r.m, o->threads);
	for (size_t k = 0; k < r.nev; k++) {
		ft_log_entry e;

		memset(&e, 0, sizeof e);
		if (ft_samples_build(&r.ev[k].s, &r.ev[k].d, (size_t)r.max_length,
		    o->pack) != 0 || evaluate(&r, &r.ev[k], &e) != 0)
			goto out;
		ft_log_entry_write(stdout, &e, -1);
		fputc('\n', stdout);
	}
	rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : ft_stdout_error();
	rc = rc != 0;
out:
	free(what);
	run_release(&r);
	return rc;
}

int
ft_train_run(const ft_train_opts *o)
{
	run r;
	char *ckpt = NULL;
	int rc = 1, made = 0;
	ft_train_opts eff;
	cJSON *hold = NULL;
	const char **evals = NULL;

	if (o->eval_only)
		return eval_only(o);

	memset(&r, 0, sizeof r);
	ft_trainer_state_init(&r.st);
	r.best_k = -1;
	r.best_step = -1;
	r.metric_step = -1;
	r.o = o;
	r.mask_id = -1;
	r.tok_dir = o->tokenizer_dir != NULL ? o->tokenizer_dir : o->model_dir;
	if (o->model_dir != NULL && o->init == NULL) {
		char *g = ft_path_join(o->model_dir, "generation_config.json");

		if (ft_exists(g))
			r.gen_src = g; /* leaked into r until the end */
		else
			free(g);
	}

	/* the run directory (under mpirun rank 0 prepares and locks it; the
	 * others read the checkpoint to resume from there too) */
	if (ft_dist_rank() == 0) {
		if (setup_run_dir(o, &ckpt, &made) != 0)
			goto out;
	} else if (o->resume) {
		ckpt = find_resume_checkpoint(o);
		if (ckpt == NULL)
			goto out;
	}
	if (ckpt != NULL && r.tok_dir == NULL)
		r.tok_dir = ckpt; /* it holds the tokenizer files */
	if (ckpt != NULL) {
		/* the checkpoint's options, but those given */
		char why[512];

		if (resume_opts(o, ckpt, &eff, &hold, &evals) != 0)
			goto out;
		o = r.o = &eff;
		if (o->train_path == NULL) {
			ft_error("--train FILE is required: '%s' does not name its "
			    "training file", ckpt);
			goto out;
		}
		if (ft_train_opts_check(o, why, sizeof why) != 0) {
			ft_error("%s (with the options of '%s')", why, ckpt);
			rc = FT_EXIT_USAGE;
			goto out;
		}
	}

	/* data first (an --init model takes its vocabulary from it) */
	if (ft_tok_load(o->train_path, &r.train) != 0)
		goto out;
	if (setup_model(&r, ckpt) != 0)
		goto out;
	{
		ft_tok_info ti;
		char *what;
		int have = model_tokenizer(r.tok_dir, &ti);

		if (have < 0)
			goto out;
		what = ft_asprintf("the model's ('%s')",
		    have ? r.tok_dir : "");
		have = check_tokens(&r.train, o->train_path, &r.m,
		    have ? &ti : NULL, what);
		free(what);
		if (have != 0)
			goto out;
	}
	/* the tokenizer the outputs carry, with the configs
	 * tokenizer.save_pretrained writes */
	if (!o->no_tokenizer && r.tok_dir != NULL &&
	    ft_has_tokenizer(r.tok_dir) &&
	    ft_tokfiles_prepare(&r.tokf, r.tok_dir,
	    ft_model_type(&r.m.cfg), r.m.cfg.n_positions,
	    r.m.cfg.bos_token_id) != 0)
		goto out;
	{
		char *what = ft_asprintf("'%s'", o->train_path);
		int e = setup_evals(&r, &r.train.info, what);

		free(what);
		if (e != 0)
			goto out;
	}
	if (o->load_best || o->best_metric != NULL || o->es_patience > 0)
		r.best_k = metric_set(o, r.best_name, sizeof r.best_name);
	r.max_length = o->max_length;
	if (r.max_length <= 0)
		r.max_length = r.m.cfg.n_positions < 256 ? r.m.cfg.n_positions :
		    256;
	if (o->max_length > r.m.cfg.n_positions) {
		ft_error("--max-length %ld is above the model's n_positions %d",
		    o->max_length, r.m.cfg.n_positions);
		goto out;
	}
	r.pad_id = r.train.info.eos_id >= 0 ? r.train.info.eos_id : 0;
	if (o->mask_eos) {
		if (r.train.info.eos_id < 0) {
			ft_error("--mask-eos: '%s' has no end-of-text id",
			    o->train_path);
			goto out;
		}
		r.mask_id = r.train.info.eos_id;
	}
	if (ft_samples_build(&r.strain, &r.train, (size_t)r.max_length,
	    o->pack) != 0)
		goto out;
	for (size_t k = 0; k < r.nev; k++)
		if (ft_samples_build(&r.ev[k].s, &r.ev[k].d,
		    (size_t)r.max_length, o->pack) != 0)
			goto out;
	if (r.strain.n_empty > 0 && !o->quiet)
		ft_warn("'%s': %zu empty documents skipped", o->train_path,
		    r.strain.n_empty);
	{
		ft_sha256 h;
		uint8_t d[32];

		ft_sha256_init(&h);
		ft_sha256_update(&h, r.train.ids, r.train.n_ids * sizeof
		    *r.train.ids);
		ft_sha256_update(&h, r.train.doc_start, (r.train.n_docs + 1) *
		    sizeof *r.train.doc_start);
		ft_sha256_final(&h, d);
		ft_sha256_hex(d, r.train_hash);
	}
	/* under mpirun a step takes N per-process batches: the plan counts
	 * per-process batches of one global batch N * batch_size */
	if (ft_plan_init(&r.plan, r.strain.n, o->batch_size * ft_dist_size(),
	    o->grad_accum, o->epochs, o->max_steps) != 0)
		goto out;

	/* model and optimizer settings */
	ft_model_set_threads(&r.m, o->threads);
	if (o->bf16 && ft_model_set_bf16(&r.m, 1) != 0)
		goto out;
	if (o->dropout >= 0)
		ft_model_set_dropout(&r.m, o->dropout);
	ft_model_set_dropout_seed(&r.m, o->seed);
	{
		float *P, *G;
		size_t NP, NT;
		const ft_param_tensor *TT;

		ft_model_trainable(&r.m, &P, &G, &NP, &TT, &NT);
		ft_adamw_init(&r.opt, NP);
		/* the Trainer's flos count every parameter, adapters too */
		r.nonembed_params = r.m.lora != NULL ? (double)NP : 0;
	}
	r.opt.beta1 = o->adam_beta1;
	r.opt.beta2 = o->adam_beta2;
	r.opt.eps = o->adam_eps;
	r.opt.weight_decay = o->weight_decay;
	r.opt.threads = o->threads;
	r.nonembed_params += (double)r.m.n_params -
	    (double)ft_model_embedding_params(&r.m);

	if (ckpt != NULL) {
		char *p = ft_path_join(ckpt, "optimizer.safetensors");
		float *P, *G;
		size_t NP, NT;
		const ft_param_tensor *TT;
		int e;

		ft_model_trainable(&r.m, &P, &G, &NP, &TT, &NT);
		e = ft_adamw_load(&r.opt, p, TT, NT);

		free(p);
		if (e != 0)
			goto out;
		p = ft_path_join(ckpt, "ft_state.json");
		e = load_ft_state(&r, p);
		free(p);
		if (e != 0)
			goto out;
		p = ft_path_join(ckpt, "trainer_state.json");
		e = ft_trainer_state_load(&r.st, p);
		if (e == 0 && r.st.global_step != r.step)
			e = ft_error("%s: global_step %" PRId64 " differs from "
			    "ft_state.json's %" PRId64, p, r.st.global_step,
			    r.step);
		free(p);
		if (e == 0 && r.opt.step != r.step)
			e = ft_error("%s/optimizer.safetensors: step %" PRId64
			    " differs from ft_state.json's global_step %" PRId64,
			    ckpt, r.opt.step, r.step);
		if (e != 0)
			goto out;
		ft_trainer_state_truncate(&r.st, r.step);
		r.last_saved = r.step;
		if (r.st.best_model_checkpoint != NULL) {
			/* its step: the folder may have moved with the run */
			const char *b = strrchr(r.st.best_model_checkpoint, '-');
			char *end;
			long long v = b != NULL ? strtoll(b + 1, &end, 10) : -1;

			if (b == NULL || *end != '\0' || v < 0 || v > r.step) {
				ft_error("%s/trainer_state.json: best_model_checkpoint "
				    "'%s' is not a checkpoint of this run", ckpt,
				    r.st.best_model_checkpoint);
				goto out;
			}
			r.best_step = v;
			free(r.st.best_model_checkpoint);
			r.st.best_model_checkpoint = ft_ckpt_path(o->run_dir,
			    r.best_step);
		}
		/* checkpoints past this one belong to the abandoned future */
		if (ft_dist_rank() == 0) {
			int64_t *steps;
			size_t n;

			if (ft_ckpt_list(o->run_dir, &steps, &n) == 0) {
				for (size_t i = 0; i < n; i++)
					if (steps[i] > r.step)
						ft_ckpt_remove(o->run_dir,
						    steps[i]);
				free(steps);
			}
		}
	}
	{
		/* mpirun: every rank has what rank 0 has, or all refuse: the
		 * model, its adapters, the data, every evaluation set */
		ft_dist_part *same = ft_calloc(4 + r.nev, sizeof *same);
		int n = 0, e;
		float *P, *G;
		size_t NP, NT;
		const ft_param_tensor *TT;

		ft_model_trainable(&r.m, &P, &G, &NP, &TT, &NT);
		same[n++] = (ft_dist_part){ "thread count", &o->threads,
		    sizeof o->threads };
		same[n++] = (ft_dist_part){ "model", r.m.params, r.m.n_params *
		    sizeof *r.m.params };
		if (r.m.lora != NULL)
			same[n++] = (ft_dist_part){ "adapters", P, NP * sizeof *P };
		same[n++] = (ft_dist_part){ "training data", r.train_hash,
		    sizeof r.train_hash };
		for (size_t k = 0; k < r.nev; k++)
			same[n++] = (ft_dist_part){ "validation data",
			    r.ev[k].d.ids, r.ev[k].d.n_ids * sizeof *r.ev[k].d.ids };
		e = ft_dist_same(same, n);
		free(same);
		if (e != 0)
			goto out;
	}
	if (ft_dist_rank() == 0 && metrics_open(&r) != 0)
		goto out;

	install_stop_handlers();
	r.step0 = r.step;
	r.t_start = now();
	ft_progress_init(&r.bar, "training", (uint64_t)r.plan.max_steps, 0,
	    !o->quiet);
	ft_progress_update(&r.bar, (uint64_t)r.step);
	switch (train_loop(&r)) {
	case 0: break;
	case -2: rc = 128 + r.stop_sig; goto out; /* interrupted: 130 ... */
	default: goto out;
	}
	if (finish(&r) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && made)
		undo_run_dir(r.o->run_dir, made);
	free((char *)r.gen_src);
	free(ckpt);
	run_release(&r);
	cJSON_Delete(hold);
	free(evals);
	return rc;
}
