/* quant: bf16 rounding against torch's bits, the vector conversion against
 * the scalar one, bf16 and Q8_0 weights (built from fp32, from bf16 and
 * from a BF16 safetensors tensor, both layouts) and the few-row matmul on
 * every instruction set this CPU has, against an exact matmul of the
 * weights read back, at odd sizes, 1..13 rows, 1 and 2 threads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "rng.h"
#include "err.h"
#include "quant.h"
#include "safetensors.h"

static struct ft_rng rng;

static float
frand(void)
{
	return ft_rng_float(&rng) * 2.0f - 1.0f;
}

static float
fbits(uint32_t u)
{
	union { uint32_t u; float f; } v = { u };

	return v.f;
}

static void
test_round(void)
{
	/* (fp32 bits, torch 1.13 x.to(torch.bfloat16) bits) */
	static const uint32_t t[][2] = {
		{ 0x3f800000, 0x3f80 }, { 0x3f808000, 0x3f80 },
		{ 0x3f818000, 0x3f82 }, { 0x3f808001, 0x3f81 },
		{ 0x7f7fffff, 0x7f80 }, { 0x00000001, 0x0000 },
		{ 0x80008000, 0x8000 }, { 0x007fffff, 0x0080 },
		{ 0x7f800000, 0x7f80 }, { 0xff800000, 0xff80 },
		{ 0x7fc00001, 0xffff }, { 0x7f800001, 0xffff },
		{ 0xffff8000, 0xffff }, { 0xc0490fdb, 0xc049 },
	};
	size_t nt = sizeof(t) / sizeof(t[0]), n = 1000 + 13;
	float *x = malloc(n * sizeof(float)), *back = malloc(n * sizeof(float));
	ft_bf16 *h = malloc(n * sizeof(ft_bf16));

	for (size_t i = 0; i < nt; i++)
		CHECK_EQ_INT(ft_bf16_round(fbits(t[i][0])), t[i][1]);
	/* the vector path (threads, tails) gives the scalar bits */
	for (size_t i = 0; i < n; i++)
		x[i] = i < nt ? fbits(t[i][0]) : frand() * 1e3f;
	for (int th = 1; th <= 2; th++)
		for (size_t m = 1; m <= n; m += 97) {
			int bad = 0;
			ft_bf16_from_f32(h, x + (m & 7), m - (m & 7), th);
			for (size_t i = 0; i < m - (m & 7); i++)
				bad += h[i] != ft_bf16_round(x[(m & 7) + i]);
			CHECK_EQ_INT(bad, 0);
		}
	ft_bf16_from_f32(h, x, n, 2);
	ft_bf16_to_f32(back, h, n, 2);
	{
		int bad = 0;
		for (size_t i = 0; i < n; i++)
			bad += memcmp(&back[i], &(float){ ft_bf16_float(h[i]) },
			    sizeof(float)) != 0;
		CHECK_EQ_INT(bad, 0);
	}
	free(x);
	free(back);
	free(h);
}

/* w[out, in] (Linear layout) from a source in layout lay */
static float
at(const float *w, int o, int i, int out, int in, ft_wlayout lay)
{
	return lay == FT_W_OI ? w[(size_t)o * in + i] : w[(size_t)i * out + o];
}

/* Q8_0 and bf16 read-back against the source */
static void
check_format(const ft_qmat *m, const float *w, ft_wlayout lay)
{
	int out = m->rows, in = m->cols, bad = 0, badq = 0;
	float *d = malloc((size_t)out * in * sizeof(float));

	ft_qmat_dequant(m, d);
	for (int o = 0; o < out; o++)
		for (int i = 0; i < in; i++) {
			float x = at(w, o, i, out, in, lay), y = d[(size_t)o * in + i];

			if (m->type == FT_Q_BF16) {
				bad += y != ft_bf16_float(ft_bf16_round(x));
				continue;
			} else {
				int b0 = i / FT_QBLOCK * FT_QBLOCK;
				float amax = 0, sc = m->d[((size_t)o * m->ld + i) /
				    FT_QBLOCK];
				for (int j = b0; j < b0 + FT_QBLOCK && j < in; j++)
					amax = fmaxf(amax, fabsf(at(w, o, j, out, in, lay)));
				badq += sc != amax / 127.0f;
				badq += abs(m->q[(size_t)o * m->ld + i]) > 127;
				bad += fabsf(x - y) > 0.5f * sc * (1 + 0x1p-20f);
			}
		}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(badq, 0);
	{
		float *row = malloc((size_t)in * sizeof(float));
		ft_qmat_row(m, out - 1, row);
		CHECK(memcmp(row, d + (size_t)(out - 1) * in,
		    (size_t)in * sizeof(float)) == 0);
		free(row);
	}
	/* padding is zero, so the kernels' padded tail adds nothing */
	for (int o = 0; o < out; o++)
		for (int i = in; i < m->ld; i++)
			badq += m->type == FT_Q_BF16 ? m->w16[(size_t)o * m->ld + i] != 0 :
			    m->q[(size_t)o * m->ld + i] != 0;
	CHECK_EQ_INT(badq, 0);
	free(d);
}

/* ft_qmat_mul against Σ a·w in double on the read-back weights: the only
 * difference allowed is fp32 summation, |err| <= (in+2) 2^-24 Σ|a w|. */
static void
check_mul(const ft_qmat *m, int k, const char *isa)
{
	int out = m->rows, in = m->cols, bad = 0;
	float *w = malloc((size_t)out * in * sizeof(float));
	float *a = malloc((size_t)k * in * sizeof(float));
	float *bias = malloc((size_t)out * sizeof(float));
	float *y1 = malloc((size_t)k * out * sizeof(float));
	float *y2 = malloc((size_t)k * out * sizeof(float));

	ft_qmat_dequant(m, w);
	for (size_t i = 0; i < (size_t)k * in; i++)
		a[i] = frand();
	for (int o = 0; o < out; o++)
		bias[o] = frand();
	ft_qmat_mul(y1, a, k, m, bias, 1);
	ft_qmat_mul(y2, a, k, m, bias, 2);
	CHECK(memcmp(y1, y2, (size_t)k * out * sizeof(float)) == 0);
	ft_qmat_mul(y2, a, k, m, bias, 2);
	CHECK(memcmp(y1, y2, (size_t)k * out * sizeof(float)) == 0);
	for (int r = 0; r < k; r++)
		for (int o = 0; o < out; o++) {
			double s = bias[o], sa = fabs(bias[o]);
			for (int i = 0; i < in; i++) {
				double p = (double)a[(size_t)r * in + i] * w[(size_t)o * in + i];
				s += p;
				sa += fabs(p);
			}
			if (fabs(y1[(size_t)r * out + o] - s) > (in + 2) * 0x1p-24 * sa) {
				if (bad++ == 0)
					fprintf(stderr, "%s %s k=%d [%d,%d]: %.9g want %.9g\n",
					    isa, ft_qtype_name(m->type), k, r, o,
					    y1[(size_t)r * out + o], s);
			}
		}
	CHECK_EQ_INT(bad, 0);
	/* no bias */
	ft_qmat_mul(y2, a, k, m, NULL, 2);
	bad = 0;
	for (int r = 0; r < k; r++)
		for (int o = 0; o < out; o++) {
			double s = 0, sa = 0;
			for (int i = 0; i < in; i++) {
				double p = (double)a[(size_t)r * in + i] * w[(size_t)o * in + i];
				s += p;
				sa += fabs(p);
			}
			bad += fabs(y2[(size_t)r * out + o] - s) > (in + 2) * 0x1p-24 * sa;
		}
	CHECK_EQ_INT(bad, 0);
	free(w);
	free(a);
	free(bias);
	free(y1);
	free(y2);
}

static void
test_mul(void)
{
	static const int shapes[][2] = { { 37, 75 }, { 29, 96 }, { 70, 33 },
		{ 5, 1 } };
	static const char *const isas[] = { "plain", "avx2", "avx512" };
	static const int ks[] = { 1, 2, 3, 4, 5, 7, 8, 9, 12, 13 };

	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		int out = shapes[s][0], in = shapes[s][1];
		float *w = malloc((size_t)out * in * sizeof(float));

		for (size_t i = 0; i < (size_t)out * in; i++)
			w[i] = frand() * (i % 41 == 0 ? 8.0f : 0.5f);
		for (int lay = FT_W_IO; lay <= FT_W_OI; lay++)
			for (int t = FT_Q_BF16; t <= FT_Q_Q8_0; t++) {
				ft_qmat m;

				ft_qmat_from_f32(&m, (ft_qtype)t, w, out, in, (ft_wlayout)lay,
				    2);
				CHECK_EQ_INT(m.rows, out);
				CHECK_EQ_INT(m.cols, in);
				check_format(&m, w, (ft_wlayout)lay);
				for (int is = 0; is < 3; is++) {
					if (ft_qmat_set_isa(isas[is]) != 0) {
						printf("SKIP part: %s kernels: not on this CPU\n", isas[is]);
						continue;
					}
					for (size_t k = 0; k < sizeof(ks) / sizeof(ks[0]); k++)
						check_mul(&m, ks[k], isas[is]);
				}
				ft_qmat_free(&m);
			}
		free(w);
	}
	ft_qmat_set_isa("plain");
	CHECK(strcmp(ft_qmat_isa(), "plain") == 0);
	CHECK(ft_qmat_set_isa("sse9") == -1);
}

/* Q8_0 details: a zero block, the scale of a block, exact extremes */
static void
test_q8(void)
{
	float w[2 * 64];
	ft_qmat m;

	for (int i = 0; i < 128; i++)
		w[i] = i < 32 ? 0.0f : (float)(i % 7) - 3.0f;
	w[40] = -6.35f;
	ft_qmat_from_f32(&m, FT_Q_Q8_0, w, 2, 64, FT_W_OI, 1);
	CHECK(m.d[0] == 0.0f);
	for (int i = 0; i < 32; i++)
		CHECK_EQ_INT(m.q[i], 0);
	CHECK(m.d[1] == 6.35f / 127.0f);
	CHECK_EQ_INT(m.q[40], -127);
	CHECK_EQ_INT(ft_qmat_bytes(&m), 2 * 64 + 4 * sizeof(float));
	ft_qmat_free(&m);
	CHECK(m.q == NULL && m.d == NULL);
}

/* from a BF16 safetensors tensor: Conv1D [in, out] */
static void
test_tensor(void)
{
	enum { IN = 45, OUT = 19 };
	ft_bf16 h[IN * OUT];
	uint16_t h16[IN * OUT];
	float f[IN * OUT], f16[IN * OUT];
	int32_t ints[4] = { 1, 2, 3, 4 };
	int64_t shape[2] = { IN, OUT }, shape1[1] = { 4 }, shape22[2] = { 2, 2 };
	char path[] = "/tmp/ft-test-quant-XXXXXX";
	int fd = mkstemp(path);
	ft_st_entry e[4] = {
		{ "w", FT_BF16, 2, shape, h },
		{ "v", FT_BF16, 1, shape1, h },
		{ "i", FT_I32, 2, shape22, ints },
		{ "h", FT_F16, 2, shape, h16 },
	};
	ft_st_file sf;
	ft_qmat a, b;
	float *da = malloc(sizeof(f)), *db = malloc(sizeof(f));

	CHECK(fd >= 0);
	close(fd);
	for (int i = 0; i < IN * OUT; i++) {
		h[i] = ft_bf16_round(frand() * 0.1f);
		f[i] = ft_bf16_float(h[i]);
		/* k/64, exact in fp16: sign, exponent rebiased, 10 bits */
		f16[i] = (float)((int)(frand() * 100) | 1) / 64.0f;
		{
			union { float f; uint32_t u; } v = { f16[i] };
			h16[i] = (uint16_t)((v.u >> 16 & 0x8000) |
			    ((((v.u >> 23) & 0xff) - 127 + 15) << 10) |
			    ((v.u >> 13) & 0x3ff));
		}
	}
	CHECK(ft_st_write(path, e, 4, NULL, NULL, 0) == 0);
	CHECK(ft_st_open(&sf, path) == 0);
	for (int t = FT_Q_BF16; t <= FT_Q_Q8_0; t++) {
		CHECK(ft_qmat_from_tensor(&a, (ft_qtype)t, &sf, ft_st_find(&sf, "w"),
		    FT_W_IO, 2) == 0);
		ft_qmat_from_f32(&b, (ft_qtype)t, f, OUT, IN, FT_W_IO, 1);
		CHECK_EQ_INT(a.rows, OUT);
		CHECK_EQ_INT(a.cols, IN);
		ft_qmat_dequant(&a, da);
		ft_qmat_dequant(&b, db);
		CHECK(memcmp(da, db, sizeof(f)) == 0);
		if (t == FT_Q_BF16) /* bf16 as stored, transposed */
			CHECK(da[3 * IN + 5] == f[5 * OUT + 3]);
		ft_qmat_free(&a);
		ft_qmat_free(&b);
	}
	/* F16 goes through fp32 */
	CHECK(ft_qmat_from_tensor(&a, FT_Q_Q8_0, &sf, ft_st_find(&sf, "h"),
	    FT_W_IO, 1) == 0);
	ft_qmat_from_f32(&b, FT_Q_Q8_0, f16, OUT, IN, FT_W_IO, 1);
	ft_qmat_dequant(&a, da);
	ft_qmat_dequant(&b, db);
	CHECK(memcmp(da, db, sizeof(f)) == 0);
	ft_qmat_free(&a);
	ft_qmat_free(&b);
	fprintf(stderr, "expected errors:\n");
	CHECK(ft_qmat_from_tensor(&a, FT_Q_BF16, &sf, ft_st_find(&sf, "v"),
	    FT_W_OI, 1) == -1);
	CHECK(ft_qmat_from_tensor(&a, FT_Q_BF16, &sf, ft_st_find(&sf, "i"),
	    FT_W_OI, 1) == -1);
	ft_st_close(&sf);
	unlink(path);
	free(da);
	free(db);
}

int
main(int argc, char **argv)
{
	ft_rng_seed(&rng, 13, 0);
	ft_setprog(argc > 0 ? argv[0] : "test_quant");
	printf("few-row kernels here: %s\n", ft_qmat_isa());
	test_round();
	test_q8();
	test_tensor();
	test_mul();
	return check_done();
}
