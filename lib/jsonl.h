/* jsonl — streaming JSONL reader and writer over cJSON.
 *
 * One JSON object per line, UTF-8, lines of any length.  Of duplicate keys
 * the last counts, as in Python's json.  Every error names the file and
 * line: "FILE:LINE: invalid JSON at byte N", with the cause where known
 * (nested deeper than cJSON's 1000 levels, a lone surrogate escape, a
 * line cut off at the end of the input), "...: not a JSON object",
 * "...: field 'text' is missing" / "is not a string", "...: invalid UTF-8".
 * Empty lines (and a final line without '\n') are handled like jq does:
 * blank lines are skipped. */
#ifndef FT_JSONL_H
#define FT_JSONL_H

#include <stddef.h>
#include <stdio.h>
#include <cJSON.h>

#include "utf8.h"   /* ft_utf8_check */

typedef struct ft_jsonl ft_jsonl;

/* Open a file ("-" or NULL = stdin).  NULL after an error message. */
ft_jsonl *ft_jsonl_open(const char *path);
/* Read the next record: 1 and *obj (owned by the reader, valid until the
 * next call), 0 at end of input, -1 after an error message. */
int ft_jsonl_next(ft_jsonl *r, cJSON **obj);
/* The raw bytes of the last record's line, without the '\n'. */
const char *ft_jsonl_raw(const ft_jsonl *r, size_t *len);
/* Byte offset of the last record's line in the input. */
long long ft_jsonl_offset(const ft_jsonl *r);
long ft_jsonl_lineno(const ft_jsonl *r);
const char *ft_jsonl_name(const ft_jsonl *r);
/* The string field `field` of obj: 0 and *s, *n, or -1 after an error
 * message naming file, line and field.  The string is valid UTF-8, is
 * decoded from the raw line (so *n counts any NUL bytes that "\u0000"
 * escapes produce; s[*n] is '\0') and stays valid until the next call. */
int ft_jsonl_text(const ft_jsonl *r, const cJSON *obj, const char *field,
    const char **s, size_t *n);
void ft_jsonl_close(ft_jsonl *r);
/* The message for a string field missing from obj at name:lineno: lists
 * obj's keys and suggests --field.  Returns -1. */
int ft_json_missing_field(const char *name, long lineno, const cJSON *obj,
    const char *field);
/* A reader over an open stream (not closed by ft_jsonl_close); name is
 * used in messages. */
ft_jsonl *ft_jsonl_from_fp(FILE *fp, const char *name);


/* Read and parse a whole JSON file that must hold an object (config.json,
 * trainer state, index files).  NULL after "PATH: invalid JSON at line L,
 * column C" or
 * "PATH: not a JSON object"; free with cJSON_Delete. */
cJSON *ft_json_load(const char *path);
/* The same for text s[0..n) in memory; name is used in messages. */
cJSON *ft_json_parse(const char *s, size_t n, const char *name);
/* Any JSON value s[0..n) (duplicate keys: the last), or NULL after
 * "NAME: invalid JSON at byte N (CAUSE)". */
cJSON *ft_json_parse_value(const char *s, size_t n, const char *name);
/* Keep only the last of duplicate keys in every object of the tree o (as
 * Python's json.loads; cJSON's lookups would find the first), for a tree
 * parsed by cJSON directly. */
void ft_json_dedupe(cJSON *o);

/* repr(float(x)) as Python prints it, for JSON numbers: the shortest
 * digits that read back to x, "1.0" for integral values, "5e-07" style
 * exponents, "NaN" and "Infinity" as json.dumps writes them.  buf needs
 * 32 bytes. */
void ft_pyfloat(char *buf, size_t cap, double x);

/* Write v as Python's json.dumps(v, indent=2, sort_keys=True,
 * ensure_ascii=False) does, as transformers writes config.json and the
 * tokenizer configs (no final newline; integral numbers without ".0",
 * others as repr(float); cJSON raw items are written as they are). */
void ft_json_put_pretty(FILE *f, const cJSON *v);

/* Write obj compactly plus '\n'.  0 or -1 (message names `name`). */
int ft_jsonl_write(FILE *fp, const cJSON *obj, const char *name);

/* Raw-line helpers (the line must already be valid JSON, e.g. from
 * ft_jsonl_next; malformed input gives -1 or garbage, never a crash).
 *
 * Find the value of the last top-level member named `field` (keys are
 * compared after unescaping) in the object line s[0..n): 1 and the byte
 * span [*vstart, *vend) of its value token, 0 when absent, -1 when the
 * line is not an object. */
int ft_json_field_span(const char *s, size_t n, const char *field,
    size_t *vstart, size_t *vend);
/* Decode a JSON string token s[0..n) (quotes included) into dst, which
 * needs n bytes; returns the decoded length (may contain NUL bytes). */
size_t ft_json_unescape(const char *s, size_t n, char *dst);
/* Encode s[0..n) as a JSON string token, quotes included, into dst (which
 * needs 6n + 2 bytes); returns its length.  Escapes exactly what Python's
 * json.dumps(ensure_ascii=False) escapes: '"', '\\', \n \r \t \b \f,
 * other bytes below 0x20 as \u00XX; everything else is copied. */
size_t ft_json_escape(char *dst, const char *s, size_t n);

#endif
