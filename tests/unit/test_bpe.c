/* Unit tests for lib/bpe: a hand-made vocabulary (merge order, ties,
 * duplicates, errors, tokenizer.json forms and hash), UTF-8 repair,
 * and, when the GPT-2 files are available, known ids, ft_bpe_cut and the
 * cache against a fresh encoder.  Exactness on large corpora is tested
 * by tests/cli/tokenize.sh against reference ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "check.h"
#include "err.h"
#include "io.h"

static char dir[] = "/tmp/ft-test-bpe.XXXXXX";

static char *
path(const char *name)
{
	return ft_path_join(dir, name);
}

static void
put(const char *name, const char *text)
{
	char *p = path(name);
	FILE *fp = fopen(p, "wb");

	if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0)
		ft_die("cannot write '%s':", p);
	free(p);
}

/* GPT-2's byte -> character map, as UTF-8 in JSON. */
static void
byte_char(int b, char *out)
{
	int n = 0, k, cp;

	for (k = 0; k < b; k++)
		if (!((k >= 33 && k <= 126) || (k >= 161 && k <= 172) ||
		    (k >= 174 && k <= 255)))
			n++;
	if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
	    (b >= 174 && b <= 255))
		cp = b;
	else
		cp = 256 + n;
	if (cp == '"' || cp == '\\')
		snprintf(out, 8, "\\%c", cp);
	else if (cp < 0x80)
		snprintf(out, 8, "%c", cp);
	else
		snprintf(out, 8, "%c%c", 0xC0 | (cp >> 6), 0x80 | (cp & 0x3F));
}

/* A vocabulary: the 256 bytes (ids 0..255), then `extra` tokens. */
static char *
vocab_json(const char *const *extra, int n_extra)
{
	char *s = ft_strdup("{"), c[8];
	int b;

	for (b = 0; b < 256; b++) {
		char *t;
		byte_char(b, c);
		t = ft_asprintf("%s\"%s\":%d,", s, c, b);
		free(s);
		s = t;
	}
	for (b = 0; b < n_extra; b++) {
		char *t = ft_asprintf("%s\"%s\":%d,", s, extra[b], 256 + b);
		free(s);
		s = t;
	}
	s[strlen(s) - 1] = '}';
	return s;
}

static size_t
enc(struct ft_bpe_enc *e, const char *s, int flags, uint32_t *out)
{
	uint32_t *ids = NULL;
	size_t n = 0, cap = 0, i;

	ft_bpe_encode(e, s, strlen(s), flags, &ids, &n, &cap);
	for (i = 0; i < n && i < 64; i++)
		out[i] = ids[i];
	free(ids);
	return n;
}

static void
test_small(void)
{
	/* ids: 256 ab, 257 bc, 258 abc, 259 aa, 260 <|endoftext|>,
	 * 261 Ġa */
	const char *extra[] = { "ab", "bc", "abc", "aa", "<|endoftext|>",
		"\xc4\xa0" "a" };
	char *v = vocab_json(extra, 6), *vp, *mp, *tp;
	struct ft_bpe *b, *b2;
	struct ft_bpe_enc *e;
	uint32_t ids[64];
	uint8_t h1[32], h2[32];
	size_t n;
	char *buf = NULL;
	size_t len = 0, cap = 0;

	put("v.json", v);
	/* bc before ab: "abc" -> a bc (no merge a+bc) */
	put("m.txt", "#version: 0.2\nb c\na b\nab c\na a\n\xc4\xa0 a\n");
	vp = path("v.json");
	mp = path("m.txt");
	b = ft_bpe_load_files(vp, mp);
	CHECK(b != NULL);
	if (b == NULL)
		return;
	CHECK_EQ_INT(ft_bpe_vocab_size(b), 262);
	CHECK_EQ_INT(ft_bpe_eos_id(b), 260);
	CHECK(ft_bpe_is_special(b, 260));
	CHECK(!ft_bpe_is_special(b, 256));
	e = ft_bpe_enc_new(b);
	n = enc(e, "abc", 0, ids);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(ids[0], 'a');
	CHECK_EQ_INT(ids[1], 257);
	/* ties go left: "aaa" -> aa a */
	n = enc(e, "aaa", 0, ids);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(ids[0], 259);
	CHECK_EQ_INT(ids[1], 'a');
	/* a leading space joins the word: " a" -> Ġa; "x a" -> x Ġa */
	n = enc(e, "x a", 0, ids);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(ids[1], 261);
	/* two spaces before a word: first is alone */
	n = enc(e, "  a", 0, ids);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(ids[0], ' ');
	CHECK_EQ_INT(ids[1], 261);
	/* "\n a": the newline is alone, the space joins */
	n = enc(e, "\n a", 0, ids);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(ids[0], '\n');
	CHECK_EQ_INT(ids[1], 261);
	/* added tokens */
	n = enc(e, "a<|endoftext|>a", 0, ids);
	CHECK_EQ_INT(n, 3);
	CHECK_EQ_INT(ids[1], 260);
	n = enc(e, "<|endoftext|>", FT_BPE_NO_SPECIAL, ids);
	CHECK_EQ_INT(n, 13);
	/* decode */
	ids[0] = 258;
	ids[1] = 260;
	ids[2] = 261;
	CHECK(ft_bpe_decode(b, ids, 3, 0, &buf, &len, &cap) == 0);
	CHECK(len == 18 && memcmp(buf, "abc<|endoftext|> a", 18) == 0);
	len = 0;
	CHECK(ft_bpe_decode(b, ids, 3, 1, &buf, &len, &cap) == 0);
	CHECK(len == 5 && memcmp(buf, "abc a", 5) == 0);
	ids[0] = 262;
	CHECK(ft_bpe_decode(b, ids, 1, 0, &buf, &len, &cap) == -1);
	free(buf);
	ft_bpe_enc_free(e);

	/* tokenizer.json, both merges forms, hashes like the files */
	tp = ft_asprintf("{\"added_tokens\":[{\"id\":260,\"content\":"
	    "\"<|endoftext|>\",\"special\":true}],\"normalizer\":null,"
	    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":"
	    "false},\"model\":{\"type\":\"BPE\",\"dropout\":null,\"vocab\":%s,"
	    "\"merges\":[\"b c\",[\"a\",\"b\"],\"ab c\",[\"a\",\"a\"],"
	    "\"\xc4\xa0 a\"]}}", v);
	put("t.json", tp);
	free(tp);
	tp = path("t.json");
	b2 = ft_bpe_load_json(tp);
	CHECK(b2 != NULL);
	if (b2 != NULL) {
		ft_bpe_hash(b, h1);
		ft_bpe_hash(b2, h2);
		CHECK(memcmp(h1, h2, 32) == 0);
		e = ft_bpe_enc_new(b2);
		n = enc(e, "abc aaa", 0, ids);
		CHECK_EQ_INT(n, 5);
		CHECK_EQ_INT(ids[1], 257);
		CHECK_EQ_INT(ids[2], ' ');
		CHECK_EQ_INT(ids[3], 259);
		ft_bpe_enc_free(e);
		ft_bpe_free(b2);
	}
	free(tp);
	/* a different merge order hashes differently; a duplicate merge
	 * takes the later rank */
	put("m2.txt", "#version: 0.2\na b\nb c\nab c\na a\n\xc4\xa0 a\nb c\n");
	free(mp);
	mp = path("m2.txt");
	b2 = ft_bpe_load_files(vp, mp);
	CHECK(b2 != NULL);
	if (b2 != NULL) {
		ft_bpe_hash(b2, h2);
		CHECK(memcmp(h1, h2, 32) != 0);
		e = ft_bpe_enc_new(b2);
		n = enc(e, "abc", 0, ids);
		CHECK_EQ_INT(n, 1);
		CHECK_EQ_INT(ids[0], 258);
		ft_bpe_enc_free(e);
		ft_bpe_free(b2);
	}
	ft_bpe_free(b);

	/* errors (each prints one message) */
	fprintf(stderr, "expected errors follow:\n");
	put("bad1.txt", "#version: 0.2\na q9\n");
	put("bad2.txt", "a b c\n");
	put("bad3.txt", "b a\n");          /* "ba" is not a token */
	put("bad.json", "{\"a\": 1");
	put("bad2.json", "{\"a\": -1}");
	free(mp);
	mp = path("bad1.txt");
	CHECK(ft_bpe_load_files(vp, mp) == NULL);
	free(mp);
	mp = path("bad2.txt");
	CHECK(ft_bpe_load_files(vp, mp) == NULL);
	free(mp);
	mp = path("bad3.txt");
	CHECK(ft_bpe_load_files(vp, mp) == NULL);
	free(vp);
	vp = path("bad.json");
	CHECK(ft_bpe_load_files(vp, mp) == NULL);
	free(vp);
	vp = path("bad2.json");
	CHECK(ft_bpe_load_files(vp, mp) == NULL);
	free(vp);
	vp = path("missing.json");
	CHECK(ft_bpe_load_files(vp, mp) == NULL);
	free(vp);
	free(mp);
	free(v);
}

static void
repair(const char *in, size_t n, const char *want)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	ft_utf8_repair(in, n, 0, &buf, &len, &cap);
	CHECK(len == strlen(want) && memcmp(buf, want, len) == 0);
	free(buf);
}

static void
test_utf8(void)
{
	const char *R = "\xEF\xBF\xBD";
	char want[64];
	char *buf = NULL;
	size_t len = 0, cap = 0;

	repair("\xe2\x82", 2, R);
	snprintf(want, sizeof want, "%s%s", R, R);
	repair("\xe0\x80", 2, want);
	repair("\xc0\xaf", 2, want);
	repair("\xff\xfe", 2, want);
	repair("\xf0\x9f\x98", 3, R);
	snprintf(want, sizeof want, "%s%s%s", R, R, R);
	repair("\xed\xa0\x80", 3, want);
	snprintf(want, sizeof want, "%s%s%s%s", R, R, R, R);
	repair("\xf4\x90\x80\x80", 4, want);
	snprintf(want, sizeof want, "a%sb", R);
	repair("a\x80" "b", 3, want);
	snprintf(want, sizeof want, "%sa", R);
	repair("\xe2\x82" "a", 3, want);
	repair("\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80");
	/* partial: an incomplete tail is kept back */
	CHECK_EQ_INT(ft_utf8_repair("ab\xf0\x9f", 4, 1, &buf, &len, &cap), 2);
	CHECK(len == 2);
	free(buf);
	CHECK_EQ_INT(ft_utf8_valid_prefix("abc\xe2\x82", 5), 3);
	CHECK_EQ_INT(ft_utf8_valid_prefix("abcdefghij\xc3\xa9", 12), 12);
	CHECK_EQ_INT(ft_utf8_valid_prefix("abcdefghij\xed\xa0\x80", 13), 10);
}

struct sink {
	uint32_t *ids;
	size_t n, cap, ends;
};

static int
sink_emit(void *arg, const uint32_t *ids, size_t n, int end)
{
	struct sink *k = arg;

	ft_grow((void **)&k->ids, &k->cap, k->n + n + 1, sizeof *k->ids);
	if (n > 0)
		memcpy(k->ids + k->n, ids, n * sizeof *ids);
	k->n += n;
	if (end) {
		k->ids[k->n++] = UINT32_MAX;
		k->ends++;
	}
	return 0;
}

/* ft_bpe_par gives the same stream for 1 and 3 threads, in order. */
static void
test_par(const struct ft_bpe *b, const char *text, size_t n)
{
	struct sink k[2];
	int t;

	memset(k, 0, sizeof k);
	for (t = 0; t < 2; t++) {
		struct ft_bpe_par *p = ft_bpe_par_new(b, t == 0 ? 1 : 3, 0,
		    sink_emit, &k[t]);
		size_t off = 0, i = 0;
		while (off < n) {
			size_t len = 1 + (i * 7919) % 5000;
			if (len > n - off)
				len = n - off;
			CHECK(ft_bpe_par_add(p, text + off, len, i % 3 == 0) == 0);
			off += len;
			i++;
		}
		CHECK(ft_bpe_par_finish(p) == 0);
		ft_bpe_par_free(p);
	}
	CHECK(k[0].n == k[1].n && k[0].ends == k[1].ends && k[0].ends > 0);
	CHECK(k[0].n > 0 && memcmp(k[0].ids, k[1].ids,
	    k[0].n * sizeof *k[0].ids) == 0);
	free(k[0].ids);
	free(k[1].ids);
}

/* With the real GPT-2 files: known ids, cut points, cache. */
static void
test_gpt2(const char *gdir)
{
	struct ft_bpe *b = ft_bpe_load_dir(gdir);
	struct ft_bpe_enc *e, *e2;
	uint32_t ids[64], *all = NULL, *part = NULL;
	size_t n, na = 0, ca = 0, np = 0, cp = 0, i, p, lim;
	char *text;
	unsigned seed = 1;
	static const char *alpha[] = { "a", "Z", "1", " ", "  ", "\n", "'",
		"'s", "!", "\xc3\xa9", "\xe4\xb8\x80", "\xcc\x81", "\xc2\xa0",
		"<|endoftext|>", "<|", "\r\n", "\xf0\x9f\x98\x80", "7" };

	CHECK(b != NULL);
	if (b == NULL)
		return;
	e = ft_bpe_enc_new(b);
	n = enc(e, "Hello world", 0, ids);
	CHECK(n == 2 && ids[0] == 15496 && ids[1] == 995);
	n = enc(e, " Hello", 0, ids);
	CHECK(n == 1 && ids[0] == 18435);
	CHECK_EQ_INT(ft_bpe_eos_id(b), 50256);
	CHECK_EQ_INT(ft_bpe_vocab_size(b), 50257);

	/* ft_bpe_cut on random mixed text: cutting never changes ids */
	text = ft_malloc(1 << 20);
	for (i = 0, n = 0; n < 150000; i++) {
		const char *t;
		seed = seed * 1103515245 + 12345;
		t = alpha[(seed >> 16) % (sizeof alpha / sizeof *alpha)];
		memcpy(text + n, t, strlen(t));
		n += strlen(t);
	}
	ft_bpe_encode(e, text, n, 0, &all, &na, &ca);
	p = 0;
	lim = 0;
	e2 = ft_bpe_enc_new(b);
	while (p < n) {
		size_t c = 0, step, tries;
		for (tries = 0; c == 0 && tries < 50; tries++) {
			seed = seed * 1103515245 + 12345;
			step = 1 + (seed >> 16) % 300;
			if (n - p <= step + FT_BPE_CUT_MARGIN)
				break;
			c = ft_bpe_cut(b, text + p, n - p, step, step);
		}
		if (c == 0)
			c = n - p;
		else
			lim++;
		ft_bpe_encode(e2, text + p, c, 0, &part, &np, &cp);
		p += c;
	}
	CHECK(lim > 100);
	CHECK(na == np && memcmp(all, part, na * sizeof *all) == 0);
	test_par(b, text, n);
	/* the cache: many distinct pieces, then the same again */
	np = 0;
	for (i = 0, n = 0; i < 60000; i++)
		n += (size_t)snprintf(text + n, (1 << 20) - n, " w%zux", i * 7919);
	ft_bpe_encode(e2, text, n, 0, &part, &np, &cp);
	na = 0;
	ft_bpe_encode(e2, text, n, 0, &all, &na, &ca);
	CHECK(na == np && memcmp(all, part, na * sizeof *all) == 0);
	ft_bpe_enc_free(e2);
	e2 = ft_bpe_enc_new(b);
	na = 0;
	ft_bpe_encode(e2, text, n, 0, &all, &na, &ca);
	CHECK(na == np && memcmp(all, part, na * sizeof *all) == 0);
	ft_bpe_enc_free(e2);
	/* a 100,000-byte word is fast (heap merges) */
	memset(text, 'a', 100000);
	na = 0;
	ft_bpe_encode(e, text, 100000, 0, &all, &na, &ca);
	CHECK(na > 0 && na < 100000);
	free(text);
	free(all);
	free(part);
	ft_bpe_enc_free(e);
	ft_bpe_free(b);
}

int
main(void)
{
	FILE *p;
	char gdir[4096];

	ft_setprog("test_bpe");
	if (mkdtemp(dir) == NULL)
		ft_die("mkdtemp:");
	test_small();
	test_utf8();
	p = popen("sh tests/get-gpt2-tokenizer.sh -q", "r");
	if (p != NULL && fgets(gdir, sizeof gdir, p) != NULL) {
		gdir[strcspn(gdir, "\n")] = '\0';
		test_gpt2(gdir);
	} else {
		printf("SKIP part: GPT-2 tokenizer files not available\n");
	}
	if (p != NULL)
		pclose(p);
	ft_remove_tree(dir);
	return check_done();
}
