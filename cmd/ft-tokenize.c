/* ft-tokenize — records (JSON, CSV, paragraphs: lib/records, as ft-split
 * reads them) or text to a token file with a BPE tokenizer
 * (GPT-2's vocab.json + merges.txt, or a Hugging Face tokenizer.json);
 * --decode turns a token file back into text.
 *
 * Encoding streams: the input is cut into items (a JSONL record, a line,
 * or a piece of text cut where the pre-tokenizer would cut anyway, see
 * ft_bpe_cut); ft_bpe_par encodes batches of items with -j threads, each
 * with its own cache, and hands back the ids in input order, so the output
 * is the same for any -j. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "err.h"
#include "io.h"
#include "jsonl.h"
#include "modeldir.h"
#include "opt.h"
#include "records.h"
#include "tokfile.h"

#define ITEM (64 * 1024)       /* text is cut into items of about this */
#define CHUNK (1024 * 1024)    /* read size */

static const char usage_text[] =
"usage: ft-tokenize [-fq] [-j threads] [-m model] [-o file] [--field name]\n"
"                   [--json | --csv | --paragraphs | --text | --lines]\n"
"                   [--no-special] [--no-template]\n"
"                   [--no-eos] [--max-length n] [--replace-invalid] [file]\n"
"       ft-tokenize --decode [--jsonl | --lines] [--skip-special] [file]\n"
"\n"
"Tokenize records (JSON Lines or a JSON array, CSV with a header row: field\n"
"'text') or text into a token file with a BPE\n"
"tokenizer (tokenizer.json, or GPT-2's vocab.json and merges.txt), or with\n"
"--decode turn a token file back into text.\n"
"\n"
"  -m, --model DIR|ID     model directory or Hub id (default: $FT_MODEL,\n"
"                         else distilgpt2 from the Hub cache); its\n"
"                         tokenizer.json when present, else vocab.json\n"
"      --vocab FILE       vocab.json (with --merges)\n"
"      --merges FILE      merges.txt (with --vocab)\n"
"      --tokenizer FILE   tokenizer.json (tokenizer_config.json beside it\n"
"                         gives the end-of-text token)\n"
"      --field NAME       JSON or CSV field holding the text (default: text)\n"
"      --json             JSON Lines or a JSON array of objects (default)\n"
"      --csv              CSV (RFC 4180) with a header row naming the fields\n"
"      --paragraphs       text, one document per block between blank lines\n"
"      --text             the whole input is one document\n"
"      --lines            one document per line\n"
"      --no-special       treat special tokens in the text as plain text\n"
"      --no-template      do not add the post-processor's tokens (BOS)\n"
"      --no-eos           do not append the end-of-text token (eos_token,\n"
"                         <|endoftext|> for GPT-2) after each document\n"
"      --max-length N     keep the first N ids of each document\n"
"      --replace-invalid  replace invalid UTF-8 with U+FFFD (--text, --lines)\n"
"  -j, --threads N        encode with N threads (1; same output for any N)\n"
"  -o, --output FILE      write to FILE (atomically) instead of stdout\n"
"  -f, --force            write a token file to a terminal\n"
"  -d, --decode           token file to text\n"
"      --jsonl            with --decode: one JSON record per document\n"
"      --skip-special     with --decode: drop special tokens\n"
"  -q, --quiet            no notes (it prints only errors anyway)\n"
"  -h, --help             print this help and exit\n"
"  -V, --version          print the version and exit\n";

/* Input kinds: records (lib/records: JSON, CSV, paragraphs), or text
 * streamed as it is (--text, --lines). */
enum { MODE_JSONL, MODE_TEXT, MODE_LINES, MODE_CSV, MODE_PARAGRAPHS };

struct opts {
	const char *model, *vocab, *merges, *tokenizer, *field, *out, *in;
	int mode, decode, jsonl_out, skip_special, no_special, no_eos;
	int no_template;
	int replace, force, threads;
	long max_len;
};

struct enc {
	const struct opts *o;
	const struct ft_bpe *b;
	struct ft_bpe_par *par;
	ft_tokw *tw;
	uint32_t eos;
	char *fix;         /* --replace-invalid scratch */
	size_t fixcap;
	const char *oname;
	uint64_t doc_ids;  /* ids written in the current document */
	int in_doc;        /* the current document has begun */
	const uint32_t *pre, *post;  /* the post-processor's ids */
	size_t n_pre, n_post;
	const char *iname;
	long line;         /* line number at the start of the next item */
};

/* Standard output held back until HOLD bytes are there or the run
 * succeeds, so that an early error writes nothing on stdout. */
#define HOLD (4 * 1024 * 1024)
struct held {
	char *buf;
	size_t len, cap;
	int passing;
};

static int
held_flush(struct held *h)
{
	if (h->len > 0 && fwrite(h->buf, 1, h->len, stdout) != h->len)
		return -1;
	h->len = 0;
	return 0;
}

static ssize_t
held_write(void *c, const char *p, size_t n)
{
	struct held *h = c;

	if (!h->passing && h->len + n > HOLD) {
		if (held_flush(h) != 0)
			return -1;
		h->passing = 1;
	}
	if (h->passing)
		return fwrite(p, 1, n, stdout) == n ? (ssize_t)n : -1;
	ft_grow((void **)&h->buf, &h->cap, h->len + n, 1);
	memcpy(h->buf + h->len, p, n);
	h->len += n;
	return (ssize_t)n;
}

static FILE *
held_open(struct held *h)
{
	cookie_io_functions_t io = { NULL, held_write, NULL, NULL };

	memset(h, 0, sizeof *h);
	return fopencookie(h, "w", io);
}

/* Write ids of the current document, up to --max-length. */
static int
put_ids(struct enc *E, const uint32_t *ids, size_t n)
{
	size_t k = n;
	uint64_t max = (uint64_t)E->o->max_len;

	if (E->o->max_len >= 0 && E->doc_ids + k > max)
		k = E->doc_ids >= max ? 0 : (size_t)(max - E->doc_ids);
	if (ft_tokw_write(E->tw, ids, k) != 0)
		return -1;
	E->doc_ids += k;
	return 0;
}

/* Write the ids of one item (ft_bpe_par's emit callback): the template's
 * ids before the first item of a document and after its last, then the
 * end-of-text id. */
static int
emit(void *arg, const uint32_t *ids, size_t n, int end)
{
	struct enc *E = arg;

	if (!E->in_doc && put_ids(E, E->pre, E->n_pre) != 0)
		return -1;
	E->in_doc = 1;
	if (put_ids(E, ids, n) != 0)
		return -1;
	if (end) {
		if (ft_tokw_write(E->tw, E->post, E->n_post) != 0)
			return -1;
		if (!E->o->no_eos && ft_tokw_write(E->tw, &E->eos, 1) != 0)
			return -1;
		E->in_doc = 0;
		if (ft_tokw_end_doc(E->tw) != 0)
			return -1;
		E->doc_ids = 0;
	}
	return 0;
}

static long
count_nl(const char *s, size_t n)
{
	long c = 0;
	const char *p = s, *e = s + n;

	while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		c++;
		p++;
	}
	return c;
}

/* Add one item (validated, or repaired with --replace-invalid). */
static int
add_item(struct enc *E, const char *s, size_t n, int end, long line)
{
	size_t v = ft_utf8_valid_prefix(s, n), len = 0;

	if (v == n)
		return ft_bpe_par_add(E->par, s, n, end);
	if (!E->o->replace)
		return ft_error("%s:%ld: invalid UTF-8",
		    E->iname, line + count_nl(s, v));
	ft_utf8_repair(s, n, 0, &E->fix, &len, &E->fixcap);
	return ft_bpe_par_add(E->par, E->fix, len, end);
}

/* Add s[0..n) as items of about ITEM bytes; the last ends a document
 * when `end`.  s[n] must be a place where the text may be cut. */
static int
add_region(struct enc *E, const char *s, size_t n, int end)
{
	while (n > ITEM + FT_BPE_CUT_MARGIN) {
		size_t cut = ft_bpe_cut(E->b, s, n, ITEM, ITEM);
		if (cut == 0)
			cut = ft_bpe_cut(E->b, s, n, n - FT_BPE_CUT_MARGIN,
			    n - FT_BPE_CUT_MARGIN);
		if (cut == 0)
			break;
		if (add_item(E, s, cut, 0, E->line) != 0)
			return -1;
		E->line += count_nl(s, cut);
		s += cut;
		n -= cut;
	}
	if (!end && n == 0)
		return 0;
	if (add_item(E, s, n, end, E->line) != 0)
		return -1;
	E->line += count_nl(s, n);
	return 0;
}

/* --text and --lines: stream the input in CHUNK reads. */
static int
encode_stream(struct enc *E, FILE *fp)
{
	char *buf = NULL;
	size_t cap = 0, beg = 0, end = 0, want = CHUNK;
	int eof = 0, lines = E->o->mode == MODE_LINES;

	for (;;) {
		size_t avail = end - beg;
		char *s = buf + beg, *nl;
		if (lines && avail > 0 &&
		    (nl = memchr(s, '\n', avail)) != NULL) {
			if (add_region(E, s, (size_t)(nl - s), 1) != 0)
				goto fail;
			E->line++;
			beg += (size_t)(nl - s) + 1;
			continue;
		}
		if (!eof && avail < want) {
			size_t got;
			if (beg > 0) {
				memmove(buf, buf + beg, avail);
				beg = 0;
				end = avail;
			}
			ft_grow((void **)&buf, &cap, end + want + 1, 1);
			got = fread(buf + end, 1, cap - end - 1, fp);
			if (got == 0) {
				if (ferror(fp)) {
					ft_error("cannot read '%s':", E->iname);
					goto fail;
				}
				eof = 1;
			}
			end += got;
			continue;
		}
		if (eof) {
			if (!lines || avail > 0)
				if (add_region(E, s, avail, 1) != 0)
					goto fail;
			break;
		}
		/* a long document: emit what can be cut off, keep the rest */
		{
			size_t cut = ft_bpe_cut(E->b, s, avail,
			    avail - FT_BPE_CUT_MARGIN, avail - FT_BPE_CUT_MARGIN);
			if (cut == 0) {
				want *= 2;      /* no cut yet: read more */
				continue;
			}
			if (add_region(E, s, cut, 0) != 0)
				goto fail;
			beg += cut;
			want = CHUNK;
		}
	}
	free(buf);
	return ft_bpe_par_finish(E->par);
fail:
	free(buf);
	return -1;
}

/* JSON Lines or a JSON array, CSV, paragraphs: records through
 * lib/records, as ft-split reads them; one document each. */
static int
encode_records(struct enc *E)
{
	static const enum ft_rec_format fmt[] = {
		[MODE_JSONL] = FT_REC_JSON, [MODE_CSV] = FT_REC_CSV,
		[MODE_PARAGRAPHS] = FT_REC_PARAGRAPHS,
	};
	ft_records *r = ft_records_open(E->o->in, fmt[E->o->mode]);
	const char *field = E->o->mode == MODE_PARAGRAPHS ? "text" :
	    E->o->field;
	cJSON *obj;
	int rc;

	if (r == NULL)
		return -1;
	while ((rc = ft_records_next(r, &obj)) == 1) {
		const char *s;
		size_t n;
		if (ft_records_text(r, obj, field, &s, &n) != 0) {
			rc = -1;
			break;
		}
		if (add_item(E, s, n, 1, ft_records_lineno(r)) != 0) {
			rc = -1;
			break;
		}
	}
	ft_records_close(r);
	if (rc < 0)
		return -1;
	return ft_bpe_par_finish(E->par);
}

static int
run_encode(const struct opts *o, const struct ft_bpe *b)
{
	struct enc E;
	ft_tok_info info;
	ft_atomic a;
	int rc = -1;
	FILE *fp = NULL, *of;
	struct held held;

	memset(&E, 0, sizeof E);
	E.o = o;
	E.b = b;
	E.iname = ft_in_name(o->in);
	E.line = 1;
	if (!o->no_eos && ft_bpe_eos_id(b) < 0)
		return ft_error("the tokenizer has no end-of-text token "
		    "(eos_token, <|endoftext|>); use --no-eos");
	if (!o->no_template)
		ft_bpe_special_ids(b, &E.pre, &E.n_pre, &E.post, &E.n_post);
	if ((o->out == NULL || strcmp(o->out, "-") == 0) && !o->force &&
	    isatty(STDOUT_FILENO))
		return ft_error("refusing to write a token file to a terminal "
		    "(use -o FILE or -f)");
	memset(&info, 0, sizeof info);
	info.vocab_size = ft_bpe_vocab_size(b);
	info.eos_id = ft_bpe_eos_id(b);
	ft_bpe_hash(b, info.tok_hash);
	if (o->mode == MODE_TEXT || o->mode == MODE_LINES)
		fp = ft_open_in(o->in);
	if (ft_atomic_open(&a, o->out ? o->out : "-") != 0)
		goto out;
	E.oname = ft_out_name(o->out ? o->out : "-");
	of = a.fp;
	if (a.fp == stdout && (of = held_open(&held)) == NULL)
		ft_die("cannot buffer standard output:");
	E.tw = ft_tokw_open(of, E.oname, &info, 0);
	if (E.tw == NULL) {
		if (of != a.fp)
			fclose(of);
		ft_atomic_abort(&a);
		goto out;
	}
	E.eos = (uint32_t)ft_bpe_eos_id(b);
	E.par = ft_bpe_par_new(b, o->threads,
	    o->no_special ? FT_BPE_NO_SPECIAL : 0, emit, &E);
	rc = fp == NULL ? encode_records(&E) : encode_stream(&E, fp);
	ft_bpe_par_free(E.par);
	if (rc == 0)
		rc = ft_tokw_finish(E.tw);
	else
		ft_tokw_abort(E.tw);
	if (of != a.fp) {
		if (fflush(of) != 0 || (rc == 0 && held_flush(&held) != 0))
			rc = ft_stdout_error(); /* of holds stdout's bytes */
		fclose(of);
		free(held.buf);
	}
	if (rc == 0)
		rc = ft_atomic_commit(&a);
	else
		ft_atomic_abort(&a);
	free(E.fix);
out:
	if (fp != NULL)
		ft_close_in(fp);
	return rc;
}

/* Write s[0..n) as a JSON string (ft_json_escape: the escapes of
 * json.dumps with ensure_ascii=False). */
static int
put_json_string(FILE *fp, const char *s, size_t n, char **buf, size_t *cap)
{
	ft_grow((void **)buf, cap, 6 * n + 2, 1);
	fwrite(*buf, 1, ft_json_escape(*buf, s, n), fp);
	return ferror(fp) ? -1 : 0;
}

static int
run_decode(const struct opts *o, const struct ft_bpe *b)
{
	ft_tokr *r = ft_tokr_open(o->in ? o->in : "-");
	const ft_tok_info *info;
	uint8_t h[32], zero[32] = { 0 };
	uint32_t *ids = ft_malloc(65536 * sizeof *ids);
	char *raw = NULL, *txt = NULL, *esc = NULL;
	size_t rlen = 0, rcap = 0, tlen = 0, tcap = 0, n, keep, esccap = 0;
	int doc_end, rc, ret = -1, at_start = 1;
	uint64_t doc = 0, tok = 0;
	const char *oname = ft_out_name(o->out ? o->out : "-");
	ft_atomic a;

	if (r == NULL) {
		free(ids);
		return -1;
	}
	info = ft_tokr_info(r);
	ft_bpe_hash(b, h);
	if (memcmp(info->tok_hash, zero, 32) != 0 &&
	    memcmp(info->tok_hash, h, 32) != 0) {
		ft_error("%s: made with a different tokenizer",
		    ft_in_name(o->in));
		goto out;
	}
	/* a file of an unnamed tokenizer (no hash) may hold ids that this
	 * one lacks: the first is refused with its place */
	if (ft_atomic_open(&a, o->out ? o->out : "-") != 0)
		goto out;
	while ((rc = ft_tokr_read(r, ids, 65536, &n, &doc_end)) == 1) {
		size_t i;
		for (i = 0; i < n; i++)
			if (ids[i] >= ft_bpe_vocab_size(b)) {
				ft_error("%s: document %llu, token %llu: id %u "
				    "is outside the tokenizer's vocabulary "
				    "(size %u)", ft_in_name(o->in),
				    (unsigned long long)doc + 1,
				    (unsigned long long)(tok + i + 1), ids[i],
				    ft_bpe_vocab_size(b));
				break;
			}
		if (i < n)
			break;
		tok += n;
		if (doc_end) {
			doc++;
			tok = 0;
		}
		if (ft_bpe_decode(b, ids, n, o->skip_special, &raw, &rlen,
		    &rcap) != 0)
			break;
		if (!doc_end && (o->jsonl_out || rlen < 65536))
			continue;
		tlen = 0;
		if (at_start && rlen > 0) {
			size_t st = ft_bpe_doc_strip(b, raw, rlen);
			memmove(raw, raw + st, rlen - st);
			rlen -= st;
			at_start = 0;
		}
		keep = ft_utf8_repair(raw, rlen, !doc_end, &txt, &tlen, &tcap);
		if (keep > 0) /* raw is NULL while every document is empty */
			memmove(raw, raw + rlen - keep, keep);
		rlen = keep;
		if (doc_end)
			at_start = 1;
		if (o->jsonl_out) {
			fputc('{', a.fp);
			put_json_string(a.fp, o->field, strlen(o->field), &esc,
			    &esccap);
			fputc(':', a.fp);
			put_json_string(a.fp, txt, tlen, &esc, &esccap);
			fputs("}\n", a.fp);
		} else {
			if (tlen > 0) /* txt, too, is NULL until some text */
				fwrite(txt, 1, tlen, a.fp);
			if (doc_end && o->mode == MODE_LINES)
				fputc('\n', a.fp);
		}
		if (ferror(a.fp)) {
			if (a.fp == stdout)
				ft_stdout_error();
			else
				ft_error("cannot write '%s':", oname);
			break;
		}
	}
	if (rc == 0)
		ret = ft_atomic_commit(&a);
	else
		ft_atomic_abort(&a);
out:
	ft_tokr_close(r);
	free(ids);
	free(raw);
	free(txt);
	free(esc);
	return ret;
}

int
main(int argc, char **argv)
{
	enum { O_VOCAB = 256, O_MERGES, O_TOKENIZER, O_FIELD, O_TEXT, O_LINES,
		O_NOSPECIAL, O_NOEOS, O_MAXLEN, O_REPLACE, O_JSONL, O_SKIP,
		O_NOTEMPLATE, O_JSON, O_CSV, O_PARAGRAPHS };
	static const struct option lo[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "vocab", required_argument, NULL, O_VOCAB },
		{ "merges", required_argument, NULL, O_MERGES },
		{ "tokenizer", required_argument, NULL, O_TOKENIZER },
		{ "field", required_argument, NULL, O_FIELD },
		{ "text", no_argument, NULL, O_TEXT },
		{ "lines", no_argument, NULL, O_LINES },
		{ "json", no_argument, NULL, O_JSON },
		{ "csv", no_argument, NULL, O_CSV },
		{ "paragraphs", no_argument, NULL, O_PARAGRAPHS },
		{ "no-special", no_argument, NULL, O_NOSPECIAL },
		{ "no-eos", no_argument, NULL, O_NOEOS },
		{ "no-template", no_argument, NULL, O_NOTEMPLATE },
		{ "max-length", required_argument, NULL, O_MAXLEN },
		{ "replace-invalid", no_argument, NULL, O_REPLACE },
		FT_OPT_THREADS,
		FT_OPT_OUTPUT,
		FT_OPT_FORCE,
		{ "decode", no_argument, NULL, 'd' },
		{ "jsonl", no_argument, NULL, O_JSONL },
		{ "skip-special", no_argument, NULL, O_SKIP },
		FT_OPT_HELP, FT_OPT_VERSION, FT_OPT_QUIET,
		{ NULL, 0, NULL, 0 },
	};
	static const struct ft_opt_na not_here[] = {
		{ 'v', "it has nothing more to report" },
		{ 's', "it draws nothing at random" },
		{ 0, NULL },
	};
	ft_opts op = { .shortopts = "m:j:o:fd", .longopts = lo,
	    .help = usage_text, .na = not_here };
	struct opts o;
	struct ft_bpe *b;
	char *dir = NULL;
	int c, rc, json_given = 0;

	ft_setprog(argv[0]);
	ft_io_install_signal_cleanup();
	memset(&o, 0, sizeof o);
	o.field = "text";
	o.threads = 1;
	o.max_len = -1;
	while ((c = ft_getopt(&op, argc, argv)) != -1) {
		switch (c) {
		case 'm': o.model = optarg; break;
		case O_VOCAB: o.vocab = optarg; break;
		case O_MERGES: o.merges = optarg; break;
		case O_TOKENIZER: o.tokenizer = optarg; break;
		case O_FIELD: o.field = optarg; break;
		case O_TEXT: o.mode = MODE_TEXT; break;
		case O_LINES: o.mode = MODE_LINES; break;
		case O_JSON: o.mode = MODE_JSONL; json_given = 1; break;
		case O_CSV: o.mode = MODE_CSV; break;
		case O_PARAGRAPHS: o.mode = MODE_PARAGRAPHS; break;
		case O_NOSPECIAL: o.no_special = 1; break;
		case O_NOEOS: o.no_eos = 1; break;
		case O_NOTEMPLATE: o.no_template = 1; break;
		case O_MAXLEN:
			o.max_len = ft_parse_long("--max-length", optarg, 0,
			    (long)1 << 40);
			break;
		case O_REPLACE: o.replace = 1; break;
		case 'j':
			o.threads = (int)ft_parse_long("--threads", optarg, 1,
			    256);
			break;
		case 'o': o.out = ft_parse_path("-o", optarg); break;
		case 'f': o.force = 1; break;
		case 'd': o.decode = 1; break;
		case O_JSONL: o.jsonl_out = 1; break;
		case O_SKIP: o.skip_special = 1; break;
		}
	}
	if (argc - optind > 1)
		ft_usage_error("too many operands");
	o.in = optind < argc ? argv[optind] : "-";
	if ((o.vocab != NULL) != (o.merges != NULL))
		ft_usage_error("--vocab and --merges go together");
	if ((o.vocab != NULL) + (o.tokenizer != NULL) + (o.model != NULL) > 1)
		ft_usage_error("give one of -m, --tokenizer, --vocab/--merges");
	if (o.jsonl_out && !o.decode)
		ft_usage_error("--jsonl goes with --decode");
	if (o.jsonl_out && o.mode == MODE_LINES)
		ft_usage_error("--jsonl and --lines exclude each other");
	if (o.decode && (o.mode == MODE_TEXT || o.mode == MODE_CSV ||
	    o.mode == MODE_PARAGRAPHS || o.no_eos || o.no_special ||
	    o.no_template ||
	    o.max_len >= 0 || o.replace))
		ft_usage_error("--decode takes only --jsonl, --lines, "
		    "--skip-special, --field, -o");
	if (o.decode && json_given)
		ft_usage_error("--json names an input kind; --decode writes "
		    "JSON Lines with --jsonl");
	if (!o.decode && o.skip_special)
		ft_usage_error("--skip-special goes with --decode");
	if (o.decode && o.mode == MODE_JSONL && !o.jsonl_out)
		o.mode = MODE_TEXT;

	if (o.tokenizer != NULL)
		b = ft_bpe_load_json(o.tokenizer);
	else if (o.vocab != NULL)
		b = ft_bpe_load_files(o.vocab, o.merges);
	else if ((dir = ft_model_resolve(o.model)) != NULL)
		b = ft_bpe_load_dir(dir);
	else
		b = NULL;
	free(dir);
	if (b == NULL)
		return FT_EXIT_FAIL;
	rc = o.decode ? run_decode(&o, b) : run_encode(&o, b);
	ft_bpe_free(b);
	if (ft_close_stdout() != 0)
		rc = -1;
	return rc == 0 ? FT_EXIT_OK : FT_EXIT_FAIL;
}
