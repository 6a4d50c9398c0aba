/* safetensors — see safetensors.h and docs/hf-reference.md §7.
 *
 * Reading: the 8-byte little-endian header length N (at most 100,000,000),
 * N bytes of UTF-8 JSON starting with '{' (trailing JSON whitespace is
 * allowed: writers pad with spaces), then the data buffer.  Every tensor's
 * byte span must equal product(shape) x dtype size, and the spans sorted by
 * offset must tile the buffer exactly.  cJSON keeps duplicate keys as
 * separate children, so duplicates are found by sorting the names.
 *
 * Writing follows the Rust reference (safetensors::tensor::prepare): sort
 * by dtype descending in the reference's enum order (which is ascending
 * alignment) then by name bytewise, lay the data out in that order, emit a
 * compact header with __metadata__ first and each tensor's fields in the
 * order dtype, shape, data_offsets, strings escaped as serde_json does,
 * and pad the header with spaces to a multiple of 8. */
#include "safetensors.h"
#include "utf8.h"
#include "err.h"

#include <cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADER 100000000ULL

static const struct {
	const char *name;
	size_t size;
} dtypes[FT_DTYPE_COUNT] = {
	[FT_BOOL] = { "BOOL", 1 }, [FT_U8] = { "U8", 1 }, [FT_I8] = { "I8", 1 },
	[FT_I16] = { "I16", 2 }, [FT_U16] = { "U16", 2 },
	[FT_F16] = { "F16", 2 }, [FT_BF16] = { "BF16", 2 },
	[FT_I32] = { "I32", 4 }, [FT_U32] = { "U32", 4 },
	[FT_F32] = { "F32", 4 }, [FT_F64] = { "F64", 8 },
	[FT_I64] = { "I64", 8 }, [FT_U64] = { "U64", 8 },
};

/* dtypes of newer safetensors versions this library does not handle. */
static const char *const other_dtypes[] = {
	"F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F4",
	"F6_E2M3", "F6_E3M2", "C64",
};

const char *
ft_dtype_name(ft_dtype t)
{
	return (unsigned)t < FT_DTYPE_COUNT ? dtypes[t].name : "?";
}

size_t
ft_dtype_size(ft_dtype t)
{
	return (unsigned)t < FT_DTYPE_COUNT ? dtypes[t].size : 0;
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Strict UTF-8 (no overlongs, surrogates or values above U+10FFFF) and
 * no control bytes but JSON whitespace (JSON forbids them anywhere). */
static int
valid_header_text(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return 0;
	return ft_utf8_check((const char *)s, n) == n;
}

/* Does the JSON text escape a NUL character (\u0000)?  cJSON would cut
 * the string there, silently renaming a tensor. */
static int
has_escaped_nul(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i + 6 <= n; i++) {
		if (s[i] != '\\')
			continue;
		if (memcmp(s + i + 1, "u0000", 5) == 0)
			return 1;
		i++; /* skip the escaped character */
	}
	return 0;
}

/* A JSON number that is a non-negative integer below 2^53. */
static int
json_uint(const cJSON *j, uint64_t *v)
{
	double d;

	if (!cJSON_IsNumber(j))
		return 0;
	d = j->valuedouble;
	if (!(d >= 0) || d > 9007199254740992.0 || d != floor(d))
		return 0;
	*v = (uint64_t)d;
	return 1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_span(const void *a, const void *b)
{
	const ft_st_tensor *x = *(const ft_st_tensor *const *)a;
	const ft_st_tensor *y = *(const ft_st_tensor *const *)b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

/* Parse one tensor entry into t; msg gets the reason on failure. */
static int
parse_tensor(const cJSON *j, ft_st_tensor *t, const char **msg)
{
	const cJSON *dt = NULL, *sh = NULL, *off = NULL, *c;
	uint64_t v, b, e, nelem = 1;
	int k;

	if (!cJSON_IsObject(j))
		return *msg = "entry is not a JSON object", -1;
	cJSON_ArrayForEach(c, j) {
		const cJSON **slot = strcmp(c->string, "dtype") == 0 ? &dt :
		    strcmp(c->string, "shape") == 0 ? &sh :
		    strcmp(c->string, "data_offsets") == 0 ? &off : NULL;

		if (slot == NULL)
			continue; /* unknown fields are ignored, as serde does */
		if (*slot != NULL)
			return *msg = "duplicate field", -1;
		*slot = c;
	}
	if (dt == NULL || sh == NULL || off == NULL)
		return *msg = "missing dtype, shape or data_offsets", -1;
	if (!cJSON_IsString(dt))
		return *msg = "dtype is not a string", -1;
	for (k = 0; k < FT_DTYPE_COUNT; k++)
		if (strcmp(dt->valuestring, dtypes[k].name) == 0)
			break;
	if (k == FT_DTYPE_COUNT) {
		for (size_t i = 0; i < sizeof other_dtypes /
		    sizeof other_dtypes[0]; i++)
			if (strcmp(dt->valuestring, other_dtypes[i]) == 0)
				return *msg = "unsupported dtype", -1;
		return *msg = "unknown dtype", -1;
	}
	t->dtype = (ft_dtype)k;
	if (!cJSON_IsArray(sh))
		return *msg = "shape is not an array", -1;
	t->ndim = 0;
	cJSON_ArrayForEach(c, sh) {
		if (t->ndim == FT_ST_MAX_DIMS)
			return *msg = "too many dimensions", -1;
		if (!json_uint(c, &v))
			return *msg = "shape is not a list of non-negative "
			    "integers", -1;
		if (v != 0 && nelem > UINT64_MAX / v)
			return *msg = "shape overflows", -1;
		nelem *= v;
		t->shape[t->ndim++] = (int64_t)v;
	}
	if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2 ||
	    !json_uint(off->child, &b) || !json_uint(off->child->next, &e))
		return *msg = "data_offsets is not a pair of non-negative "
		    "integers", -1;
	if (e < b)
		return *msg = "data_offsets end before they begin", -1;
	if (nelem > (uint64_t)SIZE_MAX / dtypes[k].size ||
	    nelem * dtypes[k].size != e - b)
		return *msg = "shape and dtype do not match the data_offsets "
		    "byte span", -1;
	t->nelem = (size_t)nelem;
	t->begin = (size_t)b;
	t->end = (size_t)e;
	return 0;
}

int
ft_st_parse(ft_st_file *f, const unsigned char *buf, size_t size,
    const char *name)
{
	uint64_t n;
	const unsigned char *h;
	const char *end = NULL, *msg = NULL;
	cJSON *root = NULL, *c;
	ft_st_tensor **order = NULL;
	char **names = NULL;
	size_t nt = 0, nk = 0, data_size, pos;
	int rc = -1;

	memset(f, 0, sizeof *f);
	f->path = ft_strdup(name);
	if (size < 8) {
		ft_error("'%s': not a safetensors file (shorter than 8 bytes)",
		    name);
		goto out;
	}
	n = get64(buf);
	if (n > MAX_HEADER) {
		ft_error("'%s': safetensors header too large (%llu bytes, "
		    "limit %llu)", name, (unsigned long long)n, MAX_HEADER);
		goto out;
	}
	if (n > size - 8) {
		ft_error("'%s': safetensors header length %llu exceeds the "
		    "file size", name, (unsigned long long)n);
		goto out;
	}
	h = buf + 8;
	data_size = size - 8 - (size_t)n;
	if (n == 0 || h[0] != '{') {
		ft_error("'%s': safetensors header does not start with '{'",
		    name);
		goto out;
	}
	if (!valid_header_text(h, (size_t)n)) {
		ft_error("'%s': safetensors header is not valid UTF-8 JSON "
		    "text", name);
		goto out;
	}
	if (has_escaped_nul(h, (size_t)n)) {
		ft_error("'%s': safetensors header has a string with a NUL "
		    "character", name);
		goto out;
	}
	root = cJSON_ParseWithLengthOpts((const char *)h, (size_t)n, &end, 0);
	if (root != NULL)
		for (; end < (const char *)h + n; end++)
			if (*end != ' ' && *end != '\t' && *end != '\n' &&
			    *end != '\r')
				break;
	if (root == NULL || end != (const char *)h + n) {
		ft_error("'%s': safetensors header is not valid JSON", name);
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		ft_error("'%s': safetensors header is not a JSON object", name);
		goto out;
	}

	/* Keys: count, then check for duplicates. */
	cJSON_ArrayForEach(c, root)
		nk++;
	names = ft_malloc(sizeof *names * (nk + 1));
	nk = 0;
	cJSON_ArrayForEach(c, root)
		names[nk++] = c->string;
	qsort(names, nk, sizeof *names, cmp_str);
	for (size_t i = 1; i < nk; i++)
		if (strcmp(names[i - 1], names[i]) == 0) {
			ft_error("'%s': duplicate key '%s' in safetensors "
			    "header", name, names[i]);
			goto out;
		}

	f->tensors = ft_calloc(nk + 1, sizeof *f->tensors);
	cJSON_ArrayForEach(c, root) {
		if (strcmp(c->string, "__metadata__") == 0) {
			const cJSON *m;
			size_t nm = 0;

			if (!cJSON_IsObject(c)) {
				ft_error("'%s': __metadata__ is not a JSON "
				    "object", name);
				goto out;
			}
			cJSON_ArrayForEach(m, c)
				nm++;
			f->meta_keys = ft_calloc(nm + 1, sizeof *f->meta_keys);
			f->meta_vals = ft_calloc(nm + 1, sizeof *f->meta_vals);
			cJSON_ArrayForEach(m, c) {
				if (!cJSON_IsString(m)) {
					ft_error("'%s': __metadata__ value of "
					    "'%s' is not a string", name,
					    m->string);
					goto out;
				}
				for (size_t i = 0; i < f->n_meta; i++)
					if (strcmp(f->meta_keys[i],
					    m->string) == 0) {
						ft_error("'%s': duplicate key "
						    "'%s' in __metadata__",
						    name, m->string);
						goto out;
					}
				f->meta_keys[f->n_meta] = ft_strdup(m->string);
				f->meta_vals[f->n_meta++] =
				    ft_strdup(m->valuestring);
			}
			continue;
		}
		ft_st_tensor *t = &f->tensors[nt];

		if (parse_tensor(c, t, &msg) < 0) {
			ft_error("'%s': tensor '%s': %s", name, c->string, msg);
			goto out;
		}
		t->name = ft_strdup(c->string);
		nt++;
		f->n = nt;
	}

	/* The spans must tile the data buffer. */
	order = ft_malloc(sizeof *order * (nt + 1));
	for (size_t i = 0; i < nt; i++)
		order[i] = &f->tensors[i];
	qsort(order, nt, sizeof *order, cmp_span);
	pos = 0;
	for (size_t i = 0; i < nt; i++) {
		if (order[i]->begin != pos) {
			ft_error("'%s': tensor '%s': data_offsets [%zu, %zu] "
			    "%s at byte %zu of the data", name,
			    order[i]->name, order[i]->begin, order[i]->end,
			    order[i]->begin > pos ? "leave a hole" :
			    "overlap another tensor", pos);
			goto out;
		}
		pos = order[i]->end;
	}
	if (pos != data_size) {
		ft_error("'%s': tensor data ends at byte %zu but the data "
		    "buffer has %zu bytes (%s)", name, pos, data_size,
		    pos < data_size ? "trailing bytes" : "file truncated");
		goto out;
	}
	for (size_t i = 0; i < nt; i++)
		f->tensors[i].data = h + n + f->tensors[i].begin;
	rc = 0;
out:
	cJSON_Delete(root);
	free(names);
	free(order);
	if (rc < 0)
		ft_st_close(f);
	return rc;
}

int
ft_st_open(ft_st_file *f, const char *path)
{
	ft_map m;

	memset(f, 0, sizeof *f);
	if (ft_map_file(&m, path) < 0)
		return -1;
	if (ft_st_parse(f, m.data, m.size, path) < 0) {
		ft_unmap(&m);
		return -1;
	}
	f->map = m;
	return 0;
}

const ft_st_tensor *
ft_st_find(const ft_st_file *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->tensors[i].name, name) == 0)
			return &f->tensors[i];
	return NULL;
}

const char *
ft_st_meta(const ft_st_file *f, const char *key)
{
	for (size_t i = 0; i < f->n_meta; i++)
		if (strcmp(f->meta_keys[i], key) == 0)
			return f->meta_vals[i];
	return NULL;
}

/* IEEE binary16 -> binary32, exact (subnormals, infinities, NaN). */
static float
half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f;
	uint32_t man = h & 0x3ff, bits;
	float f;

	if (exp == 0x1f) {
		bits = sign | 0x7f800000 | man << 13;
	} else if (exp != 0) {
		bits = sign | (exp + 112) << 23 | man << 13;
	} else if (man == 0) {
		bits = sign;
	} else {
		/* Subnormal: normalise. */
		exp = 113;
		while (!(man & 0x400)) {
			man <<= 1;
			exp--;
		}
		bits = sign | exp << 23 | (man & 0x3ff) << 13;
	}
	memcpy(&f, &bits, 4);
	return f;
}

int
ft_st_read_f32(const ft_st_file *f, const ft_st_tensor *t, float *out)
{
	const unsigned char *p = t->data;
	size_t i;

	switch (t->dtype) {
	case FT_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		if (t->nelem > 0)
			memcpy(out, p, t->nelem * 4);
		return 0;
#endif
		for (i = 0; i < t->nelem; i++, p += 4) {
			uint32_t b = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
			memcpy(&out[i], &b, 4);
		}
		return 0;
	case FT_F16:
		for (i = 0; i < t->nelem; i++, p += 2)
			out[i] = half_to_float((uint16_t)(p[0] | p[1] << 8));
		return 0;
	case FT_BF16:
		for (i = 0; i < t->nelem; i++, p += 2) {
			uint32_t b = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 24;
			memcpy(&out[i], &b, 4);
		}
		return 0;
	case FT_F64:
		for (i = 0; i < t->nelem; i++, p += 8) {
			uint64_t b = get64(p);
			double d;

			memcpy(&d, &b, 8);
			out[i] = (float)d;
		}
		return 0;
	default:
		return ft_error("'%s': tensor '%s': dtype %s cannot be read "
		    "as F32", f->path, t->name, ft_dtype_name(t->dtype));
	}
}

void
ft_st_close(ft_st_file *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->tensors[i].name);
	free(f->tensors);
	for (size_t i = 0; i < f->n_meta; i++) {
		free(f->meta_keys[i]);
		free(f->meta_vals[i]);
	}
	free(f->meta_keys);
	free(f->meta_vals);
	free(f->path);
	ft_unmap(&f->map);
	memset(f, 0, sizeof *f);
}

/* ---- writer ---- */

typedef struct sbuf {
	char *p;
	size_t n, cap;
} sbuf;

static void
sb_put(sbuf *b, const char *s, size_t n)
{
	ft_grow((void **)&b->p, &b->cap, b->n + n + 1, 1);
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void
sb_str(sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* A JSON string as serde_json writes it: '"' and '\\' escaped, the short
 * escapes for \b \t \n \f \r, other control bytes as \u00XX (lowercase),
 * everything else (including non-ASCII UTF-8) verbatim. */
static void
sb_json_str(sbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	sb_put(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };

		switch (c) {
		case '"': sb_put(b, "\\\"", 2); break;
		case '\\': sb_put(b, "\\\\", 2); break;
		case '\b': sb_put(b, "\\b", 2); break;
		case '\t': sb_put(b, "\\t", 2); break;
		case '\n': sb_put(b, "\\n", 2); break;
		case '\f': sb_put(b, "\\f", 2); break;
		case '\r': sb_put(b, "\\r", 2); break;
		default:
			if (c < 0x20)
				sb_put(b, e, 6);
			else
				sb_put(b, (const char *)&c, 1);
		}
	}
	sb_put(b, "\"", 1);
}

static int
cmp_entry(const void *a, const void *b)
{
	const ft_st_entry *x = *(const ft_st_entry *const *)a;
	const ft_st_entry *y = *(const ft_st_entry *const *)b;

	if (x->dtype != y->dtype)
		return x->dtype > y->dtype ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
cmp_entry_name(const void *a, const void *b)
{
	return strcmp((*(const ft_st_entry *const *)a)->name,
	    (*(const ft_st_entry *const *)b)->name);
}

static size_t
entry_bytes(const ft_st_entry *e)
{
	size_t n = ft_dtype_size(e->dtype);

	for (int i = 0; i < e->ndim; i++)
		n *= (size_t)e->shape[i];
	return n;
}

int
ft_st_write(const char *path, const ft_st_entry *e, size_t n,
    const char *const *meta_keys, const char *const *meta_vals,
    size_t n_meta)
{
	const ft_st_entry **ord = ft_malloc(sizeof *ord * (n + 1));
	sbuf h = { 0 };
	ft_atomic a;
	size_t off = 0, i;
	unsigned char len8[8];
	char num[32];
	int rc = -1;

	for (i = 0; i < n; i++) {
		if ((unsigned)e[i].dtype >= FT_DTYPE_COUNT || e[i].ndim < 0 ||
		    e[i].ndim > FT_ST_MAX_DIMS ||
		    strcmp(e[i].name, "__metadata__") == 0) {
			ft_error("'%s': tensor '%s': invalid dtype, rank or "
			    "name", path, e[i].name);
			goto out;
		}
		for (int d = 0; d < e[i].ndim; d++)
			if (e[i].shape[d] < 0) {
				ft_error("'%s': tensor '%s': negative "
				    "dimension", path, e[i].name);
				goto out;
			}
		ord[i] = &e[i];
	}
	/* Duplicate names: sort by name alone first. */
	qsort(ord, n, sizeof *ord, cmp_entry_name);
	for (i = 1; i < n; i++)
		if (strcmp(ord[i - 1]->name, ord[i]->name) == 0) {
			ft_error("'%s': duplicate tensor '%s'", path,
			    ord[i]->name);
			goto out;
		}
	qsort(ord, n, sizeof *ord, cmp_entry);

	sb_str(&h, "{");
	if (n_meta > 0) {
		sb_str(&h, "\"__metadata__\":{");
		for (i = 0; i < n_meta; i++) {
			if (i > 0)
				sb_str(&h, ",");
			sb_json_str(&h, meta_keys[i]);
			sb_str(&h, ":");
			sb_json_str(&h, meta_vals[i]);
		}
		sb_str(&h, "}");
	}
	for (i = 0; i < n; i++) {
		size_t nb = entry_bytes(ord[i]);

		if (i > 0 || n_meta > 0)
			sb_str(&h, ",");
		sb_json_str(&h, ord[i]->name);
		sb_str(&h, ":{\"dtype\":\"");
		sb_str(&h, ft_dtype_name(ord[i]->dtype));
		sb_str(&h, "\",\"shape\":[");
		for (int d = 0; d < ord[i]->ndim; d++) {
			snprintf(num, sizeof num, "%s%lld", d ? "," : "",
			    (long long)ord[i]->shape[d]);
			sb_str(&h, num);
		}
		snprintf(num, sizeof num, "],\"data_offsets\":[%zu,", off);
		sb_str(&h, num);
		off += nb;
		snprintf(num, sizeof num, "%zu]}", off);
		sb_str(&h, num);
	}
	sb_str(&h, "}");
	while (h.n % 8 != 0)
		sb_str(&h, " ");

	if (!valid_header_text((const unsigned char *)h.p, h.n)) {
		ft_error("'%s': a tensor name or metadata string is not valid "
		    "UTF-8", path);
		goto out;
	}
	for (i = 0; i < 8; i++)
		len8[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
	if (ft_atomic_open(&a, path) < 0)
		goto out;
	if (ft_write(a.fp, len8, 8, path) < 0 ||
	    ft_write(a.fp, h.p, h.n, path) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (entry_bytes(ord[i]) > 0 && ft_write(a.fp, ord[i]->data,
		    entry_bytes(ord[i]), path) < 0)
			goto fail;
	rc = ft_atomic_commit(&a);
	goto out;
fail:
	ft_atomic_abort(&a);
out:
	free(ord);
	free(h.p);
	return rc;
}
