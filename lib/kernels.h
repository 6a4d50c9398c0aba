/* kernels — the numeric building blocks of the decoder (lib/model): a
 * small thread pool, matmuls over cblas_sgemm in both weight layouts,
 * LayerNorm, RMSNorm, gelu_new, SwiGLU, rotary embeddings, causal
 * grouped-query attention with padding mask, cross-entropy, dropout, each
 * with forward and backward.  Shapes use B (batch), T (time), C (channels), NH (heads),
 * V (vocabulary), N = B*T rows.
 *
 * Determinism: work is split into fixed contiguous ranges per thread and
 * every reduction runs in a fixed order inside one range, so a given
 * thread count gives bit-identical results.  Elementwise results never
 * depend on the thread count.  Dropout masks come from a counter-based
 * hash of (key, element index), independent of threads and order.
 *
 * Backward kernels ACCUMULATE (+=) into weight and bias gradients and into
 * dinp where noted. */
#ifndef FT_KERNELS_H
#define FT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Run fn(ctx, tid, nthreads) for tid = 0..nthreads-1 on a persistent pool
 * (the caller runs tid 0) and wait for all. */
typedef void (*ft_task_fn)(void *ctx, int tid, int nthreads);
void ft_parallel(int nthreads, ft_task_fn fn, void *ctx);
/* Threads worth waking for an elementwise pass over n floats: 1 below
 * 32768 (a decode step's few rows, where waking the pool costs more than
 * the pass), else threads.  For passes whose every element is computed
 * the same way for any split, so results do not change. */
int ft_threads_for(size_t n, int threads);
/* [lo, hi) of n items for thread tid of nt (contiguous, fixed). */
void ft_split(size_t n, int tid, int nt, size_t *lo, size_t *hi);

/* Counter-based generator for dropout: a 64-bit key per (seed, counter,
 * site), then one 32-bit hash per element index. */
uint64_t ft_drop_key(uint64_t seed, uint64_t counter, uint64_t site);
/* Nonzero when element i is kept with drop probability p. */
int ft_drop_keep(uint64_t key, uint32_t i, double p);

/* out[N,OC] = inp[N,IC] · w[IC,OC] + bias[OC] (bias may be NULL). */
void ft_matmul_forward(float *out, const float *inp, const float *w,
    const float *bias, int N, int IC, int OC);
/* The same for a few rows (2 <= N <= FT_MATMUL_SMALL_MAX, batched decode)
 * without sgemm's packing: w is streamed once, OC split over threads.
 * Results depend on nothing but the inputs (not the thread count). */
#define FT_MATMUL_SMALL_MAX 12
void ft_matmul_forward_small(float *out, const float *inp, const float *w,
    const float *bias, int N, int IC, int OC, int threads);
/* Nonzero when ft_matmul_forward_small has its fast kernel for N rows. */
int ft_matmul_small_ok(int N);
/* out[k,V] = a[k,C] · m[V,C]ᵀ for a few rows k, each row of m read once
 * (V split over threads, on ft's pool). */
void ft_matmul_rows_small(float *out, const float *a, const float *m, int k,
    int V, int C, int threads);
/* Nonzero when ft_matmul_rows_small has its fast kernel for k rows: 1 <=
 * k <= FT_MATMUL_SMALL_MAX.  One row too: it beats sgemv there (measured:
 * SmolLM2-135M's decode 80 -> 110 tokens/s, distilgpt2's tied head), and
 * keeps a decode step off OpenBLAS's threads.  (For w[IC,OC], one row
 * stays with sgemv, which streams that layout faster than
 * ft_matmul_forward_small.) */
int ft_matmul_rows_small_ok(int k);
/* dinp[N,IC] (+= if acc, else =) dout·wᵀ; dw[IC,OC] += inpᵀ·dout;
 * dbias[OC] += Σ_n dout (dbias, dinp, dw may be NULL). */
void ft_matmul_backward(float *dinp, float *dw, float *dbias,
    const float *dout, const float *inp, const float *w,
    int N, int IC, int OC, int acc, int threads);
/* dbias[OC] += Σ_n dout[n, :] (double accumulation, column-parallel). */
void ft_bias_backward(float *dbias, const float *dout, int N, int OC,
    int threads);

/* LayerNorm over C: out[N,C], mean[N], rstd[N] (saved for backward). */
void ft_layernorm_forward(float *out, float *mean, float *rstd,
    const float *inp, const float *w, const float *b, int N, int C,
    float eps, int threads);
/* dinp[N,C] += ...; dw, db [C] += ... (both NULL: no weight gradient) */
void ft_layernorm_backward(float *dinp, float *dw, float *db,
    const float *dout, const float *inp, const float *w, const float *mean,
    const float *rstd, int N, int C, int threads);

/* gelu_new (tanh approximation): out[n] = gelu(inp[n]). */
void ft_gelu_forward(float *out, const float *inp, size_t n, int threads);
/* dinp[n] = dout[n] * gelu'(inp[n]) (overwrites; dinp may alias dout). */
void ft_gelu_backward(float *dinp, const float *inp, const float *dout,
    size_t n, int threads);

/* In-place dropout x[i] *= keep(key, i) ? 1/(1-p) : 0 (also its own
 * backward on the gradient). p <= 0: no-op. */
void ft_dropout(float *x, size_t n, double p, uint64_t key, int threads);
/* The same mask from src into dst: dst[i] = dropout(src[i]), or with acc
 * dst[i] += dropout(src[i]) (dropped elements add 0).  p <= 0: a copy, or
 * a sum. */
void ft_dropout_to(float *dst, const float *src, size_t n, double p,
    uint64_t key, int acc, int threads);

/* Causal self-attention with grouped-query heads.
 *   qkv [N, S] rows of S = (NH + 2 NKV) hs floats: NH query heads, then
 *   NKV key heads, then NKV value heads, hs floats each (GPT-2: NKV = NH,
 *   S = 3C); query head h reads key/value head h / (NH / NKV)
 *   (NH % NKV == 0; NKV = 1 is multi-query attention);
 *   mask [B, T] 1/0 key mask or NULL; out [N, NH hs];
 *   P [B, NH, T, T] softmax probabilities (saved), Pd [B, NH, T, T]
 *   scratch for dropped probabilities (may equal P when p == 0).
 * Scores are (q·k)/sqrt(hs); keys s > t or masked get probability 0; a
 * query with no visible key gets output 0. */
void ft_attention_forward(float *out, float *P, float *Pd, const float *qkv,
    const uint8_t *mask, int B, int T, int NH, int NKV, int hs, double p,
    uint64_t key, int threads);
/* dqkv [N, S] = gradient (overwritten; each key/value head sums its
 * group's query heads in head order); dout [N, NH hs]; scratch dP, Pd
 * [B, NH, T, T]. */
void ft_attention_backward(float *dqkv, float *dP, float *Pd,
    const float *dout, const float *qkv, const float *P,
    const uint8_t *mask, int B, int T, int NH, int NKV, int hs, double p,
    uint64_t key, int threads);

/* The two row passes of ft_attention_forward/backward without the
 * products (which the caller computes, e.g. in bf16): P [B, NH, T, T]
 * holds raw scores q·k and becomes the probabilities (scaled by
 * 1/sqrt(hs), causal, masked), Pd the dropped ones (when p > 0);
 * backward: dP holds dPd = dY·Vᵀ and becomes the gradient of the raw
 * scores, and Pd (when p > 0 and not NULL) is recomputed from P. */
void ft_attention_softmax(float *P, float *Pd, const uint8_t *mask, int B,
    int T, int NH, int hs, double p, uint64_t key, int threads);
void ft_attention_softmax_backward(float *dP, float *Pd, const float *P,
    int B, int T, int NH, int hs, double p, uint64_t key, int threads);

/* nn.Linear layout: out[N,OC] = inp[N,IC] · w[OC,IC]ᵀ + bias[OC] (bias
 * may be NULL).  One to a few rows: ft_matmul_rows_small; else sgemm
 * (sgemv without AVX2).  Neither packs w for decode-sized N. */
void ft_linear_forward(float *out, const float *inp, const float *w,
    const float *bias, int N, int IC, int OC);
/* dinp[N,IC] (+= if acc, else =) dout·w; dw[OC,IC] += doutᵀ·inp;
 * dbias[OC] += Σ_n dout (dbias, dinp and dw may be NULL). */
void ft_linear_backward(float *dinp, float *dw, float *dbias,
    const float *dout, const float *inp, const float *w,
    int N, int IC, int OC, int acc, int threads);

/* RMSNorm over C (Llama): out = w ⊙ (x · rstd), rstd[N] = 1/sqrt(mean(x²)
 * + eps) saved for backward.  out may not alias inp. */
void ft_rmsnorm_forward(float *out, float *rstd, const float *inp,
    const float *w, int N, int C, float eps, int threads);
/* dinp[N,C] += ...; dw[C] += ... (dw NULL: none) */
void ft_rmsnorm_backward(float *dinp, float *dw, const float *dout,
    const float *inp, const float *w, const float *rstd, int N, int C,
    int threads);

/* Rotary embedding, rotate-half convention, in place on nh heads of hs
 * floats in each row of x [N, stride] starting at column 0: for
 * i < hs/2, (a, b) = (x[i], x[i + hs/2]) becomes
 * (a cos - b sin, b cos + a sin) with cos/sin = tab[pos[n] * hs/2 + i]
 * (cos table then sin table, each [positions, hs/2]).  inverse != 0
 * applies the transposed rotation (the backward). */
void ft_rope_apply(float *x, const int32_t *pos, int N, int stride, int nh,
    int hs, const float *cos_t, const float *sin_t, int inverse,
    int threads);

/* SwiGLU: gu [N, 2F] holds gate (columns 0..F-1) and up (F..2F-1);
 * out[N,F] = silu(gate) * up = gate / (1 + exp(-gate)) * up (the fast exp).
 * Rows split over threads; values independent of the thread count. */
void ft_swiglu_forward(float *out, const float *gu, size_t N, int F,
    int threads);
/* dgu [N, 2F] = gradient of gate and up given dout [N, F] (overwrites). */
void ft_swiglu_backward(float *dgu, const float *gu, const float *dout,
    size_t N, int F, int threads);

/* Cross-entropy rows: logits [N, V], targets [N] (-100 ignored, others
 * must be in [0, V)).  losses[N] (0 when ignored), lse[N] (log-sum-exp).
 * Returns the sum of losses (double); *count = counted targets. */
double ft_crossentropy_forward(float *losses, float *lse, const float *logits,
    const int32_t *targets, int N, int V, int64_t *count, int threads);
/* In place: logits[n] <- scale * (softmax(logits[n]) - onehot(target)),
 * rows with ignored targets set to 0. */
void ft_crossentropy_backward(float *logits, const float *lse,
    const int32_t *targets, int N, int V, float scale, int threads);

/* Simple reference versions for tests. */
void ft_ref_matmul(float *out, const float *inp, const float *w,
    const float *bias, int N, int IC, int OC);
float ft_ref_gelu(float x);

/* Vectorised helpers shared with other modules. */
float ft_expf_fast(float x); /* same results as the kernels' vector exp */
float ft_dot(const float *a, const float *b, int n);   /* Σ a[i] b[i] */
void ft_axpy(float *y, float a, const float *x, int n); /* y += a x */

#endif
