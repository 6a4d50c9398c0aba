/* quant — 16- and 8-bit weight formats for decoding, and the few-row
 * matmuls that read them.
 *
 * Single-sample decoding reads every weight once per token, so its speed
 * is the memory bandwidth divided by the bytes of the weights; holding
 * them in bf16 (2 bytes) or int8 (1.125 bytes) instead of fp32 is the way
 * past that limit.  Activations, outputs and accumulation stay fp32.
 *
 * Formats (struct ft_qmat): a weight matrix is stored as `rows` output
 * rows of `cols` inputs (the Linear layout [out, in], whatever the layout
 * of the source), each row padded with zeros to `ld` = cols rounded up to
 * a multiple of FT_QBLOCK, so the kernels stream each row once:
 *   FT_Q_BF16  bf16 values (the upper half of the fp32 bits, rounded to
 *              nearest even as torch's .to(torch.bfloat16), ft_bf16_round).
 *   FT_Q_Q8_0  llama.cpp's Q8_0 scheme with an fp32 scale: per block of
 *              32 inputs, d = max|w| / 127 and q = round(w / d) in
 *              [-127, 127]; the weight read back is (float)q * d, so
 *              |w - (float)q * d| <= d / 2 (up to fp32 rounding).
 *
 * ft_qmat_mul computes out[k, rows] = a[k, cols] · Wᵀ (+ bias) for any k
 * (made for 1 to ~12 rows: one decode step of a batch), each thread
 * owning a fixed range of rows and reading each weight once for all k
 * activation rows.  Every output element is summed by one thread in a
 * fixed order (AVX-512, AVX2+FMA or plain C, chosen at run time), so
 * results depend on the inputs and the CPU's instruction set only, never
 * on the thread count; they equal an exact matmul of a with the weights
 * read back (ft_qmat_dequant) up to fp32 summation order.
 *
 * bf16 conversion (round to nearest even, denormals kept, as torch)
 * is shared with the bf16 training matmuls (bf16.h). */
#ifndef FT_QUANT_H
#define FT_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"

/* One bf16 value (its bit pattern). */
typedef uint16_t ft_bf16;

/* fp32 -> bf16, round to nearest even; every NaN becomes 0xffff (what
 * torch 1.13's tensor.to(torch.bfloat16) gives on a CPU). */
static inline ft_bf16
ft_bf16_round(float f)
{
	union { float f; uint32_t u; } v = { f };

	if ((v.u & 0x7fffffffU) > 0x7f800000U)
		return 0xffff;
	return (ft_bf16)((v.u + 0x7fffU + ((v.u >> 16) & 1)) >> 16);
}

static inline float
ft_bf16_float(ft_bf16 h)
{
	union { uint32_t u; float f; } v = { (uint32_t)h << 16 };

	return v.f;
}

/* dst[i] = ft_bf16_round(src[i]), split over threads (vectorised). */
void ft_bf16_from_f32(ft_bf16 *dst, const float *src, size_t n, int threads);
/* dst[i] = ft_bf16_float(src[i]). */
void ft_bf16_to_f32(float *dst, const ft_bf16 *src, size_t n, int threads);

/* Layout of a weight matrix in memory: y[., out] = x[., in] · W */
typedef enum ft_wlayout {
	FT_W_IO, /* W[in, out]: GPT-2's Conv1D */
	FT_W_OI, /* W[out, in]: nn.Linear, and a tied embedding as the head */
} ft_wlayout;

typedef enum ft_qtype {
	FT_Q_BF16,
	FT_Q_Q8_0,
} ft_qtype;

#define FT_QBLOCK 32

typedef struct ft_qmat {
	ft_qtype type;
	int rows, cols;   /* out, in */
	int ld;           /* stored inputs per row (cols rounded up to 32) */
	ft_bf16 *w16;     /* FT_Q_BF16: [rows, ld] */
	int8_t *q;        /* FT_Q_Q8_0: [rows, ld] */
	float *d;         /* FT_Q_Q8_0: [rows, ld / 32] scales */
} ft_qmat;

/* Name for messages: "bf16", "int8" (Q8_0). */
const char *ft_qtype_name(ft_qtype t);
/* Parse "bf16" / "int8"; -1 for anything else. */
int ft_qtype_parse(const char *s, ft_qtype *t);

/* Bytes of weight data a matmul reads (what a token costs in bandwidth). */
size_t ft_qmat_bytes(const ft_qmat *m);

/* Build m (allocating; free with ft_qmat_free) from an fp32 matrix w of
 * `out` x `in` in layout lay.  Never fails (allocation dies). */
void ft_qmat_from_f32(ft_qmat *m, ft_qtype type, const float *w, int out,
    int in, ft_wlayout lay, int threads);
/* The same from bf16 values (a BF16 tensor's data, little-endian). */
void ft_qmat_from_bf16(ft_qmat *m, ft_qtype type, const ft_bf16 *w, int out,
    int in, ft_wlayout lay, int threads);
/* From a 2-D tensor of safetensors file f, shape [in, out] for FT_W_IO or
 * [out, in] for FT_W_OI: F32 and BF16 read in place, F16 and F64 through
 * fp32.  0, or -1 after a message naming the file and tensor. */
int ft_qmat_from_tensor(ft_qmat *m, ft_qtype type, const ft_st_file *f,
    const ft_st_tensor *t, ft_wlayout lay, int threads);
void ft_qmat_free(ft_qmat *m);

/* The weights as the kernels read them: w[rows, cols] (Linear layout). */
void ft_qmat_dequant(const ft_qmat *m, float *w);
/* One row of them, out[cols] (a tied embedding's lookup). */
void ft_qmat_row(const ft_qmat *m, int row, float *out);

/* out[k, rows] = a[k, cols] · Wᵀ + bias[rows] (bias may be NULL). */
void ft_qmat_mul(float *out, const float *a, int k, const ft_qmat *m,
    const float *bias, int threads);

/* The instruction set ft_qmat_mul uses here: "avx512", "avx2", "plain". */
const char *ft_qmat_isa(void);
/* Use the named one instead (tests and benchmarks compare them); -1 when
 * this CPU lacks it or the name is unknown. */
int ft_qmat_set_isa(const char *name);

#endif
