/* libFuzzer target for lib/records: the input is read in every format
 * (the first byte picks nothing; all five run).  Invariants checked: the
 * reader never crashes; every record is one line of valid UTF-8 that
 * parses as a JSON object equal to the record given; a CSV record has as
 * many fields as the first one; a text record's "text" is valid UTF-8. */
#include "err.h"
#include "jsonl.h"
#include "records.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void
run(enum ft_rec_format fmt)
{
	ft_records *r = ft_records_open(path, fmt);
	cJSON *obj;
	int nkeys = -1;

	if (r == NULL)
		return;
	for (int k = 0; k < 256 && ft_records_next(r, &obj) == 1; k++) {
		size_t n;
		const char *raw = ft_records_raw(r, &n), *s;
		cJSON *back;

		if (memchr(raw, '\n', n) != NULL || ft_utf8_check(raw, n) != n)
			abort();
		back = cJSON_ParseWithLength(raw, n);
		if (back == NULL || !cJSON_IsObject(back))
			abort();
		/* printed, not cJSON_Compare: that one looks keys up by name,
		 * so an object with a repeated key differs from itself */
		char *a = cJSON_PrintUnformatted(back), *b = cJSON_PrintUnformatted(obj);
		if (a == NULL || b == NULL || strcmp(a, b) != 0)
			abort();
		cJSON_free(a);
		cJSON_free(b);
		cJSON_Delete(back);
		if (fmt == FT_REC_CSV) {
			if (nkeys < 0)
				nkeys = cJSON_GetArraySize(obj);
			else if (cJSON_GetArraySize(obj) != nkeys)
				abort();
		}
		if (fmt >= FT_REC_LINES) {
			if (ft_records_text(r, obj, "text", &s, &n) != 0 ||
			    ft_utf8_check(s, n) != n)
				abort();
		}
	}
	ft_records_close(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *fp;

	if (path[0] == '\0') {
		ft_setprog("fuzz_records");
		snprintf(path, sizeof path, "/tmp/fuzz_records.%ld", (long)getpid());
	}
	fp = fopen(path, "wb");
	if (fp == NULL)
		return 0;
	if (fwrite(data, 1, size, fp) != size) {
		fclose(fp);
		return 0;
	}
	fclose(fp);
	for (int f = FT_REC_JSON; f <= FT_REC_TEXT; f++)
		run((enum ft_rec_format)f);
	unlink(path);
	return 0;
}
