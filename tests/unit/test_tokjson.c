/* Unit tests for lib/tokjson: each normalizer, pre-tokenizer, split
 * behaviour and decoder step on hand-worked cases (following tokenizers'
 * NormalizedString::split; the pre-tokenizer cases give what the Node
 * binding's preTokenizeString gives, checked by hand); the
 * comparison with the tokenizers library itself is tests/cli/tokjson.sh. */
#include "check.h"
#include "err.h"
#include "tokjson.h"

#include <stdlib.h>
#include <string.h>

static char got[4096];

/* Run the pipeline of JSON js on s; the pieces joined with '|' into got.
 * NULL js parts are "null". */
static const char *
pieces(const char *norm, const char *pre, const char *s, unsigned flags)
{
	char js[2048];
	cJSON *j;
	struct ft_tj *t;
	struct ft_tj_work *w;
	const char *buf;
	const struct ft_tj_piece *pc;
	size_t k, i, o = 0;

	snprintf(js, sizeof js, "{\"normalizer\": %s, \"pre_tokenizer\": %s}",
	    norm ? norm : "null", pre ? pre : "null");
	j = cJSON_Parse(js);
	if (j == NULL)
		return "(bad json)";
	t = ft_tj_load(j, "t.json");
	cJSON_Delete(j);
	if (t == NULL)
		return "(load failed)";
	w = ft_tj_work_new();
	k = ft_tj_pieces(t, w, s, strlen(s), flags, &buf, &pc);
	for (i = 0; i < k; i++) {
		if (i > 0)
			got[o++] = '|';
		memcpy(got + o, buf + pc[i].off, pc[i].len);
		o += pc[i].len;
	}
	got[o] = '\0';
	ft_tj_work_free(w);
	ft_tj_free(t);
	return got;
}

static int
is(const char *a, const char *want)
{
	if (strcmp(a, want) == 0)
		return 1;
	fprintf(stderr, "got '%s' want '%s'\n", a, want);
	return 0;
}

#define SPLIT(beh, inv) "{\"type\":\"Split\",\"pattern\":{\"String\":\"-\"}," \
	"\"behavior\":\"" beh "\",\"invert\":" inv "}"

static void
test_split(void)
{
	CHECK(is(pieces(NULL, SPLIT("Isolated", "false"), "a-b--c", 0),
	    "a|-|b|-|-|c"));
	CHECK(is(pieces(NULL, SPLIT("Removed", "false"), "a-b--c", 0),
	    "a|b|c"));
	CHECK(is(pieces(NULL, SPLIT("MergedWithPrevious", "false"), "a-b--c",
	    0), "a-|b-|-|c"));
	CHECK(is(pieces(NULL, SPLIT("MergedWithNext", "false"), "a-b--c", 0),
	    "a|-b|-|-c"));
	CHECK(is(pieces(NULL, SPLIT("Contiguous", "false"), "a-b--c", 0),
	    "a|-|b|--|c"));
	CHECK(is(pieces(NULL, SPLIT("Removed", "true"), "a-b--c", 0),
	    "-|-|-"));
	/* a regex, and an empty match right after a match is skipped */
	CHECK(is(pieces(NULL, "{\"type\":\"Split\",\"pattern\":{\"Regex\":"
	    "\"\\\\d*\"},\"behavior\":\"Isolated\",\"invert\":false}", "ab12c",
	    0), "a|b|12|c"));
	CHECK(is(pieces(NULL, "{\"type\":\"Digits\",\"individual_digits\":"
	    "true}", "a123b", 0), "a|1|2|3|b"));
	CHECK(is(pieces(NULL, "{\"type\":\"Digits\",\"individual_digits\":"
	    "false}", "a123b\xd9\xa1\xd9\xa2", 0), "a|123|b|\xd9\xa1\xd9\xa2"));
	CHECK(is(pieces(NULL, "{\"type\":\"Whitespace\"}",
	    "Hello, how are  you?", 0), "Hello|,|how|are|you|?"));
	CHECK(is(pieces(NULL, "{\"type\":\"WhitespaceSplit\"}",
	    "Hello, how\xc2\xa0" "are  you?", 0), "Hello,|how|are|you?"));
	CHECK(is(pieces(NULL, "{\"type\":\"Punctuation\"}", "Hey! a$b...",
	    0), "Hey|!| a|$|b|.|.|."));
}

static void
test_prefix_and_meta(void)
{
	const char *bl = "{\"type\":\"ByteLevel\",\"add_prefix_space\":true,"
	    "\"use_regex\":true}";
	const char *ms = "{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81"
	    "\",\"prepend_scheme\":\"%s\",\"split\":true}";
	char m[256];

	CHECK(is(pieces(NULL, bl, "hello world's", 0),
	    " hello| world|'s"));
	CHECK(is(pieces(NULL, bl, " hi", 0), " hi"));
	CHECK(is(pieces(NULL, bl, "hi", FT_TJ_CONT), "hi"));
	snprintf(m, sizeof m, ms, "always");
	CHECK(is(pieces(NULL, m, "Hey friend", 0),
	    "\xe2\x96\x81Hey|\xe2\x96\x81" "friend"));
	snprintf(m, sizeof m, ms, "first");
	CHECK(is(pieces(NULL, m, "Hey  friend", FT_TJ_ORIG0), "\xe2\x96\x81Hey|\xe2\x96\x81|"
	    "\xe2\x96\x81" "friend"));
	CHECK(is(pieces(NULL, m, "Hey", FT_TJ_ORIG0), "\xe2\x96\x81Hey"));
	snprintf(m, sizeof m, ms, "never");
	CHECK(is(pieces(NULL, m, "Hey", FT_TJ_ORIG0), "Hey"));
}

static void
test_normalizers(void)
{
	CHECK(is(pieces("{\"type\":\"Lowercase\"}", NULL,
	    "HELLO \xce\x9f\xce\x94\xce\x9f\xce\xa3", 0),
	    "hello \xce\xbf\xce\xb4\xce\xbf\xcf\x83"));  /* no final sigma */
	/* the other forms (lib/normalize; exhaustive: test_normalize) */
	CHECK(is(pieces("{\"type\":\"NFD\"}", NULL, "caf\xc3\xa9", 0),
	    "cafe\xcc\x81"));
	CHECK(is(pieces("{\"type\":\"NFKC\"}", NULL,
	    "\xef\xac\x81 \xe2\x91\xa0 \xef\xbc\xa1" "e\xcc\x81", 0),
	    "fi 1 A\xc3\xa9"));
	CHECK(is(pieces("{\"type\":\"NFKD\"}", NULL, "\xef\xac\x81" "\xc3\xa9", 0),
	    "fie\xcc\x81"));
	CHECK(is(pieces("{\"type\":\"NFKC\"}", NULL, "plain", 0), "plain"));
	CHECK(is(pieces("{\"type\":\"NFC\"}", NULL, "cafe\xcc\x81", 0),
	    "caf\xc3\xa9"));
	CHECK(is(pieces("{\"type\":\"Strip\",\"strip_left\":true,"
	    "\"strip_right\":false}", NULL, " \xe3\x80\x80x ", 0), "x "));
	CHECK(is(pieces("{\"type\":\"Sequence\",\"normalizers\":[{\"type\":"
	    "\"Prepend\",\"prepend\":\"_\"},{\"type\":\"Replace\",\"pattern\":"
	    "{\"String\":\" \"},\"content\":\"_\"}]}", NULL, "a b", 0),
	    "_a_b"));
	CHECK(is(pieces("{\"type\":\"Prepend\",\"prepend\":\"_\"}", NULL,
	    "a", FT_TJ_CONT), "a"));
	CHECK(is(pieces("{\"type\":\"Replace\",\"pattern\":{\"Regex\":"
	    "\" {2,}\"},\"content\":\" \"}", NULL, "a   b  c d", 0),
	    "a b c d"));
}

static const char *
dec(const char *d, const char *tok)
{
	char js[1024];
	cJSON *j;
	struct ft_tj *t;
	char *b = NULL;
	size_t n = 0, cap = 0, st;

	snprintf(js, sizeof js, "{\"decoder\": %s}", d);
	j = cJSON_Parse(js);
	t = j ? ft_tj_load(j, "t.json") : NULL;
	cJSON_Delete(j);
	if (t == NULL)
		return "(load failed)";
	ft_tj_decode_token(t, tok, strlen(tok), &b, &n, &cap);
	st = ft_tj_doc_strip(t, b, n);
	snprintf(got, sizeof got, "%.*s|%zu", (int)n, b, st);
	free(b);
	ft_tj_free(t);
	return got;
}

static void
test_decoders(void)
{
	const char *l2 = "{\"type\":\"Sequence\",\"decoders\":[{\"type\":"
	    "\"Replace\",\"pattern\":{\"String\":\"\xe2\x96\x81\"},\"content\":"
	    "\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":"
	    "\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}";

	CHECK(is(dec(l2, "\xe2\x96\x81Hello"), " Hello|1"));
	CHECK(is(dec(l2, "<0x41>"), "A|0"));
	CHECK(is(dec(l2, "<0x4G>"), "<0x4G>|0"));
	CHECK(is(dec("{\"type\":\"ByteLevel\"}", "\xc4\xa0hi"), " hi|0"));
	/* a character outside the byte alphabet: the token stays as is */
	CHECK(is(dec("{\"type\":\"ByteLevel\"}", "\xc4\xa0\xe4\xb8\xad"),
	    "\xc4\xa0\xe4\xb8\xad|0"));
	CHECK(is(dec("{\"type\":\"Metaspace\",\"replacement\":\"\xe2\x96\x81\","
	    "\"prepend_scheme\":\"always\"}", "\xe2\x96\x81" "a\xe2\x96\x81" "b"),
	    " a b|1"));
	CHECK(is(dec("{\"type\":\"Strip\",\"content\":\"x\",\"start\":2,"
	    "\"stop\":1}", "xxxaxx"), "xax|0"));
}

static void
test_errors(void)
{
	CHECK(is(pieces(NULL, "{\"type\":\"UnicodeScripts\"}", "a", 0),
	    "(load failed)"));
	CHECK(is(pieces("{\"type\":\"BertNormalizer\"}", NULL, "a", 0),
	    "(load failed)"));
	CHECK(is(pieces(NULL, "{\"type\":\"Split\",\"pattern\":{\"Regex\":"
	    "\"(\"},\"behavior\":\"Isolated\"}", "a", 0), "(load failed)"));
	CHECK(is(pieces(NULL, "{\"type\":\"Sequence\",\"pretokenizers\":[{"
	    "\"type\":\"ByteLevel\"},{\"type\":\"Digits\"}]}", "a", 0),
	    "(load failed)"));
}

int
main(void)
{
	ft_setprog("test_tokjson");
	test_split();
	test_prefix_and_meta();
	test_normalizers();
	test_decoders();
	test_errors();
	return check_done();
}
