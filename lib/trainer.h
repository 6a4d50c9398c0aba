/* trainer — the bookkeeping of transformers' Trainer
 * (docs/hf-reference.md §11, §12), without the model: samples and padded batches, the step/epoch
 * arithmetic, the per-epoch data order, the log history and
 * trainer_state.json, and checkpoint folders (written under a temporary
 * name, renamed into place, rotated).  The training loop that drives the
 * model is in trainrun.h.
 *
 * Errors: functions returning int give 0 or -1 after one message
 * (ft_error).  Allocation failures die. */
#ifndef FT_TRAINER_H
#define FT_TRAINER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "jsonl.h" /* ft_pyfloat */
#include "tokfile.h"

/* ---- Python-compatible number text ---- */

/* round(x, nd) as Python computes it (correctly rounded, ties to even on
 * the exact binary value). */
double ft_pyround(double x, int nd);

/* ---- samples and batches ---- */

/* The training (or evaluation) samples: spans of a token array.  One
 * sample per document, truncated to max_length; or, with pack, the
 * concatenation of all documents cut into windows of max_length tokens
 * (the remainder dropped, as transformers' group_texts does, unless it is
 * the only window).  Empty documents are dropped (counted in n_empty). */
typedef struct ft_samples {
	const uint32_t *ids;   /* borrowed: the token data's ids */
	size_t n;              /* samples */
	size_t *off;           /* [n] start of each sample in ids */
	uint32_t *len;         /* [n] its length, 1..max_length */
	size_t n_empty;        /* empty documents dropped */
	size_t n_truncated;    /* documents cut to max_length */
	uint64_t n_tokens;     /* sum of len */
} ft_samples;

int ft_samples_build(ft_samples *s, const ft_tok_data *d, size_t max_length,
    int pack);
void ft_samples_free(ft_samples *s);

/* A batch as the model takes it: rows right-padded to the longest row.
 * targets are already shifted (targets[b][t] = token t+1 of the row, -100
 * past the row's end and, with mask_id >= 0, where that token is mask_id:
 * the notebook's collator, whose pad = eos, masks every eos). */
typedef struct ft_batch {
	int B, T;
	int32_t *ids;          /* [B, T], padding = pad_id */
	uint8_t *mask;         /* [B, T], 1 real, 0 padding */
	int32_t *targets;      /* [B, T] */
	int64_t n_targets;     /* targets != -100 */
	int64_t n_real;        /* real (unpadded) tokens */
	size_t cap;
} ft_batch;

void ft_batch_make(ft_batch *b, const ft_samples *s, const size_t *idx,
    int B, int32_t pad_id, int32_t mask_id);
void ft_batch_free(ft_batch *b);

/* ---- step arithmetic ---- */

/* The Trainer's plan for n samples, batch size bs, accumulation ga:
 * batches_per_epoch = ceil(n/bs); updates_per_epoch = max(1,
 * batches_per_epoch / ga) (floor, as the Trainer sizes the run);
 * max_steps = given (> 0) or ceil(epochs * updates_per_epoch); an epoch
 * actually runs ceil(batches_per_epoch / ga) updates (the last one takes
 * the remainder); num_epochs = epochs started to reach max_steps. */
typedef struct ft_plan {
	size_t n_samples;
	int batch_size, grad_accum;
	int64_t batches_per_epoch;
	int64_t updates_per_epoch;  /* for sizing (floor) */
	int64_t steps_per_epoch;    /* updates an epoch really runs (ceil) */
	int64_t max_steps;
	int64_t num_epochs;         /* trainer_state.json num_train_epochs */
} ft_plan;

/* 0, or -1 with a message when n is 0. */
int ft_plan_init(ft_plan *p, size_t n, int bs, int ga, double epochs,
    int64_t max_steps);
/* Where optimizer step k (1-based) lies: epoch (0-based) and its first and
 * last batch index in that epoch (inclusive). */
void ft_plan_locate(const ft_plan *p, int64_t k, int64_t *epoch,
    int64_t *b_first, int64_t *b_last);
/* The Trainer's fractional epoch after batch b_last of epoch. */
double ft_plan_epoch(const ft_plan *p, int64_t epoch, int64_t b_last);

/* The order in which epoch e visits n samples: torch.randperm(n) from a
 * generator seeded seed + e (accelerate's seedable sampler), or 0..n-1
 * without shuffle.  out has n entries. */
void ft_epoch_order(uint64_t seed, int64_t epoch, size_t n, int shuffle,
    size_t *out);

/* ---- log history and trainer_state.json ---- */

enum ft_log_kind { FT_LOG_TRAIN, FT_LOG_EVAL, FT_LOG_END };

typedef struct ft_log_entry {
	enum ft_log_kind kind;
	int64_t step;
	double epoch;
	/* FT_LOG_TRAIN */
	double loss, grad_norm, learning_rate;
	/* FT_LOG_EVAL; eval_name: the set ("" for the one set of --val,
	 * keys eval_loss ...; else keys eval_NAME_loss ..., as the Trainer
	 * names the metrics of a dict of evaluation sets) */
	double eval_loss, eval_runtime, eval_samples_per_second,
	    eval_steps_per_second;
	char eval_name[64];
	/* FT_LOG_END */
	double train_runtime, train_samples_per_second,
	    train_steps_per_second, total_flos, train_loss;
} ft_log_entry;

/* The entry as a JSON object with sorted keys: compact on one line
 * (indent < 0, for metrics.jsonl) or json.dumps(indent=2) style nested at
 * depth `indent` levels.  Writes to fp. */
void ft_log_entry_write(FILE *fp, const ft_log_entry *e, int indent);
/* Read an entry from a parsed JSON object (cJSON *).  0 or -1 (message
 * names `name`). */
int ft_log_entry_parse(ft_log_entry *e, const void *cjson_obj,
    const char *name);

/* The number obj[key] of a parsed JSON object (cJSON *).  0, or -1 with
 * "NAME: missing number 'KEY'". */
int ft_json_number(const void *obj, const char *key, double *v,
    const char *name);

/* What trainer_state.json holds that ft uses. */
typedef struct ft_trainer_state {
	double epoch;
	int64_t global_step, max_steps, num_train_epochs;
	int64_t logging_steps, eval_steps, save_steps;
	int64_t train_batch_size;
	double total_flos;
	ft_log_entry *log;
	size_t n_log, cap_log;
	/* the best model (--metric-for-best-model): best_metric NAN and
	 * best_model_checkpoint NULL (JSON null) until a checkpoint is saved
	 * at an evaluation; best_model_checkpoint is malloc'd ("RUN_DIR/
	 * checkpoint-STEP" as the Trainer joins output_dir) */
	double best_metric;
	char *best_model_checkpoint;
	/* EarlyStoppingCallback's exported state (stateful_callbacks; written
	 * when es_patience > 0) and TrainerControl's should_training_stop */
	int64_t es_patience, es_counter;
	double es_threshold;
	int should_training_stop;
} ft_trainer_state;

/* An empty state (best_metric NAN). */
void ft_trainer_state_init(ft_trainer_state *st);

void ft_trainer_state_push(ft_trainer_state *st, const ft_log_entry *e);
/* Drop log entries with step > step (for resuming). */
void ft_trainer_state_truncate(ft_trainer_state *st, int64_t step);
void ft_trainer_state_release(ft_trainer_state *st);
/* json.dumps(state, indent=2, sort_keys=True) + "\n", with the Trainer's
 * full key set.  Written to fp / atomically to path.  0 or -1. */
int ft_trainer_state_fwrite(FILE *fp, const ft_trainer_state *st,
    const char *name);
int ft_trainer_state_save(const ft_trainer_state *st, const char *path);
int ft_trainer_state_load(ft_trainer_state *st, const char *path);

/* ---- ft_state.json: the state trainer_state.json does not hold ---- */

/* The loss accumulators, the dropout generator, the step (a checkpoint
 * holds these besides the weights and the optimizer). */
typedef struct ft_run_state {
	int64_t global_step, log_steps;
	uint64_t dropout_seed, dropout_counter;
	double log_loss_sum, total_loss_sum, total_flos, train_runtime;
} ft_run_state;

/* ft_state.json text for s and the run's options `args` (a cJSON object,
 * not consumed).  Doubles are written so that they read back exactly
 * (ft_pyfloat: the shortest digits that round-trip), which a resumed run
 * needs to log the very numbers of an uninterrupted one.  malloc'd. */
char *ft_run_state_print(const ft_run_state *s, const void *args);
/* Parse ft_state.json text[0..n).  Every field is range-checked against
 * the run: 0 <= global_step <= max_steps, 0 <= log_steps <= global_step,
 * both integers; the sums, flos and runtime finite (flos and runtime >=
 * 0).  A field out of range is refused by name.  On success *args is the
 * detached "args" object (cJSON_Delete it).  0 or -1 (message names
 * `name`). */
int ft_run_state_parse(ft_run_state *s, void **args, const char *text,
    size_t n, int64_t max_steps, const char *name);

/* trainer_state.json text[0..n) (ft_trainer_state_load without the
 * file).  Integers must be integral and within +-2^53; log entries must
 * have finite numbers and steps from 0 to global_step. */
int ft_trainer_state_parse(ft_trainer_state *st, const char *text, size_t n,
    const char *name);

/* ---- checkpoint folders ---- */

/* Steps of RUN_DIR/checkpoint-STEP folders, ascending (malloc'd; *n may
 * be 0 with *steps NULL).  0 or -1. */
int ft_ckpt_list(const char *run_dir, int64_t **steps, size_t *n);
/* "RUN_DIR/checkpoint-STEP", malloc'd. */
char *ft_ckpt_path(const char *run_dir, int64_t step);
/* Make an empty temporary folder RUN_DIR/.tmp-checkpoint-STEP (removed on
 * a fatal signal); fill it, then ft_ckpt_commit renames it to
 * checkpoint-STEP (replacing an older one of that step) and fsyncs
 * RUN_DIR.  A folder is thus complete or absent, whatever kills the
 * process.  Returns the temporary path (malloc'd) or NULL. */
char *ft_ckpt_begin(const char *run_dir, int64_t step);
int ft_ckpt_commit(const char *run_dir, char *tmp, int64_t step);
/* Remove the temporary folder after a failure (frees tmp). */
void ft_ckpt_abort(char *tmp);
/* Remove leftovers of killed runs (.tmp-checkpoint-*). */
void ft_ckpt_clean_tmp(const char *run_dir);
/* Remove checkpoint-STEP: renamed to a hidden name first, so that a
 * crash midway leaves no partial checkpoint-STEP.  0 or -1. */
int ft_ckpt_remove(const char *run_dir, int64_t step);
/* Keep the `keep` newest checkpoints by step (keep <= 0: all), never
 * removing checkpoint-BEST (best >= 0) as the Trainer's
 * _sorted_checkpoints/_rotate_checkpoints do: the best one moves to the
 * second-newest place before the oldest are removed, and keep 1 becomes
 * 2 while the best is not the newest.  0/-1. */
int ft_ckpt_rotate(const char *run_dir, long keep, int64_t best);


#endif
