/* SPDX-License-Identifier: MIT */
/* nn_dense.c — dense kernels: linear, activations, layer/group norm, elementwise and shape ops,
 * reductions, losses, sinusoidal time embedding. Each has a naive _ref twin (see nn.h for the contract).
 * Owns nothing. Thread safety: reentrant; OpenMP over rows with schedule(static); reductions over rows
 * use fixed blocks (nn_internal.h) so results are identical for any thread count. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "genmix/nn.h"
#include "nn_internal.h"

#ifdef GM_HAVE_BLAS
#include <cblas.h>
#endif

/* ==== sgemm wrapper ============================================================================ */

void gm__sgemm_serial(int transA, int transB, size_t M, size_t N, size_t K, float alpha, const float *A,
                         size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc) {
#ifdef GM_HAVE_BLAS
#ifdef _OPENMP
    /* OpenBLAS (OpenMP build) threads a call made outside a parallel region with omp_get_max_threads()
     * threads, and its result then depends on that count: force one thread here (all parallelism comes
     * from the fixed panels of gm__sgemm). */
    int saved = omp_in_parallel() ? 0 : omp_get_max_threads();
    if (saved > 1) omp_set_num_threads(1);
#endif
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, (int)M,
                (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
#ifdef _OPENMP
    if (saved > 1) omp_set_num_threads(saved);
#endif
#else
    for (size_t m = 0; m < M; m++) {
        float *c = C + m * ldc;
        if (beta == 0.0f)
            for (size_t n = 0; n < N; n++) c[n] = 0.0f;
        else if (beta != 1.0f)
            for (size_t n = 0; n < N; n++) c[n] *= beta;
        for (size_t k = 0; k < K; k++) {
            float a = alpha * (transA ? A[k * lda + m] : A[m * lda + k]);
            if (a == 0.0f) continue;
            if (transB)
                for (size_t n = 0; n < N; n++) c[n] += a * B[n * ldb + k];
            else {
                const float *b = B + k * ldb;
                for (size_t n = 0; n < N; n++) c[n] += a * b[n];
            }
        }
    }
#endif
}

/* The output is cut into a FIXED number of row or column panels (a function of M, N, K only); each panel
 * is one single-threaded GEMM (OpenBLAS's OpenMP build runs serially inside a parallel region), so every
 * output element is computed the same way whatever the thread count: bitwise thread invariance. */
void gm__sgemm(int transA, int transB, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
               const float *B, size_t ldb, float beta, float *C, size_t ldc) {
    if (M == 0 || N == 0) return;
    double flops = 2.0 * (double)M * (double)N * (double)K;
    int split_n = N >= M;
    size_t dim = split_n ? N : M, minp = split_n ? 128 : 32;
    size_t np = dim / minp;
    if (np > 16) np = 16;
    if (flops < 4e6 || np < 2) {
        gm__sgemm_serial(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    long p;
#pragma omp parallel for schedule(static)
    for (p = 0; p < (long)np; p++) {
        /* panel bounds rounded to multiples of 16 so micro-kernel edges are the same for every panel */
        size_t lo = (dim * (size_t)p / np) & ~(size_t)15, hi = p + 1 == (long)np ? dim : (dim * (size_t)(p + 1) / np) & ~(size_t)15;
        if (hi <= lo) continue;
        if (split_n) {
            const float *Bp = transB ? B + lo * ldb : B + lo;
            gm__sgemm_serial(transA, transB, M, hi - lo, K, alpha, A, lda, Bp, ldb, beta, C + lo, ldc);
        } else {
            const float *Ap = transA ? A + lo : A + lo * lda;
            gm__sgemm_serial(transA, transB, hi - lo, N, K, alpha, Ap, lda, B, ldb, beta, C + lo * ldc, ldc);
        }
    }
}

/* ==== linear =================================================================================== */

void gm_linear_forward(float *out, const float *in, const float *w, const float *b, size_t B, size_t C,
                       size_t OC) {
    GM_ASSERT(out && in && w);
    long r;
#pragma omp parallel for schedule(static) if (B * OC > GM__PAR_MIN)
    for (r = 0; r < (long)B; r++) {
        float *o = out + (size_t)r * OC;
        if (b)
            memcpy(o, b, OC * sizeof(float));
        else
            memset(o, 0, OC * sizeof(float));
    }
    /* out(B,OC) += in(B,C) W(OC,C)^T */
    gm__sgemm(0, 1, B, OC, C, 1.0f, in, C, w, C, 1.0f, out, OC);
}

void gm_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                        size_t B, size_t C, size_t OC) {
    GM_ASSERT(dout);
    if (din) gm__sgemm(0, 0, B, C, OC, 1.0f, dout, OC, w, C, 1.0f, din, C);     /* din += dout W */
    if (dw) gm__sgemm(1, 0, OC, C, B, 1.0f, dout, OC, in, C, 1.0f, dw, C);      /* dW += dout^T in */
    if (db) {
        long o;
#pragma omp parallel for schedule(static) if (B * OC > GM__PAR_MIN)
        for (o = 0; o < (long)OC; o++) {
            double s = 0.0;
            for (size_t r = 0; r < B; r++) s += (double)dout[r * OC + (size_t)o];
            db[o] += (float)s;
        }
    }
}

void gm_linear_forward_ref(float *out, const float *in, const float *w, const float *b, size_t B, size_t C,
                           size_t OC) {
    for (size_t r = 0; r < B; r++)
        for (size_t o = 0; o < OC; o++) {
            double s = b ? b[o] : 0.0f;
            for (size_t c = 0; c < C; c++) s += (double)in[r * C + c] * (double)w[o * C + c];
            out[r * OC + o] = (float)s;
        }
}

void gm_linear_backward_ref(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                            size_t B, size_t C, size_t OC) {
    if (din)
        for (size_t r = 0; r < B; r++)
            for (size_t c = 0; c < C; c++) {
                double s = 0.0;
                for (size_t o = 0; o < OC; o++) s += (double)dout[r * OC + o] * (double)w[o * C + c];
                din[r * C + c] += (float)s;
            }
    if (dw)
        for (size_t o = 0; o < OC; o++)
            for (size_t c = 0; c < C; c++) {
                double s = 0.0;
                for (size_t r = 0; r < B; r++) s += (double)dout[r * OC + o] * (double)in[r * C + c];
                dw[o * C + c] += (float)s;
            }
    if (db)
        for (size_t o = 0; o < OC; o++) {
            double s = 0.0;
            for (size_t r = 0; r < B; r++) s += (double)dout[r * OC + o];
            db[o] += (float)s;
        }
}

/* ==== activations ============================================================================== */

static const char *const act_names[GM_ACT_COUNT] = {"identity", "relu", "leaky_relu", "tanh",
                                                    "sigmoid",  "silu", "softplus",   "gelu"};
const char *gm_act_name(gm_act a) { return (unsigned)a < GM_ACT_COUNT ? act_names[a] : "?"; }
int gm_act_from_name(const char *name) {
    for (int i = 0; i < GM_ACT_COUNT; i++)
        if (name && !strcmp(name, act_names[i])) return i;
    return -1;
}

static inline float sigmoidf_(float x) {
    /* stable for both signs */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
static inline float softplusf_(float x) { return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x))); }

#define GM_SQRT1_2F 0.70710678118654752f
#define GM_INV_SQRT_2PIF 0.39894228040143268f

static inline float act1(gm_act a, float x, float alpha) {
    switch (a) {
    case GM_ACT_IDENTITY: return x;
    case GM_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case GM_ACT_LEAKY_RELU: return x > 0.0f ? x : alpha * x;
    case GM_ACT_TANH: return tanhf(x);
    case GM_ACT_SIGMOID: return sigmoidf_(x);
    case GM_ACT_SILU: return x * sigmoidf_(x);
    case GM_ACT_SOFTPLUS: return softplusf_(x);
    case GM_ACT_GELU: return 0.5f * x * (1.0f + erff(x * GM_SQRT1_2F));
    default: GM_ASSERT(!"bad activation"); return 0.0f;
    }
}
/* derivative d act / dx at input x with output y */
static inline float dact1(gm_act a, float x, float y, float alpha) {
    switch (a) {
    case GM_ACT_IDENTITY: return 1.0f;
    case GM_ACT_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case GM_ACT_LEAKY_RELU: return x > 0.0f ? 1.0f : alpha;
    case GM_ACT_TANH: return 1.0f - y * y;
    case GM_ACT_SIGMOID: return y * (1.0f - y);
    case GM_ACT_SILU: {
        float s = sigmoidf_(x);
        return s * (1.0f + x * (1.0f - s));
    }
    case GM_ACT_SOFTPLUS: return sigmoidf_(x);
    case GM_ACT_GELU:
        return 0.5f * (1.0f + erff(x * GM_SQRT1_2F)) + x * GM_INV_SQRT_2PIF * expf(-0.5f * x * x);
    default: GM_ASSERT(!"bad activation"); return 0.0f;
    }
}

/* The hot activations of the conv nets, 4 floats at a time with GCC/Clang vector extensions (SSE2 on x86-64):
 * gcc -O2 leaves the ternary forms scalar with unpredictable branches. Each element gets exactly the value
 * of act1/dact1 (a select between bit patterns, then the same product), so these are bitwise the scalar
 * code; tails of fewer than 4 use it. */
typedef float gm_v4 __attribute__((vector_size(16)));
typedef int32_t gm_v4i __attribute__((vector_size(16)));
#define ACT_BLOCK 4096 /* elements per parallel block (a multiple of 4) */

static void act_fast_block(gm_act a, float *restrict o, const float *restrict x, size_t n, float alpha) {
    const gm_v4 z = {0, 0, 0, 0}, one = {1, 1, 1, 1}, al = {alpha, alpha, alpha, alpha};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        gm_v4 v, r;
        memcpy(&v, x + i, sizeof v);
        const gm_v4i m = v > z;
        if (a == GM_ACT_RELU)
            r = (gm_v4)(m & (gm_v4i)v);
        else
            r = v * (gm_v4)((m & (gm_v4i)one) | (~m & (gm_v4i)al));
        memcpy(o + i, &r, sizeof r);
    }
    for (; i < n; i++) o[i] = act1(a, x[i], alpha);
}
static void dact_fast_block(gm_act a, float *restrict d, const float *restrict g, const float *restrict x,
                            const float *restrict y, size_t n, float alpha) {
    const gm_v4 z = {0, 0, 0, 0}, one = {1, 1, 1, 1}, al = {alpha, alpha, alpha, alpha};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        gm_v4 dv, gv, v;
        memcpy(&dv, d + i, sizeof dv);
        memcpy(&gv, g + i, sizeof gv);
        memcpy(&v, (a == GM_ACT_TANH ? y : x) + i, sizeof v);
        if (a == GM_ACT_TANH)
            dv += gv * (one - v * v);
        else {
            const gm_v4i m = v > z;
            if (a == GM_ACT_RELU)
                dv += (gm_v4)(m & (gm_v4i)gv);
            else
                dv += gv * (gm_v4)((m & (gm_v4i)one) | (~m & (gm_v4i)al));
        }
        memcpy(d + i, &dv, sizeof dv);
    }
    for (; i < n; i++) d[i] += g[i] * dact1(a, x ? x[i] : 0.0f, y ? y[i] : 0.0f, alpha);
}

void gm_act_forward(gm_act a, float *out, const float *in, size_t N, float alpha) {
    GM_ASSERT(out && in && (unsigned)a < GM_ACT_COUNT);
    long i;
    if (a == GM_ACT_RELU || a == GM_ACT_LEAKY_RELU) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i += ACT_BLOCK)
            act_fast_block(a, out + i, in + i, N - (size_t)i < ACT_BLOCK ? N - (size_t)i : ACT_BLOCK, alpha);
        return;
    }
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
    for (i = 0; i < (long)N; i++) out[i] = act1(a, in[i], alpha);
}

void gm_act_backward(gm_act a, float *din, const float *dout, const float *in, const float *out, size_t N,
                     float alpha) {
    GM_ASSERT(dout && (unsigned)a < GM_ACT_COUNT);
    if (!din) return;
    long i;
    if (((a == GM_ACT_RELU || a == GM_ACT_LEAKY_RELU) && in) || (a == GM_ACT_TANH && out)) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i += ACT_BLOCK)
            dact_fast_block(a, din + i, dout + i, in ? in + i : NULL, out ? out + i : NULL,
                            N - (size_t)i < ACT_BLOCK ? N - (size_t)i : ACT_BLOCK, alpha);
        return;
    }
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
    for (i = 0; i < (long)N; i++) din[i] += dout[i] * dact1(a, in ? in[i] : 0.0f, out ? out[i] : 0.0f, alpha);
}

void gm_act_forward_ref(gm_act a, float *out, const float *in, size_t N, float alpha) {
    for (size_t i = 0; i < N; i++) out[i] = act1(a, in[i], alpha);
}
void gm_act_backward_ref(gm_act a, float *din, const float *dout, const float *in, const float *out, size_t N,
                         float alpha) {
    if (!din) return;
    for (size_t i = 0; i < N; i++) din[i] += dout[i] * dact1(a, in ? in[i] : 0.0f, out ? out[i] : 0.0f, alpha);
}

void gm_relu_forward(float *out, const float *in, size_t N) { gm_act_forward(GM_ACT_RELU, out, in, N, 0.0f); }
void gm_relu_backward(float *din, const float *dout, const float *in, size_t N) {
    gm_act_backward(GM_ACT_RELU, din, dout, in, NULL, N, 0.0f);
}
void gm_leaky_relu_forward(float *out, const float *in, size_t N, float alpha) {
    gm_act_forward(GM_ACT_LEAKY_RELU, out, in, N, alpha);
}
void gm_leaky_relu_backward(float *din, const float *dout, const float *in, size_t N, float alpha) {
    gm_act_backward(GM_ACT_LEAKY_RELU, din, dout, in, NULL, N, alpha);
}
void gm_tanh_forward(float *out, const float *in, size_t N) { gm_act_forward(GM_ACT_TANH, out, in, N, 0.0f); }
void gm_tanh_backward(float *din, const float *dout, const float *out, size_t N) {
    gm_act_backward(GM_ACT_TANH, din, dout, NULL, out, N, 0.0f);
}
void gm_sigmoid_forward(float *out, const float *in, size_t N) { gm_act_forward(GM_ACT_SIGMOID, out, in, N, 0.0f); }
void gm_sigmoid_backward(float *din, const float *dout, const float *out, size_t N) {
    gm_act_backward(GM_ACT_SIGMOID, din, dout, NULL, out, N, 0.0f);
}
void gm_silu_forward(float *out, const float *in, size_t N) { gm_act_forward(GM_ACT_SILU, out, in, N, 0.0f); }
void gm_silu_backward(float *din, const float *dout, const float *in, size_t N) {
    gm_act_backward(GM_ACT_SILU, din, dout, in, NULL, N, 0.0f);
}
void gm_softplus_forward(float *out, const float *in, size_t N) {
    gm_act_forward(GM_ACT_SOFTPLUS, out, in, N, 0.0f);
}
void gm_softplus_backward(float *din, const float *dout, const float *in, size_t N) {
    gm_act_backward(GM_ACT_SOFTPLUS, din, dout, in, NULL, N, 0.0f);
}
void gm_gelu_forward(float *out, const float *in, size_t N) { gm_act_forward(GM_ACT_GELU, out, in, N, 0.0f); }
void gm_gelu_backward(float *din, const float *dout, const float *in, size_t N) {
    gm_act_backward(GM_ACT_GELU, din, dout, in, NULL, N, 0.0f);
}

/* ==== layer norm =============================================================================== */

static void ln_row_forward(float *o, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, size_t C, float eps) {
    double s = 0.0;
    for (size_t c = 0; c < C; c++) s += (double)x[c];
    double m = s / (double)C, v = 0.0;
    for (size_t c = 0; c < C; c++) {
        double d = (double)x[c] - m;
        v += d * d;
    }
    v /= (double)C;
    float mf = (float)m, rs = (float)(1.0 / sqrt(v + (double)eps));
    for (size_t c = 0; c < C; c++) {
        float xh = (x[c] - mf) * rs;
        o[c] = gamma ? xh * gamma[c] + (beta ? beta[c] : 0.0f) : xh + (beta ? beta[c] : 0.0f);
    }
    *mean = mf;
    *rstd = rs;
}

/* din for one row: din_c += rstd (g_c - mean(g) - xhat_c mean(g xhat)), g = dout * gamma. */
static void ln_row_backward(float *din, const float *dout, const float *x, float mean, float rstd,
                            const float *gamma, size_t C) {
    double sg = 0.0, sgx = 0.0;
    for (size_t c = 0; c < C; c++) {
        float g = dout[c] * (gamma ? gamma[c] : 1.0f);
        float xh = (x[c] - mean) * rstd;
        sg += (double)g;
        sgx += (double)g * (double)xh;
    }
    float mg = (float)(sg / (double)C), mgx = (float)(sgx / (double)C);
    for (size_t c = 0; c < C; c++) {
        float g = dout[c] * (gamma ? gamma[c] : 1.0f);
        float xh = (x[c] - mean) * rstd;
        din[c] += rstd * (g - mg - xh * mgx);
    }
}

void gm_layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                          const float *beta, size_t N, size_t C, float eps) {
    GM_ASSERT(out && mean && rstd && in && C > 0);
    long r;
#pragma omp parallel for schedule(static) if (N * C > GM__PAR_MIN)
    for (r = 0; r < (long)N; r++)
        ln_row_forward(out + (size_t)r * C, mean + r, rstd + r, in + (size_t)r * C, gamma, beta, C, eps);
}

void gm_layernorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                           const float *mean, const float *rstd, const float *gamma, size_t N, size_t C) {
    long r, c;
    if (din) {
#pragma omp parallel for schedule(static) if (N * C > GM__PAR_MIN)
        for (r = 0; r < (long)N; r++)
            ln_row_backward(din + (size_t)r * C, dout + (size_t)r * C, in + (size_t)r * C, mean[r], rstd[r], gamma,
                            C);
    }
    if (dgamma || dbeta) {
#pragma omp parallel for schedule(static) if (N * C > GM__PAR_MIN)
        for (c = 0; c < (long)C; c++) {
            double sg = 0.0, sb = 0.0;
            for (size_t i = 0; i < N; i++) {
                float d = dout[i * C + (size_t)c];
                sg += (double)d * (double)((in[i * C + (size_t)c] - mean[i]) * rstd[i]);
                sb += (double)d;
            }
            if (dgamma) dgamma[c] += (float)sg;
            if (dbeta) dbeta[c] += (float)sb;
        }
    }
}

void gm_layernorm_forward_ref(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                              const float *beta, size_t N, size_t C, float eps) {
    for (size_t r = 0; r < N; r++)
        ln_row_forward(out + r * C, mean + r, rstd + r, in + r * C, gamma, beta, C, eps);
}
void gm_layernorm_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                               const float *mean, const float *rstd, const float *gamma, size_t N, size_t C) {
    for (size_t r = 0; r < N; r++) {
        if (din) ln_row_backward(din + r * C, dout + r * C, in + r * C, mean[r], rstd[r], gamma, C);
        for (size_t c = 0; c < C; c++) {
            float xh = (in[r * C + c] - mean[r]) * rstd[r];
            if (dgamma) dgamma[c] += dout[r * C + c] * xh;
            if (dbeta) dbeta[c] += dout[r * C + c];
        }
    }
}

/* ==== group norm =============================================================================== */
/* Group (b,g) covers channels g*Cg .. (g+1)*Cg-1, i.e. a contiguous span of Cg*S values. */

/* The group sums in double with four interleaved partial sums (element i goes to sum i mod 4, added as
 * ((s0 + s1) + (s2 + s3)) at the end): four independent add chains instead of one; a fixed order. */
static double gn_sum4(const float *x, size_t n) {
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) s[k] += (double)x[i + (size_t)k];
    for (int k = 0; i < n; i++, k++) s[k] += (double)x[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}
static double gn_sqdev4(const float *x, size_t n, double m) {
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            const double d = (double)x[i + (size_t)k] - m;
            s[k] += d * d;
        }
    for (int k = 0; i < n; i++, k++) {
        const double d = (double)x[i] - m;
        s[k] += d * d;
    }
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static void gn_group_forward(float *o, float *mean, float *rstd, const float *x, const float *gamma,
                             const float *beta, size_t c0, size_t Cg, size_t S, float eps) {
    size_t n = Cg * S;
    double m = gn_sum4(x, n) / (double)n, v = gn_sqdev4(x, n, m);
    v /= (double)n;
    float mf = (float)m, rs = (float)(1.0 / sqrt(v + (double)eps));
    for (size_t c = 0; c < Cg; c++) {
        float g = gamma ? gamma[c0 + c] : 1.0f, bb = beta ? beta[c0 + c] : 0.0f;
        for (size_t j = 0; j < S; j++) o[c * S + j] = (x[c * S + j] - mf) * rs * g + bb;
    }
    *mean = mf;
    *rstd = rs;
}

static void gn_group_backward(float *din, const float *dout, const float *x, float mean, float rstd,
                              const float *gamma, size_t c0, size_t Cg, size_t S) {
    size_t n = Cg * S;
    double sg = 0.0, sgx = 0.0;
    for (size_t c = 0; c < Cg; c++) {
        float gm = gamma ? gamma[c0 + c] : 1.0f;
        for (size_t j = 0; j < S; j++) {
            float g = dout[c * S + j] * gm;
            sg += (double)g;
            sgx += (double)g * (double)((x[c * S + j] - mean) * rstd);
        }
    }
    float mg = (float)(sg / (double)n), mgx = (float)(sgx / (double)n);
    for (size_t c = 0; c < Cg; c++) {
        float gm = gamma ? gamma[c0 + c] : 1.0f;
        for (size_t j = 0; j < S; j++) {
            float g = dout[c * S + j] * gm;
            float xh = (x[c * S + j] - mean) * rstd;
            din[c * S + j] += rstd * (g - mg - xh * mgx);
        }
    }
}

void gm_groupnorm_forward(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                          const float *beta, size_t B, size_t C, size_t S, size_t G, float eps) {
    GM_ASSERT(out && mean && rstd && in && G > 0 && C % G == 0);
    size_t Cg = C / G;
    long k;
#pragma omp parallel for schedule(static) if (B * C * S > GM__PAR_MIN)
    for (k = 0; k < (long)(B * G); k++) {
        size_t g = (size_t)k % G, off = (size_t)k * Cg * S;
        gn_group_forward(out + off, mean + k, rstd + k, in + off, gamma, beta, g * Cg, Cg, S, eps);
    }
}

void gm_groupnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                           const float *mean, const float *rstd, const float *gamma, size_t B, size_t C, size_t S,
                           size_t G) {
    GM_ASSERT(G > 0 && C % G == 0);
    size_t Cg = C / G;
    long k, c;
    if (din) {
#pragma omp parallel for schedule(static) if (B * C * S > GM__PAR_MIN)
        for (k = 0; k < (long)(B * G); k++) {
            size_t g = (size_t)k % G, off = (size_t)k * Cg * S;
            gn_group_backward(din + off, dout + off, in + off, mean[k], rstd[k], gamma, g * Cg, Cg, S);
        }
    }
    if (dgamma || dbeta) {
#pragma omp parallel for schedule(static) if (B * C * S > GM__PAR_MIN)
        for (c = 0; c < (long)C; c++) {
            double sg = 0.0, sb = 0.0;
            size_t g = (size_t)c / Cg;
            for (size_t b = 0; b < B; b++) {
                const float *d = dout + (b * C + (size_t)c) * S, *x = in + (b * C + (size_t)c) * S;
                float m = mean[b * G + g], r = rstd[b * G + g];
                for (size_t j = 0; j < S; j++) {
                    sg += (double)d[j] * (double)((x[j] - m) * r);
                    sb += (double)d[j];
                }
            }
            if (dgamma) dgamma[c] += (float)sg;
            if (dbeta) dbeta[c] += (float)sb;
        }
    }
}

void gm_groupnorm_forward_ref(float *out, float *mean, float *rstd, const float *in, const float *gamma,
                              const float *beta, size_t B, size_t C, size_t S, size_t G, float eps) {
    size_t Cg = C / G;
    for (size_t b = 0; b < B; b++)
        for (size_t g = 0; g < G; g++) {
            size_t off = (b * C + g * Cg) * S;
            gn_group_forward(out + off, mean + b * G + g, rstd + b * G + g, in + off, gamma, beta, g * Cg, Cg, S,
                             eps);
        }
}
void gm_groupnorm_backward_ref(float *din, float *dgamma, float *dbeta, const float *dout, const float *in,
                               const float *mean, const float *rstd, const float *gamma, size_t B, size_t C,
                               size_t S, size_t G) {
    size_t Cg = C / G;
    for (size_t b = 0; b < B; b++)
        for (size_t g = 0; g < G; g++) {
            size_t off = (b * C + g * Cg) * S;
            if (din) gn_group_backward(din + off, dout + off, in + off, mean[b * G + g], rstd[b * G + g], gamma,
                                       g * Cg, Cg, S);
            for (size_t c = 0; c < Cg; c++)
                for (size_t j = 0; j < S; j++) {
                    size_t i = off + c * S + j;
                    if (dgamma) dgamma[g * Cg + c] += dout[i] * ((in[i] - mean[b * G + g]) * rstd[b * G + g]);
                    if (dbeta) dbeta[g * Cg + c] += dout[i];
                }
        }
}

/* ==== elementwise / shape ====================================================================== */

void gm_dropout_forward(float *out, const float *in, const float *mask, size_t N) {
    long i;
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
    for (i = 0; i < (long)N; i++) out[i] = in[i] * mask[i];
}
void gm_dropout_backward(float *din, const float *dout, const float *mask, size_t N) {
    if (!din) return;
    long i;
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
    for (i = 0; i < (long)N; i++) din[i] += dout[i] * mask[i];
}

void gm_add_forward(float *out, const float *a, const float *b, size_t N) {
    long i;
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
    for (i = 0; i < (long)N; i++) out[i] = a[i] + b[i];
}
void gm_add_backward(float *da, float *db, const float *dout, size_t N) {
    long i;
    if (da) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i++) da[i] += dout[i];
    }
    if (db) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i++) db[i] += dout[i];
    }
}

void gm_mul_forward(float *out, const float *a, const float *b, size_t N) {
    long i;
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
    for (i = 0; i < (long)N; i++) out[i] = a[i] * b[i];
}
void gm_mul_backward(float *da, float *db, const float *dout, const float *a, const float *b, size_t N) {
    long i;
    if (da) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i++) da[i] += dout[i] * b[i];
    }
    if (db) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i++) db[i] += dout[i] * a[i];
    }
}

void gm_scale_forward(float *out, const float *in, float s, float c, size_t N) {
    long i;
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
    for (i = 0; i < (long)N; i++) out[i] = s * in[i] + c;
}
void gm_scale_backward(float *din, const float *dout, float s, size_t N) {
    if (!din) return;
    long i;
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
    for (i = 0; i < (long)N; i++) din[i] += s * dout[i];
}

void gm_add_channel_forward(float *out, const float *x, const float *v, size_t B, size_t C, size_t S) {
    long k;
#pragma omp parallel for schedule(static) if (B * C * S > GM__PAR_MIN)
    for (k = 0; k < (long)(B * C); k++)
        for (size_t j = 0; j < S; j++) out[(size_t)k * S + j] = x[(size_t)k * S + j] + v[k];
}
void gm_add_channel_backward(float *dx, float *dv, const float *dout, size_t B, size_t C, size_t S) {
    long k;
    if (dx) gm_add_backward(dx, NULL, dout, B * C * S);
    if (dv) {
#pragma omp parallel for schedule(static) if (B * C * S > GM__PAR_MIN)
        for (k = 0; k < (long)(B * C); k++) {
            double s = 0.0;
            for (size_t j = 0; j < S; j++) s += (double)dout[(size_t)k * S + j];
            dv[k] += (float)s;
        }
    }
}

void gm_concat_forward(float *out, const float *a, const float *b, size_t O, size_t Ca, size_t Cb, size_t In) {
    for (size_t o = 0; o < O; o++) {
        memcpy(out + o * (Ca + Cb) * In, a + o * Ca * In, Ca * In * sizeof(float));
        memcpy(out + (o * (Ca + Cb) + Ca) * In, b + o * Cb * In, Cb * In * sizeof(float));
    }
}
void gm_concat_backward(float *da, float *db, const float *dout, size_t O, size_t Ca, size_t Cb, size_t In) {
    for (size_t o = 0; o < O; o++) {
        const float *d = dout + o * (Ca + Cb) * In;
        if (da)
            for (size_t i = 0; i < Ca * In; i++) da[o * Ca * In + i] += d[i];
        if (db)
            for (size_t i = 0; i < Cb * In; i++) db[o * Cb * In + i] += d[Ca * In + i];
    }
}
void gm_split_forward(float *a, float *b, const float *in, size_t O, size_t Ca, size_t Cb, size_t In) {
    for (size_t o = 0; o < O; o++) {
        if (a) memcpy(a + o * Ca * In, in + o * (Ca + Cb) * In, Ca * In * sizeof(float));
        if (b) memcpy(b + o * Cb * In, in + (o * (Ca + Cb) + Ca) * In, Cb * In * sizeof(float));
    }
}
void gm_split_backward(float *din, const float *da, const float *db, size_t O, size_t Ca, size_t Cb, size_t In) {
    if (!din) return;
    for (size_t o = 0; o < O; o++) {
        float *d = din + o * (Ca + Cb) * In;
        if (da)
            for (size_t i = 0; i < Ca * In; i++) d[i] += da[o * Ca * In + i];
        if (db)
            for (size_t i = 0; i < Cb * In; i++) d[Ca * In + i] += db[o * Cb * In + i];
    }
}

void gm_reshape_forward(float *out, const float *in, size_t N) {
    if (out != in) memmove(out, in, N * sizeof(float));
}
void gm_reshape_backward(float *din, const float *dout, size_t N) {
    if (din) gm_add_backward(din, NULL, dout, N);
}

/* ==== reductions =============================================================================== */

double gm_sum_f64(const float *x, size_t N) {
    double part[GM__NB_MAX];
    size_t nb = gm__nblocks(N, GM__BLOCK_MIN);
    long k;
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
    for (k = 0; k < (long)nb; k++) {
        double s = 0.0;
        for (size_t i = gm__block_lo(N, nb, (size_t)k); i < gm__block_lo(N, nb, (size_t)k + 1); i++) s += (double)x[i];
        part[k] = s;
    }
    double s = 0.0;
    for (size_t k2 = 0; k2 < nb; k2++) s += part[k2];
    return s;
}

void gm_sum_forward(float *out, const float *in, size_t N) { out[0] = (float)gm_sum_f64(in, N); }
void gm_sum_backward(float *din, const float *dout, size_t N) {
    if (!din) return;
    float g = dout[0];
    long i;
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
    for (i = 0; i < (long)N; i++) din[i] += g;
}
void gm_mean_forward(float *out, const float *in, size_t N) {
    GM_ASSERT(N > 0);
    out[0] = (float)(gm_sum_f64(in, N) / (double)N);
}
void gm_mean_backward(float *din, const float *dout, size_t N) {
    if (!din) return;
    float g = dout[0] / (float)N;
    long i;
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
    for (i = 0; i < (long)N; i++) din[i] += g;
}

/* ==== losses =================================================================================== */

/* One row of softmax cross-entropy; returns the row loss (double). */
static double xent_row(float *p, const float *z, int32_t label, size_t V) {
    float mx = z[0];
    for (size_t v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
    double s = 0.0;
    for (size_t v = 0; v < V; v++) {
        float e = expf(z[v] - mx);
        p[v] = e;
        s += (double)e;
    }
    float inv = (float)(1.0 / s);
    for (size_t v = 0; v < V; v++) p[v] *= inv;
    /* -log softmax = log(sum) + max - z[label] */
    return log(s) + (double)mx - (double)z[label];
}

void gm_softmax_xent_forward(float *out, float *losses, float *probs, const float *logits, const int32_t *labels,
                             size_t B, size_t V) {
    GM_ASSERT(out && probs && logits && labels && B > 0 && V > 0);
    double part[GM__NB_MAX];
    size_t nb = gm__nblocks(B, 64);
    long k;
#pragma omp parallel for schedule(static) if (B * V > GM__PAR_MIN)
    for (k = 0; k < (long)nb; k++) {
        double s = 0.0;
        for (size_t r = gm__block_lo(B, nb, (size_t)k); r < gm__block_lo(B, nb, (size_t)k + 1); r++) {
            GM_ASSERT(labels[r] >= 0 && (size_t)labels[r] < V);
            double l = xent_row(probs + r * V, logits + r * V, labels[r], V);
            if (losses) losses[r] = (float)l;
            s += l;
        }
        part[k] = s;
    }
    double s = 0.0;
    for (size_t j = 0; j < nb; j++) s += part[j];
    out[0] = (float)(s / (double)B);
}

void gm_softmax_xent_backward(float *dlogits, const float *dout, const float *probs, const int32_t *labels,
                              size_t B, size_t V) {
    if (!dlogits) return;
    float g = dout[0] / (float)B;
    long r;
#pragma omp parallel for schedule(static) if (B * V > GM__PAR_MIN)
    for (r = 0; r < (long)B; r++) {
        const float *p = probs + (size_t)r * V;
        float *d = dlogits + (size_t)r * V;
        for (size_t v = 0; v < V; v++) d[v] += g * (p[v] - ((int32_t)v == labels[r] ? 1.0f : 0.0f));
    }
}

void gm_softmax_xent_forward_ref(float *out, float *losses, float *probs, const float *logits,
                                 const int32_t *labels, size_t B, size_t V) {
    double s = 0.0;
    for (size_t r = 0; r < B; r++) {
        double l = xent_row(probs + r * V, logits + r * V, labels[r], V);
        if (losses) losses[r] = (float)l;
        s += l;
    }
    out[0] = (float)(s / (double)B);
}
void gm_softmax_xent_backward_ref(float *dlogits, const float *dout, const float *probs, const int32_t *labels,
                                  size_t B, size_t V) {
    if (!dlogits) return;
    for (size_t r = 0; r < B; r++)
        for (size_t v = 0; v < V; v++)
            dlogits[r * V + v] += dout[0] * (probs[r * V + v] - ((int32_t)v == labels[r] ? 1.0f : 0.0f)) / (float)B;
}

void gm_softmax_forward(float *out, const float *in, size_t B, size_t V) {
    long r;
#pragma omp parallel for schedule(static) if (B * V > GM__PAR_MIN)
    for (r = 0; r < (long)B; r++) (void)xent_row(out + (size_t)r * V, in + (size_t)r * V, 0, V);
}

/* Blocked mean of f(i) over N, in double. */
#define GM__BLOCKED_MEAN(N, EXPR_I)                                                                  \
    do {                                                                                             \
        double part_[GM__NB_MAX];                                                                    \
        size_t nb_ = gm__nblocks((N), GM__BLOCK_MIN);                                                \
        long k_;                                                                                     \
        _Pragma("omp parallel for schedule(static) if ((N) > GM__PAR_MIN)") for (k_ = 0; k_ < (long)nb_; \
                                                                                 k_++) {             \
            double s_ = 0.0;                                                                         \
            for (size_t i = gm__block_lo((N), nb_, (size_t)k_); i < gm__block_lo((N), nb_, (size_t)k_ + 1); \
                 i++)                                                                                \
                s_ += (EXPR_I);                                                                      \
            part_[k_] = s_;                                                                          \
        }                                                                                            \
        double tot_ = 0.0;                                                                           \
        for (size_t j_ = 0; j_ < nb_; j_++) tot_ += part_[j_];                                       \
        acc = tot_;                                                                                  \
    } while (0)

static inline double bce1(float x, float t) {
    return (double)fmaxf(x, 0.0f) - (double)x * (double)t + (double)log1pf(expf(-fabsf(x)));
}

void gm_bce_logits_forward(float *out, const float *x, const float *t, size_t N) {
    GM_ASSERT(N > 0);
    double acc;
    GM__BLOCKED_MEAN(N, bce1(x[i], t[i]));
    out[0] = (float)(acc / (double)N);
}
void gm_bce_logits_backward(float *dx, float *dt, const float *dout, const float *x, const float *t, size_t N) {
    float g = dout[0] / (float)N;
    long i;
    if (dx) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i++) dx[i] += g * (sigmoidf_(x[i]) - t[i]);
    }
    if (dt) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i++) dt[i] -= g * x[i];
    }
}

void gm_mse_forward(float *out, const float *a, const float *b, size_t N) {
    GM_ASSERT(N > 0);
    double acc;
    GM__BLOCKED_MEAN(N, ((double)a[i] - (double)b[i]) * ((double)a[i] - (double)b[i]));
    out[0] = (float)(acc / (double)N);
}
void gm_mse_backward(float *da, float *db, const float *dout, const float *a, const float *b, size_t N) {
    float g = 2.0f * dout[0] / (float)N;
    long i;
    if (da) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i++) da[i] += g * (a[i] - b[i]);
    }
    if (db) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i++) db[i] -= g * (a[i] - b[i]);
    }
}

void gm_gauss_kl_forward(float *out, const float *mu, const float *logvar, size_t B, size_t D) {
    GM_ASSERT(B > 0);
    size_t N = B * D;
    double acc;
    GM__BLOCKED_MEAN(N, 1.0 + (double)logvar[i] - (double)mu[i] * (double)mu[i] - exp((double)logvar[i]));
    out[0] = (float)(-0.5 * acc / (double)B);
}
void gm_gauss_kl_backward(float *dmu, float *dlogvar, const float *dout, const float *mu, const float *logvar,
                          size_t B, size_t D) {
    size_t N = B * D;
    float g = dout[0] / (float)B;
    long i;
    if (dmu) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i++) dmu[i] += g * mu[i];
    }
    if (dlogvar) {
#pragma omp parallel for schedule(static) if (N > GM__PAR_MIN)
        for (i = 0; i < (long)N; i++) dlogvar[i] += 0.5f * g * (expf(logvar[i]) - 1.0f);
    }
}

/* Naive twins of the blocked reductions: one sequential double sum (no blocks, no threads). They agree with
 * the fast kernels to rounding of the double partial sums, i.e. bitwise after the final float rounding
 * except in rare ties; the tests compare them with a 1e-6 relative tolerance. The backward kernels of these
 * ops are single element-wise loops and are their own reference. */
void gm_sum_forward_ref(float *out, const float *in, size_t N) {
    double s = 0.0;
    for (size_t i = 0; i < N; i++) s += (double)in[i];
    out[0] = (float)s;
}
void gm_mean_forward_ref(float *out, const float *in, size_t N) {
    GM_ASSERT(N > 0);
    double s = 0.0;
    for (size_t i = 0; i < N; i++) s += (double)in[i];
    out[0] = (float)(s / (double)N);
}
void gm_bce_logits_forward_ref(float *out, const float *x, const float *t, size_t N) {
    GM_ASSERT(N > 0);
    double s = 0.0;
    for (size_t i = 0; i < N; i++) s += bce1(x[i], t[i]);
    out[0] = (float)(s / (double)N);
}
void gm_mse_forward_ref(float *out, const float *a, const float *b, size_t N) {
    GM_ASSERT(N > 0);
    double s = 0.0;
    for (size_t i = 0; i < N; i++) s += ((double)a[i] - (double)b[i]) * ((double)a[i] - (double)b[i]);
    out[0] = (float)(s / (double)N);
}
void gm_gauss_kl_forward_ref(float *out, const float *mu, const float *logvar, size_t B, size_t D) {
    GM_ASSERT(B > 0);
    double s = 0.0;
    for (size_t i = 0; i < B * D; i++) s += 1.0 + (double)logvar[i] - (double)mu[i] * (double)mu[i] - exp((double)logvar[i]);
    out[0] = (float)(-0.5 * s / (double)B);
}

/* ==== sinusoidal time embedding ================================================================ */

void gm_time_embed_forward(float *out, const float *t, size_t B, size_t D, float max_period) {
    GM_ASSERT(D % 2 == 0 && D > 0);
    size_t half = D / 2;
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < half; i++) {
            float f = expf(-logf(max_period) * (float)i / (float)half);
            float a = t[b] * f;
            out[b * D + i] = sinf(a);
            out[b * D + half + i] = cosf(a);
        }
}
void gm_time_embed_backward(float *dt, const float *dout, const float *t, size_t B, size_t D, float max_period) {
    if (!dt) return;
    size_t half = D / 2;
    for (size_t b = 0; b < B; b++) {
        double s = 0.0;
        for (size_t i = 0; i < half; i++) {
            float f = expf(-logf(max_period) * (float)i / (float)half);
            float a = t[b] * f;
            s += (double)(dout[b * D + i] * f * cosf(a)) - (double)(dout[b * D + half + i] * f * sinf(a));
        }
        dt[b] += (float)s;
    }
}
