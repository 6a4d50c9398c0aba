/* err — see err.h. */
#include "err.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *prog = "ft";

void
ft_setprog(const char *argv0)
{
	const char *slash;

	if (argv0 == NULL || *argv0 == '\0')
		return;
	slash = strrchr(argv0, '/');
	prog = slash ? slash + 1 : argv0;
}

const char *
ft_prog(void)
{
	return prog;
}

void
ft_vmsg(const char *kind, const char *fmt, va_list ap)
{
	int saved = errno;
	size_t n = strlen(fmt);

	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	if (kind != NULL)
		fprintf(stderr, "%s: ", kind);
	vfprintf(stderr, fmt, ap);
	if (n > 0 && fmt[n - 1] == ':')
		fprintf(stderr, " %s", strerror(saved));
	fputc('\n', stderr);
	errno = saved;
}

noreturn void
ft_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ft_vmsg("error", fmt, ap);
	va_end(ap);
	exit(FT_EXIT_FAIL);
}

int
ft_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ft_vmsg("error", fmt, ap);
	va_end(ap);
	return -1;
}

void
ft_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ft_vmsg("warning", fmt, ap);
	va_end(ap);
}

void
ft_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ft_vmsg(NULL, fmt, ap);
	va_end(ap);
}

noreturn void
ft_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ft_vmsg(NULL, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	exit(FT_EXIT_USAGE);
}

static noreturn void
oom(size_t n)
{
	ft_die("out of memory (allocating %zu bytes)", n);
}

void *
ft_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
ft_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (size && nmemb > SIZE_MAX / size)
		oom(SIZE_MAX);
	p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		oom(nmemb * size);
	return p;
}

void *
ft_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

void
ft_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 16;

	if (need <= *cap)
		return;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			oom(SIZE_MAX);
		c *= 2;
	}
	if (elem && c > SIZE_MAX / elem)
		oom(SIZE_MAX);
	*p = ft_realloc(*p, c * elem);
	*cap = c;
}

char *
ft_strndup(const char *s, size_t n)
{
	char *d = ft_malloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
ft_strdup(const char *s)
{
	return ft_strndup(s, strlen(s));
}

char *
ft_asprintf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		ft_die("formatting failed");
	s = ft_malloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

void
ft_name_list(char *buf, size_t cap, size_t *k, const char *name, int *count)
{
	if (*count < 8 && *k < cap)
		*k += (size_t)snprintf(buf + *k, cap - *k, "%s'%s'",
		    *count ? ", " : "", name);
	else if (*count == 8 && *k < cap)
		*k += (size_t)snprintf(buf + *k, cap - *k, ", ...");
	(*count)++;
}
