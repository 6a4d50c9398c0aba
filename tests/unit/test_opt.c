/* lib/opt: the edit distance behind "did you mean" (values from the
 * textbook optimal-string-alignment recurrence in Python), and ft_getopt's
 * parsing: '_' for '-' in long names only, aliases, -v/-q, operands and
 * option arguments left alone.  (Its usage errors exit; tests/cli/opts.sh
 * covers them.) */
#include "check.h"
#include "opt.h"

#include <string.h>

static void
test_distance(void)
{
	static const struct {
		const char *a, *b;
		int d;
	} t[] = {
		{ "kitten", "sitting", 3 },
		{ "ab", "ba", 1 },
		{ "ca", "abc", 3 }, /* OSA, not unrestricted Damerau (2) */
		{ "", "abc", 3 },
		{ "learnig-rate", "learning-rate", 1 },
		{ "svae-steps", "save-steps", 1 },
		{ "top-x", "top-k", 1 },
		{ "abcdef", "badcfe", 3 },
		{ "lr", "rl", 1 },
		{ "seed", "seed", 0 },
		{ "max-new-token", "max-new-tokens", 1 },
		{ "gradient-accumulation", "grad-accum", 11 },
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		CHECK_EQ_INT(ft_opt_distance(t[i].a, t[i].b), t[i].d);
		CHECK_EQ_INT(ft_opt_distance(t[i].b, t[i].a), t[i].d);
	}
}

enum { O_LR = 256, O_STOP, O_FLAG };

static const struct option lo[] = {
	{ "lr", required_argument, NULL, O_LR },
	{ "learning-rate", required_argument, NULL, O_LR },
	{ "stop", required_argument, NULL, O_STOP },
	{ "no-flag", no_argument, NULL, O_FLAG },
	FT_OPT_SEED,
	FT_OPTS_COMMON,
	{ NULL, 0, NULL, 0 },
};

static void
test_getopt(void)
{
	char a0[] = "ft-x", a1[] = "--learning_rate", a2[] = "0.5",
	    a3[] = "--stop", a4[] = "--a_b", a5[] = "-vv", a6[] = "op_1",
	    a7[] = "--no_flag", a8[] = "-s", a9[] = "--x_y", a10[] = "-q",
	    a11[] = "--stop=c_d", a12[] = "--", a13[] = "--not_an_option";
	char *argv[] = { a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11,
	    a12, a13, NULL };
	int argc = 14, c, n = 0;
	ft_opts p = { .shortopts = "s:", .longopts = lo, .help = "" };
	int got[16];
	const char *args[16];

	optind = 0; /* glibc: start afresh */
	while ((c = ft_getopt(&p, argc, argv)) != -1 && n < 16) {
		args[n] = optarg;
		got[n++] = c;
	}
	CHECK_EQ_INT(n, 5);
	CHECK_EQ_INT(got[0], O_LR);
	CHECK(strcmp(args[0], "0.5") == 0);
	CHECK_EQ_INT(got[1], O_STOP);
	CHECK(strcmp(args[1], "--a_b") == 0); /* an argument: as given */
	CHECK_EQ_INT(got[2], O_FLAG);
	CHECK_EQ_INT(got[3], 's');
	CHECK(strcmp(args[3], "--x_y") == 0);
	CHECK_EQ_INT(got[4], O_STOP);
	CHECK(strcmp(args[4], "c_d") == 0); /* after '=': as given */
	CHECK(strcmp(a1, "--learning-rate") == 0);
	CHECK(strcmp(a7, "--no-flag") == 0);
	/* -vv then -q: the last one wins */
	CHECK_EQ_INT(p.verbose, 0);
	CHECK_EQ_INT(p.quiet, 1);
	/* operands, and everything after "--", stay as given */
	CHECK_EQ_INT(argc - optind, 2);
	CHECK(strcmp(argv[optind], "op_1") == 0);
	CHECK(strcmp(argv[optind + 1], "--not_an_option") == 0);
}

int
main(void)
{
	test_distance();
	test_getopt();
	return check_done();
}
