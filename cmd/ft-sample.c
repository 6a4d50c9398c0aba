/* ft-sample — generate text from a GPT-2 or Llama-family model directory
 * with a KV cache: the notebook's model.generate(max_length=250,
 * temperature=0.9, top_p=0.92, do_sample=True) (docs/hf-reference.md §14). */
#include "bpe.h"
#include "blas.h"
#include "err.h"
#include "generate.h"
#include "model/lora.h"
#include "model/model.h"
#include "io.h"
#include "jsonl.h"
#include "modeldir.h"
#include "opt.h"
#include "trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
"usage: ft-sample [-m MODEL_DIR] [options] [PROMPT...]\n"
"Generate text after each PROMPT (or each line of stdin) with a KV cache.\n"
"  -m, --model DIR         model directory or Hub id (default $FT_MODEL,\n"
"                          else distilgpt2 from the Hub cache), or a LoRA\n"
"                          adapter directory (its base from the adapter)\n"
"      --adapter DIR       apply a LoRA adapter (PEFT's files) to the model\n"
"      --merge-to DIR      write the model with the adapter merged into its\n"
"                          weights as a model directory, and exit\n"
"      --max-length N      total tokens, prompt included (default 250)\n"
"      --max-new-tokens N  new tokens (overrides --max-length)\n"
"      --temperature T     softmax temperature (0.9; 0 means --greedy)\n"
"      --top-k K           keep the K most likely tokens (50; 0: off)\n"
"      --top-p P           keep the smallest set with mass >= P (0.92; 1: off)\n"
"      --greedy            always take the most likely token\n"
"      --do-sample         draw from the distribution (the default; cancels\n"
"                          --greedy)\n"
"      --repetition-penalty P  divide (> 0) or multiply (< 0) the logits of\n"
"                          the tokens so far by P (1: off)\n"
"      --no-repeat-ngram-size N  never repeat an N-gram (0: off)\n"
"      --min-new-tokens N  no eos before N new tokens (0: off)\n"
"  -s, --seed N            random seed (default 42); prompt i uses seed + i\n"
"  -n, --num-samples N     samples per prompt, generated as one batch (1);\n"
"                          also --num-return-sequences\n"
"      --stop STR          end a sample where STR appears (repeatable)\n"
"      --echo              print the prompt before its continuation\n"
"      --no-stream         print each sample only when it is complete\n"
"      --jsonl             read JSONL records with a \"prompt\" field (stdin),\n"
"                          write them back with \"completion\" added\n"
"      --field NAME        with --jsonl: the prompt's field (default prompt)\n"
"      --keep-special      keep special tokens in the text\n"
"      --dtype TYPE        weights for decoding: fp32, bf16 or int8 (fp32)\n"
"  -j, --threads N         threads (default: the number of CPUs)\n"
"  -v, --verbose           print speed on stderr\n"
"  -q, --quiet             no speed on stderr (cancels -v)\n"
"  -h, --help              print this help and exit\n"
"  -V, --version           print the version and exit\n";

enum { O_MAXLEN = 256, O_MAXNEW, O_TEMP, O_TOPK, O_TOPP, O_GREEDY, O_DOSAMPLE,
	O_STOP, O_ECHO, O_NOSTREAM, O_JSONL, O_KEEPSPECIAL,
	O_REPPEN, O_NGRAM, O_MINNEW, O_FIELD, O_DTYPE, O_ADAPTER, O_MERGE_TO };

static const struct option longopts[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "adapter", required_argument, NULL, O_ADAPTER },
	{ "merge-to", required_argument, NULL, O_MERGE_TO },
	{ "max-length", required_argument, NULL, O_MAXLEN },
	{ "max-new-tokens", required_argument, NULL, O_MAXNEW },
	{ "temperature", required_argument, NULL, O_TEMP },
	{ "top-k", required_argument, NULL, O_TOPK },
	{ "top-p", required_argument, NULL, O_TOPP },
	{ "greedy", no_argument, NULL, O_GREEDY },
	{ "do-sample", no_argument, NULL, O_DOSAMPLE },
	FT_OPT_SEED,
	{ "num-samples", required_argument, NULL, 'n' },
	{ "num-return-sequences", required_argument, NULL, 'n' },
	{ "repetition-penalty", required_argument, NULL, O_REPPEN },
	{ "no-repeat-ngram-size", required_argument, NULL, O_NGRAM },
	{ "min-new-tokens", required_argument, NULL, O_MINNEW },
	{ "field", required_argument, NULL, O_FIELD },
	{ "stop", required_argument, NULL, O_STOP },
	{ "echo", no_argument, NULL, O_ECHO },
	{ "no-stream", no_argument, NULL, O_NOSTREAM },
	{ "jsonl", no_argument, NULL, O_JSONL },
	{ "keep-special", no_argument, NULL, O_KEEPSPECIAL },
	{ "dtype", required_argument, NULL, O_DTYPE },
	FT_OPT_THREADS,
	FT_OPTS_COMMON,
	{ NULL, 0, NULL, 0 },
};

static const struct ft_opt_na not_here[] = {
	{ 'o', "it writes the samples to stdout (--merge-to DIR writes a model)" },
	{ 'f', "it writes text" },
	{ 0, NULL },
};

/* Output of the samples of one prompt.  Sample 0 streams live; sample i
 * streams once samples 0..i-1 are complete, and is buffered until then,
 * so the output is the samples in order whatever their speed. */
struct out {
	int B, cur, stream, jsonl;
	char **buf;
	size_t *len, *cap;
	uint8_t *done;
	const char *echo;   /* prompt text printed before each sample */
	size_t echo_len;
	int fail;
};

static int
put(struct out *o, const char *s, size_t n)
{
	if (n > 0 && fwrite(s, 1, n, stdout) != n) {
		o->fail = 1;
		return ft_stdout_error();
	}
	if (o->stream && fflush(stdout) != 0) {
		o->fail = 1;
		return ft_stdout_error();
	}
	return 0;
}

static int
on_text(void *ctx, int row, const char *s, size_t n)
{
	struct out *o = ctx;

	if (o->stream && row == o->cur)
		return put(o, s, n);
	ft_grow((void **)&o->buf[row], &o->cap[row], o->len[row] + n + 1, 1);
	memcpy(o->buf[row] + o->len[row], s, n);
	o->len[row] += n;
	return 0;
}

/* Print sample row (whatever is buffered) and its end. */
static int
finish_row(struct out *o, int row)
{
	if (o->jsonl)
		return 0;
	if (!o->stream && put(o, o->echo, o->echo_len) != 0)
		return -1;
	if (put(o, o->buf[row], o->len[row]) != 0 || put(o, "\n", 1) != 0)
		return -1;
	o->len[row] = 0;
	return 0;
}

static int
on_end(void *ctx, int row, enum ft_gen_end why)
{
	struct out *o = ctx;

	o->done[row] = 1;
	if (!o->stream)
		return 0;
	while (o->cur < o->B && o->done[o->cur]) {
		if (finish_row(o, o->cur) != 0)
			return -1;
		if (++o->cur < o->B) {
			if (put(o, o->echo, o->echo_len) != 0)
				return -1;
			if (put(o, o->buf[o->cur], o->len[o->cur]) != 0)
				return -1;
			o->len[o->cur] = 0;
		}
	}
	return 0;
}

/* Set obj[key] = item, replacing a field of that name. */
static void
set_field(cJSON *obj, const char *key, cJSON *item)
{
	if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
	else
		cJSON_AddItemToObject(obj, key, item);
}

struct ctx {
	ft_model *m;
	struct ft_bpe *tok;
	struct ft_bpe_enc *enc;
	struct ft_gen *gen;
	struct out o;
	int bos, jsonl, echo, skip_special;
	uint64_t seed;      /* --seed; prompt i samples with seed + i */
	uint64_t nprompt;   /* prompts so far */
	int max_new, noted_ctx;    /* --max-new-tokens; said it won't fit */
	uint32_t *ids;
	size_t nids, capids;
	char *echo_text;
	size_t echo_len, echo_cap;
};

/* Generate for one prompt; rec (JSONL mode) is the input record.
 * 0 or -1. */
static int
sample_one(struct ctx *c, const char *prompt, size_t n, const char *where,
    const cJSON *rec)
{
	struct out *o = &c->o;
	int32_t *ids;
	int limit = ft_gen_max_prompt(c->gen), rc;

	if (ft_utf8_check(prompt, n) != n)
		return ft_error("%s: prompt is not valid UTF-8", where);
	c->nids = 0;
	ft_bpe_encode(c->enc, prompt, n, 0, &c->ids, &c->nids, &c->capids);
	if (c->nids == 0) {	/* an empty prompt starts from bos */
		ft_grow((void **)&c->ids, &c->capids, 1, sizeof(*c->ids));
		c->ids[c->nids++] = (uint32_t)c->bos;
	}
	if ((long)c->nids > limit)
		return ft_error("%s: prompt has %zu tokens; the model's %d "
		    "positions and --max-length/--max-new-tokens leave room for "
		    "%d", where, c->nids, c->m->cfg.n_positions, limit);
	if (c->max_new > 0 && (long)c->nids + c->max_new >
	    c->m->cfg.n_positions && !c->noted_ctx) {
		ft_note("%s: --max-new-tokens %d does not fit: the prompt's %zu "
		    "tokens leave %ld of the model's %d positions; stopping "
		    "there", where, c->max_new, c->nids,
		    (long)c->m->cfg.n_positions - (long)c->nids,
		    c->m->cfg.n_positions);
		c->noted_ctx = 1;
	}
	for (size_t i = 0; i < c->nids; i++)
		if (c->ids[i] >= (uint32_t)c->m->cfg.vocab_size)
			return ft_error("%s: token id %u is outside the model's "
			    "vocabulary of %d", where, c->ids[i],
			    c->m->cfg.vocab_size);
	c->echo_len = 0;
	if (c->echo && ft_bpe_decode(c->tok, c->ids, c->nids, c->skip_special,
	    &c->echo_text, &c->echo_len, &c->echo_cap) != 0)
		return -1;
	o->echo = c->echo_len ? c->echo_text : "";
	o->echo_len = c->echo_len;
	o->cur = 0;
	for (int b = 0; b < o->B; b++)
		o->len[b] = 0, o->done[b] = 0;
	if (o->stream && put(o, o->echo, o->echo_len) != 0)
		return -1;
	ids = (int32_t *)c->ids;   /* ids < vocab_size <= INT32_MAX */
	ft_gen_set_seed(c->gen, c->seed + c->nprompt++);
	rc = ft_gen_run(c->gen, ids, (int)c->nids, on_text, on_end, o);
	if (rc != 0)
		return -1;
	if (!o->stream && !o->jsonl)
		for (int b = 0; b < o->B; b++)
			if (finish_row(o, b) != 0)
				return -1;
	if (o->jsonl)
		for (int b = 0; b < o->B; b++) {
			cJSON *r = rec ? cJSON_Duplicate(rec, 1) : cJSON_CreateObject();

			if (rec == NULL)
				set_field(r, "prompt", cJSON_CreateString(prompt));
			if (o->B > 1)
				set_field(r, "sample", cJSON_CreateNumber(b));
			ft_grow((void **)&o->buf[b], &o->cap[b], o->len[b] + 1, 1);
			o->buf[b][o->len[b]] = '\0';
			set_field(r, "completion", cJSON_CreateString(o->buf[b]));
			rc = ft_jsonl_write(stdout, r, "<stdout>");
			cJSON_Delete(r);
			if (rc != 0)
				return -1;
		}
	return 0;
}

/* --merge-to: W + s·B·A as a plain model directory, with the base's
 * generation_config.json and the tokenizer files (the adapter's, else the
 * base's). */
static int
merge(ft_model *m, const char *base, const char *dir, const char *adapter,
    const char *out)
{
	const struct { const char *what, *path; } in[] = {
		{ "the base model", base },
		{ "the adapter", adapter != NULL ? adapter : dir },
	};
	char *g, *p;
	const char *tsrc;
	ft_tokfiles tf;
	int rc;

	if (m->lora == NULL) {
		ft_error("--merge-to: '%s' is a model without an adapter (give an "
		    "adapter directory or --adapter)", dir);
		return FT_EXIT_USAGE;
	}
	/* as ft-train's -o: never write over or into an input */
	for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
		if (ft_path_within(in[i].path, out)) {
			ft_error("--merge-to: '%s' holds %s '%s'; choose another "
			    "folder", out, in[i].what, in[i].path);
			return FT_EXIT_FAIL;
		}
		if (ft_path_within(out, in[i].path)) {
			ft_error("--merge-to: '%s' is inside %s '%s'; choose "
			    "another folder", out, in[i].what, in[i].path);
			return FT_EXIT_FAIL;
		}
	}
	ft_lora_merge(m);
	if (ft_model_save_dir(m, out) != 0)
		return FT_EXIT_FAIL;
	g = ft_path_join(base, "generation_config.json");
	p = ft_path_join(out, "generation_config.json");
	rc = ft_exists(g) ? ft_copy_file(g, p) : 0;
	free(g);
	free(p);
	tsrc = ft_has_tokenizer(dir) ? dir : base;
	if (rc == 0 && ft_has_tokenizer(tsrc)) {
		rc = ft_tokfiles_prepare(&tf, tsrc,
		    ft_model_type(&m->cfg), m->cfg.n_positions,
		    m->cfg.bos_token_id);
		if (rc == 0)
			rc = ft_tokfiles_save(&tf, out);
		ft_tokfiles_release(&tf);
	}
	return rc == 0 ? 0 : FT_EXIT_FAIL;
}

int
main(int argc, char **argv)
{
	struct ctx c = { 0 };
	struct ft_gen_opts go = { .sampler = FT_SAMPLER_DEFAULTS, .seed = 42,
	    .max_length = 250, .skip_special = 1 };
	const char *marg = NULL, **stops = NULL, *field = "prompt";
	const char *adapter = NULL, *merge_to = NULL;
	char *dir, *base = NULL;
	int ch, nsamples = 1, threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	int stream = 1, verbose, status = 0, field_set = 0, qtype = -1;
	ft_opts op = { .shortopts = "m:n:j:s:", .longopts = longopts,
	    .help = usage, .na = not_here };
	ft_qtype qt = FT_Q_BF16;
	ft_token_ids tids;
	size_t nstops = 0;

	ft_blas_init(argc, argv); /* may re-exec with faster BLAS kernels */
	ft_setprog(argv[0]);
	ft_io_install_signal_cleanup();
	c.skip_special = 1;
	while ((ch = ft_getopt(&op, argc, argv)) != -1) {
		switch (ch) {
		case 'm': marg = optarg; break;
		case O_ADAPTER:
			adapter = ft_parse_path("--adapter", optarg);
			break;
		case O_MERGE_TO:
			merge_to = ft_parse_path("--merge-to", optarg);
			break;
		case O_MAXLEN:
			go.max_length = (int)ft_parse_long("--max-length", optarg,
			    1, 1 << 24);
			break;
		case O_MAXNEW:
			go.max_new_tokens = (int)ft_parse_long("--max-new-tokens",
			    optarg, 1, 1 << 24);
			break;
		case O_TEMP:
			go.sampler.temperature = ft_parse_double("--temperature",
			    optarg, 0, 1e6);
			break;
		case O_TOPK:
			go.sampler.top_k = ft_parse_long("--top-k", optarg, 0,
			    1 << 30);
			break;
		case O_TOPP:
			go.sampler.top_p = ft_parse_double("--top-p", optarg,
			    1e-9, 1);
			break;
		case O_GREEDY: go.sampler.greedy = 1; break;
		case O_DOSAMPLE: go.sampler.greedy = 0; break;
		case O_REPPEN:
			go.sampler.repetition_penalty = ft_parse_double(
			    "--repetition-penalty", optarg, 1e-6, 1e6);
			break;
		case O_NGRAM:
			go.sampler.no_repeat_ngram_size = (int)ft_parse_long(
			    "--no-repeat-ngram-size", optarg, 0, 1 << 24);
			break;
		case O_MINNEW:
			go.sampler.min_new_tokens = (int)ft_parse_long(
			    "--min-new-tokens", optarg, 0, 1 << 24);
			break;
		case O_FIELD: field = optarg; field_set = 1; break;
		case 's':
			go.seed = (uint64_t)ft_parse_long("--seed", optarg, 0,
			    0x7fffffffffffffffL);
			break;
		case 'n':
			nsamples = (int)ft_parse_long("--num-samples", optarg, 1,
			    1024);
			break;
		case O_STOP:
			if (*optarg == '\0')
				ft_usage_error("--stop needs a non-empty string");
			stops = ft_realloc(stops, (nstops + 1) * sizeof(*stops));
			stops[nstops++] = optarg;
			break;
		case O_ECHO: c.echo = 1; break;
		case O_NOSTREAM: stream = 0; break;
		case O_JSONL: c.jsonl = 1; break;
		case O_KEEPSPECIAL: c.skip_special = 0; break;
		case 'j':
			threads = (int)ft_parse_long("--threads", optarg, 1, 1024);
			break;
		case O_DTYPE:
			if (strcmp(optarg, "fp32") == 0)
				qtype = -1;
			else if (ft_qtype_parse(optarg, &qt) == 0)
				qtype = (int)qt;
			else
				ft_usage_error("invalid value '%s' for --dtype (fp32, "
				    "bf16, int8)", optarg);
			break;
		}
	}
	verbose = op.verbose > 0;
	if (field_set && !c.jsonl)
		ft_usage_error("--field goes with --jsonl");
	if ((dir = ft_model_resolve(marg)) == NULL)
		return FT_EXIT_FAIL;
	status = FT_EXIT_FAIL;
	/* a model, or a LoRA adapter on its base (-m ADAPTER, --adapter) */
	c.m = ft_calloc(1, sizeof(*c.m));
	if (ft_lora_load_model(c.m, dir, adapter, &base) != 0)
		goto out;
	if (merge_to != NULL) {
		status = merge(c.m, base, dir, adapter, merge_to);
		goto out;
	}
	/* the tokenizer: the adapter's directory may hold one */
	if (!ft_has_tokenizer(dir) && c.m->lora != NULL) {
		free(dir);
		dir = ft_strdup(base);
	}
	if (ft_need_tokenizer(dir) != 0
	    || (c.tok = ft_bpe_load_dir(dir)) == NULL)
		goto out;
	ft_model_set_threads(c.m, threads > 0 ? threads : 1);
	if (qtype >= 0 && ft_model_quantize(c.m, (ft_qtype)qt) != 0)
		goto out;
	c.bos = c.m->cfg.bos_token_id >= 0 ? c.m->cfg.bos_token_id
	    : ft_bpe_eos_id(c.tok);
	if (c.m->cfg.bos_token_id >= c.m->cfg.vocab_size) {
		ft_error("%s/config.json: \"bos_token_id\": %d is not below "
		    "vocab_size %d", base, c.bos, c.m->cfg.vocab_size);
		goto out;
	}
	if (c.bos < 0 || c.bos >= c.m->cfg.vocab_size) {
		ft_error("%s: no bos_token_id in config.json", dir);
		goto out;
	}
	if (ft_model_token_ids(base, &tids) != 0)
		goto out;
	go.neos = tids.neos;
	if (go.neos == 0 && c.m->cfg.eos_token_id >= 0)
		tids.eos[go.neos++] = c.m->cfg.eos_token_id;
	go.eos = tids.eos;
	go.stops = stops;
	go.nstops = nstops;
	go.skip_special = c.skip_special;
	c.seed = go.seed;
	c.max_new = go.max_new_tokens;
	if ((c.gen = ft_gen_new(c.m, c.tok, nsamples, &go)) == NULL) {
		status = FT_EXIT_USAGE;
		goto out;
	}
	status = 0;
	c.enc = ft_bpe_enc_new(c.tok);
	c.o.B = nsamples;
	c.o.stream = stream && !c.jsonl;
	c.o.jsonl = c.jsonl;
	c.o.buf = ft_calloc((size_t)nsamples, sizeof(*c.o.buf));
	c.o.len = ft_calloc((size_t)nsamples, sizeof(*c.o.len));
	c.o.cap = ft_calloc((size_t)nsamples, sizeof(*c.o.cap));
	c.o.done = ft_calloc((size_t)nsamples, 1);

	if (optind < argc) {
		for (int i = optind; i < argc && status == 0; i++) {
			char *where = ft_asprintf("argument %d", i - optind + 1);

			status = sample_one(&c, argv[i], strlen(argv[i]), where,
			    NULL) ? FT_EXIT_FAIL : 0;
			free(where);
		}
	} else if (c.jsonl) {
		ft_jsonl *r = ft_jsonl_open("-");
		cJSON *obj;
		const char *s;
		size_t n;
		int k;

		while (status == 0 && (k = ft_jsonl_next(r, &obj)) == 1) {
			char *where = ft_asprintf("%s:%ld", ft_jsonl_name(r),
			    ft_jsonl_lineno(r));

			if (ft_jsonl_text(r, obj, field, &s, &n) != 0
			    || sample_one(&c, s, n, where, obj) != 0)
				status = FT_EXIT_FAIL;
			free(where);
		}
		if (k < 0)
			status = FT_EXIT_FAIL;
		ft_jsonl_close(r);
	} else {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		long lineno = 0;

		while (status == 0 && (n = getline(&line, &cap, stdin)) >= 0) {
			char *where = ft_asprintf("<stdin>:%ld", ++lineno);

			if (n > 0 && line[n - 1] == '\n')
				line[--n] = '\0';
			if (n > 0 && line[n - 1] == '\r')
				line[--n] = '\0';
			status = sample_one(&c, line, (size_t)n, where, NULL)
			    ? FT_EXIT_FAIL : 0;
			free(where);
		}
		free(line);
	}
	if (verbose) {
		struct ft_gen_stats st;

		ft_gen_stats(c.gen, &st);
		ft_note("%lld new tokens in %.3f s (%.1f tokens/s), prompt %lld "
		    "tokens in %.3f s, %d threads, batch %d", st.new_tokens,
		    st.decode_s, st.decode_s > 0 ? st.new_tokens / st.decode_s : 0,
		    st.prompt_tokens, st.prefill_s, threads, nsamples);
	}
out:
	for (int b = 0; c.o.buf != NULL && b < nsamples; b++)
		free(c.o.buf[b]);
	free(c.o.buf);
	free(c.o.len);
	free(c.o.cap);
	free(c.o.done);
	free(c.ids);
	free(c.echo_text);
	free(stops);
	free(dir);
	free(base);
	ft_gen_free(c.gen);
	ft_bpe_enc_free(c.enc);
	ft_bpe_free(c.tok);
	if (c.m != NULL)
		ft_model_release(c.m);
	free(c.m);
	return ft_close_stdout() ? FT_EXIT_FAIL : status;
}
