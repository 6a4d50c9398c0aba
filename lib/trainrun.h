/* trainrun — ft-train's training loop: transformers' Trainer over the
 * decoder of lib/model (docs/hf-reference.md §11-§13), with a run directory,
 * checkpoints and bit-identical resume.
 *
 * Run directory RUN_DIR:
 *   checkpoint-STEP/   config.json, generation_config.json,
 *                      model.safetensors, optimizer.safetensors (AdamW
 *                      moments and step), trainer_state.json (the log
 *                      history), ft_state.json (the rest of the state:
 *                      dropout RNG counter, loss accumulators, options),
 *                      tokenizer files; rotated to save_total_limit
 *   metrics.jsonl      one JSON object per log, evaluation, and the end
 *   loss.svg           train and eval loss against the step, one curve
 *                      per evaluation set
 *   trainer_state.json the final state (log history, best_metric and
 *                      best_model_checkpoint)
 *   config.json, generation_config.json, model.safetensors, tokenizer
 *                      files: the trained model, written at the end (the
 *                      best checkpoint's weights with load_best)
 * A LoRA run (lora_r or adapter_dir) writes adapter_config.json and
 * adapter_model.safetensors (PEFT's layout) instead of the model, in
 * RUN_DIR and in each checkpoint (whose optimizer state then covers the
 * adapters only); a resumed LoRA run loads the base its checkpoint's
 * adapter_config.json names (base_model_name_or_path, through
 * lib/modeldir). */
#ifndef FT_TRAINRUN_H
#define FT_TRAINRUN_H

#include <stdint.h>

typedef struct ft_train_opts {
	const char *model_dir;     /* weights to finetune (NULL with init) */
	const char *init;          /* config.json path or preset, or NULL */
	const char *tokenizer_dir; /* tokenizer files to copy (default:
	                            * model_dir) */
	int no_tokenizer;          /* --no-tokenizer: the outputs get none */
	const char *train_path, *val_path; /* token files (val may be NULL) */
	const char *run_dir;

	double epochs;             /* 5 */
	int64_t max_steps;         /* -1: from epochs */
	int batch_size;            /* 4 */
	int eval_batch_size;       /* 4 */
	int grad_accum;            /* 1 */
	double lr;                 /* 5e-5 */
	int64_t warmup_steps;      /* 100 */
	int schedule;              /* enum ft_lr_kind, linear */
	double weight_decay;       /* 0.01 (the notebook's) */
	double adam_beta1, adam_beta2, adam_eps; /* 0.9, 0.999, 1e-8 */
	double max_grad_norm;      /* 1.0; 0 = no clipping */
	double dropout;            /* < 0: from config.json */
	long max_length;           /* 0: 256, or n_positions if less */
	int64_t eval_steps;        /* 100; 0 = never */
	int64_t save_steps;        /* 100; 0 = only at the end */
	long save_total_limit;     /* 2; 0 = keep all */
	int64_t logging_steps;     /* 10 */
	uint64_t seed;             /* 42 */
	int threads;               /* >= 1 */
	int shuffle;               /* 1 */
	int pack;                  /* 0 */
	int mask_eos;              /* 0 */
	int quiet;
	int overwrite;             /* --overwrite-output-dir */
	int resume;                /* --resume */
	const char *resume_from;   /* a checkpoint folder, or NULL: latest */
	int bf16;                  /* --bf16: mixed-precision matmuls */
	int save_bf16;             /* --save-dtype bf16: the final model */

	/* LoRA (lib/model/lora.h): lora_r > 0 trains new adapters on the
	 * frozen model_dir; adapter_dir continues an adapter directory */
	int lora_r;                /* 0: full finetuning */
	double lora_alpha;         /* 8 (PEFT's default) */
	double lora_dropout;       /* 0 */
	int rslora;
	const char *lora_targets;  /* NULL: the architecture's default */
	const char *adapter_dir;
	const char *base_name;     /* base_model_name_or_path to record */

	/* evaluation sets besides val_path: "NAME=FILE" each (metrics
	 * eval_NAME_loss ...), evaluated at step 0 too (with val_path) */
	const char *const *evals;
	size_t n_evals;
	int eval_only;             /* evaluate the model (and adapter) once,
	                            * print the metrics on stdout, no training */

	/* the best model (transformers' TrainingArguments and
	 * EarlyStoppingCallback): metric_for_best_model NULL = eval_loss when
	 * anything below asks for it; "loss", "eval_loss", "NAME_loss" or
	 * "eval_NAME_loss" (the eval_ prefix is optional) */
	int load_best;             /* --load-best-model-at-end */
	const char *best_metric;   /* --metric-for-best-model */
	int greater_is_better;     /* --greater-is-better (else lower) */
	long es_patience;          /* --early-stopping-patience; 0 = off */
	double es_threshold;       /* --early-stopping-threshold (0) */

	/* the long names (without "--") of the options given on the command
	 * line: with --resume, every other option stored in the checkpoint
	 * (ft_state.json) is taken from it */
	const char *const *given;
	size_t n_given;
} ft_train_opts;

/* The notebook's settings (docs/hf-reference.md §0, §12); threads = 1. */
void ft_train_opts_default(ft_train_opts *o);

/* Presets for --init NAME: 0 and the config (vocab_size 0 = take it from
 * the tokenizer), or -1 if name is not a preset. */
struct ft_model_config;
int ft_train_preset(const char *name, struct ft_model_config *c);
/* Names of the presets, comma-separated (for --help). */
const char *ft_train_preset_names(void);

/* Check the best-model options against the evaluation and save options
 * as TrainingArguments does (the strategies match, save_steps a multiple
 * of eval_steps, an evaluation set; early stopping needs
 * load_best_model_at_end; the metric is a loss of a set).  0, or -1 with
 * the reason (one line) in why. */
int ft_train_opts_check(const ft_train_opts *o, char *why, size_t n);

/* Run training.  Returns the exit status: 0 done, 1 error (message
 * printed), 2 options that --resume's checkpoint makes inconsistent, and
 * 128 + the signal after an interruption by SIGINT, SIGTERM or SIGHUP (a
 * note; a resumable checkpoint has been written). */
int ft_train_run(const ft_train_opts *o);

#endif
