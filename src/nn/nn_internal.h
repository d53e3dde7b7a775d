/* SPDX-License-Identifier: MIT */
/* nn_internal.h — private helpers of the nn kernels (never installed): fixed-block partitions for
 * thread-count-independent reductions, and an sgemm wrapper (CBLAS or a naive OpenMP fallback). */
#ifndef GM_NN_INTERNAL_H
#define GM_NN_INTERNAL_H

#include <stddef.h>

#include "genmix/nn.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Reductions split [0, N) into NB <= GM__NB_MAX fixed blocks that depend on N only; each block is summed
 * (in double) by one thread and the partials are added in block order. */
#define GM__NB_MAX 256
#define GM__BLOCK_MIN 1024
static inline size_t gm__nblocks(size_t N, size_t min_block) {
    size_t nb = (N + min_block - 1) / min_block;
    if (nb > GM__NB_MAX) nb = GM__NB_MAX;
    return nb ? nb : 1;
}
static inline size_t gm__block_lo(size_t N, size_t nb, size_t k) { return (size_t)((unsigned long long)N * k / nb); }

/* Loops shorter than this stay serial (OpenMP start-up costs more than the work). */
#define GM__PAR_MIN 32768

/* C(M,N) = alpha op(A) op(B) + beta C, row-major; lda/ldb/ldc are row strides. */
void gm__sgemm(int transA, int transB, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
               const float *B, size_t ldb, float beta, float *C, size_t ldc);
/* The same product on the calling thread only (for kernels that parallelise over chunks of the batch). */
void gm__sgemm_serial(int transA, int transB, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                      const float *B, size_t ldb, float beta, float *C, size_t ldc);

/* ---- 3x3 stride-1 pad-1 convolution on a padded grid, no im2col (nn_conv3.c) ----
 * gm__conv3_forward: out(B,OC,H,W) = conv(in, w(OC,C,3,3)) + b; gm__conv3_backward adds into din, dw, db
 * (NULL = skip) from the same input (din_set = 1: din is written instead, the bits of adding into zeros);
 * work: gm__conv3_work_size floats for either pass (nothing is cached between them). Naive twins:
 * gm_conv2d_forward_ref/_backward_ref. */
enum { GM__ISA_C = 0, GM__ISA_AVX2 = 1, GM__ISA_AVX512 = 2 };
int gm__conv3_applies(const gm_conv_dims *d);
size_t gm__conv3_work_size(const gm_conv_dims *d);
void gm__conv3_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d,
                       float *work);
void gm__conv3_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                        const gm_conv_dims *d, int din_set, float *work); /* din_set: overwrite din, not add */
/* db(C) += sum over b, p of x(B, C, P) in double (nn_conv.c) */
#define GM__CSUM_LANES 8 /* gm__channel_sums: element p of a plane goes to double partial sum p mod 8 */
void gm__channel_sums(float *db, const float *x, size_t B, size_t C, size_t P);
double gm__csum_total(double *t); /* its partials added in its fixed order (t overwritten) */
/* s[p mod 8] += r[p] for the P values of one plane, p in order (the partials stay in registers) */
static inline void gm__csum_plane(double *s, const float *r, size_t P) {
    double a[GM__CSUM_LANES];
    for (size_t l = 0; l < GM__CSUM_LANES; l++) a[l] = s[l];
    size_t p = 0;
    for (; p + GM__CSUM_LANES <= P; p += GM__CSUM_LANES)
#pragma GCC unroll 8
        for (size_t l = 0; l < GM__CSUM_LANES; l++) a[l] += (double)r[p + l];
    for (size_t l = 0; p < P; p++, l++) a[l] += (double)r[p];
    for (size_t l = 0; l < GM__CSUM_LANES; l++) s[l] = a[l];
}
/* 1x1 stride-1 unpadded convolution as one GEMM per image (nn_conv3.c); no cache, no work */
int gm__conv1x1_applies(const gm_conv_dims *d);
void gm__conv1x1_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d);
void gm__conv1x1_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                          const gm_conv_dims *d);
/* stride-2 pad-1 K = 3/4 convolution on phase grids, even input (nn_conv3.c), the same contract as the 3x3
 * kernels; gm__convts2_* are the transposed convolution (C, H, W) -> (OC, 2H, 2W), w(C, OC, K, K), with its
 * own dims (gm_conv_transpose2d_dims). Naive twins: gm_conv2d_*_ref and gm_conv_transpose2d_*_ref. */
int gm__convs2_applies(const gm_conv_dims *d);
size_t gm__convs2_work_size(const gm_conv_dims *d);
void gm__convs2_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *d,
                        float *work);
void gm__convs2_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                         const gm_conv_dims *d, int din_set, float *work);
/* conv + bias + LeakyReLU(alpha >= 0) fused: the forward writes y = lrelu(conv + b); the backward takes that y
 * and adds the gradients of conv + bias + LeakyReLU (the same bits as gm__convs2_* then gm_act_*) */
void gm__convs2_forward_lrelu(float *out, const float *in, const float *w, const float *b, float alpha,
                              const gm_conv_dims *d, float *work);
void gm__convs2_backward_lrelu(float *din, float *dw, float *db, const float *dout, const float *y, float alpha,
                               const float *in, const float *w, const gm_conv_dims *d, int din_set, float *work);
int gm__convts2_applies(const gm_conv_dims *t);
size_t gm__convts2_work_size(const gm_conv_dims *t);
void gm__convts2_forward(float *out, const float *in, const float *w, const float *b, const gm_conv_dims *t,
                         float *work);
void gm__convts2_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                          const gm_conv_dims *t, int din_set, float *work);
/* dw[i] += the vw lanes (a power of 2 <= 16) of lanes[vw i ..] summed pairwise in double (h = vw/2, .., 1:
 * t[j] += t[j + h]); the weight gradient's last step. gm__lane_sums_ref: the scalar twin (the same bits). */
void gm__lane_sums(float *dw, const float *lanes, size_t n, int vw);
void gm__lane_sums_ref(float *dw, const float *lanes, size_t n, int vw);
int gm__conv3_isa(void);            /* the instruction set the kernels use (the widest the CPU has) */
void gm__conv3_force_isa(int isa);  /* tests: force GM__ISA_* (-1: back to the CPU's); not thread-safe */

/* ---- fused group norm + SiLU (nn_gnsilu.c): y = silu(groupnorm(x)); mean/rstd (B*G) as gm_groupnorm_*;
 * backward adds into din (din_set = 1: writes it), dgamma, dbeta (NULL = skip) with work of
 * gm__gn_silu_work_size floats. ---- */
void gm__gn_silu_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                         const float *beta, size_t B, size_t C, size_t S, size_t G, float eps);
size_t gm__gn_silu_work_size(size_t B, size_t C, size_t S, size_t G);
void gm__gn_silu_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                          const float *mean, const float *rstd, const float *gamma, const float *beta, size_t B,
                          size_t C, size_t S, size_t G, int din_set, float *work);
void gm__gn_silu_forward_ref(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                             const float *beta, size_t B, size_t C, size_t S, size_t G, float eps);
void gm__gn_silu_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                              const float *mean, const float *rstd, const float *gamma, const float *beta, size_t B,
                              size_t C, size_t S, size_t G, float *dz);
/* the same with ReLU (z > 0 ? z : 0, derivative 1 where z > 0) in place of SiLU (the conv GAN generator's) */
void gm__gn_relu_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                         const float *beta, size_t B, size_t C, size_t S, size_t G, float eps);
void gm__gn_relu_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                          const float *mean, const float *rstd, const float *gamma, const float *beta, size_t B,
                          size_t C, size_t S, size_t G, int din_set, float *work);
void gm__gn_relu_forward_ref(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                             const float *beta, size_t B, size_t C, size_t S, size_t G, float eps);
void gm__gn_relu_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                              const float *mean, const float *rstd, const float *gamma, const float *beta, size_t B,
                              size_t C, size_t S, size_t G, float *dz);
float gm__expf_neg(float a);      /* exp(a) for a <= 0 (clamped at -87), max rel error 1e-7 */
float gm__sigmoidf_fast(float z); /* 1 / (1 + exp(-z)) through gm__expf_neg */
/* silu(x) = x sigmoid(x) of n floats through gm__sigmoidf_fast's vectorised sigmoid (nn_gnsilu.c); the backward
 * adds dout silu'(in) into din. */
void gm__silu_fast_forward(float *out, const float *in, size_t n);
void gm__silu_fast_backward(float *din, const float *dout, const float *in, size_t n);
struct gm_tape;
struct gm_var;
/* tape.c: a scratch buffer of at least `bytes`, valid until the next call (one kernel call's work space);
 * NULL after recording GM_ENOMEM in the tape */
void *gm__tape_scratch(struct gm_tape *t, size_t bytes);
/* tape.c: v's gradient for a kernel that writes every element; allocated without zeroing (and *fresh = 1)
 * when nothing has flowed into v yet, so the kernel writes instead of adding. NULL if v needs none. */
float *gm__tape_grad_unzeroed(struct gm_tape *t, struct gm_var *v, int *fresh);

#endif
