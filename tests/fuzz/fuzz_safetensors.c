/* libFuzzer target: arbitrary bytes parsed as a safetensors file with
 * ft_st_parse, then every accepted tensor read as F32 where its dtype
 * allows.  Checks the parser's promises: spans inside the buffer. */
#include "safetensors.h"

#include <stdint.h>
#include <stdlib.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	ft_st_file f;

	/* Silence the library's messages by pointing the stdio stderr at
	 * /dev/null; libFuzzer and the sanitizers keep writing to fd 2. */
	if (!quiet) {
		FILE *null = fopen("/dev/null", "w");

		if (null != NULL)
			stderr = null;
		quiet = 1;
	}
	if (ft_st_parse(&f, data, size, "fuzz.safetensors") < 0)
		return 0;
	for (size_t i = 0; i < f.n; i++) {
		const ft_st_tensor *t = &f.tensors[i];
		const uint8_t *p = t->data;
		float *out;

		if (p < data || p + (t->end - t->begin) > data + size ||
		    t->end - t->begin != t->nelem * ft_dtype_size(t->dtype))
			__builtin_trap();
		if (ft_st_find(&f, t->name) == NULL)
			__builtin_trap();
		if (t->nelem > (1u << 20))
			continue;
		out = malloc(t->nelem * sizeof *out + 1);
		ft_st_read_f32(&f, t, out);
		free(out);
	}
	ft_st_close(&f);
	return 0;
}
