/* ft-fetch — models, files and dataset rows from the Hugging Face Hub,
 * through huggingface_hub's cache (lib/hub). */
#include "err.h"
#include "hub.h"
#include "io.h"
#include "jsonl.h"
#include "opt.h"
#include "modeldir.h"
#include "progress.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
	"usage: ft-fetch model [-q] [-r REV] [-o DIR [-f]] REPO\n"
	"       ft-fetch dataset [-q] [--config C] [--split S] [--list] [--viewer URL] REPO\n"
	"       ft-fetch file [-q] [-r REV] [--repo-type model|dataset] REPO PATH\n"
	"\n"
	"Download from the Hugging Face Hub into its cache (shared with huggingface_hub).\n"
	"  model      config, safetensors weights and tokenizer files; prints the\n"
	"             snapshot folder\n"
	"  dataset    the rows of a split as JSONL on stdout (dataset viewer API)\n"
	"  file       one file of a repo; prints its path in the cache\n"
	"\n"
	"  -r, --revision REV   branch, tag or commit (default main)\n"
	"  -o, --output DIR     model: also copy the files into the plain folder DIR\n"
	"  -f, --force          -o: write into DIR even if it holds other files\n"
	"      --repo-type T    file: model (default) or dataset\n"
	"      --config C       dataset: configuration (default: 'default' or the only one)\n"
	"      --split S        dataset: split (default: 'train' or the only one)\n"
	"      --list           dataset: print the configs and splits, tab-separated\n"
	"      --viewer URL     dataset viewer base URL (HF_DATASETS_SERVER_URL)\n"
	"  -q, --quiet          no progress bars\n"
	"  -h, --help           print this help and exit\n"
	"  -V, --version        print the version and exit\n"
	"\n"
	"Environment: HF_ENDPOINT, HF_TOKEN, HF_TOKEN_PATH, HF_HOME, HF_HUB_CACHE,\n"
	"HF_HUB_OFFLINE, HF_DATASETS_SERVER_URL.\n";

enum { OPT_CONFIG = 256, OPT_SPLIT, OPT_LIST, OPT_VIEWER, OPT_REPO_TYPE };

static const struct option longopts[] = {
	{ "revision", required_argument, NULL, 'r' },
	FT_OPT_OUTPUT,
	FT_OPT_FORCE,
	{ "repo-type", required_argument, NULL, OPT_REPO_TYPE },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "split", required_argument, NULL, OPT_SPLIT },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "viewer", required_argument, NULL, OPT_VIEWER },
	FT_OPT_HELP, FT_OPT_VERSION, FT_OPT_QUIET,
	{ NULL, 0, NULL, 0 },
};

static const struct ft_opt_na not_here[] = {
	{ 'v', "it prints the progress bars unless -q" },
	{ 'j', "it downloads one file at a time" },
	{ 's', "it draws nothing at random" },
	{ 0, NULL },
};

struct list {
	char **v;
	size_t n, cap;
};

static void
list_add(struct list *l, const char *s)
{
	ft_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v);
	l->v[l->n++] = ft_strdup(s);
}

static void
list_free(struct list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* Fetch file; adds it to got when present.  1 present, 0 missing, -1. */
static int
get(struct ft_hub *h, const char *repo, const char *rev, const char *file,
	int optional, struct list *got, char **commit)
{
	char *path = NULL, *c = NULL;
	int r = ft_hub_fetch(h, "model", repo, rev, file, optional, &path, &c);

	if (r == 0)
		list_add(got, file);
	if (commit != NULL && *commit == NULL && c != NULL) {
		*commit = c;
		c = NULL;
	}
	free(path);
	free(c);
	return r < 0 ? -1 : r == 0;
}

static int
cmd_model(struct ft_hub *h, const char *repo, const char *rev, const char *out,
	int force)
{
	struct list got = { 0 };
	char *commit = NULL, *snap = NULL, *index = NULL, *cfg = NULL;
	char **shards = NULL, *what;
	size_t nshards = 0;
	int rc = 1, r;
	size_t i;

	if (ft_hub_fetch(h, "model", repo, rev, "config.json", 0, &cfg, &commit) != 0)
		goto out;
	list_add(&got, "config.json");
	snap = ft_strndup(cfg, strlen(cfg) - strlen("/config.json"));
	/* The rest from the same commit, even if the branch moves meanwhile. */
	if (get(h, repo, commit, "generation_config.json", 1, &got, NULL) < 0)
		goto out;
	if ((r = get(h, repo, commit, "model.safetensors", 1, &got, NULL)) < 0)
		goto out;
	if (r == 0) {
		r = ft_hub_fetch(h, "model", repo, commit, "model.safetensors.index.json",
			1, &index, NULL);
		if (r < 0)
			goto out;
		if (r == 1) {
			r = ft_hub_exists(h, "model", repo, commit, "pytorch_model.bin");
			if (r < 0)
				goto out;
			if (r == 1)
				ft_error("%s: model.safetensors: not found, only pytorch_model.bin: "
					"ft needs safetensors weights (convert the model, or use a "
					"revision that has them)", repo);
			else
				ft_error("%s: model.safetensors: not found (nor "
					"model.safetensors.index.json)%s", repo,
					h->offline || h->unreachable_ ? " in the cache" : "");
			goto out;
		}
		list_add(&got, "model.safetensors.index.json");
		what = ft_asprintf("%s: model.safetensors.index.json", repo);
		r = ft_model_index_shards(index, what, &shards, &nshards);
		free(what);
		if (r != 0)
			goto out;
		for (i = 0; i < nshards; i++)
			if (get(h, repo, commit, shards[i], 0, &got, NULL) < 0)
				goto out;
	}
	for (i = 0; i < FT_N_TOKENIZER_FILES; i++)
		if (get(h, repo, commit, ft_tokenizer_files[i], 1, &got, NULL) < 0)
			goto out;
	if (!ft_has_tokenizer(snap)) {
		ft_error("%s: no tokenizer (need vocab.json and merges.txt, or "
			"tokenizer.json)", repo);
		goto out;
	}
	if (out != NULL && ft_hub_export(snap, (const char *const *)got.v, got.n, out,
		force) != 0)
		goto out;
	printf("%s\n", snap);
	rc = 0;
out:
	list_free(&got);
	ft_names_free(shards, nshards);
	free(commit);
	free(snap);
	free(index);
	free(cfg);
	return rc;
}

static int
cmd_file(struct ft_hub *h, const char *type, const char *repo, const char *rev,
	const char *file)
{
	char *path = NULL;

	if (ft_hub_fetch(h, type, repo, rev, file, 0, &path, NULL) != 0)
		return 1;
	printf("%s\n", path);
	free(path);
	return 0;
}

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(e) ? e->valuestring : NULL;
}

/* Pick config/split from /splits: an explicit choice must exist; else
 * "default"/"train" or the only one. */
/* The first string (value or key) of v that is not valid UTF-8, or NULL;
 * *key gets the name of the member holding it. */
static const cJSON *
bad_utf8(const cJSON *v, const char **key)
{
	const cJSON *c, *b;

	if (cJSON_IsString(v) && v->valuestring != NULL &&
		ft_utf8_check(v->valuestring, strlen(v->valuestring)) <
		strlen(v->valuestring))
		return v;
	for (c = v->child; c != NULL; c = c->next) {
		if (c->string != NULL &&
			ft_utf8_check(c->string, strlen(c->string)) < strlen(c->string)) {
			*key = "(a key)";
			return c;
		}
		if ((b = bad_utf8(c, key)) != NULL) {
			if (b == c)
				*key = c->string;
			return b;
		}
	}
	return NULL;
}

static int
choose(const cJSON *splits, const char *repo, const char **config, const char **split)
{
	const cJSON *e;
	const char *only = NULL, *c;
	int n = 0, has_default = 0, seen = 0, has_train = 0;

	if (*config == NULL) {
		cJSON_ArrayForEach(e, splits) {
			if ((c = str(e, "config")) == NULL)
				continue;
			if (strcmp(c, "default") == 0)
				has_default = 1;
			if (only == NULL)
				only = c, n = 1;
			else if (strcmp(only, c) != 0)
				n = 2; /* more than one config */
		}
		if (has_default)
			*config = "default";
		else if (only != NULL && n == 1)
			*config = only;
		else if (only == NULL)
			return ft_error("%s: the dataset viewer lists no splits", repo);
		else
			return ft_error("%s: several configs: choose one with --config "
				"(see --list)", repo);
	}
	only = NULL;
	n = 0;
	cJSON_ArrayForEach(e, splits) {
		const char *s = str(e, "split");
		if ((c = str(e, "config")) == NULL || s == NULL || strcmp(c, *config) != 0)
			continue;
		seen = 1;
		n++;
		if (only == NULL)
			only = s;
		if (strcmp(s, "train") == 0)
			has_train = 1;
		if (*split != NULL && strcmp(s, *split) == 0)
			return 0;
	}
	if (!seen)
		return ft_error("%s: no config '%s' (see --list)", repo, *config);
	if (*split != NULL)
		return ft_error("%s: config '%s' has no split '%s' (see --list)", repo,
			*config, *split);
	if (has_train)
		*split = "train";
	else if (n == 1)
		*split = only;
	else
		return ft_error("%s: several splits: choose one with --split (see --list)", repo);
	return 0;
}

static int
cmd_dataset(struct ft_hub *h, const char *repo, const char *config,
	const char *split, int list)
{
	char *q = ft_hub_quote(repo, 0), *url, *what, *qc = NULL, *qs = NULL;
	cJSON *doc, *rows_doc, *splits, *e;
	long long offset = 0, total = -1, written;
	char *body = NULL;
	size_t blen;
	int rc = 1, warned = 0;
	struct ft_progress prog;

	url = ft_asprintf("%s/splits?dataset=%s", h->viewer, q);
	what = ft_asprintf("%s: /splits", repo);
	doc = ft_hub_get_json(h, url, what);
	free(url);
	free(what);
	if (doc == NULL)
		goto out;
	splits = cJSON_GetObjectItemCaseSensitive(doc, "splits");
	if (!cJSON_IsArray(splits)) {
		ft_error("%s: /splits: no \"splits\" array in the answer", repo);
		goto out;
	}
	if (list) {
		cJSON_ArrayForEach(e, splits)
			if (str(e, "config") && str(e, "split"))
				printf("%s\t%s\n", str(e, "config"), str(e, "split"));
		rc = 0;
		goto out;
	}
	if (choose(splits, repo, &config, &split) != 0)
		goto out;
	qc = ft_hub_quote(config, 0);
	qs = ft_hub_quote(split, 0);
	for (;;) {
		cJSON *rows, *num, *r;
		long long i = 0;
		url = ft_asprintf("%s/rows?dataset=%s&config=%s&split=%s&offset=%lld&length=100",
			h->viewer, q, qc, qs, offset);
		what = ft_asprintf("%s: /rows %s/%s offset %lld", repo, config, split, offset);
		rows_doc = ft_hub_get_json_body(h, url, what, &body, &blen);
		free(url);
		if (rows_doc == NULL) {
			free(what);
			goto out;
		}
		rows = cJSON_GetObjectItemCaseSensitive(rows_doc, "rows");
		num = cJSON_GetObjectItemCaseSensitive(rows_doc, "num_rows_total");
		if (!cJSON_IsArray(rows) || !cJSON_IsNumber(num) || num->valuedouble < 0) {
			ft_error("%s: no \"rows\" or \"num_rows_total\" in the answer", what);
			goto page_fail;
		}
		if (total < 0)
			ft_progress_init(&prog, "rows", (uint64_t)num->valuedouble, 0, h->progress);
		total = (long long)num->valuedouble;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rows_doc, "partial")) && !warned) {
			ft_warn("%s: the dataset viewer indexed only part of this split", repo);
			warned = 1;
		}
		/* Check the page with cJSON, then copy the rows from the text so
		 * that numbers stay exactly as the viewer wrote them. */
		cJSON_ArrayForEach(r, rows) {
			cJSON *idx = cJSON_GetObjectItemCaseSensitive(r, "row_idx");
			const char *key = NULL;
			if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(r, "row"))) {
				ft_error("%s: row %lld has no \"row\" object", what, offset + i);
				goto page_fail;
			}
			if (bad_utf8(cJSON_GetObjectItemCaseSensitive(r, "row"), &key) != NULL) {
				ft_error("%s: row %lld: field '%s' is not valid UTF-8", what,
					offset + i, key != NULL ? key : "?");
				goto page_fail;
			}
			if (idx != NULL && (!cJSON_IsNumber(idx) || idx->valuedouble != (double)(offset + i))) {
				ft_error("%s: expected row_idx %lld", what, offset + i);
				goto page_fail;
			}
			i++;
		}
		if (ft_hub_rows_write(body, blen, NULL, &written) != 0 || written != i) {
			ft_error("%s: cannot copy the rows of the answer", what);
			goto page_fail;
		}
		ft_hub_rows_write(body, blen, stdout, &written);
		free(body);
		body = NULL;
		cJSON_Delete(rows_doc);
		free(what);
		offset += i;
		ft_progress_update(&prog, (uint64_t)offset);
		if (offset >= total)
			break;
		if (i == 0) {
			ft_error("%s: /rows: empty page at offset %lld of %lld", repo, offset, total);
			goto out;
		}
		if (ferror(stdout)) {
			ft_stdout_error();
			goto out;
		}
	}
	ft_progress_finish(&prog);
	rc = 0;
	goto out;
page_fail:
	cJSON_Delete(rows_doc);
	free(what);
	free(body);
out:
	if (rc != 0 && total >= 0)
		ft_progress_clear(&prog);
	cJSON_Delete(doc);
	free(q);
	free(qc);
	free(qs);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *rev = NULL, *out = NULL, *config = NULL, *split = NULL;
	const char *viewer = NULL, *type = "model", *cmd;
	char *outdir = NULL;
	ft_opts op = { .shortopts = "r:o:f", .longopts = longopts,
	    .help = usage_text, .na = not_here };
	int list = 0, quiet, force = 0, c, rc;
	struct ft_hub h;

	ft_setprog(argv[0]);
	ft_io_install_signal_cleanup();
	signal(SIGPIPE, SIG_IGN); /* a closed socket is an error, as in curl */
	while ((c = ft_getopt(&op, argc, argv)) != -1) {
		switch (c) {
		case 'r': rev = optarg; break;
		case 'o': out = ft_parse_path("-o", optarg); break;
		case 'f': force = 1; break;
		case OPT_REPO_TYPE: type = optarg; break;
		case OPT_CONFIG: config = optarg; break;
		case OPT_SPLIT: split = optarg; break;
		case OPT_LIST: list = 1; break;
		case OPT_VIEWER: viewer = optarg; break;
		}
	}
	quiet = op.quiet;
	if (optind >= argc)
		ft_usage_error("missing command: model, dataset or file");
	cmd = argv[optind++];
	if (strcmp(type, "model") != 0 && strcmp(type, "dataset") != 0)
		ft_usage_error("invalid value '%s' for --repo-type", type);
	if (strcmp(cmd, "model") == 0 || strcmp(cmd, "dataset") == 0) {
		if (argc - optind != 1)
			ft_usage_error("%s: want exactly one REPO", cmd);
	} else if (strcmp(cmd, "file") == 0) {
		if (argc - optind != 2)
			ft_usage_error("file: want REPO and PATH");
	} else {
		ft_usage_error("unknown command '%s'", cmd);
	}
	if (out != NULL && strcmp(cmd, "model") != 0)
		ft_usage_error("-o is for 'ft-fetch model'");
	if (force && out == NULL)
		ft_usage_error("--force is for 'ft-fetch model -o DIR'");
	if ((config || split || list || viewer) && strcmp(cmd, "dataset") != 0)
		ft_usage_error("--config, --split, --list and --viewer are for 'ft-fetch dataset'");
	if (rev != NULL && strcmp(cmd, "dataset") == 0)
		ft_usage_error("--revision is for 'ft-fetch model' and 'ft-fetch file'");
	/* what can be refused without asking the server is a usage error */
	if (!ft_hub_repo_valid(argv[optind]))
		ft_usage_error("'%s' is not a valid repository id", argv[optind]);
	if (strcmp(cmd, "file") == 0 && !ft_hub_path_safe(argv[optind + 1]))
		ft_usage_error("%s: refusing an unsafe file name '%s'", argv[optind],
		    argv[optind + 1]);
	if (config != NULL && *config == '\0')
		ft_usage_error("--config: empty name");
	if (split != NULL && *split == '\0')
		ft_usage_error("--split: empty name");
	if (viewer != NULL && strncmp(viewer, "http://", 7) != 0 &&
	    strncmp(viewer, "https://", 8) != 0)
		ft_usage_error("invalid value '%s' for --viewer: want an http:// or "
		    "https:// URL", viewer);
	if (out != NULL) {
		size_t n;
		outdir = ft_strdup(out);
		n = strlen(outdir);
		while (n > 1 && outdir[n - 1] == '/')
			outdir[--n] = '\0';
		if (*outdir == '\0' || strcmp(outdir, ".") == 0 || strcmp(outdir, "..") == 0)
			ft_usage_error("invalid value '%s' for -o", out);
	}
	if (ft_hub_init(&h) != 0)
		return 1;
	h.progress = !quiet && !ft_hub_env_true("HF_HUB_DISABLE_PROGRESS_BARS");
	if (viewer != NULL) {
		free(h.viewer);
		h.viewer = ft_strdup(viewer);
	}
	if (strcmp(cmd, "model") == 0)
		rc = cmd_model(&h, argv[optind], rev, outdir, force);
	else if (strcmp(cmd, "file") == 0)
		rc = cmd_file(&h, type, argv[optind], rev, argv[optind + 1]);
	else
		rc = cmd_dataset(&h, argv[optind], config, split, list);
	ft_hub_release(&h);
	free(outdir);
	return ft_close_stdout() ? 1 : rc;
}
