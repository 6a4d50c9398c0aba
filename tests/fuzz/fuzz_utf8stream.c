/* libFuzzer target for lib/utf8stream.  Invariants: the streaming decoder
 * gives the same text whether fed at once or byte by byte, and the same
 * as lib/bpe's one-shot ft_utf8_repair (an independent implementation of
 * Python's decode(errors="replace")); the text is valid UTF-8 and equals
 * the input when that is valid.  The stopper, with a stop string taken
 * from the input, passes on exactly the text before its first occurrence
 * for chunk sizes 1 and 7. */
#include "bpe.h"
#include "err.h"
#include "jsonl.h"
#include "utf8stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
stream_decode(const uint8_t *d, size_t n, size_t step, char *out)
{
	struct ft_utf8stream u;
	size_t w = 0;

	ft_utf8stream_init(&u);
	for (size_t i = 0; i < n; i += step)
		w += ft_utf8stream_feed(&u, d + i, n - i < step ? n - i : step,
		    out + w);
	return w + ft_utf8stream_finish(&u, out + w);
}

static void
check_stops(const char *text, size_t n, const char *stop, size_t step)
{
	struct ft_stopper s;
	const char *stops[1] = { stop }, *out, *hit;
	char *got = malloc(n + 1);
	size_t w = 0, outn, want;
	int stopped = 0;

	hit = *stop ? memmem(text, n, stop, strlen(stop)) : NULL;
	want = hit ? (size_t)(hit - text) : n;
	ft_stopper_init(&s, stops, 1);
	for (size_t i = 0; i < n && !stopped; i += step) {
		stopped = ft_stopper_push(&s, text + i, n - i < step ? n - i : step,
		    &out, &outn);
		memcpy(got + w, out, outn);
		w += outn;
	}
	ft_stopper_flush(&s, &out, &outn);
	memcpy(got + w, out, outn);
	w += outn;
	if (w != want || memcmp(got, text, w) != 0 || stopped != (hit != NULL))
		abort();
	ft_stopper_release(&s);
	free(got);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a = malloc(3 * size + 3), *b = malloc(3 * size + 3), *c = NULL;
	size_t na, nb, nc = 0, cap = 0, k;
	char stop[8];

	na = stream_decode(data, size, size ? size : 1, a);
	nb = stream_decode(data, size, 1, b);
	ft_utf8_repair((const char *)data, size, 0, &c, &nc, &cap);
	if (na != nb || memcmp(a, b, na) != 0 || na != nc
	    || (na && memcmp(a, c, na) != 0))
		abort();
	if (ft_utf8_check(a, na) != na)
		abort();
	if (ft_utf8_check((const char *)data, size) == size
	    && (na != size || memcmp(a, data, size) != 0))
		abort();
	/* stop string: the first 1..4 bytes of the decoded text's tail */
	k = size ? 1 + data[0] % 4 : 0;
	if (k > na)
		k = na;
	memcpy(stop, a + na - k, k);
	stop[k] = '\0';
	if (k > 0 && strlen(stop) == k) {
		check_stops(a, na, stop, 1);
		check_stops(a, na, stop, 7);
	}
	free(a);
	free(b);
	free(c);
	return 0;
}
