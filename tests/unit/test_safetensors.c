/* Unit tests for lib/safetensors: the committed fixture written by
 * tests/ref/safetensors_ref.py (reference writer rules) round-trips
 * byte-identically through reader + writer; F16/BF16/F64 convert to the
 * F32 values Python computed; the Rust crate's serialization test vectors;
 * and one test per validation, each checking the one-line message. */
#include "check.h"
#include "err.h"
#include "io.h"
#include "safetensors.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/ft-test-st.XXXXXX";
static const char *fix = "tests/fixtures/safetensors";

/* ---- stderr capture ---- */
static int saved_fd = -1;
static char errpath[256];

static void
capture(void)
{
	int fd;

	fflush(stderr);
	snprintf(errpath, sizeof errpath, "%s/stderr", dir);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	saved_fd = dup(2);
	dup2(fd, 2);
	close(fd);
}

/* Stop capturing; 1 when the output was one line containing want. */
static int
captured_is(const char *want)
{
	char *buf;
	size_t n;
	int ok;

	fflush(stderr);
	dup2(saved_fd, 2);
	close(saved_fd);
	if (ft_read_file(errpath, &buf, &n) < 0)
		return 0;
	ok = strstr(buf, want) != NULL && n > 0 && buf[n - 1] == '\n' &&
	    memchr(buf, '\n', n) == buf + n - 1;
	if (!ok)
		fprintf(stderr, "stderr was: %s(want one line with '%s')\n",
		    buf, want);
	free(buf);
	return ok;
}

/* ---- helpers ---- */

static char *
fixture(const char *name)
{
	const char *top = getenv("FT_TOP");
	char *d = top ? ft_path_join(top, fix) : ft_strdup(fix);
	char *p = ft_path_join(d, name);

	free(d);
	return p;
}

static int
same_file(const char *a, const char *b)
{
	char *x, *y;
	size_t nx, ny;
	int ok;

	if (ft_read_file(a, &x, &nx) < 0)
		return 0;
	if (ft_read_file(b, &y, &ny) < 0) {
		free(x);
		return 0;
	}
	ok = nx == ny && memcmp(x, y, nx) == 0;
	free(x);
	free(y);
	return ok;
}

/* Rewrite every tensor of f (in a scrambled order) to path. */
static int
rewrite(const ft_st_file *f, const char *path)
{
	ft_st_entry *e = ft_calloc(f->n + 1, sizeof *e);
	int rc;

	for (size_t i = 0; i < f->n; i++) {
		const ft_st_tensor *t = &f->tensors[f->n - 1 - i];

		e[i].name = t->name;
		e[i].dtype = t->dtype;
		e[i].ndim = t->ndim;
		e[i].shape = t->shape;
		e[i].data = t->data;
	}
	rc = ft_st_write(path, e, f->n, (const char *const *)f->meta_keys,
	    (const char *const *)f->meta_vals, f->n_meta);
	free(e);
	return rc;
}

static void
test_fixture(void)
{
	char *ref = fixture("ref.safetensors");
	char *ref32 = fixture("ref_f32.safetensors");
	char *out = ft_path_join(dir, "out.safetensors");
	ft_st_file f, g;
	const ft_st_tensor *t, *u;
	float v[64], w[64];

	CHECK(ft_st_open(&f, ref) == 0);
	CHECK_EQ_INT(f.n, 21);
	CHECK(f.n_meta == 1 && strcmp(ft_st_meta(&f, "format"), "pt") == 0);
	CHECK(ft_st_meta(&f, "nope") == NULL);
	t = ft_st_find(&f, "transformer.wte.weight");
	CHECK(t != NULL && t->dtype == FT_F32 && t->ndim == 2 &&
	    t->shape[0] == 5 && t->shape[1] == 4 && t->nelem == 20);
	t = ft_st_find(&f, "scalar");
	CHECK(t != NULL && t->ndim == 0 && t->nelem == 1);
	CHECK(ft_st_read_f32(&f, t, v) == 0 && v[0] == -1e4f);
	t = ft_st_find(&f, "empty16");
	CHECK(t != NULL && t->nelem == 0 && t->begin == t->end);
	t = ft_st_find(&f, "bool");
	CHECK(t != NULL && t->ndim == 8 && t->shape[7] == 2);
	CHECK(ft_st_find(&f, "\xc3\xb1" "ame/\xc3\xa9\xe2\x98\x83") != NULL);
	CHECK(ft_st_find(&f, "q\"uote\\tab\t\x01\x7f") != NULL);
	CHECK(ft_st_find(&f, "nope") == NULL);

	/* Byte-identical round trip. */
	CHECK(rewrite(&f, out) == 0);
	CHECK(same_file(ref, out));

	/* Conversions match Python's. */
	CHECK(ft_st_open(&g, ref32) == 0);
	for (size_t i = 0; i < g.n; i++) {
		u = &g.tensors[i];
		t = ft_st_find(&f, u->name);
		CHECK(t != NULL && t->nelem == u->nelem && u->nelem <= 64);
		if (t == NULL || t->nelem != u->nelem || u->nelem > 64)
			continue;
		CHECK(ft_st_read_f32(&f, t, v) == 0);
		CHECK(ft_st_read_f32(&g, u, w) == 0);
		for (size_t k = 0; k < u->nelem; k++)
			if (!(memcmp(&v[k], &w[k], 4) == 0 ||
			    (isnan(v[k]) && isnan(w[k])))) {
				fprintf(stderr, "%s[%zu]: %.9g != %.9g\n",
				    u->name, k, v[k], w[k]);
				CHECK(0);
			}
	}
	CHECK(ft_st_find(&f, "half") != NULL);
	ft_st_read_f32(&f, ft_st_find(&f, "half"), v);
	CHECK(v[0] == 1.0f && v[1] == -2.5f && v[2] == 65504.0f &&
	    v[3] == 5.9604644775390625e-08f && isinf(v[7]) && isnan(v[9]));
	/* The reference F32 file round-trips too. */
	CHECK(rewrite(&g, out) == 0);
	CHECK(same_file(ref32, out));
	ft_st_close(&g);

	capture();
	CHECK(ft_st_read_f32(&f, ft_st_find(&f, "i64"), v) == -1);
	CHECK(captured_is("tensor 'i64': dtype I64 cannot be read as F32"));
	ft_st_close(&f);
	ft_st_close(&f); /* idempotent */
	free(ref);
	free(ref32);
	free(out);
}

/* The serialization vectors of the Rust crate's own tests. */
static void
test_vectors(void)
{
	char *out = ft_path_join(dir, "v.safetensors"), *buf;
	size_t n;
	const char *k = "framework", *val = "pt";
	static const float data[6] = { 0, 1, 2, 3, 4, 5 };
	int64_t shape[4] = { 1, 1, 2, 3 };
	ft_st_entry e = { "attn0", FT_F32, 4, shape, data };
	ft_st_file f;

	CHECK(ft_st_write(out, NULL, 0, NULL, NULL, 0) == 0);
	CHECK(ft_read_file(out, &buf, &n) == 0);
	CHECK(n == 16 && memcmp(buf, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
	free(buf);
	CHECK(ft_st_write(out, NULL, 0, &k, &val, 1) == 0);
	CHECK(ft_read_file(out, &buf, &n) == 0);
	CHECK(n == 48 && memcmp(buf, "\x28\0\0\0\0\0\0\0"
	    "{\"__metadata__\":{\"framework\":\"pt\"}}     ", 48) == 0);
	free(buf);
	CHECK(ft_st_write(out, &e, 1, NULL, NULL, 0) == 0);
	CHECK(ft_read_file(out, &buf, &n) == 0);
	CHECK(n == 8 + 72 + 24 && memcmp(buf, "\x48\0\0\0\0\0\0\0"
	    "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],"
	    "\"data_offsets\":[0,24]}}       ", 80) == 0 &&
	    memcmp(buf + 80, data, 24) == 0);
	free(buf);
	CHECK(ft_st_open(&f, out) == 0 && f.n == 1 && f.n_meta == 0);
	ft_st_close(&f);

	/* Writer refusals. */
	e.name = "__metadata__";
	capture();
	CHECK(ft_st_write(out, &e, 1, NULL, NULL, 0) == -1);
	CHECK(captured_is("tensor '__metadata__'"));
	ft_st_entry two[2] = { { "x", FT_F32, 0, shape, data },
	    { "x", FT_U8, 0, shape, data } };
	capture();
	CHECK(ft_st_write(out, two, 2, NULL, NULL, 0) == -1);
	CHECK(captured_is("duplicate tensor 'x'"));
	two[0].name = "bad\xff";
	capture();
	CHECK(ft_st_write(out, two, 2, NULL, NULL, 0) == -1);
	CHECK(captured_is("not valid UTF-8"));
	free(out);
}

/* A file from a header string and a data size (zero-filled data). */
static int
parse_case(const char *header, size_t data, size_t pad, const char *want)
{
	size_t hn = strlen(header) + pad, n = 8 + hn + data;
	unsigned char *buf = ft_calloc(n + 1, 1);
	ft_st_file f;
	int rc;

	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)hn >> (8 * i));
	memcpy(buf + 8, header, strlen(header));
	memset(buf + 8 + strlen(header), ' ', pad);
	if (want != NULL)
		capture();
	rc = ft_st_parse(&f, buf, n, "x.safetensors");
	if (rc == 0)
		ft_st_close(&f);
	free(buf);
	if (want == NULL)
		return rc == 0;
	return rc == -1 && captured_is(want);
}

#define T1(name, dtype, shape, b, e) \
	"\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape \
	",\"data_offsets\":[" #b "," #e "]}"

static void
test_validation(void)
{
	unsigned char small[12] = { 4, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ' };
	unsigned char big[16] = { 0x01, 0xe1, 0xf5, 0x05, 0, 0, 0, 0, '{' };
	ft_st_file f;

	/* Valid: padding with spaces (any amount), JSON whitespace. */
	CHECK(parse_case("{" T1("a", "F32", "[2]", 0, 8) "}", 8, 0, NULL));
	CHECK(parse_case("{" T1("a", "F32", "[2]", 0, 8) "}", 8, 13, NULL));
	CHECK(parse_case("{ \"a\" : {\"shape\":[2], \"data_offsets\":[0,8],"
	    "\"dtype\":\"F32\", \"extra\":1}}\n", 8, 0, NULL));
	CHECK(parse_case("{" T1("b", "F32", "[1]", 4, 8) ","
	    T1("a", "F32", "[1]", 0, 4) "," T1("z", "U8", "[0]", 8, 8) "}",
	    8, 0, NULL));
	CHECK(ft_st_parse(&f, small, sizeof small, "s") == 0);
	CHECK(f.n == 0);
	ft_st_close(&f);

	capture();
	CHECK(ft_st_parse(&f, small, 7, "x.safetensors") == -1);
	CHECK(captured_is("'x.safetensors': not a safetensors file"));
	capture();
	CHECK(ft_st_parse(&f, big, sizeof big, "x.safetensors") == -1);
	CHECK(captured_is("'x.safetensors': safetensors header too large"));
	small[0] = 5;
	capture();
	CHECK(ft_st_parse(&f, small, sizeof small, "x.safetensors") == -1);
	CHECK(captured_is("header length 5 exceeds the file size"));
	CHECK(parse_case(" {}", 0, 0, "does not start with '{'"));
	CHECK(parse_case("", 0, 0, "does not start with '{'"));
	CHECK(parse_case("{\"\xff\":1}", 0, 0, "not valid UTF-8"));
	CHECK(parse_case("{\"\xed\xa0\x80\":1}", 0, 0, "not valid UTF-8"));
	CHECK(parse_case("{\"a\x01\":1}", 0, 0, "not valid UTF-8"));
	CHECK(parse_case("{\"a\\u0000b\":1}", 0, 0, "NUL character"));
	CHECK(parse_case("{\"__metadata__\":{\"a\\\\u0000\":\"\"}}", 0, 0,
	    NULL)); /* an escaped backslash, then "u0000" */
	CHECK(parse_case("{\"a\":", 0, 0, "not valid JSON"));
	CHECK(parse_case("{} x", 0, 0, "not valid JSON"));
	CHECK(parse_case("{}{}", 0, 0, "not valid JSON"));
	CHECK(parse_case("{" T1("a", "F17", "[1]", 0, 4) "}", 4, 0,
	    "'x.safetensors': tensor 'a': unknown dtype"));
	CHECK(parse_case("{" T1("a", "F8_E4M3", "[1]", 0, 1) "}", 1, 0,
	    "tensor 'a': unsupported dtype"));
	CHECK(parse_case("{" T1("a", "F32", "[3]", 0, 8) "}", 8, 0,
	    "tensor 'a': shape and dtype do not match"));
	CHECK(parse_case("{" T1("a", "F32", "[1]", 0, 4) ","
	    T1("b", "F32", "[1]", 8, 12) "}", 12, 0,
	    "tensor 'b': data_offsets [8, 12] leave a hole at byte 4"));
	CHECK(parse_case("{" T1("a", "F32", "[2]", 0, 8) ","
	    T1("b", "F32", "[2]", 4, 12) "}", 12, 0,
	    "tensor 'b': data_offsets [4, 12] overlap another tensor"));
	CHECK(parse_case("{" T1("a", "F32", "[1]", 4, 8) "}", 8, 0,
	    "tensor 'a': data_offsets [4, 8] leave a hole at byte 0"));
	CHECK(parse_case("{" T1("a", "F32", "[2]", 0, 8) "}", 9, 0,
	    "trailing bytes"));
	CHECK(parse_case("{" T1("a", "F32", "[2]", 0, 8) "}", 7, 0,
	    "file truncated"));
	CHECK(parse_case("{" T1("a", "F32", "[1]", 0, 4) ","
	    T1("a", "F32", "[1]", 4, 8) "}", 8, 0, "duplicate key 'a'"));
	CHECK(parse_case("{\"__metadata__\":{\"a\":1}}", 0, 0,
	    "__metadata__ value of 'a' is not a string"));
	CHECK(parse_case("{\"__metadata__\":[]}", 0, 0,
	    "__metadata__ is not a JSON object"));
	CHECK(parse_case("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, 0,
	    "duplicate key 'a' in __metadata__"));
	CHECK(parse_case("{" T1("a", "F32", "[-1]", 0, 4) "}", 4, 0,
	    "tensor 'a': shape is not a list of non-negative integers"));
	CHECK(parse_case("{" T1("a", "F32", "[1.5]", 0, 4) "}", 4, 0,
	    "tensor 'a': shape is not a list"));
	CHECK(parse_case("{" T1("a", "F32", "[\"1\"]", 0, 4) "}", 4, 0,
	    "tensor 'a': shape is not a list"));
	CHECK(parse_case("{" T1("a", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}",
	    4, 0, "tensor 'a': too many dimensions"));
	CHECK(parse_case("{" T1("a", "F32",
	    "[4294967296,4294967296,4294967296]", 0, 4) "}", 4, 0,
	    "tensor 'a': shape overflows"));
	CHECK(parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[0,4,8]}}", 4, 0,
	    "tensor 'a': data_offsets is not a pair"));
	CHECK(parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
	    "\"data_offsets\":[4,0]}}", 4, 0, "tensor 'a': data_offsets end"));
	CHECK(parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, 0,
	    "tensor 'a': missing dtype, shape or data_offsets"));
	CHECK(parse_case("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\","
	    "\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0,
	    "tensor 'a': duplicate field"));
	CHECK(parse_case("{\"a\":{\"dtype\":32,\"shape\":[1],"
	    "\"data_offsets\":[0,4]}}", 4, 0, "tensor 'a': dtype is not"));
	CHECK(parse_case("{\"a\":[1]}", 0, 0,
	    "tensor 'a': entry is not a JSON object"));
	CHECK(parse_case("{\"a\":{\"dtype\":\"F32\",\"shape\":1,"
	    "\"data_offsets\":[0,4]}}", 4, 0, "tensor 'a': shape is not an"));

	/* ft_st_open errors name the file. */
	capture();
	CHECK(ft_st_open(&f, "/nonexistent/x.safetensors") == -1);
	CHECK(captured_is("cannot open '/nonexistent/x.safetensors'"));
}

/* Random tensors: write, read back, rewrite byte-identically. */
static void
test_random(void)
{
	char *a = ft_path_join(dir, "r1.safetensors");
	char *b = ft_path_join(dir, "r2.safetensors");
	ft_st_entry e[40];
	int64_t shapes[40][3];
	char names[40][16];
	unsigned char *data[40];
	const char *mk[2] = { "format", "note" }, *mv[2] = { "pt", "x\ny" };
	ft_st_file f;
	uint32_t s = 12345;

	for (int i = 0; i < 40; i++) {
		size_t nb;

		snprintf(names[i], sizeof names[i], "t%d.%c", (i * 13) % 40,
		    'a' + i % 3);
		e[i].name = names[i];
		e[i].dtype = (ft_dtype)(i % FT_DTYPE_COUNT);
		e[i].ndim = i % 4;
		e[i].shape = shapes[i];
		nb = ft_dtype_size(e[i].dtype);
		for (int d = 0; d < e[i].ndim; d++) {
			shapes[i][d] = (i + d) % 5;
			nb *= (size_t)shapes[i][d];
		}
		data[i] = ft_malloc(nb + 1);
		for (size_t k = 0; k < nb; k++) {
			s = s * 1103515245 + 12345;
			data[i][k] = (unsigned char)(s >> 16);
		}
		e[i].data = data[i];
	}
	CHECK(ft_st_write(a, e, 40, mk, mv, 2) == 0);
	CHECK(ft_st_open(&f, a) == 0);
	CHECK(f.n == 40 && f.n_meta == 2 &&
	    strcmp(ft_st_meta(&f, "note"), "x\ny") == 0);
	for (int i = 0; i < 40; i++) {
		const ft_st_tensor *t = ft_st_find(&f, names[i]);
		size_t nb = ft_dtype_size(e[i].dtype);

		for (int d = 0; d < e[i].ndim; d++)
			nb *= (size_t)shapes[i][d];
		CHECK(t != NULL && t->dtype == e[i].dtype &&
		    t->ndim == e[i].ndim && t->end - t->begin == nb &&
		    (nb == 0 || memcmp(t->data, data[i], nb) == 0));
	}
	/* Tensors appear in the header in data order. */
	for (size_t i = 1; i < f.n; i++)
		CHECK(f.tensors[i].begin >= f.tensors[i - 1].end);
	CHECK(rewrite(&f, b) == 0);
	CHECK(same_file(a, b));
	ft_st_close(&f);
	for (int i = 0; i < 40; i++)
		free(data[i]);
	free(a);
	free(b);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_fixture();
	test_vectors();
	test_validation();
	test_random();
	ft_remove_tree(dir);
	return check_done();
}
