/* optim — AdamW exactly as torch.optim.AdamW computes it, global-norm
 * gradient clipping as torch.nn.utils.clip_grad_norm_, and the learning
 * rate schedules of transformers (docs/hf-reference.md §12).
 *
 * Parameters and gradients are flat float slabs; a table of named tensors
 * (struct ft_param_tensor, usually a model's tensors table) says where each
 * tensor lives in the slab and whether it gets weight decay.  The optimizer
 * state (m, v: one float each per parameter, and the step count) saves to
 * and loads from safetensors with one tensor per parameter tensor:
 * "exp_avg.NAME" and "exp_avg_sq.NAME", and metadata "step" (decimal; read
 * back) with "beta1", "beta2", "eps", "weight_decay" (%.17g; written for
 * the record, not read: the options of the resumed run apply). */
#ifndef FT_OPTIM_H
#define FT_OPTIM_H

#include <stddef.h>
#include <stdint.h>

/* One named tensor inside a flat parameter slab. */
typedef struct ft_param_tensor {
	const char *name;   /* e.g. "h.0.attn.c_attn.weight" (no "transformer.") */
	size_t off;         /* offset in floats into the slab */
	size_t n;           /* number of floats */
	int ndim;           /* 1 or 2 */
	int64_t shape[2];
	int decay;          /* 1: weight decay applies (wte, wpe, block matrices) */
} ft_param_tensor;

typedef struct ft_adamw {
	double beta1, beta2, eps, weight_decay; /* 0.9, 0.999, 1e-8, 0.0 */
	size_t n;          /* parameters */
	float *m, *v;      /* first and second moments, [n], start at 0 */
	int64_t step;      /* steps taken so far (torch's state["step"]) */
	int threads;       /* worker threads for the update (>= 1) */
} ft_adamw;

/* Allocate zeroed moments for n parameters; hyperparameters get torch's
 * defaults (betas 0.9/0.999, eps 1e-8) and weight_decay 0.0 (set it; the
 * Trainer uses 0.0 unless told, the notebook sets 0.01). */
void ft_adamw_init(ft_adamw *o, size_t n);
void ft_adamw_release(ft_adamw *o);

/* One AdamW step at learning rate lr over every tensor of the table
 * (weight decay only on tensors with decay set):
 *   step += 1
 *   p *= 1 - lr*wd
 *   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
 *   p -= lr/(1-b1^step) * m / (sqrt(v)/sqrt(1-b2^step) + eps)
 * in float32 with torch's order of operations.  Parameters not covered by
 * the table are left alone. */
void ft_adamw_step(ft_adamw *o, float *params, const float *grads, double lr,
    const ft_param_tensor *t, size_t nt);

/* Save / restore the state.  Tensors are checked by name, dtype (F32) and
 * shape; missing or unexpected ones are reported by name.  0 or -1. */
int ft_adamw_save(const ft_adamw *o, const char *path,
    const ft_param_tensor *t, size_t nt);
int ft_adamw_load(ft_adamw *o, const char *path,
    const ft_param_tensor *t, size_t nt);

/* Global L2 norm of g[0..n) accumulated in double (deterministic for a
 * given thread count).  If max_norm > 0 and the norm exceeds it, scale g by
 * max_norm / (norm + 1e-6) as clip_grad_norm_ does.  Returns the pre-clip
 * norm (what the Trainer logs as grad_norm). */
double ft_clip_grad_norm(float *g, size_t n, double max_norm, int threads);

/* Learning-rate schedules: the multiplier lambda(s) of transformers'
 * LambdaLR schedules for 0-based step s (the k-th optimizer step uses
 * s = k - 1), W warmup steps, S total steps:
 *   linear:   s < W ? s/max(1,W) : max(0, (S-s)/max(1,S-W))
 *   cosine:   s < W ? s/max(1,W) : max(0, 0.5*(1+cos(pi*p))),
 *             p = (s-W)/max(1,S-W)   (num_cycles 0.5)
 *   constant_with_warmup: s < W ? s/max(1,W) : 1
 *   constant: 1 (get_constant_schedule: transformers' get_scheduler
 *             ignores the warmup for "constant")
 * Multiply by the base learning rate.  The values are stored in
 * checkpoints (ft_state.json "schedule"): keep them. */
enum ft_lr_kind { FT_LR_LINEAR, FT_LR_COSINE, FT_LR_CONSTANT_WARMUP,
	FT_LR_CONSTANT };
double ft_lr_lambda(enum ft_lr_kind kind, int64_t s, int64_t W, int64_t S);
/* "linear", "cosine", "constant_with_warmup", "constant" -> kind (the
 * names of TrainingArguments' lr_scheduler_type); -1 if unknown. */
int ft_lr_kind_parse(const char *name);
/* The name of kind, or NULL when it is none. */
const char *ft_lr_kind_name(int kind);

#endif
