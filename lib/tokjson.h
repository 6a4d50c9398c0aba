/* tokjson — the text pipeline of a Hugging Face tokenizer.json around its
 * BPE model: normalizer, pre-tokenizer and the decoder's per-token part,
 * with the results of the `tokenizers` library (lib/bpe does the added
 * tokens, the model, the post-processor and the token table).
 *
 * Supported: normalizers NFC, NFD, NFKC, NFKD (lib/normalize: Unicode
 * 9.0.0, as in `tokenizers`), Lowercase, Prepend, Replace (string or
 * regex), Strip, Sequence; pre-tokenizers ByteLevel (add_prefix_space,
 * use_regex; last in a Sequence), Split (string or regex, every behaviour,
 * invert), Digits, Metaspace, Whitespace, WhitespaceSplit, Punctuation,
 * Sequence; decoders ByteLevel, Metaspace, Replace, ByteFallback, Fuse,
 * Strip, Sequence.  Regexes are Oniguruma's, as in `tokenizers`.
 * Anything else is refused at load time with a message naming it.
 * The Llama 3 and Qwen Split regexes are matched by hand-written code with
 * the Unicode 16.0 classes of lib/bpe (FT_TOKJSON_NO_FAST=1 in the
 * environment makes them go through Oniguruma, for tests).
 *
 * A loaded struct ft_tj is immutable and may be shared by threads; each
 * thread works with its own struct ft_tj_work. */
#ifndef FT_TOKJSON_H
#define FT_TOKJSON_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

struct ft_tj;
struct ft_tj_work;

/* Parse root's "normalizer", "pre_tokenizer" and "decoder" (root is the
 * whole tokenizer.json; path names it in messages).  NULL after a message
 * such as "PATH: pre_tokenizer \"UnicodeScripts\" is not supported". */
struct ft_tj *ft_tj_load(const cJSON *root, const char *path);
void ft_tj_free(struct ft_tj *t);

/* Does the model see bytes (a ByteLevel pre-tokenizer)? */
int ft_tj_byte_level(const struct ft_tj *t);
/* May the text be cut between a '\n' that follows a non-space ASCII
 * character and an ASCII letter without changing any piece (the pre-
 * tokenizer always splits there, nothing looks across)? */
int ft_tj_cut_safe(const struct ft_tj *t);
/* Is there a normalizer (that changes anything)? */
int ft_tj_has_normalizer(const struct ft_tj *t);
/* A canonical text of the pipeline (for the tokenizer hash). */
const char *ft_tj_canon(const struct ft_tj *t);

/* ---- encoding ---- */
enum {
	FT_TJ_ORIG0 = 1,  /* the segment starts the original text */
	FT_TJ_CONT = 2,   /* the segment continues one cut before it */
};
struct ft_tj_piece {
	size_t off, len;
	unsigned flags;
};
struct ft_tj_work *ft_tj_work_new(void);
void ft_tj_work_free(struct ft_tj_work *w);
/* Normalize and pre-tokenize the segment s[0..n) (valid UTF-8 with no
 * added token in it).  Returns the number of pieces; *buf holds their
 * bytes and *pc their spans (both owned by w, valid until its next use). */
size_t ft_tj_pieces(const struct ft_tj *t, struct ft_tj_work *w,
    const char *s, size_t n, unsigned flags, const char **buf,
    const struct ft_tj_piece **pc);

/* The two halves of ft_tj_pieces: normalize s[0..n) (the result is owned
 * by w, valid until its next use; returns its length), and pre-tokenize
 * an already normalized s[0..n), which must not be w's. */
size_t ft_tj_normalize(const struct ft_tj *t, struct ft_tj_work *w,
    const char *s, size_t n, unsigned flags, const char **out);
size_t ft_tj_pretokenize(const struct ft_tj *t, struct ft_tj_work *w,
    const char *s, size_t n, unsigned flags, const char **buf,
    const struct ft_tj_piece **pc);

/* Rust's char::is_whitespace (the White_Space property), which the
 * added tokens' lstrip/rstrip and the Strip normalizer use. */
int ft_tj_white_space(uint32_t c);

/* ---- decoding ---- */
/* Append what token string tok[0..n) (as in the vocabulary) decodes to on
 * its own: the decoder's per-token steps (ByteLevel, Metaspace, Replace,
 * ByteFallback, Strip before a Fuse). */
void ft_tj_decode_token(const struct ft_tj *t, const char *tok, size_t n,
    char **buf, size_t *len, size_t *cap);
/* How many bytes the decoder removes at the start of a document's text
 * s[0..n) (Metaspace's first space, a Strip after Fuse). */
size_t ft_tj_doc_strip(const struct ft_tj *t, const char *s, size_t n);
/* Has the tokenizer a decoder? (without one `tokenizers` joins tokens
 * with spaces, which ft does not do) */
int ft_tj_has_decoder(const struct ft_tj *t);

#endif
