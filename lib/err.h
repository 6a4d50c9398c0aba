/* err — messages, exit codes and checked allocation shared by every ft tool.
 *
 * Messages go to stderr as "PROG: error: TEXT".  A format that ends in ':'
 * gets ": strerror(errno)" appended (the sbase trick), so
 * ft_die("cannot open '%s':", path) prints the system's reason too.
 * Library code reports with ft_error() and returns -1; only tools exit. */
#ifndef FT_ERR_H
#define FT_ERR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdnoreturn.h>

#define FT_VERSION "0.1.0"

enum {
	FT_EXIT_OK = 0,    /* success */
	FT_EXIT_FAIL = 1,  /* runtime error: bad input, I/O, numerics */
	FT_EXIT_USAGE = 2, /* bad command line */
};

/* Set the name used in messages (basename of argv[0]). */
void ft_setprog(const char *argv0);
const char *ft_prog(void);

/* "PROG: error: ..." then exit(1). */
noreturn void ft_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* "PROG: error: ..." and return -1, for library code. */
int ft_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "PROG: warning: ..." */
void ft_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "PROG: note: ..." (informational, e.g. -v counters). */
void ft_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "PROG: TEXT\nTry 'PROG --help' for more information." then exit(2). */
noreturn void ft_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
void ft_vmsg(const char *kind, const char *fmt, va_list ap);
/* Allocation that dies with a message instead of returning NULL. */
void *ft_malloc(size_t n);
void *ft_calloc(size_t nmemb, size_t size);
void *ft_realloc(void *p, size_t n);
/* Grow *p (holding *cap elements of size elem) to at least need elements. */
void ft_grow(void **p, size_t *cap, size_t need, size_t elem);
char *ft_strdup(const char *s);
char *ft_strndup(const char *s, size_t n);
/* malloc'd printf. */
char *ft_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For a message naming what is missing or unexpected: append 'name' to
 * the list buf[0..cap) at *k (", " between, ", ..." after the eighth)
 * and count it in *count. */
void ft_name_list(char *buf, size_t cap, size_t *k, const char *name,
    int *count);

#endif
