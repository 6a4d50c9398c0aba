/* ft-train — finetune (or train from scratch) a GPT-2 or Llama-family
 * model on token files, as transformers' Trainer does.  Options -> ft_train_opts; the
 * work is in lib/trainrun.c and lib/trainer.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "dist.h"
#include "err.h"
#include "io.h"
#include "model/lora.h"
#include "modeldir.h"
#include "opt.h"
#include "optim.h"
#include "trainrun.h"

static void
usage(void)
{
	printf("usage: ft-train [-fq] [-m model] [--init config|preset] "
	    "--train file [--val file]\n"
	    "                -o run_dir [options]\n"
	    "Finetune a GPT-2 or Llama-family model on token files (ft-tokenize)\n"
	    "as the transformers Trainer does.\n\n"
	    "  -m, --model DIR|ID         model to finetune (default $FT_MODEL "
	    "or distilgpt2)\n"
	    "      --init CONFIG|PRESET   train from scratch: a config.json or "
	    "a preset\n"
	    "                             %s\n"
	    "      --tokenizer-dir DIR    tokenizer files for the outputs "
	    "(default -m)\n"
	    "      --no-tokenizer         write outputs without a tokenizer "
	    "(else one is\n"
	    "                             required: -m DIR or --tokenizer-dir "
	    "must hold one)\n"
	    "      --train FILE           training token file (required)\n"
	    "      --val FILE             validation token file (metrics "
	    "eval_loss)\n"
	    "      --eval NAME=FILE       another evaluation set (metrics "
	    "eval_NAME_loss),\n"
	    "                             evaluated at step 0 too; repeatable\n"
	    "      --eval-only            evaluate the model (and --adapter) "
	    "on the sets,\n"
	    "                             print the metrics, do not train\n"
	    "  -o, --output-dir DIR       run directory (required)\n"
	    "  -f, --overwrite-output-dir replace an earlier run in DIR (also "
	    "--force)\n"
	    "      --resume [CHECKPOINT]  continue from the latest (or the "
	    "named) checkpoint,\n"
	    "                             with its options but those given\n"
	    "      --epochs N             training epochs (5)\n"
	    "      --max-steps N          optimizer steps; overrides --epochs\n"
	    "      --batch-size N         training batch size (4)\n"
	    "      --eval-batch-size N    evaluation batch size (4)\n"
	    "      --grad-accum N         gradient accumulation steps (1)\n"
	    "      --lr X                 peak learning rate (5e-5)\n"
	    "      --warmup-steps N       linear warmup steps (100)\n"
	    "      --schedule NAME        linear, cosine, constant_with_warmup or\n"
	    "                             constant (no warmup) (linear)\n"
	    "      --weight-decay X       AdamW weight decay (0.01)\n"
	    "      --adam-beta1 X         (0.9)\n"
	    "      --adam-beta2 X         (0.999)\n"
	    "      --adam-eps X           (1e-8)\n"
	    "      --max-grad-norm X      gradient clipping; 0 = none (1.0)\n"
	    "      --dropout P            all dropout probabilities (from "
	    "config.json)\n"
	    "      --max-length N         tokens per sample (256 or n_positions)\n"
	    "      --pack                 concatenate documents into full "
	    "windows\n"
	    "      --mask-eos             no loss on eos targets (the "
	    "notebook's collator)\n"
	    "      --no-shuffle           keep file order\n"
	    "      --eval-steps N         evaluate every N steps; 0 = never "
	    "(100)\n"
	    "      --save-steps N         checkpoint every N steps; 0 = at the end "
	    "(100)\n"
	    "      --save-total-limit N   checkpoints kept; 0 = all (2)\n"
	    "      --logging-steps N      log every N steps; 0 = never (10)\n"
	    "      --load-best-model-at-end  end with the best checkpoint's "
	    "weights\n"
	    "      --metric-for-best-model NAME  eval_loss or eval_NAME_loss "
	    "(eval_loss)\n"
	    "      --greater-is-better    a higher metric is better\n"
	    "      --early-stopping-patience N  stop after N evaluations "
	    "without\n"
	    "                             improvement (needs "
	    "--load-best-model-at-end)\n"
	    "      --early-stopping-threshold X  the improvement that counts "
	    "(0)\n"
	    "      --bf16                 bf16 matmuls, fp32 accumulation "
	    "(autocast)\n"
	    "      --save-dtype TYPE      final model: float32 or bfloat16 "
	    "(float32)\n"
	    "      --lora-r R             train LoRA adapters of rank R on the "
	    "frozen model\n"
	    "      --lora-alpha A         LoRA scale alpha/R (8)\n"
	    "      --lora-dropout P       dropout on the adapters' input (0)\n"
	    "      --lora-targets LIST    module names, or all-linear (gpt2: "
	    "c_attn,\n"
	    "                             llama family: q_proj,v_proj)\n"
	    "      --rslora               scale alpha/sqrt(R)\n"
	    "      --adapter DIR          continue training a LoRA adapter "
	    "(PEFT's files)\n"
	    "  -s, --seed N               data order, dropout, init (42)\n"
	    "  -j, --threads N            threads (all cores)\n"
	    "  -q, --quiet                no progress, no notes\n"
	    "  -h, --help                 print this help and exit\n"
	    "  -V, --version              print the version and exit\n"
	    "\n"
	    "The Trainer's names work too (TrainingArguments, '_' or '-'):\n"
	    "  --learning-rate (--lr), --num-train-epochs (--epochs),\n"
	    "  --per-device-train-batch-size (--batch-size),\n"
	    "  --per-device-eval-batch-size (--eval-batch-size),\n"
	    "  --gradient-accumulation-steps (--grad-accum),\n"
	    "  --lr-scheduler-type (--schedule), --output (-o).\n",
	    ft_train_preset_names());
}

enum {
	O_INIT = 256, O_TOKDIR, O_TRAIN, O_VAL, O_RESUME,
	O_EPOCHS, O_MAX_STEPS, O_BS, O_EBS, O_GA, O_LR, O_WARMUP, O_SCHED,
	O_WD, O_B1, O_B2, O_EPS, O_CLIP, O_DROPOUT, O_MAXLEN, O_PACK,
	O_MASK_EOS, O_NO_SHUFFLE, O_EVAL_STEPS, O_SAVE_STEPS, O_SAVE_LIMIT,
	O_LOG_STEPS, O_BF16, O_SAVE_DTYPE,
	O_LORA_R, O_LORA_ALPHA, O_LORA_DROPOUT,
	O_LORA_TARGETS, O_RSLORA, O_ADAPTER, O_EVAL, O_EVAL_ONLY,
	O_LOAD_BEST, O_BEST_METRIC, O_GREATER, O_ES_PATIENCE, O_ES_THRESHOLD,
	O_NO_TOKENIZER,
};

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "init", required_argument, NULL, O_INIT },
	{ "tokenizer-dir", required_argument, NULL, O_TOKDIR },
	{ "no-tokenizer", no_argument, NULL, O_NO_TOKENIZER },
	{ "train", required_argument, NULL, O_TRAIN },
	{ "val", required_argument, NULL, O_VAL },
	{ "eval", required_argument, NULL, O_EVAL },
	{ "eval-only", no_argument, NULL, O_EVAL_ONLY },
	{ "output-dir", required_argument, NULL, 'o' },
	FT_OPT_OUTPUT,
	{ "overwrite-output-dir", no_argument, NULL, 'f' },
	FT_OPT_FORCE,
	{ "resume", optional_argument, NULL, O_RESUME },
	{ "epochs", required_argument, NULL, O_EPOCHS },
	{ "num-train-epochs", required_argument, NULL, O_EPOCHS },
	{ "max-steps", required_argument, NULL, O_MAX_STEPS },
	{ "batch-size", required_argument, NULL, O_BS },
	{ "per-device-train-batch-size", required_argument, NULL, O_BS },
	{ "eval-batch-size", required_argument, NULL, O_EBS },
	{ "per-device-eval-batch-size", required_argument, NULL, O_EBS },
	{ "grad-accum", required_argument, NULL, O_GA },
	{ "gradient-accumulation-steps", required_argument, NULL, O_GA },
	{ "lr", required_argument, NULL, O_LR },
	{ "learning-rate", required_argument, NULL, O_LR },
	{ "warmup-steps", required_argument, NULL, O_WARMUP },
	{ "schedule", required_argument, NULL, O_SCHED },
	{ "lr-scheduler-type", required_argument, NULL, O_SCHED },
	{ "weight-decay", required_argument, NULL, O_WD },
	{ "adam-beta1", required_argument, NULL, O_B1 },
	{ "adam-beta2", required_argument, NULL, O_B2 },
	{ "adam-eps", required_argument, NULL, O_EPS },
	{ "max-grad-norm", required_argument, NULL, O_CLIP },
	{ "dropout", required_argument, NULL, O_DROPOUT },
	{ "max-length", required_argument, NULL, O_MAXLEN },
	{ "pack", no_argument, NULL, O_PACK },
	{ "mask-eos", no_argument, NULL, O_MASK_EOS },
	{ "no-shuffle", no_argument, NULL, O_NO_SHUFFLE },
	{ "eval-steps", required_argument, NULL, O_EVAL_STEPS },
	{ "save-steps", required_argument, NULL, O_SAVE_STEPS },
	{ "save-total-limit", required_argument, NULL, O_SAVE_LIMIT },
	{ "logging-steps", required_argument, NULL, O_LOG_STEPS },
	{ "bf16", no_argument, NULL, O_BF16 },
	{ "save-dtype", required_argument, NULL, O_SAVE_DTYPE },
	{ "lora-r", required_argument, NULL, O_LORA_R },
	{ "lora-alpha", required_argument, NULL, O_LORA_ALPHA },
	{ "lora-dropout", required_argument, NULL, O_LORA_DROPOUT },
	{ "lora-targets", required_argument, NULL, O_LORA_TARGETS },
	{ "rslora", no_argument, NULL, O_RSLORA },
	{ "adapter", required_argument, NULL, O_ADAPTER },
	{ "load-best-model-at-end", no_argument, NULL, O_LOAD_BEST },
	{ "metric-for-best-model", required_argument, NULL, O_BEST_METRIC },
	{ "greater-is-better", no_argument, NULL, O_GREATER },
	{ "early-stopping-patience", required_argument, NULL, O_ES_PATIENCE },
	{ "early-stopping-threshold", required_argument, NULL,
	    O_ES_THRESHOLD },
	FT_OPT_SEED,
	FT_OPT_THREADS,
	FT_OPT_HELP, FT_OPT_VERSION, FT_OPT_QUIET,
	{ NULL, 0, NULL, 0 },
};

static const struct ft_opt_na not_here[] = {
	{ 'v', "the progress line and notes are on unless -q" },
	{ 0, NULL },
};

#define BIG 1000000000L

/* The long names of the options given (--resume takes the others from
 * the checkpoint): getopt's code -> its first name in longopts. */
static const char *given[64];
static size_t n_given;

static void
mark_given(int c)
{
	for (const struct option *l = longopts; l->name != NULL; l++)
		if (l->val == c) {
			for (size_t i = 0; i < n_given; i++)
				if (given[i] == l->name)
					return;
			if (n_given < sizeof given / sizeof *given)
				given[n_given++] = l->name;
			return;
		}
}

int
main(int argc, char **argv)
{
	ft_train_opts o;
	const char *model_arg = NULL;
	char *model_dir = NULL, *base_arg = NULL, *base_real = NULL;
	const char **evals = NULL;
	int lora_given = 0, no_tokenizer = 0, tokdir_given = 0;
	ft_opts op = { .shortopts = "m:o:s:j:f", .longopts = longopts,
	    .help_fn = usage, .na = not_here };
	long cpus;
	int c, rc;

	ft_blas_init(argc, argv);
	ft_setprog(argv[0]);
	ft_io_install_signal_cleanup();
	ft_train_opts_default(&o);
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	o.threads = cpus > 0 ? (int)cpus : 1;
	while ((c = ft_getopt(&op, argc, argv)) != -1) {
		mark_given(c);
		switch (c) {
		case 'm': model_arg = optarg; break;
		case O_INIT: o.init = ft_parse_path("--init", optarg); break;
		case O_TOKDIR:
			o.tokenizer_dir = ft_parse_path("--tokenizer-dir",
			    optarg);
			tokdir_given = 1;
			break;
		case O_NO_TOKENIZER: no_tokenizer = 1; break;
		case O_TRAIN:
			o.train_path = ft_parse_path("--train", optarg);
			break;
		case O_VAL: o.val_path = ft_parse_path("--val", optarg); break;
		case O_EVAL:
			if (strchr(optarg, '=') == NULL || *optarg == '=')
				ft_usage_error("--eval '%s': want NAME=FILE", optarg);
			evals = ft_realloc(evals, (o.n_evals + 1) * sizeof *evals);
			evals[o.n_evals++] = optarg;
			o.evals = evals;
			break;
		case O_EVAL_ONLY: o.eval_only = 1; break;
		case 'o': o.run_dir = ft_parse_path("-o", optarg); break;
		case 'f': o.overwrite = 1; break;
		case O_RESUME:
			o.resume = 1;
			o.resume_from = optarg == NULL ? NULL :
			    ft_parse_path("--resume", optarg);
			break;
		case O_EPOCHS:
			o.epochs = ft_parse_double("--epochs", optarg, 1e-9, 1e9);
			break;
		case O_MAX_STEPS:
			o.max_steps = ft_parse_long("--max-steps", optarg, 1, BIG);
			break;
		case O_BS:
			o.batch_size = (int)ft_parse_long("--batch-size", optarg,
			    1, 1 << 20);
			break;
		case O_EBS:
			o.eval_batch_size = (int)ft_parse_long("--eval-batch-size",
			    optarg, 1, 1 << 20);
			break;
		case O_GA:
			o.grad_accum = (int)ft_parse_long("--grad-accum", optarg,
			    1, 1 << 20);
			break;
		case O_LR:
			o.lr = ft_parse_double("--lr", optarg, 0, 1e300);
			break;
		case O_WARMUP:
			o.warmup_steps = ft_parse_long("--warmup-steps", optarg, 0,
			    BIG);
			break;
		case O_SCHED:
			o.schedule = ft_lr_kind_parse(optarg);
			if (o.schedule < 0)
				ft_usage_error("invalid value '%s' for --schedule "
				    "(linear, cosine, constant_with_warmup, "
				    "constant)", optarg);
			break;
		case O_WD:
			o.weight_decay = ft_parse_double("--weight-decay", optarg,
			    0, 1e9);
			break;
		case O_B1:
			o.adam_beta1 = ft_parse_double("--adam-beta1", optarg, 0,
			    0.999999999);
			break;
		case O_B2:
			o.adam_beta2 = ft_parse_double("--adam-beta2", optarg, 0,
			    0.999999999);
			break;
		case O_EPS:
			o.adam_eps = ft_parse_double("--adam-eps", optarg, 0, 1);
			break;
		case O_CLIP:
			o.max_grad_norm = ft_parse_double("--max-grad-norm",
			    optarg, 0, 1e300);
			break;
		case O_DROPOUT:
			o.dropout = ft_parse_double("--dropout", optarg, 0, 0.99);
			break;
		case O_MAXLEN:
			o.max_length = ft_parse_long("--max-length", optarg, 2,
			    1 << 20);
			break;
		case O_PACK: o.pack = 1; break;
		case O_MASK_EOS: o.mask_eos = 1; break;
		case O_NO_SHUFFLE: o.shuffle = 0; break;
		case O_EVAL_STEPS:
			o.eval_steps = ft_parse_long("--eval-steps", optarg, 0, BIG);
			break;
		case O_SAVE_STEPS:
			o.save_steps = ft_parse_long("--save-steps", optarg, 0, BIG);
			break;
		case O_SAVE_LIMIT:
			o.save_total_limit = ft_parse_long("--save-total-limit",
			    optarg, 0, BIG);
			break;
		case O_LOG_STEPS:
			o.logging_steps = ft_parse_long("--logging-steps", optarg,
			    0, BIG);
			break;
		case O_BF16: o.bf16 = 1; break;
		case O_SAVE_DTYPE:
			if (strcmp(optarg, "bfloat16") == 0 ||
			    strcmp(optarg, "bf16") == 0)
				o.save_bf16 = 1;
			else if (strcmp(optarg, "float32") == 0 ||
			    strcmp(optarg, "fp32") == 0)
				o.save_bf16 = 0;
			else
				ft_usage_error("invalid value '%s' for --save-dtype "
				    "(float32, bfloat16)", optarg);
			break;
		case O_LORA_R:
			o.lora_r = (int)ft_parse_long("--lora-r", optarg, 1, 1 << 16);
			break;
		case O_LORA_ALPHA:
			lora_given = 1;
			o.lora_alpha = ft_parse_double("--lora-alpha", optarg, 0,
			    1e9);
			break;
		case O_LORA_DROPOUT:
			lora_given = 1;
			o.lora_dropout = ft_parse_double("--lora-dropout", optarg, 0,
			    0.99);
			break;
		case O_LORA_TARGETS:
			lora_given = 1;
			o.lora_targets = optarg;
			break;
		case O_RSLORA:
			lora_given = 1;
			o.rslora = 1;
			break;
		case O_ADAPTER:
			o.adapter_dir = ft_parse_path("--adapter", optarg);
			break;
		case O_LOAD_BEST: o.load_best = 1; break;
		case O_BEST_METRIC: o.best_metric = optarg; break;
		case O_GREATER: o.greater_is_better = 1; break;
		case O_ES_PATIENCE:
			o.es_patience = ft_parse_long("--early-stopping-patience",
			    optarg, 1, BIG);
			break;
		case O_ES_THRESHOLD:
			o.es_threshold = ft_parse_double(
			    "--early-stopping-threshold", optarg, 0, 1e300);
			break;
		case 's':
			o.seed = (uint64_t)ft_parse_long("--seed", optarg, 0,
			    0xffffffffL);
			break;
		case 'j':
			o.threads = (int)ft_parse_long("--threads", optarg, 1, 1024);
			break;
		}
	}
	o.quiet = op.quiet;
	/* "--resume CHECKPOINT": the tool takes no operands otherwise */
	if (optind < argc && o.resume && o.resume_from == NULL)
		o.resume_from = argv[optind++];
	if (optind < argc)
		ft_usage_error("unexpected argument '%s'", argv[optind]);
	if (o.eval_only && (o.init != NULL || o.lora_r > 0 || o.resume))
		ft_usage_error("--eval-only evaluates a model (-m, --adapter)");
	if (o.eval_only && o.val_path == NULL && o.n_evals == 0)
		ft_usage_error("--eval-only needs --val FILE or --eval NAME=FILE");
	if (o.train_path == NULL && !o.eval_only && !o.resume)
		ft_usage_error("--train FILE is required");
	o.given = given;
	o.n_given = n_given;
	if (!o.resume) { /* with --resume: once the checkpoint's are in */
		char why[512];

		if (ft_train_opts_check(&o, why, sizeof why) != 0)
			ft_usage_error("%s", why);
	}
	if (o.run_dir == NULL && !o.eval_only)
		ft_usage_error("-o RUN_DIR is required");
	if (o.resume && o.overwrite)
		ft_usage_error("--resume and --overwrite-output-dir exclude each "
		    "other");
	if (o.adapter_dir != NULL && o.lora_r > 0)
		ft_usage_error("--adapter continues an adapter; --lora-r makes a "
		    "new one");
	if ((o.adapter_dir != NULL || o.lora_r > 0) && o.init != NULL)
		ft_usage_error("LoRA adapts a pretrained model (-m), not --init");
	if (o.lora_r == 0 && lora_given)
		ft_usage_error("--lora-alpha, --lora-dropout, --lora-targets and "
		    "--rslora need --lora-r (an --adapter has its own)");
	if (o.adapter_dir != NULL && model_arg == NULL) {
		/* the base the adapter names */
		base_arg = ft_lora_base_of(o.adapter_dir);
		if (base_arg == NULL)
			return FT_EXIT_FAIL;
		model_arg = base_arg;
	}
	/* --resume without -m: the checkpoint has what it needs */
	if ((o.init == NULL && !(o.resume && model_arg == NULL)) ||
	    model_arg != NULL) {
		model_dir = ft_model_resolve(model_arg);
		if (model_dir == NULL)
			return FT_EXIT_FAIL;
	}
	if (o.init != NULL) {
		/* -m only names the tokenizer to copy */
		if (o.tokenizer_dir == NULL)
			o.tokenizer_dir = model_dir;
		o.model_dir = NULL;
	} else {
		o.model_dir = model_dir;
	}
	/* the outputs carry a tokenizer (ft-sample needs one): refuse now,
	 * not after training, unless --no-tokenizer (a resumed run has its
	 * checkpoint's) */
	if (no_tokenizer && tokdir_given)
		ft_usage_error("--no-tokenizer and --tokenizer-dir exclude each "
		    "other");
	o.no_tokenizer = no_tokenizer;
	rc = 0;
	if (!no_tokenizer && !o.eval_only && !o.resume) {
		const char *t = o.tokenizer_dir != NULL ? o.tokenizer_dir :
		    o.model_dir;

		if (t == NULL) {
			ft_error("--init %s: the run needs a tokenizer: pass "
			    "--tokenizer-dir DIR (or -m DIR), or --no-tokenizer",
			    o.init);
			rc = FT_EXIT_USAGE;
		} else if (!ft_has_tokenizer(t)) {
			ft_error("'%s' has no tokenizer (tokenizer.json, or "
			    "vocab.json and merges.txt): pass --tokenizer-dir "
			    "DIR, or --no-tokenizer", t);
			rc = FT_EXIT_USAGE;
		}
		if (rc == FT_EXIT_USAGE) {
			free(model_dir);
			free(base_arg);
			free(evals);
			return rc;
		}
	}
	/* under mpirun: join the job (lib/dist.h); rank 0 speaks for it */
	if (ft_dist_init(argc, argv) != 0)
		return FT_EXIT_FAIL;
	if (ft_dist_rank() > 0)
		o.quiet = 1;
	/* base_model_name_or_path: a Hub id as given, a directory as an
	 * absolute path (a run directory is read from anywhere) */
	{
		const char *b = model_arg != NULL ? model_arg : getenv("FT_MODEL");

		if (b == NULL || *b == '\0')
			b = "distilgpt2";
		base_real = realpath(b, NULL);
		o.base_name = base_real != NULL ? base_real : b;
	}
	rc = ft_train_run(&o);
	free(model_dir);
	free(base_real);
	free(base_arg);
	free(evals);
	if (ft_close_stdout() != 0)
		rc = FT_EXIT_FAIL;
	return ft_dist_end(rc);
}
