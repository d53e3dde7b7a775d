/* SPDX-License-Identifier: MIT */
/* genmix/optim.h — optimisers over flat parameter slabs: SGD (+momentum, Nesterov), Adam, AdamW; global
 * gradient-norm clipping; EMA of weights; learning-rate schedules (constant, step, cosine, linear warmup).
 *
 * Usage:
 *     gm_optim_config oc = gm_optim_config_default();       // Adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8
 *     oc.kind = GM_OPT_ADAMW; oc.weight_decay = 1e-2;
 *     gm_optim opt; gm_optim_init(&opt, &oc, model_nparams);
 *     gm_lr_schedule s = gm_lr_schedule_default(); s.kind = GM_LR_COSINE; s.base = 1e-3; s.total = steps; s.warmup = 100;
 *     for (...) { ...backward...; gm_clip_grad_norm(grads, n, 1.0);
 *                 gm_optim_step(&opt, params, grads, gm_lr_at(&s, opt.step)); }
 *     gm_optim_free(&opt);
 *
 * Semantics follow PyTorch 1.13 (torch.optim.SGD/Adam/AdamW, single-tensor path): Adam's weight_decay is
 * L2 added to the gradient, AdamW's is decoupled (p *= 1 - lr wd before the update). `step` counts the
 * updates done so far (the next update uses bias corrections for step + 1).
 * Ownership: gm_optim owns m and v (gm_optim_free); params/grads are borrowed. The state is plain data so
 * checkpoints can save and restore m, v and step exactly.
 * Thread safety: one optimiser per thread; updates are elementwise (OpenMP, thread-count independent);
 * the clipping norm is a fixed-block double reduction.
 */
#ifndef GM_OPTIM_H
#define GM_OPTIM_H

#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { GM_OPT_SGD = 0, GM_OPT_ADAM, GM_OPT_ADAMW } gm_opt_kind;

typedef struct {
    gm_opt_kind kind;
    float momentum;     /* SGD */
    int nesterov;       /* SGD */
    float beta1, beta2; /* Adam */
    float eps;          /* Adam */
    float weight_decay; /* SGD/Adam: L2 on the gradient; AdamW: decoupled */
} gm_optim_config;

gm_optim_config gm_optim_config_default(void);
/* "sgd", "adam", "adamw" (NULL / -1 for unknown). */
const char *gm_opt_name(gm_opt_kind k);
int gm_opt_from_name(const char *name);

typedef struct {
    gm_optim_config cfg;
    size_t n;     /* number of parameters */
    float *m;     /* SGD momentum buffer or Adam first moment (n), zero-initialised */
    float *v;     /* Adam second moment (n); NULL for SGD */
    int64_t step; /* updates done */
} gm_optim;

int gm_optim_init(gm_optim *o, const gm_optim_config *cfg, size_t n);
void gm_optim_free(gm_optim *o);
/* One update of params(n) with grads(n) at learning rate lr; increments o->step. */
void gm_optim_step(gm_optim *o, float *params, const float *grads, float lr);

/* sqrt(sum g^2) in double (fixed blocks). */
double gm_grad_norm(const float *g, size_t n);
/* If the global norm exceeds max_norm, scale g by max_norm / (norm + 1e-6) (PyTorch's clip_grad_norm_).
 * Returns the norm before clipping (NaN/Inf propagate so the caller can stop). */
double gm_clip_grad_norm(float *g, size_t n, double max_norm);
/* ema = decay ema + (1 - decay) p */
void gm_ema_update(float *ema, const float *p, size_t n, float decay);

typedef enum { GM_LR_CONSTANT = 0, GM_LR_STEP, GM_LR_COSINE } gm_lr_kind;
typedef struct {
    gm_lr_kind kind;
    double base;       /* peak learning rate */
    double min;        /* cosine floor */
    int64_t warmup;    /* linear warmup steps from base/warmup to base (0 = none) */
    int64_t step_size; /* GM_LR_STEP: multiply by gamma every step_size steps */
    double gamma;
    int64_t total;     /* GM_LR_COSINE: steps of the decay (after warmup) */
} gm_lr_schedule;
gm_lr_schedule gm_lr_schedule_default(void); /* constant 1e-3 */
/* Learning rate for update number `step` (0-based). */
double gm_lr_at(const gm_lr_schedule *s, int64_t step);

#ifdef __cplusplus
}
#endif
#endif /* GM_OPTIM_H */
