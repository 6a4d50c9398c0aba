/* Unit tests for lib/jsonl: reading, errors, raw helpers, a 50 MB line. */
#include "check.h"
#include "err.h"
#include "io.h"
#include "jsonl.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ft_jsonl *
mem(const char *s, FILE **fp)
{
	*fp = fmemopen((void *)s, strlen(s), "r");
	return ft_jsonl_from_fp(*fp, "mem.jsonl");
}

static void
test_read(void)
{
	const char *in = "{\"id\":1,\"text\":\"a\"}\n\n  \t\n"
	    "{\"text\" : \"b\\u00e9\\ud83d\\ude00\\u0000z\", \"n\": 2}\r\n"
	    "{\"x\":{\"text\":1},\"text\":\"c\"}"; /* no final newline */
	FILE *fp;
	ft_jsonl *r = mem(in, &fp);
	cJSON *o;
	const char *s, *raw;
	size_t n;

	CHECK(ft_jsonl_next(r, &o) == 1);
	CHECK(ft_jsonl_lineno(r) == 1 && ft_jsonl_offset(r) == 0);
	CHECK(ft_jsonl_text(r, o, "text", &s, &n) == 0 && n == 1 && *s == 'a');
	raw = ft_jsonl_raw(r, &n);
	CHECK(n == 19 && memcmp(raw, "{\"id\":1", 7) == 0);
	CHECK(ft_jsonl_text(r, o, "missing", &s, &n) == -1);
	CHECK(ft_jsonl_text(r, o, "id", &s, &n) == -1);

	CHECK(ft_jsonl_next(r, &o) == 1);
	CHECK(ft_jsonl_lineno(r) == 4 && ft_jsonl_offset(r) == 25);
	CHECK(ft_jsonl_text(r, o, "text", &s, &n) == 0);
	CHECK(n == 9 && memcmp(s, "b\xc3\xa9\xf0\x9f\x98\x80\0z", 9) == 0);
	raw = ft_jsonl_raw(r, &n);
	CHECK(raw[n - 1] == '\r'); /* CRLF: the raw line keeps its \r */

	CHECK(ft_jsonl_next(r, &o) == 1);
	CHECK(ft_jsonl_lineno(r) == 5);
	CHECK(ft_jsonl_text(r, o, "text", &s, &n) == 0 && n == 1 && *s == 'c');
	CHECK(ft_jsonl_next(r, &o) == 0);
	CHECK(ft_jsonl_next(r, &o) == 0);
	ft_jsonl_close(r);
	fclose(fp);
}

static int
first_error(const char *in)
{
	FILE *fp;
	ft_jsonl *r = mem(in, &fp);
	cJSON *o;
	int rc;
	const char *s;
	size_t n;

	while ((rc = ft_jsonl_next(r, &o)) == 1)
		if (ft_jsonl_text(r, o, "text", &s, &n) != 0) {
			rc = -2;
			break;
		}
	ft_jsonl_close(r);
	fclose(fp);
	return rc;
}

static void
test_errors(void)
{
	fprintf(stderr, "(the following error messages are expected)\n");
	CHECK(first_error("{\"text\":\"a\"}\n{\"text\":") == -1);
	CHECK(first_error("{\"text\":\"a\"} x\n") == -1);
	CHECK(first_error("[1,2]\n") == -1);
	CHECK(first_error("\"text\"\n") == -1);
	CHECK(first_error("{\"text\":\"\xff\"}\n") == -1);
	CHECK(first_error("{\"text\":\"\xc0\xaf\"}\n") == -1);     /* overlong */
	CHECK(first_error("{\"text\":\"\xed\xa0\x80\"}\n") == -1); /* surrogate */
	CHECK(first_error("{\"text\":\"\xe2\x82\"}\n") == -1);     /* truncated */
	CHECK(first_error("{\"text\":\"\\ud800\"}\n") == -1); /* lone surrogate */
	CHECK(first_error("{\"id\":1}\n") == -2);
	CHECK(first_error("{\"text\":null}\n") == -2);
	CHECK(first_error("{\"text\":[\"a\"]}\n") == -2);
	CHECK(first_error("{\"Text\":\"a\"}\n") == -2); /* case-sensitive */
	CHECK(first_error("{\"text\":\"ok\"}\n\n{\"text\":\"\\u00e9\"}\n") == 0);
	CHECK(ft_jsonl_open("/nonexistent/x.jsonl") == NULL);
}

/* Duplicate keys: the last wins, in the tree (at every depth) and in the
 * decoded text, as json.loads does. */
static void
test_duplicates(void)
{
	FILE *fp;
	ft_jsonl *r = mem("{\"text\":\"a\",\"o\":{\"k\":1,\"k\":2},"
	    "\"text\":\"b\",\"n\":1,\"text\":\"c\"}\n", &fp);
	cJSON *o;
	const char *s;
	size_t n;

	CHECK(ft_jsonl_next(r, &o) == 1);
	CHECK(ft_jsonl_text(r, o, "text", &s, &n) == 0 && n == 1 && *s == 'c');
	CHECK(cJSON_GetArraySize(o) == 3);
	CHECK(strcmp(cJSON_GetObjectItem(o, "text")->valuestring, "c") == 0);
	CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "o"), "k")->valueint
	    == 2);
	ft_jsonl_close(r);
	fclose(fp);
}

static void
test_utf8(void)
{
	CHECK(ft_utf8_check("abc", 3) == 3);
	CHECK(ft_utf8_check("a\xc3\xa9", 3) == 3);
	CHECK(ft_utf8_check("a\xc3", 2) == 1);
	CHECK(ft_utf8_check("\xf4\x8f\xbf\xbf", 4) == 4);  /* U+10FFFF */
	CHECK(ft_utf8_check("\xf4\x90\x80\x80", 4) == 0);  /* > U+10FFFF */
	CHECK(ft_utf8_check("\xe0\x80\x80", 3) == 0);      /* overlong */
	CHECK(ft_utf8_check("\xef\xbf\xbf", 3) == 3);      /* U+FFFF */
	CHECK(ft_utf8_check("ab\x80", 3) == 2);
	CHECK(ft_utf8_check("\xf5\x80\x80\x80", 4) == 0);
}

static void
test_raw_helpers(void)
{
	const char *l = "{ \"a\" : [1,{\"text\":2},\"}\"], \"te\\u0078t\" :"
	    " \"v\\\"w\" , \"text\":3}";
	size_t vs, ve, n;
	char buf[64];
	const char *esc_in = "q\"b\\\n\r\t\b\f\x01\x1f\x7f\xc3\xa9";

	/* the last of duplicate keys, as Python's json takes */
	CHECK(ft_json_field_span(l, strlen(l), "text", &vs, &ve) == 1);
	CHECK(ve - vs == 1 && l[vs] == '3');
	CHECK(ft_json_field_span(l, strlen(l), "zz", &vs, &ve) == 0);
	CHECK(ft_json_field_span("[1]", 3, "zz", &vs, &ve) == -1);
	CHECK(ft_json_field_span("{}", 2, "zz", &vs, &ve) == 0);
	CHECK(ft_json_field_span("\xef\xbb\xbf{\"zz\":1}", 11, "zz", &vs, &ve) == 1);
	CHECK(vs == 9 && ve == 10);
	n = ft_json_escape(buf, esc_in, strlen(esc_in));
	buf[n] = '\0';
	CHECK(strcmp(buf, "\"q\\\"b\\\\\\n\\r\\t\\b\\f\\u0001\\u001f\x7f"
	    "\xc3\xa9\"") == 0);
	{
		char back[64];
		size_t m = ft_json_unescape(buf, n, back);
		CHECK(m == strlen(esc_in) && memcmp(back, esc_in, m) == 0);
	}
}

static void
test_write(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", 3);
	cJSON_AddStringToObject(o, "text", "h\xc3\xa9\n");
	CHECK(ft_jsonl_write(fp, o, "mem") == 0);
	fclose(fp);
	CHECK(strcmp(buf, "{\"id\":3,\"text\":\"h\xc3\xa9\\n\"}\n") == 0);
	cJSON_Delete(o);
	free(buf);
}

/* A 50 MB line through a real file. */
static void
test_long_line(void)
{
	char path[] = "/tmp/ft-test-jsonl.XXXXXX";
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");
	size_t big = 50u << 20;
	char *chunk = ft_malloc(1 << 20);
	ft_jsonl *r;
	cJSON *o;
	const char *s;
	size_t n;

	memset(chunk, 'x', 1 << 20);
	fputs("{\"id\":0,\"text\":\"", fp);
	for (size_t i = 0; i < big >> 20; i++)
		fwrite(chunk, 1, 1 << 20, fp);
	fputs("\"}\n{\"text\":\"tail\"}\n", fp);
	fclose(fp);
	free(chunk);
	r = ft_jsonl_open(path);
	CHECK(r != NULL);
	CHECK(ft_jsonl_next(r, &o) == 1);
	CHECK(ft_jsonl_text(r, o, "text", &s, &n) == 0 && n == big);
	CHECK(s[0] == 'x' && s[big - 1] == 'x');
	CHECK(ft_jsonl_next(r, &o) == 1);
	CHECK(ft_jsonl_offset(r) == (long long)big + 19);
	CHECK(ft_jsonl_text(r, o, "text", &s, &n) == 0 && n == 4);
	CHECK(ft_jsonl_next(r, &o) == 0);
	ft_jsonl_close(r);
	unlink(path);
}

int
main(void)
{
	ft_setprog("test_jsonl");
	test_read();
	test_errors();
	test_duplicates();
	test_utf8();
	test_raw_helpers();
	test_write();
	test_long_line();
	return check_done();
}
