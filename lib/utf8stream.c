/* utf8stream — see utf8stream.h.
 *
 * The decoder follows Unicode Table 3-7 (well-formed byte sequences): a
 * lead byte fixes the length and the allowed range of the second byte
 * (E0: A0..BF, ED: 80..9F, F0: 90..BF, F4: 80..8F, else 80..BF); later
 * bytes are 80..BF.  A byte that does not continue the held prefix ends
 * that prefix (one U+FFFD) and is then read afresh, which is the
 * maximal-subpart rule Python and Rust apply. */
#include "utf8stream.h"

#include "err.h"

#include <stdlib.h>
#include <string.h>

static const char repl[3] = { '\xef', '\xbf', '\xbd' }; /* U+FFFD */

void
ft_utf8stream_init(struct ft_utf8stream *u)
{
	memset(u, 0, sizeof(*u));
}

/* Length of a sequence starting with lead byte b; 0 if b cannot start
 * one. */
static int
seq_len(unsigned b)
{
	if (b < 0x80)
		return 1;
	if (b >= 0xc2 && b <= 0xdf)
		return 2;
	if (b >= 0xe0 && b <= 0xef)
		return 3;
	if (b >= 0xf0 && b <= 0xf4)
		return 4;
	return 0;
}

/* May byte b follow the held bytes pend[0..npend)? */
static int
continues(const struct ft_utf8stream *u, unsigned b)
{
	unsigned lo = 0x80, hi = 0xbf;

	if (u->npend == 1) {
		switch (u->pend[0]) {
		case 0xe0: lo = 0xa0; break;
		case 0xed: hi = 0x9f; break;
		case 0xf0: lo = 0x90; break;
		case 0xf4: hi = 0x8f; break;
		}
	}
	return b >= lo && b <= hi;
}

size_t
ft_utf8stream_feed(struct ft_utf8stream *u, const void *in, size_t n,
    char *out)
{
	const unsigned char *p = in;
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned b = p[i];

		if (u->npend > 0) {
			if (continues(u, b)) {
				u->pend[u->npend++] = (unsigned char)b;
				if (u->npend == u->need) {
					memcpy(out + w, u->pend, (size_t)u->need);
					w += (size_t)u->need;
					u->npend = 0;
				}
				continue;
			}
			/* the held prefix is a maximal subpart */
			memcpy(out + w, repl, 3);
			w += 3;
			u->npend = 0;
		}
		switch (u->need = seq_len(b)) {
		case 0:
			memcpy(out + w, repl, 3);
			w += 3;
			break;
		case 1:
			out[w++] = (char)b;
			break;
		default:
			u->pend[0] = (unsigned char)b;
			u->npend = 1;
		}
	}
	return w;
}

size_t
ft_utf8stream_finish(struct ft_utf8stream *u, char *out)
{
	if (u->npend == 0)
		return 0;
	u->npend = 0;
	memcpy(out, repl, 3);
	return 3;
}

void
ft_stopper_init(struct ft_stopper *s, const char *const *stops,
    size_t nstops)
{
	memset(s, 0, sizeof(*s));
	s->stops = stops;
	s->nstops = nstops;
	for (size_t i = 0; i < nstops; i++)
		if (strlen(stops[i]) > s->maxlen)
			s->maxlen = strlen(stops[i]);
}

void
ft_stopper_release(struct ft_stopper *s)
{
	if (s == NULL)
		return;
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

void
ft_stopper_reset(struct ft_stopper *s)
{
	s->off = 0;
	s->len = 0;
	s->stopped = 0;
}

/* Does some stop string start with t[0..n) and go on past it? */
static int
is_proper_prefix(const struct ft_stopper *s, const char *t, size_t n)
{
	for (size_t i = 0; i < s->nstops; i++)
		if (strlen(s->stops[i]) > n && memcmp(s->stops[i], t, n) == 0)
			return 1;
	return 0;
}

int
ft_stopper_push(struct ft_stopper *s, const char *text, size_t n,
    const char **out, size_t *outn)
{
	size_t cut = (size_t)-1, hold;

	*out = text;
	*outn = 0;
	if (s->stopped)
		return 1;
	if (s->maxlen == 0) {	/* no stop strings: pass straight through */
		*outn = n;
		return 0;
	}
	/* what the last call passed on is no longer needed */
	if (s->off > 0)
		memmove(s->buf, s->buf + s->off, s->len);
	s->off = 0;
	ft_grow((void **)&s->buf, &s->cap, s->len + n + 1, 1);
	memcpy(s->buf + s->len, text, n);
	s->len += n;
	*out = s->buf;
	/* the earliest stop string in the held text (none can start in text
	 * already passed on) */
	for (size_t i = 0; i < s->nstops; i++) {
		size_t m = strlen(s->stops[i]);
		const char *hit;

		if (m == 0)
			continue;
		hit = memmem(s->buf, s->len, s->stops[i], m);
		if (hit != NULL && (size_t)(hit - s->buf) < cut)
			cut = (size_t)(hit - s->buf);
	}
	if (cut != (size_t)-1) {
		s->stopped = 1;
		*outn = cut;
		s->len = 0;
		return 1;
	}
	/* hold back the longest tail that could still grow into a stop
	 * string; everything before it is final */
	hold = s->len >= s->maxlen ? s->len - s->maxlen + 1 : 0;
	while (hold < s->len
	    && !is_proper_prefix(s, s->buf + hold, s->len - hold))
		hold++;
	*outn = hold;
	s->off = hold;
	s->len -= hold;
	return 0;
}

void
ft_stopper_flush(struct ft_stopper *s, const char **out, size_t *outn)
{
	*out = s->buf != NULL ? s->buf + s->off : "";
	*outn = s->stopped ? 0 : s->len;
	s->len = 0;
	s->off = 0;
}
