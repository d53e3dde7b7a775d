/* SPDX-License-Identifier: MIT */
/* genmix/nn.h — neural-network kernels: gm_<op>_forward / gm_<op>_backward over raw float arrays.
 *
 * Usage (a linear layer and a ReLU, llm.c style):
 *     gm_linear_forward(h, x, W, b, B, C, OC);          // h(B,OC) = x(B,C) W(OC,C)^T + b
 *     gm_relu_forward(a, h, B * OC);
 *     ...
 *     gm_relu_backward(dh, da, h, B * OC);              // dh += da * (h > 0)
 *     gm_linear_backward(dx, dW, db, dh, x, W, B, C, OC);
 *
 * Contract (style §2.6):
 *   - Argument order: outputs, caches, inputs, parameters, dims. Shapes are in the comment of each kernel.
 *   - forward OVERWRITES its outputs and caches. backward ACCUMULATES (+=) into every d* argument; a NULL
 *     d* pointer means "not needed" and is skipped (frozen parameters, no gradient to the data).
 *   - Kernels never allocate, do I/O or draw random numbers. Noise (dropout masks, ...) is an input.
 *     Kernels that need scratch memory take a `work` array whose size is given by a *_work_size function.
 *   - Every non-trivial kernel has a naive `_ref` twin, compiled in all builds and compared with it on
 *     random inputs in tests/test_nn.c: linear, conv2d, conv_transpose2d, conv_relu_pool, max/avg pool,
 *     upsample, the activations (gm_act_*_ref; gm_relu_forward ... gm_gelu_backward are named wrappers of
 *     gm_act_*), layernorm, groupnorm, softmax_xent, and the forward passes of the blocked reductions
 *     sum, mean, bce_logits, mse, gauss_kl. The others are single loops that are their own reference: the
 *     element-wise and shape ops (dropout, add, mul, scale, add_channel, concat, split, reshape), the
 *     backward passes of the reductions and losses, softmax_forward (the row kernel of softmax_xent) and
 *     time_embed. The fast versions use CBLAS (when GM_HAVE_BLAS) and OpenMP over batch rows with
 *     schedule(static). Reductions across rows are done in fixed-size blocks summed in order in double,
 *     so results do not depend on the thread count.
 *   - Tensors are contiguous, row-major; images are NCHW. Sizes are size_t.
 *   - Programmer errors (NULL required pointers, zero dims where forbidden) hit GM_ASSERT.
 * Ownership: kernels own nothing; every pointer is borrowed for the duration of the call.
 * Thread safety: kernels are reentrant; they may start OpenMP/BLAS threads internally.
 */
#ifndef GM_NN_H
#define GM_NN_H

#include <stddef.h>
#include <stdint.h>

#include "genmix/base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- linear --------------------------------------------------------------------------------- */
/* out(B,OC) = in(B,C) W(OC,C)^T + b(OC)   (b may be NULL) */
void gm_linear_forward(float *out, const float *in, const float *w, const float *b, size_t B, size_t C, size_t OC);
/* din(B,C) += dout W;  dw(OC,C) += dout^T in;  db(OC) += sum_rows dout */
void gm_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                        size_t B, size_t C, size_t OC);
void gm_linear_forward_ref(float *out, const float *in, const float *w, const float *b, size_t B, size_t C,
                           size_t OC);
void gm_linear_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                            size_t B, size_t C, size_t OC);

/* ---- 2-D convolution (NCHW, square kernel, symmetric zero padding) --------------------------- */
typedef struct {
    size_t B, C, H, W; /* input batch, channels, height, width */
    size_t OC;         /* output channels */
    size_t K;          /* kernel size (K x K) */
    size_t stride, pad;
    size_t OH, OW;     /* output size: filled by gm_conv2d_dims / gm_conv_transpose2d_dims */
} gm_conv_dims;

/* Fill OH, OW for a convolution: OH = (H + 2 pad - K) / stride + 1. Returns GM_ESHAPE if it is < 1. */
int gm_conv2d_dims(gm_conv_dims *d);
/* Floats of the `col` cache (C*K*K x B*OH*OW) and of the `work` scratch of conv2d forward/backward. */
size_t gm_conv2d_col_size(const gm_conv_dims *d);
size_t gm_conv2d_work_size(const gm_conv_dims *d);
/* out(B,OC,OH,OW) = conv(in(B,C,H,W), w(OC,C,K,K)) + b(OC).  col: cache filled for backward (im2col of
 * in); work: scratch of gm_conv2d_work_size floats. */
void gm_conv2d_forward(float *out, float *col, const float *in, const float *w, const float *b,
                       const gm_conv_dims *d, float *work);
/* din(B,C,H,W) += ..., dw(OC,C,K,K) += ..., db(OC) += ...; col from the forward call, work scratch. */
void gm_conv2d_backward(float *din, float *dw, float *db, const float *dout, const float *col, const float *w,
                        const gm_conv_dims *d, float *work);
void gm_conv2d_forward_ref(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d);
void gm_conv2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                            const gm_conv_dims *d);

/* Transposed convolution (the adjoint of conv2d in its input; PyTorch ConvTranspose2d with output_padding 0):
 * in(B,C,H,W), w(C,OC,K,K), b(OC) -> out(B,OC,OH,OW), OH = (H-1) stride - 2 pad + K. */
int gm_conv_transpose2d_dims(gm_conv_dims *d);
size_t gm_conv_transpose2d_work_size(const gm_conv_dims *d);
void gm_conv_transpose2d_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d,
                                 float *work);
void gm_conv_transpose2d_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                                  const float *w, const gm_conv_dims *d, float *work);
void gm_conv_transpose2d_forward_ref(float *out, const float *in, const float *w, const float *b,
                                     const gm_conv_dims *d);
void gm_conv_transpose2d_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in,
                                      const float *w, const gm_conv_dims *d);

/* Fused conv2d + bias + ReLU + 2x2 max-pool with stride 2 (the CNN block conv -> relu -> maxpool:2): the same
 * values as the three kernels in sequence (first maximum of a window wins), without ever storing the
 * B*OC*OH*OW conv output. out(B,OC,OH/2,OW/2); argmax (same shape) = index of the winning pixel in its OH*OW
 * plane, or -1 when the window's maximum is <= 0 (ReLU blocks the gradient). Needs OH, OW >= 2. work:
 * gm_conv_relu_pool_work_size floats (forward and backward). Backward accumulates into din/dw/db (each may
 * be NULL) and reads the input `in` again (no column cache). */
size_t gm_conv_relu_pool_work_size(const gm_conv_dims *d);
void gm_conv_relu_pool_forward(float *out, int32_t *argmax, const float *in, const float *w, const float *b,
                               const gm_conv_dims *d, float *work);
void gm_conv_relu_pool_backward(float *din, float *dw, float *db, const float *dout, const int32_t *argmax,
                                const float *in, const float *w, const gm_conv_dims *d, float *work);
void gm_conv_relu_pool_forward_ref(float *out, int32_t *argmax, const float *in, const float *w, const float *b,
                                   const gm_conv_dims *d);
void gm_conv_relu_pool_backward_ref(float *din, float *dw, float *db, const float *dout, const int32_t *argmax,
                                    const float *in, const float *w, const gm_conv_dims *d);

/* im2col / col2im over a batch: col(C*K*K, B*OH*OW) with row (c,kh,kw) and column (b,oh,ow).
 * col2im accumulates (+=) into img. */
void gm_im2col(float *col, const float *img, const gm_conv_dims *d);
void gm_col2im(float *img, const float *col, const gm_conv_dims *d);

/* ---- pooling and upsampling (NCHW; window K, stride S, no padding; OH = (H - K) / S + 1) ------- */
/* out(B*C,OH,OW) = mean of each window. */
void gm_avgpool2d_forward(float *out, const float *in, size_t BC, size_t H, size_t W, size_t K, size_t S);
void gm_avgpool2d_backward(float *din, const float *dout, size_t BC, size_t H, size_t W, size_t K, size_t S);
/* out = max of each window; argmax(B*C,OH,OW) caches the flat index (within the H*W plane) of the max
 * (first one on ties). */
void gm_maxpool2d_forward(float *out, int32_t *argmax, const float *in, size_t BC, size_t H, size_t W, size_t K,
                          size_t S);
void gm_maxpool2d_backward(float *din, const float *dout, const int32_t *argmax, size_t BC, size_t H, size_t W,
                           size_t K, size_t S);
void gm_avgpool2d_forward_ref(float *out, const float *in, size_t BC, size_t H, size_t W, size_t K, size_t S);
void gm_avgpool2d_backward_ref(float *din, const float *dout, size_t BC, size_t H, size_t W, size_t K, size_t S);
void gm_maxpool2d_forward_ref(float *out, int32_t *argmax, const float *in, size_t BC, size_t H, size_t W,
                              size_t K, size_t S);
void gm_maxpool2d_backward_ref(float *din, const float *dout, const int32_t *argmax, size_t BC, size_t H,
                               size_t W, size_t K, size_t S);
/* Nearest upsampling by an integer factor F: out(B*C, H*F, W*F). */
void gm_upsample_nearest_forward(float *out, const float *in, size_t BC, size_t H, size_t W, size_t F);
void gm_upsample_nearest_backward(float *din, const float *dout, size_t BC, size_t H, size_t W, size_t F);
void gm_upsample_nearest_forward_ref(float *out, const float *in, size_t BC, size_t H, size_t W, size_t F);
void gm_upsample_nearest_backward_ref(float *din, const float *dout, size_t BC, size_t H, size_t W, size_t F);

/* ---- activations (elementwise over N values) ------------------------------------------------ */
typedef enum {
    GM_ACT_IDENTITY = 0,
    GM_ACT_RELU,
    GM_ACT_LEAKY_RELU, /* x > 0 ? x : alpha x */
    GM_ACT_TANH,
    GM_ACT_SIGMOID,
    GM_ACT_SILU,       /* x sigmoid(x) */
    GM_ACT_SOFTPLUS,   /* log(1 + e^x) */
    GM_ACT_GELU,       /* exact: x Phi(x) = x (1 + erf(x / sqrt 2)) / 2 (PyTorch's default) */
    GM_ACT_COUNT
} gm_act;
/* "relu", "leaky_relu", ...; gm_act_from_name returns -1 for unknown names. */
const char *gm_act_name(gm_act a);
int gm_act_from_name(const char *name);
/* out(N) = act(in(N)); out may alias in except for backward needs (backward uses in and/or out). */
void gm_act_forward(gm_act a, float *out, const float *in, size_t N, float alpha);
/* din(N) += dout * act'(in); `in` and `out` are the forward's input and output (both needed). */
void gm_act_backward(gm_act a, float *din, const float *dout, const float *in, const float *out, size_t N,
                     float alpha);
void gm_act_forward_ref(gm_act a, float *out, const float *in, size_t N, float alpha);
void gm_act_backward_ref(gm_act a, float *din, const float *dout, const float *in, const float *out, size_t N,
                         float alpha);
/* Named wrappers of the above. */
void gm_relu_forward(float *out, const float *in, size_t N);
void gm_relu_backward(float *din, const float *dout, const float *in, size_t N);
void gm_leaky_relu_forward(float *out, const float *in, size_t N, float alpha);
void gm_leaky_relu_backward(float *din, const float *dout, const float *in, size_t N, float alpha);
void gm_tanh_forward(float *out, const float *in, size_t N);
void gm_tanh_backward(float *din, const float *dout, const float *out, size_t N);
void gm_sigmoid_forward(float *out, const float *in, size_t N);
void gm_sigmoid_backward(float *din, const float *dout, const float *out, size_t N);
void gm_silu_forward(float *out, const float *in, size_t N);
void gm_silu_backward(float *din, const float *dout, const float *in, size_t N);
void gm_softplus_forward(float *out, const float *in, size_t N);
void gm_softplus_backward(float *din, const float *dout, const float *in, size_t N);
void gm_gelu_forward(float *out, const float *in, size_t N);
void gm_gelu_backward(float *din, const float *dout, const float *in, size_t N);

/* ---- normalisation -------------------------------------------------------------------------- */
/* Layer norm over the last dim: out(N,C) = (in - mean) * rstd * gamma(C) + beta(C);
 * caches mean(N), rstd(N); rstd = 1/sqrt(var + eps) with the biased variance. gamma/beta may be NULL
 * (no affine). */
void gm_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                          const float *beta, size_t N, size_t C, float eps);
void gm_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                           const float *mean, const float *rstd, const float *gamma, size_t N, size_t C);
void gm_layernorm_forward_ref(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                              const float *beta, size_t N, size_t C, float eps);
void gm_layernorm_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                               const float *mean, const float *rstd, const float *gamma, size_t N, size_t C);
/* Group norm: in(B,C,S) (S = H*W), G groups of C/G channels; gamma/beta(C) per channel (may be NULL);
 * caches mean(B*G), rstd(B*G). */
void gm_groupnorm_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                          const float *beta, size_t B, size_t C, size_t S, size_t G, float eps);
void gm_groupnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                           const float *mean, const float *rstd, const float *gamma, size_t B, size_t C, size_t S,
                           size_t G);
void gm_groupnorm_forward_ref(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                              const float *beta, size_t B, size_t C, size_t S, size_t G, float eps);
void gm_groupnorm_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                               const float *mean, const float *rstd, const float *gamma, size_t B, size_t C,
                               size_t S, size_t G);

/* ---- elementwise / shape ops ---------------------------------------------------------------- */
/* Dropout with a caller-made mask: out = in * mask (mask holds 0 or 1/(1-p)). din += dout * mask. */
void gm_dropout_forward(float *out, const float *in, const float *mask, size_t N);
void gm_dropout_backward(float *din, const float *dout, const float *mask, size_t N);
/* out = a + b;  da += dout, db += dout. */
void gm_add_forward(float *out, const float *a, const float *b, size_t N);
void gm_add_backward(float *da, float *db, const float *dout, size_t N);
/* out = a * b;  da += dout b, db += dout a. */
void gm_mul_forward(float *out, const float *a, const float *b, size_t N);
void gm_mul_backward(float *da, float *db, const float *dout, const float *a, const float *b, size_t N);
/* out = s * in + c (scalars);  din += s dout. */
void gm_scale_forward(float *out, const float *in, float s, float c, size_t N);
void gm_scale_backward(float *din, const float *dout, float s, size_t N);
/* Per-channel broadcast add: out(B,C,S) = x(B,C,S) + v(B,C) (e.g. a time embedding added to feature maps);
 * dx += dout; dv(B,C) += sum over S of dout. */
void gm_add_channel_forward(float *out, const float *x, const float *v, size_t B, size_t C, size_t S);
void gm_add_channel_backward(float *dx, float *dv, const float *dout, size_t B, size_t C, size_t S);
/* Concat along the middle dim: a(O,Ca,In), b(O,Cb,In) -> out(O,Ca+Cb,In). backward splits dout. */
void gm_concat_forward(float *out, const float *a, const float *b, size_t O, size_t Ca, size_t Cb, size_t In);
void gm_concat_backward(float *da, float *db, const float *dout, size_t O, size_t Ca, size_t Cb, size_t In);
/* Split is the adjoint of concat: in(O,Ca+Cb,In) -> a(O,Ca,In), b(O,Cb,In) (either may be NULL). */
void gm_split_forward(float *a, float *b, const float *in, size_t O, size_t Ca, size_t Cb, size_t In);
void gm_split_backward(float *din, const float *da, const float *db, size_t O, size_t Ca, size_t Cb, size_t In);
/* Reshape is a copy (the tape makes it free by sharing storage): out = in; din += dout. */
void gm_reshape_forward(float *out, const float *in, size_t N);
void gm_reshape_backward(float *din, const float *dout, size_t N);

/* ---- reductions (fixed-block, double accumulation) ------------------------------------------- */
/* out[0] = sum(in(N)); din += dout[0]. */
void gm_sum_forward(float *out, const float *in, size_t N);
void gm_sum_backward(float *din, const float *dout, size_t N);
void gm_sum_forward_ref(float *out, const float *in, size_t N);
/* out[0] = mean(in(N)); din += dout[0] / N. */
void gm_mean_forward(float *out, const float *in, size_t N);
void gm_mean_backward(float *din, const float *dout, size_t N);
void gm_mean_forward_ref(float *out, const float *in, size_t N);
/* Double-precision sum of x(N) in fixed 1024-element blocks (thread-count independent). */
double gm_sum_f64(const float *x, size_t N);

/* ---- losses (scalar out[0]; backward scales by dout[0]) -------------------------------------- */
/* Fused softmax cross-entropy: logits(B,V), labels(B) in 0..V-1; out[0] = mean_b -log softmax(logits)[label];
 * probs(B,V) cache. If losses != NULL it receives the per-row loss(B). dlogits += dout (probs - onehot)/B. */
void gm_softmax_xent_forward(float *out, float *losses, float *probs, const float *logits, const int32_t *labels,
                             size_t B, size_t V);
void gm_softmax_xent_backward(float *dlogits, const float *dout, const float *probs, const int32_t *labels,
                              size_t B, size_t V);
void gm_softmax_xent_forward_ref(float *out, float *losses, float *probs, const float *logits,
                                 const int32_t *labels, size_t B, size_t V);
void gm_softmax_xent_backward_ref(float *dlogits, const float *dout, const float *probs, const int32_t *labels,
                                  size_t B, size_t V);
/* Row softmax: out(B,V) = softmax(in) (for inference; no backward here). */
void gm_softmax_forward(float *out, const float *in, size_t B, size_t V);
/* Binary cross-entropy with logits, mean over N: out[0] = mean(max(x,0) - x t + log(1 + e^-|x|));
 * dx += dout (sigmoid(x) - t)/N; dt += dout (-x)/N (targets may need gradients; NULL skips). */
void gm_bce_logits_forward(float *out, const float *x, const float *t, size_t N);
void gm_bce_logits_forward_ref(float *out, const float *x, const float *t, size_t N);
void gm_bce_logits_backward(float *dx, float *dt, const float *dout, const float *x, const float *t, size_t N);
/* Mean squared error: out[0] = mean((a - b)^2) over N; da += 2 dout (a-b)/N; db -= the same. */
void gm_mse_forward(float *out, const float *a, const float *b, size_t N);
void gm_mse_forward_ref(float *out, const float *a, const float *b, size_t N);
void gm_mse_backward(float *da, float *db, const float *dout, const float *a, const float *b, size_t N);
/* KL(N(mu, exp(logvar)) || N(0, I)) summed over D and averaged over B:
 * out[0] = -1/(2B) sum (1 + logvar - mu^2 - exp(logvar)).  dmu += dout mu / B; dlogvar += dout (exp(lv)-1)/(2B). */
void gm_gauss_kl_forward(float *out, const float *mu, const float *logvar, size_t B, size_t D);
void gm_gauss_kl_forward_ref(float *out, const float *mu, const float *logvar, size_t B, size_t D);
void gm_gauss_kl_backward(float *dmu, float *dlogvar, const float *dout, const float *mu, const float *logvar,
                          size_t B, size_t D);

/* ---- sinusoidal time embedding (DDPM / transformer style) ------------------------------------ */
/* out(B,D) with D even, half = D/2: out[b,i] = sin(t_b f_i), out[b,half+i] = cos(t_b f_i),
 * f_i = exp(-ln(max_period) i / half).  dt(B) += sum_i dout * d/dt (t may be NULL-skipped). */
void gm_time_embed_forward(float *out, const float *t, size_t B, size_t D, float max_period);
void gm_time_embed_backward(float *dt, const float *dout, const float *t, size_t B, size_t D, float max_period);

/* ---- spectral normalisation (Miyato et al. 2018; nn_spectral.c) ------------------------------ */
/* w(OC,C); u(OC) is the persistent left singular-vector estimate, updated in place by `iters` power
 * iterations (v = W^T u / max(|W^T u|, eps), u = W v / max(|W v|, eps), PyTorch's order); iters = 0 uses
 * u and v as given. sigma[0] = u^T W v; wsn = w / sigma. v(C) is written (read when iters == 0). */
void gm_spectral_norm_forward(float *wsn, float *u, float *v, float *sigma, const float *w, size_t OC, size_t C,
                              int iters, float eps);
/* u, v held constant (as PyTorch): dw += dwsn / sigma - (sum(dwsn .* wsn) / sigma) u v^T. */
void gm_spectral_norm_backward(float *dw, const float *dwsn, const float *wsn, const float *u, const float *v,
                               float sigma, size_t OC, size_t C);
void gm_spectral_norm_forward_ref(float *wsn, float *u, float *v, float *sigma, const float *w, size_t OC,
                                  size_t C, int iters, float eps);
void gm_spectral_norm_backward_ref(float *dw, const float *dwsn, const float *wsn, const float *u,
                                   const float *v, float sigma, size_t OC, size_t C);

/* ---- affine coupling (RealNVP; nn_coupling.c) ------------------------------------------------- */
/* x(B,D), st(B,2D) = [s_raw | t] from the conditioner (which must only see x * mask), mask(D) in {0,1}.
 * s = scale tanh(s_raw) on the free dims (mask 0), 0 on the kept ones. out(B,D+1) = [y | logdet]:
 *   dir = +1: y = x on kept dims, x e^s + t on free dims, logdet = sum s;
 *   dir = -1 (the inverse): y = x on kept dims, (x - t) e^-s on free dims, logdet = -sum s.
 * backward: dx(B,D) += ..., dst(B,2D) += ... from dout(B,D+1) (either may be NULL). */
void gm_coupling_forward(float *out, const float *x, const float *st, const float *mask, size_t B, size_t D,
                         float scale, int dir);
void gm_coupling_backward(float *dx, float *dst, const float *dout, const float *x, const float *st,
                          const float *mask, size_t B, size_t D, float scale, int dir);
void gm_coupling_forward_ref(float *out, const float *x, const float *st, const float *mask, size_t B, size_t D,
                             float scale, int dir);
void gm_coupling_backward_ref(float *dx, float *dst, const float *dout, const float *x, const float *st,
                              const float *mask, size_t B, size_t D, float scale, int dir);

#ifdef __cplusplus
}
#endif
#endif /* GM_NN_H */
