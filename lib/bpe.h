/* bpe — BPE tokenizers: load, encode, decode.
 *
 * Loads `vocab.json` + `merges.txt` or a Hugging Face `tokenizer.json`
 * (merges as "a b" strings or ["a","b"] pairs; `added_tokens`).  GPT-2's
 * pipeline is encoded exactly as the Hugging Face `tokenizers` ByteLevel/
 * BPE pipeline and OpenAI's tiktoken `gpt2` do, by hand-written code:
 * added tokens are split out first (leftmost, longest), the rest is
 * pre-tokenized with the GPT-2 regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (Unicode 16.0 classes, lib/bpe_tables.h), and each piece's UTF-8 bytes
 * are merged by merge rank.  Any other tokenizer.json (Llama, Qwen,
 * Mistral ...: normalizers, other pre-tokenizers, byte_fallback, unk,
 * post-processor templates, decoders) goes through lib/tokjson, with the
 * results of `tokenizers`; tokenizer_config.json beside it gives the
 * end-of-text token (eos_token; else config.json's eos_token_id) and, for
 * the Llama and Gemma classes, the BOS/EOS flags (add_bos_token,
 * add_eos_token) as transformers applies them.
 *
 * A loaded struct ft_bpe is immutable and may be shared by threads; each
 * thread encodes with its own struct ft_bpe_enc (a cache of recent pieces
 * plus scratch space).  Tokens are kept as raw bytes (the byte-to-unicode
 * alphabet of the files is undone at load time).
 *
 * Errors are reported once with ft_error() naming the file (and line for
 * merges.txt); loaders return NULL after that. */
#ifndef FT_BPE_H
#define FT_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "utf8.h"   /* ft_utf8_valid_prefix, ft_utf8_repair */

struct ft_bpe;
struct ft_bpe_enc;

/* Load from vocab.json + merges.txt.  "<|endoftext|>", when in the
 * vocabulary, is the one special token (as the slow GPT2Tokenizer). */
struct ft_bpe *ft_bpe_load_files(const char *vocab_path,
    const char *merges_path);
/* Load a tokenizer.json (model type BPE) and tokenizer_config.json
 * beside it when present. */
struct ft_bpe *ft_bpe_load_json(const char *path);
/* Load a model directory: tokenizer.json if present, else vocab.json +
 * merges.txt. */
struct ft_bpe *ft_bpe_load_dir(const char *dir);
void ft_bpe_free(struct ft_bpe *b);

/* Number of ids (largest id + 1). */
uint32_t ft_bpe_vocab_size(const struct ft_bpe *b);
/* Id of the end-of-text token (tokenizer_config.json's eos_token, else
 * "<|endoftext|>"), or -1 when the tokenizer has none. */
int32_t ft_bpe_eos_id(const struct ft_bpe *b);
/* The raw bytes of token id (NULL for an id without a token). */
const char *ft_bpe_token(const struct ft_bpe *b, uint32_t id, size_t *len);
/* Is id an added token marked special (dropped by skip_special_tokens)? */
int ft_bpe_is_special(const struct ft_bpe *b, uint32_t id);
/* SHA-256 over a canonical form of the tokenizer: every token's bytes by
 * id, the merges by rank, the added tokens.  vocab.json + merges.txt and
 * the equivalent tokenizer.json hash the same. */
void ft_bpe_hash(const struct ft_bpe *b, uint8_t out[32]);

/* ---- encoding ---- */
enum {
	FT_BPE_NO_SPECIAL = 1, /* special added tokens in the text are text */
	FT_BPE_CONT = 2,       /* the text continues a document, cut at an
	                          ft_bpe_cut point (ft_bpe_par sets it) */
};
/* The ids the post-processor puts before and after each document's ids
 * (e.g. Llama's BOS); none for GPT-2. */
void ft_bpe_special_ids(const struct ft_bpe *b, const uint32_t **pre,
    size_t *n_pre, const uint32_t **post, size_t *n_post);

struct ft_bpe_enc *ft_bpe_enc_new(const struct ft_bpe *b);
void ft_bpe_enc_free(struct ft_bpe_enc *e);

/* Encode s[0..n) (UTF-8; invalid bytes are not rejected here, validate
 * first) and append the ids to *ids (a malloc'd array of *cap entries
 * holding *n_ids; grown as needed). */
void ft_bpe_encode(struct ft_bpe_enc *e, const char *s, size_t n, int flags,
    uint32_t **ids, size_t *n_ids, size_t *cap);

/* A place to cut text for streaming or parallel encoding: the largest
 * p <= lim with 0 < p such that encoding s[0..p) and s[p..) separately
 * gives the same ids as encoding them together, judged from s[0..n)
 * only (so whatever follows s[n-1] does not matter).  lim must leave
 * FT_BPE_CUT_MARGIN bytes: lim + FT_BPE_CUT_MARGIN <= n.  The search looks
 * back at most `back` bytes; 0 when no such place is found. */
#define FT_BPE_CUT_MARGIN 64
size_t ft_bpe_cut(const struct ft_bpe *b, const char *s, size_t n,
    size_t lim, size_t back);

/* ---- parallel encoding, in input order ---- */
/* Receives, in the order they were added, the ids of each text and the
 * `end` flag it was added with.  Returns 0, or -1 (after a message) to
 * stop. */
typedef int (*ft_bpe_emit_fn)(void *arg, const uint32_t *ids, size_t n,
    int end);
struct ft_bpe_par;
/* Texts added are copied into batches of about `threads` MB.  A full
 * batch is split among `threads` threads (1: the calling thread encodes
 * it), each with its own cache; while they work, the caller adds the next
 * batch and the previous one is emitted.  The ids emitted do not depend
 * on `threads`. */
struct ft_bpe_par *ft_bpe_par_new(const struct ft_bpe *b, int threads,
    int flags, ft_bpe_emit_fn emit, void *arg);
/* Add s[0..n) (copied).  0, or -1 when an emit failed. */
int ft_bpe_par_add(struct ft_bpe_par *p, const char *s, size_t n, int end);
/* Encode and emit all that was added.  0 or -1. */
int ft_bpe_par_finish(struct ft_bpe_par *p);
/* Wait for running threads and free (also after an error). */
void ft_bpe_par_free(struct ft_bpe_par *p);

/* ---- decoding ---- */
/* Bytes the decoder removes at the start of a document's decoded text
 * s[0..n) (a SentencePiece-style tokenizer's leading space); 0 for GPT-2. */
size_t ft_bpe_doc_strip(const struct ft_bpe *b, const char *s, size_t n);
/* Append the bytes of ids[0..n) to *buf (malloc'd, *cap bytes, *len used);
 * special tokens are skipped when skip_special.  Returns 0, or -1 after a
 * message for an id outside the vocabulary. */
int ft_bpe_decode(const struct ft_bpe *b, const uint32_t *ids, size_t n,
    int skip_special, char **buf, size_t *len, size_t *cap);

/* The class of a code point for the GPT-2-style regexes (Unicode 16.0):
 * 1 \p{L}, 2 \p{N}, 3 \s, 0 anything else. */
int ft_bpe_class(uint32_t cp);
/* The byte that code point cp stands for in GPT-2's byte-to-unicode
 * alphabet, or -1. */
int ft_bpe_unicode_byte(uint32_t cp);


#endif
