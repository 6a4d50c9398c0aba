/* trainer — Trainer bookkeeping without the model; see trainer.h.
 *
 * Numbers in JSON are printed the way Python prints floats (shortest
 * round-trip digits, repr's switch to exponent form), so trainer_state.json
 * reads like the Trainer's own.  Checkpoints are built in a hidden
 * temporary folder and renamed into place: rename(2) of a folder is atomic,
 * so after any crash a checkpoint-STEP folder is either complete or not
 * there at all. */
#include <cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "io.h"
#include "jsonl.h"
#include "rng.h"
#include "trainer.h"

/* ---- Python-compatible number text ---- */

double
ft_pyround(double x, int nd)
{
	char tmp[400];

	if (!isfinite(x))
		return x;
	snprintf(tmp, sizeof tmp, "%.*f", nd, x);
	return strtod(tmp, NULL);
}

/* ---- samples and batches ---- */

int
ft_samples_build(ft_samples *s, const ft_tok_data *d, size_t max_length,
    int pack)
{
	memset(s, 0, sizeof *s);
	s->ids = d->ids;
	if (max_length == 0)
		return ft_error("max length must be positive");
	if (pack) {
		size_t n = d->n_ids / max_length;

		if (n == 0 && d->n_ids > 0)
			n = 1;
		s->n = n;
		s->off = ft_calloc(n ? n : 1, sizeof *s->off);
		s->len = ft_calloc(n ? n : 1, sizeof *s->len);
		for (size_t i = 0; i < n; i++) {
			s->off[i] = i * max_length;
			s->len[i] = (uint32_t)(d->n_ids < max_length ? d->n_ids
			    : max_length);
			s->n_tokens += s->len[i];
		}
		return 0;
	}
	s->off = ft_calloc(d->n_docs ? d->n_docs : 1, sizeof *s->off);
	s->len = ft_calloc(d->n_docs ? d->n_docs : 1, sizeof *s->len);
	for (size_t i = 0; i < d->n_docs; i++) {
		size_t len = d->doc_start[i + 1] - d->doc_start[i];

		if (len == 0) {
			s->n_empty++;
			continue;
		}
		if (len > max_length) {
			len = max_length;
			s->n_truncated++;
		}
		s->off[s->n] = d->doc_start[i];
		s->len[s->n] = (uint32_t)len;
		s->n_tokens += len;
		s->n++;
	}
	return 0;
}

void
ft_samples_free(ft_samples *s)
{
	free(s->off);
	free(s->len);
	memset(s, 0, sizeof *s);
}

void
ft_batch_make(ft_batch *b, const ft_samples *s, const size_t *idx, int B,
    int32_t pad_id, int32_t mask_id)
{
	int T = 1;
	size_t need;

	for (int r = 0; r < B; r++)
		if ((int)s->len[idx[r]] > T)
			T = (int)s->len[idx[r]];
	need = (size_t)B * (size_t)T;
	if (need > b->cap) {
		b->ids = ft_realloc(b->ids, need * sizeof *b->ids);
		b->mask = ft_realloc(b->mask, need * sizeof *b->mask);
		b->targets = ft_realloc(b->targets, need * sizeof *b->targets);
		b->cap = need;
	}
	b->B = B;
	b->T = T;
	b->n_targets = 0;
	b->n_real = 0;
	for (int r = 0; r < B; r++) {
		const uint32_t *src = s->ids + s->off[idx[r]];
		int len = (int)s->len[idx[r]];
		int32_t *ids = b->ids + (size_t)r * T;
		uint8_t *mask = b->mask + (size_t)r * T;
		int32_t *tg = b->targets + (size_t)r * T;

		for (int t = 0; t < T; t++) {
			ids[t] = t < len ? (int32_t)src[t] : pad_id;
			mask[t] = t < len;
			tg[t] = -100;
			if (t + 1 < len && (mask_id < 0 ||
			    (int32_t)src[t + 1] != mask_id)) {
				tg[t] = (int32_t)src[t + 1];
				b->n_targets++;
			}
		}
		b->n_real += len;
	}
}

void
ft_batch_free(ft_batch *b)
{
	free(b->ids);
	free(b->mask);
	free(b->targets);
	memset(b, 0, sizeof *b);
}

/* ---- step arithmetic ---- */

int
ft_plan_init(ft_plan *p, size_t n, int bs, int ga, double epochs,
    int64_t max_steps)
{
	memset(p, 0, sizeof *p);
	if (n == 0)
		return ft_error("no training samples");
	p->n_samples = n;
	p->batch_size = bs;
	p->grad_accum = ga;
	p->batches_per_epoch = (int64_t)((n + (size_t)bs - 1) / (size_t)bs);
	p->updates_per_epoch = p->batches_per_epoch / ga;
	if (p->updates_per_epoch < 1)
		p->updates_per_epoch = 1;
	p->steps_per_epoch = (p->batches_per_epoch + ga - 1) / ga;
	if (max_steps > 0) {
		p->max_steps = max_steps;
		p->num_epochs = max_steps / p->updates_per_epoch +
		    (max_steps % p->updates_per_epoch > 0);
	} else {
		p->max_steps = (int64_t)ceil(epochs *
		    (double)p->updates_per_epoch);
		p->num_epochs = (int64_t)ceil(epochs);
	}
	if (p->max_steps < 1)
		return ft_error("the run has no optimizer steps "
		    "(--epochs %g)", epochs);
	return 0;
}

void
ft_plan_locate(const ft_plan *p, int64_t k, int64_t *epoch,
    int64_t *b_first, int64_t *b_last)
{
	int64_t j = (k - 1) % p->steps_per_epoch;

	*epoch = (k - 1) / p->steps_per_epoch;
	*b_first = j * p->grad_accum;
	*b_last = *b_first + p->grad_accum - 1;
	if (*b_last >= p->batches_per_epoch)
		*b_last = p->batches_per_epoch - 1;
}

double
ft_plan_epoch(const ft_plan *p, int64_t epoch, int64_t b_last)
{
	return (double)epoch + (double)(b_last + 1) /
	    (double)p->batches_per_epoch;
}

void
ft_epoch_order(uint64_t seed, int64_t epoch, size_t n, int shuffle,
    size_t *out)
{
	if (!shuffle) {
		for (size_t i = 0; i < n; i++)
			out[i] = i;
		return;
	}
	ft_randperm_torch(seed + (uint64_t)epoch, n, out);
}

/* ---- log history and trainer_state.json ---- */

static void
put_indent(FILE *fp, int depth)
{
	for (int i = 0; i < depth; i++)
		fputs("  ", fp);
}

/* One "key": value pair; first says whether a separator is needed. */
static void
put_key(FILE *fp, int *first, int indent, const char *key)
{
	if (!*first)
		fputc(',', fp);
	if (indent >= 0) {
		fputc('\n', fp);
		put_indent(fp, indent + 1);
		fprintf(fp, "\"%s\": ", key);
	} else {
		fprintf(fp, "%s\"%s\": ", *first ? "" : " ", key);
	}
	*first = 0;
}

static void
put_float(FILE *fp, int *first, int indent, const char *key, double v)
{
	char num[40];

	ft_pyfloat(num, sizeof num, v);
	put_key(fp, first, indent, key);
	fputs(num, fp);
}

static void
put_int(FILE *fp, int *first, int indent, const char *key, int64_t v)
{
	put_key(fp, first, indent, key);
	fprintf(fp, "%lld", (long long)v);
}

void
ft_log_entry_write(FILE *fp, const ft_log_entry *e, int indent)
{
	int first = 1;

	fputc('{', fp);
	put_float(fp, &first, indent, "epoch", e->epoch);
	switch (e->kind) {
	case FT_LOG_TRAIN:
		put_float(fp, &first, indent, "grad_norm", e->grad_norm);
		put_float(fp, &first, indent, "learning_rate",
		    e->learning_rate);
		put_float(fp, &first, indent, "loss", e->loss);
		put_int(fp, &first, indent, "step", e->step);
		break;
	case FT_LOG_EVAL: {
		char k[4][96];
		const char *n = e->eval_name, *sep = *n ? "_" : "";

		snprintf(k[0], sizeof k[0], "eval_%s%sloss", n, sep);
		snprintf(k[1], sizeof k[1], "eval_%s%sruntime", n, sep);
		snprintf(k[2], sizeof k[2], "eval_%s%ssamples_per_second", n, sep);
		snprintf(k[3], sizeof k[3], "eval_%s%ssteps_per_second", n, sep);
		put_float(fp, &first, indent, k[0], e->eval_loss);
		put_float(fp, &first, indent, k[1], e->eval_runtime);
		put_float(fp, &first, indent, k[2], e->eval_samples_per_second);
		put_float(fp, &first, indent, k[3], e->eval_steps_per_second);
		put_int(fp, &first, indent, "step", e->step);
		break;
	}
	case FT_LOG_END:
		put_int(fp, &first, indent, "step", e->step);
		put_float(fp, &first, indent, "total_flos", e->total_flos);
		put_float(fp, &first, indent, "train_loss", e->train_loss);
		put_float(fp, &first, indent, "train_runtime",
		    e->train_runtime);
		put_float(fp, &first, indent, "train_samples_per_second",
		    e->train_samples_per_second);
		put_float(fp, &first, indent, "train_steps_per_second",
		    e->train_steps_per_second);
		break;
	}
	if (indent >= 0) {
		fputc('\n', fp);
		put_indent(fp, indent);
	}
	fputc('}', fp);
}

int
ft_json_number(const void *obj, const char *key, double *v, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!cJSON_IsNumber(it))
		return ft_error("%s: missing number '%s'", name, key);
	*v = it->valuedouble;
	return 0;
}

#define get_num ft_json_number

/* 2^53: every integer up to it is exact in a double */
#define INT_EXACT 9007199254740992.0

/* obj[key]: an integer from lo to hi.  0 or -1 naming the key. */
static int
get_int(const cJSON *o, const char *key, double lo, double hi, int64_t *v,
    const char *name)
{
	double d = 0;

	if (get_num(o, key, &d, name) != 0)
		return -1;
	if (!(d >= lo && d <= hi) || d != floor(d))
		return ft_error("%s: '%s' is %.10g, not an integer from %.10g "
		    "to %.10g", name, key, d, lo, hi);
	*v = (int64_t)d;
	return 0;
}

/* obj[key]: a finite number >= lo. */
static int
get_finite(const cJSON *o, const char *key, double lo, double *v,
    const char *name)
{
	if (get_num(o, key, v, name) != 0)
		return -1;
	if (!isfinite(*v) || *v < lo)
		return ft_error("%s: '%s' is %.10g, not a finite number%s",
		    name, key, *v, lo > -INFINITY ? " >= 0" : "");
	return 0;
}

int
ft_log_entry_parse(ft_log_entry *e, const void *obj, const char *name)
{
	const cJSON *o = obj;

	memset(e, 0, sizeof *e);
	if (!cJSON_IsObject(o))
		return ft_error("%s: log entry is not an object", name);
	if (get_int(o, "step", 0, INT_EXACT, &e->step, name) ||
	    get_finite(o, "epoch", 0, &e->epoch, name))
		return -1;
	{
		/* eval_loss, or eval_NAME_loss of a named set */
		const cJSON *it;
		char k[3][96];

		cJSON_ArrayForEach(it, o) {
			size_t n = strlen(it->string);
			if (strncmp(it->string, "eval_", 5) != 0 || n < 9 ||
			    strcmp(it->string + n - 5, "_loss") != 0 ||
			    (n > 9 && n - 10 >= sizeof e->eval_name))
				continue;
			if (n > 9) {
				memcpy(e->eval_name, it->string + 5, n - 10);
				e->eval_name[n - 10] = '\0';
			}
			e->kind = FT_LOG_EVAL;
			e->eval_loss = it->valuedouble;
			snprintf(k[0], sizeof k[0], "eval_%s%sruntime", e->eval_name,
			    n > 9 ? "_" : "");
			snprintf(k[1], sizeof k[1], "eval_%s%ssamples_per_second",
			    e->eval_name, n > 9 ? "_" : "");
			snprintf(k[2], sizeof k[2], "eval_%s%ssteps_per_second",
			    e->eval_name, n > 9 ? "_" : "");
			return get_num(o, it->string, &e->eval_loss, name) ||
			    get_num(o, k[0], &e->eval_runtime, name) ||
			    get_num(o, k[1], &e->eval_samples_per_second, name) ||
			    get_num(o, k[2], &e->eval_steps_per_second, name) ?
			    -1 : 0;
		}
	}
	if (cJSON_HasObjectItem(o, "train_loss")) {
		e->kind = FT_LOG_END;
		return get_num(o, "train_loss", &e->train_loss, name) ||
		    get_num(o, "train_runtime", &e->train_runtime, name) ||
		    get_num(o, "train_samples_per_second",
		    &e->train_samples_per_second, name) ||
		    get_num(o, "train_steps_per_second",
		    &e->train_steps_per_second, name) ||
		    get_num(o, "total_flos", &e->total_flos, name) ? -1 : 0;
	}
	e->kind = FT_LOG_TRAIN;
	return get_num(o, "loss", &e->loss, name) ||
	    get_num(o, "grad_norm", &e->grad_norm, name) ||
	    get_num(o, "learning_rate", &e->learning_rate, name) ? -1 : 0;
}

void
ft_trainer_state_push(ft_trainer_state *st, const ft_log_entry *e)
{
	ft_grow((void **)&st->log, &st->cap_log, st->n_log + 1,
	    sizeof *st->log);
	st->log[st->n_log++] = *e;
}

void
ft_trainer_state_truncate(ft_trainer_state *st, int64_t step)
{
	size_t k = 0;

	for (size_t i = 0; i < st->n_log; i++)
		if (st->log[i].step <= step)
			st->log[k++] = st->log[i];
	st->n_log = k;
}

void
ft_trainer_state_init(ft_trainer_state *st)
{
	memset(st, 0, sizeof *st);
	st->best_metric = NAN;
}

void
ft_trainer_state_release(ft_trainer_state *st)
{
	free(st->log);
	free(st->best_model_checkpoint);
	ft_trainer_state_init(st);
}

int
ft_trainer_state_fwrite(FILE *fp, const ft_trainer_state *st,
    const char *name)
{
	int first = 1;

	fputc('{', fp);
	if (isnan(st->best_metric)) {
		put_key(fp, &first, 0, "best_metric");
		fputs("null", fp);
	} else {
		put_float(fp, &first, 0, "best_metric", st->best_metric);
	}
	put_key(fp, &first, 0, "best_model_checkpoint");
	if (st->best_model_checkpoint == NULL) {
		fputs("null", fp);
	} else {
		size_t n = strlen(st->best_model_checkpoint);
		char *q = ft_malloc(6 * n + 2);

		fwrite(q, 1, ft_json_escape(q, st->best_model_checkpoint, n), fp);
		free(q);
	}
	put_float(fp, &first, 0, "epoch", st->epoch);
	put_int(fp, &first, 0, "eval_steps", st->eval_steps);
	put_int(fp, &first, 0, "global_step", st->global_step);
	put_key(fp, &first, 0, "is_hyper_param_search");
	fputs("false", fp);
	put_key(fp, &first, 0, "is_local_process_zero");
	fputs("true", fp);
	put_key(fp, &first, 0, "is_world_process_zero");
	fputs("true", fp);
	put_key(fp, &first, 0, "log_history");
	if (st->n_log == 0) {
		fputs("[]", fp);
	} else {
		fputc('[', fp);
		for (size_t i = 0; i < st->n_log; i++) {
			fputs(i ? ",\n" : "\n", fp);
			put_indent(fp, 2);
			ft_log_entry_write(fp, &st->log[i], 2);
		}
		fputs("\n  ]", fp);
	}
	put_int(fp, &first, 0, "logging_steps", st->logging_steps);
	put_int(fp, &first, 0, "max_steps", st->max_steps);
	put_int(fp, &first, 0, "num_input_tokens_seen", 0);
	put_int(fp, &first, 0, "num_train_epochs", st->num_train_epochs);
	put_int(fp, &first, 0, "save_steps", st->save_steps);
	put_key(fp, &first, 0, "stateful_callbacks");
	fputs("{\n", fp);
	if (st->es_patience > 0) {
		char num[40];

		ft_pyfloat(num, sizeof num, st->es_threshold);
		fprintf(fp, "    \"EarlyStoppingCallback\": {\n"
		    "      \"args\": {\n"
		    "        \"early_stopping_patience\": %lld,\n"
		    "        \"early_stopping_threshold\": %s\n"
		    "      },\n"
		    "      \"attributes\": {\n"
		    "        \"early_stopping_patience_counter\": %lld\n"
		    "      }\n"
		    "    },\n", (long long)st->es_patience, num,
		    (long long)st->es_counter);
	}
	fprintf(fp, "    \"TrainerControl\": {\n"
	    "      \"args\": {\n"
	    "        \"should_epoch_stop\": false,\n"
	    "        \"should_evaluate\": false,\n"
	    "        \"should_log\": false,\n"
	    "        \"should_save\": true,\n"
	    "        \"should_training_stop\": %s\n"
	    "      },\n"
	    "      \"attributes\": {}\n"
	    "    }\n"
	    "  }", st->should_training_stop ? "true" : "false");
	put_float(fp, &first, 0, "total_flos", st->total_flos);
	put_int(fp, &first, 0, "train_batch_size", st->train_batch_size);
	put_key(fp, &first, 0, "trial_name");
	fputs("null", fp);
	put_key(fp, &first, 0, "trial_params");
	fputs("null", fp);
	fputs("\n}\n", fp);
	if (ferror(fp))
		return ft_error("cannot write '%s':", name);
	return 0;
}

int
ft_trainer_state_save(const ft_trainer_state *st, const char *path)
{
	ft_atomic a;

	if (ft_atomic_open(&a, path) != 0)
		return -1;
	if (ft_trainer_state_fwrite(a.fp, st, path) != 0) {
		ft_atomic_abort(&a);
		return -1;
	}
	return ft_atomic_commit(&a);
}

int
ft_trainer_state_parse(ft_trainer_state *st, const char *text, size_t n,
    const char *name)
{
	cJSON *root;
	const cJSON *log, *it;
	int rc = -1;

	ft_trainer_state_init(st);
	if ((root = ft_json_parse(text, n, name)) == NULL)
		return -1;
	it = cJSON_GetObjectItemCaseSensitive(root, "best_metric");
	if (it != NULL && !cJSON_IsNull(it) && get_finite(root,
	    "best_metric", -INFINITY, &st->best_metric, name))
		goto out;
	it = cJSON_GetObjectItemCaseSensitive(root, "best_model_checkpoint");
	if (cJSON_IsString(it))
		st->best_model_checkpoint = ft_strdup(it->valuestring);
	else if (it != NULL && !cJSON_IsNull(it)) {
		ft_error("%s: 'best_model_checkpoint' is not a string", name);
		goto out;
	}
	if (get_finite(root, "epoch", 0, &st->epoch, name) ||
	    get_int(root, "global_step", 0, INT_EXACT, &st->global_step, name) ||
	    get_int(root, "max_steps", 0, INT_EXACT, &st->max_steps, name) ||
	    get_int(root, "num_train_epochs", 0, INT_EXACT,
	    &st->num_train_epochs, name) ||
	    get_int(root, "logging_steps", 0, INT_EXACT, &st->logging_steps,
	    name) ||
	    get_int(root, "eval_steps", 0, INT_EXACT, &st->eval_steps, name) ||
	    get_int(root, "save_steps", 0, INT_EXACT, &st->save_steps, name) ||
	    get_int(root, "train_batch_size", 0, INT_EXACT,
	    &st->train_batch_size, name))
		goto out;
	it = cJSON_GetObjectItemCaseSensitive(root, "total_flos");
	st->total_flos = cJSON_IsNumber(it) ? it->valuedouble : 0;
	/* EarlyStoppingCallback's counter (the Trainer restores it too) */
	it = cJSON_GetObjectItemCaseSensitive(root, "stateful_callbacks");
	it = cJSON_GetObjectItemCaseSensitive(it, "EarlyStoppingCallback");
	if (it != NULL) {
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(it, "args");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(it,
		    "attributes");

		if (get_int(a, "early_stopping_patience", 1, INT_EXACT,
		    &st->es_patience, name) ||
		    get_finite(a, "early_stopping_threshold", 0,
		    &st->es_threshold, name) ||
		    get_int(b, "early_stopping_patience_counter", 0, INT_EXACT,
		    &st->es_counter, name))
			goto out;
	}
	log = cJSON_GetObjectItemCaseSensitive(root, "log_history");
	if (!cJSON_IsArray(log)) {
		ft_error("%s: missing array 'log_history'", name);
		goto out;
	}
	cJSON_ArrayForEach(it, log) {
		ft_log_entry e;

		if (ft_log_entry_parse(&e, it, name) != 0)
			goto out;
		if (e.step > st->global_step) {
			ft_error("%s: a log entry of step %lld is past "
			    "global_step %lld", name, (long long)e.step,
			    (long long)st->global_step);
			goto out;
		}
		ft_trainer_state_push(st, &e);
	}
	rc = 0;
out:
	if (rc != 0)
		ft_trainer_state_release(st);
	cJSON_Delete(root);
	return rc;
}

int
ft_trainer_state_load(ft_trainer_state *st, const char *path)
{
	char *buf;
	size_t len;
	int rc;

	memset(st, 0, sizeof *st);
	if (ft_read_file(path, &buf, &len) != 0)
		return -1;
	rc = ft_trainer_state_parse(st, buf, len, path);
	free(buf);
	return rc;
}

/* ---- ft_state.json ---- */

#define FT_STATE_FORMAT "ft-train-state"
#define FT_STATE_VERSION 1

static void
add_exact(cJSON *o, const char *key, double v)
{
	char num[32];

	ft_pyfloat(num, sizeof num, v);
	cJSON_AddRawToObject(o, key, num);
}

char *
ft_run_state_print(const ft_run_state *s, const void *args)
{
	cJSON *root = cJSON_CreateObject();
	char num[32], *text;

	cJSON_AddStringToObject(root, "format", FT_STATE_FORMAT);
	cJSON_AddNumberToObject(root, "version", FT_STATE_VERSION);
	cJSON_AddNumberToObject(root, "global_step", (double)s->global_step);
	snprintf(num, sizeof num, "%llu", (unsigned long long)s->dropout_seed);
	cJSON_AddStringToObject(root, "dropout_seed", num);
	snprintf(num, sizeof num, "%llu",
	    (unsigned long long)s->dropout_counter);
	cJSON_AddStringToObject(root, "dropout_counter", num);
	/* cJSON prints 15 digits when they read back within DBL_EPSILON:
	 * not exactly, so these are written as Python's repr */
	add_exact(root, "log_loss_sum", s->log_loss_sum);
	cJSON_AddNumberToObject(root, "log_steps", (double)s->log_steps);
	add_exact(root, "total_loss_sum", s->total_loss_sum);
	add_exact(root, "total_flos", s->total_flos);
	add_exact(root, "train_runtime", s->train_runtime);
	cJSON_AddItemToObject(root, "args",
	    cJSON_Duplicate((const cJSON *)args, 1));
	text = cJSON_Print(root);
	cJSON_Delete(root);
	return text;
}

static int
get_u64(const cJSON *o, const char *key, uint64_t *v, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
	const char *p;
	char *end;

	if (!cJSON_IsString(it))
		return ft_error("%s: missing string '%s'", name, key);
	for (p = it->valuestring; *p >= '0' && *p <= '9'; p++)
		;
	errno = 0;
	*v = strtoull(it->valuestring, &end, 10);
	if (*p != '\0' || p == it->valuestring || errno != 0)
		return ft_error("%s: '%s' is not a decimal number below 2^64",
		    name, key);
	return 0;
}

/* The first number under j that is not finite (5e705 parses as inf, and
 * would print back as null), or NULL. */
static const cJSON *
nonfinite(const cJSON *j)
{
	const cJSON *bad;

	if (cJSON_IsNumber(j))
		return isfinite(j->valuedouble) ? NULL : j;
	for (j = j->child; j != NULL; j = j->next)
		if ((bad = nonfinite(j)) != NULL)
			return bad;
	return NULL;
}

int
ft_run_state_parse(ft_run_state *s, void **args, const char *text,
    size_t n, int64_t max_steps, const char *name)
{
	cJSON *root;
	const cJSON *it, *bad;
	int rc = -1;

	memset(s, 0, sizeof *s);
	*args = NULL;
	if ((root = ft_json_parse(text, n, name)) == NULL)
		return -1;
	it = cJSON_GetObjectItemCaseSensitive(root, "format");
	if (!cJSON_IsString(it) || strcmp(it->valuestring, FT_STATE_FORMAT)) {
		ft_error("%s: not an ft-train state file", name);
		goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (!cJSON_IsNumber(it) || it->valuedouble != FT_STATE_VERSION) {
		ft_error("%s: unsupported version (this ft-train reads %d)",
		    name, FT_STATE_VERSION);
		goto out;
	}
	if (get_int(root, "global_step", 0, (double)max_steps, &s->global_step,
	    name) ||
	    get_int(root, "log_steps", 0, (double)s->global_step,
	    &s->log_steps, name) ||
	    get_u64(root, "dropout_seed", &s->dropout_seed, name) ||
	    get_u64(root, "dropout_counter", &s->dropout_counter, name) ||
	    get_finite(root, "log_loss_sum", -INFINITY, &s->log_loss_sum,
	    name) ||
	    get_finite(root, "total_loss_sum", -INFINITY, &s->total_loss_sum,
	    name) ||
	    get_finite(root, "total_flos", 0, &s->total_flos, name) ||
	    get_finite(root, "train_runtime", 0, &s->train_runtime, name))
		goto out;
	it = cJSON_GetObjectItemCaseSensitive(root, "args");
	if (!cJSON_IsObject(it)) {
		ft_error("%s: missing object 'args'", name);
		goto out;
	}
	if ((bad = nonfinite(it)) != NULL) {
		ft_error("%s: args: '%s' is not a finite number", name,
		    bad->string != NULL ? bad->string : "(array element)");
		goto out;
	}
	*args = cJSON_DetachItemViaPointer(root, (cJSON *)it);
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- checkpoint folders ---- */

static int
parse_ckpt_name(const char *name, int64_t *step)
{
	const char *p = name + strlen("checkpoint-");
	char *end;
	long long v;

	if (strncmp(name, "checkpoint-", strlen("checkpoint-")) != 0 ||
	    *p < '0' || *p > '9')
		return 0;
	errno = 0;
	v = strtoll(p, &end, 10);
	if (*end != '\0' || errno != 0 || v < 0)
		return 0;
	*step = v;
	return 1;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

int
ft_ckpt_list(const char *run_dir, int64_t **steps, size_t *n)
{
	DIR *d = opendir(run_dir);
	struct dirent *de;
	size_t cap = 0;

	*steps = NULL;
	*n = 0;
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		return ft_error("cannot open '%s':", run_dir);
	}
	while ((de = readdir(d)) != NULL) {
		int64_t step;
		char *p;
		struct stat sb;

		if (!parse_ckpt_name(de->d_name, &step))
			continue;
		p = ft_path_join(run_dir, de->d_name);
		if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			ft_grow((void **)steps, &cap, *n + 1, sizeof **steps);
			(*steps)[(*n)++] = step;
		}
		free(p);
	}
	closedir(d);
	if (*n > 0)
		qsort(*steps, *n, sizeof **steps, cmp_i64);
	return 0;
}

char *
ft_ckpt_path(const char *run_dir, int64_t step)
{
	return ft_asprintf("%s/checkpoint-%lld", run_dir, (long long)step);
}

static int tmp_slot = -1;

char *
ft_ckpt_begin(const char *run_dir, int64_t step)
{
	char *tmp = ft_asprintf("%s/.tmp-checkpoint-%lld", run_dir,
	    (long long)step);

	if (ft_exists(tmp) && ft_remove_tree(tmp) != 0) {
		free(tmp);
		return NULL;
	}
	if (mkdir(tmp, 0777) != 0) {
		ft_error("cannot create '%s':", tmp);
		free(tmp);
		return NULL;
	}
	tmp_slot = ft_tmp_register(tmp);
	return tmp;
}

static void
unregister_tmp(void)
{
	if (tmp_slot >= 0)
		ft_tmp_unregister(tmp_slot);
	tmp_slot = -1;
}

int
ft_ckpt_commit(const char *run_dir, char *tmp, int64_t step)
{
	char *final = ft_ckpt_path(run_dir, step), *old = NULL;
	int rc = -1;

	if (ft_fsync_dir(tmp) != 0)
		goto out;
	if (ft_exists(final)) {
		old = ft_asprintf("%s/.tmp-old-checkpoint-%lld", run_dir,
		    (long long)step);
		if (ft_exists(old) && ft_remove_tree(old) != 0)
			goto out;
		if (rename(final, old) != 0) {
			ft_error("cannot rename '%s':", final);
			goto out;
		}
	}
	if (rename(tmp, final) != 0) {
		ft_error("cannot rename '%s' to '%s':", tmp, final);
		goto out;
	}
	unregister_tmp();
	if (ft_fsync_dir(run_dir) != 0)
		goto out;
	if (old != NULL && ft_remove_tree(old) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		ft_ckpt_abort(tmp);
	else
		free(tmp);
	free(final);
	free(old);
	return rc;
}

void
ft_ckpt_abort(char *tmp)
{
	if (tmp == NULL)
		return;
	if (ft_exists(tmp))
		ft_remove_tree(tmp);
	unregister_tmp();
	free(tmp);
}

void
ft_ckpt_clean_tmp(const char *run_dir)
{
	DIR *d = opendir(run_dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".tmp-checkpoint-", 16) == 0 ||
		    strncmp(de->d_name, ".tmp-old-checkpoint-", 20) == 0) {
			char *p = ft_path_join(run_dir, de->d_name);

			ft_remove_tree(p);
			free(p);
		}
	}
	closedir(d);
}

int
ft_ckpt_remove(const char *run_dir, int64_t step)
{
	char *p = ft_ckpt_path(run_dir, step);
	char *old = ft_asprintf("%s/.tmp-old-checkpoint-%lld", run_dir,
	    (long long)step);
	int rc = -1;

	if (ft_exists(old) && ft_remove_tree(old) != 0)
		goto out;
	if (rename(p, old) != 0) {
		ft_error("cannot rename '%s':", p);
		goto out;
	}
	ft_fsync_dir(run_dir);
	rc = ft_remove_tree(old);
out:
	free(p);
	free(old);
	return rc;
}

int
ft_ckpt_rotate(const char *run_dir, long keep, int64_t best)
{
	int64_t *steps;
	size_t n;
	int rc = 0;

	if (keep <= 0)
		return 0;
	if (ft_ckpt_list(run_dir, &steps, &n) != 0)
		return -1;
	/* _sorted_checkpoints: the best one bubbles up to index n - 2 */
	for (size_t i = 0; best >= 0 && i + 2 < n; i++)
		if (steps[i] == best) {
			steps[i] = steps[i + 1];
			steps[i + 1] = best;
		}
	if (best >= 0 && keep == 1 && n > 0 && steps[n - 1] != best)
		keep = 2;
	for (size_t i = 0; i + (size_t)keep < n; i++)
		if (ft_ckpt_remove(run_dir, steps[i]) != 0)
			rc = -1;
	free(steps);
	if (rc == 0)
		ft_fsync_dir(run_dir);
	return rc;
}
