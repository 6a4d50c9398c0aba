/* Unit tests for lib/sampler: kept sets against the torch reference
 * (tests/ref/sampler_ref.py -> tests/fixtures/sample/sampler.txt), then
 * argmax ties, NaN/inf handling and the categorical draw. */
#include "check.h"
#include "err.h"
#include "io.h"
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *
fixture_path(const char *name)
{
	const char *top = getenv("FT_TOP");

	return ft_asprintf("%s/tests/fixtures/sample/%s", top ? top : ".", name);
}

/* Read tests/fixtures/sample/NAME into *buf (NULL when it cannot be read:
 * a failed check) and return its first line (strtok_r state in *save). */
static char *
fixture_first(const char *name, char **buf, char **save)
{
	char *path = fixture_path(name);
	size_t len;

	*buf = NULL;
	if (ft_read_file(path, buf, &len) != 0) {
		CHECK(0);
		free(path);
		return NULL;
	}
	free(path);
	return strtok_r(*buf, "\n", save);
}

/* Parse "WORD x x x ..." into v (n numbers); returns count. */
static int
parse_floats(char *line, const char *word, float *v, int max)
{
	char *p = line, *end;
	int n = 0;

	if (strncmp(p, word, strlen(word)) != 0)
		return -1;
	p += strlen(word);
	for (;;) {
		float x = strtof(p, &end);

		if (end == p)
			break;
		if (n < max)
			v[n] = x;
		n++;
		p = end;
	}
	return n;
}

static void
test_fixture(void)
{
	char *buf, *save = NULL, *line = fixture_first("sampler.txt", &buf, &save);
	int ncase = 0, nties = 0;

	while (line != NULL) {
		char name[64];
		int V, tie, mink, nk, nv;
		double t, p;
		long k;
		float *logits, *vals, *kept;
		struct ft_sampler s;
		struct ft_sampler_params prm;

		CHECK(sscanf(line, "case %63s %d %lf %ld %lf %d %d", name, &V, &t,
		    &k, &p, &mink, &tie) == 7);
		logits = ft_malloc((size_t)V * sizeof(*logits));
		kept = ft_malloc(((size_t)V + 1) * sizeof(*kept));
		vals = ft_malloc(((size_t)V + 1) * sizeof(*vals));
		line = strtok_r(NULL, "\n", &save);
		CHECK_EQ_INT(parse_floats(line, "logits", logits, V), V);
		line = strtok_r(NULL, "\n", &save);
		nk = parse_floats(line, "kept", kept, V + 1);
		line = strtok_r(NULL, "\n", &save);
		nv = parse_floats(line, "values", vals, V);
		line = strtok_r(NULL, "\n", &save);
		CHECK(nk >= 1 && nv == (int)kept[0] && nk == nv + 1);

		prm = (struct ft_sampler_params){ t, k, p, 0, mink, 1, 0, 0 };
		CHECK(ft_sampler_init(&s, &prm, V) == 0);
		{
			int n = ft_sampler_warp(&s, logits), ok = n == nv, nfin = 0;

			for (int j = 0; ok && j < n; j++)
				ok = s.idx[j] == (int)kept[j + 1]
				    && logits[s.idx[j]] == vals[j];
			for (int i = 0; i < V; i++)
				nfin += logits[i] > -INFINITY;
			ok = ok && nfin == n;
			if (!ok)
				fprintf(stderr, "case %s: kept %d, want %d\n",
				    name, n, nv);
			CHECK(ok);
		}
		ft_sampler_release(&s);
		free(logits);
		free(kept);
		free(vals);
		ncase++;
		nties += tie;
	}
	CHECK(ncase >= 60);
	CHECK(nties >= 1); /* the fixture covers top-p cuts inside ties */
	free(buf);
}

/* The sequence processors against tests/fixtures/sample/processors.txt
 * (torch versions of transformers' RepetitionPenaltyLogitsProcessor,
 * NoRepeatNGramLogitsProcessor, MinNewTokensLengthLogitsProcessor):
 * every processed logit bit for bit. */
static void
test_processors(void)
{
	char *buf, *save = NULL, *line = fixture_first("processors.txt", &buf, &save);
	int ncase = 0;

	while (line != NULL) {
		char name[64];
		int V, ngram, minnew, plen, nids, neos, bad = 0;
		double pen;
		float *x, *want, *tmp;
		int32_t *ids, eos[8];
		struct ft_sampler s;
		struct ft_sampler_params prm = FT_SAMPLER_DEFAULTS;

		CHECK(sscanf(line, "proc %63s %d %lf %d %d %d", name, &V, &pen,
		    &ngram, &minnew, &plen) == 6);
		x = ft_malloc((size_t)V * sizeof(*x));
		want = ft_malloc((size_t)V * sizeof(*want));
		tmp = ft_malloc(((size_t)V + 200) * sizeof(*tmp));
		line = strtok_r(NULL, "\n", &save);
		nids = parse_floats(line, "ids", tmp, V + 200);
		ids = ft_malloc((size_t)(nids > 0 ? nids : 1) * sizeof(*ids));
		for (int i = 0; i < nids; i++)
			ids[i] = (int32_t)tmp[i];
		CHECK(nids >= 1 && (int)tmp[0] == nids - 1);
		line = strtok_r(NULL, "\n", &save);
		neos = parse_floats(line, "eos", tmp, 8);
		for (int i = 1; i < neos; i++)
			eos[i - 1] = (int32_t)tmp[i];
		line = strtok_r(NULL, "\n", &save);
		CHECK_EQ_INT(parse_floats(line, "logits", x, V), V);
		line = strtok_r(NULL, "\n", &save);
		CHECK_EQ_INT(parse_floats(line, "out", want, V), V);
		line = strtok_r(NULL, "\n", &save);

		prm.repetition_penalty = pen;
		prm.no_repeat_ngram_size = ngram;
		prm.min_new_tokens = minnew;
		CHECK(ft_sampler_init(&s, &prm, V) == 0);
		CHECK(ft_sampler_has_processors(&s) ==
		    (pen != 1 || ngram > 0 || minnew > 0));
		memcpy(tmp, x, (size_t)V * sizeof(*tmp));
		ft_sampler_process(&s, x, ids + 1, nids - 1, plen, eos, neos - 1);
		for (int i = 0; i < V; i++)
			if (memcmp(&x[i], &want[i], sizeof(float)) != 0) {
				if (bad++ == 0)
					fprintf(stderr, "%s: logit %d = %.9g, want "
					    "%.9g\n", name, i, x[i], want[i]);
			}
		CHECK(bad == 0);
		/* the scratch is clean again: the same call gives the same */
		ft_sampler_process(&s, tmp, ids + 1, nids - 1, plen, eos, neos - 1);
		CHECK(memcmp(tmp, x, (size_t)V * sizeof(*tmp)) == 0);
		ft_sampler_release(&s);
		free(x);
		free(want);
		free(tmp);
		free(ids);
		ncase++;
	}
	CHECK(ncase >= 100);
	printf("processors: %d cases\n", ncase);
	free(buf);
}

/* Processors with a greedy pick (generate applies them before argmax too),
 * ids outside the vocabulary, and the scratch reused across calls. */
static void
test_processors_greedy(void)
{
	struct ft_sampler s;
	struct ft_sampler_params prm = FT_SAMPLER_DEFAULTS;
	float x[4] = { 3, 2, 1, 0 }, y[4];
	int32_t ids[] = { 0, 0, -1, 99 }, eos = 1;

	prm.greedy = 1;
	prm.repetition_penalty = 2;
	prm.min_new_tokens = 3;
	CHECK(ft_sampler_init(&s, &prm, 4) == 0);
	ft_sampler_process(&s, x, ids, 4, 2, &eos, 1);
	/* 0 -> 1.5; eos 1 banned (2 new < 3); -1 and 99 ignored */
	CHECK(x[0] == 1.5f && isinf(x[1]) && x[1] < 0 && x[2] == 1 && x[3] == 0);
	CHECK_EQ_INT(ft_sampler_pick(&s, x, 0.5), 0);
	memcpy(y, (float[4]){ 3, 2, 1, 0 }, sizeof y);
	ft_sampler_process(&s, y, ids, 2, 0, &eos, 1);  /* once per token */
	CHECK(y[0] == 1.5f);
	ft_sampler_process(&s, y, ids, 5 - 1, 1, &eos, 1);
	CHECK(y[0] == 0.75f);
	ft_sampler_release(&s);
	prm.repetition_penalty = 1;
	prm.min_new_tokens = 0;
	CHECK(ft_sampler_init(&s, &prm, 4) == 0);
	CHECK(!ft_sampler_has_processors(&s));
	ft_sampler_release(&s);
	prm.repetition_penalty = -1;
	CHECK(ft_sampler_init(&s, &prm, 4) == -1);
	prm.repetition_penalty = 1;
	prm.no_repeat_ngram_size = -1;
	CHECK(ft_sampler_init(&s, &prm, 4) == -1);
}

static void
test_s14(void)
{
	/* docs/hf-reference.md §14: logits [2, 1, 0.5, 0, -1, 3], top-p 0.92 alone
	 * removes the tokens with logits -1 and 0. */
	float x[6] = { 2, 1, 0.5f, 0, -1, 3 };
	struct ft_sampler_params p = { 1.0, 0, 0.92, 0, 1, 1, 0, 0 };
	struct ft_sampler s;

	CHECK(ft_sampler_init(&s, &p, 6) == 0);
	CHECK_EQ_INT(ft_sampler_warp(&s, x), 4);
	CHECK(isinf(x[3]) && isinf(x[4]) && x[0] == 2 && x[5] == 3);
	ft_sampler_release(&s);
}

static void
test_pick(void)
{
	struct ft_sampler_params p = { 1.0, 0, 1.0, 0, 1, 1, 0, 0 };
	struct ft_sampler s;
	float x[3];

	CHECK(ft_sampler_init(&s, &p, 3) == 0);
	/* probabilities 0.25 and 0.75, token 1 removed */
	x[0] = 0, x[1] = -INFINITY, x[2] = logf(3);
	CHECK_EQ_INT(ft_sampler_pick(&s, x, 0.0), 0);
	x[0] = 0, x[1] = -INFINITY, x[2] = logf(3);
	CHECK_EQ_INT(ft_sampler_pick(&s, x, 0.2499), 0);
	x[0] = 0, x[1] = -INFINITY, x[2] = logf(3);
	CHECK_EQ_INT(ft_sampler_pick(&s, x, 0.2501), 2);
	x[0] = 0, x[1] = -INFINITY, x[2] = logf(3);
	CHECK_EQ_INT(ft_sampler_pick(&s, x, 0.9999999), 2);
	/* NaN counts as -inf; all NaN: no token */
	x[0] = NAN, x[1] = 1, x[2] = NAN;
	CHECK_EQ_INT(ft_sampler_pick(&s, x, 0.5), 1);
	x[0] = NAN, x[1] = NAN, x[2] = -INFINITY;
	CHECK_EQ_INT(ft_sampler_pick(&s, x, 0.5), -1);
	/* +inf logits share the mass */
	x[0] = INFINITY, x[1] = 1, x[2] = INFINITY;
	CHECK_EQ_INT(ft_sampler_pick(&s, x, 0.4), 0);
	x[0] = INFINITY, x[1] = 1, x[2] = INFINITY;
	CHECK_EQ_INT(ft_sampler_pick(&s, x, 0.6), 2);
	ft_sampler_release(&s);

	/* greedy: first maximum, no warping, temperature 0 too */
	p = (struct ft_sampler_params){ 0.0, 50, 0.92, 0, 1, 1, 0, 0 };
	CHECK(ft_sampler_init(&s, &p, 3) == 0);
	CHECK(ft_sampler_is_greedy(&s));
	x[0] = 1, x[1] = 5, x[2] = 5;
	CHECK_EQ_INT(ft_sampler_pick(&s, x, 0.9), 1);
	CHECK(x[0] == 1); /* untouched */
	ft_sampler_release(&s);

	/* the draw follows the distribution: 20000 stratified draws */
	{
		enum { V = 5, N = 20000 };
		float base[V] = { 1, 2, 0.5f, -1, 1.5f }, y[V];
		int cnt[V] = { 0 };
		double z = 0;

		p = (struct ft_sampler_params){ 1.0, 0, 1.0, 0, 1, 1, 0, 0 };
		CHECK(ft_sampler_init(&s, &p, V) == 0);
		for (int i = 0; i < N; i++) {
			memcpy(y, base, sizeof(y));
			cnt[ft_sampler_pick(&s, y, (i + 0.5) / N)]++;
		}
		for (int i = 0; i < V; i++)
			z += exp(base[i]);
		for (int i = 0; i < V; i++)
			CHECK(fabs(cnt[i] / (double)N - exp(base[i]) / z) < 2e-4);
		ft_sampler_release(&s);
	}
}

static void
test_bad_params(void)
{
	struct ft_sampler s;
	struct ft_sampler_params p = { -1, 50, 0.9, 0, 1, 1, 0, 0 };

	fprintf(stderr, "(expected errors follow)\n");
	CHECK(ft_sampler_init(&s, &p, 10) == -1);
	p = (struct ft_sampler_params){ 1, 50, 0, 0, 1, 1, 0, 0 };
	CHECK(ft_sampler_init(&s, &p, 10) == -1);
	p = (struct ft_sampler_params){ 1, -2, 0.5, 0, 1, 1, 0, 0 };
	CHECK(ft_sampler_init(&s, &p, 10) == -1);
	p = (struct ft_sampler_params){ 1, 2, 0.5, 0, 0, 1, 0, 0 };
	CHECK(ft_sampler_init(&s, &p, 10) == -1);
	ft_sampler_release(NULL);
}

int
main(void)
{
	ft_setprog("test_sampler");
	test_fixture();
	test_processors();
	test_processors_greedy();
	test_s14();
	test_pick();
	test_bad_params();
	return check_done();
}
