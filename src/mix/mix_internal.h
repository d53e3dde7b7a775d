/* SPDX-License-Identifier: MIT */
/* mix_internal.h — private to src/mix/ (not installed): the dot-product helpers of mix_dots.c (BLAS sgemv/sgemm
 * when GM_HAVE_BLAS, else plain loops with eight float accumulators; called from inside OpenMP regions only,
 * where OpenBLAS (openmp variant) runs single-threaded, so results do not depend on the thread count), the
 * kernel evaluation helpers (static inline, hot loops), the objects gm_mix and gm_mix_ref that mix_ref.c,
 * mix_bandit.c and mix_offline.c share, and the QP warm start of mix_qp.c. Everything here is gm__-prefixed
 * except gm_mix_qp_try_support (mix_qp.c belongs to another change; rename it there). */
#ifndef GM_MIX_INTERNAL_H
#define GM_MIX_INTERNAL_H

#include <math.h>
#include <stddef.h>

#include "genmix/linalg.h"
#include "genmix/mix.h"
#include "genmix/rng.h"


/* out[i] = Y[i,:] . x for i < n (Y: n x d row-major). */
void gm__mix_dots(const float *Y, size_t n, size_t d, const float *x, float *out);
/* out (na x nb, row stride ldo) = A (na x d) B' (nb x d). */
void gm__mix_dots_tile(const float *A, size_t na, const float *B, size_t nb, size_t d, float *out, size_t ldo);

/* v[i] = exp(v[i]) for v[i] in [-87, 0] (the caller clamps), vectorisable; relative error a few float ulps. */
void gm__mix_exp_neg(float *v, size_t n);

/* Simplex-QP warm start on a known support (mix_qp.c): 1 if that support's KKT solution is optimal. */
int gm_mix_qp_try_support(const double *K, const double *c, size_t m, unsigned long mask, double *alpha);


/* ---- kernels ----------------------------------------------------------------------------------- */

enum { GM__MIX_KT_NONE = 0, GM__MIX_KT_GAUSS = 1, GM__MIX_KT_POLY = 2 };
typedef struct {
    int type;
    double g;    /* Gaussian: kappa = exp(-g |x-y|^2) */
    double invd; /* poly: kappa = (x.y/d + 1)^3 */
} gm__mixk;

static inline double gm__mix_kval(const gm__mixk *k, double dot, double sqx, double sqy) {
    if (k->type == GM__MIX_KT_POLY) return gm_kernel_poly(dot, k->invd, 1.0, 3);
    double d2 = sqx + sqy - 2.0 * dot;
    if (d2 < 0.0) d2 = 0.0;
    /* single-precision exp: its relative error (~1e-7) is far below that of the float dot product in
     * d2, and it is about twice as fast as exp(); the sums stay in double */
    return (double)expf((float)(-d2 * k->g));
}
/* kappa(x, x) exactly (no cancellation). */
static inline double gm__mix_kself(const gm__mixk *k, double sqx) {
    if (k->type == GM__MIX_KT_POLY) return gm_kernel_poly(sqx, k->invd, 1.0, 3);
    return 1.0;
}

/* Kernel values of x (squared norm sqx) against n rows with squared norms sq, from their dot products:
 * v[i] = kappa, overwriting the dots in place. Gaussian: the exponents in one pass (distances in double),
 * then gm__mix_exp_neg over the row, which vectorises. */
static inline void gm__mix_krow(const gm__mixk *k, float *v, const double *sq, double sqx, size_t n) {
    if (k->type == GM__MIX_KT_POLY) {
        for (size_t i = 0; i < n; i++) {
            double u = (double)v[i] * k->invd + 1.0;
            v[i] = (float)(u * u * u);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double e = (sqx + sq[i] - 2.0 * (double)v[i]) * k->g;
        e = e < 0.0 ? 0.0 : e > 87.0 ? 87.0 : e; /* exp(-87) ~ 1.6e-38: below it, 1.6e-38 instead of less */
        v[i] = (float)-e;
    }
    gm__mix_exp_neg(v, n);
}

/* out[lab[i]] += v[i] (m arms), in double, with two interleaved accumulator sets so that runs of one
 * label do not serialise on one memory cell; the order of the additions is fixed. */
static inline void gm__mix_acc_arms(const float *v, const unsigned char *lab, size_t n, size_t m, double *out) {
    double a0[GM_MIX_MAX_ARMS], a1[GM_MIX_MAX_ARMS];
    for (size_t j = 0; j < m; j++) a0[j] = a1[j] = 0.0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        a0[lab[i]] += (double)v[i];
        a1[lab[i + 1]] += (double)v[i + 1];
    }
    if (i < n) a0[lab[i]] += (double)v[i];
    for (size_t j = 0; j < m; j++) out[j] += a0[j] + a1[j];
}

static inline gm__mixk gm__mix_kernel_of(gm_mix_kernel kernel, double sigma, size_t d) {
    gm__mixk k;
    k.type = kernel == GM_MIX_KERNEL_POLY3 ? GM__MIX_KT_POLY : GM__MIX_KT_GAUSS;
    k.g = k.type == GM__MIX_KT_GAUSS ? 1.0 / (2.0 * sigma * sigma) : 0.0;
    k.invd = 1.0 / (double)d;
    return k;
}

static inline double gm__mix_sqnorm(const float *x, size_t d) {
    double s = 0.0;
    for (size_t i = 0; i < d; i++) s += (double)x[i] * (double)x[i];
    return s;
}

static inline int gm__mix_row_finite(const float *x, size_t d) {
    for (size_t i = 0; i < d; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* ---- per-sample terms -------------------------------------------------------------------------- */

static inline int gm__mix_needs_terms(const gm_mix_config *c) {
    return c->quad == GM_MIX_QUAD_KID || c->quad == GM_MIX_QUAD_MMD || c->lin != 0;
}

/* f(x) from the per-sample terms. */
static inline double gm__mix_fval_of(const gm_mix_config *c, const double *terms) {
    double f = 0.0;
    if (c->quad == GM_MIX_QUAD_KID || c->quad == GM_MIX_QUAD_MMD) f += -2.0 * terms[GM_MIX_TERM_KREF];
    if (c->lin & GM_MIX_LIN_PRECISION) f -= c->lambda * terms[GM_MIX_TERM_PREC];
    if (c->lin & GM_MIX_LIN_DENSITY) f -= c->lambda * terms[GM_MIX_TERM_DENS];
    return f;
}

/* ---- shared objects ---------------------------------------------------------------------------- */

struct gm_mix_ref {
    size_t n, d, knn;
    int lin;
    gm__mixk k;
    float *Y;
    double *sq;
    double *rad2; /* squared k-NN radii (n), when lin */
    double self;  /* mean kappa over all ordered pairs */
};

#define GM__MIX_TILE 128
#define GM__MIX_KB 4096 /* stored samples per block of the online kernel sums (one GEMV per sample up to this t) */
#define GM__MIX_KBA 1024 /* stored samples per block of a look-ahead push: one SGEMM each, run as OpenMP tasks */

struct gm_mix {
    gm_mix_config cfg;
    const gm_mix_ref *ref;
    gm__mixk k;
    size_t m, d, T, B, t;
    size_t n[GM_MIX_MAX_ARMS];
    double S[GM_MIX_MAX_ARMS * GM_MIX_MAX_ARMS];
    double F[GM_MIX_MAX_ARMS];
    double alpha[GM_MIX_MAX_ARMS];
    float *X;        /* T x d stored samples */
    double *sq;      /* T squared norms */
    unsigned char *lab; /* T arm labels */
    float *dots;     /* max(T, B*m, n_ref) scratch */
    /* look-ahead queues: arm a owns rows [a*B, a*B + B) */
    float *Qx;
    double *Qsq, *Qf, *QR; /* QR: (m*B) x m kernel sums against stored samples per arm */
    size_t qpos[GM_MIX_MAX_ARMS], qcnt[GM_MIX_MAX_ARMS];
    float *tile;     /* B x T */
    double *part;    /* per-block partial kernel sums: nblk(T) x max(B, 1) x m */
    gm_rng rng;
    /* successive halving */
    int sh_init;
    unsigned char alive[GM_MIX_MAX_ARMS];
    size_t sh_phase, sh_phases, sh_len, sh_end, sh_rr;
    unsigned long qp_mask; /* support of the last QP solution (warm start) */
};

/* Terms of one row x (squared norm sqx) with dots = Y x already in `dots` (mix_ref.c). */
void gm__mix_ref_terms_row(const gm_mix_ref *r, const float *dots, double sqx, double *t);

#endif
