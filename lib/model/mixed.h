/* mixed — reduced precision inside the decoder, private to lib/model:
 * bf16 mixed-precision training (model.h: ft_model_set_bf16) and 16-/8-bit
 * weights for decoding (ft_model_quantize).  Training: autocast semantics
 * (docs/hf-reference.md §19): the matrix products (linear layers, the head,
 * attention's two products and their backward) take bf16 inputs and
 * accumulate in fp32 through lib/bf16 (oneDNN); everything else stays in
 * fp32.  The weights are fp32 masters; params16 is their bf16 copy at the
 * same offsets, refreshed before a forward whenever the masters changed
 * (ft_model_params_changed).  Activations are converted where a product
 * reads them (a forward's input again in the backward: the same values,
 * converted twice rather than kept). */
#ifndef FT_MODEL_MIXED_H
#define FT_MODEL_MIXED_H

#include "model/model.h"
#include "quant.h"

/* y[N,OC] = x[N,IC]·W (+b), W a view into m->params in layout lay. */
void ft_mx_linear_fwd(const ft_model *m, float *out, const float *inp,
    const float *w, const float *b, int N, int IC, int OC, ft_wlayout lay);
/* dinp = dout·Wᵀ (dinp may be NULL), dw += the gradient, db += Σ dout
 * (db may be NULL). */
void ft_mx_linear_bwd(const ft_model *m, float *dinp, float *dw, float *db,
    const float *dout, const float *inp, const float *w, int N, int IC,
    int OC, ft_wlayout lay);
/* The same for a weight W[OC, IC] (fp32, Linear layout) outside
 * m->params, converted at each call (LoRA's adapters: PEFT's lora_A and
 * lora_B are nn.Linear, so autocast runs them in bf16 too):
 * out[N,OC] = inp[N,IC]·Wᵀ; dw += doutᵀ·inp and, when dinp is not NULL,
 * dinp = (acc: +=) dout·W. */
void ft_mx_ext_fwd(const ft_model *m, float *out, const float *inp,
    const float *w, int N, int IC, int OC);
void ft_mx_ext_bwd(const ft_model *m, float *dinp, int acc, float *dw,
    const float *dout, const float *inp, const float *w, int N, int IC,
    int OC);
/* ft_attention_forward / ft_attention_backward with bf16 products. */
void ft_mx_att_fwd(const ft_model *m, float *out, float *P, float *Pd,
    const float *qkv, const uint8_t *mask, int B, int T, int NH, int NKV,
    int hs, double p, uint64_t key);
void ft_mx_att_bwd(const ft_model *m, float *dqkv, float *dP, float *Pd,
    const float *dout, const float *qkv, const float *P,
    const uint8_t *mask, int B, int T, int NH, int NKV, int hs, double p,
    uint64_t key);
/* Start of a pass: a training-batch forward (train 1: params16 refreshed
 * when stale, products in bf16 until the next call) or KV-cache decoding
 * (train 0: all fp32). */
void ft_mx_begin(ft_model *m, int train);
/* Nonzero when the products run in bf16 now. */
int ft_mx_on(const ft_model *m);
/* Bytes of the bf16 copy and scratch. */
size_t ft_mx_bytes(const ft_model *m);
void ft_mx_free(ft_model *m);



/* ---- quantised weights for decoding (ft_model_quantize) ---- */

/* The quantised matrix standing for weight view w, or NULL. */
const ft_qmat *ft_mq_of(const ft_model *m, const float *w);
/* The quantised head, or NULL. */
const ft_qmat *ft_mq_head(const ft_model *m);
/* Nonzero when token embeddings are read from the quantised head. */
int ft_mq_emb(const ft_model *m);
/* out[N, rows] = inp[N, cols] · Wᵀ (+ b). */
void ft_mq_linear(const ft_model *m, const ft_qmat *q, float *out,
    const float *inp, const float *b, int N);
/* Bytes the quantised matrices hold, and the fp32 bytes released. */
size_t ft_mq_bytes(const ft_model *m, size_t *released);
void ft_mq_free(ft_model *m);

#endif
