/* libFuzzer target: arbitrary bytes read as a token file through
 * ft_tokr_open_fp on an in-memory stream, to the end or the first error.
 * Errors are expected; crashes, leaks and hangs are not. */
#include "tokfile.h"

#include <stdint.h>
#include <stdio.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	uint32_t buf[333];
	size_t n;
	int doc_end;
	FILE *fp;
	ft_tokr *r;

	/* Silence the library's messages by pointing the stdio stderr at
	 * /dev/null; libFuzzer and the sanitizers keep writing to fd 2. */
	if (!quiet) {
		FILE *null = fopen("/dev/null", "w");

		if (null != NULL)
			stderr = null;
		quiet = 1;
	}
	fp = size > 0 ? fmemopen((void *)data, size, "rb") :
	    fopen("/dev/null", "rb");
	if (fp == NULL)
		return 0;
	r = ft_tokr_open_fp(fp, "fuzz.tok");
	if (r != NULL) {
		const ft_tok_info *info = ft_tokr_info(r);

		while (ft_tokr_read(r, buf, sizeof buf / sizeof buf[0], &n,
		    &doc_end) > 0)
			for (size_t i = 0; i < n; i++)
				if (buf[i] >= info->vocab_size)
					__builtin_trap();
		ft_tokr_close(r);
	}
	fclose(fp);
	return 0;
}
