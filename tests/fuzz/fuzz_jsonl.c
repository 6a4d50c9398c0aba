/* libFuzzer target for lib/jsonl (and the lib/unicode transforms that
 * ft-clean runs on what it reads).  Invariants checked: the reader never
 * crashes; a decoded text is valid UTF-8; escaping it and decoding again
 * gives it back; the Unicode transforms keep it valid UTF-8. */
#include "err.h"
#include "jsonl.h"
#include "unicode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *fp;
	ft_jsonl *r;
	cJSON *obj;
	static int quiet;

	if (!quiet) {
		ft_setprog("fuzz_jsonl");
		quiet = 1;
	}
	(void)ft_utf8_check((const char *)data, size);
	if (size == 0)
		return 0;
	fp = fmemopen((void *)data, size, "r");
	if (fp == NULL)
		return 0;
	r = ft_jsonl_from_fp(fp, "fuzz");
	for (int k = 0; k < 64 && ft_jsonl_next(r, &obj) == 1; k++) {
		const char *s, *raw;
		size_t n, rawlen, vs, ve;
		raw = ft_jsonl_raw(r, &rawlen);
		(void)ft_json_field_span(raw, rawlen, "id", &vs, &ve);
		if (ft_jsonl_text(r, obj, "text", &s, &n) != 0)
			continue;
		if (ft_utf8_check(s, n) != n)
			abort();
		char *esc = malloc(6 * n + 2), *back = malloc(6 * n + 2);
		size_t en = ft_json_escape(esc, s, n);
		if (ft_json_unescape(esc, en, back) != n || memcmp(back, s, n) != 0)
			abort();
		struct ft_ustr u = { 0 };
		char *out = NULL;
		size_t cap = 0, on;
		ft_ustr_set_utf8(&u, s, n);
		ft_ustr_nfc(&u);
		ft_ustr_lower(&u);
		ft_ustr_collapse_space(&u);
		ft_ustr_strip(&u);
		on = ft_ustr_utf8(&u, &out, &cap);
		if (ft_utf8_check(out, on) != on)
			abort();
		free(out);
		ft_ustr_release(&u);
		free(esc);
		free(back);
	}
	ft_jsonl_close(r);
	fclose(fp);
	return 0;
}
