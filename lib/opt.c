/* opt — see opt.h. */
#include "opt.h"

#include "err.h"
#include "io.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The common options: letter, long name. */
static const struct {
	int letter;
	const char *name;
} common[] = {
	{ 'h', "help" }, { 'V', "version" }, { 'q', "quiet" },
	{ 'v', "verbose" }, { 'j', "threads" }, { 's', "seed" },
	{ 'o', "output" }, { 'f', "force" },
};
#define NCOMMON (sizeof common / sizeof common[0])

#define NAMEMAX 128 /* longer option names are never near a known one */

int
ft_opt_distance(const char *a, const char *b)
{
	/* three rows of the dynamic-programming table */
	int r0[NAMEMAX + 1], r1[NAMEMAX + 1], r2[NAMEMAX + 1];
	int *pp = r0, *p = r1, *c = r2, *t;
	size_t m = strlen(a), n = strlen(b);

	if (m > NAMEMAX || n > NAMEMAX)
		return INT_MAX;
	for (size_t j = 0; j <= n; j++)
		p[j] = (int)j;
	for (size_t i = 1; i <= m; i++) {
		c[0] = (int)i;
		for (size_t j = 1; j <= n; j++) {
			int v = p[j - 1] + (a[i - 1] != b[j - 1]);

			if (p[j] + 1 < v)
				v = p[j] + 1;
			if (c[j - 1] + 1 < v)
				v = c[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			c[j] = v;
		}
		t = pp;
		pp = p;
		p = c;
		c = t;
	}
	return p[n];
}

/* Length of the name part of "--name[=value]" (after the dashes). */
static size_t
name_len(const char *s)
{
	return strcspn(s, "=");
}

/* The long option a "--name" (its name part of length n) selects, as
 * getopt_long does: an exact name, or a prefix of options that all mean
 * the same.  NULL for none; *ambiguous is set when the prefix fits
 * options that differ. */
static const struct option *
find_long(const struct option *lo, const char *name, size_t n, int *ambiguous)
{
	const struct option *found = NULL;

	*ambiguous = 0;
	for (const struct option *o = lo; o->name != NULL; o++) {
		if (strncmp(o->name, name, n) != 0)
			continue;
		if (strlen(o->name) == n)
			return o;
		if (found == NULL)
			found = o;
		else if (found->has_arg != o->has_arg ||
		    found->flag != o->flag || found->val != o->val)
			*ambiguous = 1;
	}
	return *ambiguous ? NULL : found;
}

/* Before parsing: '_' in long option names becomes '-'.  Walks argv as
 * getopt_long will (an option's separate argument is skipped, "--" ends
 * the options), so operands and option arguments are left alone. */
static void
normalise(const ft_opts *p, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *s = argv[i];
		const char *l;

		if (strcmp(s, "--") == 0)
			return;
		if (s[0] != '-' || s[1] == '\0')
			continue;
		if (s[1] == '-') {
			size_t n = name_len(s + 2);
			const struct option *o;
			int amb;

			for (size_t k = 2; k < n + 2; k++)
				if (s[k] == '_')
					s[k] = '-';
			o = find_long(p->longopts, s + 2, n, &amb);
			if (o != NULL && o->has_arg == required_argument &&
			    s[2 + n] != '=')
				i++;
			continue;
		}
		for (const char *c = s + 1; *c != '\0'; c++) {
			l = strchr(p->shortopts, *c);
			if (l != NULL && *c != ':' && l[1] == ':' && l[2] != ':') {
				if (c[1] == '\0')
					i++;
				break;
			}
		}
	}
}

/* The common option a letter or long name stands for, if any. */
static int
common_of(int letter, const char *name, size_t n)
{
	for (size_t i = 0; i < NCOMMON; i++)
		if (letter ? common[i].letter == letter :
		    strlen(common[i].name) == n &&
		    strncmp(common[i].name, name, n) == 0)
			return (int)i;
	return -1;
}

static noreturn void
not_here(const ft_opts *p, int i)
{
	const char *why = NULL;

	for (const struct ft_opt_na *a = p->na; a != NULL && a->letter; a++)
		if (a->letter == common[i].letter)
			why = a->why;
	ft_usage_error("-%c/--%s does not apply to %s%s%s", common[i].letter,
	    common[i].name, ft_prog(), why ? ": " : "", why ? why : "");
}

/* "--NAME" is unknown: the nearest names, as one line. */
static noreturn void
unknown_long(const ft_opts *p, const char *name, size_t n)
{
	char typed[NAMEMAX + 1], buf[1024];
	int best = INT_MAX, d, i;
	size_t len = 0;

	i = common_of(0, name, n);
	if (i >= 0)
		not_here(p, i);
	if (n > NAMEMAX)
		ft_usage_error("unknown option '--%.*s'", NAMEMAX, name);
	memcpy(typed, name, n);
	typed[n] = '\0';
	for (const struct option *o = p->longopts; o->name != NULL; o++) {
		d = ft_opt_distance(typed, o->name);
		if (d < best)
			best = d;
	}
	/* git's rule of thumb: a few edits, fewer for short names */
	if (best > 3 || best > (int)(n + 2) / 3)
		ft_usage_error("unknown option '--%s'", typed);
	buf[0] = '\0';
	for (const struct option *o = p->longopts; o->name != NULL; o++)
		if (ft_opt_distance(typed, o->name) == best &&
		    len + strlen(o->name) + 8 < sizeof buf)
			len += (size_t)snprintf(buf + len, sizeof buf - len,
			    "%s'--%s'", len ? " or " : "", o->name);
	ft_usage_error("unknown option '--%s'; did you mean %s?", typed, buf);
}

static noreturn void
ambiguous_long(const ft_opts *p, const char *name, size_t n)
{
	char buf[1024];
	size_t len = 0;

	buf[0] = '\0';
	for (const struct option *o = p->longopts; o->name != NULL; o++)
		if (strncmp(o->name, name, n) == 0 &&
		    len + strlen(o->name) + 8 < sizeof buf)
			len += (size_t)snprintf(buf + len, sizeof buf - len,
			    "%s'--%s'", len ? ", " : "", o->name);
	ft_usage_error("option '--%.*s' is ambiguous: %s", (int)n, name, buf);
}

/* getopt_long returned '?' or ':' for the element argv[optind - 1]. */
static noreturn void
bad_option(const ft_opts *p, int c, char **argv)
{
	const char *arg = argv[optind - 1];
	const struct option *o;
	int amb, i;

	if (arg != NULL && arg[0] == '-' && arg[1] == '-' && arg[2] != '\0') {
		size_t n = name_len(arg + 2);

		o = find_long(p->longopts, arg + 2, n, &amb);
		if (amb)
			ambiguous_long(p, arg + 2, n);
		if (o == NULL)
			unknown_long(p, arg + 2, n);
		if (c == ':')
			ft_usage_error("option '--%s' needs an argument",
			    o->name);
		ft_usage_error("option '--%s' takes no argument", o->name);
	}
	if (c == ':') {
		for (i = 0; p->longopts[i].name != NULL; i++)
			if (p->longopts[i].val == optopt)
				ft_usage_error("option '-%c' (--%s) needs an "
				    "argument", optopt, p->longopts[i].name);
		ft_usage_error("option '-%c' needs an argument", optopt);
	}
	i = common_of(optopt, NULL, 0);
	if (i >= 0)
		not_here(p, i);
	if (optopt > ' ' && optopt < 127)
		ft_usage_error("unknown option '-%c'", optopt);
	ft_usage_error("unknown option '%s'", arg != NULL ? arg : "?");
}

/* The long option ft_getopt returned last, with its argument: the name
 * to report for that argument ("--learning-rate" when the user wrote the
 * alias of --lr). */
static char cur_name[NAMEMAX + 3];
static const char *cur_arg;

static const char *
spelled(const char *opt, const char *s)
{
	return s != NULL && s == cur_arg && cur_name[0] ? cur_name : opt;
}

int
ft_getopt(ft_opts *p, int argc, char **argv)
{
	char so[128];
	int c, idx, n;

	if (!p->prepared) {
		normalise(p, argc, argv);
		p->prepared = 1;
	}
	/* ':' first: '?' and ':' come back to bad_option, silently; then
	 * the tool's letters and those of h V q v its table has */
	n = snprintf(so, sizeof so, ":%s", p->shortopts);
	if (n < 0 || n >= (int)sizeof so - 5)
		ft_die("ft_getopt: option string too long");
	for (const char *l = "hVqv"; *l != '\0'; l++)
		for (const struct option *o = p->longopts; o->name; o++)
			if (o->val == *l && o->flag == NULL) {
				so[n++] = *l;
				so[n] = '\0';
				break;
			}
	opterr = 0;
	for (;;) {
		idx = -1;
		c = getopt_long(argc, argv, so, p->longopts, &idx);
		cur_arg = optarg;
		cur_name[0] = '\0';
		if (idx >= 0 && strlen(p->longopts[idx].name) <= NAMEMAX)
			snprintf(cur_name, sizeof cur_name, "--%s",
			    p->longopts[idx].name);
		switch (c) {
		case 'h':
			if (p->help_fn != NULL)
				p->help_fn();
			else
				fputs(p->help, stdout);
			exit(ft_close_stdout() ? FT_EXIT_FAIL : FT_EXIT_OK);
		case 'V':
			ft_print_version();
			exit(ft_close_stdout() ? FT_EXIT_FAIL : FT_EXIT_OK);
		case 'q':
			p->quiet = 1;
			p->verbose = 0;
			continue;
		case 'v':
			p->quiet = 0;
			p->verbose++;
			continue;
		case '?':
		case ':':
			bad_option(p, c, argv);
		case -1:
			return -1;
		default:
			return c;
		}
	}
}

/* "--opt: 'S' must be ...": hi NULL for no upper bound. */
static noreturn void
out_of_range(const char *opt, const char *s, const char *lo, const char *hi)
{
	if (hi == NULL)
		ft_usage_error("%s: '%s' must be at least %s", opt, s, lo);
	ft_usage_error("%s: '%s' must be between %s and %s", opt, s, lo, hi);
}

long
ft_parse_long(const char *opt, const char *s, long min, long max)
{
	char *end, lo[32], hi[32];
	long v;

	opt = spelled(opt, s);
	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno == ERANGE)
		ft_usage_error("%s: '%s' is not a number", opt, s);
	if (v < min || v > max) {
		snprintf(lo, sizeof lo, "%ld", min);
		snprintf(hi, sizeof hi, "%ld", max);
		out_of_range(opt, s, lo, max == LONG_MAX ? NULL : hi);
	}
	return v;
}

/* A range bound as %g writes it, unless that rounds it (0.999999999 is
 * not "1": the message would name a value the range excludes). */
static void
bound(char *b, size_t cap, double x)
{
	snprintf(b, cap, "%g", x);
	if (strtod(b, NULL) != x)
		snprintf(b, cap, "%.15g", x);
}

double
ft_parse_double(const char *opt, const char *s, double min, double max)
{
	char *end, lo[32], hi[32];
	double v;

	opt = spelled(opt, s);
	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno == ERANGE || isnan(v))
		ft_usage_error("%s: '%s' is not a number", opt, s);
	if (v < min || v > max) {
		bound(lo, sizeof lo, min);
		bound(hi, sizeof hi, max);
		out_of_range(opt, s, lo, max >= 1e300 ? NULL : hi);
	}
	return v;
}

const char *
ft_parse_path(const char *opt, const char *s)
{
	if (*s == '\0')
		ft_usage_error("%s: empty file name", spelled(opt, s));
	return s;
}

uint64_t
ft_parse_u64(const char *opt, const char *s, uint64_t max)
{
	char *end;
	unsigned long long v;

	opt = spelled(opt, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno == ERANGE)
		ft_usage_error("%s: '%s' is not a number", opt, s);
	if (v > max)
		ft_usage_error("%s: '%s' must be at most %llu", opt, s,
		    (unsigned long long)max);
	return (uint64_t)v;
}

void
ft_print_version(void)
{
	printf("%s (ft) %s\n", ft_prog(), FT_VERSION);
}
