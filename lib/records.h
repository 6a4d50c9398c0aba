/* records — the inputs datasets.load_dataset("json" | "csv" | "text")
 * accepts, read as a stream of JSON objects (one record each).
 *
 *   FT_REC_JSON        JSON Lines (one object per line, blank lines
 *                      skipped: lib/jsonl), or a JSON array of objects.
 *                      The array is recognised by its first non-blank byte
 *                      '[' (on a pipe: the first byte).  Each element is
 *                      given compacted: whitespace outside strings removed,
 *                      everything else (number spellings, escapes) kept.
 *   FT_REC_CSV         RFC 4180: a header row names the columns; fields are
 *                      separated by ',', a field in double quotes may hold
 *                      ',', line breaks and "" (one '"'); records end with
 *                      LF, CRLF or CR; blank lines are skipped (as pandas'
 *                      skip_blank_lines); a leading UTF-8 BOM is dropped.
 *                      Every value is a string (no type inference, unlike
 *                      pandas); an empty field is "".  Errors: a row with
 *                      a different number of fields, an unterminated quote,
 *                      a character after a closing quote, an empty or
 *                      duplicate column name.
 *   FT_REC_LINES       datasets' "text" loader, sample_by="line": one
 *                      record {"text": LINE} per line, without its line
 *                      break (keep_linebreaks=False); empty lines are empty
 *                      records; a final line without a break counts.
 *   FT_REC_PARAGRAPHS  sample_by="paragraph": the input split at every
 *                      "\n\n" (left to right, as str.split), empty pieces
 *                      dropped; a piece keeps its other line breaks.
 *   FT_REC_TEXT        sample_by="document": the whole input is one record
 *                      (an empty input too).
 *
 * The text formats read with universal newlines as Python's open() does:
 * CRLF and a lone CR become LF first.  All input must be UTF-8 (an error
 * names FILE:LINE and the byte in the line).  Everything but JSON Lines is
 * read into memory whole, as datasets does for these formats.
 *
 * The field holding the text (default "text") is read with
 * ft_records_text; a missing field's message lists the record's keys and
 * suggests --field. */
#ifndef FT_RECORDS_H
#define FT_RECORDS_H

#include <stddef.h>
#include <cJSON.h>

enum ft_rec_format {
	FT_REC_JSON = 0,
	FT_REC_CSV,
	FT_REC_LINES,
	FT_REC_PARAGRAPHS,
	FT_REC_TEXT,
};

typedef struct ft_records ft_records;

/* Open path ("-" or NULL = stdin) in the given format.  NULL after an
 * error message. */
ft_records *ft_records_open(const char *path, enum ft_rec_format fmt);
/* The next record: 1 and *obj (owned by the reader, valid until the next
 * call), 0 at the end, -1 after an error message naming FILE:LINE. */
int ft_records_next(ft_records *r, cJSON **obj);
/* The last record as one line of compact JSON, without '\n' (for JSON
 * Lines input: the input line itself, byte for byte). */
const char *ft_records_raw(const ft_records *r, size_t *len);
/* Are the records lines of the input, byte for byte (JSON Lines)? */
int ft_records_verbatim(const ft_records *r);
/* Byte offset of the last record in the input file when the raw line is a
 * verbatim copy of it (JSON Lines), else -1. */
long long ft_records_offset(const ft_records *r);
/* The line where the last record starts (1-based). */
long ft_records_lineno(const ft_records *r);
const char *ft_records_name(const ft_records *r);
/* The string field `field` of obj (the last record): 0 and *s, *n (valid
 * UTF-8, NUL bytes from "\u0000" counted, s[*n] == '\0', valid until the
 * next call), or -1 after a message naming FILE:LINE and the field. */
int ft_records_text(ft_records *r, const cJSON *obj, const char *field,
    const char **s, size_t *n);
void ft_records_close(ft_records *r);

/* The format option names shared by the tools ("json", "csv", "lines",
 * "paragraphs", "text"): the format, or -1 for an unknown name. */
int ft_rec_format_parse(const char *name);
const char *ft_rec_format_name(enum ft_rec_format fmt);

#endif
