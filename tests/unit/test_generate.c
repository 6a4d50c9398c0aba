/* Unit tests for lib/generate on the tiny fixture model
 * (tests/fixtures/sample/tiny, written by tests/ref/sample_greedy_ref.py):
 *  - KV-cache logits (prefill + decode steps, several rows at different
 *    lengths) equal full-recompute logits within 1e-5 relative;
 *  - the prompt's last logits equal PyTorch's within 1e-4;
 *  - greedy ids through the cache equal the reference's for every prompt;
 *  - ft_gen_run's greedy text equals the reference's, and
 *    a batch of samples repeats per seed and row. */
#include "check.h"
#include "bpe.h"
#include "err.h"
#include "generate.h"
#include "model/model.h"
#include "io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct refcase {
	int32_t ids[64], new[64];
	int n, nnew;
	float logits0[512];
	int V;
	char text[1024];
	size_t tlen;
};

static int
parse_ints(const char *s, int32_t *v, int max)
{
	int n = 0;
	char *end;

	for (;;) {
		long x = strtol(s, &end, 10);

		if (end == s || n >= max)
			return n;
		v[n++] = (int32_t)x;
		s = end;
	}
}

static size_t
unhex(const char *h, char *out)
{
	size_t k = 0;

	if (*h == '-')
		return 0;
	for (; h[0] && h[1]; h += 2) {
		unsigned v;

		sscanf(h, "%2x", &v);
		out[k++] = (char)v;
	}
	return k;
}

static int
load_ref(const char *path, struct refcase *rc, int max)
{
	char *buf, *save = NULL;
	size_t len;
	int n = -1;

	if (ft_read_file(path, &buf, &len) != 0)
		return 0;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n",
	    &save)) {
		if (strncmp(l, "prompt ", 7) == 0 && n + 1 < max)
			memset(&rc[++n], 0, sizeof(rc[0]));
		else if (n < 0)
			continue;
		else if (strncmp(l, "ids ", 4) == 0)
			rc[n].n = parse_ints(l + 4, rc[n].ids, 64);
		else if (strncmp(l, "new ", 4) == 0)
			rc[n].nnew = parse_ints(l + 4, rc[n].new, 64);
		else if (strncmp(l, "text ", 5) == 0)
			rc[n].tlen = unhex(l + 5, rc[n].text);
		else if (strncmp(l, "logits0 ", 8) == 0) {
			char *p = l + 8, *end;

			for (;;) {
				float x = strtof(p, &end);

				if (end == p || rc[n].V >= 512)
					break;
				rc[n].logits0[rc[n].V++] = x;
				p = end;
			}
		}
	}
	free(buf);
	return n + 1;
}

static double
rel_diff(const float *a, const float *b, int n)
{
	double d = 0, m = 1e-30;

	for (int i = 0; i < n; i++) {
		d = fmax(d, fabs((double)a[i] - b[i]));
		m = fmax(m, fabs((double)b[i]));
	}
	return d / m;
}

/* Every position of a sequence through the cache vs. a full forward: row
 * r of a 3-row cache holds the sequence shifted to start at ids[r]. */
static void
test_kv(ft_model *m, const int32_t *seq, int T)
{
	const int V = m->cfg.vocab_size, B = 3, pre = 4;
	ft_kv *kv = ft_kv_new(m, B, T);
	float *full = ft_malloc((size_t)T * V * sizeof(float));
	float *step = ft_malloc((size_t)B * V * sizeof(float));
	double worst = 0;
	int32_t next[3];
	uint8_t active[3];

	CHECK(kv != NULL);
	/* full recompute of each row's sequence, kept per row */
	for (int r = 0; r < B; r++) {
		int n = T - r;

		ft_model_forward(m, seq + r, NULL, NULL, 1, n);
		memcpy(full, ft_model_logits(m), (size_t)n * V * sizeof(float));
		ft_kv_reset(kv, r);
		CHECK(ft_kv_prefill(m, kv, r, seq + r, pre + r, step) == 0);
		worst = fmax(worst, rel_diff(step, full + (size_t)(pre + r - 1)
		    * V, V));
		/* the other rows are filled below; check this row alone
		 * first, then restart it in the batch */
		ft_kv_reset(kv, r);
	}
	for (int r = 0; r < B; r++)
		CHECK(ft_kv_prefill(m, kv, r, seq + r, pre + r, step) == 0);
	for (int t = 0;; t++) {
		int any = 0;

		for (int r = 0; r < B; r++) {
			int pos = ft_kv_len(kv, r);

			/* rows take turns idling, to test the active mask */
			active[r] = pos < T - r && (t + r) % 4 != 3;
			next[r] = active[r] ? seq[r + pos] : 0;
			any |= active[r];
		}
		if (!any) {
			int left = 0;

			for (int r = 0; r < B; r++)
				left |= ft_kv_len(kv, r) < T - r;
			if (!left)
				break;
			continue;
		}
		CHECK(ft_kv_decode_step(m, kv, next, active, step) == 0);
		for (int r = 0; r < B; r++) {
			int pos;

			if (!active[r])
				continue;
			pos = ft_kv_len(kv, r) - 1;
			ft_model_forward(m, seq + r, NULL, NULL, 1, pos + 1);
			worst = fmax(worst, rel_diff(step + (size_t)r * V,
			    ft_model_logits(m) + (size_t)pos * V, V));
		}
	}
	fprintf(stderr, "kv vs full recompute: max rel diff %.3g\n", worst);
	CHECK(worst <= 1e-5);
	ft_kv_free(kv);
	free(full);
	free(step);
}

struct got {
	char text[4][1024];
	size_t len[4];
	int ends[4];
};

static int
on_text(void *ctx, int row, const char *s, size_t n)
{
	struct got *g = ctx;

	if (g->len[row] + n <= sizeof(g->text[row])) {
		memcpy(g->text[row] + g->len[row], s, n);
		g->len[row] += n;
	}
	return 0;
}

static int
on_end(void *ctx, int row, enum ft_gen_end why)
{
	((struct got *)ctx)->ends[row] = why;
	return 0;
}

int
main(void)
{
	const char *top = getenv("FT_TOP");
	char *dir = ft_asprintf("%s/tests/fixtures/sample/tiny", top ? top : ".");
	char *ref = ft_asprintf("%s/tests/fixtures/sample/greedy.txt",
	    top ? top : ".");
	static struct refcase rc[8];
	int nref = load_ref(ref, rc, 8);
	ft_model m = { 0 };
	struct ft_bpe *tok;
	int32_t eos;

	ft_setprog("test_generate");
	CHECK(nref >= 5);
	if (ft_model_load(&m, dir) != 0 || (tok = ft_bpe_load_dir(dir)) == NULL) {
		CHECK(0);
		return check_done();
	}
	ft_model_set_threads(&m, 2);
	eos = m.cfg.eos_token_id;

	for (int i = 0; i < nref; i++) {
		int32_t seq[80];
		int T = rc[i].n + rc[i].nnew;

		CHECK_EQ_INT(rc[i].V, m.cfg.vocab_size);
		/* the prompt's logits against PyTorch */
		ft_model_forward(&m, rc[i].ids, NULL, NULL, 1, rc[i].n);
		CHECK(rel_diff(ft_model_logits(&m) + (size_t)(rc[i].n - 1) *
		    m.cfg.vocab_size, rc[i].logits0, m.cfg.vocab_size) < 1e-4);
		memcpy(seq, rc[i].ids, (size_t)rc[i].n * sizeof(int32_t));
		memcpy(seq + rc[i].n, rc[i].new, (size_t)rc[i].nnew *
		    sizeof(int32_t));
		if (i == 0 && T >= 12)
			test_kv(&m, seq, T);
	}

	/* greedy ids through the cache equal the reference's ids */
	for (int i = 0; i < nref; i++) {
		const int V = m.cfg.vocab_size;
		ft_kv *kv = ft_kv_new(&m, 1, 40);
		float *lg = ft_malloc((size_t)V * sizeof(float));
		int ok = ft_kv_prefill(&m, kv, 0, rc[i].ids, rc[i].n, lg) == 0;

		for (int t = 0; ok && t < rc[i].nnew; t++) {
			int32_t id = ft_sampler_argmax(lg, V);

			ok = id == rc[i].new[t];
			if (ok && t + 1 < rc[i].nnew)
				ok = ft_kv_decode_step(&m, kv, &id, NULL, lg) == 0;
		}
		CHECK(ok);
		ft_kv_free(kv);
		free(lg);
	}

	/* greedy through ft_gen_run: the reference text, 2 rows alike */
	for (int i = 0; i < nref; i++) {
		struct ft_gen_opts o = { .sampler = { 1, 0, 1, 1, 1 },
		    .max_length = 40, .skip_special = 1, .eos = &eos, .neos = 1 };
		struct ft_gen *g = ft_gen_new(&m, tok, 2, &o);
		struct got got = { 0 };

		CHECK(ft_gen_run(g, rc[i].ids, rc[i].n, on_text, on_end, &got) == 0);
		for (int r = 0; r < 2; r++) {
			CHECK(got.len[r] == rc[i].tlen
			    && memcmp(got.text[r], rc[i].text, rc[i].tlen) == 0);
			CHECK_EQ_INT(got.ends[r], rc[i].new[rc[i].nnew - 1] == eos
			    ? FT_GEN_EOS : FT_GEN_LENGTH);
		}
		ft_gen_free(g);
	}

	/* sampling: row r is the same in a batch of 3 and of 1 */
	{
		struct ft_gen_opts o = { .sampler = FT_SAMPLER_DEFAULTS,
		    .seed = 9, .max_new_tokens = 15, .skip_special = 1,
		    .eos = &eos, .neos = 1 };
		struct ft_gen *g3 = ft_gen_new(&m, tok, 3, &o);
		struct ft_gen *g1 = ft_gen_new(&m, tok, 1, &o);
		struct got a = { 0 }, b = { 0 };

		CHECK(ft_gen_run(g3, rc[0].ids, rc[0].n, on_text, on_end, &a) == 0);
		CHECK(ft_gen_run(g1, rc[0].ids, rc[0].n, on_text, on_end, &b) == 0);
		CHECK(a.len[0] == b.len[0]
		    && memcmp(a.text[0], b.text[0], a.len[0]) == 0);
		CHECK(a.len[1] != a.len[0] || a.len[2] != a.len[0]
		    || memcmp(a.text[1], a.text[0], a.len[0]) != 0
		    || memcmp(a.text[2], a.text[0], a.len[0]) != 0);
		ft_gen_free(g3);
		ft_gen_free(g1);
	}
	ft_bpe_free(tok);
	ft_model_release(&m);
	free(dir);
	free(ref);
	return check_done();
}
