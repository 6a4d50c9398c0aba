/* bf16 — the matrix products of mixed-precision training through oneDNN:
 * bf16 inputs, fp32 accumulation and fp32 outputs, as PyTorch's
 * torch.autocast("cpu", dtype=torch.bfloat16) computes them (the library
 * PyTorch's CPU bf16 path uses; docs/hf-reference.md §19).
 *
 * The caller converts each operand to bf16 once (ft_bf16_from_f32 in
 * quant.h: round to nearest even, as torch) and keeps the copy as long as
 * it is used: an activation feeds both its forward product and the weight
 * gradient; the weights are fp32 masters with a bf16 copy refreshed after
 * each optimizer step.  Everything not a matrix product stays fp32.
 *
 * Products (all outputs fp32; "+=" accumulates into what is there):
 *   linear layer, W in layout lay (quant.h: FT_W_IO = Conv1D [in, out],
 *   FT_W_OI = Linear [out, in]):
 *     ft_bf16_linear_fwd    y[N, out]  = x[N, in] · W (+ bias)
 *     ft_bf16_linear_dx     dx[N, in]  = (or +=) dy[N, out] · Wᵀ
 *     ft_bf16_linear_dw     dW        += the gradient in W's own layout
 *   attention, per batch b and head h (rows of [B*T, ld] matrices, head h
 *   at columns h*hs .. h*hs+hs-1, e.g. GPT-2's packed qkv with ld = 3C),
 *   grouped-query heads included:
 *     ft_bf16_att_qk        S[b,h]    = Q[b,h] · K[b,h]ᵀ   ([T, T])
 *     ft_bf16_att_pv        O[b,h]    = P[b,h] · V[b,h]    (or Pᵀ · V)
 *   which are also the backward's four (dP = dY·Vᵀ, dV = Pᵀ·dY, dQ = dS·K,
 *   dK = dSᵀ·Q); and the general strided batched product ft_bf16_gemm
 *   they are made of.
 *
 * Primitives are created once per shape, layout and thread count and
 * kept in a small cache (oneDNN's own cache sits behind it).  oneDNN
 * (Debian's libdnnl.so.2) is loaded at the first call (dlopen), so tools
 * that never use bf16 neither load it nor need it.  It runs on OpenMP
 * (libgomp): each call sets the calling thread's OpenMP thread count to
 * `threads`, and a primitive's work split is fixed at creation for that
 * count, so a given thread count gives bit-identical results (different
 * counts may differ in the last bits).  Unless OMP_WAIT_POLICY or
 * GOMP_SPINCOUNT is set, loading sets OMP_WAIT_POLICY=PASSIVE first:
 * libgomp's default, threads spinning after each product, made the
 * products ~3x slower here when they alternate with ft's own thread pool
 * on a busy machine.  Calls are serialised by a lock; call from one
 * thread, outside ft_parallel, and ft_bf16_init before other threads
 * exist (it may setenv).
 *
 * Functions return 0, or -1 after a message naming the product and
 * oneDNN's reason. */
#ifndef FT_BF16_H
#define FT_BF16_H

#include <stdint.h>

#include "quant.h"

/* Check once, at start, that bf16 matmuls can run here.  Prints one line
 * on stderr (ft_warn) when the CPU has neither avx512_bf16 nor AMX-BF16
 * but oneDNN still computes bf16 (emulated, slower).  0; or -1 after a
 * message with the reason when oneDNN cannot compute bf16 on this CPU. */
int ft_bf16_init(void);
/* Like ft_bf16_init without messages: 0 when bf16 matmuls run here;
 * else -1 and *why (static text) says why.  *warn is set to the one-line
 * warning ft_bf16_init would print, or NULL. */
int ft_bf16_probe(const char **why, const char **warn);

/* The CPU's bf16 instructions (cpuid): "amx_bf16", "avx512_bf16", or NULL
 * when it has neither. */
const char *ft_bf16_cpu(void);
/* oneDNN's version and the instruction set it uses, e.g.
 * "oneDNN 2.6.3, avx512_core_bf16" (static buffer). */
const char *ft_bf16_describe(void);

/* C[batch, M, N] = (or += when acc) A[batch, M, K] · B[batch, K, N]
 * (+ bias[N], only without batch dimensions), up to three batch
 * dimensions b[] (1 where unused); every operand is given by strides in
 * elements in the order (batch 0, batch 1, batch 2, row, column), so
 * transposes are strides; a batch stride of 0 in sb broadcasts B over
 * that dimension (grouped-query attention's shared key/value heads). */
typedef struct ft_bf16_gemm_shape {
	int b[3], M, N, K;
	int64_t sa[5], sb[5], sc[5];
	int acc;
} ft_bf16_gemm_shape;
int ft_bf16_gemm(const ft_bf16_gemm_shape *g, float *c, const ft_bf16 *a,
    const ft_bf16 *b, const float *bias, int threads);

int ft_bf16_linear_fwd(float *y, const ft_bf16 *x, const ft_bf16 *w,
    const float *bias, int N, int in, int out, ft_wlayout lay, int threads);
int ft_bf16_linear_dx(float *dx, const ft_bf16 *dy, const ft_bf16 *w, int N,
    int in, int out, ft_wlayout lay, int acc, int threads);
int ft_bf16_linear_dw(float *dw, const ft_bf16 *x, const ft_bf16 *dy, int N,
    int in, int out, ft_wlayout lay, int threads);

/* Attention with NH query heads and NKV key/value heads (NH % NKV == 0;
 * query head h uses key/value head h / (NH / NKV); GPT-2: NKV = NH).
 * q, k, v, o point at head 0's column of row 0 of [B*T, l*] matrices.
 *
 * S[B, NH, T, T] = Q·Kᵀ (q: NH heads, k: NKV heads); also dP = dY·Vᵀ. */
int ft_bf16_att_qk(float *S, const ft_bf16 *q, int lq, const ft_bf16 *k,
    int lk, int B, int T, int NH, int NKV, int hs, int threads);
/* trans = 0: O = P·V, O with NH heads, V with NKV (also dQ = dS·K);
 * trans = 1: O = Σ over each group's query heads h of P[h]ᵀ·V[h], V with
 * NH heads, O with NKV (dV = Pᵀ·dY, dK = dSᵀ·Q), summed in head order.
 * P [B, NH, T, T]; acc: O += instead of =. */
int ft_bf16_att_pv(float *o, int lo, const ft_bf16 *P, int trans,
    const ft_bf16 *v, int lv, int B, int T, int NH, int NKV, int hs, int acc,
    int threads);

#endif
