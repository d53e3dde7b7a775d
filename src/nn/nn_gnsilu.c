/* SPDX-License-Identifier: MIT */
/* nn_gnsilu.c — fused group norm + SiLU (y = silu(groupnorm(x))), the pre-activation of the diffusion U-Net's
 * residual blocks, with a vectorisable expf for the sigmoid, fused group norm + ReLU (the conv GAN
 * generator's), a plain SiLU op through the same sigmoid (gm_op_silu, the image flow's); their naive
 * twins, and the tape ops gm_op_groupnorm_silu / gm_op_groupnorm_relu / gm_op_silu (genmix/tape.h). The
 * group-norm output is never stored: the backward pass recomputes it from the input and the saved mean/rstd.
 *
 * gm__expf_neg(a), a <= 0: exp(a) by a = n ln2 + r (|r| <= ln2/2, ln2 in two parts), a degree-7 Taylor
 * polynomial in r, times 2^n from the exponent bits; arguments below -87 are clamped to -87 (exp(-87) =
 * 1.6e-38; sigmoid(-87) and below are then that small instead of smaller, silu's error stays < 2e-36), NaN
 * stays NaN. Max relative error vs exp in double over [-87, 0]: 9.9e-8 (tests/test_conv3.c bounds it by 2.5e-7).
 * Plain IEEE float operations only (no FMA contraction in C11 mode), so every vector width gives the bits
 * of the scalar loop. Sums are kept in 16 double lanes (element j in lane j mod 16, in order), the lanes
 * added in order: the same bits for any vector width and thread count.
 * Owns nothing. Thread safety: reentrant; OpenMP over (image, group) pairs. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "genmix/tape.h"
#include "nn_internal.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__)
#define GN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GN_CLONES
#endif

#define LANES 16

static inline float expf_neg(float a) {
    const float log2e = 1.44269504088896341f, ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723e-6f;
    const float shift = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    a = a < -87.0f ? -87.0f : a;               /* NaN stays NaN (and makes r, hence the result, NaN) */
    float ai = a > -87.0f ? (a < 0.0f ? a : 0.0f) : -87.0f; /* NaN -> -87: the integer part is always defined */
    float kf = ai * log2e;
    float nf = (kf + shift) - shift; /* nearest integer, in [-126, 0] */
    float r = (a - nf * ln2_hi) - nf * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    union {
        int32_t i;
        float f;
    } s;
    s.i = ((int32_t)nf + 127) * (1 << 23);
    return p * s.f;
}

float gm__expf_neg(float a) { return expf_neg(a); }

/* the sigmoid of z (stable for both signs: e = exp(-|z|) <= 1) */
static inline float sigm(float z) {
    float e = expf_neg(z >= 0.0f ? -z : z);
    float s = 1.0f / (1.0f + e);
    return z >= 0.0f ? s : e * s;
}

float gm__sigmoidf_fast(float z) { return sigm(z); }

/* o[j] = silu(z_j), z_j = (x[j] - m) rs g + bb */
GN_CLONES static void silu_row(float *o, const float *x, size_t n, float m, float rs, float g, float bb) {
#pragma omp simd
    for (size_t j = 0; j < n; j++) {
        float z = (x[j] - m) * rs * g + bb;
        o[j] = z * sigm(z);
    }
}

/* dz[j] = dy[j] silu'(z_j) and xh[j] = (x[j] - m) rs */
GN_CLONES static void dsilu_row(float *dz, float *xh, const float *dy, const float *x, size_t n, float m, float rs,
                                float g, float bb) {
#pragma omp simd
    for (size_t j = 0; j < n; j++) {
        float h = (x[j] - m) * rs, z = h * g + bb, s = sigm(z);
        dz[j] = dy[j] * (s * (1.0f + z * (1.0f - s)));
        xh[j] = h;
    }
}

/* o[j] = relu(z_j) = z_j > 0 ? z_j : 0 (as gm_act_forward), z_j as above */
GN_CLONES static void relu_row(float *o, const float *x, size_t n, float m, float rs, float g, float bb) {
#pragma omp simd
    for (size_t j = 0; j < n; j++) {
        float z = (x[j] - m) * rs * g + bb;
        o[j] = z > 0.0f ? z : 0.0f;
    }
}

/* dz[j] = dy[j] relu'(z_j) (1 where z_j > 0, else 0) and xh[j] = (x[j] - m) rs */
GN_CLONES static void drelu_row(float *dz, float *xh, const float *dy, const float *x, size_t n, float m, float rs,
                                float g, float bb) {
#pragma omp simd
    for (size_t j = 0; j < n; j++) {
        float h = (x[j] - m) * rs, z = h * g + bb;
        dz[j] = z > 0.0f ? dy[j] : 0.0f;
        xh[j] = h;
    }
}

/* lane sums of a[j] */
GN_CLONES static double lane_sum(const float *a, size_t n) {
    double acc[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
#pragma omp simd
        for (size_t l = 0; l < LANES; l++) acc[l] += (double)a[j + l];
    for (size_t l = 0; j < n; j++, l++) acc[l] += (double)a[j];
    double s = 0.0;
    for (size_t l = 0; l < LANES; l++) s += acc[l];
    return s;
}

/* lane sums of a[j] and of a[j] b[j] (products in float) in one pass */
GN_CLONES static void lane_sum2(const float *a, const float *b, size_t n, double *sa, double *sab) {
    double acc[LANES] = {0}, acc2[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
#pragma omp simd
        for (size_t l = 0; l < LANES; l++) {
            acc[l] += (double)a[j + l];
            acc2[l] += (double)(a[j + l] * b[j + l]);
        }
    for (size_t l = 0; j < n; j++, l++) acc[l] += (double)a[j], acc2[l] += (double)(a[j] * b[j]);
    double s = 0.0, s2 = 0.0;
    for (size_t l = 0; l < LANES; l++) s += acc[l], s2 += acc2[l];
    *sa = s;
    *sab = s2;
}

GN_CLONES static double lane_sqdev(const float *x, size_t n, double m) {
    double acc[LANES] = {0};
    size_t j = 0;
    for (; j + LANES <= n; j += LANES)
#pragma omp simd
        for (size_t l = 0; l < LANES; l++) {
            double d = (double)x[j + l] - m;
            acc[l] += d * d;
        }
    for (size_t l = 0; j < n; j++, l++) {
        double d = (double)x[j] - m;
        acc[l] += d * d;
    }
    double s = 0.0;
    for (size_t l = 0; l < LANES; l++) s += acc[l];
    return s;
}

/* ==== kernels ================================================================================== */

/* relu = 0: SiLU, 1: ReLU */
static void gn_act_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma, const float *beta,
                           size_t B, size_t C, size_t S, size_t G, float eps, int relu) {
    GM_ASSERT(out && mean && rstd && in && G > 0 && C % G == 0);
    const size_t Cg = C / G, n = Cg * S;
    long k;
#pragma omp parallel for schedule(static) if (B * C * S > GM__PAR_MIN)
    for (k = 0; k < (long)(B * G); k++) {
        size_t g = (size_t)k % G, off = (size_t)k * n;
        const float *x = in + off;
        double m = lane_sum(x, n) / (double)n, v = lane_sqdev(x, n, m) / (double)n;
        float mf = (float)m, rs = (float)(1.0 / sqrt(v + (double)eps));
        for (size_t c = 0; c < Cg; c++) {
            size_t ch = g * Cg + c;
            (relu ? relu_row : silu_row)(out + off + c * S, x + c * S, S, mf, rs, gamma ? gamma[ch] : 1.0f,
                                         beta ? beta[ch] : 0.0f);
        }
        mean[k] = mf;
        rstd[k] = rs;
    }
}

void gm__gn_silu_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                         const float *beta, size_t B, size_t C, size_t S, size_t G, float eps) {
    gn_act_forward(out, mean, rstd, in, gamma, beta, B, C, S, G, eps, 0);
}
void gm__gn_relu_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                         const float *beta, size_t B, size_t C, size_t S, size_t G, float eps) {
    gn_act_forward(out, mean, rstd, in, gamma, beta, B, C, S, G, eps, 1);
}

size_t gm__gn_silu_work_size(size_t B, size_t C, size_t S, size_t G) {
    (void)G;
    return 4 * B * C + 2 * B * C * S; /* per (b, c) partials (2 doubles), dz and xh */
}

static void gn_act_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                            const float *mean, const float *rstd, const float *gamma, const float *beta, size_t B,
                            size_t C, size_t S, size_t G, int din_set, float *work, int relu) {
    GM_ASSERT(dout && in && mean && rstd && work && G > 0 && C % G == 0);
    const size_t Cg = C / G, n = Cg * S;
    double *part = (double *)(void *)work; /* (B, C, 2): sum dz xh, sum dz */
    float *dzs = work + 4 * B * C, *xhs = dzs + B * C * S;
    long k;
#pragma omp parallel for schedule(static) if (B * C * S > GM__PAR_MIN)
    for (k = 0; k < (long)(B * G); k++) {
        size_t b = (size_t)k / G, g = (size_t)k % G, off = (size_t)k * n;
        float m = mean[k], rs = rstd[k];
        float *dz = dzs + off, *xh = xhs + off;
        double sg = 0.0, sgx = 0.0;
        for (size_t c = 0; c < Cg; c++) {
            size_t ch = g * Cg + c;
            float gm = gamma ? gamma[ch] : 1.0f;
            (relu ? drelu_row : dsilu_row)(dz + c * S, xh + c * S, dout + off + c * S, in + off + c * S, S, m, rs,
                                           gm, beta ? beta[ch] : 0.0f);
            double sd, sdx;
            lane_sum2(dz + c * S, xh + c * S, S, &sd, &sdx);
            part[(b * C + ch) * 2] = sdx;
            part[(b * C + ch) * 2 + 1] = sd;
            sg += (double)gm * sd;
            sgx += (double)gm * sdx;
        }
        if (!din) continue;
        float mg = (float)(sg / (double)n), mgx = (float)(sgx / (double)n);
        for (size_t c = 0; c < Cg; c++) {
            float gm = gamma ? gamma[g * Cg + c] : 1.0f, *d = din + off + c * S;
            const float *z = dz + c * S, *h = xh + c * S;
            if (din_set) { /* 0.0f + v: the bits of adding into zeros */
#pragma omp simd
                for (size_t j = 0; j < S; j++) d[j] = 0.0f + rs * (z[j] * gm - mg - h[j] * mgx);
            } else {
#pragma omp simd
                for (size_t j = 0; j < S; j++) d[j] += rs * (z[j] * gm - mg - h[j] * mgx);
            }
        }
    }
    if (dgamma || dbeta)
        for (size_t c = 0; c < C; c++) {
            double sx = 0.0, sd = 0.0;
            for (size_t b = 0; b < B; b++) sx += part[(b * C + c) * 2], sd += part[(b * C + c) * 2 + 1];
            if (dgamma) dgamma[c] += (float)sx;
            if (dbeta) dbeta[c] += (float)sd;
        }
}
void gm__gn_silu_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                          const float *mean, const float *rstd, const float *gamma, const float *beta, size_t B,
                          size_t C, size_t S, size_t G, int din_set, float *work) {
    gn_act_backward(din, dgamma, dbeta, dout, in, mean, rstd, gamma, beta, B, C, S, G, din_set, work, 0);
}
void gm__gn_relu_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                          const float *mean, const float *rstd, const float *gamma, const float *beta, size_t B,
                          size_t C, size_t S, size_t G, int din_set, float *work) {
    gn_act_backward(din, dgamma, dbeta, dout, in, mean, rstd, gamma, beta, B, C, S, G, din_set, work, 1);
}

/* naive twins: group norm then SiLU with libm expf, element by element, sums in sequential double; the
 * backward twin's dz is scratch of B*C*S floats */
void gm__gn_silu_forward_ref(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                             const float *beta, size_t B, size_t C, size_t S, size_t G, float eps) {
    gm_groupnorm_forward_ref(out, mean, rstd, in, gamma, beta, B, C, S, G, eps);
    for (size_t i = 0; i < B * C * S; i++) out[i] = out[i] / (1.0f + expf(-out[i]));
}

void gm__gn_relu_forward_ref(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                             const float *beta, size_t B, size_t C, size_t S, size_t G, float eps) {
    gm_groupnorm_forward_ref(out, mean, rstd, in, gamma, beta, B, C, S, G, eps);
    for (size_t i = 0; i < B * C * S; i++) out[i] = out[i] > 0.0f ? out[i] : 0.0f;
}

/* dz = dout times the activation's derivative at z (relu = 0: SiLU with libm expf, 1: ReLU), then the group
 * norm's naive backward */
static void gn_act_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                                const float *mean, const float *rstd, const float *gamma, const float *beta, size_t B,
                                size_t C, size_t S, size_t G, float *dz, int relu) {
    const size_t Cg = C / G, N = B * C * S;
    for (size_t i = 0; i < N; i++) {
        size_t b = i / (C * S), c = (i / S) % C, k = b * G + c / Cg;
        float z = (in[i] - mean[k]) * rstd[k] * (gamma ? gamma[c] : 1.0f) + (beta ? beta[c] : 0.0f);
        float s = 1.0f / (1.0f + expf(-z));
        dz[i] = relu ? (z > 0.0f ? dout[i] : 0.0f) : dout[i] * (s * (1.0f + z * (1.0f - s)));
    }
    gm_groupnorm_backward_ref(din, dgamma, dbeta, dz, in, mean, rstd, gamma, B, C, S, G);
}
void gm__gn_silu_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                              const float *mean, const float *rstd, const float *gamma, const float *beta, size_t B,
                              size_t C, size_t S, size_t G, float *dz) {
    gn_act_backward_ref(din, dgamma, dbeta, dout, in, mean, rstd, gamma, beta, B, C, S, G, dz, 0);
}
void gm__gn_relu_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                              const float *mean, const float *rstd, const float *gamma, const float *beta, size_t B,
                              size_t C, size_t S, size_t G, float *dz) {
    gn_act_backward_ref(din, dgamma, dbeta, dout, in, mean, rstd, gamma, beta, B, C, S, G, dz, 1);
}

/* ==== tape ops ================================================================================= */

static void bw_gn_silu(gm_tape *t, gm_node *n) {
    gm_var *x = n->in[0], *g = n->in[1], *b = n->in[2];
    size_t B = (size_t)x->shape[0], C = (size_t)x->shape[1], S = x->n / (B * C), G = (size_t)n->ip[0];
    float *work = gm__tape_scratch(t, gm__gn_silu_work_size(B, C, S, G) * sizeof(float));
    if (!work) return;
    int fresh;
    float *dx = gm__tape_grad_unzeroed(t, x, &fresh);
    if (gm_tape_status(t) != GM_OK) return;
    gn_act_backward(dx, g ? gm_tape_grad(t, g) : NULL, b ? gm_tape_grad(t, b) : NULL, n->out->grad, x->val,
                    n->save[0], n->save[1], g ? g->val : NULL, b ? b->val : NULL, B, C, S, G, fresh, work, n->ip[1]);
}

static gm_var *gn_act_op(gm_tape *t, gm_var *x, int groups, gm_var *gamma, gm_var *beta, float eps, int relu) {
    if (!x || gm_tape_status(t)) return gm_tape_fail(t, GM_EINVAL, relu ? "groupnorm_relu: NULL input" : "groupnorm_silu: NULL input");
    if (x->ndim < 2 || groups < 1 || x->shape[1] % groups || x->n == 0)
        return gm_tape_fail(t, GM_ESHAPE, relu ? "groupnorm_relu: channels not divisible by groups"
                                              : "groupnorm_silu: channels not divisible by groups");
    size_t B = (size_t)x->shape[0], C = (size_t)x->shape[1], S = x->n / (B * C), nG = B * (size_t)groups;
    if ((gamma && gamma->n != C) || (beta && beta->n != C))
        return gm_tape_fail(t, GM_ESHAPE, relu ? "groupnorm_relu: gamma/beta are not (C)" : "groupnorm_silu: gamma/beta are not (C)");
    gm_var *y = gm_tape_new(t, x->ndim, x->shape, 0);
    float *mean = y ? gm_arena_alloc(gm_tape_arena(t), nG * sizeof(float)) : NULL;
    float *rstd = mean ? gm_arena_alloc(gm_tape_arena(t), nG * sizeof(float)) : NULL;
    if (!rstd) return y ? gm_tape_fail(t, GM_ENOMEM, NULL) : NULL;
    gn_act_forward(y->val, mean, rstd, x->val, gamma ? gamma->val : NULL, beta ? beta->val : NULL, B, C, S,
                   (size_t)groups, eps, relu);
    gm_var *in[3] = {x, gamma, beta};
    gm_node *n = gm_tape_record(t, bw_gn_silu, y, 3, in);
    if (n) n->ip[0] = groups, n->ip[1] = relu, n->save[0] = mean, n->save[1] = rstd;
    return y;
}
gm_var *gm_op_groupnorm_silu(gm_tape *t, gm_var *x, int groups, gm_var *gamma, gm_var *beta, float eps) {
    return gn_act_op(t, x, groups, gamma, beta, eps, 0);
}
gm_var *gm_op_groupnorm_relu(gm_tape *t, gm_var *x, int groups, gm_var *gamma, gm_var *beta, float eps) {
    return gn_act_op(t, x, groups, gamma, beta, eps, 1);
}

/* ---- plain SiLU through the same vectorised sigmoid (the image flow's coupling nets, src/prdiv/prdiv_iflow.c) ---- */
GN_CLONES static void silu_plain(float *o, const float *x, size_t n) {
#pragma omp simd
    for (size_t j = 0; j < n; j++) o[j] = x[j] * sigm(x[j]);
}

GN_CLONES static void dsilu_plain(float *dx, const float *dy, const float *x, size_t n) {
#pragma omp simd
    for (size_t j = 0; j < n; j++) {
        float s = sigm(x[j]);
        dx[j] += dy[j] * (s * (1.0f + x[j] * (1.0f - s)));
    }
}

#define SILU_CHUNK 16384 /* elements per OpenMP chunk: every element's bits are independent of the split */

void gm__silu_fast_forward(float *out, const float *in, size_t n) {
    long nc = (long)((n + SILU_CHUNK - 1) / SILU_CHUNK);
#pragma omp parallel for schedule(static) if (n > GM__PAR_MIN)
    for (long c = 0; c < nc; c++) {
        size_t a = (size_t)c * SILU_CHUNK, m = n - a < SILU_CHUNK ? n - a : SILU_CHUNK;
        silu_plain(out + a, in + a, m);
    }
}

void gm__silu_fast_backward(float *din, const float *dout, const float *in, size_t n) {
    long nc = (long)((n + SILU_CHUNK - 1) / SILU_CHUNK);
#pragma omp parallel for schedule(static) if (n > GM__PAR_MIN)
    for (long c = 0; c < nc; c++) {
        size_t a = (size_t)c * SILU_CHUNK, m = n - a < SILU_CHUNK ? n - a : SILU_CHUNK;
        dsilu_plain(din + a, dout + a, in + a, m);
    }
}

/* ---- tape op: SiLU as one node (genmix/tape.h gm_op_silu) ---- */
static void bw_silu(gm_tape *t, gm_node *n) {
    float *g = gm_tape_grad(t, n->in[0]);
    if (g) gm__silu_fast_backward(g, n->out->grad, n->in[0]->val, n->in[0]->n);
}

gm_var *gm_op_silu(gm_tape *t, gm_var *x) {
    if (!x || gm_tape_status(t)) return gm_tape_fail(t, GM_EINVAL, "silu: NULL input");
    gm_var *y = gm_tape_new(t, x->ndim, x->shape, 0);
    if (!y) return NULL;
    gm__silu_fast_forward(y->val, x->val, x->n);
    gm_tape_record(t, bw_silu, y, 1, &x);
    return y;
}
