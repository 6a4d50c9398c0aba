/* ft-split — seeded shuffle and train/validation split of records,
 * identical to datasets' Dataset.shuffle(seed) + select (numpy PCG64).
 * Inputs: JSON Lines or a JSON array, CSV, plain text (lib/records, the
 * formats of load_dataset("json" | "csv" | "text")), one or several files
 * concatenated in order; the output is JSON Lines.
 *
 * Memory: only each record's offset and length are kept.  One JSON Lines
 * regular file is read again with pread; other inputs are first copied
 * (as JSONL) to an unlinked temporary file in $TMPDIR. */
#include "err.h"
#include "io.h"
#include "opt.h"
#include "records.h"
#include "rng.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: ft-split [-qv] [-s N] [--train-fraction F | --val-fraction F |\n"
    "                --val-size N | --kfold K --fold I] [--no-shuffle]\n"
    "                [--json | --csv | --lines | --paragraphs | --text]\n"
    "                --train FILE --val FILE [FILE...]\n"
    "Split records (the FILEs, concatenated in order, or stdin) into a training\n"
    "and a validation file, both JSON Lines.  JSONL records are copied byte for\n"
    "byte; blank lines are skipped.\n"
    "\n"
    "  Input format (as datasets.load_dataset \"json\", \"csv\", \"text\"):\n"
    "      --json            JSON Lines, or a JSON array of objects (default)\n"
    "      --csv             CSV with a header row (RFC 4180); values are strings\n"
    "      --lines           text, one record {\"text\": LINE} per line\n"
    "      --paragraphs      text, one record per block between blank lines\n"
    "      --text            text, one record per file (the whole file)\n"
    "\n"
    "  --train FILE          write the training records to FILE ('-' = stdout)\n"
    "  --val FILE            write the validation records to FILE ('-' = stdout)\n"
    "  -s, --seed N          shuffle seed (default 42), as numpy default_rng(N)\n"
    "      --train-fraction F  train on the first (long)(F * N) shuffled\n"
    "                        records (default 0.9)\n"
    "      --val-fraction F  same as --train-fraction 1-F\n"
    "      --val-size N      the last N shuffled records are the validation set\n"
    "      --kfold K         cut the shuffled records into K folds...\n"
    "      --fold I          ...and use fold I (0-based) as the validation set\n"
    "      --no-shuffle      keep the input order\n"
    "  -v, --verbose         print the record counts on stderr\n"
    "  -q, --quiet           no counts on stderr (cancels -v)\n"
    "  -h, --help            print this help and exit\n"
    "  -V, --version         print the version and exit\n";

enum { O_TRAIN = 256, O_VAL, O_TF, O_VF, O_VS, O_KFOLD, O_FOLD, O_NOSHUF,
	O_JSON, O_CSV, O_LINES, O_PARAS, O_TEXT };

static const struct option longopts[] = {
	{ "train", required_argument, NULL, O_TRAIN },
	{ "val", required_argument, NULL, O_VAL },
	FT_OPT_SEED,
	{ "train-fraction", required_argument, NULL, O_TF },
	{ "val-fraction", required_argument, NULL, O_VF },
	{ "val-size", required_argument, NULL, O_VS },
	{ "kfold", required_argument, NULL, O_KFOLD },
	{ "fold", required_argument, NULL, O_FOLD },
	{ "no-shuffle", no_argument, NULL, O_NOSHUF },
	{ "json", no_argument, NULL, O_JSON },
	{ "csv", no_argument, NULL, O_CSV },
	{ "lines", no_argument, NULL, O_LINES },
	{ "paragraphs", no_argument, NULL, O_PARAS },
	{ "text", no_argument, NULL, O_TEXT },
	FT_OPTS_COMMON,
	{ NULL, 0, NULL, 0 },
};

static const struct ft_opt_na not_here[] = {
	{ 'o', "it writes --train FILE and --val FILE" },
	{ 'j', "it splits on one thread" },
	{ 'f', "its outputs are text" },
	{ 0, NULL },
};

struct recs {
	uint64_t *off;
	size_t *len;
	size_t n, cap, maxlen;
};

/* Pass 1: read every record of the inputs and note where it is.  Returns
 * the fd to read records from: one JSON Lines file is read again where it
 * is; other inputs (pipes, several files, other formats) are first copied
 * as JSONL to an unlinked temporary file.  -1 after a message. */
static int
scan(char **in, int nin, enum ft_rec_format fmt, struct recs *rs,
    const char **name)
{
	ft_records *first = NULL;
	FILE *spill = NULL;
	struct stat st;
	int rc = 0, fd = -1;
	uint64_t spilled = 0;

	*name = nin > 0 ? in[0] : "<stdin>";
	if (nin == 1 && strcmp(in[0], "-") != 0) {
		first = ft_records_open(in[0], fmt);
		if (first == NULL)
			return -1;
		if (ft_records_verbatim(first)) {
			fd = open(in[0], O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				ft_records_close(first);
				return ft_error("cannot open '%s':", in[0]);
			}
			if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
				close(fd);
				fd = -1;
			}
		}
	}
	if (fd < 0) {
		const char *dir = getenv("TMPDIR");
		char *tmp = ft_asprintf("%s/ft-split.XXXXXX",
		    dir != NULL && *dir != '\0' ? dir : "/tmp");
		fd = mkstemp(tmp);
		if (fd < 0) {
			ft_error("cannot create a temporary file '%s':", tmp);
			free(tmp);
			ft_records_close(first);
			return -1;
		}
		unlink(tmp); /* gone when we exit, whatever happens */
		free(tmp);
		spill = fdopen(dup(fd), "wb");
		if (spill == NULL) {
			close(fd);
			ft_records_close(first);
			return ft_error("cannot open a temporary file:");
		}
	}
	for (int k = 0; k < (nin > 0 ? nin : 1) && rc == 0; k++) {
		ft_records *r = k == 0 && first != NULL ? first :
		    ft_records_open(nin > 0 ? in[k] : "-", fmt);
		cJSON *obj;

		if (r == NULL) {
			rc = -1;
			break;
		}
		while ((rc = ft_records_next(r, &obj)) == 1) {
			size_t len;
			const char *raw = ft_records_raw(r, &len);
			ft_grow((void **)&rs->off, &rs->cap, rs->n + 1, sizeof *rs->off);
			rs->len = ft_realloc(rs->len, rs->cap * sizeof *rs->len);
			if (spill != NULL) {
				if (ft_write(spill, raw, len, "temporary file") != 0) {
					rc = -1;
					break;
				}
				rs->off[rs->n] = spilled;
				spilled += len;
			} else {
				rs->off[rs->n] = (uint64_t)ft_records_offset(r);
			}
			rs->len[rs->n] = len;
			if (len > rs->maxlen)
				rs->maxlen = len;
			rs->n++;
		}
		ft_records_close(r);
	}
	if (spill != NULL) {
		if (rc == 0 && fflush(spill) != 0)
			rc = ft_error("cannot write a temporary file:");
		if (fclose(spill) != 0 && rc == 0)
			rc = ft_error("cannot write a temporary file:");
	}
	if (rc != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
put(int fd, const struct recs *rs, size_t i, char *buf, ft_atomic *a,
    const char *name)
{
	size_t got = 0;

	while (got < rs->len[i]) {
		ssize_t k = pread(fd, buf + got, rs->len[i] - got,
		    (off_t)(rs->off[i] + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return ft_error("cannot read the input again (did it "
			    "change?)%s", k < 0 ? ":" : "");
		got += (size_t)k;
	}
	buf[got] = '\n';
	return ft_write(a->fp, buf, got + 1, name);
}


int
main(int argc, char **argv)
{
	const char *train = NULL, *val = NULL, *name;
	uint64_t seed = 42;
	double tf = 0.9;
	long long vsize = -1;
	long kfold = 0, fold = -1;
	int shuffle = 1, verbose, nsize = 0, nfmt = 0, c, fd, rc = 0;
	ft_opts op = { .shortopts = "s:", .longopts = longopts,
	    .help = usage_text, .na = not_here };
	enum ft_rec_format fmt = FT_REC_JSON;
	struct recs rs = { 0 };
	size_t *perm, ntrain, vstart, vend;
	ft_atomic at = { 0 }, av = { 0 };
	char *buf;

	ft_setprog(argv[0]);
	ft_io_install_signal_cleanup();
	while ((c = ft_getopt(&op, argc, argv)) != -1) {
		switch (c) {
		case O_TRAIN: train = ft_parse_path("--train", optarg); break;
		case O_VAL: val = ft_parse_path("--val", optarg); break;
		case 's': seed = ft_parse_u64("--seed", optarg, UINT64_MAX); break;
		case O_TF:
			tf = ft_parse_double("--train-fraction", optarg, 0, 1);
			nsize++;
			break;
		case O_VF:
			tf = 1.0 - ft_parse_double("--val-fraction", optarg, 0, 1);
			nsize++;
			break;
		case O_VS:
			vsize = (long long)ft_parse_u64("--val-size", optarg,
			    INT64_MAX);
			nsize++;
			break;
		case O_KFOLD:
			kfold = ft_parse_long("--kfold", optarg, 2, 1000000);
			nsize++;
			break;
		case O_FOLD:
			fold = ft_parse_long("--fold", optarg, 0, 999999);
			break;
		case O_NOSHUF: shuffle = 0; break;
		case O_JSON: fmt = FT_REC_JSON; nfmt++; break;
		case O_CSV: fmt = FT_REC_CSV; nfmt++; break;
		case O_LINES: fmt = FT_REC_LINES; nfmt++; break;
		case O_PARAS: fmt = FT_REC_PARAGRAPHS; nfmt++; break;
		case O_TEXT: fmt = FT_REC_TEXT; nfmt++; break;
		}
	}
	verbose = op.verbose > 0;
	if (nfmt > 1)
		ft_usage_error("use only one of --json, --csv, --lines, "
		    "--paragraphs and --text");
	if (train == NULL || val == NULL)
		ft_usage_error("both --train FILE and --val FILE are required");
	if (strcmp(train, val) == 0)
		ft_usage_error("--train and --val name the same file '%s'", train);
	if (nsize > 1)
		ft_usage_error("use only one of --train-fraction, --val-fraction, "
		    "--val-size and --kfold");
	if ((kfold > 0) != (fold >= 0))
		ft_usage_error("--kfold K and --fold I go together");
	if (kfold > 0 && fold >= kfold)
		ft_usage_error("--fold must be below --kfold (%ld)", kfold);

	fd = scan(argv + optind, argc - optind, fmt, &rs, &name);
	if (fd >= 0 && vsize >= 0 && (uint64_t)vsize > rs.n) {
		ft_error("--val-size %lld is larger than the %zu records of '%s'%s",
		    vsize, rs.n, ft_in_name(name), argc - optind > 1 ? " etc." : "");
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		free(rs.off);
		free(rs.len);
		return FT_EXIT_FAIL;
	}

	perm = ft_malloc((rs.n ? rs.n : 1) * sizeof *perm);
	if (shuffle) {
		ft_numpy_permutation(seed, rs.n, perm);
	} else {
		for (size_t i = 0; i < rs.n; i++)
			perm[i] = i;
	}
	/* Validation = perm[vstart, vend); training = the rest, in order. */
	if (kfold > 0) {
		size_t q = rs.n / (size_t)kfold, rem = rs.n % (size_t)kfold;
		size_t f = (size_t)fold;
		vstart = f * q + (f < rem ? f : rem);
		vend = vstart + q + (f < rem ? 1 : 0);
	} else if (vsize >= 0) {
		vstart = rs.n - (size_t)vsize;
		vend = rs.n;
	} else {
		ntrain = (size_t)(long)(tf * (double)rs.n);
		if (ntrain > rs.n)
			ntrain = rs.n;
		vstart = ntrain;
		vend = rs.n;
	}
	if (verbose)
		ft_note("%zu records: %zu train, %zu validation", rs.n,
		    rs.n - (vend - vstart), vend - vstart);

	if (ft_atomic_open(&at, train) != 0) {
		rc = -1;
	} else if (ft_atomic_open(&av, val) != 0) {
		ft_atomic_abort(&at);
		rc = -1;
	}
	buf = ft_malloc(rs.maxlen + 1);
	for (size_t i = 0; i < rs.n && rc == 0; i++) {
		int is_val = i >= vstart && i < vend;
		rc = put(fd, &rs, perm[i], buf, is_val ? &av : &at,
		    ft_out_name(is_val ? val : train));
	}
	if (rc == 0) {
		rc = ft_atomic_commit(&at);
		if (rc == 0)
			rc = ft_atomic_commit(&av);
		else
			ft_atomic_abort(&av);
	} else if (at.fp != NULL) {
		ft_atomic_abort(&at);
		ft_atomic_abort(&av);
	}
	free(buf);
	free(perm);
	free(rs.off);
	free(rs.len);
	close(fd);
	if (ft_close_stdout() != 0)
		rc = -1;
	return rc == 0 ? FT_EXIT_OK : FT_EXIT_FAIL;
}
