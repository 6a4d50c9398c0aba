/* opt — the command-line layer every ft tool parses argv with.
 *
 * A tool keeps its getopt_long table (struct option, kebab-case names) and
 * its switch; ft_getopt() adds what is the same in every tool:
 *   - the common options, one meaning everywhere (FT_OPT_* rows below):
 *     -h/--help, -V/--version, -q/--quiet, -v/--verbose are handled here;
 *     -j/--threads, -s/--seed, -o/--output, -f/--force go to the tool;
 *   - a common option the tool does not take gets one line naming it
 *     ("ft-clean: -j/--threads does not apply to ft-clean: REASON");
 *   - '_' in a long option's name reads as '-' (--learning_rate, as the
 *     Hugging Face example scripts spell them);
 *   - an unknown option suggests the nearest known ones (Damerau-Levenshtein
 *     distance, as git's "did you mean"); an ambiguous abbreviation lists
 *     its candidates; an option without its argument names itself.
 * Every usage error is one line plus "Try 'PROG --help'", exit 2. */
#ifndef FT_OPT_H
#define FT_OPT_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

/* The common options' rows, for a tool's struct option table. */
#define FT_OPT_HELP { "help", no_argument, NULL, 'h' }
#define FT_OPT_VERSION { "version", no_argument, NULL, 'V' }
#define FT_OPT_QUIET { "quiet", no_argument, NULL, 'q' }
#define FT_OPT_VERBOSE { "verbose", no_argument, NULL, 'v' }
#define FT_OPT_THREADS { "threads", required_argument, NULL, 'j' }
#define FT_OPT_SEED { "seed", required_argument, NULL, 's' }
#define FT_OPT_OUTPUT { "output", required_argument, NULL, 'o' }
#define FT_OPT_FORCE { "force", no_argument, NULL, 'f' }
/* -h -V -q -v: every tool takes these */
#define FT_OPTS_COMMON FT_OPT_HELP, FT_OPT_VERSION, FT_OPT_QUIET, FT_OPT_VERBOSE

/* Why a tool lacks a common option: { 'j', "it runs on one thread" }. */
struct ft_opt_na {
	int letter;
	const char *why;
};

typedef struct ft_opts {
	const char *shortopts;      /* getopt's string, without a leading ':' */
	const struct option *longopts;
	const char *help;           /* --help text, or: */
	void (*help_fn)(void);      /* prints the --help text on stdout */
	const struct ft_opt_na *na; /* ends with { 0, NULL }; may be NULL */
	/* filled in by ft_getopt */
	int verbose;                /* number of -v; 0 after -q */
	int quiet;                  /* -q given (and no later -v) */
	int prepared;               /* argv's long names normalised */
} ft_opts;

/* getopt_long with the rules above: returns the next option's value for
 * the tool's switch (never '?' or ':', never h V q v), -1 at the end;
 * then p->quiet and p->verbose say what -q and -v asked for. */
int ft_getopt(ft_opts *p, int argc, char **argv);

/* Strict number parsing for options: the whole string must be a number in
 * [min, max], else a usage error naming the option ("--epochs: 'x' is not
 * a number"), exit 2. */
long ft_parse_long(const char *opt, const char *s, long min, long max);
double ft_parse_double(const char *opt, const char *s, double min, double max);
/* A file or folder name: s, or a usage error if it is empty ("" would
 * be joined into paths under '/'). */
const char *ft_parse_path(const char *opt, const char *s);
/* Digits only (no sign, no spaces), up to max. */
uint64_t ft_parse_u64(const char *opt, const char *s, uint64_t max);

/* Print "PROG (ft) VERSION" on stdout (for --version). */
void ft_print_version(void);

/* Optimal-string-alignment (restricted Damerau-Levenshtein) distance:
 * insertions, deletions, substitutions and adjacent transpositions. */
int ft_opt_distance(const char *a, const char *b);

#endif
