/* utf8stream — text output of a token stream, byte-correct.
 *
 * Tokens of a byte-level BPE decode to bytes, and one UTF-8 character may
 * be split across tokens.  struct ft_utf8stream turns a stream of byte
 * chunks into valid UTF-8 as soon as each character is complete, holding
 * back at most 3 bytes of an unfinished sequence.  Invalid bytes become
 * U+FFFD exactly as Python's bytes.decode("utf-8", "replace") (and Rust's
 * String::from_utf8_lossy, used by the fast tokenizer) do on the whole
 * sequence: one U+FFFD per maximal subpart of an ill-formed sequence
 * (Unicode §3.9, "U+FFFD substitution of maximal subparts").  So the
 * concatenated output equals tokenizer.decode(ids) of all ids fed.
 *
 * struct ft_stopper cuts a text stream at the first occurrence of any of
 * a set of stop strings: it passes text through as soon as no stop string
 * can start inside it, and holds back the longest tail that is a prefix of
 * a stop string.  The stop string itself is not passed on. */
#ifndef FT_UTF8STREAM_H
#define FT_UTF8STREAM_H

#include <stddef.h>

struct ft_utf8stream {
	unsigned char pend[4]; /* bytes of an unfinished character */
	int npend, need;       /* held bytes, and the character's length */
};

/* Start empty (all-zero memory is a valid empty stream too). */
void ft_utf8stream_init(struct ft_utf8stream *u);
/* Decode in[0..n); write valid UTF-8 to out, which must have room for
 * 3 * n + 3 bytes.  Returns the bytes written. */
size_t ft_utf8stream_feed(struct ft_utf8stream *u, const void *in, size_t n,
    char *out);
/* End of input: a held unfinished character becomes one U+FFFD.  out needs
 * room for 3 bytes.  Returns the bytes written (0 or 3); the stream is
 * empty again. */
size_t ft_utf8stream_finish(struct ft_utf8stream *u, char *out);

struct ft_stopper {
	const char *const *stops; /* borrowed; non-empty strings */
	size_t nstops;
	size_t maxlen;            /* longest stop string */
	char *buf;                /* held text is buf[off..off+len) */
	size_t off, len, cap;
	int stopped;
};

/* stops[0..nstops) must outlive the stopper; empty strings are ignored. */
void ft_stopper_init(struct ft_stopper *s, const char *const *stops,
    size_t nstops);
void ft_stopper_release(struct ft_stopper *s);
/* Forget held text and the stopped state (for the next sequence). */
void ft_stopper_reset(struct ft_stopper *s);
/* Append text[0..n).  Sets *out and *outn to the text now safe to pass on
 * (valid until the next call).  Returns 1 when a stop string was found:
 * *out then ends right before it, and further pushes pass nothing. */
int ft_stopper_push(struct ft_stopper *s, const char *text, size_t n,
    const char **out, size_t *outn);
/* End of stream: everything held is passed on (nothing once stopped). */
void ft_stopper_flush(struct ft_stopper *s, const char **out, size_t *outn);

#endif
