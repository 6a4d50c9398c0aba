/* jsonl — see jsonl.h.
 *
 * Lines come from getline(3), so their length is bounded only by memory.
 * Each line is checked for UTF-8 here (cJSON does not), then parsed by
 * cJSON; the raw bytes stay available so that tools can copy a record or
 * rewrite one field without reformatting the rest.  String values are
 * decoded from the raw line by our own scanner, so a "\u0000" inside a
 * string survives (cJSON's valuestring would stop there). */
#include "jsonl.h"
#include "err.h"
#include "io.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct ft_jsonl {
	FILE *fp;
	int own;           /* close fp in ft_jsonl_close */
	char *name;
	char *line;
	size_t cap, len;
	long lineno;
	long long offset, next;
	cJSON *obj;
	char *text;        /* decoded field value */
	size_t textcap;
};

static ft_jsonl *
reader_new(FILE *fp, int own, const char *name)
{
	ft_jsonl *r = ft_calloc(1, sizeof *r);

	r->fp = fp;
	r->own = own;
	r->name = ft_strdup(name);
	return r;
}

ft_jsonl *
ft_jsonl_open(const char *path)
{
	FILE *fp;

	if (path == NULL || strcmp(path, "-") == 0)
		return reader_new(stdin, 0, "<stdin>");
	fp = fopen(path, "rb");
	if (fp == NULL) {
		ft_error("cannot open '%s':", path);
		return NULL;
	}
	return reader_new(fp, 1, path);
}

ft_jsonl *
ft_jsonl_from_fp(FILE *fp, const char *name)
{
	return reader_new(fp, 0, name);
}

static int
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/* Keep only the last of duplicate keys in every object of the tree, as
 * Python's json.loads does (the value of the last, cJSON would find the
 * first).  A hash table of the keys seen so far finds them in O(n). */
static uint64_t
key_hash(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*k != '\0')
		h = (h ^ (unsigned char)*k++) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

void
ft_json_dedupe(cJSON *o)
{
	cJSON *it, *next, **slot;
	size_t n = 0, cap = 16, mask, i;

	if (!cJSON_IsObject(o) && !cJSON_IsArray(o))
		return;
	for (it = o->child; it != NULL; it = it->next) {
		ft_json_dedupe(it);
		n++;
	}
	if (!cJSON_IsObject(o) || n < 2)
		return;
	while (cap < 2 * n)
		cap <<= 1;
	mask = cap - 1;
	slot = ft_calloc(cap, sizeof *slot);
	for (it = o->child; it != NULL; it = next) {
		next = it->next;
		for (i = key_hash(it->string) & mask; slot[i] != NULL;
		    i = (i + 1) & mask)
			if (strcmp(slot[i]->string, it->string) == 0) {
				cJSON_Delete(cJSON_DetachItemViaPointer(o,
				    slot[i]));
				break;
			}
		slot[i] = it;
	}
	free(slot);
}

static long hex4(const char *s, size_t n, size_t i);

/* Why cJSON stopped at byte `at` of s[0..n): nesting beyond cJSON's
 * limit, a lone surrogate escape, or text that ends inside a string or an
 * open bracket where the input ends (cut: 1 a JSONL line without its
 * newline, 2 a whole document; 0 not at the end): truncated, or still
 * being written.  Writes " (CAUSE)" to buf, or "" when none is known. */
static void
json_cause(const char *s, size_t n, size_t at, int cut, char *buf,
    size_t cap)
{
	size_t depth = 0, i;
	int in_str = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (in_str) {
			if (c == '"') {
				in_str = 0;
			} else if (c == '\\' && i + 1 < n) {
				if (s[i + 1] == 'u' && i + 5 < n) {
					long u = hex4(s, n, i + 2);
					int paired = u >= 0xd800 && u < 0xdc00 &&
					    i + 11 < n && s[i + 6] == '\\' &&
					    s[i + 7] == 'u' &&
					    (hex4(s, n, i + 8) & 0xfc00) == 0xdc00;

					if (u >= 0 && (u & 0xf800) == 0xd800 && !paired &&
					    i <= at) {
						snprintf(buf, cap, " (lone "
						    "surrogate escape \\u%04lx at "
						    "byte %zu)", u, i + 1);
						return;
					}
					if (paired)
						i += 6;
				}
				i++;
			}
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > CJSON_NESTING_LIMIT && i <= at) {
				snprintf(buf, cap, " (nested deeper than %d "
				    "levels)", CJSON_NESTING_LIMIT);
				return;
			}
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	if (cut && (in_str || depth > 0))
		snprintf(buf, cap, cut == 1 ? " (the line is cut off at the end "
		    "of the input: truncated, or still being written?)" :
		    " (the text ends early: truncated, or still being written?)");
}

/* Parse s[0..n) as one JSON value: the tree (duplicate keys resolved to
 * the last), or NULL after "WHERE: invalid JSON at byte N (CAUSE)". */
static cJSON *
parse_json(const char *s, size_t n, int cut, const char *where)
{
	const char *end = NULL;
	cJSON *o = cJSON_ParseWithLengthOpts(s, n, &end, 0);
	char cause[96];

	if (o != NULL) {
		size_t at = (size_t)(end - s);

		while (at < n && s[at] > 0 && s[at] <= 32)
			at++;
		if (at < n) {
			cJSON_Delete(o);
			ft_error("%s: invalid JSON (trailing data at byte %zu)",
			    where, at + 1);
			return NULL;
		}
		ft_json_dedupe(o);
		return o;
	}
	end = cJSON_GetErrorPtr();
	if (end != NULL && end >= s && end <= s + n) {
		size_t at = (size_t)(end - s);

		json_cause(s, n, at, cut, cause, sizeof cause);
		if (cut == 2) { /* a whole file: where, as line and column */
			long line = 1, col = 1;
			for (size_t i = 0; i < at; i++, col++)
				if (s[i] == '\n') {
					line++;
					col = 0;
				}
			ft_error("%s: invalid JSON at line %ld, column %ld%s",
			    where, line, col, cause);
		} else {
			ft_error("%s: invalid JSON at byte %zu%s", where,
			    at + 1, cause);
		}
	} else {
		json_cause(s, n, n, cut, cause, sizeof cause);
		ft_error("%s: invalid JSON%s", where, cause);
	}
	return NULL;
}

int
ft_jsonl_next(ft_jsonl *r, cJSON **obj)
{
	ssize_t got;
	size_t bad;
	int newline = 0;
	char *where;

	cJSON_Delete(r->obj);
	r->obj = NULL;
	*obj = NULL;
	for (;;) {
		errno = 0;
		got = getline(&r->line, &r->cap, r->fp);
		if (got < 0) {
			if (ferror(r->fp))
				return ft_error("cannot read '%s':", r->name);
			r->len = 0;
			return 0;
		}
		r->lineno++;
		r->offset = r->next;
		r->next += got;
		r->len = (size_t)got;
		newline = r->len > 0 && r->line[r->len - 1] == '\n';
		if (newline)
			r->len--;
		if (!blank(r->line, r->len))
			break;
	}
	bad = ft_utf8_check(r->line, r->len);
	if (bad < r->len)
		return ft_error("%s:%ld: invalid UTF-8 at byte %zu", r->name,
		    r->lineno, bad + 1);
	if (memchr(r->line, '\0', r->len) != NULL)
		return ft_error("%s:%ld: invalid JSON (NUL byte)", r->name,
		    r->lineno);
	where = ft_asprintf("%s:%ld", r->name, r->lineno);
	r->obj = parse_json(r->line, r->len, !newline, where);
	free(where);
	if (r->obj == NULL)
		return -1;
	if (!cJSON_IsObject(r->obj)) {
		cJSON_Delete(r->obj);
		r->obj = NULL;
		return ft_error("%s:%ld: not a JSON object", r->name, r->lineno);
	}
	*obj = r->obj;
	return 1;
}

const char *
ft_jsonl_raw(const ft_jsonl *r, size_t *len)
{
	*len = r->len;
	return r->line != NULL ? r->line : "";
}

long long
ft_jsonl_offset(const ft_jsonl *r)
{
	return r->offset;
}

long
ft_jsonl_lineno(const ft_jsonl *r)
{
	return r->lineno;
}

const char *
ft_jsonl_name(const ft_jsonl *r)
{
	return r->name;
}

int
ft_jsonl_text(const ft_jsonl *r, const cJSON *obj, const char *field,
    const char **s, size_t *n)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, field);
	size_t vs, ve;

	if (it == NULL)
		return ft_json_missing_field(r->name, r->lineno, obj, field);
	if (!cJSON_IsString(it) || it->valuestring == NULL)
		return ft_error("%s:%ld: field '%s' is not a string", r->name,
		    r->lineno, field);
	if (obj == r->obj &&
	    ft_json_field_span(r->line, r->len, field, &vs, &ve) == 1 &&
	    r->line[vs] == '"') {
		ft_jsonl *w = (ft_jsonl *)r; /* the decode buffer is a cache */
		ft_grow((void **)&w->text, &w->textcap, ve - vs + 1, 1);
		*n = ft_json_unescape(r->line + vs, ve - vs, w->text);
		w->text[*n] = '\0';
		*s = w->text;
		return 0;
	}
	*s = it->valuestring;
	*n = strlen(it->valuestring);
	return 0;
}

int
ft_json_missing_field(const char *name, long lineno, const cJSON *obj,
    const char *field)
{
	char keys[160];
	size_t k = 0;
	int nk = 0;

	keys[0] = '\0';
	for (const cJSON *it = obj ? obj->child : NULL; it != NULL; it = it->next) {
		const char *key = it->string ? it->string : "";
		int w = snprintf(keys + k, sizeof keys - k, "%s'%s'",
		    nk++ ? ", " : "", key);
		if (w < 0 || (size_t)w >= sizeof keys - k) {
			snprintf(keys + k, sizeof keys - k, "%s...", k ? ", " : "");
			break;
		}
		k += (size_t)w;
	}
	if (nk == 0)
		return ft_error("%s:%ld: field '%s' is missing (the record has "
		    "no fields)", name, lineno, field);
	return ft_error("%s:%ld: field '%s' is missing (the record has %s; "
	    "--field NAME reads another)", name, lineno, field, keys);
}

void
ft_jsonl_close(ft_jsonl *r)
{
	if (r == NULL)
		return;
	if (r->own)
		fclose(r->fp);
	cJSON_Delete(r->obj);
	free(r->line);
	free(r->text);
	free(r->name);
	free(r);
}

int
ft_jsonl_write(FILE *fp, const cJSON *obj, const char *name)
{
	char *s = cJSON_PrintUnformatted(obj);
	int rc;

	if (s == NULL)
		return ft_error("%s: cannot format JSON", name);
	rc = ft_write(fp, s, strlen(s), name);
	if (rc == 0)
		rc = ft_write(fp, "\n", 1, name);
	cJSON_free(s);
	return rc;
}

/* ---- raw scanning of one object line ---- */

/* cJSON takes every byte in 1..32 for whitespace; so do we here. */
static size_t
skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && s[i] > 0 && s[i] <= 32)
		i++;
	return i;
}

/* End (one past the closing quote) of the string token at s[i] == '"'. */
static size_t
skip_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return n + 1;
}

/* End of the value starting at s[i]; n + 1 when malformed. */
static size_t
skip_value(const char *s, size_t n, size_t i)
{
	size_t depth = 0;

	if (i >= n)
		return n + 1;
	if (s[i] == '"')
		return skip_string(s, n, i);
	if (s[i] != '{' && s[i] != '[') {
		/* number or literal: up to a delimiter */
		while (i < n && !(s[i] > 0 && s[i] <= 32) && s[i] != ',' &&
		    s[i] != '}' &&
		    s[i] != ']')
			i++;
		return i;
	}
	while (i < n) {
		char c = s[i];
		if (c == '"') {
			i = skip_string(s, n, i);
			continue;
		}
		if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return n + 1;
}

int
ft_json_field_span(const char *s, size_t n, const char *field,
    size_t *vstart, size_t *vend)
{
	size_t i = 0, flen = strlen(field);
	char small[256];
	int found = 0;

	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		i = 3; /* a UTF-8 byte order mark, which cJSON skips too */
	i = skip_ws(s, n, i);

	if (i >= n || s[i] != '{')
		return -1;
	i = skip_ws(s, n, i + 1);
	if (i < n && s[i] == '}')
		return 0;
	while (i < n) {
		size_t ks, ke, klen, vs, ve;
		if (s[i] != '"')
			return -1;
		ks = i;
		ke = skip_string(s, n, i);
		if (ke > n)
			return -1;
		i = skip_ws(s, n, ke);
		if (i >= n || s[i] != ':')
			return -1;
		vs = skip_ws(s, n, i + 1);
		ve = skip_value(s, n, vs);
		if (ve > n || ve == vs)
			return -1;
		/* Compare the decoded key; short keys decode on the stack.
		 * The last of duplicate keys wins, as in Python's json. */
		{
			char *kb = ke - ks <= sizeof small ? small :
			    ft_malloc(ke - ks);
			klen = ft_json_unescape(s + ks, ke - ks, kb);
			if (klen == flen && memcmp(kb, field, flen) == 0) {
				*vstart = vs;
				*vend = ve;
				found = 1;
			}
			if (kb != small)
				free(kb);
		}
		i = skip_ws(s, n, ve);
		if (i < n && s[i] == '}')
			return found;
		if (i >= n || s[i] != ',')
			return -1;
		i = skip_ws(s, n, i + 1);
	}
	return -1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long
hex4(const char *s, size_t n, size_t i)
{
	long v = 0;

	if (i + 4 > n)
		return -1;
	for (int k = 0; k < 4; k++) {
		int h = hexval(s[i + k]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

size_t
ft_json_unescape(const char *s, size_t n, char *dst)
{
	size_t i = 0, o = 0;

	if (n >= 1 && s[0] == '"')
		i = 1;
	if (n >= 2 && s[n - 1] == '"')
		n--;
	while (i < n) {
		char c = s[i];
		if (c != '\\') {
			dst[o++] = c;
			i++;
			continue;
		}
		if (i + 1 >= n)
			break;
		c = s[i + 1];
		i += 2;
		switch (c) {
		case 'b': dst[o++] = '\b'; break;
		case 'f': dst[o++] = '\f'; break;
		case 'n': dst[o++] = '\n'; break;
		case 'r': dst[o++] = '\r'; break;
		case 't': dst[o++] = '\t'; break;
		case 'u': {
			long cp = hex4(s, n, i), lo;
			if (cp < 0) {
				dst[o++] = '?';
				break;
			}
			i += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < n &&
			    s[i] == '\\' && s[i + 1] == 'u' &&
			    (lo = hex4(s, n, i + 2)) >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			} else if (cp >= 0xd800 && cp <= 0xdfff) {
				cp = 0xfffd; /* lone surrogate (cJSON rejects these) */
			}
			/* \uXXXX is 6 bytes and decodes to at most 3; a pair is
			 * 12 bytes to 4: the output never outgrows the input. */
			o += ft_utf8_put(dst + o, (unsigned long)cp);
			break;
		}
		default: dst[o++] = c; break; /* \" \\ \/ */
		}
	}
	return o;
}

size_t
ft_json_escape(char *d, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t o = 0;

	d[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned c = s[i];
		switch (c) {
		case '"': d[o++] = '\\'; d[o++] = '"'; break;
		case '\\': d[o++] = '\\'; d[o++] = '\\'; break;
		case '\n': d[o++] = '\\'; d[o++] = 'n'; break;
		case '\r': d[o++] = '\\'; d[o++] = 'r'; break;
		case '\t': d[o++] = '\\'; d[o++] = 't'; break;
		case '\b': d[o++] = '\\'; d[o++] = 'b'; break;
		case '\f': d[o++] = '\\'; d[o++] = 'f'; break;
		default:
			if (c < 0x20) {
				memcpy(d + o, "\\u00", 4);
				d[o + 4] = hex[c >> 4];
				d[o + 5] = hex[c & 15];
				o += 6;
			} else {
				d[o++] = (char)c;
			}
		}
	}
	d[o++] = '"';
	return o;
}

cJSON *
ft_json_parse_value(const char *s, size_t n, const char *name)
{
	return parse_json(s, n, 2, name);
}

cJSON *
ft_json_parse(const char *s, size_t n, const char *name)
{
	cJSON *o = parse_json(s, n, 2, name);

	if (o != NULL && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		ft_error("%s: not a JSON object", name);
		return NULL;
	}
	return o;
}

cJSON *
ft_json_load(const char *path)
{
	char *buf;
	size_t len;
	cJSON *o;

	if (ft_read_file(path, &buf, &len) != 0)
		return NULL;
	o = ft_json_parse(buf, len, path);
	free(buf);
	return o;
}

void
ft_pyfloat(char *buf, size_t cap, double x)
{
	char tmp[40], digits[24];
	int prec, exp10, nd = 0;
	char *p;

	if (isnan(x)) {
		snprintf(buf, cap, "NaN");
		return;
	}
	if (isinf(x)) {
		snprintf(buf, cap, x > 0 ? "Infinity" : "-Infinity");
		return;
	}
	if (x == 0) {
		snprintf(buf, cap, signbit(x) ? "-0.0" : "0.0");
		return;
	}
	/* shortest digits that read back to x */
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
		if (strtod(tmp, NULL) == x)
			break;
	}
	/* tmp = [-]d.ddde[+-]XX */
	p = tmp;
	if (*p == '-')
		p++;
	for (; *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	digits[nd] = '\0';
	exp10 = (int)strtol(p + 1, NULL, 10);
	while (nd > 1 && digits[nd - 1] == '0')
		digits[--nd] = '\0';
	if (exp10 >= -4 && exp10 < 16) {
		char out[40];
		size_t k = 0;

		if (exp10 < 0) {
			out[k++] = '0';
			out[k++] = '.';
			for (int i = -1; i > exp10; i--)
				out[k++] = '0';
			for (int i = 0; i < nd; i++)
				out[k++] = digits[i];
		} else {
			for (int i = 0; i <= exp10; i++)
				out[k++] = i < nd ? digits[i] : '0';
			out[k++] = '.';
			if (nd > exp10 + 1)
				for (int i = exp10 + 1; i < nd; i++)
					out[k++] = digits[i];
			else
				out[k++] = '0';
		}
		out[k] = '\0';
		snprintf(buf, cap, "%s%s", x < 0 ? "-" : "", out);
	} else {
		char mant[24];
		size_t k = 0;

		mant[k++] = digits[0];
		if (nd > 1) {
			mant[k++] = '.';
			for (int i = 1; i < nd; i++)
				mant[k++] = digits[i];
		}
		mant[k] = '\0';
		snprintf(buf, cap, "%s%se%c%02d", x < 0 ? "-" : "", mant,
		    exp10 < 0 ? '-' : '+', abs(exp10));
	}
}

/* ---- json.dumps(indent=2, sort_keys=True) ---- */

static int
key_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

static void
put_indent(FILE *f, int depth)
{
	for (int i = 0; i < depth; i++)
		fputs("  ", f);
}

static void
put_string(FILE *f, const char *s)
{
	size_t n = strlen(s);
	char *buf = ft_malloc(6 * n + 3);

	fwrite(buf, 1, ft_json_escape(buf, s, n), f);
	free(buf);
}

/* json.dumps(indent=2, sort_keys=True) of one value. */
static void
put_value(FILE *f, const cJSON *v, int depth)
{
	char num[40];

	if (cJSON_IsRaw(v)) {
		fputs(v->valuestring, f);
	} else if (cJSON_IsNull(v)) {
		fputs("null", f);
	} else if (cJSON_IsTrue(v)) {
		fputs("true", f);
	} else if (cJSON_IsFalse(v)) {
		fputs("false", f);
	} else if (cJSON_IsNumber(v)) {
		double x = v->valuedouble;
		if (x == floor(x) && fabs(x) < 9007199254740992.0)
			snprintf(num, sizeof num, "%.0f", x);
		else
			ft_pyfloat(num, sizeof num, x);
		fputs(num, f);
	} else if (cJSON_IsString(v)) {
		put_string(f, v->valuestring);
	} else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
		int n = cJSON_GetArraySize(v), obj = cJSON_IsObject(v), i = 0;
		const cJSON **it;
		const cJSON *c;

		if (n == 0) {
			fputs(obj ? "{}" : "[]", f);
			return;
		}
		it = ft_malloc((size_t)n * sizeof(*it));
		cJSON_ArrayForEach(c, v)
			it[i++] = c;
		if (obj)
			qsort(it, (size_t)n, sizeof(*it), key_cmp);
		fputs(obj ? "{\n" : "[\n", f);
		for (i = 0; i < n; i++) {
			put_indent(f, depth + 1);
			if (obj) {
				put_string(f, it[i]->string);
				fputs(": ", f);
			}
			put_value(f, it[i], depth + 1);
			fputs(i + 1 < n ? ",\n" : "\n", f);
		}
		put_indent(f, depth);
		fputc(obj ? '}' : ']', f);
		free(it);
	}
}

void
ft_json_put_pretty(FILE *f, const cJSON *v)
{
	put_value(f, v, 0);
}
