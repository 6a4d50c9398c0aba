/* Unit tests for lib/records: the text field of each format (what the
 * tools read), line numbers, raw lines.  The records themselves are
 * checked against tests/ref/records_ref.py by tests/cli/split.sh. */
#include "check.h"
#include "err.h"
#include "io.h"
#include "records.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/ft-test-records.XXXXXX";

static char *
file(const char *name, const char *body, size_t n)
{
	char *p = ft_path_join(dir, name);
	FILE *fp = fopen(p, "wb");

	if (fp == NULL || fwrite(body, 1, n, fp) != n || fclose(fp) != 0)
		ft_die("writing %s:", p);
	return p;
}

static void
test_csv(void)
{
	static const char in[] = "id,body\r\n7,\"a \"\"b\"\"\nc\"\r\n\r\n8,\"x\0y\"\n";
	char *p = file("a.csv", in, sizeof in - 1);
	ft_records *r = ft_records_open(p, FT_REC_CSV);
	cJSON *o;
	const char *s, *raw;
	size_t n;

	CHECK(r != NULL);
	CHECK(!ft_records_verbatim(r));
	CHECK(ft_records_next(r, &o) == 1);
	CHECK_EQ_INT(ft_records_lineno(r), 2);
	CHECK(ft_records_text(r, o, "body", &s, &n) == 0 && n == 7 &&
	    memcmp(s, "a \"b\"\nc", 7) == 0 && s[n] == '\0');
	CHECK(ft_records_text(r, o, "id", &s, &n) == 0 && strcmp(s, "7") == 0);
	CHECK(ft_records_text(r, o, "text", &s, &n) == -1);
	raw = ft_records_raw(r, &n);
	CHECK(n == strlen(raw) && strcmp(raw,
	    "{\"id\":\"7\",\"body\":\"a \\\"b\\\"\\nc\"}") == 0);
	CHECK_EQ_INT(ft_records_offset(r), -1);
	CHECK(ft_records_next(r, &o) == 1);
	CHECK_EQ_INT(ft_records_lineno(r), 5);
	/* a NUL byte survives (as \u0000 in the JSON) */
	CHECK(ft_records_text(r, o, "body", &s, &n) == 0 && n == 3 &&
	    memcmp(s, "x\0y", 3) == 0);
	CHECK(ft_records_next(r, &o) == 0);
	ft_records_close(r);
	free(p);
}

static void
test_text(void)
{
	static const char in[] = "one\r\n\r\ntwo\nthree\n\n\nfour";
	char *p = file("a.txt", in, sizeof in - 1);
	ft_records *r = ft_records_open(p, FT_REC_PARAGRAPHS);
	cJSON *o;
	const char *s;
	size_t n;

	CHECK(r != NULL);
	CHECK(ft_records_next(r, &o) == 1 && ft_records_lineno(r) == 1);
	CHECK(ft_records_text(r, o, "text", &s, &n) == 0 && strcmp(s, "one") == 0);
	CHECK(ft_records_next(r, &o) == 1 && ft_records_lineno(r) == 3);
	CHECK(ft_records_text(r, o, "text", &s, &n) == 0 &&
	    strcmp(s, "two\nthree") == 0);
	CHECK(ft_records_next(r, &o) == 1 && ft_records_lineno(r) == 6);
	CHECK(ft_records_text(r, o, "text", &s, &n) == 0 &&
	    strcmp(s, "\nfour") == 0);
	CHECK(ft_records_next(r, &o) == 0);
	ft_records_close(r);

	r = ft_records_open(p, FT_REC_LINES);
	for (int i = 0; i < 7; i++)
		CHECK(ft_records_next(r, &o) == 1 && ft_records_lineno(r) == i + 1);
	CHECK(ft_records_text(r, o, "text", &s, &n) == 0 && strcmp(s, "four") == 0);
	CHECK(ft_records_next(r, &o) == 0);
	ft_records_close(r);
	free(p);
}

static void
test_json(void)
{
	static const char lines[] = "\n{\"text\":\"a\\u0000b\"}\n";
	static const char arr[] = "\n [{\"text\" : \"c\\u00e9\"},\n{\"t\": 1}]";
	char *p = file("a.jsonl", lines, sizeof lines - 1);
	char *q = file("a.json", arr, sizeof arr - 1);
	ft_records *r = ft_records_open(p, FT_REC_JSON);
	cJSON *o;
	const char *s;
	size_t n;

	CHECK(r != NULL && ft_records_verbatim(r));
	CHECK(ft_records_next(r, &o) == 1 && ft_records_lineno(r) == 2);
	CHECK_EQ_INT(ft_records_offset(r), 1);
	CHECK(ft_records_text(r, o, "text", &s, &n) == 0 && n == 3);
	ft_records_close(r);

	r = ft_records_open(q, FT_REC_JSON);
	CHECK(r != NULL && !ft_records_verbatim(r));
	CHECK(ft_records_next(r, &o) == 1 && ft_records_lineno(r) == 2);
	CHECK(ft_records_text(r, o, "text", &s, &n) == 0 &&
	    strcmp(s, "c\xc3\xa9") == 0);
	CHECK(ft_records_next(r, &o) == 1 && ft_records_lineno(r) == 3);
	CHECK(ft_records_text(r, o, "t", &s, &n) == -1); /* not a string */
	CHECK(ft_records_next(r, &o) == 0);
	ft_records_close(r);
	free(p);
	free(q);
}

int
main(void)
{
	ft_setprog("test_records");
	if (mkdtemp(dir) == NULL)
		ft_die("mkdtemp:");
	CHECK(ft_rec_format_parse("csv") == FT_REC_CSV);
	CHECK(ft_rec_format_parse("xml") == -1);
	CHECK(strcmp(ft_rec_format_name(FT_REC_PARAGRAPHS), "paragraphs") == 0);
	test_csv();
	test_text();
	test_json();
	ft_remove_tree(dir);
	return check_done();
}
