/* tokfile — token files (.tok), see ft-formats(5).
 *
 * A token file is a sequence of zstd frames: `zstd -dc f.tok` yields just
 * the little-endian token ids (uint16 when vocab_size <= 65536, else
 * uint32).  Metadata (format version, dtype, vocabulary size, eos id,
 * tokenizer hash, document boundaries, counts) lives in zstd skippable
 * frames.  Written in one forward pass (a pipe is fine), read with bounded
 * memory; `cat a.tok b.tok` is a valid token file when both were made with
 * the same tokenizer.  Corruption and truncation are errors, never data. */
#ifndef FT_TOKFILE_H
#define FT_TOKFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ft_tok_info {
	uint32_t vocab_size;   /* ids are < vocab_size */
	int32_t eos_id;        /* -1 when the tokenizer has none */
	uint8_t tok_hash[32];  /* sha256 identifying the tokenizer (bpe.h) */
} ft_tok_info;

/* ---- writer ---- */
typedef struct ft_tokw ft_tokw;
/* Start writing to fp (not closed by ft_tokw_finish); name is for
 * messages.  level: zstd level (0 = default).  NULL after a message. */
ft_tokw *ft_tokw_open(FILE *fp, const char *name, const ft_tok_info *info,
    int level);
/* Append ids to the current document. 0 or -1. */
int ft_tokw_write(ft_tokw *w, const uint32_t *ids, size_t n);
/* End the current document (an empty document is allowed). 0 or -1. */
int ft_tokw_end_doc(ft_tokw *w);
/* Flush everything and free w (fp stays open).  0 or -1. */
int ft_tokw_finish(ft_tokw *w);
/* Free w without finishing (output is left invalid). */
void ft_tokw_abort(ft_tokw *w);

/* ---- reader ---- */
typedef struct ft_tokr ft_tokr;
/* Open a file ("-" = stdin).  The header is read at once; NULL after a
 * message naming the file. */
ft_tokr *ft_tokr_open(const char *path);
/* The same on an open stream (not closed by ft_tokr_close); name is for
 * messages.  Used for pipes and for fuzzing via fmemopen. */
ft_tokr *ft_tokr_open_fp(FILE *fp, const char *name);
const ft_tok_info *ft_tokr_info(const ft_tokr *r);
/* Read up to cap ids of the current document into buf.  Returns 1 with *n
 * ids (possibly 0 for an empty document) and *doc_end = 1 when they finish
 * the document, 0 at the clean end of the file, -1 after a message. */
int ft_tokr_read(ft_tokr *r, uint32_t *buf, size_t cap, size_t *n,
    int *doc_end);
void ft_tokr_close(ft_tokr *r);
/* Segments seen so far (1 after open; `cat a.tok b.tok` has 2). */
uint64_t ft_tokr_segments(const ft_tokr *r);

/* Load a whole token file: all ids, and n_docs + 1 document start offsets
 * (doc i is ids[doc_start[i] .. doc_start[i+1])).  0 or -1. */
typedef struct ft_tok_data {
	ft_tok_info info;
	uint32_t *ids;
	size_t n_ids;
	size_t *doc_start;
	size_t n_docs;
} ft_tok_data;
int ft_tok_load(const char *path, ft_tok_data *d);
void ft_tok_data_free(ft_tok_data *d);

#endif
