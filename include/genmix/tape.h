/* SPDX-License-Identifier: MIT */
/* genmix/tape.h — a coarse eager autodiff tape whose nodes are nn kernel calls (style §2.7).
 *
 * Usage (one training step of a 2-layer MLP; W1.. point into a model's param/grad slabs):
 *     gm_tape *t; gm_tape_create(&t, 0);
 *     gm_var *x  = gm_tape_input(t, images, 2, (int64_t[]){B, 784}, 0);
 *     gm_var *w1 = gm_tape_param(t, W1, dW1, 2, (int64_t[]){256, 784}), *b1 = gm_tape_param(t, b1v, db1, 1, ...);
 *     gm_var *h  = gm_op_act(t, gm_op_linear(t, x, w1, b1), GM_ACT_RELU, 0);
 *     gm_var *loss = gm_op_softmax_xent(t, gm_op_linear(t, h, w2, b2), labels);
 *     if (gm_tape_status(t) != GM_OK) ...            // ops propagate failures as NULL
 *     memset(grads, 0, ...); gm_tape_backward(t, loss); // dW1... now hold dloss/dW
 *     ... optimizer step ...; gm_tape_reset(t);        // forget nodes, recycle the arena
 *
 * Semantics:
 *   - Ops run their forward kernel immediately and, unless the tape is in no-grad mode or no input requires
 *     a gradient, record a node {backward fn, inputs, output, saved caches}. gm_tape_backward runs the
 *     nodes in reverse; kernels accumulate (+=), so fan-out needs no special handling.
 *   - Gradients of temporaries live in the arena, allocated lazily and zeroed. A parameter's gradient is
 *     the pointer given to gm_tape_param (zero it yourself before backward: one memset of the slab).
 *     gm_tape_param with grad == NULL is a frozen parameter (no gradient, e.g. D during a G step).
 *   - Gradients with respect to inputs: gm_tape_input(..., requires_grad = 1); read v->grad after backward.
 *   - gm_var_detach shares the value and stops gradients. gm_tape_no_grad(t, 1) stops recording.
 *   - New composite ops (flow couplings, special losses) are added in other files with gm_tape_record.
 * Ownership: the tape owns its arena, nodes and every gm_var it returns (valid until gm_tape_reset/free).
 * Values passed to gm_tape_input/gm_tape_param are borrowed and must outlive the backward pass.
 * Errors: ops return NULL and record the first failure (GM_ENOMEM, GM_ESHAPE with a message) in the tape;
 * an op given a NULL input returns NULL. gm_tape_status returns it. Shape mismatches are run-time errors.
 * Thread safety: one tape per thread; kernels inside may use OpenMP.
 */
#ifndef GM_TAPE_H
#define GM_TAPE_H

#include "genmix/base.h"
#include "genmix/nn.h" /* same module: the tape records nn kernels */
#include "genmix/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_var {
    float *val;        /* value (borrowed for inputs/params, arena otherwise) */
    float *grad;       /* gradient, same shape; NULL until something flows into it */
    int64_t shape[4];  /* unused trailing dims are 1 */
    int ndim;
    size_t n;          /* number of elements */
    int requires_grad; /* 1 if a gradient must be computed for it */
} gm_var;

typedef struct gm_tape gm_tape;
typedef struct gm_node gm_node;
/* A node's backward: read n->out->grad, accumulate into the grads of n->in[] (use gm_tape_grad). */
typedef void (*gm_backward_fn)(gm_tape *t, gm_node *n);
struct gm_node {
    gm_backward_fn backward;
    gm_var *in[4];
    gm_var *out;
    void *save[4];   /* caches (arena memory) */
    int64_t ip[10];  /* integer parameters */
    float fp[4];     /* float parameters */
};

/* Create a tape with an arena of `arena_bytes` initial bytes (0 = 1 MiB; it grows as needed). */
int gm_tape_create(gm_tape **out, size_t arena_bytes);
void gm_tape_free(gm_tape *t);
/* Forget all nodes and vars and recycle the arena (after each optimizer step). Clears the status. */
void gm_tape_reset(gm_tape *t);
/* Turn recording off (on = 1) or on (on = 0); returns the previous setting. */
int gm_tape_no_grad(gm_tape *t, int on);
/* GM_OK or the first failure of an op since the last reset (gm_last_error() has the message). */
int gm_tape_status(const gm_tape *t);
/* The tape's arena (for caller temporaries that live until the next reset). */
gm_arena *gm_tape_arena(gm_tape *t);
size_t gm_tape_node_count(const gm_tape *t);

/* Leaf variables. Shapes are copied. */
gm_var *gm_tape_param(gm_tape *t, float *val, float *grad, int ndim, const int64_t *shape);
gm_var *gm_tape_input(gm_tape *t, float *val, int ndim, const int64_t *shape, int requires_grad);
/* A fresh variable with an uninitialised value in the arena (for custom ops). */
gm_var *gm_tape_new(gm_tape *t, int ndim, const int64_t *shape, int requires_grad);
/* Same value, no gradient path. */
gm_var *gm_var_detach(gm_tape *t, gm_var *v);

/* Backward from a scalar (numel 1) loss: seeds d loss = 1. Returns the tape status. */
int gm_tape_backward(gm_tape *t, gm_var *loss);
/* Vector-Jacobian product: seeds d out = dout (out->n floats; copied). */
int gm_tape_backward_from(gm_tape *t, gm_var *out, const float *dout);

/* For custom ops: the gradient buffer of v, allocated (zeroed) on first use; NULL if !v->requires_grad. */
float *gm_tape_grad(gm_tape *t, gm_var *v);
/* Record a node for `out` computed from in[0..nin-1]; returns NULL (nothing recorded) when no input
 * requires a gradient or the tape is in no-grad mode. Sets out->requires_grad accordingly. */
gm_node *gm_tape_record(gm_tape *t, gm_backward_fn fn, gm_var *out, int nin, gm_var *const *in);
/* Record a failure in the tape (returns NULL for convenient `return gm_tape_fail(...)`). */
gm_var *gm_tape_fail(gm_tape *t, int code, const char *msg);

/* ---- ops (forward now, backward recorded) ---------------------------------------------------- */
/* x(B, ...) flattened to (B, C); w(OC, C); b(OC) or NULL -> (B, OC). */
gm_var *gm_op_linear(gm_tape *t, gm_var *x, gm_var *w, gm_var *b);
/* x(B,C,H,W), w(OC,C,K,K), b(OC) or NULL -> (B,OC,OH,OW). */
gm_var *gm_op_conv2d(gm_tape *t, gm_var *x, gm_var *w, gm_var *b, int stride, int pad);
/* act(conv2d(x, w, b), GM_ACT_LEAKY_RELU, alpha) for alpha >= 0: one node (the activation applied as the
 * convolution writes its output, its derivative as the backward lays the gradient out) where the fused
 * kernel applies (K 4, stride 2, pad 1, even input, SIMD), else the two ops. Same values and gradients. */
gm_var *gm_op_conv2d_lrelu(gm_tape *t, gm_var *x, gm_var *w, gm_var *b, int stride, int pad, float alpha);
/* maxpool2d(relu(conv2d(x, w, b)), 2, 2) as one node (gm_conv_relu_pool_*): same values and gradients,
 * far less memory traffic. -> (B,OC,OH/2,OW/2). */
gm_var *gm_op_conv_relu_pool(gm_tape *t, gm_var *x, gm_var *w, gm_var *b, int stride, int pad);
/* x(B,C,H,W), w(C,OC,K,K), b(OC) or NULL -> (B,OC,OH,OW), OH = (H-1) stride - 2 pad + K. */
gm_var *gm_op_conv_transpose2d(gm_tape *t, gm_var *x, gm_var *w, gm_var *b, int stride, int pad);
gm_var *gm_op_maxpool2d(gm_tape *t, gm_var *x, int k, int stride);
gm_var *gm_op_avgpool2d(gm_tape *t, gm_var *x, int k, int stride);
gm_var *gm_op_upsample(gm_tape *t, gm_var *x, int factor);
gm_var *gm_op_act(gm_tape *t, gm_var *x, gm_act act, float alpha);
/* Layer norm over the last dim; gamma/beta (C) may be NULL. */
gm_var *gm_op_layernorm(gm_tape *t, gm_var *x, gm_var *gamma, gm_var *beta, float eps);
/* Group norm of x(B,C,H,W) (or (B,C)); gamma/beta (C) may be NULL. */
gm_var *gm_op_groupnorm(gm_tape *t, gm_var *x, int groups, gm_var *gamma, gm_var *beta, float eps);
/* silu(groupnorm(x, groups, gamma, beta, eps)) as one node (the diffusion U-Net's pre-activation; nn_gnsilu.c):
 * the normalised value is not stored (the backward recomputes it), the sigmoid uses a vectorised expf
 * within 2.5e-7 relative of exp. */
gm_var *gm_op_groupnorm_silu(gm_tape *t, gm_var *x, int groups, gm_var *gamma, gm_var *beta, float eps);
/* relu(groupnorm(x, groups, gamma, beta, eps)) as one node, the same way (the conv GAN generator's). */
gm_var *gm_op_groupnorm_relu(gm_tape *t, gm_var *x, int groups, gm_var *gamma, gm_var *beta, float eps);
/* x · σ(x) through the same vectorised sigmoid (nn_gnsilu.c; measured within 1.9e-7 relative of the exact value,
 * the gradient within 1.2e-6, for x >= −87; below, the exp's clamp leaves absolute errors < 1e-35), several times
 * faster than gm_op_act(GM_ACT_SILU) (libm expf per element). */
gm_var *gm_op_silu(gm_tape *t, gm_var *x);
/* Dropout with drop probability p: the mask (0 or 1/(1-p)) is drawn here from `rng` (a gm_rng *);
 * p == 0 returns x itself. */
gm_var *gm_op_dropout(gm_tape *t, gm_var *x, float p, void *rng);
gm_var *gm_op_add(gm_tape *t, gm_var *a, gm_var *b);
gm_var *gm_op_mul(gm_tape *t, gm_var *a, gm_var *b);
/* s * x + c */
gm_var *gm_op_scale(gm_tape *t, gm_var *x, float s, float c);
/* x(B,C,...) + v(B,C) broadcast over the trailing dims. */
gm_var *gm_op_add_channel(gm_tape *t, gm_var *x, gm_var *v);
/* Concat along `axis` (all other dims equal). */
gm_var *gm_op_concat(gm_tape *t, gm_var *a, gm_var *b, int axis);
/* Split x along `axis` into sizes (na, x->shape[axis] - na). Returns GM_OK or the tape status. */
int gm_op_split(gm_tape *t, gm_var *x, int axis, int64_t na, gm_var **a, gm_var **b);
/* Same data, new shape (no copy; gradients shared). */
gm_var *gm_op_reshape(gm_tape *t, gm_var *x, int ndim, const int64_t *shape);
gm_var *gm_op_sum(gm_tape *t, gm_var *x);
gm_var *gm_op_mean(gm_tape *t, gm_var *x);
/* Scalar losses. labels(B) are copied. */
gm_var *gm_op_softmax_xent(gm_tape *t, gm_var *logits, const int32_t *labels);
gm_var *gm_op_bce_logits(gm_tape *t, gm_var *x, gm_var *target);
gm_var *gm_op_mse(gm_tape *t, gm_var *a, gm_var *b);
/* KL(N(mu, exp(logvar)) || N(0,I)) summed over features, mean over the batch (first dim). */
gm_var *gm_op_gauss_kl(gm_tape *t, gm_var *mu, gm_var *logvar);
/* tvals(B) -> (B, dim) sinusoidal embedding (max period 10000). */
gm_var *gm_op_time_embed(gm_tape *t, gm_var *tvals, int dim);

/* Spectral normalisation of w(OC, C...) (flattened to OC x C) with the caller-owned persistent vector
 * u(OC), updated by `iters` power iterations (nn_spectral.c). -> same shape as w. */
gm_var *gm_op_spectral_norm(gm_tape *t, gm_var *w, float *u, int iters, float eps);
/* Affine coupling of x(B,D) with conditioner output st(B,2D) and mask(D) (borrowed, must outlive backward);
 * dir +1 forward, -1 inverse (nn_coupling.c). -> (B, D+1) = [y | logdet]; split with gm_op_split. */
gm_var *gm_op_coupling(gm_tape *t, gm_var *x, gm_var *st, const float *mask, float scale, int dir);

#ifdef __cplusplus
}
#endif
#endif /* GM_TAPE_H */
