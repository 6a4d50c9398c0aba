/* libFuzzer target for tokenizer.json pipelines (lib/tokjson via lib/bpe).
 * The first byte picks what the rest is:
 *   0: text for a byte-level tokenizer (NFC, the Llama 3 split, Digits,
 *      Punctuation, ByteLevel, a BOS template): cutting at ft_bpe_cut
 *      points (later parts flagged FT_BPE_CONT) changes no id;
 *   1: text for a SentencePiece-style one (Prepend + Replace, byte
 *      fallback, the Llama 2 decoder): valid UTF-8 without U+2581 decodes
 *      back to itself;
 *   2: a tokenizer.json, loaded, then used to encode and decode a text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "err.h"
#include "io.h"

static char dir[] = "/tmp/ft-fuzz-tokjson.XXXXXX";
static struct ft_bpe *bl, *sp;
static struct ft_bpe_enc *ebl, *esp;

static char *
put(const char *name, const char *data, size_t n)
{
	char *p = ft_path_join(dir, name);
	FILE *fp = fopen(p, "wb");

	if (fp == NULL)
		abort();
	fwrite(data, 1, n, fp);
	fclose(fp);
	return p;
}

/* JSON string of a code point (escaped where needed). */
static void
jchar(char *c, size_t cap, int cp)
{
	if (cp == '"' || cp == '\\')
		snprintf(c, cap, "\\%c", cp);
	else if (cp < 0x20)
		snprintf(c, cap, "\\u%04x", cp);
	else if (cp < 0x80)
		snprintf(c, cap, "%c", cp);
	else
		snprintf(c, cap, "%c%c", 0xC0 | (cp >> 6), 0x80 | (cp & 0x3F));
}

static struct ft_bpe *
load(const char *name, const char *json)
{
	char *p = put(name, json, strlen(json));
	struct ft_bpe *b = ft_bpe_load_json(p);

	free(p);
	if (b == NULL)
		abort();
	return b;
}

static void
setup(void)
{
	char *v = ft_strdup(""), *t, c[8];
	int b, n = 0;

	if (mkdtemp(dir) == NULL)
		abort();
	for (b = 0; b < 256; b++) {
		int pr = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
		    (b >= 174 && b <= 255);
		jchar(c, sizeof c, pr ? b : 256 + n++);
		t = ft_asprintf("%s\"%s\":%d,", v, c, b);
		free(v);
		v = t;
	}
	t = ft_asprintf("{\"added_tokens\":[{\"id\":260,\"content\":\"<s>\","
	    "\"special\":true}],\"normalizer\":{\"type\":\"NFC\"},"
	    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":["
	    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"(?i:'s|'t|'re|'ve|'m|"
	    "'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?"
	    "[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+"
	    "(?!\\\\S)|\\\\s+\"},\"behavior\":\"Isolated\",\"invert\":false},"
	    "{\"type\":\"Digits\",\"individual_digits\":true},"
	    "{\"type\":\"Punctuation\"},{\"type\":\"ByteLevel\","
	    "\"add_prefix_space\":false,\"use_regex\":false}]},"
	    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":["
	    "{\"SpecialToken\":{\"id\":\"<s>\"}},{\"Sequence\":{\"id\":\"A\"}}],"
	    "\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[260]}}},"
	    "\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\","
	    "\"vocab\":{%s\"ab\":256,\"abc\":257,\"\xc4\xa0" "a\":258,"
	    "\"12\":259},\"merges\":[\"a b\",\"ab c\",\"\xc4\xa0 a\"]}}", v);
	bl = load("bl.json", t);
	free(t);
	free(v);
	v = ft_strdup("");
	for (b = 0; b < 256; b++) {
		t = ft_asprintf("%s\"<0x%02X>\":%d,", v, b, b);
		free(v);
		v = t;
	}
	t = ft_asprintf("{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":"
	    "[{\"type\":\"Prepend\",\"prepend\":\"\xe2\x96\x81\"},{\"type\":"
	    "\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":"
	    "\"\xe2\x96\x81\"}]},\"decoder\":{\"type\":\"Sequence\",\"decoders\":"
	    "[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xe2\x96\x81\"},"
	    "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},"
	    "{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
	    "\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"fuse_unk\":"
	    "true,\"unk_token\":\"a\",\"vocab\":{%s\"\xe2\x96\x81\":256,\"a\":257,"
	    "\"b\":258,\"ab\":259,\"\xe2\x96\x81" "a\":260},\"merges\":[\"a b\","
	    "\"\xe2\x96\x81 a\"]}}", v);
	sp = load("sp.json", t);
	free(t);
	free(v);
	ebl = ft_bpe_enc_new(bl);
	esp = ft_bpe_enc_new(sp);
}

static void
check_cut(const char *s, size_t n)
{
	uint32_t *a = NULL, *b = NULL;
	size_t na = 0, ca = 0, nb = 0, cb = 0, p = 0, c;

	ft_bpe_encode(ebl, s, n, 0, &a, &na, &ca);
	while (p < n) {
		c = 0;
		if (n - p > 8 + FT_BPE_CUT_MARGIN)
			c = ft_bpe_cut(bl, s + p, n - p, 8, 8);
		if (c == 0)
			c = n - p;
		ft_bpe_encode(ebl, s + p, c, p > 0 ? FT_BPE_CONT : 0, &b, &nb,
		    &cb);
		p += c;
	}
	if (na != nb || (na > 0 && memcmp(a, b, na * sizeof *a) != 0))
		abort();
	free(a);
	free(b);
}

static void
check_back(const char *s, size_t n)
{
	uint32_t *a = NULL;
	size_t na = 0, ca = 0, len = 0, cap = 0, st;
	char *back = NULL;

	if (memmem(s, n, "\xe2\x96\x81", 3) != NULL)
		return;
	ft_bpe_encode(esp, s, n, 0, &a, &na, &ca);
	if (ft_bpe_decode(sp, a, na, 0, &back, &len, &cap) != 0)
		abort();
	st = ft_bpe_doc_strip(sp, back, len);
	if (len - st != n || (n > 0 && memcmp(back + st, s, n) != 0))
		abort();
	free(a);
	free(back);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n;

	if (bl == NULL) {
		ft_setprog("fuzz_tokjson");
		setup();
	}
	if (size == 0)
		return 0;
	n = ft_utf8_valid_prefix(s, size - 1);
	switch (data[0] % 3) {
	case 0:
		check_cut(s, n);
		break;
	case 1:
		check_back(s, n);
		break;
	default: {
		char *p = put("t.json", s, size - 1);
		struct ft_bpe *b = ft_bpe_load_json(p);
		if (b != NULL) {
			struct ft_bpe_enc *e = ft_bpe_enc_new(b);
			uint32_t *ids = NULL;
			size_t k = 0, cap = 0, len = 0, bcap = 0;
			char *back = NULL;
			ft_bpe_encode(e, "Ab 12 cd <s>\xc3\xa9 x", 16, 0, &ids, &k,
			    &cap);
			ft_bpe_decode(b, ids, k, 1, &back, &len, &bcap);
			free(back);
			free(ids);
			ft_bpe_enc_free(e);
		}
		ft_bpe_free(b);
		free(p);
	}
	}
	return 0;
}
