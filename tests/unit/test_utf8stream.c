/* Unit tests for lib/utf8stream: streaming decode equals Python's
 * bytes.decode("utf-8", "replace") for every way of cutting the input
 * into two or three chunks (tests/fixtures/sample/utf8.txt), and stop
 * strings cut the stream at their first occurrence whatever the chunks. */
#include "check.h"
#include "err.h"
#include "io.h"
#include "utf8stream.h"

#include <stdlib.h>
#include <string.h>

static size_t
unhex(const char *h, size_t n, unsigned char *out)
{
	size_t k = 0;

	if (n == 1 && h[0] == '-')
		return 0;
	for (size_t i = 0; i + 1 < n; i += 2) {
		unsigned v;

		sscanf(h + i, "%2x", &v);
		out[k++] = (unsigned char)v;
	}
	return k;
}

/* Decode in[0..n) cut at a and b (a <= b <= n). */
static size_t
decode3(const unsigned char *in, size_t n, size_t a, size_t b, char *out)
{
	struct ft_utf8stream u;
	size_t w = 0;

	ft_utf8stream_init(&u);
	w += ft_utf8stream_feed(&u, in, a, out + w);
	w += ft_utf8stream_feed(&u, in + a, b - a, out + w);
	w += ft_utf8stream_feed(&u, in + b, n - b, out + w);
	w += ft_utf8stream_finish(&u, out + w);
	return w;
}

static void
test_fixture(void)
{
	const char *top = getenv("FT_TOP");
	char *path = ft_asprintf("%s/tests/fixtures/sample/utf8.txt",
	    top ? top : "."), *buf, *save = NULL;
	size_t len;
	int lines = 0, bad = 0;

	if (ft_read_file(path, &buf, &len) != 0) {
		CHECK(0);
		free(path);
		return;
	}
	for (char *l = strtok_r(buf, "\n", &save); l != NULL;
	    l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');
		unsigned char in[64], want[256];
		char got[256];
		size_t n, m;

		n = unhex(l, (size_t)(sp - l), in);
		m = unhex(sp + 1, strlen(sp + 1), want);
		for (size_t a = 0; a <= n; a++)
			for (size_t b = a; b <= n; b++) {
				size_t w = decode3(in, n, a, b, got);

				if (w != m || memcmp(got, want, m) != 0)
					bad++;
			}
		lines++;
	}
	CHECK(lines > 400);
	CHECK_EQ_INT(bad, 0);
	free(buf);
	free(path);
}

/* Push text in chunks of size step; return what was passed on. */
static char *
run_stops(const char *text, size_t step, const char *const *stops,
    size_t ns, int *stopped)
{
	struct ft_stopper s;
	size_t n = strlen(text), w = 0, outn;
	char *res = ft_calloc(n + 1, 1);
	const char *out;

	ft_stopper_init(&s, stops, ns);
	*stopped = 0;
	for (size_t i = 0; i < n && !*stopped; i += step) {
		size_t k = n - i < step ? n - i : step;

		*stopped = ft_stopper_push(&s, text + i, k, &out, &outn);
		memcpy(res + w, out, outn);
		w += outn;
	}
	ft_stopper_flush(&s, &out, &outn);
	memcpy(res + w, out, outn);
	ft_stopper_release(&s);
	return res;
}

static void
test_stops(void)
{
	static const struct {
		const char *text, *want;
		int stopped;
	} t[] = {
		{ "hello world", "hello world", 0 },
		{ "one<|eos|>two", "one", 1 },
		{ "abab\n\nrest", "abab", 1 },
		{ "a<|eo", "a<|eo", 0 },          /* prefix at the end: flushed */
		{ "<|eos|>", "", 1 },
		{ "x<<|eos|>", "x<", 1 },
		{ "THE EN", "THE EN", 0 },
		{ "the ENDING", "the ", 1 },
		{ "é\n\né", "é", 1 },
	};
	const char *stops[] = { "<|eos|>", "\n\n", "", "END" };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		for (size_t step = 1; step <= 8; step++) {
			int stopped;
			char *got = run_stops(t[i].text, step, stops, 4, &stopped);

			if (strcmp(got, t[i].want) != 0 || stopped != t[i].stopped)
				fprintf(stderr, "stop case %zu step %zu: got '%s'\n",
				    i, step, got);
			CHECK(strcmp(got, t[i].want) == 0);
			CHECK_EQ_INT(stopped, t[i].stopped);
			free(got);
		}
	{
		/* no stop strings: text passes through as it comes */
		struct ft_stopper s;
		const char *out;
		size_t outn;

		ft_stopper_init(&s, NULL, 0);
		CHECK(ft_stopper_push(&s, "abc", 3, &out, &outn) == 0);
		CHECK(outn == 3 && memcmp(out, "abc", 3) == 0);
		ft_stopper_flush(&s, &out, &outn);
		CHECK(outn == 0);
		ft_stopper_release(&s);
	}
}

int
main(void)
{
	ft_setprog("test_utf8stream");
	test_fixture();
	test_stops();
	return check_done();
}
