/* libFuzzer target for lib/bpe.  The first byte picks what the rest is:
 *   0: text to encode with a small vocabulary; checks that decoding gives
 *      the text back (valid UTF-8), and that cutting at ft_bpe_cut points
 *      changes no id;
 *   1: a merges.txt for that vocabulary;
 *   2: a tokenizer.json;
 *   3: bytes to repair as UTF-8 (the result must be valid). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpe.h"
#include "err.h"
#include "io.h"

static char dir[] = "/tmp/ft-fuzz-bpe.XXXXXX";
static struct ft_bpe *small;
static struct ft_bpe_enc *enc;

static void
put(const char *name, const void *data, size_t n)
{
	char *p = ft_path_join(dir, name);
	FILE *fp = fopen(p, "wb");

	if (fp == NULL)
		abort();
	fwrite(data, 1, n, fp);
	fclose(fp);
	free(p);
}

static void
setup(void)
{
	static const char *extra[] = { "ab", "bc", "abc", "aa", "<|endoftext|>",
		"\xc4\xa0" "a", "\xc4\xa0\xc4\xa0", "12" };
	char *v = ft_strdup("{"), *t, *vp, *mp;
	int b, n = 0, cp;
	size_t i;

	if (mkdtemp(dir) == NULL)
		abort();
	for (b = 0; b < 256; b++) {
		int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
		    (b >= 174 && b <= 255);
		char c[8];
		cp = printable ? b : 256 + n++;
		if (cp == '"' || cp == '\\')
			snprintf(c, sizeof c, "\\%c", cp);
		else if (cp < 0x80)
			snprintf(c, sizeof c, "%c", cp);
		else
			snprintf(c, sizeof c, "%c%c", 0xC0 | (cp >> 6),
			    0x80 | (cp & 0x3F));
		t = ft_asprintf("%s\"%s\":%d,", v, c, b);
		free(v);
		v = t;
	}
	for (i = 0; i < sizeof extra / sizeof *extra; i++) {
		t = ft_asprintf("%s\"%s\":%zu,", v, extra[i], 256 + i);
		free(v);
		v = t;
	}
	v[strlen(v) - 1] = '}';
	put("vocab.json", v, strlen(v));
	free(v);
	t = "#version: 0.2\nb c\na b\nab c\na a\n\xc4\xa0 a\n\xc4\xa0 \xc4\xa0\n"
	    "1 2\n";
	put("merges.txt", t, strlen(t));
	vp = ft_path_join(dir, "vocab.json");
	mp = ft_path_join(dir, "merges.txt");
	small = ft_bpe_load_files(vp, mp);
	if (small == NULL)
		abort();
	enc = ft_bpe_enc_new(small);
	free(vp);
	free(mp);
}

static void
check_text(const char *s, size_t n)
{
	uint32_t *a = NULL, *b = NULL;
	size_t na = 0, ca = 0, nb = 0, cb = 0, p = 0, c, len = 0, cap = 0;
	char *back = NULL;

	ft_bpe_encode(enc, s, n, 0, &a, &na, &ca);
	if (ft_bpe_decode(small, a, na, 0, &back, &len, &cap) != 0)
		abort();
	if (ft_utf8_valid_prefix(s, n) == n &&
	    (len != n || (n > 0 && memcmp(back, s, n) != 0)))
		abort();
	while (p < n) {
		c = 0;
		if (n - p > 8 + FT_BPE_CUT_MARGIN)
			c = ft_bpe_cut(small, s + p, n - p, 8, 8);
		if (c == 0)
			c = n - p;
		ft_bpe_encode(enc, s + p, c, 0, &b, &nb, &cb);
		p += c;
	}
	if (na != nb || (na > 0 && memcmp(a, b, na * sizeof *a) != 0))
		abort();
	free(a);
	free(b);
	free(back);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *vp, *mp;
	struct ft_bpe *b;

	if (small == NULL) {
		ft_setprog("fuzz_bpe");
		setup();
	}
	if (size == 0)
		return 0;
	switch (data[0] % 4) {
	case 0:
		check_text((const char *)data + 1, size - 1);
		break;
	case 1:
		put("m.txt", data + 1, size - 1);
		vp = ft_path_join(dir, "vocab.json");
		mp = ft_path_join(dir, "m.txt");
		b = ft_bpe_load_files(vp, mp);
		ft_bpe_free(b);
		free(vp);
		free(mp);
		break;
	case 2:
		put("t.json", data + 1, size - 1);
		vp = ft_path_join(dir, "t.json");
		b = ft_bpe_load_json(vp);
		if (b != NULL) {
			struct ft_bpe_enc *e = ft_bpe_enc_new(b);
			uint32_t *ids = NULL;
			size_t n = 0, cap = 0;
			ft_bpe_encode(e, "ab cd<|endoftext|>", 18, 0, &ids, &n,
			    &cap);
			free(ids);
			ft_bpe_enc_free(e);
		}
		ft_bpe_free(b);
		free(vp);
		break;
	default: {
		char *buf = NULL;
		size_t len = 0, cap = 0;
		ft_utf8_repair((const char *)data + 1, size - 1, 0, &buf, &len,
		    &cap);
		if (ft_utf8_valid_prefix(buf, len) != len)
			abort();
		free(buf);
	}
	}
	return 0;
}
