/* records — see records.h.
 *
 * JSON Lines go through lib/jsonl as they are.  Every other format is read
 * whole, and each record is turned into one line of compact JSON which is
 * then parsed by cJSON like a JSONL line, so the tools see one kind of
 * record whatever the input was. */
#include "records.h"

#include "err.h"
#include "io.h"
#include "jsonl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ft_records {
	enum ft_rec_format fmt;
	char *name;
	FILE *fp;           /* closed at the end (not stdin) */
	ft_jsonl *j;        /* JSON Lines */
	/* the other formats: the whole input, a cursor and the current line */
	char *buf;
	size_t len, pos;
	long line;          /* line number at buf[pos] */
	int docs_done;      /* FT_REC_TEXT: the one record was given */
	cJSON *root;        /* JSON array */
	cJSON *item;        /* its next element */
	long index;         /* 1-based number of the current element */
	char **keys;        /* CSV header */
	size_t nkeys;
	char *out;          /* the current record, compact JSON */
	size_t outcap, outlen;
	long lineno;
	cJSON *obj;
	char *text;         /* decoded field value */
	size_t textcap;
};

int
ft_rec_format_parse(const char *name)
{
	static const char *const names[] = { "json", "csv", "lines",
		"paragraphs", "text" };

	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
ft_rec_format_name(enum ft_rec_format fmt)
{
	switch (fmt) {
	case FT_REC_JSON: return "json";
	case FT_REC_CSV: return "csv";
	case FT_REC_LINES: return "lines";
	case FT_REC_PARAGRAPHS: return "paragraphs";
	case FT_REC_TEXT: return "text";
	}
	return "?";
}

/* Line number (1-based) and byte in that line (1-based) of buf[at]. */
static void
where(const char *buf, size_t at, long first, long *line, size_t *col)
{
	size_t start = 0;

	*line = first;
	for (size_t i = 0; i < at; i++)
		if (buf[i] == '\n') {
			(*line)++;
			start = i + 1;
		}
	*col = at - start + 1;
}

static int
check_utf8(ft_records *r)
{
	size_t bad = ft_utf8_check(r->buf, r->len), col;
	long line;

	if (bad == r->len)
		return 0;
	where(r->buf, bad, 1, &line, &col);
	return ft_error("%s:%ld: invalid UTF-8 at byte %zu", r->name, line, col);
}

/* CRLF and lone CR to LF, in place (Python's universal newlines). */
static void
universal_newlines(ft_records *r)
{
	size_t w = 0;

	for (size_t i = 0; i < r->len; i++) {
		if (r->buf[i] == '\r') {
			r->buf[w++] = '\n';
			if (i + 1 < r->len && r->buf[i + 1] == '\n')
				i++;
		} else {
			r->buf[w++] = r->buf[i];
		}
	}
	r->len = w;
	r->buf[w] = '\0';
}

static void
out_put(ft_records *r, const char *s, size_t n)
{
	ft_grow((void **)&r->out, &r->outcap, r->outlen + n + 1, 1);
	memcpy(r->out + r->outlen, s, n);
	r->outlen += n;
	r->out[r->outlen] = '\0';
}

static void
out_string(ft_records *r, const char *s, size_t n)
{
	ft_grow((void **)&r->out, &r->outcap, r->outlen + 6 * n + 3, 1);
	r->outlen += ft_json_escape(r->out + r->outlen, s, n);
	r->out[r->outlen] = '\0';
}

/* Parse r->out as the record (it is valid JSON by construction; an
 * element of a JSON array may repeat a key: the last counts, as in JSON
 * Lines and Python's json). */
static int
finish(ft_records *r, cJSON **obj)
{
	r->obj = cJSON_ParseWithLength(r->out, r->outlen);
	if (r->obj == NULL)
		return ft_error("%s:%ld: cannot represent the record as JSON",
		    r->name, r->lineno);
	ft_json_dedupe(r->obj);
	*obj = r->obj;
	return 1;
}

static int
text_record(ft_records *r, const char *s, size_t n, long lineno, cJSON **obj)
{
	r->outlen = 0;
	r->lineno = lineno;
	out_put(r, "{\"text\":", 8);
	out_string(r, s, n);
	out_put(r, "}", 1);
	return finish(r, obj);
}

static int
next_text(ft_records *r, cJSON **obj)
{
	const char *b = r->buf;

	switch (r->fmt) {
	case FT_REC_TEXT:
		if (r->docs_done)
			return 0;
		r->docs_done = 1;
		return text_record(r, b, r->len, 1, obj);
	case FT_REC_LINES: {
		const char *nl;
		size_t start = r->pos, end;
		long line = r->line;

		if (r->pos >= r->len)
			return 0;
		nl = memchr(b + start, '\n', r->len - start);
		end = nl ? (size_t)(nl - b) : r->len;
		r->pos = nl ? end + 1 : end;
		r->line++;
		return text_record(r, b + start, end - start, line, obj);
	}
	default: { /* paragraphs */
		for (;;) {
			size_t start = r->pos, end;
			long line = r->line;
			const char *sep;

			if (r->pos >= r->len)
				return 0;
			sep = memmem(b + start, r->len - start, "\n\n", 2);
			end = sep ? (size_t)(sep - b) : r->len;
			r->pos = sep ? end + 2 : end;
			for (size_t i = start; i < r->pos; i++)
				r->line += b[i] == '\n';
			if (end > start)
				return text_record(r, b + start, end - start, line,
				    obj);
		}
	}
	}
}

/* ---- CSV ---- */

/* A decoded CSV row: field k is data[off[k]] (flen[k] bytes, then NUL). */
struct csv_row {
	char *data;         /* decoded fields, each NUL-terminated */
	size_t cap, len;
	size_t *off, *flen;
	size_t nf, fcap;
};

static void
row_add_byte(struct csv_row *w, char c)
{
	ft_grow((void **)&w->data, &w->cap, w->len + 2, 1);
	w->data[w->len++] = c;
}

static void
row_end_field(struct csv_row *w, size_t start)
{
	if (w->nf + 1 > w->fcap) {
		ft_grow((void **)&w->off, &w->fcap, w->nf + 1, sizeof *w->off);
		w->flen = ft_realloc(w->flen, w->fcap * sizeof *w->flen);
	}
	w->off[w->nf] = start;
	w->flen[w->nf] = w->len - start;
	w->nf++;
	row_add_byte(w, '\0');
}

/* Read the row at r->pos into w, skipping blank lines before it: the
 * number of fields, 0 at the end, -1 after a message. */
static long
csv_row(ft_records *r, struct csv_row *w)
{
	const char *b = r->buf;
	size_t i = r->pos, n = r->len;

	/* skip blank lines */
	while (i < n && (b[i] == '\n' || b[i] == '\r')) {
		if (b[i] == '\n' || !(i + 1 < n && b[i + 1] == '\n'))
			r->line++;
		i++;
	}
	if (i >= n) {
		r->pos = i;
		return 0;
	}
	r->lineno = r->line;
	w->len = w->nf = 0;
	for (;;) {
		size_t start = w->len;

		if (i < n && b[i] == '"') {
			long qline = r->line;

			i++;
			for (;;) {
				if (i >= n)
					return ft_error("%s:%ld: unterminated quoted "
					    "field", r->name, qline);
				if (b[i] == '"') {
					if (i + 1 < n && b[i + 1] == '"') {
						row_add_byte(w, '"');
						i += 2;
						continue;
					}
					i++;
					break;
				}
				if (b[i] == '\n' || (b[i] == '\r' &&
				    !(i + 1 < n && b[i + 1] == '\n')))
					r->line++;
				row_add_byte(w, b[i++]);
			}
			if (i < n && b[i] != ',' && b[i] != '\n' && b[i] != '\r')
				return ft_error("%s:%ld: '%c' after a closing quote "
				    "(a '\"' inside a quoted field is written "
				    "\"\")", r->name, r->line, b[i]);
		} else {
			while (i < n && b[i] != ',' && b[i] != '\n' && b[i] != '\r')
				row_add_byte(w, b[i++]);
		}
		row_end_field(w, start);
		if (i < n && b[i] == ',') {
			i++;
			continue;
		}
		/* end of the record: LF, CRLF, CR or the end of the input */
		if (i < n && b[i] == '\r') {
			i++;
			if (i < n && b[i] == '\n')
				i++;
		} else if (i < n && b[i] == '\n') {
			i++;
		}
		r->line++;
		break;
	}
	r->pos = i;
	return (long)w->nf;
}

static int
csv_header(ft_records *r, struct csv_row *w)
{
	long nf;

	if (r->len >= 3 && memcmp(r->buf, "\xef\xbb\xbf", 3) == 0)
		r->pos = 3;
	nf = csv_row(r, w);
	if (nf <= 0)
		return (int)nf; /* empty input: no records */
	r->keys = ft_calloc((size_t)nf, sizeof *r->keys);
	r->nkeys = (size_t)nf;
	for (size_t k = 0; k < r->nkeys; k++) {
		if (w->flen[k] == 0)
			return ft_error("%s:%ld: column %zu of the header has no "
			    "name", r->name, r->lineno, k + 1);
		r->keys[k] = ft_strdup(w->data + w->off[k]);
		for (size_t j = 0; j < k; j++)
			if (strcmp(r->keys[j], r->keys[k]) == 0)
				return ft_error("%s:%ld: column '%s' appears "
				    "twice in the header", r->name, r->lineno,
				    r->keys[k]);
	}
	return 1;
}

static int
next_csv(ft_records *r, cJSON **obj)
{
	struct csv_row w = { 0 };
	long nf;
	int rc;

	if (r->keys == NULL) {
		rc = csv_header(r, &w);
		if (rc <= 0)
			goto out;
	}
	nf = csv_row(r, &w);
	if (nf <= 0) {
		rc = (int)nf;
		goto out;
	}
	if ((size_t)nf != r->nkeys) {
		rc = ft_error("%s:%ld: %ld fields, the header has %zu", r->name,
		    r->lineno, nf, r->nkeys);
		goto out;
	}
	r->outlen = 0;
	out_put(r, "{", 1);
	for (size_t k = 0; k < r->nkeys; k++) {
		if (k > 0)
			out_put(r, ",", 1);
		out_string(r, r->keys[k], strlen(r->keys[k]));
		out_put(r, ":", 1);
		out_string(r, w.data + w.off[k], w.flen[k]);
	}
	out_put(r, "}", 1);
	rc = finish(r, obj);
out:
	free(w.data);
	free(w.off);
	free(w.flen);
	return rc;
}

/* ---- JSON array ---- */

static int
json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
open_array(ft_records *r)
{
	const char *end = NULL;
	size_t col;
	long line;

	if (check_utf8(r) != 0)
		return -1;
	if (memchr(r->buf, '\0', r->len) != NULL) {
		where(r->buf, (size_t)((char *)memchr(r->buf, '\0', r->len) - r->buf),
		    1, &line, &col);
		return ft_error("%s:%ld: invalid JSON (NUL byte)", r->name, line);
	}
	r->root = cJSON_ParseWithLengthOpts(r->buf, r->len, &end, 0);
	if (r->root == NULL) {
		const char *e = cJSON_GetErrorPtr();
		if (e == NULL || e < r->buf || e > r->buf + r->len)
			e = r->buf;
		where(r->buf, (size_t)(e - r->buf), 1, &line, &col);
		return ft_error("%s:%ld: invalid JSON at byte %zu", r->name, line,
		    col);
	}
	for (size_t at = (size_t)(end - r->buf); at < r->len; at++)
		if (!json_ws(r->buf[at])) {
			where(r->buf, at, 1, &line, &col);
			return ft_error("%s:%ld: invalid JSON (trailing data at "
			    "byte %zu)", r->name, line, col);
		}
	if (!cJSON_IsArray(r->root))
		return ft_error("%s:1: not a JSON array", r->name);
	r->item = r->root->child;
	/* the cursor: just after '[' */
	while (r->pos < r->len && r->buf[r->pos] != '[')
		r->pos++;
	r->pos++;
	return 0;
}

static int
next_array(ft_records *r, cJSON **obj)
{
	const char *b = r->buf;
	size_t i = r->pos, col;
	int depth = 0, str = 0;
	long line;

	if (r->item == NULL)
		return 0;
	while (i < r->len && (json_ws(b[i]) || b[i] == ','))
		i++;
	where(b, i, 1, &line, &col);
	r->lineno = line;
	r->index++;
	if (!cJSON_IsObject(r->item))
		return ft_error("%s:%ld: element %ld of the array is not a JSON "
		    "object", r->name, line, r->index);
	r->outlen = 0;
	/* copy the element, dropping whitespace outside strings */
	for (; i < r->len; i++) {
		char c = b[i];

		if (str) {
			if (c == '\\') {
				out_put(r, b + i, 2);
				i++;
				continue;
			}
			str = c != '"';
			if ((unsigned char)c < 0x20) {
				/* a raw control character (cJSON takes it, json.loads
				 * would not): escaped, so the record stays one line */
				char esc[8];

				snprintf(esc, sizeof esc, "\\u%04x", (unsigned)c);
				out_put(r, esc, 6);
				continue;
			}
		} else if (c == '"') {
			str = 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (json_ws(c)) {
			continue;
		}
		out_put(r, b + i, 1);
		if (depth == 0 && !str) {
			i++;
			break;
		}
	}
	r->pos = i;
	r->item = r->item->next;
	return finish(r, obj);
}

/* ---- the reader ---- */

ft_records *
ft_records_open(const char *path, enum ft_rec_format fmt)
{
	ft_records *r = ft_calloc(1, sizeof *r);
	int stdin_ = path == NULL || strcmp(path, "-") == 0;
	struct stat st;

	r->fmt = fmt;
	r->name = ft_strdup(ft_in_name(path));
	r->line = 1;
	if (stdin_) {
		r->fp = stdin;
	} else if ((r->fp = fopen(path, "rb")) == NULL) {
		ft_error("cannot open '%s':", path);
		goto fail;
	}
	if (fmt == FT_REC_JSON) {
		int c = getc(r->fp);

		/* a directory fails here; later reads would see only the
		 * sticky error, with errno long since 0 */
		if (c == EOF && ferror(r->fp)) {
			ft_error("cannot read '%s':", r->name);
			goto fail;
		}
		int seekable = fstat(fileno(r->fp), &st) == 0 &&
		    S_ISREG(st.st_mode) && !stdin_;

		if (seekable)
			while (c != EOF && json_ws((char)c))
				c = getc(r->fp);
		if (c != '[') {
			if (seekable ? fseek(r->fp, 0, SEEK_SET) != 0 :
			    (c != EOF && ungetc(c, r->fp) == EOF)) {
				ft_error("cannot read '%s':", r->name);
				goto fail;
			}
			r->j = ft_jsonl_from_fp(r->fp, r->name);
			return r;
		}
		if (seekable && fseek(r->fp, 0, SEEK_SET) != 0) {
			ft_error("cannot read '%s':", r->name);
			goto fail;
		}
		if (ft_read_fp(r->fp, r->name, &r->buf, &r->len) != 0)
			goto fail;
		if (!seekable) { /* put the '[' back */
			r->buf = ft_realloc(r->buf, r->len + 2);
			memmove(r->buf + 1, r->buf, r->len + 1);
			r->buf[0] = '[';
			r->len++;
		}
		if (open_array(r) != 0)
			goto fail;
		return r;
	}
	if (ft_read_fp(r->fp, r->name, &r->buf, &r->len) != 0)
		goto fail;
	if (check_utf8(r) != 0)
		goto fail;
	if (fmt != FT_REC_CSV)
		universal_newlines(r);
	return r;
fail:
	ft_records_close(r);
	return NULL;
}

int
ft_records_next(ft_records *r, cJSON **obj)
{
	*obj = NULL;
	if (r->j != NULL) {
		int rc = ft_jsonl_next(r->j, obj);
		r->lineno = ft_jsonl_lineno(r->j);
		return rc;
	}
	cJSON_Delete(r->obj);
	r->obj = NULL;
	switch (r->fmt) {
	case FT_REC_JSON: return next_array(r, obj);
	case FT_REC_CSV: return next_csv(r, obj);
	default: return next_text(r, obj);
	}
}

const char *
ft_records_raw(const ft_records *r, size_t *len)
{
	if (r->j != NULL)
		return ft_jsonl_raw(r->j, len);
	*len = r->outlen;
	return r->out != NULL ? r->out : "";
}

int
ft_records_verbatim(const ft_records *r)
{
	return r->j != NULL;
}

long long
ft_records_offset(const ft_records *r)
{
	return r->j != NULL ? ft_jsonl_offset(r->j) : -1;
}

long
ft_records_lineno(const ft_records *r)
{
	return r->lineno;
}

const char *
ft_records_name(const ft_records *r)
{
	return r->name;
}

int
ft_records_text(ft_records *r, const cJSON *obj, const char *field,
    const char **s, size_t *n)
{
	const cJSON *it;
	size_t vs, ve;

	if (r->j != NULL)
		return ft_jsonl_text(r->j, obj, field, s, n);
	it = cJSON_GetObjectItemCaseSensitive(obj, field);
	if (it == NULL)
		return ft_json_missing_field(r->name, r->lineno, obj, field);
	if (!cJSON_IsString(it) || it->valuestring == NULL)
		return ft_error("%s:%ld: field '%s' is not a string", r->name,
		    r->lineno, field);
	if (ft_json_field_span(r->out, r->outlen, field, &vs, &ve) != 1 ||
	    r->out[vs] != '"')
		return ft_error("%s:%ld: field '%s' is not a string", r->name,
		    r->lineno, field);
	ft_grow((void **)&r->text, &r->textcap, ve - vs + 1, 1);
	*n = ft_json_unescape(r->out + vs, ve - vs, r->text);
	r->text[*n] = '\0';
	*s = r->text;
	return 0;
}

void
ft_records_close(ft_records *r)
{
	if (r == NULL)
		return;
	ft_jsonl_close(r->j);
	if (r->fp != NULL && r->fp != stdin)
		fclose(r->fp);
	for (size_t k = 0; k < r->nkeys; k++)
		free(r->keys[k]);
	free(r->keys);
	cJSON_Delete(r->root);
	cJSON_Delete(r->obj);
	free(r->buf);
	free(r->out);
	free(r->text);
	free(r->name);
	free(r);
}
